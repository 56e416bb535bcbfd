/* Unit tests of the keyspace (src/ks.c): values, expiry heap, in-place changes. */
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
    return done();
}
