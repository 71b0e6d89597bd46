/*
 * echo-floor.c -- the kernel floor for round-trip benchmarks: the least work
 * a stream echo server can do (blocking accept, read, write-all; no event
 * loop, no buffering policy). bench/rtt-echo.sh compares sockkit's echo
 * server with this one under the same pinning.
 *
 * Usage: echo-floor [-f] tcp:HOST:PORT | unix:PATH
 * With port 0 the kernel picks one. Once it accepts connections it prints
 * "listening on tcp://HOST:PORT" or "listening on unix:PATH" on stderr, the
 * same line sockkit prints, so one parser serves both.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-ep.h"

/* The bound Unix path, removed on SIGTERM/SIGINT so runs leave no files behind. */
static char unlink_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static void on_term(int sig)
{
    (void)sig;
    if (unlink_path[0] != '\0')
        unlink(unlink_path);
    _exit(0);
}

/* Echoes everything until EOF or an error; the peer decides when it ends. */
static void serve_conn(int fd)
{
    static char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return;
            off += w;
        }
    }
}

static int listen_unix(const struct bench_ep *ep)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("socket");
        return -1;
    }
    const char *path = ep->sun.sun_path;
    if (path[0] != '\0') {
        /* Replace a stale socket file, but never some other kind of file. */
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(path);
    }
    if (bind(fd, (const struct sockaddr *)&ep->sun, ep->sun_len) < 0 || listen(fd, 128) < 0) {
        fprintf(stderr, "echo-floor: bind/listen unix:%s: %s\n", path[0] ? path : path + 1,
                strerror(errno));
        close(fd);
        return -1;
    }
    if (path[0] != '\0')
        memcpy(unlink_path, path, strlen(path) + 1);
    fprintf(stderr, "listening on unix:%s%s\n", path[0] ? "" : "@", path[0] ? path : path + 1);
    return fd;
}

static int listen_tcp(const struct bench_ep *ep)
{
    struct addrinfo *list;
    if (bench_ep_resolve(ep, true, &list) < 0)
        return -1;
    int fd = -1;
    int err = 0;
    for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(list);
    if (fd < 0) {
        fprintf(stderr, "echo-floor: bind/listen %s:%s: %s\n", ep->host, ep->port, strerror(err));
        return -1;
    }

    /* Report the real address, which matters when the kernel picked the port. */
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
            port = ntohs(s6->sin6_port);
            fprintf(stderr, "listening on tcp://[%s]:%u\n", host, port);
            return fd;
        }
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
        port = ntohs(s4->sin_port);
    }
    fprintf(stderr, "listening on tcp://%s:%u\n", host, port);
    return fd;
}

int main(int argc, char **argv)
{
    bool fork_per_conn = false;
    int c;
    while ((c = getopt(argc, argv, "fh")) != -1) {
        if (c == 'f') {
            fork_per_conn = true;
            continue;
        }
        fprintf(c == 'h' ? stdout : stderr,
                "usage: echo-floor [-f] tcp:HOST:PORT | unix:PATH\n"
                "  -f   fork a child per connection (default: one connection at a time)\n");
        return c == 'h' ? 0 : 2;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: echo-floor [-f] tcp:HOST:PORT | unix:PATH\n");
        return 2;
    }
    struct bench_ep ep;
    if (bench_ep_parse(argv[optind], &ep) < 0)
        return 2;

    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    /* Children are reaped by the kernel; the floor has no use for their status. */
    if (fork_per_conn)
        signal(SIGCHLD, SIG_IGN);

    int lfd = ep.is_unix ? listen_unix(&ep) : listen_tcp(&ep);
    if (lfd < 0)
        return 1;

    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            perror("accept");
            return 1;
        }
        if (!ep.is_unix) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        if (!fork_per_conn) {
            serve_conn(fd);
            close(fd);
            continue;
        }
        pid_t pid = fork();
        if (pid == 0) {
            /* The child must not unlink the parent's socket file when it ends. */
            unlink_path[0] = '\0';
            close(lfd);
            serve_conn(fd);
            _exit(0);
        }
        if (pid < 0)
            perror("fork");
        close(fd);
    }
}
