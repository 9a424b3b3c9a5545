/* Private: the layout of an entry list and the per-segment option search. */
#ifndef LM_ENTRIES_ENTRIES_PRIVATE_H
#define LM_ENTRIES_ENTRIES_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "layermerge/entries.h"

/* What the option search needs to know of one trunk conv. */
typedef struct lm_conv_traits {
    int64_t kernel;
    int64_t stride;
    int64_t padding;
    int depthwise;   /* groups == in == out */
    int irreducible; /* in != out or stride > 1: always kept */
    double score;    /* 0 without weights */
} lm_conv_traits;

/* One deduplicated option of a segment. `kept_off` indexes the kept pool
 * of its lm_optset (or of the lm_entries, once appended). */
typedef struct lm_option {
    int64_t kernel;
    int64_t stride;
    int64_t padding;
    int32_t depthwise;
    int32_t identity;
    size_t kept_off;
    size_t n_kept;
} lm_option;

/* The entries of one segment in their final order. */
typedef struct lm_optset {
    lm_option *opts;
    size_t count;
    size_t *kept; /* 1-based conv indices, ascending per option */
    size_t kept_len;
} lm_optset;

void lm_optset_free(lm_optset *set);

/* Search the options of the segment whose convs are conv[0 .. n-1], the
 * first being trunk conv `first` (1-based), and fill `out` (which the
 * caller frees with lm_optset_free, also on failure). */
LM_NODISCARD
lm_status lm_segment_options(const lm_conv_traits *conv, size_t n,
                             size_t first, int identity_allowed,
                             lm_optset *out);

/* A skip reduced to its span, all the validity test needs. */
typedef struct lm_span {
    size_t s;
    size_t t;
    int concat; /* a concatenation (at a barrier: it joins after the
                   merged conv, never inside it) */
} lm_span;

/* 1 when (st, end) is a valid segment (docs/method.md section 3): `barrier`
 * has N + 1 flags. */
int lm_segment_is_valid(size_t st, size_t end, const unsigned char *barrier,
                        const lm_span *skips, size_t n_skips);

typedef struct lm_seg_rec {
    size_t st;
    size_t end;
    size_t first;
    size_t count;
} lm_seg_rec;

typedef struct lm_entry_rec {
    size_t segment;
    lm_option opt;
    int64_t in_c, out_c, in_h, in_w;
} lm_entry_rec;

struct lm_entries {
    size_t n_convs;
    char *fingerprint;
    char *graph_name;
    lm_seg_rec *segs;
    size_t n_segs, cap_segs;
    lm_entry_rec *ents;
    size_t n_ents, cap_ents;
    size_t *kept;
    size_t kept_len, cap_kept;
    size_t *original; /* n_convs entry ids, index conv - 1 */
};

/* Make `convs` (n 1-based convs of `graph`, ascending) entry `id`'s
 * representative subset: a subset measured elsewhere (an importance
 * table's record) replaces the one the rule chose. LM_ERR_MISMATCH naming
 * the entry when the subset is no option with the entry's key (its merged
 * kernel, stride or depthwise differ, it leaves out an irreducible conv,
 * or a conv other than 1x1 follows a strided one); LM_ERR_NOMEM. */
LM_NODISCARD
lm_status lm_entries_use_subset(lm_entries *e, const lm_graph *graph,
                                size_t id, const size_t *convs, size_t n);

#endif
