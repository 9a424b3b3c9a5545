/* Latency measurement and the proxy importance: a caller timer's values
 * land in the table, resuming skips what is there, cancelling keeps what
 * was saved, every autosave loads, the built-in timer gives positive
 * medians and identity zeros, provenance, size scaling, ranges, the
 * checks against other graphs and other provenance; the proxy scores the
 * original network's own entries exactly 1 and lossy entries below. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "layermerge/entries.h"
#include "layermerge/measure.h"
#include "layermerge/solver.h"
#include "layermerge/tables.h"
#include "layermerge/weights.h"

/* ---- fixture ---------------------------------------------------------- */

typedef struct fix {
    lm_graph *g;
    lm_entries *e;
    size_t n;
} fix;

/* 4x8x8 input; c1 relu, c2 identity (so a segment ending there gets the
 * nonlinearity), c3 relu with a skip 1 -> 3, c4 strided 4 -> 8; identity
 * options at 2 and 3 give identity entries. */
static lm_graph *tiny_graph(void)
{
    lm_graph *g = NULL;
    ck_assert_lm_ok(lm_graph_create(&g, 4, 8, 8));
    ck_assert_lm_ok(lm_graph_add_conv(g,
                                      LM_TEST_CONV("c1", 4, 4, 3, 1, 1, 1, 1),
                                      LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_add_conv(g,
                                      LM_TEST_CONV("c2", 4, 4, 3, 1, 1, 1, 1),
                                      LM_ACT_IDENTITY));
    ck_assert_lm_ok(lm_graph_add_conv(g,
                                      LM_TEST_CONV("c3", 4, 4, 3, 1, 1, 4, 1),
                                      LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_add_conv(g,
                                      LM_TEST_CONV("c4", 4, 8, 3, 2, 1, 1, 1),
                                      LM_ACT_RELU));
    ck_assert_lm_ok(lm_graph_add_skip(g, 1, 3));
    ck_assert_lm_ok(lm_graph_set_identity_option(g, 2, 1));
    ck_assert_lm_ok(lm_graph_set_identity_option(g, 3, 1));
    ck_assert_lm_ok(lm_graph_validate(g));
    return g;
}

static void fix_init(fix *f)
{
    f->g = tiny_graph();
    ck_assert_lm_ok(lm_entries_create(&f->e, f->g));
    f->n = lm_entries_count(f->e);
    ck_assert_uint_gt(f->n, 6);
}

static void fix_free(fix *f)
{
    lm_entries_destroy(f->e);
    lm_graph_destroy(f->g);
}

static lm_entry_info entry(const fix *f, size_t id)
{
    lm_entry_info info = {.size = sizeof info};
    ck_assert_lm_ok(lm_entries_entry_info(&info, f->e, id));
    return info;
}

static size_t count_identity(const fix *f, size_t lo, size_t hi)
{
    size_t k = 0;
    for (size_t id = lo; id < hi; id++)
        k += (size_t)entry(f, id).identity;
    return k;
}

/* ---- a deterministic caller timer ------------------------------------ */

typedef struct fake {
    size_t calls;
    int64_t last_h, last_w;
    size_t seen[64];
} fake;

static double fake_ms(const lm_entry_info *e)
{
    return 0.5 + 0.25 * (double)e->id + (double)e->kernel;
}

static lm_status fake_timer(double *median, double *stdev,
                            const lm_entry_info *e, size_t batch, void *ud)
{
    fake *t = ud;
    ck_assert_uint_eq(batch, 2);
    ck_assert_int_eq(e->identity, 0);
    if (t->calls < 64)
        t->seen[t->calls] = e->id;
    t->calls++;
    t->last_h = e->in_height;
    t->last_w = e->in_width;
    *median = fake_ms(e);
    *stdev = 0.01 * (double)e->id;
    return LM_OK;
}

/* One pass, so that one timing is one entry (the pass tests below set
 * their own). */
static lm_measure_options *fake_opts(fake *t)
{
    lm_measure_options *o = NULL;
    ck_assert_lm_ok(lm_measure_options_create(&o));
    ck_assert_lm_ok(lm_measure_options_set_batch(o, 2));
    ck_assert_lm_ok(lm_measure_options_set_timer(o, fake_timer, t));
    ck_assert_lm_ok(lm_measure_options_set_passes(o, 1, 1));
    return o;
}

/* ---- latency ----------------------------------------------------------- */

START_TEST(timer_values_land_in_table)
{
    fix f;
    fix_init(&f);
    fake t = {0};
    lm_measure_options *o = fake_opts(&t);
    lm_table *tab = NULL;
    ck_assert_lm_ok(lm_table_create_latency_for(&tab, f.e));
    ck_assert_lm_ok(lm_table_measure_latency(tab, f.g, f.e, o));
    ck_assert_uint_gt(count_identity(&f, 0, f.n), 0);
    ck_assert_uint_eq(t.calls, f.n - count_identity(&f, 0, f.n));
    ck_assert_uint_eq(lm_table_count(tab), f.n);
    for (size_t id = 0; id < f.n; id++) {
        lm_entry_info info = entry(&f, id);
        double ms = -1, sd = -1;
        ck_assert_lm_ok(lm_table_get_entry(&ms, &sd, tab, f.e, id));
        if (info.identity) {
            ck_assert(ms == 0.0 && sd == 0.0);
        } else {
            ck_assert(ms == fake_ms(&info));
            ck_assert(sd == 0.01 * (double)id);
        }
    }
    ck_assert_lm_ok(lm_table_missing(NULL, NULL, 0, tab, f.e));
    /* A caller timer names its own device; the run still records its
     * batch and input size. */
    ck_assert_int_eq(lm_table_int(tab, LM_TABLE_BATCH), 2);
    ck_assert_int_eq(lm_table_int(tab, LM_TABLE_HEIGHT), 8);
    ck_assert_int_eq(lm_table_int(tab, LM_TABLE_WIDTH), 8);
    ck_assert_str_eq(lm_table_text(tab, LM_TABLE_TIMER), "");
    /* Everything is there: a second run times nothing. */
    t.calls = 0;
    ck_assert_lm_ok(lm_table_measure_latency(tab, f.g, f.e, o));
    ck_assert_uint_eq(t.calls, 0);
    lm_table_destroy(tab);
    lm_measure_options_destroy(o);
    fix_free(&f);
}
END_TEST

START_TEST(resume_skips_present_entries)
{
    fix f;
    fix_init(&f);
    fake t = {0};
    lm_measure_options *o = fake_opts(&t);
    lm_table *tab = NULL;
    ck_assert_lm_ok(lm_table_create_latency_for(&tab, f.e));
    ck_assert_lm_ok(lm_table_set_int(tab, LM_TABLE_BATCH, 2));
    size_t pre[] = {1, 3, 4};
    for (size_t i = 0; i < 3; i++)
        ck_assert_lm_ok(
            lm_table_set_latency_entry(tab, f.e, pre[i], 99.0, 1.0));
    size_t pre_nonid = 0;
    for (size_t i = 0; i < 3; i++)
        pre_nonid += (size_t)!entry(&f, pre[i]).identity;
    ck_assert_lm_ok(lm_table_measure_latency(tab, f.g, f.e, o));
    ck_assert_uint_eq(t.calls, f.n - count_identity(&f, 0, f.n) - pre_nonid);
    for (size_t i = 0; i < t.calls; i++)
        ck_assert(t.seen[i] != 1 && t.seen[i] != 3 && t.seen[i] != 4);
    for (size_t i = 0; i < 3; i++) {
        double ms;
        ck_assert_lm_ok(lm_table_get_entry(&ms, NULL, tab, f.e, pre[i]));
        ck_assert(ms == 99.0);
    }
    ck_assert_lm_ok(lm_table_missing(NULL, NULL, 0, tab, f.e));
    lm_table_destroy(tab);
    lm_measure_options_destroy(o);
    fix_free(&f);
}
END_TEST

/* Progress callback that loads the autosaved file each time and cancels
 * after `stop_at` timings. Identity entries are stored, untimed, first. */
typedef struct watch {
    const char *path;
    const fix *f;
    size_t calls, stop_at, last_total;
} watch;

static int watch_progress(size_t done, size_t total, size_t id, double el,
                          void *ud)
{
    watch *w = ud;
    w->calls++;
    w->last_total = total;
    ck_assert(el >= 0.0);
    ck_assert_uint_eq(done, w->calls);
    lm_table *saved = NULL;
    ck_assert_lm_ok(lm_table_load_kind(&saved, w->path, LM_TABLE_LATENCY));
    ck_assert_uint_eq(lm_table_count(saved),
                      count_identity(w->f, 0, w->f->n) + done);
    lm_entry_key key = {.size = sizeof key};
    ck_assert_lm_ok(lm_entries_entry_key(&key, w->f->e, id));
    ck_assert(lm_table_has(saved, &key));
    lm_table_destroy(saved);
    return w->calls == w->stop_at;
}

START_TEST(autosave_loads_after_every_entry)
{
    fix f;
    fix_init(&f);
    char *dir = lm_test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/lat.yaml", dir);
    fake t = {0};
    watch w = {.path = path, .f = &f, .stop_at = SIZE_MAX};
    lm_measure_options *o = fake_opts(&t);
    ck_assert_lm_ok(lm_measure_options_set_save_path(o, path));
    ck_assert_lm_ok(lm_measure_options_set_progress(o, watch_progress, &w));
    lm_table *tab = NULL;
    ck_assert_lm_ok(lm_table_create_latency_for(&tab, f.e));
    ck_assert_lm_ok(lm_table_measure_latency(tab, f.g, f.e, o));
    size_t timed = f.n - count_identity(&f, 0, f.n);
    ck_assert_uint_eq(w.calls, timed);
    ck_assert_uint_eq(w.last_total, timed);
    lm_table_destroy(tab);
    lm_measure_options_destroy(o);
    lm_test_rmtree(dir);
    fix_free(&f);
}
END_TEST

START_TEST(cancel_keeps_saved_entries)
{
    fix f;
    fix_init(&f);
    char *dir = lm_test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/lat.yaml", dir);
    fake t = {0};
    watch w = {.path = path, .f = &f, .stop_at = 3};
    lm_measure_options *o = fake_opts(&t);
    ck_assert_lm_ok(lm_measure_options_set_save_path(o, path));
    ck_assert_lm_ok(lm_measure_options_set_progress(o, watch_progress, &w));
    lm_table *tab = NULL;
    ck_assert_lm_ok(lm_table_create_latency_for(&tab, f.e));
    ck_assert_lm_status(lm_table_measure_latency(tab, f.g, f.e, o),
                        LM_ERR_CANCELLED);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "cancelled in pass 1"));
    size_t ids = count_identity(&f, 0, f.n);
    ck_assert_uint_eq(lm_table_count(tab), ids + 3);
    lm_table *saved = NULL;
    ck_assert_lm_ok(lm_table_load_kind(&saved, path, LM_TABLE_LATENCY));
    ck_assert_uint_eq(lm_table_count(saved), ids + 3);
    /* The three timed are the first three of the pass's order. */
    for (size_t i = 0; i < 3; i++)
        ck_assert_lm_ok(
            lm_table_get_entry(NULL, NULL, saved, f.e, t.seen[i]));
    /* Resuming from the saved file finishes the rest. */
    ck_assert_lm_ok(lm_measure_options_set_progress(o, NULL, NULL));
    t.calls = 0;
    ck_assert_lm_ok(lm_table_measure_latency(saved, f.g, f.e, o));
    ck_assert_uint_eq(t.calls, f.n - ids - 3);
    ck_assert_lm_ok(lm_table_missing(NULL, NULL, 0, saved, f.e));
    lm_table_destroy(saved);
    lm_table_destroy(tab);
    lm_measure_options_destroy(o);
    lm_test_rmtree(dir);
    fix_free(&f);
}
END_TEST

START_TEST(range_and_size_override)
{
    fix f;
    fix_init(&f);
    fake t = {0};
    lm_measure_options *o = fake_opts(&t);
    ck_assert_lm_ok(lm_measure_options_set_range(o, 2, 5));
    ck_assert_lm_ok(lm_measure_options_set_input_size(o, 16, 4));
    lm_table *tab = NULL;
    ck_assert_lm_ok(lm_table_create_latency_for(&tab, f.e));
    ck_assert_lm_ok(lm_table_measure_latency(tab, f.g, f.e, o));
    ck_assert_uint_eq(lm_table_count(tab), 3);
    for (size_t id = 0; id < f.n; id++)
        ck_assert_int_eq(
            lm_table_has(tab, LM_TEST_KEY(entry(&f, id).st, entry(&f, id).end,
                                          entry(&f, id).kernel,
                                          entry(&f, id).stride,
                                          entry(&f, id).depthwise)),
            id >= 2 && id < 5);
    /* Every entry of this graph reads an 8x8 map: scaled to 16x4. */
    ck_assert_int_eq(t.last_h, 16);
    ck_assert_int_eq(t.last_w, 4);
    ck_assert_int_eq(lm_table_int(tab, LM_TABLE_HEIGHT), 16);
    ck_assert_int_eq(lm_table_int(tab, LM_TABLE_WIDTH), 4);
    /* A range past the end is refused; one that runs over is clipped. */
    ck_assert_lm_ok(lm_measure_options_set_range(o, f.n, f.n + 3));
    ck_assert_lm_status(lm_table_measure_latency(tab, f.g, f.e, o),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_ok(lm_measure_options_set_range(o, f.n - 1, f.n + 3));
    ck_assert_lm_ok(lm_table_measure_latency(tab, f.g, f.e, o));
    ck_assert_uint_eq(lm_table_count(tab), 4);
    /* Resuming at another size is a mismatch naming both values. */
    ck_assert_lm_ok(lm_measure_options_set_input_size(o, 0, 0));
    ck_assert_lm_status(lm_table_measure_latency(tab, f.g, f.e, o),
                        LM_ERR_MISMATCH);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "input height 16"));
    lm_table_destroy(tab);
    lm_measure_options_destroy(o);
    fix_free(&f);
}
END_TEST

static lm_status failing_timer(double *median, double *stdev,
                               const lm_entry_info *e, size_t batch,
                               void *ud)
{
    (void)batch;
    if (e->id >= 2)
        return ud ? lm_set_error(LM_ERR_IO, (const char *)ud) : LM_ERR_IO;
    *median = 1.0;
    *stdev = 0.0;
    return LM_OK;
}

START_TEST(errors_name_graph_and_entry)
{
    fix f;
    fix_init(&f);
    lm_measure_options *o = NULL;
    ck_assert_lm_ok(lm_measure_options_create(&o));
    lm_table *other = NULL, *tab = NULL;
    ck_assert_lm_ok(lm_table_create_latency(&other, "0123456789abcdef"));
    ck_assert_lm_status(lm_table_measure_latency(other, f.g, f.e, o),
                        LM_ERR_MISMATCH);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "0123456789abcdef"));
    ck_assert_lm_status(lm_table_measure_latency(NULL, f.g, f.e, o),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_measure_options_set_batch(o, 0),
                        LM_ERR_INVALID_ARG);
    /* `latency --batch 4611686018427387904` overflowed the engine: the
     * options bound the batch, naming the range. */
    ck_assert_lm_status(lm_measure_options_set_batch(o, (size_t)1 << 62),
                        LM_ERR_INVALID_ARG);
    ck_assert_msg(strstr(lm_last_error(), "4611686018427387904") &&
                      strstr(lm_last_error(), "1..65536"),
                  "%s", lm_last_error());
    ck_assert_lm_status(lm_measure_options_set_batch(o, 65537),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_ok(lm_measure_options_set_batch(o, 65536));
    ck_assert_lm_ok(lm_measure_options_set_batch(o, 1));
    ck_assert_lm_status(lm_measure_options_set_input_size(o, (int64_t)1 << 40,
                                                          8),
                        LM_ERR_INVALID_ARG);
    lm_proxy_options *po = NULL;
    ck_assert_lm_ok(lm_proxy_options_create(&po));
    ck_assert_lm_status(lm_proxy_options_set_batch(po, (size_t)1 << 62),
                        LM_ERR_INVALID_ARG);
    ck_assert_msg(strstr(lm_last_error(), "1..65536"), "%s", lm_last_error());
    ck_assert_lm_status(lm_proxy_options_set_input_size(po, 16,
                                                        INT64_MAX),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_proxy_options_set_inputs(po, (const float *)po,
                                                    SIZE_MAX / 2),
                        LM_ERR_INVALID_ARG);
    lm_proxy_options_destroy(po);
    ck_assert_lm_status(lm_measure_options_set_repetitions(o, 0),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_measure_options_set_range(o, 3, 3),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_measure_options_set_input_size(o, 8, 0),
                        LM_ERR_INVALID_ARG);
    /* A failing timer: the status comes back naming the entry, and the
     * entries timed before it stay. */
    ck_assert_lm_ok(lm_measure_options_set_timer(o, failing_timer, NULL));
    ck_assert_lm_ok(lm_table_create_latency_for(&tab, f.e));
    ck_assert_lm_status(lm_table_measure_latency(tab, f.g, f.e, o), LM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "pass 1, entry "));
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "the caller's timer returned"));
    /* A timer that says why (lm_set_error): its message, after the entry. */
    lm_table *said = NULL;
    ck_assert_lm_ok(lm_measure_options_set_timer(o, failing_timer,
                                                 "the runtime fell over"));
    ck_assert_lm_ok(lm_table_create_latency_for(&said, f.e));
    ck_assert_lm_status(lm_table_measure_latency(said, f.g, f.e, o),
                        LM_ERR_IO);
    ck_assert_msg(strstr(lm_last_error(), "pass 1, entry ") &&
                      strstr(lm_last_error(), "the runtime fell over") &&
                      !strstr(lm_last_error(), "the caller's timer returned"),
                  "%s", lm_last_error());
    lm_table_destroy(said);
    /* Whatever was timed before the failure stays (ids 0 and 1). */
    for (size_t i = 0; i < lm_table_count(tab); i++) {
        lm_table_record rec = {.size = sizeof rec};
        ck_assert_lm_ok(lm_table_record_info(&rec, tab, i));
        ck_assert(rec.kernel == 0 || rec.id < 2);
    }
    lm_table_destroy(tab);
    lm_table_destroy(other);
    lm_measure_options_destroy(o);
    fix_free(&f);
}
END_TEST

/* ---- the measurement protocol, with noise the test injects ----------- */

/* A caller timer whose k-th timing of an entry (k = 0, 1, ...) is
 * base * factor(id, k): the tests choose the noise, so they are exact. */
typedef struct noisy {
    size_t calls;
    size_t times[64];     /* timings per entry id */
    size_t order[256];    /* ids in call order */
    size_t burst_pass;    /* every entry's timing k == burst_pass is x1.5 */
    size_t drifting;      /* this entry gets slower each time: (1 + k) */
} noisy;

static double base_ms(const lm_entry_info *e)
{
    return 1.0 + (double)e->id;
}

static lm_status noisy_timer(double *median, double *stdev,
                             const lm_entry_info *e, size_t batch, void *ud)
{
    noisy *t = ud;
    (void)batch;
    size_t k = t->times[e->id]++;
    if (t->calls < 256)
        t->order[t->calls] = e->id;
    t->calls++;
    double f = k == t->burst_pass ? 1.5 : 1.0;
    if (e->id == t->drifting)
        f = 1.0 + (double)k;
    *median = base_ms(e) * f;
    *stdev = 0.0;
    return LM_OK;
}

static lm_measure_options *noisy_opts(noisy *t, size_t passes, uint64_t seed)
{
    lm_measure_options *o = NULL;
    ck_assert_lm_ok(lm_measure_options_create(&o));
    ck_assert_lm_ok(lm_measure_options_set_timer(o, noisy_timer, t));
    ck_assert_lm_ok(lm_measure_options_set_passes(o, passes, seed));
    return o;
}

static size_t first_timed(const fix *f)
{
    size_t id = 0;
    while (entry(f, id).identity)
        id++;
    return id;
}

/* Three passes in three shuffled orders; a burst that hits one pass of
 * every entry moves no value and makes no entry noisy; an entry that keeps
 * drifting is re-measured twice more and then marked noisy. */
START_TEST(passes_are_shuffled_and_robust)
{
    fix f;
    fix_init(&f);
    size_t timed = f.n - count_identity(&f, 0, f.n);
    noisy t = {.burst_pass = 1, .drifting = first_timed(&f)};
    lm_measure_options *o = noisy_opts(&t, 3, 7);
    lm_table *tab = NULL;
    ck_assert_lm_ok(lm_table_create_latency_for(&tab, f.e));
    ck_assert_lm_ok(lm_table_measure_latency(tab, f.g, f.e, o));
    ck_assert_uint_eq(t.calls, 3 * timed + 2);
    /* Each pass times every entry once, in its own order. */
    int differs = 0;
    for (size_t p = 0; p < 3; p++) {
        int seen[64] = {0};
        for (size_t i = 0; i < timed; i++)
            seen[t.order[p * timed + i]]++;
        for (size_t id = 0; id < f.n; id++)
            ck_assert_int_eq(seen[id], !entry(&f, id).identity);
        if (p && memcmp(t.order, t.order + p * timed,
                        timed * sizeof *t.order))
            differs = 1;
    }
    ck_assert_msg(differs, "the three passes ran in the same order");
    for (size_t i = 0; i < lm_table_count(tab); i++) {
        lm_table_record rec = {.size = sizeof rec};
        ck_assert_lm_ok(lm_table_record_info(&rec, tab, i));
        if (rec.kernel == 0)
            continue;
        lm_entry_info info = entry(&f, (size_t)rec.id);
        if (info.id == t.drifting) {
            /* 1, 2, 3 then 4, 5: the median of five, still spread out. */
            ck_assert_uint_eq(rec.passes, 5);
            ck_assert(rec.value == 3.0 * base_ms(&info));
            ck_assert_int_eq(rec.noisy, 1);
            ck_assert(rec.spread > 0.10);
        } else {
            ck_assert_uint_eq(rec.passes, 3);
            ck_assert(rec.value == base_ms(&info));
            ck_assert_int_eq(rec.noisy, 0);
            ck_assert(rec.spread == 0.0);
        }
    }
    /* The same seed gives the same orders; the table file keeps passes
     * and the noisy mark. */
    noisy u = {.burst_pass = 1, .drifting = t.drifting};
    lm_measure_options *o2 = noisy_opts(&u, 3, 7);
    lm_table *again = NULL;
    ck_assert_lm_ok(lm_table_create_latency_for(&again, f.e));
    ck_assert_lm_ok(lm_table_measure_latency(again, f.g, f.e, o2));
    ck_assert(!memcmp(t.order, u.order, t.calls * sizeof *t.order));
    char *dir = lm_test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/lat.yaml", dir);
    ck_assert_lm_ok(lm_table_save(tab, path));
    lm_table *back = NULL;
    ck_assert_lm_ok(lm_table_load_kind(&back, path, LM_TABLE_LATENCY));
    for (size_t i = 0; i < lm_table_count(tab); i++) {
        lm_table_record a = {.size = sizeof a}, b = {.size = sizeof b};
        ck_assert_lm_ok(lm_table_record_info(&a, tab, i));
        ck_assert_lm_ok(lm_table_record_info(&b, back, i));
        ck_assert(a.value == b.value && a.passes == b.passes &&
                  a.noisy == b.noisy && a.spread == b.spread);
    }
    lm_test_rmtree(dir);
    lm_table_destroy(back);
    lm_table_destroy(again);
    lm_table_destroy(tab);
    lm_measure_options_destroy(o2);
    lm_measure_options_destroy(o);
    fix_free(&f);
}
END_TEST

static int cancel_at(size_t done, size_t total, size_t id, double el,
                     void *ud)
{
    (void)total, (void)id, (void)el;
    return done == *(size_t *)ud;
}

/* Killed in the middle of pass 2, the saved table resumes: no finished
 * pass is timed again and every entry ends with its three passes. */
START_TEST(resume_mid_pass)
{
    fix f;
    fix_init(&f);
    size_t timed = f.n - count_identity(&f, 0, f.n);
    char *dir = lm_test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/lat.yaml", dir);
    noisy t = {.burst_pass = SIZE_MAX, .drifting = SIZE_MAX};
    lm_measure_options *o = noisy_opts(&t, 3, 11);
    size_t stop = timed + 2;
    ck_assert_lm_ok(lm_measure_options_set_save_path(o, path));
    ck_assert_lm_ok(lm_measure_options_set_progress(o, cancel_at, &stop));
    lm_table *tab = NULL;
    ck_assert_lm_ok(lm_table_create_latency_for(&tab, f.e));
    ck_assert_lm_status(lm_table_measure_latency(tab, f.g, f.e, o),
                        LM_ERR_CANCELLED);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "cancelled in pass 2"));
    lm_table *saved = NULL;
    ck_assert_lm_ok(lm_table_load_kind(&saved, path, LM_TABLE_LATENCY));
    size_t two = 0;
    for (size_t i = 0; i < lm_table_count(saved); i++) {
        lm_table_record rec = {.size = sizeof rec};
        ck_assert_lm_ok(lm_table_record_info(&rec, saved, i));
        two += rec.passes == 2;
    }
    ck_assert_uint_eq(two, 2);
    ck_assert_lm_ok(lm_measure_options_set_progress(o, NULL, NULL));
    t.calls = 0;
    ck_assert_lm_ok(lm_table_measure_latency(saved, f.g, f.e, o));
    ck_assert_uint_eq(t.calls, 3 * timed - stop);
    for (size_t i = 0; i < lm_table_count(saved); i++) {
        lm_table_record rec = {.size = sizeof rec};
        ck_assert_lm_ok(lm_table_record_info(&rec, saved, i));
        ck_assert_uint_eq(rec.passes, rec.kernel == 0 ? 0u : 3u);
    }
    lm_table_destroy(saved);
    lm_table_destroy(tab);
    lm_measure_options_destroy(o);
    lm_test_rmtree(dir);
    fix_free(&f);
}
END_TEST

/* Thread count, batch and size are part of a measurement: resuming with
 * another value, or merging shards measured with two, names both. */
START_TEST(thread_batch_size_mismatches)
{
    fix f;
    fix_init(&f);
    noisy t = {.burst_pass = SIZE_MAX, .drifting = SIZE_MAX};
    lm_measure_options *o = noisy_opts(&t, 1, 1);
    ck_assert_lm_ok(lm_measure_options_set_range(o, 0, 3));
    lm_table *a = NULL, *b = NULL;
    ck_assert_lm_ok(lm_table_create_latency_for(&a, f.e));
    ck_assert_lm_ok(lm_table_measure_latency(a, f.g, f.e, o));
    ck_assert_int_eq(lm_table_int(a, LM_TABLE_THREADS), 1);
    ck_assert_lm_ok(lm_measure_options_set_range(o, 3, f.n));
    ck_assert_lm_ok(lm_measure_options_set_threads(o, 2));
    ck_assert_lm_status(lm_table_measure_latency(a, f.g, f.e, o),
                        LM_ERR_MISMATCH);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "threads 1"));
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "uses 2"));
    ck_assert_lm_ok(lm_measure_options_set_threads(o, 1));
    ck_assert_lm_ok(lm_measure_options_set_batch(o, 3));
    ck_assert_lm_status(lm_table_measure_latency(a, f.g, f.e, o),
                        LM_ERR_MISMATCH);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "batch 1"));
    ck_assert_lm_ok(lm_measure_options_set_batch(o, 1));
    ck_assert_lm_ok(lm_measure_options_set_input_size(o, 4, 4));
    ck_assert_lm_status(lm_table_measure_latency(a, f.g, f.e, o),
                        LM_ERR_MISMATCH);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "input height 8"));
    /* A second shard measured with two threads does not merge. */
    ck_assert_lm_ok(lm_measure_options_set_input_size(o, 0, 0));
    ck_assert_lm_ok(lm_measure_options_set_threads(o, 2));
    ck_assert_lm_ok(lm_table_create_latency_for(&b, f.e));
    ck_assert_lm_ok(lm_table_measure_latency(b, f.g, f.e, o));
    const lm_table *shards[2] = {a, b};
    lm_table *m = NULL;
    ck_assert_lm_status(lm_table_merge(&m, f.e, shards, 2, 0),
                        LM_ERR_MISMATCH);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "threads 2"));
    ck_assert_ptr_null(m);
    ck_assert_lm_status(lm_measure_options_set_threads(o, 0),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_measure_options_set_passes(o, 0, 1),
                        LM_ERR_INVALID_ARG);
    ck_assert_lm_status(lm_measure_options_set_noise_limit(o, NAN, 1),
                        LM_ERR_INVALID_ARG);
    lm_table_destroy(b);
    lm_table_destroy(a);
    lm_measure_options_destroy(o);
    fix_free(&f);
}
END_TEST

/* The winner's curse: an entry whose first timing came out far too low
 * is what a solver picks; timing the chosen entries again in a fresh pass
 * shows it, moves the table's value, and a new solve no longer picks it. */
typedef struct lucky {
    size_t calls, lucky_id, lucky_calls;
} lucky;

static lm_status lucky_timer(double *median, double *stdev,
                             const lm_entry_info *e, size_t batch, void *ud)
{
    lucky *t = ud;
    (void)batch;
    t->calls++;
    *median = (double)e->kernel; /* a merged kernel costs its size */
    if (e->id == t->lucky_id && t->lucky_calls++ == 0)
        *median = 0.01; /* one burst of luck */
    *stdev = 0.0;
    return LM_OK;
}

START_TEST(remeasure_lifts_the_winners_curse)
{
    fix f;
    fix_init(&f);
    /* The lucky entry: (1, 3] merging c2 and c3 (and their skip), K 5. */
    size_t lucky_id = 0;
    ck_assert_lm_ok(lm_entries_find(&lucky_id, f.e,
                                    LM_TEST_KEY(1, 3, 5, 1, 0)));
    lucky t = {.lucky_id = lucky_id};
    lm_measure_options *o = NULL;
    ck_assert_lm_ok(lm_measure_options_create(&o));
    ck_assert_lm_ok(lm_measure_options_set_timer(o, lucky_timer, &t));
    ck_assert_lm_ok(lm_measure_options_set_passes(o, 1, 3));
    ck_assert_lm_ok(lm_measure_options_set_noise_limit(o, 0.10, 0));
    lm_table *lat = NULL, *imp = NULL;
    ck_assert_lm_ok(lm_table_create_latency_for(&lat, f.e));
    ck_assert_lm_ok(lm_table_measure_latency(lat, f.g, f.e, o));
    ck_assert_lm_ok(lm_table_create_importance_for(&imp, f.e,
                                                   LM_METRIC_NORMALISED));
    /* Every segment is worth 1, an identity one almost nothing. */
    for (size_t id = 0; id < f.n; id++) {
        double v = entry(&f, id).identity ? 0.01 : 1.0;
        ck_assert_lm_ok(
            lm_table_set_importance_entry_normalised(imp, f.e, id, v, v));
    }
    /* The original network's 4 convs cost 3 ms each (12 ms); at 7 ms the
     * lucky merge (0.01 ms for a 5x5) wins. */
    lm_solver *s = NULL;
    lm_solve_options *so = NULL;
    lm_result *r = NULL;
    ck_assert_lm_ok(lm_solver_create(&s, f.g, f.e, lat, imp));
    ck_assert_lm_ok(lm_solve_options_create(&so));
    ck_assert_lm_ok(lm_solve_options_set_budget(so, 7.0));
    ck_assert_lm_ok(lm_solver_run(&r, s, so));
    lm_result_segment seg = {.size = sizeof seg};
    /* Time what was chosen again: the lucky entry comes back at 5 ms. */
    size_t ids[8], n = 0, at = SIZE_MAX;
    for (size_t i = 0; i < lm_result_segment_count(r); i++) {
        ck_assert_lm_ok(lm_result_segment_info(&seg, r, i));
        if (seg.entry == lucky_id)
            at = n;
        if (seg.entry != SIZE_MAX)
            ids[n++] = seg.entry;
    }
    ck_assert_uint_ne(at, SIZE_MAX); /* cursed: the solver took it */
    double fresh[8];
    size_t before = t.calls;
    ck_assert_lm_ok(
        lm_table_remeasure_entries(fresh, lat, f.g, f.e, ids, n, o));
    ck_assert_uint_eq(t.calls - before, n);
    ck_assert(fresh[at] == 5.0);
    lm_table_record rec = {.size = sizeof rec};
    double v = 0.0;
    ck_assert_lm_ok(lm_table_get_entry(&v, NULL, lat, f.e, lucky_id));
    ck_assert(v > 2.0); /* median of 0.01 and 5 */
    /* Solved again on the updated table, the entry is not chosen. */
    lm_result_destroy(r);
    lm_solver_destroy(s);
    ck_assert_lm_ok(lm_solver_create(&s, f.g, f.e, lat, imp));
    ck_assert_lm_ok(lm_solver_run(&r, s, so));
    for (size_t i = 0; i < lm_result_segment_count(r); i++) {
        ck_assert_lm_ok(lm_result_segment_info(&seg, r, i));
        ck_assert(seg.entry != lucky_id);
    }
    ck_assert_lm_status(lm_table_remeasure_entries(fresh, lat, f.g, f.e,
                                                   (size_t[]){f.n}, 1, o),
                        LM_ERR_INVALID_ARG);
    lm_result_destroy(r);
    lm_solve_options_destroy(so);
    lm_solver_destroy(s);
    lm_table_destroy(imp);
    lm_table_destroy(lat);
    lm_measure_options_destroy(o);
    fix_free(&f);
}
END_TEST

START_TEST(builtin_timer_and_provenance)
{
    fix f;
    fix_init(&f);
    lm_measure_options *o = NULL;
    ck_assert_lm_ok(lm_measure_options_create(&o));
    ck_assert_lm_ok(lm_measure_options_set_warmup(o, 1));
    ck_assert_lm_ok(lm_measure_options_set_repetitions(o, 3));
    lm_table *tab = NULL;
    ck_assert_lm_ok(lm_table_create_latency_for(&tab, f.e));
    ck_assert_lm_ok(lm_table_measure_latency(tab, f.g, f.e, o));
    for (size_t id = 0; id < f.n; id++) {
        double ms = -1, sd = -1;
        ck_assert_lm_ok(lm_table_get_entry(&ms, &sd, tab, f.e, id));
        ck_assert(isfinite(ms) && isfinite(sd) && sd >= 0.0);
        if (entry(&f, id).identity)
            ck_assert(ms == 0.0);
        else
            ck_assert_msg(ms > 0.0, "entry %zu: %g ms", id, ms);
    }
    ck_assert_str_eq(lm_table_text(tab, LM_TABLE_TIMER), "lm_engine");
    ck_assert_str_eq(lm_table_text(tab, LM_TABLE_DTYPE), "float32");
    ck_assert_int_eq(strncmp(lm_table_text(tab, LM_TABLE_DEVICE),
                             "cpu", 3), 0);
    /* The measurement's thread count has its own field. */
    ck_assert_int_eq(lm_table_int(tab, LM_TABLE_THREADS), 1);
    ck_assert_int_eq(lm_table_int(tab, LM_TABLE_PASSES), 3);
    ck_assert_ptr_null(strstr(lm_table_text(tab, LM_TABLE_DEVICE), "thread"));
    /* The whole network was profiled: a fixed cost (stem, head, the skip
     * 1 -> 3 added apart), the network's own time, and one stage (the
     * graph has no barrier inside) with its in-network ratio. */
    lm_table_network net = {.size = sizeof net};
    ck_assert_lm_ok(lm_table_network_info(&net, tab));
    ck_assert(net.fixed_ms >= 0.0 && net.fixed_stdev >= 0.0);
    ck_assert(net.measured_ms > 0.0 && net.fixed_ms < net.measured_ms);
    ck_assert_uint_eq(net.stage_count, 1);
    lm_table_stage stage = {.size = sizeof stage};
    ck_assert_lm_ok(lm_table_stage_info(&stage, tab, 0));
    ck_assert(stage.st == 0 && stage.end == 4);
    ck_assert(stage.alone_ms > 0.0 && stage.in_network_ms > 0.0);
    ck_assert(fabs(stage.ratio - stage.in_network_ms / stage.alone_ms) <
              1e-12);
    ck_assert_lm_status(lm_table_stage_info(&stage, tab, 1),
                        LM_ERR_INVALID_ARG);
    /* Every record was timed in its passes and says so. */
    for (size_t i = 0; i < lm_table_count(tab); i++) {
        lm_table_record rec = {.size = sizeof rec};
        ck_assert_lm_ok(lm_table_record_info(&rec, tab, i));
        /* 3 passes, and up to 2 more where this machine was noisy. */
        if (rec.kernel == 0)
            ck_assert_uint_eq(rec.passes, 0);
        else
            ck_assert(rec.passes >= 3 && rec.passes <= 5);
        ck_assert(!rec.noisy || rec.passes == 5);
    }
    ck_assert_int_eq(lm_table_int(tab, LM_TABLE_BATCH), 1);
    ck_assert_int_eq(lm_table_int(tab, LM_TABLE_HEIGHT), 8);
    ck_assert_int_eq(lm_table_int(tab, LM_TABLE_REPETITIONS), 3);
    lm_table_destroy(tab);
    /* One conv alone, with the options' repetitions. */
    lm_entry_info info = entry(&f, f.n - 1);
    lm_timing t = {.size = sizeof t};
    ck_assert_lm_ok(lm_entry_time(&t, &info, LM_ACT_RELU, 2, 1, 3));
    ck_assert(t.median_ms > 0.0 && t.stdev_ms >= 0.0 && t.runs == 3);
    info.kernel = 0;
    ck_assert_lm_status(lm_entry_time(&t, &info, LM_ACT_RELU, 1, 0, 1),
                        LM_ERR_INVALID_ARG);
    lm_measure_options_destroy(o);
    fix_free(&f);
}
END_TEST

/* ---- proxy importance ------------------------------------------------- */

static lm_weights *tiny_weights(const lm_graph *g)
{
    lm_weights *w = NULL;
    ck_assert_lm_ok(lm_weights_create(&w));
    ck_assert_lm_ok(lm_weights_init_random(w, g, 7));
    return w;
}

START_TEST(proxy_scores)
{
    fix f;
    fix_init(&f);
    lm_weights *w = tiny_weights(f.g);
    lm_table *tab = NULL;
    ck_assert_lm_ok(lm_table_create_importance_for(&tab, f.e,
                                                   LM_METRIC_NORMALISED));
    ck_assert_lm_ok(lm_table_score_proxy(tab, f.g, w, f.e, NULL));
    ck_assert_lm_ok(lm_table_missing(NULL, NULL, 0, tab, f.e));
    /* The original network's own single-conv entries change nothing. */
    for (size_t c = 1; c <= lm_entries_conv_count(f.e); c++) {
        size_t id;
        double v, raw;
        ck_assert_lm_ok(lm_entries_find_original(&id, f.e, c));
        ck_assert_lm_ok(lm_table_get_entry(&v, &raw, tab, f.e, id));
        ck_assert_msg(raw == 0.0 && v == 1.0, "conv %zu: rse %g", c, raw);
    }
    /* Removing activations or convs moves the output. */
    size_t lossy = 0;
    for (size_t id = 0; id < f.n; id++) {
        lm_entry_info info = entry(&f, id);
        double v, raw;
        ck_assert_lm_ok(lm_table_get_entry(&v, &raw, tab, f.e, id));
        ck_assert(isfinite(raw) && raw >= 0.0 && v == exp(-raw));
        if (info.identity || info.end - info.st > 1) {
            ck_assert_msg(v < 1.0, "entry %zu scored %g", id, v);
            lossy++;
        }
    }
    ck_assert_uint_gt(lossy, 2);
    ck_assert_ptr_nonnull(strstr(lm_table_text(tab, LM_TABLE_FINETUNE),
                                 "data-free proxy (not the paper's"));
    ck_assert_int_eq(lm_table_int(tab, LM_TABLE_BATCH), 4);
    ck_assert_int_eq(lm_table_int(tab, LM_TABLE_HEIGHT), 8);
    lm_table_destroy(tab);
    lm_weights_destroy(w);
    fix_free(&f);
}
END_TEST

static int count_progress(size_t done, size_t total, size_t id, double el,
                          void *ud)
{
    (void)done, (void)total, (void)id, (void)el;
    (*(size_t *)ud)++;
    return 0;
}

START_TEST(proxy_range_seed_and_inputs)
{
    fix f;
    fix_init(&f);
    lm_weights *w = tiny_weights(f.g);
    lm_proxy_options *o = NULL;
    ck_assert_lm_ok(lm_proxy_options_create(&o));
    ck_assert_lm_ok(lm_proxy_options_set_batch(o, 2));
    ck_assert_lm_ok(lm_proxy_options_set_seed(o, 5));
    ck_assert_lm_ok(lm_proxy_options_set_range(o, 1, 4));
    size_t calls = 0;
    ck_assert_lm_ok(lm_proxy_options_set_progress(o, count_progress, &calls));
    lm_table *a = NULL, *b = NULL;
    ck_assert_lm_ok(lm_table_create_importance_for(&a, f.e,
                                                   LM_METRIC_NORMALISED));
    ck_assert_lm_ok(lm_table_score_proxy(a, f.g, w, f.e, o));
    ck_assert_uint_eq(lm_table_count(a), 3);
    ck_assert_uint_eq(calls, 3);
    ck_assert_lm_status(lm_table_get_entry(NULL, NULL, a, f.e, 0),
                        LM_ERR_NOT_FOUND);
    /* A caller's calibration batch must have the network's input size. */
    size_t n = 2 * 4 * 8 * 8;
    float *x = malloc(n * sizeof *x);
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)sin(0.37 * (double)i);
    ck_assert_lm_ok(lm_proxy_options_set_inputs(o, x, 3));
    ck_assert_lm_ok(lm_table_create_importance_for(&b, f.e,
                                                   LM_METRIC_NORMALISED));
    ck_assert_lm_status(lm_table_score_proxy(b, f.g, w, f.e, o),
                        LM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(lm_last_error(), "holds 3 floats"));
    ck_assert_lm_ok(lm_proxy_options_set_inputs(o, x, n));
    ck_assert_lm_ok(lm_table_score_proxy(b, f.g, w, f.e, o));
    ck_assert_ptr_nonnull(strstr(lm_table_text(b, LM_TABLE_FINETUNE),
                                 "caller's calibration batch"));
    /* A resumed table scored another way is refused. */
    ck_assert_lm_ok(lm_proxy_options_set_inputs(o, NULL, 0));
    ck_assert_lm_status(lm_table_score_proxy(b, f.g, w, f.e, o),
                        LM_ERR_MISMATCH);
    x[0] = NAN;
    ck_assert_lm_status(lm_proxy_options_set_inputs(o, x, n), LM_ERR_VALUE);
    free(x);
    /* Another metric is refused. */
    lm_table *acc = NULL;
    ck_assert_lm_ok(
        lm_table_create_importance_for(&acc, f.e, LM_METRIC_ACCURACY));
    ck_assert_lm_status(lm_table_score_proxy(acc, f.g, w, f.e, o),
                        LM_ERR_MISMATCH);
    lm_table_destroy(acc);
    lm_table_destroy(a);
    lm_table_destroy(b);
    lm_proxy_options_destroy(o);
    lm_weights_destroy(w);
    fix_free(&f);
}
END_TEST

START_TEST(proxy_input_size_override)
{
    fix f;
    fix_init(&f);
    lm_weights *w = tiny_weights(f.g);
    lm_proxy_options *o = NULL;
    ck_assert_lm_ok(lm_proxy_options_create(&o));
    ck_assert_lm_ok(lm_proxy_options_set_input_size(o, 6, 6));
    ck_assert_lm_ok(lm_proxy_options_set_range(o, 0, 3));
    lm_table *t = NULL;
    ck_assert_lm_ok(lm_table_create_importance_for(&t, f.e,
                                                   LM_METRIC_NORMALISED));
    ck_assert_lm_ok(lm_table_score_proxy(t, f.g, w, f.e, o));
    ck_assert_uint_eq(lm_table_count(t), 3);
    ck_assert_int_eq(lm_table_int(t, LM_TABLE_HEIGHT), 6);
    lm_table_destroy(t);
    lm_proxy_options_destroy(o);
    lm_weights_destroy(w);
    fix_free(&f);
}
END_TEST

static Suite *measure_suite(void)
{
    Suite *s = suite_create("measure");
    TCase *lat = tcase_create("latency");
    tcase_add_test(lat, timer_values_land_in_table);
    tcase_add_test(lat, resume_skips_present_entries);
    tcase_add_test(lat, autosave_loads_after_every_entry);
    tcase_add_test(lat, cancel_keeps_saved_entries);
    tcase_add_test(lat, range_and_size_override);
    tcase_add_test(lat, errors_name_graph_and_entry);
    tcase_add_test(lat, builtin_timer_and_provenance);
    tcase_add_test(lat, passes_are_shuffled_and_robust);
    tcase_add_test(lat, resume_mid_pass);
    tcase_add_test(lat, thread_batch_size_mismatches);
    tcase_add_test(lat, remeasure_lifts_the_winners_curse);
    suite_add_tcase(s, lat);
    TCase *px = tcase_create("proxy");
    tcase_set_timeout(px, 60);
    tcase_add_test(px, proxy_scores);
    tcase_add_test(px, proxy_range_seed_and_inputs);
    tcase_add_test(px, proxy_input_size_override);
    suite_add_tcase(s, px);
    return s;
}

int main(void)
{
    return lm_test_run(measure_suite());
}
