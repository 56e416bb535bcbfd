/* ev.c - epoll event loop. */
#include "ev.h"

#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "alloc.h"
#include "util.h"

struct ev_file {
    int mask;
    ev_file_cb *cb;
    void *data;
};

struct ev_timer_ent {
    int64_t period_us;
    int64_t next_us;
    ev_timer_cb *cb;
    void *data;
};

struct ev_loop {
    int epfd;
    int setsize;
    int stop;
    struct ev_file *files;
    struct epoll_event *fired;
    struct ev_timer_ent timers[EV_TIMERS_MAX];
    int ntimers;
    ev_hook_cb *before_sleep;
    void *before_sleep_data;
    int wake_fd;
    ev_hook_cb *wake_cb;
    void *wake_data;
};

struct ev_loop *ev_new(int setsize, struct kv_err *err)
{
    kv_assert(setsize > 0);
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        kv_err_sys(err, "epoll_create1");
        return NULL;
    }
    struct ev_loop *loop = kv_calloc(1, sizeof(*loop));
    loop->epfd = epfd;
    loop->setsize = setsize;
    loop->files = kv_calloc((size_t)setsize, sizeof(*loop->files));
    loop->fired = kv_calloc(EV_BATCH_MAX, sizeof(*loop->fired));
    loop->wake_fd = -1;
    return loop;
}

void ev_free(struct ev_loop *loop)
{
    if (!loop) return;
    close(loop->epfd);
    if (loop->wake_fd >= 0) close(loop->wake_fd);
    kv_free(loop->files);
    kv_free(loop->fired);
    kv_free(loop);
}

static uint32_t to_epoll(int mask)
{
    return (mask & EV_READABLE ? EPOLLIN : 0) | (mask & EV_WRITABLE ? EPOLLOUT : 0);
}

int ev_add(struct ev_loop *loop, int fd, int mask, ev_file_cb *cb, void *data, struct kv_err *err)
{
    if (fd < 0 || fd >= loop->setsize)
        return kv_err_set(err, KV_ELIMIT, "fd %d beyond the event loop size %d", fd, loop->setsize);
    struct ev_file *f = &loop->files[fd];
    struct epoll_event ee = {.events = to_epoll(f->mask | mask), .data.fd = fd};
    int op = f->mask == EV_NONE ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (epoll_ctl(loop->epfd, op, fd, &ee) < 0) return kv_err_sys(err, "epoll_ctl(%d)", fd);
    f->mask |= mask;
    f->cb = cb;
    f->data = data;
    return 0;
}

void ev_del(struct ev_loop *loop, int fd, int mask)
{
    if (fd < 0 || fd >= loop->setsize) return;
    struct ev_file *f = &loop->files[fd];
    if ((f->mask & mask) == 0) return; /* nothing to remove: no syscall */
    int left = f->mask & ~mask;
    struct epoll_event ee = {.events = to_epoll(left), .data.fd = fd};
    /* Errors are ignored on purpose: the fd may already be closed, which removed it. */
    (void)epoll_ctl(loop->epfd, left == EV_NONE ? EPOLL_CTL_DEL : EPOLL_CTL_MOD, fd, &ee);
    f->mask = left;
}

int ev_mask(const struct ev_loop *loop, int fd)
{
    if (fd < 0 || fd >= loop->setsize) return EV_NONE;
    return loop->files[fd].mask;
}

int ev_timer(struct ev_loop *loop, int64_t period_ms, ev_timer_cb *cb, void *data)
{
    kv_assert(period_ms > 0);
    if (loop->ntimers == EV_TIMERS_MAX) return -1;
    struct ev_timer_ent *t = &loop->timers[loop->ntimers++];
    t->period_us = period_ms * 1000;
    t->next_us = util_monotonic_us() + t->period_us;
    t->cb = cb;
    t->data = data;
    return 0;
}

void ev_set_before_sleep(struct ev_loop *loop, ev_hook_cb *cb, void *data)
{
    loop->before_sleep = cb;
    loop->before_sleep_data = data;
}

static void wake_readable(struct ev_loop *loop, int fd, void *data, int mask)
{
    (void)data;
    (void)mask;
    uint64_t v;
    while (read(fd, &v, sizeof(v)) > 0) {
    }
    if (loop->wake_cb) loop->wake_cb(loop, loop->wake_data);
}

int ev_set_wakeup(struct ev_loop *loop, ev_hook_cb *cb, void *data, struct kv_err *err)
{
    kv_assert(loop->wake_fd < 0);
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) return kv_err_sys(err, "eventfd");
    loop->wake_fd = fd;
    loop->wake_cb = cb;
    loop->wake_data = data;
    return ev_add(loop, fd, EV_READABLE, wake_readable, NULL, err);
}

void ev_wakeup(struct ev_loop *loop)
{
    uint64_t one = 1;
    ssize_t w = write(loop->wake_fd, &one, sizeof(one));
    (void)w; /* EAGAIN means a wakeup is already pending, which is all we need */
}

static int wait_timeout_ms(struct ev_loop *loop)
{
    if (loop->ntimers == 0) return -1;
    int64_t now = util_monotonic_us(), soonest = INT64_MAX;
    for (int i = 0; i < loop->ntimers; i++)
        if (loop->timers[i].next_us < soonest) soonest = loop->timers[i].next_us;
    if (soonest <= now) return 0;
    return (int)((soonest - now + 999) / 1000);
}

static void run_timers(struct ev_loop *loop)
{
    int64_t now = util_monotonic_us();
    for (int i = 0; i < loop->ntimers; i++) {
        struct ev_timer_ent *t = &loop->timers[i];
        if (t->next_us > now) continue;
        t->next_us = now + t->period_us;
        t->cb(loop, t->data);
    }
}

int ev_run(struct ev_loop *loop, struct kv_err *err)
{
    loop->stop = 0;
    while (!loop->stop) {
        if (loop->before_sleep) loop->before_sleep(loop, loop->before_sleep_data);
        if (loop->stop) break;
        int n = epoll_wait(loop->epfd, loop->fired, EV_BATCH_MAX, wait_timeout_ms(loop));
        if (n < 0) {
            if (errno == EINTR) continue;
            return kv_err_sys(err, "epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            int fd = loop->fired[i].data.fd;
            uint32_t e = loop->fired[i].events;
            struct ev_file *f = &loop->files[fd];
            int mask = (e & (EPOLLIN | EPOLLERR | EPOLLHUP) ? EV_READABLE : 0) |
                       (e & (EPOLLOUT | EPOLLERR | EPOLLHUP) ? EV_WRITABLE : 0);
            mask &= f->mask; /* an earlier callback in this batch may have removed it */
            if (mask) f->cb(loop, fd, f->data, mask);
        }
        run_timers(loop);
    }
    return 0;
}

void ev_stop(struct ev_loop *loop)
{
    loop->stop = 1;
}
