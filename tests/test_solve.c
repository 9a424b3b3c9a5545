/* The solver core: kim23 stage 1 against the authors' tables, and every
 * solver against brute force on hundreds of random small problems. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "io/csv.h"
#include "solve/dp.h"
#include "solve/kim23.h"
#include "solve/knapsack.h"

/* ---- deterministic random numbers ---- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double rng_unit(void)
{
    return (double)(rng_next() >> 11) / 9007199254740992.0;
}

static int rng_int(int n)
{
    return (int)(rng_next() % (uint64_t)n);
}

/* Latencies and importances: half the problems use dyadic values, whose
 * sums are exact, so ties really happen and the tie rule is exercised. */
static double rnd_value(int dyadic, double scale)
{
    return dyadic ? rng_int((int)(scale * 8)) / 8.0 : rng_unit() * scale;
}

static int better(double v, int64_t u, double best_v, int64_t best_u)
{
    double kv = lm_key7(v), kb = lm_key7(best_v);
    return kv > kb || (kv == kb && u < best_u);
}

/* ---- stage 1 against the authors' files ---- */

static void load_segments(const char *rel, lm_k23_segment **out, size_t *n)
{
    lm_csv csv;
    ck_assert_lm_ok(lm_csv_load(&csv, lm_test_data_path(rel)));
    size_t c_st, c_end, c_time, c_sd;
    ck_assert_lm_ok(lm_csv_column(&csv, "st", &c_st));
    ck_assert_lm_ok(lm_csv_column(&csv, "end", &c_end));
    ck_assert_lm_ok(lm_csv_column(&csv, "time", &c_time));
    ck_assert_lm_ok(lm_csv_column(&csv, "stdev", &c_sd));
    lm_k23_segment *segs = calloc(csv.n_rows, sizeof *segs);
    for (size_t r = 0; r < csv.n_rows; r++) {
        int64_t st, end;
        ck_assert_lm_ok(lm_csv_int(&csv, r, c_st, &st));
        ck_assert_lm_ok(lm_csv_int(&csv, r, c_end, &end));
        ck_assert_lm_ok(lm_csv_double(&csv, r, c_time, &segs[r].time));
        ck_assert_lm_ok(lm_csv_double(&csv, r, c_sd, &segs[r].stdev));
        segs[r].st = (uint32_t)st;
        segs[r].end = (uint32_t)end;
    }
    *out = segs;
    *n = csv.n_rows;
    lm_csv_free(&csv);
}

static void check_opt_table(const char *dir, const char *tag)
{
    char rel[256];
    snprintf(rel, sizeof rel, "upstream-kim23/%s/time_%s.csv", dir, tag);
    lm_k23_segment *segs;
    size_t n;
    load_segments(rel, &segs, &n);
    lm_k23_cover *covers = NULL;
    ck_assert_lm_ok(lm_k23_opt_time(&covers, segs, n));

    snprintf(rel, sizeof rel, "upstream-kim23/%s/opt_time_%s.csv", dir, tag);
    lm_csv want;
    ck_assert_lm_ok(lm_csv_load(&want, lm_test_data_path(rel)));
    ck_assert_uint_eq(want.n_rows, n);
    size_t c_time, c_sd, c_brk;
    ck_assert_lm_ok(lm_csv_column(&want, "time", &c_time));
    ck_assert_lm_ok(lm_csv_column(&want, "stdev", &c_sd));
    ck_assert_lm_ok(lm_csv_column(&want, "breaks", &c_brk));
    size_t split = 0;
    for (size_t r = 0; r < n; r++) {
        double t, sd;
        ck_assert_lm_ok(lm_csv_double(&want, r, c_time, &t));
        ck_assert_lm_ok(lm_csv_double(&want, r, c_sd, &sd));
        ck_assert_msg(fabs(covers[r].time - t) <= 1e-9, "%s row %zu: %.17g vs %.17g",
                      dir, r, covers[r].time, t);
        ck_assert_msg(fabs(covers[r].stdev - sd) <= 1e-9, "%s row %zu stdev", dir, r);
        char got[512] = "";
        for (size_t b = 0; b < covers[r].n_breaks; b++) {
            size_t len = strlen(got);
            snprintf(got + len, sizeof got - len, "%s%u", b ? "," : "",
                     covers[r].breaks[b]);
        }
        ck_assert_msg(strcmp(got, want.cells[r][c_brk]) == 0,
                      "%s row %zu: breaks %s, want %s", dir, r, got,
                      want.cells[r][c_brk]);
        split += covers[r].n_breaks > 2;
    }
    /* The tables are only a real test if many segments do split. */
    ck_assert_uint_gt(split, n / 10);
    lm_csv_free(&want);
    lm_k23_covers_free(covers, n);
    free(segs);
}

START_TEST(stage1_reproduces_upstream_opt_time_tables)
{
    check_opt_table("mbv2_1.0", "fish_gpu1_1228");
    check_opt_table("mbv2_1.4", "fish_gpu1_0103");
    check_opt_table("vgg19_no_trt", "fish_gpu1_0317");
}
END_TEST

START_TEST(stage1_rejects_bad_rows)
{
    lm_k23_segment segs[3] = {{0, 1, 1.0, 0.0}, {1, 2, NAN, 0.0}, {0, 2, 1.0, 0.0}};
    lm_k23_cover *c = NULL;
    ck_assert_lm_status(lm_k23_opt_time(&c, segs, 3), LM_ERR_VALUE);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "time row 1 (segment (1, 2))"));
    segs[1] = (lm_k23_segment){0, 1, 2.0, 0.0};
    ck_assert_lm_status(lm_k23_opt_time(&c, segs, 3), LM_ERR_DUPLICATE);
    segs[1] = (lm_k23_segment){2, 2, 2.0, 0.0};
    ck_assert_lm_status(lm_k23_opt_time(&c, segs, 3), LM_ERR_INVALID_ARG);
    ck_assert_ptr_null(c);
}
END_TEST

/* ---- random segment sets ---- */

typedef struct rseg {
    uint32_t st, end;
} rseg;

/* All single-position segments plus random longer ones, by st then end. */
static size_t random_segments(rseg *out, size_t n_pos, double p_long)
{
    size_t n = 0;
    for (uint32_t st = 0; st < n_pos; st++)
        for (uint32_t end = st + 1; end <= n_pos; end++)
            if (end == st + 1 || rng_unit() < p_long)
                out[n++] = (rseg){st, end};
    return n;
}

/* ---- LayerMerge DP against brute force ---- */

typedef struct bf_sol {
    int64_t units;
    double imp;
} bf_sol;

typedef struct bf_dp {
    const lm_dp_problem *prob;
    const int64_t *g;
    int64_t budget;
    bf_sol *all;
    size_t n_all, cap;
} bf_dp;

static void bf_dp_walk(bf_dp *bf, uint32_t pos, int64_t units, double imp)
{
    if (pos == bf->prob->n_positions) {
        if (units > bf->budget)
            return;
        if (bf->n_all == bf->cap) {
            bf->cap = bf->cap ? 2 * bf->cap : 256;
            bf->all = realloc(bf->all, bf->cap * sizeof *bf->all);
        }
        bf->all[bf->n_all++] = (bf_sol){units, imp};
        return;
    }
    for (size_t i = 0; i < bf->prob->n_items; i++) {
        const lm_dp_item *it = &bf->prob->items[i];
        if (it->st == pos)
            bf_dp_walk(bf, it->end, units + bf->g[i], imp + it->importance);
    }
}

static int sol_cmp(const void *a, const void *b)
{
    const bf_sol *x = a, *y = b;
    if (x->units != y->units)
        return x->units < y->units ? -1 : 1;
    double kx = lm_key7(x->imp), ky = lm_key7(y->imp);
    return kx > ky ? -1 : kx < ky ? 1 : 0;
}

/* Non-dominated points of bf->all, by increasing units. */
static size_t bf_front(bf_sol *all, size_t n, bf_sol *front)
{
    qsort(all, n, sizeof *all, sol_cmp);
    size_t k = 0;
    double best = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (lm_key7(all[i].imp) > best) {
            best = lm_key7(all[i].imp);
            front[k++] = all[i];
        }
    return k;
}

/* A DP solution is a chain 0 -> N of the problem's items with the sums. */
static void check_dp_solution(const lm_dp *dp, const lm_dp_problem *prob,
                              const lm_dp_solution *s)
{
    uint32_t pos = 0;
    int64_t units = 0;
    double imp = 0.0, lat = 0.0;
    for (size_t k = 0; k < s->n_items; k++) {
        const lm_dp_item *it = &prob->items[s->items[k]];
        ck_assert_uint_eq(it->st, pos);
        pos = it->end;
        units += lm_dp_item_units(dp, s->items[k]);
        imp += it->importance;
        lat += it->latency;
    }
    ck_assert_uint_eq(pos, prob->n_positions);
    ck_assert_int_eq(units, s->units);
    ck_assert_double_eq(imp, s->importance);
    ck_assert_double_eq(lat, s->latency);
    ck_assert_int_le(s->units, lm_dp_budget_units(dp));
    if (prob->rounding == LM_ROUND_CEIL)
        ck_assert_msg(s->latency <= prob->budget * (1 + 1e-9) + 1e-12,
                      "real latency %.17g over budget %.17g", s->latency,
                      prob->budget);
}

static void random_dp_problem(lm_dp_problem *prob, lm_dp_item *items,
                              lm_round_mode mode)
{
    size_t n_pos = 1 + (size_t)rng_int(9);
    rseg segs[64];
    size_t n_seg = random_segments(segs, n_pos, 0.3);
    int dyadic = rng_int(2);
    size_t n = 0;
    double lo = 0, hi = 0;
    for (size_t s = 0; s < n_seg; s++) {
        int k = 1 + rng_int(2);
        for (int j = 0; j < k; j++, n++)
            items[n] = (lm_dp_item){segs[s].st, segs[s].end,
                                    rnd_value(dyadic, 3.0),
                                    rnd_value(dyadic, 2.0), (int64_t)n};
    }
    for (size_t i = 0; i < n; i++)
        hi += items[i].latency;
    static const double precisions[] = {1.0, 2.0, 10.0, 4.0};
    *prob = (lm_dp_problem){n_pos, items, n, precisions[rng_int(4)],
                            lo + rng_unit() * hi * 0.6, mode};
}

static void dp_against_brute_force(lm_round_mode mode)
{
    size_t solved = 0, infeasible = 0, multi_front = 0;
    for (int trial = 0; trial < 300; trial++) {
        lm_dp_item items[160];
        lm_dp_problem prob;
        random_dp_problem(&prob, items, mode);
        int64_t g[160];
        for (size_t i = 0; i < prob.n_items; i++)
            g[i] = lm_disc_units(items[i].latency, prob.precision, mode);
        bf_dp bf = {&prob, g, lm_disc_budget(prob.budget, prob.precision, mode),
                    NULL, 0, 0};
        bf_dp_walk(&bf, 0, 0, 0.0);
        lm_dp *dp = NULL;
        lm_status st = lm_dp_solve(&dp, &prob);
        if (bf.n_all == 0) {
            ck_assert_lm_status(st, LM_ERR_INFEASIBLE);
            ck_assert_ptr_nonnull(strstr(lm_last_error(), "smallest feasible budget"));
            infeasible++;
            free(bf.all);
            continue;
        }
        ck_assert_lm_ok(st);
        bf_sol best = bf.all[0];
        for (size_t i = 1; i < bf.n_all; i++)
            if (better(bf.all[i].imp, bf.all[i].units, best.imp, best.units))
                best = bf.all[i];
        lm_dp_solution s;
        ck_assert_lm_ok(lm_dp_best(dp, &s));
        ck_assert_msg(fabs(s.importance - best.imp) <= 1e-9,
                      "trial %d: DP %.17g, brute force %.17g", trial,
                      s.importance, best.imp);
        ck_assert_int_eq(s.units, best.units);
        check_dp_solution(dp, &prob, &s);
        lm_dp_solution_clear(&s);

        bf_sol *want = malloc(bf.n_all * sizeof *want);
        size_t n_want = bf_front(bf.all, bf.n_all, want);
        lm_dp_solution *front = NULL;
        size_t n_front = 0;
        ck_assert_lm_ok(lm_dp_front(dp, &front, &n_front));
        ck_assert_uint_eq(n_front, n_want);
        for (size_t i = 0; i < n_front; i++) {
            ck_assert_int_eq(front[i].units, want[i].units);
            ck_assert(fabs(front[i].importance - want[i].imp) <= 1e-9);
            check_dp_solution(dp, &prob, &front[i]);
        }
        multi_front += n_front > 2;
        lm_dp_front_free(front, n_front);
        free(want);
        free(bf.all);
        lm_dp_destroy(dp);
        solved++;
    }
    /* Both outcomes and non-trivial fronts must actually occur. */
    ck_assert_uint_gt(solved, 150);
    ck_assert_uint_gt(infeasible, 5);
    ck_assert_uint_gt(multi_front, 50);
}

START_TEST(dp_matches_brute_force_ceil)
{
    rng_state = 0x9e3779b97f4a7c15ull;
    dp_against_brute_force(LM_ROUND_CEIL);
}
END_TEST

START_TEST(dp_matches_brute_force_floor)
{
    rng_state = 0x243f6a8885a308d3ull;
    dp_against_brute_force(LM_ROUND_FLOOR);
}
END_TEST

/* ---- bad input, rounding, infeasibility ---- */

static lm_status solve_items(const lm_dp_item *items, size_t n, size_t n_pos,
                             double precision, double budget,
                             lm_round_mode mode, lm_dp_solution *out)
{
    lm_dp_problem prob = {n_pos, items, n, precision, budget, mode};
    lm_dp *dp = NULL;
    lm_status st = lm_dp_solve(&dp, &prob);
    if (st == LM_OK) {
        st = lm_dp_best(dp, out);
        lm_dp_destroy(dp);
    }
    return st;
}

START_TEST(dp_rejects_bad_numbers_naming_the_item)
{
    lm_dp_item items[2] = {{0, 1, 1.0, 1.0, 7}, {1, 2, 1.0, 1.0, 42}};
    lm_dp_solution s;
    const double bad_lat[] = {NAN, -0.5, INFINITY};
    for (int k = 0; k < 3; k++) {
        items[1].latency = bad_lat[k];
        ck_assert_lm_status(solve_items(items, 2, 2, 10, 5, LM_ROUND_CEIL, &s),
                            LM_ERR_VALUE);
        ck_assert_ptr_nonnull(strstr(lm_last_error(),
                                     "item 1 (id 42, segment (1, 2)): latency"));
    }
    items[1].latency = 1.0;
    items[1].importance = NAN;
    ck_assert_lm_status(solve_items(items, 2, 2, 10, 5, LM_ROUND_CEIL, &s),
                        LM_ERR_VALUE);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "id 42"));
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "importance"));
    items[1].importance = 1.0;
    ck_assert_lm_status(solve_items(items, 2, 2, 0.0, 5, LM_ROUND_CEIL, &s),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(solve_items(items, 2, 2, 10, NAN, LM_ROUND_CEIL, &s),
                        LM_ERR_VALUE);
    items[1].end = 3;
    ck_assert_lm_status(solve_items(items, 2, 2, 10, 5, LM_ROUND_CEIL, &s),
                        LM_ERR_INVALID_ARG);
}
END_TEST

START_TEST(dp_infeasible_budget_states_the_minimum)
{
    lm_dp_item items[3] = {{0, 1, 1.25, 1.0, 0}, {1, 2, 2.5, 1.0, 1},
                           {0, 2, 3.0, 0.5, 2}};
    lm_dp_solution s;
    ck_assert_lm_status(solve_items(items, 3, 2, 10, 2.9, LM_ROUND_CEIL, &s),
                        LM_ERR_INFEASIBLE);
    ck_assert_ptr_nonnull(strstr(lm_last_error(),
                                 "smallest feasible budget 3 (30 units, "
                                 "latencies rounded up)"));
    ck_assert_lm_ok(solve_items(items, 3, 2, 10, 3.0, LM_ROUND_CEIL, &s));
    ck_assert_uint_eq(s.n_items, 1);
    ck_assert_uint_eq(s.items[0], 2);
    lm_dp_solution_clear(&s);
    /* 1.25 + 2.5 is 13 + 25 units rounded up: 3.75 is not enough. */
    ck_assert_lm_ok(solve_items(items, 3, 2, 10, 3.75, LM_ROUND_CEIL, &s));
    ck_assert_double_eq(s.importance, 0.5);
    lm_dp_solution_clear(&s);
    ck_assert_lm_ok(solve_items(items, 3, 2, 10, 3.8, LM_ROUND_CEIL, &s));
    ck_assert_double_eq(s.importance, 2.0);
    ck_assert_int_eq(s.units, 38);
    lm_dp_solution_clear(&s);
}
END_TEST

START_TEST(dp_uncoverable_positions_are_an_error)
{
    lm_dp_item items[2] = {{0, 1, 1.0, 1.0, 0}, {2, 3, 1.0, 1.0, 1}};
    lm_dp_solution s;
    ck_assert_lm_status(solve_items(items, 2, 3, 10, 100, LM_ROUND_CEIL, &s),
                        LM_ERR_INFEASIBLE);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "covers positions 0..3"));
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "reachable from 0 is 1"));
    ck_assert_lm_status(solve_items(items, 0, 3, 10, 100, LM_ROUND_CEIL, &s),
                        LM_ERR_INFEASIBLE);
}
END_TEST

START_TEST(ceil_guarantees_the_budget_floor_does_not)
{
    /* 0.19 ms at P = 10 is 1 unit floored, 2 rounded up. */
    lm_dp_item items[1] = {{0, 1, 0.19, 1.0, 0}};
    lm_dp_solution s;
    ck_assert_lm_ok(solve_items(items, 1, 1, 10, 0.1, LM_ROUND_FLOOR, &s));
    ck_assert_double_gt(s.latency, 0.1);
    lm_dp_solution_clear(&s);
    ck_assert_lm_status(solve_items(items, 1, 1, 10, 0.1, LM_ROUND_CEIL, &s),
                        LM_ERR_INFEASIBLE);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "smallest feasible budget 0.2 (2 units"));
    /* Decimal noise does not cost a unit: 0.3 * 10 is 3 units, not 4. */
    ck_assert_int_eq(lm_disc_units(0.3, 10, LM_ROUND_CEIL), 3);
    ck_assert_int_eq(lm_disc_units(0.7, 10, LM_ROUND_CEIL), 7);
    ck_assert_int_eq(lm_disc_budget(4.35, 100, LM_ROUND_CEIL), 435);
    ck_assert_int_eq(lm_disc_units(0.31, 10, LM_ROUND_CEIL), 4);
    ck_assert_int_eq(lm_disc_units(0.39, 10, LM_ROUND_FLOOR), 3);
    items[0].latency = 0.3;
    ck_assert_lm_ok(solve_items(items, 1, 1, 10, 0.3, LM_ROUND_CEIL, &s));
    ck_assert_int_eq(s.units, 3);
    lm_dp_solution_clear(&s);
}
END_TEST

START_TEST(ties_prefer_fewer_units_then_item_order)
{
    /* Equal importance after rounding to 7 decimals: the faster wins. */
    lm_dp_item items[3] = {{0, 1, 2.0, 1.00000001, 0}, {0, 1, 1.0, 1.0, 1},
                           {0, 1, 1.0, 1.0, 2}};
    lm_dp_solution s;
    ck_assert_lm_ok(solve_items(items, 3, 1, 1, 5, LM_ROUND_CEIL, &s));
    ck_assert_uint_eq(s.items[0], 1);
    lm_dp_solution_clear(&s);
    items[0].importance = 1.0000002;
    ck_assert_lm_ok(solve_items(items, 3, 1, 1, 5, LM_ROUND_CEIL, &s));
    ck_assert_uint_eq(s.items[0], 0);
    lm_dp_solution_clear(&s);
}
END_TEST

/* ---- kim23 extended importance ---- */

START_TEST(ext_importance_follows_file_order)
{
    /* Position 1 identity, 2 nonlinear. Defaults: every (0, 1) row and
     * (1, 2, 0, 1): mean (5 + 1 + 3) / 3 = 3. */
    uint8_t nonlinear[3] = {0, 0, 1};
    lm_k23_row rows[4] = {{0, 1, 1, 0, 5.0}, {0, 1, 1, 1, 1.0},
                          {1, 2, 0, 1, 3.0}, {0, 2, 1, 1, 2.0}};
    double ext[4], mean;
    ck_assert_lm_ok(lm_k23_ext_importance(ext, &mean, rows, 4, 2, nonlinear));
    ck_assert_double_eq(mean, 3.0);
    ck_assert_double_eq(ext[0], 2.0);
    ck_assert_double_eq(ext[1], -2.0);
    ck_assert_double_eq(ext[2], 0.0);
    /* Through the identity position: I_ext(0,1,1,0) + h(1,2,0,1) = 2. */
    ck_assert_double_eq(ext[3], 2.0);
    /* Listed before its head, the long row only has its own score. */
    lm_k23_row late[4] = {rows[3], rows[0], rows[1], rows[2]};
    ck_assert_lm_ok(lm_k23_ext_importance(ext, &mean, late, 4, 2, nonlinear));
    ck_assert_double_eq(ext[0], -1.0);
    /* A missing default row and a bad flag are errors. */
    ck_assert_lm_status(lm_k23_ext_importance(ext, &mean, rows, 2, 2, nonlinear),
                        LM_ERR_MISSING);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "segment (1, 2)"));
    rows[2].end_act = 2;
    ck_assert_lm_status(lm_k23_ext_importance(ext, &mean, rows, 4, 2, nonlinear),
                        LM_ERR_INVALID_ARG);
    rows[2].end_act = 1;
    rows[2].score = NAN;
    ck_assert_lm_status(lm_k23_ext_importance(ext, &mean, rows, 4, 2, nonlinear),
                        LM_ERR_VALUE);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "importance row 2"));
}
END_TEST

/* Rows for every segment by the measurement rules of docs/method.md section 7.
 */
static size_t rule_rows(lm_k23_row *rows, const rseg *segs, size_t n_seg,
                        const uint8_t *nl)
{
    size_t n = 0;
    for (size_t s = 0; s < n_seg; s++) {
        uint32_t st = segs[s].st, end = segs[s].end;
        uint8_t combos[2][2] = {{1, 1}, {1, 1}};
        int k = 1;
        if (st != 0 && !nl[st]) {
            combos[1][0] = 0;
            k = 2;
        } else if (st != 0 && !nl[end]) {
            combos[1][1] = 0;
            k = 2;
        }
        for (int c = 0; c < k; c++)
            rows[n++] = (lm_k23_row){st, end, combos[c][0], combos[c][1],
                                     rng_unit() * 4.0};
    }
    return n;
}

static int find_row(const lm_k23_row *rows, size_t n, uint32_t st, uint32_t end,
                    int a, int b)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].st == st && rows[i].end == end && rows[i].st_act == a &&
            rows[i].end_act == b)
            return (int)i;
    return -1;
}

/* Best chain st -> end: first piece flags (a, 0 or b), inner (0, 0), last
 * (0, b); the closed form of I_ext when rows come by st then end. */
static double chain_best(const lm_k23_row *rows, size_t n, double mean,
                         uint32_t st, uint32_t end, int a, int b)
{
    double best = -INFINITY;
    int r = find_row(rows, n, st, end, a, b);
    if (r >= 0)
        best = rows[r].score - mean;
    for (uint32_t j = st + 1; j < end; j++) {
        int h = find_row(rows, n, st, j, a, 0);
        if (h < 0)
            continue;
        double tail = chain_best(rows, n, mean, j, end, 0, b);
        if (rows[h].score - mean + tail > best)
            best = rows[h].score - mean + tail;
    }
    return best;
}

START_TEST(ext_importance_matches_chain_brute_force)
{
    rng_state = 0x0123456789abcdefull;
    for (int trial = 0; trial < 200; trial++) {
        size_t n_pos = 1 + (size_t)rng_int(8);
        uint8_t nl[16] = {0};
        /* Identity positions never follow each other (as in MobileNetV2),
         * which the measurement rules assume. */
        for (size_t p = 1; p <= n_pos; p++)
            nl[p] = (uint8_t)(rng_int(3) != 0 || (p > 1 && !nl[p - 1]));
        rseg segs[64];
        size_t n_seg = random_segments(segs, n_pos, 0.5);
        lm_k23_row rows[128];
        size_t n = rule_rows(rows, segs, n_seg, nl);
        double ext[128], mean;
        ck_assert_lm_ok(lm_k23_ext_importance(ext, &mean, rows, n, n_pos, nl));
        for (size_t i = 0; i < n; i++) {
            double want = chain_best(rows, n, mean, rows[i].st, rows[i].end,
                                     rows[i].st_act, rows[i].end_act);
            ck_assert_msg(fabs(ext[i] - want) <= 1e-9, "trial %d row %zu", trial, i);
        }
    }
}
END_TEST

/* ---- kim23 stage 2 against brute force ---- */

typedef struct bf_k23 {
    const lm_k23_row *rows;
    size_t n_rows;
    const int64_t *g; /* per row: units of its segment's cover */
    size_t n_pos;
    int64_t budget;
    bf_sol *all;
    size_t n_all, cap;
} bf_k23;

static void bf_k23_walk(bf_k23 *bf, uint32_t pos, int a, int64_t units,
                        double imp)
{
    if (pos == bf->n_pos) {
        if (units > bf->budget)
            return;
        if (bf->n_all == bf->cap) {
            bf->cap = bf->cap ? 2 * bf->cap : 256;
            bf->all = realloc(bf->all, bf->cap * sizeof *bf->all);
        }
        bf->all[bf->n_all++] = (bf_sol){units, imp};
        return;
    }
    for (size_t i = 0; i < bf->n_rows; i++) {
        const lm_k23_row *r = &bf->rows[i];
        if (r->st == pos && r->st_act == a)
            bf_k23_walk(bf, r->end, r->end_act, units + bf->g[i],
                        imp + r->score);
    }
}

static void check_k23_solution(const lm_k23_solution *s, const lm_k23_row *rows,
                               const lm_k23_cover *covers, const int *seg_of,
                               size_t n_pos)
{
    uint32_t pos = 0;
    int a = 1;
    double imp = 0.0;
    uint8_t merge[16] = {0};
    for (size_t k = 0; k < s->n_rows; k++) {
        const lm_k23_row *r = &rows[s->rows[k]];
        ck_assert_uint_eq(r->st, pos);
        ck_assert_int_eq(r->st_act, a);
        ck_assert_int_eq(s->act[r->end], r->end_act);
        const lm_k23_cover *c = &covers[seg_of[s->rows[k]]];
        for (size_t b = 0; b < c->n_breaks; b++)
            if (c->breaks[b])
                merge[c->breaks[b]] = 1;
        pos = r->end;
        a = r->end_act;
        imp += r->score;
    }
    ck_assert_uint_eq(pos, n_pos);
    ck_assert_double_eq(imp, s->importance);
    ck_assert_int_eq(memcmp(merge, s->merge, n_pos + 1), 0);
}

START_TEST(kim23_stage2_matches_brute_force)
{
    rng_state = 0xfeedfacecafebeefull;
    size_t solved = 0;
    for (int trial = 0; trial < 300; trial++) {
        size_t n_pos = 1 + (size_t)rng_int(8);
        rseg rs[64];
        size_t n_seg = random_segments(rs, n_pos, 0.4);
        lm_k23_segment segs[64];
        int dyadic = rng_int(2);
        for (size_t s = 0; s < n_seg; s++)
            segs[s] = (lm_k23_segment){rs[s].st, rs[s].end,
                                       rnd_value(dyadic, 3.0), 0.0};
        lm_k23_cover *covers = NULL;
        ck_assert_lm_ok(lm_k23_opt_time(&covers, segs, n_seg));
        /* Random flag combinations; (1, 1) always, so 0..N is covered. */
        lm_k23_row rows[256];
        int seg_of[256];
        size_t n = 0;
        for (size_t s = 0; s < n_seg; s++)
            for (int c = 3; c >= 0; c--)
                if (c == 3 || rng_int(2)) {
                    seg_of[n] = (int)s;
                    rows[n++] = (lm_k23_row){rs[s].st, rs[s].end,
                                             (uint8_t)(c >> 1), (uint8_t)(c & 1),
                                             rnd_value(dyadic, 2.0) - 0.5};
                }
        lm_round_mode mode = rng_int(2) ? LM_ROUND_CEIL : LM_ROUND_FLOOR;
        double precision = rng_int(2) ? 10.0 : 2.0;
        double total = 0;
        for (size_t s = 0; s < n_seg; s++)
            total += segs[s].time;
        lm_k23_problem prob = {n_pos, segs, covers, n_seg, rows, n, precision,
                               rng_unit() * total * 0.5, mode};
        int64_t g[256];
        for (size_t i = 0; i < n; i++)
            g[i] = lm_disc_units(covers[seg_of[i]].time, precision, mode);
        bf_k23 bf = {rows, n, g, n_pos,
                     lm_disc_budget(prob.budget, precision, mode), NULL, 0, 0};
        bf_k23_walk(&bf, 0, 1, 0, 0.0);
        lm_k23 *k = NULL;
        lm_status st = lm_k23_run(&k, &prob);
        if (bf.n_all == 0) {
            ck_assert_lm_status(st, LM_ERR_INFEASIBLE);
        } else {
            ck_assert_lm_ok(st);
            bf_sol best = bf.all[0];
            for (size_t i = 1; i < bf.n_all; i++)
                if (better(bf.all[i].imp, bf.all[i].units, best.imp, best.units))
                    best = bf.all[i];
            lm_k23_solution s;
            ck_assert_lm_ok(lm_k23_best(k, &s));
            ck_assert_msg(fabs(s.importance - best.imp) <= 1e-9, "trial %d", trial);
            ck_assert_int_eq(s.units, best.units);
            check_k23_solution(&s, rows, covers, seg_of, n_pos);
            lm_k23_solution_clear(&s);
            bf_sol *want = malloc(bf.n_all * sizeof *want);
            size_t n_want = bf_front(bf.all, bf.n_all, want);
            lm_k23_solution *front = NULL;
            size_t n_front = 0;
            ck_assert_lm_ok(lm_k23_front(k, &front, &n_front));
            ck_assert_uint_eq(n_front, n_want);
            for (size_t i = 0; i < n_front; i++) {
                ck_assert_int_eq(front[i].units, want[i].units);
                ck_assert(fabs(front[i].importance - want[i].imp) <= 1e-9);
            }
            lm_k23_front_free(front, n_front);
            free(want);
            solved++;
        }
        lm_k23_destroy(k);
        free(bf.all);
        lm_k23_covers_free(covers, n_seg);
    }
    ck_assert_uint_gt(solved, 150);
}
END_TEST

/* ---- knapsack against brute force ---- */

START_TEST(knapsack_matches_brute_force)
{
    rng_state = 0x5851f42d4c957f2dull;
    size_t solved = 0;
    for (int trial = 0; trial < 300; trial++) {
        size_t n = 1 + (size_t)rng_int(12);
        int dyadic = rng_int(2);
        lm_ks_item items[12];
        double total = 0;
        for (size_t i = 0; i < n; i++) {
            items[i] = (lm_ks_item){rnd_value(dyadic, 3.0), rnd_value(dyadic, 2.0),
                                    rng_int(4) == 0, (int64_t)i};
            total += items[i].latency;
        }
        lm_round_mode mode = rng_int(2) ? LM_ROUND_CEIL : LM_ROUND_FLOOR;
        lm_ks_problem prob = {items, n, rng_int(2) ? 10.0 : 3.0,
                              rng_unit() * total, mode};
        int64_t B = lm_disc_budget(prob.budget, prob.precision, mode);
        int found = 0;
        bf_sol best = {0, 0};
        for (uint32_t mask = 0; mask < (1u << n); mask++) {
            int64_t u = 0;
            double imp = 0;
            int ok = 1;
            for (size_t i = 0; i < n; i++) {
                int keep = (mask >> i) & 1;
                if (items[i].required && !keep)
                    ok = 0;
                if (!keep)
                    continue;
                u += lm_disc_units(items[i].latency, prob.precision, mode);
                if (!items[i].required)
                    imp += items[i].importance;
            }
            if (!ok || u > B)
                continue;
            if (!found || better(imp, u, best.imp, best.units))
                best = (bf_sol){u, imp};
            found = 1;
        }
        lm_ks_solution s;
        lm_status st = lm_ks_solve(&s, &prob);
        if (!found) {
            ck_assert_lm_status(st, LM_ERR_INFEASIBLE);
            ck_assert_ptr_nonnull(strstr(lm_last_error(), "smallest feasible budget"));
            continue;
        }
        ck_assert_lm_ok(st);
        ck_assert_msg(fabs(s.importance - best.imp) <= 1e-9, "trial %d", trial);
        ck_assert_int_eq(s.units, best.units);
        int64_t u = 0;
        double lat = 0;
        for (size_t k = 0; k < s.n_kept; k++) {
            u += lm_disc_units(items[s.kept[k]].latency, prob.precision, mode);
            lat += items[s.kept[k]].latency;
        }
        for (size_t i = 0; i < n; i++)
            if (items[i].required) {
                int kept = 0;
                for (size_t k = 0; k < s.n_kept; k++)
                    kept |= s.kept[k] == i;
                ck_assert(kept);
            }
        ck_assert_int_eq(u, s.units);
        if (mode == LM_ROUND_CEIL)
            ck_assert(lat <= prob.budget * (1 + 1e-9) + 1e-12);
        lm_ks_solution_clear(&s);
        solved++;
    }
    ck_assert_uint_gt(solved, 150);
}
END_TEST

START_TEST(knapsack_rejects_bad_items)
{
    lm_ks_item items[2] = {{1.0, 1.0, 1, 5}, {1.0, NAN, 0, 9}};
    lm_ks_problem prob = {items, 2, 10, 5, LM_ROUND_CEIL};
    lm_ks_solution s;
    ck_assert_lm_status(lm_ks_solve(&s, &prob), LM_ERR_VALUE);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "item 1 (id 9)"));
    items[1].importance = 1.0;
    prob.budget = 0.5;
    ck_assert_lm_status(lm_ks_solve(&s, &prob), LM_ERR_INFEASIBLE);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "smallest feasible budget 1 "));
}
END_TEST

static Suite *solve_suite(void)
{
    Suite *s = suite_create("solve");
    TCase *tc = tcase_create("solve");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, stage1_reproduces_upstream_opt_time_tables);
    tcase_add_test(tc, stage1_rejects_bad_rows);
    tcase_add_test(tc, dp_matches_brute_force_ceil);
    tcase_add_test(tc, dp_matches_brute_force_floor);
    tcase_add_test(tc, dp_rejects_bad_numbers_naming_the_item);
    tcase_add_test(tc, dp_infeasible_budget_states_the_minimum);
    tcase_add_test(tc, dp_uncoverable_positions_are_an_error);
    tcase_add_test(tc, ceil_guarantees_the_budget_floor_does_not);
    tcase_add_test(tc, ties_prefer_fewer_units_then_item_order);
    tcase_add_test(tc, ext_importance_follows_file_order);
    tcase_add_test(tc, ext_importance_matches_chain_brute_force);
    tcase_add_test(tc, kim23_stage2_matches_brute_force);
    tcase_add_test(tc, knapsack_matches_brute_force);
    tcase_add_test(tc, knapsack_rejects_bad_items);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return lm_test_run(solve_suite());
}
