/* dirlist.h -- HTML directory listings for the static server.
 *
 * Reads one directory and renders it as a small HTML5 page; the caller
 * decides whether listings are enabled and sends the page. */
#ifndef SK_SERVE_DIRLIST_H
#define SK_SERVE_DIRLIST_H

#include <stdbool.h>

#include "core/buf.h"

/* Appends an HTML5 page listing the directory dirfd (borrowed: never
 * closed, and its file offset is untouched) for url_path, the decoded,
 * normalised request path ending in '/', which names dirfd beneath the
 * served root rootfd (borrowed). Entries are sorted bytewise by
 * name, directories first with a trailing '/'; columns are name (link),
 * size (human, '-' for directories) and last modified (UTC). Names are
 * HTML-escaped in text and percent-encoded then HTML-escaped in hrefs.
 * '.' and '..' are never listed, other dot entries only if show_dotfiles;
 * a "../" link is shown except at "/". Symlinks are resolved beneath
 * rootfd as a request would be: those that stay inside are listed as
 * their targets, those that lead outside ROOT are not listed at all, nor
 * are broken links and entries that are neither regular files nor
 * directories. Returns 0, or -errno (-ENOMEM, or from opening
 * or reading the directory) with out unchanged. */
int sk_dirlist_html(int rootfd, int dirfd, const char *url_path, bool show_dotfiles, sk_buf_t *out);

#endif
