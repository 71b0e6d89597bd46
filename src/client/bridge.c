/* bridge.c -- stdio <-> socket plumbing (see bridge.h). Blocking I/O driven
 * by poll(2): two fds do not need an event loop. */
#include "client/bridge.h"
#include "core/clock.h"

#include <errno.h>
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

static int bridge_stream(int sock, int in_fd, int out_fd, struct sk_err *err)
{
    static char buf[IO_SIZE];
    bool in_open = true, sock_open = true;
    for (;;) {
        /* Once the socket is read to its end only stdin is watched. */
        struct pollfd pfd[2] = {{.fd = sock_open ? sock : -1, .events = POLLIN},
                                {.fd = in_fd, .events = POLLIN}};
        int r = poll(pfd, in_open ? 2 : 1, -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return sk_err_set(err, -errno, "poll: %s", strerror(errno));
        }
        if (pfd[0].revents) {
            ssize_t n = read(sock, buf, sizeof(buf));
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n < 0)
                return sock_error(errno, err, "read");
            if (n == 0) {
                /* The peer is done sending. Piped input still goes out (the
                 * peer may only have half-closed, as we do); a terminal has
                 * no end, so the session ends here. */
                if (!in_open || isatty(in_fd))
                    return 0;
                sock_open = false;
                continue;
            }
            int rc = write_all(out_fd, buf, (size_t)n);
            if (rc < 0)
                return sk_err_set(err, rc, "writing output: %s", strerror(-rc));
        }
        if (in_open && pfd[1].revents) {
            ssize_t n = read(in_fd, buf, sizeof(buf));
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n <= 0) {
                /* End of input: half-close so the peer sees EOF, and keep
                 * printing what it still sends. */
                in_open = false;
                shutdown(sock, SHUT_WR);
                if (!sock_open)
                    return 0;
                continue;
            }
            int rc = write_all(sock, buf, (size_t)n);
            if (rc < 0)
                return sock_error(-rc, err, "write");
        }
    }
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

int sk_bridge_run(int sock, int in_fd, int out_fd, const sk_bridge_opts_t *o, struct sk_err *err)
{
    if (o->datagram)
        return bridge_dgram(sock, in_fd, out_fd, o, err);
    return bridge_stream(sock, in_fd, out_fd, err);
}
