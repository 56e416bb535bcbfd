/* reply.c - RESP reply encoding (see reply.h). */
#include "reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "util.h"

/* Appends prefix, the decimal n, and CRLF in one reservation. */
static void header(struct reply *r, char prefix, long long n)
{
    buf_reserve(&r->out, UTIL_LL_STR_MAX + 3);
    char *p = buf_tail(&r->out);
    *p++ = prefix;
    p += util_ll2str(p, n);
    *p++ = '\r';
    *p++ = '\n';
    r->out.len = (size_t)(p - r->out.data);
}

void rep_simple(struct reply *r, const char *s)
{
    buf_append_char(&r->out, '+');
    buf_append_str(&r->out, s);
    buf_append(&r->out, "\r\n", 2);
}

void rep_ok(struct reply *r)
{
    buf_append(&r->out, "+OK\r\n", 5);
}

void rep_err(struct reply *r, const char *msg)
{
    buf_append_char(&r->out, '-');
    size_t start = r->out.len;
    buf_append_str(&r->out, msg);
    for (size_t i = start; i < r->out.len; i++)
        if (r->out.data[i] == '\r' || r->out.data[i] == '\n') r->out.data[i] = ' ';
    buf_append(&r->out, "\r\n", 2);
}

void rep_errf(struct reply *r, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    rep_err(r, msg);
}

void rep_int(struct reply *r, long long v)
{
    header(r, ':', v);
}

void rep_bulk(struct reply *r, const char *p, size_t n)
{
    header(r, '$', (long long)n);
    buf_reserve(&r->out, n + 2);
    char *t = buf_tail(&r->out);
    if (n) memcpy(t, p, n);
    t[n] = '\r';
    t[n + 1] = '\n';
    r->out.len += n + 2;
}

void rep_bulk_str(struct reply *r, const char *s)
{
    rep_bulk(r, s, strlen(s));
}

void rep_bulk_ll(struct reply *r, long long v)
{
    char tmp[UTIL_LL_STR_MAX];
    size_t n = util_ll2str(tmp, v);
    rep_bulk(r, tmp, n);
}

void rep_nil(struct reply *r)
{
    if (r->proto >= 3)
        buf_append(&r->out, "_\r\n", 3);
    else
        buf_append(&r->out, "$-1\r\n", 5);
}

void rep_nil_array(struct reply *r)
{
    if (r->proto >= 3)
        buf_append(&r->out, "_\r\n", 3);
    else
        buf_append(&r->out, "*-1\r\n", 5);
}

void rep_array(struct reply *r, size_t n)
{
    header(r, '*', (long long)n);
}

void rep_map(struct reply *r, size_t pairs)
{
    if (r->proto >= 3)
        header(r, '%', (long long)pairs);
    else
        header(r, '*', (long long)pairs * 2);
}

void rep_set(struct reply *r, size_t n)
{
    header(r, r->proto >= 3 ? '~' : '*', (long long)n);
}

void rep_verbatim(struct reply *r, const char *p, size_t n)
{
    if (r->proto < 3) {
        rep_bulk(r, p, n);
        return;
    }
    header(r, '=', (long long)n + 4);
    buf_append(&r->out, "txt:", 4);
    buf_append(&r->out, p, n);
    buf_append(&r->out, "\r\n", 2);
}

size_t rep_defer(struct reply *r)
{
    return r->out.len;
}

void rep_insert(struct reply *r, size_t mark, const char *p, size_t n)
{
    kv_assert(mark <= r->out.len);
    buf_reserve(&r->out, n);
    memmove(r->out.data + mark + n, r->out.data + mark, r->out.len - mark);
    memcpy(r->out.data + mark, p, n);
    r->out.len += n;
}

void rep_defer_set(struct reply *r, size_t mark, size_t n)
{
    char hdr[UTIL_LL_STR_MAX + 3];
    hdr[0] = '*';
    size_t len = 1 + util_ll2str(hdr + 1, (long long)n);
    hdr[len++] = '\r';
    hdr[len++] = '\n';
    rep_insert(r, mark, hdr, len);
}
