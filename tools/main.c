/* layermerge — command-line front end of liblayermerge. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "layermerge/layermerge.h"

static const lm_command commands[] = {
    {"compress", "run the whole method: tables, solve, merge, verify, time", lm_cmd_compress},
    {"graph", "check and summarise a network graph file", lm_cmd_graph},
    {"entries", "list the segments and table entries of a graph", lm_cmd_entries},
    {"solve", "choose merges and prunes within a latency budget", lm_cmd_solve},
    {"front", "print the latency/importance Pareto front", lm_cmd_front},
    {"table", "show, import, export and merge latency/importance tables", lm_cmd_table},
    {"plan", "print the training-loop plan of an entry or a result", lm_cmd_plan},
    {"merge", "merge a result's segments into one conv each", lm_cmd_merge},
    {"export", "write a network (original or merged) as an ONNX model", lm_cmd_export},
    {"verify", "check a merged network against its fine-tuning chain", lm_cmd_verify},
    {"latency", "measure the latency table on this machine (resumable)", lm_cmd_latency},
    {"importance", "data-free proxy importance; entry plans of a shard", lm_cmd_importance},
    {"run", "run a network on a NumPy .npy input, write the output", lm_cmd_run},
};
static const size_t n_commands = sizeof commands / sizeof commands[0];

static void usage(FILE *out)
{
    fprintf(out,
            "usage: layermerge [--help] [--version] COMMAND [ARGS...]\n\n"
            "LayerMerge depth compression for CNNs (Kim et al., ICML 2024).\n\n"
            "commands:\n");
    for (size_t i = 0; i < n_commands; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\nRun 'layermerge COMMAND --help' for a command's options.\n"
            "Valued options take '--opt VALUE' or '--opt=VALUE'; '--' ends the\n"
            "options; '-o -' writes to standard output where the output is one\n"
            "stream; --json (solve, front, compress, entries, table show, graph\n"
            "check) prints one JSON document. Exit status: 0 success, 1 failure,\n"
            "2 bad usage (docs/cli.md, \"Conventions\").\n");
    lm_tool_zoo_help(out);
}

int lm_tool_write_file(const void *data, size_t len, void *userdata)
{
    return fwrite(data, 1, len, (FILE *)userdata) == len ? 0 : -1;
}

static int records_subsets(const lm_table *t)
{
    for (size_t i = 0; t && i < lm_table_count(t); i++) {
        lm_table_record r = {.size = sizeof r};
        if (lm_table_record_info(&r, t, i) == LM_OK && r.has_convs)
            return 1;
    }
    return 0;
}

lm_status lm_tool_entries(lm_entries **out, const lm_graph *graph,
                          const lm_weights *weights,
                          const lm_table *importance)
{
    if (records_subsets(importance))
        return lm_entries_create_from_table(out, graph, importance);
    if (!weights)
        return lm_entries_create(out, graph);
    size_t n = lm_graph_conv_count(graph);
    double *l1 = calloc(n ? n : 1, sizeof *l1);
    if (!l1)
        return LM_ERR_NOMEM;
    lm_status st = LM_OK;
    for (size_t c = 1; c <= n && st == LM_OK; c++) {
        lm_conv_info ci = {.size = sizeof ci};
        st = lm_graph_conv_info(&ci, graph, c);
        char name[512];
        const float *w = NULL;
        size_t len = 0;
        snprintf(name, sizeof name, "%s.weight", ci.name ? ci.name : "");
        if (st == LM_OK)
            st = lm_weights_data_f32(&w, &len, weights, name);
        for (size_t i = 0; st == LM_OK && i < len; i++)
            l1[c - 1] += fabs((double)w[i]);
    }
    if (st == LM_OK)
        st = lm_entries_create_scored(out, graph, l1, n);
    free(l1);
    return st;
}

lm_status lm_tool_graph_at_size(lm_graph **out, const lm_graph *graph,
                                size_t size)
{
    lm_shape in = {.size = sizeof in};
    lm_status st = lm_graph_input_shape(&in, graph);
    if (st == LM_OK)
        st = lm_graph_clone(out, graph);
    if (st == LM_OK && size) {
        st = lm_graph_set_input_shape(*out, in.channels, (int64_t)size,
                                      (int64_t)size);
        if (st == LM_OK)
            st = lm_graph_validate(*out);
    }
    if (st != LM_OK) {
        lm_graph_destroy(*out);
        *out = NULL;
    }
    return st;
}

lm_status lm_tool_weights(lm_weights **out, const char *path,
                          const lm_graph *graph, uint64_t seed)
{
    if (path) {
        lm_status st = lm_weights_load(out, path);
        return st == LM_OK ? lm_weights_check_graph(*out, graph) : st;
    }
    lm_status st = lm_weights_create(out);
    return st == LM_OK ? lm_weights_init_random(*out, graph, seed) : st;
}

int lm_tool_calibrate_mode(const char *val)
{
    return !strcmp(val, "on") ? 1 : !strcmp(val, "off") ? 0
           : !strcmp(val, "auto") ? -1 : -2;
}

int lm_tool_calibrates(const lm_table *t, int mode)
{
    if (mode >= 0)
        return mode;
    lm_table_network net = {.size = sizeof net};
    return lm_table_network_info(&net, t) == LM_OK && net.stage_count > 0;
}

int lm_tool_fail(const char *what)
{
    const char *msg = lm_last_error();
    /* Library messages usually start with the file they name already. */
    if (what && strncmp(msg, what, strlen(what)) != 0)
        fprintf(stderr, "layermerge: %s: %s\n", what, msg);
    else
        fprintf(stderr, "layermerge: %s\n", msg);
    return 1;
}

int lm_tool_usage_error(const char *cmd, const char *msg)
{
    fprintf(stderr, "layermerge %s: %s\nTry 'layermerge %s --help'.\n", cmd,
            msg, cmd);
    return 2;
}

int lm_tool_check_outputs(const char *cmd, const char *const *outs,
                          size_t n_outs, const char *const *ins,
                          size_t n_ins)
{
    /* A missing directory is named before any work is done. */
    for (size_t o = 0; o < n_outs; o++) {
        if (!outs[o] || lm_tool_is_stdout(outs[o]))
            continue;
        const char *slash = strrchr(outs[o], '/');
        char dir[4096];
        struct stat sd;
        if (!slash || slash == outs[o])
            continue;
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - outs[o]), outs[o]);
        if (stat(dir, &sd) == 0 && S_ISDIR(sd.st_mode))
            continue;
        char msg[8400];
        snprintf(msg, sizeof msg, "output %s: the directory '%s' %s", outs[o],
                 dir, stat(dir, &sd) == 0 ? "is not a directory"
                                          : "does not exist");
        return lm_tool_usage_error(cmd, msg);
    }
    for (size_t o = 0; o < n_outs; o++) {
        struct stat so;
        if (!outs[o] || stat(outs[o], &so) != 0)
            continue;
        for (size_t i = 0; i < n_ins; i++) {
            struct stat si;
            if (!ins[i] || stat(ins[i], &si) != 0 || si.st_dev != so.st_dev ||
                si.st_ino != so.st_ino)
                continue;
            char msg[8400];
            snprintf(msg, sizeof msg, "output %s is the input %s (the same "
                     "file); refusing to overwrite it", outs[o], ins[i]);
            return lm_tool_usage_error(cmd, msg);
        }
    }
    return 0;
}

int lm_tool_is_stdout(const char *path)
{
    return path && !strcmp(path, "-");
}

int lm_tool_refuse_stdout(const char *cmd, const char *opt, const char *path,
                          const char *why)
{
    if (!lm_tool_is_stdout(path))
        return 0;
    char msg[400];
    snprintf(msg, sizeof msg, "%s - (standard output) is not possible here: "
             "%s", opt, why);
    return lm_tool_usage_error(cmd, msg);
}

int lm_tool_out_begin(lm_tool_out *o, const char *target)
{
    memset(o, 0, sizeof *o);
    o->target = target;
    if (!lm_tool_is_stdout(target)) {
        o->path = target;
        return 0;
    }
    /* The library writes files atomically; for standard output it writes
     * one in a private directory, which is then copied out. */
    const char *tmp = getenv("TMPDIR");
    snprintf(o->dir, sizeof o->dir, "%s/layermerge.XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(o->dir)) {
        fprintf(stderr, "layermerge: cannot create a scratch directory %s "
                "for standard output: %s\n", o->dir, strerror(errno));
        o->dir[0] = '\0';
        return 1;
    }
    snprintf(o->buf, sizeof o->buf, "%s/out", o->dir);
    o->path = o->buf;
    return 0;
}

int lm_tool_out_end(lm_tool_out *o, int ok)
{
    int rc = 0;
    if (!o->dir[0])
        return 0;
    FILE *fp = ok ? fopen(o->buf, "rb") : NULL;
    if (ok && !fp) {
        fprintf(stderr, "layermerge: %s: %s\n", o->buf, strerror(errno));
        rc = 1;
    }
    if (fp) {
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
            if (fwrite(chunk, 1, n, stdout) != n) {
                rc = 1;
                break;
            }
        if (ferror(fp))
            rc = 1;
        fclose(fp);
        if (fflush(stdout) != 0)
            rc = 1;
        if (rc)
            fprintf(stderr, "layermerge: writing standard output failed\n");
    }
    remove(o->buf);
    rmdir(o->dir);
    o->dir[0] = '\0';
    return rc;
}

void lm_tool_open_error(const char *path, int e)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", slash ? (slash == path ? 1
                                               : (int)(slash - path))
                                            : 1,
             slash ? path : ".");
    struct stat sb;
    if (e == ENOENT && stat(dir, &sb) != 0)
        fprintf(stderr, "layermerge: %s: cannot write: the directory '%s' "
                "does not exist\n", path, dir);
    else
        fprintf(stderr, "layermerge: %s: cannot write: %s\n", path,
                strerror(e));
}

int lm_tool_write_atomic(const char *path, int (*emit)(FILE *, void *),
                         void *userdata)
{
    if (lm_tool_is_stdout(path)) {
        int bad = emit(stdout, userdata) != 0;
        bad |= fflush(stdout) != 0 || ferror(stdout);
        if (bad)
            fprintf(stderr, "layermerge: writing standard output failed\n");
        return bad;
    }
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *fp = fopen(tmp, "wb");
    if (!fp) {
        lm_tool_open_error(path, errno);
        return 1;
    }
    int bad = emit(fp, userdata) != 0;
    bad |= fflush(fp) != 0 || ferror(fp);
    bad |= fclose(fp) != 0;
    /* Written beside the target and renamed: never a half file. */
    if (bad || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        fprintf(stderr, "layermerge: %s: cannot write: %s\n", path,
                bad ? "write error" : strerror(e));
        return 1;
    }
    return 0;
}

int lm_tool_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
        printf("layermerge %s (library %s)\n", LM_VERSION_STRING, lm_version());
        return 0;
    }
    for (size_t i = 0; i < n_commands; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "layermerge: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
