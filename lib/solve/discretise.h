/* Private: turning real latencies into integer time units, and the
 * importance comparison shared by every solver (docs/method.md sections 6 and
 * 7). */
#ifndef LM_SOLVE_DISCRETISE_H
#define LM_SOLVE_DISCRETISE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "layermerge/status.h"

/* How an entry's latency T becomes units at precision P.
 * LM_ROUND_CEIL (default): g = ceil(T*P), budget B = floor(T0*P). Any
 *   solution with sum g <= B then has real latency sum <= T0, so the chosen
 *   network never exceeds the budget. A product within a relative 1e-9 of
 *   an integer counts as that integer (0.3 ms * 10 is 3 units, not the 4
 *   that 3.0000000000000004 would give), so the guarantee holds up to that
 *   relative 1e-9 of floating-point noise in decimal inputs.
 * LM_ROUND_FLOOR: g = floor(T*P), B = floor(T0*P), both computed exactly
 *   as the authors' int(T * prec) (no snapping): parity only; the chosen
 *   network may exceed T0. */
typedef enum lm_round_mode {
    LM_ROUND_CEIL = 0,
    LM_ROUND_FLOOR = 1
} lm_round_mode;

/* Units larger than this are treated as "never fits" (saturating sums stay
 * far from int64 overflow for any realistic number of positions). */
#define LM_UNITS_HUGE ((int64_t)1 << 53)

/* Discretised latency of one item (T finite and >= 0, P > 0). */
int64_t lm_disc_units(double latency, double precision, lm_round_mode mode);

/* Discretised budget; -1 for a negative budget (always infeasible). */
int64_t lm_disc_budget(double budget, double precision, lm_round_mode mode);

/* a + b saturating at LM_UNITS_HUGE. */
static inline int64_t lm_units_add(int64_t a, int64_t b)
{
    int64_t s = a + b;
    return s > LM_UNITS_HUGE ? LM_UNITS_HUGE : s;
}

/* Importance compared after rounding to 7 decimals (the authors' round(x, 7)),
 * so that sums accumulated in different orders still tie. */
static inline double lm_key7(double v)
{
    double x = v * 1e7;
    /* Adding and removing 1.5 * 2^52 rounds to nearest-even without a libm
     * call; beyond 2^51 every double is already a multiple of 0.5. */
    if (fabs(x) < 0x1p51)
        return (x + 0x1.8p52) - 0x1.8p52;
    return nearbyint(x);
}

/* Check the solver options shared by all three solvers. LM_ERR_INVALID_ARG
 * for a precision that is not finite and > 0, LM_ERR_VALUE for a budget
 * that is NaN or infinite. */
LM_NODISCARD
lm_status lm_disc_check_options(double precision, double budget,
                                lm_round_mode mode);

/* Check one item's numbers; `what` names it in the message ("item 3
 * (id 17, segment (2, 5))"). LM_ERR_VALUE for NaN, infinite or negative
 * latency, or NaN or infinite importance. */
LM_NODISCARD
lm_status lm_disc_check_item(double latency, double importance,
                             const char *what);

/* Message for an infeasible budget: states the smallest feasible budget. */
LM_NODISCARD
lm_status lm_disc_infeasible(double budget, int64_t budget_units,
                             int64_t min_units, double precision,
                             lm_round_mode mode);

#endif
