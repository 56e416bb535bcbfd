/*
 * ks.h - the keyspace: every key, its string value and its expiry time.
 *
 * This is the storage layer every command goes through. Each key lives in one compact
 * allocation (struct ks_entry: chain link, flags, optional expiry, varint lengths, key bytes,
 * value bytes), linked into an intrusive hash table (ht.h). Keys with a TTL are also in a
 * min-heap ordered by expiry time, so expired keys are reclaimed in the background exactly,
 * oldest first, without sampling.
 *
 * Every change goes through ks_install / ks_del / ks_set_expire / ks_flush, which bump
 * `dirty` and call the on_touch hook with the key - the single place where WATCH learns of
 * writes and where the write-ahead log will record them.
 *
 * Time: `now_ms` is set by the caller before each command, so one command (or one
 * MULTI/EXEC) sees one instant. Lookups treat a key whose expiry is <= now_ms as absent and
 * delete it on the spot.
 *
 * Ownership: the keyspace owns its entries. Pointers to an entry or into its bytes stay
 * valid only until the next mutating call on the keyspace.
 *
 * Threads: one thread (the event loop). ks_flush may hand the old entries to a background
 * thread for freeing through the free_async hook; ks_bulk_finish runs threads of its own.
 */
#ifndef PANDA_KS_H
#define PANDA_KS_H

#include <stddef.h>
#include <stdint.h>

#include "ht.h"

#define KS_NO_TTL   (-1)
#define KS_KEEP_TTL (-2)
/* Longest value any command may build (APPEND, SETRANGE); Redis's proto-max-bulk-len. */
#define KS_VALUE_MAX (512ULL * 1024 * 1024)
/* Most expired keys reclaimed per ks_expire_cycle call by default. */
#define KS_EXPIRE_BATCH_MAX 2000

struct ks_entry;

struct ks_view {
    const char *key;
    size_t klen;
    char *val;
    size_t vlen;
    int64_t expire_ms; /* KS_NO_TTL when none */
};

struct ks_heap_ent {
    int64_t when_ms;
    struct ks_entry *e;
};

typedef void ks_touch_cb(void *ctx, const char *key, size_t klen);
typedef void ks_free_async_cb(void *ctx, struct ht *old_table);

struct ks {
    struct ht table;
    struct ks_heap_ent *heap;
    size_t heap_len, heap_cap;
    int64_t now_ms;
    uint64_t dirty;        /* changes since start */
    uint64_t expired_keys; /* keys removed because their TTL passed */
    ks_touch_cb *on_touch;
    void *touch_ctx;
    ks_free_async_cb *free_async;
    void *free_ctx;
};

void ks_init(struct ks *ks);
void ks_deinit(struct ks *ks);

static inline size_t ks_size(const struct ks *ks)
{
    return ht_size(&ks->table);
}
static inline size_t ks_expires(const struct ks *ks)
{
    return ks->heap_len;
}

/* Looks key up; returns NULL if absent or expired (an expired key is deleted). */
struct ks_entry *ks_get(struct ks *ks, const char *key, size_t klen);
/* Looks key up without expiring it (an expired entry is returned as is): for the WAL, which
 * records the state a command left. NULL if absent. */
struct ks_entry *ks_peek(struct ks *ks, const char *key, size_t klen);
/* Hints the CPU to load key's bucket: a bulk loader calls it a few keys ahead. */
static inline void ks_prefetch(const struct ks *ks, const char *key, size_t klen)
{
    ht_prefetch(&ks->table, ht_hash_bytes(key, klen));
}
/* Fills v with the entry's fields. v->val is writable in place (same length only). */
void ks_view(const struct ks_entry *e, struct ks_view *v);

/* Allocates a detached entry for key with room for vlen value bytes (uninitialised) and
 * the given expiry (KS_NO_TTL or an absolute ms time). Fill it via ks_view, then install. */
struct ks_entry *ks_entry_new(const char *key, size_t klen, size_t vlen, int64_t expire_ms);
/* Installs e (takes ownership), replacing any entry with the same key (whose expiry is
 * dropped: callers that keep a TTL pass it to ks_entry_new). Returns 1 if it replaced a
 * live key, 0 if it created one. */
int ks_install(struct ks *ks, struct ks_entry *e);
/* Sets key to val with the given expiry (KS_NO_TTL, KS_KEEP_TTL or an absolute ms time):
 * one lookup, and no allocation when the old value has the same length and TTL presence.
 * Returns 1 if it replaced a live key. */
int ks_put(struct ks *ks, const char *key, size_t klen, const char *val, size_t vlen,
           int64_t expire_ms);

/* Appends data to key's value (creating the key if absent), keeping its expiry. The value
 * grows in place when the allocator allows, so repeated appends cost amortised O(len).
 * Returns the new length. The caller checks KS_VALUE_MAX first. */
size_t ks_append(struct ks *ks, const char *key, size_t klen, const char *data, size_t len);
/* Writes data at offset into key's value, zero-padding as needed and creating the key if
 * absent, keeping its expiry. Returns the new length. The caller checks KS_VALUE_MAX. */
size_t ks_setrange(struct ks *ks, const char *key, size_t klen, size_t offset, const char *data,
                   size_t len);

/* Deletes key; returns 1 if it existed (and was not expired). */
int ks_del(struct ks *ks, const char *key, size_t klen);
/* Sets (expire_ms >= 0) or removes (KS_NO_TTL) key's expiry. Returns 1 if the key exists.
 * The caller deletes instead when expire_ms <= now_ms, as Redis does. */
int ks_set_expire(struct ks *ks, const char *key, size_t klen, int64_t expire_ms);

/* Removes every key; the old entries are freed here, or by free_async when async is set and
 * a hook is installed. */
void ks_flush(struct ks *ks, int async);
/* Frees every entry linked in table and the table itself (used by the async free job). */
void ks_free_table(struct ht *table);

/* Deletes up to max keys whose expiry is <= now_ms; returns how many. */
size_t ks_expire_cycle(struct ks *ks, size_t max);
/* A random live key's entry, or NULL when empty. */
struct ks_entry *ks_random(struct ks *ks);

typedef void ks_visit_cb(const struct ks_entry *e, void *ctx);
/* One SCAN step (ht_scan semantics); expired entries are skipped, not deleted. */
unsigned long ks_scan(struct ks *ks, unsigned long cursor, ks_visit_cb *cb, void *ctx);
/* Visits every live entry; the callback must not modify the keyspace. */
void ks_foreach(struct ks *ks, ks_visit_cb *cb, void *ctx);
/* One part of nparts of the entries (ht_foreach_part): read-only, for several threads at once
 * while nothing changes the keyspace (a snapshot child). */
void ks_foreach_part(struct ks *ks, unsigned part, unsigned nparts, ks_visit_cb *cb, void *ctx);

/* Bulk loading (start-up from a snapshot), about 4x faster than ks_put per key on a large
 * keyspace: entries are built as rows arrive; ks_bulk_finish sizes the table once and links
 * the entries bucket range by bucket range (KS_BULK_PARTS ranges, each small enough to stay in
 * cache) instead of at random. A key added twice keeps its last value, as with ks_put.
 *
 * Several threads may build one load, each into its own struct ks_bulk (nothing is shared
 * until finish). Rows are ordered by (mark, bulk, row): ks_bulk_mark(b, seq) says that the
 * rows added to b from then on come after every row of any bulk under a lower seq (such as a
 * file's row group number); rows before a bulk's first mark have seq 0, and a seq belongs to
 * one bulk. The keyspace must be empty and have no hooks; the caller owns the bulks until
 * finish or abort. */
#define KS_BULK_PARTS   256
#define KS_BULK_THREADS 2 /* threads of ks_bulk_finish (the caller's included) */

struct ks_bulk_seg {
    size_t first; /* the segment's first row */
    uint64_t seq;
};

struct ks_bulk {
    struct ks_entry **e;
    uint64_t *hash;
    size_t n, cap;
    uint32_t *ttl; /* rows with an expiry, for the heap */
    size_t nttl, ttl_cap;
    struct ks_bulk_seg *seg; /* where each seq starts, in order; none before the first mark */
    size_t nseg, seg_cap;
};

void ks_bulk_add(struct ks_bulk *b, const char *key, size_t klen, const char *val, size_t vlen,
                 int64_t expire_ms);
/* Starts the rows of seq, which must not be below b's last mark. */
void ks_bulk_mark(struct ks_bulk *b, uint64_t seq);
/* Links the rows of b[0..nb) into ks and frees the bulks' arrays; returns the duplicates
 * dropped (the earlier rows of a repeated key). Sorting and linking are split among
 * KS_BULK_THREADS threads (bucket ranges apart), joined before it returns. */
size_t ks_bulk_finish(struct ks *ks, struct ks_bulk *b, size_t nb);
void ks_bulk_abort(struct ks_bulk *b); /* frees the entries too */

/* Background maintenance for a timer: rehash for up to us microseconds, shrink if sparse. */
void ks_maintain(struct ks *ks, int64_t us);

/* Invariant check for tests: table consistent, heap ordered and pointing back. */
int ks_check(struct ks *ks);

#endif
