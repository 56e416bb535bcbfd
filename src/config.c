/* config.c - settings parsing (see config.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "parquet.h"
#include "util.h"
#include "wal.h"

enum opt_type { OPT_INT, OPT_STR, OPT_LEVEL, OPT_BOOL, OPT_FSYNC, OPT_CODEC, OPT_SECONDS };

struct opt {
    const char *name; /* flag name without "--"; also the config-file name */
    const char *env;
    enum opt_type type;
    size_t offset;
    long long min, max;
    const char *def;
    const char *help;
};

#define OFF(f) offsetof(struct config, f)

static const struct opt opts[] = {
    {"port", "PANDA_PORT", OPT_INT, OFF(port), 1, 65535, "8080", "TCP port for RESP and inline"},
    {"bind", "PANDA_BIND", OPT_STR, OFF(bind), 0, 0, "127.0.0.1", "address to listen on"},
    {"data-dir", "PANDA_DATA_DIR", OPT_STR, OFF(data_dir), 0, 0, "./data",
     "directory for data files (created if missing)"},
    {"http-port", "PANDA_HTTP_PORT", OPT_INT, OFF(http_port), 0, 65535, "8081",
     "TCP port of the HTTP API, health checks and metrics, on the same address (0: off)"},
    {"http-max-clients", "PANDA_HTTP_MAX_CLIENTS", OPT_INT, OFF(http_max_clients), 1, 100000,
     "1024", "most HTTP connections; more are answered 503 and closed"},
    {"http-timeout", "PANDA_HTTP_TIMEOUT", OPT_SECONDS, OFF(http_timeout_ms), 100, 86400000, "30",
     "seconds an HTTP connection may stay idle or stalled, and a request head may take"},
    {"log-level", "PANDA_LOG", OPT_LEVEL, OFF(log_level), 0, 0, "info",
     "error, warn, info or debug"},
    {"config", NULL, OPT_STR, OFF(config_file), 0, 0, "",
     "config file: one `name value` per line, names as these flags"},
    {"max-clients", "PANDA_MAX_CLIENTS", OPT_INT, OFF(max_clients), 1, 1000000, "10000",
     "most connected clients; more are refused"},
    {"max-inline-bytes", "PANDA_MAX_INLINE_BYTES", OPT_INT, OFF(max_inline_bytes), 256, 1 << 30,
     "65536", "longest inline command line"},
    {"max-bulk-bytes", "PANDA_MAX_BULK_BYTES", OPT_INT, OFF(max_bulk_bytes), 1, 512LL * 1024 * 1024,
     "536870912", "longest bulk string (key or value)"},
    {"max-args", "PANDA_MAX_ARGS", OPT_INT, OFF(max_args), 1, INT_MAX, "1048576",
     "most arguments in one command"},
    {"max-output-bytes", "PANDA_MAX_OUTPUT_BYTES", OPT_INT, OFF(max_output_bytes), 1024, 1LL << 40,
     "1073741824", "most unsent reply bytes per client before it is dropped"},
    {"fsync", "PANDA_FSYNC", OPT_FSYNC, OFF(fsync), 0, 0, "always",
     "WAL fsync policy: always (reply after fdatasync), everysec or no"},
    {"wal-truncate-corrupt", "PANDA_WAL_TRUNCATE_CORRUPT", OPT_BOOL, OFF(wal_truncate_corrupt), 0,
     0, "no", "start even if the WAL is corrupt in the middle: keep a copy, truncate there"},
    {"wal-group-commit", "PANDA_WAL_GROUP_COMMIT", OPT_BOOL, OFF(wal_group_commit), 0, 0, "yes",
     "share one fdatasync among concurrent writes (no: one fdatasync per write, to measure)"},
    {"snapshot-interval", "PANDA_SNAPSHOT_INTERVAL", OPT_INT, OFF(snapshot_interval), 0, LLONG_MAX,
     "50", "snapshot after this many write operations (0: never by count)"},
    {"snapshot-timeout", "PANDA_SNAPSHOT_TIMEOUT", OPT_INT, OFF(snapshot_timeout), 0, INT_MAX,
     "180", "snapshot after this many seconds when anything changed (0: never by time)"},
    {"snapshot-min-gap-ms", "PANDA_SNAPSHOT_MIN_GAP_MS", OPT_INT, OFF(snapshot_min_gap_ms), 0,
     INT_MAX, "1000",
     "least time between automatic snapshots (also >= 4x the last one's duration)"},
    {"snapshot-compression", "PANDA_SNAPSHOT_COMPRESSION", OPT_CODEC, OFF(snapshot_codec), 0, 0,
     "zstd", "Parquet codec of snapshots: zstd, snappy or none"},
    {"snapshot-row-group-rows", "PANDA_SNAPSHOT_ROW_GROUP_ROWS", OPT_INT,
     OFF(snapshot_row_group_rows), 1, INT32_MAX, "131072", "rows per Parquet row group"},
    {"use-s3", "PANDA_USE_S3", OPT_BOOL, OFF(use_s3), 0, 0, "no",
     "keep a copy of the data in S3 (also on when --s3-bucket is given)"},
    {"s3-bucket", "PANDA_S3_BUCKET", OPT_STR, OFF(s3_bucket), 0, 0, "", "S3 bucket"},
    {"s3-region", "PANDA_S3_REGION", OPT_STR, OFF(s3_region), 0, 0, "",
     "S3 region (else AWS_REGION, AWS_DEFAULT_REGION, us-east-1)"},
    {"s3-endpoint", "PANDA_S3_ENDPOINT", OPT_STR, OFF(s3_endpoint), 0, 0, "",
     "URL of an S3-compatible store, path-style (else AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL)"},
    {"s3-prefix", "PANDA_S3_PREFIX", OPT_STR, OFF(s3_prefix), 0, 0, "panda/",
     "object name prefix, so servers can share a bucket"},
    {"s3-wal-interval", "PANDA_S3_WAL_INTERVAL", OPT_SECONDS, OFF(s3_wal_interval_ms), 10, 3600000,
     "1", "seconds between WAL segment uploads (fractions allowed)"},
    {"s3-snapshot-interval", "PANDA_S3_SNAPSHOT_INTERVAL", OPT_SECONDS, OFF(s3_snapshot_every_ms),
     0, 86400000, "60",
     "seconds between snapshot uploads (sooner when the WAL segments in S3 outgrow the snapshot)"},
    {"s3-max-backlog", "PANDA_S3_MAX_BACKLOG", OPT_INT, OFF(s3_max_backlog), 4096, 1LL << 40,
     "256m", "WAL bytes waiting for S3 before writes are refused"},
    {"s3-lease", "PANDA_S3_LEASE", OPT_SECONDS, OFF(s3_lease_ms), 3000, 86400000, "30",
     "seconds after its last manifest write before another server may take the prefix over"},
    {"import", NULL, OPT_STR, OFF(import_file), 0, 0, "",
     "load the rows of this Parquet file at start-up (keys it holds are overwritten), then "
     "snapshot before serving"},
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static const struct opt *find_opt(const char *name, size_t len)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strlen(opts[i].name) == len && memcmp(opts[i].name, name, len) == 0) return &opts[i];
    return NULL;
}

/* Parses a size or count with an optional k/m/g suffix (powers of 1024). */
static int parse_number(const char *s, long long *out)
{
    size_t len = strlen(s);
    long long mult = 1;
    if (len > 1) {
        char c = (char)tolower((unsigned char)s[len - 1]);
        if (c == 'k') mult = 1024;
        if (c == 'm') mult = 1024 * 1024;
        if (c == 'g') mult = 1024 * 1024 * 1024;
        if (mult != 1) len--;
    }
    long long v;
    if (util_str2ll(s, len, &v) != 0) return -1;
    if (v > LLONG_MAX / mult || v < LLONG_MIN / mult) return -1;
    *out = v * mult;
    return 0;
}

static int set_opt(struct config *cfg, const struct opt *o, const char *val, const char *origin,
                   struct kv_err *err)
{
    char *field = (char *)cfg + o->offset;
    switch (o->type) {
    case OPT_INT: {
        long long v;
        if (parse_number(val, &v) != 0 || v < o->min || v > o->max)
            return kv_err_set(err, KV_EINVAL,
                              "invalid value '%s' for %s%s (expected an integer %lld..%lld)", val,
                              origin, o->name, o->min, o->max);
        *(long long *)field = v;
        return 0;
    }
    case OPT_STR:
        if (strlen(val) >= CFG_STR_MAX)
            return kv_err_set(err, KV_EINVAL, "value for %s%s is too long", origin, o->name);
        strcpy(field, val);
        return 0;
    case OPT_BOOL:
        if (strcmp(val, "yes") == 0 || strcmp(val, "true") == 0 || strcmp(val, "1") == 0)
            *(int *)field = 1;
        else if (strcmp(val, "no") == 0 || strcmp(val, "false") == 0 || strcmp(val, "0") == 0)
            *(int *)field = 0;
        else
            return kv_err_set(err, KV_EINVAL, "invalid value '%s' for %s%s (expected yes or no)",
                              val, origin, o->name);
        return 0;
    case OPT_FSYNC:
        for (int i = 0; i <= WAL_FSYNC_NO; i++) {
            if (strcmp(val, wal_fsync_name((enum wal_fsync)i)) == 0) {
                *(int *)field = i;
                return 0;
            }
        }
        return kv_err_set(err, KV_EINVAL,
                          "invalid value '%s' for %s%s (expected always, everysec or no)", val,
                          origin, o->name);
    case OPT_CODEC:
        if (strcmp(val, "zstd") == 0)
            *(int *)field = PQ_ZSTD;
        else if (strcmp(val, "snappy") == 0)
            *(int *)field = PQ_SNAPPY;
        else if (strcmp(val, "none") == 0)
            *(int *)field = PQ_UNCOMPRESSED;
        else
            return kv_err_set(err, KV_EINVAL,
                              "invalid value '%s' for %s%s (expected zstd, snappy or none)", val,
                              origin, o->name);
        return 0;
    case OPT_SECONDS: {
        char *end;
        errno = 0;
        double v = strtod(val, &end);
        long long ms = (long long)(v * 1000 + 0.5);
        if (errno || end == val || *end || !(v >= 0) || ms < o->min || ms > o->max)
            return kv_err_set(err, KV_EINVAL,
                              "invalid value '%s' for %s%s (expected seconds, %g..%g)", val, origin,
                              o->name, o->min / 1000.0, o->max / 1000.0);
        *(long long *)field = ms;
        return 0;
    }
    case OPT_LEVEL:
        if (log_parse_level(val, (enum log_level *)field) != 0)
            return kv_err_set(err, KV_EINVAL,
                              "invalid value '%s' for %s%s (expected error, warn, info or debug)",
                              val, origin, o->name);
        return 0;
    }
    return kv_err_set(err, KV_EINVAL, "bad option type");
}

static void print_help(FILE *out)
{
    fprintf(out, "Usage: panda-server [OPTIONS]\n\n"
                 "Panda: a Redis-compatible key-value server.\n\nOptions (flag, environment "
                 "variable, default):\n");
    for (size_t i = 0; i < NOPTS; i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s %s", opts[i].name,
                 opts[i].type == OPT_INT    ? "N"
                 : opts[i].type == OPT_BOOL ? "[yes|no]"
                                            : "VALUE");
        fprintf(out, "  %-28s %s", flag, opts[i].help);
        if (opts[i].env) fprintf(out, " [%s]", opts[i].env);
        if (opts[i].def[0]) fprintf(out, " (default %s)", opts[i].def);
        fputc('\n', out);
    }
    fprintf(out, "  %-28s %s\n  %-28s %s\n\n", "--help", "show this help and exit", "--version",
            "show the version and exit");
    fprintf(out, "Precedence: flag > environment > config file > default. Sizes accept k, m, g.\n"
                 "Exit status: 0 after a clean shutdown (SIGINT, SIGTERM, SHUTDOWN), 1 on a "
                 "runtime failure, 2 on a bad option.\n");
}

/* Strips leading/trailing blanks in place and returns the start. */
static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Splits "name value" (value optionally in double quotes); returns -1 if there is no value. */
static int split_line(char *line, char **name, char **value)
{
    char *p = line;
    while (*p && !isspace((unsigned char)*p))
        p++;
    if (!*p) return -1;
    *p++ = '\0';
    *name = line;
    *value = trim(p);
    size_t n = strlen(*value);
    if (n >= 2 && (*value)[0] == '"' && (*value)[n - 1] == '"') {
        (*value)[n - 1] = '\0';
        (*value)++;
    }
    return 0;
}

static int load_file(struct config *cfg, const char *path, struct kv_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f) return kv_err_sys(err, "cannot open config file %s", path);
    char line[CFG_LINE_MAX];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = trim(line), *name, *value;
        if (*s == '\0' || *s == '#') continue;
        const struct opt *o;
        if (split_line(s, &name, &value) != 0) {
            rc = kv_err_set(err, KV_EINVAL, "%s:%d: expected `name value`, got '%s'", path, lineno,
                            s);
        } else if (!(o = find_opt(name, strlen(name))) || strcmp(name, "config") == 0) {
            rc = kv_err_set(err, KV_EINVAL, "%s:%d: unknown setting '%s'", path, lineno, name);
        } else {
            char origin[CFG_STR_MAX + 32];
            snprintf(origin, sizeof(origin), "%s:%d: ", path, lineno);
            rc = set_opt(cfg, o, value, origin, err);
        }
    }
    fclose(f);
    return rc;
}

static int load_env(struct config *cfg, struct kv_err *err)
{
    for (size_t i = 0; i < NOPTS; i++) {
        const char *v = opts[i].env ? getenv(opts[i].env) : NULL;
        if (!v) continue;
        char origin[64];
        snprintf(origin, sizeof(origin), "%s for --", opts[i].env);
        if (set_opt(cfg, &opts[i], v, origin, err) != 0) return -1;
    }
    return 0;
}

static int is_bool_word(const char *s)
{
    static const char *const words[] = {"yes", "no", "true", "false", "1", "0"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcmp(s, words[i]) == 0) return 1;
    return 0;
}

/* Walks argv; for each `--name value` or `--name=value` calls apply (NULL: validate only). */
static int walk_flags(struct config *cfg, int argc, char **argv, int apply, struct kv_err *err)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0)
            return kv_err_set(err, KV_EINVAL, "unexpected argument '%s' (see --help)", a);
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        if ((nlen == 4 && !memcmp(name, "help", 4)) || (nlen == 7 && !memcmp(name, "version", 7)))
            continue;
        const struct opt *o = find_opt(name, nlen);
        if (!o)
            return kv_err_set(err, KV_EINVAL, "unknown option '--%.*s' (see --help)", (int)nlen,
                              name);
        const char *val = eq ? eq + 1 : NULL;
        if (!val && o->type == OPT_BOOL && !(i + 1 < argc && is_bool_word(argv[i + 1])))
            val = "yes"; /* `--wal-truncate-corrupt` alone */
        if (!val) {
            if (i + 1 >= argc)
                return kv_err_set(err, KV_EINVAL, "option '--%s' needs a value", o->name);
            val = argv[++i];
        }
        if (apply && set_opt(cfg, o, val, "--", err) != 0) return -1;
    }
    return 0;
}

/* Fills an unset setting from the first of two environment variables that is set. */
static void first_env(char *field, const char *a, const char *b)
{
    const char *v = getenv(a);
    if (!v || !*v) v = getenv(b);
    if (!field[0] && v && strlen(v) < CFG_STR_MAX) strcpy(field, v);
}

/* The S3 settings the AWS tools' variables fill in when Panda's own are not set. */
static int resolve_s3(struct config *cfg, struct kv_err *err)
{
    if (!cfg->use_s3) return 0;
    if (!cfg->s3_bucket[0])
        return kv_err_set(err, KV_EINVAL,
                          "S3 is on (use-s3) but no bucket is set: give "
                          "--s3-bucket or PANDA_S3_BUCKET");
    first_env(cfg->s3_region, "AWS_REGION", "AWS_DEFAULT_REGION");
    first_env(cfg->s3_endpoint, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL");
    if (!cfg->s3_region[0]) strcpy(cfg->s3_region, "us-east-1");
    return 0;
}

static int has_flag(int argc, char **argv, const char *flag)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], flag) == 0) return 1;
    return 0;
}

int cfg_load(struct config *cfg, int argc, char **argv, FILE *out, struct kv_err *err)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NOPTS; i++)
        if (set_opt(cfg, &opts[i], opts[i].def, "default ", err) != 0) return CFG_ERROR;
    if (walk_flags(cfg, argc, argv, 0, err) != 0) return CFG_ERROR;
    if (has_flag(argc, argv, "--help")) {
        print_help(out);
        return CFG_EXIT;
    }
    if (has_flag(argc, argv, "--version")) {
        fprintf(out, "panda-server %s\n", PANDA_VERSION);
        return CFG_EXIT;
    }
    /* Find the config file from the flags alone, then layer file < env < flags. */
    struct config flags_only = *cfg;
    if (walk_flags(&flags_only, argc, argv, 1, err) != 0) return CFG_ERROR;
    if (flags_only.config_file[0] && load_file(cfg, flags_only.config_file, err) != 0)
        return CFG_ERROR;
    if (load_env(cfg, err) != 0) return CFG_ERROR;
    if (walk_flags(cfg, argc, argv, 1, err) != 0) return CFG_ERROR;
    if (flags_only.s3_bucket[0]) cfg->use_s3 = 1;
    return resolve_s3(cfg, err) == 0 ? CFG_RUN : CFG_ERROR;
}
