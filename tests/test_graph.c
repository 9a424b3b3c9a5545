/* The graph built through the API: shapes, validation errors, records,
 * the validated state and the fingerprint. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "layermerge/graph.h"
#include "graph/graph_query.h"

/* A small ResNet: the ResNet stem (224 -> 112 -> 56), two stages of two
 * basic blocks (64 then 128 channels), the classifier head. */
static lm_graph *resnet_like(void)
{
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_create(&g, 3, 224, 224));
    ck_assert_lm_ok(lm_graph_set_name(g, "resnet-mini"));
    ck_assert_lm_ok(lm_graph_add_layer_conv(
        g, LM_SITE_STEM, 0, LM_TEST_CONV("conv1", 3, 64, 7, 2, 3, 1, 0)));
    ck_assert_lm_ok(lm_graph_add_layer_batchnorm(g, LM_SITE_STEM, 0, "bn1", 64,
                                                 1e-5));
    ck_assert_lm_ok(lm_graph_add_layer_act(g, LM_SITE_STEM, 0, LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_add_layer_pool(g, LM_SITE_STEM, 0,
                                            LM_LAYER_MAXPOOL, 3, 2, 1));
    const int64_t ch[] = {64, 64, 64, 64, 128, 128, 128, 128};
    int64_t in = 64;
    for (size_t i = 0; i < 8; i++) {
        char name[32];
        snprintf(name, sizeof name, "layer%zu.%zu.conv%zu", i / 4 + 1,
                 i / 2 % 2, i % 2 + 1);
        int64_t stride = i == 4 ? 2 : 1;
        ck_assert_lm_ok(lm_graph_add_conv(
            g, LM_TEST_CONV(name, in, ch[i], 3, stride, 1, 1, 0),
            LM_ACT_RELU));
        snprintf(name, sizeof name, "layer%zu.%zu.bn%zu", i / 4 + 1,
                 i / 2 % 2, i % 2 + 1);
        ck_assert_lm_ok(lm_graph_set_conv_bn(g, i + 1, name, 1e-5));
        in = ch[i];
    }
    for (size_t s = 0; s < 8; s += 2)
        ck_assert_lm_ok(lm_graph_add_skip(g, s, s + 2));
    ck_assert_lm_ok(lm_graph_set_skip_projection(g, 2, "layer2.0.downsample.0",
                                                 2, 0));
    ck_assert_lm_ok(lm_graph_set_skip_bn(g, 2, "layer2.0.downsample.1", 1e-5));
    ck_assert_lm_ok(lm_graph_set_barrier(g, 0, 1));
    ck_assert_lm_ok(lm_graph_set_barrier(g, 5, 1));
    ck_assert_lm_ok(lm_graph_add_layer_adaptive_avgpool(g, LM_SITE_HEAD, 0, 1, 1));
    ck_assert_lm_ok(lm_graph_add_layer_flatten(g, LM_SITE_HEAD, 0));
    ck_assert_lm_ok(lm_graph_add_layer_linear(g, LM_SITE_HEAD, 0, "fc", 128,
                                              10, 1));
    return g;
}

/* MobileNetV2-like: a stride-2 stem, an expansion-1 block, then two
 * inverted residuals (expand, depthwise, linear projection), the second
 * with a skip between identity positions. */
static lm_graph *mobilenet_like(void)
{
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_create(&g, 3, 32, 32));
    ck_assert_lm_ok(lm_graph_add_layer_conv(
        g, LM_SITE_STEM, 0,
        LM_TEST_CONV("features.0.0", 3, 32, 3, 2, 1, 1, 0)));
    ck_assert_lm_ok(lm_graph_add_layer_act(g, LM_SITE_STEM, 0, LM_ACT_RELU6));
    struct { int64_t in, out, k, s, groups; lm_act act; } c[] = {
        {32, 32, 3, 1, 32, LM_ACT_RELU6},   /* 1: dw */
        {32, 16, 1, 1, 1, LM_ACT_IDENTITY}, /* 2: project */
        {16, 96, 1, 1, 1, LM_ACT_RELU6},    /* 3: expand */
        {96, 96, 3, 2, 96, LM_ACT_RELU6},   /* 4: dw stride 2 */
        {96, 24, 1, 1, 1, LM_ACT_IDENTITY}, /* 5: project */
        {24, 144, 1, 1, 1, LM_ACT_RELU6},   /* 6: expand */
        {144, 144, 3, 1, 144, LM_ACT_RELU6},/* 7: dw */
        {144, 24, 1, 1, 1, LM_ACT_IDENTITY},/* 8: project */
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        ck_assert_lm_ok(
            lm_graph_add_conv(g, LM_TEST_CONV(NULL, c[i].in, c[i].out, c[i].k,
                                           c[i].s, c[i].k / 2, c[i].groups, 0),
                              c[i].act));
    ck_assert_lm_ok(lm_graph_add_skip(g, 5, 8));
    ck_assert_lm_ok(lm_graph_set_barrier(g, 0, 1));
    ck_assert_lm_ok(lm_graph_set_barrier(g, 5, 1));
    ck_assert_lm_ok(lm_graph_set_identity_option(g, 8, 1));
    ck_assert_lm_ok(lm_graph_add_layer_adaptive_avgpool(g, LM_SITE_HEAD, 0, 1, 1));
    ck_assert_lm_ok(lm_graph_add_layer_flatten(g, LM_SITE_HEAD, 0));
    ck_assert_lm_ok(lm_graph_add_layer_linear(g, LM_SITE_HEAD, 0, "classifier",
                                              24, 10, 1));
    return g;
}

static void assert_pos_shape(const lm_graph *g, size_t p, int64_t c,
                             int64_t h, int64_t w)
{
    int64_t gc = 0, gh = 0, gw = 0;
    ck_assert_lm_ok(lm_graph_position_chw(g, p, &gc, &gh, &gw));
    ck_assert_msg(gc == c && gh == h && gw == w,
                  "position %zu: %lldx%lldx%lld, want %lldx%lldx%lld", p,
                  (long long)gc, (long long)gh, (long long)gw, (long long)c,
                  (long long)h, (long long)w);
}

START_TEST(input_shape_can_change)
{
    lm_graph *g = resnet_like();
    ck_assert_lm_ok(lm_graph_validate(g));
    const char *fp224 = lm_graph_fingerprint(g);
    char before[17];
    snprintf(before, sizeof before, "%s", fp224);
    ck_assert_lm_ok(lm_graph_set_input_shape(g, 3, 112, 112));
    ck_assert(!lm_graph_is_valid(g));
    ck_assert_lm_status(lm_graph_position_chw(g, 0, NULL, NULL, NULL),
                        LM_ERR_STATE);
    ck_assert_lm_ok(lm_graph_validate(g));
    assert_pos_shape(g, 0, 64, 28, 28);
    ck_assert_str_ne(lm_graph_fingerprint(g), before);
    ck_assert_lm_status(lm_graph_set_input_shape(g, 3, 0, 112),
                        LM_ERR_INVALID_ARG);
    /* Another channel count no longer fits the stem conv. */
    ck_assert_lm_ok(lm_graph_set_input_shape(g, 1, 112, 112));
    ck_assert_lm_status(lm_graph_validate(g), LM_ERR_VALIDATION);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "conv1"));
    lm_graph_destroy(g);
}
END_TEST

START_TEST(resnet_shapes)
{
    lm_graph *g = resnet_like();
    ck_assert_int_eq(lm_graph_is_valid(g), 0);
    ck_assert_lm_ok(lm_graph_validate(g));
    ck_assert_int_eq(lm_graph_is_valid(g), 1);
    ck_assert_uint_eq(lm_graph_conv_count(g), 8);
    ck_assert_uint_eq(lm_graph_skip_count(g), 4);
    /* 224 -> 7x7 s2 p3 -> 112 -> maxpool 3 s2 p1 -> 56 */
    assert_pos_shape(g, 0, 64, 56, 56);
    assert_pos_shape(g, 4, 64, 56, 56);
    assert_pos_shape(g, 5, 128, 28, 28);
    assert_pos_shape(g, 8, 128, 28, 28);
    int64_t c, h, w;
    ck_assert_lm_ok(lm_graph_output_chw(g, &c, &h, &w));
    ck_assert(c == 10 && h == 1 && w == 1);
    lm_graph_input_chw(g, &c, &h, &w);
    ck_assert(c == 3 && h == 224 && w == 224);
    ck_assert_str_eq(lm_graph_name(g), "resnet-mini");
    ck_assert_int_eq(lm_graph_nonlinearity(g), LM_ACT_RELU);
    ck_assert_int_eq(lm_graph_position_barrier(g, 5), 1);
    ck_assert_int_eq(lm_graph_position_barrier(g, 4), 0);
    ck_assert_int_eq(lm_graph_position_barrier(g, 99), 0);
    ck_assert_int_eq(lm_graph_position_act(g, 0), LM_ACT_IDENTITY);
    ck_assert_int_eq(lm_graph_position_act(g, 3), LM_ACT_RELU);
    ck_assert_int_eq(lm_graph_position_act(g, 9), LM_ACT_IDENTITY);
    lm_graph_destroy(g);
}
END_TEST

START_TEST(mobilenet_shapes_and_flags)
{
    lm_graph *g = mobilenet_like();
    ck_assert_lm_ok(lm_graph_validate(g));
    assert_pos_shape(g, 0, 32, 16, 16);
    assert_pos_shape(g, 4, 96, 8, 8);
    assert_pos_shape(g, 8, 24, 8, 8);
    ck_assert_int_eq(lm_graph_position_act(g, 5), LM_ACT_IDENTITY);
    ck_assert_int_eq(lm_graph_nonlinearity(g), LM_ACT_RELU6);
    ck_assert_int_eq(lm_graph_position_identity(g, 8), 1);
    ck_assert_int_eq(lm_graph_position_identity(g, 7), 0);
    ck_assert_int_eq(lm_graph_position_identity(g, 0), 0);
    lm_conv_info info = {.size = sizeof info};
    ck_assert_lm_ok(lm_graph_conv_info(&info, g, 4));
    ck_assert_int_eq(info.groups, 96);
    ck_assert_int_eq(info.stride, 2);
    ck_assert_int_eq(info.has_bn, 0);
    ck_assert_ptr_null(info.name);
    lm_layer_info li = {.size = sizeof li};
    ck_assert_uint_eq(lm_graph_layer_count(g, LM_SITE_STEM, 0), 2);
    ck_assert_lm_ok(lm_graph_layer_info(&li, g, LM_SITE_STEM, 0, 1));
    ck_assert_int_eq(li.kind, LM_LAYER_ACT);
    ck_assert_int_eq(li.act, LM_ACT_RELU6);
    ck_assert_lm_ok(lm_graph_layer_info(&li, g, LM_SITE_HEAD, 0, 2));
    ck_assert_int_eq(li.kind, LM_LAYER_LINEAR);
    ck_assert_int_eq(li.in_channels, 24);
    ck_assert_str_eq(li.name, "classifier");
    ck_assert_lm_status(lm_graph_layer_info(&li, g, LM_SITE_HEAD, 0, 3),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_ok(lm_graph_set_nonlinearity(g, LM_ACT_SILU));
    ck_assert_int_eq(lm_graph_nonlinearity(g), LM_ACT_SILU);
    lm_graph_destroy(g);
}
END_TEST

START_TEST(records_describe_convs_and_skips)
{
    lm_graph *g = resnet_like();
    ck_assert_lm_ok(lm_graph_validate(g));
    lm_conv_info info = {.size = sizeof info};
    ck_assert_lm_ok(lm_graph_conv_info(&info, g, 5));
    ck_assert_str_eq(info.name, "layer2.0.conv1");
    ck_assert_str_eq(info.bn_name, "layer2.0.bn1");
    ck_assert(info.bn_eps == 1e-5);
    ck_assert_int_eq(info.in_channels, 64);
    ck_assert_int_eq(info.out_channels, 128);
    lm_skip_info s = {.size = sizeof s};
    ck_assert_lm_ok(lm_graph_skip_info(&s, g, 2));
    ck_assert_uint_eq(s.source, 4);
    ck_assert_uint_eq(s.target, 6);
    ck_assert_int_eq(s.has_projection, 1);
    ck_assert_int_eq(s.projection_in_channels, 64);
    ck_assert_int_eq(s.projection_out_channels, 128);
    ck_assert_int_eq(s.projection_stride, 2);
    ck_assert_int_eq(s.projection_has_bn, 1);
    ck_assert_str_eq(s.projection_bn_name, "layer2.0.downsample.1");
    lm_conv_info proj = {.size = sizeof proj};
    ck_assert_lm_ok(lm_graph_skip_projection(g, 2, &proj));
    ck_assert_int_eq(proj.kernel, 1);
    ck_assert_lm_status(lm_graph_skip_projection(g, 0, &proj), LM_ERR_STATE);
    ck_assert_lm_ok(lm_graph_skip_info(&s, g, 0));
    ck_assert_int_eq(s.has_projection, 0);
    ck_assert_lm_status(lm_graph_skip_info(&s, g, 4), LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_graph_conv_info(&info, g, 0), LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_graph_conv_info(&info, g, 9), LM_ERR_INVALID_ARG);
    lm_graph_destroy(g);
}
END_TEST

START_TEST(old_small_records_are_not_overrun)
{
    lm_graph *g = resnet_like();
    unsigned char buf[sizeof(lm_conv_info)];
    memset(buf, 0xAB, sizeof buf);
    size_t small = offsetof(lm_conv_info, kernel);
    memcpy(buf, &small, sizeof small);
    ck_assert_lm_ok(lm_graph_conv_info((lm_conv_info *)(void *)buf, g, 5));
    lm_conv_info head;
    memcpy(&head, buf, small);
    ck_assert_int_eq(head.out_channels, 128);
    for (size_t i = small; i < sizeof buf; i++)
        ck_assert_uint_eq(buf[i], 0xAB);
    lm_conv_info tiny = {.size = 1};
    ck_assert_lm_status(lm_graph_conv_info(&tiny, g, 5), LM_ERR_INVALID_ARG);
    lm_graph_destroy(g);
}
END_TEST

START_TEST(shapes_need_validation)
{
    lm_graph *g = resnet_like();
    int64_t c;
    ck_assert_lm_status(lm_graph_position_chw(g, 0, &c, NULL, NULL),
                        LM_ERR_STATE);
    ck_assert_lm_status(lm_graph_output_chw(g, &c, NULL, NULL), LM_ERR_STATE);
    ck_assert_ptr_null(lm_graph_fingerprint(g));
    ck_assert_lm_ok(lm_graph_validate(g));
    ck_assert_ptr_nonnull(lm_graph_fingerprint(g));
    ck_assert_lm_status(lm_graph_position_chw(g, 9, &c, NULL, NULL),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_ok(lm_graph_set_activation(g, 3, LM_ACT_SILU));
    ck_assert_int_eq(lm_graph_is_valid(g), 0);
    ck_assert_ptr_null(lm_graph_fingerprint(g));
    ck_assert_lm_status(lm_graph_position_chw(g, 0, &c, NULL, NULL),
                        LM_ERR_STATE);
    lm_graph_destroy(g);
}
END_TEST

static void expect_invalid(lm_graph *g, const char *want)
{
    lm_status st = lm_graph_validate(g);
    lm_graph_destroy(g);
    ck_assert_msg(st == LM_ERR_VALIDATION, "validate gave %d", (int)st);
    ck_assert_msg(strstr(lm_last_error(), want), "'%s' lacks '%s'",
                  lm_last_error(), want);
    ck_assert_int_eq(lm_graph_is_valid(NULL), 0);
}

START_TEST(validation_names_the_conv)
{
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_create(&g, 16, 8, 8));
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV("a", 16, 32, 3, 1, 1, 1, 0), LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV("b", 32, 64, 3, 1, 1, 1, 0), LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV("layer2.0.conv1", 32, 64, 3, 1, 1, 1, 0),
        LM_ACT_RELU));
    expect_invalid(g, "conv 3 (layer2.0.conv1): in_channels 32 but position 2 "
                      "has 64 channels");
}
END_TEST

START_TEST(validation_checks_skips)
{
    lm_graph *g = resnet_like();
    lm_graph *h = NULL;
    ck_assert_lm_ok(lm_graph_clone(&h, g));
    /* Without its projection the downsampling skip cannot add. */
    ck_assert_lm_ok(lm_graph_add_skip(g, 4, 5));
    expect_invalid(g, "skip 4 (4 -> 5): position 4 has shape 64x56x56 but "
                      "conv 5 (layer2.0.conv1) outputs 128x28x28");
    ck_assert_lm_ok(lm_graph_set_skip_projection(h, 2, NULL, 1, 0));
    expect_invalid(h, "skip 2 (4 -> 6): projection stride 1 maps position 4 "
                      "64x56x56 to 128x56x56 but conv 6");
    g = resnet_like();
    ck_assert_lm_ok(lm_graph_add_skip(g, 0, 2));
    expect_invalid(g, "skip 4 (0 -> 2) repeats skip 0");
}
END_TEST

START_TEST(validation_checks_fixed_layers)
{
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_create(&g, 3, 32, 32));
    ck_assert_lm_ok(lm_graph_add_layer_conv(
        g, LM_SITE_STEM, 0, LM_TEST_CONV("conv1", 4, 8, 3, 1, 1, 1, 0)));
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV(NULL, 8, 8, 3, 1, 1, 1, 0), LM_ACT_RELU));
    expect_invalid(g, "stem layer 0 (conv conv1): in_channels 4 but its input "
                      "3x32x32 has 3 channels");

    ck_assert_lm_ok(lm_graph_create(&g, 8, 4, 4));
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV(NULL, 8, 8, 3, 1, 1, 1, 0), LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_add_layer_linear(g, LM_SITE_HEAD, 0, "fc", 8, 2, 1));
    expect_invalid(g, "head layer 0 (linear fc): needs a flat input, found 8x4x4");

    ck_assert_lm_ok(lm_graph_create(&g, 8, 4, 4));
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV(NULL, 8, 8, 7, 1, 1, 1, 0), LM_ACT_RELU));
    expect_invalid(g, "conv 1: kernel 7 does not fit its input 8x4x4");

    ck_assert_lm_ok(lm_graph_create(&g, 8, 4, 4));
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV(NULL, 8, 8, 3, 1, 1, 1, 0), LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV(NULL, 8, 8, 3, 1, 1, 1, 0), LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_add_layer_pool(g, LM_SITE_POSITION, 1,
                                            LM_LAYER_MAXPOOL, 2, 2, 0));
    lm_graph *h = NULL;
    ck_assert_lm_ok(lm_graph_clone(&h, g));
    expect_invalid(g, "position 1 has fixed layers but is not a barrier");
    ck_assert_lm_ok(lm_graph_set_barrier(h, 1, 1));
    ck_assert_lm_ok(lm_graph_validate(h));
    assert_pos_shape(h, 1, 8, 2, 2);
    assert_pos_shape(h, 2, 8, 2, 2);
    lm_graph_destroy(h);

    ck_assert_lm_ok(lm_graph_create(&g, 8, 4, 4));
    expect_invalid(g, "no trunk convs");
}
END_TEST

START_TEST(builder_rejects_bad_arguments)
{
    lm_graph *g = NULL;
    ck_assert_lm_status(lm_graph_create(&g, 0, 4, 4), LM_ERR_INVALID_ARG);
    ck_assert_ptr_null(g);
    ck_assert_lm_status(lm_graph_create(NULL, 1, 4, 4), LM_ERR_INVALID_ARG);
    ck_assert_lm_ok(lm_graph_create(&g, 8, 4, 4));
    ck_assert_lm_status(
        lm_graph_add_conv(g, LM_TEST_CONV(NULL, 8, 8, 2, 1, 0, 1, 0),
                          LM_ACT_RELU),
        LM_ERR_INVALID_ARG);
    ck_assert_msg(strstr(lm_last_error(), "conv 1: kernel 2 is even"), "%s",
                  lm_last_error());
    ck_assert_lm_status(
        lm_graph_add_conv(g, LM_TEST_CONV(NULL, -8, 8, 3, 1, 1, 1, 0),
                          LM_ACT_RELU),
        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(
        lm_graph_add_conv(g, LM_TEST_CONV(NULL, 8, 8, 3, 1, -1, 1, 0),
                          LM_ACT_RELU),
        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(
        lm_graph_add_conv(g, LM_TEST_CONV(NULL, 8, 8, 3, 1, 1, 4, 0),
                          LM_ACT_RELU),
        LM_ERR_UNSUPPORTED);
    ck_assert_lm_status(
        lm_graph_add_conv(g, LM_TEST_CONV(NULL, 8, 8, 3, 1, 1, 1, 0),
                          (lm_act)42),
        LM_ERR_INVALID_ARG);
    ck_assert_uint_eq(lm_graph_conv_count(g), 0);
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV(NULL, 8, 8, 3, 1, 1, 8, 0), LM_ACT_RELU));
    ck_assert_lm_status(lm_graph_add_skip(g, 0, 2), LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_graph_add_skip(g, 1, 1), LM_ERR_INVALID_ARG);
    ck_assert_lm_ok(lm_graph_add_skip(g, 0, 1));
    ck_assert_lm_status(lm_graph_set_skip_bn(g, 0, NULL, 1e-5), LM_ERR_STATE);
    ck_assert_lm_status(lm_graph_set_skip_projection(g, 1, NULL, 1, 0),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_graph_set_conv_bn(g, 1, NULL, 0.0), LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_graph_set_conv_bn(g, 2, NULL, 1e-5), LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_graph_set_barrier(g, 2, 1), LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_graph_set_identity_option(g, 0, 1), LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_graph_set_activation(g, 0, LM_ACT_RELU),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_graph_add_layer_act(g, LM_SITE_POSITION, 0, LM_ACT_RELU),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_graph_add_layer_pool(g, LM_SITE_HEAD, 0, LM_LAYER_LINEAR,
                                                2, 2, 0), LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_graph_add_layer_pool(g, LM_SITE_HEAD, 0,
                                                LM_LAYER_MAXPOOL, 3, 2, 2),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_graph_add_layer_act(g, (lm_site)7, 0, LM_ACT_RELU),
                        LM_ERR_INVALID_ARG);
    ck_assert_uint_eq(lm_graph_layer_count(g, (lm_site)7, 0), 0);
    ck_assert_lm_status(lm_graph_set_name(NULL, "x"), LM_ERR_INVALID_ARG);
    ck_assert_lm_ok(lm_graph_validate(g));
    lm_graph_destroy(g);
    lm_graph_destroy(NULL);
}
END_TEST

/* Names are the weights' module names: one module per name. */
START_TEST(module_names_are_unique)
{
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_create(&g, 8, 8, 8));
    ck_assert_lm_ok(lm_graph_add_layer_batchnorm(g, LM_SITE_STEM, 0, "bn0", 8,
                                                 1e-5));
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV("a", 8, 8, 3, 1, 1, 1, 0), LM_ACT_RELU));
    ck_assert_lm_status(lm_graph_add_conv(g, LM_TEST_CONV("a", 8, 8, 3, 1, 1,
                                                          1, 0), LM_ACT_RELU),
                        LM_ERR_DUPLICATE);
    ck_assert_str_eq(lm_last_error(),
                     "conv 2: name 'a' is already the name of conv 1");
    ck_assert_uint_eq(lm_graph_conv_count(g), 1);
    ck_assert_lm_status(lm_graph_add_conv(g, LM_TEST_CONV("bn0", 8, 8, 3, 1,
                                                          1, 1, 0),
                                          LM_ACT_RELU),
                        LM_ERR_DUPLICATE);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "stem layer 0 (batchnorm)"));
    /* Unnamed modules never clash; a module may keep its own name. */
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV(NULL, 8, 8, 3, 1, 1, 1, 0), LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV(NULL, 8, 8, 3, 1, 1, 1, 0), LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_set_conv_bn(g, 1, "bn1", 1e-5));
    ck_assert_lm_ok(lm_graph_set_conv_bn(g, 1, "bn1", 1e-3));
    ck_assert_lm_status(lm_graph_set_conv_bn(g, 2, "bn1", 1e-5),
                        LM_ERR_DUPLICATE);
    ck_assert_str_eq(lm_last_error(), "the batch norm of conv 2: name 'bn1' "
                                      "is already the name of the batch norm "
                                      "of conv 1");
    ck_assert_lm_status(lm_graph_set_conv_bn(g, 2, "a", 1e-5),
                        LM_ERR_DUPLICATE);
    ck_assert_lm_ok(lm_graph_add_skip(g, 0, 2));
    ck_assert_lm_status(lm_graph_set_skip_projection(g, 0, "a", 1, 0),
                        LM_ERR_DUPLICATE);
    ck_assert_lm_ok(lm_graph_set_skip_projection(g, 0, "down", 1, 0));
    ck_assert_lm_status(lm_graph_set_skip_bn(g, 0, "down", 1e-5),
                        LM_ERR_DUPLICATE);
    ck_assert_str_eq(lm_last_error(), "the batch norm of skip 0's projection: "
                                      "name 'down' is already the name of the "
                                      "projection of skip 0");
    ck_assert_lm_status(lm_graph_add_layer_linear(g, LM_SITE_HEAD, 0, "down",
                                                  8, 2, 1),
                        LM_ERR_DUPLICATE);
    ck_assert_str_eq(lm_last_error(), "head layer 0 (linear): name 'down' is "
                                      "already the name of the projection of "
                                      "skip 0");
    /* The graph is as it was before each refused call. */
    lm_conv_info ci = {.size = sizeof ci};
    ck_assert_lm_ok(lm_graph_conv_info(&ci, g, 2));
    ck_assert_ptr_null(ci.bn_name);
    ck_assert_uint_eq(lm_graph_layer_count(g, LM_SITE_HEAD, 0), 0);
    lm_graph_destroy(g);
}
END_TEST

/* Sizes whose arithmetic overflowed int64 (H + 2 * padding, in * k * k)
 * and validated in release builds: refused where they are given, naming
 * the conv or layer and the value; computed shapes beyond the limits are
 * refused by validation, naming the conv. */
START_TEST(sizes_are_bounded)
{
    const int64_t big = (int64_t)1 << 62;
    lm_graph *g = NULL;
    ck_assert_lm_status(lm_graph_create(&g, 3, INT64_MAX, 8),
                        LM_ERR_INVALID_ARG);
    ck_assert_ptr_null(g);
    ck_assert_msg(strstr(lm_last_error(), "height 9223372036854775807"),
                  "%s", lm_last_error());
    ck_assert_lm_status(lm_graph_create(&g, 3, 2147483647, 2147483647),
                        LM_ERR_INVALID_ARG);
    ck_assert_msg(strstr(lm_last_error(), "2^40"), "%s", lm_last_error());
    ck_assert_lm_ok(lm_graph_create(&g, 3, 8, 8));
    ck_assert_lm_status(lm_graph_set_input_shape(g, 3, 8, big),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(
        lm_graph_add_conv(g, LM_TEST_CONV("c", 3, big, 3, 1, 1, 1, 0),
                          LM_ACT_RELU),
        LM_ERR_INVALID_ARG);
    ck_assert_msg(strstr(lm_last_error(),
                         "conv 1: out_channels 4611686018427387904"),
                  "%s", lm_last_error());
    ck_assert_lm_status(
        lm_graph_add_conv(g, LM_TEST_CONV("c", 3, 4, big - 1, 1, 1, 1, 0),
                          LM_ACT_RELU),
        LM_ERR_INVALID_ARG);
    ck_assert_msg(strstr(lm_last_error(), "conv 1: kernel 4611686018427387903"),
                  "%s", lm_last_error());
    ck_assert_lm_status(
        lm_graph_add_conv(g, LM_TEST_CONV("c", 3, 4, 3, 1, big, 1, 0),
                          LM_ACT_RELU),
        LM_ERR_INVALID_ARG);
    ck_assert_msg(strstr(lm_last_error(), "padding 4611686018427387904"),
                  "%s", lm_last_error());
    /* Each size fine, the weight's element count not. */
    ck_assert_lm_status(
        lm_graph_add_conv(g, LM_TEST_CONV("c", 65536, 65536, 513, 1, 256, 1,
                                          0), LM_ACT_RELU),
        LM_ERR_INVALID_ARG);
    ck_assert_msg(strstr(lm_last_error(), "weight 65536x65536x513x513"),
                  "%s", lm_last_error());
    ck_assert_lm_status(lm_graph_add_layer_pool(g, LM_SITE_STEM, 0,
                                                LM_LAYER_MAXPOOL, 3, 1, big),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_graph_add_layer_linear(g, LM_SITE_HEAD, 0, "fc",
                                                  2000000, 2000000, 1),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_graph_add_layer_adaptive_avgpool(
                            g, LM_SITE_HEAD, 0, big, 1), LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_graph_add_layer_batchnorm(g, LM_SITE_STEM, 0,
                                                     "bn", big, 1e-5),
                        LM_ERR_INVALID_ARG);
    ck_assert_uint_eq(lm_graph_conv_count(g), 0);
    ck_assert_uint_eq(lm_graph_layer_count(g, LM_SITE_STEM, 0), 0);
    ck_assert_uint_eq(lm_graph_layer_count(g, LM_SITE_HEAD, 0), 0);
    lm_graph_destroy(g);

    /* Padding 2^31 - 1 on a 2^31 - 1 input: the output is beyond the
     * limit, refused by validation naming the conv. */
    ck_assert_lm_ok(lm_graph_create(&g, 1, 2147483647, 1));
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV("c1", 1, 1, 1, 1, 2147483647, 1, 0), LM_ACT_RELU));
    ck_assert_lm_status(lm_graph_validate(g), LM_ERR_VALIDATION);
    ck_assert_msg(strstr(lm_last_error(), "conv 1 (c1): output"), "%s",
                  lm_last_error());
    ck_assert(!lm_graph_is_valid(g));
    lm_graph_destroy(g);
    /* An input of exactly 2^40 elements is fine; doubling it is not. */
    ck_assert_lm_ok(lm_graph_create(&g, 1, 1048576, 1048576));
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV("c1", 1, 2, 1, 1, 0, 1, 0), LM_ACT_RELU));
    ck_assert_lm_status(lm_graph_validate(g), LM_ERR_VALIDATION);
    ck_assert_msg(strstr(lm_last_error(), "2x1048576x1048576"), "%s",
                  lm_last_error());
    lm_graph_destroy(g);
    /* A projection's weight follows from the positions it joins. */
    ck_assert_lm_ok(lm_graph_create(&g, 1, 1, 1));
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV("c1", 1, 2097152, 1, 1, 0, 1, 0), LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV("c2", 2097152, 1, 1, 1, 0, 1, 0), LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV("c3", 1, 2097152, 1, 1, 0, 1, 0), LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_add_skip(g, 1, 3));
    ck_assert_lm_ok(lm_graph_set_skip_projection(g, 0, "proj", 1, 0));
    ck_assert_lm_status(lm_graph_validate(g), LM_ERR_VALIDATION);
    ck_assert_msg(strstr(lm_last_error(), "skip 0 (1 -> 3) projection: "
                         "weight 2097152x2097152x1x1"),
                  "%s", lm_last_error());
    lm_graph_destroy(g);
    /* A flatten of a large map into a stem conv is refused by its size. */
    ck_assert_lm_ok(lm_graph_create(&g, 4096, 1024, 1024));
    ck_assert_lm_ok(lm_graph_add_layer_flatten(g, LM_SITE_STEM, 0));
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV("c1", 1, 1, 1, 1, 0, 1, 0), LM_ACT_RELU));
    ck_assert_lm_status(lm_graph_validate(g), LM_ERR_VALIDATION);
    ck_assert_msg(strstr(lm_last_error(), "stem layer 0 (flatten)") &&
                      strstr(lm_last_error(), "above the limit"),
                  "%s", lm_last_error());
    lm_graph_destroy(g);
}
END_TEST

START_TEST(names_of_acts_and_kinds)
{
    for (int a = LM_ACT_IDENTITY; a <= LM_ACT_TANH; a++) {
        lm_act back;
        ck_assert_lm_ok(lm_act_from_name(&back, lm_act_name((lm_act)a)));
        ck_assert_int_eq(back, a);
    }
    ck_assert_str_eq(lm_act_name(LM_ACT_HARDSWISH), "hardswish");
    ck_assert_ptr_null(lm_act_name((lm_act)8));
    lm_act out;
    ck_assert_lm_status(lm_act_from_name(&out, "Relu"), LM_ERR_NOT_FOUND);
    ck_assert_str_eq(lm_layer_kind_name(LM_LAYER_ADAPTIVE_AVGPOOL),
                     "adaptive_avgpool");
    ck_assert_ptr_null(lm_layer_kind_name((lm_layer_kind)0));
    ck_assert_str_eq(lm_layer_kind_name(LM_LAYER_ATTENTION), "attention");
    ck_assert_ptr_null(lm_layer_kind_name((lm_layer_kind)13));
}
END_TEST

START_TEST(fingerprint_follows_structure_only)
{
    lm_graph *a = resnet_like(), *b = resnet_like();
    ck_assert_lm_ok(lm_graph_validate(a));
    const char *fa = lm_graph_fingerprint(a);
    ck_assert_uint_eq(strlen(fa), 16);
    ck_assert_uint_eq(strspn(fa, "0123456789abcdef"), 16);
    /* Names and eps do not count. */
    ck_assert_lm_ok(lm_graph_set_name(b, "other"));
    ck_assert_lm_ok(lm_graph_set_conv_bn(b, 3, "renamed", 1e-3));
    ck_assert_lm_ok(lm_graph_validate(b));
    ck_assert_str_eq(lm_graph_fingerprint(b), fa);
    /* A kernel does. */
    lm_graph_destroy(b);
    ck_assert_lm_ok(lm_graph_create(&b, 3, 224, 224));
    lm_graph *c = NULL;
    ck_assert_lm_ok(lm_graph_create(&c, 3, 224, 224));
    ck_assert_lm_ok(lm_graph_add_conv(b,
                                      LM_TEST_CONV(NULL, 3, 8, 3, 1, 1, 1, 0),
                                      LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_add_conv(c,
                                      LM_TEST_CONV(NULL, 3, 8, 5, 1, 2, 1, 0),
                                      LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_validate(b));
    ck_assert_lm_ok(lm_graph_validate(c));
    ck_assert_str_ne(lm_graph_fingerprint(b), lm_graph_fingerprint(c));
    /* So do activations, barriers and identity options. */
    char before[17];
    strcpy(before, lm_graph_fingerprint(b));
    ck_assert_lm_ok(lm_graph_set_barrier(b, 1, 1));
    ck_assert_lm_ok(lm_graph_validate(b));
    ck_assert_str_ne(lm_graph_fingerprint(b), before);
    ck_assert_lm_ok(lm_graph_set_barrier(b, 1, 0));
    ck_assert_lm_ok(lm_graph_validate(b));
    ck_assert_str_eq(lm_graph_fingerprint(b), before);
    ck_assert_lm_ok(lm_graph_set_identity_option(b, 1, 1));
    ck_assert_lm_ok(lm_graph_validate(b));
    ck_assert_str_ne(lm_graph_fingerprint(b), before);
    lm_graph_destroy(a);
    lm_graph_destroy(b);
    lm_graph_destroy(c);
}
END_TEST

START_TEST(clone_is_deep_and_keeps_validation)
{
    lm_graph *g = resnet_like(), *c = NULL;
    ck_assert_lm_ok(lm_graph_validate(g));
    ck_assert_lm_ok(lm_graph_clone(&c, g));
    ck_assert_int_eq(lm_graph_is_valid(c), 1);
    ck_assert_str_eq(lm_graph_fingerprint(c), lm_graph_fingerprint(g));
    char fp[17];
    strcpy(fp, lm_graph_fingerprint(g));
    lm_graph_destroy(g);
    /* The clone owns its strings and can grow. */
    lm_conv_info info = {.size = sizeof info};
    ck_assert_lm_ok(lm_graph_conv_info(&info, c, 1));
    ck_assert_str_eq(info.name, "layer1.0.conv1");
    ck_assert_str_eq(lm_graph_name(c), "resnet-mini");
    ck_assert_lm_ok(lm_graph_add_conv(
        c, LM_TEST_CONV("extra", 128, 128, 1, 1, 0, 1, 0), LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_add_layer_act(c, LM_SITE_POSITION, 9, LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_set_barrier(c, 9, 1));
    ck_assert_lm_ok(lm_graph_validate(c));
    ck_assert_str_ne(lm_graph_fingerprint(c), fp);
    ck_assert_lm_status(lm_graph_clone(&g, NULL), LM_ERR_INVALID_ARG);
    lm_graph_destroy(c);
}
END_TEST

/* lm_graph_position_info describes a position and refuses one out of
 * range; the shape records give what the graph computed. */
START_TEST(position_records_and_shapes)
{
    lm_graph *g = mobilenet_like();
    lm_position_info pos = {.size = sizeof pos};
    size_t n = lm_graph_conv_count(g);
    for (size_t p = 0; p <= n; p++) {
        ck_assert_lm_ok(lm_graph_position_info(&pos, g, p));
        ck_assert_int_eq(pos.activation, lm_graph_position_act(g, p));
        ck_assert_int_eq(pos.is_barrier, lm_graph_position_barrier(g, p));
        ck_assert_int_eq(pos.identity_option,
                         lm_graph_position_identity(g, p));
        ck_assert_uint_eq(pos.layer_count,
                          lm_graph_layer_count(g, LM_SITE_POSITION, p));
    }
    ck_assert_lm_ok(lm_graph_position_info(&pos, g, 0));
    ck_assert_int_eq(pos.activation, LM_ACT_IDENTITY);
    ck_assert_int_eq(pos.is_barrier, 1);
    ck_assert_lm_status(lm_graph_position_info(&pos, g, n + 1),
                        LM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "out of range"));
    lm_position_info unset = {0};
    ck_assert_lm_status(lm_graph_position_info(&unset, g, 1),
                        LM_ERR_INVALID_ARG);

    lm_shape shape = {.size = sizeof shape};
    ck_assert_lm_ok(lm_graph_input_shape(&shape, g));
    ck_assert(shape.channels == 3 && shape.height == 32 && shape.width == 32);
    ck_assert_lm_status(lm_graph_position_shape(&shape, g, 4), LM_ERR_STATE);
    ck_assert_lm_ok(lm_graph_validate(g));
    ck_assert_lm_ok(lm_graph_position_shape(&shape, g, 4));
    ck_assert(shape.channels == 96 && shape.height == 8 && shape.width == 8);
    ck_assert_lm_status(lm_graph_position_shape(&shape, g, n + 1),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_ok(lm_graph_output_shape(&shape, g));
    ck_assert_int_eq(shape.channels, 10);

    /* Input records: NULL or one whose size is not set is refused, naming
     * the conv, and the graph is left as it was. */
    ck_assert_lm_status(lm_graph_add_conv(g, NULL, LM_ACT_RELU),
                        LM_ERR_INVALID_ARG);
    lm_conv_desc small = {.size = sizeof(size_t), .in_channels = 24};
    ck_assert_lm_status(lm_graph_add_conv(g, &small, LM_ACT_RELU),
                        LM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "conv 9"));
    ck_assert_uint_eq(lm_graph_conv_count(g), n);
    ck_assert_lm_status(lm_graph_add_layer_conv(g, LM_SITE_HEAD, 0, NULL),
                        LM_ERR_INVALID_ARG);
    ck_assert(lm_graph_is_valid(g));
    lm_graph_destroy(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("graph");
    tcase_add_test(tc, position_records_and_shapes);
    tcase_add_test(tc, resnet_shapes);
    tcase_add_test(tc, mobilenet_shapes_and_flags);
    tcase_add_test(tc, records_describe_convs_and_skips);
    tcase_add_test(tc, old_small_records_are_not_overrun);
    tcase_add_test(tc, shapes_need_validation);
    tcase_add_test(tc, validation_names_the_conv);
    tcase_add_test(tc, validation_checks_skips);
    tcase_add_test(tc, validation_checks_fixed_layers);
    tcase_add_test(tc, builder_rejects_bad_arguments);
    tcase_add_test(tc, module_names_are_unique);

    tcase_add_test(tc, sizes_are_bounded);
    tcase_add_test(tc, names_of_acts_and_kinds);
    tcase_add_test(tc, fingerprint_follows_structure_only);
    tcase_add_test(tc, clone_is_deep_and_keeps_validation);
    tcase_add_test(tc, input_shape_can_change);
    suite_add_tcase(s, tc);
    return lm_test_run(s);
}
