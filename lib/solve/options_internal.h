/* Private: the solve options record and the budget it resolves to. */
#ifndef LM_SOLVE_OPTIONS_INTERNAL_H
#define LM_SOLVE_OPTIONS_INTERNAL_H

#include "layermerge/solver.h"
#include "solve/discretise.h"

struct lm_solve_options {
    lm_method method;
    double precision;
    lm_rounding rounding;
    int absolute;  /* 1: `budget` holds it; 0: `ratio` x original */
    double budget, ratio;
};

/* The budget in latency units for a network of `original` latency. */
double lm_options_budget(const lm_solve_options *o, double original);

static inline lm_round_mode lm_options_round(const lm_solve_options *o)
{
    return o->rounding == LM_ROUNDING_FLOOR ? LM_ROUND_FLOOR : LM_ROUND_CEIL;
}

#endif
