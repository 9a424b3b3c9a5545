/* lm_table_create_calibrated: a latency table whose entries are scaled to
 * what their convs cost inside the running network (docs/measure.md,
 * "In-network calibration"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tables/table.h"

/* The stage holding segment (st, end]; no entry crosses a barrier. */
static const lm_tstage *stage_of(const lm_table *t, const lm_tkey *k)
{
    for (size_t i = 0; i < t->n_stages; i++)
        if (t->stages[i].st <= k->st && k->end <= t->stages[i].end)
            return &t->stages[i];
    return NULL;
}

static lm_status copy_record(lm_table *out, const lm_trec *r, double ratio)
{
    size_t index;
    lm_status st = lm_table_put(out, &r->key, r->id, r->value * ratio,
                                r->extra * ratio, r->note, &index);
    if (st == LM_OK && r->has_convs)
        st = lm_table_set_convs(out, index, r->convs, r->n_convs);
    if (st != LM_OK || !r->n_passes)
        return st;
    double *p = malloc(r->n_passes * sizeof *p);
    if (!p)
        return lm_err_nomem();
    for (size_t k = 0; k < r->n_passes; k++)
        p[k] = r->passes[k] * ratio;
    st = lm_table_set_passes(out, index, p, r->n_passes, r->noisy);
    free(p);
    return st;
}

lm_status lm_table_create_calibrated(lm_table **out, const lm_table *t)
{
    if (!out || !t || t->kind != LM_TABLE_LATENCY)
        return lm_err(LM_ERR_INVALID_ARG, "lm_table_create_calibrated: NULL "
                      "argument or not a latency table");
    *out = NULL;
    if (t->n_stages == 0)
        return lm_err(LM_ERR_STATE, "lm_table_create_calibrated: the table "
                      "has no in-network calibration (measure it with the "
                      "built-in timer and the whole network on)");
    lm_table *c = NULL;
    lm_status st = lm_table_new(&c, LM_TABLE_LATENCY, t->fingerprint, 0);
    if (st == LM_OK)
        st = lm_table_copy_provenance(c, t);
    for (size_t i = 0; st == LM_OK && i < t->n; i++) {
        const lm_tstage *s = stage_of(t, &t->recs[i].key);
        double ratio = s && s->alone_ms > 0.0 ? s->in_network_ms / s->alone_ms
                                              : 1.0;
        st = copy_record(c, &t->recs[i], ratio);
    }
    /* Calibrated once: the copy carries no stages to apply again, and its
     * timer says what was done. */
    char timer[512];
    snprintf(timer, sizeof timer, "%s (calibrated in-network)",
             t->text[LM_TABLE_TIMER - 1] ? t->text[LM_TABLE_TIMER - 1] : "");
    if (st == LM_OK)
        st = lm_table_set_stages(c, NULL, 0);
    if (st == LM_OK)
        st = lm_table_set_text(c, LM_TABLE_TIMER, timer);
    if (st == LM_OK && t->has_shard)
        st = lm_table_set_shard(c, t->shard_lo, t->shard_hi);
    if (st != LM_OK) {
        lm_table_free(c);
        return st;
    }
    *out = c;
    return LM_OK;
}
