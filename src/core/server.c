/* server.c -- the event-loop server engine: binds endpoints, runs one loop
 * per worker thread, accepts (pausing on EMFILE or --max-conns), drives
 * stream connections and datagram sockets through their sans-I/O protocol,
 * enforces timeouts and drains gracefully on SIGINT/SIGTERM.
 *
 * The connection life is visible in the function names: conn_accept ->
 * conn_on_io (conn_read, conn_flush) -> conn_linger -> conn_free. */
#include "core/server_internal.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* A connection that closes with unread input must not reset the peer
 * before it has read our last reply, so it half-closes and discards input
 * for at most this long (nginx's lingering_close). */
#define LINGER_MS 2000
/* How long accepting pauses after EMFILE/ENFILE. */
#define ACCEPT_PAUSE_MS 100
/* Accepts and reads per readiness event, so one busy socket cannot starve
 * the others on the same loop. */
#define ACCEPT_BATCH 64
#define READ_BATCH 4
#define DGRAM_BATCH 64

struct worker;

enum conn_flags {
    CONN_PEER_EOF = 1u << 0, /* read returned 0 */
    CONN_CLOSING = 1u << 1,  /* close once output is flushed */
    CONN_LINGER = 1u << 2,   /* write side shut; discarding input */
};

struct conn {
    struct conn *prev, *next;
    struct worker *w;
    const struct sk__listener *l;
    int fd;
    unsigned flags;
    int mask;
    sk_buf_t in;
    sk_outq_t out;
    sk_timer_t timer;
    uint64_t last_ms, start_ms;
    uint64_t bytes_in, bytes_out;
    /* The protocol session follows, session_size bytes. */
    max_align_t sess[];
};

struct worker {
    sk_server_t *srv;
    int id;
    sk_loop_t *loop;
    pthread_t tid;
    struct conn *conns; /* doubly linked, for drain */
    long nconns;
    bool draining;
    bool accept_paused;
    bool emfile_logged;
    sk_timer_t accept_timer;
    sk_timer_t drain_timer;
    sk_timer_t tick_timer;
    sk_buf_t reply;   /* datagram reply scratch */
    void **svc_state; /* per service, from worker_init */
    int rc;
};

struct engine {
    struct worker *workers;
    int nworkers;
};

void sk_server_config_defaults(sk_server_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->backend = NULL;
    cfg->workers = 0;
    cfg->max_conns = 0;
    cfg->drain_timeout_ms = 10000;
    cfg->unix_mode = 0600;
}

int sk_server_new(sk_server_t **out, const sk_server_config_t *cfg)
{
    sk_server_t *srv = sk_xcalloc(1, sizeof(*srv));
    srv->cfg = *cfg;
    if (srv->cfg.backend == NULL)
        srv->cfg.backend = sk_backend_default();
    if (srv->cfg.workers <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        srv->cfg.workers = n > 0 ? (int)n : 1;
    }
    /* Thread per connection has one acceptor; workers do not apply. */
    if (srv->cfg.backend->thread_per_conn)
        srv->cfg.workers = 1;
    long nofile = sk_raise_nofile();
    if (srv->cfg.max_conns <= 0) {
        /* Leave room for listeners, files being served and logs. */
        srv->cfg.max_conns = nofile > 64 ? nofile - 32 : nofile / 2;
    }
    atomic_init(&srv->nconns, 0);
    atomic_init(&srv->stopping, false);
    *out = srv;
    return 0;
}

void sk_server_free(sk_server_t *srv)
{
    if (srv == NULL || srv->threads_left)
        return;
    for (size_t i = 0; i < srv->nls; i++)
        if (srv->ls[i].fd >= 0)
            close(srv->ls[i].fd);
    free(srv->ls);
    free(srv->svcs);
    free(srv);
}

static void add_listener(sk_server_t *srv, int fd, int owner, const sk_endpoint_t *ep,
                         const sk_service_t *svc, int svc_index)
{
    srv->ls = realloc(srv->ls, (srv->nls + 1) * sizeof(*srv->ls));
    if (srv->ls == NULL) {
        fprintf(stderr, "sockkit: out of memory\n");
        exit(1);
    }
    struct sk__listener *l = &srv->ls[srv->nls++];
    memset(l, 0, sizeof(*l));
    l->fd = fd;
    l->owner = owner;
    l->stream = sk_endpoint_is_stream(ep);
    l->transport = ep->transport;
    l->svc = svc;
    l->svc_index = svc_index;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        sk_addr_format(ep->transport, (struct sockaddr *)&ss, len, l->name, sizeof(l->name));
    else
        sk_endpoint_format(ep, l->name, sizeof(l->name));
}

static int service_index(sk_server_t *srv, const sk_service_t *svc)
{
    for (size_t i = 0; i < srv->nsvcs; i++)
        if (srv->svcs[i] == svc)
            return (int)i;
    srv->svcs = realloc(srv->svcs, (srv->nsvcs + 1) * sizeof(*srv->svcs));
    if (srv->svcs == NULL) {
        fprintf(stderr, "sockkit: out of memory\n");
        exit(1);
    }
    srv->svcs[srv->nsvcs] = svc;
    return (int)srv->nsvcs++;
}

static uint16_t bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

int sk_server_listen(sk_server_t *srv, const sk_endpoint_t *ep, const sk_service_t *svc,
                     struct sk_err *err)
{
    bool stream = sk_endpoint_is_stream(ep);
    if ((stream && svc->stream == NULL) || (!stream && svc->dgram == NULL)) {
        char name[160];
        sk_endpoint_format(ep, name, sizeof(name));
        return sk_err_set(err, SK_EUSAGE, "%s: this server does not support %s endpoints", name,
                          stream ? "stream" : "datagram");
    }
    if (ep->transport == SK_TRANSPORT_TLS)
        return sk_err_set(err, SK_ENOTBUILT,
                          "tls:// endpoints are not supported by this server yet");
    int svc_index = service_index(srv, svc);
    bool per_worker = (ep->transport == SK_TRANSPORT_TCP || ep->transport == SK_TRANSPORT_UDP) &&
                      !srv->cfg.backend->thread_per_conn && srv->cfg.workers > 1;
    sk_listen_opts_t o = {
        .backlog = 0,
        .mode = srv->cfg.unix_mode,
        .reuseport = per_worker,
        .sockopts = &srv->cfg.sockopts,
    };
    int fds[16];
    int n = sk_endpoint_listen(ep, &o, fds, 16, err);
    if (n < 0)
        return n;
    for (int i = 0; i < n; i++)
        add_listener(srv, fds[i], per_worker ? 0 : -1, ep, svc, svc_index);
    if (!per_worker)
        return 0;
    /* Each further worker gets its own SO_REUSEPORT socket on the port the
     * kernel chose for the first, so the kernel spreads connections across
     * workers without a shared accept queue. */
    sk_endpoint_t again = *ep;
    again.port = bound_port(fds[0]);
    for (int w = 1; w < srv->cfg.workers; w++) {
        int more[16];
        int m = sk_endpoint_listen(&again, &o, more, 16, err);
        if (m < 0)
            return m;
        for (int i = 0; i < m; i++)
            add_listener(srv, more[i], w, &again, svc, svc_index);
    }
    return 0;
}

void sk__conn_log(const sk_server_t *srv, int fd, const char *fmt, ...)
{
    if (!srv->cfg.verbose)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sk_log(SK_LOG_INFO, "conn %d: %s", fd, msg);
}

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

/* ---- connections ------------------------------------------------------ */

static void conn_on_io(sk_loop_t *loop, int fd, int events, void *data);
static void conn_on_timer(sk_loop_t *loop, sk_timer_t *t, void *data);
static void accept_resume(struct worker *w);

static void *conn_sess(struct conn *c)
{
    return c->sess;
}

static sk_proto_ctx_t conn_ctx(struct conn *c)
{
    return (sk_proto_ctx_t){
        .out = &c->out,
        .now_ms = sk_loop_now(c->w->loop),
        .draining = c->w->draining,
        .worker = c->w->svc_state[c->l->svc_index],
    };
}

static void conn_free(struct conn *c, const char *why)
{
    struct worker *w = c->w;
    const sk_proto_t *p = c->l->svc->stream;
    uint64_t now = sk_loop_now(w->loop);
    sk__conn_log(w->srv, c->fd, "closed (%s): %llu bytes in, %llu bytes out, %.3f s", why,
                 (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out,
                 (double)(now - c->start_ms) / 1000.0);
    sk_loop_io_del(w->loop, c->fd);
    close(c->fd);
    sk_loop_timer_stop(w->loop, &c->timer);
    if (p->close != NULL)
        p->close(conn_sess(c));
    sk_outq_clear(&c->out);
    sk_buf_fini(&c->in);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    sk_free(c);
    w->nconns--;
    long total = atomic_fetch_sub(&w->srv->nconns, 1) - 1;
    if (w->accept_paused && !w->emfile_logged && total < w->srv->cfg.max_conns)
        accept_resume(w);
    if (w->draining && w->nconns == 0)
        sk_loop_stop(w->loop);
}

/* Closing with a reply just sent: shut our side and discard what the peer
 * still sends, so its kernel does not see a reset that would destroy the
 * reply in its receive queue. */
static void conn_linger(struct conn *c)
{
    if (c->flags & CONN_PEER_EOF) {
        conn_free(c, "done");
        return;
    }
    shutdown(c->fd, SHUT_WR);
    c->flags |= CONN_LINGER;
    sk_buf_fini(&c->in);
    sk_loop_io_mask(c->w->loop, c->fd, SK_EV_READ);
    sk_loop_timer_start(c->w->loop, &c->timer, LINGER_MS);
}

static bool conn_idle(struct conn *c)
{
    const sk_proto_t *p = c->l->svc->stream;
    if (!sk_outq_empty(&c->out) || c->in.len > 0)
        return false;
    return p->idle == NULL || p->idle(conn_sess(c));
}

/* Writes pending output. Returns false when the connection was freed. */
static bool conn_flush(struct conn *c)
{
    const sk_proto_t *p = c->l->svc->stream;
    while (!sk_outq_empty(&c->out)) {
        ssize_t n = sk_outq_write(&c->out, c->fd);
        if (n == -EAGAIN)
            return true;
        if (n < 0) {
            conn_free(c, n == -EPIPE || n == -ECONNRESET ? "reset by peer" : sk_strerror((int)n));
            return false;
        }
        c->bytes_out += (uint64_t)n;
        c->last_ms = sk_loop_now(c->w->loop);
        if (sk_outq_empty(&c->out) && p->drained != NULL && !(c->flags & CONN_CLOSING)) {
            sk_proto_ctx_t ctx = conn_ctx(c);
            int rc = p->drained(conn_sess(c), &ctx);
            if (rc < 0) {
                conn_free(c, sk_strerror(rc));
                return false;
            }
            if (rc == SK_PROTO_CLOSE)
                c->flags |= CONN_CLOSING;
        }
    }
    return true;
}

/* Re-arms the connection's timer lazily: activity only moves last_ms, and
 * the timer, when it fires, re-arms itself at the real deadline. That keeps
 * heap work off the per-read path. */
static void conn_arm_timer(struct conn *c)
{
    const sk_proto_t *p = c->l->svc->stream;
    if (c->flags & CONN_LINGER)
        return;
    uint64_t deadline =
        p->deadline_ms ? p->deadline_ms(conn_sess(c), c->last_ms, !sk_outq_empty(&c->out)) : 0;
    if (deadline == 0) {
        sk_loop_timer_stop(c->w->loop, &c->timer);
        return;
    }
    if (sk_timer_active(&c->timer) && c->timer.due_ms <= deadline)
        return;
    uint64_t now = sk_loop_now(c->w->loop);
    sk_loop_timer_start(c->w->loop, &c->timer, deadline > now ? deadline - now : 0);
}

/* After any I/O: process buffered input the protocol could not take while
 * output was pending, flush, then set the interest mask. */
static void conn_settle(struct conn *c)
{
    const sk_proto_t *p = c->l->svc->stream;
    for (;;) {
        if (!conn_flush(c))
            return;
        if (!sk_outq_empty(&c->out) || c->in.len == 0 || (c->flags & CONN_CLOSING))
            break;
        /* Pipelined input waits in c->in; feed it now the output is gone. */
        size_t before = c->in.len;
        sk_proto_ctx_t ctx = conn_ctx(c);
        int err = 0;
        int rc = sk__proto_feed(p, conn_sess(c), &ctx, &c->in, NULL, 0, &err);
        if (rc == SK__FEED_ABORT) {
            conn_free(c, sk_strerror(err));
            return;
        }
        if (rc == SK__FEED_CLOSE)
            c->flags |= CONN_CLOSING;
        else if (c->in.len == before && sk_outq_empty(&c->out))
            break; /* incomplete: wait for more bytes */
    }
    if (sk_outq_empty(&c->out)) {
        if (c->flags & CONN_CLOSING) {
            conn_linger(c);
            return;
        }
        if (c->flags & CONN_PEER_EOF) {
            conn_free(c, "peer closed");
            return;
        }
        if (c->w->draining && conn_idle(c)) {
            conn_free(c, "server draining");
            return;
        }
    }
    int mask = 0;
    if (!(c->flags & (CONN_PEER_EOF | CONN_CLOSING)) && c->out.bytes < SK__OUT_HIGH_WM)
        mask |= SK_EV_READ;
    if (!sk_outq_empty(&c->out))
        mask |= SK_EV_WRITE;
    if (mask != c->mask) {
        int rc = sk_loop_io_mask(c->w->loop, c->fd, mask);
        if (rc < 0) {
            conn_free(c, sk_strerror(rc));
            return;
        }
        c->mask = mask;
    }
    conn_arm_timer(c);
}

static bool conn_eof(struct conn *c)
{
    const sk_proto_t *p = c->l->svc->stream;
    c->flags |= CONN_PEER_EOF;
    sk__conn_log(c->w->srv, c->fd, "peer half-closed");
    if (p->eof == NULL) {
        c->flags |= CONN_CLOSING;
        return true;
    }
    sk_proto_ctx_t ctx = conn_ctx(c);
    int rc = p->eof(conn_sess(c), &ctx);
    if (rc < 0) {
        conn_free(c, sk_strerror(rc));
        return false;
    }
    if (rc == SK_PROTO_CLOSE)
        c->flags |= CONN_CLOSING;
    return true;
}

/* Reads and feeds the protocol. Returns false when the connection was
 * freed. */
static bool conn_read(struct conn *c)
{
    const sk_proto_t *p = c->l->svc->stream;
    unsigned scratch_size;
    char *scratch = sk_loop_scratch(c->w->loop, &scratch_size);
    for (int i = 0; i < READ_BATCH; i++) {
        if (c->flags & (CONN_PEER_EOF | CONN_CLOSING))
            return true;
        if (c->out.bytes >= SK__OUT_HIGH_WM)
            return true;
        ssize_t n;
        do {
            n = read(c->fd, scratch, scratch_size);
        } while (n < 0 && errno == EINTR);
        if (n == 0)
            return conn_eof(c);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            conn_free(c, errno == ECONNRESET ? "reset by peer" : strerror(errno));
            return false;
        }
        c->bytes_in += (uint64_t)n;
        c->last_ms = sk_loop_now(c->w->loop);
        sk_proto_ctx_t ctx = conn_ctx(c);
        int err = 0;
        int rc = sk__proto_feed(p, conn_sess(c), &ctx, &c->in, scratch, (size_t)n, &err);
        if (rc == SK__FEED_ABORT) {
            conn_free(c, sk_strerror(err));
            return false;
        }
        if (rc == SK__FEED_CLOSE)
            c->flags |= CONN_CLOSING;
        /* Write eagerly: an echo or a small response usually fits the socket
         * buffer, and the read after it then sees fresh input. */
        if (!sk_outq_empty(&c->out) && !conn_flush(c))
            return false;
        if ((size_t)n < scratch_size)
            return true; /* the socket is very likely drained */
    }
    return true;
}

/* A lingering connection: drop input until EOF or the deadline. */
static void conn_linger_read(struct conn *c)
{
    unsigned size;
    char *scratch = sk_loop_scratch(c->w->loop, &size);
    for (int i = 0; i < READ_BATCH; i++) {
        ssize_t n = read(c->fd, scratch, size);
        if (n > 0)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        conn_free(c, n == 0 ? "done" : "reset by peer");
        return;
    }
}

static void conn_on_io(sk_loop_t *loop, int fd, int events, void *data)
{
    (void)loop;
    (void)fd;
    struct conn *c = data;
    if (c->flags & CONN_LINGER) {
        conn_linger_read(c);
        return;
    }
    if ((events & SK_EV_WRITE) && !conn_flush(c))
        return;
    if ((events & (SK_EV_READ | SK_EV_ERROR | SK_EV_HUP)) && !conn_read(c))
        return;
    conn_settle(c);
}

static void conn_on_timer(sk_loop_t *loop, sk_timer_t *t, void *data)
{
    (void)t;
    struct conn *c = data;
    uint64_t now = sk_loop_now(loop);
    if (c->flags & CONN_LINGER) {
        conn_free(c, "linger timeout");
        return;
    }
    const sk_proto_t *p = c->l->svc->stream;
    bool pending = !sk_outq_empty(&c->out);
    uint64_t deadline = p->deadline_ms ? p->deadline_ms(conn_sess(c), c->last_ms, pending) : 0;
    if (deadline == 0)
        return;
    if (now < deadline) {
        sk_loop_timer_start(loop, &c->timer, deadline - now);
        return;
    }
    conn_free(c, pending ? "send timeout" : "timeout");
}

static void accept_pause(struct worker *w, uint64_t ms)
{
    if (!w->accept_paused) {
        for (size_t i = 0; i < w->srv->nls; i++) {
            struct sk__listener *l = &w->srv->ls[i];
            if (l->stream && (l->owner < 0 || l->owner == w->id))
                sk_loop_io_mask(w->loop, l->fd, 0);
        }
        w->accept_paused = true;
    }
    if (ms > 0)
        sk_loop_timer_start(w->loop, &w->accept_timer, ms);
}

static void accept_resume(struct worker *w)
{
    if (!w->accept_paused || w->draining)
        return;
    for (size_t i = 0; i < w->srv->nls; i++) {
        struct sk__listener *l = &w->srv->ls[i];
        if (l->stream && (l->owner < 0 || l->owner == w->id))
            sk_loop_io_mask(w->loop, l->fd, SK_EV_READ);
    }
    w->accept_paused = false;
}

static void accept_on_timer(sk_loop_t *loop, sk_timer_t *t, void *data)
{
    (void)loop;
    (void)t;
    struct worker *w = data;
    w->emfile_logged = false;
    if (atomic_load(&w->srv->nconns) < w->srv->cfg.max_conns)
        accept_resume(w);
    else
        sk_loop_timer_start(w->loop, &w->accept_timer, ACCEPT_PAUSE_MS);
}

static void conn_start(struct worker *w, const struct sk__listener *l, int fd,
                       const struct sockaddr *peer, socklen_t peer_len)
{
    const sk_proto_t *p = l->svc->stream;
    struct conn *c = sk_calloc(1, sizeof(*c) + p->session_size);
    if (c == NULL) {
        sk_log_warn("out of memory accepting a connection; closing it");
        close(fd);
        atomic_fetch_sub(&w->srv->nconns, 1);
        return;
    }
    c->w = w;
    c->l = l;
    c->fd = fd;
    c->start_ms = c->last_ms = sk_loop_now(w->loop);
    sk_timer_init(&c->timer, conn_on_timer, c);
    if (w->srv->cfg.verbose) {
        char peername[160];
        sk_addr_format_peer(peer, peer_len, peername, sizeof(peername));
        sk__conn_log(w->srv, fd, "accepted from %s on %s", peername, l->name);
    }
    c->next = w->conns;
    if (w->conns != NULL)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    sk_proto_ctx_t ctx = conn_ctx(c);
    ctx.peer = peer;
    ctx.peer_len = peer_len;
    int rc = p->open != NULL ? p->open(conn_sess(c), l->svc->cfg, &ctx) : 0;
    if (rc < 0) {
        conn_free(c, sk_strerror(rc));
        return;
    }
    rc = sk_loop_io_set(w->loop, fd, SK_EV_READ, conn_on_io, c);
    if (rc < 0) {
        if (rc == -ERANGE)
            sk_log_warn("fd %d is beyond what the %s backend can watch (FD_SETSIZE %d); "
                        "closing that connection",
                        fd, sk_loop_backend(w->loop)->name, FD_SETSIZE);
        else
            sk_log_warn("cannot watch fd %d: %s; closing that connection", fd, sk_strerror(rc));
        conn_free(c, "not watchable");
        return;
    }
    c->mask = SK_EV_READ;
    /* Anything open() queued (a banner) goes out now. */
    conn_settle(c);
}

static void listener_on_accept(sk_loop_t *loop, int fd, int events, void *data)
{
    (void)loop;
    (void)events;
    const struct sk__listener *l = data;
    struct worker *w = sk_loop_data(loop);
    for (int i = 0; i < ACCEPT_BATCH && !w->accept_paused; i++) {
        if (atomic_load(&w->srv->nconns) >= w->srv->cfg.max_conns) {
            /* Over --max-conns: leave the rest in the backlog. */
            accept_pause(w, ACCEPT_PAUSE_MS);
            return;
        }
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int cfd = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            int e = errno;
            if (e == EAGAIN || e == EWOULDBLOCK)
                return;
            if (e == EINTR || e == ECONNABORTED || e == EPROTO)
                continue;
            if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
                /* Out of descriptors: stop accepting for a moment and keep
                 * serving the connections we have; their closing frees fds. */
                if (!w->emfile_logged)
                    sk_log_warn("accept on %s: %s; pausing accepts for %d ms", l->name, strerror(e),
                                ACCEPT_PAUSE_MS);
                w->emfile_logged = true;
                accept_pause(w, ACCEPT_PAUSE_MS);
                return;
            }
            sk_log_warn("accept on %s: %s", l->name, strerror(e));
            return;
        }
        atomic_fetch_add(&w->srv->nconns, 1);
        conn_start(w, l, cfd, (struct sockaddr *)&ss, len);
    }
}

/* ---- datagrams -------------------------------------------------------- */

static void dgram_on_read(sk_loop_t *loop, int fd, int events, void *data)
{
    (void)events;
    const struct sk__listener *l = data;
    struct worker *w = sk_loop_data(loop);
    unsigned size;
    char *scratch = sk_loop_scratch(loop, &size);
    for (int i = 0; i < DGRAM_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        ssize_t n = recvfrom(fd, scratch, size, MSG_TRUNC, (struct sockaddr *)&ss, &len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; /* EAGAIN, or an ICMP error queued by an earlier send */
        }
        if ((size_t)n > size) {
            sk_log_debug("datagram of %zd bytes truncated to %u", n, size);
            n = size;
        }
        w->reply.len = 0;
        w->reply.off = 0;
        if (l->svc->dgram->datagram(l->svc->cfg, scratch, (size_t)n, &w->reply) < 0)
            continue;
        if (w->reply.len == 0 || len == 0 ||
            (ss.ss_family == AF_UNIX && len <= sizeof(sa_family_t)))
            continue; /* nothing to say, or an unbound Unix peer cannot be answered */
        /* Datagram sockets drop rather than block: a full send buffer loses
         * this reply, as UDP may. */
        if (sendto(fd, sk_buf_head(&w->reply), w->reply.len, MSG_DONTWAIT | MSG_NOSIGNAL,
                   (struct sockaddr *)&ss, len) < 0)
            sk_log_debug("reply dropped: %s", strerror(errno));
    }
}

/* ---- workers and shutdown ----------------------------------------------- */

static void drain_on_timer(sk_loop_t *loop, sk_timer_t *t, void *data)
{
    (void)t;
    struct worker *w = data;
    if (w->nconns > 0)
        sk_log_warn("drain timeout: closing %ld connection%s", w->nconns,
                    w->nconns == 1 ? "" : "s");
    while (w->conns != NULL)
        conn_free(w->conns, "drain timeout");
    sk_loop_stop(loop);
}

static void worker_on_wake(sk_loop_t *loop, void *data)
{
    struct worker *w = data;
    if (w->draining || !atomic_load(&w->srv->stopping))
        return;
    w->draining = true;
    for (size_t i = 0; i < w->srv->nls; i++) {
        struct sk__listener *l = &w->srv->ls[i];
        if (l->owner < 0 || l->owner == w->id)
            sk_loop_io_del(loop, l->fd);
    }
    sk_loop_timer_stop(loop, &w->accept_timer);
    /* Idle connections go now; busy ones finish their reply first. */
    struct conn *c = w->conns;
    while (c != NULL) {
        struct conn *next = c->next;
        if (conn_idle(c))
            conn_free(c, "server draining");
        c = next;
    }
    if (w->nconns == 0) {
        sk_loop_stop(loop);
        return;
    }
    sk_loop_timer_start(loop, &w->drain_timer, w->srv->cfg.drain_timeout_ms);
}

static void tick_on_timer(sk_loop_t *loop, sk_timer_t *t, void *data)
{
    struct worker *w = data;
    for (size_t i = 0; i < w->srv->nsvcs; i++)
        if (w->srv->svcs[i]->worker_tick != NULL && w->svc_state[i] != NULL)
            w->srv->svcs[i]->worker_tick(w->svc_state[i], sk_loop_now(loop));
    sk_loop_timer_start(loop, t, 1000);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    w->rc = sk_loop_run(w->loop);
    return NULL;
}

static int worker_setup(sk_server_t *srv, struct worker *w, int id)
{
    w->srv = srv;
    w->id = id;
    int rc = sk_loop_new(&w->loop, srv->cfg.backend);
    if (rc < 0)
        return rc;
    sk_loop_set_data(w->loop, w);
    sk_loop_on_wake(w->loop, worker_on_wake, w);
    sk_timer_init(&w->accept_timer, accept_on_timer, w);
    sk_timer_init(&w->drain_timer, drain_on_timer, w);
    sk_timer_init(&w->tick_timer, tick_on_timer, w);
    w->svc_state = sk_xcalloc(srv->nsvcs ? srv->nsvcs : 1, sizeof(void *));
    bool ticks = false;
    for (size_t i = 0; i < srv->nsvcs; i++) {
        if (srv->svcs[i]->worker_init != NULL)
            w->svc_state[i] = srv->svcs[i]->worker_init(srv->svcs[i]->cfg);
        ticks |= srv->svcs[i]->worker_tick != NULL;
    }
    if (ticks)
        sk_loop_timer_start(w->loop, &w->tick_timer, 1000);
    for (size_t i = 0; i < srv->nls; i++) {
        struct sk__listener *l = &srv->ls[i];
        if (l->owner >= 0 && l->owner != id)
            continue;
        rc = sk_loop_io_set(w->loop, l->fd, SK_EV_READ,
                            l->stream ? listener_on_accept : dgram_on_read, l);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void worker_teardown(sk_server_t *srv, struct worker *w)
{
    while (w->conns != NULL)
        conn_free(w->conns, "server stopped");
    if (w->svc_state != NULL)
        for (size_t i = 0; i < srv->nsvcs; i++)
            if (srv->svcs[i]->worker_fini != NULL && w->svc_state[i] != NULL)
                srv->svcs[i]->worker_fini(w->svc_state[i]);
    free(w->svc_state);
    sk_buf_fini(&w->reply);
    sk_loop_free(w->loop);
}

void sk_server_shutdown(sk_server_t *srv)
{
    atomic_store(&srv->stopping, true);
    pthread_kill(srv->main_thread, SIGTERM);
}

void sk__server_wait_signal(sk_server_t *srv)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    while (!atomic_load(&srv->stopping)) {
        int sig = 0;
        if (sigwait(&set, &sig) == 0 && (sig == SIGINT || sig == SIGTERM))
            break;
    }
    atomic_store(&srv->stopping, true);
}

static void print_listening(const sk_server_t *srv)
{
    /* One line per bound socket; per-worker duplicates of the same address
     * are one endpoint to the user. */
    for (size_t i = 0; i < srv->nls; i++) {
        if (srv->ls[i].owner > 0)
            continue;
        fprintf(stderr, "listening on %s\n", srv->ls[i].name);
    }
    fflush(stderr);
}

int sk_server_run(sk_server_t *srv)
{
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    /* Workers inherit the mask, so only the main thread's sigwait sees the
     * signals and each worker learns of them through its loop's wake-up. */
    pthread_sigmask(SIG_BLOCK, &set, &old);
    signal(SIGPIPE, SIG_IGN);
    srv->main_thread = pthread_self();

    if (srv->cfg.backend->thread_per_conn) {
        print_listening(srv);
        int rc = sk__server_run_threads(srv);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return rc;
    }

    struct engine eng = {.nworkers = srv->cfg.workers};
    eng.workers = sk_xcalloc((size_t)eng.nworkers, sizeof(*eng.workers));
    srv->engine = &eng;
    int rc = 0;
    int started = 0;
    for (int i = 0; i < eng.nworkers; i++) {
        rc = worker_setup(srv, &eng.workers[i], i);
        if (rc < 0) {
            sk_log_error("cannot start the %s backend: %s", srv->cfg.backend->name,
                         sk_strerror(rc));
            eng.nworkers = i + 1;
            goto out;
        }
    }
    print_listening(srv);
    for (; started < eng.nworkers; started++) {
        if (pthread_create(&eng.workers[started].tid, NULL, worker_main, &eng.workers[started]) !=
            0) {
            rc = -EAGAIN;
            sk_log_error("cannot start worker thread %d", started);
            break;
        }
    }
    if (rc == 0)
        sk__server_wait_signal(srv);
    atomic_store(&srv->stopping, true);
    for (int i = 0; i < started; i++)
        sk_loop_wake(eng.workers[i].loop);
    for (int i = 0; i < started; i++) {
        pthread_join(eng.workers[i].tid, NULL);
        if (eng.workers[i].rc < 0 && rc == 0)
            rc = eng.workers[i].rc;
    }
out:
    for (int i = 0; i < eng.nworkers; i++)
        if (eng.workers[i].loop != NULL)
            worker_teardown(srv, &eng.workers[i]);
    free(eng.workers);
    srv->engine = NULL;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}
