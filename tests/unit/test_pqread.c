/*
 * Unit tests of the Parquet reader (src/pqread.c) and its integer decoders (src/pqenc.c): the
 * RLE/bit-packed hybrid and DELTA_BINARY_PACKED, and whole files built in memory with the Thrift
 * writer (PLAIN, dictionary, v2 pages, delta encodings, CRCs) read through pqr_read_mem, plus
 * damaged files: bad CRC, truncation, wrong magic, nulls, wrong types, unsupported encodings and
 * codecs, inconsistent sizes and counts, and every truncation and many byte flips of a small file.
 *
 * Every image handed to the reader is first copied into a heap buffer of exactly its size, so
 * ASan reports any read past the end of the file.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "buf.h"
#include "parquet.h"
#include "pqcodec.h"
#include "pqenc.h"
#include "pqread.h"
#include "tap.h"
#include "thrift.h"

/* ---- byte builders ---- */

static void put_uleb(struct buf *b, uint64_t v)
{
    while (v >= 0x80) {
        buf_append_char(b, (char)(v | 0x80));
        v >>= 7;
    }
    buf_append_char(b, (char)v);
}

static uint64_t zz(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static void put_le(struct buf *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        buf_append_char(b, (char)(v >> (8 * i)));
}

static void plain_ba(struct buf *b, const char *s)
{
    put_le(b, strlen(s), 4);
    buf_append_str(b, s);
}

/* RLE-only runs of bit width <= 8. */
static void rle_runs(struct buf *b, const uint32_t *v, size_t n, int bw)
{
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j] == v[i])
            j++;
        put_uleb(b, (uint64_t)(j - i) << 1);
        if (bw > 0) buf_append_char(b, (char)v[i]);
        i = j;
    }
}

/* v1 definition levels: 4-byte length, then RLE runs of bit width 1. */
static void def_levels_v1(struct buf *b, const uint32_t *lv, size_t n)
{
    struct buf r;
    buf_init(&r);
    rle_runs(&r, lv, n, 1);
    put_le(b, r.len, 4);
    buf_append(b, r.data, r.len);
    buf_deinit(&r);
}

static int width_of(uint64_t v)
{
    int w = 0;
    while (w < 64 && (v >> w))
        w++;
    return w;
}

/* DELTA_BINARY_PACKED with blocks of 128 values in 4 miniblocks of 32. */
static void dbp_encode(struct buf *b, const int64_t *v, size_t n)
{
    put_uleb(b, 128);
    put_uleb(b, 4);
    put_uleb(b, n);
    put_uleb(b, zz(n ? v[0] : 0));
    for (size_t i = 1; i < n; i += 128) {
        size_t m = n - i < 128 ? n - i : 128;
        uint64_t rel[128] = {0};
        int64_t md = INT64_MAX;
        for (size_t j = 0; j < m; j++) {
            int64_t d = (int64_t)((uint64_t)v[i + j] - (uint64_t)v[i + j - 1]);
            if (d < md) md = d;
        }
        for (size_t j = 0; j < m; j++)
            rel[j] = (uint64_t)v[i + j] - (uint64_t)v[i + j - 1] - (uint64_t)md;
        put_uleb(b, zz(md));
        int w[4] = {0};
        for (size_t j = 0; j < m; j++)
            if (width_of(rel[j]) > w[j / 32]) w[j / 32] = width_of(rel[j]);
        for (int k = 0; k < 4; k++)
            buf_append_char(b, (char)w[k]);
        for (int k = 0; k < 4 && (size_t)k * 32 < m; k++) {
            uint8_t packed[256] = {0};
            for (int j = 0; j < 32; j++)
                for (int t = 0; t < w[k]; t++)
                    if ((rel[k * 32 + j] >> t) & 1)
                        packed[(j * w[k] + t) / 8] |= (uint8_t)(1u << ((j * w[k] + t) % 8));
            buf_append(b, packed, (size_t)(4 * w[k]));
        }
    }
}

static void dlba_encode(struct buf *b, const char *const *s, size_t n)
{
    int64_t len[64];
    for (size_t i = 0; i < n; i++)
        len[i] = (int64_t)strlen(s[i]);
    dbp_encode(b, len, n);
    for (size_t i = 0; i < n; i++)
        buf_append_str(b, s[i]);
}

/* DELTA_BYTE_ARRAY: shared prefix with the previous value, then the suffixes. */
static void dba_encode(struct buf *b, const char *const *s, size_t n)
{
    int64_t pre[64];
    const char *suf[64];
    for (size_t i = 0; i < n; i++) {
        size_t p = 0;
        while (i > 0 && s[i][p] && s[i][p] == s[i - 1][p])
            p++;
        pre[i] = (int64_t)p;
        suf[i] = s[i] + p;
    }
    dbp_encode(b, pre, n);
    dlba_encode(b, suf, n);
}

/* ---- a Parquet file built in memory ---- */

#define FB_COLS 4

struct fcol {
    const char *name;
    int type, rep, codec, meta_codec;
    int64_t nvals, start, data_off, dict_off;
};

struct fb {
    struct buf b;
    int ncols, cur;
    struct fcol c[FB_COLS];
    int64_t num_rows, rg_rows; /* -1: the first column's value count */
    int panda;
};

struct pg {
    int type; /* PQ_DATA_PAGE (0 by default), PQ_DICTIONARY_PAGE, PQ_DATA_PAGE_V2 */
    int32_t nvals, def_len;
    int enc, v2_raw; /* v2: values left uncompressed (is_compressed = false) */
    const struct buf *body;
    int crc, bad_crc, csize_extra;
};

static void fb_init(struct fb *f)
{
    memset(f, 0, sizeof(*f));
    buf_init(&f->b);
    buf_append(&f->b, PQ_MAGIC, 4);
    f->num_rows = f->rg_rows = -1;
    f->panda = 1;
}

static void fb_col(struct fb *f, const char *name, int type, int rep, int codec)
{
    struct fcol *c = &f->c[f->ncols++];
    c->name = name;
    c->type = type;
    c->rep = rep;
    c->codec = c->meta_codec = codec;
    c->data_off = c->dict_off = -1;
}

/* Starts column i's chunk; its pages follow. */
static void fb_chunk(struct fb *f, int i)
{
    f->cur = i;
    f->c[i].start = (int64_t)f->b.len;
}

static void page_header(struct fb *f, const struct pg *p, size_t usize, size_t csize, uint32_t crc)
{
    struct thr_w w;
    thr_w_init(&w, &f->b);
    thr_w_struct_begin(&w);
    thr_w_field_i32(&w, 1, p->type);
    thr_w_field_i32(&w, 2, (int32_t)usize);
    thr_w_field_i32(&w, 3, (int32_t)csize + p->csize_extra);
    if (p->crc) thr_w_field_i32(&w, 4, (int32_t)(crc ^ (p->bad_crc ? 1u : 0u)));
    thr_w_field(&w,
                p->type == PQ_DATA_PAGE         ? 5
                : p->type == PQ_DICTIONARY_PAGE ? 7
                                                : 8,
                THR_STRUCT);
    thr_w_struct_begin(&w);
    thr_w_field_i32(&w, 1, p->nvals);
    if (p->type == PQ_DATA_PAGE) {
        thr_w_field_i32(&w, 2, p->enc);
        thr_w_field_i32(&w, 3, PQ_ENC_RLE);
        thr_w_field_i32(&w, 4, PQ_ENC_RLE);
    } else if (p->type == PQ_DICTIONARY_PAGE) {
        thr_w_field_i32(&w, 2, PQ_ENC_PLAIN);
    } else {
        thr_w_field_i32(&w, 2, 0);
        thr_w_field_i32(&w, 3, p->nvals);
        thr_w_field_i32(&w, 4, p->enc);
        thr_w_field_i32(&w, 5, p->def_len);
        thr_w_field_i32(&w, 6, 0);
        if (p->v2_raw) thr_w_field_bool(&w, 7, 0);
    }
    thr_w_struct_end(&w);
    thr_w_struct_end(&w);
}

static void fb_page(struct fb *f, const struct pg *p)
{
    struct fcol *c = &f->c[f->cur];
    struct buf out;
    struct kv_err err;
    size_t lv = p->type == PQ_DATA_PAGE_V2 ? (size_t)p->def_len : 0;
    buf_init(&out);
    buf_append(&out, p->body->data, lv);
    if (p->v2_raw || p->body->len == lv)
        buf_append(&out, p->body->data + lv, p->body->len - lv);
    else
        pqc_compress(NULL, c->codec, p->body->data + lv, p->body->len - lv, &out, &err);
    if (p->type == PQ_DICTIONARY_PAGE)
        c->dict_off = (int64_t)f->b.len;
    else if (c->data_off < 0)
        c->data_off = (int64_t)f->b.len;
    if (p->type != PQ_DICTIONARY_PAGE) c->nvals += p->nvals;
    page_header(f, p, p->body->len, out.len, (uint32_t)crc32(0, (void *)out.data, (uInt)out.len));
    buf_append(&f->b, out.data, out.len);
    buf_deinit(&out);
}

static void write_chunk_meta(struct thr_w *w, const struct fb *f, const struct fcol *c, int64_t end)
{
    thr_w_struct_begin(w);
    thr_w_field_i64(w, 2, 0);
    thr_w_field(w, 3, THR_STRUCT);
    thr_w_struct_begin(w);
    thr_w_field_i32(w, 1, c->type);
    thr_w_field(w, 2, THR_LIST);
    thr_w_list(w, THR_I32, 1);
    thr_w_i32(w, PQ_ENC_PLAIN);
    thr_w_field(w, 3, THR_LIST);
    thr_w_list(w, THR_BINARY, 1);
    thr_w_binary(w, c->name, strlen(c->name));
    thr_w_field_i32(w, 4, c->meta_codec);
    thr_w_field_i64(w, 5, c->nvals);
    thr_w_field_i64(w, 6, end - c->start);
    thr_w_field_i64(w, 7, end - c->start);
    thr_w_field_i64(w, 9, c->data_off);
    if (c->dict_off >= 0) thr_w_field_i64(w, 11, c->dict_off);
    thr_w_struct_end(w);
    thr_w_struct_end(w);
    (void)f;
}

static void write_schema(struct thr_w *w, const struct fb *f)
{
    thr_w_field(w, 2, THR_LIST);
    thr_w_list(w, THR_STRUCT, (uint32_t)f->ncols + 1);
    thr_w_struct_begin(w);
    thr_w_field_str(w, 4, "schema");
    thr_w_field_i32(w, 5, f->ncols);
    thr_w_struct_end(w);
    for (int i = 0; i < f->ncols; i++) {
        thr_w_struct_begin(w);
        thr_w_field_i32(w, 1, f->c[i].type);
        if (f->c[i].type == PQ_FIXED_LEN_BYTE_ARRAY) thr_w_field_i32(w, 2, 2);
        thr_w_field_i32(w, 3, f->c[i].rep);
        thr_w_field_str(w, 4, f->c[i].name);
        thr_w_struct_end(w);
    }
}

static void write_kv(struct thr_w *w, const char *k, const char *v)
{
    thr_w_struct_begin(w);
    thr_w_field_str(w, 1, k);
    thr_w_field_str(w, 2, v);
    thr_w_struct_end(w);
}

/* Writes the footer: one row group holding every chunk written, in column order. */
static void fb_finish(struct fb *f)
{
    struct thr_w w;
    int64_t rows = f->rg_rows >= 0 ? f->rg_rows : f->c[0].nvals;
    size_t start = f->b.len;
    int64_t end[FB_COLS];
    for (int i = 0; i < f->ncols; i++)
        end[i] = i + 1 < f->ncols ? f->c[i + 1].start : (int64_t)f->b.len;
    thr_w_init(&w, &f->b);
    thr_w_struct_begin(&w);
    thr_w_field_i32(&w, 1, 1);
    write_schema(&w, f);
    thr_w_field_i64(&w, 3, f->num_rows >= 0 ? f->num_rows : rows);
    thr_w_field(&w, 4, THR_LIST);
    thr_w_list(&w, THR_STRUCT, 1);
    thr_w_struct_begin(&w);
    thr_w_field(&w, 1, THR_LIST);
    thr_w_list(&w, THR_STRUCT, (uint32_t)f->ncols);
    for (int i = 0; i < f->ncols; i++)
        write_chunk_meta(&w, f, &f->c[i], end[i]);
    thr_w_field_i64(&w, 2, 0);
    thr_w_field_i64(&w, 3, rows);
    thr_w_struct_end(&w);
    if (f->panda) {
        thr_w_field(&w, 5, THR_LIST);
        thr_w_list(&w, THR_STRUCT, 3);
        write_kv(&w, "other", "x");
        write_kv(&w, PQ_META_VERSION, "1");
        write_kv(&w, PQ_META_LSN, "18446744073709551615");
    }
    thr_w_field_str(&w, 6, "panda test");
    thr_w_field_str(&w, 32767, "vendor extension"); /* must be skipped */
    thr_w_struct_end(&w);
    put_le(&f->b, f->b.len - start, 4);
    buf_append(&f->b, PQ_MAGIC, 4);
}

/* ---- reading back ---- */

#define MAX_ROWS 64

struct got {
    int n, stop_at;
    char key[MAX_ROWS][32], val[MAX_ROWS][32];
    size_t klen[MAX_ROWS], vlen[MAX_ROWS];
    int has_exp[MAX_ROWS], key_null[MAX_ROWS];
    int64_t exp[MAX_ROWS];
};

static int collect(void *ctx, const struct pqr_row *row, struct kv_err *err)
{
    struct got *g = ctx;
    if (g->stop_at && g->n == g->stop_at) return kv_err_set(err, KV_EINVAL, "stopped by callback");
    if (g->n == MAX_ROWS || row->klen > 31 || row->vlen > 31)
        return kv_err_set(err, KV_EINVAL, "test collector overflow");
    int i = g->n++;
    if (row->klen) memcpy(g->key[i], row->key, row->klen);
    if (row->vlen) memcpy(g->val[i], row->val, row->vlen);
    g->klen[i] = row->klen;
    g->vlen[i] = row->vlen;
    g->has_exp[i] = row->has_expire;
    g->exp[i] = row->expire_at_ms;
    g->key_null[i] = row->key_null;
    return 0;
}

/* Reads an exact-size heap copy of the image. */
static int read_img(const void *p, size_t n, const struct pqr_opts *o, struct got *g,
                    struct pqr_info *info, struct kv_err *err)
{
    unsigned char *copy = malloc(n ? n : 1);
    if (n) memcpy(copy, p, n);
    if (g) memset(g, 0, sizeof(*g));
    err->msg[0] = '\0';
    int rc = pqr_read_mem_opts(copy, n, o, g ? collect : NULL, g, info, err);
    free(copy);
    return rc;
}

static int row_is(const struct got *g, int i, const char *k, const char *v, int has, int64_t e)
{
    return i < g->n && g->klen[i] == strlen(k) && memcmp(g->key[i], k, g->klen[i]) == 0 &&
           g->vlen[i] == strlen(v) && memcmp(g->val[i], v, g->vlen[i]) == 0 &&
           g->has_exp[i] == has && (!has || g->exp[i] == e);
}

static int has_msg(const struct kv_err *err, const char *needle)
{
    return strstr(err->msg, needle) != NULL;
}

/* ---- decoder tests ---- */

static void test_rle(void)
{
    uint32_t out[16];
    static const uint8_t bp3[] = {0x03, 0x88, 0xC6, 0xFA};
    int all = 1;
    ok(pqe_rle_decode(bp3, sizeof(bp3), 3, out, 8) == 0, "bit width 3, values 0..7 bit-packed");
    for (uint32_t i = 0; i < 8; i++)
        all &= out[i] == i;
    ok(all, "88 C6 FA decodes to 0..7");
    ok(pqe_rle_decode(bp3, sizeof(bp3), 3, out, 5) == 0 && out[4] == 4, "stops at n inside a run");
    ok(pqe_rle_decode(bp3, sizeof(bp3), 3, out, 9) == -1, "asking past the data fails");
    static const uint8_t rle[] = {0x0A, 0x07, 0x04, 0x02};
    ok(pqe_rle_decode(rle, sizeof(rle), 3, out, 7) == 0 && out[0] == 7 && out[4] == 7 &&
           out[5] == 2 && out[6] == 2,
       "RLE runs 5 x 7 then 2 x 2");
    static const uint8_t bw0[] = {0x14};
    ok(pqe_rle_decode(bw0, sizeof(bw0), 0, out, 10) == 0 && out[0] == 0 && out[9] == 0,
       "bit width 0: a run carries no value bytes");
    static const uint8_t bw32[] = {0x04, 0x78, 0x56, 0x34, 0x12};
    ok(pqe_rle_decode(bw32, sizeof(bw32), 32, out, 2) == 0 && out[1] == 0x12345678,
       "bit width 32 RLE value");
    static const uint8_t mixed[] = {0x06, 0x01, 0x03, 0xff};
    ok(pqe_rle_decode(mixed, sizeof(mixed), 1, out, 11) == 0 && out[0] == 1 && out[3] == 1 &&
           out[10] == 1,
       "RLE run then bit-packed run");
    ok(pqe_rle_decode(rle, 1, 3, out, 1) == -1, "RLE run without its value fails");
    ok(pqe_rle_decode((const uint8_t *)"\x80", 1, 3, out, 1) == -1, "truncated header fails");
    ok(pqe_rle_decode((const uint8_t *)"\x00\x01", 2, 3, out, 1) == -1, "empty RLE run fails");
    ok(pqe_rle_decode((const uint8_t *)"\x01", 1, 3, out, 1) == -1, "empty bit-packed run fails");
    ok(pqe_rle_decode(bp3, sizeof(bp3), 33, out, 1) == -1, "bit width 33 refused");
    ok(pqe_rle_decode(bp3, 2, 3, out, 2) == 0 && out[1] == 1 &&
           pqe_rle_decode(bp3, 2, 3, out, 3) == -1,
       "a short last bit-packed run yields only the values present");
    static const uint8_t huge[] = {0xfe, 0xff, 0xff, 0xff, 0x0f};
    ok(pqe_rle_decode(huge, sizeof(huge), 0, out, 4) == 0, "bit width 0: run of 2^31-1, take 4");
}

static void test_delta(void)
{
    int64_t out[300];
    size_t n, used;
    /* The spec's example 1: 1 2 3 4 5 (all deltas 1, bit width 0). */
    static const uint8_t ex1[] = {0x80, 0x01, 0x04, 0x05, 0x02, 0x02, 0, 0, 0, 0};
    ok(pqe_delta_decode(ex1, sizeof(ex1), out, 300, &n, &used) == 0 && n == 5 && used == 10 &&
           out[0] == 1 && out[4] == 5,
       "example 1: 1..5");
    /* Example 2: 7 5 3 1 2 3 4 5: min delta -2, relative 0 0 0 3 3 3 3 in 2 bits. */
    static const uint8_t ex2[] = {0x80, 0x01, 0x04, 0x08, 0x0E, 0x03, 0x02, 0, 0,  0,
                                  0xC0, 0x3F, 0,    0,    0,    0,    0,    0, 'x'};
    static const int64_t want2[] = {7, 5, 3, 1, 2, 3, 4, 5};
    ok(pqe_delta_decode(ex2, sizeof(ex2), out, 300, &n, &used) == 0 && n == 8 && used == 18 &&
           memcmp(out, want2, sizeof(want2)) == 0,
       "example 2: 7 5 3 1 2 3 4 5, stream ends before the trailing byte");
    ok(pqe_delta_decode(ex2, sizeof(ex2), out, 7, &n, &used) == -1, "more values than max fails");
    ok(pqe_delta_decode(ex2, 11, out, 300, &n, &used) == -1 &&
           pqe_delta_decode(ex2, 12, out, 300, &n, &used) == 0 && used == 12,
       "a miniblock may stop after its last value's bits, not before");
    static const uint8_t one[] = {0x80, 0x01, 0x04, 0x01, 0x7f};
    ok(pqe_delta_decode(one, sizeof(one), out, 300, &n, &used) == 0 && n == 1 && out[0] == -64 &&
           used == 5,
       "one value: header only");
    static const uint8_t badbs[] = {0x40, 0x04, 0x01, 0x00};
    ok(pqe_delta_decode(badbs, sizeof(badbs), out, 300, &n, &used) == -1,
       "block size not a multiple of 128 fails");
    static const uint8_t badw[] = {0x80, 0x01, 0x04, 0x02, 0x00, 0x00, 65, 0, 0, 0};
    ok(pqe_delta_decode(badw, sizeof(badw), out, 300, &n, &used) == -1, "bit width 65 fails");

    /* Round trips through the test encoder: several blocks, extremes, wrap-around. 289 values =
     * the first + 2 blocks + one full miniblock, so there are no padding bytes to cut. */
    int64_t v[289];
    for (int i = 0; i < 289; i++)
        v[i] = i % 7 == 0 ? INT64_MIN + i : i % 5 == 0 ? INT64_MAX - i : (int64_t)i * i * -977;
    struct buf b;
    buf_init(&b);
    dbp_encode(&b, v, 289);
    buf_append_str(&b, "tail");
    uint8_t *copy = malloc(b.len);
    memcpy(copy, b.data, b.len);
    ok(pqe_delta_decode(copy, b.len, out, 300, &n, &used) == 0 && n == 289 && used == b.len - 4 &&
           memcmp(out, v, sizeof(v)) == 0,
       "289 extreme values round-trip over 3 blocks");
    int fails = 1;
    for (size_t cut = 0; cut < b.len - 4; cut++)
        fails &= pqe_delta_decode(copy, cut, out, 300, &n, &used) == -1;
    ok(fails, "every truncation of the stream fails");
    free(copy);
    buf_deinit(&b);
}

/* ---- whole files ---- */

/* The pages of the tiny PLAIN file: key REQUIRED, value REQUIRED, expire_at_ms OPTIONAL, 3
 * rows; exp_type INT64 normally. The caller may adjust f, then calls fb_finish. */
static void tiny_pages(struct fb *f, int codec, int crc, int exp_type, int value_enc)
{
    struct buf b;
    static const uint32_t lv[] = {0, 1, 1};
    buf_init(&b);
    fb_init(f);
    fb_col(f, "key", PQ_BYTE_ARRAY, PQ_REQUIRED, codec);
    fb_col(f, "value", PQ_BYTE_ARRAY, PQ_REQUIRED, codec);
    fb_col(f, "expire_at_ms", exp_type, PQ_OPTIONAL, codec);
    fb_chunk(f, 0);
    plain_ba(&b, "a");
    plain_ba(&b, "bb");
    plain_ba(&b, "c\\c");
    fb_page(f, &(struct pg){.nvals = 3, .body = &b, .crc = crc});
    fb_chunk(f, 1);
    b.len = 0;
    plain_ba(&b, "1");
    plain_ba(&b, "");
    plain_ba(&b, "333");
    fb_page(f, &(struct pg){.nvals = 3, .enc = value_enc, .body = &b, .crc = crc});
    fb_chunk(f, 2);
    b.len = 0;
    def_levels_v1(&b, lv, 3);
    put_le(&b, 1234, exp_type == PQ_INT64 ? 8 : 4);
    put_le(&b, (uint64_t)-5, exp_type == PQ_INT64 ? 8 : 4);
    fb_page(f, &(struct pg){.nvals = 3, .body = &b, .crc = crc});
    buf_deinit(&b);
}

static void build_tiny(struct fb *f, int codec, int crc)
{
    tiny_pages(f, codec, crc, PQ_INT64, PQ_ENC_PLAIN);
    fb_finish(f);
}

static void check_tiny(const struct got *g, const char *what)
{
    ok(g->n == 3 && row_is(g, 0, "a", "1", 0, 0) && row_is(g, 1, "bb", "", 1, 1234) &&
           row_is(g, 2, "c\\c", "333", 1, -5),
       "%s: rows read back", what);
}

static void test_tiny(void)
{
    static const int codecs[] = {PQ_UNCOMPRESSED, PQ_SNAPPY, PQ_GZIP, PQ_ZSTD, PQ_LZ4_RAW};
    for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
        struct fb f;
        struct got g;
        struct pqr_info info;
        struct kv_err err;
        build_tiny(&f, codecs[i], i % 2);
        int rc = read_img(f.b.data, f.b.len, NULL, &g, &info, &err);
        ok(rc == 0, "tiny %s file reads (%s)", pqc_name(codecs[i]), err.msg);
        check_tiny(&g, pqc_name(codecs[i]));
        if (i == 0)
            ok(info.rows == 3 && info.row_groups == 1 && info.panda && info.format_version == 1 &&
                   info.lsn == UINT64_MAX && info.codec == PQ_UNCOMPRESSED &&
                   strcmp(info.created_by, "panda test") == 0 && info.file_bytes == f.b.len,
               "info: rows, row groups, Panda metadata, codec, created_by");
        buf_deinit(&f.b);
    }
}

/* key: 1-entry dictionary with bit width 0 indices (PLAIN_DICTIONARY, as DuckDB writes);
 * value: 2 entries, an RLE_DICTIONARY page, then a PLAIN page in the same chunk. bad: the
 * value page refers to entry 3. */
static void build_dict(struct fb *f, int bad)
{
    struct buf b;
    buf_init(&b);
    fb_init(f);
    f->panda = 0;
    fb_col(f, "key", PQ_BYTE_ARRAY, PQ_REQUIRED, PQ_SNAPPY);
    fb_col(f, "value", PQ_BYTE_ARRAY, PQ_REQUIRED, PQ_SNAPPY);
    fb_chunk(f, 0);
    plain_ba(&b, "k");
    fb_page(f, &(struct pg){.type = PQ_DICTIONARY_PAGE, .nvals = 1, .body = &b});
    b.len = 0;
    buf_append_char(&b, 0);
    put_uleb(&b, 4 << 1);
    fb_page(f, &(struct pg){.nvals = 4, .enc = PQ_ENC_PLAIN_DICTIONARY, .body = &b});
    fb_chunk(f, 1);
    b.len = 0;
    plain_ba(&b, "x");
    plain_ba(&b, "yy");
    fb_page(f, &(struct pg){.type = PQ_DICTIONARY_PAGE, .nvals = 2, .body = &b, .crc = 1});
    b.len = 0;
    buf_append_char(&b, 2);
    buf_append_char(&b, 0x03); /* one bit-packed group of 8, 2 bits each: 1 0 1|3 */
    buf_append_char(&b, (char)(bad ? 0x31 : 0x11));
    buf_append_char(&b, 0);
    fb_page(f, &(struct pg){.nvals = 3, .enc = PQ_ENC_RLE_DICTIONARY, .body = &b, .crc = 1});
    b.len = 0;
    plain_ba(&b, "zzz");
    fb_page(f, &(struct pg){.nvals = 1, .body = &b});
    fb_finish(f);
    buf_deinit(&b);
}

static void test_dictionary(void)
{
    struct fb f;
    struct got g;
    struct pqr_info info;
    struct kv_err err;
    build_dict(&f, 0);
    int rc = read_img(f.b.data, f.b.len, NULL, &g, &info, &err);
    ok(rc == 0 && g.n == 4 && row_is(&g, 0, "k", "yy", 0, 0) && row_is(&g, 1, "k", "x", 0, 0) &&
           row_is(&g, 2, "k", "yy", 0, 0) && row_is(&g, 3, "k", "zzz", 0, 0),
       "dictionary pages, bit width 0, dictionary then PLAIN pages (%s)", err.msg);
    ok(info.panda == 0 && info.codec == PQ_SNAPPY, "no Panda metadata; codec SNAPPY");
    buf_deinit(&f.b);
    build_dict(&f, 1);
    rc = read_img(f.b.data, f.b.len, NULL, &g, &info, &err);
    ok(rc == -1 && has_msg(&err, "dictionary index 3 out of range (2 entries)") &&
           has_msg(&err, "column value"),
       "dictionary index out of range: %s", err.msg);
    buf_deinit(&f.b);
}

/* v2 pages (GZIP): key compressed DELTA_BYTE_ARRAY, value is_compressed=false
 * DELTA_LENGTH_BYTE_ARRAY, expire OPTIONAL DELTA_BINARY_PACKED over two pages, the second all
 * null with an empty values section that must not reach the decompressor. */
static void build_v2(struct fb *f)
{
    static const char *const keys[] = {"apple", "applesauce", "apply", "b"};
    static const char *const vals[] = {"v1", "", "value three", "4"};
    static const uint32_t lv1[] = {0, 1, 1}, lv2[] = {0};
    static const int64_t ex[] = {INT64_MAX, -1};
    struct buf b;
    buf_init(&b);
    fb_init(f);
    fb_col(f, "key", PQ_BYTE_ARRAY, PQ_OPTIONAL, PQ_GZIP);
    fb_col(f, "value", PQ_BYTE_ARRAY, PQ_REQUIRED, PQ_GZIP);
    fb_col(f, "expire_at_ms", PQ_INT64, PQ_OPTIONAL, PQ_GZIP);
    fb_chunk(f, 0);
    rle_runs(&b, (const uint32_t[]){1, 1, 1, 1}, 4, 1);
    int32_t dl = (int32_t)b.len;
    dba_encode(&b, keys, 4);
    fb_page(f, &(struct pg){.type = PQ_DATA_PAGE_V2,
                            .nvals = 4,
                            .def_len = dl,
                            .enc = PQ_ENC_DELTA_BYTE_ARRAY,
                            .body = &b,
                            .crc = 1});
    fb_chunk(f, 1);
    b.len = 0;
    dlba_encode(&b, vals, 4);
    fb_page(f, &(struct pg){.type = PQ_DATA_PAGE_V2,
                            .nvals = 4,
                            .v2_raw = 1,
                            .enc = PQ_ENC_DELTA_LENGTH_BYTE_ARRAY,
                            .body = &b});
    fb_chunk(f, 2);
    b.len = 0;
    rle_runs(&b, lv1, 3, 1);
    dl = (int32_t)b.len;
    dbp_encode(&b, ex, 2);
    fb_page(f, &(struct pg){.type = PQ_DATA_PAGE_V2,
                            .nvals = 3,
                            .def_len = dl,
                            .enc = PQ_ENC_DELTA_BINARY_PACKED,
                            .body = &b});
    b.len = 0;
    rle_runs(&b, lv2, 1, 1);
    fb_page(f, &(struct pg){.type = PQ_DATA_PAGE_V2,
                            .nvals = 1,
                            .def_len = (int32_t)b.len,
                            .enc = PQ_ENC_DELTA_BINARY_PACKED,
                            .body = &b});
    fb_finish(f);
    buf_deinit(&b);
}

static void test_v2_delta(void)
{
    struct fb f;
    struct got g;
    struct pqr_info info;
    struct kv_err err;
    build_v2(&f);
    int rc = read_img(f.b.data, f.b.len, NULL, &g, &info, &err);
    ok(rc == 0, "v2 pages with delta encodings read (%s)", err.msg);
    ok(row_is(&g, 0, "apple", "v1", 0, 0) && row_is(&g, 1, "applesauce", "", 1, INT64_MAX) &&
           row_is(&g, 2, "apply", "value three", 1, -1) && row_is(&g, 3, "b", "4", 0, 0),
       "DELTA_BYTE_ARRAY, DELTA_LENGTH_BYTE_ARRAY, DELTA_BINARY_PACKED values and nulls");
    ok(info.codec == PQ_GZIP, "codec GZIP");
    buf_deinit(&f.b);
}

static void expect_fail(struct fb *f, const char *needle, const char *what)
{
    struct got g;
    struct pqr_info info;
    struct kv_err err;
    int rc = read_img(f->b.data, f->b.len, NULL, &g, &info, &err);
    ok(rc == -1 && has_msg(&err, needle), "%s: %s", what, err.msg);
    buf_deinit(&f->b);
}

static void test_damaged(void)
{
    struct fb f;
    struct buf b;
    buf_init(&b);

    build_tiny(&f, PQ_UNCOMPRESSED, 1);
    ((char *)f.b.data)[f.c[2].start - 2] ^= 0x40; /* in the value page body ("333") */
    expect_fail(&f, "CRC mismatch", "corrupted page body with a CRC");

    build_tiny(&f, PQ_ZSTD, 1);
    f.b.len--;
    expect_fail(&f, "magic", "truncated file");

    build_tiny(&f, PQ_ZSTD, 0);
    memcpy(f.b.data, "PAR0", 4);
    expect_fail(&f, "magic PAR1 at the start", "wrong leading magic");

    build_tiny(&f, PQ_ZSTD, 0);
    memcpy(f.b.data + f.b.len - 4, "PARE", 4);
    expect_fail(&f, "encrypted", "PARE footer");

    build_tiny(&f, PQ_ZSTD, 0);
    memset(f.b.data + f.b.len - 8, 0xff, 4);
    expect_fail(&f, "footer", "footer length beyond the file");

    tiny_pages(&f, PQ_SNAPPY, 0, PQ_INT64, PQ_ENC_PLAIN);
    f.c[2].meta_codec = PQ_LZ4;
    fb_finish(&f);
    expect_fail(&f,
                "column expire_at_ms: unsupported compression codec LZ4 (deprecated Hadoop "
                "framing) (id 5)",
                "deprecated LZ4 codec");

    tiny_pages(&f, PQ_SNAPPY, 0, PQ_INT64, PQ_ENC_PLAIN);
    f.num_rows = 4;
    fb_finish(&f);
    expect_fail(&f, "FileMetaData.num_rows says 4", "num_rows disagrees with the row groups");

    tiny_pages(&f, PQ_SNAPPY, 0, PQ_INT64, PQ_ENC_PLAIN);
    f.rg_rows = 2;
    fb_finish(&f);
    expect_fail(&f, "3 values but the row group has 2 rows", "chunk values != row group rows");

    tiny_pages(&f, PQ_SNAPPY, 0, PQ_INT64, PQ_ENC_PLAIN);
    f.rg_rows = f.c[0].nvals = f.c[1].nvals = f.c[2].nvals = 2;
    fb_finish(&f);
    expect_fail(&f, "3 values, but 2 remain in the chunk", "page with more values than the chunk");

    tiny_pages(&f, PQ_UNCOMPRESSED, 0, PQ_INT32, PQ_ENC_PLAIN);
    fb_finish(&f);
    expect_fail(&f, "column expire_at_ms has type INT32, want INT64", "expire_at_ms INT32");

    tiny_pages(&f, PQ_UNCOMPRESSED, 0, PQ_INT64, PQ_ENC_BYTE_STREAM_SPLIT);
    fb_finish(&f);
    expect_fail(&f, "column value: unsupported encoding BYTE_STREAM_SPLIT",
                "BYTE_STREAM_SPLIT encoding");

    fb_init(&f);
    fb_col(&f, "key", PQ_BYTE_ARRAY, PQ_REQUIRED, PQ_UNCOMPRESSED);
    fb_col(&f, "expire_at_ms", PQ_INT64, PQ_REQUIRED, PQ_UNCOMPRESSED);
    fb_chunk(&f, 0);
    plain_ba(&b, "k");
    fb_page(&f, &(struct pg){.nvals = 1, .body = &b});
    fb_chunk(&f, 1);
    b.len = 0;
    put_le(&b, 1, 8);
    fb_page(&f, &(struct pg){.nvals = 1, .body = &b});
    fb_finish(&f);
    expect_fail(&f, "no top-level column named \"value\"", "missing value column");

    fb_init(&f);
    fb_col(&f, "key", PQ_BYTE_ARRAY, PQ_REQUIRED, PQ_UNCOMPRESSED);
    fb_col(&f, "value", PQ_BYTE_ARRAY, PQ_REQUIRED, PQ_UNCOMPRESSED);
    fb_chunk(&f, 0);
    b.len = 0;
    plain_ba(&b, "k");
    fb_page(&f, &(struct pg){.nvals = 1, .body = &b, .csize_extra = 1});
    fb_chunk(&f, 1);
    fb_page(&f, &(struct pg){.nvals = 1, .body = &b});
    fb_finish(&f);
    expect_fail(&f, "compressed size 6 runs past the column chunk", "page larger than its chunk");

    fb_init(&f);
    fb_col(&f, "key", PQ_BYTE_ARRAY, PQ_REQUIRED, PQ_UNCOMPRESSED);
    fb_col(&f, "value", PQ_BYTE_ARRAY, PQ_REQUIRED, PQ_UNCOMPRESSED);
    fb_chunk(&f, 0);
    b.len = 0;
    plain_ba(&b, "k");
    b.len--; /* the value's bytes stop short of its length */
    fb_page(&f, &(struct pg){.nvals = 1, .body = &b});
    fb_chunk(&f, 1);
    fb_page(&f, &(struct pg){.nvals = 1, .body = &b});
    fb_finish(&f);
    expect_fail(&f, "values run past the end of the page", "PLAIN value longer than its page");

    fb_init(&f);
    fb_col(&f, "key", PQ_BYTE_ARRAY, PQ_OPTIONAL, PQ_UNCOMPRESSED);
    fb_col(&f, "value", PQ_BYTE_ARRAY, PQ_REQUIRED, PQ_UNCOMPRESSED);
    fb_chunk(&f, 0);
    b.len = 0;
    def_levels_v1(&b, (const uint32_t[]){1, 0}, 2);
    plain_ba(&b, "k");
    fb_page(&f, &(struct pg){.nvals = 2, .body = &b});
    fb_chunk(&f, 1);
    b.len = 0;
    plain_ba(&b, "v");
    plain_ba(&b, "w");
    fb_page(&f, &(struct pg){.nvals = 2, .body = &b});
    fb_finish(&f);
    struct got g;
    struct pqr_info info;
    struct kv_err err;
    struct pqr_opts lenient = {.lenient = 1};
    ok(read_img(f.b.data, f.b.len, &lenient, &g, &info, &err) == 0 && g.n == 2 && g.key_null[1] &&
           !g.key_null[0],
       "lenient: a null key reaches the callback");
    expect_fail(&f, "row group 0, row 1: key is null", "null key");
    buf_deinit(&b);
}

/* Every truncation and many byte flips of a small file: an error or a success, never a crash or
 * an over-read (ASan), and success only when the flip did not touch what the reader checks. */
static void test_mutations(void)
{
    struct fb f;
    struct got g;
    struct pqr_info info;
    struct kv_err err;
    build_tiny(&f, PQ_SNAPPY, 0);
    int bad = 0;
    for (size_t n = 0; n < f.b.len; n++)
        bad += read_img(f.b.data, n, NULL, &g, &info, &err) != -1;
    ok(bad == 0, "all %zu truncations fail", f.b.len);
    int oks = 0, fails = 0;
    static const uint8_t masks[] = {0x01, 0x80, 0xff, 0x10};
    for (size_t i = 0; i < f.b.len; i++)
        for (size_t m = 0; m < sizeof(masks); m++) {
            ((uint8_t *)f.b.data)[i] ^= masks[m];
            if (read_img(f.b.data, f.b.len, NULL, &g, &info, &err) == 0)
                oks++;
            else
                fails++;
            ((uint8_t *)f.b.data)[i] ^= masks[m];
        }
    ok(fails > 0 && oks + fails == (int)(4 * f.b.len), "%d byte flips: %d fail cleanly, %d read",
       oks + fails, fails, oks);
    buf_deinit(&f.b);

    build_v2(&f);
    bad = 0;
    for (size_t i = 0; i < f.b.len; i++)
        for (size_t m = 0; m < sizeof(masks); m++) {
            ((uint8_t *)f.b.data)[i] ^= masks[m];
            read_img(f.b.data, f.b.len, NULL, &g, &info, &err);
            ((uint8_t *)f.b.data)[i] ^= masks[m];
        }
    ok(1, "byte flips of the v2/delta file survived");
    buf_deinit(&f.b);
}

static void test_callback_and_opts(void)
{
    struct fb f;
    struct got g;
    struct pqr_info info;
    struct kv_err err;
    build_tiny(&f, PQ_ZSTD, 1);
    unsigned char *copy = malloc(f.b.len);
    memcpy(copy, f.b.data, f.b.len);
    memset(&g, 0, sizeof(g));
    g.stop_at = 2;
    ok(pqr_read_mem(copy, f.b.len, collect, &g, &info, &err) == -1 && g.n == 2 &&
           strcmp(err.msg, "stopped by callback") == 0,
       "callback returning -1 stops the read with its error");
    ok(pqr_read_mem(copy, f.b.len, NULL, NULL, NULL, NULL) == 0, "NULL fn, info and err");
    struct pqr_opts o = {.key_col = "value", .value_col = "value", .expire_col = ""};
    ok(read_img(f.b.data, f.b.len, &o, &g, &info, &err) == 0 && g.n == 3 &&
           row_is(&g, 2, "333", "333", 0, 0),
       "options: key and value from one column, no expire column");
    struct pqr_opts o2 = {.key_col = "", .value_col = "key", .lenient = 1};
    ok(read_img(f.b.data, f.b.len, &o2, &g, &info, &err) == 0 && g.key_null[0] &&
           row_is(&g, 1, "", "bb", 1, 1234),
       "lenient options: no key column");
    struct pqr_opts o3 = {.key_col = "", .value_col = "key"};
    ok(read_img(f.b.data, f.b.len, &o3, &g, &info, &err) == -1,
       "without lenient an empty key column name is not allowed");
    free(copy);
    buf_deinit(&f.b);
}

struct start_log {
    int calls, rows_at_start, fail;
    uint64_t rows;
};

static struct start_log start_log;

static int log_start(void *ctx, const struct pqr_info *info, struct kv_err *err)
{
    start_log.calls++;
    start_log.rows = info->rows;
    start_log.rows_at_start = ((struct got *)ctx)->n;
    if (start_log.fail) return kv_err_set(err, KV_EINVAL, "refused by on_start");
    return 0;
}

/* on_start runs once, after the metadata checks and before the first row. */
static void test_on_start(void)
{
    struct fb f;
    struct got g;
    struct pqr_info info;
    struct kv_err err;
    struct pqr_opts o = {.on_start = log_start};
    build_tiny(&f, PQ_SNAPPY, 0);
    memset(&start_log, 0, sizeof(start_log));
    ok(read_img(f.b.data, f.b.len, &o, &g, &info, &err) == 0 && start_log.calls == 1 &&
           start_log.rows == 3 && start_log.rows_at_start == 0 && g.n == 3,
       "on_start called once with the row count, before any row");
    start_log.fail = 1;
    ok(read_img(f.b.data, f.b.len, &o, &g, &info, &err) == -1 && g.n == 0 &&
           strcmp(err.msg, "refused by on_start") == 0,
       "on_start returning -1 stops the read before any row");
    buf_deinit(&f.b);
    tiny_pages(&f, PQ_SNAPPY, 0, PQ_INT64, PQ_ENC_PLAIN);
    f.c[1].meta_codec = PQ_BROTLI;
    fb_finish(&f);
    memset(&start_log, 0, sizeof(start_log));
    ok(read_img(f.b.data, f.b.len, &o, &g, &info, &err) == -1 && start_log.calls == 0 &&
           has_msg(&err, "BROTLI"),
       "metadata errors come before on_start: %s", err.msg);
    buf_deinit(&f.b);
}

static void test_files_on_disk(void)
{
    struct kv_err err;
    struct pqr_info info;
    struct fb f;
    struct got g;
    memset(&g, 0, sizeof(g));
    ok(pqr_read_file("/nonexistent/x.parquet", NULL, NULL, &info, &err) == -1 &&
           err.code == KV_ESYS,
       "missing file: system error");
    char path[] = "/tmp/test_pqread_XXXXXX";
    int fd = mkstemp(path);
    build_tiny(&f, PQ_LZ4_RAW, 1);
    ok(fd >= 0 && write(fd, f.b.data, f.b.len) == (ssize_t)f.b.len, "temp file written");
    close(fd);
    ok(pqr_read_file(path, collect, &g, &info, &err) == 0, "file read through mmap");
    check_tiny(&g, "file");
    fd = open(path, O_WRONLY | O_TRUNC);
    close(fd);
    ok(pqr_read_file(path, NULL, NULL, &info, &err) == -1 && has_msg(&err, "too small"),
       "empty file: %s", err.msg);
    unlink(path);
    buf_deinit(&f.b);
}

int main(void)
{
    test_rle();
    test_delta();
    test_tiny();
    test_dictionary();
    test_v2_delta();
    test_damaged();
    test_mutations();
    test_callback_and_opts();
    test_on_start();
    test_files_on_disk();
    return done();
}
