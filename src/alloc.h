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

/* Bytes currently allocated through this module. */
size_t kv_used_memory(void);

/* Resident set size of the process in bytes, from /proc/self/statm; 0 if unknown. */
size_t kv_rss_bytes(void);

/* Name of the allocator linked in ("jemalloc" or "libc"). */
const char *kv_allocator_name(void);

#endif
