/* ht.c - chained hash table with incremental rehash (see ht.h). */
#include "ht.h"

#include <stdlib.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "alloc.h"
#include "err.h"
#include "util.h"

static uint64_t hash_seed;

void ht_seed(uint64_t seed)
{
    hash_seed = seed;
}

uint64_t ht_hash_bytes(const void *p, size_t len)
{
    return XXH3_64bits_withSeed(p, len, hash_seed);
}

void ht_init(struct ht *ht, const struct ht_type *type)
{
    ht->type = type;
    ht->tab[0] = ht->tab[1] = NULL;
    ht->exp[0] = ht->exp[1] = 0;
    ht->used[0] = ht->used[1] = 0;
    ht->rehash_idx = -1;
    ht->defer_resize = 0;
}

void ht_deinit(struct ht *ht)
{
    kv_free(ht->tab[0]);
    kv_free(ht->tab[1]);
    ht_init(ht, ht->type);
}

static inline size_t mask_of(const struct ht *ht, int t)
{
    return ((size_t)1 << ht->exp[t]) - 1;
}

static int rehashing(const struct ht *ht)
{
    return ht->rehash_idx != -1;
}

/* Allocates the new array tab[1] of 2^exp buckets and starts moving nodes into it. */
static void start_resize(struct ht *ht, uint8_t exp)
{
    kv_assert(!rehashing(ht));
    kv_assert(exp <= HT_MAX_EXP);
    struct ht_node **tab = kv_calloc((size_t)1 << exp, sizeof(*tab));
    if (!ht->tab[0]) {
        ht->tab[0] = tab;
        ht->exp[0] = exp;
        return;
    }
    ht->tab[1] = tab;
    ht->exp[1] = exp;
    ht->rehash_idx = 0;
}

static uint8_t exp_for(size_t n)
{
    uint8_t e = HT_INITIAL_EXP;
    while (e < HT_MAX_EXP && ((size_t)1 << e) < n)
        e++;
    return e;
}

static void finish_rehash(struct ht *ht)
{
    kv_assert(ht->used[0] == 0);
    kv_free(ht->tab[0]);
    ht->tab[0] = ht->tab[1];
    ht->exp[0] = ht->exp[1];
    ht->used[0] = ht->used[1];
    ht->tab[1] = NULL;
    ht->exp[1] = 0;
    ht->used[1] = 0;
    ht->rehash_idx = -1;
}

/* Moves up to n buckets; returns 1 while rehashing remains. */
static int rehash_steps(struct ht *ht, int n)
{
    if (!rehashing(ht)) return 0;
    int empty_visits = n * HT_REHASH_EMPTY_VISITS;
    size_t size0 = (size_t)1 << ht->exp[0];
    while (n-- && ht->used[0] != 0) {
        kv_assert((size_t)ht->rehash_idx < size0);
        while (ht->tab[0][ht->rehash_idx] == NULL) {
            ht->rehash_idx++;
            if (--empty_visits == 0) return 1;
        }
        struct ht_node *node = ht->tab[0][ht->rehash_idx];
        while (node) {
            struct ht_node *next = node->next;
            size_t b = ht->type->hash(node) & mask_of(ht, 1);
            node->next = ht->tab[1][b];
            ht->tab[1][b] = node;
            ht->used[0]--;
            ht->used[1]++;
            node = next;
        }
        ht->tab[0][ht->rehash_idx++] = NULL;
    }
    if (ht->used[0] == 0) {
        finish_rehash(ht);
        return 0;
    }
    return 1;
}

int ht_rehash_us(struct ht *ht, int64_t us)
{
    int64_t start = util_monotonic_us();
    while (rehash_steps(ht, 100))
        if (util_monotonic_us() - start > us) return 1;
    return 0;
}

static void grow_if_needed(struct ht *ht)
{
    if (rehashing(ht)) return;
    if (!ht->tab[0]) {
        start_resize(ht, HT_INITIAL_EXP);
        return;
    }
    size_t limit = (size_t)1 << ht->exp[0];
    if (ht->defer_resize) limit *= HT_DEFER_LOAD;
    if (ht->used[0] >= limit && ht->exp[0] < HT_MAX_EXP) start_resize(ht, exp_for(ht->used[0] * 2));
}

void ht_reserve(struct ht *ht, size_t n)
{
    if (ht_size(ht) != 0 || ht->tab[0]) return;
    start_resize(ht, exp_for(n));
}

int ht_shrink_if_sparse(struct ht *ht)
{
    if (rehashing(ht) || ht->defer_resize || !ht->tab[0] || ht->exp[0] <= HT_INITIAL_EXP) return 0;
    size_t size = (size_t)1 << ht->exp[0];
    if (ht->used[0] * 8 >= size) return 0;
    uint8_t e = exp_for(ht->used[0] * 2);
    if (e >= ht->exp[0]) return 0;
    start_resize(ht, e);
    return 1;
}

int ht_find(struct ht *ht, const void *key, size_t len, uint64_t hash, struct ht_pos *pos)
{
    if (ht_size(ht) == 0) return 0;
    rehash_steps(ht, 1);
    for (int t = 0; t <= 1; t++) {
        if (!ht->tab[t]) break;
        size_t b = hash & mask_of(ht, t);
        /* During a rehash, buckets of tab[0] below rehash_idx are already empty. */
        struct ht_node **slot = &ht->tab[t][b];
        for (; *slot; slot = &(*slot)->next) {
            if (ht->type->key_eq(*slot, key, len)) {
                pos->slot = slot;
                pos->table = t;
                return 1;
            }
        }
        if (!rehashing(ht)) break;
    }
    return 0;
}

void ht_link_fresh(struct ht *ht, struct ht_node *node, uint64_t hash)
{
    kv_assert(!rehashing(ht) && ht->tab[0]);
    struct ht_node **head = &ht->tab[0][hash & mask_of(ht, 0)];
    if (*head) node->next = *head; /* else it is NULL already: the node's line stays cold */
    *head = node;
}

void ht_touch_fresh(struct ht *ht, size_t lo, size_t hi)
{
    kv_assert(!rehashing(ht) && ht->tab[0]);
    size_t n = (size_t)1 << ht->exp[0];
    if (hi > n) hi = n;
    if (lo < hi) memset(&ht->tab[0][lo], 0, (hi - lo) * sizeof(ht->tab[0][0]));
}

void ht_count_fresh(struct ht *ht, size_t n)
{
    kv_assert(!rehashing(ht) && ht->tab[0]);
    ht->used[0] += n;
    kv_assert(ht->used[0] <= ((size_t)1 << ht->exp[0]) * 4);
}

void ht_insert(struct ht *ht, struct ht_node *node, uint64_t hash)
{
    rehash_steps(ht, 1);
    grow_if_needed(ht);
    int t = rehashing(ht) ? 1 : 0;
    size_t b = hash & mask_of(ht, t);
    node->next = ht->tab[t][b];
    ht->tab[t][b] = node;
    ht->used[t]++;
}

struct ht_node *ht_unlink(struct ht *ht, const struct ht_pos *pos)
{
    struct ht_node *node = *pos->slot;
    kv_assert(node != NULL);
    kv_assert(ht->used[pos->table] > 0);
    *pos->slot = node->next;
    ht->used[pos->table]--;
    node->next = NULL;
    return node;
}

struct ht_node *ht_replace(struct ht *ht, const struct ht_pos *pos, struct ht_node *node)
{
    (void)ht;
    struct ht_node *old = *pos->slot;
    kv_assert(old != NULL);
    node->next = old->next;
    *pos->slot = node;
    old->next = NULL;
    return old;
}

static void visit_chain(struct ht_node *n, ht_visit_cb *cb, void *ctx)
{
    while (n) {
        struct ht_node *next = n->next;
        cb(n, ctx);
        n = next;
    }
}

/* Reverses the bits of v (the scan cursor counts in reverse-binary order). */
static unsigned long rev(unsigned long v)
{
    unsigned long s = 8 * sizeof(v), mask = ~0UL;
    while ((s >>= 1) > 0) {
        mask ^= (mask << s);
        v = ((v >> s) & mask) | ((v << s) & ~mask);
    }
    return v;
}

/* Redis's dictScan: visit the cursor's bucket in the smaller table, then every bucket of the
 * larger table that expands it, and advance the cursor by incrementing its reversed bits.
 * Reverse-binary order makes the cursor valid across growth and shrinking alike. */
unsigned long ht_scan(struct ht *ht, unsigned long v, ht_visit_cb *cb, void *ctx)
{
    if (ht_size(ht) == 0) return 0;
    if (!rehashing(ht)) {
        size_t m0 = mask_of(ht, 0);
        visit_chain(ht->tab[0][v & m0], cb, ctx);
        v |= ~m0;
        v = rev(v);
        v++;
        return rev(v);
    }
    int small = ht->exp[0] <= ht->exp[1] ? 0 : 1, large = 1 - small;
    size_t m0 = mask_of(ht, small), m1 = mask_of(ht, large);
    visit_chain(ht->tab[small][v & m0], cb, ctx);
    do {
        visit_chain(ht->tab[large][v & m1], cb, ctx);
        v |= ~m1;
        v = rev(v);
        v++;
        v = rev(v);
    } while (v & (m0 ^ m1));
    return v;
}

#define HT_FOREACH_AHEAD 32

/* The node k links after n, or NULL. */
static inline struct ht_node *nth(struct ht_node *n, int k)
{
    while (n && k-- > 0)
        n = n->next;
    return n;
}

/* Hints the CPU to load the node after n, and n's second cache line; n has been loaded. */
static inline void prefetch_next(const struct ht_node *n)
{
    if (!n) return;
    __builtin_prefetch((const char *)n + 64);
    if (n->next) __builtin_prefetch(n->next);
}

void ht_foreach_part(struct ht *ht, unsigned part, unsigned nparts, ht_visit_cb *cb, void *ctx)
{
    kv_assert(part < nparts);
    const size_t a = HT_FOREACH_AHEAD;
    for (int t = 0; t <= 1; t++) {
        if (!ht->tab[t]) continue;
        size_t n = (size_t)1 << ht->exp[t], lo = n / nparts * part;
        size_t hi = part + 1 == nparts ? n : n / nparts * (part + 1);
        struct ht_node **tab = ht->tab[t];
        for (size_t b = lo; b < hi; b++) {
            /* Nodes are scattered, or a full scan is a cache miss or two per node (snapshots
             * walk it all). The heads HT_FOREACH_AHEAD buckets on are asked for; each quarter
             * of the way closer, the chain's node asked for a stage earlier has arrived, so the
             * one after it is asked for, so no load waits on memory (but the last stage's
             * walk down chains past three nodes, rare at the table's load). */
            if (b + a < hi && tab[b + a]) __builtin_prefetch(tab[b + a]);
            if (b + a * 3 / 4 < hi) prefetch_next(tab[b + a * 3 / 4]);
            if (b + a / 2 < hi) prefetch_next(nth(tab[b + a / 2], 1));
            if (b + a / 4 < hi)
                for (struct ht_node *c = nth(tab[b + a / 4], 2); c; c = c->next)
                    prefetch_next(c);
            visit_chain(tab[b], cb, ctx);
        }
    }
}

void ht_foreach(struct ht *ht, ht_visit_cb *cb, void *ctx)
{
    ht_foreach_part(ht, 0, 1, cb, ctx);
}

static size_t chain_len(const struct ht_node *n)
{
    size_t len = 0;
    for (; n; n = n->next)
        len++;
    return len;
}

struct ht_node *ht_random(struct ht *ht)
{
    if (ht_size(ht) == 0) return NULL;
    rehash_steps(ht, 1);
    size_t n0 = ht->tab[0] ? (size_t)1 << ht->exp[0] : 0;
    size_t n1 = ht->tab[1] ? (size_t)1 << ht->exp[1] : 0;
    struct ht_node *head = NULL;
    /* Rejection sampling: pick a bucket, then a slot among max(len, 4); an empty slot retries.
     * Nodes in chains of up to 4 (nearly all of them) are then equally likely, unlike picking
     * a node of a random non-empty bucket. The table is kept 1/8 full, so this ends fast. */
    for (int tries = 0; tries < 1000000; tries++) {
        size_t b = ((size_t)random() << 31 ^ (size_t)random()) % (n0 + n1);
        head = b < n0 ? ht->tab[0][b] : ht->tab[1][b - n0];
        size_t len = chain_len(head);
        if (len == 0) continue;
        size_t pick = (size_t)random() % (len > 4 ? len : 4);
        if (pick >= len) continue;
        while (pick--)
            head = head->next;
        return head;
    }
    /* Pathological luck: fall back to the first node found. */
    for (size_t b = 0; b < n0 + n1; b++) {
        head = b < n0 ? ht->tab[0][b] : ht->tab[1][b - n0];
        if (head) return head;
    }
    return NULL;
}

int ht_check(struct ht *ht)
{
    for (int t = 0; t <= 1; t++) {
        size_t count = 0;
        if (!ht->tab[t]) {
            if (ht->used[t] != 0) return 0;
            continue;
        }
        size_t n = (size_t)1 << ht->exp[t];
        for (size_t b = 0; b < n; b++) {
            for (struct ht_node *x = ht->tab[t][b]; x; x = x->next) {
                if ((ht->type->hash(x) & mask_of(ht, t)) != b) return 0;
                if (t == 0 && rehashing(ht) && (long)b < ht->rehash_idx) return 0;
                count++;
            }
        }
        if (count != ht->used[t]) return 0;
    }
    return 1;
}
