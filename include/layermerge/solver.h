/* liblayermerge — choosing what to merge and prune (docs/method.md sections 6, 7).
 *
 * An lm_solver holds a copy of what one problem needs (entries, latencies,
 * importances, the original activations), so the inputs may be destroyed
 * right after lm_solver_create. lm_solver_run gives the optimum within a
 * budget as an lm_result; lm_solver_run_front gives every non-dominated
 * (latency, importance) solution up to the budget from the same single DP.
 *
 * Three methods:
 * - LM_METHOD_LAYERMERGE: the LayerMerge DP over table entries (docs/method.md section 6);
 * - LM_METHOD_KIM23: depth compression without pruning (docs/method.md section 7), from the
 *   authors' files (lm_solver_create_kim23);
 * - LM_METHOD_PRUNE: layer pruning as a knapsack (docs/method.md section 7), with per-conv
 *   importances given through lm_solver_set_conv_importance.
 *
 * A result is a partition of positions 0..N into segments, each with the
 * convs it keeps, plus per position 1..N whether it is a boundary and
 * whether it keeps a nonlinearity:
 * - LayerMerge: a segment is one chosen entry. Positions strictly inside a
 *   segment lose their activation. A boundary keeps its original
 *   activation; if the segment ending there spans more than one position
 *   it gets the network's nonlinearity (lm_graph_nonlinearity) even when
 *   originally identity (the authors' MobileNetV2 handling). Position N is
 *   treated like every other boundary: the last segment was scored and
 *   timed with an activation at its end, so a merged final run of
 *   MobileNetV2 ends in the nonlinearity (docs/solvers.md).
 * - kim23: a segment is one merged conv (consecutive merge positions); the
 *   kept activations are the stage-2 boundaries with a = 1. Every conv is
 *   kept. The importance of a chosen extended-importance row is attributed
 *   to its last merged conv.
 * - prune: one segment per conv (c-1, c), keeping c or nothing (kernel 0);
 *   a pruned conv takes its activation with it, a kept one keeps its
 *   original activation.
 *
 * Threads: solvers, results and fronts never change after creation except
 * through lm_solver_set_conv_importance (exclusive access); lm_solver_run
 * and lm_solver_run_front take a const solver and may run concurrently on
 * one solver. Options objects: exclusive while being set, then shareable.
 */
#ifndef LAYERMERGE_SOLVER_H
#define LAYERMERGE_SOLVER_H

#include <stddef.h>
#include <stdint.h>

#include "layermerge/api.h"
#include "layermerge/entries.h"
#include "layermerge/graph.h"
#include "layermerge/status.h"
#include "layermerge/tables.h"

LM_BEGIN_DECLS

/** Opaque solver for one problem. @since 0.2 */
typedef struct lm_solver lm_solver;
/** Opaque solve options. @since 0.2 */
typedef struct lm_solve_options lm_solve_options;
/** Opaque solution. @since 0.2 */
typedef struct lm_result lm_result;
/** Opaque Pareto front (a list of results). @since 0.2 */
typedef struct lm_front lm_front;

/** Which optimisation to run. Values pinned. @since 0.2 */
typedef enum lm_method {
    LM_METHOD_LAYERMERGE = 0,
    LM_METHOD_KIM23 = 1,
    LM_METHOD_PRUNE = 2
} lm_method;

/** How entry latencies become integer units at precision P.
 * LM_ROUNDING_CEIL (default) rounds each entry up, so the solution's real
 * latency never exceeds the budget. LM_ROUNDING_FLOOR floors, as the
 * authors' code does (parity; the result may exceed the budget). Both use
 * B = floor(budget * P) (docs/solvers.md). @since 0.2 */
typedef enum lm_rounding {
    LM_ROUNDING_CEIL = 0,
    LM_ROUNDING_FLOOR = 1
} lm_rounding;

/** "layermerge", "kim23", "prune"; NULL for an unknown value. @since 0.2 */
LM_API const char *lm_method_name(lm_method method);
/** Parse a method name. @return LM_OK, LM_ERR_INVALID_ARG (NULL, unknown
 * name) @since 0.2 */
LM_API lm_status lm_method_from_name(lm_method *out, const char *name);

/* ---- options ----------------------------------------------------------- */

/** New options: LM_METHOD_LAYERMERGE, precision 10 units per latency unit,
 * LM_ROUNDING_CEIL, budget ratio 1.0 (the original network's latency).
 * @param[out] out  owned by the caller (lm_solve_options_destroy)
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL), LM_ERR_NOMEM @since 0.2 */
LM_API lm_status lm_solve_options_create(lm_solve_options **out);
/** Free options; NULL is ignored. @since 0.2 */
LM_API void lm_solve_options_destroy(lm_solve_options *options);
/** @return LM_OK, LM_ERR_INVALID_ARG (NULL, unknown method) @since 0.2 */
LM_API lm_status lm_solve_options_set_method(lm_solve_options *options,
                                             lm_method method);
/** Units per latency unit (e.g. 10 per ms, the authors'); 0 chooses it so
 * that the original network's predicted latency is 10000 units, which
 * keeps the rounding of small entries (a CPU table at a small input size)
 * from distorting the solve.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, negative or not finite)
 * @since 0.2 */
LM_API lm_status lm_solve_options_set_precision(lm_solve_options *options,
                                                double precision);
/** @return LM_OK, LM_ERR_INVALID_ARG (NULL, unknown mode) @since 0.2 */
LM_API lm_status lm_solve_options_set_rounding(lm_solve_options *options,
                                               lm_rounding rounding);
/** Absolute budget in the tables' latency unit. Replaces a ratio set
 * before. @return LM_OK, LM_ERR_INVALID_ARG (NULL), LM_ERR_VALUE (NaN,
 * infinite or negative) @since 0.2 */
LM_API lm_status lm_solve_options_set_budget(lm_solve_options *options,
                                             double budget);
/** Budget as a fraction of the original network's latency
 * (lm_solver_original_latency). Replaces an absolute budget set before.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL), LM_ERR_VALUE (NaN, infinite
 * or <= 0) @since 0.2 */
LM_API lm_status lm_solve_options_set_budget_ratio(lm_solve_options *options,
                                                   double ratio);

/* ---- solver ------------------------------------------------------------ */

/** Solver for LM_METHOD_LAYERMERGE and LM_METHOD_PRUNE over `entries`.
 * Every non-identity entry needs a latency (identity entries cost 0 by
 * definition: the table is not consulted) and every entry an importance
 * (LayerMerge); values are matched by key, never by order. `importance`
 * may be NULL for a solver that only prunes. The graph gives the original
 * activations (docs/method.md section 6, last paragraph); nothing is borrowed.
 * @param[out] out  owned by the caller (lm_solver_destroy)
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL graph, entries or latency; a
 *         graph that is not validated; a table of the wrong kind),
 *         LM_ERR_MISMATCH (graph, entries or
 *         a table of another graph: both fingerprints named),
 *         LM_ERR_MISSING (entries without a value; the message lists the
 *         first ids with their keys and the count), LM_ERR_VALUE (NaN,
 *         infinite or negative latency; NaN or infinite importance; the
 *         message names the entry id and key), LM_ERR_NOMEM
 * @since 0.2 */
LM_API lm_status lm_solver_create(lm_solver **out, const lm_graph *graph,
                                  const lm_entries *entries,
                                  const lm_table *latency,
                                  const lm_table *importance);

/** Solver for LM_METHOD_KIM23 from the authors' files: a kim23 time table
 * (`id,st,end,time,stdev`) and a raw importance table
 * (`id,st,end,st_act,end_act,val_acc`; raw scores, normalised as docs/method.md section 7).
 * Identity positions are those that carry a 0 flag in the raw table or,
 * when `graph` is not NULL, the graph's identity positions; with a graph
 * the result also gets merged kernels, strides and the fingerprint.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL path), LM_ERR_IO, LM_ERR_PARSE
 *         (missing column, bad cell: file:line), LM_ERR_VALUE,
 *         LM_ERR_DUPLICATE, LM_ERR_MISSING (a position without its default
 *         single-conv row), LM_ERR_MISMATCH (a graph with another number
 *         of convs, a row that is no segment of the time table),
 *         LM_ERR_NOMEM; messages name the file
 * @since 0.2 */
LM_API lm_status lm_solver_create_kim23(lm_solver **out,
                                        const char *time_csv,
                                        const char *raw_importance_csv,
                                        const lm_graph *graph);

/** Free a solver; NULL is ignored. @since 0.2 */
LM_API void lm_solver_destroy(lm_solver *solver);

/** Importance of keeping each trunk conv, for LM_METHOD_PRUNE:
 * `importance[i]` for conv i + 1 (copied). Irreducible convs are always
 * kept; their values are ignored.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, n != the conv count, a kim23
 *         solver), LM_ERR_VALUE (NaN or infinite, naming the conv),
 *         LM_ERR_NOMEM @since 0.2 */
LM_API lm_status lm_solver_set_conv_importance(lm_solver *solver,
                                               const double *importance,
                                               size_t n);

/** Predicted latency of the original network: the latency table's fixed
 * cost plus the sum of the single-conv entries that keep every conv
 * (kim23: of the single-conv segments); 0 for NULL. A budget ratio is a
 * fraction of it. @since 0.2 */
LM_API double lm_solver_original_latency(const lm_solver *solver);
/** The latency table's fixed cost (lm_table_network.fixed_ms): the part of
 * every network's latency that no entry carries; 0 when the table has
 * none, for kim23 and for NULL. @since 0.2 */
LM_API double lm_solver_fixed_latency(const lm_solver *solver);
/** N, the number of trunk convs (0 for NULL). @since 0.2 */
LM_API size_t lm_solver_conv_count(const lm_solver *solver);

/** Solve.
 * @param[out] out  owned by the caller (lm_result_destroy)
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL; a method this solver cannot
 *         run: kim23 needs lm_solver_create_kim23, the others
 *         lm_solver_create; LayerMerge on a solver made without an
 *         importance table), LM_ERR_INFEASIBLE (the message states the
 *         smallest feasible budget), LM_ERR_STATE (prune without conv
 *         importances), LM_ERR_UNSUPPORTED (a budget beyond 2^31 units,
 *         or a table (positions x budget units) above 2 GiB: checked
 *         before allocating, the message gives the memory it would need
 *         and the largest precision that fits), LM_ERR_NOMEM
 * @since 0.2 */
LM_API lm_status lm_solver_run(lm_result **out, const lm_solver *solver,
                               const lm_solve_options *options);

/** Every non-dominated solution with latency up to the budget, by
 * increasing discretised latency; its last point is the lm_solver_run
 * optimum. Same errors as lm_solver_run, plus LM_ERR_UNSUPPORTED for
 * LM_METHOD_PRUNE (the knapsack keeps no front).
 * @param[out] out  owned by the caller (lm_front_destroy) @since 0.2 */
LM_API lm_status lm_solver_run_front(lm_front **out,
                                     const lm_solver *solver,
                                     const lm_solve_options *options);

/* ---- results ----------------------------------------------------------- */

/** Free a result; NULL is ignored. @since 0.2 */
LM_API void lm_result_destroy(lm_result *result);
/** The method that produced it. @since 0.2 */
LM_API lm_method lm_result_method(const lm_result *result);
/** The rounding mode used. @since 0.2 */
LM_API lm_rounding lm_result_rounding(const lm_result *result);
/** Summed importance of the chosen entries (kim23: extended importance;
 * prune: of the kept prunable convs). @since 0.2 */
LM_API double lm_result_importance(const lm_result *result);
/** Predicted latency of the whole compressed network: the fixed cost plus
 * the real-valued sum of the chosen entries. @since 0.2 */
LM_API double lm_result_latency(const lm_result *result);
/** The fixed cost included in lm_result_latency (0 without one).
 * @since 0.2 */
LM_API double lm_result_fixed_latency(const lm_result *result);
/** Discretised latency sum of the chosen entries, in units (divide by the
 * precision for time; the fixed cost is not included). @since 0.2 */
LM_API int64_t lm_result_latency_units(const lm_result *result);
/** The budget that was asked for, in latency units (a ratio already
 * multiplied by the original latency). @since 0.2 */
LM_API double lm_result_budget(const lm_result *result);
/** The entries' budget in units, floor((budget - fixed cost) *
 * precision). @since 0.2 */
LM_API int64_t lm_result_budget_units(const lm_result *result);
/** Precision used. @since 0.2 */
LM_API double lm_result_precision(const lm_result *result);
/** Fingerprint of the graph the result belongs to; "" for kim23 results
 * made without a graph. Borrowed from the result. @since 0.2 */
LM_API const char *lm_result_fingerprint(const lm_result *result);
/** N, the number of trunk convs. @since 0.2 */
LM_API size_t lm_result_conv_count(const lm_result *result);

/** One chosen segment. Set `size = sizeof(lm_result_segment)` before
 * the call; the library writes only within `size`. @since 0.2 */
typedef struct lm_result_segment {
    size_t size;
    size_t st;          /**< start position */
    size_t end;         /**< end position; convs st+1 .. end */
    size_t entry;       /**< entry id (LayerMerge, prune keeps); SIZE_MAX
                             where no entry applies */
    int64_t kernel;     /**< merged kernel; 0 identity; -1 unknown (kim23
                             without a graph) */
    int64_t stride;     /**< merged stride; -1 unknown */
    int32_t depthwise;  /**< 1 when every kept conv is depthwise */
    int32_t identity;   /**< 1 when nothing is kept */
    double latency;     /**< real latency of this segment */
    double importance;  /**< importance attributed to this segment */
    size_t n_kept;      /**< kept convs */
    const size_t *kept; /**< 1-based, ascending; borrowed from the result;
                             NULL when n_kept is 0 */
} lm_result_segment;

/** Number of chosen segments. @since 0.2 */
LM_API size_t lm_result_segment_count(const lm_result *result);
/** Describe chosen segment `index` (position order).
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, out of range, size too small)
 * @since 0.2 */
LM_API lm_status lm_result_segment_info(lm_result_segment *info,
                                        const lm_result *result, size_t index);

/** What a result does with one trunk conv. Set
 * `size = sizeof(lm_result_conv)` before the call. @since 0.2 */
typedef struct lm_result_conv {
    size_t size;
    int32_t kept;    /**< 1 kept, 0 pruned to identity */
    size_t segment;  /**< index of the chosen segment holding it */
} lm_result_conv;

/** Describe what the result does with trunk conv `conv` (1..N).
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, out of range, size too small)
 * @since 0.2 */
LM_API lm_status lm_result_conv_info(lm_result_conv *info,
                                     const lm_result *result, size_t conv);

/** What a result does with one position. Set
 * `size = sizeof(lm_result_position)` before the call. @since 0.2 */
typedef struct lm_result_position {
    size_t size;
    /** 1 when the position ends a segment (LayerMerge: an entry; kim23: a
     * merge position, the union of the breaks) */
    int32_t is_boundary;
    /** 1 when the position keeps a nonlinearity (header comment) */
    int32_t activation_kept;
} lm_result_position;

/** Describe what the result does at `position` (1..N).
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, out of range, size too small)
 * @since 0.2 */
LM_API lm_status lm_result_position_info(lm_result_position *info,
                                         const lm_result *result,
                                         size_t position);

/** Write the result as YAML (temporary file renamed over `path`): keys
 * `format: layermerge-result`, `version`, `method`, `fingerprint`,
 * `conv_count`, `budget`, `budget_units`, `precision`, `rounding`,
 * `importance`, `latency` (the whole network's), `fixed_latency`,
 * `latency_discrete`, `activations` (positions
 * whose activation is kept), `convs` (kept conv indices), `merges`
 * (boundary positions), `segments` (each with `st`, `end`, `entry` (absent
 * when none), `ker`, `str`, `is_dw`, `latency`, `importance`, `convs`).
 * Doubles read back bit-identical.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL), LM_ERR_IO, LM_ERR_NOMEM
 * @since 0.2 */
LM_API lm_status lm_result_save(const lm_result *result, const char *path);
/** Load a result written by lm_result_save.
 * @param[out] out  owned by the caller (lm_result_destroy)
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL), LM_ERR_IO, LM_ERR_PARSE
 *         (syntax, unknown or missing key, wrong type, segments that do
 *         not partition 0..N, positions out of range; file:line:col),
 *         LM_ERR_UNSUPPORTED (version), LM_ERR_NOMEM @since 0.2 */
LM_API lm_status lm_result_load(lm_result **out, const char *path);

/* ---- Pareto front ------------------------------------------------------ */

/** Free a front; NULL is ignored. @since 0.2 */
LM_API void lm_front_destroy(lm_front *front);
/** Number of non-dominated solutions (0 for NULL). @since 0.2 */
LM_API size_t lm_front_count(const lm_front *front);
/** Solution `index` (increasing latency); borrowed from the front, NULL
 * out of range. @since 0.2 */
LM_API const lm_result *lm_front_get(const lm_front *front, size_t index);

LM_END_DECLS

#endif /* LAYERMERGE_SOLVER_H */
