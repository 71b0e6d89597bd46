/* server_internal.h -- what the server's files share: server.c (public
 * API, listeners, signals), worker.c (event-loop workers) and
 * server_threads.c (thread per connection). Both engines drive stream
 * connections through conn.c. */
#ifndef SK_CORE_SERVER_INTERNAL_H
#define SK_CORE_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/buf.h"
#include "core/server.h"

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
    atomic_bool stopping; /* set once on SIGINT/SIGTERM */
    /* Connection threads outlived the drain timeout and still point at the
     * server, so it must not be freed (the process is about to exit). */
    bool threads_left;
};

/* Runs the event-loop workers until the server stops. */
int sk__server_run_workers(sk_server_t *srv);

/* Runs the thread-per-connection engine until the server stops. */
int sk__server_run_threads(sk_server_t *srv);

/* Waits for SIGINT/SIGTERM in the main thread (SIGHUP calls the reload
 * hook and keeps waiting); returns when the server must stop. */
void sk__server_wait_signal(sk_server_t *srv);

/* Prints `listening on EP` once per bound endpoint. */
void sk__server_print_listening(const sk_server_t *srv);

/* Creates each service's per-worker state into state[nsvcs]. Returns 0, or
 * -ENOMEM when a service could not create it (the worker cannot run). */
int sk__worker_state_init(sk_server_t *srv, void **state);
void sk__worker_state_fini(sk_server_t *srv, void **state);

/* Runs the datagram protocol of l on one received datagram and sends the
 * reply (if any) to its sender. reply is the caller's scratch buffer. */
void sk__dgram_answer(const struct sk__listener *l, int fd, const char *data, size_t len,
                      sk_buf_t *reply, const struct sockaddr *from, socklen_t from_len);

/* Logs a connection event line when -v is on. */
void sk__conn_log(const sk_server_t *srv, int fd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
