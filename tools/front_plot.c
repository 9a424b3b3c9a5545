/* The Pareto front plot and CSV of front_plot.h. */
#include "front_plot.h"

#include "commands.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t lm_tool_pruned_convs(const lm_result *r)
{
    size_t n = 0;
    for (size_t c = 1; c <= lm_result_conv_count(r); c++) {
        lm_result_conv info = {.size = sizeof info};
        n += lm_result_conv_info(&info, r, c) == LM_OK && !info.kept;
    }
    return n;
}

size_t lm_tool_kept_activations(const lm_result *r)
{
    size_t n = 0;
    for (size_t p = 1; p <= lm_result_conv_count(r); p++) {
        lm_result_position info = {.size = sizeof info};
        n += lm_result_position_info(&info, r, p) == LM_OK &&
             info.activation_kept;
    }
    return n;
}

int lm_tool_parse_ratios(const char *s, double *out, size_t max, size_t *n)
{
    *n = 0;
    while (*s) {
        char *end = NULL;
        errno = 0;
        double r = strtod(s, &end);
        if (end == s || errno || !(r > 0.0 && r <= 1.0) || *n == max)
            return 0;
        out[(*n)++] = r;
        if (*end == ',')
            end++;
        else if (*end)
            return 0;
        s = end;
    }
    return *n > 0;
}

double lm_tool_original_importance(const lm_entries *entries,
                                   const lm_table *imp)
{
    if (!entries || !imp)
        return NAN;
    double sum = 0.0;
    for (size_t c = 1; c <= lm_entries_conv_count(entries); c++) {
        size_t id = 0;
        double v = 0.0;
        if (lm_entries_find_original(&id, entries, c) != LM_OK ||
            lm_table_get_entry(&v, NULL, imp, entries, id) != LM_OK)
            return NAN;
        sum += v;
    }
    return sum;
}

void lm_tool_front_csv(lm_tool_buf *b, const lm_front *f)
{
    lm_buf_printf(b, "point,latency_ms,latency_units,importance,segments,"
                  "pruned_convs,kept_activations\n");
    for (size_t i = 0; i < lm_front_count(f); i++) {
        const lm_result *r = lm_front_get(f, i);
        lm_buf_printf(b, "%zu,%.17g,%lld,%.17g,%zu,%zu,%zu\n", i,
                      lm_result_latency(r),
                      (long long)lm_result_latency_units(r),
                      lm_result_importance(r), lm_result_segment_count(r),
                      lm_tool_pruned_convs(r), lm_tool_kept_activations(r));
    }
}

/* A tooltip naming a solution's numbers. */
static char *result_tip(const lm_result *r, const char *what)
{
    char lat[32], imp[32], *tip = malloc(200);
    if (!tip)
        return NULL;
    lm_tool_human(lat, sizeof lat, lm_result_latency(r));
    lm_tool_human(imp, sizeof imp, lm_result_importance(r));
    snprintf(tip, 200, "%s%s ms, importance %s, %zu segments, %zu pruned "
             "convs", what, lat, imp, lm_result_segment_count(r),
             lm_tool_pruned_convs(r));
    return tip;
}

void lm_tool_front_svg(lm_tool_buf *b, const lm_tool_front_plot *p)
{
    size_t n = lm_front_count(p->front), m = p->n_marks;
    size_t slots = n + 2 * m + 1;
    double *v = calloc(4 * slots, sizeof *v);
    char **tips = calloc(slots, sizeof *tips);
    char **labels = calloc(m + 1, sizeof *labels);
    lm_plot_vline *vl = calloc(m + 1, sizeof *vl);
    if (!v || !tips || !labels || !vl) {
        b->failed = 1;
        goto out;
    }
    double *fx = v, *fy = v + slots, *mx = v + 2 * slots, *my = v + 3 * slots;
    for (size_t i = 0; i < n; i++) {
        const lm_result *r = lm_front_get(p->front, i);
        fx[i] = lm_result_latency(r);
        fy[i] = lm_result_importance(r);
        tips[i] = result_tip(r, "");
    }
    for (size_t k = 0; k < m; k++) {
        mx[k] = lm_result_latency(p->marks[k]);
        my[k] = lm_result_importance(p->marks[k]);
        char what[48];
        snprintf(what, sizeof what, "budget ratio %.2f: ", p->mark_ratios[k]);
        tips[n + k] = result_tip(p->marks[k], what);
        labels[k] = malloc(24);
        if (labels[k])
            snprintf(labels[k], 24, "ratio %.2f", p->mark_ratios[k]);
        vl[k] = (lm_plot_vline){lm_result_budget(p->marks[k]), NULL,
                                "#c0392b"};
    }
    size_t n_vl = m;
    double ox = p->original_ms, oy = p->original_importance;
    char otip[96], olat[32];
    lm_tool_human(olat, sizeof olat, ox);
    snprintf(otip, sizeof otip, "original network: %s ms", olat);
    if (isnan(oy))
        vl[n_vl++] = (lm_plot_vline){ox, "original", "#444"};
    const char *otips[] = {otip};
    lm_plot_series s[3] = {
        {.name = "Pareto front", .x = fx, .y = fy, .n = n,
         .color = "#1f77b4", .step = 1, .marker = LM_MARK_CIRCLE,
         .marker_r = n > 200 ? 1.6 : 2.6, .css_class = "front-point",
         .tips = (const char *const *)tips},
        {.name = m ? "chosen at budget ratio (dashed: budget)" : NULL,
         .x = mx, .y = my, .n = m, .color = "#e74c3c",
         .marker = LM_MARK_DIAMOND, .marker_r = 5.5, .css_class = "mark",
         .labels = (const char *const *)labels,
         .tips = (const char *const *)(tips + n)},
        {.name = "original network", .x = &ox, .y = &oy, .n = 1,
         .color = "#f39c12", .marker = LM_MARK_SQUARE, .marker_r = 5,
         .css_class = "original", .tips = otips},
    };
    lm_plot plot = {.title = p->title,
                    .xlabel = "predicted latency (ms)",
                    .ylabel = "importance (summed table scores)",
                    .width = 760, .height = 480, .series = s,
                    .n_series = isnan(oy) ? 2 : 3, .vlines = vl,
                    .n_vlines = n_vl, .standalone = p->standalone};
    lm_svg_plot(b, &plot);
out:
    for (size_t i = 0; tips && i < slots; i++)
        free(tips[i]);
    for (size_t k = 0; labels && k < m; k++)
        free(labels[k]);
    free(labels);
    free(tips);
    free(vl);
    free(v);
}

int lm_tool_front_is_option(const char *opt)
{
    return !strcmp(opt, "--svg") || !strcmp(opt, "--csv") ||
           !strcmp(opt, "--mark");
}

int lm_tool_front_option(lm_tool_front_request *req, const char *cmd,
                         const char *opt, const char *val)
{
    if (!strcmp(opt, "--svg"))
        req->svg = val;
    else if (!strcmp(opt, "--csv"))
        req->csv = val;
    else if (!lm_tool_parse_ratios(val, req->marks, LM_TOOL_MAX_MARKS,
                                   &req->n_marks))
        return lm_tool_usage_error(cmd, "--mark takes at most 16 ratios in "
                                   "(0, 1] separated by commas");
    return 0;
}

int lm_tool_front_files(const lm_tool_front_request *req,
                        const lm_tool_front_plot *p)
{
    int rc = 0;
    if (req->svg) {
        lm_tool_buf b = {0};
        lm_tool_front_svg(&b, p);
        rc = lm_tool_save(req->svg, &b);
        lm_buf_free(&b);
    }
    if (rc == 0 && req->csv) {
        lm_tool_buf b = {0};
        lm_tool_front_csv(&b, p->front);
        rc = lm_tool_save(req->csv, &b);
        lm_buf_free(&b);
    }
    return rc;
}
