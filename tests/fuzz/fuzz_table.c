/* libFuzzer target: any bytes given to the table YAML loader must give
 * LM_OK or an error status, never a crash, a hang or a leak. A table that
 * loads must also save (the writer walks every record it kept). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_file.h"
#include "layermerge/tables.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/lm-fuzz-table-XXXXXX";
    if (lm_fuzz_write(path, data, size) != 0)
        return 0;
    lm_table *t = NULL;
    if (lm_table_load(&t, path) == LM_OK) {
        (void)lm_table_count(t);
        (void)lm_table_fingerprint(t);
        /* Saving over the input exercises the writer on what was read. */
        (void)lm_table_save(t, path);
        lm_table_destroy(t);
    }
    unlink(path);
    return 0;
}
