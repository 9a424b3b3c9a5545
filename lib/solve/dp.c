/* The LayerMerge DP: items become edges between positions, the budgeted
 * longest-path table (dag.c) does the work, and solutions are read back by
 * following the argmax edges. */
#include "solve/dp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/util.h"
#include "solve/dag.h"

struct lm_dp {
    size_t n_positions;
    size_t n_items;
    lm_dp_item *items;    /* copy of the problem's items */
    int64_t *units;       /* per item */
    lm_dag_edge *edges;   /* items sorted by end (stable) */
    size_t *edge_item;    /* edge -> item index */
    int64_t budget;       /* B */
    lm_dag dag;
};

static lm_status check_problem(const lm_dp_problem *prob)
{
    if (!prob || (!prob->items && prob->n_items))
        return lm_err(LM_ERR_INVALID_ARG, "DP: NULL problem or items");
    if (prob->n_positions == 0 || prob->n_positions >= UINT32_MAX)
        return lm_err(LM_ERR_INVALID_ARG, "DP: %zu positions is out of range",
                      prob->n_positions);
    lm_status st = lm_disc_check_options(prob->precision, prob->budget,
                                         prob->rounding);
    if (st != LM_OK)
        return st;
    for (size_t i = 0; i < prob->n_items; i++) {
        const lm_dp_item *it = &prob->items[i];
        char what[96];
        snprintf(what, sizeof what, "item %zu (id %lld, segment (%u, %u))", i,
                 (long long)it->id, it->st, it->end);
        if (!(it->st < it->end && it->end <= prob->n_positions))
            return lm_err(LM_ERR_INVALID_ARG, "%s: segment outside 0..%zu",
                          what, prob->n_positions);
        st = lm_disc_check_item(it->latency, it->importance, what);
        if (st != LM_OK)
            return st;
    }
    return LM_OK;
}

/* Edges sorted by end position, stable, so item order breaks exact ties. */
static lm_status build_edges(lm_dp *dp, const lm_dp_problem *prob)
{
    size_t n = prob->n_items;
    dp->items = malloc((n ? n : 1) * sizeof *dp->items);
    dp->units = malloc((n ? n : 1) * sizeof *dp->units);
    dp->edges = malloc((n ? n : 1) * sizeof *dp->edges);
    dp->edge_item = malloc((n ? n : 1) * sizeof *dp->edge_item);
    if (!dp->items || !dp->units || !dp->edges || !dp->edge_item)
        return lm_err_nomem();
    memcpy(dp->items, prob->items, n * sizeof *dp->items);
    size_t k = 0;
    for (size_t end = 1; end <= prob->n_positions; end++) {
        for (size_t i = 0; i < n; i++) {
            const lm_dp_item *it = &prob->items[i];
            if (it->end != end)
                continue;
            dp->units[i] = lm_disc_units(it->latency, prob->precision,
                                         prob->rounding);
            dp->edges[k] = (lm_dag_edge){it->st, it->end, dp->units[i],
                                         it->importance};
            dp->edge_item[k++] = i;
        }
    }
    return LM_OK;
}

static lm_status uncoverable(const int64_t *min_units, size_t n_nodes)
{
    size_t reach = 0;
    for (size_t p = 0; p < n_nodes; p++)
        if (min_units[p] < LM_UNITS_HUGE)
            reach = p;
    return lm_err(LM_ERR_INFEASIBLE,
                  "no choice of items covers positions 0..%zu (the furthest "
                  "position reachable from 0 is %zu)", n_nodes - 1, reach);
}

/* Nodes are the positions 0..N: paths run from 0 to N. */
static lm_status tabulate(lm_dp *dp, const lm_dp_problem *prob)
{
    size_t nn = prob->n_positions + 1;
    uint8_t *source = calloc(nn, 1);
    if (!source)
        return lm_err_nomem();
    source[0] = 1;
    uint32_t sink = (uint32_t)prob->n_positions;
    lm_dag_job job = {.n_nodes = nn, .is_source = source,
                      .edges = dp->edges, .n_edges = dp->n_items,
                      .sinks = &sink, .n_sinks = 1, .budget = prob->budget,
                      .precision = prob->precision,
                      .rounding = prob->rounding, .uncovered = uncoverable};
    lm_status st = lm_dag_tabulate(&dp->dag, &job, &dp->budget);
    free(source);
    return st;
}

lm_status lm_dp_solve(lm_dp **out, const lm_dp_problem *prob)
{
    if (!out)
        return lm_err(LM_ERR_INVALID_ARG, "DP: NULL output");
    *out = NULL;
    lm_status st = check_problem(prob);
    if (st != LM_OK)
        return st;
    lm_dp *dp = calloc(1, sizeof *dp);
    if (!dp)
        return lm_err_nomem();
    dp->n_positions = prob->n_positions;
    dp->n_items = prob->n_items;
    st = build_edges(dp, prob);
    if (st == LM_OK)
        st = tabulate(dp, prob);
    if (st != LM_OK) {
        lm_dp_destroy(dp);
        return st;
    }
    *out = dp;
    return LM_OK;
}

void lm_dp_destroy(lm_dp *dp)
{
    if (!dp)
        return;
    lm_dag_free(&dp->dag);
    free(dp->items);
    free(dp->units);
    free(dp->edges);
    free(dp->edge_item);
    free(dp);
}

/* The solution whose best path ends in the final position at t units. */
static lm_status read_solution(const lm_dp *dp, int32_t t, lm_dp_solution *out)
{
    memset(out, 0, sizeof *out);
    uint32_t *path = malloc((dp->n_positions + 1) * sizeof *path);
    out->items = malloc((dp->n_positions + 1) * sizeof *out->items);
    if (!path || !out->items) {
        free(path);
        lm_dp_solution_clear(out);
        return lm_err_nomem();
    }
    size_t n = lm_dag_path(&dp->dag, (uint32_t)dp->n_positions, t, path);
    out->n_items = n;
    for (size_t k = 0; k < n; k++) {
        size_t i = dp->edge_item[path[k]];
        out->items[k] = i;
        out->units += dp->units[i];
        out->latency += dp->items[i].latency;
        out->importance += dp->items[i].importance;
    }
    free(path);
    return LM_OK;
}

lm_status lm_dp_best(const lm_dp *dp, lm_dp_solution *out)
{
    if (!dp || !out)
        return lm_err(LM_ERR_INVALID_ARG, "DP: NULL argument");
    return read_solution(dp, dp->dag.budget, out);
}

static lm_status read_at(const void *dp, uint32_t sink, int32_t t,
                         void *sol)
{
    (void)sink; /* the one sink, position N */
    return read_solution(dp, t, sol);
}

static void clear_at(void *sol)
{
    lm_dp_solution_clear(sol);
}

lm_status lm_dp_front(const lm_dp *dp, lm_dp_solution **out, size_t *n_out)
{
    if (!dp || !out || !n_out)
        return lm_err(LM_ERR_INVALID_ARG, "DP: NULL argument");
    *out = NULL;
    *n_out = 0;
    uint32_t sink = (uint32_t)dp->n_positions;
    lm_dag_reader r = {sizeof **out, read_at, clear_at, dp};
    void *front = NULL;
    lm_status st = lm_dag_front(&dp->dag, &sink, 1, &r, &front, n_out);
    *out = front;
    return st;
}

void lm_dp_solution_clear(lm_dp_solution *sol)
{
    if (!sol)
        return;
    free(sol->items);
    memset(sol, 0, sizeof *sol);
}

void lm_dp_front_free(lm_dp_solution *front, size_t n)
{
    for (size_t i = 0; front && i < n; i++)
        lm_dp_solution_clear(&front[i]);
    free(front);
}

int64_t lm_dp_budget_units(const lm_dp *dp)
{
    return dp->budget;
}

int64_t lm_dp_item_units(const lm_dp *dp, size_t i)
{
    return dp->units[i];
}

size_t lm_dp_table_bytes(const lm_dp *dp)
{
    return lm_dag_bytes(&dp->dag);
}
