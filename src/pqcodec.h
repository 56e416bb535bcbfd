/*
 * pqcodec.h - the compression codecs of Parquet pages: UNCOMPRESSED, SNAPPY (raw block),
 * GZIP (RFC 1952, several members allowed when reading), ZSTD (frames) and LZ4_RAW (bare
 * block), through Debian's libsnappy, zlib, libzstd and liblz4.
 *
 * Buffers belong to the caller. pqc_compress appends to a struct buf and fails only on a codec
 * Panda does not write or a library error. pqc_decompress writes exactly `out_len` bytes (the
 * page header's uncompressed size) into `out`; input that inflates to any other length, is
 * corrupt, or uses an unsupported codec is an error naming the codec. Neither keeps state of its
 * own, so both are safe from any thread; a struct pqc_cctx (one per thread) keeps a compressor
 * set up from page to page.
 *
 * ZSTD pages are written at a negative (fast) level with Huffman-coded literals, which such
 * levels leave out by default: a snapshot's values are mostly random text that LZ matching
 * barely shortens but an entropy coder does, so this is about twice level 1's speed at the
 * same size.
 */
#ifndef PANDA_PQCODEC_H
#define PANDA_PQCODEC_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

#define PQC_ZSTD_LEVEL          (-7) /* with Huffman literals: level 1's size, 2x its speed */
#define PQC_ZSTD_FALLBACK_LEVEL 1    /* when the library refuses the literals setting */

struct pqc_cctx;

/* A compressor for one thread's pages; free with pqc_cctx_free. */
struct pqc_cctx *pqc_cctx_new(void);
void pqc_cctx_free(struct pqc_cctx *cx);

/* "UNCOMPRESSED", "SNAPPY", ...; "unknown" for an id outside parquet.thrift. */
const char *pqc_name(int codec);
/* 1 if pqc_decompress handles codec. */
int pqc_supported(int codec);
/* Appends in, compressed, to out; cx (may be NULL: set one up for this call) is used by one
 * thread at a time. */
int pqc_compress(struct pqc_cctx *cx, int codec, const void *in, size_t in_len, struct buf *out,
                 struct kv_err *err);
int pqc_decompress(int codec, const void *in, size_t in_len, void *out, size_t out_len,
                   struct kv_err *err);

#endif
