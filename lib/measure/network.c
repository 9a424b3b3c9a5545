/* The whole-network part of a latency table (docs/measure.md, "The
 * whole-network model"): the original network profiled step by step at
 * the table's shape, batch and threads. What lies outside the trunk convs
 * (stem, head, skip additions and projections, fixed layers at positions)
 * is the fixed cost no entry carries; the trunk convs timed inside the
 * network, against their entries timed alone, give each stage's
 * calibration ratio. */
#include <stdlib.h>

#include "core/error.h"
#include "graph/graph_query.h"
#include "measure/measure_internal.h"
#include "tables/table.h"

/* Sum, over trunk convs st+1..end, of the original entries' latencies;
 * 0 with *complete = 0 when one is missing. */
static double alone_sum(const lm_table *t, const lm_entries *e, size_t st,
                        size_t end, int *complete)
{
    double sum = 0.0;
    for (size_t c = st + 1; c <= end; c++) {
        size_t id;
        double ms;
        if (lm_entries_find_original(&id, e, c) != LM_OK ||
            lm_table_get_entry(&ms, NULL, t, e, id) != LM_OK) {
            *complete = 0;
            return 0.0;
        }
        sum += ms;
    }
    return sum;
}

/* Stages are the runs between consecutive barriers (no entry crosses
 * one), so a stage's ratio applies to every entry inside it. */
static lm_status calibrate(lm_table *t, const lm_graph *g,
                           const lm_entries *e, const lm_profile *prof)
{
    size_t n = lm_graph_conv_count(g), count = 0;
    lm_tstage *stages = calloc(n ? n : 1, sizeof *stages);
    if (!stages)
        return lm_err_nomem();
    int complete = 1;
    size_t st = 0;
    for (size_t p = 1; p <= n && complete; p++) {
        if (p < n && !lm_graph_position_barrier(g, p))
            continue;
        lm_tstage *s = &stages[count++];
        s->st = st;
        s->end = p;
        s->alone_ms = alone_sum(t, e, st, p, &complete);
        for (size_t c = st + 1; c <= p; c++)
            s->in_network_ms += prof->conv_ms[c - 1];
        st = p;
    }
    lm_status rc = lm_table_set_stages(t, stages, complete ? count : 0);
    free(stages);
    return rc;
}

lm_status lm_measure_network(lm_table *table, const lm_graph *graph,
                             const lm_entries *entries,
                             const lm_measure_options *o, int64_t height,
                             int64_t width)
{
    lm_graph *g = NULL;
    lm_weights *w = NULL;
    lm_engine *engine = NULL;
    lm_profile prof = {.size = sizeof prof};
    lm_status st = lm_measure_resized_graph(&g, graph, height, width);
    if (st == LM_OK)
        st = lm_weights_create(&w);
    if (st == LM_OK)
        st = lm_weights_init_random(w, g, 1);
    if (st == LM_OK)
        st = lm_engine_create(&engine, g, w, o->batch);
    if (st == LM_OK)
        st = lm_engine_set_threads(engine, o->threads);
    if (st == LM_OK)
        st = lm_engine_profile(&prof, engine, o->warmup, o->reps);
    if (st == LM_OK) {
        table->fixed_ms = prof.outside_ms > 0.0 ? prof.outside_ms : 0.0;
        table->fixed_stdev = prof.outside_stdev_ms;
        table->measured_ms = prof.total_ms;
        st = calibrate(table, g, entries, &prof);
    }
    if (st != LM_OK)
        st = lm_err_prefix(st, "lm_table_measure_latency: timing the whole "
                           "network: ");
    lm_engine_destroy(engine);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
    return st;
}
