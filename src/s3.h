/*
 * s3.h - a small S3 client: object PUT / GET / DELETE, conditional writes and multipart
 * uploads, signed with AWS Signature Version 4 (libcurl's CURLOPT_AWS_SIGV4).
 *
 * Addressing: with an endpoint (an S3-compatible store) requests go path-style to
 * <endpoint>/<bucket>/<key>; without one, to https://<bucket>.s3.<region>.amazonaws.com/<key>
 * (path-style https://s3.<region>.amazonaws.com/<bucket>/<key> when the bucket name has a dot,
 * which a virtual host's certificate would not cover). Keys are limited to the characters
 * s3_key_ok accepts, so they never need escaping in the signed path.
 *
 * Every body is sent with x-amz-content-sha256: UNSIGNED-PAYLOAD and, for single PUTs and
 * parts, an x-amz-checksum-crc32c that S3 verifies, so a body damaged in transit is refused.
 *
 * Errors: every call returns 0 when S3 answered 2xx and -1 otherwise, with res->status (0 when
 * no HTTP answer came: DNS, connect, timeout), res->code (S3's error code, e.g. NoSuchKey,
 * PreconditionFailed, SignatureDoesNotMatch, or a curl error name) and err's message naming
 * the request. Nothing is retried here: the caller decides (s3store backs off).
 *
 * Threads: a struct s3 is used by one thread at a time (it keeps one connection open).
 * s3_global_init must run once before any thread uses one.
 */
#ifndef PANDA_S3_H
#define PANDA_S3_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define S3_STR_MAX          256
#define S3_URL_MAX          2048
#define S3_KEY_MAX          512
#define S3_ETAG_MAX         128
#define S3_UPLOAD_ID_MAX    1024
#define S3_ERR_BODY_MAX     4096 /* bytes of an error reply kept to find its code */
#define S3_CONNECT_MS       3000
#define S3_SMALL_BYTES      (1u << 20) /* bodies up to this size are "small" requests */
#define S3_SMALL_TIMEOUT_MS 20000      /* whole-request limit for small requests */
#define S3_STALL_SECONDS    20         /* a transfer slower than 1 KiB/s this long is abandoned */

struct s3_config {
    char endpoint[S3_URL_MAX]; /* "" = AWS */
    char bucket[S3_STR_MAX];
    char region[S3_STR_MAX];
    char key_id[S3_STR_MAX];
    char secret[S3_STR_MAX];
    char token[S3_URL_MAX]; /* session token, "" if none */
};

/* What S3 answered. */
struct s3_res {
    long status;                         /* HTTP status, 0 if none */
    char code[64];                       /* S3 error code or curl error; "" on success */
    char etag[S3_ETAG_MAX];              /* ETag header, quotes included */
    int64_t last_modified_ms;            /* Last-Modified header, -1 if absent */
    int64_t date_ms;                     /* Date header (S3's clock), -1 if absent */
    uint64_t bytes_sent, bytes_received; /* body bytes */
};

/* Conditions for a write: if_none_match = "*" creates only, if_match = an ETag replaces only
 * that version. Either may be NULL. */
struct s3_cond {
    const char *if_none_match;
    const char *if_match;
};

struct s3;

int s3_global_init(struct kv_err *err);
/* 1 if every character of key is one S3 never needs escaped here: A-Z a-z 0-9 / . _ - */
int s3_key_ok(const char *key);
int s3_bucket_ok(const char *bucket);

struct s3 *s3_new(const struct s3_config *cfg, struct kv_err *err);
void s3_free(struct s3 *s3);
/* "s3://bucket" for messages. */
const char *s3_bucket(const struct s3 *s3);

int s3_put(struct s3 *s3, const char *key, const void *body, size_t n, const struct s3_cond *cond,
           struct s3_res *res, struct kv_err *err);
/* PUT of bytes [off, off + n) of fd. */
int s3_put_fd(struct s3 *s3, const char *key, int fd, uint64_t off, uint64_t n, struct s3_res *res,
              struct kv_err *err);
/* GET into out (appended), at most max bytes. */
int s3_get(struct s3 *s3, const char *key, struct buf *out, size_t max, struct s3_res *res,
           struct kv_err *err);
/* GET written to fd from its current offset, at most max bytes. */
int s3_get_fd(struct s3 *s3, const char *key, int fd, uint64_t max, struct s3_res *res,
              struct kv_err *err);
int s3_delete(struct s3 *s3, const char *key, struct s3_res *res, struct kv_err *err);

/* Multipart upload: create (fills upload_id), parts numbered from 1 (each but the last at
 * least 5 MiB; fills etag), complete with the parts' ETags in order (cond as for s3_put),
 * abort (frees the parts; stores that lack it answer an error, which the caller may ignore). */
int s3_mpu_create(struct s3 *s3, const char *key, char upload_id[S3_UPLOAD_ID_MAX],
                  struct s3_res *res, struct kv_err *err);
int s3_mpu_part(struct s3 *s3, const char *key, const char *upload_id, int part, int fd,
                uint64_t off, uint64_t n, char etag[S3_ETAG_MAX], struct s3_res *res,
                struct kv_err *err);
int s3_mpu_complete(struct s3 *s3, const char *key, const char *upload_id,
                    char (*etags)[S3_ETAG_MAX], int nparts, struct s3_res *res, struct kv_err *err);
int s3_mpu_abort(struct s3 *s3, const char *key, const char *upload_id, struct s3_res *res,
                 struct kv_err *err);

#endif
