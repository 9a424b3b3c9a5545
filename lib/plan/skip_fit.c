/* The size fitting of each skip during fine-tuning (docs/method.md section
 * 8): the feature-map sizes the plan's paddings give, and the per-side pad
 * or crop of a skip's source that the engine applies (lib/engine/run.c,
 * add_skip: lm_kadd_centred for an identity skip or a projection whose
 * output already has the target's size, add_projection_aligned
 * otherwise). */
#include <stdlib.h>

#include "core/error.h"
#include "graph/graph_query.h"
#include "plan/plan_internal.h"

typedef struct hw {
    int64_t h, w;
} hw;

static int64_t floor_half(int64_t v)
{
    return v >= 0 ? v / 2 : -((1 - v) / 2);
}

/* A window of `k` with `pad` and `stride` over `x`. */
static lm_status window(hw *x, int64_t k, int64_t stride, int64_t pad,
                        const char *what, size_t where)
{
    if (x->h + 2 * pad < k || x->w + 2 * pad < k)
        return lm_err(LM_ERR_INVALID_ARG, "%s %zu: kernel %lld with padding "
                      "%lld does not fit its %lldx%lld input during "
                      "fine-tuning", what, where, (long long)k,
                      (long long)pad, (long long)x->h, (long long)x->w);
    x->h = (x->h + 2 * pad - k) / stride + 1;
    x->w = (x->w + 2 * pad - k) / stride + 1;
    return LM_OK;
}

/* The fixed layers of position q (or in front of conv q) on a map of size
 * *x. */
static lm_status site_layers(hw *x, const lm_graph *g, lm_site site, size_t q)
{
    size_t n = lm_graph_layer_count(g, site, q);
    for (size_t i = 0; i < n; i++) {
        lm_layer_info li = {.size = sizeof li};
        lm_status st = lm_graph_layer_info(&li, g, site, q, i);
        if (st != LM_OK)
            return st;
        switch (li.kind) {
        case LM_LAYER_CONV:
        case LM_LAYER_MAXPOOL:
        case LM_LAYER_AVGPOOL:
            st = window(x, li.kernel, li.stride, li.padding,
                        "fixed layer of position", q);
            break;
        case LM_LAYER_ADAPTIVE_AVGPOOL:
            *x = (hw){li.out_height, li.out_width};
            break;
        case LM_LAYER_FLATTEN:
        case LM_LAYER_LINEAR:
            *x = (hw){1, 1};
            break;
        case LM_LAYER_PAD:
            x->h += li.pad_top + li.pad_bottom;
            x->w += li.pad_left + li.pad_right;
            break;
        case LM_LAYER_UPSAMPLE:
            x->h *= li.scale;
            x->w *= li.scale;
            break;
        case LM_LAYER_BATCHNORM:
        case LM_LAYER_ACT:
        case LM_LAYER_GROUPNORM:
        case LM_LAYER_ATTENTION:
            break;
        }
        if (st != LM_OK)
            return st;
    }
    return LM_OK;
}

/* Sizes during fine-tuning: out[q] of conv q (before position q's fixed
 * layers), at[q] of position q (after them); a pruned conv is identity. */
static lm_status finetune_sizes(const lm_plan *p, const lm_graph *g, hw *out,
                                hw *at)
{
    int64_t c = 0;
    lm_status st = lm_graph_position_chw(g, 0, &c, &at[0].h, &at[0].w);
    out[0] = at[0];
    for (size_t q = 1; q <= p->n_convs && st == LM_OK; q++) {
        hw x = at[q - 1];
        /* Pre layers belong to the segment that starts at q - 1. */
        st = site_layers(&x, g, LM_SITE_PRE, q);
        if (st == LM_OK && p->kept[q - 1]) {
            lm_conv_info ci = {.size = sizeof ci};
            st = lm_graph_conv_info(&ci, g, q);
            if (st == LM_OK)
                st = window(&x, ci.kernel, ci.stride, p->padding[q - 1],
                            "conv", q);
        } else if (st == LM_OK) { /* a pruned conv zero-pads by its padding */
            x.h += 2 * p->padding[q - 1];
            x.w += 2 * p->padding[q - 1];
        }
        out[q] = x;
        if (st == LM_OK)
            st = site_layers(&x, g, LM_SITE_POSITION, q);
        at[q] = x;
    }
    return st;
}

/* One axis: a source of `s` cells onto a target of `o` (stride `k` of the
 * projection, 1 without). */
static void fit_axis(int64_t s, int64_t o, int64_t k, int proj, int aligned,
                     int64_t *lo, int64_t *hi)
{
    int64_t top;
    if (!proj)          /* lm_kadd_centred: dst i reads src i - (o - s) / 2 */
        top = (o - s) / 2;
    else if (aligned)   /* output y reads input k*y + dy */
        top = -floor_half(s - 1 - (o - 1) * k);
    else                /* the projection's output already has o cells */
        top = 0;
    /* After padding, s + top + bottom cells give o outputs of a 1x1 of
     * stride k for every size in [k*(o-1) + 1, k*o]. */
    int64_t first = k * (o - 1) + 1 - s - top, last = k * o - s - top;
    *lo = top;
    *hi = first > 0 ? first : last < 0 ? last : 0;
}

lm_status lm_plan_fit_skips(lm_plan *p, const lm_graph *g)
{
    size_t n = p->n_convs;
    hw *out = malloc((n + 1) * sizeof *out), *at = malloc((n + 1) * sizeof *at);
    lm_status st = out && at ? LM_OK : lm_err_nomem();
    if (st == LM_OK)
        st = finetune_sizes(p, g, out, at);
    for (size_t k = 0; k < p->n_skips && st == LM_OK; k++) {
        lm_skip_info si = {.size = sizeof si};
        st = lm_graph_skip_info(&si, g, k);
        if (st != LM_OK)
            break;
        /* A concatenation joins two barriers, after the target's fixed
         * layers: their sizes are the original ones, equal. */
        hw src = at[si.source], dst = si.is_concat ? at[si.target]
                                                   : out[si.target];
        int proj = si.has_projection != 0;
        int64_t stride = proj ? si.projection_stride : 1;
        int aligned = proj && ((src.h - 1) / stride + 1 != dst.h ||
                               (src.w - 1) / stride + 1 != dst.w);
        lm_plan_skip *f = &p->skip_fit[k];
        f->size = sizeof *f;
        f->fused = p->skip_fused[k];
        f->dropped = p->skip_dropped[k];
        f->source = si.source;
        f->target = si.target;
        f->stride = stride;
        f->source_height = src.h;
        f->source_width = src.w;
        f->target_height = dst.h;
        f->target_width = dst.w;
        f->concat = si.is_concat;
        if (si.is_concat) {
            f->pad_top = f->pad_bottom = f->pad_left = f->pad_right = 0;
            continue;
        }
        fit_axis(src.h, dst.h, stride, proj, aligned, &f->pad_top,
                 &f->pad_bottom);
        fit_axis(src.w, dst.w, stride, proj, aligned, &f->pad_left,
                 &f->pad_right);
    }
    free(out);
    free(at);
    return st;
}
