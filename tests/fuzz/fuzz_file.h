/* The loaders of tables, CSV files and results take a path: a fuzz target
 * hands them its bytes through a temporary file. */
#ifndef LM_FUZZ_FILE_H
#define LM_FUZZ_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Write `data` to a new temporary file named by `path` (a mkstemp
 * template ending in XXXXXX, overwritten with the name); 0 on success.
 * The caller unlinks it. */
static inline int lm_fuzz_write(char *path, const uint8_t *data, size_t size)
{
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(path);
        return -1;
    }
    int ok = fwrite(data, 1, size, f) == size;
    ok &= fclose(f) == 0;
    if (!ok) {
        unlink(path);
        return -1;
    }
    return 0;
}

#endif
