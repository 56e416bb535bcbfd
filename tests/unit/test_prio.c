/* Unit tests of the snapshot child's priority and its starvation test (src/prio.c). */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "prio.h"
#include "tap.h"

#define MS 1000000ULL

static void burn_cpu(void)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    do
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000000LL + (t.tv_nsec - t0.tv_nsec) < 20000000);
}

static void starvation_rule(void)
{
    struct prio_usage u = {.run_ns = 0, .wait_ns = PRIO_STARVE_MIN_MS * MS - 1};
    ok(!prio_starved(&u), "a wait under PRIO_STARVE_MIN_MS is never starving");
    u.wait_ns = PRIO_STARVE_MIN_MS * MS;
    ok(prio_starved(&u), "waiting PRIO_STARVE_MIN_MS without running is starving");
    u.run_ns = u.wait_ns / PRIO_STARVE_FACTOR + 1;
    ok(!prio_starved(&u), "waiting under PRIO_STARVE_FACTOR x the run time is not");
    u.run_ns = u.wait_ns / PRIO_STARVE_FACTOR;
    ok(prio_starved(&u), "waiting PRIO_STARVE_FACTOR x the run time is");
}

/* A child that lowers itself, burns CPU and waits for the parent's verdict on its pipe. */
static void lowered_child(void)
{
    int go[2], ready[2];
    ok(pipe(go) == 0 && pipe(ready) == 0, "pipes");
    pid_t pid = fork();
    if (pid == 0) {
        int r = prio_lower();
        burn_cpu();
        char c = (char)r;
        (void)!write(ready[1], &c, 1);
        (void)!read(go[0], &c, 1);
        _exit(0);
    }
    char r = -1;
    ok(read(ready[0], &r, 1) == 1 && r == 0, "prio_lower chose SCHED_IDLE");
    ok(sched_getscheduler(pid) == SCHED_IDLE, "the child runs at SCHED_IDLE");
    struct prio_usage u;
    ok(prio_usage(pid, &u) == 0 && u.run_ns >= 10 * MS,
       "prio_usage counts the child's CPU time (%llu ns)", (unsigned long long)u.run_ns);
    int raised = prio_raise(pid);
    if (raised == 0)
        ok(sched_getscheduler(pid) == SCHED_OTHER, "prio_raise: SCHED_OTHER again");
    else
        ok(errno == EPERM, "prio_raise without CAP_SYS_NICE fails with EPERM");
    (void)!write(go[1], "x", 1);
    int st;
    ok(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child exits");
    ok(prio_usage(pid, &u) == -1, "prio_usage of a reaped process fails");
}

int main(void)
{
    starvation_rule();
    lowered_child();
    return done();
}
