/* httpapi.c - the HTTP API's routes (see httpapi.h). */
#include "httpapi.h"

#include <limits.h>
#include <string.h>

#include "metrics.h"
#include "server.h"
#include "util.h"

#define CT_JSON    "application/json"
#define CT_OCTETS  "application/octet-stream"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define KV_PREFIX  "/v1/kv/"
#define GET_ONLY   "GET, HEAD"
#define KV_METHODS "GET, HEAD, PUT, DELETE"

static const char *const route_names[HAPI_NROUTES] = {
    "health", "ready", "metrics", "kv_get", "kv_put", "kv_delete", "kv_list", "stats", "unknown",
};

const char *hapi_route_name(enum hapi_route route)
{
    kv_assert(route < HAPI_NROUTES);
    return route_names[route];
}

static void json_body(struct hapi_resp *r, struct buf *sc, int status)
{
    r->status = status;
    r->ctype = CT_JSON;
    r->body = sc->data ? sc->data : "";
    r->body_len = sc->len;
}

void hapi_error(struct hapi_resp *r, struct buf *sc, int status, const char *msg)
{
    sc->len = 0;
    buf_append_str(sc, "{\"error\":");
    http_json_str(sc, msg, strlen(msg));
    buf_append_char(sc, '}');
    json_body(r, sc, status);
}

static void no_body(struct hapi_resp *r, int status)
{
    r->status = status;
    r->ctype = NULL;
    r->body = NULL;
    r->body_len = 0;
}

static int is_path(const struct http_req *q, const char *path)
{
    return q->path_len == strlen(path) && memcmp(q->path, path, q->path_len) == 0;
}

static void health(struct server *s, struct buf *sc, struct hapi_resp *r)
{
    (void)s;
    buf_append_str(sc, "{\"status\":\"ok\"}");
    json_body(r, sc, 200);
}

static void ready(struct server *s, struct buf *sc, struct hapi_resp *r)
{
    const char *why = s->shutdown_asked ? "Panda is shutting down" : srv_write_refusal(s);
    if (!why) {
        buf_append_str(sc, "{\"status\":\"ready\"}");
        json_body(r, sc, 200);
        return;
    }
    buf_append_str(sc, "{\"status\":\"not ready\",\"reason\":");
    http_json_str(sc, why, strlen(why));
    buf_append_char(sc, '}');
    json_body(r, sc, 503);
}

static void metrics(struct server *s, struct buf *sc, struct hapi_resp *r)
{
    met_render(s, sc);
    r->status = 200;
    r->ctype = CT_METRICS;
    r->body = sc->data;
    r->body_len = sc->len;
}

static void stats(struct server *s, struct buf *sc, struct hapi_resp *r)
{
    struct srv_storage st;
    srv_storage(s, &st);
    if (st.s3_on) {
        buf_append_str(sc, "{\"storage\":\"s3\",\"bucket\":");
        http_json_str(sc, s->cfg.s3_bucket, strlen(s->cfg.s3_bucket));
        buf_append_str(sc, ",\"region\":");
        http_json_str(sc, st.s3.region, strlen(st.s3.region));
        buf_printf(sc, ",\"s3_status\":\"%s\",\"s3_reason\":", st.s3.ok ? "ok" : "degraded");
        http_json_str(sc, st.s3.ok ? "" : st.s3.reason, st.s3.ok ? 0 : strlen(st.s3.reason));
    } else {
        buf_append_str(sc, "{\"storage\":\"local\"");
    }
    buf_append_str(sc, ",\"data_dir\":");
    http_json_str(sc, s->cfg.data_dir, strlen(s->cfg.data_dir));
    buf_printf(sc, ",\"parquet_bytes\":%llu,\"wal_bytes\":%llu,\"keys\":%zu,\"pending_ops\":%llu}",
               (unsigned long long)st.parquet_bytes, (unsigned long long)st.wal_bytes, st.keys,
               (unsigned long long)st.pending);
    json_body(r, sc, 200);
}

/* ---- /v1/kv/{key} ---- */

static void kv_get(struct server *s, const char *key, size_t klen, struct buf *sc,
                   struct hapi_resp *r)
{
    struct ks_entry *e = ks_get(&s->ks, key, klen);
    if (!e) {
        s->st.keyspace_misses++;
        hapi_error(r, sc, 404, "no such key");
        return;
    }
    s->st.keyspace_hits++;
    struct ks_view v;
    ks_view(e, &v);
    r->status = 200;
    r->ctype = CT_OCTETS;
    r->body = v.val;
    r->body_len = v.vlen;
}

/* ttl= from the query: KS_NO_TTL when absent; -1 (error answered) when malformed. */
static int put_expiry(struct server *s, struct http_req *q, int64_t *when, struct buf *sc,
                      struct hapi_resp *r)
{
    char *v;
    size_t n;
    long long ttl;
    *when = KS_NO_TTL;
    if (!http_query_get(q->query, q->query_len, "ttl", &v, &n)) return 0;
    if (util_str2ll(v, n, &ttl) != 0 || ttl <= 0 || ttl > (LLONG_MAX - s->ks.now_ms) / 1000) {
        hapi_error(r, sc, 400, "ttl must be a positive number of seconds");
        return -1;
    }
    *when = s->ks.now_ms + ttl * 1000;
    return 0;
}

static void kv_put(struct server *s, struct http_req *q, const char *key, size_t klen,
                   const char *body, size_t blen, struct buf *sc, struct hapi_resp *r)
{
    int64_t when;
    if (put_expiry(s, q, &when, sc, r) != 0) return;
    no_body(r, ks_put(&s->ks, key, klen, body, blen, when) ? 204 : 201);
}

static void kv_delete(struct server *s, const char *key, size_t klen, struct buf *sc,
                      struct hapi_resp *r)
{
    if (ks_del(&s->ks, key, klen))
        no_body(r, 204);
    else
        hapi_error(r, sc, 404, "no such key");
}

/* Writes are refused (503) while the WAL cannot be written or the S3 backlog is full. */
static int refused(struct server *s, struct buf *sc, struct hapi_resp *r)
{
    const char *why = srv_write_refusal(s);
    if (!why) return 0;
    char msg[sizeof(s->refusal) + 64];
    snprintf(msg, sizeof(msg), "%s: writes are refused until that clears; reads still work", why);
    hapi_error(r, sc, 503, msg);
    return 1;
}

static void kv_route(struct server *s, struct http_req *q, const char *body, size_t blen,
                     struct buf *sc, struct hapi_resp *r)
{
    char *key = q->path + strlen(KV_PREFIX);
    long klen = http_pct_decode(key, q->path_len - strlen(KV_PREFIX), 0);
    r->route = q->method == HTTP_PUT      ? HAPI_KV_PUT
               : q->method == HTTP_DELETE ? HAPI_KV_DELETE
                                          : HAPI_KV_GET;
    if (q->method == HTTP_OTHER) {
        r->route = HAPI_UNKNOWN;
        r->allow = KV_METHODS;
        hapi_error(r, sc, 405, "method not allowed");
    } else if (klen < 0) {
        hapi_error(r, sc, 400, "malformed percent-encoding in the key");
    } else if (q->method == HTTP_GET || q->method == HTTP_HEAD) {
        kv_get(s, key, (size_t)klen, sc, r);
    } else if (!refused(s, sc, r)) {
        if (q->method == HTTP_PUT)
            kv_put(s, q, key, (size_t)klen, body, blen, sc, r);
        else
            kv_delete(s, key, (size_t)klen, sc, r);
    }
}

/* ---- GET /v1/kv ---- */

struct list_ctx {
    struct buf *b;
    const char *prefix;
    size_t plen;
    size_t n;
};

static void list_visit(const struct ks_entry *e, void *arg)
{
    struct list_ctx *x = arg;
    struct ks_view v;
    ks_view(e, &v);
    if (v.klen < x->plen || memcmp(v.key, x->prefix, x->plen) != 0) return;
    if (x->n++ > 0) buf_append_char(x->b, ',');
    http_json_str(x->b, v.key, v.klen);
}

/* Reads a decimal query parameter into *out (left alone when absent); -1 when malformed. */
static int query_num(struct http_req *q, const char *name, long long *out)
{
    char *v;
    size_t n;
    if (!http_query_get(q->query, q->query_len, name, &v, &n)) return 0;
    return util_str2ll(v, n, out) == 0 && *out >= 0 ? 0 : -1;
}

/* Walks SCAN steps from the cursor until limit keys matched; a step that would pass the limit
 * is left for the next page (unless it is the first: one bucket's keys are never split). */
static unsigned long list_keys(struct ks *ks, unsigned long cur, size_t limit, struct list_ctx *x)
{
    for (size_t visits = 0; visits < HAPI_LIST_VISITS_MAX; visits++) {
        size_t mark_len = x->b->len, mark_n = x->n;
        unsigned long next = ks_scan(ks, cur, list_visit, x);
        if (x->n > limit && mark_n > 0) {
            x->b->len = mark_len;
            x->n = mark_n;
            return cur;
        }
        cur = next;
        if (cur == 0 || x->n >= limit) break;
    }
    return cur;
}

static void kv_list(struct server *s, struct http_req *q, struct buf *sc, struct hapi_resp *r)
{
    long long limit = HAPI_LIST_DEFAULT, cursor = 0;
    char none[1] = "", *prefix = none;
    size_t pn = 0;
    long plen = 0;
    if (http_query_get(q->query, q->query_len, "prefix", &prefix, &pn))
        plen = http_pct_decode(prefix, pn, 1);
    if (query_num(q, "limit", &limit) != 0 || limit < 1 || limit > HAPI_LIST_MAX) {
        hapi_error(r, sc, 400, "limit must be an integer from 1 to 1000");
        return;
    }
    if (query_num(q, "cursor", &cursor) != 0) {
        hapi_error(r, sc, 400, "cursor must be the next_cursor of an earlier page");
        return;
    }
    if (plen < 0) {
        hapi_error(r, sc, 400, "malformed percent-encoding in the prefix");
        return;
    }
    struct list_ctx x = {sc, prefix, (size_t)plen, 0};
    buf_append_str(sc, "{\"keys\":[");
    unsigned long next = list_keys(&s->ks, (unsigned long)cursor, (size_t)limit, &x);
    if (next == 0)
        buf_append_str(sc, "],\"next_cursor\":null}");
    else
        buf_printf(sc, "],\"next_cursor\":\"%lu\"}", next);
    json_body(r, sc, 200);
}

/* ---- dispatch ---- */

typedef void get_fn(struct server *s, struct buf *sc, struct hapi_resp *r);

static const struct {
    const char *path;
    enum hapi_route route;
    get_fn *fn;
} get_routes[] = {
    {"/health", HAPI_HEALTH, health},
    {"/ready", HAPI_READY, ready},
    {"/metrics", HAPI_METRICS, metrics},
    {"/v1/stats", HAPI_STATS, stats},
};

void hapi_handle(struct server *s, struct http_req *q, const char *body, size_t blen,
                 struct buf *sc, struct hapi_resp *r)
{
    memset(r, 0, sizeof(*r));
    sc->len = 0;
    int get = q->method == HTTP_GET || q->method == HTTP_HEAD;
    r->route = HAPI_UNKNOWN;
    if (q->path_len >= strlen(KV_PREFIX) && memcmp(q->path, KV_PREFIX, strlen(KV_PREFIX)) == 0) {
        kv_route(s, q, body, blen, sc, r);
        return;
    }
    for (size_t i = 0; i < sizeof(get_routes) / sizeof(get_routes[0]); i++) {
        if (!is_path(q, get_routes[i].path)) continue;
        if (!get) break;
        r->route = get_routes[i].route;
        get_routes[i].fn(s, sc, r);
        return;
    }
    int known = is_path(q, "/v1/kv");
    for (size_t i = 0; i < sizeof(get_routes) / sizeof(get_routes[0]); i++)
        known |= is_path(q, get_routes[i].path);
    if (known && !get) {
        r->allow = GET_ONLY;
        hapi_error(r, sc, 405, "method not allowed");
    } else if (known) {
        r->route = HAPI_KV_LIST;
        kv_list(s, q, sc, r);
    } else {
        hapi_error(r, sc, 404, "no such route");
    }
}
