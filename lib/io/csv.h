/* Private: reading and writing the authors' CSV tables. Reading keeps the
 * line number of every row so that errors name it. RFC 4180 quoting
 * ("a,b" fields, "" for a quote). */
#ifndef LM_IO_CSV_H
#define LM_IO_CSV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/attr.h"
#include "layermerge/status.h"

typedef struct lm_csv {
    char *source;      /* file name for messages */
    size_t n_cols;     /* columns of the header row */
    char **header;     /* n_cols names */
    size_t n_rows;     /* data rows */
    char ***cells;     /* n_rows x n_cols, NUL-terminated */
    size_t *line;      /* 1-based file line of each data row */
    size_t **col;      /* n_rows x n_cols: 1-based byte column of each cell */
    size_t header_line;
    size_t *header_col; /* n_cols */
} lm_csv;

/* Parse a whole file. A row with a different number of fields than the
 * header is LM_ERR_PARSE "SOURCE:LINE: expected N fields, found M"; a NUL
 * byte anywhere and a column name given twice are LM_ERR_PARSE
 * "SOURCE:LINE:COL: ...". */
LM_NODISCARD
lm_status lm_csv_load(lm_csv *csv, const char *path);
LM_NODISCARD
lm_status lm_csv_load_string(lm_csv *csv, const char *source_name,
                             const char *text, size_t len);
void lm_csv_free(lm_csv *csv);

/* Index of column `name`, or LM_ERR_PARSE "SOURCE: no column 'name'". */
LM_NODISCARD
lm_status lm_csv_column(const lm_csv *csv, const char *name, size_t *out);

/* Typed cell access; errors name SOURCE:LINE:COL and the column's name.
 * Numbers follow lm_number_parse (core/util.h). */
LM_NODISCARD
lm_status lm_csv_int(const lm_csv *csv, size_t row, size_t col, int64_t *out);
LM_NODISCARD
lm_status lm_csv_double(const lm_csv *csv, size_t row, size_t col,
                        double *out);

/* Write one field, quoting it when it holds a comma, quote or newline. */
void lm_csv_write_field(FILE *fp, const char *field);

#endif
