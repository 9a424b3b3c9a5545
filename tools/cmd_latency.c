/* `layermerge latency GRAPH.yaml -o TABLE.yaml [...]`: measure the latency
 * table on this machine with the reference engine, resumably. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "layermerge/layermerge.h"
#include "progress.h"
#include "timer_cmd.h"

static void latency_usage(FILE *out)
{
    fprintf(out,
            "usage: layermerge latency GRAPH.yaml -o TABLE.yaml [--batch N] "
            "[--size S]\n"
            "                          [--reps R] [--warmup W] [--threads T] "
            "[--range A:B]\n"
            "                          [--passes P] [--seed S] "
            "[--noise-limit X] [--extra-passes E]\n"
            "                          [--timer-cmd CMD]\n\n"
            "Time every table entry's merged conv and its activation on this\n"
            "machine with the reference engine (docs/measure.md), in P passes\n"
            "over the entries in shuffled orders; an entry's latency is the\n"
            "median of its pass medians, and one whose passes disagree by more\n"
            "than X is timed again, up to E more times, then marked noisy. The\n"
            "whole network is profiled too: the table gets the fixed cost of\n"
            "what no entry carries (stem, head, skips). The table is saved\n"
            "after every timing; re-running with the same -o resumes without\n"
            "timing a finished pass again. Ctrl-C stops cleanly.\n\n"
            "options:\n"
            "  -o TABLE.yaml  the latency table to write (and resume; not -)\n"
            "  --batch N      images per run, 1..65536 (default 1)\n"
            "  --size S       time at an S x S network input instead of the\n"
            "                 graph's own (entry shapes scale with it)\n"
            "  --reps R       timed runs per entry, median kept (default 20)\n"
            "  --warmup W     untimed runs first (default 3)\n"
            "  --threads T    OpenBLAS threads while measuring (default 1, the\n"
            "                 steadiest on a shared machine); recorded, and a\n"
            "                 table measured with another count is refused\n"
            "  --passes P     passes over the entries (default 3)\n"
            "  --seed S       seed of the pass orders (default 1)\n"
            "  --noise-limit X  spread of an entry's passes, (max - min) /\n"
            "                 median, above which it is re-timed (default 0.1)\n"
            "  --extra-passes E  re-timing passes at most (default 2)\n"
            "  --range A:B    only entry ids A <= id < B (one worker's shard)\n"
            "  --timer-cmd CMD  time with another runtime: each entry is\n"
            "                 written as an ONNX model and CMD run through sh\n"
            "                 with {onnx} replaced by its path ({batch},\n"
            "                 {threads} by the numbers); CMD's last stdout\n"
            "                 line is the median ms, optionally followed by\n"
            "                 a spread. The whole network is timed the same\n"
            "                 way for the fixed cost. Shipped timers:\n"
            "                 tools/timers/ (docs/measure.md)\n"
            "  -h, --help     show this help\n\n"
            "Progress goes to standard error. Exit status: 0 success, 1 failure\n"
            "or interruption (the table keeps what was measured), 2 bad usage.\n");
}

/* ---- latency ----------------------------------------------------------- */

typedef struct latency_args {
    const char *graph, *timer_cmd;
    lm_tool_span span;
    size_t batch, size, reps, warmup, threads, passes, seed, extra;
    double noise;
    int has_size, has_reps, has_warmup, has_noise, has_extra;
} latency_args;

static int parse_value(const char *opt, const char *val, void *args)
{
    latency_args *a = args;
    size_t v = 0;
    if (!strcmp(opt, "--timer-cmd")) {
        a->timer_cmd = val;
        return 0;
    }
    if (!strcmp(opt, "--noise-limit")) {
        a->has_noise = 1;
        return lm_tool_real("latency", opt, val, 0, 0.0, 1e9, &a->noise);
    }
    int rc = lm_tool_span_value("latency", opt, val, &a->span, &v);
    if (rc != LM_TOOL_NUMBER)
        return rc;
    if (!strcmp(opt, "--batch"))
        a->batch = v;
    else if (!strcmp(opt, "--size"))
        a->size = v, a->has_size = 1;
    else if (!strcmp(opt, "--reps"))
        a->reps = v, a->has_reps = 1;
    else if (!strcmp(opt, "--warmup"))
        a->warmup = v, a->has_warmup = 1;
    else if (!strcmp(opt, "--passes"))
        a->passes = v;
    else if (!strcmp(opt, "--seed"))
        a->seed = v;
    else if (!strcmp(opt, "--extra-passes"))
        a->extra = v, a->has_extra = 1;
    else
        a->threads = v;
    return 0;
}

static int parse_file(const char *word, void *args)
{
    latency_args *a = args;
    if (a->graph)
        return lm_tool_usage_error("latency", "one graph file only");
    a->graph = word;
    return 0;
}

static int parse_args(int argc, char **argv, latency_args *a)
{
    static const char *const valued[] = {"-o", "--output", "--batch", "--size",
                                         "--reps", "--warmup", "--threads",
                                         "--range", "--passes", "--seed",
                                         "--noise-limit", "--extra-passes",
                                         "--timer-cmd", NULL};
    static const lm_tool_opts opts = {"latency", valued, parse_value,
                                      parse_file, NULL, NULL};
    a->batch = 1;
    a->threads = 1;
    a->passes = 3;
    a->seed = 1;
    a->noise = 0.10;
    a->extra = 2;
    int rc = lm_tool_parse_argv(&opts, argc, argv, 1, a);
    if (rc)
        return rc;
    if (!a->graph || !a->span.out)
        return lm_tool_usage_error("latency", "GRAPH.yaml and -o TABLE.yaml "
                                              "are required");
    if ((rc = lm_tool_refuse_stdout("latency", "-o", a->span.out, "the "
                                    "table is saved as it fills and "
                                    "resumed from")) != 0)
        return rc;
    /* -o is resumed, so it is read too; but never the graph. */
    const char *outs[] = {a->span.out}, *ins[] = {a->graph};
    if ((rc = lm_tool_check_outputs("latency", outs, 1, ins, 1)) != 0)
        return rc;
    if (a->batch == 0 || (a->has_size && a->size == 0) ||
        (a->has_reps && a->reps == 0) || a->threads == 0 || a->passes == 0)
        return lm_tool_usage_error("latency", "--batch, --size, --reps, "
                                              "--threads and --passes must "
                                              "be >= 1");
    return 0;
}

static lm_status build_options(const latency_args *a, lm_tool_bar *bar,
                               lm_tool_timer *timer,
                               lm_measure_options **opts)
{
    lm_measure_options *o = NULL;
    lm_status st = lm_measure_options_create(&o);
    if (st == LM_OK)
        st = lm_measure_options_set_batch(o, a->batch);
    if (st == LM_OK && a->has_size)
        st = lm_measure_options_set_input_size(o, (int64_t)a->size,
                                               (int64_t)a->size);
    if (st == LM_OK && a->has_reps)
        st = lm_measure_options_set_repetitions(o, a->reps);
    if (st == LM_OK && a->has_warmup)
        st = lm_measure_options_set_warmup(o, a->warmup);
    if (st == LM_OK && a->span.has_range)
        st = lm_measure_options_set_range(o, a->span.lo, a->span.hi);
    if (st == LM_OK)
        st = lm_measure_options_set_threads(o, a->threads);
    if (st == LM_OK)
        st = lm_measure_options_set_passes(o, a->passes, a->seed);
    if (st == LM_OK)
        st = lm_measure_options_set_noise_limit(o, a->noise, a->extra);
    if (st == LM_OK)
        st = lm_measure_options_set_save_path(o, a->span.out);
    if (st == LM_OK)
        st = lm_measure_options_set_progress(o, lm_tool_progress, bar);
    if (st == LM_OK && timer)
        st = lm_measure_options_set_timer(o, lm_tool_timer_entry, timer);
    if (st != LM_OK)
        lm_measure_options_destroy(o);
    else
        *opts = o;
    return st;
}

/* The table to resume when -o exists (it must belong to the graph), else
 * a new one. */
static lm_status open_table(const char *path, const lm_entries *entries,
                            lm_table **out)
{
    if (access(path, F_OK) != 0)
        return lm_table_create_latency_for(out, entries);
    lm_status st = lm_table_load_kind(out, path, LM_TABLE_LATENCY);
    if (st == LM_OK && (st = lm_table_check(*out, entries)) != LM_OK) {
        lm_table_destroy(*out);
        *out = NULL;
    }
    return st;
}

/* A table timed by --timer-cmd gets its fixed cost from the whole
 * network timed by the same command, once every entry is in. */
static int timer_fixed_cost(const latency_args *a, lm_tool_timer *timer,
                            const lm_graph *g, const lm_entries *entries,
                            lm_table *t)
{
    lm_graph *sized = NULL;
    if (lm_tool_graph_at_size(&sized, g, a->has_size ? a->size : 0) != LM_OK)
        return lm_tool_fail(a->graph);
    lm_status st = lm_tool_timer_network(timer, t, sized, entries,
                                            a->batch);
    lm_graph_destroy(sized);
    if (st != LM_OK)
        return lm_tool_fail(a->span.out);
    return lm_table_save(t, a->span.out) == LM_OK ? 0
                                                  : lm_tool_fail(a->span.out);
}

static int run_measure(const latency_args *a, const lm_graph *g,
                       const lm_entries *entries, lm_table *t)
{
    lm_tool_timer timer;
    if (a->timer_cmd && (lm_tool_timer_open(&timer, a->timer_cmd, g,
                                            a->threads) != 0))
        return 1;
    lm_tool_timer *tm = a->timer_cmd ? &timer : NULL;
    if (tm && lm_tool_timer_claim(t, tm) != LM_OK) {
        lm_tool_timer_close(tm);
        return 1;
    }
    lm_tool_run run = lm_tool_table_run("latency", entries, t);
    lm_tool_run_begin(&run, &a->span);
    lm_measure_options *o = NULL;
    if (build_options(a, &run.bar, tm, &o) != LM_OK) {
        if (tm)
            lm_tool_timer_close(tm);
        return lm_tool_fail("latency");
    }
    double load0 = lm_tool_load_average();
    lm_status st = lm_table_measure_latency(t, g, entries, o);
    lm_measure_options_destroy(o);
    int rc = lm_tool_run_end(&run, &a->span, st);
    if (st == LM_OK)
        lm_tool_report_passes(t, a->threads, a->passes, load0);
    /* A shard (--range) leaves the whole network to the merged table. */
    if (st == LM_OK && rc == 0 && tm && !a->span.has_range)
        rc = timer_fixed_cost(a, tm, g, entries, t);
    if (tm)
        lm_tool_timer_close(tm);
    return rc;
}

int lm_cmd_latency(int argc, char **argv)
{
    if (lm_tool_wants_help(argc, argv)) {
        latency_usage(stdout);
        return 0;
    }
    latency_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc;
    lm_graph *g = NULL;
    lm_entries *entries = NULL;
    lm_table *t = NULL;
    if (lm_tool_graph_load(&g, a.graph) != LM_OK)
        return lm_tool_fail(a.graph);
    if (lm_entries_create(&entries, g) != LM_OK)
        rc = lm_tool_fail(a.graph);
    else if (open_table(a.span.out, entries, &t) != LM_OK)
        rc = lm_tool_fail(a.span.out);
    else
        rc = run_measure(&a, g, entries, t);
    lm_table_destroy(t);
    lm_entries_destroy(entries);
    lm_graph_destroy(g);
    return rc;
}
