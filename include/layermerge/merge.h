/* liblayermerge — merging a linear chain of convolutions into one conv
 * (docs/method.md section 9), on weights the caller owns.
 *
 * These calls work on plain float32 arrays in PyTorch's layout (weight
 * [out][in / groups][k][k], bias [out]) and accumulate in double, so a
 * training loop can merge in its own code without a graph. Convolutions are
 * cross-correlations, as in PyTorch:
 *   y[o][i][j] = b[o] + sum_{c,u,v} W[o][c][u][v] x[c][s*i + u - p][s*j + v - p].
 *
 * A chain is what one segment of a LayerMerge result becomes once its
 * interior activations are removed: the kept convs (pruned convs are simply
 * not pushed), each optionally followed by batch norm, and the skips wholly
 * inside the segment. Its states are numbered by steps: state 0 is the chain
 * input, state n the output of the n-th pushed conv after the batch norms
 * and skip additions pushed since that conv.
 *
 * The merged conv reproduces the fine-tuning chain of docs/method.md section 8
 * exactly: all padding on the first kept conv, the others unpadded, and a
 * skip's input zero-padded or centre-cropped symmetrically to the size of
 * its target. Its padding is the sum of the kept paddings, its stride the
 * product of the kept strides.
 *
 * Threads: lm_bn_fold is reentrant. A chain changes with every push: one
 * thread at a time; its const queries may run concurrently.
 */
#ifndef LAYERMERGE_MERGE_H
#define LAYERMERGE_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "layermerge/api.h"
#include "layermerge/graph.h"
#include "layermerge/status.h"

LM_BEGIN_DECLS

/** Size-versioned description of a batch norm's parameters (an input
 * record), as PyTorch's BatchNorm2d holds them: one float per channel in
 * each array. Set `size = sizeof(lm_bn_desc)`. Nothing is retained.
 * @since 0.2 */
typedef struct lm_bn_desc {
    size_t size;
    const float *gamma;  /**< weight */
    const float *beta;   /**< bias */
    const float *mean;   /**< running_mean */
    const float *var;    /**< running_var */
    double eps;          /**< this batch norm's own eps (PyTorch: 1e-5) */
} lm_bn_desc;

/** Fold a batch norm into the conv before it:
 * W' = W * gamma / sqrt(var + eps), b' = (b - mean) * gamma / sqrt(var + eps) + beta,
 * computed in double and rounded once to float.
 * @param[out] weight_out  out_channels * per_channel floats; may equal weight
 * @param[out] bias_out    out_channels floats; may equal bias
 * @param weight        the conv weight, out_channels * per_channel floats
 *                      (per_channel = in / groups * k * k)
 * @param bias          out_channels floats, or NULL for a conv without bias
 * @param bn            the batch norm: out_channels floats in each array
 * @return LM_OK, LM_ERR_INVALID_ARG (a NULL array other than bias, zero
 *         sizes), LM_ERR_VALUE (eps negative or not finite, var + eps <= 0,
 *         a non-finite input or result; the message names the channel).
 *         Nothing is written on failure.
 * @since 0.2 */
LM_API lm_status lm_bn_fold(float *weight_out, float *bias_out,
                            const float *weight, const float *bias,
                            size_t out_channels, size_t per_channel,
                            const lm_bn_desc *bn);

/** Opaque builder that composes a chain of convolutions into one.
 * @since 0.2 */
typedef struct lm_chain lm_chain;

/** Start an empty chain whose input has `in_channels` channels.
 * @param[out] out  the new chain, owned by the caller (lm_chain_destroy)
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL out, in_channels < 1),
 *         LM_ERR_NOMEM
 * @since 0.2 */
LM_API lm_status lm_chain_create(lm_chain **out, int64_t in_channels);

/** Free a chain; NULL is ignored. @since 0.2 */
LM_API void lm_chain_destroy(lm_chain *chain);

/** Append a conv reading the current chain output (step n + 1).
 * @param conv  its description (graph.h; `name` and `has_bias` are not
 *              read): in_channels must equal the chain's current channel
 *              count; kernel odd, >= 1; stride >= 1, and a conv with
 *              kernel > 1 may not follow a strided conv (the result would
 *              not be one plain strided conv); padding >= 0, this conv's
 *              padding in the original network; groups divides in and out
 *              channels (groups == in == out is depthwise)
 * @param weight        out * (in / groups) * kernel * kernel floats; copied
 * @param bias          out floats, or NULL for none (zeros); copied
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL chain or weight, bad sizes, a
 *         channel count that does not match the chain; the message names
 *         the step), LM_ERR_UNSUPPORTED (kernel > 1 after a strided conv),
 *         LM_ERR_VALUE (a non-finite weight or bias), LM_ERR_NOMEM. On
 *         failure the chain is unchanged.
 * @since 0.2 */
LM_API lm_status lm_chain_push_conv(lm_chain *chain, const lm_conv_desc *conv,
                                    const float *weight, const float *bias);

/** Apply a batch norm to the current chain output (the last conv, plus any
 * skip already added to it), folding it with the batch norm's own eps.
 * @param bn  one float per current channel in each array
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL argument, size too small), LM_ERR_STATE (no conv
 *         pushed yet: an affine map before a padded conv does not merge
 *         exactly), LM_ERR_VALUE (eps or a parameter not finite,
 *         var + eps <= 0). On failure the chain is unchanged.
 * @since 0.2 */
LM_API lm_status lm_chain_push_bn(lm_chain *chain, const lm_bn_desc *bn);

/** Add the chain state after step `from_step` (0 = the chain input) to the
 * current output, as an identity skip.
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL chain, from_step not before the
 *         current step, unequal channels, or a stride between the two
 *         states; the message names both steps), LM_ERR_NOMEM. On failure
 *         the chain is unchanged.
 * @since 0.2 */
LM_API lm_status lm_chain_push_identity_skip(lm_chain *chain, size_t from_step);

/** Add a 1x1 projection (no padding) of the state after `from_step` to the
 * current output. Fold the projection's batch norm first (lm_bn_fold).
 * @param projection  in_channels must equal the channels of state
 *                    from_step, out_channels the current channels, stride
 *                    the chain's stride since from_step; kernel 1, padding
 *                    0, groups 1 (`name`, `has_bias` are not read)
 * @param weight        out * in floats; copied
 * @param bias          out floats, or NULL; copied
 * @return as lm_chain_push_identity_skip(), plus LM_ERR_VALUE (a
 *         non-finite weight or bias)
 * @since 0.2 */
LM_API lm_status lm_chain_push_projection_skip(lm_chain *chain,
                                               size_t from_step,
                                               const lm_conv_desc *projection,
                                               const float *weight,
                                               const float *bias);

/** Number of convs pushed (0 for NULL). @since 0.2 */
LM_API size_t lm_chain_step_count(const lm_chain *chain);

/** Input channels of the chain (0 for NULL). @since 0.2 */
LM_API int64_t lm_chain_in_channels(const lm_chain *chain);

/** Channels of the current output (the input's when no conv was pushed,
 * 0 for NULL). @since 0.2 */
LM_API int64_t lm_chain_out_channels(const lm_chain *chain);

/** Merged kernel size K; 0 when no conv was pushed (the identity option,
 * which is no conv) or for NULL. @since 0.2 */
LM_API int64_t lm_chain_kernel(const lm_chain *chain);

/** Merged stride (product of the pushed strides; 1 when empty or NULL).
 * @since 0.2 */
LM_API int64_t lm_chain_stride(const lm_chain *chain);

/** Merged padding (sum of the pushed paddings; 0 when empty or NULL).
 * @since 0.2 */
LM_API int64_t lm_chain_padding(const lm_chain *chain);

/** 1 when the merged conv is depthwise (groups = channels, weight
 * [C][1][K][K]), else 0. @since 0.2 */
LM_API int lm_chain_depthwise(const lm_chain *chain);

/** Groups of the merged conv: the channel count when depthwise, else 1
 * (0 for NULL). @since 0.2 */
LM_API int64_t lm_chain_groups(const lm_chain *chain);

/** Number of floats in the merged weight: out * (in / groups) * K * K
 * (0 when empty or NULL). @since 0.2 */
LM_API size_t lm_chain_weight_count(const lm_chain *chain);

/** Copy the merged weight, rounded to float32.
 * @param[out] weight_out  at least lm_chain_weight_count() floats
 * @param cap              the number of floats weight_out holds
 * @return LM_OK, LM_ERR_INVALID_ARG (NULL argument, cap too small),
 *         LM_ERR_STATE (no conv pushed), LM_ERR_VALUE (a value beyond
 *         float range; nothing useful is written then)
 * @since 0.2 */
LM_API lm_status lm_chain_weight(float *weight_out, size_t cap,
                                 const lm_chain *chain);

/** Copy the merged bias (lm_chain_out_channels() floats), rounded to
 * float32. @return as lm_chain_weight() @since 0.2 */
LM_API lm_status lm_chain_bias(float *bias_out, size_t cap,
                               const lm_chain *chain);

LM_END_DECLS

#endif /* LAYERMERGE_MERGE_H */
