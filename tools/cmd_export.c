/* `layermerge export GRAPH.yaml [WEIGHTS | --random-weights SEED] -o
 * MODEL.onnx [...]`: a network, original or merged, as an ONNX model. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "commands.h"
#include "layermerge/layermerge.h"
#include "progress.h"

static void export_usage(FILE *out)
{
    fprintf(out,
            "usage: layermerge export GRAPH.yaml (WEIGHTS.safetensors | "
            "--random-weights SEED)\n"
            "                         -o MODEL.onnx [--size S] [--batch N|"
            "dynamic]\n"
            "                         [--batchnorm fold|keep] [--opset V]\n\n"
            "Write the network (original or merged) as an ONNX model "
            "(docs/export.md):\n"
            "input \"input\" [N, C, H, W] float32, output \"output\"; "
            "static shapes unless\n"
            "--batch dynamic. A diffusion U-Net (a graph with a time "
            "embedding) has\n"
            "a second input \"timesteps\" [N] float32. It computes what "
            "the engine\n"
            "computes ('layermerge run').\n\n"
            "options:\n"
            "  -o MODEL.onnx  the model to write (atomically; -o -: standard "
            "output)\n"
            "  --random-weights SEED  deterministic random weights instead "
            "of a file\n"
            "  --size S       an S x S input instead of the graph's own\n"
            "  --batch N      images per run, 1..65536 (default 1); "
            "'dynamic' leaves\n"
            "                 the batch axis as the symbol \"batch\"\n"
            "  --batchnorm fold|keep  fold batch norms into their convs "
            "(default) or\n"
            "                 keep them as BatchNormalization nodes\n"
            "  --opset V      ONNX opset 13..17 (default 13)\n"
            "  -h, --help     show this help\n\n"
            "Exit status: 0 success, 1 failure, 2 bad usage.\n");
}

typedef struct export_args {
    const char *graph, *weights, *out;
    size_t size, batch, seed, opset;
    int has_seed, dynamic, keep_bn;
} export_args;

static int export_value(const char *opt, const char *val, void *args)
{
    export_args *a = args;
    if (!strcmp(opt, "-o") || !strcmp(opt, "--output")) {
        a->out = val;
        return 0;
    }
    if (!strcmp(opt, "--batchnorm")) {
        if (strcmp(val, "fold") && strcmp(val, "keep"))
            return lm_tool_usage_error("export", "--batchnorm is fold or "
                                                 "keep");
        a->keep_bn = !strcmp(val, "keep");
        return 0;
    }
    if (!strcmp(opt, "--batch") && !strcmp(val, "dynamic")) {
        a->dynamic = 1;
        return 0;
    }
    if (!strcmp(opt, "--size"))
        return lm_tool_whole("export", opt, val, 1, 2147483647, &a->size);
    if (!strcmp(opt, "--batch"))
        return lm_tool_whole("export", opt, val, 1, 65536, &a->batch);
    if (!strcmp(opt, "--opset"))
        return lm_tool_whole("export", opt, val, 13, 17, &a->opset);
    a->has_seed = 1;
    return lm_tool_whole("export", opt, val, 0, SIZE_MAX, &a->seed);
}

static int export_file(const char *word, void *args)
{
    export_args *a = args;
    if (!a->graph)
        a->graph = word;
    else if (!a->weights)
        a->weights = word;
    else
        return lm_tool_usage_error("export", "too many file arguments");
    return 0;
}

static int parse_args(int argc, char **argv, export_args *a)
{
    static const char *const valued[] = {"-o", "--output", "--size",
                                         "--batch", "--batchnorm", "--opset",
                                         "--random-weights", NULL};
    static const lm_tool_opts opts = {"export", valued, export_value,
                                      export_file, NULL, NULL};
    int rc = lm_tool_parse_argv(&opts, argc, argv, 1, a);
    if (rc)
        return rc;
    if (!a->graph || !a->out)
        return lm_tool_usage_error("export", "GRAPH.yaml and -o MODEL.onnx "
                                             "are required");
    if (!a->weights == !a->has_seed)
        return lm_tool_usage_error("export", "give WEIGHTS.safetensors or "
                                             "--random-weights SEED (one)");
    const char *outs[] = {a->out}, *ins[] = {a->graph, a->weights};
    return lm_tool_check_outputs("export", outs, 1, ins, 2);
}

int lm_cmd_export(int argc, char **argv)
{
    if (lm_tool_wants_help(argc, argv)) {
        export_usage(stdout);
        return 0;
    }
    export_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc;
    lm_graph *g = NULL, *sized = NULL;
    lm_weights *w = NULL;
    if (lm_tool_graph_load(&g, a.graph) != LM_OK)
        return lm_tool_fail(a.graph);
    if (lm_tool_weights(&w, a.weights, g, (uint64_t)a.seed) != LM_OK)
        rc = lm_tool_fail(a.weights ? a.weights : a.graph);
    else if (lm_tool_graph_at_size(&sized, g, a.size) != LM_OK)
        rc = lm_tool_fail(a.graph);
    else {
        lm_onnx_options o = {.size = sizeof o, .batch = a.batch,
                             .dynamic_batch = a.dynamic,
                             .keep_batchnorm = a.keep_bn,
                             .opset = (int64_t)a.opset};
        /* -o -: the model to standard output, through a private file. */
        lm_tool_out out;
        if (lm_tool_out_begin(&out, a.out) != 0)
            rc = 1;
        else {
            int ok = lm_graph_save_onnx(sized, w, &o, out.path) == LM_OK;
            if (!ok)
                rc = lm_tool_fail(a.out);
            if (lm_tool_out_end(&out, ok) != 0)
                rc = 1;
        }
    }
    lm_graph_destroy(sized);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
    return rc;
}
