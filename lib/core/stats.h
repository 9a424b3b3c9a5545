/* Private: the small statistics and the seeded generator that timing,
 * tables and the random inputs share, so that every median is the same
 * median and every seeded stream the same stream. */
#ifndef LM_CORE_STATS_H
#define LM_CORE_STATS_H

#include <stddef.h>
#include <stdint.h>

/* splitmix64: the next value of a seedable stream with no global state;
 * the same numbers on every platform. */
static inline uint64_t lm_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Sort v[0..n) ascending and return its median (the mean of the middle two
 * for even n); n >= 1. */
double lm_median_sort(double *v, size_t n);

/* The sample standard deviation of v[0..n) (n - 1 in the denominator);
 * 0 for n < 2. */
double lm_sample_stdev(const double *v, size_t n);

#endif
