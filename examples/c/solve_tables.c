/* solve_tables — read a latency and an importance table, solve, save.
 *
 * The tables hold one value per entry (docs/tables.md): the latency of the
 * entry's merged conv on the target device, and the importance of the
 * network in which only that entry is applied. They may be library YAML
 * files or the authors' CSV files, which are matched to the entries of the
 * graph by key (never by row order). The LayerMerge dynamic program then
 * picks one entry per segment of a partition of the trunk, maximising the
 * summed importance within the latency budget (docs/solvers.md); the same
 * single solve also gives the whole latency/importance Pareto front.
 *
 * usage: solve_tables GRAPH.yaml LATENCY IMPORTANCE [--ratio R]
 *                     [--metric M] [-o RESULT.yaml] [--front N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <layermerge/layermerge.h>

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: solve_tables GRAPH.yaml LATENCY IMPORTANCE [options]\n"
            "\n"
            "LATENCY and IMPORTANCE are library YAML tables or the authors'\n"
            "CSV files (id,st,end,ker,str,is_dw,time,stdev and\n"
            "id,st,end,ker,str,is_dw,conv_comb,importance).\n"
            "\n"
            "  --ratio R      budget as R x the original latency (default 0.7)\n"
            "  --metric M     what an importance CSV holds: normalised\n"
            "                 (default), accuracy or loss_ratio\n"
            "  -o FILE        save the result as YAML\n"
            "  --front N      print up to N points of the Pareto front\n"
            "                 (default 8; 0 for none)\n");
}

static int fail(const char *what, lm_status st)
{
    fprintf(stderr, "solve_tables: %s: %s (%s)\n", what, lm_last_error(),
            lm_status_str(st));
    return 1;
}

static int is_csv(const char *path)
{
    size_t n = strlen(path);
    return n > 4 && !strcmp(path + n - 4, ".csv");
}

/* CSV files are imported against the entries so every row gets its entry
 * id and the table the graph's fingerprint; YAML files carry both. */
static lm_status load_latency(lm_table **out, const char *path,
                              const lm_entries *e)
{
    if (is_csv(path))
        return lm_table_import_csv(out, LM_TABLE_LATENCY, path,
                                   LM_TABLE_CSV_LAYERMERGE, 0, e);
    return lm_table_load_kind(out, path, LM_TABLE_LATENCY);
}

static lm_status load_importance(lm_table **out, const char *path,
                                 lm_importance_metric metric,
                                 const lm_entries *e)
{
    if (is_csv(path))
        return lm_table_import_csv(out, LM_TABLE_IMPORTANCE, path,
                                   LM_TABLE_CSV_LAYERMERGE, metric, e);
    return lm_table_load_kind(out, path, LM_TABLE_IMPORTANCE);
}

static void print_result(const lm_result *r, double original)
{
    size_t n = lm_result_conv_count(r);
    printf("original latency: %.4f ms\n", original);
    printf("budget: %.4f ms\n", lm_result_budget(r));
    printf("latency: %.4f ms (%lld units)\n", lm_result_latency(r),
           (long long)lm_result_latency_units(r));
    printf("importance: %.6f\n", lm_result_importance(r));
    printf("segments: %zu\n", lm_result_segment_count(r));
    printf("kept activations:");
    for (size_t p = 1; p <= n; p++) {
        lm_result_position pos = {.size = sizeof pos};
        if (lm_result_position_info(&pos, r, p) == LM_OK &&
            pos.activation_kept)
            printf(" %zu", p);
    }
    printf("\npruned convs:");
    for (size_t c = 1; c <= n; c++) {
        lm_result_conv conv = {.size = sizeof conv};
        if (lm_result_conv_info(&conv, r, c) == LM_OK && !conv.kept)
            printf(" %zu", c);
    }
    printf("\n");
    for (size_t i = 0; i < lm_result_segment_count(r); i++) {
        lm_result_segment s = {.size = sizeof s};
        if (lm_result_segment_info(&s, r, i) != LM_OK)
            continue;
        if (s.end - s.st > 1) /* only the merged segments, to stay short */
            printf("  merged (%zu, %zu]: entry %zu, K=%lld, %zu of %zu "
                   "convs kept\n",
                   s.st, s.end, s.entry, (long long)s.kernel, s.n_kept,
                   s.end - s.st);
    }
}

static int print_front(const lm_solver *solver, const lm_solve_options *o,
                       size_t show)
{
    lm_front *f = NULL;
    lm_status st = lm_solver_run_front(&f, solver, o);
    if (st != LM_OK)
        return fail("front", st);
    size_t n = lm_front_count(f);
    printf("pareto front: %zu points\n", n);
    /* The last point is the optimum; print an even spread ending there. */
    for (size_t k = 0; k < show && k < n; k++) {
        size_t i = show >= n ? k : (n - 1) - (show - 1 - k) * (n - 1) / (show - 1);
        const lm_result *p = lm_front_get(f, i);
        printf("  %4zu: latency %8.4f ms  importance %.6f  segments %zu\n", i,
               lm_result_latency(p), lm_result_importance(p),
               lm_result_segment_count(p));
    }
    lm_front_destroy(f);
    return 0;
}

struct args {
    const char *graph, *latency, *importance, *output;
    double ratio;
    lm_importance_metric metric;
    size_t front;
};

static int parse(struct args *a, int argc, char **argv)
{
    const char **pos[] = {&a->graph, &a->latency, &a->importance};
    size_t npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--ratio") && v) {
            a->ratio = strtod(argv[++i], NULL);
        } else if (!strcmp(argv[i], "--metric") && v) {
            if (lm_importance_metric_from_name(&a->metric, argv[++i]) != LM_OK)
                return 2;
        } else if (!strcmp(argv[i], "-o") && v) {
            a->output = argv[++i];
        } else if (!strcmp(argv[i], "--front") && v) {
            a->front = strtoul(argv[++i], NULL, 10);
        } else if (argv[i][0] != '-' && npos < 3) {
            *pos[npos++] = argv[i];
        } else {
            return 2;
        }
    }
    return npos == 3 ? -1 : 2;
}

/* Everything the solve needs, freed together whatever the path out. */
struct work {
    lm_graph *graph;
    lm_entries *entries;
    lm_table *latency;
    lm_table *importance;
    lm_solver *solver;
    lm_solve_options *options;
    lm_result *result;
};

static void work_free(struct work *w)
{
    lm_result_destroy(w->result);
    lm_solve_options_destroy(w->options);
    lm_solver_destroy(w->solver);
    lm_table_destroy(w->importance);
    lm_table_destroy(w->latency);
    lm_entries_destroy(w->entries);
    lm_graph_destroy(w->graph);
}

static int run(struct work *w, const struct args *a)
{
    lm_status st;
    if ((st = lm_graph_load(&w->graph, a->graph)) != LM_OK)
        return fail("load graph", st);
    if ((st = lm_entries_create(&w->entries, w->graph)) != LM_OK)
        return fail("entries", st);
    if ((st = load_latency(&w->latency, a->latency, w->entries)) != LM_OK)
        return fail("latency table", st);
    if ((st = load_importance(&w->importance, a->importance, a->metric,
                              w->entries)) != LM_OK)
        return fail("importance table", st);
    /* Checks fingerprints and that every entry has both values. */
    if ((st = lm_solver_create(&w->solver, w->graph, w->entries, w->latency,
                               w->importance)) != LM_OK)
        return fail("solver", st);
    if ((st = lm_solve_options_create(&w->options)) != LM_OK ||
        (st = lm_solve_options_set_budget_ratio(w->options, a->ratio)) != LM_OK)
        return fail("options", st);
    if ((st = lm_solver_run(&w->result, w->solver, w->options)) != LM_OK)
        return fail("solve", st); /* an infeasible budget names the minimum */
    print_result(w->result, lm_solver_original_latency(w->solver));
    if (a->output) {
        if ((st = lm_result_save(w->result, a->output)) != LM_OK)
            return fail("save result", st);
        printf("saved %s\n", a->output);
    }
    return a->front ? print_front(w->solver, w->options, a->front) : 0;
}

int main(int argc, char **argv)
{
    struct args a = {.ratio = 0.7, .metric = LM_METRIC_NORMALISED, .front = 8};
    int rc = parse(&a, argc, argv);
    if (rc >= 0) {
        usage(rc ? stderr : stdout);
        return rc;
    }
    struct work w = {0};
    rc = run(&w, &a);
    work_free(&w);
    return rc;
}
