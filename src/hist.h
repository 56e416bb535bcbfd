/*
 * hist.h - fixed-bucket latency histograms, cheap enough for every command.
 *
 * Buckets are powers of two in microseconds: bucket i (i < HIST_BUCKETS - 1) counts durations
 * below 2^i us, so its Prometheus `le` bound is 2^i us (1 us .. about 4.2 s); the last bucket
 * counts everything longer. Counts are per bucket (not cumulative): the exposition (metrics.h)
 * sums them. hist_add is a division, a count-leading-zeros and three increments.
 *
 * Threads: a struct hist has one writer; a reader on another thread must copy it under the
 * writer's lock (the WAL's fsync histogram is written by its sync thread under the WAL mutex).
 */
#ifndef PANDA_HIST_H
#define PANDA_HIST_H

#include <stdint.h>
#include <time.h>

#define HIST_BUCKETS 24 /* 23 finite bounds, 2^0 .. 2^22 us, then +Inf */

struct hist {
    uint64_t count;
    uint64_t sum_ns;
    uint64_t bucket[HIST_BUCKETS];
};

/* The bucket of a duration: the smallest i with ns < 2^i us, or the last one. */
static inline unsigned hist_bucket(uint64_t ns)
{
    uint64_t us = ns / 1000;
    if (us == 0) return 0;
    unsigned i = 64 - (unsigned)__builtin_clzll(us); /* 2^(i-1) <= us < 2^i */
    return i < HIST_BUCKETS - 1 ? i : HIST_BUCKETS - 1;
}

static inline void hist_add(struct hist *h, uint64_t ns)
{
    h->count++;
    h->sum_ns += ns;
    h->bucket[hist_bucket(ns)]++;
}

/* Upper bound of bucket i in seconds (i < HIST_BUCKETS - 1). */
static inline double hist_bound_s(unsigned i)
{
    return (double)(1ULL << i) / 1e6;
}

/* CLOCK_MONOTONIC in ns: the clock every duration above is taken with. */
static inline uint64_t hist_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#endif
