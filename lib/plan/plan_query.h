/* Private: value-returning plan queries for the library's own rooms and
 * tests; the public calls (plan.h) report out-of-range indices as errors
 * through records. Out of range: 0, -1 (padding), LM_ACT_IDENTITY. */
#ifndef LM_PLAN_PLAN_QUERY_H
#define LM_PLAN_PLAN_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "layermerge/plan.h"

LM_NODISCARD
lm_status lm_plan_segment_bounds(const lm_plan *p, size_t index, size_t *st,
                                 size_t *end);
int lm_plan_keeps_conv(const lm_plan *p, size_t conv);
int64_t lm_plan_padding_at(const lm_plan *p, size_t conv);
lm_act lm_plan_act_at(const lm_plan *p, size_t position);
int lm_plan_fuses_skip(const lm_plan *p, size_t skip);
int lm_plan_drops_skip(const lm_plan *p, size_t skip);

#endif
