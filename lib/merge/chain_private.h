/* Private: the state of a chain builder and the double-precision kernel
 * algebra behind it. */
#ifndef LM_MERGE_CHAIN_PRIVATE_H
#define LM_MERGE_CHAIN_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "layermerge/merge.h"

/* One chain state as a map from the chain input x:
 *   z[o][i][j] = b[o] + sum K[o][c][t][r] x[c][stride*i + t - P][stride*j + r - P]
 * with P the chain's total padding. A depthwise state (only possible while
 * every conv so far was depthwise, so channels == chain input channels)
 * stores K as [channels][1][kernel][kernel]; a dense one as
 * [channels][in_channels][kernel][kernel]. */
typedef struct lm_kstate {
    double *w;
    double *b;
    int64_t channels;
    int64_t kernel;
    int64_t stride;
    int depthwise;
} lm_kstate;

struct lm_chain {
    int64_t in_channels;
    int64_t padding;
    size_t n_states;   /* steps + 1: states[0] is the input (identity) */
    size_t cap;
    lm_kstate *states; /* kept so that skips can read any earlier state */
};

/* A conv as the algebra sees it (weights already widened to double). */
typedef struct lm_kconv {
    const double *w; /* [out][in / groups][k][k] */
    const double *b; /* [out] or NULL */
    int64_t in, out, kernel, stride, groups;
} lm_kconv;

/* Number of doubles in a state's kernel; 0 on overflow. */
size_t lm_kstate_weight_count(int64_t channels, int64_t in, int64_t kernel,
                              int depthwise);

/* Allocate a zeroed state; LM_ERR_NOMEM / LM_ERR_UNSUPPORTED (too large). */
LM_NODISCARD
lm_status lm_kstate_alloc(lm_kstate *s, int64_t channels, int64_t in,
                          int64_t kernel, int64_t stride, int depthwise);

void lm_kstate_free(lm_kstate *s);

/* out = conv applied after `prev`. The caller has checked the channels and
 * that a conv with kernel > 1 does not follow a strided state. */
LM_NODISCARD
lm_status lm_kstate_compose(lm_kstate *out, const lm_kstate *prev,
                            const lm_kconv *conv, int64_t chain_in);

/* dst += src placed at the centre of dst's kernel; same channels and
 * stride, src's kernel no larger. dst becomes dense when src is dense. */
LM_NODISCARD
lm_status lm_kstate_add_centred(lm_kstate *dst, const lm_kstate *src,
                                int64_t chain_in);

/* Widen n floats to a fresh double array, checking each is finite; on a
 * non-finite value sets *bad to its index and returns LM_ERR_VALUE
 * without a message. */
LM_NODISCARD
lm_status lm_widen(double **out, const float *v, size_t n, size_t *bad);

/* The current (last) state of a chain. */
const lm_kstate *lm_chain_current(const lm_chain *chain);

#endif
