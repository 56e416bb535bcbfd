/*
 * glob.h - Redis-style glob matching for KEYS, SCAN MATCH, LIST and CONFIG GET.
 *
 * Supports `*`, `?`, `[abc]`, `[^abc]`, `[a-z]` and backslash escapes, on binary strings.
 * Pure function, no allocation, no recursion; time is O(pattern length * string length)
 * whatever the pattern, so a hostile pattern cannot stall the server.
 */
#ifndef PANDA_GLOB_H
#define PANDA_GLOB_H

#include <stddef.h>

/* Returns 1 if s matches pattern, 0 otherwise. nocase: ASCII case-insensitive. */
int glob_match(const char *pat, size_t plen, const char *s, size_t slen, int nocase);

#endif
