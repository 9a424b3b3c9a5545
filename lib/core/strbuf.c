/* The growable string of strbuf.h. */
#include "core/strbuf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/util.h"

/* Room for `extra` more bytes and the NUL; marks `b` failed if not. */
static int reserve(lm_strbuf *b, size_t extra)
{
    if (b->err != LM_OK)
        return 0;
    if (extra > SIZE_MAX - b->len - 1 ||
        lm_grow((void **)&b->s, &b->cap, b->len + extra + 1, 1) != LM_OK) {
        b->err = LM_ERR_NOMEM;
        return 0;
    }
    return 1;
}

void lm_strbuf_appendn(lm_strbuf *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    if (n)
        memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void lm_strbuf_append(lm_strbuf *b, const char *s)
{
    lm_strbuf_appendn(b, s, strlen(s));
}

void lm_strbuf_appendc(lm_strbuf *b, char c)
{
    lm_strbuf_appendn(b, &c, 1);
}

void lm_strbuf_vappendf(lm_strbuf *b, const char *fmt, va_list ap)
{
    if (b->err != LM_OK)
        return;
    /* Format into the room there is; grow and format again when short. */
    va_list again;
    va_copy(again, ap);
    char probe[1];
    size_t room = b->s ? b->cap - b->len : 0;
    int n = vsnprintf(room ? b->s + b->len : probe, room ? room : 1, fmt, ap);
    if (n < 0) {
        if (b->s)
            b->s[b->len] = '\0';
        b->err = LM_ERR_VALUE;
    } else if ((size_t)n < room) {
        b->len += (size_t)n;
    } else if (reserve(b, (size_t)n)) {
        vsnprintf(b->s + b->len, (size_t)n + 1, fmt, again);
        b->len += (size_t)n;
    } else if (b->s) {
        b->s[b->len] = '\0';
    }
    va_end(again);
}

void lm_strbuf_appendf(lm_strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lm_strbuf_vappendf(b, fmt, ap);
    va_end(ap);
}

lm_status lm_strbuf_status(const lm_strbuf *b)
{
    const char *what = b->what ? b->what : "a string";
    switch (b->err) {
    case LM_OK:
        return LM_OK;
    case LM_ERR_NOMEM:
        return lm_err(LM_ERR_NOMEM, "building %s: out of memory", what);
    default:
        return lm_err(b->err, "building %s: cannot format text", what);
    }
}

lm_status lm_strbuf_setf(lm_strbuf *b, const char *fmt, ...)
{
    lm_strbuf_reset(b);
    va_list ap;
    va_start(ap, fmt);
    lm_strbuf_vappendf(b, fmt, ap);
    va_end(ap);
    return lm_strbuf_status(b);
}

const char *lm_strbuf_str(const lm_strbuf *b)
{
    return b->s ? b->s : "";
}

void lm_strbuf_reset(lm_strbuf *b)
{
    b->len = 0;
    if (b->s)
        b->s[0] = '\0';
    b->err = LM_OK;
}

void lm_strbuf_free(lm_strbuf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
    b->err = LM_OK;
}
