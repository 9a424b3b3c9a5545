/* Private: the tensor store's layout, shared by its files. */
#ifndef LM_WEIGHTS_INTERNAL_H
#define LM_WEIGHTS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "io/safetensors.h"
#include "core/attr.h"
#include "layermerge/weights.h"

/* Storage alignment: enough for any SIMD load the engine may use. */
#define LM_WEIGHTS_ALIGN 64

/* Longest name or metadata key, JSON-escaped. The reader (jansson) has no
 * such limit, but builds that read headers with libyaml refuse a mapping
 * key longer than 1024 characters: the limit keeps every file written
 * readable by them. */
#define LM_WEIGHTS_NAME_MAX 1000

typedef struct lm_wtensor {
    char *name;
    lm_st_dtype dtype;  /* LM_ST_F32 for every float tensor */
    size_t ndim;
    int64_t *shape;     /* ndim entries (NULL when ndim is 0) */
    size_t numel;
    size_t nbytes;
    void *data;         /* LM_WEIGHTS_ALIGN-aligned, never NULL */
} lm_wtensor;

struct lm_weights {
    lm_wtensor *t;      /* sorted by name (strcmp) */
    size_t n, cap;
    lm_st_meta *meta;   /* sorted by key */
    size_t n_meta, meta_cap;
};

/* Aligned block of at least `nbytes` (and at least one alignment unit),
 * freed with free(); NULL on failure. */
void *lm_wt_alloc(size_t nbytes);

void lm_wt_tensor_free(lm_wtensor *t);

/* The tensor called `name`, or NULL with LM_ERR_NOT_FOUND recorded. */
const lm_wtensor *lm_wt_lookup(const lm_weights *w, const char *name,
                               const char *fn);

/* LM_ERR_INVALID_ARG unless `s` is valid UTF-8 that every reader of the
 * header reads back (no surrogates; no U+FFFE/U+FFFF, which the libyaml
 * reader of earlier builds refuses) and, when `limit` is non-zero, at
 * most `limit` bytes once JSON-escaped. `what` names it in the message. */
LM_NODISCARD
lm_status lm_wt_check_text(const char *s, const char *what, size_t limit);

/* Sort w->t by name after a bulk fill (names are known to be distinct). */
void lm_wt_sort(lm_weights *w);
/* Binary search of the sorted array `base` (n records of `size` bytes,
 * each with a `char *` key at `key_off`): 1 and *pos = the index when
 * found, else 0 and *pos = where `key` would be inserted. */
int lm_wt_bsearch(const void *base, size_t n, size_t size, size_t key_off,
                  const char *key, size_t *pos);

#endif
