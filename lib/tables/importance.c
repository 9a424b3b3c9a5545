/* The public importance table: a thin typed face over the shared store,
 * plus the normalisation of raw metrics (SPEC 5). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tables/table.h"

#define T(x) ((x) ? &(x)->t : NULL)

static const char *const metric_names[] = {NULL, "accuracy", "loss_ratio",
                                           "normalised"};

const char *lm_importance_metric_name(lm_importance_metric metric)
{
    if (metric < LM_METRIC_ACCURACY || metric > LM_METRIC_NORMALISED)
        return "unknown";
    return metric_names[metric];
}

lm_status lm_importance_metric_from_name(lm_importance_metric *out,
                                         const char *name)
{
    for (int m = LM_METRIC_ACCURACY; out && name && m <= LM_METRIC_NORMALISED;
         m++)
        if (!strcmp(name, metric_names[m])) {
            *out = (lm_importance_metric)m;
            return LM_OK;
        }
    return lm_err(LM_ERR_INVALID_ARG, "unknown importance metric '%s' "
                  "(accuracy, loss_ratio or normalised)", name ? name : "");
}

lm_status lm_importance_normalise(lm_importance_metric metric, double raw,
                                  double *out)
{
    if (!out || metric < LM_METRIC_ACCURACY || metric > LM_METRIC_NORMALISED)
        return lm_err(LM_ERR_INVALID_ARG, "lm_importance_normalise: NULL out "
                      "or unknown metric %d", (int)metric);
    double v = metric == LM_METRIC_ACCURACY     ? exp(raw / 100.0)
               : metric == LM_METRIC_LOSS_RATIO ? exp(-raw)
                                                : raw;
    if (!isfinite(raw) || !isfinite(v))
        return lm_err(LM_ERR_VALUE, "%s %g normalises to %g, not a finite "
                      "number", lm_importance_metric_name(metric), raw, v);
    *out = v;
    return LM_OK;
}

lm_status lm_importance_table_create(lm_importance_table **out,
                                     const char *fingerprint,
                                     lm_importance_metric metric)
{
    if (!out)
        return lm_err(LM_ERR_INVALID_ARG, "lm_importance_table_create: NULL "
                      "out");
    lm_table *t = NULL;
    lm_status st = lm_table_new(&t, LM_TABLE_IMPORTANCE, fingerprint, metric);
    *out = (lm_importance_table *)t;
    return st;
}

lm_status lm_importance_table_create_for(lm_importance_table **out,
                                         const lm_entries *entries,
                                         lm_importance_metric metric)
{
    if (!entries)
        return lm_err(LM_ERR_INVALID_ARG, "lm_importance_table_create_for: "
                      "NULL entries");
    return lm_importance_table_create(out, lm_entries_fingerprint(entries),
                                      metric);
}

void lm_importance_table_destroy(lm_importance_table *table)
{
    lm_table_free(T(table));
}

lm_importance_metric lm_importance_table_metric(const lm_importance_table *t)
{
    return t ? t->t.metric : 0;
}

const char *lm_importance_table_fingerprint(const lm_importance_table *t)
{
    return t ? t->t.fingerprint : "";
}

lm_status lm_importance_table_set_text(lm_importance_table *t,
                                       lm_table_text field, const char *value)
{
    return lm_table_set_text(T(t), field, value);
}

const char *lm_importance_table_text(const lm_importance_table *t,
                                     lm_table_text field)
{
    return lm_table_text_get(T(t), field);
}

lm_status lm_importance_table_set_int(lm_importance_table *t,
                                      lm_table_int field, int64_t value)
{
    return lm_table_set_int(T(t), field, value);
}

int64_t lm_importance_table_int(const lm_importance_table *t,
                                lm_table_int field)
{
    return lm_table_int_get(T(t), field);
}

lm_status lm_importance_table_set_shard(lm_importance_table *t, size_t lo,
                                        size_t hi)
{
    return lm_table_set_shard(T(t), lo, hi);
}

int lm_importance_table_shard(const lm_importance_table *t, size_t *lo,
                              size_t *hi)
{
    if (!t || !t->t.has_shard)
        return 0;
    if (lo)
        *lo = t->t.shard_lo;
    if (hi)
        *hi = t->t.shard_hi;
    return 1;
}

/* The normalised value of `raw` under the table's metric. */
static lm_status normalise(const lm_importance_table *t, const lm_tkey *key,
                           double raw, double *value)
{
    char kb[LM_TABLE_KEYBUF];
    if (!t)
        return lm_err(LM_ERR_INVALID_ARG, "importance table: NULL table");
    if (t->t.metric == LM_METRIC_NORMALISED)
        return lm_err(LM_ERR_STATE, "key %s: the table's metric is "
                      "'normalised'; give the normalised value too",
                      lm_tkey_str(kb, key));
    lm_status st = lm_importance_normalise(t->t.metric, raw, value);
    return st == LM_OK ? st
                       : lm_err_prefix(st, "key %s: ", lm_tkey_str(kb, key));
}

lm_status lm_importance_table_set(lm_importance_table *t, size_t st,
                                  size_t end, int64_t kernel, int64_t stride,
                                  int depthwise, double raw)
{
    lm_tkey key = lm_tkey_make(st, end, kernel, stride, depthwise);
    double value;
    lm_status s = lm_tkey_check(&key);
    if (s == LM_OK)
        s = normalise(t, &key, raw, &value);
    return s == LM_OK ? lm_table_put(&t->t, &key, -1, value, raw, NULL, NULL)
                      : s;
}

lm_status lm_importance_table_set_normalised(lm_importance_table *t,
                                             size_t st, size_t end,
                                             int64_t kernel, int64_t stride,
                                             int depthwise, double raw,
                                             double normalised)
{
    if (!t)
        return lm_err(LM_ERR_INVALID_ARG, "lm_importance_table_set_normalised: "
                      "NULL table");
    lm_tkey key = lm_tkey_make(st, end, kernel, stride, depthwise);
    return lm_table_put(&t->t, &key, -1, normalised, raw, NULL, NULL);
}

lm_status lm_importance_table_set_entry(lm_importance_table *t,
                                        const lm_entries *entries, size_t id,
                                        double raw)
{
    lm_tkey key;
    double value;
    lm_status st = lm_table_entry_key(entries, id, &key);
    if (st == LM_OK && (st = normalise(t, &key, raw, &value)) != LM_OK)
        return lm_err_prefix(st, "entry %zu: ", id);
    return st == LM_OK ? lm_table_put_entry(&t->t, entries, id, value, raw)
                       : st;
}

lm_status lm_importance_table_set_entry_normalised(lm_importance_table *t,
                                                   const lm_entries *entries,
                                                   size_t id, double raw,
                                                   double normalised)
{
    return lm_table_put_entry(T(t), entries, id, normalised, raw);
}

int lm_importance_table_has(const lm_importance_table *t, size_t st,
                            size_t end, int64_t kernel, int64_t stride,
                            int depthwise)
{
    lm_tkey key = lm_tkey_make(st, end, kernel, stride, depthwise);
    return t && lm_table_find(&t->t, &key) >= 0;
}

lm_status lm_importance_table_get(const lm_importance_table *t, size_t st,
                                  size_t end, int64_t kernel, int64_t stride,
                                  int depthwise, double *value, double *raw)
{
    if (!t)
        return lm_err(LM_ERR_INVALID_ARG, "lm_importance_table_get: NULL "
                      "table");
    lm_tkey key = lm_tkey_make(st, end, kernel, stride, depthwise);
    return lm_table_get(&t->t, &key, value, raw);
}

lm_status lm_importance_table_get_entry(const lm_importance_table *t,
                                        const lm_entries *entries, size_t id,
                                        double *value, double *raw)
{
    return lm_table_get_entry(T(t), entries, id, value, raw);
}

size_t lm_importance_table_count(const lm_importance_table *t)
{
    return t ? t->t.n : 0;
}

lm_status lm_importance_table_record(const lm_importance_table *t,
                                     size_t index, lm_table_record *rec)
{
    return lm_table_record_get(T(t), index, rec);
}

lm_status lm_importance_table_check(const lm_importance_table *t,
                                    const lm_entries *entries)
{
    return lm_table_check(T(t), entries);
}

lm_status lm_importance_table_missing(const lm_importance_table *t,
                                      const lm_entries *entries, size_t *ids,
                                      size_t cap, size_t *n_missing)
{
    return lm_table_missing(T(t), entries, ids, cap, n_missing);
}

lm_status lm_importance_table_load(lm_importance_table **out,
                                   const char *path)
{
    if (!out)
        return lm_err(LM_ERR_INVALID_ARG, "lm_importance_table_load: NULL "
                      "out");
    lm_table *t = NULL;
    lm_status st = lm_table_load(&t, LM_TABLE_IMPORTANCE, path);
    *out = (lm_importance_table *)t;
    return st;
}

lm_status lm_importance_table_save(const lm_importance_table *t,
                                   const char *path)
{
    return lm_table_save(T(t), path);
}

lm_status lm_importance_table_import_csv(lm_importance_table **out,
                                         const char *path,
                                         lm_importance_metric metric,
                                         const lm_entries *entries)
{
    if (!out)
        return lm_err(LM_ERR_INVALID_ARG, "lm_importance_table_import_csv: "
                      "NULL out");
    lm_table *t = NULL;
    lm_status st = lm_table_import_csv(&t, LM_TABLE_IMPORTANCE, path,
                                       LM_TABLE_CSV_LAYERMERGE, metric,
                                       entries);
    *out = (lm_importance_table *)t;
    return st;
}

lm_status lm_importance_table_export_csv(const lm_importance_table *t,
                                         const char *path)
{
    return lm_table_export_csv(T(t), path, LM_TABLE_CSV_LAYERMERGE);
}

static const lm_table *face(const void *faces, size_t i)
{
    return T(((const lm_importance_table *const *)faces)[i]);
}

lm_status lm_importance_table_merge(lm_importance_table **out,
                                    const lm_entries *entries,
                                    const lm_importance_table *const *shards,
                                    size_t n, uint32_t flags)
{
    if (!out)
        return lm_err(LM_ERR_INVALID_ARG, "lm_importance_table_merge: NULL "
                      "argument");
    lm_table *t = NULL;
    lm_status st = lm_table_merge_faces(&t, LM_TABLE_IMPORTANCE, entries,
                                        shards, n, face, flags,
                                        "lm_importance_table_merge");
    *out = (lm_importance_table *)t;
    return st;
}
