/* cmd.c - command lookup and dispatch (see cmd.h). */
#include "cmd.h"

#include <string.h>

#include "conn.h"
#include "hist.h"
#include "multi.h"
#include "server.h"
#include "util.h"

/* Open-addressing index over cmd_table by lower-case name; a power of two > 2 * rows. */
#define CMD_INDEX_SIZE 256

static short cmd_index[CMD_INDEX_SIZE];

static uint32_t name_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

void cmd_init(void)
{
    kv_assert(cmd_count() * 2 < CMD_INDEX_SIZE);
    memset(cmd_index, -1, sizeof(cmd_index));
    for (size_t i = 0; cmd_table[i].name; i++) {
        const char *n = cmd_table[i].name;
        uint32_t slot = name_hash(n, strlen(n)) & (CMD_INDEX_SIZE - 1);
        while (cmd_index[slot] >= 0)
            slot = (slot + 1) & (CMD_INDEX_SIZE - 1);
        cmd_index[slot] = (short)i;
    }
}

const struct cmd_def *cmd_lookup(const char *name, size_t len)
{
    char low[CMD_NAME_MAX];
    if (util_lower(name, len, low, sizeof(low)) != 0) return NULL;
    uint32_t slot = name_hash(low, len) & (CMD_INDEX_SIZE - 1);
    while (cmd_index[slot] >= 0) {
        const struct cmd_def *d = &cmd_table[cmd_index[slot]];
        if (strcmp(d->name, low) == 0) return d;
        slot = (slot + 1) & (CMD_INDEX_SIZE - 1);
    }
    return NULL;
}

static void reply_arity(struct conn *c, const struct cmd_def *def)
{
    rep_errf(&c->rep, "ERR wrong number of arguments for '%s' command", def->name);
}

/* Redis 7's text: the name, then the first arguments quoted, up to about 128 bytes. */
static void reply_unknown(struct conn *c)
{
    char args[256];
    size_t n = 0;
    args[0] = '\0';
    for (size_t i = 1; i < c->argc && n < 128; i++) {
        int room = 128 - (int)n;
        int len = (int)(c->argv[i].len < (size_t)room ? c->argv[i].len : (size_t)room);
        int w = snprintf(args + n, sizeof(args) - n, "'%.*s' ", len, c->argv[i].p);
        if (w < 0) break;
        n += (size_t)w < sizeof(args) - n ? (size_t)w : sizeof(args) - n - 1;
    }
    int nlen = (int)(c->argv[0].len < 128 ? c->argv[0].len : 128);
    rep_errf(&c->rep, "ERR unknown command '%.*s', with args beginning with: %s", nlen,
             c->argv[0].p, args);
}

static int arity_ok(const struct cmd_def *def, size_t argc)
{
    if (def->arity >= 0) return argc == (size_t)def->arity;
    return argc >= (size_t)-def->arity;
}

void cmd_call(struct conn *c, const struct cmd_def *def)
{
    size_t i = (size_t)(def - cmd_table), before = c->rep.out.len;
    uint64_t start = c->srv->cmd_clock_ns;
    def->fn(c);
    /* One clock read per command: it ends this command's time and starts the next one's. */
    uint64_t end = hist_now_ns();
    kv_dassert(start > 0 && end >= start);
    hist_add(&cmd_hist[i], end - start);
    c->srv->cmd_clock_ns = end;
    /* Every reply starts with its type byte; an error's is '-' (RESP2 and RESP3 alike). */
    if (c->rep.out.len > before && c->rep.out.data[before] == '-') cmd_errors[i]++;
    cmd_calls[i]++;
    c->srv->st.total_commands++;
    c->last_cmd = def;
}

/* A command refused before it ran (arity, MULTI rules, writes refused) counts as an error. */
static void refused(const struct cmd_def *def)
{
    if (def)
        cmd_errors[def - cmd_table]++;
    else
        cmd_unknown++;
}

void cmd_dispatch(struct conn *c)
{
    kv_assert(c->argc > 0);
    const struct cmd_def *def = cmd_lookup(c->argv[0].p, c->argv[0].len);
    if (def && (def->flags & CMD_SECURITY)) {
        def->fn(c); /* before the arity check: any HTTP-looking line drops the client */
        return;
    }
    if (!def || !arity_ok(def, c->argc)) {
        refused(def);
        if (c->flags & CONN_MULTI) c->flags |= CONN_DIRTY_EXEC;
        if (def)
            reply_arity(c, def);
        else
            reply_unknown(c);
        return;
    }
    if ((c->flags & CONN_MULTI) && (def->flags & CMD_NOMULTI)) {
        c->flags |= CONN_DIRTY_EXEC;
        refused(def);
        rep_err(&c->rep, "ERR Command not allowed inside a transaction");
        return;
    }
    if ((c->flags & CONN_MULTI) && !(def->flags & CMD_NOQUEUE)) {
        multi_queue(c, def);
        return;
    }
    const char *refusal = srv_write_refusal(c->srv);
    if (refusal && (def->flags & CMD_WRITE)) {
        refused(def);
        rep_errf(&c->rep, "ERR %s: writes are refused until that clears; reads still work",
                 refusal);
        return;
    }
    c->srv->ks.now_ms = util_mstime();
    cmd_call(c, def);
    srv_after_command(c->srv, c);
}
