/* liblayermerge — the reference forward engine (float32, NCHW, batch N).
 *
 * An engine runs a validated graph with its weights: the stem, the trunk
 * (conv, batch norm, skip additions, activation, fixed layers at each
 * position) and the head. Convolutions go through OpenBLAS sgemm. An
 * engine runs with the OpenBLAS thread count it was given
 * (lm_engine_set_threads); by default it leaves OpenBLAS's setting alone.
 *
 * The engine copies every tensor it needs when it is created (batch norms
 * are folded into the conv before them at that point), so the graph and the
 * weight source may be destroyed right after lm_engine_create*(). All
 * buffers are allocated once at creation: running allocates nothing.
 *
 * An engine is not safe to run from two threads at once (it owns one
 * workspace); create one engine per thread.
 */
#ifndef LAYERMERGE_ENGINE_H
#define LAYERMERGE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "layermerge/api.h"
#include "layermerge/graph.h"
#include "layermerge/plan.h"
#include "layermerge/status.h"
#include "layermerge/weights.h"

LM_BEGIN_DECLS

/** Opaque forward engine. @since 0.2 */
typedef struct lm_engine lm_engine;

/** Caller's tensor source: copy the float32 tensor `name` (a PyTorch
 * state_dict key such as "layer1.0.conv1.weight") of the given shape into
 * `dst` (the product of `shape` floats, row-major).
 * Return LM_OK, or an error status (LM_ERR_NOT_FOUND for an absent tensor,
 * LM_ERR_MISMATCH for another shape) after setting no message or any
 * message: the engine adds the tensor's name and the layer to it.
 * @since 0.2 */
typedef lm_status (*lm_tensor_fn)(const char *name, const int64_t *shape,
                                  size_t ndim, float *dst, void *userdata);

/** Build an engine for `graph` at batch size `batch`, fetching weights
 * through `fetch`. Tensors looked up, by the graph's layer names: conv
 * `name.weight` [out, in / groups, k, k] and `name.bias` [out] (when it has
 * one); batch norm `name.weight`, `name.bias`, `name.running_mean`,
 * `name.running_var` [channels]; linear `name.weight` [out, in] and
 * `name.bias` [out].
 * @param[out] out    the engine, owned by the caller (lm_engine_destroy)
 * @param graph       a validated graph; not retained
 * @param batch       images per run, >= 1
 * @param fetch       tensor source, called during this call only
 * @param userdata    passed to `fetch` unchanged
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL argument, batch 0 or above
 *         2^31 - 1, a layer with weights but no name, buffers whose size
 *         at this batch overflows), LM_ERR_STATE (graph not validated),
 *         LM_ERR_NOT_FOUND / LM_ERR_MISMATCH / any status of `fetch` (the
 *         message names the tensor and the layer), LM_ERR_VALUE (a batch
 *         norm with var + eps <= 0), LM_ERR_UNSUPPORTED (a conv or linear
 *         layer with a matrix side above 2^31 - 1, OpenBLAS's int limit,
 *         naming it), LM_ERR_NOMEM (also, before allocating, when the
 *         buffers would need more than the machine's physical memory: the
 *         message gives the bytes)
 * @since 0.2 */
LM_API lm_status lm_engine_create_with_fetch(lm_engine **out,
                                             const lm_graph *graph,
                                             size_t batch, lm_tensor_fn fetch,
                                             void *userdata);

/** Build an engine for `graph` at batch size `batch` from a weights store:
 * lm_engine_create_with_fetch() over the store's F32 tensors, each checked
 * against the shape the graph needs.
 * @param weights  the store; not retained (it may be destroyed afterwards)
 * @return as lm_engine_create_with_fetch(); LM_ERR_MISMATCH for a tensor of
 *         another shape or a non-float dtype (the message gives both shapes)
 * @since 0.2 */
LM_API lm_status lm_engine_create(lm_engine **out, const lm_graph *graph,
                                  const lm_weights *weights, size_t batch);

/** Free an engine; NULL is ignored. @since 0.2 */
LM_API void lm_engine_destroy(lm_engine *engine);

/** Images per run (0 for NULL). @since 0.2 */
LM_API size_t lm_engine_batch(const lm_engine *engine);

/** Floats of one run's input: batch * C * H * W (0 for NULL). @since 0.2 */
LM_API size_t lm_engine_input_size(const lm_engine *engine);

/** Floats of one run's output: batch * the graph's output C * H * W
 * (0 for NULL). @since 0.2 */
LM_API size_t lm_engine_output_size(const lm_engine *engine);

/** Run the network on `input` (batch x C x H x W floats, NCHW) and write
 * `output` (batch x output C x H x W floats).
 * @param n_in   floats in input, must equal lm_engine_input_size()
 * @param n_out  floats in output, must equal lm_engine_output_size()
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL argument, wrong size),
 *         LM_ERR_STATE (the engine's last reconfiguration failed; a
 *         network with a time embedding whose timesteps are not set)
 * @since 0.2 */
LM_API lm_status lm_engine_run(float *output, size_t n_out, lm_engine *engine,
                               const float *input, size_t n_in);

/** Set the timesteps of the images of the next runs, one per image of the
 * batch (`n` = lm_engine_batch()), for a network with a time embedding (a
 * diffusion U-Net's denoiser input t). They stay until set again; a plan
 * change keeps them. lm_engine_time() and lm_engine_profile() use t = 500
 * for every image when none are set (the timesteps do not change the
 * work done).
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, n not the batch), LM_ERR_VALUE
 *         (a timestep not finite), LM_ERR_STATE (no time embedding),
 *         LM_ERR_NOMEM @since 0.2 */
LM_API lm_status lm_engine_set_timesteps(lm_engine *engine,
                                         const float *timesteps, size_t n);

/** Run a training-loop plan (docs/method.md section 8) from now on: per conv keep or prune
 * (its batch norm with it) and the plan's fine-tuning padding, per
 * position the plan's activation, every skip added except those the plan
 * drops (fused skips still run: the merge folds them later). The plan is
 * copied. NULL goes back to the original network.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL engine; a plan that cannot run,
 *         naming the conv), LM_ERR_MISMATCH (the plan belongs to another
 *         graph: both fingerprints named; the configuration is then
 *         unchanged), LM_ERR_NOMEM. When configuring itself fails the
 *         engine runs nothing (LM_ERR_STATE) until a configuration
 *         succeeds.
 * @since 0.2 */
LM_API lm_status lm_engine_configure_plan(lm_engine *engine,
                                          const lm_plan *plan);

/** Figures of a series of timed runs. Set `size = sizeof(lm_timing)`
 * before the call; the library writes only within `size`. @since 0.2 */
typedef struct lm_timing {
    size_t size;
    size_t runs;       /**< timed runs */
    double median_ms;  /**< their median, milliseconds */
    double stdev_ms;   /**< their sample standard deviation (0 for 1 run) */
    double min_ms;     /**< the fastest run */
    double max_ms;     /**< the slowest run */
    size_t threads;    /**< OpenBLAS threads the runs used */
} lm_timing;

/** Time lm_engine_run on a fixed pseudo-random input in [-1, 1): `warmup`
 * untimed runs, then `reps` runs each timed with CLOCK_MONOTONIC.
 * @param[out] timing  the figures of the `reps` timed runs
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL argument, reps 0, size too
 *         small), LM_ERR_NOMEM, LM_ERR_IO (the clock failed), LM_ERR_STATE
 *         (as lm_engine_run)
 * @since 0.2 */
LM_API lm_status lm_engine_time(lm_timing *timing, lm_engine *engine,
                                size_t warmup, size_t reps);

/** Run with `threads` OpenBLAS threads from now on (OpenBLAS's setting is
 * process-wide: the engine sets it before each run). 0 leaves OpenBLAS's
 * current setting alone, the default. Timings on a shared machine are
 * steadiest at 1.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL) @since 0.2 */
LM_API lm_status lm_engine_set_threads(lm_engine *engine, size_t threads);

/** Where a run's time goes: the medians over `runs` timed runs of each
 * part of the network. Set `size = sizeof(lm_profile)` before the call.
 * The per-conv arrays are borrowed from the engine until its next
 * lm_engine_profile or its destruction. @since 0.2 */
typedef struct lm_profile {
    size_t size;
    size_t runs;
    size_t threads;     /**< OpenBLAS threads the runs used */
    double total_ms;    /**< median whole run */
    double stem_ms;     /**< layers before the trunk */
    double head_ms;     /**< layers after the trunk */
    /** Sum of conv_ms: the trunk convs with their activations (and a skip
     * added in a conv's output pass; a U-Net conv's GroupNorm of its
     * activation) */
    double trunk_ms;
    /** Sum of other_ms: skip additions and projections done apart from
     * their conv, the fixed layers at positions, and a U-Net conv's pre
     * layers and time bias */
    double other_ms;
    /** Median and sample stdev over the runs of each run's time outside
     * the trunk convs (total - trunk): what no table entry carries */
    double outside_ms;
    double outside_stdev_ms;
    size_t conv_count;      /**< N */
    const double *conv_ms;  /**< N medians: conv c at [c - 1] */
    const double *other_ms_at; /**< N medians: position p at [p - 1] */
} lm_profile;

/** Time lm_engine_run part by part on a fixed pseudo-random input:
 * `warmup` untimed runs, then `reps` runs reading the clock between the
 * stem, each trunk conv, its skips and fixed layers, and the head. The
 * clock readings add well under a microsecond per step.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, reps 0, size too small),
 *         LM_ERR_NOMEM, LM_ERR_STATE (as lm_engine_run) @since 0.2 */
LM_API lm_status lm_engine_profile(lm_profile *profile, lm_engine *engine,
                                   size_t warmup, size_t reps);

LM_END_DECLS

#endif /* LAYERMERGE_ENGINE_H */
