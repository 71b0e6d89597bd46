/* broadcast.h -- the UDP broadcast sender behind `sockkit broadcast`: one
 * IPv4 datagram socket with SO_BROADCAST, sending a message to the limited
 * broadcast address (255.255.255.255) or a subnet's broadcast address. */
#ifndef SK_CLIENT_BROADCAST_H
#define SK_CLIENT_BROADCAST_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/sockopt.h"

typedef struct sk_broadcast_opts {
    const char *to;                /* IPv4 address or name; NULL: 255.255.255.255 */
    uint16_t port;                 /* destination port (1-65535) */
    long count;                    /* datagrams to send (>= 1) */
    unsigned interval_ms;          /* pause between two of them */
    const sk_sockopts_t *sockopts; /* -o options, may be NULL */
    int verbose;                   /* report each datagram sent */
} sk_broadcast_opts_t;

/* Sends len bytes of msg count times. Returns the number sent (count), or
 * a negative code with err filled naming the destination and the cause
 * ("network is unreachable": no route for that broadcast address). */
long sk_broadcast_send(const sk_broadcast_opts_t *o, const void *msg, size_t len,
                       struct sk_err *err);

#endif
