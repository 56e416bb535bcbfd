/*
 * thrift.h - the Thrift compact protocol, the encoding of every Parquet footer and page header.
 *
 * Writer (thr_w_*): appends to a caller-owned struct buf and cannot fail (buf aborts on OOM).
 * The caller emits fields in any order inside thr_w_struct_begin/end; the writer keeps the
 * previous-field-id stack that the compact protocol's field-id deltas need (THR_MAX_DEPTH
 * levels; deeper nesting is a programmer error and asserts).
 *
 * Reader (thr_r_*): decodes from a borrowed byte range [p, end) that must outlive the reader.
 * It never reads outside the range and never allocates: binaries are returned as pointers
 * into the input. Every read returns 0, or -1 once the input is malformed (truncated,
 * varint too long, nesting deeper than THR_MAX_DEPTH, a list longer than the bytes left, an
 * unknown type); after the first error the reader stays failed (r->failed) and every later
 * call fails too, so a caller may check only at the end of a struct. thr_r_skip skips a
 * value of any type, which is how unknown fields (including long-form ids like 32767) are
 * passed over.
 *
 * Threads: no shared state; one reader or writer per thread.
 */
#ifndef PANDA_THRIFT_H
#define PANDA_THRIFT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define THR_MAX_DEPTH 16 /* struct/list nesting; Parquet needs 5 */

/* Compact protocol wire types. */
enum thr_type {
    THR_STOP = 0,
    THR_TRUE = 1, /* bool field whose value is true (also the bool list element type) */
    THR_FALSE = 2,
    THR_I8 = 3,
    THR_I16 = 4,
    THR_I32 = 5,
    THR_I64 = 6,
    THR_DOUBLE = 7,
    THR_BINARY = 8,
    THR_LIST = 9,
    THR_SET = 10,
    THR_MAP = 11,
    THR_STRUCT = 12,
    THR_UUID = 13,
};

/* ---- writer ---- */

struct thr_w {
    struct buf *out;
    int depth;
    int16_t last_id[THR_MAX_DEPTH]; /* previous field id, per open struct */
};

void thr_w_init(struct thr_w *w, struct buf *out);
/* Opens the outermost struct, or a nested one after thr_w_field(..., THR_STRUCT) or as a
 * list element. */
void thr_w_struct_begin(struct thr_w *w);
void thr_w_struct_end(struct thr_w *w); /* writes the stop byte */
/* A field header; the value follows with one of the thr_w_* value writers. */
void thr_w_field(struct thr_w *w, int16_t id, enum thr_type type);
void thr_w_list(struct thr_w *w, enum thr_type elem, uint32_t n);
void thr_w_i32(struct thr_w *w, int32_t v);
void thr_w_i64(struct thr_w *w, int64_t v);
void thr_w_binary(struct thr_w *w, const void *p, size_t n);

/* Shorthands: field header plus value. */
void thr_w_field_i32(struct thr_w *w, int16_t id, int32_t v);
void thr_w_field_i64(struct thr_w *w, int16_t id, int64_t v);
void thr_w_field_binary(struct thr_w *w, int16_t id, const void *p, size_t n);
void thr_w_field_str(struct thr_w *w, int16_t id, const char *s);
void thr_w_field_bool(struct thr_w *w, int16_t id, int v);
/* A field holding an empty struct (Parquet's unit types: StringType, TypeDefinedOrder). */
void thr_w_field_empty_struct(struct thr_w *w, int16_t id);

/* ---- reader ---- */

struct thr_r {
    const uint8_t *p, *end;
    int depth;
    int failed;
    int16_t last_id[THR_MAX_DEPTH];
    int bool_val; /* the value carried by the last bool field header */
};

void thr_r_init(struct thr_r *r, const void *p, size_t n);
int thr_r_struct_begin(struct thr_r *r);
/* Reads a field header. Sets *type = THR_STOP (and leaves the struct) at the stop byte. */
int thr_r_field(struct thr_r *r, int16_t *id, enum thr_type *type);
/* List or set header: element type and count (bounded by the bytes left). */
int thr_r_list(struct thr_r *r, enum thr_type *elem, uint32_t *n);
int thr_r_i32(struct thr_r *r, int32_t *v); /* fails when the value does not fit */
int thr_r_i64(struct thr_r *r, int64_t *v);
/* Reads an integer field of any integer wire type (I8, I16, I32, I64) into *v. */
int thr_r_int(struct thr_r *r, enum thr_type type, int64_t *v);
/* Reads a bool field's value, which its header carried (type THR_TRUE or THR_FALSE).
 * Parquet has no bool lists; thr_r_skip passes over them. */
int thr_r_bool(struct thr_r *r, enum thr_type type, int *v);
int thr_r_binary(struct thr_r *r, const uint8_t **p, uint32_t *n);
/* Skips one value of the given wire type (whole structs, lists, maps). */
int thr_r_skip(struct thr_r *r, enum thr_type type);
/* Bytes consumed so far from the start given to thr_r_init. */
size_t thr_r_offset(const struct thr_r *r, const void *start);

#endif
