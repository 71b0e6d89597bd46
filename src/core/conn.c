/* conn.c -- the connection driver every engine runs (see conn.h).
 *
 * The life of a connection is visible in the function names: open ->
 * (conn_read -> feed -> conn_flush)* -> settle -> begin_linger ->
 * linger_read -> closed. Every path that ends the connection only marks it
 * (mark_closed); the engine frees it after the dispatch that closed it, so
 * no function here has to report "freed" to its caller. */
#include "core/conn.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

enum conn_flags {
    CONN_PEER_EOF = 1u << 0,  /* the peer ended its stream */
    CONN_CLOSING = 1u << 1,   /* close once output is flushed */
    CONN_LINGER = 1u << 2,    /* our side ended; discarding input */
    CONN_SHUT_WAIT = 1u << 3, /* the transport's shutdown wants to be retried */
    CONN_CLOSED = 1u << 4,    /* finished: the engine frees it */
    CONN_DRAINING = 1u << 5,  /* the server is stopping */
    CONN_TIMED_OUT = 1u << 6, /* flushing a last response after a timeout */
    CONN_EOF_OWED = 1u << 7,  /* the protocol hears of the peer's end after its input */
};

struct sk_conn {
    sk_conn_link_t link;
    const sk_proto_t *p;
    void *cfg;
    void *worker;
    sk_transport_t *t; /* &plain, or a transport from the TLS factory */
    sk_transport_t plain;
    unsigned flags;
    int read_batch;
    int verbose;
    const char *why; /* why it closed */
    char *scratch;
    size_t scratch_size;
    sk_buf_t in;
    sk_outq_t out;
    uint64_t now, start_ms, last_ms;
    uint64_t handshake_until, linger_until, flush_until;
    uint64_t bytes_in, bytes_out;
    /* The protocol session follows, p->session_size bytes. */
    max_align_t sess[];
};

int sk__proto_feed(const sk_proto_t *p, void *sess, sk_proto_ctx_t *ctx, sk_buf_t *in,
                   const char *data, size_t len, int *err)
{
    /* Bytes already buffered come first; new bytes join them so the
     * protocol always sees one contiguous run. */
    if (in->len > 0 && len > 0) {
        if (in->len + len > SK__IN_MAX) {
            *err = -ENOBUFS;
            return SK__FEED_ABORT;
        }
        if (sk_buf_append(in, data, len) < 0) {
            *err = -ENOMEM;
            return SK__FEED_ABORT;
        }
        data = NULL;
        len = 0;
    }
    bool from_buf = len == 0;
    const char *cur = from_buf ? sk_buf_head(in) : data;
    size_t left = from_buf ? in->len : len;
    int result = SK__FEED_MORE;
    while (left > 0 && ctx->out->bytes < SK__OUT_HIGH_WM) {
        size_t used = 0;
        int rc = p->input(sess, cur, left, &used, ctx);
        if (rc < 0) {
            *err = rc;
            return SK__FEED_ABORT;
        }
        if (used > left)
            used = left;
        cur += used;
        left -= used;
        if (rc == SK_PROTO_CLOSE) {
            result = SK__FEED_CLOSE;
            left = 0; /* nothing after a closing reply is read */
            break;
        }
        if (used == 0)
            break;
    }
    if (from_buf) {
        sk_buf_consume(in, in->len - left);
        sk_buf_release_if_empty(in);
    } else if (left > 0) {
        if (sk_buf_append(in, cur, left) < 0) {
            *err = -ENOMEM;
            return SK__FEED_ABORT;
        }
    }
    if (result == SK__FEED_CLOSE)
        sk_buf_fini(in);
    return result;
}

/* ---- small helpers ---------------------------------------------------- */

static sk_proto_ctx_t conn_ctx(const sk_conn_t *c)
{
    /* The cast drops const only to hand the protocol its output queue. */
    return (sk_proto_ctx_t){
        .out = (sk_outq_t *)&c->out,
        .now_ms = c->now,
        .draining = (c->flags & CONN_DRAINING) != 0,
        .worker = c->worker,
    };
}

static void mark_closed(sk_conn_t *c, const char *why)
{
    if (c->flags & CONN_CLOSED)
        return;
    c->flags |= CONN_CLOSED;
    c->why = why;
}

static void close_on_error(sk_conn_t *c, ssize_t err)
{
    if (err == -EPIPE || err == -ECONNRESET)
        mark_closed(c, "reset by peer");
    else if (err == SK_ETLS)
        mark_closed(c, "TLS error");
    else
        mark_closed(c, sk_strerror((int)err));
}

static bool transport_pending(const sk_conn_t *c)
{
    return c->t->ops->pending != NULL && c->t->ops->pending(c->t);
}

/* Reading is allowed unless the stream ended, the reply backlog is over
 * the high-water mark, or the peer pipelines faster than it reads our
 * replies (unconsumed input piling up behind pending output). */
static bool can_read(const sk_conn_t *c)
{
    if (c->flags & (CONN_PEER_EOF | CONN_CLOSING | CONN_LINGER | CONN_CLOSED))
        return false;
    if (c->out.bytes >= SK__OUT_HIGH_WM)
        return false;
    return c->in.len < SK__IN_HIGH_WM || sk_outq_empty(&c->out);
}

static void feed(sk_conn_t *c, const char *data, size_t len)
{
    sk_proto_ctx_t ctx = conn_ctx(c);
    int err = 0;
    int rc = sk__proto_feed(c->p, c->sess, &ctx, &c->in, data, len, &err);
    if (rc == SK__FEED_ABORT)
        mark_closed(c, sk_strerror(err));
    else if (rc == SK__FEED_CLOSE)
        c->flags |= CONN_CLOSING;
}

/* ---- the state machine -------------------------------------------------- */

static void conn_flush(sk_conn_t *c)
{
    while (!sk_outq_empty(&c->out) && !(c->flags & CONN_CLOSED)) {
        ssize_t n = c->t->ops->write(c->t, &c->out);
        if (n == -EAGAIN)
            return;
        if (n < 0) {
            close_on_error(c, n);
            return;
        }
        c->bytes_out += (uint64_t)n;
        c->last_ms = c->now;
        if (sk_outq_empty(&c->out) && c->p->drained != NULL && !(c->flags & CONN_CLOSING)) {
            sk_proto_ctx_t ctx = conn_ctx(c);
            int rc = c->p->drained(c->sess, &ctx);
            if (rc < 0)
                mark_closed(c, sk_strerror(rc));
            else if (rc == SK_PROTO_CLOSE)
                c->flags |= CONN_CLOSING;
        }
    }
}

/* Tells the protocol that the peer ended its stream (no eof hook: close
 * once the output is flushed). */
static void deliver_eof(sk_conn_t *c)
{
    c->flags &= ~CONN_EOF_OWED;
    if (c->p->eof == NULL) {
        c->flags |= CONN_CLOSING;
        return;
    }
    sk_proto_ctx_t ctx = conn_ctx(c);
    int rc = c->p->eof(c->sess, &ctx);
    if (rc < 0)
        mark_closed(c, sk_strerror(rc));
    else if (rc == SK_PROTO_CLOSE)
        c->flags |= CONN_CLOSING;
}

static void conn_eof(sk_conn_t *c)
{
    c->flags |= CONN_PEER_EOF;
    if (c->verbose)
        sk_log(SK_LOG_INFO, "conn %d: peer half-closed", c->plain.fd);
    /* Requests the peer sent before its end may still wait in c->in (held
     * back while a large reply was pending): they are answered first, and
     * settle() passes the end on once they are consumed. */
    if (c->in.len > 0)
        c->flags |= CONN_EOF_OWED;
    else
        deliver_eof(c);
}

static void conn_read(sk_conn_t *c)
{
    for (int i = 0; i < c->read_batch; i++) {
        if (!can_read(c))
            return;
        ssize_t n = c->t->ops->read(c->t, c->scratch, c->scratch_size);
        if (n == -EAGAIN)
            return;
        if (n == 0) {
            conn_eof(c);
            return;
        }
        if (n < 0) {
            close_on_error(c, n);
            return;
        }
        c->bytes_in += (uint64_t)n;
        c->last_ms = c->now;
        feed(c, c->scratch, (size_t)n);
        /* Write eagerly: an echo or a small response usually fits the
         * socket buffer, and the read after it then sees fresh input. */
        conn_flush(c);
        if (c->flags & CONN_CLOSED)
            return;
        if ((size_t)n < c->scratch_size && !transport_pending(c))
            return; /* the socket is very likely drained */
    }
}

/* Ends our side: a TLS close_notify or SHUT_WR. Retried when the
 * transport cannot send it yet. */
static void conn_shutdown(sk_conn_t *c)
{
    int rc = c->t->ops->shutdown(c->t);
    if (rc == -EAGAIN) {
        c->flags |= CONN_SHUT_WAIT;
        return;
    }
    c->flags &= ~CONN_SHUT_WAIT;
}

/* Closing with a reply just sent: end our side and discard what the peer
 * still sends, so its kernel does not see a reset that would destroy the
 * reply in its receive queue. */
static void begin_linger(sk_conn_t *c)
{
    if (c->flags & CONN_PEER_EOF) {
        /* The peer is done too; a TLS peer still gets its close_notify. */
        if (c->t != &c->plain)
            conn_shutdown(c);
        mark_closed(c, "done");
        return;
    }
    c->flags |= CONN_LINGER;
    sk_buf_fini(&c->in);
    c->linger_until = c->now + SK__LINGER_MS;
    conn_shutdown(c);
}

static void linger_read(sk_conn_t *c)
{
    if (c->flags & CONN_SHUT_WAIT)
        conn_shutdown(c);
    for (int i = 0; i < 4; i++) {
        ssize_t n = c->t->ops->read(c->t, c->scratch, c->scratch_size);
        if (n > 0)
            continue;
        if (n == -EAGAIN)
            return;
        mark_closed(c, n == 0 ? "done" : "reset by peer");
        return;
    }
}

/* After any I/O: feed buffered input the protocol could not take while
 * output was pending, flush, and decide whether the connection ends. */
static void settle(sk_conn_t *c)
{
    for (;;) {
        conn_flush(c);
        if (c->flags & CONN_CLOSED)
            return;
        if (!sk_outq_empty(&c->out) || (c->flags & CONN_CLOSING))
            break;
        if (c->in.len > 0) {
            /* Pipelined input waits in c->in; feed it now the output is gone. */
            size_t before = c->in.len;
            feed(c, NULL, 0);
            if (c->flags & CONN_CLOSED)
                return;
            if ((c->flags & CONN_CLOSING) || c->in.len != before || !sk_outq_empty(&c->out))
                continue;
            /* Incomplete: wait for more bytes, unless the peer has ended. */
        }
        if (!(c->flags & CONN_EOF_OWED))
            break;
        deliver_eof(c);
        if (c->flags & CONN_CLOSED)
            return;
    }
    if (!sk_outq_empty(&c->out))
        return;
    if (c->flags & CONN_CLOSING)
        begin_linger(c);
    else if (c->flags & CONN_PEER_EOF)
        mark_closed(c, "peer closed");
    else if ((c->flags & CONN_DRAINING) && sk__conn_idle(c))
        mark_closed(c, "server draining");
}

/* ---- the engine-facing API ------------------------------------------- */

int sk__conn_new(sk_conn_t **out, const sk_conn_setup_t *s)
{
    sk_conn_t *c = sk_calloc(1, sizeof(*c) + s->proto->session_size);
    if (c == NULL)
        return -ENOMEM;
    c->p = s->proto;
    c->cfg = s->cfg;
    c->worker = s->worker;
    c->scratch = s->scratch;
    c->scratch_size = s->scratch_size;
    c->read_batch = s->read_batch > 0 ? s->read_batch : 1;
    c->verbose = s->verbose;
    c->now = c->start_ms = c->last_ms = s->now_ms;
    sk_transport_plain_init(&c->plain, s->fd);
    c->t = &c->plain;
    if (s->tls != NULL) {
        sk_transport_t *t = NULL;
        int rc = s->tls->wrap(s->tls->ctx, s->fd, &t);
        if (rc < 0) {
            sk_free(c);
            return rc;
        }
        c->t = t;
        if (s->tls->handshake_timeout_ms > 0)
            c->handshake_until = c->start_ms + s->tls->handshake_timeout_ms;
    }
    *out = c;
    return 0;
}

void sk__conn_open(sk_conn_t *c, const struct sockaddr *peer, socklen_t peer_len)
{
    sk_proto_ctx_t ctx = conn_ctx(c);
    ctx.peer = peer;
    ctx.peer_len = peer_len;
    int rc = c->p->open != NULL ? c->p->open(c->sess, c->cfg, &ctx) : 0;
    if (rc < 0) {
        mark_closed(c, sk_strerror(rc));
        return;
    }
    /* Anything open() queued (a banner) goes out now. */
    settle(c);
}

void sk__conn_io(sk_conn_t *c, int events, uint64_t now_ms)
{
    if (c->flags & CONN_CLOSED)
        return;
    c->now = now_ms;
    if (c->flags & CONN_LINGER) {
        linger_read(c);
        return;
    }
    /* A transport waiting on the socket (a TLS handshake, or a write that
     * must read first) retries both directions when anything fires. */
    bool retry = c->t->want != 0;
    if ((events & SK_EV_WRITE) || retry)
        conn_flush(c);
    if ((events & (SK_EV_READ | SK_EV_ERROR | SK_EV_HUP)) || retry)
        conn_read(c);
    if (!(c->flags & CONN_CLOSED))
        settle(c);
}

void sk__conn_timer(sk_conn_t *c, uint64_t now_ms)
{
    if (c->flags & CONN_CLOSED)
        return;
    c->now = now_ms;
    if (c->flags & CONN_LINGER) {
        if (now_ms >= c->linger_until)
            mark_closed(c, "linger timeout");
        return;
    }
    if (c->t->handshaking && c->handshake_until != 0 && now_ms >= c->handshake_until) {
        mark_closed(c, "TLS handshake timeout");
        return;
    }
    if (c->flags & CONN_TIMED_OUT) {
        if (now_ms >= c->flush_until)
            mark_closed(c, "timeout");
        return;
    }
    bool pending = !sk_outq_empty(&c->out);
    uint64_t d = c->p->deadline_ms != NULL ? c->p->deadline_ms(c->sess, c->last_ms, pending) : 0;
    if (d != 0 && now_ms >= d) {
        if (c->p->timeout == NULL || pending) {
            mark_closed(c, pending ? "send timeout" : "timeout");
            return;
        }
        /* The protocol may say why (a 408) before the connection ends;
         * that last reply gets a short, fixed time to go out. */
        sk_proto_ctx_t ctx = conn_ctx(c);
        c->p->timeout(c->sess, &ctx, pending);
        c->flags |= CONN_TIMED_OUT | CONN_CLOSING;
        c->flush_until = now_ms + SK__TIMEOUT_FLUSH_MS;
        sk_buf_fini(&c->in);
        settle(c);
        return;
    }
    /* Plaintext the transport decrypted but we did not read yet. */
    if (can_read(c) && transport_pending(c)) {
        conn_read(c);
        if (!(c->flags & CONN_CLOSED))
            settle(c);
    }
}

void sk__conn_drain(sk_conn_t *c, uint64_t now_ms)
{
    if (c->flags & (CONN_CLOSED | CONN_DRAINING))
        return;
    c->now = now_ms;
    c->flags |= CONN_DRAINING;
    if (!(c->flags & CONN_LINGER) && sk__conn_idle(c))
        mark_closed(c, "server draining");
}

int sk__conn_mask(const sk_conn_t *c)
{
    if (c->flags & CONN_CLOSED)
        return 0;
    if (c->flags & CONN_LINGER)
        return SK_EV_READ | c->t->want;
    int mask = c->t->want;
    if (can_read(c))
        mask |= SK_EV_READ;
    if (!sk_outq_empty(&c->out))
        mask |= SK_EV_WRITE;
    return mask;
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
    if (a == 0)
        return b;
    if (b == 0)
        return a;
    return a < b ? a : b;
}

uint64_t sk__conn_deadline(const sk_conn_t *c)
{
    if (c->flags & CONN_CLOSED)
        return 0;
    if (c->flags & CONN_LINGER)
        return c->linger_until;
    if (c->flags & CONN_TIMED_OUT)
        return c->flush_until;
    if (can_read(c) && transport_pending(c))
        return c->now;
    uint64_t d = c->t->handshaking ? c->handshake_until : 0;
    if (c->p->deadline_ms != NULL)
        d = earliest(d, c->p->deadline_ms((void *)c->sess, c->last_ms, !sk_outq_empty(&c->out)));
    return d;
}

bool sk__conn_idle(const sk_conn_t *c)
{
    if (!sk_outq_empty(&c->out) || c->in.len > 0)
        return false;
    return c->p->idle == NULL || c->p->idle((void *)c->sess);
}

bool sk__conn_closed(const sk_conn_t *c)
{
    return (c->flags & CONN_CLOSED) != 0;
}

void sk__conn_close(sk_conn_t *c, const char *why)
{
    /* The engine's reason wins even over an I/O failure its own action
     * caused (a socket shut down at the drain timeout fails the write
     * that was waiting on it). */
    c->flags |= CONN_CLOSED;
    c->why = why;
}

int sk__conn_fd(const sk_conn_t *c)
{
    return c->plain.fd;
}

sk_conn_link_t *sk__conn_link(sk_conn_t *c)
{
    return &c->link;
}

void sk__conn_free(sk_conn_t *c, uint64_t now_ms)
{
    if (c == NULL)
        return;
    if (c->verbose)
        sk_log(SK_LOG_INFO, "conn %d: closed (%s): %llu bytes in, %llu bytes out, %.3f s",
               c->plain.fd, c->why != NULL ? c->why : "server stopped",
               (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out,
               (double)(now_ms - c->start_ms) / 1000.0);
    if (c->p->close != NULL)
        c->p->close(c->sess);
    if (c->t != &c->plain && c->t->ops->free != NULL)
        c->t->ops->free(c->t);
    close(c->plain.fd);
    sk_outq_clear(&c->out);
    sk_buf_fini(&c->in);
    sk_free(c);
}
