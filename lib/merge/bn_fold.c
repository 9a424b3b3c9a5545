/* Folding a batch norm into the conv before it (docs/method.md section 9),
 * with the batch norm's own eps: the authors hard-code 1e-5, which is wrong
 * for networks trained with another eps. */
#include <float.h>
#include <math.h>

#include "core/error.h"
#include "core/record.h"
#include "layermerge/merge.h"

static int fits_float(double v)
{
    return fabs(v) <= FLT_MAX;
}

/* Scale of channel o, or 0 with the error set when the channel cannot be
 * folded. Every output of the channel is checked, so that nothing is
 * written before the whole fold is known to succeed. */
static lm_status channel_scale(double *scale, size_t o, const float *w,
                               const float *bias, size_t per, const float *gamma,
                               const float *beta, const float *mean,
                               const float *var, double eps)
{
    double den = (double)var[o] + eps;
    if (!isfinite(gamma[o]) || !isfinite(beta[o]) || !isfinite(mean[o]) ||
        !isfinite(den) || den <= 0.0)
        return lm_err(LM_ERR_VALUE, "lm_bn_fold: channel %zu has a non-finite "
                      "parameter or var + eps <= 0", o);
    double s = (double)gamma[o] / sqrt(den);
    double b = bias ? (double)bias[o] : 0.0;
    if (!fits_float((b - mean[o]) * s + beta[o]))
        return lm_err(LM_ERR_VALUE, "lm_bn_fold: channel %zu: bias is not "
                      "finite after folding", o);
    for (size_t i = 0; i < per; i++)
        if (!fits_float((double)w[o * per + i] * s))
            return lm_err(LM_ERR_VALUE, "lm_bn_fold: channel %zu: weight[%zu] "
                          "is not finite after folding", o, o * per + i);
    *scale = s;
    return LM_OK;
}

lm_status lm_bn_fold(float *weight_out, float *bias_out, const float *weight,
                     const float *bias, size_t out_channels,
                     size_t per_channel, const lm_bn_desc *bn)
{
    lm_status rc = lm_record_check(bn, sizeof *bn, "lm_bn_fold");
    if (rc != LM_OK)
        return rc;
    const float *gamma = bn->gamma, *beta = bn->beta, *mean = bn->mean,
                *var = bn->var;
    double eps = bn->eps;
    if (!weight_out || !bias_out || !weight || !gamma || !beta || !mean ||
        !var || out_channels == 0 || per_channel == 0)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_bn_fold: NULL array or zero size");
    if (!isfinite(eps) || eps < 0.0)
        return lm_err(LM_ERR_VALUE, "lm_bn_fold: eps %g is negative or not "
                      "finite", eps);
    double s = 0.0;
    for (size_t o = 0; o < out_channels; o++) {
        lm_status st = channel_scale(&s, o, weight, bias, per_channel, gamma,
                                     beta, mean, var, eps);
        if (st != LM_OK)
            return st;
    }
    for (size_t o = 0; o < out_channels; o++) {
        s = (double)gamma[o] / sqrt((double)var[o] + eps);
        double b = bias ? (double)bias[o] : 0.0;
        /* Read before write: the outputs may alias the inputs. */
        bias_out[o] = (float)((b - mean[o]) * s + beta[o]);
        for (size_t i = 0; i < per_channel; i++)
            weight_out[o * per_channel + i] =
                (float)((double)weight[o * per_channel + i] * s);
    }
    return LM_OK;
}
