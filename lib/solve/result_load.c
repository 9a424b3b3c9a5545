/* Reading a result written by lm_result_save; every error names
 * file:line:col. The position lists are checked against the segments so a
 * hand-edited file cannot say two things at once. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/yaml_doc.h"
#include "solve/result_internal.h"

typedef struct loader {
    const lm_ydoc *doc;
    const lm_ynode *root;
    lm_result *r;
} loader;

static lm_status need(const loader *ld, const char *key, lm_ynode **out)
{
    *out = lm_ymap_get(ld->root, key);
    if (!*out)
        return lm_yerr(ld->doc, ld->root, LM_ERR_PARSE, "result: missing "
                       "key '%s'", key);
    return LM_OK;
}

static lm_status get_int(const loader *ld, const char *key, int64_t *v)
{
    lm_ynode *n = NULL;
    lm_status st = need(ld, key, &n);
    return st != LM_OK ? st : lm_yget_int(ld->doc, n, key, v);
}

static lm_status get_dbl(const loader *ld, const char *key, double *v)
{
    lm_ynode *n = NULL;
    lm_status st = need(ld, key, &n);
    return st != LM_OK ? st : lm_yget_double(ld->doc, n, key, v);
}

static lm_status get_str(const loader *ld, const char *key, const char **v)
{
    lm_ynode *n = NULL;
    lm_status st = need(ld, key, &n);
    return st != LM_OK ? st : lm_yget_string(ld->doc, n, key, v);
}

static lm_status check_format(const loader *ld)
{
    static const char *const keys[] = {
        "format", "version", "method", "fingerprint", "conv_count", "budget",
        "budget_units", "precision", "rounding", "importance", "latency",
        "fixed_latency", "latency_discrete", "activations", "convs", "merges", "segments",
        NULL};
    lm_status st = lm_yexpect(ld->doc, ld->root, LM_YNODE_MAPPING, "result");
    if (st == LM_OK)
        st = lm_ycheck_keys(ld->doc, ld->root, "result", keys);
    const char *fmt = NULL;
    int64_t version = 0;
    if (st == LM_OK) st = get_str(ld, "format", &fmt);
    if (st == LM_OK && strcmp(fmt, "layermerge-result") != 0)
        return lm_yerr(ld->doc, lm_ymap_get(ld->root, "format"), LM_ERR_PARSE,
                       "format '%s' is not layermerge-result", fmt);
    if (st == LM_OK) st = get_int(ld, "version", &version);
    if (st == LM_OK && version != 1)
        return lm_yerr(ld->doc, lm_ymap_get(ld->root, "version"),
                       LM_ERR_UNSUPPORTED, "result version %lld (this "
                       "library reads 1)", (long long)version);
    return st;
}

static lm_status read_method(const loader *ld, lm_method *m, lm_rounding *rd)
{
    const char *s = NULL;
    lm_status st = get_str(ld, "method", &s);
    if (st == LM_OK && lm_method_from_name(m, s) != LM_OK)
        return lm_yerr(ld->doc, lm_ymap_get(ld->root, "method"), LM_ERR_PARSE,
                       "unknown method '%s'", s);
    if (st == LM_OK) st = get_str(ld, "rounding", &s);
    if (st != LM_OK)
        return st;
    if (strcmp(s, "ceil") && strcmp(s, "floor"))
        return lm_yerr(ld->doc, lm_ymap_get(ld->root, "rounding"),
                       LM_ERR_PARSE, "rounding '%s' is not ceil or floor", s);
    *rd = strcmp(s, "floor") ? LM_ROUNDING_CEIL : LM_ROUNDING_FLOOR;
    return LM_OK;
}

/* What a solver writes: finite numbers, latencies and budgets >= 0, a
 * precision > 0, unit counts >= 0. */
static lm_status check_number(const loader *ld, const char *key, double v,
                              int positive)
{
    if (isfinite(v) && (positive ? v > 0.0 : v >= 0.0))
        return LM_OK;
    return lm_yerr(ld->doc, lm_ymap_get(ld->root, key), LM_ERR_VALUE,
                   "%s %g is not a finite number %s", key, v,
                   positive ? "> 0" : ">= 0");
}

static lm_status check_units(const loader *ld, const char *key, int64_t v)
{
    if (v >= 0)
        return LM_OK;
    return lm_yerr(ld->doc, lm_ymap_get(ld->root, key), LM_ERR_VALUE,
                   "%s %lld is negative", key, (long long)v);
}

static lm_status read_numbers(const loader *ld, lm_result *r)
{
    lm_status st = get_dbl(ld, "budget", &r->budget);
    if (st == LM_OK) st = check_number(ld, "budget", r->budget, 0);
    if (st == LM_OK) st = get_int(ld, "budget_units", &r->budget_units);
    if (st == LM_OK) st = check_units(ld, "budget_units", r->budget_units);
    if (st == LM_OK) st = get_dbl(ld, "precision", &r->precision);
    if (st == LM_OK) st = check_number(ld, "precision", r->precision, 1);
    if (st == LM_OK) st = get_dbl(ld, "importance", &r->importance);
    if (st == LM_OK && !isfinite(r->importance))
        st = lm_yerr(ld->doc, lm_ymap_get(ld->root, "importance"),
                     LM_ERR_VALUE, "importance %g is not finite",
                     r->importance);
    if (st == LM_OK) st = get_dbl(ld, "latency", &r->latency);
    if (st == LM_OK) st = check_number(ld, "latency", r->latency, 0);
    if (st == LM_OK) st = get_int(ld, "latency_discrete", &r->units);
    if (st == LM_OK) st = check_units(ld, "latency_discrete", r->units);
    /* Optional: results saved before the whole-network model have none. */
    const lm_ynode *fixed = lm_ymap_get(ld->root, "fixed_latency");
    if (st == LM_OK && fixed)
        st = lm_yget_double(ld->doc, fixed, "fixed_latency", &r->fixed);
    if (st == LM_OK && !(r->fixed >= 0.0 && r->fixed <= r->latency))
        st = lm_yerr(ld->doc, fixed, LM_ERR_VALUE, "fixed_latency %g is "
                     "negative or above the latency %g", r->fixed,
                     r->latency);
    return st;
}

/* An integer in lo..hi from a sequence item. */
static lm_status get_index(const loader *ld, const lm_ynode *n,
                           const char *what, int64_t lo, int64_t hi,
                           size_t *out)
{
    int64_t v = 0;
    lm_status st = lm_yget_int(ld->doc, n, what, &v);
    if (st == LM_OK && (v < lo || v > hi))
        return lm_yerr(ld->doc, n, LM_ERR_PARSE, "%s %lld out of range "
                       "%lld..%lld", what, (long long)v, (long long)lo,
                       (long long)hi);
    *out = (size_t)v;
    return st;
}

static lm_status read_kept(const loader *ld, const lm_ynode *seq,
                           lm_rseg *g)
{
    lm_status st = lm_yexpect(ld->doc, seq, LM_YNODE_SEQUENCE, "convs");
    if (st != LM_OK || seq->count == 0)
        return st;
    g->kept = calloc(seq->count, sizeof *g->kept);
    if (!g->kept)
        return lm_err_nomem();
    for (size_t k = 0; k < seq->count && st == LM_OK; k++) {
        st = get_index(ld, seq->items[k], "kept conv", (int64_t)g->st + 1,
                       (int64_t)g->end, &g->kept[k]);
        if (st == LM_OK && k > 0 && g->kept[k] <= g->kept[k - 1])
            st = lm_yerr(ld->doc, seq->items[k], LM_ERR_PARSE, "kept conv "
                         "%zu after %zu: the list must be ascending without "
                         "repeats", g->kept[k], g->kept[k - 1]);
        g->n_kept += st == LM_OK;
    }
    return st;
}

static lm_status seg_field(const loader *ld, const lm_ynode *m,
                           const char *key, int64_t *v)
{
    const lm_ynode *n = lm_ymap_get(m, key);
    if (!n)
        return lm_yerr(ld->doc, m, LM_ERR_PARSE, "segment: missing key "
                       "'%s'", key);
    return lm_yget_int(ld->doc, n, key, v);
}

/* What can be checked of a segment's merged conv without the graph: an
 * identity segment (no kept conv) has kernel 0, a merged one a kernel and
 * stride >= 1, or -1 for both where a kim23 result was solved without a
 * graph (and then no entry); a kim23 result keeps every conv of its
 * segments and a pruning result has one position per segment.
 * lm_plan_create_for_result checks the rest against the graph. */
static lm_status check_shape(const loader *ld, const lm_ynode *m,
                             const lm_rseg *g)
{
    const char *why = NULL;
    int unknown = g->kernel == -1 && g->stride == -1;
    if (g->n_kept == 0 && g->kernel != 0)
        why = "keeps no conv, so its kernel must be 0 (identity)";
    else if (g->n_kept > 0 && g->kernel == 0)
        why = "keeps convs but has kernel 0 (identity)";
    else if (g->n_kept > 0 && !unknown && (g->kernel < 1 || g->stride < 1))
        why = "has a kernel or stride below 1";
    else if (unknown && g->entry != SIZE_MAX)
        why = "has an entry but an unknown (-1) kernel";
    else if (ld->r->method == LM_METHOD_KIM23 && g->n_kept != g->end - g->st)
        why = "does not keep every conv, as kim23 segments do";
    else if (ld->r->method == LM_METHOD_PRUNE && g->end - g->st != 1)
        why = "spans several positions, which a pruning result never does";
    if (!why)
        return LM_OK;
    return lm_yerr(ld->doc, m, LM_ERR_VALUE, "segment (%zu, %zu) with kernel "
                   "%lld, stride %lld and %zu kept convs %s", g->st, g->end,
                   (long long)g->kernel, (long long)g->stride, g->n_kept, why);
}

static lm_status read_segment(const loader *ld, const lm_ynode *m,
                              lm_rseg *g)
{
    static const char *const keys[] = {"st", "end", "entry", "ker", "str",
                                       "is_dw", "latency", "importance",
                                       "convs", NULL};
    lm_status st = lm_yexpect(ld->doc, m, LM_YNODE_MAPPING, "segment");
    if (st == LM_OK) st = lm_ycheck_keys(ld->doc, m, "segment", keys);
    int64_t v[5] = {0, 0, 0, 0, 0};
    static const char *const ints[] = {"st", "end", "ker", "str", "is_dw"};
    for (int i = 0; i < 5 && st == LM_OK; i++)
        st = seg_field(ld, m, ints[i], &v[i]);
    const lm_ynode *n = lm_ymap_get(m, "entry");
    int64_t entry = -1;
    if (st == LM_OK && n)
        st = lm_yget_int(ld->doc, n, "entry", &entry);
    if (st != LM_OK)
        return st;
    if (v[0] < 0 || v[1] <= v[0] || v[1] > (int64_t)ld->r->n_convs ||
        (v[4] != 0 && v[4] != 1) || entry < -1)
        return lm_yerr(ld->doc, m, LM_ERR_PARSE, "segment (%lld, %lld): "
                       "positions, is_dw or entry out of range",
                       (long long)v[0], (long long)v[1]);
    *g = (lm_rseg){(size_t)v[0], (size_t)v[1],
                   entry < 0 ? SIZE_MAX : (size_t)entry, v[2], v[3],
                   (int32_t)v[4], 0, 0.0, 0.0, 0, NULL};
    const lm_ynode *lat = lm_ymap_get(m, "latency");
    const lm_ynode *imp = lm_ymap_get(m, "importance");
    const lm_ynode *kept = lm_ymap_get(m, "convs");
    if (!lat || !imp || !kept)
        return lm_yerr(ld->doc, m, LM_ERR_PARSE, "segment: missing latency, "
                       "importance or convs");
    st = lm_yget_double(ld->doc, lat, "latency", &g->latency);
    if (st == LM_OK && !(isfinite(g->latency) && g->latency >= 0.0))
        st = lm_yerr(ld->doc, lat, LM_ERR_VALUE, "segment (%zu, %zu): "
                     "latency %g is not a finite number >= 0", g->st, g->end,
                     g->latency);
    if (st == LM_OK) st = lm_yget_double(ld->doc, imp, "importance",
                                         &g->importance);
    if (st == LM_OK && !isfinite(g->importance))
        st = lm_yerr(ld->doc, imp, LM_ERR_VALUE, "segment (%zu, %zu): "
                     "importance %g is not finite", g->st, g->end,
                     g->importance);
    if (st == LM_OK) st = read_kept(ld, kept, g);
    g->identity = g->n_kept == 0;
    return st == LM_OK ? check_shape(ld, m, g) : st;
}

static lm_status read_segments(const loader *ld, lm_result *r)
{
    lm_ynode *seq = NULL;
    lm_status st = need(ld, "segments", &seq);
    if (st == LM_OK)
        st = lm_yexpect(ld->doc, seq, LM_YNODE_SEQUENCE, "segments");
    if (st != LM_OK)
        return st;
    r->segs = calloc(seq->count ? seq->count : 1, sizeof *r->segs);
    if (!r->segs)
        return lm_err_nomem();
    for (size_t i = 0; i < seq->count && st == LM_OK; i++) {
        st = read_segment(ld, seq->items[i], &r->segs[i]);
        r->n_segs++;
    }
    if (st == LM_OK && lm_result_check_partition(r) != LM_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", lm_last_error());
        return lm_yerr(ld->doc, seq, LM_ERR_PARSE, "segments: %s", why);
    }
    return st;
}

/* A position list must agree with what the segments imply, except the
 * activations, which only the list holds. */
static lm_status read_positions(const loader *ld, lm_result *r,
                                const char *key, uint8_t f)
{
    lm_ynode *seq = NULL;
    lm_status st = need(ld, key, &seq);
    if (st == LM_OK)
        st = lm_yexpect(ld->doc, seq, LM_YNODE_SEQUENCE, key);
    uint8_t *seen = calloc(r->n_convs + 1, 1);
    if (st == LM_OK && !seen)
        st = lm_err_nomem();
    for (size_t k = 0; st == LM_OK && k < seq->count; k++) {
        size_t p = 0;
        st = get_index(ld, seq->items[k], key, 1, (int64_t)r->n_convs, &p);
        if (st == LM_OK)
            seen[p] = 1;
    }
    for (size_t p = 1; st == LM_OK && p <= r->n_convs; p++) {
        if (f == LM_RF_ACT)
            r->flags[p] |= seen[p] ? LM_RF_ACT : 0;
        else if (!seen[p] != !(r->flags[p] & f))
            st = lm_yerr(ld->doc, seq, LM_ERR_PARSE, "%s: position %zu %s "
                         "but the segments say otherwise", key, p,
                         seen[p] ? "is listed" : "is missing");
    }
    free(seen);
    return st;
}

static lm_status read_result(loader *ld)
{
    lm_status st = check_format(ld);
    lm_method method = LM_METHOD_LAYERMERGE;
    lm_rounding rd = LM_ROUNDING_CEIL;
    int64_t n = 0;
    const char *fp = NULL;
    if (st == LM_OK) st = read_method(ld, &method, &rd);
    if (st == LM_OK) st = get_str(ld, "fingerprint", &fp);
    if (st == LM_OK) st = get_int(ld, "conv_count", &n);
    if (st == LM_OK && (n < 1 || n > (1 << 24)))
        return lm_yerr(ld->doc, lm_ymap_get(ld->root, "conv_count"),
                       LM_ERR_PARSE, "conv_count %lld out of range",
                       (long long)n);
    if (st == LM_OK) st = lm_result_new(&ld->r, method, (size_t)n, 0, fp);
    if (st != LM_OK)
        return st;
    lm_result *r = ld->r;
    free(r->segs);
    r->segs = NULL;
    r->rounding = rd;
    st = read_numbers(ld, r);
    if (st == LM_OK) st = read_segments(ld, r);
    if (st == LM_OK) lm_result_mark_segments(r);
    if (st == LM_OK) st = read_positions(ld, r, "convs", LM_RF_CONV);
    if (st == LM_OK) st = read_positions(ld, r, "merges", LM_RF_BOUNDARY);
    if (st == LM_OK) st = read_positions(ld, r, "activations", LM_RF_ACT);
    return st;
}

lm_status lm_result_load(lm_result **out, const char *path)
{
    if (!out || !path)
        return lm_err(LM_ERR_INVALID_ARG, "lm_result_load: NULL argument");
    *out = NULL;
    lm_ydoc doc;
    lm_status st = lm_ydoc_load_file(&doc, path);
    if (st != LM_OK)
        return st;
    loader ld = {&doc, doc.root, NULL};
    if (!doc.root)
        st = lm_err(LM_ERR_PARSE, "%s:1:1: empty result file", path);
    else
        st = read_result(&ld);
    lm_ydoc_free(&doc);
    if (st != LM_OK) {
        lm_result_destroy(ld.r);
        return st;
    }
    *out = ld.r;
    return LM_OK;
}
