/*
 * bg.h - one background worker thread for jobs that must not block the event loop
 * (freeing a flushed keyspace, closing a replaced snapshot file).
 *
 * Jobs run in submission order. A job's `run` executes on the worker thread and must touch
 * only what it was handed (it owns `arg`); its optional `done` runs afterwards on the event
 * loop thread (through ev_wakeup), where it may touch server state. bg_free waits for queued
 * jobs to finish. The queue is bounded by BG_QUEUE_MAX: bg_submit blocks while it is full,
 * which keeps memory bounded if the worker falls behind.
 */
#ifndef PANDA_BG_H
#define PANDA_BG_H

#include "err.h"
#include "ev.h"

#define BG_QUEUE_MAX 1024

struct bg;

typedef void bg_run_fn(void *arg);
typedef void bg_done_fn(void *arg);

struct bg *bg_new(struct ev_loop *loop, struct kv_err *err);
/* Finishes queued jobs (running their done callbacks), stops the thread, frees. */
void bg_free(struct bg *bg);
void bg_submit(struct bg *bg, bg_run_fn *run, bg_done_fn *done, void *arg);
/* Runs the done callbacks of finished jobs; call from the loop's wakeup hook. */
void bg_reap(struct bg *bg);

#endif
