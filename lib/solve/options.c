/* lm_solve_options: method, precision, rounding and budget. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "solve/options_internal.h"

static const char *const method_names[] = {"layermerge", "kim23", "prune"};

const char *lm_method_name(lm_method m)
{
    return (unsigned)m < 3 ? method_names[m] : NULL;
}

lm_status lm_method_from_name(lm_method *out, const char *name)
{
    if (!out || !name)
        return lm_err(LM_ERR_INVALID_ARG, "lm_method_from_name: NULL argument");
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, method_names[i])) {
            *out = (lm_method)i;
            return LM_OK;
        }
    return lm_err(LM_ERR_INVALID_ARG, "unknown method '%s' (layermerge, "
                  "kim23 or prune)", name);
}

lm_status lm_solve_options_create(lm_solve_options **out)
{
    if (!out)
        return lm_err(LM_ERR_INVALID_ARG, "lm_solve_options_create: NULL out");
    lm_solve_options *o = calloc(1, sizeof *o);
    if (!o)
        return lm_err_nomem();
    o->method = LM_METHOD_LAYERMERGE;
    o->precision = 10.0;
    o->rounding = LM_ROUNDING_CEIL;
    o->ratio = 1.0;
    *out = o;
    return LM_OK;
}

void lm_solve_options_destroy(lm_solve_options *o)
{
    free(o);
}

static lm_status null_options(const char *fn)
{
    return lm_err(LM_ERR_INVALID_ARG, "%s: NULL options", fn);
}

lm_status lm_solve_options_set_method(lm_solve_options *o, lm_method m)
{
    if (!o)
        return null_options("lm_solve_options_set_method");
    if (!lm_method_name(m))
        return lm_err(LM_ERR_INVALID_ARG, "unknown method %d", (int)m);
    o->method = m;
    return LM_OK;
}

lm_status lm_solve_options_set_precision(lm_solve_options *o, double p)
{
    if (!o)
        return null_options("lm_solve_options_set_precision");
    if (!(isfinite(p) && p >= 0.0))
        return lm_err(LM_ERR_INVALID_ARG, "precision %g is not a finite "
                      "number >= 0 (0: automatic)", p);
    o->precision = p;
    return LM_OK;
}

lm_status lm_solve_options_set_rounding(lm_solve_options *o, lm_rounding r)
{
    if (!o)
        return null_options("lm_solve_options_set_rounding");
    if (r != LM_ROUNDING_CEIL && r != LM_ROUNDING_FLOOR)
        return lm_err(LM_ERR_INVALID_ARG, "unknown rounding mode %d", (int)r);
    o->rounding = r;
    return LM_OK;
}

lm_status lm_solve_options_set_budget(lm_solve_options *o, double budget)
{
    if (!o)
        return null_options("lm_solve_options_set_budget");
    if (!(isfinite(budget) && budget >= 0.0))
        return lm_err(LM_ERR_VALUE, "budget %g is not a finite number >= 0",
                      budget);
    o->absolute = 1;
    o->budget = budget;
    return LM_OK;
}

lm_status lm_solve_options_set_budget_ratio(lm_solve_options *o, double ratio)
{
    if (!o)
        return null_options("lm_solve_options_set_budget_ratio");
    if (!(isfinite(ratio) && ratio > 0.0))
        return lm_err(LM_ERR_VALUE, "budget ratio %g is not a finite number "
                      "> 0", ratio);
    o->absolute = 0;
    o->ratio = ratio;
    return LM_OK;
}

double lm_options_budget(const lm_solve_options *o, double original)
{
    return o->absolute ? o->budget : o->ratio * original;
}
