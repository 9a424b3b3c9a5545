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

/* Does `convs` form an option with entry `r`'s key? Its padding on
 * success; else LM_ERR_MISMATCH saying why. */
static lm_status subset_option(const lm_graph *g, const lm_entries *e,
                               size_t id, const size_t *convs, size_t n,
                               int64_t *padding)
{
    const lm_entry_rec *r = &e->ents[id];
    const lm_seg_rec *s = &e->segs[r->segment];
    int64_t k = 1, stride = 1, pad = 0;
    int dw = 1, strided = 0;
    size_t j = 0;
    for (size_t c = s->st + 1; c <= s->end; c++) {
        lm_conv_info ci = {.size = sizeof ci};
        lm_status st = lm_graph_conv_info(&ci, g, c);
        if (st != LM_OK)
            return st;
        int kept = j < n && convs[j] == c;
        if (!kept) {
            if (ci.in_channels != ci.out_channels || ci.stride > 1)
                return lm_err(LM_ERR_MISMATCH, "entry %zu: the subset leaves "
                              "out conv %zu, which must be kept (its channels "
                              "or stride change)", id, c);
            continue;
        }
        j++;
        if (strided && ci.kernel > 1)
            return lm_err(LM_ERR_MISMATCH, "entry %zu: conv %zu (%lldx%lld) "
                          "follows a strided conv in the subset", id, c,
                          (long long)ci.kernel, (long long)ci.kernel);
        strided |= ci.stride > 1;
        k += ci.kernel - 1;
        stride *= ci.stride;
        pad += ci.padding;
        dw &= ci.groups > 1;
    }
    if (j != n)
        return lm_err(LM_ERR_MISMATCH, "entry %zu: the subset names conv %zu, "
                      "outside the segment (%zu, %zu] or out of order", id,
                      j < n ? convs[j] : 0, s->st, s->end);
    if (n == 0 ? !r->opt.identity
               : (r->opt.identity || k != r->opt.kernel ||
                  stride != r->opt.stride || dw != r->opt.depthwise))
        return lm_err(LM_ERR_MISMATCH, "entry %zu (st %zu, end %zu, K %lld, "
                      "stride %lld, dw %d): the subset gives K %lld, stride "
                      "%lld, dw %d", id, s->st, s->end,
                      (long long)r->opt.kernel, (long long)r->opt.stride,
                      (int)r->opt.depthwise, (long long)(n ? k : 0),
                      (long long)stride, n ? dw : 1);
    *padding = pad;
    return LM_OK;
}

lm_status lm_entries_use_subset(lm_entries *e, const lm_graph *graph,
                                size_t id, const size_t *convs, size_t n)
{
    int64_t padding = 0;
    lm_status st = subset_option(graph, e, id, convs, n, &padding);
    if (st != LM_OK)
        return st;
    /* The new subset goes to the end of the pool; the old slots stay
     * unused (a few words). */
    if (LM_GROW(e->kept, e->cap_kept, e->kept_len + n + 1) != LM_OK)
        return lm_err_nomem();
    lm_option *o = &e->ents[id].opt;
    o->kept_off = e->kept_len;
    o->n_kept = n;
    o->padding = padding;
    for (size_t i = 0; i < n; i++)
        e->kept[e->kept_len++] = convs[i];
    return LM_OK;
}
