/* Plans as YAML, for trainers that read a file rather than call the API. */
#include <errno.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "io/yaml_doc.h"
#include "plan/plan_internal.h"

static lm_status kv_int(lm_yemit *y, const char *key, int64_t v)
{
    lm_status st = lm_yemit_key(y, key);
    return st != LM_OK ? st : lm_yemit_int(y, v);
}

static lm_status kv_str(lm_yemit *y, const char *key, const char *v)
{
    lm_status st = lm_yemit_key(y, key);
    return st != LM_OK ? st : lm_yemit_str(y, v);
}

static lm_status kv_bool(lm_yemit *y, const char *key, int v)
{
    lm_status st = lm_yemit_key(y, key);
    return st != LM_OK ? st : lm_yemit_bool(y, v);
}

static lm_status write_convs(lm_yemit *y, const lm_plan *p)
{
    lm_status st = lm_yemit_key(y, "convs");
    if (st == LM_OK) st = lm_yemit_seq_begin(y, 0);
    for (size_t c = 1; c <= p->n_convs && st == LM_OK; c++) {
        st = lm_yemit_map_begin(y, 1);
        if (st == LM_OK) st = kv_int(y, "conv", (int64_t)c);
        if (st == LM_OK) st = kv_bool(y, "keep", p->kept[c - 1]);
        if (st == LM_OK) st = kv_int(y, "padding", p->padding[c - 1]);
        if (st == LM_OK) st = lm_yemit_map_end(y);
    }
    return st != LM_OK ? st : lm_yemit_seq_end(y);
}

static lm_status write_positions(lm_yemit *y, const lm_plan *p)
{
    lm_status st = lm_yemit_key(y, "activations");
    if (st == LM_OK) st = lm_yemit_seq_begin(y, 0);
    for (size_t q = 1; q <= p->n_convs && st == LM_OK; q++) {
        st = lm_yemit_map_begin(y, 1);
        if (st == LM_OK) st = kv_int(y, "position", (int64_t)q);
        if (st == LM_OK) st = kv_str(y, "act", lm_act_name(p->act[q]));
        if (st == LM_OK) st = lm_yemit_map_end(y);
    }
    return st != LM_OK ? st : lm_yemit_seq_end(y);
}

static lm_status write_segments(lm_yemit *y, const lm_plan *p)
{
    lm_status st = lm_yemit_key(y, "segments");
    if (st == LM_OK) st = lm_yemit_seq_begin(y, 0);
    for (size_t i = 0; i + 1 < p->n_bounds && st == LM_OK; i++) {
        st = lm_yemit_map_begin(y, 1);
        if (st == LM_OK) st = kv_int(y, "st", (int64_t)p->bounds[i]);
        if (st == LM_OK) st = kv_int(y, "end", (int64_t)p->bounds[i + 1]);
        if (st == LM_OK) st = lm_yemit_map_end(y);
    }
    return st != LM_OK ? st : lm_yemit_seq_end(y);
}

static lm_status write_skips(lm_yemit *y, const lm_plan *p)
{
    lm_status st = lm_yemit_key(y, "skips");
    if (st == LM_OK) st = lm_yemit_seq_begin(y, 0);
    for (size_t k = 0; k < p->n_skips && st == LM_OK; k++) {
        st = lm_yemit_map_begin(y, 1);
        if (st == LM_OK) st = kv_int(y, "from", (int64_t)p->skip_src[k]);
        if (st == LM_OK) st = kv_int(y, "to", (int64_t)p->skip_dst[k]);
        if (st == LM_OK) st = kv_bool(y, "fused", p->skip_fused[k]);
        if (st == LM_OK) st = kv_bool(y, "dropped", p->skip_dropped[k]);
        if (st == LM_OK) st = lm_yemit_map_end(y);
    }
    return st != LM_OK ? st : lm_yemit_seq_end(y);
}

static lm_status write_body(lm_yemit *y, const lm_plan *p)
{
    lm_status st = lm_yemit_map_begin(y, 0);
    if (st == LM_OK) st = kv_str(y, "format", "layermerge-plan");
    if (st == LM_OK) st = kv_int(y, "version", 1);
    if (st == LM_OK) st = kv_str(y, "fingerprint", p->fingerprint);
    if (st == LM_OK) st = write_segments(y, p);
    if (st == LM_OK) st = write_convs(y, p);
    if (st == LM_OK) st = write_positions(y, p);
    if (st == LM_OK) st = write_skips(y, p);
    return st != LM_OK ? st : lm_yemit_map_end(y);
}

lm_status lm_plan_write(const lm_plan *p, FILE *fp)
{
    if (!p || !fp)
        return lm_err(LM_ERR_INVALID_ARG, "lm_plan_write: NULL argument");
    lm_yemit *y = NULL;
    lm_status st = lm_yemit_begin(&y, fp);
    if (st != LM_OK)
        return st;
    st = write_body(y, p);
    if (st != LM_OK) {
        lm_yemit_abort(y);
        return st;
    }
    st = lm_yemit_end(y);
    if (st == LM_OK && (fflush(fp) != 0 || ferror(fp)))
        st = lm_err(LM_ERR_IO, "writing plan YAML: %s", strerror(errno));
    return st;
}

lm_status lm_plan_save(const lm_plan *p, const char *path)
{
    if (!p || !path)
        return lm_err(LM_ERR_INVALID_ARG, "lm_plan_save: NULL argument");
    lm_atomic_file af;
    lm_status st = lm_atomic_open(&af, path);
    if (st != LM_OK)
        return st;
    st = lm_plan_write(p, af.fp);
    if (st != LM_OK) {
        lm_atomic_abort(&af);
        return lm_err_prefix(st, "saving plan to %s: ", path);
    }
    return lm_atomic_commit(&af);
}
