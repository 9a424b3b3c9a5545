/* The U-Net parts of the engine: per trunk conv its pre layers, the
 * GroupNorm that belongs to its position's activation and its time
 * projection; the network's time embedding, and the time bias each time
 * projection adds for the timesteps last set (docs/formats.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "engine/engine_internal.h"
#include "engine/kernels.h"

static float *floats(size_t n)
{
    return malloc((n ? n : 1) * sizeof(float));
}

static lm_status build_linear(lm_tensor_fn fn, void *ud, const char *what,
                              const char *name, int64_t in, int64_t out,
                              float **w, float **b)
{
    int64_t shape[2] = {out, in};
    *w = floats((size_t)out * (size_t)in);
    *b = floats((size_t)out);
    if (!*w || !*b)
        return lm_err_nomem();
    lm_status st = lm_engine_fetch(fn, ud, what, name, "weight", shape, 2, *w);
    if (st == LM_OK)
        st = lm_engine_fetch(fn, ud, what, name, "bias", shape, 1, *b);
    return st;
}

static lm_status build_conv_unet(lm_engine *e, const lm_graph *g, size_t p,
                                 lm_tensor_fn fn, void *ud)
{
    lm_eunet *u = &e->unet[p];
    lm_conv_info ci = {.size = sizeof ci};
    lm_status st = lm_graph_conv_info(&ci, g, p);
    if (st == LM_OK)
        st = lm_engine_build_site(g, LM_SITE_PRE, p, fn, ud, &u->pre);
    char what[320];
    int64_t c = ci.out_channels;
    if (st == LM_OK && ci.has_groupnorm) {
        snprintf(what, sizeof what, "conv %zu group norm", p);
        u->has_gn = 1;
        u->gn_groups = ci.groupnorm_groups;
        u->gn_eps = ci.groupnorm_eps;
        u->gn_gamma = floats((size_t)c);
        u->gn_beta = floats((size_t)c);
        if (!u->gn_gamma || !u->gn_beta)
            return lm_err_nomem();
        st = lm_engine_fetch(fn, ud, what, ci.groupnorm_name, "weight", &c, 1,
                             u->gn_gamma);
        if (st == LM_OK)
            st = lm_engine_fetch(fn, ud, what, ci.groupnorm_name, "bias", &c,
                                 1, u->gn_beta);
    }
    if (st == LM_OK && ci.has_time_projection) {
        snprintf(what, sizeof what, "conv %zu time projection", p);
        u->has_tproj = 1;
        st = build_linear(fn, ud, what, ci.time_projection_name, e->temb_ch,
                          c, &u->tproj_w, &u->tproj_b);
        u->tbias = floats(e->batch * (size_t)c);
        if (st == LM_OK && !u->tbias)
            st = lm_err_nomem();
    }
    return st;
}

lm_status lm_engine_build_unet(lm_engine *e, const lm_graph *g,
                               lm_tensor_fn fn, void *ud)
{
    lm_time_embedding_info te = {.size = sizeof te};
    lm_status st = lm_graph_time_embedding(&te, g);
    if (st == LM_OK && te.has_time_embedding) {
        e->has_temb = 1;
        e->temb_dim = te.dim;
        e->temb_ch = te.channels;
        st = build_linear(fn, ud, "time embedding dense0", te.dense0, te.dim,
                          te.channels, &e->temb_w[0], &e->temb_b[0]);
        if (st == LM_OK)
            st = build_linear(fn, ud, "time embedding dense1", te.dense1,
                              te.channels, te.channels, &e->temb_w[1],
                              &e->temb_b[1]);
    }
    for (size_t p = 1; st == LM_OK && p <= e->n; p++)
        st = build_conv_unet(e, g, p, fn, ud);
    return st;
}

void lm_engine_free_unet(lm_engine *e)
{
    for (size_t p = 0; e->unet && p <= e->n; p++) {
        lm_eunet *u = &e->unet[p];
        lm_eops_free(&u->pre);
        free(u->gn_gamma);
        free(u->gn_beta);
        free(u->tproj_w);
        free(u->tproj_b);
        free(u->tbias);
    }
    free(e->unet);
    e->unet = NULL;
    for (int i = 0; i < 2; i++) {
        free(e->temb_w[i]);
        free(e->temb_b[i]);
    }
}

static void silu(float *x, size_t n)
{
    lm_kact(LM_ACT_SILU, x, n);
}

/* temb = dense1(silu(dense0(sinusoid(t)))); each projection adds
 * W silu(temb) + b. */
lm_status lm_engine_time_bias(lm_engine *e, const float *t)
{
    size_t n = e->batch, ch = (size_t)e->temb_ch;
    float *sin_t = floats(n * (size_t)e->temb_dim), *h = floats(n * ch),
          *temb = floats(n * ch);
    lm_status st = sin_t && h && temb ? LM_OK : lm_err_nomem();
    if (st == LM_OK) {
        lm_ktimestep_embedding(t, n, e->temb_dim, sin_t);
        lm_klinear(sin_t, n, e->temb_dim, e->temb_ch, e->temb_w[0],
                   e->temb_b[0], h);
        silu(h, n * ch);
        lm_klinear(h, n, e->temb_ch, e->temb_ch, e->temb_w[1], e->temb_b[1],
                   temb);
        silu(temb, n * ch);
        for (size_t p = 1; p <= e->n; p++) {
            lm_eunet *u = &e->unet[p];
            if (u->has_tproj)
                lm_klinear(temb, n, e->temb_ch, e->trunk[p].k.cout,
                           u->tproj_w, u->tproj_b, u->tbias);
        }
    }
    free(sin_t);
    free(h);
    free(temb);
    return st;
}

lm_status lm_engine_set_timesteps(lm_engine *e, const float *t, size_t n)
{
    if (!e || !t)
        return lm_err(LM_ERR_INVALID_ARG,
                      "lm_engine_set_timesteps: NULL argument");
    if (!e->has_temb)
        return lm_err(LM_ERR_STATE, "lm_engine_set_timesteps: the network "
                      "has no time embedding");
    if (n != e->batch)
        return lm_err(LM_ERR_INVALID_ARG, "lm_engine_set_timesteps: got %zu "
                      "timesteps for a batch of %zu", n, e->batch);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(t[i]))
            return lm_err(LM_ERR_VALUE, "lm_engine_set_timesteps: timestep "
                          "%zu is not a finite number", i);
    lm_status st = lm_engine_time_bias(e, t);
    e->timesteps_set = st == LM_OK;
    return st;
}

lm_status lm_engine_timing_begin(lm_engine *e)
{
    if (!e->has_temb || e->timesteps_set)
        return LM_OK;
    float *t = floats(e->batch);
    if (!t)
        return lm_err_nomem();
    for (size_t i = 0; i < e->batch; i++)
        t[i] = 500.0f;
    lm_status st = lm_engine_time_bias(e, t);
    free(t);
    e->timing_timesteps = st == LM_OK;
    return st;
}

void lm_engine_timing_end(lm_engine *e)
{
    e->timing_timesteps = 0;
}
