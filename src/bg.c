/* bg.c - background worker thread (see bg.h). */
#include "bg.h"

#include <pthread.h>
#include <string.h>

#include "alloc.h"

struct bg_job {
    bg_run_fn *run;
    bg_done_fn *done;
    void *arg;
    struct bg_job *next;
};

struct bg {
    struct ev_loop *loop;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_space;
    struct bg_job *head, *tail; /* waiting to run */
    struct bg_job *finished;    /* ran; done callback pending (LIFO, reversed when reaped) */
    int queued, pending, stop;
};

static void *worker(void *p)
{
    struct bg *bg = p;
    pthread_mutex_lock(&bg->mu);
    for (;;) {
        while (!bg->head && !bg->stop)
            pthread_cond_wait(&bg->cv_work, &bg->mu);
        if (!bg->head) break;
        struct bg_job *job = bg->head;
        bg->head = job->next;
        if (!bg->head) bg->tail = NULL;
        bg->queued--;
        pthread_cond_signal(&bg->cv_space);
        pthread_mutex_unlock(&bg->mu);
        kv_fork_gate_enter();
        job->run(job->arg);
        kv_fork_gate_leave();
        pthread_mutex_lock(&bg->mu);
        job->next = bg->finished;
        bg->finished = job;
        ev_wakeup(bg->loop);
    }
    pthread_mutex_unlock(&bg->mu);
    return NULL;
}

struct bg *bg_new(struct ev_loop *loop, struct kv_err *err)
{
    struct bg *bg = kv_calloc(1, sizeof(*bg));
    bg->loop = loop;
    pthread_mutex_init(&bg->mu, NULL);
    pthread_cond_init(&bg->cv_work, NULL);
    pthread_cond_init(&bg->cv_space, NULL);
    int rc = pthread_create(&bg->thread, NULL, worker, bg);
    if (rc != 0) {
        kv_err_set(err, KV_ESYS, "pthread_create: %s", strerror(rc));
        kv_free(bg);
        return NULL;
    }
    return bg;
}

void bg_submit(struct bg *bg, bg_run_fn *run, bg_done_fn *done, void *arg)
{
    struct bg_job *job = kv_malloc(sizeof(*job));
    *job = (struct bg_job){run, done, arg, NULL};
    pthread_mutex_lock(&bg->mu);
    kv_assert(!bg->stop);
    while (bg->queued >= BG_QUEUE_MAX)
        pthread_cond_wait(&bg->cv_space, &bg->mu);
    if (bg->tail)
        bg->tail->next = job;
    else
        bg->head = job;
    bg->tail = job;
    bg->queued++;
    bg->pending++;
    pthread_cond_signal(&bg->cv_work);
    pthread_mutex_unlock(&bg->mu);
}

void bg_reap(struct bg *bg)
{
    pthread_mutex_lock(&bg->mu);
    struct bg_job *list = bg->finished, *ordered = NULL;
    bg->finished = NULL;
    pthread_mutex_unlock(&bg->mu);
    while (list) { /* reverse to completion order */
        struct bg_job *next = list->next;
        list->next = ordered;
        ordered = list;
        list = next;
    }
    while (ordered) {
        struct bg_job *next = ordered->next;
        if (ordered->done) ordered->done(ordered->arg);
        kv_free(ordered);
        pthread_mutex_lock(&bg->mu);
        bg->pending--;
        pthread_mutex_unlock(&bg->mu);
        ordered = next;
    }
}

void bg_free(struct bg *bg)
{
    if (!bg) return;
    pthread_mutex_lock(&bg->mu);
    bg->stop = 1;
    pthread_cond_signal(&bg->cv_work);
    pthread_mutex_unlock(&bg->mu);
    pthread_join(bg->thread, NULL);
    bg_reap(bg);
    pthread_cond_destroy(&bg->cv_work);
    pthread_cond_destroy(&bg->cv_space);
    pthread_mutex_destroy(&bg->mu);
    kv_free(bg);
}
