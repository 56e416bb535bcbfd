/*
 * fsutil.h - the file-system steps that durable files share: writing a buffer whole and
 * fsyncing a directory after a create or rename in it.
 *
 * Both return 0, or -1 with err filled (KV_ESYS, errno saved, the path or what failed named).
 * No state; any thread.
 */
#ifndef PANDA_FSUTIL_H
#define PANDA_FSUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Writes p[0..n) to fd, retrying short writes and EINTR. what names the file for errors. */
int fs_write_all(int fd, const void *p, size_t n, const char *what, struct kv_err *err);
/* Writes p[0..n) at offset off of fd (pwrite; the fd's offset is untouched), the same way. */
int fs_pwrite_all(int fd, const void *p, size_t n, uint64_t off, const char *what,
                  struct kv_err *err);
/* fsync of the directory itself, so a rename or create in it survives a crash. */
int fs_fsync_dir(const char *dir, struct kv_err *err);

#endif
