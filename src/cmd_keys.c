/* cmd_keys.c - generic key commands: deletion, lookup, iteration, renaming, expiry. */
#include <limits.h>
#include <string.h>

#include "cmd.h"
#include "cmd_args.h"
#include "glob.h"

/* Keys visited per requested SCAN COUNT unit before returning anyway (sparse tables). */
#define SCAN_VISIT_FACTOR 10

void cmd_del(struct conn *c)
{
    struct ks *ks = cmd_ks(c);
    long long n = 0;
    for (size_t i = 1; i < c->argc; i++)
        n += ks_del(ks, c->argv[i].p, c->argv[i].len);
    rep_int(&c->rep, n);
}

/* Freeing one entry is a single free() whatever its size, so UNLINK needs no background
 * work of its own: it is DEL. */
void cmd_unlink(struct conn *c)
{
    cmd_del(c);
}

void cmd_exists(struct conn *c)
{
    struct ks *ks = cmd_ks(c);
    long long n = 0;
    for (size_t i = 1; i < c->argc; i++)
        n += ks_get(ks, c->argv[i].p, c->argv[i].len) != NULL;
    rep_int(&c->rep, n);
}

struct match_ctx {
    struct conn *c;
    const struct sv *pat; /* NULL: everything */
    int all;
    size_t count;
};

static void emit_if_match(const struct ks_entry *e, void *p)
{
    struct match_ctx *m = p;
    struct ks_view v;
    ks_view(e, &v);
    if (m->all || glob_match(m->pat->p, m->pat->len, v.key, v.klen, 0)) {
        rep_bulk(&m->c->rep, v.key, v.klen);
        m->count++;
    }
}

static void reply_matching_keys(struct conn *c, const struct sv *pat)
{
    struct match_ctx m = {c, pat, pat->len == 1 && pat->p[0] == '*', 0};
    size_t mark = rep_defer(&c->rep);
    ks_foreach(cmd_ks(c), emit_if_match, &m);
    rep_defer_set(&c->rep, mark, m.count);
}

void cmd_keys(struct conn *c)
{
    reply_matching_keys(c, &c->argv[1]);
}

void cmd_list(struct conn *c)
{
    static const struct sv all = {"*", 1};
    reply_matching_keys(c, c->argc > 1 ? &c->argv[1] : &all);
}

static int parse_cursor(const struct sv *a, unsigned long *out)
{
    if (a->len == 0 || a->len > 20) return -1;
    unsigned long long v = 0;
    for (size_t i = 0; i < a->len; i++) {
        if (a->p[i] < '0' || a->p[i] > '9') return -1;
        unsigned d = (unsigned)(a->p[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = (unsigned long)v;
    return 0;
}

struct scan_opts {
    const struct sv *pat;
    long long count;
    int type_ok; /* TYPE given and names a type that can exist (only "string") */
};

static int parse_scan_opts(struct conn *c, struct scan_opts *o)
{
    o->pat = NULL;
    o->count = 10;
    o->type_ok = 1;
    for (size_t i = 2; i < c->argc; i += 2) {
        if (i + 1 >= c->argc) goto syntax;
        const struct sv *v = &c->argv[i + 1];
        if (arg_is(&c->argv[i], "COUNT")) {
            if (arg_ll(c, v, &o->count) != 0) return -1;
            if (o->count < 1) goto syntax;
        } else if (arg_is(&c->argv[i], "MATCH")) {
            o->pat = v;
        } else if (arg_is(&c->argv[i], "TYPE")) {
            o->type_ok = arg_is(v, "string");
        } else {
            goto syntax;
        }
    }
    return 0;
syntax:
    rep_err(&c->rep, "ERR syntax error");
    return -1;
}

static void skip_entry(const struct ks_entry *e, void *p)
{
    (void)e;
    (void)p;
}

void cmd_scan(struct conn *c)
{
    unsigned long cursor;
    if (parse_cursor(&c->argv[1], &cursor) != 0) {
        rep_err(&c->rep, "ERR invalid cursor");
        return;
    }
    struct scan_opts o;
    if (parse_scan_opts(c, &o) != 0) return;
    /* Matching keys are written into the reply as they are found; the header (next cursor,
     * key count) is inserted in front of them once both are known. */
    struct match_ctx m = {c, o.pat, o.pat == NULL || (o.pat->len == 1 && o.pat->p[0] == '*'), 0};
    struct ks *ks = cmd_ks(c);
    size_t mark = rep_defer(&c->rep);
    long long budget = o.count * SCAN_VISIT_FACTOR;
    do {
        size_t before = m.count;
        cursor = ks_scan(ks, cursor, o.type_ok ? emit_if_match : skip_entry, &m);
        budget -= (long long)(m.count - before) + 1;
    } while (cursor != 0 && (long long)m.count < o.count && budget > 0);
    char cur[UTIL_LL_STR_MAX + 1], hdr[96];
    int n = snprintf(cur, sizeof(cur), "%lu", cursor);
    int h = snprintf(hdr, sizeof(hdr), "*2\r\n$%d\r\n%s\r\n*%zu\r\n", n, cur, m.count);
    rep_insert(&c->rep, mark, hdr, (size_t)h);
}

void cmd_randomkey(struct conn *c)
{
    struct ks_entry *e = ks_random(cmd_ks(c));
    if (!e) {
        rep_nil(&c->rep);
        return;
    }
    struct ks_view v;
    ks_view(e, &v);
    rep_bulk(&c->rep, v.key, v.klen);
}

void cmd_dbsize(struct conn *c)
{
    rep_int(&c->rep, (long long)ks_size(cmd_ks(c)));
}

void cmd_type(struct conn *c)
{
    rep_simple(&c->rep, ks_get(cmd_ks(c), c->argv[1].p, c->argv[1].len) ? "string" : "none");
}

/* Moves src to dst keeping the value and expiry; returns 0, or -1 if nothing was done
 * (reply already sent for a missing source). */
static int rename_generic(struct conn *c, int nx)
{
    struct ks *ks = cmd_ks(c);
    const struct sv *src = &c->argv[1], *dst = &c->argv[2];
    struct ks_entry *e = ks_get(ks, src->p, src->len);
    if (!e) {
        rep_err(&c->rep, "ERR no such key");
        return -1;
    }
    if (src->len == dst->len && memcmp(src->p, dst->p, src->len) == 0) return nx ? 1 : 0;
    if (nx && ks_get(ks, dst->p, dst->len)) return 1;
    struct ks_view v, nv;
    ks_view(e, &v);
    struct ks_entry *n = ks_entry_new(dst->p, dst->len, v.vlen, v.expire_ms);
    ks_view(n, &nv);
    memcpy(nv.val, v.val, v.vlen);
    ks_del(ks, src->p, src->len); /* e is freed here; its bytes were copied above */
    ks_install(ks, n);
    return 0;
}

void cmd_rename(struct conn *c)
{
    if (rename_generic(c, 0) == 0) rep_ok(&c->rep);
}

void cmd_renamenx(struct conn *c)
{
    int rc = rename_generic(c, 1);
    if (rc >= 0) rep_int(&c->rep, rc == 0 ? 1 : 0);
}

#define EXP_NX (1 << 0)
#define EXP_XX (1 << 1)
#define EXP_GT (1 << 2)
#define EXP_LT (1 << 3)

static int parse_expire_flags(struct conn *c, int *flags)
{
    *flags = 0;
    for (size_t i = 3; i < c->argc; i++) {
        const struct sv *a = &c->argv[i];
        if (arg_is(a, "NX"))
            *flags |= EXP_NX;
        else if (arg_is(a, "XX"))
            *flags |= EXP_XX;
        else if (arg_is(a, "GT"))
            *flags |= EXP_GT;
        else if (arg_is(a, "LT"))
            *flags |= EXP_LT;
        else {
            rep_errf(&c->rep, "ERR Unsupported option %.*s", (int)a->len, a->p);
            return -1;
        }
    }
    if ((*flags & EXP_NX) && (*flags & (EXP_XX | EXP_GT | EXP_LT))) {
        rep_err(&c->rep, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return -1;
    }
    if ((*flags & EXP_GT) && (*flags & EXP_LT)) {
        rep_err(&c->rep, "ERR GT and LT options at the same time are not compatible");
        return -1;
    }
    return 0;
}

/* Parses the time argument as Redis does: any integer, negative included, converted to an
 * absolute ms time; overflow is "invalid expire time". */
static int expire_when(struct conn *c, int seconds, int relative, const char *name, int64_t *when)
{
    long long v;
    if (arg_ll(c, &c->argv[2], &v) != 0) return -1;
    int64_t now = cmd_ks(c)->now_ms;
    if (seconds && (v > LLONG_MAX / 1000 || v < LLONG_MIN / 1000)) goto invalid;
    if (seconds) v *= 1000;
    if (relative && ((v > 0 && v > LLONG_MAX - now) || (v < 0 && v < LLONG_MIN + now)))
        goto invalid;
    if (relative) v += now;
    *when = v;
    return 0;
invalid:
    rep_errf(&c->rep, "ERR invalid expire time in '%s' command", name);
    return -1;
}

static void expire_generic(struct conn *c, int seconds, int relative, const char *name)
{
    int flags;
    int64_t when;
    if (expire_when(c, seconds, relative, name, &when) != 0) return;
    if (parse_expire_flags(c, &flags) != 0) return;
    struct ks *ks = cmd_ks(c);
    const struct sv *key = &c->argv[1];
    struct ks_entry *e = ks_get(ks, key->p, key->len);
    if (!e) {
        rep_int(&c->rep, 0);
        return;
    }
    struct ks_view v;
    ks_view(e, &v);
    int has = v.expire_ms != KS_NO_TTL;
    if (((flags & EXP_NX) && has) || ((flags & EXP_XX) && !has) ||
        ((flags & EXP_GT) && (!has || when <= v.expire_ms)) ||
        ((flags & EXP_LT) && has && when >= v.expire_ms)) {
        rep_int(&c->rep, 0);
        return;
    }
    if (when <= ks->now_ms)
        ks_del(ks, key->p, key->len);
    else
        ks_set_expire(ks, key->p, key->len, when);
    rep_int(&c->rep, 1);
}

void cmd_expire(struct conn *c)
{
    expire_generic(c, 1, 1, "expire");
}

void cmd_pexpire(struct conn *c)
{
    expire_generic(c, 0, 1, "pexpire");
}

void cmd_expireat(struct conn *c)
{
    expire_generic(c, 1, 0, "expireat");
}

void cmd_pexpireat(struct conn *c)
{
    expire_generic(c, 0, 0, "pexpireat");
}

/* TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 for no key, -1 for no expiry. */
static void ttl_generic(struct conn *c, int ms, int absolute)
{
    struct ks *ks = cmd_ks(c);
    struct ks_entry *e = ks_get(ks, c->argv[1].p, c->argv[1].len);
    if (!e) {
        rep_int(&c->rep, -2);
        return;
    }
    struct ks_view v;
    ks_view(e, &v);
    if (v.expire_ms == KS_NO_TTL) {
        rep_int(&c->rep, -1);
        return;
    }
    long long t = absolute ? v.expire_ms : v.expire_ms - ks->now_ms;
    if (t < 0) t = 0;
    if (!ms) t = (t + 500) / 1000; /* Redis rounds both TTL and EXPIRETIME */
    rep_int(&c->rep, t);
}

void cmd_ttl(struct conn *c)
{
    ttl_generic(c, 0, 0);
}

void cmd_pttl(struct conn *c)
{
    ttl_generic(c, 1, 0);
}

void cmd_expiretime(struct conn *c)
{
    ttl_generic(c, 0, 1);
}

void cmd_pexpiretime(struct conn *c)
{
    ttl_generic(c, 1, 1);
}

void cmd_persist(struct conn *c)
{
    struct ks *ks = cmd_ks(c);
    struct ks_entry *e = ks_get(ks, c->argv[1].p, c->argv[1].len);
    struct ks_view v;
    if (!e || (ks_view(e, &v), v.expire_ms == KS_NO_TTL)) {
        rep_int(&c->rep, 0);
        return;
    }
    ks_set_expire(ks, c->argv[1].p, c->argv[1].len, KS_NO_TTL);
    rep_int(&c->rep, 1);
}

void cmd_flushall(struct conn *c)
{
    int async = 0;
    if (c->argc > 2 ||
        (c->argc == 2 && !arg_is(&c->argv[1], "ASYNC") && !arg_is(&c->argv[1], "SYNC"))) {
        rep_err(&c->rep, "ERR syntax error");
        return;
    }
    if (c->argc == 2) async = arg_is(&c->argv[1], "ASYNC");
    ks_flush(cmd_ks(c), async);
    rep_ok(&c->rep);
}

void cmd_select(struct conn *c)
{
    long long db;
    if (arg_ll(c, &c->argv[1], &db) != 0) return;
    if (db != 0) {
        rep_err(&c->rep, "ERR DB index is out of range"); /* Redis's text; Panda has only db 0 */
        return;
    }
    rep_ok(&c->rep);
}
