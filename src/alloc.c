/* alloc.c - aborting allocator wrappers with a used-memory counter. */
#include "alloc.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static _Atomic size_t used_bytes;

static void oom(size_t size)
{
    fprintf(stderr, "panda: out of memory allocating %zu bytes\n", size);
    abort();
}

static void account_add(void *p)
{
    atomic_fetch_add_explicit(&used_bytes, malloc_usable_size(p), memory_order_relaxed);
}

static void account_sub(void *p)
{
    atomic_fetch_sub_explicit(&used_bytes, malloc_usable_size(p), memory_order_relaxed);
}

void *kv_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p) oom(size);
    account_add(p);
    return p;
}

void *kv_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    account_add(p);
    return p;
}

void *kv_realloc(void *p, size_t size)
{
    if (!p) return kv_malloc(size);
    account_sub(p);
    void *np = realloc(p, size ? size : 1);
    if (!np) oom(size);
    account_add(np);
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

size_t kv_used_memory(void)
{
    return atomic_load_explicit(&used_bytes, memory_order_relaxed);
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
