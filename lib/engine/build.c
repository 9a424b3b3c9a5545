/* Building the engine's layers: every tensor is fetched by name through the
 * caller's lm_tensor_fn and copied; batch norms are folded into the conv
 * before them here, once, so the runner never sees them (a pruned conv
 * drops its BN with it, so folding stays exact for every plan). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/strbuf.h"
#include "core/util.h"
#include "engine/engine_internal.h"
#include "graph/graph_query.h"

typedef struct fetcher {
    lm_tensor_fn fn;
    void *userdata;
} fetcher;

static lm_status fetch(const fetcher *f, const char *what, const char *base,
                       const char *suffix, const int64_t *shape, size_t ndim,
                       float *dst)
{
    if (!base)
        return lm_err(LM_ERR_INVALID_ARG,
                      "%s has weights but no name to look them up by", what);
    lm_strbuf name = LM_STRBUF_INIT("tensor name");
    lm_status st = lm_strbuf_setf(&name, "%s.%s", base, suffix);
    if (st != LM_OK)
        return lm_err_prefix(st, "%s: ", what);
    lm_clear_error();
    st = f->fn(lm_strbuf_str(&name), shape, ndim, dst, f->userdata);
    if (st != LM_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", lm_last_error());
        st = lm_err(st, "%s: tensor '%s': %s", what, lm_strbuf_str(&name),
                    msg[0] ? msg : lm_status_str(st));
    }
    lm_strbuf_free(&name);
    return st;
}

static float *alloc_floats(size_t n)
{
    return malloc((n ? n : 1) * sizeof(float));
}

/* Fold batch norm `bn_name` (channels = cout) into w (cout x per) and
 * *bias, in double: W' = W g / sqrt(v + eps), b' = (b - m) g / sqrt(v + eps)
 * + beta, with this BN's own eps. */
static lm_status fold_bn(const fetcher *f, const char *what,
                         const char *bn_name, double eps, int64_t cout,
                         size_t per, float *w, float *bias)
{
    static const char *const parts[4] = {"weight", "bias", "running_mean",
                                         "running_var"};
    float *p = alloc_floats(4 * (size_t)cout);
    if (!p)
        return lm_err_nomem();
    lm_status st = LM_OK;
    for (int i = 0; i < 4 && st == LM_OK; i++)
        st = fetch(f, what, bn_name, parts[i], &cout, 1, p + i * cout);
    for (int64_t o = 0; st == LM_OK && o < cout; o++) {
        double var = (double)p[3 * cout + o] + eps;
        if (!(var > 0.0)) {
            st = lm_err(LM_ERR_VALUE, "%s: batch norm '%s' channel %lld has "
                        "running_var + eps = %g <= 0", what, bn_name,
                        (long long)o, var);
            break;
        }
        double scale = (double)p[o] / sqrt(var);
        for (size_t j = 0; j < per; j++)
            w[(size_t)o * per + j] = (float)(w[(size_t)o * per + j] * scale);
        bias[o] = (float)(((double)bias[o] - p[2 * cout + o]) * scale +
                          p[cout + o]);
    }
    free(p);
    return st;
}

void lm_econv_free(lm_econv *c)
{
    free(c->weight);
    free(c->bias);
    c->weight = c->bias = NULL;
}

/* A conv described by `info` (trunk conv, projection or fixed conv), its
 * BN folded when `bn_name` is set. */
static lm_status build_conv(const fetcher *f, const char *what,
                            const lm_conv_info *info, const char *bn_name,
                            double bn_eps, lm_econv *c)
{
    int64_t cout = info->out_channels, cpg = info->in_channels / info->groups;
    int64_t shape[4] = {cout, cpg, info->kernel, info->kernel};
    c->k = (lm_kconv){.cin = info->in_channels, .cout = cout,
                      .k = info->kernel, .stride = info->stride,
                      .pad = info->padding, .groups = info->groups};
    /* A validated graph bounds every weight (2^40 elements); checked
     * anyway, as the product sizes an allocation. */
    size_t kk = 0, per = 0, n = 0;
    if (cout < 0 || cpg < 0 || info->kernel < 0 ||
        lm_mul_overflow((size_t)info->kernel, (size_t)info->kernel, &kk) ||
        lm_mul_overflow((size_t)cpg, kk, &per) ||
        lm_mul_overflow((size_t)cout, per, &n) ||
        n > SIZE_MAX / sizeof(float))
        return lm_err(LM_ERR_INVALID_ARG, "%s: weight %lldx%lldx%lldx%lld "
                      "overflows a size", what, (long long)cout,
                      (long long)cpg, (long long)info->kernel,
                      (long long)info->kernel);
    c->weight = alloc_floats(n);
    int need_bias = info->has_bias || bn_name;
    c->bias = need_bias ? calloc((size_t)cout, sizeof(float)) : NULL;
    if (!c->weight || (need_bias && !c->bias)) {
        lm_econv_free(c);
        return lm_err_nomem();
    }
    lm_status st = fetch(f, what, info->name, "weight", shape, 4, c->weight);
    if (st == LM_OK && info->has_bias)
        st = fetch(f, what, info->name, "bias", &cout, 1, c->bias);
    if (st == LM_OK && bn_name)
        st = fold_bn(f, what, bn_name, bn_eps, cout, per, c->weight, c->bias);
    if (st != LM_OK)
        lm_econv_free(c);
    c->k.weight = c->weight;
    c->k.bias = c->bias;
    return st;
}

static lm_status build_trunk(lm_engine *e, const fetcher *f,
                             const lm_graph *g)
{
    for (size_t p = 1; p <= e->n; p++) {
        lm_conv_info info = {.size = sizeof info};
        char what[320];
        lm_status st = lm_graph_conv_info(&info, g, p);
        if (st != LM_OK)
            return st;
        snprintf(what, sizeof what, "conv %zu (%s)", p,
                 info.name ? info.name : "unnamed");
        st = build_conv(f, what, &info, info.has_bn ? info.bn_name : NULL,
                        info.bn_eps, &e->trunk[p]);
        if (st != LM_OK)
            return st;
    }
    return LM_OK;
}

static lm_status build_skips(lm_engine *e, const fetcher *f,
                             const lm_graph *g)
{
    for (size_t i = 0; i < e->n_skips; i++) {
        lm_skip_info info = {.size = sizeof info};
        lm_conv_info proj = {.size = sizeof proj};
        lm_status st = lm_graph_skip_info(&info, g, i);
        if (st != LM_OK)
            return st;
        lm_eskip *s = &e->skips[i];
        s->source = info.source;
        s->target = info.target;
        s->concat = info.is_concat;
        s->has_proj = info.has_projection;
        if (!s->has_proj)
            continue;
        char what[320];
        if ((st = lm_graph_skip_projection(g, i, &proj)) != LM_OK)
            return st;
        const lm_conv_info *pi = &proj;
        snprintf(what, sizeof what, "skip %zu (%zu -> %zu) projection", i,
                 info.source, info.target);
        st = build_conv(f, what, pi, pi->has_bn ? pi->bn_name : NULL,
                        pi->bn_eps, &s->proj);
        if (st != LM_OK)
            return st;
    }
    return LM_OK;
}

static lm_status build_linear(const fetcher *f, const char *what,
                              const lm_layer_info *li, lm_eop *op)
{
    int64_t shape[2] = {li->out_channels, li->in_channels};
    op->in_f = li->in_channels;
    op->out_f = li->out_channels;
    size_t n = 0;
    if (shape[0] < 0 || shape[1] < 0 ||
        lm_mul_overflow((size_t)shape[0], (size_t)shape[1], &n) ||
        n > SIZE_MAX / sizeof(float))
        return lm_err(LM_ERR_INVALID_ARG, "%s: weight %lldx%lld overflows a "
                      "size", what, (long long)shape[0], (long long)shape[1]);
    op->weight = alloc_floats(n);
    op->bias = li->has_bias ? alloc_floats((size_t)shape[0]) : NULL;
    if (!op->weight || (li->has_bias && !op->bias))
        return lm_err_nomem();
    lm_status st = fetch(f, what, li->name, "weight", shape, 2, op->weight);
    if (st == LM_OK && li->has_bias)
        st = fetch(f, what, li->name, "bias", shape, 1, op->bias);
    return st;
}

/* A standalone batch norm as x * scale + shift. */
static lm_status build_bn(const fetcher *f, const char *what,
                          const lm_layer_info *li, lm_eop *op)
{
    int64_t c = li->in_channels;
    op->scale = alloc_floats((size_t)c);
    op->shift = calloc((size_t)c, sizeof(float));
    if (!op->scale || !op->shift)
        return lm_err_nomem();
    for (int64_t i = 0; i < c; i++)
        op->scale[i] = 1.0f;
    return fold_bn(f, what, li->name, li->eps, c, 1, op->scale, op->shift);
}

/* GroupNorm's affine pair into op->scale (gamma) and op->shift (beta). */
static lm_status build_groupnorm(const fetcher *f, const char *what,
                                 const char *name, int64_t c, float **gamma,
                                 float **beta)
{
    *gamma = alloc_floats((size_t)c);
    *beta = alloc_floats((size_t)c);
    if (!*gamma || !*beta)
        return lm_err_nomem();
    lm_status st = fetch(f, what, name, "weight", &c, 1, *gamma);
    if (st == LM_OK)
        st = fetch(f, what, name, "bias", &c, 1, *beta);
    return st;
}

/* The attention block's tensors in one block: q, k, v, proj_out weights
 * (c x c each, PyTorch's c x c x 1 x 1), their biases, the norm's pair. */
static lm_status build_attention(const fetcher *f, const char *what,
                                 const lm_layer_info *li, lm_eop *op)
{
    static const char *const convs[4] = {"q", "k", "v", "proj_out"};
    int64_t c = li->in_channels;
    size_t cc = (size_t)c * (size_t)c;
    float *w = alloc_floats(4 * cc + 6 * (size_t)c);
    if (!w)
        return lm_err_nomem();
    op->attn_w = w;
    lm_strbuf sub = LM_STRBUF_INIT("attention tensor name");
    int64_t shape[4] = {c, c, 1, 1};
    lm_status st = LM_OK;
    float *bias = w + 4 * cc;
    for (int i = 0; i < 4 && st == LM_OK; i++) {
        st = lm_strbuf_setf(&sub, "%s.%s", li->name ? li->name : "",
                            convs[i]);
        if (st == LM_OK)
            st = fetch(f, what, li->name ? sub.s : NULL, "weight", shape, 4,
                       w + (size_t)i * cc);
        if (st == LM_OK)
            st = fetch(f, what, sub.s, "bias", &c, 1, bias + i * c);
    }
    float *gamma = bias + 4 * c, *beta = gamma + c;
    if (st == LM_OK)
        st = lm_strbuf_setf(&sub, "%s.norm", li->name ? li->name : "");
    if (st == LM_OK)
        st = fetch(f, what, sub.s, "weight", &c, 1, gamma);
    if (st == LM_OK)
        st = fetch(f, what, sub.s, "bias", &c, 1, beta);
    lm_strbuf_free(&sub);
    op->attn = (lm_kattn){.c = c, .groups = li->groups, .eps = li->eps,
                          .gamma = gamma, .beta = beta,
                          .wq = w, .bq = bias,
                          .wk = w + cc, .bk = bias + c,
                          .wv = w + 2 * cc, .bv = bias + 2 * c,
                          .wo = w + 3 * cc, .bo = bias + 3 * c};
    return st;
}

static lm_conv_info layer_conv_info(const lm_layer_info *li)
{
    return (lm_conv_info){.size = sizeof(lm_conv_info),
                          .in_channels = li->in_channels,
                          .out_channels = li->out_channels,
                          .kernel = li->kernel, .stride = li->stride,
                          .padding = li->padding, .groups = li->groups,
                          .has_bias = li->has_bias, .name = li->name};
}

/* Layer `i` of a site; a conv directly followed by a batch norm over its
 * output takes that BN folded in (*used = 2). */
static lm_status build_layer(const fetcher *f, const lm_graph *g,
                             lm_site site, size_t pos, size_t i, size_t n,
                             lm_eop *op, size_t *used)
{
    lm_layer_info li = {.size = sizeof li}, next = {.size = sizeof next};
    lm_status st = lm_graph_layer_info(&li, g, site, pos, i);
    if (st != LM_OK)
        return st;
    char what[320];
    snprintf(what, sizeof what, "%s layer %zu (%s%s%s)",
             site == LM_SITE_STEM ? "stem" :
             site == LM_SITE_HEAD ? "head" :
             site == LM_SITE_PRE ? "pre" : "position", i,
             lm_layer_kind_name(li.kind), li.name ? " " : "",
             li.name ? li.name : "");
    *used = 1;
    op->kind = li.kind;
    op->act = li.act;
    op->kernel = li.kernel;
    op->stride = li.stride;
    op->padding = li.padding;
    op->out_h = li.out_height;
    op->out_w = li.out_width;
    op->groups = li.groups;
    op->eps = li.eps;
    op->pad[0] = li.pad_top;
    op->pad[1] = li.pad_left;
    op->pad[2] = li.pad_bottom;
    op->pad[3] = li.pad_right;
    op->scale_by = li.scale;
    switch (li.kind) {
    case LM_LAYER_CONV: {
        const char *bn = NULL;
        double eps = 0.0;
        if (i + 1 < n &&
            lm_graph_layer_info(&next, g, site, pos, i + 1) == LM_OK &&
            next.kind == LM_LAYER_BATCHNORM &&
            next.in_channels == li.out_channels) {
            bn = next.name;
            eps = next.eps;
            *used = 2;
        }
        lm_conv_info ci = layer_conv_info(&li);
        return build_conv(f, what, &ci, bn, eps, &op->conv);
    }
    case LM_LAYER_BATCHNORM:
        return build_bn(f, what, &li, op);
    case LM_LAYER_LINEAR:
        return build_linear(f, what, &li, op);
    case LM_LAYER_GROUPNORM:
        return build_groupnorm(f, what, li.name, li.in_channels, &op->scale,
                               &op->shift);
    case LM_LAYER_ATTENTION:
        return build_attention(f, what, &li, op);
    default:
        return LM_OK;
    }
}

void lm_eops_free(lm_eops *ops)
{
    for (size_t i = 0; i < ops->n; i++) {
        lm_eop *op = &ops->ops[i];
        lm_econv_free(&op->conv);
        free(op->scale);
        free(op->shift);
        free(op->weight);
        free(op->bias);
        free(op->attn_w);
    }
    free(ops->ops);
    ops->ops = NULL;
    ops->n = 0;
}

static lm_status build_site(const fetcher *f, const lm_graph *g, lm_site site,
                            size_t pos, lm_eops *ops)
{
    size_t n = lm_graph_layer_count(g, site, pos);
    ops->ops = calloc(n ? n : 1, sizeof *ops->ops);
    if (!ops->ops)
        return lm_err_nomem();
    for (size_t i = 0; i < n;) {
        size_t used = 1;
        lm_status st = build_layer(f, g, site, pos, i, n,
                                   &ops->ops[ops->n++], &used);
        if (st != LM_OK)
            return st;
        i += used;
    }
    return LM_OK;
}

lm_status lm_engine_build_site(const lm_graph *g, lm_site site, size_t pos,
                               lm_tensor_fn fn, void *userdata, lm_eops *ops)
{
    fetcher f = {fn, userdata};
    return build_site(&f, g, site, pos, ops);
}

lm_status lm_engine_fetch(lm_tensor_fn fn, void *userdata, const char *what,
                          const char *base, const char *suffix,
                          const int64_t *shape, size_t ndim, float *dst)
{
    fetcher f = {fn, userdata};
    return fetch(&f, what, base, suffix, shape, ndim, dst);
}

lm_status lm_engine_build(lm_engine *e, const lm_graph *g, lm_tensor_fn fn,
                          void *userdata)
{
    fetcher f = {fn, userdata};
    lm_status st = build_site(&f, g, LM_SITE_STEM, 0, &e->stem);
    if (st == LM_OK)
        st = build_site(&f, g, LM_SITE_HEAD, 0, &e->head);
    for (size_t p = 1; st == LM_OK && p <= e->n; p++)
        st = build_site(&f, g, LM_SITE_POSITION, p, &e->pos_ops[p]);
    if (st == LM_OK)
        st = build_trunk(e, &f, g);
    if (st == LM_OK)
        st = build_skips(e, &f, g);
    if (st == LM_OK)
        st = lm_engine_build_unet(e, g, fn, userdata);
    return st;
}
