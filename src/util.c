/* util.c - clocks and strict number parsing/formatting. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "err.h"

int64_t util_ustime(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

int64_t util_mstime(void)
{
    return util_ustime() / 1000;
}

int64_t util_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int util_str2ll(const char *s, size_t len, long long *out)
{
    if (len == 0 || len >= UTIL_LL_STR_MAX) return -1;
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (len == 1) return -1;
    }
    if (s[i] == '0' && len > i + 1) return -1; /* leading zero */
    if (s[i] == '0' && neg) return -1;         /* "-0" */
    unsigned long long v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) return -1;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX) return -1;
        *out = (long long)v;
    }
    return 0;
}

size_t util_ll2str(char *buf, long long v)
{
    char tmp[UTIL_LL_STR_MAX];
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t len = 0;
    if (v < 0) buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}

int util_str2ld(const char *s, size_t len, long double *out)
{
    char tmp[UTIL_LD_STR_MAX];
    if (len == 0 || len >= sizeof(tmp)) return -1;
    if (isspace((unsigned char)s[0])) return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *end;
    errno = 0;
    long double v = strtold(tmp, &end);
    if ((size_t)(end - tmp) != len || isnan(v)) return -1;
    /* Like Redis: "inf" is a number, but a finite literal that overflows or underflows
     * is not. */
    if (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0)) return -1;
    *out = v;
    return 0;
}

size_t util_ld2str_human(char *buf, long double v)
{
    if (isinf(v) || isnan(v)) return 0;
    /* Fixed notation with 17 digits of precision, then trailing zeros and a bare dot removed:
     * the format Redis uses for INCRBYFLOAT so that results are stable across platforms. */
    int n = snprintf(buf, UTIL_LD_STR_MAX, "%.17Lf", v);
    if (n <= 0 || n >= UTIL_LD_STR_MAX) return 0;
    size_t len = (size_t)n;
    if (strchr(buf, '.')) {
        while (len > 0 && buf[len - 1] == '0')
            len--;
        if (len > 0 && buf[len - 1] == '.') len--;
    }
    if (len == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        len = 1;
    }
    buf[len] = '\0';
    return len;
}

int util_lower(const char *s, size_t len, char *out, size_t cap)
{
    if (len + 1 > cap) return -1;
    for (size_t i = 0; i < len; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[len] = '\0';
    return 0;
}

int util_eqi(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

int util_utf8_valid(const void *p, size_t n)
{
    const uint8_t *s = p;
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            if (!(x & 0x8080808080808080ULL)) {
                i += 8;
                continue;
            }
        }
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
        if (len == 0 || c > 0xf4 || i + len > n) return 0;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80) return 0;
        if (c == 0xe0 && s[i + 1] < 0xa0) return 0; /* overlong */
        if (c == 0xed && s[i + 1] > 0x9f) return 0; /* surrogate */
        if (c == 0xf0 && s[i + 1] < 0x90) return 0; /* overlong */
        if (c == 0xf4 && s[i + 1] > 0x8f) return 0; /* past U+10FFFF */
        i += len;
    }
    return 1;
}
