/* Running a training-loop plan (docs/method.md section 8) on the engine: the
 * public lm_plan becomes the private lm_eplan the runner executes. */
#include <string.h>

#include "core/error.h"
#include "engine/engine_internal.h"
#include "plan/plan_query.h"

static lm_status check_plan(const lm_engine *e, const lm_plan *plan)
{
    const char *pfp = lm_plan_fingerprint(plan);
    if (strcmp(pfp, e->fingerprint) != 0)
        return lm_err(LM_ERR_MISMATCH, "lm_engine_configure_plan: the plan "
                      "belongs to graph %s, the engine runs graph %s", pfp,
                      e->fingerprint);
    if (lm_plan_conv_count(plan) != e->n)
        return lm_err(LM_ERR_MISMATCH, "lm_engine_configure_plan: plan for "
                      "%zu convs, engine has %zu", lm_plan_conv_count(plan),
                      e->n);
    for (size_t c = 1; c <= e->n; c++)
        if (lm_plan_keeps_conv(plan, c) && lm_plan_padding_at(plan, c) < 0)
            return lm_err(LM_ERR_INVALID_ARG, "lm_engine_configure_plan: "
                          "conv %zu has padding %lld", c,
                          (long long)lm_plan_padding_at(plan, c));
    return LM_OK;
}

/* A fused skip still runs during fine-tuning (the merge folds it later);
 * only a skip inside an identity-option segment is gone. */
static void fill_eplan(lm_eplan *ep, const lm_engine *e, const lm_plan *plan)
{
    ep->act[0] = LM_ACT_IDENTITY;
    ep->keep[0] = 1;
    ep->padding[0] = 0;
    for (size_t c = 1; c <= e->n; c++) {
        ep->keep[c] = (uint8_t)lm_plan_keeps_conv(plan, c);
        ep->padding[c] = lm_plan_padding_at(plan, c);
        ep->act[c] = lm_plan_act_at(plan, c);
    }
    for (size_t k = 0; k < e->n_skips; k++)
        ep->skip_on[k] = (uint8_t)!lm_plan_drops_skip(plan, k);
}

lm_status lm_engine_configure_plan(lm_engine *engine, const lm_plan *plan)
{
    if (!engine)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_engine_configure_plan: NULL engine");
    if (!plan)
        return lm_engine_configure(engine, &engine->original);
    lm_status st = check_plan(engine, plan);
    if (st != LM_OK)
        return st;
    lm_eplan ep;
    st = lm_eplan_default(&ep, engine);
    if (st != LM_OK)
        return st;
    fill_eplan(&ep, engine, plan);
    st = lm_engine_configure(engine, &ep);
    lm_eplan_free(&ep);
    if (st != LM_OK)
        return lm_err_prefix(st, "lm_engine_configure_plan: ");
    return LM_OK;
}
