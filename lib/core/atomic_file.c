#define _POSIX_C_SOURCE 200809L
#include "core/atomic_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/util.h"

lm_status lm_atomic_open(lm_atomic_file *af, const char *path)
{
    memset(af, 0, sizeof *af);
    if (!path || !*path)
        return lm_err(LM_ERR_INVALID_ARG, "no output path given");
    size_t n = strlen(path);
    af->path = lm_strdup(path);
    af->tmp_path = malloc(n + 16);
    if (!af->path || !af->tmp_path) {
        lm_atomic_abort(af);
        return lm_err_nomem();
    }
    /* The temporary file sits beside the target so rename() stays atomic
     * (same file system). mkstemp gives each writer its own name. */
    memcpy(af->tmp_path, path, n);
    memcpy(af->tmp_path + n, ".tmp.XXXXXX", 12);
    int fd = mkstemp(af->tmp_path);
    if (fd < 0) {
        int e = errno;
        free(af->tmp_path);
        af->tmp_path = NULL;
        lm_atomic_abort(af);
        return lm_err(LM_ERR_IO, "%s: cannot create temporary file: %s", path,
                      strerror(e));
    }
    af->fp = fdopen(fd, "w");
    if (!af->fp) {
        int e = errno;
        close(fd);
        lm_atomic_abort(af);
        return lm_err(LM_ERR_IO, "%s: %s", path, strerror(e));
    }
    return LM_OK;
}

lm_status lm_atomic_commit(lm_atomic_file *af)
{
    lm_status st = LM_OK;
    int failed = ferror(af->fp) || fflush(af->fp) != 0 ||
                 fsync(fileno(af->fp)) != 0;
    int e = errno;
    if (fclose(af->fp) != 0 && !failed) {
        failed = 1;
        e = errno;
    }
    af->fp = NULL;
    if (failed) {
        st = lm_err(LM_ERR_IO, "%s: write failed: %s", af->path, strerror(e));
    } else if (rename(af->tmp_path, af->path) != 0) {
        st = lm_err(LM_ERR_IO, "%s: cannot rename temporary file: %s",
                    af->path, strerror(errno));
    } else {
        free(af->tmp_path);
        af->tmp_path = NULL;
    }
    lm_atomic_abort(af);
    return st;
}

void lm_atomic_abort(lm_atomic_file *af)
{
    if (af->fp)
        fclose(af->fp);
    if (af->tmp_path)
        unlink(af->tmp_path);
    free(af->tmp_path);
    free(af->path);
    memset(af, 0, sizeof *af);
}

lm_status lm_atomic_save(const char *path, const char *what,
                         lm_atomic_write_fn write, const void *obj)
{
    lm_atomic_file af;
    lm_status st = lm_atomic_open(&af, path);
    if (st != LM_OK)
        return lm_err_prefix(st, "saving %s: ", what);
    st = write(af.fp, obj);
    if (st != LM_OK) {
        lm_atomic_abort(&af);
        return lm_err_prefix(st, "saving %s to %s: ", what, path);
    }
    st = lm_atomic_commit(&af);
    return st != LM_OK ? lm_err_prefix(st, "saving %s: ", what) : LM_OK;
}
