/* Private: writing YAML — a thin emitter over a FILE (normally an
 * lm_atomic_file's fp), whole documents and atomic saves. */
#ifndef LM_IO_YAML_EMIT_H
#define LM_IO_YAML_EMIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/attr.h"
#include "layermerge/status.h"

/* The emitter produces block YAML with flow mappings for short records.
 * Strings are quoted when they would otherwise read back as another type.
 * Doubles are written with 17 significant digits so they read back
 * bit-identical. */
typedef struct lm_yemit lm_yemit;
LM_NODISCARD
lm_status lm_yemit_begin(lm_yemit **out, FILE *fp);
LM_NODISCARD
lm_status lm_yemit_end(lm_yemit *e); /* finishes the document and frees */
void lm_yemit_abort(lm_yemit *e);    /* frees without finishing */
LM_NODISCARD
lm_status lm_yemit_map_begin(lm_yemit *e, int flow);
LM_NODISCARD
lm_status lm_yemit_map_end(lm_yemit *e);
LM_NODISCARD
lm_status lm_yemit_seq_begin(lm_yemit *e, int flow);
LM_NODISCARD
lm_status lm_yemit_seq_end(lm_yemit *e);
LM_NODISCARD
lm_status lm_yemit_key(lm_yemit *e, const char *key);
LM_NODISCARD
lm_status lm_yemit_str(lm_yemit *e, const char *value);
LM_NODISCARD
lm_status lm_yemit_int(lm_yemit *e, int64_t value);
LM_NODISCARD
lm_status lm_yemit_double(lm_yemit *e, double value);
LM_NODISCARD
lm_status lm_yemit_bool(lm_yemit *e, int value);
LM_NODISCARD
lm_status lm_yemit_null(lm_yemit *e);
/* A key and its scalar value: lm_yemit_key then the typed emitter. */
LM_NODISCARD
lm_status lm_yemit_kv_str(lm_yemit *e, const char *key, const char *value);
LM_NODISCARD
lm_status lm_yemit_kv_int(lm_yemit *e, const char *key, int64_t value);
LM_NODISCARD
lm_status lm_yemit_kv_double(lm_yemit *e, const char *key, double value);
LM_NODISCARD
lm_status lm_yemit_kv_bool(lm_yemit *e, const char *key, int value);
/* A key and `n` counts or indices as a flow sequence of integers. */
LM_NODISCARD
lm_status lm_yemit_kv_sizes(lm_yemit *e, const char *key, const size_t *v,
                            size_t n);

/* Emits item `i` of the writer's object `obj`. */
typedef lm_status (*lm_yemit_item_fn)(lm_yemit *e, const void *obj, size_t i);
/* A key and a sequence (flow when `flow`) of `n` items, item i emitted by
 * item(e, obj, i): the writers' record lists. */
LM_NODISCARD
lm_status lm_yemit_kv_seq(lm_yemit *e, const char *key, int flow, size_t n,
                          lm_yemit_item_fn item, const void *obj);

/* Emits one document's content (normally its top-level mapping) for the
 * writer's object `obj`. */
typedef lm_status (*lm_yemit_body_fn)(lm_yemit *e, const void *obj);

/* One whole document on `fp` through `body`, then a flush and a check of
 * the stream: LM_ERR_IO "writing <what> YAML: <reason>" when `fp`
 * failed, or what `body` or the emitter returned. `fp` stays open. */
LM_NODISCARD
lm_status lm_yemit_write(FILE *fp, lm_yemit_body_fn body, const void *obj,
                         const char *what);

/* lm_yemit_write into an lm_atomic_file and commit it over `path`, so that
 * readers see the old file or the whole new one. Errors are prefixed
 * "saving <what> to <path>: " (writing) or "saving <what>: " (opening,
 * committing). */
LM_NODISCARD
lm_status lm_yemit_save(const char *path, lm_yemit_body_fn body,
                        const void *obj, const char *what);

#endif
