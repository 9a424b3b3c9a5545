/* Private: the pieces of a whole-network merge. */
#ifndef LM_NETMERGE_NETMERGE_INTERNAL_H
#define LM_NETMERGE_NETMERGE_INTERNAL_H

#include <stddef.h>

#include "core/attr.h"
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

/* Copy every fixed layer of (site, from) in g to (site, to) in dst. */
LM_NODISCARD
lm_status lm_nm_copy_site(lm_graph *dst, lm_weights *dw, const lm_graph *g,
                          const lm_weights *sw, lm_site site, size_t from,
                          size_t to);

/* Compose segment (st, end) of `plan` into a chain: kept convs with their
 * batch norms folded, fused skips added. Owned by the caller. */
LM_NODISCARD
lm_status lm_nm_segment_chain(lm_chain **out, const lm_graph *g,
                              const lm_weights *w, const lm_plan *plan,
                              size_t st, size_t end);

#endif
