/* transport.h -- the seam between the connection driver and the bytes on
 * the wire. A transport moves plaintext between the driver's buffers and a
 * connected stream socket: plain TCP/Unix is one implementation
 * (sk_transport_plain), TLS (src/tls) is another. Protocol code never sees
 * which one it runs on; the driver (core/conn.c) and the clients only call
 * these ops.
 *
 * Every op follows the house error rule: a count or 0 on success, -EAGAIN
 * when the socket is not ready (then `want` says which readiness to wait
 * for), another negative errno or SK_ETLS on failure. */
#ifndef SK_CORE_TRANSPORT_H
#define SK_CORE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/outq.h"

typedef struct sk_transport sk_transport_t;

typedef struct sk_transport_ops {
    const char *name; /* "plain", "tls" */
    /* Reads up to cap plaintext bytes. Returns the count (> 0), 0 at the
     * end of the peer's stream (FIN, or TLS close_notify), -EAGAIN, or a
     * negative error (-ECONNRESET when the peer reset). */
    ssize_t (*read)(sk_transport_t *t, char *buf, size_t cap);
    /* Sends from the front of q and consumes what was sent (a file range
     * with sendfile where the transport allows it, else read and copied).
     * Returns the plaintext bytes consumed (> 0), -EAGAIN, or a negative
     * error (-EPIPE/-ECONNRESET when the peer is gone). */
    ssize_t (*write)(sk_transport_t *t, sk_outq_t *q);
    /* Ends our direction of the stream: shutdown(SHUT_WR) for plain, a
     * close_notify alert for TLS. Returns 0, -EAGAIN (call again when
     * `want` is met) or a negative error. */
    int (*shutdown)(sk_transport_t *t);
    /* True when plaintext is buffered inside the transport (a decrypted
     * TLS record not yet read), so the driver must read again without
     * waiting for the socket to become readable. Optional (NULL: never). */
    bool (*pending)(const sk_transport_t *t);
    /* Frees the transport's state. Does not close fd: the driver owns
     * the socket. Optional. */
    void (*free)(sk_transport_t *t);
} sk_transport_ops_t;

struct sk_transport {
    const sk_transport_ops_t *ops;
    int fd; /* borrowed: the connected socket */
    /* SK_EV_READ/SK_EV_WRITE the transport itself waits for after an op
     * returned -EAGAIN (a TLS handshake, or a TLS write that must first
     * read). The driver adds it to its interest mask and retries both
     * directions when it fires. Always 0 for plain. */
    int want;
    /* True until the transport's own handshake is complete (the driver
     * applies the handshake deadline while it is set). */
    bool handshaking;
};

/* The plain transport: read(2), writev(2)/sendfile(2) via sk_outq_write,
 * shutdown(SHUT_WR). It needs no state beyond the struct, so callers embed
 * one and initialise it with sk_transport_plain_init. */
extern const sk_transport_ops_t sk_transport_plain_ops;
void sk_transport_plain_init(sk_transport_t *t, int fd);

/* Creates a server-side transport for an accepted socket (TLS listeners).
 * The factory is owned by whoever configures the server (src/tls), so
 * src/core never links against OpenSSL. */
typedef struct sk_transport_factory {
    /* Wraps fd. Returns 0 with *out owned by the caller (freed through its
     * ops->free), or a negative errno. */
    int (*wrap)(void *ctx, int fd, sk_transport_t **out);
    void *ctx;
    /* Bound on the handshake, in milliseconds (0: none). */
    unsigned handshake_timeout_ms;
} sk_transport_factory_t;

#endif
