/* http_response.c -- HTTP/1.1 response head parser and body decoder for
 * clients (see http_response.h).
 *
 * The head is parsed a line at a time: memchr finds each LF (the C library
 * scans many bytes per step), then one class scan validates the line. The
 * fields that decide framing are interpreted once the head is complete, so a
 * folded or repeated field is seen whole. The body decoder is O(1) per call
 * except for chunked data, which is moved down in place over its framing. */
#include "proto/http_response.h"

#include <string.h>

#include "core/error.h"
#include "proto/token.h"

/* Derived-field state beyond what the response records. */
struct derived {
    bool conn_close, conn_keep_alive, chunked_seen;
};

/* Returns the end of the line starting at p (before CR LF or a bare LF) and
 * sets *next past its LF, or returns NULL when no LF is in [p, end). */
static inline const char *line_end(const char *p, const char *end, const char **next)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL)
        return NULL;
    *next = nl + 1;
    return nl > p && nl[-1] == '\r' ? nl - 1 : nl;
}

/* A field value's bytes: field-vchar, SP, HTAB; CR only as a bare CR error. */
static enum sk_http_resp_error check_value(const char *p, const char *end)
{
    const char *q = sk_tok_skip(p, end, SK_TOK_FIELD_VALUE);
    if (q == end)
        return SK_HTTP_RE_NONE;
    return *q == '\r' ? SK_HTTP_RE_BARE_CR : SK_HTTP_RE_HEADER_VALUE;
}

/* status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112
 * §4). The SP before an empty reason is often left out; accept that, as
 * every browser does. */
static enum sk_http_resp_error status_line(const char *p, const char *le, sk_http_response_t *r)
{
    if (le - p < 12 || memcmp(p, "HTTP/", 5) != 0)
        return le - p >= 5 && memcmp(p, "HTTP/", 5) == 0 ? SK_HTTP_RE_STATUS_LINE
                                                         : SK_HTTP_RE_NOT_HTTP;
    if (!SK_TOK_IS(p[5], SK_TOK_DIGIT) || p[6] != '.' || !SK_TOK_IS(p[7], SK_TOK_DIGIT))
        return SK_HTTP_RE_VERSION;
    if (p[5] != '1')
        return SK_HTTP_RE_VERSION; /* HTTP/2 and later never speak this syntax */
    r->version_minor = p[7] == '0' ? 0 : 1;
    if (p[8] != ' ')
        return SK_HTTP_RE_STATUS_LINE;
    const char *c = p + 9;
    if (!SK_TOK_IS(c[0], SK_TOK_DIGIT) || !SK_TOK_IS(c[1], SK_TOK_DIGIT) ||
        !SK_TOK_IS(c[2], SK_TOK_DIGIT) || c[0] < '1' || c[0] > '5')
        return SK_HTTP_RE_STATUS;
    r->status = (c[0] - '0') * 100 + (c[1] - '0') * 10 + (c[2] - '0');
    c += 3;
    if (c < le && *c != ' ')
        return SK_HTTP_RE_STATUS;
    if (c < le)
        c++;
    enum sk_http_resp_error e = check_value(c, le);
    if (e != SK_HTTP_RE_NONE)
        return e == SK_HTTP_RE_HEADER_VALUE ? SK_HTTP_RE_STATUS_LINE : e;
    r->reason.ptr = c;
    r->reason.len = (size_t)(le - c);
    return SK_HTTP_RE_NONE;
}

/* Transfer-Encoding (RFC 9112 §6.1, §6.3): chunked only as the final coding
 * and only once. A response whose final coding is not chunked is read until
 * the connection closes; te_other tells the caller it cannot decode it. */
static enum sk_http_resp_error transfer_encoding(sk_http_response_t *r, struct derived *d,
                                                 const sk_str_t *v)
{
    sk_tok_list_t it;
    sk_str_t el;
    r->te_present = true;
    sk_tok_list_init(&it, v->ptr, v->len);
    while (sk_tok_list_next(&it, &el)) {
        if (sk_tok_skip(el.ptr, el.ptr + el.len, SK_TOK_TCHAR) != el.ptr + el.len)
            return SK_HTTP_RE_TE_INVALID;
        if (SK_TOK_EQ(el.ptr, el.len, "chunked")) {
            if (d->chunked_seen)
                return SK_HTTP_RE_TE_INVALID; /* §7: never applied twice */
            d->chunked_seen = true;
            r->chunked = true;
        } else {
            r->chunked = false;
            r->te_other = true;
        }
    }
    return SK_HTTP_RE_NONE;
}

static void connection(struct derived *d, const sk_str_t *v)
{
    sk_tok_list_t it;
    sk_str_t el;
    sk_tok_list_init(&it, v->ptr, v->len);
    while (sk_tok_list_next(&it, &el)) {
        size_t n = (size_t)(sk_tok_skip(el.ptr, el.ptr + el.len, SK_TOK_TCHAR) - el.ptr);
        if (SK_TOK_EQ(el.ptr, n, "close"))
            d->conn_close = true;
        else if (SK_TOK_EQ(el.ptr, n, "keep-alive"))
            d->conn_keep_alive = true;
    }
}

static inline void set_first(sk_str_t *dst, const sk_str_t *v)
{
    if (dst->ptr == NULL)
        *dst = *v;
}

/* Interprets the fields of the final head. */
static enum sk_http_resp_error derive(sk_http_response_t *r)
{
    struct derived d = {0};
    enum sk_http_resp_error e;
    for (size_t i = 0; i < r->num_headers; i++) {
        const char *n = r->headers[i].name.ptr;
        const sk_str_t *v = &r->headers[i].value;
        switch (r->headers[i].name.len) {
        case 8:
            if (sk_tok_lower_eq(n, "location", 8))
                set_first(&r->location, v);
            break;
        case 10:
            if (sk_tok_lower_eq(n, "connection", 10))
                connection(&d, v);
            break;
        case 12:
            if (sk_tok_lower_eq(n, "content-type", 12))
                set_first(&r->content_type, v);
            break;
        case 14:
            if (sk_tok_lower_eq(n, "content-length", 14)) {
                switch (sk_tok_content_length(v->ptr, v->len, &r->has_content_length,
                                              &r->content_length)) {
                case SK_TOK_CL_OK:
                    break;
                case SK_TOK_CL_CONFLICT:
                    return SK_HTTP_RE_CL_CONFLICT;
                default:
                    return SK_HTTP_RE_CONTENT_LENGTH;
                }
            }
            break;
        case 16:
            if (sk_tok_lower_eq(n, "content-encoding", 16))
                set_first(&r->content_encoding, v);
            break;
        case 17:
            if (sk_tok_lower_eq(n, "transfer-encoding", 17) &&
                (e = transfer_encoding(r, &d, v)) != SK_HTTP_RE_NONE)
                return e;
            break;
        }
    }
    /* RFC 9112 §6.1: Transfer-Encoding in a 1.0 message means the framing
     * is faulty. */
    if (r->te_present && r->version_minor == 0)
        return SK_HTTP_RE_TE_HTTP10;
    r->keep_alive = !d.conn_close && (r->version_minor == 1 || d.conn_keep_alive);
    /* §6.3: Transfer-Encoding overrides Content-Length, and a message with
     * both may be a smuggling attempt, so the connection is not reused. A
     * final coding other than chunked is read until close. */
    if (r->te_present) {
        if (r->has_content_length)
            r->keep_alive = false;
        r->has_content_length = false;
        r->content_length = 0;
        if (!r->chunked)
            r->keep_alive = false;
    }
    return SK_HTTP_RE_NONE;
}

/* Parses one head (status line and fields) from p. Returns the bytes after
 * its empty line, or NULL with *e set (SK_HTTP_RE_NONE: incomplete). */
static const char *one_head(const char *p, const char *end, sk_http_response_t *r,
                            size_t max_fields, enum sk_http_resp_error *e)
{
    const char *next;
    const char *le = line_end(p, end, &next);
    *e = SK_HTTP_RE_NONE;
    if (le == NULL)
        return NULL;
    if ((*e = status_line(p, le, r)) != SK_HTTP_RE_NONE)
        return NULL;
    p = next;
    for (;;) {
        le = line_end(p, end, &next);
        if (le == NULL)
            return NULL;
        if (le == p)
            return next; /* the empty line */
        if (*p == ' ' || *p == '\t') {
            /* RFC 9112 §5.2: a user agent replaces obs-fold with SP; the
             * value span simply grows over the fold. A fold before any
             * field is whitespace after the start-line (§2.2): invalid. */
            if (r->num_headers == 0) {
                *e = SK_HTTP_RE_HEADER_NAME;
                return NULL;
            }
            if ((*e = check_value(p, le)) != SK_HTTP_RE_NONE)
                return NULL;
            sk_http_header_t *h = &r->headers[r->num_headers - 1];
            const char *ve = le;
            while (ve > p && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if (ve > p) {
                if (h->value.len == 0)
                    h->value.ptr = sk_tok_skip_ows(p, ve);
                h->value.len = (size_t)(ve - h->value.ptr);
            }
            p = next;
            continue;
        }
        if (r->num_headers == max_fields) {
            *e = SK_HTTP_RE_TOO_MANY_HEADERS;
            return NULL;
        }
        const char *name = p;
        p = sk_tok_skip(p, le, SK_TOK_TCHAR);
        if (p == le || *p != ':' || p == name) {
            *e = p < le && (*p == ' ' || *p == '\t') && p != name ? SK_HTTP_RE_SPACE_BEFORE_COLON
                 : p < le && *p == '\r'                           ? SK_HTTP_RE_BARE_CR
                                                                  : SK_HTTP_RE_HEADER_NAME;
            return NULL;
        }
        sk_http_header_t *h = &r->headers[r->num_headers++];
        h->name.ptr = name;
        h->name.len = (size_t)(p - name);
        const char *v = sk_tok_skip_ows(p + 1, le);
        if ((*e = check_value(v, le)) != SK_HTTP_RE_NONE)
            return NULL;
        const char *ve = le;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        h->value.ptr = v;
        h->value.len = (size_t)(ve - v);
        p = next;
    }
}

int sk_http_response_parse(const char *buf, size_t len, const sk_http_resp_limits_t *lim,
                           sk_http_response_t *resp, sk_http_header_t *headers, size_t max_headers,
                           enum sk_http_resp_error *why)
{
    size_t max_bytes = SK_HTTP_RESP_DEFAULT_MAX_HEADER_BYTES;
    size_t max_fields = SK_HTTP_RESP_DEFAULT_MAX_HEADERS;
    if (lim != NULL) {
        if (lim->max_header_bytes != 0)
            max_bytes = lim->max_header_bytes;
        if (lim->max_headers != 0)
            max_fields = lim->max_headers;
    }
    if (max_headers < max_fields)
        max_fields = max_headers;
    memset(resp, 0, sizeof(*resp));
    resp->headers = headers;
    enum sk_http_resp_error e = SK_HTTP_RE_NONE;
    if (len == 0)
        return SK_AGAIN;

    /* Say at once when the peer is not speaking HTTP: a TLS record (0x16
     * handshake, 0x15 alert) means an https port, anything else that is not
     * a prefix of "HTTP/" is some other protocol. */
    if ((unsigned char)buf[0] == 0x16 || (unsigned char)buf[0] == 0x15) {
        e = SK_HTTP_RE_TLS;
        goto fail;
    }
    size_t pre = len < 5 ? len : 5;
    if (memcmp(buf, "HTTP/", pre) != 0) {
        e = SK_HTTP_RE_NOT_HTTP;
        goto fail;
    }

    const char *p = buf, *end = buf + (len < max_bytes ? len : max_bytes);
    for (;;) {
        resp->num_headers = 0;
        resp->reason = (sk_str_t){0};
        const char *next = one_head(p, end, resp, max_fields, &e);
        if (next == NULL) {
            if (e != SK_HTTP_RE_NONE)
                goto fail;
            if (len >= max_bytes) {
                e = SK_HTTP_RE_HEAD_TOO_LARGE;
                goto fail;
            }
            return SK_AGAIN;
        }
        p = next;
        /* RFC 9110 §15.2: a client must be able to parse and ignore 1xx
         * interim responses before the final one. 101 ends HTTP on this
         * connection, so it is final. */
        if (resp->status >= 200 || resp->status == 101)
            break;
        resp->interim++;
        resp->interim_bytes = (size_t)(p - buf);
    }
    if ((e = derive(resp)) != SK_HTTP_RE_NONE)
        goto fail;
    if (why != NULL)
        *why = SK_HTTP_RE_NONE;
    return (int)(p - buf);

fail:
    if (why != NULL)
        *why = e;
    return SK_EPARSE;
}

const sk_str_t *sk_http_response_header(const sk_http_response_t *resp, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < resp->num_headers; i++)
        if (resp->headers[i].name.len == n && sk_tok_lower_eq(resp->headers[i].name.ptr, name, n))
            return &resp->headers[i].value;
    return NULL;
}

const char *sk_http_resp_error_reason(enum sk_http_resp_error why)
{
    switch (why) {
    case SK_HTTP_RE_NONE:
        return "ok";
    case SK_HTTP_RE_NOT_HTTP:
        return "the server did not answer with HTTP";
    case SK_HTTP_RE_TLS:
        return "the server answered with TLS (is it an https:// port?)";
    case SK_HTTP_RE_VERSION:
        return "unsupported HTTP version in the status line";
    case SK_HTTP_RE_STATUS:
        return "invalid status code";
    case SK_HTTP_RE_STATUS_LINE:
        return "malformed status line";
    case SK_HTTP_RE_HEAD_TOO_LARGE:
        return "response head too large";
    case SK_HTTP_RE_TOO_MANY_HEADERS:
        return "too many header fields in the response";
    case SK_HTTP_RE_BARE_CR:
        return "bare CR in the response head";
    case SK_HTTP_RE_HEADER_NAME:
        return "invalid header name in the response";
    case SK_HTTP_RE_SPACE_BEFORE_COLON:
        return "whitespace before colon in a response header";
    case SK_HTTP_RE_HEADER_VALUE:
        return "invalid byte in a response header value";
    case SK_HTTP_RE_CONTENT_LENGTH:
        return "invalid Content-Length in the response";
    case SK_HTTP_RE_CL_CONFLICT:
        return "conflicting Content-Length values in the response";
    case SK_HTTP_RE_TE_INVALID:
        return "malformed Transfer-Encoding in the response";
    case SK_HTTP_RE_TE_HTTP10:
        return "Transfer-Encoding in an HTTP/1.0 response";
    case SK_HTTP_RE_CHUNKED:
        return "malformed chunked body";
    }
    return "malformed response";
}

void sk_http_body_init(sk_http_body_t *b, const sk_http_response_t *resp, bool head_request)
{
    memset(b, 0, sizeof(*b));
    /* RFC 9112 §6.3 rules 1-5, in order. */
    if (head_request || resp->status < 200 || resp->status == 204 || resp->status == 304)
        b->kind = SK_HTTP_BODY_NONE;
    else if (resp->te_present)
        b->kind = resp->chunked ? SK_HTTP_BODY_CHUNKED : SK_HTTP_BODY_CLOSE;
    else if (resp->has_content_length)
        b->kind = SK_HTTP_BODY_LENGTH;
    else
        b->kind = SK_HTTP_BODY_CLOSE;
    b->remaining = b->kind == SK_HTTP_BODY_LENGTH ? resp->content_length : 0;
    b->done = b->kind == SK_HTTP_BODY_NONE || (b->kind == SK_HTTP_BODY_LENGTH && b->remaining == 0);
}

int sk_http_body_decode(sk_http_body_t *b, char *buf, size_t len, size_t *consumed,
                        size_t *data_len)
{
    *consumed = 0;
    *data_len = 0;
    if (b->done)
        return 1;
    switch (b->kind) {
    case SK_HTTP_BODY_LENGTH: {
        size_t n = b->remaining < len ? (size_t)b->remaining : len;
        b->remaining -= n;
        b->received += n;
        *consumed = *data_len = n;
        b->done = b->remaining == 0;
        return b->done ? 1 : SK_AGAIN;
    }
    case SK_HTTP_BODY_CHUNKED: {
        int rc = sk_http_chunked_decode_inplace(&b->chunked, buf, len, consumed, data_len);
        b->received += *data_len;
        b->done = rc == 1;
        return rc;
    }
    case SK_HTTP_BODY_CLOSE:
        b->received += len;
        *consumed = *data_len = len;
        return SK_AGAIN;
    case SK_HTTP_BODY_NONE:
        break;
    }
    return 1;
}

int sk_http_body_eof(sk_http_body_t *b)
{
    if (b->kind == SK_HTTP_BODY_CLOSE)
        b->done = true;
    return b->done ? 0 : SK_EEOF;
}
