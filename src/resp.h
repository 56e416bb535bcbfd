/*
 * resp.h - incremental parser of client requests: RESP multibulk arrays and inline lines.
 *
 * The parser never allocates in proportion to a length the client declared: argument slots
 * grow only as arguments actually arrive, and bulk bytes are never copied - each argument is
 * an (offset, length) pair into the caller's buffer. The caller keeps the bytes of a partial
 * command at the start of its buffer and calls again with more; parsing resumes where it
 * stopped (a large bulk is not rescanned).
 *
 * Inline lines are unescaped in place (see inline.h), so the buffer must be writable.
 *
 * Limits (struct resp_limits) are checked at the edge and produce Redis's error texts:
 * "too big inline request", "too big mbulk count string", "invalid multibulk length",
 * "expected '$', got 'x'", "too big bulk count string", "invalid bulk length",
 * "unbalanced quotes in request".
 *
 * Threads: a parser belongs to one connection.
 */
#ifndef PANDA_RESP_H
#define PANDA_RESP_H

#include <stddef.h>

#include "inline.h"

/* Most argument slots reserved ahead of arriving arguments (Redis preallocates 1024). */
#define RESP_ARGS_PREALLOC_MAX 1024

struct resp_limits {
    size_t inline_max; /* longest inline line or count line, bytes */
    size_t bulk_max;   /* longest bulk string, bytes */
    size_t args_max;   /* most arguments in one command */
};

enum resp_status {
    RESP_DONE = 1,   /* a command is complete: argc/args are set, *consumed says its size */
    RESP_AGAIN = 0,  /* need more bytes */
    RESP_ERROR = -1, /* protocol error: errmsg is set; the connection must be closed */
};

struct resp_parser {
    struct resp_limits lim;
    /* state of the command being parsed */
    long long mb_left;  /* bulks still expected, -1 before the count line is read */
    long long bulk_len; /* length of the bulk being read, -1 before its header */
    size_t pos;         /* resume offset into the buffer */
    /* result */
    size_t argc;
    size_t args_cap;
    struct inl_arg *args;
    const char *errmsg; /* valid until the next call */
    char errbuf[64];
};

void resp_parser_init(struct resp_parser *p, const struct resp_limits *lim);
void resp_parser_deinit(struct resp_parser *p);

/* Parses buf[0..len), which starts at the beginning of the current command. On RESP_DONE,
 * *consumed is the command's size and the parser is reset for the next command; an empty
 * command (empty inline line, "*0") is RESP_DONE with argc 0. */
int resp_parse(struct resp_parser *p, char *buf, size_t len, size_t *consumed);

/* Forgets a partial command (the caller discarded its bytes). */
void resp_parser_reset(struct resp_parser *p);

#endif
