/* thrift.c - Thrift compact protocol writer and bounded reader (see thrift.h). */
#include "thrift.h"

#include <string.h>

#include "err.h"

/* ---- writer ---- */

static void put_uvarint(struct buf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    buf_append(b, tmp, n);
}

static uint64_t zigzag64(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

void thr_w_init(struct thr_w *w, struct buf *out)
{
    w->out = out;
    w->depth = 0;
}

void thr_w_struct_begin(struct thr_w *w)
{
    kv_assert(w->depth < THR_MAX_DEPTH);
    w->last_id[w->depth++] = 0;
}

void thr_w_struct_end(struct thr_w *w)
{
    kv_assert(w->depth > 0);
    w->depth--;
    buf_append_char(w->out, 0);
}

void thr_w_field(struct thr_w *w, int16_t id, enum thr_type type)
{
    kv_assert(w->depth > 0 && type != THR_STOP);
    int16_t *last = &w->last_id[w->depth - 1];
    int delta = id - *last;
    if (delta > 0 && delta <= 15) {
        buf_append_char(w->out, (char)(delta << 4 | type));
    } else {
        buf_append_char(w->out, (char)type);
        put_uvarint(w->out, zigzag64(id));
    }
    *last = id;
}

void thr_w_list(struct thr_w *w, enum thr_type elem, uint32_t n)
{
    if (n < 15) {
        buf_append_char(w->out, (char)(n << 4 | elem));
    } else {
        buf_append_char(w->out, (char)(0xf0 | elem));
        put_uvarint(w->out, n);
    }
}

void thr_w_i32(struct thr_w *w, int32_t v)
{
    put_uvarint(w->out, zigzag64(v));
}

void thr_w_i64(struct thr_w *w, int64_t v)
{
    put_uvarint(w->out, zigzag64(v));
}

void thr_w_binary(struct thr_w *w, const void *p, size_t n)
{
    put_uvarint(w->out, n);
    buf_append(w->out, p, n);
}

void thr_w_field_i32(struct thr_w *w, int16_t id, int32_t v)
{
    thr_w_field(w, id, THR_I32);
    thr_w_i32(w, v);
}

void thr_w_field_i64(struct thr_w *w, int16_t id, int64_t v)
{
    thr_w_field(w, id, THR_I64);
    thr_w_i64(w, v);
}

void thr_w_field_binary(struct thr_w *w, int16_t id, const void *p, size_t n)
{
    thr_w_field(w, id, THR_BINARY);
    thr_w_binary(w, p, n);
}

void thr_w_field_str(struct thr_w *w, int16_t id, const char *s)
{
    thr_w_field_binary(w, id, s, strlen(s));
}

void thr_w_field_bool(struct thr_w *w, int16_t id, int v)
{
    thr_w_field(w, id, v ? THR_TRUE : THR_FALSE);
}

void thr_w_field_empty_struct(struct thr_w *w, int16_t id)
{
    thr_w_field(w, id, THR_STRUCT);
    thr_w_struct_begin(w);
    thr_w_struct_end(w);
}

/* ---- reader ---- */

static int fail(struct thr_r *r)
{
    r->failed = 1;
    return -1;
}

static int get_uvarint(struct thr_r *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (r->p >= r->end) return fail(r);
        uint8_t b = *r->p++;
        if (shift == 63 && b > 1) return fail(r); /* more than 64 bits */
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return fail(r);
}

static int64_t unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

void thr_r_init(struct thr_r *r, const void *p, size_t n)
{
    r->p = p;
    r->end = r->p + n;
    r->depth = 0;
    r->failed = 0;
    r->bool_val = 0;
}

int thr_r_struct_begin(struct thr_r *r)
{
    if (r->failed || r->depth >= THR_MAX_DEPTH) return fail(r);
    r->last_id[r->depth++] = 0;
    return 0;
}

int thr_r_field(struct thr_r *r, int16_t *id, enum thr_type *type)
{
    if (r->failed || r->depth == 0 || r->p >= r->end) return fail(r);
    uint8_t b = *r->p++;
    if (b == 0) {
        *type = THR_STOP;
        *id = 0;
        r->depth--;
        return 0;
    }
    enum thr_type t = (enum thr_type)(b & 0x0f);
    if (t > THR_UUID) return fail(r);
    int16_t *last = &r->last_id[r->depth - 1];
    if (b >> 4) {
        *id = (int16_t)(*last + (b >> 4));
    } else {
        uint64_t u;
        if (get_uvarint(r, &u) != 0) return -1;
        int64_t v = unzigzag(u);
        if (v < INT16_MIN || v > INT16_MAX) return fail(r);
        *id = (int16_t)v;
    }
    *last = *id;
    r->bool_val = t == THR_TRUE;
    *type = t;
    return 0;
}

int thr_r_list(struct thr_r *r, enum thr_type *elem, uint32_t *n)
{
    if (r->failed || r->p >= r->end) return fail(r);
    uint8_t b = *r->p++;
    uint64_t size = b >> 4;
    if (size == 15 && get_uvarint(r, &size) != 0) return -1;
    *elem = (enum thr_type)(b & 0x0f);
    if (*elem == THR_STOP || *elem > THR_UUID) return fail(r);
    /* every element takes at least one byte, so a count beyond the input is a lie */
    if (size > (uint64_t)(r->end - r->p)) return fail(r);
    *n = (uint32_t)size;
    return 0;
}

int thr_r_int(struct thr_r *r, enum thr_type type, int64_t *v)
{
    if (r->failed) return -1;
    if (type == THR_I8) {
        if (r->p >= r->end) return fail(r);
        *v = (int8_t)*r->p++;
        return 0;
    }
    if (type != THR_I16 && type != THR_I32 && type != THR_I64) return fail(r);
    uint64_t u;
    if (get_uvarint(r, &u) != 0) return -1;
    *v = unzigzag(u);
    return 0;
}

int thr_r_i32(struct thr_r *r, int32_t *v)
{
    int64_t x;
    if (thr_r_int(r, THR_I32, &x) != 0) return -1;
    if (x < INT32_MIN || x > INT32_MAX) return fail(r);
    *v = (int32_t)x;
    return 0;
}

int thr_r_i64(struct thr_r *r, int64_t *v)
{
    return thr_r_int(r, THR_I64, v);
}

int thr_r_bool(struct thr_r *r, enum thr_type type, int *v)
{
    if (r->failed || (type != THR_TRUE && type != THR_FALSE)) return fail(r);
    *v = r->bool_val;
    return 0;
}

int thr_r_binary(struct thr_r *r, const uint8_t **p, uint32_t *n)
{
    uint64_t len;
    if (r->failed || get_uvarint(r, &len) != 0) return fail(r);
    if (len > (uint64_t)(r->end - r->p)) return fail(r);
    *p = r->p;
    *n = (uint32_t)len;
    r->p += len;
    return 0;
}

static int skip_bytes(struct thr_r *r, size_t n)
{
    if ((size_t)(r->end - r->p) < n) return fail(r);
    r->p += n;
    return 0;
}

static int skip_elem(struct thr_r *r, enum thr_type t);

static int skip_list(struct thr_r *r)
{
    enum thr_type elem;
    uint32_t n;
    if (thr_r_list(r, &elem, &n) != 0) return -1;
    if (r->depth >= THR_MAX_DEPTH) return fail(r);
    r->depth++; /* lists of lists count toward the nesting limit too */
    for (uint32_t i = 0; i < n && !r->failed; i++)
        skip_elem(r, elem);
    r->depth--;
    return r->failed ? -1 : 0;
}

static int skip_map(struct thr_r *r)
{
    uint64_t n;
    if (get_uvarint(r, &n) != 0) return -1;
    if (n == 0) return 0;
    if (r->p >= r->end || n > (uint64_t)(r->end - r->p)) return fail(r);
    uint8_t kv = *r->p++;
    enum thr_type kt = (enum thr_type)(kv >> 4), vt = (enum thr_type)(kv & 0x0f);
    if (r->depth >= THR_MAX_DEPTH) return fail(r);
    r->depth++;
    for (uint64_t i = 0; i < n && !r->failed; i++) {
        skip_elem(r, kt);
        skip_elem(r, vt);
    }
    r->depth--;
    return r->failed ? -1 : 0;
}

/* A value as a list/map element: bools take one byte there. */
static int skip_elem(struct thr_r *r, enum thr_type t)
{
    if (t == THR_TRUE || t == THR_FALSE) return skip_bytes(r, 1);
    return thr_r_skip(r, t);
}

int thr_r_skip(struct thr_r *r, enum thr_type type)
{
    if (r->failed) return -1;
    int64_t iv;
    const uint8_t *bp;
    uint32_t bn;
    switch (type) {
    case THR_TRUE:
    case THR_FALSE:
        return 0; /* a bool field's value lives in its header */
    case THR_I8:
    case THR_I16:
    case THR_I32:
    case THR_I64:
        return thr_r_int(r, type, &iv);
    case THR_DOUBLE:
        return skip_bytes(r, 8);
    case THR_UUID:
        return skip_bytes(r, 16);
    case THR_BINARY:
        return thr_r_binary(r, &bp, &bn);
    case THR_LIST:
    case THR_SET:
        return skip_list(r);
    case THR_MAP:
        return skip_map(r);
    case THR_STRUCT: {
        if (thr_r_struct_begin(r) != 0) return -1;
        for (;;) {
            int16_t id;
            enum thr_type t;
            if (thr_r_field(r, &id, &t) != 0) return -1;
            if (t == THR_STOP) return 0;
            if (thr_r_skip(r, t) != 0) return -1;
        }
    }
    case THR_STOP:
        break;
    }
    return fail(r);
}

size_t thr_r_offset(const struct thr_r *r, const void *start)
{
    return (size_t)(r->p - (const uint8_t *)start);
}
