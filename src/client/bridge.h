/* bridge.h -- stdio <-> socket plumbing for `connect` and `listen`, the
 * netcat part of sockkit. Streams half-close on end of input; datagrams go
 * one per line (or per read). */
#ifndef SK_CLIENT_BRIDGE_H
#define SK_CLIENT_BRIDGE_H

#include <stdbool.h>

#include "core/endpoint.h"
#include "core/error.h"
#include "core/transport.h"

typedef struct sk_bridge_opts {
    bool datagram;     /* the socket is SOCK_DGRAM */
    bool per_read;     /* datagram: one per read() instead of one per line */
    int reply_wait_ms; /* datagram: after end of input, wait this long for
                          replies (reset by each reply); < 0 = forever */
    bool show_from;    /* datagram: prefix each datagram with its sender */
    enum sk_ep_transport transport;
    long max_datagrams; /* stop after receiving this many; 0 = no limit */
} sk_bridge_opts_t;

/* Copies in_fd to sock and sock to out_fd until the peer closes (streams)
 * or input ends and replies stop (datagrams). Streams go through t (plain
 * or TLS; NULL: plain on sock, which t then borrows and makes
 * non-blocking). A stream is half-closed at end of input (SHUT_WR, or
 * close_notify then SHUT_WR for TLS) and its output still printed until
 * the peer closes. An unconnected datagram socket answers the most recent
 * sender. Returns 0, or a negative code with err filled ("connection reset
 * by peer", "certificate has expired"). */
int sk_bridge_run(int sock, sk_transport_t *t, int in_fd, int out_fd, const sk_bridge_opts_t *o,
                  struct sk_err *err);

#endif
