/* Training-loop plans (docs/method.md section 8): kept convs, fine-tuning
 * padding, activations and fused skips, for entries and partitions. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "layermerge/engine.h"
#include "layermerge/entries.h"
#include "layermerge/graph.h"
#include "layermerge/plan.h"
#include "layermerge/solver.h"
#include "layermerge/weights.h"
#include "graph/graph_query.h"
#include "plan/plan_query.h"

static lm_graph *load_model(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "examples/models/%s.yaml", name);
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_load(&g, lm_test_source_path(rel)));
    return g;
}

/* The entry of segment (st, end) with merged kernel K (dense). */
static size_t entry_id(const lm_entries *e, size_t st, size_t end, int64_t k)
{
    size_t id = 0;
    ck_assert_lm_ok(lm_entries_find(&id, e, LM_TEST_KEY(st, end, k, 1, 0)));
    return id;
}

START_TEST(single_conv_entry_is_the_original_network)
{
    lm_graph *g = load_model("resnet34");
    lm_entries *e = NULL;
    ck_assert_lm_ok(lm_entries_create(&e, g));
    lm_plan *p = NULL;
    ck_assert_lm_ok(lm_plan_create_for_entry(&p, g, e, entry_id(e, 3, 4, 3)));
    size_t n = lm_graph_conv_count(g);
    ck_assert_uint_eq(lm_plan_conv_count(p), n);
    ck_assert_uint_eq(lm_plan_segment_count(p), n);
    for (size_t c = 1; c <= n; c++) {
        lm_conv_info ci = {.size = sizeof ci};
        ck_assert_lm_ok(lm_graph_conv_info(&ci, g, c));
        ck_assert(lm_plan_keeps_conv(p, c));
        ck_assert_int_eq(lm_plan_padding_at(p, c), ci.padding);
        ck_assert_int_eq(lm_plan_act_at(p, c), lm_graph_position_act(g, c));
    }
    for (size_t k = 0; k < lm_graph_skip_count(g); k++)
        ck_assert(!lm_plan_fuses_skip(p, k) && !lm_plan_drops_skip(p, k));
    lm_plan_destroy(p);
    lm_entries_destroy(e);
    lm_graph_destroy(g);
}
END_TEST

START_TEST(merged_block_moves_padding_and_fuses_its_skip)
{
    lm_graph *g = load_model("resnet34");
    lm_entries *e = NULL;
    ck_assert_lm_ok(lm_entries_create(&e, g));
    lm_plan *p = NULL;
    /* (0, 2) with K = 5 keeps both 3x3 convs of the first basic block. */
    ck_assert_lm_ok(lm_plan_create_for_entry(&p, g, e, entry_id(e, 0, 2, 5)));
    ck_assert(lm_plan_keeps_conv(p, 1) && lm_plan_keeps_conv(p, 2));
    ck_assert_int_eq(lm_plan_padding_at(p, 1), 2);
    ck_assert_int_eq(lm_plan_padding_at(p, 2), 0);
    ck_assert_int_eq(lm_plan_padding_at(p, 3), 1);
    ck_assert_int_eq(lm_plan_act_at(p, 1), LM_ACT_IDENTITY);
    ck_assert_int_eq(lm_plan_act_at(p, 2), LM_ACT_RELU);
    ck_assert(lm_plan_fuses_skip(p, 0));  /* (0, 2) */
    ck_assert(!lm_plan_fuses_skip(p, 1)); /* (2, 4) */
    ck_assert_uint_eq(lm_plan_segment_count(p), lm_graph_conv_count(g) - 1);
    size_t st, end;
    ck_assert_lm_ok(lm_plan_segment_bounds(p, 0, &st, &end));
    ck_assert_uint_eq(st, 0);
    ck_assert_uint_eq(end, 2);
    lm_plan_destroy(p);

    /* (0, 4) with K = 5 keeps two of four 3x3 convs; the padding of both
     * lands on the first kept one. */
    size_t id = entry_id(e, 0, 4, 5);
    lm_entry_info ei = {.size = sizeof ei};
    ck_assert_lm_ok(lm_entries_entry_info(&ei, e, id));
    ck_assert_uint_eq(ei.n_kept, 2);
    ck_assert_lm_ok(lm_plan_create_for_entry(&p, g, e, id));
    int kept = 0;
    for (size_t c = 1; c <= 4; c++) {
        int is_kept = c == ei.kept[0] || c == ei.kept[1];
        ck_assert_int_eq(lm_plan_keeps_conv(p, c), is_kept);
        ck_assert_int_eq(lm_plan_padding_at(p, c), c == ei.kept[0] ? 2 : 0);
        kept += is_kept;
    }
    ck_assert_int_eq(kept, 2);
    ck_assert(lm_plan_fuses_skip(p, 0) && lm_plan_fuses_skip(p, 1));
    lm_plan_destroy(p);
    lm_entries_destroy(e);
    lm_graph_destroy(g);
}
END_TEST

START_TEST(identity_boundary_gains_the_nonlinearity)
{
    lm_graph *g = load_model("mobilenetv2");
    lm_entries *e = NULL;
    ck_assert_lm_ok(lm_entries_create(&e, g));
    ck_assert_int_eq(lm_graph_position_act(g, 8), LM_ACT_IDENTITY);
    /* Block (5, 8]: expand 1x1, dw 3x3, project 1x1 with a skip around. */
    size_t id = 0;
    ck_assert_lm_ok(lm_entries_find(&id, e, LM_TEST_KEY(5, 8, 3, 1, 0)));
    lm_plan *p = NULL;
    ck_assert_lm_ok(lm_plan_create_for_entry(&p, g, e, id));
    ck_assert_int_eq(lm_plan_act_at(p, 6), LM_ACT_IDENTITY);
    ck_assert_int_eq(lm_plan_act_at(p, 7), LM_ACT_IDENTITY);
    ck_assert_int_eq(lm_plan_act_at(p, 8), LM_ACT_RELU6);
    ck_assert_int_eq(lm_plan_act_at(p, 5), LM_ACT_IDENTITY);
    ck_assert_int_eq(lm_plan_padding_at(p, 6), 1);
    ck_assert_int_eq(lm_plan_padding_at(p, 7), 0);
    ck_assert(lm_plan_fuses_skip(p, 0));
    lm_plan_destroy(p);
    lm_entries_destroy(e);
    lm_graph_destroy(g);
}
END_TEST

START_TEST(bad_partitions_name_the_fault)
{
    lm_graph *g = load_model("resnet34");
    size_t n = lm_graph_conv_count(g);
    size_t bounds[40];
    for (size_t q = 0; q <= n; q++)
        bounds[q] = q;
    lm_plan *p = NULL;

    /* Not ending at N. */
    ck_assert_lm_status(lm_plan_create_for_segments(&p, g, bounds, n, NULL),
                        LM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "from 0 to 32"));

    /* (6, 8) crosses barrier 7. */
    size_t cross[32];
    size_t k = 0;
    for (size_t q = 0; q <= n; q++)
        if (q != 7)
            cross[k++] = q;
    ck_assert_lm_status(lm_plan_create_for_segments(&p, g, cross, k, NULL),
                        LM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "(6, 8)"));

    /* Conv 7 is strided: it cannot be pruned. */
    uint8_t kept[32];
    memset(kept, 1, sizeof kept);
    kept[6] = 0;
    ck_assert_lm_status(
        lm_plan_create_for_segments(&p, g, bounds, n + 1, kept),
        LM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "conv 7"));

    /* Pruning the only conv of a segment needs the identity option. */
    memset(kept, 1, sizeof kept);
    kept[1] = 0;
    ck_assert_lm_status(
        lm_plan_create_for_segments(&p, g, bounds, n + 1, kept),
        LM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "identity option"));
    ck_assert_ptr_null(p);

    /* With the identity option, the whole segment (0, 2) may go, and its
     * skip goes with it. */
    ck_assert_lm_ok(lm_graph_set_identity_option(g, 2, 1));
    ck_assert_lm_ok(lm_graph_validate(g));
    kept[0] = 0;
    size_t ident[32];
    k = 0;
    for (size_t q = 0; q <= n; q++)
        if (q != 1)
            ident[k++] = q;
    ck_assert_lm_ok(lm_plan_create_for_segments(&p, g, ident, k, kept));
    ck_assert(lm_plan_drops_skip(p, 0));
    ck_assert(!lm_plan_fuses_skip(p, 0));
    lm_plan_destroy(p);
    lm_graph_destroy(g);
}
END_TEST

START_TEST(entries_of_another_graph_are_refused)
{
    lm_graph *g = load_model("resnet34");
    lm_graph *h = load_model("resnet18");
    lm_entries *e = NULL;
    ck_assert_lm_ok(lm_entries_create(&e, h));
    lm_plan *p = NULL;
    ck_assert_lm_status(lm_plan_create_for_entry(&p, g, e, 0),
                        LM_ERR_MISMATCH);
    ck_assert_lm_status(
        lm_plan_create_for_entry(&p, h, e, lm_entries_count(e)),
        LM_ERR_INVALID_ARG);
    lm_graph *fresh = NULL;
    ck_assert_lm_ok(lm_graph_create(&fresh, 3, 8, 8));
    ck_assert_lm_status(lm_plan_create_for_entry(&p, fresh, e, 0),
                        LM_ERR_STATE);
    lm_graph_destroy(fresh);
    lm_entries_destroy(e);
    lm_graph_destroy(h);
    lm_graph_destroy(g);
}
END_TEST

START_TEST(plan_yaml_lists_every_decision)
{
    lm_graph *g = load_model("resnet34");
    lm_entries *e = NULL;
    ck_assert_lm_ok(lm_entries_create(&e, g));
    lm_plan *p = NULL;
    ck_assert_lm_ok(lm_plan_create_for_entry(&p, g, e, entry_id(e, 0, 2, 5)));
    char *dir = lm_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/plan.yaml", dir);
    ck_assert_lm_ok(lm_plan_save(p, path));
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char text[65536];
    size_t len = fread(text, 1, sizeof text - 1, f);
    text[len] = '\0';
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "format: layermerge-plan"));
    ck_assert_ptr_nonnull(strstr(text, lm_graph_fingerprint(g)));
    ck_assert_ptr_nonnull(strstr(text, "{conv: 1, keep: true, padding: 2}"));
    ck_assert_ptr_nonnull(strstr(text, "{conv: 2, keep: true, padding: 0}"));
    ck_assert_ptr_nonnull(strstr(text, "{position: 1, act: identity}"));
    /* skip (0, 2) spans the whole segment: both ends are 56x56 */
    ck_assert_ptr_nonnull(strstr(text, "{from: 0, to: 2, fused: true, "
                                       "dropped: false, stride: 1, "
                                       "source_size: [56, 56], "
                                       "target_size: [56, 56], pad: {top: 0, "
                                       "bottom: 0, left: 0, right: 0}}"));
    /* the strided projection of skip (6, 8) is outside: nothing to fit */
    ck_assert_ptr_nonnull(strstr(text, "{from: 6, to: 8, fused: false, "
                                       "dropped: false, stride: 2, "
                                       "source_size: [56, 56], "
                                       "target_size: [28, 28], pad: {top: 0, "
                                       "bottom: 0, left: 0, right: 0}}"));
    ck_assert_lm_status(lm_plan_save(p, "/nonexistent-dir/plan.yaml"), LM_ERR_IO);
    lm_test_rmtree(dir);
    lm_plan_destroy(p);
    lm_entries_destroy(e);
    lm_graph_destroy(g);
}
END_TEST

/* The records of plan.h say what the plan decided, item by item, and an
 * index out of range is an error naming it, not a silent 0. */
START_TEST(public_records_match_and_refuse_out_of_range)
{
    lm_graph *g = load_model("resnet34");
    lm_entries *e = NULL;
    ck_assert_lm_ok(lm_entries_create(&e, g));
    lm_plan *p = NULL;
    ck_assert_lm_ok(lm_plan_create_for_entry(&p, g, e, entry_id(e, 0, 4, 5)));
    size_t n = lm_plan_conv_count(p);
    for (size_t c = 1; c <= n; c++) {
        lm_plan_conv conv = {.size = sizeof conv};
        ck_assert_lm_ok(lm_plan_conv_info(&conv, p, c));
        ck_assert_int_eq(conv.kept, lm_plan_keeps_conv(p, c));
        ck_assert_int_eq(conv.padding, lm_plan_padding_at(p, c));
        lm_plan_position pos = {.size = sizeof pos};
        ck_assert_lm_ok(lm_plan_position_info(&pos, p, c));
        ck_assert_int_eq(pos.activation, lm_plan_act_at(p, c));
    }
    for (size_t k = 0; k < lm_graph_skip_count(g); k++) {
        lm_plan_skip skip = {.size = sizeof skip};
        ck_assert_lm_ok(lm_plan_skip_info(&skip, p, k));
        ck_assert_int_eq(skip.fused, lm_plan_fuses_skip(p, k));
        ck_assert_int_eq(skip.dropped, lm_plan_drops_skip(p, k));
        lm_skip_info si = {.size = sizeof si};
        ck_assert_lm_ok(lm_graph_skip_info(&si, g, k));
        ck_assert_uint_eq(skip.source, si.source);
        ck_assert_uint_eq(skip.target, si.target);
    }
    /* docs/method.md section 8's example: in segment (0, 4) keeping all
     * four convs (K = 9) skip (0, 2) pads its 56x56 input by 2 to 60x60,
     * skip (2, 4) crops 60x60 by 2; the plan file says so too. */
    lm_plan *p9 = NULL;
    ck_assert_lm_ok(lm_plan_create_for_entry(&p9, g, e, entry_id(e, 0, 4, 9)));
    lm_plan_skip s02 = {.size = sizeof s02}, s24 = {.size = sizeof s24};
    ck_assert_lm_ok(lm_plan_skip_info(&s02, p9, 0));
    ck_assert_lm_ok(lm_plan_skip_info(&s24, p9, 1));
    ck_assert(s02.source == 0 && s02.target == 2 && s02.stride == 1);
    ck_assert(s02.source_height == 56 && s02.source_width == 56);
    ck_assert(s02.target_height == 60 && s02.target_width == 60);
    ck_assert(s02.pad_top == 2 && s02.pad_bottom == 2 && s02.pad_left == 2 &&
              s02.pad_right == 2);
    ck_assert(s24.source_height == 60 && s24.target_height == 56);
    ck_assert(s24.pad_top == -2 && s24.pad_bottom == -2 &&
              s24.pad_left == -2 && s24.pad_right == -2);
    lm_test_collected doc = {0};
    ck_assert_lm_ok(lm_plan_write(p9, lm_test_collect, &doc));
    ck_assert_ptr_nonnull(strstr(doc.data, "{from: 0, to: 2, fused: true, "
                                           "dropped: false, stride: 1, "
                                           "source_size: [56, 56], "
                                           "target_size: [60, 60], pad: "
                                           "{top: 2, bottom: 2, left: 2, "
                                           "right: 2}}"));
    ck_assert_ptr_nonnull(strstr(doc.data, "{from: 2, to: 4, fused: true, "
                                           "dropped: false, stride: 1, "
                                           "source_size: [60, 60], "
                                           "target_size: [56, 56], pad: "
                                           "{top: -2, bottom: -2, left: -2, "
                                           "right: -2}}"));
    free(doc.data);
    lm_plan_destroy(p9);
    /* A caller built against the record of fused and dropped only gets
     * those: nothing past its size is written. */
    struct {
        size_t size;
        int32_t fused, dropped;
        unsigned char guard[16];
    } older;
    memset(&older, 0xAB, sizeof older);
    older.size = offsetof(lm_plan_skip, source);
    ck_assert_lm_ok(lm_plan_skip_info((lm_plan_skip *)(void *)&older, p, 0));
    ck_assert_int_eq(older.fused, 1);
    ck_assert_int_eq(older.dropped, 0);
    for (size_t i = 0; i < sizeof older.guard; i++)
        ck_assert_uint_eq(older.guard[i], 0xAB);
    lm_plan_segment seg = {.size = sizeof seg};
    ck_assert_lm_ok(lm_plan_segment_info(&seg, p, 0));
    ck_assert(seg.st == 0 && seg.end == 4);
    lm_plan_conv conv = {.size = sizeof conv};
    ck_assert_lm_status(lm_plan_conv_info(&conv, p, 0), LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_plan_conv_info(&conv, p, n + 1),
                        LM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "out of range"));
    lm_plan_position pos = {.size = sizeof pos};
    ck_assert_lm_status(lm_plan_position_info(&pos, p, n + 1),
                        LM_ERR_INVALID_ARG);
    lm_plan_skip skip = {.size = sizeof skip};
    ck_assert_lm_status(lm_plan_skip_info(&skip, p, lm_graph_skip_count(g)),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(
        lm_plan_segment_info(&seg, p, lm_plan_segment_count(p)),
        LM_ERR_INVALID_ARG);
    lm_plan_conv unset = {0};
    ck_assert_lm_status(lm_plan_conv_info(&unset, p, 1), LM_ERR_INVALID_ARG);

    /* The write callback gets the document lm_plan_save writes. */
    lm_test_collected out = {0};
    ck_assert_lm_ok(lm_plan_write(p, lm_test_collect, &out));
    ck_assert_ptr_nonnull(strstr(out.data, "format: layermerge-plan"));
    ck_assert_ptr_nonnull(strstr(out.data, "{conv: 1, keep: true"));
    free(out.data);
    ck_assert_lm_status(lm_plan_write(p, NULL, NULL), LM_ERR_INVALID_ARG);
    lm_plan_destroy(p);
    lm_entries_destroy(e);
    lm_graph_destroy(g);
}
END_TEST

/* A hand-written result for tests/data/bad/tiny_graph.yaml: three
 * single-conv segments with entry ids e0..e2 and the kernel of segment 0
 * given as k0. */
static lm_status tiny_result_plan(const lm_graph *g, const char *dir,
                                  size_t e0, size_t e1, size_t e2, int k0)
{
    char path[512];
    snprintf(path, sizeof path, "%s/r.yaml", dir);
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fprintf(fp,
            "format: layermerge-result\nversion: 1\nmethod: layermerge\n"
            "fingerprint: %s\nconv_count: 3\nbudget: 10.0\n"
            "budget_units: 100\nprecision: 10.0\nrounding: ceil\n"
            "importance: 1.0\nlatency: 1.0\nfixed_latency: 0.0\n"
            "latency_discrete: 10\nactivations: [1, 2, 3]\n"
            "convs: [1, 2, 3]\nmerges: [1, 2, 3]\nsegments:\n"
            "  - {st: 0, end: 1, entry: %zu, ker: %d, str: 1, is_dw: 0, "
            "latency: 0.3, importance: 0.3, convs: [1]}\n"
            "  - {st: 1, end: 2, entry: %zu, ker: 3, str: 1, is_dw: 1, "
            "latency: 0.3, importance: 0.3, convs: [2]}\n"
            "  - {st: 2, end: 3, entry: %zu, ker: 1, str: 1, is_dw: 0, "
            "latency: 0.4, importance: 0.4, convs: [3]}\n",
            lm_graph_fingerprint(g), e0, k0, e1, e2);
    fclose(fp);
    lm_result *r = NULL;
    lm_plan *plan = NULL;
    ck_assert_lm_ok(lm_result_load(&r, path));
    lm_status st = lm_plan_create_for_result(&plan, g, r);
    if (st == LM_OK)
        ck_assert_ptr_nonnull(plan);
    else
        ck_assert_ptr_null(plan);
    lm_plan_destroy(plan);
    lm_result_destroy(r);
    return st;
}

/* The loader cannot know the graph's entries; the plan can. A result
 * whose segment names another entry, no entry at all, or a kernel its
 * kept convs do not merge to is refused, naming the segment. */
START_TEST(result_segments_must_match_the_graph)
{
    lm_graph *g = NULL;
    lm_entries *e = NULL;
    ck_assert_lm_ok(lm_graph_load(&g, lm_test_data_path("bad/tiny_graph.yaml")));
    ck_assert_lm_ok(lm_entries_create(&e, g));
    size_t id[3];
    for (size_t c = 1; c <= 3; c++)
        ck_assert_lm_ok(lm_entries_find_original(&id[c - 1], e, c));
    char *dir = lm_test_tmpdir();
    ck_assert_lm_ok(tiny_result_plan(g, dir, id[0], id[1], id[2], 3));
    ck_assert_lm_status(tiny_result_plan(g, dir, 99999, id[1], id[2], 3),
                        LM_ERR_MISMATCH);
    ck_assert_msg(strstr(lm_last_error(), "result segment 0 (0, 1): entry "
                                          "99999 is not an entry of graph "
                                          "'tiny'"), "%s", lm_last_error());
    ck_assert_lm_status(tiny_result_plan(g, dir, id[0], id[2], id[2], 3),
                        LM_ERR_MISMATCH);
    ck_assert_msg(strstr(lm_last_error(), "result segment 1 (1, 2, K 3, "
                                          "stride 1, dw 1): entry"),
                  "%s", lm_last_error());
    ck_assert_lm_status(tiny_result_plan(g, dir, id[0], id[1], id[2], 5),
                        LM_ERR_MISMATCH);
    ck_assert_msg(strstr(lm_last_error(), "result segment 0 (0, 1): kernel 5, "
                                          "stride 1, but its 1 kept convs of "
                                          "graph 'tiny' merge to kernel 3"),
                  "%s", lm_last_error());
    lm_test_rmtree(dir);
    lm_entries_destroy(e);
    lm_graph_destroy(g);
}
END_TEST

/* ---- skip fitting against the engine ---------------------------------
 *
 * A linear network (identity activations) of 2x9x10 inputs: convs 1-5
 * 3x3 padding 1, conv 4 followed by a fixed 2x2 max-pool (position 4 is a
 * barrier), conv 6 3x3 stride 2 padding 1 (2 -> 3 channels). Skips (0,2)
 * and (2,4) identity, (4,6) and (5,6) with 1x1 stride-2 projections (with
 * bias). In segment (0,4) skip (0,2) must be zero-padded and (2,4)
 * cropped; in segment (4,6) skip (5,6) reads a 6x7 map whose strided
 * projection would give 3x4 for a 2x3 target, so it is cropped, by 1
 * row above and below but by 1 column on the left only; skip (4,6) reads
 * position 4 after its max-pool. */
static lm_graph *fit_net(void)
{
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_create(&g, 2, 9, 10));
    for (int i = 1; i <= 5; i++) {
        char name[8];
        snprintf(name, sizeof name, "c%d", i);
        ck_assert_lm_ok(lm_graph_add_conv(
            g, LM_TEST_CONV(name, 2, 2, 3, 1, 1, 1, 1), LM_ACT_IDENTITY));
    }
    ck_assert_lm_ok(lm_graph_add_conv(g, LM_TEST_CONV("c6", 2, 3, 3, 2, 1, 1, 1),
                                      LM_ACT_IDENTITY));
    ck_assert_lm_ok(lm_graph_add_layer_pool(g, LM_SITE_POSITION, 4,
                                            LM_LAYER_MAXPOOL, 2, 2, 0));
    ck_assert_lm_ok(lm_graph_set_barrier(g, 0, 1));
    ck_assert_lm_ok(lm_graph_set_barrier(g, 4, 1));
    static const size_t skips[][2] = {{0, 2}, {2, 4}, {4, 6}, {5, 6}};
    for (size_t k = 0; k < 4; k++)
        ck_assert_lm_ok(lm_graph_add_skip(g, skips[k][0], skips[k][1]));
    ck_assert_lm_ok(lm_graph_set_skip_projection(g, 2, "p46", 2, 1));
    ck_assert_lm_ok(lm_graph_set_skip_projection(g, 3, "p56", 2, 1));
    ck_assert_lm_ok(lm_graph_validate(g));
    return g;
}

typedef struct map {
    int64_t c, h, w;
    double *v; /* [c][h][w] */
} map;

static map map_new(int64_t c, int64_t h, int64_t w)
{
    map m = {c, h, w, calloc((size_t)(c * h * w), sizeof(double))};
    ck_assert_ptr_nonnull(m.v);
    return m;
}

static double ref_at(const map *m, int64_t c, int64_t y, int64_t x)
{
    if (y < 0 || y >= m->h || x < 0 || x >= m->w)
        return 0.0; /* zero padding */
    return m->v[(c * m->h + y) * m->w + x];
}

static const float *ref_tensor(const lm_weights *w, const char *module,
                           const char *part)
{
    char name[64];
    snprintf(name, sizeof name, "%s.%s", module, part);
    const float *d = NULL;
    size_t n = 0;
    ck_assert_lm_ok(lm_weights_data_f32(&d, &n, w, name));
    return d;
}

/* Dense conv with bias; `pad` on every side. */
static map ref_conv(const map *x, const lm_weights *w, const char *name,
                int64_t out, int64_t k, int64_t stride, int64_t pad)
{
    const float *wt = ref_tensor(w, name, "weight"), *b = ref_tensor(w, name, "bias");
    map y = map_new(out, (x->h + 2 * pad - k) / stride + 1,
                    (x->w + 2 * pad - k) / stride + 1);
    for (int64_t o = 0; o < out; o++)
        for (int64_t i = 0; i < y.h; i++)
            for (int64_t j = 0; j < y.w; j++) {
                double acc = b[o];
                for (int64_t c = 0; c < x->c; c++)
                    for (int64_t u = 0; u < k; u++)
                        for (int64_t v = 0; v < k; v++)
                            acc += (double)wt[((o * x->c + c) * k + u) * k + v] *
                                   ref_at(x, c, stride * i + u - pad,
                                      stride * j + v - pad);
                y.v[(o * y.h + i) * y.w + j] = acc;
            }
    return y;
}

/* The skip as lm_plan_skip says: pad or crop the source per side, then the
 * projection (1x1, stride, no padding) or nothing, added to `out`. */
static void ref_add_skip(map *out, const map *src, const lm_plan_skip *f,
                     const lm_weights *w, const char *proj)
{
    map fitted = map_new(src->c, src->h + f->pad_top + f->pad_bottom,
                         src->w + f->pad_left + f->pad_right);
    for (int64_t c = 0; c < src->c; c++)
        for (int64_t y = 0; y < fitted.h; y++)
            for (int64_t x = 0; x < fitted.w; x++)
                fitted.v[(c * fitted.h + y) * fitted.w + x] =
                    ref_at(src, c, y - f->pad_top, x - f->pad_left);
    map add = proj ? ref_conv(&fitted, w, proj, out->c, 1, f->stride, 0) : fitted;
    if (proj)
        free(fitted.v);
    ck_assert_int_eq(add.c, out->c);
    ck_assert_int_eq(add.h, out->h);
    ck_assert_int_eq(add.w, out->w);
    for (int64_t i = 0; i < out->c * out->h * out->w; i++)
        out->v[i] += add.v[i];
    free(add.v);
}

static map ref_maxpool2(const map *x)
{
    map y = map_new(x->c, x->h / 2, x->w / 2);
    for (int64_t c = 0; c < x->c; c++)
        for (int64_t i = 0; i < y.h; i++)
            for (int64_t j = 0; j < y.w; j++) {
                double m = ref_at(x, c, 2 * i, 2 * j);
                for (int64_t u = 0; u < 2; u++)
                    for (int64_t v = 0; v < 2; v++)
                        m = fmax(m, ref_at(x, c, 2 * i + u, 2 * j + v));
                y.v[(c * y.h + i) * y.w + j] = m;
            }
    return y;
}

/* fit_net() run by the plan's own numbers: its paddings, pruned convs as
 * identity, each skip fitted by lm_plan_skip_info and checked to land on
 * the conv output's size. Activations are all identity. */
static map reference_run(const lm_graph *g, const lm_weights *w,
                         const lm_plan *p, const float *input)
{
    static const char *const proj[] = {NULL, NULL, "p46", "p56"};
    map pos[7];
    pos[0] = map_new(2, 9, 10);
    for (int64_t i = 0; i < 2 * 9 * 10; i++)
        pos[0].v[i] = input[i];
    for (size_t q = 1; q <= 6; q++) {
        lm_plan_conv pc = {.size = sizeof pc};
        ck_assert_lm_ok(lm_plan_conv_info(&pc, p, q));
        lm_conv_info ci = {.size = sizeof ci};
        ck_assert_lm_ok(lm_graph_conv_info(&ci, g, q));
        map out;
        if (pc.kept) {
            out = ref_conv(&pos[q - 1], w, ci.name, ci.out_channels, ci.kernel,
                       ci.stride, pc.padding);
        } else {
            out = map_new(pos[q - 1].c, pos[q - 1].h, pos[q - 1].w);
            memcpy(out.v, pos[q - 1].v,
                   (size_t)(out.c * out.h * out.w) * sizeof *out.v);
        }
        for (size_t k = 0; k < 4; k++) {
            lm_plan_skip f = {.size = sizeof f};
            ck_assert_lm_ok(lm_plan_skip_info(&f, p, k));
            if (f.target != q || f.dropped)
                continue;
            ck_assert_int_eq(f.source_height, pos[f.source].h);
            ck_assert_int_eq(f.source_width, pos[f.source].w);
            ck_assert_int_eq(f.target_height, out.h);
            ck_assert_int_eq(f.target_width, out.w);
            ref_add_skip(&out, &pos[f.source], &f, w, proj[k]);
        }
        if (q == 4) {
            pos[q] = ref_maxpool2(&out);
            free(out.v);
        } else {
            pos[q] = out;
        }
    }
    for (size_t q = 0; q < 6; q++)
        free(pos[q].v);
    return pos[6];
}

START_TEST(skip_fitting_is_what_the_engine_does)
{
    lm_graph *g = fit_net();
    lm_weights *w = NULL;
    ck_assert_lm_ok(lm_weights_create(&w));
    ck_assert_lm_ok(lm_weights_init_random(w, g, 7));
    lm_engine *e = NULL;
    ck_assert_lm_ok(lm_engine_create(&e, g, w, 1));
    size_t ni = lm_engine_input_size(e), no = lm_engine_output_size(e);
    ck_assert_uint_eq(ni, 2 * 9 * 10);
    ck_assert_uint_eq(no, 3 * 2 * 3);
    float *x = malloc(ni * sizeof *x), *y = malloc(no * sizeof *y);
    ck_assert(x && y);
    for (size_t i = 0; i < ni; i++)
        x[i] = (float)sin(0.7 * (double)i + 0.3);
    static const struct {
        size_t bounds[8], n_bounds;
        uint8_t kept[6];
    } plans[] = {
        {{0, 1, 2, 3, 4, 5, 6}, 7, {1, 1, 1, 1, 1, 1}}, /* the original */
        {{0, 4, 6}, 3, {1, 1, 1, 1, 1, 1}},
        {{0, 4, 6}, 3, {1, 0, 1, 1, 0, 1}}, /* pruned skip targets, sources */
        {{0, 4, 6}, 3, {0, 1, 0, 1, 1, 1}},
        {{0, 2, 4, 6}, 4, {1, 1, 1, 1, 1, 1}},
    };
    for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++) {
        lm_plan *p = NULL;
        ck_assert_lm_ok(lm_plan_create_for_segments(
            &p, g, plans[i].bounds, plans[i].n_bounds, plans[i].kept));
        ck_assert_lm_ok(lm_engine_configure_plan(e, p));
        ck_assert_lm_ok(lm_engine_run(y, no, e, x, ni));
        map ref = reference_run(g, w, p, x);
        ck_assert_int_eq(ref.c * ref.h * ref.w, (int64_t)no);
        double err = 0.0, mag = 0.0;
        for (size_t j = 0; j < no; j++) {
            err = fmax(err, fabs(ref.v[j] - (double)y[j]));
            mag = fmax(mag, fabs(ref.v[j]));
        }
        ck_assert_msg(err <= 1e-5 * fmax(mag, 1.0),
                      "plan %zu: engine and plan-fitted reference differ by "
                      "%g (max %g)", i, err, mag);
        free(ref.v);
        if (i == 1) {
            /* every conv kept: the fitting described above */
            static const int64_t want[4][9] = {
                /* src h, w, dst h, w, top, bottom, left, right, stride */
                {9, 10, 13, 14, 2, 2, 2, 2, 1},
                {13, 14, 9, 10, -2, -2, -2, -2, 1},
                {4, 5, 2, 3, 0, 0, 0, 0, 2},
                {6, 7, 2, 3, -1, -1, -1, 0, 2},
            };
            for (size_t k = 0; k < 4; k++) {
                lm_plan_skip f = {.size = sizeof f};
                ck_assert_lm_ok(lm_plan_skip_info(&f, p, k));
                const int64_t got[9] = {f.source_height, f.source_width,
                                        f.target_height, f.target_width,
                                        f.pad_top, f.pad_bottom, f.pad_left,
                                        f.pad_right, f.stride};
                for (size_t j = 0; j < 9; j++)
                    ck_assert_msg(got[j] == want[k][j], "skip %zu field %zu: "
                                  "%lld, want %lld", k, j,
                                  (long long)got[j], (long long)want[k][j]);
                ck_assert_int_eq(f.fused, 1);
            }
        }
        if (i == 0)
            for (size_t k = 0; k < 4; k++) {
                lm_plan_skip f = {.size = sizeof f};
                ck_assert_lm_ok(lm_plan_skip_info(&f, p, k));
                ck_assert(f.pad_top == 0 && f.pad_bottom == 0 &&
                          f.pad_left == 0 && f.pad_right == 0);
            }
        lm_plan_destroy(p);
    }
    free(x);
    free(y);
    lm_engine_destroy(e);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("plan");
    tcase_add_test(tc, public_records_match_and_refuse_out_of_range);
    tcase_add_test(tc, single_conv_entry_is_the_original_network);
    tcase_add_test(tc, merged_block_moves_padding_and_fuses_its_skip);
    tcase_add_test(tc, identity_boundary_gains_the_nonlinearity);
    tcase_add_test(tc, bad_partitions_name_the_fault);
    tcase_add_test(tc, entries_of_another_graph_are_refused);
    tcase_add_test(tc, result_segments_must_match_the_graph);
    tcase_add_test(tc, plan_yaml_lists_every_decision);
    tcase_add_test(tc, skip_fitting_is_what_the_engine_does);
    suite_add_tcase(s, tc);
    return lm_test_run(s);
}
