/* test_http_response.c -- table tests for the response head parser and the
 * body decoder (proto/http_response.h).
 *
 * Heads are parsed whole and at every truncation (each prefix must say
 * SK_AGAIN or fail with the same reason); bodies are decoded whole, split
 * in two at every offset and a byte at a time. Every piece sits against a
 * PROT_NONE page, so reading one byte too far faults. */
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
#include "proto/http_response.h"

#define GUARD_ARENA_SIZE (128 * 1024)
#include "../guard.h"

#define MAXH 16

/* Copies n bytes against the guard page and returns the writable copy (the
 * body decoder works in place). */
static char *guarded_rw(const char *s, size_t n)
{
    return (char *)guarded(s, n);
}

struct head_row {
    const char *in;
    size_t len;
    enum sk_http_resp_error why; /* SK_HTTP_RE_NONE: valid */
    int status;
    enum sk_http_body_kind kind;
    uint64_t cl;
    bool keep_alive;
    unsigned interim;
    size_t nheaders;
};

#define OK(lit, st, k, cl, ka, interim, nh)                                                        \
    {                                                                                              \
        lit, sizeof(lit) - 1, SK_HTTP_RE_NONE, st, k, cl, ka, interim, nh                          \
    }
#define BAD(lit, why)                                                                              \
    {                                                                                              \
        lit, sizeof(lit) - 1, why, 0, 0, 0, 0, 0, 0                                                \
    }

#define L SK_HTTP_BODY_LENGTH
#define C SK_HTTP_BODY_CHUNKED
#define E SK_HTTP_BODY_CLOSE
#define N SK_HTTP_BODY_NONE

static const struct head_row heads[] = {
    OK("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 200, L, 5, true, 0, 1),
    OK("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", 200, L, 5, false, 0, 1),
    OK("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 5\r\n\r\n", 200, L, 5, true, 0,
       2),
    OK("HTTP/1.1 204 No Content\r\n\r\n", 204, N, 0, true, 0, 0),
    OK("HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n", 304, N, 100, true, 0, 1),
    OK("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, L, 0, true,
       1, 1),
    OK("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
       "HTTP/1.1 404 Not Found\r\n\r\n",
       404, E, 0, true, 2, 0),
    OK("HTTP/1.1 200\r\n\r\n", 200, E, 0, true, 0, 0),
    OK("HTTP/1.1 200 \r\n\r\n", 200, E, 0, true, 0, 0),
    OK("HTTP/1.1 200 OK\nContent-Length: 1\n\n", 200, L, 1, true, 0, 1),
    OK("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 200, C, 0, true, 0, 1),
    OK("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 200, C, 0, true, 0, 1),
    OK("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: CHUNKED\r\n\r\n", 200, C,
       0, true, 0, 2),
    OK("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 200, E, 0, false, 0, 1),
    OK("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 10\r\n\r\n", 200, C, 0,
       false, 0, 2),
    OK("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", 200, L, 5, true, 0, 1),
    OK("HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n", 200, L, 5, true, 0, 2),
    OK("HTTP/1.1 200 OK\r\nX: a\r\n  b\r\nContent-Length: 0\r\n\r\n", 200, L, 0, true, 0, 2),
    OK("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 200, L, 0, false, 0, 2),
    OK("HTTP/1.1 200 OK\r\nConnection: x, close\r\nContent-Length: 0\r\n\r\n", 200, L, 0, false, 0,
       2),
    OK("HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n", 200, L, 0, true, 0, 1),
    OK("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", 101, N, 0, true, 0, 1),
    OK("HTTP/1.1 599 Whatever it is\r\n\r\n", 599, E, 0, true, 0, 0),
    OK("HTTP/1.1 200 OK\r\nX: \x80\xff\t\r\nY:\r\nZ:  v  \r\n\r\n", 200, E, 0, true, 0, 3),
    OK("HTTP/1.1 301 Moved\r\nLocation: /new\r\nContent-Length: 0\r\n\r\n", 301, L, 0, true, 0, 2),
    /* Not HTTP at all. */
    BAD("\x16\x03\x01\x00\x10", SK_HTTP_RE_TLS),
    BAD("\x15\x03\x03\x00\x02\x02\x46", SK_HTTP_RE_TLS),
    BAD("SSH-2.0-OpenSSH_9.2\r\n", SK_HTTP_RE_NOT_HTTP),
    BAD("http/1.1 200 OK\r\n\r\n", SK_HTTP_RE_NOT_HTTP),
    BAD("<html>\r\n", SK_HTTP_RE_NOT_HTTP),
    /* Status line. */
    BAD("HTTP/2 200 OK\r\n\r\n", SK_HTTP_RE_VERSION),
    BAD("HTTP/2.0 200 OK\r\n\r\n", SK_HTTP_RE_VERSION),
    BAD("HTTP/x.1 200 OK\r\n\r\n", SK_HTTP_RE_VERSION),
    BAD("HTTP/1.1\r\n\r\n", SK_HTTP_RE_STATUS_LINE),
    BAD("HTTP/1.1\t200 OK\r\n\r\n", SK_HTTP_RE_STATUS_LINE),
    BAD("HTTP/1.1 20 OK\r\n\r\n", SK_HTTP_RE_STATUS),
    BAD("HTTP/1.1 2000 OK\r\n\r\n", SK_HTTP_RE_STATUS),
    BAD("HTTP/1.1 099 Low\r\n\r\n", SK_HTTP_RE_STATUS),
    BAD("HTTP/1.1 600 High\r\n\r\n", SK_HTTP_RE_STATUS),
    BAD("HTTP/1.1  200 OK\r\n\r\n", SK_HTTP_RE_STATUS),
    BAD("HTTP/1.1 abc OK\r\n\r\n", SK_HTTP_RE_STATUS),
    BAD("HTTP/1.1 200 O\rK\r\n\r\n", SK_HTTP_RE_BARE_CR),
    BAD("HTTP/1.1 200 O\0K\r\n\r\n", SK_HTTP_RE_STATUS_LINE),
    /* Fields. */
    BAD("HTTP/1.1 200 OK\r\nX : y\r\n\r\n", SK_HTTP_RE_SPACE_BEFORE_COLON),
    BAD("HTTP/1.1 200 OK\r\n: y\r\n\r\n", SK_HTTP_RE_HEADER_NAME),
    BAD("HTTP/1.1 200 OK\r\nX\r\n\r\n", SK_HTTP_RE_HEADER_NAME),
    BAD("HTTP/1.1 200 OK\r\nX\ry: z\r\n\r\n", SK_HTTP_RE_BARE_CR),
    BAD("HTTP/1.1 200 OK\r\nX(y): z\r\n\r\n", SK_HTTP_RE_HEADER_NAME),
    BAD("HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n", SK_HTTP_RE_HEADER_VALUE),
    BAD("HTTP/1.1 200 OK\r\nX: a\x7f\r\n\r\n", SK_HTTP_RE_HEADER_VALUE),
    BAD("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", SK_HTTP_RE_BARE_CR),
    BAD("HTTP/1.1 200 OK\r\n folded\r\n\r\n", SK_HTTP_RE_HEADER_NAME),
    BAD("HTTP/1.1 200 OK\r\nX: a\r\n b\0\r\n\r\n", SK_HTTP_RE_HEADER_VALUE),
    /* Framing. */
    BAD("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", SK_HTTP_RE_CONTENT_LENGTH),
    BAD("HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", SK_HTTP_RE_CONTENT_LENGTH),
    BAD("HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n", SK_HTTP_RE_CONTENT_LENGTH),
    BAD("HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", SK_HTTP_RE_CONTENT_LENGTH),
    BAD("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        SK_HTTP_RE_CONTENT_LENGTH),
    BAD("HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n",
        SK_HTTP_RE_CONTENT_LENGTH),
    BAD("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        SK_HTTP_RE_CL_CONFLICT),
    BAD("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", SK_HTTP_RE_CL_CONFLICT),
    BAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", SK_HTTP_RE_TE_INVALID),
    BAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", SK_HTTP_RE_TE_INVALID),
    BAD("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", SK_HTTP_RE_TE_HTTP10),
    BAD("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        SK_HTTP_RE_CONTENT_LENGTH),
    BAD("HTTP/1.1 100 Continue\r\n\r\nSSH-2.0\r\n\r\n", SK_HTTP_RE_NOT_HTTP),
};

static void check_head(const struct head_row *r)
{
    sk_http_response_t resp;
    sk_http_header_t hdrs[MAXH];
    enum sk_http_resp_error why = SK_HTTP_RE_NONE;
    /* Every proper prefix: incomplete, or (bad rows) the same failure. */
    for (size_t k = 0; k < r->len; k++) {
        const char *g = guarded(r->in, k);
        int rc = sk_http_response_parse(g, k, NULL, &resp, hdrs, MAXH, &why);
        if (rc == SK_AGAIN)
            continue;
        if (r->why != SK_HTTP_RE_NONE && rc == SK_EPARSE && why == r->why)
            continue;
        fail_msg("row \"%.40s\": prefix %zu gave %d (%s)", r->in, k, rc,
                 sk_http_resp_error_reason(why));
    }
    const char *g = guarded(r->in, r->len);
    int rc = sk_http_response_parse(g, r->len, NULL, &resp, hdrs, MAXH, &why);
    if (r->why != SK_HTTP_RE_NONE) {
        if (rc != SK_EPARSE || why != r->why)
            fail_msg("row \"%.40s\": got %d (%s), want \"%s\"", r->in, rc,
                     sk_http_resp_error_reason(why), sk_http_resp_error_reason(r->why));
        return;
    }
    if (rc != (int)r->len)
        fail_msg("row \"%.40s\": got %d (%s), want %zu", r->in, rc, sk_http_resp_error_reason(why),
                 r->len);
    assert_int_equal(resp.status, r->status);
    assert_int_equal(resp.interim, r->interim);
    assert_int_equal(resp.num_headers, r->nheaders);
    assert_int_equal(resp.keep_alive, r->keep_alive);
    if (r->kind == L || r->status == 304)
        assert_int_equal(resp.content_length, r->cl);
    sk_http_body_t b;
    sk_http_body_init(&b, &resp, false);
    assert_int_equal(b.kind, r->kind);
    /* HEAD: never a body, whatever the head says. */
    sk_http_body_init(&b, &resp, true);
    assert_int_equal(b.kind, N);
    assert_true(b.done);
}

static void test_heads(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++)
        check_head(&heads[i]);
}

static void test_head_fields(void **state)
{
    (void)state;
    static const char in[] = "HTTP/1.1 301 Moved Permanently\r\nLocation:  /new?x=1 \r\n"
                             "Content-Encoding: gzip\r\nContent-Type: text/html\r\n"
                             "X-Fold: a\r\n\tb c\r\nContent-Length: 0\r\n\r\n";
    sk_http_response_t r;
    sk_http_header_t h[MAXH];
    int rc = sk_http_response_parse(guarded(in, sizeof(in) - 1), sizeof(in) - 1, NULL, &r, h, MAXH,
                                    NULL);
    assert_int_equal(rc, (int)sizeof(in) - 1);
    assert_int_equal(r.reason.len, 17);
    assert_memory_equal(r.reason.ptr, "Moved Permanently", 17);
    assert_int_equal(r.location.len, 8);
    assert_memory_equal(r.location.ptr, "/new?x=1", 8);
    assert_int_equal(r.content_encoding.len, 4);
    assert_int_equal(r.content_type.len, 9);
    const sk_str_t *v = sk_http_response_header(&r, "x-fold");
    assert_non_null(v);
    /* The folded value spans the fold; its ends are trimmed. */
    assert_int_equal(v->len, 7);
    assert_memory_equal(v->ptr, "a\r\n\tb c", 7);
    assert_null(sk_http_response_header(&r, "x-missing"));
}

static void test_limits(void **state)
{
    (void)state;
    char big[8192];
    size_t n = (size_t)snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 10; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "X-%d: v\r\n", i);
    n += (size_t)snprintf(big + n, sizeof(big) - n, "\r\n");
    sk_http_response_t r;
    sk_http_header_t h[MAXH];
    enum sk_http_resp_error why;
    /* Too many fields for the caller's array. */
    assert_int_equal(sk_http_response_parse(guarded(big, n), n, NULL, &r, h, 5, &why), SK_EPARSE);
    assert_int_equal(why, SK_HTTP_RE_TOO_MANY_HEADERS);
    sk_http_resp_limits_t lim = {.max_headers = 9};
    assert_int_equal(sk_http_response_parse(guarded(big, n), n, &lim, &r, h, MAXH, &why),
                     SK_EPARSE);
    assert_int_equal(why, SK_HTTP_RE_TOO_MANY_HEADERS);
    lim.max_headers = 10;
    assert_int_equal(sk_http_response_parse(guarded(big, n), n, &lim, &r, h, MAXH, &why), (int)n);
    /* A head over max_header_bytes fails as soon as that much is here. */
    lim.max_header_bytes = 64;
    assert_int_equal(sk_http_response_parse(guarded(big, 63), 63, &lim, &r, h, MAXH, &why),
                     SK_AGAIN);
    assert_int_equal(sk_http_response_parse(guarded(big, 64), 64, &lim, &r, h, MAXH, &why),
                     SK_EPARSE);
    assert_int_equal(why, SK_HTTP_RE_HEAD_TOO_LARGE);
    /* The limit covers 1xx heads too: a server cannot stall us with them. */
    char many[4096];
    size_t m = 0;
    while (m + 40 < sizeof(many))
        m += (size_t)snprintf(many + m, sizeof(many) - m, "HTTP/1.1 102 Processing\r\n\r\n");
    lim.max_header_bytes = 1024;
    assert_int_equal(sk_http_response_parse(guarded(many, m), m, &lim, &r, h, MAXH, &why),
                     SK_EPARSE);
    assert_int_equal(why, SK_HTTP_RE_HEAD_TOO_LARGE);
}

struct body_row {
    const char *head; /* a complete head */
    const char *in;   /* the bytes after it */
    size_t len;
    const char *body; /* expected decoded body */
    size_t body_len;
    int rc;          /* 1 done, SK_AGAIN needs more, SK_EPARSE */
    size_t leftover; /* bytes after the body (rc 1) */
    int eof;         /* sk_http_body_eof afterwards (rc SK_AGAIN) */
};

#define CL5 "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
#define CH "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
#define CLOSE "HTTP/1.1 200 OK\r\n\r\n"
#define B(head, in, body, rc, left, eof)                                                           \
    {                                                                                              \
        head, in, sizeof(in) - 1, body, sizeof(body) - 1, rc, left, eof                            \
    }

static const struct body_row bodies[] = {
    B(CL5, "hello", "hello", 1, 0, 0),
    /* Longer than its Content-Length: the excess is left over. */
    B(CL5, "helloEXTRA", "hello", 1, 5, 0),
    /* Shorter: more is due, and the end of the stream is an error. */
    B(CL5, "hel", "hel", SK_AGAIN, 0, SK_EEOF),
    B("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "", "", 1, 0, 0),
    B(CH, "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", 1, 0, 0),
    B(CH, "5;a=b;c=\"d,e\\\"\"\r\nhello\r\n0;last\r\nX-T: y\r\nY:\r\n\r\n", "hello", 1, 0, 0),
    B(CH, "A\r\n0123456789\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n", "0123456789", 1, 17, 0),
    B(CH, "0000000003\r\nabc\r\n00\r\n\r\n", "abc", 1, 0, 0),
    B(CH, "5\r\nhel", "hel", SK_AGAIN, 0, SK_EEOF),
    B(CH, "5\r\nhello\r\n0\r\n", "hello", SK_AGAIN, 0, SK_EEOF),
    B(CH, "zz\r\nhello\r\n0\r\n\r\n", "", SK_EPARSE, 0, 0),
    B(CH, "5\r\nhelloX\r\n0\r\n\r\n", "hello", SK_EPARSE, 0, 0),
    B(CH, "10000000000000000\r\n", "", SK_EPARSE, 0, 0),
    B(CH, "8000000000000000\r\n", "", SK_EPARSE, 0, 0),
    B(CH, "-5\r\nhello\r\n", "", SK_EPARSE, 0, 0),
    B(CH, "5 x\r\nhello\r\n", "", SK_EPARSE, 0, 0),
    B(CH, "5;=x\r\nhello\r\n", "", SK_EPARSE, 0, 0),
    B(CH, "5;a=\"open\r\nhello\r\n", "", SK_EPARSE, 0, 0),
    B(CH, "5\nhello\r\n", "", SK_EPARSE, 0, 0),
    B(CH, "0\r\nX : y\r\n\r\n", "", SK_EPARSE, 0, 0),
    B(CH, "0\r\n folded\r\n\r\n", "", SK_EPARSE, 0, 0),
    B(CLOSE, "all of it until close", "all of it until close", SK_AGAIN, 0, 0),
    B(CLOSE, "", "", SK_AGAIN, 0, 0),
};

struct body_result {
    int rc;
    char data[256];
    size_t data_len;
    size_t consumed;
};

/* Decodes row r's body in pieces: the first `first` bytes (0: all), then
 * `step` bytes at a time (0: the rest at once). */
static struct body_result run_body(const struct body_row *r, size_t first, size_t step)
{
    sk_http_response_t resp;
    sk_http_header_t h[MAXH];
    size_t hl = strlen(r->head);
    assert_int_equal(sk_http_response_parse(r->head, hl, NULL, &resp, h, MAXH, NULL), (int)hl);
    sk_http_body_t b;
    sk_http_body_init(&b, &resp, false);
    struct body_result res = {SK_AGAIN, {0}, 0, 0};
    size_t pos = 0;
    do {
        size_t piece = r->len - pos;
        if (pos == 0 && first != 0 && first < piece)
            piece = first;
        else if (pos != 0 && step != 0 && step < piece)
            piece = step;
        char *g = guarded_rw(r->in + pos, piece);
        size_t used = 0, data = 0;
        res.rc = sk_http_body_decode(&b, g, piece, &used, &data);
        assert_true(used <= piece && data <= used);
        assert_true(res.rc != SK_AGAIN || used == piece);
        assert_true(res.data_len + data <= sizeof(res.data));
        memcpy(res.data + res.data_len, g, data);
        res.data_len += data;
        res.consumed += used;
        pos += piece;
    } while (pos < r->len && res.rc == SK_AGAIN);
    assert_int_equal(b.received, res.data_len);
    if (res.rc == SK_AGAIN)
        assert_int_equal(sk_http_body_eof(&b), r->eof);
    return res;
}

static void test_bodies(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        const struct body_row *r = &bodies[i];
        struct body_result whole = run_body(r, 0, 0);
        if (whole.rc != r->rc)
            fail_msg("row %zu \"%.30s\": rc %d, want %d", i, r->in, whole.rc, r->rc);
        if (r->rc != SK_EPARSE) {
            assert_int_equal(whole.data_len, r->body_len);
            assert_memory_equal(whole.data, r->body, r->body_len);
        }
        if (r->rc == 1)
            assert_int_equal(r->len - whole.consumed, r->leftover);
        for (size_t cut = 1; cut < r->len; cut++) {
            struct body_result two = run_body(r, cut, 0);
            struct body_result bytes = run_body(r, cut, 1);
            assert_int_equal(two.rc, whole.rc);
            assert_int_equal(bytes.rc, whole.rc);
            if (r->rc == SK_EPARSE)
                continue;
            assert_int_equal(two.consumed, whole.consumed);
            assert_int_equal(bytes.consumed, whole.consumed);
            assert_int_equal(two.data_len, whole.data_len);
            assert_int_equal(bytes.data_len, whole.data_len);
            assert_memory_equal(two.data, whole.data, whole.data_len);
            assert_memory_equal(bytes.data, whole.data, whole.data_len);
        }
    }
}

/* A large chunked body with many chunks, decoded in place in one buffer. */
static void test_chunked_large(void **state)
{
    (void)state;
    static char in[100000], want[60000];
    size_t n = 0, w = 0;
    for (unsigned i = 0; w + 700 < sizeof(want); i++) {
        size_t len = (i * 37) % 700 + 1;
        n += (size_t)snprintf(in + n, sizeof(in) - n, "%zx%s\r\n", len, i % 3 ? "" : ";k=v");
        for (size_t j = 0; j < len; j++)
            want[w++] = in[n++] = (char)('a' + (i + j) % 26);
        in[n++] = '\r';
        in[n++] = '\n';
    }
    n += (size_t)snprintf(in + n, sizeof(in) - n, "0\r\n\r\n");
    sk_http_body_t b = {.kind = SK_HTTP_BODY_CHUNKED};
    char *g = guarded_rw(in, n);
    size_t used, data;
    assert_int_equal(sk_http_body_decode(&b, g, n, &used, &data), 1);
    assert_int_equal(used, n);
    assert_int_equal(data, w);
    assert_memory_equal(g, want, w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heads),         cmocka_unit_test(test_head_fields),
        cmocka_unit_test(test_limits),        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_chunked_large),
    };
    return cmocka_run_group_tests(tests, setup_guard, teardown_guard);
}
