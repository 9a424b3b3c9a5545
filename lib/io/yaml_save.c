/* Whole YAML documents: every writer emits through one body callback, so
 * the stream check and the atomic save are written once. */
#include <errno.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "io/yaml_emit.h"

lm_status lm_yemit_write(FILE *fp, lm_yemit_body_fn body, const void *obj,
                         const char *what)
{
    lm_yemit *y = NULL;
    lm_status st = lm_yemit_begin(&y, fp);
    if (st != LM_OK)
        return st;
    st = body(y, obj);
    if (st != LM_OK) {
        lm_yemit_abort(y);
        return st;
    }
    st = lm_yemit_end(y);
    /* The emitter flushes into the FILE; a full disk shows only here. */
    if (st == LM_OK && (fflush(fp) != 0 || ferror(fp)))
        st = lm_err(LM_ERR_IO, "writing %s YAML: %s", what,
                    strerror(errno));
    return st;
}

/* lm_atomic_save hands its writer one object: the document's parts. */
typedef struct ydoc_job {
    lm_yemit_body_fn body;
    const void *obj;
    const char *what;
} ydoc_job;

static lm_status write_job(FILE *fp, const void *job)
{
    const ydoc_job *j = job;
    return lm_yemit_write(fp, j->body, j->obj, j->what);
}

lm_status lm_yemit_save(const char *path, lm_yemit_body_fn body,
                        const void *obj, const char *what)
{
    ydoc_job job = {body, obj, what};
    return lm_atomic_save(path, what, write_job, &job);
}
