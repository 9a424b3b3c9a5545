/* Discretisation of latencies and budgets, and the checks and messages the
 * three solvers share. */
#include "solve/discretise.h"

#include <math.h>

#include "core/error.h"

/* Products this close (relatively) to an integer are taken as that integer
 * in ceil mode: decimal latencies such as 0.3 are not exact in binary. */
#define LM_SNAP 1e-9

static double snap(double q)
{
    double r = nearbyint(q);
    double tol = LM_SNAP * (fabs(q) > 1.0 ? fabs(q) : 1.0);
    return fabs(q - r) <= tol ? r : q;
}

static int64_t clamp_units(double u)
{
    if (!(u < (double)LM_UNITS_HUGE))
        return LM_UNITS_HUGE;
    return (int64_t)u;
}

int64_t lm_disc_units(double latency, double precision, lm_round_mode mode)
{
    double q = latency * precision;
    if (mode == LM_ROUND_FLOOR)
        return clamp_units(floor(q));
    return clamp_units(ceil(snap(q)));
}

int64_t lm_disc_budget(double budget, double precision, lm_round_mode mode)
{
    double q = budget * precision;
    double b = mode == LM_ROUND_FLOOR ? floor(q) : floor(snap(q));
    if (b < 0.0)
        return -1;
    return clamp_units(b);
}

lm_status lm_disc_check_options(double precision, double budget,
                                lm_round_mode mode)
{
    if (!(isfinite(precision) && precision > 0.0))
        return lm_err(LM_ERR_INVALID_ARG,
                      "precision %g is not a finite number > 0", precision);
    if (mode != LM_ROUND_CEIL && mode != LM_ROUND_FLOOR)
        return lm_err(LM_ERR_INVALID_ARG, "unknown rounding mode %d",
                      (int)mode);
    if (!isfinite(budget))
        return lm_err(LM_ERR_VALUE, "budget %g is not a finite number",
                      budget);
    return LM_OK;
}

lm_status lm_disc_check_item(double latency, double importance,
                             const char *what)
{
    if (!(isfinite(latency) && latency >= 0.0))
        return lm_err(LM_ERR_VALUE,
                      "%s: latency %g is not a finite number >= 0", what,
                      latency);
    if (!isfinite(importance))
        return lm_err(LM_ERR_VALUE, "%s: importance %g is not a finite number",
                      what, importance);
    return LM_OK;
}

lm_status lm_disc_infeasible(double budget, int64_t budget_units,
                             int64_t min_units, double precision,
                             lm_round_mode mode)
{
    return lm_err(LM_ERR_INFEASIBLE,
                  "budget %.15g (%lld units at precision %g) is below the "
                  "smallest feasible budget %.15g (%lld units, latencies "
                  "rounded %s)",
                  budget, (long long)budget_units, precision,
                  (double)min_units / precision, (long long)min_units,
                  mode == LM_ROUND_FLOOR ? "down" : "up");
}
