/* Private: the tensors a graph needs, with their PyTorch names and shapes,
 * listed once for both lm_weights_check_graph and lm_weights_init_random. */
#ifndef LM_WEIGHTS_NEEDS_H
#define LM_WEIGHTS_NEEDS_H

#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "layermerge/graph.h"
#include "layermerge/status.h"

typedef enum lm_wrole {
    LM_WROLE_WEIGHT,   /* conv [out, in/groups, k, k] or linear [out, in] */
    LM_WROLE_BIAS,     /* conv or linear bias [out] */
    LM_WROLE_BN_WEIGHT,
    LM_WROLE_BN_BIAS,
    LM_WROLE_BN_MEAN,
    LM_WROLE_BN_VAR
} lm_wrole;

typedef struct lm_wneed {
    const char *owner;   /* "conv 3", "skip 1 (6 -> 8) projection", ... */
    const char *tensor;  /* "layer1.0.conv1.weight" */
    lm_wrole role;
    size_t ndim;
    int64_t shape[4];
    int64_t fan_in;      /* WEIGHT and BIAS: inputs per output */
} lm_wneed;

typedef lm_status (*lm_wneed_fn)(const lm_wneed *need, void *userdata);

/* Call `fn` for each tensor `graph` needs, in graph order (stem, trunk
 * convs with their positions' layers, skips, head), stopping at the first
 * status other than LM_OK. LM_ERR_INVALID_ARG (NULL graph), LM_ERR_STATE
 * (not validated), LM_ERR_NOT_FOUND (a layer needing tensors is unnamed),
 * LM_ERR_NOMEM, or what `fn` returns. */
LM_NODISCARD
lm_status lm_wneeds_each(const lm_graph *graph, lm_wneed_fn fn,
                         void *userdata);

#endif
