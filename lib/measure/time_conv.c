/* The built-in latency timer: one merged conv and its activation as a
 * one-conv network on the reference engine, with random weights. */
#include <stdint.h>

#include "core/error.h"
#include "layermerge/engine.h"
#include "measure/measure_internal.h"

/* The one-conv graph of an entry. Merged convs carry a bias (the folded
 * batch norms), so the timed conv has one too; a GroupNorm of the
 * activation (norm_groups > 0) goes with it. */
static lm_status conv_graph(lm_graph **out, const lm_entry_info *e,
                            lm_act act, int64_t norm_groups, double norm_eps)
{
    lm_graph *g = NULL;
    int64_t groups = e->depthwise ? e->in_channels : 1;
    lm_status st = lm_graph_create(&g, e->in_channels, e->in_height,
                                   e->in_width);
    if (st == LM_OK)
        st = lm_graph_add_conv(g, &(lm_conv_desc){
            .size = sizeof(lm_conv_desc), .name = "conv",
            .in_channels = e->in_channels, .out_channels = e->out_channels,
            .kernel = e->kernel, .stride = e->stride, .padding = e->padding,
            .groups = groups, .has_bias = 1}, act);
    if (st == LM_OK && norm_groups > 0)
        st = lm_graph_set_conv_groupnorm(g, 1, "norm", norm_groups,
                                         norm_eps);
    if (st == LM_OK)
        st = lm_graph_validate(g);
    if (st != LM_OK) {
        lm_graph_destroy(g);
        return st;
    }
    *out = g;
    return LM_OK;
}

lm_status lm_entry_time(lm_timing *timing, const lm_entry_info *entry,
                        lm_act act, size_t batch, size_t warmup, size_t reps)
{
    return lm_measure_entry_time(timing, entry, act, 0, 0.0, batch, warmup,
                                 reps);
}

lm_status lm_measure_entry_time(lm_timing *timing, const lm_entry_info *entry,
                                lm_act act, int64_t norm_groups,
                                double norm_eps, size_t batch, size_t warmup,
                                size_t reps)
{
    if (!entry || !timing || batch == 0 || reps == 0)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_entry_time: NULL argument, batch 0 or 0 "
                      "repetitions");
    if (entry->kernel < 1)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_entry_time: kernel %lld has no conv to time",
                      (long long)entry->kernel);
    lm_graph *g = NULL;
    lm_weights *w = NULL;
    lm_engine *e = NULL;
    lm_status st = conv_graph(&g, entry, act, norm_groups, norm_eps);
    if (st == LM_OK)
        st = lm_weights_create(&w);
    if (st == LM_OK)
        st = lm_weights_init_random(w, g, 1);
    if (st == LM_OK)
        st = lm_engine_create(&e, g, w, batch);
    if (st == LM_OK)
        st = lm_engine_time(timing, e, warmup, reps);
    lm_engine_destroy(e);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
    return st;
}
