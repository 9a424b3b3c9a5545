/* Private: compiler attributes used across the library's private headers. */
#ifndef LM_CORE_ATTR_H
#define LM_CORE_ATTR_H

#if defined(__GNUC__) || defined(__clang__)
/* printf-style checking of a format at argument `a`, varargs from `b`. */
#define LM_PRINTF(a, b) __attribute__((format(printf, a, b)))
/* The caller must use the result: every private function returning an
 * lm_status carries it, so a dropped error is a compiler warning. (GCC does
 * not accept a (void) cast as using it: handle the status.) The message
 * setters of core/error.h are the exception — they return the status they
 * were given, for `return lm_err(...)`, and may be called for the message
 * alone. */
#define LM_NODISCARD __attribute__((warn_unused_result))
#else
#define LM_PRINTF(a, b)
#define LM_NODISCARD
#endif

#endif
