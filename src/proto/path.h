/* path.h -- request-target path sanitising for the static server, sans-I/O.
 *
 * Turns the raw path of a request target into a canonical, decoded path
 * that can be looked up beneath ROOT: percent-decoded once, dot-segments
 * removed (RFC 3986 §5.2.4) without ever climbing above "/", slashes
 * collapsed. Also the reverse direction: percent-encoding for Location
 * headers and HTML escaping for directory listings. */
#ifndef SK_PROTO_PATH_H
#define SK_PROTO_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/* Options for sk_path_normalize (bit flags). */
enum sk_path_flags {
    SK_PATH_DEFAULT = 0,
    /* Clamp ".." at the root ("/../a" -> "/a", as RFC 3986 §5.2.4 does for
     * reference resolution) instead of failing with SK_PATH_ABOVE_ROOT. */
    SK_PATH_CLAMP_ROOT = 1 << 0,
};

/* Why sk_path_normalize failed; sk_path_reason_status maps it to HTTP. */
enum sk_path_reason {
    SK_PATH_OK = 0,
    SK_PATH_NOT_ABSOLUTE, /* raw path does not start with '/' */
    SK_PATH_BAD_CHAR,     /* raw CTL, space, '#', '\\' or DEL in the target */
    SK_PATH_BAD_ESCAPE,   /* '%' not followed by two hex digits */
    SK_PATH_NUL,          /* %00 */
    SK_PATH_ENCODED_SEP,  /* %2F or %5C: would hide a separator */
    SK_PATH_ABOVE_ROOT,   /* ".." past "/" (without SK_PATH_CLAMP_ROOT) */
    SK_PATH_TOO_LONG,     /* result does not fit in outcap */
};

/* Normalises the path of a request target (target[0, len); scanning stops
 * at the first '?', so the whole target may be passed). An empty path
 * becomes "/" (RFC 9112 §3.2.2). The NUL-terminated result goes to out and
 * always starts with '/', keeps a trailing '/' and contains no "." or ".."
 * segments and no empty ones. outcap >= len + 2 always suffices.
 * Returns the result length, or SK_EPARSE (reason in *reason, which may be
 * NULL) or SK_ETOOBIG (SK_PATH_TOO_LONG). */
int sk_path_normalize(const char *target, size_t len, char *out, size_t outcap, unsigned flags,
                      enum sk_path_reason *reason);

/* HTTP status for a failure reason: 414 for SK_PATH_TOO_LONG, else 400.
 * 400 rather than 404 for ".." above the root because browsers and curl
 * remove dot-segments before sending: only a crafted request gets here. */
int sk_path_reason_status(enum sk_path_reason reason);

/* Short static text for a reason (for the access log). */
const char *sk_path_reason_str(enum sk_path_reason reason);

/* True if any segment of a normalised path starts with '.' (dotfiles and
 * dot-directories, which the server hides unless --dotfiles). */
bool sk_path_has_dot_segment(const char *norm);

/* True for "/.well-known" itself or anything under "/.well-known/"
 * (RFC 8615), which is served even though its first segment is a dot. */
bool sk_path_is_well_known(const char *norm);

/* The server's hiding rule: true if a dot segment other than a leading
 * "/.well-known" exists ("/.well-known/acme" no, "/.well-known/.x" yes). */
bool sk_path_is_hidden(const char *norm);

/* Appends path[0, len) percent-encoded so that it is a valid URI path
 * (RFC 3986 §3.3 pchar and '/'; '%', '?', '#', quotes, controls, space and
 * non-ASCII bytes are encoded), for Location headers and hrefs. Decoding
 * the result with sk_path_normalize gives path back. Returns 0 or
 * -ENOMEM. */
int sk_url_encode_path(sk_buf_t *b, const char *path, size_t len);

/* Appends s[0, len) with & < > " ' replaced by character references, safe
 * in HTML text and in quoted attribute values. Returns 0 or -ENOMEM. */
int sk_html_escape(sk_buf_t *b, const char *s, size_t len);

#endif
