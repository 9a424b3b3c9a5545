/* merge_verify — turn a solver result into a merged network and check it.
 *
 * After the DP (solve_tables) the caller fine-tunes the network the result
 * describes: a plan says which convs to keep, their padding during
 * fine-tuning and which activations stay (docs/concepts.md). Once
 * fine-tuned, every segment of the plan is folded into one conv
 * (lm_graph_merge) and the merged network is run against the fine-tuning
 * chain on the same input (lm_graph_verify_merge): they must agree to float32
 * round-off.
 *
 * Without --weights the network gets deterministic pseudo-random weights
 * (lm_weights_init_random), standing in for the fine-tuned ones.
 *
 * usage: merge_verify GRAPH.yaml RESULT.yaml [--weights W.safetensors]
 *        [--seed S] [--batch N] [--plan PLAN.yaml] [-o MERGED.yaml]
 *        [--save-weights MERGED.safetensors] [--tolerance T]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <layermerge/layermerge.h>

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: merge_verify GRAPH.yaml RESULT.yaml [options]\n"
            "\n"
            "Make the fine-tuning plan of a result, merge every segment into\n"
            "one conv and compare the merged network with the plan's chain.\n"
            "\n"
            "  --weights FILE       the (fine-tuned) weights, safetensors;\n"
            "                       default: pseudo-random weights from --seed\n"
            "  --seed S             seed of the random weights (default 1)\n"
            "  --batch N            images for the comparison (default 1)\n"
            "  --plan FILE          also save the plan as YAML\n"
            "  -o FILE              save the merged graph as YAML\n"
            "  --save-weights FILE  save the merged weights (safetensors)\n"
            "  --tolerance T        fail when the relative error exceeds T\n"
            "                       (default 1e-4)\n");
}

static int fail(const char *what, lm_status st)
{
    fprintf(stderr, "merge_verify: %s: %s (%s)\n", what, lm_last_error(),
            lm_status_str(st));
    return 1;
}

struct args {
    const char *graph, *result, *weights, *plan, *out_graph, *out_weights;
    uint64_t seed;
    size_t batch;
    double tolerance;
};

static int parse(struct args *a, int argc, char **argv)
{
    size_t npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        int has_value = i + 1 < argc;
        if (!strcmp(o, "-h") || !strcmp(o, "--help"))
            return 0;
        if (has_value && !strcmp(o, "--weights"))
            a->weights = argv[++i];
        else if (has_value && !strcmp(o, "--seed"))
            a->seed = strtoull(argv[++i], NULL, 10);
        else if (has_value && !strcmp(o, "--batch"))
            a->batch = strtoul(argv[++i], NULL, 10);
        else if (has_value && !strcmp(o, "--plan"))
            a->plan = argv[++i];
        else if (has_value && !strcmp(o, "-o"))
            a->out_graph = argv[++i];
        else if (has_value && !strcmp(o, "--save-weights"))
            a->out_weights = argv[++i];
        else if (has_value && !strcmp(o, "--tolerance"))
            a->tolerance = strtod(argv[++i], NULL);
        else if (o[0] != '-' && npos == 0)
            a->graph = o, npos++;
        else if (o[0] != '-' && npos == 1)
            a->result = o, npos++;
        else
            return 2;
    }
    return npos == 2 && a->batch > 0 ? -1 : 2;
}

struct work {
    lm_graph *graph, *merged;
    lm_weights *weights, *merged_weights;
    lm_result *result;
    lm_plan *plan;
};

static void work_free(struct work *w)
{
    lm_weights_destroy(w->merged_weights);
    lm_graph_destroy(w->merged);
    lm_plan_destroy(w->plan);
    lm_result_destroy(w->result);
    lm_weights_destroy(w->weights);
    lm_graph_destroy(w->graph);
}

static lm_status get_weights(struct work *w, const struct args *a)
{
    if (a->weights) {
        lm_status st = lm_weights_load(&w->weights, a->weights);
        /* Names every missing or misshapen tensor before merging starts. */
        return st != LM_OK ? st : lm_weights_check_graph(w->weights, w->graph);
    }
    lm_status st = lm_weights_create(&w->weights);
    return st != LM_OK ? st
                       : lm_weights_init_random(w->weights, w->graph, a->seed);
}

/* The plan is what a training loop reads to build the network it
 * fine-tunes (docs/formats.md, "Plan"). */
static void print_plan(const lm_plan *p)
{
    size_t n = lm_plan_conv_count(p), kept = 0;
    for (size_t c = 1; c <= n; c++) {
        lm_plan_conv conv = {.size = sizeof conv};
        if (lm_plan_conv_info(&conv, p, c) == LM_OK)
            kept += (size_t)conv.kept;
    }
    printf("plan: %zu segments, %zu of %zu convs kept\n",
           lm_plan_segment_count(p), kept, n);
}

static int save_outputs(const struct work *w, const struct args *a)
{
    lm_status st;
    if (a->plan && (st = lm_plan_save(w->plan, a->plan)) != LM_OK)
        return fail("save plan", st);
    if (a->out_graph && (st = lm_graph_save(w->merged, a->out_graph)) != LM_OK)
        return fail("save merged graph", st);
    if (a->out_weights &&
        (st = lm_weights_save(w->merged_weights, a->out_weights)) != LM_OK)
        return fail("save merged weights", st);
    return 0;
}

static int run(struct work *w, const struct args *a)
{
    lm_status st;
    if ((st = lm_graph_load(&w->graph, a->graph)) != LM_OK)
        return fail("load graph", st);
    if ((st = lm_result_load(&w->result, a->result)) != LM_OK)
        return fail("load result", st);
    /* Fails with LM_ERR_MISMATCH when the result was solved for another
     * graph: results carry the graph's fingerprint. */
    if ((st = lm_plan_create_for_result(&w->plan, w->graph, w->result)) !=
        LM_OK)
        return fail("plan", st);
    print_plan(w->plan);
    if ((st = get_weights(w, a)) != LM_OK)
        return fail("weights", st);
    if ((st = lm_graph_merge(&w->merged, &w->merged_weights, w->graph,
                             w->weights, w->plan)) != LM_OK)
        return fail("merge", st);
    printf("merged: %zu trunk convs (was %zu), fingerprint %s\n",
           lm_graph_conv_count(w->merged), lm_graph_conv_count(w->graph),
           lm_graph_fingerprint(w->merged));
    lm_merge_deviation dev = {.size = sizeof dev};
    if ((st = lm_graph_verify_merge(&dev, w->graph, w->weights, w->plan,
                                    w->merged, w->merged_weights, a->batch,
                                    a->seed)) != LM_OK)
        return fail("verify", st);
    printf("verify: max abs error %.3g, max rel error %.3g\n", dev.max_abs,
           dev.max_rel);
    if (!(dev.max_rel <= a->tolerance)) {
        fprintf(stderr, "merge_verify: relative error %.3g above %.3g\n",
                dev.max_rel, a->tolerance);
        return 1;
    }
    return save_outputs(w, a);
}

int main(int argc, char **argv)
{
    struct args a = {.seed = 1, .batch = 1, .tolerance = 1e-4};
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
