/* lm_solver for kim23 from the authors' files (docs/method.md section 7): the
 * time table gives stage 1's covers, the raw importance table the extended
 * importance. Identity positions come from the graph when one is given,
 * else from the raw table's 0 flags (only identity positions may carry
 * one). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/csv.h"
#include "solve/solver_internal.h"
#include "graph/graph_query.h"

static lm_status read_pos(const lm_csv *csv, size_t r, size_t c,
                          uint32_t *out)
{
    int64_t v = 0;
    lm_status st = lm_csv_int(csv, r, c, &v);
    if (st != LM_OK)
        return st;
    if (v < 0 || v > LM_K23_MAX_POSITIONS)
        return lm_err(LM_ERR_PARSE, "%s:%zu: position %lld out of range "
                      "0..%d", csv->source, csv->line[r], (long long)v,
                      LM_K23_MAX_POSITIONS);
    *out = (uint32_t)v;
    return LM_OK;
}

static lm_status columns(const lm_csv *csv, const char *const *names,
                         size_t *cols, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        lm_status st = lm_csv_column(csv, names[i], &cols[i]);
        if (st != LM_OK)
            return st;
    }
    return LM_OK;
}

static lm_status read_time(lm_solver *s, const char *path)
{
    static const char *const names[] = {"st", "end", "time", "stdev"};
    lm_csv csv;
    size_t c[4];
    lm_status st = lm_csv_load(&csv, path);
    if (st != LM_OK)
        return st;
    st = columns(&csv, names, c, 4);
    s->segs = calloc(csv.n_rows ? csv.n_rows : 1, sizeof *s->segs);
    if (st == LM_OK && !s->segs)
        st = lm_err_nomem();
    for (size_t r = 0; r < csv.n_rows && st == LM_OK; r++) {
        lm_k23_segment *g = &s->segs[r];
        st = read_pos(&csv, r, c[0], &g->st);
        if (st == LM_OK) st = read_pos(&csv, r, c[1], &g->end);
        if (st == LM_OK) st = lm_csv_double(&csv, r, c[2], &g->time);
        if (st == LM_OK) st = lm_csv_double(&csv, r, c[3], &g->stdev);
        if (st == LM_OK && g->end > s->n_convs)
            s->n_convs = g->end;
    }
    s->n_segs = csv.n_rows;
    if (st == LM_OK && csv.n_rows == 0)
        st = lm_err(LM_ERR_PARSE, "%s: no rows", path);
    lm_csv_free(&csv);
    return st;
}

static lm_status read_flag(const lm_csv *csv, size_t r, size_t c,
                           uint8_t *out)
{
    int64_t v = 0;
    lm_status st = lm_csv_int(csv, r, c, &v);
    if (st == LM_OK && v != 0 && v != 1)
        return lm_err(LM_ERR_PARSE, "%s:%zu: activation flag %lld is not 0 "
                      "or 1", csv->source, csv->line[r], (long long)v);
    *out = (uint8_t)v;
    return st;
}

static lm_status read_raw(lm_solver *s, const char *path)
{
    static const char *const names[] = {"st", "end", "st_act", "end_act",
                                        "val_acc"};
    lm_csv csv;
    size_t c[5];
    lm_status st = lm_csv_load(&csv, path);
    if (st != LM_OK)
        return st;
    st = columns(&csv, names, c, 5);
    s->ext = calloc(csv.n_rows ? csv.n_rows : 1, sizeof *s->ext);
    if (st == LM_OK && !s->ext)
        st = lm_err_nomem();
    for (size_t r = 0; r < csv.n_rows && st == LM_OK; r++) {
        lm_k23_row *w = &s->ext[r];
        st = read_pos(&csv, r, c[0], &w->st);
        if (st == LM_OK) st = read_pos(&csv, r, c[1], &w->end);
        if (st == LM_OK) st = read_flag(&csv, r, c[2], &w->st_act);
        if (st == LM_OK) st = read_flag(&csv, r, c[3], &w->end_act);
        if (st == LM_OK) st = lm_csv_double(&csv, r, c[4], &w->score);
        if (st == LM_OK && (w->end > s->n_convs || w->st >= w->end))
            st = lm_err(LM_ERR_MISMATCH, "%s:%zu: segment (%u, %u) is not a "
                        "segment of the time table (positions 0..%zu)", path,
                        csv.line[r], w->st, w->end, s->n_convs);
    }
    s->n_ext = csv.n_rows;
    lm_csv_free(&csv);
    return st;
}

/* Without a graph: nonlinear unless some row gives the position a 0 flag. */
static void flags_from_rows(lm_solver *s)
{
    memset(s->nonlinear, 1, s->n_convs + 1);
    for (size_t i = 0; i < s->n_ext; i++) {
        if (!s->ext[i].st_act)
            s->nonlinear[s->ext[i].st] = 0;
        if (!s->ext[i].end_act)
            s->nonlinear[s->ext[i].end] = 0;
    }
    s->nonlinear[0] = 1;
    s->has_nonlinearity = 1;
}

/* The merge-all conv of each time row: K = 1 + sum (k - 1), product of
 * strides, depthwise when every conv is. */
static lm_status seg_shapes(lm_solver *s, const lm_graph *g)
{
    s->seg_kernel = malloc(s->n_segs * sizeof *s->seg_kernel);
    s->seg_stride = malloc(s->n_segs * sizeof *s->seg_stride);
    s->seg_dw = calloc(s->n_segs, sizeof *s->seg_dw);
    if (!s->seg_kernel || !s->seg_stride || !s->seg_dw)
        return lm_err_nomem();
    for (size_t i = 0; i < s->n_segs; i++) {
        int64_t k = g ? 1 : -1, str = g ? 1 : -1;
        int32_t dw = g ? 1 : 0;
        for (size_t c = s->segs[i].st + 1; g && c <= s->segs[i].end; c++) {
            lm_conv_info ci = {.size = sizeof ci};
            lm_status st = lm_graph_conv_info(&ci, g, c);
            if (st != LM_OK)
                return st;
            k += ci.kernel - 1;
            str *= ci.stride;
            dw &= ci.groups > 1 && ci.groups == ci.in_channels &&
                  ci.in_channels == ci.out_channels;
        }
        s->seg_kernel[i] = k;
        s->seg_stride[i] = str;
        s->seg_dw[i] = dw;
    }
    return LM_OK;
}

static lm_status use_graph(lm_solver *s, const lm_graph *g)
{
    if (!lm_graph_fingerprint(g))
        return lm_err(LM_ERR_INVALID_ARG, "the graph is not validated");
    if (lm_graph_conv_count(g) != s->n_convs)
        return lm_err(LM_ERR_MISMATCH, "the time table covers positions "
                      "0..%zu, the graph has %zu convs", s->n_convs,
                      lm_graph_conv_count(g));
    free(s->fingerprint);
    s->fingerprint = malloc(strlen(lm_graph_fingerprint(g)) + 1);
    if (!s->fingerprint)
        return lm_err_nomem();
    strcpy(s->fingerprint, lm_graph_fingerprint(g));
    s->nonlinear[0] = 1;
    for (size_t p = 1; p <= s->n_convs; p++)
        s->nonlinear[p] = lm_graph_position_act(g, p) != LM_ACT_IDENTITY;
    s->has_nonlinearity = lm_graph_nonlinearity(g) != LM_ACT_IDENTITY;
    return LM_OK;
}

static lm_status original_latency(lm_solver *s)
{
    s->original = 0.0;
    for (size_t p = 1; p <= s->n_convs; p++) {
        size_t i = 0;
        while (i < s->n_segs && !(s->segs[i].st == p - 1 && s->segs[i].end == p))
            i++;
        if (i == s->n_segs)
            return lm_err(LM_ERR_MISSING, "the time table has no single-conv "
                          "row (%zu, %zu)", p - 1, p);
        s->original += s->segs[i].time;
    }
    return LM_OK;
}

static lm_status build(lm_solver *s, const char *time_csv, const char *raw,
                       const lm_graph *g)
{
    lm_status st = read_time(s, time_csv);
    if (st == LM_OK) {
        /* N is known only now: size the flags for it. */
        free(s->nonlinear);
        s->nonlinear = calloc(s->n_convs + 1, 1);
        if (!s->nonlinear)
            return lm_err_nomem();
    }
    if (st == LM_OK) st = read_raw(s, raw);
    if (st == LM_OK && g) st = use_graph(s, g);
    if (st == LM_OK && !g) flags_from_rows(s);
    if (st == LM_OK) st = original_latency(s);
    if (st == LM_OK) st = seg_shapes(s, g);
    if (st == LM_OK) {
        st = lm_k23_opt_time(&s->covers, s->segs, s->n_segs);
        if (st != LM_OK)
            return lm_err_prefix(st, "%s: ", time_csv);
    }
    if (st != LM_OK)
        return st;
    double *ext = malloc(s->n_ext ? s->n_ext * sizeof *ext : 1);
    double mean = 0.0;
    if (!ext)
        return lm_err_nomem();
    st = lm_k23_ext_importance(ext, &mean, s->ext, s->n_ext, s->n_convs,
                               s->nonlinear);
    for (size_t i = 0; i < s->n_ext && st == LM_OK; i++)
        s->ext[i].score = ext[i];
    free(ext);
    return st != LM_OK ? lm_err_prefix(st, "%s: ", raw) : LM_OK;
}

lm_status lm_solver_create_kim23(lm_solver **out, const char *time_csv,
                                 const char *raw_importance_csv,
                                 const lm_graph *graph)
{
    if (!out || !time_csv || !raw_importance_csv)
        return lm_err(LM_ERR_INVALID_ARG, "lm_solver_create_kim23: NULL "
                      "argument");
    *out = NULL;
    lm_solver *s = NULL;
    lm_status st = lm_solver_alloc(&s, LM_METHOD_KIM23, 0, "");
    if (st == LM_OK)
        st = build(s, time_csv, raw_importance_csv, graph);
    if (st != LM_OK) {
        lm_solver_destroy(s);
        return st;
    }
    *out = s;
    return LM_OK;
}
