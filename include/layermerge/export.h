/* liblayermerge — leaving the library: a network as an ONNX model
 * (docs/export.md).
 *
 * Any graph the engine runs, original or merged, becomes an ONNX model
 * (IR version 8, default domain, opset 13 unless asked otherwise) with
 * static shapes: one input "input" [batch, C, H, W] float32 and one output
 * "output" ([batch, features] after a linear head, else [batch, C, H, W]).
 * Convs keep their groups, stride and padding; batch norms are folded into
 * the conv before them (or kept as BatchNormalization); skips are Add,
 * with their 1x1 projections; pools, flatten and linear layers are
 * MaxPool / AveragePool / GlobalAveragePool, Flatten and Gemm. The model
 * computes what lm_engine_run() computes, to float32 round-off.
 *
 * Threads: the calls only read graph and weights.
 */
#ifndef LAYERMERGE_EXPORT_H
#define LAYERMERGE_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "layermerge/api.h"
#include "layermerge/graph.h"
#include "layermerge/status.h"
#include "layermerge/weights.h"

LM_BEGIN_DECLS

/** Input record of the ONNX export; zero fields take the defaults. Set
 * `size = sizeof(lm_onnx_options)`. @since 0.2 */
typedef struct lm_onnx_options {
    size_t size;
    size_t batch;           /**< images of the input, 1..65536; 0 means 1 */
    int32_t dynamic_batch;  /**< 1: the batch axis is the symbol "batch" */
    int32_t keep_batchnorm; /**< 1: BatchNormalization nodes; 0: folded */
    int64_t opset;          /**< 13..17; 0 means 13 */
    /** 1: only the stem and positions 1..prefix_end, with that position's
     * tensor as the output and no head (to time parts of a network) */
    int32_t prefix;
    size_t prefix_end;      /**< 0..N; read when prefix is 1 */
} lm_onnx_options;

/** Write `graph` with `weights` as an ONNX model through `write`.
 * @param options  NULL means the defaults
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL graph, weights or write; a batch,
 *         opset or prefix_end out of range; a short options record), LM_ERR_STATE
 *         (graph not validated), LM_ERR_NOT_FOUND / LM_ERR_MISMATCH (a
 *         tensor the graph needs is missing or of another shape, as
 *         lm_weights_check_graph()), LM_ERR_VALUE (a batch norm that cannot
 *         be folded, naming it), LM_ERR_UNSUPPORTED (a model of 2 GiB or
 *         more, which protobuf cannot carry), LM_ERR_IO (the callback
 *         failed), LM_ERR_NOMEM
 * @since 0.2 */
LM_API lm_status lm_graph_write_onnx(const lm_graph *graph,
                                     const lm_weights *weights,
                                     const lm_onnx_options *options,
                                     lm_write_fn write, void *userdata);

/** lm_graph_write_onnx() to the file `path`, atomically (a temporary file
 * beside it renamed over it, so `path` is never half-written).
 * @return as lm_graph_write_onnx(); LM_ERR_IO naming the path @since 0.2 */
LM_API lm_status lm_graph_save_onnx(const lm_graph *graph,
                                    const lm_weights *weights,
                                    const lm_onnx_options *options,
                                    const char *path);

LM_END_DECLS

#endif /* LAYERMERGE_EXPORT_H */
