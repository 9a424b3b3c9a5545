/* Read access to a graph: counts, flags, records and shapes. */
#include <string.h>

#include "core/error.h"
#include "core/util.h"
#include "graph/graph_internal.h"
#include "graph/graph_query.h"

const char *lm_graph_name(const lm_graph *g)
{
    return g && g->name ? g->name : "";
}

size_t lm_graph_conv_count(const lm_graph *g)
{
    return g ? g->n_convs : 0;
}

size_t lm_graph_skip_count(const lm_graph *g)
{
    return g ? g->n_skips : 0;
}

lm_act lm_graph_nonlinearity(const lm_graph *g)
{
    if (!g)
        return LM_ACT_IDENTITY;
    if (g->has_nonlinearity)
        return g->nonlinearity;
    for (size_t p = 1; p <= g->n_convs; p++)
        if (g->pos[p].act != LM_ACT_IDENTITY)
            return g->pos[p].act;
    return LM_ACT_IDENTITY;
}

lm_act lm_graph_position_act(const lm_graph *g, size_t position)
{
    if (!g || position < 1 || position > g->n_convs)
        return LM_ACT_IDENTITY;
    return g->pos[position].act;
}

int lm_graph_position_barrier(const lm_graph *g, size_t position)
{
    return g && position <= g->n_convs && g->pos[position].barrier;
}

int lm_graph_position_identity(const lm_graph *g, size_t position)
{
    return g && position >= 1 && position <= g->n_convs &&
           g->pos[position].identity_option;
}

void lm_graph_input_chw(const lm_graph *g, int64_t *channels,
                        int64_t *height, int64_t *width)
{
    lm_gshape s = g ? g->input : (lm_gshape){0, 0, 0};
    if (channels)
        *channels = s.c;
    if (height)
        *height = s.h;
    if (width)
        *width = s.w;
}

static lm_conv_info conv_record(const lm_gconv *c)
{
    return (lm_conv_info){
        .size = sizeof(lm_conv_info), .in_channels = c->in,
        .out_channels = c->out, .kernel = c->kernel, .stride = c->stride,
        .padding = c->padding, .groups = c->groups,
        .has_bias = c->has_bias, .has_bn = c->has_bn, .bn_eps = c->bn_eps,
        .name = c->name, .bn_name = c->bn_name, .has_groupnorm = c->has_gn,
        .has_time_projection = c->has_tproj,
        .groupnorm_groups = c->has_gn ? c->gn_groups : 0,
        .groupnorm_eps = c->has_gn ? c->gn_eps : 0.0,
        .groupnorm_name = c->gn_name, .time_projection_name = c->tproj_name,
        .pre_layer_count = c->pre.n};
}

lm_status lm_graph_conv_info(lm_conv_info *info, const lm_graph *g,
                             size_t conv)
{
    if (!g || conv < 1 || conv > g->n_convs)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_graph_conv_info: conv %zu out of range 1..%zu",
                      conv, lm_graph_conv_count(g));
    lm_conv_info full = conv_record(&g->convs[conv - 1]);
    return lm_sized_copy(info, &full, sizeof full, "lm_graph_conv_info");
}

lm_status lm_graph_skip_info(lm_skip_info *info, const lm_graph *g,
                             size_t skip)
{
    if (!g || skip >= g->n_skips)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_graph_skip_info: skip %zu out of range (%zu skips)",
                      skip, lm_graph_skip_count(g));
    const lm_gskip *s = &g->skips[skip];
    lm_skip_info full = {.size = sizeof full, .source = s->source,
                         .target = s->target, .has_projection = s->has_proj,
                         .is_concat = s->concat};
    if (s->has_proj) {
        full.projection_has_bias = s->proj.has_bias;
        full.projection_has_bn = s->proj.has_bn;
        full.projection_in_channels = s->proj.in;
        full.projection_out_channels = s->proj.out;
        full.projection_stride = s->proj.stride;
        full.projection_bn_eps = s->proj.bn_eps;
        full.projection_name = s->proj.name;
        full.projection_bn_name = s->proj.bn_name;
    }
    return lm_sized_copy(info, &full, sizeof full, "lm_graph_skip_info");
}

lm_status lm_graph_skip_projection(const lm_graph *g, size_t skip,
                                   lm_conv_info *info)
{
    if (!g || skip >= g->n_skips)
        return lm_err(LM_ERR_INVALID_ARG, "skip %zu out of range (%zu skips)",
                      skip, lm_graph_skip_count(g));
    if (!g->skips[skip].has_proj)
        return lm_err(LM_ERR_STATE, "skip %zu has no projection", skip);
    lm_conv_info full = conv_record(&g->skips[skip].proj);
    return lm_sized_copy(info, &full, sizeof full, "skip projection");
}

lm_status lm_graph_position_info(lm_position_info *info, const lm_graph *g,
                                 size_t position)
{
    if (!g || position > g->n_convs)
        return lm_err(LM_ERR_INVALID_ARG, "lm_graph_position_info: position "
                      "%zu out of range 0..%zu", position,
                      lm_graph_conv_count(g));
    const lm_gpos *p = &g->pos[position];
    lm_position_info full = {
        .size = sizeof full,
        .activation = position ? p->act : LM_ACT_IDENTITY,
        .is_barrier = !!p->barrier,
        .identity_option = position && p->identity_option,
        .layer_count = p->layers.n};
    return lm_sized_copy(info, &full, sizeof full, "lm_graph_position_info");
}

lm_status lm_graph_input_shape(lm_shape *shape, const lm_graph *g)
{
    if (!g)
        return lm_err(LM_ERR_INVALID_ARG, "lm_graph_input_shape: NULL graph");
    lm_shape full = {sizeof full, g->input.c, g->input.h, g->input.w};
    return lm_sized_copy(shape, &full, sizeof full, "lm_graph_input_shape");
}

static const lm_glist *site_list_const(const lm_graph *g, lm_site site,
                                       size_t position)
{
    if (!g)
        return NULL;
    if (site == LM_SITE_STEM)
        return &g->stem;
    if (site == LM_SITE_HEAD)
        return &g->head;
    if (site == LM_SITE_POSITION && position <= g->n_convs)
        return &g->pos[position].layers;
    if (site == LM_SITE_PRE && position >= 1 && position <= g->n_convs)
        return &g->convs[position - 1].pre;
    return NULL;
}

size_t lm_graph_layer_count(const lm_graph *g, lm_site site, size_t position)
{
    const lm_glist *l = site_list_const(g, site, position);
    return l ? l->n : 0;
}

lm_status lm_graph_layer_info(lm_layer_info *info, const lm_graph *g,
                              lm_site site, size_t position, size_t index)
{
    const lm_glist *list = site_list_const(g, site, position);
    if (!list || index >= list->n)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_graph_layer_info: no layer %zu at that site",
                      index);
    const lm_glayer *l = &list->items[index];
    lm_layer_info full = {
        .size = sizeof full, .kind = l->kind, .act = l->act,
        .in_channels = l->in, .out_channels = l->out, .kernel = l->kernel,
        .stride = l->stride, .padding = l->padding, .groups = l->groups,
        .out_height = l->out_h, .out_width = l->out_w,
        .has_bias = l->has_bias, .eps = l->eps, .name = l->name,
        .pad_top = l->pad_t, .pad_left = l->pad_l, .pad_bottom = l->pad_b,
        .pad_right = l->pad_r, .scale = l->scale};
    return lm_sized_copy(info, &full, sizeof full, "lm_graph_layer_info");
}

int lm_graph_is_valid(const lm_graph *g)
{
    return g && g->valid;
}

static lm_status need_valid(const lm_graph *g, const char *fn)
{
    if (!g)
        return lm_err(LM_ERR_INVALID_ARG, "%s: NULL graph", fn);
    if (!g->valid)
        return lm_err(LM_ERR_STATE, "%s: graph not validated", fn);
    return LM_OK;
}

static void put_shape(lm_gshape s, int64_t *c, int64_t *h, int64_t *w)
{
    if (c)
        *c = s.c;
    if (h)
        *h = s.h;
    if (w)
        *w = s.w;
}

lm_status lm_graph_position_chw(const lm_graph *g, size_t position,
                                int64_t *channels, int64_t *height,
                                int64_t *width)
{
    lm_status st = need_valid(g, "lm_graph_position_shape");
    if (st != LM_OK)
        return st;
    if (position > g->n_convs)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_graph_position_shape: position %zu out of range "
                      "0..%zu", position, g->n_convs);
    put_shape(g->pos[position].shape, channels, height, width);
    return LM_OK;
}

lm_status lm_graph_conv_input_chw(const lm_graph *g, size_t conv,
                                  int64_t *channels, int64_t *height,
                                  int64_t *width)
{
    lm_status st = need_valid(g, "lm_graph_conv_input_chw");
    if (st != LM_OK)
        return st;
    if (conv < 1 || conv > g->n_convs)
        return lm_err(LM_ERR_INVALID_ARG, "lm_graph_conv_input_chw: conv "
                      "%zu out of range 1..%zu", conv, g->n_convs);
    put_shape(g->convs[conv - 1].reads, channels, height, width);
    return LM_OK;
}

lm_status lm_graph_output_chw(const lm_graph *g, int64_t *channels,
                              int64_t *height, int64_t *width)
{
    lm_status st = need_valid(g, "lm_graph_output_shape");
    if (st == LM_OK)
        put_shape(g->output, channels, height, width);
    return st;
}

lm_status lm_graph_position_shape(lm_shape *shape, const lm_graph *g,
                                  size_t position)
{
    lm_shape full = {.size = sizeof full};
    lm_status st = lm_graph_position_chw(g, position, &full.channels,
                                         &full.height, &full.width);
    return st == LM_OK ? lm_sized_copy(shape, &full, sizeof full,
                                     "lm_graph_position_shape")
                       : st;
}

lm_status lm_graph_output_shape(lm_shape *shape, const lm_graph *g)
{
    lm_shape full = {.size = sizeof full};
    lm_status st = lm_graph_output_chw(g, &full.channels, &full.height,
                                       &full.width);
    return st == LM_OK ? lm_sized_copy(shape, &full, sizeof full,
                                     "lm_graph_output_shape")
                       : st;
}

const char *lm_graph_fingerprint(const lm_graph *g)
{
    return g && g->valid ? g->fingerprint : NULL;
}

lm_status lm_graph_time_embedding(lm_time_embedding_info *info,
                                  const lm_graph *g)
{
    if (!g)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_graph_time_embedding: NULL graph");
    lm_time_embedding_info full = {.size = sizeof full};
    if (g->has_temb) {
        full.has_time_embedding = 1;
        full.dim = g->temb_dim;
        full.channels = g->temb_ch;
        full.dense0 = g->temb_name[0];
        full.dense1 = g->temb_name[1];
    }
    return lm_sized_copy(info, &full, sizeof full,
                         "lm_graph_time_embedding");
}

