/* pqwrite.c - Panda's Parquet writer (see pqwrite.h; byte layout in docs/FORMATS.md). */
#include "pqwrite.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "alloc.h"
#include "buf.h"
#include "config.h"
#include "fsutil.h"
#include "parquet.h"
#include "pqcodec.h"
#include "thrift.h"
#include "util.h"

#define NCOLS 3

/* The first 16 bytes of a string as two big-endian words, zero-padded: when a string's prefix
 * is strictly above (below) another's, so is the string (a shorter one pads with zeros, which
 * sort first, so it can only tie). */
struct prefix {
    uint64_t hi, lo;
};

struct pqw_col {
    const char *name;
    int type;        /* PQ_BYTE_ARRAY or PQ_INT64 */
    int optional;    /* has definition levels */
    struct buf page; /* PLAIN values of the open page */
    struct buf defs; /* one byte (0/1) per value of the open page, optional columns only */
    uint32_t page_values;
    uint64_t chunk_values; /* values in the open row group's finished pages */
    int has_minmax;
    struct buf min, max;        /* BYTE_ARRAY bounds */
    struct prefix min16, max16; /* their first 16 bytes, for a quick test */
    int64_t imin, imax;         /* INT64 bounds */
    uint64_t nulls;
    int all_utf8; /* over the whole file: decides the STRING annotation */
};

/* What the footer says of one column chunk, kept until the footer is written. */
struct pqw_chunk_meta {
    uint64_t offset, values, nulls, unc, comp; /* sizes include page headers */
    int has_minmax;
    struct buf min, max;
    int64_t imin, imax;
};

struct pqw_rg_meta {
    uint64_t rows;
    struct pqw_chunk_meta col[NCOLS];
};

/* One finished page of the open row group, kept until the row group is written: its header
 * and stored (compressed) bytes. */
struct pqw_page {
    int col;
    size_t unc; /* body bytes before compression */
    struct buf hdr, comp;
};

struct pqw {
    int fd;
    struct pqw_opts opts;
    struct pqw *first;      /* a part's first writer (whose footer gets its row groups), or NULL */
    unsigned parts_open;    /* the first writer's parts not yet joined or aborted */
    _Atomic uint64_t end;   /* the file's end (first writer): each write reserves its bytes here */
    _Atomic uint64_t *endp; /* &first->end, or &end */
    struct pqw_col col[NCOLS];
    uint32_t rg_rows;
    uint64_t rg_bytes, rows;
    struct pqw_rg_meta *rg; /* the row groups written, for the footer */
    size_t nrg, rg_cap;
    /* pages of the open row group, in order; slots (and their buffers) are reused */
    struct pqw_page *pages;
    size_t npages, cap;
    struct buf scratch;    /* an optional column's page body: levels, then values */
    struct pqc_cctx *cctx; /* the writer's compressor (a writer belongs to one thread) */
};

/* Writes p[0..n) at *pos and advances it. */
static int write_at(struct pqw *w, uint64_t *pos, const void *p, size_t n, struct kv_err *err)
{
    if (fs_pwrite_all(w->fd, p, n, *pos, "the Parquet file", err) != 0) return -1;
    *pos += n;
    return 0;
}

/* Reserves n bytes at the file's end (shared with the parts) and returns where they start. */
static uint64_t reserve(struct pqw *w, uint64_t n)
{
    return atomic_fetch_add(w->endp, n);
}

/* A writer with no bytes written yet; opts are checked by the caller. */
static struct pqw *new_writer(int fd, const struct pqw_opts *opts)
{
    struct pqw *w = kv_calloc(1, sizeof(*w));
    w->fd = fd;
    w->opts = *opts;
    w->endp = &w->end;
    w->cctx = pqc_cctx_new();
    if (w->opts.row_group_rows == 0) w->opts.row_group_rows = PQW_ROW_GROUP_ROWS;
    static const char *names[NCOLS] = {PQ_COL_KEY, PQ_COL_VALUE, PQ_COL_EXPIRE};
    for (int i = 0; i < NCOLS; i++) {
        w->col[i].name = names[i];
        w->col[i].type = i < 2 ? PQ_BYTE_ARRAY : PQ_INT64;
        w->col[i].optional = i == 2;
        w->col[i].all_utf8 = 1;
    }
    return w;
}

struct pqw *pqw_open(int fd, const struct pqw_opts *opts, struct kv_err *err)
{
    if (opts->codec != PQ_UNCOMPRESSED && opts->codec != PQ_SNAPPY && opts->codec != PQ_ZSTD &&
        opts->codec != PQ_GZIP && opts->codec != PQ_LZ4_RAW) {
        kv_err_set(err, KV_EINVAL, "cannot write codec %s", pqc_name(opts->codec));
        return NULL;
    }
    struct pqw *w = new_writer(fd, opts);
    uint64_t pos = reserve(w, PQ_MAGIC_LEN);
    if (write_at(w, &pos, PQ_MAGIC, PQ_MAGIC_LEN, err) != 0) {
        pqw_abort(w);
        return NULL;
    }
    return w;
}

struct pqw *pqw_open_part(struct pqw *first)
{
    kv_assert(first && !first->first);
    struct pqw *w = new_writer(first->fd, &first->opts);
    w->first = first;
    w->endp = &first->end;
    first->parts_open++;
    return w;
}

static inline uint64_t be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return __builtin_bswap64(v);
}

/* memcmp order of a[0..an) against b, eight bytes at a time and inline: every value of a
 * column is compared with both bounds. */
static int bytes_cmp(const void *a, size_t an, const struct buf *b)
{
    const uint8_t *x = a, *y = (const uint8_t *)b->data;
    size_t n = an < b->len ? an : b->len, i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t u = be64(x + i), v = be64(y + i);
        if (u != v) return u < v ? -1 : 1;
    }
    int r = n > i ? memcmp(x + i, y + i, n - i) : 0; /* an empty bound may have no storage */
    return r ? r : (an > b->len) - (an < b->len);
}

static void set_buf(struct buf *b, const void *p, size_t n)
{
    b->len = 0;
    buf_append(b, p, n);
}

static struct prefix prefix_of(const void *p, size_t n)
{
    uint8_t b[16] = {0};
    const uint8_t *q = p;
    if (n < 16) {
        if (n) memcpy(b, p, n);
        q = b;
    }
    return (struct prefix){be64(q), be64(q + 8)};
}

static int prefix_above(struct prefix a, struct prefix b)
{
    return a.hi > b.hi || (a.hi == b.hi && a.lo > b.lo);
}

/* Takes p as a new bound when it is one; the prefixes settle most values without a compare of
 * the bytes. */
static void add_bounds(struct pqw_col *c, const void *p, size_t n)
{
    struct prefix v = prefix_of(p, n);
    if (c->has_minmax && prefix_above(v, c->min16) && prefix_above(c->max16, v)) return;
    if (!c->has_minmax || bytes_cmp(p, n, &c->min) < 0) {
        set_buf(&c->min, p, n);
        c->min16 = v;
    }
    if (!c->has_minmax || bytes_cmp(p, n, &c->max) > 0) {
        set_buf(&c->max, p, n);
        c->max16 = v;
    }
    c->has_minmax = 1;
}

static void add_bytes(struct pqw_col *c, const void *p, size_t n)
{
    uint8_t len[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
    buf_reserve(&c->page, 4 + n);
    memcpy(buf_tail(&c->page), len, 4);
    memcpy(buf_tail(&c->page) + 4, p, n);
    c->page.len += 4 + n;
    c->page_values++;
    add_bounds(c, p, n);
}

static void add_i64(struct pqw_col *c, int64_t v)
{
    c->page_values++;
    if (v < 0) {
        buf_append_char(&c->defs, 0);
        c->nulls++;
        return;
    }
    buf_append_char(&c->defs, 1);
    uint8_t le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)((uint64_t)v >> (8 * i));
    buf_append(&c->page, le, 8);
    if (!c->has_minmax || v < c->imin) c->imin = v;
    if (!c->has_minmax || v > c->imax) c->imax = v;
    c->has_minmax = 1;
}

static void put_uvarint(struct buf *b, uint64_t v)
{
    while (v >= 0x80) {
        buf_append_char(b, (char)(v | 0x80));
        v >>= 7;
    }
    buf_append_char(b, (char)v);
}

/* Definition levels (bit width 1) as the RLE/bit-packed hybrid behind a 4-byte length: one RLE
 * run when the page is uniform, else bit-packed groups of 8. */
static void encode_defs(struct buf *out, const uint8_t *d, uint32_t n)
{
    size_t at = out->len;
    buf_append(out, "\0\0\0\0", 4);
    int uniform = 1;
    for (uint32_t i = 1; i < n && uniform; i++)
        uniform = d[i] == d[0];
    if (uniform) {
        put_uvarint(out, (uint64_t)n << 1);
        buf_append_char(out, (char)d[0]);
    } else {
        uint32_t groups = (n + 7) / 8;
        put_uvarint(out, (uint64_t)groups << 1 | 1);
        for (uint32_t g = 0; g < groups; g++) {
            uint8_t byte = 0;
            for (uint32_t k = 0; k < 8 && g * 8 + k < n; k++)
                byte |= (uint8_t)(d[g * 8 + k] << k);
            buf_append_char(out, (char)byte);
        }
    }
    uint32_t len = (uint32_t)(out->len - at - 4);
    for (int i = 0; i < 4; i++)
        out->data[at + i] = (char)(len >> (8 * i));
}

static void page_header(struct buf *out, uint32_t unc, uint32_t comp, uint32_t crc,
                        uint32_t nvalues)
{
    struct thr_w t;
    thr_w_init(&t, out);
    thr_w_struct_begin(&t);
    thr_w_field_i32(&t, 1, PQ_DATA_PAGE);
    thr_w_field_i32(&t, 2, (int32_t)unc);
    thr_w_field_i32(&t, 3, (int32_t)comp);
    thr_w_field_i32(&t, 4, (int32_t)crc);
    thr_w_field(&t, 5, THR_STRUCT);
    thr_w_struct_begin(&t);
    thr_w_field_i32(&t, 1, (int32_t)nvalues);
    thr_w_field_i32(&t, 2, PQ_ENC_PLAIN);
    thr_w_field_i32(&t, 3, PQ_ENC_RLE);
    thr_w_field_i32(&t, 4, PQ_ENC_RLE);
    thr_w_struct_end(&t);
    thr_w_struct_end(&t);
}

/* A free page slot at the end of the row group's list. */
static struct pqw_page *next_slot(struct pqw *w)
{
    if (w->npages == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        w->pages = kv_realloc(w->pages, cap * sizeof(*w->pages));
        memset(w->pages + w->cap, 0, (cap - w->cap) * sizeof(*w->pages));
        w->cap = cap;
    }
    return &w->pages[w->npages];
}

/* Ends the column's open page: compresses it into a job kept until the row group is written,
 * and starts an empty one. */
/* Whether every value of a PLAIN BYTE_ARRAY page is valid UTF-8. A page without a byte of
 * 0x80 or above (length prefixes included) is ASCII throughout: one pass over its words
 * instead of a call per value. */
static int page_utf8(const struct buf *page)
{
    const uint8_t *p = (const uint8_t *)page->data, *end = p + page->len;
    uint64_t high = 0, x;
    size_t i = 0;
    for (; i + 8 <= page->len; i += 8) {
        memcpy(&x, p + i, 8);
        high |= x;
    }
    for (; i < page->len; i++)
        high |= p[i];
    if (!(high & 0x8080808080808080ULL)) return 1;
    while (p < end) { /* the page was built by add_bytes: every length fits */
        uint32_t n =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        kv_assert((size_t)(end - p) >= 4 + (size_t)n);
        if (!util_utf8_valid(p + 4, n)) return 0;
        p += 4 + n;
    }
    return 1;
}

static int flush_page(struct pqw *w, int col, struct kv_err *err)
{
    struct pqw_col *c = &w->col[col];
    if (c->page_values == 0) return 0;
    if (c->type == PQ_BYTE_ARRAY && c->all_utf8) c->all_utf8 = page_utf8(&c->page);
    const struct buf *body = &c->page;
    if (c->optional) { /* definition levels, then the values */
        w->scratch.len = 0;
        encode_defs(&w->scratch, (const uint8_t *)c->defs.data, c->page_values);
        buf_append(&w->scratch, c->page.data, c->page.len);
        body = &w->scratch;
    }
    if (body->len > INT32_MAX)
        return kv_err_set(err, KV_ELIMIT, "a page of %zu bytes exceeds Parquet's limit", body->len);
    struct pqw_page *j = next_slot(w);
    j->col = col;
    j->unc = body->len;
    j->comp.len = j->hdr.len = 0;
    if (pqc_compress(w->cctx, w->opts.codec, body->data, body->len, &j->comp, err) != 0) return -1;
    if (j->comp.len > INT32_MAX)
        return kv_err_set(err, KV_ELIMIT, "compressed page of %zu bytes", j->comp.len);
    uint32_t crc = (uint32_t)crc32(0, (const Bytef *)j->comp.data, (uInt)j->comp.len);
    page_header(&j->hdr, (uint32_t)body->len, (uint32_t)j->comp.len, crc, c->page_values);
    w->npages++;
    c->chunk_values += c->page_values;
    c->page_values = 0;
    c->page.len = c->defs.len = 0;
    return 0;
}

static void put_le64(char *out, int64_t v)
{
    for (int i = 0; i < 8; i++)
        out[i] = (char)((uint64_t)v >> (8 * i));
}

static void write_stats(struct thr_w *t, int type, const struct pqw_chunk_meta *m)
{
    thr_w_field(t, 12, THR_STRUCT);
    thr_w_struct_begin(t);
    if (type == PQ_INT64 && m->has_minmax) {
        char mx[8], mn[8];
        put_le64(mx, m->imax);
        put_le64(mn, m->imin);
        thr_w_field_binary(t, 1, mx, 8); /* legacy max/min: signed order, right for INT64 */
        thr_w_field_binary(t, 2, mn, 8);
        thr_w_field_i64(t, 3, (int64_t)m->nulls);
        thr_w_field_binary(t, 5, mx, 8);
        thr_w_field_binary(t, 6, mn, 8);
    } else {
        thr_w_field_i64(t, 3, (int64_t)m->nulls);
        if (m->has_minmax && m->min.len <= PQW_MAX_STAT_BYTES && m->max.len <= PQW_MAX_STAT_BYTES) {
            thr_w_field_binary(t, 5, m->max.data, m->max.len);
            thr_w_field_binary(t, 6, m->min.data, m->min.len);
        }
    }
    thr_w_struct_end(t);
}

static void write_column_chunk(const struct pqw *w, struct thr_w *t, const struct pqw_col *c,
                               const struct pqw_chunk_meta *m)
{
    thr_w_struct_begin(t);
    thr_w_field_i64(t, 2, 0); /* file_offset: deprecated but required; readers ignore it */
    thr_w_field(t, 3, THR_STRUCT);
    thr_w_struct_begin(t);
    thr_w_field_i32(t, 1, c->type);
    thr_w_field(t, 2, THR_LIST);
    thr_w_list(t, THR_I32, c->optional ? 2 : 1);
    thr_w_i32(t, PQ_ENC_PLAIN);
    if (c->optional) thr_w_i32(t, PQ_ENC_RLE);
    thr_w_field(t, 3, THR_LIST);
    thr_w_list(t, THR_BINARY, 1);
    thr_w_binary(t, c->name, strlen(c->name));
    thr_w_field_i32(t, 4, w->opts.codec);
    thr_w_field_i64(t, 5, (int64_t)m->values);
    thr_w_field_i64(t, 6, (int64_t)m->unc);
    thr_w_field_i64(t, 7, (int64_t)m->comp);
    thr_w_field_i64(t, 9, (int64_t)m->offset);
    write_stats(t, c->type, m);
    thr_w_struct_end(t);
    thr_w_struct_end(t);
}

/* The footer's RowGroup struct for row group g. */
static void write_row_group(const struct pqw *w, struct thr_w *t, size_t g)
{
    const struct pqw_rg_meta *rg = &w->rg[g];
    uint64_t unc = 0, comp = 0;
    thr_w_struct_begin(t);
    thr_w_field(t, 1, THR_LIST);
    thr_w_list(t, THR_STRUCT, NCOLS);
    for (int i = 0; i < NCOLS; i++) {
        write_column_chunk(w, t, &w->col[i], &rg->col[i]);
        unc += rg->col[i].unc;
        comp += rg->col[i].comp;
    }
    thr_w_field_i64(t, 2, (int64_t)unc);
    thr_w_field_i64(t, 3, (int64_t)rg->rows);
    thr_w_field_i64(t, 5, (int64_t)rg->col[0].offset);
    thr_w_field_i64(t, 6, (int64_t)comp);
    thr_w_field(t, 7, THR_I16);
    thr_w_i32(t, (int32_t)g);
    thr_w_struct_end(t);
}

/* Writes one column's pages (they are in order within the page list) at *pos; fills its sizes. */
static int write_pages(struct pqw *w, int col, uint64_t *pos, struct pqw_chunk_meta *m,
                       struct kv_err *err)
{
    m->offset = *pos;
    m->unc = m->comp = 0;
    for (size_t i = 0; i < w->npages; i++) {
        struct pqw_page *j = &w->pages[i];
        if (j->col != col) continue;
        if (write_at(w, pos, j->hdr.data, j->hdr.len, err) != 0 ||
            write_at(w, pos, j->comp.data, j->comp.len, err) != 0)
            return -1;
        m->unc += j->hdr.len + j->unc;
        m->comp += j->hdr.len + j->comp.len;
    }
    return 0;
}

static struct pqw_rg_meta *new_rg(struct pqw *w)
{
    if (w->nrg == w->rg_cap) {
        w->rg_cap = w->rg_cap ? w->rg_cap * 2 : 8;
        w->rg = kv_realloc(w->rg, w->rg_cap * sizeof(*w->rg));
    }
    struct pqw_rg_meta *rg = &w->rg[w->nrg++];
    memset(rg, 0, sizeof(*rg));
    return rg;
}

static int flush_row_group(struct pqw *w, struct kv_err *err)
{
    if (w->rg_rows == 0) return 0;
    for (int i = 0; i < NCOLS; i++)
        if (flush_page(w, i, err) != 0) return -1;
    uint64_t size = 0;
    for (size_t i = 0; i < w->npages; i++)
        size += w->pages[i].hdr.len + w->pages[i].comp.len;
    uint64_t start = reserve(w, size), pos = start;
    struct pqw_rg_meta *rg = new_rg(w);
    rg->rows = w->rg_rows;
    for (int i = 0; i < NCOLS; i++) {
        struct pqw_col *c = &w->col[i];
        struct pqw_chunk_meta *m = &rg->col[i];
        if (write_pages(w, i, &pos, m, err) != 0) return -1;
        m->values = c->chunk_values;
        m->nulls = c->nulls;
        m->has_minmax = c->has_minmax;
        m->imin = c->imin;
        m->imax = c->imax;
        if (c->has_minmax && c->type == PQ_BYTE_ARRAY) { /* the bounds move to the metadata */
            m->min = c->min;
            m->max = c->max;
            buf_init(&c->min);
            buf_init(&c->max);
        }
        c->chunk_values = c->nulls = 0;
        c->has_minmax = 0;
    }
    kv_assert(pos == start + size);
    /* Start write-back now: the caller's fdatasync then waits for the last row group only. */
    if (w->opts.writeback)
        (void)sync_file_range(w->fd, (off64_t)start, (off64_t)size, SYNC_FILE_RANGE_WRITE);
    w->rg_rows = 0;
    w->rg_bytes = 0;
    w->npages = 0;
    return 0;
}

int pqw_add(struct pqw *w, const void *key, size_t klen, const void *val, size_t vlen,
            int64_t expire_at_ms, struct kv_err *err)
{
    if (klen > INT32_MAX - 4 || vlen > INT32_MAX - 4)
        return kv_err_set(err, KV_ELIMIT, "a key or value over 2 GiB cannot be written");
    add_bytes(&w->col[0], key, klen);
    add_bytes(&w->col[1], val, vlen);
    add_i64(&w->col[2], expire_at_ms);
    w->rg_rows++;
    w->rows++;
    w->rg_bytes += klen + vlen + 17;
    for (int i = 0; i < NCOLS; i++)
        if (w->col[i].page.len >= PQW_PAGE_BYTES && flush_page(w, i, err) != 0) return -1;
    if (w->rg_rows >= w->opts.row_group_rows || w->rg_bytes >= PQW_ROW_GROUP_BYTES)
        return flush_row_group(w, err);
    return 0;
}

static void write_schema_leaf(struct thr_w *t, const struct pqw_col *c)
{
    thr_w_struct_begin(t);
    thr_w_field_i32(t, 1, c->type);
    thr_w_field_i32(t, 3, c->optional ? PQ_OPTIONAL : PQ_REQUIRED);
    thr_w_field_str(t, 4, c->name);
    if (c->type == PQ_BYTE_ARRAY && c->all_utf8) {
        thr_w_field_i32(t, 6, PQ_CONV_UTF8);
        thr_w_field(t, 10, THR_STRUCT); /* logicalType: STRING */
        thr_w_struct_begin(t);
        thr_w_field_empty_struct(t, 1);
        thr_w_struct_end(t);
    }
    thr_w_struct_end(t);
}

static void write_kv(struct thr_w *t, const char *k, const char *v)
{
    thr_w_struct_begin(t);
    thr_w_field_str(t, 1, k);
    thr_w_field_str(t, 2, v);
    thr_w_struct_end(t);
}

static void write_footer(struct pqw *w, struct buf *out)
{
    struct thr_w t;
    thr_w_init(&t, out);
    thr_w_struct_begin(&t);
    thr_w_field_i32(&t, 1, 1); /* version */
    thr_w_field(&t, 2, THR_LIST);
    thr_w_list(&t, THR_STRUCT, NCOLS + 1);
    thr_w_struct_begin(&t); /* root */
    thr_w_field_str(&t, 4, "schema");
    thr_w_field_i32(&t, 5, NCOLS);
    thr_w_struct_end(&t);
    for (int i = 0; i < NCOLS; i++)
        write_schema_leaf(&t, &w->col[i]);
    thr_w_field_i64(&t, 3, (int64_t)w->rows);
    thr_w_field(&t, 4, THR_LIST);
    thr_w_list(&t, THR_STRUCT, (uint32_t)w->nrg);
    for (size_t g = 0; g < w->nrg; g++)
        write_row_group(w, &t, g);
    char ver[16], lsn[24];
    snprintf(ver, sizeof(ver), "%d", PQ_FORMAT_VERSION);
    snprintf(lsn, sizeof(lsn), "%llu", (unsigned long long)w->opts.lsn);
    thr_w_field(&t, 5, THR_LIST);
    thr_w_list(&t, THR_STRUCT, 2);
    write_kv(&t, PQ_META_VERSION, ver);
    write_kv(&t, PQ_META_LSN, lsn);
    thr_w_field_str(&t, 6, "panda version " PANDA_VERSION);
    thr_w_field(&t, 7, THR_LIST); /* column_orders: TYPE_ORDER for every leaf */
    thr_w_list(&t, THR_STRUCT, NCOLS);
    for (int i = 0; i < NCOLS; i++) {
        thr_w_struct_begin(&t);
        thr_w_field_empty_struct(&t, 1);
        thr_w_struct_end(&t);
    }
    thr_w_struct_end(&t);
}

int pqw_join(struct pqw *w, struct pqw *part, struct kv_err *err)
{
    kv_assert(part->first == w && !w->first);
    int rc = flush_row_group(part, err);
    for (size_t g = 0; rc == 0 && g < part->nrg; g++) { /* bounds move along */
        *new_rg(w) = part->rg[g];
        memset(&part->rg[g], 0, sizeof(part->rg[g]));
    }
    if (rc == 0) {
        w->rows += part->rows;
        for (int i = 0; i < NCOLS; i++)
            w->col[i].all_utf8 &= part->col[i].all_utf8;
    }
    pqw_abort(part);
    return rc;
}

int pqw_finish(struct pqw *w, uint64_t *bytes, struct kv_err *err)
{
    kv_assert(!w->first && w->parts_open == 0);
    if (flush_row_group(w, err) != 0) {
        pqw_abort(w);
        return -1;
    }
    struct buf f;
    buf_init(&f);
    write_footer(w, &f);
    uint32_t n = (uint32_t)f.len;
    char tail[8] = {(char)n, (char)(n >> 8), (char)(n >> 16), (char)(n >> 24), 'P', 'A', 'R', '1'};
    buf_append(&f, tail, sizeof(tail));
    uint64_t pos = reserve(w, f.len);
    int rc = write_at(w, &pos, f.data, f.len, err);
    buf_deinit(&f);
    if (rc == 0 && bytes) *bytes = pos;
    pqw_abort(w);
    return rc;
}

void pqw_abort(struct pqw *w)
{
    if (!w) return;
    kv_assert(w->parts_open == 0); /* parts point at their first writer: abort them first */
    if (w->first) w->first->parts_open--;
    for (int i = 0; i < NCOLS; i++) {
        struct pqw_col *c = &w->col[i];
        buf_deinit(&c->page);
        buf_deinit(&c->defs);
        buf_deinit(&c->min);
        buf_deinit(&c->max);
    }
    for (size_t i = 0; i < w->cap; i++) {
        buf_deinit(&w->pages[i].hdr);
        buf_deinit(&w->pages[i].comp);
    }
    kv_free(w->pages);
    buf_deinit(&w->scratch);
    pqc_cctx_free(w->cctx);
    for (size_t g = 0; g < w->nrg; g++) {
        for (int i = 0; i < NCOLS; i++) {
            buf_deinit(&w->rg[g].col[i].min);
            buf_deinit(&w->rg[g].col[i].max);
        }
    }
    kv_free(w->rg);
    kv_free(w);
}
