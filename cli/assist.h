/*
 * assist — what panda-cli asks the server for to help a person type: the command table
 * (COMMAND DOCS, for HELP, hints, completion and "Did you mean") and key names (SCAN, for
 * completion). It provides the hint and completion hooks of the line editor (edit.h).
 *
 * It uses a side connection of its own, opened when first needed, so that its questions never
 * land in the person's session: not inside a MULTI (where they would be queued), not on a
 * connection switched to RESP3 or given a name. Reads and writes on it time out after
 * AS_TIMEOUT_MS so that a stuck server cannot freeze typing. The table is loaded once; if that
 * fails (server down, or no COMMAND DOCS), it is tried again only after as_retry().
 *
 * Thread model: none.
 * Ownership: the caller owns struct assist (as_init / as_deinit); host is borrowed for the
 * assist's lifetime. The table returned by as_table() stays valid until as_deinit().
 * Errors: none are reported: without the server there is simply no help to give.
 * Limits: one completion runs at most AS_SCAN_CALLS_MAX SCANs of COUNT AS_SCAN_COUNT and
 * offers at most AS_KEYS_MAX keys; prefixes longer than AS_PREFIX_BYTES_MAX are not completed.
 */
#ifndef PANDA_CLI_ASSIST_H
#define PANDA_CLI_ASSIST_H

#include <stddef.h>

#include "cmds.h"
#include "edit.h"
#include "link.h"

#define AS_TIMEOUT_MS       2000 /* side connection reads and writes */
#define AS_SCAN_COUNT       100  /* COUNT of one SCAN */
#define AS_SCAN_CALLS_MAX   10   /* SCANs for one completion */
#define AS_KEYS_MAX         200  /* key names offered by one completion */
#define AS_PREFIX_BYTES_MAX 256  /* longest key prefix completed */
#define AS_HINT_BYTES_MAX   (CMDS_SYNTAX_BYTES_MAX + 2)

struct assist {
    const char *host; /* borrowed */
    int port;
    struct link side;
    struct cmds table;
    int loaded; /* table holds the server's commands */
    int tried;  /* a load was tried since the last as_retry() */
    char hint[AS_HINT_BYTES_MAX];
};

void as_init(struct assist *as, const char *host, int port);
void as_deinit(struct assist *as);

/* Lets the next as_table() try again to load the table (call after a reconnect). */
void as_retry(struct assist *as);

/* The server's command table, loading it if needed; NULL when it cannot be had. */
const struct cmds *as_table(struct assist *as);

/* ed_hooks.hint: the syntax still to type, after a command name and a space. */
const char *as_hint(void *ctx, const char *line, size_t len);

/* ed_hooks.complete: command names for the first word (and after HELP), key names for an
 * argument that takes a key. */
int as_complete(void *ctx, const char *line, size_t cursor, size_t *word_start,
                struct ed_list *out);

#endif /* PANDA_CLI_ASSIST_H */
