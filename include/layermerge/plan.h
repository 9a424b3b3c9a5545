/* liblayermerge — what the caller's training loop must change (docs/method.md section 8).
 *
 * A plan says, for one table entry (to measure its importance) or for a
 * whole solver result (to fine-tune the compressed network), per trunk conv
 * whether it is kept or pruned to identity and its padding during
 * fine-tuning, per position the activation to apply, and per skip whether
 * it lies inside a merged segment (fused at merge time).
 *
 * Padding: inside each segment the kept convs' total padding moves to the
 * segment's first kept conv and the others get 0, so that the fine-tuned
 * chain equals the merged conv exactly. Where a time projection (a U-Net
 * block's time embedding, added after its first conv) comes before the
 * first kept conv, the padding goes to the segment's first conv instead,
 * kept or pruned: a pruned conv with padding P zero-pads its input by P on
 * every side, and the time bias is then added over the padded map, as the
 * merged conv's composed time projection adds it. Inside a segment the feature maps
 * are then larger than the original ones; a skip whose source and target
 * sizes differ is matched by symmetric zero-padding or centre-cropping of
 * the skip's input.
 *
 * A plan is independent of its inputs once made: graph, entries and result
 * may be destroyed.
 *
 * Threads: a plan never changes after creation; any calls may run
 * concurrently on one plan.
 */
#ifndef LAYERMERGE_PLAN_H
#define LAYERMERGE_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "layermerge/api.h"
#include "layermerge/entries.h"
#include "layermerge/graph.h"
#include "layermerge/solver.h"
#include "layermerge/status.h"

LM_BEGIN_DECLS

/** Opaque training-loop plan. @since 0.2 */
typedef struct lm_plan lm_plan;

/** Plan of the network in which only entry `id` is applied: its segment's
 * interior activations removed and the convs outside its kept subset
 * pruned; every other conv and position as in the original network.
 * `graph` must be the graph `entries` was built from (fingerprints equal).
 * @param[out] out  the plan, owned by the caller (lm_plan_destroy)
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, id out of range), LM_ERR_STATE
 *         (graph not validated), LM_ERR_MISMATCH (entries of another
 *         graph), LM_ERR_NOMEM
 * @since 0.2 */
LM_API lm_status lm_plan_create_for_entry(lm_plan **out,
                                          const lm_graph *graph,
                                          const lm_entries *entries,
                                          size_t id);

/** Plan of a partition into segments given by the caller: segment i spans
 * (bounds[i], bounds[i+1]] for i < n_bounds - 1 (bounds strictly
 * increasing from 0 to N), and keeps the convs flagged in `kept` (N flags,
 * kept[c - 1] for conv c; NULL keeps every conv). This is how a solver
 * result becomes a plan (lm_plan_create_for_result wraps it).
 * @return LM_OK, LM_ERR_INVALID_ARG (bounds not a partition, an irreducible
 *         conv pruned, a segment whose convs are all pruned without the
 *         identity option, a kernel or pool window larger than its input
 *         during fine-tuning — each naming the segment, conv or layer),
 *         LM_ERR_STATE, LM_ERR_NOMEM
 * @since 0.2 */
LM_API lm_status lm_plan_create_for_segments(lm_plan **out,
                                             const lm_graph *graph,
                                             const size_t *bounds,
                                             size_t n_bounds,
                                             const uint8_t *kept);

/** Plan of a solver result: its segments, its kept convs, and per
 * boundary position the activation the result keeps (the position's own
 * nonlinearity, or the network's where the position was identity; a
 * boundary whose activation the result drops, as kim23 results do, gets
 * identity). `graph` must be the graph the result was solved for.
 * @param[out] out  the plan, owned by the caller (lm_plan_destroy)
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL), LM_ERR_STATE (graph not
 *         validated), LM_ERR_MISMATCH (the result belongs to another graph:
 *         both fingerprints named; or another conv count; or a segment
 *         whose kernel and stride are not what its kept convs of `graph`
 *         merge to, or whose entry is not the graph's entry of that
 *         segment and merged conv: the segment is named), LM_ERR_UNSUPPORTED
 *         (a segment keeps no conv but its end allows no identity option,
 *         as a layer-pruning result that prunes a conv: a graph cannot
 *         express a conv replaced by nothing there), the errors of
 *         lm_plan_create_for_segments, LM_ERR_NOMEM
 * @since 0.2 */
LM_API lm_status lm_plan_create_for_result(lm_plan **out,
                                           const lm_graph *graph,
                                           const lm_result *result);

/** Fingerprint of the graph the plan was made for (16 hex digits).
 * Borrowed from the plan; "" for NULL. @since 0.2 */
LM_API const char *lm_plan_fingerprint(const lm_plan *plan);

/** Free a plan; NULL is ignored. @since 0.2 */
LM_API void lm_plan_destroy(lm_plan *plan);

/** N, the number of trunk convs. @since 0.2 */
LM_API size_t lm_plan_conv_count(const lm_plan *plan);
/** Number of segments of the plan (single-conv segments included). @since 0.2 */
LM_API size_t lm_plan_segment_count(const lm_plan *plan);
/** Bounds of one segment of a plan. Set `size = sizeof(lm_plan_segment)`
 * before the call. @since 0.2 */
typedef struct lm_plan_segment {
    size_t size;
    size_t st;   /**< start position */
    size_t end;  /**< end position: convs st+1 .. end */
} lm_plan_segment;

/** Describe segment `index` of the plan.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, out of range, size too small)
 * @since 0.2 */
LM_API lm_status lm_plan_segment_info(lm_plan_segment *info,
                                      const lm_plan *plan, size_t index);

/** What the training loop does with one trunk conv. Set
 * `size = sizeof(lm_plan_conv)` before the call. @since 0.2 */
typedef struct lm_plan_conv {
    size_t size;
    int32_t kept;     /**< 1 kept, 0 pruned to identity (its BN with it) */
    int64_t padding;  /**< its padding during fine-tuning */
} lm_plan_conv;

/** Describe trunk conv `conv` (1..N) in the plan.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, out of range, size too small)
 * @since 0.2 */
LM_API lm_status lm_plan_conv_info(lm_plan_conv *info,
                                   const lm_plan *plan, size_t conv);

/** What the training loop applies at one position. Set
 * `size = sizeof(lm_plan_position)` before the call. @since 0.2 */
typedef struct lm_plan_position {
    size_t size;
    /** Activation to apply: LM_ACT_IDENTITY when it is off. A segment
     * boundary keeps its original activation, or gets the network's
     * nonlinearity when the segment ending there spans more than one
     * position (docs/method.md section 6). */
    lm_act activation;
} lm_plan_position;

/** Describe position `position` (1..N) in the plan.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, out of range, size too small)
 * @since 0.2 */
LM_API lm_status lm_plan_position_info(lm_plan_position *info,
                                       const lm_plan *plan, size_t position);

/** What the training loop does with one skip. Set
 * `size = sizeof(lm_plan_skip)` before the call.
 *
 * A skip reads the tensor at position `source` (after that position's
 * activation and fixed layers: the tensor the next trunk conv reads) and
 * is added to the output of conv `target` after its batch norm, before
 * position `target`'s activation. During fine-tuning the two may differ
 * in size (docs/method.md section 8); the training loop then zero-pads
 * (pad > 0) or crops (pad < 0) the source by pad_top, pad_bottom,
 * pad_left and pad_right rows and columns, applies the projection, if
 * any (1x1, its stride, no padding), and adds the result, which is then
 * exactly target_height x target_width. In PyTorch:
 * `F.pad(x, (pad_left, pad_right, pad_top, pad_bottom))` (negative pads
 * crop). This is what lm_engine_configure_plan runs. The four pads are 0
 * when nothing needs fitting; where several bottom (right) pads give the
 * same strided projection, the one nearest 0 is given.
 *
 * The fields from `source` on were appended after `dropped` (a program
 * built against the shorter record still gets `fused` and `dropped`).
 * @since 0.2 */
typedef struct lm_plan_skip {
    size_t size;
    /** 1 when the skip lies wholly inside a segment of more than one
     * position: it still runs during fine-tuning and is fused into the
     * merged conv */
    int32_t fused;
    /** 1 when it lies inside a segment replaced by the identity option:
     * it is not added (the fields below say what it would be) */
    int32_t dropped;
    size_t source;          /**< the position it reads (as lm_skip_info) */
    size_t target;          /**< the conv it adds into (as lm_skip_info) */
    int64_t stride;         /**< its projection's stride; 1 without one */
    int64_t source_height;  /**< the source during fine-tuning */
    int64_t source_width;
    int64_t target_height;  /**< conv `target`'s output during fine-tuning */
    int64_t target_width;
    int64_t pad_top;        /**< rows added (> 0) or cropped (< 0) above */
    int64_t pad_bottom;     /**< ... below */
    int64_t pad_left;       /**< columns added or cropped on the left */
    int64_t pad_right;      /**< ... on the right */
    /** 1 for a concatenation (U-Nets): it is appended to position
     * `target` after its activation and fixed layers, never fitted (the
     * sizes are both positions', equal; the pads 0) */
    int32_t concat;
} lm_plan_skip;

/** Describe skip `skip` (0-based, graph order) in the plan.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, out of range, size too small)
 * @since 0.2 */
LM_API lm_status lm_plan_skip_info(lm_plan_skip *info,
                                   const lm_plan *plan, size_t skip);

/** Write the plan as YAML (docs/formats.md, "Plans") through the caller's
 * stream (api.h): per conv `keep` and `padding`, per position `act`, per
 * skip `fused`, `dropped`, its sizes during fine-tuning and its `pad`.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL), LM_ERR_IO (the callback
 *         failed), LM_ERR_NOMEM @since 0.2 */
LM_API lm_status lm_plan_write(const lm_plan *plan, lm_write_fn write,
                               void *userdata);
/** Same, to a file (temporary file + rename). @since 0.2 */
LM_API lm_status lm_plan_save(const lm_plan *plan, const char *path);

LM_END_DECLS

#endif /* LAYERMERGE_PLAN_H */
