/* Private: a YAML document as a small tree of nodes that remember their
 * line and column, so that every reader can name the place at fault.
 * Built from libyaml's event parser; no libyaml type leaks out of lib/io. */
#ifndef LM_IO_YAML_DOC_H
#define LM_IO_YAML_DOC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/attr.h"
#include "layermerge/status.h"

typedef enum lm_ynode_kind {
    LM_YNODE_SCALAR = 1,
    LM_YNODE_SEQUENCE = 2,
    LM_YNODE_MAPPING = 3
} lm_ynode_kind;

typedef struct lm_ynode lm_ynode;
struct lm_ynode {
    lm_ynode_kind kind;
    size_t line;   /* 1-based */
    size_t column; /* 1-based */
    char *scalar;  /* LM_YNODE_SCALAR: the text (NUL-terminated) */
    int quoted;    /* scalar was quoted: never a number, bool or null */
    lm_ynode **items; /* SEQUENCE: the items; MAPPING: key0, val0, key1, ... */
    size_t count;     /* SEQUENCE: items; MAPPING: pairs */
};

typedef struct lm_ydoc {
    lm_ynode *root;   /* NULL for an empty document */
    char *source;     /* file name for messages, or "<string>" */
} lm_ydoc;

/* Parse a file / a buffer. Syntax errors: LM_ERR_PARSE with
 * "SOURCE:LINE:COL: message". Aliases are rejected (LM_ERR_PARSE). */
LM_NODISCARD
lm_status lm_ydoc_load_file(lm_ydoc *doc, const char *path);
LM_NODISCARD
lm_status lm_ydoc_load_string(lm_ydoc *doc, const char *source_name,
                              const char *text, size_t len);
void lm_ydoc_free(lm_ydoc *doc);

/* Typed access. Each failure returns LM_ERR_PARSE with a message
 * "SOURCE:LINE:COL: <what> ..." naming the field. */
lm_ynode *lm_ymap_get(const lm_ynode *map, const char *key);
LM_NODISCARD
lm_status lm_yexpect(const lm_ydoc *doc, const lm_ynode *node,
                     lm_ynode_kind kind, const char *what);
LM_NODISCARD
lm_status lm_yget_int(const lm_ydoc *doc, const lm_ynode *node,
                      const char *what, int64_t *out);
LM_NODISCARD
lm_status lm_yget_double(const lm_ydoc *doc, const lm_ynode *node,
                         const char *what, double *out);
LM_NODISCARD
lm_status lm_yget_bool(const lm_ydoc *doc, const lm_ynode *node,
                       const char *what, int *out);
/* Borrowed from the document. */
LM_NODISCARD
lm_status lm_yget_string(const lm_ydoc *doc, const lm_ynode *node,
                         const char *what, const char **out);
/* Reject any key of `map` not in the NULL-terminated `allowed` list:
 * "SOURCE:LINE:COL: unknown key 'x' in <what>". Also rejects repeated keys. */
LM_NODISCARD
lm_status lm_ycheck_keys(const lm_ydoc *doc, const lm_ynode *map,
                         const char *what, const char *const *allowed);
/* Format "SOURCE:LINE:COL: " + message for `node` and return `status`. */
lm_status lm_yerr(const lm_ydoc *doc, const lm_ynode *node, lm_status status,
                  const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Writing: a thin emitter over a FILE (normally an lm_atomic_file's fp)
 * producing block YAML with flow mappings for short records. Strings are
 * quoted when they would otherwise read back as another type. Doubles are
 * written with 17 significant digits so they read back bit-identical. */
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
