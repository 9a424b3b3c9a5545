/* A plan from a solver result (docs/method.md section 6, 8): the result's
 * partition and kept convs, with the activations the result chose at its
 * boundaries. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "layermerge/entries.h"
#include "plan/plan_internal.h"
#include "graph/graph_query.h"
#include "solve/result_query.h"

const char *lm_plan_fingerprint(const lm_plan *plan)
{
    return plan ? plan->fingerprint : "";
}

/* kim23 results made without a graph carry no fingerprint; they must at
 * least have the graph's conv count. */
static lm_status check_result(const lm_graph *g, const lm_result *r)
{
    const char *gfp = lm_graph_fingerprint(g), *rfp = lm_result_fingerprint(r);
    if (rfp && rfp[0] && strcmp(gfp, rfp) != 0)
        return lm_err(LM_ERR_MISMATCH, "the result belongs to graph %s, not "
                      "to graph '%s' (%s)", rfp, lm_graph_name(g), gfp);
    if (lm_result_conv_count(r) != lm_graph_conv_count(g))
        return lm_err(LM_ERR_MISMATCH, "the result has %zu convs, graph '%s' "
                      "has %zu", lm_result_conv_count(r), lm_graph_name(g),
                      lm_graph_conv_count(g));
    return LM_OK;
}

/* A segment's merged conv must be what its kept convs of this graph merge
 * to: K = 1 + sum (k - 1), the product of their strides (an identity
 * segment: kernel 0). -1 (a kim23 result solved without a graph) is not
 * checked. */
static lm_status check_kernel(const lm_graph *g, size_t index,
                              const lm_result_segment *si)
{
    if (si->kernel == -1 && si->stride == -1)
        return LM_OK;
    int64_t k = si->n_kept ? 1 : 0, stride = 1;
    for (size_t i = 0; i < si->n_kept; i++) {
        lm_conv_info ci = {.size = sizeof ci};
        lm_status st = lm_graph_conv_info(&ci, g, si->kept[i]);
        if (st != LM_OK)
            return st;
        k += ci.kernel - 1;
        stride *= ci.stride;
    }
    if (k == si->kernel && (si->n_kept == 0 || stride == si->stride))
        return LM_OK;
    return lm_err(LM_ERR_MISMATCH, "result segment %zu (%zu, %zu): kernel "
                  "%lld, stride %lld, but its %zu kept convs of graph '%s' "
                  "merge to kernel %lld, stride %lld", index, si->st, si->end,
                  (long long)si->kernel, (long long)si->stride, si->n_kept,
                  lm_graph_name(g), (long long)k, (long long)stride);
}

/* A segment's entry must be the graph's entry of that segment and merged
 * conv (the id a solve of this graph gave it). */
static lm_status check_entry(const lm_graph *g, const lm_entries *e,
                             size_t index, const lm_result_segment *si)
{
    lm_entry_info in = {.size = sizeof in};
    if (si->entry >= lm_entries_count(e))
        return lm_err(LM_ERR_MISMATCH, "result segment %zu (%zu, %zu): entry "
                      "%zu is not an entry of graph '%s' (%zu entries)",
                      index, si->st, si->end, si->entry, lm_graph_name(g),
                      lm_entries_count(e));
    lm_status st = lm_entries_entry_info(&in, e, si->entry);
    if (st != LM_OK)
        return st;
    if (in.st == si->st && in.end == si->end && in.kernel == si->kernel &&
        in.stride == si->stride && in.depthwise == si->depthwise)
        return LM_OK;
    return lm_err(LM_ERR_MISMATCH, "result segment %zu (%zu, %zu, K %lld, "
                  "stride %lld, dw %d): entry %zu of graph '%s' is (%zu, %zu, "
                  "K %lld, stride %lld, dw %d)", index, si->st, si->end,
                  (long long)si->kernel, (long long)si->stride,
                  (int)si->depthwise, si->entry, lm_graph_name(g), in.st,
                  in.end, (long long)in.kernel, (long long)in.stride,
                  (int)in.depthwise);
}

/* Every segment against the graph: its merged conv, and its entry (the
 * entries are enumerated only when some segment names one). */
static lm_status check_segments(const lm_graph *g, const lm_result *r)
{
    lm_entries *e = NULL;
    lm_status st = LM_OK;
    for (size_t i = 0; st == LM_OK && i < lm_result_segment_count(r); i++) {
        lm_result_segment si = {.size = sizeof si};
        st = lm_result_segment_info(&si, r, i);
        if (st == LM_OK)
            st = check_kernel(g, i, &si);
        if (st == LM_OK && si.entry != SIZE_MAX && !e &&
            (st = lm_entries_create(&e, g)) != LM_OK)
            st = lm_err_prefix(st, "checking the result's entries: ");
        if (st == LM_OK && si.entry != SIZE_MAX)
            st = check_entry(g, e, i, &si);
    }
    lm_entries_destroy(e);
    return st;
}

/* Bounds and kept flags in lm_plan_create_for_segments' form. */
static lm_status result_partition(const lm_graph *g, const lm_result *r,
                                  size_t **bounds, size_t *n_bounds,
                                  uint8_t **kept)
{
    size_t ns = lm_result_segment_count(r), n = lm_graph_conv_count(g);
    *bounds = malloc((ns + 1) * sizeof **bounds);
    *kept = malloc(n ? n : 1);
    if (!*bounds || !*kept)
        return lm_err_nomem();
    (*bounds)[0] = 0;
    for (size_t i = 0; i < ns; i++) {
        lm_result_segment si = {.size = sizeof si};
        lm_status st = lm_result_segment_info(&si, r, i);
        if (st != LM_OK)
            return st;
        if (si.n_kept == 0 && !lm_graph_position_identity(g, si.end))
            return lm_err(LM_ERR_UNSUPPORTED, "result segment (%zu, %zu) "
                          "keeps no conv and position %zu has no identity "
                          "option: no plan can express it", si.st, si.end,
                          si.end);
        (*bounds)[i + 1] = si.end;
    }
    *n_bounds = ns + 1;
    for (size_t c = 1; c <= n; c++)
        (*kept)[c - 1] = (uint8_t)lm_result_keeps_conv(r, c);
    return LM_OK;
}

/* The result decides which boundaries keep a nonlinearity (kim23 drops
 * some); a kept one is the position's own, or the network's where the
 * position was identity (docs/method.md section 6). */
static void result_activations(lm_plan *p, const lm_graph *g,
                               const lm_result *r)
{
    lm_act nl = lm_graph_nonlinearity(g);
    for (size_t q = 1; q <= p->n_convs; q++) {
        if (!lm_result_keeps_act(r, q)) {
            p->act[q] = LM_ACT_IDENTITY;
            continue;
        }
        lm_act a = lm_graph_position_act(g, q);
        p->act[q] = a == LM_ACT_IDENTITY ? nl : a;
    }
}

lm_status lm_plan_create_for_result(lm_plan **out, const lm_graph *graph,
                                    const lm_result *result)
{
    if (!out || !graph || !result)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_plan_create_for_result: NULL argument");
    *out = NULL;
    if (!lm_graph_is_valid(graph))
        return lm_err(LM_ERR_STATE,
                      "lm_plan_create_for_result: the graph is not "
                      "validated (call lm_graph_validate)");
    lm_status st = check_result(graph, result);
    if (st == LM_OK)
        st = check_segments(graph, result);
    if (st != LM_OK)
        return st;
    size_t *bounds = NULL, n_bounds = 0;
    uint8_t *kept = NULL;
    st = result_partition(graph, result, &bounds, &n_bounds, &kept);
    if (st == LM_OK)
        st = lm_plan_create_for_segments(out, graph, bounds, n_bounds, kept);
    free(bounds);
    free(kept);
    if (st != LM_OK)
        return lm_err_prefix(st, "plan for a %s result: ",
                             lm_method_name(lm_result_method(result)));
    result_activations(*out, graph, result);
    return LM_OK;
}
