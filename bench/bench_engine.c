/* Forward-engine figures: GFLOP/s of the conv path on ResNet-34's 3x3
 * layers (224x224 input: feature maps 56, 28, 14, 7; batch 1) against
 * OpenBLAS sgemm on a matrix of the same M, N, K in the same run, and the
 * median forward time of ResNet-34 and MobileNetV2 with random weights.
 *
 *   bench_engine [MODELS_DIR [REPS]]    (default examples/models, 20)
 *
 * Single-threaded unless OPENBLAS_NUM_THREADS says otherwise: the engine
 * never sets OpenBLAS's thread count. The conv layers use the private
 * kernel (lib/engine/kernels.h), so this links the rooms directly. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine/kernels.h"
#include "layermerge/engine.h"
#include "layermerge/weights.h"

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

static float *filled(size_t n)
{
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; x && i < n; i++)
        x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    return x;
}

typedef struct layer {
    int64_t cin, cout, hin, stride;
} layer;

/* Median of `reps` timings of either the conv or the bare sgemm. */
static double median_ms(const lm_kconv *k, int sgemm_only, int reps,
                        const float *in, float *out, float *ws,
                        const float *b)
{
    int M = (int)k->cout, N = (int)(k->hout * k->wout);
    int K = (int)(k->cin * k->k * k->k);
    double *t = malloc((size_t)reps * sizeof *t);
    for (int r = -2; r < reps; r++) { /* two warm-up runs */
        double t0 = now_ms();
        if (sgemm_only)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K,
                        1.0f, k->weight, K, b, N, 0.0f, out, N);
        else
            lm_kconv_run(k, in, out, ws);
        if (r >= 0)
            t[r] = now_ms() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    double m = t[reps / 2];
    free(t);
    return m;
}

static void bench_layer(const layer *l, int reps)
{
    lm_kconv k = {.cin = l->cin, .cout = l->cout, .k = 3, .stride = l->stride,
                  .pad = 1, .groups = 1, .hin = l->hin, .win = l->hin};
    lm_kconv_shape(&k);
    size_t K = (size_t)(l->cin * 9), N = (size_t)(k.hout * k.wout);
    float *w = filled((size_t)l->cout * K);
    float *in = filled((size_t)(l->cin * l->hin * l->hin));
    float *out = malloc((size_t)l->cout * N * sizeof *out);
    float *ws = malloc((lm_kconv_workspace(&k) + 1) * sizeof *ws);
    float *b = filled(K * N);
    k.weight = w;
    double flop = 2.0 * (double)l->cout * (double)K * (double)N;
    double tc = median_ms(&k, 0, reps, in, out, ws, b);
    double tg = median_ms(&k, 1, reps, in, out, ws, b);
    double gc = flop / tc * 1e-6, gg = flop / tg * 1e-6;
    printf("%4lld->%-4lld %3lldx%-3lld s%lld %5lld %5zu %5zu %8.3f %8.2f "
           "%8.3f %8.2f %6.1f%%\n", (long long)l->cin, (long long)l->cout,
           (long long)l->hin, (long long)l->hin, (long long)l->stride,
           (long long)l->cout, N, K, tc, gc, tg, gg, 100.0 * gc / gg);
    free(w);
    free(in);
    free(out);
    free(ws);
    free(b);
}

static int bench_model(const char *dir, const char *name, int reps)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.yaml", dir, name);
    lm_graph *g = NULL;
    lm_weights *w = NULL;
    lm_engine *e = NULL;
    lm_timing t = {.size = sizeof t};
    lm_status st = lm_graph_load(&g, path);
    if (st == LM_OK)
        st = lm_weights_create(&w);
    if (st == LM_OK)
        st = lm_weights_init_random(w, g, 1);
    if (st == LM_OK)
        st = lm_engine_create(&e, g, w, 1);
    if (st == LM_OK)
        st = lm_engine_time(&t, e, 2, (size_t)reps);
    if (st == LM_OK)
        printf("%-12s 3x224x224 batch 1  median %8.2f ms  stdev %6.2f ms  "
               "(%d runs)\n", name, t.median_ms, t.stdev_ms, reps);
    else
        fprintf(stderr, "bench_engine: %s: %s\n", name, lm_last_error());
    lm_engine_destroy(e);
    lm_weights_destroy(w);
    lm_graph_destroy(g);
    return st == LM_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "examples/models";
    int reps = argc > 2 ? atoi(argv[2]) : 20;
    if (reps < 1)
        reps = 1;
    static const layer layers[] = {
        {64, 64, 56, 1},   {64, 128, 56, 2},  {128, 128, 28, 1},
        {128, 256, 28, 2}, {256, 256, 14, 1}, {256, 512, 14, 2},
        {512, 512, 7, 1},
    };
    const char *threads = getenv("OPENBLAS_NUM_THREADS");
    printf("ResNet-34 3x3 convs, batch 1, OPENBLAS_NUM_THREADS=%s, median "
           "of %d\n", threads ? threads : "(unset)", reps);
    printf("%-21s %5s %5s %5s %8s %8s %8s %8s %7s\n", "layer", "M", "N", "K",
           "conv ms", "GFLOP/s", "sgemm ms", "GFLOP/s", "ratio");
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++)
        bench_layer(&layers[i], reps);
    int rc = bench_model(dir, "resnet34", reps);
    rc |= bench_model(dir, "mobilenetv2", reps);
    return rc;
}
