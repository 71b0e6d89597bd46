/* http_session.h -- drives a stream protocol (the HTTP session) through
 * its sans-I/O sk_proto_t interface the way a connection driver does, with
 * a real sk_outq_t, and checks the framing of what it wrote. Shared by
 * tests/unit/serve/test_http.c and fuzz/fuzz_http_session.c (static
 * functions only; include once per program).
 *
 * The driver rules it copies: unconsumed input is kept and offered again
 * with the next bytes; input() is called again while it consumes and
 * returns SK_PROTO_OK; SK_PROTO_CLOSE or a negative result ends the
 * session (the output queue is still flushed, as a driver would). */
#ifndef SK_TESTS_HTTP_SESSION_H
#define SK_TESTS_HTTP_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/outq.h"
#include "core/proto.h"
#include "core/server.h"
#include "proto/http_response.h"
#include "proto/http_write.h"
#include "proto/token.h"

typedef struct hs {
    const sk_service_t *svc;
    void *worker; /* the service's per-worker state, or NULL */
    void *sess;
    sk_outq_t out;
    sk_proto_ctx_t ctx;
    sk_buf_t in;   /* bytes offered but not consumed yet */
    sk_buf_t wire; /* everything the session wrote, drained from out */
    bool open;     /* open() succeeded */
    bool closed;   /* CLOSE or an error ended the session */
    int end_rc;    /* the result that ended it */
} hs_t;

/* Starts a session of svc at time now_ms (worker may be NULL). Returns
 * open()'s result. */
static inline int hs_open(hs_t *h, const sk_service_t *svc, void *worker, uint64_t now_ms)
{
    memset(h, 0, sizeof(*h));
    h->svc = svc;
    h->worker = worker;
    sk_outq_init(&h->out);
    sk_buf_init(&h->in);
    sk_buf_init(&h->wire);
    h->ctx.out = &h->out;
    h->ctx.now_ms = now_ms;
    h->ctx.worker = worker;
    h->sess = calloc(1, svc->stream->session_size ? svc->stream->session_size : 1);
    if (h->sess == NULL)
        return -12; /* ENOMEM */
    int rc = svc->stream->open != NULL ? svc->stream->open(h->sess, svc->cfg, &h->ctx) : 0;
    h->open = rc == 0;
    if (rc != 0) {
        h->closed = true;
        h->end_rc = rc;
    }
    return rc;
}

/* Moves the output queue's bytes (memory and file ranges) to h->wire.
 * Returns 0 or a negative errno (a file range that could not be read, or
 * no memory for the copy). */
static inline int hs_drain(hs_t *h)
{
    char buf[16384];
    while (!sk_outq_empty(&h->out)) {
        ssize_t n = sk_outq_peek(&h->out, buf, sizeof(buf));
        if (n < 0)
            return (int)n;
        if (n == 0)
            return -5; /* EIO: a queued file range shrank */
        if (sk_buf_append(&h->wire, buf, (size_t)n) < 0)
            return -12;
        sk_outq_consume(&h->out, (uint64_t)n);
    }
    return 0;
}

/* Offers n more bytes at time now_ms and runs input() as a driver would.
 * Returns the last result of input() (SK_PROTO_OK while the session
 * lives), or hs_drain's error. */
static inline int hs_feed(hs_t *h, const char *p, size_t n, uint64_t now_ms)
{
    if (h->closed)
        return h->end_rc;
    h->ctx.now_ms = now_ms;
    if (n > 0 && sk_buf_append(&h->in, p, n) < 0)
        return -12;
    int rc = SK_PROTO_OK;
    while (h->in.len > 0) {
        size_t used = 0;
        rc = h->svc->stream->input(h->sess, sk_buf_head(&h->in), h->in.len, &used, &h->ctx);
        if (used > h->in.len)
            abort(); /* the contract: a prefix of what was offered */
        sk_buf_consume(&h->in, used);
        if (rc != SK_PROTO_OK) {
            h->closed = true;
            h->end_rc = rc;
            break;
        }
        if (used == 0)
            break;
    }
    int d = hs_drain(h);
    return d < 0 ? d : rc;
}

/* The session's deadline now (0: none), as the driver asks for it. */
static inline uint64_t hs_deadline(hs_t *h, uint64_t last_ms)
{
    const sk_proto_t *p = h->svc->stream;
    return p->deadline_ms != NULL ? p->deadline_ms(h->sess, last_ms, !sk_outq_empty(&h->out)) : 0;
}

static inline void hs_close(hs_t *h)
{
    if (h->open && h->svc->stream->close != NULL)
        h->svc->stream->close(h->sess);
    sk_outq_clear(&h->out);
    free(h->sess);
    sk_buf_fini(&h->in);
    sk_buf_fini(&h->wire);
    memset(h, 0, sizeof(*h));
}

/* Blanks every Date value (29 bytes) so outputs of runs that straddle a
 * second compare equal. */
static inline void hs_blank_dates(char *w, size_t n)
{
    for (char *p = w; (p = memmem(p, n - (size_t)(p - w), "\r\nDate: ", 8)) != NULL; p += 8)
        if ((size_t)(p - w) + 8 + 29 <= n)
            memset(p + 8, '-', 29);
}

/* --- response framing ------------------------------------------------- */

typedef struct hs_resp {
    int status;
    bool close;        /* Connection: close */
    uint64_t body_len; /* bytes of body that followed the head */
    size_t head_off, head_len, body_off;
} hs_resp_t;

/* Checks that w[0, n) is a sequence of complete, well-formed HTTP/1.1
 * responses, as the shared client parser (proto/http_response.h) reads
 * them, plus what this server promises beyond what a client must accept:
 * every line ends in CRLF (no bare LF, no obs-fold), the head fits
 * SK_HTTP_HEAD_MAX, no 1xx, no Transfer-Encoding, exactly one
 * Content-Length (except 204 and 304) followed by exactly that many body
 * bytes, and nothing after a `Connection: close` response.
 * head_only_possible relaxes one thing: a response to HEAD carries
 * Content-Length with no body, so when the input may have held HEAD
 * requests a response is also accepted bodiless if what follows is the
 * next response or the end. Fills up to max responses. Returns the count,
 * or -1 with *why set. */
static inline int hs_check_framing(const char *w, size_t n, bool head_only_possible, hs_resp_t *out,
                                   size_t max, const char **why)
{
    static const sk_http_resp_limits_t lim = {.max_header_bytes = SK_HTTP_HEAD_MAX};
    sk_http_header_t hdrs[64];
    size_t off = 0;
    int count = 0;
    bool closed = false;
    while (off < n) {
        if (closed) {
            *why = "bytes after a Connection: close response";
            return -1;
        }
        sk_http_response_t resp;
        enum sk_http_resp_error e = SK_HTTP_RE_NONE;
        int used = sk_http_response_parse(w + off, n - off, &lim, &resp, hdrs, 64, &e);
        if (used == SK_AGAIN) {
            *why = "response head not terminated by a blank line";
            return -1;
        }
        if (used < 0) {
            *why = sk_http_resp_error_reason(e);
            return -1;
        }
        if (resp.version_minor != 1 || resp.interim != 0) {
            *why = "not an HTTP/1.1 final response";
            return -1;
        }
        for (int i = 0; i < used; i++) {
            if (w[off + (size_t)i] == '\n' && (i == 0 || w[off + (size_t)i - 1] != '\r')) {
                *why = "line not ended by CRLF";
                return -1;
            }
            if (i > 0 && w[off + (size_t)i - 1] == '\n' &&
                (w[off + (size_t)i] == ' ' || w[off + (size_t)i] == '\t')) {
                *why = "obs-fold in a response head";
                return -1;
            }
        }
        if (resp.te_present) {
            *why = "Transfer-Encoding in a response (the server never chunks)";
            return -1;
        }
        int cls = 0;
        for (size_t i = 0; i < resp.num_headers; i++)
            cls +=
                hdrs[i].name.len == 14 && sk_tok_lower_eq(hdrs[i].name.ptr, "content-length", 14);
        hs_resp_t r = {.status = resp.status, .close = !resp.keep_alive};
        bool bodyless = r.status == 204 || r.status == 304;
        if (bodyless ? cls > 1 : cls != 1) {
            *why = "Content-Length missing or repeated";
            return -1;
        }
        r.head_off = off;
        r.head_len = (size_t)used;
        r.body_off = off + r.head_len;
        uint64_t body = bodyless ? 0 : resp.content_length;
        if (head_only_possible && body > 0) {
            /* A HEAD response: nothing, or the next response, follows;
             * preferred only when the full body would not fit that way. */
            size_t after = r.body_off;
            bool full_ok = body <= n - after &&
                           (after + body == n || (n - after - body >= 9 &&
                                                  memcmp(w + after + body, "HTTP/1.1 ", 9) == 0));
            bool empty_ok =
                after == n || (n - after >= 9 && memcmp(w + after, "HTTP/1.1 ", 9) == 0);
            if (!full_ok && empty_ok)
                body = 0;
        }
        if (body > n - r.body_off) {
            *why = "fewer body bytes than Content-Length";
            return -1;
        }
        r.body_len = body;
        if ((size_t)count < max)
            out[count] = r;
        count++;
        off = r.body_off + (size_t)body;
        closed = r.close;
    }
    return count;
}

#endif
