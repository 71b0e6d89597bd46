/* mime.c -- Content-Type lookup (see mime.h).
 *
 * Two sorted arrays: the built-in table (static, never changes) and the
 * entries loaded from mime.types files. Both are searched with bsearch on
 * the lowercased extension; the built-in table is searched first, which is
 * what makes built-in entries win. */
#include "proto/mime.h"
#include "core/alloc.h"
#include "proto/token.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest extension we look up or load; longer ones are not extensions in
 * any real mime.types and fall back to the default. */
#define EXT_MAX 31

struct entry {
    const char *ext;
    const char *type;
};

/* ASCII lowercase, independent of the locale. */
static void ascii_lower(char *s)
{
    for (; *s != '\0'; s++)
        if (SK_TOK_IS(*s, SK_TOK_ALPHA))
            *s |= 0x20;
}

/* Sorted by ext (strcmp order); sk_mime_new asserts it. Text-like types
 * carry the charset here already, so a lookup is only a search. .js and
 * .mjs use text/javascript, the one RFC 9239 §6 says to send (it obsoletes
 * application/javascript). Built-ins win over /etc/mime.types because these
 * are the types browsers act on (module scripts and streaming wasm
 * compilation check them strictly; a charset keeps text from being
 * sniffed as Latin-1), and the answer should not depend on which
 * mime-support version the host happens to have. */
static const struct entry builtin[] = {
    {"7z", "application/x-7z-compressed"},
    {"aac", "audio/aac"},
    {"apng", "image/apng"},
    {"atom", "application/atom+xml"},
    {"avif", "image/avif"},
    {"bmp", "image/bmp"},
    {"br", "application/x-brotli"},
    {"bz2", "application/x-bzip2"},
    {"css", "text/css; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"eot", "application/vnd.ms-fontobject"},
    {"epub", "application/epub+zip"},
    {"flac", "audio/flac"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"htm", "text/html; charset=utf-8"},
    {"html", "text/html; charset=utf-8"},
    {"ico", "image/x-icon"},
    {"ics", "text/calendar; charset=utf-8"},
    {"jpe", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript; charset=utf-8"},
    {"json", "application/json; charset=utf-8"},
    {"jsonld", "application/ld+json"},
    {"jxl", "image/jxl"},
    {"m3u8", "application/vnd.apple.mpegurl"},
    {"m4a", "audio/mp4"},
    {"map", "application/json; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"mkv", "video/x-matroska"},
    {"mov", "video/quicktime"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"mpd", "application/dash+xml"},
    {"oga", "audio/ogg"},
    {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},
    {"opus", "audio/ogg"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"rss", "application/rss+xml"},
    {"svg", "image/svg+xml; charset=utf-8"},
    {"tar", "application/x-tar"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"ttf", "font/ttf"},
    {"txt", "text/plain; charset=utf-8"},
    {"vtt", "text/vtt; charset=utf-8"},
    {"wasm", "application/wasm"},
    {"wav", "audio/wav"},
    {"webm", "video/webm"},
    {"webmanifest", "application/manifest+json"},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xhtml", "application/xhtml+xml"},
    {"xml", "application/xml"},
    {"xz", "application/x-xz"},
    {"yaml", "application/yaml"},
    {"yml", "application/yaml"},
    {"zip", "application/zip"},
    {"zst", "application/zstd"},
};

#define NBUILTIN (sizeof(builtin) / sizeof(builtin[0]))

/* A loaded entry: ext and type live in one allocation starting at ext. */
struct loaded {
    char *ext;
    const char *type;
    size_t seq; /* load order, so the first file/line wins on duplicates */
};

struct sk_mime {
    struct loaded *v;
    size_t n;
    size_t seq;
};

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->ext, ((const struct entry *)b)->ext);
}

static int cmp_loaded(const void *a, const void *b)
{
    const struct loaded *x = a, *y = b;
    int c = strcmp(x->ext, y->ext);
    if (c != 0)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

sk_mime_t *sk_mime_new(void)
{
    for (size_t i = 1; i < NBUILTIN; i++)
        assert(strcmp(builtin[i - 1].ext, builtin[i].ext) < 0);
    return sk_calloc(1, sizeof(sk_mime_t));
}

void sk_mime_free(sk_mime_t *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++)
        sk_free(m->v[i].ext);
    sk_free(m->v);
    sk_free(m);
}

static const char *find_builtin(const char *ext)
{
    struct entry key = {ext, NULL};
    const struct entry *e = bsearch(&key, builtin, NBUILTIN, sizeof(*e), cmp_entry);
    return e != NULL ? e->type : NULL;
}

static int cmp_key_loaded(const void *k, const void *b)
{
    return strcmp(k, ((const struct loaded *)b)->ext);
}

const char *sk_mime_lookup(const sk_mime_t *m, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    /* ".bashrc" is a hidden file without extension, not a "bashrc" file. */
    if (dot == NULL || dot == base)
        return SK_MIME_DEFAULT;
    const char *ext = dot + 1;
    size_t n = strlen(ext);
    if (n == 0 || n > EXT_MAX)
        return SK_MIME_DEFAULT;
    char key[EXT_MAX + 1];
    memcpy(key, ext, n + 1);
    ascii_lower(key);
    const char *t = find_builtin(key);
    if (t != NULL)
        return t;
    if (m != NULL && m->n > 0) {
        const struct loaded *e = bsearch(key, m->v, m->n, sizeof(*e), cmp_key_loaded);
        if (e != NULL)
            return e->type;
    }
    return SK_MIME_DEFAULT;
}

/* RFC 9110 §5.6.2 tchar: a type or subtype must be a token, which also
 * keeps CR/LF and quotes out of the Content-Type header we emit. */
static bool is_tchar(unsigned char c)
{
    return SK_TOK_IS(c, SK_TOK_TCHAR);
}

static bool valid_type(const char *t)
{
    const char *slash = strchr(t, '/');
    if (slash == NULL || slash == t || slash[1] == '\0')
        return false;
    for (const char *p = t; *p != '\0'; p++)
        if (p != slash && !is_tchar((unsigned char)*p))
            return false;
    return true;
}

static bool valid_ext(const char *e)
{
    size_t n = strlen(e);
    if (n == 0 || n > EXT_MAX)
        return false;
    for (; *e != '\0'; e++)
        if (!SK_TOK_IS(*e, SK_TOK_ALPHA | SK_TOK_DIGIT) && *e != '-' && *e != '_' && *e != '+')
            return false;
    return true;
}

/* The same rule the built-in table follows: every text/ type and the textual types
 * a browser renders as text get a UTF-8 charset, so it is not sniffed. */
static bool wants_charset(const char *t)
{
    return strncmp(t, "text/", 5) == 0 || strcmp(t, "application/javascript") == 0 ||
           strcmp(t, "application/json") == 0 || strcmp(t, "image/svg+xml") == 0;
}

/* A growable array of entries being loaded. */
struct pending {
    struct loaded *v;
    size_t n, cap;
};

static void pending_free(struct pending *p)
{
    for (size_t i = 0; i < p->n; i++)
        sk_free(p->v[i].ext);
    sk_free(p->v);
}

static int pending_add(struct pending *p, const char *ext, const char *type, size_t seq)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        struct loaded *v = sk_realloc(p->v, cap * sizeof(*v));
        if (v == NULL)
            return -ENOMEM;
        p->v = v;
        p->cap = cap;
    }
    static const char cs[] = "; charset=utf-8";
    size_t el = strlen(ext), tl = strlen(type);
    size_t csl = wants_charset(type) ? sizeof(cs) - 1 : 0;
    char *mem = sk_malloc(el + 1 + tl + csl + 1);
    if (mem == NULL)
        return -ENOMEM;
    memcpy(mem, ext, el + 1);
    memcpy(mem + el + 1, type, tl);
    memcpy(mem + el + 1 + tl, cs, csl);
    mem[el + 1 + tl + csl] = '\0';
    p->v[p->n++] = (struct loaded){mem, mem + el + 1, seq};
    return 0;
}

static int parse_line(sk_mime_t *m, struct pending *p, char *line)
{
    static const char ws[] = " \t\r\n\v\f";
    char *hash = strchr(line, '#');
    if (hash != NULL)
        *hash = '\0';
    char *save = NULL;
    char *type = strtok_r(line, ws, &save);
    if (type == NULL)
        return 0;
    /* Media types are case-insensitive (RFC 9110 §8.3.1); store them in
     * the conventional lowercase. */
    ascii_lower(type);
    if (!valid_type(type))
        return 0;
    for (char *ext; (ext = strtok_r(NULL, ws, &save)) != NULL;) {
        ascii_lower(ext);
        if (!valid_ext(ext) || find_builtin(ext) != NULL)
            continue;
        int rc = pending_add(p, ext, type, m->seq++);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int sk_mime_load_file(sk_mime_t *m, const char *path)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -errno;
    struct pending p = {0};
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    errno = 0;
    while (getline(&line, &cap, f) >= 0) {
        rc = parse_line(m, &p, line);
        if (rc < 0)
            goto out;
    }
    if (ferror(f)) {
        rc = errno ? -errno : -EIO;
        goto out;
    }
    if (p.n == 0)
        goto out;

    /* Merge: old entries first (their seq is lower), then sort by
     * (ext, seq) and keep the first of each extension. */
    struct loaded *v = sk_malloc((m->n + p.n) * sizeof(*v));
    if (v == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    if (m->n > 0)
        memcpy(v, m->v, m->n * sizeof(*v));
    memcpy(v + m->n, p.v, p.n * sizeof(*v));
    size_t n = m->n + p.n;
    qsort(v, n, sizeof(*v), cmp_loaded);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k > 0 && strcmp(v[k - 1].ext, v[i].ext) == 0)
            sk_free(v[i].ext);
        else
            v[k++] = v[i];
    }
    sk_free(m->v);
    m->v = v;
    m->n = k;
    p.n = 0; /* ownership moved into m */
out:
    free(line); /* getline allocates with malloc */
    fclose(f);
    pending_free(&p);
    return rc;
}
