/* test_date.c -- unit tests for src/proto/date.c: IMF-fixdate formatting
 * (against gmtime/strftime in the C locale), parsing of the three HTTP-date
 * formats, RFC 850 century resolution, invalid input, and round trips.
 * Parser inputs sit against a PROT_NONE page so any over-read crashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/error.h"
#include "proto/date.h"

#include "../guard.h"

/* 2025-01-01T00:00:00Z: "now" for RFC 850 two-digit years. */
#define NOW ((time_t)1735689600)

struct fmt_case {
    int64_t t;
    const char *out;
    const char *why;
};

static const struct fmt_case fmt_cases[] = {
    {0, "Thu, 01 Jan 1970 00:00:00 GMT", "the epoch"},
    {784111777, "Sun, 06 Nov 1994 08:49:37 GMT", "RFC 9110's example"},
    {951782400, "Tue, 29 Feb 2000 00:00:00 GMT", "leap day of a 400-year"},
    {2147483647, "Tue, 19 Jan 2038 03:14:07 GMT", "last 32-bit second"},
    {2147483648LL, "Tue, 19 Jan 2038 03:14:08 GMT", "past 32 bits"},
    {-1, "Wed, 31 Dec 1969 23:59:59 GMT", "one second before the epoch"},
    {-86400, "Wed, 31 Dec 1969 00:00:00 GMT", "exact day before the epoch"},
    {253402300799LL, "Fri, 31 Dec 9999 23:59:59 GMT", "last four-digit year second"},
    {253402300800LL, "Fri, 31 Dec 9999 23:59:59 GMT", "clamped above"},
    {INT64_MAX, "Fri, 31 Dec 9999 23:59:59 GMT", "clamped far above"},
    {-62167219200LL, "Sat, 01 Jan 0000 00:00:00 GMT", "first year-0000 second"},
    {INT64_MIN, "Sat, 01 Jan 0000 00:00:00 GMT", "clamped far below"},
};

static void test_format_table(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < sizeof(fmt_cases) / sizeof(fmt_cases[0]); i++) {
        char out[SK_DATE_LEN + 1];
        memset(out, 'x', sizeof(out));
        sk_date_format((time_t)fmt_cases[i].t, out);
        if (strcmp(out, fmt_cases[i].out) != 0 || strlen(out) != SK_DATE_LEN) {
            print_error("case %zu (%s): got \"%s\"\n", i, fmt_cases[i].why, out);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

/* Differential test against the C library over years 1..9999: the same
 * text, and the parser brings it back to the same second. */
static void test_format_matches_libc(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t t = -62135596800LL + (int64_t)(x % (253402300800ULL + 62135596800ULL));
        time_t tt = (time_t)t;
        struct tm tm;
        assert_non_null(gmtime_r(&tt, &tm));
        /* strftime's %Y does not pad years below 1000; the rest is libc's. */
        char want[64], a[16], b[16], got[SK_DATE_LEN + 1];
        strftime(a, sizeof(a), "%a, %d %b", &tm);
        strftime(b, sizeof(b), "%H:%M:%S", &tm);
        snprintf(want, sizeof(want), "%s %04d %s GMT", a, tm.tm_year + 1900, b);
        sk_date_format(tt, got);
        assert_string_equal(got, want);
        time_t back;
        assert_int_equal(sk_date_parse_at(guarded_str(got, SK_DATE_LEN), NOW, &back), 0);
        assert_true(back == tt);
    }
}

struct parse_case {
    const char *in;
    int rc;
    int64_t t;
    const char *why;
};

static const struct parse_case parse_cases[] = {
    {"Sun, 06 Nov 1994 08:49:37 GMT", 0, 784111777, "IMF-fixdate"},
    {"Sunday, 06-Nov-94 08:49:37 GMT", 0, 784111777, "RFC 850"},
    {"Sun Nov  6 08:49:37 1994", 0, 784111777, "asctime, space-padded day"},
    {"Sun Nov 06 08:49:37 1994", 0, 784111777, "asctime, two-digit day (date3 allows it)"},
    {"Wed Nov 16 08:49:37 1994", 0, 784111777 + 10 * 86400, "asctime, two-digit day"},
    {"Wednesday, 09-Nov-94 08:49:37 GMT", 0, 784111777 + 3 * 86400, "longest RFC 850 form"},
    {"Thursday, 01-Jan-70 00:00:00 GMT", 0, 3155760000LL, "70 is 45 years ahead: 2070"},
    {"Thursday, 01-Jan-99 00:00:00 GMT", 0, 915148800, "99 is 74 years ahead: 1999"},
    {"Tuesday, 01-Jan-75 00:00:00 GMT", 0, 3313526400LL, "75 is 50 years ahead: 2075"},
    {"Wednesday, 01-Jan-76 00:00:00 GMT", 0, 189302400, "76 is 51 years ahead: 1976"},
    {"Monday, 01-Jan-25 00:00:00 GMT", 0, 1735689600, "current year"},
    {"Thu, 29 Feb 2024 12:00:00 GMT", 0, 1709208000, "leap day"},
    {"Tue, 29 Feb 2000 00:00:00 GMT", 0, 951782400, "leap day of a 400-year"},
    {"Sun, 06 Nov 1994 08:49:60 GMT", 0, 784111777 + 23, "leap second rolls over"},
    {"Fri, 31 Dec 9999 23:59:59 GMT", 0, 253402300799LL, "largest date"},
    {"Sat, 01 Jan 0000 00:00:00 GMT", 0, -62167219200LL, "smallest date"},
    {"Mon, 06 Nov 1994 08:49:37 GMT", 0, 784111777, "wrong weekday is tolerated"},
    {"", SK_EPARSE, 0, "empty"},
    {"garbage", SK_EPARSE, 0, "garbage"},
    {"Sun, 06 Nov 1994 08:49:37 UTC", SK_EPARSE, 0, "only GMT"},
    {"Sun, 06 Nov 1994 08:49:37 gmt", SK_EPARSE, 0, "GMT is case-sensitive"},
    {"sun, 06 Nov 1994 08:49:37 GMT", SK_EPARSE, 0, "day name is case-sensitive"},
    {"Sun, 06 nov 1994 08:49:37 GMT", SK_EPARSE, 0, "month is case-sensitive"},
    {"Sun, 06 Nox 1994 08:49:37 GMT", SK_EPARSE, 0, "unknown month"},
    {"Sux, 06 Nov 1994 08:49:37 GMT", SK_EPARSE, 0, "unknown day name"},
    {"Sun, 6 Nov 1994 08:49:37 GMT", SK_EPARSE, 0, "one-digit day in IMF-fixdate"},
    {"Sun, 06 Nov 94 08:49:37 GMT", SK_EPARSE, 0, "two-digit year in IMF-fixdate"},
    {"Sun, 06 Nov 1994 08:49:37 GMT ", SK_EPARSE, 0, "trailing space"},
    {" Sun, 06 Nov 1994 08:49:37 GMT", SK_EPARSE, 0, "leading space"},
    {"Sun, 06 Nov 1994 08:49:37 GMTx", SK_EPARSE, 0, "trailing byte"},
    {"Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT", SK_EPARSE, 0,
     "a list is invalid (RFC 9110 §13.1.3)"},
    {"Sun, 06 Nov 1994 24:00:00 GMT", SK_EPARSE, 0, "hour 24"},
    {"Sun, 06 Nov 1994 08:60:00 GMT", SK_EPARSE, 0, "minute 60"},
    {"Sun, 06 Nov 1994 08:49:61 GMT", SK_EPARSE, 0, "second 61"},
    {"Sun, 00 Nov 1994 08:49:37 GMT", SK_EPARSE, 0, "day 0"},
    {"Sun, 31 Nov 1994 08:49:37 GMT", SK_EPARSE, 0, "November has 30 days"},
    {"Wed, 29 Feb 2023 08:49:37 GMT", SK_EPARSE, 0, "no leap day in 2023"},
    {"Mon, 29 Feb 2100 08:49:37 GMT", SK_EPARSE, 0, "no leap day in 2100"},
    {"Sun, 06 Nov 199x 08:49:37 GMT", SK_EPARSE, 0, "non-digit year"},
    {"Sun, +6 Nov 1994 08:49:37 GMT", SK_EPARSE, 0, "sign in a number"},
    {"Sun, 06 Nov 1994 08-49-37 GMT", SK_EPARSE, 0, "bad time separators"},
    {"Sun, 06-Nov-1994 08:49:37 GMT", SK_EPARSE, 0, "RFC 850 dashes with short name"},
    {"Sunday, 06-Nov-1994 08:49:37 GMT", SK_EPARSE, 0, "RFC 850 with four-digit year"},
    {"Sunny, 06-Nov-94 08:49:37 GMT", SK_EPARSE, 0, "RFC 850 unknown day name"},
    {"Sun, 06-Nov-94 08:49:37 GMT", SK_EPARSE, 0, "RFC 850 needs the long name"},
    {"Sunday, 06 Nov 94 08:49:37 GMT", SK_EPARSE, 0, "RFC 850 needs dashes"},
    {"Sun Nov 6 08:49:37 1994", SK_EPARSE, 0, "asctime needs a padded day"},
    {"Sun Nov  6 08:49:37 94", SK_EPARSE, 0, "asctime two-digit year"},
    {"Sun Nov  6 08:49:37 1994 ", SK_EPARSE, 0, "asctime trailing space"},
    {"Sun Nov  0 08:49:37 1994", SK_EPARSE, 0, "asctime day 0"},
    {"Sun, 06 Nov 1994 08:49:37 GMT\0", SK_EPARSE, 0, "embedded NUL (length counted)"},
};

static void test_parse_table(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const struct parse_case *c = &parse_cases[i];
        size_t n = strlen(c->in) + (strstr(c->why, "NUL") != NULL);
        time_t t = (time_t)-42;
        int rc = sk_date_parse_at(guarded_str(c->in, n), NOW, &t);
        bool ok = rc == c->rc && (rc != 0 || (int64_t)t == c->t) && (rc == 0 || t == -42);
        if (!ok) {
            print_error("case %zu (%s): \"%s\" -> rc %d t %lld\n", i, c->why, c->in, rc,
                        (long long)t);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

/* Every proper prefix of a valid date is invalid, and none over-reads. */
static void test_parse_prefixes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const char *s = parse_cases[i].in;
        for (size_t n = 0; n < strlen(s); n++) {
            time_t t;
            int rc = sk_date_parse_at(guarded_str(s, n), NOW, &t);
            if (parse_cases[i].rc == 0)
                assert_int_equal(rc, SK_EPARSE);
        }
    }
    time_t t;
    assert_int_equal(sk_date_parse((sk_str_t){NULL, 0}, &t), SK_EPARSE);
}

/* The clock-based entry point agrees for the unambiguous formats. */
static void test_parse_now(void **state)
{
    (void)state;
    time_t t;
    assert_int_equal(sk_date_parse(SK_STR("Sun, 06 Nov 1994 08:49:37 GMT"), &t), 0);
    assert_true(t == 784111777);
    assert_int_equal(sk_date_parse(SK_STR("Sun Nov  6 08:49:37 1994"), &t), 0);
    assert_true(t == 784111777);
    /* "94" means 1994 until the clock passes 2044. */
    assert_int_equal(sk_date_parse(SK_STR("Sunday, 06-Nov-94 08:49:37 GMT"), &t), 0);
    assert_true(t == 784111777);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_table), cmocka_unit_test(test_format_matches_libc),
        cmocka_unit_test(test_parse_table),  cmocka_unit_test(test_parse_prefixes),
        cmocka_unit_test(test_parse_now),
    };
    return cmocka_run_group_tests(tests, setup_guard, teardown_guard);
}
