/*
 * walfmt.h - the bytes of the write-ahead log: encoding records and reading them back.
 *
 * The format is specified in docs/FORMATS.md ("Write-ahead log"). This module is pure: it
 * encodes into a struct buf and decodes from a memory image, with no I/O, no global state and
 * no allocation while reading, so the server's recovery, panda-check-wal and the tests share
 * exactly one reader.
 *
 * Every length read from a file is checked against the bytes that remain before it is used.
 * A record is accepted only when its CRC32C matches, its LSN is the expected one, its type is
 * known and its payload parses completely into operations.
 */
#ifndef PANDA_WALFMT_H
#define PANDA_WALFMT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define WALF_MAGIC      "PANDAWAL"
#define WALF_VERSION    1
#define WALF_FILE_HDR   16
#define WALF_REC_HDR    17
#define WALF_REC_MAX    0x7fffffffu /* largest payload */
#define WALF_TYPE_BATCH 1

enum walf_op { WALF_OP_SET = 1, WALF_OP_DEL = 2, WALF_OP_FLUSH = 3 };

/* ---- writing ---- */

void walf_file_header(struct buf *b);
/* Starts a record at the end of b; returns its offset for walf_end. */
size_t walf_begin(struct buf *b);
void walf_op_set(struct buf *b, const char *key, size_t klen, const char *val, size_t vlen,
                 int64_t expire_ms);
void walf_op_del(struct buf *b, const char *key, size_t klen);
void walf_op_flush(struct buf *b);
/* Closes the record started at start: fills length, LSN, type and CRC. Returns -1 (and
 * drops the record) if its payload is over WALF_REC_MAX. */
int walf_end(struct buf *b, size_t start, uint64_t lsn);

/* ---- reading ---- */

struct walf_rec {
    uint64_t lsn;
    const unsigned char *payload;
    uint32_t len;
    size_t size; /* header + payload */
};

struct walf_opv {
    int op;
    const char *key;
    size_t klen;
    const char *val;
    size_t vlen;
    int64_t expire_ms;
};

/* 0 if p[0..n) starts with a valid file header, -1 otherwise. */
int walf_check_header(const void *p, size_t n);
/* Decodes the record at p[0..avail) if it is valid with LSN expect_lsn (0: any LSN greater
 * than zero). Returns 0 and fills rec, or -1. */
int walf_read(const unsigned char *p, size_t avail, uint64_t expect_lsn, struct walf_rec *rec);
/* Iterates a valid record's operations: returns 1 with op filled, 0 at the end, -1 if the
 * payload is malformed (walf_read already rejects such records). */
int walf_next_op(const unsigned char **cur, const unsigned char *end, struct walf_opv *op);

enum walf_damage { WALF_CLEAN = 0, WALF_TORN = 1, WALF_CORRUPT = 2, WALF_BADHEADER = 3 };

struct walf_scan {
    uint64_t records;
    uint64_t first_lsn; /* 0 when there are no records */
    uint64_t last_lsn;
    size_t good_end;   /* offset just past the last good record */
    int damage;        /* enum walf_damage */
    size_t bad_offset; /* first bad byte offset (== good_end) when damaged */
    uint64_t bad_lsn;  /* the LSN expected at bad_offset */
    size_t next_valid; /* for WALF_CORRUPT: offset of the first valid record after it */
};

/* Called for each good record, in order; return 0 to go on, -1 to stop the scan. */
typedef int walf_visit_fn(void *ctx, const struct walf_rec *rec);

/* Reads a whole WAL image: checks the header, visits every good record, and classifies what
 * follows the last one. Returns 0, or -1 if the visitor stopped the scan. */
int walf_scan(const unsigned char *p, size_t n, walf_visit_fn *visit, void *ctx,
              struct walf_scan *out);

#endif
