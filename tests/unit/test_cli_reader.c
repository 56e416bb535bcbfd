/* Unit tests of panda-cli's reply reader, printer and argument splitter (cli/). */
#include "print.h"
#include "resp_reader.h"
#include "split.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#define CHECK(c) ok((c), "%s", #c)

/* Parse whole, byte by byte; return formatted text in both modes concatenated. */
static char *parse_fmt(const char *in, size_t len, ssize_t *rc_out, size_t step)
{
    struct rr_reader r;
    struct rr_reply rep;
    struct pr_buf b;
    rr_reader_init(&r);
    pr_buf_init(&b);
    ssize_t rc = RR_AGAIN;
    char *copy = NULL;
    for (size_t have = step > len ? len : step;; have = have + step > len ? len : have + step) {
        free(copy);
        copy = malloc(have + 1);
        memcpy(copy, in, have); /* fresh buffer each time: reader must not keep pointers */
        rc = rr_parse(&r, copy, have, &rep);
        if (rc != RR_AGAIN || have == len) break;
    }
    *rc_out = rc;
    char *res = NULL;
    if (rc > 0) {
        pr_format(&b, &rep, PR_MODE_TTY);
        pr_format(&b, &rep, PR_MODE_RAW);
        res = malloc(b.len + 1);
        memcpy(res, b.data, b.len);
        res[b.len] = 0;
        rr_reply_deinit(&rep);
    }
    free(copy);
    pr_buf_deinit(&b);
    return res;
}

static void expect(const char *in, ssize_t want_rc, const char *want)
{
    size_t len = strlen(in);
    int good = 1;
    for (size_t step = 1; step <= len + 1 && good; step++) { /* every chunking of the input */
        ssize_t rc;
        char *got = parse_fmt(in, len, &rc, step);
        if (rc != want_rc || (want && (!got || strcmp(got, want) != 0))) {
            good = 0;
            printf("# step %zu: rc %zd, got [%s]\n", step, rc, got ? got : "(null)");
        }
        free(got);
    }
    ok(good, "reply %.*s", (int)strcspn(in, "\r"), in);
}

int main(void)
{
    expect("+OK\r\n", 5, "OK\nOK\n");
    expect("$5\r\nhello\r\n", 11, "\"hello\"\nhello\n");
    expect("$-1\r\n", 5, "(nil)\n\n");
    expect("*-1\r\n", 5, "(nil)\n\n");
    expect(":-42\r\n", 6, "(integer) -42\n-42\n");
    expect("-ERR x\r\n", 8, "(error) ERR x\nERR x\n\n");
    expect("*0\r\n", 4, "(empty array)\n\n");
    expect("*2\r\n*1\r\n:1\r\n*0\r\n", 16, "1) 1) (integer) 1\n2) (empty array)\n1\n\n");
    expect("%1\r\n+a\r\n*2\r\n:1\r\n:2\r\n", 20,
           "1# a => \n   1) (integer) 1\n   2) (integer) 2\na 1\n2\n");
    expect("|1\r\n+k\r\n+v\r\n:7\r\n", 16, "(integer) 7\n7\n");
    expect("*2\r\n|0\r\n:1\r\n:2\r\n", 16, "1) (integer) 1\n2) (integer) 2\n1\n2\n");
    expect("=8\r\ntxt:abcd\r\n", 14, "abcd\nabcd\n");
    expect("!3\r\nERR\r\n", 9, "(error) ERR\nERR\n\n");
    expect(",1.5\r\n", 6, "(double) 1.5\n1.5\n");
    expect("#t\r\n", 4, "(true)\n(true)\n");
    expect("_\r\n", 3, "(nil)\n\n");
    expect("(123\r\n", 6, "(big number) 123\n123\n");
    expect("~1\r\n$0\r\n\r\n", 10, "1~ \"\"\n\n");
    /* errors */
    expect("?\r\n", -1, NULL);
    expect(":abc\r\n", -1, NULL);
    expect(":9223372036854775808\r\n", -1, NULL);
    expect(":-9223372036854775808\r\n", 23,
           "(integer) -9223372036854775808\n-9223372036854775808\n");
    expect("$-2\r\n", -1, NULL);
    expect("$3\r\nabcd\r\n", -1, NULL);
    expect("+a\rb\r\n", -1, NULL);
    expect("$999999999999\r\n", -1, NULL);
    expect("*16777217\r\n", -1, NULL);
    expect("#x\r\n", -1, NULL);
    expect("=3\r\nabc\r\n", -1, NULL);
    /* Need more: declared big, nothing allocated. */
    expect("$536870912\r\n", RR_AGAIN, NULL);
    expect("*16777216\r\n", RR_AGAIN, NULL);
    expect("%16777216\r\n", RR_AGAIN, NULL);
    /* depth */
    {
        char buf[1024] = "";
        for (int i = 0; i < 64; i++)
            strcat(buf, "*1\r\n");
        strcat(buf, ":1\r\n");
        ssize_t rc;
        char *g = parse_fmt(buf, strlen(buf), &rc, strlen(buf));
        CHECK(rc == (ssize_t)strlen(buf));
        free(g);
        char buf2[1024] = "";
        for (int i = 0; i < 65; i++)
            strcat(buf2, "*1\r\n");
        strcat(buf2, ":1\r\n");
        g = parse_fmt(buf2, strlen(buf2), &rc, strlen(buf2));
        CHECK(rc == -1);
        free(g);
    }
    /* long line */
    {
        size_t n = RR_LINE_BYTES_MAX + 10;
        char *p = malloc(n);
        memset(p, 'a', n);
        p[0] = '+';
        ssize_t rc;
        char *g = parse_fmt(p, n, &rc, n);
        CHECK(rc == -1);
        free(g);
        free(p);
    }
    /* two replies back to back */
    {
        struct rr_reader r;
        struct rr_reply rep;
        rr_reader_init(&r);
        const char *s = "+a\r\n:1\r\n";
        CHECK(rr_parse(&r, s, 8, &rep) == 4);
        rr_reply_deinit(&rep);
        CHECK(rr_parse(&r, s + 4, 4, &rep) == 4);
        CHECK(rep.type == RR_INTEGER && rep.integer == 1);
        rr_reply_deinit(&rep);
        CHECK(rr_parse(&r, "?", 1, &rep) == RR_AGAIN);
        CHECK(rr_parse(&r, "?\r\n", 3, &rep) == -1);
        CHECK(rr_parse(&r, "+ok\r\n", 5, &rep) == -1); /* poisoned */
    }
    /* random garbage */
    srand(1);
    for (int it = 0; it < 200000; it++) {
        char buf[64];
        size_t n = (size_t)(rand() % 64);
        const char alpha[] = "+-:$*%~>|_,#(=!\r\n0123456789-abt";
        for (size_t i = 0; i < n; i++)
            buf[i] = alpha[rand() % (sizeof(alpha) - 1)];
        ssize_t rc;
        char *g = parse_fmt(buf, n, &rc, 1 + (size_t)(rand() % 8));
        free(g);
        struct rr_reader r;
        struct rr_reply rep;
        rr_reader_init(&r);
        rc = rr_parse(&r, buf, n, &rep);
        if (rc > 0) rr_reply_deinit(&rep);
    }
    /* split */
    {
        struct split_args a;
        struct split_err e;
        split_args_init(&a);
        const char *l = "set \"a b\\x41\\x4\" 'c\\'d\\n' x\"y z\" \"\" ''";
        CHECK(split_line(l, strlen(l), &a, &e) == 0);
        CHECK(a.argc == 6);
        if (a.argc == 6) {
            CHECK(strcmp(a.argv[1], "a bAx4") == 0);
            CHECK(strcmp(a.argv[2], "c'd\\n") == 0);
            CHECK(strcmp(a.argv[3], "xy z") == 0);
            CHECK(a.lens[4] == 0 && a.lens[5] == 0);
        }
        split_args_deinit(&a);
        const char *bad[] = {"a \"b", "a 'b", "a \"b\"c", "a 'b'c", "\"\\\"", NULL};
        for (int i = 0; bad[i]; i++) {
            CHECK(split_line(bad[i], strlen(bad[i]), &a, &e) == -1 && e.code == SPLIT_EQUOTE);
            split_args_deinit(&a);
        }
        const char nul[] = "set \"a\\x00b\" c";
        CHECK(split_line(nul, sizeof(nul) - 1, &a, &e) == 0 && a.argc == 3 && a.lens[1] == 3 &&
              a.argv[1][1] == 0);
        split_args_deinit(&a);
        CHECK(split_line("  \t ", 4, &a, &e) == 0 && a.argc == 0);
        split_args_deinit(&a);
        for (int it = 0; it < 100000; it++) {
            char buf[32];
            size_t n = (size_t)(rand() % 32);
            const char al[] = "ab \"'\\x0f\t\n";
            for (size_t i = 0; i < n; i++)
                buf[i] = al[rand() % (sizeof(al) - 1)];
            (void)split_line(buf, n, &a, &e);
            split_args_deinit(&a);
        }
    }
    ok(1, "random replies and lines did not crash (sanitizers watch for overruns)");
    return done();
}
