/*
 * Unit tests of the Parquet writer (src/pqwrite.c), read back with Panda's reader: rows,
 * binary and empty values, TTLs, zero rows, several row groups and pages, every codec, a part
 * written on a second thread (pqw_open_part), a read on several threads, the footer's metadata, and
 * the bytes the format fixes (magics, footer length, page CRCs). Interop with DuckDB and hyparquet
 * is tested in tests/integration/test_parquet_interop.py.
 *
 * Files are written to a memfd and read back from a heap copy of exactly their size, so ASan
 * reports any read past the end.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "parquet.h"
#include "pqread.h"
#include "pqwrite.h"
#include "tap.h"
#include "thrift.h"

struct row {
    char key[40];
    size_t klen;
    char *val;
    size_t vlen;
    int64_t expire; /* -1: none */
};

/* Row i of a test set: binary keys on odd rows, an empty value every 7th, large values when
 * big is set (to cross page boundaries), a TTL every 3rd. */
static void make_row(struct row *r, int i, int big)
{
    r->klen = (size_t)snprintf(r->key, sizeof(r->key), "key:%08d", i);
    if (i % 2) r->key[3] = (char)0xff; /* not UTF-8 */
    r->vlen = i % 7 == 0 ? 0 : big ? 70000 + (size_t)i : 20 + (size_t)(i % 50);
    r->val = malloc(r->vlen + 1);
    for (size_t k = 0; k < r->vlen; k++)
        r->val[k] = (char)(i * 7 + k);
    r->expire = i % 3 == 0 ? 1700000000000LL + i : -1;
}

struct got {
    struct row *want;
    size_t n, bad;
};

static int check_row(void *ctx, const struct pqr_row *row, struct kv_err *err)
{
    (void)err;
    struct got *g = ctx;
    struct row *w = &g->want[g->n++];
    int same = row->klen == w->klen && memcmp(row->key, w->key, w->klen) == 0 &&
               row->vlen == w->vlen && (w->vlen == 0 || memcmp(row->val, w->val, w->vlen) == 0) &&
               row->has_expire == (w->expire >= 0) &&
               (!row->has_expire || row->expire_at_ms == w->expire);
    if (!same) g->bad++;
    return 0;
}

/* Writes n rows with opts into a memfd; returns the file's bytes (malloc'd) and size. */
static char *write_rows(struct row *rows, int n, const struct pqw_opts *o, size_t *size)
{
    int fd = memfd_create("pq", 0);
    struct kv_err err;
    struct pqw *w = pqw_open(fd, o, &err);
    for (int i = 0; w && i < n; i++)
        if (pqw_add(w, rows[i].key, rows[i].klen, rows[i].val, rows[i].vlen, rows[i].expire,
                    &err) != 0)
            return NULL;
    uint64_t bytes = 0;
    if (!w || pqw_finish(w, &bytes, &err) != 0) return NULL;
    char *p = malloc(bytes);
    ssize_t got = pread(fd, p, bytes, 0);
    close(fd);
    *size = (size_t)bytes;
    return got == (ssize_t)bytes ? p : NULL;
}

static void round_trip(const char *name, int n, int big, const struct pqw_opts *o,
                       uint32_t want_groups)
{
    struct row *rows = calloc((size_t)n + 1, sizeof(*rows));
    for (int i = 0; i < n; i++)
        make_row(&rows[i], i, big);
    size_t size = 0;
    char *file = write_rows(rows, n, o, &size);
    ok(file != NULL, "%s: written (%zu bytes)", name, size);
    if (file) {
        ok(memcmp(file, "PAR1", 4) == 0 && memcmp(file + size - 4, "PAR1", 4) == 0,
           "%s: PAR1 at both ends", name);
        struct got g = {rows, 0, 0};
        struct pqr_info info;
        struct kv_err err;
        int rc = pqr_read_mem(file, size, check_row, &g, &info, &err);
        ok(rc == 0, "%s: read back (%s)", name, rc ? err.msg : "ok");
        ok(g.n == (size_t)n && g.bad == 0, "%s: %zu rows, %zu differ", name, g.n, g.bad);
        ok(info.rows == (uint64_t)n && info.row_groups == want_groups,
           "%s: %llu rows in %u row groups", name, (unsigned long long)info.rows, info.row_groups);
        ok(info.panda && info.format_version == PQ_FORMAT_VERSION && info.lsn == o->lsn,
           "%s: Panda metadata (lsn %llu)", name, (unsigned long long)info.lsn);
        ok(n == 0 || info.codec == o->codec, "%s: codec %d", name, info.codec);
    }
    free(file);
    for (int i = 0; i < n; i++)
        free(rows[i].val);
    free(rows);
}

/* Every page header's CRC must be zlib's CRC-32 of the stored page bytes: walk the first
 * column chunk page by page. */
static void test_page_crcs(void)
{
    struct row rows[200];
    for (int i = 0; i < 200; i++)
        make_row(&rows[i], i, 1);
    struct pqw_opts o = {PQ_ZSTD, 0, 1, 0};
    size_t size = 0;
    char *file = write_rows(rows, 200, &o, &size);
    size_t off = 4, pages = 0, good = 0;
    while (file && off < size - 8 && pages < 100) {
        struct thr_r r;
        thr_r_init(&r, file + off, size - off);
        int32_t comp = -1, crc = 0;
        int have_crc = 0;
        int16_t id;
        enum thr_type t;
        thr_r_struct_begin(&r);
        while (thr_r_field(&r, &id, &t) == 0 && t != THR_STOP) {
            int64_t v;
            if ((id == 3 || id == 4) && thr_r_int(&r, t, &v) == 0) {
                if (id == 3) comp = (int32_t)v;
                if (id == 4) crc = (int32_t)v, have_crc = 1;
            } else if (thr_r_skip(&r, t) != 0) {
                break;
            }
        }
        if (r.failed || comp < 0) break; /* past the first chunk's pages: the next chunk */
        size_t body = off + thr_r_offset(&r, file + off);
        pages++;
        uint32_t want = (uint32_t)crc32(0, (const Bytef *)file + body, (uInt)comp);
        good += have_crc && (uint32_t)crc == want;
        off = body + (size_t)comp;
    }
    ok(pages > 1 && good == pages, "page CRCs: %zu of %zu pages match", good, pages);
    free(file);
    for (int i = 0; i < 200; i++)
        free(rows[i].val);
}

/* Rows of one writer, added on its own thread. */
struct adder {
    struct pqw *w;
    struct row **rows;
    int n, ok;
    struct kv_err err;
};

static void *add_rows(void *arg)
{
    struct adder *a = arg;
    a->ok = 1;
    for (int i = 0; a->ok && i < a->n; i++)
        a->ok = pqw_add(a->w, a->rows[i]->key, a->rows[i]->klen, a->rows[i]->val, a->rows[i]->vlen,
                        a->rows[i]->expire, &a->err) == 0;
    return NULL;
}

/* A first writer and a part filled at once on two threads, blocks of 100 rows (one row group)
 * alternating between them, so their row groups interleave in the file. The footer lists the
 * first writer's row groups, then the part's: that is the order they read back in. */
static void test_parts(void)
{
    enum { N = 700 };
    struct row *rows = calloc(N, sizeof(*rows)), *want = calloc(N, sizeof(*want));
    struct row *mine[N], *theirs[N];
    int nm = 0, nt = 0;
    for (int i = 0; i < N; i++) {
        make_row(&rows[i], i, 0);
        if (i / 100 % 2 == 0)
            mine[nm++] = &rows[i];
        else
            theirs[nt++] = &rows[i];
    }
    for (int i = 0; i < N; i++)
        want[i] = i < nm ? *mine[i] : *theirs[i - nm];
    int fd = memfd_create("pq", 0);
    struct kv_err err;
    struct pqw_opts o = {PQ_ZSTD, 100, 5, 1}; /* with write-back started per row group */
    struct pqw *w = pqw_open(fd, &o, &err);
    struct adder a = {w, mine, nm, 0, {0}}, b = {pqw_open_part(w), theirs, nt, 0, {0}};
    pthread_t t;
    ok(pthread_create(&t, NULL, add_rows, &b) == 0, "parts: second thread started");
    add_rows(&a);
    pthread_join(t, NULL);
    uint64_t bytes = 0;
    int rc = a.ok && b.ok && pqw_join(w, b.w, &err) == 0 && pqw_finish(w, &bytes, &err) == 0;
    ok(rc, "parts: joined and finished (%s)", rc ? "ok" : err.msg);
    ok(lseek(fd, 0, SEEK_END) == (off_t)bytes, "parts: the file is %llu bytes, no gap or tail",
       (unsigned long long)bytes);
    char *file = malloc(bytes);
    ok(pread(fd, file, bytes, 0) == (ssize_t)bytes, "parts: read back");
    struct got g = {want, 0, 0};
    struct pqr_info info;
    rc = pqr_read_mem(file, bytes, check_row, &g, &info, &err);
    ok(rc == 0 && g.n == N && g.bad == 0,
       "parts: %zu rows, first writer's then the part's, %zu differ (%s)", g.n, g.bad,
       rc ? err.msg : "ok");
    ok(info.row_groups == 7 && info.rows == N, "parts: 4 + 3 row groups (%u)", info.row_groups);
    free(file);
    close(fd);
    for (int i = 0; i < N; i++)
        free(rows[i].val);
    free(rows);
    free(want);
}

/* A read on several threads (pqr_opts.threads): state per lane, a flag per row. */
struct lanes {
    const struct row *want;
    uint8_t *seen; /* per row: set by the one lane that delivers it */
    uint32_t rows_per_group;
    int64_t last[PQR_MAX_THREADS]; /* each lane's last row, to check the order */
    size_t bad[PQR_MAX_THREADS];
    int fail_key; /* the callback fails at this row (-1: never) */
};

static int lane_row(void *ctx, const struct pqr_row *row, struct kv_err *err)
{
    struct lanes *l = ctx;
    int i = -1;
    if (row->lane >= PQR_MAX_THREADS || sscanf((const char *)row->key + 4, "%8d", &i) != 1 ||
        i < 0 || i >= 1000) {
        l->bad[0]++; /* lane 0 only checks this when it runs alone: the test fails anyway */
        return 0;
    }
    if (i == l->fail_key) return kv_err_set(err, KV_EINVAL, "stop at row %d", i);
    const struct row *w = &l->want[i];
    if (row->vlen != w->vlen || (w->vlen && memcmp(row->val, w->val, w->vlen) != 0) ||
        row->row_group != (uint32_t)i / l->rows_per_group || i <= l->last[row->lane] || l->seen[i])
        l->bad[row->lane]++;
    l->last[row->lane] = i;
    l->seen[i] = 1;
    return 0;
}

static int read_lanes(const char *file, size_t size, unsigned threads, int fail_key,
                      const struct row *rows, size_t *bad, struct kv_err *err)
{
    static uint8_t seen[1000];
    struct lanes l = {.want = rows, .seen = seen, .rows_per_group = 64, .fail_key = fail_key};
    memset(seen, 0, sizeof(seen));
    for (int k = 0; k < PQR_MAX_THREADS; k++)
        l.last[k] = -1;
    struct pqr_opts o = {.threads = threads};
    int rc = pqr_read_mem_opts(file, size, &o, lane_row, &l, NULL, err);
    *bad = 0;
    for (int k = 0; k < PQR_MAX_THREADS; k++)
        *bad += l.bad[k];
    for (int i = 0; rc == 0 && i < 1000; i++)
        *bad += !seen[i];
    return rc;
}

/* 16 row groups read on 3 threads: every row once, each row group's rows in order on one
 * lane; with corrupt or refused rows in two row groups, the error of the first, as on one. */
static void test_threaded_read(void)
{
    struct row *rows = calloc(1000, sizeof(*rows));
    for (int i = 0; i < 1000; i++) {
        make_row(&rows[i], i, 0);
        rows[i].key[3] = ':'; /* all keys parse as numbers */
    }
    struct pqw_opts o = {PQ_UNCOMPRESSED, 64, 1, 0};
    size_t size = 0, bad = 0;
    char *file = write_rows(rows, 1000, &o, &size);
    struct kv_err e1, e3;
    ok(file && read_lanes(file, size, 3, -1, rows, &bad, &e3) == 0 && bad == 0,
       "threaded read: every row once, in order per row group (%zu bad)", bad);
    ok(read_lanes(file, size, 3, 700, rows, &bad, &e3) != 0 && strstr(e3.msg, "stop at row 700"),
       "threaded read: a callback error stops it (%s)", e3.msg);
    for (int k = 0; file && k < 2; k++) { /* corrupt row 350 (group 5), then 900 (group 14) */
        char key[16];
        snprintf(key, sizeof(key), "key:%08d", k ? 350 : 900);
        char *at = memmem(file, size, key, strlen(key));
        if (at) at[5] ^= 1;
    }
    int r1 = file ? read_lanes(file, size, 1, -1, rows, &bad, &e1) : 0;
    int r3 = file ? read_lanes(file, size, 3, -1, rows, &bad, &e3) : 0;
    ok(r1 != 0 && r3 != 0 && strcmp(e1.msg, e3.msg) == 0 && strstr(e3.msg, "row group 5,"),
       "threaded read: the first corrupt row group's error (%s)", e3.msg);
    free(file);
    for (int i = 0; i < 1000; i++)
        free(rows[i].val);
    free(rows);
}

static void test_bad_codec(void)
{
    struct kv_err err;
    struct pqw_opts o = {PQ_BROTLI, 0, 1, 0};
    ok(pqw_open(-1, &o, &err) == NULL && strstr(err.msg, "BROTLI"),
       "an unwritable codec is refused by name (%s)", err.msg);
}

int main(void)
{
    static const int codecs[] = {PQ_UNCOMPRESSED, PQ_SNAPPY, PQ_ZSTD, PQ_GZIP, PQ_LZ4_RAW};
    for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
        char name[64];
        snprintf(name, sizeof(name), "codec %d", codecs[c]);
        struct pqw_opts o = {codecs[c], 0, 42 + c, 0};
        round_trip(name, 1000, 0, &o, 1);
    }
    struct pqw_opts zero = {PQ_ZSTD, 0, 7, 0};
    round_trip("zero rows", 0, 0, &zero, 0);
    struct pqw_opts groups = {PQ_SNAPPY, 300, 9, 0};
    round_trip("row groups of 300", 1000, 0, &groups, 4);
    struct pqw_opts pages = {PQ_ZSTD, 0, 11, 0};
    round_trip("pages over 1 MiB of values", 60, 1, &pages, 1);
    struct pqw_opts pages_groups = {PQ_UNCOMPRESSED, 16, 12, 0};
    round_trip("large values, small row groups", 60, 1, &pages_groups, 4);
    test_page_crcs();
    test_parts();
    test_threaded_read();
    test_bad_codec();
    return done();
}
