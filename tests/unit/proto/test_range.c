/* test_range.c -- unit tests for src/proto/range.c: Range parsing (single,
 * open-ended, suffix, multiple, merging, unsatisfiable, invalid -> ignored,
 * the 16-range abuse limit, overflowing numbers) and If-Range matching.
 * Inputs sit against a PROT_NONE page so any over-read crashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/buf.h"
#include "proto/range.h"

#include "../guard.h"

/* Renders a result as "206 a-b,c-d", "416", or "200" for comparison. */
static void render(const sk_range_set_t *r, char *out, size_t cap)
{
    if (r->kind == SK_RANGE_NONE) {
        snprintf(out, cap, "200");
        return;
    }
    if (r->kind == SK_RANGE_UNSATISFIABLE) {
        snprintf(out, cap, "416");
        return;
    }
    size_t o = (size_t)snprintf(out, cap, "206 ");
    for (unsigned i = 0; i < r->n && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%llu-%llu", i ? "," : "",
                              (unsigned long long)r->r[i].start, (unsigned long long)r->r[i].end);
}

/* Checks what every answer must satisfy, whatever the input. */
static void check_invariants(const sk_range_set_t *r, uint64_t size)
{
    if (r->kind != SK_RANGE_SATISFIABLE) {
        assert_int_equal(r->n, 0);
        return;
    }
    assert_true(r->n >= 1 && r->n <= SK_RANGE_MAX);
    for (unsigned i = 0; i < r->n; i++) {
        assert_true(r->r[i].start <= r->r[i].end);
        assert_true(r->r[i].end < size);
        if (i > 0)
            assert_true(r->r[i - 1].end + 1 < r->r[i].start);
    }
}

struct range_case {
    const char *in; /* NULL: header absent */
    uint64_t size;
    const char *want;
    const char *why;
};

#define BIG "99999999999999999999999"

static const struct range_case range_cases[] = {
    {NULL, 10000, "200", "no header"},
    {"bytes=0-499", 10000, "206 0-499", "first 500 bytes"},
    {"bytes=500-999", 10000, "206 500-999", "second 500 bytes"},
    {"bytes=9500-", 10000, "206 9500-9999", "open-ended"},
    {"bytes=-500", 10000, "206 9500-9999", "suffix"},
    {"bytes=0-0,-1", 10000, "206 0-0,9999-9999", "first and last byte"},
    {"bytes=0-", 10000, "206 0-9999", "whole file as a range"},
    {"bytes=9999-9999", 10000, "206 9999-9999", "last byte"},
    {"bytes=0-99999", 10000, "206 0-9999", "last-pos clamped to the size"},
    {"bytes=-20000", 10000, "206 0-9999", "suffix longer than the file"},
    {"bytes=500-600,601-999", 10000, "206 500-999", "adjacent ranges merge"},
    {"bytes=500-700,601-999", 10000, "206 500-999", "overlapping ranges merge"},
    {"bytes=0-10,5-6", 10000, "206 0-10", "contained range merges"},
    {"bytes=900-999,0-99", 10000, "206 0-99,900-999", "sorted by start"},
    {"bytes=0-1,3-4,2-2", 10000, "206 0-4", "a middle range joins two"},
    {"bytes=-100,9800-9899", 10000, "206 9800-9999", "suffix adjacent to int-range"},
    {"bytes= 0-1 , 5-6 ", 10000, "206 0-1,5-6", "OWS around list members"},
    {"bytes=0-1,,5-6,", 10000, "206 0-1,5-6", "empty list elements (RFC 9110 §5.6.1)"},
    {"BYTES=0-1", 10000, "206 0-1", "unit is case-insensitive"},
    {"  bytes=0-1\t", 10000, "206 0-1", "surrounding OWS"},
    {"bytes=10000-", 10000, "416", "starts at the size"},
    {"bytes=10000-20000", 10000, "416", "starts beyond the size"},
    {"bytes=-0", 10000, "416", "empty suffix"},
    {"bytes=0-1", 0, "416", "empty file"},
    {"bytes=-5", 0, "416", "suffix of an empty file"},
    {"bytes=20000-,0-1", 10000, "206 0-1", "unsatisfiable members are dropped"},
    {"bytes=20000-,30000-", 10000, "416", "all unsatisfiable"},
    {"bytes=" BIG "-", 10000, "416", "huge first-pos saturates, lies past the end"},
    {"bytes=0-" BIG, 10000, "206 0-9999", "huge last-pos saturates and clamps"},
    {"bytes=-" BIG, 10000, "206 0-9999", "huge suffix saturates"},
    {"bytes=1-0", 10000, "200", "last-pos before first-pos: invalid"},
    {"bytes=0-1,5-4", 10000, "200", "one invalid member spoils the field"},
    {"bytes=abc", 10000, "200", "not a range"},
    {"bytes=", 10000, "200", "empty set"},
    {"bytes=,", 10000, "200", "only empty elements"},
    {"items=0-1", 10000, "200", "unknown unit"},
    {"bytes 0-1", 10000, "200", "missing ="},
    {"bytes =0-1", 10000, "200", "space before ="},
    {"bytes", 10000, "200", "unit only"},
    {"", 10000, "200", "empty value"},
    {"bytes=0-1;x", 10000, "200", "trailing garbage"},
    {"bytes=0 -1", 10000, "200", "space inside a spec"},
    {"bytes=0- 1", 10000, "200", "space after the dash"},
    {"bytes=--1", 10000, "200", "double dash"},
    {"bytes=1", 10000, "200", "no dash"},
    {"bytes=-", 10000, "200", "dash only"},
    {"bytes=0-1-2", 10000, "200", "two dashes"},
    {"bytes=+1-2", 10000, "200", "sign"},
    {"bytes=0x10-20", 10000, "200", "hex"},
    {"bytes=-1", UINT64_MAX, "206 18446744073709551614-18446744073709551614",
     "largest size, suffix"},
    {"bytes=18446744073709551614-", UINT64_MAX, "206 18446744073709551614-18446744073709551614",
     "largest size, last byte"},
    {"bytes=0-18446744073709551615", UINT64_MAX, "206 0-18446744073709551614",
     "largest size, clamped"},
};

static void test_range_table(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < sizeof(range_cases) / sizeof(range_cases[0]); i++) {
        const struct range_case *c = &range_cases[i];
        sk_str_t in = c->in ? guarded_str(c->in, strlen(c->in)) : (sk_str_t){NULL, 0};
        sk_range_set_t r;
        memset(&r, 0xa5, sizeof(r));
        enum sk_range_kind k = sk_range_parse(in, c->size, &r);
        char got[256];
        render(&r, got, sizeof(got));
        if (k != r.kind || strcmp(got, c->want) != 0) {
            print_error("case %zu (%s): \"%s\" -> \"%s\", want \"%s\"\n", i, c->why,
                        c->in ? c->in : "(absent)", got, c->want);
            failed++;
        }
        check_invariants(&r, c->size);
    }
    assert_int_equal(failed, 0);
}

/* Every prefix of every input parses to something sane. */
static void test_range_prefixes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(range_cases) / sizeof(range_cases[0]); i++) {
        const char *s = range_cases[i].in;
        if (s == NULL)
            continue;
        for (size_t n = 0; n <= strlen(s); n++) {
            sk_range_set_t r;
            sk_range_parse(guarded_str(s, n), range_cases[i].size, &r);
            check_invariants(&r, range_cases[i].size);
        }
    }
}

/* Builds "bytes=" plus count specs "k*step-(k*step+len)" from first. */
static size_t many(char *buf, size_t cap, unsigned count, unsigned step, unsigned len)
{
    size_t o = (size_t)snprintf(buf, cap, "bytes=");
    for (unsigned k = 0; k < count; k++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%u-%u", k ? "," : "", k * step, k * step + len);
    return o;
}

static void test_range_limits(void **state)
{
    (void)state;
    static char buf[65536];
    sk_range_set_t r;
    size_t n;

    /* Exactly SK_RANGE_MAX disjoint ranges: served as multipart. */
    n = many(buf, sizeof(buf), SK_RANGE_MAX, 2, 0);
    assert_int_equal(sk_range_parse((sk_str_t){buf, n}, 10000, &r), SK_RANGE_SATISFIABLE);
    assert_int_equal(r.n, SK_RANGE_MAX);

    /* One more: the abuse defence answers with the whole file. */
    n = many(buf, sizeof(buf), SK_RANGE_MAX + 1, 2, 0);
    assert_int_equal(sk_range_parse((sk_str_t){buf, n}, 10000, &r), SK_RANGE_NONE);
    assert_int_equal(r.n, 0);

    /* Many overlapping ranges merge into one and are fine. */
    n = many(buf, sizeof(buf), 1000, 1, 1);
    assert_int_equal(sk_range_parse((sk_str_t){buf, n}, 10000, &r), SK_RANGE_SATISFIABLE);
    assert_int_equal(r.n, 1);
    assert_true(r.r[0].start == 0 && r.r[0].end == 1000);

    /* The same range a thousand times is one range. */
    n = many(buf, sizeof(buf), 1000, 0, 0);
    assert_int_equal(sk_range_parse((sk_str_t){buf, n}, 10000, &r), SK_RANGE_SATISFIABLE);
    assert_int_equal(r.n, 1);

    /* Disjoint ranges given in descending order still sort. */
    n = (size_t)snprintf(buf, sizeof(buf), "bytes=90-99,50-59,10-19");
    assert_int_equal(sk_range_parse((sk_str_t){buf, n}, 100, &r), SK_RANGE_SATISFIABLE);
    assert_int_equal(r.n, 3);
    assert_true(r.r[0].start == 10 && r.r[1].start == 50 && r.r[2].start == 90);

    /* 17 disjoint ranges that a final one covers: the final answer has one
     * range, so it is served. */
    n = many(buf, sizeof(buf), SK_RANGE_MAX + 1, 2, 0);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, ",0-100");
    assert_int_equal(sk_range_parse((sk_str_t){buf, n}, 10000, &r), SK_RANGE_SATISFIABLE);
    assert_int_equal(r.n, 1);

    /* More than 64 disjoint ranges alive at once is refused even if a
     * later one would cover them: the working set is bounded. */
    n = many(buf, sizeof(buf), 100, 2, 0);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, ",0-1000");
    assert_int_equal(sk_range_parse((sk_str_t){buf, n}, 10000, &r), SK_RANGE_NONE);
}

struct ifr_case {
    const char *in; /* NULL: absent */
    const char *etag;
    bool want;
    const char *why;
};

#define LM ((time_t)784111777) /* Sun, 06 Nov 1994 08:49:37 GMT */

static const struct ifr_case ifr_cases[] = {
    {NULL, "\"abc-1\"", true, "absent If-Range lets Range apply"},
    {"\"abc-1\"", "\"abc-1\"", true, "same strong tag"},
    {" \"abc-1\"\t", "\"abc-1\"", true, "OWS trimmed"},
    {"\"abc-2\"", "\"abc-1\"", false, "different tag"},
    {"\"abc-1", "\"abc-1\"", false, "unterminated tag"},
    {"abc-1", "\"abc-1\"", false, "unquoted tag"},
    {"W/\"abc-1\"", "\"abc-1\"", false, "weak tag never matches (RFC 9110 §13.1.5)"},
    {"\"abc-1\"", "W/\"abc-1\"", false, "our weak tag never matches"},
    {"W/\"abc-1\"", "W/\"abc-1\"", false, "weak on both sides"},
    {"\"abc-1\", \"x\"", "\"abc-1\"", false, "a list is not an If-Range value"},
    {"\"\"", "", false, "no ETag on our side"},
    {"Sun, 06 Nov 1994 08:49:37 GMT", "\"abc-1\"", true, "date equal to Last-Modified"},
    {"Sunday, 06-Nov-94 08:49:37 GMT", "\"abc-1\"", true, "RFC 850 date, equal"},
    {"Sun Nov  6 08:49:37 1994", "\"abc-1\"", true, "asctime date, equal"},
    {"Sun, 06 Nov 1994 08:49:38 GMT", "\"abc-1\"", false, "later date"},
    {"Sun, 06 Nov 1994 08:49:36 GMT", "\"abc-1\"", false, "earlier date"},
    {"garbage", "\"abc-1\"", false, "neither tag nor date"},
    {"", "\"abc-1\"", false, "empty value"},
    {"W/", "\"abc-1\"", false, "bare weak prefix"},
};

static void test_if_range(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < sizeof(ifr_cases) / sizeof(ifr_cases[0]); i++) {
        const struct ifr_case *c = &ifr_cases[i];
        sk_str_t in = c->in ? guarded_str(c->in, strlen(c->in)) : (sk_str_t){NULL, 0};
        sk_str_t etag = {c->etag, strlen(c->etag)};
        bool got = sk_range_if_range_matches(in, etag, LM);
        if (got != c->want) {
            print_error("case %zu (%s): got %d\n", i, c->why, got);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_table),
        cmocka_unit_test(test_range_prefixes),
        cmocka_unit_test(test_range_limits),
        cmocka_unit_test(test_if_range),
    };
    return cmocka_run_group_tests(tests, setup_guard, teardown_guard);
}
