/* lm_solver_run and lm_solver_run_front: set up the core solver for the
 * method, then turn its solutions into lm_results (docs/method.md section 6,
 * 7). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "solve/knapsack.h"
#include "solve/options_internal.h"
#include "solve/result_internal.h"
#include "solve/solver_internal.h"

#define LM_AUTO_UNITS 10000.0

/* What every result of one run shares. */
typedef struct run_ctx {
    const lm_solver *s;
    const lm_solve_options *o;
    double budget;  /* the whole network's */
    double entries; /* what is left for the entries: budget - fixed */
    double precision; /* the options', or the automatic one */
} run_ctx;

static lm_status new_result(const run_ctx *c, size_t n_segs, lm_result **out)
{
    lm_status st = lm_result_new(out, c->o->method, c->s->n_convs, n_segs,
                                 c->s->fingerprint);
    if (st != LM_OK)
        return st;
    lm_result *r = *out;
    r->rounding = c->o->rounding;
    r->budget = c->budget;
    r->fixed = c->s->fixed;
    r->precision = c->precision;
    r->budget_units = lm_disc_budget(c->entries, c->precision,
                                     lm_options_round(c->o));
    return LM_OK;
}

/* The end of every lm_result_from_*: free the result on failure, else set
 * the solution's totals and mark its segments. */
static lm_status finish(lm_status st, lm_result **out, int64_t units,
                        double latency, double importance)
{
    if (st != LM_OK) {
        lm_result_destroy(*out);
        *out = NULL;
        return st;
    }
    (*out)->units = units;
    (*out)->latency = (*out)->fixed + latency;
    (*out)->importance = importance;
    lm_result_mark_segments(*out);
    return LM_OK;
}

/* ---- LayerMerge ---- */

static lm_status lm_result_from_dp(const run_ctx *c, const lm_dp_solution *d,
                                   lm_result **out)
{
    const lm_solver *s = c->s;
    lm_status st = new_result(c, d->n_items, out);
    for (size_t k = 0; k < d->n_items && st == LM_OK; k++) {
        const lm_dp_item *it = &s->items[d->items[k]];
        const lm_sitem *in = &s->info[d->items[k]];
        lm_rseg *g = &(*out)->segs[k];
        *g = (lm_rseg){it->st, it->end, in->entry, in->kernel, in->stride,
                       in->depthwise, in->identity, it->latency,
                       it->importance, 0, NULL};
        st = lm_rseg_set_kept(g, s->kept + in->kept_off, in->n_kept);
        /* docs/method.md section 6: a boundary keeps its activation, and one
         * ending a multi-position segment gets the network's nonlinearity. */
        if (s->nonlinear[it->end] ||
            (it->end - it->st > 1 && s->has_nonlinearity))
            (*out)->flags[it->end] |= LM_RF_ACT;
    }
    return finish(st, out, d->units, d->latency, d->importance);
}

static lm_status dp_solve(const run_ctx *c, lm_dp **dp)
{
    if (!c->s->has_importance)
        return lm_err(LM_ERR_INVALID_ARG, "this solver was made without an "
                      "importance table: it can only prune");
    lm_dp_problem prob = {c->s->n_convs, c->s->items, c->s->n_items,
                          c->precision, c->entries, lm_options_round(c->o)};
    return lm_dp_solve(dp, &prob);
}

static lm_status layermerge_run(const run_ctx *c, lm_result **out)
{
    lm_dp *dp = NULL;
    lm_status st = dp_solve(c, &dp);
    lm_dp_solution sol = {0};
    if (st == LM_OK)
        st = lm_dp_best(dp, &sol);
    if (st == LM_OK)
        st = lm_result_from_dp(c, &sol, out);
    lm_dp_solution_clear(&sol);
    lm_dp_destroy(dp);
    return st;
}

/* ---- kim23 ---- */

static size_t seg_index(const lm_solver *s, size_t st, size_t end)
{
    for (size_t i = 0; i < s->n_segs; i++)
        if (s->segs[i].st == st && s->segs[i].end == end)
            return i;
    return SIZE_MAX;
}

/* One segment per merged conv between consecutive merge positions. */
static lm_status k23_piece(const run_ctx *c, lm_rseg *g, size_t a, size_t b)
{
    const lm_solver *s = c->s;
    size_t i = seg_index(s, a, b);
    if (i == SIZE_MAX)
        return lm_err(LM_ERR_INTERNAL, "kim23: merged conv (%zu, %zu) is no "
                      "row of the time table", a, b);
    *g = (lm_rseg){a, b, SIZE_MAX, s->seg_kernel[i], s->seg_stride[i],
                   s->seg_dw[i], 0, s->segs[i].time, 0.0, 0, NULL};
    g->kept = malloc((b - a) * sizeof *g->kept);
    if (!g->kept)
        return lm_err_nomem();
    for (size_t p = a + 1; p <= b; p++)
        g->kept[g->n_kept++] = p;
    return LM_OK;
}

static void k23_importance(const lm_solver *s, const lm_k23_solution *d,
                           lm_result *r)
{
    for (size_t k = 0; k < d->n_rows; k++) {
        const lm_k23_row *row = &s->ext[d->rows[k]];
        for (size_t j = 0; j < r->n_segs; j++)
            if (r->segs[j].end == row->end)
                r->segs[j].importance += row->score;
    }
}

static lm_status lm_result_from_k23(const run_ctx *c, const lm_k23_solution *d,
                                    lm_result **out)
{
    const lm_solver *s = c->s;
    size_t n = 0;
    for (size_t p = 1; p <= s->n_convs; p++)
        n += d->merge[p] != 0;
    lm_status st = new_result(c, n, out);
    size_t k = 0, a = 0;
    for (size_t p = 1; p <= s->n_convs && st == LM_OK; p++) {
        if (!d->merge[p])
            continue;
        st = k23_piece(c, &(*out)->segs[k++], a, p);
        a = p;
        if (d->act[p])
            (*out)->flags[p] |= LM_RF_ACT;
    }
    if (st == LM_OK)
        k23_importance(s, d, *out);
    return finish(st, out, d->units, d->latency, d->importance);
}

static lm_status k23_solve(const run_ctx *c, lm_k23 **k)
{
    const lm_solver *s = c->s;
    lm_k23_problem prob = {s->n_convs, s->segs, s->covers, s->n_segs, s->ext,
                           s->n_ext, c->precision, c->entries,
                           lm_options_round(c->o)};
    return lm_k23_run(k, &prob);
}

static lm_status kim23_run(const run_ctx *c, lm_result **out)
{
    lm_k23 *k = NULL;
    lm_k23_solution sol = {0};
    lm_status st = k23_solve(c, &k);
    if (st == LM_OK)
        st = lm_k23_best(k, &sol);
    if (st == LM_OK)
        st = lm_result_from_k23(c, &sol, out);
    lm_k23_solution_clear(&sol);
    lm_k23_destroy(k);
    return st;
}

/* ---- prune ---- */

static lm_status lm_result_from_ks(const run_ctx *c, const lm_ks_solution *d,
                                   lm_result **out)
{
    const lm_solver *s = c->s;
    lm_status st = new_result(c, s->n_convs, out);
    for (size_t k = 0; k < d->n_kept && st == LM_OK; k++)
        (*out)->flags[d->kept[k] + 1] |= LM_RF_CONV;
    for (size_t p = 1; p <= s->n_convs && st == LM_OK; p++) {
        lm_rseg *g = &(*out)->segs[p - 1];
        int kept = ((*out)->flags[p] & LM_RF_CONV) != 0;
        const lm_sitem *in = &s->info[s->conv_entry[p - 1]];
        *g = (lm_rseg){p - 1, p, SIZE_MAX, 0, 1, 1, 1, 0.0, 0.0, 0, NULL};
        if (!kept)
            continue;
        *g = (lm_rseg){p - 1, p, in->entry, in->kernel, in->stride,
                       in->depthwise, 0, s->conv_latency[p - 1],
                       s->required[p - 1] ? 0.0 : s->conv_importance[p - 1],
                       0, NULL};
        st = lm_rseg_set_kept(g, &p, 1);
        if (s->nonlinear[p])
            (*out)->flags[p] |= LM_RF_ACT;
    }
    return finish(st, out, d->units, d->latency, d->importance);
}

static lm_status prune_run(const run_ctx *c, lm_result **out)
{
    const lm_solver *s = c->s;
    if (!s->conv_importance)
        return lm_err(LM_ERR_STATE, "pruning needs conv importances "
                      "(lm_solver_set_conv_importance)");
    lm_ks_item *items = calloc(s->n_convs ? s->n_convs : 1, sizeof *items);
    if (!items)
        return lm_err_nomem();
    for (size_t i = 0; i < s->n_convs; i++)
        items[i] = (lm_ks_item){s->conv_latency[i], s->conv_importance[i],
                                s->required[i], (int64_t)(i + 1)};
    lm_ks_problem prob = {items, s->n_convs, c->precision, c->entries,
                          lm_options_round(c->o)};
    lm_ks_solution sol = {0};
    lm_status st = lm_ks_solve(&sol, &prob);
    free(items);
    if (st == LM_OK)
        st = lm_result_from_ks(c, &sol, out);
    lm_ks_solution_clear(&sol);
    return st;
}

/* ---- entry points ---- */

static lm_status start(run_ctx *c, const lm_solver *s,
                       const lm_solve_options *o, void *out)
{
    if (!s || !o || !out)
        return lm_err(LM_ERR_INVALID_ARG, "lm_solver_run/front: NULL argument");
    int k23 = o->method == LM_METHOD_KIM23;
    if (k23 != (s->family == LM_METHOD_KIM23))
        return lm_err(LM_ERR_INVALID_ARG, "method %s needs a solver made by "
                      "%s", lm_method_name(o->method),
                      k23 ? "lm_solver_create_kim23" : "lm_solver_create");
    double budget = lm_options_budget(o, s->original);
    /* Below the fixed cost nothing fits: the solve then says what the
     * entries would need (explain adds the fixed cost to the message). */
    double entries = budget - s->fixed;
    /* Automatic precision: the original network is LM_AUTO_UNITS units,
     * so that rounding each entry to a unit moves a solution's latency by
     * well under a percent however small the entries are. */
    double p = o->precision;
    if (p == 0.0)
        p = s->original > 0.0 ? LM_AUTO_UNITS / s->original : 10.0;
    *c = (run_ctx){s, o, budget, entries > 0.0 ? entries : 0.0, p};
    return LM_OK;
}

/* A ratio budget is named with its origin, so the message says why. */
static lm_status explain(const run_ctx *c, lm_status st)
{
    if (st == LM_OK)
        return st;
    if (st == LM_ERR_INFEASIBLE && c->s->fixed > 0.0)
        st = lm_err_prefix(st, "budget %.15g = fixed cost %.15g (what no "
                           "entry carries) + %.15g for the entries; for the "
                           "entries: ", c->budget, c->s->fixed, c->entries);
    if (c->o->absolute)
        return st;
    return lm_err_prefix(st, "budget ratio %g x original latency %.15g: ",
                         c->o->ratio, c->s->original);
}

lm_status lm_solver_run(lm_result **out, const lm_solver *s,
                        const lm_solve_options *o)
{
    run_ctx c = {0};
    lm_status st = start(&c, s, o, out);
    if (st != LM_OK)
        return st;
    *out = NULL;
    if (o->method == LM_METHOD_KIM23)
        st = kim23_run(&c, out);
    else if (o->method == LM_METHOD_PRUNE)
        st = prune_run(&c, out);
    else
        st = layermerge_run(&c, out);
    return explain(&c, st);
}

/* A solver's front as results: point i (of `size` bytes) by conv(). */
typedef lm_status (*point_fn)(const run_ctx *c, const void *pt,
                              lm_result **out);

static lm_status front_fill(const run_ctx *c, const void *pts, size_t n,
                            size_t size, point_fn conv, lm_front **out)
{
    lm_front *f = calloc(1, sizeof *f);
    if (f)
        f->items = calloc(n ? n : 1, sizeof *f->items);
    if (!f || !f->items) {
        free(f);
        return lm_err_nomem();
    }
    *out = f;
    lm_status st = LM_OK;
    for (size_t i = 0; i < n && st == LM_OK; i++) {
        st = conv(c, (const char *)pts + i * size, &f->items[i]);
        f->n += st == LM_OK;
    }
    return st;
}

static lm_status dp_point(const run_ctx *c, const void *pt, lm_result **out)
{
    return lm_result_from_dp(c, pt, out);
}

static lm_status k23_point(const run_ctx *c, const void *pt, lm_result **out)
{
    return lm_result_from_k23(c, pt, out);
}

static lm_status dp_front(const run_ctx *c, lm_front **out)
{
    lm_dp *dp = NULL;
    lm_dp_solution *pts = NULL;
    size_t n = 0;
    lm_status st = dp_solve(c, &dp);
    if (st == LM_OK)
        st = lm_dp_front(dp, &pts, &n);
    if (st == LM_OK)
        st = front_fill(c, pts, n, sizeof *pts, dp_point, out);
    lm_dp_front_free(pts, n);
    lm_dp_destroy(dp);
    return st;
}

static lm_status k23_front(const run_ctx *c, lm_front **out)
{
    lm_k23 *k = NULL;
    lm_k23_solution *pts = NULL;
    size_t n = 0;
    lm_status st = k23_solve(c, &k);
    if (st == LM_OK)
        st = lm_k23_front(k, &pts, &n);
    if (st == LM_OK)
        st = front_fill(c, pts, n, sizeof *pts, k23_point, out);
    lm_k23_front_free(pts, n);
    lm_k23_destroy(k);
    return st;
}

lm_status lm_solver_run_front(lm_front **out, const lm_solver *s,
                              const lm_solve_options *o)
{
    run_ctx c = {0};
    lm_status st = start(&c, s, o, out);
    if (st != LM_OK)
        return st;
    *out = NULL;
    if (o->method == LM_METHOD_PRUNE)
        return lm_err(LM_ERR_UNSUPPORTED, "the pruning knapsack keeps no "
                      "Pareto front; run it at each budget instead");
    st = o->method == LM_METHOD_KIM23 ? k23_front(&c, out) : dp_front(&c, out);
    if (st != LM_OK) {
        lm_front_destroy(*out);
        *out = NULL;
    }
    return explain(&c, st);
}
