/*
 * parquet.h - Apache Parquet constants shared by the writer (pqwrite) and the reader (pqread):
 * the enums of parquet.thrift that Panda uses, and the names of Panda's three columns.
 * Header only; no state.
 */
#ifndef PANDA_PARQUET_H
#define PANDA_PARQUET_H

#define PQ_MAGIC     "PAR1"
#define PQ_MAGIC_LEN 4

/* The columns of a Panda snapshot, and the key-value metadata keys it writes. */
#define PQ_COL_KEY        "key"
#define PQ_COL_VALUE      "value"
#define PQ_COL_EXPIRE     "expire_at_ms"
#define PQ_META_VERSION   "panda.format_version"
#define PQ_META_LSN       "panda.wal_lsn"
#define PQ_FORMAT_VERSION 1

enum pq_type {
    PQ_BOOLEAN = 0,
    PQ_INT32 = 1,
    PQ_INT64 = 2,
    PQ_INT96 = 3,
    PQ_FLOAT = 4,
    PQ_DOUBLE = 5,
    PQ_BYTE_ARRAY = 6,
    PQ_FIXED_LEN_BYTE_ARRAY = 7,
};

enum pq_repetition { PQ_REQUIRED = 0, PQ_OPTIONAL = 1, PQ_REPEATED = 2 };

enum pq_converted { PQ_CONV_UTF8 = 0, PQ_CONV_INT_64 = 18 };

enum pq_encoding {
    PQ_ENC_PLAIN = 0,
    PQ_ENC_PLAIN_DICTIONARY = 2,
    PQ_ENC_RLE = 3,
    PQ_ENC_BIT_PACKED = 4,
    PQ_ENC_DELTA_BINARY_PACKED = 5,
    PQ_ENC_DELTA_LENGTH_BYTE_ARRAY = 6,
    PQ_ENC_DELTA_BYTE_ARRAY = 7,
    PQ_ENC_RLE_DICTIONARY = 8,
    PQ_ENC_BYTE_STREAM_SPLIT = 9,
};

enum pq_codec {
    PQ_UNCOMPRESSED = 0,
    PQ_SNAPPY = 1,
    PQ_GZIP = 2,
    PQ_LZO = 3,
    PQ_BROTLI = 4,
    PQ_LZ4 = 5, /* deprecated Hadoop framing; not supported */
    PQ_ZSTD = 6,
    PQ_LZ4_RAW = 7,
};

enum pq_page_type {
    PQ_DATA_PAGE = 0,
    PQ_INDEX_PAGE = 1,
    PQ_DICTIONARY_PAGE = 2,
    PQ_DATA_PAGE_V2 = 3,
};

#endif
