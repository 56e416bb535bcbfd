/*
 * print — format a reply (struct rr_reply) as text, the way redis-cli 7 does.
 *
 * Two modes. PR_MODE_TTY is for people: bulk strings quoted with C-style escapes ("a\nb",
 * \xHH for other bytes outside 0x20..0x7e), status bare, (nil), (integer) N, (error) ...,
 * numbered and indented aggregates ("1) ", map "1# key => value", set "1~ "), (empty array),
 * (double) D, (true), (big number) N, and verbatim strings as their text. PR_MODE_RAW is for
 * scripts: bytes as they are, integers as digits, nil as an empty line, an error as its text
 * followed by an empty line (as redis-cli 7.0 prints it), aggregate elements one per line and
 * map pairs as "key value". PR_MODE_TEXT is raw for replies that are documents (INFO, HELP,
 * STATS): redis-cli prints those bare even on a terminal, without doubling a final newline.
 * PR_MODE_FIELDS shows the one-line "Storage: Local (./data), WAL: 0KB, ..." of STATS on a
 * terminal one field a line (a comma inside parentheses does not split).
 *
 * The text is appended to a struct pr_buf; printing it is the caller's job.
 *
 * Thread model: none.
 * Ownership: the caller owns the pr_buf (pr_buf_init / pr_buf_deinit) and the reply, which
 * pr_format() only reads.
 * Errors: pr_format() returns -1 with errno-style code ENOMEM in buf->err when memory runs
 * out or EFBIG when the text would pass PR_OUT_BYTES_MAX. The error is sticky: every later
 * append is ignored until pr_buf_reset().
 */
#ifndef PANDA_CLI_PRINT_H
#define PANDA_CLI_PRINT_H

#include <stddef.h>

#include "resp_reader.h"

#define PR_OUT_BYTES_MAX (4LL * 1024 * 1024 * 1024) /* formatted text of one reply */

enum pr_mode {
    PR_MODE_TTY,    /* decorated, for a terminal */
    PR_MODE_RAW,    /* bare values, for scripts */
    PR_MODE_TEXT,   /* like raw, but no newline added after text that already ends with one */
    PR_MODE_FIELDS, /* a one-line "a: 1, b: 2" string one field a line (STATS), else TTY */
};

struct pr_buf {
    char *data; /* owned, len bytes of text (not NUL-terminated) */
    size_t len;
    size_t cap;
    int err; /* 0, ENOMEM or EFBIG; sticky */
};

/* Makes buf empty without allocating. Never fails. */
void pr_buf_init(struct pr_buf *buf);

/* Drops the text and the error but keeps the memory for reuse. Never fails. */
void pr_buf_reset(struct pr_buf *buf);

/* Frees the memory and re-initializes buf. */
void pr_buf_deinit(struct pr_buf *buf);

/*
 * Appends the text of reply in mode to buf, ending with a newline (so a raw nil is "\n").
 * Returns 0, or -1 with buf->err set (the text in buf is then incomplete).
 */
int pr_format(struct pr_buf *buf, const struct rr_reply *reply, enum pr_mode mode);

/*
 * Appends s[0..n) quoted like redis-cli's sdscatrepr: "..." with \\ \" \n \r \t \a \b and
 * \xHH for other bytes outside 0x20..0x7e; split_line() reads it back as s. Errors stick in
 * buf->err as for pr_format().
 */
void pr_repr(struct pr_buf *buf, const char *s, size_t n);

#endif /* PANDA_CLI_PRINT_H */
