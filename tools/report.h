/* `layermerge compress --report DIR`: one self-contained HTML page
 * (inline CSS and SVG, nothing fetched) with the budget table, predicted
 * against measured latency, the Pareto front and, per budget, a picture
 * of what was done to the network. Public API only. */
#ifndef LM_TOOLS_REPORT_H
#define LM_TOOLS_REPORT_H

#include <stddef.h>

#include "layermerge/layermerge.h"
#include "svg.h"

/* One budget as compress measured it (ms throughout). */
typedef struct lm_tool_report_budget {
    double ratio, budget_ms, predicted_ms;
    double merged_ms, merged_min_ms, merged_max_ms; /* median, fastest,
                                                       slowest round */
    double max_rel;     /* the merge's largest relative deviation */
    size_t convs_after; /* convs of the merged network */
    const lm_result *result;
} lm_tool_report_budget;

typedef struct lm_tool_report {
    const lm_graph *graph;
    const lm_solver *solver;   /* the front is solved on it */
    double precision;          /* of the solves (0: automatic) */
    size_t n_entries;
    const char *protocol;      /* how the networks were timed, one line */
    const char *table_note;    /* which latency table the solver used */
    double original_ms, original_min_ms, original_max_ms;
    double original_importance;
    const lm_tool_report_budget *budgets;
    size_t n_budgets;
} lm_tool_report;

/* The page into `b` (0), or 1 with a message when the front cannot be
 * solved. */
int lm_tool_report_html(lm_tool_buf *b, const lm_tool_report *r);

/* Create `dir` (and its parents) and write dir/index.html atomically:
 * 0, or 1 with a message naming the path. */
int lm_tool_report_write(const char *dir, const lm_tool_report *r);

/* dir/index.html into `out` (`n` bytes); 0 when it does not fit. */
int lm_tool_report_path(char *out, size_t n, const char *dir);

#endif
