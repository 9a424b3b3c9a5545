/* Does a store fit a graph: every needed tensor present, F32, right shape. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "weights/needs.h"
#include "weights/weights_internal.h"

/* "[64, 3, 7, 7]" into buf, truncated with "..." when it does not fit. */
static void format_shape(char *buf, size_t cap, const int64_t *dims,
                         size_t ndim)
{
    size_t len = (size_t)snprintf(buf, cap, "[");
    for (size_t d = 0; d < ndim && len < cap; d++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%" PRId64,
                                d ? ", " : "", dims[d]);
    if (len < cap)
        snprintf(buf + len, cap - len, "]");
    else if (cap > 4)
        memcpy(buf + cap - 4, "...", 4);
}

static lm_status check_one(const lm_wneed *need, void *userdata)
{
    const lm_weights *w = userdata;
    const lm_wtensor *t = lm_wt_lookup(w, need->tensor, "check");
    if (!t)
        return lm_err(LM_ERR_NOT_FOUND, "%s: tensor '%s' not found",
                      need->owner, need->tensor);
    if (t->dtype != LM_ST_F32)
        return lm_err(LM_ERR_MISMATCH, "%s: tensor '%s' has dtype %s, "
                      "expected a float type", need->owner, need->tensor,
                      lm_st_dtype_name(t->dtype));
    int same = t->ndim == need->ndim;
    for (size_t d = 0; same && d < need->ndim; d++)
        same = t->shape[d] == need->shape[d];
    if (same)
        return LM_OK;
    char want[96], found[96];
    format_shape(want, sizeof want, need->shape, need->ndim);
    format_shape(found, sizeof found, t->shape, t->ndim);
    return lm_err(LM_ERR_MISMATCH, "%s: tensor '%s' has shape %s, expected %s",
                  need->owner, need->tensor, found, want);
}

lm_status lm_weights_check_graph(const lm_weights *w, const lm_graph *g)
{
    if (!w || !g)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_weights_check_graph: NULL argument");
    lm_status st = lm_wneeds_each(g, check_one, (void *)w);
    if (st != LM_OK)
        return lm_err_prefix(st, "lm_weights_check_graph: ");
    return LM_OK;
}
