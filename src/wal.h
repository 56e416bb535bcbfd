/*
 * wal.h - the write-ahead log at run time: recovery, capturing changes, group commit.
 *
 * Recovery (wal_open): the log in <dir>/kv_database.wal is scanned with walfmt's reader and
 * the records after the loaded snapshot (cfg.base_lsn) are replayed into the keyspace; a log
 * that starts past base_lsn + 1 has lost records and refuses to start; a torn tail is cut off (its
 * bytes kept in a .broken-<ms> file), corruption in the middle refuses to start unless
 * truncate_corrupt is set. Then the file is opened for appending and space is reserved ahead
 * (fallocate) so that appends do not hit ENOSPC in the middle of a record.
 *
 * Capture: the keyspace's change hook calls wal_note() with each changed key (or NULL for a
 * flush); wal_commit() turns everything noted since the last commit into one record holding
 * the keys' resulting state, so one command, one MULTI/EXEC or one expiry run is one atomic
 * record. Records accumulate in memory and are written by wal_write() (once per event-loop
 * iteration).
 *
 * Durability: with WAL_FSYNC_ALWAYS wal_write() writes the records of every command of one
 * loop iteration and runs one fdatasync for all of them on the loop thread (group commit).
 * wal_durable_lsn() says what is on disk; the server holds replies until it covers them.
 * With group_commit off, wal_commit writes and syncs each record on the spot (for
 * measuring). EVERYSEC has a sync thread fdatasync once a second (asked from wal_cron());
 * NO never syncs until close.
 *
 * Failures: an fdatasync error is fatal - the process exits with status 1 without
 * acknowledging anything the failed sync covered (Linux may have dropped the dirty pages, so a
 * retry proves nothing); recovery then replays the log. A write or reservation error (ENOSPC,
 * EIO) cuts any partial record off, keeps the unwritten records in memory, makes
 * wal_writable() false (the server refuses new writes) and retries from wal_cron() until it
 * succeeds.
 *
 * Threads: everything runs on the event-loop thread except the everysec sync thread, which
 * only calls fdatasync and reports back through the loop's wakeup (wal_reap).
 */
#ifndef PANDA_WAL_H
#define PANDA_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "ev.h"
#include "hist.h"
#include "ks.h"

#define WAL_FILE          "kv_database.wal"
#define WAL_RESERVE_BYTES (64LL * 1024 * 1024) /* fallocate step ahead of the write offset */
#define WAL_RETRY_MS      1000                 /* retry period after a write failure */
#define WAL_REASON_MAX    128

enum wal_fsync { WAL_FSYNC_ALWAYS = 0, WAL_FSYNC_EVERYSEC, WAL_FSYNC_NO };

struct wal_config {
    const char *dir;
    enum wal_fsync fsync;
    int truncate_corrupt;
    int group_commit;
    uint64_t base_lsn; /* the loaded snapshot covers records up to here (0: no snapshot) */
};

struct wal_stats {
    uint64_t bytes;       /* bytes in the file */
    uint64_t last_lsn;    /* last record created */
    uint64_t durable_lsn; /* last record known to be on disk */
    uint64_t records;     /* records after the snapshot (replayed + appended) */
    uint64_t write_errors;
    int64_t last_fsync_us;
    struct hist fsync; /* fdatasync durations since start */
    uint64_t replayed_records;
    int64_t replay_ms;
    int blocked;
    char reason[WAL_REASON_MAX];
};

struct wal;

/* Recovers the log into ks (holding the snapshot's state, with no hooks installed) and opens
 * it for appending. Returns NULL with err filled when the log is damaged in the middle (and
 * truncate_corrupt is off), unreadable, or not a Panda WAL. */
struct wal *wal_open(const struct wal_config *cfg, struct ks *ks, struct ev_loop *loop,
                     struct kv_err *err);
/* Writes and syncs everything, stops the sync thread, closes. Returns 0, or -1 if the final
 * write or sync failed (err says why). Frees w either way. */
int wal_close(struct wal *w, struct kv_err *err);

void wal_note(struct wal *w, const char *key, size_t klen);
/* Makes one record of the changes noted since the last commit; returns its LSN, or 0 if
 * nothing changed. */
uint64_t wal_commit(struct wal *w, struct ks *ks);
/* Writes buffered records to the file and asks for a sync as the policy says. */
void wal_write(struct wal *w);
/* Writes and fdatasyncs everything now, on the calling thread (fsync always, shutdown).
 * Returns -1 if the records could not be written (the WAL is blocked). */
int wal_sync_now(struct wal *w);
/* Picks up finished syncs (from the loop's wakeup); returns 1 if the durable LSN moved. */
int wal_reap(struct wal *w);
/* Once a second: everysec syncs, retries after failures. */
void wal_cron(struct wal *w);

/* Snapshots (snap.h). wal_mark writes every buffered record and returns the last LSN and the
 * file offset just past it: the state a snapshot taken now covers. Returns -1 while the log
 * cannot be written. wal_rebase, once a snapshot covering `lsn` is durable, replaces the log
 * by one holding only the records after it (those from offset `off`, as wal_mark gave):
 * copy, fdatasync, rename, fsync the directory. The new log starts with an empty marker
 * record carrying `lsn`, so recovery knows where it begins even when nothing follows. A crash
 * at any step leaves either log, and both recover. Returns -1 with err (the old log stays in use)
 * on failure. */
int wal_mark(struct wal *w, uint64_t *lsn, uint64_t *off);
int wal_rebase(struct wal *w, uint64_t lsn, uint64_t off, struct kv_err *err);

/* The tap sees every run of records [first, last] as it is written to the file (p, n: their
 * bytes, framed as in the file), on the loop thread: S3 shipping copies them from here. */
typedef void wal_tap_fn(void *ctx, const void *p, size_t n, uint64_t first, uint64_t last);
void wal_set_tap(struct wal *w, wal_tap_fn *fn, void *ctx);

/* What a client's replies wait for under fsync always: its writes wait for their own records
 * (write_lsn); its reads wait for the records before them (read_lsn) so that they cannot show
 * data a crash could take back - except while the WAL cannot be written: then reads go at once
 * (the writes they may show are retried, never dropped while the process lives), so that reads
 * keep working, also those that arrived just before the write failed. Both only grow. */
struct wal_hold {
    uint64_t write_lsn;
    uint64_t read_lsn;
};

/* 1 if replies must wait for durability (fsync always). */
int wal_holds_replies(const struct wal *w);
/* 1 while replies under h must wait. */
int wal_held(const struct wal *w, const struct wal_hold *h);
uint64_t wal_last_lsn(const struct wal *w);
uint64_t wal_durable_lsn(const struct wal *w);
/* 0 while writes must be refused; *reason then says why. */
int wal_writable(const struct wal *w, const char **reason);
void wal_get_stats(const struct wal *w, struct wal_stats *st);
const char *wal_fsync_name(enum wal_fsync f);

#endif
