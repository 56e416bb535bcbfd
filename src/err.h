/*
 * err.h - error reporting and assertions shared by every module.
 *
 * Fallible functions return 0 on success and -1 on failure, filling a caller-supplied
 * struct kv_err (code, saved errno, one-line message). Nothing below the protocol layer
 * prints an error or turns it into a client reply: the caller decides.
 *
 * kv_assert() is always on: it checks invariants (programmer errors), never input from the
 * network or the disk, which is handled as an error. kv_dassert() is for expensive checks
 * and is compiled only into debug builds (PANDA_DEBUG).
 */
#ifndef PANDA_ERR_H
#define PANDA_ERR_H

#include <stdarg.h>

enum kv_err_code {
    KV_OK = 0,
    KV_ESYS,   /* a system call failed; sys_errno holds errno */
    KV_EINVAL, /* bad input or configuration */
    KV_ELIMIT, /* a named limit was exceeded */
};

#define KV_ERR_MSG_MAX 1024 /* room for S3 keys, URLs and the error S3 returned */

struct kv_err {
    int code;
    int sys_errno;
    char msg[KV_ERR_MSG_MAX];
};

/* Fills err (if not NULL) with code and a printf-style message; returns -1 for tail calls. */
int kv_err_set(struct kv_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like kv_err_set with KV_ESYS, saving errno and appending strerror(errno) to the message. */
int kv_err_sys(struct kv_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void kv_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

#define kv_assert(e) ((e) ? (void)0 : kv_assert_fail(#e, __FILE__, __LINE__))
#ifdef PANDA_DEBUG
#define kv_dassert(e) kv_assert(e)
#else
#define kv_dassert(e) ((void)0)
#endif

#define kv_likely(x)   __builtin_expect(!!(x), 1)
#define kv_unlikely(x) __builtin_expect(!!(x), 0)

#endif
