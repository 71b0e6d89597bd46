/*
 * msg-floor.c -- the floor for bench/msg-ping.sh: the least a framed ping
 * server can do. One thread, epoll, a 64 KiB read per wake-up, every whole
 * frame answered with {"id":ID,"ok":true} where ID is copied from the text
 * after "id": without parsing any JSON, one write per read. No validation,
 * no back-pressure, no limits: it is a measuring stick for the cost of the
 * kernel and the framing, not a server. Stand-alone (bench-ep.h only).
 *
 * Usage: msg-floor EP      (tcp:HOST:PORT with port 0 allowed, or unix:PATH)
 * Prints "listening on EP" on stderr with the real port, like sockkit.
 */
#define _GNU_SOURCE /* memmem, accept4 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "bench-ep.h"

#define BUF (64 * 1024)

struct conn {
    int fd;
    size_t len;
    char in[BUF];
    char out[BUF * 2];
};

static int listen_on(const struct bench_ep *ep)
{
    int fd;
    if (ep->is_unix) {
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        unlink(ep->sun.sun_path);
        if (bind(fd, (const struct sockaddr *)&ep->sun, ep->sun_len) < 0 || listen(fd, 128) < 0) {
            perror("bind");
            exit(1);
        }
        fprintf(stderr, "listening on unix:%s\n", ep->sun.sun_path);
        return fd;
    }
    struct addrinfo *ai;
    if (bench_ep_resolve(ep, true, &ai) < 0)
        exit(1);
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
        perror("bind");
        exit(1);
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    int port = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                       : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    fprintf(stderr, "listening on tcp://%s:%d\n", ep->host, port);
    return fd;
}

/* Answers the whole frames in c->in; returns bytes of reply written to out. */
static size_t answer(struct conn *c)
{
    size_t off = 0, o = 0;
    while (c->len - off >= 4 && o + 64 < sizeof(c->out)) {
        const unsigned char *h = (const unsigned char *)c->in + off;
        size_t n = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
        if (n > BUF - 4) {
            c->len = 0; /* not for this floor: drop */
            return o;
        }
        if (c->len - off - 4 < n)
            break;
        const char *p = c->in + off + 4;
        const char *id = memmem(p, n, "\"id\":", 5);
        size_t idlen = 0;
        if (id != NULL) {
            id += 5;
            while (id + idlen < p + n && id[idlen] != ',' && id[idlen] != '}' && idlen < 32)
                idlen++;
        }
        char *r = c->out + o + 4;
        memcpy(r, "{\"id\":", 6);
        memcpy(r + 6, id != NULL ? id : "null", id != NULL ? idlen : 4);
        size_t rl = 6 + (id != NULL ? idlen : 4);
        memcpy(r + rl, ",\"ok\":true}", 11);
        rl += 11;
        c->out[o] = c->out[o + 1] = 0;
        c->out[o + 2] = (char)(rl >> 8);
        c->out[o + 3] = (char)rl;
        o += 4 + rl;
        off += 4 + n;
    }
    memmove(c->in, c->in + off, c->len - off);
    c->len -= off;
    return o;
}

int main(int argc, char **argv)
{
    struct bench_ep ep;
    if (argc != 2 || bench_ep_parse(argv[1], &ep) < 0) {
        fprintf(stderr, "usage: msg-floor tcp:HOST:PORT|unix:PATH\n");
        return 2;
    }
    /* A client that finishes closes with replies still in flight. */
    signal(SIGPIPE, SIG_IGN);
    int lfd = listen_on(&ep);
    int efd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(efd, EPOLL_CTL_ADD, lfd, &ev);
    struct epoll_event evs[128];
    for (;;) {
        int n = epoll_wait(efd, evs, 128, -1);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c == NULL) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                    continue;
                int one = 1;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                c = calloc(1, sizeof(*c));
                c->fd = fd;
                struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(efd, EPOLL_CTL_ADD, fd, &cev);
                continue;
            }
            ssize_t r = read(c->fd, c->in + c->len, BUF - c->len);
            if (r <= 0) {
                close(c->fd);
                free(c);
                continue;
            }
            c->len += (size_t)r;
            size_t o = answer(c);
            /* Blocking socket: the client keeps little in flight. */
            for (size_t w = 0; w < o;) {
                ssize_t k = write(c->fd, c->out + w, o - w);
                if (k < 0 && errno != EINTR)
                    break;
                if (k > 0)
                    w += (size_t)k;
            }
        }
    }
}
