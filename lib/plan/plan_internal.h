/* Private: the storage of a training-loop plan. */
#ifndef LM_PLAN_PLAN_INTERNAL_H
#define LM_PLAN_PLAN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

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
    char fingerprint[17];
};

#endif
