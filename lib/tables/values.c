/* The public table handle: life cycle, provenance queries and the typed
 * value calls of tables.h over the shared record store, plus the
 * normalisation of raw importance metrics (docs/method.md section 5). */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/record.h"
#include "core/util.h"
#include "tables/table.h"

/* ---- names ------------------------------------------------------------- */

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

lm_status lm_importance_metric_normalise(double *normalised,
                                         lm_importance_metric metric,
                                         double raw)
{
    if (!normalised || metric < LM_METRIC_ACCURACY ||
        metric > LM_METRIC_NORMALISED)
        return lm_err(LM_ERR_INVALID_ARG, "lm_importance_metric_normalise: "
                      "NULL out or unknown metric %d", (int)metric);
    double v = metric == LM_METRIC_ACCURACY     ? exp(raw / 100.0)
               : metric == LM_METRIC_LOSS_RATIO ? exp(-raw)
                                                : raw;
    if (!isfinite(raw) || !isfinite(v))
        return lm_err(LM_ERR_VALUE, "%s %g normalises to %g, not a finite "
                      "number", lm_importance_metric_name(metric), raw, v);
    *normalised = v;
    return LM_OK;
}

const char *lm_table_kind_name(lm_table_kind kind)
{
    return kind == LM_TABLE_LATENCY      ? "latency"
           : kind == LM_TABLE_IMPORTANCE ? "importance"
                                         : NULL;
}

/* ---- life cycle -------------------------------------------------------- */

lm_status lm_table_create_latency(lm_table **out, const char *fingerprint)
{
    if (!out)
        return lm_err(LM_ERR_INVALID_ARG, "lm_table_create_latency: NULL out");
    return lm_table_new(out, LM_TABLE_LATENCY, fingerprint, 0);
}

lm_status lm_table_create_latency_for(lm_table **out,
                                      const lm_entries *entries)
{
    if (!entries)
        return lm_err(LM_ERR_INVALID_ARG, "lm_table_create_latency_for: NULL "
                      "entries");
    return lm_table_create_latency(out, lm_entries_fingerprint(entries));
}

lm_status lm_table_create_importance(lm_table **out, const char *fingerprint,
                                     lm_importance_metric metric)
{
    if (!out)
        return lm_err(LM_ERR_INVALID_ARG, "lm_table_create_importance: NULL "
                      "out");
    return lm_table_new(out, LM_TABLE_IMPORTANCE, fingerprint, metric);
}

lm_status lm_table_create_importance_for(lm_table **out,
                                         const lm_entries *entries,
                                         lm_importance_metric metric)
{
    if (!entries)
        return lm_err(LM_ERR_INVALID_ARG, "lm_table_create_importance_for: "
                      "NULL entries");
    return lm_table_create_importance(out, lm_entries_fingerprint(entries),
                                      metric);
}

void lm_table_destroy(lm_table *table)
{
    lm_table_free(table);
}

lm_table_kind lm_table_get_kind(const lm_table *table)
{
    return table ? table->kind : 0;
}

const char *lm_table_fingerprint(const lm_table *table)
{
    return table ? table->fingerprint : "";
}

lm_importance_metric lm_table_metric(const lm_table *table)
{
    return table && table->kind == LM_TABLE_IMPORTANCE ? table->metric : 0;
}

int lm_table_shard(size_t *lo, size_t *hi, const lm_table *table)
{
    if (!table || !table->has_shard)
        return 0;
    if (lo)
        *lo = table->shard_lo;
    if (hi)
        *hi = table->shard_hi;
    return 1;
}

size_t lm_table_count(const lm_table *table)
{
    return table ? table->n : 0;
}

/* ---- keys -------------------------------------------------------------- */

lm_status lm_tkey_from_public(lm_tkey *key, const lm_entry_key *pub)
{
    if (!pub || pub->size < sizeof *pub)
        return lm_err(LM_ERR_INVALID_ARG, "entry key: NULL, or its size %zu "
                      "is smaller than lm_entry_key (%zu); set size = "
                      "sizeof(lm_entry_key)", pub ? pub->size : 0,
                      sizeof *pub);
    *key = lm_tkey_make(pub->st, pub->end, pub->kernel, pub->stride,
                        pub->depthwise);
    return LM_OK;
}

/* A table of `kind`, else LM_ERR_INVALID_ARG naming the call. */
static lm_status want_kind(const lm_table *t, lm_table_kind kind,
                           const char *fn)
{
    if (!t)
        return lm_err(LM_ERR_INVALID_ARG, "%s: NULL table", fn);
    if (t->kind != kind)
        return lm_err(LM_ERR_INVALID_ARG, "%s: this is %s %s table", fn,
                      t->kind == LM_TABLE_IMPORTANCE ? "an" : "a",
                      lm_table_kind_name(t->kind));
    return LM_OK;
}

int lm_table_has(const lm_table *table, const lm_entry_key *key)
{
    lm_tkey k;
    if (!table || !key || key->size < sizeof *key)
        return 0;
    k = lm_tkey_make(key->st, key->end, key->kernel, key->stride,
                     key->depthwise);
    return lm_table_find(table, &k) >= 0;
}

lm_status lm_table_get(double *value, double *extra, const lm_table *table,
                       const lm_entry_key *key)
{
    lm_tkey k;
    if (!table)
        return lm_err(LM_ERR_INVALID_ARG, "lm_table_get: NULL table");
    lm_status st = lm_tkey_from_public(&k, key);
    return st == LM_OK ? lm_table_get_tkey(table, &k, value, extra) : st;
}

/* ---- latency ----------------------------------------------------------- */

lm_status lm_table_set_latency(lm_table *table, const lm_entry_key *key,
                               double ms, double stdev)
{
    lm_tkey k;
    lm_status st = want_kind(table, LM_TABLE_LATENCY, "lm_table_set_latency");
    if (st == LM_OK)
        st = lm_tkey_from_public(&k, key);
    if (st == LM_OK)
        st = lm_tkey_check(&k);
    return st == LM_OK ? lm_table_put(table, &k, -1, ms, stdev, NULL, NULL)
                       : st;
}

lm_status lm_table_set_latency_entry(lm_table *table,
                                     const lm_entries *entries, size_t id,
                                     double ms, double stdev)
{
    lm_status st = want_kind(table, LM_TABLE_LATENCY,
                             "lm_table_set_latency_entry");
    return st == LM_OK ? lm_table_put_entry(table, entries, id, ms, stdev)
                       : st;
}

/* ---- importance -------------------------------------------------------- */

/* The normalised value of `raw` under the table's metric. */
static lm_status normalise(const lm_table *t, const lm_tkey *key, double raw,
                           double *value)
{
    char kb[LM_TABLE_KEYBUF];
    if (t->metric == LM_METRIC_NORMALISED)
        return lm_err(LM_ERR_STATE, "key %s: the table's metric is "
                      "'normalised'; give the normalised value too",
                      lm_tkey_str(kb, key));
    lm_status st = lm_importance_metric_normalise(value, t->metric, raw);
    return st == LM_OK ? st
                       : lm_err_prefix(st, "key %s: ", lm_tkey_str(kb, key));
}

lm_status lm_table_set_importance(lm_table *table, const lm_entry_key *key,
                                  double raw)
{
    lm_tkey k;
    double value;
    lm_status st = want_kind(table, LM_TABLE_IMPORTANCE,
                             "lm_table_set_importance");
    if (st == LM_OK)
        st = lm_tkey_from_public(&k, key);
    if (st == LM_OK)
        st = lm_tkey_check(&k);
    if (st == LM_OK)
        st = normalise(table, &k, raw, &value);
    return st == LM_OK ? lm_table_put(table, &k, -1, value, raw, NULL, NULL)
                       : st;
}

lm_status lm_table_set_importance_normalised(lm_table *table,
                                             const lm_entry_key *key,
                                             double raw, double normalised)
{
    lm_tkey k;
    lm_status st = want_kind(table, LM_TABLE_IMPORTANCE,
                             "lm_table_set_importance_normalised");
    if (st == LM_OK)
        st = lm_tkey_from_public(&k, key);
    if (st == LM_OK)
        st = lm_tkey_check(&k);
    return st == LM_OK
               ? lm_table_put(table, &k, -1, normalised, raw, NULL, NULL)
               : st;
}

lm_status lm_table_set_importance_entry(lm_table *table,
                                        const lm_entries *entries, size_t id,
                                        double raw)
{
    lm_tkey key;
    double value;
    lm_status st = want_kind(table, LM_TABLE_IMPORTANCE,
                             "lm_table_set_importance_entry");
    if (st == LM_OK)
        st = lm_table_entry_key(entries, id, &key);
    if (st == LM_OK && (st = normalise(table, &key, raw, &value)) != LM_OK)
        return lm_err_prefix(st, "entry %zu: ", id);
    return st == LM_OK ? lm_table_put_entry(table, entries, id, value, raw)
                       : st;
}

lm_status lm_table_set_importance_entry_normalised(lm_table *table,
                                                   const lm_entries *entries,
                                                   size_t id, double raw,
                                                   double normalised)
{
    lm_status st = want_kind(table, LM_TABLE_IMPORTANCE,
                             "lm_table_set_importance_entry_normalised");
    return st == LM_OK
               ? lm_table_put_entry(table, entries, id, normalised, raw)
               : st;
}

/* ---- the whole network ------------------------------------------------ */

lm_status lm_table_network_info(lm_table_network *info, const lm_table *t)
{
    lm_status st = want_kind(t, LM_TABLE_LATENCY, "lm_table_network_info");
    if (st == LM_OK && (!info || info->size < sizeof info->size))
        st = lm_err(LM_ERR_INVALID_ARG, "lm_table_network_info: NULL record "
                    "or size not set");
    if (st != LM_OK)
        return st;
    lm_table_network full = {.size = info->size,
                             .fixed_ms = t->fixed_ms,
                             .fixed_stdev = t->fixed_stdev,
                             .measured_ms = t->measured_ms,
                             .stage_count = t->n_stages};
    return lm_sized_copy(info, &full, sizeof full, "lm_table_network_info");
}

lm_status lm_table_stage_info(lm_table_stage *info, const lm_table *t,
                              size_t index)
{
    if (!t || !info || info->size < sizeof info->size || index >= t->n_stages)
        return lm_err(LM_ERR_INVALID_ARG, "lm_table_stage_info: NULL "
                      "argument, size not set, or stage %zu out of range "
                      "(%zu stages)", index, t ? t->n_stages : 0);
    const lm_tstage *s = &t->stages[index];
    lm_table_stage full = {
        .size = info->size, .st = s->st, .end = s->end,
        .alone_ms = s->alone_ms, .in_network_ms = s->in_network_ms,
        .ratio = s->alone_ms > 0.0 ? s->in_network_ms / s->alone_ms : 0.0};
    return lm_sized_copy(info, &full, sizeof full, "lm_table_stage_info");
}

lm_status lm_table_set_fixed_cost(lm_table *t, double ms, double stdev)
{
    lm_status st = want_kind(t, LM_TABLE_LATENCY, "lm_table_set_fixed_cost");
    if (st != LM_OK)
        return st;
    if (!isfinite(ms) || ms < 0.0 || !isfinite(stdev) || stdev < 0.0)
        return lm_err(LM_ERR_VALUE, "lm_table_set_fixed_cost: %g ms (stdev "
                      "%g) is not a finite number >= 0", ms, stdev);
    t->fixed_ms = ms;
    t->fixed_stdev = stdev;
    return LM_OK;
}

lm_status lm_table_set_stage(lm_table *t, const lm_table_stage *stage)
{
    lm_status st = want_kind(t, LM_TABLE_LATENCY, "lm_table_set_stage");
    if (st == LM_OK)
        st = lm_record_check(stage, offsetof(lm_table_stage, ratio),
                             "lm_table_set_stage");
    if (st != LM_OK)
        return st;
    if (stage->st >= stage->end)
        return lm_err(LM_ERR_INVALID_ARG, "lm_table_set_stage: stage %zu..%zu "
                      "is empty", stage->st, stage->end);
    if (!isfinite(stage->alone_ms) || stage->alone_ms <= 0.0 ||
        !isfinite(stage->in_network_ms) || stage->in_network_ms < 0.0)
        return lm_err(LM_ERR_VALUE, "lm_table_set_stage: stage %zu..%zu: "
                      "alone %g ms, in the network %g ms (need alone > 0, "
                      "in the network >= 0)", stage->st, stage->end,
                      stage->alone_ms, stage->in_network_ms);
    lm_tstage *all = malloc((t->n_stages + 1) * sizeof *all);
    if (!all)
        return lm_err_nomem();
    size_t n = 0;
    for (size_t i = 0; i < t->n_stages; i++)
        if (t->stages[i].st != stage->st || t->stages[i].end != stage->end)
            all[n++] = t->stages[i];
    all[n++] = (lm_tstage){stage->st, stage->end, stage->alone_ms,
                           stage->in_network_ms};
    st = lm_table_set_stages(t, all, n);
    free(all);
    return st;
}
