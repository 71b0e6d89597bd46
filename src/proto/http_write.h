/* http_write.h -- building an HTTP/1.1 response head in one buffer.
 *
 * Sans-I/O: the head is assembled in caller storage with plain copies (no
 * printf on the hot path) and handed to the output queue in one piece, so
 * head and small body leave in one send. */
#ifndef SK_PROTO_HTTP_WRITE_H
#define SK_PROTO_HTTP_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define SK_HTTP_HEAD_MAX 4096

/* A response head under construction. overflow is set (and further
 * appends ignored) when a head would exceed SK_HTTP_HEAD_MAX. */
typedef struct sk_http_head {
    size_t len;
    bool overflow;
    char buf[SK_HTTP_HEAD_MAX];
} sk_http_head_t;

/* The reason phrase for a status code ("Not Found"); "Unknown" for codes
 * sockkit never sends. */
const char *sk_http_status_text(int status);

/* Starts a head: "HTTP/1.1 STATUS TEXT\r\nServer: sockkit\r\nDate: DATE\r\n".
 * date is a 29-byte IMF-fixdate. */
void sk_http_head_start(sk_http_head_t *h, int status, const char *date);

/* Appends raw bytes / a NUL-terminated string / a decimal number. */
void sk_http_head_raw(sk_http_head_t *h, const char *p, size_t n);
void sk_http_head_str(sk_http_head_t *h, const char *s);
void sk_http_head_u64(sk_http_head_t *h, uint64_t v);

/* Appends "Name: value\r\n". */
void sk_http_head_field(sk_http_head_t *h, const char *name, const char *value, size_t vlen);

/* Appends "Name: <decimal>\r\n". */
void sk_http_head_field_u64(sk_http_head_t *h, const char *name, uint64_t v);

/* Appends the final CRLF. Returns false when the head overflowed. */
bool sk_http_head_end(sk_http_head_t *h);

#endif
