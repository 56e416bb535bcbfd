/* glob.c - glob matching (see glob.h). */
#include "glob.h"

#include <ctype.h>

static int chr_eq(char a, char b, int nocase)
{
    if (nocase) return tolower((unsigned char)a) == tolower((unsigned char)b);
    return a == b;
}

/* Matches the bracket class starting after '[' at *pp against c; advances *pp past ']'. */
static int match_class(const char **pp, const char *end, char c, int nocase)
{
    const char *p = *pp;
    int negate = 0, hit = 0;
    if (p < end && *p == '^') {
        negate = 1;
        p++;
    }
    while (p < end && *p != ']') {
        if (*p == '\\' && p + 1 < end) {
            p++;
            if (chr_eq(*p, c, nocase)) hit = 1;
        } else if (p + 2 < end && p[1] == '-' && p[2] != ']') {
            unsigned char lo = (unsigned char)p[0], hi = (unsigned char)p[2];
            unsigned char x = (unsigned char)c;
            if (lo > hi) {
                unsigned char t = lo;
                lo = hi;
                hi = t;
            }
            if (nocase) {
                lo = (unsigned char)tolower(lo);
                hi = (unsigned char)tolower(hi);
                x = (unsigned char)tolower(x);
            }
            if (x >= lo && x <= hi) hit = 1;
            p += 2;
        } else if (chr_eq(*p, c, nocase)) {
            hit = 1;
        }
        p++;
    }
    *pp = p; /* at ']' or end; an unterminated class behaves as if closed at the end */
    return negate ? !hit : hit;
}

/* Matches one pattern token at *pp (not '*') against c; advances *pp past the token. */
static int match_one(const char **pp, const char *pe, char c, int nocase)
{
    const char *p = *pp;
    int ok;
    if (*p == '?') {
        ok = 1;
    } else if (*p == '[') {
        p++;
        ok = match_class(&p, pe, c, nocase);
        if (p == pe) p--; /* unterminated class: consumed to the end */
    } else {
        if (*p == '\\' && p + 1 < pe) p++;
        ok = chr_eq(*p, c, nocase);
    }
    *pp = p + 1;
    return ok;
}

/* Iterative matching that backtracks only to the last '*': a later star can absorb anything
 * an earlier one could, so this is exact and runs in O(len(pattern) * len(string)). */
int glob_match(const char *pat, size_t plen, const char *s, size_t slen, int nocase)
{
    const char *p = pat, *pe = pat + plen, *se = s + slen;
    const char *star_p = NULL, *star_s = NULL;
    while (s < se) {
        if (p < pe && *p == '*') {
            while (p < pe && *p == '*')
                p++;
            if (p == pe) return 1;
            star_p = p;
            star_s = s;
            continue;
        }
        if (p < pe) {
            const char *np = p;
            if (match_one(&np, pe, *s, nocase)) {
                p = np;
                s++;
                continue;
            }
        }
        if (!star_p) return 0;
        p = star_p;
        s = ++star_s;
    }
    while (p < pe && *p == '*')
        p++;
    return p == pe;
}
