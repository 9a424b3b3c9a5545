/* What the LayerMerge DP and kim23 do alike around the table: check the
 * budget against the cheapest path, tabulate no further than the slowest
 * one, and read the Pareto front off the sinks. */
#include "solve/dag.h"

#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/limits.h"
#include "core/util.h"

/* The largest precision whose table of `rows` x width cells fits: width
 * grows with the precision, so scale it by the ratio and round down to two
 * significant digits. */
static double fitting_precision(size_t rows, int64_t width,
                                size_t cell_bytes, double precision)
{
    double cells = (double)(LM_SOLVE_TABLE_MAX / cell_bytes) / (double)rows;
    if (width <= 1 || cells < 2.0)
        return 0.0;
    double p = precision * (cells - 1.0) / (double)(width - 1);
    if (!(p > 0.0) || !isfinite(p))
        return 0.0;
    double mag = pow(10.0, floor(log10(p)) - 1.0);
    return floor(p / mag) * mag;
}

lm_status lm_solve_check_table(size_t rows, int64_t width, size_t cell_bytes,
                               double precision, const char *what)
{
    size_t cells = 0, bytes = 0;
    int over = width < 1 || lm_mul_overflow(rows, (size_t)width, &cells) ||
               lm_mul_overflow(cells, cell_bytes, &bytes);
    if (!over && bytes <= LM_SOLVE_TABLE_MAX)
        return LM_OK;
    double need = (double)rows * (double)width * (double)cell_bytes;
    return lm_err(LM_ERR_UNSUPPORTED,
                  "%s table (%zu rows of %lld budget units) would need "
                  "%.1f GiB, above the limit of %.0f GiB: use a smaller "
                  "precision (%g units per latency unit here; at most %g "
                  "fits)", what, rows, (long long)width,
                  need / (double)(1u << 30),
                  (double)LM_SOLVE_TABLE_MAX / (double)(1u << 30), precision,
                  fitting_precision(rows, width, cell_bytes, precision));
}

/* Fewest and most units over the sinks' cheapest paths. */
static void sink_span(const lm_dag_job *job, const int64_t *lo,
                      const int64_t *hi, int64_t *need, int64_t *most)
{
    *need = LM_UNITS_HUGE;
    *most = -1;
    for (size_t i = 0; i < job->n_sinks; i++) {
        uint32_t s = job->sinks[i];
        *need = lo[s] < *need ? lo[s] : *need;
        *most = hi[s] > *most ? hi[s] : *most;
    }
}

static lm_status tabulate(lm_dag *dag, const lm_dag_job *job, int64_t units,
                          int64_t *lo, int64_t *hi)
{
    int64_t need, most;
    lm_dag_min_units(job->n_nodes, job->is_source, job->edges, job->n_edges,
                     lo, hi);
    sink_span(job, lo, hi, &need, &most);
    if (need >= LM_UNITS_HUGE)
        return job->uncovered(lo, job->n_nodes);
    if (need > units)
        return lm_disc_infeasible(job->budget, units, need, job->precision,
                                  job->rounding);
    /* Beyond the slowest path every budget gives the same table. */
    int64_t width = (units < most ? units : most) + 1;
    lm_status st = lm_solve_check_table(job->n_nodes, width,
                                        sizeof *dag->val + sizeof *dag->used +
                                            sizeof *dag->arg,
                                        job->precision, "DP");
    if (st != LM_OK)
        return st;
    return lm_dag_solve(dag, job->n_nodes, job->is_source, job->edges,
                        job->n_edges, width - 1, lo);
}

lm_status lm_dag_tabulate(lm_dag *dag, const lm_dag_job *job, int64_t *units)
{
    *units = lm_disc_budget(job->budget, job->precision, job->rounding);
    int64_t *lo = malloc(job->n_nodes * sizeof *lo);
    int64_t *hi = malloc(job->n_nodes * sizeof *hi);
    lm_status st = lo && hi ? tabulate(dag, job, *units, lo, hi)
                            : lm_err_nomem();
    free(lo);
    free(hi);
    return st;
}

static void free_front(char *front, size_t n, size_t size,
                       void (*clear)(void *sol))
{
    for (size_t i = 0; front && i < n; i++)
        clear(front + i * size);
    free(front);
}

lm_status lm_dag_front(const lm_dag *dag, const uint32_t *sinks,
                       size_t n_sinks, const lm_dag_reader *r, void **out,
                       size_t *n_out)
{
    char *front = NULL;
    size_t n = 0, cap = 0;
    double best = -INFINITY;
    for (int32_t t = 0; t <= dag->budget; t++) {
        int s = lm_dag_pick(dag, sinks, n_sinks, t);
        if (s < 0)
            continue;
        /* A cell better than every cheaper one is a new front point. */
        double key = lm_key7(dag->val[sinks[s] * dag->width + (size_t)t]);
        if (!(key > best))
            continue;
        best = key;
        lm_status st = lm_grow((void **)&front, &cap, n + 1, r->size);
        if (st == LM_OK)
            st = r->read(r->ctx, sinks[s], t, front + n * r->size);
        if (st != LM_OK) {
            free_front(front, n, r->size, r->clear);
            return st;
        }
        n++;
    }
    *out = front;
    *n_out = n;
    return LM_OK;
}
