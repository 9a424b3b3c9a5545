/* A graph and its weights as an ONNX model (docs/export.md). The walk
 * mirrors the engine's forward pass (lib/engine/run.c) step by step —
 * stem, then per position conv, skips added, activation, fixed layers,
 * then head — so the model computes what the engine computes. Shapes are
 * derived with the engine's rules. Only the graph's own network is
 * exported, never a fine-tuning plan: a validated graph's skips meet their
 * targets exactly, so the engine's centred adds are not needed here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/record.h"
#include "export/onnx_build.h"
#include "export/onnx_export_internal.h"
#include "graph/graph_query.h"
#include "layermerge/export.h"
#include "netmerge/netmerge_internal.h"


lm_status lm_ox_fail(exporter *x, lm_status st)
{
    if (x->b.status == LM_OK)
        x->b.status = st;
    return x->b.status;
}

/* Tensor `base`.`suffix` of the weights (shapes were checked against the
 * graph by lm_weights_check_graph before the walk). */
const float *lm_ox_tensor(exporter *x, const char *base, const char *suffix)
{
    char name[600];
    const float *data = NULL;
    size_t n = 0;
    if (x->b.status != LM_OK)
        return NULL;
    snprintf(name, sizeof name, "%s.%s", base, suffix);
    lm_status st = lm_weights_data_f32(&data, &n, x->w, name);
    if (st != LM_OK) {
        lm_ox_fail(x, st);
        return NULL;
    }
    return data;
}

const char *lm_ox_param(exporter *x, const char *base, const char *suffix,
                         const int64_t *dims, size_t n_dims,
                         const float *data, int copy)
{
    char name[600];
    snprintf(name, sizeof name, "%s.%s", base, suffix);
    return data ? lm_onnx_float_tensor(&x->b, name, dims, n_dims, data, copy)
                : NULL;
}

static const char *batchnorm(exporter *x, const char *bn, double eps,
                             int64_t channels, const char *in)
{
    int64_t dims[1] = {channels};
    const char *args[5] = {
        in,
        lm_ox_param(x, bn, "weight", dims, 1, lm_ox_tensor(x, bn, "weight"), 0),
        lm_ox_param(x, bn, "bias", dims, 1, lm_ox_tensor(x, bn, "bias"), 0),
        lm_ox_param(x, bn, "running_mean", dims, 1, lm_ox_tensor(x, bn, "running_mean"),
              0),
        lm_ox_param(x, bn, "running_var", dims, 1, lm_ox_tensor(x, bn, "running_var"), 0),
    };
    lm_onnx_attr a[] = {{.name = "epsilon", .f = (float)eps, .is_float = 1}};
    return lm_onnx_node(&x->b, "BatchNormalization", bn, args, N_OF(args),
                        NULL, a, N_OF(a));
}

/* The conv `ci` (with batch norm `bn` after it, or NULL) on `in`, padded
 * by pads[] = {top, left, bottom, right}; in->c etc. give the input. */
value lm_ox_conv(exporter *x, const lm_conv_info *ci, const char *bn,
                  double bn_eps, const value *in, const int64_t pads[4])
{
    int64_t cout = ci->out_channels, k = ci->kernel, s = ci->stride;
    int64_t dims[4] = {cout, ci->in_channels / ci->groups, k, k};
    size_t per = (size_t)(dims[1] * k * k);
    const char *wname = NULL, *bname = NULL;
    int64_t bdims[1] = {cout};
    if (bn && !x->keep_bn) {
        /* Folded as the merge folds (lm_nm_fold); the copies become the
         * model's. */
        lm_nm_folded f = {NULL, NULL};
        lm_status st = x->b.status == LM_OK
                           ? lm_nm_fold(&f, x->w, ci->name, ci->has_bias,
                                        (size_t)cout, per, bn, bn_eps)
                           : x->b.status;
        if (st != LM_OK)
            lm_ox_fail(x, st);
        /* adopt frees what it cannot keep; the error is then set */
        if (!lm_onnx_adopt(&x->b, f.weight))
            f.weight = NULL;
        if (!lm_onnx_adopt(&x->b, f.bias))
            f.bias = NULL;
        wname = lm_ox_param(x, ci->name, "weight", dims, 4, f.weight, 0);
        bname = lm_ox_param(x, ci->name, "bias", bdims, 1, f.bias, 0);
    } else {
        const float *wt = lm_ox_tensor(x, ci->name, "weight");
        const float *bias = ci->has_bias ? lm_ox_tensor(x, ci->name, "bias")
                                         : NULL;
        wname = lm_ox_param(x, ci->name, "weight", dims, 4, wt, 0);
        if (bias)
            bname = lm_ox_param(x, ci->name, "bias", bdims, 1, bias, 0);
    }
    int64_t kernel[2] = {k, k}, strides[2] = {s, s}, dil[2] = {1, 1};
    int64_t onnx_pads[4] = {pads[0], pads[1], pads[2], pads[3]};
    lm_onnx_attr a[] = {
        {.name = "kernel_shape", .ints = kernel, .n_ints = 2},
        {.name = "strides", .ints = strides, .n_ints = 2},
        {.name = "pads", .ints = onnx_pads, .n_ints = 4},
        {.name = "dilations", .ints = dil, .n_ints = 2},
        {.name = "group", .i = ci->groups},
    };
    const char *args[3] = {in->name, wname, bname};
    value out = {.c = cout, .h = (in->h + pads[0] + pads[2] - k) / s + 1,
                 .w = (in->w + pads[1] + pads[3] - k) / s + 1};
    out.name = lm_onnx_node(&x->b, "Conv", ci->name, args, bname ? 3 : 2,
                            NULL, a, N_OF(a));
    if (bn && x->keep_bn)
        out.name = batchnorm(x, bn, bn_eps, cout, out.name);
    return out;
}

const char *lm_ox_unary(exporter *x, const char *op, const char *in)
{
    const char *args[1] = {in};
    return lm_onnx_node(&x->b, op, NULL, args, 1, NULL, NULL, 0);
}

const char *lm_ox_binary(exporter *x, const char *op, const char *a,
                          const char *b)
{
    const char *args[2] = {a, b};
    return lm_onnx_node(&x->b, op, NULL, args, 2, NULL, NULL, 0);
}

const char *lm_ox_scalar(exporter *x, const char *stem, float v)
{
    float *data = lm_onnx_alloc(&x->b, 1, sizeof *data);
    if (!data)
        return NULL;
    *data = v;
    return lm_onnx_float_tensor(&x->b, lm_onnx_name(&x->b, stem), NULL, 0,
                                data, 0);
}

/* The activation as the engine computes it (lib/engine/ops.c). */
const char *lm_ox_activation(exporter *x, lm_act act, const char *in)
{
    switch (act) {
    case LM_ACT_IDENTITY:
        return in;
    case LM_ACT_RELU:
        return lm_ox_unary(x, "Relu", in);
    case LM_ACT_RELU6: {
        const char *args[3] = {in, lm_ox_scalar(x, "zero", 0.0f),
                               lm_ox_scalar(x, "six", 6.0f)};
        return lm_onnx_node(&x->b, "Clip", NULL, args, 3, NULL, NULL, 0);
    }
    case LM_ACT_SILU:
        return lm_ox_binary(x, "Mul", in, lm_ox_unary(x, "Sigmoid", in));
    case LM_ACT_GELU: { /* the erf form: x/2 (1 + erf(x / sqrt 2)) */
        const char *e = lm_ox_unary(x, "Erf", lm_ox_binary(x, "Mul", in,
                                               lm_ox_scalar(x, "rsqrt2",
                                                      0.70710678118654752f)));
        const char *h = lm_ox_binary(x, "Mul", in, lm_ox_scalar(x, "half", 0.5f));
        return lm_ox_binary(x, "Mul", h, lm_ox_binary(x, "Add", e,
                                           lm_ox_scalar(x, "one", 1.0f)));
    }
    case LM_ACT_HARDSWISH: { /* x relu6(x + 3) / 6 = x hardsigmoid(x) */
        const char *args[1] = {in};
        lm_onnx_attr a[] = {{.name = "alpha", .f = 1.0f / 6.0f, .is_float = 1},
                            {.name = "beta", .f = 0.5f, .is_float = 1}};
        return lm_ox_binary(x, "Mul", in,
                      lm_onnx_node(&x->b, "HardSigmoid", NULL, args, 1, NULL,
                                   a, N_OF(a)));
    }
    case LM_ACT_SIGMOID:
        return lm_ox_unary(x, "Sigmoid", in);
    case LM_ACT_TANH:
        return lm_ox_unary(x, "Tanh", in);
    }
    lm_ox_fail(x, lm_err(LM_ERR_INVALID_ARG, "activation %d has no ONNX form",
                   (int)act));
    return NULL;
}

const char *lm_ox_ints(exporter *x, const char *stem, const int64_t *v,
                        size_t n)
{
    return lm_onnx_int64_tensor(&x->b, lm_onnx_name(&x->b, stem), v, n);
}

/* Skip i's term: its source, through its 1x1 projection when it has one
 * (a validated graph's skips meet their targets' shapes exactly). */
static value skip_term(exporter *x, size_t i, const value *src)
{
    lm_skip_info si = {.size = sizeof si};
    lm_conv_info pi = {.size = sizeof pi};
    lm_status st = lm_graph_skip_info(&si, x->g, i);
    if (st == LM_OK && !si.has_projection)
        return *src;
    if (st == LM_OK)
        st = lm_graph_skip_projection(x->g, i, &pi);
    if (st != LM_OK) {
        lm_ox_fail(x, st);
        return *src;
    }
    int64_t zero[4] = {0, 0, 0, 0};
    return lm_ox_conv(x, &pi, pi.has_bn ? pi.bn_name : NULL, pi.bn_eps, src, zero);
}

/* Adaptive average pooling to oh x ow, as lm_kadaptive_avgpool: a global
 * pool, nothing, an AveragePool when the bins tile the input, else the
 * pooling as a matrix product (it is linear), which is exact for any
 * bins. */
static value adaptive_pool(exporter *x, value v, int64_t oh, int64_t ow)
{
    value out = v;
    out.h = oh;
    out.w = ow;
    if (oh == 1 && ow == 1) {
        out.name = lm_ox_unary(x, "GlobalAveragePool", v.name);
        return out;
    }
    if (oh == v.h && ow == v.w)
        return v;
    if (v.h % oh == 0 && v.w % ow == 0) {
        int64_t k[2] = {v.h / oh, v.w / ow}, zero[4] = {0, 0, 0, 0};
        const char *args[1] = {v.name};
        lm_onnx_attr a[] = {{.name = "kernel_shape", .ints = k, .n_ints = 2},
                            {.name = "strides", .ints = k, .n_ints = 2},
                            {.name = "pads", .ints = zero, .n_ints = 4}};
        out.name = lm_onnx_node(&x->b, "AveragePool", NULL, args, 1, NULL, a,
                                N_OF(a));
        return out;
    }
    size_t hw = (size_t)(v.h * v.w), ohw = (size_t)(oh * ow);
    float *m = lm_onnx_alloc(&x->b, hw * ohw, sizeof *m);
    if (!m)
        return out;
    for (int64_t oy = 0; oy < oh; oy++) {
        int64_t y0 = oy * v.h / oh, y1 = ((oy + 1) * v.h + oh - 1) / oh;
        for (int64_t ox = 0; ox < ow; ox++) {
            int64_t x0 = ox * v.w / ow, x1 = ((ox + 1) * v.w + ow - 1) / ow;
            float inv = 1.0f / (float)((y1 - y0) * (x1 - x0));
            for (int64_t y = y0; y < y1; y++)
                for (int64_t xx = x0; xx < x1; xx++)
                    m[(size_t)(y * v.w + xx) * ohw + (size_t)(oy * ow + ox)] =
                        inv;
        }
    }
    int64_t mdims[2] = {(int64_t)hw, (int64_t)ohw};
    int64_t s1[3] = {0, v.c, (int64_t)hw}, s2[4] = {0, v.c, oh, ow};
    const char *flat_args[2] = {v.name, lm_ox_ints(x, "shape", s1, 3)};
    const char *flat = lm_onnx_node(&x->b, "Reshape", NULL, flat_args, 2,
                                    NULL, NULL, 0);
    const char *pooled = lm_ox_binary(
        x, "MatMul", flat,
        lm_onnx_float_tensor(&x->b, lm_onnx_name(&x->b, "adaptive_pool"),
                             mdims, 2, m, 0));
    const char *back_args[2] = {pooled, lm_ox_ints(x, "shape", s2, 4)};
    out.name = lm_onnx_node(&x->b, "Reshape", NULL, back_args, 2, NULL, NULL,
                            0);
    return out;
}

static value flatten(exporter *x, value v)
{
    if (v.flat)
        return v;
    const char *args[1] = {v.name};
    lm_onnx_attr a[] = {{.name = "axis", .i = 1}};
    value out = {.c = v.c * v.h * v.w, .h = 1, .w = 1, .flat = 1};
    out.name = lm_onnx_node(&x->b, "Flatten", NULL, args, 1, NULL, a, 1);
    return out;
}

static value pool(exporter *x, const lm_layer_info *li, value v)
{
    int64_t k[2] = {li->kernel, li->kernel}, s[2] = {li->stride, li->stride};
    int64_t p[4] = {li->padding, li->padding, li->padding, li->padding};
    int is_max = li->kind == LM_LAYER_MAXPOOL;
    lm_onnx_attr a[] = {{.name = "kernel_shape", .ints = k, .n_ints = 2},
                        {.name = "strides", .ints = s, .n_ints = 2},
                        {.name = "pads", .ints = p, .n_ints = 4},
                        /* the engine divides by k*k at the border too */
                        {.name = "count_include_pad", .i = 1}};
    const char *args[1] = {v.name};
    v.name = lm_onnx_node(&x->b, is_max ? "MaxPool" : "AveragePool", li->name,
                          args, 1, NULL, a, is_max ? 3 : 4);
    v.h = (v.h + 2 * li->padding - li->kernel) / li->stride + 1;
    v.w = (v.w + 2 * li->padding - li->kernel) / li->stride + 1;
    return v;
}

static value linear(exporter *x, const lm_layer_info *li, value v)
{
    v = flatten(x, v);
    int64_t wd[2] = {li->out_channels, li->in_channels};
    int64_t bd[1] = {li->out_channels};
    const char *args[3] = {
        v.name, lm_ox_param(x, li->name, "weight", wd, 2,
                      lm_ox_tensor(x, li->name, "weight"), 0),
        li->has_bias ? lm_ox_param(x, li->name, "bias", bd, 1,
                             lm_ox_tensor(x, li->name, "bias"), 0)
                     : NULL};
    lm_onnx_attr a[] = {{.name = "transB", .i = 1}};
    v.name = lm_onnx_node(&x->b, "Gemm", li->name, args, li->has_bias ? 3 : 2,
                          NULL, a, 1);
    v.c = li->out_channels;
    return v;
}

static lm_conv_info layer_conv(const lm_layer_info *li)
{
    return (lm_conv_info){.size = sizeof(lm_conv_info),
                          .in_channels = li->in_channels,
                          .out_channels = li->out_channels,
                          .kernel = li->kernel, .stride = li->stride,
                          .padding = li->padding, .groups = li->groups,
                          .has_bias = li->has_bias, .name = li->name};
}

/* The fixed layers of a site, as the engine builds them: a conv directly
 * followed by a batch norm over its output takes that batch norm. */
static value site_layers(exporter *x, lm_site site, size_t pos, value v)
{
    size_t n = lm_graph_layer_count(x->g, site, pos);
    for (size_t i = 0; i < n && x->b.status == LM_OK; i++) {
        lm_layer_info li = {.size = sizeof li}, next = {.size = sizeof next};
        lm_status st = lm_graph_layer_info(&li, x->g, site, pos, i);
        if (st != LM_OK) {
            lm_ox_fail(x, st);
            break;
        }
        switch (li.kind) {
        case LM_LAYER_CONV: {
            const char *bn = NULL;
            double eps = 0.0;
            if (i + 1 < n &&
                lm_graph_layer_info(&next, x->g, site, pos, i + 1) == LM_OK &&
                next.kind == LM_LAYER_BATCHNORM &&
                next.in_channels == li.out_channels) {
                bn = next.name;
                eps = next.eps;
                i++;
            }
            lm_conv_info ci = layer_conv(&li);
            int64_t p = li.padding, pads[4] = {p, p, p, p};
            v = lm_ox_conv(x, &ci, bn, eps, &v, pads);
            break;
        }
        case LM_LAYER_BATCHNORM:
            v.name = batchnorm(x, li.name, li.eps, li.in_channels, v.name);
            break;
        case LM_LAYER_ACT:
            v.name = lm_ox_activation(x, li.act, v.name);
            break;
        case LM_LAYER_MAXPOOL:
        case LM_LAYER_AVGPOOL:
            v = pool(x, &li, v);
            break;
        case LM_LAYER_ADAPTIVE_AVGPOOL:
            v = adaptive_pool(x, v, li.out_height, li.out_width);
            break;
        case LM_LAYER_FLATTEN:
            v = flatten(x, v);
            break;
        case LM_LAYER_LINEAR:
            v = linear(x, &li, v);
            break;
        case LM_LAYER_GROUPNORM:
        case LM_LAYER_PAD:
        case LM_LAYER_UPSAMPLE:
        case LM_LAYER_ATTENTION:
            v = lm_ox_unet_layer(x, &li, v);
            break;
        }
    }
    return v;
}

/* The concatenations into position p appended to v, in skip order. */
static value concat_into(exporter *x, const value *pos, size_t p, value v)
{
    for (size_t i = 0; i < lm_graph_skip_count(x->g); i++) {
        lm_skip_info si = {.size = sizeof si};
        lm_status st = lm_graph_skip_info(&si, x->g, i);
        if (st != LM_OK) {
            lm_ox_fail(x, st);
            return v;
        }
        if (!si.is_concat || si.target != p)
            continue;
        const char *args[2] = {v.name, pos[si.source].name};
        lm_onnx_attr a[] = {{.name = "axis", .i = 1}};
        v.name = lm_onnx_node(&x->b, "Concat", NULL, args, 2, NULL, a, 1);
        v.c += pos[si.source].c;
    }
    return v;
}

/* Position p: its conv (through its pre layers), its time projection, the
 * skips into it, its GroupNorm and activation, its layers, the
 * concatenations into it. */
static value trunk_step(exporter *x, const value *pos, size_t p)
{
    lm_conv_info ci = {.size = sizeof ci};
    lm_status st = lm_graph_conv_info(&ci, x->g, p);
    if (st != LM_OK) {
        lm_ox_fail(x, st);
        return pos[p - 1];
    }
    int64_t pad = ci.padding, pads[4] = {pad, pad, pad, pad};
    value in = site_layers(x, LM_SITE_PRE, p, pos[p - 1]);
    value v = lm_ox_conv(x, &ci, ci.has_bn ? ci.bn_name : NULL, ci.bn_eps,
                         &in, pads);
    if (ci.has_time_projection)
        v = lm_ox_time_bias(x, &ci, v);
    for (size_t i = 0; i < lm_graph_skip_count(x->g); i++) {
        lm_skip_info si = {.size = sizeof si};
        if ((st = lm_graph_skip_info(&si, x->g, i)) != LM_OK) {
            lm_ox_fail(x, st);
            return v;
        }
        if (si.target != p || si.is_concat)
            continue;
        value term = skip_term(x, i, &pos[si.source]);
        v.name = lm_ox_binary(x, "Add", v.name, term.name);
    }
    lm_act act = lm_graph_position_act(x->g, p);
    if (ci.has_groupnorm && act != LM_ACT_IDENTITY)
        v = lm_ox_groupnorm(x, ci.groupnorm_name, ci.groupnorm_groups,
                            ci.groupnorm_eps, v);
    v.name = lm_ox_activation(x, act, v.name);
    v = site_layers(x, LM_SITE_POSITION, p, v);
    return concat_into(x, pos, p, v);
}

static lm_status check_options(const lm_onnx_options *o, size_t n_convs,
                               size_t *batch, int64_t *opset)
{
    *batch = 1;
    *opset = 13;
    if (!o)
        return LM_OK;
    lm_status st = lm_record_check(o, sizeof *o, "lm_graph_write_onnx "
                                   "options");
    if (st != LM_OK)
        return st;
    if (o->batch > LM_BATCH_MAX)
        return lm_err(LM_ERR_INVALID_ARG, "lm_graph_write_onnx: batch %zu "
                      "is above %zu", o->batch, LM_BATCH_MAX);
    if (o->opset != 0 && (o->opset < 13 || o->opset > 17))
        return lm_err(LM_ERR_INVALID_ARG, "lm_graph_write_onnx: opset %lld "
                      "is not in 13..17", (long long)o->opset);
    if (o->prefix && o->prefix_end > n_convs)
        return lm_err(LM_ERR_INVALID_ARG, "lm_graph_write_onnx: prefix_end "
                      "%zu is past the last position %zu", o->prefix_end,
                      n_convs);
    if (o->batch)
        *batch = o->batch;
    if (o->opset)
        *opset = o->opset;
    return LM_OK;
}

lm_status lm_graph_write_onnx(const lm_graph *graph,
                              const lm_weights *weights,
                              const lm_onnx_options *options,
                              lm_write_fn write, void *userdata)
{
    if (!graph || !weights || !write)
        return lm_err(LM_ERR_INVALID_ARG, "lm_graph_write_onnx: NULL "
                      "argument");
    size_t batch = 1;
    int64_t opset = 13;
    lm_status st = check_options(options, lm_graph_conv_count(graph), &batch,
                                 &opset);
    if (st != LM_OK)
        return st;
    if (!lm_graph_is_valid(graph))
        return lm_err(LM_ERR_STATE, "lm_graph_write_onnx: the graph is not "
                      "validated (lm_graph_validate)");
    if ((st = lm_weights_check_graph(weights, graph)) != LM_OK)
        return st;
    exporter x = {.g = graph, .w = weights,
                  .keep_bn = options && options->keep_batchnorm};
    lm_onnx_builder_init(&x.b);
    size_t n = lm_graph_conv_count(graph);
    value *pos = calloc(n + 1, sizeof *pos);
    if (!pos)
        return lm_err_nomem();
    int64_t dim0 = options && options->dynamic_batch ? -1 : (int64_t)batch;
    value in = {.name = "input"};
    lm_graph_input_chw(graph, &in.c, &in.h, &in.w);
    int64_t in_dims[4] = {dim0, in.c, in.h, in.w};
    lm_onnx_graph_value(&x.b, 1, "input", in_dims, 4);
    /* A denoiser's second input: a timestep per image. */
    x.temb = lm_ox_time_embedding(&x);
    if (x.temb.name)
        lm_onnx_graph_value(&x.b, 1, "timesteps", &dim0, 1);
    int prefix = options && options->prefix;
    size_t last = prefix ? options->prefix_end : n;
    pos[0] = site_layers(&x, LM_SITE_STEM, 0, in);
    for (size_t p = 1; p <= last && x.b.status == LM_OK; p++)
        pos[p] = trunk_step(&x, pos, p);
    value out = prefix ? pos[last] : site_layers(&x, LM_SITE_HEAD, 0, pos[n]);
    const char *args[1] = {out.name};
    lm_onnx_node(&x.b, "Identity", "output", args, 1, "output", NULL, 0);
    int64_t flat_dims[2] = {dim0, out.c}, map_dims[4] = {dim0, out.c, out.h,
                                                         out.w};
    lm_onnx_graph_value(&x.b, 0, "output", out.flat ? flat_dims : map_dims,
                        out.flat ? 2 : 4);
    lm_onnx_metadata(&x.b, "layermerge.graph", lm_graph_name(graph));
    lm_onnx_metadata(&x.b, "layermerge.fingerprint",
                     lm_graph_fingerprint(graph));
    lm_onnx_metadata(&x.b, "layermerge.batchnorm",
                     x.keep_bn ? "kept" : "folded");
    char doc[400];
    snprintf(doc, sizeof doc, "%s, exported by liblayermerge",
             lm_graph_name(graph));
    st = lm_onnx_write(&x.b, lm_graph_name(graph), doc, opset, write,
                       userdata);
    if (st != LM_OK && x.b.status == LM_OK)
        st = lm_err_prefix(st, "exporting %s as ONNX: ", lm_graph_name(graph));
    free(pos);
    lm_onnx_builder_free(&x.b);
    return st;
}

/* lm_atomic_save's writer: the model through fwrite. */
typedef struct save_job {
    const lm_graph *graph;
    const lm_weights *weights;
    const lm_onnx_options *options;
} save_job;

static int to_file(const void *data, size_t len, void *fp)
{
    return fwrite(data, 1, len, fp) == len ? 0 : -1;
}

static lm_status write_job(FILE *fp, const void *obj)
{
    const save_job *j = obj;
    return lm_graph_write_onnx(j->graph, j->weights, j->options, to_file, fp);
}

lm_status lm_graph_save_onnx(const lm_graph *graph, const lm_weights *weights,
                             const lm_onnx_options *options, const char *path)
{
    if (!path)
        return lm_err(LM_ERR_INVALID_ARG, "lm_graph_save_onnx: NULL path");
    save_job j = {graph, weights, options};
    return lm_atomic_save(path, "the ONNX model", write_job, &j);
}
