/*
 * httpapi.h - the HTTP API's routes: health and readiness checks, Prometheus metrics, the
 * key-value REST routes and STATS as JSON.
 *
 * Routes (GET routes also answer HEAD):
 *   GET /health                      200 {"status":"ok"}
 *   GET /ready                       200 {"status":"ready"}, or 503 {"status":"not ready",
 *                                    "reason":...} while writes are refused or at shutdown
 *   GET /metrics                     Prometheus text format (metrics.h)
 *   GET /v1/kv/{key}                 200 the raw value (application/octet-stream), 404
 *   PUT /v1/kv/{key}[?ttl=SECONDS]   201 created, 204 replaced; the body is the value
 *   DELETE /v1/kv/{key}              204, 404
 *   GET /v1/kv?prefix=P&limit=N&cursor=C   {"keys":[...],"next_cursor":"C2" or null}
 *   GET /v1/stats                    STATS's fields as JSON
 * Anything else is 404, a route asked with a method it does not take is 405 (with Allow).
 * Errors are JSON: {"error":"..."}. Keys are percent-decoded (binary-safe, %00 included).
 *
 * Writes go through the keyspace exactly as RESP's SET and DEL do (ks_put, ks_del), so the
 * keyspace hook logs them to the WAL; the caller (httpsrv.c) turns them into a record and
 * holds the response until it is durable, as for RESP replies (srv_commit).
 *
 * Threads: event-loop thread only.
 */
#ifndef PANDA_HTTPAPI_H
#define PANDA_HTTPAPI_H

#include <stddef.h>

#include "buf.h"
#include "http.h"

/* Most keys one GET /v1/kv returns (limit=), and its default. */
#define HAPI_LIST_MAX     1000
#define HAPI_LIST_DEFAULT 100
/* Most hash-table buckets one listing visits (as SCAN's 10 x COUNT): a sparse prefix returns
 * fewer keys than asked and a cursor to go on from. */
#define HAPI_LIST_VISITS_MAX 10000

enum hapi_route {
    HAPI_HEALTH = 0,
    HAPI_READY,
    HAPI_METRICS,
    HAPI_KV_GET,
    HAPI_KV_PUT,
    HAPI_KV_DELETE,
    HAPI_KV_LIST,
    HAPI_STATS,
    HAPI_UNKNOWN, /* no route, or a request the parser refused */
    HAPI_NROUTES
};

struct hapi_resp {
    enum hapi_route route;
    int status;
    const char *ctype; /* NULL: no body */
    const char *body;  /* the scratch buffer, or a value in the keyspace (valid until the
                          keyspace next changes: copy it out at once) */
    size_t body_len;
    const char *allow; /* with 405 */
};

struct server;

/* Answers one complete request; body[0..blen) is its body. Builds JSON bodies in scratch
 * (emptied first). May change the keyspace (PUT, DELETE, an expired key found). */
void hapi_handle(struct server *s, struct http_req *req, const char *body, size_t blen,
                 struct buf *scratch, struct hapi_resp *r);
/* A JSON error response {"error": msg} in scratch. */
void hapi_error(struct hapi_resp *r, struct buf *scratch, int status, const char *msg);
/* The route's name, a Prometheus label value. */
const char *hapi_route_name(enum hapi_route route);

#endif
