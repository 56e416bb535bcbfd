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
 * written when full, with pwrite at the file's end as the writer knows it (the fd's own offset
 * is not used). The writer does not fsync or close the fd: the caller does.
 *
 * Errors: a failed write or an unusable codec returns -1 with err set; the writer is then only
 * good for pqw_abort.
 *
 * Threads: a writer belongs to one thread. Several threads write one file through parts
 * (pqw_open_part): each part takes rows on its own thread and places its row groups at the
 * file's end, which the parts and their first writer share (an atomic counter), so no bytes are
 * copied afterwards. Parts are opened, joined and aborted on the first writer's thread.
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
    int writeback;           /* start write-back of each row group (sync_file_range) */
};

struct pqw;

struct pqw *pqw_open(int fd, const struct pqw_opts *opts, struct kv_err *err);
/* expire_at_ms < 0 means no TTL (null). */
int pqw_add(struct pqw *w, const void *key, size_t klen, const void *val, size_t vlen,
            int64_t expire_at_ms, struct kv_err *err);
/* A writer of more rows for first's file, to be used on another thread; never fails. */
struct pqw *pqw_open_part(struct pqw *first);
/* Writes part's last row group and adds its row groups to w's footer (row order across the
 * writers is not kept); frees part either way. Every part is joined or aborted before w is
 * finished or aborted. */
int pqw_join(struct pqw *w, struct pqw *part, struct kv_err *err);
/* Writes the last row group and the footer, frees w. *bytes (if not NULL) = file size. */
int pqw_finish(struct pqw *w, uint64_t *bytes, struct kv_err *err);
void pqw_abort(struct pqw *w);

#endif
