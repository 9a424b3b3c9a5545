/* Private: the record store behind the public lm_table of either kind;
 * `kind` says which, and "value"/"extra" read as ms/stdev or
 * normalised/raw accordingly. The public calls of tables.h are implemented
 * in this room's files; what is declared here is for the room only. */
#ifndef LM_TABLES_TABLE_H
#define LM_TABLES_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "layermerge/tables.h"

#define LM_TABLE_N_TEXT 4
#define LM_TABLE_N_INT 6
#define LM_TABLE_KEYBUF 96

typedef struct lm_tkey {
    size_t st, end;
    int64_t kernel, stride;
    int32_t dw;
} lm_tkey;

typedef struct lm_trec {
    lm_tkey key;
    int64_t id;    /* entry id or -1 */
    double value;  /* ms | normalised importance */
    double extra;  /* stdev | raw metric */
    char *note;    /* breaks | conv_comb; NULL when none */
    double *passes;  /* latency: the median of each measuring pass */
    size_t n_passes;
    int noisy;       /* spread above the noise limit after re-measuring */
    size_t *convs;   /* the kept-conv subset measured, 1-based ascending; */
    size_t n_convs;  /* NULL when not recorded (0 convs: the identity) */
    int has_convs;
} lm_trec;

/* One stage's in-network calibration (lm_table_stage). */
typedef struct lm_tstage {
    size_t st, end;
    double alone_ms, in_network_ms;
} lm_tstage;

typedef struct lm_table {
    lm_table_kind kind;
    lm_importance_metric metric; /* importance only */
    char *fingerprint;
    char *text[LM_TABLE_N_TEXT];
    int64_t ints[LM_TABLE_N_INT];
    int has_shard;
    size_t shard_lo, shard_hi;
    lm_trec *recs;
    size_t n, cap;
    size_t *slots;   /* open addressing: record index + 1, 0 = empty */
    size_t n_slots;  /* power of two, > 2 n */
    /* Latency: the whole-network model (lm_table_network). */
    double fixed_ms, fixed_stdev, measured_ms;
    lm_tstage *stages;
    size_t n_stages;
} lm_table;


/* ---- table.c: the store ---- */
LM_NODISCARD
lm_status lm_table_new(lm_table **out, lm_table_kind kind,
                       const char *fingerprint, lm_importance_metric metric);
void lm_table_free(lm_table *t);
lm_tkey lm_tkey_make(size_t st, size_t end, int64_t kernel, int64_t stride,
                     int dw);
/* "(st 0, end 2, K 5, stride 1, dw 0)" into buf[LM_TABLE_KEYBUF]. */
const char *lm_tkey_str(char *buf, const lm_tkey *key);
LM_NODISCARD
lm_status lm_tkey_check(const lm_tkey *key);
/* Index of the record holding `key`, or -1. */
long lm_table_find(const lm_table *t, const lm_tkey *key);
/* LM_ERR_VALUE naming the key (and id when >= 0) for a bad pair. */
LM_NODISCARD
lm_status lm_table_check_values(const lm_table *t, const lm_tkey *key,
                                int64_t id, double value, double extra);
/* Insert or replace; `note` is copied (NULL keeps no note). Values are
 * checked. *index (may be NULL) gets the record's index. */
LM_NODISCARD
lm_status lm_table_put(lm_table *t, const lm_tkey *key, int64_t id,
                       double value, double extra, const char *note,
                       size_t *index);
/* The value of `key`; an absent identity key of a latency table reads 0. */
LM_NODISCARD
lm_status lm_table_get_tkey(const lm_table *t, const lm_tkey *key,
                            double *value, double *extra);
/* Append one pass median to record `index`: its value becomes the median
 * of its passes, its stdev `stdev` of this pass; `noisy` is cleared. */
LM_NODISCARD
lm_status lm_table_add_pass(lm_table *t, size_t index, double ms,
                            double stdev);
/* Replace record `index`'s pass medians (copied) and noisy flag, as a
 * file or a shard holds them; its value is left as it is. */
LM_NODISCARD
lm_status lm_table_set_passes(lm_table *t, size_t index, const double *ms,
                              size_t n, int noisy);
/* Record `index`'s kept-conv subset (copied; n may be 0 for the identity
 * entry). LM_ERR_VALUE when it is not ascending inside (st, end]. */
LM_NODISCARD
lm_status lm_table_set_convs(lm_table *t, size_t index, const size_t *convs,
                             size_t n);
/* The subset as the authors' conv_comb text ("1,2") into buf. */
const char *lm_trec_convs_text(char *buf, size_t cap, const lm_trec *r);
/* Relative spread of a record's passes, (max - min) / value, leaving out
 * the slowest pass from three passes on; 0 for fewer than two. */
double lm_trec_spread(const lm_trec *r);
/* Replace the stage calibration (copied). */
LM_NODISCARD
lm_status lm_table_set_stages(lm_table *t, const lm_tstage *stages,
                              size_t n);
/* Copy fingerprint-independent provenance (texts, ints, metric). */
LM_NODISCARD
lm_status lm_table_copy_provenance(lm_table *dst, const lm_table *src);

/* ---- entry.c: access through an lm_entries ---- */
LM_NODISCARD
lm_status lm_table_entry_key(const lm_entries *e, size_t id, lm_tkey *key);
LM_NODISCARD
lm_status lm_table_put_entry(lm_table *t, const lm_entries *e, size_t id,
                             double value, double extra);
/* Key of the conv merging every conv of segment (st, end). */
LM_NODISCARD
lm_status lm_table_merge_all_key(const lm_entries *e, size_t st, size_t end,
                                 lm_tkey *key);

/* LM_ERR_MISMATCH naming the first entry whose recorded subset differs
 * from the one `e` keeps (records without a subset, or whose key is no
 * entry, are left to lm_table_check). */
LM_NODISCARD
lm_status lm_table_check_subsets(const lm_table *t, const lm_entries *e);

/* The store key as a public key record. */
static inline lm_entry_key lm_tkey_public(const lm_tkey *key)
{
    return (lm_entry_key){.size = sizeof(lm_entry_key),
                          .st = key->st,
                          .end = key->end,
                          .kernel = key->kernel,
                          .stride = key->stride,
                          .depthwise = key->dw};
}

/* A public key record as a store key: LM_ERR_INVALID_ARG for NULL or a
 * record too small to hold its fields; the key's ranges are checked when
 * it is stored (lm_tkey_check). */
LM_NODISCARD
lm_status lm_tkey_from_public(lm_tkey *key, const lm_entry_key *pub);

#endif
