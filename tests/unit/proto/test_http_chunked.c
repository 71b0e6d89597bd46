/* test_http_chunked.c -- table tests for the chunked body decoder.
 *
 * Every row is decoded whole, split in two at every offset, and a byte at a
 * time; each piece is copied against a PROT_NONE page so an over-read faults.
 * The result, bytes consumed and body size must not depend on the split. */
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
#include "proto/http_chunked.h"

#define GUARD_ARENA_SIZE (64 * 1024)
#include "../guard.h"

struct row {
    const char *in;
    size_t len;
    int rc;        /* 1 or SK_EPARSE for the whole input */
    uint64_t body; /* data bytes, for valid rows */
};

#define OK(lit, body)                                                                              \
    {                                                                                              \
        lit, sizeof(lit) - 1, 1, body                                                              \
    }
#define BAD(lit)                                                                                   \
    {                                                                                              \
        lit, sizeof(lit) - 1, SK_EPARSE, 0                                                         \
    }

static const struct row rows[] = {
    OK("0\r\n\r\n", 0),
    OK("5\r\nhello\r\n0\r\n\r\n", 5),
    OK("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 11),
    OK("A\r\n0123456789\r\n0\r\n\r\n", 10),
    OK("a\r\n0123456789\r\n0\r\n\r\n", 10),
    OK("000005\r\nhello\r\n0\r\n\r\n", 5),
    OK("00\r\n\r\n", 0),
    OK("5;ext\r\nhello\r\n0\r\n\r\n", 5),
    OK("5;a=b;c=\"d e\"\r\nhello\r\n0;x\r\n\r\n", 5),
    OK("5 ; a = b\r\nhello\r\n0\r\n\r\n", 5),
    OK("5\t;\ta\t=\t\"\"\r\nhello\r\n0\r\n\r\n", 5),
    OK("5;a=\"q\\\"x\"\r\nhello\r\n0\r\n\r\n", 5),
    OK("5;a=\"\x80\xff\"\r\nhello\r\n0\r\n\r\n", 5),
    OK("0\r\nExpires: never\r\nX: y\r\n\r\n", 0),
    OK("0\r\nX:\r\n\r\n", 0),
    OK("1\r\n\r\r\n0\r\n\r\n", 1),
    OK("1\r\n\n\r\n0\r\n\r\n", 1),
    OK("3\r\n\0\0\0\r\n0\r\n\r\n", 3),
    OK("10\r\n0123456789abcdef\r\n0\r\n\r\n", 16),
    /* Chunk size. */
    BAD("\r\n"),
    BAD(";a\r\n"),
    BAD("x\r\n"),
    BAD("-1\r\n"),
    BAD("+1\r\n"),
    BAD("0x5\r\n"),
    BAD("8000000000000000\r\n"),
    BAD("10000000000000000\r\n"),
    BAD(" 5\r\nhello\r\n0\r\n\r\n"),
    /* Line endings and data framing. */
    BAD("5\nhello\r\n0\r\n\r\n"),
    BAD("5\rhello\r\n0\r\n\r\n"),
    BAD("5\r\nhelloX\r\n0\r\n\r\n"),
    BAD("5\r\nhello\n0\r\n\r\n"),
    BAD("5\r\nhello\r0\r\n\r\n"),
    BAD("0\r\n\n"),
    BAD("0\r\n\rX"),
    BAD("0\n\r\n"),
    /* Extensions. */
    BAD("5 \r\nhello\r\n0\r\n\r\n"),
    BAD("5;\r\nhello\r\n0\r\n\r\n"),
    BAD("5;a=\r\nhello\r\n0\r\n\r\n"),
    BAD("5;a \r\nhello\r\n0\r\n\r\n"),
    BAD("5;a=\"x\r\nhello\r\n0\r\n\r\n"),
    BAD("5;a\x01\r\nhello\r\n0\r\n\r\n"),
    BAD("5;a=b c\r\nhello\r\n0\r\n\r\n"),
    BAD("5;a=\"x\x7f\"\r\nhello\r\n0\r\n\r\n"),
    BAD("5;a=\"x\"y\r\nhello\r\n0\r\n\r\n"),
    BAD("5;a=\"\\\x01\"\r\nhello\r\n0\r\n\r\n"),
    BAD("5;a(=b\r\nhello\r\n0\r\n\r\n"),
    BAD("5;a=b(\r\nhello\r\n0\r\n\r\n"),
    BAD("5;a=\0\r\nhello\r\n0\r\n\r\n"),
    /* Trailers. */
    BAD("0\r\n X: y\r\n\r\n"),
    BAD("0\r\nX : y\r\n\r\n"),
    BAD("0\r\nX: a\0\r\n\r\n"),
    BAD("0\r\nX: y\n\r\n"),
    BAD("0\r\nX: y\rz\r\n\r\n"),
    BAD("0\r\nX\r\n\r\n"),
    BAD("0\r\n: y\r\n\r\n"),
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

/* Decodes in[0, n) in pieces cut at the given offsets (a sorted list ending
 * with n); returns the result and total consumed through *consumed. */
static int decode_split(const char *in, size_t n, const size_t *cuts, size_t ncuts,
                        size_t *consumed, uint64_t *body)
{
    sk_http_chunked_t st;
    sk_http_chunked_init(&st);
    size_t pos = 0;
    int rc = SK_AGAIN;
    *consumed = 0;
    assert_true(ncuts == 0 || cuts[ncuts - 1] == n);
    for (size_t c = 0; c < ncuts && rc == SK_AGAIN; c++) {
        size_t piece = cuts[c] - pos, used = 0;
        const char *b = guarded(in + pos, piece);
        rc = sk_http_chunked_decode(&st, b, piece, &used, body);
        assert_true(used <= piece);
        if (rc == SK_AGAIN)
            assert_int_equal(used, piece);
        *consumed += used;
        pos = cuts[c];
    }
    return rc;
}

static void check_row(size_t i, const struct row *r)
{
    size_t consumed, whole_consumed;
    uint64_t body = 0, whole_body = 0;
    size_t cut[2];

    /* Whole, with the next request's bytes after it. */
    char buf[512];
    assert_true(r->len + 4 <= sizeof(buf));
    memcpy(buf, r->in, r->len);
    memcpy(buf + r->len, "GET ", 4);
    cut[0] = r->len + 4;
    int rc = decode_split(buf, r->len + 4, cut, 1, &whole_consumed, &whole_body);
    if (rc != r->rc)
        fail_msg("row %zu: rc %d, want %d", i, rc, r->rc);
    if (rc == 1) {
        assert_int_equal(whole_consumed, r->len);
        assert_int_equal(whole_body, r->body);
    }

    /* Every strict prefix needs more input, or is already an error. */
    for (size_t k = 0; k < r->len; k++) {
        cut[0] = k;
        rc = decode_split(r->in, k, cut, 1, &consumed, &body);
        if (rc != SK_AGAIN && !(r->rc == SK_EPARSE && rc == SK_EPARSE))
            fail_msg("row %zu prefix %zu: rc %d", i, k, rc);
    }

    /* Two pieces cut at every offset. */
    for (size_t k = 0; k <= r->len; k++) {
        cut[0] = k;
        cut[1] = r->len;
        rc = decode_split(r->in, r->len, cut, 2, &consumed, &body);
        if (rc != r->rc)
            fail_msg("row %zu split %zu: rc %d, want %d", i, k, rc, r->rc);
        if (rc == 1) {
            assert_int_equal(consumed, r->len);
            assert_int_equal(body, r->body);
        }
    }

    /* One byte at a time. */
    size_t cuts[512];
    assert_true(r->len <= sizeof(cuts) / sizeof(cuts[0]));
    for (size_t k = 0; k < r->len; k++)
        cuts[k] = k + 1;
    rc = decode_split(r->in, r->len, cuts, r->len, &consumed, &body);
    if (rc != r->rc)
        fail_msg("row %zu bytewise: rc %d, want %d", i, rc, r->rc);
    if (rc == 1)
        assert_int_equal(body, r->body);
}

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < NROWS; i++)
        check_row(i, &rows[i]);
    print_message("%zu rows\n", NROWS);
}

/* Done and failed states are sticky; NULL body_bytes_out is allowed. */
static void test_sticky(void **state)
{
    (void)state;
    sk_http_chunked_t st;
    size_t used;
    uint64_t body;
    sk_http_chunked_init(&st);
    assert_int_equal(sk_http_chunked_decode(&st, "0\r\n\r\n", 5, &used, NULL), 1);
    assert_int_equal(sk_http_chunked_decode(&st, "0\r\n\r\n", 5, &used, &body), 1);
    assert_int_equal(used, 0);
    assert_int_equal(sk_http_chunked_decode(&st, "", 0, &used, &body), 1);

    sk_http_chunked_init(&st);
    assert_int_equal(sk_http_chunked_decode(&st, "z", 1, &used, &body), SK_EPARSE);
    assert_int_equal(sk_http_chunked_decode(&st, "0\r\n\r\n", 5, &used, &body), SK_EPARSE);
    assert_int_equal(used, 0);
    assert_int_equal(sk_http_chunked_decode(&st, "", 0, &used, &body), SK_EPARSE);

    sk_http_chunked_init(&st);
    assert_int_equal(sk_http_chunked_decode(&st, "", 0, &used, &body), SK_AGAIN);
    assert_int_equal(used, 0);
}

/* The largest size is accepted and counted as it streams; lines and
 * trailers over their limits are refused. */
static void test_limits(void **state)
{
    (void)state;
    sk_http_chunked_t st;
    size_t used;
    uint64_t body;
    sk_http_chunked_init(&st);
    assert_int_equal(sk_http_chunked_decode(&st, "7fffffffffffffff\r\n", 18, &used, &body),
                     SK_AGAIN);
    static char data[60000];
    assert_int_equal(sk_http_chunked_decode(&st, data, sizeof(data), &used, &body), SK_AGAIN);
    assert_int_equal(used, sizeof(data));
    assert_int_equal(body, sizeof(data));

    static char line[SK_HTTP_CHUNKED_MAX_LINE + 8];
    memset(line, 'a', sizeof(line));
    memcpy(line, "1;", 2);
    sk_http_chunked_init(&st);
    assert_int_equal(sk_http_chunked_decode(&st, line, SK_HTTP_CHUNKED_MAX_LINE, &used, &body),
                     SK_AGAIN);
    assert_int_equal(sk_http_chunked_decode(&st, line, 1, &used, &body), SK_EPARSE);

    sk_http_chunked_init(&st);
    assert_int_equal(sk_http_chunked_decode(&st, "0\r\n", 3, &used, &body), SK_AGAIN);
    int rc = SK_AGAIN;
    for (int i = 0; i < 2000 && rc == SK_AGAIN; i++)
        rc = sk_http_chunked_decode(&st, "X-Trailer: 1\r\n", 14, &used, &body);
    assert_int_equal(rc, SK_EPARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_sticky),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, setup_guard, teardown_guard);
}
