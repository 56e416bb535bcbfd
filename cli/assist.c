/*
 * assist.c — command table, hints and completion from a side connection. See assist.h.
 */
#include "assist.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "print.h"
#include "split.h"

void as_init(struct assist *as, const char *host, int port)
{
    memset(as, 0, sizeof(*as));
    as->host = host;
    as->port = port;
    link_init(&as->side);
    cmds_init(&as->table);
}

void as_deinit(struct assist *as)
{
    link_deinit(&as->side);
    cmds_deinit(&as->table);
}

void as_retry(struct assist *as)
{
    as->tried = 0;
}

/* Sends one command on the side connection, (re)opening it, and reads the reply.
 * Returns the reply's bytes (consume them after rr_reply_deinit()), or -1. */
static ssize_t side_call(struct assist *as, size_t argc, char *const *argv, struct rr_reply *reply)
{
    size_t lens[8];

    assert(argc <= sizeof(lens) / sizeof(lens[0]));
    for (size_t i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    (void)link_peer_gone(&as->side);
    if (as->side.fd < 0 && link_open(&as->side, as->host, as->port, AS_TIMEOUT_MS) != 0) return -1;
    if (link_send(&as->side, argc, argv, lens) != 0) return -1;
    return link_read(&as->side, reply);
}

static void side_done(struct assist *as, struct rr_reply *reply, ssize_t used)
{
    rr_reply_deinit(reply);
    link_consume(&as->side, (size_t)used);
}

const struct cmds *as_table(struct assist *as)
{
    char *argv[] = {"COMMAND", "DOCS"};
    struct rr_reply reply;
    struct cmds_err err;
    ssize_t used;

    if (as->loaded || as->tried) return as->loaded ? &as->table : NULL;
    as->tried = 1;
    used = side_call(as, 2, argv, &reply);
    if (used < 0) return NULL;
    as->loaded = cmds_load(&as->table, &reply, &err) == 0 && as->table.n > 0;
    side_done(as, &reply, used);
    return as->loaded ? &as->table : NULL;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* The command entry named by the first of args, or NULL. */
static const struct cmds_entry *first_command(struct assist *as, const struct split_args *args)
{
    const struct cmds *t = args->argc > 0 ? as_table(as) : NULL;

    return t != NULL ? cmds_find(t, args->argv[0], args->lens[0]) : NULL;
}

const char *as_hint(void *ctx, const char *line, size_t len)
{
    struct assist *as = ctx;
    const struct cmds_entry *e;
    struct split_args args;
    struct split_err err;
    const char *hint = NULL;

    split_args_init(&args);
    if (split_line(line, len, &args, &err) != 0 || (e = first_command(as, &args)) == NULL)
        goto out_free;
    if (len > 0 && is_space(line[len - 1])) {
        hint = cmds_syntax_rest(e->syntax, args.argc - 1);
    } else if (args.argc == 1 && e->syntax[0] != '\0') {
        snprintf(as->hint, sizeof(as->hint), " %s", e->syntax);
        hint = as->hint;
    }
out_free:
    split_args_deinit(&args);
    return hint;
}

/* Adds the command names starting with word[0..n), in the case of its first letter. */
static int add_names(struct assist *as, const char *word, size_t n, struct ed_list *out)
{
    const struct cmds *t = as_table(as);
    int upper = n == 0 || isupper((unsigned char)word[0]);
    char name[CMDS_NAME_BYTES_MAX];

    if (t == NULL) return -1;
    for (size_t i = 0; i < t->n; i++) {
        size_t len = strlen(t->v[i].name);

        if (len < n || strncasecmp(t->v[i].name, word, n) != 0) continue;
        assert(len < sizeof(name));
        for (size_t k = 0; k <= len; k++)
            name[k] = (char)(upper ? toupper((unsigned char)t->v[i].name[k]) : t->v[i].name[k]);
        if (ed_list_add(out, name, len) != 0) return -1;
    }
    return 0;
}

/* A key as it must be typed: bare when split_line() would give it back, else quoted. */
static int add_key(struct ed_list *out, const char *key, size_t n, struct pr_buf *tmp)
{
    int bare = n > 0;

    for (size_t i = 0; i < n && bare; i++) {
        unsigned char c = (unsigned char)key[i];

        bare = c > ' ' && c < 0x7f && c != '"' && c != '\'' && c != '\\';
    }
    if (bare) return ed_list_add(out, key, n);
    pr_buf_reset(tmp);
    pr_repr(tmp, key, n);
    return tmp->err == 0 ? ed_list_add(out, tmp->data, tmp->len) : -1;
}

/* Adds the keys of one SCAN reply; returns its cursor in next (NUL-terminated). -1 if bad. */
static int add_scan_page(const struct rr_reply *r, struct ed_list *out, char *next, size_t cap)
{
    const struct rr_reply *keys;
    struct pr_buf tmp;
    int rc = 0;

    if (r->type != RR_ARRAY || r->count != 2 || r->elements[0].type != RR_STRING ||
        r->elements[0].str_len >= cap || r->elements[1].type != RR_ARRAY)
        return -1;
    memcpy(next, r->elements[0].str, r->elements[0].str_len);
    next[r->elements[0].str_len] = '\0';
    keys = &r->elements[1];
    pr_buf_init(&tmp);
    for (size_t i = 0; i < keys->count && out->n < AS_KEYS_MAX && rc == 0; i++) {
        if (keys->elements[i].type == RR_STRING)
            rc = add_key(out, keys->elements[i].str, keys->elements[i].str_len, &tmp);
    }
    pr_buf_deinit(&tmp);
    return rc;
}

/* Adds the keys starting with prefix[0..n), found with a few SCANs. */
static int add_keys(struct assist *as, const char *prefix, size_t n, struct ed_list *out)
{
    char pattern[2 * AS_PREFIX_BYTES_MAX + 2], cursor[32] = "0", count[16];
    char *argv[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", count};
    size_t p = 0;

    if (n > AS_PREFIX_BYTES_MAX) return -1;
    for (size_t i = 0; i < n; i++) { /* glob characters in the prefix match themselves */
        if (strchr("*?[]\\", prefix[i]) != NULL) pattern[p++] = '\\';
        pattern[p++] = prefix[i];
    }
    assert(p + 2 <= sizeof(pattern));
    memcpy(pattern + p, "*", 2);
    snprintf(count, sizeof(count), "%d", AS_SCAN_COUNT);
    for (int call = 0; call < AS_SCAN_CALLS_MAX && out->n < AS_KEYS_MAX; call++) {
        struct rr_reply reply;
        ssize_t used = side_call(as, 6, argv, &reply);
        int rc;

        if (used < 0) return -1;
        rc = add_scan_page(&reply, out, cursor, sizeof(cursor));
        side_done(as, &reply, used);
        if (rc != 0) return -1;
        if (strcmp(cursor, "0") == 0) break;
    }
    return 0;
}

int as_complete(void *ctx, const char *line, size_t cursor, size_t *word_start, struct ed_list *out)
{
    struct assist *as = ctx;
    const struct cmds_entry *e;
    struct split_args args;
    struct split_err err;
    size_t start = cursor;
    int rc = -1;

    while (start > 0 && !is_space(line[start - 1]))
        start--;
    *word_start = start;
    split_args_init(&args);
    if (split_line(line, start, &args, &err) != 0) goto out_free;
    if (args.argc == 0) {
        rc = add_names(as, line + start, cursor - start, out);
    } else if ((e = first_command(as, &args)) == NULL) {
        rc = -1;
    } else if (strcmp(e->name, "help") == 0 && args.argc == 1) {
        rc = add_names(as, line + start, cursor - start, out);
    } else if (cmds_arg_is_key(e->syntax, args.argc) && line[start] != '"' && line[start] != '\'') {
        rc = add_keys(as, line + start, cursor - start, out);
    }
out_free:
    split_args_deinit(&args);
    return rc;
}
