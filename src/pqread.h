/*
 * pqread.h - reads Panda's rows out of an Apache Parquet file: Panda's own snapshots and files
 * that DuckDB, pyarrow, Spark or others wrote with a `key` and a `value` column.
 *
 * What is read: the top-level leaf columns named `key` and `value` (BYTE_ARRAY, any
 * annotation, REQUIRED or OPTIONAL) and, when present, `expire_at_ms` (INT64, OPTIONAL; null
 * = no TTL). Other columns are ignored. Pages: DATA_PAGE v1 and v2, DICTIONARY pages with
 * PLAIN_DICTIONARY/RLE_DICTIONARY data pages (mixed with PLAIN pages in one chunk), PLAIN,
 * DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY; codecs per pqcodec.h; any
 * number of row groups. Page CRCs, when present, are verified.
 *
 * Errors: anything malformed or unsupported (a missing column, a wrong type, a null key or
 * value, a codec or encoding Panda lacks, a failed CRC, sizes that disagree) stops the read
 * with -1 and an error that names the file offset or row group/column and the thing at
 * fault. The reader never reads outside the file, never trusts a length it has not checked
 * against the bytes that hold it and bounds every allocation by the PQR_MAX_* limits, so a
 * hostile file costs at most an error.
 *
 * Memory: rows are decoded in batches of 1024 per column, one page at a time, so the reader
 * holds about one decompressed page per column plus the chunk's dictionary, whatever row count
 * the file declares. Every row group's metadata is validated before the first row reaches the
 * callback; an error found later in a page still stops the read part-way (the caller discards
 * what it loaded). Old parquet-mr files whose chunk sizes are too small (PARQUET-816) are read
 * with Arrow's 100-byte allowance.
 *
 * Ownership: the row passed to the callback points into the reader's buffers (or the file's
 * mapping) and is valid only during the call. Threads: no shared state; any thread. A read
 * may decode row groups on threads of its own (pqr_opts.threads), joined before it returns.
 * pqr_read_file maps the file: truncating it while it is read kills the process with SIGBUS,
 * so read snapshots that nobody writes.
 */
#ifndef PANDA_PQREAD_H
#define PANDA_PQREAD_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define PQR_MAX_FOOTER_BYTES (256u << 20) /* FileMetaData */
#define PQR_MAX_PAGE_BYTES   (1u << 30)   /* one page, compressed or not */
#define PQR_MAX_CREATED_BY   128
#define PQR_MAX_SCHEMA_DEPTH 64           /* nesting of groups in the schema tree */
#define PQR_MAX_BATCH_BYTES  (256u << 20) /* DELTA_BYTE_ARRAY bytes rebuilt per batch of rows */
#define PQR_MAX_THREADS      8            /* decoding threads of one read (pqr_opts.threads) */

struct pqr_row {
    const uint8_t *key;
    size_t klen;
    const uint8_t *val;
    size_t vlen;
    int has_expire;
    int64_t expire_at_ms;
    int key_null, val_null; /* only with pqr_opts.lenient; otherwise a null is an error */
    uint32_t row_group;     /* the row group it belongs to (0 for the first) */
    unsigned lane;          /* the decoding thread that delivers it (0: the caller's own) */
};

/* Called once per row, in file order (with pqr_opts.threads > 1: in order within each row
 * group, see there). Return 0 to go on, or -1 (filling err) to stop the read, which then
 * returns -1 with that error. */
typedef int (*pqr_row_fn)(void *ctx, const struct pqr_row *row, struct kv_err *err);

struct pqr_info {
    uint64_t rows;
    uint32_t row_groups;
    uint64_t file_bytes;
    int panda;          /* the file carries Panda's metadata (then lsn and version are set) */
    int format_version; /* panda.format_version */
    uint64_t lsn;       /* panda.wal_lsn: the last WAL record the snapshot covers */
    int codec;          /* codec of the first column chunk, -1 if there are no row groups */
    char created_by[PQR_MAX_CREATED_BY];
};

/* Reads the whole file, calling fn (if not NULL) for every row; fills *info (if not NULL).
 * With fn NULL every page is still decoded and checked. */
int pqr_read_file(const char *path, pqr_row_fn fn, void *ctx, struct pqr_info *info,
                  struct kv_err *err);
/* The same over bytes in memory (tests, fuzzing). */
int pqr_read_mem(const void *p, size_t n, pqr_row_fn fn, void *ctx, struct pqr_info *info,
                 struct kv_err *err);

/* Reading other columns, for tools and tests that check the reader against files written by
 * others (panda-check-parquet --columns). A NULL name means the default (key, value,
 * expire_at_ms); expire_col "" means no expire column. key_col and value_col may name the same
 * column. lenient: a null key or value is passed to the callback (key_null/val_null set,
 * pointer NULL, length 0) instead of failing the read, key_col/value_col "" mean no such
 * column (every row's key/value is then null), and the expire column may be INT32. */
struct pqr_opts {
    const char *key_col;
    const char *value_col;
    const char *expire_col;
    int lenient;
    /* Called once the footer and every row group's metadata have been checked, before the
     * first row (info->rows and Panda's metadata are known then); -1 stops the read. */
    int (*on_start)(void *ctx, const struct pqr_info *info, struct kv_err *err);
    /* Row groups decoded at once on this many threads (0 or 1: only the caller's; at most
     * PQR_MAX_THREADS; never more than the file has row groups). The calling thread is lane 0
     * and starts the others after on_start. Each row group is decoded by one lane, which
     * hands its rows to the callback in order; lanes take the next row group as they finish
     * one, so the callback runs on several threads at once and rows of different row groups
     * arrive in any order: it keeps per-lane state (pqr_row.lane) and orders by
     * pqr_row.row_group. An error stops the read with the error of the first row group (in
     * file order) that failed, as a read on one thread would; rows of later row groups may
     * have reached the callback by then. */
    unsigned threads;
};

int pqr_read_file_opts(const char *path, const struct pqr_opts *opts, pqr_row_fn fn, void *ctx,
                       struct pqr_info *info, struct kv_err *err);
int pqr_read_mem_opts(const void *p, size_t n, const struct pqr_opts *opts, pqr_row_fn fn,
                      void *ctx, struct pqr_info *info, struct kv_err *err);

#endif
