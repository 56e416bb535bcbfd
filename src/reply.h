/*
 * reply.h - RESP2/RESP3 reply encoding into a connection's output buffer.
 *
 * A struct reply is embedded in each connection: the bytes waiting to be written and the
 * protocol version the client chose with HELLO (2 or 3). Functions that differ between the
 * versions (nil, maps, sets, verbatim strings) pick the right encoding, so command
 * code never branches on the version. Error texts carry their code ("ERR ...",
 * "WRONGTYPE ..."); CR and LF in them become spaces so a reply can never break framing.
 * Appends cannot fail (the buffer grows; alloc.h aborts on OOM). One thread.
 */
#ifndef PANDA_REPLY_H
#define PANDA_REPLY_H

#include <stddef.h>

#include "buf.h"

struct reply {
    struct buf out;
    int proto; /* 2 or 3 */
};

void rep_simple(struct reply *r, const char *s);
void rep_ok(struct reply *r);
void rep_err(struct reply *r, const char *msg);
void rep_errf(struct reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rep_int(struct reply *r, long long v);
void rep_bulk(struct reply *r, const char *p, size_t n);
void rep_bulk_str(struct reply *r, const char *s);
void rep_bulk_ll(struct reply *r, long long v);
void rep_nil(struct reply *r);       /* $-1 / _ */
void rep_nil_array(struct reply *r); /* *-1 / _ */
void rep_array(struct reply *r, size_t n);
void rep_map(struct reply *r, size_t pairs);                 /* RESP2: array of 2n */
void rep_set(struct reply *r, size_t n);                     /* RESP2: array */
void rep_verbatim(struct reply *r, const char *p, size_t n); /* RESP2: bulk string */

/* Inserts raw bytes at an earlier position of the reply (from rep_defer). */
void rep_insert(struct reply *r, size_t mark, const char *p, size_t n);
/* Deferred aggregate length: rep_defer() marks where the header goes, rep_defer_set()
 * inserts "*n" there once n is known. */
size_t rep_defer(struct reply *r);
void rep_defer_set(struct reply *r, size_t mark, size_t n);

#endif
