/* Private: the option objects of lib/measure and the helpers shared by the
 * latency measurement and the proxy importance. */
#ifndef LM_MEASURE_MEASURE_INTERNAL_H
#define LM_MEASURE_MEASURE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "layermerge/measure.h"

/* What the latency and proxy loops share: which ids, where to save, whom
 * to tell. */
typedef struct lm_mrun {
    size_t lo, hi;     /* ids [lo, hi); hi SIZE_MAX = to the end */
    char *save_path;   /* NULL: no autosave */
    lm_progress_fn progress;
    void *progress_data;
} lm_mrun;

struct lm_measure_options {
    lm_mrun run;
    size_t batch, warmup, reps;
    int64_t height, width; /* 0: the graph's own */
    lm_timer_fn timer;
    void *timer_data;
    size_t threads;        /* OpenBLAS threads while measuring */
    size_t passes;         /* passes over the entries, shuffled */
    uint64_t seed;         /* of the pass orders */
    double noise_limit;    /* relative spread that calls for re-measuring */
    size_t extra_passes;   /* at most this many re-measuring passes */
    int network;           /* also time the whole network (fixed cost) */
};

struct lm_proxy_options {
    lm_mrun run;
    size_t batch;
    int64_t height, width;
    uint64_t seed;
    float *inputs; /* caller's batch, NULL: N(0, 1) from seed */
    size_t n_inputs;
    float *timesteps; /* caller's, NULL: uniform in [0, 1000) from seed */
    size_t n_timesteps;
};

/* Fill with the defaults (which own no allocation, so a stack copy needs
 * no destroy). */
void lm_measure_options_init(lm_measure_options *o);
void lm_proxy_options_init(lm_proxy_options *o);

void lm_mrun_defaults(lm_mrun *run);
void lm_mrun_free(lm_mrun *run);
LM_NODISCARD
lm_status lm_mrun_set_range(lm_mrun *run, size_t lo, size_t hi);
LM_NODISCARD
lm_status lm_mrun_set_save_path(lm_mrun *run, const char *path);

/* Clip the range to `count` entries; LM_ERR_INVALID_ARG (naming `what`)
 * when it starts past the last entry. */
LM_NODISCARD
lm_status lm_mrun_bounds(const lm_mrun *run, size_t count, const char *what,
                         size_t *lo, size_t *hi);

/* What one table-filling run does per entry; `ctx` is the run's own
 * state, handed to every callback. */
typedef struct lm_mfill {
    const char *what; /* "lm_table_measure_latency": starts every message */
    const lm_entries *entries;
    void *ctx;
    /* Non-zero when the table holds the entry already (it is skipped). */
    int (*has)(const void *ctx, const lm_entry_info *info);
    /* Compute one entry and store it in the table. */
    lm_status (*store)(void *ctx, const lm_entry_info *info);
    /* Save the table at `path` (autosave). */
    lm_status (*save)(const void *ctx, const char *path);
} lm_mfill;

/* Fill entries [lo, hi) (from lm_mrun_bounds): skip those held, store the
 * others, saving after each and at the end when run->save_path is set, and
 * report progress. A store error is prefixed "<what>: entry N (st S, end
 * E, kernel K, stride T, dw D): "; a progress callback that returns
 * non-zero stops the run with LM_ERR_CANCELLED. */
LM_NODISCARD
lm_status lm_mrun_fill(const lm_mrun *run, size_t lo, size_t hi,
                       const lm_mfill *f);

/* The entries must come from `graph` and the table (fingerprint
 * `table_fp`) belong to it: LM_ERR_MISMATCH "<what>: ..." otherwise. */
LM_NODISCARD
lm_status lm_measure_check_owner(const char *what, const lm_graph *graph,
                                 const lm_entries *entries,
                                 const char *table_fp);

/* Seconds on CLOCK_MONOTONIC (0 if the clock fails: progress only). */
double lm_measure_now(void);

/* "cpu <model name>, OpenBLAS <n> threads" as far as it is known. */
void lm_measure_device(char *buf, size_t cap);

/* Round `v * to / from` to nearest, at least 1 (`to` 0: v unchanged). */
int64_t lm_measure_scale(int64_t v, int64_t to, int64_t from);

/* The activation after an entry's merged conv (docs/method.md section 6). */
lm_act lm_measure_end_act(const lm_graph *graph, size_t st, size_t end);

/* A validated copy of `graph` with input height x width (graph's own when
 * 0); LM_ERR_VALIDATION when the graph refuses that size. */
LM_NODISCARD
lm_status lm_measure_resized_graph(lm_graph **out, const lm_graph *graph,
                                   int64_t height, int64_t width);

/* Check a resumed table's provenance integer: 0 in the table (unset) or
 * equal. LM_ERR_MISMATCH naming the field and both values otherwise. */
LM_NODISCARD
lm_status lm_measure_same_int(const char *what, int64_t have, int64_t want);

/* With the built-in timer: profile the original network at the table's
 * shape (height x width; 0: the graph's own), batch and threads, and store
 * its fixed cost and, when every original entry is in the table, the
 * in-network calibration of each stage (network.c). */
LM_NODISCARD
lm_status lm_measure_network(lm_table *table, const lm_graph *graph,
                             const lm_entries *entries,
                             const lm_measure_options *o, int64_t height,
                             int64_t width);

/* lm_entry_time with the GroupNorm that belongs to the entry's activation
 * (the segment end conv's, U-Nets; norm_groups 0: none) timed with it. */
LM_NODISCARD
lm_status lm_measure_entry_time(lm_timing *timing, const lm_entry_info *entry,
                                lm_act act, int64_t norm_groups,
                                double norm_eps, size_t batch, size_t warmup,
                                size_t reps);

/* The entry's input size at the run's input size: position st's size
 * scaled, plus what the segment's first conv's pre layers add (a pad). */
void lm_measure_entry_size(const lm_graph *g, const lm_entry_info *e,
                           int64_t to_h, int64_t to_w, int64_t from_h,
                           int64_t from_w, int64_t *h, int64_t *w);

#endif
