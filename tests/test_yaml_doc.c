/* The YAML document tree: marks, typed getters, key checks, and the
 * emitter's round trip (doubles bit-exact, strings that need quotes). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "io/yaml_doc.h"

static lm_status load(lm_ydoc *doc, const char *text)
{
    return lm_ydoc_load_string(doc, "t.yaml", text, strlen(text));
}

START_TEST(tree_keeps_lines_and_columns)
{
    lm_ydoc doc;
    ck_assert_lm_ok(load(&doc, "a: 1\nlist:\n  - x\n  - {k: 'v'}\n"));
    ck_assert_int_eq(doc.root->kind, LM_YNODE_MAPPING);
    ck_assert_uint_eq(doc.root->count, 2);
    lm_ynode *list = lm_ymap_get(doc.root, "list");
    ck_assert_ptr_nonnull(list);
    ck_assert_int_eq(list->kind, LM_YNODE_SEQUENCE);
    ck_assert_uint_eq(list->count, 2);
    ck_assert_uint_eq(list->items[1]->line, 4);
    ck_assert_uint_eq(list->items[1]->column, 5);
    lm_ynode *v = lm_ymap_get(list->items[1], "k");
    ck_assert_str_eq(v->scalar, "v");
    ck_assert_int_eq(v->quoted, 1);
    ck_assert_int_eq(list->items[0]->quoted, 0);
    ck_assert_ptr_null(lm_ymap_get(doc.root, "missing"));
    ck_assert_ptr_null(lm_ymap_get(list, "a"));
    lm_ydoc_free(&doc);
    lm_ydoc_free(&doc); /* freeing twice is harmless */
}
END_TEST

START_TEST(empty_document_has_no_root)
{
    lm_ydoc doc;
    ck_assert_lm_ok(load(&doc, ""));
    ck_assert_ptr_null(doc.root);
    ck_assert_str_eq(doc.source, "t.yaml");
    lm_ydoc_free(&doc);
}
END_TEST

START_TEST(syntax_error_names_line_and_column)
{
    lm_ydoc doc;
    const char *text = "a: 1\nb: [1, 2\nc: 3\n";
    ck_assert_lm_status(load(&doc, text), LM_ERR_PARSE);
    ck_assert_ptr_null(doc.root);
    ck_assert_ptr_null(doc.source);
    ck_assert_msg(strncmp(lm_last_error(), "t.yaml:3:", 9) == 0, "%s",
                  lm_last_error());
    ck_assert_lm_status(load(&doc, "a: 1\n  b: 2\n"), LM_ERR_PARSE);
    ck_assert_msg(strncmp(lm_last_error(), "t.yaml:2:", 9) == 0, "%s",
                  lm_last_error());
}
END_TEST

START_TEST(aliases_and_second_documents_are_rejected)
{
    lm_ydoc doc;
    ck_assert_lm_status(load(&doc, "a: &x 1\nb: *x\n"), LM_ERR_PARSE);
    ck_assert_msg(strstr(lm_last_error(), "t.yaml:2:4: alias"), "%s",
                  lm_last_error());
    ck_assert_lm_status(load(&doc, "a: 1\n---\nb: 2\n"), LM_ERR_PARSE);
    ck_assert_msg(strstr(lm_last_error(), "more than one document"), "%s",
                  lm_last_error());
}
END_TEST

/* `n` openings of `open` then `n` of `close` around `mid`. */
static char *nested(size_t n, const char *open, const char *mid,
                    const char *close, size_t *len)
{
    size_t lo = strlen(open), lm = strlen(mid), lc = strlen(close);
    char *s = malloc(n * (lo + lc) + lm + 1), *p = s;
    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < n; i++, p += lo)
        memcpy(p, open, lo);
    memcpy(p, mid, lm);
    p += lm;
    for (size_t i = 0; i < n; i++, p += lc)
        memcpy(p, close, lc);
    *p = '\0';
    *len = (size_t)(p - s);
    return s;
}

/* 200k nested flow levels (400 KB) kept the graph, table and result
 * loaders busy for over a minute: refused at 64 levels, at once. The error
 * names the column where the 65th collection opens, so the reader stopped
 * there rather than reading the other 199,936 levels first. */
START_TEST(deep_nesting_is_refused_at_once)
{
    static const struct {
        const char *open, *mid, *close;
        int column; /* of the 65th collection's opener */
    } forms[] = {{"[", "", "]", 65},
                 {"{a: ", "1", "}", 4 * 64 + 1},
                 {"[{a: ", "1", "}]", 5 * 32 + 1}};
    for (size_t f = 0; f < sizeof forms / sizeof *forms; f++) {
        size_t len = 0;
        char *text = nested(200000, forms[f].open, forms[f].mid,
                            forms[f].close, &len);
        lm_ydoc doc;
        ck_assert_lm_status(lm_ydoc_load_string(&doc, "deep.yaml", text, len),
                            LM_ERR_PARSE);
        char where[64];
        snprintf(where, sizeof where, "deep.yaml:1:%d: collections nested "
                 "more than 64 levels", forms[f].column);
        ck_assert_msg(strstr(lm_last_error(), where), "form %zu: %s lacks %s",
                      f, lm_last_error(), where);
        ck_assert_ptr_null(doc.root);
        free(text);
    }
    /* 64 levels load; the 65th opening is refused with its column. */
    size_t len = 0;
    char *text = nested(64, "[", "", "]", &len);
    lm_ydoc doc;
    ck_assert_lm_ok(lm_ydoc_load_string(&doc, "ok.yaml", text, len));
    lm_ydoc_free(&doc);
    free(text);
    text = nested(65, "[", "", "]", &len);
    ck_assert_lm_status(lm_ydoc_load_string(&doc, "deep.yaml", text, len),
                        LM_ERR_PARSE);
    ck_assert_msg(strstr(lm_last_error(), "deep.yaml:1:65: collections "
                         "nested more than 64 levels deep"),
                  "%s", lm_last_error());
    free(text);
}
END_TEST

START_TEST(missing_file_is_io_error)
{
    lm_ydoc doc;
    ck_assert_lm_status(lm_ydoc_load_file(&doc, "/nonexistent/x.yaml"),
                        LM_ERR_IO);
    ck_assert_msg(strstr(lm_last_error(), "/nonexistent/x.yaml"), "%s",
                  lm_last_error());
    lm_ydoc_free(&doc);
}
END_TEST

START_TEST(load_file_names_the_file)
{
    char *dir = lm_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/bad.yaml", dir);
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs("x: 1\ny: [\n", fp);
    fclose(fp);
    lm_ydoc doc;
    ck_assert_lm_status(lm_ydoc_load_file(&doc, path), LM_ERR_PARSE);
    ck_assert_msg(strncmp(lm_last_error(), path, strlen(path)) == 0, "%s",
                  lm_last_error());
    lm_test_rmtree(dir);
}
END_TEST

START_TEST(unknown_and_repeated_keys)
{
    static const char *const allowed[] = {"a", "b", NULL};
    lm_ydoc doc;
    ck_assert_lm_ok(load(&doc, "a: 1\nb: 2\n"));
    ck_assert_lm_ok(lm_ycheck_keys(&doc, doc.root, "top", allowed));
    lm_ydoc_free(&doc);
    ck_assert_lm_ok(load(&doc, "a: 1\nbogus: 2\n"));
    ck_assert_lm_status(lm_ycheck_keys(&doc, doc.root, "top", allowed),
                        LM_ERR_PARSE);
    ck_assert_str_eq(lm_last_error(), "t.yaml:2:1: unknown key 'bogus' in top");
    lm_ydoc_free(&doc);
    ck_assert_lm_ok(load(&doc, "a: 1\nb: 2\na: 3\n"));
    ck_assert_lm_status(lm_ycheck_keys(&doc, doc.root, "top", allowed),
                        LM_ERR_PARSE);
    ck_assert_str_eq(lm_last_error(), "t.yaml:3:1: repeated key 'a' in top");
    lm_ydoc_free(&doc);
    ck_assert_lm_ok(load(&doc, "[1, 2]\n"));
    ck_assert_lm_status(lm_ycheck_keys(&doc, doc.root, "top", allowed),
                        LM_ERR_PARSE);
    ck_assert_msg(strstr(lm_last_error(), "expected a mapping, found a sequence"),
                  "%s", lm_last_error());
    lm_ydoc_free(&doc);
}
END_TEST

START_TEST(typed_getters_accept_their_types)
{
    lm_ydoc doc;
    ck_assert_lm_ok(load(&doc, "i: -42\nbig: 9007199254740993\nd: 1.0e-05\n"
                               "e: 3\nt: yes\nf: False\ns: hello\nq: '12'\n"
                               "h: .5\nj: -5.\nk: +2E+3\n"));
    int64_t i = 0;
    double d = 0;
    int b = -1;
    const char *s = NULL;
    ck_assert_lm_ok(lm_yget_int(&doc, lm_ymap_get(doc.root, "i"), "i", &i));
    ck_assert_int_eq(i, -42);
    ck_assert_lm_ok(lm_yget_int(&doc, lm_ymap_get(doc.root, "big"), "big", &i));
    ck_assert_int_eq(i, 9007199254740993LL);
    ck_assert_lm_ok(lm_yget_double(&doc, lm_ymap_get(doc.root, "d"), "d", &d));
    ck_assert(d == 1e-5);
    ck_assert_lm_ok(lm_yget_double(&doc, lm_ymap_get(doc.root, "e"), "e", &d));
    ck_assert(d == 3.0);
    ck_assert_lm_ok(lm_yget_double(&doc, lm_ymap_get(doc.root, "h"), "h", &d));
    ck_assert(d == 0.5);
    ck_assert_lm_ok(lm_yget_double(&doc, lm_ymap_get(doc.root, "j"), "j", &d));
    ck_assert(d == -5.0);
    ck_assert_lm_ok(lm_yget_double(&doc, lm_ymap_get(doc.root, "k"), "k", &d));
    ck_assert(d == 2000.0);
    ck_assert_lm_ok(lm_yget_bool(&doc, lm_ymap_get(doc.root, "t"), "t", &b));
    ck_assert_int_eq(b, 1);
    ck_assert_lm_ok(lm_yget_bool(&doc, lm_ymap_get(doc.root, "f"), "f", &b));
    ck_assert_int_eq(b, 0);
    ck_assert_lm_ok(lm_yget_string(&doc, lm_ymap_get(doc.root, "s"), "s", &s));
    ck_assert_str_eq(s, "hello");
    ck_assert_lm_ok(lm_yget_string(&doc, lm_ymap_get(doc.root, "q"), "q", &s));
    ck_assert_str_eq(s, "12");
    lm_ydoc_free(&doc);
}
END_TEST

/* Each bad value must fail with a message naming its place and field. */
static void expect_getter_error(const char *text, int kind, const char *want)
{
    lm_ydoc doc;
    ck_assert_lm_ok(load(&doc, text));
    lm_ynode *v = lm_ymap_get(doc.root, "v");
    int64_t i;
    double d;
    int b;
    const char *s;
    lm_status st = kind == 0   ? lm_yget_int(&doc, v, "field v", &i)
                   : kind == 1 ? lm_yget_double(&doc, v, "field v", &d)
                   : kind == 2 ? lm_yget_bool(&doc, v, "field v", &b)
                               : lm_yget_string(&doc, v, "field v", &s);
    lm_ydoc_free(&doc);
    ck_assert_msg(st == LM_ERR_PARSE, "'%s' gave %d", text, (int)st);
    ck_assert_msg(strstr(lm_last_error(), want), "'%s' lacks '%s'",
                  lm_last_error(), want);
}

START_TEST(typed_getters_reject_other_types)
{
    expect_getter_error("x: 0\nv: 1.5\n", 0, "t.yaml:2:4: field v: expected an integer, found '1.5'");
    expect_getter_error("v: '3'\n", 0, "t.yaml:1:4: field v: expected an integer");
    expect_getter_error("v: 3x\n", 0, "expected an integer, found '3x'");
    expect_getter_error("v: 99999999999999999999\n", 0, "out of range");
    expect_getter_error("v: [1]\n", 0, "field v: expected a scalar, found a sequence");
    expect_getter_error("w: 1\n", 0, "t.yaml: missing field v");
    expect_getter_error("v: inf\n", 1, "expected a number, found 'inf'");
    expect_getter_error("v: 0x10\n", 1, "expected a number");
    /* One number syntax with the CSV reader: no hex floats, no
     * infinities or NaN, nothing after the number. */
    expect_getter_error("v: 0x1p3\n", 1, "t.yaml:1:4: field v: expected a number, found '0x1p3'");
    expect_getter_error("v: .inf\n", 1, "expected a number, found '.inf'");
    expect_getter_error("v: -.inf\n", 1, "expected a number, found '-.inf'");
    expect_getter_error("v: .nan\n", 1, "expected a number, found '.nan'");
    expect_getter_error("v: nan\n", 1, "expected a number, found 'nan'");
    expect_getter_error("v: 1.5x\n", 1, "expected a number, found '1.5x'");
    expect_getter_error("v: 1e\n", 1, "expected a number, found '1e'");
    expect_getter_error("v: .\n", 1, "expected a number, found '.'");
    expect_getter_error("v: 1.2.3\n", 1, "expected a number, found '1.2.3'");
    expect_getter_error("v: 1e999\n", 1, "out of range");
    expect_getter_error("v: \"1.0\"\n", 1, "expected a number");
    expect_getter_error("v: maybe\n", 2, "expected true or false, found 'maybe'");
    expect_getter_error("v: 'true'\n", 2, "expected true or false");
    expect_getter_error("v:\n", 3, "t.yaml:1:3: field v: expected a string, found null");
    expect_getter_error("v: {a: 1}\n", 3, "expected a scalar, found a mapping");
}
END_TEST

/* Emit a mapping of every kind of value, read it back. */
static char *emit_values(const double *vals, size_t nv, const char *const *strs)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    lm_yemit *e = NULL;
    ck_assert_lm_ok(lm_yemit_begin(&e, fp));
    ck_assert_lm_ok(lm_yemit_map_begin(e, 0));
    ck_assert_lm_ok(lm_yemit_key(e, "doubles"));
    ck_assert_lm_ok(lm_yemit_seq_begin(e, 1));
    for (size_t i = 0; i < nv; i++)
        ck_assert_lm_ok(lm_yemit_double(e, vals[i]));
    ck_assert_lm_ok(lm_yemit_seq_end(e));
    ck_assert_lm_ok(lm_yemit_key(e, "strings"));
    ck_assert_lm_ok(lm_yemit_seq_begin(e, 0));
    for (size_t i = 0; strs[i]; i++)
        ck_assert_lm_ok(lm_yemit_str(e, strs[i]));
    ck_assert_lm_ok(lm_yemit_seq_end(e));
    ck_assert_lm_ok(lm_yemit_key(e, "rec"));
    ck_assert_lm_ok(lm_yemit_map_begin(e, 1));
    ck_assert_lm_ok(lm_yemit_key(e, "big"));
    ck_assert_lm_ok(lm_yemit_int(e, INT64_MIN));
    ck_assert_lm_ok(lm_yemit_key(e, "flag"));
    ck_assert_lm_ok(lm_yemit_bool(e, 1));
    ck_assert_lm_ok(lm_yemit_key(e, "none"));
    ck_assert_lm_ok(lm_yemit_null(e));
    ck_assert_lm_ok(lm_yemit_map_end(e));
    ck_assert_lm_ok(lm_yemit_map_end(e));
    ck_assert_lm_ok(lm_yemit_end(e));
    fclose(fp);
    return buf;
}

START_TEST(emitter_round_trips_bit_exact)
{
    const double vals[] = {1e-5, 0.1, 1.0 / 3.0, 3.0, -0.0, 1e300, 5e-324,
                           123456789012345678.0, 2.5e-7};
    const size_t nv = sizeof vals / sizeof vals[0];
    static const char *const strs[] = {"yes", "1", "null", "", "No", "~",
        "1.5", "true", "a: b", "#x", " lead", "layer1.0.conv1", "y", "-3",
        ".inf", "say \"hi\"", "tab\there", NULL};
    char *text = emit_values(vals, nv, strs);
    ck_assert_msg(strstr(text, "1.0e-05"), "%s", text);
    ck_assert_msg(strstr(text, "- layer1.0.conv1\n"), "%s", text);
    lm_ydoc doc;
    ck_assert_lm_ok(load(&doc, text));
    lm_ynode *d = lm_ymap_get(doc.root, "doubles");
    ck_assert_uint_eq(d->count, nv);
    for (size_t i = 0; i < nv; i++) {
        double got = 0;
        ck_assert_lm_ok(lm_yget_double(&doc, d->items[i], "v", &got));
        ck_assert_msg(memcmp(&got, &vals[i], sizeof got) == 0,
                      "%.17g came back as %.17g", vals[i], got);
    }
    lm_ynode *s = lm_ymap_get(doc.root, "strings");
    for (size_t i = 0; strs[i]; i++) {
        const char *got = NULL;
        ck_assert_lm_ok(lm_yget_string(&doc, s->items[i], "s", &got));
        ck_assert_str_eq(got, strs[i]);
        /* Anything a reader could take for another type is quoted. */
        if (i < 10)
            ck_assert_int_eq(s->items[i]->quoted, 1);
    }
    lm_ynode *rec = lm_ymap_get(doc.root, "rec");
    int64_t big = 0;
    ck_assert_lm_ok(lm_yget_int(&doc, lm_ymap_get(rec, "big"), "big", &big));
    ck_assert_int_eq(big, INT64_MIN);
    const char *none = NULL;
    ck_assert_lm_status(lm_yget_string(&doc, lm_ymap_get(rec, "none"), "none", &none),
                        LM_ERR_PARSE);
    lm_ydoc_free(&doc);
    free(text);
}
END_TEST

/* Files hold decimal numbers only: the emitter refuses what the reader
 * would refuse (and the reader refuses .nan/.inf, above). */
START_TEST(non_finite_numbers_are_not_written)
{
    const double bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 3; i++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *fp = open_memstream(&buf, &len);
        lm_yemit *e = NULL;
        ck_assert_lm_ok(lm_yemit_begin(&e, fp));
        ck_assert_lm_ok(lm_yemit_seq_begin(e, 1));
        ck_assert_lm_status(lm_yemit_double(e, bad[i]), LM_ERR_VALUE);
        ck_assert_msg(strstr(lm_last_error(), "finite numbers only"), "%s",
                      lm_last_error());
        lm_yemit_abort(e);
        fclose(fp);
        free(buf);
    }
}
END_TEST

START_TEST(emitter_reports_misuse)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    lm_yemit *e = NULL;
    ck_assert_lm_ok(lm_yemit_begin(&e, fp));
    ck_assert_lm_ok(lm_yemit_seq_begin(e, 0));
    /* Ending a mapping inside a sequence is a bug of the caller. */
    ck_assert_int_ne(lm_yemit_map_end(e), LM_OK);
    lm_yemit_abort(e);
    lm_yemit_abort(NULL);
    ck_assert_lm_status(lm_yemit_begin(&e, NULL), LM_ERR_INVALID_ARG);
    fclose(fp);
    free(buf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("yaml_doc");
    TCase *tc = tcase_create("yaml_doc");
    tcase_add_test(tc, tree_keeps_lines_and_columns);
    tcase_add_test(tc, empty_document_has_no_root);
    tcase_add_test(tc, syntax_error_names_line_and_column);
    tcase_add_test(tc, aliases_and_second_documents_are_rejected);
    tcase_add_test(tc, missing_file_is_io_error);
    tcase_add_test(tc, deep_nesting_is_refused_at_once);
    tcase_add_test(tc, load_file_names_the_file);
    tcase_add_test(tc, unknown_and_repeated_keys);
    tcase_add_test(tc, typed_getters_accept_their_types);
    tcase_add_test(tc, typed_getters_reject_other_types);
    tcase_add_test(tc, emitter_round_trips_bit_exact);
    tcase_add_test(tc, non_finite_numbers_are_not_written);
    tcase_add_test(tc, emitter_reports_misuse);
    suite_add_tcase(s, tc);
    return lm_test_run(s);
}
