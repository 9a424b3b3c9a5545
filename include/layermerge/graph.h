/* liblayermerge — the network graph (docs/method.md section 2).
 *
 * A graph is a trunk of convolutions c_1 .. c_N between positions 0 .. N
 * (conv c_p reads position p-1 and writes position p), each optionally
 * followed by batch norm, the skips that add into it, and the activation of
 * position p. Layers before the trunk (the stem), after it (the head) and
 * fixed operations at a position (VGG's max-pools) are ordinary layers that
 * compression never changes.
 *
 * Numbering: trunk convs are 1-based (1 .. N), positions 0 .. N, skips and
 * layers 0-based in insertion order.
 *
 * A graph is built with the lm_graph_add_* / lm_graph_set_* calls or loaded
 * from YAML, then validated. lm_graph_validate() computes every feature-map
 * shape and the fingerprint; any later change clears that, and the calls
 * that need shapes return LM_ERR_STATE until the graph is validated again.
 *
 * Limits (docs/formats.md, "Limits"): every size a graph is given
 * (channels, height, width, kernel, stride, padding, features) is at most
 * 2^31 - 1, and every tensor (a weight, or one image's activation at any
 * layer) holds at most 2^40 elements. The building calls refuse a size or
 * a weight beyond them (LM_ERR_INVALID_ARG); lm_graph_validate() refuses a
 * computed shape beyond them (LM_ERR_VALIDATION), so a graph that
 * validates has no size whose arithmetic overflows.
 *
 * Threads: calls on a const lm_graph * (queries, save, the calls of other
 * headers that read a graph) may run concurrently on one graph; building,
 * validating and every other call that changes it need exclusive access.
 */
#ifndef LAYERMERGE_GRAPH_H
#define LAYERMERGE_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "layermerge/api.h"
#include "layermerge/status.h"

LM_BEGIN_DECLS

/** Opaque network graph. @since 0.2 */
typedef struct lm_graph lm_graph;

/** Activation kinds. Values are pinned; names in files are the lower-case
 * suffix ("identity", "relu", "relu6", "silu", "gelu", "hardswish",
 * "sigmoid", "tanh"). @since 0.2 */
typedef enum lm_act {
    LM_ACT_IDENTITY = 0,
    LM_ACT_RELU = 1,
    LM_ACT_RELU6 = 2,
    LM_ACT_SILU = 3,
    LM_ACT_GELU = 4,
    LM_ACT_HARDSWISH = 5,
    LM_ACT_SIGMOID = 6,
    LM_ACT_TANH = 7
} lm_act;

/** Kinds of fixed (never compressed) layers. Names in files: "conv",
 * "batchnorm", "act", "maxpool", "avgpool", "adaptive_avgpool", "flatten",
 * "linear", "groupnorm", "pad", "upsample", "attention". @since 0.2 */
typedef enum lm_layer_kind {
    LM_LAYER_CONV = 1,
    LM_LAYER_BATCHNORM = 2,
    LM_LAYER_ACT = 3,
    LM_LAYER_MAXPOOL = 4,
    LM_LAYER_AVGPOOL = 5,
    LM_LAYER_ADAPTIVE_AVGPOOL = 6,
    LM_LAYER_FLATTEN = 7,
    LM_LAYER_LINEAR = 8,
    LM_LAYER_GROUPNORM = 9,  /**< GroupNorm with affine weight and bias */
    LM_LAYER_PAD = 10,       /**< zero padding, each side on its own */
    LM_LAYER_UPSAMPLE = 11,  /**< nearest-neighbour, integer factor */
    LM_LAYER_ATTENTION = 12  /**< DDPM self-attention block (formats.md) */
} lm_layer_kind;

/** Where a fixed layer sits: before the trunk, after it, after the
 * activation of a trunk position, or in front of one trunk conv
 * (LM_SITE_PRE, `position` = the conv 1..N: layers that conv applies to
 * the tensor it reads, which skips from that position do not see; a
 * pre-activation block's norm and nonlinearity). @since 0.2 */
typedef enum lm_site {
    LM_SITE_STEM = 0,
    LM_SITE_HEAD = 1,
    LM_SITE_POSITION = 2,
    LM_SITE_PRE = 3
} lm_site;

/** Name of an activation kind ("relu"); NULL for an unknown value. @since 0.2 */
LM_API const char *lm_act_name(lm_act act);
/** Parse an activation name; LM_ERR_NOT_FOUND for an unknown name. @since 0.2 */
LM_API lm_status lm_act_from_name(lm_act *out, const char *name);
/** Name of a layer kind ("maxpool"); NULL for an unknown value. @since 0.2 */
LM_API const char *lm_layer_kind_name(lm_layer_kind kind);

/* ---- life cycle ------------------------------------------------------- */

/** Create an empty graph for inputs of `channels` x `height` x `width`.
 * @param[out] out  the new graph, owned by the caller (lm_graph_destroy)
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL out, non-positive size, a size
 *         or the element count beyond the limits), LM_ERR_NOMEM
 * @since 0.2 */
LM_API lm_status lm_graph_create(lm_graph **out, int64_t channels,
                                 int64_t height, int64_t width);

/** Free a graph; NULL is ignored. @since 0.2 */
LM_API void lm_graph_destroy(lm_graph *graph);

/** Deep copy, including the validated state. @since 0.2 */
LM_API lm_status lm_graph_clone(lm_graph **out, const lm_graph *graph);

/* ---- building --------------------------------------------------------- */

/** Set the graph's name (copied). @since 0.2 */
LM_API lm_status lm_graph_set_name(lm_graph *graph, const char *name);

/** Change the input shape (e.g. to time or calibrate a network at a
 * smaller resolution). Clears the validated state: call
 * lm_graph_validate() again, which fails when a layer no longer fits.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL graph, non-positive size, a
 *         size or the element count beyond the limits)
 * @since 0.2 */
LM_API lm_status lm_graph_set_input_shape(lm_graph *graph, int64_t channels,
                                          int64_t height, int64_t width);

/** Set the network's nonlinearity: the activation inserted at a segment's
 * end when that position was originally identity (docs/method.md section 6). Defaults to
 * the first non-identity trunk activation. @since 0.2 */
LM_API lm_status lm_graph_set_nonlinearity(lm_graph *graph, lm_act act);

/** Size-versioned description of a convolution to add (an input record).
 * Set `size = sizeof(lm_conv_desc)`; fields past the caller's `size` take
 * their defaults, so a program built against an older, shorter record
 * keeps working. `name` is the PyTorch module name ("layer1.0.conv1"):
 * its tensors are name.weight and name.bias; NULL means unnamed. Copied by
 * the call that takes it. Names are unique within a graph: every call
 * that names a module (conv, batch norm, projection, fixed layer) refuses
 * a name another module has with LM_ERR_DUPLICATE naming both, and leaves
 * the graph as it was. @since 0.2 */
typedef struct lm_conv_desc {
    size_t size;
    const char *name;
    int64_t in_channels;
    int64_t out_channels;
    int64_t kernel;   /**< square, odd */
    int64_t stride;   /**< >= 1 */
    int64_t padding;  /**< >= 0, on every side */
    int64_t groups;   /**< 1 (dense) or the channel count (depthwise) */
    int32_t has_bias; /**< 0 or 1 */
} lm_conv_desc;

/** Append trunk conv c_{N+1} and its position N+1 (activation `act`).
 * Groupings other than dense and depthwise are LM_ERR_UNSUPPORTED.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, a record whose size is too
 *         small, non-positive sizes, even kernel, negative padding, a
 *         size above 2^31 - 1 or a weight above 2^40 elements, naming the
 *         conv and the value), LM_ERR_DUPLICATE (the name is taken),
 *         LM_ERR_UNSUPPORTED, LM_ERR_NOMEM
 * @since 0.2 */
LM_API lm_status lm_graph_add_conv(lm_graph *graph, const lm_conv_desc *conv,
                                   lm_act act);

/** Give trunk conv `conv` (1..N) a batch norm with its own eps; `name` is
 * the module name of its tensors (name.weight, .bias, .running_mean,
 * .running_var); LM_ERR_DUPLICATE when another module has that name.
 * @since 0.2 */
LM_API lm_status lm_graph_set_conv_bn(lm_graph *graph, size_t conv,
                                      const char *name, double eps);

/** Set the activation of position `position` (1..N). @since 0.2 */
LM_API lm_status lm_graph_set_activation(lm_graph *graph, size_t position,
                                         lm_act act);

/** Add skip (source, target), source < target <= N: the tensor at
 * `source` is added to the output of c_target before its activation.
 * A source may feed several targets. @since 0.2 */
LM_API lm_status lm_graph_add_skip(lm_graph *graph, size_t source,
                                   size_t target);

/** Give skip `skip` (0-based) a 1x1 projection conv with `stride` (no
 * padding); its channels follow from the positions it joins and are
 * reported by lm_graph_skip_info() once the graph is validated. @since 0.2 */
LM_API lm_status lm_graph_set_skip_projection(lm_graph *graph, size_t skip,
                                              const char *name, int64_t stride,
                                              int has_bias);

/** Give skip `skip`'s projection a batch norm. LM_ERR_STATE when the skip
 * has no projection. @since 0.2 */
LM_API lm_status lm_graph_set_skip_bn(lm_graph *graph, size_t skip,
                                      const char *name, double eps);

/** Mark or unmark `position` (0..N) as a barrier: no segment passes through
 * it. @since 0.2 */
LM_API lm_status lm_graph_set_barrier(lm_graph *graph, size_t position,
                                      int is_barrier);

/** Allow or forbid the identity option at `position` (1..N): a segment
 * ending there may be replaced by identity. @since 0.2 */
LM_API lm_status lm_graph_set_identity_option(lm_graph *graph,
                                              size_t position, int allowed);

/** Give trunk conv `conv` (1..N) a GroupNorm of its output that belongs
 * to position `conv`'s activation: applied after the conv, its time
 * projection and the skips into it, before the activation, and removed
 * together with the activation when a plan removes it (a U-Net ResNet
 * block's switchable norm + SiLU). `groups` must divide the conv's output
 * channels; exclusive with a batch norm. @since 0.2 */
LM_API lm_status lm_graph_set_conv_groupnorm(lm_graph *graph, size_t conv,
                                             const char *name, int64_t groups,
                                             double eps);

/** Give trunk conv `conv` (1..N) a time projection: Linear(time embedding
 * channels -> out_channels)(silu(temb)), tensors name.weight and
 * name.bias, added per channel after the conv's bias. Needs a time
 * embedding (lm_graph_set_time_embedding) by validation. @since 0.2 */
LM_API lm_status lm_graph_set_conv_time_projection(lm_graph *graph,
                                                   size_t conv,
                                                   const char *name);

/** Make the network take a timestep per image besides its input: temb =
 * dense1(silu(dense0(sinusoid(t)))), sinusoid of `dim` (even, >= 4) values in
 * the DDPM form (docs/formats.md), dense0 `dim` -> `channels` and dense1
 * `channels` -> `channels`, both with bias, module names `dense0` and
 * `dense1`. @since 0.2 */
LM_API lm_status lm_graph_set_time_embedding(lm_graph *graph, int64_t dim,
                                             int64_t channels,
                                             const char *dense0,
                                             const char *dense1);

/** Add a concatenation skip (source, target), source < target <= N: every
 * reader of position `target` (the next conv and the skips from it) sees
 * the tensor at `target` (after its activation and fixed layers) followed
 * by the tensor at `source` along channels; several concatenations into one
 * position are appended in the order added. Both positions must be
 * barriers (validation). It is a skip: counted by lm_graph_skip_count(),
 * described by lm_graph_skip_info() with is_concat = 1, never projected.
 * @since 0.2 */
LM_API lm_status lm_graph_add_concat(lm_graph *graph, size_t source,
                                     size_t target);

/* Fixed layers. `site` is LM_SITE_STEM, LM_SITE_HEAD, LM_SITE_POSITION
 * with `position` in 1..N, or LM_SITE_PRE with `position` the conv 1..N
 * (ignored for stem and head; layers before the trunk belong to the stem);
 * layers at one site run in the order they were added. A position with
 * fixed layers must be a barrier (docs/method.md section 2), and so must
 * the position a conv with LM_SITE_PRE layers reads: lm_graph_validate()
 * rejects it otherwise. Each returns LM_OK,
 * LM_ERR_INVALID_ARG (bad site, position or size, a size above 2^31 - 1,
 * a weight above 2^40 elements), LM_ERR_DUPLICATE (a name another module
 * has), LM_ERR_NOMEM. */

/** Append a fixed conv described by `conv` (copied). @since 0.2 */
LM_API lm_status lm_graph_add_layer_conv(lm_graph *graph, lm_site site,
                                         size_t position,
                                         const lm_conv_desc *conv);
/** Append a fixed batch norm over `channels`. @since 0.2 */
LM_API lm_status lm_graph_add_layer_batchnorm(lm_graph *graph, lm_site site,
                                              size_t position,
                                              const char *name,
                                              int64_t channels, double eps);
/** Append a fixed activation. @since 0.2 */
LM_API lm_status lm_graph_add_layer_act(lm_graph *graph, lm_site site,
                                        size_t position, lm_act act);
/** Append a max (LM_LAYER_MAXPOOL) or average (LM_LAYER_AVGPOOL) pool.
 * @since 0.2 */
LM_API lm_status lm_graph_add_layer_pool(lm_graph *graph, lm_site site,
                                         size_t position, lm_layer_kind kind,
                                         int64_t kernel, int64_t stride,
                                         int64_t padding);
/** Append an adaptive average pool to `height` x `width`. @since 0.2 */
LM_API lm_status lm_graph_add_layer_adaptive_avgpool(lm_graph *graph,
                                                     lm_site site,
                                                     size_t position,
                                                     int64_t height,
                                                     int64_t width);
/** Append a flatten (C x H x W -> CHW x 1 x 1). @since 0.2 */
LM_API lm_status lm_graph_add_layer_flatten(lm_graph *graph, lm_site site,
                                            size_t position);
/** Append a fully connected layer. @since 0.2 */
LM_API lm_status lm_graph_add_layer_linear(lm_graph *graph, lm_site site,
                                           size_t position, const char *name,
                                           int64_t in_features,
                                           int64_t out_features,
                                           int has_bias);

/** Append a GroupNorm over `channels` in `groups` groups (which must
 * divide it), with affine tensors name.weight and name.bias. @since 0.2 */
LM_API lm_status lm_graph_add_layer_groupnorm(lm_graph *graph, lm_site site,
                                              size_t position,
                                              const char *name,
                                              int64_t channels,
                                              int64_t groups, double eps);
/** Append a zero padding of each side (all >= 0; e.g. a downsampling conv's
 * asymmetric 0, 1, 0, 1 in front of it). @since 0.2 */
LM_API lm_status lm_graph_add_layer_pad(lm_graph *graph, lm_site site,
                                        size_t position, int64_t top,
                                        int64_t left, int64_t bottom,
                                        int64_t right);
/** Append a nearest-neighbour upsampling by the integer `scale` >= 1.
 * @since 0.2 */
LM_API lm_status lm_graph_add_layer_upsample(lm_graph *graph, lm_site site,
                                             size_t position, int64_t scale);
/** Append a self-attention block over `channels` (docs/formats.md, op
 * `attention`): y = x + proj_out(softmax(q^T k / sqrt(C)) v) of
 * GroupNorm(`groups`, `eps`)(x), q, k, v, proj_out 1x1 convs with bias;
 * tensors name.norm, name.q, name.k, name.v, name.proj_out (.weight,
 * .bias). @since 0.2 */
LM_API lm_status lm_graph_add_layer_attention(lm_graph *graph, lm_site site,
                                              size_t position,
                                              const char *name,
                                              int64_t channels,
                                              int64_t groups, double eps);

/* ---- validation ------------------------------------------------------- */

/** Check channel and shape consistency along the trunk, across every skip
 * and through stem and head; compute every feature-map shape and the
 * fingerprint. LM_ERR_VALIDATION names the conv, skip or layer at fault,
 * also for a shape beyond the limits (a size above 2^31 - 1, more than
 * 2^40 elements). @since 0.2 */
LM_API lm_status lm_graph_validate(lm_graph *graph);

/** 1 when the graph is validated and unchanged since. @since 0.2 */
LM_API int lm_graph_is_valid(const lm_graph *graph);

/* ---- queries ---------------------------------------------------------- */

/** The graph's name; "" when unset. Borrowed from the graph. @since 0.2 */
LM_API const char *lm_graph_name(const lm_graph *graph);
/** N, the number of trunk convs (0 for NULL). @since 0.2 */
LM_API size_t lm_graph_conv_count(const lm_graph *graph);
/** Number of skips (0 for NULL). @since 0.2 */
LM_API size_t lm_graph_skip_count(const lm_graph *graph);
/** The network's nonlinearity (docs/method.md section 6): the one set, else the first
 * non-identity trunk activation, else LM_ACT_IDENTITY. @since 0.2 */
LM_API lm_act lm_graph_nonlinearity(const lm_graph *graph);

/** Size-versioned record of a position (0..N). Set
 * `size = sizeof(lm_position_info)` before the call; the library writes
 * only within `size`. @since 0.2 */
typedef struct lm_position_info {
    size_t size;
    lm_act activation;        /**< LM_ACT_IDENTITY for position 0 */
    int32_t is_barrier;       /**< no segment passes through it */
    int32_t identity_option;  /**< a segment ending here may be identity */
    size_t layer_count;       /**< fixed layers after its activation */
} lm_position_info;

/** Describe position `position` (0..N).
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, position > N, size too small)
 * @since 0.2 */
LM_API lm_status lm_graph_position_info(lm_position_info *info,
                                        const lm_graph *graph,
                                        size_t position);

/** Size-versioned shape of one image's tensor (channels x height x width).
 * @since 0.2 */
typedef struct lm_shape {
    size_t size;
    int64_t channels;
    int64_t height;
    int64_t width;
} lm_shape;

/** Input shape of the network.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, size too small) @since 0.2 */
LM_API lm_status lm_graph_input_shape(lm_shape *shape, const lm_graph *graph);

/** Size-versioned record of a conv (trunk conv, skip projection or fixed
 * conv layer). Set `size = sizeof(lm_conv_info)` before the call; the
 * library writes only within `size`. Strings are borrowed from the graph
 * and stay valid until it is changed or destroyed; NULL when unnamed.
 * @since 0.2 */
typedef struct lm_conv_info {
    size_t size;
    int64_t in_channels;
    int64_t out_channels;
    int64_t kernel;
    int64_t stride;
    int64_t padding;
    int64_t groups;
    int32_t has_bias;
    int32_t has_bn;
    double bn_eps;
    const char *name;
    const char *bn_name;
    int32_t has_groupnorm;          /**< lm_graph_set_conv_groupnorm */
    int32_t has_time_projection;    /**< lm_graph_set_conv_time_projection */
    int64_t groupnorm_groups;
    double groupnorm_eps;
    const char *groupnorm_name;
    const char *time_projection_name;
    size_t pre_layer_count;         /**< lm_graph_layer_count(LM_SITE_PRE) */
} lm_conv_info;

/** Describe trunk conv `conv` (1..N).
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, conv out of range, size too
 *         small) @since 0.2 */
LM_API lm_status lm_graph_conv_info(lm_conv_info *info, const lm_graph *graph,
                                    size_t conv);

/** Size-versioned record of a skip. The projection fields are meaningful
 * only when has_projection is 1 (0 and NULL otherwise); its channels are
 * known once the graph is validated. @since 0.2 */
typedef struct lm_skip_info {
    size_t size;
    size_t source;
    size_t target;
    int32_t has_projection;
    int32_t projection_has_bias;
    int32_t projection_has_bn;
    int64_t projection_in_channels;
    int64_t projection_out_channels;
    int64_t projection_stride;
    double projection_bn_eps;
    const char *projection_name;     /**< borrowed from the graph */
    const char *projection_bn_name;  /**< borrowed from the graph */
    int32_t is_concat;               /**< lm_graph_add_concat */
} lm_skip_info;

/** Describe skip `skip` (0-based).
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, out of range, size too small)
 * @since 0.2 */
LM_API lm_status lm_graph_skip_info(lm_skip_info *info, const lm_graph *graph,
                                    size_t skip);

/** Size-versioned record of a fixed layer. Fields that do not apply to the
 * kind are 0 (NULL for strings). For LM_LAYER_CONV and LM_LAYER_LINEAR,
 * in/out are channels/features; for LM_LAYER_BATCHNORM, LM_LAYER_GROUPNORM
 * and LM_LAYER_ATTENTION, in = out = channels (the two norms' groups in
 * `groups`); for LM_LAYER_ADAPTIVE_AVGPOOL, out_height/out_width; for
 * LM_LAYER_PAD the four pad_* sides; for LM_LAYER_UPSAMPLE, scale.
 * @since 0.2 */
typedef struct lm_layer_info {
    size_t size;
    lm_layer_kind kind;
    lm_act act;
    int64_t in_channels;
    int64_t out_channels;
    int64_t kernel;
    int64_t stride;
    int64_t padding;
    int64_t groups;
    int64_t out_height;
    int64_t out_width;
    int32_t has_bias;
    double eps;
    const char *name;
    int64_t pad_top, pad_left, pad_bottom, pad_right;
    int64_t scale;
} lm_layer_info;

/** Number of fixed layers at a site (0 for an invalid site). @since 0.2 */
LM_API size_t lm_graph_layer_count(const lm_graph *graph, lm_site site,
                                   size_t position);
/** Describe fixed layer `index` at a site.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, bad site or position, index out
 *         of range, size too small) @since 0.2 */
LM_API lm_status lm_graph_layer_info(lm_layer_info *info,
                                     const lm_graph *graph, lm_site site,
                                     size_t position, size_t index);

/** Shape of the tensor at `position` (0..N) as the next trunk conv reads
 * it (after the position's fixed layers).
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, out of range, size too small),
 *         LM_ERR_STATE (graph not validated) @since 0.2 */
LM_API lm_status lm_graph_position_shape(lm_shape *shape,
                                         const lm_graph *graph,
                                         size_t position);

/** Shape of the network's output (after the head).
 * @return as lm_graph_position_shape() @since 0.2 */
LM_API lm_status lm_graph_output_shape(lm_shape *shape,
                                       const lm_graph *graph);

/** Size-versioned record of the time embedding. `has_time_embedding` is
 * 0 (and the rest 0 / NULL) for a network without a timestep input.
 * @since 0.2 */
typedef struct lm_time_embedding_info {
    size_t size;
    int32_t has_time_embedding;
    int64_t dim;          /**< sinusoid values */
    int64_t channels;     /**< dense outputs: what time projections read */
    const char *dense0;   /**< borrowed from the graph */
    const char *dense1;
} lm_time_embedding_info;

/** Describe the time embedding.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL, size too small) @since 0.2 */
LM_API lm_status lm_graph_time_embedding(lm_time_embedding_info *info,
                                         const lm_graph *graph);

/** Fingerprint of the structure: 16 lower-case hex digits of a 64-bit hash
 * over input shape, every layer's kind and sizes, trunk convs, activations,
 * skips, barriers and identity options (not names, not BN eps). Tables
 * carry it so that a table cannot be used with another graph. NULL when
 * the graph is not validated. Borrowed: valid until the graph changes.
 *
 * Canonical form (version 1): 64-bit FNV-1a over a sequence of int64
 * values, each fed as 8 little-endian bytes: 1 (the form's version); input
 * C, H, W; the nonlinearity (lm_graph_nonlinearity()); the stem layers;
 * N; barrier flag of position 0; for p = 1..N: in, out, kernel, stride,
 * padding, groups, has_bias, has_bn of c_p, then position p's activation,
 * barrier flag, identity-option flag and fixed layers; the number of
 * skips, and for each: source, target, has_projection and, with one, its
 * stride, has_bias, has_bn; the head layers. A list of layers is its
 * count, then per layer: kind, act, in, out, kernel, stride, padding,
 * groups, out_height, out_width, has_bias (lm_layer_info's fields, 0 where
 * they do not apply), and for the kinds from LM_LAYER_GROUPNORM on also
 * pad_top, pad_left, pad_bottom, pad_right, scale. U-Net elements add
 * values only where they are present, so graphs without them keep their
 * fingerprints: after position p's fixed layers, a conv with a GroupNorm,
 * a time projection or LM_SITE_PRE layers adds -1, has_groupnorm, its
 * groups, has_time_projection and its LM_SITE_PRE layers; a concatenation
 * skip gives 2 in place of has_projection; a time embedding adds -1, dim,
 * channels after the head layers.
 * @since 0.2 */
LM_API const char *lm_graph_fingerprint(const lm_graph *graph);

/* ---- files ------------------------------------------------------------ */

/** Load and validate a graph YAML file (format: docs/formats.md).
 * @return LM_OK, LM_ERR_IO, LM_ERR_PARSE ("file:line:col: ..."),
 *         LM_ERR_VALIDATION, LM_ERR_NOMEM
 * @since 0.2 */
LM_API lm_status lm_graph_load(lm_graph **out, const char *path);

/** Load from YAML text in memory; `len` bytes of `text`. Messages name the
 * source as "<string>". @since 0.2 */
LM_API lm_status lm_graph_load_string(lm_graph **out, const char *text,
                                      size_t len);

/** Save as YAML: written to a temporary file beside `path`, then renamed,
 * so `path` is never left half-written. Loading the file gives back an
 * identical graph. @return LM_OK, LM_ERR_IO, LM_ERR_NOMEM @since 0.2 */
LM_API lm_status lm_graph_save(const lm_graph *graph, const char *path);

LM_END_DECLS

#endif /* LAYERMERGE_GRAPH_H */
