/* path.c -- request path normalisation, URL encoding and HTML escaping
 * (see path.h). The normaliser works in one pass in the caller's buffer:
 * each segment is decoded straight into out, then kept, dropped (".") or
 * used to pop the previous segment (".."). No allocation. */
#include "proto/path.h"
#include "core/error.h"
#include "proto/token.h"

#include <errno.h>
#include <string.h>

static int fail(enum sk_path_reason *reason, enum sk_path_reason r)
{
    if (reason != NULL)
        *reason = r;
    return r == SK_PATH_TOO_LONG ? SK_ETOOBIG : SK_EPARSE;
}

int sk_path_normalize(const char *target, size_t len, char *out, size_t outcap, unsigned flags,
                      enum sk_path_reason *reason)
{
    /* Only the path matters: the query is not part of the file name. */
    const char *q = len > 0 ? memchr(target, '?', len) : NULL;
    if (q != NULL)
        len = (size_t)(q - target);
    if (len > 0 && target[0] != '/')
        return fail(reason, SK_PATH_NOT_ABSOLUTE);
    if (outcap < 2)
        return fail(reason, SK_PATH_TOO_LONG);
    out[0] = '/';
    size_t o = 1; /* out[0, o) is the result so far; it ends with '/' */
    size_t i = 0;

    while (i < len) {
        /* Repeated slashes are collapsed: an empty segment names nothing
         * on a POSIX file system, and keeping it would let "//" and "/"
         * map to different cache keys for the same file. */
        if (target[i] == '/') {
            i++;
            continue;
        }
        size_t start = o;
        while (i < len && target[i] != '/') {
            unsigned char c = (unsigned char)target[i];
            /* RFC 3986 §2 allows none of these raw in a path. The HTTP
             * parser rejects them first; this is defence in depth. A raw
             * '\\' is refused too so that "..\\" tricks never reach code
             * that might treat it as a separator. */
            if (c <= 0x20 || c == 0x7f || c == '#' || c == '\\')
                return fail(reason, SK_PATH_BAD_CHAR);
            if (c == '%') {
                /* Decode exactly once: "%252e" becomes the literal name
                 * "%2e", never ".". A second decoding pass is the classic
                 * double-encoding traversal. */
                int hi = i + 2 < len ? sk_tok_hexval((unsigned char)target[i + 1]) : -1;
                int lo = hi >= 0 ? sk_tok_hexval((unsigned char)target[i + 2]) : -1;
                if (lo < 0)
                    return fail(reason, SK_PATH_BAD_ESCAPE);
                c = (unsigned char)(hi << 4 | lo);
                if (c == 0)
                    return fail(reason, SK_PATH_NUL);
                /* An encoded separator would either be a second kind of
                 * '/' (splitting a segment the dot-segment check already
                 * passed) or a file name containing '/', which cannot
                 * exist; refuse both (RFC 3986 §7.3). */
                if (c == '/' || c == '\\')
                    return fail(reason, SK_PATH_ENCODED_SEP);
                i += 3;
            } else {
                i++;
            }
            /* Keep one byte for the NUL at the end. */
            if (o + 1 >= outcap)
                return fail(reason, SK_PATH_TOO_LONG);
            out[o++] = (char)c;
        }
        size_t seglen = o - start;
        bool more = i < len; /* a '/' follows this segment */
        if (seglen == 1 && out[start] == '.') {
            /* RFC 3986 §5.2.4 step 2B/2C: "." names the current level. */
            o = start;
        } else if (seglen == 2 && out[start] == '.' && out[start + 1] == '.') {
            /* Step 2C: ".." removes the previous segment. At the root it
             * would name the parent of ROOT: refuse unless asked to clamp
             * (RFC 3986 clamps, but for a file server the request is
             * certainly an attack or a bug). */
            if (start == 1) {
                if (!(flags & SK_PATH_CLAMP_ROOT))
                    return fail(reason, SK_PATH_ABOVE_ROOT);
                o = 1;
            } else {
                o = start - 1; /* the '/' ending the previous segment */
                while (out[o - 1] != '/')
                    o--;
            }
        } else if (more) {
            if (o + 1 >= outcap)
                return fail(reason, SK_PATH_TOO_LONG);
            out[o++] = '/';
        }
    }
    /* A trailing "/." or "/.." leaves the result ending in '/', which is
     * what RFC 3986 §5.2.4 yields ("/a/b/.." -> "/a/") and tells the
     * server the target names a directory. */
    out[o] = '\0';
    if (reason != NULL)
        *reason = SK_PATH_OK;
    return (int)o;
}

int sk_path_reason_status(enum sk_path_reason reason)
{
    switch (reason) {
    case SK_PATH_OK:
        return 200;
    case SK_PATH_TOO_LONG:
        return 414;
    default:
        return 400;
    }
}

const char *sk_path_reason_str(enum sk_path_reason reason)
{
    switch (reason) {
    case SK_PATH_OK:
        return "ok";
    case SK_PATH_NOT_ABSOLUTE:
        return "path not absolute";
    case SK_PATH_BAD_CHAR:
        return "invalid character in path";
    case SK_PATH_BAD_ESCAPE:
        return "malformed percent-escape";
    case SK_PATH_NUL:
        return "encoded NUL in path";
    case SK_PATH_ENCODED_SEP:
        return "encoded slash or backslash in path";
    case SK_PATH_ABOVE_ROOT:
        return "path climbs above the root";
    case SK_PATH_TOO_LONG:
        return "path too long";
    }
    return "unknown";
}

bool sk_path_has_dot_segment(const char *norm)
{
    for (const char *p = norm; *p != '\0'; p++)
        if (*p == '.' && (p == norm || p[-1] == '/'))
            return true;
    return false;
}

bool sk_path_is_well_known(const char *norm)
{
    static const char wk[] = "/.well-known";
    size_t n = sizeof(wk) - 1;
    return strncmp(norm, wk, n) == 0 && (norm[n] == '\0' || norm[n] == '/');
}

bool sk_path_is_hidden(const char *norm)
{
    /* RFC 8615 reserves /.well-known/ for site metadata (ACME challenges,
     * security.txt): it must be reachable, but only its own dot is
     * excused, so "/.well-known/.git" stays hidden. */
    if (sk_path_is_well_known(norm))
        norm += sizeof("/.well-known") - 1;
    return sk_path_has_dot_segment(norm);
}

/* RFC 3986 §3.3: pchar = unreserved / pct-encoded / sub-delims / ":" /
 * "@". The apostrophe is a sub-delim but is encoded anyway so the result
 * can also sit in a single-quoted HTML attribute. */
static bool path_safe(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("-._~!$&()*+,;=:@/", c) != NULL;
}

int sk_url_encode_path(sk_buf_t *b, const char *path, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    if (len == 0)
        return 0;
    /* Worst case triples the length; reserve once, then write the tail. */
    if (len > ((size_t)-1) / 3)
        return -ENOMEM;
    int rc = sk_buf_reserve(b, len * 3);
    if (rc < 0)
        return rc;
    char *t = sk_buf_tail(b);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)path[i];
        if (path_safe(c)) {
            t[o++] = (char)c;
        } else {
            t[o++] = '%';
            t[o++] = hex[c >> 4];
            t[o++] = hex[c & 15];
        }
    }
    sk_buf_commit(b, o);
    return 0;
}

int sk_html_escape(sk_buf_t *b, const char *s, size_t len)
{
    size_t run = 0; /* start of the pending run of bytes that need no escape */
    for (size_t i = 0; i < len; i++) {
        const char *rep;
        switch (s[i]) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            continue;
        }
        int rc = sk_buf_append(b, s + run, i - run);
        if (rc == 0)
            rc = sk_buf_append(b, rep, strlen(rep));
        if (rc < 0)
            return rc;
        run = i + 1;
    }
    return sk_buf_append(b, s + run, len - run);
}
