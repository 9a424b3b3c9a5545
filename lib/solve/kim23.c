/* kim23 stage 2 (docs/method.md section 7, item 3): states (m, a) become DP
 * nodes 2m + a, each extended-importance row (i, m, j, a) an edge from 2i + j
 * to 2m + a costing the discretised T_opt(i, m). */
#include "solve/kim23.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/util.h"
#include "solve/dag.h"

struct lm_k23 {
    size_t n_positions;
    lm_k23_row *ext;
    size_t *ext_seg;      /* ext row -> segment index */
    lm_dag_edge *edges;   /* sorted by (to, from) */
    size_t *edge_row;
    int64_t budget;
    uint32_t *breaks;     /* all covers' breaks, concatenated */
    size_t *brk_off;      /* per segment: offset, n_segments + 1 */
    double *seg_time;     /* T_opt per segment */
    lm_dag dag;
};

static lm_status check_problem(const lm_k23_problem *p)
{
    if (!p || (!p->segments && p->n_segments) || (!p->covers && p->n_segments)
        || (!p->ext && p->n_ext))
        return lm_err(LM_ERR_INVALID_ARG, "kim23: NULL problem or arrays");
    if (p->n_positions == 0 || p->n_positions > LM_K23_MAX_POSITIONS)
        return lm_err(LM_ERR_INVALID_ARG, "kim23: %zu positions out of range",
                      p->n_positions);
    lm_status st = lm_disc_check_options(p->precision, p->budget, p->rounding);
    for (size_t s = 0; s < p->n_segments && st == LM_OK; s++) {
        const lm_k23_segment *sg = &p->segments[s];
        char what[64];
        snprintf(what, sizeof what, "segment %zu (%u, %u)", s, sg->st, sg->end);
        if (!(sg->st < sg->end && sg->end <= p->n_positions))
            return lm_err(LM_ERR_INVALID_ARG, "kim23: %s outside 0..%zu", what,
                          p->n_positions);
        st = lm_disc_check_item(p->covers[s].time, 0.0, what);
    }
    return st;
}

/* Copy the covers' breaks and times so the caller's arrays may go. */
static lm_status copy_covers(lm_k23 *k, const lm_k23_problem *p)
{
    size_t total = 0;
    for (size_t s = 0; s < p->n_segments; s++)
        total += p->covers[s].n_breaks;
    k->breaks = malloc((total ? total : 1) * sizeof *k->breaks);
    k->brk_off = malloc((p->n_segments + 1) * sizeof *k->brk_off);
    k->seg_time = malloc((p->n_segments ? p->n_segments : 1) *
                         sizeof *k->seg_time);
    if (!k->breaks || !k->brk_off || !k->seg_time)
        return lm_err_nomem();
    size_t off = 0;
    for (size_t s = 0; s < p->n_segments; s++) {
        k->brk_off[s] = off;
        k->seg_time[s] = p->covers[s].time;
        for (size_t b = 0; b < p->covers[s].n_breaks; b++) {
            uint32_t x = p->covers[s].breaks[b];
            k->breaks[off++] = x <= p->n_positions ? x : 0;
        }
    }
    k->brk_off[p->n_segments] = off;
    return LM_OK;
}

/* Match every ext row with its segment (dense map over (st, end)). */
static lm_status match_rows(lm_k23 *k, const lm_k23_problem *p)
{
    size_t w = p->n_positions + 1;
    int32_t *map = malloc(w * w * sizeof *map);
    size_t n = p->n_ext ? p->n_ext : 1;
    k->ext = malloc(n * sizeof *k->ext);
    k->ext_seg = malloc(n * sizeof *k->ext_seg);
    lm_status st = LM_OK;
    if (!map || !k->ext || !k->ext_seg) {
        free(map);
        return lm_err_nomem();
    }
    memcpy(k->ext, p->ext, p->n_ext * sizeof *k->ext);
    for (size_t i = 0; i < w * w; i++)
        map[i] = -1;
    for (size_t s = 0; s < p->n_segments; s++)
        map[p->segments[s].st * w + p->segments[s].end] = (int32_t)s;
    for (size_t i = 0; i < p->n_ext && st == LM_OK; i++) {
        const lm_k23_row *r = &p->ext[i];
        if (!(r->st < r->end && r->end <= p->n_positions) || r->st_act > 1 ||
            r->end_act > 1)
            st = lm_err(LM_ERR_INVALID_ARG, "kim23: ext row %zu: segment "
                        "(%u, %u) or flags (%u, %u) out of range", i, r->st,
                        r->end, r->st_act, r->end_act);
        else if (!isfinite(r->score))
            st = lm_err(LM_ERR_VALUE, "kim23: ext row %zu (segment (%u, %u)): "
                        "importance %g is not a finite number", i, r->st,
                        r->end, r->score);
        else if (map[r->st * w + r->end] < 0)
            st = lm_err(LM_ERR_MISSING, "kim23: ext row %zu: segment (%u, %u) "
                        "has no latency", i, r->st, r->end);
        else
            k->ext_seg[i] = (size_t)map[r->st * w + r->end];
    }
    free(map);
    return st;
}

/* Stable counting sort of idx[] by key(edge) in 0..range-1 (no global
 * state, unlike qsort with a file-scope comparator context). */
static lm_status count_sort(size_t *idx, size_t n, const lm_dag_edge *e,
                            size_t range, int by_to)
{
    size_t *count = calloc(range + 1, sizeof *count);
    size_t *tmp = malloc((n ? n : 1) * sizeof *tmp);
    if (!count || !tmp) {
        free(count);
        free(tmp);
        return lm_err_nomem();
    }
    for (size_t i = 0; i < n; i++)
        count[(by_to ? e[idx[i]].to : e[idx[i]].from) + 1]++;
    for (size_t v = 0; v < range; v++)
        count[v + 1] += count[v];
    for (size_t i = 0; i < n; i++)
        tmp[count[by_to ? e[idx[i]].to : e[idx[i]].from]++] = idx[i];
    memcpy(idx, tmp, n * sizeof *idx);
    free(count);
    free(tmp);
    return LM_OK;
}

/* Edges sorted by target state, then source state: i ascending, then j. */
static lm_status build_edges(lm_k23 *k, const lm_k23_problem *p)
{
    size_t n = p->n_ext ? p->n_ext : 1, range = 2 * (p->n_positions + 1);
    lm_dag_edge *raw = malloc(n * sizeof *raw);
    k->edges = malloc(n * sizeof *k->edges);
    k->edge_row = malloc(n * sizeof *k->edge_row);
    if (!raw || !k->edges || !k->edge_row) {
        free(raw);
        return lm_err_nomem();
    }
    for (size_t i = 0; i < p->n_ext; i++) {
        const lm_k23_row *r = &k->ext[i];
        int64_t g = lm_disc_units(k->seg_time[k->ext_seg[i]], p->precision,
                                  p->rounding);
        raw[i] = (lm_dag_edge){2 * r->st + r->st_act, 2 * r->end + r->end_act,
                               g, r->score};
        k->edge_row[i] = i;
    }
    lm_status st = count_sort(k->edge_row, p->n_ext, raw, range, 0);
    if (st == LM_OK)
        st = count_sort(k->edge_row, p->n_ext, raw, range, 1);
    for (size_t i = 0; i < p->n_ext && st == LM_OK; i++) {
        k->edges[i] = raw[k->edge_row[i]];
        if (i > 0 && k->edges[i].to == k->edges[i - 1].to &&
            k->edges[i].from == k->edges[i - 1].from)
            st = lm_err(LM_ERR_DUPLICATE, "kim23: ext rows %zu and %zu have "
                        "the same (st, end, st_act, end_act)",
                        k->edge_row[i - 1], k->edge_row[i]);
    }
    free(raw);
    return st;
}

static lm_status uncoverable(const int64_t *min_units, size_t n_nodes)
{
    (void)min_units;
    return lm_err(LM_ERR_INFEASIBLE, "kim23: no chain of segments and "
                  "activation states covers positions 0..%zu",
                  n_nodes / 2 - 1);
}

/* Nodes 2m + a: position m, activation state a; paths end in either state
 * at N. */
static lm_status tabulate(lm_k23 *k, const lm_k23_problem *p)
{
    size_t nn = 2 * (p->n_positions + 1);
    uint8_t *source = calloc(nn, 1);
    if (!source)
        return lm_err_nomem();
    source[1] = 1; /* D[t][0][1] = 0: the input counts as activated */
    uint32_t sinks[2] = {2 * (uint32_t)p->n_positions,
                         2 * (uint32_t)p->n_positions + 1};
    lm_dag_job job = {.n_nodes = nn, .is_source = source, .edges = k->edges,
                      .n_edges = p->n_ext, .sinks = sinks, .n_sinks = 2,
                      .budget = p->budget, .precision = p->precision,
                      .rounding = p->rounding, .uncovered = uncoverable};
    lm_status st = lm_dag_tabulate(&k->dag, &job, &k->budget);
    free(source);
    return st;
}

lm_status lm_k23_run(lm_k23 **out, const lm_k23_problem *prob)
{
    if (!out)
        return lm_err(LM_ERR_INVALID_ARG, "kim23: NULL output");
    *out = NULL;
    lm_status st = check_problem(prob);
    if (st != LM_OK)
        return st;
    lm_k23 *k = calloc(1, sizeof *k);
    if (!k)
        return lm_err_nomem();
    k->n_positions = prob->n_positions;
    st = copy_covers(k, prob);
    if (st == LM_OK)
        st = match_rows(k, prob);
    if (st == LM_OK)
        st = build_edges(k, prob);
    if (st == LM_OK)
        st = tabulate(k, prob);
    if (st != LM_OK) {
        lm_k23_destroy(k);
        return st;
    }
    *out = k;
    return LM_OK;
}

void lm_k23_destroy(lm_k23 *k)
{
    if (!k)
        return;
    lm_dag_free(&k->dag);
    free(k->ext);
    free(k->ext_seg);
    free(k->edges);
    free(k->edge_row);
    free(k->breaks);
    free(k->brk_off);
    free(k->seg_time);
    free(k);
}

static void add_row(const lm_k23 *k, lm_k23_solution *sol, uint32_t edge)
{
    size_t row = k->edge_row[edge], seg = k->ext_seg[row];
    const lm_k23_row *r = &k->ext[row];
    sol->rows[sol->n_rows++] = row;
    sol->act[r->end] = r->end_act;
    for (size_t b = k->brk_off[seg]; b < k->brk_off[seg + 1]; b++)
        if (k->breaks[b] != 0)
            sol->merge[k->breaks[b]] = 1;
    sol->units += k->edges[edge].g;
    sol->latency += k->seg_time[seg];
    sol->importance += r->score;
}

/* The solution of the best path into `sink` at t units. */
static lm_status read_solution(const lm_k23 *k, uint32_t sink, int32_t t,
                               lm_k23_solution *sol)
{
    size_t w = k->n_positions + 1;
    memset(sol, 0, sizeof *sol);
    uint32_t *path = malloc(2 * w * sizeof *path);
    sol->rows = malloc(w * sizeof *sol->rows);
    sol->act = calloc(w, 1);
    sol->merge = calloc(w, 1);
    if (!path || !sol->rows || !sol->act || !sol->merge) {
        free(path);
        lm_k23_solution_clear(sol);
        return lm_err_nomem();
    }
    size_t n = lm_dag_path(&k->dag, sink, t, path);
    for (size_t i = 0; i < n; i++)
        add_row(k, sol, path[i]);
    free(path);
    return LM_OK;
}

lm_status lm_k23_best(const lm_k23 *k, lm_k23_solution *out)
{
    if (!k || !out)
        return lm_err(LM_ERR_INVALID_ARG, "kim23: NULL argument");
    uint32_t sinks[2] = {2 * (uint32_t)k->n_positions,
                         2 * (uint32_t)k->n_positions + 1};
    int s = lm_dag_pick(&k->dag, sinks, 2, k->dag.budget);
    if (s < 0)
        return lm_err(LM_ERR_INTERNAL, "kim23: feasible budget without a "
                      "reachable final state");
    return read_solution(k, sinks[s], k->dag.budget, out);
}

static lm_status read_at(const void *k, uint32_t sink, int32_t t, void *sol)
{
    return read_solution(k, sink, t, sol);
}

static void clear_at(void *sol)
{
    lm_k23_solution_clear(sol);
}

lm_status lm_k23_front(const lm_k23 *k, lm_k23_solution **out, size_t *n_out)
{
    if (!k || !out || !n_out)
        return lm_err(LM_ERR_INVALID_ARG, "kim23: NULL argument");
    *out = NULL;
    *n_out = 0;
    uint32_t sinks[2] = {2 * (uint32_t)k->n_positions,
                         2 * (uint32_t)k->n_positions + 1};
    lm_dag_reader r = {sizeof **out, read_at, clear_at, k};
    void *front = NULL;
    lm_status st = lm_dag_front(&k->dag, sinks, 2, &r, &front, n_out);
    *out = front;
    return st;
}

void lm_k23_solution_clear(lm_k23_solution *sol)
{
    if (!sol)
        return;
    free(sol->rows);
    free(sol->act);
    free(sol->merge);
    memset(sol, 0, sizeof *sol);
}

void lm_k23_front_free(lm_k23_solution *front, size_t n)
{
    for (size_t i = 0; front && i < n; i++)
        lm_k23_solution_clear(&front[i]);
    free(front);
}
