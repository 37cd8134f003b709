/* SPDX-License-Identifier: MIT */
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
 * Per-thread magazines: each thread that uses a cache gets a magazine, a
 * small LIFO array of up to MAG_SIZE free objects that only that thread
 * touches, so an allocation or a free that the magazine can serve takes
 * no lock and no atomic read-modify-write.  An empty magazine is refilled
 * with up to MAG_BATCH objects under cache->lock (growing the cache only
 * if no slab has a free object); a full one gives its MAG_BATCH oldest
 * objects back to their slabs.  Objects in a magazine are free to the
 * user but still taken out of their slabs (they count in slab_inuse and
 * keep their slab from being released), so the slab counts a cache
 * reports include the slabs pinned by magazines; kmem_cache_drain_local()
 * gives the calling thread's objects back.  A thread that exits gives its
 * magazines back (pthread key destructor); kmem_cache_destroy() flushes
 * and frees every magazine of the cache, unlinking it from its owner, so
 * the destructor never sees a dead cache; cache ids are never reused, so
 * a thread's stale (id, magazine) slot is never matched again.  The
 * statistics count calls served by magazines in the magazines (written
 * only by the owner, read with relaxed atomics) and report
 * objects_in_use without the objects sitting in magazines.
 *
 * Debug builds (UMM_DEBUG) fill free objects with POISON_FREE after the
 * link word, and an object in a magazine carries MAG_TAG ^ its address
 * in its link word.  kmem_cache_free() of a tagged, poisoned object is a
 * double free; of an untagged object whose bytes are all poison, it walks
 * the slab's free list to confirm one; kmem_cache_alloc() checks the
 * poison (and the tag) to catch writes after free.
 *
 * Locks, in the order they nest:
 *   mag_owner_lock (global: every thread's list of magazines and every
 *                   cache's list of magazines)
 *     -> cache->lock (the slab lists, every slab's freelist/inuse, the
 *                     cache's own counters)
 * cache->lock is dropped around alloc_pages() (which may run the reclaim
 * hook, which may free objects into this cache) and around free_pages();
 * no other lock is taken while it is held.  The magazine fast paths take
 * no lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "slab.h"

#define SLAB_MIN_OBJECTS 8
#define SLAB_NAME_LEN    32
#define POISON_FREE      0x6b
#define MAG_SIZE         16             /* objects a magazine holds */
#define MAG_BATCH        8              /* moved per refill / flush */
#define MAG_SLOTS        8              /* per-thread fast lookup slots */
#define MAG_TAG          ((uintptr_t)0x6d61672dfee1deadull)

struct kmem_magazine {
	_Atomic unsigned int count;     /* objects in objs[]: written by the owner only */
	void *objs[MAG_SIZE];           /* [owner] objs[count-1] is the hottest */
	_Atomic unsigned long allocs, frees;  /* calls served, written by the owner only */
	struct kmem_cache *cache;
	struct list_head cache_link;    /* cache->magazines [mag_owner_lock] */
	struct list_head owner_link;    /* owning thread's list [mag_owner_lock] */
};

struct mag_slot {
	uint64_t id;
	struct kmem_magazine *mag;
};

static pthread_mutex_t mag_owner_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t mag_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t mag_key;
static _Atomic uint64_t next_cache_id = 1;
static __thread struct mag_slot mag_slots[MAG_SLOTS];
static __thread unsigned int mag_slot_next;
static __thread struct list_head thread_mags;   /* [mag_owner_lock] */

struct kmem_cache {
	char name[SLAB_NAME_LEN];
	uint64_t id;                    /* unique, never reused: tags magazine slots */
	struct list_head magazines;     /* [mag_owner_lock] */
	struct phys_mem *phys;
	uintptr_t arena_base;           /* phys->base, phys->pages and the arena's size, */
	struct page *pages;             /* copied here so that obj_to_slab() needs no */
	uintptr_t arena_bytes;          /* load of phys on the free fast path */
	size_t size;                    /* object stride: requested size rounded to align */
	uint64_t size_magic;            /* UINT64_MAX / size + 1: divisibility test without a divide */
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
	uintptr_t off = (uintptr_t)obj - cache->arena_base;
	unsigned long pfn;
	struct page *slab;

	BUG_ON(off >= cache->arena_bytes);
	pfn = (unsigned long)(off >> PAGE_SHIFT) & ~((1UL << cache->order) - 1);
	slab = &cache->pages[pfn];
	BUG_ON(!PageSlab(slab) || slab->slab_cache != cache);
	/* (off within the slab) % size == 0, for offsets < 2^32 (Lemire's test) */
	BUG_ON((uint64_t)(uint32_t)(off - ((uintptr_t)pfn << PAGE_SHIFT)) * cache->size_magic >
	       cache->size_magic - 1);
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
	return obj;
}

/*
 * free_object_locked - put obj back on its slab; a slab that becomes empty
 * while a spare is already kept goes on `surplus` for the caller to
 * release after dropping the lock.  cache->lock held.
 */
static void free_object_locked(struct kmem_cache *cache, void *obj, struct list_head *surplus)
{
	struct page *slab = obj_to_slab(cache, obj);

	VM_BUG_ON(slab->slab_inuse == 0);
	*(void **)obj = slab->slab_freelist;
	poison_object(cache, obj);
	slab->slab_freelist = obj;
	if (slab->slab_inuse-- == cache->objs_per_slab)
		list_move(&slab->lru, &cache->partial);
	if (slab->slab_inuse == 0) {
		if (cache->nr_empty) {
			list_move(&slab->lru, surplus);
			cache->slabs--;
		} else {
			list_move(&slab->lru, &cache->empty);
			cache->nr_empty++;
		}
	}
	cache->in_use--;
}

/* release_surplus - free the slabs free_object_locked() set aside.  No lock held. */
static void release_surplus(struct kmem_cache *cache, struct list_head *surplus)
{
	struct page *slab, *tmp;

	list_for_each_entry_safe(slab, tmp, surplus, lru) {
		list_del_init(&slab->lru);
		slab_release(slab, cache->order);
	}
}

/* ------------------------------------------------------------------ */
/* Per-thread magazines                                                */

static inline void mag_store_count(struct kmem_magazine *m, unsigned int n)
{
	atomic_store_explicit(&m->count, n, memory_order_relaxed);
}

static inline void mag_bump(_Atomic unsigned long *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
}

/* tag_object - debug: mark obj as sitting in a magazine. */
static inline void tag_object(void *obj)
{
	if (UMM_DEBUG)
		*(uintptr_t *)obj = MAG_TAG ^ (uintptr_t)obj;
}

static inline bool object_tagged(const void *obj)
{
	return *(const uintptr_t *)obj == (MAG_TAG ^ (uintptr_t)obj);
}

/*
 * magazine_flush - give the nr oldest objects of m back to their slabs.
 * Takes cache->lock; releases surplus slabs after dropping it.  Caller:
 * the owner, or anyone while the owner cannot run (exit, destroy).
 */
static void magazine_flush(struct kmem_cache *cache, struct kmem_magazine *m, unsigned int nr)
{
	unsigned int n = atomic_load_explicit(&m->count, memory_order_relaxed), i;
	struct list_head surplus = LIST_HEAD_INIT(surplus);

	if (nr > n)
		nr = n;
	if (!nr)
		return;
	pthread_mutex_lock(&cache->lock);
	for (i = 0; i < nr; i++)
		free_object_locked(cache, m->objs[i], &surplus);
	pthread_mutex_unlock(&cache->lock);
	memmove(m->objs, m->objs + nr, (n - nr) * sizeof(void *));
	mag_store_count(m, n - nr);
	release_surplus(cache, &surplus);
}

/*
 * magazine_refill - take up to MAG_BATCH objects into an empty magazine,
 * growing the cache only when no slab has a free object.  Takes
 * cache->lock (dropped around alloc_pages()).  Returns the new count
 * (0: out of memory, counted as a failure).
 */
static unsigned int magazine_refill(struct kmem_cache *cache, struct kmem_magazine *m, gfp_t gfp)
{
	unsigned int n = 0;
	void *obj;

	pthread_mutex_lock(&cache->lock);
	while (n < MAG_BATCH) {
		obj = take_object(cache);
		if (!obj) {
			bool grew;

			if (n)
				break;
			grew = grow_cache(cache, gfp);
			/*
			 * Reclaim inside alloc_pages may have freed objects of
			 * this cache into this very magazine (pte-chain blocks,
			 * freed by try_to_unmap): keep them, fill after them.
			 */
			n = atomic_load_explicit(&m->count, memory_order_relaxed);
			if (!grew)
				break;
			continue;
		}
		tag_object(obj);
		m->objs[n++] = obj;
	}
	if (!n)
		cache->alloc_failures++;
	pthread_mutex_unlock(&cache->lock);
	mag_store_count(m, n);
	return n;
}

/* mag_thread_exit - key destructor: give the exiting thread's magazines back. */
static void mag_thread_exit(void *unused)
{
	struct kmem_magazine *m, *tmp;

	(void)unused;
	pthread_mutex_lock(&mag_owner_lock);
	if (thread_mags.next) {
		list_for_each_entry_safe(m, tmp, &thread_mags, owner_link) {
			magazine_flush(m->cache, m, MAG_SIZE);
			pthread_mutex_lock(&m->cache->lock);
			m->cache->allocs += atomic_load(&m->allocs);
			m->cache->frees += atomic_load(&m->frees);
			pthread_mutex_unlock(&m->cache->lock);
			list_del(&m->owner_link);
			list_del(&m->cache_link);
			free(m);
		}
	}
	pthread_mutex_unlock(&mag_owner_lock);
	memset(mag_slots, 0, sizeof(mag_slots));
}

static void mag_key_create(void)
{
	if (pthread_key_create(&mag_key, mag_thread_exit))
		abort();
}

/* magazine_create - this thread's new magazine for cache (NULL: no memory). */
static struct kmem_magazine *magazine_create(struct kmem_cache *cache)
{
	struct kmem_magazine *m;

	pthread_once(&mag_key_once, mag_key_create);
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->cache = cache;
	pthread_mutex_lock(&mag_owner_lock);
	if (!thread_mags.next)
		INIT_LIST_HEAD(&thread_mags);
	list_add(&m->owner_link, &thread_mags);
	list_add(&m->cache_link, &cache->magazines);
	pthread_mutex_unlock(&mag_owner_lock);
	pthread_setspecific(mag_key, (void *)1);
	return m;
}

/* this_magazine - the calling thread's magazine for cache (created on first use if `create`). */
static inline struct kmem_magazine *this_magazine(struct kmem_cache *cache, bool create)
{
	uint64_t id = cache->id;
	struct kmem_magazine *m;
	unsigned int i;

	for (i = 0; i < MAG_SLOTS; i++)
		if (mag_slots[i].id == id)
			return mag_slots[i].mag;
	/* not in the slots: the thread may own one already */
	m = NULL;
	pthread_mutex_lock(&mag_owner_lock);
	if (thread_mags.next) {
		struct kmem_magazine *it;

		list_for_each_entry(it, &thread_mags, owner_link)
			if (it->cache == cache) {
				m = it;
				break;
			}
	}
	pthread_mutex_unlock(&mag_owner_lock);
	if (!m && create)
		m = magazine_create(cache);
	if (m) {
		i = mag_slot_next++ % MAG_SLOTS;
		mag_slots[i].id = id;
		mag_slots[i].mag = m;
	}
	return m;
}

/* check_double_free - debug: BUG if obj is already free (magazine or slab). */
static void check_double_free(struct kmem_cache *cache, void *obj)
{
	struct page *slab;

	if (!UMM_DEBUG)
		return;
	if (cache->size == sizeof(void *) || object_poisoned(cache, obj)) {
		VM_BUG_ON(object_tagged(obj));     /* in a magazine */
		pthread_mutex_lock(&cache->lock);
		slab = obj_to_slab(cache, obj);
		VM_BUG_ON(object_on_freelist(slab, obj));
		pthread_mutex_unlock(&cache->lock);
	}
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
	cache->arena_base = (uintptr_t)phys->base;
	cache->pages = phys->pages;
	cache->arena_bytes = phys->nr_frames * PAGE_SIZE;
	cache->size = size;
	cache->size_magic = UINT64_MAX / size + 1;
	cache->align = align;
	cache->order = order;
	cache->objs_per_slab = (unsigned int)((PAGE_SIZE << order) / size);
	cache->id = atomic_fetch_add(&next_cache_id, 1);
	INIT_LIST_HEAD(&cache->magazines);
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
 * Served from the calling thread's magazine without a lock when it has an
 * object; otherwise takes cache->lock to refill it (dropped around
 * alloc_pages()).  The first call of a thread on a cache takes
 * mag_owner_lock to create its magazine.
 * Return: the object, or NULL when no frame could be had (cache unchanged).
 */
void *kmem_cache_alloc(struct kmem_cache *cache, gfp_t gfp)
{
	struct kmem_magazine *m = this_magazine(cache, true);
	unsigned int n;
	void *obj;

	if (likely(m)) {
		n = atomic_load_explicit(&m->count, memory_order_relaxed);
		if (unlikely(!n) && !(n = magazine_refill(cache, m, gfp)))
			return NULL;
		obj = m->objs[--n];
		mag_store_count(m, n);
		mag_bump(&m->allocs);
		if (UMM_DEBUG) {
			VM_BUG_ON(!object_tagged(obj));          /* link word written after free */
			if (cache->size > sizeof(void *))
				VM_BUG_ON(!object_poisoned(cache, obj));   /* written after free */
			*(uintptr_t *)obj = 0;                   /* no longer tagged as free */
		}
	} else {
		/* no magazine (out of memory for one): the locked path */
		pthread_mutex_lock(&cache->lock);
		while (!(obj = take_object(cache))) {
			if (!grow_cache(cache, gfp)) {
				cache->alloc_failures++;
				break;
			}
		}
		if (obj)
			cache->allocs++;
		pthread_mutex_unlock(&cache->lock);
		if (!obj)
			return NULL;
	}
	if (gfp & GFP_ZERO)
		memset(obj, 0, cache->size);
	return obj;
}

/**
 * kmem_cache_free - return an object.
 * @cache: the cache it came from
 * @obj: the object (NULL: no-op)
 *
 * Goes into the calling thread's magazine without a lock; a full magazine
 * first gives MAG_BATCH objects back under cache->lock (and may free a
 * surplus empty slab after dropping it).  A pointer outside the cache's
 * slabs is a BUG; debug builds also catch double frees.
 */
void kmem_cache_free(struct kmem_cache *cache, void *obj)
{
	struct kmem_magazine *m;
	unsigned int n;

	if (!obj)
		return;
	(void)obj_to_slab(cache, obj);                  /* BUGs on a foreign pointer */
	check_double_free(cache, obj);
	m = this_magazine(cache, true);
	if (likely(m)) {
		n = atomic_load_explicit(&m->count, memory_order_relaxed);
		if (unlikely(n == MAG_SIZE)) {
			magazine_flush(cache, m, MAG_BATCH);
			n -= MAG_BATCH;
		}
		poison_object(cache, obj);
		tag_object(obj);
		m->objs[n] = obj;
		mag_store_count(m, n + 1);
		mag_bump(&m->frees);
	} else {
		struct list_head surplus = LIST_HEAD_INIT(surplus);

		pthread_mutex_lock(&cache->lock);
		free_object_locked(cache, obj, &surplus);
		cache->frees++;
		pthread_mutex_unlock(&cache->lock);
		release_surplus(cache, &surplus);
	}
}

/**
 * kmem_cache_drain_local - give the calling thread's cached objects of
 * cache back to their slabs (empty slabs beyond the spare are released).
 * @cache: the cache
 *
 * Takes cache->lock (and mag_owner_lock if the thread has no slot for it).
 */
void kmem_cache_drain_local(struct kmem_cache *cache)
{
	struct kmem_magazine *m = this_magazine(cache, false);

	if (m)
		magazine_flush(cache, m, MAG_SIZE);
}

/* detach_magazines - flush and free every magazine of cache.  mag_owner_lock held. */
static void detach_magazines(struct kmem_cache *cache)
{
	struct kmem_magazine *m, *tmp;

	list_for_each_entry_safe(m, tmp, &cache->magazines, cache_link) {
		magazine_flush(cache, m, MAG_SIZE);
		list_del(&m->owner_link);
		list_del(&m->cache_link);
		free(m);
	}
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
 * Flushes and frees every thread's magazine of the cache (under
 * mag_owner_lock, then cache->lock), then frees the slabs.
 * Return: the number of objects that were still allocated (leaks).
 */
unsigned long kmem_cache_destroy(struct kmem_cache *cache)
{
	unsigned long leaked = 0;

	if (!cache)
		return 0;
	pthread_mutex_lock(&mag_owner_lock);
	detach_magazines(cache);
	pthread_mutex_unlock(&mag_owner_lock);
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
 * Takes mag_owner_lock, then cache->lock.  Exact when no thread is using
 * the cache; the magazines' parts are read without stopping their owners.
 */
void kmem_cache_get_stats(struct kmem_cache *cache, struct kmem_cache_stats *st)
{
	struct kmem_magazine *m;
	unsigned long cached = 0, allocs = 0, frees = 0;

	pthread_mutex_lock(&mag_owner_lock);
	list_for_each_entry(m, &cache->magazines, cache_link) {
		cached += atomic_load_explicit(&m->count, memory_order_relaxed);
		allocs += atomic_load_explicit(&m->allocs, memory_order_relaxed);
		frees += atomic_load_explicit(&m->frees, memory_order_relaxed);
	}
	pthread_mutex_lock(&cache->lock);
	st->objects_in_use = cache->in_use - MIN(cached, cache->in_use);
	st->objects_cached = cached;
	st->slabs = cache->slabs;
	st->pages = cache->slabs << cache->order;
	st->objs_per_slab = cache->objs_per_slab;
	st->allocs = cache->allocs + allocs;
	st->frees = cache->frees + frees;
	st->alloc_failures = cache->alloc_failures;
	pthread_mutex_unlock(&cache->lock);
	pthread_mutex_unlock(&mag_owner_lock);
}

/**
 * kmem_cache_name - the name the cache was created with.
 * @cache: the cache
 */
const char *kmem_cache_name(const struct kmem_cache *cache)
{
	return cache->name;
}
