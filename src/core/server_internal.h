/* server_internal.h -- what server.c (event-loop workers) and
 * server_threads.c (thread per connection) share: the server's listeners,
 * counters and the protocol-feeding step both engines run. */
#ifndef SK_CORE_SERVER_INTERNAL_H
#define SK_CORE_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/server.h"

/* Above this much pending output a connection stops reading and its
 * protocol is not fed (back-pressure); below it, reading resumes. */
#define SK__OUT_HIGH_WM (256u * 1024u)
/* Unconsumed input a protocol may leave before the connection is closed:
 * protocols bound their own units (HTTP heads, frames), this only stops a
 * protocol bug from eating memory. */
#define SK__IN_MAX (80u * 1024u * 1024u)

/* One bound socket. Per-worker sockets (SO_REUSEPORT) have owner >= 0;
 * shared ones (Unix, datagram Unix) are watched by every worker. */
struct sk__listener {
    int fd;
    int owner; /* worker index, or -1 when shared */
    bool stream;
    enum sk_ep_transport transport;
    const sk_service_t *svc;
    int svc_index;
    char name[160]; /* bound endpoint, as printed */
};

struct sk_server {
    sk_server_config_t cfg;
    struct sk__listener *ls;
    size_t nls;
    const sk_service_t **svcs; /* distinct services, for per-worker state */
    size_t nsvcs;
    atomic_long nconns;   /* open stream connections, all workers */
    atomic_bool stopping; /* set once on SIGINT/SIGTERM or shutdown() */
    pthread_t main_thread;
    void *engine; /* the running engine's state */
    /* Connection threads outlived the drain timeout and still point at the
     * server, so it must not be freed (the process is about to exit). */
    bool threads_left;
};

/* Outcome of feeding input to a protocol. */
enum { SK__FEED_MORE = 0, SK__FEED_CLOSE = 1, SK__FEED_ABORT = -1 };

/* Feeds data (len bytes, may be NULL/0 to retry bytes already in *in) to
 * the protocol while it consumes and the output stays under the high-water
 * mark. Unconsumed bytes end up in *in. Returns SK__FEED_* and sets *err
 * to the protocol's negative code on abort. */
int sk__proto_feed(const sk_proto_t *p, void *sess, sk_proto_ctx_t *ctx, sk_buf_t *in,
                   const char *data, size_t len, int *err);

/* Runs the thread-per-connection engine until the server stops. */
int sk__server_run_threads(sk_server_t *srv);

/* Waits for SIGINT/SIGTERM (or sk_server_shutdown) in the main thread;
 * returns when one arrives. */
void sk__server_wait_signal(sk_server_t *srv);

/* Logs a connection event line when -v is on. */
void sk__conn_log(const sk_server_t *srv, int fd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
