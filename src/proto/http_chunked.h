/* http_chunked.h -- sans-I/O decoder for the chunked transfer coding
 * (RFC 9112 §7.1): the server skips request bodies with it, the client
 * decodes response bodies in place.
 *
 * The decoder is a resumable state machine: feed it whatever bytes arrived,
 * it consumes them and keeps its place in a small caller-owned struct. It
 * never allocates and never reads past len. */
#ifndef SK_PROTO_HTTP_CHUNKED_H
#define SK_PROTO_HTTP_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

/* Longest chunk-size line (with extensions) and trailer field line, and the
 * whole trailer section; over them the input is rejected as malformed. */
#define SK_HTTP_CHUNKED_MAX_LINE 4096
#define SK_HTTP_CHUNKED_MAX_TRAILERS 16384

/* Decoder state; treat as opaque. Zero it (or call sk_http_chunked_init)
 * before the first byte of a body. */
typedef struct sk_http_chunked {
    uint64_t remaining;  /* data bytes left in the current chunk */
    uint64_t body_bytes; /* data bytes decoded so far */
    uint32_t line_len;   /* bytes of the current size or trailer line */
    uint32_t trailer_bytes;
    unsigned char state;
    unsigned char digits; /* hex digits of the current chunk-size */
} sk_http_chunked_t;

/* Resets st for a new body. */
void sk_http_chunked_init(sk_http_chunked_t *st);

/* Decodes buf[0, len). Sets *consumed to the bytes used: all of len for
 * SK_AGAIN, up to and including the final CRLF for 1 (what follows belongs
 * to the next request). *body_bytes_out (may be NULL) receives the total data
 * bytes decoded so far, for the caller's --max-body check. Returns 1 when the
 * last chunk and trailers are done, SK_AGAIN for more input, or SK_EPARSE
 * (sticky) for a bad size, extension, trailer, missing CRLF, bare CR or LF. */
int sk_http_chunked_decode(sk_http_chunked_t *st, const char *buf, size_t len, size_t *consumed,
                           uint64_t *body_bytes_out);

/* Same grammar and limits, but returns the chunk data: the data bytes of
 * buf[0, *consumed) are moved to buf[0, *data_len), in order, overwriting
 * the size lines, extensions and CRLFs around them. Bytes after *consumed
 * are untouched. Returns as sk_http_chunked_decode. */
int sk_http_chunked_decode_inplace(sk_http_chunked_t *st, char *buf, size_t len, size_t *consumed,
                                   size_t *data_len);

#endif
