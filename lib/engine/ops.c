/* Elementwise, pooling, linear and skip-matching kernels. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "engine/kernels.h"

static float relu6f(float v)
{
    return v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v);
}

/* relu and relu6 are written as plain selects so that they vectorise
 * (they are a fifth of MobileNetV2's time as branches); NaN still maps to
 * 0 as before. */
LM_KHOT void lm_kact(lm_act act, float *x, size_t n)
{
    size_t i;
    switch (act) {
    case LM_ACT_IDENTITY:
        return;
    case LM_ACT_RELU:
        for (i = 0; i < n; i++)
            x[i] = x[i] > 0.0f ? x[i] : 0.0f;
        return;
    case LM_ACT_RELU6:
        for (i = 0; i < n; i++) {
            float v = x[i] > 0.0f ? x[i] : 0.0f;
            x[i] = v < 6.0f ? v : 6.0f;
        }
        return;
    case LM_ACT_SILU:
        for (i = 0; i < n; i++)
            x[i] = x[i] / (1.0f + expf(-x[i]));
        return;
    case LM_ACT_GELU: /* the erf form, PyTorch's default */
        for (i = 0; i < n; i++)
            x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
        return;
    case LM_ACT_HARDSWISH:
        for (i = 0; i < n; i++)
            x[i] = x[i] * relu6f(x[i] + 3.0f) / 6.0f;
        return;
    case LM_ACT_SIGMOID:
        for (i = 0; i < n; i++)
            x[i] = 1.0f / (1.0f + expf(-x[i]));
        return;
    case LM_ACT_TANH:
        for (i = 0; i < n; i++)
            x[i] = tanhf(x[i]);
        return;
    }
}

/* Called on one channel (or one row) at a time, so the second pass of
 * lm_kact reads values still in L1/L2. Rounds as conv + bias, then + skip,
 * then the activation did as separate passes. */
LM_KHOT void lm_kepilogue(float *x, size_t n, float b, const float *add,
                          lm_act act)
{
    size_t i;
    if (add)
        for (i = 0; i < n; i++)
            x[i] = (x[i] + b) + add[i];
    else if (b != 0.0f)
        for (i = 0; i < n; i++)
            x[i] += b;
    lm_kact(act, x, n);
}

void lm_kaffine(const float *scale, const float *shift, int64_t c,
                int64_t hw, float *x)
{
    for (int64_t ch = 0; ch < c; ch++, x += hw)
        for (int64_t i = 0; i < hw; i++)
            x[i] = x[i] * scale[ch] + shift[ch];
}

/* Window rows/cols of output index o clipped to the input: [*a, *b). */
static void window_clip(int64_t o, int64_t stride, int64_t pad, int64_t k,
                        int64_t size, int64_t *a, int64_t *b)
{
    int64_t start = o * stride - pad;
    *a = start < 0 ? 0 : start;
    *b = start + k < size ? start + k : size;
}

void lm_kmaxpool(const float *in, int64_t c, int64_t h, int64_t w,
                 int64_t k, int64_t stride, int64_t pad, float *out,
                 int64_t oh, int64_t ow)
{
    for (int64_t ch = 0; ch < c; ch++, in += h * w)
        for (int64_t oy = 0; oy < oh; oy++)
            for (int64_t ox = 0; ox < ow; ox++) {
                int64_t y0, y1, x0, x1;
                window_clip(oy, stride, pad, k, h, &y0, &y1);
                window_clip(ox, stride, pad, k, w, &x0, &x1);
                float m = -INFINITY;
                for (int64_t y = y0; y < y1; y++)
                    for (int64_t xx = x0; xx < x1; xx++)
                        m = in[y * w + xx] > m ? in[y * w + xx] : m;
                *out++ = m;
            }
}

/* Floor mode never lets a window pass the padded border, so with
 * count_include_pad every window counts k * k cells. */
void lm_kavgpool(const float *in, int64_t c, int64_t h, int64_t w,
                 int64_t k, int64_t stride, int64_t pad, float *out,
                 int64_t oh, int64_t ow)
{
    float inv = 1.0f / (float)(k * k);
    for (int64_t ch = 0; ch < c; ch++, in += h * w)
        for (int64_t oy = 0; oy < oh; oy++)
            for (int64_t ox = 0; ox < ow; ox++) {
                int64_t y0, y1, x0, x1;
                window_clip(oy, stride, pad, k, h, &y0, &y1);
                window_clip(ox, stride, pad, k, w, &x0, &x1);
                float sum = 0.0f;
                for (int64_t y = y0; y < y1; y++)
                    for (int64_t xx = x0; xx < x1; xx++)
                        sum += in[y * w + xx];
                *out++ = sum * inv;
            }
}

void lm_kadaptive_avgpool(const float *in, int64_t c, int64_t h, int64_t w,
                          float *out, int64_t oh, int64_t ow)
{
    for (int64_t ch = 0; ch < c; ch++, in += h * w)
        for (int64_t oy = 0; oy < oh; oy++) {
            int64_t y0 = oy * h / oh, y1 = ((oy + 1) * h + oh - 1) / oh;
            for (int64_t ox = 0; ox < ow; ox++) {
                int64_t x0 = ox * w / ow, x1 = ((ox + 1) * w + ow - 1) / ow;
                float sum = 0.0f;
                for (int64_t y = y0; y < y1; y++)
                    for (int64_t xx = x0; xx < x1; xx++)
                        sum += in[y * w + xx];
                *out++ = sum / (float)((y1 - y0) * (x1 - x0));
            }
        }
}

void lm_klinear(const float *x, size_t n, int64_t in, int64_t out,
                const float *w, const float *b, float *y)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out,
                (int)in, 1.0f, x, (int)in, w, (int)in, 0.0f, y, (int)out);
    if (!b)
        return;
    for (size_t i = 0; i < n; i++)
        for (int64_t o = 0; o < out; o++)
            y[i * (size_t)out + (size_t)o] += b[o];
}

/* Overlap of a src axis of `s` cells centred on a dst axis of `d` cells:
 * dst index i pairs with src index i - off, off = (d - s) / 2. */
static void centre_span(int64_t d, int64_t s, int64_t *off, int64_t *lo,
                        int64_t *hi)
{
    *off = (d - s) / 2;
    *lo = *off > 0 ? *off : 0;
    *hi = *off + s < d ? *off + s : d;
}

void lm_kadd_centred(float *dst, int64_t c, int64_t h, int64_t w,
                     const float *src, int64_t sh, int64_t sw)
{
    int64_t oy, y0, y1, ox, x0, x1;
    centre_span(h, sh, &oy, &y0, &y1);
    centre_span(w, sw, &ox, &x0, &x1);
    for (int64_t ch = 0; ch < c; ch++, dst += h * w, src += sh * sw)
        for (int64_t y = y0; y < y1; y++) {
            float *d = dst + y * w;
            const float *s = src + (y - oy) * sw - ox;
            for (int64_t x = x0; x < x1; x++)
                d[x] += s[x];
        }
}
