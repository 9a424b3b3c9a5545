/* Segments and table entries (docs/method.md section 3, 4): reference counts,
 * representative subsets, lookup, files, and a brute-force comparison on
 * random graphs. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "layermerge/entries.h"
#include "layermerge/graph.h"

/* ---- reference networks built through the public graph API ------------ */

static void conv_bn(lm_graph *g, int64_t in, int64_t out, int64_t k,
                    int64_t s, int64_t groups, lm_act act)
{
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV(NULL, in, out, k, s, k / 2, groups, 0), act));
    ck_assert_lm_ok(lm_graph_set_conv_bn(g, lm_graph_conv_count(g), NULL,
                                         1e-5));
}

static void set_barriers(lm_graph *g, const size_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_lm_ok(lm_graph_set_barrier(g, b[i], 1));
}

static void classifier(lm_graph *g, int64_t features)
{
    ck_assert_lm_ok(lm_graph_add_layer_adaptive_avgpool(g, LM_SITE_HEAD, 0, 1, 1));
    ck_assert_lm_ok(lm_graph_add_layer_flatten(g, LM_SITE_HEAD, 0));
    ck_assert_lm_ok(lm_graph_add_layer_linear(g, LM_SITE_HEAD, 0, "fc",
                                              features, 1000, 1));
}

/* torchvision resnet34: stem, 3/4/6/3 basic blocks, 16 skips. */
static lm_graph *build_resnet34(void)
{
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_create(&g, 3, 224, 224));
    ck_assert_lm_ok(lm_graph_add_layer_conv(
        g, LM_SITE_STEM, 0, LM_TEST_CONV("conv1", 3, 64, 7, 2, 3, 1, 0)));
    ck_assert_lm_ok(lm_graph_add_layer_batchnorm(g, LM_SITE_STEM, 0, "bn1",
                                                 64, 1e-5));
    ck_assert_lm_ok(lm_graph_add_layer_act(g, LM_SITE_STEM, 0, LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_add_layer_pool(g, LM_SITE_STEM, 0,
                                            LM_LAYER_MAXPOOL, 3, 2, 1));
    static const int64_t blocks[4] = {3, 4, 6, 3}, width[4] = {64, 128, 256, 512};
    int64_t in = 64;
    for (int l = 0; l < 4; l++)
        for (int64_t b = 0; b < blocks[l]; b++) {
            int64_t s = (l > 0 && b == 0) ? 2 : 1;
            size_t src = lm_graph_conv_count(g);
            conv_bn(g, in, width[l], 3, s, 1, LM_ACT_RELU);
            conv_bn(g, width[l], width[l], 3, 1, 1, LM_ACT_RELU);
            ck_assert_lm_ok(lm_graph_add_skip(g, src, src + 2));
            if (s == 2) {
                size_t k = lm_graph_skip_count(g) - 1;
                ck_assert_lm_ok(lm_graph_set_skip_projection(g, k, NULL, 2, 0));
                ck_assert_lm_ok(lm_graph_set_skip_bn(g, k, NULL, 1e-5));
            }
            in = width[l];
        }
    static const size_t barriers[] = {0, 7, 15, 27};
    set_barriers(g, barriers, 4);
    classifier(g, 512);
    ck_assert_lm_ok(lm_graph_set_name(g, "resnet34"));
    ck_assert_lm_ok(lm_graph_validate(g));
    return g;
}

/* torchvision mobilenet_v2(1.0): 50 trunk convs, 10 skips. */
static lm_graph *build_mobilenetv2(void)
{
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_create(&g, 3, 224, 224));
    ck_assert_lm_ok(lm_graph_add_layer_conv(
        g, LM_SITE_STEM, 0, LM_TEST_CONV(NULL, 3, 32, 3, 2, 1, 1, 0)));
    ck_assert_lm_ok(lm_graph_add_layer_batchnorm(g, LM_SITE_STEM, 0, NULL,
                                                 32, 1e-5));
    ck_assert_lm_ok(lm_graph_add_layer_act(g, LM_SITE_STEM, 0, LM_ACT_RELU6));
    conv_bn(g, 32, 32, 3, 1, 32, LM_ACT_RELU6);
    conv_bn(g, 32, 16, 1, 1, 1, LM_ACT_IDENTITY);
    static const int64_t cfg[6][4] = {{6, 24, 2, 2},  {6, 32, 3, 2},
                                      {6, 64, 4, 2},  {6, 96, 3, 1},
                                      {6, 160, 3, 2}, {6, 320, 1, 1}};
    int64_t in = 16;
    for (int l = 0; l < 6; l++)
        for (int64_t b = 0; b < cfg[l][2]; b++) {
            int64_t s = b == 0 ? cfg[l][3] : 1, hid = in * cfg[l][0];
            size_t src = lm_graph_conv_count(g);
            conv_bn(g, in, hid, 1, 1, 1, LM_ACT_RELU6);
            conv_bn(g, hid, hid, 3, s, hid, LM_ACT_RELU6);
            conv_bn(g, hid, cfg[l][1], 1, 1, 1, LM_ACT_IDENTITY);
            if (s == 1 && in == cfg[l][1])
                ck_assert_lm_ok(lm_graph_add_skip(g, src, src + 3));
            in = cfg[l][1];
        }
    ck_assert_lm_ok(lm_graph_add_layer_conv(
        g, LM_SITE_HEAD, 0, LM_TEST_CONV(NULL, 320, 1280, 1, 1, 0, 1, 0)));
    ck_assert_lm_ok(lm_graph_add_layer_batchnorm(g, LM_SITE_HEAD, 0, NULL,
                                                 1280, 1e-5));
    ck_assert_lm_ok(lm_graph_add_layer_act(g, LM_SITE_HEAD, 0, LM_ACT_RELU6));
    static const size_t barriers[] = {0, 5, 11, 20, 41};
    set_barriers(g, barriers, 5);
    classifier(g, 1280);
    ck_assert_lm_ok(lm_graph_set_name(g, "mobilenetv2"));
    ck_assert_lm_ok(lm_graph_validate(g));
    return g;
}

typedef struct counts {
    size_t segments, entries, depthwise;
    int64_t max_kernel;
} counts;

static counts count_of(const lm_entries *e)
{
    counts c = {lm_entries_segment_count(e), lm_entries_count(e), 0, 0};
    for (size_t i = 0; i < c.entries; i++) {
        lm_entry_info info = {.size = sizeof info};
        ck_assert_lm_ok(lm_entries_entry_info(&info, e, i));
        ck_assert_uint_eq(info.id, i);
        c.depthwise += info.depthwise && !info.identity;
        if (info.kernel > c.max_kernel)
            c.max_kernel = info.kernel;
    }
    return c;
}

static void check_resnet34(const lm_graph *g)
{
    lm_entries *e = NULL;
    ck_assert_lm_ok(lm_entries_create(&e, g));
    counts c = count_of(e);
    ck_assert_uint_eq(c.segments, 62);
    ck_assert_uint_eq(c.entries, 150);
    ck_assert_int_eq(c.max_kernel, 21);
    ck_assert_uint_eq(c.depthwise, 0);
    ck_assert_str_eq(lm_entries_fingerprint(e), lm_graph_fingerprint(g));
    lm_entries_destroy(e);
}

static void check_mobilenetv2(const lm_graph *g)
{
    lm_entries *e = NULL;
    ck_assert_lm_ok(lm_entries_create(&e, g));
    counts c = count_of(e);
    ck_assert_uint_eq(c.segments, 171);
    ck_assert_uint_eq(c.entries, 391);
    ck_assert_int_eq(c.max_kernel, 15);
    ck_assert_uint_eq(c.depthwise, 17);
    lm_entries_destroy(e);
}

static int refuse(const void *data, size_t len, void *userdata)
{
    (void)data;
    (void)len;
    (void)userdata;
    return 1;
}

START_TEST(resnet34_reference_counts)
{
    lm_graph *g = build_resnet34();
    check_resnet34(g);
    lm_graph_destroy(g);
}
END_TEST

START_TEST(mobilenetv2_reference_counts)
{
    lm_graph *g = build_mobilenetv2();
    check_mobilenetv2(g);
    lm_graph_destroy(g);
}
END_TEST

START_TEST(zoo_files_give_reference_counts)
{
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_load(&g, lm_test_source_path(
                                          "examples/models/resnet34.yaml")));
    check_resnet34(g);
    lm_graph_destroy(g);
    ck_assert_lm_ok(lm_graph_load(&g, lm_test_source_path(
                                          "examples/models/mobilenetv2.yaml")));
    check_mobilenetv2(g);
    lm_graph_destroy(g);
}
END_TEST

/* The spans of the authors' measured MobileNetV2 table are exactly our
 * valid segments, in our order. */
START_TEST(mobilenetv2_segments_match_upstream_table)
{
    lm_graph *g = build_mobilenetv2();
    lm_entries *e = NULL;
    ck_assert_lm_ok(lm_entries_create(&e, g));
    FILE *f = fopen(lm_test_data_path(
                        "upstream-kim23/mbv2_1.0/time_fish_gpu1_1228.csv"), "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, "id,st,end,time,stdev\n");
    size_t rows = 0, id, st, end;
    while (fgets(line, sizeof line, f)) {
        ck_assert_int_eq(sscanf(line, "%zu,%zu,%zu,", &id, &st, &end), 3);
        ck_assert_uint_eq(id, rows);
        lm_segment_info si = {.size = sizeof si};
        ck_assert_lm_ok(lm_entries_segment_info(&si, e, rows));
        ck_assert_uint_eq(si.st, st);
        ck_assert_uint_eq(si.end, end);
        rows++;
    }
    fclose(f);
    ck_assert_uint_eq(rows, 171);
    lm_entries_destroy(e);
    lm_graph_destroy(g);
}
END_TEST

START_TEST(resnet34_entry_records)
{
    lm_graph *g = build_resnet34();
    lm_entries *e = NULL;
    ck_assert_lm_ok(lm_entries_create(&e, g));
    /* Segment (6, 8) crosses barrier 7, (7, 9) cuts skip (8, 10); (8, 10)
     * is the second block of layer2: 128 channels at 28x28. */
    size_t id = 0;
    ck_assert_lm_status(lm_entries_find(&id, e, LM_TEST_KEY(6, 8, 5, 2, 0)),
                        LM_ERR_NOT_FOUND);
    ck_assert_lm_status(lm_entries_find(&id, e, LM_TEST_KEY(7, 9, 5, 1, 0)),
                        LM_ERR_NOT_FOUND);
    ck_assert_lm_ok(lm_entries_find(&id, e, LM_TEST_KEY(8, 10, 5, 1, 0)));
    lm_entry_info info = {.size = sizeof info};
    ck_assert_lm_ok(lm_entries_entry_info(&info, e, id));
    ck_assert_uint_eq(info.st, 8);
    ck_assert_uint_eq(info.end, 10);
    ck_assert_int_eq(info.in_channels, 128);
    ck_assert_int_eq(info.out_channels, 128);
    ck_assert_int_eq(info.in_height, 28);
    ck_assert_int_eq(info.in_width, 28);
    ck_assert_int_eq(info.padding, 2);
    ck_assert_uint_eq(info.n_kept, 2);
    ck_assert_uint_eq(info.kept[0], 9);
    ck_assert_uint_eq(info.kept[1], 10);
    /* The strided first conv of layer2 alone: input 64 x 56 x 56. */
    ck_assert_lm_ok(lm_entries_find_original(&id, e, 7));
    ck_assert_lm_ok(lm_entries_entry_info(&info, e, id));
    ck_assert_uint_eq(info.st, 6);
    ck_assert_int_eq(info.kernel, 3);
    ck_assert_int_eq(info.stride, 2);
    ck_assert_int_eq(info.in_channels, 64);
    ck_assert_int_eq(info.out_channels, 128);
    ck_assert_int_eq(info.in_height, 56);
    ck_assert_uint_eq(info.n_kept, 1);
    ck_assert_uint_eq(info.kept[0], 7);
    for (size_t p = 1; p <= 32; p++) {
        ck_assert_lm_ok(lm_entries_find_original(&id, e, p));
        ck_assert_lm_ok(lm_entries_entry_info(&info, e, id));
        ck_assert_uint_eq(info.end, p);
        ck_assert_uint_eq(info.st + 1, p);
        ck_assert_int_eq(info.kernel, 3);
    }
    ck_assert_lm_status(lm_entries_find_original(&id, e, 0),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_entries_find_original(&id, e, 33),
                        LM_ERR_INVALID_ARG);
    lm_entries_destroy(e);
    lm_graph_destroy(g);
}
END_TEST

/* ---- small hand-made graphs ------------------------------------------- */

/* A chain of convs on 8 x 8 maps; kernel 0 in `k` ends the list. */
static lm_graph *chain(const int64_t (*c)[4], size_t n)
{
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_create(&g, c[0][0], 8, 8));
    for (size_t i = 0; i < n; i++) {
        /* {in, out, kernel, stride}; depthwise when out is negative. */
        int64_t out = c[i][1] < 0 ? -c[i][1] : c[i][1];
        int64_t groups = c[i][1] < 0 ? out : 1;
        ck_assert_lm_ok(
            lm_graph_add_conv(g, LM_TEST_CONV(NULL, c[i][0], out, c[i][2],
                                           c[i][3], c[i][2] / 2, groups, 0),
                              LM_ACT_RELU));
    }
    return g;
}

static void expect_kept(const lm_entries *e, size_t id, const size_t *want,
                        size_t n)
{
    lm_entry_info info = {.size = sizeof info};
    ck_assert_lm_ok(lm_entries_entry_info(&info, e, id));
    ck_assert_uint_eq(info.n_kept, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_uint_eq(info.kept[i], want[i]);
}

static const int64_t three[3][4] = {
    {16, 16, 3, 1}, {16, 16, 1, 1}, {16, 16, 3, 1}};

START_TEST(plain_rule_keeps_earliest_convs)
{
    lm_graph *g = chain(three, 3);
    ck_assert_lm_ok(lm_graph_validate(g));
    lm_entries *e = NULL;
    ck_assert_lm_ok(lm_entries_create(&e, g));
    /* Segment (0, 3): K=1 {2}, K=3 {1},{3},{1,2},{2,3}, K=5 {1,3},{1,2,3}. */
    size_t id = 0;
    ck_assert_lm_ok(lm_entries_find(&id, e, LM_TEST_KEY(0, 3, 1, 1, 0)));
    expect_kept(e, id, (const size_t[]){2}, 1);
    ck_assert_lm_ok(lm_entries_find(&id, e, LM_TEST_KEY(0, 3, 3, 1, 0)));
    expect_kept(e, id, (const size_t[]){1, 2}, 2);
    ck_assert_lm_ok(lm_entries_find(&id, e, LM_TEST_KEY(0, 3, 5, 1, 0)));
    expect_kept(e, id, (const size_t[]){1, 2, 3}, 3);
    lm_segment_info si = {.size = sizeof si};
    ck_assert_lm_ok(lm_entries_segment_info(&si, e, 2));
    ck_assert_uint_eq(si.st, 0);
    ck_assert_uint_eq(si.end, 3);
    ck_assert_uint_eq(si.n_entries, 3);
    ck_assert_uint_eq(si.first_entry, id - 2); /* ordered by K */
    lm_entries_destroy(e);
    lm_graph_destroy(g);
}
END_TEST

/* docs/method.md section 4, last bullet: subsets of every size compete for one
 * (K, dw). */
START_TEST(scored_rule_takes_largest_sum_over_all_sizes)
{
    lm_graph *g = chain(three, 3);
    ck_assert_lm_ok(lm_graph_validate(g));
    lm_entries *e = NULL;
    size_t id = 0;
    /* K = 3: {1}=1, {3}=2, {1,2}=4, {2,3}=5. */
    ck_assert_lm_ok(lm_entries_create_scored(&e, g, (const double[]){1, 3, 2}, 3));
    ck_assert_lm_ok(lm_entries_find(&id, e, LM_TEST_KEY(0, 3, 3, 1, 0)));
    expect_kept(e, id, (const size_t[]){2, 3}, 2);
    lm_entries_destroy(e);
    /* K = 3: {3}=9 beats {1,2}=5 and {1}=5 although it keeps fewer. */
    ck_assert_lm_ok(lm_entries_create_scored(&e, g, (const double[]){5, 0, 9}, 3));
    ck_assert_lm_ok(lm_entries_find(&id, e, LM_TEST_KEY(0, 3, 3, 1, 0)));
    expect_kept(e, id, (const size_t[]){2, 3}, 2); /* {2,3}=9 ties {3}: earliest */
    ck_assert_lm_ok(lm_entries_find(&id, e, LM_TEST_KEY(1, 3, 3, 1, 0)));
    expect_kept(e, id, (const size_t[]){2, 3}, 2);
    lm_entries_destroy(e);
    ck_assert_lm_ok(lm_entries_create_scored(&e, g, (const double[]){5, 0, 4}, 3));
    ck_assert_lm_ok(lm_entries_find(&id, e, LM_TEST_KEY(0, 3, 3, 1, 0)));
    expect_kept(e, id, (const size_t[]){1, 2}, 2);
    lm_entries_destroy(e);
    lm_graph_destroy(g);
}
END_TEST

START_TEST(scored_rule_errors)
{
    lm_graph *g = chain(three, 3);
    lm_entries *e = (lm_entries *)1;
    double s[3] = {1, 2, 3};
    ck_assert_lm_status(lm_entries_create_scored(&e, g, s, 3), LM_ERR_STATE);
    ck_assert_ptr_null(e);
    ck_assert_lm_ok(lm_graph_validate(g));
    ck_assert_lm_status(lm_entries_create_scored(&e, g, s, 2),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_entries_create_scored(&e, g, NULL, 3),
                        LM_ERR_INVALID_ARG);
    s[1] = NAN;
    ck_assert_lm_status(lm_entries_create_scored(&e, g, s, 3), LM_ERR_VALUE);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "conv 2"));
    s[1] = -1;
    ck_assert_lm_status(lm_entries_create_scored(&e, g, s, 3), LM_ERR_VALUE);
    ck_assert_ptr_null(e);
    lm_graph_destroy(g);
}
END_TEST

START_TEST(identity_option_entries)
{
    /* conv 2 changes channels: irreducible, no identity for segments
     * containing it. */
    static const int64_t c[3][4] = {
        {16, 16, 3, 1}, {16, 32, 3, 1}, {32, -32, 3, 1}};
    lm_graph *g = chain(c, 3);
    ck_assert_lm_ok(lm_graph_set_identity_option(g, 1, 1));
    ck_assert_lm_ok(lm_graph_set_identity_option(g, 2, 1));
    ck_assert_lm_ok(lm_graph_set_identity_option(g, 3, 1));
    ck_assert_lm_ok(lm_graph_validate(g));
    lm_entries *e = NULL;
    ck_assert_lm_ok(lm_entries_create(&e, g));
    size_t id = 0;
    lm_entry_info info = {.size = sizeof info};
    /* (0, 1): identity first, then K = 3. */
    ck_assert_lm_ok(lm_entries_find(&id, e, LM_TEST_KEY(0, 1, 0, 1, 1)));
    ck_assert_uint_eq(id, 0);
    ck_assert_lm_ok(lm_entries_entry_info(&info, e, id));
    ck_assert_int_eq(info.identity, 1);
    ck_assert_int_eq(info.depthwise, 1);
    ck_assert_int_eq(info.padding, 0);
    ck_assert_uint_eq(info.n_kept, 0);
    ck_assert_ptr_null(info.kept);
    ck_assert_lm_ok(lm_entries_find(&id, e, LM_TEST_KEY(0, 1, 3, 1, 0)));
    ck_assert_uint_eq(id, 1);
    ck_assert_lm_status(lm_entries_find(&id, e, LM_TEST_KEY(1, 2, 0, 1, 1)),
                        LM_ERR_NOT_FOUND);
    ck_assert_lm_status(lm_entries_find(&id, e, LM_TEST_KEY(0, 2, 0, 1, 1)),
                        LM_ERR_NOT_FOUND);
    /* (2, 3): a depthwise conv: identity, then K = 3 depthwise. */
    ck_assert_lm_ok(lm_entries_find(&id, e, LM_TEST_KEY(2, 3, 0, 1, 1)));
    ck_assert_lm_ok(lm_entries_find(&id, e, LM_TEST_KEY(2, 3, 3, 1, 1)));
    ck_assert_lm_ok(lm_entries_entry_info(&info, e, id));
    ck_assert_int_eq(info.identity, 0);
    ck_assert_int_eq(info.depthwise, 1);
    /* (1, 3): dense conv 2 kept: dense K=3 and K=5; never depthwise. */
    ck_assert_lm_ok(lm_entries_find(&id, e, LM_TEST_KEY(1, 3, 3, 1, 0)));
    ck_assert_lm_ok(lm_entries_find(&id, e, LM_TEST_KEY(1, 3, 5, 1, 0)));
    ck_assert_lm_status(lm_entries_find(&id, e, LM_TEST_KEY(1, 3, 3, 1, 1)),
                        LM_ERR_NOT_FOUND);
    lm_entries_destroy(e);
    lm_graph_destroy(g);
}
END_TEST

START_TEST(stride_rule_prunes_or_empties_segments)
{
    static const int64_t c[4][4] = {
        {16, 16, 3, 2}, {16, 16, 3, 1}, {16, 32, 1, 1}, {32, 64, 3, 1}};
    lm_graph *g = chain(c, 4);
    ck_assert_lm_ok(lm_graph_validate(g));
    lm_entries *e = NULL;
    ck_assert_lm_ok(lm_entries_create(&e, g));
    size_t id = 0;
    lm_segment_info si = {.size = sizeof si};
    /* (0, 3): conv 2 (3x3 after the strided conv) must go. */
    ck_assert_lm_ok(lm_entries_find(&id, e, LM_TEST_KEY(0, 3, 3, 2, 0)));
    expect_kept(e, id, (const size_t[]){1, 3}, 2);
    ck_assert_lm_ok(lm_entries_segment_info(&si, e, 2));
    ck_assert_uint_eq(si.end, 3);
    ck_assert_uint_eq(si.n_entries, 1);
    /* (0, 4): irreducible 3x3 conv 4 after the strided conv: no option,
     * but the segment is still listed. */
    ck_assert_lm_ok(lm_entries_segment_info(&si, e, 3));
    ck_assert_uint_eq(si.st, 0);
    ck_assert_uint_eq(si.end, 4);
    ck_assert_uint_eq(si.n_entries, 0);
    ck_assert_uint_eq(lm_entries_segment_count(e), 10);
    lm_entries_destroy(e);
    lm_graph_destroy(g);
}
END_TEST

START_TEST(find_and_argument_errors)
{
    lm_graph *g = chain(three, 3);
    lm_entries *e = (lm_entries *)1;
    ck_assert_lm_status(lm_entries_create(&e, g), LM_ERR_STATE);
    ck_assert_ptr_null(e);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "validate"));
    ck_assert_lm_status(lm_entries_create(NULL, g), LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_entries_create(&e, NULL), LM_ERR_INVALID_ARG);
    ck_assert_lm_ok(lm_graph_validate(g));
    ck_assert_lm_ok(lm_entries_create(&e, g));
    /* The list outlives the graph. */
    char fp[64];
    snprintf(fp, sizeof fp, "%s", lm_graph_fingerprint(g));
    lm_graph_destroy(g);
    ck_assert_str_eq(lm_entries_fingerprint(e), fp);
    ck_assert_uint_eq(lm_entries_conv_count(e), 3);
    size_t id = 0;
    ck_assert_lm_status(lm_entries_find(&id, e, LM_TEST_KEY(0, 3, 7, 1, 0)),
                        LM_ERR_NOT_FOUND);
    ck_assert_str_eq(lm_last_error(), "no entry with key (st=0, end=3, "
                                      "ker=7, str=1, is_dw=0)");
    ck_assert_lm_status(lm_entries_find(&id, e, LM_TEST_KEY(2, 9, 3, 1, 0)),
                        LM_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "st=2, end=9"));
    ck_assert_lm_status(lm_entries_find(NULL, e, LM_TEST_KEY(0, 1, 3, 1, 0)),
                        LM_ERR_INVALID_ARG);
    lm_entry_info info = {.size = sizeof info};
    ck_assert_lm_status(lm_entries_entry_info(&info, e, lm_entries_count(e)),
                        LM_ERR_INVALID_ARG);
    info.size = 0;
    ck_assert_lm_status(lm_entries_entry_info(&info, e, 0),
                        LM_ERR_INVALID_ARG);
    /* An older, shorter record gets only its own fields. */
    struct { size_t size; size_t id; size_t segment; size_t guard; } old;
    old.size = offsetof(lm_entry_info, st);
    old.guard = 12345;
    ck_assert_lm_ok(
        lm_entries_entry_info((lm_entry_info *)(void *)&old, e, 1));
    ck_assert_uint_eq(old.id, 1);
    ck_assert_uint_eq(old.guard, 12345);
    lm_segment_info si = {.size = sizeof si};
    ck_assert_lm_status(lm_entries_segment_info(&si, e, 99),
                        LM_ERR_INVALID_ARG);
    ck_assert_uint_eq(lm_entries_count(NULL), 0);
    ck_assert_uint_eq(lm_entries_segment_count(NULL), 0);
    ck_assert_str_eq(lm_entries_fingerprint(NULL), "");
    lm_entries_destroy(e);
    lm_entries_destroy(NULL);
}
END_TEST

/* ---- files ------------------------------------------------------------ */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = calloc(1, (size_t)n + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return buf;
}

START_TEST(csv_and_yaml_files)
{
    static const int64_t c[2][4] = {{16, 16, 3, 1}, {16, 16, 1, 1}};
    lm_graph *g = chain(c, 2);
    ck_assert_lm_ok(lm_graph_set_name(g, "tiny: net"));
    ck_assert_lm_ok(lm_graph_set_identity_option(g, 2, 1));
    ck_assert_lm_ok(lm_graph_validate(g));
    lm_entries *e = NULL;
    ck_assert_lm_ok(lm_entries_create(&e, g));
    char *dir = lm_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/entries.csv", dir);
    ck_assert_lm_ok(lm_entries_save(e, path, LM_ENTRIES_CSV));
    char *text = slurp(path);
    ck_assert_str_eq(text,
        "id,st,end,ker,str,is_dw,in_ch,out_ch,in_h,in_w,pad,convs\n"
        "0,0,1,3,1,0,16,16,8,8,1,1\n"
        "1,0,2,0,1,1,16,16,8,8,0,\n"
        "2,0,2,1,1,0,16,16,8,8,0,2\n"
        "3,0,2,3,1,0,16,16,8,8,1,1 2\n"
        "4,1,2,0,1,1,16,16,8,8,0,\n"
        "5,1,2,1,1,0,16,16,8,8,0,2\n");
    free(text);
    snprintf(path, sizeof path, "%s/entries.yaml", dir);
    ck_assert_lm_ok(lm_entries_save(e, path, LM_ENTRIES_YAML));
    text = slurp(path);
    ck_assert_ptr_nonnull(strstr(text, "format: layermerge-entries\n"));
    ck_assert_ptr_nonnull(strstr(text, "graph: \"tiny: net\"\n"));
    ck_assert_ptr_nonnull(strstr(text, lm_entries_fingerprint(e)));
    ck_assert_ptr_nonnull(strstr(text, "{st: 0, end: 2, first_entry: 1, entries: 3}"));
    ck_assert_ptr_nonnull(strstr(text, "{id: 3, st: 0, end: 2, kernel: 3, "
                                       "stride: 1, padding: 1, depthwise: false, "
                                       "identity: false, in_channels: 16, "
                                       "out_channels: 16, in_height: 8, "
                                       "in_width: 8, convs: [1, 2]}"));
    ck_assert_ptr_nonnull(strstr(text, "identity: true, in_channels: 16, "
                                       "out_channels: 16, in_height: 8, "
                                       "in_width: 8, convs: []}"));
    free(text);
    ck_assert_lm_status(lm_entries_save(e, path, (lm_entries_format)9),
                        LM_ERR_INVALID_ARG);
    snprintf(path, sizeof path, "%s/missing/entries.csv", dir);
    ck_assert_lm_status(lm_entries_save(e, path, LM_ENTRIES_CSV), LM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "missing"));
    ck_assert_lm_status(lm_entries_write(e, LM_ENTRIES_CSV, NULL, NULL),
                        LM_ERR_INVALID_ARG);
    /* The write callback gets the same bytes the file holds; a callback
     * that refuses them fails the call with LM_ERR_IO. */
    lm_test_collected out = {0};
    ck_assert_lm_ok(
        lm_entries_write(e, LM_ENTRIES_YAML, lm_test_collect, &out));
    ck_assert_ptr_nonnull(out.data);
    ck_assert_ptr_nonnull(strstr(out.data, "format: layermerge-entries"));
    ck_assert_ptr_nonnull(strstr(out.data, "convs: []}"));
    free(out.data);
    ck_assert_lm_status(lm_entries_write(e, LM_ENTRIES_CSV, refuse, NULL),
                        LM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "write callback"));
    ck_assert_lm_status(lm_entries_write(e, (lm_entries_format)9,
                                         lm_test_collect, &out),
                        LM_ERR_INVALID_ARG);
    lm_test_rmtree(dir);
    lm_entries_destroy(e);
    lm_graph_destroy(g);
}
END_TEST

/* ---- brute force on random graphs ------------------------------------- */

typedef struct rconv {
    int64_t in, out, k, s, pad;
    int dw;
    double score;
} rconv;

typedef struct rgraph {
    size_t n;
    rconv c[9];
    int barrier[9];
    int identity[9];
    size_t skip_s[12], skip_t[12], n_skips;
} rgraph;

static unsigned rnd(unsigned *seed, unsigned n)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 16) % n;
}

static void random_graph(rgraph *r, unsigned *seed)
{
    memset(r, 0, sizeof *r);
    r->n = 1 + rnd(seed, 8);
    int64_t ch[9], hw[9];
    ch[0] = 4;
    hw[0] = 16;
    for (size_t i = 0; i < r->n; i++) {
        rconv *c = &r->c[i];
        static const int64_t ks[3] = {1, 3, 5};
        c->in = ch[i];
        c->out = rnd(seed, 4) == 0 ? (ch[i] == 4 ? 8 : 4) : ch[i];
        c->k = ks[rnd(seed, 3)];
        c->s = (rnd(seed, 6) == 0 && hw[i] > 2) ? 2 : 1;
        c->pad = c->k / 2;
        c->dw = c->out == c->in && rnd(seed, 3) == 0;
        c->score = (double)rnd(seed, 4);
        ch[i + 1] = c->out;
        hw[i + 1] = (hw[i] + 2 * c->pad - c->k) / c->s + 1;
    }
    for (size_t p = 0; p <= r->n; p++) {
        r->barrier[p] = rnd(seed, 5) == 0;
        r->identity[p] = p > 0 && rnd(seed, 3) == 0;
    }
    /* Random skips between positions of equal shape (not necessarily
     * nested with each other). */
    size_t tries = rnd(seed, 5);
    for (size_t i = 0; i < tries; i++) {
        size_t s = rnd(seed, (unsigned)r->n), t = s + 1 + rnd(seed, (unsigned)(r->n - s));
        int repeated = 0;
        for (size_t j = 0; j < r->n_skips; j++)
            repeated |= r->skip_s[j] == s && r->skip_t[j] == t;
        if (!repeated && ch[s] == ch[t] && hw[s] == hw[t]) {
            r->skip_s[r->n_skips] = s;
            r->skip_t[r->n_skips++] = t;
        }
    }
}

static lm_graph *graph_of(const rgraph *r)
{
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_create(&g, 4, 16, 16));
    for (size_t i = 0; i < r->n; i++)
        ck_assert_lm_ok(lm_graph_add_conv(
            g,
            LM_TEST_CONV(NULL, r->c[i].in, r->c[i].out, r->c[i].k, r->c[i].s,
                         r->c[i].pad, r->c[i].dw ? r->c[i].in : 1, 0),
            LM_ACT_RELU));
    for (size_t p = 0; p <= r->n; p++) {
        ck_assert_lm_ok(lm_graph_set_barrier(g, p, r->barrier[p]));
        if (p > 0)
            ck_assert_lm_ok(lm_graph_set_identity_option(g, p, r->identity[p]));
    }
    for (size_t i = 0; i < r->n_skips; i++)
        ck_assert_lm_ok(lm_graph_add_skip(g, r->skip_s[i], r->skip_t[i]));
    ck_assert_lm_ok(lm_graph_validate(g));
    return g;
}

static int naive_valid(const rgraph *r, size_t st, size_t end)
{
    for (size_t b = st + 1; b < end; b++)
        if (r->barrier[b])
            return 0;
    for (size_t i = 0; i < r->n_skips; i++) {
        size_t s = r->skip_s[i], t = r->skip_t[i];
        if (!((st <= s && t <= end) || (s <= st && end <= t) || end <= s ||
              t <= st))
            return 0;
    }
    return 1;
}

typedef struct naive_opt {
    int found;
    unsigned mask;
    double score;
} naive_opt;

/* Bit (n - 1 - i) stands for the segment's i-th conv, so that a larger
 * mask keeps the earlier conv at the first difference. */
static int naive_option(const rgraph *r, size_t st, size_t n, unsigned mask,
                        int64_t *kernel, int *dw, double *score)
{
    int64_t k = 1;
    int all_dw = 1, strided = 0;
    *score = 0;
    for (size_t i = 0; i < n; i++) {
        const rconv *c = &r->c[st + i];
        int kept = (mask >> (n - 1 - i)) & 1;
        int irreducible = c->in != c->out || c->s > 1;
        if (irreducible && !kept)
            return 0;
        if (!kept)
            continue;
        if (strided && c->k > 1)
            return 0;
        strided |= c->s > 1;
        k += c->k - 1;
        all_dw &= c->dw;
        *score += c->score;
    }
    *kernel = mask ? k : 0;
    *dw = all_dw;
    return 1;
}

static void check_segment(const rgraph *r, const lm_entries *e, size_t seg,
                          size_t st, size_t end, int scored)
{
    size_t n = end - st;
    naive_opt best[64][2];
    memset(best, 0, sizeof best);
    for (unsigned mask = 0; mask < (1u << n); mask++) {
        int64_t k;
        int dw;
        double score;
        if (!naive_option(r, st, n, mask, &k, &dw, &score))
            continue;
        if (!mask && !r->identity[end])
            continue;
        if (!scored)
            score = 0;
        naive_opt *b = &best[k][dw];
        if (!b->found || score > b->score ||
            (score == b->score && mask > b->mask))
            *b = (naive_opt){1, mask, score};
    }
    lm_segment_info si = {.size = sizeof si};
    ck_assert_lm_ok(lm_entries_segment_info(&si, e, seg));
    ck_assert_uint_eq(si.st, st);
    ck_assert_uint_eq(si.end, end);
    size_t id = si.first_entry;
    for (int64_t k = 0; k < 64; k++)
        for (int dw = 0; dw <= 1; dw++) {
            if (!best[k][dw].found)
                continue;
            ck_assert_uint_lt(id, si.first_entry + si.n_entries);
            lm_entry_info info = {.size = sizeof info};
            ck_assert_lm_ok(lm_entries_entry_info(&info, e, id++));
            ck_assert_int_eq(info.kernel, k);
            ck_assert_int_eq(info.depthwise, dw);
            ck_assert_int_eq(info.identity, k == 0);
            int64_t stride = 1, pad = 0;
            size_t m = 0;
            for (size_t i = 0; i < n; i++)
                if ((best[k][dw].mask >> (n - 1 - i)) & 1) {
                    ck_assert_uint_lt(m, info.n_kept);
                    ck_assert_uint_eq(info.kept[m++], st + 1 + i);
                    stride *= r->c[st + i].s;
                    pad += r->c[st + i].pad;
                }
            ck_assert_uint_eq(m, info.n_kept);
            ck_assert_int_eq(info.stride, stride);
            ck_assert_int_eq(info.padding, pad);
            ck_assert_int_eq(info.in_channels, r->c[st].in);
            ck_assert_int_eq(info.out_channels, r->c[end - 1].out);
        }
    ck_assert_uint_eq(id, si.first_entry + si.n_entries);
}

static void brute_force_one(const rgraph *r, int scored)
{
    lm_graph *g = graph_of(r);
    lm_entries *e = NULL;
    double scores[9];
    for (size_t i = 0; i < r->n; i++)
        scores[i] = r->c[i].score;
    if (scored)
        ck_assert_lm_ok(lm_entries_create_scored(&e, g, scores, r->n));
    else
        ck_assert_lm_ok(lm_entries_create(&e, g));
    lm_graph_destroy(g);
    size_t seg = 0;
    for (size_t st = 0; st < r->n; st++)
        for (size_t end = st + 1; end <= r->n; end++)
            if (naive_valid(r, st, end))
                check_segment(r, e, seg++, st, end, scored);
    ck_assert_uint_eq(lm_entries_segment_count(e), seg);
    lm_entries_destroy(e);
}

START_TEST(brute_force_random_graphs)
{
    unsigned seed = 20240601u;
    for (int trial = 0; trial < 400; trial++) {
        rgraph r;
        random_graph(&r, &seed);
        brute_force_one(&r, trial % 2);
    }
}
END_TEST

/* A segment of 24 reducible convs: far beyond enumeration of subsets. */
START_TEST(long_segment_is_fast_and_exact)
{
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_create(&g, 8, 8, 8));
    for (int i = 0; i < 24; i++)
        ck_assert_lm_ok(lm_graph_add_conv(
            g, LM_TEST_CONV(NULL, 8, 8, i % 3 == 0 ? 1 : 3, 1,
                         (i % 3 == 0 ? 1 : 3) / 2, i % 2 ? 8 : 1, 0),
            LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_validate(g));
    lm_entries *e = NULL;
    ck_assert_lm_ok(lm_entries_create(&e, g));
    ck_assert_uint_eq(lm_entries_segment_count(e), 24 * 25 / 2);
    /* (0, 24): 16 3x3 convs, K = 1, 3, ..., 33; dense and depthwise. */
    size_t id = 0;
    ck_assert_lm_ok(lm_entries_find(&id, e, LM_TEST_KEY(0, 24, 33, 1, 0)));
    lm_entry_info info = {.size = sizeof info};
    ck_assert_lm_ok(lm_entries_entry_info(&info, e, id));
    ck_assert_uint_eq(info.n_kept, 24);
    /* Depthwise convs are the odd ones (2, 4, ...), 3x3 unless i % 3 == 0:
     * 8 of them are 3x3, so the largest depthwise K is 17. */
    ck_assert_lm_ok(lm_entries_find(&id, e, LM_TEST_KEY(0, 24, 17, 1, 1)));
    ck_assert_lm_status(lm_entries_find(&id, e, LM_TEST_KEY(0, 24, 19, 1, 1)),
                        LM_ERR_NOT_FOUND);
    lm_entries_destroy(e);
    lm_graph_destroy(g);
}
END_TEST

static Suite *entries_suite(void)
{
    Suite *s = suite_create("entries");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, resnet34_reference_counts);
    tcase_add_test(tc, mobilenetv2_reference_counts);
    tcase_add_test(tc, zoo_files_give_reference_counts);
    tcase_add_test(tc, mobilenetv2_segments_match_upstream_table);
    tcase_add_test(tc, resnet34_entry_records);
    tcase_add_test(tc, plain_rule_keeps_earliest_convs);
    tcase_add_test(tc, scored_rule_takes_largest_sum_over_all_sizes);
    tcase_add_test(tc, scored_rule_errors);
    tcase_add_test(tc, identity_option_entries);
    tcase_add_test(tc, stride_rule_prunes_or_empties_segments);
    tcase_add_test(tc, find_and_argument_errors);
    tcase_add_test(tc, csv_and_yaml_files);
    tcase_add_test(tc, brute_force_random_graphs);
    tcase_add_test(tc, long_segment_is_fast_and_exact);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return lm_test_run(entries_suite());
}
