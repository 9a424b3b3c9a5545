/* Reading a plan. */
#include "plan/plan_internal.h"

#include "core/error.h"

size_t lm_plan_conv_count(const lm_plan *p)
{
    return p ? p->n_convs : 0;
}

size_t lm_plan_segment_count(const lm_plan *p)
{
    return p ? p->n_bounds - 1 : 0;
}

lm_status lm_plan_segment(const lm_plan *p, size_t index, size_t *st,
                          size_t *end)
{
    if (!p || !st || !end)
        return lm_err(LM_ERR_INVALID_ARG, "lm_plan_segment: NULL argument");
    if (index + 1 >= p->n_bounds)
        return lm_err(LM_ERR_INVALID_ARG,
                      "plan segment %zu out of range (the plan has %zu)",
                      index, p->n_bounds - 1);
    *st = p->bounds[index];
    *end = p->bounds[index + 1];
    return LM_OK;
}

int lm_plan_conv_kept(const lm_plan *p, size_t conv)
{
    return p && conv >= 1 && conv <= p->n_convs && p->kept[conv - 1];
}

int64_t lm_plan_conv_padding(const lm_plan *p, size_t conv)
{
    if (!p || conv < 1 || conv > p->n_convs)
        return -1;
    return p->padding[conv - 1];
}

lm_act lm_plan_activation(const lm_plan *p, size_t position)
{
    if (!p || position > p->n_convs)
        return LM_ACT_IDENTITY;
    return p->act[position];
}

int lm_plan_skip_fused(const lm_plan *p, size_t skip)
{
    return p && skip < p->n_skips && p->skip_fused[skip];
}

int lm_plan_skip_dropped(const lm_plan *p, size_t skip)
{
    return p && skip < p->n_skips && p->skip_dropped[skip];
}
