/* conn.h -- the connection driver: one state machine for a served stream
 * connection, shared by every engine (the event-loop workers on epoll,
 * poll, select and io_uring, and thread-per-connection on blocking
 * sockets). It reads through the connection's transport into the input
 * buffer, feeds the sans-I/O protocol, flushes the output queue, and owns
 * half-close, lingering close, deadlines, back-pressure and draining.
 *
 * The driver never waits and never frees itself: an engine waits for the
 * readiness in sk__conn_mask() or until sk__conn_deadline(), reports what
 * happened with sk__conn_io()/sk__conn_timer(), and frees the connection
 * with sk__conn_free() once sk__conn_closed() says so (deferred close: the
 * driver only marks it). */
#ifndef SK_CORE_CONN_H
#define SK_CORE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/buf.h"
#include "core/loop.h"
#include "core/outq.h"
#include "core/proto.h"
#include "core/timer.h"
#include "core/transport.h"

/* Above this much pending output a connection stops reading and its
 * protocol is not fed; below it, reading resumes. */
#define SK__OUT_HIGH_WM (256u * 1024u)
/* Input the protocol has not consumed while its output is still pending:
 * above this the connection stops reading, so a client pipelining requests
 * without reading replies costs at most this much. */
#define SK__IN_HIGH_WM (64u * 1024u)
/* Unconsumed input a protocol may leave before the connection is closed:
 * protocols bound their own units (HTTP heads, frames); this only stops a
 * protocol bug from eating memory. */
#define SK__IN_MAX (80u * 1024u * 1024u)
/* How long a last response queued at a timeout (a 408) may take to go
 * out before the connection is closed anyway. */
#define SK__TIMEOUT_FLUSH_MS 1000u
/* A connection that closes with unread input must not reset the peer
 * before it has read our last reply, so it half-closes and discards input
 * for at most this long (nginx's lingering_close). */
#define SK__LINGER_MS 2000u

typedef struct sk_conn sk_conn_t;

/* Bookkeeping an engine keeps in each connection (one allocation per
 * connection): the event-loop workers link their connections for draining
 * and arm one timer per connection. The driver never touches it. */
typedef struct sk_conn_link {
    sk_conn_t *prev, *next;
    void *owner; /* the engine's worker */
    sk_timer_t timer;
    int mask; /* interest currently registered with the loop */
} sk_conn_link_t;

/* What an engine hands the driver for a new connection. Everything is
 * borrowed for the connection's life except the transport. */
typedef struct sk_conn_setup {
    int fd;                            /* connected socket; the driver closes it */
    const sk_proto_t *proto;           /* the service's stream protocol */
    void *cfg;                         /* the service's configuration */
    void *worker;                      /* per-worker state of the service, or NULL */
    const sk_transport_factory_t *tls; /* non-NULL: wrap fd in TLS */
    char *scratch;                     /* read buffer shared by the engine's connections */
    size_t scratch_size;
    int read_batch; /* reads per readiness event */
    int verbose;    /* -v: log the connection's life */
    uint64_t now_ms;
} sk_conn_setup_t;

/* Allocates a connection with its protocol session and transport. Does
 * not call the protocol yet. Returns 0 with *out owned (free with
 * sk__conn_free) or a negative errno; on failure fd is left open. */
int sk__conn_new(sk_conn_t **out, const sk_conn_setup_t *s);

/* Opens the protocol session (peer is the accepted address) and sends
 * anything it queued. The connection may be closed afterwards. */
void sk__conn_open(sk_conn_t *c, const struct sockaddr *peer, socklen_t peer_len);

/* The socket reported events (SK_EV_*) at now_ms: flush, read, feed and
 * settle. */
void sk__conn_io(sk_conn_t *c, int events, uint64_t now_ms);

/* The deadline from sk__conn_deadline() may have passed: close on a
 * timeout, or do work the transport buffered. */
void sk__conn_timer(sk_conn_t *c, uint64_t now_ms);

/* The server is draining: close now if nothing is in flight, otherwise
 * finish the current exchange and close then. */
void sk__conn_drain(sk_conn_t *c, uint64_t now_ms);

/* Readiness the connection waits for (SK_EV_READ|SK_EV_WRITE). */
int sk__conn_mask(const sk_conn_t *c);

/* When the engine must call sk__conn_timer (absolute sk_clock_ms time),
 * or 0 for never. It may be <= now: then call it without waiting. */
uint64_t sk__conn_deadline(const sk_conn_t *c);

/* True when nothing is in flight (a draining server may close it). */
bool sk__conn_idle(const sk_conn_t *c);

/* True once the connection is finished; the engine frees it after the
 * current dispatch. */
bool sk__conn_closed(const sk_conn_t *c);

/* Closes the connection for a reason of the engine's own (drain timeout,
 * server stopped), which replaces any reason it closed for already; it
 * still has to be freed. */
void sk__conn_close(sk_conn_t *c, const char *why);

int sk__conn_fd(const sk_conn_t *c);
sk_conn_link_t *sk__conn_link(sk_conn_t *c);

/* Logs the close line (-v), releases the session, transport, buffers and
 * the socket. NULL is fine. */
void sk__conn_free(sk_conn_t *c, uint64_t now_ms);

/* Feeds data (len bytes; NULL/0 to retry what *in holds) to protocol p
 * while it consumes and ctx->out stays under SK__OUT_HIGH_WM. Unconsumed
 * bytes end up in *in. Returns SK__FEED_* and sets *err to the protocol's
 * negative code on abort. Exposed for the unit tests and fuzzers. */
enum { SK__FEED_MORE = 0, SK__FEED_CLOSE = 1, SK__FEED_ABORT = -1 };
int sk__proto_feed(const sk_proto_t *p, void *sess, sk_proto_ctx_t *ctx, sk_buf_t *in,
                   const char *data, size_t len, int *err);

#endif
