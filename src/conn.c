/* conn.c - client connections (see conn.h). */
#include "conn.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "cmd.h"
#include "hist.h"
#include "log.h"
#include "multi.h"
#include "server.h"

static void on_event(struct ev_loop *loop, int fd, void *data, int mask);

struct conn *conn_new(struct server *srv, int fd, const char *peer)
{
    struct conn *c = kv_calloc(1, sizeof(*c));
    c->srv = srv;
    c->fd = fd;
    c->id = ++srv->next_client_id;
    c->rep.proto = 2;
    c->ctime_ms = c->last_ms = util_mstime();
    buf_init(&c->in);
    buf_init(&c->rep.out);
    struct resp_limits lim = {(size_t)srv->cfg.max_inline_bytes, (size_t)srv->cfg.max_bulk_bytes,
                              (size_t)srv->cfg.max_args};
    resp_parser_init(&c->parser, &lim);
    snprintf(c->addr, sizeof(c->addr), "%s", peer);
    net_local_addr(fd, c->laddr, sizeof(c->laddr));
    struct kv_err err;
    if (ev_add(srv->loop, fd, EV_READABLE, on_event, c, &err) != 0) {
        log_warn("refusing client %s: %s", peer, err.msg);
        resp_parser_deinit(&c->parser);
        kv_free(c);
        close(fd);
        return NULL;
    }
    c->next = srv->clients;
    if (srv->clients) srv->clients->prev = c;
    srv->clients = c;
    srv->nclients++;
    return c;
}

static void unlink_pending(struct conn *c)
{
    if (!(c->flags & CONN_PENDING_WRITE)) return;
    struct conn **pp = &c->srv->pending;
    while (*pp != c)
        pp = &(*pp)->pend_next;
    *pp = c->pend_next;
    c->flags &= ~CONN_PENDING_WRITE;
}

void conn_close(struct conn *c)
{
    struct server *srv = c->srv;
    log_debug("client %llu (%s) closed", (unsigned long long)c->id, c->addr);
    ev_del(srv->loop, c->fd, EV_READABLE | EV_WRITABLE);
    close(c->fd);
    unlink_pending(c);
    multi_reset(c);
    watch_release_all(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->clients = c->next;
    if (c->next) c->next->prev = c->prev;
    srv->nclients--;
    buf_deinit(&c->in);
    buf_deinit(&c->rep.out);
    resp_parser_deinit(&c->parser);
    kv_free(c->argv);
    kv_free(c->name);
    kv_free(c->watched);
    kv_free(c);
}

/* Points c->argv at the parsed arguments inside base. */
static void set_argv(struct conn *c, char *base)
{
    size_t argc = c->parser.argc;
    if (argc > c->argv_cap) {
        c->argv_cap = argc < 16 ? 16 : argc;
        kv_free(c->argv);
        c->argv = kv_malloc(c->argv_cap * sizeof(*c->argv));
    }
    for (size_t i = 0; i < argc; i++) {
        c->argv[i].p = base + c->parser.args[i].off;
        c->argv[i].len = c->parser.args[i].len;
    }
    c->argc = argc;
}

static void protocol_error(struct conn *c, const char *msg)
{
    c->srv->st.protocol_errors++;
    log_debug("protocol error from client %llu (%s): %s", (unsigned long long)c->id, c->addr, msg);
    rep_errf(&c->rep, "ERR Protocol error: %s", msg);
    c->flags |= CONN_CLOSE_AFTER_REPLY;
}

/* Parses and runs every complete command in buf[0..len); returns the bytes consumed. */
static size_t run_buffer(struct conn *c, char *buf, size_t len)
{
    size_t off = 0;
    c->srv->cmd_clock_ns = hist_now_ns();
    while (off < len && !(c->flags & (CONN_CLOSE_AFTER_REPLY | CONN_CLOSE_ASAP | CONN_BLOCKED))) {
        size_t used = 0;
        int rc = resp_parse(&c->parser, buf + off, len - off, &used);
        if (rc == RESP_AGAIN) break;
        if (rc == RESP_ERROR) {
            protocol_error(c, c->parser.errmsg);
            return len;
        }
        set_argv(c, buf + off);
        if (c->argc > 0) cmd_dispatch(c);
        off += used;
        if (conn_pending_bytes(c) > (size_t)c->srv->cfg.max_output_bytes) {
            log_warn("client %llu (%s) closed: %zu reply bytes unread, over max-output-bytes",
                     (unsigned long long)c->id, c->addr, conn_pending_bytes(c));
            c->srv->st.output_limit_disconnections++;
            c->flags |= CONN_CLOSE_ASAP;
        }
    }
    c->argc = 0;
    return off;
}

static size_t run_input(void *c, char *p, size_t n)
{
    return run_buffer(c, p, n);
}

/* Bytes to read into c->in: inside a large bulk, up to its end at once. */
static size_t read_room(const struct conn *c)
{
    size_t room = SRV_READ_BUF;
    if (c->parser.bulk_len > 0) {
        size_t want = c->parser.pos + (size_t)c->parser.bulk_len + 2;
        if (want > c->in.len && want - c->in.len > room) room = want - c->in.len;
        if (room > CONN_READ_MAX) room = CONN_READ_MAX;
    }
    return room;
}

void conn_read_and_run(struct conn *c)
{
    ssize_t n = srv_read_input(c->srv, c->fd, &c->in, read_room(c), run_input, c);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        c->flags |= CONN_CLOSE_ASAP;
        return;
    }
    if (n < 0) return;
    c->srv->st.net_input_bytes += (uint64_t)n;
    c->last_ms = util_mstime();
    if (c->in.len > (size_t)CONN_QUERY_MAX) {
        log_warn("client %llu (%s) closed: partial command over %lld bytes",
                 (unsigned long long)c->id, c->addr, CONN_QUERY_MAX);
        c->flags |= CONN_CLOSE_ASAP;
    }
    if (conn_pending_bytes(c) > 0) srv_mark_pending(c->srv, c);
}

int conn_write(struct conn *c)
{
    while (conn_pending_bytes(c) > 0) {
        ssize_t n = write(c->fd, c->rep.out.data + c->sent, conn_pending_bytes(c));
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) break;
            conn_close(c);
            return -1;
        }
        c->sent += (size_t)n;
        c->srv->st.net_output_bytes += (uint64_t)n;
    }
    if (conn_pending_bytes(c) > 0) {
        if (!(ev_mask(c->srv->loop, c->fd) & EV_WRITABLE)) {
            struct kv_err err;
            if (ev_add(c->srv->loop, c->fd, EV_WRITABLE, on_event, c, &err) != 0) {
                conn_close(c);
                return -1;
            }
        }
        return 0;
    }
    c->sent = 0;
    c->rep.out.len = 0;
    if (c->rep.out.cap > CONN_OUT_KEEP) buf_deinit(&c->rep.out);
    ev_del(c->srv->loop, c->fd, EV_WRITABLE);
    if (c->flags & CONN_CLOSE_AFTER_REPLY) {
        conn_close(c);
        return -1;
    }
    return 0;
}

void conn_block(struct conn *c)
{
    c->flags |= CONN_BLOCKED;
    ev_del(c->srv->loop, c->fd, EV_READABLE);
}

int conn_unblock(struct conn *c)
{
    kv_assert(c->flags & CONN_BLOCKED);
    c->flags &= ~CONN_BLOCKED;
    struct kv_err err;
    if (!(c->flags & CONN_CLOSE_AFTER_REPLY) &&
        ev_add(c->srv->loop, c->fd, EV_READABLE, on_event, c, &err) != 0)
        c->flags |= CONN_CLOSE_ASAP;
    if (c->in.len > 0 && !(c->flags & CONN_CLOSE_ASAP)) {
        buf_consume(&c->in, run_buffer(c, c->in.data, c->in.len));
        if (c->in.len == 0) buf_deinit(&c->in);
    }
    if (c->flags & CONN_CLOSE_ASAP) {
        conn_close(c);
        return -1;
    }
    srv_mark_pending(c->srv, c);
    return 0;
}

static void on_event(struct ev_loop *loop, int fd, void *data, int mask)
{
    (void)loop;
    (void)fd;
    struct conn *c = data;
    /* A reply waiting for the WAL must not leave with the rest of a slow client's output;
     * the loop flushes it in before_sleep once it is durable. */
    if ((mask & EV_WRITABLE) && !srv_reply_held(c->srv, c) && conn_write(c) != 0) return;
    if ((mask & EV_READABLE) && !(c->flags & CONN_CLOSE_AFTER_REPLY)) conn_read_and_run(c);
    if (c->flags & CONN_CLOSE_ASAP) {
        conn_close(c);
        return;
    }
    /* Nothing more is read from a client that is being closed (level-triggered epoll
     * would otherwise report its unread bytes forever). */
    if (c->flags & CONN_CLOSE_AFTER_REPLY) ev_del(c->srv->loop, c->fd, EV_READABLE);
}
