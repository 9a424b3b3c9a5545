/* lm_table_score_proxy: a data-free stand-in for the importance table. Each
 * entry is scored by how far the network with only that entry applied
 * (no fine-tune) moves the original network's output on a calibration
 * batch: rse = ||y_entry - y_orig||^2 / ||y_orig||^2, importance exp(-rse).
 * Cheap enough to run on a laptop, so the solver can be exercised end to
 * end; it is not the paper's fine-tuned accuracy and says so. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/stats.h"
#include "layermerge/engine.h"
#include "layermerge/plan.h"
#include "measure/measure_internal.h"
#include "graph/graph_query.h"
#include "entries/entry_key.h"

typedef struct proxy_run {
    lm_table *table;
    const lm_graph *graph;
    const lm_entries *entries;
    const lm_proxy_options *o;
    lm_graph *rgraph;       /* the graph at the run's input size */
    lm_entries *rentries;   /* its entries when resized, else NULL */
    lm_engine *engine;
    float *input, *y0, *y;
    size_t n_in, n_out;
    double norm0;
    size_t lo, hi;
    int64_t height, width;
} proxy_run;

static lm_status check_args(lm_table *table, const lm_graph *graph,
                            const lm_weights *weights,
                            const lm_entries *entries)
{
    if (!table || !graph || !weights || !entries)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_table_score_proxy: NULL table, graph, weights or "
                      "entries");
    if (lm_table_get_kind(table) != LM_TABLE_IMPORTANCE)
        return lm_err(LM_ERR_INVALID_ARG, "lm_table_score_proxy: the table "
                      "is a latency table");
    lm_status st = lm_measure_check_owner(
        "lm_table_score_proxy", graph, entries,
        lm_table_fingerprint(table));
    if (st != LM_OK)
        return st;
    if (lm_table_metric(table) != LM_METRIC_NORMALISED)
        return lm_err(LM_ERR_MISMATCH,
                      "lm_table_score_proxy: the table's metric is %s; the "
                      "proxy stores its own normalised values and needs "
                      "metric normalised",
                      lm_importance_metric_name(lm_table_metric(table)));
    return LM_OK;
}

/* N(0, 1) by Box-Muller; u1 in (0, 1] so the log is finite. */
static void fill_normal(float *x, size_t n, uint64_t seed)
{
    uint64_t s = seed;
    const double two_pi = 6.283185307179586;
    for (size_t i = 0; i < n; i += 2) {
        double u1 = ((double)(lm_splitmix64(&s) >> 11) + 1.0) * 0x1.0p-53;
        double u2 = (double)(lm_splitmix64(&s) >> 11) * 0x1.0p-53;
        double r = sqrt(-2.0 * log(u1));
        x[i] = (float)(r * cos(two_pi * u2));
        if (i + 1 < n)
            x[i + 1] = (float)(r * sin(two_pi * u2));
    }
}

/* A denoiser's calibration timesteps: the caller's, or integers drawn
 * uniformly from 0..999 (a DDPM's training range) with the seed. */
static lm_status set_timesteps(proxy_run *r)
{
    lm_time_embedding_info te = {.size = sizeof te};
    lm_status st = lm_graph_time_embedding(&te, r->rgraph);
    if (st != LM_OK || !te.has_time_embedding)
        return st;
    size_t n = r->o->batch;
    if (r->o->timesteps && r->o->n_timesteps != n)
        return lm_err(LM_ERR_INVALID_ARG, "lm_table_score_proxy: %zu "
                      "calibration timesteps for a batch of %zu",
                      r->o->n_timesteps, n);
    if (r->o->timesteps)
        return lm_engine_set_timesteps(r->engine, r->o->timesteps, n);
    float *t = malloc(n * sizeof *t);
    if (!t)
        return lm_err_nomem();
    uint64_t s = r->o->seed ^ UINT64_C(0x74696d6573746570); /* "timestep" */
    for (size_t i = 0; i < n; i++)
        t[i] = (float)(lm_splitmix64(&s) % 1000);
    st = lm_engine_set_timesteps(r->engine, t, n);
    free(t);
    return st;
}

static void describe(const proxy_run *r, char *buf, size_t cap)
{
    char inputs[128];
    lm_time_embedding_info te = {.size = sizeof te};
    int temb = lm_graph_time_embedding(&te, r->graph) == LM_OK &&
               te.has_time_embedding;
    if (r->o->inputs)
        snprintf(inputs, sizeof inputs, "the caller's calibration batch%s",
                 temb && r->o->timesteps ? " and timesteps"
                 : temb                  ? ", timesteps uniform in 0..999"
                                         : "");
    else
        snprintf(inputs, sizeof inputs, "N(0,1) inputs%s, seed %llu",
                 !temb                ? ""
                 : r->o->timesteps    ? " and the caller's timesteps"
                                      : " and timesteps uniform in 0..999",
                 (unsigned long long)r->o->seed);
    snprintf(buf, cap,
             "data-free proxy (not the paper's fine-tuned accuracy): "
             "exp(-||y_entry - y_orig||^2 / ||y_orig||^2), no fine-tune, %s",
             inputs);
}

static lm_status provenance(proxy_run *r)
{
    lm_table *t = r->table;
    char text[256];
    describe(r, text, sizeof text);
    lm_status st = LM_OK;
    if (lm_table_count(t) > 0) {
        const char *have = lm_table_text(t, LM_TABLE_FINETUNE);
        if (have[0] && strcmp(have, text) != 0)
            st = lm_err(LM_ERR_MISMATCH,
                        "the table was scored as \"%s\", this run is \"%s\"",
                        have, text);
        if (st == LM_OK)
            st = lm_measure_same_int("batch",
                                     lm_table_int(t, LM_TABLE_BATCH),
                                     (int64_t)r->o->batch);
        if (st == LM_OK)
            st = lm_measure_same_int("input height",
                                     lm_table_int(t, LM_TABLE_HEIGHT),
                                     r->height);
        if (st == LM_OK)
            st = lm_measure_same_int("input width",
                                     lm_table_int(t, LM_TABLE_WIDTH),
                                     r->width);
        if (st != LM_OK)
            return lm_err_prefix(st, "lm_table_score_proxy: ");
    }
    st = lm_table_set_text(t, LM_TABLE_FINETUNE, text);
    if (st == LM_OK)
        st = lm_table_set_text(t, LM_TABLE_DTYPE, "float32");
    if (st == LM_OK)
        st = lm_table_set_int(t, LM_TABLE_BATCH, (int64_t)r->o->batch);
    if (st == LM_OK)
        st = lm_table_set_int(t, LM_TABLE_HEIGHT, r->height);
    if (st == LM_OK)
        st = lm_table_set_int(t, LM_TABLE_WIDTH, r->width);
    return st;
}

/* The engine at the run's input size, the calibration batch and the
 * original network's output with its squared norm. */
static lm_status prepare(proxy_run *r, const lm_weights *weights)
{
    lm_status st = lm_measure_resized_graph(&r->rgraph, r->graph,
                                            r->o->height, r->o->width);
    if (st != LM_OK)
        return lm_err_prefix(st, "lm_table_score_proxy: ");
    int64_t c;
    lm_graph_input_chw(r->rgraph, &c, &r->height, &r->width);
    /* Plans carry their graph's fingerprint, which includes the input
     * size: a resized run plans against the resized graph's own entries,
     * whose ids are the same (the enumeration ignores sizes). */
    if (r->o->height > 0 &&
        (st = lm_entries_create(&r->rentries, r->rgraph)) != LM_OK)
        return st;
    if (r->rentries &&
        lm_entries_count(r->rentries) != lm_entries_count(r->entries))
        return lm_err(LM_ERR_INTERNAL,
                      "lm_table_score_proxy: the resized graph has %zu "
                      "entries, the graph %zu",
                      lm_entries_count(r->rentries),
                      lm_entries_count(r->entries));
    st = lm_engine_create(&r->engine, r->rgraph, weights, r->o->batch);
    if (st != LM_OK)
        return st;
    r->n_in = lm_engine_input_size(r->engine);
    r->n_out = lm_engine_output_size(r->engine);
    if (r->o->inputs && r->o->n_inputs != r->n_in)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_table_score_proxy: the calibration batch holds %zu "
                      "floats, the network at batch %zu and %lldx%lld needs "
                      "%zu", r->o->n_inputs, r->o->batch,
                      (long long)r->height, (long long)r->width, r->n_in);
    r->input = malloc(r->n_in * sizeof *r->input);
    r->y0 = malloc(r->n_out * sizeof *r->y0);
    r->y = malloc(r->n_out * sizeof *r->y);
    if (!r->input || !r->y0 || !r->y)
        return lm_err_nomem();
    if (r->o->inputs)
        memcpy(r->input, r->o->inputs, r->n_in * sizeof *r->input);
    else
        fill_normal(r->input, r->n_in, r->o->seed);
    if ((st = set_timesteps(r)) != LM_OK)
        return lm_err_prefix(st, "lm_table_score_proxy: ");
    st = lm_engine_run(r->y0, r->n_out, r->engine, r->input, r->n_in);
    if (st != LM_OK)
        return st;
    r->norm0 = 0.0;
    for (size_t i = 0; i < r->n_out; i++)
        r->norm0 += (double)r->y0[i] * r->y0[i];
    if (!(r->norm0 > 0.0) || !isfinite(r->norm0))
        return lm_err(LM_ERR_VALUE,
                      "lm_table_score_proxy: the original network's output "
                      "has squared norm %g; no relative error can be taken",
                      r->norm0);
    return LM_OK;
}

static lm_status score(proxy_run *r, size_t id, double *rse)
{
    lm_plan *plan = NULL;
    const lm_entries *pe = r->rentries ? r->rentries : r->entries;
    lm_status st = lm_plan_create_for_entry(&plan, r->rgraph, pe, id);
    if (st == LM_OK)
        st = lm_engine_configure_plan(r->engine, plan);
    lm_plan_destroy(plan);
    if (st != LM_OK)
        return st;
    if (lm_engine_output_size(r->engine) != r->n_out)
        return lm_err(LM_ERR_MISMATCH,
                      "the network with the entry applied gives %zu outputs, "
                      "the original %zu", lm_engine_output_size(r->engine),
                      r->n_out);
    st = lm_engine_run(r->y, r->n_out, r->engine, r->input, r->n_in);
    if (st != LM_OK)
        return st;
    double err = 0.0;
    for (size_t i = 0; i < r->n_out; i++) {
        double d = (double)r->y[i] - r->y0[i];
        err += d * d;
    }
    *rse = err / r->norm0;
    return LM_OK;
}

static lm_status store(void *ctx, const lm_entry_info *info)
{
    proxy_run *r = ctx;
    double rse = 0.0;
    lm_status st = score(r, info->id, &rse);
    return st != LM_OK ? st
                       : lm_table_set_importance_entry_normalised(r->table,
                                                                  r->entries,
                                                                  info->id,
                                                                  rse,
                                                                  exp(-rse));
}

static int has_entry(const void *ctx, const lm_entry_info *i)
{
    const proxy_run *r = ctx;
    lm_entry_key key = lm_entry_key_of(i);
    return lm_table_has(r->table, &key);
}

static lm_status save(const void *ctx, const char *path)
{
    return lm_table_save(((const proxy_run *)ctx)->table, path);
}

lm_status lm_table_score_proxy(lm_table *table, const lm_graph *graph,
                               const lm_weights *weights,
                               const lm_entries *entries,
                               const lm_proxy_options *opts)
{
    lm_proxy_options defaults;
    lm_status st = check_args(table, graph, weights, entries);
    if (st != LM_OK)
        return st;
    if (!opts) {
        lm_proxy_options_init(&defaults);
        opts = &defaults; /* the defaults own no allocation */
    }
    proxy_run r = {.table = table, .graph = graph, .entries = entries,
                   .o = opts};
    st = lm_mrun_bounds(&opts->run, lm_entries_count(entries),
                        "lm_table_score_proxy", &r.lo, &r.hi);
    if (st == LM_OK)
        st = prepare(&r, weights);
    if (st == LM_OK)
        st = provenance(&r);
    lm_mfill fill = {.what = "lm_table_score_proxy", .entries = entries,
                     .ctx = &r, .has = has_entry, .store = store,
                     .save = save};
    if (st == LM_OK)
        st = lm_mrun_fill(&opts->run, r.lo, r.hi, &fill);
    lm_engine_destroy(r.engine);
    lm_entries_destroy(r.rentries);
    lm_graph_destroy(r.rgraph);
    free(r.input);
    free(r.y0);
    free(r.y);
    return st;
}
