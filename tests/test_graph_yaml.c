/* Graph files: loading the documented format, saving and loading back to
 * the same graph and the same bytes, and every kind of file error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "layermerge/graph.h"
#include "graph/graph_query.h"

static char *read_all(const char *path)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    char *buf = malloc(1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

START_TEST(loads_the_documented_format)
{
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_load(
        &g, lm_test_source_path("tests/data/graph_resnet_mini.yaml")));
    ck_assert_int_eq(lm_graph_is_valid(g), 1);
    ck_assert_str_eq(lm_graph_name(g), "resnet-mini");
    ck_assert_uint_eq(lm_graph_conv_count(g), 8);
    ck_assert_uint_eq(lm_graph_skip_count(g), 4);
    ck_assert_uint_eq(lm_graph_layer_count(g, LM_SITE_STEM, 0), 4);
    ck_assert_uint_eq(lm_graph_layer_count(g, LM_SITE_HEAD, 0), 3);
    int64_t c, h, w;
    ck_assert_lm_ok(lm_graph_position_chw(g, 0, &c, &h, &w));
    ck_assert(c == 64 && h == 56 && w == 56);
    ck_assert_lm_ok(lm_graph_position_chw(g, 5, &c, &h, &w));
    ck_assert(c == 128 && h == 28 && w == 28);
    ck_assert_lm_ok(lm_graph_output_chw(g, &c, &h, &w));
    ck_assert(c == 10 && h == 1 && w == 1);
    lm_conv_info info = {.size = sizeof info};
    ck_assert_lm_ok(lm_graph_conv_info(&info, g, 5));
    ck_assert_str_eq(info.bn_name, "layer2.0.bn1");
    ck_assert(info.bn_eps == 0.001);
    ck_assert_int_eq(info.groups, 1);
    ck_assert_int_eq(info.has_bias, 0);
    ck_assert_lm_ok(lm_graph_conv_info(&info, g, 1));
    ck_assert(info.bn_eps == 1e-5); /* the default */
    ck_assert_int_eq(info.stride, 1);
    lm_skip_info s = {.size = sizeof s};
    ck_assert_lm_ok(lm_graph_skip_info(&s, g, 2));
    ck_assert_int_eq(s.has_projection, 1);
    ck_assert_int_eq(s.projection_stride, 2);
    ck_assert_str_eq(s.projection_name, "layer2.0.downsample.0");
    lm_layer_info li = {.size = sizeof li};
    ck_assert_lm_ok(lm_graph_layer_info(&li, g, LM_SITE_STEM, 0, 3));
    ck_assert_int_eq(li.kind, LM_LAYER_MAXPOOL);
    ck_assert_int_eq(li.kernel, 3);
    ck_assert_int_eq(li.stride, 2);
    ck_assert_int_eq(lm_graph_position_barrier(g, 5), 1);
    ck_assert_int_eq(lm_graph_nonlinearity(g), LM_ACT_RELU);
    lm_graph_destroy(g);
}
END_TEST

/* A graph with everything the format can say, built by the API. */
static lm_graph *everything(void)
{
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_create(&g, 3, 17, 19));
    ck_assert_lm_ok(lm_graph_set_name(g, "yes"));
    ck_assert_lm_ok(lm_graph_set_nonlinearity(g, LM_ACT_HARDSWISH));
    ck_assert_lm_ok(lm_graph_add_layer_conv(
        g, LM_SITE_STEM, 0, LM_TEST_CONV("1", 3, 8, 3, 1, 1, 1, 1)));
    ck_assert_lm_ok(lm_graph_add_layer_batchnorm(g, LM_SITE_STEM, 0, "null", 8,
                                                 0.1));
    ck_assert_lm_ok(lm_graph_add_layer_pool(g, LM_SITE_STEM, 0,
                                            LM_LAYER_AVGPOOL, 3, 1, 1));
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV("a b", 8, 8, 3, 1, 1, 8, 1), LM_ACT_GELU));
    ck_assert_lm_ok(lm_graph_set_conv_bn(g, 1, NULL, 1.2345678901234567e-5));
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV(NULL, 8, 16, 5, 2, 2, 1, 0), LM_ACT_IDENTITY));
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV("c3", 16, 16, 1, 1, 0, 1, 0), LM_ACT_TANH));
    ck_assert_lm_ok(lm_graph_add_layer_pool(g, LM_SITE_POSITION, 3,
                                            LM_LAYER_MAXPOOL, 3, 2, 1));
    ck_assert_lm_ok(lm_graph_add_layer_act(g, LM_SITE_POSITION, 3,
                                           LM_ACT_SIGMOID));
    ck_assert_lm_ok(lm_graph_add_skip(g, 0, 2));
    ck_assert_lm_ok(lm_graph_set_skip_projection(g, 0, NULL, 2, 1));
    ck_assert_lm_ok(lm_graph_set_skip_bn(g, 0, "proj.bn", 0.1));
    ck_assert_lm_ok(lm_graph_add_skip(g, 1, 2));
    ck_assert_lm_ok(lm_graph_set_skip_projection(g, 1, "p", 2, 0));
    ck_assert_lm_ok(lm_graph_set_barrier(g, 3, 1));
    ck_assert_lm_ok(lm_graph_set_identity_option(g, 2, 1));
    ck_assert_lm_ok(lm_graph_add_layer_adaptive_avgpool(g, LM_SITE_HEAD, 0, 2, 3));
    ck_assert_lm_ok(lm_graph_add_layer_flatten(g, LM_SITE_HEAD, 0));
    ck_assert_lm_ok(lm_graph_add_layer_linear(g, LM_SITE_HEAD, 0, NULL, 96, 7,
                                              0));
    ck_assert_lm_ok(lm_graph_validate(g));
    return g;
}

static void assert_same_records(const lm_graph *a, const lm_graph *b)
{
    ck_assert_str_eq(lm_graph_name(a), lm_graph_name(b));
    ck_assert_int_eq(lm_graph_nonlinearity(a), lm_graph_nonlinearity(b));
    for (size_t p = 1; p <= lm_graph_conv_count(a); p++) {
        lm_conv_info x = {.size = sizeof x}, y = {.size = sizeof y};
        ck_assert_lm_ok(lm_graph_conv_info(&x, a, p));
        ck_assert_lm_ok(lm_graph_conv_info(&y, b, p));
        ck_assert(x.bn_eps == y.bn_eps && x.has_bn == y.has_bn);
        ck_assert_pstr_eq(x.name, y.name);
        ck_assert_pstr_eq(x.bn_name, y.bn_name);
    }
    lm_layer_info x = {.size = sizeof x}, y = {.size = sizeof y};
    ck_assert_lm_ok(lm_graph_layer_info(&x, a, LM_SITE_STEM, 0, 1));
    ck_assert_lm_ok(lm_graph_layer_info(&y, b, LM_SITE_STEM, 0, 1));
    ck_assert(x.eps == y.eps);
    ck_assert_pstr_eq(x.name, y.name);
}

START_TEST(save_then_load_is_identical)
{
    char *dir = lm_test_tmpdir();
    char p1[512], p2[512];
    snprintf(p1, sizeof p1, "%s/a.yaml", dir);
    snprintf(p2, sizeof p2, "%s/b.yaml", dir);
    lm_graph *g = everything(), *back = NULL;
    ck_assert_lm_ok(lm_graph_save(g, p1));
    ck_assert_lm_ok(lm_graph_load(&back, p1));
    ck_assert_str_eq(lm_graph_fingerprint(back), lm_graph_fingerprint(g));
    assert_same_records(g, back);
    ck_assert_lm_ok(lm_graph_save(back, p2));
    char *t1 = read_all(p1), *t2 = read_all(p2);
    ck_assert_str_eq(t1, t2);
    /* The file is the documented format, not just our own echo. */
    ck_assert_msg(strstr(t1, "format: layermerge-graph\n"), "%s", t1);
    ck_assert_msg(strstr(t1, "name: \"yes\""), "%s", t1);
    ck_assert_msg(strstr(t1, "nonlinearity: hardswish"), "%s", t1);
    free(t1);
    free(t2);
    lm_graph_destroy(back);
    lm_graph_destroy(g);
    lm_test_rmtree(dir);
}
END_TEST

START_TEST(fixture_round_trips)
{
    char *dir = lm_test_tmpdir();
    char p1[512];
    snprintf(p1, sizeof p1, "%s/r.yaml", dir);
    lm_graph *g = NULL, *back = NULL;
    ck_assert_lm_ok(lm_graph_load(
        &g, lm_test_source_path("tests/data/graph_resnet_mini.yaml")));
    ck_assert_lm_ok(lm_graph_save(g, p1));
    ck_assert_lm_ok(lm_graph_load(&back, p1));
    ck_assert_str_eq(lm_graph_fingerprint(back), lm_graph_fingerprint(g));
    assert_same_records(g, back);
    lm_graph_destroy(back);
    lm_graph_destroy(g);
    ck_assert_lm_status(lm_graph_save(NULL, p1), LM_ERR_INVALID_ARG);
    lm_test_rmtree(dir);
}
END_TEST

START_TEST(save_to_missing_directory_is_io_error)
{
    lm_graph *g = everything();
    ck_assert_lm_status(lm_graph_save(g, "/nonexistent-dir/x.yaml"), LM_ERR_IO);
    lm_graph_destroy(g);
}
END_TEST

START_TEST(syntax_error_names_line_7)
{
    lm_graph *g = NULL;
    ck_assert_lm_status(
        lm_graph_load(&g, lm_test_source_path("tests/data/graph_syntax_error.yaml")),
        LM_ERR_PARSE);
    ck_assert_ptr_null(g);
    ck_assert_msg(strstr(lm_last_error(), "graph_syntax_error.yaml:"), "%s",
                  lm_last_error());
    ck_assert_msg(strstr(lm_last_error(), "line 7"), "%s", lm_last_error());
    ck_assert_lm_status(lm_graph_load(&g, "/nonexistent/g.yaml"), LM_ERR_IO);
}
END_TEST

START_TEST(channel_mismatch_fixture_names_the_conv)
{
    lm_graph *g = NULL;
    ck_assert_lm_status(
        lm_graph_load(&g, lm_test_source_path("tests/data/graph_channel_mismatch.yaml")),
        LM_ERR_VALIDATION);
    ck_assert_msg(strstr(lm_last_error(), "graph_channel_mismatch.yaml: conv 3 "
                                          "(c3): in_channels 16 but position 2 "
                                          "has 32 channels"),
                  "%s", lm_last_error());
}
END_TEST

#define HEAD "format: layermerge-graph\nversion: 1\n" \
             "input: {channels: 3, height: 8, width: 8}\n"
#define TRUNK2 "trunk:\n" \
               "  - {in: 3, out: 8, kernel: 3, padding: 1, act: relu}\n" \
               "  - {in: 8, out: 8, kernel: 3, padding: 1, act: relu}\n"

static void expect_error(const char *text, lm_status want, const char *msg)
{
    lm_graph *g = NULL;
    lm_status st = lm_graph_load_string(&g, text, strlen(text));
    lm_graph_destroy(g);
    ck_assert_msg(st == want, "got %d (%s), want %d for:\n%s", (int)st,
                  lm_last_error(), (int)want, text);
    ck_assert_msg(strstr(lm_last_error(), msg), "'%s' lacks '%s'",
                  lm_last_error(), msg);
}

START_TEST(file_errors_name_the_place)
{
    expect_error(HEAD TRUNK2 "a: 1\nb: 2\ng: 7: 8\n", LM_ERR_PARSE,
                 "<string>:9:5: mapping values are not allowed");
    expect_error(HEAD TRUNK2 "barrier: [0]\n", LM_ERR_PARSE,
                 "<string>:7:1: unknown key 'barrier' in graph");
    expect_error(HEAD "trunk:\n  - {in: 3, out: 8, kernal: 3}\n", LM_ERR_PARSE,
                 "<string>:5:21: unknown key 'kernal' in trunk conv 1");
    expect_error(HEAD "trunk:\n  - {in: 3, out: -8, kernel: 3}\n", LM_ERR_PARSE,
                 "<string>:5:18: trunk conv 1: out must be positive, found -8");
    expect_error(HEAD "trunk:\n  - {in: 3, out: eight, kernel: 3}\n",
                 LM_ERR_PARSE,
                 "<string>:5:18: trunk conv 1: out: expected an integer, found 'eight'");
    expect_error(HEAD "trunk:\n  - {in: 3, out: 8}\n", LM_ERR_PARSE,
                 "<string>:5:5: trunk conv 1: missing key 'kernel'");
    expect_error(HEAD "trunk:\n  - {in: 3, out: 8, kernel: 3, act: rleu}\n",
                 LM_ERR_PARSE, "<string>:5:37: trunk conv 1: act: unknown activation 'rleu'");
    expect_error(HEAD "trunk:\n  - {in: 3, out: 8, kernel: 4}\n", LM_ERR_PARSE,
                 "<string>:5:5: conv 1: kernel 4 is even");
    expect_error(HEAD "trunk:\n  - {in: 3, out: 8, kernel: 3, groups: 2}\n",
                 LM_ERR_UNSUPPORTED, "<string>:5:5: conv 1: groups 2");
    expect_error(HEAD "trunk: {in: 3}\n", LM_ERR_PARSE,
                 "<string>:4:8: trunk: expected a sequence, found a mapping");
    expect_error(HEAD TRUNK2 "skips:\n  - {from: 0, to: 3}\n", LM_ERR_PARSE,
                 "<string>:8:5: skip 0 (0 -> 3): target position does not exist");
    expect_error(HEAD TRUNK2 "skips:\n  - {from: 2, to: 1}\n", LM_ERR_PARSE,
                 "skip 0 (2 -> 1): from must be less than to");
    expect_error(HEAD TRUNK2 "skips:\n  - {from: 0, to: 2, projection: {strid: 2}}\n",
                 LM_ERR_PARSE, "unknown key 'strid' in skip 0: projection");
    expect_error(HEAD TRUNK2 "skips:\n  - {from: 0, to: 2}\n",
                 LM_ERR_VALIDATION, "skip 0 (0 -> 2): position 0 has shape 3x8x8");
    expect_error(HEAD TRUNK2 "barriers: [0, 3]\n", LM_ERR_PARSE,
                 "<string>:7:15: barriers: position 3 out of range 0..2");
    expect_error(HEAD TRUNK2 "identity_options: [0]\n", LM_ERR_PARSE,
                 "identity_options: position 0 out of range 1..2");
    expect_error(HEAD TRUNK2 "head:\n  - {op: pool, kernel: 2}\n", LM_ERR_PARSE,
                 "<string>:8:10: head layer 0: unknown op 'pool'");
    expect_error(HEAD TRUNK2 "head:\n  - {op: linear, in: 8, out: 2}\n",
                 LM_ERR_VALIDATION, "head layer 0 (linear): needs a flat input");
    expect_error(HEAD TRUNK2 "stem:\n  - {op: batchnorm, channels: 3, eps: 0}\n",
                 LM_ERR_PARSE, "stem layer 0: eps must be in (0, 1]");
    expect_error(HEAD "trunk:\n  - {in: 3, out: 8, kernel: 3, bias: 1}\n",
                 LM_ERR_PARSE, "trunk conv 1: bias: expected true or false, found '1'");
    expect_error(HEAD "trunk:\n  - {in: 3, out: 8, kernel: 3, after: [{op: flatten}]}\n",
                 LM_ERR_VALIDATION, "position 1 has fixed layers but is not a barrier");
    expect_error(HEAD "trunk: []\n", LM_ERR_VALIDATION, "no trunk convs");
    expect_error("format: layermerge-graph\nversion: 2\n", LM_ERR_PARSE,
                 "<string>:2:10: unsupported graph version 2");
    expect_error("format: other\nversion: 1\n", LM_ERR_PARSE,
                 "format 'other' is not layermerge-graph");
    expect_error("version: 1\n", LM_ERR_PARSE, "graph: missing key 'format'");
    expect_error("format: layermerge-graph\nversion: 1\ntrunk: []\n",
                 LM_ERR_PARSE, "graph: missing key 'input'");
    expect_error("format: layermerge-graph\nversion: 1\n"
                 "input: {channels: 0, height: 8, width: 8}\n", LM_ERR_PARSE,
                 "<string>:3:19: input: channels must be positive, found 0");
    expect_error(HEAD, LM_ERR_PARSE, "graph: missing key 'trunk'");
    expect_error("", LM_ERR_PARSE, "<string>: empty document");
    expect_error("- 1\n", LM_ERR_PARSE, "graph: expected a mapping, found a sequence");
}
END_TEST

START_TEST(load_string_minimal_defaults)
{
    const char *text = HEAD TRUNK2;
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_load_string(&g, text, strlen(text)));
    ck_assert_str_eq(lm_graph_name(g), "");
    ck_assert_int_eq(lm_graph_position_barrier(g, 0), 0);
    lm_conv_info info = {.size = sizeof info};
    ck_assert_lm_ok(lm_graph_conv_info(&info, g, 2));
    ck_assert_int_eq(info.has_bn, 0);
    ck_assert_ptr_null(info.name);
    int64_t c, h, w;
    ck_assert_lm_ok(lm_graph_output_chw(g, &c, &h, &w));
    ck_assert(c == 8 && h == 8 && w == 8);
    lm_graph_destroy(g);
    ck_assert_lm_status(lm_graph_load_string(NULL, text, 1), LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_graph_load(&g, NULL), LM_ERR_INVALID_ARG);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("graph_yaml");
    TCase *tc = tcase_create("graph_yaml");
    tcase_add_test(tc, loads_the_documented_format);
    tcase_add_test(tc, save_then_load_is_identical);
    tcase_add_test(tc, fixture_round_trips);
    tcase_add_test(tc, save_to_missing_directory_is_io_error);
    tcase_add_test(tc, syntax_error_names_line_7);
    tcase_add_test(tc, channel_mismatch_fixture_names_the_conv);
    tcase_add_test(tc, file_errors_name_the_place);
    tcase_add_test(tc, load_string_minimal_defaults);
    suite_add_tcase(s, tc);
    return lm_test_run(s);
}
