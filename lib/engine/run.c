/* Running the configured network, and timing it. Tensors are NCHW over
 * the batch; convs and pools go image by image (im2col per image keeps the
 * workspace independent of the batch). */
#include <string.h>

#include "core/error.h"
#include "engine/engine_internal.h"

static size_t numel(lm_eshape s)
{
    return (size_t)(s.c * s.h * s.w);
}

/* Conv image by image, with the activation and a same-shaped addend (a
 * skip source, NULL for none) fused into its output pass. */
static void conv_batch(const lm_engine *e, const lm_kconv *k, const float *in,
                       float *out, lm_act act, const float *add)
{
    size_t isz = (size_t)(k->cin * k->hin * k->win);
    size_t osz = (size_t)(k->cout * k->hout * k->wout);
    for (size_t b = 0; b < e->batch; b++)
        lm_kconv_run_fused(k, in + b * isz, out + b * osz, e->ws, act,
                           add ? add + b * osz : NULL);
}

/* Apply one fixed layer to *cur; layers that cannot work in place write
 * *other and swap the two. */
static void run_op(const lm_engine *e, const lm_eop *op, float **cur,
                   float **other)
{
    size_t isz = numel(op->in), osz = numel(op->out), n = e->batch;
    const float *in = *cur;
    float *out = *other;
    switch (op->kind) {
    case LM_LAYER_ACT:
        lm_kact(op->act, *cur, n * isz);
        return;
    case LM_LAYER_BATCHNORM:
        for (size_t b = 0; b < n; b++)
            lm_kaffine(op->scale, op->shift, op->in.c, op->in.h * op->in.w,
                       *cur + b * isz);
        return;
    case LM_LAYER_FLATTEN: /* NCHW is already flat per image */
        return;
    case LM_LAYER_CONV: /* run_ops fuses a following activation */
        conv_batch(e, &op->conv.k, in, out, LM_ACT_IDENTITY, NULL);
        break;
    case LM_LAYER_MAXPOOL:
    case LM_LAYER_AVGPOOL:
        for (size_t b = 0; b < n; b++)
            (op->kind == LM_LAYER_MAXPOOL ? lm_kmaxpool : lm_kavgpool)(
                in + b * isz, op->in.c, op->in.h, op->in.w, op->kernel,
                op->stride, op->padding, out + b * osz, op->out.h,
                op->out.w);
        break;
    case LM_LAYER_ADAPTIVE_AVGPOOL:
        for (size_t b = 0; b < n; b++)
            lm_kadaptive_avgpool(in + b * isz, op->in.c, op->in.h, op->in.w,
                                 out + b * osz, op->out_h, op->out_w);
        break;
    case LM_LAYER_LINEAR:
        lm_klinear(in, n, op->in_f, op->out_f, op->weight, op->bias, out);
        break;
    case LM_LAYER_GROUPNORM:
        for (size_t b = 0; b < n; b++)
            lm_kgroupnorm(*cur + b * isz, op->in.c, op->in.h * op->in.w,
                          op->groups, op->eps, op->scale, op->shift);
        return;
    case LM_LAYER_ATTENTION:
        for (size_t b = 0; b < n; b++)
            lm_kattention(&op->attn, *cur + b * isz, op->in.h * op->in.w,
                          e->ws);
        return;
    case LM_LAYER_PAD:
        for (size_t b = 0; b < n; b++)
            lm_kpad(in + b * isz, op->in.c, op->in.h, op->in.w, op->pad[0],
                    op->pad[1], op->pad[2], op->pad[3], out + b * osz);
        break;
    case LM_LAYER_UPSAMPLE:
        for (size_t b = 0; b < n; b++)
            lm_kupsample_nearest(in + b * isz, op->in.c, op->in.h, op->in.w,
                                 op->scale_by, out + b * osz);
        break;
    }
    *other = *cur;
    *cur = out;
}

/* Run `ops` on the tensor in `home`, leaving the result in `home`. */
void lm_engine_run_ops(const lm_engine *e, const lm_eops *ops, float *home,
                       size_t out_floats)
{
    float *cur = home, *other = e->scratch;
    for (size_t i = 0; i < ops->n; i++) {
        const lm_eop *op = &ops->ops[i];
        if (op->kind == LM_LAYER_CONV && i + 1 < ops->n &&
            ops->ops[i + 1].kind == LM_LAYER_ACT) {
            conv_batch(e, &op->conv.k, cur, other, ops->ops[++i].act, NULL);
            float *t = cur;
            cur = other;
            other = t;
            continue;
        }
        run_op(e, op, &cur, &other);
    }
    if (cur != home)
        memcpy(home, cur, out_floats * sizeof *home);
}

static int64_t floor_half(int64_t v)
{
    return v >= 0 ? v / 2 : -((1 - v) / 2);
}

/* docs/method.md section 8 crops or zero-pads a skip's *input* symmetrically
 * so that its projection meets the target: output (y, x) reads input (s*y +
 * dy, s*x + dx) and gets the bias everywhere, as the merged kernel does.
 * Projecting first and then cropping the result would misalign a strided
 * projection by a pixel and leave a padded border without bias. Only
 * fine-tuning configurations get here, so a direct loop will do. */
static void add_projection_aligned(const lm_kconv *pk, const float *in,
                                   int64_t sh, int64_t sw, float *out,
                                   lm_eshape os)
{
    int64_t s = pk->stride;
    int64_t dy = floor_half(sh - 1 - (os.h - 1) * s);
    int64_t dx = floor_half(sw - 1 - (os.w - 1) * s);
    for (int64_t o = 0; o < os.c; o++) {
        float *dst = out + o * os.h * os.w;
        const float *wrow = pk->weight + o * pk->cin;
        for (int64_t y = 0; y < os.h; y++) {
            int64_t iy = s * y + dy;
            for (int64_t x = 0; x < os.w; x++) {
                int64_t ix = s * x + dx;
                double acc = pk->bias ? pk->bias[o] : 0.0;
                if (iy >= 0 && iy < sh && ix >= 0 && ix < sw)
                    for (int64_t c = 0; c < pk->cin; c++)
                        acc += (double)wrow[c] * in[(c * sh + iy) * sw + ix];
                dst[y * os.w + x] += (float)acc;
            }
        }
    }
}

/* Add skip i (projected when it has a projection) into the conv output. */
static void add_skip(const lm_engine *e, const lm_eskip *s, float *out,
                     lm_eshape os)
{
    lm_eshape src = e->shape[s->source];
    const float *in = e->bufs[e->slot[s->source]];
    size_t isz = numel(src), osz = numel(os);
    const lm_kconv *pk = &s->proj.k;
    for (size_t b = 0; b < e->batch; b++) {
        const float *add = in + b * isz;
        int64_t h = src.h, w = src.w;
        if (s->has_proj && (pk->hout != os.h || pk->wout != os.w)) {
            add_projection_aligned(pk, add, h, w, out + b * osz, os);
            continue;
        }
        if (s->has_proj) {
            lm_kconv_run(pk, add, e->tmp, e->ws);
            add = e->tmp;
            h = pk->hout;
            w = pk->wout;
        }
        lm_kadd_centred(out + b * osz, os.c, os.h, os.w, add, h, w);
    }
}

static int same_shape(lm_eshape a, lm_eshape b)
{
    return a.c == b.c && a.h == b.h && a.w == b.w;
}

/* The skip source to fuse into conv p's output pass: *add stays NULL when
 * no skip is on; 0 when a skip needs the general path (a projection, a
 * centred add, or several skips). */
static int fusable_skip(const lm_engine *e, size_t p, const float **add)
{
    size_t n_on = 0;
    *add = NULL;
    for (size_t i = 0; i < e->n_skips; i++) {
        const lm_eskip *s = &e->skips[i];
        if (s->target != p || !e->plan.skip_on[i] || s->concat)
            continue;
        if (++n_on > 1 || s->has_proj ||
            !same_shape(e->shape[s->source], e->conv_out[p]))
            return 0;
        *add = e->bufs[e->slot[s->source]];
    }
    return 1;
}

/* What conv p reads: position p - 1, or a copy through its pre layers. */
static const float *conv_input(const lm_engine *e, size_t p)
{
    const lm_eunet *u = &e->unet[p];
    const float *in = e->bufs[e->slot[p - 1]];
    if (u->pre.n == 0)
        return in;
    size_t n = e->batch;
    memcpy(e->pre, in, n * numel(u->pre_in) * sizeof *in);
    lm_eshape s = u->pre_in;
    for (size_t i = 0; i < u->pre.n; i++)
        s = u->pre.ops[i].out;
    lm_engine_run_ops(e, &u->pre, e->pre, n * numel(s));
    return e->pre;
}

/* A pruned conv: identity, or a zero pad by its plan padding. */
static void pruned_step(const lm_engine *e, size_t p, const float *in,
                        float *out, lm_eshape os)
{
    int64_t pad = e->plan.padding[p];
    size_t osz = numel(os);
    if (pad == 0) {
        memcpy(out, in, e->batch * osz * sizeof *out);
        return;
    }
    int64_t h = os.h - 2 * pad, w = os.w - 2 * pad;
    size_t isz = (size_t)(os.c * h * w);
    for (size_t b = 0; b < e->batch; b++)
        lm_kpad(in + b * isz, os.c, h, w, pad, pad, pad, pad, out + b * osz);
}

/* The time bias of conv p's time projection, per image and channel. */
static void add_time_bias(const lm_engine *e, size_t p, float *out,
                          lm_eshape os)
{
    const float *tb = e->unet[p].tbias;
    size_t hw = (size_t)(os.h * os.w);
    for (size_t b = 0; b < e->batch; b++)
        for (int64_t c = 0; c < os.c; c++) {
            float v = tb[b * (size_t)os.c + (size_t)c];
            float *x = out + (b * (size_t)os.c + (size_t)c) * hw;
            for (size_t i = 0; i < hw; i++)
                x[i] += v;
        }
}

/* The concatenations into position p: each image's own channels first,
 * then each source's, in skip order (moved from the last image down, so
 * that the images' own parts are never overwritten before they move). */
static void concat_step(const lm_engine *e, size_t p)
{
    float *buf = e->bufs[e->slot[p]];
    size_t own = numel(e->own[p]), all = numel(e->shape[p]);
    if (own == all)
        return;
    for (size_t b = e->batch; b-- > 0;) {
        memmove(buf + b * all, buf + b * own, own * sizeof *buf);
        size_t at = own;
        for (size_t i = 0; i < e->n_skips; i++) {
            const lm_eskip *s = &e->skips[i];
            if (!s->concat || s->target != p)
                continue;
            size_t n = numel(e->shape[s->source]);
            memcpy(buf + b * all + at,
                   e->bufs[e->slot[s->source]] + b * n, n * sizeof *buf);
            at += n;
        }
    }
}

static void trunk_step(const lm_engine *e, size_t p, lm_eclock *clock)
{
    const lm_eplan *plan = &e->plan;
    const lm_eunet *u = &e->unet[p];
    /* A table entry is the conv with its activation (and the GroupNorm of
     * that activation); the pre layers and the time bias are not, so
     * they count with the skips as what no entry carries. */
    double tp = clock ? lm_engine_now_ms() : 0.0;
    const float *in = conv_input(e, p), *add;
    float *out = e->bufs[e->slot[p]];
    lm_eshape os = e->conv_out[p];
    double t0 = clock ? lm_engine_now_ms() : 0.0;
    double conv_ms = 0.0, other_ms = t0 - tp;
    if (plan->keep[p] && !u->has_tproj && !u->has_gn &&
        fusable_skip(e, p, &add)) {
        conv_batch(e, &e->trunk[p].k, in, out, plan->act[p], add);
        if (clock)
            conv_ms = lm_engine_now_ms() - t0;
    } else {
        if (plan->keep[p])
            conv_batch(e, &e->trunk[p].k, in, out, LM_ACT_IDENTITY, NULL);
        else
            pruned_step(e, p, in, out, os);
        double ta = clock ? lm_engine_now_ms() : 0.0;
        if (u->has_tproj)
            add_time_bias(e, p, out, os);
        double t1 = clock ? lm_engine_now_ms() : 0.0;
        for (size_t i = 0; i < e->n_skips; i++)
            if (e->skips[i].target == p && plan->skip_on[i] &&
                !e->skips[i].concat)
                add_skip(e, &e->skips[i], out, os);
        double t2 = clock ? lm_engine_now_ms() : 0.0;
        /* The GroupNorm belongs to the activation: gone with it. */
        if (u->has_gn && plan->act[p] != LM_ACT_IDENTITY)
            for (size_t b = 0; b < e->batch; b++)
                lm_kgroupnorm(out + b * numel(os), os.c, os.h * os.w,
                              u->gn_groups, u->gn_eps, u->gn_gamma,
                              u->gn_beta);
        lm_kact(plan->act[p], out, e->batch * numel(os));
        if (clock) {
            /* The activation belongs to the conv, as in a table entry. */
            conv_ms = (ta - t0) + (lm_engine_now_ms() - t2);
            other_ms += (t1 - ta) + (t2 - t1);
        }
    }
    double t3 = clock ? lm_engine_now_ms() : 0.0;
    lm_engine_run_ops(e, &e->pos_ops[p], out, e->batch * numel(e->own[p]));
    concat_step(e, p);
    if (clock) {
        clock->conv[p - 1] = conv_ms;
        clock->other[p - 1] = other_ms + (lm_engine_now_ms() - t3);
    }
}

void lm_engine_forward(lm_engine *e, lm_eclock *clock)
{
    lm_engine_apply_threads(e);
    float *home = e->bufs[e->slot[0]];
    double t0 = clock ? lm_engine_now_ms() : 0.0;
    lm_engine_run_ops(e, &e->stem, home, e->batch * numel(e->shape[0]));
    if (clock)
        clock->stem = lm_engine_now_ms() - t0;
    for (size_t p = 1; p <= e->n; p++)
        trunk_step(e, p, clock);
    home = e->bufs[e->slot[e->n]];
    t0 = clock ? lm_engine_now_ms() : 0.0;
    lm_engine_run_ops(e, &e->head, home, lm_engine_output_size(e));
    if (clock)
        clock->head = lm_engine_now_ms() - t0;
}

lm_status lm_engine_run(float *output, size_t n_out, lm_engine *e,
                        const float *input, size_t n_in)
{
    if (!e || !input || !output)
        return lm_err(LM_ERR_INVALID_ARG, "lm_engine_run: NULL argument");
    if (!e->configured)
        return lm_err(LM_ERR_STATE, "lm_engine_run: the engine has no valid "
                      "configuration");
    if (e->has_temb && !e->timesteps_set && !e->timing_timesteps)
        return lm_err(LM_ERR_STATE, "lm_engine_run: the network takes "
                      "timesteps: set them with lm_engine_set_timesteps");
    if (n_in != lm_engine_input_size(e) || n_out != lm_engine_output_size(e))
        return lm_err(LM_ERR_INVALID_ARG, "lm_engine_run: got %zu input and "
                      "%zu output floats, need %zu and %zu", n_in, n_out,
                      lm_engine_input_size(e), lm_engine_output_size(e));
    memcpy(e->bufs[e->slot[0]], input, n_in * sizeof *input);
    lm_engine_forward(e, NULL);
    memcpy(output, e->bufs[e->slot[e->n]], n_out * sizeof *output);
    return LM_OK;
}
