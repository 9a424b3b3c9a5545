/* Writing a graph file (docs/formats.md). Every field is written
 * explicitly, so loading the file gives back the same graph: same
 * structure, names, eps and flags. */
#include <string.h>

#include "core/error.h"
#include "graph/graph_internal.h"
#include "io/yaml_doc.h"

/* Optional names are left out rather than written as null. */
static lm_status kv_name(lm_yemit *e, const char *name)
{
    return name ? lm_yemit_kv_str(e, "name", name) : LM_OK;
}

static lm_status emit_window(lm_yemit *e, const lm_glayer *l)
{
    lm_status st = lm_yemit_kv_int(e, "kernel", l->kernel);
    if (st == LM_OK) st = lm_yemit_kv_int(e, "stride", l->stride);
    if (st == LM_OK) st = lm_yemit_kv_int(e, "padding", l->padding);
    return st;
}

static lm_status emit_layer_fields(lm_yemit *e, const lm_glayer *l)
{
    lm_status st = LM_OK;
    switch (l->kind) {
    case LM_LAYER_CONV:
        st = kv_name(e, l->name);
        if (st == LM_OK) st = lm_yemit_kv_int(e, "in", l->in);
        if (st == LM_OK) st = lm_yemit_kv_int(e, "out", l->out);
        if (st == LM_OK) st = emit_window(e, l);
        if (st == LM_OK) st = lm_yemit_kv_int(e, "groups", l->groups);
        if (st == LM_OK) st = lm_yemit_kv_bool(e, "bias", l->has_bias);
        return st;
    case LM_LAYER_BATCHNORM:
        st = kv_name(e, l->name);
        if (st == LM_OK) st = lm_yemit_kv_int(e, "channels", l->in);
        if (st == LM_OK) st = lm_yemit_kv_double(e, "eps", l->eps);
        return st;
    case LM_LAYER_ACT:
        return lm_yemit_kv_str(e, "act", lm_act_name(l->act));
    case LM_LAYER_MAXPOOL:
    case LM_LAYER_AVGPOOL:
        return emit_window(e, l);
    case LM_LAYER_ADAPTIVE_AVGPOOL:
        st = lm_yemit_kv_int(e, "height", l->out_h);
        if (st == LM_OK) st = lm_yemit_kv_int(e, "width", l->out_w);
        return st;
    case LM_LAYER_FLATTEN:
        return LM_OK;
    case LM_LAYER_LINEAR:
        st = kv_name(e, l->name);
        if (st == LM_OK) st = lm_yemit_kv_int(e, "in", l->in);
        if (st == LM_OK) st = lm_yemit_kv_int(e, "out", l->out);
        if (st == LM_OK) st = lm_yemit_kv_bool(e, "bias", l->has_bias);
        return st;
    case LM_LAYER_GROUPNORM:
    case LM_LAYER_ATTENTION:
        st = kv_name(e, l->name);
        if (st == LM_OK) st = lm_yemit_kv_int(e, "channels", l->in);
        if (st == LM_OK) st = lm_yemit_kv_int(e, "groups", l->groups);
        if (st == LM_OK) st = lm_yemit_kv_double(e, "eps", l->eps);
        return st;
    case LM_LAYER_PAD:
        st = lm_yemit_kv_int(e, "top", l->pad_t);
        if (st == LM_OK) st = lm_yemit_kv_int(e, "left", l->pad_l);
        if (st == LM_OK) st = lm_yemit_kv_int(e, "bottom", l->pad_b);
        if (st == LM_OK) st = lm_yemit_kv_int(e, "right", l->pad_r);
        return st;
    case LM_LAYER_UPSAMPLE:
        return lm_yemit_kv_int(e, "scale", l->scale);
    }
    return lm_err(LM_ERR_INTERNAL, "unknown layer kind %d", (int)l->kind);
}

static lm_status emit_layer(lm_yemit *e, const void *obj, size_t i)
{
    const lm_glayer *l = &((const lm_glist *)obj)->items[i];
    lm_status st = lm_yemit_map_begin(e, 1);
    if (st == LM_OK)
        st = lm_yemit_kv_str(e, "op", lm_layer_kind_name(l->kind));
    if (st == LM_OK) st = emit_layer_fields(e, l);
    return st == LM_OK ? lm_yemit_map_end(e) : st;
}

static lm_status emit_layers(lm_yemit *e, const char *key,
                             const lm_glist *list)
{
    return lm_yemit_kv_seq(e, key, 0, list->n, emit_layer, list);
}

static lm_status emit_bn(lm_yemit *e, const lm_gconv *c)
{
    if (!c->has_bn)
        return LM_OK;
    lm_status st = lm_yemit_key(e, "bn");
    if (st == LM_OK) st = lm_yemit_map_begin(e, 1);
    if (st == LM_OK) st = kv_name(e, c->bn_name);
    if (st == LM_OK) st = lm_yemit_kv_double(e, "eps", c->bn_eps);
    if (st == LM_OK) st = lm_yemit_map_end(e);
    return st;
}

static lm_status emit_trunk_conv(lm_yemit *e, const void *obj, size_t i)
{
    const lm_graph *g = obj;
    size_t p = i + 1; /* positions are 1-based */
    const lm_gconv *c = &g->convs[i];
    /* One line per conv: a network file reads (and diffs) like a table. */
    lm_status st = lm_yemit_map_begin(e, 1);
    if (st == LM_OK) st = kv_name(e, c->name);
    if (st == LM_OK) st = lm_yemit_kv_int(e, "in", c->in);
    if (st == LM_OK) st = lm_yemit_kv_int(e, "out", c->out);
    if (st == LM_OK) st = lm_yemit_kv_int(e, "kernel", c->kernel);
    if (st == LM_OK) st = lm_yemit_kv_int(e, "stride", c->stride);
    if (st == LM_OK) st = lm_yemit_kv_int(e, "padding", c->padding);
    if (st == LM_OK) st = lm_yemit_kv_int(e, "groups", c->groups);
    if (st == LM_OK) st = lm_yemit_kv_bool(e, "bias", c->has_bias);
    if (st == LM_OK) st = emit_bn(e, c);
    if (st == LM_OK)
        st = lm_yemit_kv_str(e, "act", lm_act_name(g->pos[p].act));
    if (st == LM_OK && g->pos[p].layers.n > 0)
        st = emit_layers(e, "after", &g->pos[p].layers);
    if (st == LM_OK && c->pre.n > 0)
        st = emit_layers(e, "pre", &c->pre);
    if (st == LM_OK && c->has_tproj) {
        st = lm_yemit_key(e, "time_projection");
        if (st == LM_OK) st = lm_yemit_map_begin(e, 1);
        if (st == LM_OK) st = kv_name(e, c->tproj_name);
        if (st == LM_OK) st = lm_yemit_map_end(e);
    }
    if (st == LM_OK && c->has_gn) {
        st = lm_yemit_key(e, "group_norm");
        if (st == LM_OK) st = lm_yemit_map_begin(e, 1);
        if (st == LM_OK) st = kv_name(e, c->gn_name);
        if (st == LM_OK) st = lm_yemit_kv_int(e, "groups", c->gn_groups);
        if (st == LM_OK) st = lm_yemit_kv_double(e, "eps", c->gn_eps);
        if (st == LM_OK) st = lm_yemit_map_end(e);
    }
    if (st == LM_OK) st = lm_yemit_map_end(e);
    return st;
}

static lm_status emit_skip(lm_yemit *e, const void *obj, size_t i)
{
    const lm_gskip *s = &((const lm_graph *)obj)->skips[i];
    lm_status st = lm_yemit_map_begin(e, 1);
    if (st == LM_OK) st = lm_yemit_kv_int(e, "from", (int64_t)s->source);
    if (st == LM_OK) st = lm_yemit_kv_int(e, "to", (int64_t)s->target);
    if (st == LM_OK && s->concat) st = lm_yemit_kv_str(e, "mode", "concat");
    if (st == LM_OK && s->has_proj) {
        st = lm_yemit_key(e, "projection");
        if (st == LM_OK) st = lm_yemit_map_begin(e, 1);
        if (st == LM_OK) st = kv_name(e, s->proj.name);
        if (st == LM_OK) st = lm_yemit_kv_int(e, "stride", s->proj.stride);
        if (st == LM_OK) st = lm_yemit_kv_bool(e, "bias", s->proj.has_bias);
        if (st == LM_OK) st = emit_bn(e, &s->proj);
        if (st == LM_OK) st = lm_yemit_map_end(e);
    }
    if (st == LM_OK) st = lm_yemit_map_end(e);
    return st;
}

/* `barriers` (flag 0) or `identity_options` (flag 1) as a flow list. */
static lm_status emit_positions(lm_yemit *e, const lm_graph *g, int which)
{
    lm_status st = lm_yemit_key(e, which ? "identity_options" : "barriers");
    if (st == LM_OK) st = lm_yemit_seq_begin(e, 1);
    for (size_t p = 0; st == LM_OK && p <= g->n_convs; p++) {
        int on = which ? g->pos[p].identity_option : g->pos[p].barrier;
        if (on)
            st = lm_yemit_int(e, (int64_t)p);
    }
    if (st == LM_OK) st = lm_yemit_seq_end(e);
    return st;
}

static lm_status emit_header(lm_yemit *e, const lm_graph *g)
{
    lm_status st = lm_yemit_kv_str(e, "format", "layermerge-graph");
    if (st == LM_OK) st = lm_yemit_kv_int(e, "version", 1);
    if (st == LM_OK) st = kv_name(e, g->name);
    if (st == LM_OK) st = lm_yemit_key(e, "input");
    if (st == LM_OK) st = lm_yemit_map_begin(e, 1);
    if (st == LM_OK) st = lm_yemit_kv_int(e, "channels", g->input.c);
    if (st == LM_OK) st = lm_yemit_kv_int(e, "height", g->input.h);
    if (st == LM_OK) st = lm_yemit_kv_int(e, "width", g->input.w);
    if (st == LM_OK) st = lm_yemit_map_end(e);
    /* Written only when set: a derived default stays derived. */
    if (st == LM_OK && g->has_nonlinearity)
        st = lm_yemit_kv_str(e, "nonlinearity", lm_act_name(g->nonlinearity));
    if (st == LM_OK && g->has_temb) {
        st = lm_yemit_key(e, "time_embedding");
        if (st == LM_OK) st = lm_yemit_map_begin(e, 1);
        if (st == LM_OK) st = lm_yemit_kv_int(e, "dim", g->temb_dim);
        if (st == LM_OK) st = lm_yemit_kv_int(e, "channels", g->temb_ch);
        if (st == LM_OK && g->temb_name[0] && g->temb_name[1]) {
            st = lm_yemit_key(e, "names");
            if (st == LM_OK) st = lm_yemit_seq_begin(e, 1);
            if (st == LM_OK) st = lm_yemit_str(e, g->temb_name[0]);
            if (st == LM_OK) st = lm_yemit_str(e, g->temb_name[1]);
            if (st == LM_OK) st = lm_yemit_seq_end(e);
        }
        if (st == LM_OK) st = lm_yemit_map_end(e);
    }
    return st;
}

static lm_status emit_graph(lm_yemit *e, const void *obj)
{
    const lm_graph *g = obj;
    lm_status st = lm_yemit_map_begin(e, 0);
    if (st == LM_OK) st = emit_header(e, g);
    if (st == LM_OK) st = emit_layers(e, "stem", &g->stem);
    if (st == LM_OK)
        st = lm_yemit_kv_seq(e, "trunk", 0, g->n_convs, emit_trunk_conv, g);
    if (st == LM_OK)
        st = lm_yemit_kv_seq(e, "skips", 0, g->n_skips, emit_skip, g);
    if (st == LM_OK) st = emit_positions(e, g, 0);
    if (st == LM_OK) st = emit_positions(e, g, 1);
    if (st == LM_OK) st = emit_layers(e, "head", &g->head);
    if (st == LM_OK) st = lm_yemit_map_end(e);
    return st;
}

lm_status lm_graph_save(const lm_graph *g, const char *path)
{
    if (!g || !path)
        return lm_err(LM_ERR_INVALID_ARG, "lm_graph_save: NULL argument");
    return lm_yemit_save(path, emit_graph, g, "graph");
}
