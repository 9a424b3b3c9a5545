/* Benchmark of the LayerMerge DP on problems shaped like ResNet-34 and
 * MobileNetV2-1.0: median time per solve and per full Pareto front, and the
 * size of the DP tables. Items are synthetic but deterministic (seeded), the
 * MobileNetV2 segments and their base latencies come from the authors' real
 * time table. The second part times the public path (lm_solver_create,
 * lm_solver_run, lm_solver_run_front) on the zoo graphs with synthetic tables
 * built through the tables API.
 * Usage: bench_solve [path/to/mbv2 time_*.csv] [path/to/examples/models] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/csv.h"
#include "layermerge/layermerge.h"
#include "solve/dp.h"

#define RUNS 20

static uint64_t rng = 0x853c49e6748fea9bull;

static double rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct bench_items {
    lm_dp_item items[512];
    size_t n, n_segments, n_positions;
} bench_items;

/* One segment's options: option k is a bigger merged kernel, a little
 * slower and more important (as pruning fewer convs would be). */
static void add_options(bench_items *b, uint32_t st, uint32_t end, double base,
                        int n_opt)
{
    for (int k = 0; k < n_opt && b->n < 512; k++) {
        double lat = base * (0.55 + 0.3 * k) * (0.9 + 0.2 * rnd());
        double acc = 76.0 - 1.5 * (end - st - 1) / (k + 1.0) - 2.0 * rnd();
        b->items[b->n++] = (lm_dp_item){st, end, lat, acc / 100.0,
                                        (int64_t)b->n};
    }
}

/* ResNet-34 trunk: 32 convs, skips (0,2),...,(30,32), barriers 7, 15, 27. */
static int resnet_valid(uint32_t st, uint32_t end)
{
    static const uint32_t barriers[] = {7, 15, 27};
    for (int i = 0; i < 3; i++)
        if (st < barriers[i] && barriers[i] < end)
            return 0;
    for (uint32_t s = 0; s < 32; s += 2) {
        uint32_t t = s + 2;
        int nest = (st <= s && t <= end) || (s <= st && end <= t) ||
                   end <= s || t <= st;
        if (!nest)
            return 0;
    }
    return 1;
}

static void resnet34(bench_items *b)
{
    memset(b, 0, sizeof *b);
    b->n_positions = 32;
    double conv[33];
    double sum = 0;
    for (int p = 1; p <= 32; p++)
        sum += conv[p] = 0.5 + rnd();
    for (int p = 1; p <= 32; p++)
        conv[p] *= 146.0 / sum; /* the original network takes 146 ms */
    for (uint32_t st = 0; st < 32; st++)
        for (uint32_t end = st + 1; end <= 32; end++) {
            if (!resnet_valid(st, end))
                continue;
            double mean = 0;
            for (uint32_t p = st + 1; p <= end; p++)
                mean += conv[p] / (end - st);
            b->n_segments++;
            add_options(b, st, end, end == st + 1 ? conv[end] / 0.55 : mean,
                        end == st + 1 ? 1 : (int)(end - st < 5 ? end - st : 5));
        }
}

/* MobileNetV2-1.0: the 171 segments of the real time table, 391 options. */
static int mobilenet(bench_items *b, const char *path)
{
    memset(b, 0, sizeof *b);
    lm_csv csv;
    size_t c_st, c_end, c_time;
    if (lm_csv_load(&csv, path) != LM_OK ||
        lm_csv_column(&csv, "st", &c_st) != LM_OK ||
        lm_csv_column(&csv, "end", &c_end) != LM_OK ||
        lm_csv_column(&csv, "time", &c_time) != LM_OK) {
        fprintf(stderr, "bench_solve: %s\n", lm_last_error());
        return -1;
    }
    size_t extra = 391 - csv.n_rows; /* options beyond one per segment */
    for (size_t r = 0; r < csv.n_rows; r++) {
        int64_t st, end;
        double t;
        if (lm_csv_int(&csv, r, c_st, &st) != LM_OK ||
            lm_csv_int(&csv, r, c_end, &end) != LM_OK ||
            lm_csv_double(&csv, r, c_time, &t) != LM_OK) {
            fprintf(stderr, "bench_solve: %s\n", lm_last_error());
            lm_csv_free(&csv);
            return -1;
        }
        int n_opt = 1;
        while (end - st > n_opt && n_opt < 4 && extra > 0) {
            n_opt++;
            extra--;
        }
        add_options(b, (uint32_t)st, (uint32_t)end, t / 0.55, n_opt);
        b->n_segments++;
        if (end > (int64_t)b->n_positions)
            b->n_positions = (size_t)end;
    }
    lm_csv_free(&csv);
    return 0;
}

static double original_latency(const bench_items *b)
{
    double sum = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->items[i].end == b->items[i].st + 1)
            sum += b->items[i].latency;
    return sum;
}

static void run(const char *name, const bench_items *b, double precision,
                double budget)
{
    lm_dp_problem prob = {b->n_positions, b->items, b->n, precision, budget,
                          LM_ROUND_CEIL};
    double solve[RUNS], front[RUNS];
    size_t bytes = 0, n_front = 0;
    double best_imp = 0, best_lat = 0;
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ms();
        lm_dp *dp = NULL;
        lm_dp_solution s;
        if (lm_dp_solve(&dp, &prob) != LM_OK || lm_dp_best(dp, &s) != LM_OK) {
            fprintf(stderr, "bench_solve: %s\n", lm_last_error());
            lm_dp_destroy(dp);
            return;
        }
        double t1 = now_ms();
        lm_dp_solution *f = NULL;
        if (lm_dp_front(dp, &f, &n_front) != LM_OK) {
            fprintf(stderr, "bench_solve: %s\n", lm_last_error());
            lm_dp_solution_clear(&s);
            lm_dp_destroy(dp);
            return;
        }
        double t2 = now_ms();
        solve[r] = t1 - t0;
        front[r] = t2 - t0;
        bytes = lm_dp_table_bytes(dp);
        best_imp = s.importance;
        best_lat = s.latency;
        lm_dp_front_free(f, n_front);
        lm_dp_solution_clear(&s);
        lm_dp_destroy(dp);
    }
    qsort(solve, RUNS, sizeof *solve, cmp_double);
    qsort(front, RUNS, sizeof *front, cmp_double);
    printf("%-12s P=%-5g T0=%6.1f ms  solve %8.3f ms  solve+front %8.3f ms"
           "  (%zu front points)  tables %7.2f MiB  best: I=%.4f T=%.3f ms\n",
           name, precision, budget, solve[RUNS / 2], front[RUNS / 2], n_front,
           bytes / 1048576.0, best_imp, best_lat);
}

/* ---- the public API path ---- */

static lm_status api_tables(const lm_entries *e, lm_table **lat,
                            lm_table **imp)
{
    lm_status st = lm_table_create_latency_for(lat, e);
    if (st == LM_OK)
        st = lm_table_create_importance_for(imp, e, LM_METRIC_NORMALISED);
    for (size_t id = 0; id < lm_entries_count(e) && st == LM_OK; id++) {
        lm_entry_info in = {.size = sizeof in};
        lm_entries_entry_info(&in, e, id);
        double work = (double)(in.kernel * in.kernel) *
                      (double)in.out_channels * (double)in.in_height *
                      (double)in.in_width / (double)(in.stride * in.stride);
        if (!in.depthwise)
            work *= (double)in.in_channels;
        double v = exp(-0.004 * (double)in.kernel -
                       0.01 * (double)(in.end - in.st - in.n_kept));
        if (!in.identity)
            st = lm_table_set_latency_entry(*lat, e, id, 0.02 + work * 2.5e-8,
                                            0.0);
        if (st == LM_OK)
            st = lm_table_set_importance_entry_normalised(*imp, e, id, v, v);
    }
    return st;
}

static void api_time(const lm_solver *s, double precision, double ratio,
                     const char *name)
{
    lm_solve_options *o = NULL;
    lm_solve_options_create(&o);
    lm_solve_options_set_precision(o, precision);
    lm_solve_options_set_budget_ratio(o, ratio);
    double solve[RUNS], front[RUNS];
    size_t points = 0;
    for (int r = 0; r < RUNS; r++) {
        lm_result *res = NULL;
        lm_front *f = NULL;
        double t0 = now_ms();
        lm_solver_run(&res, s, o);
        double t1 = now_ms();
        lm_solver_run_front(&f, s, o);
        double t2 = now_ms();
        solve[r] = t1 - t0;
        front[r] = t2 - t1;
        points = lm_front_count(f);
        lm_result_destroy(res);
        lm_front_destroy(f);
    }
    qsort(solve, RUNS, sizeof *solve, cmp_double);
    qsort(front, RUNS, sizeof *front, cmp_double);
    printf("api %-12s P=%-5g ratio %.2f  lm_solver_run %8.3f ms  "
           "lm_solver_run_front %8.3f ms (%zu points)\n",
           name, precision, ratio, solve[RUNS / 2], front[RUNS / 2], points);
    lm_solve_options_destroy(o);
}

static int api_bench(const char *models, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.yaml", models, name);
    lm_graph *g = NULL;
    lm_entries *e = NULL;
    lm_table *lat = NULL;
    lm_table *imp = NULL;
    lm_solver *s = NULL;
    lm_status st = lm_graph_load(&g, path);
    if (st == LM_OK) st = lm_entries_create(&e, g);
    if (st == LM_OK) st = api_tables(e, &lat, &imp);
    double t0 = now_ms();
    if (st == LM_OK) st = lm_solver_create(&s, g, e, lat, imp);
    double t1 = now_ms();
    if (st == LM_OK) {
        printf("api %-12s %zu entries, original %.1f ms, lm_solver_create "
               "%.3f ms\n", name, lm_entries_count(e),
               lm_solver_original_latency(s), t1 - t0);
        api_time(s, 10, 0.7, name);
        api_time(s, 100, 0.7, name);
    } else {
        fprintf(stderr, "bench_solve: %s\n", lm_last_error());
    }
    lm_solver_destroy(s);
    lm_table_destroy(imp);
    lm_table_destroy(lat);
    lm_entries_destroy(e);
    lm_graph_destroy(g);
    return st == LM_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *mbv2 = argc > 1 ? argv[1]
        : "tests/data/upstream-kim23/mbv2_1.0/time_fish_gpu1_1228.csv";
    static bench_items resnet, mobile;
    resnet34(&resnet);
    if (mobilenet(&mobile, mbv2) != 0)
        return 1;
    double r0 = original_latency(&resnet), m0 = original_latency(&mobile);
    printf("resnet34-like: %zu positions, %zu segments, %zu items, original "
           "%.1f ms\n", resnet.n_positions + 1, resnet.n_segments, resnet.n, r0);
    printf("mobilenetv2:   %zu positions, %zu segments, %zu items, original "
           "%.1f ms\n", mobile.n_positions + 1, mobile.n_segments, mobile.n, m0);
    printf("median of %d runs, ceil rounding\n", RUNS);
    static const double precisions[] = {10, 100};
    for (int i = 0; i < 2; i++) {
        run("resnet34", &resnet, precisions[i], 0.7 * r0);
        run("mobilenetv2", &mobile, precisions[i], 0.7 * m0);
    }
    run("resnet34", &resnet, 1000, 50.0);
    run("mobilenetv2", &mobile, 1000, 50.0);
    const char *models = argc > 2 ? argv[2] : "examples/models";
    return api_bench(models, "resnet34") | api_bench(models, "mobilenetv2");
}
