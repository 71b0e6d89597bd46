/* svg.c -- the line chart writer (see svg.h). Coordinates are computed
 * here; the document uses only basic SVG 1.1 elements (rect, line,
 * polyline, circle, text) so any browser or viewer shows it. */
#include "bench/svg.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define PANEL_W 520.0
#define PANEL_H 380.0
#define MARGIN_L 78.0
#define MARGIN_R 20.0
#define MARGIN_T 40.0
#define MARGIN_B 56.0
#define HEADER_H 56.0
#define LEGEND_H 28.0

static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                     "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};

/* Writes s with the five XML special characters escaped. */
static void xml_text(FILE *f, const char *s)
{
    for (; s != NULL && *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&apos;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

struct axis {
    bool log;
    double lo, hi; /* in axis units (log10 of the value on a log axis) */
};

static bool usable(double v, bool log)
{
    return isfinite(v) && (!log || v > 0);
}

static double to_axis(double v, bool log)
{
    return log ? log10(v) : v;
}

/* Fits the axis to the data: whole decades on a log axis, a range from 0
 * (or the minimum) rounded to a 1-2-5 step on a linear one. */
static void fit(struct axis *a, const sk_svg_panel_t *p, bool is_x)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t s = 0; s < p->nseries; s++)
        for (size_t i = 0; i < p->series[s].n; i++) {
            double v = is_x ? p->series[s].x[i] : p->series[s].y[i];
            if (!usable(v, a->log))
                continue;
            v = to_axis(v, a->log);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
    if (!isfinite(lo)) {
        lo = 0;
        hi = 1;
    }
    if (a->log) {
        lo = floor(lo);
        hi = ceil(hi);
        if (hi <= lo)
            hi = lo + 1;
    } else {
        if (lo > 0)
            lo = 0;
        if (hi <= lo)
            hi = lo + 1;
    }
    a->lo = lo;
    a->hi = hi;
}

static double linear_step(double span)
{
    double raw = span / 5.0;
    double mag = pow(10.0, floor(log10(raw)));
    double norm = raw / mag;
    return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
}

static void fmt_tick(char *buf, size_t cap, double v)
{
    double a = fabs(v);
    if (a >= 1e9)
        snprintf(buf, cap, "%gG", v / 1e9);
    else if (a >= 1e6)
        snprintf(buf, cap, "%gM", v / 1e6);
    else if (a >= 1e3)
        snprintf(buf, cap, "%gk", v / 1e3);
    else
        snprintf(buf, cap, "%g", v);
}

/* Maps value v on axis a to the pixel range [p0, p1]. */
static double map(const struct axis *a, double v, double p0, double p1)
{
    return p0 + (to_axis(v, a->log) - a->lo) / (a->hi - a->lo) * (p1 - p0);
}

/* Grid lines and labels of one axis: decades on a log axis, a 1-2-5 step
 * on a linear one. The x axis is drawn along [a0, a1] at the bottom edge
 * `edge`, the y axis along the left edge; `far` is the opposite edge. */
static void ticks(FILE *f, const struct axis *a, bool is_x, double a0, double a1, double edge,
                  double far)
{
    double step = a->log ? 1.0 : linear_step(a->hi - a->lo);
    double first = a->log ? a->lo : ceil(a->lo / step) * step;
    char t[32];
    for (double d = first; d <= a->hi + 1e-9; d += step) {
        double v = a->log ? pow(10.0, d) : d;
        double at = map(a, v, a0, a1);
        double gx1 = is_x ? at : edge, gy1 = is_x ? edge : at;
        double gx2 = is_x ? at : far, gy2 = is_x ? far : at;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", gx1,
                gy1, gx2, gy2);
        fmt_tick(t, sizeof(t), v);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"%s\">%s</text>\n",
                is_x ? at : edge - 6, is_x ? edge + 16 : at + 4, is_x ? "middle" : "end", t);
    }
}

static void panel(FILE *f, const sk_svg_panel_t *p, double ox, double oy)
{
    struct axis ax = {.log = p->logx}, ay = {.log = p->logy};
    fit(&ax, p, true);
    fit(&ay, p, false);
    if (!ay.log) {
        double step = linear_step(ay.hi - ay.lo);
        ay.hi = ceil(ay.hi / step) * step;
    }
    double x0 = ox + MARGIN_L, x1 = ox + PANEL_W - MARGIN_R;
    double y0 = oy + PANEL_H - MARGIN_B, y1 = oy + MARGIN_T;
    fprintf(f, "<g>\n<text x=\"%.1f\" y=\"%.1f\" font-size=\"15\" text-anchor=\"middle\">",
            (x0 + x1) / 2, oy + 22);
    xml_text(f, p->title);
    fputs("</text>\n", f);
    ticks(f, &ax, true, x0, x1, y0, y1);
    ticks(f, &ay, false, y0, y1, x0, x1);
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
            "stroke=\"#333\"/>\n",
            x0, y1, x1 - x0, y0 - y1);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" text-anchor=\"middle\">",
            (x0 + x1) / 2, y0 + 36);
    xml_text(f, p->xlabel);
    fprintf(f,
            "</text>\n<text transform=\"translate(%.1f,%.1f) rotate(-90)\" font-size=\"13\" "
            "text-anchor=\"middle\">",
            ox + 18, (y0 + y1) / 2);
    xml_text(f, p->ylabel);
    fputs("</text>\n", f);
    for (size_t s = 0; s < p->nseries; s++) {
        const sk_svg_series_t *se = &p->series[s];
        const char *col = colors[s % (sizeof(colors) / sizeof(colors[0]))];
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", col);
        for (size_t i = 0; i < se->n; i++)
            if (usable(se->x[i], ax.log) && usable(se->y[i], ay.log))
                fprintf(f, "%.1f,%.1f ", map(&ax, se->x[i], x0, x1), map(&ay, se->y[i], y0, y1));
        fputs("\"/>\n", f);
        for (size_t i = 0; i < se->n; i++)
            if (usable(se->x[i], ax.log) && usable(se->y[i], ay.log))
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                        map(&ax, se->x[i], x0, x1), map(&ay, se->y[i], y0, y1), col);
    }
    fputs("</g>\n", f);
}

int sk_svg_write(FILE *f, const char *title, const char *note, const sk_svg_panel_t *panels,
                 size_t npanels)
{
    double w = PANEL_W * (double)(npanels ? npanels : 1);
    double h = HEADER_H + PANEL_H + LEGEND_H + 8;
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%.1f\" y=\"24\" font-size=\"17\" text-anchor=\"middle\">",
            w, h, w, h, w / 2);
    xml_text(f, title);
    fputs("</text>\n", f);
    if (note != NULL) {
        fprintf(f,
                "<text x=\"%.1f\" y=\"44\" font-size=\"12\" fill=\"#555\" "
                "text-anchor=\"middle\">",
                w / 2);
        xml_text(f, note);
        fputs("</text>\n", f);
    }
    for (size_t i = 0; i < npanels; i++)
        panel(f, &panels[i], PANEL_W * (double)i, HEADER_H);
    /* One legend for all panels: the series are the same in each. */
    if (npanels > 0) {
        double x = 20, y = HEADER_H + PANEL_H + 14;
        for (size_t s = 0; s < panels[0].nseries; s++) {
            const char *col = colors[s % (sizeof(colors) / sizeof(colors[0]))];
            fprintf(f,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                    "stroke-width=\"3\"/>\n<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\">",
                    x, y, x + 24, y, col, x + 30, y + 4);
            xml_text(f, panels[0].series[s].name);
            fputs("</text>\n", f);
            x += 30 + 9.0 * (double)strlen(panels[0].series[s].name) + 24;
        }
    }
    fputs("</svg>\n", f);
    return ferror(f) ? -EIO : 0;
}
