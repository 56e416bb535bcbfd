/* Unit tests of the request parser (src/resp.c), including input fed one byte at a time. */
#include <stdlib.h>
#include <string.h>

#include "resp.h"
#include "tap.h"

static const struct resp_limits lim = {64, 1024, 8};

/* Feeds `in` to a parser `chunk` bytes at a time, as a connection would (keeping the bytes of
 * a partial command). Writes each command's arguments joined by '|' into out, commands
 * separated by ';'. Returns the last status. */
static int feed(const char *in, size_t len, size_t chunk, char *out, const char **err)
{
    struct resp_parser p;
    resp_parser_init(&p, &lim);
    char *buf = malloc(len + 1);
    size_t have = 0, fed = 0;
    int rc = RESP_AGAIN;
    out[0] = '\0';
    while (fed < len) {
        size_t n = len - fed < chunk ? len - fed : chunk;
        memcpy(buf + have, in + fed, n);
        have += n;
        fed += n;
        for (;;) {
            size_t used = 0;
            rc = resp_parse(&p, buf, have, &used);
            if (rc != RESP_DONE) break;
            for (size_t i = 0; i < p.argc; i++) {
                strncat(out, buf + p.args[i].off, p.args[i].len);
                if (i + 1 < p.argc) strcat(out, "|");
            }
            strcat(out, ";");
            memmove(buf, buf + used, have - used);
            have -= used;
        }
        if (rc == RESP_ERROR) break;
    }
    if (err) *err = rc == RESP_ERROR ? p.errmsg : NULL;
    free(buf);
    resp_parser_deinit(&p);
    return rc;
}

static void both_ways(const char *name, const char *in, const char *want)
{
    char out[4096];
    size_t len = strlen(in);
    feed(in, len, len, out, NULL);
    ok(strcmp(out, want) == 0, "%s, whole (got '%s')", name, out);
    feed(in, len, 1, out, NULL);
    ok(strcmp(out, want) == 0, "%s, one byte at a time (got '%s')", name, out);
    feed(in, len, 3, out, NULL);
    ok(strcmp(out, want) == 0, "%s, three bytes at a time", name);
}

static void expect_error(const char *name, const char *in, const char *msg)
{
    char out[4096];
    const char *err = NULL;
    int rc = feed(in, strlen(in), 1, out, &err);
    ok(rc == RESP_ERROR && err && strcmp(err, msg) == 0, "%s -> '%s' (got '%s')", name, msg,
       err ? err : "none");
}

int main(void)
{
    both_ways("one command", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n", "SET|k|hello;");
    both_ways("pipeline", "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "PING;GET|k;");
    both_ways("binary bulk", "*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\n", "ECHO|a\r\nb;");
    both_ways("empty bulk", "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", "ECHO|;");
    both_ways("inline", "SET k v\r\nGET k\n", "SET|k|v;GET|k;");
    both_ways("inline quotes", "SET k \"a b\"\r\n", "SET|k|a b;");
    both_ways("empty inline line and *0", "\r\n*0\r\nPING\r\n", ";;PING;");
    both_ways("mixed inline and RESP", "PING\r\n*1\r\n$4\r\nPING\r\n", "PING;PING;");
    expect_error("bad count", "*abc\r\n", "invalid multibulk length");
    expect_error("too many args", "*9\r\n", "invalid multibulk length");
    expect_error("missing $", "*1\r\n+PING\r\n", "expected '$', got '+'");
    expect_error("bad bulk length", "*1\r\n$x\r\n", "invalid bulk length");
    expect_error("negative bulk length", "*1\r\n$-5\r\n", "invalid bulk length");
    expect_error("bulk over the limit", "*1\r\n$1025\r\n", "invalid bulk length");
    expect_error("unbalanced quotes", "SET k \"v\r\n", "unbalanced quotes in request");

    char big[200];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    expect_error("inline line over the limit", big, "too big inline request");
    char cnt[100] = "*";
    memset(cnt + 1, '1', 80);
    expect_error("count line over the limit", cnt, "too big mbulk count string");

    /* A declared 1000-byte bulk with only 10 bytes sent: the parser waits and reserves only
     * slots for arguments, never the declared length. */
    struct resp_parser p;
    resp_parser_init(&p, &lim);
    char part[] = "*2\r\n$4\r\nECHO\r\n$1000\r\n0123456789";
    size_t used;
    ok(resp_parse(&p, part, strlen(part), &used) == RESP_AGAIN, "partial bulk waits");
    ok(p.args_cap <= 16, "no allocation in proportion to the declared bulk");
    resp_parser_deinit(&p);
    return done();
}
