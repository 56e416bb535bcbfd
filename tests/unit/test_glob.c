/* Unit tests of glob matching (src/glob.c). */
#include <string.h>

#include "glob.h"
#include "tap.h"

static int m(const char *pat, const char *s)
{
    return glob_match(pat, strlen(pat), s, strlen(s), 0);
}

int main(void)
{
    ok(m("*", "") && m("*", "abc"), "star matches anything");
    ok(m("h?llo", "hello") && !m("h?llo", "hllo"), "question mark is one byte");
    ok(m("h*llo", "heeeello") && m("h*llo", "hllo"), "star inside");
    ok(m("h[ae]llo", "hallo") && !m("h[ae]llo", "hillo"), "class");
    ok(m("h[^e]llo", "hallo") && !m("h[^e]llo", "hello"), "negated class");
    ok(m("h[a-b]llo", "hbllo") && !m("h[a-b]llo", "hcllo"), "range");
    ok(m("h\\*llo", "h*llo") && !m("h\\*llo", "hello"), "escaped star");
    ok(m("user:*:name", "user:42:name") && !m("user:*:name", "user:42:age"), "key pattern");
    ok(!m("abc", "abcd") && !m("abcd", "abc"), "exact lengths");
    ok(glob_match("A*", 2, "abc", 3, 1) && !glob_match("A*", 2, "abc", 3, 0), "nocase");
    char s[4096];
    memset(s, 'a', sizeof(s) - 1);
    s[sizeof(s) - 1] = '\0';
    ok(!m("*a*a*a*a*a*a*a*a*a*a*a*a*b", s), "pathological pattern ends (no exponential time)");
    ok(glob_match("a*", 2, "a\0b", 3, 0), "binary string");
    return done();
}
