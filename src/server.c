/* server.c - process set-up, timers, accepting clients and graceful shutdown. */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "cmd.h"
#include "conn.h"
#include "httpsrv.h"
#include "log.h"
#include "multi.h"
#include "net.h"
#include "s3store.h"

/* Most connections accepted per readable event on the listening socket. */
#define SRV_ACCEPT_BATCH 1000
/* Most read passes per client while draining input at shutdown. */
#define SRV_SHUTDOWN_READS 16

struct server g_srv;

static int spare_fd = -1; /* kept open to recover from EMFILE (see accept_one) */

void srv_mark_pending(struct server *s, struct conn *c)
{
    if (c->flags & CONN_PENDING_WRITE) return;
    c->flags |= CONN_PENDING_WRITE;
    c->pend_next = s->pending;
    s->pending = c;
}

int srv_held(const struct server *s, const struct wal_hold *h)
{
    return wal_held(s->wal, h);
}

int srv_reply_held(const struct server *s, const struct conn *c)
{
    return srv_held(s, &c->hold);
}

/* Writes every queued reply that is not waiting for the WAL; clients whose socket is full
 * wait for EV_WRITABLE, clients waiting for the WAL stay queued. */
static void flush_pending(struct server *s)
{
    struct conn *c = s->pending;
    s->pending = NULL;
    while (c) {
        struct conn *next = c->pend_next;
        c->flags &= ~CONN_PENDING_WRITE;
        c->pend_next = NULL;
        if (srv_reply_held(s, c))
            srv_mark_pending(s, c);
        else
            conn_write(c);
        c = next;
    }
}

static void before_sleep(struct ev_loop *loop, void *data)
{
    (void)loop;
    struct server *s = data;
    wal_write(s->wal); /* first: under fsync always this starts the group's fdatasync */
    flush_pending(s);
    if (s->http) hsrv_flush(s->http);
}

const char *srv_write_refusal(struct server *s)
{
    const char *reason = NULL;
    if (!wal_writable(s->wal, &reason)) {
        snprintf(s->refusal, sizeof(s->refusal), "Panda cannot write its WAL (%s)", reason);
        return s->refusal;
    }
    if (s->s3s && !s3s_writable(s->s3s, s->refusal, sizeof(s->refusal))) return s->refusal;
    return NULL;
}

void srv_commit(struct server *s, struct wal_hold *h)
{
    uint64_t lsn = wal_commit(s->wal, &s->ks);
    if (!wal_holds_replies(s->wal)) return;
    if (lsn) {
        h->write_lsn = lsn;
    } else {
        uint64_t last = wal_last_lsn(s->wal);
        if (last > h->read_lsn) h->read_lsn = last;
    }
}

ssize_t srv_read_input(struct server *s, int fd, struct buf *in, size_t room, srv_run_fn *run,
                       void *ctx)
{
    if (in->len == 0) {
        ssize_t n = read(fd, s->read_buf, SRV_READ_BUF);
        if (n <= 0) return n;
        size_t used = run(ctx, s->read_buf, (size_t)n);
        if (used < (size_t)n) buf_append(in, s->read_buf + used, (size_t)n - used);
        return n;
    }
    buf_reserve(in, room);
    ssize_t n = read(fd, buf_tail(in), room);
    if (n <= 0) return n;
    in->len += (size_t)n;
    buf_consume(in, run(ctx, in->data, in->len));
    if (in->len == 0) buf_deinit(in);
    return n;
}

void srv_after_command(struct server *s, struct conn *c)
{
    srv_commit(s, &c->hold);
}

void srv_storage(struct server *s, struct srv_storage *out)
{
    struct snap_stats sn;
    struct wal_stats w;
    snap_get_stats(s->snap, &sn);
    wal_get_stats(s->wal, &w);
    memset(out, 0, sizeof(*out));
    out->parquet_bytes = sn.file_bytes;
    out->wal_bytes = w.bytes;
    out->pending = sn.pending;
    out->keys = ks_size(&s->ks);
    out->s3_on = s->s3s != NULL;
    if (s->s3s) s3s_get_stats(s->s3s, &out->s3);
}

void srv_wait_snapshot(struct server *s, struct conn *c)
{
    struct kv_err err;
    uint64_t gen = snap_request(s->snap, &err);
    if (gen == 0) {
        rep_errf(&c->rep, "ERR snapshot failed: %s", err.msg);
        return;
    }
    c->snap_wait = gen;
    conn_block(c);
}

/* Hands the installed snapshot's file to the S3 store, which uploads it when due. */
static void offer_snapshot(struct server *s)
{
    char path[CFG_STR_MAX + 32];
    snprintf(path, sizeof(path), "%s/%s", s->cfg.data_dir, SNAP_FILE);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
        s3s_snapshot(s->s3s, fd, snap_lsn(s->snap));
    else
        log_warn("cannot open %s for S3: %s", path, strerror(errno));
}

/* Answers the clients waiting for snapshot gen (or an earlier one). */
static void on_snapshot_done(void *ctx, uint64_t gen, int ok, const char *why)
{
    struct server *s = ctx;
    if (ok && s->s3s) offer_snapshot(s);
    for (struct conn *c = s->clients, *next; c; c = next) {
        next = c->next;
        if (!c->snap_wait || c->snap_wait > gen) continue;
        c->snap_wait = 0;
        if (ok)
            rep_ok(&c->rep);
        else
            rep_errf(&c->rep, "ERR snapshot failed: %s", why);
        conn_unblock(c);
    }
}

/* The keyspace's change hook: WATCH and the WAL both learn of every change here. */
static void on_touch(void *ctx, const char *key, size_t klen)
{
    struct server *s = ctx;
    watch_touch(s, key, klen);
    wal_note(s->wal, key, klen);
}

static void reject_client(struct server *s, int fd)
{
    static const char msg[] = "-ERR max number of clients reached\r\n";
    ssize_t w = write(fd, msg, sizeof(msg) - 1); /* best effort: the socket is fresh */
    (void)w;
    close(fd);
    s->st.rejected_connections++;
}

/* Accepts one connection; returns 0 to continue, 1 when none is waiting. */
static int accept_one(struct server *s)
{
    char peer[NET_ADDR_MAX];
    struct kv_err err;
    int fd = net_accept(s->listen_fd, peer, sizeof(peer), &err);
    if (fd == -2) return 1;
    if (fd < 0) {
        if (err.sys_errno == EMFILE || err.sys_errno == ENFILE) {
            /* Out of fds: free the spare, accept and drop one client so the listening
             * socket does not stay readable forever, then take the spare back. */
            log_warn("accept: %s; dropping a connection", err.msg);
            close(spare_fd);
            fd = accept(s->listen_fd, NULL, NULL);
            if (fd >= 0) reject_client(s, fd);
            spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
            return 1;
        }
        log_warn("%s", err.msg);
        return 1; /* keep serving; a later readable event retries */
    }
    s->st.total_connections++;
    if (s->nclients >= (size_t)s->cfg.max_clients) {
        reject_client(s, fd);
        return 0;
    }
    struct conn *c = conn_new(s, fd, peer);
    if (c) log_debug("client %llu connected from %s", (unsigned long long)c->id, peer);
    return 0;
}

static void on_accept(struct ev_loop *loop, int fd, void *data, int mask)
{
    (void)loop;
    (void)fd;
    (void)mask;
    for (int i = 0; i < SRV_ACCEPT_BATCH; i++)
        if (accept_one(data) != 0) break;
}

static void on_signal(struct ev_loop *loop, int fd, void *data, int mask)
{
    (void)loop;
    (void)mask;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        srv_request_shutdown(data, si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
}

void srv_request_shutdown(struct server *s, const char *why)
{
    if (!s->shutdown_asked) log_info("shutdown requested (%s)", why);
    s->shutdown_asked = 1;
    ev_stop(s->loop);
}

static void cron(struct ev_loop *loop, void *data)
{
    (void)loop;
    struct server *s = data;
    s->ks.now_ms = util_mstime();
    int64_t start = util_monotonic_us();
    /* Expiry deletes keys, which must be logged: not while the WAL cannot be written. */
    while (srv_write_refusal(s) == NULL && ks_expire_cycle(&s->ks, 100) == 100 &&
           util_monotonic_us() - start < SRV_EXPIRE_CYCLE_US) {
    }
    wal_commit(s->wal, &s->ks); /* this run's expirations: one record */
    ks_maintain(&s->ks, SRV_REHASH_CYCLE_US);
    if (++s->cron_runs % SRV_HZ == 0) wal_cron(s->wal);
    snap_cron(s->snap);
    if (s->http) hsrv_cron(s->http);
    struct kv_err err;
    if (s->s3s && s3s_snapshot_wanted(s->s3s) && !snap_running(s->snap) &&
        snap_request(s->snap, &err) == 0)
        log_warn("S3 wanted a snapshot, which cannot start: %s", err.msg);
}

static void on_wakeup(struct ev_loop *loop, void *data)
{
    (void)loop;
    struct server *s = data;
    bg_reap(s->bg);
    wal_reap(s->wal); /* held replies go out in before_sleep once they are durable */
}

static void free_table_job(void *arg)
{
    ks_free_table(arg);
    kv_free(arg);
}

static void free_async(void *ctx, struct ht *old)
{
    bg_submit(((struct server *)ctx)->bg, free_table_job, NULL, old);
}

/* The S3 store: claims the prefix and restores from it when it is ahead of the data dir. */
static int open_s3(struct server *s, struct kv_err *err)
{
    struct s3s_config c = {.wal_interval_ms = s->cfg.s3_wal_interval_ms,
                           .max_backlog = (uint64_t)s->cfg.s3_max_backlog,
                           .lease_ms = s->cfg.s3_lease_ms,
                           .snapshot_every_ms = s->cfg.s3_snapshot_every_ms};
    const char *env[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"};
    char *dst[] = {c.s3.key_id, c.s3.secret, c.s3.token};
    size_t cap[] = {sizeof(c.s3.key_id), sizeof(c.s3.secret), sizeof(c.s3.token)};
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(env[i]);
        if (v && strlen(v) >= cap[i]) return kv_err_set(err, KV_EINVAL, "%s is too long", env[i]);
        snprintf(dst[i], cap[i], "%s", v ? v : "");
    }
    if (strlen(s->cfg.s3_endpoint) >= sizeof(c.s3.endpoint) ||
        strlen(s->cfg.s3_bucket) >= sizeof(c.s3.bucket) ||
        strlen(s->cfg.s3_region) >= sizeof(c.s3.region) ||
        strlen(s->cfg.s3_prefix) >= sizeof(c.prefix) - 1 ||
        strlen(s->cfg.data_dir) >= sizeof(c.dir))
        return kv_err_set(err, KV_EINVAL, "an S3 setting or the data dir is too long");
    strcpy(c.s3.endpoint, s->cfg.s3_endpoint);
    strcpy(c.s3.bucket, s->cfg.s3_bucket);
    strcpy(c.s3.region, s->cfg.s3_region);
    strcpy(c.prefix, s->cfg.s3_prefix);
    strcpy(c.dir, s->cfg.data_dir);
    if (s3_global_init(err) != 0) return -1;
    s->s3s = s3s_new(&c, err);
    if (!s->s3s) return -1;
    log_info("S3: %s/%s (region %s%s%s)", s->cfg.s3_bucket, s->cfg.s3_prefix, s->cfg.s3_region,
             c.s3.endpoint[0] ? ", endpoint " : "", c.s3.endpoint);
    return s3s_prepare(s->s3s, err);
}

/* mkdir -p for the data dir. */
static int make_dirs(const char *path, struct kv_err *err)
{
    char tmp[CFG_STR_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return kv_err_sys(err, "cannot create directory %s", tmp);
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return kv_err_sys(err, "cannot create data dir %s", tmp);
    return 0;
}

/* Takes an exclusive lock on the data dir so that two servers never share it. */
static int lock_data_dir(struct server *s, struct kv_err *err)
{
    s->lock_fd = open(s->cfg.data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->lock_fd < 0) return kv_err_sys(err, "cannot open data dir %s", s->cfg.data_dir);
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return kv_err_set(err, KV_EINVAL,
                              "data dir %s is in use by another panda-server process",
                              s->cfg.data_dir);
        return kv_err_sys(err, "cannot lock data dir %s", s->cfg.data_dir);
    }
    return 0;
}

static long long http_clients(const struct server *s)
{
    return s->cfg.http_port ? s->cfg.http_max_clients : 0;
}

/* Raises the open-file limit to fit max-clients (and the HTTP connections), lowering
 * max-clients if it cannot. */
static void fit_fd_limit(struct server *s)
{
    rlim_t want = (rlim_t)(s->cfg.max_clients + http_clients(s)) + SRV_FD_RESERVE;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    if (rl.rlim_cur >= want) return;
    struct rlimit nr = {want, rl.rlim_max >= want ? rl.rlim_max : want};
    if (setrlimit(RLIMIT_NOFILE, &nr) == 0) return;
    nr.rlim_cur = nr.rlim_max = rl.rlim_max; /* not root: take what the hard limit allows */
    if (setrlimit(RLIMIT_NOFILE, &nr) == 0) rl.rlim_cur = rl.rlim_max;
    long long fit = (long long)rl.rlim_cur - SRV_FD_RESERVE - http_clients(s);
    if (fit < 1) fit = 1;
    log_warn("open-file limit %llu is too low for max-clients %lld; serving at most %lld clients",
             (unsigned long long)rl.rlim_cur, s->cfg.max_clients, fit);
    s->cfg.max_clients = fit;
}

/* Blocks SIGINT and SIGTERM in this thread and every thread created after it, so that they
 * are only ever seen through the signalfd. Must run before any thread exists. */
static int block_signals(sigset_t *set, struct kv_err *err)
{
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    return sigprocmask(SIG_BLOCK, set, NULL) == 0 ? 0 : kv_err_sys(err, "sigprocmask");
}

static int setup_signals(struct server *s, const sigset_t *set, struct kv_err *err)
{
    s->signal_fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (s->signal_fd < 0) return kv_err_sys(err, "signalfd");
    return ev_add(s->loop, s->signal_fd, EV_READABLE, on_signal, s, err);
}

/* Loads the data dir (after restoring it from S3 when S3 holds newer data) and opens the
 * WAL; the RESP port opens only after this, so a client that can connect sees all
 * acknowledged data. */
static int recover(struct server *s, struct kv_err *err)
{
    ks_init(&s->ks);
    struct snap_config sc = {s->cfg.data_dir,
                             s->cfg.snapshot_codec,
                             (uint64_t)s->cfg.snapshot_interval,
                             s->cfg.snapshot_timeout,
                             s->cfg.snapshot_min_gap_ms,
                             (uint32_t)s->cfg.snapshot_row_group_rows};
    s->snap = snap_new(&sc, s->loop);
    if (s->cfg.use_s3) {
        hsrv_boot_phase(s->http, "restoring from S3");
        if (open_s3(s, err) != 0) return -1;
    }
    uint64_t base_lsn;
    hsrv_boot_phase(s->http, "loading the snapshot");
    if (snap_load(s->snap, &s->ks, &base_lsn, err) != 0) return -1;
    struct wal_config wc = {s->cfg.data_dir, (enum wal_fsync)s->cfg.fsync,
                            s->cfg.wal_truncate_corrupt, s->cfg.wal_group_commit, base_lsn};
    hsrv_boot_phase(s->http, "replaying the WAL");
    s->wal = wal_open(&wc, &s->ks, s->loop, err);
    if (!s->wal) return -1;
    snap_attach(s->snap, &s->ks, s->wal, s->bg, on_snapshot_done, s);
    /* Stopped before anything forks (the import's snapshot, S3's thread): a forked child
     * must not inherit a thread that could hold a lock. */
    if (s->http) hsrv_boot_stop(s->http);
    if (s->cfg.import_file[0] && snap_import(s->snap, s->cfg.import_file, err) != 0) return -1;
    if (s->s3s) {
        wal_set_tap(s->wal, s3s_wal_tap, s->s3s);
        if (s3s_start(s->s3s, snap_lsn(s->snap), err) != 0) return -1;
    }
    s->ks.on_touch = on_touch;
    s->ks.touch_ctx = s;
    s->ks.free_async = free_async;
    s->ks.free_ctx = s;
    return 0;
}

/* Opens the RESP port and hands the HTTP port to the loop. */
static int listen_all(struct server *s, struct kv_err *err)
{
    s->listen_fd = net_listen(s->cfg.bind, (int)s->cfg.port, err);
    if (s->listen_fd < 0) return -1;
    if (ev_add(s->loop, s->listen_fd, EV_READABLE, on_accept, s, err) != 0) return -1;
    return s->http ? hsrv_start(s->http, err) : 0;
}

int srv_init(struct server *s, const struct config *cfg, struct kv_err *err)
{
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    s->listen_fd = s->signal_fd = s->lock_fd = -1;
    sigset_t sigs;
    if (block_signals(&sigs, err) != 0) return -1;
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) seed = (uint64_t)util_ustime();
    ht_seed(seed);
    srandom((unsigned)seed);
    cmd_init();
    if (make_dirs(s->cfg.data_dir, err) != 0 || lock_data_dir(s, err) != 0) return -1;
    fit_fd_limit(s);
    spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    s->loop = ev_new((int)(s->cfg.max_clients + http_clients(s)) + SRV_FD_RESERVE, err);
    if (!s->loop) return -1;
    s->bg = bg_new(s->loop, err);
    if (!s->bg || ev_set_wakeup(s->loop, on_wakeup, s, err) != 0) return -1;
    /* The HTTP port answers health checks during recovery (see httpsrv.h). */
    if (s->cfg.http_port && (!(s->http = hsrv_new(s, err)) || hsrv_boot_start(s->http, err) != 0))
        return -1;
    if (recover(s, err) != 0 || listen_all(s, err) != 0) return -1;
    if (setup_signals(s, &sigs, err) != 0) return -1;
    watch_init(s);
    s->read_buf = kv_malloc(SRV_READ_BUF);
    s->start_ms = util_mstime();
    ev_set_before_sleep(s->loop, before_sleep, s);
    kv_assert(ev_timer(s->loop, 1000 / SRV_HZ, cron, s) == 0);
    return 0;
}

/* Runs what clients already sent, makes it durable, then writes all replies, for at most the
 * flush deadline. */
static void drain_clients(struct server *s)
{
    for (int pass = 0; pass < SRV_SHUTDOWN_READS; pass++) {
        for (struct conn *c = s->clients, *next; c; c = next) {
            next = c->next;
            if (!(c->flags & (CONN_CLOSE_ASAP | CONN_CLOSE_AFTER_REPLY))) conn_read_and_run(c);
            if (c->flags & CONN_CLOSE_ASAP) conn_close(c);
        }
    }
    if (wal_sync_now(s->wal) != 0)
        log_error("shutdown: the WAL cannot be written; replies waiting for it are dropped");
    if (snap_running(s->snap)) on_snapshot_done(s, UINT64_MAX, 0, "the server is shutting down");
    int64_t deadline = util_monotonic_us() + SRV_SHUTDOWN_FLUSH_MS * 1000LL;
    for (;;) {
        for (struct conn *c = s->clients; c; c = c->next)
            if (conn_pending_bytes(c) > 0 && !srv_reply_held(s, c)) srv_mark_pending(s, c);
        flush_pending(s);
        size_t left = s->http ? hsrv_drain(s->http) : 0;
        for (struct conn *c = s->clients; c; c = c->next)
            left += conn_pending_bytes(c) > 0 && !srv_reply_held(s, c);
        if (left == 0) break;
        if (util_monotonic_us() > deadline) {
            log_warn("shutdown: %zu clients did not read their replies in time", left);
            break;
        }
        usleep(1000);
    }
}

/* Frees everything; returns 0, or -1 if the WAL could not be closed cleanly. */
static int srv_deinit(struct server *s)
{
    while (s->clients)
        conn_close(s->clients);
    hsrv_free(s->http);
    s->http = NULL;
    int rc = 0;
    struct kv_err err;
    snap_free(s->snap);
    if (wal_close(s->wal, &err) != 0) {
        log_error("%s", err.msg);
        rc = -1;
    }
    if (s->s3s) s3s_stop(s->s3s); /* after wal_close, which hands it the last records */
    s3s_free(s->s3s);
    bg_free(s->bg);
    s->ks.on_touch = NULL;
    ks_deinit(&s->ks);
    watch_deinit(s);
    kv_free(s->read_buf);
    if (s->signal_fd >= 0) close(s->signal_fd);
    if (s->lock_fd >= 0) close(s->lock_fd);
    if (spare_fd >= 0) close(spare_fd);
    ev_free(s->loop);
    return rc;
}

int srv_run(struct server *s)
{
    log_info("Panda %s ready: listening on %s:%lld, data dir %s, max %lld clients (pid %d)",
             PANDA_VERSION, s->cfg.bind, s->cfg.port, s->cfg.data_dir, s->cfg.max_clients,
             (int)getpid());
    if (s->http)
        log_info("HTTP API, health checks and metrics on %s:%lld", s->cfg.bind, s->cfg.http_port);
    struct kv_err err;
    int rc = ev_run(s->loop, &err);
    if (rc != 0) log_error("event loop failed: %s", err.msg);
    ev_del(s->loop, s->listen_fd, EV_READABLE);
    close(s->listen_fd);
    s->listen_fd = -1;
    if (s->http) hsrv_stop_listening(s->http);
    drain_clients(s);
    size_t left = s->nclients;
    if (srv_deinit(s) != 0) rc = -1;
    log_info("Panda stopped (%zu clients disconnected); bye", left);
    return rc == 0 ? 0 : 1;
}
