/* Training-loop plans (docs/method.md section 8): kept convs, fine-tuning
 * padding, activations and fused skips, for entries and partitions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "layermerge/entries.h"
#include "layermerge/graph.h"
#include "layermerge/plan.h"
#include "layermerge/solver.h"
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
    ck_assert_ptr_nonnull(strstr(text, "{from: 0, to: 2, fused: true, dropped: false}"));
    ck_assert_lm_status(lm_plan_save(p, "/nonexistent-dir/plan.yaml"), LM_ERR_IO);
    lm_test_rmtree(dir);
    lm_plan_destroy(p);
    lm_entries_destroy(e);
    lm_graph_destroy(g);
}
END_TEST

/* A write callback collecting the bytes, NUL-terminated. */
typedef struct collected {
    char *data;
    size_t len;
} collected;

static int collect(const void *data, size_t len, void *userdata)
{
    collected *c = userdata;
    char *grown = realloc(c->data, c->len + len + 1);
    if (!grown)
        return -1;
    memcpy(grown + c->len, data, len);
    c->len += len;
    grown[c->len] = '\0';
    c->data = grown;
    return 0;
}

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
    }
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
    collected out = {0};
    ck_assert_lm_ok(lm_plan_write(p, collect, &out));
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
    suite_add_tcase(s, tc);
    return lm_test_run(s);
}
