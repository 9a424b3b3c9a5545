/* Private: value-returning result queries for the library's own rooms and
 * tests; the public calls (solver.h) report out-of-range indices as errors
 * through records. Each answers 0 out of range. */
#ifndef LM_SOLVE_RESULT_QUERY_H
#define LM_SOLVE_RESULT_QUERY_H

#include <stddef.h>

#include "layermerge/solver.h"

int lm_result_keeps_conv(const lm_result *r, size_t conv);
int lm_result_keeps_act(const lm_result *r, size_t position);
int lm_result_boundary_at(const lm_result *r, size_t position);

#endif
