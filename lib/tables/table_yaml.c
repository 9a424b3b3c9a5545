/* Table files (docs/formats.md): a header with the graph fingerprint and
 * provenance, then one flow mapping per record. Saving goes through a
 * temporary file so that a measured entry is never lost to a crash. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/util.h"
#include "io/yaml_doc.h"
#include "tables/table.h"

/* Version 2 added the thread count, the passes of each record and the
 * whole-network model; version 1 files still load. */
#define LM_TABLE_FILE_VERSION 2

static const char *format_name(lm_table_kind kind)
{
    return kind == LM_TABLE_LATENCY ? "layermerge-latency"
                                    : "layermerge-importance";
}

static const char *const text_keys[LM_TABLE_N_TEXT] = {"device", "timer",
                                                       "dtype", "finetune"};
static const char *const int_keys[LM_TABLE_N_INT] = {
    "batch", "height", "width", "repetitions", "threads", "passes"};

/* ---- loading ----------------------------------------------------------- */

typedef struct loader {
    const lm_ydoc *doc;
    lm_table_kind kind;
    lm_table *t;
    size_t *lines; /* source line of each record, for duplicate messages */
    size_t cap;
} loader;

static lm_status read_metric(const lm_ydoc *doc, const lm_ynode *prov,
                             lm_importance_metric *metric)
{
    const char *name;
    const lm_ynode *n = lm_ymap_get(prov, "metric");
    lm_status st = lm_yget_string(doc, n, "provenance metric", &name);
    if (st == LM_OK && lm_importance_metric_from_name(metric, name) != LM_OK)
        st = lm_yerr(doc, n, LM_ERR_PARSE, "unknown importance metric '%s' "
                     "(accuracy, loss_ratio or normalised)", name);
    return st;
}

static lm_status read_shard(const loader *ld, const lm_ynode *node)
{
    static const char *const keys[] = {"lo", "hi", NULL};
    int64_t lo, hi;
    lm_status st = lm_ycheck_keys(ld->doc, node, "shard", keys);
    if (st == LM_OK)
        st = lm_yget_int(ld->doc, lm_ymap_get(node, "lo"), "shard lo", &lo);
    if (st == LM_OK)
        st = lm_yget_int(ld->doc, lm_ymap_get(node, "hi"), "shard hi", &hi);
    if (st == LM_OK && (lo < 0 || hi <= lo))
        st = lm_yerr(ld->doc, node, LM_ERR_VALUE, "shard range [%" PRId64
                     ", %" PRId64 ") is empty or negative", lo, hi);
    if (st == LM_OK)
        st = lm_table_set_shard(ld->t, (size_t)lo, (size_t)hi);
    return st;
}

static lm_status read_provenance(const loader *ld, const lm_ynode *prov)
{
    static const char *const lat_keys[] = {"device", "timer", "dtype", "batch",
        "height", "width", "repetitions", "threads", "passes", "shard", NULL};
    static const char *const imp_keys[] = {"device", "timer", "dtype", "batch",
        "height", "width", "repetitions", "threads", "passes", "shard",
        "metric", "finetune", NULL};
    const lm_ydoc *doc = ld->doc;
    lm_status st = lm_ycheck_keys(doc, prov, "provenance",
                                  ld->kind == LM_TABLE_LATENCY ? lat_keys
                                                               : imp_keys);
    for (int i = 0; st == LM_OK && i < LM_TABLE_N_TEXT; i++) {
        const lm_ynode *n = lm_ymap_get(prov, text_keys[i]);
        const char *s;
        if (n && (st = lm_yget_string(doc, n, text_keys[i], &s)) == LM_OK)
            st = lm_table_set_text(ld->t, (lm_table_text_field)(i + 1), s);
    }
    for (int i = 0; st == LM_OK && i < LM_TABLE_N_INT; i++) {
        const lm_ynode *n = lm_ymap_get(prov, int_keys[i]);
        int64_t v;
        if (n && (st = lm_yget_int(doc, n, int_keys[i], &v)) == LM_OK &&
            v < 0)
            st = lm_yerr(doc, n, LM_ERR_VALUE, "%s %" PRId64 " is negative",
                         int_keys[i], v);
        if (n && st == LM_OK)
            st = lm_table_set_int(ld->t, (lm_table_int_field)(i + 1), v);
    }
    const lm_ynode *shard = lm_ymap_get(prov, "shard");
    if (st == LM_OK && shard)
        st = read_shard(ld, shard);
    return st;
}

static lm_status read_size(const lm_ydoc *doc, const lm_ynode *rec,
                           const char *key, size_t *out)
{
    int64_t v;
    const lm_ynode *n = lm_ymap_get(rec, key);
    lm_status st = lm_yget_int(doc, n, key, &v);
    if (st == LM_OK && v < 0)
        st = lm_yerr(doc, n, LM_ERR_VALUE, "%s %" PRId64 " is negative", key,
                     v);
    if (st == LM_OK)
        *out = (size_t)v;
    return st;
}

static lm_status read_key(const lm_ydoc *doc, const lm_ynode *rec,
                          lm_tkey *key)
{
    int dw;
    lm_status st = read_size(doc, rec, "st", &key->st);
    if (st == LM_OK)
        st = read_size(doc, rec, "end", &key->end);
    if (st == LM_OK)
        st = lm_yget_int(doc, lm_ymap_get(rec, "ker"), "ker", &key->kernel);
    if (st == LM_OK)
        st = lm_yget_int(doc, lm_ymap_get(rec, "str"), "str", &key->stride);
    if (st == LM_OK)
        st = lm_yget_bool(doc, lm_ymap_get(rec, "dw"), "dw", &dw);
    if (st != LM_OK)
        return st;
    key->dw = dw;
    if (lm_tkey_check(key) != LM_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", lm_last_error());
        return lm_yerr(doc, rec, LM_ERR_VALUE, "%s", msg);
    }
    return LM_OK;
}

static lm_status read_id(const loader *ld, const lm_ynode *rec, int64_t *id)
{
    const lm_ynode *n = lm_ymap_get(rec, "id");
    *id = -1;
    if (!n)
        return LM_OK;
    lm_status st = lm_yget_int(ld->doc, n, "id", id);
    if (st == LM_OK && *id < 0)
        return lm_yerr(ld->doc, n, LM_ERR_VALUE, "id %" PRId64 " is negative",
                       *id);
    const lm_table *t = ld->t;
    if (st == LM_OK && t->has_shard &&
        ((size_t)*id < t->shard_lo || (size_t)*id >= t->shard_hi))
        return lm_yerr(ld->doc, n, LM_ERR_VALUE, "entry %" PRId64 " is outside "
                       "the shard range [%zu, %zu)", *id, t->shard_lo,
                       t->shard_hi);
    return st;
}

static lm_status read_values(const loader *ld, const lm_ynode *rec,
                             double *value, double *extra, const char **note)
{
    int lat = ld->kind == LM_TABLE_LATENCY;
    const char *vk = lat ? "ms" : "value", *xk = lat ? "stdev" : "raw";
    const char *nk = lat ? "breaks" : "comb";
    lm_status st = lm_yget_double(ld->doc, lm_ymap_get(rec, vk), vk, value);
    if (st == LM_OK)
        st = lm_yget_double(ld->doc, lm_ymap_get(rec, xk), xk, extra);
    *note = NULL;
    const lm_ynode *n = lm_ymap_get(rec, nk);
    if (st == LM_OK && n)
        st = lm_yget_string(ld->doc, n, nk, note);
    return st;
}

/* A latency record's pass medians and noisy flag (both optional). */
static lm_status read_passes(const loader *ld, const lm_ynode *rec,
                             size_t index)
{
    const lm_ydoc *doc = ld->doc;
    const lm_ynode *seq = lm_ymap_get(rec, "passes");
    const lm_ynode *flag = lm_ymap_get(rec, "noisy");
    int noisy = 0;
    lm_status st = flag ? lm_yget_bool(doc, flag, "noisy", &noisy) : LM_OK;
    if (st != LM_OK || (!seq && !noisy))
        return st;
    if (!seq)
        return lm_yerr(doc, flag, LM_ERR_PARSE, "noisy without passes");
    if ((st = lm_yexpect(doc, seq, LM_YNODE_SEQUENCE, "passes")) != LM_OK)
        return st;
    double *ms = malloc((seq->count ? seq->count : 1) * sizeof *ms);
    if (!ms)
        return lm_err_nomem();
    for (size_t i = 0; st == LM_OK && i < seq->count; i++) {
        st = lm_yget_double(doc, seq->items[i], "pass", &ms[i]);
        if (st == LM_OK && !(ms[i] >= 0.0 && ms[i] < 1e300))
            st = lm_yerr(doc, seq->items[i], LM_ERR_VALUE, "pass %g ms is "
                         "not a finite number >= 0", ms[i]);
    }
    if (st == LM_OK)
        st = lm_table_set_passes(ld->t, index, ms, seq->count, noisy);
    free(ms);
    return st;
}

/* The kept-conv subset a record was measured with (optional). */
static lm_status read_convs(const loader *ld, const lm_ynode *rec,
                            size_t index)
{
    const lm_ydoc *doc = ld->doc;
    const lm_ynode *seq = lm_ymap_get(rec, "convs");
    if (!seq)
        return LM_OK;
    lm_status st = lm_yexpect(doc, seq, LM_YNODE_SEQUENCE, "convs");
    if (st != LM_OK)
        return st;
    size_t *convs = malloc((seq->count ? seq->count : 1) * sizeof *convs);
    if (!convs)
        return lm_err_nomem();
    for (size_t i = 0; st == LM_OK && i < seq->count; i++) {
        int64_t v;
        st = lm_yget_int(doc, seq->items[i], "conv", &v);
        if (st == LM_OK && v < 1)
            st = lm_yerr(doc, seq->items[i], LM_ERR_VALUE, "conv %lld is not "
                         "a trunk conv (1..N)", (long long)v);
        convs[i] = (size_t)v;
    }
    if (st == LM_OK && lm_table_set_convs(ld->t, index, convs, seq->count) !=
                           LM_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", lm_last_error());
        st = lm_yerr(doc, seq, LM_ERR_VALUE, "%s", msg);
    }
    free(convs);
    return st;
}

/* The whole-network model of a latency table (version 2, optional). */
static lm_status read_stage(const lm_ydoc *doc, const lm_ynode *n,
                            lm_tstage *s)
{
    static const char *const keys[] = {"st", "end", "alone_ms",
                                       "in_network_ms", NULL};
    lm_status st = lm_ycheck_keys(doc, n, "stage", keys);
    if (st == LM_OK)
        st = read_size(doc, n, "st", &s->st);
    if (st == LM_OK)
        st = read_size(doc, n, "end", &s->end);
    if (st == LM_OK)
        st = lm_yget_double(doc, lm_ymap_get(n, "alone_ms"), "alone_ms",
                            &s->alone_ms);
    if (st == LM_OK)
        st = lm_yget_double(doc, lm_ymap_get(n, "in_network_ms"),
                            "in_network_ms", &s->in_network_ms);
    if (st == LM_OK && (s->st >= s->end || !(s->alone_ms >= 0.0) ||
                        !(s->in_network_ms >= 0.0)))
        st = lm_yerr(doc, n, LM_ERR_VALUE, "stage (%zu, %zu): bounds or "
                     "times out of range", s->st, s->end);
    return st;
}

static lm_status read_network(const loader *ld, const lm_ynode *net)
{
    static const char *const keys[] = {"fixed_ms", "fixed_stdev",
                                       "measured_ms", "stages", NULL};
    const lm_ydoc *doc = ld->doc;
    lm_table *t = ld->t;
    lm_status st = lm_ycheck_keys(doc, net, "network", keys);
    const char *const dkeys[] = {"fixed_ms", "fixed_stdev", "measured_ms"};
    double *dst[] = {&t->fixed_ms, &t->fixed_stdev, &t->measured_ms};
    for (int i = 0; st == LM_OK && i < 3; i++) {
        const lm_ynode *n = lm_ymap_get(net, dkeys[i]);
        if (n && (st = lm_yget_double(doc, n, dkeys[i], dst[i])) == LM_OK &&
            !(*dst[i] >= 0.0 && *dst[i] < 1e300))
            st = lm_yerr(doc, n, LM_ERR_VALUE, "%s %g is not a finite number "
                         ">= 0", dkeys[i], *dst[i]);
    }
    const lm_ynode *seq = lm_ymap_get(net, "stages");
    if (st != LM_OK || !seq)
        return st;
    if ((st = lm_yexpect(doc, seq, LM_YNODE_SEQUENCE, "stages")) != LM_OK)
        return st;
    lm_tstage *s = calloc(seq->count ? seq->count : 1, sizeof *s);
    if (!s)
        return lm_err_nomem();
    for (size_t i = 0; st == LM_OK && i < seq->count; i++)
        st = read_stage(doc, seq->items[i], &s[i]);
    if (st == LM_OK)
        st = lm_table_set_stages(t, s, seq->count);
    free(s);
    return st;
}

static lm_status remember_line(loader *ld, size_t index, size_t line)
{
    if (LM_GROW(ld->lines, ld->cap, index + 1) != LM_OK)
        return lm_err_nomem();
    ld->lines[index] = line;
    return LM_OK;
}

/* Every key a record must have, checked first so that a missing one is
 * named with the record's place and index rather than as a bare "missing
 * ms". */
static lm_status require_keys(const loader *ld, const lm_ynode *rec,
                              size_t index)
{
    static const char *const lat[] = {"st", "end", "ker", "str", "dw", "ms",
                                      "stdev", NULL};
    static const char *const imp[] = {"st", "end", "ker", "str", "dw",
                                      "value", "raw", NULL};
    lm_status st = lm_yexpect(ld->doc, rec, LM_YNODE_MAPPING, "record");
    for (const char *const *k = ld->kind == LM_TABLE_LATENCY ? lat : imp;
         st == LM_OK && *k; k++)
        if (!lm_ymap_get(rec, *k))
            st = lm_yerr(ld->doc, rec, LM_ERR_PARSE, "record %zu: missing "
                         "key '%s'", index, *k);
    return st;
}

static lm_status read_record(loader *ld, const lm_ynode *rec, size_t at)
{
    static const char *const lat_keys[] = {"id", "st", "end", "ker", "str",
        "dw", "ms", "stdev", "breaks", "passes", "noisy", "convs", NULL};
    static const char *const imp_keys[] = {"id", "st", "end", "ker", "str",
        "dw", "raw", "value", "comb", "convs", NULL};
    const lm_ydoc *doc = ld->doc;
    lm_tkey key;
    int64_t id;
    double value, extra;
    const char *note;
    char kb[LM_TABLE_KEYBUF];
    lm_status st = lm_ycheck_keys(doc, rec, "record",
                                  ld->kind == LM_TABLE_LATENCY ? lat_keys
                                                               : imp_keys);
    if (st == LM_OK)
        st = require_keys(ld, rec, at);
    if (st == LM_OK)
        st = read_key(doc, rec, &key);
    if (st == LM_OK)
        st = read_id(ld, rec, &id);
    if (st == LM_OK)
        st = read_values(ld, rec, &value, &extra, &note);
    if (st != LM_OK)
        return st;
    long prev = lm_table_find(ld->t, &key);
    if (prev >= 0)
        return lm_yerr(doc, rec, LM_ERR_DUPLICATE, "key %s appears twice: "
                       "here and at line %zu", lm_tkey_str(kb, &key),
                       ld->lines[prev]);
    if (lm_table_check_values(ld->t, &key, id, value, extra) != LM_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", lm_last_error());
        return lm_yerr(doc, rec, LM_ERR_VALUE, "%s", msg);
    }
    size_t index;
    st = lm_table_put(ld->t, &key, id, value, extra, note, &index);
    if (st == LM_OK)
        st = remember_line(ld, index, rec->line);
    if (st == LM_OK && ld->kind == LM_TABLE_LATENCY)
        st = read_passes(ld, rec, index);
    if (st == LM_OK)
        st = read_convs(ld, rec, index);
    return st;
}

static lm_status read_records(loader *ld, const lm_ynode *recs)
{
    lm_status st = lm_yexpect(ld->doc, recs, LM_YNODE_SEQUENCE, "records");
    for (size_t i = 0; st == LM_OK && i < recs->count; i++)
        st = read_record(ld, recs->items[i], i);
    return st;
}

/* *kind 0 accepts either kind and sets it from the format key. */
static lm_status read_header(const lm_ydoc *doc, lm_table_kind *kind,
                             const char **fingerprint)
{
    static const char *const keys[] = {"format", "version", "graph", "network",
                                       "provenance", "records", NULL};
    const char *format;
    int64_t version;
    lm_status st = lm_ycheck_keys(doc, doc->root, "table file", keys);
    if (st == LM_OK)
        st = lm_yget_string(doc, lm_ymap_get(doc->root, "format"), "format",
                            &format);
    if (st == LM_OK && !*kind) {
        if (!strcmp(format, format_name(LM_TABLE_LATENCY)))
            *kind = LM_TABLE_LATENCY;
        else if (!strcmp(format, format_name(LM_TABLE_IMPORTANCE)))
            *kind = LM_TABLE_IMPORTANCE;
        else
            st = lm_yerr(doc, lm_ymap_get(doc->root, "format"), LM_ERR_PARSE,
                         "format '%s' is not a table (layermerge-latency or "
                         "layermerge-importance)", format);
    } else if (st == LM_OK && strcmp(format, format_name(*kind)))
        st = lm_yerr(doc, lm_ymap_get(doc->root, "format"), LM_ERR_PARSE,
                     "format '%s': expected '%s'", format, format_name(*kind));
    if (st == LM_OK)
        st = lm_yget_int(doc, lm_ymap_get(doc->root, "version"), "version",
                         &version);
    if (st == LM_OK && (version < 1 || version > LM_TABLE_FILE_VERSION))
        st = lm_yerr(doc, lm_ymap_get(doc->root, "version"),
                     LM_ERR_UNSUPPORTED, "version %" PRId64 " is not "
                     "supported (this library reads version %d)", version,
                     LM_TABLE_FILE_VERSION);
    if (st == LM_OK)
        st = lm_yget_string(doc, lm_ymap_get(doc->root, "graph"), "graph",
                            fingerprint);
    return st;
}

static lm_status read_doc(const lm_ydoc *doc, lm_table_kind kind,
                          lm_table **out)
{
    const char *fingerprint;
    lm_importance_metric metric = LM_METRIC_ACCURACY;
    const lm_ynode *prov = lm_ymap_get(doc->root, "provenance");
    lm_status st = read_header(doc, &kind, &fingerprint);
    if (st == LM_OK && kind == LM_TABLE_IMPORTANCE)
        st = prov ? read_metric(doc, prov, &metric)
                  : lm_yerr(doc, doc->root, LM_ERR_PARSE, "missing provenance "
                            "(an importance table needs its metric)");
    loader ld = {.doc = doc, .kind = kind};
    if (st == LM_OK)
        st = lm_table_new(&ld.t, kind, fingerprint, metric);
    if (st == LM_OK && prov)
        st = read_provenance(&ld, prov);
    if (st == LM_OK)
        st = read_records(&ld, lm_ymap_get(doc->root, "records"));
    const lm_ynode *net = lm_ymap_get(doc->root, "network");
    if (st == LM_OK && net && kind != LM_TABLE_LATENCY)
        st = lm_yerr(doc, net, LM_ERR_PARSE, "an importance table has no "
                     "network section");
    if (st == LM_OK && net)
        st = read_network(&ld, net);
    free(ld.lines);
    if (st != LM_OK) {
        lm_table_free(ld.t);
        return st;
    }
    *out = ld.t;
    return LM_OK;
}

lm_status lm_table_load_kind(lm_table **out, const char *path,
                             lm_table_kind kind)
{
    if (!out || !path)
        return lm_err(LM_ERR_INVALID_ARG, "table load: NULL argument");
    if (kind && kind != LM_TABLE_LATENCY && kind != LM_TABLE_IMPORTANCE)
        return lm_err(LM_ERR_INVALID_ARG, "table load: unknown kind %d",
                      (int)kind);
    *out = NULL;
    lm_ydoc doc;
    lm_status st = lm_ydoc_load_file(&doc, path);
    if (st != LM_OK)
        return st;
    st = read_doc(&doc, kind, out);
    lm_ydoc_free(&doc);
    return st;
}

lm_status lm_table_load(lm_table **out, const char *path)
{
    return lm_table_load_kind(out, path, 0);
}

/* ---- saving ------------------------------------------------------------ */

static lm_status emit_shard(lm_yemit *e, const lm_table *t)
{
    lm_status st = lm_yemit_key(e, "shard");
    if (st == LM_OK)
        st = lm_yemit_map_begin(e, 1);
    if (st == LM_OK)
        st = lm_yemit_kv_int(e, "lo", (int64_t)t->shard_lo);
    if (st == LM_OK)
        st = lm_yemit_kv_int(e, "hi", (int64_t)t->shard_hi);
    return st == LM_OK ? lm_yemit_map_end(e) : st;
}

static lm_status emit_provenance(lm_yemit *e, const lm_table *t)
{
    int imp = t->kind == LM_TABLE_IMPORTANCE;
    lm_status st = lm_yemit_key(e, "provenance");
    if (st == LM_OK)
        st = lm_yemit_map_begin(e, 0);
    if (st == LM_OK && imp)
        st = lm_yemit_kv_str(e, "metric",
                             lm_importance_metric_name(t->metric));
    /* finetune is the last text key and belongs to importance only. */
    for (int i = 0; st == LM_OK && i < LM_TABLE_N_TEXT - !imp; i++)
        st = lm_yemit_kv_str(e, text_keys[i], t->text[i] ? t->text[i] : "");
    for (int i = 0; st == LM_OK && i < LM_TABLE_N_INT; i++)
        st = lm_yemit_kv_int(e, int_keys[i], t->ints[i]);
    if (st == LM_OK && t->has_shard)
        st = emit_shard(e, t);
    return st == LM_OK ? lm_yemit_map_end(e) : st;
}

static lm_status emit_record(lm_yemit *e, const void *obj, size_t i)
{
    const lm_table *t = obj;
    const lm_trec *r = &t->recs[i];
    int lat = t->kind == LM_TABLE_LATENCY;
    /* A NaN must never reach a file, even from a corrupted table. */
    lm_status st = lm_table_check_values(t, &r->key, r->id, r->value,
                                         r->extra);
    if (st == LM_OK)
        st = lm_yemit_map_begin(e, 1);
    if (st == LM_OK && r->id >= 0)
        st = lm_yemit_kv_int(e, "id", r->id);
    if (st == LM_OK)
        st = lm_yemit_kv_int(e, "st", (int64_t)r->key.st);
    if (st == LM_OK)
        st = lm_yemit_kv_int(e, "end", (int64_t)r->key.end);
    if (st == LM_OK)
        st = lm_yemit_kv_int(e, "ker", r->key.kernel);
    if (st == LM_OK)
        st = lm_yemit_kv_int(e, "str", r->key.stride);
    if (st == LM_OK)
        st = lm_yemit_kv_bool(e, "dw", r->key.dw);
    if (st == LM_OK)
        st = lm_yemit_kv_double(e, lat ? "ms" : "value", r->value);
    if (st == LM_OK)
        st = lm_yemit_kv_double(e, lat ? "stdev" : "raw", r->extra);
    if (st == LM_OK && r->note)
        st = lm_yemit_kv_str(e, lat ? "breaks" : "comb", r->note);
    if (st == LM_OK && r->n_passes) {
        st = lm_yemit_key(e, "passes");
        if (st == LM_OK)
            st = lm_yemit_seq_begin(e, 1);
        for (size_t k = 0; st == LM_OK && k < r->n_passes; k++)
            st = lm_yemit_double(e, r->passes[k]);
        if (st == LM_OK)
            st = lm_yemit_seq_end(e);
    }
    if (st == LM_OK && r->noisy)
        st = lm_yemit_kv_bool(e, "noisy", 1);
    if (st == LM_OK && r->has_convs)
        st = lm_yemit_kv_sizes(e, "convs", r->convs, r->n_convs);
    return st == LM_OK ? lm_yemit_map_end(e) : st;
}

static lm_status emit_stage(lm_yemit *e, const void *obj, size_t i)
{
    const lm_tstage *s = &((const lm_table *)obj)->stages[i];
    lm_status st = lm_yemit_map_begin(e, 1);
    if (st == LM_OK) st = lm_yemit_kv_int(e, "st", (int64_t)s->st);
    if (st == LM_OK) st = lm_yemit_kv_int(e, "end", (int64_t)s->end);
    if (st == LM_OK) st = lm_yemit_kv_double(e, "alone_ms", s->alone_ms);
    if (st == LM_OK)
        st = lm_yemit_kv_double(e, "in_network_ms", s->in_network_ms);
    return st == LM_OK ? lm_yemit_map_end(e) : st;
}

static lm_status emit_network(lm_yemit *e, const lm_table *t)
{
    lm_status st = lm_yemit_key(e, "network");
    if (st == LM_OK) st = lm_yemit_map_begin(e, 0);
    if (st == LM_OK) st = lm_yemit_kv_double(e, "fixed_ms", t->fixed_ms);
    if (st == LM_OK)
        st = lm_yemit_kv_double(e, "fixed_stdev", t->fixed_stdev);
    if (st == LM_OK)
        st = lm_yemit_kv_double(e, "measured_ms", t->measured_ms);
    if (st == LM_OK && t->n_stages)
        st = lm_yemit_kv_seq(e, "stages", 0, t->n_stages, emit_stage, t);
    return st == LM_OK ? lm_yemit_map_end(e) : st;
}

static lm_status emit_table(lm_yemit *e, const void *obj)
{
    const lm_table *t = obj;
    lm_status st = lm_yemit_map_begin(e, 0);
    if (st == LM_OK)
        st = lm_yemit_kv_str(e, "format", format_name(t->kind));
    if (st == LM_OK)
        st = lm_yemit_kv_int(e, "version", LM_TABLE_FILE_VERSION);
    if (st == LM_OK)
        st = lm_yemit_kv_str(e, "graph", t->fingerprint);
    if (st == LM_OK)
        st = emit_provenance(e, t);
    if (st == LM_OK && t->kind == LM_TABLE_LATENCY &&
        (t->fixed_ms > 0.0 || t->measured_ms > 0.0 || t->n_stages))
        st = emit_network(e, t);
    if (st == LM_OK)
        st = lm_yemit_kv_seq(e, "records", 0, t->n, emit_record, t);
    return st == LM_OK ? lm_yemit_map_end(e) : st;
}

lm_status lm_table_save(const lm_table *t, const char *path)
{
    if (!t || !path)
        return lm_err(LM_ERR_INVALID_ARG, "table save: NULL argument");
    return lm_yemit_save(path, emit_table, t, "table");
}
