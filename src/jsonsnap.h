/*
 * jsonsnap.h - reads the legacy JSON snapshot (kv_database.json) of the Rust Panda: one JSON
 * object (RFC 8259, UTF-8) mapping each key to its value. Keys and string values are decoded
 * to their bytes (\u0000 and every other escape included, so binary keys survive); any other
 * value (number, object, array, true, false, null) is stored as its JSON text exactly as
 * written, minus insignificant whitespace: a u64 stays exact, 1.1 stays "1.1".
 *
 * Errors: malformed JSON (invalid UTF-8 and lone surrogates included) returns -1 with the
 * line, column and byte offset of the fault; a top-level value that is not an object is an
 * error too. The whole file is checked before fn sees the first member, so nothing is loaded
 * from a file that turns out malformed. Threads: any; no shared state.
 */
#ifndef PANDA_JSONSNAP_H
#define PANDA_JSONSNAP_H

#include <stddef.h>

#include "err.h"

#define JSONSNAP_MAX_BYTES (4ULL << 30) /* a larger legacy file is refused */
#define JSONSNAP_MAX_DEPTH 512          /* nesting of arrays and objects inside a value */

/* Called once per key; return 0 to go on, -1 (err filled) to stop. */
typedef int (*jsonsnap_fn)(void *ctx, const char *key, size_t klen, const char *val, size_t vlen,
                           struct kv_err *err);

/* Parses path and calls fn for every member; *count = members. */
int jsonsnap_load(const char *path, jsonsnap_fn fn, void *ctx, size_t *count, struct kv_err *err);

#endif
