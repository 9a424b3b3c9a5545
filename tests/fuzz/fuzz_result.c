/* libFuzzer target: any bytes given to the result loader must give LM_OK
 * or an error status, never a crash, a hang or a leak. A result that loads
 * must answer its queries for every conv, position and segment. */
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "fuzz_file.h"
#include "layermerge/solver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const lm_result *r)
{
    size_t n = lm_result_conv_count(r);
    for (size_t c = 1; c <= n; c++) {
        lm_result_conv rc = {.size = sizeof rc};
        (void)lm_result_conv_info(&rc, r, c);
    }
    for (size_t p = 0; p <= n; p++) {
        lm_result_position rp = {.size = sizeof rp};
        (void)lm_result_position_info(&rp, r, p);
    }
    for (size_t i = 0; i < lm_result_segment_count(r); i++) {
        lm_result_segment rs = {.size = sizeof rs};
        (void)lm_result_segment_info(&rs, r, i);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/lm-fuzz-result-XXXXXX";
    if (lm_fuzz_write(path, data, size) != 0)
        return 0;
    lm_result *r = NULL;
    if (lm_result_load(&r, path) == LM_OK) {
        walk(r);
        (void)lm_result_save(r, path);
        lm_result_destroy(r);
    }
    unlink(path);
    return 0;
}
