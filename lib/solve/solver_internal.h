/* Private: what an lm_solver copies from its inputs. A solver is made for
 * LayerMerge/prune (from entries and tables) or for kim23 (from the
 * authors' files); `family` says which. */
#ifndef LM_SOLVE_SOLVER_INTERNAL_H
#define LM_SOLVE_SOLVER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "layermerge/solver.h"
#include "solve/dp.h"
#include "solve/kim23.h"

/* What a result needs to know about one DP item (one entry). */
typedef struct lm_sitem {
    size_t entry;
    int64_t kernel, stride;
    int32_t depthwise, identity;
    size_t n_kept;
    size_t kept_off; /* into lm_solver.kept */
} lm_sitem;

struct lm_solver {
    lm_method family; /* LM_METHOD_LAYERMERGE (also prune) or KIM23 */
    char *fingerprint;
    size_t n_convs;
    double fixed;          /* latency outside the entries (lm_table_network) */
    double original;       /* fixed + the original network's entries */
    uint8_t *nonlinear;    /* n_convs + 1: originally nonlinear position */
    int has_nonlinearity;  /* the network has a nonlinearity to insert */

    /* LayerMerge: one DP item per entry, parallel info. */
    int has_importance;
    lm_dp_item *items;
    lm_sitem *info;
    size_t n_items;
    size_t *kept;

    /* Prune: per conv i (0-based for conv i + 1). */
    double *conv_latency;
    size_t *conv_entry;
    uint8_t *required;
    double *conv_importance; /* NULL until set */

    /* kim23: the time rows (with covers), extended-importance rows, and
     * per time row the merged conv's kernel, stride, depthwise (-1, -1, 0
     * without a graph). */
    lm_k23_segment *segs;
    lm_k23_cover *covers;
    size_t n_segs;
    lm_k23_row *ext;
    size_t n_ext;
    int64_t *seg_kernel, *seg_stride;
    int32_t *seg_dw;
};

/* A zeroed solver of `family` for n_convs convs (nonlinear allocated). */
LM_NODISCARD
lm_status lm_solver_alloc(lm_solver **out, lm_method family, size_t n_convs,
                          const char *fingerprint);

#endif
