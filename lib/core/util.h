/* Private: small allocation and string helpers. */
#ifndef LM_CORE_UTIL_H
#define LM_CORE_UTIL_H

#include <stddef.h>

#include "layermerge/status.h"

/* strdup that accepts NULL (giving NULL); NULL also on allocation failure
 * of a non-NULL string, which the caller must check. */
char *lm_strdup(const char *s);

/* Grow *items (element size `elem`) so that it holds at least `need`
 * elements; doubles the capacity. LM_ERR_NOMEM on failure (the old block
 * stays valid). */
lm_status lm_grow(void **items, size_t *cap, size_t need, size_t elem);

#define LM_GROW(arr, cap, need) \
    lm_grow((void **)&(arr), &(cap), (need), sizeof *(arr))

#endif
