/*
 * print.c — redis-cli style reply formatting. See print.h for the contract.
 */
#include "print.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Nested aggregates are indented by the width of their parent's index plus two. An index is
 * at most 20 digits, and nesting is bounded by the reader, so the indent has a fixed bound.
 */
#define PR_PREFIX_BYTES_MAX (RR_DEPTH_MAX * 22 + 1)

/* Makes room for n more bytes. 0, or -1 with the sticky b->err set. */
static int buf_reserve(struct pr_buf *b, size_t n)
{
    size_t cap;
    char *data;

    if (b->err != 0) return -1;
    if (n > (size_t)PR_OUT_BYTES_MAX - b->len) {
        b->err = EFBIG;
        return -1;
    }
    if (b->len + n <= b->cap) return 0;
    cap = b->cap == 0 ? 256 : b->cap;
    while (cap < b->len + n)
        cap *= 2;
    data = realloc(b->data, cap);
    if (data == NULL) {
        b->err = ENOMEM;
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

static void buf_add(struct pr_buf *b, const char *s, size_t n)
{
    if (n == 0 || buf_reserve(b, n) != 0) return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

/* Inserts "\n" and prefix[0..n) at offset at of b. */
static void buf_insert_line(struct pr_buf *b, size_t at, const char *prefix, size_t n)
{
    assert(at <= b->len);
    if (buf_reserve(b, n + 1) != 0) return;
    memmove(b->data + at + n + 1, b->data + at, b->len - at);
    b->data[at] = '\n';
    memcpy(b->data + at + 1, prefix, n);
    b->len += n + 1;
}

static void buf_puts(struct pr_buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void buf_printf(struct pr_buf *b, const char *fmt, ...)
{
    char tmp[64]; /* only numbers and short labels go through here */
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    assert(n >= 0 && (size_t)n < sizeof(tmp));
    buf_add(b, tmp, (size_t)n);
}

void pr_repr(struct pr_buf *b, const char *s, size_t n)
{
    buf_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;

        switch (c) {
        case '\\':
            esc = "\\\\";
            break;
        case '"':
            esc = "\\\"";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\a':
            esc = "\\a";
            break;
        case '\b':
            esc = "\\b";
            break;
        }
        if (esc != NULL)
            buf_puts(b, esc);
        else if (c >= 0x20 && c <= 0x7e)
            buf_add(b, (const char *)&c, 1);
        else
            buf_printf(b, "\\x%02x", c);
    }
    buf_add(b, "\"", 1);
}

static const char *empty_text(enum rr_type type)
{
    switch (type) {
    case RR_MAP:
        return "(empty hash)\n";
    case RR_SET:
        return "(empty set)\n";
    case RR_PUSH:
        return "(empty push)\n";
    default:
        return "(empty array)\n";
    }
}

static int is_aggregate(enum rr_type type)
{
    return type == RR_ARRAY || type == RR_MAP || type == RR_SET || type == RR_PUSH;
}

static void tty_reply(struct pr_buf *b, const struct rr_reply *r, char *prefix, size_t plen);

/*
 * Appends an aggregate: every element but the first starts with the parent's prefix, then
 * its right-aligned index. Elements nested below get the prefix plus the index width + 2.
 */
static void tty_aggregate(struct pr_buf *b, const struct rr_reply *r, char *prefix, size_t plen)
{
    size_t shown = r->type == RR_MAP ? r->count / 2 : r->count;
    char sep = r->type == RR_MAP ? '#' : r->type == RR_SET ? '~' : ')';
    int width = snprintf(NULL, 0, "%zu", shown);
    size_t child_len = plen + (size_t)width + 2;
    size_t value_at;

    if (r->count == 0) {
        buf_puts(b, empty_text(r->type));
        return;
    }
    assert(child_len < PR_PREFIX_BYTES_MAX);
    memset(prefix + plen, ' ', (size_t)width + 2);
    for (size_t i = 0, idx = 1; i < r->count; idx++) {
        if (i > 0) buf_add(b, prefix, plen);
        buf_printf(b, "%*zu%c ", width, idx, sep);
        tty_reply(b, &r->elements[i++], prefix, child_len);
        if (r->type != RR_MAP) continue;
        if (b->err == 0 && b->len > 0) b->len--; /* the key's newline */
        buf_puts(b, " => ");
        value_at = b->len;
        tty_reply(b, &r->elements[i++], prefix, child_len);
        /* Like redis-cli, a value that takes several lines starts on its own line. */
        if (b->err == 0 && b->len - value_at > 1 &&
            memchr(b->data + value_at, '\n', b->len - value_at - 1) != NULL)
            buf_insert_line(b, value_at, prefix, child_len);
    }
}

static void tty_reply(struct pr_buf *b, const struct rr_reply *r, char *prefix, size_t plen)
{
    if (is_aggregate(r->type)) {
        tty_aggregate(b, r, prefix, plen);
        return;
    }
    switch (r->type) {
    case RR_NIL:
        buf_puts(b, "(nil)");
        break;
    case RR_STRING:
        pr_repr(b, r->str, r->str_len);
        break;
    case RR_ERROR:
        buf_puts(b, "(error) ");
        buf_add(b, r->str, r->str_len);
        break;
    case RR_INTEGER:
        buf_printf(b, "(integer) %lld", r->integer);
        break;
    case RR_DOUBLE:
        buf_puts(b, "(double) ");
        buf_add(b, r->str, r->str_len);
        break;
    case RR_BOOL:
        buf_puts(b, r->integer ? "(true)" : "(false)");
        break;
    case RR_BIGNUM:
        buf_puts(b, "(big number) ");
        buf_add(b, r->str, r->str_len);
        break;
    default: /* status and verbatim: the text itself */
        buf_add(b, r->str, r->str_len);
        break;
    }
    buf_add(b, "\n", 1);
}

/* Appends r without decoration; aggregate elements are separated by newlines. */
static void raw_reply(struct pr_buf *b, const struct rr_reply *r)
{
    size_t step = r->type == RR_MAP ? 2 : 1;

    switch (r->type) {
    case RR_NIL:
        return;
    case RR_INTEGER:
        buf_printf(b, "%lld", r->integer);
        return;
    case RR_BOOL:
        buf_puts(b, r->integer ? "(true)" : "(false)");
        return;
    case RR_ERROR:
        buf_add(b, r->str, r->str_len);
        buf_add(b, "\n", 1);
        return;
    default:
        break;
    }
    if (!is_aggregate(r->type)) {
        buf_add(b, r->str, r->str_len);
        return;
    }
    for (size_t i = 0; i + step <= r->count; i += step) {
        if (i > 0) buf_add(b, "\n", 1);
        raw_reply(b, &r->elements[i]);
        if (step == 1) continue;
        buf_add(b, " ", 1);
        raw_reply(b, &r->elements[i + 1]);
    }
}

void pr_buf_init(struct pr_buf *buf)
{
    memset(buf, 0, sizeof(*buf));
}

void pr_buf_reset(struct pr_buf *buf)
{
    buf->len = 0;
    buf->err = 0;
}

void pr_buf_deinit(struct pr_buf *buf)
{
    free(buf->data);
    pr_buf_init(buf);
}

/* Appends "a: 1, b (x, y): 2" as "a: 1\nb (x, y): 2\n": commas inside brackets stay. */
static void fields_text(struct pr_buf *b, const char *s, size_t n)
{
    int depth = 0;
    size_t from = 0;

    for (size_t i = 0; i < n; i++) {
        depth += s[i] == '(' ? 1 : s[i] == ')' && depth > 0 ? -1 : 0;
        if (depth > 0 || s[i] != ',' || i + 1 >= n || s[i + 1] != ' ') continue;
        buf_add(b, s + from, i - from);
        buf_add(b, "\n", 1);
        from = i + 2;
        i++;
    }
    buf_add(b, s + from, n - from);
    buf_add(b, "\n", 1);
}

int pr_format(struct pr_buf *buf, const struct rr_reply *reply, enum pr_mode mode)
{
    char prefix[PR_PREFIX_BYTES_MAX];
    size_t start = buf->len;

    if (mode == PR_MODE_FIELDS && (reply->type == RR_STRING || reply->type == RR_VERBATIM) &&
        (reply->str_len == 0 || memchr(reply->str, '\n', reply->str_len) == NULL)) {
        fields_text(buf, reply->str, reply->str_len);
    } else if (mode == PR_MODE_FIELDS) {
        tty_reply(buf, reply, prefix, 0);
    } else if (mode == PR_MODE_RAW || mode == PR_MODE_TEXT) {
        raw_reply(buf, reply);
        if (mode == PR_MODE_RAW || buf->err != 0 || buf->len == start ||
            buf->data[buf->len - 1] != '\n')
            buf_add(buf, "\n", 1);
    } else {
        tty_reply(buf, reply, prefix, 0);
    }
    return buf->err == 0 ? 0 : -1;
}
