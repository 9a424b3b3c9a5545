/* Private: write a file so that readers see either the old or the whole new
 * content, never a partial one (temporary file + fsync + rename). */
#ifndef LM_CORE_ATOMIC_FILE_H
#define LM_CORE_ATOMIC_FILE_H

#include <stdio.h>

#include "core/attr.h"
#include "layermerge/status.h"

typedef struct lm_atomic_file {
    FILE *fp;        /* write here */
    char *path;      /* final name */
    char *tmp_path;  /* where the bytes go until commit */
} lm_atomic_file;

/* Open a temporary file in the directory of `path`. */
LM_NODISCARD
lm_status lm_atomic_open(lm_atomic_file *af, const char *path);

/* Flush, fsync and rename over `path`. On any failure the temporary file is
 * removed and `path` is untouched. Always releases `af`. */
LM_NODISCARD
lm_status lm_atomic_commit(lm_atomic_file *af);

/* Drop the temporary file; `path` is untouched. Accepts a zeroed `af`. */
void lm_atomic_abort(lm_atomic_file *af);

/* Writes the content of the writer's object `obj` to `fp`. */
typedef lm_status (*lm_atomic_write_fn)(FILE *fp, const void *obj);

/* The whole save: open, `write`, commit, or abort when `write` fails.
 * Errors are prefixed "saving <what> to <path>: " when `write` failed and
 * "saving <what>: " when opening or committing did (those name the path). */
LM_NODISCARD
lm_status lm_atomic_save(const char *path, const char *what,
                         lm_atomic_write_fn write, const void *obj);

#endif
