/* The structure fingerprint: 64-bit FNV-1a over a canonical sequence of
 * 64-bit little-endian integers (the order is documented in graph.h), so
 * that it does not depend on the host, on names or on BN eps. */
#include <stdio.h>

#include "graph/graph_internal.h"

typedef struct fnv {
    uint64_t h;
} fnv;

static void put(fnv *f, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < 8; i++) {
        f->h ^= (u >> (8 * i)) & 0xffu;
        f->h *= UINT64_C(0x100000001b3);
    }
}

static void put_layers(fnv *f, const lm_glist *list)
{
    put(f, (int64_t)list->n);
    for (size_t i = 0; i < list->n; i++) {
        const lm_glayer *l = &list->items[i];
        const int64_t v[] = {l->kind, l->act, l->in, l->out, l->kernel,
                             l->stride, l->padding, l->groups, l->out_h,
                             l->out_w, l->has_bias};
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
            put(f, v[k]);
        if (l->kind >= LM_LAYER_GROUPNORM) {
            const int64_t u[] = {l->pad_t, l->pad_l, l->pad_b, l->pad_r,
                                 l->scale};
            for (size_t k = 0; k < sizeof u / sizeof u[0]; k++)
                put(f, u[k]);
        }
    }
}

static void put_trunk(fnv *f, const lm_graph *g)
{
    put(f, (int64_t)g->n_convs);
    put(f, g->pos[0].barrier);
    for (size_t p = 1; p <= g->n_convs; p++) {
        const lm_gconv *c = &g->convs[p - 1];
        const lm_gpos *pos = &g->pos[p];
        const int64_t v[] = {c->in, c->out, c->kernel, c->stride,
                             c->padding, c->groups, c->has_bias, c->has_bn,
                             pos->act, pos->barrier, pos->identity_option};
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
            put(f, v[k]);
        put_layers(f, &pos->layers);
        /* Only where present, so that other graphs keep their prints;
         * -1 cannot start the next conv (sizes are positive). */
        if (c->has_gn || c->has_tproj || c->pre.n) {
            put(f, -1);
            put(f, c->has_gn);
            put(f, c->has_gn ? c->gn_groups : 0);
            put(f, c->has_tproj);
            put_layers(f, &c->pre);
        }
    }
}

static void put_skips(fnv *f, const lm_graph *g)
{
    put(f, (int64_t)g->n_skips);
    for (size_t i = 0; i < g->n_skips; i++) {
        const lm_gskip *s = &g->skips[i];
        put(f, (int64_t)s->source);
        put(f, (int64_t)s->target);
        put(f, s->concat ? 2 : s->has_proj);
        if (s->has_proj) {
            put(f, s->proj.stride);
            put(f, s->proj.has_bias);
            put(f, s->proj.has_bn);
        }
    }
}

void lm_graph_compute_fingerprint(lm_graph *g)
{
    fnv f = {UINT64_C(0xcbf29ce484222325)};
    put(&f, 1); /* version of this canonical form */
    put(&f, g->input.c);
    put(&f, g->input.h);
    put(&f, g->input.w);
    put(&f, lm_graph_nonlinearity(g));
    put_layers(&f, &g->stem);
    put_trunk(&f, g);
    put_skips(&f, g);
    put_layers(&f, &g->head);
    if (g->has_temb) {
        put(&f, -1);
        put(&f, g->temb_dim);
        put(&f, g->temb_ch);
    }
    snprintf(g->fingerprint, sizeof g->fingerprint, "%016llx",
             (unsigned long long)f.h);
}
