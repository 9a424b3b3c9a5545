/* `layermerge plan`, `layermerge merge` and `layermerge verify`: the
 * training-loop plan of an entry or a result (docs/method.md section 8), the
 * merged network of a result (docs/method.md section 9), and the check that
 * the merged network computes what the fine-tuning chain computes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "layermerge/layermerge.h"
#include "progress.h"

typedef struct merge_args {
    const char *cmd;
    const char *pos[3];
    int n_pos;
    const char *output, *result, *merged;
    int has_entry, has_random;
    uint64_t entry, random_seed, seed;
    size_t batch;
    double tolerance;
} merge_args;

static void merge_usage(FILE *out, const char *cmd)
{
    if (!strcmp(cmd, "plan"))
        fprintf(out,
                "usage: layermerge plan GRAPH.yaml (--entry ID | --result RESULT.yaml)\n"
                "           [-o PLAN.yaml]\n\n"
                "Print (or write) the training-loop plan: per conv keep and padding\n"
                "during fine-tuning, per position the activation, per skip fused.\n\n"
                "options:\n"
                "  --entry ID          the plan measuring one table entry's importance\n"
                "  --result FILE       the plan fine-tuning a solver result\n"
                "  -o, --output FILE   write the plan as YAML (atomically; -o -:\n"
                "                      standard output, as without -o)\n");
    else if (!strcmp(cmd, "merge"))
        fprintf(out,
                "usage: layermerge merge GRAPH.yaml (WEIGHTS.safetensors | --random-weights SEED)\n"
                "           RESULT.yaml -o OUT\n\n"
                "Merge every segment of the result into one conv; write OUT.yaml (the\n"
                "merged graph) and OUT.safetensors (its weights); print a summary.\n\n"
                "options:\n"
                "  -o, --output OUT    output prefix (OUT.yaml, OUT.safetensors)\n"
                "  --random-weights S  use deterministic random weights (seed S) instead\n"
                "                      of a weights file (for trying things out)\n");
    else
        fprintf(out,
                "usage: layermerge verify GRAPH.yaml (WEIGHTS.safetensors | --random-weights SEED)\n"
                "           RESULT.yaml [--merged OUT.yaml] [--tolerance T] [--batch N]\n"
                "           [--seed S]\n\n"
                "Run the fine-tuning chain (the original network with the result's plan)\n"
                "and the merged network on the same random input. The last line is\n"
                "exactly 'max_abs_error=X max_rel_error=Y' (relative to the largest\n"
                "output magnitude).\n\n"
                "options:\n"
                "  --merged FILE       a merged graph written by 'merge' (its weights\n"
                "                      beside it, .safetensors); default: merge in memory\n"
                "  --tolerance T       largest accepted max_rel_error (default 1e-5)\n"
                "  --batch N           batch size (default 1)\n"
                "  --seed S            input seed (default 1)\n"
                "  --random-weights S  as for 'merge'\n");
    fprintf(out, "  -h, --help          show this help\n\n"
                 "Exit status: 0 success, 1 failure%s, 2 bad usage.\n",
            strcmp(cmd, "verify") ? "" : " (or max_rel_error above tolerance)");
}

static int merge_value(const char *opt, const char *v, void *args)
{
    merge_args *a = args;
    size_t u = 0;
    if (!strcmp(opt, "-o") || !strcmp(opt, "--output"))
        a->output = v;
    else if (!strcmp(opt, "--result"))
        a->result = v;
    else if (!strcmp(opt, "--merged"))
        a->merged = v;
    else if (!strcmp(opt, "--tolerance"))
        return lm_tool_real(a->cmd, opt, v, 0, 0.0, 1e300, &a->tolerance);
    else if (lm_tool_whole(a->cmd, opt, v, !strcmp(opt, "--batch") ? 1 : 0,
                           SIZE_MAX, &u))
        return 2;
    else if (!strcmp(opt, "--entry")) {
        a->entry = u;
        a->has_entry = 1;
    } else if (!strcmp(opt, "--batch")) {
        a->batch = u;
    } else if (!strcmp(opt, "--seed")) {
        a->seed = u;
    } else {
        a->random_seed = u;
        a->has_random = 1;
    }
    return 0;
}

static int merge_file(const char *word, void *args)
{
    merge_args *a = args;
    if (a->n_pos == 3)
        return lm_tool_usage_error(a->cmd, "too many arguments");
    a->pos[a->n_pos++] = word;
    return 0;
}

/* Each command takes its own options only. */
static int parse_args(merge_args *a, int argc, char **argv)
{
    static const char *const plan_opts[] = {"-o", "--output", "--entry",
                                            "--result", NULL};
    static const char *const merge_opts[] = {"-o", "--output",
                                             "--random-weights", NULL};
    static const char *const verify_opts[] = {"--merged", "--tolerance",
                                              "--batch", "--seed",
                                              "--random-weights", NULL};
    const char *const *valued = !strcmp(a->cmd, "plan")    ? plan_opts
                                : !strcmp(a->cmd, "merge") ? merge_opts
                                                           : verify_opts;
    lm_tool_opts o = {a->cmd, valued, merge_value, merge_file, NULL, NULL};
    return lm_tool_parse_argv(&o, argc, argv, 1, a);
}

/* ---- plan ---------------------------------------------------------------- */

static int run_plan(const merge_args *a)
{
    if (a->n_pos != 1 || a->has_entry == (a->result != NULL))
        return lm_tool_usage_error(a->cmd, "expected GRAPH.yaml and exactly "
                                   "one of --entry and --result");
    const char *outs[] = {a->output}, *ins[] = {a->pos[0], a->result};
    int bad = lm_tool_check_outputs(a->cmd, outs, 1, ins, 2);
    if (bad)
        return bad;
    lm_graph *g = NULL;
    lm_entries *e = NULL;
    lm_result *r = NULL;
    lm_plan *plan = NULL;
    int rc = 0;
    if (lm_tool_graph_load(&g, a->pos[0]) != LM_OK)
        return lm_tool_fail(a->pos[0]);
    if (a->has_entry) {
        if (lm_entries_create(&e, g) != LM_OK ||
            lm_plan_create_for_entry(&plan, g, e, (size_t)a->entry) != LM_OK)
            rc = lm_tool_fail("plan");
    } else if (lm_result_load(&r, a->result) != LM_OK) {
        rc = lm_tool_fail(a->result);
    } else if (lm_plan_create_for_result(&plan, g, r) != LM_OK) {
        rc = lm_tool_fail("plan");
    }
    /* "-o -" is standard output, like no -o. */
    const char *file = lm_tool_is_stdout(a->output) ? NULL : a->output;
    if (rc == 0) {
        lm_status st = file ? lm_plan_save(plan, file)
                            : lm_plan_write(plan, lm_tool_write_file, stdout);
        if (st != LM_OK)
            rc = lm_tool_fail(file ? file : "plan");
        else if (file)
            printf("wrote %s (%zu segments)\n", a->output,
                   lm_plan_segment_count(plan));
    }
    lm_plan_destroy(plan);
    lm_result_destroy(r);
    lm_entries_destroy(e);
    lm_graph_destroy(g);
    return rc;
}

/* ---- shared by merge and verify ------------------------------------------ */

typedef struct inputs {
    lm_graph *g;
    lm_weights *w;
    lm_result *r;
    lm_plan *plan;
} inputs;

static void inputs_free(inputs *in)
{
    lm_plan_destroy(in->plan);
    lm_result_destroy(in->r);
    lm_weights_destroy(in->w);
    lm_graph_destroy(in->g);
}

/* GRAPH WEIGHTS RESULT, or GRAPH RESULT with --random-weights. */
static int load_inputs(const merge_args *a, inputs *in)
{
    int want = a->has_random ? 2 : 3;
    if (a->n_pos != want)
        return lm_tool_usage_error(a->cmd, a->has_random
                                   ? "expected GRAPH.yaml RESULT.yaml"
                                   : "expected GRAPH.yaml WEIGHTS.safetensors "
                                     "RESULT.yaml (or --random-weights SEED)");
    const char *result = a->pos[want - 1];
    if (lm_tool_graph_load(&in->g, a->pos[0]) != LM_OK)
        return lm_tool_fail(a->pos[0]);
    if (a->has_random) {
        if (lm_weights_create(&in->w) != LM_OK ||
            lm_weights_init_random(in->w, in->g, a->random_seed) != LM_OK)
            return lm_tool_fail("random weights");
        printf("weights: random (seed %llu)\n",
               (unsigned long long)a->random_seed);
    } else if (lm_weights_load(&in->w, a->pos[1]) != LM_OK) {
        return lm_tool_fail(a->pos[1]);
    }
    if (lm_result_load(&in->r, result) != LM_OK)
        return lm_tool_fail(result);
    if (lm_plan_create_for_result(&in->plan, in->g, in->r) != LM_OK)
        return lm_tool_fail(result);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t float_count(const lm_weights *w)
{
    size_t total = 0;
    for (size_t i = 0; i < lm_weights_tensor_count(w); i++) {
        lm_tensor_info t = {.size = sizeof t};
        if (lm_weights_tensor_info(&t, w, i) == LM_OK &&
            !strcmp(t.dtype, "F32"))
            total += t.numel;
    }
    return total;
}

static int merge_timed(const inputs *in, lm_graph **mg, lm_weights **mw,
                       double *seconds)
{
    double t0 = now_s();
    if (lm_graph_merge(mg, mw, in->g, in->w, in->plan) != LM_OK)
        return lm_tool_fail("merge");
    *seconds = now_s() - t0;
    return 0;
}

static void merge_summary(const inputs *in, const lm_graph *mg,
                          const lm_weights *mw, double seconds)
{
    size_t merged = 0, ns = lm_plan_segment_count(in->plan);
    for (size_t i = 0; i < ns; i++) {
        lm_plan_segment seg = {.size = sizeof seg};
        if (lm_plan_segment_info(&seg, in->plan, i) == LM_OK)
            merged += seg.end - seg.st > 1;
    }
    printf("graph: %s (%s)\n", lm_graph_name(in->g),
           lm_graph_fingerprint(in->g));
    printf("segments: %zu, of which merged (more than one conv position): %zu\n",
           ns, merged);
    printf("trunk convs: %zu -> %zu\n", lm_graph_conv_count(in->g),
           lm_graph_conv_count(mg));
    printf("parameters: %zu -> %zu\n", float_count(in->w), float_count(mw));
    printf("merge time: %.3f s\n", seconds);
}

/* "OUT" or "OUT.yaml" -> "OUT<ext>". */
static void out_path(char *buf, size_t cap, const char *prefix,
                     const char *ext)
{
    size_t n = strlen(prefix);
    if (n > 5 && !strcmp(prefix + n - 5, ".yaml"))
        n -= 5;
    snprintf(buf, cap, "%.*s%s", (int)n, prefix, ext);
}

/* ---- merge --------------------------------------------------------------- */

static int run_merge(const merge_args *a)
{
    if (!a->output)
        return lm_tool_usage_error(a->cmd, "-o OUT is required");
    int refused = lm_tool_refuse_stdout(a->cmd, "-o", a->output, "OUT is the "
                                        "prefix of two files");
    if (refused)
        return refused;
    char gp[4096], wp[4096];
    out_path(gp, sizeof gp, a->output, ".yaml");
    out_path(wp, sizeof wp, a->output, ".safetensors");
    /* Every file argument is an input: the graph, weights and result. */
    const char *outs[] = {gp, wp};
    int rc = lm_tool_check_outputs(a->cmd, outs, 2, a->pos, (size_t)a->n_pos);
    if (rc)
        return rc;
    inputs in = {0};
    lm_graph *mg = NULL;
    lm_weights *mw = NULL;
    double secs = 0.0;
    rc = load_inputs(a, &in);
    if (rc == 0)
        rc = merge_timed(&in, &mg, &mw, &secs);
    if (rc == 0) {
        merge_summary(&in, mg, mw, secs);
        if (lm_graph_save(mg, gp) != LM_OK)
            rc = lm_tool_fail(gp);
        else if (lm_weights_save(mw, wp) != LM_OK)
            rc = lm_tool_fail(wp);
        else
            printf("wrote %s and %s\n", gp, wp);
    }
    lm_graph_destroy(mg);
    lm_weights_destroy(mw);
    inputs_free(&in);
    return rc;
}

/* ---- verify -------------------------------------------------------------- */

static int load_merged(const char *path, lm_graph **mg, lm_weights **mw)
{
    char wp[4096];
    out_path(wp, sizeof wp, path, ".safetensors");
    if (lm_graph_load(mg, path) != LM_OK)
        return lm_tool_fail(path);
    if (lm_weights_load(mw, wp) != LM_OK)
        return lm_tool_fail(wp);
    printf("merged network: %s (%zu trunk convs)\n", path,
           lm_graph_conv_count(*mg));
    return 0;
}

static int run_verify(const merge_args *a)
{
    inputs in = {0};
    lm_graph *mg = NULL;
    lm_weights *mw = NULL;
    double secs = 0.0, max_abs = 0.0, max_rel = 0.0;
    int rc = load_inputs(a, &in);
    if (rc == 0 && a->merged)
        rc = load_merged(a->merged, &mg, &mw);
    else if (rc == 0 && (rc = merge_timed(&in, &mg, &mw, &secs)) == 0)
        merge_summary(&in, mg, mw, secs);
    if (rc == 0) {
        double t0 = now_s();
        lm_merge_deviation dev = {.size = sizeof dev};
        if (lm_graph_verify_merge(&dev, in.g, in.w, in.plan, mg, mw, a->batch,
                                  a->seed) != LM_OK)
            rc = lm_tool_fail("verify");
        max_abs = dev.max_abs;
        max_rel = dev.max_rel;
        if (rc == 0)
            printf("verified on batch %zu, seed %llu in %.3f s; tolerance %g: "
                   "%s\n", a->batch, (unsigned long long)a->seed,
                   now_s() - t0, a->tolerance,
                   max_rel <= a->tolerance ? "ok" : "EXCEEDED");
    }
    if (rc == 0) {
        printf("max_abs_error=%.6g max_rel_error=%.6g\n", max_abs, max_rel);
        rc = max_rel <= a->tolerance ? 0 : 1;
    }
    lm_graph_destroy(mg);
    lm_weights_destroy(mw);
    inputs_free(&in);
    return rc;
}

static int run_command(int argc, char **argv, int (*run)(const merge_args *))
{
    merge_args a = {.cmd = argv[0], .batch = 1, .seed = 1, .tolerance = 1e-5};
    if (lm_tool_wants_help(argc, argv)) {
        merge_usage(stdout, a.cmd);
        return 0;
    }
    int rc = parse_args(&a, argc, argv);
    return rc ? rc : run(&a);
}

int lm_cmd_plan(int argc, char **argv)
{
    return run_command(argc, argv, run_plan);
}

int lm_cmd_merge(int argc, char **argv)
{
    return run_command(argc, argv, run_merge);
}

int lm_cmd_verify(int argc, char **argv)
{
    return run_command(argc, argv, run_verify);
}
