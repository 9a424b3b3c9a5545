/* Building and streaming an ONNX model with protobuf-c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "export/onnx_build.h"
#include "layermerge/version.h"

void lm_onnx_builder_init(lm_onnx_builder *b)
{
    memset(b, 0, sizeof *b);
}

static void list_free(lm_onnx_list *l)
{
    free(l->items);
    l->items = NULL;
    l->n = l->cap = 0;
}

void lm_onnx_builder_free(lm_onnx_builder *b)
{
    for (size_t i = 0; i < b->owned.n; i++)
        free(b->owned.items[i]);
    list_free(&b->owned);
    list_free(&b->nodes);
    list_free(&b->initializers);
    list_free(&b->inputs);
    list_free(&b->outputs);
    list_free(&b->metadata);
}

static int fail_nomem(lm_onnx_builder *b)
{
    if (b->status == LM_OK)
        b->status = lm_err_nomem();
    return 0;
}

static int list_push(lm_onnx_builder *b, lm_onnx_list *l, void *item)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        void **items = realloc(l->items, cap * sizeof *items);
        if (!items)
            return fail_nomem(b);
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = item;
    return 1;
}

void *lm_onnx_alloc(lm_onnx_builder *b, size_t n, size_t size)
{
    if (b->status != LM_OK)
        return NULL;
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fail_nomem(b);
        return NULL;
    }
    if (!list_push(b, &b->owned, p)) {
        free(p);
        return NULL;
    }
    return p;
}

int lm_onnx_adopt(lm_onnx_builder *b, void *p)
{
    if (b->status == LM_OK && list_push(b, &b->owned, p))
        return 1;
    free(p);
    return 0;
}

char *lm_onnx_strdup(lm_onnx_builder *b, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = lm_onnx_alloc(b, n, 1);
    if (d)
        memcpy(d, s, n);
    return d;
}

const char *lm_onnx_name(lm_onnx_builder *b, const char *stem)
{
    char buf[320];
    snprintf(buf, sizeof buf, "%s_%zu", stem, ++b->serial);
    return lm_onnx_strdup(b, buf);
}

static Onnx__AttributeProto *attribute(lm_onnx_builder *b,
                                       const lm_onnx_attr *a)
{
    Onnx__AttributeProto *p = lm_onnx_alloc(b, 1, sizeof *p);
    if (!p)
        return NULL;
    onnx__attribute_proto__init(p);
    p->name = lm_onnx_strdup(b, a->name);
    p->has_type = 1;
    if (a->s) {
        p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
        p->has_s = 1;
        p->s.data = (uint8_t *)lm_onnx_strdup(b, a->s);
        p->s.len = p->s.data ? strlen(a->s) : 0;
    } else if (a->is_float) {
        p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
        p->has_f = 1;
        p->f = a->f;
    } else if (a->n_ints == 0) {
        p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        p->has_i = 1;
        p->i = a->i;
    } else {
        p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        p->ints = lm_onnx_alloc(b, a->n_ints, sizeof *p->ints);
        if (p->ints) {
            memcpy(p->ints, a->ints, a->n_ints * sizeof *p->ints);
            p->n_ints = a->n_ints;
        }
    }
    return p;
}

const char *lm_onnx_node(lm_onnx_builder *b, const char *op,
                         const char *node_name, const char *const *in,
                         size_t n_in, const char *out,
                         const lm_onnx_attr *attrs, size_t n_attrs)
{
    Onnx__NodeProto *n = lm_onnx_alloc(b, 1, sizeof *n);
    char **inputs = lm_onnx_alloc(b, n_in, sizeof *inputs);
    char **outputs = lm_onnx_alloc(b, 1, sizeof *outputs);
    Onnx__AttributeProto **at = lm_onnx_alloc(b, n_attrs, sizeof *at);
    if (!n || !inputs || !outputs || !at)
        return NULL;
    onnx__node_proto__init(n);
    for (size_t i = 0; i < n_in; i++)
        inputs[i] = lm_onnx_strdup(b, in[i] ? in[i] : "");
    outputs[0] = out ? lm_onnx_strdup(b, out) : (char *)lm_onnx_name(b, op);
    for (size_t i = 0; i < n_attrs; i++)
        at[i] = attribute(b, &attrs[i]);
    n->op_type = lm_onnx_strdup(b, op);
    n->name = node_name ? (char *)lm_onnx_name(b, node_name)
                        : (char *)lm_onnx_name(b, op);
    n->input = inputs;
    n->n_input = n_in;
    n->output = outputs;
    n->n_output = 1;
    n->attribute = at;
    n->n_attribute = n_attrs;
    if (b->status != LM_OK || !list_push(b, &b->nodes, n))
        return NULL;
    return outputs[0];
}

static const char *add_tensor(lm_onnx_builder *b, const char *name,
                              const int64_t *dims, size_t n_dims,
                              int32_t type, const void *data, size_t bytes,
                              int copy)
{
    Onnx__TensorProto *t = lm_onnx_alloc(b, 1, sizeof *t);
    int64_t *d = lm_onnx_alloc(b, n_dims, sizeof *d);
    void *raw = copy ? lm_onnx_alloc(b, bytes, 1) : (void *)data;
    if (!t || !d || !raw)
        return NULL;
    onnx__tensor_proto__init(t);
    if (n_dims) /* a scalar has no dims (and dims may be NULL) */
        memcpy(d, dims, n_dims * sizeof *d);
    if (copy)
        memcpy(raw, data, bytes);
    t->name = lm_onnx_strdup(b, name);
    t->dims = d;
    t->n_dims = n_dims;
    t->has_data_type = 1;
    t->data_type = type;
    /* raw_data is little-endian by the ONNX spec, as on every host the
     * library builds for (meson.build refuses big-endian hosts). */
    t->has_raw_data = 1;
    t->raw_data.data = raw;
    t->raw_data.len = bytes;
    if (b->status != LM_OK || !list_push(b, &b->initializers, t))
        return NULL;
    return t->name;
}

const char *lm_onnx_float_tensor(lm_onnx_builder *b, const char *name,
                                 const int64_t *dims, size_t n_dims,
                                 const float *data, int copy)
{
    size_t n = 1;
    for (size_t i = 0; i < n_dims; i++)
        n *= (size_t)dims[i];
    return add_tensor(b, name, dims, n_dims, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT,
                      data, n * sizeof(float), copy);
}

const char *lm_onnx_int64_tensor(lm_onnx_builder *b, const char *name,
                                 const int64_t *values, size_t n)
{
    int64_t dims[1] = {(int64_t)n};
    return add_tensor(b, name, dims, 1, ONNX__TENSOR_PROTO__DATA_TYPE__INT64,
                      values, n * sizeof *values, 1);
}

void lm_onnx_graph_value(lm_onnx_builder *b, int is_input, const char *name,
                         const int64_t *dims, size_t n_dims)
{
    Onnx__ValueInfoProto *v = lm_onnx_alloc(b, 1, sizeof *v);
    Onnx__TypeProto *type = lm_onnx_alloc(b, 1, sizeof *type);
    Onnx__TypeProto__Tensor *tt = lm_onnx_alloc(b, 1, sizeof *tt);
    Onnx__TensorShapeProto *shape = lm_onnx_alloc(b, 1, sizeof *shape);
    Onnx__TensorShapeProto__Dimension **dim = lm_onnx_alloc(b, n_dims, sizeof *dim);
    if (!v || !type || !tt || !shape || !dim)
        return;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(type);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(shape);
    for (size_t i = 0; i < n_dims; i++) {
        Onnx__TensorShapeProto__Dimension *d = lm_onnx_alloc(b, 1, sizeof *d);
        if (!d)
            return;
        onnx__tensor_shape_proto__dimension__init(d);
        if (dims[i] < 0) {
            d->value_case =
                ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = lm_onnx_strdup(b, "batch");
        } else {
            d->value_case =
                ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[i];
        }
        dim[i] = d;
    }
    shape->dim = dim;
    shape->n_dim = n_dims;
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = shape;
    type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type->tensor_type = tt;
    v->name = lm_onnx_strdup(b, name);
    v->type = type;
    if (b->status == LM_OK)
        list_push(b, is_input ? &b->inputs : &b->outputs, v);
}

void lm_onnx_metadata(lm_onnx_builder *b, const char *key, const char *value)
{
    Onnx__StringStringEntryProto *e = lm_onnx_alloc(b, 1, sizeof *e);
    if (!e)
        return;
    onnx__string_string_entry_proto__init(e);
    e->key = lm_onnx_strdup(b, key);
    e->value = lm_onnx_strdup(b, value);
    if (b->status == LM_OK)
        list_push(b, &b->metadata, e);
}

/* A ProtobufCBuffer whose appends go to the caller's stream; the first
 * failure is kept and later appends are dropped. */
typedef struct stream_buffer {
    ProtobufCBuffer base;
    lm_write_fn write;
    void *userdata;
    int failed;
    uint64_t bytes;
} stream_buffer;

static void stream_append(ProtobufCBuffer *buffer, size_t len,
                          const uint8_t *data)
{
    stream_buffer *s = (stream_buffer *)buffer;
    if (s->failed || len == 0)
        return;
    if (s->write(data, len, s->userdata) != 0)
        s->failed = 1;
    s->bytes += len;
}

lm_status lm_onnx_write(lm_onnx_builder *b, const char *graph_name,
                        const char *doc, int64_t opset, lm_write_fn write,
                        void *userdata)
{
    Onnx__GraphProto *g = lm_onnx_alloc(b, 1, sizeof *g);
    Onnx__ModelProto *m = lm_onnx_alloc(b, 1, sizeof *m);
    Onnx__OperatorSetIdProto *set = lm_onnx_alloc(b, 1, sizeof *set);
    Onnx__OperatorSetIdProto **sets = lm_onnx_alloc(b, 1, sizeof *sets);
    if (b->status != LM_OK)
        return b->status;
    onnx__graph_proto__init(g);
    onnx__model_proto__init(m);
    onnx__operator_set_id_proto__init(set);
    g->name = lm_onnx_strdup(b, graph_name);
    g->node = (Onnx__NodeProto **)b->nodes.items;
    g->n_node = b->nodes.n;
    g->initializer = (Onnx__TensorProto **)b->initializers.items;
    g->n_initializer = b->initializers.n;
    g->input = (Onnx__ValueInfoProto **)b->inputs.items;
    g->n_input = b->inputs.n;
    g->output = (Onnx__ValueInfoProto **)b->outputs.items;
    g->n_output = b->outputs.n;
    set->domain = lm_onnx_strdup(b, "");
    set->has_version = 1;
    set->version = opset;
    sets[0] = set;
    m->has_ir_version = 1;
    m->ir_version = 8; /* ONNX 1.12, opsets up to 17 */
    m->opset_import = sets;
    m->n_opset_import = 1;
    m->producer_name = lm_onnx_strdup(b, "liblayermerge");
    m->producer_version = lm_onnx_strdup(b, LM_VERSION_STRING);
    m->doc_string = lm_onnx_strdup(b, doc);
    m->graph = g;
    m->metadata_props = (Onnx__StringStringEntryProto **)b->metadata.items;
    m->n_metadata_props = b->metadata.n;
    if (b->status != LM_OK)
        return b->status;
    /* Protobuf cannot carry a message of 2 GiB or more. */
    size_t size = onnx__model_proto__get_packed_size(m);
    if (size >= ((size_t)1 << 31) - 1)
        return lm_err(LM_ERR_UNSUPPORTED, "the ONNX model would take %zu "
                      "bytes; protobuf messages end at 2 GiB", size);
    stream_buffer s = {.base = {.append = stream_append}, .write = write,
                       .userdata = userdata};
    onnx__model_proto__pack_to_buffer(m, &s.base);
    if (s.failed)
        return lm_err(LM_ERR_IO, "writing the ONNX model failed after %llu "
                      "bytes", (unsigned long long)s.bytes);
    return LM_OK;
}
