/* The keyed record store behind both table kinds: records in insertion
 * order plus an open-addressing index from entry key to record, so that
 * nothing ever depends on row order. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/stats.h"
#include "core/util.h"
#include "tables/table.h"

lm_status lm_table_new(lm_table **out, lm_table_kind kind,
                       const char *fingerprint, lm_importance_metric metric)
{
    if (!out || !fingerprint)
        return lm_err(LM_ERR_INVALID_ARG, "table create: NULL argument");
    *out = NULL;
    if (kind == LM_TABLE_IMPORTANCE && (metric < LM_METRIC_ACCURACY ||
                                        metric > LM_METRIC_NORMALISED))
        return lm_err(LM_ERR_INVALID_ARG, "unknown importance metric %d",
                      (int)metric);
    /* Both public types are an lm_table and nothing more. */
    lm_table *t = calloc(1, sizeof *t);
    if (!t)
        return lm_err_nomem();
    t->kind = kind;
    t->metric = kind == LM_TABLE_IMPORTANCE ? metric : 0;
    t->fingerprint = lm_strdup(fingerprint);
    if (!t->fingerprint) {
        free(t);
        return lm_err_nomem();
    }
    *out = t;
    return LM_OK;
}

void lm_table_free(lm_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->recs[i].note);
        free(t->recs[i].passes);
        free(t->recs[i].convs);
    }
    free(t->stages);
    for (size_t i = 0; i < LM_TABLE_N_TEXT; i++)
        free(t->text[i]);
    free(t->recs);
    free(t->slots);
    free(t->fingerprint);
    free(t);
}

lm_tkey lm_tkey_make(size_t st, size_t end, int64_t kernel, int64_t stride,
                     int dw)
{
    lm_tkey k = {st, end, kernel, stride, (int32_t)dw};
    return k;
}

const char *lm_tkey_str(char *buf, const lm_tkey *key)
{
    snprintf(buf, LM_TABLE_KEYBUF,
             "(st %zu, end %zu, K %" PRId64 ", stride %" PRId64 ", dw %d)",
             key->st, key->end, key->kernel, key->stride, (int)key->dw);
    return buf;
}

lm_status lm_tkey_check(const lm_tkey *key)
{
    char kb[LM_TABLE_KEYBUF];
    int unresolved = key->kernel == -1 && key->stride == -1;
    if (key->st >= key->end || key->kernel < -1 ||
        (key->stride < 1 && !unresolved) || (key->kernel == -1 && !unresolved)
        || (key->dw != 0 && key->dw != 1))
        return lm_err(LM_ERR_INVALID_ARG, "invalid entry key %s",
                      lm_tkey_str(kb, key));
    return LM_OK;
}

static uint64_t key_hash(const lm_tkey *k)
{
    uint64_t h = 1469598103934665603ull;
    uint64_t parts[5] = {k->st, k->end, (uint64_t)k->kernel,
                         (uint64_t)k->stride, (uint64_t)k->dw};
    for (int i = 0; i < 5; i++) {
        h ^= parts[i];
        h *= 1099511628211ull;
        h ^= h >> 29;
    }
    return h;
}

static int key_eq(const lm_tkey *a, const lm_tkey *b)
{
    return a->st == b->st && a->end == b->end && a->kernel == b->kernel &&
           a->stride == b->stride && a->dw == b->dw;
}

long lm_table_find(const lm_table *t, const lm_tkey *key)
{
    if (!t->n_slots)
        return -1;
    size_t mask = t->n_slots - 1;
    for (size_t i = key_hash(key) & mask;; i = (i + 1) & mask) {
        size_t s = t->slots[i];
        if (!s)
            return -1;
        if (key_eq(&t->recs[s - 1].key, key))
            return (long)(s - 1);
    }
}

static void slot_insert(size_t *slots, size_t n_slots, const lm_tkey *key,
                        size_t index)
{
    size_t mask = n_slots - 1;
    size_t i = key_hash(key) & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = index + 1;
}

/* Keep the load factor below one half so probes stay short. */
static lm_status reserve(lm_table *t, size_t need)
{
    if (LM_GROW(t->recs, t->cap, need) != LM_OK)
        return lm_err_nomem();
    if (2 * need < t->n_slots)
        return LM_OK;
    size_t n_slots = t->n_slots ? t->n_slots : 16;
    while (2 * need >= n_slots)
        n_slots *= 2;
    size_t *slots = calloc(n_slots, sizeof *slots);
    if (!slots)
        return lm_err_nomem();
    for (size_t i = 0; i < t->n; i++)
        slot_insert(slots, n_slots, &t->recs[i].key, i);
    free(t->slots);
    t->slots = slots;
    t->n_slots = n_slots;
    return LM_OK;
}

lm_status lm_table_check_values(const lm_table *t, const lm_tkey *key,
                                int64_t id, double value, double extra)
{
    char kb[LM_TABLE_KEYBUF], idb[40] = "";
    if (id >= 0)
        snprintf(idb, sizeof idb, "entry %" PRId64 " ", id);
    if (t->kind == LM_TABLE_LATENCY) {
        if (!isfinite(value) || value < 0 || !isfinite(extra) || extra < 0)
            return lm_err(LM_ERR_VALUE, "%skey %s: latency %g ms (stdev %g) "
                          "is not a finite number >= 0", idb,
                          lm_tkey_str(kb, key), value, extra);
        return LM_OK;
    }
    if (!isfinite(value) || !isfinite(extra))
        return lm_err(LM_ERR_VALUE, "%skey %s: importance %g (raw %g) is not "
                      "a finite number", idb, lm_tkey_str(kb, key), value,
                      extra);
    return LM_OK;
}

lm_status lm_table_put(lm_table *t, const lm_tkey *key, int64_t id,
                       double value, double extra, const char *note,
                       size_t *index)
{
    lm_status st = lm_tkey_check(key);
    if (st == LM_OK)
        st = lm_table_check_values(t, key, id, value, extra);
    if (st != LM_OK)
        return st;
    char *copy = NULL;
    if (note && !(copy = lm_strdup(note)))
        return lm_err_nomem();
    long at = lm_table_find(t, key);
    if (at < 0) {
        if ((st = reserve(t, t->n + 1)) != LM_OK) {
            free(copy);
            return st;
        }
        at = (long)t->n++;
        t->recs[at] = (lm_trec){.key = *key, .id = -1};
        slot_insert(t->slots, t->n_slots, key, (size_t)at);
    }
    lm_trec *r = &t->recs[at];
    if (id >= 0)
        r->id = id;
    r->value = value;
    r->extra = extra;
    /* A value set directly is not one measured in passes, nor (until the
     * caller says) with a known subset. */
    free(r->passes);
    r->passes = NULL;
    r->n_passes = 0;
    r->noisy = 0;
    free(r->convs);
    r->convs = NULL;
    r->n_convs = 0;
    r->has_convs = 0;
    if (note) {
        free(r->note);
        r->note = copy;
    }
    if (index)
        *index = (size_t)at;
    return LM_OK;
}

lm_status lm_table_get_tkey(const lm_table *t, const lm_tkey *key,
                            double *value, double *extra)
{
    char kb[LM_TABLE_KEYBUF];
    long at = lm_table_find(t, key);
    if (at < 0) {
        if (t->kind == LM_TABLE_LATENCY && key->kernel == 0) {
            if (value)
                *value = 0.0;
            if (extra)
                *extra = 0.0;
            return LM_OK;
        }
        return lm_err(LM_ERR_NOT_FOUND, "no %s for key %s",
                      t->kind == LM_TABLE_LATENCY ? "latency" : "importance",
                      lm_tkey_str(kb, key));
    }
    if (value)
        *value = t->recs[at].value;
    if (extra)
        *extra = t->recs[at].extra;
    return LM_OK;
}

lm_status lm_table_record_info(lm_table_record *rec, const lm_table *t,
                               size_t index)
{
    if (!t || index >= t->n)
        return lm_err(LM_ERR_INVALID_ARG, "table record %zu: NULL table or "
                      "index out of range", index);
    const lm_trec *r = &t->recs[index];
    lm_table_record full = {
        .size = sizeof full, .id = r->id, .st = r->key.st, .end = r->key.end,
        .kernel = r->key.kernel, .stride = r->key.stride,
        .depthwise = r->key.dw, .value = r->value, .extra = r->extra,
        .note = r->note ? r->note : "", .passes = r->n_passes,
        .spread = lm_trec_spread(r), .noisy = r->noisy,
        .has_convs = r->has_convs, .n_convs = r->n_convs,
        .convs = r->n_convs ? r->convs : NULL};
    return lm_sized_copy(rec, &full, sizeof full, "table record");
}

static int text_index(lm_table_text_field field)
{
    return field >= LM_TABLE_DEVICE && field <= LM_TABLE_FINETUNE
               ? (int)field - 1 : -1;
}

static int int_index(lm_table_int_field field)
{
    return field >= LM_TABLE_BATCH && field <= LM_TABLE_PASSES
               ? (int)field - 1 : -1;
}

lm_status lm_table_set_text(lm_table *t, lm_table_text_field field,
                            const char *value)
{
    int i = text_index(field);
    if (!t || !value || i < 0)
        return lm_err(LM_ERR_INVALID_ARG, "table text field %d: NULL argument "
                      "or unknown field", (int)field);
    char *copy = lm_strdup(value);
    if (!copy)
        return lm_err_nomem();
    free(t->text[i]);
    t->text[i] = copy;
    return LM_OK;
}

const char *lm_table_text(const lm_table *t, lm_table_text_field field)
{
    int i = text_index(field);
    return t && i >= 0 && t->text[i] ? t->text[i] : "";
}

lm_status lm_table_set_int(lm_table *t, lm_table_int_field field,
                           int64_t value)
{
    int i = int_index(field);
    if (!t || i < 0)
        return lm_err(LM_ERR_INVALID_ARG, "table integer field %d: NULL table "
                      "or unknown field", (int)field);
    if (value < 0)
        return lm_err(LM_ERR_VALUE, "table integer field %d: %" PRId64
                      " is negative", (int)field, value);
    t->ints[i] = value;
    return LM_OK;
}

int64_t lm_table_int(const lm_table *t, lm_table_int_field field)
{
    int i = int_index(field);
    return t && i >= 0 ? t->ints[i] : 0;
}

lm_status lm_table_set_shard(lm_table *t, size_t lo, size_t hi)
{
    if (!t || lo >= hi)
        return lm_err(LM_ERR_INVALID_ARG, "shard range [%zu, %zu) is empty",
                      lo, hi);
    for (size_t i = 0; i < t->n; i++) {
        int64_t id = t->recs[i].id;
        if (id >= 0 && ((size_t)id < lo || (size_t)id >= hi))
            return lm_err(LM_ERR_INVALID_ARG, "shard range [%zu, %zu): the "
                          "table already holds entry %" PRId64, lo, hi, id);
    }
    t->has_shard = 1;
    t->shard_lo = lo;
    t->shard_hi = hi;
    return LM_OK;
}

/* Median of n values (n >= 1), without changing them. */
static double median_of(const double *v, size_t n, double *scratch)
{
    memcpy(scratch, v, n * sizeof *v);
    return lm_median_sort(scratch, n);
}

lm_status lm_table_add_pass(lm_table *t, size_t index, double ms,
                            double stdev)
{
    lm_trec *r = &t->recs[index];
    lm_status st = lm_table_check_values(t, &r->key, r->id, ms, stdev);
    if (st != LM_OK)
        return st;
    double *grown = realloc(r->passes, (r->n_passes + 1) * sizeof *grown);
    double *scratch = malloc((r->n_passes + 1) * sizeof *scratch);
    if (!grown || !scratch) {
        if (grown)
            r->passes = grown;
        free(scratch);
        return lm_err_nomem();
    }
    r->passes = grown;
    r->passes[r->n_passes++] = ms;
    /* The median of the pass medians: one pass hit by a burst of load
     * moves it by at most one rank. */
    r->value = median_of(r->passes, r->n_passes, scratch);
    r->extra = stdev;
    r->noisy = 0;
    free(scratch);
    return LM_OK;
}

lm_status lm_table_set_passes(lm_table *t, size_t index, const double *ms,
                              size_t n, int noisy)
{
    lm_trec *r = &t->recs[index];
    double *copy = NULL;
    if (n && !(copy = malloc(n * sizeof *copy)))
        return lm_err_nomem();
    if (n)
        memcpy(copy, ms, n * sizeof *copy);
    free(r->passes);
    r->passes = copy;
    r->n_passes = n;
    r->noisy = noisy;
    return LM_OK;
}

/* Load on a shared machine only ever slows a run down, so from three
 * passes on the slowest is left out: one burst does not make an entry
 * noisy, two do. */
lm_status lm_table_set_convs(lm_table *t, size_t index, const size_t *convs,
                             size_t n)
{
    lm_trec *r = &t->recs[index];
    char kb[LM_TABLE_KEYBUF];
    for (size_t i = 0; i < n; i++)
        if (convs[i] <= r->key.st || convs[i] > r->key.end ||
            (i && convs[i] <= convs[i - 1]))
            return lm_err(LM_ERR_VALUE, "key %s: kept conv %zu is not an "
                          "ascending conv of the segment (%zu, %zu]",
                          lm_tkey_str(kb, &r->key), convs[i], r->key.st,
                          r->key.end);
    size_t *copy = malloc((n ? n : 1) * sizeof *copy);
    if (!copy)
        return lm_err_nomem();
    if (n)
        memcpy(copy, convs, n * sizeof *copy);
    free(r->convs);
    r->convs = copy;
    r->n_convs = n;
    r->has_convs = 1;
    return LM_OK;
}

const char *lm_trec_convs_text(char *buf, size_t cap, const lm_trec *r)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < r->n_convs && at < cap; i++) {
        int w = snprintf(buf + at, cap - at, i ? ",%zu" : "%zu", r->convs[i]);
        if (w < 0)
            break;
        at += (size_t)w;
    }
    return buf;
}

double lm_trec_spread(const lm_trec *r)
{
    size_t n = r->n_passes;
    if (n < 2 || !(r->value > 0.0))
        return 0.0;
    size_t slowest = 0;
    for (size_t i = 1; i < n; i++)
        if (r->passes[i] > r->passes[slowest])
            slowest = i;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (n >= 3 && i == slowest)
            continue;
        lo = r->passes[i] < lo ? r->passes[i] : lo;
        hi = r->passes[i] > hi ? r->passes[i] : hi;
    }
    return (hi - lo) / r->value;
}

lm_status lm_table_set_stages(lm_table *t, const lm_tstage *stages, size_t n)
{
    lm_tstage *copy = NULL;
    if (n && !(copy = malloc(n * sizeof *copy)))
        return lm_err_nomem();
    if (n)
        memcpy(copy, stages, n * sizeof *copy);
    free(t->stages);
    t->stages = copy;
    t->n_stages = n;
    return LM_OK;
}

lm_status lm_table_copy_provenance(lm_table *dst, const lm_table *src)
{
    lm_status st = LM_OK;
    for (int i = 0; st == LM_OK && i < LM_TABLE_N_TEXT; i++)
        if (src->text[i])
            st = lm_table_set_text(dst, (lm_table_text_field)(i + 1),
                                   src->text[i]);
    if (st != LM_OK)
        return st;
    memcpy(dst->ints, src->ints, sizeof dst->ints);
    dst->metric = src->metric;
    dst->fixed_ms = src->fixed_ms;
    dst->fixed_stdev = src->fixed_stdev;
    dst->measured_ms = src->measured_ms;
    return lm_table_set_stages(dst, src->stages, src->n_stages);
}
