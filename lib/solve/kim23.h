/* Private: depth compression without pruning (kim23, docs/method.md section
 * 7): stage 1 fastest merge cover, the extended importance, stage 2 DP. */
#ifndef LM_SOLVE_KIM23_H
#define LM_SOLVE_KIM23_H

#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "layermerge/status.h"
#include "solve/discretise.h"

/* Largest position the dense (st, end) look-ups accept. */
#define LM_K23_MAX_POSITIONS 2048

/* One row of a time table: the conv merging every conv of (st, end]. The
 * rows are the valid segments. */
typedef struct lm_k23_segment {
    uint32_t st, end;
    double time, stdev;
} lm_k23_segment;

/* The fastest cover of a segment by merged convs without activations in
 * between: T_opt, the summed stdev of its pieces and its breaks (st, inner
 * merge positions, end). */
typedef struct lm_k23_cover {
    double time, stdev;
    size_t n_breaks;
    uint32_t *breaks;
} lm_k23_cover;

/* Stage 1 over segments in any order (processed by st, then end; a split j
 * counts only where (st, j) and (j, end) are both rows; the first j with a
 * strictly smaller sum wins). *out: n covers parallel to segs, owned by the
 * caller (lm_k23_covers_free). LM_ERR_INVALID_ARG (st >= end, end beyond
 * LM_K23_MAX_POSITIONS), LM_ERR_VALUE (time or stdev NaN, infinite or
 * negative), LM_ERR_DUPLICATE (a segment twice), LM_ERR_NOMEM. */
LM_NODISCARD
lm_status lm_k23_opt_time(lm_k23_cover **out, const lm_k23_segment *segs,
                          size_t n);
void lm_k23_covers_free(lm_k23_cover *covers, size_t n);

/* One raw importance row (st, end, st_act, end_act, score), or, for stage 2,
 * one extended-importance row with score = I_ext. */
typedef struct lm_k23_row {
    uint32_t st, end;
    uint8_t st_act, end_act; /* 0 or 1 */
    double score;
} lm_k23_row;

/* Extended importance, in file order: subtract the mean raw score of the
 * default single-conv rows (end - st = 1, (st_act == 1) == nonlinear[st],
 * (end_act == 1) == nonlinear[end], plus every (0, 1) row), then
 * I_ext(st,end,a,b) = max(h(st,end,a,b), max over st<j<end of
 * I_ext(st,j,a,0) + h(j,end,0,b)) using only I_ext rows met earlier in the
 * file and h rows that exist; the first j with a strictly larger sum wins.
 * nonlinear: n_positions + 1 flags. ext: n values parallel to raw (caller's
 * array); *mean_out: the subtracted mean. LM_ERR_INVALID_ARG (segment out
 * of range, flag not 0/1), LM_ERR_VALUE (score NaN/infinite),
 * LM_ERR_DUPLICATE, LM_ERR_MISSING (a position p without its default row
 * (p-1, p)), LM_ERR_NOMEM. */
LM_NODISCARD
lm_status lm_k23_ext_importance(double *ext, double *mean_out,
                                const lm_k23_row *raw, size_t n,
                                size_t n_positions, const uint8_t *nonlinear);

/* Stage 2: segments with their covers (T_opt and breaks), ext rows with
 * score = I_ext. */
typedef struct lm_k23_problem {
    size_t n_positions;
    const lm_k23_segment *segments;
    const lm_k23_cover *covers; /* parallel to segments */
    size_t n_segments;
    const lm_k23_row *ext;
    size_t n_ext;
    double precision, budget;
    lm_round_mode rounding;
} lm_k23_problem;

/* A stage-2 solution: chosen ext rows in position order; act[p] = 1 where
 * a boundary keeps (or gains) an activation (a = 1; position 0 is not
 * reported); merge[p] = 1 at the union of the chosen covers' breaks
 * (position 0 excluded, N included); units, real T_opt sum, importance. */
typedef struct lm_k23_solution {
    size_t n_rows;
    size_t *rows;
    uint8_t *act;   /* n_positions + 1 */
    uint8_t *merge; /* n_positions + 1 */
    int64_t units;
    double latency, importance;
} lm_k23_solution;

typedef struct lm_k23 lm_k23;

/* Validate, discretise g = T_opt(i, m) and tabulate D[t][m][a]; states
 * (m, a) are DP nodes 2m + a, scanned i ascending then j = 0, 1 (the
 * authors' order) for the "first met" tie. LM_ERR_INVALID_ARG, LM_ERR_VALUE
 * (naming the row), LM_ERR_MISSING (an ext row whose segment has no
 * cover), LM_ERR_INFEASIBLE (message states the smallest feasible budget),
 * LM_ERR_NOMEM, LM_ERR_UNSUPPORTED. */
LM_NODISCARD
lm_status lm_k23_run(lm_k23 **out, const lm_k23_problem *prob);
void lm_k23_destroy(lm_k23 *k);

/* The optimum: the better of a = 0 and a = 1 at (B, N) by the tie rule,
 * a = 0 on a full tie. Caller owns *out (lm_k23_solution_clear). */
LM_NODISCARD
lm_status lm_k23_best(const lm_k23 *k, lm_k23_solution *out);

/* The Pareto front over both end states, by increasing units. */
LM_NODISCARD
lm_status lm_k23_front(const lm_k23 *k, lm_k23_solution **out, size_t *n);

void lm_k23_solution_clear(lm_k23_solution *sol);
void lm_k23_front_free(lm_k23_solution *front, size_t n);

#endif
