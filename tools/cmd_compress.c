/* `layermerge compress`: the whole method end to end on one network —
 * entries, latency table, importance table, solve, merge, verify, and the
 * measured speed-up of the merged network, for one or more budgets. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>

#include "commands.h"
#include "layermerge/layermerge.h"
#include "json.h"
#include "progress.h"
#include "timer_cmd.h"
#include "report.h"

#define MAX_RATIOS 16

/* Rounds of interleaved timing are kept per network in fixed arrays. */
#define LM_MAX_ROUNDS 64

static void compress_usage(FILE *out)
{
    fprintf(out,
"usage: layermerge compress GRAPH.yaml [WEIGHTS.safetensors] -o OUT [options]\n\n"
"Run LayerMerge end to end: enumerate the entries, measure (or load) the\n"
"latency table, score (or load) the importance table, solve for each\n"
"budget, merge, verify the merge, and time the original and merged\n"
"networks in the library's engine (or with --timer-cmd in any runtime).\n\n"
"options:\n"
"  -o, --output OUT     prefix of every file written (see below)\n"
"  --ratio R[,R...]     budgets as fractions of the original latency\n"
"                       (default 0.7,0.6,0.5)\n"
"  --latency T.yaml     use this latency table instead of measuring one\n"
"  --importance I.yaml  use this importance table instead of the proxy\n"
"  --size S             input resolution for measuring and timing\n"
"                       (default: the graph's own)\n"
"  --batch N            batch of latency tables and timing, 1..65536\n"
"                       (default 1)\n"
"  --threads T          OpenBLAS threads for measuring and timing (default 1)\n"
"  --passes P           passes of the latency measurement (default 3)\n"
"  --rounds R           rounds of interleaved network timing, 1..64\n"
"                       (default 5)\n"
"  --reps N             timed repetitions per entry and network (default 10)\n"
"  --warmup N           untimed runs before each timing (default 2)\n"
"  --remeasure N        after a solve, time the chosen entries again and,\n"
"                       if they break the budget, re-solve; at most N times\n"
"                       (default 2; 0 turns it off)\n"
"  --calibrate MODE     on: solve on the latency table scaled to in-network\n"
"                       cost, stage by stage; off: on the table as timed;\n"
"                       auto (default): on when the table has a calibration\n"
"                       (docs/measure.md)\n"
"  --precision P        DP units per millisecond; 0 (the default): so many\n"
"                       that the original network is 10000 units\n"
"  --proxy-batch N      calibration batch of the proxy importance,\n"
"                       1..65536 (default 2)\n"
"  --seed N             seed of the random weights and inputs (default 0)\n"
"  --timer-cmd CMD      time entries and networks with another runtime:\n"
"                       each is written as an ONNX model and CMD run\n"
"                       through sh with {onnx} replaced by its path\n"
"                       ({batch}, {threads} by the numbers); its last\n"
"                       stdout line is the median ms (docs/measure.md)\n"
"  --report DIR         also write DIR/index.html: one self-contained page\n"
"                       with the budget table, predicted against measured\n"
"                       latency, the Pareto front and a picture of each\n"
"                       budget's network (docs/report.md)\n"
"  --json               print one JSON document on standard output instead\n"
"                       of the key=value lines: every figure of the summary\n"
"                       at full precision, per budget with its files (the\n"
"                       summary and progress then go to standard error)\n"
"  -h, --help           show this help\n\n");
    /* Two strings: C99 compilers need not take one above 4095 bytes. */
    fprintf(out,
"Without WEIGHTS the network gets seeded random weights (and says so).\n"
"Without --importance the importance table is the data-free proxy\n"
"(exp(-relative squared output error) of each entry applied alone, no\n"
"fine-tuning): a stand-in for the paper's fine-tuned accuracy.\n\n"
"Files: OUT.latency.yaml and OUT.importance.yaml (measured tables; a\n"
"re-run resumes them), and per budget R: OUT-rR.result.yaml (the\n"
"solution), OUT-rR.yaml and OUT-rR.safetensors (the merged network).\n\n"
"The original and merged networks are timed interleaved: R rounds, each\n"
"timing every network in an order rotated by one per round.\n\n"
"The last lines, one per budget, read\n"
"  budget_ratio=R predicted_ms=P original_ms=O merged_ms=M merged_ms_min=A\n"
"  merged_ms_max=B speedup=S max_rel_error=E threads=T\n"
"where P is the whole-network prediction (the table's fixed cost plus the\n"
"chosen entries, re-measured), O and M the medians over the rounds, A and\n"
"B the merged network's fastest and slowest round, S = O / M. These lines\n"
"keep fixed decimals (0.1 us for times; R with 2, as in the file names);\n"
"--json has the same figures at full precision.\n"
"Exit status: 0 success, 1 failure, 2 bad usage.\n");
}

typedef struct compress_args {
    const char *graph, *weights, *out, *latency, *importance, *timer_cmd;
    const char *report; /* --report DIR */
    double ratios[MAX_RATIOS];
    size_t n_ratios;
    size_t size, batch, reps, warmup, proxy_batch, threads, passes, rounds;
    size_t remeasure;
    int calibrate, json;
    double precision;
    uint64_t seed;
} compress_args;

/* "R[,R...]", each in (0, 1]; a bad one is named. */
static int parse_ratios(const char *s, compress_args *a)
{
    a->n_ratios = 0;
    char buf[64];
    while (*s) {
        size_t len = strcspn(s, ",");
        snprintf(buf, sizeof buf, "%.*s", (int)(len < 63 ? len : 63), s);
        if (a->n_ratios == MAX_RATIOS)
            return lm_tool_usage_error("compress", "--ratio takes at most 16 "
                                       "budgets");
        double r = 0.0;
        if (len >= sizeof buf ||
            lm_tool_real("compress", "--ratio", buf, 1, 0.0, 1.0, &r))
            return len >= sizeof buf
                       ? lm_tool_number_error("compress", "--ratio", buf,
                                              "a number in (0, 1]")
                       : 2;
        /* Each budget's files are named by R at 2 decimals. */
        for (size_t i = 0; i < a->n_ratios; i++) {
            char x[32], y[32];
            snprintf(x, sizeof x, "%.2f", a->ratios[i]);
            snprintf(y, sizeof y, "%.2f", r);
            if (!strcmp(x, y)) {
                char msg[200];
                snprintf(msg, sizeof msg, "--ratio: '%s' and %g are the "
                         "same budget to 2 decimals (files -r%s)", buf,
                         a->ratios[i], x);
                return lm_tool_usage_error("compress", msg);
            }
        }
        a->ratios[a->n_ratios++] = r;
        s += len;
        if (*s == ',' && !*++s)
            return lm_tool_usage_error("compress", "--ratio ends with a "
                                       "comma");
    }
    return a->n_ratios > 0 ? 0
                           : lm_tool_usage_error("compress", "--ratio needs "
                                                 "at least one number");
}

static int compress_value(const char *opt, const char *val, void *args)
{
    compress_args *a = args;
    size_t n = 0;
    if (!strcmp(opt, "-o") || !strcmp(opt, "--output")) {
        a->out = val;
    } else if (!strcmp(opt, "--latency")) {
        a->latency = val;
    } else if (!strcmp(opt, "--importance")) {
        a->importance = val;
    } else if (!strcmp(opt, "--timer-cmd")) {
        a->timer_cmd = val;
    } else if (!strcmp(opt, "--report")) {
        a->report = val;
    } else if (!strcmp(opt, "--ratio")) {
        return parse_ratios(val, a);
    } else if (!strcmp(opt, "--calibrate")) {
        a->calibrate = lm_tool_calibrate_mode(val);
        if (a->calibrate < -1)
            return lm_tool_number_error("compress", opt, val,
                                        "on, off or auto");
    } else if (!strcmp(opt, "--precision")) {
        return lm_tool_real("compress", opt, val, 0, 0.0, 1e300,
                            &a->precision);
    } else {
        /* The counts that must be at least 1 say so at once. */
        int pos = strcmp(opt, "--size") && strcmp(opt, "--warmup") &&
                  strcmp(opt, "--remeasure") && strcmp(opt, "--seed");
        if (lm_tool_whole("compress", opt, val, pos ? 1 : 0, SIZE_MAX, &n))
            return 2;
        if (!strcmp(opt, "--size")) a->size = n;
        else if (!strcmp(opt, "--batch")) a->batch = n;
        else if (!strcmp(opt, "--reps")) a->reps = n;
        else if (!strcmp(opt, "--warmup")) a->warmup = n;
        else if (!strcmp(opt, "--proxy-batch")) a->proxy_batch = n;
        else if (!strcmp(opt, "--threads")) a->threads = n;
        else if (!strcmp(opt, "--passes")) a->passes = n;
        else if (!strcmp(opt, "--rounds")) a->rounds = n;
        else if (!strcmp(opt, "--remeasure")) a->remeasure = n;
        else a->seed = n;
    }
    return 0;
}

static int compress_flag(const char *opt, void *args)
{
    (void)opt;
    ((compress_args *)args)->json = 1;
    return 0;
}

static int compress_file(const char *word, void *args)
{
    compress_args *a = args;
    if (!a->graph)
        a->graph = word;
    else if (!a->weights)
        a->weights = word;
    else
        return lm_tool_usage_error("compress", "too many file arguments");
    return 0;
}

/* Every file the run writes against every file it reads: the tables it
 * measures (unless given), and per budget the result and merged network. */
static int check_outputs(const compress_args *a)
{
    enum { PER_RATIO = 3 };
    char paths[3 + PER_RATIO * MAX_RATIOS][4200];
    const char *outs[3 + PER_RATIO * MAX_RATIOS];
    size_t n = 0;
    /* --report creates DIR and its parents: the page is checked against
     * the inputs only once DIR exists (a missing DIR is no error). */
    struct stat rd;
    if (a->report && stat(a->report, &rd) == 0 &&
        !lm_tool_report_path(paths[n++], sizeof paths[0], a->report))
        return lm_tool_usage_error("compress", "--report: path too long");
    if (!a->latency)
        snprintf(paths[n++], sizeof paths[0], "%s.latency.yaml", a->out);
    if (!a->importance)
        snprintf(paths[n++], sizeof paths[0], "%s.importance.yaml", a->out);
    for (size_t i = 0; i < a->n_ratios; i++) {
        static const char *const ext[PER_RATIO] = {".result.yaml", ".yaml",
                                                   ".safetensors"};
        for (size_t k = 0; k < PER_RATIO; k++)
            snprintf(paths[n++], sizeof paths[0], "%s-r%.2f%s", a->out,
                     a->ratios[i], ext[k]);
    }
    for (size_t i = 0; i < n; i++)
        outs[i] = paths[i];
    const char *ins[] = {a->graph, a->weights, a->latency, a->importance};
    return lm_tool_check_outputs("compress", outs, n, ins, 4);
}

static int parse_args(int argc, char **argv, compress_args *a)
{
    static const char *const valued[] = {
        "-o", "--output", "--ratio", "--latency", "--importance", "--size",
        "--batch", "--reps", "--warmup", "--precision", "--proxy-batch",
        "--seed", "--threads", "--passes", "--rounds", "--remeasure",
        "--calibrate", "--timer-cmd", "--report", NULL};
    *a = (compress_args){.batch = 1, .reps = 10, .warmup = 2,
                         .proxy_batch = 2, .precision = 0.0, .threads = 1,
                         .passes = 3, .rounds = 5, .remeasure = 2,
                         .calibrate = -1};
    a->ratios[0] = 0.7, a->ratios[1] = 0.6, a->ratios[2] = 0.5;
    a->n_ratios = 3;
    static const char *const flags[] = {"--json", NULL};
    lm_tool_opts o = {"compress", valued, compress_value, compress_file,
                      flags, compress_flag};
    int rc = lm_tool_parse_argv(&o, argc, argv, 1, a);
    if (rc)
        return rc;
    if (!a->graph)
        return lm_tool_usage_error("compress", "no graph file given");
    if (!a->out)
        return lm_tool_usage_error("compress", "no output prefix (-o OUT)");
    if ((rc = lm_tool_refuse_stdout("compress", "-o", a->out, "OUT is the "
                                    "prefix of several files")) != 0)
        return rc;
    if (a->rounds > LM_MAX_ROUNDS)
        return lm_tool_usage_error("compress", "--rounds is at most 64");
    return check_outputs(a);
}

/* Everything one run holds; freed by state_free. */
typedef struct compress_state {
    lm_graph *graph;
    lm_weights *weights;
    lm_entries *entries;
    lm_table *latency;
    lm_table *solve_latency; /* latency, or its calibrated copy */
    lm_table *importance;
    lm_solver *solver;
    lm_measure_options *measure; /* for re-measuring chosen entries */
    double original_importance; /* sum over the original single-conv entries */
    lm_tool_timer *timer; /* --timer-cmd, or NULL: the engine times */
} compress_state;

static void state_free(compress_state *s)
{
    if (s->timer)
        lm_tool_timer_close(s->timer);
    lm_solver_destroy(s->solver);
    lm_measure_options_destroy(s->measure);
    if (s->solve_latency != s->latency)
        lm_table_destroy(s->solve_latency);
    lm_table_destroy(s->importance);
    lm_table_destroy(s->latency);
    lm_entries_destroy(s->entries);
    lm_weights_destroy(s->weights);
    lm_graph_destroy(s->graph);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static lm_status load_network(compress_state *s, const compress_args *a)
{
    lm_status st = lm_tool_graph_load(&s->graph, a->graph);
    if (st != LM_OK)
        return st;
    /* The graph keeps its own input size, so that tables, results and
     * merged files belong to it (their fingerprint includes the size);
     * --size only sets where measuring, verifying and timing run. */
    if (a->weights) {
        st = lm_weights_load(&s->weights, a->weights);
        if (st == LM_OK)
            st = lm_weights_check_graph(s->weights, s->graph);
        return st;
    }
    printf("no weights given: using seeded random weights (seed %llu)\n",
           (unsigned long long)a->seed);
    st = lm_weights_create(&s->weights);
    return st != LM_OK ? st
                       : lm_weights_init_random(s->weights, s->graph, a->seed);
}

/* docs/method.md section 4: the subsets an importance table was
 * measured with, else (weights known) the largest summed L1 norm. */
static lm_status build_entries(compress_state *s, const compress_args *a)
{
    lm_table *given = NULL;
    lm_status st = a->importance ? lm_table_load_kind(&given, a->importance,
                                                      LM_TABLE_IMPORTANCE)
                                 : LM_OK;
    if (st == LM_OK)
        st = lm_tool_entries(&s->entries, s->graph, s->weights, given);
    lm_table_destroy(given);
    return st;
}

static lm_status timer_fixed_cost(compress_state *s, const compress_args *a,
                                  const char *path);

/* Measure (or resume) a table through the same run as `layermerge
 * latency` / `importance proxy`: resume message, bar, Ctrl-C. */
static lm_status latency_table(compress_state *s, const compress_args *a,
                               const char *path)
{
    if (a->latency) {
        lm_status st = lm_table_load_kind(&s->latency, a->latency,
                                          LM_TABLE_LATENCY);
        return st != LM_OK ? st : lm_table_check(s->latency, s->entries);
    }
    lm_status st = file_exists(path) ? lm_table_load_kind(&s->latency, path,
                                                          LM_TABLE_LATENCY)
                                     : lm_table_create_latency_for(&s->latency,
                                                                   s->entries);
    if (st != LM_OK)
        return st;
    if (s->timer && (st = lm_tool_timer_claim(s->latency, s->timer)) != LM_OK)
        return st;
    lm_tool_span span = {.out = path};
    lm_tool_run run = lm_tool_table_run("compress", s->entries, s->latency);
    lm_tool_run_begin(&run, &span);
    lm_measure_options *o = s->measure;
    double load0 = lm_tool_load_average();
    run.bar.label = "latency: ";
    st = lm_measure_options_set_progress(o, lm_tool_progress, &run.bar);
    if (st == LM_OK)
        st = lm_table_measure_latency(s->latency, s->graph, s->entries, o);
    if (st == LM_OK)
        st = lm_measure_options_set_progress(o, NULL, NULL);
    if (st == LM_OK)
        lm_tool_report_passes(s->latency, a->threads, a->passes, load0);
    if (st == LM_OK && s->timer)
        st = timer_fixed_cost(s, a, path);
    return st;
}

/* The options of every latency measurement of this run: the table's own
 * and the re-measuring of chosen entries. */
static lm_status measure_options(compress_state *s, const compress_args *a,
                                 const char *path)
{
    lm_measure_options *o = NULL;
    lm_status st = lm_measure_options_create(&o);
    if (st == LM_OK) st = lm_measure_options_set_batch(o, a->batch);
    if (st == LM_OK) st = lm_measure_options_set_warmup(o, a->warmup);
    if (st == LM_OK) st = lm_measure_options_set_repetitions(o, a->reps);
    if (st == LM_OK) st = lm_measure_options_set_threads(o, a->threads);
    if (st == LM_OK) st = lm_measure_options_set_passes(o, a->passes, 1);
    if (st == LM_OK && a->size)
        st = lm_measure_options_set_input_size(o, (int64_t)a->size,
                                               (int64_t)a->size);
    if (st == LM_OK && !a->latency)
        st = lm_measure_options_set_save_path(o, path);
    if (st == LM_OK && s->timer)
        st = lm_measure_options_set_timer(o, lm_tool_timer_entry, s->timer);
    if (st != LM_OK)
        lm_measure_options_destroy(o);
    else
        s->measure = o;
    return st;
}

static lm_status importance_table(compress_state *s, const compress_args *a,
                                  const char *path)
{
    if (a->importance) {
        lm_status st = lm_table_load_kind(&s->importance, a->importance,
                                          LM_TABLE_IMPORTANCE);
        return st != LM_OK ? st
                           : lm_table_check(s->importance, s->entries);
    }
    lm_status st = file_exists(path)
        ? lm_table_load_kind(&s->importance, path, LM_TABLE_IMPORTANCE)
        : lm_table_create_importance_for(&s->importance, s->entries,
                                         LM_METRIC_NORMALISED);
    if (st != LM_OK)
        return st;
    lm_tool_span span = {.out = path};
    lm_tool_run run = lm_tool_table_run("compress", s->entries,
                                             s->importance);
    lm_tool_run_begin(&run, &span);
    lm_proxy_options *o = NULL;
    st = lm_proxy_options_create(&o);
    if (st == LM_OK) st = lm_proxy_options_set_batch(o, a->proxy_batch);
    if (st == LM_OK) st = lm_proxy_options_set_seed(o, a->seed);
    if (st == LM_OK && a->size)
        st = lm_proxy_options_set_input_size(o, (int64_t)a->size,
                                             (int64_t)a->size);
    if (st == LM_OK) st = lm_proxy_options_set_save_path(o, path);
    run.bar.label = "importance: ";
    if (st == LM_OK)
        st = lm_proxy_options_set_progress(o, lm_tool_progress, &run.bar);
    if (st == LM_OK)
        st = lm_table_score_proxy(s->importance, s->graph, s->weights,
                                  s->entries, o);
    lm_proxy_options_destroy(o);
    return st;
}

/* The importance the original network scores in the table: the sum over
 * its single-conv entries, the baseline "importance kept" compares with. */
static lm_status original_importance(compress_state *s)
{
    size_t n = lm_graph_conv_count(s->graph);
    s->original_importance = 0.0;
    for (size_t c = 1; c <= n; c++) {
        size_t id = 0;
        double v = 0.0;
        lm_status st = lm_entries_find_original(&id, s->entries, c);
        if (st == LM_OK)
            st = lm_table_get_entry(&v, NULL, s->importance, s->entries, id);
        if (st != LM_OK)
            return st;
        s->original_importance += v;
    }
    return LM_OK;
}

/* 1 when the result keeps trunk conv `conv`. */
static int result_keeps_conv(const lm_result *r, size_t conv)
{
    lm_result_conv info = {.size = sizeof info};
    return lm_result_conv_info(&info, r, conv) == LM_OK && info.kept;
}

/* One network to time: the original (index 0) or a budget's merge; in
 * the engine, or as an ONNX model by --timer-cmd. */
typedef struct timed_net {
    lm_engine *engine;
    char onnx[800];
    double rounds_ms[LM_MAX_ROUNDS];
    double median_ms, min_ms, max_ms;
} timed_net;

/* One budget's outcome, for the summary. */
typedef struct budget_row {
    double ratio, budget_ms, solver_ms, predicted_ms, importance;
    double max_abs, max_rel, merge_s, ratio_median;
    size_t segments, convs_after, pruned, resolves;
    timed_net net;
} budget_row;

static lm_status save_merged(const lm_graph *mg, const lm_weights *mw,
                             const char *prefix)
{
    char path[4200];
    snprintf(path, sizeof path, "%s.yaml", prefix);
    lm_status st = lm_graph_save(mg, path);
    snprintf(path, sizeof path, "%s.safetensors", prefix);
    if (st == LM_OK) st = lm_weights_save(mw, path);
    return st;
}

/* The network `g` at --size, ready to time: an engine, or with
 * --timer-cmd an ONNX model named `name` in the timer's directory. */
static lm_status make_timed(const compress_state *s, const lm_graph *g,
                            const lm_weights *w, const compress_args *a,
                            const char *name, timed_net *out)
{
    lm_graph *sized = NULL;
    lm_status st = lm_tool_graph_at_size(&sized, g, a->size);
    if (st == LM_OK && s->timer)
        st = lm_tool_timer_export(out->onnx, sizeof out->onnx, s->timer,
                                  sized, w, a->batch, name);
    else if (st == LM_OK) {
        st = lm_engine_create(&out->engine, sized, w, a->batch);
        if (st == LM_OK) st = lm_engine_set_threads(out->engine, a->threads);
    }
    lm_graph_destroy(sized);
    return st;
}

/* A table timed by --timer-cmd without a fixed cost gets one from the
 * whole original network timed by the same command. */
static lm_status timer_fixed_cost(compress_state *s, const compress_args *a,
                                  const char *path)
{
    lm_table_network net = {.size = sizeof net};
    lm_status st = lm_table_network_info(&net, s->latency);
    if (st != LM_OK || net.fixed_ms > 0.0)
        return st;
    lm_graph *sized = NULL;
    if ((st = lm_tool_graph_at_size(&sized, s->graph, a->size)) != LM_OK)
        return st;
    st = lm_tool_timer_network(s->timer, s->latency, sized, s->entries,
                                  a->batch);
    lm_graph_destroy(sized);
    if (st == LM_OK && !a->latency)
        st = lm_table_save(s->latency, path);
    return st;
}

/* Merge, verify and keep an engine of the merged network for timing (the
 * merged files are saved before their input size is restored). */
static lm_status merge_and_verify(compress_state *s, const compress_args *a,
                                  const lm_result *r, const char *prefix,
                                  budget_row *row)
{
    lm_plan *plan = NULL;
    lm_graph *mg = NULL;
    lm_weights *mw = NULL;
    double t0 = now_s();
    lm_status st = lm_plan_create_for_result(&plan, s->graph, r);
    if (st == LM_OK) st = lm_graph_merge(&mg, &mw, s->graph, s->weights, plan);
    row->merge_s = now_s() - t0;
    /* Verified at the network's own size: the files saved are these. */
    lm_merge_deviation dev = {.size = sizeof dev};
    if (st == LM_OK)
        st = lm_graph_verify_merge(&dev, s->graph, s->weights, plan, mg, mw,
                                   1, a->seed);
    row->max_abs = dev.max_abs;
    row->max_rel = dev.max_rel;
    if (st == LM_OK) {
        row->convs_after = lm_graph_conv_count(mg);
        char name[64];
        snprintf(name, sizeof name, "merged-r%.2f", row->ratio);
        st = make_timed(s, mg, mw, a, name, &row->net);
    }
    if (st == LM_OK)
        st = save_merged(mg, mw, prefix);
    lm_weights_destroy(mw);
    lm_graph_destroy(mg);
    lm_plan_destroy(plan);
    return st;
}

static lm_status solve(compress_state *s, const compress_args *a,
                       double ratio, lm_result **r)
{
    lm_solve_options *o = NULL;
    lm_status st = lm_solve_options_create(&o);
    if (st == LM_OK) st = lm_solve_options_set_precision(o, a->precision);
    if (st == LM_OK) st = lm_solve_options_set_budget_ratio(o, ratio);
    if (st == LM_OK) st = lm_solver_run(r, s->solver, o);
    lm_solve_options_destroy(o);
    return st;
}

/* The solver's table after re-measured entries changed: rebuilt, so the
 * next solve sees them (and their calibration, when on). */
static lm_status rebuild_solver(compress_state *s, const compress_args *a)
{
    if (s->solve_latency != s->latency)
        lm_table_destroy(s->solve_latency);
    s->solve_latency = s->latency;
    lm_status st = lm_tool_calibrates(s->latency, a->calibrate)
                       ? lm_table_create_calibrated(&s->solve_latency,
                                                    s->latency)
                       : LM_OK;
    if (st != LM_OK) {
        s->solve_latency = s->latency;
        return st;
    }
    lm_solver_destroy(s->solver);
    s->solver = NULL;
    return lm_solver_create(&s->solver, s->graph, s->entries,
                            s->solve_latency, s->importance);
}

/* The chosen entries timed again in a fresh pass; *predicted_ms gets the
 * whole-network prediction from those fresh times (calibrated like the
 * solver's table when --calibrate is on). */
static lm_status remeasure(compress_state *s, const lm_result *r,
                           double *predicted_ms)
{
    size_t n = lm_result_segment_count(r), k = 0;
    size_t *ids = calloc(n ? n : 1, sizeof *ids);
    double *fresh = calloc(n ? n : 1, sizeof *fresh);
    lm_status st = ids && fresh ? LM_OK : LM_ERR_NOMEM;
    for (size_t i = 0; st == LM_OK && i < n; i++) {
        lm_result_segment seg = {.size = sizeof seg};
        st = lm_result_segment_info(&seg, r, i);
        if (st == LM_OK && seg.entry != SIZE_MAX)
            ids[k++] = seg.entry;
    }
    if (st == LM_OK)
        st = lm_table_remeasure_entries(fresh, s->latency, s->graph,
                                        s->entries, ids, k, s->measure);
    double sum = lm_solver_fixed_latency(s->solver);
    for (size_t i = 0; st == LM_OK && i < k; i++) {
        double scale = 1.0, v, alone;
        /* Calibrated: the fresh time scaled as the solver's table was. */
        if (s->solve_latency != s->latency &&
            lm_table_get_entry(&v, NULL, s->solve_latency, s->entries,
                               ids[i]) == LM_OK &&
            lm_table_get_entry(&alone, NULL, s->latency, s->entries,
                               ids[i]) == LM_OK &&
            alone > 0.0)
            scale = v / alone;
        sum += fresh[i] * scale;
    }
    *predicted_ms = sum;
    free(ids);
    free(fresh);
    return st;
}

/* Solve, re-measure what was chosen, and re-solve while the fresh times
 * break the budget (at most --remeasure times). */
static lm_status choose(compress_state *s, const compress_args *a,
                        double ratio, budget_row *row, lm_result **r)
{
    lm_status st = solve(s, a, ratio, r);
    if (st != LM_OK)
        return st;
    row->solver_ms = row->predicted_ms = lm_result_latency(*r);
    const char *timer = lm_table_text(s->latency, LM_TABLE_TIMER);
    int remeasurable = s->timer ? !strcmp(timer, s->timer->text)
                                : !strcmp(timer, "lm_engine");
    for (size_t it = 0; remeasurable && it < a->remeasure; it++) {
        double fresh = 0.0;
        st = remeasure(s, *r, &fresh);
        if (st != LM_OK)
            return st;
        row->predicted_ms = fresh;
        if (fresh <= lm_result_budget(*r) || it + 1 == a->remeasure)
            break;
        /* The winner's curse: the solver picked entries that had come out
         * fast. Their fresh passes are in the table now; solve again. */
        lm_result_destroy(*r);
        *r = NULL;
        if ((st = rebuild_solver(s, a)) != LM_OK ||
            (st = solve(s, a, ratio, r)) != LM_OK)
            return st;
        row->resolves++;
        row->predicted_ms = lm_result_latency(*r);
    }
    /* Said, not hidden: what was chosen is timed above the budget. */
    if (row->predicted_ms > lm_result_budget(*r))
        fprintf(stderr, "layermerge compress: warning: budget %.2f: the "
                "chosen entries, timed again, predict %.2f ms, above the "
                "budget of %.2f ms (after %zu re-solve%s; --remeasure "
                "allows more)\n", ratio, row->predicted_ms,
                lm_result_budget(*r), row->resolves,
                row->resolves == 1 ? "" : "s");
    return LM_OK;
}

static lm_status run_budget(compress_state *s, const compress_args *a,
                            double ratio, budget_row *row)
{
    char prefix[4096], path[4200];
    snprintf(prefix, sizeof prefix, "%s-r%.2f", a->out, ratio);
    lm_result *r = NULL;
    lm_status st = choose(s, a, ratio, row, &r);
    if (st != LM_OK)
        return st;
    row->ratio = ratio;
    row->budget_ms = lm_result_budget(r);
    row->importance = lm_result_importance(r);
    row->segments = lm_result_segment_count(r);
    size_t n = lm_graph_conv_count(s->graph);
    for (size_t c = 1; c <= n; c++)
        row->pruned += !result_keeps_conv(r, c);
    snprintf(path, sizeof path, "%s.result.yaml", prefix);
    st = lm_result_save(r, path);
    if (st == LM_OK)
        st = merge_and_verify(s, a, r, prefix, row);
    lm_result_destroy(r);
    return st;
}

static int cmp_double(const void *x, const void *y)
{
    double u = *(const double *)x, v = *(const double *)y;
    return (u > v) - (u < v);
}

static double median(const double *v, size_t n)
{
    double tmp[LM_MAX_ROUNDS];
    memcpy(tmp, v, n * sizeof *v);
    qsort(tmp, n, sizeof *tmp, cmp_double);
    return n % 2 ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
}

/* Every network timed in every round, in an order rotated by one each
 * round, so that drift of the machine's speed falls on all of them alike
 * instead of showing up as differences between them. */
static lm_status time_interleaved(timed_net **nets, size_t n,
                                  const compress_args *a,
                                  lm_tool_timer *timer)
{
    size_t rounds = a->rounds;
    /* A terminal gets one redrawn line, a log one line per round. */
    int tty = isatty(STDERR_FILENO);
    for (size_t r = 0; r < rounds; r++) {
        fprintf(stderr, tty ? "\rtiming: round %zu of %zu"
                            : "timing: round %zu of %zu\n", r + 1, rounds);
        fflush(stderr);
        for (size_t j = 0; j < n; j++) {
            timed_net *t = nets[(j + r) % n];
            lm_timing tm = {.size = sizeof tm};
            double sd = 0.0;
            lm_status st = t->engine
                ? lm_engine_time(&tm, t->engine, a->warmup, a->reps)
                : lm_tool_timer_run(&tm.median_ms, &sd, timer, t->onnx,
                                    a->batch, t->onnx);
            if (st != LM_OK)
                return st;
            t->rounds_ms[r] = tm.median_ms;
        }
    }
    if (tty)
        fputc('\n', stderr);
    for (size_t j = 0; j < n; j++) {
        timed_net *t = nets[j];
        t->median_ms = median(t->rounds_ms, rounds);
        t->min_ms = t->max_ms = t->rounds_ms[0];
        for (size_t r = 1; r < rounds; r++) {
            t->min_ms = fmin(t->min_ms, t->rounds_ms[r]);
            t->max_ms = fmax(t->max_ms, t->rounds_ms[r]);
        }
    }
    return LM_OK;
}

/* Per budget: the median over rounds of merged / original in that round. */
static void round_ratios(const timed_net *orig, budget_row *rows, size_t n,
                         size_t rounds)
{
    for (size_t i = 0; i < n; i++) {
        double q[LM_MAX_ROUNDS];
        for (size_t r = 0; r < rounds; r++)
            q[r] = rows[i].net.rounds_ms[r] / orig->rounds_ms[r];
        rows[i].ratio_median = median(q, rounds);
    }
}

static void print_summary(const compress_state *s, const compress_args *a,
                          const timed_net *orig, const budget_row *rows,
                          size_t n)
{
    lm_shape in = {.size = sizeof in};
    lm_graph_input_shape(&in, s->graph);
    printf("\n%s: %zu trunk convs, %zu entries; timed at batch %zu, "
           "%lldx%lldx%lld, %zu thread%s, %zu interleaved rounds of %zu "
           "runs\n", lm_graph_name(s->graph), lm_graph_conv_count(s->graph),
           lm_entries_count(s->entries), a->batch, (long long)in.channels,
           (long long)(a->size ? (int64_t)a->size : in.height),
           (long long)(a->size ? (int64_t)a->size : in.width), a->threads,
           a->threads == 1 ? "" : "s", a->rounds, a->reps);
    printf("timed by: %s\n", s->timer ? s->timer->text
                                       : "the library's engine");
    printf("latency table: %s\n", s->solve_latency != s->latency
                                       ? "calibrated in-network (--calibrate)"
                                       : "as timed, entry by entry");
    printf("original: predicted %.2f ms (fixed %.2f + entries), measured "
           "%.2f ms (%.2f-%.2f)\n\n", lm_solver_original_latency(s->solver),
           lm_solver_fixed_latency(s->solver), orig->median_ms,
           orig->min_ms, orig->max_ms);
    printf("%6s %9s %9s %9s %9s %15s %7s %8s %6s %6s %10s %9s\n", "ratio",
           "budget", "solver", "predicted", "merged", "merged min-max",
           "m/orig", "speedup", "convs", "pruned", "importance", "max_rel");
    for (size_t i = 0; i < n; i++) {
        const budget_row *r = &rows[i];
        char range[40];
        snprintf(range, sizeof range, "%.2f-%.2f", r->net.min_ms,
                 r->net.max_ms);
        printf("%6.2f %9.2f %9.2f %9.2f %9.2f %15s %7.3g %7.3gx %6zu %6zu "
               "%10.4f %9.1e\n", r->ratio, r->budget_ms, r->solver_ms,
               r->predicted_ms, r->net.median_ms, range, r->ratio_median,
               orig->median_ms / r->net.median_ms, r->convs_after,
               r->pruned, r->importance, r->max_rel);
    }
    printf("(ms; solver: the prediction the solve chose by; predicted: the "
           "same network from the chosen entries timed again%s; m/orig: "
           "median of the per-round ratios; importance: summed table "
           "scores, the original network's %.4f)\n", "",
           s->original_importance);
    for (size_t i = 0; i < n; i++) {
        const budget_row *r = &rows[i];
        double off = r->predicted_ms / r->net.median_ms - 1.0;
        if (fabs(off) > 0.10)
            fprintf(stderr, "layermerge compress: warning: budget %.2f: "
                    "predicted %.2f ms, measured %.2f ms (%+.0f%%)\n",
                    r->ratio, r->predicted_ms, r->net.median_ms, 100 * off);
    }
    printf("\n");
    for (size_t i = 0; i < n; i++)
        printf("budget_ratio=%.2f predicted_ms=%.4f original_ms=%.4f "
               "merged_ms=%.4f merged_ms_min=%.4f merged_ms_max=%.4f "
               "speedup=%.4f max_rel_error=%.3e threads=%zu\n",
               rows[i].ratio, rows[i].predicted_ms, orig->median_ms,
               rows[i].net.median_ms, rows[i].net.min_ms, rows[i].net.max_ms,
               orig->median_ms / rows[i].net.median_ms, rows[i].max_rel,
               a->threads);
}

/* --report: the page from the summary's numbers and the saved results. */
static int write_report(const compress_state *s, const compress_args *a,
                        const timed_net *orig, const budget_row *rows,
                        size_t n)
{
    lm_tool_report_budget b[MAX_RATIOS] = {{0}};
    lm_result *results[MAX_RATIOS] = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s-r%.2f.result.yaml", a->out,
                 rows[i].ratio);
        if (lm_result_load(&results[i], path) != LM_OK)
            rc = lm_tool_fail(path);
        b[i] = (lm_tool_report_budget){
            rows[i].ratio, rows[i].budget_ms, rows[i].predicted_ms,
            rows[i].net.median_ms, rows[i].net.min_ms, rows[i].net.max_ms,
            rows[i].max_rel, rows[i].convs_after, results[i]};
    }
    char protocol[300];
    lm_shape in = {.size = sizeof in};
    lm_graph_input_shape(&in, s->graph);
    snprintf(protocol, sizeof protocol, "Timed in the library's engine at "
             "batch %zu, %lldx%lldx%lld, %zu thread%s, %zu interleaved "
             "rounds of %zu runs.", a->batch, (long long)in.channels,
             (long long)(a->size ? (int64_t)a->size : in.height),
             (long long)(a->size ? (int64_t)a->size : in.width), a->threads,
             a->threads == 1 ? "" : "s", a->rounds, a->reps);
    lm_tool_report r = {
        .graph = s->graph, .solver = s->solver, .precision = a->precision,
        .n_entries = lm_entries_count(s->entries), .protocol = protocol,
        .table_note = s->solve_latency != s->latency
                          ? "calibrated in-network (--calibrate)"
                          : "as timed, entry by entry",
        .original_ms = orig->median_ms, .original_min_ms = orig->min_ms,
        .original_max_ms = orig->max_ms,
        .original_importance = s->original_importance, .budgets = b,
        .n_budgets = n};
    if (rc == 0)
        rc = lm_tool_report_write(a->report, &r);
    for (size_t i = 0; i < n; i++)
        lm_result_destroy(results[i]);
    return rc;
}

/* --json: what the summary and the key=value lines say, at full
 * precision, with the files each budget wrote. */
#define J lm_tool_json_number

static int print_json(const compress_state *s, const compress_args *a,
                      const timed_net *orig, const budget_row *rows,
                      size_t n)
{
    lm_shape in = {.size = sizeof in};
    lm_graph_input_shape(&in, s->graph);
    json_t *budgets = json_array();
    for (size_t i = 0; i < n; i++) {
        const budget_row *r = &rows[i];
        char prefix[4096], res[4200], gr[4200], wt[4200];
        snprintf(prefix, sizeof prefix, "%s-r%.2f", a->out, r->ratio);
        snprintf(res, sizeof res, "%s.result.yaml", prefix);
        snprintf(gr, sizeof gr, "%s.yaml", prefix);
        snprintf(wt, sizeof wt, "%s.safetensors", prefix);
        json_array_append_new(budgets, json_pack(
            "{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:I,s:I,s:I,s:o,"
            "s:o,s:o,s:o,s:I,s:{s:s,s:s,s:s}}",
            "budget_ratio", J(r->ratio), "budget_ms", J(r->budget_ms), "solver_ms",
            J(r->solver_ms), "predicted_ms", J(r->predicted_ms), "original_ms",
            J(orig->median_ms), "merged_ms", J(r->net.median_ms), "merged_ms_min",
            J(r->net.min_ms), "merged_ms_max", J(r->net.max_ms), "speedup",
            J(orig->median_ms / r->net.median_ms), "merged_over_original",
            J(r->ratio_median), "segments", (json_int_t)r->segments, "convs",
            (json_int_t)r->convs_after, "pruned", (json_int_t)r->pruned,
            "resolves", (json_int_t)r->resolves, "importance", J(r->importance),
            "max_abs_error", J(r->max_abs), "max_rel_error", J(r->max_rel),
            "merge_s", J(r->merge_s), "threads", (json_int_t)a->threads, "files",
            "result", res, "graph", gr, "weights", wt));
    }
    return lm_tool_json_print(json_pack(
        "{s:s,s:s,s:I,s:I,s:I,s:[I,I,I],s:I,s:I,s:I,s:b,s:{s:o,s:o,s:o,s:o,"
        "s:o},s:o,s:o}",
        "format", "layermerge-compress", "graph", lm_graph_name(s->graph),
        "trunk_convs", (json_int_t)lm_graph_conv_count(s->graph), "entries",
        (json_int_t)lm_entries_count(s->entries), "batch",
        (json_int_t)a->batch, "input", (json_int_t)in.channels,
        (json_int_t)(a->size ? (int64_t)a->size : in.height),
        (json_int_t)(a->size ? (int64_t)a->size : in.width), "threads",
        (json_int_t)a->threads, "rounds", (json_int_t)a->rounds, "reps",
        (json_int_t)a->reps, "calibrated", s->solve_latency != s->latency,
        "original", "predicted_ms", J(lm_solver_original_latency(s->solver)),
        "fixed_ms", J(lm_solver_fixed_latency(s->solver)), "median_ms",
        J(orig->median_ms), "min_ms", J(orig->min_ms), "max_ms", J(orig->max_ms),
        "original_importance", J(s->original_importance), "budgets", budgets));
}

#undef J

int lm_cmd_compress(int argc, char **argv)
{
    if (lm_tool_wants_help(argc, argv)) {
        compress_usage(stdout);
        return 0;
    }
    compress_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc;
    /* --json: standard output holds the one document; everything else
     * (progress, summary) goes to standard error meanwhile. */
    int saved_out = -1;
    if (a.json) {
        fflush(stdout);
        saved_out = dup(STDOUT_FILENO);
        if (saved_out < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
            perror("layermerge compress: redirecting standard output");
            return 1;
        }
    }
    compress_state s = {0};
    budget_row rows[MAX_RATIOS] = {{0}};
    timed_net orig = {0};
    timed_net *nets[MAX_RATIOS + 1] = {&orig};
    char lat_path[4200], imp_path[4200];
    snprintf(lat_path, sizeof lat_path, "%s.latency.yaml", a.out);
    snprintf(imp_path, sizeof imp_path, "%s.importance.yaml", a.out);

    lm_tool_timer timer;
    lm_status st = load_network(&s, &a);
    if (st != LM_OK) { rc = lm_tool_fail(a.graph); goto out; }
    if (a.timer_cmd) {
        if (lm_tool_timer_open(&timer, a.timer_cmd, s.graph, a.threads)) {
            rc = 1;
            goto out;
        }
        s.timer = &timer;
    }
    if (build_entries(&s, &a) != LM_OK) { rc = lm_tool_fail("entries"); goto out; }
    if (measure_options(&s, &a, lat_path) != LM_OK ||
        latency_table(&s, &a, lat_path) != LM_OK) {
        rc = lm_tool_fail("latency");
        goto out;
    }
    if (importance_table(&s, &a, imp_path) != LM_OK) { rc = lm_tool_fail("importance"); goto out; }
    st = rebuild_solver(&s, &a);
    if (st == LM_OK) st = original_importance(&s);
    if (st == LM_OK) st = make_timed(&s, s.graph, s.weights, &a, "original",
                                     &orig);
    if (st != LM_OK) { rc = lm_tool_fail("original network"); goto out; }
    size_t n_done = 0;
    for (size_t i = 0; i < a.n_ratios; i++) {
        fprintf(stderr, "budget %.2f: solving, re-measuring, merging, "
                "verifying\n", a.ratios[i]);
        st = run_budget(&s, &a, a.ratios[i], &rows[n_done]);
        if (st == LM_ERR_INFEASIBLE) {
            /* The other budgets are still worth their answer. */
            rc = lm_tool_fail("compress");
            lm_engine_destroy(rows[n_done].net.engine);
            rows[n_done] = (budget_row){0};
            continue;
        }
        if (st != LM_OK) {
            rc = lm_tool_fail("compress");
            lm_engine_destroy(rows[n_done].net.engine);
            goto out;
        }
        n_done++;
    }
    for (size_t i = 0; i < n_done; i++)
        nets[i + 1] = &rows[i].net;
    if ((st = time_interleaved(nets, n_done + 1, &a, s.timer)) != LM_OK) {
        /* --timer-cmd printed what failed; the engine sets a message. */
        rc = s.timer ? 1 : lm_tool_fail("timing");
        goto out;
    }
    round_ratios(&orig, rows, n_done, a.rounds);
    print_summary(&s, &a, &orig, rows, n_done);
    if (a.report && write_report(&s, &a, &orig, rows, n_done) != 0)
        rc = 1;
    if (a.json) {
        fflush(stdout);
        dup2(saved_out, STDOUT_FILENO);
        close(saved_out);
        saved_out = -1;
        if (print_json(&s, &a, &orig, rows, n_done))
            rc = 1;
    }
out:
    if (saved_out >= 0) {
        fflush(stdout);
        dup2(saved_out, STDOUT_FILENO);
        close(saved_out);
    }
    for (size_t i = 0; i < MAX_RATIOS; i++)
        lm_engine_destroy(rows[i].net.engine);
    lm_engine_destroy(orig.engine);
    state_free(&s);
    return rc;
}
