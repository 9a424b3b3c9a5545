/* Convolution: im2col + sgemm in row chunks for the general case, plain
 * sgemm for 1x1 stride-1 unpadded dense convs, a direct loop for
 * depthwise convs (where im2col would cost more than the arithmetic). */
#include <cblas.h>
#include <string.h>

#include "engine/kernels.h"

int lm_kconv_shape(lm_kconv *c)
{
    int64_t h = c->hin + 2 * c->pad - c->k, w = c->win + 2 * c->pad - c->k;
    if (h < 0 || w < 0 || c->stride < 1) {
        c->hout = c->wout = 0;
        return 0;
    }
    c->hout = h / c->stride + 1;
    c->wout = w / c->stride + 1;
    return 1;
}

static int is_depthwise(const lm_kconv *c)
{
    return c->groups > 1 && c->groups == c->cin && c->groups == c->cout;
}

static int is_pointwise(const lm_kconv *c)
{
    return c->groups == 1 && c->k == 1 && c->stride == 1 && c->pad == 0;
}

/* Rows of one im2col column block: K x (band rows x wout). */
static size_t col_rows(const lm_kconv *c)
{
    return (size_t)(c->cin / c->groups * c->k * c->k);
}

/* Output rows lowered per band. */
static int64_t band_rows(const lm_kconv *c)
{
    size_t per_row = col_rows(c) * (size_t)c->wout;
    size_t cap = c->col_cap ? c->col_cap : LM_KCOL_CAP;
    int64_t rows = per_row ? (int64_t)(cap / per_row) : c->hout;
    if (rows < 1)
        rows = 1;
    return rows < c->hout ? rows : c->hout;
}

size_t lm_kconv_workspace(const lm_kconv *c)
{
    if (is_depthwise(c) || is_pointwise(c))
        return 0;
    return col_rows(c) * (size_t)band_rows(c) * (size_t)c->wout;
}

/* Output columns ox whose input column ox*s - p + kx lies inside 0..w-1:
 * [*lo, *hi), so the inner loops run without bounds tests. */
static void valid_cols(int64_t w, int64_t wout, int64_t s, int64_t p,
                       int64_t kx, int64_t *lo, int64_t *hi)
{
    int64_t a = p - kx, b = w - 1 + p - kx;
    *lo = a <= 0 ? 0 : (a + s - 1) / s;
    *hi = b < 0 ? 0 : b / s + 1;
    if (*hi > wout)
        *hi = wout;
    if (*lo > *hi)
        *lo = *hi;
}

/* One im2col row: input channel plane `src` at tap (ky, kx), output rows
 * oy0 .. oy1-1. */
LM_KHOT static void lower_tap(const lm_kconv *c, const float *src, int64_t ky,
                      int64_t kx, int64_t oy0, int64_t oy1, float *dst)
{
    int64_t s = c->stride, lo, hi;
    valid_cols(c->win, c->wout, s, c->pad, kx, &lo, &hi);
    for (int64_t oy = oy0; oy < oy1; oy++, dst += c->wout) {
        int64_t iy = oy * s - c->pad + ky;
        if (iy < 0 || iy >= c->hin || lo == hi) {
            memset(dst, 0, (size_t)c->wout * sizeof *dst);
            continue;
        }
        const float *row = src + iy * c->win - c->pad + kx;
        memset(dst, 0, (size_t)lo * sizeof *dst);
        if (s == 1)
            memcpy(dst + lo, row + lo, (size_t)(hi - lo) * sizeof *dst);
        else
            for (int64_t ox = lo; ox < hi; ox++)
                dst[ox] = row[ox * s];
        memset(dst + hi, 0, (size_t)(c->wout - hi) * sizeof *dst);
    }
}

static void lower_band(const lm_kconv *c, const float *in, int64_t oy0,
                       int64_t oy1, float *col)
{
    int64_t cpg = c->cin / c->groups, kk = c->k * c->k;
    size_t ncols = (size_t)((oy1 - oy0) * c->wout);
    for (int64_t ci = 0; ci < cpg; ci++)
        for (int64_t t = 0; t < kk; t++)
            lower_tap(c, in + ci * c->hin * c->win, t / c->k, t % c->k, oy0,
                      oy1, col + (size_t)(ci * kk + t) * ncols);
}

static void conv_im2col(const lm_kconv *c, const float *in, float *out,
                        float *ws)
{
    int64_t cpg = c->cin / c->groups, opg = c->cout / c->groups;
    int64_t hw_in = c->hin * c->win, hw_out = c->hout * c->wout;
    int64_t K = (int64_t)col_rows(c), band = band_rows(c);
    for (int64_t g = 0; g < c->groups; g++) {
        const float *wg = c->weight + g * opg * K;
        for (int64_t oy0 = 0; oy0 < c->hout; oy0 += band) {
            int64_t oy1 = oy0 + band < c->hout ? oy0 + band : c->hout;
            int64_t n = (oy1 - oy0) * c->wout;
            lower_band(c, in + g * cpg * hw_in, oy0, oy1, ws);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                        (int)opg, (int)n, (int)K, 1.0f, wg, (int)K, ws,
                        (int)n, 0.0f,
                        out + g * opg * hw_out + oy0 * c->wout,
                        (int)hw_out);
        }
    }
}

/* Output columns where every tap of a kernel row lies inside the input:
 * the intersection of valid_cols over kx. */
static void interior_cols(const lm_kconv *c, int64_t *lo, int64_t *hi)
{
    int64_t a, b;
    *lo = 0;
    *hi = c->wout;
    for (int64_t kx = 0; kx < c->k; kx++) {
        valid_cols(c->win, c->wout, c->stride, c->pad, kx, &a, &b);
        *lo = a > *lo ? a : *lo;
        *hi = b < *hi ? b : *hi;
    }
    if (*lo > *hi)
        *lo = *hi;
}

/* One kernel row over interior columns: `base` is the input row shifted
 * so that output column ox reads base[ox * s + kx]. The 3-tap cases keep
 * the sum in a register (one pass over the output row instead of three)
 * and vectorise. */
LM_KHOT static void depthwise_taps(const float *base, const float *w,
                                   int64_t k, int64_t s, int64_t lo,
                                   int64_t hi, float *orow)
{
    if (k == 3 && s == 1) {
        float w0 = w[0], w1 = w[1], w2 = w[2];
        for (int64_t ox = lo; ox < hi; ox++)
            orow[ox] += w0 * base[ox] + w1 * base[ox + 1] + w2 * base[ox + 2];
    } else if (k == 3 && s == 2) {
        float w0 = w[0], w1 = w[1], w2 = w[2];
        for (int64_t ox = lo; ox < hi; ox++)
            orow[ox] += w0 * base[2 * ox] + w1 * base[2 * ox + 1] +
                        w2 * base[2 * ox + 2];
    } else {
        for (int64_t kx = 0; kx < k; kx++)
            for (int64_t ox = lo; ox < hi; ox++)
                orow[ox] += w[kx] * base[ox * s + kx];
    }
}

/* Border columns (outside [lo, hi)): taps tested one by one. */
static void depthwise_border(const lm_kconv *c, const float *base,
                             const float *w, int64_t ox, float *orow)
{
    for (int64_t kx = 0; kx < c->k; kx++) {
        int64_t ix = ox * c->stride - c->pad + kx;
        if (ix >= 0 && ix < c->win)
            orow[ox] += w[kx] * base[ox * c->stride + kx];
    }
}

/* One output row of a depthwise channel, accumulated kernel row by kernel
 * row so that the output row stays in L1. */
static void depthwise_row(const lm_kconv *c, const float *src,
                          const float *wk, int64_t oy, int64_t lo,
                          int64_t hi, float *orow)
{
    int64_t s = c->stride, k = c->k;
    memset(orow, 0, (size_t)c->wout * sizeof *orow);
    for (int64_t ky = 0; ky < k; ky++) {
        int64_t iy = oy * s - c->pad + ky;
        if (iy < 0 || iy >= c->hin)
            continue;
        const float *base = src + iy * c->win - c->pad;
        depthwise_taps(base, wk + ky * k, k, s, lo, hi, orow);
        for (int64_t ox = 0; ox < lo; ox++)
            depthwise_border(c, base, wk + ky * k, ox, orow);
        for (int64_t ox = hi; ox < c->wout; ox++)
            depthwise_border(c, base, wk + ky * k, ox, orow);
    }
}

/* The epilogue (bias, addend, activation) runs on each row while it is
 * hot. */
static void conv_depthwise(const lm_kconv *c, const float *in, float *out,
                           lm_act act, const float *add)
{
    int64_t k = c->k, hw = c->hout * c->wout, lo, hi;
    interior_cols(c, &lo, &hi);
    for (int64_t ch = 0; ch < c->cout; ch++) {
        const float *src = in + ch * c->hin * c->win;
        float b = c->bias ? c->bias[ch] : 0.0f;
        for (int64_t oy = 0; oy < c->hout; oy++) {
            int64_t at = ch * hw + oy * c->wout;
            depthwise_row(c, src, c->weight + ch * k * k, oy, lo, hi,
                          out + at);
            lm_kepilogue(out + at, (size_t)c->wout, b, add ? add + at : NULL,
                         act);
        }
    }
}

/* Per output channel, so each pass over a channel plane hits cache. */
static void epilogue(const lm_kconv *c, float *out, lm_act act,
                     const float *add)
{
    size_t hw = (size_t)(c->hout * c->wout);
    for (int64_t ch = 0; ch < c->cout; ch++)
        lm_kepilogue(out + (size_t)ch * hw, hw, c->bias ? c->bias[ch] : 0.0f,
                     add ? add + (size_t)ch * hw : NULL, act);
}

void lm_kconv_run_fused(const lm_kconv *c, const float *in, float *out,
                        float *ws, lm_act act, const float *add)
{
    int64_t hw = c->hin * c->win;
    if (is_depthwise(c)) {
        conv_depthwise(c, in, out, act, add);
        return;
    }
    if (is_pointwise(c))
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)c->cout,
                    (int)hw, (int)c->cin, 1.0f, c->weight, (int)c->cin, in,
                    (int)hw, 0.0f, out, (int)hw);
    else
        conv_im2col(c, in, out, ws);
    if (c->bias || add || act != LM_ACT_IDENTITY)
        epilogue(c, out, act, add);
}

void lm_kconv_run(const lm_kconv *c, const float *in, float *out, float *ws)
{
    lm_kconv_run_fused(c, in, out, ws, LM_ACT_IDENTITY, NULL);
}
