/*
 * jsonsnap.h - reads the legacy JSON snapshot (kv_database.json) of the Rust Panda: one JSON
 * object mapping each key to its value. String values are stored as they are (\u0000 and
 * any other escape included); any other value (number, object, array, true, null) is stored
 * as its compact JSON text. Parsing is jansson's (Debian's libjansson).
 *
 * Errors: malformed JSON returns -1 with the line, column and byte position of the fault; a
 * top-level value that is not an object is an error too. Nothing is loaded in either case
 * before the whole file has parsed. Threads: any; no shared state.
 */
#ifndef PANDA_JSONSNAP_H
#define PANDA_JSONSNAP_H

#include <stddef.h>

#include "err.h"

#define JSONSNAP_MAX_BYTES (4ULL << 30) /* a larger legacy file is refused */

/* Called once per key; return 0 to go on, -1 (err filled) to stop. */
typedef int (*jsonsnap_fn)(void *ctx, const char *key, size_t klen, const char *val, size_t vlen,
                           struct kv_err *err);

/* Parses path and calls fn for every member; *count = members. */
int jsonsnap_load(const char *path, jsonsnap_fn fn, void *ctx, size_t *count, struct kv_err *err);

#endif
