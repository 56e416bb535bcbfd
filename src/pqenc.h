/*
 * pqenc.h - the integer encodings inside Parquet pages, decoded: the RLE/bit-packed hybrid
 * (definition levels, dictionary indices) and DELTA_BINARY_PACKED (INT64 columns, the lengths
 * of DELTA_LENGTH_BYTE_ARRAY and DELTA_BYTE_ARRAY).
 *
 * Streaming decoders over bytes in memory: init over [p, p+len), then get values n at a time.
 * Every read is checked against len, so malformed input returns -1 and never reads past it.
 * No allocation and no global state: a decoder lives in its caller's struct, one per thread.
 */
#ifndef PANDA_PQENC_H
#define PANDA_PQENC_H

#include <stddef.h>
#include <stdint.h>

#define PQE_MAX_DELTA_BLOCK (1u << 20) /* DELTA_BINARY_PACKED values per block */

struct pqe_rle {
    const uint8_t *p, *end;         /* runs not yet started */
    const uint8_t *bits, *bits_end; /* the current bit-packed run */
    uint64_t bitpos;
    uint32_t bw, left, val; /* bit width, values left in the run, RLE run value */
    int packed;
};

/* A stream of bw-bit (0..32) values. */
void pqe_rle_init(struct pqe_rle *r, const uint8_t *p, size_t len, uint32_t bw);
/* Decodes the next n values into out. */
int pqe_rle_get(struct pqe_rle *r, uint32_t *out, size_t n);
/* Decodes exactly n values of bit_width (0..32) from [p, p+len). */
int pqe_rle_decode(const uint8_t *p, size_t len, int bit_width, uint32_t *out, size_t n);

struct pqe_dbp {
    const uint8_t *p, *end; /* next block */
    const uint8_t *widths;  /* bit widths of the current block's miniblocks */
    const uint8_t *bits, *bits_end;
    uint64_t bitpos, total, done, last, min_delta;
    uint32_t mb_count, mb_size, mb, mb_left, bw;
};

/* Reads the stream's header; d->total is then the number of values. */
int pqe_dbp_init(struct pqe_dbp *d, const uint8_t *p, size_t len);
/* Decodes the next n values (wrapping as 64-bit two's complement). */
int pqe_dbp_get(struct pqe_dbp *d, int64_t *out, size_t n);
/* Where a freshly initialised stream ends (DELTA_LENGTH_BYTE_ARRAY's bytes follow it), found
 * by walking the block headers without decoding. */
int pqe_dbp_stream_end(const struct pqe_dbp *d, const uint8_t **endp);
/* Decodes the whole stream at p, which must hold at most max values; sets *n (values decoded)
 * and *used (bytes the stream occupies, where a following section starts). */
int pqe_delta_decode(const uint8_t *p, size_t len, int64_t *out, size_t max, size_t *n,
                     size_t *used);

#endif
