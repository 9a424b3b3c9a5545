/* Appending convs and batch norms to a chain. Every argument is checked
 * before the chain changes, so a failed push leaves it as it was. */
#include <stdio.h>
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/record.h"
#include "core/util.h"
#include "merge/chain_private.h"

/* Sizes a conv must have; `step` is the step it would become. */
static lm_status check_conv_shape(const lm_chain *c, size_t step, int64_t in,
                                  int64_t out, int64_t k, int64_t stride,
                                  int64_t pad, int64_t groups)
{
    const lm_kstate *cur = lm_chain_current(c);
    if (in != cur->channels)
        return lm_err(LM_ERR_INVALID_ARG,
                      "chain step %zu: the conv reads %lld channels but the "
                      "chain carries %lld", step, (long long)in,
                      (long long)cur->channels);
    if (out < 1 || out > INT32_MAX || k < 1 || k % 2 == 0 || k > INT16_MAX ||
        stride < 1 || stride > INT16_MAX || pad < 0 || pad > INT16_MAX)
        return lm_err(LM_ERR_INVALID_ARG,
                      "chain step %zu: bad conv sizes (out %lld, kernel %lld, "
                      "stride %lld, padding %lld; the kernel must be odd)",
                      step, (long long)out, (long long)k, (long long)stride,
                      (long long)pad);
    if (groups < 1 || in % groups != 0 || out % groups != 0)
        return lm_err(LM_ERR_INVALID_ARG,
                      "chain step %zu: groups %lld does not divide %lld input "
                      "and %lld output channels", step, (long long)groups,
                      (long long)in, (long long)out);
    if (cur->stride > 1 && k > 1)
        return lm_err(LM_ERR_UNSUPPORTED,
                      "chain step %zu: a %lldx%lld conv after a stride-%lld "
                      "conv is not one plain strided conv", step, (long long)k,
                      (long long)k, (long long)cur->stride);
    if (cur->stride * stride > INT16_MAX ||
        cur->kernel + k - 1 > INT16_MAX || c->padding + pad > INT32_MAX)
        return lm_err(LM_ERR_UNSUPPORTED,
                      "chain step %zu: merged kernel, stride or padding too "
                      "large", step);
    return LM_OK;
}

/* Widen weight and bias, naming the first non-finite value. */
static lm_status widen_conv(double **w, double **b, const float *weight,
                            const float *bias, size_t nw, size_t nb,
                            const char *where, size_t step)
{
    size_t bad = 0;
    *b = NULL;
    lm_status st = lm_widen(w, weight, nw, &bad);
    if (st == LM_ERR_VALUE)
        return lm_err(st, "%s %zu: weight[%zu] is not finite", where, step, bad);
    if (st != LM_OK || !bias)
        return st;
    st = lm_widen(b, bias, nb, &bad);
    if (st == LM_OK)
        return LM_OK;
    free(*w);
    *w = NULL;
    if (st == LM_ERR_VALUE)
        return lm_err(st, "%s %zu: bias[%zu] is not finite", where, step, bad);
    return st;
}

lm_status lm_chain_push_conv(lm_chain *chain, const lm_conv_desc *conv,
                             const float *weight, const float *bias)
{
    if (!chain || !weight)
        return lm_err(LM_ERR_INVALID_ARG, "lm_chain_push_conv: NULL %s",
                      chain ? "weight" : "chain");
    size_t step = chain->n_states;
    char what[48];
    snprintf(what, sizeof what, "chain step %zu", step);
    lm_status rc = lm_record_check(conv, sizeof *conv, what);
    if (rc != LM_OK)
        return rc;
    int64_t in_channels = conv->in_channels, out_channels = conv->out_channels,
            kernel = conv->kernel, stride = conv->stride,
            padding = conv->padding, groups = conv->groups;
    lm_status st = check_conv_shape(chain, step, in_channels, out_channels,
                                    kernel, stride, padding, groups);
    if (st != LM_OK)
        return st;
    st = LM_GROW(chain->states, chain->cap, chain->n_states + 1);
    if (st != LM_OK)
        return lm_err_nomem();
    size_t nw = (size_t)out_channels * (size_t)(in_channels / groups) *
                (size_t)kernel * (size_t)kernel;
    double *w = NULL, *b = NULL;
    st = widen_conv(&w, &b, weight, bias, nw, (size_t)out_channels,
                    "chain step", step);
    if (st != LM_OK)
        return st;
    lm_kconv cv = {w, b, in_channels, out_channels, kernel, stride, groups};
    st = lm_kstate_compose(&chain->states[step], lm_chain_current(chain), &cv,
                           chain->in_channels);
    free(w);
    free(b);
    if (st != LM_OK)
        return lm_err_prefix(st, "chain step %zu: ", step);
    chain->n_states++;
    chain->padding += padding;
    return LM_OK;
}

/* gamma / sqrt(var + eps) for every channel, or the channel at fault. */
static lm_status bn_scales(double *scale, size_t n, const float *gamma,
                           const float *beta, const float *mean,
                           const float *var, double eps, size_t step)
{
    if (!isfinite(eps) || eps < 0.0)
        return lm_err(LM_ERR_VALUE, "chain step %zu: batch norm eps %g is "
                      "negative or not finite", step, eps);
    for (size_t o = 0; o < n; o++) {
        double den = (double)var[o] + eps;
        if (!isfinite(gamma[o]) || !isfinite(beta[o]) || !isfinite(mean[o]) ||
            !isfinite(den) || den <= 0.0)
            return lm_err(LM_ERR_VALUE, "chain step %zu: batch norm channel "
                          "%zu has a non-finite parameter or var + eps <= 0",
                          step, o);
        scale[o] = (double)gamma[o] / sqrt(den);
    }
    return LM_OK;
}

lm_status lm_chain_push_bn(lm_chain *chain, const lm_bn_desc *bn)
{
    lm_status rc = lm_record_check(bn, sizeof *bn, "lm_chain_push_bn");
    if (rc != LM_OK)
        return rc;
    const float *gamma = bn->gamma, *beta = bn->beta, *mean = bn->mean,
                *var = bn->var;
    double eps = bn->eps;
    if (!chain || !gamma || !beta || !mean || !var)
        return lm_err(LM_ERR_INVALID_ARG, "lm_chain_push_bn: NULL argument");
    size_t step = chain->n_states - 1;
    if (step == 0)
        return lm_err(LM_ERR_STATE, "lm_chain_push_bn: no conv pushed yet; a "
                      "batch norm on the chain input does not merge exactly");
    lm_kstate *s = &chain->states[step];
    size_t n = (size_t)s->channels;
    double *scale = malloc(n * sizeof *scale);
    if (!scale)
        return lm_err_nomem();
    lm_status st = bn_scales(scale, n, gamma, beta, mean, var, eps, step);
    if (st == LM_OK) {
        size_t row = lm_kstate_weight_count(1, chain->in_channels, s->kernel,
                                            s->depthwise);
        for (size_t o = 0; o < n; o++) {
            for (size_t i = 0; i < row; i++)
                s->w[o * row + i] *= scale[o];
            s->b[o] = (s->b[o] - mean[o]) * scale[o] + beta[o];
        }
    }
    free(scale);
    return st;
}
