/* Unit tests of the keyspace (src/ks.c): values, expiry heap, in-place changes. */
#include <stdio.h>
#include <string.h>

#include "ks.h"
#include "tap.h"

static int val_is(struct ks *ks, const char *k, const char *want, size_t wlen)
{
    struct ks_entry *e = ks_get(ks, k, strlen(k));
    if (!e) return want == NULL;
    struct ks_view v;
    ks_view(e, &v);
    return want && v.vlen == wlen && memcmp(v.val, want, wlen) == 0;
}

static int touches;
static void on_touch(void *ctx, const char *k, size_t n)
{
    (void)ctx;
    (void)k;
    (void)n;
    touches++;
}

/* Bulk loading: many keys, some twice (the last row wins), TTLs in the heap, an empty load. */
static void test_bulk(void)
{
    struct ks ks;
    ks_init(&ks);
    ks.now_ms = 1000;
    struct ks_bulk b = {0};
    char key[32], val[32];
    for (int i = 0; i < 20000; i++) {
        int k = i < 15000 ? i : i - 15000; /* keys 0..4999 come twice */
        int klen = snprintf(key, sizeof(key), "key:%d", k);
        int vlen = snprintf(val, sizeof(val), "v%d", i);
        ks_bulk_add(&b, key, (size_t)klen, val, (size_t)vlen, k % 10 == 0 ? 5000 + k : KS_NO_TTL);
    }
    size_t dups = ks_bulk_finish(&ks, &b, 1);
    ok(dups == 5000 && ks_size(&ks) == 15000 && ks_check(&ks), "bulk: %zu duplicates, %zu keys",
       dups, ks_size(&ks));
    ok(val_is(&ks, "key:0", "v15000", 6) && val_is(&ks, "key:4999", "v19999", 6) &&
           val_is(&ks, "key:5000", "v5000", 5),
       "bulk: the last row of a repeated key wins");
    ok(ks_expires(&ks) == 1500, "bulk: TTL keys are in the expiry heap (%zu)", ks_expires(&ks));
    ks.now_ms = 5100;
    ok(ks_expire_cycle(&ks, 10000) == 11 && ks_check(&ks), "bulk: they expire in order");
    ks_deinit(&ks);

    ks_init(&ks);
    struct ks_bulk empty = {0};
    ok(ks_bulk_finish(&ks, &empty, 1) == 0 && ks_size(&ks) == 0 && ks_check(&ks), "bulk: empty");
    ks_put(&ks, "after", 5, "x", 1, KS_NO_TTL);
    ok(val_is(&ks, "after", "x", 1), "bulk: the table works afterwards");
    ks_deinit(&ks);

    struct ks_bulk dropped = {0};
    ks_bulk_add(&dropped, "k", 1, "v", 1, 1234);
    ks_bulk_abort(&dropped);
    ok(dropped.n == 0 && dropped.e == NULL, "bulk: abort frees the entries");
}

/* Several bulks (one per loading thread): a repeated key keeps the row that comes last by
 * (mark, bulk, row), whichever bulk holds it. */
static void test_bulk_parts(void)
{
    struct ks ks;
    ks_init(&ks);
    struct ks_bulk b[2] = {{0}, {0}};
    /* seq 0: a=1 (bulk 0); seq 1: a=2 b=2 (bulk 1); seq 2: b=3 c=3 (bulk 0); seq 3: c=4 a=4
     * (bulk 1), then a=5 in bulk 1 under the same seq; d=0 in bulk 1 before its first mark. */
    ks_bulk_add(&b[1], "d", 1, "0", 1, KS_NO_TTL);
    ks_bulk_mark(&b[0], 0);
    ks_bulk_add(&b[0], "a", 1, "1", 1, KS_NO_TTL);
    ks_bulk_mark(&b[1], 1);
    ks_bulk_add(&b[1], "a", 1, "2", 1, 9000);
    ks_bulk_add(&b[1], "b", 1, "2", 1, KS_NO_TTL);
    ks_bulk_mark(&b[0], 2);
    ks_bulk_mark(&b[0], 2); /* a mark with no rows after it is replaced, not kept */
    ks_bulk_add(&b[0], "b", 1, "3", 1, 9000);
    ks_bulk_add(&b[0], "c", 1, "3", 1, KS_NO_TTL);
    ks_bulk_mark(&b[1], 3);
    ks_bulk_add(&b[1], "c", 1, "4", 1, KS_NO_TTL);
    ks_bulk_add(&b[1], "a", 1, "4", 1, KS_NO_TTL);
    ks_bulk_add(&b[1], "a", 1, "5", 1, KS_NO_TTL);
    size_t dups = ks_bulk_finish(&ks, b, 2);
    ok(dups == 5 && ks_size(&ks) == 4 && ks_check(&ks), "bulk parts: %zu duplicates, %zu keys",
       dups, ks_size(&ks));
    ok(val_is(&ks, "a", "5", 1) && val_is(&ks, "b", "3", 1) && val_is(&ks, "c", "4", 1) &&
           val_is(&ks, "d", "0", 1),
       "bulk parts: the last row by (mark, bulk, row) wins");
    ok(ks_expires(&ks) == 1, "bulk parts: only the kept TTL row is in the heap (%zu)",
       ks_expires(&ks));
    ok(b[0].e == NULL && b[1].e == NULL && b[1].seg == NULL, "bulk parts: arrays freed");
    ks_deinit(&ks);
}

int main(void)
{
    struct ks ks;
    ht_seed(7);
    ks_init(&ks);
    ks.on_touch = on_touch;
    ks.now_ms = 1000;
    ok(ks_put(&ks, "a", 1, "1", 1, KS_NO_TTL) == 0 && val_is(&ks, "a", "1", 1), "put and get");
    ok(ks_put(&ks, "a", 1, "2", 1, KS_NO_TTL) == 1 && val_is(&ks, "a", "2", 1), "overwrite");
    ok(ks_put(&ks, "a", 1, "longer", 6, KS_NO_TTL) == 1 && val_is(&ks, "a", "longer", 6),
       "overwrite with another length");
    ok(ks_put(&ks, "bin\0k", 5, "\0\r\n", 3, KS_NO_TTL) == 0, "binary key");
    ok(ks_get(&ks, "bin\0k", 5) && !ks_get(&ks, "bin", 3), "binary key lookup");
    ok(touches == 4, "every change calls the hook");

    ks_put(&ks, "t1", 2, "x", 1, 1500);
    ks_put(&ks, "t2", 2, "x", 1, 1200);
    ks_put(&ks, "t3", 2, "x", 1, 1800);
    ok(ks_expires(&ks) == 3 && ks_check(&ks), "three keys with TTLs, heap consistent");
    ks_put(&ks, "t3", 2, "y", 1, KS_KEEP_TTL);
    struct ks_view v;
    ks_view(ks_get(&ks, "t3", 2), &v);
    ok(v.expire_ms == 1800 && val_is(&ks, "t3", "y", 1), "KEEP_TTL keeps the expiry");
    ok(ks_set_expire(&ks, "t1", 2, 1100) && ks_check(&ks), "expiry moved earlier");
    ks.now_ms = 1300;
    ok(ks_expire_cycle(&ks, 100) == 2 && ks_size(&ks) == 3 && ks_check(&ks),
       "active expiry removes exactly the two due keys");
    ok(ks.expired_keys == 2, "expired keys counted");
    ks.now_ms = 1900;
    ok(ks_get(&ks, "t3", 2) == NULL && ks_size(&ks) == 2, "lazy expiry on access");
    ok(ks_set_expire(&ks, "a", 1, 5000) && ks_set_expire(&ks, "a", 1, KS_NO_TTL) &&
           ks_expires(&ks) == 0 && val_is(&ks, "a", "longer", 6),
       "set then remove an expiry keeps the value");

    ok(ks_append(&ks, "a", 1, "++", 2) == 8 && val_is(&ks, "a", "longer++", 8), "append");
    char big[300];
    memset(big, 'b', sizeof(big));
    ok(ks_append(&ks, "a", 1, big, sizeof(big)) == 308, "append across a varint boundary");
    ok(ks_setrange(&ks, "new", 3, 3, "xy", 2) == 5 && val_is(&ks, "new", "\0\0\0xy", 5),
       "setrange pads with zeros");
    ks_set_expire(&ks, "new", 3, 9000);
    ok(ks_setrange(&ks, "new", 3, 0, "ab", 2) == 5 && val_is(&ks, "new", "ab\0xy", 5) &&
           ks_check(&ks),
       "setrange in place keeps the TTL heap consistent");
    ks_view(ks_get(&ks, "new", 3), &v);
    ok(v.expire_ms == 9000, "setrange keeps the expiry");
    ok(ks_del(&ks, "a", 1) == 1 && ks_del(&ks, "a", 1) == 0, "delete");
    for (int i = 0; i < 5000; i++) {
        char k[16];
        int n = snprintf(k, sizeof(k), "k%d", i);
        ks_put(&ks, k, (size_t)n, k, (size_t)n, i % 2 ? 10000 + i : KS_NO_TTL);
    }
    ok(ks_check(&ks) && ks_expires(&ks) == 2501, "5000 keys, half with TTLs");
    ok(ks_random(&ks) != NULL, "random key");
    ks_flush(&ks, 0);
    ok(ks_size(&ks) == 0 && ks_expires(&ks) == 0 && ks_check(&ks), "flush");
    ks_deinit(&ks);
    test_bulk();
    test_bulk_parts();
    return done();
}
