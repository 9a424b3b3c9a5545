/* Plans as YAML, for trainers that read a file rather than call the API. */
#include "core/error.h"
#include "core/stream.h"
#include "io/yaml_doc.h"
#include "plan/plan_internal.h"

/* Each list item is a one-line flow mapping, so a plan reads like a table;
 * positions and convs are 1-based. */
static lm_status conv_item(lm_yemit *y, const void *obj, size_t i)
{
    const lm_plan *p = obj;
    lm_status st = lm_yemit_map_begin(y, 1);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "conv", (int64_t)i + 1);
    if (st == LM_OK) st = lm_yemit_kv_bool(y, "keep", p->kept[i]);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "padding", p->padding[i]);
    return st != LM_OK ? st : lm_yemit_map_end(y);
}

static lm_status position_item(lm_yemit *y, const void *obj, size_t i)
{
    const lm_plan *p = obj;
    lm_status st = lm_yemit_map_begin(y, 1);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "position", (int64_t)i + 1);
    if (st == LM_OK)
        st = lm_yemit_kv_str(y, "act", lm_act_name(p->act[i + 1]));
    return st != LM_OK ? st : lm_yemit_map_end(y);
}

static lm_status segment_item(lm_yemit *y, const void *obj, size_t i)
{
    const lm_plan *p = obj;
    lm_status st = lm_yemit_map_begin(y, 1);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "st", (int64_t)p->bounds[i]);
    if (st == LM_OK)
        st = lm_yemit_kv_int(y, "end", (int64_t)p->bounds[i + 1]);
    return st != LM_OK ? st : lm_yemit_map_end(y);
}

/* key: [height, width] */
static lm_status size_pair(lm_yemit *y, const char *key, int64_t h, int64_t w)
{
    lm_status st = lm_yemit_key(y, key);
    if (st == LM_OK) st = lm_yemit_seq_begin(y, 1);
    if (st == LM_OK) st = lm_yemit_int(y, h);
    if (st == LM_OK) st = lm_yemit_int(y, w);
    return st != LM_OK ? st : lm_yemit_seq_end(y);
}

/* The skip's size fitting during fine-tuning (lm_plan_skip). */
static lm_status skip_fit(lm_yemit *y, const lm_plan_skip *f)
{
    lm_status st = lm_yemit_kv_int(y, "stride", f->stride);
    if (st == LM_OK)
        st = size_pair(y, "source_size", f->source_height, f->source_width);
    if (st == LM_OK)
        st = size_pair(y, "target_size", f->target_height, f->target_width);
    if (st == LM_OK) st = lm_yemit_key(y, "pad");
    if (st == LM_OK) st = lm_yemit_map_begin(y, 1);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "top", f->pad_top);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "bottom", f->pad_bottom);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "left", f->pad_left);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "right", f->pad_right);
    return st != LM_OK ? st : lm_yemit_map_end(y);
}

static lm_status skip_item(lm_yemit *y, const void *obj, size_t k)
{
    const lm_plan *p = obj;
    lm_status st = lm_yemit_map_begin(y, 1);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "from", (int64_t)p->skip_src[k]);
    if (st == LM_OK) st = lm_yemit_kv_int(y, "to", (int64_t)p->skip_dst[k]);
    /* Written for concatenations only: classifier plans read as before. */
    if (st == LM_OK && p->skip_fit[k].concat)
        st = lm_yemit_kv_str(y, "mode", "concat");
    if (st == LM_OK) st = lm_yemit_kv_bool(y, "fused", p->skip_fused[k]);
    if (st == LM_OK)
        st = lm_yemit_kv_bool(y, "dropped", p->skip_dropped[k]);
    if (st == LM_OK) st = skip_fit(y, &p->skip_fit[k]);
    return st != LM_OK ? st : lm_yemit_map_end(y);
}

static lm_status write_body(lm_yemit *y, const void *obj)
{
    const lm_plan *p = obj;
    lm_status st = lm_yemit_map_begin(y, 0);
    if (st == LM_OK) st = lm_yemit_kv_str(y, "format", "layermerge-plan");
    if (st == LM_OK) st = lm_yemit_kv_int(y, "version", 1);
    if (st == LM_OK) st = lm_yemit_kv_str(y, "fingerprint", p->fingerprint);
    size_t n_segs = p->n_bounds ? p->n_bounds - 1 : 0;
    if (st == LM_OK)
        st = lm_yemit_kv_seq(y, "segments", 0, n_segs, segment_item, p);
    if (st == LM_OK)
        st = lm_yemit_kv_seq(y, "convs", 0, p->n_convs, conv_item, p);
    if (st == LM_OK)
        st = lm_yemit_kv_seq(y, "activations", 0, p->n_convs, position_item,
                             p);
    if (st == LM_OK)
        st = lm_yemit_kv_seq(y, "skips", 0, p->n_skips, skip_item, p);
    return st != LM_OK ? st : lm_yemit_map_end(y);
}

static lm_status write_stream(FILE *fp, const void *obj)
{
    return lm_yemit_write(fp, write_body, obj, "plan");
}

lm_status lm_plan_write(const lm_plan *p, lm_write_fn write, void *userdata)
{
    if (!p || !write)
        return lm_err(LM_ERR_INVALID_ARG, "lm_plan_write: NULL argument");
    return lm_stream_to_callback(write, userdata, write_stream, p, "plan");
}

lm_status lm_plan_save(const lm_plan *p, const char *path)
{
    if (!p || !path)
        return lm_err(LM_ERR_INVALID_ARG, "lm_plan_save: NULL argument");
    return lm_yemit_save(path, write_body, p, "plan");
}
