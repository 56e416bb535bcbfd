/* Unit tests of the hash table (src/ht.c): lookups, resizes, the SCAN guarantee. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ht.h"
#include "tap.h"

struct item {
    struct ht_node node;
    int id;
    char key[16];
};

static uint64_t item_hash(const struct ht_node *n)
{
    const struct item *it = (const struct item *)n;
    return ht_hash_bytes(it->key, strlen(it->key));
}

static int item_eq(const struct ht_node *n, const void *key, size_t len)
{
    const struct item *it = (const struct item *)n;
    return strlen(it->key) == len && memcmp(it->key, key, len) == 0;
}

static const struct ht_type type = {item_hash, item_eq};

#define N 20000
static struct item items[N];
static int seen[N];

static void add(struct ht *t, int i)
{
    items[i].id = i;
    snprintf(items[i].key, sizeof(items[i].key), "key:%d", i);
    ht_insert(t, &items[i].node, ht_hash_bytes(items[i].key, strlen(items[i].key)));
}

static int find(struct ht *t, int i, struct ht_pos *pos)
{
    char k[16];
    snprintf(k, sizeof(k), "key:%d", i);
    return ht_find(t, k, strlen(k), ht_hash_bytes(k, strlen(k)), pos);
}

static void mark_seen(struct ht_node *n, void *ctx)
{
    (void)ctx;
    seen[((struct item *)n)->id]++;
}

static void test_basic(void)
{
    struct ht t;
    struct ht_pos pos;
    ht_init(&t, &type);
    ok(!find(&t, 1, &pos) && ht_size(&t) == 0, "empty table finds nothing");
    for (int i = 0; i < N; i++)
        add(&t, i);
    ok(ht_size(&t) == N, "size after inserts");
    int all = 1;
    for (int i = 0; i < N; i++)
        all &= find(&t, i, &pos) && *pos.slot == &items[i].node;
    ok(all, "every key found during and after growth");
    ok(ht_check(&t), "invariants hold while rehashing");
    while (ht_rehash_us(&t, 1000)) {
    }
    ok(ht_check(&t) && ht_buckets(&t) >= N, "rehash completes");
    for (int i = 0; i < N; i += 2) {
        find(&t, i, &pos);
        ht_unlink(&t, &pos);
    }
    ok(ht_size(&t) == N / 2 && !find(&t, 0, &pos) && find(&t, 1, &pos), "unlink");
    for (int i = 1; i < N; i += 2) {
        if (i < N - 11) {
            find(&t, i, &pos);
            ht_unlink(&t, &pos);
        }
    }
    ok(ht_shrink_if_sparse(&t), "a sparse table starts shrinking");
    while (ht_rehash_us(&t, 1000)) {
    }
    ok(ht_check(&t) && ht_buckets(&t) < 64 && ht_size(&t) == 6, "shrunk, 6 keys left");
    int got = 0;
    for (int i = 0; i < 1000; i++)
        got += ht_random(&t) != NULL;
    ok(got == 1000, "random finds a node in a small table");
    ht_deinit(&t);
}

/* Redis's guarantee: a key present from the start to the end of a scan is returned, even
 * while the table grows (and shrinks) between calls. */
static void test_scan_guarantee(void)
{
    struct ht t;
    struct ht_pos pos;
    ht_init(&t, &type);
    for (int i = 0; i < 1000; i++)
        add(&t, i);
    memset(seen, 0, sizeof(seen));
    unsigned long cur = 0;
    int next = 1000, steps = 0;
    do {
        cur = ht_scan(&t, cur, mark_seen, NULL);
        for (int j = 0; j < 40 && next < N; j++)
            add(&t, next++); /* growth */
        if (steps % 3 == 0 && next > 1500 && find(&t, next - 400, &pos)) ht_unlink(&t, &pos);
        steps++;
    } while (cur != 0);
    int missing = 0;
    for (int i = 0; i < 1000; i++)
        missing += seen[i] == 0;
    ok(missing == 0, "scan during growth returns all %d original keys (missing %d, %d steps)", 1000,
       missing, steps);

    /* and during shrinking */
    for (int i = 100; i < next; i++)
        if (find(&t, i, &pos)) ht_unlink(&t, &pos);
    while (ht_rehash_us(&t, 1000)) {
    }
    memset(seen, 0, sizeof(seen));
    cur = 0;
    int shrink_started = 0;
    do {
        cur = ht_scan(&t, cur, mark_seen, NULL);
        if (!shrink_started) shrink_started = ht_shrink_if_sparse(&t);
    } while (cur != 0);
    missing = 0;
    for (int i = 0; i < 100; i++)
        missing += seen[i] == 0;
    ok(shrink_started && missing == 0, "scan during shrinking returns every key");
    ht_deinit(&t);
}

int main(void)
{
    ht_seed(12345);
    test_basic();
    test_scan_guarantee();
    return done();
}
