/* endpoint.h -- the endpoint syntax shared by every command, and the
 * socket set-up behind it: parse, resolve, listen/bind, connect.
 *
 *   HOST:PORT, tcp://HOST:PORT   TCP (HOST: name, IPv4, or [IPv6])
 *   :PORT, tcp://:PORT           all interfaces, dual-stack
 *   udp://HOST:PORT, udp://:PORT UDP
 *   unix:PATH, unix:@NAME        Unix stream (path or abstract name)
 *   unixgram:PATH, unixgram:@NAME Unix datagram
 *   tls://HOST:PORT              TCP with TLS
 */
#ifndef SK_CORE_ENDPOINT_H
#define SK_CORE_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "core/error.h"
#include "core/sockopt.h"

enum sk_ep_transport {
    SK_TRANSPORT_TCP,
    SK_TRANSPORT_UDP,
    SK_TRANSPORT_UNIX,
    SK_TRANSPORT_UNIXGRAM,
    SK_TRANSPORT_TLS
};

typedef struct sk_endpoint {
    enum sk_ep_transport transport;
    char host[256];  /* name or address without brackets; "" = any (":PORT") */
    bool host_is_v6; /* host was written as [IPv6] */
    uint16_t port;   /* 0 lets the kernel pick (servers) */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* Unix: path or abstract name */
    bool abstract; /* unix:@NAME: path holds NAME without the '@' */
} sk_endpoint_t;

/* One resolved socket address. */
typedef struct sk_addr {
    struct sockaddr_storage ss;
    socklen_t len;
} sk_addr_t;

/* Parses s into ep. On a malformed endpoint returns SK_EUSAGE and fills err
 * with a message naming the bad part ("port 99999 out of range"). */
int sk_endpoint_parse(sk_endpoint_t *ep, const char *s, struct sk_err *err);

/* True for tcp, unix and tls (stream sockets). */
bool sk_endpoint_is_stream(const sk_endpoint_t *ep);

/* The socket type for ep: SOCK_STREAM or SOCK_DGRAM. */
int sk_endpoint_socktype(const sk_endpoint_t *ep);

/* Formats ep in the endpoint syntax (round-trips through parse). Returns
 * the length, like snprintf. */
int sk_endpoint_format(const sk_endpoint_t *ep, char *buf, size_t n);

/* Formats a socket address as an endpoint of the given transport:
 * "tcp://127.0.0.1:8080", "udp://[::1]:53", "unix:/run/x.sock",
 * "unix:@name". Returns the length, like snprintf. */
int sk_addr_format(enum sk_ep_transport t, const struct sockaddr *sa, socklen_t len, char *buf,
                   size_t n);

/* Formats only "HOST:PORT" / "[V6]:PORT" / the Unix path of a peer, for
 * logs. Returns the length, like snprintf. */
int sk_addr_format_peer(const struct sockaddr *sa, socklen_t len, char *buf, size_t n);

/* Resolves ep to every address (all of IPv4 and IPv6 for a name). family is
 * AF_UNSPEC, AF_INET or AF_INET6 (-4/-6). passive: for bind (":PORT" gives
 * [::] then 0.0.0.0). Returns the count with *out owned (free()), or a
 * negative code with err filled ("name not found: foo"). */
int sk_endpoint_resolve(const sk_endpoint_t *ep, int family, bool passive, sk_addr_t **out,
                        struct sk_err *err);

/* Options for sk_endpoint_listen. */
typedef struct sk_listen_opts {
    int backlog;                   /* 0 means SOMAXCONN */
    unsigned mode;                 /* Unix path permissions; 0 means 0600 */
    bool reuseport;                /* set SO_REUSEPORT (one listener per worker) */
    const sk_sockopts_t *sockopts; /* -o options, may be NULL */
} sk_listen_opts_t;

/* Creates non-blocking, close-on-exec sockets bound to ep (listening for
 * streams). ":PORT" is one dual-stack [::] socket with IPV6_V6ONLY=0,
 * falling back to 0.0.0.0 where IPv6 is off; a name that resolves to
 * several addresses gets one socket each, all on the same port. A Unix path
 * whose socket file is stale (nothing accepts on it) is removed first; a
 * live one is an error (-EADDRINUSE). Servers starting on one Unix path
 * are serialised by an flock on PATH.lock (removed once listening), and
 * the file's mode (o->mode) is exact from bind on. Stores up to max fds in fds and
 * returns the count, or a negative code with err filled. */
int sk_endpoint_listen(const sk_endpoint_t *ep, const sk_listen_opts_t *o, int *fds, size_t max,
                       struct sk_err *err);

/* Options for sk_endpoint_connect. */
typedef struct sk_connect_opts {
    int family;                    /* AF_UNSPEC, AF_INET, AF_INET6 */
    int timeout_ms;                /* per address; <= 0 means no limit */
    bool nonblock;                 /* leave the socket non-blocking */
    const sk_sockopts_t *sockopts; /* may be NULL */
    /* Called for each address tried, for -v ("trying 127.0.0.1:80"). */
    void (*on_attempt)(void *ctx, const sk_addr_t *addr, int result, uint64_t elapsed_us);
    void *ctx;
} sk_connect_opts_t;

/* Connects to ep, trying every resolved address in order. A unixgram
 * client socket is auto-bound to an abstract address so the server can
 * reply. Returns the fd (close-on-exec, blocking unless o->nonblock) or a
 * negative code with err filled: "connection refused", "timed out",
 * "no route to host", "name not found". */
int sk_endpoint_connect(const sk_endpoint_t *ep, const sk_connect_opts_t *o, struct sk_err *err);

/* Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft
 * limit. */
long sk_raise_nofile(void);

#endif
