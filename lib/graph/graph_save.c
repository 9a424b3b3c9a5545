/* Writing a graph file (docs/formats.md). Every field is written
 * explicitly, so loading the file gives back the same graph: same
 * structure, names, eps and flags. */
#include <string.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "graph/graph_internal.h"
#include "io/yaml_doc.h"

static lm_status kv_int(lm_yemit *e, const char *key, int64_t v)
{
    lm_status st = lm_yemit_key(e, key);
    return st == LM_OK ? lm_yemit_int(e, v) : st;
}

static lm_status kv_bool(lm_yemit *e, const char *key, int v)
{
    lm_status st = lm_yemit_key(e, key);
    return st == LM_OK ? lm_yemit_bool(e, v) : st;
}

static lm_status kv_str(lm_yemit *e, const char *key, const char *v)
{
    lm_status st = lm_yemit_key(e, key);
    return st == LM_OK ? lm_yemit_str(e, v) : st;
}

static lm_status kv_double(lm_yemit *e, const char *key, double v)
{
    lm_status st = lm_yemit_key(e, key);
    return st == LM_OK ? lm_yemit_double(e, v) : st;
}

/* Optional names are left out rather than written as null. */
static lm_status kv_name(lm_yemit *e, const char *name)
{
    return name ? kv_str(e, "name", name) : LM_OK;
}

static lm_status emit_window(lm_yemit *e, const lm_glayer *l)
{
    lm_status st = kv_int(e, "kernel", l->kernel);
    if (st == LM_OK) st = kv_int(e, "stride", l->stride);
    if (st == LM_OK) st = kv_int(e, "padding", l->padding);
    return st;
}

static lm_status emit_layer_fields(lm_yemit *e, const lm_glayer *l)
{
    lm_status st = LM_OK;
    switch (l->kind) {
    case LM_LAYER_CONV:
        st = kv_name(e, l->name);
        if (st == LM_OK) st = kv_int(e, "in", l->in);
        if (st == LM_OK) st = kv_int(e, "out", l->out);
        if (st == LM_OK) st = emit_window(e, l);
        if (st == LM_OK) st = kv_int(e, "groups", l->groups);
        if (st == LM_OK) st = kv_bool(e, "bias", l->has_bias);
        return st;
    case LM_LAYER_BATCHNORM:
        st = kv_name(e, l->name);
        if (st == LM_OK) st = kv_int(e, "channels", l->in);
        if (st == LM_OK) st = kv_double(e, "eps", l->eps);
        return st;
    case LM_LAYER_ACT:
        return kv_str(e, "act", lm_act_name(l->act));
    case LM_LAYER_MAXPOOL:
    case LM_LAYER_AVGPOOL:
        return emit_window(e, l);
    case LM_LAYER_ADAPTIVE_AVGPOOL:
        st = kv_int(e, "height", l->out_h);
        if (st == LM_OK) st = kv_int(e, "width", l->out_w);
        return st;
    case LM_LAYER_FLATTEN:
        return LM_OK;
    case LM_LAYER_LINEAR:
        st = kv_name(e, l->name);
        if (st == LM_OK) st = kv_int(e, "in", l->in);
        if (st == LM_OK) st = kv_int(e, "out", l->out);
        if (st == LM_OK) st = kv_bool(e, "bias", l->has_bias);
        return st;
    }
    return lm_err(LM_ERR_INTERNAL, "unknown layer kind %d", (int)l->kind);
}

static lm_status emit_layers(lm_yemit *e, const char *key,
                             const lm_glist *list)
{
    lm_status st = lm_yemit_key(e, key);
    if (st == LM_OK) st = lm_yemit_seq_begin(e, 0);
    for (size_t i = 0; st == LM_OK && i < list->n; i++) {
        st = lm_yemit_map_begin(e, 1);
        if (st == LM_OK)
            st = kv_str(e, "op", lm_layer_kind_name(list->items[i].kind));
        if (st == LM_OK) st = emit_layer_fields(e, &list->items[i]);
        if (st == LM_OK) st = lm_yemit_map_end(e);
    }
    if (st == LM_OK) st = lm_yemit_seq_end(e);
    return st;
}

static lm_status emit_bn(lm_yemit *e, const lm_gconv *c)
{
    if (!c->has_bn)
        return LM_OK;
    lm_status st = lm_yemit_key(e, "bn");
    if (st == LM_OK) st = lm_yemit_map_begin(e, 1);
    if (st == LM_OK) st = kv_name(e, c->bn_name);
    if (st == LM_OK) st = kv_double(e, "eps", c->bn_eps);
    if (st == LM_OK) st = lm_yemit_map_end(e);
    return st;
}

static lm_status emit_trunk_conv(lm_yemit *e, const lm_graph *g, size_t p)
{
    const lm_gconv *c = &g->convs[p - 1];
    /* One line per conv: a network file reads (and diffs) like a table. */
    lm_status st = lm_yemit_map_begin(e, 1);
    if (st == LM_OK) st = kv_name(e, c->name);
    if (st == LM_OK) st = kv_int(e, "in", c->in);
    if (st == LM_OK) st = kv_int(e, "out", c->out);
    if (st == LM_OK) st = kv_int(e, "kernel", c->kernel);
    if (st == LM_OK) st = kv_int(e, "stride", c->stride);
    if (st == LM_OK) st = kv_int(e, "padding", c->padding);
    if (st == LM_OK) st = kv_int(e, "groups", c->groups);
    if (st == LM_OK) st = kv_bool(e, "bias", c->has_bias);
    if (st == LM_OK) st = emit_bn(e, c);
    if (st == LM_OK) st = kv_str(e, "act", lm_act_name(g->pos[p].act));
    if (st == LM_OK && g->pos[p].layers.n > 0)
        st = emit_layers(e, "after", &g->pos[p].layers);
    if (st == LM_OK) st = lm_yemit_map_end(e);
    return st;
}

static lm_status emit_skip(lm_yemit *e, const lm_gskip *s)
{
    lm_status st = lm_yemit_map_begin(e, 1);
    if (st == LM_OK) st = kv_int(e, "from", (int64_t)s->source);
    if (st == LM_OK) st = kv_int(e, "to", (int64_t)s->target);
    if (st == LM_OK && s->has_proj) {
        st = lm_yemit_key(e, "projection");
        if (st == LM_OK) st = lm_yemit_map_begin(e, 1);
        if (st == LM_OK) st = kv_name(e, s->proj.name);
        if (st == LM_OK) st = kv_int(e, "stride", s->proj.stride);
        if (st == LM_OK) st = kv_bool(e, "bias", s->proj.has_bias);
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
    lm_status st = kv_str(e, "format", "layermerge-graph");
    if (st == LM_OK) st = kv_int(e, "version", 1);
    if (st == LM_OK) st = kv_name(e, g->name);
    if (st == LM_OK) st = lm_yemit_key(e, "input");
    if (st == LM_OK) st = lm_yemit_map_begin(e, 1);
    if (st == LM_OK) st = kv_int(e, "channels", g->input.c);
    if (st == LM_OK) st = kv_int(e, "height", g->input.h);
    if (st == LM_OK) st = kv_int(e, "width", g->input.w);
    if (st == LM_OK) st = lm_yemit_map_end(e);
    /* Written only when set: a derived default stays derived. */
    if (st == LM_OK && g->has_nonlinearity)
        st = kv_str(e, "nonlinearity", lm_act_name(g->nonlinearity));
    return st;
}

static lm_status emit_graph(lm_yemit *e, const lm_graph *g)
{
    lm_status st = lm_yemit_map_begin(e, 0);
    if (st == LM_OK) st = emit_header(e, g);
    if (st == LM_OK) st = emit_layers(e, "stem", &g->stem);
    if (st == LM_OK) st = lm_yemit_key(e, "trunk");
    if (st == LM_OK) st = lm_yemit_seq_begin(e, 0);
    for (size_t p = 1; st == LM_OK && p <= g->n_convs; p++)
        st = emit_trunk_conv(e, g, p);
    if (st == LM_OK) st = lm_yemit_seq_end(e);
    if (st == LM_OK) st = lm_yemit_key(e, "skips");
    if (st == LM_OK) st = lm_yemit_seq_begin(e, 0);
    for (size_t i = 0; st == LM_OK && i < g->n_skips; i++)
        st = emit_skip(e, &g->skips[i]);
    if (st == LM_OK) st = lm_yemit_seq_end(e);
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
    lm_atomic_file af = {0};
    lm_status st = lm_atomic_open(&af, path);
    if (st != LM_OK)
        return st;
    lm_yemit *e = NULL;
    st = lm_yemit_begin(&e, af.fp);
    if (st == LM_OK) st = emit_graph(e, g);
    if (st == LM_OK) {
        st = lm_yemit_end(e);
        e = NULL;
    }
    lm_yemit_abort(e);
    if (st != LM_OK) {
        lm_atomic_abort(&af);
        return lm_err_prefix(st, "saving %s: ", path);
    }
    return lm_atomic_commit(&af);
}
