/* Whole-network merge (docs/method.md section 9): one conv per segment of a
 * plan, in a new graph built through the public graph API, with its weights.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/strbuf.h"
#include "netmerge/netmerge_internal.h"
#include "graph/graph_query.h"
#include "plan/plan_query.h"

typedef struct nm {
    const lm_graph *g;
    const lm_weights *w;
    const lm_plan *plan;
    lm_graph *out;
    lm_weights *ow;
    size_t *newpos; /* [N + 1]: new position of each boundary, else SIZE_MAX */
} nm;

/* 1 when the plan replaces segment (st, end) by the identity option. */
static int identity_segment(const lm_plan *plan, size_t st, size_t end)
{
    for (size_t c = st + 1; c <= end; c++)
        if (lm_plan_keeps_conv(plan, c))
            return 0;
    return 1;
}

static lm_status check_inputs(const lm_graph *g, const lm_weights *w,
                              const lm_plan *plan)
{
    if (!lm_graph_is_valid(g))
        return lm_err(LM_ERR_STATE, "lm_graph_merge: the graph is not "
                      "validated (call lm_graph_validate)");
    const char *gfp = lm_graph_fingerprint(g), *pfp = lm_plan_fingerprint(plan);
    if (strcmp(gfp, pfp) != 0)
        return lm_err(LM_ERR_MISMATCH, "lm_graph_merge: the plan belongs to "
                      "graph %s, not to graph '%s' (%s)", pfp,
                      lm_graph_name(g), gfp);
    return lm_weights_check_graph(w, g);
}

/* A skip that stays must join two boundaries of the new graph. */
static lm_status check_skips(const nm *m)
{
    size_t ns = lm_graph_skip_count(m->g);
    for (size_t k = 0; k < ns; k++) {
        if (lm_plan_fuses_skip(m->plan, k) || lm_plan_drops_skip(m->plan, k))
            continue;
        lm_skip_info si = {.size = sizeof si};
        lm_status st = lm_graph_skip_info(&si, m->g, k);
        if (st != LM_OK)
            return st;
        if (m->newpos[si.source] == SIZE_MAX ||
            m->newpos[si.target] == SIZE_MAX)
            return lm_err(LM_ERR_INVALID_ARG, "lm_graph_merge: skip %zu "
                          "(%zu, %zu) is not fused but does not join two "
                          "segment boundaries", k, si.source, si.target);
    }
    return LM_OK;
}

static lm_status write_merged(nm *m, const lm_chain *ch, const char *name)
{
    size_t nw = lm_chain_weight_count(ch), nb = (size_t)lm_chain_out_channels(ch);
    float *wt = malloc(nw * sizeof *wt), *b = malloc(nb * sizeof *b);
    if (!wt || !b) {
        free(wt);
        free(b);
        return lm_err_nomem();
    }
    int64_t k = lm_chain_kernel(ch), out = lm_chain_out_channels(ch);
    int64_t wshape[4] = {out, lm_chain_in_channels(ch) / lm_chain_groups(ch),
                         k, k};
    lm_status st = lm_chain_weight(wt, nw, ch);
    if (st == LM_OK)
        st = lm_chain_bias(b, nb, ch);
    if (st == LM_OK)
        st = lm_nm_write_conv(m->ow, name, wshape, wt, b);
    free(wt);
    free(b);
    return st;
}

/* The merged conv q's U-Net parts: the first conv's pre layers, the
 * segment's composed time projection, and the GroupNorm of position end
 * when its activation stays. */
static lm_status add_unet_parts(nm *m, size_t q, size_t st, size_t end,
                                const char *conv_name)
{
    lm_status rc = lm_nm_copy_site(m->out, m->ow, m->g, m->w, LM_SITE_PRE,
                                   st + 1, q);
    float *tw = NULL, *tb = NULL;
    lm_strbuf from = LM_STRBUF_INIT("merged module origin");
    if (rc == LM_OK)
        rc = lm_nm_segment_time_projection(&tw, &tb, m->g, m->w, m->plan, st,
                                           end, &from);
    if (rc == LM_OK && tw) {
        lm_time_embedding_info te = {.size = sizeof te};
        lm_strbuf name = LM_STRBUF_INIT("merged time projection name");
        lm_strbuf base = LM_STRBUF_INIT("merged time projection name");
        lm_strbuf full = LM_STRBUF_INIT("merged tensor name");
        rc = lm_graph_time_embedding(&te, m->g);
        lm_conv_info mc = {.size = sizeof mc};
        if (rc == LM_OK)
            rc = lm_graph_conv_info(&mc, m->out, q);
        int64_t shape[2] = {mc.out_channels, te.channels};
        if (rc == LM_OK)
            rc = lm_strbuf_setf(&base, "%s.time_projection", conv_name);
        if (rc == LM_OK)
            rc = lm_nm_fresh_name(&name, m->w, m->ow, base.s);
        if (rc == LM_OK)
            rc = lm_graph_set_conv_time_projection(m->out, q, name.s);
        if (rc == LM_OK)
            rc = lm_strbuf_setf(&full, "%s.weight", name.s);
        if (rc == LM_OK)
            rc = lm_weights_set_f32(m->ow, full.s, shape, 2, tw);
        if (rc == LM_OK)
            rc = lm_strbuf_setf(&full, "%s.bias", name.s);
        if (rc == LM_OK)
            rc = lm_weights_set_f32(m->ow, full.s, shape, 1, tb);
        if (rc == LM_OK)
            rc = lm_nm_note_origin(m->ow, name.s, &from);
        lm_strbuf_free(&name);
        lm_strbuf_free(&base);
        lm_strbuf_free(&full);
    }
    free(tw);
    free(tb);
    lm_strbuf_free(&from);
    lm_conv_info ce = {.size = sizeof ce};
    if (rc == LM_OK)
        rc = lm_graph_conv_info(&ce, m->g, end);
    if (rc == LM_OK && ce.has_groupnorm &&
        lm_plan_act_at(m->plan, end) != LM_ACT_IDENTITY) {
        rc = lm_graph_set_conv_groupnorm(m->out, q, ce.groupnorm_name,
                                         ce.groupnorm_groups,
                                         ce.groupnorm_eps);
        if (rc == LM_OK)
            rc = lm_nm_copy_tensor(m->ow, m->w, ce.groupnorm_name, ".weight");
        if (rc == LM_OK)
            rc = lm_nm_copy_tensor(m->ow, m->w, ce.groupnorm_name, ".bias");
    }
    return rc;
}

/* Segment (st, end) becomes conv q of the new graph, and position end's
 * activation, flags and fixed layers move to position q. */
static lm_status add_segment(nm *m, size_t q, size_t st, size_t end)
{
    lm_chain *ch = NULL;
    lm_strbuf from = LM_STRBUF_INIT("merged module origin");
    lm_status rc = lm_nm_segment_chain(&ch, m->g, m->w, m->plan, st, end,
                                       &from);
    if (rc != LM_OK) {
        lm_strbuf_free(&from);
        return rc;
    }
    /* Every trunk conv of a merged network is new, a single conv with its
     * batch norm folded too: none keeps a name of the original network
     * (docs/formats.md, "Merged networks"). */
    lm_strbuf name = LM_STRBUF_INIT("merged conv name");
    lm_strbuf base = LM_STRBUF_INIT("merged conv name");
    rc = lm_strbuf_setf(&base, "merged.%zu_%zu", st, end);
    if (rc == LM_OK)
        rc = lm_nm_fresh_name(&name, m->w, m->ow, base.s);
    lm_strbuf_free(&base);
    lm_conv_desc merged = {.size = sizeof merged,
                           .name = lm_strbuf_str(&name),
                           .in_channels = lm_chain_in_channels(ch),
                           .out_channels = lm_chain_out_channels(ch),
                           .kernel = lm_chain_kernel(ch),
                           .stride = lm_chain_stride(ch),
                           .padding = lm_chain_padding(ch),
                           .groups = lm_chain_groups(ch),
                           .has_bias = 1};
    if (rc == LM_OK)
        rc = lm_graph_add_conv(m->out, &merged, lm_plan_act_at(m->plan, end));
    if (rc == LM_OK)
        rc = write_merged(m, ch, name.s);
    if (rc == LM_OK)
        rc = add_unet_parts(m, q, st, end, name.s);
    if (rc == LM_OK)
        rc = lm_nm_note_origin(m->ow, name.s, &from);
    lm_strbuf_free(&name);
    lm_strbuf_free(&from);
    lm_chain_destroy(ch);
    if (rc == LM_OK && lm_graph_position_barrier(m->g, end))
        rc = lm_graph_set_barrier(m->out, q, 1);
    /* A merged conv with pre layers, a time projection or a GroupNorm
     * cannot allow the identity option (validation refuses it). */
    lm_conv_info mc = {.size = sizeof mc};
    if (rc == LM_OK && lm_graph_position_identity(m->g, end) &&
        (rc = lm_graph_conv_info(&mc, m->out, q)) == LM_OK &&
        !mc.pre_layer_count && !mc.has_time_projection && !mc.has_groupnorm)
        rc = lm_graph_set_identity_option(m->out, q, 1);
    if (rc == LM_OK)
        rc = lm_nm_copy_site(m->out, m->ow, m->g, m->w, LM_SITE_POSITION, end,
                             q);
    return rc;
}

/* A projection without batch norm is copied with its tensors; one with a
 * batch norm becomes a 1x1 conv with bias, the batch norm folded, under a
 * fresh name. */
static lm_status add_projection(nm *m, size_t k, size_t idx,
                                const lm_skip_info *si)
{
    lm_conv_info proj = {.size = sizeof proj};
    lm_status st = lm_graph_skip_projection(m->g, k, &proj);
    if (st != LM_OK)
        return st;
    const lm_conv_info *p = &proj;
    if (!p->has_bn) {
        st = lm_graph_set_skip_projection(m->out, idx, p->name, p->stride,
                                          p->has_bias);
        if (st == LM_OK)
            st = lm_nm_copy_tensor(m->ow, m->w, p->name, ".weight");
        if (st == LM_OK && p->has_bias)
            st = lm_nm_copy_tensor(m->ow, m->w, p->name, ".bias");
        return st;
    }
    size_t out = (size_t)p->out_channels, in = (size_t)p->in_channels;
    lm_nm_folded f = {NULL, NULL};
    lm_strbuf base = LM_STRBUF_INIT("merged projection name");
    lm_strbuf name = LM_STRBUF_INIT("merged projection name");
    lm_strbuf from = LM_STRBUF_INIT("merged module origin");
    st = p->name ? lm_strbuf_setf(&base, "merged.%s", p->name)
                 : lm_strbuf_setf(&base, "merged.skip.%zu_%zu", si->source,
                                  si->target);
    if (st == LM_OK)
        st = lm_nm_fresh_name(&name, m->w, m->ow, base.s);
    if (st == LM_OK)
        st = lm_nm_fold(&f, m->w, p->name, p->has_bias, out, in, p->bn_name,
                        p->bn_eps);
    if (st == LM_OK)
        st = lm_graph_set_skip_projection(m->out, idx, name.s, p->stride, 1);
    int64_t shape[4] = {p->out_channels, p->in_channels, 1, 1};
    if (st == LM_OK)
        st = lm_nm_write_conv(m->ow, name.s, shape, f.weight, f.bias);
    lm_nm_from_add(&from, p->name);
    lm_nm_from_add(&from, p->bn_name);
    if (st == LM_OK)
        st = lm_nm_note_origin(m->ow, name.s, &from);
    lm_nm_folded_free(&f);
    lm_strbuf_free(&base);
    lm_strbuf_free(&name);
    lm_strbuf_free(&from);
    return st;
}

static lm_status add_skip(nm *m, size_t k)
{
    lm_skip_info si = {.size = sizeof si};
    lm_status st = lm_graph_skip_info(&si, m->g, k);
    if (st == LM_OK && si.is_concat)
        return lm_graph_add_concat(m->out, m->newpos[si.source],
                                   m->newpos[si.target]);
    if (st == LM_OK)
        st = lm_graph_add_skip(m->out, m->newpos[si.source],
                               m->newpos[si.target]);
    if (st != LM_OK || !si.has_projection)
        return st;
    st = add_projection(m, k, lm_graph_skip_count(m->out) - 1, &si);
    if (st != LM_OK)
        return lm_err_prefix(st, "skip %zu (%zu, %zu): ", k, si.source,
                             si.target);
    return LM_OK;
}

/* The identity option (docs/method.md section 4) removes segment (st, end):
 * position end is position st, which takes end's activation (as a fixed
 * layer), fixed layers and barrier flag; boundary_map already sends
 * skips from end and concatenations into end to it. Layers run before a
 * position's concatenations, so st must have none of its own when end
 * brings layers; an additive skip into end has no conv output to join. */
static lm_status absorb_identity(nm *m, size_t q, size_t st, size_t end)
{
    lm_act act = lm_plan_act_at(m->plan, end);
    size_t nl = lm_graph_layer_count(m->g, LM_SITE_POSITION, end);
    int adds = nl > 0 || act != LM_ACT_IDENTITY;
    /* The fine-tuning chain still runs a pruned conv's pre layers, time
     * projection and GroupNorm; a position has no place for them. */
    for (size_t c = st + 1; c <= end; c++) {
        lm_conv_info ci = {.size = sizeof ci};
        lm_status rc = lm_graph_conv_info(&ci, m->g, c);
        if (rc != LM_OK)
            return rc;
        if (ci.pre_layer_count || ci.has_time_projection || ci.has_groupnorm)
            return lm_err(LM_ERR_UNSUPPORTED, "segment (%zu, %zu) is the "
                          "identity option, but conv %zu has %s, which a "
                          "merged network without the conv cannot hold", st,
                          end, c, ci.pre_layer_count ? "pre layers"
                                  : ci.has_time_projection
                                      ? "a time projection"
                                      : "a group norm");
    }
    for (size_t k = 0; k < lm_graph_skip_count(m->g); k++) {
        lm_skip_info si = {.size = sizeof si};
        lm_status rc = lm_graph_skip_info(&si, m->g, k);
        if (rc != LM_OK)
            return rc;
        if (lm_plan_drops_skip(m->plan, k) || lm_plan_fuses_skip(m->plan, k))
            continue;
        if (!si.is_concat && si.target == end)
            return lm_err(LM_ERR_UNSUPPORTED, "segment (%zu, %zu) is the "
                          "identity option but skip %zu adds into position "
                          "%zu", st, end, k, end);
        /* Readers of st would see end's activation and layers too. */
        if (si.source == st && adds)
            return lm_err(LM_ERR_UNSUPPORTED, "segment (%zu, %zu) is the "
                          "identity option, but skip %zu reads position %zu, "
                          "which would then carry position %zu's activation "
                          "and layers", st, end, k, st, end);
        if (si.is_concat && si.target == st && adds)
            return lm_err(LM_ERR_UNSUPPORTED, "segment (%zu, %zu) is the "
                          "identity option, but position %zu has a "
                          "concatenation before position %zu's layers", st,
                          end, st, end);
    }
    lm_site site = q ? LM_SITE_POSITION : LM_SITE_STEM;
    lm_status rc = LM_OK;
    if (act != LM_ACT_IDENTITY)
        rc = lm_graph_add_layer_act(m->out, site, q, act);
    if (rc == LM_OK)
        rc = lm_nm_copy_site(m->out, m->ow, m->g, m->w, LM_SITE_POSITION, end,
                             q);
    if (rc == LM_OK && q && (adds || lm_graph_position_barrier(m->g, end)))
        rc = lm_graph_set_barrier(m->out, q, 1);
    if (rc != LM_OK)
        return lm_err_prefix(rc, "identity segment (%zu, %zu): ", st, end);
    return LM_OK;
}

/* The time embedding and its tensors, unchanged. */
static lm_status copy_time_embedding(nm *m)
{
    lm_time_embedding_info te = {.size = sizeof te};
    lm_status st = lm_graph_time_embedding(&te, m->g);
    if (st != LM_OK || !te.has_time_embedding)
        return st;
    st = lm_graph_set_time_embedding(m->out, te.dim, te.channels, te.dense0,
                                     te.dense1);
    const char *names[2] = {te.dense0, te.dense1};
    for (int i = 0; i < 2 && st == LM_OK; i++) {
        st = lm_nm_copy_tensor(m->ow, m->w, names[i], ".weight");
        if (st == LM_OK)
            st = lm_nm_copy_tensor(m->ow, m->w, names[i], ".bias");
    }
    return st;
}

static lm_status build(nm *m)
{
    int64_t c, h, w;
    lm_graph_input_chw(m->g, &c, &h, &w);
    lm_status st = lm_graph_create(&m->out, c, h, w);
    if (st == LM_OK)
        st = lm_weights_create(&m->ow);
    lm_strbuf name = LM_STRBUF_INIT("merged graph name");
    if (st == LM_OK)
        st = lm_strbuf_setf(&name, "%s-merged", lm_graph_name(m->g));
    if (st == LM_OK)
        st = lm_graph_set_name(m->out, name.s);
    lm_strbuf_free(&name);
    if (st == LM_OK)
        st = lm_graph_set_nonlinearity(m->out, lm_graph_nonlinearity(m->g));
    if (st == LM_OK)
        st = copy_time_embedding(m);
    if (st == LM_OK)
        st = lm_nm_copy_site(m->out, m->ow, m->g, m->w, LM_SITE_STEM, 0, 0);
    if (st == LM_OK && lm_graph_position_barrier(m->g, 0))
        st = lm_graph_set_barrier(m->out, 0, 1);
    size_t nseg = lm_plan_segment_count(m->plan);
    for (size_t i = 0; i < nseg && st == LM_OK; i++) {
        size_t s0 = 0, s1 = 0;
        st = lm_plan_segment_bounds(m->plan, i, &s0, &s1);
        if (st == LM_OK && identity_segment(m->plan, s0, s1))
            st = absorb_identity(m, m->newpos[s0], s0, s1);
        else if (st == LM_OK)
            st = add_segment(m, m->newpos[s1], s0, s1);
    }
    size_t nk = lm_graph_skip_count(m->g);
    for (size_t k = 0; k < nk && st == LM_OK; k++)
        if (!lm_plan_fuses_skip(m->plan, k) && !lm_plan_drops_skip(m->plan, k))
            st = add_skip(m, k);
    if (st == LM_OK)
        st = lm_nm_copy_site(m->out, m->ow, m->g, m->w, LM_SITE_HEAD, 0, 0);
    if (st == LM_OK)
        st = lm_graph_validate(m->out);
    if (st == LM_OK)
        st = lm_weights_meta_set(m->ow, "layermerge.source_fingerprint",
                                 lm_graph_fingerprint(m->g));
    return st;
}

static lm_status boundary_map(nm *m)
{
    size_t n = lm_graph_conv_count(m->g), ns = lm_plan_segment_count(m->plan);
    m->newpos = malloc((n + 1) * sizeof *m->newpos);
    if (!m->newpos)
        return lm_err_nomem();
    for (size_t q = 0; q <= n; q++)
        m->newpos[q] = SIZE_MAX;
    m->newpos[0] = 0;
    size_t q = 0;
    for (size_t i = 0; i < ns; i++) {
        size_t st = 0, end = 0;
        lm_status rc = lm_plan_segment_bounds(m->plan, i, &st, &end);
        if (rc != LM_OK)
            return rc;
        /* An identity segment adds no conv: its end is its start. */
        if (!identity_segment(m->plan, st, end))
            q++;
        m->newpos[end] = q;
    }
    if (q == 0)
        return lm_err(LM_ERR_UNSUPPORTED, "lm_graph_merge: the plan keeps no "
                      "conv at all");
    return LM_OK;
}

lm_status lm_graph_merge(lm_graph **merged_graph, lm_weights **merged_weights,
                         const lm_graph *graph, const lm_weights *weights,
                         const lm_plan *plan)
{
    if (!merged_graph || !merged_weights || !graph || !weights || !plan)
        return lm_err(LM_ERR_INVALID_ARG, "lm_graph_merge: NULL argument");
    *merged_graph = NULL;
    *merged_weights = NULL;
    lm_status st = check_inputs(graph, weights, plan);
    if (st != LM_OK)
        return st;
    nm m = {.g = graph, .w = weights, .plan = plan};
    st = boundary_map(&m);
    if (st == LM_OK)
        st = check_skips(&m);
    if (st == LM_OK)
        st = build(&m);
    free(m.newpos);
    if (st != LM_OK) {
        lm_graph_destroy(m.out);
        lm_weights_destroy(m.ow);
        return lm_err_prefix(st, "merging graph '%s': ", lm_graph_name(graph));
    }
    *merged_graph = m.out;
    *merged_weights = m.ow;
    return LM_OK;
}
