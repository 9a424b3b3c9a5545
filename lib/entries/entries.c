/* Reading an entry list: counts, records, lookup by key. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/record.h"
#include "core/util.h"
#include "entries/entries_private.h"

void lm_entries_destroy(lm_entries *e)
{
    if (!e)
        return;
    free(e->fingerprint);
    free(e->graph_name);
    free(e->segs);
    free(e->ents);
    free(e->kept);
    free(e->original);
    free(e);
}

size_t lm_entries_conv_count(const lm_entries *e)
{
    return e ? e->n_convs : 0;
}

size_t lm_entries_segment_count(const lm_entries *e)
{
    return e ? e->n_segs : 0;
}

size_t lm_entries_count(const lm_entries *e)
{
    return e ? e->n_ents : 0;
}

const char *lm_entries_fingerprint(const lm_entries *e)
{
    return e && e->fingerprint ? e->fingerprint : "";
}

const char *lm_entries_graph_name(const lm_entries *e)
{
    return e && e->graph_name ? e->graph_name : "";
}

lm_status lm_entries_segment_info(lm_segment_info *info, const lm_entries *e,
                                  size_t segment)
{
    if (!e)
        return lm_err(LM_ERR_INVALID_ARG, "lm_entries_segment_info: NULL "
                      "entries");
    if (segment >= e->n_segs)
        return lm_err(LM_ERR_INVALID_ARG, "segment %zu out of range "
                      "(%zu segments)", segment, e->n_segs);
    const lm_seg_rec *r = &e->segs[segment];
    lm_segment_info full = {sizeof full, r->st, r->end, r->first, r->count};
    return lm_sized_copy(info, &full, sizeof full, "lm_entries_segment_info");
}

lm_status lm_entries_entry_info(lm_entry_info *info, const lm_entries *e,
                                size_t id)
{
    if (!e)
        return lm_err(LM_ERR_INVALID_ARG, "lm_entries_entry_info: NULL "
                      "entries");
    if (id >= e->n_ents)
        return lm_err(LM_ERR_INVALID_ARG, "entry id %zu out of range "
                      "(%zu entries)", id, e->n_ents);
    const lm_entry_rec *r = &e->ents[id];
    const lm_seg_rec *s = &e->segs[r->segment];
    lm_entry_info full = {
        .size = sizeof full, .id = id, .segment = r->segment,
        .st = s->st, .end = s->end, .kernel = r->opt.kernel,
        .stride = r->opt.stride, .padding = r->opt.padding,
        .depthwise = r->opt.depthwise, .identity = r->opt.identity,
        .in_channels = r->in_c, .out_channels = r->out_c,
        .in_height = r->in_h, .in_width = r->in_w,
        .n_kept = r->opt.n_kept,
        .kept = r->opt.n_kept ? e->kept + r->opt.kept_off : NULL,
    };
    return lm_sized_copy(info, &full, sizeof full, "lm_entries_entry_info");
}

lm_status lm_entries_entry_key(lm_entry_key *key, const lm_entries *e,
                               size_t id)
{
    if (!e)
        return lm_err(LM_ERR_INVALID_ARG, "lm_entries_entry_key: NULL "
                      "entries");
    if (id >= e->n_ents)
        return lm_err(LM_ERR_INVALID_ARG, "entry id %zu out of range "
                      "(%zu entries)", id, e->n_ents);
    const lm_entry_rec *r = &e->ents[id];
    const lm_seg_rec *s = &e->segs[r->segment];
    lm_entry_key full = {.size = sizeof full, .st = s->st, .end = s->end,
                         .kernel = r->opt.kernel, .stride = r->opt.stride,
                         .depthwise = r->opt.depthwise};
    return lm_sized_copy(key, &full, sizeof full, "lm_entries_entry_key");
}

/* Segments are sorted by (st, end): binary search. */
static const lm_seg_rec *find_segment(const lm_entries *e, size_t st,
                                      size_t end)
{
    size_t lo = 0, hi = e->n_segs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const lm_seg_rec *r = &e->segs[mid];
        if (r->st < st || (r->st == st && r->end < end))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < e->n_segs && e->segs[lo].st == st && e->segs[lo].end == end)
        return &e->segs[lo];
    return NULL;
}

lm_status lm_entries_find(size_t *id, const lm_entries *e,
                          const lm_entry_key *key)
{
    if (!e || !id)
        return lm_err(LM_ERR_INVALID_ARG, "lm_entries_find: NULL argument");
    lm_status status = lm_record_check(key, sizeof *key, "lm_entries_find");
    if (status != LM_OK)
        return status;
    size_t st = key->st, end = key->end;
    int64_t kernel = key->kernel, stride = key->stride;
    int depthwise = key->depthwise;
    const lm_seg_rec *s = find_segment(e, st, end);
    for (size_t i = s ? s->first : 0; s && i < s->first + s->count; i++) {
        const lm_option *o = &e->ents[i].opt;
        if (o->kernel == kernel && o->stride == stride &&
            o->depthwise == (depthwise != 0)) {
            *id = i;
            return LM_OK;
        }
    }
    return lm_err(LM_ERR_NOT_FOUND, "no entry with key (st=%zu, end=%zu, "
                  "ker=%lld, str=%lld, is_dw=%d)%s", st, end, (long long)kernel,
                  (long long)stride, depthwise != 0,
                  s ? "" : ": not a valid segment");
}

lm_status lm_entries_find_original(size_t *id, const lm_entries *e,
                                   size_t conv)
{
    if (!e || !id)
        return lm_err(LM_ERR_INVALID_ARG, "lm_entries_find_original: NULL "
                      "argument");
    if (conv < 1 || conv > e->n_convs)
        return lm_err(LM_ERR_INVALID_ARG, "conv %zu out of range 1..%zu",
                      conv, e->n_convs);
    *id = e->original[conv - 1];
    return LM_OK;
}
