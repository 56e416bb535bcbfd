/* Unit tests of the inline splitter (src/inline.c). */
#include <string.h>

#include "inline.h"
#include "tap.h"

static int split(const char *in, char *buf, struct inl_arg *args, size_t max, size_t *argc)
{
    strcpy(buf, in);
    return inl_split(buf, strlen(buf), 0, args, max, argc);
}

static int arg_eq(const char *buf, const struct inl_arg *a, const char *want, size_t wlen)
{
    return a->len == wlen && memcmp(buf + a->off, want, wlen) == 0;
}

int main(void)
{
    char buf[256];
    struct inl_arg args[16];
    size_t argc;

    ok(split("SET a b", buf, args, 16, &argc) == INL_OK && argc == 3, "plain words");
    ok(arg_eq(buf, &args[0], "SET", 3) && arg_eq(buf, &args[2], "b", 1), "plain word bytes");
    ok(split("  GET \t  key  ", buf, args, 16, &argc) == INL_OK && argc == 2, "blanks and tabs");
    ok(split("", buf, args, 16, &argc) == INL_OK && argc == 0, "empty line");
    ok(split("   ", buf, args, 16, &argc) == INL_OK && argc == 0, "only blanks");
    ok(split("PUT greeting \"Hello, World!\"", buf, args, 16, &argc) == INL_OK && argc == 3 &&
           arg_eq(buf, &args[2], "Hello, World!", 13),
       "double quotes group words");
    ok(split("SET k \"a\\nb\\x00c\\\"\\\\\"", buf, args, 16, &argc) == INL_OK && argc == 3 &&
           arg_eq(buf, &args[2], "a\nb\0c\"\\", 7),
       "double-quote escapes incl. \\x00");
    ok(split("SET k 'it\\'s \"x\"'", buf, args, 16, &argc) == INL_OK && argc == 3 &&
           arg_eq(buf, &args[2], "it's \"x\"", 8),
       "single quotes with \\'");
    ok(split("SET k 'a\\nb'", buf, args, 16, &argc) == INL_OK && arg_eq(buf, &args[2], "a\\nb", 4),
       "single quotes keep backslashes");
    ok(split("SET k \"\"", buf, args, 16, &argc) == INL_OK && argc == 3 && args[2].len == 0,
       "empty quoted argument");
    ok(split("SET k \"abc", buf, args, 16, &argc) == INL_EQUOTES, "unterminated double quote");
    ok(split("SET k 'abc", buf, args, 16, &argc) == INL_EQUOTES, "unterminated single quote");
    ok(split("SET k \"abc\"def", buf, args, 16, &argc) == INL_EQUOTES,
       "closing quote followed by a letter");
    ok(split("a b c d", buf, args, 3, &argc) == INL_EARGS, "more words than slots");
    ok(split("x\"y z\"w", buf, args, 16, &argc) == INL_EQUOTES, "quote ends inside a word");
    ok(split("foo\"bar baz\"", buf, args, 16, &argc) == INL_OK && argc == 1 &&
           arg_eq(buf, &args[0], "foobar baz", 10),
       "quote starting inside a word joins, as sdssplitargs");
    strcpy(buf, "xx GET k");
    ok(inl_split(buf + 3, 5, 3, args, 16, &argc) == INL_OK && args[0].off == 3 && args[1].off == 7,
       "base offset is added");
    return done();
}
