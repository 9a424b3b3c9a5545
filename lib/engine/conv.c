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
static void lower_tap(const lm_kconv *c, const float *src, int64_t ky,
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

static void conv_depthwise(const lm_kconv *c, const float *in, float *out)
{
    int64_t s = c->stride, k = c->k;
    for (int64_t ch = 0; ch < c->cout; ch++) {
        const float *src = in + ch * c->hin * c->win;
        const float *wk = c->weight + ch * k * k;
        float *dst = out + ch * c->hout * c->wout;
        memset(dst, 0, (size_t)(c->hout * c->wout) * sizeof *dst);
        for (int64_t kx = 0; kx < k; kx++) {
            int64_t lo, hi;
            valid_cols(c->win, c->wout, s, c->pad, kx, &lo, &hi);
            for (int64_t oy = 0; oy < c->hout; oy++) {
                float *orow = dst + oy * c->wout;
                for (int64_t ky = 0; ky < k; ky++) {
                    int64_t iy = oy * s - c->pad + ky;
                    if (iy < 0 || iy >= c->hin)
                        continue;
                    const float *irow = src + iy * c->win - c->pad + kx;
                    float wv = wk[ky * k + kx];
                    if (s == 1)
                        for (int64_t ox = lo; ox < hi; ox++)
                            orow[ox] += wv * irow[ox];
                    else
                        for (int64_t ox = lo; ox < hi; ox++)
                            orow[ox] += wv * irow[ox * s];
                }
            }
        }
    }
}

static void add_bias(const lm_kconv *c, float *out)
{
    int64_t hw = c->hout * c->wout;
    for (int64_t ch = 0; ch < c->cout; ch++) {
        float b = c->bias[ch];
        float *dst = out + ch * hw;
        for (int64_t i = 0; i < hw; i++)
            dst[i] += b;
    }
}

void lm_kconv_run(const lm_kconv *c, const float *in, float *out, float *ws)
{
    int64_t hw = c->hin * c->win;
    if (is_depthwise(c))
        conv_depthwise(c, in, out);
    else if (is_pointwise(c))
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)c->cout,
                    (int)hw, (int)c->cin, 1.0f, c->weight, (int)c->cin, in,
                    (int)hw, 0.0f, out, (int)hw);
    else
        conv_im2col(c, in, out, ws);
    if (c->bias)
        add_bias(c, out);
}
