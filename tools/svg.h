/* A tiny SVG 1.1 writer for the pictures of `front --svg` and
 * `compress --report`: a growing text buffer, XML escaping, atomic saving,
 * numbers for people, and one x/y plot with axes, ticks, title and legend.
 * No scripts, no external resources. */
#ifndef LM_TOOLS_SVG_H
#define LM_TOOLS_SVG_H

#include <stddef.h>

/* Text grown by appending; `failed` is set (and the text dropped) when
 * memory runs out, so writers check once at the end. */
typedef struct lm_tool_buf {
    char *data;
    size_t len, cap;
    int failed;
} lm_tool_buf;

#if defined(__GNUC__) || defined(__clang__)
#define LM_TOOL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define LM_TOOL_PRINTF(f, a)
#endif

void lm_buf_printf(lm_tool_buf *b, const char *fmt, ...) LM_TOOL_PRINTF(2, 3);
/* `s` with & < > " ' escaped for XML text and attributes. */
void lm_buf_text(lm_tool_buf *b, const char *s);
void lm_buf_free(lm_tool_buf *b);

/* Write the buffer to `path` through a temporary file beside it renamed
 * over it, so a reader never sees a partial file; "-" is stdout. 0, or 1
 * with "layermerge: PATH: ..." on stderr. */
int lm_tool_save(const char *path, const lm_tool_buf *b);

/* A number as people read it: about 4 significant digits, no exponent
 * between 1e-4 and 1e6, no trailing zeros. */
void lm_tool_human(char *out, size_t n, double v);

/* Marker shapes of a series. */
enum { LM_MARK_NONE, LM_MARK_CIRCLE, LM_MARK_SQUARE, LM_MARK_DIAMOND,
       LM_MARK_TRIANGLE };

/* One series of a plot. `ylo`/`yhi` (optional) draw vertical error bars;
 * `labels` (optional) a text beside each point; `tips` (optional) a
 * <title> tooltip per point. `css_class` goes on every point. */
typedef struct lm_plot_series {
    const char *name; /* legend text; NULL: not in the legend */
    const double *x, *y, *ylo, *yhi;
    size_t n;
    const char *color;
    int step;   /* 1: joined as a staircase (best value up to x) */
    int joined; /* 1: joined by straight lines */
    int marker; /* LM_MARK_* */
    double marker_r;
    const char *css_class;
    const char *const *labels;
    const char *const *tips;
} lm_plot_series;

/* A vertical dashed line at x, with a label at its top. */
typedef struct lm_plot_vline {
    double x;
    const char *label;
    const char *color;
} lm_plot_vline;

typedef struct lm_plot {
    const char *title, *xlabel, *ylabel;
    double width, height; /* user units; the svg scales to its box */
    const lm_plot_series *series;
    size_t n_series;
    const lm_plot_vline *vlines;
    size_t n_vlines;
    int diagonal;   /* 1: the line y = x, labelled */
    int standalone; /* 1: an XML declaration first (an .svg file) */
} lm_plot;

/* Append the plot as one <svg> element. The axes cover every point,
 * error bar and vertical line, rounded out to ticks. */
void lm_svg_plot(lm_tool_buf *b, const lm_plot *p);

#endif
