/*
 * pqread.c - reads Panda's key/value/expire columns out of a Parquet file (see pqread.h and
 * /work/shared/docs/parquet-facts.md for the format).
 *
 * Shape: the footer is parsed in place (no copy); the schema list is walked with a small stack
 * to find the target leaves; the row-group list is walked twice, once to validate every chunk's
 * metadata before any row reaches the callback and once to decode. Decoding streams: each
 * target column has a cursor over its chunk that loads one page at a time and hands out values
 * in batches of PQR_BATCH rows, so memory is one page per column (plus the dictionary), never
 * proportional to a row count the file declares. Slices handed to the callback point into the
 * mapping (uncompressed pages), a decompressed page buffer or the dictionary; buffers of pages
 * left behind in the middle of a batch are kept on a "retired" list until the batch's rows have
 * been delivered.
 */
#include "pqread.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "alloc.h"
#include "parquet.h"
#include "pqcodec.h"
#include "pqenc.h"
#include "thrift.h"

#define PQR_BATCH 1024 /* rows decoded per column before the callback runs */

/* ---- little helpers ---- */

static inline uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static inline const uint8_t *end_of(const uint8_t *p, size_t n)
{
    return n ? p + n : p; /* no arithmetic on a NULL pointer */
}

/* ULEB128 as used inside pages (RLE run headers, delta headers); at most 10 bytes. */
/* ---- reader state ---- */

enum { COL_KEY, COL_VAL, COL_EXP, NCOL };

/* A target column found in the schema. */
struct tgt {
    const char *name;
    int found;
    uint32_t leaf; /* index among the schema's leaves = index in RowGroup.columns */
    int type, type_len, max_def, max_rep;
};

/* What a row group says about one target column. */
struct chunk {
    int type, codec;
    int64_t num_values, data_off, dict_off, total;
    unsigned have; /* CM_* bits of the required fields seen */
    int file_path, encrypted;
};

enum { CM_TYPE = 1, CM_CODEC = 2, CM_NVALS = 4, CM_TOTAL = 8, CM_DATA = 16, CM_ALL = 31 };

struct rgmeta {
    int64_t num_rows;
    int have_rows;
    struct chunk c[NCOL];
};

struct rd {
    const uint8_t *base;
    size_t size;
    const uint8_t *meta, *meta_end;   /* FileMetaData */
    const uint8_t *schema_at, *rg_at; /* list headers inside it, NULL if absent */
    int64_t num_rows;
    int have_num_rows;
    uint32_t nleaves, nrg;
    struct tgt t[NCOL];
    int lenient;
    int pad_chunks; /* old parquet-mr understated chunk sizes (PARQUET-816) */
    pqr_row_fn fn;
    void *ctx;
    struct pqr_info *info;
    struct kv_err *err;
    unsigned lane;          /* the decoding thread this copy belongs to (pqr_row.lane) */
    _Atomic uint32_t *stop; /* the first row group that failed (nrg while none) */
};

static int fail(struct rd *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct rd *rd, const char *fmt, ...)
{
    char msg[KV_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return kv_err_set(rd->err, KV_EINVAL, "%s", msg);
}

static int thr_fail(struct rd *rd, const struct thr_r *r, const char *what)
{
    return fail(rd, "%s: malformed Thrift data near file offset %zu", what,
                thr_r_offset(r, rd->base));
}

static const char *type_name(int t)
{
    static const char *const names[] = {"BOOLEAN", "INT32",  "INT64",      "INT96",
                                        "FLOAT",   "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
    return t >= 0 && t < 8 ? names[t] : "unknown";
}

static const char *enc_name(int e)
{
    switch (e) {
    case PQ_ENC_PLAIN:
        return "PLAIN";
    case PQ_ENC_PLAIN_DICTIONARY:
        return "PLAIN_DICTIONARY";
    case PQ_ENC_RLE:
        return "RLE";
    case PQ_ENC_BIT_PACKED:
        return "BIT_PACKED";
    case PQ_ENC_DELTA_BINARY_PACKED:
        return "DELTA_BINARY_PACKED";
    case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
        return "DELTA_LENGTH_BYTE_ARRAY";
    case PQ_ENC_DELTA_BYTE_ARRAY:
        return "DELTA_BYTE_ARRAY";
    case PQ_ENC_RLE_DICTIONARY:
        return "RLE_DICTIONARY";
    case PQ_ENC_BYTE_STREAM_SPLIT:
        return "BYTE_STREAM_SPLIT";
    default:
        return "unknown";
    }
}

/* ---- footer: magic, FileMetaData, key-value metadata ---- */

static int parse_decimal(const uint8_t *p, uint32_t n, uint64_t *v)
{
    uint64_t x = 0;
    if (n == 0 || n > 20) return -1;
    for (uint32_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (x > (UINT64_MAX - d) / 10) return -1;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

static int kv_pair(struct rd *rd, const uint8_t *k, uint32_t kn, const uint8_t *v, uint32_t vn)
{
    uint64_t x;
    int is_ver = kn == strlen(PQ_META_VERSION) && memcmp(k, PQ_META_VERSION, kn) == 0;
    int is_lsn = kn == strlen(PQ_META_LSN) && memcmp(k, PQ_META_LSN, kn) == 0;
    if (!is_ver && !is_lsn) return 0;
    if (!v || parse_decimal(v, vn, &x) != 0 || (is_ver && x > INT32_MAX))
        return fail(rd, "metadata %s is not a decimal number",
                    is_ver ? PQ_META_VERSION : PQ_META_LSN);
    if (is_ver) {
        rd->info->panda = 1;
        rd->info->format_version = (int)x;
    } else {
        rd->info->lsn = x;
    }
    return 0;
}

static int parse_kv_list(struct rd *rd, struct thr_r *r)
{
    enum thr_type et, t;
    uint32_t n;
    int16_t id;
    if (thr_r_list(r, &et, &n) != 0 || et != THR_STRUCT)
        return thr_fail(rd, r, "key_value_metadata");
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *k = NULL, *v = NULL;
        uint32_t kn = 0, vn = 0;
        if (thr_r_struct_begin(r) != 0) return thr_fail(rd, r, "key_value_metadata");
        while (thr_r_field(r, &id, &t) == 0 && t != THR_STOP) {
            if (id == 1 && t == THR_BINARY)
                thr_r_binary(r, &k, &kn);
            else if (id == 2 && t == THR_BINARY)
                thr_r_binary(r, &v, &vn);
            else
                thr_r_skip(r, t);
        }
        if (r->failed || !k) return thr_fail(rd, r, "key_value_metadata");
        if (kv_pair(rd, k, kn, v, vn) != 0) return -1;
    }
    return 0;
}

static void set_created_by(struct rd *rd, const uint8_t *p, uint32_t n)
{
    size_t m = n < PQR_MAX_CREATED_BY - 1 ? n : PQR_MAX_CREATED_BY - 1;
    for (size_t i = 0; i < m; i++) /* keep it printable: it goes to logs and terminals */
        rd->info->created_by[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
    rd->info->created_by[m] = '\0';
}

/* parquet-mr before 1.2.9 (or without a version) wrote total_compressed_size too small by the
 * dictionary page header (PARQUET-816); Arrow then reads up to 100 more bytes, and so do we. */
#define PQR_PARQUET_816_PAD 100

static int needs_816_pad(const char *cb)
{
    static const char app[] = "parquet-mr";
    int v[3] = {0, 0, 0};
    if (strncmp(cb, app, sizeof(app) - 1) != 0) return 0;
    const char *p = strstr(cb, " version ");
    if (p) sscanf(p + 9, "%d.%d.%d", &v[0], &v[1], &v[2]);
    return v[0] < 1 || (v[0] == 1 && (v[1] < 2 || (v[1] == 2 && v[2] < 9)));
}

/* One field of FileMetaData. Lists the reader walks later are only remembered and skipped. */
static int meta_field(struct rd *rd, struct thr_r *r, int16_t id, enum thr_type t)
{
    const uint8_t *bp;
    uint32_t bn;
    switch (id) {
    case 2:
    case 4:
        if (t != THR_LIST) break;
        if (id == 2)
            rd->schema_at = r->p;
        else
            rd->rg_at = r->p;
        return thr_r_skip(r, t);
    case 3:
        rd->have_num_rows = 1;
        return thr_r_int(r, t, &rd->num_rows);
    case 5:
        if (t != THR_LIST) break;
        return parse_kv_list(rd, r);
    case 6:
        if (t != THR_BINARY || thr_r_binary(r, &bp, &bn) != 0) break;
        set_created_by(rd, bp, bn);
        return 0;
    case 8:
        return fail(rd, "encrypted Parquet files are not supported (FileMetaData has "
                        "encryption_algorithm)");
    default:
        return thr_r_skip(r, t);
    }
    return thr_fail(rd, r, "FileMetaData");
}

static int parse_file_meta(struct rd *rd)
{
    struct thr_r r;
    int16_t id;
    enum thr_type t;
    thr_r_init(&r, rd->meta, (size_t)(rd->meta_end - rd->meta));
    if (thr_r_struct_begin(&r) != 0) return thr_fail(rd, &r, "FileMetaData");
    for (;;) {
        if (thr_r_field(&r, &id, &t) != 0) return thr_fail(rd, &r, "FileMetaData");
        if (t == THR_STOP) break;
        if (meta_field(rd, &r, id, t) != 0) {
            if (r.failed) return thr_fail(rd, &r, "FileMetaData");
            return -1;
        }
    }
    if (!rd->schema_at) return fail(rd, "FileMetaData lacks the schema");
    if (!rd->have_num_rows || rd->num_rows < 0)
        return fail(rd, "FileMetaData lacks num_rows or it is negative");
    if (!rd->rg_at) return fail(rd, "FileMetaData lacks row_groups");
    rd->pad_chunks = needs_816_pad(rd->info->created_by);
    return 0;
}

static int read_footer(struct rd *rd)
{
    const uint8_t *b = rd->base;
    size_t n = rd->size;
    if (n < 12) return fail(rd, "file too small to be Parquet (%zu bytes)", n);
    if (memcmp(b + n - 4, "PARE", 4) == 0)
        return fail(rd, "encrypted Parquet file (PARE footer) is not supported");
    if (memcmp(b + n - 4, PQ_MAGIC, 4) != 0)
        return fail(rd, "no Parquet magic PAR1 at the end of the file (truncated or not Parquet)");
    if (memcmp(b, PQ_MAGIC, 4) != 0)
        return fail(rd, "no Parquet magic PAR1 at the start of the file");
    uint32_t len = le32(b + n - 8);
    if (len > PQR_MAX_FOOTER_BYTES)
        return kv_err_set(rd->err, KV_ELIMIT, "footer of %u bytes exceeds the limit of %u", len,
                          PQR_MAX_FOOTER_BYTES);
    if (len == 0 || len > n - 12)
        return fail(rd, "footer length %u does not fit in a file of %zu bytes", len, n);
    rd->meta = b + n - 8 - len;
    rd->meta_end = b + n - 8;
    return parse_file_meta(rd);
}

/* ---- schema ---- */

struct selem {
    int has_type, type, type_len, rep, nchild;
    const uint8_t *name;
    uint32_t name_len;
};

static int parse_selem(struct thr_r *r, struct selem *e)
{
    int16_t id;
    enum thr_type t;
    int64_t v;
    memset(e, 0, sizeof(*e));
    if (thr_r_struct_begin(r) != 0) return -1;
    while (thr_r_field(r, &id, &t) == 0 && t != THR_STOP) {
        if (id == 4 && t == THR_BINARY) {
            thr_r_binary(r, &e->name, &e->name_len);
        } else if (id == 1 || id == 2 || id == 3 || id == 5) {
            if (thr_r_int(r, t, &v) != 0 || v < INT32_MIN || v > INT32_MAX) return -1;
            if (id == 1)
                e->has_type = 1, e->type = (int)v;
            else if (id == 2)
                e->type_len = (int)v;
            else if (id == 3)
                e->rep = (int)v;
            else
                e->nchild = (int)v;
        } else {
            thr_r_skip(r, t);
        }
    }
    return r->failed || !e->name ? -1 : 0;
}

/* A top-level leaf: is it one of the columns we read? */
static int match_leaf(struct rd *rd, const struct selem *e, uint32_t leaf, int def, int rep)
{
    for (int i = 0; i < NCOL; i++) {
        struct tgt *g = &rd->t[i];
        if (!g->name || strlen(g->name) != e->name_len || memcmp(g->name, e->name, e->name_len))
            continue;
        if (g->found) return fail(rd, "schema has two top-level columns named %s", g->name);
        g->found = 1;
        g->leaf = leaf;
        g->type = e->type;
        g->type_len = e->type_len;
        g->max_def = def;
        g->max_rep = rep;
    }
    return 0;
}

struct slevel {
    int64_t left;
    int def, rep;
};

/* Walks the depth-first schema list with a stack of open groups. */
static int walk_schema(struct rd *rd, struct thr_r *r, uint32_t n)
{
    struct slevel st[PQR_MAX_SCHEMA_DEPTH];
    struct selem e;
    int depth = 0;
    if (parse_selem(r, &e) != 0) return thr_fail(rd, r, "schema");
    if (e.has_type || e.nchild < 0) return fail(rd, "schema root is not a group");
    st[depth++] = (struct slevel){e.nchild, 0, 0};
    for (uint32_t i = 1; i < n; i++) {
        while (depth > 0 && st[depth - 1].left == 0)
            depth--;
        if (depth == 0) return fail(rd, "schema has %u elements but its tree ends at %u", n, i);
        if (parse_selem(r, &e) != 0) return thr_fail(rd, r, "schema");
        struct slevel *up = &st[depth - 1];
        up->left--;
        int def = up->def + (e.rep != PQ_REQUIRED), rep = up->rep + (e.rep == PQ_REPEATED);
        if (e.has_type) {
            if (depth == 1 && match_leaf(rd, &e, rd->nleaves, def, rep) != 0) return -1;
            rd->nleaves++;
        } else if (e.nchild < 0) {
            return fail(rd, "schema element %u has a negative child count", i);
        } else if (e.nchild > 0) {
            if (depth == PQR_MAX_SCHEMA_DEPTH)
                return fail(rd, "schema nests deeper than %d levels", PQR_MAX_SCHEMA_DEPTH);
            st[depth++] = (struct slevel){e.nchild, def, rep};
        }
    }
    while (depth > 0 && st[depth - 1].left == 0)
        depth--;
    if (depth > 0) return fail(rd, "schema list ends before its tree is complete");
    return 0;
}

static int check_target(struct rd *rd, const struct tgt *g, int role)
{
    if (!g->found) {
        if (role == COL_EXP) return 0;
        return fail(rd, "the file has no top-level column named \"%s\"", g->name);
    }
    if (g->max_rep > 0) return fail(rd, "column %s is repeated; want a flat column", g->name);
    int ok = role == COL_EXP ? g->type == PQ_INT64 || (rd->lenient && g->type == PQ_INT32)
                             : g->type == PQ_BYTE_ARRAY || g->type == PQ_FIXED_LEN_BYTE_ARRAY;
    if (!ok)
        return fail(rd, "column %s has type %s, want %s", g->name, type_name(g->type),
                    role == COL_EXP ? "INT64" : "BYTE_ARRAY");
    if (g->type == PQ_FIXED_LEN_BYTE_ARRAY && g->type_len <= 0)
        return fail(rd, "column %s: FIXED_LEN_BYTE_ARRAY with length %d", g->name, g->type_len);
    return 0;
}

static int read_schema(struct rd *rd)
{
    struct thr_r r;
    enum thr_type et;
    uint32_t n;
    thr_r_init(&r, rd->schema_at, (size_t)(rd->meta_end - rd->schema_at));
    if (thr_r_list(&r, &et, &n) != 0 || et != THR_STRUCT) return thr_fail(rd, &r, "schema");
    if (n == 0) return fail(rd, "schema is empty");
    if (walk_schema(rd, &r, n) != 0) return -1;
    for (int i = 0; i < NCOL; i++)
        if (rd->t[i].name && check_target(rd, &rd->t[i], i) != 0) return -1;
    return 0;
}

/* ---- row-group metadata ---- */

static int parse_colmeta(struct thr_r *r, struct chunk *c)
{
    int16_t id;
    enum thr_type t;
    int64_t v;
    static const unsigned bit[12] = {0, CM_TYPE, 0, 0, CM_CODEC, CM_NVALS, 0, CM_TOTAL, 0, CM_DATA};
    if (thr_r_struct_begin(r) != 0) return -1;
    while (thr_r_field(r, &id, &t) == 0 && t != THR_STOP) {
        if (id != 1 && id != 4 && id != 5 && id != 7 && id != 9 && id != 11) {
            thr_r_skip(r, t);
            continue;
        }
        if (thr_r_int(r, t, &v) != 0) return -1;
        if (id == 1) c->type = v < 0 || v > 7 ? -1 : (int)v;
        if (id == 4) c->codec = v < 0 || v > 255 ? 255 : (int)v;
        if (id == 5) c->num_values = v;
        if (id == 7) c->total = v;
        if (id == 9) c->data_off = v;
        if (id == 11) c->dict_off = v;
        if (id < 12) c->have |= bit[id];
    }
    return r->failed ? -1 : 0;
}

static int parse_colchunk(struct thr_r *r, struct chunk *c)
{
    int16_t id;
    enum thr_type t;
    const uint8_t *bp;
    uint32_t bn;
    memset(c, 0, sizeof(*c));
    if (thr_r_struct_begin(r) != 0) return -1;
    while (thr_r_field(r, &id, &t) == 0 && t != THR_STOP) {
        if (id == 1 && t == THR_BINARY) {
            if (thr_r_binary(r, &bp, &bn) == 0 && bn > 0) c->file_path = 1;
        } else if (id == 3 && t == THR_STRUCT) {
            if (parse_colmeta(r, c) != 0) return -1;
        } else {
            if (id == 8 || id == 9) c->encrypted = 1;
            thr_r_skip(r, t);
        }
    }
    return r->failed ? -1 : 0;
}

/* RowGroup.columns: parses the chunks of the target leaves, skips the others. */
static int parse_columns(struct rd *rd, struct thr_r *r, uint32_t g, struct rgmeta *m)
{
    enum thr_type et;
    uint32_t n;
    if (thr_r_list(r, &et, &n) != 0 || et != THR_STRUCT) return thr_fail(rd, r, "RowGroup");
    if (n != rd->nleaves)
        return fail(rd, "row group %u has %u column chunks, the schema %u leaves", g, n,
                    rd->nleaves);
    for (uint32_t i = 0; i < n; i++) {
        int want = -1;
        for (int k = 0; k < NCOL; k++)
            if (rd->t[k].found && rd->t[k].leaf == i) want = k;
        if (want < 0) {
            if (thr_r_skip(r, THR_STRUCT) != 0) return thr_fail(rd, r, "ColumnChunk");
            continue;
        }
        if (parse_colchunk(r, &m->c[want]) != 0) return thr_fail(rd, r, "ColumnChunk");
        for (int k = 0; k < NCOL; k++) /* key and value may be one column (lenient tools) */
            if (k != want && rd->t[k].found && rd->t[k].leaf == i) m->c[k] = m->c[want];
    }
    return 0;
}

static int parse_rowgroup(struct rd *rd, struct thr_r *r, uint32_t g, struct rgmeta *m)
{
    int16_t id;
    enum thr_type t;
    int have_cols = 0;
    memset(m, 0, sizeof(*m));
    if (thr_r_struct_begin(r) != 0) return thr_fail(rd, r, "RowGroup");
    for (;;) {
        if (thr_r_field(r, &id, &t) != 0) return thr_fail(rd, r, "RowGroup");
        if (t == THR_STOP) break;
        if (id == 1 && t == THR_LIST) {
            if (parse_columns(rd, r, g, m) != 0) return -1;
            have_cols = 1;
        } else if (id == 3) {
            if (thr_r_int(r, t, &m->num_rows) != 0) return thr_fail(rd, r, "RowGroup");
            m->have_rows = 1;
        } else if (thr_r_skip(r, t) != 0) {
            return thr_fail(rd, r, "RowGroup");
        }
    }
    if (!have_cols || !m->have_rows || m->num_rows < 0)
        return fail(rd, "row group %u lacks columns or num_rows", g);
    return 0;
}

/* Start offset of a chunk's first page; 0 when it has no usable offset. */
static int64_t chunk_start(const struct chunk *c)
{
    int64_t s = c->data_off >= 4 ? c->data_off : 0;
    if (c->dict_off >= 4 && (s == 0 || c->dict_off < s)) s = c->dict_off;
    return s;
}

static int check_chunk(struct rd *rd, uint32_t g, const struct rgmeta *m, int k)
{
    const struct chunk *c = &m->c[k];
    const char *nm = rd->t[k].name;
    if (c->file_path) return fail(rd, "row group %u, column %s: data in another file", g, nm);
    if (c->encrypted) return fail(rd, "row group %u, column %s: encrypted column", g, nm);
    if ((c->have & CM_ALL) != CM_ALL)
        return fail(rd, "row group %u, column %s: column metadata incomplete", g, nm);
    if (c->type != rd->t[k].type)
        return fail(rd, "row group %u, column %s: chunk type %s differs from the schema's %s", g,
                    nm, type_name(c->type), type_name(rd->t[k].type));
    if (!pqc_supported(c->codec))
        return fail(rd, "row group %u, column %s: unsupported compression codec %s (id %d)", g, nm,
                    pqc_name(c->codec), c->codec);
    if (c->num_values != m->num_rows)
        return fail(rd, "row group %u, column %s: %lld values but the row group has %lld rows", g,
                    nm, (long long)c->num_values, (long long)m->num_rows);
    if (c->data_off < 0 || c->dict_off < 0 || c->total < 0)
        return fail(rd, "row group %u, column %s: negative offset or size in the column metadata",
                    g, nm);
    if (c->num_values == 0) return 0;
    int64_t s = chunk_start(c), end_ok = (int64_t)(rd->meta - rd->base);
    if (s == 0 || c->total <= 0 || c->total > end_ok || s > end_ok - c->total)
        return fail(rd,
                    "row group %u, column %s: chunk at offset %lld size %lld lies outside "
                    "the data area (4..%lld)",
                    g, nm, (long long)s, (long long)c->total, (long long)end_ok);
    return 0;
}

typedef int (*rg_visit_fn)(struct rd *rd, uint32_t g, const struct rgmeta *m);

/* Calls visit for every row group, in order. */
static int for_each_rowgroup(struct rd *rd, rg_visit_fn visit)
{
    struct thr_r r;
    enum thr_type et;
    uint32_t n;
    struct rgmeta m;
    thr_r_init(&r, rd->rg_at, (size_t)(rd->meta_end - rd->rg_at));
    if (thr_r_list(&r, &et, &n) != 0 || (n > 0 && et != THR_STRUCT))
        return thr_fail(rd, &r, "row_groups");
    rd->nrg = n;
    for (uint32_t g = 0; g < n; g++) {
        if (parse_rowgroup(rd, &r, g, &m) != 0 || visit(rd, g, &m) != 0) return -1;
    }
    return 0;
}

static int validate_rg(struct rd *rd, uint32_t g, const struct rgmeta *m)
{
    for (int k = 0; k < NCOL; k++)
        if (rd->t[k].found && check_chunk(rd, g, m, k) != 0) return -1;
    if (g == 0) rd->info->codec = m->c[COL_KEY].codec;
    if ((uint64_t)m->num_rows > UINT64_MAX - rd->info->rows) return fail(rd, "row counts overflow");
    rd->info->rows += (uint64_t)m->num_rows;
    return 0;
}

/* ---- column cursor: pages ---- */

struct slice {
    const uint8_t *p;
    uint32_t n;
};

struct col {
    struct rd *rd;
    const char *name;
    uint32_t g;
    int type, type_len, max_def, codec, enc;
    const uint8_t *cp, *cend; /* chunk bytes not yet read */
    int64_t values_left;      /* chunk values not yet in a loaded page */
    int seen_data;
    /* dictionary, alive for the whole chunk */
    uint8_t *dict_buf;
    struct slice *dict_s;
    int64_t *dict_i;
    uint32_t dict_n;
    int has_dict;
    /* current page */
    uint8_t *page_buf;  /* owned decompressed body, NULL when it is read in place */
    uint32_t page_left; /* values (nulls included) not yet handed out */
    size_t page_off;    /* file offset of its header, for messages */
    struct pqe_rle defs;
    const uint8_t *vp, *vend; /* values section (PLAIN) or the bytes of the delta encodings */
    int vinit;                /* lazily set up: dictionary bit width, delta headers */
    struct pqe_rle idx;
    struct pqe_dbp d1, d2;
    struct buf prev; /* DELTA_BYTE_ARRAY: the previous value */
    uint8_t *arena;  /* DELTA_BYTE_ARRAY: rebuilt values of this batch */
    size_t arena_len, arena_cap, arena_total;
    /* buffers to free once the batch's rows are delivered */
    uint8_t **retired;
    size_t nretired, cap_retired;
    /* the batch */
    struct slice s[PQR_BATCH];
    int64_t iv[PQR_BATCH], tmp[PQR_BATCH];
    uint32_t lv[PQR_BATCH], ix[PQR_BATCH];
    uint8_t isnull[PQR_BATCH];
};

static int col_fail(struct col *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int col_fail(struct col *c, const char *fmt, ...)
{
    char msg[KV_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return fail(c->rd, "row group %u, column %s: %s", c->g, c->name, msg);
}

static void retire(struct col *c, uint8_t *p)
{
    if (!p) return;
    if (c->nretired == c->cap_retired) {
        c->cap_retired = c->cap_retired ? c->cap_retired * 2 : 8;
        c->retired = kv_realloc(c->retired, c->cap_retired * sizeof(*c->retired));
    }
    c->retired[c->nretired++] = p;
}

static void free_retired(struct col *c)
{
    for (size_t i = 0; i < c->nretired; i++)
        kv_free(c->retired[i]);
    c->nretired = 0;
    c->arena = NULL;
    c->arena_len = c->arena_cap = c->arena_total = 0;
}

struct page_hdr {
    int type, enc, def_enc, is_compressed, has_crc;
    int32_t usize, csize, nvals, def_len, rep_len;
    uint32_t crc;
    int have_sub; /* the sub-header that matches type was present */
};

/* DataPageHeader, DataPageHeaderV2 or DictionaryPageHeader (the fields Panda uses). */
static int parse_sub_hdr(struct thr_r *r, int which, struct page_hdr *h)
{
    int16_t id;
    enum thr_type t;
    int64_t v;
    if (thr_r_struct_begin(r) != 0) return -1;
    while (thr_r_field(r, &id, &t) == 0 && t != THR_STOP) {
        int enc_id = which == PQ_DATA_PAGE_V2 ? 4 : 2;
        int is_int = id == 1 || id == enc_id || (which == PQ_DATA_PAGE && id == 3) ||
                     (which == PQ_DATA_PAGE_V2 && (id == 5 || id == 6));
        if (which == PQ_DATA_PAGE_V2 && id == 7 && (t == THR_TRUE || t == THR_FALSE)) {
            thr_r_bool(r, t, &h->is_compressed);
            continue;
        }
        if (!is_int) {
            thr_r_skip(r, t);
            continue;
        }
        if (thr_r_int(r, t, &v) != 0 || v < INT32_MIN || v > INT32_MAX) return -1;
        if (id == 1)
            h->nvals = (int32_t)v;
        else if (id == enc_id)
            h->enc = (int)v;
        else if (id == 3)
            h->def_enc = (int)v;
        else if (id == 5)
            h->def_len = (int32_t)v;
        else
            h->rep_len = (int32_t)v;
    }
    return r->failed ? -1 : 0;
}

static int parse_page_hdr(struct thr_r *r, struct page_hdr *h)
{
    int16_t id;
    enum thr_type t;
    int64_t v;
    unsigned have = 0;
    memset(h, 0, sizeof(*h));
    h->is_compressed = 1;
    h->type = -1;
    if (thr_r_struct_begin(r) != 0) return -1;
    while (thr_r_field(r, &id, &t) == 0 && t != THR_STOP) {
        if (id >= 1 && id <= 4) {
            if (thr_r_int(r, t, &v) != 0 || v < INT32_MIN || v > INT32_MAX) return -1;
            if (id == 1) h->type = (int)v;
            if (id == 2) h->usize = (int32_t)v;
            if (id == 3) h->csize = (int32_t)v;
            if (id == 4) h->crc = (uint32_t)v, h->has_crc = 1;
            have |= 1u << id;
        } else if ((id == 5 || id == 7 || id == 8) && t == THR_STRUCT) {
            int which = id == 5 ? PQ_DATA_PAGE : id == 7 ? PQ_DICTIONARY_PAGE : PQ_DATA_PAGE_V2;
            if (which == h->type || h->type < 0) {
                if (parse_sub_hdr(r, which, h) != 0) return -1;
                h->have_sub = which == h->type ? 1 : which + 16; /* type may come later */
            } else {
                thr_r_skip(r, t);
            }
        } else {
            thr_r_skip(r, t);
        }
    }
    if (h->have_sub >= 16) h->have_sub = h->have_sub - 16 == h->type;
    return r->failed || (have & 14) != 14 ? -1 : 0;
}

/* Reads the next page header; on return [*body, *body + h->csize) is inside the chunk and its
 * CRC (if any) is verified. */
static int next_page(struct col *c, struct page_hdr *h, const uint8_t **body)
{
    struct rd *rd = c->rd;
    struct thr_r r;
    size_t off = (size_t)(c->cp - rd->base);
    if (c->cp >= c->cend)
        return col_fail(c, "column chunk ends with %lld values still missing",
                        (long long)c->values_left);
    thr_r_init(&r, c->cp, (size_t)(c->cend - c->cp));
    if (parse_page_hdr(&r, h) != 0)
        return col_fail(c, "page header at offset %zu is malformed or incomplete", off);
    const uint8_t *b = r.p;
    if (h->csize < 0 || h->usize < 0 || (uint32_t)h->usize > PQR_MAX_PAGE_BYTES ||
        (uint32_t)h->csize > PQR_MAX_PAGE_BYTES)
        return col_fail(c, "page header at offset %zu: bad page sizes %d/%d", off, h->usize,
                        h->csize);
    if ((size_t)h->csize > (size_t)(c->cend - b))
        return col_fail(c,
                        "page header at offset %zu: compressed size %d runs past the column "
                        "chunk",
                        off, h->csize);
    if (h->has_crc && (uint32_t)crc32(0, b, (uInt)h->csize) != h->crc)
        return col_fail(c, "page at offset %zu: CRC mismatch (stored %08x, computed %08lx)", off,
                        h->crc, crc32(0, b, (uInt)h->csize));
    c->cp = b + h->csize;
    *body = b;
    return 0;
}

/* Decompresses [in, in + in_len) into a new buffer of out_len bytes (or points at the input
 * when the chunk is uncompressed). *owned gets the buffer to free. */
static int inflate_body(struct col *c, const uint8_t *in, size_t in_len, size_t out_len,
                        int compressed, const uint8_t **out, uint8_t **owned, size_t off)
{
    *owned = NULL;
    if (!compressed || c->codec == PQ_UNCOMPRESSED) {
        if (in_len != out_len)
            return col_fail(c, "page at offset %zu: uncompressed page with sizes %zu/%zu", off,
                            in_len, out_len);
        *out = in;
        return 0;
    }
    if (in_len == 0) /* no decompressor accepts empty input */
        return out_len == 0 ? (*out = in, 0)
                            : col_fail(c, "page at offset %zu: empty compressed data", off);
    uint8_t *buf = kv_malloc(out_len ? out_len : 1);
    struct kv_err e;
    if (pqc_decompress(c->codec, in, in_len, buf, out_len, &e) != 0) {
        kv_free(buf);
        return col_fail(c, "page at offset %zu: %s", off, e.msg);
    }
    *out = buf;
    *owned = buf;
    return 0;
}

static size_t plain_width(int type, int type_len)
{
    switch (type) {
    case PQ_INT64:
        return 8;
    case PQ_INT32:
        return 4;
    case PQ_FIXED_LEN_BYTE_ARRAY:
        return (size_t)type_len;
    default:
        return 0; /* BYTE_ARRAY: length-prefixed */
    }
}

/* Splits a PLAIN dictionary body into entries; their count is bounded by the bytes. */
static int dict_entries(struct col *c, const uint8_t *p, size_t len, int32_t n, size_t off)
{
    size_t w = plain_width(c->type, c->type_len), min = w ? w : 4;
    const uint8_t *e = end_of(p, len);
    if (n < 0 || (size_t)n > len / min)
        return col_fail(c, "dictionary page at offset %zu: %d entries do not fit in %zu bytes", off,
                        n, len);
    c->dict_n = (uint32_t)n;
    if (c->type == PQ_INT64 || c->type == PQ_INT32) {
        c->dict_i = kv_malloc((size_t)n * sizeof(int64_t) + 1);
        for (int32_t i = 0; i < n; i++)
            c->dict_i[i] =
                w == 8 ? (int64_t)le64(p + 8 * (size_t)i) : (int32_t)le32(p + 4 * (size_t)i);
        return 0;
    }
    c->dict_s = kv_malloc((size_t)n * sizeof(*c->dict_s) + 1);
    for (int32_t i = 0; i < n; i++) {
        uint32_t l = (uint32_t)w;
        if (!w) {
            if (e - p < 4 || (l = le32(p), p += 4, l > (size_t)(e - p)))
                return col_fail(c, "dictionary page at offset %zu: entry %d runs past the page",
                                off, i);
        }
        c->dict_s[i] = (struct slice){p, l};
        p += l;
    }
    return 0;
}

static int load_dict(struct col *c, const struct page_hdr *h, const uint8_t *body, size_t off)
{
    const uint8_t *d;
    if (c->has_dict || c->seen_data)
        return col_fail(c, "unexpected dictionary page at offset %zu", off);
    if (!h->have_sub) return col_fail(c, "dictionary page at offset %zu lacks its header", off);
    if (h->enc != PQ_ENC_PLAIN && h->enc != PQ_ENC_PLAIN_DICTIONARY)
        return col_fail(c, "dictionary page at offset %zu: unsupported encoding %s", off,
                        enc_name(h->enc));
    if (inflate_body(c, body, (size_t)h->csize, (size_t)h->usize, 1, &d, &c->dict_buf, off) != 0)
        return -1;
    c->has_dict = 1;
    return dict_entries(c, d, (size_t)h->usize, h->nvals, off);
}

static int bit_width(int v)
{
    int w = 0;
    while (v >> w)
        w++;
    return w;
}

/* v1 body: [definition levels with a 4-byte length prefix][values] (no repetition levels:
 * target columns are never repeated). */
static int setup_v1(struct col *c, const struct page_hdr *h, const uint8_t *p, size_t len)
{
    if (c->max_def > 0) {
        size_t dl;
        if (h->def_enc != PQ_ENC_RLE)
            return col_fail(c, "page at offset %zu: unsupported definition level encoding %s",
                            c->page_off, enc_name(h->def_enc));
        if (len < 4 || (dl = le32(p)) > len - 4)
            return col_fail(c, "page at offset %zu: definition levels run past the page",
                            c->page_off);
        pqe_rle_init(&c->defs, p + 4, dl, (uint32_t)bit_width(c->max_def));
        p += 4 + dl;
        len -= 4 + dl;
    }
    c->vp = p;
    c->vend = end_of(p, len);
    return 0;
}

static int check_encoding(struct col *c, int enc, size_t off)
{
    int bytes = c->type == PQ_BYTE_ARRAY || c->type == PQ_FIXED_LEN_BYTE_ARRAY;
    switch (enc) {
    case PQ_ENC_PLAIN:
        return 0;
    case PQ_ENC_PLAIN_DICTIONARY:
    case PQ_ENC_RLE_DICTIONARY:
        if (c->has_dict) return 0;
        return col_fail(c,
                        "page at offset %zu is dictionary-encoded but the chunk has no "
                        "dictionary page",
                        off);
    case PQ_ENC_DELTA_BINARY_PACKED:
        if (!bytes) return 0;
        break;
    case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
        if (c->type == PQ_BYTE_ARRAY) return 0;
        break;
    case PQ_ENC_DELTA_BYTE_ARRAY:
        if (bytes) return 0;
        break;
    default:
        break;
    }
    return col_fail(c, "unsupported encoding %s (%d) for type %s", enc_name(enc), enc,
                    type_name(c->type));
}

/* v1: the whole body is compressed. v2: the levels are stored raw (and read in place), the
 * values follow, compressed when is_compressed. */
static int load_data_page(struct col *c, const struct page_hdr *h, const uint8_t *body)
{
    const uint8_t *d;
    size_t lv = 0, off = c->page_off;
    int v2 = h->type == PQ_DATA_PAGE_V2;
    if (!h->have_sub) return col_fail(c, "data page at offset %zu lacks its header", off);
    if (h->nvals < 0 || h->nvals > c->values_left)
        return col_fail(c, "page at offset %zu: %d values, but %lld remain in the chunk", off,
                        h->nvals, (long long)c->values_left);
    if (check_encoding(c, h->enc, off) != 0) return -1;
    if (v2) {
        if (h->def_len < 0 || h->rep_len < 0 ||
            (int64_t)h->def_len + h->rep_len > (h->csize < h->usize ? h->csize : h->usize))
            return col_fail(c, "page at offset %zu: level sizes run past the page", off);
        lv = (size_t)h->def_len + (size_t)h->rep_len;
    }
    uint8_t *own = NULL;
    if (inflate_body(c, body + lv, (size_t)h->csize - lv, (size_t)h->usize - lv,
                     v2 ? h->is_compressed : 1, &d, &own, off) != 0)
        return -1;
    retire(c, c->page_buf);
    c->page_buf = own;
    c->enc = h->enc;
    c->vinit = 0;
    c->values_left -= h->nvals;
    c->page_left = (uint32_t)h->nvals;
    c->seen_data = 1;
    if (!v2) return setup_v1(c, h, d, (size_t)h->usize);
    if (c->max_def > 0)
        pqe_rle_init(&c->defs, body + h->rep_len, (size_t)h->def_len,
                     (uint32_t)bit_width(c->max_def));
    c->vp = d;
    c->vend = end_of(d, (size_t)h->usize - lv);
    return 0;
}

/* Loads pages until one with values is current. */
static int col_next_page(struct col *c)
{
    struct page_hdr h;
    const uint8_t *body = NULL;
    while (c->page_left == 0) {
        size_t off = (size_t)(c->cp - c->rd->base);
        if (next_page(c, &h, &body) != 0) return -1;
        if (h.type == PQ_DICTIONARY_PAGE) {
            if (load_dict(c, &h, body, off) != 0) return -1;
        } else if (h.type == PQ_DATA_PAGE || h.type == PQ_DATA_PAGE_V2) {
            c->page_off = off;
            if (load_data_page(c, &h, body) != 0) return -1;
        } else if (h.type != PQ_INDEX_PAGE) {
            return col_fail(c, "page at offset %zu has unknown type %d", off, h.type);
        }
    }
    return 0;
}

/* ---- column cursor: values ---- */

static int bad_values(struct col *c, const char *what)
{
    return col_fail(c, "page at offset %zu (%s): %s", c->page_off, enc_name(c->enc), what);
}

static int vals_plain(struct col *c, uint32_t at, uint32_t m)
{
    const uint8_t *p = c->vp, *e = c->vend;
    size_t w = plain_width(c->type, c->type_len);
    if (c->type == PQ_BYTE_ARRAY) {
        struct slice *s = c->s + at;
        for (uint32_t i = 0; i < m; i++) {
            if (e - p < 4) return bad_values(c, "values run past the end of the page");
            uint32_t l = le32(p);
            p += 4;
            if (l > (size_t)(e - p)) return bad_values(c, "values run past the end of the page");
            s[i].p = p;
            s[i].n = l;
            p += l;
        }
    } else {
        if ((size_t)(e - p) / w < m) return bad_values(c, "values run past the end of the page");
        for (uint32_t i = 0; i < m; i++, p += w) {
            if (c->type == PQ_INT64)
                c->iv[at + i] = (int64_t)le64(p);
            else if (c->type == PQ_INT32)
                c->iv[at + i] = (int32_t)le32(p);
            else
                c->s[at + i] = (struct slice){p, (uint32_t)w};
        }
    }
    c->vp = p;
    return 0;
}

static int vals_dict(struct col *c, uint32_t at, uint32_t m)
{
    if (!c->vinit) {
        if (c->vp >= c->vend) return bad_values(c, "the bit width of the indices is missing");
        if (*c->vp > 32) return bad_values(c, "index bit width above 32");
        pqe_rle_init(&c->idx, c->vp + 1, (size_t)(c->vend - c->vp - 1), *c->vp);
        c->vinit = 1;
    }
    if (pqe_rle_get(&c->idx, c->ix, m) != 0) return bad_values(c, "indices truncated or malformed");
    int ints = c->type == PQ_INT64 || c->type == PQ_INT32;
    for (uint32_t i = 0; i < m; i++) {
        uint32_t x = c->ix[i];
        if (x >= c->dict_n)
            return col_fail(c, "page at offset %zu: dictionary index %u out of range (%u entries)",
                            c->page_off, x, c->dict_n);
        if (ints)
            c->iv[at + i] = c->dict_i[x];
        else
            c->s[at + i] = c->dict_s[x];
    }
    return 0;
}

static int vals_dbp(struct col *c, uint32_t at, uint32_t m)
{
    if (!c->vinit) {
        if (pqe_dbp_init(&c->d1, c->vp, (size_t)(c->vend - c->vp)) != 0)
            return bad_values(c, "bad header");
        c->vinit = 1;
    }
    if (pqe_dbp_get(&c->d1, c->iv + at, m) != 0)
        return bad_values(c, "values truncated or malformed");
    if (c->type == PQ_INT32) /* the deltas of INT32 columns wrap at 32 bits */
        for (uint32_t i = 0; i < m; i++)
            c->iv[at + i] = (int32_t)(uint32_t)c->iv[at + i];
    return 0;
}

/* Starts a delta-lengths stream at *pp and moves *pp past it (to the bytes that follow). */
static int delta_lengths(struct col *c, struct pqe_dbp *d, const uint8_t **pp)
{
    if (pqe_dbp_init(d, *pp, (size_t)(c->vend - *pp)) != 0 || pqe_dbp_stream_end(d, pp) != 0)
        return bad_values(c, "bad length header");
    return 0;
}

static int vals_dlba(struct col *c, uint32_t at, uint32_t m)
{
    if (!c->vinit) {
        if (delta_lengths(c, &c->d1, &c->vp) != 0) return -1;
        c->vinit = 1;
    }
    if (pqe_dbp_get(&c->d1, c->tmp, m) != 0) return bad_values(c, "lengths truncated or malformed");
    const uint8_t *p = c->vp;
    for (uint32_t i = 0; i < m; i++) {
        int64_t l = c->tmp[i];
        if (l < 0 || l > c->vend - p) return bad_values(c, "values run past the end of the page");
        c->s[at + i] = (struct slice){p, (uint32_t)l};
        p += l;
    }
    c->vp = p;
    return 0;
}

/* Room for n bytes of rebuilt values, valid until the batch's rows are delivered. */
static uint8_t *arena_alloc(struct col *c, size_t n)
{
    static uint8_t empty;
    if (n == 0) return &empty;
    if (n > PQR_MAX_BATCH_BYTES - c->arena_total) return NULL;
    c->arena_total += n;
    if (c->arena_cap - c->arena_len < n) {
        size_t cap = n > 65536 ? n : 65536;
        c->arena = kv_malloc(cap);
        retire(c, c->arena);
        c->arena_len = 0;
        c->arena_cap = cap;
    }
    uint8_t *p = c->arena + c->arena_len;
    c->arena_len += n;
    return p;
}

/* DELTA_BYTE_ARRAY: prefix lengths, then the suffixes as DELTA_LENGTH_BYTE_ARRAY. */
static int vals_dba(struct col *c, uint32_t at, uint32_t m)
{
    if (!c->vinit) {
        const uint8_t *q = c->vp;
        if (delta_lengths(c, &c->d1, &q) != 0 || delta_lengths(c, &c->d2, &q) != 0) return -1;
        c->vp = q;
        c->prev.len = 0;
        c->vinit = 1;
    }
    if (pqe_dbp_get(&c->d1, c->tmp, m) != 0 || pqe_dbp_get(&c->d2, c->iv, m) != 0)
        return bad_values(c, "lengths truncated or malformed");
    for (uint32_t i = 0; i < m; i++) {
        int64_t pre = c->tmp[i], suf = c->iv[i];
        if (pre < 0 || (uint64_t)pre > c->prev.len || suf < 0 || suf > c->vend - c->vp)
            return bad_values(c, "prefix or suffix runs past its data");
        size_t l = (size_t)(pre + suf);
        if (c->type == PQ_FIXED_LEN_BYTE_ARRAY && l != (size_t)c->type_len)
            return bad_values(c, "value length differs from the fixed length");
        uint8_t *dst = arena_alloc(c, l);
        if (!dst) return bad_values(c, "values expand past the per-batch limit");
        if (pre) memcpy(dst, c->prev.data, (size_t)pre);
        if (suf) memcpy(dst + pre, c->vp, (size_t)suf);
        c->vp += suf;
        c->prev.len = 0;
        buf_append(&c->prev, dst, l);
        c->s[at + i] = (struct slice){dst, (uint32_t)l};
    }
    return 0;
}

static int decode_values(struct col *c, uint32_t at, uint32_t m)
{
    switch (c->enc) {
    case PQ_ENC_PLAIN:
        return vals_plain(c, at, m);
    case PQ_ENC_PLAIN_DICTIONARY:
    case PQ_ENC_RLE_DICTIONARY:
        return vals_dict(c, at, m);
    case PQ_ENC_DELTA_BINARY_PACKED:
        return vals_dbp(c, at, m);
    case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
        return vals_dlba(c, at, m);
    case PQ_ENC_DELTA_BYTE_ARRAY:
        return vals_dba(c, at, m);
    default:
        kv_assert(!"encoding checked at page load");
        return -1;
    }
}

/* Moves the m decoded values of [at, at + m) to the rows whose level says "present". */
static void spread(struct col *c, uint32_t at, uint32_t k, uint32_t m)
{
    int ints = c->type == PQ_INT64 || c->type == PQ_INT32;
    uint32_t j = m;
    for (uint32_t i = k; i-- > 0;) {
        int present = c->lv[i] == (uint32_t)c->max_def;
        c->isnull[at + i] = (uint8_t)!present;
        if (present) j--;
        if (ints)
            c->iv[at + i] = present ? c->iv[at + j] : 0;
        else
            c->s[at + i] = present ? c->s[at + j] : (struct slice){NULL, 0};
    }
    kv_assert(j == 0);
}

/* Decodes the next k values (nulls included) of the current page into batch slots at.. */
static int col_decode(struct col *c, uint32_t at, uint32_t k)
{
    uint32_t m = k;
    if (c->max_def > 0) {
        if (pqe_rle_get(&c->defs, c->lv, k) != 0)
            return col_fail(c, "page at offset %zu: definition levels truncated or malformed",
                            c->page_off);
        m = 0;
        for (uint32_t i = 0; i < k; i++) {
            if (c->lv[i] > (uint32_t)c->max_def)
                return col_fail(c, "page at offset %zu: definition level %u above the maximum %d",
                                c->page_off, c->lv[i], c->max_def);
            m += c->lv[i] == (uint32_t)c->max_def;
        }
    }
    if (m > 0 && decode_values(c, at, m) != 0) return -1;
    if (m < k)
        spread(c, at, k, m);
    else
        memset(c->isnull + at, 0, k);
    return 0;
}

/* Fills batch slots 0..n-1, loading pages as needed. */
static int col_fill(struct col *c, uint32_t n)
{
    uint32_t got = 0;
    kv_assert(n <= PQR_BATCH);
    while (got < n) {
        if (c->page_left == 0 && col_next_page(c) != 0) return -1;
        uint32_t k = n - got < c->page_left ? n - got : c->page_left;
        if (col_decode(c, got, k) != 0) return -1;
        got += k;
        c->page_left -= k;
    }
    return 0;
}

static struct col *col_open(struct rd *rd, uint32_t g, const struct rgmeta *m, int k)
{
    struct col *c = kv_calloc(1, sizeof(*c));
    const struct chunk *ch = &m->c[k];
    const struct tgt *t = &rd->t[k];
    c->rd = rd;
    c->name = t->name;
    c->g = g;
    c->type = t->type;
    c->type_len = t->type_len;
    c->max_def = t->max_def;
    c->codec = ch->codec;
    c->values_left = ch->num_values;
    if (ch->num_values > 0) { /* check_chunk bounded the range by the data area */
        size_t room = (size_t)(rd->meta - rd->base) - (size_t)chunk_start(ch) - (size_t)ch->total;
        c->cp = rd->base + chunk_start(ch);
        c->cend = c->cp + ch->total;
        if (rd->pad_chunks) c->cend += room < PQR_PARQUET_816_PAD ? room : PQR_PARQUET_816_PAD;
    }
    buf_init(&c->prev);
    return c;
}

static void col_close(struct col *c)
{
    if (!c) return;
    free_retired(c);
    kv_free(c->retired);
    kv_free(c->page_buf);
    kv_free(c->dict_buf);
    kv_free(c->dict_s);
    kv_free(c->dict_i);
    buf_deinit(&c->prev);
    kv_free(c);
}

/* ---- rows ---- */

/* The batch slot i of a column, or a null when the column is not read (lenient tools). */
static void slot(const struct col *c, uint32_t i, const uint8_t **p, size_t *n, int *null)
{
    *p = c ? c->s[i].p : NULL;
    *n = c ? c->s[i].n : 0;
    *null = c ? c->isnull[i] : 1;
}

static int deliver(struct rd *rd, uint32_t g, struct col **cols, uint64_t row0, uint32_t n)
{
    struct col *ec = cols[COL_EXP];
    struct pqr_row row;
    for (uint32_t i = 0; i < n; i++) {
        slot(cols[COL_KEY], i, &row.key, &row.klen, &row.key_null);
        slot(cols[COL_VAL], i, &row.val, &row.vlen, &row.val_null);
        row.has_expire = ec && !ec->isnull[i];
        row.expire_at_ms = row.has_expire ? ec->iv[i] : 0;
        row.row_group = g;
        row.lane = rd->lane;
        if (!rd->lenient && (row.key_null || row.val_null))
            return fail(rd, "row group %u, row %llu: %s is null", g, (unsigned long long)(row0 + i),
                        row.key_null ? rd->t[COL_KEY].name : rd->t[COL_VAL].name);
        if (rd->fn && rd->fn(rd->ctx, &row, rd->err) != 0) return -1;
    }
    return 0;
}

static int decode_rg(struct rd *rd, uint32_t g, const struct rgmeta *m)
{
    struct col *cols[NCOL] = {NULL, NULL, NULL};
    uint64_t done = 0, rows = (uint64_t)m->num_rows;
    int rc = 0;
    for (int k = 0; k < NCOL; k++)
        if (rd->t[k].found) cols[k] = col_open(rd, g, m, k);
    /* A row group after one that failed is left: the read fails with the earlier error. */
    while (done < rows && rc == 0 && atomic_load_explicit(rd->stop, memory_order_relaxed) > g) {
        uint32_t n = rows - done < PQR_BATCH ? (uint32_t)(rows - done) : PQR_BATCH;
        for (int k = 0; k < NCOL && rc == 0; k++)
            if (cols[k]) rc = col_fill(cols[k], n);
        if (rc == 0) rc = deliver(rd, g, cols, done, n);
        for (int k = 0; k < NCOL; k++)
            if (cols[k]) free_retired(cols[k]);
        done += n;
    }
    for (int k = 0; k < NCOL; k++)
        col_close(cols[k]);
    return rc;
}

/* ---- decoding threads ---- */

/* One decoding thread: a copy of the validated reader with its own error, taking row groups
 * from a shared counter until none is left. */
struct lane {
    struct rd rd;
    struct kv_err err;
    _Atomic uint32_t *next;
    uint32_t failed; /* the row group whose decoding failed, nrg if none */
};

/* Lowers *stop to g unless it is lower already. */
static void stop_at(_Atomic uint32_t *stop, uint32_t g)
{
    uint32_t cur = atomic_load(stop);
    while (g < cur && !atomic_compare_exchange_weak(stop, &cur, g)) {
    }
}

/* Decodes row group g; r is at the start of row group *at (<= g) and moves past g. */
static int lane_rowgroup(struct rd *rd, struct thr_r *r, uint32_t *at, uint32_t g)
{
    struct rgmeta m;
    for (; *at < g; (*at)++)
        if (thr_r_skip(r, THR_STRUCT) != 0) return thr_fail(rd, r, "RowGroup");
    *at = g + 1;
    if (parse_rowgroup(rd, r, g, &m) != 0) return -1;
    return decode_rg(rd, g, &m);
}

static void *lane_main(void *arg)
{
    struct lane *l = arg;
    struct rd *rd = &l->rd;
    struct thr_r r;
    enum thr_type et;
    uint32_t n, at = 0;
    thr_r_init(&r, rd->rg_at, (size_t)(rd->meta_end - rd->rg_at));
    int rc = thr_r_list(&r, &et, &n);
    kv_assert(rc == 0 && n == rd->nrg); /* as for_each_rowgroup found it */
    for (uint32_t g; (g = atomic_fetch_add(l->next, 1)) < n && g < atomic_load(rd->stop);) {
        if (lane_rowgroup(rd, &r, &at, g) != 0) {
            l->failed = g;
            stop_at(rd->stop, g);
            break;
        }
    }
    return NULL;
}

/* Decodes every row group on up to `threads` threads (the calling one included); a failure
 * reports the error of the first row group that failed, as a read in order would. */
static int decode_all(struct rd *rd, unsigned threads)
{
    if (threads < 1) threads = 1;
    if (threads > PQR_MAX_THREADS) threads = PQR_MAX_THREADS;
    if (threads > rd->nrg) threads = rd->nrg ? rd->nrg : 1;
    _Atomic uint32_t next = 0, stop = rd->nrg;
    struct lane l[PQR_MAX_THREADS];
    pthread_t t[PQR_MAX_THREADS];
    int started[PQR_MAX_THREADS] = {0};
    for (unsigned i = 0; i < threads; i++) {
        l[i].rd = *rd;
        l[i].rd.err = &l[i].err;
        l[i].rd.lane = i;
        l[i].rd.stop = &stop;
        l[i].next = &next;
        l[i].failed = rd->nrg;
        if (i > 0) started[i] = pthread_create(&t[i], NULL, lane_main, &l[i]) == 0;
    }
    lane_main(&l[0]); /* without a thread, a lane's row groups go to the others */
    const struct lane *first = NULL;
    for (unsigned i = 0; i < threads; i++) {
        if (i > 0 && started[i]) pthread_join(t[i], NULL);
        if (l[i].failed < rd->nrg && (!first || l[i].failed < first->failed)) first = &l[i];
    }
    if (!first) return 0;
    *rd->err = first->err;
    return -1;
}

/* ---- entry points ---- */

static void set_targets(struct rd *rd, const struct pqr_opts *o)
{
    rd->t[COL_KEY].name = o && o->key_col ? o->key_col : PQ_COL_KEY;
    rd->t[COL_VAL].name = o && o->value_col ? o->value_col : PQ_COL_VALUE;
    rd->t[COL_EXP].name = PQ_COL_EXPIRE;
    if (o && o->expire_col) rd->t[COL_EXP].name = o->expire_col;
    rd->lenient = o && o->lenient;
    for (int k = 0; k < NCOL; k++) /* "" = no such column; only tools may leave out key/value */
        if (rd->t[k].name && !rd->t[k].name[0] && (k == COL_EXP || rd->lenient))
            rd->t[k].name = NULL;
}

int pqr_read_mem_opts(const void *p, size_t n, const struct pqr_opts *opts, pqr_row_fn fn,
                      void *ctx, struct pqr_info *info, struct kv_err *err)
{
    struct pqr_info scratch;
    struct rd rd;
    memset(&rd, 0, sizeof(rd));
    rd.base = p;
    rd.size = n;
    rd.fn = fn;
    rd.ctx = ctx;
    rd.err = err;
    rd.info = info ? info : &scratch;
    memset(rd.info, 0, sizeof(*rd.info));
    rd.info->codec = -1;
    rd.info->file_bytes = n;
    set_targets(&rd, opts);
    if (read_footer(&rd) != 0 || read_schema(&rd) != 0) return -1;
    /* Validate every row group's metadata before the first row reaches the callback. */
    if (for_each_rowgroup(&rd, validate_rg) != 0) return -1;
    rd.info->row_groups = rd.nrg;
    if (rd.info->rows != (uint64_t)rd.num_rows)
        return fail(&rd, "row groups hold %llu rows but FileMetaData.num_rows says %lld",
                    (unsigned long long)rd.info->rows, (long long)rd.num_rows);
    if (opts && opts->on_start && opts->on_start(ctx, rd.info, err) != 0) return -1;
    return decode_all(&rd, opts ? opts->threads : 1);
}

int pqr_read_mem(const void *p, size_t n, pqr_row_fn fn, void *ctx, struct pqr_info *info,
                 struct kv_err *err)
{
    return pqr_read_mem_opts(p, n, NULL, fn, ctx, info, err);
}

int pqr_read_file_opts(const char *path, const struct pqr_opts *opts, pqr_row_fn fn, void *ctx,
                       struct pqr_info *info, struct kv_err *err)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return kv_err_sys(err, "cannot open %s", path);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (!S_ISREG(st.st_mode)) errno = EINVAL;
        kv_err_sys(err, "cannot read %s as a regular file", path);
        close(fd);
        return -1;
    }
    size_t n = (size_t)st.st_size;
    void *m = NULL;
    if (n > 0) {
        m = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            kv_err_sys(err, "cannot map %s", path);
            close(fd);
            return -1;
        }
        madvise(m, n, MADV_WILLNEED);
    }
    close(fd); /* the mapping outlives the descriptor */
    int rc = pqr_read_mem_opts(m, n, opts, fn, ctx, info, err);
    if (m) munmap(m, n);
    return rc;
}

int pqr_read_file(const char *path, pqr_row_fn fn, void *ctx, struct pqr_info *info,
                  struct kv_err *err)
{
    return pqr_read_file_opts(path, NULL, fn, ctx, info, err);
}
