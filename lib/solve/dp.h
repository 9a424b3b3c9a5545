/* Private: the LayerMerge DP (docs/method.md section 6) on plain data.
 *
 * Positions 0..N; each candidate item covers one segment (st, end] with a
 * latency and an importance (one table entry of that segment). A solution
 * partitions 0..N into items' segments; the solver maximises the summed
 * importance with the summed discretised latency <= B (see discretise.h for
 * the rounding modes and their guarantee; ties: discretise.h lm_key7, then
 * fewer units, then the item met first in item order). */
#ifndef LM_SOLVE_DP_H
#define LM_SOLVE_DP_H

#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "layermerge/status.h"
#include "solve/discretise.h"

typedef struct lm_dp_item {
    uint32_t st, end;  /* 0 <= st < end <= n_positions */
    double latency;    /* finite, >= 0 */
    double importance; /* finite */
    int64_t id;        /* opaque to the solver; named in messages */
} lm_dp_item;

typedef struct lm_dp_problem {
    size_t n_positions;       /* N: positions are 0..N */
    const lm_dp_item *items;  /* copied by lm_dp_solve */
    size_t n_items;
    double precision;         /* P, units per latency unit, > 0 */
    double budget;            /* T0 in latency units */
    lm_round_mode rounding;
} lm_dp_problem;

/* One solution: its items (indices into the problem's items, in position
 * order), discretised and real latency sums, and summed importance. */
typedef struct lm_dp_solution {
    size_t n_items;
    size_t *items;
    int64_t units;
    double latency;
    double importance;
} lm_dp_solution;

typedef struct lm_dp lm_dp;

/* Validate, discretise and tabulate. Returns LM_ERR_INVALID_ARG (NULL,
 * N == 0, an item's segment out of range, bad precision or rounding),
 * LM_ERR_VALUE (an item's latency NaN/infinite/negative or importance
 * NaN/infinite, naming the item; a NaN or infinite budget),
 * LM_ERR_INFEASIBLE (no partition covers 0..N, or the budget is below the
 * smallest feasible one, which the message states), LM_ERR_NOMEM,
 * LM_ERR_UNSUPPORTED (a budget beyond 2^31 units). *out owned by the
 * caller: lm_dp_destroy. */
LM_NODISCARD
lm_status lm_dp_solve(lm_dp **out, const lm_dp_problem *prob);
void lm_dp_destroy(lm_dp *dp);

/* The optimum within the budget; `out` filled, owned by the caller
 * (lm_dp_solution_clear). LM_ERR_NOMEM. */
LM_NODISCARD
lm_status lm_dp_best(const lm_dp *dp, lm_dp_solution *out);

/* Every non-dominated (units, importance) pair with units <= B, by
 * increasing units (and importance), each with its solution. *out owned by
 * the caller: lm_dp_front_free. LM_ERR_NOMEM. */
LM_NODISCARD
lm_status lm_dp_front(const lm_dp *dp, lm_dp_solution **out, size_t *n_out);

void lm_dp_solution_clear(lm_dp_solution *sol);
void lm_dp_front_free(lm_dp_solution *front, size_t n);

/* B of the problem (before any internal capping). */
int64_t lm_dp_budget_units(const lm_dp *dp);
/* Discretised latency of item i. */
int64_t lm_dp_item_units(const lm_dp *dp, size_t i);
/* Bytes held by the DP tables. */
size_t lm_dp_table_bytes(const lm_dp *dp);

#endif
