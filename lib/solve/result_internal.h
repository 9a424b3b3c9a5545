/* Private: the lm_result and lm_front records behind the public accessors,
 * and how the solvers build them. */
#ifndef LM_SOLVE_RESULT_INTERNAL_H
#define LM_SOLVE_RESULT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "layermerge/solver.h"

typedef struct lm_rseg {
    size_t st, end, entry; /* entry SIZE_MAX when none */
    int64_t kernel, stride;
    int32_t depthwise, identity;
    double latency, importance;
    size_t n_kept;
    size_t *kept; /* owned; NULL when n_kept is 0 */
} lm_rseg;

/* Flags per position / conv 1..N. */
enum { LM_RF_CONV = 1, LM_RF_ACT = 2, LM_RF_BOUNDARY = 4 };

struct lm_result {
    lm_method method;
    lm_rounding rounding;
    char *fingerprint;
    double budget, precision, importance, latency;
    double fixed; /* part of latency outside the segments */
    int64_t budget_units, units;
    size_t n_convs;
    size_t n_segs;
    lm_rseg *segs;
    uint8_t *flags; /* n_convs + 1; index 0 unused */
};

struct lm_front {
    size_t n;
    lm_result **items;
};

/* A zeroed result with room for n_segs segments and the flags. */
LM_NODISCARD
lm_status lm_result_new(lm_result **out, lm_method method, size_t n_convs,
                        size_t n_segs, const char *fingerprint);
/* Copy `n` kept convs into segment s. */
LM_NODISCARD
lm_status lm_rseg_set_kept(lm_rseg *s, const size_t *kept, size_t n);
/* Set kept-conv flags from the segments and boundary flags at their ends. */
void lm_result_mark_segments(lm_result *r);
/* Check that the segments partition 0..N in order; the message names the
 * first segment at fault. LM_ERR_INVALID_ARG. */
LM_NODISCARD
lm_status lm_result_check_partition(const lm_result *r);

#endif
