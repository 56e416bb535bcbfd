/* s3.c - S3 requests over libcurl with SigV4 (see s3.h). */
#include "s3.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "alloc.h"
#include "crc32c.h"

struct s3 {
    struct s3_config cfg;
    CURL *curl;
    char base[S3_URL_MAX]; /* URL up to the key: ".../bucket/" or "https://bucket.host/" */
    char provider[S3_STR_MAX + 32];
    char userpwd[2 * S3_STR_MAX + 2];
    char name[S3_STR_MAX + 8];
};

/* One request: its body source, where the reply goes, and what came back. */
struct req {
    const char *method;
    const char *key;
    const char *query; /* "" or "?a=b&c=d", names sorted (libcurl 7.88 signs it as written) */
    /* body: from memory or from a file range */
    const char *mem;
    int fd;
    uint64_t off, len, sent;
    /* reply */
    struct buf *out;
    uint64_t out_max; /* bytes the reply body may have */
    int out_fd;
    struct buf err_body;
    int write_failed;
    struct s3_res *res;
};

static int isalnum_ascii(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int s3_global_init(struct kv_err *err)
{
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) return kv_err_set(err, KV_EINVAL, "libcurl: %s", curl_easy_strerror(rc));
    return 0;
}

int s3_key_ok(const char *key)
{
    if (!*key || strlen(key) >= S3_KEY_MAX) return 0;
    for (const char *p = key; *p; p++)
        if (!(isalnum_ascii(*p) || *p == '/' || *p == '.' || *p == '_' || *p == '-')) return 0;
    return 1;
}

int s3_bucket_ok(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63) return 0;
    for (const char *p = b; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
            return 0;
    return 1;
}

struct s3 *s3_new(const struct s3_config *cfg, struct kv_err *err)
{
    if (!s3_bucket_ok(cfg->bucket)) {
        kv_err_set(err, KV_EINVAL, "invalid S3 bucket name '%s'", cfg->bucket);
        return NULL;
    }
    struct s3 *s3 = kv_calloc(1, sizeof(*s3));
    s3->cfg = *cfg;
    s3->curl = curl_easy_init();
    if (!s3->curl) {
        kv_free(s3);
        kv_err_set(err, KV_EINVAL, "libcurl: cannot create a handle");
        return NULL;
    }
    const char *ep = cfg->endpoint;
    size_t n = strlen(ep);
    while (n > 0 && ep[n - 1] == '/')
        n--;
    if (n > 0)
        snprintf(s3->base, sizeof(s3->base), "%.*s/%s/", (int)n, ep, cfg->bucket);
    else if (strchr(cfg->bucket, '.'))
        snprintf(s3->base, sizeof(s3->base), "https://s3.%s.amazonaws.com/%s/", cfg->region,
                 cfg->bucket);
    else
        snprintf(s3->base, sizeof(s3->base), "https://%s.s3.%s.amazonaws.com/", cfg->bucket,
                 cfg->region);
    snprintf(s3->provider, sizeof(s3->provider), "aws:amz:%s:s3", cfg->region);
    snprintf(s3->userpwd, sizeof(s3->userpwd), "%s:%s", cfg->key_id, cfg->secret);
    snprintf(s3->name, sizeof(s3->name), "s3://%s", cfg->bucket);
    return s3;
}

void s3_free(struct s3 *s3)
{
    if (!s3) return;
    curl_easy_cleanup(s3->curl);
    kv_free(s3);
}

const char *s3_bucket(const struct s3 *s3)
{
    return s3->name;
}

/* ---- transfer callbacks ---- */

static size_t on_read(char *dst, size_t size, size_t nitems, void *arg)
{
    struct req *r = arg;
    size_t want = size * nitems;
    uint64_t left = r->len - r->sent;
    if (want > left) want = (size_t)left;
    if (want == 0) return 0;
    if (r->mem) {
        memcpy(dst, r->mem + r->sent, want);
    } else {
        ssize_t got = pread(r->fd, dst, want, (off_t)(r->off + r->sent));
        if (got <= 0) return CURL_READFUNC_ABORT; /* the file shrank or failed */
        want = (size_t)got;
    }
    r->sent += want;
    return want;
}

static int success(const struct req *r)
{
    return r->res->status >= 200 && r->res->status < 300;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *arg)
{
    struct req *r = arg;
    size_t n = size * nmemb;
    if (!success(r)) { /* an error body: keep its start for the code */
        size_t room = S3_ERR_BODY_MAX - r->err_body.len;
        buf_append(&r->err_body, p, n < room ? n : room);
        return n;
    }
    r->res->bytes_received += n;
    if (r->out_fd >= 0 && r->res->bytes_received > r->out_max) {
        r->write_failed = EFBIG;
        return 0;
    }
    if (r->out_fd >= 0) {
        const char *c = p;
        for (size_t left = n; left > 0;) {
            ssize_t k = write(r->out_fd, c, left);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) {
                r->write_failed = errno ? errno : EIO;
                return 0;
            }
            c += k;
            left -= (size_t)k;
        }
        return n;
    }
    if (r->out) {
        if (r->out->len + n > r->out_max) {
            r->write_failed = EFBIG;
            return 0;
        }
        buf_append(r->out, p, n);
    }
    return n;
}

/* Copies a header's value (trimmed) into out if line is "name: value". */
static int header_value(const char *line, size_t n, const char *name, char *out, size_t cap)
{
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':') return 0;
    const char *v = line + k + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    snprintf(out, cap, "%.*s", (int)(end - v), v);
    return 1;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *arg)
{
    struct req *r = arg;
    size_t n = size * nitems;
    char v[S3_ETAG_MAX];
    if (n > 5 && strncmp(line, "HTTP/", 5) == 0) { /* a new status line: reset */
        r->res->status = 0;
        sscanf(line, "HTTP/%*s %ld", &r->res->status);
    } else if (header_value(line, n, "ETag", v, sizeof(v))) {
        snprintf(r->res->etag, sizeof(r->res->etag), "%s", v);
    } else if (header_value(line, n, "Last-Modified", v, sizeof(v))) {
        time_t t = curl_getdate(v, NULL);
        if (t >= 0) r->res->last_modified_ms = (int64_t)t * 1000;
    } else if (header_value(line, n, "Date", v, sizeof(v))) {
        time_t t = curl_getdate(v, NULL);
        if (t >= 0) r->res->date_ms = (int64_t)t * 1000;
    }
    return n;
}

/* ---- one request ---- */

/* Finds <tag>text</tag> in an XML body. */
static int xml_text(const char *xml, size_t n, const char *tag, char *out, size_t cap)
{
    char open[64], close[64];
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    const char *a = memmem(xml, n, open, strlen(open));
    if (!a) return 0;
    a += strlen(open);
    const char *b = memmem(a, n - (size_t)(a - xml), close, strlen(close));
    if (!b) return 0;
    snprintf(out, cap, "%.*s", (int)(b - a), a);
    return 1;
}

/* base64 of the big-endian CRC32C of the body, for x-amz-checksum-crc32c. */
static int body_crc(const struct req *r, char out[16], struct kv_err *err)
{
    uint32_t crc = 0;
    if (r->mem) {
        crc = crc32c(r->mem, (size_t)r->len);
    } else {
        char chunk[1 << 16];
        for (uint64_t done = 0; done < r->len;) {
            size_t want = r->len - done < sizeof(chunk) ? (size_t)(r->len - done) : sizeof(chunk);
            ssize_t got = pread(r->fd, chunk, want, (off_t)(r->off + done));
            if (got <= 0) {
                if (got == 0) errno = EIO;
                return kv_err_sys(err, "cannot read the body of PUT %s", r->key);
            }
            crc = crc32c_extend(crc, chunk, (size_t)got);
            done += (uint64_t)got;
        }
    }
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char be[4] = {(unsigned char)(crc >> 24), (unsigned char)(crc >> 16),
                           (unsigned char)(crc >> 8), (unsigned char)crc};
    out[0] = b64[be[0] >> 2];
    out[1] = b64[((be[0] & 3) << 4) | (be[1] >> 4)];
    out[2] = b64[((be[1] & 15) << 2) | (be[2] >> 6)];
    out[3] = b64[be[2] & 63];
    out[4] = b64[be[3] >> 2];
    out[5] = b64[(be[3] & 3) << 4];
    out[6] = out[7] = '=';
    out[8] = 0;
    return 0;
}

static struct curl_slist *add_header(struct curl_slist *h, const char *name, const char *value)
{
    char line[S3_URL_MAX + 64];
    snprintf(line, sizeof(line), "%s: %s", name, value);
    struct curl_slist *n = curl_slist_append(h, line);
    kv_assert(n != NULL); /* only fails when out of memory */
    return n;
}

static void setup(struct s3 *s3, struct req *r, const char *url, struct curl_slist *hdrs)
{
    CURL *c = s3->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, s3->provider);
    curl_easy_setopt(c, CURLOPT_USERPWD, s3->userpwd);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)S3_CONNECT_MS);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)S3_STALL_SECONDS);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    if (r->len <= S3_SMALL_BYTES && r->out_fd < 0 && (!r->out || r->out_max <= S3_SMALL_BYTES))
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)S3_SMALL_TIMEOUT_MS);
    if (strcmp(r->method, "PUT") == 0) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, r);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->len);
    } else if (strcmp(r->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->mem ? r->mem : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
    } else if (strcmp(r->method, "DELETE") == 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
}

/* Sends r; fills r->res and err. extra: more headers (conditions, checksum). */
static int perform(struct s3 *s3, struct req *r, struct curl_slist *extra, struct kv_err *err)
{
    struct s3_res *res = r->res;
    memset(res, 0, sizeof(*res));
    res->last_modified_ms = res->date_ms = -1;
    buf_init(&r->err_body);
    char url[S3_URL_MAX + S3_KEY_MAX + S3_UPLOAD_ID_MAX + 64];
    snprintf(url, sizeof(url), "%s%s%s", s3->base, r->key, r->query);
    struct curl_slist *h = extra;
    h = add_header(h, "x-amz-content-sha256", "UNSIGNED-PAYLOAD");
    if (s3->cfg.token[0]) h = add_header(h, "x-amz-security-token", s3->cfg.token);
    setup(s3, r, url, h);
    CURLcode cc = curl_easy_perform(s3->curl);
    curl_slist_free_all(h);
    res->bytes_sent = r->sent;
    int rc = 0;
    if (cc != CURLE_OK && !(r->write_failed && success(r))) {
        res->status = 0;
        snprintf(res->code, sizeof(res->code), "%s", curl_easy_strerror(cc));
        rc = kv_err_set(err, KV_ESYS, "%s %s/%s%s: %s", r->method, s3->name, r->key, r->query,
                        curl_easy_strerror(cc));
    } else if (r->write_failed) {
        errno = r->write_failed;
        rc = kv_err_sys(err, "%s %s/%s: cannot store the reply", r->method, s3->name, r->key);
        snprintf(res->code, sizeof(res->code), "LocalWriteFailed");
    } else if (!success(r)) {
        char msg[160] = "";
        if (!xml_text(r->err_body.data ? r->err_body.data : "", r->err_body.len, "Code", res->code,
                      sizeof(res->code)))
            snprintf(res->code, sizeof(res->code), "HTTP%ld", res->status);
        xml_text(r->err_body.data ? r->err_body.data : "", r->err_body.len, "Message", msg,
                 sizeof(msg));
        rc = kv_err_set(err, KV_EINVAL, "%s %s/%s: HTTP %ld %s%s%s", r->method, s3->name, r->key,
                        res->status, res->code, msg[0] ? ": " : "", msg);
    }
    buf_deinit(&r->err_body);
    return rc;
}

static struct req new_req(const char *method, const char *key, struct s3_res *res)
{
    return (struct req){
        .method = method, .key = key, .query = "", .fd = -1, .out_fd = -1, .res = res};
}

static struct curl_slist *cond_headers(const struct s3_cond *cond)
{
    struct curl_slist *h = NULL;
    if (cond && cond->if_none_match) h = add_header(h, "If-None-Match", cond->if_none_match);
    if (cond && cond->if_match) h = add_header(h, "If-Match", cond->if_match);
    return h;
}

static int put_req(struct s3 *s3, struct req *r, struct curl_slist *h, struct kv_err *err)
{
    char crc[16];
    if (body_crc(r, crc, err) != 0) {
        curl_slist_free_all(h);
        r->res->status = 0;
        return -1;
    }
    h = add_header(h, "x-amz-checksum-crc32c", crc);
    return perform(s3, r, h, err);
}

int s3_put(struct s3 *s3, const char *key, const void *body, size_t n, const struct s3_cond *cond,
           struct s3_res *res, struct kv_err *err)
{
    struct req r = new_req("PUT", key, res);
    r.mem = n ? body : "";
    r.len = n;
    return put_req(s3, &r, cond_headers(cond), err);
}

int s3_put_fd(struct s3 *s3, const char *key, int fd, uint64_t off, uint64_t n, struct s3_res *res,
              struct kv_err *err)
{
    struct req r = new_req("PUT", key, res);
    r.fd = fd;
    r.off = off;
    r.len = n;
    return put_req(s3, &r, NULL, err);
}

int s3_get(struct s3 *s3, const char *key, struct buf *out, size_t max, struct s3_res *res,
           struct kv_err *err)
{
    struct req r = new_req("GET", key, res);
    r.out = out;
    r.out_max = out->len + max;
    return perform(s3, &r, NULL, err);
}

int s3_get_fd(struct s3 *s3, const char *key, int fd, uint64_t max, struct s3_res *res,
              struct kv_err *err)
{
    struct req r = new_req("GET", key, res);
    r.out_fd = fd;
    r.out_max = max;
    return perform(s3, &r, NULL, err);
}

int s3_delete(struct s3 *s3, const char *key, struct s3_res *res, struct kv_err *err)
{
    struct req r = new_req("DELETE", key, res);
    return perform(s3, &r, NULL, err);
}

/* ---- multipart ---- */

/* ?name=value with value percent-encoded (RFC 3986 unreserved kept). */
static void query_param(char *out, size_t cap, const char *sep, const char *name, const char *v)
{
    size_t k = (size_t)snprintf(out, cap, "%s%s=", sep, name);
    for (const unsigned char *p = (const unsigned char *)v; *p && k + 4 < cap; p++) {
        if (isalnum_ascii((char)*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~')
            out[k++] = (char)*p;
        else
            k += (size_t)snprintf(out + k, cap - k, "%%%02X", *p);
    }
    out[k] = 0;
}

int s3_mpu_create(struct s3 *s3, const char *key, char upload_id[S3_UPLOAD_ID_MAX],
                  struct s3_res *res, struct kv_err *err)
{
    struct buf out;
    buf_init(&out);
    struct req r = new_req("POST", key, res);
    r.query = "?uploads=";
    r.out = &out;
    r.out_max = 64 * 1024;
    int rc = perform(s3, &r, NULL, err);
    if (rc == 0 &&
        !xml_text(out.data ? out.data : "", out.len, "UploadId", upload_id, S3_UPLOAD_ID_MAX))
        rc = kv_err_set(err, KV_EINVAL, "POST %s/%s?uploads: no UploadId in the reply", s3->name,
                        key);
    buf_deinit(&out);
    return rc;
}

int s3_mpu_part(struct s3 *s3, const char *key, const char *upload_id, int part, int fd,
                uint64_t off, uint64_t n, char etag[S3_ETAG_MAX], struct s3_res *res,
                struct kv_err *err)
{
    char q[S3_UPLOAD_ID_MAX * 3 + 64], num[16];
    snprintf(num, sizeof(num), "%d", part);
    query_param(q, sizeof(q), "?", "partNumber", num);
    query_param(q + strlen(q), sizeof(q) - strlen(q), "&", "uploadId", upload_id);
    struct req r = new_req("PUT", key, res);
    r.query = q;
    r.fd = fd;
    r.off = off;
    r.len = n;
    int rc = put_req(s3, &r, NULL, err);
    if (rc == 0) snprintf(etag, S3_ETAG_MAX, "%s", res->etag);
    return rc;
}

int s3_mpu_complete(struct s3 *s3, const char *key, const char *upload_id,
                    char (*etags)[S3_ETAG_MAX], int nparts, struct s3_res *res, struct kv_err *err)
{
    char q[S3_UPLOAD_ID_MAX * 3 + 32];
    query_param(q, sizeof(q), "?", "uploadId", upload_id);
    struct buf body;
    buf_init(&body);
    buf_append_str(&body, "<CompleteMultipartUpload>");
    for (int i = 0; i < nparts; i++)
        buf_printf(&body, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i + 1,
                   etags[i]);
    buf_append_str(&body, "</CompleteMultipartUpload>");
    struct buf out;
    buf_init(&out);
    struct req r = new_req("POST", key, res);
    r.query = q;
    r.mem = body.data;
    r.len = body.len;
    r.out = &out;
    r.out_max = 64 * 1024;
    int rc = perform(s3, &r, NULL, err);
    /* S3 may answer 200 and put the failure in the body. */
    char code[64];
    if (rc == 0 && out.len && xml_text(out.data, out.len, "Code", code, sizeof(code))) {
        snprintf(res->code, sizeof(res->code), "%s", code);
        rc = kv_err_set(err, KV_EINVAL, "completing the upload of %s/%s failed: %s", s3->name, key,
                        code);
    }
    buf_deinit(&out);
    buf_deinit(&body);
    return rc;
}

int s3_mpu_abort(struct s3 *s3, const char *key, const char *upload_id, struct s3_res *res,
                 struct kv_err *err)
{
    char q[S3_UPLOAD_ID_MAX * 3 + 32];
    query_param(q, sizeof(q), "?", "uploadId", upload_id);
    struct req r = new_req("DELETE", key, res);
    r.query = q;
    return perform(s3, &r, NULL, err);
}
