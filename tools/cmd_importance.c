/* `layermerge importance proxy|shard`: fill an importance table with the
 * data-free proxy, or print the entry plans one worker of a sharded
 * importance run must fine-tune and measure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "layermerge/layermerge.h"
#include "progress.h"

static void importance_usage(FILE *out)
{
    fprintf(out,
            "usage: layermerge importance proxy GRAPH.yaml "
            "[WEIGHTS.safetensors | --random-weights SEED]\n"
            "                                -o TABLE.yaml [--batch N] "
            "[--size S] [--seed S] [--range A:B]\n"
            "       layermerge importance shard GRAPH.yaml --range A:B "
            "[-o PLANS.yaml]\n\n"
            "proxy: score every entry without data or fine-tuning: the\n"
            "network with only that entry applied against the original on\n"
            "random N(0,1) inputs; raw = relative squared output error,\n"
            "importance = exp(-raw). A stand-in for trying the solver, NOT the\n"
            "paper's fine-tuned accuracy (the table says so). Saved after\n"
            "every entry; re-running with the same -o resumes.\n"
            "  --random-weights SEED  use deterministic random weights\n"
            "  --batch N     calibration images, 1..65536 (default 4)\n"
            "  --size S      run at an S x S input (default: the graph's own)\n"
            "  --seed S      seed of the calibration inputs (default 0)\n"
            "  --range A:B   only entry ids A <= id < B\n\n"
            "shard: print, as a YAML stream, one plan document per entry id in\n"
            "[A, B) (docs/formats.md, \"Plan\"), each starting with an `entry`\n"
            "key holding the entry's id and key (st, end, kernel, stride,\n"
            "depthwise): what a worker's training loop applies before\n"
            "fine-tuning and measuring that entry.\n"
            "  -o PLANS.yaml write the stream to a file instead of standard "
            "output\n"
            "                (-o -: standard output; proxy's -o cannot be -, "
            "it is resumed)\n\n"
            "Exit status: 0 success, 1 failure or interruption, 2 bad usage.\n");
}

typedef struct imp_args {
    const char *graph, *weights;
    lm_tool_span span;
    size_t batch, size, seed, wseed;
    int has_size, has_wseed;
} imp_args;

static int parse_value(const char *opt, const char *val, void *args)
{
    imp_args *a = args;
    size_t v = 0;
    int rc = lm_tool_span_value("importance", opt, val, &a->span, &v);
    if (rc != LM_TOOL_NUMBER)
        return rc;
    if (!strcmp(opt, "--batch"))
        a->batch = v;
    else if (!strcmp(opt, "--size"))
        a->size = v, a->has_size = 1;
    else if (!strcmp(opt, "--seed"))
        a->seed = v;
    else
        a->wseed = v, a->has_wseed = 1;
    return 0;
}

static int parse_file(const char *word, void *args)
{
    imp_args *a = args;
    if (!a->graph)
        a->graph = word;
    else if (!a->weights)
        a->weights = word;
    else
        return lm_tool_usage_error("importance", "too many files");
    return 0;
}

static int parse_args(int argc, char **argv, imp_args *a)
{
    static const char *const valued[] = {"-o", "--output", "--batch", "--size",
                                         "--seed", "--random-weights",
                                         "--range", NULL};
    static const lm_tool_opts opts = {"importance", valued, parse_value,
                                      parse_file, NULL, NULL};
    a->batch = 4;
    int rc = lm_tool_parse_argv(&opts, argc, argv, 2, a);
    if (rc)
        return rc;
    if (!a->graph)
        return lm_tool_usage_error("importance", "GRAPH.yaml is required");
    const char *outs[] = {a->span.out}, *ins[] = {a->graph, a->weights};
    if ((rc = lm_tool_check_outputs("importance", outs, 1, ins, 2)) != 0)
        return rc;
    if (a->batch == 0 || (a->has_size && a->size == 0))
        return lm_tool_usage_error("importance", "--batch and --size must be "
                                                 ">= 1");
    return 0;
}

/* ---- proxy ------------------------------------------------------------- */

static lm_status open_table(const char *path, const lm_entries *entries,
                            lm_table **out)
{
    if (access(path, F_OK) != 0)
        return lm_table_create_importance_for(out, entries,
                                              LM_METRIC_NORMALISED);
    lm_status st = lm_table_load_kind(out, path, LM_TABLE_IMPORTANCE);
    if (st == LM_OK &&
        (st = lm_table_check(*out, entries)) != LM_OK) {
        lm_table_destroy(*out);
        *out = NULL;
    }
    return st;
}

static lm_status proxy_options(const imp_args *a, lm_tool_bar *bar,
                               lm_proxy_options **out)
{
    lm_proxy_options *o = NULL;
    lm_status st = lm_proxy_options_create(&o);
    if (st == LM_OK)
        st = lm_proxy_options_set_batch(o, a->batch);
    if (st == LM_OK && a->has_size)
        st = lm_proxy_options_set_input_size(o, (int64_t)a->size,
                                             (int64_t)a->size);
    if (st == LM_OK)
        st = lm_proxy_options_set_seed(o, (uint64_t)a->seed);
    if (st == LM_OK && a->span.has_range)
        st = lm_proxy_options_set_range(o, a->span.lo, a->span.hi);
    if (st == LM_OK)
        st = lm_proxy_options_set_save_path(o, a->span.out);
    if (st == LM_OK)
        st = lm_proxy_options_set_progress(o, lm_tool_progress, bar);
    if (st != LM_OK)
        lm_proxy_options_destroy(o);
    else
        *out = o;
    return st;
}

static int run_proxy(const imp_args *a, const lm_graph *g,
                     const lm_weights *w, const lm_entries *e,
                     lm_table *t)
{
    lm_tool_run run = lm_tool_table_run("importance", e, t);
    lm_tool_run_begin(&run, &a->span);
    lm_proxy_options *o = NULL;
    if (proxy_options(a, &run.bar, &o) != LM_OK)
        return lm_tool_fail("importance proxy");
    lm_status st = lm_table_score_proxy(t, g, w, e, o);
    lm_proxy_options_destroy(o);
    return lm_tool_run_end(&run, &a->span, st);
}

static int cmd_proxy(const imp_args *a, const lm_graph *g,
                     const lm_weights *w, const lm_entries *e)
{
    lm_table *t = NULL;
    int rc;
    if (open_table(a->span.out, e, &t) != LM_OK)
        rc = lm_tool_fail(a->span.out);
    else
        rc = run_proxy(a, g, w, e, t);
    lm_table_destroy(t);
    return rc;
}

/* ---- shard -------------------------------------------------------------- */

static lm_status write_entry_plan(FILE *fp, const lm_graph *g,
                                  const lm_entries *e, size_t id)
{
    lm_entry_info info = {.size = sizeof info};
    lm_plan *plan = NULL;
    lm_status st = lm_entries_entry_info(&info, e, id);
    if (st == LM_OK)
        st = lm_plan_create_for_entry(&plan, g, e, id);
    if (st != LM_OK)
        return st;
    /* The plan document's own writer emits the mapping; the entry's id and
     * key go first as an extra `entry` key. */
    char *body = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&body, &len);
    if (!mem) {
        lm_plan_destroy(plan);
        return LM_ERR_NOMEM;
    }
    st = lm_plan_write(plan, lm_tool_write_file, mem);
    fclose(mem);
    lm_plan_destroy(plan);
    const char *doc = body;
    if (st == LM_OK && !strncmp(doc, "---", 3) && strchr(doc, '\n'))
        doc = strchr(doc, '\n') + 1;
    if (st == LM_OK)
        fprintf(fp,
                "---\nentry: {id: %zu, st: %zu, end: %zu, kernel: %lld, "
                "stride: %lld, depthwise: %s}\n%s",
                id, info.st, info.end, (long long)info.kernel,
                (long long)info.stride, info.depthwise ? "true" : "false",
                doc);
    free(body);
    return st;
}

static int cmd_shard(const imp_args *a, const lm_graph *g,
                     const lm_entries *e)
{
    const lm_tool_span *sp = &a->span;
    if (!sp->has_range)
        return lm_tool_usage_error("importance", "shard needs --range A:B");
    size_t count = lm_entries_count(e);
    if (sp->lo >= count) {
        fprintf(stderr, "layermerge importance: --range starts at %zu but "
                        "the graph has %zu entries\n", sp->lo, count);
        return 1;
    }
    size_t hi = sp->hi < count ? sp->hi : count;
    char tmp[4200];
    FILE *fp = stdout;
    /* "-o -": the stream goes to standard output as without -o. */
    const char *out = lm_tool_is_stdout(sp->out) ? NULL : sp->out;
    if (out) {
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid());
        if (!(fp = fopen(tmp, "w"))) {
            perror(out);
            return 1;
        }
    }
    lm_status st = LM_OK;
    for (size_t id = sp->lo; id < hi && st == LM_OK; id++)
        st = write_entry_plan(fp, g, e, id);
    int bad = st != LM_OK || fflush(fp) != 0 || ferror(fp);
    if (out) {
        bad |= fclose(fp) != 0;
        /* Written beside the target and renamed: never a half file. */
        if (bad || rename(tmp, sp->out) != 0) {
            remove(tmp);
            return st != LM_OK ? lm_tool_fail("importance shard")
                               : (perror(sp->out), 1);
        }
        fprintf(stderr, "wrote %zu entry plans (ids %zu..%zu) to %s\n",
                hi - sp->lo, sp->lo, hi - 1, sp->out);
    }
    return st != LM_OK ? lm_tool_fail("importance shard") : bad;
}

int lm_cmd_importance(int argc, char **argv)
{
    if (lm_tool_wants_help(argc, argv)) {
        importance_usage(stdout);
        return 0;
    }
    if (argc < 2 || (strcmp(argv[1], "proxy") && strcmp(argv[1], "shard")))
        return lm_tool_usage_error("importance", "subcommand proxy or shard "
                                                 "expected");
    imp_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc;
    int proxy = !strcmp(argv[1], "proxy");
    if (proxy && !a.span.out)
        return lm_tool_usage_error("importance", "proxy needs -o TABLE.yaml");
    if (proxy && (rc = lm_tool_refuse_stdout("importance proxy", "-o",
                                             a.span.out, "the table is saved "
                                             "as it fills and resumed "
                                             "from")) != 0)
        return rc;
    if (proxy && !a.weights == !a.has_wseed)
        return lm_tool_usage_error("importance", "give WEIGHTS.safetensors "
                                                 "or --random-weights SEED");
    lm_graph *g = NULL;
    lm_weights *w = NULL;
    lm_entries *e = NULL;
    if (lm_tool_graph_load(&g, a.graph) != LM_OK)
        return lm_tool_fail(a.graph);
    /* With weights, the subsets follow them (largest L1), as in compress
     * and merge: the plans and scores are of the network merged later. */
    if ((proxy || a.weights) &&
        lm_tool_weights(&w, a.weights, g, (uint64_t)a.wseed) != LM_OK)
        rc = lm_tool_fail(a.weights ? a.weights : "random weights");
    else if (lm_tool_entries(&e, g, w, NULL) != LM_OK)
        rc = lm_tool_fail(a.graph);
    else
        rc = proxy ? cmd_proxy(&a, g, w, e) : cmd_shard(&a, g, e);
    lm_entries_destroy(e);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
    return rc;
}
