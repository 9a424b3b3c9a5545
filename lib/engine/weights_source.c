/* lm_engine_create: the weights store as the engine's tensor source, with
 * the shape check that the callback contract leaves to the source. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "layermerge/engine.h"

static void shape_str(char *buf, size_t cap, const int64_t *dims, size_t n)
{
    size_t used = (size_t)snprintf(buf, cap, "[");
    for (size_t i = 0; i < n && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%lld",
                                 i ? ", " : "", (long long)dims[i]);
    if (used < cap)
        snprintf(buf + used, cap - used, "]");
}

static lm_status from_store(const char *name, const int64_t *shape,
                            size_t ndim, float *dst, void *userdata)
{
    const lm_weights *w = userdata;
    int64_t dims[8];
    size_t got = 0, n = 1;
    lm_status st = lm_weights_shape(&got, dims, 8, w, name);
    if (st != LM_OK && st != LM_ERR_INVALID_ARG)
        return st;
    int same = st == LM_OK && got == ndim;
    for (size_t i = 0; same && i < ndim; i++)
        same = dims[i] == shape[i];
    if (!same) {
        char want[160], have[160];
        shape_str(want, sizeof want, shape, ndim);
        shape_str(have, sizeof have, dims, got <= 8 ? got : 8);
        return lm_err(LM_ERR_MISMATCH, "expected shape %s, found %s", want,
                      st == LM_OK ? have : "a tensor of rank > 8");
    }
    for (size_t i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    st = lm_weights_get_f32(dst, n, w, name);
    return st == LM_ERR_UNSUPPORTED ? LM_ERR_MISMATCH : st;
}

lm_status lm_engine_create(lm_engine **out, const lm_graph *graph,
                           const lm_weights *weights, size_t batch)
{
    if (!weights)
        return lm_err(LM_ERR_INVALID_ARG, "lm_engine_create: NULL weights");
    return lm_engine_create_with_fetch(out, graph, batch, from_store,
                                       (void *)weights);
}
