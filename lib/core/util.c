#include "core/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

char *lm_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

lm_status lm_grow(void **items, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return LM_OK;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return lm_err_nomem();
        ncap *= 2;
    }
    if (elem && ncap > SIZE_MAX / elem)
        return lm_err_nomem();
    void *p = realloc(*items, ncap * elem);
    if (!p)
        return lm_err_nomem();
    *items = p;
    *cap = ncap;
    return LM_OK;
}
