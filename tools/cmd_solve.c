/* `layermerge solve` and `layermerge front`: choose what to merge and prune
 * within a latency budget (docs/method.md section 6, 7) from a graph and its
 * tables, or from the kim23 authors' files, and print the choice or the Pareto
 * front. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "layermerge/layermerge.h"
#include "front_plot.h"
#include "json.h"
#include "progress.h"

static void solve_usage(FILE *out, const char *cmd)
{
    int front = !strcmp(cmd, "front");
    fprintf(out,
            "usage: layermerge %s GRAPH.yaml --latency T.yaml|T.csv\n"
            "           --importance I.yaml|I.csv (--budget MS | --ratio R)\n"
            "           [--precision P] [--rounding ceil|floor]\n"
            "           [--method layermerge|kim23|prune] [--calibrate MODE] [--json]%s\n"
            "%s"
            "       layermerge %s --method kim23 --latency TIME.csv\n"
            "           --importance RAW.csv (--budget MS | --ratio R) [--graph G.yaml]\n"
            "       layermerge %s GRAPH.yaml --method prune --latency T.yaml|T.csv\n"
            "           --conv-importance CONVS.csv (--budget MS | --ratio R)\n\n",
            cmd, front ? "" : " [-o RESULT.yaml]",
            front ? "           [--svg FILE] [--csv FILE] [--mark R[,R...]]\n" : "",
            cmd, cmd);
    fprintf(out, "%s\n\n",
            front ? "Print every non-dominated (latency, importance) solution up to\n"
                    "the budget (default: the original latency), by increasing latency."
                  : "Choose which activations to remove, which convs to merge and\n"
                    "which to prune so that the summed importance is largest within the\n"
                    "latency budget; print a summary and a per-segment table.");
    fprintf(out,
            "options:\n"
            "  --latency FILE      latency table: library YAML, or the authors' CSV\n"
            "                      id,st,end,ker,str,is_dw,time,stdev (kim23: id,st,end,time,stdev)\n"
            "  --importance FILE   importance table: library YAML, or the authors' CSV\n"
            "                      id,st,end,ker,str,is_dw,conv_comb,importance\n"
            "                      (kim23: raw id,st,end,st_act,end_act,val_acc)\n"
            "  --metric NAME       what an importance CSV holds: normalised (default),\n"
            "                      accuracy (percent) or loss_ratio\n"
            "  --conv-importance FILE  prune: CSV conv,importance (conv 1..N)\n"
            "  --budget MS         latency budget in the tables' unit (ms)\n"
            "  --ratio R           budget as R x the original network's latency,\n"
            "                      0 < R <= 1\n"
            "  --precision P       units per ms when discretising (default 10, the\n"
            "                      authors'; 0: the original network is 10000 units)\n"
            "  --rounding MODE     ceil (default: never exceeds the budget) or floor\n"
            "                      (the authors' parity rounding)\n"
            "  --method NAME       layermerge (default), kim23 or prune\n"
            "  --calibrate MODE    on: solve on the latency table scaled by its\n"
            "                      in-network stage ratios; off: as timed; auto\n"
            "                      (default): on when the table has them\n"
            "  --graph FILE        kim23: the graph (identity positions, kernels)\n"
            "%s"
            "  -h, --help          show this help\n\n"
            "%s"
            "Latencies are whole-network predictions: the table's fixed cost\n"
            "(what no entry carries) plus the chosen entries. Without --budget\n"
            "or --ratio the budget is the original network's prediction.\n"
            "Exit status: 0 success, 1 failure (an infeasible budget names the\n"
            "smallest feasible one), 2 bad usage.\n",
            front ? "  --json              the front as one JSON document on standard output\n"
                    "  --svg FILE          also draw the front as an SVG plot: latency\n"
                    "                      against importance, the original network and\n"
                    "                      the --mark solutions marked (atomically)\n"
                    "  --csv FILE          also write the front as CSV (header row, full\n"
                    "                      precision); '-': to stdout instead of the table\n"
                    "  --mark R[,R...]     budget ratios whose chosen solutions the SVG\n"
                    "                      marks (each solved as `solve --ratio R`)\n"
                  : "  -o, --output FILE   write the result as YAML (atomically; -o -:\n"
                    "                      standard output, the summary then on standard error)\n"
                    "  --json              print the result (the fields of its YAML file and\n"
                    "                      original_latency) as one JSON document instead\n"
                    "                      of the summary\n",
            front ? "CSV columns: point,latency_ms,latency_units,importance,segments,\n"
                    "pruned_convs,kept_activations.\n" : "");
}

typedef struct solve_args {
    const char *cmd;
    const char *graph, *latency, *importance, *conv_importance, *output;
    lm_importance_metric metric;
    int has_budget, has_ratio, has_precision, calibrate, json;
    double budget, ratio, precision;
    lm_rounding rounding;
    lm_method method;
    lm_tool_front_request pictures; /* front: --svg, --csv, --mark */
} solve_args;

/* "<before>'<arg>'<after>" as a usage error. */
static int usage_error(const solve_args *a, const char *before,
                       const char *arg, const char *after)
{
    char msg[256];
    snprintf(msg, sizeof msg, "%s'%s'%s", before, arg, after);
    return lm_tool_usage_error(a->cmd, msg);
}

static int set_choice(solve_args *a, const char *opt, const char *val)
{
    if (!strcmp(opt, "--rounding")) {
        if (strcmp(val, "ceil") && strcmp(val, "floor"))
            return usage_error(a, "--rounding must be ceil or floor, not ",
                               val, "");
        a->rounding = strcmp(val, "floor") ? LM_ROUNDING_CEIL
                                           : LM_ROUNDING_FLOOR;
        return 0;
    }
    if (!strcmp(opt, "--metric"))
        return lm_importance_metric_from_name(&a->metric, val) == LM_OK
                   ? 0
                   : usage_error(a, "unknown --metric ", val, "");
    return lm_method_from_name(&a->method, val) == LM_OK
               ? 0
               : usage_error(a, "unknown --method ", val, "");
}

static int set_option(solve_args *a, const char *opt, const char *val)
{
    if (lm_tool_front_is_option(opt))
        return lm_tool_front_option(&a->pictures, a->cmd, opt, val);
    const char **paths[] = {&a->latency, &a->importance, &a->conv_importance,
                            &a->graph, &a->output, &a->output};
    static const char *const names[] = {"--latency", "--importance",
                                        "--conv-importance", "--graph",
                                        "-o", "--output"};
    size_t n_paths = strcmp(a->cmd, "front") ? 6 : 4;
    for (size_t i = 0; i < n_paths; i++)
        if (!strcmp(opt, names[i])) {
            *paths[i] = val;
            return 0;
        }
    if (!strcmp(opt, "--budget"))
        return a->has_budget = 1,
               lm_tool_real(a->cmd, opt, val, 1, 0.0, 1e300, &a->budget);
    if (!strcmp(opt, "--ratio"))
        return a->has_ratio = 1,
               lm_tool_real(a->cmd, opt, val, 1, 0.0, 1.0, &a->ratio);
    if (!strcmp(opt, "--precision"))
        return a->has_precision = 1,
               lm_tool_real(a->cmd, opt, val, 0, 0.0, 1e300, &a->precision);
    if (!strcmp(opt, "--calibrate")) {
        a->calibrate = lm_tool_calibrate_mode(val);
        if (a->calibrate < -1)
            return usage_error(a, "--calibrate must be on, off or auto, not ",
                               val, "");
        return 0;
    }
    if (!strcmp(opt, "--rounding") || !strcmp(opt, "--metric") ||
        !strcmp(opt, "--method"))
        return set_choice(a, opt, val);
    return usage_error(a, "unknown option ", opt, "");
}

static int check_args(const solve_args *a)
{
    if (a->has_budget && a->has_ratio)
        return lm_tool_usage_error(a->cmd, "give --budget or --ratio, not both");
    if (!a->latency)
        return lm_tool_usage_error(a->cmd, "missing --latency");
    if (a->method != LM_METHOD_KIM23 && !a->graph)
        return lm_tool_usage_error(a->cmd, "missing GRAPH.yaml");
    if (a->method == LM_METHOD_PRUNE && !a->conv_importance)
        return lm_tool_usage_error(a->cmd, "prune needs --conv-importance");
    if (a->method != LM_METHOD_PRUNE && !a->importance)
        return lm_tool_usage_error(a->cmd, "missing --importance");
    return 0;
}

static int solve_value(const char *opt, const char *val, void *args)
{
    return set_option(args, opt, val);
}

static int solve_flag(const char *opt, void *args)
{
    (void)opt;
    ((solve_args *)args)->json = 1;
    return 0;
}

static int solve_file(const char *word, void *args)
{
    solve_args *a = args;
    if (a->graph)
        return lm_tool_usage_error(a->cmd, "give one graph file");
    a->graph = word;
    return 0;
}

static int parse_args(int argc, char **argv, solve_args *a)
{
    static const char *const solve_opts[] = {
        "--latency", "--importance", "--conv-importance", "--graph",
        "--metric", "--budget", "--ratio", "--precision", "--rounding",
        "--method", "--calibrate", "-o", "--output", NULL};
    static const char *const flags[] = {"--json", NULL};
    a->cmd = argv[0];
    a->metric = LM_METRIC_NORMALISED;
    a->calibrate = -1;
    /* front has no -o: the list without its last two names. */
    static const char *const front_opts[] = {
        "--latency", "--importance", "--conv-importance", "--graph",
        "--metric", "--budget", "--ratio", "--precision", "--rounding",
        "--method", "--calibrate", "--svg", "--csv", "--mark", NULL};
    lm_tool_opts o = {a->cmd, strcmp(a->cmd, "front") ? solve_opts
                                                      : front_opts,
                      solve_value, solve_file, flags, solve_flag};
    int rc = lm_tool_parse_argv(&o, argc, argv, 1, a);
    if (rc)
        return rc;
    if (a->json && a->pictures.csv && !strcmp(a->pictures.csv, "-"))
        return lm_tool_usage_error(a->cmd, "--json and --csv - both want "
                                   "standard output");
    if (a->json && lm_tool_is_stdout(a->output))
        return lm_tool_usage_error(a->cmd, "--json and -o - both want "
                                   "standard output");
    return check_args(a);
}

/* ---- inputs ---------------------------------------------------------- */

typedef struct inputs {
    lm_graph *graph;
    lm_entries *entries;
    lm_table *lat;
    lm_table *imp;
    lm_solver *solver;
} inputs;

static void inputs_free(inputs *in)
{
    lm_solver_destroy(in->solver);
    lm_table_destroy(in->imp);
    lm_table_destroy(in->lat);
    lm_entries_destroy(in->entries);
    lm_graph_destroy(in->graph);
}

static int is_csv(const char *path)
{
    size_t n = strlen(path);
    return n >= 4 && !strcmp(path + n - 4, ".csv");
}

/* A table file for this graph: imported by key (CSV) or loaded (YAML),
 * then checked record by record against the entries (every key an entry,
 * every id its key's), so a hand-edited or stale file cannot put a value
 * on the wrong entry. */
static lm_status load_table(const solve_args *a, const inputs *in,
                            lm_table_kind kind, const char *path,
                            lm_table **out)
{
    lm_status st = is_csv(path)
                       ? lm_table_import_csv(out, kind, path,
                                             LM_TABLE_CSV_LAYERMERGE,
                                             kind == LM_TABLE_IMPORTANCE
                                                 ? a->metric
                                                 : 0,
                                             in->entries)
                       : lm_table_load_kind(out, path, kind);
    return st == LM_OK ? lm_table_check(*out, in->entries) : st;
}

static int load_tables(const solve_args *a, inputs *in)
{
    if (load_table(a, in, LM_TABLE_LATENCY, a->latency, &in->lat) != LM_OK)
        return lm_tool_fail(a->latency);
    if (lm_tool_calibrates(in->lat, a->calibrate)) {
        lm_table *cal = NULL;
        lm_status st = lm_table_create_calibrated(&cal, in->lat);
        lm_table_destroy(in->lat);
        in->lat = cal;
        if (st != LM_OK)
            return lm_tool_fail(a->latency);
    }
    if (a->method == LM_METHOD_PRUNE)
        return 0;
    return load_table(a, in, LM_TABLE_IMPORTANCE, a->importance, &in->imp) ==
                   LM_OK
               ? 0
               : lm_tool_fail(a->importance);
}

/* CSV `conv,importance`, one row per conv 1..N in any order. */
static int read_conv_importance(const char *path, size_t n, double *out)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "layermerge: %s: cannot open\n", path);
        return 1;
    }
    char line[256];
    size_t row = 1, seen = 0;
    int bad = !fgets(line, sizeof line, fp) || strncmp(line, "conv,importance", 15);
    while (!bad && fgets(line, sizeof line, fp)) {
        row++;
        unsigned long c = 0;
        double v = 0;
        if (line[0] == '\n')
            continue;
        bad = sscanf(line, "%lu,%lf", &c, &v) != 2 || c < 1 || c > n;
        if (!bad) {
            out[c - 1] = v;
            seen++;
        }
    }
    fclose(fp);
    if (bad || seen != n) {
        fprintf(stderr, "layermerge: %s:%zu: expected a header "
                "'conv,importance' and one row per conv 1..%zu\n", path, row, n);
        return 1;
    }
    return 0;
}

static int prune_importance(const solve_args *a, inputs *in)
{
    size_t n = lm_graph_conv_count(in->graph);
    double *imp = calloc(n ? n : 1, sizeof *imp);
    int rc = imp ? read_conv_importance(a->conv_importance, n, imp) : 1;
    if (rc == 0 && lm_solver_set_conv_importance(in->solver, imp, n) != LM_OK)
        rc = lm_tool_fail(a->conv_importance);
    free(imp);
    return rc;
}

static int open_inputs(const solve_args *a, inputs *in)
{
    if (a->graph && lm_tool_graph_load(&in->graph, a->graph) != LM_OK)
        return lm_tool_fail(a->graph);
    if (a->method == LM_METHOD_KIM23)
        return lm_solver_create_kim23(&in->solver, a->latency, a->importance,
                                      in->graph) == LM_OK
                   ? 0
                   : lm_tool_fail("reading the kim23 tables");
    if (lm_entries_create(&in->entries, in->graph) != LM_OK)
        return lm_tool_fail("enumerating entries");
    int rc = load_tables(a, in);
    if (rc != 0)
        return rc;
    /* Solve over the subsets the importance was measured with (the
     * authors' conv_comb, or a table this library measured). */
    lm_entries *measured = NULL;
    if (in->imp && lm_tool_entries(&measured, in->graph, NULL, in->imp) !=
                       LM_OK)
        return lm_tool_fail("the importance table's kept convs");
    if (measured) {
        lm_entries_destroy(in->entries);
        in->entries = measured;
    }
    if (lm_solver_create(&in->solver, in->graph, in->entries, in->lat,
                         in->imp) != LM_OK)
        return lm_tool_fail("setting up the solver");
    return a->method == LM_METHOD_PRUNE ? prune_importance(a, in) : 0;
}

static int make_options(const solve_args *a, lm_solve_options **o)
{
    lm_status st = lm_solve_options_create(o);
    if (st == LM_OK) st = lm_solve_options_set_method(*o, a->method);
    if (st == LM_OK) st = lm_solve_options_set_rounding(*o, a->rounding);
    if (st == LM_OK && a->has_precision)
        st = lm_solve_options_set_precision(*o, a->precision);
    if (st == LM_OK && a->has_budget)
        st = lm_solve_options_set_budget(*o, a->budget);
    if (st == LM_OK && a->has_ratio)
        st = lm_solve_options_set_budget_ratio(*o, a->ratio);
    if (st != LM_OK)
        return lm_tool_usage_error(a->cmd, lm_last_error());
    return 0;
}

/* ---- output ---------------------------------------------------------- */

/* 1 when the result keeps trunk conv `conv`. */
static int result_keeps_conv(const lm_result *r, size_t conv)
{
    lm_result_conv info = {.size = sizeof info};
    return lm_result_conv_info(&info, r, conv) == LM_OK && info.kept;
}

/* 1 when the result keeps the nonlinearity at `position`. */
static int result_keeps_act(const lm_result *r, size_t position)
{
    lm_result_position info = {.size = sizeof info};
    return lm_result_position_info(&info, r, position) == LM_OK &&
           info.activation_kept;
}

static size_t count_pruned(const lm_result *r)
{
    size_t n = 0;
    for (size_t c = 1; c <= lm_result_conv_count(r); c++)
        n += !result_keeps_conv(r, c);
    return n;
}

static void print_positions(FILE *fp, const lm_result *r,
                            int (*pred)(const lm_result *, size_t), int want)
{
    int first = 1;
    fputc('{', fp);
    for (size_t p = 1; p <= lm_result_conv_count(r); p++)
        if (pred(r, p) == want) {
            fprintf(fp, first ? "%zu" : ",%zu", p);
            first = 0;
        }
    fputs("}\n", fp);
}

static void print_segments(FILE *fp, const lm_result *r)
{
    fprintf(fp, "\n%4s %4s %4s %6s %4s %4s %3s %10s %11s  %s\n", "seg", "st", "end",
           "entry", "K", "str", "dw", "latency", "importance", "kept convs");
    for (size_t i = 0; i < lm_result_segment_count(r); i++) {
        lm_result_segment s = {.size = sizeof s};
        lm_result_segment_info(&s, r, i);
        char entry[24] = "-";
        if (s.entry != SIZE_MAX)
            snprintf(entry, sizeof entry, "%zu", s.entry);
        fprintf(fp, "%4zu %4zu %4zu %6s %4lld %4lld %3d %10.4f %11.6f  ", i, s.st,
               s.end, entry, (long long)s.kernel, (long long)s.stride,
               (int)s.depthwise, s.latency, s.importance);
        for (size_t k = 0; k < s.n_kept; k++)
            fprintf(fp, k ? ",%zu" : "%zu", s.kept[k]);
        fputs(s.n_kept ? "\n" : "(identity)\n", fp);
    }
}

static void print_summary(FILE *fp, const lm_result *r, double original)
{
    size_t n = lm_result_conv_count(r), acts = 0;
    for (size_t p = 1; p <= n; p++)
        acts += result_keeps_act(r, p);
    double prec = lm_result_precision(r);
    fprintf(fp, "method:             %s\n", lm_method_name(lm_result_method(r)));
    fprintf(fp, "budget:             %.4g ms (%lld units at precision %g, "
           "rounding %s)\n", lm_result_budget(r),
           (long long)lm_result_budget_units(r), prec,
           lm_result_rounding(r) == LM_ROUNDING_FLOOR ? "floor" : "ceil");
    fprintf(fp, "original latency:   %.4g ms (predicted: fixed cost %.4g ms + "
           "its entries)\n", original, lm_result_fixed_latency(r));
    fprintf(fp, "predicted latency:  %.4g ms real, entries %lld units (%.4g ms "
           "discretised)\n", lm_result_latency(r),
           (long long)lm_result_latency_units(r),
           (double)lm_result_latency_units(r) / prec);
    fprintf(fp, "importance:         %.6g\n", lm_result_importance(r));
    fprintf(fp, "segments:           %zu\n", lm_result_segment_count(r));
    fprintf(fp, "kept activations:   %zu of %zu ", acts, n);
    print_positions(fp, r, result_keeps_act, 1);
    fprintf(fp, "pruned convs:       %zu ", count_pruned(r));
    print_positions(fp, r, result_keeps_conv, 0);
    print_segments(fp, r);
}

static void print_front(const lm_front *f)
{
    printf("%5s %12s %8s %14s %9s %7s\n", "point", "latency_ms", "units",
           "importance", "segments", "pruned");
    for (size_t i = 0; i < lm_front_count(f); i++) {
        const lm_result *r = lm_front_get(f, i);
        printf("%5zu %12.6f %8lld %14.9f %9zu %7zu\n", i, lm_result_latency(r),
               (long long)lm_result_latency_units(r), lm_result_importance(r),
               lm_result_segment_count(r), count_pruned(r));
    }
}

/* `front --svg/--csv`: the marks solved at their ratios, then the files. */
static int front_pictures(const solve_args *a, const inputs *in,
                          const lm_front *f)
{
    const lm_tool_front_request *req = &a->pictures;
    lm_result *marks[LM_TOOL_MAX_MARKS] = {0};
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < req->n_marks; k++) {
        lm_solve_options *o = NULL;
        rc = make_options(a, &o);
        if (rc == 0 && (lm_solve_options_set_budget_ratio(o, req->marks[k]) !=
                            LM_OK ||
                        lm_solver_run(&marks[k], in->solver, o) != LM_OK))
            rc = lm_tool_fail("--mark");
        lm_solve_options_destroy(o);
    }
    char title[256];
    snprintf(title, sizeof title, "Pareto front of %s (%s)",
             in->graph ? lm_graph_name(in->graph) : "the kim23 tables",
             lm_method_name(a->method));
    lm_tool_front_plot p = {
        .title = title, .front = f,
        .original_ms = lm_solver_original_latency(in->solver),
        .original_importance = lm_tool_original_importance(in->entries,
                                                           in->imp),
        .mark_ratios = req->marks, .marks = (const lm_result *const *)marks,
        .n_marks = req->n_marks, .standalone = 1};
    if (rc == 0)
        rc = lm_tool_front_files(req, &p);
    for (size_t k = 0; k < req->n_marks; k++)
        lm_result_destroy(marks[k]);
    return rc;
}

static int run(const solve_args *a, const inputs *in, const lm_solve_options *o)
{
    if (!strcmp(a->cmd, "front")) {
        lm_front *f = NULL;
        if (lm_solver_run_front(&f, in->solver, o) != LM_OK)
            return lm_tool_fail("front");
        int rc = 0;
        if (a->json)
            rc = lm_tool_json_print(lm_tool_json_front(f));
        else if (!a->pictures.csv || strcmp(a->pictures.csv, "-"))
            print_front(f);
        if (rc == 0)
            rc = front_pictures(a, in, f);
        lm_front_destroy(f);
        return rc;
    }
    lm_result *r = NULL;
    if (lm_solver_run(&r, in->solver, o) != LM_OK)
        return lm_tool_fail("solve");
    double original = lm_solver_original_latency(in->solver);
    int rc = 0;
    if (a->json) {
        json_t *doc = lm_tool_json_result(r);
        if (doc)
            json_object_set_new(doc, "original_latency", json_real(original));
        rc = lm_tool_json_print(doc);
    } else {
        /* With "-o -" the result owns standard output; the summary moves
         * to standard error. */
        print_summary(lm_tool_is_stdout(a->output) ? stderr : stdout, r,
                      original);
    }
    lm_tool_out out;
    if (rc == 0 && a->output && (rc = lm_tool_out_begin(&out, a->output)) == 0) {
        fflush(stdout);
        lm_status st = lm_result_save(r, out.path);
        rc = st != LM_OK ? lm_tool_fail(a->output) : 0;
        rc |= lm_tool_out_end(&out, st == LM_OK);
    }
    lm_result_destroy(r);
    return rc;
}

static int solve_or_front(int argc, char **argv)
{
    if (lm_tool_wants_help(argc, argv)) {
        solve_usage(stdout, argv[0]);
        return 0;
    }
    solve_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc != 0)
        return rc;
    const char *csv = a.pictures.csv && strcmp(a.pictures.csv, "-")
                          ? a.pictures.csv : NULL;
    const char *outs[] = {a.output, a.pictures.svg, csv};
    const char *ins[] = {a.graph, a.latency, a.importance, a.conv_importance};
    if ((rc = lm_tool_check_outputs(a.cmd, outs, 3, ins, 4)) != 0)
        return rc;
    lm_solve_options *o = NULL;
    rc = make_options(&a, &o);
    inputs in = {0};
    if (rc == 0)
        rc = open_inputs(&a, &in);
    if (rc == 0)
        rc = run(&a, &in, o);
    inputs_free(&in);
    lm_solve_options_destroy(o);
    return rc;
}

int lm_cmd_solve(int argc, char **argv)
{
    return solve_or_front(argc, argv);
}

int lm_cmd_front(int argc, char **argv)
{
    return solve_or_front(argc, argv);
}
