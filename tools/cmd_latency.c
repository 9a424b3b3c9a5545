/* `layermerge latency GRAPH.yaml -o TABLE.yaml [...]`: measure the latency
 * table on this machine with the reference engine, resumably; plus the
 * progress bar and option parsing shared with `layermerge importance`. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<openblas_config.h>)
#include <cblas.h>
#define LM_TOOL_OPENBLAS 1
#endif
#endif

#include "commands.h"
#include "layermerge/layermerge.h"

static void latency_usage(FILE *out)
{
    fprintf(out,
            "usage: layermerge latency GRAPH.yaml -o TABLE.yaml [--batch N] "
            "[--size S]\n"
            "                          [--reps R] [--warmup W] [--threads T] "
            "[--range A:B]\n\n"
            "Time every table entry's merged conv and its activation on this\n"
            "machine with the reference engine (docs/measure.md). The table is\n"
            "saved after every entry; re-running with the same -o resumes,\n"
            "skipping the entries already measured. Ctrl-C stops cleanly.\n\n"
            "options:\n"
            "  -o TABLE.yaml  the latency table to write (and resume)\n"
            "  --batch N      images per run (default 1)\n"
            "  --size S       time at an S x S network input instead of the\n"
            "                 graph's own (entry shapes scale with it)\n"
            "  --reps R       timed runs per entry, median kept (default 20)\n"
            "  --warmup W     untimed runs first (default 3)\n"
            "  --threads T    OpenBLAS threads (default: OPENBLAS_NUM_THREADS\n"
            "                 or OpenBLAS's own choice)\n"
            "  --range A:B    only entry ids A <= id < B (one worker's shard)\n"
            "  -h, --help     show this help\n\n"
            "Progress goes to standard error. Exit status: 0 success, 1 failure\n"
            "or interruption (the table keeps what was measured), 2 bad usage.\n");
}

/* ---- shared with cmd_importance.c -------------------------------------- */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

void lm_tool_catch_interrupt(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void lm_tool_bar_init(lm_tool_bar *bar, size_t already)
{
    bar->already = already;
    bar->tty = isatty(STDERR_FILENO);
    bar->next_pct = 0.0;
}

int lm_tool_progress(size_t done, size_t total, size_t entry_id,
                     double elapsed_s, void *userdata)
{
    lm_tool_bar *bar = userdata;
    size_t fresh = done > bar->already ? done - bar->already : 0;
    double left = fresh ? elapsed_s / (double)fresh * (double)(total - done)
                        : 0.0;
    double pct = total ? 100.0 * (double)done / (double)total : 100.0;
    if (bar->tty) {
        fprintf(stderr, "\r%zu/%zu entries (%.0f%%), entry %zu, %.1f s "
                        "elapsed, ~%.0f s left   ",
                done, total, pct, entry_id, elapsed_s, left);
        if (done == total)
            fputc('\n', stderr);
    } else if (pct >= bar->next_pct || done == total) {
        /* Logs get a line every 5% rather than a redraw per entry. */
        fprintf(stderr, "%zu/%zu entries (%.0f%%), %.1f s elapsed, ~%.0f s "
                        "left\n", done, total, pct, elapsed_s, left);
        while (bar->next_pct <= pct)
            bar->next_pct += 5.0;
    }
    fflush(stderr);
    return interrupted ? 1 : 0;
}

int lm_tool_parse_size(const char *s, size_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return 0;
    *out = (size_t)v;
    return 1;
}

int lm_tool_parse_range(const char *s, size_t *lo, size_t *hi)
{
    const char *colon = strchr(s, ':');
    char left[32];
    if (!colon || (size_t)(colon - s) >= sizeof left)
        return 0;
    memcpy(left, s, (size_t)(colon - s));
    left[colon - s] = '\0';
    return lm_tool_parse_size(left, lo) && lm_tool_parse_size(colon + 1, hi) &&
           *lo < *hi;
}

size_t lm_tool_count_present(const lm_entries *entries, size_t lo, size_t hi,
                             int (*has)(const void *table, size_t st,
                                        size_t end, int64_t kernel,
                                        int64_t stride, int dw),
                             const void *table)
{
    size_t n = 0, count = lm_entries_count(entries);
    for (size_t id = lo; id < hi && id < count; id++) {
        lm_entry_info e = {.size = sizeof e};
        if (lm_entries_entry(entries, id, &e) == LM_OK &&
            has(table, e.st, e.end, e.kernel, e.stride, e.depthwise))
            n++;
    }
    return n;
}

/* ---- latency ----------------------------------------------------------- */

typedef struct latency_args {
    const char *graph, *out;
    size_t batch, size, reps, warmup, threads, lo, hi;
    int has_size, has_reps, has_warmup, has_threads, has_range;
} latency_args;

static int parse_value(const char *opt, const char *val, latency_args *a)
{
    size_t v = 0;
    if (!strcmp(opt, "-o") || !strcmp(opt, "--output")) {
        a->out = val;
        return 0;
    }
    if (!strcmp(opt, "--range")) {
        a->has_range = 1;
        return lm_tool_parse_range(val, &a->lo, &a->hi)
                   ? 0
                   : lm_tool_usage_error("latency", "--range wants A:B with "
                                                    "A < B");
    }
    if (!lm_tool_parse_size(val, &v))
        return lm_tool_usage_error("latency", "a number option needs a "
                                              "non-negative integer");
    if (!strcmp(opt, "--batch"))
        a->batch = v;
    else if (!strcmp(opt, "--size"))
        a->size = v, a->has_size = 1;
    else if (!strcmp(opt, "--reps"))
        a->reps = v, a->has_reps = 1;
    else if (!strcmp(opt, "--warmup"))
        a->warmup = v, a->has_warmup = 1;
    else
        a->threads = v, a->has_threads = 1;
    return 0;
}

static int parse_args(int argc, char **argv, latency_args *a)
{
    static const char *const valued[] = {"-o", "--output", "--batch", "--size",
                                         "--reps", "--warmup", "--threads",
                                         "--range"};
    a->batch = 1;
    for (int i = 1; i < argc; i++) {
        int known = 0;
        for (size_t k = 0; k < sizeof valued / sizeof *valued && !known; k++)
            known = !strcmp(argv[i], valued[k]);
        if (known) {
            if (i + 1 >= argc)
                return lm_tool_usage_error("latency", "an option lacks its "
                                                      "value");
            int rc = parse_value(argv[i], argv[i + 1], a);
            if (rc)
                return rc;
            i++;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            char msg[160];
            snprintf(msg, sizeof msg, "unknown option '%s'", argv[i]);
            return lm_tool_usage_error("latency", msg);
        } else if (!a->graph) {
            a->graph = argv[i];
        } else {
            return lm_tool_usage_error("latency", "one graph file only");
        }
    }
    if (!a->graph || !a->out)
        return lm_tool_usage_error("latency", "GRAPH.yaml and -o TABLE.yaml "
                                              "are required");
    if (a->batch == 0 || (a->has_size && a->size == 0) ||
        (a->has_reps && a->reps == 0) || (a->has_threads && a->threads == 0))
        return lm_tool_usage_error("latency", "--batch, --size, --reps and "
                                              "--threads must be >= 1");
    return 0;
}

static int set_threads(const latency_args *a)
{
    if (!a->has_threads)
        return 0;
#ifdef LM_TOOL_OPENBLAS
    /* The library never sets threads; the tool does, as its caller. */
    openblas_set_num_threads((int)a->threads);
    return 0;
#else
    return lm_tool_usage_error("latency", "--threads needs OpenBLAS; set the "
                                          "BLAS library's own variable");
#endif
}

static lm_status build_options(const latency_args *a, const char *out,
                               lm_tool_bar *bar, lm_latency_options **opts)
{
    lm_latency_options *o = NULL;
    lm_status st = lm_latency_options_create(&o);
    if (st == LM_OK)
        st = lm_latency_options_set_batch(o, a->batch);
    if (st == LM_OK && a->has_size)
        st = lm_latency_options_set_input_size(o, (int64_t)a->size,
                                               (int64_t)a->size);
    if (st == LM_OK && a->has_reps)
        st = lm_latency_options_set_repetitions(o, a->reps);
    if (st == LM_OK && a->has_warmup)
        st = lm_latency_options_set_warmup(o, a->warmup);
    if (st == LM_OK && a->has_range)
        st = lm_latency_options_set_range(o, a->lo, a->hi);
    if (st == LM_OK)
        st = lm_latency_options_set_save_path(o, out);
    if (st == LM_OK)
        st = lm_latency_options_set_progress(o, lm_tool_progress, bar);
    if (st != LM_OK)
        lm_latency_options_destroy(o);
    else
        *opts = o;
    return st;
}

/* The table to resume when -o exists (it must belong to the graph), else
 * a new one. */
static lm_status open_table(const char *path, const lm_entries *entries,
                            lm_latency_table **out)
{
    if (access(path, F_OK) != 0)
        return lm_latency_table_create_for(out, entries);
    lm_status st = lm_latency_table_load(out, path);
    if (st == LM_OK && (st = lm_latency_table_check(*out, entries)) != LM_OK) {
        lm_latency_table_destroy(*out);
        *out = NULL;
    }
    return st;
}

static int has_latency(const void *t, size_t st, size_t end, int64_t k,
                       int64_t s, int dw)
{
    return lm_latency_table_has(t, st, end, k, s, dw);
}

static int run_measure(const latency_args *a, const lm_graph *g,
                       const lm_entries *entries, lm_latency_table *t)
{
    size_t count = lm_entries_count(entries);
    size_t lo = a->has_range ? a->lo : 0;
    size_t hi = a->has_range && a->hi < count ? a->hi : count;
    size_t total = lo < hi ? hi - lo : 0;
    size_t present = lm_tool_count_present(entries, lo, hi, has_latency, t);
    if (present > 0)
        printf("resuming %s: %zu of %zu entries already measured\n", a->out,
               present, total);
    fflush(stdout);
    lm_tool_bar bar;
    lm_tool_bar_init(&bar, present);
    lm_latency_options *o = NULL;
    if (build_options(a, a->out, &bar, &o) != LM_OK)
        return lm_tool_fail("latency");
    lm_tool_catch_interrupt();
    lm_status st = lm_latency_measure(t, g, entries, o);
    lm_latency_options_destroy(o);
    if (st == LM_ERR_CANCELLED) {
        fprintf(stderr, "\nlayermerge latency: interrupted; %s keeps %zu "
                        "entries, re-run to resume\n", a->out,
                lm_latency_table_count(t));
        return 1;
    }
    if (st != LM_OK)
        return lm_tool_fail(a->out);
    printf("measured %zu entries (%zu already measured) into %s\n",
           total - present, present, a->out);
    return 0;
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
    if (rc == 0)
        rc = set_threads(&a);
    if (rc)
        return rc;
    lm_graph *g = NULL;
    lm_entries *entries = NULL;
    lm_latency_table *t = NULL;
    if (lm_graph_load(&g, a.graph) != LM_OK)
        return lm_tool_fail(a.graph);
    if (lm_entries_create(&entries, g) != LM_OK)
        rc = lm_tool_fail(a.graph);
    else if (open_table(a.out, entries, &t) != LM_OK)
        rc = lm_tool_fail(a.out);
    else
        rc = run_measure(&a, g, entries, t);
    lm_latency_table_destroy(t);
    lm_entries_destroy(entries);
    lm_graph_destroy(g);
    return rc;
}
