/* test_http_parse.c -- table tests for the HTTP/1.1 request-head parser.
 *
 * Every row is parsed whole and at every truncation, each time copied so it
 * ends against a PROT_NONE page (picohttpparser's trick): a read past len
 * faults. Strict prefixes of valid heads must give SK_AGAIN; prefixes of
 * invalid ones SK_AGAIN or the same rejection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/error.h"
#include "proto/http_parse.h"

#define GUARD_ARENA_SIZE (64 * 1024)
#include "../guard.h"

static const sk_http_limits_t lim32 = {.max_header_bytes = 32};
static const sk_http_limits_t lim27 = {.max_header_bytes = 27};
static const sk_http_limits_t lim26 = {.max_header_bytes = 26};
static const sk_http_limits_t hdr2 = {.max_headers = 2};
static const sk_http_limits_t bigbody = {.max_body = UINT64_MAX};
static const sk_http_limits_t nobody = {.max_body = 0};

struct row {
    const char *in;
    size_t len;
    enum sk_http_error why;
    int status;
    const sk_http_limits_t *lim;
    /* Checked only when why is SK_HTTP_E_NONE. */
    enum sk_http_method method;
    const char *path, *query;
    int minor;
    bool keep_alive;
};

#define OKL(lit, lim, m, path, query, minor, ka)                                                   \
    {                                                                                              \
        lit, sizeof(lit) - 1, SK_HTTP_E_NONE, 200, lim, m, path, query, minor, ka                  \
    }
#define OK(lit, m, path, query, minor, ka) OKL(lit, NULL, m, path, query, minor, ka)
#define BADL(lit, why, status, lim)                                                                \
    {                                                                                              \
        lit, sizeof(lit) - 1, why, status, lim, 0, NULL, NULL, 0, 0                                \
    }
#define BAD(lit, why, status) BADL(lit, why, status, NULL)

#define H11 " HTTP/1.1\r\nHost: a\r\n"

static const struct row rows[] = {
    /* Valid heads. */
    OK("GET /" H11 "\r\n", SK_HTTP_GET, "/", "", 1, true),
    OK("GET /index.html?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\n\r\n", SK_HTTP_GET, "/index.html",
       "x=1&y=2", 1, true),
    OK("GET /? HTTP/1.1\r\nHost: a\r\n\r\n", SK_HTTP_GET, "/", "", 1, true),
    OK("HEAD / HTTP/1.0\r\n\r\n", SK_HTTP_HEAD, "/", "", 0, false),
    OK("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", SK_HTTP_GET, "/", "", 0, true),
    OK("GET / HTTP/1.0\r\nConnection: Keep-Alive, close\r\n\r\n", SK_HTTP_GET, "/", "", 0, false),
    OK("GET /" H11 "Connection: close\r\n\r\n", SK_HTTP_GET, "/", "", 1, false),
    OK("GET /" H11 "Connection: Upgrade ,  CLOSE\r\n\r\n", SK_HTTP_GET, "/", "", 1, false),
    OK("GET /" H11 "Connection: closed\r\n\r\n", SK_HTTP_GET, "/", "", 1, true),
    OK("\r\nGET /" H11 "\r\n", SK_HTTP_GET, "/", "", 1, true),
    OK("\r\n\r\nGET /" H11 "\r\n", SK_HTTP_GET, "/", "", 1, true),
    OK("OPTIONS *" H11 "\r\n", SK_HTTP_OPTIONS, "*", "", 1, true),
    OK("OPTIONS /x" H11 "\r\n", SK_HTTP_OPTIONS, "/x", "", 1, true),
    OK("GET http://example.com/a?b HTTP/1.1\r\nHost: other\r\n\r\n", SK_HTTP_GET, "/a", "b", 1,
       true),
    OK("GET HTTPS://example.com:8443 HTTP/1.1\r\nHost: x\r\n\r\n", SK_HTTP_GET, "/", "", 1, true),
    OK("GET http://h?q HTTP/1.1\r\nHost: h\r\n\r\n", SK_HTTP_GET, "/", "q", 1, true),
    OK("GET / HTTP/1.2\r\nHost: a\r\n\r\n", SK_HTTP_GET, "/", "", 1, true),
    OK("GET / HTTP/1.9\r\nHost: a\r\n\r\n", SK_HTTP_GET, "/", "", 1, true),
    OK("POST /f" H11 "Content-Length: 5\r\n\r\n", SK_HTTP_POST, "/f", "", 1, true),
    OK("POST /f" H11 "Content-Length: 5, 5\r\n\r\n", SK_HTTP_POST, "/f", "", 1, true),
    OK("POST /f" H11 "Content-Length: 5\r\ncontent-length:5\r\n\r\n", SK_HTTP_POST, "/f", "", 1,
       true),
    OK("POST /" H11 "Transfer-Encoding: chunked\r\n\r\n", SK_HTTP_POST, "/", "", 1, true),
    BAD("POST /" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n", SK_HTTP_E_TE_UNKNOWN, 501),
    BAD("POST /" H11 "Transfer-Encoding: gzip\r\nTransfer-Encoding: CHUNKED\r\n\r\n",
        SK_HTTP_E_TE_UNKNOWN, 501),
    OK("POST /" H11 "Transfer-Encoding: , chunked ,\r\n\r\n", SK_HTTP_POST, "/", "", 1, true),
    OK("get /" H11 "\r\n", SK_HTTP_UNKNOWN, "/", "", 1, true),
    OK("FOO-BAR /" H11 "\r\n", SK_HTTP_UNKNOWN, "/", "", 1, true),
    OK("PUT /" H11 "\r\n", SK_HTTP_PUT, "/", "", 1, true),
    OK("PATCH /" H11 "\r\n", SK_HTTP_PATCH, "/", "", 1, true),
    OK("TRACE /" H11 "\r\n", SK_HTTP_TRACE, "/", "", 1, true),
    OK("DELETE /x HTTP/1.1\r\nhost: a\r\n\r\n", SK_HTTP_DELETE, "/x", "", 1, true),
    OK("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", SK_HTTP_CONNECT, "", "",
       1, true),
    OK("GET /" H11 "X-Empty:\r\n\r\n", SK_HTTP_GET, "/", "", 1, true),
    OK("GET /" H11 "X:  \t v a l \t \r\n\r\n", SK_HTTP_GET, "/", "", 1, true),
    OK("GET /" H11 "X: \x80\xff obs-text\r\n\r\n", SK_HTTP_GET, "/", "", 1, true),
    OK("GET /" H11 "X: a\tb\r\n\r\n", SK_HTTP_GET, "/", "", 1, true),
    /* RFC 9112 §3.2: an empty Host is for targets without an authority;
     * origin-form and asterisk-form always have one (the server's). */
    BAD("GET / HTTP/1.1\r\nHost:\r\n\r\n", SK_HTTP_E_HOST_EMPTY, 400),
    BAD("OPTIONS * HTTP/1.1\r\nHost: \t\r\n\r\n", SK_HTTP_E_HOST_EMPTY, 400),
    OK("GET http://a/ HTTP/1.1\r\nHost:\r\n\r\n", SK_HTTP_GET, "/", "", 1, true),
    OK("GET / HTTP/1.0\r\nHost:\r\n\r\n", SK_HTTP_GET, "/", "", 0, false),
    OK("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", SK_HTTP_GET, "/", "", 1, true),
    OK("GET /a%20b/~c/!$&'()*+,;=:@ HTTP/1.1\r\nHost: a\r\n\r\n", SK_HTTP_GET,
       "/a%20b/~c/!$&'()*+,;=:@", "", 1, true),
    OK("GET /" H11 "Content-Length: 0\r\n\r\n", SK_HTTP_GET, "/", "", 1, true),
    OK("GET /" H11 "Content-Length: 00012\r\n\r\n", SK_HTTP_GET, "/", "", 1, true),
    OKL("PUT /" H11 "Content-Length: 9223372036854775807\r\n\r\n", &bigbody, SK_HTTP_PUT, "/", "",
        1, true),
    OKL("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &lim27, SK_HTTP_GET, "/", "", 1, true),
    OKL("GET /" H11 "B: 2\r\n\r\n", &hdr2, SK_HTTP_GET, "/", "", 1, true),
    OK("GET /" H11 "!#$%&'*+-.^_`|~09azAZ: token name\r\n\r\n", SK_HTTP_GET, "/", "", 1, true),

    /* Method. */
    BAD(" GET /" H11 "\r\n", SK_HTTP_E_METHOD, 400),
    BAD("G(T /" H11 "\r\n", SK_HTTP_E_METHOD, 400),
    BAD("GET\t/" H11 "\r\n", SK_HTTP_E_METHOD, 400),
    BAD("/ HTTP/1.1\r\n\r\n", SK_HTTP_E_METHOD, 400),
    BAD("\0GET /" H11 "\r\n", SK_HTTP_E_METHOD, 400),
    BAD("G\xc3\x89T /" H11 "\r\n", SK_HTTP_E_METHOD, 400),
    /* Request line shape. */
    BAD("GET\r\n\r\n", SK_HTTP_E_REQUEST_LINE, 400),
    BAD("GET /\r\n\r\n", SK_HTTP_E_REQUEST_LINE, 400),
    /* Target. */
    BAD("GET  /" H11 "\r\n", SK_HTTP_E_TARGET, 400),
    BAD("GET /a\x01"
        "b" H11 "\r\n",
        SK_HTTP_E_TARGET, 400),
    BAD("GET /\x7f" H11 "\r\n", SK_HTTP_E_TARGET, 400),
    BAD("GET /\xc3\xa9" H11 "\r\n", SK_HTTP_E_TARGET, 400),
    BAD("GET /a\0b" H11 "\r\n", SK_HTTP_E_TARGET, 400),
    BAD("GET /a\tb" H11 "\r\n", SK_HTTP_E_TARGET, 400),
    BAD("GET a/b" H11 "\r\n", SK_HTTP_E_TARGET, 400),
    BAD("GET *" H11 "\r\n", SK_HTTP_E_TARGET, 400),
    BAD("GET /a#frag" H11 "\r\n", SK_HTTP_E_TARGET, 400),
    BAD("GET ftp://a/" H11 "\r\n", SK_HTTP_E_TARGET, 400),
    BAD("GET http:/a" H11 "\r\n", SK_HTTP_E_TARGET, 400),
    BAD("CONNECT /" H11 "\r\n", SK_HTTP_E_TARGET, 400),
    BAD("CONNECT example.com" H11 "\r\n", SK_HTTP_E_TARGET, 400),
    /* Host, in the field or the target's authority. */
    BAD("GET http:///a" H11 "\r\n", SK_HTTP_E_HOST_INVALID, 400),
    BAD("GET http://user@h/" H11 "\r\n", SK_HTTP_E_HOST_INVALID, 400),
    BAD("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", SK_HTTP_E_HOST_INVALID, 400),
    BAD("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", SK_HTTP_E_HOST_INVALID, 400),
    BAD("GET / HTTP/1.1\r\nHost: a\xc3\xa9\r\n\r\n", SK_HTTP_E_HOST_INVALID, 400),
    BAD("GET / HTTP/1.1\r\n\r\n", SK_HTTP_E_HOST_MISSING, 400),
    BAD("GET / HTTP/1.5\r\nX: y\r\n\r\n", SK_HTTP_E_HOST_MISSING, 400),
    BAD("GET /" H11 "Host: a\r\n\r\n", SK_HTTP_E_HOST_DUP, 400),
    BAD("GET /" H11 "host: b\r\n\r\n", SK_HTTP_E_HOST_DUP, 400),
    /* Version. */
    BAD("GET / http/1.1\r\nHost: a\r\n\r\n", SK_HTTP_E_VERSION, 400),
    BAD("GET / HTTP/1.1.1\r\nHost: a\r\n\r\n", SK_HTTP_E_VERSION, 400),
    BAD("GET / HTTP/01.1\r\nHost: a\r\n\r\n", SK_HTTP_E_VERSION, 400),
    BAD("GET / HTTP/1.10\r\nHost: a\r\n\r\n", SK_HTTP_E_VERSION, 400),
    BAD("GET / HTTP/1.x\r\nHost: a\r\n\r\n", SK_HTTP_E_VERSION, 400),
    BAD("GET / HTTP/2\r\nHost: a\r\n\r\n", SK_HTTP_E_VERSION, 400),
    BAD("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", SK_HTTP_E_VERSION, 400),
    BAD("GET / HTTPS/1.1\r\nHost: a\r\n\r\n", SK_HTTP_E_VERSION, 400),
    BAD("GET / HTTP/2.0\r\nHost: a\r\n\r\n", SK_HTTP_E_VERSION_UNSUP, 505),
    BAD("GET / HTTP/3.0\r\nHost: a\r\n\r\n", SK_HTTP_E_VERSION_UNSUP, 505),
    BAD("GET / HTTP/0.9\r\n\r\n", SK_HTTP_E_VERSION_UNSUP, 505),
    /* Line endings. */
    BAD("\rGET /" H11 "\r\n", SK_HTTP_E_BARE_CR, 400),
    BAD("GET / HTTP/1.1\rHost: a\r\n\r\n", SK_HTTP_E_BARE_CR, 400),
    BAD("GET /" H11 "X: a\rb\r\n\r\n", SK_HTTP_E_BARE_CR, 400),
    BAD("GET /" H11 "\rX", SK_HTTP_E_BARE_CR, 400),
    BAD("\nGET /" H11 "\r\n", SK_HTTP_E_BARE_LF, 400),
    BAD("GET / HTTP/1.1\nHost: a\n\n", SK_HTTP_E_BARE_LF, 400),
    BAD("GET / HTTP/1.1\r\nHost: a\n\r\n", SK_HTTP_E_BARE_LF, 400),
    BAD("GET /" H11 "\n", SK_HTTP_E_BARE_LF, 400),
    BAD("GET /" H11 "X\n\r\n", SK_HTTP_E_BARE_LF, 400),
    /* Field names. */
    BAD("GET /" H11 ": v\r\n\r\n", SK_HTTP_E_HEADER_NAME, 400),
    BAD("GET /" H11 "X(: v\r\n\r\n", SK_HTTP_E_HEADER_NAME, 400),
    BAD("GET /" H11 "X\0: v\r\n\r\n", SK_HTTP_E_HEADER_NAME, 400),
    BAD("GET /" H11 "Foo\r\n\r\n", SK_HTTP_E_HEADER_NAME, 400),
    BAD("GET /" H11 "\x80X: v\r\n\r\n", SK_HTTP_E_HEADER_NAME, 400),
    BAD("GET / HTTP/1.1\r\nHost : a\r\n\r\n", SK_HTTP_E_SPACE_BEFORE_COLON, 400),
    BAD("GET /" H11 "X\t: v\r\n\r\n", SK_HTTP_E_SPACE_BEFORE_COLON, 400),
    BAD("GET /" H11 "X: a\r\n b\r\n\r\n", SK_HTTP_E_OBS_FOLD, 400),
    BAD("GET /" H11 "X: a\r\n\tb\r\n\r\n", SK_HTTP_E_OBS_FOLD, 400),
    BAD("GET / HTTP/1.1\r\n Host: a\r\n\r\n", SK_HTTP_E_OBS_FOLD, 400),
    /* Field values. */
    BAD("GET /" H11 "X: a\0b\r\n\r\n", SK_HTTP_E_HEADER_VALUE, 400),
    BAD("GET /" H11 "X: a\x01\r\n\r\n", SK_HTTP_E_HEADER_VALUE, 400),
    BAD("GET /" H11 "X: \x7f\r\n\r\n", SK_HTTP_E_HEADER_VALUE, 400),
    BAD("GET /" H11 "X: 0123456789abcdef0123456789\x1b"
        "abcdef\r\n\r\n",
        SK_HTTP_E_HEADER_VALUE, 400),
    /* Content-Length. */
    BAD("POST /" H11 "Content-Length: +5\r\n\r\n", SK_HTTP_E_CONTENT_LENGTH, 400),
    BAD("POST /" H11 "Content-Length: -5\r\n\r\n", SK_HTTP_E_CONTENT_LENGTH, 400),
    BAD("POST /" H11 "Content-Length: 5a\r\n\r\n", SK_HTTP_E_CONTENT_LENGTH, 400),
    BAD("POST /" H11 "Content-Length: 0x5\r\n\r\n", SK_HTTP_E_CONTENT_LENGTH, 400),
    BAD("POST /" H11 "Content-Length:\r\n\r\n", SK_HTTP_E_CONTENT_LENGTH, 400),
    BAD("POST /" H11 "Content-Length: 5 5\r\n\r\n", SK_HTTP_E_CONTENT_LENGTH, 400),
    BAD("POST /" H11 "Content-Length: 5,,5\r\n\r\n", SK_HTTP_E_CONTENT_LENGTH, 400),
    BAD("POST /" H11 "Content-Length: 5,\r\n\r\n", SK_HTTP_E_CONTENT_LENGTH, 400),
    BAD("POST /" H11 "Content-Length: 99999999999999999999\r\n\r\n", SK_HTTP_E_CONTENT_LENGTH, 400),
    BAD("POST /" H11 "Content-Length: 9223372036854775808\r\n\r\n", SK_HTTP_E_CONTENT_LENGTH, 400),
    BAD("POST /" H11 "Content-Length: 5, 6\r\n\r\n", SK_HTTP_E_CL_CONFLICT, 400),
    BAD("POST /" H11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", SK_HTTP_E_CL_CONFLICT, 400),
    BAD("POST /" H11 "Content-Length: 1048577\r\n\r\n", SK_HTTP_E_BODY_TOO_LARGE, 413),
    /* --max-body 0: no body at all, though an explicit empty one is fine. */
    BADL("POST /" H11 "Content-Length: 5\r\n\r\n", SK_HTTP_E_BODY_TOO_LARGE, 413, &nobody),
    BADL("POST /" H11 "Content-Length: 1\r\n\r\n", SK_HTTP_E_BODY_TOO_LARGE, 413, &nobody),
    OKL("POST /" H11 "Content-Length: 0\r\n\r\n", &nobody, SK_HTTP_POST, "/", "", 1, true),
    /* Transfer-Encoding. */
    BAD("POST /" H11 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", SK_HTTP_E_TE_AND_CL,
        400),
    BAD("POST /" H11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", SK_HTTP_E_TE_AND_CL,
        400),
    BAD("POST /" H11 "Transfer-Encoding: gzip\r\n\r\n", SK_HTTP_E_TE_UNKNOWN, 501),
    BAD("POST /" H11 "Transfer-Encoding: chunked, gzip\r\n\r\n", SK_HTTP_E_TE_NOT_CHUNKED, 400),
    BAD("POST /" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        SK_HTTP_E_TE_NOT_CHUNKED, 400),
    BAD("POST /" H11 "Transfer-Encoding:\r\n\r\n", SK_HTTP_E_TE_NOT_CHUNKED, 400),
    BAD("POST /" H11 "Transfer-Encoding: foo\r\n\r\n", SK_HTTP_E_TE_UNKNOWN, 501),
    BAD("POST /" H11 "Transfer-Encoding: br, chunked\r\n\r\n", SK_HTTP_E_TE_UNKNOWN, 501),
    BAD("POST /" H11 "Transfer-Encoding: chunked;q=1\r\n\r\n", SK_HTTP_E_TE_INVALID, 400),
    BAD("POST /" H11 "Transfer-Encoding: \"chunked\"\r\n\r\n", SK_HTTP_E_TE_INVALID, 400),
    BAD("POST /" H11 "Transfer-Encoding: chunked x\r\n\r\n", SK_HTTP_E_TE_INVALID, 400),
    BAD("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", SK_HTTP_E_TE_HTTP10, 400),
    /* Limits. */
    BADL("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" H11 "\r\n", SK_HTTP_E_URI_TOO_LONG, 414,
         &lim32),
    BADL("GET / HTTP/1.1\r\nHost: aaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n", SK_HTTP_E_HEAD_TOO_LARGE, 431,
         &lim32),
    BADL("GET / HTTP/1.1\r\nHost: a\r\n\r\n", SK_HTTP_E_HEAD_TOO_LARGE, 431, &lim26),
    BADL("GET /" H11 "A: 1\r\nB: 2\r\n\r\n", SK_HTTP_E_TOO_MANY_HEADERS, 431, &hdr2),
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))
#define MAXH 128

/* Asserts that s lies inside [b, b+n) (or is the static "/" path). */
static void assert_inside(sk_str_t s, const char *b, size_t n)
{
    if (s.len == 0)
        return;
    assert_true(s.ptr >= b && s.ptr + s.len <= b + n);
}

static void assert_str(sk_str_t s, const char *want)
{
    if (s.len != strlen(want) || (s.len != 0 && memcmp(s.ptr, want, s.len) != 0)) {
        fail_msg("got \"%.*s\", want \"%s\"", (int)s.len, s.ptr != NULL ? s.ptr : "", want);
    }
}

static int parse(const char *b, size_t n, const sk_http_limits_t *lim, sk_http_request_t *req,
                 enum sk_http_error *why)
{
    static sk_http_header_t hdrs[MAXH];
    return sk_http_parse_request(b, n, lim, req, hdrs, MAXH, why);
}

static void check_row(size_t i, const struct row *r)
{
    sk_http_request_t req;
    enum sk_http_error why = SK_HTTP_E_NONE;
    const char *b = guarded(r->in, r->len);
    int rc = parse(b, r->len, r->lim, &req, &why);

    if (r->why == SK_HTTP_E_NONE) {
        if (rc != (int)r->len)
            fail_msg("row %zu: rc %d why %s, want %zu", i, rc, sk_http_error_reason(why), r->len);
        assert_int_equal(req.method_id, r->method);
        assert_str(req.path, r->path);
        assert_str(req.query, r->query);
        assert_int_equal(req.version_minor, r->minor);
        assert_int_equal(req.keep_alive, r->keep_alive);
        assert_inside(req.method, b, r->len);
        assert_inside(req.target, b, r->len);
        assert_inside(req.query, b, r->len);
        assert_inside(req.host, b, r->len);
        for (size_t h = 0; h < req.num_headers; h++) {
            assert_inside(req.headers[h].name, b, r->len);
            assert_inside(req.headers[h].value, b, r->len);
        }
        /* A body or a pipelined request after the head changes nothing. */
        char more[1024];
        assert_true(r->len + 9 <= sizeof(more));
        memcpy(more, r->in, r->len);
        memcpy(more + r->len, "GET / HT", 9);
        b = guarded(more, r->len + 8);
        assert_int_equal(parse(b, r->len + 8, r->lim, &req, &why), (int)r->len);
    } else {
        if (rc != SK_EPARSE || why != r->why)
            fail_msg("row %zu: rc %d why %s, want %s", i, rc, sk_http_error_reason(why),
                     sk_http_error_reason(r->why));
        assert_int_equal(sk_http_error_status(why), r->status);
    }

    /* Every strict prefix, against the guard page. */
    for (size_t k = 0; k < r->len; k++) {
        b = guarded(r->in, k);
        why = SK_HTTP_E_NONE;
        rc = parse(b, k, r->lim, &req, &why);
        if (rc == SK_AGAIN)
            continue;
        if (r->why == SK_HTTP_E_NONE || rc != SK_EPARSE || why != r->why)
            fail_msg("row %zu prefix %zu: rc %d why %s", i, k, rc, sk_http_error_reason(why));
    }
}

static void test_table(void **state)
{
    (void)state;
    assert_true(NROWS >= 60);
    for (size_t i = 0; i < NROWS; i++)
        check_row(i, &rows[i]);
    print_message("%zu rows\n", NROWS);
}

/* A typical browser head: every derived field and header span. */
static void test_browser_fields(void **state)
{
    (void)state;
    static const char in[] = "GET /static/app.js?v=3 HTTP/1.1\r\n"
                             "Host: localhost:8080\r\n"
                             "User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
                             "Accept: */*\r\n"
                             "Accept-Encoding: gzip, deflate, br\r\n"
                             "If-None-Match: \"abc\"\r\n"
                             "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n"
                             "Range: bytes=0-99\r\n"
                             "If-Range: \"abc\"\r\n"
                             "If-None-Match: \"second\"\r\n"
                             "Connection: keep-alive\r\n"
                             "\r\n";
    size_t n = sizeof(in) - 1;
    sk_http_request_t req;
    sk_http_header_t hdrs[16];
    enum sk_http_error why;
    const char *b = guarded(in, n);
    assert_int_equal(sk_http_parse_request(b, n, NULL, &req, hdrs, 16, &why), (int)n);
    assert_int_equal(why, SK_HTTP_E_NONE);
    assert_ptr_equal(req.headers, hdrs);
    assert_int_equal(req.num_headers, 10);
    assert_str(req.method, "GET");
    assert_str(req.target, "/static/app.js?v=3");
    assert_str(req.path, "/static/app.js");
    assert_str(req.query, "v=3");
    assert_true(req.has_host);
    assert_str(req.host, "localhost:8080");
    assert_str(req.accept_encoding, "gzip, deflate, br");
    assert_str(req.if_none_match, "\"abc\""); /* the first occurrence */
    assert_str(req.if_modified_since, "Sat, 01 Jan 2000 00:00:00 GMT");
    assert_str(req.range, "bytes=0-99");
    assert_str(req.if_range, "\"abc\"");
    assert_str(req.connection, "keep-alive");
    assert_str(hdrs[1].name, "User-Agent");
    assert_str(hdrs[1].value, "Mozilla/5.0 (X11; Linux x86_64)");
    assert_false(req.chunked);
    assert_false(req.has_content_length);
    assert_true(req.keep_alive);
}

/* Content-Length, chunked and the absolute-form authority. */
static void test_framing_fields(void **state)
{
    (void)state;
    sk_http_request_t req;
    enum sk_http_error why;
    static const char cl[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 00012\r\n\r\n";
    assert_int_equal(parse(cl, sizeof(cl) - 1, NULL, &req, &why), (int)sizeof(cl) - 1);
    assert_true(req.has_content_length);
    assert_int_equal(req.content_length, 12);
    assert_false(req.chunked);

    static const char te[] = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n";
    assert_int_equal(parse(te, sizeof(te) - 1, NULL, &req, &why), (int)sizeof(te) - 1);
    assert_true(req.chunked);
    assert_false(req.has_content_length);

    static const char big[] =
        "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n";
    sk_http_limits_t lim = {.max_body = UINT64_MAX};
    assert_int_equal(parse(big, sizeof(big) - 1, &lim, &req, &why), (int)sizeof(big) - 1);
    assert_true(req.content_length == UINT64_C(9223372036854775807));

    static const char abs[] = "GET http://example.com:81/p HTTP/1.1\r\nHost: other\r\n\r\n";
    assert_int_equal(parse(abs, sizeof(abs) - 1, NULL, &req, &why), (int)sizeof(abs) - 1);
    assert_str(req.host, "example.com:81"); /* RFC 9112 §3.2.2: the target wins */
    assert_str(req.path, "/p");
}

/* Two pipelined requests: parse the first, then from its end. */
static void test_pipelined(void **state)
{
    (void)state;
    static const char in[] = "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
                             "HEAD /two?x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    size_t n = sizeof(in) - 1;
    const char *b = guarded(in, n);
    sk_http_request_t req;
    enum sk_http_error why;
    int first = parse(b, n, NULL, &req, &why);
    assert_int_equal(first, 30);
    assert_str(req.path, "/one");
    assert_true(req.keep_alive);
    int second = parse(b + first, n - (size_t)first, NULL, &req, &why);
    assert_int_equal(first + second, (int)n);
    assert_int_equal(req.method_id, SK_HTTP_HEAD);
    assert_str(req.path, "/two");
    assert_str(req.query, "x");
    assert_false(req.keep_alive);
}

/* Limits fail as soon as they are exceeded, without waiting for CRLF. */
static void test_limits_early(void **state)
{
    (void)state;
    static char line[20000];
    memset(line, 'a', sizeof(line));
    memcpy(line, "GET /", 5);
    sk_http_request_t req;
    enum sk_http_error why;

    /* Below the default limit an unfinished line waits; at it, 414. */
    const char *b = guarded(line, 16383);
    assert_int_equal(parse(b, 16383, NULL, &req, &why), SK_AGAIN);
    b = guarded(line, 16384);
    assert_int_equal(parse(b, 16384, NULL, &req, &why), SK_EPARSE);
    assert_int_equal(why, SK_HTTP_E_URI_TOO_LONG);
    assert_int_equal(sk_http_error_status(why), 414);
    b = guarded(line, sizeof(line));
    assert_int_equal(parse(b, sizeof(line), NULL, &req, &why), SK_EPARSE);
    assert_int_equal(why, SK_HTTP_E_URI_TOO_LONG);

    /* A head of 101 short fields: 431 on the 101st, before its end. */
    static char many[2048];
    size_t n = (size_t)snprintf(many, sizeof(many), "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 101; i++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, "X%d: 1\r\n", i);
    b = guarded(many, n);
    assert_int_equal(parse(b, n, NULL, &req, &why), SK_EPARSE);
    assert_int_equal(why, SK_HTTP_E_TOO_MANY_HEADERS);

    /* The caller's smaller array is the effective limit. */
    sk_http_header_t two[2];
    static const char three[] = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
    assert_int_equal(sk_http_parse_request(three, sizeof(three) - 1, NULL, &req, two, 2, &why),
                     SK_EPARSE);
    assert_int_equal(why, SK_HTTP_E_TOO_MANY_HEADERS);

    /* A NULL why is allowed. */
    assert_int_equal(sk_http_parse_request(three, 5, NULL, &req, two, 2, NULL), SK_AGAIN);
}

static void test_status_and_reason(void **state)
{
    (void)state;
    for (int e = SK_HTTP_E_NONE; e <= SK_HTTP_E_HOST_EMPTY; e++) {
        int s = sk_http_error_status((enum sk_http_error)e);
        assert_true(s == 200 || s == 400 || s == 413 || s == 414 || s == 431 || s == 501 ||
                    s == 505);
        const char *r = sk_http_error_reason((enum sk_http_error)e);
        assert_non_null(r);
        assert_string_not_equal(r, "bad request");
    }
    assert_int_equal(sk_http_error_status(SK_HTTP_E_OBS_FOLD), 400);
    assert_int_equal(sk_http_error_status(SK_HTTP_E_VERSION_UNSUP), 505);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),          cmocka_unit_test(test_browser_fields),
        cmocka_unit_test(test_framing_fields), cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_limits_early),   cmocka_unit_test(test_status_and_reason),
    };
    return cmocka_run_group_tests(tests, setup_guard, teardown_guard);
}
