/* err.c - struct kv_err helpers and the always-on assertion handler. */
#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int kv_err_set(struct kv_err *err, int code, const char *fmt, ...)
{
    if (!err) return -1;
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    err->sys_errno = 0;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

int kv_err_sys(struct kv_err *err, const char *fmt, ...)
{
    int saved = errno;
    if (!err) return -1;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(err->msg))
        snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, ": %s", strerror(saved));
    err->code = KV_ESYS;
    err->sys_errno = saved;
    errno = saved;
    return -1;
}

void kv_assert_fail(const char *expr, const char *file, int line)
{
    char msg[512];
    int n = snprintf(msg, sizeof(msg), "ASSERTION FAILED: %s at %s:%d\n", expr, file, line);
    if (n > 0) {
        ssize_t w = write(STDERR_FILENO, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg));
        (void)w;
    }
    abort();
}
