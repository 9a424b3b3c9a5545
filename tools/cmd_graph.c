/* `layermerge graph check FILE...`: load, validate and summarise graphs. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "layermerge/layermerge.h"
#include "json.h"
#include "progress.h"

static void graph_usage(FILE *out)
{
    fprintf(out,
            "usage: layermerge graph check [--json] FILE...\n\n"
            "Load each graph file, validate it and print a summary: input and\n"
            "output shapes, trunk convs, skips, barriers, identity positions,\n"
            "identity options and the fingerprint.\n\n"
            "  --json   one JSON document on standard output instead:\n"
            "           {\"graphs\": [...]} with those fields per file (an\n"
            "           invalid file: {\"file\", \"valid\": false, \"error\"})\n\n"
            "Exit status: 0 when every file is valid, 1 when one is not,\n"
            "2 on bad usage.\n");
}

static size_t count_depthwise(const lm_graph *g)
{
    size_t n = 0;
    for (size_t c = 1; c <= lm_graph_conv_count(g); c++) {
        lm_conv_info info = {.size = sizeof info};
        if (lm_graph_conv_info(&info, g, c) == LM_OK && info.groups > 1)
            n++;
    }
    return n;
}

static lm_position_info position(const lm_graph *g, size_t p)
{
    lm_position_info info = {.size = sizeof info};
    if (lm_graph_position_info(&info, g, p) != LM_OK)
        info = (lm_position_info){.size = sizeof info};
    return info;
}

static int is_barrier(const lm_graph *g, size_t p)
{
    return position(g, p).is_barrier;
}

static int has_identity_option(const lm_graph *g, size_t p)
{
    return position(g, p).identity_option;
}

/* Print the positions in 0..N for which `pred` holds as {a,b,c}. */
static void print_position_set(const lm_graph *g,
                               int (*pred)(const lm_graph *, size_t))
{
    const char *sep = "";
    printf("{");
    for (size_t p = 0; p <= lm_graph_conv_count(g); p++)
        if (pred(g, p)) {
            printf("%s%zu", sep, p);
            sep = ",";
        }
    printf("}\n");
}

static size_t count_identity_positions(const lm_graph *g)
{
    size_t n = 0;
    for (size_t p = 1; p <= lm_graph_conv_count(g); p++)
        n += position(g, p).activation == LM_ACT_IDENTITY;
    return n;
}

static size_t count_projections(const lm_graph *g, int concats)
{
    size_t n = 0;
    for (size_t s = 0; s < lm_graph_skip_count(g); s++) {
        lm_skip_info info = {.size = sizeof info};
        if (lm_graph_skip_info(&info, g, s) == LM_OK &&
            (concats ? info.is_concat : info.has_projection))
            n++;
    }
    return n;
}

static void print_summary(const char *path, const lm_graph *g)
{
    lm_shape in = {.size = sizeof in}, out = {.size = sizeof out};
    lm_graph_input_shape(&in, g);
    lm_graph_output_shape(&out, g);
    int64_t ic = in.channels, ih = in.height, iw = in.width;
    int64_t oc = out.channels, oh = out.height, ow = out.width;
    size_t n = lm_graph_conv_count(g);
    const char *name = lm_graph_name(g);
    printf("%s: valid\n", path);
    printf("  name: %s\n", *name ? name : "(unnamed)");
    printf("  input: %" PRId64 "x%" PRId64 "x%" PRId64
           " -> output %" PRId64 "x%" PRId64 "x%" PRId64 "\n",
           ic, ih, iw, oc, oh, ow);
    printf("  trunk convs: %zu (%zu depthwise)\n", n, count_depthwise(g));
    printf("  positions: 0..%zu\n", n);
    printf("  identity positions: %zu\n", count_identity_positions(g));
    printf("  nonlinearity: %s\n",
           lm_act_name(lm_graph_nonlinearity(g)));
    size_t n_cat = count_projections(g, 1);
    printf("  skips: %zu (%zu with projection", lm_graph_skip_count(g),
           count_projections(g, 0));
    if (n_cat)
        printf(", %zu concatenations", n_cat);
    printf(")\n");
    lm_time_embedding_info te = {.size = sizeof te};
    if (lm_graph_time_embedding(&te, g) == LM_OK && te.has_time_embedding)
        printf("  time embedding: %" PRId64 " -> %" PRId64 " channels "
               "(a timestep input)\n", te.dim, te.channels);
    printf("  barriers: ");
    print_position_set(g, is_barrier);
    printf("  identity options: ");
    print_position_set(g, has_identity_option);
    printf("  stem layers: %zu, head layers: %zu\n",
           lm_graph_layer_count(g, LM_SITE_STEM, 0),
           lm_graph_layer_count(g, LM_SITE_HEAD, 0));
    printf("  fingerprint: %s\n", lm_graph_fingerprint(g));
}

typedef struct check_args {
    const char **files;
    int n_files, json;
} check_args;

static int check_flag(const char *opt, void *args)
{
    (void)opt;
    ((check_args *)args)->json = 1;
    return 0;
}

static int check_file(const char *word, void *args)
{
    check_args *a = args;
    a->files[a->n_files++] = word;
    return 0;
}

static int graph_check(int argc, char **argv)
{
    if (lm_tool_wants_help(argc, argv)) {
        graph_usage(stdout);
        return 0;
    }
    static const char *const none[] = {NULL};
    static const char *const flags[] = {"--json", NULL};
    static const lm_tool_opts o = {"graph check", none, NULL, check_file,
                                   flags, check_flag};
    check_args a = {calloc((size_t)argc, sizeof(char *)), 0, 0};
    if (!a.files)
        return lm_tool_usage_error("graph check", "out of memory");
    int rc = lm_tool_parse_argv(&o, argc, argv, 1, &a);
    if (!rc && a.n_files == 0)
        rc = lm_tool_usage_error("graph check", "no FILE given");
    if (rc) {
        free(a.files);
        return rc;
    }
    json_t *doc = a.json ? json_pack("{s:s,s:[]}", "format",
                                     "layermerge-graph-check", "graphs")
                         : NULL;
    json_t *list = doc ? json_object_get(doc, "graphs") : NULL;
    for (int i = 0; i < a.n_files; i++) {
        lm_graph *g = NULL;
        if (lm_tool_graph_load(&g, a.files[i]) != LM_OK) {
            fprintf(stderr, "layermerge graph check: %s\n", lm_last_error());
            if (list)
                json_array_append_new(list, json_pack(
                    "{s:s,s:b,s:s}", "file", a.files[i], "valid", 0,
                    "error", lm_last_error()));
            else
                printf("%s: invalid\n", a.files[i]);
            rc = 1;
            continue;
        }
        if (list)
            json_array_append_new(list, lm_tool_json_graph(a.files[i], g));
        else
            print_summary(a.files[i], g);
        lm_graph_destroy(g);
    }
    if (a.json && lm_tool_json_print(doc))
        rc = 1;
    free(a.files);
    return rc;
}

int lm_cmd_graph(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "check"))
        return graph_check(argc - 1, argv + 1);
    if (lm_tool_wants_help(argc, argv)) {
        graph_usage(stdout);
        return 0;
    }
    if (argc < 2)
        return lm_tool_usage_error("graph", "missing subcommand (check)");
    char msg[160];
    snprintf(msg, sizeof msg, "unknown subcommand '%s'", argv[1]);
    return lm_tool_usage_error("graph", msg);
}
