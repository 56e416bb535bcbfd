/*
 * tap.h - a tiny TAP producer for Panda's C unit tests.
 *
 * ok(cond, fmt, ...) records one check; done() prints the plan and returns the exit status
 * (non-zero if any check failed). Each test binary is one module's tests; tests/run-unit.sh
 * runs them all and counts the results.
 */
#ifndef PANDA_TAP_H
#define PANDA_TAP_H

#include <stdio.h>

static int tap_n, tap_failed;

#define ok(cond, ...)                                                                              \
    do {                                                                                           \
        int tap_c_ = !!(cond);                                                                     \
        tap_n++;                                                                                   \
        if (!tap_c_) tap_failed++;                                                                 \
        printf("%sok %d - ", tap_c_ ? "" : "not ", tap_n);                                         \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
        if (!tap_c_) printf("#   failed at %s:%d\n", __FILE__, __LINE__);                          \
    } while (0)

static inline int done(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

#endif
