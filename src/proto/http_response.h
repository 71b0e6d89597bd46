/* http_response.h -- sans-I/O HTTP/1.1 response parser for clients
 * (`sockkit get`, `bench http`): the head (status line and header fields,
 * with limits), then the body by Content-Length, chunked (decoded in place)
 * or until the connection closes (RFC 9112 §4-§7).
 *
 * Like the request parser it never allocates and never reads past len, and
 * every span points into the caller's buffer. Typical use:
 *
 *   n = sk_http_response_parse(buf, len, NULL, &resp, hdrs, 64, &why);
 *   (SK_AGAIN: read more and call again; SK_EPARSE: give up, why says why)
 *   sk_http_body_init(&body, &resp, method_was_head);
 *   then for each chunk of bytes after the head:
 *   rc = sk_http_body_decode(&body, p, avail, &used, &data);
 *   (p[0, data) is body; p + used is where the next response starts) */
#ifndef SK_PROTO_HTTP_RESPONSE_H
#define SK_PROTO_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "proto/http_chunked.h"
#include "proto/http_parse.h"

/* Why a response head or body was rejected. */
enum sk_http_resp_error {
    SK_HTTP_RE_NONE = 0,
    SK_HTTP_RE_NOT_HTTP,           /* the first bytes are not "HTTP/" */
    SK_HTTP_RE_TLS,                /* the first bytes are a TLS record (https port?) */
    SK_HTTP_RE_VERSION,            /* malformed or unsupported HTTP version */
    SK_HTTP_RE_STATUS,             /* status code not three digits 100-599 */
    SK_HTTP_RE_STATUS_LINE,        /* other status-line syntax */
    SK_HTTP_RE_HEAD_TOO_LARGE,     /* head over max_header_bytes */
    SK_HTTP_RE_TOO_MANY_HEADERS,   /* more than max_headers field lines */
    SK_HTTP_RE_BARE_CR,            /* CR not followed by LF */
    SK_HTTP_RE_HEADER_NAME,        /* empty field name or a non-token byte */
    SK_HTTP_RE_SPACE_BEFORE_COLON, /* whitespace between name and ':' */
    SK_HTTP_RE_HEADER_VALUE,       /* NUL or another CTL in a field value */
    SK_HTTP_RE_CONTENT_LENGTH,     /* Content-Length not 1*DIGIT, or overflow */
    SK_HTTP_RE_CL_CONFLICT,        /* Content-Length values that differ */
    SK_HTTP_RE_TE_INVALID,         /* malformed Transfer-Encoding, chunked twice */
    SK_HTTP_RE_TE_HTTP10,          /* Transfer-Encoding in an HTTP/1.0 response */
    SK_HTTP_RE_CHUNKED,            /* malformed chunked body */
};

/* Limits; a zero field means the default. */
typedef struct sk_http_resp_limits {
    size_t max_header_bytes; /* all heads (1xx included); default 65536 */
    size_t max_headers;      /* field lines of one head; default 100 */
} sk_http_resp_limits_t;

#define SK_HTTP_RESP_DEFAULT_MAX_HEADER_BYTES 65536
#define SK_HTTP_RESP_DEFAULT_MAX_HEADERS 100

/* A parsed response head. Spans borrow the parsed buffer. */
typedef struct sk_http_response {
    int version_minor; /* 0 or 1 (1.2+ is read as 1.1) */
    int status;        /* 100-599 */
    sk_str_t reason;   /* may be empty */
    sk_http_header_t *headers;
    size_t num_headers;
    unsigned interim;     /* 1xx responses skipped before this one */
    size_t interim_bytes; /* their bytes, at the start of the buffer */
    bool has_content_length;
    uint64_t content_length;
    bool te_present; /* Transfer-Encoding was sent */
    bool chunked;    /* ... and its final coding is chunked */
    bool te_other;   /* ... with a coding other than chunked */
    bool keep_alive; /* the connection may carry another request */
    /* The first occurrence of each, or {NULL, 0}. */
    sk_str_t content_encoding, content_type, location;
} sk_http_response_t;

/* Parses the response head at buf[0, len), first skipping complete 1xx
 * interim heads (RFC 9110 §15.2; 101 is final). lim may be NULL. headers has
 * room for max_headers fields. Returns the bytes used through the final
 * head's empty line (the body starts there), SK_AGAIN when incomplete, or
 * SK_EPARSE with *why set (may be NULL). Bare LF line ends are accepted and
 * obs-fold lines are joined to the previous value (RFC 9112 §2.2, §5.2: a
 * client may); every framing ambiguity is rejected. Each call restarts
 * from buf[0]. */
int sk_http_response_parse(const char *buf, size_t len, const sk_http_resp_limits_t *lim,
                           sk_http_response_t *resp, sk_http_header_t *headers, size_t max_headers,
                           enum sk_http_resp_error *why);

/* The value of the first field named name (lowercase), or NULL. */
const sk_str_t *sk_http_response_header(const sk_http_response_t *resp, const char *name);

/* A short English phrase for why. */
const char *sk_http_resp_error_reason(enum sk_http_resp_error why);

/* How the body is delimited (RFC 9112 §6.3). */
enum sk_http_body_kind {
    SK_HTTP_BODY_NONE,    /* HEAD, 1xx, 204, 304: no body */
    SK_HTTP_BODY_LENGTH,  /* Content-Length bytes */
    SK_HTTP_BODY_CHUNKED, /* chunked transfer coding */
    SK_HTTP_BODY_CLOSE,   /* until the server closes the connection */
};

/* Body decoder state, in caller storage; no allocation. */
typedef struct sk_http_body {
    enum sk_http_body_kind kind;
    uint64_t remaining; /* LENGTH: bytes still due */
    uint64_t received;  /* body bytes decoded so far */
    sk_http_chunked_t chunked;
    bool done;
} sk_http_body_t;

/* Prepares b for the body of resp; head_request: the request was HEAD. */
void sk_http_body_init(sk_http_body_t *b, const sk_http_response_t *resp, bool head_request);

/* Decodes buf[0, len) in place: afterwards buf[0, *data_len) holds body
 * bytes and *consumed says how much input they used. Returns 1 when the
 * body is complete (bytes past *consumed belong to whatever follows: on a
 * connection without pipelining they mean the server sent more than it
 * announced), SK_AGAIN when all input was used and more is due, or
 * SK_EPARSE (chunked framing broken; sticky). */
int sk_http_body_decode(sk_http_body_t *b, char *buf, size_t len, size_t *consumed,
                        size_t *data_len);

/* The server closed the connection. Returns 0 when that completes the body
 * (close-delimited, or already done), SK_EEOF when the body is short. */
int sk_http_body_eof(sk_http_body_t *b);

#endif
