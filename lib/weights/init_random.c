/* Deterministic stand-in weights for a graph, for examples and tests:
 * plausible magnitudes so that merged and unmerged networks can be
 * compared numerically, nothing more. */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/stats.h"
#include "weights/needs.h"
#include "weights/weights_internal.h"

typedef struct rng {
    uint64_t state;
} rng;

static uint64_t splitmix64(rng *r)
{
    return lm_splitmix64(&r->state);
}

/* Uniform in [lo, hi) from the top 24 bits: exact in float. */
static float uniform(rng *r, float lo, float hi)
{
    float u = (float)(splitmix64(r) >> 40) * (1.0f / 16777216.0f);
    return lo + (hi - lo) * u;
}

/* A stream per tensor, so that a tensor's values depend on its name and
 * the seed only, not on which other layers the graph has. */
static rng stream_for(uint64_t seed, const char *name)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 0x100000001b3u;
    rng r = {seed ^ h};
    splitmix64(&r);
    return r;
}

static void range_for(const lm_wneed *need, float *lo, float *hi)
{
    double fan_in = need->fan_in > 0 ? (double)need->fan_in : 1.0;
    switch (need->role) {
    case LM_WROLE_WEIGHT: *hi = (float)sqrt(6.0 / fan_in); break;
    case LM_WROLE_BIAS: *hi = (float)(1.0 / sqrt(fan_in)); break;
    case LM_WROLE_BN_BIAS:
    case LM_WROLE_BN_MEAN: *hi = 0.1f; break;
    case LM_WROLE_BN_WEIGHT:
    case LM_WROLE_BN_VAR:
        *lo = 0.5f;
        *hi = 1.5f;
        return;
    }
    *lo = -*hi;
}

typedef struct fill_ctx {
    lm_weights *w;
    uint64_t seed;
} fill_ctx;

static lm_status fill_one(const lm_wneed *need, void *userdata)
{
    fill_ctx *ctx = userdata;
    size_t n = 1;
    for (size_t d = 0; d < need->ndim; d++) {
        if (need->shape[d] < 0 ||
            (need->shape[d] && n > SIZE_MAX / 4 / (size_t)need->shape[d]))
            return lm_err(LM_ERR_INVALID_ARG, "%s: tensor '%s': bad shape",
                          need->owner, need->tensor);
        n *= (size_t)need->shape[d];
    }
    float *data = malloc((n ? n : 1) * sizeof *data);
    if (!data)
        return lm_err_nomem();
    float lo = 0.0f, hi = 0.0f;
    range_for(need, &lo, &hi);
    rng r = stream_for(ctx->seed, need->tensor);
    for (size_t i = 0; i < n; i++)
        data[i] = uniform(&r, lo, hi);
    lm_status st = lm_weights_set_f32(ctx->w, need->tensor, need->shape,
                                      need->ndim, data);
    free(data);
    return st;
}

lm_status lm_weights_init_random(lm_weights *w, const lm_graph *g,
                                 uint64_t seed)
{
    if (!w || !g)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_weights_init_random: NULL argument");
    fill_ctx ctx = {w, seed};
    lm_status st = lm_wneeds_each(g, fill_one, &ctx);
    if (st != LM_OK)
        return lm_err_prefix(st, "lm_weights_init_random: ");
    return LM_OK;
}
