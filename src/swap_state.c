/* SPDX-License-Identifier: MIT */
/*
 * swap_state.c - the swap cache and swap I/O: swap-out (add_to_swap,
 * swap_writepage, delete_from_swap_cache, and swap_out_page, which does
 * an eviction the way reclaim does) and swap-in (swapin_readahead, used
 * by the fault path's do_swap_page in memory.c).
 *
 * The swap cache.  A radix tree of the device (si->cache) maps a slot to
 * the page that holds its contents while that page is in memory.  A page
 * enters it with a claim on the slot (SWAP_HAS_CACHE in the slot's word,
 * swapfile.c): add_to_swap claims a fresh slot, a swap-in claims an
 * entry that still has holders (swapcache_prepare), so two threads
 * faulting the same entry read it once: the loser of the claim finds the
 * winner's page, locked until its read is done.  A cached page has
 * PG_swapcache, page->private = the entry, and one reference held by the
 * cache; it is added and removed only under its page lock.
 *
 * Swap-out (swap_out_page): lock the page, give it a slot and the swap
 * cache (add_to_swap: dirty), replace every pte that maps it by the swap
 * entry (try_to_unmap; each swap pte is a holder of the slot), write it
 * (swap_writepage: PG_dirty is cleared first and set again if the write
 * fails, and the page then stays in the cache: faults on its swap ptes
 * find it there), and take it out of the cache when nobody else holds it
 * (delete_from_swap_cache), after which the last reference frees the
 * frame.  A page already in the cache and clean (swapped in and still
 * shared) is not written again.
 *
 * Swap-in (swapin_readahead): a cache hit is counted and returned.  On a
 * miss the window of SWAP_RA_PAGES slots around the entry is read: the
 * entry itself and every neighbour that has holders and is not cached
 * get a fresh locked page in the cache, and each run of consecutive
 * slots is one backend read.  Pages are unlocked once uptodate; a page
 * whose read failed is taken out of the cache with PG_error before it
 * is unlocked, so a fault waiting for it returns -EIO too, and the slot
 * keeps its holders for a later retry.  Reads are synchronous in the
 * faulting thread (no asynchronous engine for swap yet).
 *
 * Keeping the cache small.  The fault that maps a page whose entry
 * has no other holder left takes the page out of the cache (the page is
 * then an ordinary anonymous page, exclusive and dirty).  When the last
 * holder lets go of an entry that is still cached (zap), swap_free asks
 * try_free_swap_cache_entry to take the page out, which it does if the
 * page lock can be had without waiting; the TLB gather does the same for
 * cached pages it releases (free_swap_cache).  Swapped-in pages go on
 * the LRU at once (lru_cache_add), so read-ahead pages that no fault uses
 * stay cached until their slots lose their holders or reclaim drops them
 * (they are clean).
 *
 * Locks (order in lockdep.h): the page lock of the page(s) moved; no
 * page-table lock is held for I/O.  si->cache_lock, a reader-writer lock
 * (read for lookups, write to insert or delete), is a leaf, taken
 * possibly under a pte table lock (try_free_swap_cache_entry from zap,
 * which only trylocks the page).
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include "swap_internal.h"
#include "system.h"
#include "object.h"
#include "rmap.h"
#include "vmscan.h"

/* Pages per backend write of swap_writepages. */
#define SWAP_WRITE_BATCH 64

static inline struct umm_system *page_sys(const struct page *page)
{
	return page_to_phys(page)->owner;
}

/**
 * lookup_swap_cache - the page caching @entry, referenced, or NULL.
 * Takes si->cache_lock (leaf).
 */
struct page *lookup_swap_cache(struct umm_system *sys, swp_entry_t entry)
{
	struct swap_info *si = sys->swap;
	struct page *page;

	if (!si)
		return NULL;
	pthread_rwlock_rdlock(&si->cache_lock);
	page = radix_tree_lookup(&si->cache, entry.val);
	if (page)
		get_page(page);
	pthread_rwlock_unlock(&si->cache_lock);
	return page;
}

/**
 * add_to_swap_cache - insert a locked page at @entry, which the caller
 * claimed (get_swap_page or swapcache_prepare).  The cache takes a
 * reference; PG_swapcache and page->private are set.  Takes
 * si->cache_lock.  0 or -ENOMEM (nothing changed; the claim stays the
 * caller's to clear).
 */
int add_to_swap_cache(struct page *page, swp_entry_t entry)
{
	struct swap_info *si = page_sys(page)->swap;
	unsigned long old_private = page->private;
	int err;

	VM_BUG_ON(!PageLocked(page) || PageSwapCache(page));
	get_page(page);
	page->private = entry.val;
	SetPageSwapCache(page);
	pthread_rwlock_wrlock(&si->cache_lock);
	err = radix_tree_insert(&si->cache, entry.val, page);
	pthread_rwlock_unlock(&si->cache_lock);
	if (err) {
		VM_BUG_ON(err == -EEXIST);      /* the claim excludes it */
		ClearPageSwapCache(page);
		page->private = old_private;
		put_page(page);
		return -ENOMEM;
	}
	atomic_fetch_add(&si->nr_cache_pages, 1);
	return 0;
}

/*
 * __delete_from_swap_cache - take a locked swap-cache page out: the
 * cache's reference and the cache's claim on the slot go (the slot is
 * released if it has no holder).  The caller holds a reference of its
 * own.  Takes si->cache_lock.
 */
static void __delete_from_swap_cache(struct page *page)
{
	struct umm_system *sys = page_sys(page);
	struct swap_info *si = sys->swap;
	swp_entry_t entry = { page->private };
	struct page *old;

	VM_BUG_ON(!PageLocked(page) || !PageSwapCache(page));
	VM_BUG_ON(page_count(page) < 2);
	pthread_rwlock_wrlock(&si->cache_lock);
	old = radix_tree_delete(&si->cache, entry.val);
	pthread_rwlock_unlock(&si->cache_lock);
	VM_BUG_ON(old != page);
	(void)old;
	ClearPageSwapCache(page);
	page->private = swap_origin(sys, entry);        /* a nonlinear copy's record comes back */
	atomic_fetch_sub(&si->nr_cache_pages, 1);
	swapcache_clear(sys, entry);
	put_page(page);
}

/**
 * delete_from_swap_cache - take a locked swap-cache page out of the cache
 * (swap.h).  The caller holds a reference besides the cache's.  Takes
 * si->cache_lock, and si->lock if the slot is released.
 */
void delete_from_swap_cache(struct page *page)
{
	__delete_from_swap_cache(page);
}

/**
 * add_to_swap - give a locked anonymous page a slot and the swap cache,
 * dirty (swap.h).  A private copy's origin record (page->private, a
 * nonlinear window's) is kept with the slot while the cache uses
 * page->private for the entry.  Takes si->lock and si->cache_lock.  0,
 * -ENOSPC (no swap, or full), -ENOMEM (radix-tree node), -EINVAL (not
 * anonymous).
 */
int add_to_swap(struct page *page)
{
	struct umm_system *sys = page_sys(page);
	swp_entry_t entry;
	int err;

	VM_BUG_ON(!PageLocked(page) || PageSwapCache(page));
	if (!PageAnon(page))
		return -EINVAL;
	err = get_swap_page(sys, &entry);
	if (err)
		return err;
	atomic_store(&sys->swap->origin[entry.val], page->private);
	err = add_to_swap_cache(page, entry);
	if (err) {
		swapcache_clear(sys, entry);
		return err;
	}
	SetPageUptodate(page);  /* its contents are valid: a fault may map it from the cache */
	SetPageDirty(page);
	return 0;
}

/**
 * swap_readpages - read slots [entry, entry + nr) into the pages' frames
 * (swap.h).  Failure injection: UMM_INJECT_SWAP_READ fails the whole
 * call.  No usermm lock but the pages'.  0 or -EIO (counted).
 */
int swap_readpages(struct umm_system *sys, swp_entry_t entry, struct page **pages, unsigned int nr)
{
	struct swap_info *si = sys->swap;
	void *bufs[SWAP_RA_PAGES];
	int err = 0;

	for (unsigned int done = 0; done < nr && !err;) {
		unsigned int n = MIN(nr - done, SWAP_RA_PAGES);

		for (unsigned int i = 0; i < n; i++)
			bufs[i] = page_address(pages[done + i]);
		atomic_fetch_add(&si->stat_read_requests, 1);
		if (should_fail(&sys->fail_swap_read))
			err = -EIO;
		else
			err = si->bdev->ops->read(si->bdev, entry.val + done, n, bufs);
		done += n;
	}
	if (err) {
		atomic_fetch_add(&si->stat_read_errors, 1);
		return -EIO;
	}
	atomic_fetch_add(&si->stat_pswpin, nr);
	return 0;
}

/**
 * swap_write_slots - write nr pages to slots [entry, entry + nr) in
 * backend writes of up to SWAP_WRITE_BATCH pages (swap.h).  Failure
 * injection: UMM_INJECT_SWAP_WRITE fails a write.  No usermm lock but the
 * pages'.  0, or the first error (the whole call counts as failed).
 */
int swap_write_slots(struct umm_system *sys, swp_entry_t entry, struct page **pages, unsigned int nr)
{
	struct swap_info *si = sys->swap;
	const void *bufs[SWAP_WRITE_BATCH];
	int ret = 0;

	for (unsigned int done = 0; done < nr;) {
		unsigned int n = MIN(nr - done, SWAP_WRITE_BATCH);
		int err;

		for (unsigned int i = 0; i < n; i++)
			bufs[i] = page_address(pages[done + i]);
		atomic_fetch_add(&si->stat_write_requests, 1);
		if (should_fail(&sys->fail_swap_write))
			err = -EIO;
		else
			err = si->bdev->ops->write(si->bdev, entry.val + done, n, bufs);
		if (err) {
			atomic_fetch_add(&si->stat_write_errors, 1);
			if (!ret)
				ret = err;
		} else {
			atomic_fetch_add(&si->stat_pswpout, n);
		}
		done += n;
	}
	return ret;
}

/**
 * swap_writepages - write nr locked swap-cache pages of consecutive
 * entries (swap.h).  PG_dirty is cleared before the write and set again
 * on every page if it fails.  No usermm lock but the pages'.  0 or a
 * negative errno.
 */
int swap_writepages(struct page **pages, unsigned int nr)
{
	struct umm_system *sys = page_sys(pages[0]);
	uint64_t first = pages[0]->private;
	int err;

	for (unsigned int i = 0; i < nr; i++) {
		VM_BUG_ON(!PageLocked(pages[i]) || !PageSwapCache(pages[i]) ||
			  pages[i]->private != first + i);
		ClearPageDirty(pages[i]);
	}
	err = swap_write_slots(sys, (swp_entry_t){ first }, pages, nr);
	if (err)
		for (unsigned int i = 0; i < nr; i++)
			SetPageDirty(pages[i]);
	return err;
}

/**
 * swap_writepage - write a locked swap-cache page to its slot (swap.h).
 * 0 or a negative errno (the page stays dirty, in the swap cache).
 */
int swap_writepage(struct page *page)
{
	return swap_writepages(&page, 1);
}

/**
 * swap_page_origin - the origin record of an anon page (memory.c): kept
 * with its slot while the page is in the swap cache, else page->private.
 * Page locked, or its pte's table lock held.
 */
unsigned long swap_page_origin(const struct page *page)
{
	if (!PageSwapCache(page))
		return page->private;
	return swap_origin(page_sys(page), (swp_entry_t){ page->private });
}

/**
 * free_swap_cache - take a locked swap-cache page whose entry has no
 * holder left out of the cache (swap.h).  Any locks (si->cache_lock and
 * si->lock are leaves; the page may be freed if the cache held the last
 * reference: the caller holds one, so not here).
 */
void free_swap_cache(struct page *page)
{
	struct umm_system *sys = page_sys(page);

	VM_BUG_ON(!PageLocked(page));
	if (PageSwapCache(page) && swap_count(sys, (swp_entry_t){ page->private }) == 0)
		__delete_from_swap_cache(page);
}

/**
 * try_free_swap_cache_entry - the last holder of @entry went: take its
 * cached page out of the cache if the page lock is free (swap.h).  Any
 * locks: takes si->cache_lock, trylocks the page; the final put may free
 * the frame (allowed under a pte table lock).
 */
void try_free_swap_cache_entry(struct umm_system *sys, swp_entry_t entry)
{
	struct page *page = lookup_swap_cache(sys, entry);

	if (!page)
		return;
	if (trylock_page(page)) {
		if (PageSwapCache(page) && page->private == entry.val)
			free_swap_cache(page);
		unlock_page(page);
	}
	put_page(page);
}

/*
 * swapin_read_window - read the cache pages prepared for the window's
 * slots (ra[i] for slot start + i, NULL where none) one run of
 * consecutive slots at a time.  Each page ends unlocked: uptodate, or
 * out of the cache with PG_error.  The references of the neighbours are
 * dropped; the target's (index t) is kept.  Returns the target's read
 * result.
 */
static int swapin_read_window(struct umm_system *sys, uint64_t start, struct page **ra,
			      unsigned int nr, unsigned int t)
{
	int target_err = 0;

	for (unsigned int i = 0; i < nr;) {
		unsigned int j = i, n;
		int err;

		if (!ra[i]) {
			i++;
			continue;
		}
		while (j < nr && ra[j])
			j++;
		n = j - i;
		err = swap_readpages(sys, (swp_entry_t){ start + i }, &ra[i], n);
		for (unsigned int k = i; k < j; k++) {
			struct page *page = ra[k];

			if (err) {
				SetPageError(page);
				__delete_from_swap_cache(page);
			} else {
				SetPageUptodate(page);
			}
			unlock_page(page);
			if (k != t)
				put_page(page);
		}
		if (t >= i && t < j)
			target_err = err;
		i = j;
	}
	return target_err;
}

/**
 * swapin_readahead - the page for @entry, from the swap cache or read
 * with its window (swap.h).  No page-table lock held (allocates, reads).
 * 0 with *@pagep referenced and unlocked (uptodate, or out of the cache
 * with PG_error after a failed read: the caller's check under the page
 * lock sees it), -ENOENT (the slot lost its holders), -ENOMEM.
 */
int swapin_readahead(struct umm_system *sys, swp_entry_t entry, struct page **pagep, bool *major)
{
	struct swap_info *si = sys->swap;
	struct page *ra[SWAP_RA_PAGES], *page;
	uint64_t start, end;
	unsigned int t;

	if (!swap_entry_valid(sys, entry))
		return -ENOENT;
	for (;;) {
		int err;

		page = lookup_swap_cache(sys, entry);

		if (page) {
			atomic_fetch_add(&si->stat_cache_hits, 1);
			*pagep = page;
			return 0;
		}
		start = entry.val & ~(uint64_t)(SWAP_RA_PAGES - 1);
		end = MIN(start + SWAP_RA_PAGES, si->nr_slots);
		t = (unsigned int)(entry.val - start);
		page = alloc_page(sys->phys, 0);
		if (!page)
			return -ENOMEM;
		err = swapcache_prepare(sys, entry);
		if (err) {
			put_page(page);
			if (err == -EEXIST) {
				sched_yield();  /* being cached (the claim and the insert are two steps) */
				continue;
			}
			return err;
		}
		SetPageAnon(page);
		lock_page(page);
		err = add_to_swap_cache(page, entry);
		if (err) {
			swapcache_clear(sys, entry);
			unlock_page(page);
			put_page(page);
			return err;
		}
		lru_cache_add(sys, page);       /* reclaim can drop it again (vmscan.c) */
		break;
	}
	memset(ra, 0, sizeof(ra));
	ra[t] = page;           /* the allocation's reference goes to the caller */
	for (uint64_t s = MAX(start, 1); s < end; s++) {
		swp_entry_t e = { s };

		if (s == entry.val || !swap_readahead_ok(sys, e))
			continue;
		page = alloc_page(sys->phys, GFP_NORECLAIM | GFP_NOWARN);
		if (!page)
			break;
		if (swapcache_prepare(sys, e)) {
			put_page(page);
			continue;
		}
		SetPageAnon(page);
		lock_page(page);
		if (add_to_swap_cache(page, e)) {
			swapcache_clear(sys, e);
			unlock_page(page);
			put_page(page);
			continue;
		}
		lru_cache_add(sys, page);       /* an unused read-ahead page is reclaimed as clean */
		ra[s - start] = page;
	}
	*major = true;
	(void)swapin_read_window(sys, start, ra, (unsigned int)(end - start), t);
	*pagep = ra[t];
	return 0;
}

/**
 * swap_out_page - evict one anonymous or shmem page to swap, as reclaim
 * does (swap.h for the contract).  The caller holds a reference and no
 * lock.  Takes the page lock, then what try_to_unmap and the swap I/O
 * take.
 */
int swap_out_page(struct page *page)
{
	struct umm_system *sys = page_sys(page);
	bool added = false;
	int err = 0;

	if (!swap_enabled(sys))
		return -ENOSPC;
	lock_page(page);
	if (!PageAnon(page)) {
		if (page->mapping && page->mapping->type == OBJ_SHMEM)
			err = shmem_swapout(page);
		else
			err = -EINVAL;
		goto out;
	}
	if (!PageSwapCache(page)) {
		err = add_to_swap(page);
		if (err)
			goto out;
		added = true;
	}
	if (try_to_unmap(page, swp_entry_to_pte((swp_entry_t){ page->private })) != SWAP_SUCCESS) {
		err = -EBUSY;
		/* nothing swapped: give the slot back, the page stays as it was */
		if (added && swap_count(sys, (swp_entry_t){ page->private }) == 0)
			__delete_from_swap_cache(page);
		goto out;
	}
	if (PageDirty(page)) {
		err = swap_writepage(page);
		if (err)
			goto out;       /* stays cached and dirty: its swap ptes find it */
	}
	/* the cache's reference and ours: anyone else (a fault that found it) keeps it cached */
	if (page_count(page) != 2) {
		err = -EBUSY;
		goto out;
	}
	__delete_from_swap_cache(page);
out:
	if (err)
		free_swap_cache(page);  /* a holder that let go while we held the lock could not */
	unlock_page(page);
	return err;
}

/* entry_cmp - qsort order of swap-cache pages by entry. */
static int entry_cmp(const void *a, const void *b)
{
	unsigned long x = (*(struct page *const *)a)->private, y = (*(struct page *const *)b)->private;

	return x < y ? -1 : x > y;
}

/*
 * swap_out_prepare - the first half of swap_out_pages for one page:
 * trylock it and, for an anonymous page, give it a slot and unmap it.
 * Returns 1 with the page locked, unmapped and in the swap cache (the
 * rest is the caller's), or the page's final result with it unlocked
 * (a shmem page is done here).
 */
static int swap_out_prepare(struct page *page)
{
	struct umm_system *sys = page_sys(page);
	bool added = false;
	int err = 0;

	if (!swap_enabled(sys))
		return -ENOSPC;
	if (!trylock_page(page))
		return -EBUSY;
	if (!PageAnon(page)) {
		err = page->mapping && page->mapping->type == OBJ_SHMEM ? shmem_swapout(page) : -EINVAL;
		unlock_page(page);
		return err;
	}
	if (!PageSwapCache(page)) {
		err = add_to_swap(page);
		added = !err;
	}
	if (!err && try_to_unmap(page, swp_entry_to_pte((swp_entry_t){ page->private })) != SWAP_SUCCESS) {
		err = -EBUSY;
		if (added && swap_count(sys, (swp_entry_t){ page->private }) == 0)
			__delete_from_swap_cache(page);
	}
	if (err) {
		unlock_page(page);
		return err;
	}
	return 1;
}

/**
 * swap_out_locked_pages - the second half of swap_out_pages, also what
 * reclaim calls (vmscan.c) for the pages it prepared itself (swap.h): the
 * dirty pages are written in runs of consecutive slots, one backend
 * write per run, and each page leaves the swap cache if only the cache
 * and the caller hold it.  Every page is unlocked.  Returns the number of
 * pages that left the cache.
 */
unsigned int swap_out_locked_pages(struct page **pages, unsigned int nr, int *results)
{
	struct page *w[SWAP_OUT_BATCH];
	unsigned int nw = 0, done = 0;

	VM_BUG_ON(nr > SWAP_OUT_BATCH);
	for (unsigned int i = 0; i < nr; i++) {
		VM_BUG_ON(!PageLocked(pages[i]) || !PageSwapCache(pages[i]));
		if (PageDirty(pages[i]))
			w[nw++] = pages[i];
	}
	/* the writes, one per run of consecutive slots; a failed page is left dirty */
	qsort(w, nw, sizeof(w[0]), entry_cmp);
	for (unsigned int i = 0; i < nw;) {
		unsigned int j = i + 1;

		while (j < nw && w[j]->private == w[j - 1]->private + 1 && page_sys(w[j]) == page_sys(w[i]))
			j++;
		(void)swap_writepages(&w[i], j - i);
		i = j;
	}
	for (unsigned int i = 0; i < nr; i++) {
		struct page *page = pages[i];

		if (PageDirty(page))
			results[i] = -EIO;      /* stays cached and dirty: its swap ptes find it */
		else if (page_count(page) != 2)
			results[i] = -EBUSY;    /* someone found it in the cache */
		else
			results[i] = 0;
		if (!results[i]) {
			__delete_from_swap_cache(page);
			done++;
		} else {
			/* a holder that let go while we held the lock could not take it out */
			free_swap_cache(page);
		}
		unlock_page(page);
	}
	return done;
}

/**
 * swap_out_pages - swap_out_page for up to SWAP_OUT_BATCH pages at once
 * (swap.h): each page is trylocked (a busy one is -EBUSY), the anonymous
 * ones get slots back to back and are unmapped, then the dirty ones are
 * written in runs of consecutive slots, one backend write per run, and
 * leave the swap cache (swap_out_locked_pages).  The caller holds a
 * reference on each page (kept) and no lock.  results[i] is page i's
 * result as swap_out_page defines it.  Returns the number of pages that
 * left memory.
 */
unsigned int swap_out_pages(struct page **pages, unsigned int nr, int *results)
{
	struct page *p[SWAP_OUT_BATCH];
	unsigned int idx[SWAP_OUT_BATCH];
	int res[SWAP_OUT_BATCH];
	unsigned int np = 0, done = 0;

	VM_BUG_ON(nr > SWAP_OUT_BATCH);
	for (unsigned int i = 0; i < nr; i++) {
		results[i] = swap_out_prepare(pages[i]);
		if (results[i] == 1) {
			p[np] = pages[i];
			idx[np++] = i;
		} else {
			done += results[i] == 0;
		}
	}
	if (np)
		done += swap_out_locked_pages(p, np, res);
	for (unsigned int j = 0; j < np; j++)
		results[idx[j]] = res[j];
	return done;
}

/**
 * swap_cache_destroy - drop every page still in the swap cache (system
 * destroy: no mm or object is left, so no slot has holders).  No locks
 * held; takes si->cache_lock.
 */
void swap_cache_destroy(struct umm_system *sys)
{
	struct swap_info *si = sys->swap;
	void *pages[16];
	uint64_t keys[16];
	unsigned int n;

	while ((n = radix_tree_gang_lookup(&si->cache, pages, keys, 0, 16)) > 0) {
		for (unsigned int i = 0; i < n; i++) {
			struct page *page = pages[i];

			get_page(page);
			lock_page(page);
			__delete_from_swap_cache(page);
			unlock_page(page);
			put_page(page);
		}
	}
}
