/* The DDPM self-attention block (AttnBlock): y = x + proj_out(attn(GN(x)))
 * with single-head attention over the spatial positions. The 1x1 convs
 * and both attention products are sgemm calls; the softmax rounds as
 * PyTorch's (exp of x - max in float, times the reciprocal of the sum). */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "engine/kernels.h"

/* GN output (later the attended values), q (later proj_out's output), k,
 * v, then the hw x hw weights. */
size_t lm_kattention_workspace(int64_t c, int64_t hw)
{
    return 4 * (size_t)c * (size_t)hw + (size_t)hw * (size_t)hw;
}

/* out (c x hw) = w (c x c) in + b, a 1x1 conv; b may be NULL. */
static void pointwise(const float *w, const float *b, int64_t c, int64_t hw,
                      const float *in, float *out)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)c, (int)hw,
                (int)c, 1.0f, w, (int)c, in, (int)hw, 0.0f, out, (int)hw);
    for (int64_t ch = 0; ch < c; ch++)
        lm_kepilogue(out + ch * hw, (size_t)hw, b ? b[ch] : 0.0f, NULL,
                     LM_ACT_IDENTITY);
}

/* Softmax of each row of w (n x n) in place. The sum is kept in double:
 * a row of 1024 terms in float would lose the last bits. */
LM_KHOT static void softmax_rows(float *w, int64_t n)
{
    for (int64_t i = 0; i < n; i++, w += n) {
        float m = w[0];
        for (int64_t j = 1; j < n; j++)
            m = w[j] > m ? w[j] : m;
        double sum = 0.0;
        for (int64_t j = 0; j < n; j++) {
            w[j] = expf(w[j] - m);
            sum += (double)w[j];
        }
        float inv = (float)(1.0 / sum);
        for (int64_t j = 0; j < n; j++)
            w[j] *= inv;
    }
}

/* x += p, the residual (x + proj_out(h) rounds the same either way). */
LM_KHOT static void add_into(float *x, const float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] += p[i];
}

void lm_kattention(const lm_kattn *a, float *x, int64_t hw, float *ws)
{
    int64_t c = a->c;
    size_t chw = (size_t)c * (size_t)hw;
    float *g = ws, *q = ws + chw, *k = q + chw, *v = k + chw, *w = v + chw;
    /* PyTorch scales by the Python float c ** -0.5 cast to float. */
    float scale = (float)pow((double)c, -0.5);

    memcpy(g, x, chw * sizeof *g);
    lm_kgroupnorm(g, c, hw, a->groups, a->eps, a->gamma, a->beta);
    pointwise(a->wq, a->bq, c, hw, g, q);
    pointwise(a->wk, a->bk, c, hw, g, k);
    pointwise(a->wv, a->bv, c, hw, g, v);
    /* w[i][j] = scale * sum_c q[c][i] k[c][j] */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)hw, (int)hw,
                (int)c, scale, q, (int)hw, k, (int)hw, 0.0f, w, (int)hw);
    softmax_rows(w, hw);
    /* h[c][i] = sum_j v[c][j] w[i][j], into g */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c, (int)hw,
                (int)hw, 1.0f, v, (int)hw, w, (int)hw, 0.0f, g, (int)hw);
    pointwise(a->wo, a->bo, c, hw, g, q);
    add_into(x, q, chw);
}
