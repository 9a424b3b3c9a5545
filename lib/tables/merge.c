/* Combining shards written by separate workers. Nothing is dropped
 * silently: a key measured twice must agree bit for bit, and entries no
 * shard covers are reported unless the caller asks for a partial table. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tables/table.h"

typedef struct owner {
    size_t shard; /* index + 1; 0 = no shard holds the entry yet */
    size_t rec;
} owner;

static const char *text_or_empty(const char *s)
{
    return s ? s : "";
}

static lm_status same_provenance(const lm_table *a, const lm_table *b)
{
    static const char *const text_names[LM_TABLE_N_TEXT] = {
        "device", "timer", "dtype", "finetune"};
    static const char *const int_names[LM_TABLE_N_INT] = {
        "batch", "height", "width", "repetitions", "threads", "passes"};
    if (a->metric != b->metric)
        return lm_err(LM_ERR_MISMATCH, "metric '%s' differs from shard 0's "
                      "'%s'", lm_importance_metric_name(b->metric),
                      lm_importance_metric_name(a->metric));
    for (int i = 0; i < LM_TABLE_N_TEXT; i++)
        if (strcmp(text_or_empty(a->text[i]), text_or_empty(b->text[i])))
            return lm_err(LM_ERR_MISMATCH, "%s '%s' differs from shard 0's "
                          "'%s'", text_names[i],
                          text_or_empty(b->text[i]), text_or_empty(a->text[i]));
    for (int i = 0; i < LM_TABLE_N_INT; i++)
        if (a->ints[i] != b->ints[i])
            return lm_err(LM_ERR_MISMATCH, "%s %" PRId64 " differs from "
                          "shard 0's %" PRId64, int_names[i],
                          b->ints[i], a->ints[i]);
    return LM_OK;
}

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Record `r` of shard `s` claims entry `id`: take it, or compare. */
static lm_status claim(owner *own, const lm_table *const *shards, size_t s,
                       size_t r, size_t id)
{
    const lm_table *t = shards[s];
    const lm_trec *rec = &t->recs[r];
    char kb[LM_TABLE_KEYBUF];
    if (t->has_shard && (id < t->shard_lo || id >= t->shard_hi))
        return lm_err(LM_ERR_MISMATCH, "shard %zu holds entry %zu %s outside "
                      "its range [%zu, %zu)", s, id,
                      lm_tkey_str(kb, &rec->key), t->shard_lo, t->shard_hi);
    if (!own[id].shard) {
        own[id] = (owner){s + 1, r};
        return LM_OK;
    }
    const lm_trec *prev = &shards[own[id].shard - 1]->recs[own[id].rec];
    if (same_bits(prev->value, rec->value) &&
        same_bits(prev->extra, rec->extra))
        return LM_OK;
    const char *what = t->kind == LM_TABLE_LATENCY ? "stdev" : "raw";
    return lm_err(LM_ERR_CONFLICT, "entry %zu %s: shard %zu has %.17g (%s "
                  "%.17g), shard %zu has %.17g (%s %.17g)", id,
                  lm_tkey_str(kb, &rec->key), own[id].shard - 1, prev->value,
                  what, prev->extra, s, rec->value, what, rec->extra);
}

static lm_status collect(owner *own, const lm_entries *e,
                         const lm_table *const *shards, size_t n)
{
    for (size_t s = 0; s < n; s++) {
        lm_status st = lm_table_check(shards[s], e);
        if (st == LM_OK && s > 0)
            st = same_provenance(shards[0], shards[s]);
        if (st != LM_OK)
            return lm_err_prefix(st, "shard %zu: ", s);
        for (size_t r = 0; r < shards[s]->n; r++) {
            const lm_tkey *k = &shards[s]->recs[r].key;
            size_t id;
            lm_entry_key pub = lm_tkey_public(k);
            st = lm_entries_find(&id, e, &pub);
            if (st == LM_OK)
                st = claim(own, shards, s, r, id);
            if (st != LM_OK)
                return st;
        }
    }
    return LM_OK;
}

static lm_status build(lm_table *out, const owner *own, size_t n_ids,
                       const lm_table *const *shards)
{
    for (size_t id = 0; id < n_ids; id++) {
        if (!own[id].shard)
            continue;
        const lm_trec *r = &shards[own[id].shard - 1]->recs[own[id].rec];
        size_t index;
        lm_status st = lm_table_put(out, &r->key, (int64_t)id, r->value,
                                    r->extra, r->note, &index);
        if (st == LM_OK && r->n_passes)
            st = lm_table_set_passes(out, index, r->passes, r->n_passes,
                                     r->noisy);
        if (st == LM_OK && r->has_convs)
            st = lm_table_set_convs(out, index, r->convs, r->n_convs);
        if (st != LM_OK)
            return st;
    }
    return LM_OK;
}

lm_status lm_table_merge(lm_table **out, const lm_entries *e,
                         const lm_table *const *shards, size_t n,
                         uint32_t flags)
{
    if (!out || !e || !shards || !n)
        return lm_err(LM_ERR_INVALID_ARG, "lm_table_merge: NULL argument or "
                      "no shards");
    *out = NULL;
    for (size_t s = 0; s < n; s++)
        if (!shards[s])
            return lm_err(LM_ERR_INVALID_ARG, "lm_table_merge: shard %zu is "
                          "NULL", s);
    lm_table_kind kind = shards[0]->kind;
    for (size_t s = 1; s < n; s++)
        if (shards[s]->kind != kind)
            return lm_err(LM_ERR_MISMATCH, "lm_table_merge: shard %zu is "
                          "of kind %s, shard 0 of kind %s", s,
                          lm_table_kind_name(shards[s]->kind),
                          lm_table_kind_name(kind));
    size_t n_ids = lm_entries_count(e);
    owner *own = calloc(n_ids ? n_ids : 1, sizeof *own);
    if (!own)
        return lm_err_nomem();
    lm_table *t = NULL;
    lm_status st = collect(own, e, shards, n);
    if (st == LM_OK)
        st = lm_table_new(&t, kind, lm_entries_fingerprint(e),
                          shards[0]->metric ? shards[0]->metric
                                            : LM_METRIC_ACCURACY);
    if (st == LM_OK)
        st = lm_table_copy_provenance(t, shards[0]);
    if (st == LM_OK)
        st = build(t, own, n_ids, shards);
    free(own);
    if (st == LM_OK && !(flags & LM_TABLE_MERGE_ALLOW_MISSING))
        st = lm_table_missing(NULL, NULL, 0, t, e);
    if (st != LM_OK) {
        lm_table_free(t);
        return st;
    }
    *out = t;
    return LM_OK;
}
