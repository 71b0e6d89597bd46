/* svg.h -- a small hand-written SVG line chart for `bench backends --svg`:
 * one or more panels, each with axes (linear or log10), ticks, grid lines,
 * axis titles, one polyline with point markers per series and a legend. */
#ifndef SK_BENCH_SVG_H
#define SK_BENCH_SVG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct sk_svg_series {
    const char *name;
    size_t n;
    const double *x, *y; /* points; y <= 0 on a log axis is skipped */
} sk_svg_series_t;

typedef struct sk_svg_panel {
    const char *title, *xlabel, *ylabel;
    bool logx, logy;
    const sk_svg_series_t *series;
    size_t nseries;
} sk_svg_panel_t;

/* Writes a complete SVG document to f: a title line, an optional note line
 * under it, and the panels side by side. Returns 0 or -EIO. */
int sk_svg_write(FILE *f, const char *title, const char *note, const sk_svg_panel_t *panels,
                 size_t npanels);

#endif
