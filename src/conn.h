/*
 * conn.h - one client connection: reading and parsing requests, running them, buffering and
 * writing replies, and the limits that keep one client from hurting the others.
 *
 * Life cycle: conn_new() on accept; conn_close() frees it at once when called from the
 * connection's own callbacks; otherwise set CONN_CLOSE_ASAP and the server frees it before
 * the next wait. CONN_CLOSE_AFTER_REPLY flushes pending replies first (QUIT, protocol errors).
 *
 * Reading: bytes are read into the server's shared read buffer and parsed in place; only the
 * tail of a partial command is copied into the connection's own `in` buffer, which is freed
 * again once empty, so idle connections cost no buffer memory.
 *
 * Writing: replies accumulate in `rep.out`; the server writes every pending connection once
 * per loop iteration (srv_flush_pending), so a pipeline of N commands costs one write.
 *
 * Limits: max-output-bytes of unsent replies (the client is dropped past it), CONN_QUERY_MAX
 * bytes of a single partial command, and the parser's limits (resp.h).
 *
 * Threads: event-loop thread only.
 */
#ifndef PANDA_CONN_H
#define PANDA_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "net.h"
#include "reply.h"
#include "resp.h"
#include "util.h"
#include "wal.h"

/* Largest partial command a client may have buffered (Redis's client-query-buffer-limit). */
#define CONN_QUERY_MAX (1024LL * 1024 * 1024)
/* Output buffers up to this size are kept after a flush; larger ones are freed. */
#define CONN_OUT_KEEP 16384
/* Most bytes read from one client per readable event, so one client cannot starve others. */
#define CONN_READ_MAX (1024 * 1024)
/* Longest client name (CLIENT SETNAME). */
#define CONN_NAME_MAX 256

enum conn_flags {
    CONN_CLOSE_AFTER_REPLY = 1 << 0,
    CONN_CLOSE_ASAP = 1 << 1,
    CONN_PENDING_WRITE = 1 << 2, /* in the server's pending list */
    CONN_MULTI = 1 << 3,         /* between MULTI and EXEC */
    CONN_DIRTY_CAS = 1 << 4,     /* a WATCHed key changed: EXEC fails */
    CONN_DIRTY_EXEC = 1 << 5,    /* a command failed to queue: EXEC aborts */
    CONN_BLOCKED = 1 << 6,       /* waiting for a snapshot: nothing more is read or run */
};

struct server;
struct cmd_def;
struct multi_state;
struct watch_key;

struct conn {
    struct server *srv;
    int fd;
    uint64_t id;
    unsigned flags;
    struct conn *prev, *next; /* all clients */
    struct conn *pend_next;   /* clients with replies to write */
    struct buf in;            /* partial command carried between reads */
    struct resp_parser parser;
    struct reply rep;
    size_t sent;          /* bytes at the front of rep.out already written */
    struct wal_hold hold; /* what replies wait for (fsync always) */
    uint64_t snap_wait;   /* blocked until this snapshot generation ends (SAVE, SNAPSHOT) */
    size_t argc;          /* the command being run */
    struct sv *argv;
    size_t argv_cap;
    char *name;
    int64_t ctime_ms, last_ms;
    const struct cmd_def *last_cmd;
    struct multi_state *multi;
    struct watch_key **watched;
    size_t nwatched, watched_cap;
    char addr[NET_ADDR_MAX];
    char laddr[NET_ADDR_MAX];
};

/* Creates the connection for an accepted fd and registers it with the loop. Returns NULL
 * (and closes fd) when the loop refuses it. */
struct conn *conn_new(struct server *srv, int fd, const char *peer);
/* Unregisters, closes and frees c. c is invalid afterwards. */
void conn_close(struct conn *c);
/* Writes as much pending output as the socket takes; returns -1 if c had to be closed. */
int conn_write(struct conn *c);
/* Reads and runs what is available; used by the read callback and by shutdown. */
void conn_read_and_run(struct conn *c);
/* Blocking (SAVE, SNAPSHOT): a blocked client's later commands stay unread, or buffered,
 * until conn_unblock, which runs what was buffered. conn_unblock may close c (returns -1). */
void conn_block(struct conn *c);
int conn_unblock(struct conn *c);
/* Unsent reply bytes. */
static inline size_t conn_pending_bytes(const struct conn *c)
{
    return c->rep.out.len - c->sent;
}

#endif
