/*
 * s3store.h - keeps a copy of the data dir in an S3 bucket: Parquet snapshots, WAL segments
 * shipped at an interval, and a manifest naming them (layout: docs/FORMATS.md, "S3").
 *
 * Durability: a write is acknowledged on local durability (the WAL); S3 holds it within about
 * one shipping interval. What S3 lacks is the backlog: WAL records not yet in a segment (held
 * in memory, fed by the WAL's tap) and a snapshot not yet uploaded. The backlog is bounded by
 * max_backlog: past it, s3s_writable() is 0 and the server refuses writes until it shrinks.
 *
 * Ownership: the manifest names the server that writes the prefix (the id kept in the data
 * dir's kv_database.id) and is only ever replaced with a conditional write (If-Match the ETag
 * last seen, If-None-Match: * to create), so two servers never both write. A server renews
 * the manifest every lease/3 when idle; another server may take the prefix over only once the
 * manifest is older than the lease (by S3's own clock) or was released by a clean shutdown.
 * A server that finds the prefix taken at start refuses to start; one that loses it while
 * running stops shipping (STATS says why) and keeps serving from local storage.
 *
 * Failures: S3 unreachable or failing (network, 5xx, 403) at start or later is a warning: the
 * server serves from local storage, the store retries with exponential backoff and full jitter
 * (S3S_BACKOFF_MIN_MS..S3S_BACKOFF_MAX_MS) and catches up when S3 answers again.
 *
 * Threads: s3s_prepare runs on the main thread before recovery; after s3s_start one thread
 * does all S3 I/O. s3s_wal_tap, s3s_snapshot, s3s_writable and s3s_get_stats are called on
 * the event-loop thread and only take the store's mutex for a copy or an exchange.
 */
#ifndef PANDA_S3STORE_H
#define PANDA_S3STORE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "s3.h"

#define S3S_PREFIX_MAX     256
#define S3S_DIR_MAX        1024
#define S3S_REASON_MAX     256
#define S3S_ID_FILE        "kv_database.id"
#define S3S_ID_LEN         32 /* hex characters */
#define S3S_MANIFEST       "manifest"
#define S3S_MANIFEST_MAX   (4u << 20)  /* bytes of manifest read */
#define S3S_SEGMENTS_MAX   100000      /* segments a manifest may list */
#define S3S_SEGMENT_NEW    256         /* listing this many segments asks for a newer snapshot */
#define S3S_PART_BYTES     (16u << 20) /* multipart part size */
#define S3S_MULTIPART_MIN  (32u << 20) /* snapshots this large go up in parts */
#define S3S_MAX_PARTS      10000
#define S3S_BACKOFF_MIN_MS 250
#define S3S_BACKOFF_MAX_MS 10000
#define S3S_STOP_MS        5000         /* at shutdown, time left to ship the rest */
#define S3S_SEGMENT_MAX    (1ULL << 32) /* largest segment object read back */
#define S3S_KEEP_BYTES     (8u << 20) /* a segment buffer larger than this is freed once shipped */

struct s3s_config {
    struct s3_config s3;
    char prefix[S3S_PREFIX_MAX]; /* "" or ending in '/' */
    char dir[S3S_DIR_MAX];       /* the data dir */
    int64_t wal_interval_ms;
    uint64_t max_backlog; /* bytes */
    int64_t lease_ms;
    int64_t snapshot_every_ms; /* upload a newer local snapshot at least this often */
};

/* Requests by kind, as counted in INFO and metrics. */
enum s3s_req { S3S_GET = 0, S3S_PUT, S3S_DELETE, S3S_MPU, S3S_NREQ };

struct s3s_stats {
    int ok;                      /* 0 = degraded */
    char reason[S3S_REASON_MAX]; /* why degraded */
    char region[S3_STR_MAX];
    uint64_t requests[S3S_NREQ];
    uint64_t errors;
    uint64_t bytes_up, bytes_down;
    int64_t last_ok_ms;     /* unix ms of the last successful upload, 0 if none */
    uint64_t backlog_bytes; /* WAL bytes not in S3 yet (+ a snapshot waiting to go) */
    uint64_t remote_lsn;    /* S3 holds every record up to here */
    uint64_t remote_snapshot_lsn;
    uint64_t segments, snapshots; /* uploaded since start */
};

struct s3s;

/* Reads cfg and the credentials; NULL with err on a bad bucket or prefix. */
struct s3s *s3s_new(const struct s3s_config *cfg, struct kv_err *err);
/* Frees; call s3s_stop first if started. */
void s3s_free(struct s3s *s);

/* Before local recovery: claims the prefix and, when S3 holds newer data than the data dir
 * (by LSN), downloads it into the data dir (local files that it replaces are renamed to
 * <name>.replaced-<ms>, never deleted). Returns -1 only when the server must not start:
 * the prefix belongs to another live server, or S3 holds newer data that could not be
 * restored (damaged, or S3 failed midway; the local files are then untouched). S3 being
 * unreachable from the start is logged and returns 0. */
int s3s_prepare(struct s3s *s, struct kv_err *err);
/* After recovery: the local snapshot (snap_lsn, 0 if none) and the WAL records after what S3
 * holds become the backlog; starts the thread. */
int s3s_start(struct s3s *s, uint64_t snap_lsn, struct kv_err *err);
/* The WAL's tap: records [first, last] were written to the local WAL. */
void s3s_wal_tap(void *ctx, const void *p, size_t n, uint64_t first, uint64_t last);
/* A new local snapshot covering lsn is installed; fd (read-only, owned by the store from
 * here) is its file. */
void s3s_snapshot(struct s3s *s, int fd, uint64_t lsn);
/* 1 (once) when the segments in S3 have outgrown its snapshot and no newer local snapshot
 * is on offer: the server should take one (automatic snapshots may be off). */
int s3s_snapshot_wanted(struct s3s *s);
/* 0 while the backlog is over max_backlog; *why then says so. */
int s3s_writable(struct s3s *s, char *why, size_t n);
void s3s_get_stats(struct s3s *s, struct s3s_stats *st);
/* Ships what is left (for at most S3S_STOP_MS), releases the prefix, stops the thread. */
void s3s_stop(struct s3s *s);

#endif
