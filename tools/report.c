/* The HTML report of report.h. */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "front_plot.h"

/* ---- the network picture ---------------------------------------------- */

/* Geometry of one picture: position p sits at x(p); conv c spans
 * x(c - 1)..x(c). */
typedef struct strip {
    double left, cell;
    size_t n;
} strip;

static double sx(const strip *s, size_t p)
{
    return s->left + (double)p * s->cell;
}

enum {
    ARC_BASE = 66,  /* skips arc above the original row */
    ORIG_Y = 66, ORIG_H = 28,
    ACT_Y = 108,    /* activation markers */
    MERGED_Y = 122, MERGED_H = 30,
    TICKS_Y = 168,
    PIC_H = 184
};

static void tip(lm_tool_buf *b, const char *text)
{
    lm_buf_printf(b, "<title>");
    lm_buf_text(b, text);
    lm_buf_printf(b, "</title>");
}

static int is_depthwise(const lm_conv_info *c)
{
    return c->groups > 1 && c->groups == c->in_channels;
}

/* "3", "3/2" (stride 2) for a narrow box; "3x3", "3x3 /2", "3x3 dw" wider. */
static void kernel_label(char *out, size_t n, int64_t k, int64_t stride,
                         int dw, double width)
{
    char st[24] = "";
    if (stride > 1)
        snprintf(st, sizeof st, "/%lld", (long long)stride);
    if (width >= 56)
        snprintf(out, n, "%lldx%lld%s%s%s", (long long)k, (long long)k,
                 *st ? " " : "", st, dw ? " dw" : "");
    else if (width >= 30)
        snprintf(out, n, "%lldx%lld%s", (long long)k, (long long)k, st);
    else
        snprintf(out, n, "%lld%s", (long long)k, st);
}

static void box_text(lm_tool_buf *b, double x, double y, const char *text,
                     double width, const char *color)
{
    /* About 6 units per character at font-size 10. */
    double size = 6.0 * (double)strlen(text) <= width - 2 ? 10 : 8;
    lm_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\" "
                  "text-anchor=\"middle\" fill=\"%s\">", x, y, size, color);
    lm_buf_text(b, text);
    lm_buf_printf(b, "</text>\n");
}

static void draw_skips(lm_tool_buf *b, const lm_graph *g, const lm_result *r,
                       const strip *s)
{
    /* Whether a skip is folded into a merged conv is the plan's to say (a
     * concatenation, or a block's residual read before its pre layers,
     * stays a skip inside a segment). */
    lm_plan *plan = NULL;
    if (lm_plan_create_for_result(&plan, g, r) != LM_OK) {
        fprintf(stderr, "layermerge compress: report: the result's plan: "
                "%s (no skip drawn as fused)\n", lm_last_error());
        plan = NULL;
    }
    for (size_t k = 0; k < lm_graph_skip_count(g); k++) {
        lm_skip_info sk = {.size = sizeof sk};
        if (lm_graph_skip_info(&sk, g, k) != LM_OK)
            continue;
        lm_plan_skip ps = {.size = sizeof ps};
        int fused = plan && lm_plan_skip_info(&ps, plan, k) == LM_OK &&
                    ps.fused;
        double x0 = sx(s, sk.source), x1 = sx(s, sk.target);
        double h = fmin(46.0, 12.0 + 0.35 * (x1 - x0));
        char t[160];
        snprintf(t, sizeof t, "%s %zu -> %zu%s%s",
                 sk.is_concat ? "concatenation" : "skip", sk.source, sk.target,
                 sk.has_projection ? " (1x1 projection)" : "",
                 fused ? ", fused into a merged conv" : "");
        lm_buf_printf(b, "<path class=\"skip\" fill=\"none\" stroke=\"%s\" "
                      "stroke-width=\"1.4\"%s d=\"M%.1f,%d C%.1f,%.1f %.1f,"
                      "%.1f %.1f,%d\">", fused ? "#e6550d" : "#777",
                      sk.has_projection ? " stroke-dasharray=\"4 2\"" : "",
                      x0, ARC_BASE, x0, ARC_BASE - h, x1, ARC_BASE - h, x1,
                      ARC_BASE);
        tip(b, t);
        lm_buf_printf(b, "</path>\n");
    }
    lm_plan_destroy(plan);
}

static void draw_original(lm_tool_buf *b, const lm_graph *g,
                          const lm_result *r, const strip *s)
{
    for (size_t c = 1; c <= s->n; c++) {
        lm_conv_info ci = {.size = sizeof ci};
        lm_result_conv rc = {.size = sizeof rc};
        if (lm_graph_conv_info(&ci, g, c) != LM_OK ||
            lm_result_conv_info(&rc, r, c) != LM_OK)
            continue;
        double x = sx(s, c - 1) + 1, w = s->cell - 2;
        int dw = is_depthwise(&ci);
        char label[32], t[256];
        kernel_label(label, sizeof label, ci.kernel, ci.stride, dw, w);
        snprintf(t, sizeof t, "conv %zu%s%s: %lldx%lld%s, %lld -> %lld "
                 "channels, stride %lld%s", c, ci.name ? " " : "",
                 ci.name ? ci.name : "", (long long)ci.kernel,
                 (long long)ci.kernel, dw ? " depthwise" : "",
                 (long long)ci.in_channels, (long long)ci.out_channels,
                 (long long)ci.stride, rc.kept ? "" : "; pruned");
        lm_buf_printf(b, "<g class=\"conv%s\"><rect x=\"%.1f\" y=\"%d\" "
                      "width=\"%.1f\" height=\"%d\" rx=\"2\" fill=\"%s\" "
                      "stroke=\"%s\"/>", rc.kept ? "" : " pruned", x, ORIG_Y,
                      w, ORIG_H, rc.kept ? (dw ? "#d5ece4" : "#dde6f0")
                                         : "#f7f7f7",
                      rc.kept ? "#8aa0b8" : "#c0392b");
        if (!rc.kept)
            lm_buf_printf(b, "<path d=\"M%.1f,%d L%.1f,%d\" stroke=\"#c0392b"
                          "\" stroke-width=\"1.2\"/>", x + 2,
                          ORIG_Y + ORIG_H - 3, x + w - 2, ORIG_Y + 3);
        tip(b, t);
        lm_buf_printf(b, "</g>\n");
        box_text(b, x + w / 2, ORIG_Y + ORIG_H / 2 + 4, label, w,
                 rc.kept ? "#223" : "#c0392b");
    }
}

static void draw_activations(lm_tool_buf *b, const lm_graph *g,
                             const lm_result *r, const strip *s)
{
    lm_buf_printf(b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
                  "stroke=\"#ddd\"/>\n", sx(s, 0), ACT_Y, sx(s, s->n), ACT_Y);
    for (size_t p = 1; p <= s->n; p++) {
        lm_position_info pi = {.size = sizeof pi};
        lm_result_position rp = {.size = sizeof rp};
        if (lm_graph_position_info(&pi, g, p) != LM_OK ||
            lm_result_position_info(&rp, r, p) != LM_OK)
            continue;
        int had = pi.activation != LM_ACT_IDENTITY;
        double x = sx(s, p);
        char t[128];
        const char *act = lm_act_name(had ? pi.activation
                                          : lm_graph_nonlinearity(g));
        if (had && rp.activation_kept) {
            snprintf(t, sizeof t, "position %zu: %s kept", p, act);
            lm_buf_printf(b, "<circle class=\"act kept\" cx=\"%.1f\" cy=\"%d\""
                          " r=\"4\" fill=\"#2ca02c\">", x, ACT_Y);
            tip(b, t);
            lm_buf_printf(b, "</circle>\n");
        } else if (had) {
            snprintf(t, sizeof t, "position %zu: %s removed", p, act);
            lm_buf_printf(b, "<path class=\"act removed\" stroke=\"#d62728\" "
                          "stroke-width=\"2\" d=\"M%.1f,%.1f l7,7 m0,-7 l-7,7"
                          "\">", x - 3.5, ACT_Y - 3.5);
            tip(b, t);
            lm_buf_printf(b, "</path>\n");
        } else if (rp.activation_kept) {
            snprintf(t, sizeof t, "position %zu: %s added at the end of a "
                     "merged segment", p, act);
            lm_buf_printf(b, "<circle class=\"act added\" cx=\"%.1f\" "
                          "cy=\"%d\" r=\"3.5\" fill=\"#fff\" stroke=\"#2ca02c"
                          "\" stroke-width=\"2\">", x, ACT_Y);
            tip(b, t);
            lm_buf_printf(b, "</circle>\n");
        }
    }
}

static void draw_merged(lm_tool_buf *b, const lm_result *r, const strip *s)
{
    for (size_t i = 0; i < lm_result_segment_count(r); i++) {
        lm_result_segment seg = {.size = sizeof seg};
        if (lm_result_segment_info(&seg, r, i) != LM_OK)
            continue;
        double x = sx(s, seg.st) + 1, w = sx(s, seg.end) - sx(s, seg.st) - 2;
        char t[512], kept[320] = "", lat[32], imp[32];
        size_t used = 0;
        for (size_t k = 0; k < seg.n_kept && used + 24 < sizeof kept; k++)
            used += (size_t)snprintf(kept + used, sizeof kept - used,
                                     k ? ",%zu" : "%zu", seg.kept[k]);
        lm_tool_human(lat, sizeof lat, seg.latency);
        lm_tool_human(imp, sizeof imp, seg.importance);
        size_t span = seg.end - seg.st;
        if (seg.identity) {
            snprintf(t, sizeof t, "positions %zu-%zu: identity (every conv "
                     "pruned); importance %s", seg.st, seg.end, imp);
            lm_buf_printf(b, "<g class=\"segment identity\"><path d=\"M%.1f,"
                          "%d H%.1f\" stroke=\"#999\" stroke-width=\"2\" "
                          "stroke-dasharray=\"3 2\"/>", x, MERGED_Y +
                          MERGED_H / 2, x + w);
            tip(b, t);
            lm_buf_printf(b, "</g>\n");
            if (w >= 14)
                box_text(b, x + w / 2, MERGED_Y + MERGED_H / 2 - 4, "id", w,
                         "#777");
            continue;
        }
        int merged = seg.n_kept > 1;
        snprintf(t, sizeof t, "positions %zu-%zu: %s %lldx%lld%s conv, "
                 "stride %lld, from conv%s %s%s; %s ms, importance %s",
                 seg.st, seg.end, merged ? "merged into one" : "one",
                 (long long)seg.kernel, (long long)seg.kernel,
                 seg.depthwise ? " depthwise" : "", (long long)seg.stride,
                 seg.n_kept > 1 ? "s" : "", kept,
                 span > seg.n_kept ? " (the rest pruned)" : "", lat, imp);
        lm_buf_printf(b, "<g class=\"segment%s\"><rect x=\"%.1f\" y=\"%d\" "
                      "width=\"%.1f\" height=\"%d\" rx=\"3\" fill=\"%s\" "
                      "stroke=\"%s\"/>", merged ? " merged" : "", x, MERGED_Y,
                      w, MERGED_H, merged ? "#fdae6b" : "#9ecae1",
                      merged ? "#c4661f" : "#4a7fa8");
        tip(b, t);
        lm_buf_printf(b, "</g>\n");
        char label[40];
        kernel_label(label, sizeof label, seg.kernel, seg.stride,
                     seg.depthwise, w);
        box_text(b, x + w / 2, MERGED_Y + MERGED_H / 2 + 4, label, w, "#222");
    }
}

static void draw_ticks(lm_tool_buf *b, const strip *s)
{
    size_t every = s->n > 60 ? 10 : 5;
    lm_buf_printf(b, "<g font-size=\"10\" fill=\"#666\" "
                  "text-anchor=\"middle\">\n");
    for (size_t p = 0; p <= s->n; p += every)
        lm_buf_printf(b, "<path d=\"M%.1f,%d v4\" stroke=\"#999\"/><text "
                      "x=\"%.1f\" y=\"%d\">%zu</text>\n", sx(s, p),
                      TICKS_Y - 12, sx(s, p), TICKS_Y, p);
    lm_buf_printf(b, "</g>\n<text x=\"4\" y=\"%d\" font-size=\"10\" "
                  "fill=\"#666\">position</text>\n", TICKS_Y);
}

static void network_svg(lm_tool_buf *b, const lm_graph *g, const lm_result *r,
                        double ratio)
{
    strip s = {.left = 62, .n = lm_graph_conv_count(g)};
    s.cell = s.n ? fmin(44.0, 1120.0 / (double)s.n) : 44.0;
    double width = sx(&s, s.n) + 16;
    lm_buf_printf(b, "<svg class=\"network\" version=\"1.1\" width=\"%.0f\" "
                  "height=\"%d\" viewBox=\"0 0 %.0f %d\" font-family=\""
                  "DejaVu Sans, Arial, sans-serif\">\n<title>%s at budget "
                  "ratio %.2f</title>\n", width, PIC_H, width, PIC_H,
                  "network", ratio);
    lm_buf_printf(b, "<g font-size=\"11\" fill=\"#444\"><text x=\"4\" "
                  "y=\"%d\">original</text><text x=\"4\" y=\"%d\">"
                  "activation</text><text x=\"4\" y=\"%d\">merged</text>"
                  "</g>\n", ORIG_Y + ORIG_H / 2 + 4, ACT_Y + 4,
                  MERGED_Y + MERGED_H / 2 + 4);
    draw_skips(b, g, r, &s);
    draw_original(b, g, r, &s);
    draw_activations(b, g, r, &s);
    draw_merged(b, r, &s);
    draw_ticks(b, &s);
    lm_buf_printf(b, "</svg>\n");
}

/* The key to every network picture, drawn once. */
static void legend_svg(lm_tool_buf *b)
{
    static const struct {
        const char *shape, *text;
    } items[] = {
        {"<rect x=\"0\" y=\"-9\" width=\"22\" height=\"14\" rx=\"2\" "
         "fill=\"#dde6f0\" stroke=\"#8aa0b8\"/>", "conv (kernel/stride)"},
        {"<rect x=\"0\" y=\"-9\" width=\"22\" height=\"14\" rx=\"2\" "
         "fill=\"#f7f7f7\" stroke=\"#c0392b\"/><path d=\"M2,3 L20,-7\" "
         "stroke=\"#c0392b\"/>", "pruned conv"},
        {"<rect x=\"0\" y=\"-9\" width=\"22\" height=\"14\" rx=\"3\" "
         "fill=\"#9ecae1\" stroke=\"#4a7fa8\"/>", "one conv kept"},
        {"<rect x=\"0\" y=\"-9\" width=\"22\" height=\"14\" rx=\"3\" "
         "fill=\"#fdae6b\" stroke=\"#c4661f\"/>", "merged conv"},
        {"<path d=\"M0,-2 H22\" stroke=\"#999\" stroke-width=\"2\" "
         "stroke-dasharray=\"3 2\"/>", "identity"},
        {"<circle cx=\"11\" cy=\"-2\" r=\"4\" fill=\"#2ca02c\"/>",
         "activation kept"},
        {"<path d=\"M7.5,-5.5 l7,7 m0,-7 l-7,7\" stroke=\"#d62728\" "
         "stroke-width=\"2\"/>", "activation removed"},
        {"<circle cx=\"11\" cy=\"-2\" r=\"3.5\" fill=\"#fff\" "
         "stroke=\"#2ca02c\" stroke-width=\"2\"/>", "activation added"},
        {"<path d=\"M0,3 C0,-9 22,-9 22,3\" fill=\"none\" stroke=\"#777\" "
         "stroke-width=\"1.4\"/>", "skip (dashed: projection)"},
        {"<path d=\"M0,3 C0,-9 22,-9 22,3\" fill=\"none\" stroke=\"#e6550d\" "
         "stroke-width=\"1.4\"/>", "skip fused"},
    };
    size_t n = sizeof items / sizeof items[0];
    lm_buf_printf(b, "<svg class=\"legend\" version=\"1.1\" width=\"1000\" "
                  "height=\"52\" viewBox=\"0 0 1000 52\" font-family=\""
                  "DejaVu Sans, Arial, sans-serif\" font-size=\"11\">\n");
    /* Two rows: the convs, then the activations and skips. */
    double x = 4, y = 17;
    for (size_t i = 0; i < n; i++) {
        if (i == 5) {
            x = 4;
            y += 24;
        }
        lm_buf_printf(b, "<g transform=\"translate(%.0f %.0f)\">%s<text "
                      "x=\"27\" y=\"2\" fill=\"#333\">%s</text></g>\n", x,
                      y, items[i].shape, items[i].text);
        x += 40 + 6.2 * (double)strlen(items[i].text);
    }
    lm_buf_printf(b, "</svg>\n");
}

/* ---- the page ----------------------------------------------------------- */

static const char css[] =
    "body{font-family:'DejaVu Sans',Arial,sans-serif;margin:24px auto;"
    "max-width:1240px;color:#222;padding:0 12px}"
    "h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;margin-top:28px;"
    "border-bottom:1px solid #ddd;padding-bottom:4px}"
    "p.lead{color:#555;margin-top:0}"
    "table{border-collapse:collapse;font-size:13px}"
    "th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}"
    "td{white-space:nowrap}"
    "th{background:#f2f4f7}td.l,th.l{text-align:left}"
    "svg{max-width:100%;height:auto;display:block}"
    ".plots{display:flex;flex-wrap:wrap;gap:16px}"
    "figure{margin:14px 0 22px 0}figcaption{font-size:13px;color:#333;"
    "margin:4px 0 0 4px}"
    ".note{font-size:12px;color:#666}";

static void human_ms(char *out, size_t n, double v)
{
    lm_tool_human(out, n, v);
}

/* Activations the result removes: positions whose original one is gone. */
static size_t removed_activations(const lm_graph *g, const lm_result *r,
                                  size_t *had)
{
    size_t removed = 0;
    *had = 0;
    for (size_t p = 1; p <= lm_graph_conv_count(g); p++) {
        lm_position_info pi = {.size = sizeof pi};
        lm_result_position rp = {.size = sizeof rp};
        if (lm_graph_position_info(&pi, g, p) != LM_OK ||
            lm_result_position_info(&rp, r, p) != LM_OK ||
            pi.activation == LM_ACT_IDENTITY)
            continue;
        (*had)++;
        removed += !rp.activation_kept;
    }
    return removed;
}

static size_t merged_segments(const lm_result *r)
{
    size_t n = 0;
    for (size_t i = 0; i < lm_result_segment_count(r); i++) {
        lm_result_segment seg = {.size = sizeof seg};
        n += lm_result_segment_info(&seg, r, i) == LM_OK && seg.n_kept > 1;
    }
    return n;
}

static void budget_table(lm_tool_buf *b, const lm_tool_report *r)
{
    char o[32], lo[32], hi[32];
    lm_buf_printf(b, "<table class=\"budgets\">\n<tr><th>budget ratio</th>"
                  "<th>budget (ms)</th><th>predicted (ms)</th><th>measured "
                  "(ms)</th><th>spread (ms)</th><th>speed-up</th><th>convs"
                  "</th><th>pruned</th><th>activations removed</th><th>merged"
                  " convs</th><th>importance</th><th>max rel. error</th></tr>"
                  "\n");
    human_ms(o, sizeof o, r->original_ms);
    human_ms(lo, sizeof lo, r->original_min_ms);
    human_ms(hi, sizeof hi, r->original_max_ms);
    char op[32], oi[32];
    human_ms(op, sizeof op, lm_solver_original_latency(r->solver));
    lm_tool_human(oi, sizeof oi, r->original_importance);
    lm_buf_printf(b, "<tr class=\"original\"><td class=\"l\">original</td>"
                  "<td></td><td>%s</td><td>%s</td><td>%s&#8211;%s</td>"
                  "<td>1</td><td>%zu</td><td>0</td><td>0</td><td>0</td>"
                  "<td>%s</td><td></td></tr>\n", op, o, lo, hi,
                  lm_graph_conv_count(r->graph), oi);
    for (size_t i = 0; i < r->n_budgets; i++) {
        const lm_tool_report_budget *x = &r->budgets[i];
        char bu[32], p[32], m[32], imp[32], sp[32];
        human_ms(bu, sizeof bu, x->budget_ms);
        human_ms(p, sizeof p, x->predicted_ms);
        human_ms(m, sizeof m, x->merged_ms);
        human_ms(lo, sizeof lo, x->merged_min_ms);
        human_ms(hi, sizeof hi, x->merged_max_ms);
        lm_tool_human(imp, sizeof imp, lm_result_importance(x->result));
        snprintf(sp, sizeof sp, "%.2fx", r->original_ms / x->merged_ms);
        size_t had = 0, removed = removed_activations(r->graph, x->result,
                                                      &had);
        lm_buf_printf(b, "<tr><td class=\"l\">%.2f</td><td>%s</td><td>%s"
                      "</td><td>%s</td><td>%s&#8211;%s</td><td>%s</td>"
                      "<td>%zu</td><td>%zu</td><td>%zu of %zu</td><td>%zu"
                      "</td><td>%s</td><td>%.1e</td></tr>\n", x->ratio, bu,
                      p, m, lo, hi, sp, x->convs_after,
                      lm_tool_pruned_convs(x->result), removed, had,
                      merged_segments(x->result), imp, x->max_rel);
    }
    lm_buf_printf(b, "</table>\n<p class=\"note\">predicted: the "
                  "whole-network prediction (the table's fixed cost plus the "
                  "chosen entries, timed again after the solve); measured: "
                  "the median over the interleaved rounds, spread: the "
                  "fastest and slowest round; speed-up: original measured / "
                  "merged measured; merged convs: segments whose kept convs "
                  "became one conv.</p>\n");
}

static void latency_plot(lm_tool_buf *b, const lm_tool_report *r)
{
    size_t n = r->n_budgets;
    double *v = calloc(4 * (n + 1), sizeof *v);
    char **labels = calloc(n + 1, sizeof *labels);
    if (!v || !labels) {
        b->failed = 1;
        free(v);
        free(labels);
        return;
    }
    double *x = v, *y = v + n + 1, *lo = v + 2 * (n + 1), *hi = v + 3 * (n + 1);
    for (size_t i = 0; i < n; i++) {
        x[i] = r->budgets[i].predicted_ms;
        y[i] = r->budgets[i].merged_ms;
        lo[i] = r->budgets[i].merged_min_ms;
        hi[i] = r->budgets[i].merged_max_ms;
        labels[i] = malloc(24);
        if (labels[i])
            snprintf(labels[i], 24, "ratio %.2f", r->budgets[i].ratio);
    }
    double ox = lm_solver_original_latency(r->solver), oy = r->original_ms,
           olo = r->original_min_ms, ohi = r->original_max_ms;
    lm_plot_series s[2] = {
        {.name = "merged (bars: fastest, slowest)", .x = x,
         .y = y, .ylo = lo, .yhi = hi, .n = n, .color = "#e74c3c",
         .marker = LM_MARK_DIAMOND, .marker_r = 5, .css_class = "budget",
         .labels = (const char *const *)labels},
        {.name = "original network", .x = &ox, .y = &oy, .ylo = &olo,
         .yhi = &ohi, .n = 1, .color = "#f39c12", .marker = LM_MARK_SQUARE,
         .marker_r = 5, .css_class = "original"},
    };
    lm_plot p = {.title = "Predicted against measured latency",
                 .xlabel = "predicted latency (ms)",
                 .ylabel = "measured latency (ms)", .width = 460,
                 .height = 480, .series = s, .n_series = 2, .diagonal = 1};
    lm_svg_plot(b, &p);
    for (size_t i = 0; i < n; i++)
        free(labels[i]);
    free(labels);
    free(v);
}

static int front_plot(lm_tool_buf *b, const lm_tool_report *r)
{
    lm_solve_options *o = NULL;
    lm_front *f = NULL;
    lm_status st = lm_solve_options_create(&o);
    if (st == LM_OK) st = lm_solve_options_set_precision(o, r->precision);
    if (st == LM_OK) st = lm_solve_options_set_budget_ratio(o, 1.0);
    if (st == LM_OK) st = lm_solver_run_front(&f, r->solver, o);
    lm_solve_options_destroy(o);
    if (st != LM_OK)
        return lm_tool_fail("the report's Pareto front");
    double ratios[LM_TOOL_MAX_MARKS];
    const lm_result *marks[LM_TOOL_MAX_MARKS];
    size_t m = r->n_budgets < LM_TOOL_MAX_MARKS ? r->n_budgets
                                                 : LM_TOOL_MAX_MARKS;
    for (size_t i = 0; i < m; i++) {
        ratios[i] = r->budgets[i].ratio;
        marks[i] = r->budgets[i].result;
    }
    char title[200];
    snprintf(title, sizeof title, "Pareto front of %s",
             lm_graph_name(r->graph));
    lm_tool_front_plot p = {.title = title, .front = f,
                            .original_ms = lm_solver_original_latency(r->solver),
                            .original_importance = r->original_importance,
                            .mark_ratios = ratios, .marks = marks,
                            .n_marks = m};
    lm_tool_front_svg(b, &p);
    lm_buf_printf(b, "<!-- %zu front points -->\n", lm_front_count(f));
    lm_front_destroy(f);
    return 0;
}

/* What was done at one budget, in a sentence. */
static void caption(lm_tool_buf *b, const lm_tool_report *r,
                    const lm_tool_report_budget *x)
{
    size_t had = 0, removed = removed_activations(r->graph, x->result, &had);
    char p[32], m[32];
    human_ms(p, sizeof p, x->predicted_ms);
    human_ms(m, sizeof m, x->merged_ms);
    size_t pruned = lm_tool_pruned_convs(x->result);
    size_t merged = merged_segments(x->result);
    lm_buf_printf(b, "<figcaption><b>Budget ratio %.2f</b>: predicted %s ms,"
                  " measured %s ms (speed-up %.2fx). %zu of %zu activation%s "
                  "removed, %zu conv%s pruned, %zu merged conv%s; %zu convs "
                  "become %zu.", x->ratio, p, m, r->original_ms / x->merged_ms,
                  removed, had, had == 1 ? "" : "s", pruned,
                  pruned == 1 ? "" : "s", merged, merged == 1 ? "" : "s",
                  lm_graph_conv_count(r->graph), x->convs_after);
    /* The merged kernels, by size: what the merged network is made of. */
    int64_t ks[32];
    size_t counts[32], nk = 0;
    for (size_t i = 0; i < lm_result_segment_count(x->result); i++) {
        lm_result_segment seg = {.size = sizeof seg};
        if (lm_result_segment_info(&seg, x->result, i) != LM_OK ||
            seg.n_kept < 2)
            continue;
        size_t k = 0;
        while (k < nk && ks[k] != seg.kernel)
            k++;
        if (k == nk && nk < 32) {
            ks[nk] = seg.kernel;
            counts[nk++] = 0;
        }
        if (k < nk)
            counts[k]++;
    }
    for (size_t k = 0; k < nk; k++)
        lm_buf_printf(b, "%s%zu of %lldx%lld", k ? ", " : " Merged kernels: ",
                      counts[k], (long long)ks[k], (long long)ks[k]);
    lm_buf_printf(b, "%s</figcaption>\n", nk ? "." : "");
}

int lm_tool_report_html(lm_tool_buf *b, const lm_tool_report *r)
{
    const char *name = lm_graph_name(r->graph);
    lm_buf_printf(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta "
                  "charset=\"utf-8\"/>\n<title>LayerMerge report: ");
    lm_buf_text(b, name);
    lm_buf_printf(b, "</title>\n<style>%s</style>\n</head>\n<body>\n"
                  "<h1>LayerMerge report: ", css);
    lm_buf_text(b, name);
    char op[32], om[32];
    human_ms(op, sizeof op, lm_solver_original_latency(r->solver));
    human_ms(om, sizeof om, r->original_ms);
    lm_buf_printf(b, "</h1>\n<p class=\"lead\">%zu trunk convs, %zu skips, "
                  "%zu entries. Original network: predicted %s ms, measured "
                  "%s ms. ", lm_graph_conv_count(r->graph),
                  lm_graph_skip_count(r->graph), r->n_entries, op, om);
    lm_buf_text(b, r->protocol);
    lm_buf_printf(b, " Latency table: ");
    lm_buf_text(b, r->table_note);
    lm_buf_printf(b, ". Fingerprint <code>");
    lm_buf_text(b, lm_graph_fingerprint(r->graph));
    lm_buf_printf(b, "</code>.</p>\n<h2>Budgets</h2>\n");
    budget_table(b, r);
    lm_buf_printf(b, "<h2>Latency and the Pareto front</h2>\n<div "
                  "class=\"plots\">\n");
    latency_plot(b, r);
    if (front_plot(b, r) != 0)
        return 1;
    lm_buf_printf(b, "</div>\n<p class=\"note\">The front: every "
                  "non-dominated (latency, importance) solution of the final "
                  "latency table up to the original network's latency; a "
                  "diamond is the solution chosen at a budget.</p>\n"
                  "<h2>What was done to the network</h2>\n<p class=\"note\">"
                  "Positions 0..%zu left to right: the original convs with "
                  "their kernel and stride, the activations after them, and "
                  "the merged network's convs, one box per segment. Hover "
                  "for details.</p>\n", lm_graph_conv_count(r->graph));
    legend_svg(b);
    for (size_t i = 0; i < r->n_budgets; i++) {
        lm_buf_printf(b, "<figure class=\"budget-network\" "
                      "id=\"ratio-%.2f\">\n", r->budgets[i].ratio);
        network_svg(b, r->graph, r->budgets[i].result, r->budgets[i].ratio);
        caption(b, r, &r->budgets[i]);
        lm_buf_printf(b, "</figure>\n");
    }
    lm_buf_printf(b, "</body>\n</html>\n");
    return 0;
}

int lm_tool_report_path(char *out, size_t n, const char *dir)
{
    int len = snprintf(out, n, "%s/index.html", dir);
    return len > 0 && (size_t)len < n;
}

/* mkdir -p: every missing component of `dir`. */
static int make_dirs(const char *dir)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n >= sizeof path) {
        fprintf(stderr, "layermerge: %s: path too long\n", dir);
        return 1;
    }
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char c = path[i];
        path[i] = '\0';
        struct stat sb;
        if (stat(path, &sb) != 0 && mkdir(path, 0777) != 0 &&
            errno != EEXIST) {
            fprintf(stderr, "layermerge: %s: cannot create directory: %s\n",
                    path, strerror(errno));
            return 1;
        }
        if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "layermerge: %s: not a directory\n", path);
            return 1;
        }
        path[i] = c;
    }
    return 0;
}

int lm_tool_report_write(const char *dir, const lm_tool_report *r)
{
    char path[4200];
    if (!lm_tool_report_path(path, sizeof path, dir)) {
        fprintf(stderr, "layermerge: %s: path too long\n", dir);
        return 1;
    }
    if (make_dirs(dir) != 0)
        return 1;
    lm_tool_buf b = {0};
    int rc = lm_tool_report_html(&b, r);
    if (rc == 0)
        rc = lm_tool_save(path, &b);
    lm_buf_free(&b);
    if (rc == 0)
        printf("report: %s\n", path);
    return rc;
}
