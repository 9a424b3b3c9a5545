/* Tables seen through an lm_entries: values by entry id, the check that a
 * table belongs to a graph, and which entries still lack a value. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "tables/table.h"

/* At most this many ids are named in an LM_ERR_MISSING message. */
#define LM_MISSING_NAMED 10

lm_status lm_table_entry_key(const lm_entries *e, size_t id, lm_tkey *key)
{
    lm_entry_info info = {.size = sizeof info};
    if (!e || lm_entries_entry_info(&info, e, id) != LM_OK)
        return lm_err(LM_ERR_INVALID_ARG, "entry %zu: no such entry (%zu "
                      "entries)", id, lm_entries_count(e));
    *key = lm_tkey_make(info.st, info.end, info.kernel, info.stride,
                        info.depthwise);
    return LM_OK;
}

static lm_status same_graph(const lm_table *t, const lm_entries *e)
{
    if (!t || !e)
        return lm_err(LM_ERR_INVALID_ARG, "table check: NULL argument");
    if (strcmp(t->fingerprint, lm_entries_fingerprint(e)) != 0)
        return lm_err(LM_ERR_MISMATCH, "the %s table is for graph '%s', the "
                      "entries are of graph '%s'",
                      t->kind == LM_TABLE_LATENCY ? "latency" : "importance",
                      t->fingerprint, lm_entries_fingerprint(e));
    return LM_OK;
}

static lm_status in_shard(const lm_table *t, size_t id)
{
    if (t->has_shard && (id < t->shard_lo || id >= t->shard_hi))
        return lm_err(LM_ERR_INVALID_ARG, "entry %zu is outside the table's "
                      "shard range [%zu, %zu)", id, t->shard_lo, t->shard_hi);
    return LM_OK;
}

lm_status lm_table_put_entry(lm_table *t, const lm_entries *e, size_t id,
                             double value, double extra)
{
    lm_tkey key;
    lm_status st = same_graph(t, e);
    if (st == LM_OK)
        st = lm_table_entry_key(e, id, &key);
    if (st == LM_OK)
        st = in_shard(t, id);
    if (st == LM_OK)
        st = lm_table_check_values(t, &key, (int64_t)id, value, extra);
    if (st != LM_OK)
        return st;
    size_t index;
    lm_entry_info info = {.size = sizeof info};
    if ((st = lm_table_put(t, &key, (int64_t)id, value, extra, NULL,
                           &index)) != LM_OK ||
        (st = lm_entries_entry_info(&info, e, id)) != LM_OK)
        return st;
    /* The subset the value was measured with is part of the value. */
    return lm_table_set_convs(t, index, info.kept, info.n_kept);
}

lm_status lm_table_get_entry(double *value, double *extra, const lm_table *t,
                             const lm_entries *e, size_t id)
{
    lm_tkey key;
    if (!t)
        return lm_err(LM_ERR_INVALID_ARG, "table get: NULL table");
    lm_status st = lm_table_entry_key(e, id, &key);
    if (st == LM_OK &&
        (st = lm_table_get_tkey(t, &key, value, extra)) != LM_OK)
        return lm_err_prefix(st, "entry %zu: ", id);
    return st;
}

lm_status lm_table_check(const lm_table *t, const lm_entries *e)
{
    lm_status st = same_graph(t, e);
    if (st != LM_OK)
        return st;
    char kb[LM_TABLE_KEYBUF];
    for (size_t i = 0; i < t->n; i++) {
        const lm_trec *r = &t->recs[i];
        size_t id;
        lm_entry_key pub = lm_tkey_public(&r->key);
        if (lm_entries_find(&id, e, &pub) != LM_OK)
            return lm_err(LM_ERR_NOT_FOUND, "record %zu: key %s is not an "
                          "entry of graph '%s'", i, lm_tkey_str(kb, &r->key),
                          t->fingerprint);
        if (r->id >= 0 && (size_t)r->id != id)
            return lm_err(LM_ERR_MISMATCH, "record %zu: key %s is entry %zu, "
                          "but the record says entry %" PRId64, i,
                          lm_tkey_str(kb, &r->key), id, r->id);
    }
    return LM_OK;
}

/* Identity entries need no measured latency (they cost 0). */
static int needs_value(const lm_table *t, const lm_tkey *key)
{
    return !(t->kind == LM_TABLE_LATENCY && key->kernel == 0);
}

lm_status lm_table_missing(size_t *n_missing, size_t *ids, size_t cap,
                           const lm_table *t, const lm_entries *e)
{
    if (n_missing)
        *n_missing = 0;
    if (!ids && cap)
        return lm_err(LM_ERR_INVALID_ARG, "table missing: NULL ids, cap %zu",
                      cap);
    lm_status st = same_graph(t, e);
    if (st != LM_OK)
        return st;
    char list[LM_MISSING_NAMED * 24] = "";
    size_t n = 0, used = 0;
    for (size_t id = 0; id < lm_entries_count(e); id++) {
        lm_tkey key;
        if ((st = lm_table_entry_key(e, id, &key)) != LM_OK)
            return st;
        if (!needs_value(t, &key) || lm_table_find(t, &key) >= 0)
            continue;
        if (n < cap)
            ids[n] = id;
        if (n < LM_MISSING_NAMED)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%zu",
                                     n ? ", " : "", id);
        n++;
    }
    if (n_missing)
        *n_missing = n;
    if (!n)
        return LM_OK;
    return lm_err(LM_ERR_MISSING, "%zu of %zu entries have no %s: ids %s%s", n,
                  lm_entries_count(e),
                  t->kind == LM_TABLE_LATENCY ? "latency" : "importance",
                  list, n > LM_MISSING_NAMED ? ", ..." : "");
}

lm_status lm_table_merge_all_key(const lm_entries *e, size_t st, size_t end,
                                 lm_tkey *key)
{
    if (st >= end || end > lm_entries_conv_count(e))
        return lm_err(LM_ERR_NOT_FOUND, "segment (%zu, %zu) is outside the "
                      "graph's positions 0..%zu", st, end,
                      lm_entries_conv_count(e));
    *key = lm_tkey_make(st, end, 1, 1, 1);
    /* Each conv's own entry (conv-1, conv) carries its kernel, stride and
     * depthwise flag; the merge-all conv composes them (docs/method.md section
     * 4). */
    for (size_t c = st + 1; c <= end; c++) {
        size_t id;
        lm_entry_info info = {.size = sizeof info};
        lm_status s = lm_entries_find_original(&id, e, c);
        if (s == LM_OK)
            s = lm_entries_entry_info(&info, e, id);
        if (s != LM_OK)
            return s;
        key->kernel += info.kernel - 1;
        key->stride *= info.stride;
        key->dw = key->dw && info.depthwise;
    }
    return LM_OK;
}
