/* mime.h -- file extension to Content-Type mapping for the static server.
 *
 * A built-in table of common web types, optionally extended from a
 * mime.types file (/etc/mime.types). Lookups are binary searches over
 * sorted arrays; "application/octet-stream" is the fallback. */
#ifndef SK_PROTO_MIME_H
#define SK_PROTO_MIME_H

typedef struct sk_mime sk_mime_t;

/* The Content-Type for anything without a known extension. */
#define SK_MIME_DEFAULT "application/octet-stream"

/* Returns owned; free with sk_mime_free(). Holds the built-in table only.
 * NULL on out of memory. */
sk_mime_t *sk_mime_new(void);

/* Adds the mappings of a mime.types file ("type ext ext ..." lines, '#'
 * comments) for extensions the built-in table lacks; on conflicts the
 * built-in entry wins, and between files the first one loaded wins.
 * Lines with an invalid type are skipped. Returns 0, -errno from opening
 * or reading the file, or -ENOMEM (m is left as it was). */
int sk_mime_load_file(sk_mime_t *m, const char *path);

/* The Content-Type for path's extension (after the last '.' of the last
 * segment, case-insensitive; a leading dot as in ".bashrc" is not an
 * extension). Text-like types carry "; charset=utf-8". Returns a string
 * owned by m (or static), valid until sk_mime_free(); never NULL. */
const char *sk_mime_lookup(const sk_mime_t *m, const char *path);

/* Releases m; accepts NULL. */
void sk_mime_free(sk_mime_t *m);

#endif
