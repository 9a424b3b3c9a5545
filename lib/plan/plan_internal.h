/* Private: the storage of a training-loop plan. */
#ifndef LM_PLAN_PLAN_INTERNAL_H
#define LM_PLAN_PLAN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "layermerge/plan.h"

struct lm_plan {
    size_t n_convs;
    uint8_t *kept;     /* kept[c - 1] */
    int64_t *padding;  /* padding[c - 1] during fine-tuning */
    lm_act *act;       /* act[p], p = 0..N; act[0] is always identity */
    size_t *bounds;    /* segment boundaries, 0 .. N */
    size_t n_bounds;
    size_t n_skips;
    size_t *skip_src, *skip_dst;
    uint8_t *skip_fused, *skip_dropped;
    lm_plan_skip *skip_fit; /* per skip: positions, stride, sizes and pads
                               during fine-tuning (lm_plan_skip_info) */
    char fingerprint[17];
};

/* Fill p->skip_fit from the plan's paddings and the graph's shapes
 * (skip_fit.c); needs kept, padding, skip_fused and skip_dropped. */
LM_NODISCARD
lm_status lm_plan_fit_skips(lm_plan *p, const lm_graph *g);

#endif
