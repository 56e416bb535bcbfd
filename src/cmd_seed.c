/* cmd_seed.c - the seed README's own commands: STATS and HELP (PUT, GET, DELETE, LIST and
 * SIZE share the Redis handlers; see cmd_table.c). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "cmd_args.h"
#include "s3store.h"

/* Bytes to KB, rounded up, as the seed's STATS prints sizes. */
static unsigned long long kb(uint64_t bytes)
{
    return (unsigned long long)(bytes + 1023) / 1024;
}

void cmd_stats(struct conn *c)
{
    struct buf b;
    buf_init(&b);
    struct srv_storage st;
    srv_storage(c->srv, &st);
    if (st.s3_on)
        buf_printf(&b, "Storage: S3 (bucket: %s, region: %s)", c->srv->cfg.s3_bucket, st.s3.region);
    else
        buf_printf(&b, "Storage: Local (%s)", c->srv->cfg.data_dir);
    buf_printf(&b, ", Parquet: %lluKB, WAL: %lluKB, In-memory: %zu keys, Pending: %llu ops",
               kb(st.parquet_bytes), kb(st.wal_bytes), st.keys, (unsigned long long)st.pending);
    if (st.s3_on && st.s3.ok) buf_append_str(&b, ", S3: ok");
    if (st.s3_on && !st.s3.ok) buf_printf(&b, ", S3: degraded (%s)", st.s3.reason);
    rep_bulk(&c->rep, b.data, b.len);
    buf_deinit(&b);
}

static void upper(char *dst, const char *src, size_t cap)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = (char)(src[i] >= 'a' && src[i] <= 'z' ? src[i] - 32 : src[i]);
    dst[i] = '\0';
}

static void help_line(struct buf *b, const struct cmd_def *d)
{
    char name[CMD_NAME_MAX];
    upper(name, d->name, sizeof(name));
    char usage[512];
    snprintf(usage, sizeof(usage), "%s%s%s", name, d->syntax[0] ? " " : "", d->syntax);
    buf_printf(b, "%-40s %s\n", usage, d->summary);
}

void cmd_help(struct conn *c)
{
    struct buf b;
    buf_init(&b);
    if (c->argc > 1) {
        const struct cmd_def *d = cmd_lookup(c->argv[1].p, c->argv[1].len);
        if (!d || (d->flags & CMD_SECURITY)) {
            rep_errf(&c->rep, "ERR unknown command '%.*s'. Try HELP.",
                     (int)(c->argv[1].len < 128 ? c->argv[1].len : 128), c->argv[1].p);
            return;
        }
        help_line(&b, d);
    } else {
        buf_append_str(&b, "Panda commands (case-insensitive). Seed commands first, then the "
                           "Redis-compatible ones.\n");
        for (size_t i = 0; cmd_table[i].name; i++)
            if (!(cmd_table[i].flags & CMD_SECURITY)) help_line(&b, &cmd_table[i]);
    }
    if (b.len > 0) b.len--; /* no trailing newline */
    rep_verbatim(&c->rep, b.data, b.len);
    buf_deinit(&b);
}
