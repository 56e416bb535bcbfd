/*
 * resp_reader — incremental reader for one RESP2/RESP3 reply (panda-cli).
 *
 * Purpose: tell whether a buffer holds a complete reply and turn it into a tree of
 * struct rr_reply. rr_parse() works in two passes. The scan pass checks the bytes that have
 * arrived so far and remembers where it stopped, so every call only looks at new bytes. Only
 * when the whole reply is present does the build pass allocate the tree. Nothing is ever
 * allocated from a declared length ("$1000000000", "*1000000") before the bytes that back it
 * are in the buffer, and every declared length is checked against a named limit first.
 *
 * Supported types: + - : $ * (RESP2) and _ , # ( = ! % ~ > | (RESP3). Attributes (|) are
 * parsed and dropped. A RESP2 null bulk or null array becomes RR_NIL, like RESP3 "_".
 *
 * Thread model: none. A reader belongs to one connection and one thread.
 *
 * Ownership: the caller owns the buffer, the reader and the struct rr_reply it passes in.
 * A built reply borrows its string bytes from the buffer (rr_reply.str points into it), so
 * the buffer must stay unchanged until rr_reply_deinit(). Element arrays belong to the reply
 * and are freed by rr_reply_deinit().
 *
 * Errors: rr_parse() returns -1 and fills reader->err: RR_EPROTO for malformed input or a
 * length over a limit, RR_ENOMEM when the build pass cannot allocate. After an error the
 * reader is poisoned and fails fast until rr_reader_init(); the connection should be dropped.
 *
 * Invariants: buf[0] is the first byte of the reply being read, and between calls the caller
 * only appends to the buffer (it may move it: the reader keeps offsets, never pointers).
 */
#ifndef PANDA_CLI_RESP_READER_H
#define PANDA_CLI_RESP_READER_H

#include <stddef.h>
#include <sys/types.h>

#define RR_AGAIN (-2) /* rr_parse(): the reply is not complete yet */

#define RR_DEPTH_MAX      64                    /* nested aggregates (attributes included) */
#define RR_AGG_LEN_MAX    (1LL << 24)           /* elements declared by one aggregate */
#define RR_NODES_MAX      (1LL << 25)           /* elements in one whole reply */
#define RR_BULK_BYTES_MAX (512LL * 1024 * 1024) /* one bulk / verbatim / blob error */
#define RR_LINE_BYTES_MAX (1024 * 1024)         /* one header or simple line, CRLF excluded */

enum rr_err_code {
    RR_OK = 0,
    RR_EPROTO = 1, /* malformed reply or a length over a limit */
    RR_ENOMEM = 2, /* allocation failed while building the tree */
};

struct rr_err {
    int code; /* enum rr_err_code */
    char msg[128];
};

enum rr_type {
    RR_NIL = 0,  /* $-1, *-1 and _ */
    RR_STRING,   /* $ bulk string */
    RR_STATUS,   /* + simple string */
    RR_ERROR,    /* - simple error and ! blob error */
    RR_INTEGER,  /* : */
    RR_DOUBLE,   /* , text kept as sent */
    RR_BOOL,     /* # integer is 0 or 1 */
    RR_BIGNUM,   /* ( text kept as sent */
    RR_VERBATIM, /* = str is the text after the "txt:" prefix */
    RR_ARRAY,    /* * */
    RR_MAP,      /* % elements hold key, value, key, value... */
    RR_SET,      /* ~ */
    RR_PUSH,     /* > out-of-band message */
};

struct rr_reply {
    enum rr_type type;
    long long integer;         /* RR_INTEGER value, RR_BOOL 0 or 1 */
    const char *str;           /* string types: borrowed from the buffer, not NUL-terminated */
    size_t str_len;            /* bytes at str */
    size_t count;              /* aggregates: number of elements (a map stores 2 per pair) */
    struct rr_reply *elements; /* aggregates: owned array of count elements, else NULL */
};

/* Scan state of one reply in progress. Treat the fields as private. */
struct rr_level {
    long long remaining; /* elements still expected at this level */
    int is_attr;         /* 1 for an attribute, which does not count as an element */
};

struct rr_reader {
    size_t pos;      /* bytes of the current reply already checked */
    int depth;       /* open aggregates */
    long long nodes; /* elements seen so far in the current reply */
    int poisoned;    /* 1 after an error */
    struct rr_level stack[RR_DEPTH_MAX];
    struct rr_err err;
};

/* Resets reader to expect the first byte of a new reply. Never fails. */
void rr_reader_init(struct rr_reader *reader);

/*
 * Reads one reply from buf[0..len).
 * Returns the number of bytes the reply used (> 0) and fills *out, RR_AGAIN when more bytes
 * are needed (*out untouched), or -1 with reader->err filled.
 * After a complete reply the reader is reset for the next one; the caller drops the returned
 * number of bytes from the front of its buffer once it is done with *out.
 * Ownership: *out borrows from buf; release it with rr_reply_deinit().
 */
ssize_t rr_parse(struct rr_reader *reader, const char *buf, size_t len, struct rr_reply *out);

/* Frees the element arrays of reply (recursively) and zeroes it. Accepts a zeroed reply. */
void rr_reply_deinit(struct rr_reply *reply);

#endif /* PANDA_CLI_RESP_READER_H */
