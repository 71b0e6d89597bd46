/* cond.h -- validators and conditional requests (RFC 9110 §8.8, §13),
 * sans-I/O.
 *
 * Makes the server's strong ETag from file metadata, matches entity-tag
 * lists, and evaluates If-Match / If-Unmodified-Since / If-None-Match /
 * If-Modified-Since in the §13.2.2 order for GET and HEAD. */
#ifndef SK_PROTO_COND_H
#define SK_PROTO_COND_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"

/* Room for the longest ETag sk_cond_etag_make writes, NUL included. */
#define SK_COND_ETAG_MAX 56

/* Writes the strong ETag "\"<inode>-<size>-<mtime_ns>\"" (lowercase hex)
 * NUL-terminated into buf. mtime_ns is unsigned so callers compute it
 * without signed overflow (times after 2262 wrap, harmlessly). Returns its length, or -ENOSPC if
 * cap is too small (SK_COND_ETAG_MAX always suffices). */
int sk_cond_etag_make(char *buf, size_t cap, uint64_t size, uint64_t mtime_ns, uint64_t inode);

/* True if the If-None-Match style list matches etag with the weak
 * comparison (RFC 9110 §8.8.3.2: W/ prefixes ignored): "*" matches any
 * existing representation; otherwise a comma list of entity-tags with
 * optional whitespace. A malformed list matches nothing. */
bool sk_cond_etag_list_matches(sk_str_t list, sk_str_t etag);

/* As above with the strong comparison (If-Match): a weak tag on either side
 * never matches. */
bool sk_cond_etag_list_matches_strong(sk_str_t list, sk_str_t etag);

/* Request header values; ptr == NULL means the header is absent. */
typedef struct sk_cond_req {
    sk_str_t if_match;
    sk_str_t if_unmodified_since;
    sk_str_t if_none_match;
    sk_str_t if_modified_since;
} sk_cond_req_t;

enum sk_cond_result {
    SK_COND_PROCEED = 0,         /* go on (then Range/If-Range) */
    SK_COND_NOT_MODIFIED,        /* 304 */
    SK_COND_PRECONDITION_FAILED, /* 412 */
};

/* RFC 9110 §13.2.2 steps 1-4 for a GET or HEAD of an existing file with
 * the given ETag and modification time (seconds). Invalid dates are
 * ignored as §13.1.3/§13.1.4 require. Step 5 (If-Range) is
 * sk_range_if_range_matches. */
enum sk_cond_result sk_cond_evaluate(const sk_cond_req_t *req, sk_str_t etag, time_t mtime);

#endif
