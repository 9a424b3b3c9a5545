/* Private: building an ONNX ModelProto with protobuf-c (the code protoc-c
 * generates at build time from the onnx.proto that Debian's libonnx-dev
 * installs). A builder owns every allocation of the model it grows, in one
 * list freed at the end, and keeps the first error: calls after a failure
 * do nothing, so the exporter reads as a straight sequence of nodes and
 * checks once. */
#ifndef LM_EXPORT_ONNX_BUILD_H
#define LM_EXPORT_ONNX_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "core/attr.h"
#include "layermerge/api.h"
#include "layermerge/status.h"
#include "onnx/onnx.pb-c.h"

typedef struct lm_onnx_list {
    void **items;
    size_t n, cap;
} lm_onnx_list;

typedef struct lm_onnx_builder {
    lm_status status;     /* the first failure; LM_OK while all went well */
    lm_onnx_list owned;   /* every block allocated for the model */
    lm_onnx_list nodes, initializers, inputs, outputs, metadata;
    size_t serial;        /* for unique value names */
} lm_onnx_builder;

/* An attribute given to lm_onnx_node: STRING when s is set, else INT
 * when n_ints == 0 and !is_float, FLOAT when is_float, INTS otherwise. */
typedef struct lm_onnx_attr {
    const char *name;
    int64_t i;
    float f;
    int is_float;
    const int64_t *ints;
    size_t n_ints;
    const char *s;
} lm_onnx_attr;

void lm_onnx_builder_init(lm_onnx_builder *b);
void lm_onnx_builder_free(lm_onnx_builder *b);

/* `n` zeroed items of `size` bytes owned by the builder (NULL on failure
 * or after an earlier one). */
void *lm_onnx_alloc(lm_onnx_builder *b, size_t n, size_t size);
/* Make the builder own `p` (from malloc): 1, or 0 after freeing it when it
 * cannot (the error is then set). */
int lm_onnx_adopt(lm_onnx_builder *b, void *p);
/* A copy of `s` owned by the builder (NULL on failure). */
char *lm_onnx_strdup(lm_onnx_builder *b, const char *s);
/* A fresh value name "<stem>_<serial>" owned by the builder. */
const char *lm_onnx_name(lm_onnx_builder *b, const char *stem);

/* Append node `op` reading `n_in` values and writing one output, named
 * `out` (NULL: a fresh name from `op`). Returns the output name. */
const char *lm_onnx_node(lm_onnx_builder *b, const char *op,
                         const char *node_name, const char *const *in,
                         size_t n_in, const char *out,
                         const lm_onnx_attr *attrs, size_t n_attrs);

/* A float initializer of shape `dims`; `data` must stay valid and
 * unchanged until the model is written (it is not copied) unless `copy`
 * is set. Returns its name. */
const char *lm_onnx_float_tensor(lm_onnx_builder *b, const char *name,
                                 const int64_t *dims, size_t n_dims,
                                 const float *data, int copy);
/* An int64 initializer (copied). */
const char *lm_onnx_int64_tensor(lm_onnx_builder *b, const char *name,
                                 const int64_t *values, size_t n);

/* A graph input or output of element type float and shape `dims`; a dim
 * < 0 is the symbolic dimension "batch". */
void lm_onnx_graph_value(lm_onnx_builder *b, int is_input, const char *name,
                         const int64_t *dims, size_t n_dims);

/* A model metadata entry (copied). */
void lm_onnx_metadata(lm_onnx_builder *b, const char *key,
                      const char *value);

/* Serialise the model (IR version 8, the default ONNX domain at `opset`)
 * through `write` without building the whole byte string in memory:
 * protobuf-c packs into a buffer whose appends go to the stream. */
LM_NODISCARD
lm_status lm_onnx_write(lm_onnx_builder *b, const char *graph_name,
                        const char *doc, int64_t opset, lm_write_fn write,
                        void *userdata);

#endif
