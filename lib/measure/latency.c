/* lm_table_measure_latency: time every entry the table lacks (the loop, with
 * its autosave, is lm_mrun_fill). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/stats.h"
#include "engine/blas_threads.h"
#include "measure/measure_internal.h"
#include "tables/table.h"
#include "graph/graph_query.h"
#include "entries/entry_key.h"

/* Everything one run needs, resolved once from the arguments. */
typedef struct lat_run {
    lm_table *table;
    const lm_graph *graph;
    const lm_entries *entries;
    const lm_measure_options *o;
    int64_t graph_h, graph_w, height, width;
    size_t lo, hi;
} lat_run;

static lm_status check_args(lm_table *table, const lm_graph *graph,
                            const lm_entries *entries)
{
    if (!table || !graph || !entries)
        return lm_err(LM_ERR_INVALID_ARG, "lm_table_measure_latency: NULL "
                      "table, graph or entries");
    if (lm_table_get_kind(table) != LM_TABLE_LATENCY)
        return lm_err(LM_ERR_INVALID_ARG, "lm_table_measure_latency: the "
                      "table is an importance table");
    return lm_measure_check_owner("lm_table_measure_latency", graph, entries,
                                  lm_table_fingerprint(table));
}

static lm_status same_text(const lm_table *t, lm_table_text_field field,
                           const char *what, const char *want)
{
    const char *have = lm_table_text(t, field);
    if (have[0] == '\0' || strcmp(have, want) == 0)
        return LM_OK;
    return lm_err(LM_ERR_MISMATCH,
                  "the table was measured with %s \"%s\", this run uses "
                  "\"%s\"", what, have, want);
}

/* A resumed table must describe the same measurement; then the run's
 * provenance is written (before any entry, so autosaves carry it). */
static lm_status provenance(lat_run *r)
{
    lm_table *t = r->table;
    const lm_measure_options *o = r->o;
    int builtin = o->timer == NULL;
    char device[384];
    lm_measure_device(device, sizeof device);
    lm_status st = LM_OK;
    if (lm_table_count(t) > 0) {
        st = lm_measure_same_int("batch", lm_table_int(t, LM_TABLE_BATCH),
                                 (int64_t)o->batch);
        if (st == LM_OK)
            st = lm_measure_same_int("input height",
                                     lm_table_int(t, LM_TABLE_HEIGHT),
                                     r->height);
        if (st == LM_OK)
            st = lm_measure_same_int("input width",
                                     lm_table_int(t, LM_TABLE_WIDTH),
                                     r->width);
        if (st == LM_OK)
            st = lm_measure_same_int("threads",
                                     lm_table_int(t, LM_TABLE_THREADS),
                                     (int64_t)o->threads);
        if (st == LM_OK && builtin)
            st = same_text(t, LM_TABLE_TIMER, "timer", "lm_engine");
        if (st == LM_OK && builtin)
            st = same_text(t, LM_TABLE_DEVICE, "device", device);
        if (st != LM_OK)
            return lm_err_prefix(st, "lm_table_measure_latency: ");
    }
    st = lm_table_set_int(t, LM_TABLE_BATCH, (int64_t)o->batch);
    if (st == LM_OK)
        st = lm_table_set_int(t, LM_TABLE_HEIGHT, r->height);
    if (st == LM_OK)
        st = lm_table_set_int(t, LM_TABLE_WIDTH, r->width);
    if (st == LM_OK)
        st = lm_table_set_int(t, LM_TABLE_THREADS, (int64_t)o->threads);
    if (st == LM_OK)
        st = lm_table_set_int(t, LM_TABLE_PASSES, (int64_t)o->passes);
    if (st != LM_OK || !builtin)
        return st;
    st = lm_table_set_text(t, LM_TABLE_DEVICE, device);
    if (st == LM_OK)
        st = lm_table_set_text(t, LM_TABLE_TIMER, "lm_engine");
    if (st == LM_OK)
        st = lm_table_set_text(t, LM_TABLE_DTYPE, "float32");
    if (st == LM_OK)
        st = lm_table_set_int(t, LM_TABLE_REPETITIONS, (int64_t)o->reps);
    return st;
}

/* A caller's timer may fail without a message: give it one, rather than
 * prefixing whatever an earlier call left behind. */
static lm_status call_timer(const lm_measure_options *o,
                            const lm_entry_info *e, double *ms, double *sd)
{
    lm_clear_error();
    lm_status st = o->timer(ms, sd, e, o->batch, o->timer_data);
    if (st != LM_OK && lm_last_error()[0] == '\0')
        return lm_err(st, "the caller's timer returned %d (%s)", (int)st,
                      lm_status_str(st));
    return st;
}

static lm_status time_entry(const lat_run *r, const lm_entry_info *info,
                            double *ms, double *sd)
{
    *ms = *sd = 0.0;
    if (info->identity)
        return LM_OK; /* identity costs nothing (docs/method.md section 5) */
    lm_entry_info scaled = *info;
    lm_measure_entry_size(r->graph, info, r->height, r->width, r->graph_h,
                          r->graph_w, &scaled.in_height, &scaled.in_width);
    const lm_measure_options *o = r->o;
    if (o->timer)
        return call_timer(o, &scaled, ms, sd);
    lm_act act = lm_measure_end_act(r->graph, info->st, info->end);
    lm_conv_info end = {.size = sizeof end};
    lm_status st = lm_graph_conv_info(&end, r->graph, info->end);
    if (st != LM_OK)
        return st;
    lm_timing t = {.size = sizeof t};
    st = lm_measure_entry_time(&t, &scaled, act,
                               end.has_groupnorm ? end.groupnorm_groups : 0,
                               end.groupnorm_eps, o->batch, o->warmup,
                               o->reps);
    *ms = t.median_ms;
    *sd = t.stdev_ms;
    return st;
}

/* ---- passes ------------------------------------------------------------ */

static void shuffle(size_t *ids, size_t n, uint64_t seed, size_t pass)
{
    uint64_t s = seed ^ (0xD1B54A32D192ED03ULL * (uint64_t)(pass + 1));
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(lm_splitmix64(&s) % i);
        size_t t = ids[i - 1];
        ids[i - 1] = ids[j];
        ids[j] = t;
    }
}

/* The record of entry `info`, or NULL. */
static lm_trec *record_of(const lat_run *r, const lm_entry_info *info)
{
    lm_tkey key = lm_tkey_make(info->st, info->end, info->kernel,
                               info->stride, info->depthwise);
    long at = lm_table_find(r->table, &key);
    return at < 0 ? NULL : &r->table->recs[at];
}

/* Does pass k (1-based) time this entry? Passes 1..P time every entry
 * that has fewer than k medians; later passes only those still beyond
 * the noise limit after k - 1. A value set directly, or loaded from a
 * file without passes, is complete; identity entries are never timed. */
static int needs_pass(const lat_run *r, const lm_entry_info *info, size_t k)
{
    if (info->identity)
        return 0;
    const lm_trec *rec = record_of(r, info);
    if (!rec)
        return 1;
    if (rec->n_passes == 0 || rec->n_passes >= k)
        return 0;
    if (k <= r->o->passes)
        return 1;
    return rec->n_passes == k - 1 &&
           lm_trec_spread(rec) > r->o->noise_limit;
}

static lm_status store_identity(lat_run *r, const lm_entry_info *info)
{
    if (record_of(r, info))
        return LM_OK;
    return lm_table_set_latency_entry(r->table, r->entries, info->id, 0.0,
                                      0.0);
}

/* Time entry `info` once more and keep the pass median. */
static lm_status time_pass(lat_run *r, const lm_entry_info *info)
{
    double ms, sd;
    lm_status st = time_entry(r, info, &ms, &sd);
    if (st != LM_OK)
        return st;
    lm_trec *rec = record_of(r, info);
    if (!rec) {
        st = lm_table_set_latency_entry(r->table, r->entries, info->id, ms,
                                        sd);
        if (st == LM_OK)
            st = lm_table_set_passes(r->table,
                                     (size_t)(record_of(r, info) -
                                              r->table->recs),
                                     &ms, 1, 0);
        return st;
    }
    return lm_table_add_pass(r->table, (size_t)(rec - r->table->recs), ms, sd);
}

static lm_status entry_error(lm_status st, const lm_entry_info *info,
                             size_t pass)
{
    return lm_err_prefix(st, "lm_table_measure_latency: pass %zu, entry %zu "
                         "(st %zu, end %zu, kernel %lld, stride %lld, dw "
                         "%d): ", pass, info->id, info->st, info->end,
                         (long long)info->kernel, (long long)info->stride,
                         (int)info->depthwise);
}

/* One pass: the entries that need it, in this pass's shuffled order,
 * each saved as soon as it is timed. */
static lm_status run_pass(lat_run *r, size_t k, size_t *ids, size_t *done,
                          size_t *total, double t0)
{
    const lm_mrun *run = &r->o->run;
    lm_entry_info info = {.size = sizeof info};
    size_t n = 0;
    lm_status st = LM_OK;
    for (size_t id = r->lo; id < r->hi && st == LM_OK; id++)
        if ((st = lm_entries_entry_info(&info, r->entries, id)) == LM_OK &&
            needs_pass(r, &info, k))
            ids[n++] = id;
    if (k > r->o->passes)
        *total += n; /* re-measuring passes are not known in advance */
    shuffle(ids, n, r->o->seed, k);
    for (size_t i = 0; i < n && st == LM_OK; i++) {
        st = lm_entries_entry_info(&info, r->entries, ids[i]);
        if (st == LM_OK && (st = time_pass(r, &info)) != LM_OK)
            return entry_error(st, &info, k);
        if (st == LM_OK && run->save_path)
            st = lm_table_save(r->table, run->save_path);
        ++*done;
        if (st == LM_OK && run->progress &&
            run->progress(*done, *total, ids[i], lm_measure_now() - t0,
                          run->progress_data))
            st = lm_err(LM_ERR_CANCELLED, "lm_table_measure_latency: "
                        "cancelled in pass %zu after entry %zu (%zu of %zu "
                        "timings done)", k, ids[i], *done, *total);
    }
    return st;
}

/* Entries still beyond the noise limit after every allowed pass. */
static void mark_noisy(lat_run *r)
{
    lm_entry_info info = {.size = sizeof info};
    for (size_t id = r->lo; id < r->hi; id++) {
        if (lm_entries_entry_info(&info, r->entries, id) != LM_OK)
            continue;
        lm_trec *rec = record_of(r, &info);
        if (rec && rec->n_passes >= r->o->passes &&
            lm_trec_spread(rec) > r->o->noise_limit)
            rec->noisy = 1;
    }
}

/* Timings the ordinary passes still owe: progress counts from them. */
static void count_owed(const lat_run *r, size_t *done, size_t *total)
{
    lm_entry_info info = {.size = sizeof info};
    *done = *total = 0;
    for (size_t id = r->lo; id < r->hi; id++) {
        if (lm_entries_entry_info(&info, r->entries, id) != LM_OK ||
            info.identity)
            continue;
        const lm_trec *rec = record_of(r, &info);
        size_t have = !rec ? 0 : rec->n_passes ? rec->n_passes : r->o->passes;
        have = have < r->o->passes ? have : r->o->passes;
        *total += r->o->passes;
        *done += have;
    }
}

static lm_status measure_passes(lat_run *r)
{
    size_t n = r->hi - r->lo, done, total;
    size_t *ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids)
        return lm_err_nomem();
    lm_entry_info info = {.size = sizeof info};
    lm_status st = LM_OK;
    for (size_t id = r->lo; id < r->hi && st == LM_OK; id++)
        if ((st = lm_entries_entry_info(&info, r->entries, id)) == LM_OK &&
            info.identity)
            st = store_identity(r, &info);
    count_owed(r, &done, &total);
    double t0 = lm_measure_now();
    size_t last = r->o->passes + r->o->extra_passes;
    for (size_t k = 1; k <= last && st == LM_OK; k++)
        st = run_pass(r, k, ids, &done, &total, t0);
    free(ids);
    if (st == LM_OK)
        mark_noisy(r);
    return st;
}

lm_status lm_table_measure_latency(lm_table *table, const lm_graph *graph,
                                   const lm_entries *entries,
                                   const lm_measure_options *opts)
{
    lm_measure_options defaults;
    lm_status st = check_args(table, graph, entries);
    if (st != LM_OK)
        return st;
    if (!opts) {
        lm_measure_options_init(&defaults);
        opts = &defaults; /* the defaults own no allocation */
    }
    lat_run r = {.table = table, .graph = graph, .entries = entries, .o = opts};
    int64_t c;
    lm_graph_input_chw(graph, &c, &r.graph_h, &r.graph_w);
    r.height = opts->height ? opts->height : r.graph_h;
    r.width = opts->width ? opts->width : r.graph_w;
    st = lm_mrun_bounds(&opts->run, lm_entries_count(entries),
                        "lm_table_measure_latency", &r.lo, &r.hi);
    if (st == LM_OK)
        st = provenance(&r);
    if (st != LM_OK)
        return st;
    /* The measurement's own thread count, the caller's restored after. */
    size_t caller_threads = lm_blas_threads();
    lm_blas_set_threads(opts->threads);
    st = measure_passes(&r);
    if (st == LM_OK && opts->network && !opts->timer)
        st = lm_measure_network(table, graph, entries, opts, r.height,
                                r.width);
    lm_blas_set_threads(caller_threads);
    if (st == LM_OK && opts->run.save_path)
        st = lm_table_save(table, opts->run.save_path);
    return st;
}

lm_status lm_table_remeasure_entries(double *fresh_ms, lm_table *table,
                                     const lm_graph *graph,
                                     const lm_entries *entries,
                                     const size_t *ids, size_t n,
                                     const lm_measure_options *opts)
{
    lm_measure_options defaults;
    lm_status st = check_args(table, graph, entries);
    if (st != LM_OK)
        return st;
    if (n && (!ids || !fresh_ms))
        return lm_err(LM_ERR_INVALID_ARG, "lm_table_remeasure_entries: NULL "
                      "ids or fresh_ms");
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= lm_entries_count(entries))
            return lm_err(LM_ERR_INVALID_ARG, "lm_table_remeasure_entries: "
                          "entry %zu out of range (%zu entries)", ids[i],
                          lm_entries_count(entries));
    if (!opts) {
        lm_measure_options_init(&defaults);
        opts = &defaults;
    }
    lat_run r = {.table = table, .graph = graph, .entries = entries, .o = opts};
    int64_t c;
    lm_graph_input_chw(graph, &c, &r.graph_h, &r.graph_w);
    r.height = opts->height ? opts->height : r.graph_h;
    r.width = opts->width ? opts->width : r.graph_w;
    if ((st = provenance(&r)) != LM_OK)
        return st;
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    if (!order)
        return lm_err_nomem();
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    /* A pass of its own: neither an ordinary pass's order nor another. */
    shuffle(order, n, opts->seed ^ 0x5EEDF00DULL, (size_t)-1);
    size_t caller_threads = lm_blas_threads();
    lm_blas_set_threads(opts->threads);
    lm_entry_info info = {.size = sizeof info};
    for (size_t k = 0; k < n && st == LM_OK; k++) {
        size_t i = order[k];
        fresh_ms[i] = 0.0;
        st = lm_entries_entry_info(&info, entries, ids[i]);
        if (st != LM_OK || info.identity)
            continue;
        double ms, sd;
        if ((st = time_entry(&r, &info, &ms, &sd)) != LM_OK) {
            st = entry_error(st, &info, 0);
            break;
        }
        lm_trec *rec = record_of(&r, &info);
        st = rec ? lm_table_add_pass(table, (size_t)(rec - table->recs), ms,
                                     sd)
                 : lm_table_set_latency_entry(table, entries, ids[i], ms,
                                              sd);
        fresh_ms[i] = ms;
    }
    lm_blas_set_threads(caller_threads);
    free(order);
    if (st == LM_OK && opts->run.save_path)
        st = lm_table_save(table, opts->run.save_path);
    return st;
}
