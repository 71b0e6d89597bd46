/* http_parse.c -- strict, non-allocating HTTP/1.1 request-head parser.
 *
 * One pass over the head with a pointer and a limit; byte classes come from a
 * 256-entry table and header values are scanned 16 bytes at a time with SSE2.
 * Semantic checks (framing, Host) run as each field is seen, so the request
 * is ready for the server as soon as the empty line is parsed. */
#include "proto/http_parse.h"

#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "core/error.h"
#include "proto/token.h"

/* Byte classes, from the shared table (proto/token.h). C_TARGET: VCHAR
 * except '#' (a fragment never travels in a request-target, RFC 9112 §3.2).
 * C_HOST: the bytes of RFC 3986 host [":" port]. */
enum {
    C_TCHAR = SK_TOK_TCHAR,
    C_TARGET = SK_TOK_TARGET,
    C_VALUE = SK_TOK_FIELD_VALUE,
    C_HOST = SK_TOK_AUTHORITY,
};

#define IS(c, k) SK_TOK_IS(c, k)

/* Advances over bytes of class k, eight per step while eight remain, so the
 * loop condition is tested once per eight bytes. */
static inline const char *skip_class(const char *p, const char *end, unsigned k)
{
    while (end - p >= 8) {
        if (!IS(p[0], k))
            return p;
        if (!IS(p[1], k))
            return p + 1;
        if (!IS(p[2], k))
            return p + 2;
        if (!IS(p[3], k))
            return p + 3;
        if (!IS(p[4], k))
            return p + 4;
        if (!IS(p[5], k))
            return p + 5;
        if (!IS(p[6], k))
            return p + 6;
        if (!IS(p[7], k))
            return p + 7;
        p += 8;
    }
    while (p < end && IS(*p, k))
        p++;
    return p;
}

/* Field values are the bulk of a head. SSE2 finds the first CTL (0x00-0x1f)
 * or DEL in 16 bytes at once; the table then decides (HTAB is allowed). */
static inline const char *skip_value(const char *p, const char *end)
{
#ifdef __SSE2__
    const __m128i ctl_max = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, ctl_max), v);
        int m = _mm_movemask_epi8(_mm_or_si128(ctl, _mm_cmpeq_epi8(v, del)));
        if (m != 0) {
            p += __builtin_ctz((unsigned)m);
            if (*p != '\t')
                return p;
            p++;
            continue;
        }
        p += 16;
    }
#endif
    return skip_class(p, end, C_VALUE);
}

/* Request targets run to tens of bytes: SSE2 stops at the first byte that
 * is not 0x21-0x7e (a signed compare catches 0x80 and up too) or is '#'. */
static inline const char *skip_target(const char *p, const char *end)
{
#ifdef __SSE2__
    const __m128i lo = _mm_set1_epi8(0x21), del = _mm_set1_epi8(0x7f), hash = _mm_set1_epi8('#');
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i bad = _mm_or_si128(_mm_cmplt_epi8(v, lo),
                                   _mm_or_si128(_mm_cmpeq_epi8(v, del), _mm_cmpeq_epi8(v, hash)));
        int m = _mm_movemask_epi8(bad);
        if (m != 0)
            return p + __builtin_ctz((unsigned)m);
        p += 16;
    }
#endif
    return skip_class(p, end, C_TARGET);
}

static bool all_class(const char *s, size_t n, unsigned k)
{
    return skip_class(s, s + n, k) == s + n;
}

static enum sk_http_method method_id(const char *m, size_t n)
{
    switch (n) {
    case 3:
        if (memcmp(m, "GET", 3) == 0)
            return SK_HTTP_GET;
        if (memcmp(m, "PUT", 3) == 0)
            return SK_HTTP_PUT;
        break;
    case 4:
        if (memcmp(m, "HEAD", 4) == 0)
            return SK_HTTP_HEAD;
        if (memcmp(m, "POST", 4) == 0)
            return SK_HTTP_POST;
        break;
    case 5:
        if (memcmp(m, "PATCH", 5) == 0)
            return SK_HTTP_PATCH;
        if (memcmp(m, "TRACE", 5) == 0)
            return SK_HTTP_TRACE;
        break;
    case 6:
        if (memcmp(m, "DELETE", 6) == 0)
            return SK_HTTP_DELETE;
        break;
    case 7:
        if (memcmp(m, "OPTIONS", 7) == 0)
            return SK_HTTP_OPTIONS;
        if (memcmp(m, "CONNECT", 7) == 0)
            return SK_HTTP_CONNECT;
        break;
    }
    return SK_HTTP_UNKNOWN;
}

/* Splits origin-form "/path?query" (RFC 9112 §3.2.1). */
static void split_query(sk_http_request_t *req, const char *s, size_t n)
{
    const char *q = memchr(s, '?', n);
    req->path.ptr = s;
    req->path.len = q != NULL ? (size_t)(q - s) : n;
    if (q != NULL) {
        req->query.ptr = q + 1;
        req->query.len = n - req->path.len - 1;
    }
}

/* Classifies the request-target (RFC 9112 §3.2) and fills path, query and,
 * for absolute- and authority-form, host. Returns a reason or NONE. */
static enum sk_http_error parse_target(sk_http_request_t *req)
{
    const char *t = req->target.ptr;
    size_t n = req->target.len;

    if (req->method_id == SK_HTTP_CONNECT) {
        /* §3.2.3: CONNECT takes authority-form (host:port) and only it. */
        if (t[0] == '/' || memchr(t, ':', n) == NULL || !all_class(t, n, C_HOST))
            return SK_HTTP_E_TARGET;
        req->host = req->target;
        req->path.ptr = t;
        return SK_HTTP_E_NONE;
    }
    if (t[0] == '/') {
        split_query(req, t, n);
        return SK_HTTP_E_NONE;
    }
    if (n == 1 && t[0] == '*') {
        /* §3.2.4: asterisk-form is only for a server-wide OPTIONS. */
        if (req->method_id != SK_HTTP_OPTIONS)
            return SK_HTTP_E_TARGET;
        req->path = req->target;
        return SK_HTTP_E_NONE;
    }
    /* §3.2.2: absolute-form must be accepted; only http and https name
     * resources this server can have. The scheme is case-insensitive. */
    size_t skip;
    if (n >= 7 && sk_tok_lower_eq(t, "http://", 7))
        skip = 7;
    else if (n >= 8 && sk_tok_lower_eq(t, "https://", 8))
        skip = 8;
    else
        return SK_HTTP_E_TARGET;
    const char *a = t + skip, *end = t + n;
    const char *p = skip_class(a, end, C_HOST);
    /* RFC 9110 §4.2.1: an http(s) URI with an empty host is invalid; '@'
     * (userinfo, deprecated by §4.2.4) is not in C_HOST so it lands here. */
    if (p == a || (p < end && *p != '/' && *p != '?'))
        return SK_HTTP_E_HOST_INVALID;
    req->host.ptr = a;
    req->host.len = (size_t)(p - a);
    if (p == end || *p == '?') {
        /* An empty path means "/" (RFC 9110 §4.2.3). */
        req->path.ptr = "/";
        req->path.len = 1;
        if (p < end) {
            req->query.ptr = p + 1;
            req->query.len = (size_t)(end - p - 1);
        }
    } else {
        split_query(req, p, (size_t)(end - p));
    }
    return SK_HTTP_E_NONE;
}

/* Content-Length: a list of identical values counts as one (token.h). */
static enum sk_http_error parse_content_length(sk_http_request_t *req, const char *s, size_t n)
{
    switch (sk_tok_content_length(s, n, &req->has_content_length, &req->content_length)) {
    case SK_TOK_CL_OK:
        return SK_HTTP_E_NONE;
    case SK_TOK_CL_CONFLICT:
        return SK_HTTP_E_CL_CONFLICT;
    default:
        return SK_HTTP_E_CONTENT_LENGTH;
    }
}

/* Transfer-Encoding (RFC 9112 §6.1): chunked must be the final coding and
 * appear once. Other codings we know get 400 through that rule; codings we do
 * not know get 501 (§6.1 SHOULD). Codings with parameters are refused. Empty
 * list elements are skipped (RFC 9110 §5.6.1). *te_chunked carries the state
 * across repeated Transfer-Encoding lines, which form one list. */
static enum sk_http_error parse_transfer_encoding(const char *s, size_t n, bool *te_chunked)
{
    sk_tok_list_t it;
    sk_str_t el;
    sk_tok_list_init(&it, s, n);
    while (sk_tok_list_next(&it, &el)) {
        if (skip_class(el.ptr, el.ptr + el.len, C_TCHAR) != el.ptr + el.len)
            return SK_HTTP_E_TE_INVALID;
        if (*te_chunked)
            return SK_HTTP_E_TE_NOT_CHUNKED; /* a coding after chunked */
        if (SK_TOK_EQ(el.ptr, el.len, "chunked"))
            *te_chunked = true;
        else
            /* Content codings (gzip, deflate, compress) are registered,
             * but a server that would only discard the body still must not
             * claim to understand them: 501 like nginx, which also keeps
             * a front end and sockkit agreeing on the framing. */
            return SK_HTTP_E_TE_UNKNOWN;
    }
    return SK_HTTP_E_NONE;
}

/* Connection is a token list (RFC 9112 §9.3); only close and keep-alive
 * matter here. Bytes after an element's token are ignored, not rejected:
 * the field has no framing role. */
static void parse_connection(const char *s, size_t n, bool *close, bool *keep_alive)
{
    sk_tok_list_t it;
    sk_str_t el;
    sk_tok_list_init(&it, s, n);
    while (sk_tok_list_next(&it, &el)) {
        /* Usually the element is the bare token, which saves a scan. */
        size_t tlen = el.len;
        if (!SK_TOK_EQ(el.ptr, tlen, "keep-alive") && !SK_TOK_EQ(el.ptr, tlen, "close"))
            tlen = (size_t)(skip_class(el.ptr, el.ptr + el.len, C_TCHAR) - el.ptr);
        if (SK_TOK_EQ(el.ptr, tlen, "close"))
            *close = true;
        else if (SK_TOK_EQ(el.ptr, tlen, "keep-alive"))
            *keep_alive = true;
    }
}

/* State the field handlers share beyond what the request itself records. */
struct fields {
    bool has_te, te_chunked, conn_close, conn_keep_alive, target_host;
};

static inline void set_first(sk_str_t *dst, const char *v, size_t n)
{
    if (dst->ptr == NULL) {
        dst->ptr = v;
        dst->len = n;
    }
}

/* Derives request fields from one header line. Dispatch on the name length
 * first keeps the common case (a field we do not care about) to a switch. */
static enum sk_http_error on_field(sk_http_request_t *req, struct fields *f, const char *name,
                                   size_t nlen, const char *v, size_t vlen)
{
    switch (nlen) {
    case 4:
        if (!sk_tok_lower_eq(name, "host", 4))
            break;
        /* RFC 9112 §3.2: more than one Host, or an invalid one, is 400. */
        if (req->has_host)
            return SK_HTTP_E_HOST_DUP;
        if (!all_class(v, vlen, C_HOST))
            return SK_HTTP_E_HOST_INVALID;
        req->has_host = true;
        /* §3.2.2: an absolute-form target's authority overrides Host. */
        if (!f->target_host) {
            req->host.ptr = v;
            req->host.len = vlen;
        }
        break;
    case 5:
        if (sk_tok_lower_eq(name, "range", 5))
            set_first(&req->range, v, vlen);
        break;
    case 8:
        if (sk_tok_lower_eq(name, "if-range", 8))
            set_first(&req->if_range, v, vlen);
        break;
    case 10:
        if (sk_tok_lower_eq(name, "connection", 10)) {
            set_first(&req->connection, v, vlen);
            parse_connection(v, vlen, &f->conn_close, &f->conn_keep_alive);
        }
        break;
    case 13:
        if (sk_tok_lower_eq(name, "if-none-match", 13))
            set_first(&req->if_none_match, v, vlen);
        break;
    case 14:
        if (sk_tok_lower_eq(name, "content-length", 14))
            return parse_content_length(req, v, vlen);
        break;
    case 15:
        if (sk_tok_lower_eq(name, "accept-encoding", 15))
            set_first(&req->accept_encoding, v, vlen);
        break;
    case 17:
        if (sk_tok_lower_eq(name, "transfer-encoding", 17)) {
            f->has_te = true;
            return parse_transfer_encoding(v, vlen, &f->te_chunked);
        }
        if (sk_tok_lower_eq(name, "if-modified-since", 17))
            set_first(&req->if_modified_since, v, vlen);
        break;
    }
    return SK_HTTP_E_NONE;
}

int sk_http_parse_request(const char *buf, size_t len, const sk_http_limits_t *lim,
                          sk_http_request_t *req, sk_http_header_t *headers, size_t max_headers,
                          enum sk_http_error *why)
{
    size_t max_bytes = SK_HTTP_DEFAULT_MAX_HEADER_BYTES;
    size_t max_fields = SK_HTTP_DEFAULT_MAX_HEADERS;
    uint64_t max_body = SK_HTTP_DEFAULT_MAX_BODY;
    if (lim != NULL) {
        if (lim->max_header_bytes != 0)
            max_bytes = lim->max_header_bytes;
        if (lim->max_headers != 0)
            max_fields = lim->max_headers;
        /* Not "zero means default": 0 is a real limit (no body). */
        max_body = lim->max_body;
    }
    if (max_headers < max_fields)
        max_fields = max_headers;

    memset(req, 0, sizeof(*req));
    req->headers = headers;
    if (len == 0)
        return SK_AGAIN; /* and buf may be NULL */

    /* Parsing stops at the limit, so a head that cannot fit fails as soon as
     * the limit's worth of bytes is here, however much more was received. */
    const char *p = buf, *end = buf + (len < max_bytes ? len : max_bytes);
    bool in_request_line = true;
    enum sk_http_error e;
    struct fields f = {0};

    /* RFC 9112 §2.2: a server SHOULD ignore at least one empty line (CRLF)
     * received before the request-line. */
    for (;;) {
        if (p == end)
            goto more;
        if (*p != '\r')
            break;
        if (end - p < 2)
            goto more;
        if (p[1] != '\n') {
            e = SK_HTTP_E_BARE_CR;
            goto fail;
        }
        p += 2;
    }

    /* method SP (RFC 9112 §3). Exactly one SP between the parts: §3 allows
     * lenient whitespace parsing, but strict is the anti-smuggling choice. */
    const char *m = p;
    p = skip_class(p, end, C_TCHAR);
    if (p == end)
        goto more;
    if (*p != ' ' || p == m) {
        e = *p == '\n'               ? SK_HTTP_E_BARE_LF
            : (*p == '\r' && p != m) ? SK_HTTP_E_REQUEST_LINE
                                     : SK_HTTP_E_METHOD;
        goto fail;
    }
    req->method.ptr = m;
    req->method.len = (size_t)(p - m);
    req->method_id = method_id(m, req->method.len);

    /* request-target SP */
    const char *t = ++p;
    p = skip_target(p, end);
    if (p == end)
        goto more;
    if (*p != ' ' || p == t) {
        e = (p != t && (*p == '\r' || *p == '\n')) ? SK_HTTP_E_REQUEST_LINE : SK_HTTP_E_TARGET;
        goto fail;
    }
    req->target.ptr = t;
    req->target.len = (size_t)(p - t);
    p++;

    /* HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (§2.3). Checked
     * byte by byte so a wrong prefix fails before the line is complete. */
    static const char pattern[] = "HTTP/9.9";
    const char *v = p;
    for (int i = 0; i < 8; i++, p++) {
        if (p == end)
            goto more;
        bool ok = pattern[i] == '9' ? (unsigned)(*p - '0') <= 9 : *p == pattern[i];
        if (!ok) {
            e = SK_HTTP_E_VERSION;
            goto fail;
        }
    }
    if (p == end)
        goto more;
    if (*p != '\r') {
        e = *p == '\n' ? SK_HTTP_E_BARE_LF : SK_HTTP_E_VERSION;
        goto fail;
    }
    if (end - p < 2)
        goto more;
    if (p[1] != '\n') {
        e = SK_HTTP_E_BARE_CR;
        goto fail;
    }
    p += 2;
    in_request_line = false;

    /* §2.5-2.6: another major version is not ours (505); a higher 1.x minor
     * is answered as 1.1, the highest we implement. */
    if (v[5] != '1') {
        e = SK_HTTP_E_VERSION_UNSUP;
        goto fail;
    }
    req->version_minor = v[7] == '0' ? 0 : 1;

    e = parse_target(req);
    if (e != SK_HTTP_E_NONE)
        goto fail;
    f.target_host = req->host.ptr != NULL;

    /* field-line = field-name ":" OWS field-value OWS CRLF (§5). */
    for (;;) {
        if (p == end)
            goto more;
        if (*p == '\r') {
            if (end - p < 2)
                goto more;
            if (p[1] != '\n') {
                e = SK_HTTP_E_BARE_CR;
                goto fail;
            }
            p += 2;
            break;
        }
        if (*p == '\n') {
            e = SK_HTTP_E_BARE_LF;
            goto fail;
        }
        /* §5.2: obs-fold may be rejected with 400; so may whitespace
         * between the start-line and the first field (§2.2). */
        if (*p == ' ' || *p == '\t') {
            e = SK_HTTP_E_OBS_FOLD;
            goto fail;
        }
        if (req->num_headers == max_fields) {
            e = SK_HTTP_E_TOO_MANY_HEADERS;
            goto fail;
        }
        const char *name = p;
        p = skip_class(p, end, C_TCHAR);
        if (p == end)
            goto more;
        if (*p != ':' || p == name) {
            /* §5.1: no whitespace is allowed between name and colon; a
             * server MUST reject it with 400. */
            e = (*p == ' ' || *p == '\t') && p != name ? SK_HTTP_E_SPACE_BEFORE_COLON
                : *p == '\n'                           ? SK_HTTP_E_BARE_LF
                                                       : SK_HTTP_E_HEADER_NAME;
            goto fail;
        }
        size_t nlen = (size_t)(p - name);
        p = sk_tok_skip_ows(p + 1, end);
        const char *val = p;
        p = skip_value(p, end);
        if (p == end)
            goto more;
        if (*p != '\r') {
            /* §5.5: CR, LF and NUL in a value are invalid and dangerous;
             * so is any other CTL and DEL. */
            e = *p == '\n' ? SK_HTTP_E_BARE_LF : SK_HTTP_E_HEADER_VALUE;
            goto fail;
        }
        if (end - p < 2)
            goto more;
        if (p[1] != '\n') {
            e = SK_HTTP_E_BARE_CR;
            goto fail;
        }
        const char *vend = p;
        while (vend > val && (vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;
        p += 2;
        size_t vlen = (size_t)(vend - val);
        sk_http_header_t *h = &headers[req->num_headers++];
        h->name.ptr = name;
        h->name.len = nlen;
        h->value.ptr = val;
        h->value.len = vlen;
        e = on_field(req, &f, name, nlen, val, vlen);
        if (e != SK_HTTP_E_NONE)
            goto fail;
    }

    /* Framing (RFC 9112 §6). */
    if (f.has_te) {
        /* §6.1: Transfer-Encoding in 1.0 means faulty framing. */
        if (req->version_minor == 0) {
            e = SK_HTTP_E_TE_HTTP10;
            goto fail;
        }
        /* §6.3: TE with Content-Length is a smuggling attempt; a server
         * MAY reject it and MUST close afterwards anyway. */
        if (req->has_content_length) {
            e = SK_HTTP_E_TE_AND_CL;
            goto fail;
        }
        /* §6.3: in a request, a final coding other than chunked leaves the
         * length unknown: 400 and close. */
        if (!f.te_chunked) {
            e = SK_HTTP_E_TE_NOT_CHUNKED;
            goto fail;
        }
        req->chunked = true;
    }
    if (req->version_minor == 1 && !req->has_host) {
        e = SK_HTTP_E_HOST_MISSING;
        goto fail;
    }
    /* RFC 9112 §3.2: Host may be empty only when the target URI has no
     * authority, and an http URI always has one: an empty Host with an
     * origin-form (or asterisk-form) target is 400. */
    if (req->version_minor == 1 && !f.target_host && req->host.len == 0) {
        e = SK_HTTP_E_HOST_EMPTY;
        goto fail;
    }
    if (req->has_content_length && req->content_length > max_body) {
        e = SK_HTTP_E_BODY_TOO_LARGE;
        goto fail;
    }
    /* §9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive". */
    req->keep_alive = !f.conn_close && (req->version_minor == 1 || f.conn_keep_alive);
    if (why != NULL)
        *why = SK_HTTP_E_NONE;
    return (int)(p - buf);

more:
    if (len >= max_bytes) {
        e = in_request_line ? SK_HTTP_E_URI_TOO_LONG : SK_HTTP_E_HEAD_TOO_LARGE;
        goto fail;
    }
    return SK_AGAIN;

fail:
    if (why != NULL)
        *why = e;
    return SK_EPARSE;
}

int sk_http_error_status(enum sk_http_error why)
{
    switch (why) {
    case SK_HTTP_E_NONE:
        return 200;
    case SK_HTTP_E_VERSION_UNSUP:
        return 505;
    case SK_HTTP_E_URI_TOO_LONG:
        return 414;
    case SK_HTTP_E_HEAD_TOO_LARGE:
    case SK_HTTP_E_TOO_MANY_HEADERS:
        return 431;
    case SK_HTTP_E_TE_UNKNOWN:
        return 501;
    case SK_HTTP_E_BODY_TOO_LARGE:
        return 413;
    default:
        return 400;
    }
}

const char *sk_http_error_reason(enum sk_http_error why)
{
    switch (why) {
    case SK_HTTP_E_NONE:
        return "ok";
    case SK_HTTP_E_METHOD:
        return "invalid method";
    case SK_HTTP_E_TARGET:
        return "invalid request target";
    case SK_HTTP_E_REQUEST_LINE:
        return "malformed request line";
    case SK_HTTP_E_VERSION:
        return "malformed HTTP version";
    case SK_HTTP_E_VERSION_UNSUP:
        return "HTTP version not supported";
    case SK_HTTP_E_URI_TOO_LONG:
        return "request line too long";
    case SK_HTTP_E_HEAD_TOO_LARGE:
        return "request header fields too large";
    case SK_HTTP_E_TOO_MANY_HEADERS:
        return "too many header fields";
    case SK_HTTP_E_BARE_CR:
        return "bare CR";
    case SK_HTTP_E_BARE_LF:
        return "bare LF";
    case SK_HTTP_E_HEADER_NAME:
        return "invalid header name";
    case SK_HTTP_E_SPACE_BEFORE_COLON:
        return "whitespace before colon";
    case SK_HTTP_E_OBS_FOLD:
        return "obsolete line folding";
    case SK_HTTP_E_HEADER_VALUE:
        return "invalid header value";
    case SK_HTTP_E_CONTENT_LENGTH:
        return "invalid Content-Length";
    case SK_HTTP_E_CL_CONFLICT:
        return "conflicting Content-Length";
    case SK_HTTP_E_TE_AND_CL:
        return "Transfer-Encoding with Content-Length";
    case SK_HTTP_E_TE_NOT_CHUNKED:
        return "final transfer coding is not chunked";
    case SK_HTTP_E_TE_UNKNOWN:
        return "unsupported transfer coding";
    case SK_HTTP_E_TE_INVALID:
        return "malformed Transfer-Encoding";
    case SK_HTTP_E_TE_HTTP10:
        return "Transfer-Encoding in HTTP/1.0";
    case SK_HTTP_E_HOST_MISSING:
        return "missing Host";
    case SK_HTTP_E_HOST_DUP:
        return "duplicate Host";
    case SK_HTTP_E_HOST_INVALID:
        return "invalid Host";
    case SK_HTTP_E_HOST_EMPTY:
        return "empty Host";
    case SK_HTTP_E_BODY_TOO_LARGE:
        return "request body too large";
    }
    return "bad request";
}
