/*
 * prio.h - the CPU priority of background work that must not slow the server down (the
 * snapshot child), and the evidence that it is starving.
 *
 * prio_lower puts the calling process at SCHED_IDLE (nice PRIO_NICE where that is refused):
 * it then runs only on CPU time no normal task wants, and the kernel preempts it the moment
 * the server wakes up. That is what a snapshot should do while the server keeps the CPUs
 * busy, but busy processes at normal priority starve it: beside one busy task per CPU an
 * idle-policy task gets about 0.3% of a CPU, and a 0.2 s snapshot takes 50 s.
 *
 * prio_usage sums, over a process's threads, the time they ran and the time they waited
 * for a CPU while runnable (/proc/PID/task/TID/schedstat; waiting for I/O is not counted).
 * prio_starved says when that wait is past PRIO_STARVE_MIN_MS and PRIO_STARVE_FACTOR times
 * the run time (both summed over its threads). Measured on 2 cores (1M keys): a snapshot
 * beside the server under redis-benchmark -c 50 waits up to 35x its run time; beside two
 * busy loops, 340x.
 *
 * prio_raise puts every thread of a process back to SCHED_OTHER at nice 0. The kernel lets
 * a task leave SCHED_IDLE or lower its nice value only with CAP_SYS_NICE (or an RLIMIT_NICE
 * of 20 and more), so it fails with EPERM in most unprivileged services; the caller then
 * decides what to do (snap.c starts the snapshot again at normal priority).
 *
 * Errors: -1 with errno set. Threads: any; the functions keep no state.
 */
#ifndef PANDA_PRIO_H
#define PANDA_PRIO_H

#include <stdint.h>
#include <sys/types.h>

#define PRIO_NICE          19   /* where SCHED_IDLE is refused */
#define PRIO_STARVE_MIN_MS 1000 /* a wait shorter than this is never starving */
#define PRIO_STARVE_FACTOR 100  /* waited this many times longer than it ran: starving */

struct prio_usage {
    uint64_t run_ns;  /* on a CPU */
    uint64_t wait_ns; /* runnable, waiting for a CPU */
};

/* In the child, before it starts working. Returns 0 at SCHED_IDLE, 1 at nice PRIO_NICE. */
int prio_lower(void);
/* The threads of pid alive now (the time of those that ended is not counted). */
int prio_usage(pid_t pid, struct prio_usage *u);
int prio_starved(const struct prio_usage *u);
int prio_raise(pid_t pid);

#endif
