/*
 * config.h - server settings from defaults, a config file, the environment and flags.
 *
 * Precedence: flag > environment variable > config file > default. Every setting has the
 * same name as a flag (`--port`), in the config file (`port 8080`, one per line, `#`
 * comments) and an environment variable (PANDA_PORT). Values are validated against a range
 * when read; the config is immutable once the server starts.
 *
 * Errors: cfg_load fills err with one line naming the setting (and the bad value); the
 * caller prints it and exits with status 2.
 */
#ifndef PANDA_CONFIG_H
#define PANDA_CONFIG_H

#include <limits.h>
#include <stdio.h>

#include "err.h"
#include "log.h"

#define PANDA_VERSION "0.2.0"
#define CFG_STR_MAX   1024
#define CFG_LINE_MAX  4096

struct config {
    long long port;
    char bind[CFG_STR_MAX];
    long long http_port; /* 0 = off */
    long long http_max_clients;
    long long http_timeout_ms;
    char data_dir[CFG_STR_MAX];
    char config_file[CFG_STR_MAX];
    enum log_level log_level;
    long long max_clients;
    long long max_inline_bytes;
    long long max_bulk_bytes;
    long long max_args;
    long long max_output_bytes;
    int fsync; /* enum wal_fsync */
    int wal_truncate_corrupt;
    int wal_group_commit;
    long long snapshot_interval;   /* operations since the last snapshot; 0 = off */
    long long snapshot_timeout;    /* seconds; 0 = off */
    long long snapshot_min_gap_ms; /* least time between automatic snapshots */
    long long snapshot_row_group_rows;
    int snapshot_codec; /* enum pq_codec */
    char import_file[CFG_STR_MAX];
    int use_s3;
    char s3_bucket[CFG_STR_MAX];
    char s3_region[CFG_STR_MAX];
    char s3_endpoint[CFG_STR_MAX];
    char s3_prefix[CFG_STR_MAX];
    long long s3_wal_interval_ms;
    long long s3_max_backlog;
    long long s3_lease_ms;
    long long s3_snapshot_every_ms;
};

enum cfg_result {
    CFG_RUN = 0,   /* settings loaded: start the server */
    CFG_EXIT = 1,  /* --help or --version was printed: exit 0 */
    CFG_ERROR = -1 /* err says why: exit 2 */
};

/* Loads settings from argv and the process environment. Prints --help/--version to out. */
int cfg_load(struct config *cfg, int argc, char **argv, FILE *out, struct kv_err *err);

#endif
