/* get.c -- the HTTP/1.1 client (see get.h).
 *
 * One transfer is: find or open a connection for the URL's origin (name
 * resolution, RFC 8305 connection racing, TLS), send the request, parse the
 * head with the sans-I/O response parser, then decode the body in place in
 * the connection's buffer and hand it to the sink (stdout, a file written
 * under a temporary name, or nothing for --json). Sockets are non-blocking
 * and every wait is a poll(2) bounded by the read timeout and --max-time, so
 * each way a transfer can fail ends in one plain sentence. */
#include "client/get.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "client/happy.h"
#include "config.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/endpoint.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/outq.h"
#include "core/transport.h"
#include "proto/http_response.h"
#include "proto/token.h"
#include "proto/url.h"
#ifdef SK_HAVE_OPENSSL
#include "tls/tls.h"
#endif

#define CONN_BUF (256 * 1024) /* read buffer; a head may use up to MAX_HEAD */
#define MAX_HEAD 65536
#define MAX_HEADERS 100
#define MAX_CONNS 8
#define PROGRESS_MIN (256 * 1024)

/* A connection kept for reuse, keyed by origin (and Unix socket path). */
struct conn {
    bool open;
    char key[600];
    char label[300]; /* HOST:PORT or the Unix path, for messages */
    int fd;
    sk_transport_t plain;
    sk_transport_t *t;
    bool tcp;
    char remote[160], local[160];
    char *buf;
    size_t len;    /* bytes in buf */
    unsigned uses; /* requests sent on it */
};

/* Where a body goes. */
struct sink {
    enum { SINK_STDOUT, SINK_FILE, SINK_DISCARD } kind;
    int fd;
    char *tmp, *final;
    bool inflate;
    bool raw_deflate_tried;
    bool z_end;        /* the compressed stream reached its end */
    uint64_t z_in;     /* compressed bytes received */
    const char *zname; /* "gzip" or "deflate", for messages */
    z_stream z;
    uint64_t written; /* decoded bytes delivered */
    /* Progress bar. */
    bool progress;
    uint64_t total, shown_us, start_us;
    bool drawn;
};

/* What one transfer learnt, for -v, --json and the redirect loop. */
struct result {
    int status;
    char reason[128];
    int version_minor;
    bool reused;
    uint64_t t0, t_dns, t_connect, t_tls, t_ttfb, t_end; /* sk_clock_us */
    uint64_t head_bytes, body_bytes;
    char remote[160], local[160];
    char *location; /* owned; set for a redirect that will be followed */
    json_t *headers;
};

struct ctx {
    const sk_get_opts_t *o;
    uint64_t deadline; /* --max-time, sk_clock_us; 0: none */
    struct conn conns[MAX_CONNS];
    char msg[1024];    /* why the current transfer failed */
    char origin0[600]; /* origin of the URL given, before any redirect */
#ifdef SK_HAVE_OPENSSL
    sk_tls_client_t *tls;
#endif
    sk_http_header_t hdrs[MAX_HEADERS];
    char zout[65536];
};

/* The temporary -o file, removed by the signal handler on SIGINT/SIGTERM
 * so an interrupted download leaves nothing behind. */
static char tmp_path[PATH_MAX];
static volatile sig_atomic_t tmp_live;

static void on_signal(int sig)
{
    if (tmp_live)
        unlink(tmp_path);
    signal(sig, SIG_DFL);
    raise(sig);
}

static int failf(struct ctx *x, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int failf(struct ctx *x, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->msg, sizeof(x->msg), fmt, ap);
    va_end(ap);
    return code < 0 ? code : -EIO;
}

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

static double secs(unsigned msec)
{
    return msec / 1000.0;
}

/* ---- waiting and raw I/O ----------------------------------------------- */

/* Waits for the readiness the transport needs. Returns 0, -ETIMEDOUT when
 * idle_ms passed, -ETIME when --max-time passed. */
static int wait_io(struct ctx *x, struct conn *c, short events, unsigned idle_ms)
{
    if (c->t->want != 0)
        events = (short)(((c->t->want & SK_EV_READ) ? POLLIN : 0) |
                         ((c->t->want & SK_EV_WRITE) ? POLLOUT : 0));
    uint64_t now = sk_clock_us();
    uint64_t idle_end = idle_ms ? now + idle_ms * UINT64_C(1000) : 0;
    for (;;) {
        uint64_t end = idle_end;
        bool total = false;
        if (x->deadline != 0 && (end == 0 || x->deadline <= end)) {
            end = x->deadline;
            total = true;
        }
        int wait = -1;
        if (end != 0) {
            now = sk_clock_us();
            if (now >= end)
                return total ? -ETIME : -ETIMEDOUT;
            wait = (int)((end - now + 999) / 1000);
        }
        struct pollfd p = {.fd = c->fd, .events = events};
        int rc = poll(&p, 1, wait);
        if (rc > 0)
            return 0;
        if (rc < 0 && errno != EINTR)
            return -errno;
    }
}

/* Reads what is available (waiting for it). Returns > 0, 0 at EOF, or a
 * negative error (-ETIMEDOUT idle, -ETIME max-time, -ECONNRESET, ...). */
static ssize_t conn_read(struct ctx *x, struct conn *c, char *buf, size_t cap)
{
    for (;;) {
        ssize_t n = c->t->ops->read(c->t, buf, cap);
        if (n != -EAGAIN)
            return n;
        int rc = wait_io(x, c, POLLIN, x->o->read_timeout_ms);
        if (rc < 0)
            return rc;
    }
}

static int conn_write_all(struct ctx *x, struct conn *c, const char *p, size_t n)
{
    sk_outq_t q;
    sk_outq_init(&q);
    int rc = sk_outq_append(&q, p, n);
    while (rc == 0 && !sk_outq_empty(&q)) {
        ssize_t w = c->t->ops->write(c->t, &q);
        if (w == -EAGAIN)
            rc = wait_io(x, c, POLLOUT, x->o->read_timeout_ms);
        else if (w < 0)
            rc = (int)w;
    }
    sk_outq_clear(&q);
    return rc;
}

static void conn_close(struct conn *c)
{
    if (!c->open)
        return;
    if (c->t != NULL && c->t != &c->plain && c->t->ops->free != NULL)
        c->t->ops->free(c->t);
    close(c->fd);
    sk_free(c->buf);
    memset(c, 0, sizeof(*c));
}

/* ---- connecting ----------------------------------------------------------- */

static void addr_text(const sk_addr_t *a, char *buf, size_t cap)
{
    sk_addr_format_peer((const struct sockaddr *)&a->ss, a->len, buf, cap);
}

static void on_attempt(void *ctx, const sk_happy_attempt_t *a)
{
    (void)ctx;
    char name[160];
    addr_text(&a->addr, name, sizeof(name));
    if (a->result == SK_AGAIN)
        sk_log_info("trying %s (at %.1f ms)", name, ms(a->start_us));
    else if (a->result == 0)
        sk_log_info("connected to %s in %.3f ms", name, ms(a->end_us - a->start_us));
    else if (a->result == 1)
        sk_log_info("abandoned %s (another address connected first)", name);
    else
        sk_log_info("connect to %s failed after %.3f ms: %s", name, ms(a->end_us - a->start_us),
                    sk_strerror(a->result));
}

/* Explains a failed race in one sentence naming every address. */
static int connect_failure(struct ctx *x, const sk_happy_attempt_t *a, size_t n, int rc,
                           const char *label)
{
    char list[700] = "";
    size_t o = 0;
    if (rc == -ETIME)
        return failf(x, rc, "gave up after %.1f s (--max-time) while connecting to %s",
                     secs(x->o->max_time_ms), label);
    for (size_t i = 0; i < n && o < sizeof(list) - 1; i++) {
        if (a[i].result >= 0 || a[i].result == SK_AGAIN)
            continue;
        char name[160];
        addr_text(&a[i].addr, name, sizeof(name));
        const char *sep = o ? (i + 1 < n ? ", " : " and ") : "";
        if (rc == -ECONNREFUSED)
            o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", sep, name);
        else if (a[i].result == -ETIMEDOUT)
            o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s timed out after %.1f s", sep,
                                  name, secs(x->o->connect_timeout_ms));
        else
            o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s: %s", sep, name,
                                  sk_strerror(a[i].result));
    }
    if (rc == -ECONNREFUSED)
        return failf(x, rc, "connection refused by %s (nothing listens there)", list);
    if (rc == -ETIMEDOUT)
        return failf(x, rc, "connect to %s (--connect-timeout)", list);
    return failf(x, rc, "could not connect: %s", list);
}

/* Explains a failed connect to --unix-socket PATH. connect(2) says
 * "refused" both when nothing listens on a socket file and when PATH is
 * not a socket at all; stat tells them apart. */
static int unix_failure(struct ctx *x, const char *path, int rc)
{
    struct stat st;
    if (rc == -ENOENT)
        return failf(x, rc,
                     "cannot connect to Unix socket %s: no such file (is the server "
                     "running?)",
                     path);
    if (rc == -ECONNREFUSED && stat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
        return failf(x, rc, "cannot connect to Unix socket %s: it is a %s, not a socket", path,
                     S_ISDIR(st.st_mode)   ? "directory"
                     : S_ISREG(st.st_mode) ? "regular file"
                                           : "special file");
    if (rc == -ECONNREFUSED)
        return failf(x, rc,
                     "cannot connect to Unix socket %s: connection refused (a stale "
                     "socket file: nothing listens on it)",
                     path);
    return failf(x, rc, "cannot connect to Unix socket %s: %s", path, sk_strerror(rc));
}

static void fill_names(struct conn *c)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    strcpy(c->local, "?");
    strcpy(c->remote, "?");
    if (getsockname(c->fd, (struct sockaddr *)&ss, &len) == 0)
        sk_addr_format_peer((struct sockaddr *)&ss, len, c->local, sizeof(c->local));
    len = sizeof(ss);
    if (getpeername(c->fd, (struct sockaddr *)&ss, &len) == 0)
        sk_addr_format_peer((struct sockaddr *)&ss, len, c->remote, sizeof(c->remote));
    if (!c->tcp && c->local[0] == '\0')
        strcpy(c->local, "(unnamed)");
}

/* getaddrinfo cannot be cancelled or bounded, so under --max-time it runs
 * in a thread and the caller stops waiting at the deadline. The job is
 * shared: whichever side finishes last frees it. */
struct resolve_job {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done, abandoned;
    sk_endpoint_t ep;
    int family, n;
    sk_addr_t *addrs;
    struct sk_err err;
};

static void job_free(struct resolve_job *j)
{
    pthread_mutex_destroy(&j->lock);
    pthread_cond_destroy(&j->cond);
    free(j->addrs);
    sk_free(j);
}

static void *resolve_thread(void *arg)
{
    struct resolve_job *j = arg;
    sk_addr_t *addrs = NULL;
    int n = sk_endpoint_resolve(&j->ep, j->family, false, &addrs, &j->err);
    pthread_mutex_lock(&j->lock);
    j->n = n;
    j->addrs = n > 0 ? addrs : NULL;
    j->done = true;
    bool abandoned = j->abandoned;
    pthread_cond_signal(&j->cond);
    pthread_mutex_unlock(&j->lock);
    if (abandoned)
        job_free(j);
    return NULL;
}

/* sk_endpoint_resolve bounded by deadline_us (sk_clock_us). Returns the
 * count with *out owned, a negative code with err filled, or -ETIME. */
static int resolve_bounded(const sk_endpoint_t *ep, int family, uint64_t deadline_us,
                           sk_addr_t **out, struct sk_err *err)
{
    if (deadline_us == 0)
        return sk_endpoint_resolve(ep, family, false, out, err);
    struct resolve_job *j = sk_calloc(1, sizeof(*j));
    if (j == NULL)
        return -ENOMEM;
    j->ep = *ep;
    j->family = family;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_t t;
    pthread_attr_t ta;
    pthread_attr_init(&ta);
    pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
    int prc = pthread_create(&t, &ta, resolve_thread, j);
    pthread_attr_destroy(&ta);
    if (prc != 0) {
        job_free(j);
        return sk_endpoint_resolve(ep, family, false, out, err);
    }
    /* sk_clock_us is CLOCK_MONOTONIC too. */
    struct timespec ts = {.tv_sec = (time_t)(deadline_us / 1000000),
                          .tv_nsec = (long)(deadline_us % 1000000) * 1000};
    pthread_mutex_lock(&j->lock);
    while (!j->done)
        if (pthread_cond_timedwait(&j->cond, &j->lock, &ts) == ETIMEDOUT)
            break;
    if (!j->done) {
        j->abandoned = true; /* the thread frees the job when it returns */
        pthread_mutex_unlock(&j->lock);
        return -ETIME;
    }
    pthread_mutex_unlock(&j->lock);
    int n = j->n;
    *out = j->addrs;
    j->addrs = NULL;
    *err = j->err;
    job_free(j);
    return n;
}

static int resolve(struct ctx *x, const sk_url_t *u, sk_addr_t **addrs)
{
    sk_endpoint_t ep = {.transport = SK_TRANSPORT_TCP, .port = u->port, .host_is_v6 = u->ipv6};
    if (strlen(u->host) >= sizeof(ep.host))
        return failf(x, -ENAMETOOLONG, "host name too long");
    strcpy(ep.host, u->host);
    struct sk_err err = {0};
    int n = resolve_bounded(&ep, x->o->family, x->deadline, addrs, &err);
    if (n == -ETIME)
        return failf(x, n, "gave up after %.1f s (--max-time) resolving the host name '%s'",
                     secs(x->o->max_time_ms), u->host);
    if (n == -ENOENT)
        return failf(x, n, "cannot resolve host name '%s': name not found%s", u->host,
                     x->o->family == AF_INET    ? " (for IPv4, -4)"
                     : x->o->family == AF_INET6 ? " (for IPv6, -6)"
                                                : "");
    if (n < 0)
        return failf(x, n, "cannot resolve host name '%s': %s", u->host,
                     err.msg[0] ? err.msg : sk_strerror(n));
    if (n == 0)
        return failf(x, -ENOENT, "cannot resolve host name '%s': no addresses", u->host);
    return n;
}

static int conn_open(struct ctx *x, const sk_url_t *u, struct conn *c, struct result *r)
{
#ifndef SK_HAVE_OPENSSL
    if (u->https)
        return failf(x, SK_ENOTBUILT,
                     "https needs the TLS client (not built in: OpenSSL was missing at build "
                     "time)");
#endif
    sk_addr_t *addrs = NULL;
    int n;
    const char *o_unix = x->o->unix_socket;
    if (o_unix != NULL) {
        struct sockaddr_un *sun;
        addrs = sk_calloc(1, sizeof(*addrs));
        if (addrs == NULL)
            return failf(x, -ENOMEM, "out of memory");
        sun = (struct sockaddr_un *)&addrs->ss;
        sun->sun_family = AF_UNIX;
        if (strlen(o_unix) >= sizeof(sun->sun_path)) {
            sk_free(addrs);
            return failf(x, -ENAMETOOLONG, "Unix socket path too long: %s", o_unix);
        }
        strcpy(sun->sun_path, o_unix);
        addrs->len = (socklen_t)sizeof(*sun);
        n = 1;
        r->t_dns = sk_clock_us();
        snprintf(c->label, sizeof(c->label), "%s", o_unix);
    } else {
        n = resolve(x, u, &addrs);
        r->t_dns = sk_clock_us();
        if (n < 0)
            return n;
        snprintf(c->label, sizeof(c->label), "%s", u->authority);
        if (u->default_port)
            snprintf(c->label, sizeof(c->label), u->ipv6 ? "[%s]:%u" : "%s:%u", u->host,
                     (unsigned)u->port);
        if (sk_log_verbosity > 0) {
            char list[800];
            size_t o = 0;
            for (int i = 0; i < n && o < sizeof(list) - 1; i++) {
                char name[160];
                addr_text(&addrs[i], name, sizeof(name));
                o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", name);
            }
            sk_log_info("resolved %s to %d address%s in %.3f ms: %s", u->host, n,
                        n == 1 ? "" : "es", ms(r->t_dns - r->t0), list);
        }
        sk_happy_order(addrs, (size_t)n);
    }

    sk_happy_attempt_t *att = sk_calloc((size_t)n, sizeof(*att));
    if (att == NULL) {
        sk_free(addrs);
        return failf(x, -ENOMEM, "out of memory");
    }
    sk_happy_opts_t ho = {.timeout_ms = x->o->connect_timeout_ms,
                          .deadline_us = x->deadline,
                          .on_attempt = sk_log_verbosity > 0 ? on_attempt : NULL};
    size_t win = 0;
    int fd = sk_happy_connect(addrs, (size_t)n, &ho, att, &win);
    int rc = 0;
    if (fd < 0)
        rc = o_unix != NULL && fd != -ETIME ? unix_failure(x, o_unix, fd)
                                            : connect_failure(x, att, (size_t)n, fd, c->label);
    sk_free(att);
    sk_free(addrs);
    if (rc < 0)
        return rc;
    r->t_connect = sk_clock_us();

    c->fd = fd;
    c->tcp = o_unix == NULL;
    c->open = true;
    c->buf = sk_malloc(CONN_BUF);
    if (c->buf == NULL) {
        close(fd);
        c->open = false;
        return failf(x, -ENOMEM, "out of memory");
    }
    if (c->tcp) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    fill_names(c);
    sk_log_info("connection: local %s, remote %s", c->local, c->remote);
    sk_transport_plain_init(&c->plain, fd);
    c->t = &c->plain;
    if (u->https) {
#ifdef SK_HAVE_OPENSSL
        struct sk_err err = {0};
        if (x->tls == NULL) {
            sk_tls_client_opts_t to = {.cacert = x->o->cacert,
                                       .insecure = x->o->insecure,
                                       .alpn = "http/1.1",
                                       .verbose = sk_log_verbosity};
            if (sk_tls_client_new(&x->tls, &to, &err) < 0)
                return failf(x, err.code ? err.code : SK_ETLS, "%s", err.msg);
        }
        sk_transport_t *tt = NULL;
        if (sk_tls_client_wrap(x->tls, fd, u->host, &tt) < 0)
            return failf(x, -ENOMEM, "cannot set up TLS for %s", u->host);
        c->t = tt;
        unsigned tmo = x->o->tls_timeout_ms;
        if (x->deadline != 0) {
            uint64_t now = sk_clock_us();
            unsigned left = now >= x->deadline ? 1 : (unsigned)((x->deadline - now) / 1000 + 1);
            if (tmo == 0 || left < tmo)
                tmo = left;
        }
        if (sk_tls_handshake(tt, tmo, &err) < 0) {
            if (err.code == -ETIMEDOUT && tmo != x->o->tls_timeout_ms)
                return failf(x, -ETIME,
                             "gave up after %.1f s (--max-time) during the TLS handshake",
                             secs(x->o->max_time_ms));
            return failf(x, err.code ? err.code : SK_ETLS, "%s", err.msg);
        }
        r->t_tls = sk_clock_us();
        if (sk_log_verbosity > 0) {
            char desc[2048];
            sk_tls_describe(tt, desc, sizeof(desc));
            for (char *line = strtok(desc, "\n"); line != NULL; line = strtok(NULL, "\n"))
                sk_log_info("%s", line);
        }
#endif
    }
    return 0;
}

/* True when an idle kept connection has nothing to read: data there means
 * the last response was longer than announced, EOF that the server closed
 * it. Either way it must not carry another request. A readable socket may
 * also hold only TLS housekeeping (a late session ticket), which a read
 * consumes without returning data. */
static bool conn_idle_ok(struct conn *c)
{
    if (c->t->ops->pending != NULL && c->t->ops->pending(c->t))
        return false;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (poll(&p, 1, 0) == 0)
        return true;
    return c->t->ops->read(c->t, c->buf, CONN_BUF) == -EAGAIN;
}

/* Returns the connection for u's origin: a kept one, or a new one. */
static int conn_get(struct ctx *x, const sk_url_t *u, struct result *r, struct conn **out,
                    bool fresh)
{
    char key[600];
    snprintf(key, sizeof(key), "%s|%s", x->o->unix_socket ? x->o->unix_socket : "", u->origin);
    for (int i = 0; i < MAX_CONNS && !fresh; i++) {
        struct conn *c = &x->conns[i];
        if (!c->open || strcmp(c->key, key) != 0)
            continue;
        if (!conn_idle_ok(c)) {
            sk_log_info("connection to %s was closed by the server; opening a new one", c->label);
            conn_close(c);
            break;
        }
        sk_log_info("reusing connection to %s", c->label);
        r->reused = true;
        r->t_dns = r->t_connect = sk_clock_us();
        *out = c;
        return 0;
    }
    /* A free slot, or the first (oldest) one. */
    struct conn *c = &x->conns[0];
    for (int i = 0; i < MAX_CONNS; i++)
        if (!x->conns[i].open || strcmp(x->conns[i].key, key) == 0) {
            c = &x->conns[i];
            break;
        }
    conn_close(c);
    int rc = conn_open(x, u, c, r);
    if (rc < 0) {
        conn_close(c);
        return rc;
    }
    snprintf(c->key, sizeof(c->key), "%s", key);
    *out = c;
    return 0;
}

/* ---- the request ---------------------------------------------------------- */

int sk_get_check_header(const char *h)
{
    const char *p = sk_tok_skip(h, h + strlen(h), SK_TOK_TCHAR);
    if (p == h || (*p != ':' && *p != ';'))
        return SK_EUSAGE;
    if (*p == ';')
        return p[1] == '\0' ? 0 : SK_EUSAGE;
    for (p++; *p != '\0'; p++)
        if (!SK_TOK_IS(*p, SK_TOK_FIELD_VALUE))
            return SK_EUSAGE;
    return 0;
}

/* True when the -H header h names (case-insensitively) the field name. */
static bool header_is(const char *h, const char *name)
{
    size_t n = strlen(name);
    return strncasecmp(h, name, n) == 0 && (h[n] == ':' || h[n] == ';');
}

/* -H headers that carry credentials or name the host go only to the
 * origin of the URL given: a redirect to another scheme, host or port
 * must not hand them to whoever it points at (curl does the same). */
static bool origin_only(const char *h)
{
    return header_is(h, "authorization") || header_is(h, "proxy-authorization") ||
           header_is(h, "cookie") || header_is(h, "host");
}

/* True when the -H header h is sent to u. */
static bool header_sent(const struct ctx *x, const sk_url_t *u, const char *h)
{
    return !origin_only(h) || strcasecmp(u->origin, x->origin0) == 0;
}

/* True when a -H header sent to u names (case-insensitively) the field. */
static bool user_sets(const struct ctx *x, const sk_url_t *u, const char *name)
{
    for (size_t i = 0; i < x->o->n_headers; i++)
        if (header_is(x->o->headers[i], name) && header_sent(x, u, x->o->headers[i]))
            return true;
    return false;
}

static int build_request(struct ctx *x, const sk_url_t *u, char *buf, size_t cap)
{
    const sk_get_opts_t *o = x->o;
    size_t n = 0;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        int w_ = snprintf(buf + n, cap - n, __VA_ARGS__);                                          \
        if (w_ < 0 || (size_t)w_ >= cap - n)                                                       \
            return failf(x, -E2BIG, "request head too large");                                     \
        n += (size_t)w_;                                                                           \
    } while (0)
    PUT("%s %s HTTP/1.1\r\n", o->head ? "HEAD" : "GET", u->target);
    if (!user_sets(x, u, "host"))
        PUT("Host: %s\r\n", u->authority);
    if (!user_sets(x, u, "user-agent"))
        PUT("User-Agent: %s\r\n", o->user_agent ? o->user_agent : "sockkit/" SK_VERSION);
    if (!user_sets(x, u, "accept"))
        PUT("Accept: */*\r\n");
    if (o->compressed && !user_sets(x, u, "accept-encoding"))
        PUT("Accept-Encoding: gzip, deflate\r\n");
    for (size_t i = 0; i < o->n_headers; i++) {
        const char *h = o->headers[i];
        const char *sep = h + strcspn(h, ":;");
        if (!header_sent(x, u, h)) {
            sk_log_info("not sending the -H %.*s header to %s (it goes only to %s, the origin "
                        "of the URL given)",
                        (int)(sep - h), h, u->origin, x->origin0);
            continue;
        }
        if (*sep == ';') {
            PUT("%.*s:\r\n", (int)(sep - h), h);
            continue;
        }
        const char *v = sep + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v == '\0')
            continue; /* "Name:" removes a default header */
        PUT("%.*s: %s\r\n", (int)(sep - h), h, v);
    }
    PUT("\r\n");
#undef PUT
    return (int)n;
}

/* ---- the sink ------------------------------------------------------------- */

static void human(double v, char *buf, size_t cap)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void progress(struct sink *s, uint64_t received, bool last)
{
    if (!s->progress)
        return;
    uint64_t now = sk_clock_us();
    if (!last && (now - s->shown_us < 200000 || (s->total ? s->total : received) < PROGRESS_MIN))
        return;
    if (last && !s->drawn)
        return;
    s->shown_us = now;
    s->drawn = true;
    double el = (double)(now - s->start_us) / 1e6;
    double rate = el > 0 ? (double)received / el : 0;
    char got[32], tot[32], rt[32], eta[32] = "";
    human((double)received, got, sizeof(got));
    human(rate, rt, sizeof(rt));
    if (s->total != 0) {
        human((double)s->total, tot, sizeof(tot));
        if (rate > 0 && received < s->total)
            snprintf(eta, sizeof(eta), "  ETA %.0f s", (double)(s->total - received) / rate);
        fprintf(stderr, "\r%5.1f%%  %s of %s  %s/s%s   ",
                100.0 * (double)received / (double)s->total, got, tot, rt, eta);
    } else {
        fprintf(stderr, "\r%s  %s/s   ", got, rt);
    }
    if (last)
        fputc('\n', stderr);
    fflush(stderr);
}

static int raw_out(struct ctx *x, struct sink *s, const char *p, size_t n)
{
    s->written += n;
    if (s->kind == SINK_DISCARD)
        return 0;
    if (s->kind == SINK_STDOUT) {
        if (fwrite(p, 1, n, stdout) != n)
            return failf(x, -EIO, "cannot write to standard output: %s", strerror(errno));
        return 0;
    }
    while (n > 0) {
        ssize_t w = write(s->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return failf(x, -errno, "cannot write %s: %s", s->final, strerror(errno));
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Delivers body bytes, inflating them for --compressed. */
static int sink_write(struct ctx *x, struct sink *s, const char *p, size_t n)
{
    if (!s->inflate)
        return raw_out(x, s, p, n);
    s->z_in += n;
    s->z.next_in = (Bytef *)(uintptr_t)p;
    s->z.avail_in = (uInt)n;
    while (s->z.avail_in > 0) {
        s->z.next_out = (Bytef *)x->zout;
        s->z.avail_out = sizeof(x->zout);
        int zr = inflate(&s->z, Z_NO_FLUSH);
        if (zr == Z_DATA_ERROR && !s->raw_deflate_tried && s->z.total_out == 0 &&
            s->z.total_in <= n) {
            /* "deflate" should be zlib-wrapped (RFC 9110 §8.4.1.2), but
             * some servers send raw deflate: retry as that once. */
            s->raw_deflate_tried = true;
            inflateEnd(&s->z);
            memset(&s->z, 0, sizeof(s->z));
            if (inflateInit2(&s->z, -MAX_WBITS) != Z_OK)
                return failf(x, -ENOMEM, "out of memory");
            s->z.next_in = (Bytef *)(uintptr_t)p;
            s->z.avail_in = (uInt)n;
            continue;
        }
        if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
            return failf(x, -EPROTO, "the compressed body is corrupt (%s)",
                         s->z.msg ? s->z.msg : "zlib error");
        int rc = raw_out(x, s, x->zout, sizeof(x->zout) - s->z.avail_out);
        if (rc < 0)
            return rc;
        if (zr == Z_STREAM_END) {
            s->z_end = true;
            break; /* trailing garbage after the stream is ignored */
        }
        if (zr == Z_BUF_ERROR && s->z.avail_out != 0)
            break;
    }
    return 0;
}

static int sink_open_file(struct ctx *x, struct sink *s, const char *name)
{
    struct stat st, lst;
    bool exists = stat(name, &st) == 0;
    if (exists && S_ISDIR(st.st_mode))
        return failf(x, -EISDIR, "cannot write %s: it is a directory", name);
    if (exists && !S_ISREG(st.st_mode)) {
        /* A device, FIFO or terminal (-o /dev/null, -o /dev/stdout) is
         * written in place: renaming a file over it would replace the
         * device node itself. */
        int fd = open(name, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
            return failf(x, -errno, "cannot open %s: %s", name, strerror(errno));
        s->final = sk_xstrdup(name);
        s->fd = fd;
        s->kind = SINK_FILE;
        return 0;
    }
    /* Through a symbolic link to a file, the file is replaced and the
     * link kept. */
    char *target =
        exists && lstat(name, &lst) == 0 && S_ISLNK(lst.st_mode) ? realpath(name, NULL) : NULL;
    if (target != NULL) {
        s->final = sk_xstrdup(target);
        free(target);
        name = s->final;
    } else {
        s->final = sk_xstrdup(name);
    }
    const char *slash = strrchr(name, '/');
    size_t dl = slash ? (size_t)(slash - name) + 1 : 0;
    /* ".NAME.sockkit-XXXXXX" must itself fit NAME_MAX (255): a long NAME
     * is cut in the temporary name only. */
    int w = snprintf(tmp_path, sizeof(tmp_path), "%.*s.%.200s.sockkit-XXXXXX", (int)dl, name,
                     slash ? slash + 1 : name);
    if (w < 0 || (size_t)w >= sizeof(tmp_path))
        return failf(x, -ENAMETOOLONG, "output file name too long: %s", name);
    int fd = mkostemp(tmp_path, O_CLOEXEC);
    if (fd < 0)
        return failf(x, -errno, "cannot create a file next to %s: %s", name, strerror(errno));
    tmp_live = 1;
    /* mkstemp makes 0600. A file that is replaced keeps its mode (as
     * curl, which writes into it, does: a 0600 file must not become
     * world-readable); a new one gets the usual 0666 & ~umask. */
    mode_t um = umask(0);
    umask(um);
    fchmod(fd, exists && S_ISREG(st.st_mode) ? st.st_mode & 07777 : 0666 & ~um);
    s->tmp = sk_xstrdup(tmp_path);
    s->fd = fd;
    s->kind = SINK_FILE;
    return 0;
}

/* Ends the sink: keeps the file under its name on success, removes the
 * temporary otherwise. */
static int sink_close(struct ctx *x, struct sink *s, bool ok)
{
    int rc = 0;
    /* An empty body is let through: servers label those too. */
    if (s->inflate && ok && !s->z_end && s->z_in > 0)
        rc = failf(x, -EPROTO,
                   "the %s body is truncated: the compressed stream stops before its end "
                   "(after %llu decoded bytes)",
                   s->zname, (unsigned long long)s->written);
    if (s->inflate)
        inflateEnd(&s->z);
    ok = ok && rc == 0;
    if (s->kind == SINK_STDOUT && fflush(stdout) != 0 && ok)
        rc = failf(x, -EIO, "cannot write to standard output: %s", strerror(errno));
    if (s->kind == SINK_FILE) {
        if (close(s->fd) < 0 && ok)
            rc = failf(x, -errno, "cannot write %s: %s", s->final, strerror(errno));
        /* No temporary name: written in place (a device or FIFO). */
        if (s->tmp != NULL && ok && rc == 0 && rename(s->tmp, s->final) < 0)
            rc = failf(x, -errno, "cannot rename %s to %s: %s", s->tmp, s->final, strerror(errno));
        if (s->tmp != NULL && (!ok || rc < 0))
            unlink(s->tmp);
        tmp_live = 0;
        if (ok && rc == 0)
            sk_log_info("saved %llu bytes to %s", (unsigned long long)s->written, s->final);
    }
    sk_free(s->tmp);
    sk_free(s->final);
    s->tmp = s->final = NULL;
    s->kind = SINK_DISCARD;
    return rc;
}

/* ---- one transfer ----------------------------------------------------------- */

static bool is_redirect(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

static const char *body_progress(const sk_http_body_t *b, char *buf, size_t cap)
{
    if (b->kind == SK_HTTP_BODY_LENGTH)
        snprintf(buf, cap, "%llu of %llu body bytes", (unsigned long long)b->received,
                 (unsigned long long)(b->received + b->remaining));
    else
        snprintf(buf, cap, "%llu body bytes%s", (unsigned long long)b->received,
                 b->kind == SK_HTTP_BODY_CHUNKED ? " (chunked, unfinished)" : "");
    return buf;
}

/* Turns a read error or EOF while waiting for the head into a sentence. */
static int head_failure(struct ctx *x, struct conn *c, ssize_t n, size_t have)
{
    if (n == 0 && have == 0)
        return failf(x, SK_EEOF, "the server closed the connection without answering");
    if (n == 0)
        return failf(x, SK_EEOF,
                     "the server closed the connection in the middle of the response head (%zu "
                     "bytes received)",
                     have);
    if (n == -ECONNRESET)
        return failf(x, (int)n, "the server reset the connection %s",
                     have ? "in the middle of the response head" : "without answering");
    if (n == -ETIMEDOUT)
        return failf(x, (int)n, "no response from %s within %.1f s (--read-timeout)", c->label,
                     secs(x->o->read_timeout_ms));
    if (n == -ETIME)
        return failf(x, (int)n, "gave up after %.1f s (--max-time) waiting for the response",
                     secs(x->o->max_time_ms));
    return failf(x, (int)n, "reading the response from %s failed: %s", c->label,
                 sk_strerror((int)n));
}

static int body_failure(struct ctx *x, ssize_t n, const sk_http_body_t *b)
{
    char prog[96];
    body_progress(b, prog, sizeof(prog));
    if (n == 0)
        return failf(x, SK_EEOF, "the server closed the connection after %s", prog);
    if (n == -ECONNRESET)
        return failf(x, (int)n, "the server reset the connection after %s", prog);
    if (n == -ETIMEDOUT)
        return failf(x, (int)n, "no data from the server for %.1f s (--read-timeout) after %s",
                     secs(x->o->read_timeout_ms), prog);
    if (n == -ETIME)
        return failf(x, (int)n, "gave up after %.1f s (--max-time) with %s",
                     secs(x->o->max_time_ms), prog);
    return failf(x, (int)n, "reading the body failed after %s: %s", prog, sk_strerror((int)n));
}

static void log_head(const char *prefix, const char *p, size_t n)
{
    const char *end = p + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t len = (size_t)(le - p);
        if (len > 0 && p[len - 1] == '\r')
            len--;
        if (len > 0)
            sk_log_info("%s %.*s", prefix, (int)len, p);
        p = nl ? nl + 1 : end;
    }
}

static void print_tcp_info(struct conn *c)
{
    if (!c->tcp) {
        fprintf(stderr, "tcp_info: not a TCP connection (Unix socket)\n");
        return;
    }
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    memset(&ti, 0, sizeof(ti));
    if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0) {
        fprintf(stderr, "tcp_info: unavailable: %s\n", strerror(errno));
        return;
    }
    fprintf(stderr,
            "tcp_info: rtt %.3f ms, rttvar %.3f ms, retransmits %u, snd_cwnd %u, "
            "total_retrans %u\n",
            ti.tcpi_rtt / 1000.0, ti.tcpi_rttvar / 1000.0, (unsigned)ti.tcpi_retransmits,
            ti.tcpi_snd_cwnd, ti.tcpi_total_retrans);
}

/* A field value as a JSON string. Values may hold obs-text (bytes 0x80 to
 * 0xFF, RFC 9110 §5.5), which jansson refuses unless it is UTF-8: those
 * are read as ISO-8859-1, the historical charset of HTTP fields, rather
 * than dropping the field from --json. */
static json_t *value_json(const char *p, size_t n)
{
    json_t *v = json_stringn(p, n);
    if (v != NULL)
        return v;
    char *u = sk_malloc(2 * n + 1);
    if (u == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x80) {
            u[o++] = (char)c;
        } else {
            u[o++] = (char)(0xc0 | (c >> 6));
            u[o++] = (char)(0x80 | (c & 0x3f));
        }
    }
    v = json_stringn(u, o);
    sk_free(u);
    return v;
}

/* The response fields for --json: one member per field name (as the
 * server spelt it first), repeated fields joined with ", " as RFC 9110
 * §5.3 allows, except Set-Cookie, which cannot be joined (its Expires
 * dates hold commas; §5.3) and becomes a list of its values. */
static json_t *headers_json(const sk_http_response_t *resp)
{
    json_t *h = json_object();
    for (size_t i = 0; h != NULL && i < resp->num_headers; i++) {
        const sk_str_t *nm = &resp->headers[i].name;
        json_t *v = value_json(resp->headers[i].value.ptr, resp->headers[i].value.len);
        if (v == NULL)
            continue;
        /* Field names are case-insensitive: find an earlier spelling. */
        const char *key = NULL, *k;
        json_t *old = NULL, *val;
        json_object_foreach(h, k, val)
        {
            if (strlen(k) == nm->len && strncasecmp(k, nm->ptr, nm->len) == 0) {
                key = k;
                old = val;
                break;
            }
        }
        char name[256];
        snprintf(name, sizeof(name), "%.*s", (int)nm->len, nm->ptr);
        if (old == NULL) {
            json_object_set_new(h, name, v);
        } else if (SK_TOK_EQ(nm->ptr, nm->len, "set-cookie")) {
            if (json_is_string(old)) {
                json_t *list = json_array();
                json_array_append(list, old);
                json_array_append_new(list, v);
                json_object_set_new(h, key, list);
            } else {
                json_array_append_new(old, v);
            }
        } else {
            char *joined = NULL;
            if (asprintf(&joined, "%s, %s", json_string_value(old), json_string_value(v)) > 0) {
                json_object_set_new(h, key, json_string(joined));
                free(joined);
            }
            json_decref(v);
        }
    }
    return h;
}

/* Sends the request for u and reads the whole response. out_name is the
 * -o/-O file for a final response (NULL: stdout). Returns 0 (r filled) or
 * a negative code with x->msg set. */
static int transfer(struct ctx *x, const sk_url_t *u, const char *out_name, bool will_follow,
                    struct result *r, int *http_fail)
{
    const sk_get_opts_t *o = x->o;
    char req[16384];
    int reqlen = build_request(x, u, req, sizeof(req));
    if (reqlen < 0)
        return reqlen;
    struct conn *c = NULL;
    int rc;
    bool retried = false;
    sk_http_response_t resp;
    int head = 0;

again:
    if (retried)
        r->t0 = sk_clock_us(); /* the timings are those of the exchange that answers */
    rc = conn_get(x, u, r, &c, retried);
    if (rc < 0)
        return rc;
    c->uses++;
    c->len = 0;
    log_head(">", req, (size_t)reqlen);
    rc = conn_write_all(x, c, req, (size_t)reqlen);
    if (rc < 0) {
        if (r->reused && !retried && (rc == -EPIPE || rc == -ECONNRESET)) {
            /* The server closed the kept connection as we reused it. */
            sk_log_info("the kept connection to %s closed; retrying on a new one", c->label);
            conn_close(c);
            retried = true;
            r->reused = false;
            goto again;
        }
        if (rc == -ETIME)
            rc = failf(x, rc, "gave up after %.1f s (--max-time) sending the request",
                       secs(o->max_time_ms));
        else
            rc = failf(x, rc, "sending the request to %s failed: %s", c->label, sk_strerror(rc));
        conn_close(c);
        return rc;
    }

    /* The head. */
    enum sk_http_resp_error why = SK_HTTP_RE_NONE;
    sk_http_resp_limits_t lim = {.max_header_bytes = MAX_HEAD, .max_headers = MAX_HEADERS};
    for (;;) {
        if (c->len > 0) {
            head = sk_http_response_parse(c->buf, c->len, &lim, &resp, x->hdrs, MAX_HEADERS, &why);
            if (head > 0)
                break;
            if (head == SK_EPARSE) {
                if (why == SK_HTTP_RE_HEAD_TOO_LARGE)
                    rc = failf(x, SK_EPARSE, "response head too large (over %d bytes)", MAX_HEAD);
                else
                    rc =
                        failf(x, SK_EPARSE, "%s from %s", sk_http_resp_error_reason(why), c->label);
                conn_close(c);
                return rc;
            }
        }
        ssize_t n = conn_read(x, c, c->buf + c->len, CONN_BUF - c->len);
        if (n <= 0) {
            if (r->reused && !retried && c->len == 0 && (n == 0 || n == -ECONNRESET)) {
                sk_log_info("the kept connection to %s closed; retrying on a new one", c->label);
                conn_close(c);
                retried = true;
                r->reused = false;
                goto again;
            }
            rc = head_failure(x, c, n, c->len);
            conn_close(c);
            return rc;
        }
        if (c->len == 0)
            r->t_ttfb = sk_clock_us();
        c->len += (size_t)n;
    }
    r->status = resp.status;
    r->version_minor = resp.version_minor;
    snprintf(r->reason, sizeof(r->reason), "%.*s", (int)resp.reason.len, resp.reason.ptr);
    r->head_bytes = (uint64_t)head;
    snprintf(r->remote, sizeof(r->remote), "%s", c->remote);
    snprintf(r->local, sizeof(r->local), "%s", c->local);
    log_head("<", c->buf, (size_t)head); /* interim 1xx heads too */
    if (o->json)
        r->headers = headers_json(&resp);

    bool following = will_follow && is_redirect(resp.status) && resp.location.len > 0;
    if (following) {
        r->location = sk_malloc(resp.location.len + 1);
        if (r->location == NULL) {
            conn_close(c);
            return failf(x, -ENOMEM, "out of memory");
        }
        memcpy(r->location, resp.location.ptr, resp.location.len);
        r->location[resp.location.len] = '\0';
    }
    /* -i/-I: the head goes where the body goes (stdout, or the -o file
     * below), as curl does. */
    bool show_head = (o->include || o->head) && !o->json;
    bool head_to_file = show_head && !following && out_name != NULL;
    if (show_head && !head_to_file)
        fwrite(c->buf + resp.interim_bytes, 1, (size_t)head - resp.interim_bytes, stdout);
    if (resp.status == 101) {
        conn_close(c);
        return failf(x, -EPROTO,
                     "the server switched protocols (101), which sockkit get does "
                     "not speak");
    }
    if (resp.te_other) {
        conn_close(c);
        return failf(x, -EPROTO,
                     "the response uses a transfer coding sockkit get cannot decode "
                     "(only chunked)");
    }

    /* Where the body goes. */
    struct sink s = {.kind = SINK_DISCARD, .fd = -1};
    bool fail_status = o->fail && resp.status >= 400 && !following;
    if (fail_status) {
        /* curl -f: no body, exit 22. The body is not read; the
         * connection cannot be reused. */
        conn_close(c);
        *http_fail = 1;
        return failf(x, SK_GET_HTTP_ERROR, "the server answered %d %s (--fail)", resp.status,
                     r->reason);
    }
    if (!following && !o->json && (!o->head || out_name != NULL)) {
        if (out_name != NULL) {
            rc = sink_open_file(x, &s, out_name);
            if (rc == 0 && head_to_file)
                rc = raw_out(x, &s, c->buf + resp.interim_bytes, (size_t)head - resp.interim_bytes);
            s.written = 0;
            if (rc < 0) {
                sink_close(x, &s, false);
                conn_close(c);
                return rc;
            }
        } else {
            s.kind = SINK_STDOUT;
        }
    }
    if (o->compressed && resp.content_encoding.len > 0 && s.kind != SINK_DISCARD) {
        const sk_str_t *ce = &resp.content_encoding;
        int wbits = 0;
        if (SK_TOK_EQ(ce->ptr, ce->len, "gzip") || SK_TOK_EQ(ce->ptr, ce->len, "x-gzip"))
            wbits = 16 + MAX_WBITS;
        else if (SK_TOK_EQ(ce->ptr, ce->len, "deflate"))
            wbits = MAX_WBITS;
        else if (!SK_TOK_EQ(ce->ptr, ce->len, "identity"))
            sk_log_warn("unknown Content-Encoding '%.*s': the body is saved as received",
                        (int)ce->len, ce->ptr);
        if (wbits != 0) {
            if (inflateInit2(&s.z, wbits) != Z_OK) {
                sink_close(x, &s, false);
                conn_close(c);
                return failf(x, -ENOMEM, "out of memory");
            }
            s.inflate = true;
            s.zname = wbits == MAX_WBITS ? "deflate" : "gzip";
            s.raw_deflate_tried = wbits != MAX_WBITS;
        }
    }

    /* The body, decoded in place after the head. */
    sk_http_body_t b;
    sk_http_body_init(&b, &resp, o->head);
    /* A bar drawn on the terminal the body is printed on would tear
     * through it (curl leaves it out too). */
    s.progress = s.kind != SINK_DISCARD &&
                 (o->progress == 1 ||
                  (o->progress < 0 && !(s.kind == SINK_STDOUT && isatty(STDOUT_FILENO))));
    s.total = b.kind == SK_HTTP_BODY_LENGTH ? b.remaining : 0;
    s.start_us = sk_clock_us();
    size_t off = (size_t)head;
    rc = 0;
    for (;;) {
        if (off < c->len) {
            size_t used = 0, data = 0;
            int dr = sk_http_body_decode(&b, c->buf + off, c->len - off, &used, &data);
            if (data > 0 && (rc = sink_write(x, &s, c->buf + off, data)) < 0)
                break;
            off += used;
            progress(&s, b.received, false);
            if (dr == SK_EPARSE) {
                char prog[96];
                rc = failf(x, SK_EPARSE, "malformed chunked body from %s after %s", c->label,
                           body_progress(&b, prog, sizeof(prog)));
                break;
            }
        }
        if (b.done)
            break;
        c->len = off = 0;
        ssize_t n = conn_read(x, c, c->buf, CONN_BUF);
        if (n == 0 && sk_http_body_eof(&b) == 0) {
            c->len = 0;
            r->body_bytes = b.received;
            progress(&s, b.received, true);
            rc = sink_close(x, &s, true);
            if (o->tcp_info)
                print_tcp_info(c);
            conn_close(c); /* close-delimited: the connection is over */
            goto done;
        }
        if (n <= 0) {
            rc = body_failure(x, n, &b);
            break;
        }
        c->len = (size_t)n;
    }
    r->body_bytes = b.received;
    progress(&s, b.received, rc == 0);
    /* Bytes after a complete response, already read or waiting. */
    size_t extra = rc == 0 && off < c->len ? c->len - off : 0;
    if (rc == 0 && extra == 0 && b.kind != SK_HTTP_BODY_CLOSE && resp.keep_alive) {
        ssize_t n = c->t->ops->read(c->t, c->buf, CONN_BUF);
        if (n > 0)
            extra = (size_t)n;
        else if (n == 0)
            resp.keep_alive = false;
    }
    if (extra > 0) {
        if (b.kind == SK_HTTP_BODY_NONE || following) {
            /* Nothing of this response is delivered (HEAD, 204, 304, a
             * redirect being followed), so the stray bytes cost nothing
             * but the connection, as in curl. */
            sk_log_info("ignoring %zu bytes the server sent after a %d response %s; the "
                        "connection is not reused",
                        extra, resp.status,
                        b.kind == SK_HTTP_BODY_NONE
                            ? (o->head ? "to HEAD (no body)" : "(which has no body)")
                            : "longer than its length");
            resp.keep_alive = false;
        } else {
            rc = failf(x, SK_EPARSE,
                       "the server sent %zu bytes more than the response's length (%s %llu)", extra,
                       b.kind == SK_HTTP_BODY_LENGTH ? "Content-Length" : "chunked body of",
                       (unsigned long long)b.received);
        }
    }
    {
        int sr = sink_close(x, &s, rc == 0);
        if (rc == 0)
            rc = sr;
    }
    if (o->tcp_info)
        print_tcp_info(c);
    if (rc < 0 || !resp.keep_alive || b.kind == SK_HTTP_BODY_CLOSE)
        conn_close(c);
    else
        c->len = 0;
done:
    r->t_end = sk_clock_us();
    return rc;
}

/* ---- driving every URL ---------------------------------------------------- */

/* The -v timing line of one exchange, and with --json (when final) the
 * URL's one JSON object: the last exchange of its redirect chain. */
static void report(struct ctx *x, const char *url, const char *final_url, const struct result *r,
                   unsigned redirects, int rc, bool final)
{
    const sk_get_opts_t *o = x->o;
    uint64_t t0 = r->t0;
#define REL(t) (t0 != 0 && (t) >= t0 && (t) != 0 ? ms((t)-t0) : 0.0)
    if (rc == 0 || r->status != 0) {
        char tls[32] = "-";
        if (r->t_tls != 0)
            snprintf(tls, sizeof(tls), "%.3f ms", REL(r->t_tls));
        sk_log_info("timings: dns %.3f ms, connect %.3f ms, tls %s, ttfb %.3f ms, total %.3f ms",
                    REL(r->t_dns), REL(r->t_connect), tls, REL(r->t_ttfb), REL(r->t_end));
    }
    if (!o->json || !final)
        return;
    json_t *j = json_object();
    json_object_set_new(j, "url", json_string(url));
    if (strcmp(url, final_url) != 0)
        json_object_set_new(j, "final_url", json_string(final_url));
    json_object_set_new(j, "redirects", json_integer(redirects));
    if (r->status != 0) {
        json_object_set_new(j, "status", json_integer(r->status));
        json_object_set_new(j, "reason", json_string(r->reason));
        json_object_set_new(j, "http_version", json_string(r->version_minor ? "1.1" : "1.0"));
        json_object_set_new(j, "headers", r->headers ? json_incref(r->headers) : json_object());
        json_object_set_new(j, "remote", json_string(r->remote));
        json_object_set_new(j, "local", json_string(r->local));
        json_object_set_new(j, "reused", json_boolean(r->reused));
        json_object_set_new(j, "header_bytes", json_integer((json_int_t)r->head_bytes));
        json_object_set_new(j, "body_bytes", json_integer((json_int_t)r->body_bytes));
    }
    json_t *t = json_object();
    json_object_set_new(t, "dns", json_real(REL(r->t_dns)));
    json_object_set_new(t, "connect", json_real(REL(r->t_connect)));
    json_object_set_new(t, "tls", json_real(REL(r->t_tls)));
    json_object_set_new(t, "ttfb", json_real(REL(r->t_ttfb)));
    json_object_set_new(t, "total", json_real(REL(r->t_end ? r->t_end : sk_clock_us())));
    json_object_set_new(j, "timings_ms", t);
    if (rc < 0)
        json_object_set_new(j, "error", json_string(x->msg));
#undef REL
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
    if (s != NULL) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    json_decref(j);
    fflush(stdout);
}

static void result_clear(struct result *r)
{
    sk_free(r->location);
    if (r->headers != NULL)
        json_decref(r->headers);
    memset(r, 0, sizeof(*r));
}

/* Ends a URL on an error found outside a transfer (its URL, or a redirect
 * that cannot be followed): one line on stderr naming `who`, and the
 * URL's JSON object with the error under --json. */
static int url_failf(struct ctx *x, const char *who, const char *url, const char *cur,
                     const struct result *r, unsigned redirects, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static int url_failf(struct ctx *x, const char *who, const char *url, const char *cur,
                     const struct result *r, unsigned redirects, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->msg, sizeof(x->msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "sockkit get: %s: %s\n", who, x->msg);
    if (x->o->json)
        report(x, url, cur, r, redirects, -EIO, true);
    return SK_GET_FAILED;
}

/* Fetches one URL, following redirects. Returns an exit status. */
static int get_one(struct ctx *x, const char *url, const char *out)
{
    const sk_get_opts_t *o = x->o;
    char *cur = sk_xstrdup(url);
    unsigned redirects = 0;
    int status = SK_GET_OK;
    char name[256];
    struct result r;
    memset(&r, 0, sizeof(r));
    for (;;) {
        sk_url_t u;
        struct sk_err err = {0};
        int rc = sk_url_parse(&u, cur, redirects == 0, &err);
        if (rc < 0) {
            if (redirects > 0)
                status = url_failf(x, url, url, cur, &r, redirects,
                                   "redirected to %s, which is not usable: %s", cur, err.msg);
            else
                status = url_failf(x, cur, url, cur, &r, redirects, "%s", err.msg);
            break;
        }
        if (redirects == 0)
            snprintf(x->origin0, sizeof(x->origin0), "%s", u.origin);
        const char *dest = out;
        /* -O names the file after the URL given, never after a redirect
         * target: a server must not choose names such as .bashrc in the
         * current directory (curl and wget behave the same). */
        if (dest == NULL && o->remote_name && !o->json) {
            int fr = redirects == 0 ? sk_url_filename(&u, name, sizeof(name)) : 0;
            if (fr < 0) {
                if (fr == -ENAMETOOLONG)
                    fprintf(stderr,
                            "sockkit get: %s: -O: the last segment of the URL's path is too long "
                            "for a file name (over %zu bytes; use -o FILE)\n",
                            cur, sizeof(name) - 1);
                else
                    fprintf(stderr,
                            "sockkit get: %s: -O needs a file name at the end of the URL's path "
                            "(use -o FILE)\n",
                            cur);
                sk_url_fini(&u);
                status = SK_GET_FAILED;
                break;
            }
            dest = name;
        }
        result_clear(&r);
        r.t0 = sk_clock_us();
        int http_fail = 0;
        rc = transfer(x, &u, dest, o->follow, &r, &http_fail);
        report(x, url, cur, &r, redirects, rc, rc < 0 || r.location == NULL);
        if (rc < 0) {
            fprintf(stderr, "sockkit get: %s: %s\n", cur, x->msg);
            status = http_fail ? SK_GET_HTTP_ERROR : SK_GET_FAILED;
            sk_url_fini(&u);
            break;
        }
        if (r.location == NULL) {
            sk_url_fini(&u);
            break;
        }
        /* A redirect: resolve Location against the current URL. */
        char *next = NULL, *loc = NULL;
        rc = sk_url_escape_ref(r.location, &loc);
        if (rc == 0) {
            if (strcmp(loc, r.location) != 0)
                sk_log_info("percent-encoded the redirect target %s as %s", r.location, loc);
            rc = sk_url_resolve(cur, loc, &next);
            sk_free(loc);
        }
        if (rc < 0) {
            status = url_failf(x, cur, url, cur, &r, redirects, "cannot resolve the redirect to %s",
                               r.location);
            sk_url_fini(&u);
            break;
        }
        if (redirects + 1 > o->max_redirs) {
            status = url_failf(x, url, url, cur, &r, redirects,
                               "too many redirects (more than %u, --max-redirs); the last one "
                               "pointed to %s",
                               o->max_redirs, next);
            sk_free(next);
            sk_url_fini(&u);
            break;
        }
        bool downgrade = u.https && strncasecmp(next, "http://", 7) == 0;
        sk_url_fini(&u);
        if (downgrade && !o->allow_downgrade) {
            status = url_failf(x, cur, url, cur, &r, redirects,
                               "refusing to follow the redirect from https to plain http (%s); "
                               "--allow-downgrade permits it",
                               next);
            sk_free(next);
            break;
        }
        redirects++;
        sk_log_info("following the redirect (%d) to %s", r.status, next);
        sk_free(cur);
        cur = next;
    }
    result_clear(&r);
    sk_free(cur);
    return status;
}

int sk_get_run(const sk_get_opts_t *o)
{
    struct ctx *x = sk_xcalloc(1, sizeof(*x));
    x->o = o;
    if (o->max_time_ms != 0)
        x->deadline = sk_clock_us() + o->max_time_ms * UINT64_C(1000);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    static char outbuf[65536];
    setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));

    int status = SK_GET_OK;
    for (size_t i = 0; i < o->n_urls; i++) {
        const char *out = i < o->n_outputs ? o->outputs[i] : NULL;
        int st = get_one(x, o->urls[i], out);
        if (st != SK_GET_OK)
            status = st;
    }
    for (int i = 0; i < MAX_CONNS; i++)
        conn_close(&x->conns[i]);
#ifdef SK_HAVE_OPENSSL
    sk_tls_client_free(x->tls);
#endif
    fflush(stdout);
    sk_free(x);
    return status;
}
