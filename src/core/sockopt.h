/* sockopt.h -- the `-o/--sockopt NAME=VALUE` options of the BSD socket API:
 * reuseaddr, reuseport, keepalive (idle/intvl/cnt), nodelay, linger, rcvbuf,
 * sndbuf, v6only, broadcast. Parsed once from the command line, applied to
 * each socket before bind/connect (Linux copies them to accepted sockets). */
#ifndef SK_CORE_SOCKOPT_H
#define SK_CORE_SOCKOPT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

enum sk_sockopt_name {
    SK_SO_REUSEADDR,
    SK_SO_REUSEPORT,
    SK_SO_KEEPALIVE,
    SK_SO_NODELAY,
    SK_SO_LINGER,
    SK_SO_RCVBUF,
    SK_SO_SNDBUF,
    SK_SO_V6ONLY,
    SK_SO_BROADCAST,
};

typedef struct sk_sockopt {
    enum sk_sockopt_name name;
    int value;            /* on/off, bytes, or linger seconds */
    int idle, intvl, cnt; /* keepalive=IDLE/INTVL/CNT; 0 = kernel default */
} sk_sockopt_t;

#define SK_SOCKOPTS_MAX 16

typedef struct sk_sockopts {
    sk_sockopt_t items[SK_SOCKOPTS_MAX];
    size_t n;
} sk_sockopts_t;

/* Parses "NAME=VALUE" and appends it (a repeated name replaces the earlier
 * one). Values: on/off/1/0/yes/no for flags; bytes with optional K/M
 * suffix for buffers; seconds for linger (off disables); keepalive takes
 * on/off or IDLE/INTVL/CNT. Returns 0 or SK_EUSAGE with err filled. */
int sk_sockopt_parse(sk_sockopts_t *o, const char *spec, struct sk_err *err);

/* True if the set holds option name (and stores it in *out). */
bool sk_sockopt_get(const sk_sockopts_t *o, enum sk_sockopt_name name, sk_sockopt_t *out);

/* Applies the options that fit this socket (family AF_INET/AF_INET6/AF_UNIX,
 * type SOCK_STREAM/SOCK_DGRAM): TCP-only ones are skipped on other sockets,
 * v6only only on AF_INET6. With verbose, logs each value the kernel reports
 * back through getsockopt (it doubles or caps buffer sizes). Returns 0 or a
 * negative errno with err filled naming the option. */
int sk_sockopt_apply(int fd, const sk_sockopts_t *o, int family, int type, bool verbose,
                     struct sk_err *err);

#endif
