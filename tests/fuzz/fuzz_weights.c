/* libFuzzer target: any bytes given to the safetensors reader must give
 * LM_OK or an error status, never a crash, a hang or a leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "layermerge/weights.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The reader takes a path: give it the bytes through a temporary file. */
    char path[] = "/tmp/lm-fuzz-weights-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 0;
    FILE *f = fdopen(fd, "wb");
    if (f) {
        fwrite(data, 1, size, f);
        fclose(f);
        lm_weights *w = NULL;
        if (lm_weights_load(&w, path) == LM_OK)
            lm_weights_destroy(w);
    } else {
        close(fd);
    }
    unlink(path);
    return 0;
}
