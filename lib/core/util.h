/* Private: small allocation and string helpers. */
#ifndef LM_CORE_UTIL_H
#define LM_CORE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "layermerge/status.h"

/* strdup that accepts NULL (giving NULL); NULL also on allocation failure
 * of a non-NULL string, which the caller must check. */
char *lm_strdup(const char *s);

/* Grow *items (element size `elem`) so that it holds at least `need`
 * elements; doubles the capacity. LM_ERR_NOMEM on failure (the old block
 * stays valid). */
LM_NODISCARD
lm_status lm_grow(void **items, size_t *cap, size_t need, size_t elem);

#define LM_GROW(arr, cap, need) \
    lm_grow((void **)&(arr), &(cap), (need), sizeof *(arr))

/* Largest `size` a caller's size-versioned record may claim: records are a
 * few hundred bytes, so a larger value is a size field left unset. */
#define LM_RECORD_SIZE_MAX 65536u

/* The checks of lm_sized_copy alone, for a call that should refuse a bad
 * record before its work rather than after it. */
LM_NODISCARD
lm_status lm_sized_check(const void *dst, const char *what);

/* Copy the library's full record `src` (`src_size` bytes, a public record
 * that starts with `size_t size`) into the caller's `dst`, which may be an
 * older, smaller version or a newer, larger one: only the first dst->size
 * bytes are the library's to write, and dst->size itself is left as the
 * caller set it. Copies min(dst->size, src_size) bytes past the size field.
 * LM_ERR_INVALID_ARG "<what>: ..." when `dst` is NULL or dst->size is below
 * sizeof(size_t) or above LM_RECORD_SIZE_MAX; `dst` is then untouched. */
LM_NODISCARD
lm_status lm_sized_copy(void *dst, const void *src, size_t src_size,
                        const char *what);

/* What lm_number_parse found. */
typedef enum lm_number_syntax {
    LM_NUMBER_OK = 0,
    LM_NUMBER_BAD = 1,      /* not the syntax below */
    LM_NUMBER_RANGE = 2     /* the syntax, but beyond a double (overflow) */
} lm_number_syntax;

/* The one number syntax of every file the library reads (YAML scalars and
 * CSV cells alike): an optional sign, decimal digits with an optional
 * fraction (".5" and "5." included), an optional exponent ("e-3"). No hex
 * floats, inf, nan, spaces or trailing text. Underflow to 0 or a denormal
 * is fine; overflow is LM_NUMBER_RANGE. *out is set only on LM_NUMBER_OK. */
lm_number_syntax lm_number_parse(const char *s, double *out);

/* a * b and a + b into *out: 1 when the exact result does not fit (then
 * *out is unspecified), 0 when it does. Every size computed from a
 * caller's or a file's numbers goes through these before it is used. */
static inline int lm_mul_overflow(size_t a, size_t b, size_t *out)
{
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_mul_overflow(a, b, out);
#else
    *out = a * b;
    return a != 0 && *out / a != b;
#endif
}

static inline int lm_add_overflow(size_t a, size_t b, size_t *out)
{
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_add_overflow(a, b, out);
#else
    *out = a + b;
    return *out < a;
#endif
}

static inline int lm_mul_overflow_i64(int64_t a, int64_t b, int64_t *out)
{
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_mul_overflow(a, b, out);
#else
    if (a != 0 && (b > INT64_MAX / a || b < INT64_MIN / a))
        return 1; /* callers only multiply non-negative sizes */
    *out = a * b;
    return 0;
#endif
}

/* Bytes of physical memory on this machine, 0 when unknown. Buffers sized
 * from a caller's numbers are refused above it (LM_ERR_NOMEM naming both),
 * rather than left to an allocation that overcommit lets through and the
 * first touch turns into swapping or the OOM killer. */
size_t lm_physical_memory(void);

/* n bytes in GiB, for messages. */
static inline double lm_gib(size_t n)
{
    return (double)n / (double)(1u << 30);
}

#endif
