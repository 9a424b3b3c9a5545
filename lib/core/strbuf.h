/* Private: a growable NUL-terminated string, for names and texts whose
 * length the library does not bound (tensor names built from a module name,
 * headers, CSV fields). Nothing is ever truncated: an append that cannot
 * grow the buffer marks it failed, later appends do nothing, and
 * lm_strbuf_status reports the failure once for the whole sequence, naming
 * what was being built:
 *
 *     lm_strbuf b = LM_STRBUF_INIT("tensor name");
 *     lm_strbuf_appendf(&b, "%s.%s", module, suffix);
 *     lm_status st = lm_strbuf_status(&b);
 *     if (st == LM_OK)
 *         use(lm_strbuf_str(&b));
 *     lm_strbuf_free(&b);
 */
#ifndef LM_CORE_STRBUF_H
#define LM_CORE_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

#include "core/attr.h"
#include "layermerge/status.h"

typedef struct lm_strbuf {
    char *s;          /* NULL until the first append */
    size_t len, cap;  /* len excludes the NUL */
    lm_status err;    /* LM_OK, or the first failure (sticky) */
    const char *what; /* what is being built, for the message; static text */
} lm_strbuf;

#define LM_STRBUF_INIT(what_) {NULL, 0, 0, LM_OK, (what_)}

/* Append `n` bytes of `s` / a C string / one byte / printf-formatted text.
 * On failure (allocation, or a format vsnprintf refuses) the buffer keeps
 * what it had and is marked failed. */
void lm_strbuf_appendn(lm_strbuf *b, const char *s, size_t n);
void lm_strbuf_append(lm_strbuf *b, const char *s);
void lm_strbuf_appendc(lm_strbuf *b, char c);
void lm_strbuf_appendf(lm_strbuf *b, const char *fmt, ...) LM_PRINTF(2, 3);
void lm_strbuf_vappendf(lm_strbuf *b, const char *fmt, va_list ap)
    LM_PRINTF(2, 0);

/* LM_OK, or the first failure with the message "building <what>: out of
 * memory" (LM_ERR_NOMEM) or "building <what>: cannot format text"
 * (LM_ERR_VALUE), set when this is called. */
LM_NODISCARD
lm_status lm_strbuf_status(const lm_strbuf *b);

/* Replace the content with printf-formatted text and return
 * lm_strbuf_status: the one-call form for a name built in a loop. */
LM_NODISCARD
lm_status lm_strbuf_setf(lm_strbuf *b, const char *fmt, ...)
    LM_PRINTF(2, 3);

/* The text so far; "" before any append. Borrowed until the next call. */
const char *lm_strbuf_str(const lm_strbuf *b);

/* Empty the text and clear a failure; the storage is kept. */
void lm_strbuf_reset(lm_strbuf *b);

/* Release the storage; `b` is empty and may be used again. */
void lm_strbuf_free(lm_strbuf *b);

#endif
