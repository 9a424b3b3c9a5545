/* lm_proxy_options: setters with their defaults. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/limits.h"
#include "measure/measure_internal.h"

void lm_proxy_options_init(lm_proxy_options *o)
{
    memset(o, 0, sizeof *o);
    lm_mrun_defaults(&o->run);
    o->batch = 4;
}

lm_status lm_proxy_options_create(lm_proxy_options **out)
{
    if (!out)
        return lm_err(LM_ERR_INVALID_ARG, "lm_proxy_options_create: NULL out");
    lm_proxy_options *o = malloc(sizeof *o);
    if (!o)
        return lm_err_nomem();
    lm_proxy_options_init(o);
    *out = o;
    return LM_OK;
}

void lm_proxy_options_destroy(lm_proxy_options *opts)
{
    if (!opts)
        return;
    lm_mrun_free(&opts->run);
    free(opts->inputs);
    free(opts->timesteps);
    free(opts);
}

lm_status lm_proxy_options_set_batch(lm_proxy_options *opts, size_t batch)
{
    if (!opts)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_proxy_options_set_batch: NULL options");
    if (batch == 0 || batch > LM_BATCH_MAX)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_proxy_options_set_batch: batch %zu is out of range "
                      "1..%zu", batch, LM_BATCH_MAX);
    opts->batch = batch;
    return LM_OK;
}

lm_status lm_proxy_options_set_input_size(lm_proxy_options *opts,
                                          int64_t height, int64_t width)
{
    if (!opts || height < 0 || width < 0 || (height == 0) != (width == 0) ||
        height > LM_DIM_MAX || width > LM_DIM_MAX)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_proxy_options_set_input_size: bad size %lldx%lld (each "
                      "0..%lld, both 0 or neither)", (long long)height,
                      (long long)width, (long long)LM_DIM_MAX);
    opts->height = height;
    opts->width = width;
    return LM_OK;
}

lm_status lm_proxy_options_set_seed(lm_proxy_options *opts, uint64_t seed)
{
    if (!opts)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_proxy_options_set_seed: NULL options");
    opts->seed = seed;
    return LM_OK;
}

lm_status lm_proxy_options_set_inputs(lm_proxy_options *opts,
                                      const float *data, size_t n)
{
    if (!opts || (data && n == 0))
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_proxy_options_set_inputs: NULL options or empty "
                      "batch");
    if (n > SIZE_MAX / sizeof(float))
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_proxy_options_set_inputs: %zu floats overflow a "
                      "size", n);
    float *copy = NULL;
    if (data) {
        for (size_t i = 0; i < n; i++)
            if (!isfinite(data[i]))
                return lm_err(LM_ERR_VALUE,
                              "lm_proxy_options_set_inputs: value %zu is not "
                              "finite", i);
        if (!(copy = malloc(n * sizeof *copy)))
            return lm_err_nomem();
        memcpy(copy, data, n * sizeof *copy);
    }
    free(opts->inputs);
    opts->inputs = copy;
    opts->n_inputs = data ? n : 0;
    return LM_OK;
}

lm_status lm_proxy_options_set_range(lm_proxy_options *opts, size_t lo,
                                     size_t hi)
{
    if (!opts)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_proxy_options_set_range: NULL options");
    return lm_mrun_set_range(&opts->run, lo, hi);
}

lm_status lm_proxy_options_set_save_path(lm_proxy_options *opts,
                                         const char *path)
{
    if (!opts)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_proxy_options_set_save_path: NULL options");
    return lm_mrun_set_save_path(&opts->run, path);
}

lm_status lm_proxy_options_set_progress(lm_proxy_options *opts,
                                        lm_progress_fn progress,
                                        void *userdata)
{
    if (!opts)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_proxy_options_set_progress: NULL options");
    opts->run.progress = progress;
    opts->run.progress_data = progress ? userdata : NULL;
    return LM_OK;
}

lm_status lm_proxy_options_set_timesteps(lm_proxy_options *opts,
                                         const float *timesteps, size_t n)
{
    if (!opts || (timesteps && n == 0))
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_proxy_options_set_timesteps: NULL options or no "
                      "timesteps");
    if (n > SIZE_MAX / sizeof(float))
        return lm_err(LM_ERR_INVALID_ARG, "lm_proxy_options_set_timesteps: "
                      "%zu floats overflow a size", n);
    float *copy = NULL;
    if (timesteps) {
        for (size_t i = 0; i < n; i++)
            if (!isfinite(timesteps[i]))
                return lm_err(LM_ERR_VALUE, "lm_proxy_options_set_timesteps: "
                              "timestep %zu is not finite", i);
        if (!(copy = malloc(n * sizeof *copy)))
            return lm_err_nomem();
        memcpy(copy, timesteps, n * sizeof *copy);
    }
    free(opts->timesteps);
    opts->timesteps = copy;
    opts->n_timesteps = timesteps ? n : 0;
    return LM_OK;
}
