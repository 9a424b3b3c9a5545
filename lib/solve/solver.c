/* lm_solver over entries and tables (LayerMerge and prune): copy every
 * entry's latency and importance, matched by key, and the original
 * activations. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/util.h"
#include "solve/solver_internal.h"
#include "graph/graph_query.h"
#include "entries/entry_key.h"
#include "tables/table.h"

/* How many missing ids a message lists before "...". */
#define LM_MISSING_SHOWN 8

lm_status lm_solver_alloc(lm_solver **out, lm_method family, size_t n_convs,
                          const char *fingerprint)
{
    *out = NULL;
    lm_solver *s = calloc(1, sizeof *s);
    if (!s)
        return lm_err_nomem();
    s->family = family;
    s->n_convs = n_convs;
    s->fingerprint = lm_strdup(fingerprint ? fingerprint : "");
    s->nonlinear = calloc(n_convs + 1, 1);
    if (!s->fingerprint || !s->nonlinear) {
        lm_solver_destroy(s);
        return lm_err_nomem();
    }
    *out = s;
    return LM_OK;
}

void lm_solver_destroy(lm_solver *s)
{
    if (!s)
        return;
    free(s->fingerprint);
    free(s->nonlinear);
    free(s->items);
    free(s->info);
    free(s->kept);
    free(s->conv_latency);
    free(s->conv_entry);
    free(s->required);
    free(s->conv_importance);
    free(s->segs);
    lm_k23_covers_free(s->covers, s->n_segs);
    free(s->ext);
    free(s->seg_kernel);
    free(s->seg_stride);
    free(s->seg_dw);
    free(s);
}

double lm_solver_original_latency(const lm_solver *s)
{
    return s ? s->original : 0.0;
}

double lm_solver_fixed_latency(const lm_solver *s)
{
    return s ? s->fixed : 0.0;
}

size_t lm_solver_conv_count(const lm_solver *s)
{
    return s ? s->n_convs : 0;
}

static lm_status same_graph(const char *what, const char *fp, const char *want)
{
    if (strcmp(fp, want) == 0)
        return LM_OK;
    return lm_err(LM_ERR_MISMATCH, "the %s belongs to the graph with "
                  "fingerprint '%s', not to this graph ('%s')", what, fp,
                  want);
}

static lm_status check_inputs(const lm_graph *g, const lm_entries *e,
                              const lm_table *lat,
                              const lm_table *imp)
{
    if (!g || !e || !lat)
        return lm_err(LM_ERR_INVALID_ARG, "lm_solver_create: NULL graph, "
                      "entries or latency table");
    const char *fp = lm_graph_fingerprint(g);
    if (!fp)
        return lm_err(LM_ERR_INVALID_ARG, "lm_solver_create: the graph is "
                      "not validated");
    lm_status st = same_graph("entry list", lm_entries_fingerprint(e), fp);
    if (st == LM_OK)
        st = same_graph("latency table", lm_table_fingerprint(lat), fp);
    if (st == LM_OK && imp)
        st = same_graph("importance table",
                        lm_table_fingerprint(imp), fp);
    /* The importance belongs to the subset it was measured with: solving
     * it with another would build a network nobody measured. (A latency
     * depends only on the merged conv's shape, not on which convs it
     * merges, so a latency table's subsets are not held to this.) */
    if (st == LM_OK && imp)
        st = lm_table_check_subsets(imp, e);
    return st;
}

static void key_text(char *buf, size_t cap, const lm_entry_info *in)
{
    snprintf(buf, cap, "id %zu (st %zu, end %zu, K %lld, stride %lld, dw %d)",
             in->id, in->st, in->end, (long long)in->kernel,
             (long long)in->stride, (int)in->depthwise);
}

/* Collects the entries a table lacks into one message. */
typedef struct missing_list {
    size_t n;
    char text[LM_MISSING_SHOWN * 72 + 64];
    size_t len;
} missing_list;

static void missing_add(missing_list *m, const lm_entry_info *in)
{
    if (m->n++ >= LM_MISSING_SHOWN)
        return;
    char key[96];
    key_text(key, sizeof key, in);
    int w = snprintf(m->text + m->len, sizeof m->text - m->len, "%s%s",
                     m->len ? ", " : "", key);
    if (w > 0 && (size_t)w < sizeof m->text - m->len)
        m->len += (size_t)w;
}

static lm_status missing_report(const missing_list *m, const char *table)
{
    if (m->n == 0)
        return LM_OK;
    return lm_err(LM_ERR_MISSING, "the %s table has no value for %zu "
                  "entr%s: %s%s", table, m->n, m->n == 1 ? "y" : "ies",
                  m->text, m->n > LM_MISSING_SHOWN ? ", ..." : "");
}

static lm_status entry_values(const lm_entry_info *in,
                              const lm_table *lat,
                              const lm_table *imp, double *ms,
                              double *value, missing_list *ml,
                              missing_list *mi)
{
    *ms = 0.0;
    *value = 0.0;
    lm_entry_key k = lm_entry_key_of(in);
    if (!in->identity && lm_table_get(ms, NULL, lat, &k) != LM_OK)
        missing_add(ml, in);
    if (imp && lm_table_get(value, NULL, imp, &k) != LM_OK)
        missing_add(mi, in);
    char key[96];
    key_text(key, sizeof key, in);
    if (!(isfinite(*ms) && *ms >= 0.0))
        return lm_err(LM_ERR_VALUE, "entry %s: latency %g is not a finite "
                      "number >= 0", key, *ms);
    if (!isfinite(*value))
        return lm_err(LM_ERR_VALUE, "entry %s: importance %g is not finite",
                      key, *value);
    return LM_OK;
}

static lm_status alloc_items(lm_solver *s, const lm_entries *e)
{
    size_t n = lm_entries_count(e), n_kept = 0;
    for (size_t id = 0; id < n; id++) {
        lm_entry_info in = {.size = sizeof in};
        lm_status st = lm_entries_entry_info(&in, e, id);
        if (st != LM_OK)
            return st;
        n_kept += in.n_kept;
    }
    s->n_items = n;
    s->items = calloc(n ? n : 1, sizeof *s->items);
    s->info = calloc(n ? n : 1, sizeof *s->info);
    s->kept = calloc(n_kept ? n_kept : 1, sizeof *s->kept);
    if (!s->items || !s->info || !s->kept)
        return lm_err_nomem();
    return LM_OK;
}

static lm_status copy_entries(lm_solver *s, const lm_entries *e,
                              const lm_table *lat,
                              const lm_table *imp)
{
    lm_status st = alloc_items(s, e);
    missing_list ml = {0}, mi = {0};
    size_t off = 0;
    for (size_t id = 0; id < s->n_items && st == LM_OK; id++) {
        lm_entry_info in = {.size = sizeof in};
        st = lm_entries_entry_info(&in, e, id);
        double ms = 0.0, value = 0.0;
        if (st == LM_OK)
            st = entry_values(&in, lat, imp, &ms, &value, &ml, &mi);
        if (st != LM_OK)
            break;
        s->items[id] = (lm_dp_item){(uint32_t)in.st, (uint32_t)in.end, ms,
                                    value, (int64_t)id};
        s->info[id] = (lm_sitem){id, in.kernel, in.stride, in.depthwise,
                                 in.identity, in.n_kept, off};
        if (in.n_kept)
            memcpy(s->kept + off, in.kept, in.n_kept * sizeof *in.kept);
        off += in.n_kept;
    }
    if (st == LM_OK)
        st = missing_report(&ml, "latency");
    if (st == LM_OK)
        st = missing_report(&mi, "importance");
    return st;
}

/* Per conv: its single-conv entry, latency, and whether it is
 * irreducible (docs/method.md section 4: in != out channels, or stride > 1).
 */
static lm_status copy_convs(lm_solver *s, const lm_graph *g,
                            const lm_entries *e)
{
    size_t n = s->n_convs;
    s->conv_latency = calloc(n ? n : 1, sizeof *s->conv_latency);
    s->conv_entry = calloc(n ? n : 1, sizeof *s->conv_entry);
    s->required = calloc(n ? n : 1, 1);
    if (!s->conv_latency || !s->conv_entry || !s->required)
        return lm_err_nomem();
    lm_act nl = lm_graph_nonlinearity(g);
    s->has_nonlinearity = nl != LM_ACT_IDENTITY;
    for (size_t c = 1; c <= n; c++) {
        size_t id = 0;
        lm_status st = lm_entries_find_original(&id, e, c);
        if (st != LM_OK)
            return st;
        lm_conv_info ci = {.size = sizeof ci};
        st = lm_graph_conv_info(&ci, g, c);
        if (st != LM_OK)
            return st;
        s->conv_entry[c - 1] = id;
        s->conv_latency[c - 1] = s->items[id].latency;
        s->required[c - 1] = ci.in_channels != ci.out_channels ||
                             ci.stride > 1;
        s->nonlinear[c] = lm_graph_position_act(g, c) != LM_ACT_IDENTITY;
        s->original += s->items[id].latency;
    }
    s->original += s->fixed;
    return LM_OK;
}

lm_status lm_solver_create(lm_solver **out, const lm_graph *graph,
                           const lm_entries *entries,
                           const lm_table *latency,
                           const lm_table *importance)
{
    if (!out)
        return lm_err(LM_ERR_INVALID_ARG, "lm_solver_create: NULL out");
    *out = NULL;
    if ((latency && lm_table_get_kind(latency) != LM_TABLE_LATENCY) ||
        (importance && lm_table_get_kind(importance) != LM_TABLE_IMPORTANCE))
        return lm_err(LM_ERR_INVALID_ARG, "lm_solver_create: the latency "
                      "argument must be a latency table and the importance "
                      "argument an importance table (given: %s, %s)",
                      latency ? lm_table_kind_name(lm_table_get_kind(latency))
                              : "none",
                      importance
                          ? lm_table_kind_name(lm_table_get_kind(importance))
                          : "none");
    lm_status st = check_inputs(graph, entries, latency, importance);
    if (st != LM_OK)
        return st;
    if (lm_entries_conv_count(entries) != lm_graph_conv_count(graph))
        return lm_err(LM_ERR_MISMATCH, "the entry list has %zu convs, the "
                      "graph %zu", lm_entries_conv_count(entries),
                      lm_graph_conv_count(graph));
    lm_solver *s = NULL;
    st = lm_solver_alloc(&s, LM_METHOD_LAYERMERGE,
                         lm_graph_conv_count(graph),
                         lm_graph_fingerprint(graph));
    if (st == LM_OK)
        st = copy_entries(s, entries, latency, importance);
    lm_table_network net = {.size = sizeof net};
    if (st == LM_OK && (st = lm_table_network_info(&net, latency)) == LM_OK)
        s->fixed = net.fixed_ms;
    if (st == LM_OK)
        st = copy_convs(s, graph, entries);
    if (st != LM_OK) {
        lm_solver_destroy(s);
        return st;
    }
    s->has_importance = importance != NULL;
    *out = s;
    return LM_OK;
}

lm_status lm_solver_set_conv_importance(lm_solver *s, const double *imp,
                                        size_t n)
{
    if (!s || (!imp && n))
        return lm_err(LM_ERR_INVALID_ARG, "lm_solver_set_conv_importance: "
                      "NULL argument");
    if (s->family != LM_METHOD_LAYERMERGE)
        return lm_err(LM_ERR_INVALID_ARG, "conv importances are for pruning; "
                      "this is a kim23 solver");
    if (n != s->n_convs)
        return lm_err(LM_ERR_INVALID_ARG, "%zu conv importances given, the "
                      "graph has %zu convs", n, s->n_convs);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(imp[i]))
            return lm_err(LM_ERR_VALUE, "importance of conv %zu is %g, not a "
                          "finite number", i + 1, imp[i]);
    double *copy = malloc((n ? n : 1) * sizeof *copy);
    if (!copy)
        return lm_err_nomem();
    if (n)
        memcpy(copy, imp, n * sizeof *imp);
    free(s->conv_importance);
    s->conv_importance = copy;
    return LM_OK;
}
