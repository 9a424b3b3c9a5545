/* U-Net elements of the graph (docs/formats.md): loading them, what the
 * records say, the shapes they give, saving and loading back, their
 * validation rules and the entries enumerated on them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "graph/graph_query.h"
#include "layermerge/entries.h"
#include "layermerge/graph.h"

static lm_graph *load_mini(void)
{
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_load(
        &g, lm_test_source_path("tests/data/graph_unet_mini.yaml")));
    return g;
}

START_TEST(records_describe_every_element)
{
    lm_graph *g = load_mini();
    ck_assert_uint_eq(lm_graph_conv_count(g), 9);
    lm_time_embedding_info te = {.size = sizeof te};
    ck_assert_lm_ok(lm_graph_time_embedding(&te, g));
    ck_assert_int_eq(te.has_time_embedding, 1);
    ck_assert_int_eq(te.dim, 8);
    ck_assert_int_eq(te.channels, 32);
    ck_assert_str_eq(te.dense0, "temb.dense.0");
    ck_assert_str_eq(te.dense1, "temb.dense.1");

    lm_conv_info c = {.size = sizeof c};
    ck_assert_lm_ok(lm_graph_conv_info(&c, g, 2));
    ck_assert_int_eq(c.has_groupnorm, 1);
    ck_assert_int_eq(c.groupnorm_groups, 4);
    ck_assert(c.groupnorm_eps == 1e-6);
    ck_assert_str_eq(c.groupnorm_name, "a.norm2");
    ck_assert_int_eq(c.has_time_projection, 1);
    ck_assert_str_eq(c.time_projection_name, "a.temb_proj");
    ck_assert_uint_eq(c.pre_layer_count, 2);
    ck_assert_uint_eq(lm_graph_layer_count(g, LM_SITE_PRE, 2), 2);
    lm_layer_info l = {.size = sizeof l};
    ck_assert_lm_ok(lm_graph_layer_info(&l, g, LM_SITE_PRE, 2, 0));
    ck_assert_int_eq(l.kind, LM_LAYER_GROUPNORM);
    ck_assert_int_eq(l.groups, 4);
    ck_assert_str_eq(l.name, "a.norm1");
    ck_assert_lm_ok(lm_graph_layer_info(&l, g, LM_SITE_PRE, 4, 0));
    ck_assert_int_eq(l.kind, LM_LAYER_PAD);
    ck_assert(l.pad_top == 0 && l.pad_left == 0 && l.pad_bottom == 1 &&
              l.pad_right == 1);
    ck_assert_lm_ok(lm_graph_layer_info(&l, g, LM_SITE_POSITION, 3, 0));
    ck_assert_int_eq(l.kind, LM_LAYER_ATTENTION);
    ck_assert_int_eq(l.in_channels, 8);
    ck_assert_lm_ok(lm_graph_layer_info(&l, g, LM_SITE_POSITION, 6, 0));
    ck_assert_int_eq(l.kind, LM_LAYER_UPSAMPLE);
    ck_assert_int_eq(l.scale, 2);

    lm_skip_info s = {.size = sizeof s};
    ck_assert_lm_ok(lm_graph_skip_info(&s, g, 2));
    ck_assert_int_eq(s.is_concat, 1);
    ck_assert_int_eq(s.has_projection, 0);
    ck_assert_lm_ok(lm_graph_skip_info(&s, g, 3));
    ck_assert_int_eq(s.is_concat, 0);
    ck_assert_int_eq(s.projection_in_channels, 24);
    lm_graph_destroy(g);
}
END_TEST

START_TEST(shapes_follow_pad_upsample_and_concat)
{
    lm_graph *g = load_mini();
    int64_t c, h, w;
    /* The downsampling conv reads 8x8 padded to 9x9, writes 4x4. */
    ck_assert_lm_ok(lm_graph_conv_input_chw(g, 4, &c, &h, &w));
    ck_assert(c == 8 && h == 9 && w == 9);
    ck_assert_lm_ok(lm_graph_position_chw(g, 4, &c, &h, &w));
    ck_assert(c == 8 && h == 4 && w == 4);
    /* Upsampling after position 6; position 7 is 16 + 8 channels. */
    ck_assert_lm_ok(lm_graph_position_chw(g, 6, &c, &h, &w));
    ck_assert(c == 16 && h == 8 && w == 8);
    ck_assert_lm_ok(lm_graph_position_chw(g, 7, &c, &h, &w));
    ck_assert(c == 24 && h == 8 && w == 8);
    ck_assert_lm_ok(lm_graph_output_chw(g, &c, &h, &w));
    ck_assert(c == 3 && h == 8 && w == 8);
    lm_graph_destroy(g);
}
END_TEST

START_TEST(save_load_round_trip)
{
    char *dir = lm_test_tmpdir();
    char p1[512], p2[512];
    snprintf(p1, sizeof p1, "%s/a.yaml", dir);
    snprintf(p2, sizeof p2, "%s/b.yaml", dir);
    lm_graph *g = load_mini(), *back = NULL, *copy = NULL;
    ck_assert_lm_ok(lm_graph_save(g, p1));
    ck_assert_lm_ok(lm_graph_load(&back, p1));
    ck_assert_str_eq(lm_graph_fingerprint(back), lm_graph_fingerprint(g));
    ck_assert_lm_ok(lm_graph_save(back, p2));
    char *a = lm_test_read_file(p1, NULL), *b = lm_test_read_file(p2, NULL);
    ck_assert_str_eq(a, b);
    ck_assert_ptr_nonnull(strstr(a, "mode: concat"));
    ck_assert_ptr_nonnull(strstr(a, "time_projection: {name: a.temb_proj}"));
    free(a);
    free(b);
    ck_assert_lm_ok(lm_graph_clone(&copy, g));
    ck_assert_str_eq(lm_graph_fingerprint(copy), lm_graph_fingerprint(g));
    lm_conv_info c = {.size = sizeof c};
    ck_assert_lm_ok(lm_graph_conv_info(&c, copy, 5));
    ck_assert_str_eq(c.groupnorm_name, "b.norm2");
    lm_graph_destroy(copy);
    lm_graph_destroy(back);
    lm_graph_destroy(g);
    lm_test_rmtree(dir);
}
END_TEST

/* The fingerprint sees each U-Net element. */
START_TEST(fingerprint_sees_unet_elements)
{
    lm_graph *g = load_mini();
    char base[17];
    strcpy(base, lm_graph_fingerprint(g));
    ck_assert_lm_ok(lm_graph_set_conv_groupnorm(g, 9, "c.extra", 2, 1e-5));
    /* A GroupNorm needs its activation. */
    ck_assert_lm_status(lm_graph_validate(g), LM_ERR_VALIDATION);
    ck_assert_msg(strstr(lm_last_error(), "conv 9 (c.conv2) has a group "
                         "norm but position 9 has no activation"), "%s",
                  lm_last_error());
    ck_assert_lm_ok(lm_graph_set_activation(g, 9, LM_ACT_SILU));
    ck_assert_lm_ok(lm_graph_validate(g));
    ck_assert_str_ne(lm_graph_fingerprint(g), base);
    lm_graph_destroy(g);
    g = load_mini();
    ck_assert_lm_ok(lm_graph_add_layer_upsample(g, LM_SITE_HEAD, 0, 1));
    ck_assert_lm_ok(lm_graph_validate(g));
    ck_assert_str_ne(lm_graph_fingerprint(g), base);
    lm_graph_destroy(g);
}
END_TEST

static void expect_invalid(const char *from, const char *to, lm_status want,
                           const char *msg)
{
    char *text = lm_test_read_file(
        lm_test_source_path("tests/data/graph_unet_mini.yaml"), NULL);
    char *at = strstr(text, from);
    ck_assert_msg(at != NULL, "fixture lacks '%s'", from);
    size_t n = strlen(text) + strlen(to) + 1;
    char *edited = malloc(n);
    snprintf(edited, n, "%.*s%s%s", (int)(at - text), text, to,
             at + strlen(from));
    lm_graph *g = NULL;
    lm_status st = lm_graph_load_string(&g, edited, strlen(edited));
    lm_graph_destroy(g);
    ck_assert_msg(st == want, "got %d (%s), want %d", (int)st,
                  lm_last_error(), (int)want);
    ck_assert_msg(strstr(lm_last_error(), msg), "'%s' lacks '%s'",
                  lm_last_error(), msg);
    free(edited);
    free(text);
}

START_TEST(validation_names_what_breaks_a_rule)
{
    expect_invalid("barriers: [0, 1, 3,", "barriers: [0, 3,",
                   LM_ERR_VALIDATION,
                   "conv 2 (a.conv1) has pre layers but position 1, which it "
                   "reads, is not a barrier");
    expect_invalid("barriers: [0, 1, 3, 4, 6, 7, 9]",
                   "barriers: [0, 1, 3, 4, 7, 9]", LM_ERR_VALIDATION,
                   "position 6 has fixed layers but is not a barrier");
    expect_invalid("time_embedding: {dim: 8, channels: 32, names: "
                   "[temb.dense.0, temb.dense.1]}\n", "", LM_ERR_VALIDATION,
                   "conv 2 (a.conv1) has a time projection but the graph "
                   "has no time embedding");
    expect_invalid("{from: 3, to: 7, mode: concat}",
                   "{from: 4, to: 7, mode: concat}", LM_ERR_VALIDATION,
                   "skip 2 (4 -> 7): concatenates position 4 8x4x4 to "
                   "position 7 16x8x8: the spatial sizes differ");
    expect_invalid("{from: 3, to: 7, mode: concat}",
                   "{from: 3, to: 7, mode: cat}", LM_ERR_PARSE,
                   "skip 2: mode 'cat' is neither add nor concat");
    expect_invalid("{from: 3, to: 7, mode: concat}",
                   "{from: 3, to: 7, mode: concat, projection: {bias: true}}",
                   LM_ERR_PARSE, "skip 2: a concatenation has no projection");
    expect_invalid("group_norm: {name: b.norm2, groups: 4",
                   "group_norm: {name: b.norm2, groups: 3", LM_ERR_PARSE,
                   "<string>:47:17: the group norm of conv 5: 16 channels do "
                   "not split into 3 groups");
    expect_invalid("{op: groupnorm, name: a.norm1, channels: 8, groups: 4",
                   "{op: groupnorm, name: a.norm1, channels: 8, groups: 3",
                   LM_ERR_PARSE, "groupnorm: 8 channels do not split into 3 "
                   "groups");
    expect_invalid("{op: pad, top: 0, left: 0, bottom: 1, right: 1}",
                   "{op: pad, top: 0, left: 0, bottom: 1}", LM_ERR_PARSE,
                   "missing key 'right'");
    expect_invalid("{op: upsample, scale: 2}", "{op: upsample, scale: 0}",
                   LM_ERR_PARSE, "scale must be positive, found 0");
    expect_invalid("names: [temb.dense.0, temb.dense.1]",
                   "names: [temb.dense.0]", LM_ERR_PARSE,
                   "time_embedding: names lists the two dense layers, found 1");
    expect_invalid("time_projection: {name: a.temb_proj}",
                   "time_projection: {name: a.norm1}", LM_ERR_DUPLICATE,
                   "name 'a.norm1' is already the name of conv 2 pre layer 0");
    expect_invalid("{dim: 8,", "{dim: 7,", LM_ERR_PARSE,
                   "dim 7 must be even");
    expect_invalid("{op: attention, name: a.attn, channels: 8",
                   "{op: attention, channels: 8", LM_ERR_PARSE,
                   "position 3 layer 0: missing key 'name'");
    expect_invalid("identity_options: [7]", "identity_options: [7, 8]",
                   LM_ERR_VALIDATION, "conv 8 (c.conv1) has pre layers, so "
                   "position 8 cannot allow the identity option");
}
END_TEST

START_TEST(builder_calls_check_their_arguments)
{
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_create(&g, 8, 4, 4));
    lm_conv_desc d = {.size = sizeof d, .in_channels = 8, .out_channels = 8,
                      .kernel = 3, .stride = 1, .padding = 1, .groups = 1};
    ck_assert_lm_ok(lm_graph_add_conv(g, &d, LM_ACT_SILU));
    ck_assert_lm_status(lm_graph_set_conv_groupnorm(g, 2, "n", 4, 1e-5),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_graph_set_conv_groupnorm(g, 1, "n", 0, 1e-5),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_graph_set_conv_groupnorm(g, 1, "n", 4, 0.0),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_ok(lm_graph_set_conv_bn(g, 1, "bn", 1e-5));
    ck_assert_lm_status(lm_graph_set_conv_groupnorm(g, 1, "n", 4, 1e-5),
                        LM_ERR_INVALID_ARG);
    ck_assert_msg(strstr(lm_last_error(), "already has a batch norm"), "%s",
                  lm_last_error());
    ck_assert_lm_status(lm_graph_set_time_embedding(g, 0, 8, "a", "b"),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_graph_set_time_embedding(g, 8, 8, "a", "a"),
                        LM_ERR_DUPLICATE);
    ck_assert_lm_status(lm_graph_add_layer_pad(g, LM_SITE_HEAD, 0, 0, -1, 0, 0),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_graph_add_layer_upsample(g, LM_SITE_HEAD, 0, 0),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_graph_add_layer_attention(g, LM_SITE_PRE, 2, "at",
                                                     8, 4, 1e-5),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_graph_add_layer_groupnorm(g, LM_SITE_HEAD, 0, "gn",
                                                     0, 1, 1e-5),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_ok(lm_graph_add_concat(g, 0, 1));
    ck_assert_lm_status(lm_graph_set_skip_projection(g, 0, "p", 1, 0),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_graph_validate(g), LM_ERR_VALIDATION);
    ck_assert_msg(strstr(lm_last_error(), "must both be barriers"), "%s",
                  lm_last_error());
    ck_assert_lm_ok(lm_graph_set_barrier(g, 0, 1));
    ck_assert_lm_ok(lm_graph_set_barrier(g, 1, 1));
    ck_assert_lm_ok(lm_graph_validate(g));
    int64_t c, h, w;
    ck_assert_lm_ok(lm_graph_position_chw(g, 1, &c, &h, &w));
    ck_assert_int_eq(c, 16);
    lm_time_embedding_info te = {.size = sizeof te};
    ck_assert_lm_ok(lm_graph_time_embedding(&te, g));
    ck_assert_int_eq(te.has_time_embedding, 0);
    lm_graph_destroy(g);
}
END_TEST

/* Barriers hold segments to the blocks; the identity option gives the
 * upsampling conv's segment a K = 0 entry; a segment starting at the
 * padded downsampling conv reads its padded input. */
START_TEST(entries_follow_the_blocks)
{
    lm_graph *g = load_mini();
    lm_entries *e = NULL;
    ck_assert_lm_ok(lm_entries_create(&e, g));
    ck_assert_uint_eq(lm_entries_segment_count(e), 12);
    ck_assert_uint_eq(lm_entries_count(e), 16);
    int seen_identity = 0, seen_down = 0;
    for (size_t i = 0; i < lm_entries_count(e); i++) {
        lm_entry_info r = {.size = sizeof r};
        ck_assert_lm_ok(lm_entries_entry_info(&r, e, i));
        if (r.kernel == 0) {
            ck_assert(r.st == 6 && r.end == 7 && r.depthwise == 1);
            seen_identity = 1;
        }
        if (r.st == 3) {
            ck_assert(r.end == 4 && r.stride == 2 && r.in_height == 9);
            seen_down = 1;
        }
    }
    ck_assert(seen_identity && seen_down);
    lm_entries_destroy(e);
    lm_graph_destroy(g);
}
END_TEST

/* The DDPM U-Net of the zoo: its entries are the authors', row by row, in
 * their order (tests/data/upstream-ddpm/entries.csv). */
START_TEST(ddpm_entries_are_the_authors)
{
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_load(
        &g, lm_test_source_path("examples/models/ddpm_cifar10.yaml")));
    lm_entries *e = NULL;
    ck_assert_lm_ok(lm_entries_create(&e, g));
    ck_assert_uint_eq(lm_entries_segment_count(e), 73);
    char *text = lm_test_read_file(
        lm_test_source_path("tests/data/upstream-ddpm/entries.csv"), NULL);
    char *line = strchr(text, '\n') + 1; /* past the header */
    size_t rows = 0;
    for (; *line; rows++) {
        unsigned long id, st, end, k, stride;
        char dw[8];
        ck_assert_int_eq(sscanf(line, "%lu,%lu,%lu,%lu,%lu,%7[A-Za-z]", &id,
                                &st, &end, &k, &stride, dw), 6);
        ck_assert_uint_eq(id, rows);
        ck_assert_uint_lt(rows, lm_entries_count(e));
        lm_entry_info r = {.size = sizeof r};
        ck_assert_lm_ok(lm_entries_entry_info(&r, e, rows));
        ck_assert_msg(r.st == st && r.end == end && r.kernel == (int64_t)k &&
                          r.stride == (int64_t)stride &&
                          r.depthwise == !strcmp(dw, "True"),
                      "entry %zu: (%zu, %zu, K %lld, s %lld, dw %d), the "
                      "authors' (%lu, %lu, K %lu, s %lu, %s)", rows, r.st,
                      r.end, (long long)r.kernel, (long long)r.stride,
                      r.depthwise, st, end, k, stride, dw);
        line = strchr(line, '\n');
        ck_assert_ptr_nonnull(line);
        line++;
    }
    ck_assert_uint_eq(rows, 98);
    ck_assert_uint_eq(lm_entries_count(e), 98);
    free(text);
    lm_entries_destroy(e);
    lm_graph_destroy(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("graph_unet");
    TCase *tc = tcase_create("unet");
    tcase_add_test(tc, records_describe_every_element);
    tcase_add_test(tc, shapes_follow_pad_upsample_and_concat);
    tcase_add_test(tc, save_load_round_trip);
    tcase_add_test(tc, fingerprint_sees_unet_elements);
    tcase_add_test(tc, validation_names_what_breaks_a_rule);
    tcase_add_test(tc, builder_calls_check_their_arguments);
    tcase_add_test(tc, entries_follow_the_blocks);
    tcase_add_test(tc, ddpm_entries_are_the_authors);
    suite_add_tcase(s, tc);
    return lm_test_run(s);
}
