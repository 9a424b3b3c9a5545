/* The weights store: tensors and metadata in memory, safetensors files
 * (round trip, files written the way PyTorch code writes them, and every
 * malformed layout the format forbids), and the graph tie-in. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "helpers.h"
#include "weights_names.h"
#include "layermerge/graph.h"
#include "layermerge/weights.h"

/* ---- helpers ----------------------------------------------------------- */

static char *path_in(const char *dir, const char *file)
{
    size_t n = strlen(dir) + strlen(file) + 2;
    char *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    snprintf(p, n, "%s/%s", dir, file);
    return p;
}

static void write_bytes(const char *path, const void *bytes, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static unsigned char *read_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char *buf = malloc(1 << 20);
    ck_assert_ptr_nonnull(buf);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

/* A safetensors file: `header` exactly as given (no padding), `declared`
 * as the length field (or strlen(header) when 0), then `dlen` data bytes. */
static void write_st(const char *path, const char *header, uint64_t declared,
                     const void *data, size_t dlen)
{
    size_t hlen = strlen(header);
    uint64_t n = declared ? declared : hlen;
    size_t total = 8 + hlen + dlen;
    unsigned char *buf = malloc(total);
    ck_assert_ptr_nonnull(buf);
    for (int k = 0; k < 8; k++)
        buf[k] = (unsigned char)(n >> (8 * k));
    memcpy(buf + 8, header, hlen);
    if (dlen)
        memcpy(buf + 8 + hlen, data, dlen);
    write_bytes(path, buf, total);
    free(buf);
}

#define ck_assert_error_has(sub)                                          \
    ck_assert_msg(strstr(lm_last_error(), (sub)) != NULL,                 \
                  "message '%s' lacks '%s'", lm_last_error(), (sub))

/* ---- in memory --------------------------------------------------------- */

START_TEST(empty_store_and_bad_arguments)
{
    lm_weights *w = NULL;
    ck_assert_lm_ok(lm_weights_create(&w));
    ck_assert_uint_eq(lm_weights_tensor_count(w), 0);
    ck_assert_ptr_null(lm_test_tensor_name(w, 0));
    ck_assert_ptr_null(lm_test_tensor_dtype(w, 0));
    ck_assert_lm_status(lm_weights_find(NULL, w, "fc.weight"),
                        LM_ERR_NOT_FOUND);
    ck_assert_error_has("'fc.weight'");
    ck_assert_lm_status(lm_weights_find(NULL, NULL, "x"), LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_weights_create(NULL), LM_ERR_INVALID_ARG);

    float v[2] = {1, 2};
    int64_t shape[1] = {2}, neg[1] = {-2};
    ck_assert_lm_status(lm_weights_set_f32(w, "", shape, 1, v), LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_weights_set_f32(w, "__metadata__", shape, 1, v),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_weights_set_f32(w, "bad\xff", shape, 1, v),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_weights_set_f32(w, "surrogate\xed\xa0\x80", shape,
                                           1, v), LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_weights_set_f32(w, "x", neg, 1, v), LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_weights_set_f32(w, "x", shape, 1, NULL),
                        LM_ERR_INVALID_ARG);
    /* The name limit counts escaped bytes: 1000 plain is fine, 999 plus a
     * quote (escaped as two bytes) is not. */
    char name[1002];
    memset(name, 'n', 1000);
    name[1000] = '\0';
    ck_assert_lm_ok(lm_weights_set_f32(w, name, shape, 1, v));
    name[0] = '"';
    ck_assert_lm_status(lm_weights_set_f32(w, name, shape, 1, v),
                        LM_ERR_INVALID_ARG);
    ck_assert_uint_eq(lm_weights_tensor_count(w), 1);
    lm_weights_destroy(w);
    lm_weights_destroy(NULL);
}
END_TEST

START_TEST(set_get_replace_and_order)
{
    lm_weights *w = NULL;
    ck_assert_lm_ok(lm_weights_create(&w));
    float a[6] = {1, 2, 3, 4, 5, 6}, b[1] = {9};
    int64_t s23[2] = {2, 3};
    ck_assert_lm_ok(lm_weights_set_f32(w, "zeta", s23, 2, a));
    ck_assert_lm_ok(lm_weights_set_f32(w, "alpha", NULL, 0, b));
    ck_assert_lm_ok(lm_weights_set_f32(w, "mid", s23, 2, a));
    ck_assert_uint_eq(lm_weights_tensor_count(w), 3);
    ck_assert_str_eq(lm_test_tensor_name(w, 0), "alpha");
    ck_assert_str_eq(lm_test_tensor_name(w, 1), "mid");
    ck_assert_str_eq(lm_test_tensor_name(w, 2), "zeta");
    ck_assert_str_eq(lm_test_tensor_dtype(w, 2), "F32");
    lm_tensor_info ti = {.size = sizeof ti};
    ck_assert_lm_ok(lm_weights_tensor_info(&ti, w, 2));
    ck_assert_uint_eq(ti.ndim, 2);
    ck_assert(ti.shape[0] == 2 && ti.shape[1] == 3 && ti.numel == 6);
    ck_assert_lm_ok(lm_weights_tensor_info(&ti, w, 0));
    ck_assert(ti.ndim == 0 && ti.shape == NULL && ti.numel == 1);
    ck_assert_lm_status(lm_weights_tensor_info(&ti, w, 3),
                        LM_ERR_INVALID_ARG);
    lm_tensor_info unset = {0};
    ck_assert_lm_status(lm_weights_tensor_info(&unset, w, 0),
                        LM_ERR_INVALID_ARG);
    size_t idx = 99;
    ck_assert_lm_ok(lm_weights_find(&idx, w, "zeta"));
    ck_assert_uint_eq(idx, 2);

    int64_t dims[4] = {0};
    size_t ndim = 0, numel = 0;
    ck_assert_lm_ok(lm_weights_shape(&ndim, NULL, 0, w, "zeta"));
    ck_assert_uint_eq(ndim, 2);
    ck_assert_lm_status(lm_weights_shape(&ndim, dims, 1, w, "zeta"),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_ok(lm_weights_shape(&ndim, dims, 4, w, "zeta"));
    ck_assert_int_eq(dims[0], 2);
    ck_assert_int_eq(dims[1], 3);
    ck_assert_lm_ok(lm_weights_numel(&numel, w, "alpha"));
    ck_assert_uint_eq(numel, 1); /* a scalar */

    float out[6] = {0};
    ck_assert_lm_status(lm_weights_get_f32(out, 5, w, "zeta"),
                        LM_ERR_MISMATCH);
    ck_assert_error_has("6 elements");
    ck_assert_lm_ok(lm_weights_get_f32(out, 6, w, "zeta"));
    ck_assert_mem_eq(out, a, sizeof a);
    const float *p = NULL;
    ck_assert_lm_ok(lm_weights_data_f32(&p, &numel, w, "zeta"));
    ck_assert_uint_eq(numel, 6);
    ck_assert_uint_eq((uintptr_t)p % 64, 0);
    ck_assert_float_eq(p[5], 6.0f);

    /* Replacing changes shape and data, keeps the count; a tensor may be
     * replaced by a copy of its own data. */
    int64_t s6[1] = {6};
    ck_assert_lm_ok(lm_weights_set_f32(w, "zeta", s6, 1, p));
    ck_assert_uint_eq(lm_weights_tensor_count(w), 3);
    ck_assert_lm_ok(lm_weights_shape(&ndim, dims, 4, w, "zeta"));
    ck_assert_uint_eq(ndim, 1);
    ck_assert_lm_ok(lm_weights_get_f32(out, 6, w, "zeta"));
    ck_assert_mem_eq(out, a, sizeof a);
    lm_weights_destroy(w);
}
END_TEST

START_TEST(metadata_map)
{
    lm_weights *w = NULL;
    ck_assert_lm_ok(lm_weights_create(&w));
    const char *v = NULL;
    ck_assert_lm_status(lm_weights_meta_get(&v, w, "format"),
                        LM_ERR_NOT_FOUND);
    ck_assert_error_has("'format'");
    ck_assert_lm_ok(lm_weights_meta_set(w, "format", "pt"));
    ck_assert_lm_ok(lm_weights_meta_set(w, "author", "me"));
    ck_assert_lm_ok(lm_weights_meta_set(w, "format", "np"));
    ck_assert_uint_eq(lm_weights_meta_count(w), 2);
    ck_assert_str_eq(lm_weights_meta_key(w, 0), "author");
    ck_assert_str_eq(lm_weights_meta_key(w, 1), "format");
    ck_assert_ptr_null(lm_weights_meta_key(w, 2));
    ck_assert_lm_ok(lm_weights_meta_get(&v, w, "format"));
    ck_assert_str_eq(v, "np");
    ck_assert_lm_status(lm_weights_meta_set(w, "k", "\xc3"), LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_weights_meta_set(w, NULL, "x"), LM_ERR_INVALID_ARG);
    lm_weights_destroy(w);
}
END_TEST

/* ---- files ------------------------------------------------------------- */

START_TEST(save_writes_the_documented_header)
{
    char *dir = lm_test_tmpdir();
    char *path = path_in(dir, "w.safetensors");
    lm_weights *w = NULL;
    ck_assert_lm_ok(lm_weights_create(&w));
    float a[2] = {1.0f, -2.0f}, b[1] = {0.5f};
    int64_t s2[1] = {2}, s11[2] = {1, 1};
    ck_assert_lm_ok(lm_weights_set_f32(w, "b", s2, 1, a));
    ck_assert_lm_ok(lm_weights_set_f32(w, "a", s11, 2, b));
    ck_assert_lm_ok(lm_weights_meta_set(w, "k", "v"));
    ck_assert_lm_ok(lm_weights_save(w, path));
    size_t len = 0;
    unsigned char *bytes = read_bytes(path, &len);
    const char *want = "{\"__metadata__\":{\"k\":\"v\"},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[1,1],"
                       "\"data_offsets\":[0,4]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],"
                       "\"data_offsets\":[4,12]}}";
    size_t wl = strlen(want), padded = (wl + 7) / 8 * 8;
    ck_assert_uint_eq(len, 8 + padded + 12);
    ck_assert_uint_eq(bytes[0] | bytes[1] << 8, padded);
    ck_assert_mem_eq(bytes + 8, want, wl);
    for (size_t i = wl; i < padded; i++)
        ck_assert_int_eq(bytes[8 + i], ' ');
    float got[3];
    memcpy(got, bytes + 8 + padded, sizeof got); /* test host is LE */
    ck_assert_float_eq(got[0], 0.5f);
    ck_assert_float_eq(got[1], 1.0f);
    ck_assert_float_eq(got[2], -2.0f);
    free(bytes);
    lm_weights_destroy(w);
    free(path);
    lm_test_rmtree(dir);
}
END_TEST

START_TEST(round_trip_is_exact_and_deterministic)
{
    char *dir = lm_test_tmpdir();
    char *p1 = path_in(dir, "one.safetensors"), *p2 = path_in(dir, "two.safetensors");
    lm_weights *w = NULL, *r = NULL;
    ck_assert_lm_ok(lm_weights_create(&w));
    float vals[24];
    for (int i = 0; i < 24; i++)
        vals[i] = (float)i / 7.0f - 1.0f;
    int64_t s[4] = {2, 3, 2, 2}, zero[2] = {0, 4};
    const char *odd = "tab\there \"q\" \\ del\x7f c1\xc2\x85 \xe6\x9d\x83";
    ck_assert_lm_ok(lm_weights_set_f32(w, "layer1.0.conv1.weight", s, 4, vals));
    ck_assert_lm_ok(lm_weights_set_f32(w, odd, s, 1, vals + 3));
    ck_assert_lm_ok(lm_weights_set_f32(w, "empty", zero, 2, NULL));
    char longest[1001]; /* the name limit: libyaml reads it back */
    memset(longest, 'x', 1000);
    longest[1000] = '\0';
    ck_assert_lm_ok(lm_weights_set_f32(w, longest, s, 1, vals));
    ck_assert_lm_ok(lm_weights_meta_set(w, "format", "pt"));
    ck_assert_lm_ok(lm_weights_meta_set(w, odd, "line\nbreak"));
    ck_assert_lm_ok(lm_weights_save(w, p1));
    ck_assert_lm_ok(lm_weights_load(&r, p1));
    ck_assert_uint_eq(lm_weights_tensor_count(r), 4);
    for (size_t i = 0; i < 4; i++)
        ck_assert_str_eq(lm_test_tensor_name(r, i), lm_test_tensor_name(w, i));
    float got[24];
    ck_assert_lm_ok(lm_weights_get_f32(got, 24, r, "layer1.0.conv1.weight"));
    ck_assert_mem_eq(got, vals, sizeof vals);
    ck_assert_lm_ok(lm_weights_get_f32(got, 2, r, odd));
    ck_assert_mem_eq(got, vals + 3, 2 * sizeof *got);
    size_t ndim = 0;
    int64_t dims[4];
    ck_assert_lm_ok(lm_weights_shape(&ndim, dims, 4, r, "empty"));
    ck_assert_uint_eq(ndim, 2);
    ck_assert_int_eq(dims[1], 4);
    const char *v = NULL;
    ck_assert_lm_ok(lm_weights_meta_get(&v, r, odd));
    ck_assert_str_eq(v, "line\nbreak");
    /* Saving what was loaded gives the same bytes. */
    ck_assert_lm_ok(lm_weights_save(r, p2));
    size_t l1, l2;
    unsigned char *b1 = read_bytes(p1, &l1), *b2 = read_bytes(p2, &l2);
    ck_assert_uint_eq(l1, l2);
    ck_assert_mem_eq(b1, b2, l1);
    free(b1);
    free(b2);
    lm_weights_destroy(r);
    lm_weights_destroy(w);
    free(p1);
    free(p2);
    lm_test_rmtree(dir);
}
END_TEST

/* Both fixtures hold the same tensors (tests/gen_safetensors.py). */
static void check_fixture_values(const lm_weights *w)
{
    ck_assert_uint_eq(lm_weights_tensor_count(w), 7);
    float conv[6], var[3], half[4], bf[2], uni[2];
    ck_assert_lm_ok(lm_weights_get_f32(conv, 6, w, "conv.weight"));
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(conv[i], (float)i * 0.5f - 1.0f);
    ck_assert_lm_ok(lm_weights_get_f32(var, 3, w, "bn.running_var"));
    ck_assert_float_eq(var[0], (float)(1.0 / 3.0));
    ck_assert_float_eq(var[1], (float)(2.0 / 3.0));
    ck_assert_float_eq(var[2], 1.0f);
    ck_assert_lm_ok(lm_weights_get_f32(half, 4, w, "half"));
    ck_assert_float_eq(half[0], 1.0f);
    ck_assert_float_eq(half[1], -2.5f);
    ck_assert_float_eq(half[2], 65504.0f);
    ck_assert_float_eq(half[3], 1.0f / 16777216.0f); /* subnormal */
    ck_assert_lm_ok(lm_weights_get_f32(bf, 2, w, "bf"));
    ck_assert_float_eq(bf[0], 1.0f);
    ck_assert_float_eq(bf[1], -3.140625f);
    ck_assert_lm_ok(lm_weights_get_f32(
        uni, 2, w, "unicod\xc3\xa9.\xe6\x9d\x83\xe9\x87\x8d"));
    ck_assert_float_eq(uni[0], 1.5f);
    ck_assert_float_eq(uni[1], -1.5f);
    size_t idx = 0, n = 1;
    ck_assert_lm_ok(lm_weights_numel(&n, w, "empty"));
    ck_assert_uint_eq(n, 0);
    ck_assert_lm_ok(lm_weights_find(&idx, w, "bn.num_batches_tracked"));
    ck_assert_str_eq(lm_test_tensor_dtype(w, idx), "I64");
    ck_assert_lm_status(
        lm_weights_get_f32(var, 1, w, "bn.num_batches_tracked"),
        LM_ERR_UNSUPPORTED);
    ck_assert_lm_ok(
        lm_weights_shape(&n, NULL, 0, w, "bn.num_batches_tracked"));
    ck_assert_uint_eq(n, 0);
    const char *v = NULL;
    ck_assert_lm_ok(lm_weights_meta_get(&v, w, "format"));
    ck_assert_str_eq(v, "pt");
    ck_assert_lm_ok(lm_weights_meta_get(&v, w, "note"));
    ck_assert_str_eq(v, "caf\xc3\xa9 \"quoted\" \\ slash/");
}

START_TEST(reads_files_written_like_pytorch)
{
    static const char *const fixtures[] = {
        "tests/data/weights_torch.safetensors",
        "tests/data/weights_escaped.safetensors"};
    char *dir = lm_test_tmpdir();
    char *out = path_in(dir, "resaved.safetensors");
    for (size_t f = 0; f < 2; f++) {
        lm_weights *w = NULL, *r = NULL;
        ck_assert_lm_ok(lm_weights_load(&w, lm_test_source_path(fixtures[f])));
        check_fixture_values(w);
        /* F64/F16/BF16 come back as F32; the I64 counter as it was. */
        ck_assert_lm_ok(lm_weights_save(w, out));
        ck_assert_lm_ok(lm_weights_load(&r, out));
        check_fixture_values(r);
        size_t idx = 0;
        ck_assert_lm_ok(lm_weights_find(&idx, r, "bn.running_var"));
        ck_assert_str_eq(lm_test_tensor_dtype(r, idx), "F32");
        lm_weights_destroy(r);
        lm_weights_destroy(w);
    }
    free(out);
    lm_test_rmtree(dir);
}
END_TEST

START_TEST(unaligned_data_is_read_correctly)
{
    /* A 61-byte header puts the data at file offset 69: nothing aligned. */
    char *dir = lm_test_tmpdir();
    char *path = path_in(dir, "u.safetensors");
    const char *h = "{\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[4,12]},"
                    "\"f\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    unsigned char data[12];
    float f = 3.25f;
    double d = -0.1;
    memcpy(data, &f, 4);
    memcpy(data + 4, &d, 8);
    write_st(path, h, 0, data, sizeof data);
    lm_weights *w = NULL;
    ck_assert_lm_ok(lm_weights_load(&w, path));
    float got = 0;
    ck_assert_lm_ok(lm_weights_get_f32(&got, 1, w, "f"));
    ck_assert_float_eq(got, 3.25f);
    ck_assert_lm_ok(lm_weights_get_f32(&got, 1, w, "d"));
    ck_assert_float_eq(got, (float)-0.1);
    lm_weights_destroy(w);
    free(path);
    lm_test_rmtree(dir);
}
END_TEST

typedef struct bad_case {
    const char *what;
    const char *header;
    uint64_t declared; /* 0: the header's length */
    size_t dlen;
    lm_status want;
    const char *needle; /* besides the file name */
} bad_case;

#define T1(name, dtype, shape, b, e)                                        \
    "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape                \
    ",\"data_offsets\":[" #b "," #e "]}"

static const bad_case bad_cases[] = {
    {"offsets out of range", "{" T1("w", "F32", "[4]", 0, 16) "}", 0, 8,
     LM_ERR_PARSE, "tensor 'w'"},
    {"header longer than the file", "{" T1("w", "F32", "[2]", 0, 8) "}", 4096,
     8, LM_ERR_PARSE, "header length 4096"},
    {"overlap", "{" T1("a", "F32", "[2]", 0, 8) "," T1("b", "F32", "[2]", 4, 12)
     "}", 0, 12, LM_ERR_PARSE, "overlaps tensor 'a'"},
    {"hole between", "{" T1("a", "F32", "[1]", 0, 4) "," T1("b", "F32", "[1]", 8, 12)
     "}", 0, 12, LM_ERR_PARSE, "before tensor 'b'"},
    {"hole at the end", "{" T1("a", "F32", "[1]", 0, 4) "}", 0, 8,
     LM_ERR_PARSE, "bytes [4, 8)"},
    {"size mismatch", "{" T1("w", "F32", "[3]", 0, 8) "}", 0, 8, LM_ERR_PARSE,
     "tensor 'w': F32 shape of 3 elements needs 12 bytes"},
    {"unknown dtype", "{" T1("w", "F17", "[2]", 0, 8) "}", 0, 8, LM_ERR_PARSE,
     "unknown dtype 'F17'"},
    {"negative dimension", "{" T1("w", "F32", "[-2]", 0, 8) "}", 0, 8,
     LM_ERR_PARSE, "negative dimension"},
    {"end before begin", "{" T1("w", "F32", "[0]", 8, 0) "}", 0, 8,
     LM_ERR_PARSE, "end before they begin"},
    {"duplicate name", "{" T1("w", "F32", "[1]", 0, 4) "," T1("w", "F32", "[1]", 4, 8)
     "}", 0, 8, LM_ERR_PARSE, "header:1:57: duplicate object key near '\"w\"'"},
    {"duplicate metadata", "{\"__metadata__\":{\"a\":\"x\"},"
     "\"__metadata__\":{}}", 0, 0, LM_ERR_PARSE, "duplicate object key"},
    {"duplicate metadata key", "{\"__metadata__\":{\"a\":\"x\",\"a\":\"y\"}}",
     0, 0, LM_ERR_PARSE, "header:1:28: duplicate object key near '\"a\"'"},
    {"missing key", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 0, 4,
     LM_ERR_PARSE, "missing data_offsets"},
    {"unknown key", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"offsets\":[0,4]}}",
     0, 4, LM_ERR_PARSE, "unknown key 'offsets'"},
    {"leading whitespace", "\t{}", 0, 0, LM_ERR_PARSE, "does not begin with '{'"},
    {"unclosed object", "{\"w\":{\"dtype\":\"F32\"", 0, 0, LM_ERR_PARSE,
     "header:1:19: '}' expected near end of file"},
    {"unquoted name", "{w: 1}", 0, 0, LM_ERR_PARSE,
     "header:1:2: string or '}' expected near 'w' (byte 2 of the JSON header)"},
    {"lone surrogate escape", "{\"__metadata__\":{\"k\":\"\\ud83d\"}}", 0, 0,
     LM_ERR_PARSE, "invalid Unicode '\\uD83D'"},
    {"NUL escape", "{\"__metadata__\":{\"k\":\"a\\u0000b\"}}", 0, 0,
     LM_ERR_PARSE, "\\u0000 is not allowed"},
    {"metadata not strings", "{\"__metadata__\":{\"k\":1}}", 0, 0, LM_ERR_PARSE,
     "must be strings"},
    {"non-integer offset", "{" T1("w", "F32", "[1]", 0, 4.0) "}", 0, 4,
     LM_ERR_PARSE, "tensor 'w' data_offsets: expected an integer, found a "
     "non-integer number"},
    {"string dimension", "{" T1("w", "F32", "[\"1\"]", 0, 4) "}", 0, 4,
     LM_ERR_PARSE, "tensor 'w' shape: expected an integer, found a string"},
    {"entry not an object", "{\"w\":[1]}", 0, 0, LM_ERR_PARSE,
     "tensor 'w' entry: expected an object, found an array"},
    {"YAML comment", "{" T1("w", "F32", "[1]", 0, 4) "} # c", 0, 4,
     LM_ERR_PARSE, "end of file expected"},
    {"trailing comma", "{" T1("w", "F32", "[1]", 0, 4) ",}", 0, 4,
     LM_ERR_PARSE, "string or '}' expected near '}'"},
    {"single quotes", "{'w':{}}", 0, 0, LM_ERR_PARSE, "header:1:2: "},
};

START_TEST(rejects_malformed_files)
{
    const bad_case *c = &bad_cases[_i];
    char *dir = lm_test_tmpdir();
    char *path = path_in(dir, "bad.safetensors");
    unsigned char data[64] = {0};
    write_st(path, c->header, c->declared, data, c->dlen);
    lm_weights *w = (lm_weights *)1;
    lm_status st = lm_weights_load(&w, path);
    ck_assert_msg(st == c->want, "%s: got %d (%s)", c->what, (int)st,
                  lm_last_error());
    ck_assert_ptr_null(w);
    ck_assert_msg(strstr(lm_last_error(), path) != NULL, "%s: '%s' lacks the path",
                  c->what, lm_last_error());
    ck_assert_msg(strstr(lm_last_error(), c->needle) != NULL, "%s: '%s' lacks '%s'",
                  c->what, lm_last_error(), c->needle);
    free(path);
    lm_test_rmtree(dir);
}
END_TEST

/* Python's json.dumps (ensure_ascii, its default) writes non-ASCII text as
 * \\u escapes, a surrogate pair for a character beyond the BMP; strict JSON
 * takes them as the one character they stand for. */
START_TEST(reads_surrogate_pair_escapes)
{
    char *dir = lm_test_tmpdir();
    char *path = path_in(dir, "s.safetensors");
    const char *h = "{\"__metadata__\":{\"note\":\"caf\\u00e9 \\ud83d\\ude00\","
                    "\"\\ud83e\\udd16\":\"bot\"},"
                    "\"w\\ud83d\\ude00\":{\"dtype\":\"F32\",\"shape\":[1],"
                    "\"data_offsets\":[0,4]}}    ";
    float one = 1.0f;
    write_st(path, h, 0, &one, sizeof one);
    lm_weights *w = NULL;
    ck_assert_lm_ok(lm_weights_load(&w, path));
    const char *v = NULL;
    ck_assert_lm_ok(lm_weights_meta_get(&v, w, "note"));
    ck_assert_str_eq(v, "caf\xc3\xa9 \xf0\x9f\x98\x80");
    ck_assert_lm_ok(lm_weights_meta_get(&v, w, "\xf0\x9f\xa4\x96"));
    ck_assert_str_eq(v, "bot");
    ck_assert_str_eq(lm_test_tensor_name(w, 0), "w\xf0\x9f\x98\x80");
    float got = 0.0f;
    ck_assert_lm_ok(lm_weights_get_f32(&got, 1, w, "w\xf0\x9f\x98\x80"));
    ck_assert_float_eq(got, 1.0f);
    lm_weights_destroy(w);
    free(path);
    lm_test_rmtree(dir);
}
END_TEST

/* 100000 nested arrays: refused at the parser's depth limit, after a few
 * kilobytes, not after a walk of the whole header or a blown stack. */
START_TEST(refuses_deep_nesting_quickly)
{
    char *dir = lm_test_tmpdir();
    char *path = path_in(dir, "deep.safetensors");
    size_t depth = 100000;
    char *h = malloc(depth + 8);
    ck_assert_ptr_nonnull(h);
    memcpy(h, "{\"a\":", 5);
    memset(h + 5, '[', depth);
    h[5 + depth] = '\0';
    write_st(path, h, 0, NULL, 0);
    free(h);
    lm_weights *w = (lm_weights *)1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_lm_status(lm_weights_load(&w, path), LM_ERR_PARSE);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) +
               1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    ck_assert_ptr_null(w);
    ck_assert_error_has(path);
    ck_assert_error_has("maximum parsing depth reached");
    ck_assert_error_has("header:1:");
    /* Generous for valgrind; the parse itself takes microseconds. */
    ck_assert_msg(s < 5.0, "refusing took %.3f s", s);
    free(path);
    lm_test_rmtree(dir);
}
END_TEST

START_TEST(rejects_truncated_and_missing_files)
{
    char *dir = lm_test_tmpdir();
    char *path = path_in(dir, "t.safetensors");
    lm_weights *w = NULL;
    ck_assert_lm_status(lm_weights_load(&w, path), LM_ERR_IO);
    ck_assert_error_has(path);

    /* A real file cut short loses its last tensor's bytes. */
    size_t len = 0;
    unsigned char *bytes =
        read_bytes(lm_test_source_path("tests/data/weights_torch.safetensors"), &len);
    write_bytes(path, bytes, len - 3);
    ck_assert_lm_status(lm_weights_load(&w, path), LM_ERR_PARSE);
    ck_assert_error_has("truncated");
    ck_assert_error_has("tensor 'half'"); /* the last one in the file */
    write_bytes(path, bytes, 5);
    ck_assert_lm_status(lm_weights_load(&w, path), LM_ERR_PARSE);
    ck_assert_error_has("too short");
    write_bytes(path, bytes, 40); /* header cut */
    ck_assert_lm_status(lm_weights_load(&w, path), LM_ERR_PARSE);
    ck_assert_error_has("header length");
    ck_assert_ptr_null(w);
    free(bytes);
    free(path);
    lm_test_rmtree(dir);
}
END_TEST

/* ---- graph tie-in ------------------------------------------------------ */

static const char tiny_yaml[] =
    "format: layermerge-graph\n"
    "version: 1\n"
    "input: {channels: 3, height: 8, width: 8}\n"
    "stem:\n"
    "  - {op: conv, name: s, in: 3, out: 4, kernel: 3, padding: 1, bias: true}\n"
    "trunk:\n"
    "  - {name: c1, in: 4, out: 4, kernel: 3, padding: 1, groups: 4,\n"
    "     bn: {name: c1bn, eps: 1.0e-05}, act: relu}\n"
    "  - {name: c2, in: 4, out: 8, kernel: 1, bias: true, act: relu}\n"
    "skips:\n"
    "  - {from: 0, to: 2, projection: {name: proj, stride: 1, bias: true,\n"
    "     bn: {name: proj_bn, eps: 1.0e-05}}}\n"
    "head:\n"
    "  - {op: adaptive_avgpool, height: 1, width: 1}\n"
    "  - {op: flatten}\n"
    "  - {op: linear, name: fc, in: 8, out: 2, bias: true}\n";

static void expect_shape(const lm_weights *w, const char *name, size_t ndim,
                         const int64_t *want)
{
    int64_t dims[4] = {0};
    size_t got = 0;
    ck_assert_lm_ok(lm_weights_shape(&got, dims, 4, w, name));
    ck_assert_uint_eq(got, ndim);
    for (size_t d = 0; d < ndim; d++)
        ck_assert_int_eq(dims[d], want[d]);
}

START_TEST(init_random_covers_every_layer_kind)
{
    lm_graph *g = NULL;
    lm_weights *w = NULL;
    ck_assert_lm_ok(lm_graph_load_string(&g, tiny_yaml, strlen(tiny_yaml)));
    ck_assert_lm_ok(lm_weights_create(&w));
    ck_assert_lm_status(lm_weights_check_graph(w, g), LM_ERR_NOT_FOUND);
    ck_assert_error_has("stem layer 0 (conv): tensor 's.weight' not found");
    ck_assert_lm_ok(lm_weights_init_random(w, g, 1));
    ck_assert_lm_ok(lm_weights_check_graph(w, g));
    ck_assert_uint_eq(lm_weights_tensor_count(w), 17);
    expect_shape(w, "s.weight", 4, (int64_t[]){4, 3, 3, 3});
    expect_shape(w, "s.bias", 1, (int64_t[]){4});
    expect_shape(w, "c1.weight", 4, (int64_t[]){4, 1, 3, 3}); /* depthwise */
    expect_shape(w, "c1bn.running_var", 1, (int64_t[]){4});
    expect_shape(w, "c2.weight", 4, (int64_t[]){8, 4, 1, 1});
    expect_shape(w, "proj.weight", 4, (int64_t[]){8, 4, 1, 1});
    expect_shape(w, "proj.bias", 1, (int64_t[]){8});
    expect_shape(w, "proj_bn.running_mean", 1, (int64_t[]){8});
    expect_shape(w, "fc.weight", 2, (int64_t[]){2, 8});
    expect_shape(w, "fc.bias", 1, (int64_t[]){2});

    /* Ranges as documented: fan_in of c2 is 4, so |w| < sqrt(6/4). */
    float v[32];
    ck_assert_lm_ok(lm_weights_get_f32(v, 32, w, "c2.weight"));
    for (int i = 0; i < 32; i++)
        ck_assert(v[i] > -1.2248f && v[i] < 1.2248f);
    ck_assert_lm_ok(lm_weights_get_f32(v, 8, w, "proj_bn.running_var"));
    for (int i = 0; i < 8; i++)
        ck_assert(v[i] >= 0.5f && v[i] < 1.5f);
    ck_assert_lm_ok(lm_weights_get_f32(v, 8, w, "proj_bn.bias"));
    for (int i = 0; i < 8; i++)
        ck_assert(v[i] >= -0.1f && v[i] < 0.1f);

    /* A tensor depends on the seed and its name only. */
    lm_weights *same = NULL, *other = NULL;
    ck_assert_lm_ok(lm_weights_create(&same));
    ck_assert_lm_ok(lm_weights_create(&other));
    ck_assert_lm_ok(lm_weights_init_random(same, g, 1));
    ck_assert_lm_ok(lm_weights_init_random(other, g, 2));
    const float *a = NULL, *b = NULL, *c = NULL;
    ck_assert_lm_ok(lm_weights_data_f32(&a, NULL, w, "fc.weight"));
    ck_assert_lm_ok(lm_weights_data_f32(&b, NULL, same, "fc.weight"));
    ck_assert_lm_ok(lm_weights_data_f32(&c, NULL, other, "fc.weight"));
    ck_assert_mem_eq(a, b, 16 * sizeof *a);
    ck_assert(memcmp(a, c, 16 * sizeof *a) != 0);
    lm_weights_destroy(other);
    lm_weights_destroy(same);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
}
END_TEST

START_TEST(check_graph_names_what_is_wrong)
{
    lm_graph *g = NULL;
    lm_weights *w = NULL;
    ck_assert_lm_ok(lm_graph_load_string(&g, tiny_yaml, strlen(tiny_yaml)));
    ck_assert_lm_ok(lm_weights_create(&w));
    ck_assert_lm_ok(lm_weights_init_random(w, g, 7));

    float z[144] = {0};
    ck_assert_lm_ok(lm_weights_set_f32(w, "c1.weight", (int64_t[]){4, 4, 3, 3},
                                       4, z));
    ck_assert_lm_status(lm_weights_check_graph(w, g), LM_ERR_MISMATCH);
    ck_assert_error_has("conv 1: tensor 'c1.weight' has shape [4, 4, 3, 3], "
                        "expected [4, 1, 3, 3]");
    ck_assert_lm_ok(lm_weights_set_f32(w, "c1.weight", (int64_t[]){4, 1, 3, 3},
                                       4, z));
    ck_assert_lm_ok(lm_weights_check_graph(w, g));
    ck_assert_lm_ok(lm_weights_set_f32(w, "proj_bn.running_var",
                                       (int64_t[]){4}, 1, z));
    ck_assert_lm_status(lm_weights_check_graph(w, g), LM_ERR_MISMATCH);
    ck_assert_error_has("skip 0 (0 -> 2) projection batch norm: tensor "
                        "'proj_bn.running_var' has shape [4], expected [8]");

    /* A store without one tensor: copy all but it. */
    lm_weights *part = NULL;
    ck_assert_lm_ok(lm_weights_create(&part));
    ck_assert_lm_ok(lm_weights_init_random(w, g, 7));
    for (size_t i = 0; i < lm_weights_tensor_count(w); i++) {
        const char *name = lm_test_tensor_name(w, i);
        if (!strcmp(name, "fc.bias"))
            continue;
        int64_t dims[4];
        size_t ndim;
        const float *data;
        ck_assert_lm_ok(lm_weights_shape(&ndim, dims, 4, w, name));
        ck_assert_lm_ok(lm_weights_data_f32(&data, NULL, w, name));
        ck_assert_lm_ok(lm_weights_set_f32(part, name, dims, ndim, data));
    }
    ck_assert_lm_status(lm_weights_check_graph(part, g), LM_ERR_NOT_FOUND);
    ck_assert_error_has("head layer 2 (linear): tensor 'fc.bias' not found");
    lm_weights_destroy(part);

    /* An unvalidated graph, and an unnamed conv. */
    lm_graph *raw = NULL;
    ck_assert_lm_ok(lm_graph_create(&raw, 3, 8, 8));
    ck_assert_lm_ok(lm_graph_add_conv(raw,
                                      LM_TEST_CONV(NULL, 3, 4, 3, 1, 1, 1, 0),
                                      LM_ACT_RELU));
    ck_assert_lm_status(lm_weights_check_graph(w, raw), LM_ERR_STATE);
    ck_assert_lm_ok(lm_graph_validate(raw));
    ck_assert_lm_status(lm_weights_check_graph(w, raw), LM_ERR_NOT_FOUND);
    ck_assert_error_has("conv 1 has no conv name");
    ck_assert_lm_status(lm_weights_init_random(w, raw, 1), LM_ERR_NOT_FOUND);
    ck_assert_lm_status(lm_weights_check_graph(NULL, g), LM_ERR_INVALID_ARG);
    lm_graph_destroy(raw);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
}
END_TEST

START_TEST(resnet34_random_weights_fit_and_round_trip)
{
    lm_graph *g = NULL;
    lm_weights *w = NULL, *r = NULL;
    ck_assert_lm_ok(lm_graph_load(&g,
                                  lm_test_source_path("examples/models/resnet34.yaml")));
    ck_assert_lm_ok(lm_weights_create(&w));
    ck_assert_lm_ok(lm_weights_init_random(w, g, 2024));
    ck_assert_lm_ok(lm_weights_check_graph(w, g));
    /* 36 convs (stem, 32 trunk, 3 downsample), each with a batch norm of 4
     * tensors, plus fc weight and bias. */
    ck_assert_uint_eq(lm_weights_tensor_count(w), 36 * 5 + 2);
    ck_assert_lm_ok(lm_weights_find(NULL, w,
                                    "layer2.0.downsample.1.running_var"));
    expect_shape(w, "layer3.0.downsample.0.weight", 4,
                 (int64_t[]){256, 128, 1, 1});
    expect_shape(w, "conv1.weight", 4, (int64_t[]){64, 3, 7, 7});

    char *dir = lm_test_tmpdir();
    char *path = path_in(dir, "resnet34.safetensors");
    ck_assert_lm_ok(lm_weights_save(w, path));
    ck_assert_lm_ok(lm_weights_load(&r, path));
    ck_assert_lm_ok(lm_weights_check_graph(r, g));
    const float *a = NULL, *b = NULL;
    size_t n = 0;
    ck_assert_lm_ok(lm_weights_data_f32(&a, &n, w, "fc.weight"));
    ck_assert_uint_eq(n, 512000);
    ck_assert_lm_ok(lm_weights_data_f32(&b, NULL, r, "fc.weight"));
    ck_assert_mem_eq(a, b, n * sizeof *a);
    lm_weights_destroy(r);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
    free(path);
    lm_test_rmtree(dir);
}
END_TEST

static Suite *weights_suite(void)
{
    Suite *s = suite_create("weights");
    TCase *mem = tcase_create("memory");
    tcase_add_test(mem, empty_store_and_bad_arguments);
    tcase_add_test(mem, set_get_replace_and_order);
    tcase_add_test(mem, metadata_map);
    suite_add_tcase(s, mem);
    TCase *files = tcase_create("files");
    tcase_add_test(files, save_writes_the_documented_header);
    tcase_add_test(files, round_trip_is_exact_and_deterministic);
    tcase_add_test(files, reads_files_written_like_pytorch);
    tcase_add_test(files, unaligned_data_is_read_correctly);
    tcase_add_loop_test(files, rejects_malformed_files, 0,
                        (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(files, rejects_truncated_and_missing_files);
    tcase_add_test(files, reads_surrogate_pair_escapes);
    tcase_add_test(files, refuses_deep_nesting_quickly);
    suite_add_tcase(s, files);
    TCase *graph = tcase_create("graph");
    tcase_set_timeout(graph, 120);
    tcase_add_test(graph, init_random_covers_every_layer_kind);
    tcase_add_test(graph, check_graph_names_what_is_wrong);
    tcase_add_test(graph, resnet34_random_weights_fit_and_round_trip);
    suite_add_tcase(s, graph);
    return s;
}

int main(void)
{
    return lm_test_run(weights_suite());
}
