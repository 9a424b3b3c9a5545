/* Skips inside a chain. In the fine-tuning chain of docs/method.md section 8
 * every state is computed over the input zero-padded by the chain's total
 * padding, so a state with a smaller kernel covers a larger map; cropping it
 * symmetrically to the target is the same as adding its kernel at the
 * centre of the target's kernel. Strides need no care: after a strided
 * conv only 1x1 convs follow, so a strided source has the target's kernel
 * size and the offset is zero. */
#include <stdlib.h>

#include "core/error.h"
#include "core/record.h"
#include "merge/chain_private.h"

static lm_status check_from(const lm_chain *c, size_t from, const char *fn)
{
    if (!c)
        return lm_err(LM_ERR_INVALID_ARG, "%s: NULL chain", fn);
    size_t to = c->n_states - 1;
    if (from >= to)
        return lm_err(LM_ERR_INVALID_ARG,
                      "skip from step %zu to step %zu: the source must be an "
                      "earlier step", from, to);
    return LM_OK;
}

lm_status lm_chain_push_identity_skip(lm_chain *chain, size_t from_step)
{
    lm_status st = check_from(chain, from_step, "lm_chain_push_identity_skip");
    if (st != LM_OK)
        return st;
    size_t to = chain->n_states - 1;
    const lm_kstate *src = &chain->states[from_step];
    lm_kstate *dst = &chain->states[to];
    if (src->channels != dst->channels)
        return lm_err(LM_ERR_INVALID_ARG,
                      "skip from step %zu to step %zu: identity joins %lld and "
                      "%lld channels; use a projection", from_step, to,
                      (long long)src->channels, (long long)dst->channels);
    if (src->stride != dst->stride)
        return lm_err(LM_ERR_INVALID_ARG,
                      "skip from step %zu to step %zu: identity across a stride "
                      "of %lld; use a strided projection", from_step, to,
                      (long long)(dst->stride / src->stride));
    st = lm_kstate_add_centred(dst, src, chain->in_channels);
    if (st != LM_OK)
        return lm_err_prefix(st, "skip from step %zu to step %zu: ",
                             from_step, to);
    return LM_OK;
}

static lm_status check_projection(const lm_kstate *src, const lm_kstate *dst,
                                  size_t from, size_t to, int64_t in,
                                  int64_t out, int64_t stride)
{
    if (in != src->channels || out != dst->channels)
        return lm_err(LM_ERR_INVALID_ARG,
                      "skip from step %zu to step %zu: projection %lld -> %lld "
                      "channels joins %lld -> %lld", from, to, (long long)in,
                      (long long)out, (long long)src->channels,
                      (long long)dst->channels);
    if (stride < 1 || src->stride * stride != dst->stride)
        return lm_err(LM_ERR_INVALID_ARG,
                      "skip from step %zu to step %zu: projection stride %lld, "
                      "but the chain strides by %lld between them", from, to,
                      (long long)stride, (long long)(dst->stride / src->stride));
    return LM_OK;
}

/* The projected source as a state of its own, then added at the centre. */
static lm_status add_projection(lm_chain *c, size_t from, const double *w,
                                const double *b, int64_t in, int64_t out,
                                int64_t stride)
{
    lm_kconv cv = {w, b, in, out, 1, stride, 1};
    lm_kstate proj;
    lm_status st = lm_kstate_compose(&proj, &c->states[from], &cv,
                                     c->in_channels);
    if (st != LM_OK)
        return st;
    st = lm_kstate_add_centred(&c->states[c->n_states - 1], &proj,
                               c->in_channels);
    lm_kstate_free(&proj);
    return st;
}

lm_status lm_chain_push_projection_skip(lm_chain *chain, size_t from_step,
                                        const lm_conv_desc *projection,
                                        const float *weight, const float *bias)
{
    const char *fn = "lm_chain_push_projection_skip";
    lm_status st = lm_record_check(projection, sizeof *projection, fn);
    if (st == LM_OK)
        st = check_from(chain, from_step, fn);
    if (st != LM_OK)
        return st;
    if (projection->kernel != 1 || projection->padding != 0 ||
        projection->groups != 1)
        return lm_err(LM_ERR_INVALID_ARG, "%s: a projection is a dense 1x1 "
                      "conv without padding (kernel %lld, padding %lld, "
                      "groups %lld)", fn, (long long)projection->kernel,
                      (long long)projection->padding,
                      (long long)projection->groups);
    int64_t in_channels = projection->in_channels,
            out_channels = projection->out_channels,
            stride = projection->stride;
    if (!weight)
        return lm_err(LM_ERR_INVALID_ARG, "%s: NULL weight", fn);
    size_t to = chain->n_states - 1;
    st = check_projection(&chain->states[from_step], &chain->states[to],
                          from_step, to, in_channels, out_channels, stride);
    if (st != LM_OK)
        return st;
    size_t bad = 0;
    double *w = NULL, *b = NULL;
    st = lm_widen(&w, weight, (size_t)in_channels * (size_t)out_channels, &bad);
    if (st == LM_OK && bias)
        st = lm_widen(&b, bias, (size_t)out_channels, &bad);
    if (st == LM_OK)
        st = add_projection(chain, from_step, w, b, in_channels, out_channels,
                            stride);
    else if (st == LM_ERR_VALUE)
        lm_err(st, "skip from step %zu to step %zu: projection %s[%zu] is not "
               "finite", from_step, to, w ? "bias" : "weight", bad);
    free(w);
    free(b);
    if (st != LM_OK && st != LM_ERR_VALUE)
        return lm_err_prefix(st, "skip from step %zu to step %zu: ",
                             from_step, to);
    return st;
}
