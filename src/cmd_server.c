/* cmd_server.c - connection and server commands: PING, ECHO, INFO, CONFIG, COMMAND, CLIENT,
 * HELLO, TIME, SHUTDOWN, QUIT. */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "alloc.h"
#include "cmd.h"
#include "cmd_args.h"
#include "s3store.h"
#include "glob.h"
#include "httpsrv.h"
#include "log.h"

/* The Redis version whose behaviour Panda follows; reported where clients expect one. */
#define REDIS_COMPAT_VERSION "7.0.15"

void cmd_ping(struct conn *c)
{
    if (c->argc > 2) {
        rep_err(&c->rep, "ERR wrong number of arguments for 'ping' command");
        return;
    }
    if (c->argc == 2)
        rep_bulk(&c->rep, c->argv[1].p, c->argv[1].len);
    else
        rep_simple(&c->rep, "PONG");
}

void cmd_echo(struct conn *c)
{
    rep_bulk(&c->rep, c->argv[1].p, c->argv[1].len);
}

void cmd_time(struct conn *c)
{
    int64_t us = util_ustime();
    rep_array(&c->rep, 2);
    rep_bulk_ll(&c->rep, us / 1000000);
    rep_bulk_ll(&c->rep, us % 1000000);
}

void cmd_quit(struct conn *c)
{
    rep_ok(&c->rep);
    c->flags |= CONN_CLOSE_AFTER_REPLY;
}

void cmd_security_warning(struct conn *c)
{
    log_warn("possible SECURITY ATTACK detected: client %s sent an HTTP-like line; connection "
             "aborted",
             c->addr);
    c->flags |= CONN_CLOSE_ASAP;
}

void cmd_shutdown(struct conn *c)
{
    for (size_t i = 1; i < c->argc; i++) {
        const struct sv *a = &c->argv[i];
        if (arg_is(a, "ABORT")) {
            rep_err(&c->rep, "ERR No shutdown in progress.");
            return;
        }
        if (!arg_is(a, "NOSAVE") && !arg_is(a, "SAVE") && !arg_is(a, "NOW") &&
            !arg_is(a, "FORCE")) {
            rep_err(&c->rep, "ERR syntax error");
            return;
        }
    }
    srv_request_shutdown(c->srv, "SHUTDOWN command");
    c->flags |= CONN_CLOSE_AFTER_REPLY; /* no reply of its own, as Redis */
}

/* ---- INFO ---- */

static void human_bytes(char *out, size_t cap, size_t n)
{
    double d = (double)n;
    if (n < 1024)
        snprintf(out, cap, "%zuB", n);
    else if (d < 1024.0 * 1024)
        snprintf(out, cap, "%.2fK", d / 1024);
    else if (d < 1024.0 * 1024 * 1024)
        snprintf(out, cap, "%.2fM", d / (1024 * 1024));
    else
        snprintf(out, cap, "%.2fG", d / (1024 * 1024 * 1024));
}

static void info_server(struct conn *c, struct buf *b)
{
    struct server *s = c->srv;
    struct utsname u;
    uname(&u);
    int64_t up = (util_mstime() - s->start_ms) / 1000;
    buf_printf(b,
               "# Server\r\nredis_version:%s\r\npanda_version:%s\r\nredis_mode:standalone\r\n"
               "os:%s %s %s\r\narch_bits:64\r\nmultiplexing_api:epoll\r\nprocess_id:%d\r\n"
               "tcp_port:%lld\r\nuptime_in_seconds:%lld\r\nuptime_in_days:%lld\r\nhz:%d\r\n"
               "config_file:%s\r\n",
               REDIS_COMPAT_VERSION, PANDA_VERSION, u.sysname, u.release, u.machine, (int)getpid(),
               s->cfg.port, (long long)up, (long long)up / 86400, SRV_HZ, s->cfg.config_file);
}

static void info_clients(struct conn *c, struct buf *b)
{
    buf_printf(b, "# Clients\r\nconnected_clients:%zu\r\nmaxclients:%lld\r\nblocked_clients:0\r\n",
               c->srv->nclients, c->srv->cfg.max_clients);
}

static void info_memory(struct conn *c, struct buf *b)
{
    (void)c;
    char used_h[32], rss_h[32];
    size_t used = kv_used_memory(), rss = kv_rss_bytes();
    human_bytes(used_h, sizeof(used_h), used);
    human_bytes(rss_h, sizeof(rss_h), rss);
    buf_printf(b,
               "# Memory\r\nused_memory:%zu\r\nused_memory_human:%s\r\nused_memory_rss:%zu\r\n"
               "used_memory_rss_human:%s\r\nmaxmemory:0\r\nmem_allocator:%s\r\n",
               used, used_h, rss, rss_h, kv_allocator_name());
}

static void info_s3(struct server *s, struct buf *b)
{
    if (!s->s3s) {
        buf_append_str(b, "s3_enabled:0\r\n");
        return;
    }
    struct s3s_stats st;
    s3s_get_stats(s->s3s, &st);
    buf_printf(
        b,
        "s3_enabled:1\r\ns3_bucket:%s\r\ns3_prefix:%s\r\ns3_region:%s\r\ns3_status:%s%s%s%s\r\n"
        "s3_requests_get:%llu\r\ns3_requests_put:%llu\r\ns3_requests_delete:%llu\r\n"
        "s3_requests_multipart:%llu\r\ns3_errors:%llu\r\ns3_bytes_up:%llu\r\n"
        "s3_bytes_down:%llu\r\ns3_last_ok_time:%lld\r\ns3_backlog_bytes:%llu\r\n"
        "s3_max_backlog:%lld\r\ns3_lsn:%llu\r\ns3_snapshot_lsn:%llu\r\n"
        "s3_segments_uploaded:%llu\r\ns3_snapshots_uploaded:%llu\r\n",
        s->cfg.s3_bucket, s->cfg.s3_prefix, st.region, st.ok ? "ok" : "degraded", st.ok ? "" : " (",
        st.ok ? "" : st.reason, st.ok ? "" : ")", (unsigned long long)st.requests[S3S_GET],
        (unsigned long long)st.requests[S3S_PUT], (unsigned long long)st.requests[S3S_DELETE],
        (unsigned long long)st.requests[S3S_MPU], (unsigned long long)st.errors,
        (unsigned long long)st.bytes_up, (unsigned long long)st.bytes_down,
        (long long)(st.last_ok_ms / 1000), (unsigned long long)st.backlog_bytes,
        s->cfg.s3_max_backlog, (unsigned long long)st.remote_lsn,
        (unsigned long long)st.remote_snapshot_lsn, (unsigned long long)st.segments,
        (unsigned long long)st.snapshots);
}

static void info_persistence(struct conn *c, struct buf *b)
{
    struct server *s = c->srv;
    struct wal_stats w;
    wal_get_stats(s->wal, &w);
    struct snap_stats sn;
    snap_get_stats(s->snap, &sn);
    buf_printf(b,
               "# Persistence\r\nloading:0\r\nasync_loading:0\r\nrdb_changes_since_last_save:%llu"
               "\r\nrdb_bgsave_in_progress:%d\r\nrdb_last_save_time:%lld\r\n"
               "rdb_last_bgsave_status:%s\r\nrdb_saves:%llu\r\naof_enabled:0\r\ndata_dir:%s\r\n",
               (unsigned long long)sn.pending, sn.in_progress, (long long)sn.last_ok_unix,
               sn.last_ok ? "ok" : "err", (unsigned long long)sn.count, s->cfg.data_dir);
    buf_printf(
        b,
        "snapshot_in_progress:%d\r\nsnapshot_count:%llu\r\nsnapshot_failures:%llu\r\n"
        "snapshot_codec:%s\r\nsnapshot_pending_ops:%llu\r\nsnapshot_last_time:%lld\r\n"
        "snapshot_last_duration_ms:%lld\r\nsnapshot_total_ms:%lld\r\nsnapshot_last_rows:%llu\r\n"
        "snapshot_last_bytes:%llu\r\nsnapshot_last_lsn:%llu\r\nsnapshot_last_status:%s\r\n"
        "snapshot_last_error:%s\r\nparquet_bytes:%llu\r\nsnapshot_loaded_from:%s\r\n"
        "snapshot_loaded_rows:%llu\r\nsnapshot_load_ms:%lld\r\n",
        sn.in_progress, (unsigned long long)sn.count, (unsigned long long)sn.failures,
        snap_codec_name(s->snap), (unsigned long long)sn.pending, (long long)sn.last_ok_unix,
        (long long)sn.last_duration_ms, (long long)sn.total_ms, (unsigned long long)sn.last_rows,
        (unsigned long long)sn.last_bytes, (unsigned long long)sn.last_lsn,
        sn.last_ok ? "ok" : "err", sn.last_error, (unsigned long long)sn.file_bytes, sn.loaded_from,
        (unsigned long long)sn.loaded_rows, (long long)sn.load_ms);
    buf_printf(b,
               "wal_enabled:1\r\nwal_fsync:%s\r\nwal_group_commit:%s\r\nwal_bytes:%llu\r\n"
               "wal_last_lsn:%llu\r\nwal_durable_lsn:%llu\r\nwal_last_fsync_us:%lld\r\n"
               "wal_records_since_snapshot:%llu\r\nwal_write_errors:%llu\r\n"
               "wal_replayed_records:%llu\r\nwal_replay_ms:%lld\r\n",
               wal_fsync_name((enum wal_fsync)s->cfg.fsync), s->cfg.wal_group_commit ? "yes" : "no",
               (unsigned long long)w.bytes, (unsigned long long)w.last_lsn,
               (unsigned long long)w.durable_lsn, (long long)w.last_fsync_us,
               (unsigned long long)w.records, (unsigned long long)w.write_errors,
               (unsigned long long)w.replayed_records, (long long)w.replay_ms);
    if (w.blocked)
        buf_printf(b, "wal_status:blocked (%s)\r\n", w.reason);
    else
        buf_append_str(b, "wal_status:ok\r\n");
    info_s3(s, b);
}

static void info_stats(struct conn *c, struct buf *b)
{
    const struct srv_stats *st = &c->srv->st;
    buf_printf(b,
               "# Stats\r\ntotal_connections_received:%llu\r\ntotal_commands_processed:%llu\r\n"
               "total_net_input_bytes:%llu\r\ntotal_net_output_bytes:%llu\r\n"
               "rejected_connections:%llu\r\nexpired_keys:%llu\r\nkeyspace_hits:%llu\r\n"
               "keyspace_misses:%llu\r\nprotocol_errors:%llu\r\n"
               "client_output_limit_disconnections:%llu\r\n",
               (unsigned long long)st->total_connections, (unsigned long long)st->total_commands,
               (unsigned long long)st->net_input_bytes, (unsigned long long)st->net_output_bytes,
               (unsigned long long)st->rejected_connections,
               (unsigned long long)c->srv->ks.expired_keys, (unsigned long long)st->keyspace_hits,
               (unsigned long long)st->keyspace_misses, (unsigned long long)st->protocol_errors,
               (unsigned long long)st->output_limit_disconnections);
}

static void info_keyspace(struct conn *c, struct buf *b)
{
    struct ks *ks = cmd_ks(c);
    buf_append_str(b, "# Keyspace\r\n");
    if (ks_size(ks) > 0)
        buf_printf(b, "db0:keys=%zu,expires=%zu,avg_ttl=0\r\n", ks_size(ks), ks_expires(ks));
}

static void info_http(struct conn *c, struct buf *b)
{
    const struct server *s = c->srv;
    buf_printf(b, "# HTTP\r\nhttp_port:%lld\r\n", s->http ? s->cfg.http_port : 0LL);
    if (!s->http) return;
    struct hsrv_stats st;
    hsrv_get_stats(s->http, &st);
    uint64_t requests = 0;
    for (int r = 0; r < HAPI_NROUTES; r++)
        for (int i = 0; i < HSRV_NSTATUS; i++)
            requests += st.requests[r][i];
    buf_printf(b,
               "http_connected_clients:%llu\r\nhttp_total_connections_received:%llu\r\n"
               "http_rejected_connections:%llu\r\nhttp_timeouts:%llu\r\n"
               "http_output_limit_disconnections:%llu\r\nhttp_total_requests:%llu\r\n",
               (unsigned long long)st.connections, (unsigned long long)st.accepted,
               (unsigned long long)st.rejected, (unsigned long long)st.timeouts,
               (unsigned long long)st.output_limit_drops, (unsigned long long)requests);
}

struct info_section {
    const char *name;
    void (*fn)(struct conn *c, struct buf *b);
};

static const struct info_section info_sections[] = {
    {"server", info_server},           {"clients", info_clients}, {"memory", info_memory},
    {"persistence", info_persistence}, {"stats", info_stats},     {"http", info_http},
    {"keyspace", info_keyspace},
};

#define NSECTIONS (sizeof(info_sections) / sizeof(info_sections[0]))

static int section_wanted(struct conn *c, const char *name)
{
    if (c->argc == 1) return 1;
    for (size_t i = 1; i < c->argc; i++) {
        const struct sv *a = &c->argv[i];
        if (arg_is(a, "all") || arg_is(a, "everything") || arg_is(a, "default") || arg_is(a, name))
            return 1;
    }
    return 0;
}

/* SAVE and SNAPSHOT: unlike Redis's SAVE, the snapshot runs in a child process, so only the
 * caller waits. */
void cmd_save(struct conn *c)
{
    kv_assert(!(c->flags & CONN_MULTI)); /* CMD_NOMULTI */
    srv_wait_snapshot(c->srv, c);
}

void cmd_bgsave(struct conn *c)
{
    int schedule = c->argc == 2 && arg_is(&c->argv[1], "SCHEDULE");
    if (c->argc > 2 || (c->argc == 2 && !schedule)) {
        rep_err(&c->rep, "ERR syntax error");
        return;
    }
    if (snap_running(c->srv->snap) && !schedule) {
        rep_err(&c->rep, "ERR Background save already in progress");
        return;
    }
    struct kv_err err;
    int was_running = snap_running(c->srv->snap);
    if (snap_request(c->srv->snap, &err) == 0) {
        rep_errf(&c->rep, "ERR snapshot failed: %s", err.msg);
        return;
    }
    rep_simple(&c->rep, was_running ? "Background saving scheduled" : "Background saving started");
}

void cmd_lastsave(struct conn *c)
{
    struct snap_stats st;
    snap_get_stats(c->srv->snap, &st);
    rep_int(&c->rep, st.last_ok_unix);
}

void cmd_info(struct conn *c)
{
    struct buf b;
    buf_init(&b);
    for (size_t i = 0; i < NSECTIONS; i++) {
        if (!section_wanted(c, info_sections[i].name)) continue;
        if (b.len) buf_append(&b, "\r\n", 2);
        info_sections[i].fn(c, &b);
    }
    rep_verbatim(&c->rep, b.data ? b.data : "", b.len);
    buf_deinit(&b);
}

/* ---- CONFIG GET ---- */

struct config_param {
    const char *name;
    void (*value)(const struct server *s, char *out, size_t cap);
};

static void cv_port(const struct server *s, char *o, size_t n)
{
    snprintf(o, n, "%lld", s->cfg.port);
}
static void cv_bind(const struct server *s, char *o, size_t n)
{
    snprintf(o, n, "%s", s->cfg.bind);
}
static void cv_dir(const struct server *s, char *o, size_t n)
{
    snprintf(o, n, "%s", s->cfg.data_dir);
}
static void cv_maxclients(const struct server *s, char *o, size_t n)
{
    snprintf(o, n, "%lld", s->cfg.max_clients);
}
static void cv_bulk(const struct server *s, char *o, size_t n)
{
    snprintf(o, n, "%lld", s->cfg.max_bulk_bytes);
}
static void cv_inline(const struct server *s, char *o, size_t n)
{
    snprintf(o, n, "%lld", s->cfg.max_inline_bytes);
}
static void cv_args(const struct server *s, char *o, size_t n)
{
    snprintf(o, n, "%lld", s->cfg.max_args);
}
static void cv_output(const struct server *s, char *o, size_t n)
{
    snprintf(o, n, "%lld", s->cfg.max_output_bytes);
}
static void cv_loglevel(const struct server *s, char *o, size_t n)
{
    snprintf(o, n, "%s", log_level_name(s->cfg.log_level));
}
static void cv_query_limit(const struct server *s, char *o, size_t n)
{
    (void)s;
    snprintf(o, n, "%lld", CONN_QUERY_MAX);
}
static void cv_empty(const struct server *s, char *o, size_t n)
{
    (void)s;
    snprintf(o, n, "%s", "");
}
static void cv_no(const struct server *s, char *o, size_t n)
{
    (void)s;
    snprintf(o, n, "no");
}
static void cv_zero(const struct server *s, char *o, size_t n)
{
    (void)s;
    snprintf(o, n, "0");
}
static void cv_one(const struct server *s, char *o, size_t n)
{
    (void)s;
    snprintf(o, n, "1");
}
static void cv_hz(const struct server *s, char *o, size_t n)
{
    (void)s;
    snprintf(o, n, "%d", SRV_HZ);
}

/* Redis's names for what Panda has, then Panda's own setting names. */
static const struct config_param config_params[] = {
    {"port", cv_port},
    {"bind", cv_bind},
    {"dir", cv_dir},
    {"maxclients", cv_maxclients},
    {"proto-max-bulk-len", cv_bulk},
    {"client-query-buffer-limit", cv_query_limit},
    {"loglevel", cv_loglevel},
    {"save", cv_empty},
    {"appendonly", cv_no},
    {"databases", cv_one},
    {"timeout", cv_zero},
    {"maxmemory", cv_zero},
    {"hz", cv_hz},
    {"data-dir", cv_dir},
    {"log-level", cv_loglevel},
    {"max-clients", cv_maxclients},
    {"max-inline-bytes", cv_inline},
    {"max-bulk-bytes", cv_bulk},
    {"max-args", cv_args},
    {"max-output-bytes", cv_output},
};

#define NPARAMS (sizeof(config_params) / sizeof(config_params[0]))

static void config_get(struct conn *c)
{
    char used[NPARAMS] = {0};
    size_t n = 0;
    for (size_t i = 2; i < c->argc; i++)
        for (size_t j = 0; j < NPARAMS; j++)
            if (!used[j] && glob_match(c->argv[i].p, c->argv[i].len, config_params[j].name,
                                       strlen(config_params[j].name), 1)) {
                used[j] = 1;
                n++;
            }
    rep_map(&c->rep, n);
    for (size_t j = 0; j < NPARAMS; j++) {
        if (!used[j]) continue;
        char val[CFG_STR_MAX + 32];
        config_params[j].value(c->srv, val, sizeof(val));
        rep_bulk_str(&c->rep, config_params[j].name);
        rep_bulk_str(&c->rep, val);
    }
}

static void unknown_subcommand(struct conn *c, const char *cmd)
{
    rep_errf(&c->rep, "ERR unknown subcommand '%.*s'. Try %s HELP.",
             (int)(c->argv[1].len < 128 ? c->argv[1].len : 128), c->argv[1].p, cmd);
}

void cmd_config(struct conn *c)
{
    if (arg_is(&c->argv[1], "GET")) {
        if (c->argc < 3)
            rep_err(&c->rep, "ERR wrong number of arguments for 'config|get' command");
        else
            config_get(c);
    } else if (arg_is(&c->argv[1], "HELP")) {
        rep_array(&c->rep, 2);
        rep_simple(&c->rep, "CONFIG GET <pattern> [<pattern> ...]");
        rep_simple(&c->rep,
                   "    Return parameters matching the glob-like patterns and their values.");
    } else if (arg_is(&c->argv[1], "SET") || arg_is(&c->argv[1], "RESETSTAT") ||
               arg_is(&c->argv[1], "REWRITE")) {
        rep_errf(&c->rep,
                 "ERR CONFIG %.*s is not supported: Panda's settings are fixed at "
                 "start-up (flags, environment, config file)",
                 (int)c->argv[1].len, c->argv[1].p);
    } else {
        unknown_subcommand(c, "CONFIG");
    }
}

/* ---- COMMAND ---- */

static void reply_flags(struct conn *c, const struct cmd_def *d)
{
    const char *names[4];
    size_t n = 0;
    if (d->flags & CMD_WRITE) names[n++] = "write";
    if (d->flags & CMD_READONLY) names[n++] = "readonly";
    if (d->flags & CMD_FAST) names[n++] = "fast";
    if (d->flags & CMD_ADMIN) names[n++] = "admin";
    rep_set(&c->rep, n);
    for (size_t i = 0; i < n; i++)
        rep_simple(&c->rep, names[i]);
}

static void reply_categories(struct conn *c, const struct cmd_def *d)
{
    const char *names[4];
    size_t n = 0;
    if (d->flags & CMD_WRITE) names[n++] = "@write";
    if (d->flags & CMD_READONLY) names[n++] = "@read";
    names[n++] = d->flags & CMD_FAST ? "@fast" : "@slow";
    if (strcmp(d->group, "string") == 0) names[n++] = "@string";
    rep_set(&c->rep, n);
    for (size_t i = 0; i < n; i++)
        rep_simple(&c->rep, names[i]);
}

/* Redis 7's 10-element command info: name, arity, flags, first, last, step, categories,
 * tips, key specs, subcommands. */
static void reply_command_info(struct conn *c, const struct cmd_def *d)
{
    if (!d || (d->flags & CMD_SECURITY)) {
        rep_nil_array(&c->rep);
        return;
    }
    rep_array(&c->rep, 10);
    rep_bulk_str(&c->rep, d->name);
    rep_int(&c->rep, d->arity);
    reply_flags(c, d);
    rep_int(&c->rep, d->first_key);
    rep_int(&c->rep, d->last_key);
    rep_int(&c->rep, d->key_step);
    reply_categories(c, d);
    rep_set(&c->rep, 0);
    rep_array(&c->rep, 0);
    rep_array(&c->rep, 0);
}

static void reply_command_docs(struct conn *c, const struct cmd_def *d)
{
    rep_bulk_str(&c->rep, d->name);
    rep_map(&c->rep, 4);
    rep_bulk_str(&c->rep, "summary");
    rep_bulk_str(&c->rep, d->summary);
    rep_bulk_str(&c->rep, "since");
    rep_bulk_str(&c->rep, d->since);
    rep_bulk_str(&c->rep, "group");
    rep_bulk_str(&c->rep, d->group);
    rep_bulk_str(&c->rep, "syntax");
    rep_bulk_str(&c->rep, d->syntax);
}

static size_t visible_commands(void)
{
    size_t n = 0;
    for (size_t i = 0; cmd_table[i].name; i++)
        n += !(cmd_table[i].flags & CMD_SECURITY);
    return n;
}

static void command_docs(struct conn *c)
{
    if (c->argc == 2) {
        rep_map(&c->rep, visible_commands());
        for (size_t i = 0; cmd_table[i].name; i++)
            if (!(cmd_table[i].flags & CMD_SECURITY)) reply_command_docs(c, &cmd_table[i]);
        return;
    }
    size_t mark = rep_defer(&c->rep), n = 0;
    for (size_t i = 2; i < c->argc; i++) {
        const struct cmd_def *d = cmd_lookup(c->argv[i].p, c->argv[i].len);
        if (!d || (d->flags & CMD_SECURITY)) continue;
        reply_command_docs(c, d);
        n++;
    }
    char hdr[32];
    int h = snprintf(hdr, sizeof(hdr), "%c%zu\r\n", c->rep.proto >= 3 ? '%' : '*',
                     c->rep.proto >= 3 ? n : 2 * n);
    rep_insert(&c->rep, mark, hdr, (size_t)h);
}

void cmd_command(struct conn *c)
{
    if (c->argc == 1 || arg_is(&c->argv[1], "INFO")) {
        if (c->argc <= 2) {
            rep_array(&c->rep, visible_commands());
            for (size_t i = 0; cmd_table[i].name; i++)
                if (!(cmd_table[i].flags & CMD_SECURITY)) reply_command_info(c, &cmd_table[i]);
            return;
        }
        rep_array(&c->rep, c->argc - 2);
        for (size_t i = 2; i < c->argc; i++)
            reply_command_info(c, cmd_lookup(c->argv[i].p, c->argv[i].len));
    } else if (arg_is(&c->argv[1], "COUNT")) {
        rep_int(&c->rep, (long long)visible_commands());
    } else if (arg_is(&c->argv[1], "DOCS")) {
        command_docs(c);
    } else if (arg_is(&c->argv[1], "LIST")) {
        rep_array(&c->rep, visible_commands());
        for (size_t i = 0; cmd_table[i].name; i++)
            if (!(cmd_table[i].flags & CMD_SECURITY)) rep_bulk_str(&c->rep, cmd_table[i].name);
    } else {
        unknown_subcommand(c, "COMMAND");
    }
}

/* ---- CLIENT and HELLO ---- */

static void client_line(struct buf *b, struct conn *x)
{
    int64_t now = util_mstime();
    buf_printf(b,
               "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=0 sub=0 "
               "psub=0 ssub=0 multi=%lld qbuf=%zu qbuf-free=0 argv-mem=0 multi-mem=0 rbs=%zu "
               "rbp=0 obl=0 oll=0 omem=%zu tot-mem=0 events=r cmd=%s user=default redir=-1 "
               "resp=%d\n",
               (unsigned long long)x->id, x->addr, x->laddr, x->fd, x->name ? x->name : "",
               (long long)(now - x->ctime_ms) / 1000, (long long)(now - x->last_ms) / 1000,
               x->flags & CONN_MULTI ? "x" : "N", x->flags & CONN_MULTI ? 0LL : -1LL, x->in.len,
               x->in.cap, conn_pending_bytes(x), x->last_cmd ? x->last_cmd->name : "NULL",
               x->rep.proto);
}

/* Sets c's name; returns 0, or -1 after replying Redis's error for a bad name. */
static int set_name(struct conn *c, const struct sv *name)
{
    if (name->len > CONN_NAME_MAX) {
        rep_err(&c->rep, "ERR Client name is too long");
        return -1;
    }
    for (size_t i = 0; i < name->len; i++) {
        if (name->p[i] < '!' || name->p[i] > '~') {
            rep_err(&c->rep,
                    "ERR Client names cannot contain spaces, newlines or special characters.");
            return -1;
        }
    }
    kv_free(c->name);
    c->name = NULL;
    if (name->len > 0) {
        c->name = kv_malloc(name->len + 1);
        memcpy(c->name, name->p, name->len);
        c->name[name->len] = '\0';
    }
    return 0;
}

void cmd_client(struct conn *c)
{
    const struct sv *sub = &c->argv[1];
    struct buf b;
    buf_init(&b);
    if (arg_is(sub, "ID") && c->argc == 2) {
        rep_int(&c->rep, (long long)c->id);
    } else if (arg_is(sub, "GETNAME") && c->argc == 2) {
        if (c->name)
            rep_bulk_str(&c->rep, c->name);
        else
            rep_nil(&c->rep);
    } else if (arg_is(sub, "SETNAME") && c->argc == 3) {
        if (set_name(c, &c->argv[2]) == 0) rep_ok(&c->rep);
    } else if (arg_is(sub, "INFO") && c->argc == 2) {
        client_line(&b, c);
        rep_verbatim(&c->rep, b.data, b.len);
    } else if (arg_is(sub, "LIST")) {
        for (struct conn *x = c->srv->clients; x; x = x->next)
            client_line(&b, x);
        rep_verbatim(&c->rep, b.data, b.len);
    } else if (arg_is(sub, "ID") || arg_is(sub, "GETNAME") || arg_is(sub, "SETNAME") ||
               arg_is(sub, "INFO")) {
        char low[CMD_NAME_MAX];
        util_lower(sub->p, sub->len, low, sizeof(low));
        rep_errf(&c->rep, "ERR wrong number of arguments for 'client|%s' command", low);
    } else {
        unknown_subcommand(c, "CLIENT");
    }
    buf_deinit(&b);
}

static int hello_options(struct conn *c)
{
    for (size_t i = 2; i < c->argc; i++) {
        if (arg_is(&c->argv[i], "AUTH") && i + 2 < c->argc) {
            i += 2; /* the default user has no password: any credentials pass, as in Redis */
        } else if (arg_is(&c->argv[i], "SETNAME") && i + 1 < c->argc) {
            if (set_name(c, &c->argv[++i]) != 0) return -1;
        } else {
            rep_errf(&c->rep, "ERR Syntax error in HELLO option '%.*s'",
                     (int)(c->argv[i].len < 128 ? c->argv[i].len : 128), c->argv[i].p);
            return -1;
        }
    }
    return 0;
}

void cmd_hello(struct conn *c)
{
    long long ver = c->rep.proto;
    if (c->argc >= 2) {
        if (util_str2ll(c->argv[1].p, c->argv[1].len, &ver) != 0) {
            rep_err(&c->rep, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (ver < 2 || ver > 3) {
            rep_err(&c->rep, "NOPROTO unsupported protocol version");
            return;
        }
    }
    if (hello_options(c) != 0) return;
    c->rep.proto = (int)ver;
    rep_map(&c->rep, 7);
    rep_bulk_str(&c->rep, "server");
    rep_bulk_str(&c->rep, "redis");
    rep_bulk_str(&c->rep, "version");
    rep_bulk_str(&c->rep, REDIS_COMPAT_VERSION);
    rep_bulk_str(&c->rep, "proto");
    rep_int(&c->rep, ver);
    rep_bulk_str(&c->rep, "id");
    rep_int(&c->rep, (long long)c->id);
    rep_bulk_str(&c->rep, "mode");
    rep_bulk_str(&c->rep, "standalone");
    rep_bulk_str(&c->rep, "role");
    rep_bulk_str(&c->rep, "master");
    rep_bulk_str(&c->rep, "modules");
    rep_array(&c->rep, 0);
}
