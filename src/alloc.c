/* alloc.c - aborting allocator wrappers with a used-memory counter. */
#include "alloc.h"
#include "err.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef PANDA_JEMALLOC
#include <jemalloc/jemalloc.h>

/* jemalloc's options, read once at start-up (MALLOC_CONF overrides them). Slabs of small
 * objects are 16 pages instead of one to a few: a start-up that allocates a million entries
 * sets up a sixteenth as many slabs, each of which jemalloc describes in metadata pages that
 * it reads before writing (two page faults, the second with a TLB flush of every CPU running
 * the process). Measured: 36k -> 30k page faults and ~50 ms less CPU for a 1M-key load; a
 * partly used slab holds at most 64 KiB per size class and arena. */
const char *malloc_conf = "slab_sizes:1-4096:16";
#endif

#define KV_STR_(x) #x
#define KV_STR(x)  KV_STR_(x)

/* The used-memory count, split in counters on lines of their own that threads take in turn:
 * two threads allocating a million entries at once (a start-up load) would otherwise pass
 * one line back and forth on every allocation. A counter goes negative when memory is freed
 * by another thread than the one that allocated it; the sum is exact. */
#define KV_COUNTERS 8

static struct {
    _Alignas(64) _Atomic int64_t bytes;
} counters[KV_COUNTERS];
static _Atomic unsigned counters_taken;
static _Thread_local _Atomic int64_t *my_counter;

static _Atomic int64_t *counter(void)
{
    if (kv_unlikely(!my_counter))
        my_counter = &counters[atomic_fetch_add(&counters_taken, 1) % KV_COUNTERS].bytes;
    return my_counter;
}

static void oom(size_t size)
{
    fprintf(stderr, "panda: out of memory allocating %zu bytes\n", size);
    abort();
}

/* The bytes a request of size bytes occupies: jemalloc computes its size class from the size
 * alone (malloc_usable_size would look the pointer up), and both agree by definition. */
static size_t usable(void *p, size_t size)
{
#ifdef PANDA_JEMALLOC
    size_t n = nallocx(size, 0);
    (void)p;
    kv_dassert(n == malloc_usable_size(p));
    return n;
#else
    (void)size;
    return malloc_usable_size(p);
#endif
}

static void account_add(void *p, size_t size)
{
    atomic_fetch_add_explicit(counter(), (int64_t)usable(p, size), memory_order_relaxed);
}

static void account_sub(void *p)
{
    atomic_fetch_sub_explicit(counter(), (int64_t)malloc_usable_size(p), memory_order_relaxed);
}

void *kv_malloc(size_t size)
{
    size = size ? size : 1;
    void *p = malloc(size);
    if (!p) oom(size);
    account_add(p, size);
    return p;
}

void *kv_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    account_add(p, (n ? n : 1) * (size ? size : 1)); /* calloc checked the product */
    return p;
}

void *kv_realloc(void *p, size_t size)
{
    if (!p) return kv_malloc(size);
    account_sub(p);
    size = size ? size : 1;
    void *np = realloc(p, size);
    if (!np) oom(size);
    account_add(np, size);
    return np;
}

void kv_free(void *p)
{
    if (!p) return;
    account_sub(p);
    free(p);
}

void *kv_memdup(const void *p, size_t len)
{
    void *d = kv_malloc(len);
    if (len) memcpy(d, p, len);
    return d;
}

void kv_alloc_drop_cache(void)
{
#ifdef PANDA_JEMALLOC
    (void)mallctl("arena." KV_STR(MALLCTL_ARENAS_ALL) ".purge", NULL, NULL, NULL, 0);
#else
    (void)malloc_trim(0);
#endif
}

#ifdef PANDA_JEMALLOC
void kv_fork_gate_enter(void)
{
}
void kv_fork_gate_leave(void)
{
}
void kv_fork_gate_close(void)
{
}
void kv_fork_gate_open(void)
{
}
#else
static pthread_rwlock_t fork_gate;
static pthread_once_t fork_gate_once = PTHREAD_ONCE_INIT;

static void fork_gate_init(void)
{
    pthread_rwlockattr_t a;
    kv_assert(pthread_rwlockattr_init(&a) == 0);
    /* A fork waiting for the gate holds new work back, or a busy thread could starve it. */
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    kv_assert(pthread_rwlock_init(&fork_gate, &a) == 0);
    pthread_rwlockattr_destroy(&a);
}

void kv_fork_gate_enter(void)
{
    pthread_once(&fork_gate_once, fork_gate_init);
    kv_assert(pthread_rwlock_rdlock(&fork_gate) == 0);
}

void kv_fork_gate_leave(void)
{
    kv_assert(pthread_rwlock_unlock(&fork_gate) == 0);
}

void kv_fork_gate_close(void)
{
    pthread_once(&fork_gate_once, fork_gate_init);
    kv_assert(pthread_rwlock_wrlock(&fork_gate) == 0);
}

void kv_fork_gate_open(void)
{
    kv_assert(pthread_rwlock_unlock(&fork_gate) == 0);
}
#endif

size_t kv_used_memory(void)
{
    int64_t sum = 0;
    for (int i = 0; i < KV_COUNTERS; i++)
        sum += atomic_load_explicit(&counters[i].bytes, memory_order_relaxed);
    return sum > 0 ? (size_t)sum : 0; /* a sum read while others allocate is only a snapshot */
}

size_t kv_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    if (n != 2) return 0;
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

const char *kv_allocator_name(void)
{
#ifdef PANDA_JEMALLOC
    return "jemalloc";
#else
    return "libc";
#endif
}
