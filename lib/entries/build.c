/* Building an entry list from a validated graph: the graph is read once
 * into plain arrays, so the list never refers back to it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/util.h"
#include "entries/entries_private.h"
#include "graph/graph_query.h"

/* What the enumeration reads from the graph. */
typedef struct graph_view {
    size_t n;
    lm_conv_traits *conv;       /* n, index conv - 1 */
    int64_t *out_c;           /* n, out channels of conv p at index p - 1 */
    unsigned char *barrier;   /* n + 1 */
    unsigned char *identity;  /* n + 1 */
    lm_span *skips;
    size_t n_skips;
} graph_view;

static void view_free(graph_view *v)
{
    free(v->conv);
    free(v->out_c);
    free(v->barrier);
    free(v->identity);
    free(v->skips);
}

static lm_status read_convs(graph_view *v, const lm_graph *g,
                            const double *scores)
{
    for (size_t p = 1; p <= v->n; p++) {
        lm_conv_info ci = {.size = sizeof ci};
        lm_status st = lm_graph_conv_info(&ci, g, p);
        if (st != LM_OK)
            return st;
        lm_conv_traits *d = &v->conv[p - 1];
        d->kernel = ci.kernel;
        d->stride = ci.stride;
        d->padding = ci.padding;
        d->depthwise = ci.groups == ci.in_channels &&
                       ci.in_channels == ci.out_channels;
        d->irreducible = ci.in_channels != ci.out_channels || ci.stride > 1;
        d->score = scores ? scores[p - 1] : 0.0;
        v->out_c[p - 1] = ci.out_channels;
    }
    return LM_OK;
}

static lm_status read_graph(graph_view *v, const lm_graph *g,
                            const double *scores)
{
    v->n = lm_graph_conv_count(g);
    v->n_skips = lm_graph_skip_count(g);
    v->conv = calloc(v->n ? v->n : 1, sizeof *v->conv);
    v->out_c = calloc(v->n ? v->n : 1, sizeof *v->out_c);
    v->barrier = calloc(v->n + 1, 1);
    v->identity = calloc(v->n + 1, 1);
    v->skips = calloc(v->n_skips ? v->n_skips : 1, sizeof *v->skips);
    if (!v->conv || !v->out_c || !v->barrier || !v->identity || !v->skips)
        return lm_err_nomem();
    for (size_t p = 0; p <= v->n; p++) {
        v->barrier[p] = (unsigned char)(lm_graph_position_barrier(g, p) != 0);
        v->identity[p] =
            (unsigned char)(lm_graph_position_identity(g, p) != 0);
    }
    for (size_t i = 0; i < v->n_skips; i++) {
        lm_skip_info si = {.size = sizeof si};
        lm_status st = lm_graph_skip_info(&si, g, i);
        if (st != LM_OK)
            return st;
        v->skips[i].s = si.source;
        v->skips[i].t = si.target;
        v->skips[i].concat = si.is_concat;
    }
    return read_convs(v, g, scores);
}

static lm_status append_segment(lm_entries *e, const graph_view *v,
                                const lm_graph *g, size_t st, size_t end)
{
    int64_t c = 0, h = 0, w = 0;
    /* What the segment's first conv reads, through its pre layers. */
    lm_status rc = lm_graph_conv_input_chw(g, st + 1, &c, &h, &w);
    if (rc != LM_OK)
        return rc;
    lm_optset set;
    rc = lm_segment_options(v->conv + st, end - st, st + 1,
                            v->identity[end], &set);
    if (rc == LM_OK && (LM_GROW(e->segs, e->cap_segs, e->n_segs + 1) ||
                        LM_GROW(e->ents, e->cap_ents, e->n_ents + set.count) ||
                        LM_GROW(e->kept, e->cap_kept, e->kept_len + set.kept_len + 1)))
        rc = lm_err_nomem();
    if (rc != LM_OK) {
        lm_optset_free(&set);
        return rc;
    }
    e->segs[e->n_segs] = (lm_seg_rec){st, end, e->n_ents, set.count};
    for (size_t i = 0; i < set.count; i++) {
        lm_entry_rec *r = &e->ents[e->n_ents + i];
        r->segment = e->n_segs;
        r->opt = set.opts[i];
        r->opt.kept_off += e->kept_len;
        r->in_c = c;
        r->out_c = v->out_c[end - 1];
        r->in_h = h;
        r->in_w = w;
    }
    if (set.kept_len)
        memcpy(e->kept + e->kept_len, set.kept,
               set.kept_len * sizeof *set.kept);
    e->kept_len += set.kept_len;
    e->n_ents += set.count;
    e->n_segs++;
    lm_optset_free(&set);
    return LM_OK;
}

/* The original network's entry of conv p: the one entry of segment
 * (p - 1, p) that keeps p (its other entry can only be the identity). */
static lm_status find_originals(lm_entries *e)
{
    e->original = calloc(e->n_convs ? e->n_convs : 1, sizeof *e->original);
    if (!e->original)
        return lm_err_nomem();
    size_t found = 0;
    for (size_t s = 0; s < e->n_segs; s++) {
        const lm_seg_rec *r = &e->segs[s];
        if (r->end != r->st + 1)
            continue;
        for (size_t i = r->first; i < r->first + r->count; i++)
            if (!e->ents[i].opt.identity) {
                e->original[r->st] = i;
                found++;
            }
    }
    if (found != e->n_convs)
        return lm_err(LM_ERR_INTERNAL, "found %zu single-conv entries for "
                      "%zu convs", found, e->n_convs);
    return LM_OK;
}

static lm_status enumerate(lm_entries *e, const graph_view *v,
                           const lm_graph *g)
{
    for (size_t st = 0; st < v->n; st++)
        for (size_t end = st + 1; end <= v->n; end++) {
            if (end > st + 1 && v->barrier[end - 1])
                break; /* every longer segment passes that barrier too */
            if (!lm_segment_is_valid(st, end, v->barrier, v->skips,
                                     v->n_skips))
                continue;
            lm_status rc = append_segment(e, v, g, st, end);
            if (rc != LM_OK)
                return rc;
        }
    return find_originals(e);
}

static lm_status check_scores(const lm_graph *g, const double *scores,
                              size_t n_scores)
{
    size_t n = lm_graph_conv_count(g);
    if (n_scores != n)
        return lm_err(LM_ERR_INVALID_ARG, "got %zu conv scores for a graph "
                      "of %zu trunk convs", n_scores, n);
    if (n > 0 && !scores)
        return lm_err(LM_ERR_INVALID_ARG, "conv scores are NULL");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(scores[i]) || scores[i] < 0)
            return lm_err(LM_ERR_VALUE, "score of conv %zu is %g; scores "
                          "must be finite and >= 0", i + 1, scores[i]);
    return LM_OK;
}

static lm_status create(lm_entries **out, const lm_graph *g,
                        const double *scores)
{
    lm_entries *e = calloc(1, sizeof *e);
    if (!e)
        return lm_err_nomem();
    graph_view v = {0};
    lm_status rc = LM_OK;
    e->n_convs = lm_graph_conv_count(g);
    e->fingerprint = lm_strdup(lm_graph_fingerprint(g));
    e->graph_name = lm_strdup(lm_graph_name(g) ? lm_graph_name(g) : "");
    if (!e->fingerprint || !e->graph_name)
        rc = lm_err_nomem();
    if (rc == LM_OK)
        rc = read_graph(&v, g, scores);
    if (rc == LM_OK)
        rc = enumerate(e, &v, g);
    view_free(&v);
    if (rc != LM_OK) {
        lm_entries_destroy(e);
        return rc;
    }
    *out = e;
    return LM_OK;
}

static lm_status check_args(lm_entries **out, const lm_graph *graph)
{
    if (out)
        *out = NULL;
    if (!out || !graph)
        return lm_err(LM_ERR_INVALID_ARG, "lm_entries_create: NULL %s",
                      out ? "graph" : "out");
    if (!lm_graph_is_valid(graph) || !lm_graph_fingerprint(graph))
        return lm_err(LM_ERR_STATE, "graph '%s' is not validated; call "
                      "lm_graph_validate first",
                      lm_graph_name(graph) ? lm_graph_name(graph) : "");
    return LM_OK;
}

lm_status lm_entries_create(lm_entries **out, const lm_graph *graph)
{
    lm_status rc = check_args(out, graph);
    return rc != LM_OK ? rc : create(out, graph, NULL);
}

lm_status lm_entries_create_scored(lm_entries **out, const lm_graph *graph,
                                   const double *conv_scores, size_t n_convs)
{
    lm_status rc = check_args(out, graph);
    if (rc == LM_OK)
        rc = check_scores(graph, conv_scores, n_convs);
    return rc != LM_OK ? rc : create(out, graph, conv_scores);
}
