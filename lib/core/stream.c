/* FILE-free output for the public API (stream.h). */
#include "core/stream.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"

lm_status lm_stream_to_callback(lm_write_fn write, void *userdata,
                                lm_atomic_write_fn writer, const void *obj,
                                const char *what)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    if (!fp)
        return lm_err_nomem();
    lm_status st = writer(fp, obj);
    /* fclose finalises buf and len; a failed flush means memory ran out. */
    if (fclose(fp) != 0 && st == LM_OK)
        st = lm_err_nomem();
    if (st == LM_OK && len && write(buf, len, userdata) != 0)
        st = lm_err(LM_ERR_IO, "writing %s: the write callback failed", what);
    free(buf);
    return st;
}
