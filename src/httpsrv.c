/* httpsrv.c - the HTTP port: connections, limits, responses, start-up responder (see
 * httpsrv.h). */
#include "httpsrv.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "log.h"
#include "net.h"
#include "server.h"
#include "util.h"

enum hc_flags {
    HC_CLOSE_AFTER = 1 << 0, /* close once the responses are written */
    HC_CLOSE_ASAP = 1 << 1,  /* close before the loop sleeps again */
    HC_PENDING = 1 << 2,     /* in the pending list */
};

struct hconn {
    struct hsrv *hs;
    int fd;
    unsigned flags;
    struct hconn *prev, *next, *pend_next;
    struct buf in;        /* an incomplete request carried between reads */
    size_t scanned;       /* http_parse_request's resume offset in it */
    uint64_t want;        /* bytes of the current request (head and body) once its head is known */
    int continued;        /* 100 Continue was sent for the current request */
    int64_t head_ms;      /* when the current request's first bytes came; 0 between requests */
    int64_t last_ms;      /* the last read or write that made progress */
    struct buf out;       /* responses not written yet */
    size_t sent;          /* bytes at the front of out already written */
    struct wal_hold hold; /* what responses wait for (fsync always) */
    char addr[NET_ADDR_MAX];
};

struct hsrv {
    struct server *srv;
    int lfd;
    int listening; /* the listener is registered with the loop */
    struct hconn *conns, *pending;
    struct buf scratch; /* JSON and metrics bodies, reused */
    struct http_limits lim;
    struct hsrv_stats st;
    char date[40];
    time_t date_s;
    pthread_t boot;
    int boot_on;
    int boot_efd;
    _Atomic(const char *) phase;
};

static const int statuses[HSRV_NSTATUS] = HSRV_STATUSES;

int hsrv_status_index(int status)
{
    for (int i = 0; i < HSRV_NSTATUS; i++)
        if (statuses[i] == status) return i;
    return -1;
}

static void count(struct hsrv *h, enum hapi_route route, int status)
{
    int i = hsrv_status_index(status);
    kv_assert(i >= 0 && route < HAPI_NROUTES); /* every status sent is in HSRV_STATUSES */
    h->st.requests[route][i]++;
}

static size_t unsent(const struct hconn *c)
{
    return c->out.len - c->sent;
}

static int held(const struct hconn *c)
{
    return srv_held(c->hs->srv, &c->hold);
}

/* ---- responses ---- */

static const char *date_now(struct hsrv *h)
{
    time_t t = time(NULL);
    if (t != h->date_s) {
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(h->date, sizeof(h->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        h->date_s = t;
    }
    return h->date;
}

/* Appends a whole response to c's output; HEAD responses carry the headers only. */
static void put_response(struct hconn *c, const struct hapi_resp *r, int head_only, int keep,
                         int minor)
{
    struct buf *o = &c->out;
    buf_printf(o, "HTTP/1.1 %d %s\r\nServer: Panda\r\nDate: %s\r\n", r->status,
               http_reason(r->status), date_now(c->hs));
    if (r->ctype) buf_printf(o, "Content-Type: %s\r\n", r->ctype);
    if (r->status != 204) buf_printf(o, "Content-Length: %zu\r\n", r->body_len);
    if (r->allow) buf_printf(o, "Allow: %s\r\n", r->allow);
    if (!keep)
        buf_append_str(o, "Connection: close\r\n");
    else if (minor == 0)
        buf_append_str(o, "Connection: keep-alive\r\n");
    buf_append(o, "\r\n", 2);
    if (!head_only && r->body_len > 0) buf_append(o, r->body, r->body_len);
}

/* Answers with a JSON error and closes the connection once it is written. */
static void hc_fail(struct hconn *c, int status, const char *msg)
{
    struct hapi_resp r;
    memset(&r, 0, sizeof(r));
    r.route = HAPI_UNKNOWN;
    hapi_error(&r, &c->hs->scratch, status, msg);
    put_response(c, &r, 0, 0, 1);
    count(c->hs, r.route, status);
    c->flags |= HC_CLOSE_AFTER;
    log_debug("HTTP client %s: %d %s", c->addr, status, msg);
}

/* ---- connections ---- */

static void mark_pending(struct hconn *c)
{
    if (c->flags & HC_PENDING) return;
    c->flags |= HC_PENDING;
    c->pend_next = c->hs->pending;
    c->hs->pending = c;
}

static void unlink_pending(struct hconn *c)
{
    if (!(c->flags & HC_PENDING)) return;
    struct hconn **pp = &c->hs->pending;
    while (*pp != c)
        pp = &(*pp)->pend_next;
    *pp = c->pend_next;
    c->flags &= ~HC_PENDING;
}

static void hc_close(struct hconn *c)
{
    struct hsrv *h = c->hs;
    ev_del(h->srv->loop, c->fd, EV_READABLE | EV_WRITABLE);
    close(c->fd);
    unlink_pending(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    kv_assert(h->st.connections > 0);
    h->st.connections--;
    buf_deinit(&c->in);
    buf_deinit(&c->out);
    kv_free(c);
}

static void on_event(struct ev_loop *loop, int fd, void *data, int mask);

/* Writes as much output as the socket takes; returns -1 if c was closed. */
static int hc_write(struct hconn *c)
{
    struct ev_loop *loop = c->hs->srv->loop;
    while (unsent(c) > 0) {
        ssize_t n = write(c->fd, c->out.data + c->sent, unsent(c));
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
        if (n < 0) {
            hc_close(c);
            return -1;
        }
        c->sent += (size_t)n;
        c->hs->srv->st.net_output_bytes += (uint64_t)n;
        c->last_ms = util_mstime();
    }
    struct kv_err err;
    if (unsent(c) > 0) {
        if (!(ev_mask(loop, c->fd) & EV_WRITABLE) &&
            ev_add(loop, c->fd, EV_WRITABLE, on_event, c, &err) != 0) {
            hc_close(c);
            return -1;
        }
        return 0;
    }
    c->sent = c->out.len = 0;
    if (c->out.cap > HSRV_OUT_KEEP) buf_deinit(&c->out);
    ev_del(loop, c->fd, EV_WRITABLE);
    if (c->flags & HC_CLOSE_AFTER) {
        hc_close(c);
        return -1;
    }
    return 0;
}

/* Runs one complete request (head parsed, body[0..blen) received). */
static void serve(struct hconn *c, struct http_req *q, const char *body, size_t blen)
{
    struct hsrv *h = c->hs;
    struct server *s = h->srv;
    uint64_t t0 = hist_now_ns();
    struct hapi_resp r;
    s->ks.now_ms = util_mstime();
    hapi_handle(s, q, body, blen, &h->scratch, &r);
    int keep = (q->flags & HTTP_KEEP_ALIVE) != 0;
    put_response(c, &r, q->method == HTTP_HEAD, keep, q->minor);
    srv_commit(s, &c->hold); /* the request's changes: one WAL record */
    count(h, r.route, r.status);
    hist_add(&h->st.duration, hist_now_ns() - t0);
    if (!keep) c->flags |= HC_CLOSE_AFTER;
    if (h->scratch.cap > HSRV_OUT_KEEP) buf_deinit(&h->scratch);
}

/* Starts the next request of a keep-alive connection. */
static void next_request(struct hconn *c)
{
    c->scanned = 0;
    c->want = 0;
    c->continued = 0;
    c->head_ms = 0;
}

/* Parses and runs every complete request in buf[0..len); returns the bytes consumed. */
static size_t run_buffer(struct hconn *c, char *buf, size_t len)
{
    size_t off = 0;
    while (off < len && !(c->flags & (HC_CLOSE_AFTER | HC_CLOSE_ASAP))) {
        struct http_req req;
        long head = http_parse_request(buf + off, len - off, &c->scanned, &c->hs->lim, &req);
        if (head == HTTP_AGAIN) {
            if (!c->head_ms) c->head_ms = util_mstime();
            break;
        }
        if (head == HTTP_BAD) {
            hc_fail(c, req.status, req.error);
            return len;
        }
        uint64_t total = (uint64_t)head + req.content_length;
        if (len - off < total) { /* the body is still coming */
            if (!c->head_ms) c->head_ms = util_mstime();
            c->want = total;
            if ((req.flags & HTTP_EXPECT_CONTINUE) && !c->continued) {
                buf_append_str(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
                c->continued = 1;
            }
            break;
        }
        serve(c, &req, buf + off + head, (size_t)req.content_length);
        off += (size_t)total;
        next_request(c);
    }
    return off;
}

static size_t run_input(void *c, char *p, size_t n)
{
    return run_buffer(c, p, n);
}

/* Bytes to read into c->in: a body known to be coming is read up to its end at once. */
static size_t read_room(const struct hconn *c)
{
    size_t room = SRV_READ_BUF;
    if (c->want > c->in.len + room) room = (size_t)(c->want - c->in.len);
    return room > HSRV_READ_MAX ? HSRV_READ_MAX : room;
}

static void hc_read(struct hconn *c)
{
    ssize_t n = srv_read_input(c->hs->srv, c->fd, &c->in, read_room(c), run_input, c);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        c->flags |= HC_CLOSE_ASAP;
        return;
    }
    if (n < 0) return;
    struct server *s = c->hs->srv;
    c->last_ms = util_mstime();
    s->st.net_input_bytes += (uint64_t)n;
    if (unsent(c) > (size_t)s->cfg.max_output_bytes) {
        log_warn("HTTP client %s closed: %zu response bytes unread, over max-output-bytes", c->addr,
                 unsent(c));
        c->hs->st.output_limit_drops++;
        c->flags |= HC_CLOSE_ASAP;
    }
    if (unsent(c) > 0) mark_pending(c);
}

static void on_event(struct ev_loop *loop, int fd, void *data, int mask)
{
    (void)fd;
    struct hconn *c = data;
    /* A response waiting for the WAL leaves only from hsrv_flush, once it is durable. */
    if ((mask & EV_WRITABLE) && !held(c) && hc_write(c) != 0) return;
    if ((mask & EV_READABLE) && !(c->flags & HC_CLOSE_AFTER)) hc_read(c);
    if (c->flags & HC_CLOSE_ASAP) {
        hc_close(c);
        return;
    }
    if (c->flags & HC_CLOSE_AFTER) ev_del(loop, c->fd, EV_READABLE);
}

/* ---- accepting ---- */

static void reject(struct hsrv *h, int fd)
{
    static const char msg[] = "HTTP/1.1 503 Service Unavailable\r\nServer: Panda\r\n"
                              "Content-Type: application/json\r\nContent-Length: 38\r\n"
                              "Connection: close\r\n\r\n{\"error\":\"too many HTTP connections\"}";
    ssize_t w = write(fd, msg, sizeof(msg) - 1); /* best effort: the socket is fresh */
    (void)w;
    close(fd);
    h->st.rejected++;
}

static void hc_new(struct hsrv *h, int fd, const char *peer)
{
    struct hconn *c = kv_calloc(1, sizeof(*c));
    c->hs = h;
    c->fd = fd;
    c->last_ms = util_mstime();
    buf_init(&c->in);
    buf_init(&c->out);
    snprintf(c->addr, sizeof(c->addr), "%s", peer);
    struct kv_err err;
    if (ev_add(h->srv->loop, fd, EV_READABLE, on_event, c, &err) != 0) {
        log_warn("refusing HTTP client %s: %s", peer, err.msg);
        close(fd);
        kv_free(c);
        return;
    }
    c->next = h->conns;
    if (h->conns) h->conns->prev = c;
    h->conns = c;
    h->st.connections++;
}

/* Accepts one connection; returns 1 when none is waiting (or accepting must pause). */
static int accept_one(struct hsrv *h)
{
    char peer[NET_ADDR_MAX];
    struct kv_err err;
    int fd = net_accept(h->lfd, peer, sizeof(peer), &err);
    if (fd == -2) return 1;
    if (fd < 0) {
        log_warn("HTTP %s", err.msg);
        if (err.sys_errno == EMFILE || err.sys_errno == ENFILE) {
            ev_del(h->srv->loop, h->lfd, EV_READABLE); /* hsrv_cron re-arms it */
            h->listening = 0;
        }
        return 1;
    }
    h->st.accepted++;
    if (h->st.connections >= (uint64_t)h->srv->cfg.http_max_clients)
        reject(h, fd);
    else
        hc_new(h, fd, peer);
    return 0;
}

static void on_accept(struct ev_loop *loop, int fd, void *data, int mask)
{
    (void)loop;
    (void)fd;
    (void)mask;
    for (int i = 0; i < HSRV_ACCEPT_BATCH; i++)
        if (accept_one(data) != 0) break;
}

/* ---- the server's side ---- */

struct hsrv *hsrv_new(struct server *srv, struct kv_err *err)
{
    kv_assert(srv->cfg.http_port > 0);
    int fd = net_listen(srv->cfg.bind, (int)srv->cfg.http_port, err);
    if (fd < 0) return NULL;
    struct hsrv *h = kv_calloc(1, sizeof(*h));
    h->srv = srv;
    h->lfd = fd;
    h->boot_efd = -1;
    h->lim.head_max = HSRV_HEAD_MAX;
    h->lim.body_max = (uint64_t)srv->cfg.max_bulk_bytes;
    buf_init(&h->scratch);
    atomic_store(&h->phase, "starting");
    return h;
}

int hsrv_start(struct hsrv *h, struct kv_err *err)
{
    kv_assert(!h->boot_on);
    if (ev_add(h->srv->loop, h->lfd, EV_READABLE, on_accept, h, err) != 0) return -1;
    h->listening = 1;
    return 0;
}

void hsrv_stop_listening(struct hsrv *h)
{
    if (h->lfd < 0) return;
    ev_del(h->srv->loop, h->lfd, EV_READABLE);
    close(h->lfd);
    h->lfd = -1;
    h->listening = 0;
}

void hsrv_flush(struct hsrv *h)
{
    struct hconn *c = h->pending;
    h->pending = NULL;
    while (c) {
        struct hconn *next = c->pend_next;
        c->flags &= ~HC_PENDING;
        c->pend_next = NULL;
        if (held(c))
            mark_pending(c);
        else
            hc_write(c);
        c = next;
    }
}

/* A connection that outlived http-timeout: 408 when a request was under way and nothing is
 * waiting to be written, else closed at once. */
static void time_out(struct hconn *c)
{
    c->hs->st.timeouts++;
    log_debug("HTTP client %s timed out", c->addr);
    if (unsent(c) == 0 && (c->head_ms || c->in.len > 0)) {
        hc_fail(c, 408, "request timeout");
        mark_pending(c);
        c->last_ms = util_mstime(); /* one more period for it to be read */
        return;
    }
    hc_close(c);
}

void hsrv_cron(struct hsrv *h)
{
    int64_t now = util_mstime(), limit = h->srv->cfg.http_timeout_ms;
    for (struct hconn *c = h->conns, *next; c; c = next) {
        next = c->next;
        if (held(c)) continue; /* waiting for the disk, not for the client */
        int head_late =
            c->head_ms && !c->want && !(c->flags & HC_CLOSE_AFTER) && now - c->head_ms > limit;
        int stalled = now - c->last_ms > limit;
        if (head_late || stalled) time_out(c);
    }
    struct kv_err err;
    if (!h->listening && h->lfd >= 0 && !h->boot_on &&
        ev_add(h->srv->loop, h->lfd, EV_READABLE, on_accept, h, &err) == 0)
        h->listening = 1;
}

size_t hsrv_drain(struct hsrv *h)
{
    for (struct hconn *c = h->conns; c; c = c->next)
        if (unsent(c) > 0 && !held(c)) mark_pending(c);
    hsrv_flush(h);
    size_t n = 0;
    for (struct hconn *c = h->conns; c; c = c->next)
        n += unsent(c) > 0 && !held(c);
    return n;
}

void hsrv_get_stats(const struct hsrv *h, struct hsrv_stats *st)
{
    *st = h->st;
}

void hsrv_free(struct hsrv *h)
{
    if (!h) return;
    hsrv_boot_stop(h);
    while (h->conns)
        hc_close(h->conns);
    if (h->lfd >= 0) close(h->lfd);
    buf_deinit(&h->scratch);
    kv_free(h);
}

/* ---- the start-up responder ---- */

#define BOOT_BUF 8192

/* Reads one request head from fd within HSRV_BOOT_READ_MS; returns http_parse_request's
 * result (HTTP_AGAIN when time or room ran out). */
static long boot_read(int fd, char *buf, struct http_req *req)
{
    struct http_limits lim = {BOOT_BUF, UINT64_MAX};
    size_t len = 0, scanned = 0;
    int64_t deadline = util_monotonic_us() + HSRV_BOOT_READ_MS * 1000LL;
    long rc = HTTP_AGAIN;
    while (rc == HTTP_AGAIN && len < BOOT_BUF) {
        int64_t left = deadline - util_monotonic_us();
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)(left / 1000) + 1) <= 0) break;
        ssize_t n = read(fd, buf + len, BOOT_BUF - len);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0) break;
        len += (size_t)n;
        rc = http_parse_request(buf, len, &scanned, &lim, req);
    }
    return rc;
}

static void boot_answer(struct hsrv *h, int fd)
{
    char buf[BOOT_BUF], body[256], out[512];
    struct http_req req;
    long rc = boot_read(fd, buf, &req);
    if (rc == HTTP_AGAIN) return;
    int status = 503;
    const char *phase = atomic_load(&h->phase);
    int is_health = rc > 0 && req.path_len == 7 && memcmp(req.path, "/health", 7) == 0;
    int is_ready = rc > 0 && req.path_len == 6 && memcmp(req.path, "/ready", 6) == 0;
    if (rc == HTTP_BAD) {
        status = req.status;
        snprintf(body, sizeof(body), "{\"error\":\"%s\"}", req.error);
    } else if (is_health) {
        status = 200;
        snprintf(body, sizeof(body), "{\"status\":\"ok\"}");
    } else if (is_ready) {
        snprintf(body, sizeof(body),
                 "{\"status\":\"not ready\",\"reason\":\"Panda is starting: %s\"}", phase);
    } else {
        snprintf(body, sizeof(body), "{\"error\":\"Panda is starting: %s\"}", phase);
    }
    int n = snprintf(out, sizeof(out),
                     "HTTP/1.1 %d %s\r\nServer: Panda\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     status, http_reason(status), strlen(body), body);
    if (n > 0 && (size_t)n < sizeof(out) && (rc <= 0 || req.method != HTTP_HEAD)) {
        ssize_t w = write(fd, out, (size_t)n); /* one small write to a fresh socket */
        (void)w;
    }
}

static void *boot_main(void *arg)
{
    struct hsrv *h = arg;
    for (;;) {
        struct pollfd p[2] = {{h->lfd, POLLIN, 0}, {h->boot_efd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0 && errno != EINTR) break;
        if (p[1].revents) break;
        if (!(p[0].revents & POLLIN)) continue;
        int fd = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) poll(NULL, 0, 10); /* let fds free up */
            continue;
        }
        boot_answer(h, fd);
        shutdown(fd, SHUT_WR);
        close(fd);
    }
    return NULL;
}

int hsrv_boot_start(struct hsrv *h, struct kv_err *err)
{
    kv_assert(!h->boot_on && !h->listening);
    h->boot_efd = eventfd(0, EFD_CLOEXEC);
    if (h->boot_efd < 0) return kv_err_sys(err, "eventfd");
    int rc = pthread_create(&h->boot, NULL, boot_main, h);
    if (rc != 0) {
        close(h->boot_efd);
        h->boot_efd = -1;
        errno = rc;
        return kv_err_sys(err, "cannot start the HTTP start-up responder");
    }
    h->boot_on = 1;
    return 0;
}

void hsrv_boot_phase(struct hsrv *h, const char *phase)
{
    if (h) atomic_store(&h->phase, phase);
}

void hsrv_boot_stop(struct hsrv *h)
{
    if (!h || !h->boot_on) return;
    uint64_t one = 1;
    ssize_t w = write(h->boot_efd, &one, sizeof(one));
    (void)w; /* an eventfd write only fails when the counter would overflow */
    pthread_join(h->boot, NULL);
    close(h->boot_efd);
    h->boot_efd = -1;
    h->boot_on = 0;
}
