/*
 * pqwrite.h - writes Panda's rows as an Apache Parquet file that DuckDB, pyarrow and hyparquet
 * read directly.
 *
 * Layout (docs/FORMATS.md): columns `key` and `value` (BYTE_ARRAY, REQUIRED) and
 * `expire_at_ms` (INT64, OPTIONAL, null = no TTL); DATA_PAGE v1 pages, PLAIN values, RLE
 * definition levels; one codec for every page; page CRCs; per-chunk statistics (null count,
 * exact min/max unless a bound is longer than PQW_MAX_STAT_BYTES); key and value carry the
 * STRING annotation only when every key (or value) in the file is valid UTF-8, otherwise they
 * are plain binary so no reader rejects the bytes. The footer's key-value metadata records
 * PQ_META_VERSION and PQ_META_LSN.
 *
 * Use: pqw_open, pqw_add per row, then pqw_finish (writes the footer) or pqw_abort. Rows are
 * buffered per row group (at most PQW_ROW_GROUP_BYTES of page data) and each row group is
 * written to the fd when full. The writer does not fsync or close the fd: the caller does.
 *
 * Errors: a failed write or an unusable codec returns -1 with err set; the writer is then only
 * good for pqw_abort. Threads: one writer per thread; no shared state (several writers on
 * several threads make one file with pqw_append_part).
 */
#ifndef PANDA_PQWRITE_H
#define PANDA_PQWRITE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define PQW_ROW_GROUP_ROWS  (1u << 17)   /* default rows per row group (DuckDB: 122,880) */
#define PQW_ROW_GROUP_BYTES (256u << 20) /* a row group also ends at this much page data */
#define PQW_PAGE_BYTES      (1u << 20)   /* uncompressed bytes per data page (one value more) */
#define PQW_MAX_STAT_BYTES  256          /* longer min/max bounds are left out */

struct pqw_opts {
    int codec;               /* enum pq_codec: UNCOMPRESSED, SNAPPY, ZSTD (GZIP, LZ4_RAW too) */
    uint32_t row_group_rows; /* 0 = PQW_ROW_GROUP_ROWS */
    uint64_t lsn;            /* written as PQ_META_LSN */
    int part;                /* a part for pqw_append_part: no magic, never finished */
};

struct pqw;

struct pqw *pqw_open(int fd, const struct pqw_opts *opts, struct kv_err *err);
/* expire_at_ms < 0 means no TTL (null). */
int pqw_add(struct pqw *w, const void *key, size_t klen, const void *val, size_t vlen,
            int64_t expire_at_ms, struct kv_err *err);
/* Parallel writing: rows of one file may be written by several writers at once, each on its
 * own thread, the extra ones as parts (opts.part) into their own files, opened for reading
 * too. pqw_append_part then copies a part's row groups to the end of w's file and adds them
 * to w's footer; it frees part either way (its file is the caller's). */
int pqw_append_part(struct pqw *w, struct pqw *part, int part_fd, struct kv_err *err);
/* Writes the last row group and the footer, frees w. *bytes (if not NULL) = file size. */
int pqw_finish(struct pqw *w, uint64_t *bytes, struct kv_err *err);
void pqw_abort(struct pqw *w);

#endif
