/* Private: layer pruning as a 0/1 knapsack (docs/method.md section 7, last
 * paragraph). Each prunable conv is an item (latency of that conv alone
 * with its activation, importance); irreducible convs are required: always
 * kept, their discretised latency taken from the budget first. */
#ifndef LM_SOLVE_KNAPSACK_H
#define LM_SOLVE_KNAPSACK_H

#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "layermerge/status.h"
#include "solve/discretise.h"

typedef struct lm_ks_item {
    double latency;    /* finite, >= 0 */
    double importance; /* finite (ignored for required items) */
    int required;      /* irreducible: always kept */
    int64_t id;        /* opaque; named in messages */
} lm_ks_item;

typedef struct lm_ks_problem {
    const lm_ks_item *items;
    size_t n_items;
    double precision, budget;
    lm_round_mode rounding;
} lm_ks_problem;

/* Kept items (indices, ascending, required ones included), units and real
 * latency over all kept items, importance summed over kept prunable items. */
typedef struct lm_ks_solution {
    size_t n_kept;
    size_t *kept;
    int64_t units;
    double latency, importance;
} lm_ks_solution;

/* Maximise the kept prunable importance with sum of g over all kept items
 * <= B = floor(T0 * P). Ties: importance rounded to 7 decimals, then fewer
 * units, then leaving the later item out (earlier items win). Memory
 * n_prunable * (B + 1) bytes of choices. LM_ERR_INVALID_ARG, LM_ERR_VALUE
 * (naming the item), LM_ERR_INFEASIBLE (required items alone exceed the
 * budget; the message states their sum), LM_ERR_NOMEM,
 * LM_ERR_UNSUPPORTED. *out owned by the caller (lm_ks_solution_clear). */
LM_NODISCARD
lm_status lm_ks_solve(lm_ks_solution *out, const lm_ks_problem *prob);
void lm_ks_solution_clear(lm_ks_solution *sol);

#endif
