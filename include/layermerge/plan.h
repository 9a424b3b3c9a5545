/* liblayermerge — what the caller's training loop must change (SPEC 8).
 *
 * A plan says, for one table entry (to measure its importance) or for a
 * whole solver result (to fine-tune the compressed network), per trunk conv
 * whether it is kept or pruned to identity and its padding during
 * fine-tuning, per position the activation to apply, and per skip whether
 * it lies inside a merged segment (fused at merge time).
 *
 * Padding: inside each segment the kept convs' total padding moves to the
 * segment's first kept conv and the others get 0, so that the fine-tuned
 * chain equals the merged conv exactly. Inside a segment the feature maps
 * are then larger than the original ones; a skip whose source and target
 * sizes differ is matched by symmetric zero-padding or centre-cropping of
 * the skip's input.
 *
 * A plan is independent of its inputs once made: graph, entries and result
 * may be destroyed.
 */
#ifndef LAYERMERGE_PLAN_H
#define LAYERMERGE_PLAN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "layermerge/api.h"
#include "layermerge/entries.h"
#include "layermerge/graph.h"
#include "layermerge/solver.h"
#include "layermerge/status.h"

LM_BEGIN_DECLS

/** Opaque training-loop plan. @since 0.1 */
typedef struct lm_plan lm_plan;

/** Plan of the network in which only entry `id` is applied: its segment's
 * interior activations removed and the convs outside its kept subset
 * pruned; every other conv and position as in the original network.
 * `graph` must be the graph `entries` was built from (fingerprints equal).
 * @param[out] out  the plan, owned by the caller (lm_plan_destroy)
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, id out of range), LM_ERR_STATE
 *         (graph not validated), LM_ERR_MISMATCH (entries of another
 *         graph), LM_ERR_NOMEM
 * @since 0.1 */
LM_API lm_status lm_plan_for_entry(lm_plan **out, const lm_graph *graph,
                                   const lm_entries *entries, size_t id);

/** Plan of a partition into segments given by the caller: segment i spans
 * (bounds[i], bounds[i+1]] for i < n_bounds - 1 (bounds strictly
 * increasing from 0 to N), and keeps the convs flagged in `kept` (N flags,
 * kept[c - 1] for conv c; NULL keeps every conv). This is how a solver
 * result becomes a plan (lm_plan_for_result wraps it).
 * @return LM_OK, LM_ERR_INVALID_ARG (bounds not a partition, an irreducible
 *         conv pruned, a segment whose convs are all pruned without the
 *         identity option — each naming the segment or conv), LM_ERR_STATE,
 *         LM_ERR_NOMEM
 * @since 0.1 */
LM_API lm_status lm_plan_for_segments(lm_plan **out, const lm_graph *graph,
                                      const size_t *bounds, size_t n_bounds,
                                      const uint8_t *kept);

/** Plan of a solver result: its segments, its kept convs, and per
 * boundary position the activation the result keeps (the position's own
 * nonlinearity, or the network's where the position was identity; a
 * boundary whose activation the result drops, as kim23 results do, gets
 * identity). `graph` must be the graph the result was solved for.
 * @param[out] out  the plan, owned by the caller (lm_plan_destroy)
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL), LM_ERR_STATE (graph not
 *         validated), LM_ERR_MISMATCH (the result belongs to another graph:
 *         both fingerprints named; or another conv count), LM_ERR_UNSUPPORTED
 *         (a segment keeps no conv but its end allows no identity option,
 *         as a layer-pruning result that prunes a conv: a graph cannot
 *         express a conv replaced by nothing there), the errors of
 *         lm_plan_for_segments, LM_ERR_NOMEM
 * @since 0.1 */
LM_API lm_status lm_plan_for_result(lm_plan **out, const lm_graph *graph,
                                    const lm_result *result);

/** Fingerprint of the graph the plan was made for (16 hex digits).
 * Borrowed from the plan; "" for NULL. @since 0.1 */
LM_API const char *lm_plan_fingerprint(const lm_plan *plan);

/** Free a plan; NULL is ignored. @since 0.1 */
LM_API void lm_plan_destroy(lm_plan *plan);

/** N, the number of trunk convs. @since 0.1 */
LM_API size_t lm_plan_conv_count(const lm_plan *plan);
/** Number of segments of the plan (single-conv segments included). @since 0.1 */
LM_API size_t lm_plan_segment_count(const lm_plan *plan);
/** Bounds of segment `index`: convs st+1 .. end. @since 0.1 */
LM_API lm_status lm_plan_segment(const lm_plan *plan, size_t index,
                                 size_t *st, size_t *end);
/** 1 when trunk conv `conv` (1..N) is kept, 0 when it is pruned to
 * identity (its batch norm with it) or out of range. @since 0.1 */
LM_API int lm_plan_conv_kept(const lm_plan *plan, size_t conv);
/** Padding of trunk conv `conv` during fine-tuning; -1 out of range.
 * @since 0.1 */
LM_API int64_t lm_plan_conv_padding(const lm_plan *plan, size_t conv);
/** Activation to apply at `position` (1..N): LM_ACT_IDENTITY when it is
 * off. A segment boundary keeps its original activation, or gets the
 * network's nonlinearity when the segment ending there spans more than one
 * position (SPEC 6). @since 0.1 */
LM_API lm_act lm_plan_activation(const lm_plan *plan, size_t position);
/** 1 when skip `skip` (0-based, graph order) lies wholly inside a segment
 * of more than one position: it is fused into the merged conv. @since 0.1 */
LM_API int lm_plan_skip_fused(const lm_plan *plan, size_t skip);
/** 1 when skip `skip` is dropped: it lies inside a segment replaced by the
 * identity option. @since 0.1 */
LM_API int lm_plan_skip_dropped(const lm_plan *plan, size_t skip);

/** Writes the plan as YAML (docs/formats.md, "Plan"): per conv `keep` and
 * `padding`, per position `act`, per skip `fused`. @since 0.1 */
LM_API lm_status lm_plan_write(const lm_plan *plan, FILE *fp);
/** Same, to a file (temporary file + rename). @since 0.1 */
LM_API lm_status lm_plan_save(const lm_plan *plan, const char *path);

LM_END_DECLS

#endif /* LAYERMERGE_PLAN_H */
