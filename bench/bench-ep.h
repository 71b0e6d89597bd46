/*
 * bench-ep.h -- endpoint parsing shared by the stand-alone bench tools
 * (pingpong.c, echo-floor.c). Deliberately independent of src/ so the kernel
 * floor never depends on the code it is compared with. Accepted forms:
 * tcp:HOST:PORT, tcp://HOST:PORT, HOST:PORT ([IPv6] allowed), unix:PATH and
 * unix:@NAME (Linux abstract namespace).
 */
#ifndef BENCH_EP_H
#define BENCH_EP_H

#include <netdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

struct bench_ep {
    bool is_unix;
    char host[256];
    char port[16];
    struct sockaddr_un sun; /* Filled for unix endpoints. */
    socklen_t sun_len;
};

/*
 * Parses TEXT into EP. Returns 0, or -1 after printing which part is wrong
 * to stderr (these are command-line tools, so a message is all we need).
 */
static int bench_ep_parse(const char *text, struct bench_ep *ep)
{
    memset(ep, 0, sizeof(*ep));
    if (strncmp(text, "unix:", 5) == 0) {
        const char *path = text + 5;
        size_t len = strlen(path);
        if (len == 0 || len >= sizeof(ep->sun.sun_path)) {
            fprintf(stderr, "%s: unix path is empty or longer than %zu bytes\n", text,
                    sizeof(ep->sun.sun_path) - 1);
            return -1;
        }
        ep->is_unix = true;
        ep->sun.sun_family = AF_UNIX;
        memcpy(ep->sun.sun_path, path, len);
        /* An abstract name starts with NUL and its length is exact, not NUL-terminated. */
        if (path[0] == '@')
            ep->sun.sun_path[0] = '\0';
        ep->sun_len =
            (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '@' ? 0 : 1));
        return 0;
    }

    const char *hp = text;
    if (strncmp(hp, "tcp://", 6) == 0)
        hp += 6;
    else if (strncmp(hp, "tcp:", 4) == 0)
        hp += 4;

    const char *colon;
    const char *host = hp;
    size_t host_len;
    if (hp[0] == '[') {
        const char *end = strchr(hp, ']');
        if (end == NULL || end[1] != ':') {
            fprintf(stderr, "%s: expected [IPv6]:PORT\n", text);
            return -1;
        }
        host = hp + 1;
        host_len = (size_t)(end - host);
        colon = end + 1;
    } else {
        colon = strrchr(hp, ':');
        if (colon == NULL) {
            fprintf(stderr, "%s: expected tcp:HOST:PORT or unix:PATH\n", text);
            return -1;
        }
        host_len = (size_t)(colon - hp);
    }
    const char *port = colon + 1;
    size_t port_len = strlen(port);
    if (port_len == 0 || port_len >= sizeof(ep->port) || strspn(port, "0123456789") != port_len) {
        fprintf(stderr, "%s: port '%s' is not a number\n", text, port);
        return -1;
    }
    if (host_len >= sizeof(ep->host)) {
        fprintf(stderr, "%s: host is too long\n", text);
        return -1;
    }
    memcpy(ep->host, host, host_len);
    memcpy(ep->port, port, port_len);
    return 0;
}

/*
 * Resolves a TCP endpoint with getaddrinfo(). An empty host means all
 * interfaces when PASSIVE is true. Returns 0 and a list to free with
 * freeaddrinfo(), or -1 after printing the resolver's message.
 */
static int bench_ep_resolve(const struct bench_ep *ep, bool passive, struct addrinfo **out)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    int rc = getaddrinfo(ep->host[0] ? ep->host : NULL, ep->port, &hints, out);
    if (rc != 0) {
        fprintf(stderr, "%s:%s: %s\n", ep->host, ep->port, gai_strerror(rc));
        return -1;
    }
    return 0;
}

#endif
