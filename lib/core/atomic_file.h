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

/* Open a temporary file "<path>.tmp.<pid>.XXXXXX" in the directory of
 * `path`, created with mode 0666 & ~umask; when `path` exists, the
 * temporary file gets its permission bits instead (so a replaced file
 * keeps its mode). */
LM_NODISCARD
lm_status lm_atomic_open(lm_atomic_file *af, const char *path);

/* Flush, fsync and rename over `path`. On any failure the temporary file is
 * removed and `path` is untouched. On success, orphaned temporary files of
 * `path` are removed (lm_atomic_remove_orphans). Always releases `af`. */
LM_NODISCARD
lm_status lm_atomic_commit(lm_atomic_file *af);

/* Remove the temporary files of `path` that killed writers left behind:
 * names exactly "<basename>.tmp.<pid>.XXXXXX" (X in [A-Za-z0-9]) beside
 * it, regular files of this user, whose pid is not this process and names
 * no live process (kill(pid, 0) gives ESRCH), last modified at least 10
 * seconds ago. Anything else is left alone; errors are ignored. */
void lm_atomic_remove_orphans(const char *path);

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
