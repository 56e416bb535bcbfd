/* jsonsnap.c - the legacy JSON snapshot reader (see jsonsnap.h). A small recursive-descent
 * parser over the mapped file: strings are decoded into a scratch buffer, other values are
 * checked against the JSON grammar and copied without their insignificant whitespace. */
#include "jsonsnap.h"

#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "util.h"

struct jp {
    const char *path;
    const char *start, *p, *end;
    int depth;
    struct buf key, val; /* the member being read */
    struct kv_err *err;
};

static int fail(struct jp *j, const char *at, const char *what)
{
    int line = 1;
    const char *bol = j->start;
    for (const char *q = j->start; q < at; q++)
        if (*q == '\n') line++, bol = q + 1;
    return kv_err_set(j->err, KV_EINVAL, "%s: malformed JSON at line %d, column %zu (byte %zu): %s",
                      j->path, line, (size_t)(at - bol) + 1, (size_t)(at - j->start), what);
}

static void skip_ws(struct jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int hex4(struct jp *j, unsigned *out)
{
    if (j->end - j->p < 4) return fail(j, j->p, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = j->p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return fail(j, j->p + i, "bad hex digit in \\u escape");
        v = v << 4 | (unsigned)d;
    }
    j->p += 4;
    *out = v;
    return 0;
}

static void put_utf8(struct buf *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
    } else {
        u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
    }
    buf_append(b, u, n);
}

/* A \u escape (four hex digits), joined with the low half that must follow a high surrogate. */
static int unicode_escape(struct jp *j, struct buf *out)
{
    const char *at = j->p - 2;
    unsigned cp, lo;
    if (hex4(j, &cp) != 0) return -1;
    if (cp >= 0xdc00 && cp <= 0xdfff) return fail(j, at, "lone low surrogate in \\u escape");
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
            return fail(j, at, "high surrogate without its low half");
        j->p += 2;
        if (hex4(j, &lo) != 0) return -1;
        if (lo < 0xdc00 || lo > 0xdfff) return fail(j, at, "bad surrogate pair");
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    if (out) put_utf8(out, cp);
    return 0;
}

static int escape(struct jp *j, struct buf *out)
{
    if (j->p >= j->end) return fail(j, j->p, "unterminated string");
    char c = *j->p++, d;
    switch (c) {
    case '"':
        d = '"';
        break;
    case '\\':
        d = '\\';
        break;
    case '/':
        d = '/';
        break;
    case 'b':
        d = '\b';
        break;
    case 'f':
        d = '\f';
        break;
    case 'n':
        d = '\n';
        break;
    case 'r':
        d = '\r';
        break;
    case 't':
        d = '\t';
        break;
    case 'u':
        return unicode_escape(j, out);
    default:
        return fail(j, j->p - 2, "unknown escape in string");
    }
    if (out) buf_append_char(out, d);
    return 0;
}

/* A string at j->p ('"'); decoded into out (if not NULL). */
static int string(struct jp *j, struct buf *out)
{
    const char *open = j->p++;
    for (;;) {
        const char *run = j->p;
        while (j->p < j->end && *j->p != '"' && *j->p != '\\' && (unsigned char)*j->p >= 0x20)
            j->p++;
        if (!util_utf8_valid(run, (size_t)(j->p - run)))
            return fail(j, run, "string is not valid UTF-8");
        if (out) buf_append(out, run, (size_t)(j->p - run));
        if (j->p >= j->end) return fail(j, open, "unterminated string");
        if (*j->p == '"') {
            j->p++;
            return 0;
        }
        if (*j->p != '\\') return fail(j, j->p, "control character in string");
        j->p++;
        if (escape(j, out) != 0) return -1;
    }
}

static int digits(struct jp *j)
{
    const char *s = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > s ? 0 : fail(j, j->p, "digit expected in number");
}

static int number(struct jp *j)
{
    if (*j->p == '-') j->p++;
    if (j->p < j->end && *j->p == '0') {
        j->p++;
    } else if (digits(j) != 0) {
        return -1;
    }
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (digits(j) != 0) return -1;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
        if (digits(j) != 0) return -1;
    }
    return 0;
}

static int value(struct jp *j, struct buf *out);

/* The members of an object or the items of an array after its opening bracket; copies the
 * compact text to out. */
static int container(struct jp *j, struct buf *out, char close)
{
    if (++j->depth > JSONSNAP_MAX_DEPTH) return fail(j, j->p - 1, "nested too deeply");
    skip_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        buf_append_char(out, close);
        j->depth--;
        return 0;
    }
    for (;;) {
        skip_ws(j);
        if (close == '}') {
            const char *k = j->p;
            if (k >= j->end || *k != '"') return fail(j, k, "object key (a string) expected");
            if (string(j, NULL) != 0) return -1;
            buf_append(out, k, (size_t)(j->p - k));
            skip_ws(j);
            if (j->p >= j->end || *j->p != ':') return fail(j, j->p, "':' expected");
            j->p++;
            buf_append_char(out, ':');
            skip_ws(j);
        }
        if (value(j, out) != 0) return -1;
        skip_ws(j);
        if (j->p < j->end && (*j->p == ',' || *j->p == close)) {
            buf_append_char(out, *j->p);
            if (*j->p++ == close) break;
            continue;
        }
        return fail(j, j->p, close == '}' ? "',' or '}' expected" : "',' or ']' expected");
    }
    j->depth--;
    return 0;
}

static int literal(struct jp *j, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
        return fail(j, j->p, "unexpected character");
    j->p += n;
    return 0;
}

/* Any value at j->p, copied to out as compact JSON text (strings verbatim). */
static int value(struct jp *j, struct buf *out)
{
    if (j->p >= j->end) return fail(j, j->p, "value expected");
    const char *s = j->p;
    int rc;
    switch (*j->p) {
    case '"':
        rc = string(j, NULL);
        break;
    case '{':
        j->p++, buf_append_char(out, '{');
        return container(j, out, '}');
    case '[':
        j->p++, buf_append_char(out, '[');
        return container(j, out, ']');
    case 't':
        rc = literal(j, "true");
        break;
    case 'f':
        rc = literal(j, "false");
        break;
    case 'n':
        rc = literal(j, "null");
        break;
    default:
        if (*j->p != '-' && (*j->p < '0' || *j->p > '9')) return fail(j, j->p, "value expected");
        rc = number(j);
    }
    if (rc == 0) buf_append(out, s, (size_t)(j->p - s));
    return rc;
}

/* One "key": value member; calls fn (when not NULL) with the decoded key and the value. */
static int member(struct jp *j, jsonsnap_fn fn, void *ctx)
{
    j->key.len = j->val.len = 0;
    if (j->p >= j->end || *j->p != '"') return fail(j, j->p, "object key (a string) expected");
    if (string(j, &j->key) != 0) return -1;
    skip_ws(j);
    if (j->p >= j->end || *j->p != ':') return fail(j, j->p, "':' expected");
    j->p++;
    skip_ws(j);
    int rc = j->p < j->end && *j->p == '"' ? string(j, &j->val) : value(j, &j->val);
    if (rc != 0) return -1;
    if (!fn) return 0;
    return fn(ctx, j->key.data ? j->key.data : "", j->key.len, j->val.data ? j->val.data : "",
              j->val.len, j->err);
}

/* The whole document: one object. With fn NULL it only checks the grammar. */
static int document(struct jp *j, jsonsnap_fn fn, void *ctx, size_t *count)
{
    j->p = j->start;
    skip_ws(j);
    if (j->p >= j->end || *j->p != '{') {
        if (j->p >= j->end) return fail(j, j->p, "the file holds no JSON value");
        return kv_err_set(j->err, KV_EINVAL,
                          "%s: expected a JSON object mapping keys to values at line 1", j->path);
    }
    j->p++;
    skip_ws(j);
    size_t n = 0;
    if (j->p < j->end && *j->p == '}') {
        j->p++;
    } else {
        for (;;) {
            skip_ws(j);
            if (member(j, fn, ctx) != 0) return -1;
            n++;
            skip_ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == '}') {
                j->p++;
                break;
            }
            return fail(j, j->p, "',' or '}' expected");
        }
    }
    skip_ws(j);
    if (j->p != j->end) return fail(j, j->p, "unexpected text after the object");
    *count = n;
    return 0;
}

int jsonsnap_load(const char *path, jsonsnap_fn fn, void *ctx, size_t *count, struct kv_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        kv_err_sys(err, "cannot open %s", path);
        if (fd >= 0) close(fd);
        return -1;
    }
    size_t n = (size_t)st.st_size;
    if ((unsigned long long)st.st_size > JSONSNAP_MAX_BYTES) {
        close(fd);
        return kv_err_set(err, KV_ELIMIT, "%s: %zu bytes, over the %llu-byte limit", path, n,
                          JSONSNAP_MAX_BYTES);
    }
    void *m = n ? mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (m == MAP_FAILED) return kv_err_sys(err, "cannot map %s", path);
    struct jp j = {.path = path, .start = m ? m : "", .err = err};
    j.end = j.start + n;
    size_t members = 0;
    /* Check everything first, so nothing is loaded from a file that turns out malformed. */
    int rc = document(&j, NULL, NULL, &members);
    if (rc == 0) rc = document(&j, fn, ctx, &members);
    if (rc == 0 && count) *count = members;
    buf_deinit(&j.key);
    buf_deinit(&j.val);
    if (m) munmap(m, n);
    return rc;
}
