/* resp.c - incremental request parser (see resp.h). */
#include "resp.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "util.h"

void resp_parser_init(struct resp_parser *p, const struct resp_limits *lim)
{
    memset(p, 0, sizeof(*p));
    p->lim = *lim;
    resp_parser_reset(p);
}

void resp_parser_deinit(struct resp_parser *p)
{
    kv_free(p->args);
    p->args = NULL;
    p->args_cap = 0;
}

void resp_parser_reset(struct resp_parser *p)
{
    p->mb_left = -1;
    p->bulk_len = -1;
    p->pos = 0;
    p->argc = 0;
    p->errmsg = NULL;
}

static int fail(struct resp_parser *p, const char *msg)
{
    p->errmsg = msg;
    return RESP_ERROR;
}

/* Makes room for n argument slots, growing geometrically but never past what was asked. */
static void reserve_args(struct resp_parser *p, size_t n)
{
    if (n <= p->args_cap) return;
    size_t cap = p->args_cap ? p->args_cap * 2 : 16;
    if (cap < n) cap = n;
    p->args = kv_realloc(p->args, cap * sizeof(*p->args));
    p->args_cap = cap;
}

static int parse_inline(struct resp_parser *p, char *buf, size_t len, size_t *consumed)
{
    char *nl = memchr(buf, '\n', len);
    if (!nl) {
        if (len > p->lim.inline_max) return fail(p, "too big inline request");
        return RESP_AGAIN;
    }
    size_t line_len = (size_t)(nl - buf);
    if (line_len > p->lim.inline_max) return fail(p, "too big inline request");
    size_t end = line_len;
    if (end > 0 && buf[end - 1] == '\r') end--;
    /* An inline line has at most (end + 1) / 2 words; reserve that, capped by the limit. */
    size_t want = (end + 1) / 2;
    if (want > p->lim.args_max) want = p->lim.args_max;
    reserve_args(p, want ? want : 1);
    size_t argc;
    int rc = inl_split(buf, end, 0, p->args, p->args_cap, &argc);
    if (rc == INL_EQUOTES) return fail(p, "unbalanced quotes in request");
    if (rc == INL_EARGS) return fail(p, "invalid multibulk length");
    p->argc = argc;
    *consumed = line_len + 1;
    return RESP_DONE;
}

/* Reads a "<prefix><number>\r\n" line at buf[p->pos]. Returns 1 with *v set, 0 for more
 * bytes, or RESP_ERROR. */
static int read_count(struct resp_parser *p, const char *buf, size_t len, long long *v,
                      const char *too_big, const char *invalid)
{
    const char *start = buf + p->pos;
    size_t avail = len - p->pos;
    const char *cr = memchr(start, '\r', avail);
    if (!cr) {
        if (avail > p->lim.inline_max) return fail(p, too_big);
        return 0;
    }
    size_t n = (size_t)(cr - start);
    if (n > p->lim.inline_max) return fail(p, too_big);
    if (n + 2 > avail) return 0; /* the '\n' has not arrived */
    if (util_str2ll(start + 1, n - 1, v) != 0) return fail(p, invalid);
    p->pos += n + 2;
    return 1;
}

static int parse_multibulk(struct resp_parser *p, char *buf, size_t len, size_t *consumed)
{
    if (p->mb_left < 0) {
        long long count;
        int rc = read_count(p, buf, len, &count, "too big mbulk count string",
                            "invalid multibulk length");
        if (rc <= 0) return rc;
        if (count > (long long)p->lim.args_max) return fail(p, "invalid multibulk length");
        if (count <= 0) {
            *consumed = p->pos;
            p->argc = 0;
            return RESP_DONE;
        }
        p->mb_left = count;
        reserve_args(p, count < RESP_ARGS_PREALLOC_MAX ? (size_t)count : RESP_ARGS_PREALLOC_MAX);
    }
    while (p->mb_left > 0) {
        if (p->bulk_len < 0) {
            if (p->pos >= len) return RESP_AGAIN;
            if (buf[p->pos] != '$') {
                snprintf(p->errbuf, sizeof(p->errbuf), "expected '$', got '%c'", buf[p->pos]);
                return fail(p, p->errbuf);
            }
            long long blen;
            int rc =
                read_count(p, buf, len, &blen, "too big bulk count string", "invalid bulk length");
            if (rc <= 0) return rc;
            if (blen < 0 || (unsigned long long)blen > p->lim.bulk_max)
                return fail(p, "invalid bulk length");
            p->bulk_len = blen;
        }
        size_t need = (size_t)p->bulk_len + 2;
        if (len - p->pos < need) return RESP_AGAIN;
        reserve_args(p, p->argc + 1);
        p->args[p->argc].off = p->pos;
        p->args[p->argc].len = (size_t)p->bulk_len;
        p->argc++;
        p->pos += need;
        p->bulk_len = -1;
        p->mb_left--;
    }
    *consumed = p->pos;
    return RESP_DONE;
}

int resp_parse(struct resp_parser *p, char *buf, size_t len, size_t *consumed)
{
    if (len == 0) return RESP_AGAIN;
    int fresh = p->mb_left < 0 && p->pos == 0;
    if (fresh) p->argc = 0; /* the previous command's arguments are no longer needed */
    int rc;
    if (fresh && buf[0] != '*')
        rc = parse_inline(p, buf, len, consumed);
    else
        rc = parse_multibulk(p, buf, len, consumed);
    if (rc == RESP_DONE) {
        size_t argc = p->argc;
        resp_parser_reset(p);
        p->argc = argc;
    }
    return rc;
}
