/* server.c -- the public server API: configuration, binding endpoints
 * (per-worker SO_REUSEPORT sockets), signals (SIGINT/SIGTERM drain, SIGHUP
 * reload) and the choice of engine: event-loop workers (worker.c) or a
 * thread per connection (server_threads.c). Both drive stream connections
 * through the shared connection driver (conn.c). */
#include "core/server_internal.h"
#include "core/alloc.h"
#include "core/log.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

void sk_server_config_defaults(sk_server_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->backend = NULL;
    cfg->workers = 0;
    cfg->max_conns = 0;
    cfg->drain_timeout_ms = 10000;
    cfg->unix_mode = 0600;
}

int sk_server_new(sk_server_t **out, const sk_server_config_t *cfg)
{
    sk_server_t *srv = sk_xcalloc(1, sizeof(*srv));
    srv->cfg = *cfg;
    if (srv->cfg.backend == NULL)
        srv->cfg.backend = sk_backend_default();
    if (srv->cfg.workers <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        srv->cfg.workers = n > 0 ? (int)n : 1;
    }
    /* Thread per connection has one acceptor; workers do not apply. */
    if (srv->cfg.threads)
        srv->cfg.workers = 1;
    long nofile = sk_raise_nofile();
    if (nofile < 0) {
        /* The limit could not be read or raised: budget with what we have. */
        struct rlimit rl;
        nofile = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (long)rl.rlim_cur : 1024;
    }
    if (srv->cfg.max_conns <= 0) {
        /* Leave room for listeners, files being served and logs. */
        srv->cfg.max_conns = nofile > 64 ? nofile - 32 : nofile / 2;
    }
    atomic_init(&srv->nconns, 0);
    atomic_init(&srv->stopping, false);
    *out = srv;
    return 0;
}

void sk_server_free(sk_server_t *srv)
{
    if (srv == NULL || srv->threads_left)
        return;
    for (size_t i = 0; i < srv->nls; i++)
        if (srv->ls[i].fd >= 0)
            close(srv->ls[i].fd);
    free(srv->ls);
    free(srv->svcs);
    free(srv);
}

static void add_listener(sk_server_t *srv, int fd, int owner, const sk_endpoint_t *ep,
                         const sk_service_t *svc, int svc_index)
{
    srv->ls = realloc(srv->ls, (srv->nls + 1) * sizeof(*srv->ls));
    if (srv->ls == NULL) {
        fprintf(stderr, "sockkit: out of memory\n");
        exit(1);
    }
    struct sk__listener *l = &srv->ls[srv->nls++];
    memset(l, 0, sizeof(*l));
    l->fd = fd;
    l->owner = owner;
    l->stream = sk_endpoint_is_stream(ep);
    l->transport = ep->transport;
    l->svc = svc;
    l->svc_index = svc_index;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        sk_addr_format(ep->transport, (struct sockaddr *)&ss, len, l->name, sizeof(l->name));
    else
        sk_endpoint_format(ep, l->name, sizeof(l->name));
}

static int service_index(sk_server_t *srv, const sk_service_t *svc)
{
    for (size_t i = 0; i < srv->nsvcs; i++)
        if (srv->svcs[i] == svc)
            return (int)i;
    srv->svcs = realloc(srv->svcs, (srv->nsvcs + 1) * sizeof(*srv->svcs));
    if (srv->svcs == NULL) {
        fprintf(stderr, "sockkit: out of memory\n");
        exit(1);
    }
    srv->svcs[srv->nsvcs] = svc;
    return (int)srv->nsvcs++;
}

static uint16_t bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

int sk_server_listen(sk_server_t *srv, const sk_endpoint_t *ep, const sk_service_t *svc,
                     struct sk_err *err)
{
    bool stream = sk_endpoint_is_stream(ep);
    if ((stream && svc->stream == NULL) || (!stream && svc->dgram == NULL)) {
        char name[160];
        sk_endpoint_format(ep, name, sizeof(name));
        return sk_err_set(err, SK_EUSAGE, "%s: this server does not support %s endpoints", name,
                          stream ? "stream" : "datagram");
    }
    if (ep->transport == SK_TRANSPORT_TLS && srv->cfg.tls == NULL) {
        char name[160];
        sk_endpoint_format(ep, name, sizeof(name));
        return sk_err_set(err, SK_EUSAGE,
                          "%s: a tls:// endpoint needs a certificate (--cert and --key, or "
                          "--self-signed)",
                          name);
    }
    int svc_index = service_index(srv, svc);
    bool per_worker = (ep->transport == SK_TRANSPORT_TCP || ep->transport == SK_TRANSPORT_UDP) &&
                      !srv->cfg.threads && srv->cfg.workers > 1;
    sk_listen_opts_t o = {
        .backlog = 0,
        .mode = srv->cfg.unix_mode,
        .reuseport = per_worker,
        .sockopts = &srv->cfg.sockopts,
    };
    int fds[16];
    int n = sk_endpoint_listen(ep, &o, fds, 16, err);
    if (n < 0)
        return n;
    for (int i = 0; i < n; i++)
        add_listener(srv, fds[i], per_worker ? 0 : -1, ep, svc, svc_index);
    if (!per_worker)
        return 0;
    /* Each further worker gets its own SO_REUSEPORT socket on the port the
     * kernel chose for the first, so the kernel spreads connections across
     * workers without a shared accept queue. */
    sk_endpoint_t again = *ep;
    again.port = bound_port(fds[0]);
    for (int w = 1; w < srv->cfg.workers; w++) {
        int more[16];
        int m = sk_endpoint_listen(&again, &o, more, 16, err);
        if (m < 0)
            return m;
        for (int i = 0; i < m; i++)
            add_listener(srv, more[i], w, &again, svc, svc_index);
    }
    return 0;
}

void sk__conn_log(const sk_server_t *srv, int fd, const char *fmt, ...)
{
    if (!srv->cfg.verbose)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sk_log(SK_LOG_INFO, "conn %d: %s", fd, msg);
}

/* ---- workers and shutdown ----------------------------------------------- */

void sk__server_wait_signal(sk_server_t *srv)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    while (!atomic_load(&srv->stopping)) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGINT || sig == SIGTERM)
            break;
        if (sig == SIGHUP && srv->cfg.on_reload != NULL)
            srv->cfg.on_reload(srv->cfg.reload_arg);
    }
    atomic_store(&srv->stopping, true);
}

void sk__server_print_listening(const sk_server_t *srv)
{
    /* Everything start-up needs is allocated by now: an injected failure
     * (tests) lands on connection work. */
    sk_alloc_fail_from_env();
    /* One line per bound socket; per-worker duplicates of the same address
     * are one endpoint to the user. */
    for (size_t i = 0; i < srv->nls; i++) {
        if (srv->ls[i].owner > 0)
            continue;
        fprintf(stderr, "listening on %s\n", srv->ls[i].name);
    }
    fflush(stderr);
}

int sk__worker_state_init(sk_server_t *srv, void **state)
{
    for (size_t i = 0; i < srv->nsvcs; i++) {
        if (srv->svcs[i]->worker_init == NULL)
            continue;
        state[i] = srv->svcs[i]->worker_init(srv->svcs[i]->cfg);
        if (state[i] == NULL)
            return -ENOMEM;
    }
    return 0;
}

void sk__worker_state_fini(sk_server_t *srv, void **state)
{
    for (size_t i = 0; i < srv->nsvcs; i++)
        if (srv->svcs[i]->worker_fini != NULL && state[i] != NULL)
            srv->svcs[i]->worker_fini(state[i]);
}

void sk__dgram_answer(const struct sk__listener *l, int fd, const char *data, size_t len,
                      sk_buf_t *reply, const struct sockaddr *from, socklen_t from_len)
{
    reply->len = 0;
    reply->off = 0;
    if (l->svc->dgram->datagram(l->svc->cfg, data, len, reply) < 0 || reply->len == 0)
        return;
    /* An unbound Unix peer has no address to answer. */
    if (from_len == 0 || (from->sa_family == AF_UNIX && from_len <= sizeof(sa_family_t)))
        return;
    /* Datagram sockets drop rather than block: a full send buffer loses
     * this reply, as UDP may. */
    if (sendto(fd, sk_buf_head(reply), reply->len, MSG_DONTWAIT | MSG_NOSIGNAL, from, from_len) < 0)
        sk_log_debug("reply dropped: %s", strerror(errno));
}

int sk_server_run(sk_server_t *srv)
{
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    /* Workers inherit the mask, so only the main thread's sigwait sees the
     * signals and each worker learns of them through its loop's wake-up. */
    pthread_sigmask(SIG_BLOCK, &set, &old);
    signal(SIGPIPE, SIG_IGN);
    int rc = srv->cfg.threads ? sk__server_run_threads(srv) : sk__server_run_workers(srv);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0 && srv->threads_left)
        return 1;
    return rc;
}
