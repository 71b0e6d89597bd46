/* beneath.c -- opening a path strictly beneath the served root: openat2
 * with RESOLVE_BENEATH where the kernel offers it (5.6+), else a walk that
 * opens one component at a time with O_NOFOLLOW (symlinks refused). Shared
 * by the file server and the directory listings. */
#include "serve/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Set once openat2 is known to be unavailable (old kernel, or filtered):
 * from then on every open takes the walk. Racy between workers, harmlessly:
 * each one that races simply finds out for itself. */
static bool openat2_missing;

/* The per-component fallback for kernels without openat2: each component
 * is opened with O_NOFOLLOW beneath the previous one, so a symlink anywhere
 * fails (ELOOP) instead of leading outside the root. */
static int open_walk(int rootfd, const char *rel, int flags)
{
    char buf[SK__PATH_MAX];
    size_t n = strlen(rel);
    if (n >= sizeof(buf))
        return -ENAMETOOLONG;
    memcpy(buf, rel, n + 1);
    int dirfd = dup(rootfd);
    if (dirfd < 0)
        return -errno;
    char *save = NULL;
    char *comp = strtok_r(buf, "/", &save);
    if (comp == NULL) {
        int fd = openat(rootfd, ".", flags | O_NOFOLLOW);
        close(dirfd);
        return fd < 0 ? -errno : fd;
    }
    while (comp != NULL) {
        char *next = strtok_r(NULL, "/", &save);
        int fd = openat(dirfd, comp,
                        next != NULL ? O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
                                     : flags | O_NOFOLLOW);
        int e = errno;
        close(dirfd);
        if (fd < 0)
            return -e;
        dirfd = fd;
        comp = next;
    }
    return dirfd;
}

/* Opens rel (relative, no leading '/') beneath rootfd. Symlinks that stay
 * inside the root are followed; anything that would leave it fails with
 * -EXDEV. Returns an fd or a negative errno. */
int sk__open_beneath(int rootfd, const char *rel, int flags)
{
    if (rel[0] == '\0')
        rel = ".";
    /* openat2 refuses O_PATH with anything but O_DIRECTORY/O_NOFOLLOW. */
    flags |= O_CLOEXEC | ((flags & O_PATH) ? 0 : O_NOCTTY);
    if (!openat2_missing) {
        struct open_how how = {
            .flags = (uint64_t)flags,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        long fd;
        do {
            fd = syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
        } while (fd < 0 && (errno == EINTR || errno == EAGAIN));
        if (fd >= 0)
            return (int)fd;
        if (errno == ENOSYS) {
            openat2_missing = true;
        } else if (errno == EPERM) {
            /* Seccomp profiles (Docker's, systemd's) answer EPERM for
             * system calls they do not know. EPERM is also a real answer
             * (O_NOATIME on someone else's file), so only a walk that then
             * succeeds proves openat2 is filtered. */
            int wfd = open_walk(rootfd, rel, flags);
            if (wfd >= 0)
                openat2_missing = true;
            return wfd;
        } else {
            return -errno;
        }
    }
    return open_walk(rootfd, rel, flags);
}
