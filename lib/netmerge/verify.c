/* Verification: the fine-tuning chain (engine + plan) against the merged
 * network, on one pseudo-random input. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/stats.h"
#include "core/util.h"
#include "layermerge/engine.h"
#include "netmerge/netmerge_internal.h"

static void fill_input(float *x, size_t n, uint64_t seed)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((double)(lm_splitmix64(&s) >> 11) * 0x1.0p-52 - 1.0);
}

/* A denoiser's timesteps: the same integers in 0..999 for both. */
static lm_status set_timesteps(lm_engine *a, lm_engine *b, uint64_t seed)
{
    size_t n = lm_engine_batch(a);
    float *t = malloc(n * sizeof *t);
    if (!t)
        return lm_err_nomem();
    uint64_t s = seed ^ UINT64_C(0x74696d6573746570);
    for (size_t i = 0; i < n; i++)
        t[i] = (float)(lm_splitmix64(&s) % 1000);
    lm_status st = lm_engine_set_timesteps(a, t, n);
    if (st == LM_OK)
        st = lm_engine_set_timesteps(b, t, n);
    free(t);
    return st;
}

static lm_status run_both(lm_engine *a, lm_engine *b, uint64_t seed,
                          int timesteps, double *max_abs, double *max_rel)
{
    size_t ni = lm_engine_input_size(a), no = lm_engine_output_size(a);
    if (ni != lm_engine_input_size(b) || no != lm_engine_output_size(b))
        return lm_err(LM_ERR_MISMATCH,
                      "lm_graph_verify_merge: the chain takes %zu input "
                      "and gives %zu output values, the merged network %zu "
                      "and %zu",
                      ni, no, lm_engine_input_size(b),
                      lm_engine_output_size(b));
    float *x = malloc(ni * sizeof *x), *ya = malloc(no * sizeof *ya),
          *yb = malloc(no * sizeof *yb);
    lm_status st = (x && ya && yb) ? LM_OK : lm_err_nomem();
    if (st == LM_OK && timesteps)
        st = set_timesteps(a, b, seed);
    if (st == LM_OK) {
        fill_input(x, ni, seed);
        st = lm_engine_run(ya, no, a, x, ni);
    }
    if (st == LM_OK)
        st = lm_engine_run(yb, no, b, x, ni);
    if (st == LM_OK) {
        double diff = 0.0, mag = 0.0;
        for (size_t i = 0; i < no; i++) {
            diff = fmax(diff, fabs((double)ya[i] - (double)yb[i]));
            mag = fmax(mag, fabs((double)ya[i]));
        }
        *max_abs = diff;
        *max_rel = mag > 0.0 ? diff / mag : diff;
    }
    free(x);
    free(ya);
    free(yb);
    return st;
}

lm_status lm_graph_verify_merge(lm_merge_deviation *deviation,
                                const lm_graph *graph,
                                const lm_weights *weights, const lm_plan *plan,
                                const lm_graph *merged,
                                const lm_weights *merged_weights, size_t batch,
                                uint64_t seed)
{
    if (!graph || !weights || !plan || !merged || !merged_weights ||
        batch == 0)
        return lm_err(LM_ERR_INVALID_ARG, "lm_graph_verify_merge: NULL "
                      "argument or batch 0");
    lm_status st = lm_sized_check(deviation, "lm_graph_verify_merge");
    if (st != LM_OK)
        return st;
    lm_engine *a = NULL, *b = NULL;
    st = lm_engine_create(&a, graph, weights, batch);
    if (st == LM_OK)
        st = lm_engine_configure_plan(a, plan);
    if (st == LM_OK) {
        st = lm_engine_create(&b, merged, merged_weights, batch);
        if (st != LM_OK)
            st = lm_err_prefix(st, "lm_graph_verify_merge: merged network: ");
    }
    lm_merge_deviation full = {.size = sizeof full};
    lm_time_embedding_info te = {.size = sizeof te};
    if (st == LM_OK)
        st = lm_graph_time_embedding(&te, graph);
    if (st == LM_OK)
        st = run_both(a, b, seed, te.has_time_embedding, &full.max_abs,
                      &full.max_rel);
    if (st == LM_OK)
        st = lm_sized_copy(deviation, &full, sizeof full,
                           "lm_graph_verify_merge");
    lm_engine_destroy(a);
    lm_engine_destroy(b);
    return st;
}
