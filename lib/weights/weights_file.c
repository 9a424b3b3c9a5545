/* Loading a store from a safetensors file and saving one atomically. */
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/util.h"
#include "weights/weights_internal.h"

/* Read tensor `i` of `f` into `t`: float dtypes become host F32, others
 * stay raw. The file's bytes may sit at any alignment; ours are aligned. */
static lm_status load_tensor(lm_st_file *f, size_t i, lm_wtensor *t)
{
    const lm_st_tensor *s = &f->tensors[i];
    size_t raw = (size_t)(s->end - s->begin);
    int is_float = lm_st_dtype_is_float(s->dtype);
    t->dtype = is_float ? LM_ST_F32 : s->dtype;
    t->ndim = s->ndim;
    t->numel = (size_t)s->numel;
    t->nbytes = is_float ? t->numel * sizeof(float) : raw;
    t->name = lm_strdup(s->name);
    t->shape = s->ndim ? malloc(s->ndim * sizeof *t->shape) : NULL;
    t->data = lm_wt_alloc(t->nbytes);
    /* F32 decodes in place; wider or narrower types need a staging copy. */
    void *stage = s->dtype == LM_ST_F32 || !is_float ? t->data : malloc(raw + 1);
    if (!t->name || (s->ndim && !t->shape) || !t->data || !stage) {
        if (stage != t->data)
            free(stage);
        return lm_err_nomem();
    }
    if (s->ndim)
        memcpy(t->shape, s->shape, s->ndim * sizeof *t->shape);
    lm_status st = lm_st_read_raw(f, i, stage);
    if (st == LM_OK && is_float)
        lm_st_to_f32(s->dtype, stage, t->numel, t->data);
    if (stage != t->data)
        free(stage);
    return st;
}

static lm_status take_meta(lm_weights *w, lm_st_file *f)
{
    for (size_t i = 0; i < f->n_meta; i++) {
        lm_status st = lm_weights_meta_set(w, f->meta[i].key, f->meta[i].value);
        if (st != LM_OK)
            return lm_err_prefix(st, "%s: ", f->source);
    }
    return LM_OK;
}

static lm_status load_all(lm_weights *w, lm_st_file *f)
{
    if (f->n_tensors > SIZE_MAX / sizeof *w->t)
        return lm_err_nomem();
    w->t = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *w->t);
    if (!w->t)
        return lm_err_nomem();
    w->cap = f->n_tensors ? f->n_tensors : 1;
    for (size_t i = 0; i < f->n_tensors; i++) {
        w->n = i + 1; /* so that destroy frees a partial record */
        lm_status st = load_tensor(f, i, &w->t[i]);
        if (st != LM_OK)
            return st;
    }
    lm_wt_sort(w);
    return take_meta(w, f);
}

lm_status lm_weights_load(lm_weights **out, const char *path)
{
    if (!out || !path)
        return lm_err(LM_ERR_INVALID_ARG, "lm_weights_load: NULL argument");
    *out = NULL;
    lm_st_file f;
    lm_status st = lm_st_open(&f, path);
    if (st != LM_OK)
        return st;
    lm_weights *w = NULL;
    st = lm_weights_create(&w);
    if (st == LM_OK)
        st = load_all(w, &f);
    lm_st_close(&f);
    if (st != LM_OK) {
        lm_weights_destroy(w);
        return st;
    }
    *out = w;
    return LM_OK;
}

lm_status lm_weights_save(const lm_weights *w, const char *path)
{
    if (!w || !path)
        return lm_err(LM_ERR_INVALID_ARG, "lm_weights_save: NULL argument");
    lm_st_out *outs = calloc(w->n ? w->n : 1, sizeof *outs);
    if (!outs)
        return lm_err_nomem();
    for (size_t i = 0; i < w->n; i++)
        outs[i] = (lm_st_out){w->t[i].name, w->t[i].dtype, w->t[i].ndim,
                              w->t[i].shape, w->t[i].data, w->t[i].nbytes};
    lm_atomic_file af;
    lm_status st = lm_atomic_open(&af, path);
    if (st == LM_OK) {
        st = lm_st_write(af.fp, path, outs, w->n, w->meta, w->n_meta);
        if (st == LM_OK)
            st = lm_atomic_commit(&af);
        else
            lm_atomic_abort(&af);
    }
    free(outs);
    return st;
}
