/* libFuzzer target: any bytes given to the graph YAML loader must give
 * LM_OK or an error status, never a crash, a hang or a leak. Build with
 * clang -fsanitize=fuzzer,address (see tests/fuzz/README.md); the corpus
 * is replayed by the fuzz-replay test in every normal build. */
#include <stddef.h>
#include <stdint.h>

#include "layermerge/graph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lm_graph *g = NULL;
    if (lm_graph_load_string(&g, (const char *)data, size) == LM_OK) {
        /* A graph that loads must also describe itself consistently. */
        (void)lm_graph_fingerprint(g);
        lm_graph_destroy(g);
    }
    return 0;
}
