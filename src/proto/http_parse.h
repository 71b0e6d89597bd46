/* http_parse.h -- sans-I/O HTTP/1.1 request-head parser (RFC 9112, strict).
 *
 * picohttpparser's shape: one call over the bytes received so far answers
 * "consumed N", "need more" (SK_AGAIN) or "malformed" (SK_EPARSE plus a
 * reason that maps to a status). It never allocates and never reads past len;
 * every span it returns points into the caller's buffer. */
#ifndef SK_PROTO_HTTP_PARSE_H
#define SK_PROTO_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Methods are case-sensitive (RFC 9110 §9.1): "get" is SK_HTTP_UNKNOWN. */
enum sk_http_method {
    SK_HTTP_UNKNOWN = 0,
    SK_HTTP_GET,
    SK_HTTP_HEAD,
    SK_HTTP_OPTIONS,
    SK_HTTP_POST,
    SK_HTTP_PUT,
    SK_HTTP_DELETE,
    SK_HTTP_PATCH,
    SK_HTTP_TRACE,
    SK_HTTP_CONNECT,
};

/* Why a request was rejected; sk_http_error_status() gives the status. */
enum sk_http_error {
    SK_HTTP_E_NONE = 0,
    SK_HTTP_E_METHOD,             /* 400: empty method or a non-token byte */
    SK_HTTP_E_TARGET,             /* 400: empty target, CTL, SP, non-ASCII, bad form */
    SK_HTTP_E_REQUEST_LINE,       /* 400: not "method SP target SP version CRLF" */
    SK_HTTP_E_VERSION,            /* 400: malformed HTTP-version */
    SK_HTTP_E_VERSION_UNSUP,      /* 505: well-formed but major version is not 1 */
    SK_HTTP_E_URI_TOO_LONG,       /* 414: request line alone over max_header_bytes */
    SK_HTTP_E_HEAD_TOO_LARGE,     /* 431: request head over max_header_bytes */
    SK_HTTP_E_TOO_MANY_HEADERS,   /* 431: more than max_headers field lines */
    SK_HTTP_E_BARE_CR,            /* 400: CR not followed by LF */
    SK_HTTP_E_BARE_LF,            /* 400: LF not preceded by CR */
    SK_HTTP_E_HEADER_NAME,        /* 400: empty field name or a non-token byte */
    SK_HTTP_E_SPACE_BEFORE_COLON, /* 400: whitespace between field name and ':' */
    SK_HTTP_E_OBS_FOLD,           /* 400: line starting with SP/HTAB */
    SK_HTTP_E_HEADER_VALUE,       /* 400: NUL or other CTL in a field value */
    SK_HTTP_E_CONTENT_LENGTH,     /* 400: Content-Length not 1*DIGIT, or overflow */
    SK_HTTP_E_CL_CONFLICT,        /* 400: Content-Length values that differ */
    SK_HTTP_E_TE_AND_CL,          /* 400: Transfer-Encoding with Content-Length */
    SK_HTTP_E_TE_NOT_CHUNKED,     /* 400: final transfer coding is not chunked */
    SK_HTTP_E_TE_UNKNOWN,         /* 501: transfer coding we do not implement */
    SK_HTTP_E_TE_INVALID,         /* 400: malformed Transfer-Encoding list */
    SK_HTTP_E_TE_HTTP10,          /* 400: Transfer-Encoding in an HTTP/1.0 request */
    SK_HTTP_E_HOST_MISSING,       /* 400: HTTP/1.1 without Host */
    SK_HTTP_E_HOST_DUP,           /* 400: more than one Host */
    SK_HTTP_E_HOST_INVALID,       /* 400: Host (or target authority) with bad bytes */
    SK_HTTP_E_BODY_TOO_LARGE,     /* 413: Content-Length over max_body */
    SK_HTTP_E_HOST_EMPTY,         /* 400: HTTP/1.1 origin-form with an empty Host */
};

typedef struct sk_http_header {
    sk_str_t name;  /* as received (compare case-insensitively) */
    sk_str_t value; /* leading and trailing SP/HTAB removed */
} sk_http_header_t;

/* Limits. A zero max_header_bytes or max_headers means the default;
 * max_body is taken as it is, 0 meaning that no request body is accepted
 * (SK_HTTP_LIMITS_DEFAULT, or a NULL pointer, gives every default). */
typedef struct sk_http_limits {
    size_t max_header_bytes; /* leading CRLFs + request line + fields; default 16384 */
    size_t max_headers;      /* field lines; default 100 */
    uint64_t max_body;       /* Content-Length over it is 413; default 1048576 */
} sk_http_limits_t;

#define SK_HTTP_DEFAULT_MAX_HEADER_BYTES 16384
#define SK_HTTP_DEFAULT_MAX_HEADERS 100
#define SK_HTTP_DEFAULT_MAX_BODY 1048576
#define SK_HTTP_LIMITS_DEFAULT                                                                     \
    {                                                                                              \
        SK_HTTP_DEFAULT_MAX_HEADER_BYTES, SK_HTTP_DEFAULT_MAX_HEADERS, SK_HTTP_DEFAULT_MAX_BODY    \
    }

/* A parsed request head. Every sk_str_t borrows the buffer given to
 * sk_http_parse_request (path may also point at a static "/"), so it is valid
 * until that buffer is changed or compacted. Absent fields have len 0. */
typedef struct sk_http_request {
    sk_str_t method;
    sk_str_t target;           /* the request-target as received */
    sk_str_t path;             /* origin-form path ("*" for OPTIONS *, "" for CONNECT) */
    sk_str_t query;            /* after '?', without it; len 0 when absent */
    int version_minor;         /* 0 or 1 (HTTP/1.2+ is treated as 1.1) */
    sk_http_header_t *headers; /* the caller's array */
    size_t num_headers;
    /* Derived while parsing. */
    enum sk_http_method method_id;
    bool keep_alive;
    bool has_host;
    sk_str_t host; /* Host, or the authority of an absolute-form target */
    bool chunked;  /* Transfer-Encoding ends in chunked */
    bool has_content_length;
    uint64_t content_length;
    /* The first occurrence of each, for the static server. */
    sk_str_t if_none_match, if_modified_since, range, if_range, accept_encoding, connection;
} sk_http_request_t;

/* Parses the request head at buf[0, len). lim may be NULL for defaults;
 * headers has room for max_headers fields (the effective limit is the smaller
 * of this and lim->max_headers). Returns the bytes the head used (> 0; the
 * body or the next pipelined request starts there), SK_AGAIN when the head is
 * incomplete, or SK_EPARSE with *why set. A head that cannot fit the limit
 * fails at once (414/431) rather than waiting. Bare LF is rejected (RFC 9112
 * §2.2 lets us), as is every framing ambiguity. The parse restarts from buf[0]
 * on each call, so re-call only after new bytes arrive. */
int sk_http_parse_request(const char *buf, size_t len, const sk_http_limits_t *lim,
                          sk_http_request_t *req, sk_http_header_t *headers, size_t max_headers,
                          enum sk_http_error *why);

/* The response status for a rejection: 400, 413, 414, 431, 501 or 505. */
int sk_http_error_status(enum sk_http_error why);

/* A short static English phrase for logs and error bodies. */
const char *sk_http_error_reason(enum sk_http_error why);

#endif
