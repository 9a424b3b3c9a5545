/* `layermerge entries GRAPH.yaml [--format csv|yaml] [-o FILE]`: list the
 * valid segments and table entries of a graph. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "layermerge/layermerge.h"

static void entries_usage(FILE *out)
{
    fprintf(out,
            "usage: layermerge entries GRAPH.yaml [--format csv|yaml] [-o "
            "FILE]\n\n"
            "List the table entries of a graph (docs/method.md sections 3-4): "
            "one per\n"
            "valid segment and distinct (merged kernel, depthwise), with its\n"
            "id, key, channels, input size and representative kept convs.\n\n"
            "options:\n"
            "  --format csv|yaml  output format (default csv); CSV columns:\n"
            "                     "
            "id,st,end,ker,str,is_dw,in_ch,out_ch,in_h,in_w,pad,convs\n"
            "  -o, --output FILE  write FILE atomically instead of standard "
            "output\n"
            "  -h, --help         show this help\n\n"
            "A summary (segments, entries) goes to standard error when -o is\n"
            "given. Exit status: 0 success, 1 failure, 2 bad usage.\n");
}

typedef struct entries_args {
    const char *graph;
    const char *output;
    lm_entries_format format;
} entries_args;

static int parse_format(const char *s, lm_entries_format *out)
{
    if (!strcmp(s, "csv"))
        *out = LM_ENTRIES_CSV;
    else if (!strcmp(s, "yaml"))
        *out = LM_ENTRIES_YAML;
    else
        return 0;
    return 1;
}

static int parse_args(int argc, char **argv, entries_args *a)
{
    a->format = LM_ENTRIES_CSV;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--format") || !strcmp(arg, "-o") ||
            !strcmp(arg, "--output")) {
            if (i + 1 >= argc) {
                char msg[160];
                snprintf(msg, sizeof msg, "option '%s' needs a value", arg);
                return lm_tool_usage_error("entries", msg);
            }
            const char *val = argv[++i];
            if (arg[1] != '-' || !strcmp(arg, "--output"))
                a->output = val;
            else if (!parse_format(val, &a->format))
                return lm_tool_usage_error("entries",
                                           "--format must be csv or yaml");
        } else if (arg[0] == '-' && arg[1] != '\0') {
            char msg[160];
            snprintf(msg, sizeof msg, "unknown option '%s'", arg);
            return lm_tool_usage_error("entries", msg);
        } else if (a->graph) {
            return lm_tool_usage_error("entries", "give one graph file");
        } else {
            a->graph = arg;
        }
    }
    if (!a->graph)
        return lm_tool_usage_error("entries", "missing GRAPH.yaml");
    return 0;
}

int lm_cmd_entries(int argc, char **argv)
{
    if (lm_tool_wants_help(argc, argv)) {
        entries_usage(stdout);
        return 0;
    }
    entries_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc != 0)
        return rc;
    const char *outs[] = {a.output}, *ins[] = {a.graph};
    if ((rc = lm_tool_check_outputs("entries", outs, 1, ins, 1)) != 0)
        return rc;
    lm_graph *g = NULL;
    if (lm_tool_graph_load(&g, a.graph) != LM_OK)
        return lm_tool_fail(a.graph);
    lm_entries *e = NULL;
    lm_status st = lm_entries_create(&e, g);
    lm_graph_destroy(g);
    if (st != LM_OK)
        return lm_tool_fail("enumerating entries");
    if (a.output)
        st = lm_entries_save(e, a.output, a.format);
    else
        st = lm_entries_write(e, a.format, lm_tool_write_file, stdout);
    if (st == LM_OK && a.output)
        fprintf(stderr, "%s: %zu segments, %zu entries\n", a.output,
                lm_entries_segment_count(e), lm_entries_count(e));
    lm_entries_destroy(e);
    return st == LM_OK ? 0 : lm_tool_fail("writing entries");
}
