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

enum { C_ST, C_END, C_KER, C_STR, C_DW, C_VALUE, C_EXTRA, C_NOTE, C_N };

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

static lm_status find_columns(importer *im, lm_table_kind kind)
{
    int lm = im->format == LM_TABLE_CSV_LAYERMERGE;
    int lat = kind == LM_TABLE_LATENCY;
    const char *names[C_N] = {
        "st", "end", lm ? "ker" : NULL, lm ? "str" : NULL, lm ? "is_dw" : NULL,
        lat ? "time" : "importance", lat ? "stdev" : NULL,
        lat ? (im->format == LM_TABLE_CSV_KIM23_OPT_TIME ? "breaks" : NULL)
            : "conv_comb"};
    for (int c = 0; c < C_N; c++) {
        size_t at;
        im->col[c] = -1;
        /* The authors' importance files do not always carry conv_comb. */
        if (!names[c] || (c == C_NOTE && !lat &&
                          lm_csv_column(im->csv, names[c], &at) != LM_OK))
            continue;
        lm_status st = lm_csv_column(im->csv, names[c], &at);
        if (st != LM_OK)
            return st;
        im->col[c] = (long)at;
    }
    return LM_OK;
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
    *extra = *value;
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
    const char *note =
        im->col[C_NOTE] >= 0 ? im->csv->cells[row][im->col[C_NOTE]] : NULL;
    size_t index;
    st = lm_table_put(im->t, &key, id, value, extra, note, &index);
    if (st == LM_OK && LM_GROW(im->lines, im->cap, index + 1) != LM_OK)
        st = lm_err_nomem();
    if (st == LM_OK)
        im->lines[index] = im->csv->line[row];
    if (st == LM_OK && note && im->t->kind == LM_TABLE_IMPORTANCE)
        st = read_conv_comb(im, row, index, note);
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

static const char *csv_header(lm_table_kind kind, lm_table_csv_format format)
{
    if (kind == LM_TABLE_IMPORTANCE)
        return "id,st,end,ker,str,is_dw,conv_comb,importance\n";
    if (format == LM_TABLE_CSV_LAYERMERGE)
        return "id,st,end,ker,str,is_dw,time,stdev\n";
    if (format == LM_TABLE_CSV_KIM23_TIME)
        return "id,st,end,time,stdev\n";
    return "id,st,end,time,stdev,breaks\n";
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

static void write_row(FILE *fp, const lm_table *t, lm_table_csv_format format,
                      size_t row)
{
    const lm_trec *r = &t->recs[row];
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
        write_double(fp, r->extra);
        fputc('\n', fp);
        return;
    }
    write_double(fp, r->value);
    fputc(',', fp);
    write_double(fp, r->extra);
    if (format == LM_TABLE_CSV_KIM23_OPT_TIME) {
        fputc(',', fp);
        lm_csv_write_field(fp, r->note);
    }
    fputc('\n', fp);
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
    lm_status st = check_combo(t->kind, format);
    if (st == LM_OK)
        st = check_exportable(t, format);
    lm_atomic_file af;
    if (st == LM_OK)
        st = lm_atomic_open(&af, path);
    if (st != LM_OK)
        return st;
    fputs(csv_header(t->kind, format), af.fp);
    for (size_t i = 0; i < t->n; i++)
        write_row(af.fp, t, format, i);
    return lm_atomic_commit(&af);
}
