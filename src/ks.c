/* ks.c - the keyspace (see ks.h). */
#include "ks.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"

#define KS_F_TTL        0x01
#define KS_TTL_BYTES    12 /* int64 expiry + uint32 heap index */
#define KS_VARINT_MAX   10
#define KS_RANDOM_TRIES 100

/* Layout of d[]: flags, [expire_ms int64, heap index uint32] if KS_F_TTL, varint key length,
 * varint value length, key bytes, value bytes. Multi-byte fields are unaligned: memcpy. */
struct ks_entry {
    struct ht_node node;
    unsigned char d[];
};

static size_t varint_len(size_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t varint_put(unsigned char *p, size_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

static size_t varint_get(const unsigned char *p, size_t *v)
{
    size_t r = 0, n = 0;
    unsigned shift = 0;
    do {
        r |= (size_t)(p[n] & 0x7f) << shift;
        shift += 7;
    } while (p[n++] & 0x80);
    *v = r;
    return n;
}

static int has_ttl(const struct ks_entry *e)
{
    return e->d[0] & KS_F_TTL;
}

static int64_t entry_expire(const struct ks_entry *e)
{
    if (!has_ttl(e)) return KS_NO_TTL;
    int64_t when;
    memcpy(&when, e->d + 1, sizeof(when));
    return when;
}

static uint32_t entry_heap_idx(const struct ks_entry *e)
{
    uint32_t idx;
    memcpy(&idx, e->d + 9, sizeof(idx));
    return idx;
}

static void entry_set_heap_idx(struct ks_entry *e, uint32_t idx)
{
    memcpy(e->d + 9, &idx, sizeof(idx));
}

void ks_view(const struct ks_entry *e, struct ks_view *v)
{
    const unsigned char *p = e->d + 1 + (has_ttl(e) ? KS_TTL_BYTES : 0);
    p += varint_get(p, &v->klen);
    p += varint_get(p, &v->vlen);
    v->key = (const char *)p;
    v->val = (char *)p + v->klen;
    v->expire_ms = entry_expire(e);
}

static uint64_t node_hash(const struct ht_node *n)
{
    struct ks_view v;
    ks_view((const struct ks_entry *)n, &v);
    return ht_hash_bytes(v.key, v.klen);
}

static int node_key_eq(const struct ht_node *n, const void *key, size_t len)
{
    struct ks_view v;
    ks_view((const struct ks_entry *)n, &v);
    return v.klen == len && memcmp(v.key, key, len) == 0;
}

static const struct ht_type ks_ht_type = {.hash = node_hash, .key_eq = node_key_eq};

void ks_init(struct ks *ks)
{
    memset(ks, 0, sizeof(*ks));
    ht_init(&ks->table, &ks_ht_type);
}

void ks_deinit(struct ks *ks)
{
    ks_free_table(&ks->table);
    kv_free(ks->heap);
    ks->heap = NULL;
    ks->heap_len = ks->heap_cap = 0;
}

struct ks_entry *ks_entry_new(const char *key, size_t klen, size_t vlen, int64_t expire_ms)
{
    kv_assert(expire_ms >= 0 || expire_ms == KS_NO_TTL);
    int ttl = expire_ms >= 0;
    size_t hdr = 1 + (ttl ? KS_TTL_BYTES : 0) + varint_len(klen) + varint_len(vlen);
    struct ks_entry *e = kv_malloc(sizeof(*e) + hdr + klen + vlen);
    e->node.next = NULL;
    unsigned char *p = e->d;
    *p++ = ttl ? KS_F_TTL : 0;
    if (ttl) {
        memcpy(p, &expire_ms, sizeof(expire_ms));
        memset(p + 8, 0, 4);
        p += KS_TTL_BYTES;
    }
    p += varint_put(p, klen);
    p += varint_put(p, vlen);
    memcpy(p, key, klen);
    return e;
}

/* ---- expiry heap: a binary min-heap of (when, entry); each entry knows its index ---- */

static void heap_set(struct ks *ks, size_t i, struct ks_heap_ent h)
{
    ks->heap[i] = h;
    entry_set_heap_idx(h.e, (uint32_t)i);
}

static void heap_sift_up(struct ks *ks, size_t i)
{
    struct ks_heap_ent h = ks->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (ks->heap[parent].when_ms <= h.when_ms) break;
        heap_set(ks, i, ks->heap[parent]);
        i = parent;
    }
    heap_set(ks, i, h);
}

static void heap_sift_down(struct ks *ks, size_t i)
{
    struct ks_heap_ent h = ks->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        int64_t best = h.when_ms;
        if (l < ks->heap_len && ks->heap[l].when_ms < best) {
            m = l;
            best = ks->heap[l].when_ms;
        }
        if (l + 1 < ks->heap_len && ks->heap[l + 1].when_ms < best) m = l + 1;
        if (m == i) break;
        heap_set(ks, i, ks->heap[m]);
        i = m;
    }
    heap_set(ks, i, h);
}

static void heap_add(struct ks *ks, struct ks_entry *e)
{
    kv_assert(ks->heap_len < UINT32_MAX);
    if (ks->heap_len == ks->heap_cap) {
        ks->heap_cap = ks->heap_cap ? ks->heap_cap * 2 : 64;
        ks->heap = kv_realloc(ks->heap, ks->heap_cap * sizeof(*ks->heap));
    }
    size_t i = ks->heap_len++;
    heap_set(ks, i, (struct ks_heap_ent){entry_expire(e), e});
    heap_sift_up(ks, i);
}

static void heap_remove(struct ks *ks, struct ks_entry *e)
{
    size_t i = entry_heap_idx(e);
    kv_assert(i < ks->heap_len && ks->heap[i].e == e);
    struct ks_heap_ent last = ks->heap[--ks->heap_len];
    if (i == ks->heap_len) return;
    heap_set(ks, i, last);
    heap_sift_up(ks, i);
    heap_sift_down(ks, entry_heap_idx(last.e));
}

/* Changes the expiry of an entry that has one, keeping the heap ordered. */
static void retime(struct ks *ks, struct ks_entry *e, int64_t expire_ms)
{
    kv_assert(has_ttl(e) && expire_ms >= 0);
    int64_t old = entry_expire(e);
    if (old == expire_ms) return;
    memcpy(e->d + 1, &expire_ms, sizeof(expire_ms));
    size_t i = entry_heap_idx(e);
    ks->heap[i].when_ms = expire_ms;
    if (expire_ms < old)
        heap_sift_up(ks, i);
    else
        heap_sift_down(ks, i);
}

/* ---- lookups and changes ---- */

static void touched(struct ks *ks, const char *key, size_t klen)
{
    ks->dirty++;
    if (ks->on_touch) ks->on_touch(ks->touch_ctx, key, klen);
}

/* Unlinks and frees the entry at pos (key bytes are gone afterwards). */
static void remove_at(struct ks *ks, const struct ht_pos *pos)
{
    struct ks_entry *e = (struct ks_entry *)ht_unlink(&ks->table, pos);
    if (has_ttl(e)) heap_remove(ks, e);
    kv_free(e);
}

static int expired(const struct ks *ks, const struct ks_entry *e)
{
    return has_ttl(e) && entry_expire(e) <= ks->now_ms;
}

/* Deletes the expired entry at pos, telling the hooks. */
static void expire_at(struct ks *ks, const struct ht_pos *pos)
{
    struct ks_view v;
    ks_view((struct ks_entry *)*pos->slot, &v);
    touched(ks, v.key, v.klen); /* before the free: the hook may read the key */
    remove_at(ks, pos);
    ks->expired_keys++;
}

/* Finds key's entry; an expired one is deleted on the spot and reported as absent. */
static int find_live(struct ks *ks, const char *key, size_t klen, uint64_t hash, struct ht_pos *pos)
{
    if (!ht_find(&ks->table, key, klen, hash, pos)) return 0;
    if (kv_likely(!expired(ks, (struct ks_entry *)*pos->slot))) return 1;
    expire_at(ks, pos);
    return 0;
}

struct ks_entry *ks_get(struct ks *ks, const char *key, size_t klen)
{
    struct ht_pos pos;
    if (!find_live(ks, key, klen, ht_hash_bytes(key, klen), &pos)) return NULL;
    return (struct ks_entry *)*pos.slot;
}

struct ks_entry *ks_peek(struct ks *ks, const char *key, size_t klen)
{
    struct ht_pos pos;
    if (!ht_find(&ks->table, key, klen, ht_hash_bytes(key, klen), &pos)) return NULL;
    return (struct ks_entry *)*pos.slot;
}

int ks_install(struct ks *ks, struct ks_entry *e)
{
    struct ks_view v;
    ks_view(e, &v);
    uint64_t hash = ht_hash_bytes(v.key, v.klen);
    struct ht_pos pos;
    int replaced = 0;
    if (ht_find(&ks->table, v.key, v.klen, hash, &pos)) {
        struct ks_entry *old = (struct ks_entry *)ht_replace(&ks->table, &pos, &e->node);
        replaced = !expired(ks, old);
        if (has_ttl(old)) heap_remove(ks, old);
        kv_free(old);
    } else {
        ht_insert(&ks->table, &e->node, hash);
    }
    if (has_ttl(e)) heap_add(ks, e);
    touched(ks, v.key, v.klen);
    return replaced;
}

/* Overwrites the value of the live entry at pos in place when the layout allows (same
 * value length, same TTL presence); returns 1 if it did. */
static int overwrite_in_place(struct ks *ks, const struct ht_pos *pos, const char *val, size_t vlen,
                              int64_t expire_ms)
{
    struct ks_entry *e = (struct ks_entry *)*pos->slot;
    struct ks_view v;
    ks_view(e, &v);
    if (v.vlen != vlen || has_ttl(e) != (expire_ms >= 0)) return 0;
    if (vlen) memcpy(v.val, val, vlen);
    if (expire_ms >= 0) retime(ks, e, expire_ms);
    return 1;
}

int ks_put(struct ks *ks, const char *key, size_t klen, const char *val, size_t vlen,
           int64_t expire_ms)
{
    uint64_t hash = ht_hash_bytes(key, klen);
    struct ht_pos pos;
    int found = find_live(ks, key, klen, hash, &pos);
    if (expire_ms == KS_KEEP_TTL)
        expire_ms = found ? entry_expire((struct ks_entry *)*pos.slot) : KS_NO_TTL;
    if (found && overwrite_in_place(ks, &pos, val, vlen, expire_ms)) {
        touched(ks, key, klen);
        return 1;
    }
    struct ks_entry *e = ks_entry_new(key, klen, vlen, expire_ms);
    struct ks_view v;
    ks_view(e, &v);
    if (vlen) memcpy(v.val, val, vlen);
    if (found) {
        struct ks_entry *old = (struct ks_entry *)ht_replace(&ks->table, &pos, &e->node);
        if (has_ttl(old)) heap_remove(ks, old);
        kv_free(old);
    } else {
        ht_insert(&ks->table, &e->node, hash);
    }
    if (has_ttl(e)) heap_add(ks, e);
    touched(ks, key, klen);
    return found;
}

int ks_del(struct ks *ks, const char *key, size_t klen)
{
    struct ht_pos pos;
    if (!find_live(ks, key, klen, ht_hash_bytes(key, klen), &pos)) return 0;
    touched(ks, key, klen);
    remove_at(ks, &pos);
    return 1;
}

/* Rebuilds the entry at pos with a different expiry layout; returns the new entry. */
static struct ks_entry *relayout(struct ks *ks, const struct ht_pos *pos, int64_t expire_ms)
{
    struct ks_entry *old = (struct ks_entry *)*pos->slot;
    struct ks_view v, nv;
    ks_view(old, &v);
    struct ks_entry *e = ks_entry_new(v.key, v.klen, v.vlen, expire_ms);
    ks_view(e, &nv);
    memcpy(nv.val, v.val, v.vlen);
    ht_replace(&ks->table, pos, &e->node);
    if (has_ttl(old)) heap_remove(ks, old);
    kv_free(old);
    if (has_ttl(e)) heap_add(ks, e);
    return e;
}

int ks_set_expire(struct ks *ks, const char *key, size_t klen, int64_t expire_ms)
{
    kv_assert(expire_ms >= 0 || expire_ms == KS_NO_TTL);
    struct ht_pos pos;
    if (!find_live(ks, key, klen, ht_hash_bytes(key, klen), &pos)) return 0;
    struct ks_entry *e = (struct ks_entry *)*pos.slot;
    if (has_ttl(e) && expire_ms >= 0)
        retime(ks, e, expire_ms);
    else if (has_ttl(e) != (expire_ms >= 0))
        relayout(ks, &pos, expire_ms);
    touched(ks, key, klen);
    return 1;
}

static void free_entry_cb(struct ht_node *n, void *ctx)
{
    (void)ctx;
    kv_free(n);
}

void ks_free_table(struct ht *table)
{
    ht_foreach(table, free_entry_cb, NULL);
    ht_deinit(table);
}

void ks_flush(struct ks *ks, int async)
{
    if (async && ks->free_async && ht_size(&ks->table) > 0) {
        struct ht *old = kv_malloc(sizeof(*old));
        *old = ks->table;
        ks->free_async(ks->free_ctx, old);
    } else {
        ks_free_table(&ks->table);
    }
    int defer = ks->table.defer_resize; /* a snapshot child may still be running */
    ht_init(&ks->table, &ks_ht_type);
    ks->table.defer_resize = defer;
    ks->heap_len = 0;
    touched(ks, NULL, 0);
}

size_t ks_expire_cycle(struct ks *ks, size_t max)
{
    size_t n = 0;
    while (n < max && ks->heap_len > 0 && ks->heap[0].when_ms <= ks->now_ms) {
        struct ks_view v;
        ks_view(ks->heap[0].e, &v);
        struct ht_pos pos;
        int found = ht_find(&ks->table, v.key, v.klen, ht_hash_bytes(v.key, v.klen), &pos);
        kv_assert(found && *pos.slot == &ks->heap[0].e->node);
        expire_at(ks, &pos);
        n++;
    }
    return n;
}

struct ks_entry *ks_random(struct ks *ks)
{
    for (int i = 0; i < KS_RANDOM_TRIES; i++) {
        struct ks_entry *e = (struct ks_entry *)ht_random(&ks->table);
        if (!e || !expired(ks, e)) return e;
        struct ks_view v;
        ks_view(e, &v);
        struct ht_pos pos;
        if (ht_find(&ks->table, v.key, v.klen, ht_hash_bytes(v.key, v.klen), &pos))
            expire_at(ks, &pos);
    }
    return NULL;
}

struct visit_ctx {
    struct ks *ks;
    ks_visit_cb *cb;
    void *ctx;
};

static void visit_live(struct ht_node *n, void *ctx)
{
    struct visit_ctx *vc = ctx;
    const struct ks_entry *e = (const struct ks_entry *)n;
    if (!expired(vc->ks, e)) vc->cb(e, vc->ctx);
}

unsigned long ks_scan(struct ks *ks, unsigned long cursor, ks_visit_cb *cb, void *ctx)
{
    struct visit_ctx vc = {ks, cb, ctx};
    return ht_scan(&ks->table, cursor, visit_live, &vc);
}

void ks_foreach(struct ks *ks, ks_visit_cb *cb, void *ctx)
{
    ks_foreach_part(ks, 0, 1, cb, ctx);
}

void ks_foreach_part(struct ks *ks, unsigned part, unsigned nparts, ks_visit_cb *cb, void *ctx)
{
    struct visit_ctx vc = {ks, cb, ctx};
    ht_foreach_part(&ks->table, part, nparts, visit_live, &vc);
}

void ks_maintain(struct ks *ks, int64_t us)
{
    if (!ht_rehash_us(&ks->table, us)) ht_shrink_if_sparse(&ks->table);
    if (ks->heap_cap > 1024 && ks->heap_len < ks->heap_cap / 4) {
        ks->heap_cap /= 2;
        ks->heap = kv_realloc(ks->heap, ks->heap_cap * sizeof(*ks->heap));
    }
}

int ks_check(struct ks *ks)
{
    if (!ht_check(&ks->table)) return 0;
    for (size_t i = 0; i < ks->heap_len; i++) {
        struct ks_entry *e = ks->heap[i].e;
        if (!has_ttl(e) || entry_heap_idx(e) != i || entry_expire(e) != ks->heap[i].when_ms)
            return 0;
        if (i > 0 && ks->heap[(i - 1) / 2].when_ms > ks->heap[i].when_ms) return 0;
    }
    return 1;
}

/* Gives the live entry for key a value of newlen bytes (old bytes kept up to newlen, new ones
 * zeroed), creating it if absent. Returns the entry, whose address may have changed. */
static struct ks_entry *resize_value(struct ks *ks, const char *key, size_t klen, size_t newlen)
{
    uint64_t hash = ht_hash_bytes(key, klen);
    struct ht_pos pos;
    int found = find_live(ks, key, klen, hash, &pos);
    if (!found) {
        struct ks_entry *e = ks_entry_new(key, klen, newlen, KS_NO_TTL);
        struct ks_view v;
        ks_view(e, &v);
        memset(v.val, 0, newlen);
        ht_insert(&ks->table, &e->node, hash);
        return e;
    }
    struct ks_entry *old = (struct ks_entry *)*pos.slot;
    struct ks_view ov;
    ks_view(old, &ov);
    if (varint_len(newlen) == varint_len(ov.vlen)) {
        /* Same header size: grow or shrink in place, which jemalloc often does without a copy */
        size_t prefix = (size_t)((const unsigned char *)ov.key - old->d);
        struct ks_entry *e = kv_realloc(old, sizeof(*e) + prefix + klen + newlen);
        *pos.slot = &e->node;
        if (has_ttl(e)) ks->heap[entry_heap_idx(e)].e = e;
        unsigned char *p = e->d + 1 + (has_ttl(e) ? KS_TTL_BYTES : 0);
        p += varint_len(klen);
        varint_put(p, newlen);
        if (newlen > ov.vlen) memset(e->d + prefix + klen + ov.vlen, 0, newlen - ov.vlen);
        return e;
    }
    /* The header changes size (a length crossing 2^7, 2^14, ...): rebuild the entry. */
    struct ks_entry *n = ks_entry_new(key, klen, newlen, ov.expire_ms);
    struct ks_view nv;
    ks_view(n, &nv);
    size_t keep = ov.vlen < newlen ? ov.vlen : newlen;
    memcpy(nv.val, ov.val, keep);
    memset(nv.val + keep, 0, newlen - keep);
    ht_replace(&ks->table, &pos, &n->node);
    if (has_ttl(old)) heap_remove(ks, old);
    kv_free(old);
    if (has_ttl(n)) heap_add(ks, n);
    return n;
}

size_t ks_append(struct ks *ks, const char *key, size_t klen, const char *data, size_t len)
{
    struct ks_entry *e = ks_get(ks, key, klen);
    struct ks_view v;
    size_t old_len = 0;
    if (e) {
        ks_view(e, &v);
        old_len = v.vlen;
    }
    e = resize_value(ks, key, klen, old_len + len);
    ks_view(e, &v);
    memcpy(v.val + old_len, data, len);
    touched(ks, key, klen);
    return v.vlen;
}

size_t ks_setrange(struct ks *ks, const char *key, size_t klen, size_t offset, const char *data,
                   size_t len)
{
    struct ks_entry *e = ks_get(ks, key, klen);
    struct ks_view v;
    size_t cur = 0;
    if (e) {
        ks_view(e, &v);
        cur = v.vlen;
    }
    size_t need = offset + len > cur ? offset + len : cur;
    e = resize_value(ks, key, klen, need);
    ks_view(e, &v);
    memcpy(v.val + offset, data, len);
    touched(ks, key, klen);
    return v.vlen;
}

/* ---- bulk loading ---- */

void ks_bulk_add(struct ks_bulk *b, const char *key, size_t klen, const char *val, size_t vlen,
                 int64_t expire_ms)
{
    kv_assert(b->n < UINT32_MAX);
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 1024;
        b->e = kv_realloc(b->e, b->cap * sizeof(*b->e));
        b->hash = kv_realloc(b->hash, b->cap * sizeof(*b->hash));
    }
    struct ks_entry *e = ks_entry_new(key, klen, vlen, expire_ms);
    struct ks_view v;
    ks_view(e, &v);
    if (vlen) memcpy(v.val, val, vlen);
    if (expire_ms >= 0) {
        if (b->nttl == b->ttl_cap) {
            b->ttl_cap = b->ttl_cap ? b->ttl_cap * 2 : 256;
            b->ttl = kv_realloc(b->ttl, b->ttl_cap * sizeof(*b->ttl));
        }
        b->ttl[b->nttl++] = (uint32_t)b->n;
    }
    b->e[b->n] = e;
    b->hash[b->n++] = ht_hash_bytes(key, klen);
}

void ks_bulk_mark(struct ks_bulk *b, uint64_t seq)
{
    kv_assert(b->nseg == 0 || seq >= b->seg[b->nseg - 1].seq);
    if (b->nseg > 0 && b->seg[b->nseg - 1].first == b->n) { /* no rows since the last mark */
        b->seg[b->nseg - 1].seq = seq;
        return;
    }
    if (b->nseg == b->seg_cap) {
        b->seg_cap = b->seg_cap ? b->seg_cap * 2 : 16;
        b->seg = kv_realloc(b->seg, b->seg_cap * sizeof(*b->seg));
    }
    b->seg[b->nseg++] = (struct ks_bulk_seg){b->n, seq};
}

/* The seq of row i of b: that of the last segment starting at or before it. */
static uint64_t row_seq(const struct ks_bulk *b, size_t i)
{
    size_t lo = 0, hi = b->nseg; /* segments [0, lo) start at or before i */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b->seg[mid].first <= i)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? b->seg[lo - 1].seq : 0;
}

static int same_key(const struct ks_entry *a, const struct ks_entry *b)
{
    struct ks_view va, vb;
    ks_view(a, &va);
    ks_view(b, &vb);
    return va.klen == vb.klen && memcmp(va.key, vb.key, va.klen) == 0;
}

/* A row, copied next to the other rows of its bucket range so the passes below read memory in
 * order; bulk and i locate it (to order repeated keys and drop the earlier entries). */
struct bulk_row {
    struct ks_entry *e;
    uint64_t hash;
    uint32_t bulk, i;
};

/* Whether row q comes after row r in the load's order (mark, bulk, row). */
static int later(const struct ks_bulk *b, const struct bulk_row *q, const struct bulk_row *r)
{
    uint64_t sq = row_seq(&b[q->bulk], q->i), sr = row_seq(&b[r->bulk], r->i);
    if (sq != sr) return sq > sr;
    return q->bulk != r->bulk ? q->bulk > r->bulk : q->i > r->i;
}

static void drop_row(struct ks_bulk *b, struct bulk_row *r)
{
    kv_free(r->e);
    r->e = b[r->bulk].e[r->i] = NULL;
}

/* Drops the earlier copies of keys added more than once within rows[0..n) (one bucket range),
 * using set (cap slots, a power of two) as scratch. */
static size_t drop_duplicates(struct ks_bulk *b, struct bulk_row *rows, size_t n, uint32_t *set,
                              size_t cap)
{
    size_t dropped = 0;
    memset(set, 0, cap * sizeof(*set));
    for (size_t r = 0; r < n; r++) {
        size_t s = (size_t)(rows[r].hash >> 32) & (cap - 1);
        for (; set[s]; s = (s + 1) & (cap - 1)) {
            struct bulk_row *q = &rows[set[s] - 1];
            if (q->hash == rows[r].hash && same_key(q->e, rows[r].e)) break;
        }
        if (set[s]) {
            struct bulk_row *q = &rows[set[s] - 1];
            dropped++;
            if (later(b, q, &rows[r])) {
                drop_row(b, &rows[r]);
                continue;
            }
            drop_row(b, q);
        }
        set[s] = (uint32_t)r + 1;
    }
    return dropped;
}

static void bulk_free(struct ks_bulk *b)
{
    kv_free(b->e);
    kv_free(b->hash);
    kv_free(b->ttl);
    kv_free(b->seg);
    memset(b, 0, sizeof(*b));
}

/* One finishing thread's share: global rows [lo, hi) (the bulks one after the other) to sort,
 * then bucket ranges [part_lo, part_hi) to link. */
struct finish_job {
    struct ks_bulk *b;
    size_t nb;
    struct ht *ht;
    size_t mask;
    int shift;
    size_t lo, hi;
    size_t fill[KS_BULK_PARTS]; /* rows of each range: counted, then where the next one goes */
    struct bulk_row *rows;
    const size_t *start; /* where each range begins in rows (KS_BULK_PARTS + 1) */
    int part_lo, part_hi;
    size_t cap; /* scratch set slots */
    size_t linked, dropped;
};

static size_t range_of(const struct finish_job *j, uint64_t hash)
{
    return (hash & j->mask) >> j->shift;
}

/* The job's rows of the bulk that starts at global row base and holds n: [*i0, *i1). */
static void job_span(const struct finish_job *j, size_t base, size_t n, size_t *i0, size_t *i1)
{
    *i0 = j->lo > base ? j->lo - base : 0;
    *i1 = j->hi <= base ? 0 : j->hi - base < n ? j->hi - base : n; /* i0 > i1: none */
}

static void *job_count(void *arg)
{
    struct finish_job *j = arg;
    size_t i0, i1;
    memset(j->fill, 0, sizeof(j->fill));
    for (size_t k = 0, base = 0; k < j->nb; base += j->b[k].n, k++) {
        job_span(j, base, j->b[k].n, &i0, &i1);
        for (size_t i = i0; i < i1; i++)
            j->fill[range_of(j, j->b[k].hash[i])]++;
    }
    return NULL;
}

static void *job_scatter(void *arg)
{
    struct finish_job *j = arg;
    size_t i0, i1;
    for (size_t k = 0, base = 0; k < j->nb; base += j->b[k].n, k++) {
        job_span(j, base, j->b[k].n, &i0, &i1);
        for (size_t i = i0; i < i1; i++) {
            uint64_t h = j->b[k].hash[i];
            j->rows[j->fill[range_of(j, h)]++] =
                (struct bulk_row){j->b[k].e[i], h, (uint32_t)k, (uint32_t)i};
        }
    }
    return NULL;
}

static void *job_link(void *arg)
{
    struct finish_job *j = arg;
    uint32_t *set = kv_malloc(j->cap * sizeof(*set));
    for (int p = j->part_lo; p < j->part_hi; p++) {
        size_t lo = j->start[p], n = j->start[p + 1] - lo;
        ht_touch_fresh(j->ht, (size_t)p << j->shift, (size_t)(p + 1) << j->shift);
        j->dropped += drop_duplicates(j->b, j->rows + lo, n, set, j->cap);
        for (size_t r = lo; r < lo + n; r++)
            if (j->rows[r].e) ht_link_fresh(j->ht, &j->rows[r].e->node, j->rows[r].hash);
        j->linked += n;
    }
    j->linked -= j->dropped;
    kv_free(set);
    return NULL;
}

/* Runs fn on every job, the first on the calling thread; a job whose thread cannot start
 * runs there too. */
static void run_jobs(void *(*fn)(void *), struct finish_job *jobs)
{
    pthread_t t[KS_BULK_THREADS];
    int started[KS_BULK_THREADS] = {0};
    for (int k = 1; k < KS_BULK_THREADS; k++)
        started[k] = pthread_create(&t[k], NULL, fn, &jobs[k]) == 0;
    fn(&jobs[0]);
    for (int k = 1; k < KS_BULK_THREADS; k++) {
        if (started[k])
            pthread_join(t[k], NULL);
        else
            fn(&jobs[k]);
    }
}

/* Counting sort of every bulk's rows by bucket range (two passes, each split among the
 * jobs); start[p] is where range p begins in the result. Rows of a range come in no
 * particular order: drop_duplicates orders repeated keys itself. */
static struct bulk_row *sort_by_range(struct finish_job *jobs, size_t total,
                                      size_t start[KS_BULK_PARTS + 1])
{
    run_jobs(job_count, jobs);
    start[0] = 0;
    for (int p = 0; p < KS_BULK_PARTS; p++) {
        size_t at = start[p];
        for (int k = 0; k < KS_BULK_THREADS; k++) { /* job k's rows of range p come here */
            size_t n = jobs[k].fill[p];
            jobs[k].fill[p] = at;
            at += n;
        }
        start[p + 1] = at;
    }
    kv_assert(start[KS_BULK_PARTS] == total);
    struct bulk_row *rows = kv_malloc(total * sizeof(*rows));
    for (int k = 0; k < KS_BULK_THREADS; k++)
        jobs[k].rows = rows;
    run_jobs(job_scatter, jobs);
    return rows;
}

size_t ks_bulk_finish(struct ks *ks, struct ks_bulk *b, size_t nb)
{
    size_t total = 0;
    for (size_t k = 0; k < nb; k++)
        total += b[k].n;
    kv_assert(ks_size(ks) == 0 && ks->on_touch == NULL && total < UINT32_MAX && nb < UINT32_MAX);
    ht_reserve(&ks->table, total);
    struct finish_job jobs[KS_BULK_THREADS];
    size_t start[KS_BULK_PARTS + 1], biggest = 0, cap = 16, dropped = 0, linked = 0;
    for (int k = 0; k < KS_BULK_THREADS; k++)
        jobs[k] = (struct finish_job){
            .b = b,
            .nb = nb,
            .ht = &ks->table,
            .mask = ((size_t)1 << ks->table.exp[0]) - 1,
            .shift = ks->table.exp[0] > 8 ? ks->table.exp[0] - 8 : 0,
            .lo = total / KS_BULK_THREADS * (size_t)k,
            .hi = k + 1 == KS_BULK_THREADS ? total : total / KS_BULK_THREADS * (size_t)(k + 1),
            .start = start,
            .part_lo = KS_BULK_PARTS / KS_BULK_THREADS * k,
            .part_hi = KS_BULK_PARTS / KS_BULK_THREADS * (k + 1),
        };
    struct bulk_row *rows = sort_by_range(jobs, total, start);
    for (int p = 0; p < KS_BULK_PARTS; p++)
        if (start[p + 1] - start[p] > biggest) biggest = start[p + 1] - start[p];
    while (cap < biggest * 2)
        cap *= 2;
    for (int k = 0; k < KS_BULK_THREADS; k++)
        jobs[k].cap = cap;
    run_jobs(job_link, jobs);
    for (int k = 0; k < KS_BULK_THREADS; k++) {
        dropped += jobs[k].dropped;
        linked += jobs[k].linked;
    }
    ht_count_fresh(&ks->table, linked);
    for (size_t k = 0; k < nb; k++) {
        for (size_t i = 0; i < b[k].nttl; i++) /* entry lines are touched only for TTL keys */
            if (b[k].e[b[k].ttl[i]]) heap_add(ks, b[k].e[b[k].ttl[i]]);
        bulk_free(&b[k]);
    }
    ks->dirty += linked;
    kv_free(rows);
    return dropped;
}

void ks_bulk_abort(struct ks_bulk *b)
{
    for (size_t i = 0; i < b->n; i++)
        kv_free(b->e[i]);
    bulk_free(b);
}
