/* Tensors whose meaning the merge changes: batch norms folded into the conv
 * before them, under a name the original network does not have, with the
 * modules they came from in the merged weights' metadata (docs/formats.md,
 * "Merged networks"). */
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/strbuf.h"
#include "netmerge/netmerge_internal.h"

lm_status lm_nm_tensor(const lm_weights *w, const char *name,
                       const char *suffix, size_t expect, const float **out)
{
    lm_strbuf full = LM_STRBUF_INIT("tensor name");
    size_t n = 0;
    lm_status st = lm_strbuf_setf(&full, "%s%s", name ? name : "", suffix);
    if (st == LM_OK)
        st = lm_weights_data_f32(out, &n, w, full.s);
    if (st == LM_OK && n != expect)
        st = lm_err(LM_ERR_MISMATCH, "tensor '%s' has %zu values, %zu "
                    "expected", full.s, n, expect);
    lm_strbuf_free(&full);
    return st;
}

lm_status lm_nm_bn_desc(lm_bn_desc *bn, const lm_weights *w, const char *name,
                        size_t channels, double eps)
{
    *bn = (lm_bn_desc){.size = sizeof *bn, .eps = eps};
    lm_status st = lm_nm_tensor(w, name, ".weight", channels, &bn->gamma);
    if (st == LM_OK)
        st = lm_nm_tensor(w, name, ".bias", channels, &bn->beta);
    if (st == LM_OK)
        st = lm_nm_tensor(w, name, ".running_mean", channels, &bn->mean);
    if (st == LM_OK)
        st = lm_nm_tensor(w, name, ".running_var", channels, &bn->var);
    return st;
}

lm_status lm_nm_fold(lm_nm_folded *out, const lm_weights *w,
                     const char *conv, int has_bias, size_t out_channels,
                     size_t per_channel, const char *bn_name, double eps)
{
    *out = (lm_nm_folded){NULL, NULL};
    const float *wt = NULL, *b = NULL;
    lm_bn_desc bn;
    lm_status st = lm_nm_tensor(w, conv, ".weight", out_channels * per_channel,
                                &wt);
    if (st == LM_OK && has_bias)
        st = lm_nm_tensor(w, conv, ".bias", out_channels, &b);
    if (st == LM_OK)
        st = lm_nm_bn_desc(&bn, w, bn_name, out_channels, eps);
    if (st != LM_OK)
        return st;
    float *fw = malloc(out_channels * per_channel * sizeof *fw);
    float *fb = malloc(out_channels * sizeof *fb);
    if (!fw || !fb)
        st = lm_err_nomem();
    if (st == LM_OK)
        st = lm_bn_fold(fw, fb, wt, b, out_channels, per_channel, &bn);
    if (st != LM_OK) {
        free(fw);
        free(fb);
        return lm_err_prefix(st, "folding batch norm '%s' into conv '%s': ",
                             bn_name ? bn_name : "unnamed",
                             conv ? conv : "unnamed");
    }
    out->weight = fw;
    out->bias = fb;
    return LM_OK;
}

void lm_nm_folded_free(lm_nm_folded *f)
{
    free(f->weight);
    free(f->bias);
    f->weight = NULL;
    f->bias = NULL;
}

/* 1 when `w` holds module.weight or module.bias. */
static int taken(const lm_weights *w, const char *module, lm_status *st)
{
    static const char *const parts[] = {".weight", ".bias"};
    lm_strbuf full = LM_STRBUF_INIT("tensor name");
    int found = 0;
    for (size_t i = 0; i < 2 && !found && *st == LM_OK; i++) {
        *st = lm_strbuf_setf(&full, "%s%s", module, parts[i]);
        found = *st == LM_OK && lm_weights_find(NULL, w, full.s) == LM_OK;
    }
    lm_strbuf_free(&full);
    return found;
}

lm_status lm_nm_fresh_name(lm_strbuf *out, const lm_weights *original,
                           const lm_weights *merged, const char *base)
{
    /* Far more than a network merged again and again can need. */
    enum { MAX_TRIES = 1000 };
    lm_status st = LM_OK;
    for (unsigned k = 1; k <= MAX_TRIES && st == LM_OK; k++) {
        st = k == 1 ? lm_strbuf_setf(out, "%s", base)
                    : lm_strbuf_setf(out, "%s.%u", base, k);
        if (st == LM_OK && !taken(original, lm_strbuf_str(out), &st) &&
            !taken(merged, lm_strbuf_str(out), &st))
            return st;
    }
    if (st != LM_OK)
        return st;
    return lm_err(LM_ERR_UNSUPPORTED, "no free name for merged module '%s' "
                  "(%s.2 .. %s.%u are all taken)", base, base, base,
                  (unsigned)MAX_TRIES);
}

void lm_nm_from_add(lm_strbuf *from, const char *module)
{
    if (!from || !module || !*module)
        return;
    if (from->len)
        lm_strbuf_appendc(from, ' ');
    lm_strbuf_append(from, module);
}

lm_status lm_nm_note_origin(lm_weights *merged, const char *name,
                            const lm_strbuf *from)
{
    lm_strbuf key = LM_STRBUF_INIT("metadata key");
    lm_status st = lm_strbuf_status(from);
    if (st == LM_OK)
        st = lm_strbuf_setf(&key, "layermerge.merged_from.%s", name);
    if (st == LM_OK)
        st = lm_weights_meta_set(merged, key.s, lm_strbuf_str(from));
    lm_strbuf_free(&key);
    return st;
}

lm_status lm_nm_write_conv(lm_weights *merged, const char *name,
                           const int64_t shape[4], const float *weight,
                           const float *bias)
{
    lm_strbuf full = LM_STRBUF_INIT("merged tensor name");
    int64_t out = shape[0];
    lm_status st = lm_strbuf_setf(&full, "%s.weight", name);
    if (st == LM_OK)
        st = lm_weights_set_f32(merged, full.s, shape, 4, weight);
    if (st == LM_OK)
        st = lm_strbuf_setf(&full, "%s.bias", name);
    if (st == LM_OK)
        st = lm_weights_set_f32(merged, full.s, &out, 1, bias);
    lm_strbuf_free(&full);
    return st;
}
