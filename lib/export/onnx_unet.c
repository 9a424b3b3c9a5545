/* The U-Net elements as ONNX nodes (opset 13), each computing what the
 * engine computes (lib/engine/unet.c, norm.c, attention.c, resample.c,
 * timestep.c): the time embedding from a second graph input "timesteps",
 * time projections, GroupNorm (opset 13 has none: InstanceNormalization
 * over the groups of a reshaped tensor, then the affine pair), the DDPM
 * attention block, zero padding and nearest upsampling. */
#include <math.h>
#include <stdio.h>

#include "core/error.h"
#include "engine/kernels.h"
#include "export/onnx_export_internal.h"

static const char *node(exporter *x, const char *op, const char *const *in,
                        size_t n, const lm_onnx_attr *a, size_t n_a)
{
    return lm_onnx_node(&x->b, op, NULL, in, n, NULL, a, n_a);
}

static const char *reshape(exporter *x, const char *in, const int64_t *shape,
                           size_t n)
{
    const char *args[2] = {in, lm_ox_ints(x, "shape", shape, n)};
    return node(x, "Reshape", args, 2, NULL, 0);
}

/* A float initializer of n values owned by the builder, filled by the
 * caller through *data. */
static const char *owned_floats(exporter *x, const char *stem,
                                const int64_t *dims, size_t n_dims, size_t n,
                                float **data)
{
    *data = lm_onnx_alloc(&x->b, n, sizeof **data);
    if (!*data)
        return NULL;
    return lm_onnx_float_tensor(&x->b, lm_onnx_name(&x->b, stem), dims,
                                n_dims, *data, 0);
}

value lm_ox_groupnorm(exporter *x, const char *name, int64_t groups,
                      double eps, value v)
{
    /* InstanceNormalization over (N, G, C/G * H * W): one mean and
     * (biased) variance per image and group, as GroupNorm. */
    int64_t grouped[3] = {0, groups, -1}, back[4] = {0, v.c, v.h, v.w};
    int64_t gdims[1] = {groups}, cdims[3] = {v.c, 1, 1};
    float *one = NULL, *zero = NULL;
    const char *ones = owned_floats(x, "gn_one", gdims, 1, (size_t)groups,
                                    &one);
    const char *zeros = owned_floats(x, "gn_zero", gdims, 1, (size_t)groups,
                                     &zero);
    for (int64_t g = 0; one && zero && g < groups; g++) {
        one[g] = 1.0f;
        zero[g] = 0.0f;
    }
    const char *args[3] = {reshape(x, v.name, grouped, 3), ones, zeros};
    lm_onnx_attr a[] = {{.name = "epsilon", .f = (float)eps, .is_float = 1}};
    const char *normed = reshape(
        x, node(x, "InstanceNormalization", args, 3, a, N_OF(a)), back, 4);
    const char *gamma = lm_ox_param(x, name, "weight", cdims, 3,
                                    lm_ox_tensor(x, name, "weight"), 0);
    const char *beta = lm_ox_param(x, name, "bias", cdims, 3,
                                   lm_ox_tensor(x, name, "bias"), 0);
    v.name = lm_ox_binary(x, "Add", lm_ox_binary(x, "Mul", normed, gamma),
                          beta);
    return v;
}

/* A 1x1 conv with bias named `name`.`part` over c channels. */
static value conv1x1(exporter *x, const char *name, const char *part,
                     const value *in)
{
    char full[512];
    snprintf(full, sizeof full, "%s.%s", name, part);
    lm_conv_info ci = {.size = sizeof ci, .in_channels = in->c,
                       .out_channels = in->c, .kernel = 1, .stride = 1,
                       .groups = 1, .has_bias = 1, .name = full};
    int64_t zero[4] = {0, 0, 0, 0};
    return lm_ox_conv(x, &ci, NULL, 0.0, in, zero);
}

/* y = x + proj_out(h), h[c, i] = sum_j v[c, j] softmax_j(q^T k / sqrt C). */
static value attention(exporter *x, const lm_layer_info *li, value v)
{
    char norm[512];
    snprintf(norm, sizeof norm, "%s.norm", li->name);
    value n = lm_ox_groupnorm(x, norm, li->groups, li->eps, v);
    int64_t flat[3] = {0, v.c, v.h * v.w}, back[4] = {0, v.c, v.h, v.w};
    int64_t swap[3] = {0, 2, 1};
    lm_onnx_attr perm[] = {{.name = "perm", .ints = swap, .n_ints = 3}};
    const char *q = reshape(x, conv1x1(x, li->name, "q", &n).name, flat, 3);
    const char *k = reshape(x, conv1x1(x, li->name, "k", &n).name, flat, 3);
    const char *vv = reshape(x, conv1x1(x, li->name, "v", &n).name, flat, 3);
    const char *qt_args[1] = {q};
    const char *w = lm_ox_binary(
        x, "MatMul", node(x, "Transpose", qt_args, 1, perm, 1), k);
    /* The engine scales by the float of C^-1/2, as PyTorch does. */
    w = lm_ox_binary(x, "Mul", w,
                     lm_ox_scalar(x, "scale", (float)pow((double)v.c, -0.5)));
    const char *sm_args[1] = {w};
    lm_onnx_attr axis[] = {{.name = "axis", .i = -1}};
    w = node(x, "Softmax", sm_args, 1, axis, 1);
    const char *wt_args[1] = {w};
    const char *h = lm_ox_binary(x, "MatMul", vv,
                                 node(x, "Transpose", wt_args, 1, perm, 1));
    value hv = v;
    hv.name = reshape(x, h, back, 4);
    value out = conv1x1(x, li->name, "proj_out", &hv);
    v.name = lm_ox_binary(x, "Add", v.name, out.name);
    return v;
}

value lm_ox_unet_layer(exporter *x, const lm_layer_info *li, value v)
{
    switch (li->kind) {
    case LM_LAYER_GROUPNORM:
        return lm_ox_groupnorm(x, li->name, li->groups, li->eps, v);
    case LM_LAYER_ATTENTION:
        return attention(x, li, v);
    case LM_LAYER_PAD: {
        int64_t pads[8] = {0, 0, li->pad_top, li->pad_left,
                           0, 0, li->pad_bottom, li->pad_right};
        const char *args[2] = {v.name, lm_ox_ints(x, "pads", pads, 8)};
        v.name = node(x, "Pad", args, 2, NULL, 0);
        v.h += li->pad_top + li->pad_bottom;
        v.w += li->pad_left + li->pad_right;
        return v;
    }
    case LM_LAYER_UPSAMPLE: {
        /* out[y][x] = in[floor(y / s)][floor(x / s)]: PyTorch's nearest. */
        int64_t dims[1] = {4};
        float *s = NULL;
        const char *scales = owned_floats(x, "scales", dims, 1, 4, &s);
        if (s) {
            s[0] = s[1] = 1.0f;
            s[2] = s[3] = (float)li->scale;
        }
        const char *args[3] = {v.name, "", scales};
        lm_onnx_attr a[] = {
            {.name = "mode", .s = "nearest"},
            {.name = "coordinate_transformation_mode", .s = "asymmetric"},
            {.name = "nearest_mode", .s = "floor"}};
        v.name = node(x, "Resize", args, 3, a, N_OF(a));
        v.h *= li->scale;
        v.w *= li->scale;
        return v;
    }
    default:
        lm_ox_fail(x, lm_err(LM_ERR_INTERNAL, "onnx export: %s is not a "
                             "U-Net layer", lm_layer_kind_name(li->kind)));
        return v;
    }
}

static const char *silu(exporter *x, const char *in)
{
    return lm_ox_activation(x, LM_ACT_SILU, in);
}

static const char *gemm(exporter *x, const char *in, const char *name,
                        int64_t in_f, int64_t out_f)
{
    int64_t wd[2] = {out_f, in_f}, bd[1] = {out_f};
    const char *args[3] = {
        in, lm_ox_param(x, name, "weight", wd, 2,
                        lm_ox_tensor(x, name, "weight"), 0),
        lm_ox_param(x, name, "bias", bd, 1, lm_ox_tensor(x, name, "bias"),
                    0)};
    lm_onnx_attr a[] = {{.name = "transB", .i = 1}};
    return lm_onnx_node(&x->b, "Gemm", name, args, 3, NULL, a, 1);
}

value lm_ox_time_embedding(exporter *x)
{
    value none = {.name = NULL};
    lm_time_embedding_info te = {.size = sizeof te};
    lm_status st = lm_graph_time_embedding(&te, x->g);
    if (st != LM_OK) {
        lm_ox_fail(x, st);
        return none;
    }
    if (!te.has_time_embedding)
        return none;
    int64_t half = te.dim / 2, fdims[2] = {1, half}, one[1] = {1};
    float *f = NULL;
    const char *freqs = owned_floats(x, "freqs", fdims, 2, (size_t)half, &f);
    for (int64_t i = 0; f && i < half; i++)
        f[i] = lm_ktimestep_freq(half, i);
    const char *un_args[2] = {"timesteps", lm_ox_ints(x, "axes", one, 1)};
    const char *arg = lm_ox_binary(x, "Mul", node(x, "Unsqueeze", un_args, 2,
                                                  NULL, 0),
                                   freqs);
    const char *cat_args[2] = {lm_ox_unary(x, "Sin", arg),
                               lm_ox_unary(x, "Cos", arg)};
    lm_onnx_attr axis[] = {{.name = "axis", .i = 1}};
    const char *s = node(x, "Concat", cat_args, 2, axis, 1);
    const char *h = silu(x, gemm(x, s, te.dense0, te.dim, te.channels));
    value v = {.c = te.channels, .h = 1, .w = 1, .flat = 1};
    v.name = silu(x, gemm(x, h, te.dense1, te.channels, te.channels));
    return v;
}

value lm_ox_time_bias(exporter *x, const lm_conv_info *ci, value v)
{
    if (!x->temb.name) {
        lm_ox_fail(x, lm_err(LM_ERR_INTERNAL, "onnx export: conv %s has a "
                             "time projection but no time embedding",
                             ci->name ? ci->name : "(unnamed)"));
        return v;
    }
    int64_t axes[2] = {2, 3};
    const char *args[2] = {gemm(x, x->temb.name, ci->time_projection_name,
                                x->temb.c, ci->out_channels),
                           lm_ox_ints(x, "axes", axes, 2)};
    v.name = lm_ox_binary(x, "Add", v.name, node(x, "Unsqueeze", args, 2,
                                                 NULL, 0));
    return v;
}
