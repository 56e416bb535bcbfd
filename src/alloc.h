/*
 * alloc.h - the allocator every module uses.
 *
 * kv_malloc/kv_calloc/kv_realloc abort the process on out-of-memory, so callers never check
 * for NULL (as Redis's zmalloc). Sizes that come from outside (the network, a file) are checked
 * against a named limit *before* they reach these functions.
 *
 * The allocator keeps a process-wide count of bytes handed out (their size classes: jemalloc's
 * nallocx on allocation, malloc_usable_size on free and with libc), for INFO memory. The
 * count is kept in a few counters on separate cache lines, each thread updating one with
 * relaxed atomics, so any thread may allocate and threads allocating at once do not contend.
 * Release builds link jemalloc (smaller size classes, no per-chunk header); sanitizer builds
 * use the libc allocator so ASan can see every allocation.
 */
#ifndef PANDA_ALLOC_H
#define PANDA_ALLOC_H

#include <stddef.h>

void *kv_malloc(size_t size);
void *kv_calloc(size_t n, size_t size);
void *kv_realloc(void *p, size_t size);
void kv_free(void *p);
void *kv_memdup(const void *p, size_t len);

/* Returns the free pages the allocator keeps for reuse to the kernel. A forked child calls it
 * before it allocates: its buffers then come from fresh pages instead of pages it shares with
 * its parent, whose first write would each be a copy-on-write fault (and a TLB flush of every
 * CPU that runs the child). */
void kv_alloc_drop_cache(void);

/* Fork safety. jemalloc (release builds) holds all its locks across fork(), so a child never
 * inherits a lock that another thread of the parent held. The sanitizers' allocator (GCC 12's
 * libasan) does not: a thread inside malloc at the moment of a fork leaves the child
 * deadlocked at its first malloc. So the threads that run beside the event loop and allocate
 * (the S3 thread, the background worker) bracket each piece of work with
 * kv_fork_gate_enter/leave, and the loop brackets fork() with kv_fork_gate_close/open, which
 * waits until no such work is running and holds new work back. With jemalloc these are
 * no-ops; otherwise they are a writer-preferring read-write lock. */
void kv_fork_gate_enter(void);
void kv_fork_gate_leave(void);
void kv_fork_gate_close(void); /* before fork() */
void kv_fork_gate_open(void);  /* after fork(), in the parent */

/* Bytes currently allocated through this module. */
size_t kv_used_memory(void);

/* Resident set size of the process in bytes, from /proc/self/statm; 0 if unknown. */
size_t kv_rss_bytes(void);

/* Name of the allocator linked in ("jemalloc" or "libc"). */
const char *kv_allocator_name(void);

#endif
