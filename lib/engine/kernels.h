/* Private: the float32 kernels of the forward engine. Tensors are NCHW;
 * every kernel here works on one image (C x H x W) unless it says batch.
 * Kernels never allocate: the runner sizes one workspace for the whole
 * network (lm_kconv_workspace) and passes it in. */
#ifndef LM_ENGINE_KERNELS_H
#define LM_ENGINE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "layermerge/graph.h"

/* Hot loops are built at -O3 and cloned for AVX-512 and AVX2 with a
 * run-time choice (GNU ifunc), so that the elementwise and depthwise
 * loops vectorise while the library itself stays built for the baseline
 * ISA. FP contraction stays off (ISO C mode), so each clone rounds as
 * the scalar code does. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__linux__)
#define LM_KHOT                                                            \
    __attribute__((target_clones("avx512f", "avx2", "default"),            \
                   optimize("O3")))
#else
#define LM_KHOT
#endif

/* One convolution on one image. Weights are PyTorch's layout
 * (cout x cin/groups x k x k); bias may be NULL. hout/wout follow from
 * floor((h + 2 pad - k) / stride) + 1 and are filled by lm_kconv_shape. */
typedef struct lm_kconv {
    int64_t cin, cout, k, stride, pad, groups;
    int64_t hin, win, hout, wout;
    const float *weight;
    const float *bias;
    size_t col_cap; /* im2col block cap in floats; 0 = LM_KCOL_CAP */
} lm_kconv;

/* Default cap of one im2col block (floats). Large merged kernels (21x21
 * over 64 channels at 56x56 would need 350 MB at once) are lowered a band
 * of output rows at a time; a band stays wide enough for sgemm to run at
 * full speed. */
#define LM_KCOL_CAP ((size_t)1 << 22)

/* Fill hout/wout from the other sizes; 0 when the kernel does not fit. */
int lm_kconv_shape(lm_kconv *c);

/* Floats of workspace lm_kconv_run needs (0 for the direct paths). */
size_t lm_kconv_workspace(const lm_kconv *c);

/* out (cout x hout x wout) = conv(in) + bias. `ws` holds at least
 * lm_kconv_workspace(c) floats. */
void lm_kconv_run(const lm_kconv *c, const float *in, float *out, float *ws);

/* out = act(conv(in) + bias + add): the bias, a same-shaped addend (NULL
 * for none: a skip) and the activation applied in one pass while the
 * output is still in cache, instead of one pass each. `add` must not
 * alias `out`. */
void lm_kconv_run_fused(const lm_kconv *c, const float *in, float *out,
                        float *ws, lm_act act, const float *add);

/* x[i] = act(x[i] + b + add[i]) over n values; add may be NULL. */
void lm_kepilogue(float *x, size_t n, float b, const float *add, lm_act act);

/* Activation in place over n values. */
void lm_kact(lm_act act, float *x, size_t n);

/* Batch norm (inference) as x * scale[c] + shift[c], in place, one image. */
void lm_kaffine(const float *scale, const float *shift, int64_t c,
                int64_t hw, float *x);

/* Max pool (padding counts as -inf) and average pool (padding counts as
 * zeros in the window: count_include_pad), floor mode, one image. */
void lm_kmaxpool(const float *in, int64_t c, int64_t h, int64_t w,
                 int64_t k, int64_t stride, int64_t pad, float *out,
                 int64_t oh, int64_t ow);
void lm_kavgpool(const float *in, int64_t c, int64_t h, int64_t w,
                 int64_t k, int64_t stride, int64_t pad, float *out,
                 int64_t oh, int64_t ow);

/* Adaptive average pool with PyTorch's bins: rows floor(i h / oh) to
 * ceil((i + 1) h / oh), one image. */
void lm_kadaptive_avgpool(const float *in, int64_t c, int64_t h, int64_t w,
                          float *out, int64_t oh, int64_t ow);

/* Batch: y (n x out) = x (n x in) W^T + b, W is out x in, b may be NULL. */
void lm_klinear(const float *x, size_t n, int64_t in, int64_t out,
                const float *w, const float *b, float *y);

/* dst (c x h x w) += src (c x sh x sw) matched at the centre: a smaller
 * src is zero-padded symmetrically, a larger one centre-cropped
 * (docs/method.md section 8), one image. The margin is (h - sh) / 2 rounded
 * toward zero. */
void lm_kadd_centred(float *dst, int64_t c, int64_t h, int64_t w,
                     const float *src, int64_t sh, int64_t sw);

/* GroupNorm in place, one image (c x hw), PyTorch's semantics: each group
 * of c / groups channels is normalised by its mean and biased variance,
 * then y = x_hat * gamma[ch] + beta[ch]. Statistics in double, two-pass.
 * gamma and beta may be NULL (no affine). groups divides c. */
void lm_kgroupnorm(float *x, int64_t c, int64_t hw, int64_t groups,
                   double eps, const float *gamma, const float *beta);

/* Zero padding with independent sides, one image: out is
 * c x (top + h + bottom) x (left + w + right). */
void lm_kpad(const float *in, int64_t c, int64_t h, int64_t w, int64_t top,
             int64_t left, int64_t bottom, int64_t right, float *out);

/* Nearest-neighbour upsampling by an integer factor, one image:
 * out (c x h*scale x w*scale), out[y][x] = in[y / scale][x / scale]. */
void lm_kupsample_nearest(const float *in, int64_t c, int64_t h, int64_t w,
                          int64_t scale, float *out);

/* The DDPM attention block's tensors: GroupNorm(groups, eps) with
 * gamma/beta (NULL for none), then 1x1 convs q, k, v and proj_out, each a
 * c x c weight (cout x cin) and a bias (NULL for none). */
typedef struct lm_kattn {
    int64_t c, groups;
    double eps;
    const float *gamma, *beta;
    const float *wq, *bq, *wk, *bk, *wv, *bv, *wo, *bo;
} lm_kattn;

/* Floats of workspace lm_kattention needs: 4 c hw + hw^2. */
size_t lm_kattention_workspace(int64_t c, int64_t hw);

/* x (c x hw) += proj_out(attn(GN(x))) in place, one image: single-head
 * softmax over keys j of (q[:, i] . k[:, j]) c^-0.5, attended values
 * h[:, i] = sum_j v[:, j] w[i][j]. `ws` holds lm_kattention_workspace
 * floats and must not alias x. */
void lm_kattention(const lm_kattn *a, float *x, int64_t hw, float *ws);

/* Frequency i of the sinusoid of `half` frequencies (what
 * lm_ktimestep_embedding multiplies t by), for the ONNX export. */
float lm_ktimestep_freq(int64_t half, int64_t i);

/* Batch: the sinusoidal timestep embedding of DDPM (fairseq form), out
 * (n x dim): half = dim / 2, f_i = exp(-i ln(10000) / (half - 1)),
 * out[b][i] = sin(t[b] f_i), out[b][half + i] = cos(t[b] f_i); an odd
 * dim's last column is 0. Rounds as PyTorch's float32 computation. */
void lm_ktimestep_embedding(const float *t, size_t n, int64_t dim,
                            float *out);

#endif
