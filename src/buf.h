/*
 * buf.h - a growable byte buffer, grown in place.
 *
 * A struct buf is embedded by its owner (buf_init/buf_deinit); the owner never reassigns the
 * data pointer by hand. `data` may move on every append, so pointers into it are valid only
 * until the next call that grows the buffer. Growth is geometric; allocation aborts on OOM
 * (alloc.h), so appends cannot fail. Not thread-safe: one owner at a time.
 */
#ifndef PANDA_BUF_H
#define PANDA_BUF_H

#include <stddef.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
};

void buf_init(struct buf *b);
void buf_deinit(struct buf *b); /* frees the storage; the buf is empty and reusable */

/* Ensures room for `extra` more bytes after len. */
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_append_str(struct buf *b, const char *s);
void buf_append_char(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Drops the first n bytes, moving the rest to the front. */
void buf_consume(struct buf *b, size_t n);

static inline char *buf_tail(struct buf *b)
{
    return b->data + b->len;
}

#endif
