/* The time projection of a merged segment (docs/method.md section 9, U-Net
 * blocks). A time projection adds W silu(temb) + b per channel after its
 * conv; every kept conv after it inside the segment maps that constant
 * through its kernel sums, exactly, because the plan's padding sits before
 * the first time projection (plan.h): y = W2 * (W1 x + b1 + t) + b2 =
 * (W2 * W1) x + W2 b1 + b2 + S2 t with S2 = W2 summed over its spatial
 * axes. The merged conv therefore carries one time projection, composed in
 * double precision. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "graph/graph_query.h"
#include "netmerge/netmerge_internal.h"
#include "plan/plan_query.h"

typedef struct tproj {
    double *w;     /* rows x cols: channels x temb channels */
    double *b;     /* rows */
    int64_t rows, cols;
} tproj;

/* T <- S T for conv `ci` with weights `wt`: S[o][i] = sum over the kernel
 * window of W[o][i] (dense) or the diagonal of a depthwise conv. */
static lm_status through_conv(tproj *t, const lm_conv_info *ci,
                              const float *wt)
{
    int64_t out = ci->out_channels, in = ci->in_channels;
    int64_t kk = ci->kernel * ci->kernel, cpg = in / ci->groups;
    double *w = calloc((size_t)(out * t->cols), sizeof *w);
    double *b = calloc((size_t)out, sizeof *b);
    if (!w || !b) {
        free(w);
        free(b);
        return lm_err_nomem();
    }
    for (int64_t o = 0; o < out; o++)
        for (int64_t j = 0; j < cpg; j++) {
            int64_t i = ci->groups == 1 ? j : o; /* depthwise: its own */
            double s = 0.0;
            for (int64_t q = 0; q < kk; q++)
                s += wt[(o * cpg + j) * kk + q];
            for (int64_t c = 0; c < t->cols; c++)
                w[o * t->cols + c] += s * t->w[i * t->cols + c];
            b[o] += s * t->b[i];
        }
    free(t->w);
    free(t->b);
    t->w = w;
    t->b = b;
    t->rows = out;
    return LM_OK;
}

/* T += the time projection of conv c (out x temb channels). */
static lm_status add_own(tproj *t, const lm_weights *w,
                         const lm_conv_info *ci, int64_t temb_ch)
{
    int64_t out = ci->out_channels;
    const float *pw = NULL, *pb = NULL;
    lm_status st = lm_nm_tensor(w, ci->time_projection_name, ".weight",
                                (size_t)(out * temb_ch), &pw);
    if (st == LM_OK)
        st = lm_nm_tensor(w, ci->time_projection_name, ".bias", (size_t)out,
                          &pb);
    if (st != LM_OK)
        return st;
    if (!t->w) {
        t->w = calloc((size_t)(out * temb_ch), sizeof *t->w);
        t->b = calloc((size_t)out, sizeof *t->b);
        if (!t->w || !t->b)
            return lm_err_nomem();
        t->rows = out;
        t->cols = temb_ch;
    }
    for (int64_t i = 0; i < out * temb_ch; i++)
        t->w[i] += pw[i];
    for (int64_t o = 0; o < out; o++)
        t->b[o] += pb[o];
    return LM_OK;
}

/* A skip fused at position c after a time projection would carry that
 * bias by a path the composition above does not follow. */
static lm_status check_fused_skips(const lm_graph *g, const lm_plan *plan,
                                   size_t c, size_t first_tproj)
{
    for (size_t k = 0; k < lm_graph_skip_count(g); k++) {
        lm_skip_info si = {.size = sizeof si};
        lm_status st = lm_graph_skip_info(&si, g, k);
        if (st != LM_OK)
            return st;
        if (si.target == c && lm_plan_fuses_skip(plan, k) &&
            si.source >= first_tproj)
            return lm_err(LM_ERR_UNSUPPORTED, "skip %zu (%zu, %zu) would be "
                          "fused after the time projection of conv %zu, "
                          "which the merge does not compose", k, si.source,
                          si.target, first_tproj);
    }
    return LM_OK;
}

lm_status lm_nm_segment_time_projection(float **weight, float **bias,
                                        const lm_graph *g,
                                        const lm_weights *w,
                                        const lm_plan *plan, size_t st,
                                        size_t end, lm_strbuf *from)
{
    *weight = *bias = NULL;
    lm_time_embedding_info te = {.size = sizeof te};
    lm_status rc = lm_graph_time_embedding(&te, g);
    if (rc != LM_OK || !te.has_time_embedding)
        return rc;
    tproj t = {NULL, NULL, 0, 0};
    size_t first = 0;
    for (size_t c = st + 1; c <= end && rc == LM_OK; c++) {
        lm_conv_info ci = {.size = sizeof ci};
        rc = lm_graph_conv_info(&ci, g, c);
        if (rc == LM_OK && first)
            rc = check_fused_skips(g, plan, c, first);
        if (rc == LM_OK && t.w && lm_plan_keeps_conv(plan, c)) {
            const float *wt = NULL;
            size_t nw = (size_t)(ci.out_channels *
                                 (ci.in_channels / ci.groups) * ci.kernel *
                                 ci.kernel);
            rc = lm_nm_tensor(w, ci.name, ".weight", nw, &wt);
            if (rc == LM_OK)
                rc = through_conv(&t, &ci, wt);
            lm_nm_from_add(from, ci.name);
        }
        if (rc == LM_OK && ci.has_time_projection) {
            rc = add_own(&t, w, &ci, te.channels);
            lm_nm_from_add(from, ci.time_projection_name);
            if (!first)
                first = c;
        }
    }
    if (rc == LM_OK && t.w) {
        size_t n = (size_t)(t.rows * t.cols);
        *weight = malloc(n * sizeof **weight);
        *bias = malloc((size_t)t.rows * sizeof **bias);
        if (!*weight || !*bias)
            rc = lm_err_nomem();
        for (size_t i = 0; rc == LM_OK && i < n; i++)
            (*weight)[i] = (float)t.w[i];
        for (int64_t o = 0; rc == LM_OK && o < t.rows; o++)
            (*bias)[o] = (float)t.b[o];
    }
    free(t.w);
    free(t.b);
    if (rc != LM_OK) {
        free(*weight);
        free(*bias);
        *weight = *bias = NULL;
    }
    return rc;
}
