/* Private: the budgeted longest-path DP every solver reduces to.
 *
 * Nodes 0..n-1 are in topological order; an edge goes from a lower to a
 * higher node, costs g integer time units and gains a value. Cell
 * (v, t) holds the best value of a path from a source node to v using at
 * most t units, the units it actually uses and the last edge. "Best" is the
 * tie rule of docs/method.md section 6: larger value rounded to 7 decimals,
 * then fewer units, then the edge met first (edges are scanned by target node,
 * then in the order given). Memory (n * (B + 1)) * 16 bytes; time O(B *
 * edges). */
#ifndef LM_SOLVE_DAG_H
#define LM_SOLVE_DAG_H

#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "layermerge/status.h"
#include "solve/discretise.h"

typedef struct lm_dag_edge {
    uint32_t from, to; /* from < to */
    int64_t g;         /* units, >= 0 (LM_UNITS_HUGE: never fits) */
    double value;
} lm_dag_edge;

typedef struct lm_dag {
    size_t n_nodes;
    int32_t budget;     /* B actually tabulated (>= 0) */
    size_t width;       /* budget + 1 */
    double *val;        /* n_nodes x width; -INFINITY = unreachable */
    int32_t *used;      /* units of that best path */
    int32_t *arg;       /* index of its last edge in `edges`, -1 none */
    const lm_dag_edge *edges; /* borrowed from the caller */
    size_t n_edges;
} lm_dag;

/* Fewest units to reach every node (min_units[n_nodes]); LM_UNITS_HUGE for
 * nodes no path reaches. Edges in any order with from < to. */
void lm_dag_min_units(size_t n_nodes, const uint8_t *is_source,
                      const lm_dag_edge *edges, size_t n_edges,
                      int64_t *min_units, int64_t *max_units);

/* Tabulate every cell up to `budget` units. Edges must be sorted by `to`
 * (the order within one target breaks exact ties) and stay alive as long
 * as the dag. LM_ERR_NOMEM when the table does not fit (the message gives
 * its size). */
LM_NODISCARD
lm_status lm_dag_solve(lm_dag *dag, size_t n_nodes, const uint8_t *is_source,
                       const lm_dag_edge *edges, size_t n_edges,
                       int64_t budget, const int64_t *min_units);

void lm_dag_free(lm_dag *dag);

/* The best cell among `sinks` at t (by the tie rule, earlier sinks first on
 * a full tie); -1 if none is reachable. */
int lm_dag_pick(const lm_dag *dag, const uint32_t *sinks, size_t n_sinks,
                int32_t t);

/* Edges of the best path ending in (node, t), from the source on; returns
 * their number (at most n_nodes - 1) written to path. */
size_t lm_dag_path(const lm_dag *dag, uint32_t node, int32_t t,
                   uint32_t *path);

/* Refuse a solver table of `rows` x `width` cells of `cell_bytes` above
 * LM_SOLVE_TABLE_MAX (core/limits.h), before it is allocated:
 * LM_ERR_UNSUPPORTED "<what> table (R rows of W budget units) would need
 * X GiB, above the limit of 2 GiB: use a smaller precision (P ...; at most
 * P' fits)". */
LM_NODISCARD
lm_status lm_solve_check_table(size_t rows, int64_t width, size_t cell_bytes,
                               double precision, const char *what);

/* A solver's table: nodes, sources, sorted edges, the sinks a solution
 * ends in, and the real budget with its discretisation. */
typedef struct lm_dag_job {
    size_t n_nodes;
    const uint8_t *is_source;
    const lm_dag_edge *edges;
    size_t n_edges;
    const uint32_t *sinks;
    size_t n_sinks;
    double budget, precision;
    lm_round_mode rounding;
    /* The error when no sink is reachable, from the fewest units to reach
     * each node (LM_UNITS_HUGE: unreachable). */
    lm_status (*uncovered)(const int64_t *min_units, size_t n_nodes);
} lm_dag_job;

/* Discretise the budget (into *units) and tabulate up to it, or only up to
 * the slowest sink path when that is less. LM_ERR_INFEASIBLE from
 * job->uncovered when no sink is reachable, or naming the smallest
 * feasible budget when the cheapest path does not fit (lm_disc_infeasible);
 * LM_ERR_NOMEM; what lm_dag_solve returns. */
LM_NODISCARD
lm_status lm_dag_tabulate(lm_dag *dag, const lm_dag_job *job, int64_t *units);

/* How a solver reads solutions for lm_dag_front: read() fills the
 * `size`-byte solution `sol` from the best path into `sink` at t units;
 * clear() frees what one holds. */
typedef struct lm_dag_reader {
    size_t size;
    lm_status (*read)(const void *ctx, uint32_t sink, int32_t t, void *sol);
    void (*clear)(void *sol);
    const void *ctx;
} lm_dag_reader;

/* The Pareto front over `sinks` (picked per t as lm_dag_pick does): each
 * t = 0..budget whose best value (lm_key7) beats every cheaper one, by
 * increasing t, as an array of solutions the caller owns. On failure
 * (LM_ERR_NOMEM, or what read() returns) nothing is left allocated. */
LM_NODISCARD
lm_status lm_dag_front(const lm_dag *dag, const uint32_t *sinks,
                       size_t n_sinks, const lm_dag_reader *r, void **out,
                       size_t *n_out);

/* Bytes of the three tables (for benchmarks). */
size_t lm_dag_bytes(const lm_dag *dag);

#endif
