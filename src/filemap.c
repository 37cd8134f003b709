/* SPDX-License-Identifier: MIT */
/*
 * filemap.c - the page cache: each object's radix tree of struct page,
 * find-or-read, writeback and truncation.
 *
 * Membership.  A page is in obj->page_tree at page->index iff
 * page->mapping == obj; both change together under obj->tree_lock, and
 * only while the page is locked (add and delete require PG_locked), so a
 * holder of the page lock may read page->mapping without tree_lock.  The
 * cache holds one reference on every page it contains.
 *
 * Reading.  The first caller to miss allocates a frame, locks it, inserts
 * it (not uptodate) and calls obj->ops->readpage with only the page lock
 * held; or readahead (readahead.c) inserts a run of locked pages and the
 * I/O backend (io.c) completes them later.  Others find the locked page,
 * sleep in lock_page(), and on waking either see it uptodate, or see that
 * it left the cache with PG_error (the read failed: the reader removes it
 * before unlocking) and return -EIO, or see that it left the cache
 * without (truncated, or a readahead page dropped before its read was
 * started) and look again.  So each index is read once however many
 * callers race for it, the callers waiting for a read that fails all get
 * -EIO, and a page that failed to read never stays cached: the next
 * access reads it again.
 *
 * Batched reads.  filemap_read_range (populate and MADV_WILLNEED of
 * shmem, and of files when the system has no I/O backend; readahead.c
 * reads files through the backend otherwise) finds the runs of missing
 * pages of a range, allocates, locks and inserts each run (up to
 * READ_BATCH pages), then fills it with one readpages request (a preadv
 * for files) in the caller's thread and marks the pages uptodate, or in
 * error and out of the cache, as a single read would.  A reader that
 * meets one of those locked pages waits as for any read in flight.
 *
 * Writeback.  write_one_page clears PG_dirty before writing, so a store
 * that lands during the write dirties the page again and is not lost; on
 * failure the page is re-dirtied and the error is remembered in
 * obj->wb_err for the next sync.  filemap_write_range (msync, sync, the
 * last put, the interposer's writeback) does the same for each run of
 * consecutive dirty pages, written with one writepages request (a
 * pwritev for files) while the run's pages are all locked; it waits only
 * for the lock of a run's first page and trylocks the next ones, so it
 * never sleeps on a page lock while holding another.  A page whose write
 * fails is marked exactly as write_one_page marks it, and the pages after
 * it are written by the next request.
 *
 * Truncation.  The size is lowered first, then mapped pages are unmapped
 * (object.c), then truncate_inode_pages drops the cached pages, unmapping
 * again under the page lock any page a racing fault mapped in between.  A
 * reader that inserted a page just as the size dropped re-checks the size
 * after reading, so either it sees the new size or truncation finds its
 * page (and waits for its lock).
 *
 * File I/O through the cache.  umm_object_read copies out of cached
 * pages (read in on a miss) holding only a reference; umm_object_write
 * first grows the object (object_extend) when the write ends past its
 * end (and shrinks it back to what it wrote if it stops early,
 * object_unextend), then copies into each page under its page lock (so truncation
 * cannot drop it halfway) and marks it dirty (a page the write covers
 * whole is not read first when it is not cached): writeback writes it later,
 * as the kernel's page cache does for write(2).  A source buffer inside a
 * host window is copied to a bounce page first, without the page lock: a
 * fault on it may need that very page.
 *
 * umm_object_write holds obj->write_mutex for its whole call, so writes
 * to one object do not interleave and the size a failed write restores
 * is not another write's (Linux holds i_rwsem across a buffered write).
 *
 * Locks taken, in order (the library's order is in lockdep.h):
 * (umm_object_write: obj->write_mutex -> truncate_mutex ->) page lock
 * -> (truncate: i_mmap_lock -> page_table_lock -> pte table locks, through
 * sys->unmap_mapping_range) -> obj->tree_lock -> allocator.  No lock but the page's own is held across readpage/writepage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "filemap.h"
#include "host_mmu.h"
#include "readahead.h"
#include "mmu_notifier.h"
#include "vmscan.h"

/* Retries of a lookup whose page vanished (a racing read failed, or truncate). */
#define READ_CACHE_RETRIES 8
#define PAGEVEC_SIZE 16

/**
 * find_get_page - the cached page at @index with a reference taken.
 * Takes and releases obj->tree_lock for read.
 * Return: the page, or NULL if none is cached there.
 */
struct page *find_get_page(struct umm_object *obj, uint64_t index)
{
	struct page *page;

	if (!obj)
		return NULL;
	tree_read_lock(obj);
	page = radix_tree_lookup(&obj->page_tree, index);
	if (page)
		get_page(page);
	tree_read_unlock(obj);
	return page;
}

/**
 * find_lock_page - the cached page at @index, referenced and locked.
 * May sleep in lock_page(); takes obj->tree_lock briefly.  On return the
 * caller holds the page lock.  A page removed while we waited for its lock
 * is dropped and the lookup repeated.
 * Return: the page, or NULL if none is cached there.
 */
struct page *find_lock_page(struct umm_object *obj, uint64_t index)
{
	struct page *page;

	for (;;) {
		page = find_get_page(obj, index);
		if (!page)
			return NULL;
		lock_page(page);
		if (page->mapping == obj && page->index == index)
			return page;
		unlock_page(page);
		put_page(page);
	}
}

/**
 * add_to_page_cache - insert a locked page at @index of @obj; the cache
 * takes its own reference, and the page goes on the LRU (lru_cache_add).
 * Caller holds the page lock; takes obj->tree_lock, then the LRU batch
 * lock (a leaf).
 * Return: 0, -EEXIST (another page is there), -ENOMEM, -EINVAL (NULL args).
 */
int add_to_page_cache(struct page *page, struct umm_object *obj, uint64_t index)
{
	int err;

	if (!page || !obj)
		return -EINVAL;
	VM_BUG_ON(!PageLocked(page));
	VM_BUG_ON(page->mapping != NULL);
	get_page(page);
	tree_lock(obj);
	err = radix_tree_insert(&obj->page_tree, index, page);
	if (!err) {
		page->mapping = obj;
		page->index = index;
		obj->nrpages++;
		atomic_fetch_add(&obj->sys->nr_pagecache, 1);
	}
	tree_unlock(obj);
	if (err)
		put_page(page);           /* ours; the caller still holds one */
	else
		lru_cache_add(obj->sys, page);
	return err;
}

/**
 * page_cache_alloc_add - a new page, locked and referenced, inserted at
 * @index of @obj (not uptodate: the caller fills it).  With GFP_ZERO the
 * page is zero-filled (free of cost for a frame the allocator knows to be
 * zero: new to the arena or punched since) and marked PG_zeroed: it holds
 * only zeros until its readpage, which may then skip zeroing it (nobody
 * else writes a locked page that is not uptodate; readpage clears the
 * flag).  Takes what alloc_page and add_to_page_cache take.
 * Return: 0 with *@pagep set, -EEXIST (a page is cached there already),
 * -ENOMEM.
 */
int page_cache_alloc_add(struct umm_object *obj, uint64_t index, gfp_t gfp, struct page **pagep)
{
	struct page *page = alloc_page(obj->sys->phys, gfp);
	int err;

	if (!page)
		return -ENOMEM;
	lock_page(page);
	err = add_to_page_cache(page, obj, index);
	if (err) {
		unlock_page(page);
		put_page(page);
		return err;
	}
	if (gfp & GFP_ZERO)
		SetPageZeroed(page);
	*pagep = page;
	return 0;
}

/*
 * read_gfp - the allocation flags of a page about to be read (readpage):
 * a shmem page reads as zeros unless swapped, so it is allocated
 * zero-filled (GFP_ZERO, PG_zeroed) and shmem_readpage does not zero it
 * again: a frame new from the arena is then never written before use.
 */
static gfp_t read_gfp(const struct umm_object *obj)
{
	return obj->type == OBJ_SHMEM ? GFP_KERNEL | GFP_ZERO : GFP_KERNEL;
}

/**
 * __delete_from_page_cache - take a locked cached page out of its
 * object's tree.  The cache's reference is not dropped:
 * page_cache_deleted() does that once obj->tree_lock is released.
 * Caller holds the page lock and obj->tree_lock for write.
 */
void __delete_from_page_cache(struct page *page)
{
	struct umm_object *obj = page->mapping;
	void *old;

	VM_BUG_ON(!PageLocked(page));
	old = radix_tree_delete(&obj->page_tree, page->index);
	BUG_ON(old != page);
	page->mapping = NULL;
	obj->nrpages--;
	atomic_fetch_sub(&obj->sys->nr_pagecache, 1);
}

/**
 * page_cache_deleted - after __delete_from_page_cache: count a
 * read-ahead page that was never used, and drop the cache's reference.
 * Caller holds the page lock (and a reference of its own), no tree lock.
 */
void page_cache_deleted(struct umm_system *sys, struct page *page)
{
	if (PageReadahead(page) && TestClearPageReadahead(page))
		atomic_fetch_add(&sys->ra_wasted, 1);   /* read ahead, never used */
	put_page(page);
}

/**
 * delete_from_page_cache - remove a locked cached page and drop the
 * cache's reference (the caller must hold a reference of its own).
 * Caller holds the page lock; takes obj->tree_lock.
 */
void delete_from_page_cache(struct page *page)
{
	struct umm_object *obj = page->mapping;

	VM_BUG_ON(!PageLocked(page));
	if (!obj)
		return;
	tree_lock(obj);
	__delete_from_page_cache(page);
	tree_unlock(obj);
	page_cache_deleted(obj->sys, page);
}

/**
 * remove_mapping - reclaim: take a locked, clean, unmapped cached page
 * out of its object's cache if nobody but the cache and the caller holds
 * it.  The reference count is checked under obj->tree_lock held for
 * write, where no lookup can take a new reference, so a page found by
 * someone meanwhile stays.  Drops the cache's reference; the caller's
 * stays.  Caller holds the page lock; takes obj->tree_lock.
 * Return: true if the page left the cache.
 */
bool remove_mapping(struct page *page)
{
	struct umm_object *obj = page->mapping;

	VM_BUG_ON(!PageLocked(page));
	if (!obj || PageAnon(page))
		return false;
	tree_lock(obj);
	if (page_count(page) != 2 || page_mapped(page) || PageDirty(page) || PageWriteback(page)) {
		tree_unlock(obj);
		return false;
	}
	__delete_from_page_cache(page);
	tree_unlock(obj);
	page_cache_deleted(obj->sys, page);
	atomic_fetch_add_explicit(&obj->ra.evicted, 1, memory_order_relaxed);   /* read-around backs off */
	return true;
}

/*
 * Fill a locked page that this caller inserted.  On failure the page is
 * marked PG_error and leaves the cache (still locked, still referenced by
 * the caller).
 */
static int filemap_read_page(struct umm_object *obj, struct page *page)
{
	int err;

	ClearPageError(page);
	err = obj->ops->readpage(obj, page);
	if (!err && page->index >= object_size_pages(obj)) {
		/*
		 * Truncated under us: not a read error.  Waiters see the page
		 * gone without PG_error and look again (the object may have
		 * grown back meanwhile).
		 */
		delete_from_page_cache(page);
		return -EIO;
	}
	if (err) {
		SetPageError(page);
		delete_from_page_cache(page);
		return -EIO;
	}
	SetPageUptodate(page);
	return 0;
}

/*
 * A cached page was found (referenced).  Wait for an in-flight read.
 * Returns 0 (page uptodate, referenced, unlocked), -EAGAIN (it left the
 * cache: look again; our reference is dropped) or -EIO (its read failed;
 * reference dropped).
 */
static int read_cache_wait(struct umm_object *obj, uint64_t index, struct page *page,
			   bool *major)
{
	int err = 0;

	if (PageUptodate(page))
		return 0;
	lock_page(page);
	if (page->mapping != obj || page->index != index) {
		err = PageError(page) ? -EIO : -EAGAIN;
	} else if (!PageUptodate(page)) {
		/* Not normally reached: readers leave the cache before unlocking. */
		err = filemap_read_page(obj, page);
		if (!err && major)
			*major = true;
	}
	unlock_page(page);
	if (err)
		put_page(page);
	return err;
}

/**
 * filemap_wait_uptodate - @page (referenced) was found cached at @index
 * of @obj: wait for a read in flight on it.  Takes the page lock if the
 * page is not uptodate; holds nothing on return.
 * Return: 0 (uptodate, still referenced), -EAGAIN (it left the cache:
 * look again), -EIO (its read failed); on error the reference is dropped.
 */
int filemap_wait_uptodate(struct umm_object *obj, uint64_t index, struct page *page)
{
	return read_cache_wait(obj, index, page, NULL);
}

/*
 * Cache miss: allocate, insert and read a page.  Returns 0 with the page
 * referenced in *pagep, -EAGAIN (lost an insert race: look again),
 * -ENOMEM or -EIO.
 */
static int read_cache_miss(struct umm_object *obj, uint64_t index, struct page **pagep)
{
	struct page *page;
	int err;

	err = page_cache_alloc_add(obj, index, read_gfp(obj), &page);
	if (err)
		return err == -EEXIST ? -EAGAIN : err;
	err = filemap_read_page(obj, page);
	unlock_page(page);
	if (err) {
		put_page(page);
		return err;
	}
	*pagep = page;
	return 0;
}

/**
 * read_cache_page - find the page at @index, reading it in on a miss.
 * Takes page locks and obj->tree_lock; none is held on return.  May
 * sleep waiting for another caller's read of the same page.
 * Return: 0 with *@pagep uptodate and referenced (*@major true if this
 * call did the read); -EIO (index past end of object, or the read
 * failed: the page is not left cached); -ENOMEM; -EINVAL (NULL args).
 */
int read_cache_page(struct umm_object *obj, uint64_t index, struct page **pagep, bool *major)
{
	struct page *page;
	int tries, err;

	if (!obj || !pagep)
		return -EINVAL;
	if (major)
		*major = false;
	for (tries = 0; tries < READ_CACHE_RETRIES; tries++) {
		if (index >= object_size_pages(obj))
			return -EIO;
		page = find_get_page(obj, index);
		if (page) {
			err = read_cache_wait(obj, index, page, major);
			if (!err)
				*pagep = page;
		} else {
			err = read_cache_miss(obj, index, pagep);
			if (!err && major)
				*major = true;
		}
		if (err != -EAGAIN)
			return err;
	}
	return -EIO;
}

/* Pages per batched read request (filemap_read_range). */
#define READ_BATCH 128

/*
 * filemap_read_batch - fill pages this caller allocated, locked and
 * inserted at consecutive indices: one readpages request when the object
 * has it, else readpage each.  Pages that read are marked uptodate; the
 * others get PG_error and leave the cache.  Each page is unlocked and the
 * caller's reference dropped.  Returns the number that read.
 */
static unsigned int filemap_read_batch(struct umm_object *obj, struct page **pages, unsigned int nr)
{
	unsigned int i, ok = 0;
	int err = 0;

	for (i = 0; i < nr; i++)
		ClearPageError(pages[i]);
	if (obj->ops->readpages && nr > 1)
		err = obj->ops->readpages(obj, pages, nr);
	for (i = 0; i < nr; i++) {
		struct page *page = pages[i];
		int e = err;

		if (!e && !(obj->ops->readpages && nr > 1))
			e = obj->ops->readpage(obj, page);
		if (!e && page->index >= object_size_pages(obj)) {
			delete_from_page_cache(page);   /* truncated under us: not in error */
		} else if (e) {
			SetPageError(page);
			delete_from_page_cache(page);
		} else {
			SetPageUptodate(page);
			ok++;
		}
		unlock_page(page);
		put_page(page);
	}
	return ok;
}

/* Ranges up to this many pages: next_cached and next_missing look at their slots only. */
#define NEXT_CACHED_RUN 64

/*
 * next_cached - the lowest cached index in [index, end), or end.  Takes
 * tree_lock for read.
 */
static uint64_t next_cached(struct umm_object *obj, uint64_t index, uint64_t end)
{
	struct page *page;
	uint64_t found;
	unsigned int n;

	if (end - index <= NEXT_CACHED_RUN) {
		/* a short range: its slots only (a gang lookup would walk on past end to the next page) */
		void *slots[NEXT_CACHED_RUN];

		tree_read_lock(obj);
		radix_tree_lookup_run(&obj->page_tree, index, (unsigned int)(end - index), slots);
		tree_read_unlock(obj);
		for (n = 0; n < end - index; n++)
			if (slots[n])
				return index + n;
		return end;
	}
	tree_read_lock(obj);
	n = radix_tree_gang_lookup(&obj->page_tree, (void **)&page, &found, index, 1);
	tree_read_unlock(obj);
	return n && found < end ? found : end;
}

/*
 * next_missing - the lowest index in [index, end) with no cached page, or
 * end.  Takes tree_lock (read) once per 64 cached pages (once for a short
 * range).
 */
static uint64_t next_missing(struct umm_object *obj, uint64_t index, uint64_t end)
{
	void *pages[64];
	uint64_t idx[64];

	if (end - index <= NEXT_CACHED_RUN) {
		/* a short range: its slots only (a gang lookup would collect pages far past end) */
		unsigned int n;

		tree_read_lock(obj);
		radix_tree_lookup_run(&obj->page_tree, index, (unsigned int)(end - index), pages);
		tree_read_unlock(obj);
		for (n = 0; n < end - index; n++)
			if (!pages[n])
				return index + n;
		return end;
	}
	while (index < end) {
		unsigned int n, i;

		tree_read_lock(obj);
		n = radix_tree_gang_lookup(&obj->page_tree, pages, idx, index, 64);
		tree_read_unlock(obj);
		for (i = 0; i < n && idx[i] == index && index < end; i++)
			index++;
		if (i < n || n < 64)
			break;            /* a gap before idx[i], or nothing more cached */
	}
	return MIN(index, end);
}

/**
 * filemap_read_range - read the missing pages of [@index, @index + @nr)
 * into the page cache (clipped to the object's size) in this thread: each
 * run of missing pages is allocated, locked and inserted, then read with
 * one request per READ_BATCH pages.  A page another caller inserted
 * meanwhile is left to it.  Synchronous; best effort (a batch that fails
 * is dropped and the next one is still tried; running out of memory
 * stops).
 * Takes tree_lock and the new pages' locks; holds nothing on entry or exit.
 * Return: pages read (>= 0), or -EIO/-ENOMEM when nothing could be read
 * and something failed; -EINVAL for NULL.
 */
long filemap_read_range(struct umm_object *obj, uint64_t index, uint64_t nr)
{
	struct page *batch[READ_BATCH];
	uint64_t end;
	long done = 0;
	int err = 0;

	if (!obj)
		return -EINVAL;
	end = object_size_pages(obj);
	if (index >= end)
		return 0;
	end = MIN(end, index + MIN(nr, end - index));
	while (index < end && err != -ENOMEM) {
		uint64_t run_end;
		unsigned int n = 0;

		index = next_missing(obj, index, end);
		if (index >= end)
			break;
		run_end = MIN(next_cached(obj, index, end), index + READ_BATCH);
		for (; index < run_end; index++) {
			struct page *page;
			int e = page_cache_alloc_add(obj, index, read_gfp(obj), &page);

			if (e) {
				if (e == -ENOMEM)
					err = e;
				break;    /* raced with another reader: read what we have */
			}
			batch[n++] = page;
		}
		if (n) {
			unsigned int ok = filemap_read_batch(obj, batch, n);

			done += ok;
			if (ok < n && !err)
				err = -EIO;
		}
		if (index < run_end && err != -ENOMEM)
			index++;          /* skip the index another reader took */
	}
	return done ? done : err;
}

/**
 * find_get_pages - up to @nr cached pages with index in [*@start, @end),
 * in index order, each referenced; *@start moves past the last one found.
 * Takes and releases obj->tree_lock for read.
 * Return: the number of pages stored in @pages.
 */
unsigned int find_get_pages(struct umm_object *obj, uint64_t *start, uint64_t end,
			    unsigned int nr, struct page **pages)
{
	unsigned int n, i;

	if (!obj || !start || !pages || nr == 0 || *start >= end)
		return 0;
	tree_read_lock(obj);
	n = radix_tree_gang_lookup(&obj->page_tree, (void **)pages, NULL, *start, nr);
	for (i = 0; i < n && pages[i]->index < end; i++)
		get_page(pages[i]);
	n = i;
	if (n)
		*start = pages[n - 1]->index + 1;   /* < end, cannot wrap */
	tree_read_unlock(obj);
	return n;
}

/**
 * find_get_page_run - @pages[i] = the cached page at @first + i,
 * referenced, or NULL, for i < @nr: one lookup of the run (a walk per
 * radix leaf).  The pages found are prefetched before the first is
 * referenced (their misses overlap), and with @frames the first line of
 * each one's frame too, for a caller that maps them for an access that
 * follows (a frame's address needs only the page's place in the array,
 * so that miss starts with the others).  @between, if not NULL, is called
 * with @arg once those prefetches are started and before any page is
 * referenced: the caller's chance to start misses of its own that
 * overlap with the lookup's.  It runs under tree_lock held for read and
 * must take no lock and not touch the page cache.  Takes and releases
 * obj->tree_lock for read.
 * Return: the number of pages found.
 */
unsigned int find_get_page_run(struct umm_object *obj, uint64_t first, unsigned int nr, struct page **pages,
			       bool frames, void (*between)(void *arg), void *arg)
{
	unsigned int found = 0;

	tree_read_lock(obj);
	radix_tree_lookup_run(&obj->page_tree, first, nr, (void **)pages);
	/* the pages' misses together, before the atomics that would take them one by one */
	for (unsigned int i = 0; i < nr; i++)
		if (pages[i]) {
			prefetchw(pages[i]);
			if (frames)
				prefetch(page_address(pages[i]));
		}
	if (between)
		between(arg);
	for (unsigned int i = 0; i < nr; i++)
		if (pages[i]) {
			get_page(pages[i]);
			found++;
		}
	tree_read_unlock(obj);
	return found;
}

/**
 * page_cache_prefetch_run - a hint: start loading the radix leaves that a
 * find_get_page_run of [@first, @first + @nr) will read, so that a lookup
 * made a little later (after other work) does not wait for them; the
 * leaves' misses then overlap with that work.  Changes nothing.  Takes
 * and releases obj->tree_lock for read (the nodes walked stay).
 */
void page_cache_prefetch_run(struct umm_object *obj, uint64_t first, unsigned int nr)
{
	tree_read_lock(obj);
	radix_tree_prefetch_run(&obj->page_tree, first, nr);
	tree_read_unlock(obj);
}

/**
 * find_get_page_runs - find_get_page_run for each of @nruns runs of one
 * object: @runs[r].pages[i] = the cached page at @runs[r].first + i,
 * referenced, or NULL, for i < @runs[r].nr; @runs[r].found counts them.
 * One hold of tree_lock for all the runs, and every run's radix walk is
 * made (its pages, and with @frames their frames' first lines,
 * prefetched) before the first page is referenced, so the misses of all
 * the runs overlap rather than wait behind each reference's atomic.
 * Takes and releases obj->tree_lock for read.
 * Return: the number of pages found in all the runs.
 */
unsigned int find_get_page_runs(struct umm_object *obj, struct page_run *runs, unsigned int nruns, bool frames)
{
	unsigned int found = 0;

	tree_read_lock(obj);
	for (unsigned int r = 0; r < nruns; r++) {
		radix_tree_lookup_run(&obj->page_tree, runs[r].first, runs[r].nr, (void **)runs[r].pages);
		for (unsigned int i = 0; i < runs[r].nr; i++)
			if (runs[r].pages[i]) {
				prefetchw(runs[r].pages[i]);
				if (frames)
					prefetch(page_address(runs[r].pages[i]));
			}
	}
	for (unsigned int r = 0; r < nruns; r++) {
		runs[r].found = 0;
		for (unsigned int i = 0; i < runs[r].nr; i++)
			if (runs[r].pages[i]) {
				get_page(runs[r].pages[i]);
				runs[r].found++;
			}
		found += runs[r].found;
	}
	tree_read_unlock(obj);
	return found;
}

/**
 * set_page_dirty - mark a page's contents as newer than the backing store.
 * No locks needed (atomic flag).
 * Return: true if the page was clean.
 */
bool set_page_dirty(struct page *page)
{
	if (!page)
		return false;
	return !TestSetPageDirty(page);
}

/*
 * clear_page_dirty_for_io - a locked page is about to be written: clear
 * PG_dirty first, then clean and write-protect its ptes (a store after
 * this faults and dirties the page again; a store made through a pte
 * before it is in the bytes about to be written).  True if it was dirty
 * (PG_writeback is set then).  Page lock held.
 */
static bool clear_page_dirty_for_io(struct umm_object *obj, struct page *page)
{
	bool dirty = TestClearPageDirty(page);

	if (page_mapped(page) && obj->sys->page_mkclean && obj->sys->page_mkclean(page) > 0)
		dirty = true;
	if (dirty)
		SetPageWriteback(page);
	return dirty;
}

/*
 * end_page_writeback - the write of a locked page is over: on failure it
 * is dirty again, with PG_error and the error recorded in obj->wb_err.
 * Page lock held.
 */
static void end_page_writeback(struct umm_object *obj, struct page *page, int err)
{
	ClearPageWriteback(page);
	if (err) {
		SetPageDirty(page);
		SetPageError(page);
		atomic_store(&obj->wb_err, -EIO);
	} else {
		ClearPageError(page);
	}
}

/**
 * write_one_page - write a locked page back if it is dirty.  PG_dirty is
 * cleared before the write and set again (with PG_error, and the error
 * recorded in obj->wb_err) if it fails.
 * Caller holds the page lock, which is held across the I/O.
 * Return: 0 (written, or clean, or no longer cached) or -EIO.
 */
int write_one_page(struct page *page)
{
	struct umm_object *obj;
	int err;

	if (!page)
		return -EINVAL;
	VM_BUG_ON(!PageLocked(page));
	obj = page->mapping;
	if (!obj)
		return 0;
	if (!clear_page_dirty_for_io(obj, page))
		return 0;
	err = obj->ops->writepage(obj, page) ? -EIO : 0;
	end_page_writeback(obj, page, err);
	return err;
}

/*
 * A run of locked pages of consecutive indices being written back
 * (PG_writeback set, dirty bits cleared), each holding a reference.
 */
struct wb_run {
	unsigned int nr;
	struct page *pages[WRITEPAGES_MAX];
};

/*
 * write_pages_run - write nr locked pages of obj with consecutive indices,
 * under writeback (dirty bits cleared), with as few writepages requests
 * as their errors allow (one when none fails: a page that fails is marked
 * as write_one_page marks it, and the pages after it go in a new
 * request); page by page with writepage for an object without the op.
 * err[i], if err is not NULL, gets page i's result.  The pages stay
 * locked.  Returns 0 or -EIO if a page failed.
 */
static int write_pages_run(struct umm_object *obj, struct page **pages, unsigned int nr, int *err)
{
	unsigned int at = 0, done;
	int ret = 0;

	while (at < nr) {
		int e;

		if (obj->ops->writepages) {
			e = obj->ops->writepages(obj, pages + at, nr - at, &done);
		} else {
			/* no writepages op: page by page */
			e = obj->ops->writepage(obj, pages[at]) ? -EIO : 0;
			done = e ? 0 : 1;
		}

		for (unsigned int i = 0; i < done; i++) {
			end_page_writeback(obj, pages[at + i], 0);
			if (err)
				err[at + i] = 0;
		}
		at += done;
		if (e) {
			VM_BUG_ON(at >= nr);
			end_page_writeback(obj, pages[at], -EIO);
			if (err)
				err[at] = -EIO;
			at++;
			ret = -EIO;
		}
	}
	return ret;
}

/*
 * write_run - write_pages_run for a run, then unlock and put its pages.
 * The pages' locks are held on entry and dropped.  Returns 0 or -EIO if
 * a page failed.
 */
static int write_run(struct umm_object *obj, struct wb_run *run)
{
	int ret = write_pages_run(obj, run->pages, run->nr, NULL);

	for (unsigned int i = 0; i < run->nr; i++) {
		unlock_page(run->pages[i]);
		put_page(run->pages[i]);
	}
	run->nr = 0;
	return ret;
}

/**
 * filemap_write_range - write back the dirty cached pages of [@first, @end)
 * in index order.  Each run of consecutive dirty pages (at most
 * WRITEPAGES_MAX) is written with one request when the object has a
 * writepages op (a pwritev for files), one page at a time otherwise.  A
 * run holds its pages locked until its write is done; only the first
 * page of a run is waited for, the next ones are taken with a trylock (a
 * page another thread holds ends the run), so no page lock is waited for
 * while others are held.  The dirty bits are cleared and the ptes
 * cleaned page by page as for write_one_page, and a failure marks the
 * page it happened on, as write_one_page does.
 * Takes each page's lock (and tree_lock for the lookups); holds nothing
 * on entry or exit.
 * Return: 0 or the first error (every dirty page is still attempted).
 */
int filemap_write_range(struct umm_object *obj, uint64_t first, uint64_t end)
{
	struct page *pages[PAGEVEC_SIZE];
	struct wb_run batch, *run;
	uint64_t index = first;
	unsigned int n, i;
	int ret = 0, err;

	if (!obj)
		return -EINVAL;
	run = obj->ops && obj->ops->writepages ? &batch : NULL;
	batch.nr = 0;
	while ((n = find_get_pages(obj, &index, end, PAGEVEC_SIZE, pages)) > 0) {
		for (i = 0; i < n; i++) {
			struct page *page = pages[i];

			if (!PageDirty(page)) {
				put_page(page);
				continue;
			}
			if (!run) {
				lock_page(page);
				err = page->mapping == obj ? write_one_page(page) : 0;
				unlock_page(page);
				put_page(page);
				if (err && !ret)
					ret = err;
				continue;
			}
			/* a page that does not follow the run, or a full run: write the run */
			if (run->nr && (run->nr == WRITEPAGES_MAX ||
					page->index != run->pages[run->nr - 1]->index + 1 ||
					!trylock_page(page))) {
				err = write_run(obj, run);
				if (err && !ret)
					ret = err;
			}
			if (!run->nr)
				lock_page(page);
			if (page->mapping != obj || !clear_page_dirty_for_io(obj, page)) {
				unlock_page(page);
				put_page(page);
				continue;
			}
			run->pages[run->nr++] = page;
		}
	}
	if (run && run->nr) {
		err = write_run(obj, run);
		if (err && !ret)
			ret = err;
	}
	return ret;
}

/* A page of write_locked_pages, sorted by object and index. */
struct wb_item {
	struct umm_object *obj;
	uint64_t index;
	unsigned int i;                 /* its position in the caller's array */
};

static int wb_item_cmp(const void *a, const void *b)
{
	const struct wb_item *x = a, *y = b;

	if (x->obj != y->obj)
		return (uintptr_t)x->obj < (uintptr_t)y->obj ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/**
 * write_locked_pages - write back the dirty ones of @nr locked pages in
 * runs: the pages, of any objects and in any order (reclaim's batch,
 * each locked and referenced by the caller), are sorted by object and
 * index, and each run of consecutive indices of one object is written
 * with one writepages request (at most WRITEPAGES_MAX pages; page by page
 * for an object without the op).  Dirty bits are cleared and ptes cleaned
 * as write_one_page does, and a failure marks its page as write_one_page
 * does.  The pages stay locked and referenced.
 * @pages: the pages (at most WRITEPAGES_MAX)
 * @nr: how many
 * @res: res[i] = 0 (written, or clean, or no longer cached) or -EIO
 */
void write_locked_pages(struct page **pages, unsigned int nr, int *res)
{
	struct wb_item items[WRITEPAGES_MAX];
	struct page *run[WRITEPAGES_MAX];
	int err[WRITEPAGES_MAX];
	unsigned int n = 0, at = 0;

	VM_BUG_ON(nr > WRITEPAGES_MAX);
	for (unsigned int i = 0; i < nr; i++) {
		struct page *page = pages[i];

		VM_BUG_ON(!PageLocked(page));
		res[i] = 0;
		if (page->mapping && clear_page_dirty_for_io(page->mapping, page))
			items[n++] = (struct wb_item){ page->mapping, page->index, i };
	}
	qsort(items, n, sizeof(items[0]), wb_item_cmp);
	while (at < n) {
		struct umm_object *obj = items[at].obj;
		unsigned int len = 1;

		while (at + len < n && items[at + len].obj == obj &&
		       items[at + len].index == items[at].index + len)
			len++;
		for (unsigned int k = 0; k < len; k++)
			run[k] = pages[items[at + k].i];
		(void)write_pages_run(obj, run, len, err);
		for (unsigned int k = 0; k < len; k++)
			res[items[at + k].i] = err[k];
		at += len;
	}
}

/*
 * Drop one locked page past the new end.  The caller unmapped the range
 * before, but a fault that checked the size before it dropped may have
 * mapped the page since (faults map pages while holding the page lock, so
 * now that we hold it no new mapping can appear): unmap it again.
 */
static void truncate_cache_page(struct umm_object *obj, struct page *page)
{
	void (*unmap)(struct umm_object *, uint64_t, uint64_t) = obj->sys->unmap_mapping_range;

	if (page_mapped(page) && unmap)
		unmap(obj, page->index, page->index + 1);
	if (UMM_DEBUG && page_mapped(page))
		pr_warn(obj->sys, "truncate drops mapped page %" PRIu64, page->index);
	mmu_notifier_invalidate_page(obj->sys, page, UMM_MMU_TRUNCATE);
	ClearPageDirty(page);
	delete_from_page_cache(page);
}

/**
 * zero_page_tail - zero bytes [offset, PAGE_SIZE) of the cached page at
 * @index, if it is cached and uptodate.  Takes and drops the page lock.
 */
void zero_page_tail(struct umm_object *obj, uint64_t index, size_t offset)
{
	struct page *page = find_lock_page(obj, index);

	if (!page)
		return;
	if (PageUptodate(page))
		memset((char *)page_address(page) + offset, 0, PAGE_SIZE - offset);
	unlock_page(page);
	put_page(page);
}

/**
 * truncate_inode_pages - drop every cached page wholly at or past byte
 * @from (dirty data there is discarded) and zero the tail of the page
 * holding @from.  Pages should have been unmapped first; one mapped again
 * by a racing fault is unmapped once more through the unmap hook, and if
 * it is still mapped it is warned about and dropped from the cache anyway
 * (its mappings keep their own references).
 * The object's truncate op (shmem: its swap entries) runs after the
 * scan of the cache.
 * Takes page locks, then (hook) i_mmap_lock and page-table locks, and
 * tree_lock; holds nothing on entry or exit.
 */
void truncate_inode_pages(struct umm_object *obj, uint64_t from)
{
	struct page *pages[PAGEVEC_SIZE];
	uint64_t index = (from >> PAGE_SHIFT) + ((from & ~PAGE_MASK) != 0);
	size_t partial = from & ~PAGE_MASK;
	unsigned int n, i;

	if (!obj)
		return;
	while ((n = find_get_pages(obj, &index, UINT64_MAX, PAGEVEC_SIZE, pages)) > 0) {
		for (i = 0; i < n; i++) {
			struct page *page = pages[i];

			lock_page(page);
			if (page->mapping == obj)
				truncate_cache_page(obj, page);
			unlock_page(page);
			put_page(page);
		}
	}
	/*
	 * The op (shmem: forget the swap entries past @from) runs after the
	 * scan, not before: reclaim may move a page past @from to swap while
	 * the scan runs (shmem_swapout takes it out of the cache and records
	 * its swap entry in one tree_lock section), and the scan then does
	 * not find it; an op run before the scan would leave that entry
	 * behind (a swap slot leaked, and the old bytes back if the object
	 * grows).  A page the scan found cannot go to swap: the scan's
	 * reference makes swapout's last count check fail.  After the scan no
	 * page past the end can enter the cache, so the op finds every entry.
	 */
	if (obj->ops && obj->ops->truncate)
		obj->ops->truncate(obj, from);
	if (partial)
		zero_page_tail(obj, from >> PAGE_SHIFT, partial);
}

/* Most bytes one read or write moves, as Linux's MAX_RW_COUNT. */
#define OBJECT_RW_MAX 0x7ffff000UL

/**
 * umm_object_read - copy up to @len bytes at byte @off of @obj into @buf
 * through the page cache (pages not cached are read in), as pread(2):
 * fewer bytes near the end of the object, 0 at or past it.  Dirty cached
 * pages are read as they are (what the mappings wrote).
 * Takes page locks and tree_lock in turn; holds none on return.
 * Return: bytes copied; -EINVAL (NULL obj, NULL buf with len > 0, @off
 * beyond off_t); -EIO or -ENOMEM when nothing could be copied (a page
 * whose read failed, no memory); after a partial copy, the bytes copied.
 */
ssize_t umm_object_read(struct umm_object *obj, void *buf, size_t len, uint64_t off)
{
	uint64_t size, pos;
	size_t done = 0;
	int err = 0;

	if (!obj || (!buf && len) || off > (uint64_t)INT64_MAX)
		return -EINVAL;
	size = object_size(obj);
	if (!len || off >= size)
		return 0;
	if (len > OBJECT_RW_MAX)
		len = OBJECT_RW_MAX;
	if (len > size - off)
		len = (size_t)(size - off);
	for (pos = off; done < len; ) {
		size_t in = pos & ~PAGE_MASK, n = PAGE_SIZE - in;
		struct page *page;

		if (n > len - done)
			n = len - done;
		err = read_cache_page(obj, pos >> PAGE_SHIFT, &page, NULL);
		if (err)
			break;
		memcpy((char *)buf + done, (char *)page_address(page) + in, n);
		put_page(page);
		done += n;
		pos += n;
	}
	/* -EIO from a page truncated away meanwhile: the read ends there */
	if (done || (err == -EIO && pos >= object_size(obj)))
		return (ssize_t)done;
	return err;
}

/*
 * grab_page_for_overwrite - the page at @index, locked and referenced, for
 * a write that covers all of it: a page not cached is added without being
 * read (its old bytes are about to go), and is not uptodate until the
 * caller fills it.  Returns 0, -EIO (the index is past the end: truncated
 * meanwhile), -ENOMEM.
 */
static int grab_page_for_overwrite(struct umm_object *obj, uint64_t index, struct page **pagep)
{
	struct page *page;
	int err;

	for (;;) {
		page = find_lock_page(obj, index);
		if (page) {
			*pagep = page;
			return 0;
		}
		if (index >= object_size_pages(obj))
			return -EIO;
		err = page_cache_alloc_add(obj, index, GFP_KERNEL, &page);
		if (err == -EEXIST)
			continue;
		if (err)
			return err;
		if (index >= object_size_pages(obj)) {
			/* truncated while we added it: as a reader would, leave */
			delete_from_page_cache(page);
			unlock_page(page);
			put_page(page);
			return -EIO;
		}
		*pagep = page;
		return 0;
	}
}

/**
 * umm_object_write - copy @len bytes of @buf to byte @off of @obj through
 * the page cache, as pwrite(2): the object (and the file, with ftruncate)
 * grows to @off + @len first if that is past its end, and a write that
 * stops early shrinks it back to what it wrote (or to the size it had,
 * if that was larger), unless a truncate changed the size meanwhile: so a
 * failed write leaves the size as it was and a short one as far as it
 * wrote, as Linux's; the pages are left dirty for writeback
 * (umm_object_sync, msync, reclaim or the last put write them to the
 * file).  Every mapping of the object sees the bytes at once.  Writes to
 * one object run one at a time (obj->write_mutex), so two never
 * interleave.
 * Takes obj->write_mutex for the whole call, truncate_mutex (when
 * growing), page locks and tree_lock; holds none on return.
 * Return: bytes written; -EINVAL (NULL obj, NULL buf with len > 0, @off
 * beyond off_t), -EFBIG (@off + @len beyond off_t), -EBADF (a file object
 * whose fd is not open for writing), all with nothing changed; -EIO or
 * -ENOMEM when nothing could be written (a page could not be read, no
 * memory), or the errno of growing the file; after a partial write, the
 * bytes written.  Another thread's mapped store into the range a failed
 * write had grown the object for, made while it ran, is cut off with
 * that range.
 */
ssize_t umm_object_write(struct umm_object *obj, const void *buf, size_t len, uint64_t off)
{
	char bounce[PAGE_SIZE];
	size_t done = 0;
	uint64_t pos, from;
	bool covered;
	int err = 0;

	if (!obj || (!buf && len) || off > (uint64_t)INT64_MAX)
		return -EINVAL;
	if (obj->type == OBJ_FILE && !obj->writable)
		return -EBADF;
	if (!len)
		return 0;
	if (len > OBJECT_RW_MAX)
		len = OBJECT_RW_MAX;
	if (off + len > (uint64_t)INT64_MAX)
		return -EFBIG;
	pthread_mutex_lock(&obj->write_mutex);
	err = object_extend(obj, off + len, &from);
	if (err) {
		pthread_mutex_unlock(&obj->write_mutex);
		return err;
	}
	covered = host_mmu_covers(buf, len);
	for (pos = off; done < len; ) {
		size_t in = pos & ~PAGE_MASK, n = PAGE_SIZE - in;
		const char *src = (const char *)buf + done;
		struct page *page;

		if (n > len - done)
			n = len - done;
		if (covered) {
			memcpy(bounce, src, n);
			src = bounce;
		}
		if (n == PAGE_SIZE) {
			err = grab_page_for_overwrite(obj, pos >> PAGE_SHIFT, &page);
			if (err)
				break;
		} else {
			err = read_cache_page(obj, pos >> PAGE_SHIFT, &page, NULL);
			if (err)
				break;
			lock_page(page);
		}
		if (page->mapping != obj) {
			/* truncated (and maybe grown back) since: look again */
			unlock_page(page);
			put_page(page);
			continue;
		}
		memcpy((char *)page_address(page) + in, src, n);
		SetPageUptodate(page);
		set_page_dirty(page);
		unlock_page(page);
		put_page(page);
		done += n;
		pos += n;
	}
	if (done < len)
		object_unextend(obj, from, off + len, done ? off + done : 0);
	pthread_mutex_unlock(&obj->write_mutex);
	return done ? (ssize_t)done : err;
}
