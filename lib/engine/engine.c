/* Engine life cycle and accessors. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "engine/engine_internal.h"
#include "graph/graph_query.h"

void lm_engine_destroy(lm_engine *e)
{
    if (!e)
        return;
    lm_eops_free(&e->stem);
    lm_eops_free(&e->head);
    for (size_t p = 0; e->pos_ops && p <= e->n; p++)
        lm_eops_free(&e->pos_ops[p]);
    for (size_t p = 0; e->trunk && p <= e->n; p++)
        lm_econv_free(&e->trunk[p]);
    for (size_t i = 0; e->skips && i < e->n_skips; i++)
        lm_econv_free(&e->skips[i].proj);
    lm_engine_free_unet(e);
    free(e->own);
    lm_eplan_free(&e->original);
    lm_eplan_free(&e->plan);
    free(e->pos_ops);
    free(e->trunk);
    free(e->skips);
    free(e->conv_out);
    free(e->shape);
    free(e->slot);
    free(e->arena);
    free(e->prof_conv);
    free(e->prof_other);
    free(e->bufs);
    free(e);
}

/* The graph's own network as a plan. */
static lm_status original_plan(lm_engine *e, const lm_graph *g)
{
    lm_eplan *o = &e->original;
    size_t n = e->n + 1;
    o->n = e->n;
    o->n_skips = e->n_skips;
    o->keep = malloc(n);
    o->padding = malloc(n * sizeof *o->padding);
    o->act = malloc(n * sizeof *o->act);
    o->skip_on = malloc(e->n_skips ? e->n_skips : 1);
    if (!o->keep || !o->padding || !o->act || !o->skip_on)
        return lm_err_nomem();
    for (size_t p = 0; p < n; p++) {
        o->keep[p] = 1;
        o->padding[p] = p ? e->trunk[p].k.pad : 0;
        o->act[p] = lm_graph_position_act(g, p);
    }
    for (size_t i = 0; i < e->n_skips; i++)
        o->skip_on[i] = 1;
    return LM_OK;
}

static lm_status alloc_arrays(lm_engine *e)
{
    size_t n = e->n + 1;
    e->pos_ops = calloc(n, sizeof *e->pos_ops);
    e->trunk = calloc(n, sizeof *e->trunk);
    e->skips = calloc(e->n_skips ? e->n_skips : 1, sizeof *e->skips);
    e->conv_out = calloc(n, sizeof *e->conv_out);
    e->shape = calloc(n, sizeof *e->shape);
    e->slot = calloc(n, sizeof *e->slot);
    e->unet = calloc(n, sizeof *e->unet);
    e->own = calloc(n, sizeof *e->own);
    if (!e->pos_ops || !e->trunk || !e->skips || !e->conv_out || !e->shape ||
        !e->slot || !e->unet || !e->own)
        return lm_err_nomem();
    return LM_OK;
}

lm_status lm_engine_create_with_fetch(lm_engine **out, const lm_graph *graph,
                                      size_t batch, lm_tensor_fn fetch,
                                      void *userdata)
{
    if (!out || !graph || !fetch || batch == 0)
        return lm_err(LM_ERR_INVALID_ARG, "lm_engine_create: NULL argument "
                      "or batch 0");
    *out = NULL;
    /* sgemm takes the batch as an int (the linear layers); larger batches
     * would not fit in memory anyway. */
    if (batch > INT_MAX)
        return lm_err(LM_ERR_INVALID_ARG, "lm_engine_create: batch %zu is "
                      "above %d", batch, INT_MAX);
    if (!lm_graph_is_valid(graph))
        return lm_err(LM_ERR_STATE, "lm_engine_create: graph '%s' is not "
                      "validated", lm_graph_name(graph));
    lm_engine *e = calloc(1, sizeof *e);
    if (!e)
        return lm_err_nomem();
    e->batch = batch;
    memcpy(e->fingerprint, lm_graph_fingerprint(graph), sizeof e->fingerprint);
    e->n = lm_graph_conv_count(graph);
    e->n_skips = lm_graph_skip_count(graph);
    lm_graph_input_chw(graph, &e->input.c, &e->input.h, &e->input.w);
    lm_status st = alloc_arrays(e);
    if (st == LM_OK)
        st = lm_engine_build(e, graph, fetch, userdata);
    if (st == LM_OK)
        st = original_plan(e, graph);
    if (st == LM_OK)
        st = lm_engine_configure(e, &e->original);
    if (st != LM_OK) {
        lm_engine_destroy(e);
        return st;
    }
    *out = e;
    return LM_OK;
}

size_t lm_engine_batch(const lm_engine *e)
{
    return e ? e->batch : 0;
}

size_t lm_engine_input_size(const lm_engine *e)
{
    return e ? e->batch * (size_t)(e->input.c * e->input.h * e->input.w) : 0;
}

size_t lm_engine_output_size(const lm_engine *e)
{
    return e ? e->batch * (size_t)(e->output.c * e->output.h * e->output.w)
             : 0;
}
