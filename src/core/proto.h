/* proto.h -- the seam between I/O drivers and protocol code.
 *
 * A protocol is sans-I/O: it takes bytes and appends bytes (or file ranges)
 * to an output queue. Every driver (epoll, poll, select, io_uring and
 * thread-per-connection) runs the same sk_proto_t, and so do the unit
 * tests and fuzzers. */
#ifndef SK_CORE_PROTO_H
#define SK_CORE_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/buf.h"
#include "core/outq.h"

/* What a protocol sees of its connection on each call. */
typedef struct sk_proto_ctx {
    sk_outq_t *out;              /* append the reply here */
    uint64_t now_ms;             /* monotonic clock, cached per loop iteration */
    bool draining;               /* the server is shutting down: finish and close */
    const struct sockaddr *peer; /* at open only; NULL later */
    socklen_t peer_len;
    void *worker; /* per-worker state of the service, or NULL */
} sk_proto_ctx_t;

/* Results of input()/eof()/drained(): continue, or close after the output
 * queue is flushed. A negative value aborts the connection at once. */
enum { SK_PROTO_OK = 0, SK_PROTO_CLOSE = 1 };

/* A stream protocol. session_size bytes are allocated per connection and
 * zeroed before open(). */
typedef struct sk_proto {
    const char *name;
    size_t session_size;
    /* New connection; cfg is the service's configuration. Returns 0 or a
     * negative errno (the connection is closed). */
    int (*open)(void *sess, void *cfg, sk_proto_ctx_t *ctx);
    /* Consumes a prefix of data (*consumed), appending output to ctx->out.
     * Leaving bytes unconsumed means "incomplete: call again with more";
     * the driver keeps them. Not called while the output queue is above
     * the driver's high-water mark (back-pressure). */
    int (*input)(void *sess, const char *data, size_t len, size_t *consumed, sk_proto_ctx_t *ctx);
    /* The peer half-closed (read returned 0). Optional: NULL closes after
     * flushing. */
    int (*eof)(void *sess, sk_proto_ctx_t *ctx);
    /* The output queue just became empty. Optional. */
    int (*drained)(void *sess, sk_proto_ctx_t *ctx);
    /* The deadline that applies now (absolute, sk_clock_ms time), given
     * the time of the last byte read or written and whether output is
     * pending; 0 means none. Absolute so a protocol can bound a whole
     * phase (a request head sent one byte at a time) and not only
     * silence. Optional: NULL means no deadline. */
    uint64_t (*deadline_ms)(void *sess, uint64_t last_activity_ms, bool output_pending);
    /* The deadline from deadline_ms() passed (output_pending tells which
     * kind). Optional: the protocol may queue a last response (a 408); the
     * driver then flushes it for at most SK__TIMEOUT_FLUSH_MS and closes.
     * NULL: the connection closes at once. */
    void (*timeout)(void *sess, sk_proto_ctx_t *ctx, bool output_pending);
    /* True when nothing is in flight, so a draining server may close the
     * connection now. Optional: NULL means idle whenever output is
     * flushed. */
    bool (*idle)(void *sess);
    /* Releases the session (not the socket). Optional. */
    void (*close)(void *sess);
} sk_proto_t;

/* A datagram protocol: one request datagram in, at most one reply out. */
typedef struct sk_dgram_proto {
    const char *name;
    /* Appends the reply to *reply (leave it empty for none). Returns 0 or a
     * negative errno (the datagram is dropped and counted). */
    int (*datagram)(void *cfg, const char *data, size_t len, sk_buf_t *reply);
} sk_dgram_proto_t;

#endif
