/* `--timer-cmd CMD`: any runtime as the timer (docs/measure.md, "Other
 * runtimes"). What is timed is written as an ONNX model; CMD runs through
 * /bin/sh with {onnx} replaced by the model's path (shell-quoted), {batch}
 * and {threads} by the numbers, and the last line it prints on stdout
 * must be the median milliseconds, optionally followed by a spread:
 * "MEDIAN [STDEV]". A non-zero exit or a last line that is not such a
 * number is an error that names what was timed and shows the tail of
 * CMD's stderr. */
#ifndef LM_TOOLS_TIMER_CMD_H
#define LM_TOOLS_TIMER_CMD_H

#include <stddef.h>

#include "layermerge/layermerge.h"

typedef struct lm_tool_timer {
    const char *cmd;        /* the template */
    const lm_graph *graph;  /* for the entries' activations */
    size_t threads;
    char dir[512];          /* scratch directory of the models */
    char text[4200];        /* provenance: "command: CMD" */
} lm_tool_timer;

/* Make the scratch directory; 0, or 1 after printing why not. */
int lm_tool_timer_open(lm_tool_timer *t, const char *cmd,
                       const lm_graph *graph, size_t threads);
/* Remove the scratch directory and the models in it. */
void lm_tool_timer_close(lm_tool_timer *t);

/* An lm_timer_fn (`userdata` is the lm_tool_timer): the entry's merged
 * conv and its activation (the rule of lm_table_measure_latency) as a
 * one-conv model at the entry's shape and `batch`, written once per entry
 * and timed by CMD. */
lm_status lm_tool_timer_entry(double *median_ms, double *stdev_ms,
                              const lm_entry_info *entry, size_t batch,
                              void *userdata);

/* Export `graph` with `weights` as t->dir/NAME.onnx at `batch` into
 * `path`. */
lm_status lm_tool_timer_export(char *path, size_t cap, lm_tool_timer *t,
                               const lm_graph *graph,
                               const lm_weights *weights, size_t batch,
                               const char *name);

/* Time the model at `onnx` with CMD; `what` names it in errors. */
lm_status lm_tool_timer_run(double *median_ms, double *stdev_ms,
                            lm_tool_timer *t, const char *onnx, size_t batch,
                            const char *what);

/* Before measuring: a table that holds records timed otherwise is refused
 * (LM_ERR_MISMATCH, printed); else its timer text becomes t->text. */
lm_status lm_tool_timer_claim(lm_table *table, const lm_tool_timer *t);

/* After measuring: the table's whole-network model from CMD, as the
 * built-in timer gets it from the engine's profile (docs/measure.md): the
 * original network (`graph` at the table's input size, random weights) is
 * exported up to each stage boundary (position 0, the barriers, N) and
 * whole, each timed in 3 rotated rounds (median). A stage's in-network
 * time is the difference of the prefixes at its ends, set against the sum
 * of its original entries (lm_table_set_stage); the fixed cost is the
 * stem's prefix plus what the head adds. Prints the figures on stderr. */
lm_status lm_tool_timer_network(lm_tool_timer *t, lm_table *table,
                                const lm_graph *graph,
                                const lm_entries *entries, size_t batch);

#endif
