/* Reading YAML into a small node tree that remembers line and column.
 * Built over libyaml's event parser so that every node carries its mark;
 * the typed getters below are where every reader's messages come from.
 * The emitter is yaml_emit.c. */
#include "io/yaml_read.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/error.h"
#include "core/limits.h"
#include "core/util.h"
#include "io/read_file.h"

/* A container being filled: libyaml reports its children one event at a
 * time, so the capacity of `items` lives here until the container closes. */
typedef struct ybuild_frame {
    lm_ynode *node;
    size_t len; /* items stored (2 per mapping pair) */
    size_t cap;
} ybuild_frame;

typedef struct ybuild {
    const char *source;
    ybuild_frame *stack;
    size_t depth;
    size_t cap;
    lm_ynode *root;
} ybuild;

static void ynode_free(lm_ynode *n)
{
    if (!n)
        return;
    size_t len = n->kind == LM_YNODE_MAPPING ? 2 * n->count : n->count;
    for (size_t i = 0; i < len; i++)
        ynode_free(n->items[i]);
    free(n->items);
    free(n->scalar);
    free(n);
}

static lm_ynode *ynode_new(lm_ynode_kind kind, const yaml_mark_t *mark)
{
    lm_ynode *n = calloc(1, sizeof *n);
    if (n) {
        n->kind = kind;
        n->line = mark->line + 1;
        n->column = mark->column + 1;
    }
    return n;
}

/* Attach a finished node to the open container (or make it the root). */
static lm_status ybuild_attach(ybuild *b, lm_ynode *n)
{
    if (b->depth == 0) {
        b->root = n;
        return LM_OK;
    }
    ybuild_frame *f = &b->stack[b->depth - 1];
    lm_status st = LM_GROW(f->node->items, f->cap, f->len + 1);
    if (st != LM_OK) {
        ynode_free(n);
        return st;
    }
    f->node->items[f->len++] = n;
    f->node->count = f->node->kind == LM_YNODE_MAPPING ? f->len / 2 : f->len;
    return LM_OK;
}

/* A collection nested LM_YAML_MAX_DEPTH levels deep is refused as it
 * opens: nothing the library writes comes near, and stopping there keeps
 * libyaml (whose scanner does work proportional to the open flow levels
 * per token) and the recursive node tree bounded on hostile input. */
static lm_status ybuild_open(ybuild *b, lm_ynode_kind kind,
                             const yaml_mark_t *mark)
{
    if (b->depth >= LM_YAML_MAX_DEPTH)
        return lm_err(LM_ERR_PARSE, "%s:%zu:%zu: collections nested more "
                      "than %d levels deep", b->source, mark->line + 1,
                      mark->column + 1, LM_YAML_MAX_DEPTH);
    lm_status st = LM_GROW(b->stack, b->cap, b->depth + 1);
    if (st != LM_OK)
        return st;
    lm_ynode *n = ynode_new(kind, mark);
    if (!n)
        return lm_err_nomem();
    b->stack[b->depth++] = (ybuild_frame){n, 0, 0};
    return LM_OK;
}

static lm_status ybuild_close(ybuild *b)
{
    lm_ynode *n = b->stack[--b->depth].node;
    return ybuild_attach(b, n);
}

static lm_status ybuild_scalar(ybuild *b, const yaml_event_t *ev)
{
    lm_ynode *n = ynode_new(LM_YNODE_SCALAR, &ev->start_mark);
    if (!n)
        return lm_err_nomem();
    size_t len = ev->data.scalar.length;
    n->scalar = malloc(len + 1);
    if (!n->scalar) {
        free(n);
        return lm_err_nomem();
    }
    memcpy(n->scalar, ev->data.scalar.value, len);
    n->scalar[len] = '\0';
    if (strlen(n->scalar) != len) {
        size_t line = n->line, col = n->column;
        ynode_free(n);
        return lm_err(LM_ERR_PARSE, "%s:%zu:%zu: NUL character in a scalar",
                      b->source, line, col);
    }
    n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    return ybuild_attach(b, n);
}

static lm_status parser_error(const yaml_parser_t *p, const char *source)
{
    const char *problem = p->problem ? p->problem : "malformed YAML";
    if (p->error == YAML_MEMORY_ERROR)
        return lm_err_nomem();
    if (p->error == YAML_READER_ERROR)
        return lm_err(LM_ERR_PARSE, "%s: byte %zu: %s", source,
                      p->problem_offset, problem);
    /* libyaml often notices a problem a line after its cause (an unclosed
     * bracket): name where the enclosing construct started too. */
    if (p->context)
        return lm_err(LM_ERR_PARSE, "%s:%zu:%zu: %s (%s started at line %zu, "
                      "column %zu)", source, p->problem_mark.line + 1,
                      p->problem_mark.column + 1, problem, p->context,
                      p->context_mark.line + 1, p->context_mark.column + 1);
    return lm_err(LM_ERR_PARSE, "%s:%zu:%zu: %s", source,
                  p->problem_mark.line + 1, p->problem_mark.column + 1,
                  problem);
}

/* Add one parser event to the tree; *ndocs counts documents. */
static lm_status ybuild_event(ybuild *b, const yaml_event_t *ev, int *ndocs)
{
    size_t line = ev->start_mark.line + 1, col = ev->start_mark.column + 1;
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++*ndocs > 1)
            return lm_err(LM_ERR_PARSE, "%s:%zu:%zu: more than one document",
                          b->source, line, col);
        return LM_OK;
    case YAML_ALIAS_EVENT:
        return lm_err(LM_ERR_PARSE, "%s:%zu:%zu: aliases are not supported",
                      b->source, line, col);
    case YAML_SCALAR_EVENT:
        return ybuild_scalar(b, ev);
    case YAML_SEQUENCE_START_EVENT:
        return ybuild_open(b, LM_YNODE_SEQUENCE, &ev->start_mark);
    case YAML_MAPPING_START_EVENT:
        return ybuild_open(b, LM_YNODE_MAPPING, &ev->start_mark);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return ybuild_close(b);
    default:
        return LM_OK;
    }
}

static void ybuild_free(ybuild *b)
{
    /* An open mapping may hold a key without its value yet: free by the
     * frame's length, not by the node's pair count. */
    while (b->depth > 0) {
        ybuild_frame *f = &b->stack[--b->depth];
        for (size_t i = 0; i < f->len; i++)
            ynode_free(f->node->items[i]);
        f->node->count = 0;
        ynode_free(f->node);
    }
    free(b->stack);
    ynode_free(b->root);
}

static lm_status parse_events(ybuild *b, const char *text, size_t len)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return lm_err_nomem();
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    lm_status st = LM_OK;
    int ndocs = 0;
    for (int done = 0; !done && st == LM_OK;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            st = parser_error(&parser, b->source);
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        st = ybuild_event(b, &ev, &ndocs);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return st;
}

lm_status lm_ydoc_load_string(lm_ydoc *doc, const char *source_name,
                              const char *text, size_t len)
{
    if (!doc || (!text && len))
        return lm_err(LM_ERR_INVALID_ARG, "lm_ydoc_load_string: NULL argument");
    memset(doc, 0, sizeof *doc);
    doc->source = lm_strdup(source_name ? source_name : "<string>");
    if (!doc->source)
        return lm_err_nomem();
    ybuild b = {.source = doc->source};
    lm_status st = parse_events(&b, text ? text : "", len);
    if (st != LM_OK) {
        ybuild_free(&b);
        lm_ydoc_free(doc);
        return st;
    }
    free(b.stack);
    doc->root = b.root;
    return LM_OK;
}

lm_status lm_ydoc_load_file(lm_ydoc *doc, const char *path)
{
    if (!doc || !path)
        return lm_err(LM_ERR_INVALID_ARG, "lm_ydoc_load_file: NULL argument");
    memset(doc, 0, sizeof *doc);
    char *text = NULL;
    size_t len = 0;
    lm_status st = lm_read_file(path, &text, &len);
    if (st != LM_OK)
        return st;
    st = lm_ydoc_load_string(doc, path, text, len);
    free(text);
    return st;
}

void lm_ydoc_free(lm_ydoc *doc)
{
    if (!doc)
        return;
    ynode_free(doc->root);
    free(doc->source);
    doc->root = NULL;
    doc->source = NULL;
}

/* ---- typed access ------------------------------------------------------ */

static const char *src_of(const lm_ydoc *doc)
{
    return doc && doc->source ? doc->source : "<string>";
}

lm_status lm_yerr(const lm_ydoc *doc, const lm_ynode *node, lm_status status,
                  const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!node)
        return lm_err(status, "%s: %s", src_of(doc), msg);
    return lm_err(status, "%s:%zu:%zu: %s", src_of(doc), node->line,
                  node->column, msg);
}

static const char *kind_name(lm_ynode_kind kind)
{
    switch (kind) {
    case LM_YNODE_SCALAR: return "a scalar";
    case LM_YNODE_SEQUENCE: return "a sequence";
    case LM_YNODE_MAPPING: return "a mapping";
    }
    return "an unknown node";
}

lm_ynode *lm_ymap_get(const lm_ynode *map, const char *key)
{
    if (!map || map->kind != LM_YNODE_MAPPING || !key)
        return NULL;
    for (size_t i = 0; i < map->count; i++) {
        const lm_ynode *k = map->items[2 * i];
        if (k->kind == LM_YNODE_SCALAR && !strcmp(k->scalar, key))
            return map->items[2 * i + 1];
    }
    return NULL;
}

lm_status lm_yexpect(const lm_ydoc *doc, const lm_ynode *node,
                     lm_ynode_kind kind, const char *what)
{
    if (!node)
        return lm_yerr(doc, NULL, LM_ERR_PARSE, "missing %s", what);
    if (node->kind != kind)
        return lm_yerr(doc, node, LM_ERR_PARSE, "%s: expected %s, found %s",
                       what, kind_name(kind), kind_name(node->kind));
    return LM_OK;
}

/* YAML 1.1 null: an empty plain scalar, ~ or null. */
static int yis_null(const lm_ynode *node)
{
    if (!node || node->kind != LM_YNODE_SCALAR || node->quoted)
        return 0;
    const char *s = node->scalar;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") ||
           !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* A plain scalar for a number: quoted text is always a string. */
static lm_status expect_plain(const lm_ydoc *doc, const lm_ynode *node,
                              const char *what, const char *type)
{
    lm_status st = lm_yexpect(doc, node, LM_YNODE_SCALAR, what);
    if (st != LM_OK)
        return st;
    if (node->quoted || yis_null(node))
        return lm_yerr(doc, node, LM_ERR_PARSE, "%s: expected %s, found '%s'",
                       what, type, node->scalar);
    return LM_OK;
}

lm_status lm_yget_int(const lm_ydoc *doc, const lm_ynode *node,
                      const char *what, int64_t *out)
{
    lm_status st = expect_plain(doc, node, what, "an integer");
    if (st != LM_OK)
        return st;
    const char *s = node->scalar;
    const char *d = s + (*s == '-' || *s == '+');
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*d < '0' || *d > '9' || *end != '\0')
        return lm_yerr(doc, node, LM_ERR_PARSE,
                       "%s: expected an integer, found '%s'", what, s);
    if (errno == ERANGE)
        return lm_yerr(doc, node, LM_ERR_PARSE,
                       "%s: integer '%s' out of range", what, s);
    *out = (int64_t)v;
    return LM_OK;
}

lm_status lm_yget_double(const lm_ydoc *doc, const lm_ynode *node,
                         const char *what, double *out)
{
    lm_status st = expect_plain(doc, node, what, "a number");
    if (st != LM_OK)
        return st;
    /* The number syntax shared with the CSV reader (core/util.h): no hex
     * floats, no .inf or .nan, no trailing text. */
    const char *s = node->scalar;
    lm_number_syntax r = lm_number_parse(s, out);
    if (r == LM_NUMBER_RANGE)
        return lm_yerr(doc, node, LM_ERR_PARSE,
                       "%s: number '%s' out of range", what, s);
    if (r != LM_NUMBER_OK)
        return lm_yerr(doc, node, LM_ERR_PARSE,
                       "%s: expected a number, found '%s'", what, s);
    return LM_OK;
}

static int word_in(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (!strcmp(s, *words))
            return 1;
    return 0;
}

static const char *const true_words[] = {"true", "True", "TRUE", "yes", "Yes",
                                         "YES", "on", "On", "ON", NULL};
static const char *const false_words[] = {"false", "False", "FALSE", "no",
                                          "No", "NO", "off", "Off", "OFF",
                                          NULL};

int lm_yplain_is_bool_or_null(const char *s)
{
    static const char *const null_words[] = {"~", "null", "Null", "NULL",
                                             NULL};
    return !*s || word_in(s, true_words) || word_in(s, false_words) ||
           word_in(s, null_words);
}

lm_status lm_yget_bool(const lm_ydoc *doc, const lm_ynode *node,
                       const char *what, int *out)
{
    lm_status st = expect_plain(doc, node, what, "true or false");
    if (st != LM_OK)
        return st;
    if (word_in(node->scalar, true_words))
        *out = 1;
    else if (word_in(node->scalar, false_words))
        *out = 0;
    else
        return lm_yerr(doc, node, LM_ERR_PARSE,
                       "%s: expected true or false, found '%s'", what,
                       node->scalar);
    return LM_OK;
}

lm_status lm_yget_string(const lm_ydoc *doc, const lm_ynode *node,
                         const char *what, const char **out)
{
    lm_status st = lm_yexpect(doc, node, LM_YNODE_SCALAR, what);
    if (st != LM_OK)
        return st;
    if (yis_null(node))
        return lm_yerr(doc, node, LM_ERR_PARSE,
                       "%s: expected a string, found null", what);
    *out = node->scalar;
    return LM_OK;
}

lm_status lm_ycheck_keys(const lm_ydoc *doc, const lm_ynode *map,
                         const char *what, const char *const *allowed)
{
    lm_status st = lm_yexpect(doc, map, LM_YNODE_MAPPING, what);
    if (st != LM_OK)
        return st;
    for (size_t i = 0; i < map->count; i++) {
        const lm_ynode *k = map->items[2 * i];
        if (k->kind != LM_YNODE_SCALAR)
            return lm_yerr(doc, k, LM_ERR_PARSE,
                           "%s: keys must be scalars, found %s", what,
                           kind_name(k->kind));
        if (!word_in(k->scalar, allowed))
            return lm_yerr(doc, k, LM_ERR_PARSE, "unknown key '%s' in %s",
                           k->scalar, what);
        for (size_t j = 0; j < i; j++) {
            const lm_ynode *prev = map->items[2 * j];
            if (!strcmp(prev->scalar, k->scalar))
                return lm_yerr(doc, k, LM_ERR_PARSE,
                               "repeated key '%s' in %s", k->scalar, what);
        }
    }
    return LM_OK;
}
