/* server_threads.c -- the thread-per-connection engine behind
 * `--backend threads`: blocking sockets, one acceptor thread, one thread per
 * stream connection and one per datagram socket. It runs the same sans-I/O
 * protocols as the event loops, through sk__proto_feed.
 *
 * Blocking calls carry a short SO_RCVTIMEO/SO_SNDTIMEO so every thread
 * wakes a few times a second to check protocol timeouts and shutdown. */
#include "core/server_internal.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SLICE_MS 200
#define LINGER_MS 2000
#define READ_SIZE 65536
#define THREAD_STACK (256u * 1024u)

struct tconn {
    sk_server_t *srv;
    const struct sk__listener *l;
    int fd;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    max_align_t sess[];
};

static atomic_long live_threads;

static void set_slices(int fd)
{
    struct timeval tv = {.tv_sec = 0, .tv_usec = SLICE_MS * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void set_blocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

/* True when the protocol's deadline has passed. */
static bool past_deadline(const sk_proto_t *p, void *sess, uint64_t last_ms, bool pending)
{
    uint64_t d = p->deadline_ms != NULL ? p->deadline_ms(sess, last_ms, pending) : 0;
    return d != 0 && sk_clock_ms() >= d;
}

/* Writes everything queued. Returns 0, or a negative errno when the peer
 * is gone or made no progress for the protocol's send timeout. */
static int tconn_flush(struct tconn *c, sk_outq_t *out, uint64_t *bytes_out, uint64_t *last_ms)
{
    const sk_proto_t *p = c->l->svc->stream;
    while (!sk_outq_empty(out)) {
        ssize_t n = sk_outq_write(out, c->fd);
        if (n > 0) {
            *bytes_out += (uint64_t)n;
            *last_ms = sk_clock_ms();
            continue;
        }
        if (n != -EAGAIN)
            return (int)n;
        if (past_deadline(p, c->sess, *last_ms, true))
            return -ETIMEDOUT;
        if (atomic_load(&c->srv->stopping) &&
            sk_clock_ms() >= *last_ms + c->srv->cfg.drain_timeout_ms)
            return -ETIMEDOUT;
    }
    return 0;
}

static void tconn_linger(int fd)
{
    shutdown(fd, SHUT_WR);
    char sink[4096];
    uint64_t until = sk_clock_ms() + LINGER_MS;
    while (sk_clock_ms() < until) {
        ssize_t n = read(fd, sink, sizeof(sink));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            break;
    }
}

static void *tconn_main(void *arg)
{
    struct tconn *c = arg;
    const sk_proto_t *p = c->l->svc->stream;
    sk_server_t *srv = c->srv;
    sk_buf_t in;
    sk_outq_t out;
    sk_buf_init(&in);
    sk_outq_init(&out);
    uint64_t start = sk_clock_ms(), last = start, bytes_in = 0, bytes_out = 0;
    const char *why = "peer closed";
    bool peer_eof = false, closing = false;
    char *buf = sk_malloc(READ_SIZE);
    const sk_service_t *svc = c->l->svc;
    void *wstate = svc->worker_init != NULL ? svc->worker_init(svc->cfg) : NULL;
    uint64_t next_tick = start + 1000;

    sk_proto_ctx_t ctx = {.out = &out,
                          .now_ms = start,
                          .peer = (struct sockaddr *)&c->peer,
                          .peer_len = c->peer_len,
                          .worker = wstate};
    int rc = buf == NULL ? -ENOMEM : p->open != NULL ? p->open(c->sess, c->l->svc->cfg, &ctx) : 0;
    ctx.peer = NULL;
    ctx.peer_len = 0;
    if (rc < 0) {
        why = sk_strerror(rc);
        goto out;
    }
    set_blocking(c->fd);
    set_slices(c->fd);
    for (;;) {
        rc = tconn_flush(c, &out, &bytes_out, &last);
        if (rc < 0) {
            why = rc == -ETIMEDOUT                    ? "send timeout"
                  : rc == -EPIPE || rc == -ECONNRESET ? "reset by peer"
                                                      : sk_strerror(rc);
            goto out;
        }
        if (p->drained != NULL && !closing && (bytes_out > 0 || in.len > 0)) {
            ctx.now_ms = sk_clock_ms();
            ctx.draining = atomic_load(&srv->stopping);
            rc = p->drained(c->sess, &ctx);
            if (rc < 0) {
                why = sk_strerror(rc);
                goto out;
            }
            closing |= rc == SK_PROTO_CLOSE;
            if (!sk_outq_empty(&out))
                continue;
        }
        if (closing) {
            if (!peer_eof)
                tconn_linger(c->fd);
            why = "done";
            goto out;
        }
        if (peer_eof)
            goto out;
        ctx.draining = atomic_load(&srv->stopping);
        if (ctx.draining && in.len == 0 && (p->idle == NULL || p->idle(c->sess))) {
            why = "server draining";
            goto out;
        }
        int err = 0;
        if (in.len > 0) {
            /* Pipelined input left over while output was pending. */
            size_t before = in.len;
            ctx.now_ms = sk_clock_ms();
            int fr = sk__proto_feed(p, c->sess, &ctx, &in, NULL, 0, &err);
            if (fr == SK__FEED_ABORT) {
                why = sk_strerror(err);
                goto out;
            }
            closing |= fr == SK__FEED_CLOSE;
            if (in.len != before || !sk_outq_empty(&out) || closing)
                continue;
        }
        if (svc->worker_tick != NULL && wstate != NULL && sk_clock_ms() >= next_tick) {
            next_tick = sk_clock_ms() + 1000;
            svc->worker_tick(wstate, sk_clock_ms());
        }
        ssize_t n = read(c->fd, buf, READ_SIZE);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                if (past_deadline(p, c->sess, last, false)) {
                    why = "timeout";
                    goto out;
                }
                continue;
            }
            why = errno == ECONNRESET ? "reset by peer" : strerror(errno);
            goto out;
        }
        last = sk_clock_ms();
        ctx.now_ms = last;
        if (n == 0) {
            peer_eof = true;
            sk__conn_log(srv, c->fd, "peer half-closed");
            if (p->eof == NULL) {
                closing = true;
                continue;
            }
            rc = p->eof(c->sess, &ctx);
            if (rc < 0) {
                why = sk_strerror(rc);
                goto out;
            }
            closing |= rc == SK_PROTO_CLOSE;
            continue;
        }
        bytes_in += (uint64_t)n;
        int fr = sk__proto_feed(p, c->sess, &ctx, &in, buf, (size_t)n, &err);
        if (fr == SK__FEED_ABORT) {
            why = sk_strerror(err);
            goto out;
        }
        closing |= fr == SK__FEED_CLOSE;
    }
out:
    sk__conn_log(srv, c->fd, "closed (%s): %llu bytes in, %llu bytes out, %.3f s", why,
                 (unsigned long long)bytes_in, (unsigned long long)bytes_out,
                 (double)(sk_clock_ms() - start) / 1000.0);
    if (p->close != NULL)
        p->close(c->sess);
    if (svc->worker_fini != NULL && wstate != NULL)
        svc->worker_fini(wstate);
    close(c->fd);
    sk_outq_clear(&out);
    sk_buf_fini(&in);
    sk_free(buf);
    sk_free(c);
    atomic_fetch_sub(&srv->nconns, 1);
    atomic_fetch_sub(&live_threads, 1);
    return NULL;
}

static bool spawn(void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    pthread_t tid;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    atomic_fetch_add(&live_threads, 1);
    int rc = pthread_create(&tid, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        atomic_fetch_sub(&live_threads, 1);
        return false;
    }
    return true;
}

static void accept_one(sk_server_t *srv, const struct sk__listener *l, bool *emfile_logged)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
            if (!*emfile_logged)
                sk_log_warn("accept on %s: %s; pausing accepts", l->name, strerror(e));
            *emfile_logged = true;
            usleep(SLICE_MS * 500);
        }
        return;
    }
    *emfile_logged = false;
    const sk_proto_t *p = l->svc->stream;
    struct tconn *c = sk_calloc(1, sizeof(*c) + p->session_size);
    if (c == NULL) {
        close(fd);
        return;
    }
    c->srv = srv;
    c->l = l;
    c->fd = fd;
    memcpy(&c->peer, &ss, len);
    c->peer_len = len;
    if (srv->cfg.verbose) {
        char peer[160];
        sk_addr_format_peer((struct sockaddr *)&ss, len, peer, sizeof(peer));
        sk__conn_log(srv, fd, "accepted from %s on %s", peer, l->name);
    }
    atomic_fetch_add(&srv->nconns, 1);
    if (!spawn(tconn_main, c)) {
        sk_log_warn("cannot start a thread for a connection; closing it");
        atomic_fetch_sub(&srv->nconns, 1);
        close(fd);
        sk_free(c);
    }
}

static void *acceptor_main(void *arg)
{
    sk_server_t *srv = arg;
    struct pollfd *pfd = sk_xcalloc(srv->nls, sizeof(*pfd));
    struct sk__listener **map = sk_xcalloc(srv->nls, sizeof(*map));
    nfds_t n = 0;
    for (size_t i = 0; i < srv->nls; i++) {
        if (!srv->ls[i].stream)
            continue;
        pfd[n].fd = srv->ls[i].fd;
        pfd[n].events = POLLIN;
        map[n++] = &srv->ls[i];
    }
    bool emfile_logged = false;
    while (!atomic_load(&srv->stopping)) {
        if (atomic_load(&srv->nconns) >= srv->cfg.max_conns) {
            usleep(SLICE_MS * 100);
            continue;
        }
        int r = poll(pfd, n, SLICE_MS);
        for (nfds_t i = 0; r > 0 && i < n; i++)
            if (pfd[i].revents & POLLIN)
                accept_one(srv, map[i], &emfile_logged);
    }
    free(pfd);
    free(map);
    atomic_fetch_sub(&live_threads, 1);
    return NULL;
}

struct dgram_arg {
    sk_server_t *srv;
    const struct sk__listener *l;
};

static void *dgram_main(void *arg)
{
    struct dgram_arg *a = arg;
    const struct sk__listener *l = a->l;
    char *buf = sk_xmalloc(READ_SIZE);
    sk_buf_t reply;
    sk_buf_init(&reply);
    set_blocking(l->fd);
    set_slices(l->fd);
    while (!atomic_load(&a->srv->stopping)) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        ssize_t n = recvfrom(l->fd, buf, READ_SIZE, 0, (struct sockaddr *)&ss, &len);
        if (n < 0)
            continue;
        reply.off = reply.len = 0;
        if (l->svc->dgram->datagram(l->svc->cfg, buf, (size_t)n, &reply) < 0 || reply.len == 0)
            continue;
        if (len == 0 || (ss.ss_family == AF_UNIX && len <= sizeof(sa_family_t)))
            continue;
        sendto(l->fd, sk_buf_head(&reply), reply.len, MSG_DONTWAIT | MSG_NOSIGNAL,
               (struct sockaddr *)&ss, len);
    }
    sk_buf_fini(&reply);
    free(buf);
    free(a);
    atomic_fetch_sub(&live_threads, 1);
    return NULL;
}

int sk__server_run_threads(sk_server_t *srv)
{
    atomic_init(&live_threads, 0);
    if (!spawn(acceptor_main, srv))
        return -EAGAIN;
    for (size_t i = 0; i < srv->nls; i++) {
        if (srv->ls[i].stream)
            continue;
        struct dgram_arg *a = sk_xmalloc(sizeof(*a));
        a->srv = srv;
        a->l = &srv->ls[i];
        if (!spawn(dgram_main, a)) {
            free(a);
            atomic_store(&srv->stopping, true);
            return -EAGAIN;
        }
    }
    sk__server_wait_signal(srv);
    /* Connection threads see `stopping` within a slice, close when idle,
     * and finish what they are sending; wait for them up to the drain
     * timeout. */
    uint64_t until = sk_clock_ms() + srv->cfg.drain_timeout_ms + SLICE_MS;
    while (atomic_load(&live_threads) > 0 && sk_clock_ms() < until)
        usleep(10000);
    long left = atomic_load(&srv->nconns);
    if (left > 0) {
        sk_log_warn("drain timeout: leaving %ld connection%s", left, left == 1 ? "" : "s");
        srv->threads_left = true;
    }
    /* Threads still blocked past the deadline use the listeners no more;
     * wait one more slice for the acceptor so freeing the server is safe. */
    while (atomic_load(&live_threads) > left && sk_clock_ms() < until + SLICE_MS * 2)
        usleep(10000);
    return 0;
}
