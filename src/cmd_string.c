/* cmd_string.c - string commands: GET, SET and friends, counters, ranges. */
#include <limits.h>
#include <string.h>

#include "cmd.h"
#include "cmd_args.h"

#define SET_NX      (1 << 0)
#define SET_XX      (1 << 1)
#define SET_GET     (1 << 2)
#define SET_KEEPTTL (1 << 3)
#define SET_EXPIRE  (1 << 4)

int arg_ll(struct conn *c, const struct sv *a, long long *out)
{
    if (util_str2ll(a->p, a->len, out) == 0) return 0;
    rep_err(&c->rep, "ERR value is not an integer or out of range");
    return -1;
}

int arg_is(const struct sv *a, const char *word)
{
    return util_eqi(a->p, a->len, word);
}

int arg_expire(struct conn *c, const struct sv *a, enum expire_unit unit, const char *name,
               int64_t *when_ms)
{
    long long v;
    if (arg_ll(c, a, &v) != 0) return -1;
    int relative = unit == EXP_SEC || unit == EXP_MS;
    int seconds = unit == EXP_SEC || unit == EXP_UNIX_SEC;
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000)) goto invalid;
    if (seconds) v *= 1000;
    if (relative) {
        int64_t now = cmd_ks(c)->now_ms;
        if (v > LLONG_MAX - now) goto invalid;
        v += now;
    }
    *when_ms = v;
    return 0;
invalid:
    rep_errf(&c->rep, "ERR invalid expire time in '%s' command", name);
    return -1;
}

void reply_entry(struct conn *c, const struct ks_entry *e)
{
    if (!e) {
        c->srv->st.keyspace_misses++;
        rep_nil(&c->rep);
        return;
    }
    c->srv->st.keyspace_hits++;
    struct ks_view v;
    ks_view(e, &v);
    rep_bulk(&c->rep, v.val, v.vlen);
}

void cmd_get(struct conn *c)
{
    reply_entry(c, ks_get(cmd_ks(c), c->argv[1].p, c->argv[1].len));
}

/* Recognises EX, PX, EXAT and PXAT (any case); returns 1 and sets *unit if a is one. */
static int expire_keyword(const struct sv *a, enum expire_unit *unit)
{
    static const struct {
        const char *word;
        enum expire_unit unit;
    } words[] = {{"EX", EXP_SEC}, {"PX", EXP_MS}, {"EXAT", EXP_UNIX_SEC}, {"PXAT", EXP_UNIX_MS}};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (arg_is(a, words[i].word)) {
            *unit = words[i].unit;
            return 1;
        }
    }
    return 0;
}

/* Parses SET's options from argv[3..]; returns 0 or -1 (error replied). */
static int parse_set_opts(struct conn *c, int *flags, int64_t *when)
{
    for (size_t i = 3; i < c->argc; i++) {
        const struct sv *a = &c->argv[i];
        int has_next = i + 1 < c->argc;
        enum expire_unit unit;
        if (expire_keyword(a, &unit)) {
            if (!has_next || (*flags & (SET_EXPIRE | SET_KEEPTTL))) goto syntax;
            if (arg_expire(c, &c->argv[++i], unit, "set", when) != 0) return -1;
            *flags |= SET_EXPIRE;
        } else if (arg_is(a, "NX") && !(*flags & SET_XX)) {
            *flags |= SET_NX;
        } else if (arg_is(a, "XX") && !(*flags & SET_NX)) {
            *flags |= SET_XX;
        } else if (arg_is(a, "GET")) {
            *flags |= SET_GET;
        } else if (arg_is(a, "KEEPTTL") && !(*flags & SET_EXPIRE)) {
            *flags |= SET_KEEPTTL;
        } else {
            goto syntax;
        }
    }
    return 0;
syntax:
    rep_err(&c->rep, "ERR syntax error");
    return -1;
}

void cmd_set(struct conn *c)
{
    int flags = 0;
    int64_t when = KS_NO_TTL;
    if (parse_set_opts(c, &flags, &when) != 0) return;
    struct ks *ks = cmd_ks(c);
    const struct sv *key = &c->argv[1], *val = &c->argv[2];
    if (!(flags & (SET_GET | SET_NX | SET_XX))) { /* the common case: one lookup */
        ks_put(ks, key->p, key->len, val->p, val->len, flags & SET_KEEPTTL ? KS_KEEP_TTL : when);
        rep_ok(&c->rep);
        return;
    }
    struct ks_entry *old = ks_get(ks, key->p, key->len);
    if (flags & SET_GET) reply_entry(c, old);
    if (((flags & SET_NX) && old) || ((flags & SET_XX) && !old)) {
        if (!(flags & SET_GET)) rep_nil(&c->rep);
        return;
    }
    if (flags & SET_KEEPTTL) when = KS_KEEP_TTL;
    ks_put(ks, key->p, key->len, val->p, val->len, when);
    if (!(flags & SET_GET)) rep_ok(&c->rep);
}

void cmd_setnx(struct conn *c)
{
    struct ks *ks = cmd_ks(c);
    if (ks_get(ks, c->argv[1].p, c->argv[1].len)) {
        rep_int(&c->rep, 0);
        return;
    }
    ks_put(ks, c->argv[1].p, c->argv[1].len, c->argv[2].p, c->argv[2].len, KS_NO_TTL);
    rep_int(&c->rep, 1);
}

static void setex_generic(struct conn *c, enum expire_unit unit, const char *name)
{
    int64_t when;
    if (arg_expire(c, &c->argv[2], unit, name, &when) != 0) return;
    ks_put(cmd_ks(c), c->argv[1].p, c->argv[1].len, c->argv[3].p, c->argv[3].len, when);
    rep_ok(&c->rep);
}

void cmd_setex(struct conn *c)
{
    setex_generic(c, EXP_SEC, "setex");
}

void cmd_psetex(struct conn *c)
{
    setex_generic(c, EXP_MS, "psetex");
}

void cmd_getdel(struct conn *c)
{
    struct ks *ks = cmd_ks(c);
    struct ks_entry *e = ks_get(ks, c->argv[1].p, c->argv[1].len);
    reply_entry(c, e);
    if (e) ks_del(ks, c->argv[1].p, c->argv[1].len);
}

void cmd_getex(struct conn *c)
{
    int64_t when = KS_NO_TTL;
    int persist = 0, expire = 0;
    for (size_t i = 2; i < c->argc; i++) {
        const struct sv *a = &c->argv[i];
        enum expire_unit unit;
        if (arg_is(a, "PERSIST") && !expire) {
            persist = 1;
        } else if (expire_keyword(a, &unit) && !persist && !expire && i + 1 < c->argc) {
            if (arg_expire(c, &c->argv[++i], unit, "getex", &when) != 0) return;
            expire = 1;
        } else {
            rep_err(&c->rep, "ERR syntax error");
            return;
        }
    }
    struct ks *ks = cmd_ks(c);
    const struct sv *key = &c->argv[1];
    struct ks_entry *e = ks_get(ks, key->p, key->len);
    reply_entry(c, e);
    if (!e) return;
    if (expire && when <= ks->now_ms)
        ks_del(ks, key->p, key->len);
    else if (expire)
        ks_set_expire(ks, key->p, key->len, when);
    else if (persist)
        ks_set_expire(ks, key->p, key->len, KS_NO_TTL);
}

void cmd_getset(struct conn *c)
{
    struct ks *ks = cmd_ks(c);
    reply_entry(c, ks_get(ks, c->argv[1].p, c->argv[1].len));
    ks_put(ks, c->argv[1].p, c->argv[1].len, c->argv[2].p, c->argv[2].len, KS_NO_TTL);
}

void cmd_mget(struct conn *c)
{
    struct ks *ks = cmd_ks(c);
    rep_array(&c->rep, c->argc - 1);
    for (size_t i = 1; i < c->argc; i++)
        reply_entry(c, ks_get(ks, c->argv[i].p, c->argv[i].len));
}

static void mset_generic(struct conn *c, int nx, const char *name)
{
    if (c->argc % 2 == 0) {
        rep_errf(&c->rep, "ERR wrong number of arguments for '%s' command", name);
        return;
    }
    struct ks *ks = cmd_ks(c);
    if (nx) {
        for (size_t i = 1; i < c->argc; i += 2) {
            if (ks_get(ks, c->argv[i].p, c->argv[i].len)) {
                rep_int(&c->rep, 0);
                return;
            }
        }
    }
    for (size_t i = 1; i < c->argc; i += 2)
        ks_put(ks, c->argv[i].p, c->argv[i].len, c->argv[i + 1].p, c->argv[i + 1].len, KS_NO_TTL);
    if (nx)
        rep_int(&c->rep, 1);
    else
        rep_ok(&c->rep);
}

void cmd_mset(struct conn *c)
{
    mset_generic(c, 0, "mset");
}

void cmd_msetnx(struct conn *c)
{
    mset_generic(c, 1, "msetnx");
}

static void incr_generic(struct conn *c, long long by)
{
    struct ks *ks = cmd_ks(c);
    const struct sv *key = &c->argv[1];
    struct ks_entry *e = ks_get(ks, key->p, key->len);
    long long cur = 0;
    if (e) {
        struct ks_view v;
        ks_view(e, &v);
        if (util_str2ll(v.val, v.vlen, &cur) != 0) {
            rep_err(&c->rep, "ERR value is not an integer or out of range");
            return;
        }
    }
    if ((by < 0 && cur < 0 && by < LLONG_MIN - cur) ||
        (by > 0 && cur > 0 && by > LLONG_MAX - cur)) {
        rep_err(&c->rep, "ERR increment or decrement would overflow");
        return;
    }
    cur += by;
    char digits[UTIL_LL_STR_MAX];
    size_t n = util_ll2str(digits, cur);
    ks_put(ks, key->p, key->len, digits, n, KS_KEEP_TTL);
    rep_int(&c->rep, cur);
}

void cmd_incr(struct conn *c)
{
    incr_generic(c, 1);
}

void cmd_decr(struct conn *c)
{
    incr_generic(c, -1);
}

void cmd_incrby(struct conn *c)
{
    long long by;
    if (arg_ll(c, &c->argv[2], &by) == 0) incr_generic(c, by);
}

void cmd_decrby(struct conn *c)
{
    long long by;
    if (arg_ll(c, &c->argv[2], &by) != 0) return;
    if (by == LLONG_MIN) {
        rep_err(&c->rep, "ERR decrement would overflow");
        return;
    }
    incr_generic(c, -by);
}

void cmd_incrbyfloat(struct conn *c)
{
    struct ks *ks = cmd_ks(c);
    const struct sv *key = &c->argv[1];
    long double by, cur = 0;
    if (util_str2ld(c->argv[2].p, c->argv[2].len, &by) != 0) {
        rep_err(&c->rep, "ERR value is not a valid float");
        return;
    }
    struct ks_entry *e = ks_get(ks, key->p, key->len);
    if (e) {
        struct ks_view v;
        ks_view(e, &v);
        if (util_str2ld(v.val, v.vlen, &cur) != 0) {
            rep_err(&c->rep, "ERR value is not a valid float");
            return;
        }
    }
    cur += by;
    char out[UTIL_LD_STR_MAX];
    size_t n = util_ld2str_human(out, cur); /* 0 for NaN and infinities */
    if (n == 0) {
        rep_err(&c->rep, "ERR increment would produce NaN or Infinity");
        return;
    }
    ks_put(ks, key->p, key->len, out, n, KS_KEEP_TTL);
    rep_bulk(&c->rep, out, n);
}

static int check_size(struct conn *c, unsigned long long total)
{
    if (total <= KS_VALUE_MAX && total <= (unsigned long long)c->srv->cfg.max_bulk_bytes) return 0;
    rep_err(&c->rep, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    return -1;
}

void cmd_append(struct conn *c)
{
    struct ks *ks = cmd_ks(c);
    const struct sv *key = &c->argv[1], *add = &c->argv[2];
    struct ks_entry *e = ks_get(ks, key->p, key->len);
    size_t cur = 0;
    if (e) {
        struct ks_view v;
        ks_view(e, &v);
        cur = v.vlen;
    }
    if (check_size(c, (unsigned long long)cur + add->len) != 0) return;
    rep_int(&c->rep, (long long)ks_append(ks, key->p, key->len, add->p, add->len));
}

void cmd_strlen(struct conn *c)
{
    struct ks_entry *e = ks_get(cmd_ks(c), c->argv[1].p, c->argv[1].len);
    struct ks_view v = {0};
    if (e) ks_view(e, &v);
    rep_int(&c->rep, (long long)v.vlen);
}

void cmd_getrange(struct conn *c)
{
    long long start, end;
    if (arg_ll(c, &c->argv[2], &start) != 0 || arg_ll(c, &c->argv[3], &end) != 0) return;
    struct ks_entry *e = ks_get(cmd_ks(c), c->argv[1].p, c->argv[1].len);
    struct ks_view v = {0};
    if (e) ks_view(e, &v);
    long long len = (long long)v.vlen;
    if (start < 0 && end < 0 && start > end) {
        rep_bulk(&c->rep, "", 0);
        return;
    }
    if (start < 0) start += len;
    if (end < 0) end += len;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= len) end = len - 1;
    if (len == 0 || start > end) {
        rep_bulk(&c->rep, "", 0);
        return;
    }
    rep_bulk(&c->rep, v.val + start, (size_t)(end - start + 1));
}

void cmd_setrange(struct conn *c)
{
    long long off;
    if (arg_ll(c, &c->argv[2], &off) != 0) return;
    if (off < 0) {
        rep_err(&c->rep, "ERR offset is out of range");
        return;
    }
    struct ks *ks = cmd_ks(c);
    const struct sv *key = &c->argv[1], *val = &c->argv[3];
    struct ks_entry *e = ks_get(ks, key->p, key->len);
    struct ks_view v = {0};
    if (e) ks_view(e, &v);
    if (val->len == 0) { /* nothing to write: report the length, create nothing */
        rep_int(&c->rep, (long long)v.vlen);
        return;
    }
    if (check_size(c, (unsigned long long)off + val->len) != 0) return;
    rep_int(&c->rep, (long long)ks_setrange(ks, key->p, key->len, (size_t)off, val->p, val->len));
}
