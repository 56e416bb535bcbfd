/* fsutil.c - whole writes and directory fsync (see fsutil.h). */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* Writes p[0..n) with write (off < 0) or pwrite at off, retrying short writes and EINTR. */
static int write_loop(int fd, const void *p, size_t n, int64_t off, const char *what,
                      struct kv_err *err)
{
    const char *c = p;
    while (n > 0) {
        ssize_t k = off < 0 ? write(fd, c, n) : pwrite(fd, c, n, (off_t)off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            if (k == 0) errno = EIO;
            return kv_err_sys(err, "cannot write %s", what);
        }
        c += k;
        n -= (size_t)k;
        if (off >= 0) off += k;
    }
    return 0;
}

int fs_write_all(int fd, const void *p, size_t n, const char *what, struct kv_err *err)
{
    return write_loop(fd, p, n, -1, what, err);
}

int fs_pwrite_all(int fd, const void *p, size_t n, uint64_t off, const char *what,
                  struct kv_err *err)
{
    kv_assert(off <= INT64_MAX);
    return write_loop(fd, p, n, (int64_t)off, what, err);
}

int fs_fsync_dir(const char *dir, struct kv_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return kv_err_sys(err, "cannot open %s", dir);
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? 0 : kv_err_sys(err, "fsync of directory %s", dir);
}
