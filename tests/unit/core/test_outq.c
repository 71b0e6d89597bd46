/* test_outq.c -- the output queue (src/core/outq.c): order across memory
 * chunks and file ranges, peek/consume at every split, writev/sendfile to
 * a socket and writev to a pipe, moving a held queue, fd ownership, a file
 * that shrank, and allocation failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/outq.h"

/* An unlinked temporary file holding len bytes of a repeating alphabet. */
static int temp_file(size_t len)
{
    char path[] = "/tmp/sk-outq-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    for (size_t i = 0; i < len; i++) {
        char c = (char)('A' + i % 26);
        assert_int_equal(write(fd, &c, 1), 1);
    }
    return fd;
}

static bool fd_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

/* Everything left in q, through peek and consume in steps of `step`. */
static size_t drain(sk_outq_t *q, char *out, size_t cap, size_t step)
{
    size_t got = 0;
    while (!sk_outq_empty(q)) {
        size_t want = step < cap - got ? step : cap - got;
        ssize_t n = sk_outq_peek(q, out + got, want);
        assert_true(n > 0);
        got += (size_t)n;
        sk_outq_consume(q, (uint64_t)n);
    }
    return got;
}

static void build(sk_outq_t *q, int fd)
{
    sk_outq_init(q);
    assert_int_equal(sk_outq_append(q, "head:", 5), 0);
    assert_int_equal(sk_outq_append_file(q, fd, 3, 10, false), 0);
    assert_int_equal(sk_outq_append(q, ":mid:", 5), 0);
    char *p = sk_outq_reserve(q, 3);
    assert_non_null(p);
    memcpy(p, "xyz", 3);
    sk_outq_commit(q, 3);
    assert_int_equal(sk_outq_append_file(q, fd, 0, 2, false), 0);
    assert_int_equal(q->bytes, 5 + 10 + 5 + 3 + 2);
}

static const char want_all[] = "head:DEFGHIJKLM:mid:xyzAB";

static void test_order_every_step(void **state)
{
    (void)state;
    int fd = temp_file(40);
    for (size_t step = 1; step <= sizeof(want_all); step++) {
        sk_outq_t q;
        build(&q, fd);
        char out[64];
        size_t n = drain(&q, out, sizeof(out), step);
        assert_int_equal(n, sizeof(want_all) - 1);
        assert_memory_equal(out, want_all, n);
        assert_int_equal(q.bytes, 0);
        assert_null(q.tail);
    }
    close(fd);
}

static void test_write_socket_and_pipe(void **state)
{
    (void)state;
    int fd = temp_file(40);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    int sinks[2][2] = {{sv[0], sv[1]}, {p[1], p[0]}};
    for (int k = 0; k < 2; k++) {
        sk_outq_t q;
        build(&q, fd);
        ssize_t total = 0;
        while (!sk_outq_empty(&q)) {
            ssize_t n = sk_outq_write(&q, sinks[k][0]);
            assert_true(n > 0);
            total += n;
        }
        assert_int_equal(total, sizeof(want_all) - 1);
        assert_int_equal(sk_outq_write(&q, sinks[k][0]), 0);
        char out[64];
        size_t got = 0;
        while (got < sizeof(want_all) - 1) {
            ssize_t n = read(sinks[k][1], out + got, sizeof(out) - got);
            assert_true(n > 0);
            got += (size_t)n;
        }
        assert_memory_equal(out, want_all, got);
    }
    close(sv[0]);
    close(sv[1]);
    close(p[0]);
    close(p[1]);
    close(fd);
}

/* A full non-blocking socket answers -EAGAIN and keeps every byte. */
static void test_write_eagain_keeps_bytes(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    static char blob[1 << 20];
    memset(blob, 'q', sizeof(blob));
    sk_outq_t q;
    sk_outq_init(&q);
    assert_int_equal(sk_outq_append(&q, blob, sizeof(blob)), 0);
    ssize_t n;
    uint64_t sent = 0;
    while ((n = sk_outq_write(&q, sv[0])) > 0)
        sent += (uint64_t)n;
    assert_int_equal(n, -EAGAIN);
    assert_int_equal(q.bytes + sent, sizeof(blob));
    sk_outq_clear(&q);
    assert_true(sk_outq_empty(&q));
    close(sv[0]);
    close(sv[1]);
}

/* A file range past the end of a shrunk file: -EIO, never a hang. */
static void test_file_shrank(void **state)
{
    (void)state;
    int fd = temp_file(10);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    sk_outq_t q;
    sk_outq_init(&q);
    assert_int_equal(sk_outq_append_file(&q, fd, 0, 10, false), 0);
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(sk_outq_write(&q, sv[0]), -EIO);
    char buf[16];
    assert_int_equal(sk_outq_peek(&q, buf, sizeof(buf)), -EIO);
    sk_outq_clear(&q);
    close(sv[0]);
    close(sv[1]);
    close(fd);
}

/* The queue closes what it owns: on clear, once sent, and for an empty
 * range or a failed append (ownership is taken even then). */
static void test_fd_ownership(void **state)
{
    (void)state;
    int a = temp_file(4), b = temp_file(4), c = temp_file(4), d = temp_file(4);
    sk_outq_t q;
    sk_outq_init(&q);
    assert_int_equal(sk_outq_append_file(&q, a, 0, 4, true), 0);
    assert_int_equal(sk_outq_append_file(&q, b, 0, 0, true), 0);
    assert_false(fd_open(b));
    sk_alloc_fail_after(1);
    assert_int_equal(sk_outq_append_file(&q, c, 0, 4, true), -ENOMEM);
    sk_alloc_fail_after(0);
    assert_false(fd_open(c));
    assert_int_equal(sk_outq_append_file(&q, d, 0, 4, false), 0);
    assert_true(fd_open(a));
    char out[16];
    assert_int_equal(drain(&q, out, sizeof(out), 3), 8);
    assert_false(fd_open(a)); /* sent: closed */
    assert_true(fd_open(d));  /* borrowed: left alone */
    assert_int_equal(sk_outq_append_file(&q, d, 0, 4, true), 0);
    sk_outq_clear(&q);
    assert_false(fd_open(d));
}

/* A held response joins the end of the live queue in order. */
static void test_move(void **state)
{
    (void)state;
    sk_outq_t q, held;
    sk_outq_init(&q);
    sk_outq_init(&held);
    sk_outq_move(&q, &held); /* empty into empty */
    assert_true(sk_outq_empty(&q));
    assert_int_equal(sk_outq_append(&held, "B", 1), 0);
    sk_outq_move(&q, &held); /* into empty */
    assert_true(sk_outq_empty(&held));
    assert_int_equal(held.bytes, 0);
    assert_int_equal(sk_outq_append(&held, "CD", 2), 0);
    sk_outq_move(&q, &held);
    assert_int_equal(sk_outq_append(&q, "E", 1), 0);
    assert_int_equal(q.bytes, 4);
    char out[8];
    assert_int_equal(drain(&q, out, sizeof(out), 8), 4);
    assert_memory_equal(out, "BCDE", 4);
}

/* Allocation failures leave the queue as it was. */
static void test_enomem(void **state)
{
    (void)state;
    sk_outq_t q;
    sk_outq_init(&q);
    assert_int_equal(sk_outq_append(&q, "ok", 2), 0);
    static char big[10000];
    sk_alloc_fail_after(1);
    assert_int_equal(sk_outq_append(&q, big, sizeof(big)), -ENOMEM);
    sk_alloc_fail_after(1);
    assert_null(sk_outq_reserve(&q, sizeof(big)));
    sk_alloc_fail_after(0);
    assert_int_equal(q.bytes, 2);
    /* Room left in the tail chunk needs no allocation. */
    sk_alloc_fail_after(1);
    assert_int_equal(sk_outq_append(&q, "!", 1), 0);
    sk_alloc_fail_after(0);
    char out[8];
    assert_int_equal(drain(&q, out, sizeof(out), 8), 3);
    assert_memory_equal(out, "ok!", 3);
    sk_outq_append(&q, "x", 1);
    sk_outq_clear(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_every_step),
        cmocka_unit_test(test_write_socket_and_pipe),
        cmocka_unit_test(test_write_eagain_keeps_bytes),
        cmocka_unit_test(test_file_shrank),
        cmocka_unit_test(test_fd_ownership),
        cmocka_unit_test(test_move),
        cmocka_unit_test(test_enomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
