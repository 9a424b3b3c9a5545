/* The SVG writer of svg.h. */
#include "svg.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

static int buf_reserve(lm_tool_buf *b, size_t extra)
{
    if (b->failed)
        return 0;
    if (b->len + extra + 1 <= b->cap)
        return 1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        free(b->data);
        *b = (lm_tool_buf){.failed = 1};
        return 0;
    }
    b->data = p;
    b->cap = cap;
    return 1;
}

void lm_buf_printf(lm_tool_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void lm_buf_text(lm_tool_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': lm_buf_printf(b, "&amp;"); break;
        case '<': lm_buf_printf(b, "&lt;"); break;
        case '>': lm_buf_printf(b, "&gt;"); break;
        case '"': lm_buf_printf(b, "&quot;"); break;
        case '\'': lm_buf_printf(b, "&#39;"); break;
        default: lm_buf_printf(b, "%c", *s);
        }
    }
}

void lm_buf_free(lm_tool_buf *b)
{
    free(b->data);
    *b = (lm_tool_buf){0};
}

int lm_tool_save(const char *path, const lm_tool_buf *b)
{
    if (b->failed) {
        fprintf(stderr, "layermerge: %s: out of memory\n", path);
        return 1;
    }
    if (!strcmp(path, "-"))
        return fwrite(b->data, 1, b->len, stdout) == b->len ? 0 : 1;
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp) {
        fprintf(stderr, "layermerge: %s: out of memory\n", path);
        return 1;
    }
    /* Beside the target, so that rename() replaces it in one step. */
    snprintf(tmp, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    /* mkstemp makes it 0600; a picture is as readable as any file. */
    mode_t mask = umask(0);
    umask(mask);
    if (fd >= 0)
        fchmod(fd, 0666 & ~mask);
    FILE *fp = fd < 0 ? NULL : fdopen(fd, "w");
    int err = fp ? 0 : errno;
    if (!fp && fd >= 0)
        close(fd);
    if (fp) {
        if (fwrite(b->data, 1, b->len, fp) != b->len || fflush(fp) != 0)
            err = errno ? errno : EIO;
        if (fclose(fp) != 0 && !err)
            err = errno ? errno : EIO;
        if (!err && rename(tmp, path) != 0)
            err = errno;
        if (err)
            unlink(tmp);
    }
    free(tmp);
    if (err) {
        fprintf(stderr, "layermerge: %s: cannot write: %s\n", path,
                strerror(err));
        return 1;
    }
    return 0;
}

/* Drop trailing zeros (and a trailing point) of a fixed-point number. */
static void trim_zeros(char *s)
{
    if (!strchr(s, '.'))
        return;
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '0')
        s[--n] = '\0';
    if (n > 0 && s[n - 1] == '.')
        s[--n] = '\0';
}

void lm_tool_human(char *out, size_t n, double v)
{
    double a = fabs(v);
    if (!isfinite(v)) {
        snprintf(out, n, "%s", isnan(v) ? "n/a" : v > 0 ? "inf" : "-inf");
    } else if (a == 0.0) {
        snprintf(out, n, "0");
    } else if (a >= 1e-4 && a < 1e6) {
        int dec = 3 - (int)floor(log10(a));
        snprintf(out, n, "%.*f", dec < 0 ? 0 : dec > 7 ? 7 : dec, v);
        trim_zeros(out);
    } else {
        snprintf(out, n, "%.3e", v);
    }
}

/* ---- plot ---------------------------------------------------------------- */

typedef struct axis {
    double lo, hi, step;
    int decimals;
} axis;

/* Round [lo, hi] out to a 1-2-5 step giving about 5 intervals. */
static axis nice_axis(double lo, double hi)
{
    axis ax;
    if (!(hi > lo)) {
        double pad = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1.0;
        lo -= pad;
        hi += pad;
    }
    double pad = (hi - lo) * 0.04;
    lo -= pad;
    hi += pad;
    double raw = (hi - lo) / 5.0;
    double mag = pow(10.0, floor(log10(raw)));
    double norm = raw / mag;
    ax.step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
    ax.lo = floor(lo / ax.step) * ax.step;
    ax.hi = ceil(hi / ax.step) * ax.step;
    int dec = -(int)floor(log10(ax.step) + 1e-9);
    ax.decimals = dec < 0 ? 0 : dec;
    return ax;
}

static void tick_label(char *out, size_t n, const axis *ax, double v)
{
    if (fabs(v) < ax->step * 1e-9)
        v = 0.0; /* no "-0" */
    if (ax->step >= 1e6 || ax->step < 1e-6)
        snprintf(out, n, "%.3g", v);
    else
        snprintf(out, n, "%.*f", ax->decimals, v);
}

typedef struct frame {
    double x0, y0, w, h; /* plot area, y0 its top */
    axis ax, ay;
} frame;

static double px(const frame *f, double x)
{
    return f->x0 + (x - f->ax.lo) / (f->ax.hi - f->ax.lo) * f->w;
}

static double py(const frame *f, double y)
{
    return f->y0 + f->h - (y - f->ay.lo) / (f->ay.hi - f->ay.lo) * f->h;
}

static void extend(double *lo, double *hi, double v)
{
    if (!isfinite(v))
        return;
    if (v < *lo) *lo = v;
    if (v > *hi) *hi = v;
}

static frame make_frame(const lm_plot *p)
{
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (size_t s = 0; s < p->n_series; s++) {
        const lm_plot_series *se = &p->series[s];
        for (size_t i = 0; i < se->n; i++) {
            extend(&xlo, &xhi, se->x[i]);
            extend(&ylo, &yhi, se->y[i]);
            if (se->ylo) extend(&ylo, &yhi, se->ylo[i]);
            if (se->yhi) extend(&ylo, &yhi, se->yhi[i]);
        }
    }
    for (size_t v = 0; v < p->n_vlines; v++)
        extend(&xlo, &xhi, p->vlines[v].x);
    if (!(xlo <= xhi)) xlo = xhi = 0.0;
    if (!(ylo <= yhi)) ylo = yhi = 0.0;
    if (p->diagonal) { /* one scale for both, so y = x is the diagonal */
        extend(&xlo, &xhi, ylo);
        extend(&xlo, &xhi, yhi);
        ylo = xlo;
        yhi = xhi;
    }
    frame f = {.x0 = 78, .y0 = 46};
    f.w = p->width - f.x0 - 24;
    f.h = p->height - f.y0 - 56;
    f.ax = nice_axis(xlo, xhi);
    f.ay = p->diagonal ? f.ax : nice_axis(ylo, yhi);
    return f;
}

static void draw_axes(lm_tool_buf *b, const lm_plot *p, const frame *f)
{
    char t[64];
    lm_buf_printf(b, "<g class=\"axes\" font-size=\"12\" fill=\"#333\">\n");
    for (double v = f->ax.lo; v <= f->ax.hi + f->ax.step * 1e-6;
         v += f->ax.step) {
        double x = px(f, v);
        tick_label(t, sizeof t, &f->ax, v);
        lm_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                      "y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n", x, f->y0, x,
                      f->y0 + f->h + 5);
        lm_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
                      "%s</text>\n", x, f->y0 + f->h + 19, t);
    }
    for (double v = f->ay.lo; v <= f->ay.hi + f->ay.step * 1e-6;
         v += f->ay.step) {
        double y = py(f, v);
        tick_label(t, sizeof t, &f->ay, v);
        lm_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                      "y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n", f->x0 - 5, y,
                      f->x0 + f->w, y);
        lm_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">"
                      "%s</text>\n", f->x0 - 8, y + 4, t);
    }
    lm_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                  "height=\"%.1f\" fill=\"none\" stroke=\"#666\"/>\n", f->x0,
                  f->y0, f->w, f->h);
    lm_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                  "font-size=\"13\">", f->x0 + f->w / 2, p->height - 12);
    lm_buf_text(b, p->xlabel);
    lm_buf_printf(b, "</text>\n<text transform=\"translate(18 %.1f) "
                  "rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">",
                  f->y0 + f->h / 2);
    lm_buf_text(b, p->ylabel);
    lm_buf_printf(b, "</text>\n<text x=\"%.1f\" y=\"26\" text-anchor=\""
                  "middle\" font-size=\"16\" font-weight=\"bold\">",
                  p->width / 2);
    lm_buf_text(b, p->title);
    lm_buf_printf(b, "</text>\n</g>\n");
}

static void marker(lm_tool_buf *b, const lm_plot_series *s, double x,
                   double y, size_t i)
{
    double r = s->marker_r > 0 ? s->marker_r : 3.5;
    const char *cls = s->css_class ? s->css_class : "point";
    const char *end = s->tips ? ">" : "/>";
    switch (s->marker) {
    case LM_MARK_SQUARE:
        lm_buf_printf(b, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" "
                      "width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
                      "stroke=\"#222\"%s", cls, x - r, y - r, 2 * r, 2 * r,
                      s->color, end);
        break;
    case LM_MARK_DIAMOND:
        lm_buf_printf(b, "<polygon class=\"%s\" points=\"%.1f,%.1f %.1f,%.1f "
                      "%.1f,%.1f %.1f,%.1f\" fill=\"%s\" stroke=\"#222\"%s",
                      cls, x, y - 1.4 * r, x + 1.4 * r, y, x, y + 1.4 * r,
                      x - 1.4 * r, y, s->color, end);
        break;
    case LM_MARK_TRIANGLE:
        lm_buf_printf(b, "<polygon class=\"%s\" points=\"%.1f,%.1f %.1f,%.1f "
                      "%.1f,%.1f\" fill=\"%s\" stroke=\"#222\"%s", cls, x,
                      y - 1.4 * r, x + 1.25 * r, y + 0.8 * r, x - 1.25 * r,
                      y + 0.8 * r, s->color, end);
        break;
    default:
        lm_buf_printf(b, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" "
                      "r=\"%.1f\" fill=\"%s\"%s", cls, x, y, r, s->color,
                      end);
    }
    if (s->tips) {
        lm_buf_printf(b, "<title>");
        lm_buf_text(b, s->tips[i]);
        lm_buf_printf(b, "</title></%s>", s->marker == LM_MARK_SQUARE
                                              ? "rect"
                                          : s->marker == LM_MARK_CIRCLE ||
                                                  s->marker == LM_MARK_NONE
                                              ? "circle"
                                              : "polygon");
    }
    lm_buf_printf(b, "\n");
}

static void draw_series(lm_tool_buf *b, const lm_plot_series *s,
                        const frame *f)
{
    if ((s->step || s->joined) && s->n > 1) {
        lm_buf_printf(b, "<path fill=\"none\" stroke=\"%s\" "
                      "stroke-width=\"1.5\" d=\"M%.1f,%.1f", s->color,
                      px(f, s->x[0]), py(f, s->y[0]));
        for (size_t i = 1; i < s->n; i++) {
            if (s->step)
                lm_buf_printf(b, " H%.1f", px(f, s->x[i]));
            lm_buf_printf(b, " L%.1f,%.1f", px(f, s->x[i]), py(f, s->y[i]));
        }
        lm_buf_printf(b, "\"/>\n");
    }
    for (size_t i = 0; s->ylo && s->yhi && i < s->n; i++) {
        double x = px(f, s->x[i]), lo = py(f, s->ylo[i]),
               hi = py(f, s->yhi[i]);
        lm_buf_printf(b, "<path fill=\"none\" stroke=\"%s\" d=\"M%.1f,%.1f "
                      "V%.1f M%.1f,%.1f H%.1f M%.1f,%.1f H%.1f\"/>\n",
                      s->color, x, lo, hi, x - 4, lo, x + 4, x - 4, hi,
                      x + 4);
    }
    for (size_t i = 0; s->marker != LM_MARK_NONE && i < s->n; i++)
        marker(b, s, px(f, s->x[i]), py(f, s->y[i]), i);
    for (size_t i = 0; s->labels && i < s->n; i++) {
        if (!s->labels[i])
            continue;
        /* Below right: under a rising front, clear of its steps. */
        lm_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
                      "fill=\"#222\">", px(f, s->x[i]) + 8,
                      py(f, s->y[i]) + 17);
        lm_buf_text(b, s->labels[i]);
        lm_buf_printf(b, "</text>\n");
    }
}

static void draw_legend(lm_tool_buf *b, const lm_plot *p, const frame *f)
{
    size_t n = 0, longest = 0;
    for (size_t s = 0; s < p->n_series; s++)
        if (p->series[s].name) {
            n++;
            size_t len = strlen(p->series[s].name);
            longest = len > longest ? len : longest;
        }
    if (!n)
        return;
    double x = f->x0 + 10, y = f->y0 + 10;
    lm_buf_printf(b, "<g class=\"legend\" font-size=\"12\">\n<rect x=\"%.1f\" "
                  "y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fff\" "
                  "fill-opacity=\"0.9\" stroke=\"#bbb\"/>\n", x, y,
                  40.0 + 6.6 * (double)longest, 8.0 + 18.0 * (double)n);
    size_t row = 0;
    for (size_t s = 0; s < p->n_series; s++) {
        const lm_plot_series *se = &p->series[s];
        if (!se->name)
            continue;
        double cy = y + 13 + 18.0 * (double)row++;
        if (se->step || se->joined || se->marker == LM_MARK_NONE)
            lm_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                          "y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1.5\"/>\n",
                          x + 6, cy, x + 28, cy, se->color);
        if (se->marker != LM_MARK_NONE) {
            lm_plot_series one = *se;
            one.tips = NULL;
            one.css_class = "legend-mark";
            marker(b, &one, x + 17, cy, 0);
        }
        lm_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">", x + 34, cy + 4);
        lm_buf_text(b, se->name);
        lm_buf_printf(b, "</text>\n");
    }
    lm_buf_printf(b, "</g>\n");
}

void lm_svg_plot(lm_tool_buf *b, const lm_plot *p)
{
    frame f = make_frame(p);
    /* Inline in HTML the parser knows the namespace: the page then names
     * no address at all. */
    if (p->standalone)
        lm_buf_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                      "<svg xmlns=\"http://www.w3.org/2000/svg\" ");
    else
        lm_buf_printf(b, "<svg ");
    lm_buf_printf(b, "version=\"1.1\" width=\"%.0f\" height=\"%.0f\" "
                  "viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans, "
                  "Arial, sans-serif\">\n", p->width, p->height, p->width,
                  p->height);
    lm_buf_printf(b, "<title>");
    lm_buf_text(b, p->title);
    lm_buf_printf(b, "</title>\n<rect width=\"100%%\" height=\"100%%\" "
                  "fill=\"#fff\"/>\n");
    draw_axes(b, p, &f);
    if (p->diagonal) {
        double lo = f.ax.lo, hi = f.ax.hi;
        /* Labelled along the line, three quarters up, clear of the
         * legend in the top left corner. */
        double at = lo + 0.75 * (hi - lo);
        double angle = atan2(py(&f, hi) - py(&f, lo), px(&f, hi) - px(&f, lo));
        lm_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                      "y2=\"%.1f\" stroke=\"#999\" stroke-dasharray=\"5 4\"/>"
                      "\n<text transform=\"translate(%.1f %.1f) rotate(%.1f)\" "
                      "y=\"-5\" font-size=\"11\" fill=\"#777\" "
                      "text-anchor=\"middle\">measured = predicted</text>\n",
                      px(&f, lo), py(&f, lo), px(&f, hi), py(&f, hi),
                      px(&f, at), py(&f, at), angle * 57.29577951308232);
    }
    for (size_t v = 0; v < p->n_vlines; v++) {
        const lm_plot_vline *l = &p->vlines[v];
        double x = px(&f, l->x);
        lm_buf_printf(b, "<line class=\"vline\" x1=\"%.1f\" y1=\"%.1f\" "
                      "x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                      "stroke-dasharray=\"4 3\"/>\n", x, f.y0, x,
                      f.y0 + f.h, l->color);
        if (l->label) {
            /* Inside, at the bottom: a front rises to the right, so
             * the space under it is free; staggered when close. */
            lm_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
                          "fill=\"%s\">", x + 3,
                          f.y0 + f.h - 8 - 13.0 * (double)(v % 3), l->color);
            lm_buf_text(b, l->label);
            lm_buf_printf(b, "</text>\n");
        }
    }
    for (size_t s = 0; s < p->n_series; s++)
        draw_series(b, &p->series[s], &f);
    draw_legend(b, p, &f);
    lm_buf_printf(b, "</svg>\n");
}
