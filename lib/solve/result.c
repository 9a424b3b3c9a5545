/* lm_result and lm_front: construction and the public accessors. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/util.h"
#include "solve/result_internal.h"
#include "solve/result_query.h"

lm_status lm_result_new(lm_result **out, lm_method method, size_t n_convs,
                        size_t n_segs, const char *fingerprint)
{
    *out = NULL;
    lm_result *r = calloc(1, sizeof *r);
    if (!r)
        return lm_err_nomem();
    r->method = method;
    r->n_convs = n_convs;
    r->n_segs = n_segs;
    r->fingerprint = lm_strdup(fingerprint ? fingerprint : "");
    r->flags = calloc(n_convs + 1, 1);
    r->segs = calloc(n_segs ? n_segs : 1, sizeof *r->segs);
    if (!r->fingerprint || !r->flags || !r->segs) {
        lm_result_destroy(r);
        return lm_err_nomem();
    }
    for (size_t i = 0; i < n_segs; i++)
        r->segs[i].entry = SIZE_MAX;
    *out = r;
    return LM_OK;
}

lm_status lm_rseg_set_kept(lm_rseg *s, const size_t *kept, size_t n)
{
    free(s->kept);
    s->kept = NULL;
    s->n_kept = 0;
    if (n == 0)
        return LM_OK;
    s->kept = malloc(n * sizeof *s->kept);
    if (!s->kept)
        return lm_err_nomem();
    memcpy(s->kept, kept, n * sizeof *kept);
    s->n_kept = n;
    return LM_OK;
}

void lm_result_mark_segments(lm_result *r)
{
    for (size_t i = 0; i < r->n_segs; i++) {
        const lm_rseg *s = &r->segs[i];
        for (size_t k = 0; k < s->n_kept; k++)
            if (s->kept[k] >= 1 && s->kept[k] <= r->n_convs)
                r->flags[s->kept[k]] |= LM_RF_CONV;
        if (s->end >= 1 && s->end <= r->n_convs)
            r->flags[s->end] |= LM_RF_BOUNDARY;
    }
}

lm_status lm_result_check_partition(const lm_result *r)
{
    size_t at = 0;
    for (size_t i = 0; i < r->n_segs; i++) {
        const lm_rseg *s = &r->segs[i];
        if (s->st != at || s->end <= s->st || s->end > r->n_convs)
            return lm_err(LM_ERR_INVALID_ARG, "segment %zu (%zu, %zu) does not "
                          "continue the partition of 0..%zu at position %zu",
                          i, s->st, s->end, r->n_convs, at);
        for (size_t k = 0; k < s->n_kept; k++)
            if (s->kept[k] <= s->st || s->kept[k] > s->end ||
                (k > 0 && s->kept[k] <= s->kept[k - 1]))
                return lm_err(LM_ERR_INVALID_ARG, "segment %zu (%zu, %zu): "
                              "kept conv %zu is outside it or out of order",
                              i, s->st, s->end, s->kept[k]);
        at = s->end;
    }
    if (at != r->n_convs)
        return lm_err(LM_ERR_INVALID_ARG, "segments end at position %zu, not "
                      "at %zu", at, r->n_convs);
    return LM_OK;
}

void lm_result_destroy(lm_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; r->segs && i < r->n_segs; i++)
        free(r->segs[i].kept);
    free(r->segs);
    free(r->flags);
    free(r->fingerprint);
    free(r);
}

lm_method lm_result_method(const lm_result *r)
{
    return r ? r->method : LM_METHOD_LAYERMERGE;
}

lm_rounding lm_result_rounding(const lm_result *r)
{
    return r ? r->rounding : LM_ROUNDING_CEIL;
}

double lm_result_importance(const lm_result *r) { return r ? r->importance : 0.0; }
double lm_result_latency(const lm_result *r) { return r ? r->latency : 0.0; }
double lm_result_fixed_latency(const lm_result *r) { return r ? r->fixed : 0.0; }
int64_t lm_result_latency_units(const lm_result *r) { return r ? r->units : 0; }
double lm_result_budget(const lm_result *r) { return r ? r->budget : 0.0; }
int64_t lm_result_budget_units(const lm_result *r) { return r ? r->budget_units : 0; }
double lm_result_precision(const lm_result *r) { return r ? r->precision : 0.0; }
size_t lm_result_conv_count(const lm_result *r) { return r ? r->n_convs : 0; }
size_t lm_result_segment_count(const lm_result *r) { return r ? r->n_segs : 0; }

const char *lm_result_fingerprint(const lm_result *r)
{
    return r ? r->fingerprint : "";
}

/* The record is copied within info->size bytes (lm_sized_copy): a caller
 * built against an older, smaller record gets the fields it knows. */
lm_status lm_result_segment_info(lm_result_segment *info, const lm_result *r,
                                 size_t index)
{
    if (!r)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_result_segment_info: NULL result");
    if (index >= r->n_segs)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_result_segment_info: segment %zu out "
                      "of range (%zu segments)",
                      index, r->n_segs);
    const lm_rseg *s = &r->segs[index];
    lm_result_segment full = {.size = sizeof full,
                              .st = s->st,
                              .end = s->end,
                              .entry = s->entry,
                              .kernel = s->kernel,
                              .stride = s->stride,
                              .depthwise = s->depthwise,
                              .identity = s->identity,
                              .latency = s->latency,
                              .importance = s->importance,
                              .n_kept = s->n_kept,
                              .kept = s->kept};
    return lm_sized_copy(info, &full, sizeof full, "lm_result_segment_info");
}

static int flag(const lm_result *r, size_t p, uint8_t f)
{
    return r && p >= 1 && p <= r->n_convs && (r->flags[p] & f) != 0;
}

int lm_result_keeps_conv(const lm_result *r, size_t conv)
{
    return flag(r, conv, LM_RF_CONV);
}

int lm_result_keeps_act(const lm_result *r, size_t position)
{
    return flag(r, position, LM_RF_ACT);
}

int lm_result_boundary_at(const lm_result *r, size_t position)
{
    return flag(r, position, LM_RF_BOUNDARY);
}

lm_status lm_result_conv_info(lm_result_conv *info, const lm_result *r,
                              size_t conv)
{
    if (!r)
        return lm_err(LM_ERR_INVALID_ARG, "lm_result_conv_info: NULL "
                      "result");
    if (conv < 1 || conv > r->n_convs)
        return lm_err(LM_ERR_INVALID_ARG, "lm_result_conv_info: conv %zu out "
                      "of range 1..%zu", conv, r->n_convs);
    lm_result_conv full = {.size = sizeof full,
                           .kept = flag(r, conv, LM_RF_CONV)};
    for (size_t i = 0; i < r->n_segs; i++)
        if (r->segs[i].st < conv && conv <= r->segs[i].end)
            full.segment = i;
    return lm_sized_copy(info, &full, sizeof full, "lm_result_conv_info");
}

lm_status lm_result_position_info(lm_result_position *info,
                                  const lm_result *r, size_t position)
{
    if (!r)
        return lm_err(LM_ERR_INVALID_ARG, "lm_result_position_info: NULL "
                      "result");
    if (position < 1 || position > r->n_convs)
        return lm_err(LM_ERR_INVALID_ARG, "lm_result_position_info: position "
                      "%zu out of range 1..%zu", position, r->n_convs);
    lm_result_position full = {
        .size = sizeof full,
        .is_boundary = flag(r, position, LM_RF_BOUNDARY),
        .activation_kept = flag(r, position, LM_RF_ACT)};
    return lm_sized_copy(info, &full, sizeof full, "lm_result_position_info");
}

void lm_front_destroy(lm_front *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++)
        lm_result_destroy(f->items[i]);
    free(f->items);
    free(f);
}

size_t lm_front_count(const lm_front *f) { return f ? f->n : 0; }

const lm_result *lm_front_get(const lm_front *f, size_t index)
{
    return f && index < f->n ? f->items[index] : NULL;
}
