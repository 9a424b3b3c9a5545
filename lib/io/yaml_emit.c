/* Writing YAML: a thin emitter over libyaml's event API. Strings are
 * quoted when a YAML 1.1 reader would take them for another type, doubles
 * carry enough digits to read back bit-identical. Whole documents and
 * atomic saves are yaml_save.c; the reader is yaml_read.c. */
#include "io/yaml_emit.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/error.h"
#include "io/yaml_read.h"

struct lm_yemit {
    yaml_emitter_t emitter;
};

static lm_status emit(lm_yemit *e, yaml_event_t *ev, int made)
{
    if (!made)
        return lm_err_nomem();
    if (!yaml_emitter_emit(&e->emitter, ev))
        return lm_err(LM_ERR_IO, "writing YAML: %s",
                      e->emitter.problem ? e->emitter.problem
                                         : "write failed");
    return LM_OK;
}

lm_status lm_yemit_begin(lm_yemit **out, FILE *fp)
{
    if (!out || !fp)
        return lm_err(LM_ERR_INVALID_ARG, "lm_yemit_begin: NULL argument");
    *out = NULL;
    lm_yemit *e = calloc(1, sizeof *e);
    if (!e)
        return lm_err_nomem();
    if (!yaml_emitter_initialize(&e->emitter)) {
        free(e);
        return lm_err_nomem();
    }
    yaml_emitter_set_output_file(&e->emitter, fp);
    /* Records stay on one line however long; the reader does not care. */
    yaml_emitter_set_width(&e->emitter, -1);
    yaml_emitter_set_unicode(&e->emitter, 1);
    yaml_event_t ev;
    lm_status st = emit(e, &ev, yaml_stream_start_event_initialize(
                                    &ev, YAML_UTF8_ENCODING));
    if (st == LM_OK)
        st = emit(e, &ev, yaml_document_start_event_initialize(
                              &ev, NULL, NULL, NULL, 1));
    if (st != LM_OK) {
        lm_yemit_abort(e);
        return st;
    }
    *out = e;
    return LM_OK;
}

lm_status lm_yemit_end(lm_yemit *e)
{
    if (!e)
        return lm_err(LM_ERR_INVALID_ARG, "lm_yemit_end: NULL emitter");
    yaml_event_t ev;
    lm_status st = emit(e, &ev, yaml_document_end_event_initialize(&ev, 1));
    if (st == LM_OK)
        st = emit(e, &ev, yaml_stream_end_event_initialize(&ev));
    if (st == LM_OK && !yaml_emitter_flush(&e->emitter))
        st = lm_err(LM_ERR_IO, "writing YAML: flush failed");
    lm_yemit_abort(e);
    return st;
}

void lm_yemit_abort(lm_yemit *e)
{
    if (!e)
        return;
    yaml_emitter_delete(&e->emitter);
    free(e);
}

lm_status lm_yemit_map_begin(lm_yemit *e, int flow)
{
    yaml_event_t ev;
    return emit(e, &ev, yaml_mapping_start_event_initialize(
                            &ev, NULL, NULL, 1,
                            flow ? YAML_FLOW_MAPPING_STYLE
                                 : YAML_BLOCK_MAPPING_STYLE));
}

lm_status lm_yemit_map_end(lm_yemit *e)
{
    yaml_event_t ev;
    return emit(e, &ev, yaml_mapping_end_event_initialize(&ev));
}

lm_status lm_yemit_seq_begin(lm_yemit *e, int flow)
{
    yaml_event_t ev;
    return emit(e, &ev, yaml_sequence_start_event_initialize(
                            &ev, NULL, NULL, 1,
                            flow ? YAML_FLOW_SEQUENCE_STYLE
                                 : YAML_BLOCK_SEQUENCE_STYLE));
}

lm_status lm_yemit_seq_end(lm_yemit *e)
{
    yaml_event_t ev;
    return emit(e, &ev, yaml_sequence_end_event_initialize(&ev));
}

static lm_status emit_scalar(lm_yemit *e, const char *text,
                             yaml_scalar_style_t style)
{
    yaml_event_t ev;
    int plain = style == YAML_PLAIN_SCALAR_STYLE;
    return emit(e, &ev, yaml_scalar_event_initialize(
                            &ev, NULL, NULL, (yaml_char_t *)text,
                            (int)strlen(text), plain, !plain, style));
}

/* Plain only for simple words that no YAML 1.1 reader could take for a
 * number, bool or null; everything else is double-quoted. */
static int safe_plain(const char *s)
{
    /* YAML 1.1's one-letter bools, which the reader does not take but
     * other readers may. */
    static const char *const short_bools[] = {"y", "Y", "n", "N", NULL};
    if (lm_yplain_is_bool_or_null(s))
        return 0;
    for (const char *const *w = short_bools; *w; w++)
        if (!strcmp(s, *w))
            return 0;
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return 0;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
              (*c >= '0' && *c <= '9') || strchr("_.-/", *c)))
            return 0;
    return 1;
}

lm_status lm_yemit_key(lm_yemit *e, const char *key)
{
    return lm_yemit_str(e, key);
}

lm_status lm_yemit_str(lm_yemit *e, const char *value)
{
    if (!value)
        return lm_yemit_null(e);
    return emit_scalar(e, value, safe_plain(value)
                                     ? YAML_PLAIN_SCALAR_STYLE
                                     : YAML_DOUBLE_QUOTED_SCALAR_STYLE);
}

lm_status lm_yemit_int(lm_yemit *e, int64_t value)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, value);
    return emit_scalar(e, buf, YAML_PLAIN_SCALAR_STYLE);
}

/* The shortest of 15..17 significant digits that reads back to the same
 * bits, with a '.' in the mantissa because YAML 1.1 readers (PyYAML) take
 * "1e-05" for a string. */
static void format_double(char *buf, size_t cap, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (strchr(buf, '.'))
        return;
    char *exp = strchr(buf, 'e');
    size_t at = exp ? (size_t)(exp - buf) : strlen(buf);
    size_t len = strlen(buf);
    if (len + 3 > cap)
        return;
    memmove(buf + at + 2, buf + at, len - at + 1);
    memcpy(buf + at, ".0", 2);
}

lm_status lm_yemit_double(lm_yemit *e, double value)
{
    /* The readers take decimal numbers only (core/util.h), so a file never
     * holds what it could not read back. */
    if (!isfinite(value))
        return lm_err(LM_ERR_VALUE, "cannot write the number %g: files hold "
                      "finite numbers only", value);
    char buf[48];
    format_double(buf, sizeof buf, value);
    return emit_scalar(e, buf, YAML_PLAIN_SCALAR_STYLE);
}

lm_status lm_yemit_bool(lm_yemit *e, int value)
{
    return emit_scalar(e, value ? "true" : "false", YAML_PLAIN_SCALAR_STYLE);
}

lm_status lm_yemit_null(lm_yemit *e)
{
    return emit_scalar(e, "null", YAML_PLAIN_SCALAR_STYLE);
}

/* Every writer emits mostly "key: scalar" pairs; one call each keeps the
 * writers' record functions to a line per field. */
lm_status lm_yemit_kv_str(lm_yemit *e, const char *key, const char *value)
{
    lm_status st = lm_yemit_key(e, key);
    return st == LM_OK ? lm_yemit_str(e, value) : st;
}

lm_status lm_yemit_kv_int(lm_yemit *e, const char *key, int64_t value)
{
    lm_status st = lm_yemit_key(e, key);
    return st == LM_OK ? lm_yemit_int(e, value) : st;
}

lm_status lm_yemit_kv_double(lm_yemit *e, const char *key, double value)
{
    lm_status st = lm_yemit_key(e, key);
    return st == LM_OK ? lm_yemit_double(e, value) : st;
}

lm_status lm_yemit_kv_bool(lm_yemit *e, const char *key, int value)
{
    lm_status st = lm_yemit_key(e, key);
    return st == LM_OK ? lm_yemit_bool(e, value) : st;
}

lm_status lm_yemit_kv_seq(lm_yemit *e, const char *key, int flow, size_t n,
                          lm_yemit_item_fn item, const void *obj)
{
    lm_status st = lm_yemit_key(e, key);
    if (st == LM_OK)
        st = lm_yemit_seq_begin(e, flow);
    for (size_t i = 0; i < n && st == LM_OK; i++)
        st = item(e, obj, i);
    return st == LM_OK ? lm_yemit_seq_end(e) : st;
}

lm_status lm_yemit_kv_sizes(lm_yemit *e, const char *key, const size_t *v,
                            size_t n)
{
    lm_status st = lm_yemit_key(e, key);
    if (st == LM_OK)
        st = lm_yemit_seq_begin(e, 1);
    for (size_t i = 0; i < n && st == LM_OK; i++)
        st = lm_yemit_int(e, (int64_t)v[i]);
    return st == LM_OK ? lm_yemit_seq_end(e) : st;
}
