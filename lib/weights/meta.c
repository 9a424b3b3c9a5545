/* The store's metadata: the file's "__metadata__" string map, kept sorted
 * by key so that saved headers are deterministic. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/util.h"
#include "weights/weights_internal.h"

size_t lm_weights_meta_count(const lm_weights *w)
{
    return w ? w->n_meta : 0;
}

const char *lm_weights_meta_key(const lm_weights *w, size_t index)
{
    return w && index < w->n_meta ? w->meta[index].key : NULL;
}

static int meta_search(const lm_weights *w, const char *key, size_t *pos)
{
    return lm_wt_bsearch(w->meta, w->n_meta, sizeof *w->meta,
                         offsetof(lm_st_meta, key), key, pos);
}

lm_status lm_weights_meta_get(const char **value, const lm_weights *w,
                              const char *key)
{
    if (!w || !key || !value)
        return lm_err(LM_ERR_INVALID_ARG, "lm_weights_meta_get: NULL argument");
    size_t pos;
    if (!meta_search(w, key, &pos))
        return lm_err(LM_ERR_NOT_FOUND, "lm_weights_meta_get: no metadata key "
                      "'%s'", key);
    *value = w->meta[pos].value;
    return LM_OK;
}

lm_status lm_weights_meta_set(lm_weights *w, const char *key,
                              const char *value)
{
    if (!w || !key || !value)
        return lm_err(LM_ERR_INVALID_ARG, "lm_weights_meta_set: NULL argument");
    lm_status st = lm_wt_check_text(key, "lm_weights_meta_set: key",
                                    LM_WEIGHTS_NAME_MAX);
    if (st == LM_OK)
        st = lm_wt_check_text(value, "lm_weights_meta_set: value", 0);
    if (st != LM_OK)
        return st;
    char *v = lm_strdup(value);
    if (!v)
        return lm_err_nomem();
    size_t pos;
    if (meta_search(w, key, &pos)) {
        free(w->meta[pos].value);
        w->meta[pos].value = v;
        return LM_OK;
    }
    char *k = lm_strdup(key);
    if (!k || LM_GROW(w->meta, w->meta_cap, w->n_meta + 1) != LM_OK) {
        free(k);
        free(v);
        return lm_err_nomem();
    }
    memmove(&w->meta[pos + 1], &w->meta[pos],
            (w->n_meta - pos) * sizeof *w->meta);
    w->meta[pos] = (lm_st_meta){k, v};
    w->n_meta++;
    return LM_OK;
}
