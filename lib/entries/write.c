/* Writing an entry list as CSV (the authors' table columns plus what a
 * latency timer needs) or YAML. */
#include <errno.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/stream.h"
#include "entries/entries_private.h"
#include "io/yaml_doc.h"

static void csv_row(FILE *fp, const lm_entries *e, size_t id)
{
    const lm_entry_rec *r = &e->ents[id];
    const lm_seg_rec *s = &e->segs[r->segment];
    fprintf(fp, "%zu,%zu,%zu,%lld,%lld,%d,%lld,%lld,%lld,%lld,%lld,", id,
            s->st, s->end, (long long)r->opt.kernel, (long long)r->opt.stride,
            (int)r->opt.depthwise, (long long)r->in_c, (long long)r->out_c,
            (long long)r->in_h, (long long)r->in_w, (long long)r->opt.padding);
    /* Space-separated, so the field never needs quoting. */
    for (size_t k = 0; k < r->opt.n_kept; k++)
        fprintf(fp, k ? " %zu" : "%zu", e->kept[r->opt.kept_off + k]);
    fputc('\n', fp);
}

static lm_status write_csv(const lm_entries *e, FILE *fp)
{
    fputs("id,st,end,ker,str,is_dw,in_ch,out_ch,in_h,in_w,pad,convs\n", fp);
    for (size_t i = 0; i < e->n_ents; i++)
        csv_row(fp, e, i);
    if (fflush(fp) != 0 || ferror(fp))
        return lm_err(LM_ERR_IO, "writing entries CSV: %s", strerror(errno));
    return LM_OK;
}

static lm_status y_segment(lm_yemit *y, const void *obj, size_t i)
{
    const lm_seg_rec *s = &((const lm_entries *)obj)->segs[i];
    lm_status st = lm_yemit_map_begin(y, 1);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "st", (int64_t)s->st);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "end", (int64_t)s->end);
    if (st == LM_OK)
        st = lm_yemit_kv_int(y, "first_entry", (int64_t)s->first);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "entries", (int64_t)s->count);
    return st != LM_OK ? st : lm_yemit_map_end(y);
}

static lm_status y_entry(lm_yemit *y, const void *obj, size_t id)
{
    const lm_entries *e = obj;
    const lm_entry_rec *r = &e->ents[id];
    const lm_seg_rec *s = &e->segs[r->segment];
    lm_status st = lm_yemit_map_begin(y, 1);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "id", (int64_t)id);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "st", (int64_t)s->st);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "end", (int64_t)s->end);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "kernel", r->opt.kernel);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "stride", r->opt.stride);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "padding", r->opt.padding);
    if (st == LM_OK) st = lm_yemit_kv_bool(y, "depthwise", r->opt.depthwise);
    if (st == LM_OK) st = lm_yemit_kv_bool(y, "identity", r->opt.identity);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "in_channels", r->in_c);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "out_channels", r->out_c);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "in_height", r->in_h);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "in_width", r->in_w);
    if (st == LM_OK)
        st = lm_yemit_kv_sizes(y, "convs", e->kept + r->opt.kept_off,
                               r->opt.n_kept);
    return st != LM_OK ? st : lm_yemit_map_end(y);
}

static lm_status y_body(lm_yemit *y, const void *obj)
{
    const lm_entries *e = obj;
    lm_status st = lm_yemit_map_begin(y, 0);
    if (st == LM_OK) st = lm_yemit_kv_str(y, "format", "layermerge-entries");
    if (st == LM_OK) st = lm_yemit_kv_int(y, "version", 1);
    if (st == LM_OK) st = lm_yemit_kv_str(y, "graph", e->graph_name);
    if (st == LM_OK) st = lm_yemit_kv_str(y, "fingerprint", e->fingerprint);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "convs", (int64_t)e->n_convs);
    if (st == LM_OK)
        st = lm_yemit_kv_seq(y, "segments", 0, e->n_segs, y_segment, e);
    if (st == LM_OK)
        st = lm_yemit_kv_seq(y, "entries", 0, e->n_ents, y_entry, e);
    return st != LM_OK ? st : lm_yemit_map_end(y);
}

static lm_status write_stream(const lm_entries *e, FILE *fp,
                              lm_entries_format format)
{
    if (format == LM_ENTRIES_CSV)
        return write_csv(e, fp);
    return lm_yemit_write(fp, y_body, e, "entries");
}

/* lm_atomic_save and lm_stream_to_callback hand their writer one object. */
typedef struct entries_job {
    const lm_entries *e;
    lm_entries_format format;
} entries_job;

static lm_status write_job(FILE *fp, const void *obj)
{
    const entries_job *j = obj;
    return write_stream(j->e, fp, j->format);
}

lm_status lm_entries_write(const lm_entries *e, lm_entries_format format,
                           lm_write_fn write, void *userdata)
{
    if (!e || !write)
        return lm_err(LM_ERR_INVALID_ARG, "lm_entries_write: NULL argument");
    if (format != LM_ENTRIES_CSV && format != LM_ENTRIES_YAML)
        return lm_err(LM_ERR_INVALID_ARG, "unknown entries format %d",
                      (int)format);
    entries_job job = {e, format};
    return lm_stream_to_callback(write, userdata, write_job, &job, "entries");
}

lm_status lm_entries_save(const lm_entries *e, const char *path,
                          lm_entries_format format)
{
    if (!e || !path)
        return lm_err(LM_ERR_INVALID_ARG, "lm_entries_save: NULL argument");
    if (format != LM_ENTRIES_CSV && format != LM_ENTRIES_YAML)
        return lm_err(LM_ERR_INVALID_ARG, "unknown entries format %d",
                      (int)format);
    entries_job job = {e, format};
    return lm_atomic_save(path, "entries", write_job, &job);
}
