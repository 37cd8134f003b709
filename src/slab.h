/* SPDX-License-Identifier: MIT */
/*
 * slab.h - small-object caches (the kernel's kmem_cache) for the VM's own
 * structures: VMAs, mm structs, reverse-map entries, notifier records.
 *
 * Slabs are frames taken from the arena's buddy allocator (order chosen so
 * a slab holds at least 8 objects), marked PG_slab with page->slab_cache
 * set, so kmem_cache_free() finds the slab from the object's address.
 * Each cache keeps full, partial and empty slab lists and frees empty slabs
 * beyond one spare back to the allocator.  Each thread has a magazine of
 * up to 16 free objects per cache that serves it without a lock.
 *
 * Lock order: mag_owner_lock -> cache->lock.  No other lock is taken
 * while cache->lock is held: a cache drops it around alloc_pages and
 * free_pages (the allocator's locks).
 */
#ifndef UMM_SLAB_H
#define UMM_SLAB_H

#include <pthread.h>
#include "page_alloc.h"

struct kmem_cache_stats {
	unsigned long objects_in_use; /* handed out to callers */
	unsigned long objects_cached; /* free, in per-thread magazines */
	unsigned long slabs;          /* slabs owned (full + partial + empty) */
	unsigned long pages;          /* frames those slabs take */
	unsigned long objs_per_slab;
	unsigned long allocs, frees, alloc_failures;
};

struct kmem_cache;

/* kmem_cache_create - a cache of `size`-byte objects aligned to `align` (0 = 8). NULL on ENOMEM/EINVAL. */
struct kmem_cache *kmem_cache_create(struct phys_mem *phys, const char *name, size_t size, size_t align);
/* kmem_cache_destroy - free all slabs; returns the number of objects still allocated (leaks). */
unsigned long kmem_cache_destroy(struct kmem_cache *cache);
/* kmem_cache_alloc - an object (zeroed with GFP_ZERO) or NULL when the arena is exhausted. */
void *kmem_cache_alloc(struct kmem_cache *cache, gfp_t gfp);
void kmem_cache_free(struct kmem_cache *cache, void *obj);
/* kmem_cache_drain_local - give this thread's cached (magazine) objects back to their slabs. */
void kmem_cache_drain_local(struct kmem_cache *cache);
void kmem_cache_get_stats(struct kmem_cache *cache, struct kmem_cache_stats *st);
const char *kmem_cache_name(const struct kmem_cache *cache);

#endif
