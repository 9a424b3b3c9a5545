/* Writing a result as YAML (lm_result_save); the layout is read back by
 * result_load.c and described in docs/solvers.md ("Result files"). */
#include "core/error.h"
#include "io/yaml_doc.h"
#include "solve/result_internal.h"

/* Positions p in 1..N whose flags hold `f`, as a flow sequence. */
static lm_status y_positions(lm_yemit *y, const lm_result *r, const char *key,
                             uint8_t f)
{
    lm_status st = lm_yemit_key(y, key);
    if (st == LM_OK)
        st = lm_yemit_seq_begin(y, 1);
    for (size_t p = 1; p <= r->n_convs && st == LM_OK; p++)
        if (r->flags[p] & f)
            st = lm_yemit_int(y, (int64_t)p);
    return st != LM_OK ? st : lm_yemit_seq_end(y);
}

static lm_status y_segment(lm_yemit *y, const void *obj, size_t i)
{
    const lm_rseg *s = &((const lm_result *)obj)->segs[i];
    lm_status st = lm_yemit_map_begin(y, 1);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "st", (int64_t)s->st);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "end", (int64_t)s->end);
    if (st == LM_OK && s->entry != SIZE_MAX)
        st = lm_yemit_kv_int(y, "entry", (int64_t)s->entry);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "ker", s->kernel);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "str", s->stride);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "is_dw", s->depthwise);
    if (st == LM_OK) st = lm_yemit_kv_double(y, "latency", s->latency);
    if (st == LM_OK) st = lm_yemit_kv_double(y, "importance", s->importance);
    if (st == LM_OK) st = lm_yemit_kv_sizes(y, "convs", s->kept, s->n_kept);
    return st != LM_OK ? st : lm_yemit_map_end(y);
}

static lm_status y_header(lm_yemit *y, const lm_result *r)
{
    lm_status st = lm_yemit_kv_str(y, "format", "layermerge-result");
    if (st == LM_OK) st = lm_yemit_kv_int(y, "version", 1);
    if (st == LM_OK)
        st = lm_yemit_kv_str(y, "method", lm_method_name(r->method));
    if (st == LM_OK) st = lm_yemit_kv_str(y, "fingerprint", r->fingerprint);
    if (st == LM_OK)
        st = lm_yemit_kv_int(y, "conv_count", (int64_t)r->n_convs);
    if (st == LM_OK) st = lm_yemit_kv_double(y, "budget", r->budget);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "budget_units", r->budget_units);
    if (st == LM_OK) st = lm_yemit_kv_double(y, "precision", r->precision);
    if (st == LM_OK)
        st = lm_yemit_kv_str(y, "rounding", r->rounding == LM_ROUNDING_FLOOR
                                                ? "floor"
                                                : "ceil");
    if (st == LM_OK) st = lm_yemit_kv_double(y, "importance", r->importance);
    if (st == LM_OK) st = lm_yemit_kv_double(y, "latency", r->latency);
    if (st == LM_OK)
        st = lm_yemit_kv_double(y, "fixed_latency", r->fixed);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "latency_discrete", r->units);
    return st;
}

static lm_status y_body(lm_yemit *y, const void *obj)
{
    const lm_result *r = obj;
    lm_status st = lm_yemit_map_begin(y, 0);
    if (st == LM_OK) st = y_header(y, r);
    if (st == LM_OK) st = y_positions(y, r, "activations", LM_RF_ACT);
    if (st == LM_OK) st = y_positions(y, r, "convs", LM_RF_CONV);
    if (st == LM_OK) st = y_positions(y, r, "merges", LM_RF_BOUNDARY);
    if (st == LM_OK)
        st = lm_yemit_kv_seq(y, "segments", 0, r->n_segs, y_segment, r);
    return st != LM_OK ? st : lm_yemit_map_end(y);
}

lm_status lm_result_save(const lm_result *r, const char *path)
{
    if (!r || !path)
        return lm_err(LM_ERR_INVALID_ARG, "lm_result_save: NULL argument");
    return lm_yemit_save(path, y_body, r, "result");
}
