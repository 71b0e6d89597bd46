/* test_conn.c -- the connection driver (core/conn.c) over a scripted
 * transport: no sockets, so each rule of the state machine (back-pressure,
 * the pipelining bound, deferred and lingering close, deadlines, buffered
 * transport plaintext, the handshake deadline, draining) is checked in
 * isolation, the way every engine relies on it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/conn.h"
#include "core/error.h"

/* ---- a scripted transport ---------------------------------------------- */

struct fake {
    sk_transport_t base;
    const char *in; /* bytes the "peer" sends */
    size_t in_len, in_off;
    bool in_eof;       /* after in: end of stream */
    size_t read_max;   /* at most this per read (0: no limit) */
    bool pending_mode; /* report unread bytes as buffered plaintext */
    size_t write_room; /* bytes the "socket" still accepts */
    char out[1 << 20]; /* what was written */
    size_t out_len;
    int shutdowns;
    bool handshaking;
};

static struct fake *fake;

static ssize_t fake_read(sk_transport_t *t, char *buf, size_t cap)
{
    struct fake *f = (struct fake *)t;
    if (f->handshaking)
        return -EAGAIN;
    size_t left = f->in_len - f->in_off;
    if (left == 0)
        return f->in_eof ? 0 : -EAGAIN;
    size_t n = left < cap ? left : cap;
    if (f->read_max != 0 && n > f->read_max)
        n = f->read_max;
    memcpy(buf, f->in + f->in_off, n);
    f->in_off += n;
    return (ssize_t)n;
}

static ssize_t fake_write(sk_transport_t *t, sk_outq_t *q)
{
    struct fake *f = (struct fake *)t;
    if (f->write_room == 0)
        return -EAGAIN;
    size_t cap = f->write_room < 65536 ? f->write_room : 65536;
    if (cap > sizeof(f->out) - f->out_len)
        cap = sizeof(f->out) - f->out_len;
    ssize_t n = sk_outq_peek(q, f->out + f->out_len, cap);
    if (n <= 0)
        return n == 0 ? -EAGAIN : n;
    sk_outq_consume(q, (uint64_t)n);
    f->out_len += (size_t)n;
    f->write_room -= (size_t)n;
    return n;
}

static int fake_shutdown(sk_transport_t *t)
{
    ((struct fake *)t)->shutdowns++;
    return 0;
}

static bool fake_pending(const sk_transport_t *t)
{
    const struct fake *f = (const struct fake *)t;
    return f->pending_mode && f->in_off < f->in_len;
}

static void fake_free(sk_transport_t *t)
{
    (void)t; /* static storage */
}

static const sk_transport_ops_t fake_ops = {
    .name = "fake",
    .read = fake_read,
    .write = fake_write,
    .shutdown = fake_shutdown,
    .pending = fake_pending,
    .free = fake_free,
};

static int fake_wrap(void *ctx, int fd, sk_transport_t **out)
{
    (void)ctx;
    fake->base.ops = &fake_ops;
    fake->base.fd = fd;
    fake->base.handshaking = fake->handshaking;
    *out = &fake->base;
    return 0;
}

/* ---- protocols ------------------------------------------------------------ */

/* Echo, with a close request on the byte 'Q' and a 100 ms idle deadline. */
struct echo_sess {
    int opened, closed;
};

static int echo_input(void *sess, const char *data, size_t len, size_t *consumed,
                      sk_proto_ctx_t *ctx)
{
    (void)sess;
    const char *q = memchr(data, 'Q', len);
    size_t n = q != NULL ? (size_t)(q - data) + 1 : len;
    if (sk_outq_append(ctx->out, data, n) < 0)
        return -ENOMEM;
    *consumed = n;
    return q != NULL ? SK_PROTO_CLOSE : SK_PROTO_OK;
}

static uint64_t echo_deadline(void *sess, uint64_t last, bool pending)
{
    (void)sess;
    (void)pending;
    return last + 100;
}

static const sk_proto_t echo_proto = {
    .name = "echo",
    .session_size = sizeof(struct echo_sess),
    .input = echo_input,
    .deadline_ms = echo_deadline,
};

/* Echo whose deadline says why it closes: a last "bye" at the timeout. */
static void bye_timeout(void *sess, sk_proto_ctx_t *ctx, bool pending)
{
    (void)sess;
    if (!pending)
        (void)sk_outq_append(ctx->out, "bye", 3);
}

static const sk_proto_t bye_proto = {
    .name = "bye",
    .session_size = sizeof(struct echo_sess),
    .input = echo_input,
    .deadline_ms = echo_deadline,
    .timeout = bye_timeout,
};

/* Answers one line at a time, and only when the previous answer is gone
 * (as HTTP keeps responses in order): pipelined lines wait unconsumed. */
static int lines_input(void *sess, const char *data, size_t len, size_t *consumed,
                       sk_proto_ctx_t *ctx)
{
    (void)sess;
    *consumed = 0;
    if (!sk_outq_empty(ctx->out))
        return SK_PROTO_OK;
    const char *nl = memchr(data, '\n', len);
    if (nl == NULL)
        return SK_PROTO_OK;
    if (sk_outq_append(ctx->out, "ok\n", 3) < 0)
        return -ENOMEM;
    *consumed = (size_t)(nl - data) + 1;
    return SK_PROTO_OK;
}

static const sk_proto_t lines_proto = {
    .name = "lines",
    .session_size = 8,
    .input = lines_input,
};

/* ---- fixture ------------------------------------------------------------ */

static char scratch[65536];
static sk_transport_factory_t factory = {.wrap = fake_wrap};

static int setup(void **state)
{
    (void)state;
    fake = calloc(1, sizeof(*fake));
    return fake == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    free(fake);
    return 0;
}

static sk_conn_t *open_conn(const sk_proto_t *p, uint64_t now)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    sk_conn_setup_t s = {
        .fd = fd,
        .proto = p,
        .tls = &factory,
        .scratch = scratch,
        .scratch_size = sizeof(scratch),
        .read_batch = 4,
        .now_ms = now,
    };
    sk_conn_t *c = NULL;
    assert_int_equal(sk__conn_new(&c, &s), 0);
    sk__conn_open(c, NULL, 0);
    return c;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_echo_and_half_close(void **state)
{
    (void)state;
    fake->in = "hello";
    fake->in_len = 5;
    fake->write_room = SIZE_MAX;
    sk_conn_t *c = open_conn(&echo_proto, 1000);
    assert_int_equal(sk__conn_mask(c), SK_EV_READ);
    sk__conn_io(c, SK_EV_READ, 1001);
    assert_int_equal(fake->out_len, 5);
    assert_memory_equal(fake->out, "hello", 5);
    assert_false(sk__conn_closed(c));
    /* The peer half-closes with nothing owed: the connection ends. */
    fake->in_eof = true;
    sk__conn_io(c, SK_EV_READ, 1002);
    assert_true(sk__conn_closed(c));
    sk__conn_free(c, 1003);
}

static void test_output_backpressure(void **state)
{
    (void)state;
    static char big[600 * 1024];
    memset(big, 'x', sizeof(big));
    fake->in = big;
    fake->in_len = sizeof(big);
    fake->write_room = 0; /* the peer does not read */
    sk_conn_t *c = open_conn(&echo_proto, 0);
    for (int i = 0; i < 20; i++)
        sk__conn_io(c, SK_EV_READ, 1);
    /* Reading stopped at the high-water mark, not at the end of input. */
    assert_false(sk__conn_mask(c) & SK_EV_READ);
    assert_true(sk__conn_mask(c) & SK_EV_WRITE);
    assert_true(fake->in_off < sizeof(big));
    assert_true(fake->in_off <= SK__OUT_HIGH_WM + sizeof(scratch));
    /* The peer reads everything: all bytes come back, in order. */
    fake->write_room = SIZE_MAX;
    for (int i = 0; i < 50 && fake->out_len < sizeof(big); i++)
        sk__conn_io(c, SK_EV_READ | SK_EV_WRITE, 2);
    assert_int_equal(fake->out_len, sizeof(big));
    assert_memory_equal(fake->out, big, sizeof(big));
    sk__conn_free(c, 3);
}

static void test_pipelining_is_bounded(void **state)
{
    (void)state;
    /* 40,000 pipelined one-byte requests (80 KB) and a peer that never
     * reads the replies. */
    static char reqs[80000];
    for (size_t i = 0; i < sizeof(reqs); i += 2)
        memcpy(reqs + i, "a\n", 2);
    fake->in = reqs;
    fake->in_len = sizeof(reqs);
    fake->read_max = 4096;
    fake->write_room = 0;
    sk_conn_t *c = open_conn(&lines_proto, 0);
    for (int i = 0; i < 100; i++)
        sk__conn_io(c, SK_EV_READ, 1);
    assert_false(sk__conn_mask(c) & SK_EV_READ);
    assert_true(fake->in_off <= SK__IN_HIGH_WM + 4096);
    /* Replies flow again: every request is answered. */
    fake->write_room = SIZE_MAX;
    for (int i = 0; i < 100000 && fake->out_len < 3 * 40000; i++)
        sk__conn_io(c, SK_EV_READ | SK_EV_WRITE, 2);
    assert_int_equal(fake->out_len, 3 * 40000);
    sk__conn_free(c, 3);
}

static void test_pipelined_input_answered_after_peer_end(void **state)
{
    (void)state;
    /* Two pipelined lines and the end of stream; the first answer cannot
     * be sent yet, so the second line waits in the input buffer when the
     * end arrives. */
    fake->in = "a\nb\n";
    fake->in_len = 4;
    fake->in_eof = true;
    fake->write_room = 0;
    sk_conn_t *c = open_conn(&lines_proto, 0);
    sk__conn_io(c, SK_EV_READ, 1);
    sk__conn_io(c, SK_EV_READ, 2);
    assert_int_equal(fake->in_off, 4);
    assert_false(sk__conn_closed(c));
    /* The peer reads again: both lines are answered, then it closes. */
    fake->write_room = SIZE_MAX;
    for (int i = 0; i < 10 && !sk__conn_closed(c); i++)
        sk__conn_io(c, SK_EV_WRITE, 3);
    assert_int_equal(fake->out_len, 6);
    assert_memory_equal(fake->out, "ok\nok\n", 6);
    assert_true(sk__conn_closed(c));
    sk__conn_free(c, 4);
}

static void test_close_lingers(void **state)
{
    (void)state;
    fake->in = "abQtrailing";
    fake->in_len = 11;
    fake->write_room = SIZE_MAX;
    sk_conn_t *c = open_conn(&echo_proto, 0);
    sk__conn_io(c, SK_EV_READ, 1);
    /* The reply went out, our side ended, and what follows is discarded
     * until the peer closes. */
    assert_int_equal(fake->out_len, 3);
    assert_int_equal(fake->shutdowns, 1);
    assert_false(sk__conn_closed(c));
    assert_int_equal(sk__conn_mask(c), SK_EV_READ);
    assert_int_equal(sk__conn_deadline(c), 1 + SK__LINGER_MS);
    fake->in_eof = true;
    sk__conn_io(c, SK_EV_READ, 2);
    assert_true(sk__conn_closed(c));
    assert_int_equal(fake->out_len, 3);
    sk__conn_free(c, 3);
}

static void test_linger_times_out(void **state)
{
    (void)state;
    fake->in = "Q";
    fake->in_len = 1;
    fake->write_room = SIZE_MAX;
    sk_conn_t *c = open_conn(&echo_proto, 0);
    sk__conn_io(c, SK_EV_READ, 10);
    sk__conn_timer(c, 10 + SK__LINGER_MS - 1);
    assert_false(sk__conn_closed(c));
    sk__conn_timer(c, 10 + SK__LINGER_MS);
    assert_true(sk__conn_closed(c));
    sk__conn_free(c, 10 + SK__LINGER_MS);
}

static void test_protocol_deadline(void **state)
{
    (void)state;
    fake->in = "x";
    fake->in_len = 1;
    fake->write_room = SIZE_MAX;
    sk_conn_t *c = open_conn(&echo_proto, 0);
    sk__conn_io(c, SK_EV_READ, 50);
    assert_int_equal(sk__conn_deadline(c), 150);
    sk__conn_timer(c, 149);
    assert_false(sk__conn_closed(c));
    sk__conn_timer(c, 150);
    assert_true(sk__conn_closed(c));
    sk__conn_free(c, 150);
}

static void test_timeout_last_reply(void **state)
{
    (void)state;
    fake->write_room = SIZE_MAX;
    sk_conn_t *c = open_conn(&bye_proto, 0);
    sk__conn_timer(c, 100);
    /* The last reply went out and the connection lingers. */
    assert_int_equal(fake->out_len, 3);
    assert_memory_equal(fake->out, "bye", 3);
    assert_int_equal(fake->shutdowns, 1);
    assert_false(sk__conn_closed(c));
    sk__conn_free(c, 101);

    /* A peer that does not take the last reply costs at most
     * SK__TIMEOUT_FLUSH_MS more. */
    memset(fake, 0, sizeof(*fake));
    c = open_conn(&bye_proto, 0);
    sk__conn_timer(c, 100);
    assert_false(sk__conn_closed(c));
    assert_int_equal(sk__conn_deadline(c), 100 + SK__TIMEOUT_FLUSH_MS);
    sk__conn_timer(c, 100 + SK__TIMEOUT_FLUSH_MS);
    assert_true(sk__conn_closed(c));
    sk__conn_free(c, 100 + SK__TIMEOUT_FLUSH_MS);
}

static void test_transport_pending(void **state)
{
    (void)state;
    /* Plaintext buffered in the transport is read without readiness: the
     * driver asks to be called at once. */
    fake->in = "0123456789";
    fake->in_len = 10;
    fake->read_max = 2;
    fake->pending_mode = true;
    fake->write_room = SIZE_MAX;
    sk_conn_t *c = open_conn(&echo_proto, 0);
    sk__conn_io(c, SK_EV_READ, 5);
    for (int i = 0; i < 10 && fake->out_len < 10; i++) {
        assert_int_equal(sk__conn_deadline(c), 5);
        sk__conn_timer(c, 5);
    }
    assert_int_equal(fake->out_len, 10);
    assert_int_equal(sk__conn_deadline(c), 105); /* back to the idle deadline */
    sk__conn_free(c, 6);
}

static void test_handshake_deadline(void **state)
{
    (void)state;
    fake->handshaking = true;
    fake->write_room = SIZE_MAX;
    factory.handshake_timeout_ms = 50;
    sk_conn_t *c = open_conn(&lines_proto, 1000);
    assert_int_equal(sk__conn_deadline(c), 1050);
    sk__conn_timer(c, 1049);
    assert_false(sk__conn_closed(c));
    sk__conn_timer(c, 1050);
    assert_true(sk__conn_closed(c));
    sk__conn_free(c, 1050);
    factory.handshake_timeout_ms = 0;
}

static void test_drain(void **state)
{
    (void)state;
    fake->in = "partial";
    fake->in_len = 7;
    fake->write_room = 0;
    sk_conn_t *c = open_conn(&lines_proto, 0);
    sk__conn_io(c, SK_EV_READ, 1);
    /* A request in progress is not idle: draining waits for it. */
    sk__conn_drain(c, 2);
    assert_false(sk__conn_closed(c));
    sk__conn_free(c, 3);

    memset(fake, 0, sizeof(*fake));
    c = open_conn(&lines_proto, 0);
    sk__conn_drain(c, 1);
    assert_true(sk__conn_closed(c));
    sk__conn_free(c, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_echo_and_half_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_backpressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelining_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_input_answered_after_peer_end, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_lingers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_linger_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_protocol_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_last_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transport_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handshake_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
