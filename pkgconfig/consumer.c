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
    if (lm_graph_create(&g, 3, 32, 32) != LM_OK ||
        lm_graph_add_conv(g, "conv", 3, 8, 3, 1, 1, 1, 0, LM_ACT_RELU) != LM_OK ||
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
