/* pqenc.c - Parquet's integer encodings, decoded (see pqenc.h). */
#include "pqenc.h"

#include <string.h>

/* ---- little helpers ---- */

static inline uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) /* compiles to one load */
        v = v << 8 | p[i];
    return v;
}

static inline const uint8_t *end_of(const uint8_t *p, size_t n)
{
    return n ? p + n : p; /* no arithmetic on a NULL pointer */
}

static int uleb(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    uint64_t x = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (p >= end) return -1;
        uint8_t b = *p++;
        if (shift == 63 && b > 1) return -1;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *pp = p;
            *v = x;
            return 0;
        }
    }
    return -1;
}

static inline uint64_t unzigzag(uint64_t v)
{
    return (v >> 1) ^ (0 - (v & 1));
}

/* The bw-bit value (bw <= 32) at bit offset pos of [b, e), packed LSB-first; bits at or past e
 * read as 0 (callers check that the values they use are inside). */
static inline uint32_t unpack32(const uint8_t *b, const uint8_t *e, uint64_t pos, uint32_t bw)
{
    const uint8_t *q = b + (pos >> 3);
    uint64_t w = 0;
    if (e - q >= 8) {
        w = le64(q);
    } else {
        for (int i = 0; q + i < e; i++)
            w |= (uint64_t)q[i] << (8 * i);
    }
    w >>= pos & 7;
    return (uint32_t)(w & ((1ull << bw) - 1));
}

static inline uint64_t unpack64(const uint8_t *b, const uint8_t *e, uint64_t pos, uint32_t bw)
{
    if (bw <= 32) return unpack32(b, e, pos, bw);
    return unpack32(b, e, pos, 32) | (uint64_t)unpack32(b, e, pos + 32, bw - 32) << 32;
}

/* ---- RLE / bit-packed hybrid (levels, dictionary indices) ---- */

void pqe_rle_init(struct pqe_rle *r, const uint8_t *p, size_t len, uint32_t bw)
{
    memset(r, 0, sizeof(*r));
    r->p = p;
    r->end = end_of(p, len);
    r->bw = bw;
}

static int rle_next_run(struct pqe_rle *r)
{
    uint64_t h;
    if (uleb(&r->p, r->end, &h) != 0) return -1;
    if (h & 1) {
        uint64_t groups = h >> 1;
        if (groups == 0 || groups > (INT32_MAX >> 3)) return -1;
        uint64_t bytes = groups * r->bw, avail = (uint64_t)(r->end - r->p);
        uint64_t vals = groups * 8;
        if (bytes > avail) { /* the last run may stop at the last byte in use */
            vals = avail * 8 / r->bw;
            bytes = avail;
        }
        if (vals == 0) return -1;
        r->bits = r->p;
        r->bits_end = r->p + bytes;
        r->p += bytes;
        r->bitpos = 0;
        r->left = (uint32_t)vals;
        r->packed = 1;
        return 0;
    }
    uint64_t count = h >> 1, nbytes = (r->bw + 7) / 8;
    if (count == 0 || count > INT32_MAX || (uint64_t)(r->end - r->p) < nbytes) return -1;
    r->val = 0;
    for (uint64_t i = 0; i < nbytes; i++)
        r->val |= (uint32_t)r->p[i] << (8 * i);
    r->p += nbytes;
    r->left = (uint32_t)count;
    r->packed = 0;
    return 0;
}

int pqe_rle_get(struct pqe_rle *r, uint32_t *out, size_t n)
{
    while (n > 0) {
        if (r->left == 0 && rle_next_run(r) != 0) return -1;
        uint32_t k = n < r->left ? (uint32_t)n : r->left;
        if (!r->packed) {
            for (uint32_t i = 0; i < k; i++)
                out[i] = r->val;
        } else {
            for (uint32_t i = 0; i < k; i++, r->bitpos += r->bw)
                out[i] = unpack32(r->bits, r->bits_end, r->bitpos, r->bw);
        }
        r->left -= k;
        out += k;
        n -= k;
    }
    return 0;
}

int pqe_rle_decode(const uint8_t *p, size_t len, int bit_width, uint32_t *out, size_t n)
{
    if (bit_width < 0 || bit_width > 32) return -1;
    struct pqe_rle r;
    pqe_rle_init(&r, p, len, (uint32_t)bit_width);
    return pqe_rle_get(&r, out, n);
}

/* ---- DELTA_BINARY_PACKED ---- */

int pqe_dbp_init(struct pqe_dbp *d, const uint8_t *p, size_t len)
{
    memset(d, 0, sizeof(*d));
    d->p = p;
    d->end = end_of(p, len);
    uint64_t bs, mbc, total, first;
    if (uleb(&d->p, d->end, &bs) || uleb(&d->p, d->end, &mbc) || uleb(&d->p, d->end, &total) ||
        uleb(&d->p, d->end, &first))
        return -1;
    if (bs == 0 || bs % 128 || bs > PQE_MAX_DELTA_BLOCK || mbc == 0 || bs % mbc ||
        (bs / mbc) % 32 || total > INT32_MAX)
        return -1;
    d->mb_count = (uint32_t)mbc;
    d->mb_size = (uint32_t)(bs / mbc);
    d->total = total;
    d->last = unzigzag(first);
    return 0;
}

static int dbp_block(struct pqe_dbp *d)
{
    uint64_t md;
    if (uleb(&d->p, d->end, &md) != 0) return -1;
    if ((uint64_t)(d->end - d->p) < d->mb_count) return -1;
    d->min_delta = unzigzag(md);
    d->widths = d->p;
    d->p += d->mb_count;
    d->mb = 0;
    return 0;
}

/* Moves to the next miniblock, checking that the bits of the values still to come are there. */
static int dbp_miniblock(struct pqe_dbp *d)
{
    if (d->widths == NULL || d->mb + 1 >= d->mb_count) {
        if (dbp_block(d) != 0) return -1;
    } else {
        d->mb++;
    }
    d->bw = d->widths[d->mb];
    if (d->bw > 64) return -1;
    uint64_t want = d->total - d->done, avail = (uint64_t)(d->end - d->p);
    if (want > d->mb_size) want = d->mb_size;
    uint64_t full = (uint64_t)d->mb_size * d->bw / 8, need = (want * d->bw + 7) / 8;
    if (need > avail) return -1;
    d->bits = d->p;
    d->p += full < avail ? full : avail;
    d->bits_end = d->p;
    d->bitpos = 0;
    d->mb_left = d->mb_size;
    return 0;
}

int pqe_dbp_get(struct pqe_dbp *d, int64_t *out, size_t n)
{
    size_t i = 0;
    if (n > d->total - d->done) return -1;
    if (n > 0 && d->done == 0) { /* the first value lives in the header */
        out[i++] = (int64_t)d->last;
        d->done = 1;
    }
    while (i < n) {
        if (d->mb_left == 0 && dbp_miniblock(d) != 0) return -1;
        size_t k = n - i < d->mb_left ? n - i : d->mb_left;
        uint64_t last = d->last, pos = d->bitpos;
        for (size_t j = 0; j < k; j++, pos += d->bw) {
            last += d->min_delta + unpack64(d->bits, d->bits_end, pos, d->bw);
            out[i + j] = (int64_t)last;
        }
        d->last = last;
        d->bitpos = pos;
        d->mb_left -= (uint32_t)k;
        d->done += k;
        i += k;
    }
    return 0;
}

int pqe_dbp_stream_end(const struct pqe_dbp *d0, const uint8_t **endp)
{
    struct pqe_dbp d = *d0;
    uint64_t left = d.total > 0 ? d.total - 1 : 0;
    while (left > 0) {
        if (dbp_block(&d) != 0) return -1;
        for (uint32_t m = 0; m < d.mb_count && left > 0; m++) {
            uint64_t bw = d.widths[m], avail = (uint64_t)(d.end - d.p);
            uint64_t take = left < d.mb_size ? left : d.mb_size;
            uint64_t full = d.mb_size * bw / 8;
            if (bw > 64 || (take * bw + 7) / 8 > avail) return -1;
            d.p += full < avail ? full : avail;
            left -= take;
        }
    }
    *endp = d.p;
    return 0;
}

int pqe_delta_decode(const uint8_t *p, size_t len, int64_t *out, size_t max, size_t *n,
                     size_t *used)
{
    struct pqe_dbp d;
    const uint8_t *e;
    if (pqe_dbp_init(&d, p, len) != 0 || d.total > max) return -1;
    if (pqe_dbp_stream_end(&d, &e) != 0 || pqe_dbp_get(&d, out, d.total) != 0) return -1;
    *n = d.total;
    *used = (size_t)(e - p);
    return 0;
}
