/* A cache of freed batch-sized buffers: NumPy's data allocator (NEP 49) while a
 * vmapped function runs.
 *
 * A vmapped function makes temporaries the size of the whole batch at every
 * step (x - m, np.exp(...), ...).  glibc serves blocks this large from fresh
 * pages each time once its heap is trimmed, and the first touch of each 4 KiB
 * page is a page fault: 2-4 ms per 16 MB on these VMs, a third of the time of
 * an elementwise chain on [2000, 1000].  NumPy passes the size of a block back
 * when it frees it, so freed blocks of at least VMAPRT_CACHE_MIN bytes are kept
 * here, newest last, and handed out again to a request of exactly their size;
 * everything else goes straight to malloc and free.  At most `limit` bytes are
 * kept (the oldest blocks go first); 0 keeps none.
 *
 * Arrays remember the allocator that made them, so a block made here comes back
 * here whenever and in whichever thread its array dies; a lock guards the slots.
 */
#ifndef VMAPRT_CACHE_H
#define VMAPRT_CACHE_H

#include <Python.h>
#include <pythread.h>
#include <stdlib.h>
#include <string.h>
#include "numpy/ndarraytypes.h"

#define VMAPRT_CACHE_SLOTS 32
#define VMAPRT_CACHE_MIN ((size_t)1 << 18)

static struct {
    void* ptr[VMAPRT_CACHE_SLOTS];
    size_t size[VMAPRT_CACHE_SLOTS];
    int n;                /* slots in use: [0, n), oldest first */
    size_t bytes;         /* sum of size[0..n) */
    size_t limit;
    size_t hits, misses;  /* requests of cacheable size served from the slots, or not */
    PyThread_type_lock lock;
} vmaprt_cache;

static void* vmaprt_cache_malloc(void* ctx, size_t size) {
    void* p = NULL;
    int i;
    (void)ctx;
    if (size >= VMAPRT_CACHE_MIN && vmaprt_cache.n) {
        PyThread_acquire_lock(vmaprt_cache.lock, WAIT_LOCK);
        for (i = vmaprt_cache.n - 1; i >= 0; i--)
            if (vmaprt_cache.size[i] == size) {
                p = vmaprt_cache.ptr[i];
                vmaprt_cache.bytes -= size;
                vmaprt_cache.n--;
                memmove(vmaprt_cache.ptr + i, vmaprt_cache.ptr + i + 1, (vmaprt_cache.n - i) * sizeof(void*));
                memmove(vmaprt_cache.size + i, vmaprt_cache.size + i + 1, (vmaprt_cache.n - i) * sizeof(size_t));
                break;
            }
        if (p) vmaprt_cache.hits++; else vmaprt_cache.misses++;
        PyThread_release_lock(vmaprt_cache.lock);
    }
    return p ? p : malloc(size);
}

static void* vmaprt_cache_calloc(void* ctx, size_t nelem, size_t elsize) {
    (void)ctx;
    return calloc(nelem, elsize);
}

static void* vmaprt_cache_realloc(void* ctx, void* ptr, size_t new_size) {
    (void)ctx;
    return realloc(ptr, new_size);
}

/* Frees the oldest blocks until `need` more bytes and one more slot fit in the
 * limit; the caller holds the lock. */
static void vmaprt_cache_make_room(size_t need) {
    int drop = 0, i;
    while (drop < vmaprt_cache.n
           && (vmaprt_cache.n - drop >= VMAPRT_CACHE_SLOTS || vmaprt_cache.bytes + need > vmaprt_cache.limit)) {
        free(vmaprt_cache.ptr[drop]);
        vmaprt_cache.bytes -= vmaprt_cache.size[drop];
        drop++;
    }
    if (!drop) return;
    vmaprt_cache.n -= drop;
    for (i = 0; i < vmaprt_cache.n; i++) {
        vmaprt_cache.ptr[i] = vmaprt_cache.ptr[i + drop];
        vmaprt_cache.size[i] = vmaprt_cache.size[i + drop];
    }
}

static void vmaprt_cache_free(void* ctx, void* ptr, size_t size) {
    (void)ctx;
    if (ptr == NULL) return;
    if (size < VMAPRT_CACHE_MIN || size > vmaprt_cache.limit) {
        free(ptr);
        return;
    }
    PyThread_acquire_lock(vmaprt_cache.lock, WAIT_LOCK);
    vmaprt_cache_make_room(size);
    vmaprt_cache.ptr[vmaprt_cache.n] = ptr;
    vmaprt_cache.size[vmaprt_cache.n] = size;
    vmaprt_cache.n++;
    vmaprt_cache.bytes += size;
    PyThread_release_lock(vmaprt_cache.lock);
}

static PyDataMem_Handler vmaprt_cache_handler = {
    "vmaprt_cache",
    1,
    {NULL, vmaprt_cache_malloc, vmaprt_cache_calloc, vmaprt_cache_realloc, vmaprt_cache_free},
};

/* The handler as the capsule NumPy's PyDataMem_SetHandler takes; NULL with an
 * exception set if the lock cannot be made. */
static PyObject* vmaprt_cache_capsule(size_t limit) {
    vmaprt_cache.limit = limit;
    if (!vmaprt_cache.lock && !(vmaprt_cache.lock = PyThread_allocate_lock()))
        return PyErr_NoMemory();
    return PyCapsule_New(&vmaprt_cache_handler, "mem_handler", NULL);
}

/* Keeps at most `limit` bytes from now on (0: none), freeing the oldest blocks;
 * returns the limit before. */
static size_t vmaprt_cache_set_limit(size_t limit) {
    size_t previous;
    PyThread_acquire_lock(vmaprt_cache.lock, WAIT_LOCK);
    previous = vmaprt_cache.limit;
    vmaprt_cache.limit = limit;
    vmaprt_cache_make_room(0);
    PyThread_release_lock(vmaprt_cache.lock);
    return previous;
}

/* The most bytes the cache keeps (0: it is off). */
static size_t vmaprt_cache_limit(void) {
    return vmaprt_cache.limit;
}

/* out = {bytes kept, blocks kept, hits, misses}. */
static void vmaprt_cache_stats(size_t* out) {
    PyThread_acquire_lock(vmaprt_cache.lock, WAIT_LOCK);
    out[0] = vmaprt_cache.bytes;
    out[1] = (size_t)vmaprt_cache.n;
    out[2] = vmaprt_cache.hits;
    out[3] = vmaprt_cache.misses;
    PyThread_release_lock(vmaprt_cache.lock);
}

/* In a child after fork(): a thread of the parent may have held the lock. */
static void vmaprt_cache_after_fork(void) {
    vmaprt_cache.lock = PyThread_allocate_lock();
}

#endif
