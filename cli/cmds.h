/*
 * cmds — the server's command table as panda-cli knows it: names, syntax, summaries, read
 * from a COMMAND DOCS reply. Used for HELP, tab completion, syntax hints and "Did you mean".
 *
 * Why from the server and not a table compiled into the client: the server's table is the one
 * truth (Panda adds commands; a stock redis-server has other ones), and one COMMAND DOCS round
 * trip costs nothing next to a person typing. Panda's docs carry a "syntax" string; Redis 7's
 * carry structured "arguments", which cmds_load() turns into the same kind of string
 * ("key value [NX | XX]").
 *
 * Syntax strings are read as units: a word, a [bracketed optional group] or an <alternative
 * group>. Arguments named "key" or "...key" (newkey, destkey) take key names.
 *
 * Thread model: none.
 * Ownership: struct cmds owns its entries and their strings (cmds_init / cmds_deinit). Entry
 * pointers returned by the lookups stay valid until the next cmds_load() or cmds_deinit().
 * Errors: cmds_load() returns -1 and fills err: CMDS_EPROTO when the reply is not a COMMAND
 * DOCS reply, CMDS_ENOMEM when memory runs out. The table is then empty.
 * Limits: at most CMDS_MAX commands; a syntax string longer than CMDS_SYNTAX_BYTES_MAX is cut
 * with "..."; argument descriptions nest at most CMDS_ARG_DEPTH_MAX deep.
 */
#ifndef PANDA_CLI_CMDS_H
#define PANDA_CLI_CMDS_H

#include <stddef.h>

#include "resp_reader.h"

#define CMDS_MAX              1024 /* commands kept from one reply */
#define CMDS_NAME_BYTES_MAX   64   /* longer names are skipped */
#define CMDS_SYNTAX_BYTES_MAX 1024 /* one syntax string */
#define CMDS_ARG_DEPTH_MAX    8    /* nested Redis argument groups */

enum cmds_err_code {
    CMDS_OK = 0,
    CMDS_EPROTO = 1,
    CMDS_ENOMEM = 2,
};

struct cmds_err {
    int code; /* enum cmds_err_code */
    char msg[128];
};

struct cmds_entry {
    char *name;    /* lowercase */
    char *syntax;  /* arguments after the name, "" when it takes none */
    char *summary; /* "" when the server gave none */
    char *group;
    char *since;
};

struct cmds {
    struct cmds_entry *v; /* n entries, in the server's order */
    size_t n;
};

/* Makes t empty. Never fails. */
void cmds_init(struct cmds *t);

/* Frees every entry and makes t empty. */
void cmds_deinit(struct cmds *t);

/*
 * Replaces the table with the commands of a COMMAND DOCS reply (RESP2 flat array or RESP3
 * map). Borrows docs. Returns 0, or -1 with err filled and t empty.
 */
int cmds_load(struct cmds *t, const struct rr_reply *docs, struct cmds_err *err);

/* The entry named name[0..len) (any case), or NULL. */
const struct cmds_entry *cmds_find(const struct cmds *t, const char *name, size_t len);

/*
 * The entry whose name is closest to name[0..len) by edit distance (a swap of two neighbours
 * counts as one edit), when that distance is small for the name's length (1 up to 4 bytes, 2
 * above); NULL when none is close, or name is itself a command.
 */
const struct cmds_entry *cmds_suggest(const struct cmds *t, const char *name, size_t len);

/* Edit distance between a and b, ASCII case folded, with swaps; both under
 * CMDS_NAME_BYTES_MAX bytes (longer inputs return CMDS_NAME_BYTES_MAX). */
size_t cmds_distance(const char *a, size_t alen, const char *b, size_t blen);

/*
 * What is left of syntax once nargs arguments are typed: required units are skipped one per
 * argument, and skipping stops at the first optional or alternative unit (which may take
 * any number). Returns a pointer into syntax ("" when nothing is left).
 */
const char *cmds_syntax_rest(const char *syntax, size_t nargs);

/* True when argument number argno (1 = the first after the name) takes a key name. */
int cmds_arg_is_key(const char *syntax, size_t argno);

#endif /* PANDA_CLI_CMDS_H */
