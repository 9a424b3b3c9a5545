/* A program that knows liblayermerge only through pkg-config. */
#include <layermerge/layermerge.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    if (lm_version_number() != LM_VERSION_NUMBER) {
        fprintf(stderr, "header %s, library %s\n", LM_VERSION_STRING, lm_version());
        return 1;
    }
    lm_graph *g = NULL;
    lm_conv_desc conv = {.size = sizeof conv, .name = "conv",
                         .in_channels = 3, .out_channels = 8, .kernel = 3,
                         .stride = 1, .padding = 1, .groups = 1};
    if (lm_graph_create(&g, 3, 32, 32) != LM_OK ||
        lm_graph_add_conv(g, &conv, LM_ACT_RELU) != LM_OK ||
        lm_graph_validate(g) != LM_OK) {
        fprintf(stderr, "consumer: %s\n", lm_last_error());
        lm_graph_destroy(g);
        return 1;
    }
    printf("liblayermerge %s: %zu conv, fingerprint %s\n", lm_version(),
           lm_graph_conv_count(g), lm_graph_fingerprint(g));
    lm_graph_destroy(g);
    return strcmp(lm_status_str(LM_ERR_PARSE), "parse error") != 0;
}
