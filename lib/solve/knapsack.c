/* The layer-pruning knapsack: two rolling rows of (value, units) and one
 * byte per (item, budget) recording whether the item was taken, read back
 * from the last item to the first. */
#include "solve/knapsack.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "solve/dag.h"

static lm_status check_items(const lm_ks_problem *p)
{
    if (!p || (!p->items && p->n_items))
        return lm_err(LM_ERR_INVALID_ARG, "knapsack: NULL problem or items");
    lm_status st = lm_disc_check_options(p->precision, p->budget, p->rounding);
    for (size_t i = 0; i < p->n_items && st == LM_OK; i++) {
        const lm_ks_item *it = &p->items[i];
        char what[64];
        snprintf(what, sizeof what, "item %zu (id %lld)", i, (long long)it->id);
        st = lm_disc_check_item(it->latency, it->required ? 0.0 : it->importance,
                                what);
    }
    return st;
}

typedef struct ks_state {
    size_t n, width;
    int64_t *g;        /* per item */
    double *val[2];    /* rolling rows */
    int32_t *used[2];
    uint8_t *take;     /* n x width */
} ks_state;

static void ks_free(ks_state *s)
{
    free(s->g);
    for (int r = 0; r < 2; r++) {
        free(s->val[r]);
        free(s->used[r]);
    }
    free(s->take);
}

static lm_status ks_alloc(ks_state *s, size_t n, int64_t budget,
                          double precision)
{
    /* One choice byte per item and unit, and two rolling rows of a value
     * and a unit count (24 bytes a unit): n + 24 bytes a unit. */
    lm_status st = lm_solve_check_table(n + 24, budget + 1, 1, precision,
                                        "knapsack");
    if (st != LM_OK)
        return st;
    if (budget >= INT32_MAX)
        return lm_err(LM_ERR_UNSUPPORTED, "knapsack: budget of %lld units is "
                      "beyond 2^31", (long long)budget);
    s->n = n;
    s->width = (size_t)budget + 1;
    if (n && s->width > SIZE_MAX / n)
        return lm_err(LM_ERR_NOMEM, "knapsack: table overflows");
    s->g = malloc((n ? n : 1) * sizeof *s->g);
    s->take = malloc((n ? n * s->width : 1));
    for (int r = 0; r < 2; r++) {
        s->val[r] = malloc(s->width * sizeof *s->val[r]);
        s->used[r] = malloc(s->width * sizeof *s->used[r]);
        if (!s->val[r] || !s->used[r])
            return lm_err_nomem();
    }
    if (!s->g || !s->take)
        return lm_err(LM_ERR_NOMEM, "knapsack: %zu items x %zu units do not "
                      "fit in memory", n, s->width);
    return LM_OK;
}

/* Row i from row i-1: take item i where it is strictly better. */
static void ks_row(ks_state *s, size_t i, double w)
{
    const double *pv = s->val[i & 1];
    const int32_t *pu = s->used[i & 1];
    double *nv = s->val[(i + 1) & 1];
    int32_t *nu = s->used[(i + 1) & 1];
    uint8_t *take = s->take + i * s->width;
    int64_t g = s->g[i];
    for (size_t t = 0; t < s->width; t++) {
        nv[t] = pv[t];
        nu[t] = pu[t];
        take[t] = 0;
        if ((int64_t)t < g)
            continue;
        double v = pv[t - (size_t)g] + w;
        int32_t u = pu[t - (size_t)g] + (int32_t)g;
        double kv = lm_key7(v), kc = lm_key7(pv[t]);
        if (kv > kc || (kv == kc && u < pu[t])) {
            nv[t] = v;
            nu[t] = u;
            take[t] = 1;
        }
    }
}

static lm_status ks_read(lm_ks_solution *out, const ks_state *s,
                         const lm_ks_problem *p, const size_t *prunable)
{
    memset(out, 0, sizeof *out);
    out->kept = malloc((p->n_items ? p->n_items : 1) * sizeof *out->kept);
    uint8_t *keep = calloc(p->n_items ? p->n_items : 1, 1);
    if (!out->kept || !keep) {
        free(keep);
        lm_ks_solution_clear(out);
        return lm_err_nomem();
    }
    size_t t = s->width - 1;
    for (size_t i = s->n; i-- > 0;) {
        if (s->take[i * s->width + t]) {
            keep[prunable[i]] = 1;
            t -= (size_t)s->g[i];
        }
    }
    for (size_t i = 0; i < p->n_items; i++) {
        const lm_ks_item *it = &p->items[i];
        if (!it->required && !keep[i])
            continue;
        out->kept[out->n_kept++] = i;
        out->units += lm_disc_units(it->latency, p->precision, p->rounding);
        out->latency += it->latency;
        if (!it->required)
            out->importance += it->importance;
    }
    free(keep);
    return LM_OK;
}

/* B left for prunable items, or LM_ERR_INFEASIBLE. */
static lm_status ks_budget(const lm_ks_problem *p, int64_t *left)
{
    int64_t b = lm_disc_budget(p->budget, p->precision, p->rounding), req = 0;
    for (size_t i = 0; i < p->n_items; i++)
        if (p->items[i].required)
            req = lm_units_add(req, lm_disc_units(p->items[i].latency,
                                                  p->precision, p->rounding));
    if (req > b)
        return lm_disc_infeasible(p->budget, b, req, p->precision, p->rounding);
    *left = b - req;
    return LM_OK;
}

lm_status lm_ks_solve(lm_ks_solution *out, const lm_ks_problem *p)
{
    if (!out)
        return lm_err(LM_ERR_INVALID_ARG, "knapsack: NULL output");
    memset(out, 0, sizeof *out);
    lm_status st = check_items(p);
    int64_t left = 0, all = 0;
    if (st == LM_OK)
        st = ks_budget(p, &left);
    if (st != LM_OK)
        return st;
    size_t *prunable = malloc((p->n_items ? p->n_items : 1) * sizeof *prunable);
    if (!prunable)
        return lm_err_nomem();
    size_t n = 0;
    for (size_t i = 0; i < p->n_items; i++)
        if (!p->items[i].required) {
            prunable[n++] = i;
            all = lm_units_add(all, lm_disc_units(p->items[i].latency,
                                                  p->precision, p->rounding));
        }
    ks_state s = {0};
    /* Beyond the sum of all prunable items every budget is the same. */
    st = ks_alloc(&s, n, left < all ? left : all, p->precision);
    for (size_t i = 0; i < n && st == LM_OK; i++)
        s.g[i] = lm_disc_units(p->items[prunable[i]].latency, p->precision,
                               p->rounding);
    if (st == LM_OK) {
        for (size_t t = 0; t < s.width; t++) {
            s.val[0][t] = 0.0;
            s.used[0][t] = 0;
        }
        for (size_t i = 0; i < n; i++)
            ks_row(&s, i, p->items[prunable[i]].importance);
        st = ks_read(out, &s, p, prunable);
    }
    ks_free(&s);
    free(prunable);
    return st;
}

void lm_ks_solution_clear(lm_ks_solution *sol)
{
    if (!sol)
        return;
    free(sol->kept);
    memset(sol, 0, sizeof *sol);
}
