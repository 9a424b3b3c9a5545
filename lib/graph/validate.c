/* Shape propagation and consistency checks: stem, trunk convs, skips (with
 * their projections), position layers and head. Messages name the conv,
 * skip or layer at fault and the shapes that disagree. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/limits.h"
#include "core/util.h"
#include "graph/graph_internal.h"

#define SHAPE_FMT "%lldx%lldx%lld"
#define SHAPE_ARGS(s) (long long)(s).c, (long long)(s).h, (long long)(s).w

static int shape_eq(lm_gshape a, lm_gshape b)
{
    return a.c == b.c && a.h == b.h && a.w == b.w;
}

/* Every shape a graph computes keeps the limits of core/limits.h: each
 * size at most LM_DIM_MAX and C x H x W at most LM_NUMEL_MAX, so that the
 * next window, flatten or element count cannot overflow. */
static lm_status check_shape(const char *where, const char *what,
                             lm_gshape s)
{
    const int64_t dims[3] = {s.c, s.h, s.w};
    for (int i = 0; i < 3; i++)
        if (dims[i] > LM_DIM_MAX)
            return lm_err(LM_ERR_VALIDATION,
                          "%s: %s " SHAPE_FMT " has a size above the limit "
                          "of %lld", where, what, SHAPE_ARGS(s),
                          (long long)LM_DIM_MAX);
    /* The message is set; as a validation failure the status is this. */
    if (lm_graph_check_numel(where, what, dims, 3) != LM_OK)
        return LM_ERR_VALIDATION;
    return LM_OK;
}

/* Spatial size after a window: floor((H + 2p - k) / s) + 1. */
static lm_status window(const char *where, lm_gshape in, int64_t c,
                        int64_t kernel, int64_t stride, int64_t padding,
                        lm_gshape *out)
{
    int64_t h = in.h + 2 * padding - kernel, w = in.w + 2 * padding - kernel;
    if (h < 0 || w < 0)
        return lm_err(LM_ERR_VALIDATION,
                      "%s: kernel %lld does not fit its input " SHAPE_FMT
                      " with padding %lld", where, (long long)kernel,
                      SHAPE_ARGS(in), (long long)padding);
    *out = (lm_gshape){c, h / stride + 1, w / stride + 1};
    return LM_OK;
}

void lm_glayer_where(char *buf, size_t cap, lm_site site, size_t position,
                     size_t index, const lm_glayer *l)
{
    char at[48];
    if (site == LM_SITE_STEM)
        snprintf(at, sizeof at, "stem layer %zu", index);
    else if (site == LM_SITE_PRE)
        snprintf(at, sizeof at, "conv %zu pre layer %zu", position, index);
    else if (site == LM_SITE_HEAD)
        snprintf(at, sizeof at, "head layer %zu", index);
    else
        snprintf(at, sizeof at, "position %zu layer %zu", position, index);
    snprintf(buf, cap, "%s (%s%s%s)", at, lm_layer_kind_name(l->kind),
             l->name ? " " : "", l->name ? l->name : "");
}

static lm_status channels_must_be(const char *where, const char *field,
                                  int64_t want, lm_gshape in)
{
    if (want == in.c)
        return LM_OK;
    return lm_err(LM_ERR_VALIDATION,
                  "%s: %s %lld but its input " SHAPE_FMT " has %lld channels",
                  where, field, (long long)want, SHAPE_ARGS(in),
                  (long long)in.c);
}

static lm_status apply_kind(const lm_glayer *l, const char *where,
                            lm_gshape in, lm_gshape *out)
{
    lm_status st = LM_OK;
    switch (l->kind) {
    case LM_LAYER_CONV:
        st = channels_must_be(where, "in_channels", l->in, in);
        if (st == LM_OK)
            st = window(where, in, l->out, l->kernel, l->stride, l->padding,
                        out);
        return st;
    case LM_LAYER_BATCHNORM:
        st = channels_must_be(where, "channels", l->in, in);
        *out = in;
        return st;
    case LM_LAYER_ACT:
        *out = in;
        return LM_OK;
    case LM_LAYER_MAXPOOL:
    case LM_LAYER_AVGPOOL:
        return window(where, in, in.c, l->kernel, l->stride, l->padding, out);
    case LM_LAYER_ADAPTIVE_AVGPOOL:
        *out = (lm_gshape){in.c, l->out_h, l->out_w};
        return LM_OK;
    case LM_LAYER_FLATTEN:
        *out = (lm_gshape){in.c * in.h * in.w, 1, 1};
        return LM_OK;
    case LM_LAYER_LINEAR:
        if (in.h != 1 || in.w != 1)
            return lm_err(LM_ERR_VALIDATION,
                          "%s: needs a flat input, found " SHAPE_FMT, where,
                          SHAPE_ARGS(in));
        *out = (lm_gshape){l->out, 1, 1};
        return channels_must_be(where, "in_features", l->in, in);
    case LM_LAYER_GROUPNORM:
    case LM_LAYER_ATTENTION:
        *out = in;
        return channels_must_be(where, "channels", l->in, in);
    case LM_LAYER_PAD:
        /* Each size stays below 2^31 + 2^31: no overflow in int64. */
        *out = (lm_gshape){in.c, in.h + l->pad_t + l->pad_b,
                           in.w + l->pad_l + l->pad_r};
        return LM_OK;
    case LM_LAYER_UPSAMPLE:
        *out = (lm_gshape){in.c, in.h * l->scale, in.w * l->scale};
        return LM_OK;
    }
    return lm_err(LM_ERR_INTERNAL, "%s: unknown layer kind %d", where,
                  (int)l->kind);
}

lm_status lm_glayer_apply(const lm_glayer *l, const char *where, lm_gshape in,
                          lm_gshape *out)
{
    lm_status st = check_shape(where, "input", in);
    if (st == LM_OK)
        st = apply_kind(l, where, in, out);
    if (st == LM_OK)
        st = check_shape(where, "output", *out);
    return st;
}

static lm_status apply_list(const lm_glist *list, lm_site site,
                            size_t position, lm_gshape *shape)
{
    for (size_t i = 0; i < list->n; i++) {
        char where[160];
        lm_glayer_where(where, sizeof where, site, position, i,
                        &list->items[i]);
        lm_status st = lm_glayer_apply(&list->items[i], where, *shape, shape);
        if (st != LM_OK)
            return st;
    }
    return LM_OK;
}

static void conv_label(char *buf, size_t cap, const lm_graph *g, size_t p)
{
    const char *name = g->convs[p - 1].name;
    if (name)
        snprintf(buf, cap, "conv %zu (%s)", p, name);
    else
        snprintf(buf, cap, "conv %zu", p);
}

/* What a conv's U-Net fields need of the graph around it. */
static lm_status check_unet_conv(const lm_graph *g, size_t p,
                                 const char *label)
{
    const lm_gconv *c = &g->convs[p - 1];
    /* Its pre layers are part of no segment: one must start here. */
    if (c->pre.n > 0 && !g->pos[p - 1].barrier)
        return lm_err(LM_ERR_VALIDATION, "%s has pre layers but position "
                      "%zu, which it reads, is not a barrier", label, p - 1);
    if (c->has_gn && c->out % c->gn_groups)
        return lm_err(LM_ERR_VALIDATION, "%s: its %lld output channels do "
                      "not split into %lld group norm groups", label,
                      (long long)c->out, (long long)c->gn_groups);
    /* The GroupNorm belongs to the activation: without one it would
     * never run. */
    if (c->has_gn && g->pos[p].act == LM_ACT_IDENTITY)
        return lm_err(LM_ERR_VALIDATION, "%s has a group norm but position "
                      "%zu has no activation for it to belong to", label, p);
    /* The identity option removes the conv and what it carries; a merged
     * network could not keep them without it. */
    if (g->pos[p].identity_option && (c->pre.n || c->has_gn || c->has_tproj))
        return lm_err(LM_ERR_VALIDATION, "%s has %s, so position %zu "
                      "cannot allow the identity option", label,
                      c->pre.n ? "pre layers" : c->has_gn ? "a group norm"
                                                          : "a time "
                                                            "projection", p);
    if (c->has_tproj && c->has_bn)
        return lm_err(LM_ERR_VALIDATION, "%s has both a batch norm and a "
                      "time projection, which is not supported", label);
    if (c->has_tproj && !g->has_temb)
        return lm_err(LM_ERR_VALIDATION, "%s has a time projection but the "
                      "graph has no time embedding", label);
    return LM_OK;
}

/* Trunk conv c_p reads position p-1 (through its pre layers). */
static lm_status trunk_conv(lm_graph *g, size_t p, lm_gshape *out)
{
    const lm_gconv *c = &g->convs[p - 1];
    lm_gshape in = g->pos[p - 1].shape;
    char label[160];
    conv_label(label, sizeof label, g, p);
    lm_status st = check_unet_conv(g, p, label);
    if (st == LM_OK)
        st = apply_list(&c->pre, LM_SITE_PRE, p, &in);
    if (st != LM_OK)
        return st;
    g->convs[p - 1].reads = in;
    if (c->in != in.c)
        return lm_err(LM_ERR_VALIDATION,
                      "%s: in_channels %lld but position %zu has %lld "
                      "channels", label, (long long)c->in, p - 1,
                      (long long)in.c);
    st = check_shape(label, "input", in);
    if (st == LM_OK)
        st = window(label, in, c->out, c->kernel, c->stride, c->padding, out);
    if (st == LM_OK)
        st = check_shape(label, "output", *out);
    return st;
}

/* A skip's source must match what c_target outputs, after its projection
 * (1x1, stride s, no padding) when it has one. */
static lm_status check_skip(lm_graph *g, size_t i, lm_gshape conv_out)
{
    lm_gskip *s = &g->skips[i];
    lm_gshape src = g->pos[s->source].shape, got = src;
    char label[160];
    conv_label(label, sizeof label, g, s->target);
    if (s->has_proj) {
        s->proj.in = src.c;
        s->proj.out = conv_out.c;
        /* Its weight (out x in x 1 x 1) follows from the positions it
         * joins: bounded like every other weight. */
        char what[96];
        snprintf(what, sizeof what, "skip %zu (%zu -> %zu) projection", i,
                 s->source, s->target);
        const int64_t weight[4] = {conv_out.c, src.c, 1, 1};
        if (lm_graph_check_numel(what, "weight", weight, 4) != LM_OK)
            return LM_ERR_VALIDATION;
        got = (lm_gshape){conv_out.c, (src.h - 1) / s->proj.stride + 1,
                          (src.w - 1) / s->proj.stride + 1};
        if (shape_eq(got, conv_out))
            return LM_OK;
        return lm_err(LM_ERR_VALIDATION,
                      "skip %zu (%zu -> %zu): projection stride %lld maps "
                      "position %zu " SHAPE_FMT " to " SHAPE_FMT " but %s "
                      "outputs " SHAPE_FMT, i, s->source, s->target,
                      (long long)s->proj.stride, s->source, SHAPE_ARGS(src),
                      SHAPE_ARGS(got), label, SHAPE_ARGS(conv_out));
    }
    if (shape_eq(src, conv_out))
        return LM_OK;
    return lm_err(LM_ERR_VALIDATION,
                  "skip %zu (%zu -> %zu): position %zu has shape " SHAPE_FMT
                  " but %s outputs " SHAPE_FMT " (a projection is needed)",
                  i, s->source, s->target, s->source, SHAPE_ARGS(src), label,
                  SHAPE_ARGS(conv_out));
}

static lm_status check_skip_list(const lm_graph *g)
{
    for (size_t i = 0; i < g->n_skips; i++) {
        const lm_gskip *s = &g->skips[i];
        if (s->source >= s->target || s->target > g->n_convs)
            return lm_err(LM_ERR_VALIDATION,
                          "skip %zu (%zu -> %zu): need source < target <= %zu",
                          i, s->source, s->target, g->n_convs);
        /* A segment cannot pass a concatenation: it joins two tensors. */
        if (s->concat && !(g->pos[s->source].barrier &&
                           g->pos[s->target].barrier))
            return lm_err(LM_ERR_VALIDATION,
                          "skip %zu (%zu -> %zu) is a concatenation: "
                          "positions %zu and %zu must both be barriers", i,
                          s->source, s->target, s->source, s->target);
        for (size_t j = 0; j < i; j++)
            if (g->skips[j].source == s->source &&
                g->skips[j].target == s->target)
                return lm_err(LM_ERR_VALIDATION,
                              "skip %zu (%zu -> %zu) repeats skip %zu", i,
                              s->source, s->target, j);
    }
    return LM_OK;
}

/* The concatenations into position p, appended to its channels. */
static lm_status concat_into(const lm_graph *g, size_t p, lm_gshape *shape)
{
    for (size_t i = 0; i < g->n_skips; i++) {
        const lm_gskip *s = &g->skips[i];
        if (!s->concat || s->target != p)
            continue;
        lm_gshape src = g->pos[s->source].shape;
        if (src.h != shape->h || src.w != shape->w)
            return lm_err(LM_ERR_VALIDATION,
                          "skip %zu (%zu -> %zu): concatenates position %zu "
                          SHAPE_FMT " to position %zu " SHAPE_FMT ": the "
                          "spatial sizes differ", i, s->source, s->target,
                          s->source, SHAPE_ARGS(src), p, SHAPE_ARGS(*shape));
        shape->c += src.c;
        char where[64];
        snprintf(where, sizeof where, "position %zu", p);
        lm_status st = check_shape(where, "concatenation", *shape);
        if (st != LM_OK)
            return st;
    }
    return LM_OK;
}

/* Conv c_p, the skips into it, position p's fixed layers, then the
 * concatenations into it. */
static lm_status trunk_step(lm_graph *g, size_t p)
{
    lm_gshape shape;
    lm_status st = trunk_conv(g, p, &shape);
    for (size_t i = 0; st == LM_OK && i < g->n_skips; i++)
        if (g->skips[i].target == p && !g->skips[i].concat)
            st = check_skip(g, i, shape);
    if (st != LM_OK)
        return st;
    const lm_gpos *pos = &g->pos[p];
    /* A segment cannot merge across a fixed operation (docs/method.md section
     * 2). */
    if (pos->layers.n > 0 && !pos->barrier)
        return lm_err(LM_ERR_VALIDATION,
                      "position %zu has fixed layers but is not a barrier",
                      p);
    st = apply_list(&pos->layers, LM_SITE_POSITION, p, &shape);
    if (st == LM_OK)
        st = concat_into(g, p, &shape);
    g->pos[p].shape = shape;
    return st;
}

lm_status lm_graph_validate(lm_graph *g)
{
    if (!g)
        return lm_err(LM_ERR_INVALID_ARG, "lm_graph_validate: NULL graph");
    g->valid = 0;
    if (g->n_convs == 0)
        return lm_err(LM_ERR_VALIDATION, "graph has no trunk convs");
    lm_status st = check_skip_list(g);
    lm_gshape shape = g->input;
    if (st == LM_OK)
        st = check_shape("graph", "input", shape);
    if (st == LM_OK)
        st = apply_list(&g->stem, LM_SITE_STEM, 0, &shape);
    g->pos[0].shape = shape;
    for (size_t p = 1; st == LM_OK && p <= g->n_convs; p++)
        st = trunk_step(g, p);
    shape = g->pos[g->n_convs].shape;
    if (st == LM_OK)
        st = apply_list(&g->head, LM_SITE_HEAD, 0, &shape);
    if (st != LM_OK)
        return st;
    g->output = shape;
    lm_graph_compute_fingerprint(g);
    g->valid = 1;
    return LM_OK;
}
