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
#define PX(v) (x0 + (to_axis((v), ax.log) - ax.lo) / (ax.hi - ax.lo) * (x1 - x0))
#define PY(v) (y0 - (to_axis((v), ay.log) - ay.lo) / (ay.hi - ay.lo) * (y0 - y1))
    fprintf(f, "<g>\n<text x=\"%.1f\" y=\"%.1f\" font-size=\"15\" text-anchor=\"middle\">",
            (x0 + x1) / 2, oy + 22);
    xml_text(f, p->title);
    fputs("</text>\n", f);
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
            "stroke=\"#333\"/>\n",
            x0, y1, x1 - x0, y0 - y1);
    char t[32];
    /* X ticks: decades (and 2, 5 between them) or a 1-2-5 step. */
    if (ax.log) {
        for (double d = ax.lo; d <= ax.hi + 1e-9; d += 1) {
            double v = pow(10.0, d);
            double x = PX(v);
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                    x, y0, x, y1);
            fmt_tick(t, sizeof(t), v);
            fprintf(f,
                    "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">%s"
                    "</text>\n",
                    x, y0 + 16, t);
        }
    } else {
        double step = linear_step(ax.hi - ax.lo);
        for (double v = ceil(ax.lo / step) * step; v <= ax.hi + 1e-9; v += step) {
            double x = PX(v);
            fmt_tick(t, sizeof(t), v);
            fprintf(f,
                    "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">%s"
                    "</text>\n",
                    x, y0 + 16, t);
        }
    }
    if (ay.log) {
        for (double d = ay.lo; d <= ay.hi + 1e-9; d += 1) {
            double v = pow(10.0, d);
            double y = PY(v);
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                    x0, y, x1, y);
            fmt_tick(t, sizeof(t), v);
            fprintf(f,
                    "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"end\">%s"
                    "</text>\n",
                    x0 - 6, y + 4, t);
        }
    } else {
        double step = linear_step(ay.hi - ay.lo);
        for (double v = ay.lo; v <= ay.hi + 1e-9; v += step) {
            double y = PY(v);
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                    x0, y, x1, y);
            fmt_tick(t, sizeof(t), v);
            fprintf(f,
                    "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"end\">%s"
                    "</text>\n",
                    x0 - 6, y + 4, t);
        }
    }
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
                fprintf(f, "%.1f,%.1f ", PX(se->x[i]), PY(se->y[i]));
        fputs("\"/>\n", f);
        for (size_t i = 0; i < se->n; i++)
            if (usable(se->x[i], ax.log) && usable(se->y[i], ay.log))
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", PX(se->x[i]),
                        PY(se->y[i]), col);
    }
    fputs("</g>\n", f);
#undef PX
#undef PY
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
