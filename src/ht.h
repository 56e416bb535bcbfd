/*
 * ht.h - an intrusive chained hash table with incremental rehashing and a stateless scan.
 *
 * Nodes are owned by the caller: the table only links them through the `next` pointer of the
 * struct ht_node that each entry embeds first. The type callbacks give a node's hash and
 * compare it with a lookup key, so the table never copies or frees keys itself.
 *
 * Sizes are powers of two. The table doubles when it holds as many nodes as buckets and
 * shrinks (ht_shrink_if_sparse) below 1/8 full; either way the move from the old array to
 * the new one is incremental: every lookup, insert and delete moves one bucket
 * (visiting at most HT_REHASH_EMPTY_VISITS empty buckets), and ht_rehash_us() moves more
 * from a timer. ht_scan() is Redis's reverse-binary cursor: every node present for the
 * whole scan is returned at least once, even across resizes; some may be returned twice.
 *
 * Positions (struct ht_pos) returned by ht_find stay valid only until the next call into the
 * table that may rehash (any call except ht_replace/ht_unlink at that position).
 *
 * Threads: none inside; one thread at a time per table, except ht_foreach_part (readers) and
 * ht_link_fresh (a bulk load) on disjoint bucket ranges.
 */
#ifndef PANDA_HT_H
#define PANDA_HT_H

#include <stddef.h>
#include <stdint.h>

#define HT_INITIAL_EXP         2 /* 4 buckets */
#define HT_MAX_EXP             40
#define HT_REHASH_EMPTY_VISITS 10

struct ht_node {
    struct ht_node *next;
};

struct ht_type {
    uint64_t (*hash)(const struct ht_node *n);
    int (*key_eq)(const struct ht_node *n, const void *key, size_t len);
};

struct ht {
    const struct ht_type *type;
    struct ht_node **tab[2];
    uint8_t exp[2]; /* tab[i] has 1 << exp[i] buckets when non-NULL */
    size_t used[2];
    long rehash_idx;  /* next bucket of tab[0] to move, or -1 when not rehashing */
    int defer_resize; /* a snapshot child shares the memory: grow only past HT_DEFER_LOAD, never
                         shrink */
};

/* While defer_resize is set the table grows only when it holds this many nodes per bucket:
 * moving nodes dirties pages that a forked snapshot child still shares (copy-on-write). */
#define HT_DEFER_LOAD 4

struct ht_pos {
    struct ht_node **slot; /* the link that points at the node */
    int table;
};

/* The process-wide seeded hash of a byte string (XXH3). ht_seed() once at start-up. */
void ht_seed(uint64_t seed);
uint64_t ht_hash_bytes(const void *p, size_t len);

void ht_init(struct ht *ht, const struct ht_type *type);
/* Frees the bucket arrays (not the nodes; iterate first to free them). */
void ht_deinit(struct ht *ht);

static inline size_t ht_size(const struct ht *ht)
{
    return ht->used[0] + ht->used[1];
}
static inline size_t ht_buckets(const struct ht *ht)
{
    return (ht->tab[0] ? (size_t)1 << ht->exp[0] : 0) + (ht->tab[1] ? (size_t)1 << ht->exp[1] : 0);
}

/* Finds the node equal to key (hash = ht_hash_bytes of it). Returns 1 and fills pos, or 0. */
int ht_find(struct ht *ht, const void *key, size_t len, uint64_t hash, struct ht_pos *pos);
/* Hints the CPU to load the bucket(s) hash maps to, ahead of a lookup. */
static inline void ht_prefetch(const struct ht *ht, uint64_t hash)
{
    for (int t = 0; t <= 1; t++)
        if (ht->tab[t]) __builtin_prefetch(&ht->tab[t][hash & (((size_t)1 << ht->exp[t]) - 1)]);
}
/* Links node, which must not already be in the table (the caller looked it up). */
void ht_insert(struct ht *ht, struct ht_node *node, uint64_t hash);
/* Bulk loading into a table sized by ht_reserve (no rehash under way), by several threads at
 * once, each linking into its own bucket range: links a node whose next is already NULL,
 * writing to it only when its bucket is taken, and counts nothing; once they are done, one
 * thread adds the n nodes linked with ht_count_fresh. */
void ht_link_fresh(struct ht *ht, struct ht_node *node, uint64_t hash);
void ht_count_fresh(struct ht *ht, size_t n);
/* Writes zeros over buckets [lo, hi) (clamped to the table) of a table ht_reserve just sized,
 * before linking into them: a fresh page that is read first maps the shared zero page, and
 * its copy on write at the first link then makes every CPU that runs the process flush its
 * TLB (an IPI each, and a VM exit in a guest). */
void ht_touch_fresh(struct ht *ht, size_t lo, size_t hi);
/* Unlinks the node at pos and returns it. */
struct ht_node *ht_unlink(struct ht *ht, const struct ht_pos *pos);
/* Puts node in place of the one at pos (same key); returns the old one. */
struct ht_node *ht_replace(struct ht *ht, const struct ht_pos *pos, struct ht_node *node);

/* Sizes an empty table for about n nodes at once, so that a bulk load (WAL replay) does not
 * rehash its way up. Does nothing if the table is not empty. */
void ht_reserve(struct ht *ht, size_t n);
/* Moves buckets for about `us` microseconds; returns 1 if rehashing is still in progress. */
int ht_rehash_us(struct ht *ht, int64_t us);
/* Starts a shrink when the table is under 1/8 full; returns 1 if it started one. */
int ht_shrink_if_sparse(struct ht *ht);

typedef void ht_visit_cb(struct ht_node *node, void *ctx);
/* Visits a few buckets from cursor; returns the next cursor (0 when the scan is complete).
 * The callback must not modify the table. */
unsigned long ht_scan(struct ht *ht, unsigned long cursor, ht_visit_cb *cb, void *ctx);
/* Visits every node; the callback may unlink nothing. */
/* Visits the nodes of bucket range part of nparts (every node in exactly one part); read-only,
 * so parts may run on several threads at once while nothing changes the table. */
void ht_foreach_part(struct ht *ht, unsigned part, unsigned nparts, ht_visit_cb *cb, void *ctx);
void ht_foreach(struct ht *ht, ht_visit_cb *cb, void *ctx);
/* A random node, or NULL if empty. Unlike Redis's, chains are sampled fairly. */
struct ht_node *ht_random(struct ht *ht);

/* Invariant check for tests and debug asserts: counts nodes, checks hashes land in their
 * buckets. Returns 1 when consistent. */
int ht_check(struct ht *ht);

#endif
