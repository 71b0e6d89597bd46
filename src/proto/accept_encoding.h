/* accept_encoding.h -- Accept-Encoding negotiation (RFC 9110 §12.5.3),
 * sans-I/O.
 *
 * Decides which of the precompressed siblings (.br, .gz) or the plain
 * file a client prefers, from the q-values it sent. No allocation. */
#ifndef SK_PROTO_ACCEPT_ENCODING_H
#define SK_PROTO_ACCEPT_ENCODING_H

#include "core/buf.h"

/* The codings the static server can offer. SK_CODING_END (0) terminates a
 * preference list. */
enum sk_coding {
    SK_CODING_END = 0,
    SK_CODING_IDENTITY = 1,
    SK_CODING_GZIP = 2,
    SK_CODING_BR = 3,
};

/* Bit for a coding in an "available" mask for sk_accept_encoding_choose. */
#define SK_CODING_BIT(c) (1u << (c))

/* Parses an Accept-Encoding value (s.ptr == NULL: header absent) into a
 * preference list: up to three acceptable (q > 0) codings packed 4 bits
 * each, most preferred in the low bits, ending with SK_CODING_END. Ties go
 * to the smaller encoding (br, then gzip, then identity). An absent or
 * empty header yields identity only. Never fails: malformed members are
 * skipped. */
unsigned sk_accept_encoding_parse(sk_str_t s);

/* The i-th (0-based) coding of a preference list, SK_CODING_END past it. */
static inline enum sk_coding sk_accept_encoding_nth(unsigned prefs, unsigned i)
{
    return i < 3 ? (enum sk_coding)((prefs >> (4 * i)) & 15u) : SK_CODING_END;
}

/* The most preferred coding that is also in available (SK_CODING_BIT
 * mask). Falls back to SK_CODING_IDENTITY when nothing acceptable is
 * available, as RFC 9110 §12.5.3 says a server SHOULD (send the response
 * without a content coding) rather than fail. */
enum sk_coding sk_accept_encoding_choose(unsigned prefs, unsigned available);

#endif
