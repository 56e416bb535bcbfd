/* cmd_multi.c - MULTI/EXEC/DISCARD and WATCH/UNWATCH (see multi.h). */
#include <string.h>

#include "alloc.h"
#include "cmd.h"
#include "cmd_args.h"
#include "multi.h"

/* One queued command: argv and its bytes in a single allocation. */
struct multi_cmd {
    const struct cmd_def *def;
    size_t argc;
    struct sv *argv;
};

struct multi_state {
    struct multi_cmd *cmds;
    size_t n, cap;
};

/* A watched key: the key bytes and the clients watching it. */
struct watch_key {
    struct ht_node node;
    struct conn **clients;
    size_t n, cap;
    size_t klen;
    char key[];
};

static uint64_t wk_hash(const struct ht_node *n)
{
    const struct watch_key *w = (const struct watch_key *)n;
    return ht_hash_bytes(w->key, w->klen);
}

static int wk_eq(const struct ht_node *n, const void *key, size_t len)
{
    const struct watch_key *w = (const struct watch_key *)n;
    return w->klen == len && memcmp(w->key, key, len) == 0;
}

static const struct ht_type wk_type = {.hash = wk_hash, .key_eq = wk_eq};

void watch_init(struct server *s)
{
    ht_init(&s->watched, &wk_type);
}

void watch_deinit(struct server *s)
{
    kv_assert(ht_size(&s->watched) == 0); /* every client released its keys on close */
    ht_deinit(&s->watched);
}

static void flag_watchers(struct watch_key *w)
{
    for (size_t i = 0; i < w->n; i++)
        w->clients[i]->flags |= CONN_DIRTY_CAS;
}

static void flag_node(struct ht_node *n, void *ctx)
{
    (void)ctx;
    flag_watchers((struct watch_key *)n);
}

void watch_touch(void *server, const char *key, size_t klen)
{
    struct server *s = server;
    if (ht_size(&s->watched) == 0) return;
    if (!key) {
        ht_foreach(&s->watched, flag_node, NULL);
        return;
    }
    struct ht_pos pos;
    if (ht_find(&s->watched, key, klen, ht_hash_bytes(key, klen), &pos))
        flag_watchers((struct watch_key *)*pos.slot);
}

static void watch_add(struct conn *c, const struct sv *key)
{
    struct ht *t = &c->srv->watched;
    for (size_t i = 0; i < c->nwatched; i++) /* already watched by c? */
        if (wk_eq(&c->watched[i]->node, key->p, key->len)) return;
    uint64_t h = ht_hash_bytes(key->p, key->len);
    struct ht_pos pos;
    struct watch_key *w;
    if (ht_find(t, key->p, key->len, h, &pos)) {
        w = (struct watch_key *)*pos.slot;
    } else {
        w = kv_calloc(1, sizeof(*w) + key->len);
        w->klen = key->len;
        memcpy(w->key, key->p, key->len);
        ht_insert(t, &w->node, h);
    }
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 4;
        w->clients = kv_realloc(w->clients, w->cap * sizeof(*w->clients));
    }
    w->clients[w->n++] = c;
    if (c->nwatched == c->watched_cap) {
        c->watched_cap = c->watched_cap ? c->watched_cap * 2 : 4;
        c->watched = kv_realloc(c->watched, c->watched_cap * sizeof(*c->watched));
    }
    c->watched[c->nwatched++] = w;
}

void watch_release_all(struct conn *c)
{
    struct ht *t = &c->srv->watched;
    for (size_t i = 0; i < c->nwatched; i++) {
        struct watch_key *w = c->watched[i];
        for (size_t j = 0; j < w->n; j++) {
            if (w->clients[j] == c) {
                w->clients[j] = w->clients[--w->n];
                break;
            }
        }
        if (w->n > 0) continue;
        struct ht_pos pos;
        int found = ht_find(t, w->key, w->klen, ht_hash_bytes(w->key, w->klen), &pos);
        kv_assert(found && *pos.slot == &w->node);
        ht_unlink(t, &pos);
        kv_free(w->clients);
        kv_free(w);
    }
    c->nwatched = 0;
    c->flags &= ~CONN_DIRTY_CAS;
}

void multi_queue(struct conn *c, const struct cmd_def *def)
{
    struct multi_state *m = c->multi;
    kv_assert(m != NULL);
    if (m->n >= MULTI_QUEUE_MAX) {
        c->flags |= CONN_DIRTY_EXEC;
        rep_err(&c->rep, "ERR too many commands queued in this transaction");
        return;
    }
    size_t bytes = c->argc * sizeof(struct sv);
    for (size_t i = 0; i < c->argc; i++)
        bytes += c->argv[i].len;
    struct sv *argv = kv_malloc(bytes);
    char *p = (char *)(argv + c->argc);
    for (size_t i = 0; i < c->argc; i++) {
        memcpy(p, c->argv[i].p, c->argv[i].len);
        argv[i].p = p;
        argv[i].len = c->argv[i].len;
        p += c->argv[i].len;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        m->cmds = kv_realloc(m->cmds, m->cap * sizeof(*m->cmds));
    }
    m->cmds[m->n++] = (struct multi_cmd){def, c->argc, argv};
    rep_simple(&c->rep, "QUEUED");
}

void multi_reset(struct conn *c)
{
    struct multi_state *m = c->multi;
    if (m) {
        for (size_t i = 0; i < m->n; i++)
            kv_free(m->cmds[i].argv);
        kv_free(m->cmds);
        kv_free(m);
        c->multi = NULL;
    }
    c->flags &= ~(CONN_MULTI | CONN_DIRTY_EXEC);
}

void cmd_multi(struct conn *c)
{
    if (c->flags & CONN_MULTI) {
        rep_err(&c->rep, "ERR MULTI calls can not be nested");
        return;
    }
    c->multi = kv_calloc(1, sizeof(*c->multi));
    c->flags |= CONN_MULTI;
    rep_ok(&c->rep);
}

void cmd_discard(struct conn *c)
{
    if (!(c->flags & CONN_MULTI)) {
        rep_err(&c->rep, "ERR DISCARD without MULTI");
        return;
    }
    multi_reset(c);
    watch_release_all(c);
    rep_ok(&c->rep);
}

/* Lazily expires watched keys, so one that expired since WATCH flags the client. */
static void expire_watched(struct conn *c)
{
    for (size_t i = 0; i < c->nwatched; i++)
        ks_get(cmd_ks(c), c->watched[i]->key, c->watched[i]->klen);
}

void cmd_exec(struct conn *c)
{
    if (!(c->flags & CONN_MULTI)) {
        rep_err(&c->rep, "ERR EXEC without MULTI");
        return;
    }
    if (c->flags & CONN_DIRTY_EXEC) {
        rep_err(&c->rep, "EXECABORT Transaction discarded because of previous errors.");
        multi_reset(c);
        watch_release_all(c);
        return;
    }
    expire_watched(c);
    if (c->flags & CONN_DIRTY_CAS) {
        rep_nil_array(&c->rep);
        multi_reset(c);
        watch_release_all(c);
        return;
    }
    const char *refusal = srv_write_refusal(c->srv);
    for (size_t i = 0; refusal && i < c->multi->n; i++) {
        if (c->multi->cmds[i].def->flags & CMD_WRITE) {
            rep_errf(&c->rep, "EXECABORT %s: transaction discarded", refusal);
            multi_reset(c);
            watch_release_all(c);
            return;
        }
    }
    watch_release_all(c); /* nothing may abort it now; our own writes must not flag us */
    struct multi_state *m = c->multi;
    size_t argc = c->argc;
    struct sv *argv = c->argv;
    rep_array(&c->rep, m->n);
    for (size_t i = 0; i < m->n; i++) {
        c->argc = m->cmds[i].argc;
        c->argv = m->cmds[i].argv;
        cmd_call(c, m->cmds[i].def);
    }
    c->argc = argc;
    c->argv = argv;
    multi_reset(c);
}

void cmd_watch(struct conn *c)
{
    if (c->flags & CONN_MULTI) {
        rep_err(&c->rep, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    if (c->nwatched + c->argc - 1 > WATCH_KEYS_MAX) {
        rep_err(&c->rep, "ERR too many watched keys");
        return;
    }
    for (size_t i = 1; i < c->argc; i++) {
        ks_get(cmd_ks(c), c->argv[i].p, c->argv[i].len); /* expire first: not a change */
        watch_add(c, &c->argv[i]);
    }
    rep_ok(&c->rep);
}

void cmd_unwatch(struct conn *c)
{
    watch_release_all(c);
    rep_ok(&c->rep);
}
