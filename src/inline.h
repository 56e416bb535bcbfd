/*
 * inline.h - splits an inline command line into arguments, as Redis's sdssplitargs does.
 *
 * Words are separated by spaces or tabs. "Double quotes" group words and understand the
 * escapes \n \r \t \b \a \\ \" and \xHH; 'single quotes' group words and understand only \'.
 * A closing quote must be followed by a separator or the end of the line.
 *
 * The line is rewritten in place (unescaped text is never longer than its source), so each
 * argument is an (offset, length) pair into the caller's buffer. No allocation.
 */
#ifndef PANDA_INLINE_H
#define PANDA_INLINE_H

#include <stddef.h>

struct inl_arg {
    size_t off;
    size_t len;
};

enum inl_result {
    INL_OK = 0,
    INL_EQUOTES = -1, /* unbalanced quotes */
    INL_EARGS = -2,   /* more than max_args words */
};

/* Splits line[0..len) in place. base is added to every offset written to args (so offsets
 * can be relative to a larger buffer). Returns INL_OK with *argc set, or an error. */
int inl_split(char *line, size_t len, size_t base, struct inl_arg *args, size_t max_args,
              size_t *argc);

#endif
