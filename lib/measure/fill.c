/* The loop that the latency measurement and the proxy importance share:
 * resumable (entries the table holds are skipped), saved after every
 * entry so a killed run loses at most the one in progress, cancellable
 * from the progress callback. */
#include "core/error.h"
#include "measure/measure_internal.h"

/* Entries of [lo, hi) held before the run, so progress counts from them. */
static lm_status count_held(const lm_mfill *f, size_t lo, size_t hi,
                            size_t *held)
{
    lm_entry_info info = {.size = sizeof info};
    *held = 0;
    for (size_t id = lo; id < hi; id++) {
        lm_status st = lm_entries_entry_info(&info, f->entries, id);
        if (st != LM_OK)
            return st;
        *held += (size_t)f->has(f->ctx, &info);
    }
    return LM_OK;
}

static lm_status store(const lm_mrun *run, const lm_mfill *f,
                       const lm_entry_info *info)
{
    lm_status st = f->store(f->ctx, info);
    if (st != LM_OK)
        return lm_err_prefix(st,
                             "%s: entry %zu (st %zu, end %zu, kernel %lld, "
                             "stride %lld, dw %d): ", f->what, info->id,
                             info->st, info->end, (long long)info->kernel,
                             (long long)info->stride, (int)info->depthwise);
    return run->save_path ? f->save(f->ctx, run->save_path) : LM_OK;
}

static lm_status fill_range(const lm_mrun *run, size_t lo, size_t hi,
                            const lm_mfill *f)
{
    size_t total = hi - lo, done = 0;
    lm_entry_info info = {.size = sizeof info};
    lm_status st = count_held(f, lo, hi, &done);
    double t0 = lm_measure_now();
    for (size_t id = lo; id < hi && st == LM_OK; id++) {
        st = lm_entries_entry_info(&info, f->entries, id);
        if (st != LM_OK || f->has(f->ctx, &info))
            continue;
        if ((st = store(run, f, &info)) != LM_OK)
            break;
        done++;
        if (run->progress && run->progress(done, total, id,
                                           lm_measure_now() - t0,
                                           run->progress_data))
            st = lm_err(LM_ERR_CANCELLED, "%s: cancelled after entry %zu "
                        "(%zu of %zu entries done)", f->what, id, done,
                        total);
    }
    return st;
}

lm_status lm_mrun_fill(const lm_mrun *run, size_t lo, size_t hi,
                       const lm_mfill *f)
{
    lm_status st = fill_range(run, lo, hi, f);
    if (st == LM_OK && run->save_path)
        st = f->save(f->ctx, run->save_path);
    return st;
}
