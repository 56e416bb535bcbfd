/*
 * cmd_args.h - argument helpers shared by the command handlers.
 *
 * Each parser replies Redis's error text itself and returns -1, so a handler can write
 * `if (arg_ll(c, &c->argv[2], &n) != 0) return;`. Event-loop thread only.
 */
#ifndef PANDA_CMD_ARGS_H
#define PANDA_CMD_ARGS_H

#include <stdint.h>

#include "conn.h"
#include "ks.h"
#include "server.h"

static inline struct ks *cmd_ks(struct conn *c)
{
    return &c->srv->ks;
}

/* Parses an integer argument; on failure replies "value is not an integer or out of range". */
int arg_ll(struct conn *c, const struct sv *a, long long *out);
/* Case-insensitive comparison of an argument with an upper-case keyword. */
int arg_is(const struct sv *a, const char *word);

enum expire_unit { EXP_SEC, EXP_MS, EXP_UNIX_SEC, EXP_UNIX_MS };

/* Turns an expiry argument into an absolute ms time, replying errors as command `name` does
 * ("invalid expire time in 'set' command" for <= 0 or overflow). Returns 0 or -1. */
int arg_expire(struct conn *c, const struct sv *a, enum expire_unit unit, const char *name,
               int64_t *when_ms);

/* Replies the value of e as a bulk string, or nil when e is NULL. */
void reply_entry(struct conn *c, const struct ks_entry *e);

#endif
