/* dirlist.c -- HTML directory listings (see dirlist.h). Entries are read
 * and stat'ed first, then sorted and rendered, so the page does not depend
 * on readdir order. Every name comes from the file system and is treated
 * as hostile: escaped for HTML text, percent-encoded for hrefs. */
#include "serve/dirlist.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "proto/path.h"
#include "serve/internal.h"

struct entry {
    size_t name_off; /* into the names buffer: pointers would move as it grows */
    size_t name_len;
    bool is_dir;
    off_t size;
    time_t mtime;
};

struct listing {
    struct entry *v;
    size_t n, cap;
    sk_buf_t names; /* NUL-terminated names, back to back */
};

/* qsort_r (glibc) passes the names buffer, as entries hold offsets. */
static int entry_cmp(const void *a, const void *b, void *names_arg)
{
    const char *sort_names = names_arg;
    const struct entry *x = a, *y = b;
    if (x->is_dir != y->is_dir)
        return x->is_dir ? -1 : 1;
    /* strcmp compares as unsigned char (C11 7.24.4), i.e. bytewise. */
    return strcmp(sort_names + x->name_off, sort_names + y->name_off);
}

static int listing_add(struct listing *l, const char *name, const struct stat *st)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        struct entry *v = sk_realloc(l->v, cap * sizeof(*v));
        if (v == NULL)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    size_t len = strlen(name);
    struct entry *e = &l->v[l->n];
    e->name_off = l->names.len;
    e->name_len = len;
    e->is_dir = S_ISDIR(st->st_mode);
    e->size = st->st_size;
    e->mtime = st->st_mtime;
    if (sk_buf_append(&l->names, name, len + 1) < 0)
        return -ENOMEM;
    l->n++;
    return 0;
}

/* Stats a symlink entry the way a request for it would resolve: beneath
 * the root (openat2 RESOLVE_BENEATH, or refused by the no-symlink walk).
 * Returns 0 with *st the target's, or a negative errno when it leads
 * outside the root, is broken or loops. */
static int stat_link(int rootfd, const char *url_path, const char *name, struct stat *st)
{
    char rel[SK__PATH_MAX];
    int n = snprintf(rel, sizeof(rel), "%s%s", url_path + 1, name);
    if (n < 0 || (size_t)n >= sizeof(rel))
        return -ENAMETOOLONG;
    int fd = sk__open_beneath(rootfd, rel, O_PATH);
    if (fd < 0)
        return fd;
    int rc = fstat(fd, st) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

/* Reads and stats every entry worth listing. */
static int read_entries(int rootfd, int dirfd, const char *url_path, bool show_dotfiles,
                        struct listing *l)
{
    /* A fresh open file description rather than dup(): a dup shares the
     * file offset, so reading it would move the caller's dirfd to the end
     * of the directory. openat(".") also works when dirfd is O_PATH. */
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (de == NULL) {
            rc = -errno;
            break;
        }
        const char *name = de->d_name;
        if (name[0] == '.' &&
            (name[1] == '\0' || (name[1] == '.' && name[2] == '\0') || !show_dotfiles))
            continue;
        struct stat st;
        /* The entry itself first: anything but a link is inside the root
         * because the directory is. A link is listed as what a request
         * would get, resolved beneath the root, so a link leading outside
         * shows nothing of its target (not even its size or date). A
         * broken, looping or unreadable entry cannot be served and is left
         * out rather than failing the page. */
        int e = fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
        if (e == 0 && S_ISLNK(st.st_mode))
            e = stat_link(rootfd, url_path, name, &st);
        if (e == -ENOMEM) {
            rc = -ENOMEM;
            break;
        }
        if (e < 0)
            continue;
        /* FIFOs, sockets and devices are never served (a FIFO would hang
         * the reader), so listing them would only produce dead links. */
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
            continue;
        rc = listing_add(l, name, &st);
        if (rc < 0)
            break;
    }
    closedir(d);
    return rc;
}

/* "512", "1.2K", "34K", "3.4M": one decimal below 10 units, like ls -lh
 * but rounded to nearest. */
static void human_size(off_t size, char *out, size_t cap)
{
    static const char units[] = "KMGTPE";
    if (size < 1024) {
        snprintf(out, cap, "%lld", (long long)(size < 0 ? 0 : size));
        return;
    }
    double v = (double)size;
    int u = -1;
    do {
        v /= 1024;
        u++;
    } while (v >= 1024 && u < 5);
    /* Rounding may carry into the next unit (1023.9K prints as 1.0M). */
    if (v >= 1023.5 && u < 5) {
        v /= 1024;
        u++;
    }
    if (v < 9.95)
        snprintf(out, cap, "%.1f%c", v, units[u]);
    else
        snprintf(out, cap, "%.0f%c", v, units[u]);
}

static int append_str(sk_buf_t *b, const char *s)
{
    return sk_buf_append(b, s, strlen(s));
}

/* href="..." value: percent-encode (RFC 3986 §3.3) then HTML-escape the
 * result, which still holds '&' and similar sub-delims. */
static int append_href(sk_buf_t *out, sk_buf_t *tmp, const char *name, size_t len, bool is_dir)
{
    tmp->off = tmp->len = 0;
    int rc = 0;
    /* RFC 3986 §4.2: a relative path whose first segment contains ':'
     * would be read as a scheme ("javascript:..."), so prefix "./". */
    if (memchr(name, ':', len) != NULL)
        rc = append_str(tmp, "./");
    if (rc == 0)
        rc = sk_url_encode_path(tmp, name, len);
    if (rc == 0 && is_dir)
        rc = append_str(tmp, "/");
    if (rc == 0)
        rc = sk_html_escape(out, sk_buf_head(tmp), tmp->len);
    return rc;
}

static int render(const struct listing *l, const char *url_path, sk_buf_t *out)
{
    sk_buf_t tmp;
    sk_buf_init(&tmp);
    size_t plen = strlen(url_path);
    int rc = append_str(out, "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
                             "<meta name=\"viewport\" content=\"width=device-width\">\n"
                             "<title>Index of ");
    if (rc == 0)
        rc = sk_html_escape(out, url_path, plen);
    if (rc == 0)
        rc = append_str(out, "</title>\n<style>td{padding:0 1em 0 0}td:nth-child(2){text-align:"
                             "right}</style>\n</head>\n<body>\n<h1>Index of ");
    if (rc == 0)
        rc = sk_html_escape(out, url_path, plen);
    if (rc == 0)
        rc = append_str(out, "</h1>\n<table>\n<thead><tr><th>Name</th><th>Size</th>"
                             "<th>Last modified (UTC)</th></tr></thead>\n<tbody>\n");
    if (rc == 0 && strcmp(url_path, "/") != 0)
        rc = append_str(out, "<tr><td><a href=\"../\">../</a></td><td>-</td><td></td></tr>\n");

    for (size_t i = 0; rc == 0 && i < l->n; i++) {
        const struct entry *e = &l->v[i];
        const char *name = l->names.data + l->names.off + e->name_off;
        char size[32], mtime[64];
        if (e->is_dir)
            strcpy(size, "-");
        else
            human_size(e->size, size, sizeof(size));
        struct tm tm;
        if (gmtime_r(&e->mtime, &tm) != NULL)
            snprintf(mtime, sizeof(mtime), "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min);
        else
            strcpy(mtime, "-");

        rc = append_str(out, "<tr><td><a href=\"");
        if (rc == 0)
            rc = append_href(out, &tmp, name, e->name_len, e->is_dir);
        if (rc == 0)
            rc = append_str(out, "\">");
        if (rc == 0)
            rc = sk_html_escape(out, name, e->name_len);
        if (rc == 0 && sk_buf_appendf(out, "%s</a></td><td>%s</td><td>%s</td></tr>\n",
                                      e->is_dir ? "/" : "", size, mtime) < 0)
            rc = -ENOMEM;
    }
    if (rc == 0)
        rc = append_str(out, "</tbody>\n</table>\n</body>\n</html>\n");
    sk_buf_fini(&tmp);
    return rc;
}

int sk_dirlist_html(int rootfd, int dirfd, const char *url_path, bool show_dotfiles, sk_buf_t *out)
{
    struct listing l = {0};
    sk_buf_init(&l.names);
    size_t out_len = out->len;

    int rc = read_entries(rootfd, dirfd, url_path, show_dotfiles, &l);
    if (rc == 0) {
        if (l.n > 1)
            qsort_r(l.v, l.n, sizeof(*l.v), entry_cmp, l.names.data + l.names.off);
        rc = render(&l, url_path, out);
    }
    /* On failure, leave no half page behind. A reserve may have slid the
     * unread bytes, but their count is what out_len recorded. */
    if (rc < 0)
        out->len = out_len;
    sk_free(l.v);
    sk_buf_fini(&l.names);
    return rc;
}
