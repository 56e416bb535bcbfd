/* metrics.c - Prometheus text exposition (see metrics.h). */
#include "metrics.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "cmd.h"
#include "config.h"
#include "hist.h"
#include "httpsrv.h"
#include "s3store.h"
#include "server.h"
#include "util.h"

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family with one unlabelled sample. */
static void one(struct buf *b, const char *name, const char *type, const char *help, double v)
{
    family(b, name, type, help);
    buf_printf(b, "%s %.17g\n", name, v);
}

static void counter(struct buf *b, const char *name, const char *help, uint64_t v)
{
    one(b, name, "counter", help, (double)v);
}

static void gauge(struct buf *b, const char *name, const char *help, double v)
{
    one(b, name, "gauge", help, v);
}

/* The samples of one histogram; labels is "" or `name="value"` pairs without braces. */
static void hist_samples(struct buf *b, const char *name, const char *labels, const struct hist *h)
{
    const char *sep = labels[0] ? "," : "";
    uint64_t cum = 0;
    for (unsigned i = 0; i < HIST_BUCKETS - 1; i++) {
        cum += h->bucket[i];
        buf_printf(b, "%s_bucket{%s%sle=\"%.7g\"} %llu\n", name, labels, sep, hist_bound_s(i),
                   (unsigned long long)cum);
    }
    cum += h->bucket[HIST_BUCKETS - 1];
    kv_dassert(cum == h->count);
    buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)cum);
    const char *open = labels[0] ? "{" : "", *close = labels[0] ? "}" : "";
    buf_printf(b, "%s_sum%s%s%s %.9f\n", name, open, labels, close, (double)h->sum_ns / 1e9);
    buf_printf(b, "%s_count%s%s%s %llu\n", name, open, labels, close, (unsigned long long)h->count);
}

static void commands(struct buf *b)
{
    family(b, "panda_commands_total", "counter", "Commands run, by name.");
    for (size_t i = 0; cmd_table[i].name; i++)
        if (cmd_calls[i])
            buf_printf(b, "panda_commands_total{cmd=\"%s\"} %llu\n", cmd_table[i].name,
                       (unsigned long long)cmd_calls[i]);
    family(b, "panda_command_errors_total", "counter",
           "Error replies, by command (including commands refused before running).");
    for (size_t i = 0; cmd_table[i].name; i++)
        if (cmd_errors[i])
            buf_printf(b, "panda_command_errors_total{cmd=\"%s\"} %llu\n", cmd_table[i].name,
                       (unsigned long long)cmd_errors[i]);
    counter(b, "panda_unknown_commands_total", "Commands with a name Panda does not know.",
            cmd_unknown);
    family(b, "panda_command_duration_seconds", "histogram",
           "Time a command takes on the event loop (not the WAL's fsync), by command.");
    for (size_t i = 0; cmd_table[i].name; i++) {
        if (!cmd_hist[i].count) continue;
        char labels[CMD_NAME_MAX + 16];
        snprintf(labels, sizeof(labels), "cmd=\"%s\"", cmd_table[i].name);
        hist_samples(b, "panda_command_duration_seconds", labels, &cmd_hist[i]);
    }
}

static void clients_and_keys(struct server *s, struct buf *b)
{
    const struct srv_stats *st = &s->st;
    gauge(b, "panda_connected_clients", "RESP clients connected now.", (double)s->nclients);
    counter(b, "panda_connections_received_total", "RESP connections accepted.",
            st->total_connections);
    counter(b, "panda_rejected_connections_total", "RESP connections refused (max-clients).",
            st->rejected_connections);
    counter(b, "panda_protocol_errors_total", "RESP protocol errors.", st->protocol_errors);
    counter(b, "panda_net_input_bytes_total", "Bytes read from clients (RESP and HTTP).",
            st->net_input_bytes);
    counter(b, "panda_net_output_bytes_total", "Bytes written to clients (RESP and HTTP).",
            st->net_output_bytes);
    gauge(b, "panda_keys", "Keys in the keyspace.", (double)ks_size(&s->ks));
    gauge(b, "panda_keys_with_expiry", "Keys with a TTL.", (double)ks_expires(&s->ks));
    counter(b, "panda_expired_keys_total", "Keys removed because their TTL passed.",
            s->ks.expired_keys);
    counter(b, "panda_keyspace_hits_total", "Key lookups that found the key.", st->keyspace_hits);
    counter(b, "panda_keyspace_misses_total", "Key lookups that did not.", st->keyspace_misses);
    gauge(b, "panda_memory_used_bytes", "Bytes allocated by Panda.", (double)kv_used_memory());
    gauge(b, "panda_memory_rss_bytes", "Resident set size of the process.", (double)kv_rss_bytes());
    gauge(b, "panda_uptime_seconds", "Seconds since the server started.",
          (double)(util_mstime() - s->start_ms) / 1000.0);
}

static void persistence(struct server *s, struct buf *b)
{
    struct wal_stats w;
    wal_get_stats(s->wal, &w);
    gauge(b, "panda_wal_bytes", "Size of the write-ahead log.", (double)w.bytes);
    gauge(b, "panda_wal_records", "WAL records after the snapshot.", (double)w.records);
    gauge(b, "panda_wal_writable", "1 while the WAL can be written, 0 while writes are refused.",
          w.blocked ? 0 : 1);
    counter(b, "panda_wal_write_errors_total", "Failed WAL writes or space reservations.",
            w.write_errors);
    family(b, "panda_wal_fsync_duration_seconds", "histogram", "Duration of each WAL fdatasync.");
    hist_samples(b, "panda_wal_fsync_duration_seconds", "", &w.fsync);
    struct snap_stats sn;
    snap_get_stats(s->snap, &sn);
    counter(b, "panda_snapshots_total", "Snapshots written since start.", sn.count);
    counter(b, "panda_snapshot_failures_total", "Snapshots that failed.", sn.failures);
    gauge(b, "panda_snapshot_in_progress", "1 while a snapshot runs.", sn.in_progress);
    gauge(b, "panda_snapshot_last_duration_seconds", "Duration of the last snapshot.",
          (double)sn.last_duration_ms / 1000.0);
    one(b, "panda_snapshot_duration_seconds_total", "counter",
        "Time spent in snapshots since start.", (double)sn.total_ms / 1000.0);
    gauge(b, "panda_snapshot_last_size_bytes", "Size of the last snapshot written.",
          (double)sn.last_bytes);
    gauge(b, "panda_snapshot_last_rows", "Keys in the last snapshot written.",
          (double)sn.last_rows);
    gauge(b, "panda_snapshot_file_bytes", "Size of kv_database.parquet now.",
          (double)sn.file_bytes);
    gauge(b, "panda_snapshot_pending_writes", "Writes since the last snapshot.",
          (double)sn.pending);
    gauge(b, "panda_snapshot_last_success_timestamp_seconds",
          "Unix time of the last successful snapshot (start time if none).",
          (double)sn.last_ok_unix);
}

static void s3(struct server *s, struct buf *b)
{
    static const char *const kinds[S3S_NREQ] = {"get", "put", "delete", "multipart"};
    gauge(b, "panda_s3_enabled", "1 when S3 is on.", s->s3s ? 1 : 0);
    if (!s->s3s) return;
    struct s3s_stats st;
    s3s_get_stats(s->s3s, &st);
    family(b, "panda_s3_requests_total", "counter", "S3 requests, by kind.");
    for (int i = 0; i < S3S_NREQ; i++)
        buf_printf(b, "panda_s3_requests_total{kind=\"%s\"} %llu\n", kinds[i],
                   (unsigned long long)st.requests[i]);
    counter(b, "panda_s3_errors_total", "S3 requests that failed.", st.errors);
    gauge(b, "panda_s3_backlog_bytes", "WAL bytes (and a snapshot) waiting to go to S3.",
          (double)st.backlog_bytes);
    gauge(b, "panda_s3_up", "1 while S3 answers, 0 while degraded.", st.ok ? 1 : 0);
    counter(b, "panda_s3_uploaded_bytes_total", "Bytes sent to S3.", st.bytes_up);
    counter(b, "panda_s3_downloaded_bytes_total", "Bytes read from S3.", st.bytes_down);
    counter(b, "panda_s3_segments_uploaded_total", "WAL segments uploaded.", st.segments);
    counter(b, "panda_s3_snapshots_uploaded_total", "Snapshots uploaded.", st.snapshots);
}

static void http(struct server *s, struct buf *b)
{
    static const int codes[HSRV_NSTATUS] = HSRV_STATUSES;
    struct hsrv_stats st;
    hsrv_get_stats(s->http, &st);
    gauge(b, "panda_http_connections", "HTTP connections open now.", (double)st.connections);
    counter(b, "panda_http_connections_received_total", "HTTP connections accepted.", st.accepted);
    counter(b, "panda_http_rejected_connections_total",
            "HTTP connections refused (http-max-clients).", st.rejected);
    counter(b, "panda_http_timeouts_total", "HTTP connections closed by http-timeout.",
            st.timeouts);
    family(b, "panda_http_requests_total", "counter", "HTTP requests, by route and status.");
    for (int r = 0; r < HAPI_NROUTES; r++)
        for (int i = 0; i < HSRV_NSTATUS; i++)
            if (st.requests[r][i])
                buf_printf(b, "panda_http_requests_total{route=\"%s\",code=\"%d\"} %llu\n",
                           hapi_route_name((enum hapi_route)r), codes[i],
                           (unsigned long long)st.requests[r][i]);
    family(b, "panda_http_request_duration_seconds", "histogram",
           "Time an HTTP request takes on the event loop (not the WAL's fsync).");
    hist_samples(b, "panda_http_request_duration_seconds", "", &st.duration);
}

void met_render(struct server *s, struct buf *out)
{
    kv_assert(s->wal && s->snap);
    family(out, "panda_build_info", "gauge", "Panda's version.");
    buf_printf(out, "panda_build_info{version=\"%s\"} 1\n", PANDA_VERSION);
    commands(out);
    clients_and_keys(s, out);
    persistence(s, out);
    s3(s, out);
    if (s->http) http(s, out);
}
