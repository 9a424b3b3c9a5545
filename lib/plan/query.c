/* Reading a plan. */
#include <string.h>

#include "core/error.h"
#include "core/util.h"
#include "plan/plan_internal.h"
#include "plan/plan_query.h"

size_t lm_plan_conv_count(const lm_plan *p)
{
    return p ? p->n_convs : 0;
}

size_t lm_plan_segment_count(const lm_plan *p)
{
    return p ? p->n_bounds - 1 : 0;
}

lm_status lm_plan_segment_bounds(const lm_plan *p, size_t index, size_t *st,
                                 size_t *end)
{
    if (!p || !st || !end)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_plan_segment_info: NULL argument");
    if (index + 1 >= p->n_bounds)
        return lm_err(LM_ERR_INVALID_ARG,
                      "plan segment %zu out of range (the plan has %zu)",
                      index, p->n_bounds - 1);
    *st = p->bounds[index];
    *end = p->bounds[index + 1];
    return LM_OK;
}

int lm_plan_keeps_conv(const lm_plan *p, size_t conv)
{
    return p && conv >= 1 && conv <= p->n_convs && p->kept[conv - 1];
}

int64_t lm_plan_padding_at(const lm_plan *p, size_t conv)
{
    if (!p || conv < 1 || conv > p->n_convs)
        return -1;
    return p->padding[conv - 1];
}

lm_act lm_plan_act_at(const lm_plan *p, size_t position)
{
    if (!p || position > p->n_convs)
        return LM_ACT_IDENTITY;
    return p->act[position];
}

int lm_plan_fuses_skip(const lm_plan *p, size_t skip)
{
    return p && skip < p->n_skips && p->skip_fused[skip];
}

int lm_plan_drops_skip(const lm_plan *p, size_t skip)
{
    return p && skip < p->n_skips && p->skip_dropped[skip];
}

lm_status lm_plan_segment_info(lm_plan_segment *info, const lm_plan *p,
                               size_t index)
{
    lm_plan_segment full = {.size = sizeof full};
    lm_status st = lm_plan_segment_bounds(p, index, &full.st, &full.end);
    return st == LM_OK ? lm_sized_copy(info, &full, sizeof full,
                                  "lm_plan_segment_info")
                       : st;
}

lm_status lm_plan_conv_info(lm_plan_conv *info, const lm_plan *p, size_t conv)
{
    if (!p || conv < 1 || conv > p->n_convs)
        return lm_err(LM_ERR_INVALID_ARG, "lm_plan_conv_info: conv %zu out "
                      "of range 1..%zu", conv, lm_plan_conv_count(p));
    lm_plan_conv full = {.size = sizeof full, .kept = p->kept[conv - 1],
                         .padding = p->padding[conv - 1]};
    return lm_sized_copy(info, &full, sizeof full, "lm_plan_conv_info");
}

lm_status lm_plan_position_info(lm_plan_position *info, const lm_plan *p,
                                size_t position)
{
    if (!p || position < 1 || position > p->n_convs)
        return lm_err(LM_ERR_INVALID_ARG, "lm_plan_position_info: position "
                      "%zu out of range 1..%zu", position,
                      lm_plan_conv_count(p));
    lm_plan_position full = {.size = sizeof full,
                             .activation = p->act[position]};
    return lm_sized_copy(info, &full, sizeof full, "lm_plan_position_info");
}

lm_status lm_plan_skip_info(lm_plan_skip *info, const lm_plan *p, size_t skip)
{
    if (!p || skip >= p->n_skips)
        return lm_err(LM_ERR_INVALID_ARG, "lm_plan_skip_info: skip %zu out "
                      "of range (%zu skips)", skip, p ? p->n_skips : 0);
    return lm_sized_copy(info, &p->skip_fit[skip], sizeof p->skip_fit[skip],
                         "lm_plan_skip_info");
}
