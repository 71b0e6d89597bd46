/* server.h -- a multi-worker server over any backend: listeners for any
 * number of endpoints, one event loop per worker thread (or a thread per
 * connection), connection bookkeeping, timeouts, EMFILE survival and
 * graceful drain on SIGINT/SIGTERM. Protocols plug in through proto.h. */
#ifndef SK_CORE_SERVER_H
#define SK_CORE_SERVER_H

#include <stdbool.h>

#include "core/endpoint.h"
#include "core/error.h"
#include "core/loop.h"
#include "core/proto.h"
#include "core/sockopt.h"
#include "core/transport.h"

typedef struct sk_server sk_server_t;

typedef struct sk_server_config {
    const struct sk_backend *backend; /* NULL = default (epoll) */
    bool threads;                     /* a thread per connection instead of loops */
    int workers;                      /* 0 = online CPUs */
    long max_conns;                   /* 0 = as many as the fd limit allows */
    unsigned drain_timeout_ms;        /* bound on graceful shutdown */
    unsigned unix_mode;               /* permissions of Unix socket paths */
    sk_sockopts_t sockopts;           /* -o options */
    int verbose;                      /* -v: connection life and sockopts */
    /* Wraps connections accepted on tls:// endpoints (src/tls provides it);
     * NULL: tls:// endpoints are refused. Borrowed. */
    const sk_transport_factory_t *tls;
    /* Called in the main thread on SIGHUP (certificate reload). Optional. */
    void (*on_reload)(void *arg);
    void *reload_arg;
} sk_server_config_t;

/* What is served on an endpoint: a stream protocol, a datagram protocol, or
 * both (the endpoint's transport picks one). cfg is borrowed and passed to
 * the protocol. worker_init/fini optionally create per-worker state, handed
 * to the protocol in sk_proto_ctx_t.worker. */
typedef struct sk_service {
    const sk_proto_t *stream;
    const sk_dgram_proto_t *dgram;
    void *cfg;
    void *(*worker_init)(void *cfg);
    void (*worker_fini)(void *worker);
    /* Called about once a second with the worker state (flush buffered
     * logs). The thread-per-connection engine gives each connection thread
     * its own worker state. */
    void (*worker_tick)(void *worker, uint64_t now_ms);
} sk_service_t;

/* Fills cfg with the design's defaults. */
void sk_server_config_defaults(sk_server_config_t *cfg);

/* Creates a server; cfg is copied. Raises RLIMIT_NOFILE. Returns 0 with
 * *out owned (free with sk_server_free) or a negative errno. */
int sk_server_new(sk_server_t **out, const sk_server_config_t *cfg);
void sk_server_free(sk_server_t *srv);

/* Binds ep now (so errors surface before anything runs) and serves svc on
 * it. svc is borrowed for the server's life. Returns 0 or a negative code
 * with err filled. */
int sk_server_listen(sk_server_t *srv, const sk_endpoint_t *ep, const sk_service_t *svc,
                     struct sk_err *err);

/* Prints `listening on EP` for every bound socket, runs the workers until
 * SIGINT/SIGTERM (SIGHUP calls cfg.on_reload), drains (bounded by
 * drain_timeout_ms) and returns 0, or a negative errno when the workers
 * could not start. Returns 1 when connection threads were still running
 * after the drain: then the caller must not free anything the services
 * use (the process is about to exit). */
int sk_server_run(sk_server_t *srv);

#endif
