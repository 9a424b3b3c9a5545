/* Reading a graph file (docs/formats.md). Every mistake is an error that
 * names the file, line and column: a typo must not change a network. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "graph/graph_internal.h"
#include "io/yaml_doc.h"

#define DEFAULT_EPS 1e-5

typedef struct loader {
    const lm_ydoc *doc;
    lm_graph *g;
} loader;

/* A failed builder call gets the place of the entry it came from. Argument
 * errors there are file errors, so they become LM_ERR_PARSE. */
static lm_status at_node(const loader *ld, const lm_ynode *node, lm_status st)
{
    if (st == LM_OK)
        return st;
    if (st == LM_ERR_INVALID_ARG)
        st = LM_ERR_PARSE;
    return lm_err_prefix(st, "%s:%zu:%zu: ", ld->doc->source, node->line,
                         node->column);
}

static lm_status require(const loader *ld, const lm_ynode *map,
                         const char *key, const char *what,
                         const lm_ynode **out)
{
    *out = lm_ymap_get(map, key);
    if (!*out)
        return lm_yerr(ld->doc, map, LM_ERR_PARSE, "%s: missing key '%s'",
                       what, key);
    return LM_OK;
}

/* An integer `key` of `map` that must be >= `min`; `def` when absent
 * (pass required = 1 to make absence an error). */
static lm_status get_int(const loader *ld, const lm_ynode *map,
                         const char *key, const char *what, int required,
                         int64_t def, int64_t min, int64_t *out)
{
    const lm_ynode *n = lm_ymap_get(map, key);
    *out = def;
    if (!n && required)
        return require(ld, map, key, what, &n);
    if (!n)
        return LM_OK;
    char field[160];
    snprintf(field, sizeof field, "%s: %s", what, key);
    lm_status st = lm_yget_int(ld->doc, n, field, out);
    if (st == LM_OK && *out < min)
        st = lm_yerr(ld->doc, n, LM_ERR_PARSE, "%s must be %s, found %lld",
                     field, min > 0 ? "positive" : "non-negative",
                     (long long)*out);
    return st;
}

static lm_status get_bool(const loader *ld, const lm_ynode *map,
                          const char *key, const char *what, int def,
                          int *out)
{
    const lm_ynode *n = lm_ymap_get(map, key);
    *out = def;
    if (!n)
        return LM_OK;
    char field[160];
    snprintf(field, sizeof field, "%s: %s", what, key);
    return lm_yget_bool(ld->doc, n, field, out);
}

static lm_status get_eps(const loader *ld, const lm_ynode *map,
                         const char *what, double *out)
{
    const lm_ynode *n = lm_ymap_get(map, "eps");
    *out = DEFAULT_EPS;
    if (!n)
        return LM_OK;
    char field[160];
    snprintf(field, sizeof field, "%s: eps", what);
    lm_status st = lm_yget_double(ld->doc, n, field, out);
    if (st == LM_OK && !(*out > 0.0 && *out <= 1.0))
        st = lm_yerr(ld->doc, n, LM_ERR_PARSE, "%s must be in (0, 1]", field);
    return st;
}

/* Optional string; NULL when absent. Borrowed from the document. */
static lm_status get_str(const loader *ld, const lm_ynode *map,
                         const char *key, const char *what, const char **out)
{
    const lm_ynode *n = lm_ymap_get(map, key);
    *out = NULL;
    if (!n)
        return LM_OK;
    char field[160];
    snprintf(field, sizeof field, "%s: %s", what, key);
    return lm_yget_string(ld->doc, n, field, out);
}

static lm_status get_act(const loader *ld, const lm_ynode *n,
                         const char *what, lm_act *out)
{
    const char *name = NULL;
    lm_status st = lm_yget_string(ld->doc, n, what, &name);
    if (st == LM_OK && lm_act_from_name(out, name) != LM_OK)
        st = lm_yerr(ld->doc, n, LM_ERR_PARSE,
                     "%s: unknown activation '%s' (identity, relu, relu6, "
                     "silu, gelu, hardswish, sigmoid or tanh)", what, name);
    return st;
}

/* ---- fixed layers -------------------------------------------------------- */

/* The keys a conv shares wherever it stands (fixed layer or trunk). */
static lm_status get_conv_fields(const loader *ld, const lm_ynode *m,
                                 const char *what, lm_conv_desc *c)
{
    int bias = 0;
    *c = (lm_conv_desc){.size = sizeof *c};
    lm_status st = get_str(ld, m, "name", what, &c->name);
    if (st == LM_OK)
        st = get_int(ld, m, "in", what, 1, 0, 1, &c->in_channels);
    if (st == LM_OK)
        st = get_int(ld, m, "out", what, 1, 0, 1, &c->out_channels);
    if (st == LM_OK) st = get_int(ld, m, "kernel", what, 1, 0, 1, &c->kernel);
    if (st == LM_OK) st = get_int(ld, m, "stride", what, 0, 1, 1, &c->stride);
    if (st == LM_OK) st = get_int(ld, m, "padding", what, 0, 0, 0, &c->padding);
    if (st == LM_OK) st = get_int(ld, m, "groups", what, 0, 1, 1, &c->groups);
    if (st == LM_OK) st = get_bool(ld, m, "bias", what, 0, &bias);
    c->has_bias = bias;
    return st;
}

typedef struct layer_site {
    lm_site site;
    size_t position;
} layer_site;

static lm_status layer_conv(const loader *ld, const lm_ynode *m,
                            const char *what, layer_site at)
{
    static const char *const keys[] = {"op", "name", "in", "out", "kernel",
        "stride", "padding", "groups", "bias", NULL};
    lm_conv_desc c;
    lm_status st = lm_ycheck_keys(ld->doc, m, what, keys);
    if (st == LM_OK)
        st = get_conv_fields(ld, m, what, &c);
    if (st != LM_OK)
        return st;
    return at_node(ld, m,
                   lm_graph_add_layer_conv(ld->g, at.site, at.position, &c));
}

static lm_status layer_batchnorm(const loader *ld, const lm_ynode *m,
                                 const char *what, layer_site at)
{
    static const char *const keys[] = {"op", "name", "channels", "eps", NULL};
    int64_t channels;
    double eps;
    const char *name;
    lm_status st = lm_ycheck_keys(ld->doc, m, what, keys);
    if (st == LM_OK) st = get_str(ld, m, "name", what, &name);
    if (st == LM_OK) st = get_int(ld, m, "channels", what, 1, 0, 1, &channels);
    if (st == LM_OK) st = get_eps(ld, m, what, &eps);
    if (st != LM_OK)
        return st;
    return at_node(ld, m, lm_graph_add_layer_batchnorm(
                              ld->g, at.site, at.position, name, channels,
                              eps));
}

static lm_status layer_act(const loader *ld, const lm_ynode *m,
                           const char *what, layer_site at)
{
    static const char *const keys[] = {"op", "act", NULL};
    const lm_ynode *n = NULL;
    lm_act act;
    lm_status st = lm_ycheck_keys(ld->doc, m, what, keys);
    if (st == LM_OK) st = require(ld, m, "act", what, &n);
    if (st == LM_OK) st = get_act(ld, n, what, &act);
    if (st != LM_OK)
        return st;
    return at_node(ld, m,
                   lm_graph_add_layer_act(ld->g, at.site, at.position, act));
}

static lm_status layer_pool(const loader *ld, const lm_ynode *m,
                            const char *what, layer_site at,
                            lm_layer_kind kind)
{
    static const char *const keys[] = {"op", "kernel", "stride", "padding",
                                       NULL};
    int64_t k, s, p;
    lm_status st = lm_ycheck_keys(ld->doc, m, what, keys);
    if (st == LM_OK) st = get_int(ld, m, "kernel", what, 1, 0, 1, &k);
    if (st == LM_OK) st = get_int(ld, m, "stride", what, 0, k, 1, &s);
    if (st == LM_OK) st = get_int(ld, m, "padding", what, 0, 0, 0, &p);
    if (st != LM_OK)
        return st;
    return at_node(ld, m, lm_graph_add_layer_pool(ld->g, at.site, at.position,
                                                  kind, k, s, p));
}

static lm_status layer_adaptive(const loader *ld, const lm_ynode *m,
                                const char *what, layer_site at)
{
    static const char *const keys[] = {"op", "height", "width", NULL};
    int64_t h, w;
    lm_status st = lm_ycheck_keys(ld->doc, m, what, keys);
    if (st == LM_OK) st = get_int(ld, m, "height", what, 1, 0, 1, &h);
    if (st == LM_OK) st = get_int(ld, m, "width", what, 1, 0, 1, &w);
    if (st != LM_OK)
        return st;
    return at_node(ld, m, lm_graph_add_layer_adaptive_avgpool(
                              ld->g, at.site, at.position, h, w));
}

static lm_status layer_flatten(const loader *ld, const lm_ynode *m,
                               const char *what, layer_site at)
{
    static const char *const keys[] = {"op", NULL};
    lm_status st = lm_ycheck_keys(ld->doc, m, what, keys);
    if (st != LM_OK)
        return st;
    return at_node(ld, m,
                   lm_graph_add_layer_flatten(ld->g, at.site, at.position));
}

static lm_status layer_linear(const loader *ld, const lm_ynode *m,
                              const char *what, layer_site at)
{
    static const char *const keys[] = {"op", "name", "in", "out", "bias",
                                       NULL};
    int64_t in, out;
    int bias;
    const char *name;
    lm_status st = lm_ycheck_keys(ld->doc, m, what, keys);
    if (st == LM_OK) st = get_str(ld, m, "name", what, &name);
    if (st == LM_OK) st = get_int(ld, m, "in", what, 1, 0, 1, &in);
    if (st == LM_OK) st = get_int(ld, m, "out", what, 1, 0, 1, &out);
    if (st == LM_OK) st = get_bool(ld, m, "bias", what, 1, &bias);
    if (st != LM_OK)
        return st;
    return at_node(ld, m, lm_graph_add_layer_linear(
                              ld->g, at.site, at.position, name, in, out,
                              bias));
}

/* groupnorm and attention: {name, channels, groups, eps}. */
static lm_status layer_normed(const loader *ld, const lm_ynode *m,
                              const char *what, layer_site at,
                              lm_layer_kind kind)
{
    static const char *const keys[] = {"op", "name", "channels", "groups",
                                       "eps", NULL};
    int64_t channels, groups;
    double eps;
    const char *name;
    lm_status st = lm_ycheck_keys(ld->doc, m, what, keys);
    const lm_ynode *n = NULL;
    /* An attention block's five modules are named after it. */
    if (st == LM_OK && kind == LM_LAYER_ATTENTION)
        st = require(ld, m, "name", what, &n);
    if (st == LM_OK) st = get_str(ld, m, "name", what, &name);
    if (st == LM_OK) st = get_int(ld, m, "channels", what, 1, 0, 1, &channels);
    if (st == LM_OK) st = get_int(ld, m, "groups", what, 1, 0, 1, &groups);
    if (st == LM_OK) st = get_eps(ld, m, what, &eps);
    if (st != LM_OK)
        return st;
    if (kind == LM_LAYER_GROUPNORM)
        st = lm_graph_add_layer_groupnorm(ld->g, at.site, at.position, name,
                                          channels, groups, eps);
    else
        st = lm_graph_add_layer_attention(ld->g, at.site, at.position, name,
                                          channels, groups, eps);
    return at_node(ld, m, st);
}

static lm_status layer_pad(const loader *ld, const lm_ynode *m,
                           const char *what, layer_site at)
{
    static const char *const keys[] = {"op", "top", "left", "bottom",
                                       "right", NULL};
    int64_t t, l, b, r;
    lm_status st = lm_ycheck_keys(ld->doc, m, what, keys);
    if (st == LM_OK) st = get_int(ld, m, "top", what, 1, 0, 0, &t);
    if (st == LM_OK) st = get_int(ld, m, "left", what, 1, 0, 0, &l);
    if (st == LM_OK) st = get_int(ld, m, "bottom", what, 1, 0, 0, &b);
    if (st == LM_OK) st = get_int(ld, m, "right", what, 1, 0, 0, &r);
    if (st != LM_OK)
        return st;
    return at_node(ld, m, lm_graph_add_layer_pad(ld->g, at.site, at.position,
                                                 t, l, b, r));
}

static lm_status layer_upsample(const loader *ld, const lm_ynode *m,
                                const char *what, layer_site at)
{
    static const char *const keys[] = {"op", "scale", NULL};
    int64_t scale;
    lm_status st = lm_ycheck_keys(ld->doc, m, what, keys);
    if (st == LM_OK) st = get_int(ld, m, "scale", what, 0, 2, 1, &scale);
    if (st != LM_OK)
        return st;
    return at_node(ld, m, lm_graph_add_layer_upsample(ld->g, at.site,
                                                      at.position, scale));
}

static lm_status load_layer(const loader *ld, const lm_ynode *m,
                            const char *what, layer_site at)
{
    const lm_ynode *opn = NULL;
    const char *op = NULL;
    lm_status st = lm_yexpect(ld->doc, m, LM_YNODE_MAPPING, what);
    if (st == LM_OK) st = require(ld, m, "op", what, &opn);
    if (st == LM_OK) st = lm_yget_string(ld->doc, opn, what, &op);
    if (st != LM_OK)
        return st;
    if (!strcmp(op, "conv")) return layer_conv(ld, m, what, at);
    if (!strcmp(op, "batchnorm")) return layer_batchnorm(ld, m, what, at);
    if (!strcmp(op, "act")) return layer_act(ld, m, what, at);
    if (!strcmp(op, "maxpool"))
        return layer_pool(ld, m, what, at, LM_LAYER_MAXPOOL);
    if (!strcmp(op, "avgpool"))
        return layer_pool(ld, m, what, at, LM_LAYER_AVGPOOL);
    if (!strcmp(op, "adaptive_avgpool"))
        return layer_adaptive(ld, m, what, at);
    if (!strcmp(op, "flatten")) return layer_flatten(ld, m, what, at);
    if (!strcmp(op, "linear")) return layer_linear(ld, m, what, at);
    if (!strcmp(op, "groupnorm"))
        return layer_normed(ld, m, what, at, LM_LAYER_GROUPNORM);
    if (!strcmp(op, "attention"))
        return layer_normed(ld, m, what, at, LM_LAYER_ATTENTION);
    if (!strcmp(op, "pad")) return layer_pad(ld, m, what, at);
    if (!strcmp(op, "upsample")) return layer_upsample(ld, m, what, at);
    return lm_yerr(ld->doc, opn, LM_ERR_PARSE,
                   "%s: unknown op '%s' (conv, batchnorm, act, maxpool, "
                   "avgpool, adaptive_avgpool, flatten, linear, groupnorm, "
                   "pad, upsample or attention)", what, op);
}

/* An optional sequence of fixed layers; `label` is "stem", "head" or
 * "position 5". */
static lm_status load_layers(const loader *ld, const lm_ynode *seq,
                             const char *label, layer_site at)
{
    if (!seq)
        return LM_OK;
    lm_status st = lm_yexpect(ld->doc, seq, LM_YNODE_SEQUENCE, label);
    for (size_t i = 0; st == LM_OK && i < seq->count; i++) {
        char what[64];
        snprintf(what, sizeof what, "%s layer %zu", label, i);
        st = load_layer(ld, seq->items[i], what, at);
    }
    return st;
}

/* ---- trunk ------------------------------------------------------------------- */

/* {name, eps}: a batch norm after a trunk conv or a skip projection. */
static lm_status get_bn(const loader *ld, const lm_ynode *bn,
                        const char *what, const char **name, double *eps)
{
    static const char *const keys[] = {"name", "eps", NULL};
    char field[128];
    snprintf(field, sizeof field, "%s: bn", what);
    lm_status st = lm_ycheck_keys(ld->doc, bn, field, keys);
    if (st == LM_OK) st = get_str(ld, bn, "name", field, name);
    if (st == LM_OK) st = get_eps(ld, bn, field, eps);
    return st;
}

static lm_status trunk_bn_act(const loader *ld, const lm_ynode *m,
                              const char *what, size_t p)
{
    const lm_ynode *bn = lm_ymap_get(m, "bn"), *actn = lm_ymap_get(m, "act");
    lm_status st = LM_OK;
    if (bn) {
        const char *name;
        double eps;
        st = get_bn(ld, bn, what, &name, &eps);
        if (st == LM_OK)
            st = at_node(ld, bn, lm_graph_set_conv_bn(ld->g, p, name, eps));
    }
    if (st == LM_OK && actn) {
        char field[96];
        snprintf(field, sizeof field, "%s: act", what);
        lm_act act;
        st = get_act(ld, actn, field, &act);
        if (st == LM_OK)
            st = at_node(ld, actn, lm_graph_set_activation(ld->g, p, act));
    }
    char label[48];
    snprintf(label, sizeof label, "position %zu", p);
    if (st == LM_OK)
        st = load_layers(ld, lm_ymap_get(m, "after"), label,
                         (layer_site){LM_SITE_POSITION, p});
    return st;
}

/* The U-Net keys of a trunk conv: pre, time_projection, group_norm. */
static lm_status trunk_unet(const loader *ld, const lm_ynode *m,
                            const char *what, size_t p)
{
    char label[96];
    snprintf(label, sizeof label, "%s pre", what);
    lm_status st = load_layers(ld, lm_ymap_get(m, "pre"), label,
                               (layer_site){LM_SITE_PRE, p});
    const lm_ynode *tp = lm_ymap_get(m, "time_projection");
    if (st == LM_OK && tp) {
        static const char *const keys[] = {"name", NULL};
        const char *name = NULL;
        snprintf(label, sizeof label, "%s: time_projection", what);
        st = lm_ycheck_keys(ld->doc, tp, label, keys);
        if (st == LM_OK) st = get_str(ld, tp, "name", label, &name);
        if (st == LM_OK)
            st = at_node(ld, tp, lm_graph_set_conv_time_projection(ld->g, p,
                                                                   name));
    }
    const lm_ynode *gn = lm_ymap_get(m, "group_norm");
    if (st == LM_OK && gn) {
        static const char *const keys[] = {"name", "groups", "eps", NULL};
        const char *name = NULL;
        int64_t groups;
        double eps;
        snprintf(label, sizeof label, "%s: group_norm", what);
        st = lm_ycheck_keys(ld->doc, gn, label, keys);
        if (st == LM_OK) st = get_str(ld, gn, "name", label, &name);
        if (st == LM_OK) st = get_int(ld, gn, "groups", label, 1, 0, 1, &groups);
        if (st == LM_OK) st = get_eps(ld, gn, label, &eps);
        if (st == LM_OK)
            st = at_node(ld, gn, lm_graph_set_conv_groupnorm(ld->g, p, name,
                                                             groups, eps));
    }
    return st;
}

static lm_status trunk_entry(const loader *ld, const lm_ynode *m, size_t p)
{
    static const char *const keys[] = {"name", "in", "out", "kernel",
        "stride", "padding", "groups", "bias", "bn", "act", "after", "pre",
        "time_projection", "group_norm", NULL};
    char what[48];
    snprintf(what, sizeof what, "trunk conv %zu", p);
    lm_conv_desc c;
    lm_status st = lm_ycheck_keys(ld->doc, m, what, keys);
    if (st == LM_OK)
        st = get_conv_fields(ld, m, what, &c);
    if (st == LM_OK)
        st = at_node(ld, m, lm_graph_add_conv(ld->g, &c, LM_ACT_IDENTITY));
    if (st == LM_OK)
        st = trunk_bn_act(ld, m, what, p);
    if (st == LM_OK)
        st = trunk_unet(ld, m, what, p);
    return st;
}

static lm_status load_trunk(const loader *ld, const lm_ynode *seq)
{
    lm_status st = lm_yexpect(ld->doc, seq, LM_YNODE_SEQUENCE, "trunk");
    for (size_t i = 0; st == LM_OK && i < seq->count; i++)
        st = trunk_entry(ld, seq->items[i], i + 1);
    return st;
}

/* ---- skips, barriers, identity options ------------------------------------ */

static lm_status skip_projection(const loader *ld, const lm_ynode *m,
                                 const char *what, size_t index)
{
    static const char *const keys[] = {"name", "stride", "bias", "bn", NULL};
    char field[96];
    snprintf(field, sizeof field, "%s: projection", what);
    int64_t stride;
    int bias;
    const char *name;
    lm_status st = lm_ycheck_keys(ld->doc, m, field, keys);
    if (st == LM_OK) st = get_str(ld, m, "name", field, &name);
    if (st == LM_OK) st = get_int(ld, m, "stride", field, 0, 1, 1, &stride);
    if (st == LM_OK) st = get_bool(ld, m, "bias", field, 0, &bias);
    if (st == LM_OK)
        st = at_node(ld, m, lm_graph_set_skip_projection(ld->g, index, name,
                                                         stride, bias));
    const lm_ynode *bn = lm_ymap_get(m, "bn");
    if (st == LM_OK && bn) {
        double eps;
        st = get_bn(ld, bn, field, &name, &eps);
        if (st == LM_OK)
            st = at_node(ld, bn, lm_graph_set_skip_bn(ld->g, index, name, eps));
    }
    return st;
}

static lm_status skip_entry(const loader *ld, const lm_ynode *m, size_t i)
{
    static const char *const keys[] = {"from", "to", "projection", "mode",
                                       NULL};
    char what[48];
    snprintf(what, sizeof what, "skip %zu", i);
    int64_t from, to;
    const char *mode = NULL;
    lm_status st = lm_ycheck_keys(ld->doc, m, what, keys);
    if (st == LM_OK) st = get_int(ld, m, "from", what, 1, 0, 0, &from);
    if (st == LM_OK) st = get_int(ld, m, "to", what, 1, 0, 0, &to);
    if (st == LM_OK) st = get_str(ld, m, "mode", what, &mode);
    if (st != LM_OK)
        return st;
    int concat = mode && !strcmp(mode, "concat");
    if (mode && !concat && strcmp(mode, "add"))
        return lm_yerr(ld->doc, lm_ymap_get(m, "mode"), LM_ERR_PARSE,
                       "%s: mode '%s' is neither add nor concat", what, mode);
    if (concat && lm_ymap_get(m, "projection"))
        return lm_yerr(ld->doc, lm_ymap_get(m, "projection"), LM_ERR_PARSE,
                       "%s: a concatenation has no projection", what);
    size_t n = ld->g->n_convs;
    if (from >= to || (uint64_t)to > n)
        return lm_yerr(ld->doc, m, LM_ERR_PARSE,
                       "%s (%lld -> %lld): %s", what, (long long)from,
                       (long long)to,
                       from >= to ? "from must be less than to"
                                  : "target position does not exist");
    st = at_node(ld, m, concat ? lm_graph_add_concat(ld->g, (size_t)from,
                                                     (size_t)to)
                               : lm_graph_add_skip(ld->g, (size_t)from,
                                                   (size_t)to));
    const lm_ynode *proj = lm_ymap_get(m, "projection");
    if (st == LM_OK && proj)
        st = skip_projection(ld, proj, what, i);
    return st;
}

static lm_status load_skips(const loader *ld, const lm_ynode *seq)
{
    if (!seq)
        return LM_OK;
    lm_status st = lm_yexpect(ld->doc, seq, LM_YNODE_SEQUENCE, "skips");
    for (size_t i = 0; st == LM_OK && i < seq->count; i++)
        st = skip_entry(ld, seq->items[i], i);
    return st;
}

/* `barriers` (0..N) or `identity_options` (1..N). */
static lm_status load_positions(const loader *ld, const lm_ynode *seq,
                                const char *what, int64_t min)
{
    if (!seq)
        return LM_OK;
    lm_status st = lm_yexpect(ld->doc, seq, LM_YNODE_SEQUENCE, what);
    for (size_t i = 0; st == LM_OK && i < seq->count; i++) {
        int64_t p;
        const lm_ynode *n = seq->items[i];
        st = lm_yget_int(ld->doc, n, what, &p);
        if (st == LM_OK && (p < min || (uint64_t)p > ld->g->n_convs))
            return lm_yerr(ld->doc, n, LM_ERR_PARSE,
                           "%s: position %lld out of range %lld..%zu", what,
                           (long long)p, (long long)min, ld->g->n_convs);
        if (st == LM_OK && min == 0)
            st = at_node(ld, n, lm_graph_set_barrier(ld->g, (size_t)p, 1));
        else if (st == LM_OK)
            st = at_node(ld, n,
                         lm_graph_set_identity_option(ld->g, (size_t)p, 1));
    }
    return st;
}

/* ---- the document ---------------------------------------------------------- */

static lm_status check_header(const lm_ydoc *doc, const lm_ynode *root)
{
    static const char *const keys[] = {"format", "version", "name", "input",
        "nonlinearity", "stem", "trunk", "skips", "barriers",
        "identity_options", "head", "time_embedding", NULL};
    if (!root)
        return lm_yerr(doc, NULL, LM_ERR_PARSE, "empty document");
    lm_status st = lm_ycheck_keys(doc, root, "graph", keys);
    const lm_ynode *n = lm_ymap_get(root, "format");
    const char *format = NULL;
    int64_t version = 0;
    if (st == LM_OK && !n)
        st = lm_yerr(doc, root, LM_ERR_PARSE, "graph: missing key 'format'");
    if (st == LM_OK) st = lm_yget_string(doc, n, "format", &format);
    if (st == LM_OK && strcmp(format, "layermerge-graph"))
        st = lm_yerr(doc, n, LM_ERR_PARSE,
                     "format '%s' is not layermerge-graph", format);
    n = lm_ymap_get(root, "version");
    if (st == LM_OK && !n)
        st = lm_yerr(doc, root, LM_ERR_PARSE, "graph: missing key 'version'");
    if (st == LM_OK) st = lm_yget_int(doc, n, "version", &version);
    if (st == LM_OK && version != 1)
        st = lm_yerr(doc, n, LM_ERR_PARSE,
                     "unsupported graph version %lld (this library reads 1)",
                     (long long)version);
    return st;
}

static lm_status create_from_input(const lm_ydoc *doc, const lm_ynode *root,
                                   lm_graph **out)
{
    static const char *const keys[] = {"channels", "height", "width", NULL};
    loader ld = {doc, NULL};
    const lm_ynode *in = NULL;
    int64_t c, h, w;
    lm_status st = require(&ld, root, "input", "graph", &in);
    if (st == LM_OK) st = lm_ycheck_keys(doc, in, "input", keys);
    if (st == LM_OK) st = get_int(&ld, in, "channels", "input", 1, 0, 1, &c);
    if (st == LM_OK) st = get_int(&ld, in, "height", "input", 1, 0, 1, &h);
    if (st == LM_OK) st = get_int(&ld, in, "width", "input", 1, 0, 1, &w);
    if (st == LM_OK)
        st = at_node(&ld, in, lm_graph_create(out, c, h, w));
    return st;
}

/* {dim, channels, names: [dense0, dense1]} */
static lm_status load_time_embedding(const loader *ld, const lm_ynode *m)
{
    static const char *const keys[] = {"dim", "channels", "names", NULL};
    const char *what = "time_embedding";
    int64_t dim, channels;
    const char *names[2] = {NULL, NULL};
    lm_status st = lm_yexpect(ld->doc, m, LM_YNODE_MAPPING, what);
    if (st == LM_OK) st = lm_ycheck_keys(ld->doc, m, what, keys);
    if (st == LM_OK) st = get_int(ld, m, "dim", what, 1, 0, 1, &dim);
    if (st == LM_OK) st = get_int(ld, m, "channels", what, 1, 0, 1, &channels);
    const lm_ynode *seq = lm_ymap_get(m, "names");
    if (st == LM_OK && seq) {
        st = lm_yexpect(ld->doc, seq, LM_YNODE_SEQUENCE, "time_embedding: names");
        if (st == LM_OK && seq->count != 2)
            st = lm_yerr(ld->doc, seq, LM_ERR_PARSE, "time_embedding: names "
                         "lists the two dense layers, found %zu", seq->count);
        for (size_t i = 0; st == LM_OK && i < 2; i++)
            st = lm_yget_string(ld->doc, seq->items[i],
                                "time_embedding: names", &names[i]);
    }
    if (st != LM_OK)
        return st;
    return at_node(ld, m, lm_graph_set_time_embedding(ld->g, dim, channels,
                                                      names[0], names[1]));
}

static lm_status load_body(const loader *ld, const lm_ynode *root)
{
    const char *name = NULL;
    const lm_ynode *n = lm_ymap_get(root, "nonlinearity"), *trunk = NULL;
    lm_status st = get_str(ld, root, "name", "graph", &name);
    if (st == LM_OK && name)
        st = lm_graph_set_name(ld->g, name);
    if (st == LM_OK && n) {
        lm_act act;
        st = get_act(ld, n, "nonlinearity", &act);
        if (st == LM_OK)
            st = at_node(ld, n, lm_graph_set_nonlinearity(ld->g, act));
    }
    const lm_ynode *temb = lm_ymap_get(root, "time_embedding");
    if (st == LM_OK && temb)
        st = load_time_embedding(ld, temb);
    if (st == LM_OK)
        st = load_layers(ld, lm_ymap_get(root, "stem"), "stem",
                         (layer_site){LM_SITE_STEM, 0});
    if (st == LM_OK) st = require(ld, root, "trunk", "graph", &trunk);
    if (st == LM_OK) st = load_trunk(ld, trunk);
    if (st == LM_OK) st = load_skips(ld, lm_ymap_get(root, "skips"));
    if (st == LM_OK)
        st = load_positions(ld, lm_ymap_get(root, "barriers"), "barriers", 0);
    if (st == LM_OK)
        st = load_positions(ld, lm_ymap_get(root, "identity_options"),
                            "identity_options", 1);
    if (st == LM_OK)
        st = load_layers(ld, lm_ymap_get(root, "head"), "head",
                         (layer_site){LM_SITE_HEAD, 0});
    if (st == LM_OK && lm_graph_validate(ld->g) != LM_OK)
        st = lm_err_prefix(LM_ERR_VALIDATION, "%s: ", ld->doc->source);
    return st;
}

static lm_status load_doc(lm_graph **out, const lm_ydoc *doc)
{
    lm_graph *g = NULL;
    lm_status st = check_header(doc, doc->root);
    if (st == LM_OK)
        st = create_from_input(doc, doc->root, &g);
    if (st == LM_OK) {
        loader ld = {doc, g};
        st = load_body(&ld, doc->root);
    }
    if (st != LM_OK) {
        lm_graph_destroy(g);
        return st;
    }
    *out = g;
    return LM_OK;
}

lm_status lm_graph_load(lm_graph **out, const char *path)
{
    if (!out || !path)
        return lm_err(LM_ERR_INVALID_ARG, "lm_graph_load: NULL argument");
    *out = NULL;
    lm_ydoc doc;
    lm_status st = lm_ydoc_load_file(&doc, path);
    if (st != LM_OK)
        return st;
    st = load_doc(out, &doc);
    lm_ydoc_free(&doc);
    return st;
}

lm_status lm_graph_load_string(lm_graph **out, const char *text, size_t len)
{
    if (!out || (!text && len))
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_graph_load_string: NULL argument");
    *out = NULL;
    lm_ydoc doc;
    lm_status st = lm_ydoc_load_string(&doc, "<string>", text, len);
    if (st != LM_OK)
        return st;
    st = load_doc(out, &doc);
    lm_ydoc_free(&doc);
    return st;
}
