/* test_frame.c -- the frame codec: prefixes split at every byte, the
 * max-frame boundary, zero-length frames, several frames in one chunk
 * returned without copying, random encode/decode round trips, sticky
 * errors and allocation failure. Every chunk is copied against a PROT_NONE
 * page so a read past its end faults. */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "core/error.h"
#include "proto/frame.h"

#define GUARD_ARENA_SIZE (1024 * 1024)
#include "../guard.h"

/* Frames decoded so far, copied out (a slice dies with its chunk). */
struct got {
    size_t n;
    size_t len[64];
    char *data[64];
    size_t zero_copy; /* frames returned as slices of the chunk */
    int err;          /* last error other than SK_AGAIN, or 0 */
};

static void got_free(struct got *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->data[i]);
    memset(g, 0, sizeof(*g));
}

/* Feeds one chunk (placed against the guard page) until it is consumed or
 * the decoder fails. */
static void feed(sk_frame_decoder_t *d, const char *bytes, size_t len, struct got *g)
{
    const char *p = guarded(bytes, len);
    size_t off = 0;
    for (;;) {
        size_t used = 999999;
        sk_str_t f = {0};
        int rc = sk_frame_decode(d, p + off, len - off, &used, &f);
        assert_true(used <= len - off);
        off += used;
        if (rc == SK_AGAIN) {
            assert_int_equal(off, len);
            return;
        }
        if (rc < 0) {
            g->err = rc;
            return;
        }
        assert_int_equal(rc, 1);
        assert_true(g->n < 64);
        if (f.ptr >= p && f.ptr + f.len <= p + len)
            g->zero_copy++;
        g->len[g->n] = f.len;
        g->data[g->n] = malloc(f.len + 1);
        memcpy(g->data[g->n], f.ptr, f.len);
        g->n++;
        if (off == len)
            return;
    }
}

/* Builds a stream of frames with the given payload sizes; payload i is
 * filled with bytes derived from i so swaps are caught. */
static size_t build_stream(char *out, const size_t *sizes, size_t n)
{
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        sk_frame_put_prefix(out + off, (uint32_t)sizes[i]);
        off += SK_FRAME_PREFIX;
        for (size_t j = 0; j < sizes[i]; j++)
            out[off + j] = (char)(i * 31 + j * 7);
        off += sizes[i];
    }
    return off;
}

static void check_frames(const struct got *g, const size_t *sizes, size_t n)
{
    assert_int_equal(g->err, 0);
    assert_int_equal(g->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(g->len[i], sizes[i]);
        for (size_t j = 0; j < sizes[i]; j++)
            assert_int_equal((unsigned char)g->data[i][j], (unsigned char)(i * 31 + j * 7));
    }
}

static void test_split_every_byte(void **state)
{
    (void)state;
    static const size_t sizes[] = {5, 0, 300, 1, 0};
    char stream[1024];
    size_t total = build_stream(stream, sizes, 5);
    for (size_t k = 0; k <= total; k++) {
        sk_frame_decoder_t d;
        sk_frame_decoder_init(&d, SK_FRAME_MAX_DEFAULT);
        struct got g = {0};
        feed(&d, stream, k, &g);
        feed(&d, stream + k, total - k, &g);
        check_frames(&g, sizes, 5);
        assert_false(sk_frame_decoder_partial(&d));
        got_free(&g);
        sk_frame_decoder_fini(&d);
    }
}

static void test_one_byte_at_a_time(void **state)
{
    (void)state;
    static const size_t sizes[] = {3, 0, 70000};
    static char stream[80000];
    size_t total = build_stream(stream, sizes, 3);
    sk_frame_decoder_t d;
    sk_frame_decoder_init(&d, SK_FRAME_MAX_DEFAULT);
    struct got g = {0};
    for (size_t i = 0; i < total; i++) {
        feed(&d, stream + i, 1, &g);
        /* Frames end after 4+3, 4+3+4 and total bytes. */
        bool boundary = i + 1 == 7 || i + 1 == 11 || i + 1 == total;
        assert_true(sk_frame_decoder_partial(&d) == !boundary);
    }
    check_frames(&g, sizes, 3);
    /* Assembled frames are copies; a 1-byte chunk can hold no frame
     * except a zero-length one whose last prefix byte it is. */
    assert_int_equal(g.zero_copy, 1);
    got_free(&g);
    sk_frame_decoder_fini(&d);
}

static void test_three_frames_one_chunk_zero_copy(void **state)
{
    (void)state;
    static const size_t sizes[] = {10, 0, 2000};
    char stream[4096];
    size_t total = build_stream(stream, sizes, 3);
    sk_frame_decoder_t d;
    sk_frame_decoder_init(&d, SK_FRAME_MAX_DEFAULT);
    struct got g = {0};
    feed(&d, stream, total, &g);
    check_frames(&g, sizes, 3);
    assert_int_equal(g.zero_copy, 3);
    assert_null(d.buf);
    got_free(&g);
    sk_frame_decoder_fini(&d);
}

static void test_zero_length(void **state)
{
    (void)state;
    sk_frame_decoder_t d;
    sk_frame_decoder_init(&d, 0); /* max 0: only empty frames */
    struct got g = {0};
    feed(&d, "\0\0\0\0\0\0\0\0", 8, &g);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.len[0], 0);
    assert_int_equal(g.len[1], 0);
    feed(&d, "\0\0\0\1", 4, &g);
    assert_int_equal(g.err, SK_ETOOBIG);
    assert_int_equal(d.too_big, 1);
    got_free(&g);
    sk_frame_decoder_fini(&d);
}

/* Exactly max is accepted, max + 1 is refused on the prefix alone (whole or
 * split), with nothing allocated and the error sticky. */
static void test_max_boundary(void **state)
{
    (void)state;
    const size_t max = 1000;
    static const size_t ok[] = {1000};
    char stream[2048];
    size_t total = build_stream(stream, ok, 1);
    for (size_t k = 0; k <= total; k += 1) {
        sk_frame_decoder_t d;
        sk_frame_decoder_init(&d, max);
        struct got g = {0};
        feed(&d, stream, k, &g);
        feed(&d, stream + k, total - k, &g);
        check_frames(&g, ok, 1);
        got_free(&g);
        sk_frame_decoder_fini(&d);
    }
    char big[8];
    sk_frame_put_prefix(big, (uint32_t)max + 1);
    memcpy(big + 4, "abcd", 4);
    for (size_t k = 0; k <= 4; k++) {
        sk_frame_decoder_t d;
        sk_frame_decoder_init(&d, max);
        struct got g = {0};
        feed(&d, big, k, &g);
        if (k < 4) {
            assert_int_equal(g.err, 0);
            feed(&d, big + k, 8 - k, &g);
        }
        assert_int_equal(g.err, SK_ETOOBIG);
        assert_int_equal(d.too_big, max + 1);
        assert_null(d.buf);
        /* Sticky: nothing more is consumed. */
        size_t used = 7;
        sk_str_t f;
        assert_int_equal(sk_frame_decode(&d, "\0\0\0\0", 4, &used, &f), SK_ETOOBIG);
        assert_int_equal(used, 0);
        got_free(&g);
        sk_frame_decoder_fini(&d);
    }
}

/* The default maximum: a 64 MiB prefix starts a frame, one more byte is
 * refused; the largest prefix the format allows is refused by default. */
static void test_default_max(void **state)
{
    (void)state;
    char p[4];
    sk_frame_decoder_t d;
    sk_frame_decoder_init(&d, SK_FRAME_MAX_DEFAULT);
    sk_frame_put_prefix(p, (uint32_t)SK_FRAME_MAX_DEFAULT);
    size_t used;
    sk_str_t f;
    assert_int_equal(sk_frame_decode(&d, guarded(p, 4), 4, &used, &f), SK_AGAIN);
    assert_int_equal(used, 4);
    assert_true(sk_frame_decoder_partial(&d));
    sk_frame_decoder_fini(&d);

    const uint32_t lens[] = {(uint32_t)SK_FRAME_MAX_DEFAULT + 1, UINT32_MAX};
    for (size_t i = 0; i < 2; i++) {
        sk_frame_decoder_init(&d, SK_FRAME_MAX_DEFAULT);
        sk_frame_put_prefix(p, lens[i]);
        assert_int_equal(sk_frame_decode(&d, guarded(p, 4), 4, &used, &f), SK_ETOOBIG);
        assert_int_equal(used, 4);
        assert_int_equal(d.too_big, lens[i]);
        sk_frame_decoder_fini(&d);
    }
}

static void test_enomem_sticky(void **state)
{
    (void)state;
    static const size_t sizes[] = {100};
    char stream[128];
    size_t total = build_stream(stream, sizes, 1);
    sk_frame_decoder_t d;
    sk_frame_decoder_init(&d, SK_FRAME_MAX_DEFAULT);
    struct got g = {0};
    sk_alloc_fail_after(1);
    feed(&d, stream, 10, &g);
    sk_alloc_fail_after(0);
    assert_int_equal(g.err, -ENOMEM);
    g.err = 0;
    feed(&d, stream + 10, total - 10, &g);
    assert_int_equal(g.err, -ENOMEM);
    assert_int_equal(g.n, 0);
    sk_frame_decoder_fini(&d);
}

/* Drains a queue into a flat buffer through the peek/consume pair the TLS
 * transport uses. */
static size_t drain(sk_outq_t *q, char *out, size_t cap)
{
    size_t off = 0;
    while (!sk_outq_empty(q)) {
        ssize_t n = sk_outq_peek(q, out + off, cap - off);
        assert_true(n > 0);
        sk_outq_consume(q, (uint64_t)n);
        off += (size_t)n;
    }
    return off;
}

static void test_random_round_trips(void **state)
{
    (void)state;
    static char stream[600000];
    unsigned seed = 12345;
    for (int round = 0; round < 200; round++) {
        size_t sizes[64];
        size_t n = 1 + (size_t)(rand_r(&seed) % 20);
        sk_outq_t q;
        sk_outq_init(&q);
        for (size_t i = 0; i < n; i++) {
            /* Mostly small, sometimes over the outq's 4 KiB chunk. */
            sizes[i] =
                (size_t)(rand_r(&seed) % 8 == 0 ? rand_r(&seed) % 20000 : rand_r(&seed) % 300);
            char *payload = malloc(sizes[i] + 1);
            for (size_t j = 0; j < sizes[i]; j++)
                payload[j] = (char)(i * 31 + j * 7);
            if (i % 2 == 0) {
                assert_int_equal(sk_frame_append(&q, payload, sizes[i]), 0);
            } else {
                char *p = sk_frame_reserve(&q, sizes[i] + 50);
                assert_non_null(p);
                memcpy(p, payload, sizes[i]);
                sk_frame_commit(&q, p, sizes[i]);
            }
            free(payload);
        }
        size_t total = drain(&q, stream, sizeof(stream));
        size_t expect = 0;
        for (size_t i = 0; i < n; i++)
            expect += SK_FRAME_PREFIX + sizes[i];
        assert_int_equal(total, expect);
        sk_frame_decoder_t d;
        sk_frame_decoder_init(&d, 20000);
        struct got g = {0};
        for (size_t off = 0; off < total;) {
            size_t chunk = 1 + (size_t)rand_r(&seed) % (round % 3 == 0 ? 7 : 9000);
            if (chunk > total - off)
                chunk = total - off;
            feed(&d, stream + off, chunk, &g);
            off += chunk;
        }
        check_frames(&g, sizes, n);
        got_free(&g);
        sk_frame_decoder_fini(&d);
    }
}

/* sk_frame_write puts prefix and payload on a socket in one writev, and
 * completes a frame larger than the socket buffer. */
static void test_write_socket(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(sk_frame_write(sv[0], "hi", 2), 6);
    char buf[16];
    assert_int_equal(read(sv[1], buf, sizeof(buf)), 6);
    assert_memory_equal(buf, "\0\0\0\2hi", 6);
    assert_int_equal(sk_frame_write(sv[0], "", 0), 4);
    assert_int_equal(read(sv[1], buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "\0\0\0\0", 4);

    /* 1 MiB through a socket pair: the writer needs several writes. */
    size_t big = 1 << 20;
    char *payload = malloc(big);
    for (size_t i = 0; i < big; i++)
        payload[i] = (char)(i * 13);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(sv[1]);
        _exit(sk_frame_write(sv[0], payload, big) == (ssize_t)(big + 4) ? 0 : 1);
    }
    close(sv[0]);
    char *got = malloc(big + 4);
    size_t off = 0;
    while (off < big + 4) {
        ssize_t n = read(sv[1], got + off, big + 4 - off);
        assert_true(n > 0);
        off += (size_t)n;
    }
    assert_int_equal(sk_frame_get_prefix(got), big);
    assert_memory_equal(got + 4, payload, big);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(status, 0);
    close(sv[1]);
    free(got);
    free(payload);
    assert_int_equal(sk_frame_write(-1, "x", 1), -EBADF);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_every_byte),
        cmocka_unit_test(test_one_byte_at_a_time),
        cmocka_unit_test(test_three_frames_one_chunk_zero_copy),
        cmocka_unit_test(test_zero_length),
        cmocka_unit_test(test_max_boundary),
        cmocka_unit_test(test_default_max),
        cmocka_unit_test(test_enomem_sticky),
        cmocka_unit_test(test_random_round_trips),
        cmocka_unit_test(test_write_socket),
    };
    return cmocka_run_group_tests(tests, setup_guard, teardown_guard);
}
