/* test_http_write.c -- response head assembly (src/proto/http_write.c):
 * the exact bytes of a head, numbers, reason phrases, and the overflow
 * rule every writer relies on: a head that does not fit reports it at
 * sk_http_head_end and is never extended past SK_HTTP_HEAD_MAX. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "proto/http_write.h"

static const char date[] = "Sun, 06 Nov 1994 08:49:37 GMT";

static void test_head_bytes(void **state)
{
    (void)state;
    sk_http_head_t *h = malloc(sizeof(*h));
    assert_non_null(h);
    sk_http_head_start(h, 206, date);
    sk_http_head_field(h, "ETag", "\"x\"", 3);
    sk_http_head_field_u64(h, "Content-Length", 0);
    sk_http_head_str(h, "A: ");
    sk_http_head_u64(h, UINT64_MAX);
    sk_http_head_raw(h, "\r\n", 2);
    assert_true(sk_http_head_end(h));
    static const char want[] = "HTTP/1.1 206 Partial Content\r\nServer: sockkit\r\n"
                               "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nETag: \"x\"\r\n"
                               "Content-Length: 0\r\nA: 18446744073709551615\r\n\r\n";
    assert_int_equal(h->len, sizeof(want) - 1);
    assert_memory_equal(h->buf, want, h->len);
    free(h);
}

static void test_status_text(void **state)
{
    (void)state;
    static const int known[] = {200, 204, 206, 301, 304, 400, 403, 404, 405, 408,
                                412, 413, 414, 416, 431, 500, 501, 503, 505};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        assert_string_not_equal(sk_http_status_text(known[i]), "Unknown");
    assert_string_equal(sk_http_status_text(408), "Request Timeout");
    assert_string_equal(sk_http_status_text(299), "Unknown");
}

/* Filling exactly to the limit fits; one byte more overflows, and nothing
 * appended after an overflow lands (not even a short append that would
 * fit), so a writer can never send a head cut in the middle. */
static void test_overflow_boundary(void **state)
{
    (void)state;
    sk_http_head_t *h = malloc(sizeof(*h));
    assert_non_null(h);
    sk_http_head_start(h, 200, date);
    size_t room = SK_HTTP_HEAD_MAX - h->len - 2;
    char *fill = malloc(room + 3);
    assert_non_null(fill);
    memset(fill, 'x', room + 3);
    sk_http_head_raw(h, fill, room);
    assert_true(sk_http_head_end(h));
    assert_int_equal(h->len, SK_HTTP_HEAD_MAX);
    assert_memory_equal(h->buf + h->len - 2, "\r\n", 2);

    sk_http_head_start(h, 200, date);
    sk_http_head_raw(h, fill, room + 1); /* fits, but leaves no room for the end */
    assert_false(h->overflow);
    assert_false(sk_http_head_end(h));
    sk_http_head_start(h, 200, date);
    sk_http_head_raw(h, fill, room + 3);
    size_t before = h->len;
    assert_true(h->overflow);
    sk_http_head_str(h, "A");
    sk_http_head_u64(h, 7);
    assert_int_equal(h->len, before);
    assert_false(sk_http_head_end(h));
    assert_int_equal(h->len, before);
    /* A new head starts clean. */
    sk_http_head_start(h, 404, date);
    assert_false(h->overflow);
    assert_true(sk_http_head_end(h));
    free(fill);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_bytes),
        cmocka_unit_test(test_status_text),
        cmocka_unit_test(test_overflow_boundary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
