/* The graph's life cycle and the calls that build it. Every change clears
 * the validated state, so shapes and the fingerprint are never stale. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/limits.h"
#include "core/record.h"
#include "core/util.h"
#include "graph/graph_internal.h"

static const char *const act_names[] = {
    "identity", "relu", "relu6", "silu", "gelu", "hardswish", "sigmoid",
    "tanh"};
#define N_ACTS (sizeof act_names / sizeof act_names[0])

static const char *const kind_names[] = {
    NULL, "conv", "batchnorm", "act", "maxpool", "avgpool",
    "adaptive_avgpool", "flatten", "linear", "groupnorm", "pad", "upsample",
    "attention"};
#define N_KINDS (sizeof kind_names / sizeof kind_names[0])

const char *lm_act_name(lm_act act)
{
    return (unsigned)act < N_ACTS ? act_names[act] : NULL;
}

lm_status lm_act_from_name(lm_act *out, const char *name)
{
    if (!out || !name)
        return lm_err(LM_ERR_INVALID_ARG, "lm_act_from_name: NULL argument");
    for (size_t i = 0; i < N_ACTS; i++)
        if (!strcmp(name, act_names[i])) {
            *out = (lm_act)i;
            return LM_OK;
        }
    return lm_err(LM_ERR_NOT_FOUND, "unknown activation '%s'", name);
}

const char *lm_layer_kind_name(lm_layer_kind kind)
{
    return (unsigned)kind < N_KINDS ? kind_names[kind] : NULL;
}

static int act_ok(lm_act act)
{
    return (unsigned)act < N_ACTS;
}

/* ---- limits (core/limits.h) ---------------------------------------------- */

lm_status lm_graph_check_dim(const char *what, const char *field,
                             int64_t value)
{
    if (value <= LM_DIM_MAX)
        return LM_OK;
    return lm_err(LM_ERR_INVALID_ARG, "%s: %s %lld is above the limit of "
                  "%lld", what, field, (long long)value,
                  (long long)LM_DIM_MAX);
}

lm_status lm_graph_check_numel(const char *what, const char *tensor,
                               const int64_t *dims, size_t n)
{
    int64_t numel = 1;
    int over = 0;
    for (size_t i = 0; i < n && !over; i++)
        over = dims[i] < 0 || lm_mul_overflow_i64(numel, dims[i], &numel) ||
               numel > LM_NUMEL_MAX;
    if (!over)
        return LM_OK;
    char shape[128] = "";
    for (size_t i = 0, at = 0; i < n && at < sizeof shape; i++)
        at += (size_t)snprintf(shape + at, sizeof shape - at, "%s%lld",
                               i ? "x" : "", (long long)dims[i]);
    return lm_err(LM_ERR_INVALID_ARG, "%s: %s %s has more than 2^40 (%lld) "
                  "elements", what, tensor, shape, (long long)LM_NUMEL_MAX);
}

lm_status lm_graph_check_input(int64_t channels, int64_t height,
                               int64_t width)
{
    if (channels <= 0 || height <= 0 || width <= 0)
        return lm_err(LM_ERR_INVALID_ARG,
                      "input shape %lldx%lldx%lld must be positive",
                      (long long)channels, (long long)height,
                      (long long)width);
    lm_status st = lm_graph_check_dim("input", "channels", channels);
    if (st == LM_OK)
        st = lm_graph_check_dim("input", "height", height);
    if (st == LM_OK)
        st = lm_graph_check_dim("input", "width", width);
    const int64_t dims[3] = {channels, height, width};
    if (st == LM_OK)
        st = lm_graph_check_numel("input", "shape", dims, 3);
    return st;
}

/* ---- life cycle --------------------------------------------------------- */

static lm_status ensure_positions(lm_graph *g, size_t n)
{
    size_t old = g->cap_pos;
    lm_status st = LM_GROW(g->pos, g->cap_pos, n);
    if (st == LM_OK && g->cap_pos > old)
        memset(g->pos + old, 0, (g->cap_pos - old) * sizeof *g->pos);
    return st;
}

lm_status lm_graph_create(lm_graph **out, int64_t channels, int64_t height,
                          int64_t width)
{
    if (!out)
        return lm_err(LM_ERR_INVALID_ARG, "lm_graph_create: NULL out");
    *out = NULL;
    lm_status st = lm_graph_check_input(channels, height, width);
    if (st != LM_OK)
        return st;
    lm_graph *g = calloc(1, sizeof *g);
    if (!g)
        return lm_err_nomem();
    g->input = (lm_gshape){channels, height, width};
    if (ensure_positions(g, 1) != LM_OK) {
        free(g);
        return lm_err_nomem();
    }
    *out = g;
    return LM_OK;
}

static void list_free(lm_glist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i].name);
    free(l->items);
}

static void conv_free(lm_gconv *c)
{
    free(c->name);
    free(c->bn_name);
    free(c->gn_name);
    free(c->tproj_name);
    list_free(&c->pre);
}

void lm_graph_destroy(lm_graph *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_convs; i++)
        conv_free(&g->convs[i]);
    for (size_t p = 0; g->pos && p <= g->n_convs; p++)
        list_free(&g->pos[p].layers);
    for (size_t s = 0; s < g->n_skips; s++)
        conv_free(&g->skips[s].proj);
    list_free(&g->stem);
    list_free(&g->head);
    free(g->temb_name[0]);
    free(g->temb_name[1]);
    free(g->convs);
    free(g->pos);
    free(g->skips);
    free(g->name);
    free(g);
}

/* Copy `n` items of `size` bytes into a fresh block (NULL for n = 0). */
static lm_status dup_array(void **dst, const void *src, size_t n, size_t size)
{
    *dst = NULL;
    if (n == 0)
        return LM_OK;
    *dst = malloc(n * size);
    if (!*dst)
        return lm_err_nomem();
    memcpy(*dst, src, n * size);
    return LM_OK;
}

/* Replace *s (a shallow copy's pointer) by its own copy. */
static int dup_str(char **s)
{
    if (!*s)
        return 1;
    *s = lm_strdup(*s);
    return *s != NULL;
}

static int dup_list(lm_glist *l)
{
    void *items = NULL;
    if (dup_array(&items, l->items, l->n, sizeof *l->items) != LM_OK) {
        *l = (lm_glist){0};
        return 0;
    }
    l->items = items;
    l->cap = l->n;
    int ok = 1;
    for (size_t i = 0; i < l->n; i++)
        ok &= dup_str(&l->items[i].name);
    return ok;
}

/* Deep-copy every owned block of a shallow copy. On failure the copy is
 * still safe to destroy: each pointer is either a copy or NULL. */
static int deep_copy(lm_graph *c, const lm_graph *g)
{
    int ok = dup_str(&c->name) & dup_list(&c->stem) & dup_list(&c->head) &
             dup_str(&c->temb_name[0]) & dup_str(&c->temb_name[1]);
    void *convs = NULL, *pos = NULL, *skips = NULL;
    c->convs = NULL;
    c->pos = NULL;
    c->n_convs = c->cap_convs = c->cap_pos = 0;
    if (dup_array(&convs, g->convs, g->n_convs, sizeof *g->convs) == LM_OK &&
        dup_array(&pos, g->pos, g->n_convs + 1, sizeof *g->pos) == LM_OK) {
        c->convs = convs;
        c->pos = pos;
        c->n_convs = c->cap_convs = g->n_convs;
        c->cap_pos = g->n_convs + 1;
        for (size_t i = 0; i < c->n_convs; i++)
            ok &= dup_str(&c->convs[i].name) & dup_str(&c->convs[i].bn_name) &
                  dup_str(&c->convs[i].gn_name) &
                  dup_str(&c->convs[i].tproj_name) &
                  dup_list(&c->convs[i].pre);
        for (size_t p = 0; p <= c->n_convs; p++)
            ok &= dup_list(&c->pos[p].layers);
    } else {
        free(convs);
        ok = 0;
    }
    c->skips = NULL;
    c->n_skips = c->cap_skips = 0;
    if (dup_array(&skips, g->skips, g->n_skips, sizeof *g->skips) == LM_OK) {
        c->skips = skips;
        c->n_skips = c->cap_skips = g->n_skips;
        for (size_t s = 0; s < c->n_skips; s++)
            ok &= dup_str(&c->skips[s].proj.name) &
                  dup_str(&c->skips[s].proj.bn_name);
    } else {
        ok = 0;
    }
    return ok;
}

lm_status lm_graph_clone(lm_graph **out, const lm_graph *g)
{
    if (!out || !g)
        return lm_err(LM_ERR_INVALID_ARG, "lm_graph_clone: NULL argument");
    *out = NULL;
    lm_graph *c = malloc(sizeof *c);
    if (!c)
        return lm_err_nomem();
    *c = *g;
    if (!deep_copy(c, g)) {
        lm_graph_destroy(c);
        return lm_err_nomem();
    }
    *out = c;
    return LM_OK;
}

/* ---- building ------------------------------------------------------------ */

static lm_status need_graph(const lm_graph *g, const char *fn)
{
    if (!g)
        return lm_err(LM_ERR_INVALID_ARG, "%s: NULL graph", fn);
    return LM_OK;
}

/* Replace an owned string by a copy of `s` (NULL clears it). */
static lm_status set_str(char **dst, const char *s)
{
    char *copy = lm_strdup(s);
    if (s && !copy)
        return lm_err_nomem();
    free(*dst);
    *dst = copy;
    return LM_OK;
}

/* ---- unique module names ---------------------------------------------------- */

/* Names are the module names of the weights (name.weight, name.bias, ...):
 * two modules with one name would share tensors. */
static int same_name(const char *a, const char *b, const char *const *slot,
                     const char *const *except)
{
    return slot != except && a && *a && !strcmp(a, b);
}

static int list_owner(const lm_glist *l, const char *name,
                      const char *const *except, const char *site, char *who,
                      size_t cap)
{
    for (size_t i = 0; i < l->n; i++)
        if (same_name(l->items[i].name, name,
                      (const char *const *)&l->items[i].name, except)) {
            snprintf(who, cap, "%s layer %zu (%s)", site, i,
                     lm_layer_kind_name(l->items[i].kind));
            return 1;
        }
    return 0;
}

/* 1 when a module other than the one stored at `except` is called `name`;
 * `who` says which. */
static int name_owner(const lm_graph *g, const char *name,
                      const char *const *except, char *who, size_t cap)
{
    char site[48];
    for (size_t i = 0; i < g->n_convs; i++) {
        const lm_gconv *c = &g->convs[i];
        if (same_name(c->name, name, (const char *const *)&c->name, except)) {
            snprintf(who, cap, "conv %zu", i + 1);
            return 1;
        }
        if (same_name(c->bn_name, name, (const char *const *)&c->bn_name,
                      except)) {
            snprintf(who, cap, "the batch norm of conv %zu", i + 1);
            return 1;
        }
        if (same_name(c->gn_name, name, (const char *const *)&c->gn_name,
                      except)) {
            snprintf(who, cap, "the group norm of conv %zu", i + 1);
            return 1;
        }
        if (same_name(c->tproj_name, name,
                      (const char *const *)&c->tproj_name, except)) {
            snprintf(who, cap, "the time projection of conv %zu", i + 1);
            return 1;
        }
        snprintf(site, sizeof site, "conv %zu pre", i + 1);
        if (list_owner(&c->pre, name, except, site, who, cap))
            return 1;
    }
    for (int i = 0; i < 2; i++)
        if (same_name(g->temb_name[i], name,
                      (const char *const *)&g->temb_name[i], except)) {
            snprintf(who, cap, "the time embedding's dense %d", i);
            return 1;
        }
    for (size_t i = 0; i < g->n_skips; i++) {
        const lm_gconv *p = &g->skips[i].proj;
        if (same_name(p->name, name, (const char *const *)&p->name, except)) {
            snprintf(who, cap, "the projection of skip %zu", i);
            return 1;
        }
        if (same_name(p->bn_name, name, (const char *const *)&p->bn_name,
                      except)) {
            snprintf(who, cap, "the batch norm of skip %zu's projection", i);
            return 1;
        }
    }
    if (list_owner(&g->stem, name, except, "stem", who, cap) ||
        list_owner(&g->head, name, except, "head", who, cap))
        return 1;
    for (size_t p = 1; p <= g->n_convs; p++) {
        snprintf(site, sizeof site, "position %zu", p);
        if (list_owner(&g->pos[p].layers, name, except, site, who, cap))
            return 1;
    }
    return 0;
}

/* LM_ERR_DUPLICATE "<what>: name 'x' is already the name of <other>". */
static lm_status check_unique_name(const lm_graph *g, const char *name,
                                   char *const *slot, const char *what)
{
    char who[96];
    if (!name || !*name ||
        !name_owner(g, name, (const char *const *)slot, who, sizeof who))
        return LM_OK;
    return lm_err(LM_ERR_DUPLICATE, "%s: name '%s' is already the name of %s",
                  what, name, who);
}

lm_status lm_graph_set_name(lm_graph *g, const char *name)
{
    lm_status st = need_graph(g, "lm_graph_set_name");
    if (st != LM_OK)
        return st;
    g->valid = 0;
    return set_str(&g->name, name);
}

lm_status lm_graph_set_input_shape(lm_graph *g, int64_t channels,
                                   int64_t height, int64_t width)
{
    lm_status st = need_graph(g, "lm_graph_set_input_shape");
    if (st != LM_OK)
        return st;
    if ((st = lm_graph_check_input(channels, height, width)) != LM_OK)
        return st;
    g->input = (lm_gshape){channels, height, width};
    g->valid = 0;
    return LM_OK;
}

lm_status lm_graph_set_nonlinearity(lm_graph *g, lm_act act)
{
    lm_status st = need_graph(g, "lm_graph_set_nonlinearity");
    if (st != LM_OK)
        return st;
    if (!act_ok(act))
        return lm_err(LM_ERR_INVALID_ARG, "unknown activation %d", (int)act);
    g->has_nonlinearity = 1;
    g->nonlinearity = act;
    g->valid = 0;
    return LM_OK;
}

/* Sizes shared by trunk and fixed convs. */
static lm_status check_conv_args(const char *what, int64_t in, int64_t out,
                                 int64_t kernel, int64_t stride,
                                 int64_t padding, int64_t groups)
{
    if (in <= 0 || out <= 0 || kernel <= 0 || stride <= 0 || groups <= 0)
        return lm_err(LM_ERR_INVALID_ARG,
                      "%s: channels, kernel, stride and groups must be "
                      "positive (in %lld, out %lld, kernel %lld, stride "
                      "%lld, groups %lld)", what, (long long)in,
                      (long long)out, (long long)kernel, (long long)stride,
                      (long long)groups);
    if (kernel % 2 == 0)
        return lm_err(LM_ERR_INVALID_ARG, "%s: kernel %lld is even", what,
                      (long long)kernel);
    if (padding < 0)
        return lm_err(LM_ERR_INVALID_ARG, "%s: padding %lld is negative",
                      what, (long long)padding);
    const char *const fields[5] = {"in_channels", "out_channels", "kernel",
                                   "stride", "padding"};
    const int64_t values[5] = {in, out, kernel, stride, padding};
    for (int i = 0; i < 5; i++) {
        lm_status st = lm_graph_check_dim(what, fields[i], values[i]);
        if (st != LM_OK)
            return st;
    }
    if (groups != 1 && !(groups == in && groups == out))
        return lm_err(LM_ERR_UNSUPPORTED,
                      "%s: groups %lld with %lld -> %lld channels: only "
                      "dense (1) or depthwise (= channels) convs are "
                      "supported", what, (long long)groups, (long long)in,
                      (long long)out);
    const int64_t weight[4] = {out, in / groups, kernel, kernel};
    return lm_graph_check_numel(what, "weight", weight, 4);
}

lm_status lm_graph_add_conv(lm_graph *g, const lm_conv_desc *conv,
                            lm_act act)
{
    lm_status st = need_graph(g, "lm_graph_add_conv");
    if (st != LM_OK)
        return st;
    char what[64];
    snprintf(what, sizeof what, "conv %zu", g->n_convs + 1);
    if ((st = lm_record_check(conv, sizeof *conv, what)) != LM_OK)
        return st;
    st = check_conv_args(what, conv->in_channels, conv->out_channels,
                         conv->kernel, conv->stride, conv->padding,
                         conv->groups);
    if (st != LM_OK)
        return st;
    if (!act_ok(act))
        return lm_err(LM_ERR_INVALID_ARG, "%s: unknown activation %d", what,
                      (int)act);
    if ((st = check_unique_name(g, conv->name, NULL, what)) != LM_OK)
        return st;
    if ((st = LM_GROW(g->convs, g->cap_convs, g->n_convs + 1)) != LM_OK ||
        (st = ensure_positions(g, g->n_convs + 2)) != LM_OK)
        return st;
    lm_gconv c = {.in = conv->in_channels, .out = conv->out_channels,
                  .kernel = conv->kernel, .stride = conv->stride,
                  .padding = conv->padding, .groups = conv->groups,
                  .has_bias = !!conv->has_bias,
                  .name = lm_strdup(conv->name)};
    if (conv->name && !c.name)
        return lm_err_nomem();
    g->convs[g->n_convs++] = c;
    g->pos[g->n_convs] = (lm_gpos){.act = act};
    g->valid = 0;
    return LM_OK;
}

static lm_status check_conv_index(const lm_graph *g, size_t conv,
                                  const char *fn)
{
    lm_status st = need_graph(g, fn);
    if (st == LM_OK && (conv < 1 || conv > g->n_convs))
        st = lm_err(LM_ERR_INVALID_ARG, "%s: conv %zu out of range 1..%zu",
                    fn, conv, g->n_convs);
    return st;
}

static lm_status check_eps(double eps, const char *what)
{
    if (!(eps > 0.0) || eps > 1.0)
        return lm_err(LM_ERR_INVALID_ARG, "%s: eps %g must be in (0, 1]",
                      what, eps);
    return LM_OK;
}

static lm_status set_bn(lm_gconv *c, const char *name, double eps,
                        const char *what)
{
    lm_status st = check_eps(eps, what);
    if (st == LM_OK)
        st = set_str(&c->bn_name, name);
    if (st == LM_OK) {
        c->has_bn = 1;
        c->bn_eps = eps;
    }
    return st;
}

lm_status lm_graph_set_conv_bn(lm_graph *g, size_t conv, const char *name,
                               double eps)
{
    lm_status st = check_conv_index(g, conv, "lm_graph_set_conv_bn");
    char what[64];
    snprintf(what, sizeof what, "the batch norm of conv %zu", conv);
    if (st == LM_OK && g->convs[conv - 1].has_gn)
        st = lm_err(LM_ERR_INVALID_ARG, "%s: conv %zu already has a group "
                    "norm", what, conv);
    if (st == LM_OK)
        st = check_unique_name(g, name, &g->convs[conv - 1].bn_name, what);
    if (st != LM_OK)
        return st;
    g->valid = 0;
    return set_bn(&g->convs[conv - 1], name, eps, "batch norm");
}

lm_status lm_graph_set_activation(lm_graph *g, size_t position, lm_act act)
{
    lm_status st = check_conv_index(g, position, "lm_graph_set_activation");
    if (st != LM_OK)
        return st;
    if (!act_ok(act))
        return lm_err(LM_ERR_INVALID_ARG, "unknown activation %d", (int)act);
    g->pos[position].act = act;
    g->valid = 0;
    return LM_OK;
}

lm_status lm_graph_add_skip(lm_graph *g, size_t source, size_t target)
{
    lm_status st = need_graph(g, "lm_graph_add_skip");
    if (st != LM_OK)
        return st;
    if (source >= target || target > g->n_convs)
        return lm_err(LM_ERR_INVALID_ARG,
                      "skip %zu (%zu -> %zu): need source < target <= %zu",
                      g->n_skips, source, target, g->n_convs);
    if ((st = LM_GROW(g->skips, g->cap_skips, g->n_skips + 1)) != LM_OK)
        return st;
    g->skips[g->n_skips++] = (lm_gskip){.source = source, .target = target};
    g->valid = 0;
    return LM_OK;
}

static lm_status check_skip_index(const lm_graph *g, size_t skip,
                                  const char *fn)
{
    lm_status st = need_graph(g, fn);
    if (st == LM_OK && skip >= g->n_skips)
        st = lm_err(LM_ERR_INVALID_ARG, "%s: skip %zu out of range (%zu skips)",
                    fn, skip, g->n_skips);
    return st;
}

lm_status lm_graph_set_skip_projection(lm_graph *g, size_t skip,
                                       const char *name, int64_t stride,
                                       int has_bias)
{
    lm_status st = check_skip_index(g, skip, "lm_graph_set_skip_projection");
    if (st != LM_OK)
        return st;
    if (stride <= 0 || stride > LM_DIM_MAX)
        return lm_err(LM_ERR_INVALID_ARG,
                      "skip %zu: projection stride %lld must be positive "
                      "and at most %lld", skip, (long long)stride,
                      (long long)LM_DIM_MAX);
    lm_gskip *s = &g->skips[skip];
    if (s->concat)
        return lm_err(LM_ERR_INVALID_ARG, "skip %zu (%zu -> %zu) is a "
                      "concatenation, which has no projection", skip,
                      s->source, s->target);
    char what[64];
    snprintf(what, sizeof what, "the projection of skip %zu", skip);
    if ((st = check_unique_name(g, name, &s->proj.name, what)) != LM_OK ||
        (st = set_str(&s->proj.name, name)) != LM_OK)
        return st;
    s->has_proj = 1;
    s->proj.kernel = 1;
    s->proj.stride = stride;
    s->proj.groups = 1;
    s->proj.has_bias = !!has_bias;
    g->valid = 0;
    return LM_OK;
}

lm_status lm_graph_set_skip_bn(lm_graph *g, size_t skip, const char *name,
                               double eps)
{
    lm_status st = check_skip_index(g, skip, "lm_graph_set_skip_bn");
    if (st != LM_OK)
        return st;
    if (!g->skips[skip].has_proj)
        return lm_err(LM_ERR_STATE, "skip %zu has no projection", skip);
    char what[64];
    snprintf(what, sizeof what, "the batch norm of skip %zu's projection",
             skip);
    if ((st = check_unique_name(g, name, &g->skips[skip].proj.bn_name,
                                what)) != LM_OK)
        return st;
    g->valid = 0;
    return set_bn(&g->skips[skip].proj, name, eps, "skip batch norm");
}

lm_status lm_graph_set_barrier(lm_graph *g, size_t position, int is_barrier)
{
    lm_status st = need_graph(g, "lm_graph_set_barrier");
    if (st != LM_OK)
        return st;
    if (position > g->n_convs)
        return lm_err(LM_ERR_INVALID_ARG,
                      "barrier: position %zu out of range 0..%zu", position,
                      g->n_convs);
    g->pos[position].barrier = !!is_barrier;
    g->valid = 0;
    return LM_OK;
}

lm_status lm_graph_set_identity_option(lm_graph *g, size_t position,
                                       int allowed)
{
    lm_status st = check_conv_index(g, position,
                                    "lm_graph_set_identity_option");
    if (st != LM_OK)
        return st;
    g->pos[position].identity_option = !!allowed;
    g->valid = 0;
    return LM_OK;
}

/* ---- fixed layers ---------------------------------------------------------- */

static lm_status site_list(lm_graph *g, lm_site site, size_t position,
                           lm_glist **out)
{
    if (!g)
        return lm_err(LM_ERR_INVALID_ARG, "fixed layer: NULL graph");
    if (site == LM_SITE_STEM)
        *out = &g->stem;
    else if (site == LM_SITE_HEAD)
        *out = &g->head;
    else if (site == LM_SITE_POSITION && position >= 1 &&
             position <= g->n_convs)
        *out = &g->pos[position].layers;
    else if (site == LM_SITE_PRE && position >= 1 && position <= g->n_convs)
        *out = &g->convs[position - 1].pre;
    else if (site == LM_SITE_PRE)
        return lm_err(LM_ERR_INVALID_ARG,
                      "fixed layer in front of conv %zu: out of range 1..%zu",
                      position, g->n_convs);
    else if (site == LM_SITE_POSITION)
        return lm_err(LM_ERR_INVALID_ARG,
                      "fixed layer at position %zu: out of range 1..%zu "
                      "(layers before the trunk belong to the stem)",
                      position, g->n_convs);
    else
        return lm_err(LM_ERR_INVALID_ARG, "fixed layer: unknown site %d",
                      (int)site);
    return LM_OK;
}

/* Append `l` (its name is copied) to the list of a site. */
static lm_status append_layer(lm_graph *g, lm_site site, size_t position,
                              lm_glayer l, const char *name)
{
    lm_glist *list = NULL;
    lm_status st = site_list(g, site, position, &list);
    if (st != LM_OK)
        return st;
    char what[80];
    if (site == LM_SITE_POSITION)
        snprintf(what, sizeof what, "position %zu layer %zu (%s)", position,
                 list->n, lm_layer_kind_name(l.kind));
    else if (site == LM_SITE_PRE)
        snprintf(what, sizeof what, "conv %zu pre layer %zu (%s)", position,
                 list->n, lm_layer_kind_name(l.kind));
    else
        snprintf(what, sizeof what, "%s layer %zu (%s)",
                 site == LM_SITE_STEM ? "stem" : "head", list->n,
                 lm_layer_kind_name(l.kind));
    if ((st = check_unique_name(g, name, NULL, what)) != LM_OK)
        return st;
    if ((st = LM_GROW(list->items, list->cap, list->n + 1)) != LM_OK)
        return st;
    l.name = lm_strdup(name);
    if (name && !l.name)
        return lm_err_nomem();
    list->items[list->n++] = l;
    g->valid = 0;
    return LM_OK;
}

lm_status lm_graph_add_layer_conv(lm_graph *g, lm_site site, size_t position,
                                  const lm_conv_desc *conv)
{
    lm_status st = lm_record_check(conv, sizeof *conv, "fixed conv");
    if (st == LM_OK)
        st = check_conv_args("fixed conv", conv->in_channels,
                             conv->out_channels, conv->kernel, conv->stride,
                             conv->padding, conv->groups);
    if (st != LM_OK)
        return st;
    lm_glayer l = {.kind = LM_LAYER_CONV, .in = conv->in_channels,
                   .out = conv->out_channels, .kernel = conv->kernel,
                   .stride = conv->stride, .padding = conv->padding,
                   .groups = conv->groups, .has_bias = !!conv->has_bias};
    return append_layer(g, site, position, l, conv->name);
}

lm_status lm_graph_add_layer_batchnorm(lm_graph *g, lm_site site,
                                       size_t position, const char *name,
                                       int64_t channels, double eps)
{
    if (channels <= 0)
        return lm_err(LM_ERR_INVALID_ARG,
                      "batchnorm: channels %lld must be positive",
                      (long long)channels);
    lm_status st = lm_graph_check_dim("batchnorm", "channels", channels);
    if (st == LM_OK)
        st = check_eps(eps, "batchnorm");
    if (st != LM_OK)
        return st;
    lm_glayer l = {.kind = LM_LAYER_BATCHNORM, .in = channels,
                   .out = channels, .eps = eps};
    return append_layer(g, site, position, l, name);
}

lm_status lm_graph_add_layer_act(lm_graph *g, lm_site site, size_t position,
                                 lm_act act)
{
    if (!act_ok(act))
        return lm_err(LM_ERR_INVALID_ARG, "act layer: unknown activation %d",
                      (int)act);
    lm_glayer l = {.kind = LM_LAYER_ACT, .act = act};
    return append_layer(g, site, position, l, NULL);
}

lm_status lm_graph_add_layer_pool(lm_graph *g, lm_site site, size_t position,
                                  lm_layer_kind kind, int64_t kernel,
                                  int64_t stride, int64_t padding)
{
    if (kind != LM_LAYER_MAXPOOL && kind != LM_LAYER_AVGPOOL)
        return lm_err(LM_ERR_INVALID_ARG, "pool: kind %d is not a pool",
                      (int)kind);
    if (kernel <= 0 || stride <= 0 || padding < 0 || padding > kernel / 2)
        return lm_err(LM_ERR_INVALID_ARG,
                      "%s: kernel %lld, stride %lld, padding %lld: need "
                      "positive kernel and stride, 0 <= padding <= kernel/2",
                      lm_layer_kind_name(kind), (long long)kernel,
                      (long long)stride, (long long)padding);
    lm_status st = lm_graph_check_dim(lm_layer_kind_name(kind), "kernel",
                                      kernel);
    if (st == LM_OK)
        st = lm_graph_check_dim(lm_layer_kind_name(kind), "stride", stride);
    if (st != LM_OK)
        return st;
    lm_glayer l = {.kind = kind, .kernel = kernel, .stride = stride,
                   .padding = padding};
    return append_layer(g, site, position, l, NULL);
}

lm_status lm_graph_add_layer_adaptive_avgpool(lm_graph *g, lm_site site,
                                              size_t position, int64_t height,
                                              int64_t width)
{
    if (height <= 0 || width <= 0)
        return lm_err(LM_ERR_INVALID_ARG,
                      "adaptive_avgpool: output %lldx%lld must be positive",
                      (long long)height, (long long)width);
    lm_status st = lm_graph_check_dim("adaptive_avgpool", "height", height);
    if (st == LM_OK)
        st = lm_graph_check_dim("adaptive_avgpool", "width", width);
    if (st != LM_OK)
        return st;
    lm_glayer l = {.kind = LM_LAYER_ADAPTIVE_AVGPOOL, .out_h = height,
                   .out_w = width};
    return append_layer(g, site, position, l, NULL);
}

lm_status lm_graph_add_layer_flatten(lm_graph *g, lm_site site,
                                     size_t position)
{
    lm_glayer l = {.kind = LM_LAYER_FLATTEN};
    return append_layer(g, site, position, l, NULL);
}

lm_status lm_graph_add_layer_linear(lm_graph *g, lm_site site,
                                    size_t position, const char *name,
                                    int64_t in_features, int64_t out_features,
                                    int has_bias)
{
    if (in_features <= 0 || out_features <= 0)
        return lm_err(LM_ERR_INVALID_ARG,
                      "linear: features %lld -> %lld must be positive",
                      (long long)in_features, (long long)out_features);
    lm_status st = lm_graph_check_dim("linear", "in_features", in_features);
    if (st == LM_OK)
        st = lm_graph_check_dim("linear", "out_features", out_features);
    const int64_t weight[2] = {out_features, in_features};
    if (st == LM_OK)
        st = lm_graph_check_numel("linear", "weight", weight, 2);
    if (st != LM_OK)
        return st;
    lm_glayer l = {.kind = LM_LAYER_LINEAR, .in = in_features,
                   .out = out_features, .has_bias = !!has_bias};
    return append_layer(g, site, position, l, name);
}

/* ---- U-Net elements ------------------------------------------------------- */

/* groups >= 1 dividing channels (checked again by validation for a conv,
 * whose channels may still change). */
static lm_status check_groups(const char *what, int64_t channels,
                              int64_t groups)
{
    if (groups <= 0 || groups > LM_DIM_MAX)
        return lm_err(LM_ERR_INVALID_ARG, "%s: groups %lld must be in "
                      "1..%lld", what, (long long)groups,
                      (long long)LM_DIM_MAX);
    if (channels > 0 && channels % groups)
        return lm_err(LM_ERR_INVALID_ARG, "%s: %lld channels do not split "
                      "into %lld groups", what, (long long)channels,
                      (long long)groups);
    return LM_OK;
}

static lm_status check_channels(const char *what, int64_t channels)
{
    if (channels <= 0)
        return lm_err(LM_ERR_INVALID_ARG, "%s: channels %lld must be "
                      "positive", what, (long long)channels);
    return lm_graph_check_dim(what, "channels", channels);
}

lm_status lm_graph_set_conv_groupnorm(lm_graph *g, size_t conv,
                                      const char *name, int64_t groups,
                                      double eps)
{
    lm_status st = check_conv_index(g, conv, "lm_graph_set_conv_groupnorm");
    char what[64];
    snprintf(what, sizeof what, "the group norm of conv %zu", conv);
    if (st != LM_OK)
        return st;
    lm_gconv *c = &g->convs[conv - 1];
    if (c->has_bn)
        return lm_err(LM_ERR_INVALID_ARG, "%s: conv %zu already has a batch "
                      "norm", what, conv);
    if ((st = check_groups(what, c->out, groups)) != LM_OK ||
        (st = check_eps(eps, what)) != LM_OK ||
        (st = check_unique_name(g, name, &c->gn_name, what)) != LM_OK ||
        (st = set_str(&c->gn_name, name)) != LM_OK)
        return st;
    c->has_gn = 1;
    c->gn_groups = groups;
    c->gn_eps = eps;
    g->valid = 0;
    return LM_OK;
}

lm_status lm_graph_set_conv_time_projection(lm_graph *g, size_t conv,
                                            const char *name)
{
    lm_status st = check_conv_index(g, conv,
                                    "lm_graph_set_conv_time_projection");
    char what[64];
    snprintf(what, sizeof what, "the time projection of conv %zu", conv);
    if (st != LM_OK)
        return st;
    lm_gconv *c = &g->convs[conv - 1];
    if ((st = check_unique_name(g, name, &c->tproj_name, what)) != LM_OK ||
        (st = set_str(&c->tproj_name, name)) != LM_OK)
        return st;
    c->has_tproj = 1;
    g->valid = 0;
    return LM_OK;
}

lm_status lm_graph_set_time_embedding(lm_graph *g, int64_t dim,
                                      int64_t channels, const char *dense0,
                                      const char *dense1)
{
    lm_status st = need_graph(g, "lm_graph_set_time_embedding");
    if (st != LM_OK)
        return st;
    /* dim / 2 - 1 divides the frequency exponent: dim >= 4. */
    if (dim < 4 || dim % 2 || channels <= 0)
        return lm_err(LM_ERR_INVALID_ARG, "time embedding: dim %lld must be "
                      "even and at least 4, channels %lld positive",
                      (long long)dim, (long long)channels);
    const int64_t w0[2] = {channels, dim}, w1[2] = {channels, channels};
    if ((st = lm_graph_check_dim("time embedding", "dim", dim)) != LM_OK ||
        (st = lm_graph_check_dim("time embedding", "channels", channels)) !=
            LM_OK ||
        (st = lm_graph_check_numel("time embedding", "dense0 weight", w0,
                                   2)) != LM_OK ||
        (st = lm_graph_check_numel("time embedding", "dense1 weight", w1,
                                   2)) != LM_OK)
        return st;
    if (dense0 && dense1 && *dense0 && !strcmp(dense0, dense1))
        return lm_err(LM_ERR_DUPLICATE, "time embedding: dense0 and dense1 "
                      "are both named '%s'", dense0);
    if ((st = check_unique_name(g, dense0, &g->temb_name[0],
                                "time embedding dense0")) != LM_OK ||
        (st = check_unique_name(g, dense1, &g->temb_name[1],
                                "time embedding dense1")) != LM_OK)
        return st;
    char *n0 = lm_strdup(dense0), *n1 = lm_strdup(dense1);
    if ((dense0 && !n0) || (dense1 && !n1)) {
        free(n0);
        free(n1);
        return lm_err_nomem();
    }
    free(g->temb_name[0]);
    free(g->temb_name[1]);
    g->temb_name[0] = n0;
    g->temb_name[1] = n1;
    g->has_temb = 1;
    g->temb_dim = dim;
    g->temb_ch = channels;
    g->valid = 0;
    return LM_OK;
}

lm_status lm_graph_add_concat(lm_graph *g, size_t source, size_t target)
{
    lm_status st = lm_graph_add_skip(g, source, target);
    if (st == LM_OK)
        g->skips[g->n_skips - 1].concat = 1;
    return st;
}

/* groupnorm and attention: a normalised layer over `channels` in
 * `groups` groups, named after its tensors. */
static lm_status add_normed(lm_graph *g, lm_site site, size_t position,
                            lm_layer_kind kind, const char *name,
                            int64_t channels, int64_t groups, double eps)
{
    const char *what = lm_layer_kind_name(kind);
    lm_status st = check_channels(what, channels);
    if (st == LM_OK) st = check_groups(what, channels, groups);
    if (st == LM_OK) st = check_eps(eps, what);
    /* attention's four c x c convs */
    const int64_t w[2] = {channels, channels};
    if (st == LM_OK && kind == LM_LAYER_ATTENTION)
        st = lm_graph_check_numel(what, "q weight", w, 2);
    if (st != LM_OK)
        return st;
    lm_glayer l = {.kind = kind, .in = channels, .out = channels,
                   .groups = groups, .eps = eps};
    return append_layer(g, site, position, l, name);
}

lm_status lm_graph_add_layer_groupnorm(lm_graph *g, lm_site site,
                                       size_t position, const char *name,
                                       int64_t channels, int64_t groups,
                                       double eps)
{
    return add_normed(g, site, position, LM_LAYER_GROUPNORM, name, channels,
                      groups, eps);
}

lm_status lm_graph_add_layer_pad(lm_graph *g, lm_site site, size_t position,
                                 int64_t top, int64_t left, int64_t bottom,
                                 int64_t right)
{
    const int64_t v[4] = {top, left, bottom, right};
    static const char *const side[4] = {"top", "left", "bottom", "right"};
    for (int i = 0; i < 4; i++) {
        if (v[i] < 0)
            return lm_err(LM_ERR_INVALID_ARG, "pad: %s %lld is negative",
                          side[i], (long long)v[i]);
        lm_status st = lm_graph_check_dim("pad", side[i], v[i]);
        if (st != LM_OK)
            return st;
    }
    lm_glayer l = {.kind = LM_LAYER_PAD, .pad_t = top, .pad_l = left,
                   .pad_b = bottom, .pad_r = right};
    return append_layer(g, site, position, l, NULL);
}

lm_status lm_graph_add_layer_upsample(lm_graph *g, lm_site site,
                                      size_t position, int64_t scale)
{
    if (scale < 1)
        return lm_err(LM_ERR_INVALID_ARG, "upsample: scale %lld must be "
                      "positive", (long long)scale);
    lm_status st = lm_graph_check_dim("upsample", "scale", scale);
    if (st != LM_OK)
        return st;
    lm_glayer l = {.kind = LM_LAYER_UPSAMPLE, .scale = scale};
    return append_layer(g, site, position, l, NULL);
}

lm_status lm_graph_add_layer_attention(lm_graph *g, lm_site site,
                                       size_t position, const char *name,
                                       int64_t channels, int64_t groups,
                                       double eps)
{
    return add_normed(g, site, position, LM_LAYER_ATTENTION, name, channels,
                      groups, eps);
}
