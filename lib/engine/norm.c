/* Group normalisation (PyTorch's GroupNorm at inference). */
#include <math.h>

#include "engine/kernels.h"

/* Sums of n values in double, four partial sums so that the loop is not
 * one long dependency chain; `mean` is subtracted before squaring when
 * `sq` is set (the second pass of a two-pass variance). */
LM_KHOT static double group_sum(const float *x, size_t n, double mean, int sq)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    size_t i = 0;
    if (sq) {
        for (; i + 4 <= n; i += 4) {
            double d0 = (double)x[i] - mean, d1 = (double)x[i + 1] - mean;
            double d2 = (double)x[i + 2] - mean, d3 = (double)x[i + 3] - mean;
            s0 += d0 * d0;
            s1 += d1 * d1;
            s2 += d2 * d2;
            s3 += d3 * d3;
        }
        for (; i < n; i++) {
            double d = (double)x[i] - mean;
            s0 += d * d;
        }
    } else {
        for (; i + 4 <= n; i += 4) {
            s0 += (double)x[i];
            s1 += (double)x[i + 1];
            s2 += (double)x[i + 2];
            s3 += (double)x[i + 3];
        }
        for (; i < n; i++)
            s0 += (double)x[i];
    }
    return (s0 + s1) + (s2 + s3);
}

/* y = (x - mean) * a + b in double: with a large mean the float form
 * x * a + (b - mean * a) would cancel away the low bits. */
LM_KHOT static void normalise(float *x, size_t n, double mean, double a,
                              double b)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(((double)x[i] - mean) * a + b);
}

void lm_kgroupnorm(float *x, int64_t c, int64_t hw, int64_t groups,
                   double eps, const float *gamma, const float *beta)
{
    int64_t cpg = c / groups;
    size_t n = (size_t)(cpg * hw);
    for (int64_t g = 0; g < groups; g++) {
        float *xg = x + (size_t)g * n;
        double mean = group_sum(xg, n, 0.0, 0) / (double)n;
        double var = group_sum(xg, n, mean, 1) / (double)n;
        double rstd = 1.0 / sqrt(var + eps);
        for (int64_t k = 0; k < cpg; k++) {
            int64_t ch = g * cpg + k;
            double a = gamma ? rstd * (double)gamma[ch] : rstd;
            double b = beta ? (double)beta[ch] : 0.0;
            normalise(xg + (size_t)(k * hw), (size_t)hw, mean, a, b);
        }
    }
}
