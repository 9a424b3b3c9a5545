/* The forward engine: each kernel against a plain double reference, a
 * small network covering every layer kind (batch 2) against a double
 * interpreter of the graph, data-driven configurations (pruned conv, moved
 * padding, activation off, skips matched by padding and cropping), the
 * model zoo's ResNet-34 and MobileNetV2 at 32x32, timing and error paths. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"
#include "engine/kernels.h"
#include "helpers.h"
#include "layermerge/engine.h"
#include "layermerge/weights.h"
#include "graph/graph_query.h"

/* ---- helpers ---------------------------------------------------------- */

static uint64_t rng_state = 88172645463325252ull;

static float urand(void)
{
    return lm_test_urand(&rng_state);
}

static float *rand_floats(size_t n)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < n; i++)
        x[i] = urand();
    return x;
}

/* max |got - want| / max(|want|, 1e-30 ...) over n values. */
static double rel_err(const float *got, const double *want, size_t n)
{
    double diff = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        ck_assert_msg(isfinite(got[i]), "value %zu is %g", i, got[i]);
        diff = d > diff ? d : diff;
        scale = fabs(want[i]) > scale ? fabs(want[i]) : scale;
    }
    return scale > 0.0 ? diff / scale : diff;
}

/* ---- double reference kernels ---------------------------------------- */

typedef struct rt {
    double *d;
    int64_t c, h, w;
} rt;

static rt rt_new(int64_t c, int64_t h, int64_t w)
{
    rt t = {calloc((size_t)(c * h * w), sizeof(double)), c, h, w};
    ck_assert_ptr_nonnull(t.d);
    return t;
}

static size_t rt_n(const rt *t)
{
    return (size_t)(t->c * t->h * t->w);
}

static rt ref_conv(const rt *in, const float *wt, const float *b,
                   int64_t cout, int64_t k, int64_t s, int64_t p,
                   int64_t groups)
{
    int64_t oh = (in->h + 2 * p - k) / s + 1, ow = (in->w + 2 * p - k) / s + 1;
    int64_t cpg = in->c / groups, opg = cout / groups;
    rt out = rt_new(cout, oh, ow);
    for (int64_t o = 0; o < cout; o++)
        for (int64_t y = 0; y < oh; y++)
            for (int64_t x = 0; x < ow; x++) {
                double acc = b ? b[o] : 0.0;
                for (int64_t ci = 0; ci < cpg; ci++)
                    for (int64_t u = 0; u < k; u++)
                        for (int64_t v = 0; v < k; v++) {
                            int64_t iy = y * s + u - p, ix = x * s + v - p;
                            if (iy < 0 || ix < 0 || iy >= in->h || ix >= in->w)
                                continue;
                            int64_t c = (o / opg) * cpg + ci;
                            acc += (double)wt[((o * cpg + ci) * k + u) * k + v] *
                                   in->d[(c * in->h + iy) * in->w + ix];
                        }
                out.d[(o * oh + y) * ow + x] = acc;
            }
    return out;
}

static double ref_act1(lm_act act, double x)
{
    double r6 = x + 3.0 < 0.0 ? 0.0 : (x + 3.0 > 6.0 ? 6.0 : x + 3.0);
    switch (act) {
    case LM_ACT_IDENTITY: return x;
    case LM_ACT_RELU: return x > 0.0 ? x : 0.0;
    case LM_ACT_RELU6: return x < 0.0 ? 0.0 : (x > 6.0 ? 6.0 : x);
    case LM_ACT_SILU: return x / (1.0 + exp(-x));
    case LM_ACT_GELU: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case LM_ACT_HARDSWISH: return x * r6 / 6.0;
    case LM_ACT_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case LM_ACT_TANH: return tanh(x);
    }
    return NAN;
}

static void ref_act(lm_act act, rt *t)
{
    for (size_t i = 0; i < rt_n(t); i++)
        t->d[i] = ref_act1(act, t->d[i]);
}

static rt ref_pool(const rt *in, int is_max, int64_t k, int64_t s, int64_t p)
{
    int64_t oh = (in->h + 2 * p - k) / s + 1, ow = (in->w + 2 * p - k) / s + 1;
    rt out = rt_new(in->c, oh, ow);
    for (int64_t c = 0; c < in->c; c++)
        for (int64_t y = 0; y < oh; y++)
            for (int64_t x = 0; x < ow; x++) {
                double m = -INFINITY, sum = 0.0;
                for (int64_t u = 0; u < k; u++)
                    for (int64_t v = 0; v < k; v++) {
                        int64_t iy = y * s + u - p, ix = x * s + v - p;
                        double val = 0.0; /* padding: zero for the average */
                        if (iy >= 0 && ix >= 0 && iy < in->h && ix < in->w) {
                            val = in->d[(c * in->h + iy) * in->w + ix];
                            m = val > m ? val : m;
                        }
                        sum += val;
                    }
                out.d[(c * oh + y) * ow + x] = is_max ? m : sum / (double)(k * k);
            }
    return out;
}

static rt ref_adaptive(const rt *in, int64_t oh, int64_t ow)
{
    rt out = rt_new(in->c, oh, ow);
    for (int64_t c = 0; c < in->c; c++)
        for (int64_t y = 0; y < oh; y++)
            for (int64_t x = 0; x < ow; x++) {
                int64_t y0 = (int64_t)floor((double)(y * in->h) / (double)oh);
                int64_t y1 = (int64_t)ceil((double)((y + 1) * in->h) / (double)oh);
                int64_t x0 = (int64_t)floor((double)(x * in->w) / (double)ow);
                int64_t x1 = (int64_t)ceil((double)((x + 1) * in->w) / (double)ow);
                double sum = 0.0;
                for (int64_t u = y0; u < y1; u++)
                    for (int64_t v = x0; v < x1; v++)
                        sum += in->d[(c * in->h + u) * in->w + v];
                out.d[(c * oh + y) * ow + x] = sum / (double)((y1 - y0) * (x1 - x0));
            }
    return out;
}

static rt ref_linear(const rt *in, const float *wt, const float *b,
                     int64_t out_f)
{
    rt out = rt_new(out_f, 1, 1);
    int64_t in_f = (int64_t)rt_n(in);
    for (int64_t o = 0; o < out_f; o++) {
        double acc = b ? b[o] : 0.0;
        for (int64_t i = 0; i < in_f; i++)
            acc += (double)wt[o * in_f + i] * in->d[i];
        out.d[o] = acc;
    }
    return out;
}

/* dst += src placed at the centre (zero-padded or centre-cropped). */
static void ref_add_centred(rt *dst, const rt *src)
{
    int64_t oy = (dst->h - src->h) / 2, ox = (dst->w - src->w) / 2;
    for (int64_t c = 0; c < dst->c; c++)
        for (int64_t y = 0; y < dst->h; y++)
            for (int64_t x = 0; x < dst->w; x++) {
                int64_t sy = y - oy, sx = x - ox;
                if (sy >= 0 && sx >= 0 && sy < src->h && sx < src->w)
                    dst->d[(c * dst->h + y) * dst->w + x] +=
                        src->d[(c * src->h + sy) * src->w + sx];
            }
}

static rt rt_from(const float *x, int64_t c, int64_t h, int64_t w)
{
    rt t = rt_new(c, h, w);
    for (size_t i = 0; i < rt_n(&t); i++)
        t.d[i] = x[i];
    return t;
}

/* ---- kernel tests ----------------------------------------------------- */

typedef struct conv_case {
    int64_t cin, cout, h, w, k, s, p, groups;
    int bias;
    size_t col_cap;
} conv_case;

static void check_conv(const conv_case *cc)
{
    lm_kconv k = {.cin = cc->cin, .cout = cc->cout, .k = cc->k, .stride = cc->s,
                  .pad = cc->p, .groups = cc->groups, .hin = cc->h,
                  .win = cc->w, .col_cap = cc->col_cap};
    ck_assert(lm_kconv_shape(&k));
    size_t nw = (size_t)(cc->cout * cc->cin / cc->groups * cc->k * cc->k);
    float *wt = rand_floats(nw), *b = cc->bias ? rand_floats((size_t)cc->cout) : NULL;
    float *in = rand_floats((size_t)(cc->cin * cc->h * cc->w));
    size_t nout = (size_t)(cc->cout * k.hout * k.wout);
    float *out = malloc(nout * sizeof *out);
    float *ws = malloc((lm_kconv_workspace(&k) + 1) * sizeof *ws);
    k.weight = wt;
    k.bias = b;
    lm_kconv_run(&k, in, out, ws);
    rt x = rt_from(in, cc->cin, cc->h, cc->w);
    rt want = ref_conv(&x, wt, b, cc->cout, cc->k, cc->s, cc->p, cc->groups);
    ck_assert_int_eq(want.h, k.hout);
    ck_assert_int_eq(want.w, k.wout);
    double e = rel_err(out, want.d, nout);
    ck_assert_msg(e < 1e-5, "conv %lldx%lld k%lld s%lld p%lld g%lld: rel err %g",
                  (long long)cc->cin, (long long)cc->cout, (long long)cc->k,
                  (long long)cc->s, (long long)cc->p, (long long)cc->groups, e);
    free(x.d);
    free(want.d);
    free(wt);
    free(b);
    free(in);
    free(out);
    free(ws);
}

START_TEST(test_conv_kernels)
{
    static const conv_case cases[] = {
        {3, 8, 20, 18, 7, 2, 3, 1, 0, 0},     /* ResNet stem shape */
        {4, 5, 23, 23, 21, 1, 10, 1, 1, 0},   /* large merged kernel */
        {3, 4, 25, 25, 21, 1, 0, 1, 0, 0},    /* 21x21 unpadded */
        {6, 6, 9, 9, 3, 2, 1, 6, 0, 0},       /* depthwise stride 2 */
        {5, 5, 11, 10, 5, 1, 2, 5, 1, 0},     /* depthwise 5x5 */
        {5, 5, 8, 8, 15, 1, 7, 5, 0, 0},      /* depthwise kernel > input */
        {16, 12, 7, 9, 1, 1, 0, 1, 1, 0},     /* pointwise: plain sgemm */
        {8, 4, 9, 9, 1, 2, 0, 1, 0, 0},       /* strided 1x1 projection */
        {6, 4, 8, 8, 3, 1, 1, 2, 1, 0},       /* grouped (generic path) */
        {4, 6, 12, 12, 3, 1, 2, 1, 0, 0},     /* padding larger than k/2 */
        {3, 5, 14, 13, 5, 3, 2, 1, 1, 60},    /* im2col in 1-row bands */
        {2, 3, 10, 10, 3, 1, 1, 1, 0, 100},   /* bands of 2 rows + rest */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_conv(&cases[i]);
}
END_TEST

START_TEST(test_activations)
{
    float x[64];
    for (lm_act a = LM_ACT_IDENTITY; a <= LM_ACT_TANH; a++) {
        for (int i = 0; i < 64; i++)
            x[i] = (float)(i - 32) * 0.25f;
        lm_kact(a, x, 64);
        for (int i = 0; i < 64; i++) {
            double want = ref_act1(a, (double)(i - 32) * 0.25);
            ck_assert_msg(fabs(x[i] - want) <= 1e-6 * (1.0 + fabs(want)),
                          "%s(%g) = %g, want %g", lm_act_name(a),
                          (i - 32) * 0.25, x[i], want);
        }
    }
}
END_TEST

static void check_pool(int is_max, int64_t c, int64_t h, int64_t w,
                       int64_t k, int64_t s, int64_t p)
{
    float *in = rand_floats((size_t)(c * h * w));
    for (size_t i = 0; i < (size_t)(c * h * w); i++)
        in[i] -= 2.0f; /* all negative: a zero pad would win a max */
    rt x = rt_from(in, c, h, w);
    rt want = ref_pool(&x, is_max, k, s, p);
    float *out = malloc(rt_n(&want) * sizeof *out);
    (is_max ? lm_kmaxpool : lm_kavgpool)(in, c, h, w, k, s, p, out, want.h,
                                        want.w);
    ck_assert_msg(rel_err(out, want.d, rt_n(&want)) < 1e-6, "pool %d k%lld",
                  is_max, (long long)k);
    free(in);
    free(out);
    free(x.d);
    free(want.d);
}

START_TEST(test_pools)
{
    check_pool(1, 3, 9, 9, 3, 2, 1);
    check_pool(1, 2, 8, 7, 2, 2, 0);
    check_pool(0, 3, 9, 9, 3, 2, 1); /* count_include_pad */
    check_pool(0, 2, 7, 8, 2, 2, 0);
    check_pool(0, 2, 5, 5, 3, 1, 1);
}
END_TEST

static void check_adaptive(int64_t c, int64_t h, int64_t w, int64_t oh,
                           int64_t ow)
{
    float *in = rand_floats((size_t)(c * h * w));
    rt x = rt_from(in, c, h, w);
    rt want = ref_adaptive(&x, oh, ow);
    float *out = malloc(rt_n(&want) * sizeof *out);
    lm_kadaptive_avgpool(in, c, h, w, out, oh, ow);
    ck_assert_msg(rel_err(out, want.d, rt_n(&want)) < 1e-6,
                  "adaptive %lldx%lld -> %lldx%lld", (long long)h,
                  (long long)w, (long long)oh, (long long)ow);
    if (h == oh && w == ow) /* same size: the identity */
        for (size_t i = 0; i < rt_n(&want); i++)
            ck_assert_float_eq(out[i], in[i]);
    free(in);
    free(out);
    free(x.d);
    free(want.d);
}

START_TEST(test_adaptive_pool)
{
    check_adaptive(3, 7, 7, 7, 7);
    check_adaptive(3, 9, 9, 7, 7);
    check_adaptive(2, 7, 7, 1, 1);
    check_adaptive(2, 10, 6, 3, 4);
    check_adaptive(2, 2, 2, 3, 3); /* more bins than cells: bins overlap */
}
END_TEST

START_TEST(test_linear)
{
    const size_t n = 3;
    const int64_t in_f = 37, out_f = 11;
    float *x = rand_floats(n * (size_t)in_f);
    float *w = rand_floats((size_t)(in_f * out_f)), *b = rand_floats((size_t)out_f);
    float y[3 * 11];
    lm_klinear(x, n, in_f, out_f, w, b, y);
    for (size_t i = 0; i < n; i++) {
        rt xi = rt_from(x + i * (size_t)in_f, in_f, 1, 1);
        rt want = ref_linear(&xi, w, b, out_f);
        ck_assert(rel_err(y + i * (size_t)out_f, want.d, (size_t)out_f) < 1e-5);
        free(xi.d);
        free(want.d);
    }
    free(x);
    free(w);
    free(b);
}
END_TEST

START_TEST(test_add_centred)
{
    /* smaller source: zero-padded; larger source: centre-cropped */
    const int64_t sizes[][4] = {{6, 6, 4, 4}, {5, 7, 3, 3}, {4, 4, 8, 6},
                                {5, 5, 5, 5}};
    for (size_t t = 0; t < 4; t++) {
        int64_t h = sizes[t][0], w = sizes[t][1], sh = sizes[t][2], sw = sizes[t][3];
        float *dst = rand_floats((size_t)(2 * h * w));
        float *src = rand_floats((size_t)(2 * sh * sw));
        rt want = rt_from(dst, 2, h, w), s = rt_from(src, 2, sh, sw);
        ref_add_centred(&want, &s);
        lm_kadd_centred(dst, 2, h, w, src, sh, sw);
        ck_assert(rel_err(dst, want.d, rt_n(&want)) < 1e-6);
        free(dst);
        free(src);
        free(want.d);
        free(s.d);
    }
}
END_TEST

/* ---- double interpreter of a graph ------------------------------------ */

static const float *tensor(const lm_weights *w, const char *base,
                           const char *suffix)
{
    char name[256];
    const float *d = NULL;
    snprintf(name, sizeof name, "%s.%s", base, suffix);
    ck_assert_lm_ok(lm_weights_data_f32(&d, NULL, w, name));
    return d;
}

static void ref_bn(rt *x, const lm_weights *w, const char *name, double eps)
{
    const float *g = tensor(w, name, "weight"), *b = tensor(w, name, "bias");
    const float *m = tensor(w, name, "running_mean");
    const float *v = tensor(w, name, "running_var");
    int64_t hw = x->h * x->w;
    for (int64_t c = 0; c < x->c; c++)
        for (int64_t i = 0; i < hw; i++) {
            double *p = &x->d[c * hw + i];
            *p = (*p - m[c]) / sqrt((double)v[c] + eps) * g[c] + b[c];
        }
}

static void replace(rt *x, rt y)
{
    free(x->d);
    *x = y;
}

static void ref_info_conv(rt *x, const lm_weights *w, const lm_conv_info *ci,
                          int64_t padding)
{
    const float *b = ci->has_bias ? tensor(w, ci->name, "bias") : NULL;
    replace(x, ref_conv(x, tensor(w, ci->name, "weight"), b, ci->out_channels,
                        ci->kernel, ci->stride, padding, ci->groups));
    if (ci->has_bn)
        ref_bn(x, w, ci->bn_name, ci->bn_eps);
}

static void ref_layers(const lm_graph *g, const lm_weights *w, lm_site site,
                       size_t pos, rt *x)
{
    for (size_t i = 0; i < lm_graph_layer_count(g, site, pos); i++) {
        lm_layer_info li = {.size = sizeof li};
        ck_assert_lm_ok(lm_graph_layer_info(&li, g, site, pos, i));
        switch (li.kind) {
        case LM_LAYER_CONV: {
            lm_conv_info ci = {.size = sizeof ci, .in_channels = li.in_channels,
                               .out_channels = li.out_channels,
                               .kernel = li.kernel, .stride = li.stride,
                               .groups = li.groups, .has_bias = li.has_bias,
                               .name = li.name};
            ref_info_conv(x, w, &ci, li.padding);
            break;
        }
        case LM_LAYER_BATCHNORM:
            ref_bn(x, w, li.name, li.eps);
            break;
        case LM_LAYER_ACT:
            ref_act(li.act, x);
            break;
        case LM_LAYER_MAXPOOL:
        case LM_LAYER_AVGPOOL:
            replace(x, ref_pool(x, li.kind == LM_LAYER_MAXPOOL, li.kernel,
                                li.stride, li.padding));
            break;
        case LM_LAYER_ADAPTIVE_AVGPOOL:
            replace(x, ref_adaptive(x, li.out_height, li.out_width));
            break;
        case LM_LAYER_FLATTEN:
            x->c = x->c * x->h * x->w;
            x->h = x->w = 1;
            break;
        case LM_LAYER_LINEAR:
            replace(x, ref_linear(x, tensor(w, li.name, "weight"),
                                  li.has_bias ? tensor(w, li.name, "bias") : NULL,
                                  li.out_channels));
            break;
        case LM_LAYER_GROUPNORM:
        case LM_LAYER_PAD:
        case LM_LAYER_UPSAMPLE:
        case LM_LAYER_ATTENTION:
            ck_abort_msg("the classifier reference has no %s",
                         lm_layer_kind_name(li.kind));
        }
    }
}

static rt rt_copy(const rt *x)
{
    rt y = rt_new(x->c, x->h, x->w);
    memcpy(y.d, x->d, rt_n(x) * sizeof *y.d);
    return y;
}

/* One image through the graph as configured by `plan`. */
static rt ref_network(const lm_graph *g, const lm_weights *w,
                      const lm_eplan *plan, const float *image)
{
    int64_t c, h, wd;
    size_t n = lm_graph_conv_count(g);
    lm_graph_input_chw(g, &c, &h, &wd);
    rt *pos = calloc(n + 1, sizeof *pos);
    pos[0] = rt_from(image, c, h, wd);
    ref_layers(g, w, LM_SITE_STEM, 0, &pos[0]);
    for (size_t p = 1; p <= n; p++) {
        lm_conv_info ci = {.size = sizeof ci};
        ck_assert_lm_ok(lm_graph_conv_info(&ci, g, p));
        pos[p] = rt_copy(&pos[p - 1]);
        if (plan->keep[p])
            ref_info_conv(&pos[p], w, &ci, plan->padding[p]);
        for (size_t i = 0; i < lm_graph_skip_count(g); i++) {
            lm_skip_info si = {.size = sizeof si};
            lm_conv_info proj = {.size = sizeof proj};
            ck_assert_lm_ok(lm_graph_skip_info(&si, g, i));
            if (si.target != p || !plan->skip_on[i])
                continue;
            rt src = rt_copy(&pos[si.source]);
            if (si.has_projection) {
                ck_assert_lm_ok(lm_graph_skip_projection(g, i, &proj));
                ref_info_conv(&src, w, &proj, 0);
            }
            ref_add_centred(&pos[p], &src);
            free(src.d);
        }
        ref_act(plan->act[p], &pos[p]);
        ref_layers(g, w, LM_SITE_POSITION, p, &pos[p]);
    }
    rt out = pos[n];
    for (size_t p = 0; p < n; p++)
        free(pos[p].d);
    free(pos);
    ref_layers(g, w, LM_SITE_HEAD, 0, &out);
    return out;
}

/* Run the engine on random input and compare every image with the
 * interpreter under the engine's current plan; returns the error. */
static double compare_with_reference(lm_engine *e, const lm_graph *g,
                                     const lm_weights *w)
{
    size_t n_in = lm_engine_input_size(e), n_out = lm_engine_output_size(e);
    size_t batch = lm_engine_batch(e);
    float *in = rand_floats(n_in), *out = malloc(n_out * sizeof *out);
    ck_assert_lm_ok(lm_engine_run(out, n_out, e, in, n_in));
    double worst = 0.0;
    for (size_t b = 0; b < batch; b++) {
        rt want = ref_network(g, w, &e->plan, in + b * (n_in / batch));
        ck_assert_uint_eq(rt_n(&want), n_out / batch);
        double err = rel_err(out + b * (n_out / batch), want.d, n_out / batch);
        worst = err > worst ? err : worst;
        free(want.d);
    }
    free(in);
    free(out);
    return worst;
}

/* ---- a small network with every layer kind ----------------------------- */

static lm_graph *small_net(void)
{
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_create(&g, 3, 16, 16));
    ck_assert_lm_ok(lm_graph_add_layer_conv(
        g, LM_SITE_STEM, 0, LM_TEST_CONV("stem.conv", 3, 8, 3, 1, 1, 1, 0)));
    ck_assert_lm_ok(lm_graph_add_layer_batchnorm(g, LM_SITE_STEM, 0, "stem.bn",
                                                 8, 1e-3));
    ck_assert_lm_ok(lm_graph_add_layer_act(g, LM_SITE_STEM, 0, LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_add_layer_pool(g, LM_SITE_STEM, 0,
                                            LM_LAYER_MAXPOOL, 3, 2, 1));
    static const struct {
        int64_t in, out, k, s, groups;
        int bias, bn;
        lm_act act;
    } c[] = {
        {8, 8, 3, 1, 1, 0, 1, LM_ACT_RELU},
        {8, 8, 3, 1, 8, 0, 1, LM_ACT_RELU6},
        {8, 16, 1, 1, 1, 1, 0, LM_ACT_IDENTITY},
        {16, 16, 5, 2, 16, 0, 1, LM_ACT_SILU},
        {16, 16, 3, 1, 1, 0, 1, LM_ACT_GELU},
        {16, 16, 1, 1, 1, 0, 1, LM_ACT_HARDSWISH},
        {16, 24, 3, 1, 1, 1, 1, LM_ACT_TANH},
        {24, 24, 3, 1, 1, 0, 1, LM_ACT_SIGMOID},
    };
    for (size_t i = 0; i < 8; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%zu.conv", i + 1);
        ck_assert_lm_ok(lm_graph_add_conv(
            g,
            LM_TEST_CONV(name, c[i].in, c[i].out, c[i].k, c[i].s, c[i].k / 2,
                         c[i].groups, c[i].bias),
            c[i].act));
        snprintf(name, sizeof name, "t%zu.bn", i + 1);
        if (c[i].bn)
            ck_assert_lm_ok(lm_graph_set_conv_bn(g, i + 1, name,
                                                 1e-5 * (double)(i + 1)));
    }
    static const size_t skips[][2] = {{0, 1}, {1, 2}, {0, 2}, {2, 4},
                                      {4, 6}, {0, 3}, {6, 8}};
    for (size_t i = 0; i < 7; i++)
        ck_assert_lm_ok(lm_graph_add_skip(g, skips[i][0], skips[i][1]));
    ck_assert_lm_ok(lm_graph_set_skip_projection(g, 3, "p24.conv", 2, 0));
    ck_assert_lm_ok(lm_graph_set_skip_bn(g, 3, "p24.bn", 1e-5));
    ck_assert_lm_ok(lm_graph_set_skip_projection(g, 5, "p03.conv", 1, 1));
    ck_assert_lm_ok(lm_graph_set_skip_projection(g, 6, "p68.conv", 2, 1));
    ck_assert_lm_ok(lm_graph_set_barrier(g, 0, 1));
    ck_assert_lm_ok(lm_graph_set_barrier(g, 7, 1));
    ck_assert_lm_ok(lm_graph_add_layer_pool(g, LM_SITE_POSITION, 7,
                                            LM_LAYER_AVGPOOL, 2, 2, 0));
    ck_assert_lm_ok(lm_graph_add_layer_batchnorm(g, LM_SITE_HEAD, 0, "head.bn",
                                                 24, 1e-5));
    ck_assert_lm_ok(lm_graph_add_layer_act(g, LM_SITE_HEAD, 0, LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_add_layer_adaptive_avgpool(g, LM_SITE_HEAD, 0, 3, 3));
    ck_assert_lm_ok(lm_graph_add_layer_flatten(g, LM_SITE_HEAD, 0));
    ck_assert_lm_ok(lm_graph_add_layer_linear(g, LM_SITE_HEAD, 0, "fc", 216, 10,
                                              1));
    ck_assert_lm_ok(lm_graph_validate(g));
    return g;
}

static lm_weights *random_weights(const lm_graph *g, uint64_t seed)
{
    lm_weights *w = NULL;
    ck_assert_lm_ok(lm_weights_create(&w));
    ck_assert_lm_ok(lm_weights_init_random(w, g, seed));
    return w;
}

START_TEST(test_small_network)
{
    lm_graph *g = small_net();
    lm_weights *w = random_weights(g, 7);
    lm_engine *e = NULL;
    ck_assert_lm_ok(lm_engine_create(&e, g, w, 2));
    ck_assert_uint_eq(lm_engine_batch(e), 2);
    ck_assert_uint_eq(lm_engine_input_size(e), 2 * 3 * 16 * 16);
    ck_assert_uint_eq(lm_engine_output_size(e), 2 * 10);
    double err = compare_with_reference(e, g, w);
    ck_assert_msg(err < 1e-5, "small network: rel err %g", err);
    lm_engine_destroy(e);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
}
END_TEST

/* The engine holds copies: graph and weights may go first. */
START_TEST(test_inputs_freed)
{
    lm_graph *g = small_net();
    lm_weights *w = random_weights(g, 3);
    lm_engine *e = NULL;
    ck_assert_lm_ok(lm_engine_create(&e, g, w, 1));
    float in[3 * 16 * 16], a[10], b[10];
    for (size_t i = 0; i < 3 * 16 * 16; i++)
        in[i] = urand();
    ck_assert_lm_ok(lm_engine_run(a, 10, e, in, 768));
    lm_weights_destroy(w);
    lm_graph_destroy(g);
    ck_assert_lm_ok(lm_engine_run(b, 10, e, in, 768));
    ck_assert_mem_eq(a, b, sizeof a);
    lm_engine_destroy(e);
}
END_TEST

/* A fine-tuning configuration (docs/method.md section 8) is data: conv 5
 * pruned, the padding of segment (0, 2] moved onto conv 1 (so position 1 is
 * 10x10 and skips (0,1) and (1,2) are matched by padding and cropping), the
 * activation at position 1 off, skip (4, 6) off. */
START_TEST(test_configured_network)
{
    lm_graph *g = small_net();
    lm_weights *w = random_weights(g, 11);
    lm_engine *e = NULL;
    ck_assert_lm_ok(lm_engine_create(&e, g, w, 2));
    lm_eplan plan;
    ck_assert_lm_ok(lm_eplan_default(&plan, e));
    plan.keep[5] = 0;
    plan.padding[5] = 0; /* a pruned conv with padding would zero-pad */
    plan.padding[1] = 2;
    plan.padding[2] = 0;
    plan.act[1] = LM_ACT_IDENTITY;
    plan.act[3] = LM_ACT_RELU; /* an identity position gets a nonlinearity */
    plan.skip_on[4] = 0;
    ck_assert_lm_ok(lm_engine_configure(e, &plan));
    ck_assert_int_eq(e->conv_out[1].h, 10);
    double err = compare_with_reference(e, g, w);
    ck_assert_msg(err < 1e-5, "configured network: rel err %g", err);

    plan.keep[3] = 0; /* 8 -> 16 channels: cannot be identity */
    ck_assert_lm_status(lm_engine_configure(e, &plan), LM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "conv 3"));
    float in[2 * 768], out[20];
    memset(in, 0, sizeof in);
    ck_assert_lm_status(lm_engine_run(out, 20, e, in, 2 * 768), LM_ERR_STATE);
    lm_eplan_free(&plan);

    ck_assert_lm_ok(lm_eplan_default(&plan, e)); /* back to the original */
    ck_assert_lm_ok(lm_engine_configure(e, &plan));
    err = compare_with_reference(e, g, w);
    ck_assert_msg(err < 1e-5, "restored network: rel err %g", err);
    lm_eplan_free(&plan);
    lm_engine_destroy(e);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
}
END_TEST

/* ---- the model zoo at 32x32 ------------------------------------------- */

static lm_graph *zoo_at_32(const char *file)
{
    FILE *fp = fopen(lm_test_source_path(file), "rb");
    ck_assert_ptr_nonnull(fp);
    char *text = calloc(1, 1 << 20);
    size_t len = fread(text, 1, (1 << 20) - 1, fp);
    fclose(fp);
    char *at = strstr(text, "height: 224, width: 224");
    ck_assert_ptr_nonnull(at);
    memcpy(at, "height:  32, width:  32", 23);
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_load_string(&g, text, len));
    free(text);
    return g;
}

static void check_zoo(const char *file)
{
    lm_graph *g = zoo_at_32(file);
    lm_weights *w = random_weights(g, 5);
    lm_engine *e = NULL;
    ck_assert_lm_ok(lm_engine_create(&e, g, w, 1));
    ck_assert_uint_eq(lm_engine_output_size(e), 1000);
    /* liveness: the previous position, one skip source, the new output */
    ck_assert_uint_eq(e->n_slots, 3);
    double err = compare_with_reference(e, g, w);
    ck_assert_msg(err < 1e-4, "%s: rel err %g", file, err);
    lm_engine_destroy(e);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
}

START_TEST(test_resnet34)
{
    check_zoo("examples/models/resnet34.yaml");
}
END_TEST

START_TEST(test_mobilenetv2)
{
    check_zoo("examples/models/mobilenetv2.yaml");
}
END_TEST

/* ---- timing and errors ------------------------------------------------- */

START_TEST(test_time)
{
    lm_graph *g = small_net();
    lm_weights *w = random_weights(g, 1);
    lm_engine *e = NULL;
    ck_assert_lm_ok(lm_engine_create(&e, g, w, 1));
    lm_timing t = {.size = sizeof t};
    ck_assert_lm_ok(lm_engine_time(&t, e, 1, 5));
    ck_assert_uint_eq(t.runs, 5);
    ck_assert(t.median_ms > 0.0 && t.stdev_ms >= 0.0);
    ck_assert(t.min_ms <= t.median_ms && t.median_ms <= t.max_ms);
    ck_assert_lm_ok(lm_engine_time(&t, e, 0, 1));
    ck_assert(t.stdev_ms == 0.0 && t.min_ms == t.max_ms);
    ck_assert_lm_status(lm_engine_time(&t, e, 0, 0), LM_ERR_INVALID_ARG);
    /* A caller built against a shorter record gets only what fits. */
    struct {
        size_t size;
        size_t runs;
        double median_ms;
        double guard;
    } old = {offsetof(lm_timing, stdev_ms), 0, 0.0, -7.0};
    ck_assert_lm_ok(lm_engine_time((lm_timing *)(void *)&old, e, 0, 3));
    ck_assert_uint_eq(old.runs, 3);
    ck_assert(old.median_ms > 0.0 && old.guard == -7.0);
    lm_timing unset = {0};
    ck_assert_lm_status(lm_engine_time(&unset, e, 0, 1), LM_ERR_INVALID_ARG);
    lm_engine_destroy(e);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
}
END_TEST

/* A tensor source that hides one tensor and passes the rest through. */
typedef struct hiding {
    const lm_weights *w;
    const char *hide;
} hiding;

static lm_status hide_one(const char *name, const int64_t *shape, size_t ndim,
                          float *dst, void *userdata)
{
    const hiding *h = userdata;
    size_t n = 1;
    if (strcmp(name, h->hide) == 0)
        return LM_ERR_NOT_FOUND;
    for (size_t i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    return lm_weights_get_f32(dst, n, h->w, name);
}

START_TEST(test_errors)
{
    lm_graph *g = small_net();
    lm_weights *w = random_weights(g, 2);
    lm_engine *e = NULL;
    hiding h = {w, "p24.bn.running_var"};
    ck_assert_lm_status(lm_engine_create_with_fetch(&e, g, 1, hide_one, &h),
                        LM_ERR_NOT_FOUND);
    ck_assert_ptr_null(e);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "p24.bn.running_var"));
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "skip 3"));

    const int64_t bad[4] = {8, 8, 5, 5};
    float *zeros = calloc(8 * 8 * 25, sizeof *zeros);
    ck_assert_lm_ok(lm_weights_set_f32(w, "t1.conv.weight", bad, 4, zeros));
    ck_assert_lm_status(lm_engine_create(&e, g, w, 1), LM_ERR_MISMATCH);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "t1.conv.weight"));
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "conv 1"));
    free(zeros);

    lm_weights_destroy(w);
    w = random_weights(g, 2);
    const int64_t c8[1] = {8};
    float negative[8];
    for (int i = 0; i < 8; i++)
        negative[i] = -1.0f;
    ck_assert_lm_ok(lm_weights_set_f32(w, "t2.bn.running_var", c8, 1, negative));
    ck_assert_lm_status(lm_engine_create(&e, g, w, 1), LM_ERR_VALUE);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "t2.bn"));

    ck_assert_lm_status(lm_engine_create(&e, g, w, 0), LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_engine_create(&e, g, NULL, 1), LM_ERR_INVALID_ARG);
    ck_assert_lm_ok(lm_graph_set_activation(g, 1, LM_ACT_TANH));
    ck_assert_lm_status(lm_engine_create(&e, g, w, 1), LM_ERR_STATE);
    ck_assert_lm_ok(lm_graph_validate(g));

    lm_weights_destroy(w);
    w = random_weights(g, 2);
    ck_assert_lm_ok(lm_engine_create(&e, g, w, 1));
    float in[768], out[10];
    memset(in, 0, sizeof in);
    ck_assert_lm_status(lm_engine_run(out, 10, e, in, 767),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_engine_run(out, 11, e, in, 768),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_engine_run(out, 10, NULL, in, 768),
                        LM_ERR_INVALID_ARG);
    ck_assert_uint_eq(lm_engine_output_size(NULL), 0);
    lm_engine_destroy(e);
    lm_engine_destroy(NULL);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
}
END_TEST

/* A validated one-conv graph (c -> c, kernel k, same padding) for the size
 * checks: its weights are tiny whatever the input size. */
static lm_graph *one_conv(int64_t c, int64_t h, int64_t w, int64_t k)
{
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_create(&g, c, h, w));
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV("c", c, c, k, 1, k / 2, 1, 0), LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_validate(g));
    return g;
}

/* batch x C x H x W, the slots, the workspace and the repetitions are
 * caller-given: each product is checked before anything is allocated
 * (`--batch 4611686018427387904` overflowed the arena size and wrote past
 * it; with a small input it looped over 2^62 images). */
START_TEST(test_sizes)
{
    lm_graph *g = one_conv(3, 8, 8, 3);
    lm_weights *w = random_weights(g, 1);
    lm_engine *e = NULL;
    ck_assert_lm_status(lm_engine_create(&e, g, w, (size_t)1 << 62),
                        LM_ERR_INVALID_ARG);
    ck_assert_ptr_null(e);
    ck_assert_msg(strstr(lm_last_error(), "batch 4611686018427387904"),
                  "%s", lm_last_error());
    ck_assert_lm_status(lm_engine_create(&e, g, w, SIZE_MAX),
                        LM_ERR_INVALID_ARG);
    /* Within OpenBLAS's int but beyond any machine: refused before
     * allocating, naming the bytes. */
    ck_assert_lm_status(lm_engine_create(&e, g, w, INT_MAX), LM_ERR_NOMEM);
    ck_assert_ptr_null(e);
    ck_assert_msg(strstr(lm_last_error(), "batch 2147483647") &&
                      strstr(lm_last_error(), "bytes"),
                  "%s", lm_last_error());
    ck_assert_lm_ok(lm_engine_create(&e, g, w, 2));
    lm_timing t = {.size = sizeof t};
    ck_assert_lm_status(lm_engine_time(&t, e, 0, SIZE_MAX),
                        LM_ERR_INVALID_ARG);
    lm_profile pr = {.size = sizeof pr};
    ck_assert_lm_status(lm_engine_profile(&pr, e, 0, SIZE_MAX / 4),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_ok(lm_engine_time(&t, e, 0, 1));
    lm_engine_destroy(e);
    lm_weights_destroy(w);
    lm_graph_destroy(g);

    /* 2^30 floats per image: batch INT_MAX overflows the arena's bytes. */
    g = one_conv(1, 32768, 32768, 1);
    w = random_weights(g, 1);
    ck_assert_lm_status(lm_engine_create(&e, g, w, INT_MAX),
                        LM_ERR_INVALID_ARG);
    ck_assert_msg(strstr(lm_last_error(), "overflow"), "%s", lm_last_error());
    lm_weights_destroy(w);
    lm_graph_destroy(g);

    /* A 65536 x 65536 plane validates (2^32 elements) but is beyond the
     * int sizes sgemm takes. */
    g = one_conv(1, 65536, 65536, 1);
    w = random_weights(g, 1);
    ck_assert_lm_status(lm_engine_create(&e, g, w, 1), LM_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(lm_last_error(), "conv 1") &&
                      strstr(lm_last_error(), "4294967296"),
                  "%s", lm_last_error());
    lm_weights_destroy(w);
    lm_graph_destroy(g);
}
END_TEST

static Suite *engine_suite(void)
{
    Suite *s = suite_create("engine");
    TCase *k = tcase_create("kernels");
    tcase_add_test(k, test_conv_kernels);
    tcase_add_test(k, test_activations);
    tcase_add_test(k, test_pools);
    tcase_add_test(k, test_adaptive_pool);
    tcase_add_test(k, test_linear);
    tcase_add_test(k, test_add_centred);
    suite_add_tcase(s, k);
    TCase *n = tcase_create("network");
    tcase_set_timeout(n, 120);
    tcase_add_test(n, test_small_network);
    tcase_add_test(n, test_inputs_freed);
    tcase_add_test(n, test_configured_network);
    tcase_add_test(n, test_resnet34);
    tcase_add_test(n, test_mobilenetv2);
    tcase_add_test(n, test_time);
    tcase_add_test(n, test_errors);
    tcase_add_test(n, test_sizes);
    suite_add_tcase(s, n);
    return s;
}

int main(void)
{
    return lm_test_run(engine_suite());
}
