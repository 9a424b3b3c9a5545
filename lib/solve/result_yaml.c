/* Writing a result as YAML (lm_result_save); the layout is read back by
 * result_load.c and described in docs/solvers.md ("Result files"). */
#include <errno.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "io/yaml_doc.h"
#include "solve/result_internal.h"

static lm_status y_int(lm_yemit *y, const char *key, int64_t v)
{
    lm_status st = lm_yemit_key(y, key);
    return st != LM_OK ? st : lm_yemit_int(y, v);
}

static lm_status y_dbl(lm_yemit *y, const char *key, double v)
{
    lm_status st = lm_yemit_key(y, key);
    return st != LM_OK ? st : lm_yemit_double(y, v);
}

static lm_status y_str(lm_yemit *y, const char *key, const char *v)
{
    lm_status st = lm_yemit_key(y, key);
    return st != LM_OK ? st : lm_yemit_str(y, v);
}

/* Positions p in 1..N whose flags hold `f`, as a flow sequence. */
static lm_status y_positions(lm_yemit *y, const lm_result *r, const char *key,
                             uint8_t f)
{
    lm_status st = lm_yemit_key(y, key);
    if (st == LM_OK)
        st = lm_yemit_seq_begin(y, 1);
    for (size_t p = 1; p <= r->n_convs && st == LM_OK; p++)
        if (r->flags[p] & f)
            st = lm_yemit_int(y, (int64_t)p);
    return st != LM_OK ? st : lm_yemit_seq_end(y);
}

static lm_status y_segment(lm_yemit *y, const lm_rseg *s)
{
    lm_status st = lm_yemit_map_begin(y, 1);
    if (st == LM_OK) st = y_int(y, "st", (int64_t)s->st);
    if (st == LM_OK) st = y_int(y, "end", (int64_t)s->end);
    if (st == LM_OK && s->entry != SIZE_MAX)
        st = y_int(y, "entry", (int64_t)s->entry);
    if (st == LM_OK) st = y_int(y, "ker", s->kernel);
    if (st == LM_OK) st = y_int(y, "str", s->stride);
    if (st == LM_OK) st = y_int(y, "is_dw", s->depthwise);
    if (st == LM_OK) st = y_dbl(y, "latency", s->latency);
    if (st == LM_OK) st = y_dbl(y, "importance", s->importance);
    if (st == LM_OK) st = lm_yemit_key(y, "convs");
    if (st == LM_OK) st = lm_yemit_seq_begin(y, 1);
    for (size_t k = 0; k < s->n_kept && st == LM_OK; k++)
        st = lm_yemit_int(y, (int64_t)s->kept[k]);
    if (st == LM_OK) st = lm_yemit_seq_end(y);
    return st != LM_OK ? st : lm_yemit_map_end(y);
}

static lm_status y_header(lm_yemit *y, const lm_result *r)
{
    lm_status st = y_str(y, "format", "layermerge-result");
    if (st == LM_OK) st = y_int(y, "version", 1);
    if (st == LM_OK) st = y_str(y, "method", lm_method_name(r->method));
    if (st == LM_OK) st = y_str(y, "fingerprint", r->fingerprint);
    if (st == LM_OK) st = y_int(y, "conv_count", (int64_t)r->n_convs);
    if (st == LM_OK) st = y_dbl(y, "budget", r->budget);
    if (st == LM_OK) st = y_int(y, "budget_units", r->budget_units);
    if (st == LM_OK) st = y_dbl(y, "precision", r->precision);
    if (st == LM_OK)
        st = y_str(y, "rounding",
                   r->rounding == LM_ROUNDING_FLOOR ? "floor" : "ceil");
    if (st == LM_OK) st = y_dbl(y, "importance", r->importance);
    if (st == LM_OK) st = y_dbl(y, "latency", r->latency);
    if (st == LM_OK) st = y_int(y, "latency_discrete", r->units);
    return st;
}

static lm_status y_body(lm_yemit *y, const lm_result *r)
{
    lm_status st = lm_yemit_map_begin(y, 0);
    if (st == LM_OK) st = y_header(y, r);
    if (st == LM_OK) st = y_positions(y, r, "activations", LM_RF_ACT);
    if (st == LM_OK) st = y_positions(y, r, "convs", LM_RF_CONV);
    if (st == LM_OK) st = y_positions(y, r, "merges", LM_RF_BOUNDARY);
    if (st == LM_OK) st = lm_yemit_key(y, "segments");
    if (st == LM_OK) st = lm_yemit_seq_begin(y, 0);
    for (size_t i = 0; i < r->n_segs && st == LM_OK; i++)
        st = y_segment(y, &r->segs[i]);
    if (st == LM_OK) st = lm_yemit_seq_end(y);
    return st != LM_OK ? st : lm_yemit_map_end(y);
}

static lm_status write_yaml(const lm_result *r, FILE *fp)
{
    lm_yemit *y = NULL;
    lm_status st = lm_yemit_begin(&y, fp);
    if (st != LM_OK)
        return st;
    st = y_body(y, r);
    if (st != LM_OK) {
        lm_yemit_abort(y);
        return st;
    }
    st = lm_yemit_end(y);
    if (st == LM_OK && (fflush(fp) != 0 || ferror(fp)))
        st = lm_err(LM_ERR_IO, "writing result YAML: %s", strerror(errno));
    return st;
}

lm_status lm_result_save(const lm_result *r, const char *path)
{
    if (!r || !path)
        return lm_err(LM_ERR_INVALID_ARG, "lm_result_save: NULL argument");
    lm_atomic_file af = {0};
    lm_status st = lm_atomic_open(&af, path);
    if (st != LM_OK)
        return lm_err_prefix(st, "saving result: ");
    st = write_yaml(r, af.fp);
    if (st != LM_OK) {
        lm_atomic_abort(&af);
        return lm_err_prefix(st, "saving result to %s: ", path);
    }
    st = lm_atomic_commit(&af);
    return st != LM_OK ? lm_err_prefix(st, "saving result: ") : LM_OK;
}
