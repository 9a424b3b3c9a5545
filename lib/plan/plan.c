/* Building a plan from a partition into segments (docs/method.md section 6,
 * 8). */
#include "plan/plan_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "entries/entries_private.h"
#include "graph/graph_query.h"

void lm_plan_destroy(lm_plan *p)
{
    if (!p)
        return;
    free(p->kept);
    free(p->padding);
    free(p->act);
    free(p->bounds);
    free(p->skip_src);
    free(p->skip_dst);
    free(p->skip_fused);
    free(p->skip_dropped);
    free(p->skip_fit);
    free(p);
}

static lm_status plan_alloc(lm_plan **out, size_t n, size_t n_bounds,
                            size_t n_skips)
{
    lm_plan *p = calloc(1, sizeof *p);
    if (!p)
        return lm_err_nomem();
    p->n_convs = n;
    p->n_bounds = n_bounds;
    p->n_skips = n_skips;
    p->kept = calloc(n, 1);
    p->padding = calloc(n, sizeof *p->padding);
    p->act = calloc(n + 1, sizeof *p->act);
    p->bounds = calloc(n_bounds, sizeof *p->bounds);
    /* +1: calloc(0) may return NULL, which must not read as failure. */
    p->skip_src = calloc(n_skips + 1, sizeof *p->skip_src);
    p->skip_dst = calloc(n_skips + 1, sizeof *p->skip_dst);
    p->skip_fused = calloc(n_skips + 1, 1);
    p->skip_dropped = calloc(n_skips + 1, 1);
    p->skip_fit = calloc(n_skips + 1, sizeof *p->skip_fit);
    if (!p->kept || !p->padding || !p->act || !p->bounds || !p->skip_src ||
        !p->skip_dst || !p->skip_fused || !p->skip_dropped || !p->skip_fit) {
        lm_plan_destroy(p);
        return lm_err_nomem();
    }
    *out = p;
    return LM_OK;
}

static int conv_irreducible(const lm_conv_info *c)
{
    return c->in_channels != c->out_channels || c->stride > 1;
}

/* Bounds must run 0 = b0 < b1 < ... < bk = N and each segment must be
 * valid (docs/method.md section 3). */
static lm_status check_bounds(const lm_graph *g, const size_t *bounds,
                              size_t n_bounds, const lm_span *spans,
                              const unsigned char *barrier)
{
    size_t n = lm_graph_conv_count(g);
    if (n_bounds < 2 || bounds[0] != 0 || bounds[n_bounds - 1] != n)
        return lm_err(LM_ERR_INVALID_ARG,
                      "segment bounds must run from 0 to %zu", n);
    for (size_t i = 0; i + 1 < n_bounds; i++) {
        size_t st = bounds[i], end = bounds[i + 1];
        if (end <= st)
            return lm_err(LM_ERR_INVALID_ARG,
                          "segment bounds not increasing at index %zu "
                          "(%zu then %zu)", i + 1, st, end);
        if (!lm_segment_is_valid(st, end, barrier, spans,
                                 lm_graph_skip_count(g)))
            return lm_err(LM_ERR_INVALID_ARG,
                          "segment (%zu, %zu) is not valid: it crosses a "
                          "barrier or a skip", st, end);
    }
    return LM_OK;
}

/* Kept convs of one segment: irreducible ones must stay, and an empty
 * segment needs the identity option at its end. Moves the segment's total
 * padding to its first kept conv, or to the segment's first conv (pruned:
 * it zero-pads) when a time projection before the first kept conv adds a
 * bias there, which the padded border must carry as the merged conv's
 * input does. */
static lm_status plan_segment(lm_plan *p, const lm_graph *g, size_t st,
                              size_t end)
{
    int64_t total = 0;
    size_t first = 0;
    for (size_t c = st + 1; c <= end; c++) {
        lm_conv_info ci = {.size = sizeof ci};
        lm_status rc = lm_graph_conv_info(&ci, g, c);
        if (rc != LM_OK)
            return rc;
        if (!p->kept[c - 1]) {
            if (conv_irreducible(&ci))
                return lm_err(LM_ERR_INVALID_ARG,
                              "conv %zu (%s) cannot be pruned: it changes "
                              "channels (%lld -> %lld) or stride (%lld)", c,
                              ci.name ? ci.name : "unnamed",
                              (long long)ci.in_channels,
                              (long long)ci.out_channels,
                              (long long)ci.stride);
            continue;
        }
        total += ci.padding;
        if (!first)
            first = c;
    }
    if (!first && !lm_graph_position_identity(g, end))
        return lm_err(LM_ERR_INVALID_ARG,
                      "segment (%zu, %zu) prunes every conv but position "
                      "%zu has no identity option", st, end, end);
    size_t at = first;
    for (size_t c = st + 1; first && c < first; c++) {
        lm_conv_info ci = {.size = sizeof ci};
        lm_status rc = lm_graph_conv_info(&ci, g, c);
        if (rc != LM_OK)
            return rc;
        if (ci.has_time_projection)
            at = st + 1;
    }
    if (at)
        p->padding[at - 1] = total;
    return LM_OK;
}

/* docs/method.md section 6, last paragraph: interior positions lose their
 * activation; a boundary keeps its own, and one closing a multi-position
 * segment gets the network's nonlinearity even where it was identity. */
static void plan_activations(lm_plan *p, const lm_graph *g)
{
    lm_act nl = lm_graph_nonlinearity(g);
    for (size_t i = 0; i + 1 < p->n_bounds; i++) {
        size_t st = p->bounds[i], end = p->bounds[i + 1];
        for (size_t q = st + 1; q < end; q++)
            p->act[q] = LM_ACT_IDENTITY;
        lm_act a = lm_graph_position_act(g, end);
        p->act[end] = (a == LM_ACT_IDENTITY && end - st > 1) ? nl : a;
    }
}

static lm_status plan_skips(lm_plan *p, const lm_graph *g)
{
    for (size_t k = 0; k < p->n_skips; k++) {
        lm_skip_info si = {.size = sizeof si};
        lm_status rc = lm_graph_skip_info(&si, g, k);
        if (rc != LM_OK)
            return rc;
        p->skip_src[k] = si.source;
        p->skip_dst[k] = si.target;
        for (size_t i = 0; i + 1 < p->n_bounds; i++) {
            size_t st = p->bounds[i], end = p->bounds[i + 1];
            if (end - st < 2 || si.source < st || si.target > end)
                continue;
            /* The segment's conv reads its input through pre layers (a
             * pre-activation block), the skip reads it raw: the merged conv
             * cannot hold it, so it stays a skip of the merged network. A
             * concatenation joins after the segment's conv at its end (a
             * barrier), never inside it. */
            if (si.is_concat || (si.source == st &&
                                 lm_graph_layer_count(g, LM_SITE_PRE,
                                                      st + 1) > 0))
                continue;
            int empty = 1;
            for (size_t c = st + 1; c <= end; c++)
                empty &= !p->kept[c - 1];
            if (empty)
                p->skip_dropped[k] = 1;
            else
                p->skip_fused[k] = 1;
        }
    }
    return LM_OK;
}

/* The validity test wants the barrier flags and skip spans as arrays. */
static lm_status graph_topology(const lm_graph *g, unsigned char **barrier,
                                lm_span **spans)
{
    size_t n = lm_graph_conv_count(g), ns = lm_graph_skip_count(g);
    *barrier = calloc(n + 1, 1);
    *spans = calloc(ns + 1, sizeof **spans);
    if (!*barrier || !*spans) {
        free(*barrier);
        free(*spans);
        return lm_err_nomem();
    }
    for (size_t q = 0; q <= n; q++)
        (*barrier)[q] = (unsigned char)lm_graph_position_barrier(g, q);
    for (size_t k = 0; k < ns; k++) {
        lm_skip_info si = {.size = sizeof si};
        lm_status st = lm_graph_skip_info(&si, g, k);
        if (st != LM_OK) {
            free(*barrier);
            free(*spans);
            *barrier = NULL;
            *spans = NULL;
            return st;
        }
        (*spans)[k].s = si.source;
        (*spans)[k].t = si.target;
        (*spans)[k].concat = si.is_concat;
    }
    return LM_OK;
}

lm_status lm_plan_create_for_segments(lm_plan **out, const lm_graph *graph,
                                      const size_t *bounds, size_t n_bounds,
                                      const uint8_t *kept)
{
    if (!out || !graph || !bounds)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_plan_create_for_segments: NULL argument");
    *out = NULL;
    if (!lm_graph_is_valid(graph))
        return lm_err(LM_ERR_STATE,
                      "lm_plan_create_for_segments: the graph is not "
                      "validated (call lm_graph_validate)");
    unsigned char *barrier = NULL;
    lm_span *spans = NULL;
    lm_status st = graph_topology(graph, &barrier, &spans);
    if (st != LM_OK)
        return st;
    st = check_bounds(graph, bounds, n_bounds, spans, barrier);
    free(barrier);
    free(spans);
    if (st != LM_OK)
        return st;

    size_t n = lm_graph_conv_count(graph);
    lm_plan *p = NULL;
    st = plan_alloc(&p, n, n_bounds, lm_graph_skip_count(graph));
    if (st != LM_OK)
        return st;
    memcpy(p->bounds, bounds, n_bounds * sizeof *bounds);
    memcpy(p->fingerprint, lm_graph_fingerprint(graph), sizeof p->fingerprint);
    for (size_t c = 1; c <= n; c++)
        p->kept[c - 1] = kept ? (kept[c - 1] != 0) : 1;
    for (size_t i = 0; i + 1 < n_bounds && st == LM_OK; i++)
        st = plan_segment(p, graph, bounds[i], bounds[i + 1]);
    if (st == LM_OK) {
        plan_activations(p, graph);
        st = plan_skips(p, graph);
    }
    if (st == LM_OK)
        st = lm_plan_fit_skips(p, graph);
    if (st != LM_OK) {
        lm_plan_destroy(p);
        return st;
    }
    *out = p;
    return LM_OK;
}

lm_status lm_plan_create_for_entry(lm_plan **out, const lm_graph *graph,
                                   const lm_entries *entries, size_t id)
{
    if (!out || !graph || !entries)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_plan_create_for_entry: NULL argument");
    *out = NULL;
    if (!lm_graph_is_valid(graph))
        return lm_err(LM_ERR_STATE,
                      "lm_plan_create_for_entry: the graph is not "
                      "validated (call lm_graph_validate)");
    const char *gfp = lm_graph_fingerprint(graph);
    const char *efp = lm_entries_fingerprint(entries);
    if (strcmp(gfp, efp) != 0)
        return lm_err(LM_ERR_MISMATCH,
                      "lm_plan_create_for_entry: the entries belong "
                      "to graph %s, not to this graph (%s)",
                      efp, gfp);
    lm_entry_info e = {.size = sizeof e};
    lm_status st = lm_entries_entry_info(&e, entries, id);
    if (st != LM_OK)
        return st;

    size_t n = lm_graph_conv_count(graph);
    /* Singles before and after the entry's segment, the segment itself. */
    size_t nb = e.st + 1 + 1 + (n - e.end);
    size_t *bounds = malloc(nb * sizeof *bounds);
    uint8_t *kept = malloc(n);
    if (!bounds || !kept) {
        free(bounds);
        free(kept);
        return lm_err_nomem();
    }
    size_t k = 0;
    for (size_t q = 0; q <= e.st; q++)
        bounds[k++] = q;
    for (size_t q = e.end; q <= n; q++)
        bounds[k++] = q;
    memset(kept, 1, n);
    for (size_t c = e.st + 1; c <= e.end; c++)
        kept[c - 1] = 0;
    for (size_t i = 0; i < e.n_kept; i++)
        kept[e.kept[i] - 1] = 1;
    st = lm_plan_create_for_segments(out, graph, bounds, k, kept);
    free(bounds);
    free(kept);
    if (st != LM_OK)
        return lm_err_prefix(st, "plan for entry %zu (%zu, %zu, K=%lld): ",
                             id, e.st, e.end, (long long)e.kernel);
    return LM_OK;
}
