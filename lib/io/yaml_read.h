/* Private: reading a YAML document into a small tree of nodes that
 * remember their line and column, so that every reader can name the place
 * at fault. Built from libyaml's event parser; no libyaml type leaks out
 * of lib/io. */
#ifndef LM_IO_YAML_READ_H
#define LM_IO_YAML_READ_H

#include <stddef.h>
#include <stdint.h>

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
                  const char *fmt, ...) LM_PRINTF(4, 5);

/* 1 when the plain (unquoted) scalar `s` reads as a bool or null in YAML
 * 1.1 — true/yes/on, false/no/off in three cases, ~ and null, or empty —
 * so that the emitter quotes such strings. */
int lm_yplain_is_bool_or_null(const char *s);

#endif
