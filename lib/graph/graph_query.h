/* Private: value-returning graph queries for the library's own rooms. The
 * public calls (graph.h) report an out-of-range position as an error
 * through a record; inside the library the positions are known to be in
 * range, and these forms keep the callers short. */
#ifndef LM_GRAPH_GRAPH_QUERY_H
#define LM_GRAPH_GRAPH_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "layermerge/graph.h"

/* Activation of position 1..N; LM_ACT_IDENTITY for 0 or out of range. */
lm_act lm_graph_position_act(const lm_graph *g, size_t position);
/* 1 when position 0..N is a barrier, else 0. */
int lm_graph_position_barrier(const lm_graph *g, size_t position);
/* 1 when position 1..N allows the identity option, else 0. */
int lm_graph_position_identity(const lm_graph *g, size_t position);
/* Skip `skip`'s projection as a conv record (kernel 1, padding 0,
 * groups 1); LM_ERR_STATE when the skip has none. */
LM_NODISCARD
lm_status lm_graph_skip_projection(const lm_graph *g, size_t skip,
                                   lm_conv_info *info);
/* Shapes as three numbers (any pointer may be NULL). */
void lm_graph_input_chw(const lm_graph *g, int64_t *channels,
                        int64_t *height, int64_t *width);
LM_NODISCARD
lm_status lm_graph_position_chw(const lm_graph *g, size_t position,
                                int64_t *channels, int64_t *height,
                                int64_t *width);
/* What trunk conv `conv` (1..N) reads: position conv - 1 after the conv's
 * LM_SITE_PRE layers (their shape, e.g. a pad's). */
LM_NODISCARD
lm_status lm_graph_conv_input_chw(const lm_graph *g, size_t conv,
                                  int64_t *channels, int64_t *height,
                                  int64_t *width);
LM_NODISCARD
lm_status lm_graph_output_chw(const lm_graph *g, int64_t *channels,
                              int64_t *height, int64_t *width);

#endif
