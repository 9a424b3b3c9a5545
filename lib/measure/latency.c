/* lm_table_measure_latency: time every entry the table lacks (the loop, with
 * its autosave, is lm_mrun_fill). */
#include <string.h>

#include "core/error.h"
#include "measure/measure_internal.h"
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
    scaled.in_height = lm_measure_scale(info->in_height, r->height, r->graph_h);
    scaled.in_width = lm_measure_scale(info->in_width, r->width, r->graph_w);
    const lm_measure_options *o = r->o;
    if (o->timer)
        return call_timer(o, &scaled, ms, sd);
    lm_act act = lm_measure_end_act(r->graph, info->st, info->end);
    lm_timing t = {.size = sizeof t};
    lm_status st = lm_entry_time(&t, &scaled, act, o->batch, o->warmup,
                                 o->reps);
    *ms = t.median_ms;
    *sd = t.stdev_ms;
    return st;
}

static lm_status store(void *ctx, const lm_entry_info *info)
{
    lat_run *r = ctx;
    double ms, sd;
    lm_status st = time_entry(r, info, &ms, &sd);
    return st != LM_OK ? st
                       : lm_table_set_latency_entry(r->table, r->entries,
                                                    info->id, ms, sd);
}

static int has_entry(const void *ctx, const lm_entry_info *i)
{
    const lat_run *r = ctx;
    lm_entry_key key = lm_entry_key_of(i);
    return lm_table_has(r->table, &key);
}

static lm_status save(const void *ctx, const char *path)
{
    return lm_table_save(((const lat_run *)ctx)->table, path);
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
    lm_mfill fill = {.what = "lm_table_measure_latency", .entries = entries,
                     .ctx = &r, .has = has_entry, .store = store,
                     .save = save};
    return st == LM_OK ? lm_mrun_fill(&opts->run, r.lo, r.hi, &fill) : st;
}
