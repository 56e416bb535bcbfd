/* snap.c - Parquet snapshots: load, fork-and-write, install, pacing (see snap.h). */
#include "snap.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "fsutil.h"
#include "jsonsnap.h"
#include "log.h"
#include "parquet.h"
#include "pqcodec.h"
#include "pqread.h"
#include "pqwrite.h"
#include "prio.h"
#include "util.h"

#define SNAP_PATH_MAX 2048

struct snap {
    struct snap_config cfg;
    char path[SNAP_PATH_MAX], tmp[SNAP_PATH_MAX + 8];
    char json[SNAP_PATH_MAX], json_migrated[SNAP_PATH_MAX];
    struct ev_loop *loop;
    struct ks *ks;
    struct wal *wal;
    struct bg *bg; /* closes replaced snapshot files */
    snap_done_fn *done;
    void *done_ctx;
    /* the running snapshot */
    pid_t pid; /* 0 when none */
    int pidfd, errfd;
    int normal_prio; /* the child runs at normal priority (raised or started so) */
    int64_t started_us;
    uint64_t run_lsn, run_off;
    uint64_t gen; /* generation of the running (or last) snapshot */
    int again;    /* a request came while one ran: start another when it ends */
    int force;    /* start one at the next cron (after loading JSON) */
    int json_pending;
    uint64_t lsn; /* the installed snapshot covers records up to here */
    int64_t last_end_us;
    struct snap_stats st;
};

static void set_path(char *out, size_t n, const char *dir, const char *name)
{
    int k = snprintf(out, n, "%s/%s", dir, name);
    kv_assert(k > 0 && (size_t)k < n); /* config limits the data dir far below this */
}

struct snap *snap_new(const struct snap_config *cfg, struct ev_loop *loop)
{
    struct snap *sn = kv_calloc(1, sizeof(*sn));
    sn->cfg = *cfg;
    sn->loop = loop;
    sn->pidfd = sn->errfd = -1;
    set_path(sn->path, sizeof(sn->path), cfg->dir, SNAP_FILE);
    set_path(sn->tmp, sizeof(sn->tmp), cfg->dir, SNAP_FILE SNAP_TMP_SUFFIX);
    set_path(sn->json, sizeof(sn->json), cfg->dir, SNAP_JSON_FILE);
    set_path(sn->json_migrated, sizeof(sn->json_migrated), cfg->dir, SNAP_JSON_MIGRATED);
    sn->st.loaded_from = "none";
    sn->st.last_ok = 1;
    sn->st.last_ok_unix = util_mstime() / 1000;
    return sn;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* ---- loading ---- */

/* Rows go into a bulk load when the keyspace starts empty (start-up), else through ks_put
 * (--import into loaded data, where a file's key may replace a live one, on one thread). A
 * bulk load is read on SNAP_LOAD_THREADS lanes, each with its own bulk on its own lines. */
struct load_lane {
    _Alignas(64) struct ks_bulk b;
    uint64_t rows;
    uint32_t rg; /* the row group b was last marked with; UINT32_MAX before the first */
};

struct loader {
    struct snap *sn;
    int bulk;
    struct load_lane lane[SNAP_LOAD_THREADS];
};

static void loader_init(struct loader *ld, struct snap *sn, int bulk)
{
    memset(ld, 0, sizeof(*ld));
    ld->sn = sn;
    ld->bulk = bulk;
    for (int i = 0; i < SNAP_LOAD_THREADS; i++)
        ld->lane[i].rg = UINT32_MAX;
}

/* Runs on the row's lane: touches only that lane's state (and reads the keyspace's clock). */
static int take_row(struct loader *ld, unsigned lane, uint32_t rg, const void *key, size_t klen,
                    const void *val, size_t vlen, int64_t expire, struct kv_err *err)
{
    kv_assert(lane < SNAP_LOAD_THREADS && (ld->bulk || lane == 0));
    struct load_lane *l = &ld->lane[lane];
    if (klen > KS_VALUE_MAX || vlen > KS_VALUE_MAX)
        return kv_err_set(err, KV_ELIMIT, "a key or value is over %llu bytes", KS_VALUE_MAX);
    if (!ld->bulk) {
        ks_put(ld->sn->ks, key, klen, val, vlen, expire);
    } else {
        if (rg != l->rg) ks_bulk_mark(&l->b, rg); /* a later row group's rows win */
        l->rg = rg;
        ks_bulk_add(&l->b, key, klen, val, vlen, expire);
    }
    l->rows++;
    return 0;
}

/* Links a bulk load in (ok) or drops it; counts the rows loaded. */
static void loader_finish(struct loader *ld, int ok)
{
    struct ks_bulk b[SNAP_LOAD_THREADS];
    for (int i = 0; i < SNAP_LOAD_THREADS; i++) {
        ld->sn->st.loaded_rows += ld->lane[i].rows;
        b[i] = ld->lane[i].b;
    }
    if (!ld->bulk) return;
    if (!ok) {
        for (int i = 0; i < SNAP_LOAD_THREADS; i++)
            ks_bulk_abort(&b[i]);
        return;
    }
    size_t dups = ks_bulk_finish(ld->sn->ks, b, SNAP_LOAD_THREADS);
    ld->sn->st.loaded_rows -= dups;
    if (dups) log_info("%zu keys appeared more than once; the last row of each was kept", dups);
}

static int load_row(void *ctx, const struct pqr_row *row, struct kv_err *err)
{
    struct loader *ld = ctx;
    if (row->has_expire && row->expire_at_ms <= ld->sn->ks->now_ms) return 0; /* expired */
    return take_row(ld, row->lane, row->row_group, row->key, row->klen, row->val, row->vlen,
                    row->has_expire ? row->expire_at_ms : KS_NO_TTL, err);
}

static int load_json_row(void *ctx, const char *key, size_t klen, const char *val, size_t vlen,
                         struct kv_err *err)
{
    return take_row(ctx, 0, 0, key, klen, val, vlen, KS_NO_TTL, err);
}

/* Checks the format version before the first row. */
static int load_start(void *ctx, const struct pqr_info *info, struct kv_err *err)
{
    (void)ctx;
    if (info->panda && info->format_version > PQ_FORMAT_VERSION)
        return kv_err_set(err, KV_EINVAL, "Panda format version %d; this server reads up to %d",
                          info->format_version, PQ_FORMAT_VERSION);
    return 0;
}

/* what: "snapshot" or "import file", for the messages. */
static int load_parquet(struct snap *sn, const char *what, const char *path, uint64_t *lsn,
                        struct kv_err *err)
{
    struct pqr_info info;
    struct kv_err e;
    struct loader ld;
    loader_init(&ld, sn, ks_size(sn->ks) == 0);
    struct pqr_opts o = {.on_start = load_start, .threads = ld.bulk ? SNAP_LOAD_THREADS : 1};
    int rc = pqr_read_file_opts(path, &o, load_row, &ld, &info, &e);
    loader_finish(&ld, rc == 0);
    if (rc != 0) return kv_err_set(err, KV_EINVAL, "%s %s cannot be loaded: %s", what, path, e.msg);
    *lsn = info.panda ? info.lsn : 0;
    return 0;
}

int snap_load(struct snap *sn, struct ks *ks, uint64_t *lsn, struct kv_err *err)
{
    sn->ks = ks;
    ks->now_ms = util_mstime();
    *lsn = 0;
    if (unlink(sn->tmp) == 0) log_warn("removed %s left by an interrupted snapshot", sn->tmp);
    int64_t t0 = util_monotonic_us();
    if (access(sn->path, F_OK) == 0) {
        if (load_parquet(sn, "snapshot", sn->path, lsn, err) != 0) return -1;
        sn->st.loaded_from = "parquet";
    } else if (access(sn->json, F_OK) == 0) {
        size_t n;
        struct loader ld;
        loader_init(&ld, sn, 1);
        int rc = jsonsnap_load(sn->json, load_json_row, &ld, &n, err);
        loader_finish(&ld, rc == 0);
        if (rc != 0) return -1;
        sn->st.loaded_from = "json";
        sn->json_pending = sn->force = 1;
    } else {
        return 0;
    }
    sn->lsn = *lsn;
    sn->st.load_ms = (util_monotonic_us() - t0) / 1000;
    double secs = (double)(util_monotonic_us() - t0) / 1e6;
    log_info("loaded %llu keys from %s in %lld ms (%.0f keys/s), snapshot LSN %llu",
             (unsigned long long)sn->st.loaded_rows,
             strcmp(sn->st.loaded_from, "json") == 0 ? sn->json : sn->path,
             (long long)sn->st.load_ms, secs > 0 ? (double)sn->st.loaded_rows / secs : 0.0,
             (unsigned long long)*lsn);
    return 0;
}

void snap_attach(struct snap *sn, struct ks *ks, struct wal *wal, struct bg *bg, snap_done_fn *done,
                 void *ctx)
{
    sn->ks = ks;
    sn->wal = wal;
    sn->bg = bg;
    sn->done = done;
    sn->done_ctx = ctx;
    sn->st.file_bytes = file_size(sn->path);
}

/* ---- writing ---- */

/* One writing thread: its writer and the bucket ranges it takes from the shared counter. */
struct writer {
    struct ks *ks;
    atomic_uint *next; /* the next of SNAP_CHUNKS bucket ranges to take */
    struct pqw *w;
    struct kv_err err;
    uint64_t rows;
    int failed;
};

static void write_entry(const struct ks_entry *e, void *arg)
{
    struct writer *x = arg;
    if (x->failed) return;
    struct ks_view v;
    ks_view(e, &v);
    if (pqw_add(x->w, v.key, v.klen, v.val, v.vlen, v.expire_ms, &x->err) != 0)
        x->failed = 1;
    else
        x->rows++;
}

/* Takes bucket ranges until none is left: the threads finish together however the keys
 * are spread over the table. */
static void *writer_main(void *arg)
{
    struct writer *x = arg;
    for (unsigned c; !x->failed && (c = atomic_fetch_add(x->next, 1)) < SNAP_CHUNKS;)
        ks_foreach_part(x->ks, c, SNAP_CHUNKS, write_entry, x);
    return NULL;
}

/* Writes the keyspace to the temporary file with SNAP_THREADS threads and fdatasyncs it. */
static int write_file(struct snap *sn, uint64_t lsn, uint64_t *rows, struct kv_err *err)
{
    int fd = open(sn->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    *rows = 0;
    if (fd < 0) return kv_err_sys(err, "cannot create %s", sn->tmp);
    struct pqw_opts o = {sn->cfg.codec, sn->cfg.row_group_rows, lsn, 1};
    struct pqw *first = pqw_open(fd, &o, err);
    if (!first) {
        close(fd);
        unlink(sn->tmp);
        return -1;
    }
    atomic_uint next = 0;
    struct writer x[SNAP_THREADS];
    pthread_t t[SNAP_THREADS];
    int started[SNAP_THREADS] = {0};
    for (int i = 0; i < SNAP_THREADS; i++) {
        x[i] = (struct writer){.ks = sn->ks, .next = &next};
        x[i].w = i == 0 ? first : pqw_open_part(first);
        if (i > 0) started[i] = pthread_create(&t[i], NULL, writer_main, &x[i]) == 0;
    }
    writer_main(&x[0]);
    int rc = 0;
    for (int i = SNAP_THREADS - 1; i > 0; i--) {
        if (started[i]) pthread_join(t[i], NULL); /* without its thread, x[0] took its share */
        if (x[i].failed && rc == 0) *err = x[i].err, rc = -1;
        if (rc == 0 && pqw_join(first, x[i].w, err) != 0)
            rc = -1;
        else if (rc != 0)
            pqw_abort(x[i].w);
        *rows += x[i].rows;
    }
    if (x[0].failed && rc == 0) *err = x[0].err, rc = -1;
    *rows += x[0].rows;
    if (rc == 0)
        rc = pqw_finish(first, NULL, err);
    else
        pqw_abort(first);
    if (rc == 0 && fdatasync(fd) != 0) rc = kv_err_sys(err, "fdatasync of %s", sn->tmp);
    close(fd);
    if (rc != 0) unlink(sn->tmp);
    return rc;
}

static void close_job(void *arg)
{
    close((int)(intptr_t)arg);
}

/* Renames the written file into place and drops the WAL records it covers. */
static int replace(struct snap *sn, uint64_t lsn, uint64_t off, struct kv_err *err)
{
    if (rename(sn->tmp, sn->path) != 0) return kv_err_sys(err, "cannot rename %s", sn->tmp);
    if (fs_fsync_dir(sn->cfg.dir, err) != 0) return -1;
    sn->lsn = lsn;
    sn->st.file_bytes = file_size(sn->path);
    /* The snapshot is durable from here on; what follows only tidies up, and a failure
     * leaves files that recover just as well (a longer WAL, a JSON file loaded never again
     * since the Parquet file exists), so it is logged and retried by the next snapshot. */
    struct kv_err e;
    if (wal_rebase(sn->wal, lsn, off, &e) != 0)
        log_warn("snapshot installed, but the WAL keeps the records it covers: %s", e.msg);
    if (sn->json_pending) {
        if (rename(sn->json, sn->json_migrated) == 0 && fs_fsync_dir(sn->cfg.dir, &e) == 0) {
            sn->json_pending = 0;
            log_info("legacy %s migrated to Parquet; kept as %s", sn->json, sn->json_migrated);
        } else {
            log_warn("cannot rename %s to %s: %s", sn->json, sn->json_migrated, strerror(errno));
        }
    }
    return 0;
}

static int install(struct snap *sn, uint64_t lsn, uint64_t off, struct kv_err *err)
{
    /* Renaming over the old file would free its blocks and cached pages on this thread (ms
     * for a large file), and the directory fsync would wait for that too. Held open, they
     * are freed when the background thread closes it, after the new file is in place. */
    int old = sn->bg ? open(sn->path, O_RDONLY | O_CLOEXEC) : -1;
    int rc = replace(sn, lsn, off, err);
    if (old >= 0) bg_submit(sn->bg, close_job, NULL, (void *)(intptr_t)old);
    return rc;
}

static void finish(struct snap *sn, int ok, uint64_t rows, const char *why)
{
    int64_t now = util_monotonic_us();
    sn->st.last_duration_ms = (now - sn->started_us) / 1000;
    sn->st.total_ms += sn->st.last_duration_ms;
    sn->last_end_us = now;
    sn->st.last_ok = ok;
    if (ok) {
        sn->st.count++;
        sn->st.last_ok_unix = util_mstime() / 1000;
        sn->st.last_rows = rows;
        sn->st.last_bytes = sn->st.file_bytes;
        sn->st.last_lsn = sn->lsn;
        sn->st.last_error[0] = 0;
        log_info("snapshot %llu: %llu keys, %llu bytes, LSN %llu, in %lld ms",
                 (unsigned long long)sn->gen, (unsigned long long)rows,
                 (unsigned long long)sn->st.file_bytes, (unsigned long long)sn->lsn,
                 (long long)sn->st.last_duration_ms);
    } else {
        sn->st.failures++;
        snprintf(sn->st.last_error, sizeof(sn->st.last_error), "%s", why);
        log_error("snapshot %llu failed: %s", (unsigned long long)sn->gen, why);
    }
    if (sn->done) sn->done(sn->done_ctx, sn->gen, ok, why);
}

int snap_import(struct snap *sn, const char *path, struct kv_err *err)
{
    uint64_t ignored, lsn, off, rows;
    int64_t t0 = util_monotonic_us();
    sn->st.loaded_rows = 0;
    if (load_parquet(sn, "import file", path, &ignored, err) != 0) return -1;
    log_info("imported %llu keys from %s in %lld ms", (unsigned long long)sn->st.loaded_rows, path,
             (long long)((util_monotonic_us() - t0) / 1000));
    if (wal_mark(sn->wal, &lsn, &off) != 0)
        return kv_err_set(err, KV_ESYS, "the WAL cannot be written; import not saved");
    sn->gen++;
    sn->started_us = util_monotonic_us();
    if (write_file(sn, lsn, &rows, err) != 0 || install(sn, lsn, off, err) != 0) return -1;
    finish(sn, 1, rows, NULL);
    return 0;
}

/* ---- the snapshot child ---- */

static void child_main(struct snap *sn, int errfd)
{
    struct kv_err err;
    uint64_t rows;
    kv_alloc_drop_cache(); /* the writers' buffers: fresh pages, not copies of the parent's */
    if (write_file(sn, sn->run_lsn, &rows, &err) != 0) {
        ssize_t w = write(errfd, err.msg, strlen(err.msg));
        (void)w;
        _exit(1);
    }
    ssize_t w = write(errfd, &rows, sizeof(rows));
    _exit(w == (ssize_t)sizeof(rows) ? 0 : 1);
}

static void on_child(struct ev_loop *loop, int fd, void *data, int mask);

/* Forks the child that writes the keyspace as of now; normal: at normal priority. */
static int spawn(struct snap *sn, int normal, struct kv_err *err)
{
    kv_assert(sn->pid == 0 && sn->wal);
    if (wal_mark(sn->wal, &sn->run_lsn, &sn->run_off) != 0)
        return kv_err_set(err, KV_ESYS, "the WAL cannot be written");
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return kv_err_sys(err, "pipe");
    pid_t parent = getpid();
    kv_fork_gate_close();
    pid_t pid = fork();
    if (pid != 0) kv_fork_gate_open();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return kv_err_sys(err, "fork");
    }
    if (pid == 0) {
        /* Die with the parent: an orphan would keep the data dir's lock (inherited) and stop
         * a restarted server from starting. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(1);
        /* Idle priority (its writer threads inherit it): on a busy machine the snapshot
         * yields the CPU to the server instead of adding to its latency. SCHED_IDLE, not just
         * nice 19: the kernel preempts an idle-policy task as soon as the server wakes up,
         * where a nice task may first run out its time slice (milliseconds). unstarve()
         * raises it when other processes leave it no CPU at all. */
        if (!normal) (void)prio_lower();
        /* Keep only stdio and the report pipe: a client socket held open here would not
         * close when the server closes it (QUIT, a dropped client) until the child exits. */
        if (p[1] > 3) close_range(3, (unsigned)p[1] - 1, 0);
        close_range((unsigned)p[1] + 1, ~0U, 0);
        child_main(sn, p[1]);
    }
    close(p[1]);
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0 || ev_add(sn->loop, pidfd, EV_READABLE, on_child, sn, err) != 0) {
        if (pidfd < 0) kv_err_sys(err, "pidfd_open");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        if (pidfd >= 0) close(pidfd);
        close(p[0]);
        unlink(sn->tmp);
        return -1;
    }
    sn->pid = pid;
    sn->ks->table.defer_resize = 1;
    sn->pidfd = pidfd;
    sn->errfd = p[0];
    sn->normal_prio = normal;
    return 0;
}

static int start_child(struct snap *sn, struct kv_err *err)
{
    if (spawn(sn, 0, err) != 0) return -1;
    sn->started_us = util_monotonic_us();
    sn->gen++;
    log_info("snapshot %llu started by pid %d (LSN %llu)", (unsigned long long)sn->gen,
             (int)sn->pid, (unsigned long long)sn->run_lsn);
    return 0;
}

/* Starts the next snapshot; a failure answers the requests waiting for it. */
static void start_or_fail(struct snap *sn)
{
    struct kv_err err;
    if (start_child(sn, &err) == 0) return;
    sn->gen++;
    sn->started_us = util_monotonic_us();
    finish(sn, 0, 0, err.msg);
}

/* Reaps the child: returns its row count, or -1 with why filled. */
static int64_t reap_child(struct snap *sn, char *why, size_t n)
{
    int status = 0;
    while (waitpid(sn->pid, &status, 0) < 0 && errno == EINTR) {
    }
    char msg[SNAP_ERR_MAX];
    ssize_t got = read(sn->errfd, msg, sizeof(msg) - 1);
    ev_del(sn->loop, sn->pidfd, EV_READABLE);
    close(sn->pidfd);
    close(sn->errfd);
    sn->pid = 0;
    sn->ks->table.defer_resize = 0;
    sn->pidfd = sn->errfd = -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && got == (ssize_t)sizeof(uint64_t)) {
        uint64_t rows;
        memcpy(&rows, msg, sizeof(rows));
        return (int64_t)rows;
    }
    if (WIFSIGNALED(status))
        snprintf(why, n, "the snapshot process was killed by signal %d", WTERMSIG(status));
    else
        snprintf(why, n, "%.*s", got > 0 ? (int)got : 0, msg);
    if (!why[0]) snprintf(why, n, "the snapshot process failed");
    unlink(sn->tmp);
    return -1;
}

/* Answers the running snapshot's requests and starts the next one if asked for meanwhile. */
static void end_run(struct snap *sn, int ok, uint64_t rows, const char *why)
{
    /* The done hook may run commands a waiting client had pipelined, and a SAVE among them
     * starts the next snapshot itself, which then also answers the requests that came
     * during this one. */
    int again = sn->again;
    sn->again = 0;
    finish(sn, ok, rows, why);
    if (again && sn->pid == 0) start_or_fail(sn);
}

static void on_child(struct ev_loop *loop, int fd, void *data, int mask)
{
    (void)loop;
    (void)fd;
    (void)mask;
    struct snap *sn = data;
    char why[SNAP_ERR_MAX] = "";
    int64_t rows = reap_child(sn, why, sizeof(why));
    if (rows >= 0) {
        struct kv_err err;
        if (install(sn, sn->run_lsn, sn->run_off, &err) != 0) {
            snprintf(why, sizeof(why), "%s", err.msg);
            rows = -1;
        }
    }
    end_run(sn, rows >= 0, rows >= 0 ? (uint64_t)rows : 0, why);
}

/* The child has waited for a CPU far longer than it ran: busy processes at normal priority
 * leave an idle-policy task next to nothing. Raise it to normal priority; where the kernel
 * does not allow that (no CAP_SYS_NICE), start it again at normal priority - it has done
 * at most 1/PRIO_STARVE_FACTOR of the waiting in work, and the same generation answers. */
static void unstarve(struct snap *sn)
{
    struct prio_usage u;
    if (sn->normal_prio || prio_usage(sn->pid, &u) != 0 || !prio_starved(&u)) return;
    sn->normal_prio = 1;
    long long run_ms = (long long)(u.run_ns / 1000000), wait_ms = (long long)(u.wait_ns / 1000000);
    if (prio_raise(sn->pid) == 0) {
        log_warn("snapshot %llu waited %lld ms for a CPU and ran %lld ms: raised to normal "
                 "priority",
                 (unsigned long long)sn->gen, wait_ms, run_ms);
        return;
    }
    log_warn("snapshot %llu waited %lld ms for a CPU and ran %lld ms; its priority cannot be "
             "raised (%s): starting it again at normal priority",
             (unsigned long long)sn->gen, wait_ms, run_ms, strerror(errno));
    kill(sn->pid, SIGKILL);
    char why[SNAP_ERR_MAX];
    (void)reap_child(sn, why, sizeof(why));
    struct kv_err err;
    if (spawn(sn, 1, &err) != 0) end_run(sn, 0, 0, err.msg);
}

/* ---- when ---- */

uint64_t snap_request(struct snap *sn, struct kv_err *err)
{
    if (sn->pid) {
        sn->again = 1;
        return sn->gen + 1;
    }
    return start_child(sn, err) == 0 ? sn->gen : 0;
}

void snap_cron(struct snap *sn)
{
    if (sn->pid) unstarve(sn);
    if (sn->pid || !sn->wal) return;
    int64_t now = util_monotonic_us();
    if (sn->last_end_us == 0) sn->last_end_us = now; /* the timeout counts from start-up */
    uint64_t pending = wal_last_lsn(sn->wal) - sn->lsn;
    int due =
        sn->force || (sn->cfg.interval && pending >= sn->cfg.interval) ||
        (sn->cfg.timeout_s && pending > 0 && now - sn->last_end_us >= sn->cfg.timeout_s * 1000000);
    if (!due) return;
    int64_t gap = sn->cfg.min_gap_ms * 1000,
            paced = SNAP_PACE_FACTOR * sn->st.last_duration_ms * 1000;
    if (paced > gap) gap = paced;
    if (!sn->force && now - sn->last_end_us < gap) return;
    sn->force = 0;
    struct kv_err err;
    if (start_child(sn, &err) != 0) {
        log_error("automatic snapshot not started: %s", err.msg);
        sn->last_end_us = now; /* retry after the gap */
    }
}

uint64_t snap_lsn(const struct snap *sn)
{
    return sn->lsn;
}

int snap_running(const struct snap *sn)
{
    return sn->pid != 0;
}

void snap_get_stats(const struct snap *sn, struct snap_stats *st)
{
    *st = sn->st;
    st->in_progress = sn->pid != 0;
    st->pending = sn->wal ? wal_last_lsn(sn->wal) - sn->lsn : 0;
}

const char *snap_codec_name(const struct snap *sn)
{
    return pqc_name(sn->cfg.codec);
}

void snap_free(struct snap *sn)
{
    if (!sn) return;
    if (sn->pid) { /* shutting down: the WAL holds everything, the half-written file goes */
        kill(sn->pid, SIGKILL);
        char why[SNAP_ERR_MAX];
        reap_child(sn, why, sizeof(why));
        log_info("snapshot %llu abandoned at shutdown", (unsigned long long)sn->gen);
    }
    kv_free(sn);
}
