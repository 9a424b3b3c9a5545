/* The options of one segment (docs/method.md section 4), deduplicated by (K,
 * depthwise).
 *
 * Enumerating the 2^n subsets would not scale past ~20 convs, so this is a
 * dynamic program over the convs from last to first whose states are the
 * merged (sum of k - 1, all-depthwise, non-empty) of the suffix. Every
 * subset reaches exactly one state, so keeping the best subset per state
 * considers every subset, whatever its number of convs. "Best" is the
 * largest summed score, then the subset keeping the earliest convs; both
 * orders are separable over a suffix, which is what makes the backward
 * pass exact. */
#include <stdlib.h>

#include "core/error.h"
#include "entries/entries_private.h"

/* Beyond this the state table would not fit comfortably in memory; no real
 * network comes near (ResNet-34's largest segment needs 41 x 4 states). */
#define LM_MAX_DP_CELLS ((size_t)1 << 26)

typedef struct dp_tab {
    size_t n;              /* convs */
    size_t ns;             /* states per level */
    double *score;         /* (n + 1) x ns: best score reaching a state */
    unsigned char *reach;  /* (n + 1) x ns */
    unsigned char *keep;   /* n x ns: conv i kept on the best path */
    size_t *from;          /* n x ns: state at level i + 1 on the best path */
} dp_tab;

static size_t state_of(size_t ks, int dw, int ne)
{
    return (ks * 2 + (size_t)dw) * 2 + (size_t)ne;
}

void lm_optset_free(lm_optset *set)
{
    if (!set)
        return;
    free(set->opts);
    free(set->kept);
    set->opts = NULL;
    set->kept = NULL;
    set->count = set->kept_len = 0;
}

static void dp_free(dp_tab *t)
{
    free(t->score);
    free(t->reach);
    free(t->keep);
    free(t->from);
}

static lm_status dp_alloc(dp_tab *t, size_t n, size_t kmax)
{
    t->n = n;
    if (kmax >= LM_MAX_DP_CELLS)
        return LM_ERR_UNSUPPORTED;
    t->ns = (kmax + 1) * 4;
    if (t->ns > LM_MAX_DP_CELLS / (n + 1))
        return LM_ERR_UNSUPPORTED;
    size_t cells = (n + 1) * t->ns;
    t->score = calloc(cells, sizeof *t->score);
    t->reach = calloc(cells, 1);
    t->keep = calloc(cells, 1);
    t->from = calloc(cells, sizeof *t->from);
    if (!t->score || !t->reach || !t->keep || !t->from)
        return lm_err_nomem();
    return LM_OK;
}

/* At equal score: does the path (keep_a, from_a) chosen at level i keep an
 * earlier conv than (keep_b, from_b)? Walk both suffixes until they meet. */
static int earlier_keeps(const dp_tab *t, size_t i, int keep_a, size_t a,
                         int keep_b, size_t b)
{
    if (keep_a != keep_b)
        return keep_a;
    for (size_t j = i + 1; j < t->n && a != b; j++) {
        int ka = t->keep[j * t->ns + a], kb = t->keep[j * t->ns + b];
        if (ka != kb)
            return ka;
        a = t->from[j * t->ns + a];
        b = t->from[j * t->ns + b];
    }
    return 0;
}

static void consider(dp_tab *t, size_t i, size_t to, int keep, size_t from,
                     double score)
{
    size_t c = i * t->ns + to;
    if (t->reach[c]) {
        if (score < t->score[c])
            return;
        if (score == t->score[c] &&
            !earlier_keeps(t, i, keep, from, t->keep[c], t->from[c]))
            return;
    }
    t->reach[c] = 1;
    t->score[c] = score;
    t->keep[c] = (unsigned char)keep;
    t->from[c] = from;
}

static void dp_run(dp_tab *t, const lm_conv_traits *conv,
                   const unsigned char *force_in,
                   const unsigned char *force_out)
{
    size_t ns = t->ns;
    t->reach[t->n * ns + state_of(0, 1, 0)] = 1;
    for (size_t i = t->n; i-- > 0;) {
        const unsigned char *nreach = t->reach + (i + 1) * ns;
        const double *nscore = t->score + (i + 1) * ns;
        size_t grow = (size_t)(conv[i].kernel - 1);
        for (size_t s = 0; s < ns; s++) {
            if (!nreach[s])
                continue;
            if (!force_in[i])
                consider(t, i, s, 0, s, nscore[s]);
            if (!force_out[i]) {
                size_t ks = s / 4;
                int dw = (int)((s / 2) % 2) && conv[i].depthwise;
                consider(t, i, state_of(ks + grow, dw, 1), 1, s,
                         nscore[s] + conv[i].score);
            }
        }
    }
}

/* Which convs the stride rule and irreducibility force in or out; 0 when
 * the segment has no option at all. */
static int force_flags(const lm_conv_traits *conv, size_t n,
                       unsigned char *force_in, unsigned char *force_out,
                       size_t *kmax)
{
    int strided = 0;
    *kmax = 0;
    for (size_t i = 0; i < n; i++) {
        force_in[i] = (unsigned char)conv[i].irreducible;
        if (strided && conv[i].kernel > 1) {
            /* Strided convs are irreducible, hence always kept: anything
             * after the first one must be 1x1 or pruned. */
            if (conv[i].irreducible)
                return 0;
            force_out[i] = 1;
        }
        if (conv[i].stride > 1)
            strided = 1;
        /* Saturate: dp_alloc refuses anything this large anyway. */
        if (!force_out[i])
            *kmax = conv[i].kernel - 1 >= (int64_t)LM_MAX_DP_CELLS
                        ? LM_MAX_DP_CELLS
                        : *kmax + (size_t)(conv[i].kernel - 1);
    }
    return 1;
}

static lm_status push_option(lm_optset *out, const dp_tab *t,
                             const lm_conv_traits *conv, size_t first,
                             size_t s, int identity)
{
    lm_option *o = &out->opts[out->count++];
    o->kernel = identity ? 0 : (int64_t)(s / 4) + 1;
    o->depthwise = (int32_t)((s / 2) % 2);
    o->identity = identity;
    o->stride = 1;
    o->padding = 0;
    o->kept_off = out->kept_len;
    o->n_kept = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (t->keep[i * t->ns + s]) {
            if (o->stride > INT64_MAX / conv[i].stride)
                return lm_err(LM_ERR_UNSUPPORTED,
                              "conv %zu: merged stride overflows", first + i);
            o->stride *= conv[i].stride;
            o->padding += conv[i].padding;
            out->kept[out->kept_len++] = first + i;
            o->n_kept++;
        }
        s = t->from[i * t->ns + s];
    }
    return LM_OK;
}

static lm_status collect(lm_optset *out, const dp_tab *t,
                         const lm_conv_traits *conv, size_t first,
                         int identity_allowed)
{
    size_t kmax = t->ns / 4 - 1;
    out->opts = calloc(2 * (kmax + 1) + 1, sizeof *out->opts);
    out->kept = calloc((2 * (kmax + 1) + 1) * (t->n ? t->n : 1),
                       sizeof *out->kept);
    if (!out->opts || !out->kept)
        return lm_err_nomem();
    lm_status st = LM_OK;
    if (identity_allowed && t->reach[state_of(0, 1, 0)])
        st = push_option(out, t, conv, first, state_of(0, 1, 0), 1);
    for (size_t ks = 0; ks <= kmax && st == LM_OK; ks++)
        for (int dw = 0; dw <= 1 && st == LM_OK; dw++)
            if (t->reach[state_of(ks, dw, 1)])
                st = push_option(out, t, conv, first, state_of(ks, dw, 1), 0);
    return st;
}

lm_status lm_segment_options(const lm_conv_traits *conv, size_t n,
                             size_t first, int identity_allowed,
                             lm_optset *out)
{
    out->opts = NULL;
    out->kept = NULL;
    out->count = out->kept_len = 0;
    unsigned char *force = calloc(2 * n + 1, 1);
    if (!force)
        return lm_err_nomem();
    size_t kmax = 0;
    dp_tab t = {0};
    lm_status st = LM_OK;
    if (force_flags(conv, n, force, force + n, &kmax)) {
        st = dp_alloc(&t, n, kmax);
        if (st == LM_ERR_UNSUPPORTED)
            lm_err(st, "segment of convs %zu..%zu: merged kernels up to %zu "
                   "need too large a table", first, first + n - 1, kmax + 1);
        else if (st != LM_OK)
            lm_err_nomem();
        if (st == LM_OK) {
            dp_run(&t, conv, force, force + n);
            st = collect(out, &t, conv, first, identity_allowed);
        }
    }
    dp_free(&t);
    free(force);
    return st;
}
