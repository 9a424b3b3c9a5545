/* lm_engine_time: median and spread of whole-network runs. The input is a
 * fixed pseudo-random pattern (a local LCG, no global state), so two calls
 * time the same work. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/stats.h"
#include "core/util.h"
#include "engine/blas_threads.h"
#include "engine/engine_internal.h"

/* The input every timing uses: fixed, so that runs and engines compare. */
void lm_engine_fixed_input(float *x, size_t n)
{
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(s >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
    }
}

static lm_status timed_runs(lm_engine *e, size_t warmup, size_t reps,
                            const float *in, float *out, double *t)
{
    size_t n_in = lm_engine_input_size(e), n_out = lm_engine_output_size(e);
    lm_status st = LM_OK;
    for (size_t i = 0; st == LM_OK && i < warmup; i++)
        st = lm_engine_run(out, n_out, e, in, n_in);
    for (size_t i = 0; st == LM_OK && i < reps; i++) {
        double t0 = lm_engine_now_ms();
        st = lm_engine_run(out, n_out, e, in, n_in);
        t[i] = lm_engine_now_ms() - t0;
    }
    return st;
}

static void summarise(double *t, size_t reps, lm_timing *out)
{
    out->runs = reps;
    out->stdev_ms = lm_sample_stdev(t, reps);
    out->median_ms = lm_median_sort(t, reps);
    out->min_ms = t[0];
    out->max_ms = t[reps - 1];
}

lm_status lm_engine_time(lm_timing *timing, lm_engine *e, size_t warmup,
                         size_t reps)
{
    if (!e || reps == 0)
        return lm_err(LM_ERR_INVALID_ARG, "lm_engine_time: NULL engine or "
                      "reps 0");
    lm_status rc = lm_sized_check(timing, "lm_engine_time");
    if (rc != LM_OK)
        return rc;
    if (reps > SIZE_MAX / sizeof(double))
        return lm_err(LM_ERR_INVALID_ARG, "lm_engine_time: %zu repetitions "
                      "overflow a size", reps);
    /* The engine's own buffers hold these sizes: no overflow. */
    size_t n_in = lm_engine_input_size(e), n_out = lm_engine_output_size(e);
    float *in = malloc(n_in * sizeof *in), *out = malloc(n_out * sizeof *out);
    double *t = malloc(reps * sizeof *t);
    lm_status st = in && out && t ? LM_OK : lm_err_nomem();
    if (st == LM_OK)
        st = lm_engine_timing_begin(e);
    if (st == LM_OK) {
        lm_engine_fixed_input(in, n_in);
        st = timed_runs(e, warmup, reps, in, out, t);
    }
    lm_engine_timing_end(e);
    if (st == LM_OK) {
        lm_timing full = {.size = sizeof full, .threads = lm_blas_threads()};
        summarise(t, reps, &full);
        st = lm_sized_copy(timing, &full, sizeof full, "lm_engine_time");
    }
    free(in);
    free(out);
    free(t);
    return st;
}
