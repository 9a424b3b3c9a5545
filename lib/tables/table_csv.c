/* Interchange with the authors' CSV tables (docs/method.md section 5). Columns
 * are found by name, so the unnamed index column of their normalised
 * importance file and any column order are accepted; rows are matched to
 * entries by key. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/util.h"
#include "io/csv.h"
#include "tables/table.h"

enum { C_ST, C_END, C_KER, C_STR, C_DW, C_VALUE, C_EXTRA, C_NOTE, C_RAW,
       C_NORM, C_N };

typedef struct importer {
    const lm_csv *csv;
    lm_table *t;
    lm_table_csv_format format;
    const lm_entries *e;
    long col[C_N];   /* column index or -1 */
    size_t *lines;   /* CSV line of each record, for duplicate messages */
    size_t cap;
} importer;

static lm_status check_combo(lm_table_kind kind, lm_table_csv_format format)
{
    if (format < LM_TABLE_CSV_LAYERMERGE || format > LM_TABLE_CSV_KIM23_OPT_TIME)
        return lm_err(LM_ERR_INVALID_ARG, "unknown CSV format %d", (int)format);
    if (kind == LM_TABLE_IMPORTANCE && format != LM_TABLE_CSV_LAYERMERGE)
        return lm_err(LM_ERR_INVALID_ARG, "importance tables use the "
                      "LayerMerge CSV layout only");
    return LM_OK;
}

/* An exported importance file says which metric its `importance` column
 * holds by its extra column: `raw` beside normalised values, `normalised`
 * beside a raw accuracy or loss ratio. Importing it as the other metric
 * would change every value. */
static lm_status check_metric_columns(const importer *im)
{
    const lm_csv *csv = im->csv;
    int norm = im->t->metric == LM_METRIC_NORMALISED;
    long bad = norm ? im->col[C_NORM] : im->col[C_RAW];
    if (bad < 0)
        return LM_OK;
    return lm_err(LM_ERR_VALUE, "%s:%zu:%zu: column '%s' says the "
                  "'importance' column holds %s, but the import's metric is "
                  "%s", csv->source, csv->header_line,
                  csv->header_col[bad], csv->header[bad],
                  norm ? "a raw metric (accuracy or loss_ratio)"
                       : "normalised values (import them as normalised)",
                  lm_importance_metric_name(im->t->metric));
}

static lm_status find_columns(importer *im, lm_table_kind kind)
{
    int lm = im->format == LM_TABLE_CSV_LAYERMERGE;
    int lat = kind == LM_TABLE_LATENCY;
    const char *names[C_N] = {
        "st", "end", lm ? "ker" : NULL, lm ? "str" : NULL, lm ? "is_dw" : NULL,
        lat ? "time" : "importance", lat ? "stdev" : NULL,
        lat ? (im->format == LM_TABLE_CSV_KIM23_TIME ? NULL : "breaks")
            : "conv_comb",
        lat ? NULL : "raw", lat ? NULL : "normalised"};
    for (int c = 0; c < C_N; c++) {
        size_t at;
        im->col[c] = -1;
        /* The authors' importance files do not always carry conv_comb;
         * raw, normalised and the LayerMerge layout's breaks are ours
         * (lm_table_export_csv), for a lossless round trip. */
        int optional = (c == C_NOTE && (!lat || lm)) || c == C_RAW ||
                       c == C_NORM;
        if (!names[c] ||
            (optional && lm_csv_column(im->csv, names[c], &at) != LM_OK))
            continue;
        lm_status st = lm_csv_column(im->csv, names[c], &at);
        if (st != LM_OK)
            return st;
        im->col[c] = (long)at;
    }
    return lat ? LM_OK : check_metric_columns(im);
}

static lm_status row_err(const importer *im, size_t row, lm_status status,
                         const char *msg)
{
    return lm_err(status, "%s:%zu: %s", im->csv->source, im->csv->line[row],
                  msg);
}

static lm_status read_size(const importer *im, size_t row, int c, size_t *out)
{
    int64_t v;
    lm_status st = lm_csv_int(im->csv, row, (size_t)im->col[c], &v);
    if (st == LM_OK && v < 0)
        return row_err(im, row, LM_ERR_VALUE, "negative position");
    if (st == LM_OK)
        *out = (size_t)v;
    return st;
}

static lm_status read_dw(const importer *im, size_t row, int32_t *dw)
{
    const char *s = im->csv->cells[row][im->col[C_DW]];
    if (!strcmp(s, "True") || !strcmp(s, "true") || !strcmp(s, "1"))
        *dw = 1;
    else if (!strcmp(s, "False") || !strcmp(s, "false") || !strcmp(s, "0"))
        *dw = 0;
    else
        return lm_err(LM_ERR_PARSE, "%s:%zu: column 'is_dw': expected True, "
                      "False, 1 or 0, found '%s'", im->csv->source,
                      im->csv->line[row], s);
    return LM_OK;
}

/* Key of a row: as written (LayerMerge layout), or the segment's
 * merge-all conv / the unresolved key (kim23 layouts, header comment of
 * tables.h). */
static lm_status read_key(const importer *im, size_t row, lm_tkey *key)
{
    lm_status st = read_size(im, row, C_ST, &key->st);
    if (st == LM_OK)
        st = read_size(im, row, C_END, &key->end);
    if (st == LM_OK && key->st >= key->end)
        return row_err(im, row, LM_ERR_VALUE, "st is not below end");
    if (st != LM_OK || im->format != LM_TABLE_CSV_LAYERMERGE) {
        if (st == LM_OK && im->e)
            st = lm_table_merge_all_key(im->e, key->st, key->end, key);
        else if (st == LM_OK)
            *key = lm_tkey_make(key->st, key->end, -1, -1, 0);
        return st;
    }
    st = lm_csv_int(im->csv, row, (size_t)im->col[C_KER], &key->kernel);
    if (st == LM_OK)
        st = lm_csv_int(im->csv, row, (size_t)im->col[C_STR], &key->stride);
    if (st == LM_OK)
        st = read_dw(im, row, &key->dw);
    if (st == LM_OK && lm_tkey_check(key) != LM_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", lm_last_error());
        return row_err(im, row, LM_ERR_VALUE, msg);
    }
    return st;
}

static lm_status resolve_id(const importer *im, size_t row,
                            const lm_tkey *key, int64_t *id)
{
    char kb[LM_TABLE_KEYBUF], msg[256];
    size_t found;
    *id = -1;
    if (!im->e)
        return LM_OK;
    lm_entry_key pub = lm_tkey_public(key);
    if (lm_entries_find(&found, im->e, &pub) != LM_OK) {
        snprintf(msg, sizeof msg, "row key %s is not an entry of the graph",
                 lm_tkey_str(kb, key));
        return row_err(im, row, LM_ERR_NOT_FOUND, msg);
    }
    *id = (int64_t)found;
    return LM_OK;
}

static lm_status read_values(const importer *im, size_t row, double *value,
                             double *extra)
{
    size_t vc = (size_t)im->col[C_VALUE];
    lm_status st = lm_csv_double(im->csv, row, vc, value);
    if (st != LM_OK)
        return st;
    if (im->t->kind == LM_TABLE_LATENCY)
        return lm_csv_double(im->csv, row, (size_t)im->col[C_EXTRA], extra);
    /* Normalised: the column is the value, `raw` (when there) the raw
     * metric. Otherwise the column is the raw metric, `normalised` (when
     * there) the value, else the metric's normalisation of it. */
    if (im->t->metric == LM_METRIC_NORMALISED)
        return im->col[C_RAW] >= 0
                   ? lm_csv_double(im->csv, row, (size_t)im->col[C_RAW], extra)
                   : (*extra = *value, LM_OK);
    *extra = *value;
    if (im->col[C_NORM] >= 0)
        return lm_csv_double(im->csv, row, (size_t)im->col[C_NORM], value);
    if (lm_importance_metric_normalise(value, im->t->metric, *extra) !=
        LM_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", lm_last_error());
        return row_err(im, row, LM_ERR_VALUE, msg);
    }
    return LM_OK;
}

/* The authors' conv_comb cell, "1,2": the convs they kept (1-based,
 * absolute), so that solve, plan and merge keep those. */
static lm_status read_conv_comb(importer *im, size_t row, size_t index,
                                const char *text)
{
    size_t convs[256], n = 0;
    const char *p = text;
    char msg[320];
    while (*p) {
        while (*p == ' ' || *p == '[' || *p == ']')
            p++;
        if (!*p)
            break;
        char *end = NULL;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p || v == 0 || n == sizeof convs / sizeof *convs) {
            snprintf(msg, sizeof msg, "conv_comb \"%s\" is not a list of "
                     "conv numbers", text);
            return row_err(im, row, LM_ERR_PARSE, msg);
        }
        convs[n++] = (size_t)v;
        p = end;
        while (*p == ' ' || *p == ']')
            p++;
        if (*p == ',')
            p++;
        else if (*p) {
            snprintf(msg, sizeof msg, "conv_comb \"%s\" is not a list of "
                     "conv numbers", text);
            return row_err(im, row, LM_ERR_PARSE, msg);
        }
    }
    if (lm_table_set_convs(im->t, index, convs, n) != LM_OK) {
        snprintf(msg, sizeof msg, "conv_comb \"%s\": %s", text,
                 lm_last_error());
        return row_err(im, row, LM_ERR_VALUE, msg);
    }
    return LM_OK;
}

static lm_status import_row(importer *im, size_t row)
{
    lm_tkey key;
    int64_t id;
    double value, extra;
    char kb[LM_TABLE_KEYBUF], msg[320];
    lm_status st = read_key(im, row, &key);
    if (st == LM_OK)
        st = resolve_id(im, row, &key, &id);
    if (st == LM_OK)
        st = read_values(im, row, &value, &extra);
    if (st != LM_OK)
        return st;
    long prev = lm_table_find(im->t, &key);
    if (prev >= 0) {
        snprintf(msg, sizeof msg, "key %s appears twice: here and at line %zu",
                 lm_tkey_str(kb, &key), im->lines[prev]);
        return row_err(im, row, LM_ERR_DUPLICATE, msg);
    }
    if (lm_table_check_values(im->t, &key, id, value, extra) != LM_OK) {
        snprintf(msg, sizeof msg, "%s", lm_last_error());
        return row_err(im, row, LM_ERR_VALUE, msg);
    }
    const char *cell =
        im->col[C_NOTE] >= 0 ? im->csv->cells[row][im->col[C_NOTE]] : NULL;
    /* An importance row's conv_comb is its subset, kept as the record's
     * convs (and written back from them), not as text; latency notes (the
     * kim23 breaks) stay text. "" is no note, or the identity's subset. */
    int imp = im->t->kind == LM_TABLE_IMPORTANCE;
    const char *note = cell && *cell && !imp ? cell : NULL;
    size_t index;
    st = lm_table_put(im->t, &key, id, value, extra, note, &index);
    if (st == LM_OK && LM_GROW(im->lines, im->cap, index + 1) != LM_OK)
        st = lm_err_nomem();
    if (st == LM_OK)
        im->lines[index] = im->csv->line[row];
    if (st == LM_OK && imp && cell && (*cell || key.kernel == 0))
        st = read_conv_comb(im, row, index, cell);
    return st;
}

lm_status lm_table_import_csv(lm_table **out, lm_table_kind kind,
                              const char *path, lm_table_csv_format format,
                              lm_importance_metric metric,
                              const lm_entries *e)
{
    if (!out || !path)
        return lm_err(LM_ERR_INVALID_ARG, "table import: NULL argument");
    *out = NULL;
    lm_status st = check_combo(kind, format);
    if (st != LM_OK)
        return st;
    lm_csv csv;
    if ((st = lm_csv_load(&csv, path)) != LM_OK)
        return st;
    importer im = {.csv = &csv, .format = format, .e = e};
    st = lm_table_new(&im.t, kind, e ? lm_entries_fingerprint(e) : "", metric);
    if (st == LM_OK)
        st = find_columns(&im, kind);
    for (size_t r = 0; st == LM_OK && r < csv.n_rows; r++)
        st = import_row(&im, r);
    free(im.lines);
    lm_csv_free(&csv);
    if (st != LM_OK) {
        lm_table_free(im.t);
        return st;
    }
    *out = im.t;
    return LM_OK;
}

/* ---- export ------------------------------------------------------------ */

/* Importance: the `importance` column holds the value for a normalised
 * table (its raw metric goes to `raw`), else the raw metric (and the value
 * goes to `normalised` when some record's value is not the metric's
 * normalisation of it), so that importing with the table's metric gives
 * the same table. */
typedef enum { X_NONE, X_RAW, X_NORM } extra_col;

static extra_col importance_extra(const lm_table *t)
{
    if (t->metric == LM_METRIC_NORMALISED)
        return X_RAW;
    for (size_t i = 0; i < t->n; i++) {
        double v;
        if (lm_importance_metric_normalise(&v, t->metric, t->recs[i].extra) !=
                LM_OK ||
            memcmp(&v, &t->recs[i].value, sizeof v) != 0)
            return X_NORM;
    }
    return X_NONE;
}

/* A latency record with breaks (kim23 opt-time) keeps them in the
 * LayerMerge layout too, as an extra `breaks` column. */
static int has_notes(const lm_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->recs[i].note && t->recs[i].note[0])
            return 1;
    return 0;
}

static void write_header(FILE *fp, const lm_table *t,
                         lm_table_csv_format format, extra_col x, int notes)
{
    if (t->kind == LM_TABLE_IMPORTANCE)
        fprintf(fp, "id,st,end,ker,str,is_dw,conv_comb,importance%s\n",
                x == X_RAW ? ",raw" : x == X_NORM ? ",normalised" : "");
    else if (format == LM_TABLE_CSV_LAYERMERGE)
        fprintf(fp, "id,st,end,ker,str,is_dw,time,stdev%s\n",
                notes ? ",breaks" : "");
    else if (format == LM_TABLE_CSV_KIM23_TIME)
        fputs("id,st,end,time,stdev\n", fp);
    else
        fputs("id,st,end,time,stdev,breaks\n", fp);
}

/* The shortest of 15..17 significant digits that reads back to the same
 * double, so exported files stay as short as the authors' own. */
static void write_double(FILE *fp, double v)
{
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, fp);
}

/* Record `index` as output row `row`. */
static void write_row(FILE *fp, const lm_table *t, lm_table_csv_format format,
                      size_t index, size_t row, extra_col x, int notes)
{
    const lm_trec *r = &t->recs[index];
    int64_t id = r->id >= 0 && format == LM_TABLE_CSV_LAYERMERGE
                     ? r->id : (int64_t)row;
    fprintf(fp, "%" PRId64 ",%zu,%zu,", id, r->key.st, r->key.end);
    if (format == LM_TABLE_CSV_LAYERMERGE)
        fprintf(fp, "%" PRId64 ",%" PRId64 ",%s,", r->key.kernel,
                r->key.stride, r->key.dw ? "True" : "False");
    if (t->kind == LM_TABLE_IMPORTANCE) {
        /* conv_comb: the recorded subset, else whatever text came in. */
        char comb[2048];
        lm_csv_write_field(fp, r->has_convs ? lm_trec_convs_text(comb,
                                                                 sizeof comb,
                                                                 r)
                                            : r->note);
        fputc(',', fp);
        write_double(fp, x == X_RAW ? r->value : r->extra);
        if (x != X_NONE) {
            fputc(',', fp);
            write_double(fp, x == X_RAW ? r->extra : r->value);
        }
        fputc('\n', fp);
        return;
    }
    write_double(fp, r->value);
    fputc(',', fp);
    write_double(fp, r->extra);
    if (format == LM_TABLE_CSV_KIM23_OPT_TIME ||
        (format == LM_TABLE_CSV_LAYERMERGE && notes)) {
        fputc(',', fp);
        lm_csv_write_field(fp, r->note);
    }
    fputc('\n', fp);
}

/* ---- kim23 layouts: one row per segment ---------------------------------- */

/* The kim23 layouts hold one time per segment, its merge-all conv's, and
 * importing maps each row back to that conv's key. So a table with several
 * keys per segment (every LayerMerge table) exports, per segment, the
 * record of its merge-all conv: K = 1 + sum (k - 1), product of strides,
 * depthwise when every conv is, composed from the table's own records of
 * single convs (c - 1, c), as lm_table_merge_all_key does from entries.
 * Other keys, identity ones included, have no row in these layouts. */
typedef struct k23_plan {
    size_t n_pos;    /* positions 0..n_pos */
    lm_tkey *single; /* single[c - 1]: key of conv c's own record */
    uint8_t *known;  /* 1 when exactly one such record, 2 when several */
    uint8_t *write;  /* per record: write it */
} k23_plan;

static void k23_free(k23_plan *p)
{
    free(p->single);
    free(p->known);
    free(p->write);
}

static lm_status k23_singles(const lm_table *t, k23_plan *p)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->recs[i].key.end > p->n_pos)
            p->n_pos = t->recs[i].key.end;
    p->single = calloc(p->n_pos + 1, sizeof *p->single);
    p->known = calloc(p->n_pos + 1, 1);
    p->write = calloc(t->n + 1, 1);
    if (!p->single || !p->known || !p->write)
        return lm_err_nomem();
    for (size_t i = 0; i < t->n; i++) {
        const lm_tkey *k = &t->recs[i].key;
        if (k->end != k->st + 1 || k->kernel <= 0 || k->stride <= 0)
            continue;
        p->single[k->end - 1] = *k;
        p->known[k->end - 1] = p->known[k->end - 1] ? 2 : 1;
    }
    return LM_OK;
}

/* The merge-all key of (st, end) from the single-conv records; 0 when the
 * table lacks one of them. */
static int k23_merge_all(const k23_plan *p, size_t st, size_t end,
                         lm_tkey *key)
{
    *key = lm_tkey_make(st, end, 1, 1, 1);
    for (size_t c = st + 1; c <= end; c++) {
        if (p->known[c - 1] != 1)
            return 0;
        const lm_tkey *s = &p->single[c - 1];
        if (s->stride > INT64_MAX / key->stride ||
            s->kernel - 1 > INT64_MAX - key->kernel)
            return 0;
        key->kernel += s->kernel - 1;
        key->stride *= s->stride;
        key->dw = key->dw && s->dw;
    }
    return 1;
}

/* Records of segment (st, end) other than `self` that are not identity. */
static size_t k23_others(const lm_table *t, size_t self)
{
    const lm_tkey *k = &t->recs[self].key;
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += i != self && t->recs[i].key.st == k->st &&
             t->recs[i].key.end == k->end && t->recs[i].key.kernel != 0;
    return n;
}

static lm_status k23_choose(const lm_table *t, k23_plan *p)
{
    char kb[LM_TABLE_KEYBUF];
    lm_status st = k23_singles(t, p);
    for (size_t i = 0; st == LM_OK && i < t->n; i++) {
        const lm_tkey *k = &t->recs[i].key;
        lm_tkey all;
        if (k->kernel == 0)
            continue; /* identity: not a merged conv */
        if (k->kernel > 0 && k23_merge_all(p, k->st, k->end, &all)) {
            p->write[i] = all.kernel == k->kernel &&
                          all.stride == k->stride && all.dw == k->dw;
            continue;
        }
        /* An unresolved segment key, or no single-conv records to compose
         * the merge-all conv from: fine when it is the segment's only
         * record. */
        size_t others = k23_others(t, i);
        if (others)
            return lm_err(LM_ERR_UNSUPPORTED, "record %zu: segment (%zu, %zu) "
                          "has %zu more records besides %s, and the table "
                          "lacks the single-conv records that tell which is "
                          "its merge-all conv, the one a kim23 layout holds",
                          i, k->st, k->end, others, lm_tkey_str(kb, k));
        p->write[i] = 1;
    }
    return st;
}

static lm_status check_exportable(const lm_table *t,
                                  lm_table_csv_format format)
{
    char kb[LM_TABLE_KEYBUF];
    for (size_t i = 0; i < t->n; i++) {
        const lm_trec *r = &t->recs[i];
        if (format == LM_TABLE_CSV_LAYERMERGE && r->key.kernel == -1)
            return lm_err(LM_ERR_UNSUPPORTED, "record %zu: the unresolved "
                          "segment key %s has no kernel for the LayerMerge "
                          "CSV layout", i, lm_tkey_str(kb, &r->key));
        lm_status st = lm_table_check_values(t, &r->key, r->id, r->value,
                                             r->extra);
        if (st != LM_OK)
            return st;
    }
    return LM_OK;
}

lm_status lm_table_export_csv(const lm_table *t, const char *path,
                              lm_table_csv_format format)
{
    if (!t || !path)
        return lm_err(LM_ERR_INVALID_ARG, "table export: NULL argument");
    k23_plan plan = {0};
    lm_status st = check_combo(t->kind, format);
    if (st == LM_OK)
        st = check_exportable(t, format);
    if (st == LM_OK && format != LM_TABLE_CSV_LAYERMERGE)
        st = k23_choose(t, &plan);
    extra_col x = t->kind == LM_TABLE_IMPORTANCE ? importance_extra(t)
                                                 : X_NONE;
    lm_atomic_file af;
    if (st == LM_OK)
        st = lm_atomic_open(&af, path);
    if (st != LM_OK) {
        k23_free(&plan);
        return st;
    }
    int notes = t->kind == LM_TABLE_LATENCY && has_notes(t);
    write_header(af.fp, t, format, x, notes);
    for (size_t i = 0, row = 0; i < t->n; i++)
        if (format == LM_TABLE_CSV_LAYERMERGE || plan.write[i])
            write_row(af.fp, t, format, i, row++, x, notes);
    k23_free(&plan);
    return lm_atomic_commit(&af);
}
