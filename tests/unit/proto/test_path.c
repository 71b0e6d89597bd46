/* test_path.c -- unit tests for src/proto/path.c: request path
 * normalisation (traversal, encodings, dot-segments, slashes), the hiding
 * rules for dot segments and /.well-known/, URL encoding and HTML escaping.
 * Inputs sit against a PROT_NONE page so any over-read crashes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/alloc.h"
#include "core/error.h"
#include "proto/path.h"

#include "../guard.h"

/* --- sk_path_normalize ----------------------------------------------------- */

struct norm_case {
    const char *in;
    unsigned flags;
    const char *out;            /* expected result, NULL if an error */
    enum sk_path_reason reason; /* expected reason */
    const char *why;
};

static const struct norm_case norm_cases[] = {
    {"/", 0, "/", SK_PATH_OK, "root"},
    {"", 0, "/", SK_PATH_OK, "empty path is / (RFC 9112 §3.2.2)"},
    {"/index.html", 0, "/index.html", SK_PATH_OK, "plain file"},
    {"/a/b/", 0, "/a/b/", SK_PATH_OK, "trailing slash kept for directory redirects"},
    {"/a/b", 0, "/a/b", SK_PATH_OK, "no trailing slash stays without"},
    {"//", 0, "/", SK_PATH_OK, "double slash collapses"},
    {"//a///b//", 0, "/a/b/", SK_PATH_OK, "repeated slashes collapse, trailing kept"},
    {"/./", 0, "/", SK_PATH_OK, "lone dot segment"},
    {"/.", 0, "/", SK_PATH_OK, "dot at the end"},
    {"/a/./b", 0, "/a/b", SK_PATH_OK, "dot segment in the middle"},
    {"/a/.", 0, "/a/", SK_PATH_OK, "trailing dot leaves a directory (RFC 3986 §5.2.4)"},
    {"/a/b/..", 0, "/a/", SK_PATH_OK, "trailing dot-dot leaves a directory"},
    {"/a/b/../c", 0, "/a/c", SK_PATH_OK, "dot-dot pops one segment"},
    {"/a/b/../../c/", 0, "/c/", SK_PATH_OK, "pop to the root and descend"},
    {"/a//..", 0, "/", SK_PATH_OK, "empty segment is not a level"},
    {"/..", 0, NULL, SK_PATH_ABOVE_ROOT, "parent of root"},
    {"/../etc/passwd", 0, NULL, SK_PATH_ABOVE_ROOT, "classic traversal"},
    {"/a/../../etc/passwd", 0, NULL, SK_PATH_ABOVE_ROOT, "traversal after one level"},
    {"/a/b/../../..", 0, NULL, SK_PATH_ABOVE_ROOT, "one pop too many at the end"},
    {"/%2e%2e/etc/passwd", 0, NULL, SK_PATH_ABOVE_ROOT, "encoded dot-dot is a dot-dot"},
    {"/%2E%2E", 0, NULL, SK_PATH_ABOVE_ROOT, "upper-case hex"},
    {"/.%2e/x", 0, NULL, SK_PATH_ABOVE_ROOT, "half-encoded dot-dot"},
    {"/a/%2e%2e", 0, "/", SK_PATH_OK, "encoded dot-dot within the root"},
    {"/a/%2e/b", 0, "/a/b", SK_PATH_OK, "encoded dot"},
    {"/%252e%252e/x", 0, "/%2e%2e/x", SK_PATH_OK, "double encoding decodes once: a literal name"},
    {"/%252e%252e%252f", 0, "/%2e%2e%2f", SK_PATH_OK, "double-encoded slash stays literal"},
    {"/a%2fb", 0, NULL, SK_PATH_ENCODED_SEP, "encoded slash"},
    {"/a%2Fb", 0, NULL, SK_PATH_ENCODED_SEP, "encoded slash, upper case"},
    {"/..%2f..%2fetc", 0, NULL, SK_PATH_ENCODED_SEP, "encoded slash traversal"},
    {"/a%5cb", 0, NULL, SK_PATH_ENCODED_SEP, "encoded backslash"},
    {"/..%5c..%5cwindows", 0, NULL, SK_PATH_ENCODED_SEP, "encoded backslash traversal"},
    {"/a\\b", 0, NULL, SK_PATH_BAD_CHAR, "raw backslash"},
    {"/a%00.html", 0, NULL, SK_PATH_NUL, "encoded NUL truncation"},
    {"/%00", 0, NULL, SK_PATH_NUL, "lone encoded NUL"},
    {"/a%", 0, NULL, SK_PATH_BAD_ESCAPE, "truncated escape, nothing after"},
    {"/%", 0, NULL, SK_PATH_BAD_ESCAPE, "lone percent"},
    {"/a%2", 0, NULL, SK_PATH_BAD_ESCAPE, "truncated escape, one digit"},
    {"/%g0", 0, NULL, SK_PATH_BAD_ESCAPE, "non-hex first digit"},
    {"/%0g", 0, NULL, SK_PATH_BAD_ESCAPE, "non-hex second digit"},
    {"/%zz", 0, NULL, SK_PATH_BAD_ESCAPE, "non-hex escape"},
    {"/%2?x", 0, NULL, SK_PATH_BAD_ESCAPE, "escape cut by the query"},
    {"/a b", 0, NULL, SK_PATH_BAD_CHAR, "raw space"},
    {"/a\tb", 0, NULL, SK_PATH_BAD_CHAR, "raw tab"},
    {"/a\x7f", 0, NULL, SK_PATH_BAD_CHAR, "raw DEL"},
    {"/a#frag", 0, NULL, SK_PATH_BAD_CHAR, "fragment is never sent"},
    {"a/b", 0, NULL, SK_PATH_NOT_ABSOLUTE, "relative path"},
    {"*", 0, NULL, SK_PATH_NOT_ABSOLUTE, "asterisk-form is not a file"},
    {"http://h/x", 0, NULL, SK_PATH_NOT_ABSOLUTE, "absolute-form must be reduced first"},
    {"/a?x=../../", 0, "/a", SK_PATH_OK, "the query is not part of the path"},
    {"/a/?q", 0, "/a/", SK_PATH_OK, "trailing slash before a query"},
    {"?x", 0, "/", SK_PATH_OK, "empty path with a query"},
    {"/a?%zz", 0, "/a", SK_PATH_OK, "escapes in the query are not checked here"},
    {"/%41%62c", 0, "/Abc", SK_PATH_OK, "unreserved escapes decode"},
    {"/caf%C3%A9", 0, "/caf\xc3\xa9", SK_PATH_OK, "UTF-8 decodes to bytes"},
    {"/caf\xc3\xa9", 0, "/caf\xc3\xa9", SK_PATH_OK, "raw UTF-8 is tolerated"},
    {"/%3f%23", 0, "/?#", SK_PATH_OK, "encoded ? and # are name bytes"},
    {"/%20x", 0, "/ x", SK_PATH_OK, "encoded space is a name byte"},
    {"/a/...", 0, "/a/...", SK_PATH_OK, "three dots is a name"},
    {"/a/..b/.c", 0, "/a/..b/.c", SK_PATH_OK, "dot-prefixed names are not dot-segments"},
    {"/.well-known/acme-challenge/t", 0, "/.well-known/acme-challenge/t", SK_PATH_OK,
     "well-known passes through"},
    {"/../a", SK_PATH_CLAMP_ROOT, "/a", SK_PATH_OK, "clamped at the root"},
    {"/a/../../b/", SK_PATH_CLAMP_ROOT, "/b/", SK_PATH_OK, "clamped after popping"},
    {"/..", SK_PATH_CLAMP_ROOT, "/", SK_PATH_OK, "clamped parent of root"},
    {"/%2e%2e/%2e%2e/x", SK_PATH_CLAMP_ROOT, "/x", SK_PATH_OK, "clamped encoded dot-dots"},
};

/* Properties every successful result has, whatever the input. */
static void check_invariants(const char *out, int n)
{
    assert_true(n >= 1);
    assert_int_equal(strlen(out), (size_t)n);
    assert_int_equal(out[0], '/');
    assert_null(strstr(out, "//"));
    assert_null(strstr(out, "/./"));
    assert_null(strstr(out, "/../"));
    assert_false(n >= 2 && strcmp(out + n - 2, "/.") == 0);
    assert_false(n >= 3 && strcmp(out + n - 3, "/..") == 0);
}

static void test_normalize_table(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < sizeof(norm_cases) / sizeof(norm_cases[0]); i++) {
        const struct norm_case *c = &norm_cases[i];
        size_t len = strlen(c->in);
        const char *in = guarded(c->in, len);
        char out[256] = "";
        enum sk_path_reason why = (enum sk_path_reason) - 1;
        int rc = sk_path_normalize(in, len, out, sizeof(out), c->flags, &why);
        bool ok = why == c->reason;
        if (c->out == NULL)
            ok = ok && rc == SK_EPARSE && sk_path_reason_status(why) == 400;
        else
            ok = ok && rc == (int)strlen(c->out) && strcmp(out, c->out) == 0;
        if (!ok) {
            print_error("case %zu (%s): \"%s\" -> rc %d reason %s out \"%s\"\n", i, c->why, c->in,
                        rc, sk_path_reason_str(why), rc >= 0 ? out : "");
            failed++;
        } else if (rc >= 0) {
            check_invariants(out, rc);
        }
    }
    assert_int_equal(failed, 0);
}

/* Every prefix of every input either fails cleanly or keeps the
 * invariants: a truncated request never yields a surprising path. */
static void test_normalize_prefixes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(norm_cases) / sizeof(norm_cases[0]); i++) {
        const char *s = norm_cases[i].in;
        for (size_t n = 0; n <= strlen(s); n++) {
            const char *in = guarded(s, n);
            char out[256];
            int rc = sk_path_normalize(in, n, out, sizeof(out), norm_cases[i].flags, NULL);
            if (rc >= 0)
                check_invariants(out, rc);
            else
                assert_true(rc == SK_EPARSE);
        }
    }
}

static void test_normalize_outcap(void **state)
{
    (void)state;
    char out[8];
    enum sk_path_reason why;
    /* len + 2 always suffices, even for the empty path. */
    assert_int_equal(sk_path_normalize("", 0, out, 2, 0, &why), 1);
    assert_string_equal(out, "/");
    assert_int_equal(sk_path_normalize("/abcde/", 7, out, 8, 0, &why), 7);
    assert_string_equal(out, "/abcde/");
    /* One byte short: the NUL no longer fits. */
    assert_int_equal(sk_path_normalize("/abcde/", 7, out, 7, 0, &why), SK_ETOOBIG);
    assert_int_equal(why, SK_PATH_TOO_LONG);
    assert_int_equal(sk_path_reason_status(why), 414);
    assert_int_equal(sk_path_normalize("/abcdefgh", 9, out, 8, 0, &why), SK_ETOOBIG);
    assert_int_equal(sk_path_normalize("/", 1, out, 1, 0, &why), SK_ETOOBIG);
    /* Escapes shrink: 12 input bytes, 4 output bytes. */
    assert_int_equal(sk_path_normalize("/%41%42%43", 10, out, 5, 0, &why), 4);
    assert_string_equal(out, "/ABC");
    /* The reason pointer is optional. */
    assert_int_equal(sk_path_normalize("/..", 3, out, sizeof(out), 0, NULL), SK_EPARSE);
    for (int r = SK_PATH_OK; r <= SK_PATH_TOO_LONG; r++)
        assert_non_null(sk_path_reason_str((enum sk_path_reason)r));
}

/* --- dot segments and /.well-known/ ------------------------------------- */

struct dot_case {
    const char *norm;
    bool has_dot, well_known, hidden;
    const char *why;
};

static const struct dot_case dot_cases[] = {
    {"/", false, false, false, "root"},
    {"/a/b", false, false, false, "plain path"},
    {"/a.b/c.d", false, false, false, "dots inside names"},
    {"/a/b.", false, false, false, "trailing dot inside a name"},
    {"/.git/config", true, false, true, "dot-directory"},
    {"/a/.htaccess", true, false, true, "dotfile in a subdirectory"},
    {"/a/.b/", true, false, true, "dot-directory with trailing slash"},
    {"/.well-known/acme-challenge/x", true, true, false, "ACME challenge is served"},
    {"/.well-known", true, true, false, "the directory itself (to redirect)"},
    {"/.well-known/", true, true, false, "the directory with slash"},
    {"/.well-known/.secret", true, true, true, "dotfile under well-known stays hidden"},
    {"/.well-knownx/a", true, false, true, "prefix match is per segment"},
    {"/.well-known-x", true, false, true, "prefix match is per segment (dash)"},
    {"/a/.well-known/x", true, false, true, "only at the root (RFC 8615)"},
    {"/.Well-Known/x", true, false, true, "paths are case-sensitive"},
};

static void test_dot_segments(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < sizeof(dot_cases) / sizeof(dot_cases[0]); i++) {
        const struct dot_case *c = &dot_cases[i];
        bool d = sk_path_has_dot_segment(c->norm), w = sk_path_is_well_known(c->norm),
             h = sk_path_is_hidden(c->norm);
        if (d != c->has_dot || w != c->well_known || h != c->hidden) {
            print_error("case %zu (%s): %s -> dot %d well-known %d hidden %d\n", i, c->why, c->norm,
                        d, w, h);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

/* --- URL encoding and HTML escaping ---------------------------------------- */

struct enc_case {
    const char *in;
    const char *out;
    const char *why;
};

static const struct enc_case url_cases[] = {
    {"", "", "empty"},
    {"/a/b/", "/a/b/", "slashes stay"},
    {"/a b", "/a%20b", "space"},
    {"/100%", "/100%25", "a literal percent must not read as an escape"},
    {"/q?x#y", "/q%3Fx%23y", "query and fragment delimiters"},
    {"/caf\xc3\xa9", "/caf%C3%A9", "non-ASCII bytes"},
    {"/a'b\"c<d>", "/a%27b%22c%3Cd%3E", "quotes and angle brackets (HTML attributes)"},
    {"/~u/-._!$&()*+,;=:@", "/~u/-._!$&()*+,;=:@", "pchar and unreserved stay"},
    {"/\r\n\x01\x7f\\", "/%0D%0A%01%7F%5C", "controls, DEL, backslash (header injection)"},
};

/* Runs an encoder over a table and reports every mismatch by its why. */
static void run_encoder(const struct enc_case *cases, size_t n,
                        int (*enc)(sk_buf_t *, const char *, size_t))
{
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        const struct enc_case *c = &cases[i];
        sk_buf_t b;
        sk_buf_init(&b);
        int rc = enc(&b, c->in, strlen(c->in));
        if (rc != 0 || b.len != strlen(c->out) ||
            (b.len > 0 && memcmp(sk_buf_head(&b), c->out, b.len) != 0)) {
            print_error("case %zu (%s): rc %d got \"%.*s\" want \"%s\"\n", i, c->why, rc,
                        (int)b.len, b.len ? sk_buf_head(&b) : "", c->out);
            failed++;
        }
        sk_buf_fini(&b);
    }
    assert_int_equal(failed, 0);
}

static void test_url_encode(void **state)
{
    (void)state;
    run_encoder(url_cases, sizeof(url_cases) / sizeof(url_cases[0]), sk_url_encode_path);
}

/* Encoding a normalised path and normalising it again gives it back: a
 * Location header built this way names the same file. */
static void test_url_encode_round_trip(void **state)
{
    (void)state;
    static const char *const paths[] = {
        "/", "/a/b/", "/100%/x", "/%2e%2e", "/q?x#y", "/caf\xc3\xa9", "/a b", "/.well-known/",
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        sk_buf_t b;
        sk_buf_init(&b);
        assert_int_equal(sk_url_encode_path(&b, paths[i], strlen(paths[i])), 0);
        char out[128];
        int rc = sk_path_normalize(sk_buf_head(&b), b.len, out, sizeof(out), 0, NULL);
        assert_int_equal(rc, (int)strlen(paths[i]));
        assert_string_equal(out, paths[i]);
        sk_buf_fini(&b);
    }
}

static const struct enc_case html_cases[] = {
    {"", "", "empty"},
    {"plain.txt", "plain.txt", "nothing to escape"},
    {"<script>", "&lt;script&gt;", "tags"},
    {"a&b", "a&amp;b", "ampersand"},
    {"\"x\" 'y'", "&quot;x&quot; &#39;y&#39;", "both quotes (attribute values)"},
    {"&&", "&amp;&amp;", "adjacent escapes"},
    {"caf\xc3\xa9", "caf\xc3\xa9", "UTF-8 passes through"},
};

static void test_html_escape(void **state)
{
    (void)state;
    run_encoder(html_cases, sizeof(html_cases) / sizeof(html_cases[0]), sk_html_escape);
}

static void test_encode_enomem(void **state)
{
    (void)state;
    sk_buf_t b;
    sk_buf_init(&b);
    sk_alloc_fail_after(1);
    assert_int_equal(sk_url_encode_path(&b, "/a b", 4), -ENOMEM);
    sk_alloc_fail_after(1);
    assert_int_equal(sk_html_escape(&b, "<a>", 3), -ENOMEM);
    sk_alloc_fail_after(1);
    assert_int_equal(sk_html_escape(&b, "ab", 2), -ENOMEM);
    sk_alloc_fail_after(0);
    assert_int_equal(b.len, 0);
    sk_buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize_table),  cmocka_unit_test(test_normalize_prefixes),
        cmocka_unit_test(test_normalize_outcap), cmocka_unit_test(test_dot_segments),
        cmocka_unit_test(test_url_encode),       cmocka_unit_test(test_url_encode_round_trip),
        cmocka_unit_test(test_html_escape),      cmocka_unit_test(test_encode_enomem),
    };
    return cmocka_run_group_tests(tests, setup_guard, teardown_guard);
}
