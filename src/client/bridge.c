/* bridge.c -- stdio <-> socket plumbing (see bridge.h). Blocking I/O driven
 * by poll(2): two fds do not need an event loop. */
#include "client/bridge.h"
#include "core/clock.h"
#include "core/loop.h"

#include "config.h"
#ifdef SK_HAVE_OPENSSL
#include "tls/tls.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define IO_SIZE 65536

/* Writes all n bytes, retrying short writes. Returns 0 or -errno. */
static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                struct pollfd pfd = {.fd = fd, .events = POLLOUT};
                poll(&pfd, 1, -1);
                continue;
            }
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int sock_error(int e, struct sk_err *err, const char *what)
{
    if (e == ECONNRESET)
        return sk_err_set(err, -e, "connection reset by peer");
    if (e == ECONNREFUSED)
        return sk_err_set(err, -e, "connection refused (nothing listening on the peer's port)");
    return sk_err_set(err, -e, "%s: %s", what, strerror(e));
}

/* The plain-words reason a transport op failed: TLS knows better than
 * errno ("certificate has expired", "connection reset by peer"). */
static int transport_error(sk_transport_t *t, int rc, struct sk_err *err, const char *what)
{
#ifdef SK_HAVE_OPENSSL
    const char *why = sk_tls_error(t);
    if (why != NULL)
        return sk_err_set(err, rc, "%s", why);
#else
    (void)t;
#endif
    if (rc > -4000)
        return sock_error(-rc, err, what);
    return sk_err_set(err, rc, "%s: %s", what, sk_strerror(rc));
}

/* Streams go through the transport (plain or TLS) on a non-blocking
 * socket: stdin is read only while nothing is queued for the peer, so a
 * slow peer holds back the input instead of growing a buffer. */
/* Sends what q holds and, once it is empty after the end of input, ends
 * our direction (FIN, or close_notify for TLS) so the peer sees the end
 * while we keep printing what it still sends. Returns 1 when the bridge is
 * done (our end sent and the peer's seen), 0 to go on, or a negative code
 * with err filled. */
static int send_pending(sk_transport_t *t, sk_outq_t *q, bool *shut_pending, bool sock_open,
                        struct sk_err *err)
{
    while (!sk_outq_empty(q)) {
        ssize_t n = t->ops->write(t, q);
        if (n == -EAGAIN)
            break;
        if (n < 0)
            return transport_error(t, (int)n, err, "write");
    }
    if (*shut_pending && sk_outq_empty(q)) {
        if (t->ops->shutdown(t) != -EAGAIN)
            *shut_pending = false;
        if (!*shut_pending && !sock_open)
            return 1;
    }
    return 0;
}

static int bridge_stream(sk_transport_t *t, int in_fd, int out_fd, struct sk_err *err)
{
    static char buf[IO_SIZE];
    int fl = fcntl(t->fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK))
        fcntl(t->fd, F_SETFL, fl | O_NONBLOCK);
    sk_outq_t q;
    sk_outq_init(&q);
    bool in_open = true, sock_open = true, shut_pending = false;
    int rc = 0;
    for (;;) {
        bool out_busy = !sk_outq_empty(&q) || shut_pending;
        bool watch_in = in_open && !out_busy;
        short ev = (short)((sock_open ? POLLIN : 0) | (out_busy ? POLLOUT : 0) |
                           ((t->want & SK_EV_READ) ? POLLIN : 0) |
                           ((t->want & SK_EV_WRITE) ? POLLOUT : 0));
        if (!sock_open && !in_open && !out_busy)
            break;
        struct pollfd pfd[2] = {{.fd = t->fd, .events = ev},
                                {.fd = watch_in ? in_fd : -1, .events = POLLIN}};
        bool pending = t->ops->pending != NULL && t->ops->pending(t);
        int r = pending ? 1 : poll(pfd, 2, -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = sk_err_set(err, -errno, "poll: %s", strerror(errno));
            break;
        }
        if (pfd[0].revents || pending) {
            /* Everything readable now, including plaintext the transport
             * already holds. */
            while (sock_open) {
                ssize_t n = t->ops->read(t, buf, sizeof(buf));
                if (n == -EAGAIN)
                    break;
                if (n < 0) {
                    rc = transport_error(t, (int)n, err, "read");
                    goto out;
                }
                if (n == 0) {
                    /* The peer is done sending. Piped input still goes out
                     * (the peer may only have half-closed, as we do); a
                     * terminal has no end, so the session ends here. */
                    if (!in_open || isatty(in_fd))
                        goto out;
                    sock_open = false;
                    break;
                }
                int w = write_all(out_fd, buf, (size_t)n);
                if (w < 0) {
                    rc = sk_err_set(err, w, "writing output: %s", strerror(-w));
                    goto out;
                }
            }
            int sent = send_pending(t, &q, &shut_pending, sock_open, err);
            if (sent != 0) {
                rc = sent < 0 ? sent : 0;
                goto out;
            }
        }
        if (watch_in && pfd[1].revents) {
            ssize_t n = read(in_fd, buf, sizeof(buf));
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n <= 0) {
                in_open = false;
                shut_pending = true;
            } else if (sk_outq_append(&q, buf, (size_t)n) < 0) {
                rc = sk_err_set(err, -ENOMEM, "out of memory");
                break;
            }
            /* Send at once instead of waiting for poll to say writable:
             * the socket almost always is. */
            int sent = send_pending(t, &q, &shut_pending, sock_open, err);
            if (sent != 0) {
                rc = sent < 0 ? sent : 0;
                goto out;
            }
        }
    }
out:
    sk_outq_clear(&q);
    return rc;
}

struct dgram_state {
    int sock;
    const sk_bridge_opts_t *o;
    struct sockaddr_storage peer; /* last sender, for unconnected sockets */
    socklen_t peer_len;
    char line[IO_SIZE];
    size_t line_len;
};

static int send_datagram(struct dgram_state *s, const char *p, size_t n, struct sk_err *err)
{
    ssize_t w;
    if (s->peer_len > 0)
        w = sendto(s->sock, p, n, MSG_NOSIGNAL, (struct sockaddr *)&s->peer, s->peer_len);
    else
        w = send(s->sock, p, n, MSG_NOSIGNAL);
    if (w < 0) {
        if (errno == EDESTADDRREQ || errno == ENOTCONN) {
            fprintf(stderr, "sockkit: no peer yet; input dropped\n");
            return 0;
        }
        return sock_error(errno, err, "send");
    }
    return 0;
}

/* Splits input into lines (each datagram keeps its newline, as nc does). */
static int feed_input(struct dgram_state *s, const char *p, size_t n, bool eof, struct sk_err *err)
{
    if (s->o->per_read)
        return n > 0 ? send_datagram(s, p, n, err) : 0;
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl != NULL ? (size_t)(nl - p) + 1 : n;
        if (s->line_len + take > sizeof(s->line)) {
            /* A line longer than a datagram can carry goes out in pieces. */
            int rc = send_datagram(s, s->line, s->line_len, err);
            if (rc < 0)
                return rc;
            s->line_len = 0;
            if (take > sizeof(s->line))
                take = sizeof(s->line);
        }
        memcpy(s->line + s->line_len, p, take);
        s->line_len += take;
        p += take;
        n -= take;
        if (nl != NULL && take > 0 && s->line[s->line_len - 1] == '\n') {
            int rc = send_datagram(s, s->line, s->line_len, err);
            if (rc < 0)
                return rc;
            s->line_len = 0;
        }
    }
    if (eof && s->line_len > 0) {
        int rc = send_datagram(s, s->line, s->line_len, err);
        s->line_len = 0;
        return rc;
    }
    return 0;
}

static int bridge_dgram(int sock, int in_fd, int out_fd, const sk_bridge_opts_t *o,
                        struct sk_err *err)
{
    static struct dgram_state s;
    static char buf[IO_SIZE];
    memset(&s, 0, sizeof(s));
    s.sock = sock;
    s.o = o;
    bool in_open = in_fd >= 0;
    long received = 0;
    uint64_t deadline = 0;
    /* Asked once: a connected socket (the client) never changes peer. */
    struct sockaddr_storage peer;
    socklen_t plen = sizeof(peer);
    bool connected = getpeername(sock, (struct sockaddr *)&peer, &plen) == 0;
    for (;;) {
        int timeout = -1;
        if (!in_open && o->reply_wait_ms >= 0) {
            uint64_t now = sk_clock_ms();
            if (now >= deadline)
                return 0;
            timeout = (int)(deadline - now);
        }
        struct pollfd pfd[2] = {{.fd = sock, .events = POLLIN}, {.fd = in_fd, .events = POLLIN}};
        int r = poll(pfd, in_open ? 2 : 1, timeout);
        if (r < 0 && errno != EINTR)
            return sk_err_set(err, -errno, "poll: %s", strerror(errno));
        if (r <= 0)
            continue;
        if (pfd[0].revents) {
            struct sockaddr_storage from;
            socklen_t flen = sizeof(from);
            ssize_t n = recvfrom(sock, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n < 0)
                return sock_error(errno, err, "recv");
            if (o->show_from) {
                char name[160] = "unknown";
                if (flen > sizeof(sa_family_t))
                    sk_addr_format(o->transport, (struct sockaddr *)&from, flen, name,
                                   sizeof(name));
                dprintf(out_fd, "%s\t", name);
            }
            int rc = write_all(out_fd, buf, (size_t)n);
            if (rc < 0)
                return sk_err_set(err, rc, "writing output: %s", strerror(-rc));
            if (o->show_from && (n == 0 || buf[n - 1] != '\n'))
                write_all(out_fd, "\n", 1);
            /* Unconnected (listening) sockets answer whoever spoke last. */
            if (!connected && flen > sizeof(sa_family_t)) {
                memcpy(&s.peer, &from, flen);
                s.peer_len = flen;
            }
            if (o->max_datagrams > 0 && ++received >= o->max_datagrams)
                return 0;
            if (!in_open && o->reply_wait_ms >= 0)
                deadline = sk_clock_ms() + (uint64_t)o->reply_wait_ms;
        }
        if (in_open && pfd[1].revents) {
            ssize_t n = read(in_fd, buf, sizeof(buf));
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            bool eof = n <= 0;
            int rc = feed_input(&s, buf, eof ? 0 : (size_t)n, eof, err);
            if (rc < 0)
                return rc;
            if (eof) {
                in_open = false;
                deadline = sk_clock_ms() + (uint64_t)(o->reply_wait_ms > 0 ? o->reply_wait_ms : 0);
            }
        }
    }
}

int sk_bridge_run(int sock, sk_transport_t *t, int in_fd, int out_fd, const sk_bridge_opts_t *o,
                  struct sk_err *err)
{
    if (o->datagram)
        return bridge_dgram(sock, in_fd, out_fd, o, err);
    sk_transport_t plain;
    if (t == NULL) {
        sk_transport_plain_init(&plain, sock);
        t = &plain;
    }
    return bridge_stream(t, in_fd, out_fd, err);
}
