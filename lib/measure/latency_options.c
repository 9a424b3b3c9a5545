/* lm_measure_options: setters with their defaults. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/limits.h"
#include "measure/measure_internal.h"

void lm_measure_options_init(lm_measure_options *o)
{
    memset(o, 0, sizeof *o);
    lm_mrun_defaults(&o->run);
    o->batch = 1;
    o->warmup = 3;
    o->reps = 20;
    o->threads = 1;
    o->passes = 3;
    o->seed = 1;
    o->noise_limit = 0.10;
    o->extra_passes = 2;
    o->network = 1;
}

lm_status lm_measure_options_set_threads(lm_measure_options *opts,
                                         size_t threads)
{
    if (!opts || threads == 0 || threads > 4096)
        return lm_err(LM_ERR_INVALID_ARG, "lm_measure_options_set_threads: "
                      "NULL options or %zu threads (1..4096)", threads);
    opts->threads = threads;
    return LM_OK;
}

lm_status lm_measure_options_set_passes(lm_measure_options *opts,
                                        size_t passes, uint64_t seed)
{
    if (!opts || passes == 0 || passes > 64)
        return lm_err(LM_ERR_INVALID_ARG, "lm_measure_options_set_passes: "
                      "NULL options or %zu passes (1..64)", passes);
    opts->passes = passes;
    opts->seed = seed;
    return LM_OK;
}

lm_status lm_measure_options_set_noise_limit(lm_measure_options *opts,
                                             double spread,
                                             size_t extra_passes)
{
    if (!opts || !(spread >= 0.0 && spread < 1e9) || extra_passes > 64)
        return lm_err(LM_ERR_INVALID_ARG, "lm_measure_options_set_noise_"
                      "limit: NULL options, spread %g not finite and >= 0, "
                      "or %zu extra passes (at most 64)", spread,
                      extra_passes);
    opts->noise_limit = spread;
    opts->extra_passes = extra_passes;
    return LM_OK;
}

lm_status lm_measure_options_set_network(lm_measure_options *opts,
                                         int time_network)
{
    if (!opts)
        return lm_err(LM_ERR_INVALID_ARG, "lm_measure_options_set_network: "
                      "NULL options");
    opts->network = time_network != 0;
    return LM_OK;
}

lm_status lm_measure_options_create(lm_measure_options **out)
{
    if (!out)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_measure_options_create: NULL out");
    lm_measure_options *o = malloc(sizeof *o);
    if (!o)
        return lm_err_nomem();
    lm_measure_options_init(o);
    *out = o;
    return LM_OK;
}

void lm_measure_options_destroy(lm_measure_options *opts)
{
    if (!opts)
        return;
    lm_mrun_free(&opts->run);
    free(opts);
}

lm_status lm_measure_options_set_batch(lm_measure_options *opts, size_t batch)
{
    if (!opts)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_measure_options_set_batch: NULL options");
    if (batch == 0 || batch > LM_BATCH_MAX)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_measure_options_set_batch: batch %zu is out of range "
                      "1..%zu", batch, LM_BATCH_MAX);
    opts->batch = batch;
    return LM_OK;
}

lm_status lm_measure_options_set_input_size(lm_measure_options *opts,
                                            int64_t height, int64_t width)
{
    if (!opts || height < 0 || width < 0 || (height == 0) != (width == 0) ||
        height > LM_DIM_MAX || width > LM_DIM_MAX)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_measure_options_set_input_size: bad size %lldx%lld (each "
                      "0..%lld, both 0 or neither)", (long long)height,
                      (long long)width, (long long)LM_DIM_MAX);
    opts->height = height;
    opts->width = width;
    return LM_OK;
}

lm_status lm_measure_options_set_warmup(lm_measure_options *opts,
                                        size_t warmup)
{
    if (!opts)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_measure_options_set_warmup: NULL options");
    opts->warmup = warmup;
    return LM_OK;
}

lm_status lm_measure_options_set_repetitions(lm_measure_options *opts,
                                             size_t reps)
{
    if (!opts || reps == 0)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_measure_options_set_repetitions: NULL options or "
                      "0 repetitions");
    opts->reps = reps;
    return LM_OK;
}

lm_status lm_measure_options_set_range(lm_measure_options *opts, size_t lo,
                                       size_t hi)
{
    if (!opts)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_measure_options_set_range: NULL options");
    return lm_mrun_set_range(&opts->run, lo, hi);
}

lm_status lm_measure_options_set_save_path(lm_measure_options *opts,
                                           const char *path)
{
    if (!opts)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_measure_options_set_save_path: NULL options");
    return lm_mrun_set_save_path(&opts->run, path);
}

lm_status lm_measure_options_set_timer(lm_measure_options *opts,
                                       lm_timer_fn timer,
                                       void *userdata)
{
    if (!opts)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_measure_options_set_timer: NULL options");
    opts->timer = timer;
    opts->timer_data = timer ? userdata : NULL;
    return LM_OK;
}

lm_status lm_measure_options_set_progress(lm_measure_options *opts,
                                          lm_progress_fn progress,
                                          void *userdata)
{
    if (!opts)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_measure_options_set_progress: NULL options");
    opts->run.progress = progress;
    opts->run.progress_data = progress ? userdata : NULL;
    return LM_OK;
}
