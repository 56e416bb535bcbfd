/* cmd_table.c - every command Panda knows, one row each (see cmd.h for the columns). */
#include "cmd.h"

#define W  CMD_WRITE
#define R  CMD_READONLY
#define F  CMD_FAST
#define A  CMD_ADMIN
#define NQ CMD_NOQUEUE
#define P  CMD_PANDA

const struct cmd_def cmd_table[] = {
    /* Panda's own commands, from the seed README */
    {"put", cmd_set, 3, W | F | P, 1, 1, 1, "panda", "key value", "Store a value under a key.",
     "0.1.0"},
    {"delete", cmd_del, -2, W | P, 1, -1, 1, "panda", "key [key ...]",
     "Remove keys; replies with how many existed.", "0.1.0"},
    {"list", cmd_list, -1, R | P, 0, 0, 0, "panda", "[pattern]",
     "List the keys matching a glob pattern (all keys by default).", "0.1.0"},
    {"size", cmd_dbsize, 1, R | F | P, 0, 0, 0, "panda", "", "Number of keys.", "0.1.0"},
    {"stats", cmd_stats, 1, P, 0, 0, 0, "panda", "",
     "Storage statistics in one line: backend, Parquet and WAL sizes, keys, pending ops.", "0.1.0"},
    {"snapshot", cmd_save, 1, A | P | CMD_NOMULTI, 0, 0, 0, "panda", "",
     "Write a Parquet snapshot now; replies once it is durable (other clients keep being "
     "served).",
     "0.1.0"},
    {"help", cmd_help, -1, P, 0, 0, 0, "panda", "[command]",
     "List every command with its syntax, or show one.", "0.1.0"},
    /* strings */
    {"get", cmd_get, 2, R | F, 1, 1, 1, "string", "key", "Get the value of a key.", "1.0.0"},
    {"set", cmd_set, -3, W, 1, 1, 1, "string",
     "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | "
     "PXAT unix-time-milliseconds | KEEPTTL]",
     "Set the string value of a key, with optional expiry and conditions.", "1.0.0"},
    {"setnx", cmd_setnx, 3, W | F, 1, 1, 1, "string", "key value",
     "Set a key only if it does not exist.", "1.0.0"},
    {"setex", cmd_setex, 4, W, 1, 1, 1, "string", "key seconds value",
     "Set a key with an expiry in seconds.", "2.0.0"},
    {"psetex", cmd_psetex, 4, W, 1, 1, 1, "string", "key milliseconds value",
     "Set a key with an expiry in milliseconds.", "2.6.0"},
    {"getdel", cmd_getdel, 2, W | F, 1, 1, 1, "string", "key", "Get a key's value and delete it.",
     "6.2.0"},
    {"getex", cmd_getex, -2, W | F, 1, 1, 1, "string",
     "key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | "
     "PERSIST]",
     "Get a key's value and change its expiry.", "6.2.0"},
    {"getset", cmd_getset, 3, W | F, 1, 1, 1, "string", "key value",
     "Set a key and return its old value.", "1.0.0"},
    {"mget", cmd_mget, -2, R | F, 1, -1, 1, "string", "key [key ...]",
     "Get the values of several keys.", "1.0.0"},
    {"mset", cmd_mset, -3, W, 1, -1, 2, "string", "key value [key value ...]", "Set several keys.",
     "1.0.1"},
    {"msetnx", cmd_msetnx, -3, W, 1, -1, 2, "string", "key value [key value ...]",
     "Set several keys only if none of them exists.", "1.0.1"},
    {"incr", cmd_incr, 2, W | F, 1, 1, 1, "string", "key", "Increment an integer by one.", "1.0.0"},
    {"decr", cmd_decr, 2, W | F, 1, 1, 1, "string", "key", "Decrement an integer by one.", "1.0.0"},
    {"incrby", cmd_incrby, 3, W | F, 1, 1, 1, "string", "key increment",
     "Increment an integer by a number.", "1.0.0"},
    {"decrby", cmd_decrby, 3, W | F, 1, 1, 1, "string", "key decrement",
     "Decrement an integer by a number.", "1.0.0"},
    {"incrbyfloat", cmd_incrbyfloat, 3, W | F, 1, 1, 1, "string", "key increment",
     "Increment a number by a floating point amount.", "2.6.0"},
    {"append", cmd_append, 3, W | F, 1, 1, 1, "string", "key value", "Append to a key's value.",
     "2.0.0"},
    {"strlen", cmd_strlen, 2, R | F, 1, 1, 1, "string", "key", "Length of a key's value.", "2.2.0"},
    {"getrange", cmd_getrange, 4, R, 1, 1, 1, "string", "key start end",
     "Get a substring of a key's value.", "2.4.0"},
    {"setrange", cmd_setrange, 4, W, 1, 1, 1, "string", "key offset value",
     "Overwrite part of a key's value.", "2.2.0"},
    /* keys */
    {"del", cmd_del, -2, W, 1, -1, 1, "generic", "key [key ...]", "Delete keys.", "1.0.0"},
    {"unlink", cmd_unlink, -2, W | F, 1, -1, 1, "generic", "key [key ...]",
     "Delete keys, freeing memory in the background.", "4.0.0"},
    {"exists", cmd_exists, -2, R | F, 1, -1, 1, "generic", "key [key ...]",
     "Count how many of the keys exist.", "1.0.0"},
    {"keys", cmd_keys, 2, R, 0, 0, 0, "generic", "pattern", "Find keys matching a pattern.",
     "1.0.0"},
    {"scan", cmd_scan, -2, R, 0, 0, 0, "generic",
     "cursor [MATCH pattern] [COUNT count] [TYPE type]", "Iterate over the keys.", "2.8.0"},
    {"randomkey", cmd_randomkey, 1, R, 0, 0, 0, "generic", "", "A random key.", "1.0.0"},
    {"dbsize", cmd_dbsize, 1, R | F, 0, 0, 0, "server", "", "Number of keys.", "1.0.0"},
    {"type", cmd_type, 2, R | F, 1, 1, 1, "generic", "key", "The type of a key's value.", "1.0.0"},
    {"rename", cmd_rename, 3, W, 1, 2, 1, "generic", "key newkey", "Rename a key.", "1.0.0"},
    {"renamenx", cmd_renamenx, 3, W | F, 1, 2, 1, "generic", "key newkey",
     "Rename a key only if the new name is free.", "1.0.0"},
    {"expire", cmd_expire, -3, W | F, 1, 1, 1, "generic", "key seconds [NX | XX | GT | LT]",
     "Set a key's time to live in seconds.", "1.0.0"},
    {"pexpire", cmd_pexpire, -3, W | F, 1, 1, 1, "generic", "key milliseconds [NX | XX | GT | LT]",
     "Set a key's time to live in milliseconds.", "2.6.0"},
    {"expireat", cmd_expireat, -3, W | F, 1, 1, 1, "generic",
     "key unix-time-seconds [NX | XX | GT | LT]", "Set a key's expiry as a Unix time.", "1.2.0"},
    {"pexpireat", cmd_pexpireat, -3, W | F, 1, 1, 1, "generic",
     "key unix-time-milliseconds [NX | XX | GT | LT]",
     "Set a key's expiry as a Unix time in milliseconds.", "2.6.0"},
    {"ttl", cmd_ttl, 2, R | F, 1, 1, 1, "generic", "key", "Time to live of a key in seconds.",
     "1.0.0"},
    {"pttl", cmd_pttl, 2, R | F, 1, 1, 1, "generic", "key",
     "Time to live of a key in milliseconds.", "2.6.0"},
    {"persist", cmd_persist, 2, W | F, 1, 1, 1, "generic", "key", "Remove a key's expiry.",
     "2.2.0"},
    {"expiretime", cmd_expiretime, 2, R | F, 1, 1, 1, "generic", "key",
     "A key's expiry as a Unix time in seconds.", "7.0.0"},
    {"pexpiretime", cmd_pexpiretime, 2, R | F, 1, 1, 1, "generic", "key",
     "A key's expiry as a Unix time in milliseconds.", "7.0.0"},
    {"flushall", cmd_flushall, -1, W, 0, 0, 0, "server", "[ASYNC | SYNC]", "Remove every key.",
     "1.0.0"},
    {"flushdb", cmd_flushall, -1, W, 0, 0, 0, "server", "[ASYNC | SYNC]",
     "Remove every key of the database.", "1.0.0"},
    {"select", cmd_select, 2, F, 0, 0, 0, "connection", "index",
     "Select the database (Panda has only database 0).", "1.0.0"},
    /* transactions */
    {"multi", cmd_multi, 1, F | NQ, 0, 0, 0, "transactions", "", "Start a transaction.", "1.2.0"},
    {"exec", cmd_exec, 1, NQ, 0, 0, 0, "transactions", "", "Run the commands queued since MULTI.",
     "1.2.0"},
    {"discard", cmd_discard, 1, F | NQ, 0, 0, 0, "transactions", "",
     "Drop the commands queued since MULTI.", "2.0.0"},
    {"watch", cmd_watch, -2, F | NQ, 1, -1, 1, "transactions", "key [key ...]",
     "Make the next EXEC fail if any of the keys changes.", "2.2.0"},
    {"unwatch", cmd_unwatch, 1, F, 0, 0, 0, "transactions", "", "Forget all watched keys.",
     "2.2.0"},
    /* connection and server */
    {"ping", cmd_ping, -1, F, 0, 0, 0, "connection", "[message]", "Ping the server.", "1.0.0"},
    {"echo", cmd_echo, 2, F, 0, 0, 0, "connection", "message", "Echo the message.", "1.0.0"},
    {"info", cmd_info, -1, 0, 0, 0, 0, "server", "[section [section ...]]",
     "Information and statistics about the server.", "1.0.0"},
    {"config", cmd_config, -2, A, 0, 0, 0, "server", "GET parameter [parameter ...]",
     "Read configuration parameters.", "2.0.0"},
    {"command", cmd_command, -1, 0, 0, 0, 0, "server",
     "[COUNT | DOCS [command-name ...] | INFO [command-name ...] | LIST]", "Describe the commands.",
     "2.8.13"},
    {"client", cmd_client, -2, 0, 0, 0, 0, "connection",
     "SETNAME connection-name | GETNAME | ID | LIST | INFO", "Inspect or name connections.",
     "2.4.0"},
    {"hello", cmd_hello, -1, F, 0, 0, 0, "connection", "[protover [SETNAME clientname]]",
     "Handshake: choose RESP2 or RESP3 and get server details.", "6.0.0"},
    {"time", cmd_time, 1, F, 0, 0, 0, "server", "", "The server time.", "2.6.0"},
    {"save", cmd_save, 1, A | CMD_NOMULTI, 0, 0, 0, "server", "",
     "Write a snapshot and reply once it is durable (Panda keeps serving other clients).", "1.0.0"},
    {"bgsave", cmd_bgsave, -1, A, 0, 0, 0, "server", "[SCHEDULE]",
     "Start a snapshot in the background.", "1.0.0"},
    {"lastsave", cmd_lastsave, 1, F, 0, 0, 0, "server", "",
     "Unix time of the last successful snapshot.", "1.0.0"},
    {"shutdown", cmd_shutdown, -1, A | NQ, 0, 0, 0, "server", "[NOSAVE | SAVE] [NOW] [FORCE]",
     "Stop the server gracefully.", "1.0.0"},
    {"quit", cmd_quit, -1, F | NQ, 0, 0, 0, "connection", "", "Close the connection.", "1.0.0"},
    /* cross-protocol attack probes, as Redis: an HTTP request line or header drops the client */
    {"post", cmd_security_warning, -1, CMD_SECURITY | NQ, 0, 0, 0, "server", "", "", ""},
    {"host:", cmd_security_warning, -1, CMD_SECURITY | NQ, 0, 0, 0, "server", "", "", ""},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL},
};

uint64_t cmd_calls[sizeof(cmd_table) / sizeof(cmd_table[0])];
uint64_t cmd_errors[sizeof(cmd_table) / sizeof(cmd_table[0])];
struct hist cmd_hist[sizeof(cmd_table) / sizeof(cmd_table[0])];
uint64_t cmd_unknown;

size_t cmd_count(void)
{
    return sizeof(cmd_table) / sizeof(cmd_table[0]) - 1;
}
