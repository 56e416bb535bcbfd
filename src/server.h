/*
 * server.h - the server process: struct server (the one mutable global), start-up, the
 * event loop's timers and hooks, and graceful shutdown.
 *
 * Threads: everything here runs on the event-loop thread, except the background worker
 * (bg.h), which only ever sees what a job hands it.
 *
 * Start-up: srv_init creates the data dir, takes an exclusive lock on it (two servers never
 * share a data dir), loads the Parquet snapshot (snap.h) and replays the WAL records after it
 * into the keyspace, imports --import's file, raises the open-file limit to fit
 * max-clients, listens, and installs signal handling through a signalfd. The HTTP port
 * (httpsrv.h) is bound before recovery and answers health checks from a thread meanwhile;
 * the RESP port opens only once recovery is done.
 * Durability: every command's changes become one WAL record (srv_after_command); under
 * fsync always a client's replies are held until the WAL's durable LSN covers the last record
 * that existed when its command ran, so no reply ever reveals or acknowledges data that a
 * crash could still lose.
 * Shutdown (SIGINT, SIGTERM, SHUTDOWN): stop accepting, read and run what clients already
 * sent, write and fdatasync the WAL, write every pending reply (for at most
 * SRV_SHUTDOWN_FLUSH_MS), exit 0.
 */
#ifndef PANDA_SERVER_H
#define PANDA_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "bg.h"
#include "config.h"
#include "ev.h"
#include "ht.h"
#include "ks.h"
#include "s3store.h"
#include "snap.h"
#include "wal.h"

#define SRV_HZ                10    /* cron runs per second */
#define SRV_READ_BUF          65536 /* shared read buffer */
#define SRV_FD_RESERVE        64    /* fds kept for files, listeners, epoll, signals */
#define SRV_EXPIRE_CYCLE_US   1000  /* time budget of active expiry per cron run */
#define SRV_REHASH_CYCLE_US   1000  /* time budget of rehashing per cron run */
#define SRV_SHUTDOWN_FLUSH_MS 5000  /* longest wait for slow readers at shutdown */

struct srv_stats {
    uint64_t total_connections;
    uint64_t rejected_connections;
    uint64_t total_commands;
    uint64_t keyspace_hits;
    uint64_t keyspace_misses;
    uint64_t net_input_bytes;
    uint64_t net_output_bytes;
    uint64_t protocol_errors;
    uint64_t output_limit_disconnections;
};

struct server {
    struct config cfg;
    struct ev_loop *loop;
    struct bg *bg;
    int listen_fd;
    int signal_fd;
    int lock_fd;
    struct ks ks;
    struct wal *wal;
    struct snap *snap;
    struct s3s *s3s;   /* NULL unless S3 is on */
    struct hsrv *http; /* the HTTP port (httpsrv.h); NULL when http-port is 0 */
    char refusal[512]; /* srv_write_refusal's text */
    struct ht watched; /* key -> clients WATCHing it (cmd_multi.c) */
    struct conn *clients;
    struct conn *pending;
    size_t nclients;
    uint64_t next_client_id;
    int64_t start_ms;
    int64_t start_us_mono;
    int shutdown_asked;
    uint64_t cron_runs;
    uint64_t cmd_clock_ns; /* where the next command's time starts (cmd.h) */
    char *read_buf;        /* SRV_READ_BUF bytes shared by all reads */
    struct srv_stats st;
};

extern struct server g_srv; /* the one instance; code reaches it through pointers */

/* Sets up everything from cfg; returns 0, or -1 with err filled. */
int srv_init(struct server *s, const struct config *cfg, struct kv_err *err);
/* Runs until shutdown; returns the process exit status. */
int srv_run(struct server *s);
/* Asks for a graceful shutdown after the current event. */
void srv_request_shutdown(struct server *s, const char *why);

/* Queues c for the next flush of pending replies. */
void srv_mark_pending(struct server *s, struct conn *c);

/* 1 while c's replies must wait for the WAL (see srv_after_command). */
int srv_reply_held(const struct server *s, const struct conn *c);
/* 1 while replies under h must wait (wal_held). */
int srv_held(const struct server *s, const struct wal_hold *h);
/* NULL if write commands may run; otherwise why they are refused (the WAL cannot be written,
 * the S3 backlog is full), a clause for the error reply. */
const char *srv_write_refusal(struct server *s);
/* Blocks c until a new snapshot of the current state is durable, then replies +OK (or the
 * error). Replies with an error at once when none can start. */
void srv_wait_snapshot(struct server *s, struct conn *c);
/* Turns the keyspace changes since the last call (one command, one HTTP request) into one
 * WAL record and raises *h to what the caller's replies must wait for under fsync always:
 * a write for its own record, a read for the last record before it (struct wal_hold). */
void srv_commit(struct server *s, struct wal_hold *h);

/* How every client connection reads (RESP and HTTP). With nothing buffered in *in, one read()
 * goes into the server's shared read buffer, run() executes the complete requests in place and
 * only the unconsumed tail is copied into *in; otherwise up to `room` bytes are read into *in,
 * run() consumes what completes and *in is freed once empty, so idle connections hold no
 * buffer. run() returns how many bytes of p[0..n) it consumed. Returns read()'s result. */
typedef size_t srv_run_fn(void *ctx, char *p, size_t n);
ssize_t srv_read_input(struct server *s, int fd, struct buf *in, size_t room, srv_run_fn *run,
                       void *ctx);
/* srv_commit for the RESP command that just ran, into c's hold. */
void srv_after_command(struct server *s, struct conn *c);

/* What STATS reports, for STATS and GET /v1/stats. */
struct srv_storage {
    uint64_t parquet_bytes, wal_bytes, pending;
    size_t keys;
    int s3_on;
    struct s3s_stats s3; /* when s3_on */
};
void srv_storage(struct server *s, struct srv_storage *out);

#endif
