/* The pieces `layermerge latency` and `layermerge importance proxy` share:
 * both fill a table entry by entry, resumably, with a progress bar that
 * Ctrl-C turns into a clean stop. */
#include "progress.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

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
    bar->weigh = NULL;
    bar->mean_work = 1.0;
    bar->done_work = 0.0;
    bar->label = "";
}

double lm_tool_entry_work(const lm_entries *entries, size_t id)
{
    lm_entry_info e = {.size = sizeof e};
    if (lm_entries_entry_info(&e, entries, id) != LM_OK || e.identity ||
        e.kernel <= 0 || e.stride <= 0)
        return 0.0;
    double k = (double)e.kernel, s = (double)e.stride;
    double oh = floor(((double)e.in_height + 2.0 * (double)e.padding - k) / s)
                + 1.0;
    double ow = floor(((double)e.in_width + 2.0 * (double)e.padding - k) / s)
                + 1.0;
    double out = (oh > 1.0 ? oh : 1.0) * (ow > 1.0 ? ow : 1.0) *
                 (double)e.out_channels;
    /* Depthwise: one input channel per output; the activation one op per
     * output element. */
    double cin = e.depthwise ? 1.0 : (double)e.in_channels;
    return out * (k * k * cin + 1.0);
}

void lm_tool_bar_weigh(lm_tool_bar *bar, const lm_entries *entries,
                       size_t lo, size_t hi)
{
    double sum = 0.0;
    size_t n = 0;
    for (size_t id = lo; id < hi; id++) {
        double w = lm_tool_entry_work(entries, id);
        sum += w;
        n += w > 0.0;
    }
    if (n == 0 || !(sum > 0.0))
        return; /* nothing timed: the plain count stands */
    bar->weigh = entries;
    bar->mean_work = sum / (double)n;
}

double lm_tool_bar_left(const lm_tool_bar *bar, size_t done, size_t total,
                        double elapsed_s)
{
    double owed = (double)(total > done ? total - done : 0) * bar->mean_work;
    return bar->done_work > 0.0 ? elapsed_s / bar->done_work * owed : 0.0;
}

int lm_tool_progress(size_t done, size_t total, size_t entry_id,
                     double elapsed_s, void *userdata)
{
    lm_tool_bar *bar = userdata;
    bar->done_work += bar->weigh ? lm_tool_entry_work(bar->weigh, entry_id)
                                 : 1.0;
    double left = lm_tool_bar_left(bar, done, total, elapsed_s);
    double pct = total ? 100.0 * (double)done / (double)total : 100.0;
    /* A latency bar counts entry timings, one per entry and pass. */
    const char *unit = bar->weigh ? "entry timings" : "entries";
    if (bar->tty) {
        fprintf(stderr, "\r%s%zu/%zu %s (%.0f%%), entry %zu, %.1f s "
                        "elapsed, ~%.*f s left   ",
                bar->label, done, total, unit, pct, entry_id, elapsed_s,
                left < 10.0 ? 1 : 0, left);
        if (done == total)
            fputc('\n', stderr);
    } else if (pct >= bar->next_pct || done == total) {
        /* Logs get a line every 5% rather than a redraw per entry. */
        fprintf(stderr, "%s%zu/%zu %s (%.0f%%), %.1f s elapsed, ~%.*f s "
                        "left\n", bar->label, done, total, unit, pct,
                elapsed_s, left < 10.0 ? 1 : 0, left);
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

static int in_list(const char *const *list, const char *word, size_t len)
{
    for (const char *const *v = list; v && *v; v++)
        if (strlen(*v) == len && !strncmp(word, *v, len))
            return 1;
    return 0;
}

int lm_tool_parse_argv(const lm_tool_opts *o, int argc, char **argv,
                       int first, void *args)
{
    int options = 1;
    for (int i = first; i < argc; i++) {
        const char *w = argv[i];
        char msg[600];
        int rc;
        if (options && !strcmp(w, "--")) {
            options = 0; /* every later word is a file */
            continue;
        }
        if (!options || w[0] != '-' || !w[1]) {
            rc = o->file(w, args);
            if (rc)
                return rc;
            continue;
        }
        /* "--name=value" for long options; "-o" takes the next word. */
        const char *eq = w[1] == '-' ? strchr(w, '=') : NULL;
        size_t len = eq ? (size_t)(eq - w) : strlen(w);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)len, w);
        if (in_list(o->valued, w, len)) {
            if (!eq && i + 1 >= argc) {
                snprintf(msg, sizeof msg, "option '%s' needs a value", name);
                return lm_tool_usage_error(o->cmd, msg);
            }
            rc = o->value(name, eq ? eq + 1 : argv[++i], args);
        } else if (in_list(o->flags, w, len)) {
            if (eq) {
                snprintf(msg, sizeof msg, "option '%s' takes no value", name);
                return lm_tool_usage_error(o->cmd, msg);
            }
            rc = o->flag(name, args);
        } else {
            snprintf(msg, sizeof msg, "unknown option '%s'", name);
            return lm_tool_usage_error(o->cmd, msg);
        }
        if (rc)
            return rc;
    }
    return 0;
}

int lm_tool_number_error(const char *cmd, const char *opt, const char *val,
                         const char *what)
{
    char msg[600];
    snprintf(msg, sizeof msg, "%s: '%s' is not %s", opt, val, what);
    return lm_tool_usage_error(cmd, msg);
}

int lm_tool_whole(const char *cmd, const char *opt, const char *val,
                  size_t min, size_t max, size_t *out)
{
    char what[96];
    size_t v = 0;
    if (max == SIZE_MAX)
        snprintf(what, sizeof what, "a whole number >= %zu", min);
    else
        snprintf(what, sizeof what, "a whole number in %zu..%zu", min, max);
    if (!lm_tool_parse_size(val, &v) || v < min || v > max)
        return lm_tool_number_error(cmd, opt, val, what);
    *out = v;
    return 0;
}

int lm_tool_real(const char *cmd, const char *opt, const char *val,
                 int open_lo, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(val, &end);
    int ok = end != val && !*end && !errno && isfinite(v) &&
             (open_lo ? v > lo : v >= lo) && v <= hi;
    if (!ok) {
        char what[96];
        if (hi >= 1e300)
            snprintf(what, sizeof what, "a number %s %g",
                     open_lo ? ">" : ">=", lo);
        else
            snprintf(what, sizeof what, "a number in %s%g, %g]",
                     open_lo ? "(" : "[", lo, hi);
        return lm_tool_number_error(cmd, opt, val, what);
    }
    *out = v;
    return 0;
}

int lm_tool_span_value(const char *cmd, const char *opt, const char *val,
                       lm_tool_span *span, size_t *number)
{
    if (!strcmp(opt, "-o") || !strcmp(opt, "--output")) {
        span->out = val;
        return 0;
    }
    if (!strcmp(opt, "--range")) {
        span->has_range = 1;
        return lm_tool_parse_range(val, &span->lo, &span->hi)
                   ? 0
                   : lm_tool_number_error(cmd, opt, val,
                                          "A:B with whole numbers A < B");
    }
    if (lm_tool_whole(cmd, opt, val, 0, SIZE_MAX, number))
        return 2;
    return LM_TOOL_NUMBER;
}

/* Entries of [lo, hi) the table already holds in full: a latency
 * record measured in fewer passes than the table's is still owed some. */
static size_t count_present(const lm_tool_run *r, size_t lo, size_t hi)
{
    int64_t passes = lm_table_get_kind(r->table) == LM_TABLE_LATENCY
                         ? lm_table_int(r->table, LM_TABLE_PASSES)
                         : 0;
    size_t n = 0;
    for (size_t i = 0; i < lm_table_count(r->table); i++) {
        lm_table_record rec = {.size = sizeof rec};
        if (lm_table_record_info(&rec, r->table, i) != LM_OK || rec.id < 0 ||
            (size_t)rec.id < lo || (size_t)rec.id >= hi)
            continue;
        n += rec.passes == 0 || (int64_t)rec.passes >= passes;
    }
    return n;
}

lm_tool_run lm_tool_table_run(const char *cmd, const lm_entries *entries,
                              const lm_table *table)
{
    int latency = lm_table_get_kind(table) == LM_TABLE_LATENCY;
    return (lm_tool_run){.cmd = cmd,
                         .verb = latency ? "measured" : "scored",
                         .entries = entries,
                         .table = table};
}

void lm_tool_run_begin(lm_tool_run *r, const lm_tool_span *span)
{
    size_t count = lm_entries_count(r->entries);
    size_t lo = span->has_range ? span->lo : 0;
    size_t hi = span->has_range && span->hi < count ? span->hi : count;
    r->total = lo < hi ? hi - lo : 0;
    r->present = count_present(r, lo, hi);
    if (r->present > 0)
        printf("resuming %s: %zu of %zu entries already %s\n", span->out,
               r->present, r->total, r->verb);
    fflush(stdout);
    lm_tool_bar_init(&r->bar, r->present);
    /* Latency timings cost what the entry's conv costs; a proxy entry
     * runs the whole network, about the same for every entry. */
    if (lm_table_get_kind(r->table) == LM_TABLE_LATENCY)
        lm_tool_bar_weigh(&r->bar, r->entries, lo, hi);
    lm_tool_catch_interrupt();
}

int lm_tool_run_end(const lm_tool_run *r, const lm_tool_span *span,
                    lm_status st)
{
    if (st == LM_ERR_CANCELLED) {
        fprintf(stderr, "\nlayermerge %s: interrupted; %s keeps %zu "
                        "entries, re-run to resume\n", r->cmd, span->out,
                lm_table_count(r->table));
        return 1;
    }
    if (st != LM_OK)
        return lm_tool_fail(span->out);
    printf("%s %zu entries (%zu already %s) into %s\n", r->verb,
           r->total - r->present, r->present, r->verb, span->out);
    return 0;
}

double lm_tool_load_average(void)
{
    FILE *fp = fopen("/proc/loadavg", "r");
    double load = -1.0;
    if (fp) {
        if (fscanf(fp, "%lf", &load) != 1)
            load = -1.0;
        fclose(fp);
    }
    return load;
}

static void report_network(const lm_table *t)
{
    lm_table_network net = {.size = sizeof net};
    if (lm_table_network_info(&net, t) != LM_OK || net.measured_ms <= 0.0)
        return;
    printf("network: %.2f ms whole, %.2f ms of it outside the entries "
           "(stem, head, skips; stdev %.2f ms)\n", net.measured_ms,
           net.fixed_ms, net.fixed_stdev);
    if (net.stage_count == 0)
        return;
    printf("in-network / alone, per stage:");
    for (size_t i = 0; i < net.stage_count; i++) {
        lm_table_stage s = {.size = sizeof s};
        if (lm_table_stage_info(&s, t, i) == LM_OK)
            printf(" (%zu,%zu] %.2f", s.st, s.end, s.ratio);
    }
    printf("\n");
}

void lm_tool_report_passes(const lm_table *t, size_t threads, size_t passes,
                           double load0)
{
    size_t retimed = 0, noisy = 0, timed = 0;
    for (size_t i = 0; i < lm_table_count(t); i++) {
        lm_table_record rec = {.size = sizeof rec};
        if (lm_table_record_info(&rec, t, i) != LM_OK || rec.passes == 0)
            continue;
        timed++;
        retimed += rec.passes > passes;
        noisy += rec.noisy != 0;
    }
    printf("threads %zu, %zu passes: %zu entries timed, %zu re-timed, %zu "
           "noisy\n", threads, passes, timed, retimed, noisy);
    /* Which entries were timed again, and with what spread in the end
     * (noisy ones marked): the first 20. */
    const char *sep = "re-timed entries: ";
    size_t shown = 0;
    for (size_t i = 0; i < lm_table_count(t) && shown < 20; i++) {
        lm_table_record rec = {.size = sizeof rec};
        if (lm_table_record_info(&rec, t, i) == LM_OK && rec.passes > passes) {
            printf("%s%lld (%zu passes, spread %.0f%%%s)", sep,
                   (long long)rec.id, rec.passes, 100.0 * rec.spread,
                   rec.noisy ? ", noisy" : "");
            sep = ", ";
            shown++;
        }
    }
    if (shown)
        printf("%s\n", retimed > shown ? ", ..." : "");
    report_network(t);
    double load = lm_tool_load_average();
    load = load0 > load ? load0 : load;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    /* The measurement itself keeps `threads` cores busy. */
    if (load > (double)threads + 0.5)
        fprintf(stderr, "layermerge: warning: the load average reached "
                        "%.2f on %ld cores during the measurement: timings "
                        "may be noisy (%zu entries re-timed, %zu noisy)\n",
                load, cores, retimed, noisy);
}
