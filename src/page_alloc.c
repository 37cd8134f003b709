/* SPDX-License-Identifier: MIT */
/*
 * page_alloc.c - the buddy allocator, the per-thread frame caches,
 * watermarks, put_page() and statistics.  The arena and its host
 * memory are arena.c's, giving long free blocks back is
 * page_reporting.c's, the page lock is page_lock.c's, the consistency
 * check is page_alloc_check.c's (struct per_thread_pages is in pcp.h for
 * it).
 *
 * Theory of operation
 *
 * phys_create() has arena.c map the arena (a memfd or anonymous memory at
 * phys->base) and the descriptor region, which starts on a
 * 2^PHYS_META_ALIGN_SHIFT boundary with struct phys_mem at its start, so
 * page_to_phys() is a mask (see page_alloc.h).  Every block alloc_pages()
 * hands out goes through arena_prepare() first, which brings its chunk in
 * from the host if it is not there yet (one bit test when it is).  When
 * the allocator lists a never-used max-order block, alloc_pages() wakes
 * the populate-ahead thread (populate_ahead.c), which brings in the
 * blocks it will hand out next; a split of a block of a chunk or more
 * prefers one whose host memory is present (pick_present_locked()).
 *
 * Free frames are kept in blocks of 2^order frames, order 0..MAX_ORDER-1,
 * each block naturally aligned (its first pfn is a multiple of 2^order).
 * The head descriptor of a free block carries PG_buddy and `order`; the
 * block's buddy is the block at pfn ^ 2^order, and two free buddies of the
 * same order merge into one block of the next order.  Allocation takes the
 * smallest non-empty order and splits off the halves it does not need.
 *
 * Single frames go through per-thread caches (struct per_thread_pages, one
 * per (thread, arena) pair): a LIFO list of free frames, refilled from and
 * drained to the buddy lists pcp_batch frames at a time, never holding more
 * than pcp_high.  A refill takes one whole block of the batch's order when
 * there is one (pcp_refill_locked()), so the shared lists see one
 * operation per batch and each cache holds runs of neighbouring frames.
 * Frames in a cache are free: PG_buddy set, refcount 0, but `order` holds
 * ORDER_PCP so that the buddy allocator never merges them.
 * `order` is only ever written under the zone lock, which is what lets a
 * merging thread read it while the frame's cache is used by another thread.
 *
 * Counting: the free frames are those in the buddy lists (including the
 * never-listed blocks below lazy_end, see init_frames()), in the caches,
 * and in blocks isolated for page_reporting.c.  The caches' part is
 * published lazily, so that a frame taken from or given to a cache
 * touches no line other threads write: each cache remembers the part of
 * its count it has published (`synced`) and publishes the difference at
 * every refill and drain, and on the fast path only once the difference
 * reaches PCP_SYNC_DRIFT.  nr_pcp is the sum of the published parts, and
 * nr_free = buddy lists + isolated + nr_pcp: every change of it is one
 * atomic add made under the zone lock or under the lock of the cache
 * whose part is published, so phys_check(), which takes every lock,
 * finds it exact.  The true count of free frames differs from nr_free by
 * less than PCP_SYNC_DRIFT per cache, and equals it once every cache has
 * been drained (thread exit, drain_all_pages()).  phys_get_stats()
 * reports the true counts (nr_free plus each cache's unpublished part,
 * and the exact sum of the cache counts), phys_check() verifies nr_pcp
 * and nr_free against the published parts, and drain_all_pages() does
 * not trust nr_pcp == 0 to mean "nothing cached".
 *
 * The watermark checks of an allocation read nr_free corrected by the
 * calling thread's own cache's unpublished part (exact for a thread
 * alone, within PCP_SYNC_DRIFT per other cache otherwise), and so does
 * the low-watermark crossing test of an allocation.
 *
 * Allocations and frees served by a cache are counted in the cache (under
 * its lock) and summed by phys_get_stats(); phys->stat holds the rest (its
 * pcp_hits field stays unused).
 *
 * Watermarks: an allocation that would leave fewer than wmark[MIN] frames
 * free (GFP_ATOMIC: half of it) fails its fast attempt; the slow path
 * drains every cache (frames may be stranded in other threads' caches),
 * calls the reclaim hook, retries, and returns NULL if the hook freed
 * nothing (or MAX_RECLAIM_RETRIES calls that freed frames all lost them
 * to other threads): an OOM event.  An allocation that takes the free
 * count it sees (above) from wmark[LOW] or above to below it wakes kswapd
 * (once per crossing, not on every allocation while low); the slow path
 * wakes it as well.  The direct reclaim hook is never
 * re-entered from an allocation it makes itself.
 *
 * Thread lifetime: each thread keeps a small array of (arena id, cache)
 * pairs for the fast lookup and a list of every cache it owns.  A pthread
 * key destructor drains the exiting thread's caches and marks them unowned
 * so a later thread reuses them.  phys_destroy() frees the caches of its
 * arena and unlinks them from their owners' lists under pcp_owner_lock, so
 * the destructor never sees a dead arena; arena ids are never reused, so a
 * stale (id, cache) pair is never matched again.
 *
 * Locks, in the order they nest:
 *   pcp_owner_lock (global: every thread's list of caches, pcp->owned)
 *     -> phys->pcp_list_lock (the arena's registry of caches)
 *       -> pcp->lock (spinlock: one cache's frames and count)
 *         -> phys->zone_lock (buddy lists, `order` of free frames)
 * Only phys_check() and phys_get_stats() hold more than one pcp->lock,
 * always in registry order.  The reclaim and kswapd hooks, and
 * arena_prepare() (which may take populate_lock and make a system call),
 * are called with no lock of this file held.
 *
 * Giving memory back: a block that reaches order MAX_ORDER-1 is stamped
 * with the time (free_since, under the zone lock); page_reporting.c takes
 * such blocks out of the lists (isolate_idle_block(), counted in
 * nr_isolated, which phys_check() adds to the lists' frames) to punch
 * them, and puts them back at the tail.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "page_alloc.h"
#include "pcp.h"

#define PCP_SLOTS        4
#define PCP_HIGH_DEFAULT 64
#define PCP_BATCH_DEFAULT 16
#define CACHELINE        64
#define MAX_RECLAIM_RETRIES 16  /* direct reclaims of one allocation that free frames others take */

static _Atomic uint64_t next_phys_id = 1;

static pthread_mutex_t pcp_owner_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t pcp_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t pcp_key;

struct pcp_slot {
	uint64_t id;
	struct per_thread_pages *pcp;
};
static __thread struct pcp_slot pcp_slots[PCP_SLOTS];
static __thread unsigned int pcp_slot_next;
static __thread struct list_head thread_pcps;   /* [pcp_owner_lock] */
static __thread bool in_direct_reclaim;

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static unsigned long pfn_of(struct phys_mem *phys, struct page *page)
{
	return (unsigned long)(page - phys->pages);
}

/* pcp_unpublished - the part of the cache's count not yet in nr_pcp and nr_free.  pcp lock held. */
static inline long pcp_unpublished(const struct per_thread_pages *pcp)
{
	return (long)pcp->count - (long)pcp->synced;
}

/*
 * pcp_sync_locked - publish the cache's count: add the change since the
 * last publication to phys->nr_pcp, and to phys->nr_free all of it but
 * `moved`, the frames that came from the buddy lists (negative: went to
 * them) since then, which nr_free already counted as free.  pcp lock held.
 */
static void pcp_sync_locked(struct per_thread_pages *pcp, long moved)
{
	long delta = pcp_unpublished(pcp);

	if (delta) {
		atomic_fetch_add_explicit(&pcp->phys->nr_pcp, delta, memory_order_relaxed);
		pcp->synced = pcp->count;
	}
	if (delta != moved)
		atomic_fetch_add_explicit(&pcp->phys->nr_free, delta - moved, memory_order_relaxed);
}

/* reset_descriptor - the state of a freshly allocated frame's descriptor. */
static void reset_descriptor(struct page *page, int refcount)
{
	size_t from = offsetof(struct page, mapping);

	atomic_store_explicit(&page->flags, 0, memory_order_relaxed);
	atomic_store_explicit(&page->_mapcount, 0, memory_order_relaxed);
	memset((char *)page + from, 0, offsetof(struct page, lru) - from);
	INIT_LIST_HEAD(&page->lru);
	page->rmap = NULL;
	page->private = 0;
	atomic_store_explicit(&page->_refcount, refcount, memory_order_release);
}

/* check_free_state - debug: a frame being freed must be in no other role. */
static void check_free_state(struct page *page)
{
	unsigned long bad = (1UL << PG_locked) | (1UL << PG_lru) | (1UL << PG_lru_batch) | (1UL << PG_buddy) |
			    (1UL << PG_reserved) | (1UL << PG_writeback);

	VM_BUG_ON(atomic_load(&page->flags) & bad);
	VM_BUG_ON(page_mapcount(page) != 0);
	VM_BUG_ON(page_count(page) < 0 || page_count(page) > 1);
	(void)bad;
}

/* ------------------------------------------------------------------ */
/* Buddy lists (zone_lock held)                                        */

static void add_to_free_area(struct phys_mem *phys, struct page *page, unsigned int order)
{
	page->order = order;
	SetPageBuddy(page);
	list_add(&page->lru, &phys->free_area[order].free_list);
	phys->free_area[order].nr_free++;
}

static void del_from_free_area(struct phys_mem *phys, struct page *page, unsigned int order)
{
	list_del_init(&page->lru);
	ClearPageBuddy(page);
	phys->free_area[order].nr_free--;
}

/*
 * free_one_locked - put the block at `page` back, merging it with its free
 * buddies as far as they go.  Does not touch nr_free.  zone_lock held.
 */
static void free_one_locked(struct phys_mem *phys, struct page *page, unsigned int order)
{
	unsigned long pfn = pfn_of(phys, page);

	while (order < MAX_ORDER - 1) {
		unsigned long buddy_pfn = pfn ^ (1UL << order);
		struct page *buddy;

		if (buddy_pfn >= phys->nr_frames)
			break;
		buddy = &phys->pages[buddy_pfn];
		if (!PageBuddy(buddy) || buddy->order != order)
			break;
		del_from_free_area(phys, buddy, order);
		pfn &= ~(1UL << order);
		order++;
	}
	add_to_free_area(phys, &phys->pages[pfn], order);
	if (order == MAX_ORDER - 1)
		phys->free_since[pfn >> (MAX_ORDER - 1)] = arena_clock_ns();
}

#define PRESENT_SCAN 8      /* blocks of a list looked at for one whose memory is present */

/*
 * block_present - is the first chunk of the block at pfn (the one a split
 * hands out first) present in the host?
 */
static bool block_present(struct phys_mem *phys, unsigned long pfn)
{
	return arena_chunk_present(phys, pfn >> ARENA_CHUNK_ORDER);
}

/*
 * pick_present_locked - the block of the order-o list (o at least a
 * chunk) to split: the first of its first PRESENT_SCAN blocks whose
 * memory is present in the host; failing that, for the largest order,
 * NULL when the highest never-listed block is present (the populate-ahead
 * thread brought it in: rmqueue_locked() lists it instead); else the
 * list's head.  Bringing a chunk in costs ~1 ms of host time; preferring
 * present memory keeps that for when none is free.  zone_lock held.
 */
static struct page *pick_present_locked(struct phys_mem *phys, unsigned int o)
{
	struct page *head = list_first_entry(&phys->free_area[o].free_list, struct page, lru);
	struct page *page;
	unsigned int n = 0;

	list_for_each_entry(page, &phys->free_area[o].free_list, lru) {
		if (block_present(phys, pfn_of(phys, page)))
			return page;
		if (++n == PRESENT_SCAN)
			break;
	}
	if (o == MAX_ORDER - 1 && phys->lazy_end &&
	    block_present(phys, phys->lazy_end - (1UL << o)))
		return NULL;
	return head;
}

/*
 * rmqueue_locked - take a block of exactly 2^order frames, splitting a
 * larger one if needed.  Returns the head (PG_buddy clear) or NULL.
 * A block of a chunk or more is taken where the host memory is present
 * when one is at hand (pick_present_locked()).  Does not touch nr_free.
 * zone_lock held.
 */
static struct page *rmqueue_locked(struct phys_mem *phys, unsigned int order)
{
	unsigned int o = order;
	struct page *page = NULL;

	while (o < MAX_ORDER && list_empty(&phys->free_area[o].free_list))
		o++;
	if (o < MAX_ORDER && o >= ARENA_CHUNK_ORDER) {
		page = list_first_entry(&phys->free_area[o].free_list, struct page, lru);
		if (!block_present(phys, pfn_of(phys, page)))
			page = pick_present_locked(phys, o);
		if (!page)
			o = MAX_ORDER;          /* the present never-listed block, below */
	}
	if (o == MAX_ORDER) {
		/* the lists are dry (or hold no present block): list the highest never-listed block */
		if (!phys->lazy_end)
			return NULL;
		o = MAX_ORDER - 1;
		phys->lazy_end -= 1UL << o;
		phys->free_area[o].nr_free--;
		page = &phys->pages[phys->lazy_end];
		/* the populate-ahead window moved (alloc_pages() passes it on) */
		atomic_store_explicit(&phys->ahead_kick, 1, memory_order_relaxed);
	} else {
		if (!page)
			page = list_first_entry(&phys->free_area[o].free_list, struct page, lru);
		del_from_free_area(phys, page, o);
	}
	while (o > order) {
		o--;
		add_to_free_area(phys, page + (1UL << o), o);
	}
	page->order = order;
	return page;
}

/**
 * arena_clock_ns - the clock free blocks are stamped with.
 *
 * CLOCK_MONOTONIC_COARSE (a few ms of resolution, no system call), in ns.
 */
uint64_t arena_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/**
 * phys_lazy_end - where the never-listed max-order blocks end.
 * @phys: the arena
 *
 * Frames [0, lazy_end) are whole blocks of order MAX_ORDER-1 never handed
 * out; the allocator lists the highest of them when its lists run dry.
 * Takes the zone lock.  Return: lazy_end (a snapshot).
 */
unsigned long phys_lazy_end(struct phys_mem *phys)
{
	unsigned long end;

	pthread_mutex_lock(&phys->zone_lock);
	end = phys->lazy_end;
	pthread_mutex_unlock(&phys->zone_lock);
	return end;
}

/**
 * isolate_idle_block - take a long-free, host-present max-order block out.
 * @phys: the arena
 * @free_before: only a block free since before this arena_clock_ns() time
 *
 * Takes the zone lock.  The block leaves the free lists (PG_buddy clear,
 * so nothing merges with it) but its frames stay counted in nr_free and in
 * nr_isolated until putback_isolated_block().  Refuses when the frames
 * left in the lists would drop below wmark[HIGH] plus one block, so that
 * allocations that pass the watermark still find frames.
 * Return: the block's first pfn, or -1.
 */
long isolate_idle_block(struct phys_mem *phys, uint64_t free_before)
{
	const unsigned int o = MAX_ORDER - 1;
	long block = 1L << o, pfn = -1;
	struct page *page;

	pthread_mutex_lock(&phys->zone_lock);
	if (atomic_load(&phys->nr_free) - phys->nr_isolated - block <
	    (long)phys->wmark[WMARK_HIGH] + block)
		goto out;
	list_for_each_entry(page, &phys->free_area[o].free_list, lru) {
		unsigned long p = pfn_of(phys, page);

		if (phys->free_since[p >> o] <= free_before && arena_range_present(phys, p, 1UL << o)) {
			del_from_free_area(phys, page, o);
			phys->nr_isolated += block;
			pfn = (long)p;
			break;
		}
	}
out:
	pthread_mutex_unlock(&phys->zone_lock);
	return pfn;
}

/**
 * putback_isolated_block - return a block isolate_idle_block() took.
 * @phys: the arena
 * @pfn: the pfn it returned
 *
 * Takes the zone lock.  The block goes to the tail of its list, so blocks
 * whose frames are still present in the host are handed out first.
 */
void putback_isolated_block(struct phys_mem *phys, unsigned long pfn)
{
	const unsigned int o = MAX_ORDER - 1;
	struct page *page = &phys->pages[pfn];

	pthread_mutex_lock(&phys->zone_lock);
	page->order = o;
	SetPageBuddy(page);
	list_add_tail(&page->lru, &phys->free_area[o].free_list);
	phys->free_area[o].nr_free++;
	phys->nr_isolated -= 1L << o;
	pthread_mutex_unlock(&phys->zone_lock);
}

/* ------------------------------------------------------------------ */
/* Per-thread caches                                                   */

/* pcp_drain_locked - move up to `nr` frames from pcp to the buddy lists. pcp lock held. */
static void pcp_drain_locked(struct per_thread_pages *pcp, unsigned int nr)
{
	struct phys_mem *phys = pcp->phys;
	unsigned int done = 0;

	if (!pcp->count) {
		pcp_sync_locked(pcp, 0);        /* a drained cache shows 0 in nr_pcp */
		return;
	}
	pthread_mutex_lock(&phys->zone_lock);
	while (done < nr && !list_empty(&pcp->frames)) {
		/* take the coldest frames: the hot ones stay for reuse */
		struct page *page = list_entry(pcp->frames.prev, struct page, lru);

		list_del_init(&page->lru);
		ClearPageBuddy(page);
		free_one_locked(phys, page, 0);
		done++;
	}
	pcp->count -= done;
	pthread_mutex_unlock(&phys->zone_lock);
	pcp_sync_locked(pcp, -(long)done);      /* free before and after: only the drift goes to nr_free */
}

/* pcp_add_frame_locked - one frame (its block's head or tail) joins pcp's tail.  zone_lock held. */
static void pcp_add_frame_locked(struct per_thread_pages *pcp, struct page *page)
{
	page->order = ORDER_PCP;
	atomic_store_explicit(&page->flags, 1U << PG_buddy, memory_order_relaxed);
	list_add_tail(&page->lru, &pcp->frames);
}

/*
 * pcp_refill_locked - move up to pcp_batch frames from the buddy lists to
 * pcp.  When a block of the batch's order (pcp_batch rounded down to a
 * power of two) is free, the batch is that one block, split into frames
 * in pfn order: one list operation on the shared buddy lists per refill
 * instead of one or more per frame, and frames whose descriptors lie
 * together, away from the frames other threads' caches hold.  Otherwise
 * (fragmented lists) frames are taken one at a time.  pcp lock held;
 * takes the zone lock.
 */
static void pcp_refill_locked(struct per_thread_pages *pcp)
{
	struct phys_mem *phys = pcp->phys;
	unsigned int order = 31 - (unsigned int)__builtin_clz(phys->pcp_batch);
	unsigned int done = 0;
	struct page *page;

	pthread_mutex_lock(&phys->zone_lock);
	if (order && order < MAX_ORDER && (page = rmqueue_locked(phys, order)) != NULL) {
		for (; done < 1U << order; done++)
			pcp_add_frame_locked(pcp, page + done);
	}
	while (done < phys->pcp_batch) {
		page = rmqueue_locked(phys, 0);
		if (!page)
			break;
		pcp_add_frame_locked(pcp, page);
		done++;
	}
	pcp->count += done;
	pthread_mutex_unlock(&phys->zone_lock);
	pcp_sync_locked(pcp, done);     /* free before and after: only the drift goes to nr_free */
}

/* pcp_thread_exit - key destructor: give the exiting thread's caches back. */
static void pcp_thread_exit(void *unused)
{
	struct per_thread_pages *pcp, *tmp;

	(void)unused;
	pthread_mutex_lock(&pcp_owner_lock);
	if (thread_pcps.next) {
		list_for_each_entry_safe(pcp, tmp, &thread_pcps, owner_link) {
			list_del_init(&pcp->owner_link);
			pcp_lock(pcp);
			pcp_drain_locked(pcp, pcp->count);
			pcp_unlock(pcp);
			pcp->owned = false;
		}
	}
	pthread_mutex_unlock(&pcp_owner_lock);
	memset(pcp_slots, 0, sizeof(pcp_slots));
}

static void pcp_key_create(void)
{
	if (pthread_key_create(&pcp_key, pcp_thread_exit))
		abort();
}

/*
 * pcp_find_or_create - this thread's cache for phys, reusing an unowned
 * one when possible.  NULL when caching is off or memory is short.
 * Takes pcp_owner_lock and pcp_list_lock.
 */
static struct per_thread_pages *pcp_find_or_create(struct phys_mem *phys)
{
	struct per_thread_pages *pcp, *found = NULL;

	pthread_once(&pcp_key_once, pcp_key_create);
	pthread_mutex_lock(&pcp_owner_lock);
	if (!thread_pcps.next)
		INIT_LIST_HEAD(&thread_pcps);
	list_for_each_entry(pcp, &thread_pcps, owner_link)
		if (pcp->phys == phys)
			goto out_unlock_owner;

	pthread_mutex_lock(&phys->pcp_list_lock);
	list_for_each_entry(pcp, &phys->pcp_list, phys_link)
		if (!pcp->owned) {
			found = pcp;
			break;
		}
	if (!found) {
		found = aligned_alloc(CACHELINE, ALIGN_UP(sizeof(*found), CACHELINE));
		if (found) {
			memset(found, 0, sizeof(*found));
			atomic_flag_clear(&found->lock);
			INIT_LIST_HEAD(&found->frames);
			found->phys = phys;
			list_add_tail(&found->phys_link, &phys->pcp_list);
		}
	}
	pthread_mutex_unlock(&phys->pcp_list_lock);
	pcp = found;
	if (!pcp)
		goto out_unlock_owner;
	pcp->owned = true;
	list_add(&pcp->owner_link, &thread_pcps);
	pthread_setspecific(pcp_key, (void *)1);
out_unlock_owner:
	pthread_mutex_unlock(&pcp_owner_lock);
	return pcp;
}

/* this_pcp - the calling thread's cache for phys (fast: a thread-local lookup). */
static inline struct per_thread_pages *this_pcp(struct phys_mem *phys)
{
	uint64_t id = phys->id;
	struct per_thread_pages *pcp;
	unsigned int i;

	for (i = 0; i < PCP_SLOTS; i++)
		if (pcp_slots[i].id == id)
			return pcp_slots[i].pcp;
	pcp = pcp_find_or_create(phys);
	if (pcp) {
		i = pcp_slot_next++ % PCP_SLOTS;
		pcp_slots[i].id = id;
		pcp_slots[i].pcp = pcp;
	}
	return pcp;
}

/* ------------------------------------------------------------------ */
/* Allocation                                                          */

static void *load_ptr(void *const *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void wakeup_kswapd(struct phys_mem *phys)
{
	void (*wake)(void *) = (void (*)(void *))load_ptr((void *const *)&phys->wakeup_kswapd);

	if (wake) {
		atomic_fetch_add(&phys->stat.kswapd_wakeups, 1);
		wake(load_ptr(&phys->reclaim_arg));
	}
}

/* crossed_low - did nr_free go from >= low to < low? */
static bool crossed_low(struct phys_mem *phys, long before, long nr)
{
	long low = (long)phys->wmark[WMARK_LOW];

	return before >= low && before - nr < low;
}

/* watermark_allows - may nr frames go when `free` are free (as this thread sees it)? */
static bool watermark_allows(struct phys_mem *phys, gfp_t gfp, long free, long nr)
{
	long mark = (long)phys->wmark[WMARK_MIN];

	if (gfp & GFP_ATOMIC)
		mark /= 2;
	return free - nr >= mark;
}

/* free_seen - nr_free with the calling thread's cache's unpublished part.  pcp lock held. */
static inline long free_seen(struct phys_mem *phys, const struct per_thread_pages *pcp)
{
	return atomic_load_explicit(&phys->nr_free, memory_order_relaxed) + pcp_unpublished(pcp);
}

/* alloc_from_pcp - one frame from this thread's cache (refilled if empty), watermark allowing. */
static struct page *alloc_from_pcp(struct phys_mem *phys, struct per_thread_pages *pcp, gfp_t gfp,
				   bool *woke)
{
	struct page *page = NULL;
	long before;

	pcp_lock(pcp);
	before = free_seen(phys, pcp);          /* a refill does not change it */
	if (!watermark_allows(phys, gfp, before, 1))
		goto out;
	if (!pcp->count)
		pcp_refill_locked(pcp);
	if (pcp->count) {
		page = list_first_entry(&pcp->frames, struct page, lru);
		list_del(&page->lru);
		atomic_store_explicit(&page->flags, 0, memory_order_release);
		pcp->count--;
		pcp->allocs++;
		if (unlikely(pcp_drifted(pcp)))
			pcp_sync_locked(pcp, 0);
		*woke = crossed_low(phys, before, 1);
	}
out:
	pcp_unlock(pcp);
	return page;
}

/* own_unpublished - the unpublished part of the calling thread's cache for phys, if it has one. */
static long own_unpublished(struct phys_mem *phys)
{
	long n = 0;

	for (unsigned int i = 0; i < PCP_SLOTS; i++) {
		if (pcp_slots[i].id == phys->id) {
			struct per_thread_pages *pcp = pcp_slots[i].pcp;

			pcp_lock(pcp);
			n = pcp_unpublished(pcp);
			pcp_unlock(pcp);
			break;
		}
	}
	return n;
}

/* alloc_from_buddy - a block from the buddy lists, watermark allowing. */
static struct page *alloc_from_buddy(struct phys_mem *phys, gfp_t gfp, unsigned int order, bool *woke)
{
	long own = own_unpublished(phys);
	struct page *page;
	long before;

	if (!watermark_allows(phys, gfp, atomic_load(&phys->nr_free) + own, 1L << order))
		return NULL;
	pthread_mutex_lock(&phys->zone_lock);
	page = rmqueue_locked(phys, order);
	if (page) {
		before = atomic_fetch_sub(&phys->nr_free, 1L << order) + own;
		*woke = crossed_low(phys, before, 1L << order);
	}
	pthread_mutex_unlock(&phys->zone_lock);
	if (page)
		atomic_fetch_add_explicit(&phys->stat.allocs, 1, memory_order_relaxed);
	return page;
}

/* get_page_from_freelist - one attempt, honouring the watermark. */
static struct page *get_page_from_freelist(struct phys_mem *phys, gfp_t gfp, unsigned int order)
{
	struct per_thread_pages *pcp;
	struct page *page = NULL;
	bool woke = false;

	if (order == 0 && phys->pcp_high && (pcp = this_pcp(phys)) != NULL)
		page = alloc_from_pcp(phys, pcp, gfp, &woke);
	else
		page = alloc_from_buddy(phys, gfp, order, &woke);
	if (woke)
		wakeup_kswapd(phys);
	return page;
}

/*
 * call_reclaim - call the reclaim hook once for @wanted frames, unless
 * there is none or this thread is reclaiming already.  Frames it freed,
 * or -1 if it was not called.
 */
static long call_reclaim(struct phys_mem *phys, long wanted, gfp_t gfp)
{
	reclaim_hook_t hook = (reclaim_hook_t)load_ptr((void *const *)&phys->reclaim);
	long freed;

	if (!hook || in_direct_reclaim)
		return -1;
	atomic_fetch_add(&phys->stat.reclaim_calls, 1);
	in_direct_reclaim = true;
	freed = hook(load_ptr(&phys->reclaim_arg), (unsigned long)wanted, gfp);
	in_direct_reclaim = false;
	return freed > 0 ? freed : 0;
}

/* direct_reclaim - reclaim for an allocation of 2^order frames.  Frames freed, or -1 if not called. */
static long direct_reclaim(struct phys_mem *phys, gfp_t gfp, unsigned int order)
{
	long wanted = 1L << order;
	long free_now = atomic_load(&phys->nr_free);

	if (gfp & (GFP_NORECLAIM | GFP_ATOMIC))
		return -1;
	if (free_now < (long)phys->wmark[WMARK_HIGH])
		wanted += (long)phys->wmark[WMARK_HIGH] - free_now;
	return call_reclaim(phys, wanted, gfp);
}

/**
 * reclaim_for - make room for @nr frames above the low watermark with one
 * direct reclaim call (the reclaim hook), for a caller about to allocate
 * them with GFP_NORECLAIM that is better served by reclaim now than by a
 * smaller allocation (a sequential reader's next readahead window).
 * kswapd is woken too, as an allocation taking those frames would have
 * woken it, so that it keeps room ahead of the next such call.
 * @phys: the arena
 * @nr: frames wanted above the low watermark
 *
 * Nothing is done when they are free already, without a reclaim hook, or
 * inside reclaim.  Called with no allocator lock and no page-table lock
 * held (the context of direct reclaim).
 * Return: frames freed.
 */
unsigned long reclaim_for(struct phys_mem *phys, unsigned long nr)
{
	long want = (long)(phys->wmark[WMARK_LOW] + nr) - atomic_load(&phys->nr_free);
	long freed;

	if (want <= 0 || !load_ptr((void *const *)&phys->reclaim) || in_direct_reclaim)
		return 0;
	wakeup_kswapd(phys);
	freed = call_reclaim(phys, want, GFP_KERNEL);
	return freed > 0 ? (unsigned long)freed : 0;
}

/*
 * alloc_slowpath - the fast attempt failed: drain caches, reclaim, retry.
 * Reclaim is called again while it frees frames that other allocating
 * threads take first, up to MAX_RECLAIM_RETRIES times; a call that frees
 * nothing ends it (an OOM event).
 */
static struct page *alloc_slowpath(struct phys_mem *phys, gfp_t gfp, unsigned int order)
{
	struct page *page;
	long freed;

	if (atomic_load(&phys->nr_free) < (long)phys->wmark[WMARK_LOW])
		wakeup_kswapd(phys);
	drain_all_pages(phys);
	page = get_page_from_freelist(phys, gfp, order);
	for (int tries = 0; !page && tries < MAX_RECLAIM_RETRIES; tries++) {
		freed = direct_reclaim(phys, gfp, order);
		if (freed < 0)
			return NULL;                    /* no reclaim for this allocation */
		drain_all_pages(phys);
		page = get_page_from_freelist(phys, gfp, order);
		if (!freed)
			break;
	}
	if (!page)
		atomic_fetch_add(&phys->stat.oom, 1);   /* reclaim ran and did not help */
	return page;
}

/**
 * alloc_pages - allocate 2^order contiguous frames.
 * @phys: the arena
 * @gfp: GFP_* flags
 * @order: 0 .. MAX_ORDER-1
 *
 * Takes and releases the calling thread's cache lock and/or the zone
 * lock; may call the reclaim and kswapd hooks with no lock held, and,
 * when it listed a never-used max-order block, wakes the populate-ahead
 * thread (its lock, with no allocator lock held).
 * GFP_ZERO skips the memset when every frame of the block is known to be
 * zero (not used since the arena was created or the block was punched;
 * see arena.c).
 * Return: the head page (refcount 1, flags clear, other fields zero) or
 * NULL on bad arguments, exhaustion or an injected failure.
 */
struct page *alloc_pages(struct phys_mem *phys, gfp_t gfp, unsigned int order)
{
	struct page *page;
	unsigned long i;

	if (unlikely(!phys))
		return NULL;
	if (unlikely(order >= MAX_ORDER) || should_fail(&phys->fail_alloc))
		goto fail;
	page = get_page_from_freelist(phys, gfp, order);
	if (unlikely(!page)) {
		page = alloc_slowpath(phys, gfp, order);
		if (!page)
			goto fail;
	}
	arena_prepare(phys, pfn_of(phys, page), 1UL << order);
	if (unlikely(atomic_load_explicit(&phys->ahead_kick, memory_order_relaxed)))
		populate_ahead_kick(phys);
	reset_descriptor(page, 1);
	for (i = 1; i < (1UL << order); i++)
		reset_descriptor(page + i, 0);
	/* frames never used since the arena was created or punched are zero already */
	if (!arena_take_zeroed(phys, pfn_of(phys, page), 1UL << order) && (gfp & GFP_ZERO))
		memset(page_address(page), 0, PAGE_SIZE << order);
	return page;
fail:
	atomic_fetch_add(&phys->stat.failures, 1);
	return NULL;
}

/**
 * split_page - make a block alloc_pages() returned into 2^order separate
 * order-0 frames: each gets a reference (the head keeps its own), and each
 * is freed on its own by put_page() or free_pages(frame, 0).  Frames that
 * follow each other in the arena stay so: what the host MMU maps in runs.
 * Their `order` is ORDER_PCP, as if they came out of a per-thread cache,
 * so each may go back into one when freed (the buddy allocator never
 * merges such a frame).  Takes the zone lock (`order` is written only
 * under it).
 */
void split_page(struct page *page, unsigned int order)
{
	struct phys_mem *phys = page_to_phys(page);
	unsigned long n = 1UL << order;

	VM_BUG_ON(page->order != order || page_count(page) != 1);
	pthread_mutex_lock(&phys->zone_lock);
	for (unsigned long i = 0; i < n; i++)
		page[i].order = ORDER_PCP;
	pthread_mutex_unlock(&phys->zone_lock);
	for (unsigned long i = 1; i < n; i++)
		atomic_store_explicit(&page[i]._refcount, 1, memory_order_release);
}

/* free_frame_pcp_locked - put one frame into this thread's cache (its lock held). */
static void free_frame_pcp_locked(struct phys_mem *phys, struct per_thread_pages *pcp,
				  struct page *page)
{
	atomic_store_explicit(&page->flags, 1UL << PG_buddy, memory_order_release);
	list_add(&page->lru, &pcp->frames);
	pcp->count++;
	pcp->frees++;
	if (pcp->count > phys->pcp_high)
		pcp_drain_locked(pcp, phys->pcp_batch);
	else if (unlikely(pcp_drifted(pcp)))
		pcp_sync_locked(pcp, 0);
}

/* free_frame_pcp - return one frame through this thread's cache. */
static void free_frame_pcp(struct phys_mem *phys, struct per_thread_pages *pcp, struct page *page)
{
	pcp_lock(pcp);
	free_frame_pcp_locked(phys, pcp, page);
	pcp_unlock(pcp);
}

/**
 * free_pages - give a block of 2^order frames back.
 * @page: head of a block from alloc_pages(); refcount 0 or 1, unmapped,
 *        not locked, not on an LRU list
 * @order: the order it was allocated with
 *
 * Takes the calling thread's cache lock and/or the zone lock.  Clears the
 * head's flags.  Debug builds check the frame's state.
 */
void free_pages(struct page *page, unsigned int order)
{
	struct phys_mem *phys;
	struct per_thread_pages *pcp;

	if (unlikely(!page))
		return;
	phys = page_to_phys(page);
	BUG_ON(order >= MAX_ORDER || pfn_of(phys, page) + (1UL << order) > phys->nr_frames);
	check_free_state(page);
	/* the order it was allocated with (order-0 frames: 0 or ORDER_PCP) */
	VM_BUG_ON(order ? page->order != order : page->order != 0 && page->order != ORDER_PCP);
	atomic_store_explicit(&page->_refcount, 0, memory_order_relaxed);
	/*
	 * Only a frame that came out of a cache (order == ORDER_PCP, written
	 * under the zone lock) may go back into one: PG_buddy is set there
	 * without the zone lock, and a merger must not mistake it for a block.
	 */
	if (order == 0 && page->order == ORDER_PCP && (pcp = this_pcp(phys)) != NULL) {
		free_frame_pcp(phys, pcp, page);
		return;
	}
	atomic_store_explicit(&page->flags, 0, memory_order_release);
	atomic_fetch_add_explicit(&phys->stat.frees, 1, memory_order_relaxed);
	pthread_mutex_lock(&phys->zone_lock);
	free_one_locked(phys, page, order);
	atomic_fetch_add(&phys->nr_free, 1L << order);
	pthread_mutex_unlock(&phys->zone_lock);
}

/*
 * put_page_testzero - drop one reference; true if it was the last (see
 * put_page() for when the decrement may be a plain load).
 */
static bool put_page_testzero(struct page *page)
{
	const uint32_t on_lru = (1U << PG_lru) | (1U << PG_lru_batch);
	int old;

	/*
	 * A page on an LRU list (or in an LRU batch) can gain a reference
	 * from reclaim's isolation (get_page_unless_zero under the LRU
	 * lock), so its count is always decremented atomically.
	 */
	if (!(atomic_load_explicit(&page->flags, memory_order_acquire) & on_lru) &&
	    atomic_load_explicit(&page->_refcount, memory_order_acquire) == 1)
		old = 1;
	else
		old = atomic_fetch_sub_explicit(&page->_refcount, 1, memory_order_acq_rel);
	VM_BUG_ON(old <= 0);
	if (old != 1)
		return false;
	VM_BUG_ON(page_mapcount(page) != 0);
	return true;
}

/* page_on_lru - PG_lru or PG_lru_batch: the release hook must take the page off. */
static bool page_on_lru(struct page *page)
{
	const uint32_t on_lru = (1U << PG_lru) | (1U << PG_lru_batch);

	return atomic_load_explicit(&page->flags, memory_order_acquire) & on_lru;
}

/* lru_release_hook - call phys's release hook for pages[0..nr) (all of phys). */
static void lru_release_hook(struct phys_mem *phys, struct page **pages, unsigned int nr)
{
	lru_release_fn release = (lru_release_fn)load_ptr((void *const *)&phys->lru_release);

	if (release && nr)
		release(load_ptr(&phys->reclaim_arg), pages, nr);
}

/**
 * put_page - drop a reference; the last one frees the order-0 frame.
 * @page: a referenced frame, or a PG_reserved one (no-op)
 *
 * A count of 1 read here is the caller's own reference: nobody else holds
 * one, so nobody may take one (get_page() needs a reference or a lock on
 * a structure that holds one), and the frame is freed without the atomic
 * decrement.  The one speculative reference is reclaim's: it isolates a
 * page from an LRU list with get_page_unless_zero under the LRU lock, so
 * a page with PG_lru or PG_lru_batch is always decremented atomically,
 * and when its last reference goes the release hook (vmscan.c) takes it
 * off its list or batch before the frame is freed.  The acquire load
 * pairs with the release decrement of the previous last-but-one holder.
 *
 * Takes no lock unless it frees the frame (see free_pages()); freeing an
 * LRU page takes the LRU locks (leaves) through the release hook.
 */
void put_page(struct page *page)
{
	if (PageReserved(page) || !put_page_testzero(page))
		return;
	if (page_on_lru(page))
		lru_release_hook(page_to_phys(page), &page, 1);
	VM_BUG_ON(PageLRU(page) || PageLRUBatch(page) || PageLocked(page));
	free_pages(page, 0);
}

#define RELEASE_BATCH 64        /* frames release_pages frees per call of the release hook */

/*
 * free_pages_batch - free_pages(page, 0) for each of pages[0..n), all of
 * phys, taking the calling thread's cache lock once for the frames that
 * may go into the cache (those that came out of one), not once per frame.
 * A frame that may not goes to the zone as free_pages() sends it, with the
 * cache lock dropped meanwhile.
 */
static void free_pages_batch(struct phys_mem *phys, struct page **pages, unsigned int n)
{
	struct per_thread_pages *pcp = this_pcp(phys);
	bool locked = false;

	for (unsigned int i = 0; i < n; i++) {
		struct page *page = pages[i];

		VM_BUG_ON(PageLRU(page) || PageLRUBatch(page) || PageLocked(page));
		if (!pcp || page->order != ORDER_PCP) {
			if (locked) {
				pcp_unlock(pcp);
				locked = false;
			}
			free_pages(page, 0);
			continue;
		}
		BUG_ON(pfn_of(phys, page) >= phys->nr_frames);
		check_free_state(page);
		atomic_store_explicit(&page->_refcount, 0, memory_order_relaxed);
		if (!locked) {
			pcp_lock(pcp);
			locked = true;
		}
		free_frame_pcp_locked(phys, pcp, page);
	}
	if (locked)
		pcp_unlock(pcp);
}

/* release_flush - take dead[]'s LRU pages (lru[]) off their lists in one hook call, then free dead[]. */
static void release_flush(struct phys_mem *phys, struct page **dead, unsigned int nd,
			  struct page **lru, unsigned int nl)
{
	lru_release_hook(phys, lru, nl);
	free_pages_batch(phys, dead, nd);
}

/**
 * release_pages - put_page() each of pages[0..nr), a batch at a time.
 * @pages: referenced order-0 frames (PG_reserved ones are skipped), of
 *         any arenas
 * @nr: how many
 *
 * The frames whose last reference goes are freed in the order given, but
 * those of a batch (up to RELEASE_BATCH frames of one arena in a row) that
 * are on an LRU list or in an LRU batch are taken off with one call of the
 * release hook, so the LRU lock is taken once per batch, not once per
 * page, and the frames go back to the calling thread's cache under one
 * acquisition of its lock.  Locks as put_page(): none held on entry; the
 * hook's (leaves) and the allocator's are taken and released.
 */
void release_pages(struct page **pages, unsigned int nr)
{
	struct page *dead[RELEASE_BATCH], *lru[RELEASE_BATCH];
	struct phys_mem *phys = NULL;
	unsigned int nd = 0, nl = 0;

	for (unsigned int i = 0; i < nr; i++) {
		struct page *page = pages[i];
		struct phys_mem *p;

		if (PageReserved(page))
			continue;
		p = page_to_phys(page);
		if (nd && (p != phys || nd == RELEASE_BATCH)) {
			release_flush(phys, dead, nd, lru, nl);
			nd = nl = 0;
		}
		phys = p;
		if (!put_page_testzero(page))
			continue;
		if (page_on_lru(page))
			lru[nl++] = page;
		dead[nd++] = page;
	}
	if (nd)
		release_flush(phys, dead, nd, lru, nl);
}

/**
 * drain_local_pages - return the calling thread's cached frames of phys.
 * @phys: the arena
 *
 * Takes the thread's cache lock, then the zone lock.
 */
void drain_local_pages(struct phys_mem *phys)
{
	unsigned int i;

	for (i = 0; i < PCP_SLOTS; i++)
		if (pcp_slots[i].id == phys->id) {
			struct per_thread_pages *pcp = pcp_slots[i].pcp;

			pcp_lock(pcp);
			pcp_drain_locked(pcp, pcp->count);
			pcp_unlock(pcp);
			return;
		}
	/* not in the fast slots: the thread may still own one */
	pthread_mutex_lock(&pcp_owner_lock);
	if (thread_pcps.next) {
		struct per_thread_pages *pcp;

		list_for_each_entry(pcp, &thread_pcps, owner_link)
			if (pcp->phys == phys) {
				pcp_lock(pcp);
				pcp_drain_locked(pcp, pcp->count);
				pcp_unlock(pcp);
			}
	}
	pthread_mutex_unlock(&pcp_owner_lock);
}

/**
 * drain_all_pages - return every thread's cached frames of phys.
 * @phys: the arena
 *
 * Takes pcp_list_lock, then each cache's lock in turn, then the zone lock.
 */
void drain_all_pages(struct phys_mem *phys)
{
	struct per_thread_pages *pcp;

	/* no shortcut on nr_pcp == 0: it may lag frames a cache holds */
	pthread_mutex_lock(&phys->pcp_list_lock);
	list_for_each_entry(pcp, &phys->pcp_list, phys_link) {
		pcp_lock(pcp);
		pcp_drain_locked(pcp, pcp->count);
		pcp_unlock(pcp);
	}
	pthread_mutex_unlock(&phys->pcp_list_lock);
}

/**
 * drain_idle_pages - return the cached frames of every cache that has not
 * been used since the previous call.
 * @phys: the arena
 *
 * A thread that stops allocating keeps up to pcp_high frames in its cache,
 * scattered over as many blocks, which then never become wholly free; the
 * reporting thread calls this on each pass so that an idle thread's frames
 * go back to the buddy lists while a busy thread's cache is left alone.
 * Takes pcp_list_lock, then each cache's lock in turn, then the zone lock.
 */
void drain_idle_pages(struct phys_mem *phys)
{
	struct per_thread_pages *pcp;

	pthread_mutex_lock(&phys->pcp_list_lock);
	list_for_each_entry(pcp, &phys->pcp_list, phys_link) {
		unsigned long mark;

		pcp_lock(pcp);
		mark = pcp->allocs + pcp->frees;
		if (pcp->count && mark == pcp->idle_mark)
			pcp_drain_locked(pcp, pcp->count);
		pcp->idle_mark = mark;
		pcp_unlock(pcp);
	}
	pthread_mutex_unlock(&phys->pcp_list_lock);
}

/* ------------------------------------------------------------------ */
/* Watermarks, hooks, statistics                                       */

/**
 * zone_watermark_ok - would taking `nr` frames leave at least watermark `mark` free?
 * @phys: the arena
 * @mark: WMARK_MIN, WMARK_LOW or WMARK_HIGH (anything else: false)
 * @nr: frames about to be taken
 *
 * Lock-free; the answer is a snapshot.
 */
bool zone_watermark_ok(struct phys_mem *phys, int mark, unsigned long nr)
{
	if (mark < WMARK_MIN || mark > WMARK_HIGH)
		return false;
	return atomic_load(&phys->nr_free) - (long)nr >= (long)phys->wmark[mark];
}

/**
 * phys_set_reclaim_hook - register the reclaim layer's callbacks.
 * @phys: the arena
 * @fn: direct reclaim (may be NULL)
 * @wakeup: asynchronous reclaim kick (may be NULL)
 * @arg: passed to both
 *
 * Lock-free; safe while other threads allocate (each field is published
 * atomically, arg first).
 */
void phys_set_reclaim_hook(struct phys_mem *phys, reclaim_hook_t fn, void (*wakeup)(void *), void *arg)
{
	__atomic_store_n(&phys->reclaim_arg, arg, __ATOMIC_RELEASE);
	__atomic_store_n((void **)&phys->reclaim, (void *)fn, __ATOMIC_RELEASE);
	__atomic_store_n((void **)&phys->wakeup_kswapd, (void *)wakeup, __ATOMIC_RELEASE);
}

/**
 * phys_set_release_hook - register the function put_page() and
 * release_pages() call when they free frames that are on an LRU list or in
 * an LRU batch (PG_lru or PG_lru_batch), with the reclaim hook's argument
 * and an array of such pages (one for put_page(), up to a batch for
 * release_pages()), before the frames go back to the allocator; it must
 * take the pages off.  NULL: none.  Called with the pages' last
 * references gone and no allocator lock held.
 */
void phys_set_release_hook(struct phys_mem *phys, lru_release_fn fn)
{
	__atomic_store_n((void **)&phys->lru_release, (void *)fn, __ATOMIC_RELEASE);
}

/**
 * phys_get_stats - a snapshot of the arena's counters.
 * @phys: the arena
 * @st: filled in
 *
 * Takes pcp_list_lock, every cache lock (registry order, as phys_check()
 * does) and the zone lock, and reads nr_free, the per-order counts and
 * every cache's count while holding all of them: nr_pcp is the exact sum
 * of the cache counts, not the lazily published phys->nr_pcp, and nr_free
 * adds each cache's unpublished part to phys->nr_free.  Reading them under
 * one hold is what makes nr_free exact: a cache drained by another thread
 * (the reporting thread's drain_idle_pages(), a slow-path drain) between a
 * read of phys->nr_free and the read of that cache would publish its part
 * into the nr_free already read and leave nothing unpublished in the
 * cache, and the sum would miss it.
 */
void phys_get_stats(struct phys_mem *phys, struct phys_stats *st)
{
	struct per_thread_pages *pcp;
	unsigned int o;
	long nr_free;

	memset(st, 0, sizeof(*st));
	st->nr_frames = phys->nr_frames;
	pthread_mutex_lock(&phys->pcp_list_lock);
	list_for_each_entry(pcp, &phys->pcp_list, phys_link)
		pcp_lock(pcp);
	pthread_mutex_lock(&phys->zone_lock);
	for (o = 0; o < MAX_ORDER; o++)
		st->free_by_order[o] = phys->free_area[o].nr_free;
	nr_free = atomic_load(&phys->nr_free);
	st->isolated = (unsigned long)phys->nr_isolated;
	pthread_mutex_unlock(&phys->zone_lock);
	list_for_each_entry(pcp, &phys->pcp_list, phys_link) {
		st->nr_pcp += pcp->count;
		nr_free += pcp_unpublished(pcp);
		st->pcp_hits += pcp->allocs;
		st->frees += pcp->frees;
		pcp_unlock(pcp);
	}
	pthread_mutex_unlock(&phys->pcp_list_lock);
	st->wmark_min = phys->wmark[WMARK_MIN];
	st->wmark_low = phys->wmark[WMARK_LOW];
	st->wmark_high = phys->wmark[WMARK_HIGH];
	st->nr_free = (unsigned long)nr_free;
	st->allocs = atomic_load(&phys->stat.allocs) + st->pcp_hits;
	st->frees += atomic_load(&phys->stat.frees);
	st->alloc_failures = atomic_load(&phys->stat.failures);
	st->reclaim_calls = atomic_load(&phys->stat.reclaim_calls);
	st->kswapd_wakeups = atomic_load(&phys->stat.kswapd_wakeups);
	st->oom = atomic_load(&phys->stat.oom);
	st->populated_bytes = atomic_load(&phys->populated_bytes);
	st->released_bytes = atomic_load(&phys->released_bytes);
	st->populate_ns = atomic_load(&phys->populate_ns);
	st->ahead_bytes = atomic_load(&phys->ahead_bytes);
	st->ahead_cpu_ns = atomic_load(&phys->ahead_cpu_ns);
	st->thp_cold = atomic_load(&phys->thp_cold);
	st->small_chunks = atomic_load(&phys->small_chunks);
	st->small_now = (unsigned long)atomic_load(&phys->nr_small);
	st->collapsed = atomic_load(&phys->collapsed);
	st->collapse_failed = atomic_load(&phys->collapse_failed);
	st->collapse_ns = atomic_load(&phys->collapse_ns);
}

/* ------------------------------------------------------------------ */
/* Creation and destruction                                            */

static void set_watermarks(struct phys_mem *phys, const struct phys_params *params)
{
	unsigned long min = params && params->wmark_min ? params->wmark_min : phys->nr_frames / 256;
	unsigned long low, high;

	if (!(params && params->wmark_min) && min < 16)
		min = 16;
	low = min * 5 / 4;
	if (low <= min)
		low = min + 1;
	high = min * 3 / 2;
	if (high <= low)
		high = low + 1;
	phys->wmark[WMARK_MIN] = min;
	phys->wmark[WMARK_LOW] = low;
	phys->wmark[WMARK_HIGH] = high;
}

/*
 * init_frames - every frame is free.  The whole blocks of order
 * MAX_ORDER-1 are not put on their list yet: frames [0, lazy_end) are
 * such blocks, counted in free_area[MAX_ORDER-1].nr_free, and
 * rmqueue_locked() lists the highest one when the lists run dry (the
 * order in which listing them all at creation would have handed them
 * out).  The frames after the last whole block go to the lists at once.
 * No other descriptor is written: a free non-head frame needs no state
 * and alloc_pages() resets an allocated frame's descriptor, so the
 * descriptor array becomes resident in the host as frames are used, not
 * in proportion to the arena.
 */
static void init_frames(struct phys_mem *phys)
{
	unsigned long pfn = phys->nr_frames & ~((1UL << (MAX_ORDER - 1)) - 1);
	unsigned int o;

	for (o = 0; o < MAX_ORDER; o++)
		INIT_LIST_HEAD(&phys->free_area[o].free_list);
	/* whole max-order blocks are listed lazily, highest first (rmqueue_locked) */
	phys->lazy_end = pfn;
	phys->free_area[MAX_ORDER - 1].nr_free = pfn >> (MAX_ORDER - 1);
	while (pfn < phys->nr_frames) {
		o = MAX_ORDER - 1;
		while ((pfn & ((1UL << o) - 1)) || pfn + (1UL << o) > phys->nr_frames)
			o--;
		add_to_free_area(phys, &phys->pages[pfn], o);
		pfn += 1UL << o;
	}
	atomic_store(&phys->nr_free, (long)phys->nr_frames);
}

/**
 * phys_create - map a new arena of physical frames.
 * @bytes: arena size, rounded down to whole frames; at least 1 MiB
 * @params: watermark, cache and population tuning, NULL or zero fields for defaults
 * @out: the new arena
 *
 * With params->populate the whole arena is brought in from the host
 * before this returns.
 * Return: 0, -EINVAL (bad size or pointer), -ENOMEM or the errno of a
 * failed memfd/mmap/population.
 */
int phys_create(size_t bytes, const struct phys_params *params, struct phys_mem **out)
{
	size_t hdr = ALIGN_UP(sizeof(struct phys_mem), CACHELINE);
	unsigned long nr = bytes / PAGE_SIZE;
	size_t meta_bytes = ALIGN_UP(hdr + nr * sizeof(struct page), PAGE_SIZE);
	unsigned long nr_blocks = (nr + (1UL << (MAX_ORDER - 1)) - 1) >> (MAX_ORDER - 1);
	struct phys_mem *phys;
	int err;

	if (!out || bytes < (1UL << 20) || nr > (1UL << 40) ||
	    meta_bytes >= ((size_t)1 << PHYS_META_ALIGN_SHIFT))
		return -EINVAL;
	err = arena_create(nr, meta_bytes, params && params->anon, &phys);
	if (err)
		return err;
	phys->pages = (struct page *)((char *)phys + hdr);
	phys->free_since = calloc(nr_blocks, sizeof(uint64_t));
	if (!phys->free_since) {
		arena_destroy(phys);
		return -ENOMEM;
	}
	if (params && params->populate) {
		err = arena_populate_all(phys);
		if (err) {
			free(phys->free_since);
			arena_destroy(phys);
			return err;
		}
	}
	mutex_init_adaptive(&phys->zone_lock);
	pthread_mutex_init(&phys->pcp_list_lock, NULL);
	INIT_LIST_HEAD(&phys->pcp_list);
	phys->pcp_high = params && params->pcp_high ? params->pcp_high : PCP_HIGH_DEFAULT;
	phys->pcp_batch = params && params->pcp_batch ? params->pcp_batch : PCP_BATCH_DEFAULT;
	if (phys->pcp_batch > phys->pcp_high)
		phys->pcp_batch = phys->pcp_high;
	set_watermarks(phys, params);
	phys->id = atomic_fetch_add(&next_phys_id, 1);
	init_frames(phys);
	*out = phys;
	return 0;
}

/* detach_pcps - free the arena's caches, unlinking them from their owners. */
static void detach_pcps(struct phys_mem *phys)
{
	struct per_thread_pages *pcp, *tmp;

	pthread_mutex_lock(&pcp_owner_lock);
	pthread_mutex_lock(&phys->pcp_list_lock);
	list_for_each_entry_safe(pcp, tmp, &phys->pcp_list, phys_link) {
		if (pcp->owned)
			list_del_init(&pcp->owner_link);
		list_del_init(&pcp->phys_link);
		free(pcp);
	}
	pthread_mutex_unlock(&phys->pcp_list_lock);
	pthread_mutex_unlock(&pcp_owner_lock);
}

/**
 * phys_destroy - unmap an arena and free its caches.
 * @phys: the arena (NULL: no-op); no other thread may use it any more
 *
 * Stops the populate-ahead, reporting and collapse threads if they run, then takes
 * pcp_owner_lock and pcp_list_lock.  Frames still allocated are lost.
 */
void phys_destroy(struct phys_mem *phys)
{
	if (!phys)
		return;
	populate_ahead_stop(phys);
	page_reporting_stop(phys);
	khugepaged_stop(phys);
	detach_pcps(phys);
	pthread_mutex_destroy(&phys->zone_lock);
	pthread_mutex_destroy(&phys->pcp_list_lock);
	free(phys->free_since);
	arena_destroy(phys);
}
