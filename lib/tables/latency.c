/* The public latency table: a thin typed face over the shared store. */
#include <stdlib.h>

#include "core/error.h"
#include "tables/table.h"

#define T(x) ((x) ? &(x)->t : NULL)

lm_status lm_latency_table_create(lm_latency_table **out,
                                  const char *fingerprint)
{
    if (!out)
        return lm_err(LM_ERR_INVALID_ARG, "lm_latency_table_create: NULL out");
    lm_table *t = NULL;
    lm_status st = lm_table_new(&t, LM_TABLE_LATENCY, fingerprint, 0);
    *out = (lm_latency_table *)t;
    return st;
}

lm_status lm_latency_table_create_for(lm_latency_table **out,
                                      const lm_entries *entries)
{
    if (!entries)
        return lm_err(LM_ERR_INVALID_ARG, "lm_latency_table_create_for: NULL "
                      "entries");
    return lm_latency_table_create(out, lm_entries_fingerprint(entries));
}

void lm_latency_table_destroy(lm_latency_table *table)
{
    lm_table_free(T(table));
}

const char *lm_latency_table_fingerprint(const lm_latency_table *t)
{
    return t ? t->t.fingerprint : "";
}

lm_status lm_latency_table_set_text(lm_latency_table *t, lm_table_text field,
                                    const char *value)
{
    return lm_table_set_text(T(t), field, value);
}

const char *lm_latency_table_text(const lm_latency_table *t,
                                  lm_table_text field)
{
    return lm_table_text_get(T(t), field);
}

lm_status lm_latency_table_set_int(lm_latency_table *t, lm_table_int field,
                                   int64_t value)
{
    return lm_table_set_int(T(t), field, value);
}

int64_t lm_latency_table_int(const lm_latency_table *t, lm_table_int field)
{
    return lm_table_int_get(T(t), field);
}

lm_status lm_latency_table_set_shard(lm_latency_table *t, size_t lo,
                                     size_t hi)
{
    return lm_table_set_shard(T(t), lo, hi);
}

int lm_latency_table_shard(const lm_latency_table *t, size_t *lo, size_t *hi)
{
    if (!t || !t->t.has_shard)
        return 0;
    if (lo)
        *lo = t->t.shard_lo;
    if (hi)
        *hi = t->t.shard_hi;
    return 1;
}

lm_status lm_latency_table_set(lm_latency_table *t, size_t st, size_t end,
                               int64_t kernel, int64_t stride, int depthwise,
                               double ms, double stdev)
{
    if (!t)
        return lm_err(LM_ERR_INVALID_ARG, "lm_latency_table_set: NULL table");
    lm_tkey key = lm_tkey_make(st, end, kernel, stride, depthwise);
    return lm_table_put(&t->t, &key, -1, ms, stdev, NULL, NULL);
}

lm_status lm_latency_table_set_entry(lm_latency_table *t,
                                     const lm_entries *entries, size_t id,
                                     double ms, double stdev)
{
    return lm_table_put_entry(T(t), entries, id, ms, stdev);
}

int lm_latency_table_has(const lm_latency_table *t, size_t st, size_t end,
                         int64_t kernel, int64_t stride, int depthwise)
{
    lm_tkey key = lm_tkey_make(st, end, kernel, stride, depthwise);
    return t && lm_table_find(&t->t, &key) >= 0;
}

lm_status lm_latency_table_get(const lm_latency_table *t, size_t st,
                               size_t end, int64_t kernel, int64_t stride,
                               int depthwise, double *ms, double *stdev)
{
    if (!t)
        return lm_err(LM_ERR_INVALID_ARG, "lm_latency_table_get: NULL table");
    lm_tkey key = lm_tkey_make(st, end, kernel, stride, depthwise);
    return lm_table_get(&t->t, &key, ms, stdev);
}

lm_status lm_latency_table_get_entry(const lm_latency_table *t,
                                     const lm_entries *entries, size_t id,
                                     double *ms, double *stdev)
{
    return lm_table_get_entry(T(t), entries, id, ms, stdev);
}

size_t lm_latency_table_count(const lm_latency_table *t)
{
    return t ? t->t.n : 0;
}

lm_status lm_latency_table_record(const lm_latency_table *t, size_t index,
                                  lm_table_record *rec)
{
    return lm_table_record_get(T(t), index, rec);
}

lm_status lm_latency_table_check(const lm_latency_table *t,
                                 const lm_entries *entries)
{
    return lm_table_check(T(t), entries);
}

lm_status lm_latency_table_missing(const lm_latency_table *t,
                                   const lm_entries *entries, size_t *ids,
                                   size_t cap, size_t *n_missing)
{
    return lm_table_missing(T(t), entries, ids, cap, n_missing);
}

lm_status lm_latency_table_load(lm_latency_table **out, const char *path)
{
    if (!out)
        return lm_err(LM_ERR_INVALID_ARG, "lm_latency_table_load: NULL out");
    lm_table *t = NULL;
    lm_status st = lm_table_load(&t, LM_TABLE_LATENCY, path);
    *out = (lm_latency_table *)t;
    return st;
}

lm_status lm_latency_table_save(const lm_latency_table *t, const char *path)
{
    return lm_table_save(T(t), path);
}

lm_status lm_latency_table_import_csv(lm_latency_table **out,
                                      const char *path,
                                      lm_table_csv_format format,
                                      const lm_entries *entries)
{
    if (!out)
        return lm_err(LM_ERR_INVALID_ARG, "lm_latency_table_import_csv: NULL "
                      "out");
    lm_table *t = NULL;
    lm_status st = lm_table_import_csv(&t, LM_TABLE_LATENCY, path, format, 0,
                                       entries);
    *out = (lm_latency_table *)t;
    return st;
}

lm_status lm_latency_table_export_csv(const lm_latency_table *t,
                                      const char *path,
                                      lm_table_csv_format format)
{
    return lm_table_export_csv(T(t), path, format);
}

static const lm_table *face(const void *faces, size_t i)
{
    return T(((const lm_latency_table *const *)faces)[i]);
}

lm_status lm_latency_table_merge(lm_latency_table **out,
                                 const lm_entries *entries,
                                 const lm_latency_table *const *shards,
                                 size_t n, uint32_t flags)
{
    if (!out)
        return lm_err(LM_ERR_INVALID_ARG, "lm_latency_table_merge: NULL "
                      "argument");
    lm_table *t = NULL;
    lm_status st = lm_table_merge_faces(&t, LM_TABLE_LATENCY, entries, shards,
                                        n, face, flags,
                                        "lm_latency_table_merge");
    *out = (lm_latency_table *)t;
    return st;
}
