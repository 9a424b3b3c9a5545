/* liblayermerge — merging a whole network after fine-tuning (docs/method.md section 9) and
 * checking the merged network against the fine-tuning chain.
 *
 * lm_graph_merge turns a graph, its (fine-tuned) weights and a plan into
 * a new graph with one trunk conv per segment of the plan and the weights
 * of that graph. Every segment goes through the chain builder of merge.h:
 * its kept convs with their batch norms folded (each with its own eps),
 * the skips fused into it, pruned convs left out. In the new graph:
 *
 * - a pruned conv is identity; a skip into it adds to its input (docs/method.md section 8),
 *   including a skip whose spanned convs are all pruned (x + x);
 * - segment (st, end) becomes one conv with bias and no batch norm, named
 *   "merged.<st>_<end>" (a single conv too: its batch norm is folded, so
 *   its tensors no longer mean what the original names mean);
 * - its kernel is 1 + sum (k - 1) over the kept convs, its padding the sum
 *   of their paddings, its stride their product; depthwise when every kept
 *   conv is;
 * - the activation at each new position is the plan's at the segment end
 *   (lm_plan_position_info); the network's nonlinearity is carried over;
 * - stem, head and the fixed layers of each boundary position are copied,
 *   except that a fixed conv directly followed by a fixed batch norm (as
 *   ResNet's conv1 + bn1) becomes one conv with bias named
 *   "merged.<conv name>", the batch norm folded; barriers and
 *   identity-option flags of boundary positions move to the new positions;
 * - a skip that is not fused joins two segment boundaries and is remapped
 *   to the new positions; its projection is copied, or, with a batch norm,
 *   becomes a 1x1 conv with bias named "merged.<projection name>";
 * - a batch norm layer that does not directly follow a fixed conv is
 *   copied unchanged (there is no conv it could be folded into exactly);
 * - U-Nets: the merged conv takes the `pre` layers of the segment's first
 *   conv, one time projection composed from the segment's (through the
 *   kernel sums of the kept convs after each, in double), and the
 *   GroupNorm of the end position when the plan keeps its activation; a
 *   concatenation, and a skip from a segment's start whose first conv has
 *   `pre` layers, stay skips; the time embedding is copied.
 *
 * Tensors copied unchanged keep their names; every tensor whose values
 * the merge computed has a name that the original weights do not hold
 * (".2", ".3", ... is appended to "merged.*" names the original already
 * uses, as a merged network merged again does), so that merged weights
 * cannot be loaded into the original network by name. The metadata key
 * "layermerge.merged_from.<name>" of each new module lists, separated by
 * spaces, the original modules whose tensors it was computed from
 * (docs/formats.md, "Merged networks").
 *
 * A segment the plan replaces by the identity option adds no conv: its
 * end position becomes its start position, which takes the end's
 * activation (as a fixed act layer), fixed layers and concatenations, and
 * the skips from the end. Where that cannot express the fine-tuning chain
 * the merge refuses with LM_ERR_UNSUPPORTED naming the segment: a conv of
 * the segment with pre layers, a time projection or a GroupNorm, an
 * additive skip into the end, a skip from the start while the end adds an
 * activation or layers, a concatenation into the start before the end's
 * layers. (The DDPM U-Net's upsampling convs, its identity options, have
 * none of these.)
 */
#ifndef LAYERMERGE_NETMERGE_H
#define LAYERMERGE_NETMERGE_H

#include <stddef.h>
#include <stdint.h>

#include "layermerge/api.h"
#include "layermerge/graph.h"
#include "layermerge/plan.h"
#include "layermerge/status.h"
#include "layermerge/weights.h"

LM_BEGIN_DECLS

/** Merge every segment of `plan` into one conv (header comment).
 * @param[out] merged_graph    the validated merged graph, owned by the
 *                             caller (lm_graph_destroy)
 * @param[out] merged_weights  its weights, owned by the caller
 *                             (lm_weights_destroy); the metadata key
 *                             "layermerge.source_fingerprint" names the
 *                             original graph, the keys
 *                             "layermerge.merged_from.<name>" the origin
 *                             of each new module
 * @param graph    the original, validated graph
 * @param weights  its weights (as lm_weights_check_graph wants them)
 * @param plan     a plan made for `graph` (lm_plan_create_for_result,
 *                 lm_plan_create_for_segments)
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL argument), LM_ERR_STATE (graph
 *         not validated), LM_ERR_MISMATCH (the plan belongs to another
 *         graph, both fingerprints named; a tensor of the wrong shape),
 *         LM_ERR_NOT_FOUND (a missing tensor, named), LM_ERR_VALUE (a
 *         non-finite weight, a batch norm with var + eps <= 0),
 *         LM_ERR_UNSUPPORTED (an identity-option segment the new graph
 *         cannot express, header comment; a conv after a strided conv
 *         inside a segment that is not 1x1; a skip fused after a time
 *         projection),
 *         LM_ERR_NOMEM. Nothing is returned on failure.
 * @since 0.2 */
LM_API lm_status lm_graph_merge(lm_graph **merged_graph,
                                lm_weights **merged_weights,
                                const lm_graph *graph,
                                const lm_weights *weights,
                                const lm_plan *plan);

/** How far a merged network's output lies from its fine-tuning chain's.
 * Set `size = sizeof(lm_merge_deviation)` before the call. @since 0.2 */
typedef struct lm_merge_deviation {
    size_t size;
    double max_abs;  /**< the largest |chain - merged| over every output */
    double max_rel;  /**< max_abs over the largest |chain| output (max_abs
                          itself when that is 0) */
} lm_merge_deviation;

/** Run the fine-tuning chain (the engine configured with `plan`) and the
 * merged network on the same pseudo-random input, uniform in [-1, 1) and
 * determined by `seed`, and compare the outputs.
 * @param[out] deviation  the comparison
 * @param batch           batch size (>= 1)
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL argument, batch 0, size too
 *         small), LM_ERR_STATE (a graph not validated), LM_ERR_MISMATCH
 *         (the plan belongs to another graph; the two networks' input or
 *         output sizes differ; weights that do not fit their graph),
 *         LM_ERR_NOT_FOUND (a missing tensor), LM_ERR_NOMEM
 * @since 0.2 */
LM_API lm_status lm_graph_verify_merge(lm_merge_deviation *deviation,
                                       const lm_graph *graph,
                                       const lm_weights *weights,
                                       const lm_plan *plan,
                                       const lm_graph *merged,
                                       const lm_weights *merged_weights,
                                       size_t batch, uint64_t seed);

LM_END_DECLS

#endif /* LAYERMERGE_NETMERGE_H */
