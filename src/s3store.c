/* s3store.c - the data dir's copy in S3: claim, restore, ship (see s3store.h). */
#include "s3store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "fsutil.h"
#include "log.h"
#include "pqread.h"
#include "util.h"
#include "walfmt.h"

#define ID_SIZE (S3S_ID_LEN + 1)

struct seg {
    uint64_t first, last, bytes;
    char by[ID_SIZE]; /* the server that wrote it: part of its name */
};

/* What the manifest says (docs/FORMATS.md). Object names follow from LSNs and writers. */
struct manifest {
    char history[ID_SIZE]; /* the lineage of the data: changes when another server takes over */
    char writer[ID_SIZE];  /* the server that owns the prefix */
    int released;          /* its owner shut down cleanly */
    uint64_t last_lsn;
    int has_snap;
    uint64_t snap_lsn, snap_bytes;
    char snap_by[ID_SIZE];
    struct seg *segs;
    size_t nseg, cap;
};

struct s3s {
    struct s3s_config cfg;
    struct s3 *s3;
    char id[ID_SIZE];
    char history[ID_SIZE]; /* the data dir's lineage in S3, "" before it has one */
    char where[S3_STR_MAX + S3S_PREFIX_MAX + 8]; /* s3://bucket/prefix, for messages */
    /* S3's state as this server knows it; the thread's alone once started */
    struct manifest man;
    char etag[S3_ETAG_MAX];
    int claimed; /* the manifest names this server */
    int halted;  /* another server owns the prefix, or S3 is ahead: ship nothing more */
    int failures;
    int64_t next_try_ms, last_manifest_ms, last_ship_ms, last_snap_ms;
    struct buf inflight; /* a segment being uploaded: WAL header + records */
    uint64_t in_first, in_last;
    /* shared with the loop thread, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct buf pending; /* records tapped, not yet taken into a segment */
    uint64_t pend_first, pend_last, tapped_last;
    size_t inflight_bytes;
    int snap_fd;       /* newest local snapshot not yet uploaded, -1 if none */
    int want_snapshot; /* the segments in S3 call for a snapshot and none is offered */
    uint64_t snap_lsn, snap_bytes;
    int stop;
    struct s3s_stats st;
    pthread_t thread;
    int started;
};

/* ---- helpers ---- */

/* snprintf for messages, where a cut-off tail is acceptable. */
static void __attribute__((format(printf, 3, 4))) say(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

/* Object names carry their writer, so a server that lost the prefix without knowing it
 * cannot overwrite what the new owner uploaded under the same LSNs. */
static void snap_key(const struct s3s *s, char *out, size_t n, uint64_t lsn, const char *by)
{
    snprintf(out, n, "%ssnapshots/%020" PRIu64 "-%s.parquet", s->cfg.prefix, lsn, by);
}

static void seg_key(const struct s3s *s, char *out, size_t n, const struct seg *g)
{
    snprintf(out, n, "%swal/%020" PRIu64 "-%020" PRIu64 "-%s.wal", s->cfg.prefix, g->first, g->last,
             g->by);
}

/* 1 if id is S3S_ID_LEN lowercase hex characters. */
static int id_ok(const char *id)
{
    size_t n = strspn(id, "0123456789abcdef");
    return n == S3S_ID_LEN && id[n] == 0;
}

static void man_key(const struct s3s *s, char *out, size_t n)
{
    snprintf(out, n, "%s%s", s->cfg.prefix, S3S_MANIFEST);
}

static void man_free(struct manifest *m)
{
    kv_free(m->segs);
    memset(m, 0, sizeof(*m));
}

static void man_add_seg(struct manifest *m, struct seg sg)
{
    if (m->nseg == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->segs = kv_realloc(m->segs, m->cap * sizeof(*m->segs));
    }
    m->segs[m->nseg++] = sg;
}

static void man_copy(struct manifest *dst, const struct manifest *src)
{
    *dst = *src;
    dst->segs = NULL;
    dst->cap = 0;
    dst->nseg = 0;
    for (size_t i = 0; i < src->nseg; i++)
        man_add_seg(dst, src->segs[i]);
}

static void man_format(const struct s3s *s, const struct manifest *m, struct buf *b)
{
    char key[S3_KEY_MAX];
    buf_printf(b, "panda-manifest 1\nhistory %s\nwriter %s\n%slast_lsn %" PRIu64 "\n", m->history,
               m->writer, m->released ? "released\n" : "", m->last_lsn);
    if (m->has_snap) {
        snap_key(s, key, sizeof(key), m->snap_lsn, m->snap_by);
        buf_printf(b, "snapshot %s %" PRIu64 " %" PRIu64 "\n", key, m->snap_lsn, m->snap_bytes);
    }
    for (size_t i = 0; i < m->nseg; i++) {
        seg_key(s, key, sizeof(key), &m->segs[i]);
        buf_printf(b, "segment %s %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", key, m->segs[i].first,
                   m->segs[i].last, m->segs[i].bytes);
    }
}

/* The writer id in an object name: key must be prefix + form with the writer last before
 * the suffix. Returns 0 and fills by, or -1. */
static int key_writer(const struct s3s *s, const char *key, char by[ID_SIZE])
{
    size_t pl = strlen(s->cfg.prefix), kl = strlen(key);
    const char *dot = strrchr(key, '.');
    if (kl <= pl + S3S_ID_LEN + 1 || strncmp(key, s->cfg.prefix, pl) != 0 || !dot ||
        dot - key < (ptrdiff_t)(pl + S3S_ID_LEN + 1) || dot[-S3S_ID_LEN - 1] != '-')
        return -1;
    snprintf(by, ID_SIZE, "%.*s", S3S_ID_LEN, dot - S3S_ID_LEN);
    return id_ok(by) ? 0 : -1;
}

/* Parses one manifest line into m; -1 if it is not valid. */
static int man_line(const struct s3s *s, struct manifest *m, const char *line)
{
    char key[S3_KEY_MAX], want[S3_KEY_MAX], word[40];
    uint64_t a, b, c;
    if (sscanf(line, "history %39s", word) == 1 && id_ok(word))
        return snprintf(m->history, sizeof(m->history), "%s", word) > 0 ? 0 : -1;
    if (sscanf(line, "writer %39s", word) == 1 && id_ok(word))
        return snprintf(m->writer, sizeof(m->writer), "%s", word) > 0 ? 0 : -1;
    if (strcmp(line, "released") == 0) return m->released = 1, 0;
    if (sscanf(line, "last_lsn %" SCNu64, &m->last_lsn) == 1) return 0;
    if (sscanf(line, "snapshot %511s %" SCNu64 " %" SCNu64, key, &a, &b) == 3 && !m->has_snap) {
        if (key_writer(s, key, m->snap_by) != 0) return -1;
        snap_key(s, want, sizeof(want), a, m->snap_by);
        if (strcmp(key, want) != 0) return -1;
        m->has_snap = 1, m->snap_lsn = a, m->snap_bytes = b;
        return 0;
    }
    if (sscanf(line, "segment %511s %" SCNu64 " %" SCNu64 " %" SCNu64, key, &a, &b, &c) == 4) {
        struct seg g = {a, b, c, ""};
        if (key_writer(s, key, g.by) != 0) return -1;
        seg_key(s, want, sizeof(want), &g);
        uint64_t expect = m->nseg ? m->segs[m->nseg - 1].last + 1 : 0;
        if (strcmp(key, want) != 0 || a > b || m->nseg >= S3S_SEGMENTS_MAX ||
            (m->nseg && a != expect))
            return -1;
        man_add_seg(m, g);
        return 0;
    }
    return -1;
}

/* Parses a manifest; -1 with err if it is damaged. */
static int man_parse(const struct s3s *s, const char *p, size_t n, struct manifest *m,
                     struct kv_err *err)
{
    memset(m, 0, sizeof(*m));
    int lineno = 0;
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(p + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - (p + i)) : n - i;
        char line[2 * S3_KEY_MAX];
        lineno++;
        if (len >= sizeof(line)) goto bad;
        memcpy(line, p + i, len);
        line[len] = 0;
        i += len + 1;
        if (lineno == 1 ? strcmp(line, "panda-manifest 1") != 0 : man_line(s, m, line) != 0)
            goto bad;
    }
    if (!m->writer[0] || !m->history[0]) goto bad;
    uint64_t covered = m->has_snap ? m->snap_lsn : 0;
    if (m->nseg && (m->segs[0].first > covered + 1 || m->segs[m->nseg - 1].last != m->last_lsn))
        goto bad;
    if (!m->nseg && m->last_lsn != covered) goto bad;
    return 0;
bad:
    man_free(m);
    return kv_err_set(err, KV_EINVAL, "the S3 manifest is damaged (line %d)", lineno);
}

static void count(struct s3s *s, enum s3s_req kind, const struct s3_res *res, int rc)
{
    pthread_mutex_lock(&s->mu);
    s->st.requests[kind]++;
    s->st.bytes_up += res->bytes_sent;
    s->st.bytes_down += res->bytes_received;
    if (rc != 0) s->st.errors++;
    pthread_mutex_unlock(&s->mu);
}

/* WAL bytes S3 lacks: the pending records and the segment in flight (under mu). */
static uint64_t backlog_locked(const struct s3s *s)
{
    return (s->pending.len ? s->pending.len - WALF_FILE_HDR : 0) + s->inflight_bytes;
}

/* ---- set-up ---- */

/* A fresh random id. */
static int new_id(char out[ID_SIZE], struct kv_err *err)
{
    unsigned char r[S3S_ID_LEN / 2];
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) return kv_err_sys(err, "getrandom");
    for (size_t i = 0; i < sizeof(r); i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
    return 0;
}

/* Writes kv_database.id: "server <id>" and "history <id or ->" lines (replaced atomically). */
static int save_ids(struct s3s *s, struct kv_err *err)
{
    char path[S3S_DIR_MAX + 32], tmp[S3S_DIR_MAX + 40], text[2 * S3S_ID_LEN + 32];
    snprintf(path, sizeof(path), "%s/%s", s->cfg.dir, S3S_ID_FILE);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    snprintf(text, sizeof(text), "server %s\nhistory %s\n", s->id,
             s->history[0] ? s->history : "-");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return kv_err_sys(err, "cannot create %s", tmp);
    int rc = fs_write_all(fd, text, strlen(text), tmp, err);
    if (rc == 0 && fdatasync(fd) != 0) rc = kv_err_sys(err, "fdatasync of %s", tmp);
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0) rc = kv_err_sys(err, "cannot rename %s", tmp);
    return rc == 0 ? fs_fsync_dir(s->cfg.dir, err) : -1;
}

static int load_ids(struct s3s *s, struct kv_err *err)
{
    char path[S3S_DIR_MAX + 32], hist[40] = "";
    snprintf(path, sizeof(path), "%s/%s", s->cfg.dir, S3S_ID_FILE);
    FILE *f = fopen(path, "r");
    if (!f) return new_id(s->id, err) == 0 ? save_ids(s, err) : -1;
    int ok = fscanf(f, "server %32s history %39s", s->id, hist) == 2 && id_ok(s->id) &&
             (strcmp(hist, "-") == 0 || id_ok(hist));
    fclose(f);
    if (!ok)
        return kv_err_set(err, KV_EINVAL,
                          "%s is damaged: expected lines `server <id>` and `history <id|->`", path);
    if (strcmp(hist, "-") != 0) snprintf(s->history, sizeof(s->history), "%s", hist);
    return 0;
}

struct s3s *s3s_new(const struct s3s_config *cfg, struct kv_err *err)
{
    if (!cfg->s3.key_id[0] || !cfg->s3.secret[0]) {
        kv_err_set(err, KV_EINVAL,
                   "S3 is on but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set");
        return NULL;
    }
    char probe[S3S_PREFIX_MAX + 16];
    snprintf(probe, sizeof(probe), "%s%s", cfg->prefix, S3S_MANIFEST);
    if (!s3_key_ok(probe) || cfg->prefix[0] == '/') {
        kv_err_set(err, KV_EINVAL,
                   "invalid S3 prefix '%s' (letters, digits, / . _ - only; not starting with /)",
                   cfg->prefix);
        return NULL;
    }
    struct s3s *s = kv_calloc(1, sizeof(*s));
    s->cfg = *cfg;
    size_t pl = strlen(s->cfg.prefix);
    if (pl > 0 && s->cfg.prefix[pl - 1] != '/' && pl + 1 < sizeof(s->cfg.prefix))
        strcat(s->cfg.prefix, "/");
    s->s3 = s3_new(&cfg->s3, err);
    if (!s->s3) {
        kv_free(s);
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    buf_init(&s->pending);
    buf_init(&s->inflight);
    s->snap_fd = -1;
    s->st.ok = 1;
    snprintf(s->where, sizeof(s->where), "%s/%s", s3_bucket(s->s3), s->cfg.prefix);
    snprintf(s->st.region, sizeof(s->st.region), "%s", cfg->s3.region);
    return s;
}

void s3s_free(struct s3s *s)
{
    if (!s) return;
    kv_assert(!s->started);
    if (s->snap_fd >= 0) close(s->snap_fd);
    man_free(&s->man);
    buf_deinit(&s->pending);
    buf_deinit(&s->inflight);
    s3_free(s->s3);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    kv_free(s);
}

/* ---- health ---- */

static void set_state(struct s3s *s, int ok, const char *reason)
{
    pthread_mutex_lock(&s->mu);
    int was = s->st.ok;
    s->st.ok = ok;
    snprintf(s->st.reason, sizeof(s->st.reason), "%s", ok ? "" : reason);
    uint64_t backlog = backlog_locked(s);
    pthread_mutex_unlock(&s->mu);
    if (was && !ok)
        log_warn("S3 %s degraded: %s; serving from local storage, retrying", s->where, reason);
    else if (!was && ok)
        log_info("S3 %s reachable again; catching up (%" PRIu64 " bytes waiting)", s->where,
                 backlog);
}

/* A failed attempt: degraded, and the next one after an exponential, jittered delay. */
static void failed(struct s3s *s, const char *why)
{
    set_state(s, 0, why);
    int64_t cap = S3S_BACKOFF_MIN_MS << (s->failures < 10 ? s->failures : 10);
    if (cap > S3S_BACKOFF_MAX_MS) cap = S3S_BACKOFF_MAX_MS;
    s->failures++;
    s->next_try_ms = util_mstime() + cap / 2 + (int64_t)(random() % (cap / 2 + 1));
}

static void succeeded(struct s3s *s)
{
    s->failures = 0;
    s->next_try_ms = 0;
    set_state(s, 1, NULL);
}

/* Stops shipping for good: S3 belongs to someone else now. */
static void halt(struct s3s *s, const char *why)
{
    log_error("S3 %s: %s; no longer writing to it (local service continues)", s->where, why);
    pthread_mutex_lock(&s->mu);
    s->halted = 1;
    buf_deinit(&s->pending);
    s->inflight_bytes = 0;
    if (s->snap_fd >= 0) close(s->snap_fd);
    s->snap_fd = -1;
    s->st.ok = 0;
    snprintf(s->st.reason, sizeof(s->st.reason), "halted: %s", why);
    pthread_mutex_unlock(&s->mu);
    buf_deinit(&s->inflight);
}

/* ---- the manifest ---- */

/* 0 = read, 1 = there is none, -1 = S3 failed (err), -2 = damaged (err). */
static int fetch_manifest(struct s3s *s, struct manifest *m, char etag[S3_ETAG_MAX],
                          struct s3_res *res, struct kv_err *err)
{
    char key[S3_KEY_MAX];
    man_key(s, key, sizeof(key));
    struct buf b;
    buf_init(&b);
    int rc = s3_get(s->s3, key, &b, S3S_MANIFEST_MAX, res, err);
    count(s, S3S_GET, res, rc != 0 && res->status != 404);
    if (rc != 0) {
        buf_deinit(&b);
        return res->status == 404 ? 1 : -1;
    }
    snprintf(etag, S3_ETAG_MAX, "%s", res->etag);
    rc = man_parse(s, b.data ? b.data : "", b.len, m, err) == 0 ? 0 : -2;
    buf_deinit(&b);
    return rc;
}

/* Replaces the manifest by m if it is still the version we saw (etag ""/creation: none).
 * 0 = done, 1 = someone else changed it (412/409), -1 = S3 failed. */
static int put_manifest(struct s3s *s, const struct manifest *m, struct kv_err *err)
{
    char key[S3_KEY_MAX];
    man_key(s, key, sizeof(key));
    struct buf b;
    buf_init(&b);
    man_format(s, m, &b);
    struct s3_cond cond = {NULL, NULL};
    if (s->etag[0])
        cond.if_match = s->etag;
    else
        cond.if_none_match = "*";
    struct s3_res res;
    int rc = s3_put(s->s3, key, b.data, b.len, &cond, &res, err);
    buf_deinit(&b);
    count(s, S3S_PUT, &res, rc);
    if (rc != 0) return res.status == 412 || res.status == 409 ? 1 : -1;
    snprintf(s->etag, sizeof(s->etag), "%s", res.etag);
    s->last_manifest_ms = util_mstime();
    if (m != &s->man) {
        man_free(&s->man);
        man_copy(&s->man, m);
    }
    pthread_mutex_lock(&s->mu);
    s->st.last_ok_ms = s->last_manifest_ms;
    s->st.remote_lsn = m->last_lsn;
    s->st.remote_snapshot_lsn = m->has_snap ? m->snap_lsn : 0;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* 1 if another server holds the prefix: its manifest is younger than the lease. */
static int owned_by_other(const struct s3s *s, const struct manifest *m, const struct s3_res *r)
{
    if (m->released || strcmp(m->writer, s->id) == 0) return 0;
    if (r->date_ms < 0 || r->last_modified_ms < 0) return 1; /* cannot tell: assume it is */
    return r->date_ms - r->last_modified_ms < s->cfg.lease_ms;
}

/* Claims the prefix given what fetch_manifest found (found = 0 or 1). 0 = claimed, 1 = taken
 * by another server (why filled), -1 = S3 failed (err). */
/* Whether this server may write the prefix, given the manifest it read (found: 0 = read,
 * 1 = none) and the last LSN it holds: 0 = yes, 1 = no (why filled), 2 = S3 is ahead (the
 * data dir must be restored from it first). */
static int judge(const struct s3s *s, int found, const struct manifest *m, const struct s3_res *res,
                 uint64_t local, char *why, size_t n)
{
    if (found == 1) return 0;
    if (owned_by_other(s, m, res)) {
        say(why, n,
            "%s is in use by another Panda server (id %s, manifest written %" PRId64
            " s ago; a server may take it over once that is more than %" PRId64 " s)",
            s->where, m->writer, (res->date_ms - res->last_modified_ms) / 1000,
            s->cfg.lease_ms / 1000);
        return 1;
    }
    /* Both hold data of different lineages: appending ours would mix them. */
    if (m->last_lsn > 0 && local > 0 && strcmp(m->history, s->history) != 0) {
        say(why, n,
            "%s holds other data than this data dir (history %s, the data dir's %s): move the "
            "data dir aside to restore from S3, or use another prefix",
            s->where, m->history, s->history[0] ? s->history : "none");
        return 1;
    }
    return m->last_lsn > local ? 2 : 0;
}

/* Writes the manifest with this server as its writer. A server taking over from another (or
 * creating it) starts a new history, so the previous owner, should it come back, finds its
 * data no longer continues S3's. 0 = claimed, 1 = someone else changed the manifest (why
 * filled), -1 = S3 failed (err). */
static int claim(struct s3s *s, int found, struct manifest *m, char *why, size_t n,
                 struct kv_err *err)
{
    if (found == 1 || strcmp(m->writer, s->id) != 0 || strcmp(m->history, s->history) != 0) {
        if (new_id(s->history, err) != 0 || save_ids(s, err) != 0) return -1;
        snprintf(m->history, sizeof(m->history), "%s", s->history);
    }
    snprintf(m->writer, sizeof(m->writer), "%s", s->id);
    m->released = 0;
    int rc = put_manifest(s, m, err);
    if (rc == 1) {
        say(why, n, "another Panda server changed %s%s at the same moment", s->where, S3S_MANIFEST);
        return 1;
    }
    if (rc == 0) s->claimed = 1;
    return rc;
}

/* ---- restore at start ---- */

struct probe {
    uint64_t lsn;
};

static int probe_start(void *ctx, const struct pqr_info *info, struct kv_err *err)
{
    ((struct probe *)ctx)->lsn = info->panda ? info->lsn : 0;
    return kv_err_set(err, KV_EINVAL, "probe done");
}

static int probe_rec(void *ctx, const struct walf_rec *rec)
{
    ((struct probe *)ctx)->lsn = rec->lsn;
    return 0;
}

/* Visits the good records of the data dir's WAL (none if it is missing or unreadable: the
 * recovery that follows reports that). */
static void scan_wal(const struct s3s *s, walf_visit_fn *visit, void *ctx)
{
    char path[S3S_DIR_MAX + 32];
    snprintf(path, sizeof(path), "%s/kv_database.wal", s->cfg.dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p != MAP_FAILED) {
            struct walf_scan sc;
            (void)walf_scan(p, (size_t)st.st_size, visit, ctx, &sc);
            munmap(p, (size_t)st.st_size);
        }
    }
    if (fd >= 0) close(fd);
}

/* The last LSN the data dir holds: its snapshot's or its WAL's last record's. */
static uint64_t local_lsn(const struct s3s *s)
{
    char path[S3S_DIR_MAX + 32];
    struct probe sp = {0}, wp = {0};
    snprintf(path, sizeof(path), "%s/kv_database.parquet", s->cfg.dir);
    struct pqr_opts o = {0};
    o.on_start = probe_start;
    struct kv_err e;
    if (access(path, F_OK) == 0) (void)pqr_read_file_opts(path, &o, NULL, &sp, NULL, &e);
    scan_wal(s, probe_rec, &wp);
    return sp.lsn > wp.lsn ? sp.lsn : wp.lsn;
}

struct seg_check {
    uint64_t next, skip_to;
    struct buf *out;
};

static int keep_rec(void *ctx, const struct walf_rec *rec)
{
    struct seg_check *c = ctx;
    if (rec->lsn != c->next) return -1;
    c->next++;
    if (rec->lsn > c->skip_to) buf_append(c->out, rec->payload - WALF_REC_HDR, rec->size);
    return 0;
}

/* Downloads the segments into wal (a WAL image: header, then the records after m's
 * snapshot), checking every record and that they run on without a gap. */
static int fetch_segments(struct s3s *s, const struct manifest *m, struct buf *wal,
                          struct kv_err *err)
{
    walf_file_header(wal);
    struct seg_check c = {m->nseg ? m->segs[0].first : 0, m->has_snap ? m->snap_lsn : 0, wal};
    for (size_t i = 0; i < m->nseg; i++) {
        char key[S3_KEY_MAX];
        seg_key(s, key, sizeof(key), &m->segs[i]);
        struct buf b;
        buf_init(&b);
        struct s3_res res;
        int rc = s3_get(s->s3, key, &b, S3S_SEGMENT_MAX, &res, err);
        count(s, S3S_GET, &res, rc);
        struct walf_scan sc;
        if (rc == 0 && (walf_scan((unsigned char *)b.data, b.len, keep_rec, &c, &sc) != 0 ||
                        sc.damage != WALF_CLEAN || c.next != m->segs[i].last + 1))
            rc = kv_err_set(err, KV_EINVAL, "S3 object %s is damaged (LSN %" PRIu64 ")", key,
                            c.next);
        buf_deinit(&b);
        if (rc != 0) return -1;
    }
    return 0;
}

static int write_file(const char *path, const void *p, size_t n, struct kv_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return kv_err_sys(err, "cannot create %s", path);
    int rc = fs_write_all(fd, p, n, path, err);
    if (rc == 0 && fdatasync(fd) != 0) rc = kv_err_sys(err, "fdatasync of %s", path);
    close(fd);
    return rc;
}

/* Downloads m's snapshot into path; -1 with err. */
static int fetch_snapshot(struct s3s *s, const struct manifest *m, const char *path,
                          struct kv_err *err)
{
    char key[S3_KEY_MAX];
    snap_key(s, key, sizeof(key), m->snap_lsn, m->snap_by);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return kv_err_sys(err, "cannot create %s", path);
    struct s3_res res;
    int rc = s3_get_fd(s->s3, key, fd, m->snap_bytes, &res, err);
    count(s, S3S_GET, &res, rc);
    if (rc == 0 && res.bytes_received != m->snap_bytes)
        rc = kv_err_set(err, KV_EINVAL,
                        "S3 object %s has %" PRIu64 " bytes, the manifest says %" PRIu64, key,
                        res.bytes_received, m->snap_bytes);
    if (rc == 0 && fdatasync(fd) != 0) rc = kv_err_sys(err, "fdatasync of %s", path);
    close(fd);
    return rc;
}

/* Renames dir/name to dir/name.replaced-<ms> if it exists. */
static int move_aside(const struct s3s *s, const char *name, int64_t ms, struct kv_err *err)
{
    char from[S3S_DIR_MAX + 64], to[S3S_DIR_MAX + 96];
    snprintf(from, sizeof(from), "%s/%s", s->cfg.dir, name);
    snprintf(to, sizeof(to), "%s.replaced-%" PRId64, from, ms);
    if (access(from, F_OK) != 0) return 0;
    if (rename(from, to) != 0) return kv_err_sys(err, "cannot rename %s", from);
    log_warn("S3 holds newer data: kept the local %s as %s", from, to);
    return 0;
}

/* Makes the data dir hold m's state. -1 = S3 failed or its data is damaged (err); the local
 * files are then untouched. */
static int restore(struct s3s *s, const struct manifest *m, struct kv_err *err)
{
    int64_t t0 = util_monotonic_us();
    char snap_tmp[S3S_DIR_MAX + 64], wal_tmp[S3S_DIR_MAX + 64], path[S3S_DIR_MAX + 64];
    snprintf(snap_tmp, sizeof(snap_tmp), "%s/kv_database.parquet.s3tmp", s->cfg.dir);
    snprintf(wal_tmp, sizeof(wal_tmp), "%s/kv_database.wal.s3tmp", s->cfg.dir);
    struct buf wal;
    buf_init(&wal);
    int rc = (m->has_snap ? fetch_snapshot(s, m, snap_tmp, err) : 0) == 0 &&
                     fetch_segments(s, m, &wal, err) == 0 &&
                     write_file(wal_tmp, wal.data, wal.len, err) == 0
                 ? 0
                 : -1;
    size_t wal_bytes = wal.len;
    buf_deinit(&wal);
    int64_t ms = util_mstime();
    if (rc == 0)
        rc = move_aside(s, "kv_database.parquet", ms, err) == 0 &&
                     move_aside(s, "kv_database.wal", ms, err) == 0 &&
                     move_aside(s, "kv_database.json", ms, err) == 0
                 ? 0
                 : -1;
    snprintf(path, sizeof(path), "%s/kv_database.parquet", s->cfg.dir);
    if (rc == 0 && m->has_snap && rename(snap_tmp, path) != 0)
        rc = kv_err_sys(err, "cannot rename %s", snap_tmp);
    snprintf(path, sizeof(path), "%s/kv_database.wal", s->cfg.dir);
    if (rc == 0 && rename(wal_tmp, path) != 0) rc = kv_err_sys(err, "cannot rename %s", wal_tmp);
    if (rc == 0) rc = fs_fsync_dir(s->cfg.dir, err);
    unlink(snap_tmp);
    unlink(wal_tmp);
    if (rc == 0)
        log_info("restored from %s: snapshot LSN %" PRIu64 " (%" PRIu64
                 " bytes), %zu WAL segments (%zu bytes) up to LSN %" PRIu64 ", in %" PRId64 " ms",
                 s->where, m->has_snap ? m->snap_lsn : 0, m->has_snap ? m->snap_bytes : 0, m->nseg,
                 wal_bytes, m->last_lsn, (util_monotonic_us() - t0) / 1000);
    return rc;
}

int s3s_prepare(struct s3s *s, struct kv_err *err)
{
    if (load_ids(s, err) != 0) return -1;
    struct manifest m;
    char etag[S3_ETAG_MAX] = "";
    struct s3_res res;
    struct kv_err e;
    int found = fetch_manifest(s, &m, etag, &res, &e);
    if (found == -2) return kv_err_set(err, KV_EINVAL, "%s; refusing to start", e.msg);
    if (found < 0) {
        failed(s, e.msg);
        return 0;
    }
    if (found == 1) memset(&m, 0, sizeof(m));
    uint64_t local = local_lsn(s);
    char why[S3S_REASON_MAX + 256];
    int verdict = judge(s, found, &m, &res, local, why, sizeof(why));
    if (verdict == 1) {
        man_free(&m);
        return kv_err_set(err, KV_EINVAL, "%s; refusing to start", why);
    }
    if (verdict == 2) {
        if (restore(s, &m, &e) != 0) {
            /* Serving the older local data (or none, on a new machine) would look like lost
             * writes; exiting lets a supervisor retry. */
            kv_err_set(err, KV_EINVAL,
                       "cannot restore from %s, which holds newer data (LSN %" PRIu64 " > %" PRIu64
                       "): %s; local files untouched, refusing to start",
                       s->where, m.last_lsn, local, e.msg);
            man_free(&m);
            return -1;
        }
        snprintf(s->history, sizeof(s->history), "%s", m.history); /* its data is ours now */
    } else if (found == 0 && m.last_lsn < local) {
        log_info("the data dir is ahead of %s (LSN %" PRIu64 " > %" PRIu64 "); uploading", s->where,
                 local, m.last_lsn);
    }
    snprintf(s->etag, sizeof(s->etag), "%s", etag);
    int rc = claim(s, found, &m, why, sizeof(why), &e);
    man_free(&m);
    if (rc == 1) return kv_err_set(err, KV_EINVAL, "%s; refusing to start", why);
    if (rc < 0) failed(s, e.msg);
    return 0;
}

/* ---- the backlog ---- */

/* Drops the pending records up to LSN upto (under mu); pending holds whole records after
 * its WAL header, the first with LSN pend_first. */
static void drop_pending(struct s3s *s, uint64_t upto)
{
    struct buf *b = &s->pending;
    size_t off = WALF_FILE_HDR;
    while (s->pend_first <= upto && s->pend_first <= s->pend_last && off < b->len) {
        struct walf_rec rec;
        kv_assert(walf_read((unsigned char *)b->data + off, b->len - off, s->pend_first, &rec) ==
                  0);
        off += rec.size;
        s->pend_first++;
    }
    if (off == b->len) {
        b->len = 0; /* every record dropped: the header goes too */
        return;
    }
    memmove(b->data + WALF_FILE_HDR, b->data + off, b->len - off);
    b->len -= off - WALF_FILE_HDR;
}

/* The segment in flight is in S3 or covered (under mu); a large buffer is given back. */
static void clear_inflight(struct s3s *s)
{
    s->inflight.len = 0;
    s->inflight_bytes = 0;
    if (s->inflight.cap > S3S_KEEP_BYTES) buf_deinit(&s->inflight);
}

void s3s_wal_tap(void *ctx, const void *p, size_t n, uint64_t first, uint64_t last)
{
    struct s3s *s = ctx;
    pthread_mutex_lock(&s->mu);
    if (!s->halted) {
        if (s->pending.len == 0) {         /* the thread may be sleeping until the next renewal */
            walf_file_header(&s->pending); /* pending is a segment's body from its start */
            s->pend_first = first;
            pthread_cond_signal(&s->cv);
        }
        buf_append(&s->pending, p, n);
        s->pend_last = last;
    }
    s->tapped_last = last;
    pthread_mutex_unlock(&s->mu);
}

void s3s_snapshot(struct s3s *s, int fd, uint64_t lsn)
{
    struct stat st;
    pthread_mutex_lock(&s->mu);
    if (s->snap_fd >= 0) close(s->snap_fd);
    s->snap_fd = -1;
    s->want_snapshot = 0;
    if (!s->halted && fstat(fd, &st) == 0) {
        s->snap_fd = fd;
        s->snap_lsn = lsn;
        s->snap_bytes = (uint64_t)st.st_size;
        pthread_cond_signal(&s->cv);
    } else {
        close(fd);
    }
    pthread_mutex_unlock(&s->mu);
}

int s3s_snapshot_wanted(struct s3s *s)
{
    pthread_mutex_lock(&s->mu);
    int want = s->want_snapshot;
    s->want_snapshot = 0;
    pthread_mutex_unlock(&s->mu);
    return want;
}

int s3s_writable(struct s3s *s, char *why, size_t n)
{
    pthread_mutex_lock(&s->mu);
    uint64_t backlog = backlog_locked(s);
    pthread_mutex_unlock(&s->mu);
    if (backlog <= s->cfg.max_backlog) return 1;
    snprintf(why, n,
             "the S3 backlog is full (%" PRIu64 " bytes of WAL not yet in %s, limit %" PRIu64 ")",
             backlog, s->where, s->cfg.max_backlog);
    return 0;
}

void s3s_get_stats(struct s3s *s, struct s3s_stats *st)
{
    pthread_mutex_lock(&s->mu);
    *st = s->st;
    st->backlog_bytes = backlog_locked(s);
    pthread_mutex_unlock(&s->mu);
}

/* 1 when the manifest's segments call for a newer snapshot: too many, or more bytes than the
 * snapshot (restores would replay more than they load). */
static int segments_outgrown(const struct manifest *m)
{
    uint64_t seg_bytes = 0;
    for (size_t i = 0; i < m->nseg; i++)
        seg_bytes += m->segs[i].bytes;
    uint64_t limit = m->has_snap && m->snap_bytes > (1u << 20) ? m->snap_bytes : (1u << 20);
    return m->nseg >= S3S_SEGMENT_NEW || seg_bytes > limit;
}

/* ---- the thread ---- */

/* Deletes objects the manifest no longer lists (best effort: a leftover costs only storage). */
static void delete_key(struct s3s *s, const char *key)
{
    struct s3_res res;
    struct kv_err e;
    int rc = s3_delete(s->s3, key, &res, &e);
    count(s, S3S_DELETE, &res, rc);
    if (rc != 0) log_warn("S3: cannot delete %s: %s", key, e.msg);
}

static void delete_unlisted(struct s3s *s, const struct manifest *old, const struct manifest *now)
{
    char key[S3_KEY_MAX];
    if (old->has_snap && (!now->has_snap || now->snap_lsn != old->snap_lsn ||
                          strcmp(now->snap_by, old->snap_by) != 0)) {
        snap_key(s, key, sizeof(key), old->snap_lsn, old->snap_by);
        delete_key(s, key);
    }
    for (size_t i = 0; i < old->nseg; i++) {
        int kept = 0;
        for (size_t j = 0; j < now->nseg && !kept; j++)
            kept = now->segs[j].first == old->segs[i].first &&
                   strcmp(now->segs[j].by, old->segs[i].by) == 0;
        if (kept) continue;
        seg_key(s, key, sizeof(key), &old->segs[i]);
        delete_key(s, key);
    }
}

/* Uploads bytes [0, n) of fd as key, in parts when large. */
static int upload_file(struct s3s *s, const char *key, int fd, uint64_t n, struct kv_err *err)
{
    struct s3_res res;
    if (n < S3S_MULTIPART_MIN) {
        int rc = s3_put_fd(s->s3, key, fd, 0, n, &res, err);
        count(s, S3S_PUT, &res, rc);
        return rc;
    }
    uint64_t nparts = (n + S3S_PART_BYTES - 1) / S3S_PART_BYTES;
    if (nparts > S3S_MAX_PARTS) return kv_err_set(err, KV_ELIMIT, "snapshot too large for S3");
    char id[S3_UPLOAD_ID_MAX];
    int rc = s3_mpu_create(s->s3, key, id, &res, err);
    count(s, S3S_MPU, &res, rc);
    if (rc != 0) return -1;
    char(*etags)[S3_ETAG_MAX] = kv_calloc((size_t)nparts, S3_ETAG_MAX);
    for (int i = 0; rc == 0 && i < (int)nparts; i++) {
        uint64_t off = (uint64_t)i * S3S_PART_BYTES;
        uint64_t len = n - off < S3S_PART_BYTES ? n - off : S3S_PART_BYTES;
        rc = s3_mpu_part(s->s3, key, id, i + 1, fd, off, len, etags[i], &res, err);
        count(s, S3S_MPU, &res, rc);
    }
    if (rc == 0) {
        rc = s3_mpu_complete(s->s3, key, id, etags, (int)nparts, &res, err);
        count(s, S3S_MPU, &res, rc);
    }
    if (rc != 0) {
        struct kv_err e;
        count(s, S3S_MPU, &res, s3_mpu_abort(s->s3, key, id, &res, &e));
    }
    kv_free(etags);
    return rc;
}

/* After a manifest change someone else made: stop for good. */
static int lost(struct s3s *s)
{
    halt(s, "another server replaced the manifest (conditional write refused)");
    return -1;
}

/* Uploads the offered snapshot and points the manifest at it. */
static int ship_snapshot(struct s3s *s, int fd, uint64_t lsn, uint64_t bytes, struct kv_err *err)
{
    char key[S3_KEY_MAX];
    snap_key(s, key, sizeof(key), lsn, s->id);
    if (upload_file(s, key, fd, bytes, err) != 0) return -1;
    struct manifest m;
    man_copy(&m, &s->man);
    m.has_snap = 1, m.snap_lsn = lsn, m.snap_bytes = bytes;
    snprintf(m.snap_by, sizeof(m.snap_by), "%s", s->id);
    size_t keep = 0;
    for (size_t i = 0; i < m.nseg; i++)
        if (m.segs[i].last > lsn) m.segs[keep++] = m.segs[i];
    m.nseg = keep;
    if (m.last_lsn < lsn) m.last_lsn = lsn;
    struct manifest old;
    man_copy(&old, &s->man);
    int rc = put_manifest(s, &m, err);
    if (rc == 0) delete_unlisted(s, &old, &m);
    man_free(&old);
    man_free(&m);
    if (rc != 0) return rc == 1 ? lost(s) : -1;
    /* Records the snapshot covers need no segment. */
    pthread_mutex_lock(&s->mu);
    if (s->inflight.len && s->in_last <= lsn) clear_inflight(s);
    if (s->pending.len && s->pend_first <= lsn) drop_pending(s, lsn);
    s->st.snapshots++;
    pthread_mutex_unlock(&s->mu);
    s->last_snap_ms = util_mstime();
    log_info("S3: snapshot LSN %" PRIu64 " uploaded as %s (%" PRIu64 " bytes)", lsn, key, bytes);
    return 0;
}

/* Uploads the inflight segment and lists it in the manifest. */
static int ship_segment(struct s3s *s, struct kv_err *err)
{
    char key[S3_KEY_MAX];
    struct seg g = {s->in_first, s->in_last, s->inflight.len, ""};
    snprintf(g.by, sizeof(g.by), "%s", s->id);
    seg_key(s, key, sizeof(key), &g);
    struct s3_res res;
    int rc = s3_put(s->s3, key, s->inflight.data, s->inflight.len, NULL, &res, err);
    count(s, S3S_PUT, &res, rc);
    if (rc != 0) return -1;
    struct manifest m;
    man_copy(&m, &s->man);
    man_add_seg(&m, g);
    m.last_lsn = s->in_last;
    rc = put_manifest(s, &m, err);
    man_free(&m);
    if (rc != 0) return rc == 1 ? lost(s) : -1;
    pthread_mutex_lock(&s->mu);
    clear_inflight(s);
    s->st.segments++;
    /* Without a newer local snapshot to send, ask the server for one. */
    if (segments_outgrown(&s->man) && s->snap_fd < 0) s->want_snapshot = 1;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* Makes the pending records after what S3 holds the inflight segment (a swap, no copy). */
static void take_pending(struct s3s *s)
{
    kv_assert(s->inflight.len == 0);
    pthread_mutex_lock(&s->mu);
    if (s->pending.len && s->pend_first <= s->man.last_lsn) drop_pending(s, s->man.last_lsn);
    if (s->pending.len) {
        struct buf t = s->inflight;
        s->inflight = s->pending;
        s->pending = t;
        s->pending.len = 0;
        s->in_first = s->pend_first;
        s->in_last = s->pend_last;
        s->inflight_bytes = s->inflight.len - WALF_FILE_HDR;
    }
    pthread_mutex_unlock(&s->mu);
}

/* Claims the prefix after S3 was unreachable at start. 0 = claimed. */
static int claim_late(struct s3s *s, struct kv_err *err)
{
    struct manifest m;
    struct s3_res res;
    char etag[S3_ETAG_MAX] = "", why[S3S_REASON_MAX + 256];
    int found = fetch_manifest(s, &m, etag, &res, err);
    if (found == -2) {
        halt(s, err->msg);
        return -1;
    }
    if (found < 0) return -1;
    if (found == 1) memset(&m, 0, sizeof(m));
    pthread_mutex_lock(&s->mu);
    uint64_t local = s->tapped_last > s->snap_lsn ? s->tapped_last : s->snap_lsn;
    pthread_mutex_unlock(&s->mu);
    int verdict = judge(s, found, &m, &res, local, why, sizeof(why));
    if (verdict == 2)
        say(why, sizeof(why),
            "S3 holds newer data (LSN %" PRIu64 ") than this server (LSN %" PRIu64
            "): restart to restore from it",
            m.last_lsn, local);
    int rc = -1;
    if (verdict == 0) {
        snprintf(s->etag, sizeof(s->etag), "%s", etag);
        rc = claim(s, found, &m, why, sizeof(why), err);
    }
    man_free(&m);
    if (verdict != 0 || rc == 1) halt(s, why);
    return rc == 0 ? 0 : -1;
}

/* What S3 lacks that the offered snapshot covers: it must go before the next segment. */

static int snapshot_due(struct s3s *s, uint64_t next_lsn, uint64_t lsn)
{
    const struct manifest *m = &s->man;
    if (m->has_snap && m->snap_lsn >= lsn) return 0;
    if (next_lsn > m->last_lsn + 1) return 1; /* a gap only the snapshot fills */
    return segments_outgrown(m) || util_mstime() - s->last_snap_ms >= s->cfg.snapshot_every_ms;
}

/* One step of work; 0 if it did something or had nothing to do, -1 if S3 failed. */
static int step(struct s3s *s, int flush, struct kv_err *err)
{
    if (!s->claimed && claim_late(s, err) != 0) return -1;
    /* A snapshot due is taken out of the offer, so a newer one offered meanwhile cannot
     * close the file under the upload; a failed upload puts it back unless one came. */
    pthread_mutex_lock(&s->mu);
    int fd = -1;
    uint64_t lsn = s->snap_lsn, bytes = s->snap_bytes;
    uint64_t next = s->inflight.len ? s->in_first : s->pending.len ? s->pend_first : 0;
    if (s->snap_fd >= 0 && snapshot_due(s, next ? next : s->man.last_lsn + 1, lsn)) {
        fd = s->snap_fd;
        s->snap_fd = -1;
    }
    pthread_mutex_unlock(&s->mu);
    if (fd >= 0) {
        int rc = ship_snapshot(s, fd, lsn, bytes, err);
        pthread_mutex_lock(&s->mu);
        if (rc != 0 && s->snap_fd < 0 && !s->halted) {
            s->snap_fd = fd;
            fd = -1;
        }
        pthread_mutex_unlock(&s->mu);
        if (fd >= 0) close(fd);
        return rc;
    }
    int64_t now = util_mstime();
    if (!s->inflight.len && (flush || now - s->last_ship_ms >= s->cfg.wal_interval_ms)) {
        take_pending(s);
        s->last_ship_ms = now;
    }
    if (s->inflight.len) {
        if (s->in_first > s->man.last_lsn + 1) {
            halt(s, "WAL records are missing between S3 and this server (no snapshot covers them)");
            return -1;
        }
        return ship_segment(s, err);
    }
    if (now - s->last_manifest_ms >= s->cfg.lease_ms / 3) { /* renew the lease */
        int rc = put_manifest(s, &s->man, err);
        if (rc == 1) return lost(s);
        return rc;
    }
    return 0;
}

/* How long the thread may sleep (ms) before the next step is due. */
static int64_t idle_ms(struct s3s *s, int64_t now)
{
    if (s->failures) return s->next_try_ms - now;
    if (s->inflight.len || (s->snap_fd >= 0 && !s->claimed)) return 0;
    int64_t wait = s->last_manifest_ms + s->cfg.lease_ms / 3 - now;
    if (s->pending.len && s->last_ship_ms + s->cfg.wal_interval_ms - now < wait)
        wait = s->last_ship_ms + s->cfg.wal_interval_ms - now;
    if (s->snap_fd >= 0 && !(s->man.has_snap && s->man.snap_lsn >= s->snap_lsn)) {
        if (snapshot_due(s, s->pending.len ? s->pend_first : s->man.last_lsn + 1, s->snap_lsn))
            wait = 0;
        else if (s->last_snap_ms + s->cfg.snapshot_every_ms - now < wait)
            wait = s->last_snap_ms + s->cfg.snapshot_every_ms - now;
    }
    return wait;
}

/* Shutdown: one last segment if S3 is answering, then release the prefix. */
static void final_flush(struct s3s *s)
{
    struct kv_err e;
    int64_t deadline = util_mstime() + S3S_STOP_MS;
    while (!s->halted && s->claimed && s->failures == 0 && util_mstime() < deadline) {
        pthread_mutex_lock(&s->mu);
        int more = s->pending.len > 0 || s->inflight.len > 0;
        pthread_mutex_unlock(&s->mu);
        if (!more) break;
        if (step(s, 1, &e) != 0) {
            log_warn("S3: at shutdown, %s", e.msg);
            return;
        }
    }
    if (s->halted || !s->claimed || s->failures) return;
    struct manifest m;
    man_copy(&m, &s->man);
    m.released = 1;
    if (put_manifest(s, &m, &e) == 0)
        log_info("S3: %s released (LSN %" PRIu64 ")", s->where, s->man.last_lsn);
    man_free(&m);
}

static void *thread_main(void *arg)
{
    struct s3s *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        int64_t now = util_mstime(), wait = s->halted ? 3600000 : idle_ms(s, now);
        if (wait > 0) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t ns = ts.tv_nsec + (wait % 1000) * 1000000;
            ts.tv_sec += wait / 1000 + ns / 1000000000;
            ts.tv_nsec = ns % 1000000000;
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&s->mu);
        struct kv_err e;
        kv_fork_gate_enter();
        if (step(s, 0, &e) == 0)
            succeeded(s);
        else if (!s->halted)
            failed(s, e.msg);
        kv_fork_gate_leave();
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    final_flush(s);
    return NULL;
}

struct tap_file {
    struct s3s *s;
    uint64_t after;
};

static int tap_rec(void *ctx, const struct walf_rec *rec)
{
    struct tap_file *t = ctx;
    if (rec->lsn > t->after)
        s3s_wal_tap(t->s, rec->payload - WALF_REC_HDR, rec->size, rec->lsn, rec->lsn);
    return 0;
}

int s3s_start(struct s3s *s, uint64_t snap_lsn, struct kv_err *err)
{
    char path[S3S_DIR_MAX + 32];
    /* The local WAL's records after what S3 holds (or after the local snapshot, when S3's
     * state is not known yet) are the first backlog. */
    struct tap_file t = {s, s->claimed && s->man.last_lsn > snap_lsn ? s->man.last_lsn : snap_lsn};
    scan_wal(s, tap_rec, &t);
    snprintf(path, sizeof(path), "%s/kv_database.parquet", s->cfg.dir);
    int fd;
    if (snap_lsn > 0 && (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) s3s_snapshot(s, fd, snap_lsn);
    s->last_ship_ms = util_mstime();
    if (pthread_create(&s->thread, NULL, thread_main, s) != 0)
        return kv_err_set(err, KV_ESYS, "cannot start the S3 thread");
    s->started = 1;
    return 0;
}

void s3s_stop(struct s3s *s)
{
    if (!s->started) return;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    s->started = 0;
}
