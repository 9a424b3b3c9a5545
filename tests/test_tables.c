/* Latency and importance tables (docs/method.md section 5): keyed access,
 * value checks, YAML files (bit-exact round trip, errors with their line),
 * graph checks, shard merging, the authors' CSV files, atomic saving. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "layermerge/entries.h"
#include "layermerge/graph.h"
#include "layermerge/tables.h"
#include "tables/table.h"

/* ---- graphs ------------------------------------------------------------ */

/* c1 3x3 dense 8->8, c2 3x3 depthwise, c3 1x1 8->16: entries
 * (0,1) K3; (0,2) K3, K3 dw, K5; (0,3) ...; (1,2) K3 dw; ... */
static lm_graph *tiny_graph(void)
{
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_create(&g, 8, 16, 16));
    ck_assert_lm_ok(lm_graph_add_conv(g,
                                      LM_TEST_CONV("c1", 8, 8, 3, 1, 1, 1, 0),
                                      LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_add_conv(g,
                                      LM_TEST_CONV("c2", 8, 8, 3, 1, 1, 8, 0),
                                      LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_add_conv(g,
                                      LM_TEST_CONV("c3", 8, 16, 1, 1, 0, 1, 0),
                                      LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_validate(g));
    return g;
}

static lm_entries *tiny_entries(void)
{
    lm_graph *g = tiny_graph();
    lm_entries *e = NULL;
    ck_assert_lm_ok(lm_entries_create(&e, g));
    lm_graph_destroy(g);
    return e;
}

static lm_entries *mbv2_entries(void)
{
    lm_graph *g = NULL;
    lm_entries *e = NULL;
    ck_assert_lm_ok(lm_graph_load(&g, lm_test_source_path(
                                          "examples/models/mobilenetv2.yaml")));
    ck_assert_lm_ok(lm_entries_create(&e, g));
    lm_graph_destroy(g);
    ck_assert_uint_eq(lm_entries_segment_count(e), 171);
    return e;
}

static lm_entry_info entry(const lm_entries *e, size_t id)
{
    lm_entry_info info = {.size = sizeof info};
    ck_assert_lm_ok(lm_entries_entry_info(&info, e, id));
    return info;
}

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static int contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

#define ck_assert_error_has(s)                                             \
    ck_assert_msg(contains(lm_last_error(), (s)), "message '%s' lacks '%s'", \
                  lm_last_error(), (s))

/* A latency table with a value for every non-identity entry of `e` whose
 * id is in [lo, hi): ms = 1 + id / 7. */
static lm_table *latency_shard(const lm_entries *e, size_t lo,
                                       size_t hi, int mark_shard)
{
    lm_table *t = NULL;
    ck_assert_lm_ok(lm_table_create_latency_for(&t, e));
    ck_assert_lm_ok(lm_table_set_text(t, LM_TABLE_DEVICE, "cpu"));
    if (mark_shard)
        ck_assert_lm_ok(lm_table_set_shard(t, lo, hi));
    for (size_t id = lo; id < hi; id++)
        if (entry(e, id).kernel != 0)
            ck_assert_lm_ok(lm_table_set_latency_entry(t, e, id,
                                                       1.0 + (double)id / 7.0,
                                                       0.01 * (double)id));
    return t;
}

static void assert_latency_equal(const lm_table *a,
                                 const lm_table *b)
{
    ck_assert_uint_eq(lm_table_count(a), lm_table_count(b));
    for (size_t i = 0; i < lm_table_count(a); i++) {
        lm_table_record ra = {.size = sizeof ra}, rb = {.size = sizeof rb};
        ck_assert_lm_ok(lm_table_record_info(&ra, a, i));
        ck_assert_lm_ok(lm_table_record_info(&rb, b, i));
        ck_assert_int_eq(ra.id, rb.id);
        ck_assert_uint_eq(ra.st, rb.st);
        ck_assert_uint_eq(ra.end, rb.end);
        ck_assert_int_eq(ra.kernel, rb.kernel);
        ck_assert_int_eq(ra.stride, rb.stride);
        ck_assert_int_eq(ra.depthwise, rb.depthwise);
        ck_assert_msg(same_bits(ra.value, rb.value) &&
                      same_bits(ra.extra, rb.extra),
                      "record %zu: %.17g/%.17g vs %.17g/%.17g", i, ra.value,
                      ra.extra, rb.value, rb.extra);
        ck_assert_str_eq(ra.note, rb.note);
    }
}

/* ---- keyed access ------------------------------------------------------ */

START_TEST(set_get_by_key_and_entry)
{
    lm_entries *e = tiny_entries();
    lm_table *t = NULL;
    ck_assert_lm_ok(lm_table_create_latency_for(&t, e));
    ck_assert_str_eq(lm_table_fingerprint(t),
                     lm_entries_fingerprint(e));
    ck_assert_lm_ok(lm_table_set_latency(t, LM_TEST_KEY(0, 2, 5, 1, 0),
                                         2.5, 0.25));
    ck_assert_lm_ok(lm_table_set_latency(t, LM_TEST_KEY(0, 1, 3, 1, 0),
                                         1.5, 0.5));
    ck_assert_uint_eq(lm_table_count(t), 2);
    ck_assert_int_eq(lm_table_has(t, LM_TEST_KEY(0, 2, 5, 1, 0)), 1);
    ck_assert_int_eq(lm_table_has(t, LM_TEST_KEY(0, 2, 5, 1, 1)), 0);
    double ms = 0, sd = 0;
    ck_assert_lm_ok(lm_table_get(&ms, &sd, t, LM_TEST_KEY(0, 1, 3, 1, 0)));
    ck_assert(ms == 1.5 && sd == 0.5);

    /* By id: the same key, so it replaces the value in place. */
    size_t id;
    ck_assert_lm_ok(lm_entries_find(&id, e, LM_TEST_KEY(0, 2, 5, 1, 0)));
    ck_assert_lm_ok(lm_table_set_latency_entry(t, e, id, 3.0, 0.0));
    ck_assert_uint_eq(lm_table_count(t), 2);
    ck_assert_lm_ok(lm_table_get_entry(&ms, NULL, t, e, id));
    ck_assert(ms == 3.0);
    lm_table_record rec = {.size = sizeof rec};
    ck_assert_lm_ok(lm_table_record_info(&rec, t, 0));
    ck_assert_int_eq(rec.id, (int64_t)id);
    ck_assert(rec.kernel == 5 && rec.value == 3.0);
    ck_assert_lm_ok(lm_table_record_info(&rec, t, 1));
    ck_assert_int_eq(rec.id, -1);
    ck_assert_lm_status(lm_table_record_info(&rec, t, 2),
                        LM_ERR_INVALID_ARG);

    ck_assert_lm_status(lm_table_get(&ms, &sd, t, LM_TEST_KEY(1, 3, 3, 1, 1)),
                        LM_ERR_NOT_FOUND);
    ck_assert_error_has("(st 1, end 3, K 3, stride 1, dw 1)");
    ck_assert_lm_ok(lm_entries_find(&id, e, LM_TEST_KEY(1, 2, 3, 1, 1)));
    ck_assert_lm_status(lm_table_get_entry(&ms, NULL, t, e, id),
                        LM_ERR_NOT_FOUND);
    ck_assert_error_has("entry");
    /* Identity options cost 0 without being stored. */
    ck_assert_lm_ok(lm_table_get(&ms, &sd, t, LM_TEST_KEY(0, 3, 0, 1, 1)));
    ck_assert(ms == 0.0 && sd == 0.0);
    ck_assert_lm_status(lm_table_set_latency(t, LM_TEST_KEY(2, 1, 3, 1, 0),
                                             1.0, 0.0),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_table_set_latency_entry(t, e, 9999, 1.0, 0.0),
                        LM_ERR_INVALID_ARG);
    lm_table_destroy(t);
    lm_entries_destroy(e);
}
END_TEST

/* One handle type serves both kinds: each value call takes its own kind
 * and refuses the other, naming it; shards of two kinds do not merge. */
START_TEST(one_handle_two_kinds)
{
    lm_entries *e = tiny_entries();
    lm_table *lat = NULL, *imp = NULL;
    ck_assert_lm_ok(lm_table_create_latency_for(&lat, e));
    ck_assert_lm_ok(lm_table_create_importance_for(&imp, e,
                                                   LM_METRIC_ACCURACY));
    ck_assert_int_eq(lm_table_get_kind(lat), LM_TABLE_LATENCY);
    ck_assert_int_eq(lm_table_get_kind(imp), LM_TABLE_IMPORTANCE);
    ck_assert_int_eq(lm_table_get_kind(NULL), 0);
    ck_assert_str_eq(lm_table_kind_name(LM_TABLE_IMPORTANCE), "importance");
    ck_assert_ptr_null(lm_table_kind_name((lm_table_kind)7));
    ck_assert_int_eq(lm_table_metric(lat), 0);
    ck_assert_int_eq(lm_table_metric(imp), LM_METRIC_ACCURACY);
    ck_assert_lm_status(lm_table_set_latency(imp, LM_TEST_KEY(0, 1, 3, 1, 0),
                                             1.0, 0.0),
                        LM_ERR_INVALID_ARG);
    ck_assert_error_has("importance table");
    ck_assert_lm_status(lm_table_set_importance(lat,
                                                LM_TEST_KEY(0, 1, 3, 1, 0),
                                                90.0),
                        LM_ERR_INVALID_ARG);
    ck_assert_error_has("latency table");
    ck_assert_lm_status(lm_table_set_importance_entry(lat, e, 0, 90.0),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_table_set_latency_entry(imp, e, 0, 1.0, 0.0),
                        LM_ERR_INVALID_ARG);
    ck_assert_uint_eq(lm_table_count(lat) + lm_table_count(imp), 0);
    /* A key record whose size is not set is refused, not read. */
    lm_entry_key unset = {0};
    ck_assert_lm_status(lm_table_set_latency(lat, &unset, 1.0, 0.0),
                        LM_ERR_INVALID_ARG);
    ck_assert_error_has("sizeof(lm_entry_key)");
    ck_assert_int_eq(lm_table_has(lat, &unset), 0);
    /* lm_entries_entry_key gives the key lm_entries_find takes back. */
    for (size_t id = 0; id < lm_entries_count(e); id++) {
        lm_entry_key key = {.size = sizeof key};
        ck_assert_lm_ok(lm_entries_entry_key(&key, e, id));
        size_t back = SIZE_MAX;
        ck_assert_lm_ok(lm_entries_find(&back, e, &key));
        ck_assert_uint_eq(back, id);
        ck_assert_lm_ok(lm_table_set_latency_entry(lat, e, id, 1.0, 0.0));
        ck_assert_int_eq(lm_table_has(lat, &key), 1);
        ck_assert_lm_ok(lm_table_set_importance_entry(imp, e, id, 50.0));
    }
    lm_entry_key key = {.size = sizeof key};
    ck_assert_lm_status(lm_entries_entry_key(&key, e, lm_entries_count(e)),
                        LM_ERR_INVALID_ARG);
    const lm_table *mixed[2] = {lat, imp};
    lm_table *m = NULL;
    ck_assert_lm_status(lm_table_merge(&m, e, mixed, 2, 0), LM_ERR_MISMATCH);
    ck_assert_error_has("shard 1 is of kind importance");
    ck_assert_ptr_null(m);
    lm_table_destroy(lat);
    lm_table_destroy(imp);
    lm_entries_destroy(e);
}
END_TEST

START_TEST(bad_values_name_the_key)
{
    lm_entries *e = tiny_entries();
    lm_table *t = NULL;
    ck_assert_lm_ok(lm_table_create_latency_for(&t, e));
    ck_assert_lm_status(lm_table_set_latency(t, LM_TEST_KEY(0, 1, 3, 1, 0),
                                             NAN, 0.0),
                        LM_ERR_VALUE);
    ck_assert_error_has("(st 0, end 1, K 3, stride 1, dw 0)");
    ck_assert_lm_status(lm_table_set_latency(t, LM_TEST_KEY(0, 1, 3, 1, 0),
                                             INFINITY, 0),
                        LM_ERR_VALUE);
    ck_assert_lm_status(lm_table_set_latency(t, LM_TEST_KEY(0, 1, 3, 1, 0),
                                             -1.0, 0.0),
                        LM_ERR_VALUE);
    ck_assert_lm_status(lm_table_set_latency(t, LM_TEST_KEY(0, 1, 3, 1, 0),
                                             1.0, -0.1),
                        LM_ERR_VALUE);
    size_t id;
    ck_assert_lm_ok(lm_entries_find(&id, e, LM_TEST_KEY(0, 2, 5, 1, 0)));
    ck_assert_lm_status(lm_table_set_latency_entry(t, e, id, NAN, 0.0),
                        LM_ERR_VALUE);
    char want[64];
    snprintf(want, sizeof want, "entry %zu key (st 0, end 2, K 5", id);
    ck_assert_error_has(want);
    ck_assert_uint_eq(lm_table_count(t), 0);

    lm_table *it = NULL;
    ck_assert_lm_ok(
        lm_table_create_importance_for(&it, e, LM_METRIC_ACCURACY));
    ck_assert_lm_status(
        lm_table_set_importance(it, LM_TEST_KEY(0, 1, 3, 1, 0), NAN),
        LM_ERR_VALUE);
    ck_assert_error_has("(st 0, end 1, K 3");
    ck_assert_lm_status(lm_table_set_importance_entry(it, e, id, INFINITY),
                        LM_ERR_VALUE);
    ck_assert_lm_status(lm_table_set_importance_normalised(
                            it, LM_TEST_KEY(0, 1, 3, 1, 0), 1.0, NAN),
                        LM_ERR_VALUE);
    /* exp(1e6 / 100) overflows: the normalised value is checked too. */
    ck_assert_lm_status(
        lm_table_set_importance(it, LM_TEST_KEY(0, 1, 3, 1, 0), 1e6),
        LM_ERR_VALUE);
    ck_assert_uint_eq(lm_table_count(it), 0);
    lm_table_destroy(it);
    lm_table_destroy(t);
    lm_entries_destroy(e);
}
END_TEST

START_TEST(importance_normalisation)
{
    lm_entries *e = tiny_entries();
    lm_table *acc = NULL, *loss = NULL, *norm = NULL;
    ck_assert_lm_ok(
        lm_table_create_importance_for(&acc, e, LM_METRIC_ACCURACY));
    ck_assert_lm_ok(
        lm_table_create_importance_for(&loss, e, LM_METRIC_LOSS_RATIO));
    ck_assert_lm_ok(
        lm_table_create_importance_for(&norm, e, LM_METRIC_NORMALISED));
    double v, raw;
    ck_assert_lm_ok(
        lm_table_set_importance(acc, LM_TEST_KEY(0, 1, 3, 1, 0), 71.5));
    ck_assert_lm_ok(lm_table_get(&v, &raw, acc, LM_TEST_KEY(0, 1, 3, 1, 0)));
    ck_assert(raw == 71.5 && v == exp(0.715));
    ck_assert_lm_ok(
        lm_table_set_importance(loss, LM_TEST_KEY(0, 1, 3, 1, 0), 1.25));
    ck_assert_lm_ok(lm_table_get(&v, &raw, loss, LM_TEST_KEY(0, 1, 3, 1, 0)));
    ck_assert(raw == 1.25 && v == exp(-1.25));
    ck_assert_lm_status(
        lm_table_set_importance(norm, LM_TEST_KEY(0, 1, 3, 1, 0), 2.0),
        LM_ERR_STATE);
    ck_assert_lm_ok(lm_table_set_importance_normalised(
        norm, LM_TEST_KEY(0, 1, 3, 1, 0), 0.9, 2.0));
    ck_assert_lm_ok(lm_table_get(&v, &raw, norm, LM_TEST_KEY(0, 1, 3, 1, 0)));
    ck_assert(raw == 0.9 && v == 2.0);
    ck_assert_int_eq(lm_table_metric(loss), LM_METRIC_LOSS_RATIO);
    lm_importance_metric m;
    ck_assert_lm_ok(lm_importance_metric_from_name(&m, "loss_ratio"));
    ck_assert_int_eq(m, LM_METRIC_LOSS_RATIO);
    ck_assert_lm_status(lm_importance_metric_from_name(&m, "top5"),
                        LM_ERR_INVALID_ARG);
    lm_table_destroy(acc);
    lm_table_destroy(loss);
    lm_table_destroy(norm);
    lm_entries_destroy(e);
}
END_TEST

/* ---- YAML files -------------------------------------------------------- */

START_TEST(yaml_round_trip_is_bit_exact)
{
    lm_entries *e = mbv2_entries();
    char *dir = lm_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/lat.yaml", dir);
    lm_table *t = latency_shard(e, 0, lm_entries_count(e), 0);
    /* Awkward doubles: thirds, subnormals, the largest finite value. */
    ck_assert_lm_ok(lm_table_set_latency_entry(t, e, 1, 1.0 / 3.0, 5e-324));
    ck_assert_lm_ok(lm_table_set_latency_entry(t, e, 2, 1.7976931348623157e308,
                                               0.1 + 0.2));
    ck_assert_lm_ok(lm_table_set_latency(t, LM_TEST_KEY(0, 4, -1, -1, 0),
                                         7.0, 0.0));
    ck_assert_lm_ok(lm_table_set_text(t, LM_TABLE_TIMER, "yes"));
    ck_assert_lm_ok(lm_table_set_int(t, LM_TABLE_BATCH, 64));
    ck_assert_lm_ok(lm_table_set_int(t, LM_TABLE_HEIGHT, 224));
    ck_assert_lm_ok(lm_table_save(t, path));
    lm_table *back = NULL;
    ck_assert_lm_ok(lm_table_load_kind(&back, path, LM_TABLE_LATENCY));
    assert_latency_equal(t, back);
    ck_assert_str_eq(lm_table_text(back, LM_TABLE_TIMER), "yes");
    ck_assert_str_eq(lm_table_text(back, LM_TABLE_DEVICE), "cpu");
    ck_assert_int_eq(lm_table_int(back, LM_TABLE_BATCH), 64);
    ck_assert_int_eq(lm_table_int(back, LM_TABLE_HEIGHT), 224);
    ck_assert_str_eq(lm_table_fingerprint(back), lm_entries_fingerprint(e));
    lm_table_destroy(back);
    lm_table_destroy(t);

    /* Importance, as a shard, with notes and provenance. */
    lm_table *it = NULL, *iback = NULL;
    ck_assert_lm_ok(
        lm_table_create_importance_for(&it, e, LM_METRIC_ACCURACY));
    ck_assert_lm_ok(
        lm_table_set_text(it, LM_TABLE_FINETUNE, "1 epoch on 4% of ImageNet"));
    ck_assert_lm_ok(lm_table_set_shard(it, 10, 20));
    for (size_t id = 10; id < 20; id++)
        ck_assert_lm_ok(
            lm_table_set_importance_entry(it, e, id, 70.0 + id / 3.0));
    ck_assert_lm_status(lm_table_set_importance_entry(it, e, 20, 1.0),
                        LM_ERR_INVALID_ARG);
    snprintf(path, sizeof path, "%s/imp.yaml", dir);
    ck_assert_lm_ok(lm_table_save(it, path));
    ck_assert_lm_ok(lm_table_load_kind(&iback, path, LM_TABLE_IMPORTANCE));
    ck_assert_uint_eq(lm_table_count(iback), 10);
    ck_assert_int_eq(lm_table_metric(iback), LM_METRIC_ACCURACY);
    ck_assert_str_eq(lm_table_text(iback, LM_TABLE_FINETUNE),
                     "1 epoch on 4% of ImageNet");
    size_t lo = 0, hi = 0;
    ck_assert_int_eq(lm_table_shard(&lo, &hi, iback), 1);
    ck_assert(lo == 10 && hi == 20);
    for (size_t id = 10; id < 20; id++) {
        double v1, r1, v2, r2;
        ck_assert_lm_ok(lm_table_get_entry(&v1, &r1, it, e, id));
        ck_assert_lm_ok(lm_table_get_entry(&v2, &r2, iback, e, id));
        ck_assert(same_bits(v1, v2) && same_bits(r1, r2));
    }
    lm_table *any = NULL;
    ck_assert_lm_ok(lm_table_load(&any, path));
    ck_assert_int_eq(lm_table_get_kind(any), LM_TABLE_IMPORTANCE);
    lm_table_destroy(any);
    lm_table *wrong = NULL;
    ck_assert_lm_status(lm_table_load_kind(&wrong, path, LM_TABLE_LATENCY),
                        LM_ERR_PARSE);
    ck_assert_error_has("layermerge-latency");
    ck_assert_ptr_null(wrong);
    lm_table_destroy(iback);
    lm_table_destroy(it);
    lm_test_rmtree(dir);
    lm_entries_destroy(e);
}
END_TEST

START_TEST(file_errors_name_their_line)
{
    lm_table *t = NULL;
    lm_table *it = NULL;
    ck_assert_lm_status(
        lm_table_load_kind(
            &t, lm_test_source_path("tests/data/tables_bad_value.yaml"),
            LM_TABLE_LATENCY),
        LM_ERR_VALUE);
    ck_assert_error_has("tables_bad_value.yaml:12:");
    ck_assert_error_has("(st 1, end 2, K 3, stride 1, dw 0)");
    ck_assert_lm_status(
        lm_table_load_kind(
            &t, lm_test_source_path("tests/data/tables_duplicate.yaml"),
            LM_TABLE_LATENCY),
        LM_ERR_DUPLICATE);
    ck_assert_error_has("tables_duplicate.yaml:7:");
    ck_assert_error_has("line 5");
    ck_assert_lm_status(
        lm_table_load_kind(
            &it, lm_test_source_path("tests/data/tables_unknown_key.yaml"),
            LM_TABLE_IMPORTANCE),
        LM_ERR_PARSE);
    ck_assert_error_has("tables_unknown_key.yaml:7:");
    ck_assert_error_has("valeu");
    ck_assert_lm_status(
        lm_table_load_kind(
            &t, lm_test_source_path("tests/data/tables_wrong_type.yaml"),
            LM_TABLE_LATENCY),
        LM_ERR_PARSE);
    ck_assert_error_has("tables_wrong_type.yaml:6:");
    ck_assert_ptr_null(t);
    ck_assert_ptr_null(it);
}
END_TEST

/* ---- graph checks ------------------------------------------------------ */

START_TEST(table_for_another_graph_is_a_mismatch)
{
    lm_entries *tiny = tiny_entries(), *mbv2 = mbv2_entries();
    lm_table *t = latency_shard(tiny, 0, lm_entries_count(tiny), 0);
    ck_assert_lm_ok(lm_table_check(t, tiny));
    ck_assert_lm_status(lm_table_check(t, mbv2), LM_ERR_MISMATCH);
    ck_assert_error_has(lm_entries_fingerprint(tiny));
    ck_assert_error_has(lm_entries_fingerprint(mbv2));
    ck_assert_lm_status(lm_table_missing(NULL, NULL, 0, t, mbv2),
                        LM_ERR_MISMATCH);
    ck_assert_lm_status(lm_table_set_latency_entry(t, mbv2, 0, 1.0, 0.0),
                        LM_ERR_MISMATCH);
    /* A key that is no entry of the graph. */
    ck_assert_lm_ok(lm_table_set_latency(t, LM_TEST_KEY(0, 1, 7, 1, 0),
                                         1.0, 0.0));
    ck_assert_lm_status(lm_table_check(t, tiny), LM_ERR_NOT_FOUND);
    ck_assert_error_has("(st 0, end 1, K 7, stride 1, dw 0)");
    lm_table_destroy(t);
    lm_entries_destroy(tiny);
    lm_entries_destroy(mbv2);
}
END_TEST

START_TEST(missing_entries_are_listed)
{
    lm_entries *e = mbv2_entries();
    size_t n = lm_entries_count(e);
    lm_table *t = latency_shard(e, 0, n, 0);
    size_t n_missing = 99, ids[4];
    ck_assert_lm_ok(lm_table_missing(&n_missing, ids, 4, t, e));
    ck_assert_uint_eq(n_missing, 0);
    lm_table_destroy(t);

    t = latency_shard(e, 0, 100, 0);
    lm_table *it = NULL;
    ck_assert_lm_ok(
        lm_table_create_importance_for(&it, e, LM_METRIC_ACCURACY));
    size_t want = 0;
    for (size_t id = 100; id < n; id++)
        want += entry(e, id).kernel != 0;
    ck_assert_lm_status(lm_table_missing(&n_missing, ids, 4, t, e),
                        LM_ERR_MISSING);
    ck_assert_uint_eq(n_missing, want);
    ck_assert_uint_eq(ids[0], 100);
    ck_assert(ids[1] > ids[0] && ids[2] > ids[1] && ids[3] > ids[2]);
    ck_assert_error_has("ids 100, ");
    /* Importance needs every entry, identity ones included. */
    ck_assert_lm_status(lm_table_missing(&n_missing, NULL, 0, it, e),
                        LM_ERR_MISSING);
    ck_assert_uint_eq(n_missing, n);
    ck_assert_error_has("ids 0, 1, 2");
    lm_table_destroy(it);
    lm_table_destroy(t);
    lm_entries_destroy(e);
}
END_TEST

/* ---- shards ------------------------------------------------------------ */

START_TEST(shard_merge_covers_and_conflicts)
{
    lm_entries *e = mbv2_entries();
    size_t n = lm_entries_count(e);
    lm_table *a = latency_shard(e, 0, 200, 1);
    lm_table *b = latency_shard(e, 200, n, 1);
    /* An unmarked shard overlapping both with equal values is fine. */
    lm_table *c = latency_shard(e, 150, 250, 0);
    const lm_table *shards[3] = {b, c, a};
    lm_table *m = NULL;
    ck_assert_lm_ok(lm_table_merge(&m, e, shards, 3, 0));
    lm_table *whole = latency_shard(e, 0, n, 0);
    assert_latency_equal(m, whole);
    ck_assert_str_eq(lm_table_text(m, LM_TABLE_DEVICE), "cpu");
    ck_assert_int_eq(lm_table_shard(NULL, NULL, m), 0);
    lm_table_destroy(m);
    lm_table_destroy(whole);

    /* A gap: 3 of the ids are measured by nobody. */
    const lm_table *gap[1] = {a};
    ck_assert_lm_status(lm_table_merge(&m, e, gap, 1, 0), LM_ERR_MISSING);
    ck_assert_ptr_null(m);
    ck_assert_error_has("ids 200");
    ck_assert_lm_ok(
        lm_table_merge(&m, e, gap, 1, LM_TABLE_MERGE_ALLOW_MISSING));
    ck_assert_uint_eq(lm_table_count(m), lm_table_count(a));
    lm_table_destroy(m);

    /* The same key with another value in another shard. */
    size_t id = 160;
    while (entry(e, id).kernel == 0)
        id++;
    ck_assert_lm_ok(lm_table_set_latency_entry(c, e, id, 42.0, 0.5));
    ck_assert_lm_status(lm_table_merge(&m, e, shards, 3, 0),
                        LM_ERR_CONFLICT);
    ck_assert_ptr_null(m);
    char want[64];
    snprintf(want, sizeof want, "entry %zu", id);
    ck_assert_error_has(want);
    ck_assert_error_has("shard 2");
    ck_assert_error_has("shard 1 has 42");

    /* A record outside its shard's declared range. */
    lm_table *d = latency_shard(e, 0, 10, 0);
    ck_assert_lm_ok(lm_table_set_shard(d, 0, 10));
    d->shard_hi = 5;
    const lm_table *bad[1] = {d};
    ck_assert_lm_status(lm_table_merge(&m, e, bad, 1,
                                       LM_TABLE_MERGE_ALLOW_MISSING),
                        LM_ERR_MISMATCH);
    ck_assert_error_has("outside its range [0, 5)");
    lm_table_destroy(d);
    lm_table_destroy(a);
    lm_table_destroy(b);
    lm_table_destroy(c);
    lm_entries_destroy(e);
}
END_TEST

START_TEST(importance_shards_must_agree)
{
    lm_entries *e = tiny_entries();
    size_t n = lm_entries_count(e);
    lm_table *a = NULL, *b = NULL, *m = NULL;
    ck_assert_lm_ok(lm_table_create_importance_for(&a, e, LM_METRIC_ACCURACY));
    ck_assert_lm_ok(lm_table_create_importance_for(&b, e, LM_METRIC_ACCURACY));
    for (size_t id = 0; id < n; id++)
        ck_assert_lm_ok(lm_table_set_importance_entry(id < n / 2 ? a : b, e,
                                                      id, 60.0 + id));
    const lm_table *shards[2] = {a, b};
    ck_assert_lm_ok(lm_table_merge(&m, e, shards, 2, 0));
    ck_assert_uint_eq(lm_table_count(m), n);
    ck_assert_lm_ok(lm_table_missing(NULL, NULL, 0, m, e));
    lm_table_destroy(m);
    ck_assert_lm_ok(lm_table_set_text(b, LM_TABLE_FINETUNE, "x"));
    ck_assert_lm_status(lm_table_merge(&m, e, shards, 2, 0),
                        LM_ERR_MISMATCH);
    ck_assert_error_has("shard 1: finetune 'x'");
    lm_table_destroy(a);
    lm_table_destroy(b);
    lm_entries_destroy(e);
}
END_TEST

/* ---- CSV --------------------------------------------------------------- */

START_TEST(kim23_time_table_imports_against_mobilenetv2)
{
    lm_entries *e = mbv2_entries();
    lm_table *t = NULL, *raw = NULL, *opt = NULL;
    const char *time_csv =
        lm_test_data_path("upstream-kim23/mbv2_1.0/time_fish_gpu1_1228.csv");
    ck_assert_lm_ok(lm_table_import_csv(&t, LM_TABLE_LATENCY, time_csv,
                                        LM_TABLE_CSV_KIM23_TIME, 0, e));
    ck_assert_uint_eq(lm_table_count(t), 171);
    ck_assert_lm_ok(lm_table_check(t, e));
    lm_table_record rec = {.size = sizeof rec};
    ck_assert_lm_ok(lm_table_record_info(&rec, t, 3));
    ck_assert(rec.st == 0 && rec.end == 4 && rec.id >= 0);
    ck_assert(rec.value == 6.513708943367004 &&
              rec.extra == 0.23045285123666479);
    /* Every row maps to the merge-all conv of its segment. */
    lm_entry_info info = entry(e, (size_t)rec.id);
    ck_assert_uint_eq(info.n_kept, 4);

    /* Without a graph the rows stay unresolved segment keys. */
    ck_assert_lm_ok(lm_table_import_csv(&raw, LM_TABLE_LATENCY, time_csv,
                                        LM_TABLE_CSV_KIM23_TIME, 0, NULL));
    ck_assert_uint_eq(lm_table_count(raw), 171);
    ck_assert_lm_ok(lm_table_record_info(&rec, raw, 3));
    ck_assert(rec.kernel == -1 && rec.stride == -1 && rec.id == -1);
    ck_assert_str_eq(lm_table_fingerprint(raw), "");

    ck_assert_lm_ok(lm_table_import_csv(
        &opt, LM_TABLE_LATENCY,
        lm_test_data_path(
            "upstream-kim23/mbv2_1.0/opt_time_fish_gpu1_1228.csv"),
        LM_TABLE_CSV_KIM23_OPT_TIME, 0, e));
    ck_assert_uint_eq(lm_table_count(opt), 171);
    ck_assert_lm_ok(lm_table_record_info(&rec, opt, 3));
    ck_assert_str_eq(rec.note, "0,1,2,4");
    ck_assert(rec.value == 3.5705427540540695);

    /* kim23 export reproduces the file's numbers. */
    char *dir = lm_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/opt.csv", dir);
    ck_assert_lm_ok(
        lm_table_export_csv(opt, path, LM_TABLE_CSV_KIM23_OPT_TIME));
    lm_table *again = NULL;
    ck_assert_lm_ok(lm_table_import_csv(&again, LM_TABLE_LATENCY, path,
                                        LM_TABLE_CSV_KIM23_OPT_TIME, 0, e));
    assert_latency_equal(opt, again);
    lm_table_destroy(again);
    ck_assert_lm_status(
        lm_table_export_csv(raw, path, LM_TABLE_CSV_LAYERMERGE),
        LM_ERR_UNSUPPORTED);
    lm_test_rmtree(dir);
    lm_table_destroy(opt);
    lm_table_destroy(raw);
    lm_table_destroy(t);
    lm_entries_destroy(e);
}
END_TEST

START_TEST(layermerge_csv_round_trip)
{
    lm_entries *e = mbv2_entries();
    lm_table *t = latency_shard(e, 0, lm_entries_count(e), 0);
    ck_assert_lm_ok(lm_table_set_latency_entry(t, e, 5, 1.0 / 3.0, 1e-310));
    char *dir = lm_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/lat.csv", dir);
    ck_assert_lm_ok(lm_table_export_csv(t, path, LM_TABLE_CSV_LAYERMERGE));
    lm_table *back = NULL;
    ck_assert_lm_ok(lm_table_import_csv(&back, LM_TABLE_LATENCY, path,
                                        LM_TABLE_CSV_LAYERMERGE, 0, e));
    assert_latency_equal(t, back);
    lm_table_destroy(back);

    lm_table *it = NULL, *iback = NULL;
    ck_assert_lm_ok(
        lm_table_create_importance_for(&it, e, LM_METRIC_ACCURACY));
    for (size_t id = 0; id < lm_entries_count(e); id++)
        ck_assert_lm_ok(
            lm_table_set_importance_entry(it, e, id, 50.0 + id / 9.0));
    snprintf(path, sizeof path, "%s/imp.csv", dir);
    ck_assert_lm_ok(lm_table_export_csv(it, path, LM_TABLE_CSV_LAYERMERGE));
    ck_assert_lm_ok(lm_table_import_csv(&iback, LM_TABLE_IMPORTANCE, path,
                                        LM_TABLE_CSV_LAYERMERGE,
                                        LM_METRIC_ACCURACY, e));
    ck_assert_uint_eq(lm_table_count(iback), lm_table_count(it));
    for (size_t i = 0; i < lm_table_count(it); i++) {
        lm_table_record a = {.size = sizeof a}, b = {.size = sizeof b};
        ck_assert_lm_ok(lm_table_record_info(&a, it, i));
        ck_assert_lm_ok(lm_table_record_info(&b, iback, i));
        ck_assert(a.id == b.id && a.kernel == b.kernel);
        ck_assert(same_bits(a.value, b.value) && same_bits(a.extra, b.extra));
    }
    lm_table_destroy(iback);
    lm_table_destroy(it);
    lm_test_rmtree(dir);
    lm_table_destroy(t);
    lm_entries_destroy(e);
}
END_TEST

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    fclose(fp);
}

/* Export then import with the same layout, metric and entries. */
static lm_table *csv_again(const lm_table *t, const char *dir,
                           lm_table_csv_format f, const lm_entries *e)
{
    char path[512];
    snprintf(path, sizeof path, "%s/again.csv", dir);
    ck_assert_lm_ok(lm_table_export_csv(t, path, f));
    lm_table *back = NULL;
    ck_assert_lm_ok(lm_table_import_csv(&back, lm_table_get_kind(t), path, f,
                                        lm_table_metric(t), e));
    return back;
}

/* Every importance metric: the exported file imports (with the table's
 * metric) to the same records, bit for bit. A normalised table used to
 * export its raw metric as if it were the value. */
START_TEST(importance_csv_round_trip_every_metric)
{
    lm_entries *e = mbv2_entries();
    char *dir = lm_test_tmpdir();
    size_t n = lm_entries_count(e);
    const lm_importance_metric metrics[] = {
        LM_METRIC_ACCURACY, LM_METRIC_LOSS_RATIO, LM_METRIC_NORMALISED,
        LM_METRIC_ACCURACY};
    for (size_t m = 0; m < 4; m++) {
        lm_table *t = NULL;
        ck_assert_lm_ok(lm_table_create_importance_for(&t, e, metrics[m]));
        for (size_t id = 0; id < n; id++) {
            double raw = metrics[m] == LM_METRIC_ACCURACY ? 50.0 + id / 9.0
                                                          : 0.1 + id / 53.0;
            if (metrics[m] == LM_METRIC_NORMALISED)
                /* The proxy's kind: raw error, normalised exp(-error). */
                ck_assert_lm_ok(lm_table_set_importance_entry_normalised(
                    t, e, id, raw, exp(-raw)));
            else if (m == 3)
                /* A caller's own normalisation of an accuracy. */
                ck_assert_lm_ok(lm_table_set_importance_entry_normalised(
                    t, e, id, raw, raw / 100.0 + 1.0 / 3.0));
            else
                ck_assert_lm_ok(lm_table_set_importance_entry(t, e, id, raw));
        }
        lm_table *back = csv_again(t, dir, LM_TABLE_CSV_LAYERMERGE, e);
        ck_assert_int_eq(lm_table_metric(back), metrics[m]);
        assert_latency_equal(t, back);
        lm_table_destroy(back);
        lm_table_destroy(t);
    }

    /* The extra column says what the importance column holds: importing
     * a normalised export as accuracy is refused, naming the column. */
    lm_table *t = NULL, *bad = NULL;
    ck_assert_lm_ok(lm_table_create_importance_for(&t, e, LM_METRIC_NORMALISED));
    ck_assert_lm_ok(lm_table_set_importance_entry_normalised(t, e, 0, 0.5,
                                                             exp(-0.5)));
    char path[512];
    snprintf(path, sizeof path, "%s/norm.csv", dir);
    ck_assert_lm_ok(lm_table_export_csv(t, path, LM_TABLE_CSV_LAYERMERGE));
    ck_assert_lm_status(lm_table_import_csv(&bad, LM_TABLE_IMPORTANCE, path,
                                            LM_TABLE_CSV_LAYERMERGE,
                                            LM_METRIC_ACCURACY, e),
                        LM_ERR_VALUE);
    ck_assert_error_has("norm.csv:1:");
    ck_assert_error_has("column 'raw'");
    ck_assert_ptr_null(bad);
    lm_table_destroy(t);
    lm_test_rmtree(dir);
    lm_entries_destroy(e);
}
END_TEST

/* kim23 layouts hold one time per segment: a table of them (the authors'
 * files) comes back unchanged, with or without a graph, and a LayerMerge
 * table (several kernels per segment) exports each segment's merge-all
 * record once, which imports back to exactly those records. */
START_TEST(kim23_csv_round_trip_every_layout)
{
    lm_entries *e = mbv2_entries();
    char *dir = lm_test_tmpdir();
    const char *files[] = {"upstream-kim23/mbv2_1.0/time_fish_gpu1_1228.csv",
                           "upstream-kim23/mbv2_1.0/opt_time_fish_gpu1_1228.csv"};
    const lm_table_csv_format fmts[] = {LM_TABLE_CSV_KIM23_TIME,
                                        LM_TABLE_CSV_KIM23_OPT_TIME};
    for (size_t k = 0; k < 2; k++)
        for (int with_graph = 0; with_graph < 2; with_graph++) {
            const lm_entries *g = with_graph ? e : NULL;
            lm_table *t = NULL;
            ck_assert_lm_ok(lm_table_import_csv(&t, LM_TABLE_LATENCY,
                                                lm_test_data_path(files[k]),
                                                fmts[k], 0, g));
            lm_table *back = csv_again(t, dir, fmts[k], g);
            assert_latency_equal(t, back);
            lm_table_destroy(back);
            /* And the LayerMerge layout of the resolved table. */
            if (with_graph) {
                back = csv_again(t, dir, LM_TABLE_CSV_LAYERMERGE, g);
                assert_latency_equal(t, back);
                lm_table_destroy(back);
            }
            lm_table_destroy(t);
        }

    lm_table *lm = latency_shard(e, 0, lm_entries_count(e), 0);
    for (size_t k = 0; k < 2; k++) {
        lm_table *back = csv_again(lm, dir, fmts[k], e);
        ck_assert_uint_gt(lm_table_count(back), 0);
        ck_assert_uint_lt(lm_table_count(back), lm_table_count(lm));
        for (size_t i = 0; i < lm_table_count(back); i++) {
            lm_table_record b = {.size = sizeof b};
            ck_assert_lm_ok(lm_table_record_info(&b, back, i));
            double v, x;
            ck_assert_lm_ok(lm_table_get_entry(&v, &x, lm, e, (size_t)b.id));
            ck_assert(same_bits(v, b.value) && same_bits(x, b.extra));
        }
        /* Exporting what came back reproduces it. */
        lm_table *twice = csv_again(back, dir, fmts[k], e);
        assert_latency_equal(back, twice);
        lm_table_destroy(twice);
        lm_table_destroy(back);
    }
    lm_table_destroy(lm);
    lm_test_rmtree(dir);
    lm_entries_destroy(e);
}
END_TEST

START_TEST(authors_importance_csv_and_bad_rows)
{
    lm_entries *e = tiny_entries();
    lm_table *it = NULL;
    ck_assert_lm_ok(lm_table_import_csv(
        &it, LM_TABLE_IMPORTANCE,
        lm_test_source_path("tests/data/tables_importance_authors.csv"),
        LM_TABLE_CSV_LAYERMERGE, LM_METRIC_NORMALISED, e));
    ck_assert_uint_eq(lm_table_count(it), 3);
    double v, raw;
    ck_assert_lm_ok(lm_table_get(&v, &raw, it, LM_TEST_KEY(1, 2, 3, 1, 1)));
    ck_assert(v == 2.0 && raw == 2.0);
    lm_table_record rec = {.size = sizeof rec};
    ck_assert_lm_ok(lm_table_record_info(&rec, it, 1));
    /* conv_comb "[1, 2]" is the record's subset. */
    ck_assert_int_eq(rec.has_convs, 1);
    ck_assert(rec.n_convs == 2 && rec.convs[0] == 1 && rec.convs[1] == 2);
    ck_assert_lm_ok(lm_table_check(it, e));
    lm_table_destroy(it);
    it = NULL;

    char *dir = lm_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/bad.csv", dir);
    write_text(path, "id,st,end,ker,str,is_dw,time,stdev\n"
                     "0,0,1,3,1,0,1.0,0.1\n"
                     "1,0,1,9,1,0,1.0,0.1\n");
    lm_table *t = NULL;
    ck_assert_lm_status(lm_table_import_csv(&t, LM_TABLE_LATENCY, path,
                                            LM_TABLE_CSV_LAYERMERGE, 0, e),
                        LM_ERR_NOT_FOUND);
    ck_assert_error_has("bad.csv:3:");
    ck_assert_error_has("K 9");
    write_text(path, "id,st,end,ker,str,is_dw,time,stdev\n"
                     "0,0,1,3,1,False,1.0,0.1\n"
                     "1,0,1,3,1,false,1.0,0.1\n");
    ck_assert_lm_status(lm_table_import_csv(&t, LM_TABLE_LATENCY, path,
                                            LM_TABLE_CSV_LAYERMERGE, 0, e),
                        LM_ERR_DUPLICATE);
    ck_assert_error_has("bad.csv:3:");
    ck_assert_error_has("line 2");
    write_text(path, "id,st,end,ker,str,is_dw,time,stdev\n"
                     "0,0,1,3,1,maybe,1.0,0.1\n");
    ck_assert_lm_status(lm_table_import_csv(&t, LM_TABLE_LATENCY, path,
                                            LM_TABLE_CSV_LAYERMERGE, 0, e),
                        LM_ERR_PARSE);
    ck_assert_error_has("bad.csv:2:");
    write_text(path, "id,st,end,ker,str,is_dw,time,stdev\n"
                     "0,0,1,3,1,0,nan,0.1\n");
    /* nan is no number at all (one syntax with YAML: core/util.h). */
    ck_assert_lm_status(lm_table_import_csv(&t, LM_TABLE_LATENCY, path,
                                            LM_TABLE_CSV_LAYERMERGE, 0, e),
                        LM_ERR_PARSE);
    ck_assert_error_has("bad.csv:2:13: column 'time': expected a number, "
                        "found 'nan'");
    write_text(path, "id,st,end,ker,str,is_dw,time,stdev\n"
                     "0,0,1,3,1,0,-1.0,0.1\n");
    ck_assert_lm_status(lm_table_import_csv(&t, LM_TABLE_LATENCY, path,
                                            LM_TABLE_CSV_LAYERMERGE, 0, e),
                        LM_ERR_VALUE);
    ck_assert_error_has("bad.csv:2:");
    ck_assert_ptr_null(t);
    lm_test_rmtree(dir);
    lm_entries_destroy(e);
}
END_TEST

/* ---- atomic saving ----------------------------------------------------- */

static size_t count_files(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    size_t n = 0;
    for (struct dirent *de; (de = readdir(d));)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

START_TEST(caller_sets_stage_calibration)
{
    lm_entries *e = tiny_entries();
    lm_table *t = latency_shard(e, 0, lm_entries_count(e), 0);
    lm_table_stage s = {.size = sizeof s, .st = 0, .end = 2,
                        .alone_ms = 2.0, .in_network_ms = 3.0};
    ck_assert_lm_ok(lm_table_set_stage(t, &s));
    s.in_network_ms = 2.5; /* the same stage again: replaced */
    ck_assert_lm_ok(lm_table_set_stage(t, &s));
    lm_table_network net = {.size = sizeof net};
    ck_assert_lm_ok(lm_table_network_info(&net, t));
    ck_assert_uint_eq(net.stage_count, 1);
    lm_table_stage got = {.size = sizeof got};
    ck_assert_lm_ok(lm_table_stage_info(&got, t, 0));
    ck_assert_double_eq(got.in_network_ms, 2.5);
    ck_assert_double_eq_tol(got.ratio, 1.25, 1e-12);
    /* The calibrated copy scales the stage's entries by 1.25. */
    lm_table *c = NULL;
    ck_assert_lm_ok(lm_table_create_calibrated(&c, t));
    for (size_t id = 0; id < lm_entries_count(e); id++) {
        lm_entry_info info = {.size = sizeof info};
        ck_assert_lm_ok(lm_entries_entry_info(&info, e, id));
        double a = 0.0, b = 0.0;
        if (lm_table_get_entry(&a, NULL, t, e, id) != LM_OK)
            continue;
        ck_assert_lm_ok(lm_table_get_entry(&b, NULL, c, e, id));
        ck_assert_double_eq_tol(b, info.end <= 2 ? 1.25 * a : a, 1e-12);
    }
    lm_table_destroy(c);
    /* Bad stages are refused, naming them; nothing changes. */
    s = (lm_table_stage){.size = sizeof s, .st = 2, .end = 2,
                         .alone_ms = 1.0, .in_network_ms = 1.0};
    ck_assert_lm_status(lm_table_set_stage(t, &s), LM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "stage 2..2"));
    s.end = 3;
    s.alone_ms = 0.0;
    ck_assert_lm_status(lm_table_set_stage(t, &s), LM_ERR_VALUE);
    s.alone_ms = 1.0;
    s.in_network_ms = NAN;
    ck_assert_lm_status(lm_table_set_stage(t, &s), LM_ERR_VALUE);
    s.size = 8;
    ck_assert_lm_status(lm_table_set_stage(t, &s), LM_ERR_INVALID_ARG);
    ck_assert_lm_ok(lm_table_network_info(&net, t));
    ck_assert_uint_eq(net.stage_count, 1);
    lm_table_destroy(t);
    lm_entries_destroy(e);
}
END_TEST

START_TEST(failed_save_keeps_the_old_file)
{
    lm_entries *e = tiny_entries();
    char *dir = lm_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/lat.yaml", dir);
    lm_table *t = latency_shard(e, 0, lm_entries_count(e), 0);
    ck_assert_lm_ok(lm_table_save(t, path));
    /* Corrupt a record behind the API's back, as a memory error might:
     * the save must fail half-way and leave the old file alone. */
    t->recs[t->n - 1].value = NAN;
    ck_assert_lm_status(lm_table_save(t, path), LM_ERR_VALUE);
    ck_assert_uint_eq(count_files(dir), 1);
    lm_table *back = NULL;
    t->recs[t->n - 1].value = 1.0 + (double)t->recs[t->n - 1].id / 7;
    ck_assert_lm_ok(lm_table_load_kind(&back, path, LM_TABLE_LATENCY));
    assert_latency_equal(t, back);
    lm_table_destroy(back);
    /* Saving into a missing directory fails without leaving anything. */
    snprintf(path, sizeof path, "%s/no/such/dir.yaml", dir);
    ck_assert_lm_status(lm_table_save(t, path), LM_ERR_IO);
    ck_assert_uint_eq(count_files(dir), 1);
    lm_table_destroy(t);
    lm_test_rmtree(dir);
    lm_entries_destroy(e);
}
END_TEST

static Suite *tables_suite(void)
{
    Suite *s = suite_create("tables");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, one_handle_two_kinds);
    tcase_add_test(tc, set_get_by_key_and_entry);
    tcase_add_test(tc, bad_values_name_the_key);
    tcase_add_test(tc, importance_normalisation);
    tcase_add_test(tc, yaml_round_trip_is_bit_exact);
    tcase_add_test(tc, file_errors_name_their_line);
    tcase_add_test(tc, table_for_another_graph_is_a_mismatch);
    tcase_add_test(tc, missing_entries_are_listed);
    tcase_add_test(tc, shard_merge_covers_and_conflicts);
    tcase_add_test(tc, importance_shards_must_agree);
    tcase_add_test(tc, kim23_time_table_imports_against_mobilenetv2);
    tcase_add_test(tc, layermerge_csv_round_trip);
    tcase_add_test(tc, importance_csv_round_trip_every_metric);
    tcase_add_test(tc, kim23_csv_round_trip_every_layout);
    tcase_add_test(tc, authors_importance_csv_and_bad_rows);
    tcase_add_test(tc, failed_save_keeps_the_old_file);
    tcase_add_test(tc, caller_sets_stage_calibration);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return lm_test_run(tables_suite());
}
