/* test_cond.c -- unit tests for src/proto/cond.c: ETag generation, entity
 * tag list matching (weak and strong, "*", W/, whitespace, malformed
 * lists) and the RFC 9110 §13.2.2 precedence of conditional headers.
 * List inputs sit against a PROT_NONE page so any over-read crashes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "proto/cond.h"

#include "../guard.h"

static sk_str_t str(const char *s)
{
    return s ? (sk_str_t){s, strlen(s)} : (sk_str_t){NULL, 0};
}

/* --- ETag generation -------------------------------------------------------- */

static void test_etag_make(void **state)
{
    (void)state;
    char buf[SK_COND_ETAG_MAX];
    assert_int_equal(sk_cond_etag_make(buf, sizeof(buf), 0x1234, 0x5f5e100, 0xab), 17);
    assert_string_equal(buf, "\"ab-1234-5f5e100\"");
    assert_int_equal(sk_cond_etag_make(buf, sizeof(buf), 0, 0, 0), 7);
    assert_string_equal(buf, "\"0-0-0\"");
    /* The longest tag fits SK_COND_ETAG_MAX. */
    int n = sk_cond_etag_make(buf, sizeof(buf), UINT64_MAX, -1, UINT64_MAX);
    assert_int_equal(n, 2 + 3 * 16 + 2);
    assert_true((size_t)n < SK_COND_ETAG_MAX);
    assert_string_equal(buf, "\"ffffffffffffffff-ffffffffffffffff-ffffffffffffffff\"");
    /* Exactly enough room, and one byte short. */
    assert_int_equal(sk_cond_etag_make(buf, 8, 0, 0, 0), 7);
    assert_int_equal(sk_cond_etag_make(buf, 7, 0, 0, 0), -ENOSPC);
    /* Each input changes the tag. */
    char a[SK_COND_ETAG_MAX], b[SK_COND_ETAG_MAX], c[SK_COND_ETAG_MAX], d[SK_COND_ETAG_MAX];
    sk_cond_etag_make(a, sizeof(a), 10, 1000, 7);
    sk_cond_etag_make(b, sizeof(b), 11, 1000, 7);
    sk_cond_etag_make(c, sizeof(c), 10, 1001, 7);
    sk_cond_etag_make(d, sizeof(d), 10, 1000, 8);
    assert_string_not_equal(a, b);
    assert_string_not_equal(a, c);
    assert_string_not_equal(a, d);
    /* Our tag is a valid member of an If-None-Match list. */
    assert_true(sk_cond_etag_list_matches(str(a), str(a)));
}

/* --- list matching -------------------------------------------------------- */

struct list_case {
    const char *list;
    const char *etag;
    bool weak_match, strong_match;
    const char *why;
};

static const struct list_case list_cases[] = {
    {"\"abc\"", "\"abc\"", true, true, "single equal tag"},
    {"\"abd\"", "\"abc\"", false, false, "single different tag"},
    {"*", "\"abc\"", true, true, "star matches an existing file"},
    {" * ", "\"abc\"", true, true, "star with OWS"},
    {"*, \"abc\"", "\"abc\"", false, false, "star is not a list member"},
    {"\"x\", \"abc\"", "\"abc\"", true, true, "second member"},
    {"\"x\",\"abc\",\"y\"", "\"abc\"", true, true, "no whitespace"},
    {"  \"x\" ,\t\"abc\"  ", "\"abc\"", true, true, "whitespace around members"},
    {"\"x\",,\"abc\",", "\"abc\"", true, true, "empty list elements"},
    {"W/\"abc\"", "\"abc\"", true, false, "weak member: weak match only"},
    {"\"abc\"", "W/\"abc\"", true, false, "weak own tag: weak match only"},
    {"W/\"abc\"", "W/\"abc\"", true, false, "weak both"},
    {"\"a,b\"", "\"a,b\"", true, true, "comma inside a tag"},
    {"\"a,b\"", "\"a\"", false, false, "comma inside a tag is not a separator"},
    {"\"\"", "\"\"", true, true, "empty opaque tag"},
    {"abc", "\"abc\"", false, false, "unquoted member is malformed"},
    {"\"abc", "\"abc\"", false, false, "unterminated member"},
    {"\"abc\" \"x\"", "\"abc\"", false, false, "missing comma"},
    {"\"abc\", x", "\"abc\"", false, false, "a malformed member spoils the list"},
    {"w/\"abc\"", "\"abc\"", false, false, "W/ is case-sensitive"},
    {"W /\"abc\"", "\"abc\"", false, false, "no space inside W/"},
    {"\"a c\"", "\"a c\"", false, false, "space is not an etagc"},
    {"\"a\x7f\"", "\"a\x7f\"", false, false, "DEL is not an etagc"},
    {"\"caf\xc3\xa9\"", "\"caf\xc3\xa9\"", true, true, "obs-text is allowed"},
    {"", "\"abc\"", false, false, "empty field"},
    {",", "\"abc\"", false, false, "only an empty element"},
    {"\"abc\"", "", false, false, "no own tag"},
    {"\"ABC\"", "\"abc\"", false, false, "comparison is case-sensitive"},
};

static void test_list_table(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < sizeof(list_cases) / sizeof(list_cases[0]); i++) {
        const struct list_case *c = &list_cases[i];
        sk_str_t l = guarded_str(c->list, strlen(c->list));
        bool w = sk_cond_etag_list_matches(l, str(c->etag));
        bool s = sk_cond_etag_list_matches_strong(l, str(c->etag));
        if (w != c->weak_match || s != c->strong_match) {
            print_error("case %zu (%s): weak %d strong %d\n", i, c->why, w, s);
            failed++;
        }
        /* No prefix over-reads. */
        for (size_t n = 0; n < strlen(c->list); n++)
            sk_cond_etag_list_matches(guarded_str(c->list, n), str(c->etag));
    }
    assert_false(sk_cond_etag_list_matches((sk_str_t){NULL, 0}, str("\"a\"")));
    assert_int_equal(failed, 0);
}

/* --- §13.2.2 precedence ------------------------------------------------------ */

#define ETAG "\"e1\""
#define MT ((time_t)784111777) /* Sun, 06 Nov 1994 08:49:37 GMT */
#define D_EQ "Sun, 06 Nov 1994 08:49:37 GMT"
#define D_BEFORE "Sun, 06 Nov 1994 08:49:36 GMT"
#define D_AFTER "Sun, 06 Nov 1994 08:49:38 GMT"

struct eval_case {
    const char *im, *ius, *inm, *ims; /* NULL: absent */
    enum sk_cond_result want;
    const char *why;
};

static const struct eval_case eval_cases[] = {
    {NULL, NULL, NULL, NULL, SK_COND_PROCEED, "no conditions"},
    {NULL, NULL, ETAG, NULL, SK_COND_NOT_MODIFIED, "If-None-Match matches"},
    {NULL, NULL, "W/" ETAG, NULL, SK_COND_NOT_MODIFIED, "If-None-Match uses weak comparison"},
    {NULL, NULL, "*", NULL, SK_COND_NOT_MODIFIED, "If-None-Match star"},
    {NULL, NULL, "\"other\"", NULL, SK_COND_PROCEED, "If-None-Match differs"},
    {NULL, NULL, NULL, D_EQ, SK_COND_NOT_MODIFIED, "IMS equal to mtime"},
    {NULL, NULL, NULL, D_AFTER, SK_COND_NOT_MODIFIED, "IMS after mtime"},
    {NULL, NULL, NULL, D_BEFORE, SK_COND_PROCEED, "IMS before mtime: modified"},
    {NULL, NULL, NULL, "yesterday", SK_COND_PROCEED, "invalid IMS is ignored"},
    {NULL, NULL, NULL, D_EQ ", " D_EQ, SK_COND_PROCEED, "IMS list is invalid, ignored"},
    {NULL, NULL, NULL, "Sunday, 06-Nov-94 08:49:37 GMT", SK_COND_NOT_MODIFIED, "IMS RFC 850"},
    {NULL, NULL, "\"other\"", D_AFTER, SK_COND_PROCEED,
     "If-None-Match present: IMS not consulted (§13.1.3)"},
    {NULL, NULL, ETAG, D_BEFORE, SK_COND_NOT_MODIFIED, "If-None-Match wins over a stale IMS"},
    {NULL, NULL, "garbage", D_AFTER, SK_COND_PROCEED, "malformed INM still suppresses IMS"},
    {ETAG, NULL, NULL, NULL, SK_COND_PROCEED, "If-Match matches"},
    {"*", NULL, NULL, NULL, SK_COND_PROCEED, "If-Match star"},
    {"\"other\"", NULL, NULL, NULL, SK_COND_PRECONDITION_FAILED, "If-Match differs"},
    {"W/" ETAG, NULL, NULL, NULL, SK_COND_PRECONDITION_FAILED, "If-Match is strong"},
    {"\"other\"", NULL, ETAG, NULL, SK_COND_PRECONDITION_FAILED, "If-Match before INM"},
    {NULL, D_EQ, NULL, NULL, SK_COND_PROCEED, "IUS equal: unmodified"},
    {NULL, D_BEFORE, NULL, NULL, SK_COND_PRECONDITION_FAILED, "IUS before mtime"},
    {NULL, "garbage", NULL, NULL, SK_COND_PROCEED, "invalid IUS is ignored"},
    {ETAG, D_BEFORE, NULL, NULL, SK_COND_PROCEED, "IUS ignored when If-Match present"},
    {NULL, D_BEFORE, ETAG, NULL, SK_COND_PRECONDITION_FAILED, "IUS before INM"},
    {NULL, D_AFTER, ETAG, NULL, SK_COND_NOT_MODIFIED, "IUS passes, then INM"},
    {ETAG, NULL, ETAG, NULL, SK_COND_NOT_MODIFIED, "If-Match passes, then INM"},
};

static void test_evaluate(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < sizeof(eval_cases) / sizeof(eval_cases[0]); i++) {
        const struct eval_case *c = &eval_cases[i];
        sk_cond_req_t req = {
            .if_match = str(c->im),
            .if_unmodified_since = str(c->ius),
            .if_none_match = str(c->inm),
            .if_modified_since = str(c->ims),
        };
        enum sk_cond_result got = sk_cond_evaluate(&req, SK_STR(ETAG), MT);
        if (got != c->want) {
            print_error("case %zu (%s): got %d want %d\n", i, c->why, got, c->want);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_etag_make),
        cmocka_unit_test(test_list_table),
        cmocka_unit_test(test_evaluate),
    };
    return cmocka_run_group_tests(tests, setup_guard, teardown_guard);
}
