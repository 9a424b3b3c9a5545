/* The chain builder's life cycle and the merged conv it describes. */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "merge/chain_private.h"

lm_status lm_chain_create(lm_chain **out, int64_t in_channels)
{
    if (!out)
        return lm_err(LM_ERR_INVALID_ARG, "lm_chain_create: out is NULL");
    *out = NULL;
    if (in_channels < 1 || in_channels > INT32_MAX)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_chain_create: in_channels %lld out of range",
                      (long long)in_channels);
    lm_chain *c = calloc(1, sizeof *c);
    if (!c)
        return lm_err_nomem();
    c->states = calloc(4, sizeof *c->states);
    if (!c->states) {
        free(c);
        return lm_err_nomem();
    }
    c->cap = 4;
    c->in_channels = in_channels;
    /* State 0 is the input itself: a depthwise 1x1 identity, so that
     * every conv, including the first, is a composition. */
    lm_status st = lm_kstate_alloc(&c->states[0], in_channels, in_channels,
                                   1, 1, 1);
    if (st != LM_OK) {
        lm_chain_destroy(c);
        return st;
    }
    for (int64_t i = 0; i < in_channels; i++)
        c->states[0].w[i] = 1.0;
    c->n_states = 1;
    *out = c;
    return LM_OK;
}

void lm_chain_destroy(lm_chain *chain)
{
    if (!chain)
        return;
    for (size_t i = 0; i < chain->n_states; i++)
        lm_kstate_free(&chain->states[i]);
    free(chain->states);
    free(chain);
}

const lm_kstate *lm_chain_current(const lm_chain *chain)
{
    return &chain->states[chain->n_states - 1];
}

size_t lm_chain_step_count(const lm_chain *chain)
{
    return chain ? chain->n_states - 1 : 0;
}

int64_t lm_chain_in_channels(const lm_chain *chain)
{
    return chain ? chain->in_channels : 0;
}

int64_t lm_chain_out_channels(const lm_chain *chain)
{
    return chain ? lm_chain_current(chain)->channels : 0;
}

int64_t lm_chain_kernel(const lm_chain *chain)
{
    return lm_chain_step_count(chain) ? lm_chain_current(chain)->kernel : 0;
}

int64_t lm_chain_stride(const lm_chain *chain)
{
    return chain ? lm_chain_current(chain)->stride : 1;
}

int64_t lm_chain_padding(const lm_chain *chain)
{
    return chain ? chain->padding : 0;
}

int lm_chain_depthwise(const lm_chain *chain)
{
    return lm_chain_step_count(chain) ? lm_chain_current(chain)->depthwise : 0;
}

int64_t lm_chain_groups(const lm_chain *chain)
{
    if (!lm_chain_step_count(chain))
        return chain ? 1 : 0;
    const lm_kstate *s = lm_chain_current(chain);
    return s->depthwise ? s->channels : 1;
}

size_t lm_chain_weight_count(const lm_chain *chain)
{
    if (!lm_chain_step_count(chain))
        return 0;
    const lm_kstate *s = lm_chain_current(chain);
    return lm_kstate_weight_count(s->channels, chain->in_channels, s->kernel,
                                  s->depthwise);
}

/* Round n doubles to float, refusing values beyond float range before
 * anything is written. */
static lm_status copy_out(float *out, size_t cap, const double *v, size_t n,
                          const char *what)
{
    if (cap < n)
        return lm_err(LM_ERR_INVALID_ARG,
                      "merged %s needs %zu floats, the buffer holds %zu", what,
                      n, cap);
    for (size_t i = 0; i < n; i++)
        if (!(fabs(v[i]) <= FLT_MAX))
            return lm_err(LM_ERR_VALUE,
                          "merged %s[%zu] = %g is beyond float range", what, i,
                          v[i]);
    for (size_t i = 0; i < n; i++)
        out[i] = (float)v[i];
    return LM_OK;
}

static lm_status check_output(const lm_chain *chain, const void *out,
                              const char *fn)
{
    if (!chain || !out)
        return lm_err(LM_ERR_INVALID_ARG, "%s: NULL argument", fn);
    if (chain->n_states < 2)
        return lm_err(LM_ERR_STATE,
                      "%s: the chain has no conv (an identity is no conv)", fn);
    return LM_OK;
}

lm_status lm_chain_weight(float *weight_out, size_t cap, const lm_chain *chain)
{
    lm_status st = check_output(chain, weight_out, "lm_chain_weight");
    if (st != LM_OK)
        return st;
    return copy_out(weight_out, cap, lm_chain_current(chain)->w,
                    lm_chain_weight_count(chain), "weight");
}

lm_status lm_chain_bias(float *bias_out, size_t cap, const lm_chain *chain)
{
    lm_status st = check_output(chain, bias_out, "lm_chain_bias");
    if (st != LM_OK)
        return st;
    const lm_kstate *s = lm_chain_current(chain);
    return copy_out(bias_out, cap, s->b, (size_t)s->channels, "bias");
}
