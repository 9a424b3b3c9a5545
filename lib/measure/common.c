/* Helpers shared by the latency measurement and the proxy importance:
 * clock, device description, shape scaling, end activation, resizing. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#ifdef LM_HAVE_OPENBLAS_THREADS
#endif

#include "core/error.h"
#include "measure/measure_internal.h"
#include "graph/graph_query.h"

double lm_measure_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0.0;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The first "model name" of /proc/cpuinfo, trimmed; "" when absent (not
 * Linux, or an ARM kernel that does not name the core). */
static void cpu_model(char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *fp = fopen("/proc/cpuinfo", "r");
    if (!fp)
        return;
    char line[512];
    while (fgets(line, sizeof line, fp)) {
        if (strncmp(line, "model name", 10) != 0)
            continue;
        const char *v = strchr(line, ':');
        if (!v)
            break;
        v++;
        while (*v == ' ' || *v == '\t')
            v++;
        snprintf(buf, cap, "%s", v);
        size_t n = strlen(buf);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
            buf[--n] = '\0';
        break;
    }
    fclose(fp);
}

void lm_measure_device(char *buf, size_t cap)
{
    char model[256];
    cpu_model(model, sizeof model);
    int n = snprintf(buf, cap, "cpu%s%s", model[0] ? " " : "", model);
    /* The thread count has its own provenance field (LM_TABLE_THREADS). */
    (void)n;
}

int64_t lm_measure_scale(int64_t v, int64_t to, int64_t from)
{
    if (to <= 0 || from <= 0)
        return v;
    int64_t s = (v * to + from / 2) / from;
    return s < 1 ? 1 : s;
}

void lm_measure_entry_size(const lm_graph *g, const lm_entry_info *e,
                           int64_t to_h, int64_t to_w, int64_t from_h,
                           int64_t from_w, int64_t *h, int64_t *w)
{
    int64_t c = 0, ph = e->in_height, pw = e->in_width;
    /* A pad in front of the first conv adds a fixed margin at any size. */
    if (lm_graph_position_chw(g, e->st, &c, &ph, &pw) != LM_OK) {
        ph = e->in_height;
        pw = e->in_width;
    }
    *h = lm_measure_scale(ph, to_h, from_h) + (e->in_height - ph);
    *w = lm_measure_scale(pw, to_w, from_w) + (e->in_width - pw);
}

lm_act lm_measure_end_act(const lm_graph *graph, size_t st, size_t end)
{
    lm_act act = lm_graph_position_act(graph, end);
    if (end - st > 1 && act == LM_ACT_IDENTITY)
        return lm_graph_nonlinearity(graph);
    return act;
}

lm_status lm_measure_resized_graph(lm_graph **out, const lm_graph *graph,
                                   int64_t height, int64_t width)
{
    lm_graph *g = NULL;
    lm_status st = lm_graph_clone(&g, graph);
    if (st != LM_OK)
        return st;
    if (height > 0) {
        int64_t c, h, w;
        lm_graph_input_chw(g, &c, &h, &w);
        st = lm_graph_set_input_shape(g, c, height, width);
        if (st == LM_OK)
            st = lm_graph_validate(g);
        if (st != LM_OK) {
            lm_graph_destroy(g);
            return lm_err_prefix(st, "at input size %lldx%lld: ",
                                 (long long)height, (long long)width);
        }
    }
    *out = g;
    return LM_OK;
}

lm_status lm_measure_same_int(const char *what, int64_t have, int64_t want)
{
    if (have == 0 || have == want)
        return LM_OK;
    return lm_err(LM_ERR_MISMATCH,
                  "the table was measured with %s %lld, this run uses %lld",
                  what, (long long)have, (long long)want);
}

lm_status lm_measure_check_owner(const char *what, const lm_graph *graph,
                                 const lm_entries *entries,
                                 const char *table_fp)
{
    const char *gf = lm_graph_fingerprint(graph);
    const char *ef = lm_entries_fingerprint(entries);
    if (!gf || strcmp(gf, ef) != 0)
        return lm_err(LM_ERR_MISMATCH, "%s: the entries (graph %s) were not "
                      "built from this graph (%s)", what, ef,
                      gf ? gf : "not validated");
    if (strcmp(table_fp, ef) != 0)
        return lm_err(LM_ERR_MISMATCH, "%s: the table belongs to graph %s, "
                      "the entries to graph %s", what, table_fp, ef);
    return LM_OK;
}
