/*
 * httpsrv.h - the HTTP port: listening, connections, limits, timeouts, responses, and the
 * start-up responder that answers health checks while recovery runs.
 *
 * Where it runs: HTTP connections live in the server's epoll loop (ev.h) beside the RESP
 * clients, so a request's handler (httpapi.h) runs on the loop thread like a RESP command and
 * needs no lock. Keep-alive and pipelining: requests of one connection are answered in order;
 * a connection reads into the server's shared read buffer, parses in place (http.h) and keeps
 * only the tail of an incomplete request in its own buffer, like conn.c.
 *
 * Durability: after each request, srv_commit turns its keyspace changes into one WAL record;
 * under fsync always the connection's responses wait (hsrv_flush, before the loop sleeps)
 * until the WAL is durable up to it, exactly like RESP replies.
 *
 * Limits: a request head of at most HSRV_HEAD_MAX bytes (414/431), a body of at most
 * max-bulk-bytes (413), at most http-max-clients connections (503 and close), unsent
 * responses over max-output-bytes (the client is dropped), and http-timeout: a request head
 * must be complete within it of its first byte, and a connection that makes no progress
 * (reading or writing) for that long is closed (408 when a request was under way). Every
 * refusal is a JSON error followed by closing the connection; nothing a client sends can stop
 * the server.
 *
 * Start-up: hsrv_new binds the port before recovery; hsrv_boot_start runs a thread that, until
 * hsrv_boot_stop, answers each connection once - /health 200, /ready and every other route
 * 503 with the recovery phase - and closes it. hsrv_start then hands the socket to the loop.
 * The thread allocates nothing and touches nothing but its own sockets; it is joined before
 * anything forks.
 *
 * Threads: everything on the loop thread, except the start-up responder.
 */
#ifndef PANDA_HTTPSRV_H
#define PANDA_HTTPSRV_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hist.h"
#include "httpapi.h"

/* Longest request head (request line, headers, empty line). */
#define HSRV_HEAD_MAX 65536
/* Most bytes read from one connection per readable event (a large body). */
#define HSRV_READ_MAX (1024 * 1024)
/* Response buffers up to this size are kept after a flush; larger ones are freed. */
#define HSRV_OUT_KEEP 16384
/* Most connections accepted per readable event on the listening socket. */
#define HSRV_ACCEPT_BATCH 256
/* The start-up responder's budget for reading one request. */
#define HSRV_BOOT_READ_MS 500

/* Status codes counted in metrics, in this order (see hsrv_status_index). */
#define HSRV_STATUSES                                                                              \
    {                                                                                              \
        200, 201, 204, 400, 404, 405, 408, 411, 413, 414, 417, 431, 500, 501, 503, 505             \
    }
#define HSRV_NSTATUS 16

struct hsrv_stats {
    uint64_t connections; /* open now */
    uint64_t accepted;    /* since start */
    uint64_t rejected;    /* over http-max-clients */
    uint64_t timeouts;    /* closed by http-timeout */
    uint64_t output_limit_drops;
    uint64_t requests[HAPI_NROUTES][HSRV_NSTATUS];
    struct hist duration; /* request handling on the loop thread (not the WAL wait) */
};

struct server;
struct hsrv;

/* Opens the listening socket on the server's bind address and http-port. NULL with err. */
struct hsrv *hsrv_new(struct server *srv, struct kv_err *err);
/* Closes every connection and the socket, stops the responder if running, frees. */
void hsrv_free(struct hsrv *h);

/* The start-up responder; phase is a static string ("loading the snapshot", ...). */
int hsrv_boot_start(struct hsrv *h, struct kv_err *err);
void hsrv_boot_phase(struct hsrv *h, const char *phase);
void hsrv_boot_stop(struct hsrv *h);

/* Recovery is done: the loop accepts and serves from now on. */
int hsrv_start(struct hsrv *h, struct kv_err *err);
/* Shutdown: accept no more connections (the open ones are still answered). */
void hsrv_stop_listening(struct hsrv *h);

/* Before the loop sleeps: writes the responses whose WAL records are durable. */
void hsrv_flush(struct hsrv *h);
/* From the server's cron: timeouts, and re-arming accept after running out of fds. */
void hsrv_cron(struct hsrv *h);
/* Shutdown: writes every response that may go now (not waiting for the WAL); returns how
 * many connections still have such responses unwritten (slow readers). */
size_t hsrv_drain(struct hsrv *h);

void hsrv_get_stats(const struct hsrv *h, struct hsrv_stats *st);
/* Index of status in HSRV_STATUSES, or -1. */
int hsrv_status_index(int status);

#endif
