/* One segment of a plan as a chain (docs/method.md section 9): its kept convs
 * with their batch norms, and the skips fused into it, in the order the
 * network computes them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/strbuf.h"
#include "netmerge/netmerge_internal.h"
#include "plan/plan_query.h"
#include "graph/graph_query.h"

typedef struct seg {
    lm_chain *chain;
    const lm_graph *g;
    const lm_weights *w;
    const lm_plan *plan;
    size_t st;
    size_t *step_of; /* [end - st + 1]: chain step holding each position */
    lm_strbuf *from; /* modules whose tensors went in, or NULL */
} seg;

static lm_status push_conv(seg *s, size_t c)
{
    lm_conv_info ci = {.size = sizeof ci};
    lm_status st = lm_graph_conv_info(&ci, s->g, c);
    if (st != LM_OK)
        return st;
    size_t nw = (size_t)(ci.out_channels * (ci.in_channels / ci.groups) *
                         ci.kernel * ci.kernel);
    const float *wt = NULL, *b = NULL;
    st = lm_nm_tensor(s->w, ci.name, ".weight", nw, &wt);
    if (st == LM_OK && ci.has_bias)
        st = lm_nm_tensor(s->w, ci.name, ".bias", (size_t)ci.out_channels, &b);
    lm_nm_from_add(s->from, ci.name);
    if (st == LM_OK)
        st = lm_chain_push_conv(s->chain, &(lm_conv_desc){
            .size = sizeof(lm_conv_desc), .in_channels = ci.in_channels,
            .out_channels = ci.out_channels, .kernel = ci.kernel,
            .stride = ci.stride, .padding = ci.padding, .groups = ci.groups},
            wt, b);
    if (st != LM_OK || !ci.has_bn)
        return st;
    lm_bn_desc bn;
    lm_nm_from_add(s->from, ci.bn_name);
    st = lm_nm_bn_desc(&bn, s->w, ci.bn_name, (size_t)ci.out_channels,
                       ci.bn_eps);
    if (st == LM_OK)
        st = lm_chain_push_bn(s->chain, &bn);
    return st;
}

/* A pruned conv that a skip adds into: the sum must be a new state, since
 * later skips may still read the one before it. A depthwise 1x1 of ones
 * is that identity step; it changes no kernel, stride or padding. */
static lm_status push_identity_step(seg *s)
{
    int64_t c = lm_chain_out_channels(s->chain);
    float *ones = malloc((size_t)c * sizeof *ones);
    if (!ones)
        return lm_err_nomem();
    for (int64_t i = 0; i < c; i++)
        ones[i] = 1.0f;
    lm_conv_desc identity = {.size = sizeof identity, .in_channels = c,
                             .out_channels = c, .kernel = 1, .stride = 1,
                             .groups = c};
    lm_status st = lm_chain_push_conv(s->chain, &identity, ones, NULL);
    free(ones);
    return st;
}

/* A projection with its batch norm folded (lm_bn_fold), as a 1x1 conv. */
static lm_status push_projection(seg *s, size_t skip, size_t from)
{
    lm_conv_info proj = {.size = sizeof proj};
    lm_status st = lm_graph_skip_projection(s->g, skip, &proj);
    if (st != LM_OK)
        return st;
    const lm_conv_info *p = &proj;
    size_t in = (size_t)p->in_channels, out = (size_t)p->out_channels;
    const float *uw = NULL, *ub = NULL;
    lm_nm_folded f = {NULL, NULL};
    lm_nm_from_add(s->from, p->name);
    if (p->has_bn) {
        lm_nm_from_add(s->from, p->bn_name);
        st = lm_nm_fold(&f, s->w, p->name, p->has_bias, out, in, p->bn_name,
                        p->bn_eps);
        uw = f.weight;
        ub = f.bias;
    } else {
        st = lm_nm_tensor(s->w, p->name, ".weight", out * in, &uw);
        if (st == LM_OK && p->has_bias)
            st = lm_nm_tensor(s->w, p->name, ".bias", out, &ub);
    }
    if (st == LM_OK)
        st = lm_chain_push_projection_skip(s->chain, from, &(lm_conv_desc){
            .size = sizeof(lm_conv_desc), .in_channels = p->in_channels,
            .out_channels = p->out_channels, .kernel = 1,
            .stride = p->stride, .groups = 1}, uw, ub);
    lm_nm_folded_free(&f);
    return st;
}

static lm_status push_skip(seg *s, size_t k)
{
    lm_skip_info si = {.size = sizeof si};
    lm_status st = lm_graph_skip_info(&si, s->g, k);
    if (st != LM_OK)
        return st;
    size_t from = s->step_of[si.source - s->st];
    st = si.has_projection ? push_projection(s, k, from)
                           : lm_chain_push_identity_skip(s->chain, from);
    if (st != LM_OK)
        return lm_err_prefix(st, "skip %zu (%zu, %zu): ", k, si.source,
                             si.target);
    return LM_OK;
}

/* The first fused skip into position c from index k0 on, in graph order,
 * in *next (SIZE_MAX when there is none). */
static lm_status skips_into(const seg *s, size_t c, size_t k0, size_t *next)
{
    size_t ns = lm_graph_skip_count(s->g);
    *next = SIZE_MAX;
    for (size_t k = k0; k < ns; k++) {
        lm_skip_info si = {.size = sizeof si};
        lm_status st = lm_graph_skip_info(&si, s->g, k);
        if (st != LM_OK)
            return st;
        if (si.target == c && lm_plan_fuses_skip(s->plan, k)) {
            *next = k;
            break;
        }
    }
    return LM_OK;
}

static lm_status push_position(seg *s, size_t c)
{
    size_t k = SIZE_MAX;
    lm_status st = skips_into(s, c, 0, &k);
    if (st == LM_OK && lm_plan_keeps_conv(s->plan, c))
        st = push_conv(s, c);
    else if (st == LM_OK && k != SIZE_MAX)
        st = push_identity_step(s);
    while (st == LM_OK && k != SIZE_MAX) {
        st = push_skip(s, k);
        if (st == LM_OK)
            st = skips_into(s, c, k + 1, &k);
    }
    s->step_of[c - s->st] = lm_chain_step_count(s->chain);
    if (st != LM_OK)
        return lm_err_prefix(st, "position %zu: ", c);
    return LM_OK;
}

lm_status lm_nm_segment_chain(lm_chain **out, const lm_graph *g,
                              const lm_weights *w, const lm_plan *plan,
                              size_t st, size_t end, lm_strbuf *from)
{
    lm_conv_info first = {.size = sizeof first};
    lm_status rc = lm_graph_conv_info(&first, g, st + 1);
    if (rc != LM_OK)
        return rc;
    seg s = {.g = g, .w = w, .plan = plan, .st = st, .from = from};
    s.step_of = calloc(end - st + 1, sizeof *s.step_of);
    if (!s.step_of)
        rc = lm_err_nomem();
    if (rc == LM_OK)
        rc = lm_chain_create(&s.chain, first.in_channels);
    for (size_t c = st + 1; c <= end && rc == LM_OK; c++)
        rc = push_position(&s, c);
    free(s.step_of);
    if (rc != LM_OK) {
        lm_chain_destroy(s.chain);
        return lm_err_prefix(rc, "segment (%zu, %zu): ", st, end);
    }
    *out = s.chain;
    return LM_OK;
}
