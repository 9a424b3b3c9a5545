/* Reading a whole file into memory: the YAML and CSV readers parse from a
 * buffer, so a file and a string go through the same parser. */
#include "io/read_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/util.h"

lm_status lm_read_file(const char *path, char **out, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return lm_err(LM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t cap = 0, n = 0;
    lm_status st = LM_OK;
    for (;;) {
        if ((st = LM_GROW(buf, cap, n + 4096)) != LM_OK)
            break;
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0) {
            if (ferror(fp))
                st = lm_err(LM_ERR_IO, "%s: read error", path);
            break;
        }
    }
    fclose(fp);
    if (st != LM_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    *len = n;
    return LM_OK;
}
