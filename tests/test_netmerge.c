/* Whole-network merging and verification (docs/method.md section 8, 9): plans
 * from results, the engine running a plan, lm_graph_merge and
 * lm_graph_verify_merge on small networks and on the zoo's ResNet-34,
 * ResNet-50 and MobileNetV2 at a reduced input size, with random weights and
 * batch norm statistics. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "weights_names.h"
#include "layermerge/layermerge.h"
#include "graph/graph_query.h"
#include "solve/result_query.h"
#include "plan/plan_query.h"

/* Whole-zoo merges are BLAS-bound and run ~100x slower under valgrind;
 * check_zoo_results() skips them there. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND() RUNNING_ON_VALGRIND
#endif
#endif
#ifndef UNDER_VALGRIND
#define UNDER_VALGRIND() 0
#endif

/* Merged vs chain, relative to the largest output magnitude (docs/method.md
 * section 9: float32 round-off). */
#define TOLERANCE 1e-5

static lm_weights *random_weights(const lm_graph *g, uint64_t seed)
{
    lm_weights *w = NULL;
    ck_assert_lm_ok(lm_weights_create(&w));
    ck_assert_lm_ok(lm_weights_init_random(w, g, seed));
    return w;
}

/* No batch norm is left in a merged network: not in the trunk, not on a
 * projection, not among the fixed layers (each follows a fixed conv in
 * the networks tested here). */
static void check_no_batch_norm(const lm_graph *mg)
{
    for (size_t c = 1; c <= lm_graph_conv_count(mg); c++) {
        lm_conv_info ci = {.size = sizeof ci};
        ck_assert_lm_ok(lm_graph_conv_info(&ci, mg, c));
        ck_assert_int_eq(ci.has_bn, 0);
    }
    for (size_t k = 0; k < lm_graph_skip_count(mg); k++) {
        lm_skip_info si = {.size = sizeof si};
        ck_assert_lm_ok(lm_graph_skip_info(&si, mg, k));
        ck_assert_int_eq(si.projection_has_bn, 0);
    }
    for (size_t q = 0; q <= lm_graph_conv_count(mg) + 1; q++) {
        lm_site site = q == 0 ? LM_SITE_STEM
                       : q > lm_graph_conv_count(mg) ? LM_SITE_HEAD
                                                     : LM_SITE_POSITION;
        for (size_t i = 0; i < lm_graph_layer_count(mg, site, q); i++) {
            lm_layer_info li = {.size = sizeof li};
            ck_assert_lm_ok(lm_graph_layer_info(&li, mg, site, q, i));
            ck_assert_msg(li.kind != LM_LAYER_BATCHNORM, "batch norm '%s' "
                          "left at site %d position %zu", li.name,
                          (int)site, q);
        }
    }
}

/* The merged weights cannot be mistaken for the original ones: a tensor
 * name of both holds the same shape and bit-identical values; every
 * other tensor belongs to a module whose "layermerge.merged_from.<module>"
 * lists original modules that the original weights hold. */
static void check_merged_names(const lm_weights *w, const lm_weights *mw)
{
    for (size_t i = 0; i < lm_weights_tensor_count(mw); i++) {
        const char *name = lm_test_tensor_name(mw, i);
        const float *a = NULL, *b = NULL;
        size_t na = 0, nb = 0, da = 0, db = 0;
        int64_t sa[8], sb[8];
        ck_assert_lm_ok(lm_weights_data_f32(&b, &nb, mw, name));
        if (lm_weights_find(NULL, w, name) == LM_OK) {
            ck_assert_lm_ok(lm_weights_data_f32(&a, &na, w, name));
            ck_assert_lm_ok(lm_weights_shape(&da, sa, 8, w, name));
            ck_assert_lm_ok(lm_weights_shape(&db, sb, 8, mw, name));
            ck_assert_msg(na == nb && da == db &&
                              !memcmp(sa, sb, da * sizeof *sa) &&
                              !memcmp(a, b, na * sizeof *a),
                          "merged tensor '%s' has the name of an original "
                          "tensor but other values", name);
            continue;
        }
        const char *dot = strrchr(name, '.');
        ck_assert_ptr_nonnull(dot);
        ck_assert(!strcmp(dot, ".weight") || !strcmp(dot, ".bias"));
        size_t len = (size_t)(dot - name);
        ck_assert(!strncmp(name, "merged.", 7));
        char *key = malloc(len + 64);
        ck_assert_ptr_nonnull(key);
        snprintf(key, len + 64, "layermerge.merged_from.%.*s", (int)len, name);
        const char *from = NULL;
        ck_assert_msg(lm_weights_meta_get(&from, mw, key) == LM_OK,
                      "no %s", key);
        ck_assert_msg(*from != '\0', "%s is empty", key);
        /* each listed module has tensors in the original weights */
        char *list = strdup(from), *save = NULL;
        ck_assert_ptr_nonnull(list);
        for (char *m = strtok_r(list, " ", &save); m;
             m = strtok_r(NULL, " ", &save)) {
            char *t = malloc(strlen(m) + 16);
            ck_assert_ptr_nonnull(t);
            sprintf(t, "%s.weight", m);
            ck_assert_msg(lm_weights_find(NULL, w, t) == LM_OK,
                          "%s lists '%s', which the original does not hold",
                          key, m);
            free(t);
        }
        free(list);
        free(key);
    }
}

/* Merge with `plan`, check the merged graph round-trips through its files
 * when `dir` is given, verify, and return the relative error. */
static double merge_and_verify(const lm_graph *g, const lm_weights *w,
                               const lm_plan *plan, const char *dir)
{
    lm_graph *mg = NULL;
    lm_weights *mw = NULL;
    ck_assert_lm_ok(lm_graph_merge(&mg, &mw, g, w, plan));
    ck_assert(lm_graph_is_valid(mg));
    /* One conv per segment but the identity-option segments. */
    size_t kept_segments = 0;
    for (size_t i = 0; i < lm_plan_segment_count(plan); i++) {
        size_t st = 0, end = 0;
        ck_assert_lm_ok(lm_plan_segment_bounds(plan, i, &st, &end));
        int any = 0;
        for (size_t c = st + 1; c <= end; c++)
            any |= lm_plan_keeps_conv(plan, c);
        kept_segments += (size_t)any;
    }
    ck_assert_uint_eq(lm_graph_conv_count(mg), kept_segments);
    ck_assert_lm_ok(lm_weights_check_graph(mw, mg));
    check_no_batch_norm(mg);
    check_merged_names(w, mw);
    if (dir) {
        char gp[512], wp[512];
        snprintf(gp, sizeof gp, "%s/merged.yaml", dir);
        snprintf(wp, sizeof wp, "%s/merged.safetensors", dir);
        ck_assert_lm_ok(lm_graph_save(mg, gp));
        ck_assert_lm_ok(lm_weights_save(mw, wp));
        lm_graph *g2 = NULL;
        lm_weights *w2 = NULL;
        ck_assert_lm_ok(lm_graph_load(&g2, gp));
        ck_assert_lm_ok(lm_weights_load(&w2, wp));
        ck_assert_str_eq(lm_graph_fingerprint(g2), lm_graph_fingerprint(mg));
        ck_assert_lm_ok(lm_weights_check_graph(w2, g2));
        lm_graph_destroy(g2);
        lm_weights_destroy(w2);
    }
    lm_merge_deviation dev = {.size = sizeof dev};
    ck_assert_lm_ok(lm_graph_verify_merge(&dev, g, w, plan, mg, mw, 2, 99));
    double rel_err = dev.max_rel;
    ck_assert(dev.max_abs >= 0.0 && rel_err >= 0.0);
    lm_graph_destroy(mg);
    lm_weights_destroy(mw);
    return rel_err;
}

/* ---- a small network with every composition case ----------------------
 *
 * Positions 0..10 at 3x16x16 after a stem. Convs: 1 dense 3x3, 2 depthwise
 * 3x3, 3 dense 1x1 (8 -> 16), 4 depthwise 5x5 stride 2, 5 dense 1x1,
 * 6 dense 3x3, 7 depthwise 3x3, 8 dense 3x3 (16 -> 24), 9 dense 3x3,
 * 10 dense 1x1. Skips: identity (0,2), (5,7), (8,10); projections (0,3)
 * (8 -> 16, bias), (3,5) (stride 2, batch norm) and (6,8) (16 -> 24).
 * Barriers 0, 5 (one after the strided conv, so that the 1x1 after it
 * may merge into it) and 8, which carries a fixed avgpool. */
static lm_graph *small_net(void)
{
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_create(&g, 3, 16, 16));
    ck_assert_lm_ok(lm_graph_set_name(g, "small"));
    ck_assert_lm_ok(lm_graph_add_layer_conv(
        g, LM_SITE_STEM, 0, LM_TEST_CONV("stem.conv", 3, 8, 3, 1, 1, 1, 0)));
    ck_assert_lm_ok(lm_graph_add_layer_batchnorm(g, LM_SITE_STEM, 0, "stem.bn",
                                                 8, 1e-3));
    ck_assert_lm_ok(lm_graph_add_layer_act(g, LM_SITE_STEM, 0, LM_ACT_RELU));
    static const struct {
        int64_t in, out, k, s, groups;
        int bias, bn;
        lm_act act;
    } c[] = {
        {8, 8, 3, 1, 1, 0, 1, LM_ACT_RELU},
        {8, 8, 3, 1, 8, 0, 1, LM_ACT_RELU6},
        {8, 16, 1, 1, 1, 1, 0, LM_ACT_IDENTITY},
        {16, 16, 5, 2, 16, 0, 1, LM_ACT_SILU},
        {16, 16, 1, 1, 1, 0, 1, LM_ACT_RELU},
        {16, 16, 3, 1, 1, 1, 1, LM_ACT_RELU},
        {16, 16, 3, 1, 16, 0, 1, LM_ACT_IDENTITY},
        {16, 24, 3, 1, 1, 0, 1, LM_ACT_RELU},
        {24, 24, 3, 1, 1, 0, 1, LM_ACT_RELU},
        {24, 24, 1, 1, 1, 1, 1, LM_ACT_RELU},
    };
    for (size_t i = 0; i < 10; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%zu.conv", i + 1);
        ck_assert_lm_ok(lm_graph_add_conv(
            g,
            LM_TEST_CONV(name, c[i].in, c[i].out, c[i].k, c[i].s, c[i].k / 2,
                         c[i].groups, c[i].bias),
            c[i].act));
        snprintf(name, sizeof name, "t%zu.bn", i + 1);
        if (c[i].bn)
            ck_assert_lm_ok(lm_graph_set_conv_bn(g, i + 1, name,
                                                 1e-5 * (double)(i + 1)));
    }
    static const size_t skips[][2] = {{0, 2}, {0, 3}, {3, 5}, {5, 7},
                                      {6, 8}, {8, 10}};
    for (size_t i = 0; i < 6; i++)
        ck_assert_lm_ok(lm_graph_add_skip(g, skips[i][0], skips[i][1]));
    ck_assert_lm_ok(lm_graph_set_skip_projection(g, 1, "p03.conv", 1, 1));
    ck_assert_lm_ok(lm_graph_set_skip_projection(g, 2, "p35.conv", 2, 0));
    ck_assert_lm_ok(lm_graph_set_skip_bn(g, 2, "p35.bn", 2e-5));
    ck_assert_lm_ok(lm_graph_set_skip_projection(g, 4, "p68.conv", 1, 1));
    ck_assert_lm_ok(lm_graph_set_barrier(g, 0, 1));
    ck_assert_lm_ok(lm_graph_set_barrier(g, 5, 1));
    ck_assert_lm_ok(lm_graph_set_barrier(g, 8, 1));
    ck_assert_lm_ok(lm_graph_add_layer_pool(g, LM_SITE_POSITION, 8,
                                            LM_LAYER_AVGPOOL, 2, 2, 0));
    ck_assert_lm_ok(lm_graph_add_layer_adaptive_avgpool(g, LM_SITE_HEAD, 0, 1, 1));
    ck_assert_lm_ok(lm_graph_add_layer_flatten(g, LM_SITE_HEAD, 0));
    ck_assert_lm_ok(lm_graph_add_layer_linear(g, LM_SITE_HEAD, 0, "fc", 24, 10,
                                              1));
    ck_assert_lm_ok(lm_graph_validate(g));
    return g;
}

typedef struct small_case {
    size_t bounds[12];
    size_t n_bounds;
    const char *pruned; /* conv numbers, e.g. "\x02" */
    const char *what;
} small_case;

static lm_plan *small_plan(const lm_graph *g, const small_case *sc)
{
    uint8_t kept[10];
    memset(kept, 1, sizeof kept);
    for (const char *p = sc->pruned; p && *p; p++)
        kept[(size_t)*p - 1] = 0;
    lm_plan *plan = NULL;
    ck_assert_lm_ok(lm_plan_create_for_segments(&plan, g, sc->bounds,
                                                sc->n_bounds, kept));
    return plan;
}

/* Each case a whole small network: dense-dense with an identity skip;
 * dense, depthwise and 1x1 with a projection fused; a strided depthwise
 * followed by a 1x1 with a strided projection fused; a long segment with
 * skips of both kinds; pruned convs, one a skip target (the skip adds in
 * place), and both convs of a skip pruned (x + x, and x + P x); a segment
 * per conv (batch norm folding only); skips kept across boundaries. */
START_TEST(test_small_cases)
{
    static const small_case cases[] = {
        {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 11, NULL, "no merge"},
        {{0, 2, 3, 4, 5, 6, 7, 8, 10}, 9, NULL, "(0,2) with skip, (8,10)"},
        {{0, 3, 4, 5, 6, 7, 8, 10}, 8, NULL, "(0,3) dense-dw-1x1 + proj"},
        {{0, 3, 5, 6, 7, 8, 10}, 7, NULL, "strided dw + 1x1 + strided proj"},
        {{0, 3, 5, 8, 10}, 5, NULL, "(5,8) and (0,3)"},
        {{0, 3, 5, 8, 10}, 5, "\x06", "(5,8) pruning 6"},
        {{0, 2, 3, 5, 8, 10}, 6, "\x02\x09", "pruned 2 (skip target), 9"},
        {{0, 3, 5, 8, 10}, 5, "\x06\x07", "(5,8): skip (5,7) adds x + x"},
        {{0, 3, 5, 8, 10}, 5, "\x01\x02", "(0,3): x + x, x + P x"},
        {{0, 3, 5, 8, 10}, 5, "\x01", "(0,3) pruning 1"},
    };
    lm_graph *g = small_net();
    lm_weights *w = random_weights(g, 21);
    char *dir = lm_test_tmpdir();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lm_plan *plan = small_plan(g, &cases[i]);
        double rel = merge_and_verify(g, w, plan, i == 3 ? dir : NULL);
        ck_assert_msg(rel <= TOLERANCE, "case '%s': rel err %g",
                      cases[i].what, rel);
        lm_plan_destroy(plan);
    }
    lm_test_rmtree(dir);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
}
END_TEST

/* The merged graph's structure: kernel, padding, stride, groups, names,
 * activations, flags, fixed layers and the skips that stay. */
START_TEST(test_small_structure)
{
    static const small_case sc = {{0, 3, 5, 6, 7, 8, 10}, 7, NULL, ""};
    lm_graph *g = small_net();
    lm_weights *w = random_weights(g, 2);
    lm_plan *plan = small_plan(g, &sc);
    lm_graph *mg = NULL;
    lm_weights *mw = NULL;
    ck_assert_lm_ok(lm_graph_merge(&mg, &mw, g, w, plan));
    ck_assert_uint_eq(lm_graph_conv_count(mg), 6);
    lm_conv_info ci = {.size = sizeof ci};
    ck_assert_lm_ok(lm_graph_conv_info(&ci, mg, 1)); /* 3x3, dw 3x3, 1x1 */
    ck_assert_int_eq(ci.kernel, 5);
    ck_assert_int_eq(ci.padding, 2);
    ck_assert_int_eq(ci.groups, 1);
    ck_assert_int_eq(ci.has_bias, 1);
    ck_assert_int_eq(ci.has_bn, 0);
    ck_assert_str_eq(ci.name, "merged.0_3");
    ck_assert_lm_ok(lm_graph_conv_info(&ci, mg, 2)); /* dw 5x5 s2, 1x1 */
    ck_assert_int_eq(ci.kernel, 5);
    ck_assert_int_eq(ci.stride, 2);
    ck_assert_int_eq(ci.padding, 2);
    ck_assert_int_eq(ci.groups, 1);
    ck_assert_lm_ok(lm_graph_conv_info(&ci, mg, 4)); /* single dw conv 7 */
    ck_assert_str_eq(ci.name, "merged.6_7"); /* its batch norm folded */
    ck_assert_int_eq(ci.groups, 16);
    ck_assert_int_eq(ci.has_bn, 0);
    ck_assert_int_eq(ci.has_bias, 1);
    ck_assert_int_eq(lm_graph_position_act(mg, 1), LM_ACT_RELU);
    /* position 3 was identity; its segment spans more than one position */
    ck_assert_int_eq(lm_graph_position_act(mg, 1), LM_ACT_RELU);
    /* position 7 was identity and its segment spans one position */
    ck_assert_int_eq(lm_graph_position_act(mg, 4), LM_ACT_IDENTITY);
    ck_assert(lm_graph_position_barrier(mg, 0));
    ck_assert(lm_graph_position_barrier(mg, 2));
    ck_assert(lm_graph_position_barrier(mg, 5));
    ck_assert(!lm_graph_position_barrier(mg, 3));
    ck_assert_uint_eq(lm_graph_layer_count(mg, LM_SITE_POSITION, 5), 1);
    /* (5,7) -> (2,4); (6,8) -> (3,5) with its projection; (8,10) fused */
    ck_assert_uint_eq(lm_graph_skip_count(mg), 2);
    static const size_t want[2][2] = {{2, 4}, {3, 5}};
    for (size_t k = 0; k < 2; k++) {
        lm_skip_info si = {.size = sizeof si};
        ck_assert_lm_ok(lm_graph_skip_info(&si, mg, k));
        ck_assert_uint_eq(si.source, want[k][0]);
        ck_assert_uint_eq(si.target, want[k][1]);
        ck_assert_int_eq(si.has_projection, k == 1);
    }
    ck_assert(lm_weights_find(NULL, mw, "p68.conv.weight") == LM_OK);
    ck_assert(lm_weights_find(NULL, mw, "p35.conv.weight") != LM_OK);
    ck_assert(lm_weights_find(NULL, mw, "t1.conv.weight") != LM_OK);
    ck_assert(lm_weights_find(NULL, mw, "merged.0_3.bias") == LM_OK);
    /* no original name holds changed values: t7.conv is merged.6_7 */
    ck_assert(lm_weights_find(NULL, mw, "t7.conv.weight") != LM_OK);
    ck_assert(lm_weights_find(NULL, mw, "t7.bn.weight") != LM_OK);
    /* the stem's conv and batch norm are one conv with bias */
    ck_assert_uint_eq(lm_graph_layer_count(mg, LM_SITE_STEM, 0), 2);
    lm_layer_info li = {.size = sizeof li};
    ck_assert_lm_ok(lm_graph_layer_info(&li, mg, LM_SITE_STEM, 0, 0));
    ck_assert_int_eq(li.kind, LM_LAYER_CONV);
    ck_assert_str_eq(li.name, "merged.stem.conv");
    ck_assert_int_eq(li.has_bias, 1);
    ck_assert_lm_ok(lm_graph_layer_info(&li, mg, LM_SITE_STEM, 0, 1));
    ck_assert_int_eq(li.kind, LM_LAYER_ACT);
    ck_assert(lm_weights_find(NULL, mw, "stem.conv.weight") != LM_OK);
    ck_assert(lm_weights_find(NULL, mw, "stem.bn.weight") != LM_OK);
    ck_assert(lm_weights_find(NULL, mw, "merged.stem.conv.bias") == LM_OK);
    /* unchanged tensors keep their names */
    ck_assert(lm_weights_find(NULL, mw, "fc.weight") == LM_OK);
    /* where every new module came from, in the order it was composed */
    static const char *const origin[][2] = {
        {"merged.stem.conv", "stem.conv stem.bn"},
        {"merged.0_3", "t1.conv t1.bn t2.conv t2.bn t3.conv p03.conv"},
        {"merged.3_5", "t4.conv t4.bn t5.conv t5.bn p35.conv p35.bn"},
        {"merged.5_6", "t6.conv t6.bn"},
        {"merged.6_7", "t7.conv t7.bn"},
        {"merged.7_8", "t8.conv t8.bn"},
        {"merged.8_10", "t9.conv t9.bn t10.conv t10.bn"},
    };
    for (size_t i = 0; i < sizeof origin / sizeof origin[0]; i++) {
        char key[96];
        snprintf(key, sizeof key, "layermerge.merged_from.%s", origin[i][0]);
        const char *v = NULL;
        ck_assert_lm_ok(lm_weights_meta_get(&v, mw, key));
        ck_assert_str_eq(v, origin[i][1]);
    }
    check_no_batch_norm(mg);
    check_merged_names(w, mw);
    lm_plan_destroy(plan);
    lm_graph_destroy(mg);
    lm_weights_destroy(mw);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
}
END_TEST

/* Without any merge the network is only folded: the stem's batch norm and
 * the batch norm of projection (3,5), which stays a skip, are folded into
 * their convs under new names, and nothing else changes name. */
START_TEST(test_fold_only)
{
    static const small_case sc = {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 11,
                                  NULL, ""};
    lm_graph *g = small_net();
    lm_weights *w = random_weights(g, 4);
    lm_plan *plan = small_plan(g, &sc);
    lm_graph *mg = NULL;
    lm_weights *mw = NULL;
    ck_assert_lm_ok(lm_graph_merge(&mg, &mw, g, w, plan));
    check_no_batch_norm(mg);
    check_merged_names(w, mw);
    lm_skip_info si = {.size = sizeof si};
    ck_assert_lm_ok(lm_graph_skip_info(&si, mg, 2));
    ck_assert(si.source == 3 && si.target == 5);
    ck_assert_str_eq(si.projection_name, "merged.p35.conv");
    ck_assert_int_eq(si.projection_has_bias, 1);
    ck_assert_int_eq(si.projection_stride, 2);
    const char *from = NULL;
    ck_assert_lm_ok(lm_weights_meta_get(&from, mw,
                                        "layermerge.merged_from.merged.p35.conv"));
    ck_assert_str_eq(from, "p35.conv p35.bn");
    /* the unfused projections without batch norm keep theirs */
    ck_assert_lm_ok(lm_graph_skip_info(&si, mg, 1));
    ck_assert_str_eq(si.projection_name, "p03.conv");
    for (size_t c = 1; c <= 10; c++) {
        lm_conv_info ci = {.size = sizeof ci};
        char want[32];
        ck_assert_lm_ok(lm_graph_conv_info(&ci, mg, c));
        snprintf(want, sizeof want, "merged.%zu_%zu", c - 1, c);
        ck_assert_str_eq(ci.name, want);
    }
    lm_merge_deviation dev = {.size = sizeof dev};
    ck_assert_lm_ok(lm_graph_verify_merge(&dev, g, w, plan, mg, mw, 2, 5));
    ck_assert_msg(dev.max_rel <= TOLERANCE, "rel err %g", dev.max_rel);

    /* Merged again: its own "merged.*" names are taken, so the new
     * modules get ".2"; what is unchanged (the folded stem conv, now
     * without batch norm) keeps its name. */
    lm_plan *again = NULL;
    ck_assert_lm_ok(lm_plan_create_for_segments(&again, mg, sc.bounds,
                                                sc.n_bounds, NULL));
    lm_graph *mg2 = NULL;
    lm_weights *mw2 = NULL;
    ck_assert_lm_ok(lm_graph_merge(&mg2, &mw2, mg, mw, again));
    check_merged_names(mw, mw2);
    lm_conv_info ci = {.size = sizeof ci};
    ck_assert_lm_ok(lm_graph_conv_info(&ci, mg2, 1));
    ck_assert_str_eq(ci.name, "merged.0_1.2");
    ck_assert_lm_ok(lm_weights_meta_get(&from, mw2,
                                        "layermerge.merged_from.merged.0_1.2"));
    ck_assert_str_eq(from, "merged.0_1");
    lm_layer_info li = {.size = sizeof li};
    ck_assert_lm_ok(lm_graph_layer_info(&li, mg2, LM_SITE_STEM, 0, 0));
    ck_assert_str_eq(li.name, "merged.stem.conv");
    ck_assert_lm_ok(lm_graph_verify_merge(&dev, mg, mw, again, mg2, mw2, 1, 6));
    ck_assert_msg(dev.max_rel <= TOLERANCE, "rel err %g", dev.max_rel);
    lm_plan_destroy(again);
    lm_graph_destroy(mg2);
    lm_weights_destroy(mw2);
    lm_plan_destroy(plan);
    lm_graph_destroy(mg);
    lm_weights_destroy(mw);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
}
END_TEST

/* Module names longer than the fixed buffers the name builders once had
 * (256 bytes for a merged conv, 512 for an engine lookup, 1024 for the
 * merged tensors): each name is kept whole through merge, engine and
 * verify, so nothing is looked up under a truncated name. */
static char *long_name(char fill, const char *tail)
{
    char *s = malloc(1000);
    ck_assert_ptr_nonnull(s);
    memset(s, fill, 900);
    snprintf(s + 900, 100, "%s", tail);
    return s;
}

START_TEST(test_long_names)
{
    char *c0 = long_name('s', ".conv"), *b0 = long_name('s', ".bn");
    char *c1 = long_name('a', ".conv"), *b1 = long_name('a', ".bn");
    char *c2 = long_name('b', ".conv"), *c3 = long_name('c', ".conv");
    char *gname = long_name('g', "");
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_create(&g, 3, 8, 8));
    ck_assert_lm_ok(lm_graph_set_name(g, gname));
    ck_assert_lm_ok(lm_graph_add_layer_conv(
        g, LM_SITE_STEM, 0, LM_TEST_CONV(c0, 3, 3, 1, 1, 0, 1, 0)));
    ck_assert_lm_ok(lm_graph_add_layer_batchnorm(g, LM_SITE_STEM, 0, b0, 3,
                                                 1e-5));
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV(c1, 3, 4, 3, 1, 1, 1, 0), LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_set_conv_bn(g, 1, b1, 1e-5));
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV(c2, 4, 4, 3, 1, 1, 1, 1), LM_ACT_IDENTITY));
    ck_assert_lm_ok(lm_graph_add_conv(
        g, LM_TEST_CONV(c3, 4, 4, 1, 1, 0, 1, 1), LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_add_layer_adaptive_avgpool(g, LM_SITE_HEAD, 0, 1,
                                                        1));
    ck_assert_lm_ok(lm_graph_add_layer_flatten(g, LM_SITE_HEAD, 0));
    ck_assert_lm_ok(lm_graph_add_layer_linear(g, LM_SITE_HEAD, 0, "fc", 4, 2,
                                              1));
    ck_assert_lm_ok(lm_graph_validate(g));
    lm_weights *w = random_weights(g, 5);
    /* conv 1 alone, convs 2 and 3 merged into one. */
    static const small_case sc = {{0, 1, 3}, 3, NULL, ""};
    uint8_t kept[3] = {1, 1, 1};
    lm_plan *plan = NULL;
    ck_assert_lm_ok(lm_plan_create_for_segments(&plan, g, sc.bounds,
                                                sc.n_bounds, kept));
    lm_graph *mg = NULL;
    lm_weights *mw = NULL;
    ck_assert_lm_ok(lm_graph_merge(&mg, &mw, g, w, plan));
    ck_assert_uint_eq(strlen(lm_graph_name(mg)), 900 + strlen("-merged"));
    lm_conv_info ci = {.size = sizeof ci};
    ck_assert_lm_ok(lm_graph_conv_info(&ci, mg, 1));
    ck_assert_str_eq(ci.name, "merged.0_1");
    /* the long names survive whole in the origin of merged.0_1 and in the
     * folded stem conv's name */
    const char *from = NULL;
    ck_assert_lm_ok(lm_weights_meta_get(&from, mw,
                                        "layermerge.merged_from.merged.0_1"));
    ck_assert_uint_eq(strlen(from), strlen(c1) + 1 + strlen(b1));
    ck_assert(!strncmp(from, c1, strlen(c1)) && from[strlen(c1)] == ' ' &&
              !strcmp(from + strlen(c1) + 1, b1));
    lm_layer_info li = {.size = sizeof li};
    ck_assert_lm_ok(lm_graph_layer_info(&li, mg, LM_SITE_STEM, 0, 0));
    ck_assert_uint_eq(strlen(li.name), strlen("merged.") + strlen(c0));
    ck_assert_str_eq(li.name + strlen("merged."), c0);
    char *wname = malloc(strlen(li.name) + 8);
    ck_assert_ptr_nonnull(wname);
    sprintf(wname, "%s.bias", li.name);
    ck_assert_lm_ok(lm_weights_find(NULL, mw, wname));
    free(wname);
    ck_assert_lm_ok(lm_weights_check_graph(mw, mg));
    check_merged_names(w, mw);
    lm_merge_deviation dev = {.size = sizeof dev};
    ck_assert_lm_ok(lm_graph_verify_merge(&dev, g, w, plan, mg, mw, 1, 3));
    ck_assert(dev.max_rel <= TOLERANCE);
    lm_plan_destroy(plan);
    lm_graph_destroy(mg);
    lm_weights_destroy(mw);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
    free(c0);
    free(b0);
    free(c1);
    free(b1);
    free(c2);
    free(c3);
    free(gname);
}
END_TEST

/* ---- the zoo at a reduced input size ----------------------------------- */

static lm_graph *zoo_at(const char *model, int side)
{
    char rel[128];
    snprintf(rel, sizeof rel, "examples/models/%s.yaml", model);
    FILE *fp = fopen(lm_test_source_path(rel), "rb");
    ck_assert_ptr_nonnull(fp);
    char *text = calloc(1, 1 << 20);
    size_t len = fread(text, 1, (1 << 20) - 1, fp);
    fclose(fp);
    char *at = strstr(text, "height: 224, width: 224");
    ck_assert_ptr_nonnull(at);
    char repl[32];
    snprintf(repl, sizeof repl, "height: %3d, width: %3d", side, side);
    memcpy(at, repl, 23);
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_load_string(&g, text, len));
    free(text);
    return g;
}

/* Synthetic tables as in test_solver_api.c: latency grows with the work of
 * the merged conv, importance falls with its kernel and pruned convs. */
static lm_solver *synthetic_solver(const lm_graph *g, lm_entries **entries,
                                   lm_table **lat,
                                   lm_table **imp)
{
    ck_assert_lm_ok(lm_entries_create(entries, g));
    ck_assert_lm_ok(lm_table_create_latency_for(lat, *entries));
    ck_assert_lm_ok(lm_table_create_importance_for(imp, *entries,
                                                   LM_METRIC_NORMALISED));
    for (size_t id = 0; id < lm_entries_count(*entries); id++) {
        lm_entry_info in = {.size = sizeof in};
        ck_assert_lm_ok(lm_entries_entry_info(&in, *entries, id));
        double k2 = (double)(in.kernel * in.kernel);
        double work = k2 * (double)in.out_channels * (double)in.in_height *
                      (double)in.in_width / (double)(in.stride * in.stride);
        if (!in.depthwise)
            work *= (double)in.in_channels;
        double v = exp(-0.004 * (double)in.kernel -
                       0.01 * (double)(in.end - in.st - in.n_kept)) +
                   1e-4 * (double)(in.st % 3);
        if (!in.identity) /* ms-like values at 32x32 */
            ck_assert_lm_ok(lm_table_set_latency_entry(
                *lat, *entries, id, 0.2 + work * 1e-5, 0.0));
        ck_assert_lm_ok(lm_table_set_importance_entry_normalised(
            *imp, *entries, id, v, v));
    }
    lm_solver *s = NULL;
    ck_assert_lm_ok(lm_solver_create(&s, g, *entries, *lat, *imp));
    return s;
}

static const double zoo_ratios[] = {0.9, 0.7, 0.5};
static void check_results(const char *model, lm_graph *g,
                          const double *ratios);

/* Results at budget ratios 0.9, 0.7, 0.5 and the fastest point of the
 * Pareto front; each merged and verified against its chain. */
static void check_zoo_results(const char *model, int side)
{
    /* Whole-zoo merges are BLAS-bound: under valgrind (~100x slower there)
     * they would take a quarter of an hour and add no code path that the
     * small cases and the largest-segments case do not already cover; the
     * native and sanitizer runs check them in full. */
    if (UNDER_VALGRIND())
        return;
    check_results(model, zoo_at(model, side), zoo_ratios);
}

/* Results at `ratios` (three budget ratios) and the front's fastest. */
static void check_results(const char *model, lm_graph *g,
                          const double *ratios)
{
    lm_weights *w = random_weights(g, 17);
    lm_entries *e = NULL;
    lm_table *lat = NULL;
    lm_table *imp = NULL;
    lm_solver *s = synthetic_solver(g, &e, &lat, &imp);
    lm_solve_options *o = NULL;
    ck_assert_lm_ok(lm_solve_options_create(&o));
    for (size_t i = 0; i < 4; i++) {
        ck_assert_lm_ok(lm_solve_options_set_budget_ratio(
            o, i < 3 ? ratios[i] : 1.0));
        lm_result *r = NULL;
        lm_front *f = NULL;
        const lm_result *use = NULL;
        if (i < 3) {
            ck_assert_lm_ok(lm_solver_run(&r, s, o));
            use = r;
        } else {
            ck_assert_lm_ok(lm_solver_run_front(&f, s, o));
            use = lm_front_get(f, 0);
        }
        lm_plan *plan = NULL;
        ck_assert_lm_ok(lm_plan_create_for_result(&plan, g, use));
        double rel = merge_and_verify(g, w, plan, NULL);
        char label[32];
        snprintf(label, sizeof label, i < 3 ? "%.2g" : "fastest",
                 i < 3 ? ratios[i] : 0.0);
        fprintf(stderr, "%s %s: %zu segments, rel err %.3g\n", model, label,
                lm_plan_segment_count(plan), rel);
        ck_assert_msg(rel <= TOLERANCE, "%s %s: rel err %g", model, label,
                      rel);
        lm_plan_destroy(plan);
        lm_result_destroy(r);
        lm_front_destroy(f);
    }
    lm_solve_options_destroy(o);
    lm_solver_destroy(s);
    lm_table_destroy(imp);
    lm_table_destroy(lat);
    lm_entries_destroy(e);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
}

START_TEST(test_resnet34)
{
    check_zoo_results("resnet34", 32);
}
END_TEST

START_TEST(test_resnet50)
{
    check_zoo_results("resnet50", 32);
}
END_TEST

START_TEST(test_mobilenetv2)
{
    check_zoo_results("mobilenetv2", 32);
}
END_TEST

/* The largest valid segments of MobileNetV2, every conv kept: the
 * barriers alone bound the segments. */
START_TEST(test_mobilenetv2_largest_segments)
{
    if (UNDER_VALGRIND()) /* BLAS-bound, as check_zoo_results() */
        return;
    lm_graph *g = zoo_at("mobilenetv2", 32);
    lm_weights *w = random_weights(g, 23);
    lm_entries *e = NULL;
    ck_assert_lm_ok(lm_entries_create(&e, g));
    /* Greedy: from each start, the longest valid segment. */
    size_t n = lm_graph_conv_count(g), bounds[64], nb = 0, at = 0;
    bounds[nb++] = 0;
    while (at < n) {
        size_t best = at + 1;
        for (size_t sg = 0; sg < lm_entries_segment_count(e); sg++) {
            lm_segment_info si = {.size = sizeof si};
            ck_assert_lm_ok(lm_entries_segment_info(&si, e, sg));
            if (si.st == at && si.end > best && si.n_entries > 0)
                best = si.end;
        }
        bounds[nb++] = best;
        at = best;
    }
    lm_plan *plan = NULL;
    ck_assert_lm_ok(lm_plan_create_for_segments(&plan, g, bounds, nb, NULL));
    double rel = merge_and_verify(g, w, plan, NULL);
    fprintf(stderr, "mobilenetv2 largest segments (%zu): rel err %.3g\n",
            nb - 1, rel);
    ck_assert_msg(rel <= TOLERANCE, "rel err %g", rel);
    lm_plan_destroy(plan);
    lm_entries_destroy(e);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
}
END_TEST

/* ---- the engine running a plan, and bad input -------------------------- */

static lm_weights *copy_without(const lm_weights *w, const char *drop,
                                const char *reshape)
{
    lm_weights *c = NULL;
    ck_assert_lm_ok(lm_weights_create(&c));
    for (size_t i = 0; i < lm_weights_tensor_count(w); i++) {
        const char *name = lm_test_tensor_name(w, i);
        if (drop && !strcmp(name, drop))
            continue;
        int64_t dims[8];
        size_t nd = 0, n = 0;
        const float *data = NULL;
        ck_assert_lm_ok(lm_weights_shape(&nd, dims, 8, w, name));
        ck_assert_lm_ok(lm_weights_data_f32(&data, &n, w, name));
        if (reshape && !strcmp(name, reshape)) { /* same count, other shape */
            dims[0] = (int64_t)n;
            nd = 1;
        }
        ck_assert_lm_ok(lm_weights_set_f32(c, name, dims, nd, data));
    }
    return c;
}

/* configure_plan equals the original with NULL, refuses another graph's
 * plan, and a plan that only folds batch norms changes nothing. */
START_TEST(test_engine_plan)
{
    lm_graph *g = small_net();
    lm_weights *w = random_weights(g, 5);
    lm_engine *e = NULL;
    ck_assert_lm_ok(lm_engine_create(&e, g, w, 1));
    size_t ni = lm_engine_input_size(e), no = lm_engine_output_size(e);
    float *x = calloc(ni, sizeof *x), *y0 = calloc(no, sizeof *y0),
          *y1 = calloc(no, sizeof *y1);
    for (size_t i = 0; i < ni; i++)
        x[i] = (float)sin((double)i * 0.37);
    ck_assert_lm_ok(lm_engine_run(y0, no, e, x, ni));
    static const small_case sc = {{0, 3, 5, 8, 10}, 5, "\x06", ""};
    lm_plan *plan = small_plan(g, &sc);
    ck_assert_lm_ok(lm_engine_configure_plan(e, plan));
    ck_assert_lm_ok(lm_engine_run(y1, no, e, x, ni));
    ck_assert(memcmp(y0, y1, no * sizeof *y0) != 0);
    ck_assert_lm_ok(lm_engine_configure_plan(e, NULL));
    ck_assert_lm_ok(lm_engine_run(y1, no, e, x, ni));
    ck_assert_mem_eq(y0, y1, no * sizeof *y0);

    lm_graph *other = zoo_at("resnet18", 32);
    lm_entries *oe = NULL;
    ck_assert_lm_ok(lm_entries_create(&oe, other));
    lm_plan *oplan = NULL;
    ck_assert_lm_ok(lm_plan_create_for_entry(&oplan, other, oe, 3));
    ck_assert_lm_status(lm_engine_configure_plan(e, oplan), LM_ERR_MISMATCH);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), lm_graph_fingerprint(g)));
    ck_assert_ptr_nonnull(strstr(lm_last_error(), lm_graph_fingerprint(other)));
    ck_assert_lm_ok(lm_engine_run(y1, no, e, x, ni)); /* unchanged */
    ck_assert_mem_eq(y0, y1, no * sizeof *y0);
    ck_assert_lm_status(lm_engine_configure_plan(NULL, plan),
                        LM_ERR_INVALID_ARG);

    lm_graph *mg = NULL;
    lm_weights *mw = NULL;
    ck_assert_lm_status(lm_graph_merge(&mg, &mw, g, w, oplan),
                        LM_ERR_MISMATCH);
    ck_assert_ptr_null(mg);
    ck_assert_ptr_null(mw);
    lm_merge_deviation dev = {.size = sizeof dev};
    ck_assert_lm_status(lm_graph_verify_merge(&dev, g, w, oplan, g, w, 1, 1),
                        LM_ERR_MISMATCH);
    ck_assert_lm_status(lm_graph_verify_merge(&dev, g, w, plan, g, w, 0, 1),
                        LM_ERR_INVALID_ARG);
    lm_plan_destroy(oplan);
    lm_entries_destroy(oe);
    lm_graph_destroy(other);
    lm_plan_destroy(plan);
    free(x);
    free(y0);
    free(y1);
    lm_engine_destroy(e);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
}
END_TEST

START_TEST(test_bad_weights)
{
    lm_graph *g = small_net();
    lm_weights *w = random_weights(g, 8);
    static const small_case sc = {{0, 3, 5, 8, 10}, 5, NULL, ""};
    lm_plan *plan = small_plan(g, &sc);
    lm_graph *mg = NULL;
    lm_weights *mw = NULL;

    lm_weights *missing = copy_without(w, "t6.bn.running_var", NULL);
    ck_assert_lm_status(lm_graph_merge(&mg, &mw, g, missing, plan),
                        LM_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "t6.bn.running_var"));
    ck_assert_ptr_null(mg);
    lm_weights_destroy(missing);

    lm_weights *bad = copy_without(w, NULL, "p68.conv.weight");
    ck_assert_lm_status(lm_graph_merge(&mg, &mw, g, bad, plan),
                        LM_ERR_MISMATCH);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "p68.conv.weight"));
    lm_weights_destroy(bad);

    /* merged weights that do not fit the merged graph */
    ck_assert_lm_ok(lm_graph_merge(&mg, &mw, g, w, plan));
    lm_merge_deviation dev = {.size = sizeof dev};
    ck_assert_lm_status(lm_graph_verify_merge(&dev, g, w, plan, mg, w, 1, 1),
                        LM_ERR_NOT_FOUND);
    ck_assert_lm_status(lm_graph_merge(NULL, &mw, g, w, plan),
                        LM_ERR_INVALID_ARG);
    lm_graph_destroy(mg);
    lm_weights_destroy(mw);
    lm_plan_destroy(plan);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
}
END_TEST

/* A result of another graph is refused with both fingerprints named. */
START_TEST(test_result_of_other_graph)
{
    lm_graph *g = zoo_at("resnet34", 32);
    lm_graph *other = zoo_at("resnet34", 64);
    lm_entries *e = NULL;
    lm_table *lat = NULL;
    lm_table *imp = NULL;
    lm_solver *s = synthetic_solver(g, &e, &lat, &imp);
    lm_solve_options *o = NULL;
    ck_assert_lm_ok(lm_solve_options_create(&o));
    ck_assert_lm_ok(lm_solve_options_set_budget_ratio(o, 0.7));
    lm_result *r = NULL;
    ck_assert_lm_ok(lm_solver_run(&r, s, o));
    lm_plan *plan = NULL;
    ck_assert_lm_status(lm_plan_create_for_result(&plan, other, r),
                        LM_ERR_MISMATCH);
    ck_assert_ptr_null(plan);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), lm_graph_fingerprint(g)));
    ck_assert_ptr_nonnull(strstr(lm_last_error(),
                                 lm_graph_fingerprint(other)));
    ck_assert_lm_ok(lm_plan_create_for_result(&plan, g, r));
    ck_assert_str_eq(lm_plan_fingerprint(plan), lm_graph_fingerprint(g));
    for (size_t q = 1; q <= lm_graph_conv_count(g); q++)
        ck_assert_int_eq(lm_plan_act_at(plan, q) != LM_ACT_IDENTITY,
                         lm_result_keeps_act(r, q));
    lm_plan_destroy(plan);
    lm_result_destroy(r);
    lm_solve_options_destroy(o);
    lm_solver_destroy(s);
    lm_table_destroy(imp);
    lm_table_destroy(lat);
    lm_entries_destroy(e);
    lm_graph_destroy(other);
    lm_graph_destroy(g);
}
END_TEST

/* ---- U-Nets ------------------------------------------------------------- */

static lm_graph *unet_mini(void)
{
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_load(
        &g, lm_test_source_path("tests/data/graph_unet_mini.yaml")));
    return g;
}

/* Every entry of the miniature U-Net applied alone: blocks merged with
 * their time projection composed, one conv of a block pruned (the padding
 * then on the pruned first conv, before the time projection), the
 * identity option of the upsampling conv. */
START_TEST(test_unet_every_entry)
{
    lm_graph *g = unet_mini();
    lm_weights *w = random_weights(g, 5);
    lm_entries *e = NULL;
    ck_assert_lm_ok(lm_entries_create(&e, g));
    for (size_t id = 0; id < lm_entries_count(e); id++) {
        lm_plan *plan = NULL;
        ck_assert_lm_ok(lm_plan_create_for_entry(&plan, g, e, id));
        double rel = merge_and_verify(g, w, plan, NULL);
        ck_assert_msg(rel <= TOLERANCE, "entry %zu: rel err %g", id, rel);
        lm_plan_destroy(plan);
    }
    lm_entries_destroy(e);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
}
END_TEST

/* Whole partitions: every block merged, with each choice of pruned conv,
 * and the identity option taken; the merged network saved and loaded. */
START_TEST(test_unet_partitions)
{
    lm_graph *g = unet_mini();
    lm_weights *w = random_weights(g, 8);
    char *dir = lm_test_tmpdir();
    static const size_t bounds[] = {0, 1, 3, 4, 6, 7, 9};
    static const uint8_t kept[4][9] = {
        {1, 1, 1, 1, 1, 1, 1, 1, 1},
        {1, 0, 1, 1, 1, 1, 1, 1, 0},
        {1, 1, 0, 1, 1, 0, 0, 1, 1},
        {1, 0, 1, 1, 1, 0, 0, 1, 0}};
    for (size_t k = 0; k < 4; k++) {
        lm_plan *plan = NULL;
        ck_assert_lm_ok(lm_plan_create_for_segments(&plan, g, bounds, 7,
                                                    kept[k]));
        /* A pruned block conv1 before the time projection pads. */
        if (!kept[k][1]) {
            lm_plan_conv pc = {.size = sizeof pc};
            ck_assert_lm_ok(lm_plan_conv_info(&pc, plan, 2));
            ck_assert_int_eq(pc.kept, 0);
            ck_assert_int_eq(pc.padding, 2 - 1);
        }
        double rel = merge_and_verify(g, w, plan, dir);
        fprintf(stderr, "unet_mini partition %zu: rel err %.3g\n", k, rel);
        ck_assert_msg(rel <= TOLERANCE, "partition %zu: rel err %g", k, rel);
        lm_plan_destroy(plan);
    }
    /* The merged network of the first keeps the residual of each block as
     * a skip (its conv reads through pre layers) and the concatenation. */
    lm_plan *plan = NULL;
    ck_assert_lm_ok(lm_plan_create_for_segments(&plan, g, bounds, 7,
                                                kept[0]));
    lm_graph *mg = NULL;
    lm_weights *mw = NULL;
    ck_assert_lm_ok(lm_graph_merge(&mg, &mw, g, w, plan));
    ck_assert_uint_eq(lm_graph_conv_count(mg), 6);
    ck_assert_uint_eq(lm_graph_skip_count(mg), 4);
    lm_conv_info ci = {.size = sizeof ci};
    ck_assert_lm_ok(lm_graph_conv_info(&ci, mg, 2));
    ck_assert_int_eq(ci.kernel, 5);
    ck_assert_int_eq(ci.has_time_projection, 1);
    ck_assert_int_eq(ci.has_groupnorm, 0);
    ck_assert_uint_eq(ci.pre_layer_count, 2);
    lm_graph_destroy(mg);
    lm_weights_destroy(mw);
    lm_plan_destroy(plan);
    lm_test_rmtree(dir);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
}
END_TEST

/* A weight source that fails on one tensor, else reads `w`. */
typedef struct failing_source {
    const lm_weights *w;
    const char *fail_on;
} failing_source;

static lm_status failing_fetch(const char *name, const int64_t *shape,
                               size_t ndim, float *dst, void *userdata)
{
    const failing_source *f = userdata;
    (void)shape;
    (void)ndim;
    if (!strcmp(name, f->fail_on))
        return lm_set_error(LM_ERR_NOT_FOUND, "no tensor here");
    const float *data = NULL;
    size_t n = 0;
    lm_status st = lm_weights_data_f32(&data, &n, f->w, name);
    if (st == LM_OK)
        memcpy(dst, data, n * sizeof *dst);
    return st;
}

/* Every U-Net part's tensors are fetched by name; a missing one fails the
 * engine's creation naming it, and frees what was built (valgrind). */
START_TEST(test_unet_engine_missing_tensors)
{
    static const char *const names[] = {
        "temb.dense.0.weight", "temb.dense.1.bias", "a.norm1.weight",
        "a.temb_proj.weight", "a.norm2.bias", "a.attn.norm.weight",
        "a.attn.q.bias", "a.attn.proj_out.weight", "c.norm1.bias",
        "norm_out.weight"};
    lm_graph *g = unet_mini();
    lm_weights *w = random_weights(g, 6);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        failing_source f = {w, names[i]};
        lm_engine *e = NULL;
        ck_assert_lm_status(lm_engine_create_with_fetch(&e, g, 2,
                                                        failing_fetch, &f),
                            LM_ERR_NOT_FOUND);
        ck_assert_ptr_null(e);
        ck_assert_msg(strstr(lm_last_error(), names[i]), "%s: %s", names[i],
                      lm_last_error());
    }
    lm_weights_destroy(w);
    lm_graph_destroy(g);
}
END_TEST

/* An identity option at a block's output: the block's merged conv has the
 * block's pre layers, so the merged position cannot keep the option (it
 * would not validate); the merge leaves it off and succeeds. */
START_TEST(test_identity_option_on_merged_block)
{
    char *text = lm_test_read_file(
        lm_test_source_path("tests/data/graph_unet_mini.yaml"), NULL);
    char *at = strstr(text, "identity_options: [7]");
    ck_assert_ptr_nonnull(at);
    memcpy(at, "identity_options: [3]", 21);
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_load_string(&g, text, strlen(text)));
    free(text);
    lm_weights *w = random_weights(g, 4);
    static const size_t bounds[] = {0, 1, 3, 4, 6, 7, 9};
    lm_plan *plan = NULL;
    ck_assert_lm_ok(lm_plan_create_for_segments(&plan, g, bounds, 7, NULL));
    double rel = merge_and_verify(g, w, plan, NULL);
    ck_assert_msg(rel <= TOLERANCE, "rel err %g", rel);
    lm_plan_destroy(plan);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
}
END_TEST

/* The identity option where a merged network cannot express it: the
 * segment's start is read by a skip, and its end has an activation that
 * the start would then carry. Refused, naming the segment and the skip. */
START_TEST(test_identity_refused)
{
    static const char text[] =
        "format: layermerge-graph\nversion: 1\n"
        "input: {channels: 4, height: 6, width: 6}\n"
        "trunk:\n"
        "  - {name: a, in: 4, out: 4, kernel: 3, padding: 1, act: silu}\n"
        "  - {name: b, in: 4, out: 4, kernel: 3, padding: 1, act: silu}\n"
        "  - {name: c, in: 4, out: 4, kernel: 3, padding: 1, act: silu}\n"
        "skips: [{from: 1, to: 3}]\n"
        "identity_options: [2]\n";
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_load_string(&g, text, sizeof text - 1));
    lm_weights *w = random_weights(g, 2);
    static const size_t bounds[] = {0, 1, 2, 3};
    static const uint8_t kept[] = {1, 0, 1};
    lm_plan *plan = NULL;
    ck_assert_lm_ok(lm_plan_create_for_segments(&plan, g, bounds, 4, kept));
    lm_graph *mg = NULL;
    lm_weights *mw = NULL;
    ck_assert_lm_status(lm_graph_merge(&mg, &mw, g, w, plan),
                        LM_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(lm_last_error(), "segment (1, 2) is the identity "
                         "option, but skip 0 reads position 1"), "%s",
                  lm_last_error());
    ck_assert_ptr_null(mg);
    ck_assert_ptr_null(mw);
    lm_plan_destroy(plan);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
}
END_TEST

/* The DDPM U-Net of the zoo at the synthetic budgets. */
START_TEST(test_ddpm_cifar10)
{
    if (UNDER_VALGRIND())
        return;
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_load(
        &g, lm_test_source_path("examples/models/ddpm_cifar10.yaml")));
    /* Every block merged with both convs kept (5x5, the time projection
     * composed through conv2), and the upsampling convs removed. */
    size_t n = lm_graph_conv_count(g), bounds[64], nb = 0;
    uint8_t kept[64];
    for (size_t p = 0; p <= n; p++)
        if (p == n || lm_graph_position_barrier(g, p))
            bounds[nb++] = p;
    for (size_t c = 1; c <= n; c++)
        kept[c - 1] = !lm_graph_position_identity(g, c);
    lm_weights *w = random_weights(g, 23);
    lm_plan *plan = NULL;
    ck_assert_lm_ok(lm_plan_create_for_segments(&plan, g, bounds, nb, kept));
    double rel = merge_and_verify(g, w, plan, NULL);
    fprintf(stderr, "ddpm_cifar10 every block merged: %zu segments, rel err "
            "%.3g\n", nb - 1, rel);
    ck_assert_msg(rel <= TOLERANCE, "every block merged: rel err %g", rel);
    lm_plan_destroy(plan);
    lm_weights_destroy(w);
    /* Its stem-less trunk reaches 0.53 of the synthetic latency at most. */
    static const double ratios[] = {0.9, 0.7, 0.6};
    check_results("ddpm_cifar10", g, ratios);
}
END_TEST

static Suite *netmerge_suite(void)
{
    Suite *s = suite_create("netmerge");
    TCase *tc = tcase_create("small");
    tcase_add_test(tc, test_small_cases);
    tcase_add_test(tc, test_small_structure);
    tcase_add_test(tc, test_fold_only);
    tcase_add_test(tc, test_long_names);
    tcase_add_test(tc, test_engine_plan);
    tcase_add_test(tc, test_bad_weights);
    tcase_add_test(tc, test_result_of_other_graph);
    suite_add_tcase(s, tc);
    TCase *zoo = tcase_create("zoo");
    tcase_set_timeout(zoo, 600);
    tcase_add_test(zoo, test_resnet34);
    tcase_add_test(zoo, test_resnet50);
    tcase_add_test(zoo, test_mobilenetv2);
    tcase_add_test(zoo, test_mobilenetv2_largest_segments);
    tcase_add_test(zoo, test_ddpm_cifar10);
    suite_add_tcase(s, zoo);
    TCase *unet = tcase_create("unet");
    tcase_add_test(unet, test_unet_every_entry);
    tcase_add_test(unet, test_unet_partitions);
    tcase_add_test(unet, test_identity_refused);
    tcase_add_test(unet, test_unet_engine_missing_tensors);
    tcase_add_test(unet, test_identity_option_on_merged_block);
    suite_add_tcase(s, unet);
    return s;
}

int main(void)
{
    return lm_test_run(netmerge_suite());
}
