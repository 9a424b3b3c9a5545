/* lm_engine_profile: where a run's time goes, step by step, and the
 * engine's OpenBLAS thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/stats.h"
#include "core/util.h"
#include "engine/blas_threads.h"
#include "engine/engine_internal.h"

double lm_engine_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

void lm_engine_apply_threads(const lm_engine *e)
{
    lm_blas_set_threads(e->threads);
}

lm_status lm_engine_set_threads(lm_engine *e, size_t threads)
{
    if (!e)
        return lm_err(LM_ERR_INVALID_ARG, "lm_engine_set_threads: NULL "
                      "engine");
    if (threads > 4096)
        return lm_err(LM_ERR_INVALID_ARG, "lm_engine_set_threads: %zu "
                      "threads", threads);
    e->threads = threads;
    return LM_OK;
}

/* Median of column j of a reps x cols matrix (sorts a scratch copy). */
static double column_median(const double *m, size_t reps, size_t cols,
                            size_t j, double *scratch)
{
    for (size_t r = 0; r < reps; r++)
        scratch[r] = m[r * cols + j];
    return lm_median_sort(scratch, reps);
}

/* Median and sample stdev of each run's total minus its trunk convs. */
static void outside(const double *m, size_t reps, size_t cols, size_t n,
                    double *scratch, double *median, double *stdev)
{
    for (size_t r = 0; r < reps; r++) {
        double v = m[r * cols];
        for (size_t p = 0; p < n; p++)
            v -= m[r * cols + 3 + p];
        scratch[r] = v;
    }
    *stdev = lm_sample_stdev(scratch, reps);
    *median = lm_median_sort(scratch, reps);
}

/* Columns of one run's readings: total, stem, head, N convs, N others. */
static void record_run(lm_engine *e, double *row, double *conv,
                       double *other)
{
    lm_eclock clock = {.conv = conv, .other = other};
    double t0 = lm_engine_now_ms();
    lm_engine_forward(e, &clock);
    row[0] = lm_engine_now_ms() - t0;
    row[1] = clock.stem;
    row[2] = clock.head;
    memcpy(row + 3, conv, e->n * sizeof *conv);
    memcpy(row + 3 + e->n, other, e->n * sizeof *other);
}

lm_status lm_engine_profile(lm_profile *profile, lm_engine *e, size_t warmup,
                            size_t reps)
{
    if (!e || reps == 0)
        return lm_err(LM_ERR_INVALID_ARG, "lm_engine_profile: NULL engine or "
                      "reps 0");
    lm_status rc = lm_sized_check(profile, "lm_engine_profile");
    if (rc != LM_OK)
        return rc;
    if (!e->configured)
        return lm_err(LM_ERR_STATE, "lm_engine_profile: the engine has no "
                      "valid configuration");
    size_t n = e->n, cols = 3 + 2 * n, n_in = lm_engine_input_size(e);
    size_t cells = 0, bytes = 0;
    if (lm_mul_overflow(reps, cols, &cells) ||
        lm_mul_overflow(cells, sizeof(double), &bytes) ||
        reps > SIZE_MAX / sizeof(double) - 2 * n - 2)
        return lm_err(LM_ERR_INVALID_ARG, "lm_engine_profile: %zu "
                      "repetitions x %zu readings overflow a size", reps,
                      cols);
    double *m = malloc(bytes);
    double *scratch = malloc((reps + 2 * n + 2) * sizeof *scratch);
    double *conv = calloc(n + 1, sizeof *conv);
    double *other = calloc(n + 1, sizeof *other);
    double *pc = realloc(e->prof_conv, (n + 1) * sizeof *pc);
    if (pc)
        e->prof_conv = pc;
    double *po = realloc(e->prof_other, (n + 1) * sizeof *po);
    if (po)
        e->prof_other = po;
    lm_status st = m && scratch && conv && other && pc && po
                       ? LM_OK
                       : lm_err_nomem();
    if (st == LM_OK)
        st = lm_engine_timing_begin(e);
    if (st == LM_OK) {
        /* Later layers may reuse the input's buffer: stage it every run. */
        for (size_t i = 0; i < warmup; i++) {
            lm_engine_fixed_input(e->bufs[e->slot[0]], n_in);
            lm_engine_forward(e, NULL);
        }
        for (size_t r = 0; r < reps; r++) {
            lm_engine_fixed_input(e->bufs[e->slot[0]], n_in);
            record_run(e, m + r * cols, conv, other);
        }
        lm_profile full = {.size = profile->size, .runs = reps,
                           .threads = lm_blas_threads(),
                           .conv_count = n, .conv_ms = e->prof_conv,
                           .other_ms_at = e->prof_other};
        full.total_ms = column_median(m, reps, cols, 0, scratch);
        full.stem_ms = column_median(m, reps, cols, 1, scratch);
        full.head_ms = column_median(m, reps, cols, 2, scratch);
        outside(m, reps, cols, n, scratch, &full.outside_ms,
                &full.outside_stdev_ms);
        for (size_t p = 0; p < n; p++) {
            e->prof_conv[p] = column_median(m, reps, cols, 3 + p, scratch);
            e->prof_other[p] = column_median(m, reps, cols, 3 + n + p,
                                             scratch);
            full.trunk_ms += e->prof_conv[p];
            full.other_ms += e->prof_other[p];
        }
        st = lm_sized_copy(profile, &full, sizeof full, "lm_engine_profile");
    }
    lm_engine_timing_end(e);
    free(m);
    free(scratch);
    free(conv);
    free(other);
    return st;
}
