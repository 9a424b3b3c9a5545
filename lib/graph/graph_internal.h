/* Private: the graph's storage, shared by the files of lib/graph. */
#ifndef LM_GRAPH_INTERNAL_H
#define LM_GRAPH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "layermerge/graph.h"

/* A fixed layer; fields that do not apply to its kind stay 0. */
typedef struct lm_glayer {
    lm_layer_kind kind;
    lm_act act;
    int64_t in, out, kernel, stride, padding, groups, out_h, out_w;
    int64_t pad_t, pad_l, pad_b, pad_r, scale; /* LM_LAYER_PAD, UPSAMPLE */
    int has_bias;
    double eps;
    char *name;
} lm_glayer;

typedef struct lm_gshape {
    int64_t c, h, w;
} lm_gshape;

typedef struct lm_glist {
    lm_glayer *items;
    size_t n, cap;
} lm_glist;

/* A trunk conv or a skip projection (projections derive in/out/kernel).
 * The U-Net fields (pre layers, GroupNorm, time projection) are trunk
 * only. */
typedef struct lm_gconv {
    int64_t in, out, kernel, stride, padding, groups;
    int has_bias;
    int has_bn;
    double bn_eps;
    char *name;
    char *bn_name;
    lm_glist pre;      /* LM_SITE_PRE: applied to what this conv reads */
    int has_gn;        /* GroupNorm tied to the position's activation */
    int64_t gn_groups;
    double gn_eps;
    char *gn_name;
    int has_tproj;     /* time projection added after the bias */
    char *tproj_name;
    lm_gshape reads;   /* validated: its input after the pre layers */
} lm_gconv;

typedef struct lm_gskip {
    size_t source, target;
    int concat; /* 1: concatenated at target, never projected */
    int has_proj;
    lm_gconv proj;
} lm_gskip;

/* Position p: the activation of c_p (identity for p = 0), its flags, its
 * fixed layers and, once validated, its shape after those layers and the
 * concatenations into it. */
typedef struct lm_gpos {
    lm_act act;
    int barrier;
    int identity_option;
    lm_glist layers;
    lm_gshape shape;
} lm_gpos;

struct lm_graph {
    char *name;
    lm_gshape input;
    int has_nonlinearity; /* set explicitly, else derived */
    lm_act nonlinearity;
    lm_gconv *convs; /* convs[p - 1] is c_p */
    size_t n_convs, cap_convs;
    lm_gpos *pos;    /* n_convs + 1 positions */
    size_t cap_pos;
    lm_gskip *skips;
    size_t n_skips, cap_skips;
    lm_glist stem, head;
    int has_temb;               /* a timestep input */
    int64_t temb_dim, temb_ch;
    char *temb_name[2];
    int valid;
    lm_gshape output;
    char fingerprint[17];
};

/* The size limits of core/limits.h, LM_ERR_INVALID_ARG "<what>: ..."
 * naming the field and the value: one size (<= LM_DIM_MAX), the element
 * count of a tensor of `n` dims (<= LM_NUMEL_MAX, checked products), and
 * an input shape (positive, each size and the count within the limits). */
LM_NODISCARD
lm_status lm_graph_check_dim(const char *what, const char *field,
                             int64_t value);
LM_NODISCARD
lm_status lm_graph_check_numel(const char *what, const char *tensor,
                               const int64_t *dims, size_t n);
LM_NODISCARD
lm_status lm_graph_check_input(int64_t channels, int64_t height,
                               int64_t width);

/* Compute the fingerprint of a graph whose shapes are known (fingerprint.c). */
void lm_graph_compute_fingerprint(lm_graph *g);

/* Output shape of a fixed layer for input `in`; LM_ERR_VALIDATION naming
 * `where` ("stem layer 2 (conv1)") when it does not fit (validate.c). */
LM_NODISCARD
lm_status lm_glayer_apply(const lm_glayer *l, const char *where,
                          lm_gshape in, lm_gshape *out);

/* Human-readable "stem layer 2 (conv1)" / "head layer 0" /
 * "position 5 layer 0" for messages. */
void lm_glayer_where(char *buf, size_t cap, lm_site site, size_t position,
                     size_t index, const lm_glayer *l);

#endif
