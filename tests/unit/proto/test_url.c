/* test_url.c -- URL parsing, RFC 3986 §5.4 reference resolution and -O
 * file names (proto/url.h). Inputs sit against a guard page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "proto/url.h"

#include "../guard.h"

/* Copies a string, NUL included, against the guard page. */
static const char *gstr(const char *s)
{
    return guarded(s, strlen(s) + 1);
}

static void test_valid(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        bool https;
        const char *host;
        unsigned port;
        const char *target, *authority, *origin;
        bool ipv6;
    } rows[] = {
        {"http://example.com", false, "example.com", 80, "/", "example.com", "http://example.com",
         false},
        {"HTTP://Example.COM/", false, "Example.COM", 80, "/", "Example.COM", "http://Example.COM",
         false},
        {"https://example.com/a/b?c=d#frag", true, "example.com", 443, "/a/b?c=d", "example.com",
         "https://example.com", false},
        {"http://127.0.0.1:8080/x", false, "127.0.0.1", 8080, "/x", "127.0.0.1:8080",
         "http://127.0.0.1:8080", false},
        {"http://[::1]:8080/", false, "::1", 8080, "/", "[::1]:8080", "http://[::1]:8080", true},
        {"https://[2001:db8::1]/p", true, "2001:db8::1", 443, "/p", "[2001:db8::1]",
         "https://[2001:db8::1]", true},
        {"http://h:80/", false, "h", 80, "/", "h", "http://h", false},
        {"https://h:443", true, "h", 443, "/", "h", "https://h", false},
        {"http://h:/", false, "h", 80, "/", "h", "http://h", false},
        {"http://h?q=1", false, "h", 80, "/?q=1", "h", "http://h", false},
        {"http://h/a%20b/%C3%A9?x=%2F", false, "h", 80, "/a%20b/%C3%A9?x=%2F", "h", "http://h",
         false},
        {"http://h/#", false, "h", 80, "/", "h", "http://h", false},
        {"http://h/a:b@c!$&'()*+,;=", false, "h", 80, "/a:b@c!$&'()*+,;=", "h", "http://h", false},
        {"localhost:8080/x", false, "localhost", 8080, "/x", "localhost:8080",
         "http://localhost:8080", false},
        {"example.org", false, "example.org", 80, "/", "example.org", "http://example.org", false},
        {"http://sub-domain.example_x~y/", false, "sub-domain.example_x~y", 80, "/",
         "sub-domain.example_x~y", "http://sub-domain.example_x~y", false},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        sk_url_t u;
        struct sk_err e = {0};
        int rc = sk_url_parse(&u, gstr(rows[i].in), true, &e);
        if (rc != 0)
            fail_msg("%s: %s", rows[i].in, e.msg);
        assert_int_equal(u.https, rows[i].https);
        assert_string_equal(u.host, rows[i].host);
        assert_int_equal(u.port, rows[i].port);
        assert_string_equal(u.target, rows[i].target);
        assert_string_equal(u.authority, rows[i].authority);
        assert_string_equal(u.origin, rows[i].origin);
        assert_int_equal(u.ipv6, rows[i].ipv6);
        sk_url_fini(&u);
    }
}

static void test_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *in, *msg; /* msg: a substring of the error */
    } rows[] = {
        {"", "empty URL"},
        {"ftp://example.com/", "unsupported scheme \"ftp\""},
        {"file:///etc/passwd", "unsupported scheme \"file\""},
        {"http://user:pw@example.com/", "user credentials"},
        {"http://user@example.com/", "user credentials"},
        {"http:///path", "no host"},
        {"http://", "no host"},
        {"http://:8080/", "no host"},
        {"http://[::1/", "closing ']'"},
        {"http://[::g]/", "not a valid IPv6 address"},
        {"http://[]/", "not a valid IPv6 address"},
        {"http://[fe80::1%25eth0]/", "not a valid IPv6 address"},
        {"http://[::1]x/", "after the IPv6 address"},
        {"http://h:99999/", "out of range"},
        {"http://h:0/", "port 0"},
        {"http://h:8o/", "not a number"},
        {"http://h:-1/", "not a number"},
        {"http://h/a b", "position 11"},
        {"http://h/\x01", "control"},
        {"http://h/caf\xc3\xa9", "non-ASCII"},
        {"http://h/%zz", "bad percent-encoding at position 10"},
        {"http://h/%4", "bad percent-encoding"},
        {"http://h/a%", "bad percent-encoding"},
        {"http://h/{x}", "invalid character '{'"},
        {"http://h/a\\b",
         "invalid character '\\' at position 11 of the URL (percent-encode it as %5C)"},
        {"http://ho<st/", "invalid character '<' in host"},
        {"http://ho%41st/", "invalid character '%' in host"},
        {"http:/example.com/", "lacks \"//\""},
        {"https:example.com", "lacks \"//\""},
        {"mailto:x@y", "does not start with http:// or https://"},
        {"http://h/a\"b",
         "invalid character '\"' at position 11 of the URL (percent-encode it as %22)"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        sk_url_t u;
        struct sk_err e = {0};
        int rc = sk_url_parse(&u, gstr(rows[i].in), true, &e);
        if (rc != SK_EUSAGE || strstr(e.msg, rows[i].msg) == NULL)
            fail_msg("\"%s\": rc %d, message \"%s\", want \"%s\"", rows[i].in, rc, e.msg,
                     rows[i].msg);
        sk_url_fini(&u);
    }
    /* Without guessing, a bare host is an error too. */
    sk_url_t u;
    struct sk_err e = {0};
    assert_int_equal(sk_url_parse(&u, "example.com/x", false, &e), SK_EUSAGE);
    assert_non_null(strstr(e.msg, "no scheme"));
}

/* RFC 3986 §5.4.1 and §5.4.2, every example. */
static void test_resolve_rfc(void **state)
{
    (void)state;
    static const char *const rows[][2] = {
        {"g:h", "g:h"},
        {"g", "http://a/b/c/g"},
        {"./g", "http://a/b/c/g"},
        {"g/", "http://a/b/c/g/"},
        {"/g", "http://a/g"},
        {"//g", "http://g"},
        {"?y", "http://a/b/c/d;p?y"},
        {"g?y", "http://a/b/c/g?y"},
        {"#s", "http://a/b/c/d;p?q#s"},
        {"g#s", "http://a/b/c/g#s"},
        {"g?y#s", "http://a/b/c/g?y#s"},
        {";x", "http://a/b/c/;x"},
        {"g;x", "http://a/b/c/g;x"},
        {"g;x?y#s", "http://a/b/c/g;x?y#s"},
        {"", "http://a/b/c/d;p?q"},
        {".", "http://a/b/c/"},
        {"./", "http://a/b/c/"},
        {"..", "http://a/b/"},
        {"../", "http://a/b/"},
        {"../g", "http://a/b/g"},
        {"../..", "http://a/"},
        {"../../", "http://a/"},
        {"../../g", "http://a/g"},
        /* §5.4.2 abnormal examples. */
        {"../../../g", "http://a/g"},
        {"../../../../g", "http://a/g"},
        {"/./g", "http://a/g"},
        {"/../g", "http://a/g"},
        {"g.", "http://a/b/c/g."},
        {".g", "http://a/b/c/.g"},
        {"g..", "http://a/b/c/g.."},
        {"..g", "http://a/b/c/..g"},
        {"./../g", "http://a/b/g"},
        {"./g/.", "http://a/b/c/g/"},
        {"g/./h", "http://a/b/c/g/h"},
        {"g/../h", "http://a/b/c/h"},
        {"g;x=1/./y", "http://a/b/c/g;x=1/y"},
        {"g;x=1/../y", "http://a/b/c/y"},
        {"g?y/./x", "http://a/b/c/g?y/./x"},
        {"g?y/../x", "http://a/b/c/g?y/../x"},
        {"g#s/./x", "http://a/b/c/g#s/./x"},
        {"g#s/../x", "http://a/b/c/g#s/../x"},
        {"http:g", "http:g"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char *out = NULL;
        assert_int_equal(sk_url_resolve("http://a/b/c/d;p?q", gstr(rows[i][0]), &out), 0);
        if (strcmp(out, rows[i][1]) != 0)
            fail_msg("\"%s\" -> \"%s\", want \"%s\"", rows[i][0], out, rows[i][1]);
        sk_free(out);
    }
}

static void test_resolve_redirects(void **state)
{
    (void)state;
    static const char *const rows[][3] = {
        {"http://h:8080/dir/file?x", "other", "http://h:8080/dir/other"},
        {"http://h:8080", "x", "http://h:8080/x"},
        {"https://h/a/b", "//other.example/p", "https://other.example/p"},
        {"https://h/a/b", "http://plain/", "http://plain/"},
        {"http://[::1]:81/a/", "../b?c", "http://[::1]:81/b?c"},
        {"http://h/a", "/x/../y/./z", "http://h/y/z"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char *out = NULL;
        assert_int_equal(sk_url_resolve(rows[i][0], rows[i][1], &out), 0);
        assert_string_equal(out, rows[i][2]);
        sk_free(out);
    }
    char *out = NULL;
    assert_int_equal(sk_url_resolve("/no/scheme", "x", &out), SK_EPARSE);
}

static void test_escape_ref(void **state)
{
    (void)state;
    static const char *const rows[][2] = {
        {"/a/b?x=1", "/a/b?x=1"},
        {"/a b", "/a%20b"},
        {"/caf\xc3\xa9?q=\xc3\xbc", "/caf%C3%A9?q=%C3%BC"},
        {"/p|{x}^`\"<>\\", "/p%7C%7Bx%7D%5E%60%22%3C%3E%5C"},
        {"/100%", "/100%25"},
        {"/%4a%zz%4", "/%4a%25zz%254"},
        {"/tab\there\x7f", "/tab%09here%7F"},
        /* The authority and the fragment are not touched. */
        {"http://h\xc3\xa9:81/x y#a b", "http://h\xc3\xa9:81/x%20y#a b"},
        {"//h/ /", "//h/%20/"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char *out = NULL;
        assert_int_equal(sk_url_escape_ref(rows[i][0], &out), 0);
        assert_string_equal(out, rows[i][1]);
        sk_free(out);
    }
}

static void test_filename(void **state)
{
    (void)state;
    static const struct {
        const char *url, *name;
    } rows[] = {
        {"http://h/a/file.tar.gz", "file.tar.gz"},
        {"http://h/a/file.txt?x=1/2", "file.txt"},
        {"http://h/a%20b", "a%20b"},
        {"http://h/", NULL},
        {"http://h", NULL},
        {"http://h/dir/", NULL},
        {"http://h/..", NULL},
        {"http://h/.", NULL},
        {"http://h/?q", NULL},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        sk_url_t u;
        assert_int_equal(sk_url_parse(&u, rows[i].url, false, NULL), 0);
        char name[64];
        int rc = sk_url_filename(&u, name, sizeof(name));
        if (rows[i].name == NULL) {
            assert_int_equal(rc, SK_EUSAGE);
        } else {
            assert_int_equal(rc, 0);
            assert_string_equal(name, rows[i].name);
        }
        sk_url_fini(&u);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),       cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_resolve_rfc), cmocka_unit_test(test_resolve_redirects),
        cmocka_unit_test(test_filename),    cmocka_unit_test(test_escape_ref),
    };
    return cmocka_run_group_tests(tests, setup_guard, teardown_guard);
}
