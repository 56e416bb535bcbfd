/*
 * cmd.h - the command table and dispatch.
 *
 * Every command is one row of a static table (cmd_table.c): name, handler, Redis arity
 * (negative: at least -arity arguments, counting the name), flags, key positions, group,
 * syntax and summary. HELP, COMMAND INFO/DOCS and the arity check all read that row, so
 * a command is described in exactly one place.
 *
 * cmd_dispatch runs the command in c->argv, or queues it when c is in MULTI. Handlers reply
 * through c->rep and report errors as Redis-style error replies; they never fail otherwise.
 *
 * Threads: event-loop thread only.
 */
#ifndef PANDA_CMD_H
#define PANDA_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "hist.h"

struct conn;

typedef void cmd_fn(struct conn *c);

enum cmd_flags {
    CMD_WRITE = 1 << 0,    /* may change the keyspace */
    CMD_READONLY = 1 << 1, /* reads keys */
    CMD_FAST = 1 << 2,     /* O(1) or O(log n) */
    CMD_ADMIN = 1 << 3,
    CMD_NOQUEUE = 1 << 4,  /* runs at once inside MULTI (EXEC, DISCARD, MULTI, WATCH, QUIT) */
    CMD_PANDA = 1 << 6,    /* Panda's own (seed) command, not Redis's */
    CMD_SECURITY = 1 << 7, /* cross-protocol probe (POST, Host:): drop the connection */
    CMD_NOMULTI = 1 << 8,  /* refused inside MULTI, aborting the transaction (SAVE) */
};

struct cmd_def {
    const char *name; /* lower case */
    cmd_fn *fn;
    int arity;
    unsigned flags;
    int first_key, last_key, key_step;
    const char *group;
    const char *syntax; /* arguments after the name, Redis docs style */
    const char *summary;
    const char *since;
};

/* Max length of a command name looked up (longer names are unknown). */
#define CMD_NAME_MAX 32

/* Builds the lookup index; call once at start-up. */
void cmd_init(void);
/* Looks a name up case-insensitively; NULL if unknown. */
const struct cmd_def *cmd_lookup(const char *name, size_t len);
/* The table, for HELP and COMMAND; ends with a row whose name is NULL. */
extern const struct cmd_def cmd_table[];
size_t cmd_count(void);
/* Per-command counters, indexed like cmd_table: calls (INFO commandstats), error replies
 * (including commands refused before running) and time (metrics.h). A command's time runs
 * from the end of the one before it in the same read (or the start of the read:
 * server.cmd_clock_ns) to its end, so it includes parsing and lookup, and costs one clock
 * read per command on a pipeline. */
extern uint64_t cmd_calls[];
extern uint64_t cmd_errors[];
extern struct hist cmd_hist[];
/* Commands with an unknown name. */
extern uint64_t cmd_unknown;

/* Runs or queues c's current command. */
void cmd_dispatch(struct conn *c);
/* Runs def with c's argv now (used by EXEC for queued commands). */
void cmd_call(struct conn *c, const struct cmd_def *def);

/* Handlers, one file per group: cmd_string.c, cmd_keys.c, cmd_server.c, cmd_multi.c,
 * cmd_seed.c. */
#define CMD_HANDLER(n) void n(struct conn *c)
CMD_HANDLER(cmd_get);
CMD_HANDLER(cmd_set);
CMD_HANDLER(cmd_setnx);
CMD_HANDLER(cmd_setex);
CMD_HANDLER(cmd_psetex);
CMD_HANDLER(cmd_getdel);
CMD_HANDLER(cmd_getex);
CMD_HANDLER(cmd_getset);
CMD_HANDLER(cmd_mget);
CMD_HANDLER(cmd_mset);
CMD_HANDLER(cmd_msetnx);
CMD_HANDLER(cmd_incr);
CMD_HANDLER(cmd_decr);
CMD_HANDLER(cmd_incrby);
CMD_HANDLER(cmd_decrby);
CMD_HANDLER(cmd_incrbyfloat);
CMD_HANDLER(cmd_append);
CMD_HANDLER(cmd_strlen);
CMD_HANDLER(cmd_getrange);
CMD_HANDLER(cmd_setrange);
CMD_HANDLER(cmd_del);
CMD_HANDLER(cmd_unlink);
CMD_HANDLER(cmd_exists);
CMD_HANDLER(cmd_keys);
CMD_HANDLER(cmd_scan);
CMD_HANDLER(cmd_randomkey);
CMD_HANDLER(cmd_dbsize);
CMD_HANDLER(cmd_type);
CMD_HANDLER(cmd_rename);
CMD_HANDLER(cmd_renamenx);
CMD_HANDLER(cmd_expire);
CMD_HANDLER(cmd_pexpire);
CMD_HANDLER(cmd_expireat);
CMD_HANDLER(cmd_pexpireat);
CMD_HANDLER(cmd_ttl);
CMD_HANDLER(cmd_pttl);
CMD_HANDLER(cmd_persist);
CMD_HANDLER(cmd_expiretime);
CMD_HANDLER(cmd_pexpiretime);
CMD_HANDLER(cmd_flushall);
CMD_HANDLER(cmd_select);
CMD_HANDLER(cmd_multi);
CMD_HANDLER(cmd_exec);
CMD_HANDLER(cmd_discard);
CMD_HANDLER(cmd_watch);
CMD_HANDLER(cmd_unwatch);
CMD_HANDLER(cmd_ping);
CMD_HANDLER(cmd_echo);
CMD_HANDLER(cmd_info);
CMD_HANDLER(cmd_config);
CMD_HANDLER(cmd_command);
CMD_HANDLER(cmd_client);
CMD_HANDLER(cmd_hello);
CMD_HANDLER(cmd_time);
CMD_HANDLER(cmd_shutdown);
CMD_HANDLER(cmd_save);
CMD_HANDLER(cmd_bgsave);
CMD_HANDLER(cmd_lastsave);
CMD_HANDLER(cmd_quit);
CMD_HANDLER(cmd_security_warning);
CMD_HANDLER(cmd_list);
CMD_HANDLER(cmd_stats);
CMD_HANDLER(cmd_help);

#endif
