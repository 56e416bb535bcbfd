/*
 * faultfs.c - an LD_PRELOAD shim that injects I/O faults into Panda's write-ahead log.
 *
 * It remembers which file descriptors were opened on a path whose basename is
 * "kv_database.wal" (open/open64/openat/openat64 and their _FORTIFY_SOURCE __*_2 variants;
 * forgotten again on close) and, for those descriptors only, can make
 *
 *   - fsync/fdatasync fail with EIO:
 *       FAULTFS_FSYNC_FAIL_AT=N    the Nth sync call (counting from 1) on a WAL fd and every
 *                                  later one fail with EIO without calling the real function.
 *       FAULTFS_FSYNC_LOSE=1       also act like a kernel that dropped the dirty pages: at the
 *                                  first failed sync, the file is cut back to the size it had
 *                                  when the last successful sync on that fd began, and every
 *                                  later write on that fd fails with EIO (so an
 *                                  acknowledged-but-unsynced record is really gone after a
 *                                  restart, and nothing lands after the hole).
 *   - write-type calls fail with ENOSPC ("disk full"):
 *       FAULTFS_ENOSPC_AT=N        from the Nth eligible write-type call on a WAL fd on ...
 *       FAULTFS_ENOSPC_FLAG=/path  ... while this file exists (unset: always). Removing the
 *                                  file is "space comes back".
 *       FAULTFS_ENOSPC_OPS=list    which calls are eligible (and counted): comma-separated
 *                                  "write" (write, pwrite, writev, pwritev) and/or "fallocate"
 *                                  (fallocate, posix_fallocate). Default: both.
 *       FAULTFS_SHORT=1            the first failing write of each full-disk episode first
 *                                  writes half of its bytes and returns that short count; the
 *                                  next call fails with ENOSPC (a partial record on disk).
 *   - FAULTFS_LOG=/path            append one line per injected fault to this file.
 *
 * The environment is read once, when the shim is loaded. Every other descriptor, and every
 * call that is not selected for a fault, goes straight to the real function (looked up with
 * dlsym(RTLD_NEXT, ...)). State is kept in atomics: the server calls fdatasync from a second
 * thread. posix_fallocate returns the error number instead of setting errno, as it must.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define WAL_BASENAME "kv_database.wal"
#define MAX_FDS      65536 /* descriptors above this are never tracked */

#define OP_WRITE     1u
#define OP_FALLOCATE 2u

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*open2_fn)(const char *, int);
typedef int (*openat2_fn)(int, const char *, int);
typedef int (*close_fn)(int);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef ssize_t (*pwritev_fn)(int, const struct iovec *, int, off_t);
typedef int (*sync_fn)(int);
typedef int (*fallocate_fn)(int, int, off_t, off_t);
typedef int (*posix_fallocate_fn)(int, off_t, off_t);

static struct {
    open_fn open, open64;
    openat_fn openat, openat64;
    open2_fn open_2, open64_2;
    openat2_fn openat_2, openat64_2;
    close_fn close;
    write_fn write;
    pwrite_fn pwrite, pwrite64;
    writev_fn writev;
    pwritev_fn pwritev, pwritev64;
    sync_fn fsync, fdatasync;
    fallocate_fn fallocate, fallocate64;
    posix_fallocate_fn posix_fallocate, posix_fallocate64;
} real;

/* Configuration, written once during initialisation. */
static long fsync_fail_at; /* 0 = off */
static int fsync_lose;
static long enospc_at;      /* 0 = off */
static unsigned enospc_ops; /* OP_* bits eligible for ENOSPC */
static int short_writes;
static char enospc_flag[4096];
static char log_path[4096];

/* 0 = not initialised, 1 = being initialised, 2 = ready. */
static atomic_int init_state;
static _Thread_local int in_init;

/* 0 = not a WAL fd, 1 = WAL fd, 2 = WAL fd whose unsynced data was "lost" (FSYNC_LOSE). */
static atomic_uchar wal_fd[MAX_FDS];
static atomic_llong synced_size[MAX_FDS]; /* FSYNC_LOSE: size covered by the last good sync */
static atomic_long sync_calls;
static atomic_long write_calls;
static atomic_int short_done; /* a short write was made in the current full-disk episode */
static atomic_int disk_full;  /* the last check found the disk "full" */

/* ------------------------------------------------------------------ raw fallbacks
 * Used only while the real functions are being looked up (dlsym may itself open files). */

static int raw_openat(int dirfd, const char *path, int flags, mode_t mode)
{
    return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}

static ssize_t raw_write(int fd, const void *buf, size_t n)
{
    return (ssize_t)syscall(SYS_write, fd, buf, n);
}

static int raw_close(int fd)
{
    return (int)syscall(SYS_close, fd);
}

/* ------------------------------------------------------------------ initialisation */

static void *next_sym(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

static long env_long(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) return 0;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < 0) return 0;
    return n;
}

static void env_str(const char *name, char *dst, size_t cap)
{
    const char *v = getenv(name);
    dst[0] = '\0';
    if (v && strlen(v) < cap) strcpy(dst, v);
}

static unsigned parse_ops(const char *v)
{
    if (!v || !*v) return OP_WRITE | OP_FALLOCATE;
    unsigned ops = 0;
    if (strstr(v, "write")) ops |= OP_WRITE;
    if (strstr(v, "fallocate")) ops |= OP_FALLOCATE;
    return ops;
}

static void do_init(void)
{
    real.open = (open_fn)next_sym("open");
    real.open64 = (open_fn)next_sym("open64");
    real.openat = (openat_fn)next_sym("openat");
    real.openat64 = (openat_fn)next_sym("openat64");
    real.open_2 = (open2_fn)next_sym("__open_2");
    real.open64_2 = (open2_fn)next_sym("__open64_2");
    real.openat_2 = (openat2_fn)next_sym("__openat_2");
    real.openat64_2 = (openat2_fn)next_sym("__openat64_2");
    real.close = (close_fn)next_sym("close");
    real.write = (write_fn)next_sym("write");
    real.pwrite = (pwrite_fn)next_sym("pwrite");
    real.pwrite64 = (pwrite_fn)next_sym("pwrite64");
    real.writev = (writev_fn)next_sym("writev");
    real.pwritev = (pwritev_fn)next_sym("pwritev");
    real.pwritev64 = (pwritev_fn)next_sym("pwritev64");
    real.fsync = (sync_fn)next_sym("fsync");
    real.fdatasync = (sync_fn)next_sym("fdatasync");
    real.fallocate = (fallocate_fn)next_sym("fallocate");
    real.fallocate64 = (fallocate_fn)next_sym("fallocate64");
    real.posix_fallocate = (posix_fallocate_fn)next_sym("posix_fallocate");
    real.posix_fallocate64 = (posix_fallocate_fn)next_sym("posix_fallocate64");

    fsync_fail_at = env_long("FAULTFS_FSYNC_FAIL_AT");
    enospc_at = env_long("FAULTFS_ENOSPC_AT");
    enospc_ops = parse_ops(getenv("FAULTFS_ENOSPC_OPS"));
    short_writes = env_long("FAULTFS_SHORT") != 0;
    fsync_lose = env_long("FAULTFS_FSYNC_LOSE") != 0;
    env_str("FAULTFS_ENOSPC_FLAG", enospc_flag, sizeof(enospc_flag));
    env_str("FAULTFS_LOG", log_path, sizeof(log_path));
}

/* Returns 1 once the shim is ready, 0 if the calling thread is inside initialisation (it must
 * then use the raw fallbacks). */
static int ensure_init(void)
{
    int st = atomic_load_explicit(&init_state, memory_order_acquire);
    if (st == 2) return 1;
    if (in_init) return 0;
    int expected = 0;
    if (atomic_compare_exchange_strong(&init_state, &expected, 1)) {
        in_init = 1;
        do_init();
        in_init = 0;
        atomic_store_explicit(&init_state, 2, memory_order_release);
        return 1;
    }
    while (atomic_load_explicit(&init_state, memory_order_acquire) != 2)
        ; /* another thread is initialising: it takes microseconds */
    return 1;
}

__attribute__((constructor)) static void faultfs_ctor(void)
{
    ensure_init();
}

/* ------------------------------------------------------------------ helpers */

static void log_fault(const char *fmt, ...)
{
    if (!log_path[0]) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n > sizeof(line) - 2) n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    int saved = errno;
    int fd = raw_openat(AT_FDCWD, log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
        ssize_t w = raw_write(fd, line, (size_t)n);
        (void)w;
        raw_close(fd);
    }
    errno = saved;
}

static int is_wal_path(const char *path)
{
    if (!path) return 0;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return strcmp(base, WAL_BASENAME) == 0;
}

static long long file_size(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? (long long)st.st_size : -1;
}

static void track(int fd, const char *path)
{
    if (fd < 0 || fd >= MAX_FDS || !is_wal_path(path)) return;
    int saved = errno;
    atomic_store(&synced_size[fd], file_size(fd)); /* what is there at open counts as synced */
    errno = saved;
    atomic_store(&wal_fd[fd], 1);
}

static int tracked(int fd)
{
    return fd >= 0 && fd < MAX_FDS && atomic_load(&wal_fd[fd]);
}

/* 1 if the fd's unsynced data was thrown away (FSYNC_LOSE): writes on it must fail. */
static int lost(int fd, const char *name)
{
    if (atomic_load(&wal_fd[fd]) != 2) return 0;
    log_fault("faultfs: %s fd=%d: EIO (after a failed sync)", name, fd);
    errno = EIO;
    return 1;
}

static int flag_present(void)
{
    if (!enospc_flag[0]) return 1;
    struct stat st;
    return stat(enospc_flag, &st) == 0;
}

/* Decides whether an eligible write-type call of class op on a WAL fd must fail with ENOSPC.
 * Returns 0 (pass through), 1 (fail) or 2 (do a short write, then report its count). */
static int enospc_decision(unsigned op, int fd, const char *name, size_t bytes)
{
    if (!enospc_at || !(enospc_ops & op)) return 0;
    long n = atomic_fetch_add(&write_calls, 1) + 1;
    if (n < enospc_at) return 0;
    if (!flag_present()) {
        if (atomic_exchange(&disk_full, 0))
            log_fault("faultfs: %s fd=%d call=%ld: space is back", name, fd, n);
        atomic_store(&short_done, 0);
        return 0;
    }
    atomic_store(&disk_full, 1);
    if (short_writes && op == OP_WRITE && bytes >= 2 && !atomic_exchange(&short_done, 1)) {
        log_fault("faultfs: %s fd=%d call=%ld: short write %zu of %zu bytes", name, fd, n,
                  bytes / 2, bytes);
        return 2;
    }
    log_fault("faultfs: %s fd=%d call=%ld: ENOSPC", name, fd, n);
    return 1;
}

/* Copies the first `limit` bytes of iov into out (at most cnt entries); returns the count. */
static int trim_iov(const struct iovec *iov, int cnt, size_t limit, struct iovec *out)
{
    int k = 0;
    for (int i = 0; i < cnt && limit > 0; i++) {
        size_t take = iov[i].iov_len < limit ? iov[i].iov_len : limit;
        out[k].iov_base = iov[i].iov_base;
        out[k].iov_len = take;
        limit -= take;
        k++;
    }
    return k;
}

static size_t iov_total(const struct iovec *iov, int cnt)
{
    size_t t = 0;
    for (int i = 0; i < cnt; i++)
        t += iov[i].iov_len;
    return t;
}

/* ------------------------------------------------------------------ open / close */

static mode_t open_mode(int flags, va_list ap)
{
    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) return (mode_t)va_arg(ap, int);
    return 0;
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = open_mode(flags, ap);
    va_end(ap);
    if (!ensure_init() || !real.open) return raw_openat(AT_FDCWD, path, flags, mode);
    int fd = real.open(path, flags, mode);
    track(fd, path);
    return fd;
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = open_mode(flags, ap);
    va_end(ap);
    if (!ensure_init() || !real.open64) return raw_openat(AT_FDCWD, path, flags, mode);
    int fd = real.open64(path, flags, mode);
    track(fd, path);
    return fd;
}

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = open_mode(flags, ap);
    va_end(ap);
    if (!ensure_init() || !real.openat) return raw_openat(dirfd, path, flags, mode);
    int fd = real.openat(dirfd, path, flags, mode);
    track(fd, path);
    return fd;
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = open_mode(flags, ap);
    va_end(ap);
    if (!ensure_init() || !real.openat64) return raw_openat(dirfd, path, flags, mode);
    int fd = real.openat64(dirfd, path, flags, mode);
    track(fd, path);
    return fd;
}

/* _FORTIFY_SOURCE builds call these when the flags are not a compile-time constant. */
int __open_2(const char *path, int flags);
int __open_2(const char *path, int flags)
{
    if (!ensure_init() || !real.open_2) return raw_openat(AT_FDCWD, path, flags, 0);
    int fd = real.open_2(path, flags);
    track(fd, path);
    return fd;
}

int __open64_2(const char *path, int flags);
int __open64_2(const char *path, int flags)
{
    if (!ensure_init() || !real.open64_2) return raw_openat(AT_FDCWD, path, flags, 0);
    int fd = real.open64_2(path, flags);
    track(fd, path);
    return fd;
}

int __openat_2(int dirfd, const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags)
{
    if (!ensure_init() || !real.openat_2) return raw_openat(dirfd, path, flags, 0);
    int fd = real.openat_2(dirfd, path, flags);
    track(fd, path);
    return fd;
}

int __openat64_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags)
{
    if (!ensure_init() || !real.openat64_2) return raw_openat(dirfd, path, flags, 0);
    int fd = real.openat64_2(dirfd, path, flags);
    track(fd, path);
    return fd;
}

int close(int fd)
{
    /* Forget first: once the real close returns, another thread may get the same number. */
    if (fd >= 0 && fd < MAX_FDS) atomic_store(&wal_fd[fd], 0);
    if (!ensure_init() || !real.close) return raw_close(fd);
    return real.close(fd);
}

/* ------------------------------------------------------------------ writes */

ssize_t write(int fd, const void *buf, size_t n)
{
    if (!ensure_init() || !real.write) return raw_write(fd, buf, n);
    if (tracked(fd)) {
        if (lost(fd, "write")) return -1;
        int d = enospc_decision(OP_WRITE, fd, "write", n);
        if (d == 1) {
            errno = ENOSPC;
            return -1;
        }
        if (d == 2) return real.write(fd, buf, n / 2);
    }
    return real.write(fd, buf, n);
}

static ssize_t do_pwrite(pwrite_fn fn, const char *name, int fd, const void *buf, size_t n,
                         off_t off)
{
    if (tracked(fd)) {
        if (lost(fd, name)) return -1;
        int d = enospc_decision(OP_WRITE, fd, name, n);
        if (d == 1) {
            errno = ENOSPC;
            return -1;
        }
        if (d == 2) return fn(fd, buf, n / 2, off);
    }
    return fn(fd, buf, n, off);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (!ensure_init() || !real.pwrite) return (ssize_t)syscall(SYS_pwrite64, fd, buf, n, off);
    return do_pwrite(real.pwrite, "pwrite", fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    if (!ensure_init() || !real.pwrite64) return (ssize_t)syscall(SYS_pwrite64, fd, buf, n, off);
    return do_pwrite(real.pwrite64, "pwrite64", fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    if (!ensure_init() || !real.writev) return (ssize_t)syscall(SYS_writev, fd, iov, cnt);
    if (tracked(fd)) {
        if (lost(fd, "writev")) return -1;
        size_t total = iov_total(iov, cnt);
        int d = enospc_decision(OP_WRITE, fd, "writev", total);
        if (d == 1) {
            errno = ENOSPC;
            return -1;
        }
        if (d == 2) {
            struct iovec part[IOV_MAX];
            int k = trim_iov(iov, cnt < IOV_MAX ? cnt : IOV_MAX, total / 2, part);
            return real.writev(fd, part, k);
        }
    }
    return real.writev(fd, iov, cnt);
}

static ssize_t do_pwritev(pwritev_fn fn, const char *name, int fd, const struct iovec *iov, int cnt,
                          off_t off)
{
    if (tracked(fd)) {
        if (lost(fd, name)) return -1;
        size_t total = iov_total(iov, cnt);
        int d = enospc_decision(OP_WRITE, fd, name, total);
        if (d == 1) {
            errno = ENOSPC;
            return -1;
        }
        if (d == 2) {
            struct iovec part[IOV_MAX];
            int k = trim_iov(iov, cnt < IOV_MAX ? cnt : IOV_MAX, total / 2, part);
            return fn(fd, part, k, off);
        }
    }
    return fn(fd, iov, cnt, off);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    if (!ensure_init() || !real.pwritev) {
        errno = ENOSYS;
        return -1;
    }
    return do_pwritev(real.pwritev, "pwritev", fd, iov, cnt, off);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off)
{
    if (!ensure_init() || !real.pwritev64) {
        errno = ENOSYS;
        return -1;
    }
    return do_pwritev(real.pwritev64, "pwritev64", fd, iov, cnt, off);
}

/* ------------------------------------------------------------------ syncs */

static int do_sync(sync_fn fn, long sysno, const char *name, int fd)
{
    if (!ensure_init() || !fn) return (int)syscall(sysno, fd);
    if (!tracked(fd) || !fsync_fail_at) return fn(fd);
    long n = atomic_fetch_add(&sync_calls, 1) + 1;
    if (n >= fsync_fail_at) {
        unsigned char one = 1;
        if (fsync_lose && atomic_compare_exchange_strong(&wal_fd[fd], &one, 2)) {
            long long keep = atomic_load(&synced_size[fd]);
            long long had = file_size(fd);
            int cut = keep >= 0 ? ftruncate(fd, (off_t)keep) : -1;
            log_fault("faultfs: %s fd=%d call=%ld: EIO, unsynced data dropped: cut from %lld to "
                      "%lld bytes (%s)",
                      name, fd, n, had, keep, cut == 0 ? "ok" : "FAILED");
        } else {
            log_fault("faultfs: %s fd=%d call=%ld: EIO", name, fd, n);
        }
        errno = EIO;
        return -1;
    }
    /* What was written before the call is what a successful sync covers. */
    long long before = fsync_lose ? file_size(fd) : -1;
    int rc = fn(fd);
    if (rc == 0 && before >= 0) {
        long long prev = atomic_load(&synced_size[fd]);
        while (before > prev && !atomic_compare_exchange_weak(&synced_size[fd], &prev, before))
            ;
    }
    return rc;
}

int fsync(int fd)
{
    if (!ensure_init()) return (int)syscall(SYS_fsync, fd);
    return do_sync(real.fsync, SYS_fsync, "fsync", fd);
}

int fdatasync(int fd)
{
    if (!ensure_init()) return (int)syscall(SYS_fdatasync, fd);
    return do_sync(real.fdatasync, SYS_fdatasync, "fdatasync", fd);
}

/* ------------------------------------------------------------------ space reservation */

static int do_fallocate(fallocate_fn fn, const char *name, int fd, int mode, off_t off, off_t len)
{
    if (!fn) return (int)syscall(SYS_fallocate, fd, mode, off, len);
    if (tracked(fd)) {
        if (lost(fd, name)) return -1;
        if (enospc_decision(OP_FALLOCATE, fd, name, 0) == 1) {
            errno = ENOSPC;
            return -1;
        }
    }
    return fn(fd, mode, off, len);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
    if (!ensure_init()) return (int)syscall(SYS_fallocate, fd, mode, off, len);
    return do_fallocate(real.fallocate, "fallocate", fd, mode, off, len);
}

int fallocate64(int fd, int mode, off_t off, off_t len)
{
    if (!ensure_init()) return (int)syscall(SYS_fallocate, fd, mode, off, len);
    return do_fallocate(real.fallocate64, "fallocate64", fd, mode, off, len);
}

/* posix_fallocate reports errors through its return value, never errno. */
static int do_posix_fallocate(posix_fallocate_fn fn, const char *name, int fd, off_t off, off_t len)
{
    if (!fn) return ENOSYS;
    if (tracked(fd)) {
        if (atomic_load(&wal_fd[fd]) == 2) return EIO;
        if (enospc_decision(OP_FALLOCATE, fd, name, 0) == 1) return ENOSPC;
    }
    return fn(fd, off, len);
}

int posix_fallocate(int fd, off_t off, off_t len)
{
    if (!ensure_init()) return ENOSYS;
    return do_posix_fallocate(real.posix_fallocate, "posix_fallocate", fd, off, len);
}

int posix_fallocate64(int fd, off_t off, off_t len)
{
    if (!ensure_init()) return ENOSYS;
    return do_posix_fallocate(real.posix_fallocate64, "posix_fallocate64", fd, off, len);
}
