/* Reading and writing the authors' CSV tables (RFC 4180 quoting). The whole
 * file is read at once; each record remembers the file line it starts on so
 * that every later error can name it. */
#include "io/csv.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/strbuf.h"
#include "core/util.h"
#include "io/read_file.h"

/* One record of fields; each field is assembled in an lm_strbuf. */
typedef struct csv_rec {
    char **fields;
    size_t *cols; /* 1-based byte column where each field starts */
    size_t n, cap, cap_cols;
    size_t line;
} csv_rec;

static lm_status buf_put(lm_strbuf *b, char c)
{
    lm_strbuf_appendc(b, c);
    return lm_strbuf_status(b);
}

static void rec_clear(csv_rec *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->fields[i]);
    r->n = 0;
}

static lm_status rec_push(csv_rec *r, lm_strbuf *b, size_t col)
{
    if (LM_GROW(r->fields, r->cap, r->n + 1) != LM_OK ||
        LM_GROW(r->cols, r->cap_cols, r->n + 1) != LM_OK)
        return LM_ERR_NOMEM;
    char *f = lm_strdup(lm_strbuf_str(b));
    if (!f)
        return lm_err_nomem();
    r->cols[r->n] = col;
    r->fields[r->n++] = f;
    lm_strbuf_reset(b);
    return LM_OK;
}

/* Parser state over the whole text. */
typedef struct csv_parser {
    const char *src;
    const char *p, *end;
    size_t line;
    const char *line_start; /* for columns */
} csv_parser;

static size_t column_of(const csv_parser *ps, const char *at)
{
    return (size_t)(at - ps->line_start) + 1;
}

/* A NUL byte would end the cell's C string early: "1\0002" would read as
 * 1. Refused wherever it is. */
static lm_status nul_byte(const csv_parser *ps, const char *at)
{
    return lm_err(LM_ERR_PARSE, "%s:%zu:%zu: NUL byte in a field",
                  ps->src, ps->line, column_of(ps, at));
}

/* Read a quoted field body (opening quote consumed). */
static lm_status read_quoted(csv_parser *ps, lm_strbuf *b)
{
    size_t start_line = ps->line;
    for (;;) {
        if (ps->p >= ps->end)
            return lm_err(LM_ERR_PARSE, "%s:%zu: unterminated quoted field",
                          ps->src, start_line);
        if (*ps->p == '\0')
            return nul_byte(ps, ps->p);
        char c = *ps->p++;
        if (c == '"') {
            if (ps->p < ps->end && *ps->p == '"') {
                ps->p++;
            } else {
                return LM_OK;
            }
        } else if (c == '\n') {
            ps->line++;
            ps->line_start = ps->p;
        }
        lm_status st = buf_put(b, c);
        if (st != LM_OK)
            return st;
    }
}

/* Read one record into r; *eof set when no record remains. Blank lines are
 * skipped (pandas writes none, editors sometimes add a final one). */
static lm_status read_record(csv_parser *ps, csv_rec *r, lm_strbuf *b,
                             int *eof)
{
    rec_clear(r);
    while (ps->p < ps->end && (*ps->p == '\n' || *ps->p == '\r')) {
        if (*ps->p == '\n') {
            ps->line++;
            ps->line_start = ps->p + 1;
        }
        ps->p++;
    }
    *eof = ps->p >= ps->end;
    if (*eof)
        return LM_OK;
    r->line = ps->line;
    for (;;) {
        int after_quote = 0;
        size_t col = column_of(ps, ps->p);
        if (ps->p < ps->end && *ps->p == '"') {
            ps->p++;
            lm_status st = read_quoted(ps, b);
            if (st != LM_OK)
                return st;
            after_quote = 1;
        }
        while (ps->p < ps->end && *ps->p != ',' && *ps->p != '\n' &&
               *ps->p != '\r') {
            if (after_quote)
                return lm_err(LM_ERR_PARSE,
                              "%s:%zu:%zu: text after a closing quote",
                              ps->src, ps->line, column_of(ps, ps->p));
            if (*ps->p == '\0')
                return nul_byte(ps, ps->p);
            lm_status st = buf_put(b, *ps->p++);
            if (st != LM_OK)
                return st;
        }
        if (rec_push(r, b, col) != LM_OK)
            return LM_ERR_NOMEM;
        if (ps->p >= ps->end)
            return LM_OK;
        char c = *ps->p++;
        if (c == ',')
            continue;
        if (c == '\r' && ps->p < ps->end && *ps->p == '\n')
            ps->p++;
        ps->line++;
        ps->line_start = ps->p;
        return LM_OK;
    }
}

/* Move the fields of r (and copy their columns) into fresh arrays owned by
 * the table. */
static char **rec_take(csv_rec *r, size_t **cols)
{
    char **cells = malloc((r->n ? r->n : 1) * sizeof *cells);
    *cols = malloc((r->n ? r->n : 1) * sizeof **cols);
    if (!cells || !*cols) {
        free(cells);
        free(*cols);
        *cols = NULL;
        return NULL;
    }
    memcpy(cells, r->fields, r->n * sizeof *cells);
    memcpy(*cols, r->cols, r->n * sizeof **cols);
    r->n = 0;
    return cells;
}

static lm_status add_row(lm_csv *csv, csv_rec *r, size_t cap[2])
{
    if (r->n != csv->n_cols)
        return lm_err(LM_ERR_PARSE, "%s:%zu: expected %zu fields, found %zu",
                      csv->source, r->line, csv->n_cols, r->n);
    size_t need = csv->n_rows + 1;
    if (LM_GROW(csv->cells, cap[0], need) != LM_OK ||
        LM_GROW(csv->line, cap[1], need) != LM_OK ||
        LM_GROW(csv->col, cap[2], need) != LM_OK)
        return LM_ERR_NOMEM;
    size_t *cols = NULL;
    char **cells = rec_take(r, &cols);
    if (!cells)
        return lm_err_nomem();
    csv->cells[csv->n_rows] = cells;
    csv->col[csv->n_rows] = cols;
    csv->line[csv->n_rows++] = r->line;
    return LM_OK;
}

static lm_status parse_all(lm_csv *csv, csv_parser *ps, csv_rec *r,
                           lm_strbuf *b)
{
    int eof = 0;
    lm_status st = read_record(ps, r, b, &eof);
    if (st != LM_OK)
        return st;
    if (eof)
        return lm_err(LM_ERR_PARSE, "%s: empty file (no header row)",
                      csv->source);
    csv->n_cols = r->n;
    csv->header_line = r->line;
    csv->header = rec_take(r, &csv->header_col);
    if (!csv->header)
        return lm_err_nomem();
    /* A repeated name would silently read the first of the two. */
    for (size_t j = 1; j < csv->n_cols; j++)
        for (size_t i = 0; i < j && csv->header[j][0]; i++)
            if (!strcmp(csv->header[i], csv->header[j]))
                return lm_err(LM_ERR_PARSE, "%s:%zu:%zu: column '%s' appears "
                              "twice (first at column %zu)", csv->source,
                              csv->header_line, csv->header_col[j],
                              csv->header[j], csv->header_col[i]);
    size_t cap[3] = {0, 0, 0};
    for (;;) {
        st = read_record(ps, r, b, &eof);
        if (st != LM_OK || eof)
            return st;
        st = add_row(csv, r, cap);
        if (st != LM_OK)
            return st;
    }
}

lm_status lm_csv_load_string(lm_csv *csv, const char *source_name,
                             const char *text, size_t len)
{
    if (!csv || (!text && len))
        return lm_err(LM_ERR_INVALID_ARG, "lm_csv_load_string: NULL argument");
    memset(csv, 0, sizeof *csv);
    csv->source = lm_strdup(source_name ? source_name : "<string>");
    if (!csv->source)
        return lm_err_nomem();
    csv_parser ps = {csv->source, text, text + len, 1, text};
    csv_rec r = {0};
    lm_strbuf b = LM_STRBUF_INIT("a CSV field");
    lm_status st = parse_all(csv, &ps, &r, &b);
    rec_clear(&r);
    free(r.fields);
    free(r.cols);
    lm_strbuf_free(&b);
    if (st != LM_OK)
        lm_csv_free(csv);
    return st;
}

lm_status lm_csv_load(lm_csv *csv, const char *path)
{
    if (!csv || !path)
        return lm_err(LM_ERR_INVALID_ARG, "lm_csv_load: NULL argument");
    memset(csv, 0, sizeof *csv);
    char *text = NULL;
    size_t len = 0;
    lm_status st = lm_read_file(path, &text, &len);
    if (st != LM_OK)
        return st;
    st = lm_csv_load_string(csv, path, text, len);
    free(text);
    return st;
}

void lm_csv_free(lm_csv *csv)
{
    if (!csv)
        return;
    for (size_t i = 0; csv->header && i < csv->n_cols; i++)
        free(csv->header[i]);
    free(csv->header);
    free(csv->header_col);
    for (size_t r = 0; r < csv->n_rows; r++) {
        for (size_t c = 0; c < csv->n_cols; c++)
            free(csv->cells[r][c]);
        free(csv->cells[r]);
        free(csv->col[r]);
    }
    free(csv->cells);
    free(csv->col);
    free(csv->line);
    free(csv->source);
    memset(csv, 0, sizeof *csv);
}

lm_status lm_csv_column(const lm_csv *csv, const char *name, size_t *out)
{
    for (size_t i = 0; i < csv->n_cols; i++) {
        if (strcmp(csv->header[i], name) == 0) {
            *out = i;
            return LM_OK;
        }
    }
    return lm_err(LM_ERR_PARSE, "%s: no column '%s'", csv->source, name);
}

static lm_status cell_error(const lm_csv *csv, size_t row, size_t col,
                            const char *want)
{
    return lm_err(LM_ERR_PARSE, "%s:%zu:%zu: column '%s': expected %s, found "
                  "'%s'", csv->source, csv->line[row], csv->col[row][col],
                  csv->header[col], want, csv->cells[row][col]);
}

static lm_status check_cell(const lm_csv *csv, size_t row, size_t col)
{
    if (row >= csv->n_rows || col >= csv->n_cols)
        return lm_err(LM_ERR_INVALID_ARG, "%s: cell (%zu, %zu) out of range",
                      csv->source, row, col);
    return LM_OK;
}

lm_status lm_csv_int(const lm_csv *csv, size_t row, size_t col, int64_t *out)
{
    lm_status st = check_cell(csv, row, col);
    if (st != LM_OK)
        return st;
    const char *s = csv->cells[row][col];
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE)
        return cell_error(csv, row, col, "an integer");
    *out = (int64_t)v;
    return LM_OK;
}

lm_status lm_csv_double(const lm_csv *csv, size_t row, size_t col, double *out)
{
    lm_status st = check_cell(csv, row, col);
    if (st != LM_OK)
        return st;
    /* The number syntax shared with the YAML reader (core/util.h): no hex
     * floats, inf, nan or trailing text; overflow is refused too. */
    lm_number_syntax r = lm_number_parse(csv->cells[row][col], out);
    return r == LM_NUMBER_OK      ? LM_OK
           : r == LM_NUMBER_RANGE ? cell_error(csv, row, col,
                                               "a number within range")
                                  : cell_error(csv, row, col, "a number");
}

void lm_csv_write_field(FILE *fp, const char *field)
{
    if (!field)
        field = "";
    if (!strpbrk(field, ",\"\r\n")) {
        fputs(field, fp);
        return;
    }
    fputc('"', fp);
    for (const char *p = field; *p; p++) {
        if (*p == '"')
            fputc('"', fp);
        fputc(*p, fp);
    }
    fputc('"', fp);
}
