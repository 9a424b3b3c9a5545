/* The safetensors container: header parsing and checking, raw tensor
 * reads, float decoding, and the writer. The format has no redundancy
 * beyond the header's byte ranges, so every check the reference
 * implementation makes is made here before any data is trusted. */
#define _POSIX_C_SOURCE 200809L
#define _FILE_OFFSET_BITS 64
#include "io/safetensors.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/strbuf.h"
#include "core/util.h"

/* ---- dtypes ------------------------------------------------------------ */

static const struct {
    const char *name;
    size_t size;
} dtypes[LM_ST_DTYPE_COUNT] = {
    [LM_ST_BOOL] = {"BOOL", 1},       [LM_ST_U8] = {"U8", 1},
    [LM_ST_I8] = {"I8", 1},           [LM_ST_F8_E5M2] = {"F8_E5M2", 1},
    [LM_ST_F8_E4M3] = {"F8_E4M3", 1}, [LM_ST_I16] = {"I16", 2},
    [LM_ST_U16] = {"U16", 2},         [LM_ST_F16] = {"F16", 2},
    [LM_ST_BF16] = {"BF16", 2},       [LM_ST_I32] = {"I32", 4},
    [LM_ST_U32] = {"U32", 4},         [LM_ST_F32] = {"F32", 4},
    [LM_ST_F64] = {"F64", 8},         [LM_ST_I64] = {"I64", 8},
    [LM_ST_U64] = {"U64", 8},
};

const char *lm_st_dtype_name(lm_st_dtype dtype)
{
    return (unsigned)dtype < LM_ST_DTYPE_COUNT ? dtypes[dtype].name : NULL;
}

size_t lm_st_dtype_size(lm_st_dtype dtype)
{
    return (unsigned)dtype < LM_ST_DTYPE_COUNT ? dtypes[dtype].size : 0;
}

int lm_st_dtype_from_name(const char *name, lm_st_dtype *out)
{
    for (int d = 0; d < LM_ST_DTYPE_COUNT && name; d++)
        if (!strcmp(dtypes[d].name, name)) {
            *out = (lm_st_dtype)d;
            return 1;
        }
    return 0;
}

int lm_st_dtype_is_float(lm_st_dtype dtype)
{
    return dtype == LM_ST_F32 || dtype == LM_ST_F64 || dtype == LM_ST_F16 ||
           dtype == LM_ST_BF16;
}

/* ---- little-endian decoding -------------------------------------------- */

static uint64_t le_load(const unsigned char *p, size_t bytes)
{
    uint64_t v = 0;
    for (size_t i = bytes; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

static float bits_to_f32(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* IEEE half to float, subnormals and NaN payloads included. */
static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0x1f)
        return bits_to_f32(sign | 0x7f800000u | mant << 13);
    if (exp == 0) {
        if (mant == 0)
            return bits_to_f32(sign);
        /* subnormal: value = mant * 2^-24, exact in float */
        float v = (float)mant * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    return bits_to_f32(sign | (exp + 112u) << 23 | mant << 13);
}

void lm_st_to_f32(lm_st_dtype dtype, const void *src, size_t n, float *dst)
{
    const unsigned char *p = src;
    size_t sz = lm_st_dtype_size(dtype);
    for (size_t i = 0; i < n; i++) {
        uint64_t v = le_load(p + i * sz, sz);
        switch (dtype) {
        case LM_ST_F32: dst[i] = bits_to_f32((uint32_t)v); break;
        case LM_ST_F16: dst[i] = f16_to_f32((uint16_t)v); break;
        case LM_ST_BF16: dst[i] = bits_to_f32((uint32_t)v << 16); break;
        case LM_ST_F64: {
            double d;
            memcpy(&d, &v, sizeof d);
            dst[i] = (float)d;
            break;
        }
        default: dst[i] = 0.0f; break; /* callers pass float dtypes only */
        }
    }
}

/* ---- header parsing ---------------------------------------------------- */

static void tensors_free(lm_st_tensor *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(t[i].name);
        free(t[i].shape);
    }
    free(t);
}

static void meta_free(lm_st_meta *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].key);
        free(m[i].value);
    }
    free(m);
}

void lm_st_close(lm_st_file *f)
{
    if (!f)
        return;
    tensors_free(f->tensors, f->n_tensors);
    meta_free(f->meta, f->n_meta);
    free(f->source);
    if (f->fp)
        fclose(f->fp);
    memset(f, 0, sizeof *f);
}

/* ---- the JSON header, read with jansson ------------------------------- */

/* JSON types in messages ("expected an array, found a string"). */
static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a non-integer number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "an unknown value";
}

/* jansson keeps no position for a parsed value, so faults in a well-formed
 * header name the file, the tensor and the field: "FILE: tensor 'x'
 * shape: expected an array, found a string". */
static lm_status kind_err(const lm_st_file *f, const char *name,
                          const char *field, const char *want,
                          const json_t *got)
{
    return lm_err(LM_ERR_PARSE, "%s: tensor '%s' %s: expected %s, found %s",
                  f->source, name, field, want, json_kind(got));
}

/* A JSON integer (callers check its sign and name the field). */
static lm_status get_count(const lm_st_file *f, const char *name,
                           const char *field, const json_t *v, int64_t *out)
{
    if (!json_is_integer(v))
        return kind_err(f, name, field, "an integer", v);
    *out = (int64_t)json_integer_value(v);
    return LM_OK;
}

static lm_status parse_meta(lm_st_file *f, const json_t *map)
{
    if (!json_is_object(map))
        return lm_err(LM_ERR_PARSE, "%s: __metadata__: expected an object, "
                      "found %s", f->source, json_kind(map));
    size_t n = json_object_size(map);
    f->meta = calloc(n ? n : 1, sizeof *f->meta);
    if (!f->meta)
        return lm_err_nomem();
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)map, key, v) {
        if (!json_is_string(v))
            return lm_err(LM_ERR_PARSE, "%s: __metadata__: key '%s': keys "
                          "and values must be strings, found %s", f->source,
                          key, json_kind(v));
        lm_st_meta *m = &f->meta[f->n_meta++];
        m->key = lm_strdup(key);
        m->value = lm_strdup(json_string_value(v));
        if (!m->key || !m->value)
            return lm_err_nomem();
    }
    return LM_OK;
}

static lm_status parse_dtype(const lm_st_file *f, const json_t *v,
                             const char *name, lm_st_tensor *t)
{
    if (!json_is_string(v))
        return kind_err(f, name, "dtype", "a string", v);
    const char *s = json_string_value(v);
    if (!lm_st_dtype_from_name(s, &t->dtype))
        return lm_err(LM_ERR_PARSE, "%s: tensor '%s': unknown dtype '%s'",
                      f->source, name, s);
    return LM_OK;
}

/* numel of a shape, or an error when a dimension is negative or the
 * product overflows. */
static lm_status parse_shape(const lm_st_file *f, const json_t *v,
                             const char *name, lm_st_tensor *t)
{
    if (!json_is_array(v))
        return kind_err(f, name, "shape", "an array", v);
    t->ndim = json_array_size(v);
    t->shape = calloc(t->ndim ? t->ndim : 1, sizeof *t->shape);
    if (!t->shape)
        return lm_err_nomem();
    t->numel = 1;
    for (size_t d = 0; d < t->ndim; d++) {
        lm_status st = get_count(f, name, "shape", json_array_get(v, d),
                                 &t->shape[d]);
        if (st != LM_OK)
            return st;
        if (t->shape[d] < 0)
            return lm_err(LM_ERR_PARSE, "%s: tensor '%s': negative dimension "
                          "%" PRId64, f->source, name, t->shape[d]);
        uint64_t dim = (uint64_t)t->shape[d];
        if (dim && t->numel > UINT64_MAX / dim)
            return lm_err(LM_ERR_PARSE, "%s: tensor '%s': shape too large",
                          f->source, name);
        t->numel *= dim;
    }
    return LM_OK;
}

static lm_status parse_offsets(const lm_st_file *f, const json_t *v,
                               const char *name, lm_st_tensor *t)
{
    if (!json_is_array(v))
        return kind_err(f, name, "data_offsets", "an array", v);
    if (json_array_size(v) != 2)
        return lm_err(LM_ERR_PARSE, "%s: tensor '%s': data_offsets needs 2 "
                      "numbers, found %zu", f->source, name,
                      json_array_size(v));
    int64_t o[2];
    for (size_t i = 0; i < 2; i++) {
        lm_status st = get_count(f, name, "data_offsets",
                                 json_array_get(v, i), &o[i]);
        if (st != LM_OK)
            return st;
        if (o[i] < 0)
            return lm_err(LM_ERR_PARSE, "%s: tensor '%s': negative data "
                          "offset", f->source, name);
    }
    if (o[1] < o[0])
        return lm_err(LM_ERR_PARSE, "%s: tensor '%s': data_offsets [%" PRId64
                      ", %" PRId64 "] end before they begin", f->source, name,
                      o[0], o[1]);
    t->begin = (uint64_t)o[0];
    t->end = (uint64_t)o[1];
    return LM_OK;
}

static lm_status parse_tensor(const lm_st_file *f, const char *name,
                              const json_t *val, lm_st_tensor *t)
{
    static const char *const keys[] = {"dtype", "shape", "data_offsets",
                                       NULL};
    if (!(t->name = lm_strdup(name)))
        return lm_err_nomem();
    if (!json_is_object(val))
        return kind_err(f, name, "entry", "an object", val);
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)val, key, v) {
        size_t k = 0;
        while (keys[k] && strcmp(keys[k], key))
            k++;
        if (!keys[k])
            return lm_err(LM_ERR_PARSE, "%s: unknown key '%s' in tensor '%s' "
                          "entry", f->source, key, name);
    }
    for (size_t i = 0; keys[i]; i++)
        if (!json_object_get(val, keys[i]))
            return lm_err(LM_ERR_PARSE, "%s: tensor '%s': missing %s",
                          f->source, name, keys[i]);
    lm_status st;
    if ((st = parse_dtype(f, json_object_get(val, "dtype"), name, t)) ||
        (st = parse_shape(f, json_object_get(val, "shape"), name, t)) ||
        (st = parse_offsets(f, json_object_get(val, "data_offsets"), name, t)))
        return st;
    return LM_OK;
}

/* Tensors and metadata in header order (jansson keeps insertion order);
 * a duplicate key was refused by the parser. */
static lm_status parse_root(lm_st_file *f, const json_t *root)
{
    if (!json_is_object(root))
        return lm_err(LM_ERR_PARSE, "%s: header: expected an object, found "
                      "%s", f->source, json_kind(root));
    size_t n = json_object_size(root);
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    if (!f->tensors)
        return lm_err_nomem();
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)root, key, v) {
        lm_status st;
        if (!strcmp(key, "__metadata__"))
            st = parse_meta(f, v);
        else
            st = parse_tensor(f, key, v, &f->tensors[f->n_tensors++]);
        if (st != LM_OK)
            return st;
    }
    return LM_OK;
}

/* Strict JSON (RFC 8259), duplicate keys refused, nesting bounded by
 * jansson's JSON_PARSER_MAX_DEPTH; a syntax fault names the header's line,
 * column and byte as jansson reports them. */
static lm_status load_json(const lm_st_file *f, const char *header,
                           size_t len, json_t **out)
{
    json_error_t e;
    *out = json_loadb(header, len, JSON_REJECT_DUPLICATES, &e);
    if (*out)
        return LM_OK;
    if (json_error_code(&e) == json_error_out_of_memory)
        return lm_err_nomem();
    return lm_err(LM_ERR_PARSE, "%s header:%d:%d: %s (byte %d of the JSON "
                  "header)", f->source, e.line, e.column, e.text, e.position);
}

static int by_name(const void *a, const void *b)
{
    const lm_st_tensor *x = *(const lm_st_tensor *const *)a;
    const lm_st_tensor *y = *(const lm_st_tensor *const *)b;
    return strcmp(x->name, y->name);
}

static int by_range(const void *a, const void *b)
{
    const lm_st_tensor *x = *(const lm_st_tensor *const *)a;
    const lm_st_tensor *y = *(const lm_st_tensor *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Each tensor alone: its bytes match its shape and lie in the buffer. */
static lm_status check_each(const lm_st_file *f)
{
    for (size_t i = 0; i < f->n_tensors; i++) {
        const lm_st_tensor *t = &f->tensors[i];
        uint64_t sz = lm_st_dtype_size(t->dtype);
        if (t->numel > UINT64_MAX / sz || t->numel * sz != t->end - t->begin)
            return lm_err(LM_ERR_PARSE, "%s: tensor '%s': %s shape of %" PRIu64
                          " elements needs %" PRIu64 " bytes, data_offsets "
                          "[%" PRIu64 ", %" PRIu64 "] hold %" PRIu64,
                          f->source, t->name, lm_st_dtype_name(t->dtype),
                          t->numel, t->numel * sz, t->begin, t->end,
                          t->end - t->begin);
        if (t->end > f->data_len)
            return lm_err(LM_ERR_PARSE, "%s: tensor '%s': data_offsets [%"
                          PRIu64 ", %" PRIu64 "] lie beyond the data buffer "
                          "of %" PRIu64 " bytes (truncated file?)", f->source,
                          t->name, t->begin, t->end, f->data_len);
    }
    return LM_OK;
}

/* All tensors together tile the buffer exactly: sorted by range, each
 * begins where the previous ended (the format forbids holes). */
static lm_status check_tiling(const lm_st_file *f, const lm_st_tensor **s)
{
    qsort(s, f->n_tensors, sizeof *s, by_range);
    uint64_t pos = 0;
    const lm_st_tensor *prev = NULL;
    for (size_t i = 0; i < f->n_tensors; i++) {
        if (s[i]->begin < pos)
            return lm_err(LM_ERR_PARSE, "%s: tensor '%s' [%" PRIu64 ", %"
                          PRIu64 ") overlaps tensor '%s' [%" PRIu64 ", %"
                          PRIu64 ")", f->source, s[i]->name, s[i]->begin,
                          s[i]->end, prev->name, prev->begin, prev->end);
        if (s[i]->begin > pos)
            return lm_err(LM_ERR_PARSE, "%s: bytes [%" PRIu64 ", %" PRIu64
                          ") of the data buffer, before tensor '%s', belong "
                          "to no tensor", f->source, pos, s[i]->begin,
                          s[i]->name);
        pos = s[i]->end;
        prev = s[i];
    }
    if (pos != f->data_len)
        return lm_err(LM_ERR_PARSE, "%s: bytes [%" PRIu64 ", %" PRIu64 ") at "
                      "the end of the data buffer belong to no tensor",
                      f->source, pos, f->data_len);
    return LM_OK;
}

static lm_status check_layout(const lm_st_file *f)
{
    lm_status st = check_each(f);
    if (st != LM_OK)
        return st;
    const lm_st_tensor **s = malloc((f->n_tensors + 1) * sizeof *s);
    if (!s)
        return lm_err_nomem();
    for (size_t i = 0; i < f->n_tensors; i++)
        s[i] = &f->tensors[i];
    qsort(s, f->n_tensors, sizeof *s, by_name);
    for (size_t i = 1; i < f->n_tensors && st == LM_OK; i++)
        if (!strcmp(s[i - 1]->name, s[i]->name))
            st = lm_err(LM_ERR_PARSE, "%s: tensor '%s' appears twice",
                        f->source, s[i]->name);
    if (st == LM_OK)
        st = check_tiling(f, s);
    free(s);
    return st;
}

lm_status lm_st_parse_header(lm_st_file *f, const char *source,
                             const char *header, size_t len,
                             uint64_t data_len)
{
    memset(f, 0, sizeof *f);
    if (!(f->source = lm_strdup(source ? source : "<memory>")))
        return lm_err_nomem();
    f->data_len = data_len;
    lm_status st = LM_OK;
    /* The format requires it (a header starting with whitespace is not
     * one). */
    if (len == 0 || header[0] != '{')
        st = lm_err(LM_ERR_PARSE, "%s: the JSON header does not begin with "
                    "'{'", f->source);
    json_t *root = NULL;
    if (st == LM_OK)
        st = load_json(f, header, len, &root);
    if (st == LM_OK)
        st = parse_root(f, root);
    json_decref(root);
    if (st == LM_OK)
        st = check_layout(f);
    if (st != LM_OK)
        lm_st_close(f);
    return st;
}

/* ---- reading a file ---------------------------------------------------- */

static lm_status read_header(lm_st_file *f, const char *path, FILE *fp,
                             uint64_t size)
{
    unsigned char lenbuf[8];
    if (size < 8 || fread(lenbuf, 1, 8, fp) != 8)
        return lm_err(LM_ERR_PARSE, "%s: file of %" PRIu64 " bytes is too "
                      "short for the 8-byte header length", path, size);
    uint64_t n = le_load(lenbuf, 8);
    if (n > size - 8)
        return lm_err(LM_ERR_PARSE, "%s: header length %" PRIu64 " exceeds "
                      "the %" PRIu64 " bytes that follow it (truncated or not "
                      "a safetensors file)", path, n, size - 8);
    if (n > LM_ST_MAX_HEADER)
        return lm_err(LM_ERR_PARSE, "%s: header length %" PRIu64 " exceeds "
                      "the format's limit of %u bytes", path, n,
                      LM_ST_MAX_HEADER);
    char *header = malloc(n ? (size_t)n : 1);
    if (!header)
        return lm_err_nomem();
    lm_status st = LM_OK;
    if (fread(header, 1, (size_t)n, fp) != n)
        st = lm_err(LM_ERR_IO, "%s: cannot read the header", path);
    else
        st = lm_st_parse_header(f, path, header, (size_t)n, size - 8 - n);
    free(header);
    f->data_start = 8 + n;
    return st;
}

lm_status lm_st_open(lm_st_file *f, const char *path)
{
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return lm_err(LM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(fp);
        return lm_err(LM_ERR_IO, "%s: not a regular file", path);
    }
    lm_status st = read_header(f, path, fp, (uint64_t)sb.st_size);
    if (st != LM_OK) {
        fclose(fp);
        return st;
    }
    f->fp = fp;
    return LM_OK;
}

lm_status lm_st_read_raw(lm_st_file *f, size_t i, void *dst)
{
    const lm_st_tensor *t = &f->tensors[i];
    uint64_t n = t->end - t->begin;
    if (n == 0)
        return LM_OK;
    if (fseeko(f->fp, (off_t)(f->data_start + t->begin), SEEK_SET) != 0 ||
        fread(dst, 1, (size_t)n, f->fp) != n)
        return lm_err(LM_ERR_IO, "%s: tensor '%s': cannot read its %" PRIu64
                      " bytes (file changed while reading?)", f->source,
                      t->name, n);
    return LM_OK;
}

/* ---- writing ----------------------------------------------------------- */

/* JSON escape for one byte position of `s`; returns bytes consumed and
 * sets `out` (NUL-terminated). DEL and C1 controls are escaped too: JSON
 * allows them raw, but the libyaml-based reader of earlier builds refuses
 * them. */
static size_t json_escape_at(const unsigned char *s, char out[8])
{
    unsigned c = s[0];
    if (c == '"' || c == '\\') {
        snprintf(out, 8, "\\%c", c);
        return 1;
    }
    if (c < 0x20 || c == 0x7f) {
        snprintf(out, 8, "\\u%04x", c);
        return 1;
    }
    if (c == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f) {
        snprintf(out, 8, "\\u%04x", (unsigned)s[1]);
        return 2;
    }
    out[0] = (char)c;
    out[1] = '\0';
    return 1;
}

size_t lm_st_json_escaped_len(const char *s)
{
    size_t n = 0;
    char tmp[8];
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        p += json_escape_at(p, tmp);
        n += strlen(tmp);
    }
    return n;
}

static void sb_json(lm_strbuf *b, const char *s)
{
    char tmp[8];
    lm_strbuf_append(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        p += json_escape_at(p, tmp);
        lm_strbuf_append(b, tmp);
    }
    lm_strbuf_append(b, "\"");
}

static void sb_u64(lm_strbuf *b, uint64_t v)
{
    lm_strbuf_appendf(b, "%" PRIu64, v);
}

static void header_tensor(lm_strbuf *b, const lm_st_out *t, uint64_t begin)
{
    sb_json(b, t->name);
    lm_strbuf_append(b, ":{\"dtype\":");
    sb_json(b, lm_st_dtype_name(t->dtype));
    lm_strbuf_append(b, ",\"shape\":[");
    for (size_t d = 0; d < t->ndim; d++) {
        if (d)
            lm_strbuf_append(b, ",");
        sb_u64(b, (uint64_t)t->shape[d]);
    }
    lm_strbuf_append(b, "],\"data_offsets\":[");
    sb_u64(b, begin);
    lm_strbuf_append(b, ",");
    sb_u64(b, begin + t->nbytes);
    lm_strbuf_append(b, "]}");
}

/* Compact JSON like the reference writer, metadata first, padded with
 * spaces so that the data buffer starts 8-byte aligned in the file. */
static void build_header(lm_strbuf *b, const lm_st_out *t, size_t n,
                         const lm_st_meta *meta, size_t n_meta)
{
    lm_strbuf_append(b, "{");
    if (n_meta) {
        lm_strbuf_append(b, "\"__metadata__\":{");
        for (size_t i = 0; i < n_meta; i++) {
            if (i)
                lm_strbuf_append(b, ",");
            sb_json(b, meta[i].key);
            lm_strbuf_append(b, ":");
            sb_json(b, meta[i].value);
        }
        lm_strbuf_append(b, n ? "}," : "}");
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            lm_strbuf_append(b, ",");
        header_tensor(b, &t[i], offset);
        offset += t[i].nbytes;
    }
    lm_strbuf_append(b, "}");
    while (b->err == LM_OK && b->len % 8)
        lm_strbuf_append(b, " ");
}

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* Host floats to little-endian bytes; a straight write on LE hosts. */
static int write_f32(FILE *fp, const float *data, uint64_t nbytes)
{
    size_t n = (size_t)(nbytes / 4);
    if (host_is_little_endian())
        return fwrite(data, 4, n, fp) == n;
    for (size_t i = 0; i < n; i++) {
        uint32_t v;
        unsigned char le[4];
        memcpy(&v, &data[i], 4);
        for (int k = 0; k < 4; k++)
            le[k] = (unsigned char)(v >> (8 * k));
        if (fwrite(le, 1, 4, fp) != 4)
            return 0;
    }
    return 1;
}

lm_status lm_st_write(FILE *fp, const char *source, const lm_st_out *tensors,
                      size_t n, const lm_st_meta *meta, size_t n_meta)
{
    lm_strbuf b = LM_STRBUF_INIT("the safetensors header");
    build_header(&b, tensors, n, meta, n_meta);
    lm_status st = lm_strbuf_status(&b);
    if (st != LM_OK) {
        lm_strbuf_free(&b);
        return lm_err_prefix(st, "%s: ", source);
    }
    unsigned char len[8];
    for (int k = 0; k < 8; k++)
        len[k] = (unsigned char)((uint64_t)b.len >> (8 * k));
    int ok = fwrite(len, 1, 8, fp) == 8 && fwrite(b.s, 1, b.len, fp) == b.len;
    lm_strbuf_free(&b);
    for (size_t i = 0; ok && i < n; i++) {
        const lm_st_out *t = &tensors[i];
        if (t->dtype == LM_ST_F32)
            ok = write_f32(fp, t->data, t->nbytes);
        else
            ok = fwrite(t->data, 1, (size_t)t->nbytes, fp) == t->nbytes;
    }
    if (!ok)
        return lm_err(LM_ERR_IO, "%s: write failed: %s", source,
                      strerror(errno));
    return LM_OK;
}
