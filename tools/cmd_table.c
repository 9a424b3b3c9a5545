/* `layermerge table show|import|export|merge`: inspect, convert and combine
 * latency and importance tables. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "layermerge/layermerge.h"
#include "json.h"
#include "progress.h"

static void table_usage(FILE *out)
{
    fprintf(out,
            "usage: layermerge table show [--json] FILE...\n"
            "       layermerge table import --kind KIND --graph G.yaml "
            "[--metric M] IN.csv -o OUT.yaml\n"
            "       layermerge table export [--format F] IN.yaml -o OUT.csv\n"
            "       layermerge table merge --graph G.yaml [--allow-missing] "
            "A.yaml B.yaml... -o OUT.yaml\n\n"
            "Latency and importance tables (docs/tables.md). Run\n"
            "'layermerge table SUBCOMMAND --help' for details.\n");
}

static void show_usage(FILE *out)
{
    fprintf(out,
            "usage: layermerge table show [--json] FILE...\n\n"
            "Print each table's kind, graph fingerprint, provenance, shard\n"
            "range, record count and the smallest and largest values.\n\n"
            "  --json   one JSON document on standard output instead:\n"
            "           {\"tables\": [...]}, per file its header fields, whole-\n"
            "           network model and every record at full precision\n"
            "           (a file that fails to load: {\"file\", \"error\"})\n");
}

static void import_usage(FILE *out)
{
    fprintf(out,
            "usage: layermerge table import --kind KIND --graph G.yaml "
            "[--metric M] IN.csv -o OUT.yaml\n\n"
            "Convert one of the authors' CSV tables, matching every row to an\n"
            "entry of the graph by key (a row that is no entry is an error\n"
            "naming its line).\n\n"
            "  --kind KIND    latency        id,st,end,ker,str,is_dw,time,stdev\n"
            "                 importance     id,st,end,ker,str,is_dw,conv_comb,"
            "importance\n"
            "                 kim23-time     id,st,end,time,stdev\n"
            "                 kim23-opt-time id,st,end,time,stdev,breaks\n"
            "  --graph G      the graph the table was measured on\n"
            "  --metric M     importance column: accuracy (default), "
            "loss_ratio,\n"
            "                 or normalised\n"
            "  -o OUT.yaml    the table file to write (-o -: standard "
            "output)\n");
}

static void export_usage(FILE *out)
{
    fprintf(out,
            "usage: layermerge table export [--format F] IN.yaml -o OUT.csv\n\n"
            "Write a table in the authors' CSV layout.\n\n"
            "  --format F   layermerge (default), kim23-time or kim23-opt-time\n"
            "               (kim23 layouts: latency tables only)\n"
            "  -o OUT.csv   the CSV file to write (-o -: standard output)\n");
}

static void merge_usage(FILE *out)
{
    fprintf(out,
            "usage: layermerge table merge --graph G.yaml [--allow-missing] "
            "A.yaml B.yaml... -o OUT.yaml\n\n"
            "Combine shards written by separate workers. A key in two shards\n"
            "must have identical values; every entry of the graph must be\n"
            "covered unless --allow-missing is given. -o - writes the\n"
            "merged table to standard output.\n");
}

/* Options shared by the subcommands; positional arguments stay in argv. */
typedef struct table_opts {
    const char *cmd;
    const char *kind, *graph, *metric, *format, *out;
    int allow_missing, json;
    char **files;
    int n_files;
} table_opts;

static int table_value(const char *opt, const char *val, void *args)
{
    table_opts *o = args;
    const char **slot = !strcmp(opt, "--kind")     ? &o->kind
                        : !strcmp(opt, "--graph")  ? &o->graph
                        : !strcmp(opt, "--metric") ? &o->metric
                        : !strcmp(opt, "--format") ? &o->format
                                                   : &o->out;
    *slot = val;
    return 0;
}

static int table_flag(const char *opt, void *args)
{
    table_opts *o = args;
    if (!strcmp(opt, "--json"))
        o->json = 1;
    else
        o->allow_missing = 1;
    return 0;
}

static int table_file(const char *word, void *args)
{
    table_opts *o = args;
    o->files[o->n_files++] = (char *)word;
    return 0;
}

/* Each subcommand takes only its own options: `valued` and `flags`. */
static int parse_opts(const char *cmd, int argc, char **argv, table_opts *o,
                      const char *const *valued, const char *const *flags)
{
    o->cmd = cmd;
    o->files = calloc((size_t)argc, sizeof *o->files);
    if (!o->files)
        return lm_tool_usage_error(cmd, "out of memory");
    lm_tool_opts p = {cmd, valued, table_value, table_file, flags,
                      table_flag};
    return lm_tool_parse_argv(&p, argc, argv, 1, o);
}

/* The table file `save` writes to o->out, or to standard output for "-". */
static lm_status save_out(const table_opts *o, const lm_table *t,
                          int csv, lm_table_csv_format f)
{
    lm_tool_out out;
    if (lm_tool_out_begin(&out, o->out) != 0)
        return LM_ERR_IO;
    lm_status st = csv ? lm_table_export_csv(t, out.path, f)
                       : lm_table_save(t, out.path);
    if (lm_tool_out_end(&out, st == LM_OK) != 0 && st == LM_OK)
        st = LM_ERR_IO;
    return st;
}

static int load_entries(const char *path, lm_entries **out)
{
    lm_graph *g = NULL;
    if (lm_tool_graph_load(&g, path) != LM_OK)
        return lm_tool_fail(path);
    lm_status st = lm_entries_create(out, g);
    lm_graph_destroy(g);
    return st == LM_OK ? 0 : lm_tool_fail(path);
}

/* -o against the graph and every table or CSV file named. */
static int check_outputs(const char *cmd, const table_opts *o)
{
    const char **ins = calloc((size_t)o->n_files + 1, sizeof *ins);
    if (!ins)
        return lm_tool_usage_error(cmd, "out of memory");
    ins[0] = o->graph;
    for (int i = 0; i < o->n_files; i++)
        ins[i + 1] = o->files[i];
    const char *outs[] = {o->out};
    int rc = lm_tool_check_outputs(cmd, outs, 1, ins,
                                   (size_t)o->n_files + 1);
    free(ins);
    return rc;
}

/* ---- show -------------------------------------------------------------- */

static void print_record_at(const lm_table *t, size_t i, lm_table_record *r)
{
    r->size = sizeof *r;
    lm_table_record_info(r, t, i);
}

static void print_range(const lm_table *v)
{
    size_t n = lm_table_count(v), lo_i = 0, hi_i = 0;
    double lo = 0, hi = 0;
    for (size_t i = 0; i < n; i++) {
        lm_table_record r;
        print_record_at(v, i, &r);
        if (i == 0 || r.value < lo) {
            lo = r.value;
            lo_i = i;
        }
        if (i == 0 || r.value > hi) {
            hi = r.value;
            hi_i = i;
        }
    }
    const char *unit =
        lm_table_get_kind(v) == LM_TABLE_LATENCY ? " ms" : "";
    if (n)
        printf("  min:          %.4g%s (record %zu)\n"
               "  max:          %.4g%s (record %zu)\n",
               lo, unit, lo_i, hi, unit, hi_i);
}

/* The whole-network model of a latency table (docs/measure.md). */
static void print_network(const lm_table *t)
{
    lm_table_network net = {.size = sizeof net};
    if (lm_table_network_info(&net, t) != LM_OK)
        return;
    printf("  fixed cost:   %.4g ms (stdev %.2g; outside the entries)\n",
           net.fixed_ms, net.fixed_stdev);
    /* 0 is "not timed" (a caller's timer, an imported table). */
    if (net.measured_ms > 0.0)
        printf("  network:      %.4g ms, the original timed whole\n",
               net.measured_ms);
    else
        printf("  network:      not timed whole\n");
    for (size_t i = 0; i < net.stage_count; i++) {
        lm_table_stage s = {.size = sizeof s};
        if (lm_table_stage_info(&s, t, i) == LM_OK)
            printf("  stage (%zu,%zu]: %.4g ms alone, %.4g ms in the network "
                   "(x%.3f)\n", s.st, s.end, s.alone_ms, s.in_network_ms,
                   s.ratio);
    }
}

/* Entries whose passes still disagreed after re-timing. */
static void print_noisy(const lm_table *t)
{
    size_t n = 0, retimed = 0;
    int64_t passes = lm_table_int(t, LM_TABLE_PASSES);
    for (size_t i = 0; i < lm_table_count(t); i++) {
        lm_table_record r = {.size = sizeof r};
        if (lm_table_record_info(&r, t, i) != LM_OK)
            continue;
        retimed += passes > 0 && (int64_t)r.passes > passes;
        if (!r.noisy)
            continue;
        if (n++ == 0)
            printf("  noisy entries (spread of their passes):\n");
        printf("    %lld (st %zu, end %zu, K %lld): %.4g ms, %zu passes, "
               "spread %.0f%%\n", (long long)r.id, r.st, r.end,
               (long long)r.kernel, r.value, r.passes, 100.0 * r.spread);
    }
    printf("  timed again:  %zu entries (beyond %lld passes), %zu noisy\n",
           retimed, (long long)passes, n);
}

static void print_view(const char *path, const lm_table *v)
{
    size_t lo, hi;
    int shard = lm_table_shard(&lo, &hi, v);
    printf("%s:\n", path);
    printf("  kind:         %s\n", lm_table_kind_name(lm_table_get_kind(v)));
    printf("  graph:        %s\n", lm_table_fingerprint(v));
    if (lm_table_get_kind(v) == LM_TABLE_IMPORTANCE) {
        printf("  metric:       %s\n",
               lm_importance_metric_name(lm_table_metric(v)));
        printf("  finetune:     %s\n", lm_table_text(v, LM_TABLE_FINETUNE));
    }
    printf("  device:       %s\n", lm_table_text(v, LM_TABLE_DEVICE));
    printf("  timer:        %s\n", lm_table_text(v, LM_TABLE_TIMER));
    printf("  dtype:        %s\n", lm_table_text(v, LM_TABLE_DTYPE));
    printf("  batch:        %" PRId64 "\n", lm_table_int(v, LM_TABLE_BATCH));
    printf("  input:        %" PRId64 "x%" PRId64 "\n",
           lm_table_int(v, LM_TABLE_HEIGHT), lm_table_int(v, LM_TABLE_WIDTH));
    printf("  repetitions:  %" PRId64 "\n",
           lm_table_int(v, LM_TABLE_REPETITIONS));
    int lat = lm_table_get_kind(v) == LM_TABLE_LATENCY;
    if (lat) {
        printf("  threads:      %" PRId64 "\n",
               lm_table_int(v, LM_TABLE_THREADS));
        printf("  passes:       %" PRId64 "\n",
               lm_table_int(v, LM_TABLE_PASSES));
        print_network(v);
    }
    if (shard)
        printf("  shard:        [%zu, %zu)\n", lo, hi);
    printf("  records:      %zu\n", lm_table_count(v));
    print_range(v);
    if (lat)
        print_noisy(v);
}

static int table_show(int argc, char **argv)
{
    if (lm_tool_wants_help(argc, argv)) {
        show_usage(stdout);
        return 0;
    }
    static const char *const flags[] = {"--json", NULL};
    static const char *const none[] = {NULL};
    table_opts o = {0};
    int rc = parse_opts("table show", argc, argv, &o, none, flags);
    if (!rc && o.n_files < 1)
        rc = lm_tool_usage_error("table show", "no FILE given");
    if (rc) {
        free(o.files);
        return rc;
    }
    json_t *doc = o.json ? json_pack("{s:s,s:[]}", "format",
                                     "layermerge-table-show", "tables")
                         : NULL;
    json_t *list = doc ? json_object_get(doc, "tables") : NULL;
    for (int i = 0; i < o.n_files; i++) {
        lm_table *t = NULL;
        /* A file that fails still lets the others be shown. */
        if (lm_table_load(&t, o.files[i]) != LM_OK) {
            rc = lm_tool_fail(o.files[i]);
            if (list)
                json_array_append_new(list, json_pack("{s:s,s:s}", "file",
                                                      o.files[i], "error",
                                                      lm_last_error()));
        } else if (list) {
            json_array_append_new(list, lm_tool_json_table(o.files[i], t));
        } else {
            print_view(o.files[i], t);
        }
        lm_table_destroy(t);
    }
    if (o.json && lm_tool_json_print(doc))
        rc = 1;
    free(o.files);
    return rc;
}

/* ---- import / export --------------------------------------------------- */

static int csv_format(const char *name, lm_table_csv_format *out)
{
    if (!name || !strcmp(name, "layermerge") || !strcmp(name, "latency"))
        *out = LM_TABLE_CSV_LAYERMERGE;
    else if (!strcmp(name, "kim23-time"))
        *out = LM_TABLE_CSV_KIM23_TIME;
    else if (!strcmp(name, "kim23-opt-time"))
        *out = LM_TABLE_CSV_KIM23_OPT_TIME;
    else
        return -1;
    return 0;
}

static lm_status do_import(const table_opts *o, const lm_entries *e)
{
    if (!strcmp(o->kind, "importance")) {
        lm_importance_metric m = LM_METRIC_ACCURACY;
        lm_table *t = NULL;
        lm_status st = o->metric ? lm_importance_metric_from_name(&m, o->metric)
                                 : LM_OK;
        if (st == LM_OK)
            st = lm_table_import_csv(&t, LM_TABLE_IMPORTANCE, o->files[0],
                                     LM_TABLE_CSV_LAYERMERGE, m, e);
        if (st == LM_OK)
            st = save_out(o, t, 0, 0);
        lm_table_destroy(t);
        return st;
    }
    lm_table_csv_format f = LM_TABLE_CSV_LAYERMERGE;
    csv_format(o->kind, &f);
    lm_table *t = NULL;
    lm_status st = lm_table_import_csv(&t, LM_TABLE_LATENCY, o->files[0], f, 0,
                                       e);
    if (st == LM_OK)
        st = save_out(o, t, 0, 0);
    lm_table_destroy(t);
    return st;
}

static int table_import(int argc, char **argv)
{
    const char *cmd = "table import";
    if (lm_tool_wants_help(argc, argv)) {
        import_usage(stdout);
        return 0;
    }
    static const char *const valued[] = {"--kind", "--graph", "--metric",
                                         "-o", "--output", NULL};
    table_opts o = {0};
    lm_table_csv_format f;
    int rc = parse_opts(cmd, argc, argv, &o, valued, NULL);
    if (!rc && (!o.kind || !o.graph || !o.out || o.n_files != 1))
        rc = lm_tool_usage_error(cmd, "need --kind, --graph, -o and one CSV");
    if (!rc && strcmp(o.kind, "importance") && csv_format(o.kind, &f))
        rc = lm_tool_usage_error(cmd, "unknown --kind");
    if (!rc)
        rc = check_outputs(cmd, &o);
    lm_entries *e = NULL;
    if (!rc)
        rc = load_entries(o.graph, &e);
    if (!rc && do_import(&o, e) != LM_OK)
        rc = lm_tool_fail(o.files[0]);
    lm_entries_destroy(e);
    free(o.files);
    return rc;
}

static lm_status do_export(const table_opts *o, lm_table_csv_format f)
{
    lm_table *t = NULL;
    lm_status st = lm_table_load(&t, o->files[0]);
    if (st == LM_OK)
        st = save_out(o, t, 1,
                      lm_table_get_kind(t) == LM_TABLE_LATENCY
                          ? f
                          : LM_TABLE_CSV_LAYERMERGE);
    lm_table_destroy(t);
    return st;
}

static int table_export(int argc, char **argv)
{
    const char *cmd = "table export";
    if (lm_tool_wants_help(argc, argv)) {
        export_usage(stdout);
        return 0;
    }
    static const char *const valued[] = {"--format", "-o", "--output", NULL};
    table_opts o = {0};
    lm_table_csv_format f = LM_TABLE_CSV_LAYERMERGE;
    int rc = parse_opts(cmd, argc, argv, &o, valued, NULL);
    if (!rc && (!o.out || o.n_files != 1))
        rc = lm_tool_usage_error(cmd, "need one table file and -o");
    if (!rc && csv_format(o.format, &f))
        rc = lm_tool_usage_error(cmd, "unknown --format");
    if (!rc)
        rc = check_outputs(cmd, &o);
    if (!rc && do_export(&o, f) != LM_OK)
        rc = lm_tool_fail(o.files[0]);
    free(o.files);
    return rc;
}

/* ---- merge ------------------------------------------------------------- */

/* Shards of either kind: lm_table_merge refuses a mix, naming both. */
static lm_status merge_shards(const table_opts *o, const lm_entries *e,
                              uint32_t flags)
{
    lm_table **ts = calloc((size_t)o->n_files, sizeof *ts);
    lm_table *m = NULL;
    lm_status st = ts ? LM_OK : LM_ERR_NOMEM;
    for (int i = 0; st == LM_OK && i < o->n_files; i++)
        st = lm_table_load(&ts[i], o->files[i]);
    if (st == LM_OK)
        st = lm_table_merge(&m, e, (const lm_table *const *)ts,
                            (size_t)o->n_files, flags);
    if (st == LM_OK)
        st = save_out(o, m, 0, 0);
    lm_table_destroy(m);
    for (int i = 0; ts && i < o->n_files; i++)
        lm_table_destroy(ts[i]);
    free(ts);
    return st;
}

static int table_merge(int argc, char **argv)
{
    const char *cmd = "table merge";
    if (lm_tool_wants_help(argc, argv)) {
        merge_usage(stdout);
        return 0;
    }
    static const char *const valued[] = {"--graph", "-o", "--output", NULL};
    static const char *const merge_flags[] = {"--allow-missing", NULL};
    table_opts o = {0};
    int rc = parse_opts(cmd, argc, argv, &o, valued, merge_flags);
    if (!rc && (!o.graph || !o.out || o.n_files < 1))
        rc = lm_tool_usage_error(cmd, "need --graph, -o and table files");
    if (!rc)
        rc = check_outputs(cmd, &o);
    lm_entries *e = NULL;
    if (!rc)
        rc = load_entries(o.graph, &e);
    uint32_t flags = o.allow_missing ? LM_TABLE_MERGE_ALLOW_MISSING : 0;
    if (!rc && merge_shards(&o, e, flags) != LM_OK)
        rc = lm_tool_fail("merge");
    lm_entries_destroy(e);
    free(o.files);
    return rc;
}

int lm_cmd_table(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } subs[] = {{"show", table_show},
                {"import", table_import},
                {"export", table_export},
                {"merge", table_merge}};
    for (size_t i = 0; argc >= 2 && i < sizeof subs / sizeof *subs; i++)
        if (!strcmp(argv[1], subs[i].name))
            return subs[i].run(argc - 1, argv + 1);
    if (lm_tool_wants_help(argc, argv)) {
        table_usage(stdout);
        return 0;
    }
    if (argc >= 2) {
        char msg[300];
        snprintf(msg, sizeof msg, "unknown subcommand '%s' (show, import, "
                 "export or merge)", argv[1]);
        return lm_tool_usage_error("table", msg);
    }
    table_usage(stderr);
    return 2;
}
