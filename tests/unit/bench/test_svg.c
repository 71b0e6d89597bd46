/* test_svg.c -- unit tests for the SVG chart writer (src/bench/svg.c):
 * document structure, escaping of names, points that a log axis cannot
 * show are left out, empty input still gives a valid document. The
 * integration test parses a real chart with an XML parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bench/svg.h"

static char *render(const sk_svg_panel_t *p, size_t n, const char *note)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(sk_svg_write(f, "a <title> & more", note, p, n), 0);
    fclose(f);
    return buf;
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void test_structure_and_escaping(void **state)
{
    (void)state;
    const double x[] = {1, 10, 100, 1000}, y1[] = {5e4, 6e4, 5e4, 4e3}, y2[] = {9, 0, 30, 400};
    sk_svg_series_t s[2] = {{"epoll", 4, x, y1}, {"p\"o<l>l&", 4, x, y2}};
    sk_svg_panel_t p[2] = {{"tput", "conns", "rt/s", true, false, s, 2},
                           {"p99", "conns", "us", true, true, s, 2}};
    char *doc = render(p, 2, "note 'q'");
    assert_true(strncmp(doc, "<?xml", 5) == 0);
    assert_non_null(strstr(doc, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_non_null(strstr(doc, "</svg>\n"));
    assert_int_equal(count(doc, "<polyline"), 4);
    /* Escaped, never raw. */
    assert_non_null(strstr(doc, "a &lt;title&gt; &amp; more"));
    assert_non_null(strstr(doc, "p&quot;o&lt;l&gt;l&amp;"));
    assert_non_null(strstr(doc, "note &apos;q&apos;"));
    assert_null(strstr(doc, "p\"o<l>"));
    /* Decade ticks on the log x axis. */
    assert_non_null(strstr(doc, ">1k</text>"));
    assert_non_null(strstr(doc, ">100</text>"));
    /* 4 + 4 markers in the linear panel; in the log one the y = 0 point
     * of the second series is left out: 4 + 3. */
    assert_int_equal(count(doc, "<circle"), 15);
    /* Every element opened is closed: <g> panels balanced. */
    assert_int_equal(count(doc, "<g>"), count(doc, "</g>"));
    free(doc);
}

static void test_empty(void **state)
{
    (void)state;
    sk_svg_panel_t p = {"empty", "x", "y", true, true, NULL, 0};
    char *doc = render(&p, 1, NULL);
    assert_non_null(strstr(doc, "</svg>"));
    assert_null(strstr(doc, "nan"));
    assert_null(strstr(doc, "inf"));
    assert_int_equal(count(doc, "<polyline"), 0);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structure_and_escaping),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
