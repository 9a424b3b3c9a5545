/* The Pareto front as pictures and data: the SVG plot of `front --svg`
 * and of the `compress --report` page, the CSV of `front --csv`, and the
 * small result summaries both need. Public API only. */
#ifndef LM_TOOLS_FRONT_PLOT_H
#define LM_TOOLS_FRONT_PLOT_H

#include <stddef.h>

#include "layermerge/layermerge.h"
#include "svg.h"

/* What the front plot shows besides the front: the original network (its
 * predicted latency, and its importance when known, else NAN: drawn as a
 * vertical line then) and the solutions chosen at some budget ratios. */
typedef struct lm_tool_front_plot {
    const char *title;
    const lm_front *front;
    double original_ms;
    double original_importance;
    const double *mark_ratios;
    const lm_result *const *marks;
    size_t n_marks;
    int standalone; /* 1: a file of its own (XML declaration) */
} lm_tool_front_plot;

void lm_tool_front_svg(lm_tool_buf *b, const lm_tool_front_plot *p);

/* The front as CSV: a header row, then one row per point with every
 * number at full precision (%.17g reads back bit-identical). */
void lm_tool_front_csv(lm_tool_buf *b, const lm_front *f);

/* "R[,R...]" of ratios in (0, 1]; 1 when it parses and fits in `max`. */
int lm_tool_parse_ratios(const char *s, double *out, size_t max, size_t *n);

/* The original network's summed importance in `imp`: the sum over its
 * single-conv entries (what the front's importance compares with); NAN
 * when either is NULL or an entry has no value. */
double lm_tool_original_importance(const lm_entries *entries,
                                   const lm_table *imp);

/* Convs a result prunes; positions (1..N) where it keeps a nonlinearity. */
size_t lm_tool_pruned_convs(const lm_result *r);
size_t lm_tool_kept_activations(const lm_result *r);

/* The picture options of `front`: --svg FILE, --csv FILE ("-": stdout,
 * instead of the table) and --mark R[,R...] (budget ratios to mark). */
#define LM_TOOL_MAX_MARKS 16
typedef struct lm_tool_front_request {
    const char *svg, *csv;
    double marks[LM_TOOL_MAX_MARKS];
    size_t n_marks;
} lm_tool_front_request;

/* 1 when `opt` is one of them. */
int lm_tool_front_is_option(const char *opt);
/* Take one; 0, or 2 (a usage error of `cmd`) for a bad --mark. */
int lm_tool_front_option(lm_tool_front_request *req, const char *cmd,
                         const char *opt, const char *val);
/* Write the files asked for: 0, or 1 with a message. */
int lm_tool_front_files(const lm_tool_front_request *req,
                        const lm_tool_front_plot *p);

#endif
