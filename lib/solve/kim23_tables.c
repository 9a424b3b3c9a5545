/* kim23 look-up tables: the stage-1 fastest merge cover and the extended
 * importance (docs/method.md section 7, items 1 and 2). Both are small DPs
 * over segments; dense (st, end) index maps keep them O(sum of segment
 * lengths). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "solve/kim23.h"

/* Dense map (st, end) -> row index, -1 when absent; `stride` = N + 1. */
static int32_t *seg_map_new(size_t n_positions)
{
    size_t w = n_positions + 1;
    int32_t *map = malloc(w * w * sizeof *map);
    if (map)
        for (size_t i = 0; i < w * w; i++)
            map[i] = -1;
    return map;
}

static lm_status check_segment(const lm_k23_segment *s, size_t i)
{
    if (!(s->st < s->end && s->end <= LM_K23_MAX_POSITIONS))
        return lm_err(LM_ERR_INVALID_ARG, "time row %zu: segment (%u, %u) is "
                      "empty or beyond position %d", i, s->st, s->end,
                      LM_K23_MAX_POSITIONS);
    if (!(isfinite(s->time) && s->time >= 0.0) ||
        !(isfinite(s->stdev) && s->stdev >= 0.0))
        return lm_err(LM_ERR_VALUE, "time row %zu (segment (%u, %u)): time %g "
                      "or stdev %g is not a finite number >= 0", i, s->st,
                      s->end, s->time, s->stdev);
    return LM_OK;
}

static lm_status index_segments(int32_t **map_out, size_t *n_pos,
                                const lm_k23_segment *segs, size_t n)
{
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        lm_status st = check_segment(&segs[i], i);
        if (st != LM_OK)
            return st;
        if (segs[i].end > np)
            np = segs[i].end;
    }
    int32_t *map = seg_map_new(np);
    if (!map)
        return lm_err_nomem();
    for (size_t i = 0; i < n; i++) {
        int32_t *cell = &map[segs[i].st * (np + 1) + segs[i].end];
        if (*cell >= 0) {
            int32_t first = *cell;
            free(map);
            return lm_err(LM_ERR_DUPLICATE, "time rows %d and %zu: segment "
                          "(%u, %u) appears twice", first, i, segs[i].st,
                          segs[i].end);
        }
        *cell = (int32_t)i;
    }
    *map_out = map;
    *n_pos = np;
    return LM_OK;
}

/* One segment's cover; (st, j) covers are final because st is fixed and
 * j < end was processed earlier. */
static lm_status cover_one(lm_k23_cover *covers, const lm_k23_segment *segs,
                           const int32_t *map, size_t w, size_t idx)
{
    const lm_k23_segment *s = &segs[idx];
    double best = s->time, stdev = s->stdev;
    int32_t head = -1;
    for (uint32_t j = s->st + 1; j < s->end; j++) {
        int32_t a = map[s->st * w + j], b = map[j * w + s->end];
        if (a < 0 || b < 0 || !(covers[a].time + segs[b].time < best))
            continue;
        best = covers[a].time + segs[b].time;
        stdev = covers[a].stdev + segs[b].stdev;
        head = a;
    }
    lm_k23_cover *c = &covers[idx];
    c->time = best;
    c->stdev = stdev;
    c->n_breaks = head < 0 ? 2 : covers[head].n_breaks + 1;
    c->breaks = malloc(c->n_breaks * sizeof *c->breaks);
    if (!c->breaks)
        return lm_err_nomem();
    if (head < 0)
        c->breaks[0] = s->st;
    else
        memcpy(c->breaks, covers[head].breaks,
               covers[head].n_breaks * sizeof *c->breaks);
    c->breaks[c->n_breaks - 1] = s->end;
    return LM_OK;
}

lm_status lm_k23_opt_time(lm_k23_cover **out, const lm_k23_segment *segs,
                          size_t n)
{
    if (!out || (!segs && n))
        return lm_err(LM_ERR_INVALID_ARG, "kim23 stage 1: NULL argument");
    *out = NULL;
    int32_t *map = NULL;
    size_t np = 0;
    lm_status st = index_segments(&map, &np, segs, n);
    if (st != LM_OK)
        return st;
    lm_k23_cover *covers = calloc(n ? n : 1, sizeof *covers);
    if (!covers) {
        free(map);
        return lm_err_nomem();
    }
    size_t w = np + 1;
    for (size_t a = 0; a < w && st == LM_OK; a++)
        for (size_t b = a + 1; b < w && st == LM_OK; b++)
            if (map[a * w + b] >= 0)
                st = cover_one(covers, segs, map, w, (size_t)map[a * w + b]);
    free(map);
    if (st != LM_OK) {
        lm_k23_covers_free(covers, n);
        return st;
    }
    *out = covers;
    return LM_OK;
}

void lm_k23_covers_free(lm_k23_cover *covers, size_t n)
{
    for (size_t i = 0; covers && i < n; i++)
        free(covers[i].breaks);
    free(covers);
}

/* ---- extended importance ---- */

static size_t row_key(const lm_k23_row *r, size_t w)
{
    return ((r->st * w + r->end) * 2 + r->st_act) * 2 + r->end_act;
}

static lm_status check_row(const lm_k23_row *r, size_t i, size_t n_positions)
{
    if (!(r->st < r->end && r->end <= n_positions))
        return lm_err(LM_ERR_INVALID_ARG, "importance row %zu: segment "
                      "(%u, %u) outside 0..%zu", i, r->st, r->end, n_positions);
    if (r->st_act > 1 || r->end_act > 1)
        return lm_err(LM_ERR_INVALID_ARG, "importance row %zu (segment "
                      "(%u, %u)): activation flags must be 0 or 1", i, r->st,
                      r->end);
    if (!isfinite(r->score))
        return lm_err(LM_ERR_VALUE, "importance row %zu (segment (%u, %u), "
                      "flags %u,%u): score %g is not a finite number", i, r->st,
                      r->end, r->st_act, r->end_act, r->score);
    return LM_OK;
}

/* Map (st, end, a, b) -> row, with the checks above. */
static lm_status index_rows(int32_t **map_out, const lm_k23_row *raw,
                            size_t n, size_t n_positions)
{
    size_t w = n_positions + 1;
    int32_t *map = malloc(w * w * 4 * sizeof *map);
    if (!map)
        return lm_err_nomem();
    for (size_t i = 0; i < w * w * 4; i++)
        map[i] = -1;
    for (size_t i = 0; i < n; i++) {
        lm_status st = check_row(&raw[i], i, n_positions);
        int32_t *cell = st == LM_OK ? &map[row_key(&raw[i], w)] : NULL;
        if (st == LM_OK && *cell >= 0)
            st = lm_err(LM_ERR_DUPLICATE, "importance rows %d and %zu: "
                        "(%u, %u, %u, %u) appears twice", *cell, i, raw[i].st,
                        raw[i].end, raw[i].st_act, raw[i].end_act);
        if (st != LM_OK) {
            free(map);
            return st;
        }
        *cell = (int32_t)i;
    }
    *map_out = map;
    return LM_OK;
}

static int is_default(const lm_k23_row *r, const uint8_t *nonlinear)
{
    if (r->st == 0 && r->end == 1)
        return 1;
    return r->end - r->st == 1 && (r->st_act == 1) == (nonlinear[r->st] != 0) &&
           (r->end_act == 1) == (nonlinear[r->end] != 0);
}

/* Mean raw score of the default single-conv rows; every position needs one. */
static lm_status default_mean(double *mean, const lm_k23_row *raw, size_t n,
                              size_t n_positions, const uint8_t *nonlinear)
{
    uint8_t *seen = calloc(n_positions + 1, 1);
    if (!seen)
        return lm_err_nomem();
    double sum = 0.0;
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_default(&raw[i], nonlinear))
            continue;
        sum += raw[i].score;
        count++;
        seen[raw[i].end] = 1;
    }
    lm_status st = LM_OK;
    for (size_t p = 1; p <= n_positions && st == LM_OK; p++)
        if (!seen[p])
            st = lm_err(LM_ERR_MISSING, "importance: no default single-conv "
                        "row for segment (%zu, %zu)", p - 1, p);
    free(seen);
    *mean = count ? sum / (double)count : 0.0;
    return st;
}

lm_status lm_k23_ext_importance(double *ext, double *mean_out,
                                const lm_k23_row *raw, size_t n,
                                size_t n_positions, const uint8_t *nonlinear)
{
    if (!ext || !mean_out || (!raw && n) || !nonlinear || n_positions == 0 ||
        n_positions > LM_K23_MAX_POSITIONS)
        return lm_err(LM_ERR_INVALID_ARG, "kim23 importance: NULL argument or "
                      "%zu positions out of range", n_positions);
    int32_t *map = NULL;
    lm_status st = index_rows(&map, raw, n, n_positions);
    double mean = 0.0;
    if (st == LM_OK)
        st = default_mean(&mean, raw, n, n_positions, nonlinear);
    uint8_t *done = st == LM_OK ? calloc(n ? n : 1, 1) : NULL;
    if (st == LM_OK && !done)
        st = lm_err_nomem();
    size_t w = n_positions + 1;
    for (size_t i = 0; i < n && st == LM_OK; i++) {
        const lm_k23_row *r = &raw[i];
        double best = r->score - mean;
        for (uint32_t j = r->st + 1; j < r->end; j++) {
            lm_k23_row head = {r->st, j, r->st_act, 0, 0.0};
            lm_k23_row tail = {j, r->end, 0, r->end_act, 0.0};
            int32_t a = map[row_key(&head, w)], b = map[row_key(&tail, w)];
            if (a < 0 || b < 0 || !done[a])
                continue;
            double cand = ext[a] + (raw[b].score - mean);
            if (cand > best)
                best = cand;
        }
        ext[i] = best;
        done[i] = 1;
    }
    free(done);
    free(map);
    *mean_out = mean;
    return st;
}
