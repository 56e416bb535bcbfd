/* http.c - HTTP/1.x request parsing in place, and text helpers (see http.h). */
#include "http.h"

#include <stddef.h>
#include <string.h>

#include "err.h"
#include "util.h"

static long bad(struct http_req *r, int status, const char *why)
{
    r->status = status;
    r->error = why;
    return HTTP_BAD;
}

/* RFC 9110 token characters. */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Control bytes other than a tab, which no request line or header value may hold. */
static int is_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* Searches buf[from..len) for the empty line that ends a head; returns the head's length or
 * 0 when it is not there yet. */
static size_t find_head_end(const char *buf, size_t len, size_t from)
{
    const char *p = buf + from, *end = buf + len;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        size_t i = (size_t)(p - buf);
        if (i + 1 < len && buf[i + 1] == '\n') return i + 2;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n') return i + 3;
        p++;
    }
    return 0;
}

/* The line at p (which ends before end): returns where the next one starts; *n is the line's
 * length without its CR LF or LF. */
static char *next_line(char *p, const char *end, size_t *n)
{
    char *nl = memchr(p, '\n', (size_t)(end - p));
    kv_assert(nl != NULL); /* the head was found complete */
    *n = (size_t)(nl - p);
    if (*n > 0 && p[*n - 1] == '\r') (*n)--;
    return nl + 1;
}

static enum http_method method_of(const char *p, size_t n)
{
    static const char *const names[] = {"GET", "HEAD", "PUT", "DELETE"};
    for (int i = 0; i < 4; i++)
        if (strlen(names[i]) == n && memcmp(names[i], p, n) == 0) return (enum http_method)i;
    return HTTP_OTHER;
}

static long parse_version(const char *v, size_t n, struct http_req *r)
{
    if (n == 8 && memcmp(v, "HTTP/1.", 7) == 0 && v[7] >= '0' && v[7] <= '9') {
        r->minor = v[7] - '0';
        return 0;
    }
    if (n >= 6 && memcmp(v, "HTTP/", 5) == 0 && v[5] >= '0' && v[5] <= '9')
        return bad(r, 505, "only HTTP/1.0 and HTTP/1.1 are supported");
    return bad(r, 400, "malformed request line");
}

/* METHOD SP origin-form-target SP HTTP/1.x */
static long parse_request_line(char *line, size_t n, struct http_req *r)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)line[i]))
        i++;
    if (i == 0 || i >= n || line[i] != ' ') return bad(r, 400, "malformed request line");
    r->method_p = line;
    r->method_len = i;
    r->method = method_of(line, i);
    size_t t = ++i;
    while (i < n && line[i] != ' ') {
        if (is_ctl((unsigned char)line[i]) || line[i] == '\t')
            return bad(r, 400, "control byte in the request target");
        i++;
    }
    if (i >= n) return bad(r, 400, "malformed request line");
    if (line[t] != '/') return bad(r, 400, "the request target must start with /");
    r->path = line + t;
    r->path_len = i - t;
    char *q = memchr(r->path, '?', r->path_len);
    if (q) {
        r->query = q + 1;
        r->query_len = r->path_len - (size_t)(q + 1 - r->path);
        r->path_len = (size_t)(q - r->path);
    }
    return parse_version(line + i + 1, n - i - 1, r);
}

/* Digits only (no sign, no list), at most 19 of them. */
static int parse_length(const char *v, size_t n, uint64_t *out)
{
    if (n == 0 || n > 19) return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') return -1;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    *out = x;
    return 0;
}

/* Looks for `word` among the comma-separated tokens of a Connection header. */
static int has_token(const char *v, size_t n, const char *word)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
            i++;
        if (i > s && util_eqi(v + s, i - s, word)) return 1;
    }
    return 0;
}

struct head_seen {
    int close, keep_alive, hosts, chunked;
};

/* Applies the headers the server acts on; returns 0 or HTTP_BAD. */
static long interpret(struct http_req *r, const struct http_header *h, struct head_seen *seen)
{
    if (util_eqi(h->name, h->name_len, "content-length")) {
        uint64_t v;
        if (parse_length(h->value, h->value_len, &v) != 0)
            return bad(r, 400, "malformed Content-Length");
        if ((r->flags & HTTP_HAS_LENGTH) && v != r->content_length)
            return bad(r, 400, "conflicting Content-Length headers");
        r->content_length = v;
        r->flags |= HTTP_HAS_LENGTH;
    } else if (util_eqi(h->name, h->name_len, "transfer-encoding")) {
        seen->chunked = 1;
    } else if (util_eqi(h->name, h->name_len, "connection")) {
        seen->close |= has_token(h->value, h->value_len, "close");
        seen->keep_alive |= has_token(h->value, h->value_len, "keep-alive");
    } else if (util_eqi(h->name, h->name_len, "expect")) {
        if (!util_eqi(h->value, h->value_len, "100-continue"))
            return bad(r, 417, "only Expect: 100-continue is supported");
        r->flags |= HTTP_EXPECT_CONTINUE;
    } else if (util_eqi(h->name, h->name_len, "host")) {
        seen->hosts++;
    }
    return 0;
}

/* name ":" OWS value OWS */
static long parse_header(char *line, size_t n, struct http_req *r, struct head_seen *seen)
{
    if (line[0] == ' ' || line[0] == '\t') return bad(r, 400, "obsolete header line folding");
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)line[i]))
        i++;
    if (i == 0 || i >= n || line[i] != ':') return bad(r, 400, "malformed header line");
    if (r->nheaders == HTTP_HEADERS_MAX) return bad(r, 431, "too many header lines");
    struct http_header *h = &r->headers[r->nheaders++];
    h->name = line;
    h->name_len = i;
    size_t s = i + 1, e = n;
    while (s < e && (line[s] == ' ' || line[s] == '\t'))
        s++;
    while (e > s && (line[e - 1] == ' ' || line[e - 1] == '\t'))
        e--;
    for (size_t k = s; k < e; k++)
        if (is_ctl((unsigned char)line[k])) return bad(r, 400, "control byte in a header value");
    h->value = line + s;
    h->value_len = e - s;
    return interpret(r, h, seen);
}

/* Checks what the headers say together; returns 0 or HTTP_BAD. */
static long finish(struct http_req *r, const struct head_seen *seen, const struct http_limits *lim)
{
    if (seen->chunked && (r->flags & HTTP_HAS_LENGTH))
        return bad(r, 400, "Content-Length together with Transfer-Encoding");
    if (seen->chunked)
        return bad(r, 411, "chunked request bodies are not supported: send Content-Length");
    if (r->minor >= 1 && seen->hosts != 1) return bad(r, 400, "HTTP/1.1 needs exactly one Host");
    if (r->content_length > lim->body_max) return bad(r, 413, "request body too large");
    int keep = r->minor >= 1 ? !seen->close : seen->keep_alive && !seen->close;
    if (keep) r->flags |= HTTP_KEEP_ALIVE;
    return 0;
}

long http_parse_request(char *buf, size_t len, size_t *scanned, const struct http_limits *lim,
                        struct http_req *req)
{
    kv_assert(lim->head_max > 0 && *scanned <= len);
    memset(req, 0, offsetof(struct http_req, headers));
    req->status = 0;
    req->error = NULL;
    size_t head = find_head_end(buf, len, *scanned);
    if (head == 0 || head > lim->head_max) {
        size_t seen = len < lim->head_max ? len : lim->head_max;
        if (head == 0 && len < lim->head_max) {
            *scanned = len > 2 ? len - 2 : 0; /* a line end may straddle the next read */
            return HTTP_AGAIN;
        }
        if (!memchr(buf, '\n', seen)) return bad(req, 414, "request line too long");
        return bad(req, 431, "request head too large");
    }
    /* A later call for this request (its body still arriving) finds the same end again. */
    *scanned = head - (buf[head - 2] == '\r' ? 3 : 2);
    char *end = buf + head, *p = buf;
    size_t n;
    p = next_line(p, end, &n);
    if (parse_request_line(buf, n, req) != 0) return HTTP_BAD;
    struct head_seen seen = {0, 0, 0, 0};
    for (;;) {
        char *line = p;
        p = next_line(p, end, &n);
        if (n == 0) break;
        if (parse_header(line, n, req, &seen) != 0) return HTTP_BAD;
    }
    kv_assert(p == end);
    if (finish(req, &seen, lim) != 0) return HTTP_BAD;
    return (long)head;
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long http_pct_decode(char *s, size_t len, int plus_space)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= len) return -1;
            int hi = hex_val(s[i + 1]), lo = hex_val(s[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        s[o++] = c;
    }
    return (long)o;
}

int http_query_get(char *query, size_t len, const char *name, char **val, size_t *vlen)
{
    size_t nlen = strlen(name), i = 0;
    while (query && i < len) {
        char *pair = query + i;
        char *amp = memchr(pair, '&', len - i);
        size_t plen = amp ? (size_t)(amp - pair) : len - i;
        char *eq = memchr(pair, '=', plen);
        size_t klen = eq ? (size_t)(eq - pair) : plen;
        if (klen == nlen && memcmp(pair, name, nlen) == 0) {
            *val = eq ? eq + 1 : pair + plen;
            *vlen = eq ? plen - klen - 1 : 0;
            return 1;
        }
        i += plen + 1;
    }
    return 0;
}

/* Length of the valid UTF-8 sequence starting at p[0] (>= 0x80), or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
    size_t k = p[0] >= 0xC2 && p[0] <= 0xDF   ? 2
               : p[0] >= 0xE0 && p[0] <= 0xEF ? 3
               : p[0] >= 0xF0 && p[0] <= 0xF4 ? 4
                                              : 0;
    if (k == 0 || k > left || !util_utf8_valid(p, k)) return 0;
    return k;
}

void http_json_str(struct buf *b, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)p;
    buf_append_char(b, '"');
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\')
            run++;
        buf_append(b, s + i, run - i);
        if ((i = run) == n) break;
        size_t k = s[i] >= 0x80 ? utf8_seq(s + i, n - i) : 0;
        if (k > 0) {
            buf_append(b, s + i, k);
            i += k;
            continue;
        }
        if (s[i] == '"' || s[i] == '\\') {
            char esc[2] = {'\\', (char)s[i]};
            buf_append(b, esc, 2);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[s[i] >> 4], hex[s[i] & 15]};
            buf_append(b, esc, 6);
        }
        i++;
    }
    buf_append_char(b, '"');
}

const char *http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 417:
        return "Expectation Failed";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}
