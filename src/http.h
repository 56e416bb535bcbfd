/*
 * http.h - an incremental HTTP/1.x request parser that works in place and never allocates,
 * plus the small text helpers the HTTP API needs (percent-decoding, query parameters, JSON
 * strings).
 *
 * Parsing (picohttpparser's contract): http_parse_request looks at buf[0..len), the bytes a
 * connection has received so far, and returns the length of the request head (request line,
 * header lines and the empty line), HTTP_AGAIN when the head is not complete yet, or HTTP_BAD
 * when it can never be valid (req->status and req->error then say how to answer). It keeps no
 * state besides *scanned, the offset up to which the end of the head was already searched for
 * (start a new request with 0), so a head that arrives byte by byte costs O(n) in total. The
 * body follows the head: req->content_length bytes (a request with Transfer-Encoding is refused
 * with 411: request bodies must carry Content-Length).
 *
 * Ownership: every pointer in struct http_req points into buf, which must stay unchanged while
 * the request is used. The target is writable: http_pct_decode works in place on it.
 *
 * Accepted: HTTP/1.0 and HTTP/1.1, lines ending in CRLF or a bare LF, at most HTTP_HEADERS_MAX
 * header lines, at most lim->head_max bytes of head. Refused: obsolete line folding, control
 * bytes, a missing Host in HTTP/1.1, conflicting or malformed Content-Length, a
 * Content-Length together with Transfer-Encoding (request smuggling), Expect other than
 * 100-continue.
 *
 * Threads: pure functions; any thread.
 */
#ifndef PANDA_HTTP_H
#define PANDA_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define HTTP_AGAIN (-2)
#define HTTP_BAD   (-1)

/* Most header lines in one request. */
#define HTTP_HEADERS_MAX 64

enum http_method { HTTP_GET = 0, HTTP_HEAD, HTTP_PUT, HTTP_DELETE, HTTP_OTHER };

enum http_flags {
    HTTP_KEEP_ALIVE = 1 << 0,      /* the connection stays open after the response */
    HTTP_EXPECT_CONTINUE = 1 << 1, /* the client waits for 100 Continue before the body */
    HTTP_HAS_LENGTH = 1 << 2,      /* a Content-Length header was given */
};

struct http_header {
    const char *name;
    size_t name_len;
    const char *value; /* without surrounding blanks */
    size_t value_len;
};

struct http_req {
    enum http_method method;
    const char *method_p;
    size_t method_len;
    char *path; /* the target up to '?' (still percent-encoded) */
    size_t path_len;
    char *query; /* after '?', NULL when none */
    size_t query_len;
    int minor; /* HTTP/1.<minor> */
    unsigned flags;
    uint64_t content_length;
    size_t nheaders;
    struct http_header headers[HTTP_HEADERS_MAX];
    int status;        /* with HTTP_BAD: 400, 411, 413, 417, 431, 501 or 505 */
    const char *error; /* with HTTP_BAD: a static sentence for the client */
};

struct http_limits {
    size_t head_max;   /* request line + headers + empty line */
    uint64_t body_max; /* Content-Length */
};

/* Parses the head at the start of buf[0..len); see the contract above. */
long http_parse_request(char *buf, size_t len, size_t *scanned, const struct http_limits *lim,
                        struct http_req *req);

/* Decodes %XX escapes of s[0..len) in place (and '+' as a space when plus_space is set, as in
 * query strings); returns the new length, or -1 for a malformed escape. */
long http_pct_decode(char *s, size_t len, int plus_space);

/* Finds `name` among the query's `a=b&c=d` pairs (compared as raw bytes); returns 1 and the
 * raw (still encoded) value, or 0 when absent. A pair without '=' has an empty value. */
int http_query_get(char *query, size_t len, const char *name, char **val, size_t *vlen);

/* Appends p[0..n) as a JSON string (quotes included): '"', '\\' and control bytes escaped;
 * a byte that is not part of valid UTF-8 becomes \u00XX (its Latin-1 code point). */
void http_json_str(struct buf *b, const char *p, size_t n);

/* The reason phrase of a status code ("Unknown" for codes Panda does not send). */
const char *http_reason(int status);

#endif
