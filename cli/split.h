/*
 * split — split one line of text into command arguments, the way redis-cli and the Redis
 * inline protocol do (sdssplitargs).
 *
 * Rules: arguments are separated by spaces, tabs, CR or LF; leading whitespace is skipped.
 * "double quotes" take the escapes \n \r \t \b \a \\ \" and \xHH (two hex digits); any other
 * \c stands for c. 'single quotes' take only \' ; other backslashes are literal. A quote may
 * start inside a word (ab"c d" is the one argument "abc d"), but a closing quote must be
 * followed by whitespace or the end of the line. Arguments are binary safe (\x00 is allowed).
 *
 * Thread model: none; each call is independent.
 * Ownership: split_line() fills a caller-supplied struct split_args with owned memory;
 * release it with split_args_deinit(), also after an error. Each argv[i] is NUL-terminated
 * for convenience, but lens[i] is its real length.
 * Errors: split_line() returns -1 and fills err: SPLIT_EQUOTE for unbalanced quotes or a
 * closing quote not followed by a space, SPLIT_ELIMIT for a line or argument count over the
 * limits below, SPLIT_ENOMEM when allocation fails.
 */
#ifndef PANDA_CLI_SPLIT_H
#define PANDA_CLI_SPLIT_H

#include <stddef.h>

#define SPLIT_LINE_BYTES_MAX (64 * 1024 * 1024) /* one input line */
#define SPLIT_ARGS_MAX       (1024 * 1024)      /* arguments per line, = server max-args */

enum split_err_code {
    SPLIT_OK = 0,
    SPLIT_EQUOTE = 1,
    SPLIT_ELIMIT = 2,
    SPLIT_ENOMEM = 3,
};

struct split_err {
    int code; /* enum split_err_code */
    char msg[128];
};

struct split_args {
    size_t argc;
    char **argv;  /* argc owned arguments, each NUL-terminated */
    size_t *lens; /* byte length of each argument */
    size_t cap;   /* allocated slots in argv and lens */
};

/* Zeroes args so that split_args_deinit() is safe. Never fails. */
void split_args_init(struct split_args *args);

/*
 * Splits line[0..len) (it need not be NUL-terminated) and appends the arguments to args,
 * which must be initialized. An empty or blank line gives argc == 0 and returns 0.
 * Returns 0, or -1 with err filled; args keeps what it held and must still be deinitialized.
 */
int split_line(const char *line, size_t len, struct split_args *args, struct split_err *err);

/* Frees every argument and the arrays, and re-initializes args. */
void split_args_deinit(struct split_args *args);

#endif /* PANDA_CLI_SPLIT_H */
