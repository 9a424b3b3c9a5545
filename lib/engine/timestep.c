/* The sinusoidal timestep embedding of DDPM (fairseq's form), rounded as
 * PyTorch computes it in float32: the frequencies and the products t * f
 * are float32 values, and sin/cos of those products are taken in double
 * and rounded once. At t near 1000 the argument is ~1000 rad, where sinf
 * and cosf are still fine but any second rounding of the argument would
 * not be: one float ulp there is 6e-5 rad. */
#include <math.h>

#include "engine/kernels.h"

float lm_ktimestep_freq(int64_t half, int64_t i)
{
    /* torch: arange(half, float32) * -(log(10000) / (half - 1)): the
     * Python float scalar is cast to float32 before the product. With
     * half == 1 PyTorch divides by zero; the single frequency is exp(0). */
    float step = half > 1 ? (float)(-log(10000.0) / (double)(half - 1)) : 0.0f;
    return (float)exp((double)((float)i * step));
}

void lm_ktimestep_embedding(const float *t, size_t n, int64_t dim,
                            float *out)
{
    int64_t half = dim / 2;
    for (size_t b = 0; b < n; b++) {
        float *o = out + b * (size_t)dim;
        for (int64_t i = 0; i < half; i++) {
            float f = lm_ktimestep_freq(half, i);
            double arg = (double)(t[b] * f);
            o[i] = (float)sin(arg);
            o[half + i] = (float)cos(arg);
        }
        if (dim % 2)
            o[dim - 1] = 0.0f;
    }
}
