/*
 * slab.c - small-object caches carved out of buddy-allocated frames.
 *
 * Theory of operation
 *
 * A cache hands out objects of one size.  Its memory comes in slabs: blocks
 * of 2^order frames from alloc_pages(), the order being the smallest that
 * holds at least SLAB_MIN_OBJECTS objects.  Objects are packed from the
 * start of the slab; the slab's bookkeeping lives in the head frame's
 * descriptor (PG_slab, slab_cache, slab_freelist, slab_inuse) so the slab
 * itself holds nothing but objects.  Free objects form a singly linked
 * list threaded through their first word.
 *
 * kmem_cache_free() finds an object's slab from its address: the frame
 * descriptor comes from virt_to_page(), and because a buddy block is
 * aligned to its size, the head is that frame's pfn rounded down to the
 * slab order.
 *
 * Each slab is on exactly one of three lists: full (no free object),
 * partial, empty (all free).  Allocation prefers partial slabs, then the
 * empty spare, then a new slab.  At most one empty slab is kept; others go
 * back to the buddy allocator at once.
 *
 * Debug builds (UMM_DEBUG) fill free objects with POISON_FREE after the
 * link word.  kmem_cache_free() of an object whose bytes are all poison
 * walks the slab's free list to confirm a double free; kmem_cache_alloc()
 * checks the poison to catch writes after free.
 *
 * Locks: cache->lock protects the lists, every slab's freelist/inuse and
 * the counters.  It is dropped around alloc_pages() (which may run the
 * reclaim hook, which may free objects into this cache) and around
 * free_pages(); no other lock is taken while it is held.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "slab.h"

#define SLAB_MIN_OBJECTS 8
#define SLAB_NAME_LEN    32
#define POISON_FREE      0x6b

struct kmem_cache {
	char name[SLAB_NAME_LEN];
	struct phys_mem *phys;
	size_t size;                    /* object stride: requested size rounded to align */
	size_t align;
	unsigned int order;             /* frames per slab = 2^order */
	unsigned int objs_per_slab;

	pthread_mutex_t lock;
	struct list_head full, partial, empty;
	unsigned long nr_empty;
	unsigned long slabs;
	unsigned long in_use;
	unsigned long allocs, frees, alloc_failures;
};

/* ------------------------------------------------------------------ */
/* Debug poisoning                                                     */

static void poison_object(struct kmem_cache *cache, void *obj)
{
	if (UMM_DEBUG)
		memset((char *)obj + sizeof(void *), POISON_FREE, cache->size - sizeof(void *));
}

static bool object_poisoned(struct kmem_cache *cache, const void *obj)
{
	const unsigned char *p = (const unsigned char *)obj + sizeof(void *);
	size_t i;

	for (i = 0; i < cache->size - sizeof(void *); i++)
		if (p[i] != POISON_FREE)
			return false;
	return true;
}

/* object_on_freelist - is obj already free in this slab?  cache->lock held. */
static bool object_on_freelist(struct page *slab, const void *obj)
{
	void *p;

	for (p = slab->slab_freelist; p; p = *(void **)p)
		if (p == obj)
			return true;
	return false;
}

/* ------------------------------------------------------------------ */
/* Slabs                                                               */

static void *slab_base(struct page *slab)
{
	return page_address(slab);
}

/* slab_init - thread every object of a fresh slab onto its free list. */
static void slab_init(struct kmem_cache *cache, struct page *slab)
{
	char *base = slab_base(slab);
	void *next = NULL;
	unsigned int i;

	for (i = cache->objs_per_slab; i-- > 0;) {
		void *obj = base + (size_t)i * cache->size;

		*(void **)obj = next;
		poison_object(cache, obj);
		next = obj;
	}
	SetPageSlab(slab);
	slab->slab_cache = cache;
	slab->slab_freelist = next;
	slab->slab_inuse = 0;
}

/* obj_to_slab - the head descriptor of the slab holding obj. */
static struct page *obj_to_slab(struct kmem_cache *cache, const void *obj)
{
	struct phys_mem *phys = cache->phys;
	uintptr_t off = (uintptr_t)obj - (uintptr_t)phys->base;
	unsigned long pfn;
	struct page *slab;

	BUG_ON(off >= phys->nr_frames * PAGE_SIZE);
	pfn = (unsigned long)(off >> PAGE_SHIFT) & ~((1UL << cache->order) - 1);
	slab = pfn_to_page(phys, pfn);
	BUG_ON(!PageSlab(slab) || slab->slab_cache != cache);
	BUG_ON((off - ((uintptr_t)pfn << PAGE_SHIFT)) % cache->size != 0);
	return slab;
}

/* slab_release - give a slab's frames back.  Called without cache->lock. */
static void slab_release(struct page *slab, unsigned int order)
{
	ClearPageSlab(slab);
	slab->slab_cache = NULL;
	slab->slab_freelist = NULL;
	slab->slab_inuse = 0;
	free_pages(slab, order);
}

/* grow_cache - add a new slab to the partial list.  Drops and retakes cache->lock. */
static bool grow_cache(struct kmem_cache *cache, gfp_t gfp)
{
	struct page *slab;

	pthread_mutex_unlock(&cache->lock);
	slab = alloc_pages(cache->phys, gfp & ~GFP_ZERO, cache->order);
	if (slab)
		slab_init(cache, slab);
	pthread_mutex_lock(&cache->lock);
	if (!slab)
		return false;
	list_add(&slab->lru, &cache->partial);
	cache->slabs++;
	return true;
}

/* take_object - pop one object from a partial or empty slab.  cache->lock held. */
static void *take_object(struct kmem_cache *cache)
{
	struct page *slab;
	void *obj;

	if (list_empty(&cache->partial)) {
		if (list_empty(&cache->empty))
			return NULL;
		slab = list_first_entry(&cache->empty, struct page, lru);
		list_move(&slab->lru, &cache->partial);
		cache->nr_empty--;
	}
	slab = list_first_entry(&cache->partial, struct page, lru);
	obj = slab->slab_freelist;
	VM_BUG_ON(!obj);
	if (UMM_DEBUG && cache->size > sizeof(void *))
		VM_BUG_ON(!object_poisoned(cache, obj));   /* written after free */
	slab->slab_freelist = *(void **)obj;
	if (++slab->slab_inuse == cache->objs_per_slab)
		list_move(&slab->lru, &cache->full);
	cache->in_use++;
	cache->allocs++;
	return obj;
}

/* ------------------------------------------------------------------ */
/* Public interface                                                    */

/**
 * kmem_cache_create - make a cache of fixed-size objects.
 * @phys: arena the slabs come from
 * @name: for statistics (copied, truncated to 31 characters)
 * @size: object size in bytes, 1 .. (PAGE_SIZE << (MAX_ORDER-1)) / 8
 * @align: power of two up to PAGE_SIZE, or 0 for 8
 *
 * Allocates the descriptor with malloc; no slab is allocated yet.
 * Return: the cache, or NULL (bad arguments: errno EINVAL; no memory: ENOMEM).
 */
struct kmem_cache *kmem_cache_create(struct phys_mem *phys, const char *name, size_t size, size_t align)
{
	size_t max_size = (PAGE_SIZE << (MAX_ORDER - 1)) / SLAB_MIN_OBJECTS;
	struct kmem_cache *cache;
	unsigned int order = 0;

	if (!align)
		align = sizeof(void *);
	if (!phys || size == 0 || size > max_size || (align & (align - 1)) || align > PAGE_SIZE) {
		errno = EINVAL;
		return NULL;
	}
	if (align < sizeof(void *))
		align = sizeof(void *);
	size = ALIGN_UP(size, align);
	while ((PAGE_SIZE << order) / size < SLAB_MIN_OBJECTS)
		order++;

	cache = calloc(1, sizeof(*cache));
	if (!cache) {
		errno = ENOMEM;
		return NULL;
	}
	snprintf(cache->name, sizeof(cache->name), "%s", name ? name : "?");
	cache->phys = phys;
	cache->size = size;
	cache->align = align;
	cache->order = order;
	cache->objs_per_slab = (unsigned int)((PAGE_SIZE << order) / size);
	pthread_mutex_init(&cache->lock, NULL);
	INIT_LIST_HEAD(&cache->full);
	INIT_LIST_HEAD(&cache->partial);
	INIT_LIST_HEAD(&cache->empty);
	return cache;
}

/**
 * kmem_cache_alloc - take one object.
 * @cache: the cache
 * @gfp: GFP_* flags, passed to alloc_pages() when a new slab is needed;
 *       GFP_ZERO zeroes the object
 *
 * Takes cache->lock; drops it around alloc_pages().
 * Return: the object, or NULL when no frame could be had (cache unchanged).
 */
void *kmem_cache_alloc(struct kmem_cache *cache, gfp_t gfp)
{
	void *obj;

	pthread_mutex_lock(&cache->lock);
	while (!(obj = take_object(cache))) {
		if (!grow_cache(cache, gfp)) {
			cache->alloc_failures++;
			break;
		}
	}
	pthread_mutex_unlock(&cache->lock);
	if (obj && (gfp & GFP_ZERO))
		memset(obj, 0, cache->size);
	return obj;
}

/**
 * kmem_cache_free - return an object to its slab.
 * @cache: the cache it came from
 * @obj: the object (NULL: no-op)
 *
 * Takes cache->lock; may free a surplus empty slab after dropping it.
 * A pointer outside the cache's slabs is a BUG; debug builds also catch
 * double frees.
 */
void kmem_cache_free(struct kmem_cache *cache, void *obj)
{
	struct page *slab, *surplus = NULL;

	if (!obj)
		return;
	pthread_mutex_lock(&cache->lock);
	slab = obj_to_slab(cache, obj);
	if (UMM_DEBUG && (cache->size == sizeof(void *) || object_poisoned(cache, obj)))
		VM_BUG_ON(object_on_freelist(slab, obj));
	VM_BUG_ON(slab->slab_inuse == 0);
	*(void **)obj = slab->slab_freelist;
	poison_object(cache, obj);
	slab->slab_freelist = obj;
	if (slab->slab_inuse-- == cache->objs_per_slab)
		list_move(&slab->lru, &cache->partial);
	if (slab->slab_inuse == 0) {
		if (cache->nr_empty) {
			list_del_init(&slab->lru);
			cache->slabs--;
			surplus = slab;
		} else {
			list_move(&slab->lru, &cache->empty);
			cache->nr_empty++;
		}
	}
	cache->in_use--;
	cache->frees++;
	pthread_mutex_unlock(&cache->lock);
	if (surplus)
		slab_release(surplus, cache->order);
}

/* release_list - free every slab on a list, counting objects still in use. */
static unsigned long release_list(struct kmem_cache *cache, struct list_head *list)
{
	unsigned long leaked = 0;
	struct page *slab, *tmp;

	list_for_each_entry_safe(slab, tmp, list, lru) {
		leaked += slab->slab_inuse;
		list_del_init(&slab->lru);
		slab_release(slab, cache->order);
	}
	return leaked;
}

/**
 * kmem_cache_destroy - free every slab and the cache itself.
 * @cache: the cache (NULL: returns 0); no other thread may use it
 *
 * Return: the number of objects that were still allocated (leaks).
 */
unsigned long kmem_cache_destroy(struct kmem_cache *cache)
{
	unsigned long leaked = 0;

	if (!cache)
		return 0;
	pthread_mutex_lock(&cache->lock);
	leaked += release_list(cache, &cache->full);
	leaked += release_list(cache, &cache->partial);
	leaked += release_list(cache, &cache->empty);
	pthread_mutex_unlock(&cache->lock);
	pthread_mutex_destroy(&cache->lock);
	free(cache);
	return leaked;
}

/**
 * kmem_cache_get_stats - a snapshot of a cache's counters.
 * @cache: the cache
 * @st: filled in
 *
 * Takes cache->lock.
 */
void kmem_cache_get_stats(struct kmem_cache *cache, struct kmem_cache_stats *st)
{
	pthread_mutex_lock(&cache->lock);
	st->objects_in_use = cache->in_use;
	st->slabs = cache->slabs;
	st->pages = cache->slabs << cache->order;
	st->objs_per_slab = cache->objs_per_slab;
	st->allocs = cache->allocs;
	st->frees = cache->frees;
	st->alloc_failures = cache->alloc_failures;
	pthread_mutex_unlock(&cache->lock);
}

/**
 * kmem_cache_name - the name the cache was created with.
 * @cache: the cache
 */
const char *kmem_cache_name(const struct kmem_cache *cache)
{
	return cache->name;
}
