/* wal.c - write-ahead log: recovery, capture, group commit (see wal.h, docs/FORMATS.md). */
#include "wal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "crc32c.h"
#include "fsutil.h"
#include "log.h"
#include "util.h"
#include "walfmt.h"

#define WAL_PATH_MAX            2048
#define WAL_DEDUPE_MIN          16 /* changes in one commit above which duplicates are filtered by hash */
#define WAL_PENDING_KEEP        (1024 * 1024) /* buffer capacity kept after a write */
#define WAL_BYTES_PER_KEY_GUESS 64            /* sizing the table before replay */

enum { CHANGE_KEY = 1, CHANGE_FLUSH = 2 };

struct wal {
    struct wal_config cfg;
    char path[WAL_PATH_MAX];
    struct ev_loop *loop;
    int fd;
    uint64_t written_off; /* file size: end of the last complete record */
    uint64_t reserved_to; /* fallocate'd up to here (0: reservation unsupported) */
    int reserve_ok;
    struct buf pending;   /* encoded records not yet written */
    uint64_t last_lsn;    /* last LSN given out */
    uint64_t written_lsn; /* last LSN in the file */
    uint64_t durable_lsn; /* last LSN fdatasync'd */
    uint64_t records;     /* records after the snapshot (the rebase marker is not one) */
    struct buf changes;   /* noted changes, see next_change() */
    size_t nchanges;
    int blocked;
    char reason[WAL_REASON_MAX];
    uint64_t write_errors;
    uint64_t replayed;
    int64_t replay_ms;
    int64_t last_retry_ms;
    /* sync thread */
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t sync_req_lsn;  /* sync everything up to this */
    uint64_t sync_done_lsn; /* last LSN a successful sync covered */
    int sync_errno;         /* first fdatasync error, 0 if none */
    int64_t sync_us;        /* duration of the last fdatasync */
    struct hist fsync_hist; /* every fdatasync's duration (under mu) */
    int stop;
    int paused;          /* wal_rebase is swapping the fd: start no fdatasync */
    int syncing;         /* an fdatasync (of the fd read under mu) is running */
    pthread_cond_t idle; /* signalled when syncing drops to 0 */
    wal_tap_fn *tap;
    void *tap_ctx;
};

void wal_set_tap(struct wal *w, wal_tap_fn *fn, void *ctx)
{
    w->tap = fn;
    w->tap_ctx = ctx;
}

const char *wal_fsync_name(enum wal_fsync f)
{
    static const char *const names[] = {"always", "everysec", "no"};
    return names[f];
}

/* ---- recovery ---- */

static int apply_op(struct ks *ks, const struct walf_opv *op)
{
    switch (op->op) {
    case WALF_OP_SET:
        ks_put(ks, op->key, op->klen, op->val, op->vlen,
               op->expire_ms < 0 ? KS_NO_TTL : op->expire_ms);
        return 0;
    case WALF_OP_DEL:
        ks_del(ks, op->key, op->klen);
        return 0;
    case WALF_OP_FLUSH:
        ks_flush(ks, 0);
        return 0;
    }
    return -1;
}

static int apply_record(struct ks *ks, const struct walf_rec *rec)
{
    const unsigned char *cur = rec->payload, *end = cur + rec->len;
    struct walf_opv op;
    int rc;
    while ((rc = walf_next_op(&cur, end, &op)) == 1)
        if (apply_op(ks, &op) != 0) return -1;
    return rc == 0 ? 0 : -1;
}

/* Replay applies each record WAL_REPLAY_AHEAD records after seeing it, having prefetched the
 * hash bucket of its first key: on a large log the bucket loads are cache misses that would
 * otherwise dominate. */
#define WAL_REPLAY_AHEAD 16

struct replay {
    struct ks *ks;
    uint64_t base_lsn; /* records up to here are in the snapshot already */
    uint64_t seen;     /* records scanned, replayed or not */
    uint64_t marker;   /* LSN of a leading empty record: the snapshot this log follows */
    struct walf_rec ring[WAL_REPLAY_AHEAD];
    size_t n; /* records seen */
};

static int replay_record(void *ctx, const struct walf_rec *rec)
{
    struct replay *r = ctx;
    if (r->seen++ == 0 && rec->len == 0) r->marker = rec->lsn; /* see copy_tail */
    if (rec->lsn <= r->base_lsn) return 0;
    const unsigned char *cur = rec->payload;
    struct walf_opv op;
    if (walf_next_op(&cur, rec->payload + rec->len, &op) == 1 && op.key)
        ks_prefetch(r->ks, op.key, op.klen);
    struct walf_rec *slot = &r->ring[r->n++ % WAL_REPLAY_AHEAD];
    int rc = r->n > WAL_REPLAY_AHEAD ? apply_record(r->ks, slot) : 0;
    *slot = *rec;
    return rc;
}

/* Applies the records still waiting in the ring, oldest first. */
static void replay_finish(struct replay *r)
{
    size_t first = r->n > WAL_REPLAY_AHEAD ? r->n - WAL_REPLAY_AHEAD : 0;
    for (size_t i = first; i < r->n; i++) {
        int rc = apply_record(r->ks, &r->ring[i % WAL_REPLAY_AHEAD]);
        kv_assert(rc == 0); /* walf_read validated every operation */
    }
}

/* Copies p[from..n) to <path>.broken-<ms> and fsyncs it. */
static int save_broken(const struct wal *w, const unsigned char *p, size_t from, size_t n,
                       char *out, size_t outlen, struct kv_err *err)
{
    snprintf(out, outlen, "%s.broken-%lld", w->path, (long long)util_mstime());
    int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return kv_err_sys(err, "cannot create %s", out);
    if (fs_write_all(fd, p + from, n - from, out, err) != 0) {
        close(fd);
        return -1;
    }
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? 0 : kv_err_sys(err, "fsync of %s", out);
}

/* Cuts the file at off after saving the bytes beyond it. */
static int cut_at(struct wal *w, const unsigned char *p, size_t off, size_t n, struct kv_err *err)
{
    char broken[WAL_PATH_MAX + 32];
    if (save_broken(w, p, off, n, broken, sizeof(broken), err) != 0) return -1;
    int fd = open(w->path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return kv_err_sys(err, "cannot open %s", w->path);
    int rc = ftruncate(fd, (off_t)off) == 0 && fdatasync(fd) == 0 ? 0 : -1;
    if (rc != 0) kv_err_sys(err, "cannot truncate %s", w->path);
    close(fd);
    if (rc == 0)
        log_warn("WAL: %zu damaged bytes from offset %zu saved in %s", n - off, off, broken);
    return rc;
}

/* Creates a new log holding only the file header. */
static int create_log(struct wal *w, struct kv_err *err)
{
    int fd = open(w->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return kv_err_sys(err, "cannot create %s", w->path);
    struct buf h;
    buf_init(&h);
    walf_file_header(&h);
    int rc = write(fd, h.data, h.len) == (ssize_t)h.len && fdatasync(fd) == 0 ? 0 : -1;
    if (rc != 0) kv_err_sys(err, "cannot write %s", w->path);
    buf_deinit(&h);
    close(fd);
    if (rc != 0) return -1;
    w->written_off = WALF_FILE_HDR;
    return fs_fsync_dir(w->cfg.dir, err);
}

/* Decides what to do about damage found by the scan; returns 0 to start, -1 to refuse. */
static int handle_damage(struct wal *w, const struct walf_scan *sc, const unsigned char *p,
                         size_t n, struct kv_err *err)
{
    if (sc->damage == WALF_TORN) {
        log_warn("WAL %s: torn tail at offset %zu (expected LSN %llu): the last write was cut "
                 "short by a crash; truncating to the last good record",
                 w->path, sc->bad_offset, (unsigned long long)sc->bad_lsn);
        return cut_at(w, p, sc->bad_offset, n, err);
    }
    kv_assert(sc->damage == WALF_CORRUPT);
    if (!w->cfg.truncate_corrupt)
        return kv_err_set(err, KV_EINVAL,
                          "WAL %s is corrupt at offset %zu (LSN %llu expected there) and valid "
                          "records follow at offset %zu: acknowledged data is damaged; refusing "
                          "to start (--wal-truncate-corrupt keeps a copy and truncates there)",
                          w->path, sc->bad_offset, (unsigned long long)sc->bad_lsn, sc->next_valid);
    log_warn("WAL %s: corrupt at offset %zu (LSN %llu expected there); truncating as "
             "--wal-truncate-corrupt asks",
             w->path, sc->bad_offset, (unsigned long long)sc->bad_lsn);
    return cut_at(w, p, sc->bad_offset, n, err);
}

/* Replays an existing log into ks; handles damage. */
static int recover(struct wal *w, struct ks *ks, struct kv_err *err)
{
    int64_t t0 = util_monotonic_us(); /* replay time includes reading the file */
    int fd = open(w->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? create_log(w, err) : kv_err_sys(err, "open %s", w->path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return kv_err_sys(err, "stat %s", w->path);
    }
    size_t n = (size_t)st.st_size;
    if (n < WALF_FILE_HDR) { /* a crash while the file was being created */
        close(fd);
        log_warn("WAL %s: %zu-byte file without a complete header; starting a new log", w->path, n);
        return create_log(w, err);
    }
    void *map = mmap(NULL, n, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return kv_err_sys(err, "mmap %s", w->path);
    madvise(map, n, MADV_SEQUENTIAL);
    /* One bucket per WAL_BYTES_PER_KEY_GUESS bytes of log: about one per small SET record,
     * so replaying a log of distinct keys never rehashes; too many buckets for a log of
     * repeated updates cost 8 bytes each and the cron shrinks the table later. */
    ht_reserve(&ks->table, n / WAL_BYTES_PER_KEY_GUESS);
    struct walf_scan sc;
    struct replay r = {.ks = ks, .base_lsn = w->cfg.base_lsn, .n = 0};
    ks->now_ms = util_mstime();
    int rc = walf_scan(map, n, replay_record, &r, &sc);
    kv_assert(rc == 0); /* records are validated before the visitor sees them */
    replay_finish(&r);
    int64_t us = util_monotonic_us() - t0;
    if (sc.damage == WALF_BADHEADER)
        rc = kv_err_set(err, KV_EINVAL, "%s is not a Panda WAL (bad file header)", w->path);
    else if (sc.damage != WALF_CLEAN)
        rc = handle_damage(w, &sc, map, n, err);
    munmap(map, n);
    if (rc != 0) return -1;
    /* The snapshot must cover everything before this log: up to its marker, or up to the
     * record before its first one. */
    uint64_t need = r.marker ? r.marker : sc.first_lsn - 1;
    if (sc.records > 0 && w->cfg.base_lsn < need)
        return kv_err_set(err, KV_EINVAL,
                          "WAL %s continues from LSN %llu but the snapshot covers LSNs up to %llu "
                          "only: the records in between are missing (was the snapshot replaced "
                          "or removed?); refusing to start",
                          w->path, (unsigned long long)need, (unsigned long long)w->cfg.base_lsn);
    w->written_off = sc.good_end;
    w->last_lsn = w->written_lsn = w->durable_lsn =
        sc.last_lsn > w->cfg.base_lsn ? sc.last_lsn : w->cfg.base_lsn;
    w->records = r.n;
    w->replayed = r.n;
    w->replay_ms = us / 1000;
    log_info("WAL replay: %zu records in %lld ms (%.0f records/s), %zu bytes, last LSN %llu "
             "(%llu earlier records already in the snapshot)",
             r.n, (long long)(us / 1000), us > 0 ? (double)r.n * 1e6 / (double)us : 0.0,
             sc.good_end, (unsigned long long)w->last_lsn, (unsigned long long)(sc.records - r.n));
    return 0;
}

/* ---- capture ---- */

void wal_note(struct wal *w, const char *key, size_t klen)
{
    if (!key) {
        buf_append_char(&w->changes, CHANGE_FLUSH);
    } else {
        buf_append_char(&w->changes, CHANGE_KEY);
        buf_append(&w->changes, &klen, sizeof(klen));
        buf_append(&w->changes, key, klen);
    }
    w->nchanges++;
}

struct change {
    int kind;
    const char *key;
    size_t klen;
};

/* Decodes the change at *cur in w->changes (kind byte, then for a key its length as a
 * size_t and its bytes) and advances. */
static void next_change(const struct wal *w, size_t *cur, struct change *ch)
{
    const char *p = w->changes.data + *cur;
    ch->kind = *p++;
    ch->key = NULL;
    ch->klen = 0;
    if (ch->kind == CHANGE_KEY) {
        memcpy(&ch->klen, p, sizeof(ch->klen));
        ch->key = p + sizeof(ch->klen);
        p = ch->key + ch->klen;
    }
    *cur = (size_t)(p - w->changes.data);
    kv_assert(*cur <= w->changes.len);
}

/* Logs key's current state: SET with its value and expiry, or DEL when absent. */
static void log_key_state(struct wal *w, struct ks *ks, const struct change *ch)
{
    struct ks_entry *e = ks_peek(ks, ch->key, ch->klen);
    if (!e) {
        walf_op_del(&w->pending, ch->key, ch->klen);
        return;
    }
    struct ks_view v;
    ks_view(e, &v);
    walf_op_set(&w->pending, v.key, v.klen, v.val, v.vlen, v.expire_ms);
}

/* Keys already logged in this commit, for commits with many changes (a big MSET or a
 * transaction), so that each key's final state is written once. Open addressing; small
 * commits skip it (a repeated key is harmless, only larger). */
struct seen {
    struct change *slots; /* key == NULL: empty */
    size_t mask;
};

static void seen_init(struct seen *s, size_t nchanges)
{
    s->slots = NULL;
    s->mask = 0;
    if (nchanges <= WAL_DEDUPE_MIN) return;
    size_t cap = 64;
    while (cap < nchanges * 2)
        cap *= 2;
    s->slots = kv_calloc(cap, sizeof(*s->slots));
    s->mask = cap - 1;
}

static void seen_clear(struct seen *s)
{
    if (s->slots) memset(s->slots, 0, (s->mask + 1) * sizeof(*s->slots));
}

/* Returns 1 if ch's key was not seen yet (and remembers it), 0 if it was. */
static int seen_add(struct seen *s, const struct change *ch)
{
    if (!s->slots) return 1;
    size_t i = (size_t)ht_hash_bytes(ch->key, ch->klen) & s->mask;
    for (; s->slots[i].key; i = (i + 1) & s->mask) {
        const struct change *o = &s->slots[i];
        if (o->klen == ch->klen && memcmp(o->key, ch->key, ch->klen) == 0) return 0;
    }
    s->slots[i] = *ch;
    return 1;
}

static void write_pending(struct wal *w);

uint64_t wal_commit(struct wal *w, struct ks *ks)
{
    if (w->nchanges == 0) return 0;
    size_t start = walf_begin(&w->pending), cur = 0;
    struct seen seen;
    seen_init(&seen, w->nchanges);
    while (cur < w->changes.len) {
        struct change ch;
        next_change(w, &cur, &ch);
        if (ch.kind == CHANGE_FLUSH) {
            walf_op_flush(&w->pending);
            seen_clear(&seen);
        } else if (seen_add(&seen, &ch)) {
            log_key_state(w, ks, &ch);
        }
    }
    kv_free(seen.slots);
    w->changes.len = 0;
    w->nchanges = 0;
    if (w->changes.cap > WAL_PENDING_KEEP) buf_deinit(&w->changes); /* after a huge MSET */
    if (walf_end(&w->pending, start, w->last_lsn + 1) != 0) {
        /* Over 2 GiB of changes in one command: already applied in memory, impossible to log
         * atomically. Stopping is the only answer that loses no acknowledged write. */
        log_error("WAL: one transaction changed more than 2 GiB; exiting without "
                  "acknowledging it");
        _exit(1);
    }
    w->last_lsn++;
    if (!w->cfg.group_commit && w->cfg.fsync == WAL_FSYNC_ALWAYS)
        wal_sync_now(w); /* measuring mode: one write and one fdatasync per record */
    return w->last_lsn;
}

/* ---- writing ---- */

static void fatal_fsync(struct wal *w, int e)
{
    log_error("fsync of WAL %s failed: %s; exiting without acknowledging the writes it covered "
              "(a restart replays the WAL)",
              w->path, strerror(e));
    _exit(1);
}

/* fdatasync on the calling thread; fatal on failure. */
static void sync_fd(struct wal *w)
{
    uint64_t t0 = hist_now_ns();
    if (fdatasync(w->fd) != 0) fatal_fsync(w, errno);
    uint64_t ns = hist_now_ns() - t0;
    pthread_mutex_lock(&w->mu);
    w->sync_us = (int64_t)(ns / 1000);
    hist_add(&w->fsync_hist, ns);
    pthread_mutex_unlock(&w->mu);
}

static void set_blocked(struct wal *w, const char *what, int e)
{
    if (!w->blocked)
        log_warn("WAL %s: %s failed: %s; refusing writes until it succeeds (reads still work)",
                 w->path, what, strerror(e));
    w->blocked = 1;
    snprintf(w->reason, sizeof(w->reason), "%s", strerror(e));
    w->write_errors++;
    w->last_retry_ms = util_mstime();
}

/* Reserves disk blocks ahead so appends never hit ENOSPC mid-record; returns 0 or -1. */
static int reserve(struct wal *w, size_t need)
{
    if (!w->reserve_ok || w->written_off + need <= w->reserved_to) return 0;
    off_t len = WAL_RESERVE_BYTES > (long long)need ? WAL_RESERVE_BYTES : (off_t)need;
    /* A full step first; when the disk is nearly full, just what these records need. */
    if (fallocate(w->fd, FALLOC_FL_KEEP_SIZE, (off_t)w->written_off, len) == 0 ||
        (errno == ENOSPC &&
         fallocate(w->fd, FALLOC_FL_KEEP_SIZE, (off_t)w->written_off, len = (off_t)need) == 0)) {
        w->reserved_to = w->written_off + (uint64_t)len;
        return 0;
    }
    if (errno == EOPNOTSUPP || errno == ENOSYS) { /* filesystem without it: plain appends */
        w->reserve_ok = 0;
        return 0;
    }
    set_blocked(w, "space reservation", errno);
    return -1;
}

/* Writes every pending record; on failure cuts the file back to the last complete record and
 * keeps the records for a retry. */
static void write_pending(struct wal *w)
{
    if (w->pending.len == 0 || reserve(w, w->pending.len) != 0) return;
    size_t off = 0;
    while (off < w->pending.len) {
        ssize_t n = write(w->fd, w->pending.data + off, w->pending.len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            if (off > 0) {
                if (ftruncate(w->fd, (off_t)w->written_off) != 0)
                    log_error("WAL %s: cannot cut a partial record off: %s", w->path,
                              strerror(errno));
                w->reserved_to = w->written_off; /* truncating also freed the reservation */
            }
            set_blocked(w, "write", e);
            return;
        }
        off += (size_t)n;
    }
    if (w->tap)
        w->tap(w->tap_ctx, w->pending.data, w->pending.len, w->written_lsn + 1, w->last_lsn);
    w->written_off += w->pending.len;
    w->records += w->last_lsn - w->written_lsn;
    w->written_lsn = w->last_lsn;
    w->pending.len = 0;
    if (w->pending.cap > WAL_PENDING_KEEP) buf_deinit(&w->pending);
    if (w->blocked) {
        w->blocked = 0;
        log_info("WAL writable again (%s)", w->path);
    }
}

static void request_sync(struct wal *w)
{
    pthread_mutex_lock(&w->mu);
    if (w->written_lsn > w->sync_req_lsn) {
        w->sync_req_lsn = w->written_lsn;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
}

/* Under fsync always the loop itself runs the group's fdatasync, right after writing the
 * records of every command of this loop iteration: all clients whose requests arrived
 * together share it, and the loop does not read new requests meanwhile, so the next group
 * gathers everything that arrives during the sync. Measured here, this batches better than
 * handing the sync to a thread, whose early start splits clients into small groups (see
 * the durability notes in docs/ARCHITECTURE.md). */
void wal_write(struct wal *w)
{
    if (w->blocked) return; /* wal_cron retries */
    if (w->cfg.fsync == WAL_FSYNC_ALWAYS && w->last_lsn > w->durable_lsn)
        wal_sync_now(w);
    else
        write_pending(w);
}

/* The sync thread: fdatasync whenever the loop asks for more than is already synced. */
static void *sync_main(void *arg)
{
    struct wal *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && (w->paused || (w->sync_req_lsn <= w->sync_done_lsn && !w->sync_errno)))
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->stop || w->sync_errno) break;
        uint64_t target = w->sync_req_lsn; /* everything up to here was written before asking */
        int fd = w->fd;
        w->syncing = 1;
        pthread_mutex_unlock(&w->mu);
        uint64_t t0 = hist_now_ns();
        int rc = fdatasync(fd);
        int e = errno;
        uint64_t ns = hist_now_ns() - t0;
        pthread_mutex_lock(&w->mu);
        w->syncing = 0;
        pthread_cond_signal(&w->idle);
        w->sync_us = (int64_t)(ns / 1000);
        hist_add(&w->fsync_hist, ns);
        if (rc != 0)
            w->sync_errno = e;
        else
            w->sync_done_lsn = target;
        ev_wakeup(w->loop);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int wal_reap(struct wal *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t done = w->sync_done_lsn;
    int e = w->sync_errno;
    pthread_mutex_unlock(&w->mu);
    if (e) fatal_fsync(w, e);
    if (done <= w->durable_lsn) return 0;
    w->durable_lsn = done;
    return 1;
}

void wal_cron(struct wal *w)
{
    if (w->blocked && util_mstime() - w->last_retry_ms >= WAL_RETRY_MS) {
        w->last_retry_ms = util_mstime();
        write_pending(w); /* under always, the next wal_write syncs what this wrote */
    }
    if (w->cfg.fsync == WAL_FSYNC_EVERYSEC && w->written_lsn > w->durable_lsn) request_sync(w);
}

int wal_sync_now(struct wal *w)
{
    write_pending(w);
    if (w->blocked) return -1;
    sync_fd(w);
    w->durable_lsn = w->written_lsn;
    return 0;
}

/* ---- dropping what a snapshot covers ---- */

static void stop_thread(struct wal *w);

int wal_mark(struct wal *w, uint64_t *lsn, uint64_t *off)
{
    write_pending(w);
    if (w->blocked || w->written_lsn != w->last_lsn) return -1;
    *lsn = w->last_lsn;
    *off = w->written_off;
    return 0;
}

/* Writes a fresh header, the marker record of LSN lsn and the records from `off` of the current
 * log into tmp and syncs it; returns the new log's fd (O_APPEND) or -1. The marker (a record
 * with no changes, skipped by replay since the snapshot covers it) tells recovery where this
 * log begins even when nothing follows it, so a snapshot removed or replaced by an older one
 * is detected instead of silently restarting from LSN 1. */
static int copy_tail(struct wal *w, const char *tmp, uint64_t lsn, uint64_t off, size_t *head,
                     struct kv_err *err)
{
    int in = open(w->path, O_RDONLY | O_CLOEXEC);
    if (in < 0) return kv_err_sys(err, "cannot open %s", w->path);
    /* Not O_APPEND yet: copy_file_range refuses an O_APPEND destination (EBADF). */
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        close(in);
        return kv_err_sys(err, "cannot create %s", tmp);
    }
    struct buf h;
    buf_init(&h);
    walf_file_header(&h);
    if (lsn > 0) kv_assert(walf_end(&h, walf_begin(&h), lsn) == 0);
    int rc = write(out, h.data, h.len) == (ssize_t)h.len ? 0 : -1;
    *head = h.len;
    buf_deinit(&h);
    off64_t from = (off64_t)off;
    size_t left = w->written_off - off;
    while (rc == 0 && left > 0) {
        ssize_t n = copy_file_range(in, &from, out, NULL, left, 0);
        if (n <= 0)
            rc = -1;
        else
            left -= (size_t)n;
    }
    if (rc == 0 && (fdatasync(out) != 0 || fcntl(out, F_SETFL, O_APPEND) != 0)) rc = -1;
    if (rc != 0) kv_err_sys(err, "cannot write %s", tmp);
    close(in);
    if (rc != 0) {
        close(out);
        unlink(tmp);
        return -1;
    }
    return out;
}

static int start_thread(struct wal *w, struct kv_err *err)
{
    w->stop = 0;
    int rc = pthread_create(&w->thread, NULL, sync_main, w);
    if (rc != 0) return kv_err_set(err, KV_ESYS, "pthread_create: %s", strerror(rc));
    w->thread_started = 1;
    return 0;
}

int wal_rebase(struct wal *w, uint64_t lsn, uint64_t off, struct kv_err *err)
{
    kv_assert(lsn <= w->last_lsn && off >= WALF_FILE_HDR && off <= w->written_off);
    write_pending(w);
    if (w->blocked)
        return kv_err_set(err, KV_ESYS, "WAL %s is not writable: %s", w->path, w->reason);
    char tmp[WAL_PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.new", w->path);
    size_t head = WALF_FILE_HDR;
    int fd = copy_tail(w, tmp, lsn, off, &head, err);
    if (fd < 0) return -1;
    if (rename(tmp, w->path) != 0) {
        kv_err_sys(err, "cannot rename %s", tmp);
        close(fd);
        unlink(tmp);
        return -1;
    }
    /* The sync thread must not sync the old fd while it is swapped. It is paused, not
     * restarted: a thread created here could be inside malloc when the next snapshot forks,
     * and a child of a process whose allocator lock another thread held can deadlock. */
    pthread_mutex_lock(&w->mu);
    w->paused = 1;
    while (w->syncing)
        pthread_cond_wait(&w->idle, &w->mu);
    pthread_mutex_unlock(&w->mu);
    close(w->fd);
    w->fd = fd;
    uint64_t kept = w->written_off - off;
    w->written_off = head + kept;
    w->reserved_to = w->written_off;
    w->records = w->written_lsn - lsn;
    w->durable_lsn = w->written_lsn; /* copy_tail synced all of it */
    pthread_mutex_lock(&w->mu);
    w->sync_req_lsn = w->sync_done_lsn = w->written_lsn;
    w->paused = 0;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    (void)reserve(w, 1);
    /* A crash before this fsync leaves the old log, which recovery handles as well. */
    return fs_fsync_dir(w->cfg.dir, err);
}

/* ---- open, close, queries ---- */

static void stop_thread(struct wal *w)
{
    if (!w->thread_started) return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    w->thread_started = 0;
}

static void wal_free(struct wal *w)
{
    stop_thread(w);
    if (w->fd >= 0) close(w->fd);
    buf_deinit(&w->pending);
    buf_deinit(&w->changes);
    pthread_cond_destroy(&w->cv);
    pthread_cond_destroy(&w->idle);
    pthread_mutex_destroy(&w->mu);
    kv_free(w);
}

static int open_for_append(struct wal *w, struct kv_err *err)
{
    w->fd = open(w->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (w->fd < 0) return kv_err_sys(err, "cannot open %s", w->path);
    w->reserve_ok = 1;
    w->reserved_to = w->written_off;
    /* Without space even for the reservation the server starts anyway, refusing writes until
     * there is some (wal_cron retries). */
    if (reserve(w, 1) != 0)
        log_warn("WAL %s: starting read-only until disk space is available", w->path);
    return start_thread(w, err);
}

struct wal *wal_open(const struct wal_config *cfg, struct ks *ks, struct ev_loop *loop,
                     struct kv_err *err)
{
    kv_assert(ks->on_touch == NULL);
    (void)crc32c_hw(); /* initialise the CRC tables before any other thread exists */
    struct wal *w = kv_calloc(1, sizeof(*w));
    w->cfg = *cfg;
    w->loop = loop;
    w->fd = -1;
    buf_init(&w->pending);
    buf_init(&w->changes);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    pthread_cond_init(&w->idle, NULL);
    int n = snprintf(w->path, sizeof(w->path), "%s/%s", cfg->dir, WAL_FILE);
    if (n < 0 || (size_t)n >= sizeof(w->path)) {
        kv_err_set(err, KV_EINVAL, "data dir path too long");
        goto fail;
    }
    if (recover(w, ks, err) != 0 || open_for_append(w, err) != 0) goto fail;
    return w;
fail:
    wal_free(w);
    return NULL;
}

int wal_close(struct wal *w, struct kv_err *err)
{
    stop_thread(w);
    write_pending(w);
    int rc = 0;
    if (w->blocked)
        rc = kv_err_set(err, KV_ESYS, "WAL %s: %zu bytes of records could not be written (%s)",
                        w->path, w->pending.len, w->reason);
    else if (fdatasync(w->fd) != 0)
        rc = kv_err_sys(err, "fsync of WAL %s", w->path);
    else if (w->reserve_ok && ftruncate(w->fd, (off_t)w->written_off) != 0)
        rc = kv_err_sys(err, "cannot release the space reserved for %s", w->path);
    wal_free(w);
    return rc;
}

int wal_holds_replies(const struct wal *w)
{
    return w->cfg.fsync == WAL_FSYNC_ALWAYS;
}

int wal_held(const struct wal *w, const struct wal_hold *h)
{
    if (h->write_lsn > w->durable_lsn) return 1;
    return h->read_lsn > w->durable_lsn && !w->blocked;
}

uint64_t wal_last_lsn(const struct wal *w)
{
    return w->last_lsn;
}

uint64_t wal_durable_lsn(const struct wal *w)
{
    return w->durable_lsn;
}

int wal_writable(const struct wal *w, const char **reason)
{
    if (w->blocked && reason) *reason = w->reason;
    return !w->blocked;
}

void wal_get_stats(const struct wal *w, struct wal_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->bytes = w->written_off;
    st->last_lsn = w->last_lsn;
    st->durable_lsn = w->durable_lsn;
    st->records = w->records;
    st->write_errors = w->write_errors;
    pthread_mutex_lock((pthread_mutex_t *)&w->mu);
    st->last_fsync_us = w->sync_us;
    st->fsync = w->fsync_hist;
    pthread_mutex_unlock((pthread_mutex_t *)&w->mu);
    st->replayed_records = w->replayed;
    st->replay_ms = w->replay_ms;
    st->blocked = w->blocked;
    snprintf(st->reason, sizeof(st->reason), "%s", w->reason);
}
