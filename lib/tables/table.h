/* Private: the record store shared by latency and importance tables. The
 * two public types wrap one lm_table; `kind` says which, and the functions
 * below read "value"/"extra" as ms/stdev or normalised/raw accordingly. */
#ifndef LM_TABLES_TABLE_H
#define LM_TABLES_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "layermerge/tables.h"

#define LM_TABLE_N_TEXT 4
#define LM_TABLE_N_INT 4
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
} lm_trec;

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
} lm_table;

struct lm_latency_table { lm_table t; };
struct lm_importance_table { lm_table t; };

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
LM_NODISCARD
lm_status lm_table_get(const lm_table *t, const lm_tkey *key, double *value,
                       double *extra);
LM_NODISCARD
lm_status lm_table_record_get(const lm_table *t, size_t index,
                          lm_table_record *rec);
LM_NODISCARD
lm_status lm_table_set_text(lm_table *t, lm_table_text field,
                            const char *value);
const char *lm_table_text_get(const lm_table *t, lm_table_text field);
LM_NODISCARD
lm_status lm_table_set_int(lm_table *t, lm_table_int field, int64_t value);
int64_t lm_table_int_get(const lm_table *t, lm_table_int field);
LM_NODISCARD
lm_status lm_table_set_shard(lm_table *t, size_t lo, size_t hi);
/* Copy fingerprint-independent provenance (texts, ints, metric). */
LM_NODISCARD
lm_status lm_table_copy_provenance(lm_table *dst, const lm_table *src);

/* ---- entry.c: access through an lm_entries ---- */
LM_NODISCARD
lm_status lm_table_entry_key(const lm_entries *e, size_t id, lm_tkey *key);
LM_NODISCARD
lm_status lm_table_put_entry(lm_table *t, const lm_entries *e, size_t id,
                             double value, double extra);
LM_NODISCARD
lm_status lm_table_get_entry(const lm_table *t, const lm_entries *e,
                             size_t id, double *value, double *extra);
LM_NODISCARD
lm_status lm_table_check(const lm_table *t, const lm_entries *e);
LM_NODISCARD
lm_status lm_table_missing(const lm_table *t, const lm_entries *e,
                           size_t *ids, size_t cap, size_t *n_missing);
/* Key of the conv merging every conv of segment (st, end). */
LM_NODISCARD
lm_status lm_table_merge_all_key(const lm_entries *e, size_t st, size_t end,
                                 lm_tkey *key);

/* ---- merge.c ---- */
LM_NODISCARD
lm_status lm_table_merge(lm_table **out, lm_table_kind kind,
                         const lm_entries *e, const lm_table *const *shards,
                         size_t n, uint32_t flags);
/* Shard i of the public handles `faces` (an array of one face type). */
typedef const lm_table *(*lm_table_face_fn)(const void *faces, size_t i);
/* lm_table_merge over the typed faces' shards; `fn` names the public call
 * in the NULL-argument message. */
LM_NODISCARD
lm_status lm_table_merge_faces(lm_table **out, lm_table_kind kind,
                               const lm_entries *e, const void *faces,
                               size_t n, lm_table_face_fn face,
                               uint32_t flags, const char *fn);

/* ---- table_yaml.c ---- */
LM_NODISCARD
lm_status lm_table_load(lm_table **out, lm_table_kind kind, const char *path);
LM_NODISCARD
lm_status lm_table_save(const lm_table *t, const char *path);

/* ---- table_csv.c ---- */
LM_NODISCARD
lm_status lm_table_import_csv(lm_table **out, lm_table_kind kind,
                              const char *path, lm_table_csv_format format,
                              lm_importance_metric metric,
                              const lm_entries *e);
LM_NODISCARD
lm_status lm_table_export_csv(const lm_table *t, const char *path,
                              lm_table_csv_format format);

#endif
