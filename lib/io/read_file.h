/* Private: a whole file into memory. */
#ifndef LM_IO_READ_FILE_H
#define LM_IO_READ_FILE_H

#include <stddef.h>

#include "core/attr.h"
#include "layermerge/status.h"

/* Read all of `path` into a malloc'd *out (not NUL-terminated) of *len
 * bytes, owned by the caller. LM_ERR_IO "PATH: cannot open: <reason>" or
 * "PATH: read error"; LM_ERR_NOMEM. */
LM_NODISCARD
lm_status lm_read_file(const char *path, char **out, size_t *len);

#endif
