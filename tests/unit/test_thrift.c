/*
 * Unit tests of the Thrift compact protocol (src/thrift.c): writer/reader round trips of every
 * field kind, long-form field ids, long list headers, skipping unknown fields, the worked bytes
 * of parquet-facts.md section 2.3, and malformed input.
 *
 * Every input handed to the reader is first copied into a heap buffer of exactly its size, so
 * ASan reports any read past the end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tap.h"
#include "thrift.h"

/* An exact-size heap copy of n bytes, for the reader. */
static uint8_t *exact(const void *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    if (n) memcpy(c, p, n);
    return c;
}

static int bytes_eq(const struct buf *b, const char *want, size_t n)
{
    return b->len == n && memcmp(b->data, want, n) == 0;
}

/* A struct with one field of every kind the writer has; ids chosen to need long forms. */
static void write_sample(struct buf *b)
{
    struct thr_w w;
    thr_w_init(&w, b);
    thr_w_struct_begin(&w);
    thr_w_field_i32(&w, 1, -123456);
    thr_w_field_i64(&w, 2, INT64_MIN);
    thr_w_field_i64(&w, 17, INT64_MAX); /* delta 15+: long form */
    thr_w_field_binary(&w, 18, "a\0b", 3);
    thr_w_field_bool(&w, 19, 1);
    thr_w_field_bool(&w, 20, 0);
    thr_w_field(&w, 21, THR_STRUCT);
    thr_w_struct_begin(&w);
    thr_w_field_i32(&w, 1, 7); /* ids restart inside the nested struct */
    thr_w_field_empty_struct(&w, 2);
    thr_w_struct_end(&w);
    thr_w_field(&w, 22, THR_LIST);
    thr_w_list(&w, THR_I32, 20); /* more than 14: long list header */
    for (int i = 0; i < 20; i++)
        thr_w_i32(&w, i * 1000 - 5000);
    thr_w_field_str(&w, 32767, "ext"); /* vendor extension id */
    thr_w_field_i32(&w, 3, INT32_MIN); /* going backwards: long form */
    thr_w_struct_end(&w);
}

static void test_roundtrip(void)
{
    struct buf b;
    buf_init(&b);
    write_sample(&b);
    uint8_t *in = exact(b.data, b.len);
    struct thr_r r;
    thr_r_init(&r, in, b.len);
    int16_t id;
    enum thr_type t;
    int64_t v;
    int32_t v32;
    int bv;
    const uint8_t *bp;
    uint32_t bn;
    ok(thr_r_struct_begin(&r) == 0, "struct begins");
    ok(thr_r_field(&r, &id, &t) == 0 && id == 1 && t == THR_I32 && thr_r_i32(&r, &v32) == 0 &&
           v32 == -123456,
       "i32 field 1 = -123456");
    ok(thr_r_field(&r, &id, &t) == 0 && id == 2 && t == THR_I64 && thr_r_i64(&r, &v) == 0 &&
           v == INT64_MIN,
       "i64 field 2 = INT64_MIN");
    ok(thr_r_field(&r, &id, &t) == 0 && id == 17 && thr_r_int(&r, t, &v) == 0 && v == INT64_MAX,
       "long-form field 17 = INT64_MAX");
    ok(thr_r_field(&r, &id, &t) == 0 && id == 18 && t == THR_BINARY &&
           thr_r_binary(&r, &bp, &bn) == 0 && bn == 3 && memcmp(bp, "a\0b", 3) == 0,
       "binary field with a NUL byte");
    ok(thr_r_field(&r, &id, &t) == 0 && id == 19 && thr_r_bool(&r, t, &bv) == 0 && bv == 1,
       "bool true lives in the field header");
    ok(thr_r_field(&r, &id, &t) == 0 && id == 20 && thr_r_bool(&r, t, &bv) == 0 && bv == 0,
       "bool false");
    ok(thr_r_field(&r, &id, &t) == 0 && id == 21 && t == THR_STRUCT && thr_r_struct_begin(&r) == 0,
       "nested struct");
    ok(thr_r_field(&r, &id, &t) == 0 && id == 1 && thr_r_i32(&r, &v32) == 0 && v32 == 7,
       "nested field ids restart at 0");
    ok(thr_r_field(&r, &id, &t) == 0 && id == 2 && t == THR_STRUCT && thr_r_skip(&r, t) == 0,
       "empty struct skipped");
    ok(thr_r_field(&r, &id, &t) == 0 && t == THR_STOP, "nested stop");
    enum thr_type et;
    uint32_t n;
    ok(thr_r_field(&r, &id, &t) == 0 && id == 22 && t == THR_LIST && thr_r_list(&r, &et, &n) == 0 &&
           et == THR_I32 && n == 20,
       "list of 20 i32 (long header)");
    int all = 1;
    for (int i = 0; i < 20; i++)
        all &= thr_r_i32(&r, &v32) == 0 && v32 == i * 1000 - 5000;
    ok(all, "list elements read back");
    ok(thr_r_field(&r, &id, &t) == 0 && id == 32767 && t == THR_BINARY &&
           thr_r_binary(&r, &bp, &bn) == 0 && bn == 3,
       "field id 32767");
    ok(thr_r_field(&r, &id, &t) == 0 && id == 3 && thr_r_i32(&r, &v32) == 0 && v32 == INT32_MIN,
       "backwards id 3 = INT32_MIN");
    ok(thr_r_field(&r, &id, &t) == 0 && t == THR_STOP && !r.failed, "outer stop");
    ok(thr_r_offset(&r, in) == b.len, "reader consumed exactly the bytes written");
    free(in);
    buf_deinit(&b);
}

/* A reader that knows no field of the sample skips all of it and lands at its end. */
static void test_skip_all(void)
{
    struct buf b;
    buf_init(&b);
    write_sample(&b);
    buf_append_char(&b, 0x15); /* a trailing byte that must not be consumed */
    uint8_t *in = exact(b.data, b.len);
    struct thr_r r;
    thr_r_init(&r, in, b.len);
    ok(thr_r_skip(&r, THR_STRUCT) == 0 && thr_r_offset(&r, in) == b.len - 1,
       "skip passes over the whole struct, unknown long-form ids included");
    free(in);

    /* Kinds the writer does not produce: double, set, map, uuid, list of bools, i8, i16. */
    static const uint8_t other[] = {
        0x17, 1,    2,    3,    4,    5,    6,  7,  8, /* field 1 double */
        0x1a, 0x25, 0x02, 0x04,                        /* field 2 set<i32> {1, 2} */
        0x1b, 0x02, 0x85, 0x01, 'a',  0x02,            /* field 3 map<binary,i32>: "a" -> 1, */
        0x00, 0x02,                                    /* "" -> 1 */
        0x1b, 0x00,                                    /* field 4 empty map */
        0x1d, 0,    1,    2,    3,    4,    5,  6,  7,
        8,    9,    10,   11,   12,   13,   14, 15, /* field 5 uuid */
        0x19, 0x31, 0x01, 0x02, 0x01,               /* field 6 list<bool> [t, f, t] */
        0x13, 0xff,                                 /* field 7 i8 = -1 */
        0x14, 0x03,                                 /* field 8 i16 = -2 */
        0x00};
    in = exact(other, sizeof(other));
    thr_r_init(&r, in, sizeof(other));
    int16_t id;
    enum thr_type t;
    int64_t v = 0;
    int rc = thr_r_struct_begin(&r);
    while (rc == 0 && thr_r_field(&r, &id, &t) == 0 && t != THR_STOP) {
        if (t == THR_I8)
            rc = thr_r_int(&r, t, &v) == 0 && v == -1 ? 0 : -1;
        else
            rc = thr_r_skip(&r, t);
    }
    ok(rc == 0 && !r.failed && thr_r_offset(&r, in) == sizeof(other),
       "double, set, map, uuid, bool list, i8 and i16 skipped");
    free(in);
    buf_deinit(&b);
}

static void test_worked_bytes(void)
{
    struct buf b;
    struct thr_w w;
    buf_init(&b);
    thr_w_init(&w, &b);
    thr_w_list(&w, THR_I8, 50399);
    ok(bytes_eq(&b, "\xF3\xDF\x89\x03", 4), "list of 50399 i8: F3, then varint DF 89 03");
    uint8_t *in = exact(b.data, b.len);
    struct thr_r r;
    enum thr_type et;
    uint32_t n;
    thr_r_init(&r, in, b.len);
    ok(thr_r_list(&r, &et, &n) == -1, "a count of 50399 with no elements behind it is refused");
    free(in);

    /* parquet-facts.md 2.3: the start of a FileMetaData and a data page header. */
    b.len = 0;
    thr_w_init(&w, &b);
    thr_w_struct_begin(&w);
    thr_w_field_i32(&w, 1, 1);
    thr_w_field(&w, 2, THR_LIST);
    thr_w_list(&w, THR_STRUCT, 5);
    thr_w_struct_begin(&w);
    thr_w_field_str(&w, 4, "schema");
    thr_w_field_i32(&w, 5, 4);
    thr_w_struct_end(&w);
    thr_w_struct_begin(&w);
    thr_w_field_i32(&w, 1, 6);
    thr_w_field_i32(&w, 3, 0);
    thr_w_field_str(&w, 4, "key");
    thr_w_field_i32(&w, 6, 0);
    thr_w_field(&w, 10, THR_STRUCT);
    thr_w_struct_begin(&w);
    thr_w_field_empty_struct(&w, 1);
    thr_w_struct_end(&w);
    thr_w_struct_end(&w);
    static const char fmd[] = "\x15\x02\x19\x5C\x48\x06schema\x15\x08\x00"
                              "\x15\x0C\x25\x00\x18\x03key\x25\x00\x4C\x1C\x00\x00\x00";
    ok(bytes_eq(&b, fmd, sizeof(fmd) - 1), "FileMetaData start bytes match the fact sheet");

    b.len = 0;
    thr_w_init(&w, &b);
    thr_w_struct_begin(&w);
    thr_w_field_i32(&w, 1, 0);
    thr_w_field_i32(&w, 2, 800);
    thr_w_field_i32(&w, 3, 800);
    thr_w_field(&w, 5, THR_STRUCT);
    thr_w_struct_begin(&w);
    thr_w_field_i32(&w, 1, 100);
    thr_w_field_i32(&w, 2, 0);
    thr_w_field_i32(&w, 3, 3);
    thr_w_field_i32(&w, 4, 3);
    thr_w_struct_end(&w);
    thr_w_struct_end(&w);
    static const char dph[] = "\x15\x00\x15\xC0\x0C\x15\xC0\x0C\x2C"
                              "\x15\xC8\x01\x15\x00\x15\x06\x15\x06\x00\x00";
    ok(bytes_eq(&b, dph, sizeof(dph) - 1), "data page header bytes match the fact sheet");
    buf_deinit(&b);
}

/* Runs fn over an exact-size copy of bytes; returns what the reader's final state says. */
static int read_fails(const void *bytes, size_t n, int (*fn)(struct thr_r *))
{
    uint8_t *in = exact(bytes, n);
    struct thr_r r;
    thr_r_init(&r, in, n);
    int rc = fn(&r);
    int failed = rc != 0 && r.failed && r.p <= r.end;
    free(in);
    return failed;
}

static int do_skip_struct(struct thr_r *r)
{
    return thr_r_skip(r, THR_STRUCT);
}

static int do_i64(struct thr_r *r)
{
    int64_t v;
    return thr_r_i64(r, &v);
}

static int do_i32(struct thr_r *r)
{
    int32_t v;
    return thr_r_i32(r, &v);
}

static int do_binary(struct thr_r *r)
{
    const uint8_t *p;
    uint32_t n;
    return thr_r_binary(r, &p, &n);
}

static int do_list(struct thr_r *r)
{
    enum thr_type t;
    uint32_t n;
    return thr_r_list(r, &t, &n);
}

static void test_malformed(void)
{
    ok(read_fails("\x80", 1, do_i64), "truncated varint fails");
    ok(read_fails("", 0, do_i64), "empty input fails");
    ok(read_fails("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11, do_i64),
       "over-long varint fails");
    ok(read_fails("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10, do_i64),
       "varint beyond 64 bits fails");
    ok(read_fails("\xfe\xff\xff\xff\x1f", 5, do_i32), "i32 out of range fails");
    ok(read_fails("\x05"
                  "ab",
                  3, do_binary),
       "binary longer than the input fails");
    ok(read_fails("\x95", 1, do_list), "list header of 9 with no elements fails");
    ok(read_fails("\xf5\x80\x80\x04", 4, do_list), "long list count beyond input fails");
    ok(read_fails("\x15", 1, do_skip_struct), "field without its value fails");
    ok(read_fails("\x1e\x00", 2, do_skip_struct), "unknown type nibble 14 fails");
    ok(read_fails("\x15\x02", 2, do_skip_struct), "struct without stop fails");
    ok(read_fails("\x08\x80\x80\x04\x00", 5, do_skip_struct),
       "long-form field id out of i16 range fails");
    ok(read_fails("\x19\x3c\x00\x00", 4, do_skip_struct), "list of 3 structs, only 2 present");
    ok(read_fails("\x1b\x05\x55\x02", 4, do_skip_struct), "map with 5 pairs but 1 byte fails");

    /* Nesting: THR_MAX_DEPTH structs are fine, one more is refused. */
    uint8_t deep[2 * (THR_MAX_DEPTH + 2)];
    for (int depth = THR_MAX_DEPTH; depth <= THR_MAX_DEPTH + 1; depth++) {
        size_t n = 0;
        for (int i = 1; i < depth; i++)
            deep[n++] = 0x1c; /* field 1: struct */
        for (int i = 0; i < depth; i++)
            deep[n++] = 0x00;
        uint8_t *in = exact(deep, n);
        struct thr_r r;
        thr_r_init(&r, in, n);
        int rc = thr_r_skip(&r, THR_STRUCT);
        if (depth == THR_MAX_DEPTH)
            ok(rc == 0 && r.p == r.end, "nesting of %d accepted", depth);
        else
            ok(rc == -1 && r.failed, "nesting of %d refused", depth);
        free(in);
    }
    /* Lists of lists count toward the same limit. */
    uint8_t lists[THR_MAX_DEPTH + 2];
    for (int i = 0; i < THR_MAX_DEPTH + 1; i++)
        lists[i] = 0x19;             /* list of one list */
    lists[THR_MAX_DEPTH + 1] = 0x05; /* innermost: empty list of i32 */
    ok(read_fails(lists, sizeof(lists), do_list) == 0, "list header itself reads");
    uint8_t *in = exact(lists, sizeof(lists));
    struct thr_r r;
    thr_r_init(&r, in, sizeof(lists));
    ok(thr_r_skip(&r, THR_LIST) == -1, "lists nested past THR_MAX_DEPTH refused");
    free(in);

    /* A failed reader stays failed. */
    in = exact("\x80", 1);
    thr_r_init(&r, in, 1);
    int64_t v;
    thr_r_i64(&r, &v);
    ok(r.failed && thr_r_skip(&r, THR_I32) == -1 && thr_r_struct_begin(&r) == -1,
       "every call fails after the first error");
    free(in);
}

/* Every prefix of a valid struct fails to skip, without reading past its end. */
static void test_truncations(void)
{
    struct buf b;
    buf_init(&b);
    write_sample(&b);
    int all = 1;
    for (size_t n = 0; n < b.len; n++)
        all &= read_fails(b.data, n, do_skip_struct);
    ok(all, "all %zu truncations of the sample fail cleanly", b.len);
    buf_deinit(&b);
}

int main(void)
{
    test_roundtrip();
    test_skip_all();
    test_worked_bytes();
    test_malformed();
    test_truncations();
    return done();
}
