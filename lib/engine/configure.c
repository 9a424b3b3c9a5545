/* Turning a plan into shapes and buffers. Every tensor of a run gets its
 * place here, once: positions share a few equal-sized slots by liveness (a
 * position lives until its last reader, the next conv or a skip target),
 * fixed layers ping-pong with a scratch slot, projections write into a
 * small temporary, and im2col uses one workspace sized for the largest
 * conv. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/limits.h"
#include "core/util.h"
#include "engine/engine_internal.h"

typedef struct sizes {
    size_t tensor; /* largest tensor of one image */
    size_t tmp;    /* largest projection output of one image */
    size_t ws;     /* largest im2col workspace */
} sizes;

static void note(size_t *max, size_t v)
{
    if (v > *max)
        *max = v;
}

/* C x H x W of one image, checked: a graph validates its own shapes
 * within core/limits.h, but a plan's paddings reshape them. */
static lm_status numel_of(lm_eshape s, const char *what, size_t index,
                          size_t *n)
{
    size_t hw = 0;
    if (s.c < 0 || s.h < 0 || s.w < 0 ||
        lm_mul_overflow((size_t)s.c, (size_t)s.h, &hw) ||
        lm_mul_overflow(hw, (size_t)s.w, n) || *n > (size_t)INT64_MAX)
        return lm_err(LM_ERR_INVALID_ARG, "%s %zu: output %lldx%lldx%lld "
                      "overflows a size", what, index, (long long)s.c,
                      (long long)s.h, (long long)s.w);
    return LM_OK;
}

static lm_status note_tensor(sizes *z, lm_eshape s, const char *what,
                             size_t index)
{
    size_t n = 0;
    lm_status st = numel_of(s, what, index, &n);
    if (st == LM_OK)
        note(&z->tensor, n);
    return st;
}

/* OpenBLAS takes int sizes: every matrix a conv hands to sgemm (weights
 * cout x K, K = cin/groups x k x k; im2col K x band; the input and output
 * planes) must keep each side within INT_MAX. */
static lm_status blas_sizes(const lm_kconv *k, const char *what, size_t index)
{
    const char *name[5] = {"input channels", "output channels",
                           "im2col rows (in/groups x k x k)",
                           "input plane (H x W)", "output plane (H x W)"};
    int64_t v[5] = {k->cin, k->cout, 0, 0, 0};
    int over = lm_mul_overflow_i64(k->k, k->k, &v[2]) ||
               lm_mul_overflow_i64(k->cin / k->groups, v[2], &v[2]) ||
               lm_mul_overflow_i64(k->hin, k->win, &v[3]) ||
               lm_mul_overflow_i64(k->hout, k->wout, &v[4]);
    for (int i = 0; i < 5 && !over; i++)
        if (v[i] > INT_MAX)
            return lm_err(LM_ERR_UNSUPPORTED, "%s %zu: %s %lld is above "
                          "%d, the largest size OpenBLAS takes", what, index,
                          name[i], (long long)v[i], INT_MAX);
    if (over)
        return lm_err(LM_ERR_UNSUPPORTED, "%s %zu: kernel %lld over %lld "
                      "channels at %lldx%lld overflows OpenBLAS's int sizes",
                      what, index, (long long)k->k, (long long)k->cin,
                      (long long)k->hin, (long long)k->win);
    return LM_OK;
}

/* Set a conv's spatial sizes for input `in`; error when it does not fit. */
static lm_status conv_at(lm_econv *c, lm_eshape in, const char *what,
                         size_t index, lm_eshape *out, sizes *z)
{
    if (in.c != c->k.cin)
        return lm_err(LM_ERR_MISMATCH, "%s %zu: expects %lld input channels, "
                      "gets %lld", what, index, (long long)c->k.cin,
                      (long long)in.c);
    c->k.hin = in.h;
    c->k.win = in.w;
    if (!lm_kconv_shape(&c->k))
        return lm_err(LM_ERR_MISMATCH, "%s %zu: kernel %lld with padding %lld "
                      "does not fit its %lldx%lld input", what, index,
                      (long long)c->k.k, (long long)c->k.pad,
                      (long long)in.h, (long long)in.w);
    *out = (lm_eshape){c->k.cout, c->k.hout, c->k.wout};
    lm_status st = blas_sizes(&c->k, what, index);
    if (st != LM_OK)
        return st;
    note(&z->ws, lm_kconv_workspace(&c->k));
    return note_tensor(z, *out, what, index);
}

static lm_status op_at(lm_eop *op, lm_eshape in, size_t i, lm_eshape *out,
                       sizes *z)
{
    int64_t k = op->kernel, s = op->stride, p = op->padding;
    op->in = in;
    *out = in;
    switch (op->kind) {
    case LM_LAYER_CONV: {
        lm_status st = conv_at(&op->conv, in, "fixed conv layer", i, out, z);
        op->out = *out;
        return st;
    }
    case LM_LAYER_MAXPOOL:
    case LM_LAYER_AVGPOOL:
        /* The graph bounds k, s and p (core/limits.h): no overflow here. */
        if (in.h + 2 * p < k || in.w + 2 * p < k)
            return lm_err(LM_ERR_MISMATCH, "pool layer %zu: window %lld does "
                          "not fit its %lldx%lld input", i, (long long)k,
                          (long long)in.h, (long long)in.w);
        *out = (lm_eshape){in.c, (in.h + 2 * p - k) / s + 1,
                           (in.w + 2 * p - k) / s + 1};
        break;
    case LM_LAYER_ADAPTIVE_AVGPOOL:
        *out = (lm_eshape){in.c, op->out_h, op->out_w};
        break;
    case LM_LAYER_FLATTEN: {
        size_t n = 0;
        lm_status st = numel_of(in, "flatten layer", i, &n);
        if (st != LM_OK)
            return st;
        *out = (lm_eshape){(int64_t)n, 1, 1};
        break;
    }
    case LM_LAYER_LINEAR: {
        size_t n = 0;
        lm_status st = numel_of(in, "linear layer", i, &n);
        if (st != LM_OK)
            return st;
        if (n != (size_t)op->in_f)
            return lm_err(LM_ERR_MISMATCH, "linear layer %zu: expects %lld "
                          "features, gets %lldx%lldx%lld", i,
                          (long long)op->in_f, (long long)in.c,
                          (long long)in.h, (long long)in.w);
        if (op->in_f > INT_MAX || op->out_f > INT_MAX)
            return lm_err(LM_ERR_UNSUPPORTED, "linear layer %zu: %lld -> "
                          "%lld features: above %d, the largest size "
                          "OpenBLAS takes", i, (long long)op->in_f,
                          (long long)op->out_f, INT_MAX);
        *out = (lm_eshape){op->out_f, 1, 1};
        break;
    }
    case LM_LAYER_BATCHNORM:
    case LM_LAYER_ACT:
    case LM_LAYER_GROUPNORM:
        break;
    case LM_LAYER_PAD:
        *out = (lm_eshape){in.c, in.h + op->pad[0] + op->pad[2],
                           in.w + op->pad[1] + op->pad[3]};
        break;
    case LM_LAYER_UPSAMPLE:
        *out = (lm_eshape){in.c, in.h * op->scale_by, in.w * op->scale_by};
        break;
    case LM_LAYER_ATTENTION: {
        /* sgemm sizes: c x hw and hw x hw. */
        int64_t hw = 0;
        if (lm_mul_overflow_i64(in.h, in.w, &hw) || hw > INT_MAX ||
            in.c > INT_MAX)
            return lm_err(LM_ERR_UNSUPPORTED, "attention layer %zu: %lld "
                          "channels at %lldx%lld: above the sizes OpenBLAS "
                          "takes", i, (long long)in.c, (long long)in.h,
                          (long long)in.w);
        if (in.c != op->attn.c)
            return lm_err(LM_ERR_MISMATCH, "attention layer %zu: expects "
                          "%lld channels, gets %lld", i,
                          (long long)op->attn.c, (long long)in.c);
        size_t hwz = (size_t)hw, ws = 0, sq = 0;
        if (lm_mul_overflow(hwz, hwz, &sq) ||
            lm_mul_overflow(4 * (size_t)in.c, hwz, &ws) ||
            lm_add_overflow(ws, sq, &ws))
            return lm_err(LM_ERR_UNSUPPORTED, "attention layer %zu: its "
                          "workspace overflows a size", i);
        note(&z->ws, lm_kattention_workspace(in.c, hw));
        break;
    }
    }
    op->out = *out;
    return note_tensor(z, *out, "layer", i);
}

static lm_status ops_at(lm_eops *ops, lm_eshape *shape, sizes *z)
{
    for (size_t i = 0; i < ops->n; i++) {
        lm_status st = op_at(&ops->ops[i], *shape, i, shape, z);
        if (st != LM_OK)
            return st;
    }
    return LM_OK;
}

/* Skip i into a conv output of shape `out`: channels must meet; spatial
 * sizes may differ (matched at the centre, docs/method.md section 8). */
static lm_status skip_at(lm_engine *e, size_t i, lm_eshape out, sizes *z)
{
    lm_eskip *s = &e->skips[i];
    lm_eshape src = e->shape[s->source];
    if (s->has_proj) {
        lm_status st = conv_at(&s->proj, src, "projection of skip", i, &src,
                               z);
        size_t n = 0;
        if (st == LM_OK)
            st = numel_of(src, "projection of skip", i, &n);
        if (st != LM_OK)
            return st;
        note(&z->tmp, n);
    }
    if (src.c != out.c)
        return lm_err(LM_ERR_MISMATCH, "skip %zu (%zu -> %zu): brings %lld "
                      "channels to a conv output of %lld", i, s->source,
                      s->target, (long long)src.c, (long long)out.c);
    return LM_OK;
}

/* The concatenations into position p append their sources' channels. */
static lm_status concat_at(lm_engine *e, size_t p, lm_eshape *out, sizes *z)
{
    for (size_t i = 0; i < e->n_skips; i++) {
        const lm_eskip *s = &e->skips[i];
        if (!s->concat || s->target != p)
            continue;
        lm_eshape src = e->shape[s->source];
        if (src.h != out->h || src.w != out->w)
            return lm_err(LM_ERR_MISMATCH, "skip %zu (%zu -> %zu): "
                          "concatenates %lldx%lld to %lldx%lld", i,
                          s->source, p, (long long)src.h, (long long)src.w,
                          (long long)out->h, (long long)out->w);
        out->c += src.c;
        lm_status st = note_tensor(z, *out, "concatenation at position", p);
        if (st != LM_OK)
            return st;
    }
    return LM_OK;
}

/* A pruned conv is identity; with padding (a time projection before the
 * segment's first kept conv, docs/method.md section 8) it zero-pads. */
static lm_status pruned_at(const lm_econv *c, lm_eshape in, int64_t pad,
                           size_t p, lm_eshape *out, sizes *z)
{
    if (c->k.cin != c->k.cout || c->k.stride != 1)
        return lm_err(LM_ERR_INVALID_ARG, "conv %zu: cannot be pruned to "
                      "identity (%lld -> %lld channels, stride %lld)", p,
                      (long long)c->k.cin, (long long)c->k.cout,
                      (long long)c->k.stride);
    *out = (lm_eshape){in.c, in.h + 2 * pad, in.w + 2 * pad};
    return note_tensor(z, *out, "pruned conv", p);
}

static lm_status trunk_at(lm_engine *e, const lm_eplan *plan, size_t p,
                          sizes *z)
{
    lm_econv *c = &e->trunk[p];
    lm_eunet *u = &e->unet[p];
    lm_eshape in = e->shape[p - 1], out = in;
    u->pre_in = in;
    lm_status st = ops_at(&u->pre, &in, z);
    c->k.pad = plan->padding[p];
    if (st == LM_OK && plan->keep[p])
        st = conv_at(c, in, "conv", p, &out, z);
    else if (st == LM_OK)
        st = pruned_at(c, in, plan->padding[p], p, &out, z);
    for (size_t i = 0; st == LM_OK && i < e->n_skips; i++)
        if (e->skips[i].target == p && plan->skip_on[i] &&
            !e->skips[i].concat)
            st = skip_at(e, i, out, z);
    e->conv_out[p] = out;
    if (st == LM_OK)
        st = ops_at(&e->pos_ops[p], &out, z);
    e->own[p] = out;
    if (st == LM_OK)
        st = concat_at(e, p, &out, z);
    e->shape[p] = out;
    return st;
}

static lm_status shapes_at(lm_engine *e, const lm_eplan *plan, sizes *z)
{
    lm_eshape s = e->input;
    lm_status st = note_tensor(z, s, "input", 0);
    if (st == LM_OK)
        st = ops_at(&e->stem, &s, z);
    e->shape[0] = e->conv_out[0] = e->own[0] = s;
    for (size_t p = 1; st == LM_OK && p <= e->n; p++)
        st = trunk_at(e, plan, p, z);
    s = e->shape[e->n];
    if (st == LM_OK)
        st = ops_at(&e->head, &s, z);
    e->output = s;
    return st;
}

/* Last step that reads position p: the next conv, or a skip target. */
static size_t last_use(const lm_engine *e, const lm_eplan *plan, size_t p)
{
    size_t last = p + 1;
    for (size_t i = 0; i < e->n_skips; i++)
        if (e->skips[i].source == p && plan->skip_on[i] &&
            e->skips[i].target > last)
            last = e->skips[i].target;
    return last;
}

/* Greedy slot assignment: position p takes the lowest slot that no
 * position still live at step p holds. */
static size_t assign_slots(lm_engine *e, const lm_eplan *plan, size_t *last)
{
    size_t n_slots = 0;
    for (size_t p = 0; p <= e->n; p++) {
        last[p] = last_use(e, plan, p);
        size_t slot = 0;
        for (int busy = 1; busy; slot += busy) {
            busy = 0;
            for (size_t q = 0; q < p && !busy; q++)
                busy = e->slot[q] == slot && last[q] >= p;
        }
        e->slot[p] = slot;
        if (slot + 1 > n_slots)
            n_slots = slot + 1;
    }
    return n_slots;
}

/* Floats of the arena: n_slots + 2 slots of batch x the largest tensor
 * (positions, the fixed layers' scratch, a conv's pre-layer input),
 * then the projection temporary and the im2col workspace; the byte count
 * is checked against size_t and the machine's memory before anything is
 * allocated. */
static lm_status arena_size(const lm_engine *e, size_t n_slots,
                            const sizes *z, size_t *slot, size_t *bytes)
{
    size_t total = 0;
    if (lm_mul_overflow(z->tensor, e->batch, slot) ||
        lm_mul_overflow(n_slots + 2, *slot, &total) ||
        lm_add_overflow(total, z->tmp, &total) ||
        lm_add_overflow(total, z->ws, &total) ||
        lm_mul_overflow(total, sizeof(float), bytes) ||
        *bytes > (size_t)PTRDIFF_MAX)
        return lm_err(LM_ERR_INVALID_ARG, "engine buffers: batch %zu x %zu "
                      "floats (the largest tensor of one image) x %zu slots, "
                      "plus %zu floats of workspace, overflow a size",
                      e->batch, z->tensor, n_slots + 2, z->tmp + z->ws);
    size_t have = lm_physical_memory();
    if (have && *bytes > have)
        return lm_err(LM_ERR_NOMEM, "engine buffers: batch %zu x %zu floats "
                      "(the largest tensor of one image) x %zu slots need "
                      "%zu bytes (%.1f GiB), more than this machine's %.1f "
                      "GiB of memory", e->batch, z->tensor, n_slots + 2,
                      *bytes, lm_gib(*bytes), lm_gib(have));
    return LM_OK;
}

static lm_status alloc_arena(lm_engine *e, size_t n_slots, const sizes *z)
{
    size_t slot = 0, bytes = 0;
    lm_status st = arena_size(e, n_slots, z, &slot, &bytes);
    if (st != LM_OK)
        return st;
    float *arena = malloc(bytes ? bytes : 1);
    float **bufs = malloc((n_slots ? n_slots : 1) * sizeof *bufs);
    if (!arena || !bufs) {
        free(arena);
        free(bufs);
        return lm_err(LM_ERR_NOMEM, "engine buffers: cannot allocate %zu "
                      "bytes (%.1f GiB) for batch %zu", bytes, lm_gib(bytes),
                      e->batch);
    }
    free(e->arena);
    free(e->bufs);
    e->arena = arena;
    e->bufs = bufs;
    e->n_slots = n_slots;
    e->slot_floats = slot;
    for (size_t i = 0; i < n_slots; i++)
        bufs[i] = arena + i * slot;
    e->scratch = arena + n_slots * slot;
    e->pre = e->scratch + slot;
    e->tmp = e->pre + slot;
    e->ws = e->tmp + z->tmp;
    return LM_OK;
}

static lm_status copy_plan(lm_eplan *dst, const lm_eplan *src)
{
    if (dst == src)
        return LM_OK;
    size_t n = src->n + 1, ns = src->n_skips ? src->n_skips : 1;
    lm_eplan c = {src->n, src->n_skips, malloc(n), malloc(n * sizeof(int64_t)),
                  malloc(n * sizeof(lm_act)), malloc(ns)};
    if (!c.keep || !c.padding || !c.act || !c.skip_on) {
        lm_eplan_free(&c);
        return lm_err_nomem();
    }
    memcpy(c.keep, src->keep, n);
    memcpy(c.padding, src->padding, n * sizeof(int64_t));
    memcpy(c.act, src->act, n * sizeof(lm_act));
    memcpy(c.skip_on, src->skip_on, src->n_skips);
    lm_eplan_free(dst);
    *dst = c;
    return LM_OK;
}

lm_status lm_engine_configure(lm_engine *e, const lm_eplan *plan)
{
    if (plan->n != e->n || plan->n_skips != e->n_skips)
        return lm_err(LM_ERR_MISMATCH, "plan for %zu convs and %zu skips, "
                      "engine has %zu and %zu", plan->n, plan->n_skips, e->n,
                      e->n_skips);
    for (size_t p = 1; p <= e->n; p++)
        if (plan->padding[p] < 0 || plan->padding[p] > LM_DIM_MAX)
            return lm_err(LM_ERR_INVALID_ARG, "conv %zu: padding %lld is "
                          "out of range 0..%lld", p,
                          (long long)plan->padding[p],
                          (long long)LM_DIM_MAX);
    e->configured = 0;
    sizes z = {0, 0, 0};
    size_t *last = malloc((e->n + 1) * sizeof *last);
    if (!last)
        return lm_err_nomem();
    lm_status st = shapes_at(e, plan, &z);
    size_t n_slots = st == LM_OK ? assign_slots(e, plan, last) : 0;
    free(last);
    if (st == LM_OK)
        st = alloc_arena(e, n_slots, &z);
    if (st == LM_OK)
        st = copy_plan(&e->plan, plan);
    e->configured = st == LM_OK;
    return st;
}

lm_status lm_eplan_default(lm_eplan *plan, const lm_engine *e)
{
    lm_eplan d = {.n = e->n, .n_skips = e->n_skips};
    lm_status st = copy_plan(&d, &e->original);
    if (st != LM_OK)
        return st;
    *plan = d;
    return LM_OK;
}

void lm_eplan_free(lm_eplan *plan)
{
    free(plan->keep);
    free(plan->padding);
    free(plan->act);
    free(plan->skip_on);
    plan->keep = NULL;
    plan->padding = NULL;
    plan->act = NULL;
    plan->skip_on = NULL;
}
