/* The tensor store: life cycle, lookup by name, shapes and float access,
 * adding and replacing tensors. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/util.h"
#include "weights/weights_internal.h"

void *lm_wt_alloc(size_t nbytes)
{
    size_t units = nbytes / LM_WEIGHTS_ALIGN + 1;
    if (units > SIZE_MAX / LM_WEIGHTS_ALIGN)
        return NULL;
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    return aligned_alloc(LM_WEIGHTS_ALIGN, units * LM_WEIGHTS_ALIGN);
}

void lm_wt_tensor_free(lm_wtensor *t)
{
    free(t->name);
    free(t->shape);
    free(t->data);
    memset(t, 0, sizeof *t);
}

lm_status lm_weights_create(lm_weights **out)
{
    if (!out)
        return lm_err(LM_ERR_INVALID_ARG, "lm_weights_create: NULL out");
    *out = calloc(1, sizeof **out);
    return *out ? LM_OK : lm_err_nomem();
}

void lm_weights_destroy(lm_weights *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++)
        lm_wt_tensor_free(&w->t[i]);
    for (size_t i = 0; i < w->n_meta; i++) {
        free(w->meta[i].key);
        free(w->meta[i].value);
    }
    free(w->t);
    free(w->meta);
    free(w);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const lm_wtensor *)a)->name, ((const lm_wtensor *)b)->name);
}

void lm_wt_sort(lm_weights *w)
{
    if (w->n > 1)
        qsort(w->t, w->n, sizeof *w->t, by_name);
}

int lm_wt_bsearch(const void *base, size_t n, size_t size, size_t key_off,
                  const char *key, size_t *pos)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *at = (const char *)base + mid * size + key_off;
        int c = strcmp(*(char *const *)at, key);
        if (c == 0) {
            *pos = mid;
            return 1;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return 0;
}

static int search(const lm_weights *w, const char *name, size_t *pos)
{
    return lm_wt_bsearch(w->t, w->n, sizeof *w->t, offsetof(lm_wtensor, name),
                         name, pos);
}

const lm_wtensor *lm_wt_lookup(const lm_weights *w, const char *name,
                               const char *fn)
{
    size_t pos;
    if (!w || !name) {
        lm_err(LM_ERR_INVALID_ARG, "%s: NULL argument", fn);
        return NULL;
    }
    if (!search(w, name, &pos)) {
        lm_err(LM_ERR_NOT_FOUND, "%s: tensor '%s' not found", fn, name);
        return NULL;
    }
    return &w->t[pos];
}

/* lm_wt_lookup's failure status, recovered from its arguments. */
static lm_status lookup_status(const lm_weights *w, const char *name)
{
    return !w || !name ? LM_ERR_INVALID_ARG : LM_ERR_NOT_FOUND;
}

size_t lm_weights_tensor_count(const lm_weights *w)
{
    return w ? w->n : 0;
}

lm_status lm_weights_tensor_info(lm_tensor_info *info, const lm_weights *w,
                                 size_t index)
{
    if (!w || index >= w->n)
        return lm_err(LM_ERR_INVALID_ARG, "lm_weights_tensor_info: NULL "
                      "store, or tensor %zu out of range (%zu tensors)",
                      index, w ? w->n : 0);
    const lm_wtensor *t = &w->t[index];
    lm_tensor_info full = {.size = sizeof full, .name = t->name,
                           .dtype = lm_st_dtype_name(t->dtype),
                           .ndim = t->ndim,
                           .shape = t->ndim ? t->shape : NULL,
                           .numel = t->numel};
    return lm_sized_copy(info, &full, sizeof full, "lm_weights_tensor_info");
}

lm_status lm_weights_find(size_t *index, const lm_weights *w, const char *name)
{
    const lm_wtensor *t = lm_wt_lookup(w, name, "lm_weights_find");
    if (!t)
        return lookup_status(w, name);
    if (index)
        *index = (size_t)(t - w->t);
    return LM_OK;
}

lm_status lm_weights_shape(size_t *ndim, int64_t *dims, size_t cap,
                           const lm_weights *w, const char *name)
{
    if (!ndim)
        return lm_err(LM_ERR_INVALID_ARG, "lm_weights_shape: NULL ndim");
    const lm_wtensor *t = lm_wt_lookup(w, name, "lm_weights_shape");
    if (!t)
        return lookup_status(w, name);
    *ndim = t->ndim;
    if (!dims)
        return LM_OK;
    if (cap < t->ndim)
        return lm_err(LM_ERR_INVALID_ARG, "lm_weights_shape: tensor '%s' has "
                      "rank %zu, room for %zu", name, t->ndim, cap);
    if (t->ndim)
        memcpy(dims, t->shape, t->ndim * sizeof *dims);
    return LM_OK;
}

lm_status lm_weights_numel(size_t *numel, const lm_weights *w,
                           const char *name)
{
    const lm_wtensor *t = lm_wt_lookup(w, name, "lm_weights_numel");
    if (!t)
        return lookup_status(w, name);
    if (!numel)
        return lm_err(LM_ERR_INVALID_ARG, "lm_weights_numel: NULL numel");
    *numel = t->numel;
    return LM_OK;
}

static const lm_wtensor *float_tensor(const lm_weights *w, const char *name,
                                      const char *fn, lm_status *st)
{
    const lm_wtensor *t = lm_wt_lookup(w, name, fn);
    if (!t) {
        *st = lookup_status(w, name);
        return NULL;
    }
    if (t->dtype != LM_ST_F32) {
        *st = lm_err(LM_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s, not "
                     "a float type", fn, name, lm_st_dtype_name(t->dtype));
        return NULL;
    }
    *st = LM_OK;
    return t;
}

lm_status lm_weights_get_f32(float *dst, size_t n, const lm_weights *w,
                             const char *name)
{
    lm_status st;
    const lm_wtensor *t = float_tensor(w, name, "lm_weights_get_f32", &st);
    if (!t)
        return st;
    if (!dst && n)
        return lm_err(LM_ERR_INVALID_ARG, "lm_weights_get_f32: NULL dst");
    if (n != t->numel)
        return lm_err(LM_ERR_MISMATCH, "lm_weights_get_f32: tensor '%s' has "
                      "%zu elements, the buffer holds %zu", name, t->numel, n);
    if (n)
        memcpy(dst, t->data, n * sizeof *dst);
    return LM_OK;
}

lm_status lm_weights_data_f32(const float **data, size_t *n,
                              const lm_weights *w, const char *name)
{
    if (!data)
        return lm_err(LM_ERR_INVALID_ARG, "lm_weights_data_f32: NULL data");
    lm_status st;
    const lm_wtensor *t = float_tensor(w, name, "lm_weights_data_f32", &st);
    if (!t)
        return st;
    *data = t->data;
    if (n)
        *n = t->numel;
    return LM_OK;
}

/* ---- adding and replacing ---------------------------------------------- */

/* Length of the UTF-8 sequence at `s` that jansson and libyaml accept, or
 * 0. */
static size_t utf8_seq(const unsigned char *s)
{
    uint32_t c = s[0];
    size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2
               : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 0)
        return 0;
    if (len > 1)
        c &= 0x3fu >> (len - 1);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3fu);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) ||
        c == 0xfffe || c == 0xffff)
        return 0;
    return len;
}

lm_status lm_wt_check_text(const char *s, const char *what, size_t limit)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t len = utf8_seq(p);
        if (!len)
            return lm_err(LM_ERR_INVALID_ARG, "%s is not valid UTF-8 (byte "
                          "%zu)", what, (size_t)(p - (const unsigned char *)s));
        p += len;
    }
    if (limit && lm_st_json_escaped_len(s) > limit)
        return lm_err(LM_ERR_INVALID_ARG, "%s is longer than %zu bytes once "
                      "escaped", what, limit);
    return LM_OK;
}

static lm_status check_name(const char *name)
{
    if (!*name || !strcmp(name, "__metadata__"))
        return lm_err(LM_ERR_INVALID_ARG, "lm_weights_set_f32: tensor name "
                      "'%s' is reserved or empty", name);
    return lm_wt_check_text(name, "lm_weights_set_f32: tensor name",
                            LM_WEIGHTS_NAME_MAX);
}

static lm_status count_elements(const int64_t *shape, size_t ndim,
                                const char *name, size_t *numel)
{
    size_t n = 1;
    for (size_t d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return lm_err(LM_ERR_INVALID_ARG, "lm_weights_set_f32: tensor "
                          "'%s': dimension %zu is negative", name, d);
        if (shape[d] && n > SIZE_MAX / sizeof(float) / (uint64_t)shape[d])
            return lm_err(LM_ERR_INVALID_ARG, "lm_weights_set_f32: tensor "
                          "'%s': too many elements", name);
        n *= (size_t)shape[d];
    }
    *numel = n;
    return LM_OK;
}

/* A filled tensor record (name not set); on failure nothing is held. */
static lm_status make_tensor(lm_wtensor *t, const int64_t *shape, size_t ndim,
                             size_t numel, const float *data)
{
    memset(t, 0, sizeof *t);
    t->dtype = LM_ST_F32;
    t->ndim = ndim;
    t->numel = numel;
    t->nbytes = numel * sizeof(float);
    t->data = lm_wt_alloc(t->nbytes);
    t->shape = ndim ? malloc(ndim * sizeof *t->shape) : NULL;
    if (!t->data || (ndim && !t->shape)) {
        lm_wt_tensor_free(t);
        return lm_err_nomem();
    }
    if (ndim)
        memcpy(t->shape, shape, ndim * sizeof *shape);
    if (t->nbytes)
        memcpy(t->data, data, t->nbytes);
    return LM_OK;
}

static lm_status insert(lm_weights *w, size_t pos, lm_wtensor *t,
                        const char *name)
{
    lm_status st = LM_GROW(w->t, w->cap, w->n + 1);
    if (st == LM_OK && !(t->name = lm_strdup(name)))
        st = lm_err_nomem();
    if (st != LM_OK) {
        lm_wt_tensor_free(t);
        return st;
    }
    memmove(&w->t[pos + 1], &w->t[pos], (w->n - pos) * sizeof *w->t);
    w->t[pos] = *t;
    w->n++;
    return LM_OK;
}

lm_status lm_weights_set_f32(lm_weights *w, const char *name,
                             const int64_t *shape, size_t ndim,
                             const float *data)
{
    if (!w || !name || (!shape && ndim))
        return lm_err(LM_ERR_INVALID_ARG, "lm_weights_set_f32: NULL argument");
    size_t numel = 0;
    lm_status st = check_name(name);
    if (st == LM_OK)
        st = count_elements(shape, ndim, name, &numel);
    if (st == LM_OK && numel && !data)
        st = lm_err(LM_ERR_INVALID_ARG, "lm_weights_set_f32: tensor '%s': "
                    "NULL data", name);
    lm_wtensor t;
    if (st == LM_OK)
        st = make_tensor(&t, shape, ndim, numel, data);
    if (st != LM_OK)
        return st;
    size_t pos;
    if (!search(w, name, &pos))
        return insert(w, pos, &t, name);
    t.name = w->t[pos].name;
    w->t[pos].name = NULL;
    lm_wt_tensor_free(&w->t[pos]);
    w->t[pos] = t;
    return LM_OK;
}
