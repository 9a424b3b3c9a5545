/* `layermerge entries GRAPH.yaml [--format csv|yaml] [-o FILE]`: list the
 * valid segments and table entries of a graph. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "layermerge/layermerge.h"
#include "json.h"
#include "progress.h"

static void entries_usage(FILE *out)
{
    fprintf(out,
            "usage: layermerge entries GRAPH.yaml [--format csv|yaml] [-o "
            "FILE | --json]\n\n"
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
            "                     (-o -: standard output)\n"
            "  --json             one JSON document on standard output with "
            "the\n"
            "                     fields of the YAML format\n"
            "  -h, --help         show this help\n\n"
            "A summary (segments, entries) goes to standard error when -o is\n"
            "given. Exit status: 0 success, 1 failure, 2 bad usage.\n");
}

typedef struct entries_args {
    const char *graph;
    const char *output;
    lm_entries_format format;
    int json;
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

static int entries_value(const char *opt, const char *val, void *args)
{
    entries_args *a = args;
    if (strcmp(opt, "--format")) {
        a->output = val;
        return 0;
    }
    if (parse_format(val, &a->format))
        return 0;
    char msg[600];
    snprintf(msg, sizeof msg, "--format must be csv or yaml, not '%s'", val);
    return lm_tool_usage_error("entries", msg);
}

static int entries_flag(const char *opt, void *args)
{
    (void)opt;
    ((entries_args *)args)->json = 1;
    return 0;
}

static int entries_file(const char *word, void *args)
{
    entries_args *a = args;
    if (a->graph)
        return lm_tool_usage_error("entries", "give one graph file");
    a->graph = word;
    return 0;
}

static int parse_args(int argc, char **argv, entries_args *a)
{
    static const char *const valued[] = {"--format", "-o", "--output", NULL};
    static const char *const flags[] = {"--json", NULL};
    static const lm_tool_opts o = {"entries", valued, entries_value,
                                   entries_file, flags, entries_flag};
    a->format = LM_ENTRIES_CSV;
    int rc = lm_tool_parse_argv(&o, argc, argv, 1, a);
    if (rc)
        return rc;
    if (!a->graph)
        return lm_tool_usage_error("entries", "missing GRAPH.yaml");
    if (a->json && a->output)
        return lm_tool_usage_error("entries", "--json prints to standard "
                                   "output: give it or -o, not both");
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
    if (a.json) {
        rc = lm_tool_json_print(lm_tool_json_entries(e));
        lm_entries_destroy(e);
        return rc;
    }
    /* "-o -" is standard output, like no -o at all. */
    int file = a.output && !lm_tool_is_stdout(a.output);
    if (file)
        st = lm_entries_save(e, a.output, a.format);
    else
        st = lm_entries_write(e, a.format, lm_tool_write_file, stdout);
    if (st == LM_OK && file)
        fprintf(stderr, "%s: %zu segments, %zu entries\n", a.output,
                lm_entries_segment_count(e), lm_entries_count(e));
    lm_entries_destroy(e);
    return st == LM_OK ? 0 : lm_tool_fail(file ? a.output : "writing entries");
}
