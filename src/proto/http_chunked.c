/* http_chunked.c -- resumable chunked transfer-coding decoder (RFC 9112 §7.1).
 *
 * A byte-at-a-time state machine for the size lines and trailers, which are
 * short, and an O(1) skip (or one memmove, when decoding in place for a
 * client) over chunk data, which is the bulk. Everything the
 * grammar does not allow is rejected, so a body can never be read two ways. */
#include "proto/http_chunked.h"

#include <stdbool.h>
#include <string.h>

#include "core/error.h"
#include "proto/token.h"

/* chunk = chunk-size [chunk-ext] CRLF chunk-data CRLF
 * chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
 * The states before S_DATA belong to the size line; those from S_TRAILER on
 * to the trailer section. Zero is S_SIZE so a zeroed struct is ready. */
enum {
    S_SIZE = 0,        /* hex digits of chunk-size */
    S_EXT_WS,          /* BWS that must lead to ';' */
    S_EXT_NAME_START,  /* after ';': BWS, then a name */
    S_EXT_NAME,        /* in ext-name */
    S_EXT_NAME_WS,     /* BWS after a name: '=' or ';' next */
    S_EXT_VAL_START,   /* after '=': BWS, then token or quoted-string */
    S_EXT_VAL_TOKEN,   /* in a token value */
    S_EXT_QUOTED,      /* in a quoted-string */
    S_EXT_QPAIR,       /* after a backslash in a quoted-string */
    S_EXT_AFTER_QUOTE, /* after the closing quote */
    S_SIZE_LF,         /* CR seen at the end of the size line */
    S_DATA,            /* chunk-data */
    S_DATA_CR,         /* the CRLF after chunk-data */
    S_DATA_LF,
    S_TRAILER, /* start of a trailer line, or the final CRLF */
    S_TRAILER_NAME,
    S_TRAILER_VALUE,
    S_TRAILER_LF,
    S_FINAL_LF,
    S_DONE,
    S_ERROR,
};

void sk_http_chunked_init(sk_http_chunked_t *st)
{
    *st = (sk_http_chunked_t){0};
}

/* Returns the state after byte c on the size line, or S_ERROR. Only states
 * before S_DATA reach here. */
static unsigned char size_line(sk_http_chunked_t *st, unsigned char c)
{
    bool ws = c == ' ' || c == '\t';
    switch (st->state) {
    case S_SIZE: {
        int h = sk_tok_hexval(c);
        if (h >= 0) {
            /* Refuse sizes of 2^63 and up: nobody sends them, and they
             * overflow signed offsets elsewhere. */
            if (st->remaining >> 59)
                return S_ERROR;
            st->remaining = st->remaining << 4 | (uint64_t)h;
            st->digits = 1;
            return S_SIZE;
        }
        if (!st->digits)
            return S_ERROR; /* chunk-size = 1*HEXDIG */
        return c == '\r' ? S_SIZE_LF : c == ';' ? S_EXT_NAME_START : ws ? S_EXT_WS : S_ERROR;
    }
    case S_EXT_WS:
        return ws ? S_EXT_WS : c == ';' ? S_EXT_NAME_START : S_ERROR;
    case S_EXT_NAME_START:
        return ws ? S_EXT_NAME_START : SK_TOK_IS(c, SK_TOK_TCHAR) ? S_EXT_NAME : S_ERROR;
    case S_EXT_NAME:
        /* A name may end the line; its trailing BWS may not. */
        if (SK_TOK_IS(c, SK_TOK_TCHAR))
            return S_EXT_NAME;
        if (c == '\r')
            return S_SIZE_LF;
        /* fall through */
    case S_EXT_NAME_WS:
        return ws         ? S_EXT_NAME_WS
               : c == '=' ? S_EXT_VAL_START
               : c == ';' ? S_EXT_NAME_START
                          : S_ERROR;
    case S_EXT_VAL_START:
        return ws                           ? S_EXT_VAL_START
               : c == '"'                   ? S_EXT_QUOTED
               : SK_TOK_IS(c, SK_TOK_TCHAR) ? S_EXT_VAL_TOKEN
                                            : S_ERROR;
    case S_EXT_VAL_TOKEN:
        if (SK_TOK_IS(c, SK_TOK_TCHAR))
            return S_EXT_VAL_TOKEN;
        /* fall through */
    case S_EXT_AFTER_QUOTE:
        return c == '\r' ? S_SIZE_LF : c == ';' ? S_EXT_NAME_START : ws ? S_EXT_WS : S_ERROR;
    case S_EXT_QUOTED:
        return c == '"'                      ? S_EXT_AFTER_QUOTE
               : c == '\\'                   ? S_EXT_QPAIR
               : SK_TOK_IS(c, SK_TOK_QDTEXT) ? S_EXT_QUOTED
                                             : S_ERROR;
    case S_EXT_QPAIR:
        return SK_TOK_IS(c, SK_TOK_QPAIR) ? S_EXT_QUOTED : S_ERROR;
    case S_SIZE_LF:
        if (c != '\n')
            return S_ERROR; /* bare CR */
        /* last-chunk = 1*("0") [chunk-ext] CRLF, then the trailers. */
        return st->remaining == 0 ? S_TRAILER : S_DATA;
    }
    return S_ERROR;
}

/* Returns the state after byte c in the trailer section (RFC 9112 §7.1.2:
 * field lines as in a head, so the same strictness applies). */
static unsigned char trailer(unsigned char state, unsigned char c)
{
    switch (state) {
    case S_TRAILER:
        /* SP/HTAB here would be obs-fold; '\n' a bare LF. */
        return c == '\r' ? S_FINAL_LF : SK_TOK_IS(c, SK_TOK_TCHAR) ? S_TRAILER_NAME : S_ERROR;
    case S_TRAILER_NAME:
        return SK_TOK_IS(c, SK_TOK_TCHAR) ? S_TRAILER_NAME : c == ':' ? S_TRAILER_VALUE : S_ERROR;
    case S_TRAILER_VALUE:
        return SK_TOK_IS(c, SK_TOK_FIELD_VALUE) ? S_TRAILER_VALUE
               : c == '\r'                      ? S_TRAILER_LF
                                                : S_ERROR;
    case S_TRAILER_LF:
        return c == '\n' ? S_TRAILER : S_ERROR;
    case S_FINAL_LF:
        return c == '\n' ? S_DONE : S_ERROR;
    }
    return S_ERROR;
}

/* The decoder proper. When dst is not NULL, chunk data is copied down to
 * dst (which is buf itself in place mode: data never moves forward, so the
 * copy only ever overwrites framing bytes already read) and *dst_len counts
 * it. */
static int decode(sk_http_chunked_t *st, const char *buf, size_t len, size_t *consumed,
                  uint64_t *body_bytes_out, char *dst, size_t *dst_len)
{
    size_t out = 0;
    if (dst_len != NULL)
        *dst_len = 0;
    if (len == 0) {
        /* Nothing to consume (buf may be NULL): report the state. */
        *consumed = 0;
        if (body_bytes_out != NULL)
            *body_bytes_out = st->body_bytes;
        return st->state == S_DONE ? 1 : st->state == S_ERROR ? SK_EPARSE : SK_AGAIN;
    }
    const char *p = buf, *end = buf + len;
    int rc = SK_AGAIN;

    while (p < end && rc == SK_AGAIN) {
        unsigned char s = st->state;
        if (s == S_DATA) {
            size_t avail = (size_t)(end - p);
            size_t n = st->remaining < avail ? (size_t)st->remaining : avail;
            if (dst != NULL) {
                if (dst + out != p)
                    memmove(dst + out, p, n);
                out += n;
            }
            p += n;
            st->remaining -= n;
            st->body_bytes += n;
            if (st->remaining == 0)
                st->state = S_DATA_CR;
            continue;
        }
        if (s == S_DONE) {
            rc = 1;
            break;
        }
        if (s == S_ERROR) {
            rc = SK_EPARSE;
            break;
        }
        unsigned char c = (unsigned char)*p++;
        if (s < S_DATA) {
            if (++st->line_len > SK_HTTP_CHUNKED_MAX_LINE)
                s = S_ERROR;
            else
                s = size_line(st, c);
        } else if (s == S_DATA_CR) {
            s = c == '\r' ? S_DATA_LF : S_ERROR; /* data longer than its size */
        } else if (s == S_DATA_LF) {
            s = c == '\n' ? S_SIZE : S_ERROR;
            st->line_len = 0;
            st->digits = 0;
        } else {
            if (++st->trailer_bytes > SK_HTTP_CHUNKED_MAX_TRAILERS)
                s = S_ERROR;
            else
                s = trailer(s, c);
        }
        st->state = s;
        if (s == S_DONE)
            rc = 1;
        else if (s == S_ERROR)
            rc = SK_EPARSE;
    }
    *consumed = (size_t)(p - buf);
    if (body_bytes_out != NULL)
        *body_bytes_out = st->body_bytes;
    if (dst_len != NULL)
        *dst_len = out;
    return rc;
}

int sk_http_chunked_decode(sk_http_chunked_t *st, const char *buf, size_t len, size_t *consumed,
                           uint64_t *body_bytes_out)
{
    return decode(st, buf, len, consumed, body_bytes_out, NULL, NULL);
}

int sk_http_chunked_decode_inplace(sk_http_chunked_t *st, char *buf, size_t len, size_t *consumed,
                                   size_t *data_len)
{
    return decode(st, buf, len, consumed, NULL, buf, data_len);
}
