/* range.h -- Range and If-Range request headers (RFC 9110 §14), sans-I/O.
 *
 * Parses "bytes=" range sets against a file size into at most SK_RANGE_MAX
 * sorted, merged, inclusive byte ranges, and decides whether If-Range
 * lets a range request through. No allocation. */
#ifndef SK_PROTO_RANGE_H
#define SK_PROTO_RANGE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"

/* The most ranges a 206 multipart/byteranges answer will carry. */
#define SK_RANGE_MAX 16

/* One byte range, both ends inclusive: start <= end < size. */
typedef struct sk_range {
    uint64_t start;
    uint64_t end;
} sk_range_t;

enum sk_range_kind {
    /* Serve the whole representation with 200: no header, another unit,
     * a syntax error (RFC 9110 §14.2: a server MAY ignore Range), or more
     * than SK_RANGE_MAX ranges after merging (abuse defence). */
    SK_RANGE_NONE = 0,
    /* 206 with r[0, n) (n >= 1; n == 1 -> single part). */
    SK_RANGE_SATISFIABLE,
    /* 416 with "Content-Range: bytes * /size": valid syntax, but every range
     * starts at or beyond the size (always so for an empty file). */
    SK_RANGE_UNSATISFIABLE,
};

typedef struct sk_range_set {
    enum sk_range_kind kind;
    unsigned n;
    sk_range_t r[SK_RANGE_MAX];
} sk_range_set_t;

/* Parses a Range field value (s.ptr == NULL: the header is absent) for a
 * representation of size bytes. Fills *out (n and r[] only meaningful for
 * SK_RANGE_SATISFIABLE; the ranges are sorted, non-overlapping and
 * non-adjacent) and returns out->kind. Never fails otherwise. */
enum sk_range_kind sk_range_parse(sk_str_t s, uint64_t size, sk_range_set_t *out);

/* RFC 9110 §13.1.5: true if the If-Range value (s.ptr == NULL: absent,
 * which counts as a match so callers need no special case) lets the Range
 * header apply: an entity-tag strongly equal to etag (a weak tag on either
 * side never matches), or an HTTP-date exactly equal to last_modified.
 * Anything else, including garbage, is false: serve the whole file. */
bool sk_range_if_range_matches(sk_str_t s, sk_str_t etag, time_t last_modified);

#endif
