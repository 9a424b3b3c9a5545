/* Private: the ONNX exporter's state and the node helpers that
 * onnx_export.c (the graph walk) and onnx_unet.c (the U-Net elements)
 * share. Every helper records the first failure in the builder and
 * returns NULL (or its input) after it, so a walk checks once at the end. */
#ifndef LM_EXPORT_ONNX_EXPORT_INTERNAL_H
#define LM_EXPORT_ONNX_EXPORT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "export/onnx_build.h"
#include "layermerge/graph.h"
#include "layermerge/weights.h"

/* A value of the model: its name and per-image shape (`flat` after
 * Flatten or Gemm: c features). */
typedef struct value {
    const char *name;
    int64_t c, h, w;
    int flat;
} value;

typedef struct exporter {
    lm_onnx_builder b;
    const lm_graph *g;
    const lm_weights *w;
    int keep_bn;
    value temb; /* silu(temb) of a U-Net's timesteps; name NULL without */
} exporter;

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Record `st` as the export's failure (the first one wins); returns it. */
lm_status lm_ox_fail(exporter *x, lm_status st);
/* Tensor `base`.`suffix` of the weights, NULL after a failure. */
const float *lm_ox_tensor(exporter *x, const char *base, const char *suffix);
/* An initializer `base`.`suffix` of `data` (NULL data: NULL). */
const char *lm_ox_param(exporter *x, const char *base, const char *suffix,
                        const int64_t *dims, size_t n_dims,
                        const float *data, int copy);
/* The conv `ci` (its batch norm `bn` folded or kept) on `in`, padded by
 * pads[] = {top, left, bottom, right}. */
value lm_ox_conv(exporter *x, const lm_conv_info *ci, const char *bn,
                 double bn_eps, const value *in, const int64_t pads[4]);
const char *lm_ox_unary(exporter *x, const char *op, const char *in);
const char *lm_ox_binary(exporter *x, const char *op, const char *a,
                         const char *b);
/* A float scalar initializer. */
const char *lm_ox_scalar(exporter *x, const char *stem, float v);
/* An int64 initializer of n values. */
const char *lm_ox_ints(exporter *x, const char *stem, const int64_t *v,
                       size_t n);
/* The activation as the engine computes it. */
const char *lm_ox_activation(exporter *x, lm_act act, const char *in);

/* ---- onnx_unet.c ---------------------------------------------------------- */

/* A U-Net fixed layer (groupnorm, pad, upsample, attention) on v. */
value lm_ox_unet_layer(exporter *x, const lm_layer_info *li, value v);
/* The time embedding silu(temb) of the graph's "timesteps" input, as a
 * value of `channels` features; NULL name when the graph has none. */
value lm_ox_time_embedding(exporter *x);
/* Conv `ci`'s time projection of x->temb added to its output v. */
value lm_ox_time_bias(exporter *x, const lm_conv_info *ci, value v);
/* GroupNorm `name` (groups, eps) of v. */
value lm_ox_groupnorm(exporter *x, const char *name, int64_t groups,
                      double eps, value v);

#endif
