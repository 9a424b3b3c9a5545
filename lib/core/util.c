#include "core/util.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

lm_status lm_sized_check(const void *dst, const char *what)
{
    size_t size;
    if (!dst)
        return lm_err(LM_ERR_INVALID_ARG, "%s: NULL record", what);
    memcpy(&size, dst, sizeof size);
    if (size < sizeof size)
        return lm_err(LM_ERR_INVALID_ARG, "%s: record size %zu is too small "
                      "(set size = sizeof the record before the call)", what,
                      size);
    if (size > LM_RECORD_SIZE_MAX)
        return lm_err(LM_ERR_INVALID_ARG, "%s: record size %zu is larger than "
                      "any record (set size = sizeof the record before the "
                      "call)", what, size);
    return LM_OK;
}

lm_status lm_sized_copy(void *dst, const void *src, size_t src_size,
                        const char *what)
{
    lm_status st = lm_sized_check(dst, what);
    if (st != LM_OK)
        return st;
    size_t size;
    memcpy(&size, dst, sizeof size);
    size_t n = size < src_size ? size : src_size;
    if (n > sizeof size)
        memcpy((char *)dst + sizeof size, (const char *)src + sizeof size,
               n - sizeof size);
    return LM_OK;
}

static const char *skip_digits(const char *p, int *any)
{
    while (*p >= '0' && *p <= '9') {
        p++;
        *any = 1;
    }
    return p;
}

lm_number_syntax lm_number_parse(const char *s, double *out)
{
    if (!s)
        return LM_NUMBER_BAD;
    const char *p = s + (*s == '+' || *s == '-');
    int mantissa = 0, exponent = 0;
    p = skip_digits(p, &mantissa);
    if (*p == '.')
        p = skip_digits(p + 1, &mantissa);
    if (!mantissa)
        return LM_NUMBER_BAD;
    if (*p == 'e' || *p == 'E') {
        p++;
        p += *p == '+' || *p == '-';
        p = skip_digits(p, &exponent);
        if (!exponent)
            return LM_NUMBER_BAD;
    }
    if (*p != '\0')
        return LM_NUMBER_BAD;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end != p)
        return LM_NUMBER_BAD; /* a locale whose decimal point is not '.' */
    if (errno == ERANGE && isinf(v))
        return LM_NUMBER_RANGE;
    *out = v;
    return LM_NUMBER_OK;
}

size_t lm_physical_memory(void)
{
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    size_t bytes;
    if (pages <= 0 || page <= 0 ||
        lm_mul_overflow((size_t)pages, (size_t)page, &bytes))
        return 0;
    return bytes;
#else
    return 0;
#endif
}
