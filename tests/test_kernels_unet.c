/* The U-Net kernels of the forward engine (group norm, padding, nearest
 * upsampling, the DDPM attention block, the timestep embedding), each
 * against a plain double-precision reference written here, on odd sizes
 * and at the edges (one channel per group, no padding, scale 1, odd
 * embedding widths). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kernels.h"
#include "helpers.h"

/* ---- helpers ---------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static float urand(void)
{
    return lm_test_urand(&rng_state);
}

/* n values uniform in [offset - spread, offset + spread). */
static float *rand_floats(size_t n, float offset, float spread)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < n; i++)
        x[i] = offset + spread * urand();
    return x;
}

static double *to_double(const float *x, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    ck_assert_ptr_nonnull(d);
    for (size_t i = 0; i < n; i++)
        d[i] = (double)x[i];
    return d;
}

/* max |got - want| / max |want| over n values. */
static double rel_err(const float *got, const double *want, size_t n)
{
    double diff = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(isfinite(got[i]), "value %zu is %g", i, (double)got[i]);
        double d = fabs((double)got[i] - want[i]);
        diff = d > diff ? d : diff;
        scale = fabs(want[i]) > scale ? fabs(want[i]) : scale;
    }
    return scale > 0.0 ? diff / scale : diff;
}

/* ---- double references ------------------------------------------------ */

/* Channel by channel: each value is assigned to its group by index. */
static void ref_groupnorm(double *x, int64_t c, int64_t hw, int64_t groups,
                          double eps, const float *gamma, const float *beta)
{
    int64_t cpg = c / groups;
    for (int64_t g = 0; g < groups; g++) {
        double sum = 0.0, sq = 0.0, cnt = (double)(cpg * hw);
        for (int64_t ch = g * cpg; ch < (g + 1) * cpg; ch++)
            for (int64_t i = 0; i < hw; i++)
                sum += x[ch * hw + i];
        double mean = sum / cnt;
        for (int64_t ch = g * cpg; ch < (g + 1) * cpg; ch++)
            for (int64_t i = 0; i < hw; i++)
                sq += (x[ch * hw + i] - mean) * (x[ch * hw + i] - mean);
        double sd = sqrt(sq / cnt + eps);
        for (int64_t ch = g * cpg; ch < (g + 1) * cpg; ch++)
            for (int64_t i = 0; i < hw; i++) {
                double v = (x[ch * hw + i] - mean) / sd;
                x[ch * hw + i] = v * (gamma ? gamma[ch] : 1.0) +
                                 (beta ? beta[ch] : 0.0);
            }
    }
}

/* out (c x hw) = w in + b. */
static void ref_pointwise(const float *w, const float *b, int64_t c,
                          int64_t hw, const double *in, double *out)
{
    for (int64_t o = 0; o < c; o++)
        for (int64_t i = 0; i < hw; i++) {
            double s = b[o];
            for (int64_t k = 0; k < c; k++)
                s += (double)w[o * c + k] * in[k * hw + i];
            out[o * hw + i] = s;
        }
}

static void ref_attention(const lm_kattn *a, double *x, int64_t hw)
{
    int64_t c = a->c;
    size_t n = (size_t)(c * hw);
    double *g = malloc(n * sizeof *g), *q = malloc(n * sizeof *q);
    double *k = malloc(n * sizeof *k), *v = malloc(n * sizeof *v);
    double *h = malloc(n * sizeof *h), *p = malloc(n * sizeof *p);
    double *row = malloc((size_t)hw * sizeof *row);
    ck_assert(g && q && k && v && h && p && row);
    memcpy(g, x, n * sizeof *g);
    ref_groupnorm(g, c, hw, a->groups, a->eps, a->gamma, a->beta);
    ref_pointwise(a->wq, a->bq, c, hw, g, q);
    ref_pointwise(a->wk, a->bk, c, hw, g, k);
    ref_pointwise(a->wv, a->bv, c, hw, g, v);
    for (int64_t i = 0; i < hw; i++) {
        double m = -INFINITY, sum = 0.0;
        for (int64_t j = 0; j < hw; j++) {
            double s = 0.0;
            for (int64_t ch = 0; ch < c; ch++)
                s += q[ch * hw + i] * k[ch * hw + j];
            row[j] = s / sqrt((double)c);
            m = row[j] > m ? row[j] : m;
        }
        for (int64_t j = 0; j < hw; j++)
            sum += exp(row[j] - m);
        for (int64_t ch = 0; ch < c; ch++) {
            double s = 0.0;
            for (int64_t j = 0; j < hw; j++)
                s += v[ch * hw + j] * exp(row[j] - m) / sum;
            h[ch * hw + i] = s;
        }
    }
    ref_pointwise(a->wo, a->bo, c, hw, h, p);
    for (size_t i = 0; i < n; i++)
        x[i] += p[i];
    free(g);
    free(q);
    free(k);
    free(v);
    free(h);
    free(p);
    free(row);
}

/* ---- group norm ------------------------------------------------------- */

static void check_groupnorm(int64_t c, int64_t hw, int64_t groups,
                            double eps, int affine, float offset)
{
    size_t n = (size_t)(c * hw);
    float *x = rand_floats(n, offset, 1.5f);
    float *gamma = affine ? rand_floats((size_t)c, 1.0f, 0.5f) : NULL;
    float *beta = affine ? rand_floats((size_t)c, 0.0f, 0.5f) : NULL;
    double *want = to_double(x, n);
    ref_groupnorm(want, c, hw, groups, eps, gamma, beta);
    lm_kgroupnorm(x, c, hw, groups, eps, gamma, beta);
    double e = rel_err(x, want, n);
    ck_assert_msg(e < 1e-6, "groupnorm c%lld hw%lld g%lld affine %d: %g",
                  (long long)c, (long long)hw, (long long)groups, affine, e);
    free(x);
    free(gamma);
    free(beta);
    free(want);
}

START_TEST(test_groupnorm)
{
    check_groupnorm(64, 7 * 5, 32, 1e-6, 1, 0.0f); /* DDPM's 32 groups */
    check_groupnorm(128, 3 * 3, 32, 1e-5, 1, 0.3f);
    check_groupnorm(6, 11, 6, 1e-5, 1, 0.0f);      /* groups = c */
    check_groupnorm(5, 13, 1, 1e-5, 1, 0.0f);      /* one group */
    check_groupnorm(12, 7, 4, 1e-5, 0, 0.0f);      /* no affine */
    check_groupnorm(8, 1, 8, 1e-5, 1, 0.0f);       /* one value per group */
    /* A mean 2000 times the spread: a one-pass variance in float would
     * have no correct bits left. */
    check_groupnorm(16, 9 * 7, 4, 1e-6, 1, 3000.0f);
}
END_TEST

/* A group whose values are all equal normalises to beta (0 / sqrt(eps)),
 * and the output of an affine-off norm has mean 0 and variance
 * var / (var + eps) in every group. */
START_TEST(test_groupnorm_moments)
{
    const int64_t c = 6, hw = 10, groups = 3;
    float x[60], beta[6] = {0.5f, -1.0f, 2.0f, 0.25f, 3.0f, -2.0f};
    for (int i = 0; i < 60; i++)
        x[i] = 7.0f;
    lm_kgroupnorm(x, c, hw, groups, 1e-5, NULL, beta);
    for (int i = 0; i < 60; i++)
        ck_assert_float_eq(x[i], beta[i / hw]);

    float *y = rand_floats(60, -4.0f, 3.0f);
    lm_kgroupnorm(y, c, hw, groups, 1e-5, NULL, NULL);
    for (int g = 0; g < groups; g++) {
        double s = 0.0, sq = 0.0;
        for (int i = 0; i < 20; i++)
            s += y[g * 20 + i];
        for (int i = 0; i < 20; i++)
            sq += (y[g * 20 + i] - s / 20) * (y[g * 20 + i] - s / 20);
        ck_assert_msg(fabs(s / 20) < 1e-6, "group %d mean %g", g, s / 20);
        ck_assert_msg(fabs(sq / 20 - 1.0) < 1e-4, "group %d var %g", g,
                      sq / 20);
    }
    free(y);
}
END_TEST

/* ---- pad and upsample ------------------------------------------------- */

static void check_pad(int64_t c, int64_t h, int64_t w, int64_t top,
                      int64_t left, int64_t bottom, int64_t right)
{
    int64_t oh = top + h + bottom, ow = left + w + right;
    float *in = rand_floats((size_t)(c * h * w), 0.0f, 1.0f);
    size_t n = (size_t)(c * oh * ow);
    float *out = malloc((n + 1) * sizeof *out);
    ck_assert_ptr_nonnull(out);
    for (size_t i = 0; i <= n; i++)
        out[i] = NAN; /* every value must be written; the guard stays */
    lm_kpad(in, c, h, w, top, left, bottom, right, out);
    for (int64_t ch = 0; ch < c; ch++)
        for (int64_t y = 0; y < oh; y++)
            for (int64_t x = 0; x < ow; x++) {
                int64_t iy = y - top, ix = x - left;
                float want = iy >= 0 && iy < h && ix >= 0 && ix < w
                                 ? in[(ch * h + iy) * w + ix]
                                 : 0.0f;
                float got = out[(ch * oh + y) * ow + x];
                ck_assert_msg(got == want,
                              "pad %lld %lld %lld %lld at (%lld, %lld, %lld):"
                              " %g, want %g",
                              (long long)top, (long long)left,
                              (long long)bottom, (long long)right,
                              (long long)ch, (long long)y, (long long)x,
                              (double)got, (double)want);
            }
    ck_assert(isnan(out[n]));
    free(in);
    free(out);
}

START_TEST(test_pad)
{
    check_pad(3, 5, 7, 0, 0, 1, 1); /* the DDPM downsample */
    check_pad(2, 4, 3, 2, 1, 3, 0);
    check_pad(2, 3, 6, 1, 2, 1, 2);
    check_pad(4, 5, 5, 0, 0, 0, 0); /* no padding: a copy */
    check_pad(1, 1, 1, 3, 0, 0, 2);
}
END_TEST

static void check_upsample(int64_t c, int64_t h, int64_t w, int64_t s)
{
    float *in = rand_floats((size_t)(c * h * w), 0.0f, 1.0f);
    int64_t oh = h * s, ow = w * s;
    size_t n = (size_t)(c * oh * ow);
    float *out = malloc((n + 1) * sizeof *out);
    ck_assert_ptr_nonnull(out);
    for (size_t i = 0; i <= n; i++)
        out[i] = NAN;
    lm_kupsample_nearest(in, c, h, w, s, out);
    for (int64_t ch = 0; ch < c; ch++)
        for (int64_t y = 0; y < oh; y++)
            for (int64_t x = 0; x < ow; x++)
                ck_assert_msg(out[(ch * oh + y) * ow + x] ==
                                  in[(ch * h + y / s) * w + x / s],
                              "upsample x%lld at (%lld, %lld, %lld)",
                              (long long)s, (long long)ch, (long long)y,
                              (long long)x);
    ck_assert(isnan(out[n]));
    free(in);
    free(out);
}

START_TEST(test_upsample)
{
    check_upsample(3, 5, 4, 2);
    check_upsample(2, 3, 7, 3);
    check_upsample(4, 6, 5, 1); /* scale 1: a copy */
    check_upsample(1, 1, 1, 4);
}
END_TEST

/* ---- attention -------------------------------------------------------- */

typedef struct attn_case {
    int64_t c, groups, h, w;
    double eps;
    float wscale; /* spread of q/k weights: larger means sharper softmax */
} attn_case;

static void check_attention(const attn_case *ac)
{
    int64_t c = ac->c, hw = ac->h * ac->w;
    size_t n = (size_t)(c * hw), cc = (size_t)(c * c);
    float *x = rand_floats(n, 0.2f, 1.0f);
    float *gamma = rand_floats((size_t)c, 1.0f, 0.3f);
    float *beta = rand_floats((size_t)c, 0.0f, 0.3f);
    float *wt[4], *bs[4];
    for (int i = 0; i < 4; i++) {
        wt[i] = rand_floats(cc, 0.0f, i < 2 ? ac->wscale : 0.5f);
        bs[i] = rand_floats((size_t)c, 0.0f, 0.2f);
    }
    lm_kattn a = {c, ac->groups, ac->eps, gamma, beta, wt[0], bs[0], wt[1],
                  bs[1], wt[2], bs[2], wt[3], bs[3]};
    size_t wsn = lm_kattention_workspace(c, hw);
    ck_assert_uint_eq(wsn, 4 * n + (size_t)(hw * hw));
    float *ws = malloc((wsn + 1) * sizeof *ws);
    ck_assert_ptr_nonnull(ws);
    ws[wsn] = NAN; /* guard: the kernel stays inside its workspace */

    double *want = to_double(x, n);
    ref_attention(&a, want, hw);
    lm_kattention(&a, x, hw, ws);
    double e = rel_err(x, want, n);
    ck_assert_msg(e < 1e-5, "attention c%lld g%lld %lldx%lld: %g",
                  (long long)c, (long long)ac->groups, (long long)ac->h,
                  (long long)ac->w, e);
    ck_assert(isnan(ws[wsn]));
    free(x);
    free(gamma);
    free(beta);
    for (int i = 0; i < 4; i++) {
        free(wt[i]);
        free(bs[i]);
    }
    free(ws);
    free(want);
}

START_TEST(test_attention)
{
    static const attn_case cases[] = {
        {16, 4, 6, 5, 1e-6, 0.5f},
        {32, 32, 7, 3, 1e-5, 0.5f}, /* groups = c */
        {24, 8, 5, 5, 1e-6, 2.0f},  /* near one-hot softmax rows */
        {8, 2, 1, 1, 1e-6, 0.5f},   /* one position: the weight is 1 */
        {64, 32, 9, 7, 1e-6, 0.3f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_attention(&cases[i]);
}
END_TEST

/* ---- timestep embedding ----------------------------------------------- */

/* The embedding against exact double arithmetic. The kernel's argument
 * is float32 as PyTorch's: the exponent i * step (|.| <= ln 10000) and
 * f and t * f are each rounded, so its relative error is up to about
 * (2 |ln f| + 3) float ulps, and the bound grows with |t f| by that. */
static void check_timestep(int64_t dim, const float *t, size_t n)
{
    int64_t half = dim / 2;
    float *out = malloc((n * (size_t)dim + 1) * sizeof *out);
    ck_assert_ptr_nonnull(out);
    out[n * (size_t)dim] = NAN;
    lm_ktimestep_embedding(t, n, dim, out);
    for (size_t b = 0; b < n; b++)
        for (int64_t i = 0; i < half; i++) {
            double f = exp(-(double)i * log(10000.0) / (double)(half - 1));
            double arg = (double)t[b] * f;
            double tol =
                1e-6 + fabs(arg) * (2.0 * fabs(log(f)) + 3.0) * 0x1p-24;
            float s = out[b * (size_t)dim + (size_t)i];
            float co = out[b * (size_t)dim + (size_t)(half + i)];
            ck_assert_msg(fabs(s - sin(arg)) <= tol &&
                              fabs(co - cos(arg)) <= tol,
                          "dim %lld t %g i %lld: %g %g, want %g %g",
                          (long long)dim, (double)t[b], (long long)i,
                          (double)s, (double)co, sin(arg), cos(arg));
            /* whatever the argument's rounding, both are of one angle */
            ck_assert(fabs((double)s * s + (double)co * co - 1.0) < 1e-6);
        }
    for (size_t b = 0; b < n && dim % 2; b++)
        ck_assert(out[b * (size_t)dim + (size_t)(dim - 1)] == 0.0f);
    ck_assert(isnan(out[n * (size_t)dim]));
    free(out);
}

START_TEST(test_timestep_embedding)
{
    const float t[] = {0.0f, 1.0f, 17.0f, 250.5f, 999.0f};
    check_timestep(128, t, 5); /* DDPM CIFAR-10 */
    check_timestep(7, t, 5);   /* odd: a zero column */
    check_timestep(4, t, 5);
    check_timestep(33, t + 3, 2);

    /* t = 0: sin 0 and cos 1 everywhere; f_0 = 1: the first column is
     * sin t itself. */
    float out[5 * 10];
    lm_ktimestep_embedding(t, 5, 10, out);
    for (int i = 0; i < 5; i++)
        ck_assert(out[i] == 0.0f && out[5 + i] == 1.0f);
    ck_assert(out[10 * 4] == (float)sin(999.0));
}
END_TEST

static Suite *kernels_unet_suite(void)
{
    Suite *s = suite_create("kernels_unet");
    TCase *k = tcase_create("kernels");
    tcase_add_test(k, test_groupnorm);
    tcase_add_test(k, test_groupnorm_moments);
    tcase_add_test(k, test_pad);
    tcase_add_test(k, test_upsample);
    tcase_add_test(k, test_attention);
    tcase_add_test(k, test_timestep_embedding);
    suite_add_tcase(s, k);
    return s;
}

int main(void)
{
    return lm_test_run(kernels_unet_suite());
}
