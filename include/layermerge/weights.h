/* liblayermerge — the weights store: named tensors read from and written
 * to safetensors files (docs/weights.md).
 *
 * A store maps tensor names ("layer1.0.conv1.weight", PyTorch state_dict
 * names) to tensors with a shape and float data, plus string metadata.
 * Tensors of dtype F32, F64, F16 and BF16 are converted to F32 on load;
 * other dtypes (BOOL, integers, F8; e.g. batch norm's num_batches_tracked
 * counter) are kept as raw bytes and written back unchanged. Tensors are
 * kept sorted by name (byte order): lm_weights_tensor_info(&info, w, i)
 * lists them in that order, and an index changes when a tensor is added.
 *
 * Threads: calls on a const lm_weights * may run concurrently on one store;
 * a call that changes it needs exclusive access.
 */
#ifndef LAYERMERGE_WEIGHTS_H
#define LAYERMERGE_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "layermerge/api.h"
#include "layermerge/graph.h"
#include "layermerge/status.h"

LM_BEGIN_DECLS

/** Opaque tensor store. @since 0.2 */
typedef struct lm_weights lm_weights;

/* ---- life cycle ------------------------------------------------------- */

/** Create an empty store.
 * @param[out] out  the new store, owned by the caller (lm_weights_destroy)
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL out), LM_ERR_NOMEM
 * @since 0.2 */
LM_API lm_status lm_weights_create(lm_weights **out);

/** Free a store; NULL is ignored. @since 0.2 */
LM_API void lm_weights_destroy(lm_weights *weights);

/** Read a safetensors file. Every header check of the format is made
 * before data is read: header length within the file, dtype known, shape
 * non-negative, byte size = elements x dtype size, byte ranges inside the
 * data buffer, no overlaps, no holes, no duplicate names.
 * @param[out] out  the new store, owned by the caller
 * @param path      file to read
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL argument), LM_ERR_IO (cannot
 *         open or read), LM_ERR_PARSE (malformed or inconsistent file; the
 *         message names the file and the tensor), LM_ERR_NOMEM
 * @since 0.2 */
LM_API lm_status lm_weights_load(lm_weights **out, const char *path);

/** Write a safetensors file atomically (temporary file, then rename; `path`
 * is never left half-written). The header is deterministic: "__metadata__"
 * first (sorted by key, omitted when empty), then tensors sorted by name
 * with contiguous offsets, compact JSON padded with spaces to a multiple
 * of 8 bytes. Float tensors are written as F32.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL argument), LM_ERR_IO, LM_ERR_NOMEM
 * @since 0.2 */
LM_API lm_status lm_weights_save(const lm_weights *weights, const char *path);

/* ---- tensors ---------------------------------------------------------- */

/** Number of tensors (0 for NULL). @since 0.2 */
LM_API size_t lm_weights_tensor_count(const lm_weights *weights);

/** Size-versioned record of a tensor. Set `size = sizeof(lm_tensor_info)`
 * before the call; the library writes only within `size`. Pointers are
 * borrowed from the store: valid until it changes or is destroyed.
 * @since 0.2 */
typedef struct lm_tensor_info {
    size_t size;
    const char *name;
    /** As the format names it: "F32" for every float tensor (converted on
     * load), else the file's ("I64", ...). Static string. */
    const char *dtype;
    size_t ndim;
    const int64_t *shape;  /**< ndim dimensions; NULL for rank 0 */
    size_t numel;          /**< product of the shape (1 for rank 0) */
} lm_tensor_info;

/** Describe tensor `index` (name order).
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, out of range, size too small)
 * @since 0.2 */
LM_API lm_status lm_weights_tensor_info(lm_tensor_info *info,
                                        const lm_weights *weights,
                                        size_t index);

/** Find a tensor by name.
 * @param[out] index  its position in name order (may be NULL to test
 *                    existence)
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL store or name), LM_ERR_NOT_FOUND
 *         (message names the tensor)
 * @since 0.2 */
LM_API lm_status lm_weights_find(size_t *index, const lm_weights *weights,
                                 const char *name);

/** Shape of a tensor. Writes up to `cap` dimensions to `dims` and the rank
 * to `*ndim`; pass dims = NULL, cap = 0 to ask the rank only.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL store, name or ndim; dims given
 *         but cap smaller than the rank, *ndim still set), LM_ERR_NOT_FOUND
 * @since 0.2 */
LM_API lm_status lm_weights_shape(size_t *ndim, int64_t *dims, size_t cap,
                                  const lm_weights *weights, const char *name);

/** Number of elements of a tensor (1 for a scalar of rank 0).
 * @return LM_OK, LM_ERR_INVALID_ARG, LM_ERR_NOT_FOUND @since 0.2 */
LM_API lm_status lm_weights_numel(size_t *numel, const lm_weights *weights,
                                  const char *name);

/** Copy a float tensor's values into `dst`, which holds `n` floats.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL argument), LM_ERR_NOT_FOUND,
 *         LM_ERR_MISMATCH (`n` differs from the element count; message gives
 *         both), LM_ERR_UNSUPPORTED (a non-float dtype)
 * @since 0.2 */
LM_API lm_status lm_weights_get_f32(float *dst, size_t n,
                                    const lm_weights *weights,
                                    const char *name);

/** Borrow a float tensor's values: `*data` points into the store (64-byte
 * aligned) and stays valid until the tensor is replaced or the store is
 * destroyed; `*n` (may be NULL) is the element count.
 * @return as lm_weights_get_f32, without LM_ERR_MISMATCH @since 0.2 */
LM_API lm_status lm_weights_data_f32(const float **data, size_t *n,
                                     const lm_weights *weights,
                                     const char *name);

/** Add or replace a tensor with a copy of `data` (product of `shape`
 * elements; `data` may be NULL only when that product is 0). The name must
 * be non-empty UTF-8 of at most 1000 bytes once JSON-escaped, and not
 * "__metadata__". Replacing invalidates pointers from lm_weights_data_f32
 * for that tensor; adding shifts the indices of later names.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL argument, bad name, negative
 *         dimension, too many elements), LM_ERR_NOMEM
 * @since 0.2 */
LM_API lm_status lm_weights_set_f32(lm_weights *weights, const char *name,
                                    const int64_t *shape, size_t ndim,
                                    const float *data);

/* ---- metadata (the file's "__metadata__" string map) ------------------ */

/** Number of metadata entries (0 for NULL). @since 0.2 */
LM_API size_t lm_weights_meta_count(const lm_weights *weights);

/** Key of entry `index` (sorted by key); NULL when out of range. Borrowed
 * from the store until it changes. @since 0.2 */
LM_API const char *lm_weights_meta_key(const lm_weights *weights,
                                       size_t index);

/** Look up a metadata value; `*value` is borrowed from the store until it
 * changes. @return LM_OK, LM_ERR_INVALID_ARG, LM_ERR_NOT_FOUND @since 0.2 */
LM_API lm_status lm_weights_meta_get(const char **value,
                                     const lm_weights *weights,
                                     const char *key);

/** Set (copy) a metadata entry, replacing any value for `key`. Key and
 * value must be valid UTF-8; the key at most 1000 bytes once escaped.
 * @return LM_OK, LM_ERR_INVALID_ARG, LM_ERR_NOMEM @since 0.2 */
LM_API lm_status lm_weights_meta_set(lm_weights *weights, const char *key,
                                     const char *value);

/* ---- graph tie-in ----------------------------------------------------- */

/** Check that the store holds every tensor a validated graph needs, as F32
 * with the PyTorch shape: a conv `name.weight` [out, in/groups, k, k] and
 * `name.bias` [out] when it has a bias; a batch norm `name.weight`,
 * `.bias`, `.running_mean`, `.running_var` [C]; a linear `name.weight`
 * [out, in] and `name.bias` [out]. Covered: trunk convs and their batch
 * norms, skip projections and theirs, fixed conv, batchnorm and linear
 * layers of stem, positions and head. Extra tensors are ignored.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL argument), LM_ERR_STATE (graph
 *         not validated), LM_ERR_NOT_FOUND (a tensor is missing, or a layer
 *         that needs tensors has no name; the message names the conv, skip
 *         or layer and the tensor), LM_ERR_MISMATCH (wrong shape or a
 *         non-float dtype; the message gives expected and found shapes)
 * @since 0.2 */
LM_API lm_status lm_weights_check_graph(const lm_weights *weights,
                                        const lm_graph *graph);

/** For examples and tests: add (or replace) every tensor the graph needs
 * (as checked by lm_weights_check_graph) with deterministic pseudo-random
 * values. Each tensor's values depend only on `seed` and its name: conv
 * and linear weights U(-b, b) with b = sqrt(6 / fan_in) (Kaiming uniform),
 * biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)), batch norm weight U(0.5, 1.5),
 * bias U(-0.1, 0.1), running_mean U(-0.1, 0.1), running_var U(0.5, 1.5).
 * Not a training initialisation.
 * @return LM_OK, LM_ERR_INVALID_ARG, LM_ERR_STATE (graph not validated),
 *         LM_ERR_NOT_FOUND (a layer that needs tensors has no name),
 *         LM_ERR_NOMEM
 * @since 0.2 */
LM_API lm_status lm_weights_init_random(lm_weights *weights,
                                        const lm_graph *graph, uint64_t seed);

LM_END_DECLS

#endif /* LAYERMERGE_WEIGHTS_H */
