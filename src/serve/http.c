/* http.c -- the HTTP/1.1 connection protocol of the static server: request
 * framing (head, then a body read and discarded), keep-alive and
 * pipelining, error responses that close, timeouts per phase, access
 * logging. Sans-I/O: it sees bytes and an output queue, so every backend
 * runs it; http_static.c builds the responses for files. */
#include "serve/internal.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "proto/date.h"
#include "proto/http_chunked.h"
#include "proto/http_write.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

enum http_state { S_HEAD, S_BODY_LENGTH, S_BODY_CHUNKED };

/* Per-worker state: one date string per second and the access-log buffer,
 * both lock-free because each worker owns its own. */
struct http_worker {
    const sk_http_config_t *cfg;
    time_t date_sec;
    char date[SK_DATE_LEN + 1];
    sk_access_buf_t *log;
    sk_http_header_t *headers; /* parser output, --max-headers entries */
    sk_file_cache_t *cache;
    size_t max_headers;
    /* Held open so that when the process runs out of descriptors one can
     * be given up to open the file a request needs (the classic spare-fd
     * trick, applied to files rather than accept). */
    int spare_fd;
};

static void spare_refill(struct http_worker *w)
{
    if (w->spare_fd < 0)
        w->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Kept small: an idle keep-alive connection costs this plus the engine's
 * connection record, and no buffers. */
struct http_sess {
    const sk_http_config_t *cfg;
    sk_outq_t held;         /* response waiting until the request body is read */
    uint64_t body_left;     /* Content-Length bytes still to discard */
    uint64_t head_start_ms; /* the current head's first byte (or accept) */
    uint64_t body_end_ms;   /* the body must be complete by then (0: no limit) */
    sk_http_chunked_t chunked;
    uint8_t state;
    bool partial;     /* part of a request head is buffered */
    bool close_after; /* the held response ends the connection */
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } peer; /* for the access log */
    socklen_t peer_len;
};

static const char *worker_date(struct http_worker *w, time_t *now_out)
{
    time_t now = time(NULL);
    if (now != w->date_sec) {
        w->date_sec = now;
        sk_date_format(now, w->date);
    }
    *now_out = now;
    return w->date;
}

static void *http_worker_init(void *cfg_)
{
    const sk_http_config_t *cfg = cfg_;
    struct http_worker *w = sk_calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->cfg = cfg;
    w->max_headers = cfg->limits.max_headers ? cfg->limits.max_headers : 1;
    w->headers = sk_calloc(w->max_headers, sizeof(*w->headers));
    if (w->headers == NULL) {
        sk_free(w);
        return NULL;
    }
    if (cfg->access_log != NULL)
        w->log = sk_access_buf_new(cfg->access_log);
    /* Without a cache every request opens its file: slower, still right. */
    w->cache = sk_file_cache_new(1024);
    w->spare_fd = -1;
    spare_refill(w);
    return w;
}

static void http_worker_fini(void *worker)
{
    struct http_worker *w = worker;
    sk_access_buf_free(w->log);
    sk_free(w->headers);
    sk_file_cache_free(w->cache);
    if (w->spare_fd >= 0)
        close(w->spare_fd);
    sk_free(w);
}

static void http_worker_tick(void *worker, uint64_t now_ms)
{
    (void)now_ms;
    struct http_worker *w = worker;
    if (w->log != NULL)
        sk_access_buf_flush(w->log);
}

static int http_open(void *sess_, void *cfg, sk_proto_ctx_t *ctx)
{
    struct http_sess *s = sess_;
    s->cfg = cfg;
    s->head_start_ms = ctx->now_ms;
    if (ctx->peer != NULL && ctx->peer_len <= sizeof(s->peer)) {
        memcpy(&s->peer, ctx->peer, ctx->peer_len);
        s->peer_len = ctx->peer_len;
    } else if (ctx->peer != NULL) {
        s->peer.sa.sa_family = ctx->peer->sa_family;
        s->peer_len = sizeof(sa_family_t);
    }
    return 0;
}

static void http_close(void *sess_)
{
    struct http_sess *s = sess_;
    sk_outq_clear(&s->held);
}

static sk_str_t header_value(const sk_http_request_t *req, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < req->num_headers; i++)
        if (req->headers[i].name.len == n && strncasecmp(req->headers[i].name.ptr, name, n) == 0)
            return req->headers[i].value;
    return (sk_str_t){NULL, 0};
}

static void log_request(struct http_sess *s, struct http_worker *w, const sk_http_request_t *req,
                        const sk__http_req_t *r, uint64_t start_us)
{
    if (w == NULL || w->log == NULL)
        return;
    sk_access_entry_t e = {
        .peer = s->peer_len ? &s->peer.sa : NULL,
        .peer_len = s->peer_len,
        .version_minor = req != NULL ? req->version_minor : 1,
        .status = r->status,
        .bytes = r->body_bytes,
        .when = r->now,
        .duration_us = sk_clock_us() - start_us,
    };
    if (req != NULL) {
        e.method = req->method;
        e.target = req->target;
        e.referer = header_value(req, "Referer");
        e.user_agent = header_value(req, "User-Agent");
    }
    sk_access_buf_add(w->log, &e);
}

/* A response with no extra fields always fits SK_HTTP_HEAD_MAX, so the
 * fallback of a head that overflowed is itself never cut short. */
static int simple_response(sk__http_req_t *r, int status, const char *extra, int too_long)
{
    char body[160];
    const char *text = sk_http_status_text(status);
    size_t blen = 0;
    /* 204 and 304 have no body by definition (RFC 9110 §15.3.5, §15.4.5). */
    bool bodyless = status == 204 || status == 304;
    if (!bodyless) {
        int n =
            snprintf(body, sizeof(body), "<!DOCTYPE html>\n<title>%d %s</title>\n<h1>%d %s</h1>\n",
                     status, text, status, text);
        blen = n > 0 ? (size_t)n : 0;
    }
    sk_http_head_t *h = sk_malloc(sizeof(*h));
    if (h == NULL)
        return -ENOMEM;
    sk_http_head_start(h, status, r->date);
    if (!bodyless) {
        sk_http_head_str(h, "Content-Type: text/html; charset=utf-8\r\n");
        sk_http_head_field_u64(h, "Content-Length", blen);
    }
    if (extra != NULL)
        sk_http_head_str(h, extra);
    sk_http_head_str(
        h, r->keep_alive
               ? (r->req != NULL && r->req->version_minor == 0 ? "Connection: keep-alive\r\n" : "")
               : "Connection: close\r\n");
    int rc = sk__http_head_send(r, h, too_long);
    sk_free(h);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    if (!r->head_only && blen > 0) {
        rc = sk_outq_append(r->out, body, blen);
        r->body_bytes = blen;
    }
    r->status = status;
    return rc;
}

int sk__http_simple(sk__http_req_t *r, int status, const char *extra)
{
    /* Only extra (a Location built from the request target) can make the
     * head too long: the request's doing, so 414. */
    return simple_response(r, status, extra, 414);
}

int sk__http_head_send(sk__http_req_t *r, sk_http_head_t *h, int fallback)
{
    if (sk_http_head_end(h))
        return sk_outq_append(r->out, h->buf, h->len);
    /* Nothing of this response is queued yet (the head goes first), so the
     * fallback replaces it whole. Closing keeps the framing of whatever
     * the client pipelined behind this request out of doubt. */
    r->keep_alive = false;
    r->body_bytes = 0;
    int rc = simple_response(r, fallback, NULL, 500);
    return rc < 0 ? rc : 1;
}

/* Answers status and closes: the framing of anything after the request
 * is unknown (or the client is too slow to keep). */
static int reject_status(struct http_sess *s, sk_proto_ctx_t *ctx, struct http_worker *w,
                         int status)
{
    time_t now;
    char fallback[SK_DATE_LEN + 1];
    const char *date;
    if (w != NULL) {
        date = worker_date(w, &now);
    } else {
        now = time(NULL);
        sk_date_format(now, fallback);
        date = fallback;
    }
    sk__http_req_t r = {.cfg = s->cfg, .out = ctx->out, .date = date, .now = now};
    uint64_t start = sk_clock_us();
    int rc = sk__http_simple(&r, status, NULL);
    log_request(s, w, NULL, &r, start);
    return rc < 0 ? rc : SK_PROTO_CLOSE;
}

/* A request the parser refused: the status its reason maps to. */
static int http_reject(struct http_sess *s, sk_proto_ctx_t *ctx, struct http_worker *w,
                       enum sk_http_error why)
{
    return reject_status(s, ctx, w, sk_http_error_status(why));
}

/* Builds the response to req into out. *keep_alive says whether the
 * connection may stay open; the response may clear it (a head that did
 * not fit was replaced by an error that closes). */
static int respond(struct http_sess *s, const sk_http_request_t *req, sk_outq_t *out,
                   struct http_worker *w, bool *keep_alive)
{
    time_t now;
    char fallback[SK_DATE_LEN + 1];
    const char *date;
    if (w != NULL) {
        date = worker_date(w, &now);
    } else {
        now = time(NULL);
        sk_date_format(now, fallback);
        date = fallback;
    }
    uint64_t start = w != NULL && w->log != NULL ? sk_clock_us() : 0;
    sk__http_req_t r = {
        .cfg = s->cfg,
        .req = req,
        .out = out,
        .date = date,
        .now = now,
        .keep_alive = *keep_alive,
        .head_only = req->method_id == SK_HTTP_HEAD,
        .cache = w != NULL ? w->cache : NULL,
        .spare_fd = w != NULL ? &w->spare_fd : NULL,
    };
    int rc;
    switch (req->method_id) {
    case SK_HTTP_GET:
    case SK_HTTP_HEAD:
        rc = sk__http_static(&r);
        break;
    case SK_HTTP_OPTIONS:
        rc = sk__http_simple(&r, 204, "Allow: GET, HEAD, OPTIONS\r\n");
        break;
    case SK_HTTP_UNKNOWN:
        rc = sk__http_simple(&r, 501, NULL);
        break;
    default:
        /* RFC 9110 §15.5.6: 405 carries the methods that are allowed. */
        rc = sk__http_simple(&r, 405, "Allow: GET, HEAD, OPTIONS\r\n");
        break;
    }
    log_request(s, w, req, &r, start);
    if (w != NULL)
        spare_refill(w);
    *keep_alive = r.keep_alive;
    return rc;
}

/* The request body has been read: the held response may go. */
static int body_done(struct http_sess *s, sk_proto_ctx_t *ctx)
{
    sk_outq_move(ctx->out, &s->held);
    s->state = S_HEAD;
    s->head_start_ms = 0;
    s->body_end_ms = 0;
    return s->close_after ? SK_PROTO_CLOSE : SK_PROTO_OK;
}

static int body_too_large(struct http_sess *s, sk_proto_ctx_t *ctx)
{
    sk_outq_clear(&s->held);
    return http_reject(s, ctx, ctx->worker, SK_HTTP_E_BODY_TOO_LARGE);
}

static int http_input(void *sess_, const char *data, size_t len, size_t *consumed,
                      sk_proto_ctx_t *ctx)
{
    struct http_sess *s = sess_;
    struct http_worker *w = ctx->worker;

    /* Bytes that arrive after the phase's deadline are refused here, so a
     * client trickling one byte per read is cut off on every engine, not
     * only where a timer fires between reads. The held response has not
     * started, so the client is told why (RFC 9110 §15.5.9). */
    if (s->state != S_HEAD && s->body_end_ms != 0 && ctx->now_ms >= s->body_end_ms) {
        sk_outq_clear(&s->held);
        *consumed = len;
        return reject_status(s, ctx, w, 408);
    }
    if (s->state == S_HEAD && s->partial && s->cfg->header_timeout_ms != 0 &&
        ctx->now_ms >= s->head_start_ms + s->cfg->header_timeout_ms) {
        *consumed = len;
        return reject_status(s, ctx, w, 408);
    }

    if (s->state == S_BODY_LENGTH) {
        size_t take = len < s->body_left ? len : (size_t)s->body_left;
        s->body_left -= take;
        *consumed = take;
        return s->body_left == 0 ? body_done(s, ctx) : SK_PROTO_OK;
    }
    if (s->state == S_BODY_CHUNKED) {
        size_t used = 0;
        uint64_t body = 0;
        int rc = sk_http_chunked_decode(&s->chunked, data, len, &used, &body);
        *consumed = used;
        if (body > s->cfg->limits.max_body)
            return body_too_large(s, ctx);
        if (rc == SK_AGAIN)
            return SK_PROTO_OK;
        if (rc < 0) {
            sk_outq_clear(&s->held);
            *consumed = len;
            return http_reject(s, ctx, w, SK_HTTP_E_REQUEST_LINE);
        }
        return body_done(s, ctx);
    }

    if (w == NULL)
        return -ENOMEM; /* the worker's state could not be allocated */
    if (!s->partial) {
        s->partial = true;
        s->head_start_ms = ctx->now_ms;
    }
    sk_http_request_t req;
    enum sk_http_error why = SK_HTTP_E_NONE;
    int n =
        sk_http_parse_request(data, len, &s->cfg->limits, &req, w->headers, w->max_headers, &why);
    if (n == SK_AGAIN) {
        *consumed = 0;
        return SK_PROTO_OK;
    }
    if (n < 0) {
        *consumed = len;
        return http_reject(s, ctx, w, why);
    }
    *consumed = (size_t)n;
    s->partial = false;
    bool keep = req.keep_alive && !ctx->draining;
    bool has_body = req.chunked || (req.has_content_length && req.content_length > 0);
    if (!has_body) {
        s->head_start_ms = 0;
        int rc = respond(s, &req, ctx->out, w, &keep);
        if (rc < 0)
            return rc;
        return keep ? SK_PROTO_OK : SK_PROTO_CLOSE;
    }
    /* The response waits until the body is read, so a body over --max-body
     * can still be answered with 413 instead of it. */
    int rc = respond(s, &req, &s->held, w, &keep);
    if (rc < 0)
        return rc;
    s->close_after = !keep;
    /* RFC 9112 gives no bound; ours is absolute so a body trickled a byte
     * at a time cannot hold the connection for days. */
    s->body_end_ms = s->cfg->body_timeout_ms ? ctx->now_ms + s->cfg->body_timeout_ms : 0;
    if (req.chunked) {
        s->state = S_BODY_CHUNKED;
        sk_http_chunked_init(&s->chunked);
    } else {
        s->state = S_BODY_LENGTH;
        s->body_left = req.content_length;
    }
    return SK_PROTO_OK;
}

static uint64_t http_deadline(void *sess_, uint64_t last_ms, bool pending)
{
    struct http_sess *s = sess_;
    const sk_http_config_t *cfg = s->cfg;
    if (pending)
        return cfg->send_timeout_ms ? last_ms + cfg->send_timeout_ms : 0;
    /* The body phase: the whole body by body_end_ms, however it trickles. */
    if (s->state != S_HEAD)
        return s->body_end_ms;
    /* A head (or a new connection's first one) must be complete within the
     * header timeout counted from its start, however slowly it trickles in:
     * that is what stops slowloris. */
    if (s->partial || s->head_start_ms != 0)
        return cfg->header_timeout_ms ? s->head_start_ms + cfg->header_timeout_ms : 0;
    return cfg->idle_timeout_ms ? last_ms + cfg->idle_timeout_ms : 0;
}

/* A phase deadline passed with nothing being sent. A client in the middle
 * of a head or a body is told why (RFC 9110 §15.5.9: 408); an idle
 * keep-alive connection, or one that never sent a byte, just closes, as
 * nginx does. */
static void http_timeout(void *sess_, sk_proto_ctx_t *ctx, bool output_pending)
{
    struct http_sess *s = sess_;
    if (output_pending)
        return;
    if (s->state != S_HEAD) {
        sk_outq_clear(&s->held);
        (void)reject_status(s, ctx, ctx->worker, 408);
    } else if (s->partial) {
        (void)reject_status(s, ctx, ctx->worker, 408);
    }
}

static bool http_idle(void *sess_)
{
    struct http_sess *s = sess_;
    return s->state == S_HEAD && !s->partial && sk_outq_empty(&s->held);
}

static const sk_proto_t http_proto = {
    .name = "http",
    .session_size = sizeof(struct http_sess),
    .open = http_open,
    .input = http_input,
    .deadline_ms = http_deadline,
    .timeout = http_timeout,
    .idle = http_idle,
    .close = http_close,
};

void sk_http_config_defaults(sk_http_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->root_fd = -1;
    cfg->limits.max_header_bytes = SK_HTTP_DEFAULT_MAX_HEADER_BYTES;
    cfg->limits.max_headers = SK_HTTP_DEFAULT_MAX_HEADERS;
    cfg->limits.max_body = SK_HTTP_DEFAULT_MAX_BODY;
    cfg->header_timeout_ms = 10000;
    cfg->body_timeout_ms = 30000;
    cfg->idle_timeout_ms = 60000;
    cfg->send_timeout_ms = 60000;
    cfg->index = "index.html";
}

int sk_http_config_open(sk_http_config_t *cfg, const char *root, struct sk_err *err)
{
    cfg->root = root;
    cfg->root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cfg->root_fd < 0)
        return sk_err_set(err, -errno, "root '%s': %s", root, strerror(errno));
    cfg->mime = sk_mime_new();
    if (cfg->mime == NULL)
        return sk_err_set(err, -ENOMEM, "out of memory");
    /* The host's table only adds extensions; a missing file is fine. */
    sk_mime_load_file(cfg->mime, "/etc/mime.types");
    cfg->service = (sk_service_t){
        .stream = &http_proto,
        .cfg = cfg,
        .worker_init = http_worker_init,
        .worker_fini = http_worker_fini,
        .worker_tick = http_worker_tick,
    };
    return 0;
}

void sk_http_config_close(sk_http_config_t *cfg)
{
    if (cfg->root_fd >= 0)
        close(cfg->root_fd);
    cfg->root_fd = -1;
    sk_mime_free(cfg->mime);
    cfg->mime = NULL;
}
