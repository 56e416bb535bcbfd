/* Unit tests of the HTTP request parser and helpers (src/http.c), with a random-input run
 * that feeds every input whole and byte by byte (built with ASan+UBSan: any over-read or
 * undefined behaviour fails the run). */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "tap.h"

static const struct http_limits LIM = {1024, 1000};

static char buf[4096];
static struct http_req req;

/* Parses s in one piece (copied to buf). */
static long parse(const char *s)
{
    size_t len = strlen(s), scanned = 0;
    memcpy(buf, s, len);
    return http_parse_request(buf, len, &scanned, &LIM, &req);
}

/* Parses s fed one byte at a time; returns the first result that is not HTTP_AGAIN. */
static long parse_bytewise(const char *s, size_t len)
{
    size_t scanned = 0;
    long rc = HTTP_AGAIN;
    memcpy(buf, s, len);
    for (size_t n = 1; n <= len && rc == HTTP_AGAIN; n++)
        rc = http_parse_request(buf, n, &scanned, &LIM, &req);
    return rc;
}

static int path_is(const char *want)
{
    return req.path_len == strlen(want) && memcmp(req.path, want, req.path_len) == 0;
}

static void test_requests(void)
{
    const char *get = "GET /v1/kv/a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n";
    ok(parse(get) == (long)strlen(get), "simple GET: head length");
    ok(req.method == HTTP_GET && path_is("/v1/kv/a") && req.query_len == 3, "method, path, query");
    ok((req.flags & HTTP_KEEP_ALIVE) && req.minor == 1, "HTTP/1.1 keeps the connection");
    ok(req.nheaders == 1 && req.headers[0].value_len == 1, "one header, value trimmed");
    ok(parse_bytewise(get, strlen(get)) == (long)strlen(get), "byte by byte: same head length");
    ok(parse("GET / HTTP/1.1\r\nHost: h\r\n") == HTTP_AGAIN, "no empty line yet: again");
    ok(parse("GET / HTTP/1.1\nHost: h\n\n") == 24, "bare LF line ends");
    ok(parse("PUT /k HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello") == 47 &&
           req.content_length == 5 && req.method == HTTP_PUT,
       "PUT with Content-Length: the body is not part of the head");
    ok(parse("GET / HTTP/1.0\r\n\r\n") > 0 && !(req.flags & HTTP_KEEP_ALIVE),
       "HTTP/1.0 closes by default (and needs no Host)");
    ok(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") > 0 &&
           (req.flags & HTTP_KEEP_ALIVE),
       "HTTP/1.0 keep-alive");
    ok(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, close\r\n\r\n") > 0 &&
           !(req.flags & HTTP_KEEP_ALIVE),
       "Connection: close among tokens");
    ok(parse("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n") >
               0 &&
           (req.flags & HTTP_EXPECT_CONTINUE),
       "Expect: 100-continue");
    ok(parse("PATCH / HTTP/1.1\r\nHost: h\r\n\r\n") > 0 && req.method == HTTP_OTHER,
       "unknown method parses as OTHER");
}

static void test_errors(void)
{
    struct {
        const char *in;
        int status;
        const char *what;
    } cases[] = {
        {"GET\r\n\r\n", 400, "request line without target"},
        {"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "empty target"},
        {"GET x HTTP/1.1\r\nHost: h\r\n\r\n", 400, "target not starting with /"},
        {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, "HTTP/2"},
        {"GET / FTP/1.1\r\nHost: h\r\n\r\n", 400, "not HTTP"},
        {"GET / HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 without Host"},
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "two Hosts"},
        {"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", 400, "obsolete line folding"},
        {"GET / HTTP/1.1\r\nHost h\r\n\r\n", 400, "header without colon"},
        {"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400, "blank before the colon"},
        {"GET / HTTP/1.1\r\nHost: h\x01\r\n\r\n", 400, "control byte in a value"},
        {"GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n", 400, "control byte in the target"},
        {"PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400, "negative length"},
        {"PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400,
         "conflicting lengths"},
        {"PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 1001\r\n\r\n", 413, "body over the limit"},
        {"PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", 411, "chunked body"},
        {"PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
         400, "length and chunked together"},
        {"PUT / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n", 417, "unknown expectation"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long rc = parse(cases[i].in);
        ok(rc == HTTP_BAD && req.status == cases[i].status && req.error != NULL, "%s: %d",
           cases[i].what, cases[i].status);
    }
    char big[2048];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "GET /", 5);
    ok(parse(big) == HTTP_BAD && req.status == 414, "request line over the head limit: 414");
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    ok(parse(big) == HTTP_BAD && req.status == 431, "headers over the head limit: 431");
    char many[2000] = "GET / HTTP/1.1\r\nHost: h\r\n";
    for (int i = 0; i < HTTP_HEADERS_MAX; i++)
        strcat(many, "A: b\r\n");
    strcat(many, "\r\n");
    ok(parse(many) == HTTP_BAD && req.status == 431, "too many header lines: 431");
}

static void test_helpers(void)
{
    char s[64];
    strcpy(s, "a%2Fb%00c+d");
    ok(http_pct_decode(s, strlen(s), 0) == 7 && memcmp(s, "a/b\0c+d", 7) == 0,
       "percent-decoding keeps %%00 and '+' in paths");
    strcpy(s, "a+b%20c");
    ok(http_pct_decode(s, strlen(s), 1) == 5 && memcmp(s, "a b c", 5) == 0, "'+' in queries");
    strcpy(s, "bad%2");
    ok(http_pct_decode(s, strlen(s), 0) == -1, "truncated escape");
    strcpy(s, "bad%zz");
    ok(http_pct_decode(s, strlen(s), 0) == -1, "non-hex escape");
    char q[] = "prefix=ab&limit=10&flag&cursor=";
    char *v;
    size_t vn;
    ok(http_query_get(q, strlen(q), "limit", &v, &vn) == 1 && vn == 2 && memcmp(v, "10", 2) == 0,
       "query parameter found");
    ok(http_query_get(q, strlen(q), "flag", &v, &vn) == 1 && vn == 0, "parameter without =");
    ok(http_query_get(q, strlen(q), "cursor", &v, &vn) == 1 && vn == 0, "empty value");
    ok(http_query_get(q, strlen(q), "lim", &v, &vn) == 0, "no prefix match");
    ok(http_query_get(NULL, 0, "x", &v, &vn) == 0, "no query at all");
    struct buf b;
    buf_init(&b);
    http_json_str(&b, "a\"\\\n\xc3\xa9\xff", 7);
    const char *want = "\"a\\\"\\\\\\u000a\xc3\xa9\\u00ff\"";
    ok(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0,
       "JSON string: escapes, UTF-8 kept, a stray byte as \\u00XX");
    buf_deinit(&b);
}

/* Random heads built from HTTP-like pieces: whole and byte-by-byte parses must agree, and a
 * result is always AGAIN, BAD with a status, or a length within the input. */
static void test_random(void)
{
    static const char *const pieces[] = {
        "GET ",
        "PUT ",
        "/",
        "/v1/kv/",
        "%41",
        "?a=b",
        " HTTP/1.1",
        " HTTP/1.0",
        "\r\n",
        "\n",
        "\r",
        "Host: x",
        ":",
        " ",
        "Content-Length: 3",
        "Transfer-Encoding: chunked",
        "Expect: 100-continue",
        "\t",
        "\x01",
        "\xff",
        "a",
        "HTTP/",
        "Connection: close",
        "\r\n\r\n",
    };
    const size_t np = sizeof(pieces) / sizeof(pieces[0]);
    srandom(7);
    int agree = 1, sane = 1;
    for (int round = 0; round < 20000; round++) {
        char in[512];
        size_t len = 0;
        int n = (int)(random() % 24);
        for (int i = 0; i < n; i++) {
            const char *p = pieces[random() % np];
            size_t pl = strlen(p);
            if (len + pl > sizeof(in)) break;
            memcpy(in + len, p, pl);
            len += pl;
        }
        if (random() % 4 == 0 && len > 0) in[random() % len] = (char)random();
        size_t scanned = 0;
        memcpy(buf, in, len);
        long whole = http_parse_request(buf, len, &scanned, &LIM, &req);
        int st = req.status;
        long bytewise = len ? parse_bytewise(in, len) : whole;
        if (whole != bytewise || (whole == HTTP_BAD && st != req.status)) agree = 0;
        if (!(whole == HTTP_AGAIN || (whole == HTTP_BAD && st >= 400 && st < 600) ||
              (whole > 0 && (size_t)whole <= len)))
            sane = 0;
    }
    ok(sane, "random input: results always in range");
    ok(agree, "random input: byte-by-byte parsing agrees with one piece");
}

int main(void)
{
    test_requests();
    test_errors();
    test_helpers();
    test_random();
    return done();
}
