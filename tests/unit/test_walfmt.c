/*
 * Unit tests of the WAL record format (src/walfmt.c): encoding, decoding, LSN checks and the
 * classification of damaged files (torn tail, corruption in the middle, bad header).
 *
 * Every image handed to the reader is first copied into a heap buffer of exactly its size, so
 * ASan reports any read past the end of the file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crc32c.h"
#include "tap.h"
#include "walfmt.h"

#define NREC_MAX 8

/* A WAL image built by build_file: the bytes plus where each record starts. */
struct image {
    struct buf b;
    int nrec;
    size_t start[NREC_MAX + 1]; /* start[nrec] == b.len */
};

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Writes record `lsn` (1-based) of a test file: a few ops whose contents depend on lsn. */
static void add_record(struct buf *b, uint64_t lsn)
{
    char key[32], val[64];
    int klen = snprintf(key, sizeof(key), "key#-%llu", (unsigned long long)lsn);
    key[3] = '\0'; /* a binary key */
    for (size_t i = 0; i < sizeof(val); i++)
        val[i] = (char)(lsn * 31 + i);
    size_t start = walf_begin(b);
    walf_op_set(b, key, (size_t)klen, val, (size_t)(lsn * 5 % sizeof(val)),
                lsn % 2 ? -1 : (int64_t)lsn * 1000);
    if (lsn % 3 == 0) walf_op_del(b, "gone", 4);
    walf_end(b, start, lsn);
}

static void build_file(struct image *img, int nrec)
{
    buf_init(&img->b);
    walf_file_header(&img->b);
    img->nrec = nrec;
    for (int i = 0; i < nrec; i++) {
        img->start[i] = img->b.len;
        add_record(&img->b, (uint64_t)i + 1);
    }
    img->start[nrec] = img->b.len;
}

/* Runs walf_scan over a heap copy of exactly n bytes of p. */
static int scan_exact(const void *p, size_t n, walf_visit_fn *visit, void *ctx,
                      struct walf_scan *out)
{
    unsigned char *copy = malloc(n ? n : 1);
    if (n) memcpy(copy, p, n);
    int rc = walf_scan(copy, n, visit, ctx, out);
    free(copy);
    return rc;
}

/* Runs walf_read over a heap copy of exactly n bytes; rec's pointers are not kept. */
static int read_exact(const void *p, size_t n, uint64_t expect_lsn, struct walf_rec *rec)
{
    unsigned char *copy = malloc(n ? n : 1);
    if (n) memcpy(copy, p, n);
    int rc = walf_read(copy, n, expect_lsn, rec);
    free(copy);
    return rc;
}

/* Builds a record by hand around payload pl[0..len) with a correct CRC. */
static size_t hand_record(unsigned char *out, uint64_t lsn, int type, const void *pl, size_t len)
{
    put_le(out + 4, len, 4);
    put_le(out + 8, lsn, 8);
    out[16] = (unsigned char)type;
    memcpy(out + WALF_REC_HDR, pl, len);
    put_le(out, crc32c(out + 4, WALF_REC_HDR - 4 + len), 4);
    return WALF_REC_HDR + len;
}

static int op_is(const struct walf_opv *op, int kind, const char *k, size_t klen, const char *v,
                 size_t vlen, int64_t exp)
{
    if (op->op != kind || op->klen != klen || (klen && memcmp(op->key, k, klen) != 0)) return 0;
    if (kind != WALF_OP_SET) return 1;
    return op->vlen == vlen && (vlen == 0 || memcmp(op->val, v, vlen) == 0) && op->expire_ms == exp;
}

static void test_header(void)
{
    struct buf b;
    buf_init(&b);
    walf_file_header(&b);
    unsigned char *h = (unsigned char *)b.data;
    ok(b.len == WALF_FILE_HDR && memcmp(h, "PANDAWAL", 8) == 0 && h[8] == 1 && h[9] == 0 &&
           h[10] == 0 && h[11] == 0,
       "file header: magic and version 1 little-endian");
    uint32_t crc =
        (uint32_t)h[12] | (uint32_t)h[13] << 8 | (uint32_t)h[14] << 16 | (uint32_t)h[15] << 24;
    ok(crc == crc32c(h, 12), "file header CRC covers bytes 0..11");
    ok(walf_check_header(h, b.len) == 0, "header accepted");
    ok(walf_check_header(h, WALF_FILE_HDR - 1) == -1, "15-byte header rejected");

    struct walf_scan s;
    ok(scan_exact(h, b.len, NULL, NULL, &s) == 0 && s.damage == WALF_CLEAN && s.records == 0 &&
           s.last_lsn == 0 && s.good_end == WALF_FILE_HDR,
       "header alone is a clean file with 0 records");
    ok(scan_exact(h, 0, NULL, NULL, &s) == 0 && s.damage == WALF_BADHEADER,
       "empty file: bad header");
    ok(scan_exact(h, 10, NULL, NULL, &s) == 0 && s.damage == WALF_BADHEADER,
       "short file: bad header");

    unsigned char bad[WALF_FILE_HDR];
    memcpy(bad, h, sizeof(bad));
    bad[0] = 'p';
    ok(scan_exact(bad, sizeof(bad), NULL, NULL, &s) == 0 && s.damage == WALF_BADHEADER,
       "wrong magic: bad header");
    memcpy(bad, h, sizeof(bad));
    bad[13] ^= 0x10;
    ok(scan_exact(bad, sizeof(bad), NULL, NULL, &s) == 0 && s.damage == WALF_BADHEADER,
       "wrong header CRC: bad header");
    memcpy(bad, h, sizeof(bad));
    put_le(bad + 8, 2, 4);
    put_le(bad + 12, crc32c(bad, 12), 4);
    ok(walf_check_header(bad, sizeof(bad)) == -1, "version 2 with a good CRC rejected");

    struct image img;
    build_file(&img, 2);
    img.b.data[3] ^= 1;
    ok(scan_exact(img.b.data, img.b.len, NULL, NULL, &s) == 0 && s.damage == WALF_BADHEADER &&
           s.records == 0,
       "bad header in front of good records: bad header, nothing read");
    buf_deinit(&img.b);
    buf_deinit(&b);
}

/* The exact bytes of one small record, checked against docs/FORMATS.md by hand. */
static void test_record_bytes(void)
{
    struct buf b;
    buf_init(&b);
    size_t start = walf_begin(&b);
    walf_op_set(&b, "k", 1, "v", 1, -1);
    ok(start == 0 && walf_end(&b, start, 0x0102030405060708ull) == 0, "walf_end succeeds");
    static const unsigned char want_tail[] = {
        13,   0,    0,    0,                           /* len */
        8,    7,    6,    5,    4,    3,    2,    1,   /* lsn */
        1,                                             /* type */
        1,    1,    'k',  1,    'v',                   /* SET k v */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff /* expiry -1 */
    };
    const unsigned char *p = (const unsigned char *)b.data;
    ok(b.len == 4 + sizeof(want_tail) && memcmp(p + 4, want_tail, sizeof(want_tail)) == 0,
       "record bytes: len, lsn, type, SET payload as in FORMATS.md");
    uint32_t crc =
        (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    ok(crc == crc32c(p + 4, sizeof(want_tail)), "record CRC covers everything after it");

    b.len = 0;
    start = walf_begin(&b);
    walf_op_del(&b, "ab", 2);
    walf_op_flush(&b);
    walf_end(&b, start, 1);
    static const unsigned char want_ops[] = {2, 2, 'a', 'b', 3};
    ok(b.len == WALF_REC_HDR + 5 && memcmp(b.data + WALF_REC_HDR, want_ops, 5) == 0,
       "DEL and FLUSH payload bytes");
    buf_deinit(&b);
}

/* Reads back one record holding every kind of operation, with binary and empty strings. */
static void test_roundtrip(void)
{
    struct buf b;
    buf_init(&b);
    char big[20000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)(i * 7);
    size_t start = walf_begin(&b);
    walf_op_set(&b, "a\0b", 3, "\0\r\n\0", 4, -1);
    walf_op_set(&b, "", 0, "", 0, 1700000000123);
    walf_op_del(&b, "\0", 1);
    walf_op_flush(&b);
    walf_op_del(&b, "", 0);
    walf_op_set(&b, big, 200, big, sizeof(big), INT64_MAX);
    ok(walf_end(&b, start, 42) == 0, "record with six ops closed");

    struct walf_rec rec;
    ok(read_exact(b.data, b.len, 42, &rec) == 0 && rec.lsn == 42 && rec.size == b.len &&
           rec.len == b.len - WALF_REC_HDR,
       "walf_read: lsn, len and size");
    ok(walf_read((unsigned char *)b.data, b.len, 0, &rec) == 0 &&
           rec.payload == (unsigned char *)b.data + WALF_REC_HDR,
       "expect_lsn 0 accepts any LSN; payload points into the image");

    const unsigned char *cur = rec.payload, *end = rec.payload + rec.len;
    struct walf_opv op[7];
    int n = 0, rc;
    while (n < 7 && (rc = walf_next_op(&cur, end, &op[n])) == 1)
        n++;
    ok(n == 6 && rc == 0 && cur == end, "six ops, then the end");
    ok(op_is(&op[0], WALF_OP_SET, "a\0b", 3, "\0\r\n\0", 4, -1), "SET binary key and value");
    ok(op_is(&op[1], WALF_OP_SET, "", 0, "", 0, 1700000000123),
       "SET empty key, empty value, positive expiry");
    ok(op_is(&op[2], WALF_OP_DEL, "\0", 1, NULL, 0, 0), "DEL of a NUL key");
    ok(op[3].op == WALF_OP_FLUSH, "FLUSH");
    ok(op_is(&op[4], WALF_OP_DEL, "", 0, NULL, 0, 0), "DEL of an empty key");
    ok(op_is(&op[5], WALF_OP_SET, big, 200, big, sizeof(big), INT64_MAX),
       "SET with 2- and 3-byte varint lengths, INT64_MAX expiry");

    b.len = 0;
    start = walf_begin(&b);
    walf_end(&b, start, 1);
    ok(read_exact(b.data, b.len, 1, &rec) == 0 && rec.len == 0, "an empty batch is valid");
    buf_deinit(&b);
}

static void test_lsn(void)
{
    struct buf b;
    buf_init(&b);
    add_record(&b, 5);
    struct walf_rec rec;
    ok(read_exact(b.data, b.len, 5, &rec) == 0, "expected LSN accepted");
    ok(read_exact(b.data, b.len, 4, &rec) == -1 && read_exact(b.data, b.len, 6, &rec) == -1,
       "wrong LSN rejected");
    buf_deinit(&b);
    /* walf_end asserts LSN > 0 in debug builds, so LSN 0 is built by hand. */
    static const unsigned char flush[] = {WALF_OP_FLUSH};
    unsigned char zero[WALF_REC_HDR + 1];
    size_t n = hand_record(zero, 0, WALF_TYPE_BATCH, flush, 1);
    ok(read_exact(zero, n, 0, &rec) == -1, "LSN 0 rejected even when any LSN is allowed");

    /* Records 1, 2, 4: the third is bad (LSN not previous + 1) and nothing valid follows. */
    struct image img;
    build_file(&img, 2);
    size_t third = img.b.len;
    add_record(&img.b, 4);
    struct walf_scan s;
    scan_exact(img.b.data, img.b.len, NULL, NULL, &s);
    ok(s.damage == WALF_TORN && s.records == 2 && s.last_lsn == 2 && s.bad_offset == third &&
           s.good_end == third && s.bad_lsn == 3,
       "LSN gap at the end (1,2,4): stops at the third record, torn tail");
    size_t fourth = img.b.len;
    add_record(&img.b, 5);
    scan_exact(img.b.data, img.b.len, NULL, NULL, &s);
    ok(s.damage == WALF_CORRUPT && s.records == 2 && s.bad_offset == third &&
           s.next_valid == fourth,
       "LSN gap in the middle (1,2,4,5): corruption, next valid is LSN 5");
    img.b.len = third;
    add_record(&img.b, 2);
    scan_exact(img.b.data, img.b.len, NULL, NULL, &s);
    ok(s.damage == WALF_TORN && s.records == 2 && s.bad_offset == third,
       "repeated LSN (1,2,2) rejected");
    buf_deinit(&img.b);
}

/* Cuts a 3-record file at every length and checks each classification. */
static void test_truncation(void)
{
    struct image img;
    build_file(&img, 3);
    int bad_hdr = 0, bad_clean = 0, bad_torn = 0, torn = 0;
    for (size_t n = 0; n < img.b.len; n++) {
        struct walf_scan s;
        scan_exact(img.b.data, n, NULL, NULL, &s);
        if (n < WALF_FILE_HDR) {
            bad_hdr += s.damage != WALF_BADHEADER;
            continue;
        }
        int k = 0; /* complete records in the first n bytes */
        while (k < 3 && img.start[k + 1] <= n)
            k++;
        if (n == img.start[k]) {
            bad_clean += s.damage != WALF_CLEAN || s.records != (uint64_t)k || s.good_end != n;
            continue;
        }
        torn++;
        bad_torn += s.damage != WALF_TORN || s.good_end != img.start[k] ||
                    s.bad_offset != img.start[k] || s.records != (uint64_t)k ||
                    s.last_lsn != (uint64_t)k || s.bad_lsn != (uint64_t)k + 1;
    }
    ok(bad_hdr == 0, "cut inside the header: bad header");
    ok(bad_clean == 0, "cut at a record boundary: clean");
    ok(bad_torn == 0 && torn > 0,
       "every cut inside a record (%d lengths): torn at its start, full records before", torn);
    buf_deinit(&img.b);
}

static int appended_is_torn(struct image *img, const void *junk, size_t n)
{
    size_t old = img->b.len;
    buf_append(&img->b, junk, n);
    struct walf_scan s;
    scan_exact(img->b.data, img->b.len, NULL, NULL, &s);
    img->b.len = old;
    return s.damage == WALF_TORN && s.records == 3 && s.last_lsn == 3 && s.good_end == old &&
           s.bad_offset == old && s.bad_lsn == 4;
}

static void test_garbage_tail(void)
{
    struct image img;
    build_file(&img, 3);
    unsigned char junk[100];
    memset(junk, 0, sizeof(junk));
    ok(appended_is_torn(&img, junk, 1), "one zero byte after the end: torn at the old end");
    ok(appended_is_torn(&img, junk, sizeof(junk)), "100 zero bytes: torn");
    memset(junk, 0xff, sizeof(junk));
    ok(appended_is_torn(&img, junk, sizeof(junk)), "100 0xff bytes: torn");
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (unsigned char)(i * 151 + 7);
    ok(appended_is_torn(&img, junk, sizeof(junk)), "100 pseudo-random bytes: torn");
    size_t r1 = img.start[1] - img.start[0];
    memcpy(junk, img.b.data + img.start[0], r1);
    ok(appended_is_torn(&img, junk, r1), "a replayed copy of record 1: torn");
    buf_deinit(&img.b);
}

/* Flips every bit of one record of a 5-record file and classifies each result. */
static void test_bit_flips(void)
{
    struct image img;
    build_file(&img, 5);
    size_t r2 = img.start[1], r3 = img.start[2];
    int bad = 0, flips = 0;
    for (size_t off = r2; off < r3; off++) {
        for (int bit = 0; bit < 8; bit++) {
            img.b.data[off] ^= (char)(1 << bit);
            struct walf_scan s;
            scan_exact(img.b.data, img.b.len, NULL, NULL, &s);
            img.b.data[off] ^= (char)(1 << bit);
            flips++;
            if (s.damage != WALF_CORRUPT || s.bad_offset != r2 || s.good_end != r2 ||
                s.bad_lsn != 2 || s.next_valid != r3 || s.records != 1 || s.last_lsn != 1) {
                if (!bad) printf("#   first failure: byte %zu bit %d\n", off - r2, bit);
                bad++;
            }
        }
    }
    ok(bad == 0, "each of %d bit flips in record 2 of 5: corrupt at record 2, next valid 3", flips);

    size_t r5 = img.start[4];
    bad = 0;
    for (size_t off = r5; off < img.b.len; off++) {
        img.b.data[off] ^= 0x20;
        struct walf_scan s;
        scan_exact(img.b.data, img.b.len, NULL, NULL, &s);
        img.b.data[off] ^= 0x20;
        bad += s.damage != WALF_TORN || s.bad_offset != r5 || s.records != 4;
    }
    ok(bad == 0, "a flipped bit in the last record: torn tail");
    buf_deinit(&img.b);
}

/* Sets record k's declared length to len, leaving its CRC stale. */
static void set_len(struct image *img, int k, uint32_t len)
{
    put_le((unsigned char *)img->b.data + img->start[k] + 4, len, 4);
}

static void test_huge_len(void)
{
    struct image img;
    build_file(&img, 3);
    static const uint32_t lens[] = {0x7fffffffu, 0x80000000u, 0xffffffffu, 0x10000u};
    int bad = 0;
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        set_len(&img, 2, lens[i]);
        struct walf_scan s;
        scan_exact(img.b.data, img.b.len, NULL, NULL, &s);
        bad += s.damage != WALF_TORN || s.bad_offset != img.start[2] || s.records != 2;
        struct walf_rec rec;
        bad += read_exact(img.b.data + img.start[2], img.b.len - img.start[2], 0, &rec) != -1;
    }
    ok(bad == 0, "huge declared length in the last record: rejected, torn, no over-read");

    uint32_t real = (uint32_t)(img.start[3] - img.start[2] - WALF_REC_HDR);
    set_len(&img, 2, real + 1);
    struct walf_rec rec;
    ok(read_exact(img.b.data + img.start[2], img.b.len - img.start[2], 0, &rec) == -1,
       "length one past the end of the file rejected");
    set_len(&img, 2, real);
    ok(read_exact(img.b.data + img.start[2], img.b.len - img.start[2], 3, &rec) == 0,
       "restored length reads again");
    ok(read_exact(img.b.data + img.start[2], WALF_REC_HDR - 1, 0, &rec) == -1,
       "fewer bytes than a record header rejected");

    set_len(&img, 1, 0xfffffff0u);
    struct walf_scan s;
    scan_exact(img.b.data, img.b.len, NULL, NULL, &s);
    ok(s.damage == WALF_CORRUPT && s.bad_offset == img.start[1] && s.next_valid == img.start[2],
       "huge length in the middle: corruption, next valid found");
    buf_deinit(&img.b);
}

/* A payload that must be rejected although its CRC is right. */
static int hand_rejected(const void *pl, size_t len, int type)
{
    unsigned char rec[WALF_REC_HDR + 64];
    size_t n = hand_record(rec, 1, type, pl, len);
    struct walf_rec r;
    return read_exact(rec, n, 1, &r) == -1 && read_exact(rec, n, 0, &r) == -1;
}

static int next_op_fails(const void *pl, size_t len)
{
    const unsigned char *cur = pl, *end = cur + len;
    struct walf_opv op;
    int rc;
    while ((rc = walf_next_op(&cur, end, &op)) == 1) {
    }
    return rc == -1;
}

static void test_malformed(void)
{
    static const unsigned char good[] = {1,    1,    'k',  1,    'v',  0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    unsigned char rec[WALF_REC_HDR + 64];
    size_t n = hand_record(rec, 1, WALF_TYPE_BATCH, good, sizeof(good));
    struct walf_rec r;
    ok(read_exact(rec, n, 1, &r) == 0, "hand-built record accepted (control)");
    ok(hand_rejected(good, sizeof(good), 2), "unknown record type rejected");

    static const unsigned char op0[] = {0}, op4[] = {4, 1, 'k'}, opff[] = {0xff};
    ok(hand_rejected(op0, 1, 1) && hand_rejected(op4, 3, 1) && hand_rejected(opff, 1, 1),
       "unknown op byte (0, 4, 0xff) rejected");
    ok(next_op_fails(op4, 3), "walf_next_op: unknown op is -1");

    static const unsigned char klong[] = {2, 5, 'a'};
    ok(hand_rejected(klong, sizeof(klong), 1), "key length running past the end rejected");
    static const unsigned char vlong[] = {1, 1, 'k', 0x81, 0x01, 'v'};
    ok(hand_rejected(vlong, sizeof(vlong), 1), "value length running past the end rejected");
    static const unsigned char vcut[] = {2, 0x80};
    ok(hand_rejected(vcut, sizeof(vcut), 1) && next_op_fails(vcut, sizeof(vcut)),
       "varint cut off at the end of the payload rejected");
    static const unsigned char vhuge[] = {2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    ok(hand_rejected(vhuge, sizeof(vhuge), 1), "2^63-sized key length rejected");
    static const unsigned char v11[] = {2,    0x80, 0x80, 0x80, 0x80, 0x80,
                                        0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    ok(hand_rejected(v11, sizeof(v11), 1), "11-byte varint rejected");

    ok(hand_rejected(good, sizeof(good) - 1, 1) && hand_rejected(good, 5, 1),
       "SET missing (part of) its 8-byte expiry rejected");
    unsigned char m2[sizeof(good)];
    memcpy(m2, good, sizeof(good));
    m2[5] = 0xfe; /* expiry -2 */
    ok(hand_rejected(m2, sizeof(m2), 1), "SET with expiry -2 rejected");
    static const unsigned char trail[] = {2, 1, 'k', 3, 2};
    ok(hand_rejected(trail, sizeof(trail), 1), "a truncated op after valid ones rejected");
}

struct visit_log {
    int calls;
    uint64_t lsns[NREC_MAX];
    int stop_at;
};

static int visit(void *ctx, const struct walf_rec *rec)
{
    struct visit_log *v = ctx;
    if (v->calls < NREC_MAX) v->lsns[v->calls] = rec->lsn;
    v->calls++;
    return v->calls == v->stop_at ? -1 : 0;
}

static void test_scan_visit(void)
{
    struct image img;
    build_file(&img, 5);
    struct visit_log v = {0};
    struct walf_scan s;
    ok(scan_exact(img.b.data, img.b.len, visit, &v, &s) == 0 && s.damage == WALF_CLEAN &&
           s.records == 5 && s.last_lsn == 5 && s.good_end == img.b.len,
       "clean 5-record file");
    ok(v.calls == 5 && v.lsns[0] == 1 && v.lsns[4] == 5, "visitor sees records 1..5 in order");
    memset(&v, 0, sizeof(v));
    v.stop_at = 3;
    ok(scan_exact(img.b.data, img.b.len, visit, &v, &s) == -1 && v.calls == 3,
       "visitor returning -1 stops the scan");

    /* Record contents survive a file round trip. */
    struct walf_rec rec;
    const unsigned char *p = (const unsigned char *)img.b.data + img.start[3];
    ok(walf_read(p, img.b.len - img.start[3], 4, &rec) == 0, "record 4 read in place");
    const unsigned char *cur = rec.payload;
    struct walf_opv op;
    ok(walf_next_op(&cur, rec.payload + rec.len, &op) == 1 && op.op == WALF_OP_SET &&
           op.klen == 6 && memcmp(op.key, "key\0-4", 6) == 0 && op.vlen == 20 &&
           op.expire_ms == 4000,
       "record 4's SET decoded");
    buf_deinit(&img.b);
}

int main(void)
{
    test_header();
    test_record_bytes();
    test_roundtrip();
    test_lsn();
    test_truncation();
    test_garbage_tail();
    test_bit_flips();
    test_huge_len();
    test_malformed();
    test_scan_visit();
    return done();
}
