/* Copying fixed layers and their tensors into the merged network:
 * unchanged, but for a fixed conv and the batch norm after it, which become
 * one conv. */
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/strbuf.h"
#include "netmerge/netmerge_internal.h"

lm_status lm_nm_copy_tensor(lm_weights *dst, const lm_weights *src,
                            const char *name, const char *suffix)
{
    lm_strbuf full = LM_STRBUF_INIT("tensor name");
    int64_t dims[8];
    size_t ndim = 0, n = 0;
    const float *data = NULL;
    lm_status st = lm_strbuf_setf(&full, "%s%s", name, suffix);
    if (st == LM_OK)
        st = lm_weights_shape(&ndim, dims, 8, src, full.s);
    if (st == LM_OK)
        st = lm_weights_data_f32(&data, &n, src, full.s);
    if (st == LM_OK)
        st = lm_weights_set_f32(dst, full.s, dims, ndim, data);
    lm_strbuf_free(&full);
    return st;
}

static lm_status copy_bn_tensors(lm_weights *dw, const lm_weights *sw,
                                 const char *name)
{
    static const char *const parts[] = {".weight", ".bias", ".running_mean",
                                        ".running_var"};
    lm_status st = LM_OK;
    for (size_t i = 0; i < 4 && st == LM_OK; i++)
        st = lm_nm_copy_tensor(dw, sw, name, parts[i]);
    return st;
}

/* An attention block's name.norm, name.q, .k, .v and .proj_out. */
static lm_status copy_attention_tensors(lm_weights *dw, const lm_weights *sw,
                                        const char *name)
{
    static const char *const parts[] = {
        ".norm.weight", ".norm.bias", ".q.weight", ".q.bias", ".k.weight",
        ".k.bias", ".v.weight", ".v.bias", ".proj_out.weight",
        ".proj_out.bias"};
    lm_status st = LM_OK;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0] && st == LM_OK; i++)
        st = lm_nm_copy_tensor(dw, sw, name, parts[i]);
    return st;
}

static lm_status copy_layer_tensors(lm_weights *dw, const lm_weights *sw,
                                    const lm_layer_info *li)
{
    if (li->kind == LM_LAYER_BATCHNORM)
        return copy_bn_tensors(dw, sw, li->name);
    if (li->kind == LM_LAYER_ATTENTION)
        return copy_attention_tensors(dw, sw, li->name);
    if (li->kind == LM_LAYER_GROUPNORM) {
        lm_status st = lm_nm_copy_tensor(dw, sw, li->name, ".weight");
        return st == LM_OK ? lm_nm_copy_tensor(dw, sw, li->name, ".bias")
                           : st;
    }
    if (li->kind != LM_LAYER_CONV && li->kind != LM_LAYER_LINEAR)
        return LM_OK;
    lm_status st = lm_nm_copy_tensor(dw, sw, li->name, ".weight");
    if (st == LM_OK && li->has_bias)
        st = lm_nm_copy_tensor(dw, sw, li->name, ".bias");
    return st;
}

static lm_status add_layer(lm_graph *g, lm_site site, size_t pos,
                           const lm_layer_info *li)
{
    switch (li->kind) {
    case LM_LAYER_CONV:
        return lm_graph_add_layer_conv(
            g, site, pos,
            &(lm_conv_desc){.size = sizeof(lm_conv_desc),
                            .name = li->name,
                            .in_channels = li->in_channels,
                            .out_channels = li->out_channels,
                            .kernel = li->kernel,
                            .stride = li->stride,
                            .padding = li->padding,
                            .groups = li->groups,
                            .has_bias = li->has_bias});
    case LM_LAYER_BATCHNORM:
        return lm_graph_add_layer_batchnorm(g, site, pos, li->name,
                                            li->in_channels, li->eps);
    case LM_LAYER_ACT:
        return lm_graph_add_layer_act(g, site, pos, li->act);
    case LM_LAYER_MAXPOOL:
    case LM_LAYER_AVGPOOL:
        return lm_graph_add_layer_pool(g, site, pos, li->kind, li->kernel,
                                       li->stride, li->padding);
    case LM_LAYER_ADAPTIVE_AVGPOOL:
        return lm_graph_add_layer_adaptive_avgpool(g, site, pos,
                                                   li->out_height,
                                                   li->out_width);
    case LM_LAYER_FLATTEN:
        return lm_graph_add_layer_flatten(g, site, pos);
    case LM_LAYER_LINEAR:
        return lm_graph_add_layer_linear(g, site, pos, li->name,
                                         li->in_channels, li->out_channels,
                                         li->has_bias);
    case LM_LAYER_GROUPNORM:
        return lm_graph_add_layer_groupnorm(g, site, pos, li->name,
                                            li->in_channels, li->groups,
                                            li->eps);
    case LM_LAYER_ATTENTION:
        return lm_graph_add_layer_attention(g, site, pos, li->name,
                                            li->in_channels, li->groups,
                                            li->eps);
    case LM_LAYER_PAD:
        return lm_graph_add_layer_pad(g, site, pos, li->pad_top,
                                      li->pad_left, li->pad_bottom,
                                      li->pad_right);
    case LM_LAYER_UPSAMPLE:
        return lm_graph_add_layer_upsample(g, site, pos, li->scale);
    }
    return lm_err(LM_ERR_UNSUPPORTED, "layer kind %d cannot be copied",
                  (int)li->kind);
}

lm_status lm_nm_copy_layer(lm_graph *dst, lm_weights *dw,
                           const lm_weights *sw, lm_site site,
                           size_t position, const lm_layer_info *li)
{
    lm_status st = add_layer(dst, site, position, li);
    if (st == LM_OK)
        st = copy_layer_tensors(dw, sw, li);
    return st;
}

static const char *site_name(lm_site site)
{
    return site == LM_SITE_STEM   ? "stem"
           : site == LM_SITE_HEAD ? "head"
           : site == LM_SITE_PRE  ? "pre"
                                  : "position";
}

/* Fixed conv `conv` followed at its site by batch norm `bn` over its
 * outputs: one conv with bias under a fresh name, the batch norm folded
 * with its own eps. */
static lm_status fold_layers(lm_graph *dst, lm_weights *dw,
                             const lm_weights *sw, lm_site site, size_t from,
                             size_t to, size_t index,
                             const lm_layer_info *conv,
                             const lm_layer_info *bn)
{
    lm_strbuf base = LM_STRBUF_INIT("merged layer name");
    lm_strbuf name = LM_STRBUF_INIT("merged layer name");
    lm_strbuf origin = LM_STRBUF_INIT("merged module origin");
    lm_nm_folded f = {NULL, NULL};
    size_t out = (size_t)conv->out_channels;
    size_t per = (size_t)(conv->in_channels / conv->groups * conv->kernel *
                          conv->kernel);
    lm_status st;
    if (conv->name)
        st = lm_strbuf_setf(&base, "merged.%s", conv->name);
    else if (site == LM_SITE_POSITION)
        st = lm_strbuf_setf(&base, "merged.position%zu.%zu", from, index);
    else
        st = lm_strbuf_setf(&base, "merged.%s.%zu", site_name(site), index);
    if (st == LM_OK)
        st = lm_nm_fresh_name(&name, sw, dw, base.s);
    if (st == LM_OK)
        st = lm_nm_fold(&f, sw, conv->name, conv->has_bias, out, per,
                        bn->name, bn->eps);
    if (st == LM_OK)
        st = lm_graph_add_layer_conv(
            dst, site, to,
            &(lm_conv_desc){.size = sizeof(lm_conv_desc),
                            .name = name.s,
                            .in_channels = conv->in_channels,
                            .out_channels = conv->out_channels,
                            .kernel = conv->kernel,
                            .stride = conv->stride,
                            .padding = conv->padding,
                            .groups = conv->groups,
                            .has_bias = 1});
    int64_t shape[4] = {conv->out_channels, conv->in_channels / conv->groups,
                        conv->kernel, conv->kernel};
    if (st == LM_OK)
        st = lm_nm_write_conv(dw, name.s, shape, f.weight, f.bias);
    lm_nm_from_add(&origin, conv->name);
    lm_nm_from_add(&origin, bn->name);
    if (st == LM_OK)
        st = lm_nm_note_origin(dw, name.s, &origin);
    lm_nm_folded_free(&f);
    lm_strbuf_free(&base);
    lm_strbuf_free(&name);
    lm_strbuf_free(&origin);
    return st;
}

lm_status lm_nm_copy_site(lm_graph *dst, lm_weights *dw, const lm_graph *g,
                          const lm_weights *sw, lm_site site, size_t from,
                          size_t to)
{
    size_t n = lm_graph_layer_count(g, site, from);
    for (size_t i = 0; i < n; i++) {
        lm_layer_info li = {.size = sizeof li};
        lm_layer_info next = {.size = sizeof next};
        lm_status st = lm_graph_layer_info(&li, g, site, from, i);
        int fold = 0;
        if (st == LM_OK && li.kind == LM_LAYER_CONV && i + 1 < n) {
            st = lm_graph_layer_info(&next, g, site, from, i + 1);
            fold = st == LM_OK && next.kind == LM_LAYER_BATCHNORM &&
                   next.in_channels == li.out_channels;
        }
        if (st == LM_OK && fold)
            st = fold_layers(dst, dw, sw, site, from, to, i, &li, &next);
        else if (st == LM_OK)
            st = lm_nm_copy_layer(dst, dw, sw, site, to, &li);
        if (st != LM_OK)
            return lm_err_prefix(st, "copying %s layer %zu (%s): ",
                                 site_name(site), i,
                                 lm_layer_kind_name(li.kind));
        i += (size_t)fold;
    }
    return LM_OK;
}
