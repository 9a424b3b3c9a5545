/* Time the engine on one network, its weights and an input, through the
 * public API only (bench/bench_vs_torch.py drives it next to PyTorch).
 *
 *   bench_engine_run GRAPH WEIGHTS INPUT.f32 BATCH OUTPUT.f32 WARMUP REPS
 *
 * Runs WARMUP untimed forwards, then REPS timed ones (CLOCK_MONOTONIC) on
 * INPUT, writes the output of the last run to OUTPUT and prints
 * "median_ms stdev_ms" on stdout. OpenBLAS threads come from
 * OPENBLAS_NUM_THREADS, as for any caller. Exit 1 on failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "layermerge/layermerge.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int read_floats(const char *path, float *dst, size_t n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 0;
    size_t got = fread(dst, sizeof *dst, n, fp);
    int extra = fgetc(fp) != EOF;
    fclose(fp);
    return got == n && !extra;
}

static int write_floats(const char *path, const float *src, size_t n)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return 0;
    size_t put = fwrite(src, sizeof *src, n, fp);
    return (fclose(fp) == 0) & (put == n);
}

/* Median and sample standard deviation of t[0..n-1] (sorts t). */
static void stats(double *t, size_t n, double *median, double *stdev)
{
    double mean = 0.0, var = 0.0;
    qsort(t, n, sizeof *t, cmp_double);
    *median = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
    for (size_t i = 0; i < n; i++)
        mean += t[i] / (double)n;
    for (size_t i = 0; i < n; i++)
        var += (t[i] - mean) * (t[i] - mean);
    *stdev = n > 1 ? sqrt(var / (double)(n - 1)) : 0.0;
}

static int timed(lm_engine *e, const float *in, float *out, size_t warmup,
                 size_t reps, double *t)
{
    size_t n_in = lm_engine_input_size(e), n_out = lm_engine_output_size(e);
    for (size_t i = 0; i < warmup + reps; i++) {
        double t0 = now_ms();
        lm_status st = lm_engine_run(out, n_out, e, in, n_in);
        if (st != LM_OK) {
            fprintf(stderr, "bench_engine_run: run: %s: %s\n",
                    lm_status_str(st), lm_last_error());
            return 0;
        }
        if (i >= warmup)
            t[i - warmup] = now_ms() - t0;
    }
    return 1;
}

static int bench(lm_engine *e, const char *in_path, const char *out_path,
                 size_t warmup, size_t reps)
{
    size_t n_in = lm_engine_input_size(e), n_out = lm_engine_output_size(e);
    float *in = malloc(n_in * sizeof *in), *out = malloc(n_out * sizeof *out);
    double *t = malloc(reps * sizeof *t), median, stdev;
    int rc = 1;
    if (!in || !out || !t)
        fprintf(stderr, "bench_engine_run: out of memory\n");
    else if (!read_floats(in_path, in, n_in))
        fprintf(stderr, "bench_engine_run: %s: need exactly %zu floats\n",
                in_path, n_in);
    else if (timed(e, in, out, warmup, reps, t)) {
        if (!write_floats(out_path, out, n_out))
            fprintf(stderr, "bench_engine_run: cannot write %s\n", out_path);
        else {
            stats(t, reps, &median, &stdev);
            printf("%.4f %.4f\n", median, stdev);
            rc = 0;
        }
    }
    free(in);
    free(out);
    free(t);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: bench_engine_run GRAPH WEIGHTS INPUT BATCH "
                        "OUTPUT WARMUP REPS\n");
        return 2;
    }
    size_t reps = strtoul(argv[7], NULL, 10);
    if (reps < 1) {
        fprintf(stderr, "bench_engine_run: REPS must be >= 1\n");
        return 2;
    }
    lm_graph *g = NULL;
    lm_weights *w = NULL;
    lm_engine *e = NULL;
    int rc = 1;
    lm_status st = lm_graph_load(&g, argv[1]);
    if (st == LM_OK)
        st = lm_weights_load(&w, argv[2]);
    if (st == LM_OK)
        st = lm_engine_create(&e, g, w, strtoul(argv[4], NULL, 10));
    if (st != LM_OK)
        fprintf(stderr, "bench_engine_run: %s: %s\n", lm_status_str(st),
                lm_last_error());
    else
        rc = bench(e, argv[3], argv[5], strtoul(argv[6], NULL, 10), reps);
    lm_engine_destroy(e);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
    return rc;
}
