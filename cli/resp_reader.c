/*
 * resp_reader.c — incremental RESP2/RESP3 reply reader. See resp_reader.h for the contract.
 *
 * The scan pass walks element headers and keeps a stack of how many elements each open
 * aggregate still expects; it stops (RR_AGAIN) at the first element whose bytes are not all
 * there, and the next call starts again from that element. The build pass then re-reads the
 * checked bytes, which are known to be well formed, and allocates the tree.
 */
#include "resp_reader.h"

#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One header or simple line: content is buf[start, start + len), the next element at next. */
struct rr_line {
    size_t start;
    size_t len;
    size_t next;
};

static int fail(struct rr_reader *r, const char *why)
{
    r->poisoned = 1;
    r->err.code = RR_EPROTO;
    snprintf(r->err.msg, sizeof(r->err.msg), "Protocol error: %s", why);
    return -1;
}

/* Strict base-10 long long: optional '-', at least one digit, no overflow. 0 or -1. */
static int parse_ll(const char *s, size_t n, long long *value)
{
    unsigned long long acc = 0, limit = (unsigned long long)LLONG_MAX;
    size_t i = 0;
    int neg = 0;

    if (n > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
        limit += 1; /* |LLONG_MIN| */
    }
    if (i == n) return -1;
    for (; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (s[i] < '0' || s[i] > '9') return -1;
        if (acc > (limit - d) / 10) return -1;
        acc = acc * 10 + d;
    }
    if (neg)
        *value = acc == limit ? LLONG_MIN : -(long long)acc;
    else
        *value = (long long)acc;
    return 0;
}

/* Finds the CRLF ending the line whose type byte is at buf[pos]. 0, RR_AGAIN or -1. */
static int find_line(struct rr_reader *r, const char *buf, size_t len, size_t pos,
                     struct rr_line *line)
{
    size_t start = pos + 1, avail, window, cr_at;
    const char *cr;

    if (start >= len) return RR_AGAIN;
    avail = len - start;
    window = avail < (size_t)RR_LINE_BYTES_MAX + 1 ? avail : (size_t)RR_LINE_BYTES_MAX + 1;
    cr = memchr(buf + start, '\r', window);
    if (cr == NULL) return avail > RR_LINE_BYTES_MAX ? fail(r, "line too long") : RR_AGAIN;
    cr_at = (size_t)(cr - buf);
    if (cr_at + 1 >= len) return RR_AGAIN;
    if (buf[cr_at + 1] != '\n') return fail(r, "expected LF after CR");
    line->start = start;
    line->len = cr_at - start;
    line->next = cr_at + 2;
    return 0;
}

/* Checks the text of a RESP3 double: digits and . e E + -, or inf / -inf / nan. */
static int is_double_text(const char *s, size_t n)
{
    if ((n == 3 && (!memcmp(s, "inf", 3) || !memcmp(s, "nan", 3))) ||
        (n == 4 && !memcmp(s, "-inf", 4)))
        return 1;
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        if (strchr("0123456789.eE+-", s[i]) == NULL || s[i] == '\0') return 0;
    }
    return 1;
}

static int is_bignum_text(const char *s, size_t n)
{
    size_t i = (n > 0 && s[0] == '-') ? 1 : 0;

    if (i == n) return 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
    }
    return 1;
}

/* Checks the content of a one-line scalar. 0 or -1. */
static int scan_scalar(struct rr_reader *r, char type, const char *s, size_t n)
{
    long long v;

    switch (type) {
    case '+':
    case '-':
        return 0;
    case ':':
        return parse_ll(s, n, &v) == 0 ? 0 : fail(r, "invalid integer");
    case ',':
        return is_double_text(s, n) ? 0 : fail(r, "invalid double");
    case '(':
        return is_bignum_text(s, n) ? 0 : fail(r, "invalid big number");
    case '#':
        return (n == 1 && (s[0] == 't' || s[0] == 'f')) ? 0 : fail(r, "invalid boolean");
    case '_':
        return n == 0 ? 0 : fail(r, "invalid null");
    default:
        return fail(r, "unknown reply type byte");
    }
}

/* Checks a $ = ! element whose header is line; advances r->pos past it when complete. */
static int scan_blob(struct rr_reader *r, const char *buf, size_t len, char type,
                     const struct rr_line *line)
{
    long long n;
    size_t end;

    if (parse_ll(buf + line->start, line->len, &n) != 0) return fail(r, "invalid bulk length");
    if (n == -1 && type == '$') {
        r->pos = line->next;
        return 0;
    }
    if (n < 0 || n > RR_BULK_BYTES_MAX) return fail(r, "invalid bulk length");
    if (type == '=' && n < 4) return fail(r, "invalid verbatim string length");
    end = line->next + (size_t)n;
    if (len < end + 2) return RR_AGAIN;
    if (buf[end] != '\r' || buf[end + 1] != '\n') return fail(r, "bulk not followed by CRLF");
    if (type == '=' && buf[line->next + 3] != ':') return fail(r, "invalid verbatim format");
    r->pos = end + 2;
    return 0;
}

/* Checks an aggregate header. *agg becomes the element count, or -1 for a null array. */
static int scan_agg(struct rr_reader *r, char type, const char *s, size_t n, long long *agg)
{
    long long count;

    if (parse_ll(s, n, &count) != 0) return fail(r, "invalid multibulk length");
    if (count == -1 && type == '*') {
        *agg = -1;
        return 0;
    }
    if (count < 0 || count > RR_AGG_LEN_MAX) return fail(r, "invalid multibulk length");
    *agg = (type == '%' || type == '|') ? count * 2 : count;
    return 0;
}

/*
 * Checks the element at r->pos and advances r->pos past its header (past all of it for a
 * scalar). *agg is the number of children it opens, -1 for a scalar. 0, RR_AGAIN or -1.
 */
static int scan_one(struct rr_reader *r, const char *buf, size_t len, long long *agg)
{
    struct rr_line line;
    char type = buf[r->pos];
    int rc = find_line(r, buf, len, r->pos, &line);

    *agg = -1;
    if (rc != 0) return rc;
    if (type == '$' || type == '=' || type == '!') return scan_blob(r, buf, len, type, &line);
    if (strchr("*%~>|", type) != NULL && type != '\0')
        rc = scan_agg(r, type, buf + line.start, line.len, agg);
    else
        rc = scan_scalar(r, type, buf + line.start, line.len);
    if (rc != 0) return rc;
    r->pos = line.next;
    return 0;
}

/* An element just completed: pops the levels it closes. Returns 1 when the reply is done. */
static int complete_element(struct rr_reader *r)
{
    while (r->depth > 0) {
        struct rr_level *top = &r->stack[r->depth - 1];

        assert(top->remaining > 0);
        top->remaining--;
        if (top->remaining > 0) return 0;
        r->depth--;
        /* An attribute annotates the element after it, so closing it completes nothing. */
        if (top->is_attr) return 0;
    }
    return 1;
}

/* The scan pass. Returns the reply length when complete, RR_AGAIN or -1. */
static ssize_t scan(struct rr_reader *r, const char *buf, size_t len)
{
    while (r->pos < len) {
        int is_attr = buf[r->pos] == '|';
        long long agg;
        int rc = scan_one(r, buf, len, &agg);

        if (rc != 0) return rc;
        if (++r->nodes > RR_NODES_MAX) return fail(r, "too many elements in reply");
        if (agg > 0) {
            if (r->depth == RR_DEPTH_MAX) return fail(r, "reply nested too deeply");
            r->stack[r->depth].remaining = agg;
            r->stack[r->depth].is_attr = is_attr;
            r->depth++;
            continue;
        }
        if (is_attr) continue; /* an empty attribute */
        if (complete_element(r)) return (ssize_t)r->pos;
    }
    return RR_AGAIN;
}

static int build(const char *buf, size_t *pos, struct rr_reply *out, struct rr_err *err);

static enum rr_type agg_type(char type)
{
    switch (type) {
    case '%':
    case '|':
        return RR_MAP;
    case '~':
        return RR_SET;
    case '>':
        return RR_PUSH;
    default:
        return RR_ARRAY;
    }
}

/* Builds an aggregate whose header text is s[0..n); *pos is already past the header. */
static int build_agg(const char *buf, size_t *pos, char type, const char *s, size_t n,
                     struct rr_reply *out, struct rr_err *err)
{
    long long count = 0;

    (void)parse_ll(s, n, &count); /* checked by the scan pass */
    if (count == -1) return 0;    /* null array: out is already RR_NIL */
    if (type == '%' || type == '|') count *= 2;
    out->type = agg_type(type);
    if (count == 0) return 0;
    /* Safe: the scan pass saw every one of these elements in the buffer. */
    out->elements = calloc((size_t)count, sizeof(*out->elements));
    if (out->elements == NULL) {
        err->code = RR_ENOMEM;
        snprintf(err->msg, sizeof(err->msg), "out of memory reading a reply");
        return -1;
    }
    out->count = (size_t)count;
    for (size_t i = 0; i < out->count; i++) {
        if (build(buf, pos, &out->elements[i], err) != 0) return -1;
    }
    return 0;
}

/* Builds a $ = ! element: s is its checked length text, *pos is past the header. */
static void build_blob(const char *buf, size_t *pos, char type, const char *s, size_t n,
                       struct rr_reply *out)
{
    long long len = -1;

    (void)parse_ll(s, n, &len);
    if (len < 0) return; /* null bulk */
    out->type = type == '$' ? RR_STRING : type == '=' ? RR_VERBATIM : RR_ERROR;
    out->str = buf + *pos;
    out->str_len = (size_t)len;
    if (type == '=') { /* drop the "txt:" format prefix */
        out->str += 4;
        out->str_len -= 4;
    }
    *pos += (size_t)len + 2;
}

/* Builds the element at *pos from checked bytes, skipping attributes. 0 or -1 (ENOMEM). */
static int build(const char *buf, size_t *pos, struct rr_reply *out, struct rr_err *err)
{
    size_t start, cr;
    char type;

    memset(out, 0, sizeof(*out));
    for (;;) {
        type = buf[*pos];
        start = *pos + 1;
        for (cr = start; buf[cr] != '\r'; cr++)
            ;
        *pos = cr + 2;
        if (type != '|') break;
        /* Attributes carry metadata the CLI does not show: build and drop them. */
        if (build_agg(buf, pos, type, buf + start, cr - start, out, err) != 0) {
            rr_reply_deinit(out);
            return -1;
        }
        rr_reply_deinit(out);
    }
    out->str = buf + start;
    out->str_len = cr - start;
    switch (type) {
    case '+':
        out->type = RR_STATUS;
        return 0;
    case '-':
        out->type = RR_ERROR;
        return 0;
    case ',':
        out->type = RR_DOUBLE;
        return 0;
    case '(':
        out->type = RR_BIGNUM;
        return 0;
    case ':':
        out->type = RR_INTEGER;
        (void)parse_ll(buf + start, cr - start, &out->integer);
        break;
    case '#':
        out->type = RR_BOOL;
        out->integer = buf[start] == 't';
        break;
    case '$':
    case '=':
    case '!':
        out->str = NULL;
        out->str_len = 0;
        build_blob(buf, pos, type, buf + start, cr - start, out);
        return 0;
    case '_':
        break;
    default:
        out->str = NULL;
        out->str_len = 0;
        return build_agg(buf, pos, type, buf + start, cr - start, out, err);
    }
    out->str = NULL;
    out->str_len = 0;
    return 0;
}

void rr_reader_init(struct rr_reader *reader)
{
    memset(reader, 0, sizeof(*reader));
}

ssize_t rr_parse(struct rr_reader *reader, const char *buf, size_t len, struct rr_reply *out)
{
    struct rr_reply reply;
    size_t pos = 0;
    ssize_t n;

    if (reader->poisoned) return -1;
    n = scan(reader, buf, len);
    if (n < 0) return n;
    assert(reader->depth == 0 && (size_t)n <= len);
    if (build(buf, &pos, &reply, &reader->err) != 0) {
        rr_reply_deinit(&reply);
        reader->poisoned = 1;
        return -1;
    }
    assert(pos == (size_t)n);
    rr_reader_init(reader);
    *out = reply;
    return n;
}

void rr_reply_deinit(struct rr_reply *reply)
{
    if (reply->elements != NULL) {
        for (size_t i = 0; i < reply->count; i++)
            rr_reply_deinit(&reply->elements[i]);
        free(reply->elements);
    }
    memset(reply, 0, sizeof(*reply));
}
