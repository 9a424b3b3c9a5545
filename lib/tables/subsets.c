/* lm_entries_create_from_table: the entries whose kept-conv subsets are
 * those a table was measured with (docs/method.md section 4: the subset is
 * part of an entry's data once anything is measured with it). */
#include <string.h>

#include "core/error.h"
#include "entries/entries_private.h"
#include "tables/table.h"

lm_status lm_entries_create_from_table(lm_entries **out,
                                       const lm_graph *graph,
                                       const lm_table *table)
{
    if (!out || !graph || !table)
        return lm_err(LM_ERR_INVALID_ARG, "lm_entries_create_from_table: "
                      "NULL argument");
    *out = NULL;
    lm_entries *e = NULL;
    lm_status st = lm_entries_create(&e, graph);
    if (st != LM_OK)
        return st;
    if (table->fingerprint[0] &&
        strcmp(table->fingerprint, lm_entries_fingerprint(e)) != 0) {
        lm_entries_destroy(e);
        return lm_err(LM_ERR_MISMATCH, "lm_entries_create_from_table: the "
                      "table is for graph '%s', the graph is '%s'",
                      table->fingerprint, lm_graph_fingerprint(graph));
    }
    for (size_t i = 0; st == LM_OK && i < table->n; i++) {
        const lm_trec *r = &table->recs[i];
        if (!r->has_convs)
            continue;
        lm_entry_key key = lm_tkey_public(&r->key);
        size_t id;
        st = lm_entries_find(&id, e, &key);
        if (st == LM_OK)
            st = lm_entries_use_subset(e, graph, id, r->convs, r->n_convs);
        if (st != LM_OK)
            st = lm_err_prefix(st, "lm_entries_create_from_table: record "
                               "%zu: ", i);
    }
    if (st != LM_OK) {
        lm_entries_destroy(e);
        return st;
    }
    *out = e;
    return LM_OK;
}

lm_status lm_table_check_subsets(const lm_table *t, const lm_entries *e)
{
    for (size_t i = 0; i < t->n; i++) {
        const lm_trec *r = &t->recs[i];
        if (!r->has_convs)
            continue;
        lm_entry_key key = lm_tkey_public(&r->key);
        size_t id;
        lm_entry_info info = {.size = sizeof info};
        if (lm_entries_find(&id, e, &key) != LM_OK ||
            lm_entries_entry_info(&info, e, id) != LM_OK)
            continue; /* lm_table_check names keys that are no entry */
        if (info.n_kept == r->n_convs &&
            (!info.n_kept ||
             !memcmp(info.kept, r->convs, info.n_kept * sizeof *info.kept)))
            continue;
        char a[1024] = "", b[1024] = "";
        lm_trec view = {.convs = (size_t *)info.kept, .n_convs = info.n_kept};
        lm_trec_convs_text(a, sizeof a, r);
        lm_trec_convs_text(b, sizeof b, &view);
        return lm_err(LM_ERR_MISMATCH, "entry %zu (st %zu, end %zu, K %lld): "
                      "the %s table measured it keeping convs {%s}, these "
                      "entries keep {%s}; build the entries from the table "
                      "(lm_entries_create_from_table)", id, info.st, info.end,
                      (long long)info.kernel, lm_table_kind_name(t->kind), a,
                      b);
    }
    return LM_OK;
}
