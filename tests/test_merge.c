/* Merge arithmetic (docs/method.md section 9): every merged conv is checked
 * against the fine-tuning chain of docs/method.md section 8 run step by step
 * with a plain direct convolution written here, independently of the library's
 * kernel algebra. Skip alignment in the reference follows receptive-field
 * centres, which for stride 1 is exactly a symmetric crop or zero pad. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "layermerge/merge.h"
#include "merge/chain_private.h"

/* ---- deterministic random numbers ---- */

static uint64_t rng_state;

static double urand(void) /* uniform in [-1, 1) */
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng_state >> 11) / 4503599627370496.0 - 1.0;
}

static float *rand_floats(size_t n, double scale, double shift)
{
    float *v = malloc(n * sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(shift + scale * urand());
    return v;
}

/* ---- the reference: NCHW tensors in double ---- */

typedef struct tensor {
    double *v;
    int64_t c, h, w;
} tensor;

static tensor tensor_new(int64_t c, int64_t h, int64_t w)
{
    tensor t = {calloc((size_t)(c * h * w), sizeof(double)), c, h, w};
    ck_assert_ptr_nonnull(t.v);
    return t;
}

static double at(const tensor *t, int64_t c, int64_t i, int64_t j)
{
    if (i < 0 || j < 0 || i >= t->h || j >= t->w)
        return 0.0; /* zero padding */
    return t->v[(c * t->h + i) * t->w + j];
}

/* Direct convolution (cross-correlation), weight [out][in/g][k][k]. */
static tensor ref_conv(const tensor *x, const double *w, const double *b,
                       int64_t out, int64_t k, int64_t s, int64_t p, int64_t g)
{
    tensor y = tensor_new(out, (x->h + 2 * p - k) / s + 1,
                          (x->w + 2 * p - k) / s + 1);
    int64_t cpg = x->c / g, opg = out / g;
    for (int64_t o = 0; o < out; o++)
        for (int64_t i = 0; i < y.h; i++)
            for (int64_t j = 0; j < y.w; j++) {
                double acc = b ? b[o] : 0.0;
                for (int64_t cl = 0; cl < cpg; cl++)
                    for (int64_t u = 0; u < k; u++)
                        for (int64_t v = 0; v < k; v++)
                            acc += w[((o * cpg + cl) * k + u) * k + v] *
                                   at(x, (o / opg) * cpg + cl, s * i + u - p,
                                      s * j + v - p);
                y.v[(o * y.h + i) * y.w + j] = acc;
            }
    return y;
}

static double *widen(const float *f, size_t n)
{
    if (!f)
        return NULL;
    double *d = malloc(n * sizeof *d);
    ck_assert_ptr_nonnull(d);
    for (size_t i = 0; i < n; i++)
        d[i] = f[i];
    return d;
}

/* A state of the reference chain: its tensor, and where the centre of
 * the receptive field of element (0, 0) lies in input pixels, and the
 * input-pixel distance between neighbouring elements. */
typedef struct ref_state {
    tensor t;
    int64_t centre, stride;
} ref_state;

/* dst += (projection of) src, src read at stride sp from the offset that
 * aligns receptive-field centres; outside src it is zero (padding). */
static void ref_skip(ref_state *dst, const ref_state *src, int64_t sp,
                     const double *pw, const double *pb)
{
    ck_assert_int_eq(src->stride * sp, dst->stride);
    ck_assert_int_eq((dst->centre - src->centre) % src->stride, 0);
    int64_t off = (dst->centre - src->centre) / src->stride;
    if (dst->stride == 1) { /* centre alignment is the symmetric crop/pad */
        ck_assert_int_eq(src->t.h - dst->t.h, 2 * off);
        ck_assert_int_eq(src->t.w - dst->t.w, 2 * off);
    }
    tensor *d = &dst->t;
    for (int64_t o = 0; o < d->c; o++)
        for (int64_t i = 0; i < d->h; i++)
            for (int64_t j = 0; j < d->w; j++) {
                int64_t a = sp * i + off, b = sp * j + off;
                double add = pw ? (pb ? pb[o] : 0.0) : at(&src->t, o, a, b);
                for (int64_t c = 0; pw && c < src->t.c; c++)
                    add += pw[o * src->t.c + c] * at(&src->t, c, a, b);
                d->v[(o * d->h + i) * d->w + j] += add;
            }
}

static void ref_bn(tensor *t, const float *g, const float *be, const float *m,
                   const float *var, double eps)
{
    size_t hw = (size_t)(t->h * t->w);
    for (int64_t c = 0; c < t->c; c++)
        for (size_t i = 0; i < hw; i++) {
            double *v = &t->v[(size_t)c * hw + i];
            *v = (*v - m[c]) / sqrt((double)var[c] + eps) * g[c] + be[c];
        }
}

/* ---- a chain description shared by the library and the reference ---- */

enum { CONV, BN, ID_SKIP, PROJ_SKIP };

typedef struct op {
    int kind;
    int64_t out, k, s, p, g; /* CONV; PROJ_SKIP uses s */
    int bias;                /* CONV and PROJ_SKIP */
    size_t from;             /* skips */
    double eps;              /* BN; PROJ_SKIP's folded batch norm */
} op;

#define CV(o, k, s, p, g, b) {CONV, o, k, s, p, g, b, 0, 0.0}
#define BNORM(eps) {BN, 0, 0, 0, 0, 0, 0, 0, eps}
#define IDS(from) {ID_SKIP, 0, 0, 0, 0, 0, 0, from, 0.0}
#define PROJ(from, s, b) {PROJ_SKIP, 0, 1, s, 0, 1, b, from, 1e-3}

enum {
    MOVED_PADDING,
    ORIGINAL
}; /* where the reference chain puts the padding */

typedef struct run {
    lm_chain *chain;
    tensor ref, merged;   /* reference output, merged float conv output */
    double err32, err64;  /* max abs error / max |ref| */
} run;

typedef struct builder {
    lm_chain *chain;
    ref_state *st; /* one per step */
    size_t steps;
    int64_t total_pad;
    int mode;
} builder;

static void push_conv(builder *bd, const op *o)
{
    ref_state *cur = &bd->st[bd->steps];
    int64_t in = cur->t.c, cpg = in / o->g;
    size_t nw = (size_t)(o->out * cpg * o->k * o->k);
    float *w = rand_floats(nw, 1.0 / sqrt((double)(cpg * o->k * o->k)), 0.0);
    float *b = o->bias ? rand_floats((size_t)o->out, 0.5, 0.0) : NULL;
    ck_assert_lm_ok(lm_chain_push_conv(
        bd->chain, LM_TEST_CONV(NULL, in, o->out, o->k, o->s, o->p, o->g, 0),
        w, b));
    int64_t pad = bd->mode == ORIGINAL ? o->p
                  : bd->steps == 0     ? bd->total_pad : 0;
    double *dw = widen(w, nw), *db = widen(b, (size_t)o->out);
    ref_state *next = &bd->st[bd->steps + 1];
    next->t = ref_conv(&cur->t, dw, db, o->out, o->k, o->s, pad, o->g);
    next->centre = cur->centre + cur->stride * ((o->k - 1) / 2 - pad);
    next->stride = cur->stride * o->s;
    bd->steps++;
    free(dw);
    free(db);
    free(w);
    free(b);
}

static void push_bn(builder *bd, const op *o)
{
    tensor *t = &bd->st[bd->steps].t;
    size_t n = (size_t)t->c;
    float *g = rand_floats(n, 0.5, 1.0), *be = rand_floats(n, 0.5, 0.0);
    float *m = rand_floats(n, 0.5, 0.0), *var = rand_floats(n, 0.4, 0.6);
    ck_assert_lm_ok(lm_chain_push_bn(bd->chain,
                                     LM_TEST_BN(g, be, m, var, o->eps)));
    ref_bn(t, g, be, m, var, o->eps);
    free(g);
    free(be);
    free(m);
    free(var);
}

/* A projection with its own batch norm, folded by lm_bn_fold. */
static void push_projection(builder *bd, const op *o)
{
    ref_state *src = &bd->st[o->from], *dst = &bd->st[bd->steps];
    size_t in = (size_t)src->t.c, out = (size_t)dst->t.c;
    float *w = rand_floats(in * out, 1.0 / sqrt((double)in), 0.0);
    float *b = o->bias ? rand_floats(out, 0.5, 0.0) : NULL;
    float *g = rand_floats(out, 0.5, 1.0), *be = rand_floats(out, 0.5, 0.0);
    float *m = rand_floats(out, 0.5, 0.0), *var = rand_floats(out, 0.4, 0.6);
    float *fb = malloc(out * sizeof *fb);
    ck_assert_lm_ok(
        lm_bn_fold(w, fb, w, b, out, in, LM_TEST_BN(g, be, m, var, o->eps)));
    ck_assert_lm_ok(lm_chain_push_projection_skip(
        bd->chain, o->from,
        LM_TEST_CONV(NULL, (int64_t)in, (int64_t)out, 1, o->s, 0, 1, 0), w,
        fb));
    double *dw = widen(w, in * out), *db = widen(fb, out);
    ref_skip(dst, src, o->s, dw, db);
    free(dw);
    free(db);
    free(w);
    free(b);
    free(g);
    free(be);
    free(m);
    free(var);
    free(fb);
}

static double rel_err(const tensor *a, const tensor *ref)
{
    ck_assert_int_eq(a->c, ref->c);
    ck_assert_int_eq(a->h, ref->h);
    ck_assert_int_eq(a->w, ref->w);
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < ref->c * ref->h * ref->w; i++) {
        num = fmax(num, fabs(a->v[i] - ref->v[i]));
        den = fmax(den, fabs(ref->v[i]));
    }
    ck_assert(den > 0.0);
    return num / den;
}

/* The merged conv from the library, applied to x; `exact` uses the
 * double kernel before rounding, through the private state. */
static tensor apply_merged(const lm_chain *c, const tensor *x, int exact)
{
    size_t nw = lm_chain_weight_count(c), nb = (size_t)lm_chain_out_channels(c);
    ck_assert_uint_gt(nw, 0);
    const lm_kstate *s = lm_chain_current(c);
    double *w = malloc(nw * sizeof *w), *b = malloc(nb * sizeof *b);
    float *fw = malloc(nw * sizeof *fw), *fb = malloc(nb * sizeof *fb);
    ck_assert_lm_ok(lm_chain_weight(fw, nw, c));
    ck_assert_lm_ok(lm_chain_bias(fb, nb, c));
    for (size_t i = 0; i < nw; i++)
        w[i] = exact ? s->w[i] : fw[i];
    for (size_t i = 0; i < nb; i++)
        b[i] = exact ? s->b[i] : fb[i];
    tensor y = ref_conv(x, w, b, (int64_t)nb, lm_chain_kernel(c),
                        lm_chain_stride(c), lm_chain_padding(c),
                        lm_chain_groups(c));
    free(w);
    free(b);
    free(fw);
    free(fb);
    return y;
}

static run run_chain(const op *ops, size_t n, int64_t c_in, int64_t h,
                     int64_t w, int mode)
{
    rng_state = 0x9E3779B97F4A7C15ULL ^ (uint64_t)(n * 131 + (size_t)c_in);
    builder bd = {NULL, calloc(n + 1, sizeof(ref_state)), 0, 0, mode};
    for (size_t i = 0; i < n; i++)
        bd.total_pad += ops[i].kind == CONV ? ops[i].p : 0;
    ck_assert_lm_ok(lm_chain_create(&bd.chain, c_in));
    bd.st[0].t = tensor_new(c_in, h, w);
    bd.st[0].stride = 1;
    for (int64_t i = 0; i < c_in * h * w; i++)
        bd.st[0].t.v[i] = (float)urand();
    for (size_t i = 0; i < n; i++) {
        const op *o = &ops[i];
        if (o->kind == CONV)
            push_conv(&bd, o);
        else if (o->kind == BN)
            push_bn(&bd, o);
        else if (o->kind == ID_SKIP) {
            ck_assert_lm_ok(lm_chain_push_identity_skip(bd.chain, o->from));
            ref_skip(&bd.st[bd.steps], &bd.st[o->from], 1, NULL, NULL);
        } else
            push_projection(&bd, o);
    }
    ck_assert_uint_eq(lm_chain_step_count(bd.chain), bd.steps);
    run r = {bd.chain, bd.st[bd.steps].t, apply_merged(bd.chain, &bd.st[0].t, 0),
             0.0, 0.0};
    tensor exact = apply_merged(bd.chain, &bd.st[0].t, 1);
    r.err32 = rel_err(&r.merged, &r.ref);
    r.err64 = rel_err(&exact, &r.ref);
    free(exact.v);
    for (size_t i = 0; i < bd.steps; i++)
        free(bd.st[i].t.v);
    free(bd.st);
    return r;
}

static void run_free(run *r)
{
    lm_chain_destroy(r->chain);
    free(r->ref.v);
    free(r->merged.v);
}

/* Run a chain in the docs/method.md section 8 scheme, check the merged conv
 * reproduces it and has the expected shape. */
static void check_chain(const op *ops, size_t n, int64_t c_in, int64_t h,
                        int64_t w, int64_t kernel, int64_t stride,
                        int64_t padding, int depthwise)
{
    run r = run_chain(ops, n, c_in, h, w, MOVED_PADDING);
    ck_assert_msg(r.err32 <= 1e-5, "float32 relative error %g", r.err32);
    ck_assert_msg(r.err64 <= 1e-12, "double relative error %g", r.err64);
    ck_assert_int_eq(lm_chain_kernel(r.chain), kernel);
    ck_assert_int_eq(lm_chain_stride(r.chain), stride);
    ck_assert_int_eq(lm_chain_padding(r.chain), padding);
    ck_assert_int_eq(lm_chain_depthwise(r.chain), depthwise);
    int64_t out = lm_chain_out_channels(r.chain);
    int64_t per = depthwise ? 1 : c_in;
    ck_assert_int_eq(lm_chain_groups(r.chain), depthwise ? out : 1);
    ck_assert_uint_eq(lm_chain_weight_count(r.chain),
                      (size_t)(out * per * kernel * kernel));
    run_free(&r);
}

#define CHECK(ops, c, h, w, k, s, p, dw) \
    check_chain(ops, sizeof ops / sizeof ops[0], c, h, w, k, s, p, dw)

/* ---- compositions ---- */

START_TEST(dense_after_dense_gives_5x5)
{
    static const op ops[] = {CV(5, 3, 1, 1, 1, 1), CV(8, 3, 1, 1, 1, 1)};
    CHECK(ops, 3, 7, 7, 5, 1, 2, 0);
}
END_TEST

START_TEST(depthwise_after_depthwise_stays_depthwise)
{
    static const op ops[] = {CV(8, 3, 1, 1, 8, 1), CV(8, 3, 1, 1, 8, 0)};
    CHECK(ops, 8, 9, 11, 5, 1, 2, 1);
}
END_TEST

START_TEST(dense_after_depthwise_is_dense)
{
    static const op ops[] = {CV(5, 3, 1, 1, 5, 1), CV(8, 3, 1, 1, 1, 1)};
    CHECK(ops, 5, 9, 11, 5, 1, 2, 0);
}
END_TEST

START_TEST(depthwise_after_dense_is_dense)
{
    static const op ops[] = {CV(8, 3, 1, 1, 1, 0), CV(8, 3, 1, 1, 8, 1)};
    CHECK(ops, 3, 7, 7, 5, 1, 2, 0);
}
END_TEST

START_TEST(grouped_convs_compose)
{
    static const op ops[] = {CV(8, 3, 1, 1, 2, 1), CV(8, 3, 1, 1, 4, 1)};
    CHECK(ops, 8, 7, 7, 5, 1, 2, 0);
}
END_TEST

START_TEST(strided_conv_then_1x1_keeps_its_stride)
{
    static const op one[] = {CV(8, 3, 2, 1, 1, 1), CV(5, 1, 1, 0, 1, 1)};
    static const op two[] = {CV(8, 3, 2, 1, 1, 1), CV(5, 1, 1, 0, 1, 1),
                             CV(8, 1, 1, 0, 1, 0)};
    CHECK(one, 3, 9, 11, 3, 2, 1, 0);
    CHECK(two, 3, 9, 11, 3, 2, 1, 0);
    CHECK(two, 3, 8, 8, 3, 2, 1, 0);
}
END_TEST

START_TEST(strided_last_conv_takes_the_product_stride)
{
    /* 3x3 then 3x3 stride 2: the taps of the first are not spread. */
    static const op ops[] = {CV(5, 3, 1, 1, 1, 1), CV(8, 3, 2, 1, 1, 1)};
    CHECK(ops, 3, 9, 11, 5, 2, 2, 0);
    CHECK(ops, 3, 10, 10, 5, 2, 2, 0);
}
END_TEST

START_TEST(batch_norm_with_its_own_eps)
{
    static const op ops[] = {CV(8, 3, 1, 1, 1, 0), BNORM(1e-3),
                             CV(5, 3, 1, 1, 1, 1), BNORM(1e-5)};
    CHECK(ops, 3, 7, 7, 5, 1, 2, 0);
}
END_TEST

/* ---- skips ---- */

START_TEST(mobilenet_v2_block_with_identity_skip)
{
    static const op ops[] = {CV(8, 1, 1, 0, 1, 0), BNORM(1e-5),
                             CV(8, 3, 1, 1, 8, 0), BNORM(1e-3),
                             CV(5, 1, 1, 0, 1, 0), BNORM(1e-5), IDS(0)};
    CHECK(ops, 5, 9, 11, 3, 1, 1, 0);
}
END_TEST

START_TEST(resnet_basic_block_with_identity_skip)
{
    static const op ops[] = {CV(8, 3, 1, 1, 1, 0), BNORM(1e-5),
                             CV(8, 3, 1, 1, 1, 0), BNORM(1e-5), IDS(0)};
    CHECK(ops, 8, 7, 7, 5, 1, 2, 0);
}
END_TEST

START_TEST(resnet_downsample_block_with_strided_projection)
{
    static const op ops[] = {CV(8, 3, 2, 1, 1, 0), BNORM(1e-5),
                             CV(8, 1, 1, 0, 1, 0), BNORM(1e-5), PROJ(0, 2, 0)};
    CHECK(ops, 5, 9, 11, 3, 2, 1, 0);
    CHECK(ops, 5, 8, 8, 3, 2, 1, 0);
}
END_TEST

START_TEST(strided_projection_over_a_5x5_merge)
{
    /* The source is cropped by 2 before the stride: centre offset 2. */
    static const op ops[] = {CV(5, 3, 1, 1, 1, 1), CV(8, 3, 2, 1, 1, 1),
                             PROJ(0, 2, 1)};
    CHECK(ops, 5, 9, 11, 5, 2, 2, 0);
    CHECK(ops, 5, 10, 8, 5, 2, 2, 0);
}
END_TEST

START_TEST(identity_skip_after_a_stride)
{
    static const op ops[] = {CV(8, 3, 2, 1, 1, 1), CV(8, 1, 1, 0, 1, 1),
                             CV(8, 1, 1, 0, 1, 1), IDS(1)};
    CHECK(ops, 3, 9, 11, 3, 2, 1, 0);
}
END_TEST

START_TEST(two_resnet_blocks_nest_their_skips)
{
    /* Skip 2 -> 4 reads a state that already holds skip 0 -> 2; two
     * skips end at step 4. */
    static const op ops[] = {CV(5, 3, 1, 1, 1, 1), CV(5, 3, 1, 1, 1, 1), IDS(0),
                             CV(5, 3, 1, 1, 1, 1), CV(5, 3, 1, 1, 1, 1), IDS(2),
                             IDS(0)};
    CHECK(ops, 5, 9, 11, 9, 1, 4, 0);
}
END_TEST

START_TEST(depthwise_chain_with_skips)
{
    static const op id[] = {CV(5, 3, 1, 1, 5, 1), CV(5, 3, 1, 1, 5, 1), IDS(0)};
    static const op proj[] = {CV(8, 3, 1, 1, 8, 1), CV(8, 3, 1, 1, 8, 1),
                              PROJ(0, 1, 1)};
    CHECK(id, 5, 7, 7, 5, 1, 2, 1);
    CHECK(proj, 8, 7, 7, 5, 1, 2, 0); /* a projection makes it dense */
}
END_TEST

START_TEST(skip_source_is_cropped_or_padded_symmetrically)
{
    /* Total padding 1 < 2: the output is smaller than the input and the
     * skip source is cropped; total padding 3 > 1: it is zero-padded. */
    static const op crop[] = {CV(8, 3, 1, 0, 1, 1), CV(8, 3, 1, 1, 1, 1),
                              IDS(0)};
    static const op pad[] = {CV(8, 3, 1, 2, 1, 1), CV(8, 1, 1, 1, 1, 0),
                             IDS(0), IDS(1)};
    CHECK(crop, 8, 9, 11, 5, 1, 1, 0);
    CHECK(pad, 8, 9, 11, 3, 1, 3, 0);
}
END_TEST

START_TEST(original_padding_differs_only_at_the_border)
{
    /* Why docs/method.md section 8 moves the padding: with each conv padded on
     * its own, the chain and the merged conv disagree on the outer ring. */
    static const op ops[] = {CV(8, 3, 1, 1, 1, 1), BNORM(1e-5),
                             CV(8, 3, 1, 1, 1, 1), IDS(0)};
    run r = run_chain(ops, sizeof ops / sizeof ops[0], 8, 9, 9, ORIGINAL);
    ck_assert_msg(r.err32 > 1e-3, "border error only %g", r.err32);
    double num = 0.0, den = 0.0;
    for (int64_t c = 0; c < 8; c++)
        for (int64_t i = 1; i < 8; i++)
            for (int64_t j = 1; j < 8; j++) {
                size_t k = (size_t)((c * 9 + i) * 9 + j);
                num = fmax(num, fabs(r.merged.v[k] - r.ref.v[k]));
                den = fmax(den, fabs(r.ref.v[k]));
            }
    ck_assert_msg(num / den <= 1e-5, "interior error %g", num / den);
    run_free(&r);
}
END_TEST

/* ---- batch-norm folding ---- */

START_TEST(bn_fold_matches_the_formula_with_its_eps)
{
    const float w[6] = {1.0f, -2.0f, 0.5f, 3.0f, 0.25f, -1.0f};
    const float b[2] = {0.5f, -0.25f};
    const float g[2] = {2.0f, 0.5f}, be[2] = {0.1f, -0.3f};
    const float m[2] = {0.2f, -0.4f}, var[2] = {0.01f, 4.0f};
    float fw[6], fb[2];
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        const float *bias = with_bias ? b : NULL;
        ck_assert_lm_ok(lm_bn_fold(fw, fb, w, bias, 2, 3,
                                   LM_TEST_BN(g, be, m, var, 1e-3)));
        for (int o = 0; o < 2; o++) {
            double s = g[o] / sqrt((double)var[o] + 1e-3);
            double want_b = ((bias ? b[o] : 0.0) - m[o]) * s + be[o];
            ck_assert_float_eq_tol(fb[o], want_b, 1e-6);
            for (int i = 0; i < 3; i++)
                ck_assert_float_eq_tol(fw[o * 3 + i], w[o * 3 + i] * s, 1e-6);
        }
    }
    /* eps matters: channel 0 has var 0.01, so 1e-5 and 1e-3 differ by 5%. */
    float fw5[6], fb5[2];
    ck_assert_lm_ok(lm_bn_fold(fw5, fb5, w, b, 2, 3,
                               LM_TEST_BN(g, be, m, var, 1e-5)));
    ck_assert(fabsf(fw5[0] - fw[0]) > 0.04f * fabsf(fw[0]));
    /* In place. */
    float iw[6], ib[2];
    memcpy(iw, w, sizeof iw);
    memcpy(ib, b, sizeof ib);
    ck_assert_lm_ok(lm_bn_fold(iw, ib, iw, ib, 2, 3,
                               LM_TEST_BN(g, be, m, var, 1e-5)));
    ck_assert_mem_eq(iw, fw5, sizeof iw);
    ck_assert_mem_eq(ib, fb5, sizeof ib);
}
END_TEST

START_TEST(bn_fold_rejects_bad_input_and_writes_nothing)
{
    const float w[2] = {1.0f, 2.0f}, one[2] = {1.0f, 1.0f};
    const float zero[2] = {0.0f, 0.0f}, var[2] = {1.0f, -1.0f};
    float fw[2] = {7.0f, 7.0f}, fb[2] = {7.0f, 7.0f};
    ck_assert_lm_status(lm_bn_fold(fw, fb, w, NULL, 2, 1,
                                   LM_TEST_BN(one, zero, zero, var, 1e-5)),
                        LM_ERR_VALUE);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "channel 1"));
    ck_assert_float_eq(fw[0], 7.0f);
    ck_assert_float_eq(fb[0], 7.0f);
    ck_assert_lm_status(lm_bn_fold(fw, fb, w, NULL, 2, 1,
                                   LM_TEST_BN(one, zero, zero, one, -1.0)),
                        LM_ERR_VALUE);
    ck_assert_lm_status(lm_bn_fold(fw, fb, w, NULL, 2, 1,
                                   LM_TEST_BN(one, zero, zero, one, NAN)),
                        LM_ERR_VALUE);
    ck_assert_lm_status(lm_bn_fold(fw, fb, NULL, NULL, 2, 1,
                                   LM_TEST_BN(one, zero, zero, one, 1e-5)),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_bn_fold(fw, fb, w, NULL, 0, 1,
                                   LM_TEST_BN(one, zero, zero, one, 1e-5)),
                        LM_ERR_INVALID_ARG);
    const float huge[2] = {3e38f, 3e38f}, tiny[2] = {1e-30f, 1e-30f};
    ck_assert_lm_status(lm_bn_fold(fw, fb, huge, NULL, 2, 1,
                                   LM_TEST_BN(one, zero, zero, tiny, 0.0)),
                        LM_ERR_VALUE);
    ck_assert_float_eq(fw[1], 7.0f);
}
END_TEST

START_TEST(chain_bn_equals_folding_first)
{
    float *w = rand_floats(8 * 3 * 9, 0.3, 0.0), *b = rand_floats(8, 0.5, 0.0);
    float *g = rand_floats(8, 0.5, 1.0), *be = rand_floats(8, 0.5, 0.0);
    float *m = rand_floats(8, 0.5, 0.0), *var = rand_floats(8, 0.4, 0.6);
    float fw[8 * 3 * 9], fb[8], cw[8 * 3 * 9], cb[8];
    lm_chain *c = NULL;
    ck_assert_lm_ok(lm_chain_create(&c, 3));
    ck_assert_lm_ok(lm_chain_push_conv(c,
                                       LM_TEST_CONV(NULL, 3, 8, 3, 1, 1, 1, 0),
                                       w, b));
    ck_assert_lm_ok(lm_chain_push_bn(c, LM_TEST_BN(g, be, m, var, 1e-3)));
    ck_assert_lm_ok(lm_chain_weight(cw, 8 * 3 * 9, c));
    ck_assert_lm_ok(lm_chain_bias(cb, 8, c));
    ck_assert_lm_ok(lm_bn_fold(fw, fb, w, b, 8, 27,
                               LM_TEST_BN(g, be, m, var, 1e-3)));
    /* Both fold in double and round once. */
    ck_assert_mem_eq(cw, fw, sizeof cw);
    ck_assert_mem_eq(cb, fb, sizeof cb);
    lm_chain_destroy(c);
    free(w);
    free(b);
    free(g);
    free(be);
    free(m);
    free(var);
}
END_TEST

/* ---- errors ---- */

/* Valid weights for pushes whose values do not matter (0.5 each). */
static float ones[8 * 8 * 9];

static void fill_ones(void)
{
    for (size_t i = 0; i < sizeof ones / sizeof ones[0]; i++)
        ones[i] = 0.5f;
}

static void assert_message_has(const char *what)
{
    ck_assert_msg(strstr(lm_last_error(), what) != NULL,
                  "message \"%s\" lacks \"%s\"", lm_last_error(), what);
}

START_TEST(conv_with_kernel_after_stride_is_unsupported)
{
    lm_chain *c = NULL;
    ck_assert_lm_ok(lm_chain_create(&c, 3));
    ck_assert_lm_ok(lm_chain_push_conv(
        c, LM_TEST_CONV(NULL, 3, 8, 3, 2, 1, 1, 0), ones, NULL));
    ck_assert_lm_status(
        lm_chain_push_conv(c, LM_TEST_CONV(NULL, 8, 8, 3, 1, 1, 1, 0), ones,
                           NULL),
        LM_ERR_UNSUPPORTED);
    assert_message_has("step 2");
    /* The chain is unchanged and still usable. */
    ck_assert_uint_eq(lm_chain_step_count(c), 1);
    ck_assert_int_eq(lm_chain_kernel(c), 3);
    ck_assert_lm_ok(lm_chain_push_conv(
        c, LM_TEST_CONV(NULL, 8, 8, 1, 2, 0, 1, 0), ones, NULL));
    ck_assert_int_eq(lm_chain_stride(c), 4);
    lm_chain_destroy(c);
}
END_TEST

START_TEST(bad_convs_are_invalid_and_name_the_step)
{
    lm_chain *c = NULL;
    ck_assert_lm_ok(lm_chain_create(&c, 8));
    ck_assert_lm_ok(lm_chain_push_conv(
        c, LM_TEST_CONV(NULL, 8, 5, 3, 1, 1, 1, 0), ones, NULL));
    ck_assert_lm_status(
        lm_chain_push_conv(c, LM_TEST_CONV(NULL, 8, 8, 3, 1, 1, 1, 0), ones,
                           NULL),
        LM_ERR_INVALID_ARG);
    assert_message_has("step 2");
    assert_message_has("chain carries 5");
    ck_assert_lm_status(
        lm_chain_push_conv(c, LM_TEST_CONV(NULL, 5, 8, 2, 1, 1, 1, 0), ones,
                           NULL),
        LM_ERR_INVALID_ARG); /* even kernel */
    ck_assert_lm_status(
        lm_chain_push_conv(c, LM_TEST_CONV(NULL, 5, 8, 3, 0, 1, 1, 0), ones,
                           NULL),
        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(
        lm_chain_push_conv(c, LM_TEST_CONV(NULL, 5, 8, 3, 1, -1, 1, 0), ones,
                           NULL),
        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(
        lm_chain_push_conv(c, LM_TEST_CONV(NULL, 5, 8, 3, 1, 1, 2, 0), ones,
                           NULL),
        LM_ERR_INVALID_ARG); /* groups do not divide 5 */
    ck_assert_lm_status(
        lm_chain_push_conv(c, LM_TEST_CONV(NULL, 5, 8, 3, 1, 1, 1, 0), NULL,
                           NULL),
        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(
        lm_chain_push_conv(NULL, LM_TEST_CONV(NULL, 5, 8, 3, 1, 1, 1, 0), ones,
                           NULL),
        LM_ERR_INVALID_ARG);
    float nan_w[5 * 9];
    memcpy(nan_w, ones, sizeof nan_w);
    nan_w[7] = NAN;
    ck_assert_lm_status(
        lm_chain_push_conv(c, LM_TEST_CONV(NULL, 5, 1, 3, 1, 1, 1, 0), nan_w,
                           NULL),
        LM_ERR_VALUE);
    assert_message_has("weight[7]");
    ck_assert_lm_status(
        lm_chain_push_conv(c, LM_TEST_CONV(NULL, 5, 1, 1, 1, 1, 1, 0), ones,
                           nan_w + 7),
        LM_ERR_VALUE);
    assert_message_has("bias[0]");
    /* Input records whose size is not set are refused, naming the step. */
    lm_conv_desc unset = {0};
    ck_assert_lm_status(lm_chain_push_conv(c, &unset, ones, NULL),
                        LM_ERR_INVALID_ARG);
    assert_message_has("chain step 2");
    lm_bn_desc bn_unset = {0};
    ck_assert_lm_status(lm_chain_push_bn(c, &bn_unset), LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_chain_push_bn(c, NULL), LM_ERR_INVALID_ARG);
    ck_assert_uint_eq(lm_chain_step_count(c), 1);
    ck_assert_int_eq(lm_chain_padding(c), 1);
    lm_chain_destroy(c);
}
END_TEST

START_TEST(bad_skips_are_invalid)
{
    lm_chain *c = NULL;
    ck_assert_lm_status(lm_chain_create(&c, 0), LM_ERR_INVALID_ARG);
    ck_assert_lm_ok(lm_chain_create(&c, 3));
    ck_assert_lm_status(lm_chain_push_identity_skip(c, 0), LM_ERR_INVALID_ARG);
    ck_assert_lm_ok(lm_chain_push_conv(
        c, LM_TEST_CONV(NULL, 3, 8, 3, 1, 1, 1, 0), ones, NULL));
    ck_assert_lm_status(lm_chain_push_identity_skip(c, 0), LM_ERR_INVALID_ARG);
    assert_message_has("step 0 to step 1");
    assert_message_has("3 and 8 channels");
    ck_assert_lm_status(lm_chain_push_identity_skip(c, 1), LM_ERR_INVALID_ARG);
    ck_assert_lm_status(
        lm_chain_push_projection_skip(
            c, 0, LM_TEST_CONV(NULL, 8, 8, 1, 1, 0, 1, 0), ones, NULL),
        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(
        lm_chain_push_projection_skip(
            c, 0, LM_TEST_CONV(NULL, 3, 8, 1, 2, 0, 1, 0), ones, NULL),
        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(
        lm_chain_push_projection_skip(
            c, 0, LM_TEST_CONV(NULL, 3, 8, 1, 1, 0, 1, 0), NULL, NULL),
        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_chain_push_identity_skip(NULL, 0), LM_ERR_INVALID_ARG);
    /* A projection is a dense 1x1 conv without padding. */
    ck_assert_lm_status(
        lm_chain_push_projection_skip(
            c, 0, LM_TEST_CONV(NULL, 3, 8, 3, 1, 1, 1, 0), ones, NULL),
        LM_ERR_INVALID_ARG);
    assert_message_has("dense 1x1");
    lm_chain_destroy(c);

    ck_assert_lm_ok(lm_chain_create(&c, 8));
    ck_assert_lm_ok(lm_chain_push_conv(
        c, LM_TEST_CONV(NULL, 8, 8, 3, 2, 1, 1, 0), ones, NULL));
    ck_assert_lm_status(lm_chain_push_identity_skip(c, 0), LM_ERR_INVALID_ARG);
    assert_message_has("stride");
    ck_assert_lm_status(
        lm_chain_push_projection_skip(
            c, 0, LM_TEST_CONV(NULL, 8, 8, 1, 1, 0, 1, 0), ones, NULL),
        LM_ERR_INVALID_ARG);
    assert_message_has("stride");
    float nan_w[64];
    memcpy(nan_w, ones, sizeof nan_w);
    nan_w[9] = NAN;
    ck_assert_lm_status(
        lm_chain_push_projection_skip(
            c, 0, LM_TEST_CONV(NULL, 8, 8, 1, 2, 0, 1, 0), nan_w, NULL),
        LM_ERR_VALUE);
    assert_message_has("weight[9]");
    ck_assert_lm_status(
        lm_chain_push_projection_skip(
            c, 0, LM_TEST_CONV(NULL, 8, 8, 1, 2, 0, 1, 0), ones, nan_w + 2),
        LM_ERR_VALUE);
    assert_message_has("bias[7]");
    ck_assert_lm_ok(lm_chain_push_projection_skip(
        c, 0, LM_TEST_CONV(NULL, 8, 8, 1, 2, 0, 1, 0), ones, NULL));
    lm_chain_destroy(c);
}
END_TEST

START_TEST(bad_batch_norms_leave_the_chain_unchanged)
{
    const float g[2] = {1.0f, 1.0f}, z[2] = {0.0f, 0.0f};
    const float neg[2] = {1.0f, -1.0f}, w[2] = {2.0f, 3.0f};
    lm_chain *c = NULL;
    ck_assert_lm_ok(lm_chain_create(&c, 1));
    ck_assert_lm_status(lm_chain_push_bn(c, LM_TEST_BN(g, z, z, g, 1e-5)),
                        LM_ERR_STATE);
    ck_assert_lm_ok(lm_chain_push_conv(
        c, LM_TEST_CONV(NULL, 1, 2, 1, 1, 0, 1, 0), w, NULL));
    ck_assert_lm_status(lm_chain_push_bn(c, LM_TEST_BN(g, z, z, neg, 1e-5)),
                        LM_ERR_VALUE);
    assert_message_has("channel 1");
    ck_assert_lm_status(lm_chain_push_bn(c, LM_TEST_BN(g, z, z, g, NAN)),
                        LM_ERR_VALUE);
    ck_assert_lm_status(lm_chain_push_bn(c, LM_TEST_BN(g, z, z, NULL, 1e-5)),
                        LM_ERR_INVALID_ARG);
    float out[2];
    ck_assert_lm_ok(lm_chain_weight(out, 2, c));
    ck_assert_float_eq(out[0], 2.0f);
    ck_assert_float_eq(out[1], 3.0f);
    lm_chain_destroy(c);
}
END_TEST

START_TEST(results_of_empty_and_overflowing_chains)
{
    lm_chain *c = NULL;
    float out[4];
    ck_assert_int_eq(lm_chain_kernel(NULL), 0);
    ck_assert_uint_eq(lm_chain_weight_count(NULL), 0);
    ck_assert_int_eq(lm_chain_out_channels(NULL), 0);
    lm_chain_destroy(NULL);
    ck_assert_lm_ok(lm_chain_create(&c, 2));
    ck_assert_int_eq(lm_chain_kernel(c), 0); /* identity option: no conv */
    ck_assert_int_eq(lm_chain_in_channels(c), 2);
    ck_assert_int_eq(lm_chain_out_channels(c), 2);
    ck_assert_lm_status(lm_chain_weight(out, 4, c), LM_ERR_STATE);
    ck_assert_lm_status(lm_chain_bias(out, 4, c), LM_ERR_STATE);
    const float big[4] = {1e30f, 1e30f, 1e30f, 1e30f};
    ck_assert_lm_ok(lm_chain_push_conv(c,
                                       LM_TEST_CONV(NULL, 2, 2, 1, 1, 0, 1, 0),
                                       big, NULL));
    ck_assert_lm_status(lm_chain_weight(out, 3, c), LM_ERR_INVALID_ARG);
    assert_message_has("needs 4 floats");
    ck_assert_lm_status(lm_chain_weight(NULL, 4, c), LM_ERR_INVALID_ARG);
    ck_assert_lm_ok(lm_chain_weight(out, 4, c));
    ck_assert_lm_ok(lm_chain_push_conv(c,
                                       LM_TEST_CONV(NULL, 2, 2, 1, 1, 0, 1, 0),
                                       big, NULL));
    ck_assert_lm_status(lm_chain_weight(out, 4, c), LM_ERR_VALUE);
    ck_assert_lm_ok(lm_chain_bias(out, 2, c));
    ck_assert_float_eq(out[0], 0.0f);
    lm_chain_destroy(c);
}
END_TEST

static Suite *merge_suite(void)
{
    Suite *s = suite_create("merge");
    TCase *tc = tcase_create("compose");
    tcase_add_test(tc, dense_after_dense_gives_5x5);
    tcase_add_test(tc, depthwise_after_depthwise_stays_depthwise);
    tcase_add_test(tc, dense_after_depthwise_is_dense);
    tcase_add_test(tc, depthwise_after_dense_is_dense);
    tcase_add_test(tc, grouped_convs_compose);
    tcase_add_test(tc, strided_conv_then_1x1_keeps_its_stride);
    tcase_add_test(tc, strided_last_conv_takes_the_product_stride);
    tcase_add_test(tc, batch_norm_with_its_own_eps);
    suite_add_tcase(s, tc);
    tc = tcase_create("skips");
    tcase_add_test(tc, mobilenet_v2_block_with_identity_skip);
    tcase_add_test(tc, resnet_basic_block_with_identity_skip);
    tcase_add_test(tc, resnet_downsample_block_with_strided_projection);
    tcase_add_test(tc, strided_projection_over_a_5x5_merge);
    tcase_add_test(tc, identity_skip_after_a_stride);
    tcase_add_test(tc, two_resnet_blocks_nest_their_skips);
    tcase_add_test(tc, depthwise_chain_with_skips);
    tcase_add_test(tc, skip_source_is_cropped_or_padded_symmetrically);
    tcase_add_test(tc, original_padding_differs_only_at_the_border);
    suite_add_tcase(s, tc);
    tc = tcase_create("batch_norm");
    tcase_add_test(tc, bn_fold_matches_the_formula_with_its_eps);
    tcase_add_test(tc, bn_fold_rejects_bad_input_and_writes_nothing);
    tcase_add_test(tc, chain_bn_equals_folding_first);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, fill_ones, NULL);
    tcase_add_test(tc, conv_with_kernel_after_stride_is_unsupported);
    tcase_add_test(tc, bad_convs_are_invalid_and_name_the_step);
    tcase_add_test(tc, bad_skips_are_invalid);
    tcase_add_test(tc, bad_batch_norms_leave_the_chain_unchanged);
    tcase_add_test(tc, results_of_empty_and_overflowing_chains);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return lm_test_run(merge_suite());
}
