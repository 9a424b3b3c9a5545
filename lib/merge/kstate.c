/* The kernel algebra of chain states, in double: composing a conv after a
 * state, and adding one state into another at its kernel centre. */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "merge/chain_private.h"

size_t lm_kstate_weight_count(int64_t channels, int64_t in, int64_t kernel,
                              int depthwise)
{
    uint64_t rows = (uint64_t)channels * (uint64_t)(depthwise ? 1 : in);
    uint64_t area = (uint64_t)kernel * (uint64_t)kernel;
    /* Every factor is below 2^31 (checked by the callers), so only the
     * final product can exceed what one allocation may hold. */
    if (area != 0 && rows > (SIZE_MAX / sizeof(double)) / area)
        return 0;
    return (size_t)(rows * area);
}

lm_status lm_kstate_alloc(lm_kstate *s, int64_t channels, int64_t in,
                          int64_t kernel, int64_t stride, int depthwise)
{
    memset(s, 0, sizeof *s);
    size_t n = lm_kstate_weight_count(channels, in, kernel, depthwise);
    if (n == 0)
        return lm_err(LM_ERR_UNSUPPORTED,
                      "merged kernel of %lld x %lld channels, %lldx%lld, is "
                      "too large", (long long)channels, (long long)in,
                      (long long)kernel, (long long)kernel);
    s->w = calloc(n, sizeof *s->w);
    s->b = calloc((size_t)channels, sizeof *s->b);
    if (!s->w || !s->b) {
        lm_kstate_free(s);
        return lm_err_nomem();
    }
    s->channels = channels;
    s->kernel = kernel;
    s->stride = stride;
    s->depthwise = depthwise;
    return LM_OK;
}

void lm_kstate_free(lm_kstate *s)
{
    free(s->w);
    free(s->b);
    s->w = NULL;
    s->b = NULL;
}

/* dst (dk x dk) += w * src (sk x sk) shifted by (du, dv). */
static void add_block(double *dst, int64_t dk, const double *src, int64_t sk,
                      double w, int64_t du, int64_t dv)
{
    for (int64_t t = 0; t < sk; t++) {
        double *row = dst + (du + t) * dk + dv;
        const double *srow = src + t * sk;
        for (int64_t r = 0; r < sk; r++)
            row[r] += w * srow[r];
    }
}

static void compose_depthwise(lm_kstate *out, const lm_kstate *prev,
                              const lm_kconv *cv)
{
    int64_t k = cv->kernel, kp = prev->kernel, kn = out->kernel;
    for (int64_t c = 0; c < cv->out; c++)
        for (int64_t u = 0; u < k; u++)
            for (int64_t v = 0; v < k; v++)
                add_block(out->w + c * kn * kn, kn, prev->w + c * kp * kp, kp,
                          cv->w[(c * k + u) * k + v], prev->stride * u,
                          prev->stride * v);
}

/* Dense composition runs in a position-major layout, [channel][position]
 * [chain input], where one output row of taps at a fixed kernel row is a
 * contiguous run: each (conv tap, prev kernel row) pair is then one
 * matrix product (out x in_conv) * (in_conv x kp * chain_in) accumulated
 * in place, which BLAS runs an order of magnitude faster than scalar
 * loops. States keep the PyTorch layout [o][i][K][K] between steps. */
static double *to_pos_major(const double *w, int64_t rows, int64_t in,
                            int64_t area)
{
    size_t n = (size_t)rows * (size_t)in * (size_t)area;
    double *t = malloc((n ? n : 1) * sizeof *t);
    if (!t)
        return NULL;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < in; i++) {
            const double *src = w + (r * in + i) * area;
            double *dst = t + r * area * in + i;
            for (int64_t p = 0; p < area; p++)
                dst[p * in] = src[p];
        }
    return t;
}

static void from_pos_major(double *w, const double *t, int64_t rows,
                           int64_t in, int64_t area)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < in; i++) {
            const double *src = t + r * area * in + i;
            double *dst = w + (r * in + i) * area;
            for (int64_t p = 0; p < area; p++)
                dst[p] = src[p * in];
        }
}

/* The conv's taps as matrices: wq[q][o][cl] = W[o][cl][q]. */
static double *conv_taps(const lm_kconv *cv)
{
    int64_t kk = cv->kernel * cv->kernel, cpg = cv->in / cv->groups;
    double *wq = malloc((size_t)(kk * cv->out * cpg) * sizeof *wq);
    if (!wq)
        return NULL;
    for (int64_t o = 0; o < cv->out; o++)
        for (int64_t cl = 0; cl < cpg; cl++)
            for (int64_t q = 0; q < kk; q++)
                wq[(q * cv->out + o) * cpg + cl] = cv->w[(o * cpg + cl) * kk + q];
    return wq;
}

/* acc[o][p + shift(q)][i] += sum_c W[o][c][q] pm[c][p][i] over every tap
 * q and prev kernel row; groups are blocks of the product. */
static void compose_gemm(double *acc, const double *pm, const double *wq,
                         const lm_kstate *prev, const lm_kconv *cv,
                         int64_t chain_in, int64_t kn)
{
    int64_t k = cv->kernel, kp = prev->kernel, ap = kp * kp, an = kn * kn;
    int64_t cpg = cv->in / cv->groups, opg = cv->out / cv->groups;
    int64_t run = kp * chain_in;
    for (int64_t u = 0; u < k; u++)
        for (int64_t v = 0; v < k; v++) {
            const double *a = wq + (u * k + v) * cv->out * cpg;
            int64_t su = prev->stride * u, sv = prev->stride * v;
            for (int64_t g = 0; g < cv->groups; g++) {
                int64_t o0 = g * opg, c0 = g * cpg;
                for (int64_t t = 0; t < kp; t++) {
                    const double *b = pm + c0 * ap * chain_in + t * run;
                    double *c = acc + o0 * an * chain_in +
                                ((su + t) * kn + sv) * chain_in;
                    if (opg == 1 && cpg == 1)
                        cblas_daxpy((int)run, a[o0], b, 1, c, 1);
                    else
                        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                                    (int)opg, (int)run, (int)cpg, 1.0,
                                    a + o0 * cpg, (int)cpg, b,
                                    (int)(ap * chain_in), 1.0, c,
                                    (int)(an * chain_in));
                }
            }
        }
}

/* A depthwise prev is diagonal (prev channel c reads only chain input c),
 * so a dense conv after it needs no product over channels. */
static void compose_after_depthwise(double *acc, const lm_kstate *prev,
                                    const lm_kconv *cv, int64_t chain_in,
                                    int64_t kn)
{
    int64_t k = cv->kernel, kp = prev->kernel, an = kn * kn;
    int64_t cpg = cv->in / cv->groups, opg = cv->out / cv->groups;
    for (int64_t o = 0; o < cv->out; o++) {
        int64_t c0 = (o / opg) * cpg;
        for (int64_t cl = 0; cl < cpg; cl++) {
            int64_t c = c0 + cl;
            const double *d = prev->w + c * kp * kp;
            for (int64_t u = 0; u < k; u++)
                for (int64_t v = 0; v < k; v++) {
                    double w = cv->w[((o * cpg + cl) * k + u) * k + v];
                    if (w == 0.0)
                        continue;
                    int64_t su = prev->stride * u, sv = prev->stride * v;
                    for (int64_t t = 0; t < kp; t++)
                        for (int64_t r = 0; r < kp; r++)
                            acc[(o * an + (su + t) * kn + sv + r) * chain_in +
                                c] += w * d[t * kp + r];
                }
        }
    }
}

static lm_status compose_dense(lm_kstate *out, const lm_kstate *prev,
                               const lm_kconv *cv, int64_t chain_in)
{
    int64_t kn = out->kernel, an = kn * kn;
    double *acc = calloc((size_t)(out->channels * an * chain_in), sizeof *acc);
    if (!acc)
        return lm_err_nomem();
    if (prev->depthwise) {
        compose_after_depthwise(acc, prev, cv, chain_in, kn);
    } else {
        double *pm = to_pos_major(prev->w, prev->channels, chain_in,
                                  prev->kernel * prev->kernel);
        double *wq = conv_taps(cv);
        if (!pm || !wq) {
            free(pm);
            free(wq);
            free(acc);
            return lm_err_nomem();
        }
        compose_gemm(acc, pm, wq, prev, cv, chain_in, kn);
        free(pm);
        free(wq);
    }
    from_pos_major(out->w, acc, out->channels, chain_in, an);
    free(acc);
    return LM_OK;
}

/* The bias of a conv after prev: the conv applied to prev's (spatially
 * constant) bias, plus its own. Exact because all padding sits before
 * the first conv (docs/method.md section 8), so prev's bias is present at
 * every tap. */
static void compose_bias(lm_kstate *out, const lm_kstate *prev,
                         const lm_kconv *cv)
{
    int64_t kk = cv->kernel * cv->kernel;
    int64_t cpg = cv->in / cv->groups, opg = cv->out / cv->groups;
    for (int64_t o = 0; o < cv->out; o++) {
        double acc = cv->b ? cv->b[o] : 0.0;
        int64_t c0 = (o / opg) * cpg;
        for (int64_t cl = 0; cl < cpg; cl++) {
            const double *w = cv->w + (o * cpg + cl) * kk;
            double wsum = 0.0;
            for (int64_t t = 0; t < kk; t++)
                wsum += w[t];
            acc += wsum * prev->b[c0 + cl];
        }
        out->b[o] = acc;
    }
}

lm_status lm_kstate_compose(lm_kstate *out, const lm_kstate *prev,
                            const lm_kconv *cv, int64_t chain_in)
{
    int dw = prev->depthwise && cv->groups == cv->in && cv->in == cv->out;
    /* Taps of a conv after a strided state are `stride` input pixels
     * apart; callers allow this only for 1x1 convs, where kn == kp. */
    int64_t kn = prev->stride * (cv->kernel - 1) + prev->kernel;
    lm_status st = lm_kstate_alloc(out, cv->out, chain_in, kn,
                                   prev->stride * cv->stride, dw);
    if (st != LM_OK)
        return st;
    if (dw) {
        compose_depthwise(out, prev, cv);
    } else {
        st = compose_dense(out, prev, cv, chain_in);
        if (st != LM_OK) {
            lm_kstate_free(out);
            return st;
        }
    }
    compose_bias(out, prev, cv);
    return LM_OK;
}

/* Turn a depthwise state into the equivalent dense one (diagonal). */
static lm_status densify(lm_kstate *s, int64_t chain_in)
{
    lm_kstate d;
    lm_status st = lm_kstate_alloc(&d, s->channels, chain_in, s->kernel,
                                   s->stride, 0);
    if (st != LM_OK)
        return st;
    size_t kk = (size_t)(s->kernel * s->kernel);
    for (int64_t c = 0; c < s->channels; c++)
        memcpy(d.w + ((size_t)c * (size_t)chain_in + (size_t)c) * kk,
               s->w + (size_t)c * kk, kk * sizeof *d.w);
    memcpy(d.b, s->b, (size_t)s->channels * sizeof *d.b);
    lm_kstate_free(s);
    *s = d;
    return LM_OK;
}

lm_status lm_kstate_add_centred(lm_kstate *dst, const lm_kstate *src,
                                int64_t chain_in)
{
    if (dst->depthwise && !src->depthwise) {
        lm_status st = densify(dst, chain_in);
        if (st != LM_OK)
            return st;
    }
    int64_t dk = dst->kernel, sk = src->kernel, d = (dk - sk) / 2;
    int64_t row = dst->depthwise ? 1 : chain_in;
    for (int64_t o = 0; o < dst->channels; o++) {
        double *orow = dst->w + o * row * dk * dk;
        if (dst->depthwise)
            add_block(orow, dk, src->w + o * sk * sk, sk, 1.0, d, d);
        else if (src->depthwise)
            add_block(orow + o * dk * dk, dk, src->w + o * sk * sk, sk, 1.0,
                      d, d);
        else
            for (int64_t i = 0; i < chain_in; i++)
                add_block(orow + i * dk * dk, dk,
                          src->w + (o * chain_in + i) * sk * sk, sk, 1.0, d, d);
        dst->b[o] += src->b[o];
    }
    return LM_OK;
}

lm_status lm_widen(double **out, const float *v, size_t n, size_t *bad)
{
    *out = NULL;
    double *d = malloc((n ? n : 1) * sizeof *d);
    if (!d)
        return lm_err_nomem();
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            free(d);
            *bad = i;
            return LM_ERR_VALUE;
        }
        d[i] = v[i];
    }
    *out = d;
    return LM_OK;
}
