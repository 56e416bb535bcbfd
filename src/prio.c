/* prio.c - idle priority for background work, and its starvation (see prio.h). */
#include "prio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#define PRIO_PATH_MAX 64

int prio_lower(void)
{
    struct sched_param idle = {0};
    if (sched_setscheduler(0, SCHED_IDLE, &idle) == 0) return 0;
    (void)setpriority(PRIO_PROCESS, 0, PRIO_NICE);
    return 1;
}

/* Calls fn for each thread of pid until one returns non-zero; returns that, 0, or -1 with
 * errno when pid's task directory cannot be read. */
typedef int task_fn(pid_t pid, pid_t tid, void *ctx);

static int each_task(pid_t pid, task_fn *fn, void *ctx)
{
    char path[PRIO_PATH_MAX];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid > 0) rc = fn(pid, tid, ctx);
    }
    int saved = errno;
    closedir(d);
    errno = saved;
    return rc;
}

/* Adds one thread's "run wait slices" line; a thread that just ended adds nothing. */
static int add_thread(pid_t pid, pid_t tid, void *ctx)
{
    struct prio_usage *u = ctx;
    char path[PRIO_PATH_MAX], line[PRIO_PATH_MAX * 2];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)pid, (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, line, sizeof(line) - 1);
    close(fd);
    if (n <= 0) return 0;
    line[n] = 0;
    unsigned long long run, wait;
    if (sscanf(line, "%llu %llu", &run, &wait) != 2) return 0;
    u->run_ns += run;
    u->wait_ns += wait;
    return 0;
}

int prio_usage(pid_t pid, struct prio_usage *u)
{
    u->run_ns = u->wait_ns = 0;
    return each_task(pid, add_thread, u);
}

int prio_starved(const struct prio_usage *u)
{
    return u->wait_ns >= (uint64_t)PRIO_STARVE_MIN_MS * 1000000 &&
           u->wait_ns >= PRIO_STARVE_FACTOR * u->run_ns;
}

static int raise_thread(pid_t pid, pid_t tid, void *ctx)
{
    (void)pid;
    (void)ctx;
    struct sched_param normal = {0};
    if (sched_setscheduler(tid, SCHED_OTHER, &normal) != 0 ||
        setpriority(PRIO_PROCESS, (id_t)tid, 0) != 0)
        return errno == ESRCH ? 0 : -1; /* a thread that ended needs nothing */
    return 0;
}

int prio_raise(pid_t pid)
{
    /* The main thread first: threads it starts from now on inherit its priority (raising
     * it again in the walk is harmless). */
    if (raise_thread(pid, pid, NULL) != 0) return -1;
    return each_task(pid, raise_thread, NULL);
}
