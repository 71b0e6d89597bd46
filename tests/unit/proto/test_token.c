/* test_token.c -- the shared byte classes, list iterator, token compare
 * and hex digits (proto/token.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "proto/token.h"

#include "../guard.h"

static void test_classes(void **state)
{
    (void)state;
    static const char tchars[] = "!#$%&'*+-.^_`|~09azAZ";
    for (const char *c = tchars; *c; c++)
        assert_true(SK_TOK_IS(*c, SK_TOK_TCHAR));
    static const char not_tchars[] = "\"(),/:;<=>?@[\\]{} \t\x7f";
    for (const char *c = not_tchars; *c; c++)
        assert_false(SK_TOK_IS(*c, SK_TOK_TCHAR));
    assert_false(SK_TOK_IS('\0', SK_TOK_TCHAR | SK_TOK_FIELD_VALUE));
    assert_true(SK_TOK_IS('\t', SK_TOK_FIELD_VALUE));
    assert_true(SK_TOK_IS(0x80, SK_TOK_FIELD_VALUE));
    assert_false(SK_TOK_IS('\r', SK_TOK_FIELD_VALUE));
    assert_false(SK_TOK_IS('"', SK_TOK_QDTEXT));
    assert_false(SK_TOK_IS('\\', SK_TOK_QDTEXT));
    assert_true(SK_TOK_IS(']', SK_TOK_QDTEXT));
    assert_false(SK_TOK_IS('#', SK_TOK_TARGET));
    assert_true(SK_TOK_IS('?', SK_TOK_TARGET));
    assert_true(SK_TOK_IS('[', SK_TOK_AUTHORITY));
    assert_false(SK_TOK_IS('@', SK_TOK_AUTHORITY));
    assert_false(SK_TOK_IS('/', SK_TOK_AUTHORITY));
    assert_true(SK_TOK_IS('~', SK_TOK_UNRESERVED));
    assert_false(SK_TOK_IS('%', SK_TOK_UNRESERVED));
    assert_true(SK_TOK_IS(';', SK_TOK_SUB_DELIM));
    /* Every class is a subset of its RFC parent: no CTL is in any class
     * but WS (and the classes that include it). */
    for (int c = 0; c < 0x20; c++)
        if (c != '\t')
            assert_int_equal(sk__tok_class[c], 0);
}

static void test_hexval(void **state)
{
    (void)state;
    assert_int_equal(sk_tok_hexval('0'), 0);
    assert_int_equal(sk_tok_hexval('9'), 9);
    assert_int_equal(sk_tok_hexval('a'), 10);
    assert_int_equal(sk_tok_hexval('F'), 15);
    assert_int_equal(sk_tok_hexval('g'), -1);
    assert_int_equal(sk_tok_hexval('G'), -1);
    assert_int_equal(sk_tok_hexval('/'), -1);
    assert_int_equal(sk_tok_hexval(':'), -1);
    assert_int_equal(sk_tok_hexval('@'), -1);
    assert_int_equal(sk_tok_hexval(0xc6), -1);
}

static void test_lower_eq(void **state)
{
    (void)state;
    assert_true(SK_TOK_EQ("Transfer-Encoding", 17, "transfer-encoding"));
    assert_true(SK_TOK_EQ("TRANSFER-ENCODING", 17, "transfer-encoding"));
    assert_false(SK_TOK_EQ("Transfer_Encoding", 17, "transfer-encoding"));
    assert_false(SK_TOK_EQ("Transfer-Encodinh", 17, "transfer-encoding"));
    assert_false(SK_TOK_EQ("Xransfer-Encoding", 17, "transfer-encoding"));
    assert_true(SK_TOK_EQ("Chunked", 7, "chunked"));
    assert_false(SK_TOK_EQ("chunked", 6, "chunked"));
    assert_false(SK_TOK_EQ("Chunkes", 7, "chunked"));
    assert_true(SK_TOK_EQ("X-Gzip", 6, "x-gzip"));
    assert_true(SK_TOK_EQ("HTTP://", 7, "http://"));
}

/* Collects the elements of s joined by '|'. */
static void list(const char *s, char *out, size_t cap)
{
    sk_tok_list_t it;
    sk_str_t el;
    size_t n = strlen(s);
    const char *g = guarded(s, n);
    sk_tok_list_init(&it, g, n);
    out[0] = '\0';
    size_t o = 0;
    while (sk_tok_list_next(&it, &el)) {
        o += (size_t)snprintf(out + o, cap - o, "%s%.*s", o ? "|" : "", (int)el.len, el.ptr);
        assert_true(o < cap);
    }
}

static void test_list(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want, *why;
    } cases[] = {
        {"", "", "empty field"},
        {" , ,\t,", "", "only empty elements"},
        {"a", "a", "one element"},
        {"a,b", "a|b", "two"},
        {" a ,\tb\t", "a|b", "OWS trimmed"},
        {",,a,,b,,", "a|b", "empty elements skipped"},
        {"a b, c", "a b|c", "inner space kept"},
        {"\"x,y\", z", "\"x,y\"|z", "comma inside quotes"},
        {"\"x\\\",y\", z", "\"x\\\",y\"|z", "escaped quote"},
        {"W/\"1\", \"2\"", "W/\"1\"|\"2\"", "entity tags"},
        {"br;q=\"open, gzip", "br;q=\"open|gzip", "unterminated quote ends at comma"},
        {"\"open", "\"open", "unterminated quote without comma"},
        {"gzip;q=0.5, br", "gzip;q=0.5|br", "parameters"},
    };
    char out[256];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        list(cases[i].in, out, sizeof(out));
        if (strcmp(out, cases[i].want) != 0)
            fail_msg("%s: \"%s\" -> \"%s\", want \"%s\"", cases[i].why, cases[i].in, out,
                     cases[i].want);
    }
}

static void test_trim_skip(void **state)
{
    (void)state;
    const char *s = " \t ab c \t";
    const char *p = s, *end = s + strlen(s);
    sk_tok_trim(&p, &end);
    assert_int_equal(end - p, 4);
    assert_memory_equal(p, "ab c", 4);
    const char *t = "token;x";
    assert_ptr_equal(sk_tok_skip(t, t + 7, SK_TOK_TCHAR), t + 5);
    const char *w = "   ";
    p = w;
    end = w + 3;
    sk_tok_trim(&p, &end);
    assert_ptr_equal(p, end);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classes),   cmocka_unit_test(test_hexval),
        cmocka_unit_test(test_lower_eq),  cmocka_unit_test(test_list),
        cmocka_unit_test(test_trim_skip),
    };
    return cmocka_run_group_tests(tests, setup_guard, teardown_guard);
}
