/* The public solver API over entries and tables (docs/method.md section 6, 7):
 * end to end on the zoo graphs with synthetic deterministic tables, against a
 * brute force on a tiny graph, kim23 from the authors' real time table,
 * pruning, and the result YAML round trip. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "layermerge/layermerge.h"
#include "graph/graph_query.h"

/* ---- fixtures ---------------------------------------------------------- */

typedef struct problem {
    lm_graph *g;
    lm_entries *e;
    lm_table *lat;
    lm_table *imp;
    lm_solver *s;
    lm_solve_options *o;
} problem;

/* Latency grows with the merged kernel, the channels and the input size;
 * importance falls with the merged kernel and the segment length. */
static double synth_latency(const lm_entry_info *in)
{
    double k2 = (double)(in->kernel * in->kernel);
    double work = k2 * (double)in->out_channels * (double)in->in_height *
                  (double)in->in_width / (double)(in->stride * in->stride);
    if (!in->depthwise)
        work *= (double)in->in_channels;
    return 0.02 + work * 1e-9;
}

static double synth_importance(const lm_entry_info *in)
{
    return exp(-0.004 * (double)in->kernel -
               0.01 * (double)(in->end - in->st - in->n_kept)) +
           1e-4 * (double)(in->st % 3);
}

static void fill_tables(problem *p, size_t skip_a, size_t skip_b)
{
    ck_assert_lm_ok(lm_table_create_latency_for(&p->lat, p->e));
    ck_assert_lm_ok(lm_table_create_importance_for(&p->imp, p->e,
                                                   LM_METRIC_NORMALISED));
    for (size_t id = 0; id < lm_entries_count(p->e); id++) {
        lm_entry_info in = {.size = sizeof in};
        ck_assert_lm_ok(lm_entries_entry_info(&in, p->e, id));
        if (id == skip_a || id == skip_b)
            continue;
        double v = synth_importance(&in);
        if (!in.identity)
            ck_assert_lm_ok(lm_table_set_latency_entry(
                p->lat, p->e, id, synth_latency(&in), 0.0));
        ck_assert_lm_ok(
            lm_table_set_importance_entry_normalised(p->imp, p->e, id, v, v));
    }
}

static void problem_load(problem *p, const char *model)
{
    memset(p, 0, sizeof *p);
    char rel[128];
    snprintf(rel, sizeof rel, "examples/models/%s.yaml", model);
    ck_assert_lm_ok(lm_graph_load(&p->g, lm_test_source_path(rel)));
    ck_assert_lm_ok(lm_entries_create(&p->e, p->g));
    ck_assert_lm_ok(lm_solve_options_create(&p->o));
}

static void problem_open(problem *p, const char *model)
{
    problem_load(p, model);
    fill_tables(p, SIZE_MAX, SIZE_MAX);
    ck_assert_lm_ok(lm_solver_create(&p->s, p->g, p->e, p->lat, p->imp));
}

static void problem_close(problem *p)
{
    lm_solver_destroy(p->s);
    lm_solve_options_destroy(p->o);
    lm_table_destroy(p->imp);
    lm_table_destroy(p->lat);
    lm_entries_destroy(p->e);
    lm_graph_destroy(p->g);
}

/* The result's per-position and per-conv decisions through the public
 * records, asserting that each call succeeds. */
static int pub_boundary(const lm_result *r, size_t position)
{
    lm_result_position x = {.size = sizeof x};
    ck_assert_lm_ok(lm_result_position_info(&x, r, position));
    return x.is_boundary;
}

static int pub_keeps_act(const lm_result *r, size_t position)
{
    lm_result_position x = {.size = sizeof x};
    ck_assert_lm_ok(lm_result_position_info(&x, r, position));
    return x.activation_kept;
}

static int pub_keeps_conv(const lm_result *r, size_t conv)
{
    lm_result_conv x = {.size = sizeof x};
    ck_assert_lm_ok(lm_result_conv_info(&x, r, conv));
    return x.kept;
}

/* ---- checks shared by the LayerMerge tests ----------------------------- */

static int same_kept(const size_t *a, size_t na, const size_t *b, size_t nb)
{
    return na == nb && (na == 0 || !memcmp(a, b, na * sizeof *a));
}

/* Boundaries partition 0..N, every segment is its entry with the entry's
 * kept convs, the conv flags are their union, and activations follow
 * docs/method.md section 6. Returns how many identity positions gained the
 * nonlinearity. */
static int check_result(const problem *p, const lm_result *r)
{
    size_t n = lm_graph_conv_count(p->g), at = 0, gained = 0;
    uint8_t *kept = calloc(n + 1, 1);
    double lat = 0.0, imp = 0.0;
    ck_assert_uint_eq(lm_result_conv_count(r), n);
    for (size_t i = 0; i < lm_result_segment_count(r); i++) {
        lm_result_segment si = {.size = sizeof si};
        ck_assert_lm_ok(lm_result_segment_info(&si, r, i));
        ck_assert_uint_eq(si.st, at);
        lm_entry_info in = {.size = sizeof in};
        ck_assert_lm_ok(lm_entries_entry_info(&in, p->e, si.entry));
        ck_assert_uint_eq(in.st, si.st);
        ck_assert_uint_eq(in.end, si.end);
        ck_assert_int_eq(in.kernel, si.kernel);
        ck_assert(same_kept(in.kept, in.n_kept, si.kept, si.n_kept));
        for (size_t k = 0; k < si.n_kept; k++)
            kept[si.kept[k]] = 1;
        for (size_t q = si.st + 1; q < si.end; q++) {
            ck_assert(!pub_boundary(r, q));
            ck_assert(!pub_keeps_act(r, q));
        }
        int orig = lm_graph_position_act(p->g, si.end) != LM_ACT_IDENTITY;
        int want = orig || si.end - si.st > 1;
        ck_assert(pub_boundary(r, si.end));
        ck_assert_int_eq(pub_keeps_act(r, si.end), want);
        gained += !orig && want;
        lat += si.latency;
        imp += si.importance;
        at = si.end;
    }
    ck_assert_uint_eq(at, n);
    for (size_t c = 1; c <= n; c++)
        ck_assert_int_eq(pub_keeps_conv(r, c), kept[c]);
    ck_assert(fabs(lat - lm_result_latency(r)) < 1e-9);
    ck_assert(fabs(imp - lm_result_importance(r)) < 1e-9);
    free(kept);
    return (int)gained;
}

static double original_sum(const problem *p)
{
    double sum = 0.0;
    for (size_t c = 1; c <= lm_graph_conv_count(p->g); c++) {
        size_t id = 0;
        double ms = 0.0;
        ck_assert_lm_ok(lm_entries_find_original(&id, p->e, c));
        ck_assert_lm_ok(lm_table_get_entry(&ms, NULL, p->lat, p->e, id));
        sum += ms;
    }
    return sum;
}

/* ---- LayerMerge on the zoo --------------------------------------------- */

START_TEST(resnet34_ratio_budget)
{
    problem p;
    problem_open(&p, "resnet34");
    double orig = original_sum(&p);
    ck_assert(fabs(lm_solver_original_latency(p.s) - orig) < 1e-9 * orig);
    ck_assert_lm_ok(lm_solve_options_set_budget_ratio(p.o, 0.6));
    lm_result *r = NULL;
    ck_assert_lm_ok(lm_solver_run(&r, p.s, p.o));
    ck_assert_int_eq(lm_result_method(r), LM_METHOD_LAYERMERGE);
    ck_assert(fabs(lm_result_budget(r) - 0.6 * orig) < 1e-9 * orig);
    ck_assert(lm_result_latency(r) <= lm_result_budget(r));
    ck_assert(lm_result_latency_units(r) <= lm_result_budget_units(r));
    ck_assert_str_eq(lm_result_fingerprint(r), lm_graph_fingerprint(p.g));
    check_result(&p, r);
    ck_assert_uint_lt(lm_result_segment_count(r), 32);
    /* Automatic precision: the original network is 10000 units. */
    lm_result *ra = NULL;
    ck_assert_lm_ok(lm_solve_options_set_precision(p.o, 0.0));
    ck_assert_lm_ok(lm_solver_run(&ra, p.s, p.o));
    ck_assert(fabs(lm_result_precision(ra) * orig - 10000.0) < 1e-6);
    ck_assert(lm_result_latency(ra) <= lm_result_budget(ra));
    lm_result_destroy(ra);
    /* Out of range is an error, not a silent "not kept". */
    lm_result_conv rc = {.size = sizeof rc};
    ck_assert_lm_status(lm_result_conv_info(&rc, r, 0), LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_result_conv_info(&rc, r, 33), LM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "out of range"));
    lm_result_position rp = {.size = sizeof rp};
    ck_assert_lm_status(lm_result_position_info(&rp, r, 33),
                        LM_ERR_INVALID_ARG);
    /* Each conv's segment is the chosen segment that spans it. */
    for (size_t c = 1; c <= 32; c++) {
        ck_assert_lm_ok(lm_result_conv_info(&rc, r, c));
        lm_result_segment seg = {.size = sizeof seg};
        ck_assert_lm_ok(lm_result_segment_info(&seg, r, rc.segment));
        ck_assert(seg.st < c && c <= seg.end);
    }
    lm_result_destroy(r);
    problem_close(&p);
}
END_TEST

/* The whole-network model: a latency table's fixed cost is part of every
 * prediction, a ratio is a fraction of the whole original network, and the
 * entries get what is left of the budget. */
START_TEST(fixed_cost_enters_every_prediction)
{
    problem p;
    problem_load(&p, "resnet34");
    fill_tables(&p, SIZE_MAX, SIZE_MAX);
    double entries = original_sum(&p), fixed = 0.25 * entries;
    ck_assert_lm_ok(lm_table_set_fixed_cost(p.lat, fixed, 0.01));
    lm_table_network net = {.size = sizeof net};
    ck_assert_lm_ok(lm_table_network_info(&net, p.lat));
    ck_assert(net.fixed_ms == fixed && net.fixed_stdev == 0.01);
    ck_assert_lm_status(lm_table_set_fixed_cost(p.lat, -1.0, 0.0),
                        LM_ERR_VALUE);
    ck_assert_lm_status(lm_table_set_fixed_cost(p.imp, 1.0, 0.0),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_ok(lm_solver_create(&p.s, p.g, p.e, p.lat, p.imp));
    double orig = lm_solver_original_latency(p.s);
    ck_assert(fabs(orig - (fixed + entries)) < 1e-9 * orig);
    ck_assert(lm_solver_fixed_latency(p.s) == fixed);
    ck_assert_lm_ok(lm_solve_options_set_budget_ratio(p.o, 0.7));
    lm_result *r = NULL;
    ck_assert_lm_ok(lm_solver_run(&r, p.s, p.o));
    ck_assert(fabs(lm_result_budget(r) - 0.7 * orig) < 1e-9 * orig);
    ck_assert(lm_result_fixed_latency(r) == fixed);
    double segs = 0.0;
    for (size_t i = 0; i < lm_result_segment_count(r); i++) {
        lm_result_segment seg = {.size = sizeof seg};
        ck_assert_lm_ok(lm_result_segment_info(&seg, r, i));
        segs += seg.latency;
    }
    ck_assert(fabs(lm_result_latency(r) - (fixed + segs)) < 1e-9 * orig);
    ck_assert(lm_result_latency(r) <= lm_result_budget(r));
    /* The entries' budget is what the fixed cost leaves: in units. */
    ck_assert_int_le(lm_result_latency_units(r), lm_result_budget_units(r));
    ck_assert(lm_result_budget_units(r) <=
              (int64_t)floor((0.7 * orig - fixed) * 10.0 + 1e-6));
    /* A budget below the fixed cost cannot be met, and says why. */
    lm_result_destroy(r);
    r = NULL;
    ck_assert_lm_ok(lm_solve_options_set_budget(p.o, 0.5 * fixed));
    ck_assert_lm_status(lm_solver_run(&r, p.s, p.o), LM_ERR_INFEASIBLE);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "fixed cost"));
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "smallest feasible"));
    problem_close(&p);
}
END_TEST

START_TEST(mobilenetv2_gains_nonlinearity)
{
    problem p;
    problem_open(&p, "mobilenetv2");
    int gained = 0;
    for (double ratio = 0.9; ratio > 0.3 && !gained; ratio -= 0.1) {
        ck_assert_lm_ok(lm_solve_options_set_budget_ratio(p.o, ratio));
        lm_result *r = NULL;
        ck_assert_lm_ok(lm_solver_run(&r, p.s, p.o));
        ck_assert(lm_result_latency(r) <= lm_result_budget(r));
        gained = check_result(&p, r);
        lm_result_destroy(r);
    }
    ck_assert_msg(gained > 0, "no identity position gained the nonlinearity");
    problem_close(&p);
}
END_TEST

/* The number after "smallest feasible budget " in the last message. */
static double stated_minimum(void)
{
    const char *m = strstr(lm_last_error(), "smallest feasible budget ");
    ck_assert_msg(m != NULL, "message: %s", lm_last_error());
    return strtod(m + strlen("smallest feasible budget "), NULL);
}

START_TEST(infeasible_states_minimum)
{
    problem p;
    problem_open(&p, "resnet34");
    ck_assert_lm_ok(lm_solve_options_set_budget(p.o, 0.01));
    lm_result *r = NULL;
    ck_assert_lm_status(lm_solver_run(&r, p.s, p.o), LM_ERR_INFEASIBLE);
    ck_assert_ptr_null(r);
    double min = stated_minimum();
    ck_assert(min > 0.01);
    ck_assert_lm_ok(lm_solve_options_set_budget(p.o, min));
    ck_assert_lm_ok(lm_solver_run(&r, p.s, p.o));
    ck_assert(lm_result_latency(r) <= min);
    lm_result_destroy(r);
    /* A ratio budget says where it came from. */
    ck_assert_lm_ok(lm_solve_options_set_budget_ratio(p.o, 1e-4));
    ck_assert_lm_status(lm_solver_run(&r, p.s, p.o), LM_ERR_INFEASIBLE);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "budget ratio 0.0001"));
    ck_assert(fabs(stated_minimum() - min) < 1e-9);
    problem_close(&p);
}
END_TEST

/* The first non-identity entry at or after `from`. */
static size_t real_entry(const lm_entries *e, size_t from)
{
    for (size_t id = from; id < lm_entries_count(e); id++) {
        lm_entry_info in = {.size = sizeof in};
        ck_assert_lm_ok(lm_entries_entry_info(&in, e, id));
        if (!in.identity)
            return id;
    }
    ck_abort_msg("no entry");
    return 0;
}

START_TEST(missing_entries_listed)
{
    problem p;
    problem_load(&p, "resnet34");
    size_t a = real_entry(p.e, 5), b = real_entry(p.e, 40);
    fill_tables(&p, a, b);
    ck_assert_lm_status(lm_solver_create(&p.s, p.g, p.e, p.lat, p.imp),
                        LM_ERR_MISSING);
    ck_assert_ptr_null(p.s);
    char want[64];
    lm_entry_info in = {.size = sizeof in};
    ck_assert_lm_ok(lm_entries_entry_info(&in, p.e, a));
    snprintf(want, sizeof want, "id %zu (st %zu, end %zu, K %lld", a, in.st,
             in.end, (long long)in.kernel);
    ck_assert_msg(strstr(lm_last_error(), want), "%s", lm_last_error());
    snprintf(want, sizeof want, "id %zu (", b);
    ck_assert_msg(strstr(lm_last_error(), want), "%s", lm_last_error());
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "2 entries"));
    problem_close(&p);
}
END_TEST

START_TEST(table_for_another_graph)
{
    problem p, q;
    problem_open(&p, "resnet34");
    problem_load(&q, "mobilenetv2");
    fill_tables(&q, SIZE_MAX, SIZE_MAX);
    lm_solver *s = NULL;
    ck_assert_lm_status(lm_solver_create(&s, p.g, p.e, q.lat, p.imp),
                        LM_ERR_MISMATCH);
    ck_assert_ptr_nonnull(strstr(lm_last_error(),
                                 lm_table_fingerprint(q.lat)));
    ck_assert_lm_status(lm_solver_create(&s, p.g, p.e, p.lat, q.imp),
                        LM_ERR_MISMATCH);
    ck_assert_lm_status(lm_solver_create(&s, p.g, q.e, p.lat, p.imp),
                        LM_ERR_MISMATCH);
    /* One table handle serves both kinds; the solver checks which is
     * which. */
    ck_assert_lm_status(lm_solver_create(&s, p.g, p.e, p.imp, p.lat),
                        LM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "importance"));
    ck_assert_ptr_null(s);
    problem_close(&q);
    problem_close(&p);
}
END_TEST

START_TEST(nan_latency_names_entry)
{
    /* A NaN can never reach the solver: the table refuses it and names
     * the entry. */
    problem p;
    problem_load(&p, "resnet34");
    fill_tables(&p, SIZE_MAX, SIZE_MAX);
    size_t id = real_entry(p.e, 7);
    ck_assert_lm_status(lm_table_set_latency_entry(p.lat, p.e, id, NAN, 0.0),
                        LM_ERR_VALUE);
    char want[32];
    snprintf(want, sizeof want, "%zu", id);
    ck_assert_msg(strstr(lm_last_error(), want), "%s", lm_last_error());
    ck_assert_lm_ok(lm_solver_create(&p.s, p.g, p.e, p.lat, p.imp));
    problem_close(&p);
}
END_TEST

START_TEST(front_monotone_ends_at_best)
{
    problem p;
    problem_open(&p, "mobilenetv2");
    ck_assert_lm_ok(lm_solve_options_set_budget_ratio(p.o, 0.8));
    lm_front *f = NULL;
    lm_result *best = NULL;
    ck_assert_lm_ok(lm_solver_run_front(&f, p.s, p.o));
    ck_assert_lm_ok(lm_solver_run(&best, p.s, p.o));
    size_t n = lm_front_count(f);
    ck_assert_uint_gt(n, 2);
    for (size_t i = 1; i < n; i++) {
        const lm_result *a = lm_front_get(f, i - 1), *b = lm_front_get(f, i);
        ck_assert(lm_result_latency_units(a) < lm_result_latency_units(b));
        ck_assert(lm_result_importance(a) < lm_result_importance(b));
    }
    const lm_result *last = lm_front_get(f, n - 1);
    check_result(&p, last);
    ck_assert_ptr_null(lm_front_get(f, n));
    ck_assert_int_eq(lm_result_latency_units(last),
                     lm_result_latency_units(best));
    ck_assert(lm_result_importance(last) == lm_result_importance(best));
    ck_assert_uint_eq(lm_result_segment_count(last),
                      lm_result_segment_count(best));
    lm_result_destroy(best);
    lm_front_destroy(f);
    problem_close(&p);
}
END_TEST

/* ---- brute force on a tiny graph --------------------------------------- */

static const char tiny_yaml[] =
    "format: layermerge-graph\nversion: 1\nname: tiny\n"
    "input: {channels: 4, height: 8, width: 8}\nnonlinearity: relu\n"
    "trunk:\n"
    "  - {in: 4, out: 4, kernel: 3, stride: 1, padding: 1, act: relu}\n"
    "  - {in: 4, out: 4, kernel: 3, stride: 1, padding: 1, act: relu}\n"
    "  - {in: 4, out: 4, kernel: 1, stride: 1, padding: 0, act: identity}\n"
    "  - {in: 4, out: 8, kernel: 3, stride: 1, padding: 1, act: relu}\n"
    "  - {in: 8, out: 8, kernel: 3, stride: 1, padding: 1, act: relu}\n"
    "skips:\n  - {from: 0, to: 2}\n";

typedef struct brute {
    const problem *p;
    double units_of[512], imp_of[512];
    int64_t budget;
    double best;
} brute;

static void brute_walk(brute *b, size_t pos, int64_t units, double imp)
{
    if (units > b->budget)
        return;
    size_t n = lm_graph_conv_count(b->p->g);
    if (pos == n) {
        if (imp > b->best)
            b->best = imp;
        return;
    }
    for (size_t id = 0; id < lm_entries_count(b->p->e); id++) {
        lm_entry_info in = {.size = sizeof in};
        ck_assert_lm_ok(lm_entries_entry_info(&in, b->p->e, id));
        if (in.st == pos)
            brute_walk(b, in.end, units + (int64_t)b->units_of[id],
                       imp + b->imp_of[id]);
    }
}

START_TEST(dp_equals_brute_force)
{
    problem p;
    memset(&p, 0, sizeof p);
    ck_assert_lm_ok(lm_graph_load_string(&p.g, tiny_yaml, strlen(tiny_yaml)));
    ck_assert_lm_ok(lm_entries_create(&p.e, p.g));
    ck_assert_lm_ok(lm_solve_options_create(&p.o));
    ck_assert_uint_lt(lm_entries_count(p.e), 512);
    ck_assert_lm_ok(lm_table_create_latency_for(&p.lat, p.e));
    ck_assert_lm_ok(lm_table_create_importance_for(&p.imp, p.e,
                                                   LM_METRIC_ACCURACY));
    brute b = {.p = &p};
    uint64_t seed = 12345;
    for (size_t id = 0; id < lm_entries_count(p.e); id++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        double ms = 0.5 + (double)(seed >> 40) / (double)(1ull << 24) * 3.0;
        double acc = 60.0 + (double)((seed >> 20) % 1000) / 50.0;
        ms = floor(ms * 10.0) / 10.0 + 0.05; /* between two units */
        ck_assert_lm_ok(lm_table_set_latency_entry(p.lat, p.e, id, ms, 0.0));
        ck_assert_lm_ok(lm_table_set_importance_entry(p.imp, p.e, id, acc));
        b.units_of[id] = ceil(ms * 10.0);
        b.imp_of[id] = exp(acc / 100.0);
    }
    ck_assert_lm_ok(lm_solver_create(&p.s, p.g, p.e, p.lat, p.imp));
    for (int budget = 10; budget <= 120; budget += 7) {
        b.budget = budget;
        b.best = -INFINITY;
        brute_walk(&b, 0, 0, 0.0);
        ck_assert_lm_ok(lm_solve_options_set_budget(p.o, budget / 10.0));
        lm_result *r = NULL;
        lm_status st = lm_solver_run(&r, p.s, p.o);
        if (b.best == -INFINITY) {
            ck_assert_int_eq(st, LM_ERR_INFEASIBLE);
            continue;
        }
        ck_assert_lm_ok(st);
        ck_assert_msg(fabs(lm_result_importance(r) - b.best) < 1e-9,
                      "budget %d: dp %.12g brute %.12g", budget,
                      lm_result_importance(r), b.best);
        ck_assert(lm_result_latency_units(r) <= budget);
        check_result(&p, r);
        lm_result_destroy(r);
    }
    problem_close(&p);
}
END_TEST

/* ---- kim23 from the authors' time table -------------------------------- */

/* Every combination of docs/method.md section 7 for every row of the time
 * table, with deterministic scores; returns the file path (in dir). */
static void write_raw(const char *path, const lm_graph *g, const char *time)
{
    FILE *in = fopen(time, "r"), *out = fopen(path, "w");
    ck_assert(in && out);
    char line[512];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, in));
    fputs("id,st,end,st_act,end_act,val_acc\n", out);
    size_t id = 0;
    while (fgets(line, sizeof line, in)) {
        unsigned st = 0, end = 0, row = 0;
        ck_assert_int_eq(sscanf(line, "%u,%u,%u", &row, &st, &end), 3);
        int st_id = st > 0 && lm_graph_position_act(g, st) == LM_ACT_IDENTITY;
        int end_id = lm_graph_position_act(g, end) == LM_ACT_IDENTITY;
        for (int a = 1; a >= 0; a--)
            for (int c = 1; c >= 0; c--) {
                int ok = st == 0 ? a && c
                         : st_id ? c
                         : end_id ? a : a && c;
                if (!ok)
                    continue;
                double score = 72.0 - 0.9 * (end - st) - 0.3 * (a + c) +
                               0.01 * ((st * 7 + end * 3) % 11);
                fprintf(out, "%zu,%u,%u,%d,%d,%.6f\n", id++, st, end, a, c,
                        score);
            }
    }
    fclose(in);
    fclose(out);
}

static int same_result(const lm_result *a, const lm_result *b)
{
    if (lm_result_segment_count(a) != lm_result_segment_count(b) ||
        lm_result_latency_units(a) != lm_result_latency_units(b) ||
        lm_result_importance(a) != lm_result_importance(b))
        return 0;
    for (size_t p = 1; p <= lm_result_conv_count(a); p++)
        if (pub_keeps_act(a, p) != pub_keeps_act(b, p) ||
            pub_boundary(a, p) != pub_boundary(b, p) ||
            pub_keeps_conv(a, p) != pub_keeps_conv(b, p))
            return 0;
    return 1;
}

/* The authors' conv_comb is the subset their importance was measured with:
 * solving from their CSV keeps exactly those convs, and entries built
 * another way are refused, naming the entry. */
START_TEST(conv_comb_is_the_subset_solved)
{
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_load(
        &g, lm_test_source_path("examples/models/resnet34.yaml")));
    /* The tests' importance CSV with one change: entry (0, 4) K 3 was
     * measured keeping conv 3, not conv 1 (the earliest rule's). */
    char *dir = lm_test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/imp.csv", dir);
    FILE *in = fopen(lm_test_data_path("solve_resnet34_importance.csv"), "r");
    FILE *out = fopen(path, "w");
    ck_assert(in && out);
    char line[512];
    while (fgets(line, sizeof line, in)) {
        if (!strncmp(line, "3,0,4,3,1,0,\"1\",", 16))
            fprintf(out, "3,0,4,3,1,0,\"3\",%s", line + 16);
        else
            fputs(line, out);
    }
    fclose(in);
    fclose(out);
    lm_entries *plain = NULL, *measured = NULL;
    lm_table *lat = NULL, *imp = NULL;
    ck_assert_lm_ok(lm_entries_create(&plain, g));
    ck_assert_lm_ok(lm_table_import_csv(
        &lat, LM_TABLE_LATENCY, lm_test_data_path("solve_resnet34_latency.csv"),
        LM_TABLE_CSV_LAYERMERGE, 0, plain));
    ck_assert_lm_ok(lm_table_import_csv(&imp, LM_TABLE_IMPORTANCE, path,
                                        LM_TABLE_CSV_LAYERMERGE,
                                        LM_METRIC_NORMALISED, plain));
    /* Every record carries its subset. */
    for (size_t i = 0; i < lm_table_count(imp); i++) {
        lm_table_record rec = {.size = sizeof rec};
        ck_assert_lm_ok(lm_table_record_info(&rec, imp, i));
        ck_assert_int_eq(rec.has_convs, 1);
    }
    /* Entries built by the earliest rule disagree at entry 3. */
    lm_solver *s = NULL;
    ck_assert_lm_status(lm_solver_create(&s, g, plain, lat, imp),
                        LM_ERR_MISMATCH);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "entry 3 "));
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "{3}"));
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "{1}"));
    /* Entries built from the table keep what it names. */
    ck_assert_lm_ok(lm_entries_create_from_table(&measured, g, imp));
    lm_entry_info info = {.size = sizeof info};
    ck_assert_lm_ok(lm_entries_entry_info(&info, measured, 3));
    ck_assert(info.n_kept == 1 && info.kept[0] == 3);
    ck_assert_int_eq(info.padding, 1);
    lm_plan *plan = NULL;
    ck_assert_lm_ok(lm_plan_create_for_entry(&plan, g, measured, 3));
    lm_plan_conv pc = {.size = sizeof pc};
    ck_assert_lm_ok(lm_plan_conv_info(&pc, plan, 1));
    ck_assert_int_eq(pc.kept, 0);
    ck_assert_lm_ok(lm_plan_conv_info(&pc, plan, 3));
    ck_assert_int_eq(pc.kept, 1);
    lm_plan_destroy(plan);
    /* Solved at several budgets, every segment keeps its record's convs. */
    ck_assert_lm_ok(lm_solver_create(&s, g, measured, lat, imp));
    lm_solve_options *o = NULL;
    ck_assert_lm_ok(lm_solve_options_create(&o));
    ck_assert_lm_ok(lm_solve_options_set_rounding(o, LM_ROUNDING_FLOOR));
    for (double ratio = 0.9; ratio > 0.45; ratio -= 0.1) {
        lm_result *r = NULL;
        ck_assert_lm_ok(lm_solve_options_set_budget_ratio(o, ratio));
        ck_assert_lm_ok(lm_solver_run(&r, s, o));
        for (size_t i = 0; i < lm_result_segment_count(r); i++) {
            lm_result_segment seg = {.size = sizeof seg};
            ck_assert_lm_ok(lm_result_segment_info(&seg, r, i));
            lm_entry_key key = {.size = sizeof key};
            ck_assert_lm_ok(lm_entries_entry_key(&key, measured, seg.entry));
            size_t j = 0;
            lm_table_record rec = {.size = sizeof rec};
            for (; j < lm_table_count(imp); j++) {
                ck_assert_lm_ok(lm_table_record_info(&rec, imp, j));
                if (rec.st == key.st && rec.end == key.end &&
                    rec.kernel == key.kernel && rec.stride == key.stride &&
                    rec.depthwise == key.depthwise)
                    break;
            }
            ck_assert_uint_lt(j, lm_table_count(imp));
            ck_assert_uint_eq(seg.n_kept, rec.n_convs);
            for (size_t k = 0; k < seg.n_kept; k++)
                ck_assert_uint_eq(seg.kept[k], rec.convs[k]);
        }
        lm_result_destroy(r);
    }
    /* The subset survives the table file and the CSV round trip. */
    snprintf(path, sizeof path, "%s/imp.yaml", dir);
    ck_assert_lm_ok(lm_table_save(imp, path));
    lm_table *back = NULL;
    ck_assert_lm_ok(lm_table_load(&back, path));
    lm_entries *again = NULL;
    ck_assert_lm_ok(lm_entries_create_from_table(&again, g, back));
    ck_assert_lm_ok(lm_entries_entry_info(&info, again, 3));
    ck_assert(info.n_kept == 1 && info.kept[0] == 3);
    snprintf(path, sizeof path, "%s/back.csv", dir);
    ck_assert_lm_ok(lm_table_export_csv(back, path, LM_TABLE_CSV_LAYERMERGE));
    lm_table *csv = NULL;
    ck_assert_lm_ok(lm_table_import_csv(&csv, LM_TABLE_IMPORTANCE, path,
                                        LM_TABLE_CSV_LAYERMERGE,
                                        LM_METRIC_NORMALISED, plain));
    lm_entries_destroy(again);
    again = NULL;
    ck_assert_lm_ok(lm_entries_create_from_table(&again, g, csv));
    ck_assert_lm_ok(lm_entries_entry_info(&info, again, 3));
    ck_assert(info.n_kept == 1 && info.kept[0] == 3);
    /* A subset that is no option of its key is refused, naming it:
     * convs 2 and 3 merge into a 5x5, not entry 3's 3x3. */
    snprintf(path, sizeof path, "%s/bad.csv", dir);
    in = fopen(lm_test_data_path("solve_resnet34_importance.csv"), "r");
    out = fopen(path, "w");
    ck_assert(in && out);
    while (fgets(line, sizeof line, in)) {
        if (!strncmp(line, "3,0,4,3,1,0,\"1\",", 16))
            fprintf(out, "3,0,4,3,1,0,\"2,3\",%s", line + 16);
        else
            fputs(line, out);
    }
    fclose(in);
    fclose(out);
    lm_table *bad = NULL;
    ck_assert_lm_ok(lm_table_import_csv(&bad, LM_TABLE_IMPORTANCE, path,
                                        LM_TABLE_CSV_LAYERMERGE,
                                        LM_METRIC_NORMALISED, plain));
    lm_entries_destroy(again);
    again = NULL;
    ck_assert_lm_status(lm_entries_create_from_table(&again, g, bad),
                        LM_ERR_MISMATCH);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "entry 3"));
    ck_assert_ptr_null(again);
    lm_table_destroy(csv);
    lm_table_destroy(back);
    lm_table_destroy(bad);
    lm_solve_options_destroy(o);
    lm_solver_destroy(s);
    lm_table_destroy(imp);
    lm_table_destroy(lat);
    lm_entries_destroy(measured);
    lm_entries_destroy(plain);
    lm_graph_destroy(g);
    lm_test_rmtree(dir);
}
END_TEST

START_TEST(kim23_from_files)
{
    const char *time = lm_test_data_path(
        "upstream-kim23/mbv2_1.0/time_fish_gpu1_1228.csv");
    char time_path[1024];
    snprintf(time_path, sizeof time_path, "%s", time);
    char *dir = lm_test_tmpdir();
    char raw[1024], yaml[1024];
    snprintf(raw, sizeof raw, "%s/raw.csv", dir);
    snprintf(yaml, sizeof yaml, "%s/k23.yaml", dir);
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_load(
        &g, lm_test_source_path("examples/models/mobilenetv2.yaml")));
    write_raw(raw, g, time_path);
    lm_solver *with = NULL, *without = NULL;
    ck_assert_lm_ok(lm_solver_create_kim23(&with, time_path, raw, g));
    ck_assert_lm_ok(lm_solver_create_kim23(&without, time_path, raw, NULL));
    ck_assert_uint_eq(lm_solver_conv_count(without), 50);
    lm_solve_options *o = NULL;
    ck_assert_lm_ok(lm_solve_options_create(&o));
    ck_assert_lm_ok(lm_solve_options_set_method(o, LM_METHOD_KIM23));
    ck_assert_lm_ok(lm_solve_options_set_budget_ratio(o, 0.75));
    lm_result *a = NULL, *b = NULL;
    ck_assert_lm_ok(lm_solver_run(&a, with, o));
    ck_assert_lm_ok(lm_solver_run(&b, without, o));
    ck_assert(same_result(a, b));
    ck_assert(lm_result_latency(a) <= lm_result_budget(a));
    ck_assert_str_eq(lm_result_fingerprint(a), lm_graph_fingerprint(g));
    ck_assert_str_eq(lm_result_fingerprint(b), "");
    size_t at = 0;
    for (size_t i = 0; i < lm_result_segment_count(a); i++) {
        lm_result_segment si = {.size = sizeof si};
        ck_assert_lm_ok(lm_result_segment_info(&si, a, i));
        ck_assert_uint_eq(si.st, at);
        ck_assert_uint_eq(si.n_kept, si.end - si.st);
        ck_assert_int_ge(si.kernel, 1);
        at = si.end;
    }
    ck_assert_uint_eq(at, 50);
    ck_assert_uint_lt(lm_result_segment_count(a), 50);
    for (size_t p = 1; p <= 50; p++) {
        ck_assert(pub_keeps_conv(a, p));
        if (pub_keeps_act(a, p))
            ck_assert(pub_boundary(a, p));
    }
    /* Front and the wrong method. */
    lm_front *f = NULL;
    ck_assert_lm_ok(lm_solver_run_front(&f, with, o));
    ck_assert_uint_gt(lm_front_count(f), 1);
    ck_assert(same_result(lm_front_get(f, lm_front_count(f) - 1), a));
    lm_front_destroy(f);
    ck_assert_lm_ok(lm_result_save(a, yaml));
    lm_result *back = NULL;
    ck_assert_lm_ok(lm_result_load(&back, yaml));
    ck_assert(same_result(a, back));
    ck_assert_int_eq(lm_result_method(back), LM_METHOD_KIM23);
    lm_result_destroy(back);
    ck_assert_lm_ok(lm_solve_options_set_method(o, LM_METHOD_LAYERMERGE));
    ck_assert_lm_status(lm_solver_run(&back, with, o), LM_ERR_INVALID_ARG);
    lm_result_destroy(a);
    lm_result_destroy(b);
    lm_solve_options_destroy(o);
    lm_solver_destroy(with);
    lm_solver_destroy(without);
    lm_graph_destroy(g);
    lm_test_rmtree(dir);
}
END_TEST

START_TEST(kim23_bad_files)
{
    char *dir = lm_test_tmpdir();
    char time[1024], raw[1024];
    snprintf(time, sizeof time, "%s/t.csv", dir);
    snprintf(raw, sizeof raw, "%s/r.csv", dir);
    FILE *fp = fopen(time, "w");
    fputs("id,st,end,time,stdev\n0,0,1,1.0,0\n1,1,2,x,0\n", fp);
    fclose(fp);
    fp = fopen(raw, "w");
    fputs("id,st,end,st_act,end_act,val_acc\n0,0,1,1,1,70\n", fp);
    fclose(fp);
    lm_solver *s = NULL;
    ck_assert_lm_status(lm_solver_create_kim23(&s, time, raw, NULL),
                        LM_ERR_PARSE);
    ck_assert_msg(strstr(lm_last_error(), "t.csv:3"), "%s", lm_last_error());
    ck_assert_ptr_null(s);
    ck_assert_lm_status(lm_solver_create_kim23(&s, "/nonexistent.csv", raw,
                                               NULL), LM_ERR_IO);
    lm_test_rmtree(dir);
}
END_TEST

/* ---- pruning ----------------------------------------------------------- */

START_TEST(prune_keeps_irreducible)
{
    problem p;
    problem_load(&p, "resnet34");
    fill_tables(&p, SIZE_MAX, SIZE_MAX);
    ck_assert_lm_ok(lm_solver_create(&p.s, p.g, p.e, p.lat, NULL));
    ck_assert_lm_ok(lm_solve_options_set_method(p.o, LM_METHOD_PRUNE));
    ck_assert_lm_ok(lm_solve_options_set_budget_ratio(p.o, 0.7));
    lm_result *r = NULL;
    ck_assert_lm_status(lm_solver_run(&r, p.s, p.o), LM_ERR_STATE);
    double imp[32];
    for (int i = 0; i < 32; i++)
        imp[i] = 1.0 + 0.1 * (i % 5);
    ck_assert_lm_status(lm_solver_set_conv_importance(p.s, imp, 31),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_ok(lm_solver_set_conv_importance(p.s, imp, 32));
    ck_assert_lm_ok(lm_solver_run(&r, p.s, p.o));
    ck_assert(lm_result_latency(r) <= lm_result_budget(r));
    size_t pruned = 0;
    for (size_t c = 1; c <= 32; c++) {
        lm_conv_info ci = {.size = sizeof ci};
        ck_assert_lm_ok(lm_graph_conv_info(&ci, p.g, c));
        int kept = pub_keeps_conv(r, c);
        if (ci.in_channels != ci.out_channels || ci.stride > 1)
            ck_assert(kept);
        pruned += !kept;
        ck_assert(pub_boundary(r, c));
        ck_assert_int_eq(pub_keeps_act(r, c),
                         kept &&
                             lm_graph_position_act(p.g, c) != LM_ACT_IDENTITY);
    }
    ck_assert_uint_gt(pruned, 0);
    lm_front *f = NULL;
    ck_assert_lm_status(lm_solver_run_front(&f, p.s, p.o), LM_ERR_UNSUPPORTED);
    ck_assert_lm_ok(lm_solve_options_set_method(p.o, LM_METHOD_LAYERMERGE));
    lm_result_destroy(r);
    ck_assert_lm_status(lm_solver_run(&r, p.s, p.o), LM_ERR_INVALID_ARG);
    problem_close(&p);
}
END_TEST

/* ---- table memory -------------------------------------------------------- */

/* The precision the last message says fits ("at most P fits"). */
static double stated_precision(void)
{
    const char *m = strstr(lm_last_error(), "at most ");
    ck_assert_msg(m != NULL, "message: %s", lm_last_error());
    return strtod(m + strlen("at most "), NULL);
}

/* `layermerge solve --precision 1e6` took 21.8 GB: every solver refuses a
 * table above 2 GiB before allocating it, says what it would need and
 * which precision fits. */
START_TEST(huge_precision_refused)
{
    problem p;
    problem_open(&p, "resnet34");
    /* 10^8 units for the original network: 33 positions x 7e7 units at
     * ratio 0.7 would be 37 GB (and stays below 2^31 units). */
    double huge = 1e8 / lm_solver_original_latency(p.s);
    ck_assert_lm_ok(lm_solve_options_set_budget_ratio(p.o, 0.7));
    ck_assert_lm_ok(lm_solve_options_set_precision(p.o, huge));
    lm_result *r = NULL;
    ck_assert_lm_status(lm_solver_run(&r, p.s, p.o), LM_ERR_UNSUPPORTED);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(lm_last_error(), "above the limit of 2 GiB") &&
                      strstr(lm_last_error(), "smaller precision") &&
                      strstr(lm_last_error(), "GiB"),
                  "message: %s", lm_last_error());
    double fits = stated_precision();
    ck_assert_msg(fits > 0.0 && fits < huge, "message: %s", lm_last_error());
    lm_front *f = NULL;
    ck_assert_lm_status(lm_solver_run_front(&f, p.s, p.o),
                        LM_ERR_UNSUPPORTED);
    ck_assert_ptr_null(f);
    /* A precision well inside the stated one solves. */
    ck_assert_lm_ok(lm_solve_options_set_precision(p.o, fits / 64.0));
    ck_assert_lm_ok(lm_solver_run(&r, p.s, p.o));
    ck_assert(lm_result_latency(r) <= lm_result_budget(r));
    lm_result_destroy(r);
    /* The pruning knapsack likewise. */
    double imp[32];
    for (int i = 0; i < 32; i++)
        imp[i] = 1.0 + 0.1 * (i % 5);
    ck_assert_lm_ok(lm_solver_set_conv_importance(p.s, imp, 32));
    ck_assert_lm_ok(lm_solve_options_set_method(p.o, LM_METHOD_PRUNE));
    ck_assert_lm_ok(lm_solve_options_set_precision(p.o, huge));
    ck_assert_lm_status(lm_solver_run(&r, p.s, p.o), LM_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(lm_last_error(), "knapsack table") &&
                      strstr(lm_last_error(), "above the limit of 2 GiB"),
                  "message: %s", lm_last_error());
    problem_close(&p);
}
END_TEST

START_TEST(kim23_huge_precision_refused)
{
    const char *time = lm_test_data_path(
        "upstream-kim23/mbv2_1.0/time_fish_gpu1_1228.csv");
    char time_path[1024];
    snprintf(time_path, sizeof time_path, "%s", time);
    char *dir = lm_test_tmpdir();
    char raw[1024];
    snprintf(raw, sizeof raw, "%s/raw.csv", dir);
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_load(
        &g, lm_test_source_path("examples/models/mobilenetv2.yaml")));
    write_raw(raw, g, time_path);
    lm_solver *s = NULL;
    ck_assert_lm_ok(lm_solver_create_kim23(&s, time_path, raw, g));
    lm_solve_options *o = NULL;
    ck_assert_lm_ok(lm_solve_options_create(&o));
    ck_assert_lm_ok(lm_solve_options_set_method(o, LM_METHOD_KIM23));
    ck_assert_lm_ok(lm_solve_options_set_budget_ratio(o, 0.75));
    ck_assert_lm_ok(lm_solve_options_set_precision(o, 1e6));
    lm_result *r = NULL;
    ck_assert_lm_status(lm_solver_run(&r, s, o), LM_ERR_UNSUPPORTED);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(lm_last_error(), "above the limit of 2 GiB"),
                  "message: %s", lm_last_error());
    ck_assert(stated_precision() > 0.0);
    lm_solve_options_destroy(o);
    lm_solver_destroy(s);
    lm_graph_destroy(g);
    lm_test_rmtree(dir);
}
END_TEST

/* ---- results on disk and options --------------------------------------- */

START_TEST(result_yaml_round_trip)
{
    problem p;
    problem_open(&p, "resnet34");
    ck_assert_lm_ok(lm_solve_options_set_budget_ratio(p.o, 0.7));
    ck_assert_lm_ok(lm_solve_options_set_rounding(p.o, LM_ROUNDING_FLOOR));
    lm_result *r = NULL, *back = NULL;
    ck_assert_lm_ok(lm_solver_run(&r, p.s, p.o));
    char *dir = lm_test_tmpdir();
    char path[1024];
    snprintf(path, sizeof path, "%s/result.yaml", dir);
    ck_assert_lm_ok(lm_result_save(r, path));
    ck_assert_lm_ok(lm_result_load(&back, path));
    ck_assert(same_result(r, back));
    ck_assert(lm_result_latency(r) == lm_result_latency(back));
    ck_assert(lm_result_budget(r) == lm_result_budget(back));
    ck_assert_int_eq(lm_result_budget_units(r), lm_result_budget_units(back));
    ck_assert_int_eq(lm_result_rounding(back), LM_ROUNDING_FLOOR);
    ck_assert_str_eq(lm_result_fingerprint(back), lm_result_fingerprint(r));
    for (size_t i = 0; i < lm_result_segment_count(r); i++) {
        lm_result_segment x = {.size = sizeof x}, y = {.size = sizeof y};
        ck_assert_lm_ok(lm_result_segment_info(&x, r, i));
        ck_assert_lm_ok(lm_result_segment_info(&y, back, i));
        ck_assert_uint_eq(x.entry, y.entry);
        ck_assert_int_eq(x.kernel, y.kernel);
        ck_assert(x.latency == y.latency && x.importance == y.importance);
        ck_assert(same_kept(x.kept, x.n_kept, y.kept, y.n_kept));
    }
    check_result(&p, back);
    /* Required keys are there; an edited file fails at its line. */
    FILE *fp = fopen(path, "r");
    char text[65536];
    size_t len = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[len] = '\0';
    static const char *const keys[] = {"activations:", "convs:", "segments:",
                                       "importance:", "latency:",
                                       "latency_discrete:", "merges:",
                                       "budget:", "precision:", "rounding:"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        ck_assert_msg(strstr(text, keys[k]), "no %s", keys[k]);
    char *m = strstr(text, "merges: [");
    ck_assert_ptr_nonnull(m);
    m[9] = '0'; /* position 0 is never a merge position */
    fp = fopen(path, "w");
    fputs(text, fp);
    fclose(fp);
    lm_result *bad = NULL;
    ck_assert_lm_status(lm_result_load(&bad, path), LM_ERR_PARSE);
    ck_assert_msg(strstr(lm_last_error(), "result.yaml:"), "%s",
                  lm_last_error());
    ck_assert_ptr_null(bad);
    lm_result_destroy(back);
    lm_result_destroy(r);
    lm_test_rmtree(dir);
    problem_close(&p);
}
END_TEST

/* `text` with the first line starting with `prefix` replaced by `line`,
 * loaded from dir/edited.yaml: the status, with the message checked. */
static void expect_edited(const char *dir, const char *text,
                          const char *prefix, const char *line,
                          lm_status want, const char *message)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/edited.yaml", dir);
    const char *at = strstr(text, prefix);
    ck_assert_ptr_nonnull(at);
    const char *eol = strchr(at, '\n');
    FILE *fp = fopen(path, "w");
    fprintf(fp, "%.*s%s%s", (int)(at - text), text, line, eol);
    fclose(fp);
    lm_result *r = NULL;
    ck_assert_lm_status(lm_result_load(&r, path), want);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(lm_last_error(), message), "'%s' lacks '%s'",
                  lm_last_error(), message);
}

/* What the loader can check without the graph: finite numbers in range,
 * and each segment's merged conv consistent with its kept convs. */
START_TEST(result_loader_checks_numbers_and_segments)
{
    problem p;
    problem_open(&p, "resnet34");
    ck_assert_lm_ok(lm_solve_options_set_budget_ratio(p.o, 0.7));
    lm_result *r = NULL;
    ck_assert_lm_ok(lm_solver_run(&r, p.s, p.o));
    char *dir = lm_test_tmpdir();
    char path[1024];
    snprintf(path, sizeof path, "%s/result.yaml", dir);
    ck_assert_lm_ok(lm_result_save(r, path));
    FILE *fp = fopen(path, "r");
    static char text[1 << 17];
    size_t len = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[len] = '\0';
    expect_edited(dir, text, "budget:", "budget: .nan", LM_ERR_PARSE,
                  "budget: expected a number, found '.nan'");
    expect_edited(dir, text, "budget:", "budget: -1.0", LM_ERR_VALUE,
                  "budget -1 is not a finite number >= 0");
    expect_edited(dir, text, "precision:", "precision: -10.0", LM_ERR_VALUE,
                  "precision -10 is not a finite number > 0");
    expect_edited(dir, text, "precision:", "precision: 0.0", LM_ERR_VALUE,
                  "precision 0 is not a finite number > 0");
    expect_edited(dir, text, "budget_units:", "budget_units: -3",
                  LM_ERR_VALUE, "budget_units -3 is negative");
    expect_edited(dir, text, "latency_discrete:", "latency_discrete: -1",
                  LM_ERR_VALUE, "latency_discrete -1 is negative");
    /* The first segment keeps convs (ResNet-34 has no identity option);
     * say it keeps none, then that its kernel is 0. */
    const char *segs = strstr(text, "segments:");
    ck_assert_ptr_nonnull(segs);
    const char *seg = strstr(segs, "- {");
    ck_assert_ptr_nonnull(seg);
    char orig[512], line[512];
    const char *eol = strchr(seg, '\n');
    snprintf(orig, sizeof orig, "%.*s", (int)(eol - seg), seg);
    snprintf(line, sizeof line, "%s", orig);
    char *convs = strstr(line, "convs: [");
    ck_assert_ptr_nonnull(convs);
    snprintf(convs, sizeof line - (size_t)(convs - line), "convs: []}");
    expect_edited(dir, text, orig, line, LM_ERR_VALUE,
                  "keeps no conv, so its kernel must be 0");
    snprintf(line, sizeof line, "%s", orig);
    char *ker = strstr(line, "ker: ");
    ck_assert_ptr_nonnull(ker);
    memmove(ker + 6, ker + 5 + strspn(ker + 5, "0123456789"),
            strlen(ker + 5 + strspn(ker + 5, "0123456789")) + 1);
    ker[5] = '0';
    expect_edited(dir, text, orig, line, LM_ERR_VALUE,
                  "keeps convs but has kernel 0");
    lm_result_destroy(r);
    lm_test_rmtree(dir);
    problem_close(&p);
}
END_TEST

START_TEST(options_checked)
{
    lm_solve_options *o = NULL;
    ck_assert_lm_ok(lm_solve_options_create(&o));
    ck_assert_lm_status(lm_solve_options_set_precision(o, -1.0),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_ok(lm_solve_options_set_precision(o, 0.0)); /* automatic */
    ck_assert_lm_status(lm_solve_options_set_precision(o, NAN),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_solve_options_set_budget(o, -1.0), LM_ERR_VALUE);
    ck_assert_lm_status(lm_solve_options_set_budget_ratio(o, 0.0),
                        LM_ERR_VALUE);
    ck_assert_lm_status(lm_solve_options_set_method(o, (lm_method)7),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_solve_options_set_rounding(o, (lm_rounding)3),
                        LM_ERR_INVALID_ARG);
    lm_method m;
    ck_assert_lm_ok(lm_method_from_name(&m, "kim23"));
    ck_assert_int_eq(m, LM_METHOD_KIM23);
    ck_assert_str_eq(lm_method_name(LM_METHOD_PRUNE), "prune");
    ck_assert_lm_status(lm_method_from_name(&m, "greedy"), LM_ERR_INVALID_ARG);
    lm_solve_options_destroy(o);
    lm_solve_options_destroy(NULL);
    lm_result_destroy(NULL);
    lm_front_destroy(NULL);
    lm_solver_destroy(NULL);
}
END_TEST

static Suite *solver_api_suite(void)
{
    Suite *s = suite_create("solver_api");
    TCase *tc = tcase_create("layermerge");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, conv_comb_is_the_subset_solved);
    tcase_add_test(tc, resnet34_ratio_budget);
    tcase_add_test(tc, fixed_cost_enters_every_prediction);
    tcase_add_test(tc, mobilenetv2_gains_nonlinearity);
    tcase_add_test(tc, infeasible_states_minimum);
    tcase_add_test(tc, missing_entries_listed);
    tcase_add_test(tc, table_for_another_graph);
    tcase_add_test(tc, nan_latency_names_entry);
    tcase_add_test(tc, front_monotone_ends_at_best);
    tcase_add_test(tc, dp_equals_brute_force);
    tcase_add_test(tc, huge_precision_refused);
    suite_add_tcase(s, tc);
    TCase *other = tcase_create("kim23_prune_files");
    tcase_set_timeout(other, 120);
    tcase_add_test(other, kim23_from_files);
    tcase_add_test(other, kim23_bad_files);
    tcase_add_test(other, kim23_huge_precision_refused);
    tcase_add_test(other, prune_keeps_irreducible);
    tcase_add_test(other, result_yaml_round_trip);
    tcase_add_test(other, result_loader_checks_numbers_and_segments);
    tcase_add_test(other, options_checked);
    suite_add_tcase(s, other);
    return s;
}

int main(void)
{
    return lm_test_run(solver_api_suite());
}
