/* Unit tests of panda-cli's command table (cli/cmds.c): COMMAND DOCS replies from Panda and
 * from Redis 7, lookups, "Did you mean", syntax hints and key positions; and the STATS
 * layout of print's PR_MODE_FIELDS. */
#include "cmds.h"
#include "print.h"
#include "resp_reader.h"
#include <stdio.h>
#include <string.h>

#include "tap.h"

#define CHECK(c) ok((c), "%s", #c)

/* Panda's shape: name => {summary, since, group, syntax}, as RESP2. */
static const char panda_docs[] =
    "*6\r\n"
    "$3\r\nget\r\n*8\r\n$7\r\nsummary\r\n$4\r\nRead\r\n$5\r\nsince\r\n$5\r\n1.0.0\r\n"
    "$5\r\ngroup\r\n$6\r\nstring\r\n$6\r\nsyntax\r\n$3\r\nkey\r\n"
    "$6\r\nrename\r\n*4\r\n$7\r\nsummary\r\n$2\r\nMv\r\n$6\r\nsyntax\r\n$10\r\nkey newkey\r\n"
    "$4\r\nMGET\r\n*2\r\n$6\r\nsyntax\r\n$13\r\nkey [key ...]\r\n";

/* Redis 7's shape: arguments instead of syntax (SET key value [NX | XX] [GET]), as RESP3. */
static const char redis_docs[] =
    "%1\r\n$3\r\nset\r\n%2\r\n$7\r\nsummary\r\n$3\r\nSet\r\n$9\r\narguments\r\n*4\r\n"
    "%2\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n"
    "%2\r\n$4\r\nname\r\n$5\r\nvalue\r\n$4\r\ntype\r\n$6\r\nstring\r\n"
    "%4\r\n$4\r\nname\r\n$9\r\ncondition\r\n$4\r\ntype\r\n$5\r\noneof\r\n"
    "$5\r\nflags\r\n*1\r\n+optional\r\n$9\r\narguments\r\n*2\r\n"
    "%3\r\n$4\r\nname\r\n$2\r\nnx\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$2\r\nNX\r\n"
    "%3\r\n$4\r\nname\r\n$2\r\nxx\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$2\r\nXX\r\n"
    "%4\r\n$4\r\nname\r\n$3\r\nget\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$"
    "3\r\nGET\r\n"
    "$5\r\nflags\r\n*1\r\n+optional\r\n";

static int load(struct cmds *t, const char *text)
{
    struct rr_reader rd;
    struct rr_reply rep;
    struct cmds_err err;
    int rc;

    rr_reader_init(&rd);
    if (rr_parse(&rd, text, strlen(text), &rep) != (ssize_t)strlen(text)) return -1;
    rc = cmds_load(t, &rep, &err);
    rr_reply_deinit(&rep);
    return rc;
}

static void test_load(void)
{
    struct cmds t;
    const struct cmds_entry *e;

    cmds_init(&t);
    CHECK(load(&t, panda_docs) == 0 && t.n == 3);
    e = cmds_find(&t, "GET", 3);
    CHECK(e != NULL && strcmp(e->syntax, "key") == 0 && strcmp(e->summary, "Read") == 0 &&
          strcmp(e->group, "string") == 0 && strcmp(e->since, "1.0.0") == 0);
    e = cmds_find(&t, "mget", 4);
    CHECK(e != NULL && strcmp(e->name, "mget") == 0 && strcmp(e->summary, "") == 0);
    CHECK(cmds_find(&t, "ge", 2) == NULL);
    CHECK(load(&t, redis_docs) == 0 && t.n == 1);
    e = cmds_find(&t, "set", 3);
    CHECK(e != NULL && strcmp(e->syntax, "key value [NX | XX] [GET]") == 0);
    CHECK(load(&t, "*1\r\n$3\r\nget\r\n") == -1 && t.n == 0);
    CHECK(load(&t, ":1\r\n") == -1 && t.n == 0);
    cmds_deinit(&t);
}

static void test_suggest(void)
{
    struct cmds t;
    const struct cmds_entry *e;

    cmds_init(&t);
    CHECK(load(&t, panda_docs) == 0);
    CHECK(cmds_distance("gte", 3, "get", 3) == 1);
    CHECK(cmds_distance("GET", 3, "get", 3) == 0);
    CHECK(cmds_distance("renme", 5, "rename", 6) == 1);
    CHECK(cmds_distance("", 0, "abc", 3) == 3);
    e = cmds_suggest(&t, "gte", 3);
    CHECK(e != NULL && strcmp(e->name, "get") == 0);
    e = cmds_suggest(&t, "RENAMEE", 7);
    CHECK(e != NULL && strcmp(e->name, "rename") == 0);
    CHECK(cmds_suggest(&t, "get", 3) == NULL);
    CHECK(cmds_suggest(&t, "xyz", 3) == NULL);
    CHECK(cmds_suggest(&t, "gxx", 3) == NULL); /* two edits are too many for a short name */
    cmds_deinit(&t);
}

static void test_syntax(void)
{
    const char *set = "key value [NX | XX] [EX seconds | PX ms]";

    CHECK(strcmp(cmds_syntax_rest(set, 0), set) == 0);
    CHECK(strcmp(cmds_syntax_rest(set, 1), "value [NX | XX] [EX seconds | PX ms]") == 0);
    CHECK(strcmp(cmds_syntax_rest(set, 2), "[NX | XX] [EX seconds | PX ms]") == 0);
    CHECK(strcmp(cmds_syntax_rest(set, 5), "[NX | XX] [EX seconds | PX ms]") == 0);
    CHECK(strcmp(cmds_syntax_rest("key", 1), "") == 0);
    CHECK(strcmp(cmds_syntax_rest("", 3), "") == 0);
    CHECK(strcmp(cmds_syntax_rest("<A | B> key", 1), "<A | B> key") == 0);
    CHECK(cmds_arg_is_key(set, 1) && !cmds_arg_is_key(set, 2) && !cmds_arg_is_key(set, 0));
    CHECK(cmds_arg_is_key("key newkey", 2));
    CHECK(cmds_arg_is_key("key [key ...]", 1) && cmds_arg_is_key("key [key ...]", 7));
    CHECK(!cmds_arg_is_key("[KEEPTTL]", 1) && !cmds_arg_is_key("pattern", 1));
    CHECK(!cmds_arg_is_key("", 1));
}

static void test_fields(void)
{
    static const char stats[] = "$68\r\nStorage: S3 (bucket: b, region: r), WAL: 1KB, Pending: "
                                "0 ops, S3: ok\r\n";
    struct rr_reader rd;
    struct rr_reply rep;
    struct pr_buf b;

    rr_reader_init(&rd);
    pr_buf_init(&b);
    if (rr_parse(&rd, stats, strlen(stats), &rep) != (ssize_t)strlen(stats)) {
        ok(0, "STATS reply parses");
        return;
    }
    CHECK(pr_format(&b, &rep, PR_MODE_FIELDS) == 0);
    CHECK(b.len == 66 && memcmp(b.data,
                                "Storage: S3 (bucket: b, region: r)\nWAL: 1KB\nPending: 0 ops\n"
                                "S3: ok\n",
                                b.len) == 0);
    rr_reply_deinit(&rep);
    pr_buf_deinit(&b);
}

int main(void)
{
    test_load();
    test_suggest();
    test_syntax();
    test_fields();
    return done();
}
