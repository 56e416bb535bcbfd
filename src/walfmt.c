/* walfmt.c - WAL record encoding and decoding (see walfmt.h and docs/FORMATS.md). */
#include "walfmt.h"

#include <string.h>

#include "crc32c.h"
#include "err.h"

#define VARINT_MAX 10

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void put_varint(struct buf *b, uint64_t v)
{
    unsigned char tmp[VARINT_MAX];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (unsigned char)v;
    buf_append(b, tmp, n);
}

/* Reads a varint from [*cur, end); returns 0, or -1 if truncated or over 64 bits. */
static int get_varint(const unsigned char **cur, const unsigned char *end, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*cur >= end) return -1;
        unsigned char c = *(*cur)++;
        r |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

void walf_file_header(struct buf *b)
{
    unsigned char h[WALF_FILE_HDR];
    memcpy(h, WALF_MAGIC, 8);
    put_u32(h + 8, WALF_VERSION);
    put_u32(h + 12, crc32c(h, 12));
    buf_append(b, h, sizeof(h));
}

int walf_check_header(const void *p, size_t n)
{
    const unsigned char *h = p;
    if (n < WALF_FILE_HDR || memcmp(h, WALF_MAGIC, 8) != 0) return -1;
    if (get_u32(h + 8) != WALF_VERSION || get_u32(h + 12) != crc32c(h, 12)) return -1;
    return 0;
}

size_t walf_begin(struct buf *b)
{
    size_t start = b->len;
    buf_reserve(b, WALF_REC_HDR);
    memset(b->data + b->len, 0, WALF_REC_HDR);
    b->len += WALF_REC_HDR;
    return start;
}

static void put_key(struct buf *b, int op, const char *key, size_t klen)
{
    buf_append_char(b, (char)op);
    put_varint(b, klen);
    buf_append(b, key, klen);
}

void walf_op_set(struct buf *b, const char *key, size_t klen, const char *val, size_t vlen,
                 int64_t expire_ms)
{
    put_key(b, WALF_OP_SET, key, klen);
    put_varint(b, vlen);
    buf_append(b, val, vlen);
    unsigned char e[8];
    put_u64(e, (uint64_t)expire_ms);
    buf_append(b, e, 8);
}

void walf_op_del(struct buf *b, const char *key, size_t klen)
{
    put_key(b, WALF_OP_DEL, key, klen);
}

void walf_op_flush(struct buf *b)
{
    buf_append_char(b, WALF_OP_FLUSH);
}

int walf_end(struct buf *b, size_t start, uint64_t lsn)
{
    kv_assert(start + WALF_REC_HDR <= b->len);
    kv_assert(lsn > 0);
    size_t len = b->len - start - WALF_REC_HDR;
    if (len > WALF_REC_MAX) {
        b->len = start;
        return -1;
    }
    unsigned char *h = (unsigned char *)b->data + start;
    put_u32(h + 4, (uint32_t)len);
    put_u64(h + 8, lsn);
    h[16] = WALF_TYPE_BATCH;
    put_u32(h, crc32c(h + 4, WALF_REC_HDR - 4 + len));
    kv_dassert(walf_read(h, b->len - start, lsn, &(struct walf_rec){0}) == 0);
    return 0;
}

/* Reads a length-prefixed byte string; returns 0, or -1 if it runs past end. */
static int get_bytes(const unsigned char **cur, const unsigned char *end, const char **p,
                     size_t *len)
{
    uint64_t n;
    if (get_varint(cur, end, &n) != 0 || n > (uint64_t)(end - *cur)) return -1;
    *p = (const char *)*cur;
    *len = (size_t)n;
    *cur += n;
    return 0;
}

int walf_next_op(const unsigned char **cur, const unsigned char *end, struct walf_opv *op)
{
    if (*cur == end) return 0;
    memset(op, 0, sizeof(*op));
    op->op = *(*cur)++;
    op->expire_ms = -1;
    switch (op->op) {
    case WALF_OP_FLUSH:
        return 1;
    case WALF_OP_DEL:
        return get_bytes(cur, end, &op->key, &op->klen) == 0 ? 1 : -1;
    case WALF_OP_SET:
        if (get_bytes(cur, end, &op->key, &op->klen) != 0) return -1;
        if (get_bytes(cur, end, &op->val, &op->vlen) != 0) return -1;
        if (end - *cur < 8) return -1;
        op->expire_ms = (int64_t)get_u64(*cur);
        *cur += 8;
        return op->expire_ms >= -1 ? 1 : -1;
    default:
        return -1;
    }
}

int walf_read(const unsigned char *p, size_t avail, uint64_t expect_lsn, struct walf_rec *rec)
{
    if (avail < WALF_REC_HDR) return -1;
    uint32_t len = get_u32(p + 4);
    uint64_t lsn = get_u64(p + 8);
    if (len > WALF_REC_MAX || len > avail - WALF_REC_HDR) return -1;
    if (lsn == 0 || (expect_lsn && lsn != expect_lsn) || p[16] != WALF_TYPE_BATCH) return -1;
    if (crc32c(p + 4, WALF_REC_HDR - 4 + len) != get_u32(p)) return -1;
    const unsigned char *cur = p + WALF_REC_HDR, *end = cur + len;
    struct walf_opv op;
    int rc;
    while ((rc = walf_next_op(&cur, end, &op)) == 1) {
    }
    if (rc != 0) return -1;
    rec->lsn = lsn;
    rec->payload = p + WALF_REC_HDR;
    rec->len = len;
    rec->size = WALF_REC_HDR + (size_t)len;
    return 0;
}

/* Looks for any valid record with an LSN above last_lsn after offset from. A hit means the
 * damage is followed by data that was once acknowledged. Every later offset is tried, the
 * damaged record's own bytes included: its length field may be what was damaged, and
 * trusting it could hide acknowledged records (see docs/FORMATS.md for the price). */
static size_t find_later_record(const unsigned char *p, size_t n, size_t from, uint64_t last_lsn)
{
    struct walf_rec rec;
    for (size_t off = from + 1; off + WALF_REC_HDR <= n; off++) {
        uint64_t lsn = get_u64(p + off + 8);
        if (lsn <= last_lsn || p[off + 16] != WALF_TYPE_BATCH) continue; /* cheap filters */
        if (walf_read(p + off, n - off, 0, &rec) == 0) return off;
    }
    return 0;
}

int walf_scan(const unsigned char *p, size_t n, walf_visit_fn *visit, void *ctx,
              struct walf_scan *out)
{
    memset(out, 0, sizeof(*out));
    if (walf_check_header(p, n) != 0) {
        out->damage = WALF_BADHEADER;
        return 0;
    }
    size_t off = WALF_FILE_HDR;
    struct walf_rec rec;
    /* The first record may carry any LSN (a log rewritten after a snapshot starts past 1);
     * each later one must follow its predecessor. */
    while (off < n &&
           walf_read(p + off, n - off, out->records ? out->last_lsn + 1 : 0, &rec) == 0) {
        if (visit && visit(ctx, &rec) != 0) return -1;
        if (out->records == 0) out->first_lsn = rec.lsn;
        out->records++;
        out->last_lsn = rec.lsn;
        off += rec.size;
    }
    out->good_end = off;
    if (off == n) return 0;
    out->bad_offset = off;
    out->bad_lsn = out->last_lsn + 1;
    out->next_valid = find_later_record(p, n, off, out->last_lsn);
    out->damage = out->next_valid ? WALF_CORRUPT : WALF_TORN;
    return 0;
}
