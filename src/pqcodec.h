/*
 * pqcodec.h - the compression codecs of Parquet pages: UNCOMPRESSED, SNAPPY (raw block),
 * GZIP (RFC 1952, several members allowed when reading), ZSTD (frames) and LZ4_RAW (bare
 * block), through Debian's libsnappy, zlib, libzstd and liblz4.
 *
 * Buffers belong to the caller. pqc_compress appends to a struct buf and fails only on a codec
 * Panda does not write or a library error. pqc_decompress writes exactly `out_len` bytes (the
 * page header's uncompressed size) into `out`; input that inflates to any other length, is
 * corrupt, or uses an unsupported codec is an error naming the codec. Neither keeps state, so
 * both are safe from any thread.
 */
#ifndef PANDA_PQCODEC_H
#define PANDA_PQCODEC_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

#define PQC_ZSTD_LEVEL 1 /* snapshots favour speed; level 1 already beats RDB size by far */

/* "UNCOMPRESSED", "SNAPPY", ...; "unknown" for an id outside parquet.thrift. */
const char *pqc_name(int codec);
/* 1 if pqc_decompress handles codec. */
int pqc_supported(int codec);
int pqc_compress(int codec, const void *in, size_t in_len, struct buf *out, struct kv_err *err);
int pqc_decompress(int codec, const void *in, size_t in_len, void *out, size_t out_len,
                   struct kv_err *err);

#endif
