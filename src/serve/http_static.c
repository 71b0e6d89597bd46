/* http_static.c -- responses for GET/HEAD from the filesystem: path
 * normalisation, opening strictly beneath the root (openat2
 * RESOLVE_BENEATH, or a no-symlink walk where openat2 is missing),
 * dotfile hiding, index files and redirects, directory listings,
 * conditional requests, ranges (single and multipart) and precompressed
 * .br/.gz siblings. Bodies go out with sendfile; small ones are copied
 * next to the head so both leave in one packet. */
#include "serve/internal.h"
#include "core/alloc.h"
#include "proto/accept_encoding.h"
#include "proto/cond.h"
#include "proto/date.h"
#include "proto/http_write.h"
#include "proto/path.h"
#include "proto/range.h"
#include "serve/dirlist.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bodies up to this size are read into the output queue right behind the
 * head: one send instead of a send plus a sendfile. */
#define INLINE_BODY_MAX (16u * 1024u)

static const char multipart_boundary[] = "sockkit-byteranges-5a1c3e";

/* open_beneath, giving up the worker's spare descriptor once when the
 * process is out of them: the request is served and the spare comes back
 * when the response is queued. */
static int open_file(sk__http_req_t *r, const char *rel, int flags)
{
    int fd = sk__open_beneath(r->cfg->root_fd, rel, flags);
    if ((fd == -EMFILE || fd == -ENFILE) && r->spare_fd != NULL && *r->spare_fd >= 0) {
        close(*r->spare_fd);
        *r->spare_fd = -1;
        fd = sk__open_beneath(r->cfg->root_fd, rel, flags);
    }
    return fd;
}

static int status_for_errno(int e)
{
    switch (-e) {
    case EACCES:
    case EPERM:
        return 403;
    case EMFILE:
    case ENFILE:
    case ENOMEM:
        return 503;
    default:
        /* ENOENT, ENOTDIR, EXDEV (escape attempt), ELOOP: not found, and
         * nothing said about why. */
        return 404;
    }
}

/* Appends "Connection: ..." as the request's keep-alive decision says. */
static void head_connection(sk_http_head_t *h, const sk__http_req_t *r)
{
    if (!r->keep_alive)
        sk_http_head_str(h, "Connection: close\r\n");
    else if (r->req->version_minor == 0)
        sk_http_head_str(h, "Connection: keep-alive\r\n");
}

/* Every head here is bounded by our own fields (ETag, dates, a MIME type
 * from the table), so one that does not fit is our fault: 500. Returns 0
 * when the head was queued (the body may follow), 1 when a complete error
 * response replaced it, or -ENOMEM. */
static int send_head(sk__http_req_t *r, sk_http_head_t *h)
{
    return sk__http_head_send(r, h, 500);
}

static int redirect_to_slash(sk__http_req_t *r, const char *norm)
{
    sk_buf_t loc;
    sk_buf_init(&loc);
    int rc = sk_buf_append(&loc, "Location: ", 10);
    if (rc == 0)
        rc = sk_url_encode_path(&loc, norm, strlen(norm));
    if (rc == 0)
        rc = sk_buf_append(&loc, "/", 1);
    if (rc == 0 && r->req->query.len > 0) {
        rc = sk_buf_append(&loc, "?", 1);
        if (rc == 0)
            rc = sk_buf_append(&loc, r->req->query.ptr, r->req->query.len);
    }
    if (rc == 0)
        rc = sk_buf_append(&loc, "\r\n\0", 3);
    if (rc == 0)
        rc = sk__http_simple(r, 301, sk_buf_head(&loc));
    sk_buf_fini(&loc);
    return rc < 0 ? -ENOMEM : 0;
}

static int serve_listing(sk__http_req_t *r, int dirfd, const char *norm)
{
    sk_buf_t page;
    sk_buf_init(&page);
    int rc = sk_dirlist_html(r->cfg->root_fd, dirfd, norm, r->cfg->dotfiles, &page);
    if (rc < 0) {
        sk_buf_fini(&page);
        return rc == -ENOMEM ? -ENOMEM : sk__http_simple(r, status_for_errno(rc), NULL);
    }
    sk_http_head_t *h = sk_malloc(sizeof(*h));
    if (h == NULL) {
        sk_buf_fini(&page);
        return -ENOMEM;
    }
    sk_http_head_start(h, 200, r->date);
    sk_http_head_str(h, "Content-Type: text/html; charset=utf-8\r\nCache-Control: no-cache\r\n");
    sk_http_head_field_u64(h, "Content-Length", page.len);
    head_connection(h, r);
    r->status = 200;
    rc = send_head(r, h);
    if (rc == 0 && !r->head_only) {
        rc = sk_outq_append(r->out, sk_buf_head(&page), page.len);
        r->body_bytes = page.len;
    }
    if (rc > 0)
        rc = 0;
    sk_free(h);
    sk_buf_fini(&page);
    return rc;
}

struct file_info {
    int fd;
    bool give;       /* queue_body may take fd over (its last use) */
    const char *mem; /* cached contents, or NULL to read fd */
    struct stat st;
    const char *type;      /* Content-Type of the original name */
    enum sk_coding coding; /* of the body actually sent */
    bool vary;             /* a precompressed sibling was considered */
    char etag[SK_COND_ETAG_MAX];
    size_t etag_len;
    char last_modified[SK_DATE_LEN + 1];
};

/* Queues len bytes of the file from off: copied when cached or small (the
 * fd stays ours), else by sendfile with the queue owning a dup of the fd. */
static int queue_body(sk__http_req_t *r, struct file_info *f, uint64_t off, uint64_t len)
{
    int fd = f->fd;
    r->body_bytes += len;
    if (f->mem != NULL)
        return sk_outq_append(r->out, f->mem + off, (size_t)len);
    if (len <= INLINE_BODY_MAX) {
        char *dst = sk_outq_reserve(r->out, (size_t)len);
        if (dst == NULL)
            return -ENOMEM;
        size_t got = 0;
        while (got < len) {
            ssize_t n = pread(fd, dst + got, (size_t)len - got, (off_t)(off + got));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return -EIO; /* the file shrank: the response cannot be completed */
            got += (size_t)n;
        }
        sk_outq_commit(r->out, (size_t)len);
        return 0;
    }
    if (f->give) {
        /* The last use of the descriptor: the queue takes it over, so a
         * sendfile body needs no second descriptor (which may not exist
         * when the process is out of them). */
        f->give = false;
        int rc = sk_outq_append_file(r->out, fd, (off_t)off, len, true);
        f->fd = -1;
        return rc;
    }
    int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0)
        return -errno;
    return sk_outq_append_file(r->out, copy, (off_t)off, len, true);
}

/* Looks for NAME.br / NAME.gz when the client accepts them. On success
 * replaces f->fd/f->st with the sibling's. */
static void choose_precompressed(sk__http_req_t *r, const char *rel, struct file_info *f)
{
    unsigned prefs = sk_accept_encoding_parse(r->req->accept_encoding);
    bool want_br = false, want_gz = false;
    for (unsigned i = 0; i < 3; i++) {
        enum sk_coding c = sk_accept_encoding_nth(prefs, i);
        want_br |= c == SK_CODING_BR;
        want_gz |= c == SK_CODING_GZIP;
    }
    if (!want_br && !want_gz)
        return;
    char name[SK__PATH_MAX + 4];
    size_t n = strlen(rel);
    if (n + 4 > sizeof(name))
        return;
    int fds[4] = {-1, -1, -1, -1};
    struct stat sts[4];
    unsigned available = SK_CODING_BIT(SK_CODING_IDENTITY);
    static const struct {
        enum sk_coding coding;
        const char *ext;
    } variants[] = {{SK_CODING_BR, ".br"}, {SK_CODING_GZIP, ".gz"}};
    for (size_t i = 0; i < 2; i++) {
        if ((variants[i].coding == SK_CODING_BR && !want_br) ||
            (variants[i].coding == SK_CODING_GZIP && !want_gz))
            continue;
        memcpy(name, rel, n);
        memcpy(name + n, variants[i].ext, 4);
        int fd = sk__open_beneath(r->cfg->root_fd, name, O_RDONLY | O_NONBLOCK);
        if (fd < 0)
            continue;
        if (fstat(fd, &sts[variants[i].coding]) != 0 || !S_ISREG(sts[variants[i].coding].st_mode)) {
            close(fd);
            continue;
        }
        fds[variants[i].coding] = fd;
        available |= SK_CODING_BIT(variants[i].coding);
    }
    if (available != SK_CODING_BIT(SK_CODING_IDENTITY))
        f->vary = true;
    enum sk_coding pick = sk_accept_encoding_choose(prefs, available);
    for (int c = 0; c < 4; c++) {
        if (fds[c] < 0)
            continue;
        if (c == (int)pick) {
            close(f->fd);
            f->fd = fds[c];
            f->st = sts[c];
            f->coding = pick;
        } else {
            close(fds[c]);
        }
    }
}

static void head_entity(sk_http_head_t *h, const sk__http_req_t *r, const struct file_info *f)
{
    sk_http_head_field(h, "Last-Modified", f->last_modified, SK_DATE_LEN);
    sk_http_head_field(h, "ETag", f->etag, f->etag_len);
    if (f->vary)
        sk_http_head_str(h, "Vary: Accept-Encoding\r\n");
    if (f->coding == SK_CODING_BR)
        sk_http_head_str(h, "Content-Encoding: br\r\n");
    else if (f->coding == SK_CODING_GZIP)
        sk_http_head_str(h, "Content-Encoding: gzip\r\n");
    head_connection(h, r);
}

static void head_content_range(sk_http_head_t *h, uint64_t a, uint64_t b, uint64_t size)
{
    sk_http_head_str(h, "Content-Range: bytes ");
    sk_http_head_u64(h, a);
    sk_http_head_raw(h, "-", 1);
    sk_http_head_u64(h, b);
    sk_http_head_raw(h, "/", 1);
    sk_http_head_u64(h, size);
    sk_http_head_raw(h, "\r\n", 2);
}

/* RFC 9110 §14.6: multipart/byteranges: each part has its
 * own Content-Type and Content-Range. The total length is computed first
 * so the response keeps Content-Length framing. */
static int send_multipart(sk__http_req_t *r, sk_http_head_t *h, struct file_info *f,
                          const sk_range_set_t *set)
{
    sk_http_head_t *part = sk_malloc(sizeof(*part));
    if (part == NULL)
        return -ENOMEM;
    uint64_t total = 0;
    for (unsigned pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < set->n; i++) {
            part->len = 0;
            part->overflow = false;
            sk_http_head_raw(part, "\r\n--", 4);
            sk_http_head_str(part, multipart_boundary);
            sk_http_head_str(part, "\r\nContent-Type: ");
            sk_http_head_str(part, f->type);
            sk_http_head_raw(part, "\r\n", 2);
            head_content_range(part, set->r[i].start, set->r[i].end, (uint64_t)f->st.st_size);
            sk_http_head_raw(part, "\r\n", 2);
            uint64_t len = set->r[i].end - set->r[i].start + 1;
            if (pass == 0 && part->overflow) {
                /* A part head that cannot fit (an absurd MIME type): nothing
                 * has been queued yet, so a whole 500 takes its place. */
                sk_free(part);
                return sk__http_simple(r, 500, NULL);
            }
            if (pass == 0) {
                total += part->len + len;
                continue;
            }
            int rc = sk_outq_append(r->out, part->buf, part->len);
            if (rc == 0)
                rc = queue_body(r, f, set->r[i].start, len);
            if (rc < 0) {
                sk_free(part);
                return rc;
            }
        }
        part->len = 0;
        sk_http_head_raw(part, "\r\n--", 4);
        sk_http_head_str(part, multipart_boundary);
        sk_http_head_raw(part, "--\r\n", 4);
        if (pass == 0) {
            total += part->len;
            sk_http_head_str(h, "Content-Type: multipart/byteranges; boundary=");
            sk_http_head_str(h, multipart_boundary);
            sk_http_head_raw(h, "\r\n", 2);
            sk_http_head_field_u64(h, "Content-Length", total);
            head_entity(h, r, f);
            int rc = send_head(r, h);
            if (rc != 0 || r->head_only) {
                sk_free(part);
                return rc < 0 ? rc : 0;
            }
            continue;
        }
        int rc = sk_outq_append(r->out, part->buf, part->len);
        sk_free(part);
        return rc;
    }
    sk_free(part);
    return 0;
}

static int serve_file(sk__http_req_t *r, struct file_info *f, const char *rel)
{
    const sk_http_request_t *req = r->req;
    if (req->accept_encoding.len > 0 && f->mem == NULL)
        choose_precompressed(r, rel, f);
    uint64_t size = (uint64_t)f->st.st_size;
    /* Unsigned: tv_sec * 10^9 overflows int64_t for times after 2262. */
    uint64_t mtime_ns =
        (uint64_t)f->st.st_mtim.tv_sec * 1000000000u + (uint64_t)f->st.st_mtim.tv_nsec;
    f->etag_len =
        (size_t)sk_cond_etag_make(f->etag, sizeof(f->etag), size, mtime_ns, (uint64_t)f->st.st_ino);
    sk_date_format(f->st.st_mtim.tv_sec, f->last_modified);

    /* RFC 9110 §13.2.2: preconditions before Range. */
    sk_cond_req_t cond = {
        .if_none_match = req->if_none_match,
        .if_modified_since = req->if_modified_since,
    };
    enum sk_cond_result cr =
        sk_cond_evaluate(&cond, (sk_str_t){f->etag, f->etag_len}, f->st.st_mtim.tv_sec);
    sk_http_head_t *h = sk_malloc(sizeof(*h));
    if (h == NULL)
        return -ENOMEM;
    int rc;
    if (cr == SK_COND_NOT_MODIFIED) {
        sk_http_head_start(h, 304, r->date);
        head_entity(h, r, f);
        r->status = 304;
        rc = send_head(r, h) < 0 ? -ENOMEM : 0;
        goto out;
    }

    sk_range_set_t set = {.kind = SK_RANGE_NONE};
    if (req->range.len > 0 && req->method_id == SK_HTTP_GET &&
        sk_range_if_range_matches(req->if_range, (sk_str_t){f->etag, f->etag_len},
                                  f->st.st_mtim.tv_sec))
        sk_range_parse(req->range, size, &set);

    if (set.kind == SK_RANGE_UNSATISFIABLE) {
        sk_http_head_start(h, 416, r->date);
        sk_http_head_str(h, "Content-Range: bytes */");
        sk_http_head_u64(h, size);
        sk_http_head_raw(h, "\r\n", 2);
        sk_http_head_str(h, "Content-Length: 0\r\n");
        head_entity(h, r, f);
        r->status = 416;
        rc = send_head(r, h) < 0 ? -ENOMEM : 0;
        goto out;
    }
    if (set.kind == SK_RANGE_SATISFIABLE && set.n > 1) {
        sk_http_head_start(h, 206, r->date);
        sk_http_head_str(h, "Accept-Ranges: bytes\r\n");
        r->status = 206;
        rc = send_multipart(r, h, f, &set);
        goto out;
    }
    uint64_t off = 0, len = size;
    if (set.kind == SK_RANGE_SATISFIABLE) {
        off = set.r[0].start;
        len = set.r[0].end - set.r[0].start + 1;
        sk_http_head_start(h, 206, r->date);
        head_content_range(h, set.r[0].start, set.r[0].end, size);
        r->status = 206;
    } else {
        sk_http_head_start(h, 200, r->date);
        r->status = 200;
    }
    sk_http_head_str(h, "Content-Type: ");
    sk_http_head_str(h, f->type);
    sk_http_head_str(h, "\r\nAccept-Ranges: bytes\r\n");
    sk_http_head_field_u64(h, "Content-Length", len);
    head_entity(h, r, f);
    rc = send_head(r, h);
    if (rc == 0 && !r->head_only && len > 0) {
        f->give = true;
        rc = queue_body(r, f, off, len);
    }
    if (rc > 0)
        rc = 0;
out:
    sk_free(h);
    return rc;
}

/* True when NAME.br or NAME.gz exists: even a client that takes neither
 * gets `Vary: Accept-Encoding`, so a shared cache does not hand it a
 * compressed copy, or the reverse. */
static bool has_sibling(int rootfd, const char *rel)
{
    char name[SK__PATH_MAX + 4];
    size_t n = strlen(rel);
    if (n + 4 > sizeof(name))
        return false;
    memcpy(name, rel, n);
    static const char *const exts[] = {".br", ".gz"};
    for (size_t i = 0; i < 2; i++) {
        struct stat st;
        memcpy(name + n, exts[i], 4);
        if (fstatat(rootfd, name, &st, 0) == 0 && S_ISREG(st.st_mode))
            return true;
    }
    return false;
}

static bool wants_coding(const sk_http_request_t *req)
{
    if (req->accept_encoding.len == 0)
        return false;
    unsigned prefs = sk_accept_encoding_parse(req->accept_encoding);
    for (unsigned i = 0; i < 3; i++) {
        enum sk_coding c = sk_accept_encoding_nth(prefs, i);
        if (c == SK_CODING_BR || c == SK_CODING_GZIP)
            return true;
    }
    return false;
}

/* Serves norm, a normalised path of n bytes that fits SK__PATH_MAX. */
static int serve_path(sk__http_req_t *r, const char *norm, int n)
{
    const sk_http_request_t *req = r->req;
    const sk_http_config_t *cfg = r->cfg;
    if (!cfg->dotfiles && sk_path_is_hidden(norm))
        return sk__http_simple(r, 404, NULL);

    /* norm always starts with '/'; openat wants it relative. */
    char rel[SK__PATH_MAX + 2];
    size_t rlen = (size_t)n - 1;
    memcpy(rel, norm + 1, rlen + 1);
    while (rlen > 0 && rel[rlen - 1] == '/')
        rel[--rlen] = '\0';

    struct file_info f = {.fd = -1, .coding = SK_CODING_IDENTITY};
    /* The cache holds identity bodies only, so clients that accept a
     * precompressed coding take the filesystem path and its sibling
     * lookup. */
    bool cacheable = r->cache != NULL && norm[n - 1] != '/' && !wants_coding(req);
    if (cacheable) {
        /* One stat revalidates the entry. fstatat does not resolve beneath
         * the root, but it only decides whether cached bytes (read safely
         * earlier) still match: a path that now leads elsewhere differs in
         * inode and falls through to the checked open below. */
        const sk_cached_file_t *hit = sk_file_cache_get(r->cache, rel, rlen);
        struct stat now_st;
        if (hit != NULL && fstatat(cfg->root_fd, rel, &now_st, 0) == 0 &&
            sk_file_cache_fresh(hit, &now_st)) {
            f.mem = hit->data;
            f.st = hit->st;
            f.vary = hit->vary;
            f.type = sk_mime_lookup(cfg->mime, norm);
            return serve_file(r, &f, rel);
        }
    }
    /* O_NONBLOCK: opening a FIFO someone left in the tree must not block
     * the worker. */
    f.fd = open_file(r, rel, O_RDONLY | O_NONBLOCK);
    if (f.fd < 0)
        return sk__http_simple(r, status_for_errno(f.fd), NULL);
    int rc;
    if (fstat(f.fd, &f.st) != 0) {
        rc = sk__http_simple(r, 500, NULL);
        goto out;
    }
    if (S_ISDIR(f.st.st_mode)) {
        if (norm[n - 1] != '/') {
            rc = redirect_to_slash(r, norm);
            goto out;
        }
        char idx[SK__PATH_MAX + 2];
        int m = snprintf(idx, sizeof(idx), "%s%s%s", rel, rlen ? "/" : "", cfg->index);
        int ifd = m > 0 && (size_t)m < sizeof(idx) ? open_file(r, idx, O_RDONLY | O_NONBLOCK)
                                                   : -ENAMETOOLONG;
        struct stat ist;
        if (ifd >= 0 && fstat(ifd, &ist) == 0 && S_ISREG(ist.st_mode)) {
            close(f.fd);
            f.fd = ifd;
            f.st = ist;
            f.type = sk_mime_lookup(cfg->mime, cfg->index);
            rc = serve_file(r, &f, idx);
            goto out;
        }
        if (ifd >= 0)
            close(ifd);
        if (cfg->list_dirs)
            rc = serve_listing(r, f.fd, norm);
        else
            rc = sk__http_simple(r, 404, NULL);
        goto out;
    }
    if (!S_ISREG(f.st.st_mode)) {
        /* Devices, FIFOs and sockets are never content. */
        rc = sk__http_simple(r, 403, NULL);
        goto out;
    }
    if (norm[n - 1] == '/') {
        /* "/file.txt/" names a directory that is not there. */
        rc = sk__http_simple(r, 404, NULL);
        goto out;
    }
    f.type = sk_mime_lookup(cfg->mime, norm);
    if (!wants_coding(req))
        f.vary = has_sibling(cfg->root_fd, rel);
    if (cacheable) {
        sk_cached_file_t *e = sk_file_cache_put(r->cache, rel, rlen, &f.st, f.fd, r->now);
        if (e != NULL) {
            f.mem = e->data;
            e->vary = f.vary;
        }
    }
    rc = serve_file(r, &f, rel);
out:
    if (f.fd >= 0)
        close(f.fd);
    return rc;
}

int sk__http_static(sk__http_req_t *r)
{
    const sk_http_request_t *req = r->req;
    /* RFC 9112 §3: request lines of 8000 octets and more must work, so a
     * path longer than the usual buffer is normalised on the heap: dot
     * segments may still bring it back under PATH_MAX. The parser's
     * --max-header-bytes bounds it. */
    char small[SK__PATH_MAX + 2];
    char *norm = small;
    size_t cap = sizeof(small);
    if (req->path.len + 2 > cap) {
        cap = req->path.len + 2;
        norm = sk_malloc(cap);
        if (norm == NULL)
            return -ENOMEM;
    }
    enum sk_path_reason why = SK_PATH_OK;
    int n = sk_path_normalize(req->path.ptr, req->path.len, norm, cap, SK_PATH_DEFAULT, &why);
    int rc;
    if (n < 0)
        rc = sk__http_simple(r, sk_path_reason_status(why), NULL);
    else if ((size_t)n >= SK__PATH_MAX)
        rc = sk__http_simple(r, 404, NULL); /* no such name can exist (ENAMETOOLONG) */
    else
        rc = serve_path(r, norm, n);
    if (norm != small)
        sk_free(norm);
    return rc;
}
