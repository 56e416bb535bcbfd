/*
 * split.c — redis-cli style argument splitting. See split.h for the rules and the contract.
 */
#include "split.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum split_quote {
    QUOTE_NONE,
    QUOTE_DOUBLE,
    QUOTE_SINGLE,
};

static int set_err(struct split_err *err, int code, const char *msg)
{
    err->code = code;
    snprintf(err->msg, sizeof(err->msg), "%s", msg);
    return -1;
}

/* Whitespace as isspace() in the C locale, which is what may follow a closing quote. */
static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Ends an unquoted word. NUL is included because sdssplitargs stops at it. */
static int ends_word(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes the backslash escape at p[0] inside double quotes. Returns input bytes used. */
static size_t double_escape(const char *p, size_t avail, char *out)
{
    assert(avail >= 2 && p[0] == '\\');
    if (avail >= 4 && p[1] == 'x' && hex_value(p[2]) >= 0 && hex_value(p[3]) >= 0) {
        *out = (char)(hex_value(p[2]) * 16 + hex_value(p[3]));
        return 4;
    }
    switch (p[1]) {
    case 'n':
        *out = '\n';
        break;
    case 'r':
        *out = '\r';
        break;
    case 't':
        *out = '\t';
        break;
    case 'b':
        *out = '\b';
        break;
    case 'a':
        *out = '\a';
        break;
    default:
        *out = p[1];
        break;
    }
    return 2;
}

/* Handles line[*i] inside quotes. Returns 1 when a closing quote ends the word, 0 or -1. */
static int quoted_char(const char *line, size_t len, size_t *i, enum split_quote *q, char *out,
                       size_t *o, struct split_err *err)
{
    const char *p = line + *i;
    size_t avail = len - *i;
    char quote = *q == QUOTE_DOUBLE ? '"' : '\'';

    if (p[0] == quote) {
        if (avail > 1 && !is_space(p[1]))
            return set_err(err, SPLIT_EQUOTE, "closing quote must be followed by a space");
        *q = QUOTE_NONE;
        *i += 1;
        return 1;
    }
    if (p[0] == '\\' && avail > 1 && *q == QUOTE_DOUBLE) {
        *i += double_escape(p, avail, &out[(*o)++]);
        return 0;
    }
    if (p[0] == '\\' && avail > 1 && p[1] == '\'' && *q == QUOTE_SINGLE) {
        out[(*o)++] = '\'';
        *i += 2;
        return 0;
    }
    out[(*o)++] = p[0];
    *i += 1;
    return 0;
}

/* Decodes the word at line[*i] into out (room for len - *i bytes). Returns its length or -1. */
static long split_word(const char *line, size_t len, size_t *i, char *out, struct split_err *err)
{
    enum split_quote q = QUOTE_NONE;
    size_t o = 0;

    while (*i < len) {
        char c = line[*i];

        if (q != QUOTE_NONE) {
            int rc = quoted_char(line, len, i, &q, out, &o, err);
            if (rc < 0) return -1;
            if (rc == 1) return (long)o;
            continue;
        }
        if (ends_word(c)) return (long)o;
        if (c == '"')
            q = QUOTE_DOUBLE;
        else if (c == '\'')
            q = QUOTE_SINGLE;
        else
            out[o++] = c;
        *i += 1;
    }
    if (q != QUOTE_NONE) return set_err(err, SPLIT_EQUOTE, "unbalanced quotes");
    return (long)o;
}

/* Makes room for one more argument in args. 0 or -1. */
static int grow_args(struct split_args *args, struct split_err *err)
{
    size_t cap = args->cap == 0 ? 8 : args->cap * 2;
    char **argv;
    size_t *lens;

    if (args->argc < args->cap) return 0;
    if (args->argc >= SPLIT_ARGS_MAX) return set_err(err, SPLIT_ELIMIT, "too many arguments");
    argv = realloc(args->argv, cap * sizeof(*argv));
    if (argv == NULL) return set_err(err, SPLIT_ENOMEM, "out of memory");
    args->argv = argv;
    lens = realloc(args->lens, cap * sizeof(*lens));
    if (lens == NULL) return set_err(err, SPLIT_ENOMEM, "out of memory");
    args->lens = lens;
    args->cap = cap;
    return 0;
}

void split_args_init(struct split_args *args)
{
    memset(args, 0, sizeof(*args));
}

/* Appends word[0..len) to args as a new owned argument. 0 or -1. */
static int push_arg(struct split_args *args, const char *word, size_t len, struct split_err *err)
{
    char *copy;

    if (grow_args(args, err) != 0) return -1;
    copy = malloc(len + 1);
    if (copy == NULL) return set_err(err, SPLIT_ENOMEM, "out of memory");
    memcpy(copy, word, len);
    copy[len] = '\0';
    args->argv[args->argc] = copy;
    args->lens[args->argc] = len;
    args->argc++;
    return 0;
}

int split_line(const char *line, size_t len, struct split_args *args, struct split_err *err)
{
    char *scratch;
    size_t i = 0;
    int rc = 0;

    if (len > SPLIT_LINE_BYTES_MAX) return set_err(err, SPLIT_ELIMIT, "line too long");
    /* A word never decodes to more bytes than it takes in the line. */
    scratch = malloc(len + 1);
    if (scratch == NULL) return set_err(err, SPLIT_ENOMEM, "out of memory");
    for (;;) {
        long word_len;

        while (i < len && is_space(line[i]))
            i++;
        if (i == len || line[i] == '\0') break;
        word_len = split_word(line, len, &i, scratch, err);
        if (word_len < 0 || push_arg(args, scratch, (size_t)word_len, err) != 0) {
            rc = -1;
            break;
        }
    }
    free(scratch);
    return rc;
}

void split_args_deinit(struct split_args *args)
{
    for (size_t i = 0; i < args->argc; i++)
        free(args->argv[i]);
    free(args->argv);
    free(args->lens);
    split_args_init(args);
}
