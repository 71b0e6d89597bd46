/* test_buf.c -- unit tests for the growable byte buffer (src/core/buf.c):
 * append/consume, reserve and compaction, appendf past the stack buffer,
 * release_if_empty, and every -ENOMEM path via sk_alloc_fail_after. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/alloc.h"
#include "core/buf.h"

static void test_empty(void **state)
{
    (void)state;
    sk_buf_t b;
    sk_buf_init(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(sk_buf_tail_room(&b), 0);
    assert_int_equal(sk_buf_append(&b, "", 0), 0);
    assert_null(b.data);
    sk_buf_release_if_empty(&b);
    sk_buf_fini(&b);
    sk_buf_fini(&b);
    /* A zeroed struct is a valid empty buffer too. */
    sk_buf_t z = {0};
    assert_int_equal(sk_buf_append(&z, "x", 1), 0);
    sk_buf_fini(&z);
}

static void test_append_consume(void **state)
{
    (void)state;
    sk_buf_t b;
    sk_buf_init(&b);
    assert_int_equal(sk_buf_append(&b, "hello ", 6), 0);
    assert_int_equal(sk_buf_append(&b, "world", 5), 0);
    assert_int_equal(b.len, 11);
    assert_memory_equal(sk_buf_head(&b), "hello world", 11);
    sk_buf_consume(&b, 6);
    assert_int_equal(b.len, 5);
    assert_int_equal(b.off, 6);
    assert_memory_equal(sk_buf_head(&b), "world", 5);
    /* Emptying returns the offset to the front. */
    sk_buf_consume(&b, 5);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.off, 0);
    assert_non_null(b.data);
    sk_buf_fini(&b);
    assert_null(b.data);
}

static void test_grow_keeps_bytes(void **state)
{
    (void)state;
    sk_buf_t b;
    sk_buf_init(&b);
    char chunk[100];
    for (int i = 0; i < 1000; i++) {
        memset(chunk, 'a' + i % 26, sizeof(chunk));
        assert_int_equal(sk_buf_append(&b, chunk, sizeof(chunk)), 0);
    }
    assert_int_equal(b.len, 100000);
    assert_true(b.cap >= b.len);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(sk_buf_head(&b)[i * 100 + 99], 'a' + i % 26);
    sk_buf_fini(&b);
}

static void test_reserve_commit(void **state)
{
    (void)state;
    sk_buf_t b;
    sk_buf_init(&b);
    assert_int_equal(sk_buf_reserve(&b, 10), 0);
    assert_true(sk_buf_tail_room(&b) >= 10);
    memcpy(sk_buf_tail(&b), "0123456789", 10);
    sk_buf_commit(&b, 10);
    assert_int_equal(b.len, 10);
    /* A reserve that already fits changes nothing. */
    char *data = b.data;
    size_t cap = b.cap;
    assert_int_equal(sk_buf_reserve(&b, cap - 10), 0);
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);
    sk_buf_fini(&b);
}

static void test_compaction(void **state)
{
    (void)state;
    sk_buf_t b;
    sk_buf_init(&b);
    assert_int_equal(sk_buf_reserve(&b, 1), 0);
    size_t cap = b.cap;
    char *data = b.data;
    /* Fill, consume most, then ask for more than the tail has but less
     * than the whole: the unread bytes slide to the front, no realloc. */
    char fill[4096];
    memset(fill, 'x', sizeof(fill));
    assert_int_equal(sk_buf_append(&b, fill, cap - 4), 0);
    memcpy(sk_buf_tail(&b), "TAIL", 4);
    sk_buf_commit(&b, 4);
    sk_buf_consume(&b, cap - 4);
    assert_int_equal(b.off, cap - 4);
    assert_int_equal(sk_buf_reserve(&b, cap - 4), 0);
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);
    assert_int_equal(b.off, 0);
    assert_memory_equal(sk_buf_head(&b), "TAIL", 4);
    /* Beyond capacity it must grow, still keeping the bytes. */
    assert_int_equal(sk_buf_reserve(&b, cap), 0);
    assert_true(b.cap > cap);
    assert_memory_equal(sk_buf_head(&b), "TAIL", 4);
    sk_buf_fini(&b);
}

static void test_appendf(void **state)
{
    (void)state;
    sk_buf_t b;
    sk_buf_init(&b);
    assert_int_equal(sk_buf_appendf(&b, "%s %d", "n", 42), 4);
    assert_memory_equal(sk_buf_head(&b), "n 42", 4);
    assert_int_equal(sk_buf_appendf(&b, "%s", ""), 0);
    /* Longer than any stack buffer a formatter might try first. */
    static char big[10001];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(sk_buf_appendf(&b, "<%s>", big), 10002);
    assert_int_equal(b.len, 4 + 10002);
    assert_int_equal(sk_buf_head(&b)[4], '<');
    assert_int_equal(sk_buf_head(&b)[4 + 10001], '>');
    assert_int_equal(sk_buf_head(&b)[4 + 5000], 'q');
    /* Exactly around 255/256 characters. */
    for (size_t n = 250; n < 260; n++) {
        sk_buf_consume(&b, b.len);
        assert_int_equal(sk_buf_appendf(&b, "%.*s", (int)n, big), (int)n);
        assert_int_equal(b.len, n);
    }
    sk_buf_fini(&b);
}

static void test_release_if_empty(void **state)
{
    (void)state;
    sk_buf_t b;
    sk_buf_init(&b);
    assert_int_equal(sk_buf_append(&b, "abc", 3), 0);
    sk_buf_release_if_empty(&b);
    assert_non_null(b.data);
    sk_buf_consume(&b, 3);
    sk_buf_release_if_empty(&b);
    assert_null(b.data);
    assert_int_equal(b.cap, 0);
    assert_int_equal(sk_buf_append(&b, "d", 1), 0);
    assert_memory_equal(sk_buf_head(&b), "d", 1);
    sk_buf_fini(&b);
}

static void test_enomem(void **state)
{
    (void)state;
    sk_buf_t b;
    sk_buf_init(&b);
    sk_alloc_fail_after(1);
    assert_int_equal(sk_buf_append(&b, "abc", 3), -ENOMEM);
    assert_null(b.data);
    assert_int_equal(b.len, 0);

    assert_int_equal(sk_buf_append(&b, "abc", 3), 0);
    static char big[5000];
    memset(big, 'z', sizeof(big) - 1);
    sk_alloc_fail_after(1);
    assert_int_equal(sk_buf_reserve(&b, sizeof(big)), -ENOMEM);
    sk_alloc_fail_after(1);
    assert_int_equal(sk_buf_append(&b, big, sizeof(big)), -ENOMEM);
    sk_alloc_fail_after(1);
    assert_int_equal(sk_buf_appendf(&b, "%s", big), -ENOMEM);
    /* Failures leave the unread bytes alone. */
    assert_int_equal(b.len, 3);
    assert_memory_equal(sk_buf_head(&b), "abc", 3);
    sk_alloc_fail_after(0);
    /* Absurd sizes fail cleanly instead of wrapping. */
    assert_int_equal(sk_buf_reserve(&b, SIZE_MAX - 1), -ENOMEM);
    assert_int_equal(b.len, 3);
    sk_buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_append_consume),
        cmocka_unit_test(test_grow_keeps_bytes),
        cmocka_unit_test(test_reserve_commit),
        cmocka_unit_test(test_compaction),
        cmocka_unit_test(test_appendf),
        cmocka_unit_test(test_release_if_empty),
        cmocka_unit_test(test_enomem),
    };
    return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
