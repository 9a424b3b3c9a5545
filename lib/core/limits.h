/* Private: the bounds every size read from a caller or a file must keep,
 * so that the arithmetic on them (shapes, element counts, byte counts)
 * cannot overflow and a network that validates can also be allocated.
 * docs/formats.md ("Limits") documents them. */
#ifndef LM_CORE_LIMITS_H
#define LM_CORE_LIMITS_H

#include <stdint.h>

/* Any one size of a graph: channels, height, width, kernel, stride,
 * padding, groups, features, adaptive pool output. 2^31 - 1 is also the
 * largest size OpenBLAS's int arguments take. */
#define LM_DIM_MAX INT64_C(2147483647)

/* Elements of one tensor: an activation of one image (C x H x W at every
 * position, stem and head layer) or one weight tensor (out x in/groups x
 * k x k, out x in). 2^40 floats are 4 TiB, far beyond any network, and
 * times any batch up to LM_BATCH_MAX still far from SIZE_MAX. */
#define LM_NUMEL_MAX (INT64_C(1) << 40)

/* Images per run in the measuring and proxy options. */
#define LM_BATCH_MAX ((size_t)65536)

/* Nesting of YAML collections (mappings and sequences) a reader accepts:
 * the deepest file the library writes nests 5 levels. */
#define LM_YAML_MAX_DEPTH 64

/* Memory of one solver table (DP, kim23, knapsack): beyond it the solvers
 * refuse the precision (LM_ERR_UNSUPPORTED) instead of allocating. */
#define LM_SOLVE_TABLE_MAX ((size_t)2 << 30)

#endif
