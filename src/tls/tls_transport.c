/* tls_transport.c -- the TLS implementation of sk_transport_t: OpenSSL on
 * the connection's own socket (SSL_set_fd), non-blocking or blocking with
 * SO_RCVTIMEO alike. The handshake runs inside the first reads and writes;
 * `want` tells the driver which readiness OpenSSL waits for. Servers first
 * peek at the opening bytes so that plain HTTP sent to a TLS port gets a
 * clear-text 400 instead of an opaque alert. */
#include "tls/internal.h"
#include "core/clock.h"
#include "core/endpoint.h"
#include "core/loop.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <openssl/err.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* One TLS record's worth of plaintext: with SSL_MODE_ENABLE_PARTIAL_WRITE
 * an SSL_write sends at most one record, so peeking more would be copied
 * for nothing. */
#define WBUF_SIZE 16384

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t wbuf_key;
static int conn_index = -1;

static void init_once(void)
{
    pthread_key_create(&wbuf_key, free);
    conn_index = SSL_get_ex_new_index(0, "sockkit conn", NULL, NULL, NULL);
}

int sk__tls_conn_index(void)
{
    pthread_once(&once, init_once);
    return conn_index;
}

/* The write buffer belongs to the thread, not the connection: it only
 * holds bytes between sk_outq_peek and SSL_write, and a retry after
 * WANT_WRITE peeks the same bytes again (nothing was consumed), so idle
 * connections hold no buffer and nothing is allocated per record. */
static char *thread_wbuf(void)
{
    char *b = pthread_getspecific(wbuf_key);
    if (b == NULL) {
        b = malloc(WBUF_SIZE);
        if (b != NULL)
            pthread_setspecific(wbuf_key, b);
    }
    return b;
}

/* SSL_get_error() reads the thread's error queue and errno, so both must
 * be clean before each I/O call: a stale entry left by any earlier OpenSSL
 * call on this thread (a reload, a describe) would turn a close_notify into
 * a "syscall error". */
static inline void io_begin(void)
{
    /* Peeking is cheaper than clearing 16 empty slots on every call. */
    if (ERR_peek_error() != 0)
        ERR_clear_error();
    errno = 0;
}

static void update_want(sk__tls_conn_t *c)
{
    c->t.want = c->rwant | c->wwant;
}

static void peer_name(const sk__tls_conn_t *c, char *buf, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getpeername(c->t.fd, (struct sockaddr *)&ss, &len) == 0)
        sk_addr_format_peer((struct sockaddr *)&ss, len, buf, cap);
    else
        snprintf(buf, cap, "%.100s", c->host[0] ? c->host : "peer");
}

static void handshake_done(sk__tls_conn_t *c)
{
    c->t.handshaking = false;
#ifndef OPENSSL_NO_KTLS
    c->ktls_send = BIO_get_ktls_send(SSL_get_wbio(c->ssl));
#endif
    if (c->server && (c->verbose > 0 || sk_log_verbosity > 0)) {
        char peer[160];
        const unsigned char *alpn = NULL;
        unsigned alen = 0;
        SSL_get0_alpn_selected(c->ssl, &alpn, &alen);
        peer_name(c, peer, sizeof(peer));
        sk_log(SK_LOG_INFO, "tls: %s: %s %s, ALPN %.*s, %s, send path: %s", peer,
               SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl), alen ? (int)alen : 4,
               alen ? (const char *)alpn : "none",
               SSL_session_reused(c->ssl) ? "resumed session" : "full handshake",
               c->ktls_send ? "kernel TLS (SSL_sendfile)" : "buffered (no kernel TLS)");
    }
}

/* A fatal failure: explained once, logged for servers under -v. */
static int fail(sk__tls_conn_t *c)
{
    c->state = SK__TLS_FAILED;
    sk__tls_explain(c);
    if (c->server && (c->verbose > 0 || sk_log_verbosity > 0)) {
        char peer[160];
        peer_name(c, peer, sizeof(peer));
        sk_log(SK_LOG_INFO, "tls: %s: %s%s", peer, c->t.handshaking ? "handshake failed: " : "",
               c->error);
    }
    return SK_ETLS;
}

/* Maps an OpenSSL result r <= 0 to the transport convention. want_own is
 * the readiness the calling op waits for anyway (the driver watches it by
 * itself once the handshake is over); *want gets the other one. */
static int map_result(sk__tls_conn_t *c, int r, int *want, int want_own)
{
    int e = SSL_get_error(c->ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        *want = (c->t.handshaking || want_own != SK_EV_READ) ? SK_EV_READ : 0;
        return -EAGAIN;
    case SSL_ERROR_WANT_WRITE:
        *want = (c->t.handshaking || want_own != SK_EV_WRITE) ? SK_EV_WRITE : 0;
        return -EAGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL: {
        int en = errno;
        c->state = SK__TLS_FAILED;
        ERR_clear_error();
        if (en == 0 || en == EAGAIN || en == EPIPE) {
            snprintf(c->error, sizeof(c->error), "the peer closed the connection%s",
                     c->t.handshaking ? " during the TLS handshake" : "");
            return -ECONNRESET;
        }
        if (en == ECONNRESET)
            snprintf(c->error, sizeof(c->error), "connection reset by peer%s",
                     c->t.handshaking ? " during the TLS handshake" : "");
        else
            snprintf(c->error, sizeof(c->error), "%s", strerror(en));
        return -en;
    }
    default:
        return fail(c);
    }
}

/* RFC 9110 method tokens are upper-case letters; a TLS record starts with
 * a content type (20-24), the handshake being 22 (0x16). */
static bool looks_like_http(const unsigned char *b, ssize_t n)
{
    for (ssize_t i = 0; i < n && i < 4; i++)
        if (b[i] < 'A' || b[i] > 'Z')
            return i > 0 && b[i] == ' ';
    return true;
}

#define PLAIN_BODY "This port speaks HTTPS: use https:// instead of http:// here.\n"

/* Answers plain HTTP with a 400 in clear text (as nginx does), then
 * half-closes. What the client sent so far is read first so that closing
 * later does not turn into a reset that destroys the reply in flight. */
static void reject_plain(sk__tls_conn_t *c)
{
    char sink[4096];
    for (int i = 0; i < 16; i++)
        if (recv(c->t.fd, sink, sizeof(sink), MSG_DONTWAIT) <= 0)
            break;
    char reply[256];
    int n = snprintf(reply, sizeof(reply),
                     "HTTP/1.1 400 Bad Request\r\n"
                     "Content-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n"
                     "Connection: close\r\n"
                     "\r\n%s",
                     sizeof(PLAIN_BODY) - 1, PLAIN_BODY);
    ssize_t w = send(c->t.fd, reply, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w; /* a full socket buffer this early means the peer is gone */
    shutdown(c->t.fd, SHUT_WR);
    c->state = SK__TLS_REJECTED;
    snprintf(c->error, sizeof(c->error), "plain HTTP sent to a TLS port (answered 400)");
    if (c->verbose > 0 || sk_log_verbosity > 0) {
        char peer[160];
        peer_name(c, peer, sizeof(peer));
        sk_log(SK_LOG_INFO, "tls: %s: %s", peer, c->error);
    }
}

/* After the 400: read and drop until the client closes (the handshake
 * deadline bounds this). Blocking sockets wait in recv with SO_RCVTIMEO. */
static ssize_t drain_rejected(sk__tls_conn_t *c)
{
    char sink[4096];
    for (;;) {
        ssize_t n = recv(c->t.fd, sink, sizeof(sink), 0);
        if (n > 0)
            continue;
        if (n == 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->rwant = SK_EV_READ;
            return -EAGAIN;
        }
        return -errno;
    }
}

/* Server: decides from the first byte whether this is TLS at all. Returns
 * 1 to go on with TLS, 0 at end of stream, or a negative code. */
static int sniff(sk__tls_conn_t *c, int *want)
{
    unsigned char b[8];
    ssize_t n;
    do {
        n = recv(c->t.fd, b, sizeof(b), MSG_PEEK);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            *want = SK_EV_READ;
            return -EAGAIN;
        }
        return -errno;
    }
    if (n == 0)
        return 0;
    if (b[0] == 0x16) {
        c->state = SK__TLS_RUNNING;
        return 1;
    }
    if (looks_like_http(b, n)) {
        reject_plain(c);
        return SK_ETLS;
    }
    /* Garbage: no reply, but the same clean close as for plain HTTP, so
     * the peer sees an end of stream rather than a reset. */
    shutdown(c->t.fd, SHUT_WR);
    c->state = SK__TLS_REJECTED;
    snprintf(c->error, sizeof(c->error), "the client sent something that is not TLS (0x%02x)",
             b[0]);
    if (c->verbose > 0 || sk_log_verbosity > 0) {
        char peer[160];
        peer_name(c, peer, sizeof(peer));
        sk_log(SK_LOG_INFO, "tls: %s: %s", peer, c->error);
    }
    return SK_ETLS;
}

/* Advances the handshake. Returns 1 when it is complete, 0 at a clean end
 * of stream, -EAGAIN with *want set, or a negative code. */
static int drive(sk__tls_conn_t *c, int *want)
{
    if (!c->t.handshaking)
        return 1;
    if (c->state == SK__TLS_SNIFF) {
        int rc = sniff(c, want);
        if (rc <= 0)
            return rc;
    }
    if (c->state != SK__TLS_RUNNING)
        return SK_ETLS;
    io_begin();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        handshake_done(c);
        return 1;
    }
    return map_result(c, r, want, 0);
}

/* An idle connection needs no record buffers (~30 KB with read-ahead).
 * Freeing them costs an allocation per request when it wakes up again
 * (~3 us of CPU per keep-alive request here), so only a busy server
 * trades that for memory, as nginx always does: with few connections the
 * buffers stay. OpenSSL keeps a buffer that still holds bytes. */
static void release_buffers(sk__tls_conn_t *c)
{
    if (c->live != NULL &&
        atomic_load_explicit(c->live, memory_order_relaxed) > SK__TLS_RELEASE_ABOVE)
        SSL_free_buffers(c->ssl);
}

static ssize_t tls_read(sk_transport_t *t, char *buf, size_t cap)
{
    sk__tls_conn_t *c = (sk__tls_conn_t *)t;
    c->rwant = 0;
    if (c->state == SK__TLS_REJECTED) {
        ssize_t n = drain_rejected(c);
        update_want(c);
        return n;
    }
    if (c->state == SK__TLS_FAILED)
        return SK_ETLS;
    if (c->state == SK__TLS_SNIFF) {
        int rc = sniff(c, &c->rwant);
        if (c->state == SK__TLS_REJECTED)
            rc = (int)drain_rejected(c);
        if (rc <= 0) {
            update_want(c);
            return rc;
        }
    }
    if (cap > INT32_MAX)
        cap = INT32_MAX;
    /* SSL_read runs the handshake itself when it is not finished. */
    io_begin();
    int r = SSL_read(c->ssl, buf, (int)cap);
    if (c->t.handshaking && SSL_is_init_finished(c->ssl))
        handshake_done(c);
    if (r > 0) {
        c->read_stalled = false;
        update_want(c);
        return r;
    }
    int rc = map_result(c, r, &c->rwant, SK_EV_READ);
    c->read_stalled = rc == -EAGAIN;
    update_want(c);
    return rc;
}

#ifndef OPENSSL_NO_KTLS
/* With kernel TLS the record layer is in the kernel, so a file range goes
 * out with SSL_sendfile (sendfile underneath) without passing through
 * user space. Returns the bytes sent, or 0 when the head is not a file. */
static ssize_t ktls_sendfile(sk__tls_conn_t *c, sk_outq_t *q)
{
    int fd;
    off_t off;
    size_t len;
    if (!sk_outq_head_file(q, &fd, &off, &len))
        return 0;
    io_begin();
    ossl_ssize_t r = SSL_sendfile(c->ssl, fd, off, len, 0);
    if (r > 0) {
        sk_outq_consume(q, (uint64_t)r);
        return r;
    }
    return map_result(c, (int)r, &c->wwant, SK_EV_WRITE);
}
#endif

static ssize_t tls_write(sk_transport_t *t, sk_outq_t *q)
{
    sk__tls_conn_t *c = (sk__tls_conn_t *)t;
    c->wwant = 0;
    if (c->state == SK__TLS_FAILED || c->state == SK__TLS_REJECTED)
        return -EPIPE;
    if (c->t.handshaking) {
        int rc = drive(c, &c->wwant);
        if (rc <= 0) {
            update_want(c);
            return rc == 0 ? -EPIPE : rc;
        }
    }
    if (sk_outq_empty(q)) {
        update_want(c);
        return 0;
    }
#ifndef OPENSSL_NO_KTLS
    if (c->ktls_send) {
        ssize_t n = ktls_sendfile(c, q);
        if (n != 0) {
            update_want(c);
            return n;
        }
    }
#endif
    char *buf = thread_wbuf();
    if (buf == NULL)
        return -ENOMEM;
    ssize_t n = sk_outq_peek(q, buf, WBUF_SIZE);
    if (n <= 0)
        return n < 0 ? n : -EIO;
    io_begin();
    int w = SSL_write(c->ssl, buf, (int)n);
    if (w > 0) {
        sk_outq_consume(q, (uint64_t)w);
        /* The reply is out and no request is waiting: idle. */
        if (sk_outq_empty(q) && !SSL_has_pending(c->ssl))
            release_buffers(c);
        update_want(c);
        return w;
    }
    int rc = map_result(c, w, &c->wwant, SK_EV_WRITE);
    update_want(c);
    return rc == 0 ? -EPIPE : rc;
}

static int tls_shutdown(sk_transport_t *t)
{
    sk__tls_conn_t *c = (sk__tls_conn_t *)t;
    c->wwant = 0;
    /* Before the handshake is complete, or after a fatal error, there is
     * no session to close: end the TCP stream instead. */
    if (c->state != SK__TLS_RUNNING || !SSL_is_init_finished(c->ssl)) {
        update_want(c);
        return shutdown(t->fd, SHUT_WR) == 0 || errno == ENOTCONN ? 0 : -errno;
    }
    if (!c->shut_sent) {
        io_begin();
        int r = SSL_shutdown(c->ssl);
        if (r < 0) {
            int rc = map_result(c, r, &c->wwant, 0);
            update_want(c);
            return rc == 0 ? 0 : rc;
        }
        c->shut_sent = true;
    }
    /* close_notify ends the TLS stream; the FIN tells peers that only
     * watch the socket. Reading goes on: the peer may still send. */
    update_want(c);
    return shutdown(t->fd, SHUT_WR) == 0 || errno == ENOTCONN ? 0 : -errno;
}

static bool tls_pending(const sk_transport_t *t)
{
    const sk__tls_conn_t *c = (const sk__tls_conn_t *)t;
    if (c->state != SK__TLS_RUNNING)
        return false;
    /* Decrypted bytes are ready; with read-ahead, raw bytes may hold whole
     * records too, unless the last read found only part of one (then the
     * socket must bring the rest, and reporting it would spin). */
    return SSL_pending(c->ssl) > 0 || (!c->read_stalled && SSL_has_pending(c->ssl));
}

static void tls_free(sk_transport_t *t)
{
    sk__tls_conn_t *c = (sk__tls_conn_t *)t;
    if (c == NULL)
        return;
    if (c->live != NULL)
        atomic_fetch_sub_explicit(c->live, 1, memory_order_relaxed);
    SSL_free(c->ssl);
    free(c);
}

const sk_transport_ops_t sk__tls_ops = {
    .name = "tls",
    .read = tls_read,
    .write = tls_write,
    .shutdown = tls_shutdown,
    .pending = tls_pending,
    .free = tls_free,
};

sk__tls_conn_t *sk__tls_conn_new(SSL *ssl, int fd, bool server, int verbose)
{
    sk__tls_conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL || SSL_set_fd(ssl, fd) != 1) {
        free(c);
        SSL_free(ssl);
        ERR_clear_error();
        return NULL;
    }
    c->t.ops = &sk__tls_ops;
    c->t.fd = fd;
    c->t.handshaking = true;
    c->ssl = ssl;
    c->server = server;
    c->verbose = verbose;
    c->state = server ? SK__TLS_SNIFF : SK__TLS_RUNNING;
    if (server) {
        SSL_set_accept_state(ssl);
        /* The first thing a server needs is the ClientHello. */
        c->rwant = SK_EV_READ;
    } else {
        SSL_set_connect_state(ssl);
        c->wwant = SK_EV_WRITE;
    }
    update_want(c);
    SSL_set_ex_data(ssl, sk__tls_conn_index(), c);
    return c;
}

/* ---- explicit handshake (clients, `listen`) ------------------------------ */

int sk_tls_handshake(sk_transport_t *t, unsigned timeout_ms, struct sk_err *err)
{
    if (!sk_tls_is_tls(t))
        return 0;
    sk__tls_conn_t *c = (sk__tls_conn_t *)t;
    /* Non-blocking for the duration, so the deadline holds even on a
     * blocking socket. */
    int fl = fcntl(t->fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK))
        fcntl(t->fd, F_SETFL, fl | O_NONBLOCK);
    uint64_t deadline = timeout_ms > 0 ? sk_clock_ms() + timeout_ms : 0;
    int rc;
    for (;;) {
        int want = 0;
        rc = drive(c, &want);
        if (rc != -EAGAIN)
            break;
        int wait = -1;
        if (deadline != 0) {
            uint64_t now = sk_clock_ms();
            if (now >= deadline) {
                rc = -ETIMEDOUT;
                break;
            }
            wait = (int)(deadline - now);
        }
        struct pollfd p = {.fd = t->fd,
                           .events = (short)(((want & SK_EV_WRITE) ? POLLOUT : 0) |
                                             ((want & SK_EV_READ) || want == 0 ? POLLIN : 0))};
        if (poll(&p, 1, wait) < 0 && errno != EINTR) {
            rc = -errno;
            break;
        }
    }
    if (fl >= 0 && !(fl & O_NONBLOCK))
        fcntl(t->fd, F_SETFL, fl);
    const char *who = c->host[0] ? c->host : "the peer";
    if (rc == 1) {
        c->rwant = c->wwant = 0;
        update_want(c);
        return 0;
    }
    if (rc == -ETIMEDOUT) {
        snprintf(c->error, sizeof(c->error), "TLS handshake with %.80s timed out after %g s", who,
                 timeout_ms / 1000.0);
        return sk_err_set(err, rc, "%s", c->error);
    }
    if (rc == 0) {
        snprintf(c->error, sizeof(c->error),
                 "the peer closed the connection during the TLS handshake");
        return sk_err_set(err, -ECONNRESET, "%s", c->error);
    }
    if (c->error[0] == '\0')
        snprintf(c->error, sizeof(c->error), "TLS handshake failed: %s", sk_strerror(rc));
    return sk_err_set(err, rc, "%s", c->error);
}
