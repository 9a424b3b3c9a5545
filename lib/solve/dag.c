/* The budgeted longest-path DP (docs/method.md section 6) over contiguous
 * tables: one row of values, used units and argmax edges per node. */
#include "solve/dag.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "solve/discretise.h"

void lm_dag_min_units(size_t n_nodes, const uint8_t *is_source,
                      const lm_dag_edge *edges, size_t n_edges,
                      int64_t *min_units, int64_t *max_units)
{
    for (size_t v = 0; v < n_nodes; v++) {
        min_units[v] = is_source[v] ? 0 : LM_UNITS_HUGE;
        if (max_units)
            max_units[v] = is_source[v] ? 0 : -1;
    }
    /* Edges may come in any order: relax by target node. */
    for (size_t v = 0; v < n_nodes; v++) {
        for (size_t e = 0; e < n_edges; e++) {
            const lm_dag_edge *ed = &edges[e];
            if (ed->to != v || min_units[ed->from] >= LM_UNITS_HUGE)
                continue;
            int64_t lo = lm_units_add(min_units[ed->from], ed->g);
            if (lo < min_units[v])
                min_units[v] = lo;
            if (max_units && ed->g < LM_UNITS_HUGE) {
                int64_t hi = lm_units_add(max_units[ed->from], ed->g);
                if (hi > max_units[v])
                    max_units[v] = hi;
            }
        }
    }
}

static lm_status alloc_tables(lm_dag *dag)
{
    size_t cells = dag->n_nodes * dag->width;
    if (dag->width && cells / dag->width != dag->n_nodes)
        return lm_err(LM_ERR_NOMEM, "DP table of %zu nodes x %zu units "
                      "overflows", dag->n_nodes, dag->width);
    dag->val = malloc(cells * sizeof *dag->val);
    dag->used = malloc(cells * sizeof *dag->used);
    dag->arg = malloc(cells * sizeof *dag->arg);
    if (!dag->val || !dag->used || !dag->arg)
        return lm_err(LM_ERR_NOMEM, "DP table of %zu nodes x %zu units "
                      "(%zu MiB) does not fit in memory", dag->n_nodes,
                      dag->width, cells * 16 >> 20);
    return LM_OK;
}

static void init_row(lm_dag *dag, size_t v, int source)
{
    double *val = dag->val + v * dag->width;
    int32_t *used = dag->used + v * dag->width;
    int32_t *arg = dag->arg + v * dag->width;
    for (size_t t = 0; t < dag->width; t++) {
        val[t] = source ? 0.0 : -INFINITY;
        used[t] = source ? 0 : INT32_MAX;
        arg[t] = -1;
    }
}

/* Relax one edge over every budget: the hot loop of all solvers. Starting
 * at min_from + g skips the cells where the source row is unreachable. */
static void relax(lm_dag *dag, int32_t e, int32_t g, int32_t t0)
{
    const lm_dag_edge *ed = &dag->edges[e];
    const double *vs = dag->val + (size_t)ed->from * dag->width;
    const int32_t *us = dag->used + (size_t)ed->from * dag->width;
    double *ve = dag->val + (size_t)ed->to * dag->width;
    int32_t *ue = dag->used + (size_t)ed->to * dag->width;
    int32_t *ae = dag->arg + (size_t)ed->to * dag->width;
    const double w = ed->value;
    const int32_t B = dag->budget;
    for (int32_t t = t0; t <= B; t++) {
        double v = vs[t - g] + w;
        double kv = lm_key7(v), kc = lm_key7(ve[t]);
        int32_t u = us[t - g] + g;
        if (kv > kc || (kv == kc && u < ue[t])) {
            ve[t] = v;
            ue[t] = u;
            ae[t] = e;
        }
    }
}

lm_status lm_dag_solve(lm_dag *dag, size_t n_nodes, const uint8_t *is_source,
                       const lm_dag_edge *edges, size_t n_edges,
                       int64_t budget, const int64_t *min_units)
{
    memset(dag, 0, sizeof *dag);
    if (budget < 0 || budget >= INT32_MAX || n_edges >= INT32_MAX)
        return lm_err(LM_ERR_UNSUPPORTED, "DP budget of %lld units or %zu "
                      "edges is beyond 2^31", (long long)budget, n_edges);
    dag->n_nodes = n_nodes;
    dag->budget = (int32_t)budget;
    dag->width = (size_t)budget + 1;
    dag->edges = edges;
    dag->n_edges = n_edges;
    lm_status st = alloc_tables(dag);
    if (st != LM_OK) {
        lm_dag_free(dag);
        return st;
    }
    for (size_t v = 0; v < n_nodes; v++)
        init_row(dag, v, is_source[v]);
    for (size_t e = 0; e < n_edges; e++) {
        const lm_dag_edge *ed = &edges[e];
        int64_t t0 = lm_units_add(min_units[ed->from], ed->g);
        if (is_source[ed->to] || t0 > budget)
            continue;
        relax(dag, (int32_t)e, (int32_t)ed->g, (int32_t)t0);
    }
    return LM_OK;
}

void lm_dag_free(lm_dag *dag)
{
    if (!dag)
        return;
    free(dag->val);
    free(dag->used);
    free(dag->arg);
    memset(dag, 0, sizeof *dag);
}

static int better(const lm_dag *dag, size_t a, size_t b)
{
    double ka = lm_key7(dag->val[a]), kb = lm_key7(dag->val[b]);
    return ka > kb || (ka == kb && dag->used[a] < dag->used[b]);
}

int lm_dag_pick(const lm_dag *dag, const uint32_t *sinks, size_t n_sinks,
                int32_t t)
{
    int best = -1;
    size_t best_cell = 0;
    for (size_t i = 0; i < n_sinks; i++) {
        size_t cell = (size_t)sinks[i] * dag->width + (size_t)t;
        if (dag->val[cell] == -INFINITY)
            continue;
        if (best < 0 || better(dag, cell, best_cell)) {
            best = (int)i;
            best_cell = cell;
        }
    }
    return best;
}

size_t lm_dag_path(const lm_dag *dag, uint32_t node, int32_t t,
                   uint32_t *path)
{
    size_t n = 0;
    for (;;) {
        int32_t e = dag->arg[(size_t)node * dag->width + (size_t)t];
        if (e < 0)
            break;
        path[n++] = (uint32_t)e;
        t -= (int32_t)dag->edges[e].g;
        node = dag->edges[e].from;
    }
    for (size_t i = 0; i < n / 2; i++) {
        uint32_t x = path[i];
        path[i] = path[n - 1 - i];
        path[n - 1 - i] = x;
    }
    return n;
}

size_t lm_dag_bytes(const lm_dag *dag)
{
    return dag->n_nodes * dag->width *
           (sizeof *dag->val + sizeof *dag->used + sizeof *dag->arg);
}
