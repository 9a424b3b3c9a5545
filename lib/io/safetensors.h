/* Private: the safetensors container — an 8-byte little-endian header
 * length N, N bytes of JSON header naming each tensor's dtype, shape and
 * byte range, then the data buffer. This layer knows the bytes on disk and
 * nothing of what the tensors mean; lib/weights builds the store on it.
 * The header is strict JSON, parsed with jansson (duplicate keys refused,
 * nesting bounded); docs/weights.md says what is accepted. */
#ifndef LM_IO_SAFETENSORS_H
#define LM_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/attr.h"
#include "layermerge/status.h"

/* Dtypes of the format. F32, F64, F16 and BF16 convert to float; the rest
 * are carried as raw bytes. */
typedef enum lm_st_dtype {
    LM_ST_BOOL, LM_ST_U8, LM_ST_I8, LM_ST_F8_E5M2, LM_ST_F8_E4M3,
    LM_ST_I16, LM_ST_U16, LM_ST_F16, LM_ST_BF16, LM_ST_I32, LM_ST_U32,
    LM_ST_F32, LM_ST_F64, LM_ST_I64, LM_ST_U64,
    LM_ST_DTYPE_COUNT
} lm_st_dtype;

/* Header limit of the reference implementation: a larger N is corrupt. */
#define LM_ST_MAX_HEADER 100000000u

const char *lm_st_dtype_name(lm_st_dtype dtype);
size_t lm_st_dtype_size(lm_st_dtype dtype);
/* 1 and *out set when `name` is a known dtype, else 0. */
int lm_st_dtype_from_name(const char *name, lm_st_dtype *out);
/* 1 for F32, F64, F16, BF16. */
int lm_st_dtype_is_float(lm_st_dtype dtype);

typedef struct lm_st_tensor {
    char *name;
    lm_st_dtype dtype;
    size_t ndim;
    int64_t *shape;   /* ndim entries, NULL for a scalar */
    uint64_t numel;
    uint64_t begin;   /* byte range in the data buffer */
    uint64_t end;
} lm_st_tensor;

typedef struct lm_st_meta {
    char *key;
    char *value;
} lm_st_meta;

/* A parsed, validated header and, when opened from a file, the open file. */
typedef struct lm_st_file {
    char *source;          /* path, for messages */
    lm_st_tensor *tensors; /* in header order */
    size_t n_tensors;
    lm_st_meta *meta;      /* "__metadata__", in header order */
    size_t n_meta;
    uint64_t data_start;   /* 8 + N: file offset of the data buffer */
    uint64_t data_len;     /* bytes in the data buffer */
    FILE *fp;
} lm_st_file;

/* Parse and check a JSON header of `len` bytes for a data buffer of
 * `data_len` bytes: every tensor's dtype is known, shape non-negative,
 * byte size = numel * dtype size, ranges inside the buffer, no overlaps, no
 * holes, no duplicate names. LM_ERR_PARSE on any fault: "SOURCE header:
 * LINE:COL: <jansson's message> (byte N of the JSON header)" for malformed
 * JSON, "SOURCE: tensor 'x' ..." otherwise; LM_ERR_NOMEM. On failure `f`
 * is left empty. */
LM_NODISCARD
lm_status lm_st_parse_header(lm_st_file *f, const char *source,
                             const char *header, size_t len,
                             uint64_t data_len);

/* Open `path`, read and check its header against the file size (so a
 * truncated file fails here, before any data is read). LM_ERR_IO,
 * LM_ERR_PARSE, LM_ERR_NOMEM. Close with lm_st_close. */
LM_NODISCARD
lm_status lm_st_open(lm_st_file *f, const char *path);

/* Read tensor `i`'s raw bytes (end - begin of them) into `dst`. */
LM_NODISCARD
lm_status lm_st_read_raw(lm_st_file *f, size_t i, void *dst);

/* Free everything and close the file; accepts a zeroed or freed `f`. */
void lm_st_close(lm_st_file *f);

/* Decode `n` little-endian elements of a float dtype into host floats.
 * `src` needs no alignment; `src` and `dst` may be the same block for F32. */
void lm_st_to_f32(lm_st_dtype dtype, const void *src, size_t n, float *dst);

/* One tensor to write. F32 data is host floats; other dtypes are raw
 * little-endian bytes written as they are. */
typedef struct lm_st_out {
    const char *name;
    lm_st_dtype dtype;
    size_t ndim;
    const int64_t *shape;
    const void *data;
    uint64_t nbytes;
} lm_st_out;

/* Write a whole file to `fp` in the given order (callers sort), offsets
 * contiguous, metadata first (omitted when n_meta is 0), compact JSON
 * padded with spaces to a multiple of 8 bytes. `source` names the file in
 * messages. LM_ERR_IO, LM_ERR_NOMEM. */
LM_NODISCARD
lm_status lm_st_write(FILE *fp, const char *source, const lm_st_out *tensors,
                      size_t n, const lm_st_meta *meta, size_t n_meta);

/* Bytes `s` takes as a JSON string body once escaped (without quotes). */
size_t lm_st_json_escaped_len(const char *s);

#endif
