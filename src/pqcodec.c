/* pqcodec.c - Parquet page codecs over Debian's compression libraries (see pqcodec.h). */
#include "pqcodec.h"

#include <lz4.h>
#include <stdint.h>
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_c_literalCompressionMode */
#include <zstd.h>

#include "alloc.h"
#include "parquet.h"

struct pqc_cctx {
    ZSTD_CCtx *zstd; /* set up at the first ZSTD page */
};

struct pqc_cctx *pqc_cctx_new(void)
{
    return kv_calloc(1, sizeof(struct pqc_cctx));
}

void pqc_cctx_free(struct pqc_cctx *cx)
{
    if (!cx) return;
    ZSTD_freeCCtx(cx->zstd);
    kv_free(cx);
}

/* A ZSTD compressor at PQC_ZSTD_LEVEL with Huffman literals, or at the fallback level when
 * this libzstd does not take the (experimental) literals setting. NULL when out of memory. */
static ZSTD_CCtx *zstd_new(void)
{
    ZSTD_CCtx *z = ZSTD_createCCtx();
    if (!z) return NULL;
    if (ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_literalCompressionMode, ZSTD_ps_enable)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, PQC_ZSTD_LEVEL)))
        ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, PQC_ZSTD_FALLBACK_LEVEL);
    return z;
}

static int zstd_compress(struct pqc_cctx *cx, const void *in, size_t in_len, struct buf *out,
                         struct kv_err *err)
{
    ZSTD_CCtx *z = cx ? cx->zstd : NULL;
    if (!z && !(z = zstd_new())) return kv_err_set(err, KV_ESYS, "ZSTD: cannot set up a context");
    if (cx) cx->zstd = z;
    size_t n = ZSTD_compressBound(in_len);
    buf_reserve(out, n);
    n = ZSTD_compress2(z, buf_tail(out), n, in, in_len);
    if (!cx) ZSTD_freeCCtx(z);
    if (ZSTD_isError(n)) return kv_err_set(err, KV_EINVAL, "ZSTD: %s", ZSTD_getErrorName(n));
    out->len += n;
    return 0;
}

const char *pqc_name(int codec)
{
    switch (codec) {
    case PQ_UNCOMPRESSED:
        return "UNCOMPRESSED";
    case PQ_SNAPPY:
        return "SNAPPY";
    case PQ_GZIP:
        return "GZIP";
    case PQ_LZO:
        return "LZO";
    case PQ_BROTLI:
        return "BROTLI";
    case PQ_LZ4:
        return "LZ4 (deprecated Hadoop framing)";
    case PQ_ZSTD:
        return "ZSTD";
    case PQ_LZ4_RAW:
        return "LZ4_RAW";
    default:
        return "unknown";
    }
}

int pqc_supported(int codec)
{
    return codec == PQ_UNCOMPRESSED || codec == PQ_SNAPPY || codec == PQ_GZIP || codec == PQ_ZSTD ||
           codec == PQ_LZ4_RAW;
}

static int gzip_compress(const void *in, size_t in_len, struct buf *out, struct kv_err *err)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return kv_err_set(err, KV_EINVAL, "GZIP: deflateInit2 failed");
    size_t bound = deflateBound(&z, (uLong)in_len);
    buf_reserve(out, bound);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)in_len;
    z.next_out = (Bytef *)buf_tail(out);
    z.avail_out = (uInt)bound;
    int rc = deflate(&z, Z_FINISH);
    out->len += bound - z.avail_out;
    deflateEnd(&z);
    return rc == Z_STREAM_END ? 0 : kv_err_set(err, KV_EINVAL, "GZIP: deflate failed (%d)", rc);
}

int pqc_compress(struct pqc_cctx *cx, int codec, const void *in, size_t in_len, struct buf *out,
                 struct kv_err *err)
{
    switch (codec) {
    case PQ_UNCOMPRESSED:
        buf_append(out, in, in_len);
        return 0;
    case PQ_SNAPPY: {
        size_t n = snappy_max_compressed_length(in_len);
        buf_reserve(out, n);
        if (snappy_compress(in, in_len, buf_tail(out), &n) != SNAPPY_OK)
            return kv_err_set(err, KV_EINVAL, "SNAPPY: compression failed");
        out->len += n;
        return 0;
    }
    case PQ_ZSTD:
        return zstd_compress(cx, in, in_len, out, err);
    case PQ_GZIP:
        return gzip_compress(in, in_len, out, err);
    case PQ_LZ4_RAW: {
        if (in_len > LZ4_MAX_INPUT_SIZE)
            return kv_err_set(err, KV_ELIMIT, "LZ4_RAW: page too large");
        int n = LZ4_compressBound((int)in_len);
        buf_reserve(out, (size_t)n);
        n = LZ4_compress_default(in, buf_tail(out), (int)in_len, n);
        if (n <= 0) return kv_err_set(err, KV_EINVAL, "LZ4_RAW: compression failed");
        out->len += (size_t)n;
        return 0;
    }
    default:
        return kv_err_set(err, KV_EINVAL, "cannot write codec %s", pqc_name(codec));
    }
}

/* GZIP pages may hold several members back to back; each is inflated in turn. */
static int gzip_decompress(const void *in, size_t in_len, void *out, size_t out_len,
                           struct kv_err *err)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 15 + 32) != Z_OK)
        return kv_err_set(err, KV_EINVAL, "GZIP: inflateInit2 failed");
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)in_len;
    z.next_out = out;
    z.avail_out = (uInt)out_len;
    int rc;
    for (;;) {
        rc = inflate(&z, Z_FINISH);
        if (rc == Z_STREAM_END && z.avail_in > 0 && inflateReset(&z) == Z_OK) continue;
        break;
    }
    size_t got = out_len - z.avail_out;
    inflateEnd(&z);
    if (rc != Z_STREAM_END) return kv_err_set(err, KV_EINVAL, "GZIP: corrupt data (zlib %d)", rc);
    if (got != out_len)
        return kv_err_set(err, KV_EINVAL, "GZIP: page inflated to %zu bytes, header says %zu", got,
                          out_len);
    return 0;
}

static int size_mismatch(struct kv_err *err, int codec, size_t got, size_t want)
{
    return kv_err_set(err, KV_EINVAL, "%s: page decompressed to %zu bytes, header says %zu",
                      pqc_name(codec), got, want);
}

int pqc_decompress(int codec, const void *in, size_t in_len, void *out, size_t out_len,
                   struct kv_err *err)
{
    if (in_len > UINT32_MAX || out_len > UINT32_MAX)
        return kv_err_set(err, KV_ELIMIT, "%s: page larger than 4 GiB", pqc_name(codec));
    switch (codec) {
    case PQ_UNCOMPRESSED:
        if (in_len != out_len) return size_mismatch(err, codec, in_len, out_len);
        memcpy(out, in, in_len);
        return 0;
    case PQ_SNAPPY: {
        size_t n;
        if (snappy_uncompressed_length(in, in_len, &n) != SNAPPY_OK)
            return kv_err_set(err, KV_EINVAL, "SNAPPY: corrupt data");
        if (n != out_len) return size_mismatch(err, codec, n, out_len);
        if (snappy_uncompress(in, in_len, out, &n) != SNAPPY_OK)
            return kv_err_set(err, KV_EINVAL, "SNAPPY: corrupt data");
        return 0;
    }
    case PQ_ZSTD: {
        size_t n = ZSTD_decompress(out, out_len, in, in_len);
        if (ZSTD_isError(n)) return kv_err_set(err, KV_EINVAL, "ZSTD: %s", ZSTD_getErrorName(n));
        return n == out_len ? 0 : size_mismatch(err, codec, n, out_len);
    }
    case PQ_GZIP:
        return gzip_decompress(in, in_len, out, out_len, err);
    case PQ_LZ4_RAW: {
        if (in_len > INT32_MAX || out_len > INT32_MAX)
            return kv_err_set(err, KV_ELIMIT, "LZ4_RAW: page too large");
        int n = LZ4_decompress_safe(in, out, (int)in_len, (int)out_len);
        if (n < 0) return kv_err_set(err, KV_EINVAL, "LZ4_RAW: corrupt data");
        return (size_t)n == out_len ? 0 : size_mismatch(err, codec, (size_t)n, out_len);
    }
    default:
        return kv_err_set(err, KV_EINVAL, "unsupported compression codec %s (id %d)",
                          pqc_name(codec), codec);
    }
}
