/* The range, autosave and progress parts shared by both option objects. */
#include <stdint.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/util.h"
#include "measure/measure_internal.h"

void lm_mrun_defaults(lm_mrun *run)
{
    run->lo = 0;
    run->hi = SIZE_MAX;
    run->save_path = NULL;
    run->progress = NULL;
    run->progress_data = NULL;
}

void lm_mrun_free(lm_mrun *run)
{
    free(run->save_path);
    run->save_path = NULL;
}

lm_status lm_mrun_set_range(lm_mrun *run, size_t lo, size_t hi)
{
    if (lo >= hi)
        return lm_err(LM_ERR_INVALID_ARG,
                      "entry range [%zu, %zu) is empty", lo, hi);
    run->lo = lo;
    run->hi = hi;
    return LM_OK;
}

lm_status lm_mrun_set_save_path(lm_mrun *run, const char *path)
{
    char *copy = NULL;
    if (path && !(copy = lm_strdup(path)))
        return lm_err_nomem();
    free(run->save_path);
    run->save_path = copy;
    return LM_OK;
}

lm_status lm_mrun_bounds(const lm_mrun *run, size_t count, const char *what,
                         size_t *lo, size_t *hi)
{
    if (run->lo >= count)
        return lm_err(LM_ERR_INVALID_ARG,
                      "%s: entry range starts at %zu but the graph has %zu "
                      "entries", what, run->lo, count);
    *lo = run->lo;
    *hi = run->hi < count ? run->hi : count;
    return LM_OK;
}
