/* liblayermerge — filling tables: latency measurement and the data-free
 * proxy importance (docs/measure.md).
 *
 * lm_table_measure_latency() times every entry's merged conv (docs/method.md section 5) and
 * stores it in a latency table; lm_table_score_proxy() scores every entry by how
 * little the network's output changes when only that entry is applied,
 * without data and without fine-tuning. Both work entry by entry over an
 * id range, skip entries the table already holds (so a killed run resumes
 * where it stopped), save the table atomically after every entry when
 * given a path, and report progress through a callback that may cancel.
 *
 * The latency measurement runs OpenBLAS with its own thread count (1 by
 * default, recorded in the table) and restores the caller's setting when
 * it returns; the proxy leaves OpenBLAS's setting alone.
 *
 * Threads: a measuring call changes its table (exclusive access to the
 * table) and only reads graph, entries, weights and options, which other
 * threads may read meanwhile. Callbacks run on the calling thread.
 */
#ifndef LAYERMERGE_MEASURE_H
#define LAYERMERGE_MEASURE_H

#include <stddef.h>
#include <stdint.h>

#include "layermerge/api.h"
#include "layermerge/engine.h"
#include "layermerge/entries.h"
#include "layermerge/graph.h"
#include "layermerge/status.h"
#include "layermerge/tables.h"
#include "layermerge/weights.h"

LM_BEGIN_DECLS

/** Progress report, called after each entry the call stored (not for the
 * entries the table already held).
 * @param done      entries of the range that now hold a value
 * @param total     entries in the range
 * @param entry_id  the entry just stored
 * @param elapsed_s seconds since the call started
 * @return 0 to go on; non-zero to stop (the call returns LM_ERR_CANCELLED
 *         and the table keeps, and has saved, every entry stored so far)
 * @since 0.2 */
typedef int (*lm_progress_fn)(size_t done, size_t total, size_t entry_id,
                              double elapsed_s, void *userdata);

/** Caller's latency timer, replacing the built-in engine timer (e.g. for
 * TensorRT, ONNX Runtime or a phone). Time the merged conv of `entry`
 * (kernel, stride, padding, depthwise, in/out channels, input
 * in_height x in_width — already scaled when the options override the
 * input size) followed by its activation, at `batch` images. For a U-Net
 * entry whose end conv has a GroupNorm (lm_graph_conv_info(),
 * has_groupnorm), the built-in timer times that GroupNorm with the
 * activation; a caller's timer should too.
 * @param[out] median_ms  its time in milliseconds, finite and >= 0
 * @param[out] stdev_ms   its spread, finite and >= 0
 * @return LM_OK, or any error status (lm_table_measure_latency returns it
 *         after adding the entry id to the message)
 * @since 0.2 */
typedef lm_status (*lm_timer_fn)(double *median_ms, double *stdev_ms,
                                 const lm_entry_info *entry, size_t batch,
                                 void *userdata);

/* ---- latency ---------------------------------------------------------- */

/** Opaque options of lm_table_measure_latency(). @since 0.2 */
typedef struct lm_measure_options lm_measure_options;

/** Create options with the defaults: batch 1, the graph's own input size,
 * 1 OpenBLAS thread, 3 passes (seed 1), 3 warm-up runs and 20 repetitions
 * per entry and pass, noise limit 0.10 with at most 2 extra passes, the
 * whole network timed too, every entry, no autosave, the built-in engine
 * timer, no progress callback.
 * @param[out] out  owned by the caller (lm_measure_options_destroy)
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL out), LM_ERR_NOMEM @since 0.2 */
LM_API lm_status lm_measure_options_create(lm_measure_options **out);
/** Free options; NULL is ignored. @since 0.2 */
LM_API void lm_measure_options_destroy(lm_measure_options *opts);
/** Images per timed run, 1..65536.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, 0, above 65536) @since 0.2 */
LM_API lm_status lm_measure_options_set_batch(lm_measure_options *opts,
                                              size_t batch);
/** Network input height and width to time at; every entry's input shape
 * is scaled by height / graph height (width likewise), rounded, at least
 * 1. 0, 0 restores the graph's own size.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, negative, above 2^31 - 1, one
 *         of them 0)
 * @since 0.2 */
LM_API lm_status lm_measure_options_set_input_size(lm_measure_options *opts,
                                                   int64_t height,
                                                   int64_t width);
/** OpenBLAS threads to measure with, >= 1: set for the measurement and
 * restored afterwards; recorded as LM_TABLE_THREADS. A table measured with
 * another count is LM_ERR_MISMATCH on resume.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, 0, more than 4096) @since 0.2 */
LM_API lm_status lm_measure_options_set_threads(lm_measure_options *opts,
                                                size_t threads);
/** Measure every entry in `passes` passes (>= 1), each over the entries in
 * an order shuffled from `seed` and the pass number, so that a burst of
 * load on a shared machine hits different entries in different passes.
 * An entry's value is the median of its pass medians.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, 0, more than 64) @since 0.2 */
LM_API lm_status lm_measure_options_set_passes(lm_measure_options *opts,
                                               size_t passes, uint64_t seed);
/** An entry whose pass medians spread by more than `spread` of its value
 * ((max - min) / median, leaving out the slowest pass from three passes on:
 * load only ever slows a run) is measured again in up to `extra_passes` more
 * passes (shuffled too); one still above it is marked noisy in the table
 * (lm_table_record.noisy).
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, spread not finite or < 0, more
 *         than 64 extra passes) @since 0.2 */
LM_API lm_status lm_measure_options_set_noise_limit(lm_measure_options *opts,
                                                    double spread,
                                                    size_t extra_passes);
/** With the built-in timer, also time the whole original network at the
 * table's shape, batch and threads, step by step (lm_engine_profile): the
 * table gets its fixed cost and, once every original entry is measured,
 * the in-network calibration of each stage (lm_table_network_info).
 * Default on.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL) @since 0.2 */
LM_API lm_status lm_measure_options_set_network(lm_measure_options *opts,
                                                int time_network);
/** Untimed runs before the timed ones (built-in timer).
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL) @since 0.2 */
LM_API lm_status lm_measure_options_set_warmup(lm_measure_options *opts,
                                               size_t warmup);
/** Timed runs per entry, >= 1 (built-in timer); the median is stored.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, 0) @since 0.2 */
LM_API lm_status lm_measure_options_set_repetitions(lm_measure_options *opts,
                                                    size_t reps);
/** Measure only entry ids lo <= id < hi (one shard of a split run); hi is
 * clipped to the entry count at measurement time. The table's shard
 * declaration is not changed (see lm_table_set_shard()).
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, lo >= hi) @since 0.2 */
LM_API lm_status lm_measure_options_set_range(lm_measure_options *opts,
                                              size_t lo, size_t hi);
/** Save the table to `path` (atomically) after every stored entry; NULL
 * turns autosaving off. Copied.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL opts), LM_ERR_NOMEM @since 0.2 */
LM_API lm_status lm_measure_options_set_save_path(lm_measure_options *opts,
                                                  const char *path);
/** Use `timer` instead of the built-in engine timer; NULL restores it.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL opts) @since 0.2 */
LM_API lm_status lm_measure_options_set_timer(lm_measure_options *opts,
                                              lm_timer_fn timer,
                                              void *userdata);
/** Call `progress` after every stored entry; NULL turns it off.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL opts) @since 0.2 */
LM_API lm_status lm_measure_options_set_progress(lm_measure_options *opts,
                                                 lm_progress_fn progress,
                                                 void *userdata);

/** Measure the latency of the entries of `entries` in the option's range
 * that `table` does not hold yet, in passes (docs/measure.md): pass k
 * times, in an order shuffled from the seed and k, every entry with fewer
 * than k pass medians; an entry's value is the median of its pass medians
 * and its stdev that of its last pass. Entries whose passes spread beyond
 * the noise limit get extra passes; one still beyond it is marked noisy.
 * Every pass median is saved, so a killed run resumes where it stopped
 * without measuring a finished pass again. Identity entries are stored as
 * 0 ms without timing. The built-in timer builds the entry's merged conv
 * (K, stride, summed padding, dense or depthwise, in/out channels, with a
 * bias) and its activation — the original activation of the end position,
 * or the graph's nonlinearity when the segment spans more than one
 * position and that activation is identity (docs/method.md section 6),
 * with the end conv's GroupNorm before it when it has one (U-Nets) —
 * as a one-conv network at the entry's input shape, with random weights,
 * and times it with lm_engine_time(). With the built-in timer and the
 * network option on, the whole original network is then profiled at the
 * same shape, batch and threads: the table gets its fixed cost and stage
 * calibration (lm_table_network_info).
 *
 * Provenance written to the table: batch, input height and width,
 * threads, passes; with the built-in timer also device ("cpu <model
 * name>"), timer "lm_engine", dtype "float32" and repetitions. A table
 * that already holds records must have been measured with the same batch,
 * input size, threads and timer text.
 *
 * @param table    a table for the graph of `entries` (equal fingerprints)
 * @param graph    the graph `entries` was built from (activations, input
 *                 size); only read
 * @param entries  the entries; only read
 * @param opts     options; NULL means the defaults
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL table, graph or entries; range
 *         starting past the last entry), LM_ERR_MISMATCH (table or entries
 *         of another graph; a table measured with another batch, size,
 *         thread count or timer — the message names the field and both
 *         values),
 *         LM_ERR_CANCELLED (the progress callback asked to stop),
 *         LM_ERR_IO (autosave failed), any status of the timer or of the
 *         engine (the message names the entry id and key), LM_ERR_NOMEM.
 *         On failure the table keeps every entry stored before it.
 * @since 0.2 */
LM_API lm_status lm_table_measure_latency(lm_table *table,
                                          const lm_graph *graph,
                                          const lm_entries *entries,
                                          const lm_measure_options *opts);

/** Time entries `ids` once more, in a fresh pass (shuffled from the
 * options' seed): the answer to the winner's curse. A solver picks the
 * entries whose measured latency happened to come out low; timing them
 * again, in a pass it did not select on, tells what the chosen network
 * really costs. Each fresh median is added to its entry's passes (so the
 * table's value moves toward it) and returned in `fresh_ms`.
 * @param[out] fresh_ms  n fresh pass medians, ids[i]'s at [i] (0 for an
 *                       identity entry, which is not timed)
 * @return as lm_table_measure_latency(), plus LM_ERR_INVALID_ARG (NULL
 *         ids or fresh_ms with n > 0, an id out of range) @since 0.2 */
LM_API lm_status lm_table_remeasure_entries(double *fresh_ms, lm_table *table,
                                            const lm_graph *graph,
                                            const lm_entries *entries,
                                            const size_t *ids, size_t n,
                                            const lm_measure_options *opts);

/** Time one entry's merged conv and its activation with the built-in
 * engine timer: the same measurement lm_table_measure_latency() makes for
 * a non-identity entry, but for the GroupNorm of a U-Net entry's
 * activation, which the table times with it and this call does not.
 * @param[out] timing  the figures of the timed runs (engine.h)
 * @param entry   kernel, stride, padding, depthwise, in/out channels and
 *                in_height/in_width are read (lm_entries_entry_info())
 * @param act     activation after the conv
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, batch or reps 0, a kernel < 1
 *         or other shape the engine refuses, size too small),
 *         LM_ERR_NOMEM, LM_ERR_IO
 * @since 0.2 */
LM_API lm_status lm_entry_time(lm_timing *timing, const lm_entry_info *entry,
                               lm_act act, size_t batch, size_t warmup,
                               size_t reps);

/* ---- proxy importance ------------------------------------------------- */

/** Opaque options of lm_table_score_proxy(). @since 0.2 */
typedef struct lm_proxy_options lm_proxy_options;

/** Create options with the defaults: batch 4, the graph's own input size,
 * seed 0 for the N(0, 1) calibration inputs, every entry, no autosave, no
 * progress callback.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL out), LM_ERR_NOMEM @since 0.2 */
LM_API lm_status lm_proxy_options_create(lm_proxy_options **out);
/** Free options; NULL is ignored. @since 0.2 */
LM_API void lm_proxy_options_destroy(lm_proxy_options *opts);
/** Calibration images, 1..65536.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, 0, above 65536) @since 0.2 */
LM_API lm_status lm_proxy_options_set_batch(lm_proxy_options *opts,
                                            size_t batch);
/** Run the network at this input height and width instead of the graph's
 * own (much faster at small sizes); 0, 0 restores the graph's own. The
 * graph must accept that size (its head must, e.g. through an adaptive
 * pool).
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, negative, above 2^31 - 1, one
 *         of them 0)
 * @since 0.2 */
LM_API lm_status lm_proxy_options_set_input_size(lm_proxy_options *opts,
                                                 int64_t height,
                                                 int64_t width);
/** Seed of the N(0, 1) calibration inputs.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL) @since 0.2 */
LM_API lm_status lm_proxy_options_set_seed(lm_proxy_options *opts,
                                           uint64_t seed);
/** Use the caller's calibration batch instead of random inputs: `n`
 * floats, batch x C x H x W NCHW at the (possibly overridden) input size;
 * copied. NULL returns to random inputs. The size is checked by
 * lm_table_score_proxy().
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL opts, n 0 with data),
 *         LM_ERR_VALUE (a NaN or infinite value), LM_ERR_NOMEM @since 0.2 */
LM_API lm_status lm_proxy_options_set_inputs(lm_proxy_options *opts,
                                             const float *data, size_t n);
/** For a network with a time embedding (a diffusion denoiser): the
 * calibration timesteps, one per image of the batch, copied; checked
 * against the batch by lm_table_score_proxy(). NULL (the default) draws
 * them uniformly from the integers 0..999 with the seed.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL opts, n 0 with data),
 *         LM_ERR_VALUE (a NaN or infinite value), LM_ERR_NOMEM @since 0.2 */
LM_API lm_status lm_proxy_options_set_timesteps(lm_proxy_options *opts,
                                                const float *timesteps,
                                                size_t n);
/** As lm_measure_options_set_range(). @since 0.2 */
LM_API lm_status lm_proxy_options_set_range(lm_proxy_options *opts,
                                            size_t lo, size_t hi);
/** As lm_measure_options_set_save_path(). @since 0.2 */
LM_API lm_status lm_proxy_options_set_save_path(lm_proxy_options *opts,
                                                const char *path);
/** As lm_measure_options_set_progress(). @since 0.2 */
LM_API lm_status lm_proxy_options_set_progress(lm_proxy_options *opts,
                                               lm_progress_fn progress,
                                               void *userdata);

/** Score the entries in the option's range that `table` does not hold yet
 * with a data-free proxy: run the network in which only the entry is
 * applied (lm_plan_create_for_entry(), on the original weights, no
 * fine-tune)
 * and the original network on the calibration batch, and store
 * raw = rse = ||y_entry - y_orig||^2 / ||y_orig||^2 and normalised
 * importance exp(-rse). An entry that keeps every conv of a single-conv
 * segment is the original network: rse 0, importance 1.
 *
 * This is NOT the paper's importance (fine-tuned accuracy); the table's
 * fine-tune text says so ("data-free proxy: ..."), with dtype "float32",
 * batch and input size as provenance. A table that already holds records
 * must carry the same fine-tune text, batch and input size.
 *
 * @param table    an importance table with metric LM_METRIC_NORMALISED for
 *                 the graph of `entries`
 * @param graph    the graph `entries` was built from; only read
 * @param weights  the network's weights (lm_weights_check_graph()); only
 *                 read
 * @param opts     options; NULL means the defaults
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL argument, range past the last
 *         entry, a calibration batch of the wrong size), LM_ERR_MISMATCH
 *         (another graph, another metric, another provenance), LM_ERR_VALUE
 *         (the original output is all zero or not finite),
 *         LM_ERR_VALIDATION (the graph refuses the input size),
 *         LM_ERR_CANCELLED, LM_ERR_IO (autosave), any status of
 *         lm_engine_create() (missing or misshapen tensors), LM_ERR_NOMEM.
 *         On failure the table keeps every entry stored before it.
 * @since 0.2 */
LM_API lm_status lm_table_score_proxy(lm_table *table, const lm_graph *graph,
                                      const lm_weights *weights,
                                      const lm_entries *entries,
                                      const lm_proxy_options *opts);

LM_END_DECLS

#endif /* LAYERMERGE_MEASURE_H */
