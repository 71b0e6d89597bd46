/* date.h -- HTTP dates (RFC 9110 §5.6.7), sans-I/O.
 *
 * Formats the preferred IMF-fixdate without locale or strftime (the server
 * caches one string per second) and parses all three formats a recipient
 * must accept: IMF-fixdate, the obsolete RFC 850 form and asctime(). */
#ifndef SK_PROTO_DATE_H
#define SK_PROTO_DATE_H

#include <time.h>

#include "core/buf.h"

/* Length of an IMF-fixdate such as "Sun, 06 Nov 1994 08:49:37 GMT". */
#define SK_DATE_LEN 29

/* Writes the IMF-fixdate for t into out (SK_DATE_LEN chars plus a NUL).
 * Times outside years 0000..9999 are clamped to that range, since the
 * format has exactly four year digits. Never fails. */
void sk_date_format(time_t t, char out[SK_DATE_LEN + 1]);

/* Parses an HTTP-date in any of the three formats into *out (UTC, timegm
 * semantics). Returns 0, or SK_EPARSE for anything else (garbage, wrong
 * case, out-of-range fields, trailing bytes); *out is untouched then.
 * RFC 850 two-digit years are resolved against the current clock. */
int sk_date_parse(sk_str_t s, time_t *out);

/* As sk_date_parse, but resolves RFC 850 two-digit years against now
 * instead of the clock (deterministic, for tests and fuzzers). */
int sk_date_parse_at(sk_str_t s, time_t now, time_t *out);

#endif
