/* token.h -- the HTTP and URI lexical helpers every parser in src/proto
 * shares: one byte-class table built from the RFC 9110 and RFC 3986
 * definitions, OWS skipping and trimming, hex digits, a comma-separated list
 * iterator (RFC 9110 §5.6.1) and a case-insensitive token compare.
 *
 * Everything here is pure and allocation-free; spans borrow the caller's
 * bytes. */
#ifndef SK_PROTO_TOKEN_H
#define SK_PROTO_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"

/* Byte classes; a byte may be in several. Test with SK_TOK_IS(c, mask),
 * which is true when c is in any class of mask. */
enum {
    SK_TOK_TCHAR = 1 << 0,       /* token character (RFC 9110 §5.6.2) */
    SK_TOK_VCHAR = 1 << 1,       /* visible ASCII 0x21-0x7e (RFC 5234) */
    SK_TOK_OBS_TEXT = 1 << 2,    /* 0x80-0xff (RFC 9110 §5.5) */
    SK_TOK_WS = 1 << 3,          /* SP and HTAB: OWS/BWS/RWS (§5.6.3) */
    SK_TOK_QDTEXT = 1 << 4,      /* qdtext of a quoted-string (§5.6.4) */
    SK_TOK_HEXDIG = 1 << 5,      /* 0-9 a-f A-F */
    SK_TOK_DIGIT = 1 << 6,       /* 0-9 */
    SK_TOK_ALPHA = 1 << 7,       /* a-z A-Z */
    SK_TOK_TARGET = 1 << 8,      /* VCHAR but '#': request-target bytes (RFC 9112 §3.2) */
    SK_TOK_AUTHORITY = 1 << 9,   /* host [":" port] bytes: unreserved, '%', sub-delims,
                                    ':', '[', ']' (RFC 3986 §3.2) */
    SK_TOK_UNRESERVED = 1 << 10, /* ALPHA DIGIT - . _ ~ (RFC 3986 §2.3) */
    SK_TOK_SUB_DELIM = 1 << 11,  /* ! $ & ' ( ) * + , ; = (RFC 3986 §2.2) */
};

/* field-value bytes: field-vchar, SP and HTAB (RFC 9110 §5.5). */
#define SK_TOK_FIELD_VALUE (SK_TOK_VCHAR | SK_TOK_OBS_TEXT | SK_TOK_WS)
/* The byte after a backslash in a quoted-string (quoted-pair, §5.6.4). */
#define SK_TOK_QPAIR SK_TOK_FIELD_VALUE

extern const uint16_t sk__tok_class[256];

#define SK_TOK_IS(c, mask) ((sk__tok_class[(unsigned char)(c)] & (mask)) != 0)

/* Returns the first byte of p[0, end) not in mask (end if none). */
static inline const char *sk_tok_skip(const char *p, const char *end, unsigned mask)
{
    while (p < end && SK_TOK_IS(*p, mask))
        p++;
    return p;
}

/* Returns the first byte of p[0, end) that is not SP or HTAB. */
static inline const char *sk_tok_skip_ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* Removes leading and trailing SP/HTAB from [*p, *end). */
static inline void sk_tok_trim(const char **p, const char **end)
{
    *p = sk_tok_skip_ows(*p, *end);
    while (*end > *p && ((*end)[-1] == ' ' || (*end)[-1] == '\t'))
        (*end)--;
}

/* The value of a hex digit, or -1 when c is not one. */
static inline int sk_tok_hexval(unsigned char c)
{
    if ((unsigned)(c - '0') <= 9)
        return c - '0';
    c |= 0x20;
    if ((unsigned)(c - 'a') <= 5)
        return c - 'a' + 10;
    return -1;
}

/* True when s[0, n) equals the lowercase literal lit[0, n) ignoring ASCII
 * case. Precondition: s holds only VCHARs (as parsed tokens and request
 * targets do) and lit only a-z and bytes 0x21-0x3f. For those, c | 0x20
 * equals a lit byte only when c is that byte in either case, so eight bytes
 * are folded and compared at once (the last block overlaps). */
static inline bool sk_tok_lower_eq(const char *s, const char *lit, size_t n)
{
    if (n >= 8) {
        const uint64_t fold = UINT64_C(0x2020202020202020);
        uint64_t a, b;
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&a, s + i, 8);
            memcpy(&b, lit + i, 8);
            if ((a | fold) != b)
                return false;
        }
        memcpy(&a, s + (n - 8), 8);
        memcpy(&b, lit + (n - 8), 8);
        return (a | fold) == b;
    }
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] | 0x20) != (unsigned char)lit[i])
            return false;
    return true;
}

/* sk_tok_lower_eq on a token of length n against a string literal. */
#define SK_TOK_EQ(s, n, lit)                                                                       \
    ((n) == sizeof(lit) - 1 && sk_tok_lower_eq((s), (lit), sizeof(lit) - 1))

/* Iterator over a comma-separated list (RFC 9110 §5.6.1): yields each
 * element with its OWS trimmed and skips empty elements, as a recipient
 * must. Commas inside a quoted-string (with backslash escapes) do not split,
 * so an entity-tag or parameter value may contain one. */
typedef struct sk_tok_list {
    const char *p, *end;
} sk_tok_list_t;

static inline void sk_tok_list_init(sk_tok_list_t *it, const char *s, size_t n)
{
    it->p = s;
    it->end = s + n;
}

/* p is at a quote inside a list element: returns the end of the element
 * (the separating comma or end). Internal to sk_tok_list_next. */
const char *sk__tok_list_quoted(const char *p, const char *end);

/* Stores the next non-empty element in *elem and returns true, or returns
 * false at the end of the list. An unterminated quoted-string ends its
 * element at the next comma; element parsers reject it. Inline, with the
 * rare quoted case out of line: request parsing calls it for Connection and
 * Transfer-Encoding on every request. */
static inline bool sk_tok_list_next(sk_tok_list_t *it, sk_str_t *elem)
{
    const char *p = it->p, *end = it->end;
    for (;;) {
        p = sk_tok_skip_ows(p, end);
        if (p == end) {
            it->p = p;
            return false;
        }
        if (*p != ',')
            break;
        p++; /* an empty element */
    }
    const char *start = p;
    while (p < end && *p != ',') {
        if (*p == '"') {
            p = sk__tok_list_quoted(p, end);
            break;
        }
        p++;
    }
    const char *e = p;
    while (e > start && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    elem->ptr = start;
    elem->len = (size_t)(e - start);
    it->p = p < end ? p + 1 : p;
    return true;
}

/* Content-Length = 1*DIGIT (RFC 9110 §8.6), where a recipient may accept a
 * list of identical values ("5, 5") as one. *has says whether an earlier
 * field line already gave *v; every value must then equal it. Values above
 * INT64_MAX are an overflow. On SK_TOK_CL_OK *has is true and *v set. */
enum sk_tok_cl { SK_TOK_CL_OK, SK_TOK_CL_INVALID, SK_TOK_CL_CONFLICT };
enum sk_tok_cl sk_tok_content_length(const char *s, size_t n, bool *has, uint64_t *v);

#endif
