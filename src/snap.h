/*
 * snap.h - Parquet snapshots: loading at start-up, automatic and requested snapshots, the
 * crash-safe install, and the legacy JSON snapshot.
 *
 * Start-up (snap_load): <dir>/kv_database.parquet is read into the empty keyspace (rows whose
 * TTL has passed are skipped) and its PQ_META_LSN becomes the WAL's base (wal.h); a file
 * without Panda's metadata (DuckDB, pyarrow...) loads with base 0. Without a Parquet file,
 * <dir>/kv_database.json (the Rust Panda's format, jsonsnap.h) is loaded instead and a
 * snapshot is asked for at once; once it is installed the JSON file is renamed to
 * kv_database.json.migrated (never deleted). Any error stops the start: the server never
 * serves from a half-read file and never deletes or rewrites the file it could not read.
 *
 * Taking a snapshot: the event loop forks; the child writes the keyspace as it was at the fork
 * to kv_database.parquet.tmp (pqwrite.h), fdatasyncs it and exits; the parent keeps serving
 * and learns of the exit through a pidfd in the event loop. Then, on the loop thread: rename
 * over kv_database.parquet, fsync the directory, and drop the WAL records the snapshot covers
 * (wal_rebase). A crash at any step leaves a snapshot and a log that together hold every
 * acknowledged write. One snapshot runs at a time.
 *
 * When: automatically once `interval` writes are pending, or `timeout` seconds after the last
 * snapshot when anything is pending, but never sooner than max(min_gap_ms, SNAP_PACE_FACTOR x
 * the last snapshot's duration) after the last one ended - so snapshotting a large keyspace
 * under steady writes takes at most 1/(SNAP_PACE_FACTOR+1) of the time; the WAL keeps every
 * write durable in between. snap_request (SAVE, SNAPSHOT, BGSAVE) is not paced: it starts
 * one at once, or right after the one running, and returns the generation whose completion
 * answers the caller (the done hook).
 *
 * Threads: event-loop thread only (the child is a separate process). Loading into an empty
 * keyspace decodes row groups on SNAP_LOAD_THREADS threads (pqr_opts.threads), each building
 * its own bulk (ks.h); the entries are linked on the calling thread once all have joined.
 */
#ifndef PANDA_SNAP_H
#define PANDA_SNAP_H

#include <stdint.h>

#include "err.h"
#include "bg.h"
#include "ev.h"
#include "ks.h"
#include "wal.h"

#define SNAP_FILE          "kv_database.parquet"
#define SNAP_TMP_SUFFIX    ".tmp"
#define SNAP_THREADS       2  /* threads that write a snapshot (this machine has 2 cores) */
#define SNAP_CHUNKS        64 /* bucket ranges the threads take in turn */
#define SNAP_LOAD_THREADS  2  /* threads that decode a snapshot being loaded at start-up */
#define SNAP_JSON_FILE     "kv_database.json"
#define SNAP_JSON_MIGRATED "kv_database.json.migrated"
#define SNAP_PACE_FACTOR   4
#define SNAP_ERR_MAX       KV_ERR_MSG_MAX

struct snap_config {
    const char *dir;
    int codec;         /* enum pq_codec */
    uint64_t interval; /* writes; 0 = off */
    int64_t timeout_s; /* 0 = off */
    int64_t min_gap_ms;
    uint32_t row_group_rows; /* 0 = pqwrite's default */
};

struct snap_stats {
    int in_progress;
    uint64_t count, failures;
    int64_t last_ok_unix; /* seconds; start time if none succeeded yet (as Redis's LASTSAVE) */
    int64_t last_duration_ms;
    int64_t total_ms; /* time spent in snapshots since start-up */
    uint64_t last_rows, last_bytes, last_lsn;
    int last_ok;
    char last_error[SNAP_ERR_MAX];
    uint64_t file_bytes; /* kv_database.parquet now */
    uint64_t pending;    /* writes since the last snapshot */
    uint64_t loaded_rows;
    int64_t load_ms;
    const char *loaded_from; /* "parquet", "json" or "none" */
};

/* Called on the loop thread when snapshot `gen` ends; ok = 0 with err on failure. */
typedef void snap_done_fn(void *ctx, uint64_t gen, int ok, const char *err);

struct snap;

struct snap *snap_new(const struct snap_config *cfg, struct ev_loop *loop);
void snap_free(struct snap *sn); /* waits for a running child */
/* Loads the snapshot (or legacy JSON) into ks; *lsn = the WAL base. */
int snap_load(struct snap *sn, struct ks *ks, uint64_t *lsn, struct kv_err *err);
/* From here on, snapshots may run: ks and wal are the server's, done answers requests, bg
 * (may be NULL) takes slow closes off the loop thread. */
void snap_attach(struct snap *sn, struct ks *ks, struct wal *wal, struct bg *bg, snap_done_fn *done,
                 void *ctx);
/* Loads the rows of a foreign Parquet file into ks (overwriting) and takes a snapshot in
 * this process before returning, so they are durable. */
int snap_import(struct snap *sn, const char *path, struct kv_err *err);
/* Asks for a snapshot of the current state; returns its generation (0 + err when none can
 * start: the WAL is blocked, fork failed). */
uint64_t snap_request(struct snap *sn, struct kv_err *err);
/* 10 times a second: starts automatic snapshots. */
void snap_cron(struct snap *sn);
int snap_running(const struct snap *sn);
/* The LSN the installed snapshot covers (0: none). */
uint64_t snap_lsn(const struct snap *sn);
void snap_get_stats(const struct snap *sn, struct snap_stats *st);
const char *snap_codec_name(const struct snap *sn);

#endif
