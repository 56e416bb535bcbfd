/*
 * ev.h - a small epoll event loop: file events, one periodic timer list, a before-sleep hook
 * and a thread-safe wakeup.
 *
 * Threads: the loop and every callback run on the thread that calls ev_run(). The only
 * function other threads may call is ev_wakeup(), which makes the loop run its wakeup
 * callback soon (used by background jobs to hand results back).
 *
 * Ownership: the loop does not own the fds or the callback data it is given. File events are
 * indexed by fd, so fd must be < the setsize given to ev_new (EV_EINVAL otherwise).
 * Level-triggered: a readable fd is reported again until drained.
 */
#ifndef PANDA_EV_H
#define PANDA_EV_H

#include <stdint.h>

#include "err.h"

#define EV_NONE     0
#define EV_READABLE 1
#define EV_WRITABLE 2

/* Most events handled per epoll_wait call. */
#define EV_BATCH_MAX 1024
/* Most timers registered at once. */
#define EV_TIMERS_MAX 16

struct ev_loop;

typedef void ev_file_cb(struct ev_loop *loop, int fd, void *data, int mask);
typedef void ev_timer_cb(struct ev_loop *loop, void *data);
typedef void ev_hook_cb(struct ev_loop *loop, void *data);

/* Creates a loop for fds below setsize. Returns NULL with err filled on failure. */
struct ev_loop *ev_new(int setsize, struct kv_err *err);
void ev_free(struct ev_loop *loop);

/* Adds mask to the events watched on fd; the callback is shared by both directions. */
int ev_add(struct ev_loop *loop, int fd, int mask, ev_file_cb *cb, void *data, struct kv_err *err);
/* Removes mask from fd's events; removing all of them unregisters fd. Never fails. */
void ev_del(struct ev_loop *loop, int fd, int mask);
int ev_mask(const struct ev_loop *loop, int fd);

/* Calls cb every period_ms (first call period_ms from now). Returns 0 or -1 (table full). */
int ev_timer(struct ev_loop *loop, int64_t period_ms, ev_timer_cb *cb, void *data);

/* cb runs before each wait for events (where buffered replies are flushed). */
void ev_set_before_sleep(struct ev_loop *loop, ev_hook_cb *cb, void *data);
/* cb runs on the loop thread after any thread calls ev_wakeup(). */
int ev_set_wakeup(struct ev_loop *loop, ev_hook_cb *cb, void *data, struct kv_err *err);
void ev_wakeup(struct ev_loop *loop);

/* Runs until ev_stop(); returns 0, or -1 if epoll_wait fails unexpectedly. */
int ev_run(struct ev_loop *loop, struct kv_err *err);
void ev_stop(struct ev_loop *loop);

#endif
