/* Walking a graph for the tensors its layers need. Names follow PyTorch's
 * state_dict: a module name plus ".weight", ".bias", ".running_mean",
 * ".running_var". */
#include "weights/needs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/limits.h"
#include "core/strbuf.h"
#include "core/util.h"
#include "graph/graph_query.h"

typedef struct walk {
    lm_wneed_fn fn;
    void *userdata;
    char owner[128];
    lm_strbuf name; /* the tensor name being emitted */
} walk;

static lm_status emit(walk *wk, const char *module, const char *suffix,
                      lm_wrole role, size_t ndim, const int64_t *shape,
                      int64_t fan_in)
{
    lm_status st = lm_strbuf_setf(&wk->name, "%s%s", module, suffix);
    if (st != LM_OK)
        return st;
    lm_wneed need = {.owner = wk->owner, .tensor = lm_strbuf_str(&wk->name),
                     .role = role, .ndim = ndim, .fan_in = fan_in};
    memcpy(need.shape, shape, ndim * sizeof *shape);
    return wk->fn(&need, wk->userdata);
}

static lm_status need_name(const walk *wk, const char *name, const char *what)
{
    if (name && *name)
        return LM_OK;
    return lm_err(LM_ERR_NOT_FOUND, "%s has no %s name, so its tensors "
                  "cannot be named", wk->owner, what);
}

static lm_status emit_conv(walk *wk, const char *name, int64_t in,
                           int64_t out, int64_t kernel, int64_t groups,
                           int has_bias)
{
    lm_status st = need_name(wk, name, "conv");
    if (st != LM_OK)
        return st;
    int64_t per_group = groups > 0 ? in / groups : in;
    int64_t shape[4] = {out, per_group, kernel, kernel};
    int64_t kk = 0, fan_in = 0, numel = 0;
    /* A validated graph keeps every weight within LM_NUMEL_MAX elements;
     * checked anyway, as these products size allocations. */
    if (out < 0 || per_group < 0 || kernel < 0 ||
        lm_mul_overflow_i64(kernel, kernel, &kk) ||
        lm_mul_overflow_i64(per_group, kk, &fan_in) ||
        lm_mul_overflow_i64(out, fan_in, &numel) || numel > LM_NUMEL_MAX)
        return lm_err(LM_ERR_INVALID_ARG, "%s: weight %lldx%lldx%lldx%lld "
                      "has more than 2^40 elements", wk->owner,
                      (long long)out, (long long)per_group,
                      (long long)kernel, (long long)kernel);
    st = emit(wk, name, ".weight", LM_WROLE_WEIGHT, 4, shape, fan_in);
    if (st == LM_OK && has_bias)
        st = emit(wk, name, ".bias", LM_WROLE_BIAS, 1, &out, fan_in);
    return st;
}

static lm_status emit_bn(walk *wk, const char *name, int64_t channels)
{
    static const struct {
        const char *suffix;
        lm_wrole role;
    } parts[] = {{".weight", LM_WROLE_BN_WEIGHT}, {".bias", LM_WROLE_BN_BIAS},
                 {".running_mean", LM_WROLE_BN_MEAN},
                 {".running_var", LM_WROLE_BN_VAR}};
    lm_status st = need_name(wk, name, "batch norm");
    for (size_t i = 0; st == LM_OK && i < 4; i++)
        st = emit(wk, name, parts[i].suffix, parts[i].role, 1, &channels, 0);
    return st;
}

static lm_status emit_linear(walk *wk, const char *name, int64_t in,
                             int64_t out, int has_bias)
{
    lm_status st = need_name(wk, name, "linear");
    int64_t shape[2] = {out, in}, numel = 0;
    if (st == LM_OK && (in < 0 || out < 0 ||
                        lm_mul_overflow_i64(out, in, &numel) ||
                        numel > LM_NUMEL_MAX))
        st = lm_err(LM_ERR_INVALID_ARG, "%s: weight %lldx%lld has more than "
                    "2^40 elements", wk->owner, (long long)out,
                    (long long)in);
    if (st == LM_OK)
        st = emit(wk, name, ".weight", LM_WROLE_WEIGHT, 2, shape, in);
    if (st == LM_OK && has_bias)
        st = emit(wk, name, ".bias", LM_WROLE_BIAS, 1, &out, in);
    return st;
}

/* GroupNorm's affine pair; random weights draw it like a batch norm's. */
static lm_status emit_groupnorm(walk *wk, const char *name, int64_t channels)
{
    lm_status st = need_name(wk, name, "group norm");
    if (st == LM_OK)
        st = emit(wk, name, ".weight", LM_WROLE_BN_WEIGHT, 1, &channels, 0);
    if (st == LM_OK)
        st = emit(wk, name, ".bias", LM_WROLE_BN_BIAS, 1, &channels, 0);
    return st;
}

/* The attention block's norm and its four 1x1 convs, as name.norm,
 * name.q, name.k, name.v, name.proj_out. */
static lm_status emit_attention(walk *wk, const char *name, int64_t c)
{
    static const char *const parts[] = {"q", "k", "v", "proj_out"};
    char sub[512];
    lm_status st = need_name(wk, name, "attention");
    if (st != LM_OK)
        return st;
    snprintf(sub, sizeof sub, "%s.norm", name);
    st = emit_groupnorm(wk, sub, c);
    for (size_t i = 0; st == LM_OK && i < 4; i++) {
        snprintf(sub, sizeof sub, "%s.%s", name, parts[i]);
        st = emit_conv(wk, sub, c, c, 1, 1, 1);
    }
    return st;
}

static lm_status emit_conv_info(walk *wk, const lm_conv_info *c)
{
    lm_status st = emit_conv(wk, c->name, c->in_channels, c->out_channels,
                             c->kernel, c->groups, c->has_bias);
    if (st == LM_OK && c->has_bn) {
        size_t len = strlen(wk->owner);
        snprintf(wk->owner + len, sizeof wk->owner - len, " batch norm");
        st = emit_bn(wk, c->bn_name, c->out_channels);
    }
    return st;
}

static lm_status walk_layers(walk *wk, const lm_graph *g, lm_site site,
                             size_t position, const char *where)
{
    size_t n = lm_graph_layer_count(g, site, position);
    for (size_t i = 0; i < n; i++) {
        lm_layer_info l = {.size = sizeof l};
        lm_status st = lm_graph_layer_info(&l, g, site, position, i);
        if (st != LM_OK)
            return st;
        snprintf(wk->owner, sizeof wk->owner, "%s layer %zu (%s)", where, i,
                 lm_layer_kind_name(l.kind));
        if (l.kind == LM_LAYER_CONV)
            st = emit_conv(wk, l.name, l.in_channels, l.out_channels,
                           l.kernel, l.groups, l.has_bias);
        else if (l.kind == LM_LAYER_BATCHNORM)
            st = emit_bn(wk, l.name, l.in_channels);
        else if (l.kind == LM_LAYER_LINEAR)
            st = emit_linear(wk, l.name, l.in_channels, l.out_channels,
                             l.has_bias);
        else if (l.kind == LM_LAYER_GROUPNORM)
            st = emit_groupnorm(wk, l.name, l.in_channels);
        else if (l.kind == LM_LAYER_ATTENTION)
            st = emit_attention(wk, l.name, l.in_channels);
        if (st != LM_OK)
            return st;
    }
    return LM_OK;
}

/* A trunk conv's U-Net parts: pre layers, GroupNorm, time projection. */
static lm_status walk_conv_unet(walk *wk, const lm_graph *g, size_t p,
                                const lm_conv_info *c, int64_t temb_ch)
{
    char where[48];
    snprintf(where, sizeof where, "conv %zu pre", p);
    lm_status st = walk_layers(wk, g, LM_SITE_PRE, p, where);
    if (st == LM_OK && c->has_groupnorm) {
        snprintf(wk->owner, sizeof wk->owner, "conv %zu group norm", p);
        st = emit_groupnorm(wk, c->groupnorm_name, c->out_channels);
    }
    if (st == LM_OK && c->has_time_projection) {
        snprintf(wk->owner, sizeof wk->owner, "conv %zu time projection", p);
        st = emit_linear(wk, c->time_projection_name, temb_ch,
                         c->out_channels, 1);
    }
    return st;
}

static lm_status walk_trunk(walk *wk, const lm_graph *g)
{
    lm_time_embedding_info te = {.size = sizeof te};
    lm_status st = lm_graph_time_embedding(&te, g);
    if (st == LM_OK && te.has_time_embedding) {
        snprintf(wk->owner, sizeof wk->owner, "time embedding dense0");
        st = emit_linear(wk, te.dense0, te.dim, te.channels, 1);
        snprintf(wk->owner, sizeof wk->owner, "time embedding dense1");
        if (st == LM_OK)
            st = emit_linear(wk, te.dense1, te.channels, te.channels, 1);
    }
    for (size_t p = 1; st == LM_OK && p <= lm_graph_conv_count(g); p++) {
        lm_conv_info c = {.size = sizeof c};
        if ((st = lm_graph_conv_info(&c, g, p)) != LM_OK)
            return st;
        snprintf(wk->owner, sizeof wk->owner, "conv %zu", p);
        char where[32];
        snprintf(where, sizeof where, "position %zu", p);
        if ((st = walk_conv_unet(wk, g, p, &c, te.channels)) != LM_OK)
            return st;
        snprintf(wk->owner, sizeof wk->owner, "conv %zu", p);
        if ((st = emit_conv_info(wk, &c)) != LM_OK ||
            (st = walk_layers(wk, g, LM_SITE_POSITION, p, where)) != LM_OK)
            return st;
    }
    return st;
}

static lm_status walk_skips(walk *wk, const lm_graph *g)
{
    for (size_t s = 0; s < lm_graph_skip_count(g); s++) {
        lm_skip_info k = {.size = sizeof k};
        lm_status st = lm_graph_skip_info(&k, g, s);
        if (st != LM_OK)
            return st;
        if (!k.has_projection)
            continue;
        snprintf(wk->owner, sizeof wk->owner, "skip %zu (%zu -> %zu) "
                 "projection", s, k.source, k.target);
        lm_conv_info proj = {.size = sizeof proj};
        if ((st = lm_graph_skip_projection(g, s, &proj)) != LM_OK ||
            (st = emit_conv_info(wk, &proj)) != LM_OK)
            return st;
    }
    return LM_OK;
}

lm_status lm_wneeds_each(const lm_graph *g, lm_wneed_fn fn, void *userdata)
{
    if (!g)
        return lm_err(LM_ERR_INVALID_ARG, "NULL graph");
    if (!lm_graph_is_valid(g))
        return lm_err(LM_ERR_STATE, "graph not validated");
    walk wk = {.fn = fn, .userdata = userdata,
               .name = LM_STRBUF_INIT("tensor name")};
    lm_status st = walk_layers(&wk, g, LM_SITE_STEM, 0, "stem");
    if (st == LM_OK)
        st = walk_trunk(&wk, g);
    if (st == LM_OK)
        st = walk_skips(&wk, g);
    if (st == LM_OK)
        st = walk_layers(&wk, g, LM_SITE_HEAD, 0, "head");
    lm_strbuf_free(&wk.name);
    return st;
}
