/*
 * msg-ping.c -- pipelined load for `sockkit serve msg`: C connections, each
 * keeping D framed {"op":"ping","id":N} requests in flight, for S seconds.
 * Every reply is checked: its id must be the next one sent on that
 * connection and it must say "ok":true, so a wrong answer fails the run
 * instead of counting. Stand-alone (bench-ep.h only) so the load generator
 * does not share code with the server it measures.
 *
 * Usage: msg-ping [-c CONNS] [-D DEPTH] [-d SECS] [-n] [--json] EP
 *        EP is tcp:HOST:PORT, HOST:PORT, unix:PATH or unix:@NAME.
 *        -n sends {"op":"ping","id":N,"trace":{"hop":1}}: a nested value, so
 *        `serve msg` parses it with jansson instead of its flat fast path.
 * Output: one line "conns= depth= secs= requests= req_per_s= errors=", or
 * a JSON object with --json. Exit 1 on any error.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "bench-ep.h"

#define IN_CAP (256 * 1024)

static int nested; /* -n */

struct conn {
    int fd;
    uint64_t next_send, next_recv; /* ids */
    char *out;
    size_t out_off, out_len;
    char *in;
    size_t in_len;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(const struct bench_ep *ep)
{
    if (ep->is_unix) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (const struct sockaddr *)&ep->sun, ep->sun_len) == 0)
            return fd;
        perror("connect");
        return -1;
    }
    struct addrinfo *ai;
    if (bench_ep_resolve(ep, false, &ai) < 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = ai; a != NULL; a = a->ai_next) {
        fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        perror("connect");
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* Queues pings until depth are in flight. The socket stays blocking: at
 * most depth requests (under 48 KiB) are ever unanswered, less than the
 * socket buffers hold, so a write cannot wait on a server that waits on
 * us. */
static void refill(struct conn *c, uint64_t depth)
{
    memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
    c->out_len -= c->out_off;
    c->out_off = 0;
    while (c->next_send - c->next_recv < depth) {
        char *p = c->out + c->out_len;
        int n = sprintf(p + 4,
                        nested ? "{\"op\":\"ping\",\"id\":%llu,\"trace\":{\"hop\":1}}"
                               : "{\"op\":\"ping\",\"id\":%llu}",
                        (unsigned long long)c->next_send);
        p[0] = p[1] = 0;
        p[2] = (char)(n >> 8);
        p[3] = (char)n;
        c->out_len += 4 + (size_t)n;
        c->next_send++;
    }
}

static int flush(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0)
            return errno == EAGAIN ? 0 : -1;
        c->out_off += (size_t)n;
    }
    return 0;
}

/* Consumes whole reply frames; returns how many, or -1 on a wrong one. */
static long consume(struct conn *c)
{
    size_t off = 0;
    long got = 0;
    while (c->in_len - off >= 4) {
        const unsigned char *h = (const unsigned char *)c->in + off;
        size_t n = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
        if (n > IN_CAP - 4) {
            fprintf(stderr, "reply frame of %zu bytes\n", n);
            return -1;
        }
        if (c->in_len - off - 4 < n)
            break;
        char want[64];
        int wn = snprintf(want, sizeof(want), "{\"id\":%llu,\"ok\":true",
                          (unsigned long long)c->next_recv);
        if (n < (size_t)wn || memcmp(c->in + off + 4, want, (size_t)wn) != 0) {
            fprintf(stderr, "unexpected reply (wanted id %llu): %.*s\n",
                    (unsigned long long)c->next_recv, (int)(n < 200 ? n : 200), c->in + off + 4);
            return -1;
        }
        c->next_recv++;
        got++;
        off += 4 + n;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    return got;
}

int main(int argc, char **argv)
{
    long conns = 1, depth = 64;
    double secs = 5;
    int json = 0;
    const char *eptext = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            conns = atol(argv[++i]);
        else if (strcmp(argv[i], "-D") == 0 && i + 1 < argc)
            depth = atol(argv[++i]);
        else if (strcmp(argv[i], "-d") == 0 && i + 1 < argc)
            secs = atof(argv[++i]);
        else if (strcmp(argv[i], "-n") == 0)
            nested = 1;
        else if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (argv[i][0] != '-' && eptext == NULL)
            eptext = argv[i];
        else {
            fprintf(stderr, "usage: msg-ping [-c CONNS] [-D DEPTH] [-d SECS] [-n] [--json] EP\n");
            return 2;
        }
    }
    if (eptext == NULL || conns < 1 || conns > 10000 || depth < 1 || depth > 1024 || secs <= 0 ||
        secs > 3600) {
        fprintf(stderr, "usage: msg-ping [-c 1..10000] [-D 1..1024] [-d SECS<=3600] EP\n");
        return 2;
    }
    struct bench_ep ep;
    if (bench_ep_parse(eptext, &ep) < 0)
        return 2;
    int ep_fd = epoll_create1(EPOLL_CLOEXEC);
    struct conn *cs = calloc((size_t)conns, sizeof(*cs));
    for (long i = 0; i < conns; i++) {
        cs[i].fd = dial(&ep);
        if (cs[i].fd < 0)
            return 1;
        cs[i].out = malloc((size_t)depth * 72 + 64);
        cs[i].in = malloc(IN_CAP);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
        epoll_ctl(ep_fd, EPOLL_CTL_ADD, cs[i].fd, &ev);
    }
    long errors = 0;
    uint64_t total = 0;
    double start = now_s(), end = start + secs;
    for (long i = 0; i < conns; i++) {
        refill(&cs[i], (uint64_t)depth);
        if (flush(&cs[i]) < 0)
            errors++;
    }
    struct epoll_event evs[256];
    while (errors == 0) {
        double t = now_s();
        if (t >= end)
            break;
        int n = epoll_wait(ep_fd, evs, 256, (int)((end - t) * 1000) + 1);
        for (int k = 0; k < n && errors == 0; k++) {
            struct conn *c = evs[k].data.ptr;
            ssize_t r = read(c->fd, c->in + c->in_len, IN_CAP - c->in_len);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN)
                    continue;
                fprintf(stderr, "server closed or failed: %s\n", r == 0 ? "EOF" : strerror(errno));
                errors++;
                break;
            }
            c->in_len += (size_t)r;
            long got = consume(c);
            if (got < 0) {
                errors++;
                break;
            }
            total += (uint64_t)got;
            /* Refill once a quarter of the window is answered: fewer,
             * larger writes, as a pipelining client would batch. */
            if (c->next_send - c->next_recv <= (uint64_t)(depth - depth / 4)) {
                refill(c, (uint64_t)depth);
                if (flush(c) < 0)
                    errors++;
            }
        }
    }
    double elapsed = now_s() - start;
    double rate = (double)total / elapsed;
    if (json)
        printf("{\"conns\":%ld,\"depth\":%ld,\"secs\":%.3f,\"requests\":%llu,\"req_per_s\":%.0f,"
               "\"errors\":%ld}\n",
               conns, depth, elapsed, (unsigned long long)total, rate, errors);
    else
        printf("conns=%ld depth=%ld secs=%.3f requests=%llu req_per_s=%.0f errors=%ld\n", conns,
               depth, elapsed, (unsigned long long)total, rate, errors);
    return errors ? 1 : 0;
}
