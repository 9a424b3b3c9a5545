/* Private: the engine's network representation and its run configuration.
 *
 * Weights live in lm_econv/lm_eop records built once (build.c). What the
 * runner executes is then chosen by data, an lm_eplan: per trunk conv keep
 * or prune-to-identity and its padding, per position the activation, per
 * skip whether it is added. The default plan is the original network;
 * training-loop plans (docs/method.md section 8) only fill the arrays
 * differently. lm_engine_configure (configure.c) derives every shape of that
 * configuration and sizes the buffers once, so lm_engine_run (run.c)
 * allocates nothing. */
#ifndef LM_ENGINE_ENGINE_INTERNAL_H
#define LM_ENGINE_ENGINE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "engine/kernels.h"
#include "core/attr.h"
#include "layermerge/engine.h"
#include "layermerge/plan.h"

typedef struct lm_eshape {
    int64_t c, h, w;
} lm_eshape;

/* A conv with its own copy of the (BN-folded) weights; k.weight/k.bias
 * point into them, k's spatial sizes are set by lm_engine_configure. */
typedef struct lm_econv {
    lm_kconv k;
    float *weight;
    float *bias; /* NULL when the conv has neither bias nor BN */
} lm_econv;

/* A fixed layer. Fields that do not apply to the kind stay zero. */
typedef struct lm_eop {
    lm_layer_kind kind;
    lm_act act;                        /* LM_LAYER_ACT */
    lm_econv conv;                     /* LM_LAYER_CONV (+ a folded BN) */
    float *scale, *shift;              /* LM_LAYER_BATCHNORM; GROUPNORM's
                                          gamma and beta */
    int64_t groups;                    /* LM_LAYER_GROUPNORM */
    double eps;                        /* LM_LAYER_GROUPNORM */
    int64_t pad[4];                    /* LM_LAYER_PAD: top left bottom right */
    int64_t scale_by;                  /* LM_LAYER_UPSAMPLE */
    lm_kattn attn;                     /* LM_LAYER_ATTENTION (owns attn_w) */
    float *attn_w;                     /* its 4 c x c weights, 4 c biases,
                                          norm gamma and beta */
    int64_t kernel, stride, padding;   /* pools */
    int64_t out_h, out_w;              /* LM_LAYER_ADAPTIVE_AVGPOOL */
    int64_t in_f, out_f;               /* LM_LAYER_LINEAR */
    float *weight, *bias;              /* LM_LAYER_LINEAR */
    lm_eshape in, out;                 /* set by lm_engine_configure */
} lm_eop;

typedef struct lm_eops {
    lm_eop *ops;
    size_t n;
} lm_eops;

typedef struct lm_eskip {
    size_t source, target;
    int concat;    /* appended to the target's channels, never projected */
    int has_proj;
    lm_econv proj; /* 1x1, strided, no padding; BN folded */
} lm_eskip;

/* A trunk conv's U-Net parts (all zero for a classifier's conv). */
typedef struct lm_eunet {
    lm_eops pre;           /* layers in front of the conv, trunk read only */
    lm_eshape pre_in;      /* set by lm_engine_configure: what pre reads */
    int has_gn;            /* GroupNorm before the position's activation */
    int64_t gn_groups;
    double gn_eps;
    float *gn_gamma, *gn_beta;
    int has_tproj;         /* time projection: out x temb channels */
    float *tproj_w, *tproj_b;
    float *tbias;          /* batch x out, for the timesteps last set */
} lm_eunet;

/* What runs. Arrays indexed by conv/position 1..N (index 0 unused) and by
 * skip 0..n_skips-1. */
typedef struct lm_eplan {
    size_t n, n_skips;
    uint8_t *keep;    /* 1 keep, 0 prune to identity (its BN with it) */
    int64_t *padding; /* padding of each trunk conv; a pruned one
                         zero-pads its input by it */
    lm_act *act;      /* activation applied at each position */
    uint8_t *skip_on; /* 1 when the skip is added */
} lm_eplan;

struct lm_engine {
    size_t batch, n, n_skips;
    lm_eshape input, output;
    lm_eops stem, head;
    lm_eops *pos_ops;   /* [N + 1]: fixed layers after position p */
    lm_econv *trunk;    /* [N + 1] */
    lm_eskip *skips;
    lm_eunet *unet;     /* [N + 1] */
    int has_temb;       /* a timestep input (lm_engine_set_timesteps) */
    int timesteps_set;
    int timing_timesteps; /* lm_engine_time's t = 500 stands in */
    int64_t temb_dim, temb_ch;
    float *temb_w[2], *temb_b[2]; /* dense0 (ch x dim), dense1 (ch x ch) */
    lm_eplan original;  /* the graph's own network */
    lm_eplan plan;      /* the configuration lm_engine_run executes */
    /* derived by lm_engine_configure */
    lm_eshape *conv_out; /* [N + 1]: after conv + skips, before pos ops */
    lm_eshape *own;      /* [N + 1]: after pos ops, before concatenations */
    lm_eshape *shape;    /* [N + 1]: position p as the next conv reads it */
    size_t *slot;        /* [N + 1]: buffer holding position p */
    float *arena;        /* one block: slots, scratch, tmp, workspace */
    float **bufs;        /* [n_slots] into arena */
    size_t n_slots, slot_floats;
    float *scratch, *tmp, *ws;
    float *pre;          /* a slot: a conv's input through its pre layers */
    int configured;
    char fingerprint[17]; /* of the graph, to refuse other graphs' plans */
    size_t threads;       /* OpenBLAS threads to run with; 0: leave as is */
    double *prof_conv, *prof_other; /* [N] medians of the last profile */
};

/* Where one run's clock readings go (profile.c); NULL runs untimed. Per
 * trunk position p (1..N): conv[p - 1] the conv with its activation and
 * any skip added in its output pass, other[p - 1] the skip additions and
 * projections done apart and the position's fixed layers. */
typedef struct lm_eclock {
    double stem, head;
    double *conv, *other;
} lm_eclock;

/* Forward pass on the staged input (bufs[slot[0]] holds it); `clock` may
 * be NULL. */
void lm_engine_forward(lm_engine *e, lm_eclock *clock);
/* Seconds in milliseconds on CLOCK_MONOTONIC (profile.c). */
double lm_engine_now_ms(void);
/* The fixed input of lm_engine_time and lm_engine_profile (timing.c). */
void lm_engine_fixed_input(float *x, size_t n);
/* Apply the engine's thread count to OpenBLAS (no-op when 0). */
void lm_engine_apply_threads(const lm_engine *e);

/* The U-Net parts (unet.c): a conv's pre layers, GroupNorm and time
 * projection, the time embedding; their release; the time bias of every
 * time projection for `t` (batch values). */
LM_NODISCARD
lm_status lm_engine_build_unet(lm_engine *e, const lm_graph *g,
                               lm_tensor_fn fetch, void *userdata);
void lm_engine_free_unet(lm_engine *e);
/* For lm_engine_time and lm_engine_profile: t = 500 for every image when no
 * timesteps are set (lm_engine_timing_end forgets them again). */
LM_NODISCARD
lm_status lm_engine_timing_begin(lm_engine *e);
void lm_engine_timing_end(lm_engine *e);
LM_NODISCARD
lm_status lm_engine_time_bias(lm_engine *e, const float *t);
/* Build the layers of one site into `ops` (build.c; LM_SITE_PRE too). */
LM_NODISCARD
lm_status lm_engine_build_site(const lm_graph *g, lm_site site, size_t pos,
                               lm_tensor_fn fetch, void *userdata,
                               lm_eops *ops);
/* Fetch tensor `base`.`suffix` of `shape` into dst, the error naming
 * `what` (build.c). */
LM_NODISCARD
lm_status lm_engine_fetch(lm_tensor_fn fetch, void *userdata,
                          const char *what, const char *base,
                          const char *suffix, const int64_t *shape,
                          size_t ndim, float *dst);
/* Run fixed layers on `home` (batch tensors), leaving the result there
 * (run.c). */
void lm_engine_run_ops(const lm_engine *e, const lm_eops *ops, float *home,
                       size_t out_floats);

/* Build the engine's layers and weights from the graph (build.c). */
LM_NODISCARD
lm_status lm_engine_build(lm_engine *e, const lm_graph *g, lm_tensor_fn fetch,
                          void *userdata);

/* The original network's plan (every conv kept with its own padding, the
 * graph's activations, every skip on). */
LM_NODISCARD
lm_status lm_eplan_default(lm_eplan *plan, const lm_engine *e);
void lm_eplan_free(lm_eplan *plan);

/* Make `plan` the engine's configuration (copied): checks that it can run
 * (a pruned conv must map its input to an equal shape, a skip's channels
 * must meet its target, the head must accept the trunk output), derives
 * every shape and resizes the buffers. LM_ERR_INVALID_ARG or
 * LM_ERR_MISMATCH naming the conv/skip/layer; LM_ERR_NOMEM. On failure the
 * engine is left unconfigured and lm_engine_run returns LM_ERR_STATE until
 * a configuration succeeds. */
LM_NODISCARD
lm_status lm_engine_configure(lm_engine *e, const lm_eplan *plan);

void lm_econv_free(lm_econv *c);
void lm_eops_free(lm_eops *ops);

#endif
