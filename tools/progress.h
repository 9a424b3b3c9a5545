/* What the measuring commands (`latency`, `importance proxy`) share: the
 * option loop, -o and --range, the progress bar with Ctrl-C, and the
 * resume and end-of-run messages. */
#ifndef LM_TOOLS_PROGRESS_H
#define LM_TOOLS_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

#include "layermerge/layermerge.h"

/* The progress bar on stderr: \r redraws on a terminal, a line every 5%
 * otherwise; `already` entries were present before the run. Its callback
 * cancels after SIGINT/SIGTERM once lm_tool_catch_interrupt() was called.
 * The time left is the work still owed at the rate the run has done work
 * so far: with lm_tool_bar_weigh(), an entry's work is the multiply-adds
 * of its merged conv and activation (a 7x7 conv at 56x56 costs hundreds
 * of times a 1x1 at 7x7), else one per entry. */
typedef struct lm_tool_bar {
    size_t already;
    int tty;
    double next_pct;
    const lm_entries *weigh; /* NULL: one per entry */
    double mean_work;        /* per timing still owed */
    double done_work;        /* of the timings reported in this run */
    const char *label;       /* "latency: " before the count, or "" */
} lm_tool_bar;
void lm_tool_bar_init(lm_tool_bar *bar, size_t already);
/* Weigh the timings by entry work; `mean_work` from the non-identity
 * entries of [lo, hi) (identity entries are never timed). A weighed bar
 * counts timings (an entry is timed once per pass): it says so. */
void lm_tool_bar_weigh(lm_tool_bar *bar, const lm_entries *entries,
                       size_t lo, size_t hi);
/* Seconds left after `elapsed_s`, with `done` of `total` timings done:
 * the owed work at the rate of bar->done_work. */
double lm_tool_bar_left(const lm_tool_bar *bar, size_t done, size_t total,
                        double elapsed_s);
/* Multiply-adds of one run of entry `id`'s merged conv and activation at
 * batch 1 (0 for the identity entry or an unknown id). */
double lm_tool_entry_work(const lm_entries *entries, size_t id);
int lm_tool_progress(size_t done, size_t total, size_t entry_id,
                     double elapsed_s, void *userdata);
void lm_tool_catch_interrupt(void);

/* The 1-minute load average (/proc/loadavg), or -1 when unknown. */
double lm_tool_load_average(void);

/* After a latency measurement: its threads and passes, how many entries
 * were re-timed and which are noisy, the whole-network figures, and a
 * warning naming the load average when the machine was busy (`load0` is
 * the load average before the run). */
void lm_tool_report_passes(const lm_table *t, size_t threads, size_t passes,
                           double load0);

/* Parse a non-negative integer / "A:B" with A < B; 1 on success. */
int lm_tool_parse_size(const char *s, size_t *out);
int lm_tool_parse_range(const char *s, size_t *lo, size_t *hi);

/* A command's options: those in the NULL-terminated `valued` take a value
 * ("--opt VALUE" or "--opt=VALUE"), handed to value(); those in `flags`
 * (may be NULL) take none and go to flag(); other words, "-" and every
 * word after "--" go to file(). All return 0 or an exit code. */
typedef struct lm_tool_opts {
    const char *cmd; /* "latency": names the command in messages */
    const char *const *valued;
    int (*value)(const char *opt, const char *val, void *args);
    int (*file)(const char *word, void *args);
    const char *const *flags;
    int (*flag)(const char *opt, void *args);
} lm_tool_opts;

/* Walk argv[first..]; 0, or the first non-zero exit code (2 for an
 * unknown option, a missing value or a value given to a flag). */
int lm_tool_parse_argv(const lm_tool_opts *o, int argc, char **argv,
                       int first, void *args);

/* "<cmd>: <opt>: '<val>' is not <what>" as a usage error (2). */
int lm_tool_number_error(const char *cmd, const char *opt, const char *val,
                         const char *what);
/* A whole number in [min, max] (max SIZE_MAX: no bound) into *out; else a
 * usage error naming the option and the value (2). */
int lm_tool_whole(const char *cmd, const char *opt, const char *val,
                  size_t min, size_t max, size_t *out);
/* A finite number in (lo, hi] (open_lo) or [lo, hi] into *out; hi >= 1e300
 * means no upper bound; else a usage error naming both (2). */
int lm_tool_real(const char *cmd, const char *opt, const char *val,
                 int open_lo, double lo, double hi, double *out);

/* The output table and the entry ids a run covers. */
typedef struct lm_tool_span {
    const char *out;
    size_t lo, hi;
    int has_range;
} lm_tool_span;

/* A number option's value was parsed into *number (see below). */
#define LM_TOOL_NUMBER (-1)

/* Take -o/--output and --range into `span`, returning 0 (or 2 for a bad
 * range); any other option's value must be a non-negative integer, put in
 * *number with LM_TOOL_NUMBER returned (or 2 when it is not one). */
int lm_tool_span_value(const char *cmd, const char *opt, const char *val,
                       lm_tool_span *span, size_t *number);

/* One resumable run filling a table: lm_tool_table_run(), then
 * lm_tool_run_begin() before the library call and lm_tool_run_end() with
 * its status. */
typedef struct lm_tool_run {
    const char *cmd;  /* "latency" */
    const char *verb; /* "measured" (latency) or "scored" (importance) */
    const lm_entries *entries;
    const lm_table *table;
    size_t total, present; /* set by lm_tool_run_begin */
    lm_tool_bar bar;
} lm_tool_run;

/* A run over `table` for the command `cmd`. */
lm_tool_run lm_tool_table_run(const char *cmd, const lm_entries *entries,
                              const lm_table *table);

/* Count the entries of the span the table already holds, say so when
 * resuming, ready the bar and catch Ctrl-C. */
void lm_tool_run_begin(lm_tool_run *r, const lm_tool_span *span);

/* The exit code for the run's status, with its message: interrupted (what
 * the table keeps), failed, or what was done. */
int lm_tool_run_end(const lm_tool_run *r, const lm_tool_span *span,
                    lm_status st);

#endif
