/*
 * util.h - small pure helpers: clocks, strict number parsing and formatting.
 *
 * Parsers follow Redis's rules exactly (they decide which values INCR and friends accept):
 * util_str2ll rejects empty strings, spaces, a leading '+', leading zeros and overflow;
 * util_str2ld rejects leading spaces, NaN and finite literals that overflow (but, as Redis,
 * accepts "inf"). No function allocates. Thread-safe.
 */
#ifndef PANDA_UTIL_H
#define PANDA_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* A borrowed byte string: a command argument, a key. Never owns its bytes. */
struct sv {
    const char *p;
    size_t len;
};

/* Longest output of util_ll2str (with sign and NUL). */
#define UTIL_LL_STR_MAX 21
/* Longest output of util_ld2str_human (with NUL). */
#define UTIL_LD_STR_MAX 5120

int64_t util_mstime(void); /* wall clock, ms since the epoch */
int64_t util_ustime(void); /* wall clock, us since the epoch */
int64_t util_monotonic_us(void);

/* Returns 0 and sets *out when s[0..len) is a canonical integer; -1 otherwise. */
int util_str2ll(const char *s, size_t len, long long *out);

/* Writes v in decimal; returns the length (no NUL counted). buf must hold UTIL_LL_STR_MAX. */
size_t util_ll2str(char *buf, long long v);

/* Returns 0 and sets *out when s[0..len) is a number strtold accepts whole (see above). */
int util_str2ld(const char *s, size_t len, long double *out);

/* 1 if p[0..n) is strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF
 * (what DuckDB and JSON accept as text). */
int util_utf8_valid(const void *p, size_t n);

/* Formats v as Redis's INCRBYFLOAT does (fixed notation, trailing zeros removed).
 * Returns the length, or 0 if v is not finite. buf must hold UTIL_LD_STR_MAX. */
size_t util_ld2str_human(char *buf, long double v);

/* ASCII lower-casing into out (cap bytes incl. NUL); returns -1 if it does not fit. */
int util_lower(const char *s, size_t len, char *out, size_t cap);

/* Case-insensitive equality of s[0..len) with the NUL-terminated word. */
int util_eqi(const char *s, size_t len, const char *word);

#endif
