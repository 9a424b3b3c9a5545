/* Private: the pieces of a whole-network merge. */
#ifndef LM_NETMERGE_NETMERGE_INTERNAL_H
#define LM_NETMERGE_NETMERGE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "core/strbuf.h"
#include "layermerge/merge.h"
#include "layermerge/netmerge.h"

/* Copy tensor `name` + `suffix` ("" or ".weight" ...) from src to dst. */
LM_NODISCARD
lm_status lm_nm_copy_tensor(lm_weights *dst, const lm_weights *src,
                            const char *name, const char *suffix);

/* Append a copy of fixed layer `li` at (site, position) of dst and copy
 * the tensors it needs. */
LM_NODISCARD
lm_status lm_nm_copy_layer(lm_graph *dst, lm_weights *dw,
                           const lm_weights *sw, lm_site site,
                           size_t position, const lm_layer_info *li);

/* Copy every fixed layer of (site, from) in g to (site, to) in dst; a
 * fixed conv directly followed by a batch norm becomes one conv with bias,
 * the batch norm folded, under a fresh name (lm_nm_fresh_name). */
LM_NODISCARD
lm_status lm_nm_copy_site(lm_graph *dst, lm_weights *dw, const lm_graph *g,
                          const lm_weights *sw, lm_site site, size_t from,
                          size_t to);

/* Compose segment (st, end) of `plan` into a chain: kept convs with their
 * batch norms folded, fused skips added. Owned by the caller. The modules
 * whose tensors went into it are appended to `from` (lm_nm_from_add). */
LM_NODISCARD
lm_status lm_nm_segment_chain(lm_chain **out, const lm_graph *g,
                              const lm_weights *w, const lm_plan *plan,
                              size_t st, size_t end, lm_strbuf *from);

/* ---- time_projection.c ---------------------------------------------------- */

/* The composed time projection of segment (st, end) of `plan`: weight
 * (out x temb channels) and bias (out) in malloc'd floats, both NULL when
 * the segment has none; the modules it comes from appended to `from`.
 * LM_ERR_UNSUPPORTED for a skip fused after a time projection. */
LM_NODISCARD
lm_status lm_nm_segment_time_projection(float **weight, float **bias,
                                        const lm_graph *g,
                                        const lm_weights *w,
                                        const lm_plan *plan, size_t st,
                                        size_t end, lm_strbuf *from);

/* ---- fold.c ------------------------------------------------------------ */

/* The data of tensor `name` + `suffix`, which must hold `expect` values. */
LM_NODISCARD
lm_status lm_nm_tensor(const lm_weights *w, const char *name,
                       const char *suffix, size_t expect, const float **out);

/* The batch norm `name` over `channels` as a record pointing into w. */
LM_NODISCARD
lm_status lm_nm_bn_desc(lm_bn_desc *bn, const lm_weights *w, const char *name,
                        size_t channels, double eps);

/* A conv with its batch norm folded (lm_bn_fold); freed with
 * lm_nm_folded_free. */
typedef struct lm_nm_folded {
    float *weight; /* out_channels * per_channel */
    float *bias;   /* out_channels */
} lm_nm_folded;

LM_NODISCARD
lm_status lm_nm_fold(lm_nm_folded *out, const lm_weights *w,
                     const char *conv, int has_bias, size_t out_channels,
                     size_t per_channel, const char *bn_name, double eps);
void lm_nm_folded_free(lm_nm_folded *f);

/* The name of a module whose values the merge changed: `base`, or
 * "<base>.<k>" for the smallest k >= 2 such that neither the original nor
 * the merged weights hold "<name>.weight" or "<name>.bias" (a network
 * merged once and merged again has "merged.*" names of its own). */
LM_NODISCARD
lm_status lm_nm_fresh_name(lm_strbuf *out, const lm_weights *original,
                           const lm_weights *merged, const char *base);

/* Append an original module name to a space-separated list (NULL list or
 * unnamed module: nothing). */
void lm_nm_from_add(lm_strbuf *from, const char *module);

/* Metadata "layermerge.merged_from.<name>" = the list `from`. */
LM_NODISCARD
lm_status lm_nm_note_origin(lm_weights *merged, const char *name,
                            const lm_strbuf *from);

/* Write name.weight (shape [out, in / groups, k, k]) and name.bias
 * ([out]). */
LM_NODISCARD
lm_status lm_nm_write_conv(lm_weights *merged, const char *name,
                           const int64_t shape[4], const float *weight,
                           const float *bias);

#endif
