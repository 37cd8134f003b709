/* SPDX-License-Identifier: MIT */
/*
 * vmscan.c - page reclaim: the LRU lists, their aging, eviction, kswapd
 * and direct reclaim, so that usermm runs in the physical memory it was
 * given (umm_config.phys_bytes) and loses nothing.
 *
 * Theory of operation.
 *
 * Lists.  Each system has five lists under one LRU lock: inactive and
 * active for swap-backed pages (anonymous and shmem: PG_swapbacked, set
 * when the page is added), inactive and active for file pages, and the
 * unevictable list.  A page on a list has PG_lru and the list's number in
 * the top byte of its flags (page.h); the list holds no reference.  New
 * pages start inactive, at the head; scans take pages from the tail.
 *
 * Adding pages.  lru_cache_add is called where a page-cache page is
 * inserted (add_to_page_cache) and where a fresh anonymous page is first
 * mapped (page_add_new_anon_rmap: anonymous and copy-on-write faults,
 * fork's copies, populate).  It puts the page in a small batch of the
 * calling thread's slot (percpu.h; PG_lru_batch, and the slot in the
 * flags) under the batch's own lock, and moves the whole batch to the
 * lists under one acquisition of the LRU lock when it fills, so a fault
 * takes no global lock per page.  Reclaim drains every batch before it
 * scans; umm_system_stats drains them so list sizes are exact.
 *
 * Leaving.  A page leaves a list when it is isolated by a scan (below) or
 * freed: put_page always decrements the count of a page with PG_lru or
 * PG_lru_batch atomically and, when it drops the last reference, calls
 * lru_release (through the allocator's release hook), which takes the
 * page out of its batch and off its list under their locks.  So a freed
 * frame is never on a list.  release_pages (an unmap's batch of pages,
 * tlb_flush_mmu) hands lru_release up to a batch of such pages at once,
 * which takes the LRU lock once for all of them.
 *
 * Isolation.  A scan takes up to SCAN_BATCH pages from a list's tail
 * under the LRU lock; for each it takes a reference with
 * get_page_unless_zero (a page whose count already reached zero is being
 * freed: it is left for lru_release) and unlinks it.  The isolated page
 * is then the scan's alone to put back, under the LRU lock, and the
 * scan's reference is dropped after the lock (a last put_page re-enters
 * lru_release).
 *
 * Aging.  Scanning an inactive page asks page_referenced (rmap.c: the
 * young bits of every pte mapping it, cleared as they are read) and keeps
 * a software bit, PG_referenced: a page referenced while it was already
 * marked, or through more than one pte, is activated; referenced once, it
 * is marked and rotated to the head (second chance); not referenced, it
 * is evicted.  When an inactive list is smaller than its active list, the
 * active list's tail is demoted to the inactive head, its young bits
 * cleared, so pages stay hot only by being used again.
 *
 * Eviction (shrink_page).  The page lock is only ever trylocked; a page
 * locked or under writeback is rotated, one PG_unevictable goes to the
 * unevictable list, a swap-backed page stays while there is no free swap
 * slot.  A page not referenced since the last look is evicted:
 *   file page: a mapped page is unmapped through the reverse map
 * (try_to_unmap: busy locks leave it mapped, SWAP_AGAIN; pinned or mlocked pages fail,
 * SWAP_FAIL, and are activated); nonlinear windows keep file ptes.  A
 * dirty file page is then PAGE_WRITE: still locked (no longer mapped, so
 * nothing can dirty it again, and a fault on it waits for the lock), it
 * joins the scan's writeback batch, which is written after the other
 * pages of the scan (flush_writeback: write_locked_pages sorts the batch
 * by object and index and writes each run of consecutive pages with one
 * writepages request, a pwritev for a file, where page by page cost a
 * pwrite each).  A write error leaves its page dirty with PG_error, the
 * error recorded for the next msync / umm_object_sync (filemap.c), and
 * the page is activated.  A clean page leaves the cache (remove_mapping:
 * only if nobody else holds it) and its frame is freed.  A page truncated
 * while isolated is simply let go.
 *   anonymous page (shrink_anon_page): a slot and the swap cache
 * (add_to_swap, unless it is there already) and every pte replaced by the
 * swap entry (try_to_unmap; if none could be, the slot is given back),
 * with the page lock held; the page is then PAGE_SWAPOUT: still locked,
 * it joins the scan's swap-out batch.  After the other pages of the scan
 * (shrink_page_list), the batch, up to SWAP_OUT_BATCH pages, is written
 * by swap_out_locked_pages (swap_state.c): one backend write per run of
 * consecutive slots (a thread's slots are consecutive), where writing
 * page by page cost a backend call each.  A failed write leaves its
 * pages cached and dirty (their swap ptes find them) and they are
 * activated; a page that a fault found in the swap cache meanwhile is
 * kept; the others leave the swap cache and their frames are freed.
 * Reclaim does the first half itself instead of calling swap_out_pages:
 * the pages are isolated, already locked, and a pinned or mlocked page
 * (SWAP_FAIL: activated) must be told from a busy one (rotated).  The
 * inactive swap-backed list is isolated SWAP_OUT_BATCH pages at a time
 * (the file list SCAN_BATCH), and MADV_PAGEOUT hands its batches to
 * reclaim_pages, so both fill whole batches.  Holding the batch's page
 * locks across the scan is safe: reclaim only trylocks pages, and a
 * fault on a swap pte of a batched page waits for the write as it would
 * for a single one.
 *   shmem page: its object moves it to a slot (shmem_swapout: unmap,
 * write, record the entry, leave the page cache).
 *
 * Unevictable pages.  A page found with PG_unevictable is parked on the
 * unevictable list; each time kswapd wakes it first moves back to the
 * inactive lists the parked pages whose flag has since been cleared
 * (munlock); direct reclaim does so only when a pass found nothing.
 *
 * Driving it.  The allocator (page_alloc.c) wakes kswapd when free frames
 * cross below the low watermark (the first wake-up creates the thread,
 * kthread.c: at once, or at the next safe point when it comes from the
 * host MMU's signal handler or the creation is deferred; direct reclaim
 * alone frees frames until then); kswapd reclaims in batches until free
 * frames reach the high watermark or a pass frees nothing, then sleeps.
 * An allocation that would go below the min watermark calls
 * try_to_free_pages itself (direct reclaim); if that does not help the
 * allocation fails with -ENOMEM, counted as an OOM event (page_alloc.c).
 * Anonymous and shmem pages are not scanned at all while the system has no
 * swap device, or no free slot in it (swap.h), so swap-less reclaim spends
 * nothing on them.
 *
 * Direct reclaim runs inside an allocation: the thread may hold mmap_lock
 * and page locks, never a page-table lock (lockdep.h: nothing is
 * allocated under one).  So reclaim trylocks pages, walks the reverse map
 * with RMAP_WALK_TRYLOCK (anon_vma->lock and i_mmap_lock trylocked when
 * the thread already holds one of the walk's locks, waited for otherwise,
 * as try_to_unmap waits for i_mmap_lock when it holds none; pte table
 * locks and a mm's page_table_lock are never held across an allocation),
 * and unmaps a page before writing it, so writeback
 * needs no page_mkclean walk.  obj->tree_lock is taken for write by
 * remove_mapping; nobody allocates frames under it (the radix tree's
 * nodes come from malloc).
 *
 * Locks (the order of the library is in lockdep.h; these are leaves):
 *   batch lock (lru_pvec.lock) -> LRU lock (lruvec.lock)
 *   kswapd_lock (kswapd's sleep and wake-up), taken alone (the wake-up
 *   may take kthread_lock, a leaf, before it).
 * And sys->reclaim_check_lock: a reclaim pass (and reclaim_page) holds
 * it for read around everything it does (page locks, rmap walks,
 * writeback); the per-mm invariant checks (mm_check.c) take it for
 * write with an mmap_lock held, so they never see a pte and its RSS
 * counter half changed by a reclaimer that holds no mmap_lock of theirs.
 * (umm_system_check, for quiet systems, keeps kswapd asleep instead:
 * kswapd_pause.)  A
 * reclaimer never waits for an mmap_lock, so this cannot deadlock; its
 * cost is one uncontended read lock per pass.
 * Neither batch nor LRU lock is held across anything but list and flag
 * updates: no page lock, no rmap walk, no I/O, no put_page.
 */
#include <errno.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <usermm/stats.h>
#include "vmscan.h"
#include "filemap.h"
#include "object.h"
#include "rmap.h"
#include "swap.h"
#include "kthread.h"

#define LRU_PVEC_SIZE 31        /* pages per batch: the LRU lock once per 31 pages added */
#define SCAN_BATCH 32           /* pages isolated per scan step */
#define INACTIVE_BATCH SWAP_OUT_BATCH   /* pages isolated per step of the inactive swap-backed list */
_Static_assert(INACTIVE_BATCH >= SCAN_BATCH, "shrink_inactive_list's arrays hold either");
#define ISOLATED_WAIT_TRIES 64  /* direct reclaim passes while others hold pages isolated */

#define LRU_BATCH_MASK (0xfU << PAGE_LRU_BATCH_SHIFT)
#define LRU_LIST_MASK  (0x7U << PAGE_LRU_LIST_SHIFT)
_Static_assert(NR_SLOT_STRIPES <= 16, "the batch number is 4 bits of page->flags");
_Static_assert(NR_LRU_LISTS <= 8, "the list number is 3 bits of page->flags");

struct lru_pvec {
	_Alignas(64) pthread_mutex_t lock;
	unsigned int nr;                     /* [lock] */
	struct page *pages[LRU_PVEC_SIZE];   /* [lock] PG_lru_batch pages, no references */
};

struct lruvec {
	pthread_mutex_t lock;                /* the LRU lock: lists, nr, pages' lru/PG_lru */
	struct list_head lists[NR_LRU_LISTS];
	unsigned long nr[NR_LRU_LISTS];
	struct lru_pvec pvec[NR_SLOT_STRIPES];

	pthread_mutex_t kswapd_lock;         /* kswapd_wake, kswapd_stop */
	pthread_cond_t kswapd_wait;
	bool kswapd_wake, kswapd_stop;
	bool kswapd_off;                     /* tests: wake-ups ignored (vmscan_set_kswapd) */
	bool kswapd_busy;                    /* reclaiming (between wake-up and sleep) */
	unsigned int kswapd_paused;          /* umm_system_check running: kswapd stays asleep */
	pthread_t kswapd;
	struct kthread_lazy kswapd_kt;       /* started at the first wake-up (kthread.c) */
	struct umm_system *sys;
	pid_t pid;                           /* the process that created the lists */

	_Atomic unsigned long pgscan, pgsteal, pgactivate, pgdeactivate, pgwriteback;
	_Atomic long nr_isolated;            /* pages some reclaimer holds off the lists now */
};

/* What shrink_page decided for one isolated page. */
enum page_fate {
	PAGE_KEEP,          /* back to the head of its inactive list */
	PAGE_ACTIVATE,      /* to its active list */
	PAGE_UNEVICTABLE,   /* to the unevictable list */
	PAGE_FREED,         /* out of the cache: the scan's reference is the last */
	PAGE_GONE,          /* left its cache while isolated: just let go */
	PAGE_SWAPOUT,       /* anonymous, locked, in the swap cache and unmapped: in the swap-out batch */
	PAGE_WRITE,         /* file, locked, unmapped and dirty: in the writeback batch */
};

struct scan_control {
	unsigned long nr_to_reclaim;
	unsigned long nr_reclaimed;
	unsigned long nr_scanned;    /* pages isolated, both kinds of list */
	bool may_swap;               /* scan swap-backed pages */
	bool force;                  /* MADV_PAGEOUT: ignore references */
};

static struct lruvec *lruvec_of(struct umm_system *sys)
{
	return sys->lruvec;
}

/* ---- list primitives (LRU lock held) ---- */

static enum lru_list page_lru_id(const struct page *page)
{
	return (enum lru_list)((atomic_load_explicit((_Atomic uint32_t *)&page->flags,
						     memory_order_relaxed) & LRU_LIST_MASK) >> PAGE_LRU_LIST_SHIFT);
}

/* page_lru - the list a page belongs on: unevictable, else its kind's (in)active list. */
static enum lru_list page_lru(const struct page *page, bool active)
{
	if (PageUnevictable(page))
		return LRU_UNEVICTABLE;
	return (PageSwapBacked(page) ? LRU_INACTIVE_ANON : LRU_INACTIVE_FILE) + (active ? 1 : 0);
}

static bool lru_is_active(enum lru_list lru)
{
	return lru == LRU_ACTIVE_ANON || lru == LRU_ACTIVE_FILE;
}

/* add_page_to_lru_locked - link page on list lru (head, or tail), set PG_lru and the list number. */
static void add_page_to_lru_locked(struct lruvec *lv, struct page *page, enum lru_list lru, bool tail)
{
	uint32_t set = (1U << PG_lru) | ((uint32_t)lru << PAGE_LRU_LIST_SHIFT);

	if (lru_is_active(lru))
		set |= 1U << PG_active;
	if (tail)
		list_add_tail(&page->lru, &lv->lists[lru]);
	else
		list_add(&page->lru, &lv->lists[lru]);
	lv->nr[lru]++;
	atomic_fetch_and(&page->flags, ~(LRU_LIST_MASK | (1U << PG_active)));
	atomic_fetch_or(&page->flags, set);
}

/* del_page_from_lru_locked - unlink a PG_lru page and clear PG_lru, PG_active and the list number. */
static void del_page_from_lru_locked(struct lruvec *lv, struct page *page)
{
	enum lru_list lru = page_lru_id(page);

	list_del(&page->lru);
	lv->nr[lru]--;
	atomic_fetch_and(&page->flags, ~(LRU_LIST_MASK | (1U << PG_active) | (1U << PG_lru)));
}

/* get_page_unless_zero - a reference, unless the page is already being freed. */
static bool get_page_unless_zero(struct page *page)
{
	int c = atomic_load(&page->_refcount);

	while (c > 0)
		if (atomic_compare_exchange_weak(&page->_refcount, &c, c + 1))
			return true;
	return false;
}

/* ---- batches ---- */

/* pvec_drain_locked - move a batch to the lists.  Its lock held; takes the LRU lock. */
static void pvec_drain_locked(struct lruvec *lv, struct lru_pvec *pv)
{
	if (!pv->nr)
		return;
	pthread_mutex_lock(&lv->lock);
	for (unsigned int i = 0; i < pv->nr; i++) {
		struct page *page = pv->pages[i];

		/* on the list before it leaves the batch: put_page sees one of the two */
		add_page_to_lru_locked(lv, page, page_lru(page, false), false);
		atomic_fetch_and(&page->flags, ~(LRU_BATCH_MASK | (1U << PG_lru_batch)));
	}
	pthread_mutex_unlock(&lv->lock);
	pv->nr = 0;
}

/**
 * lru_cache_add - put a fresh page (referenced by the caller, on no list)
 * in the calling thread's batch; a full batch goes to the lists.  Marks
 * anonymous and shmem pages PG_swapbacked; an anonymous page already
 * marked was added before (swap cache) and is left alone.  Takes the
 * batch lock and, once per batch, the LRU lock.
 */
void lru_cache_add(struct umm_system *sys, struct page *page)
{
	struct lruvec *lv = lruvec_of(sys);
	unsigned int slot = thread_slot();
	struct lru_pvec *pv;

	if (!lv || PageReserved(page))
		return;
	/*
	 * An anonymous page is added once in its life: at swap-in, or at its
	 * first mapping; a swap-cache page mapped again is on the LRU already
	 * (or isolated by a scan that will put it back).
	 */
	if (PageAnon(page) && TestSetPageSwapBacked(page))
		return;
	VM_BUG_ON(PageLRU(page) || PageLRUBatch(page));
	if (page->mapping && page->mapping->type == OBJ_SHMEM)
		SetPageSwapBacked(page);
	pv = &lv->pvec[slot];
	pthread_mutex_lock(&pv->lock);
	atomic_fetch_or(&page->flags, ((uint32_t)slot << PAGE_LRU_BATCH_SHIFT) | (1U << PG_lru_batch));
	pv->pages[pv->nr++] = page;
	if (pv->nr == LRU_PVEC_SIZE)
		pvec_drain_locked(lv, pv);
	pthread_mutex_unlock(&pv->lock);
}

/** lru_add_drain - move the calling thread's batch to the lists.  Batch lock, LRU lock. */
void lru_add_drain(struct umm_system *sys)
{
	struct lruvec *lv = lruvec_of(sys);
	struct lru_pvec *pv;

	if (!lv)
		return;
	pv = &lv->pvec[thread_slot()];
	pthread_mutex_lock(&pv->lock);
	pvec_drain_locked(lv, pv);
	pthread_mutex_unlock(&pv->lock);
}

/** lru_add_drain_all - move every batch to the lists.  Each batch lock in turn, LRU lock. */
void lru_add_drain_all(struct umm_system *sys)
{
	struct lruvec *lv = lruvec_of(sys);

	if (!lv)
		return;
	for (int i = 0; i < NR_SLOT_STRIPES; i++) {
		struct lru_pvec *pv = &lv->pvec[i];

		pthread_mutex_lock(&pv->lock);
		pvec_drain_locked(lv, pv);
		pthread_mutex_unlock(&pv->lock);
	}
}

/*
 * lru_release - the allocator's release hook: put_page or release_pages
 * dropped the last references of pages[0..nr), each with PG_lru or
 * PG_lru_batch.  Take each out of its batch (the batch's lock, taken once
 * per run of pages of one batch) and then off its list (the LRU lock,
 * taken once for all of them).  Nobody can take a new reference
 * (get_page_unless_zero fails at zero), so once out a page stays out.  A
 * page that a batch drain moves to a list before its batch lock is taken
 * here is found on the list by the second pass (the drain lists it before
 * it clears PG_lru_batch, under that lock).
 */
static void lru_release(void *arg, struct page **pages, unsigned int nr)
{
	struct lruvec *lv = lruvec_of(arg);
	struct lru_pvec *held = NULL;
	bool listed = false;

	for (unsigned int n = 0; n < nr; n++) {
		struct page *page = pages[n];
		uint32_t f = atomic_load(&page->flags);
		struct lru_pvec *pv;

		if (!(f & (1U << PG_lru_batch)))
			continue;
		pv = &lv->pvec[(f & LRU_BATCH_MASK) >> PAGE_LRU_BATCH_SHIFT];
		if (pv != held) {
			if (held)
				pthread_mutex_unlock(&held->lock);
			pthread_mutex_lock(&pv->lock);
			held = pv;
		}
		if (PageLRUBatch(page)) {
			for (unsigned int i = 0; i < pv->nr; i++) {
				if (pv->pages[i] == page) {
					pv->pages[i] = pv->pages[--pv->nr];
					break;
				}
			}
			atomic_fetch_and(&page->flags, ~(LRU_BATCH_MASK | (1U << PG_lru_batch)));
		}
	}
	if (held)
		pthread_mutex_unlock(&held->lock);
	for (unsigned int n = 0; n < nr; n++) {
		struct page *page = pages[n];

		if (!PageLRU(page))
			continue;
		if (!listed) {
			pthread_mutex_lock(&lv->lock);
			listed = true;
		}
		if (PageLRU(page))
			del_page_from_lru_locked(lv, page);
	}
	if (listed)
		pthread_mutex_unlock(&lv->lock);
}

/* ---- isolation and putback ---- */

/*
 * isolate_lru_pages - up to `max` pages from the tail of list lru, each
 * referenced and unlinked, into out[].  *scanned counts the pages looked
 * at.  Takes the LRU lock.  Returns the number isolated.
 */
static unsigned int isolate_lru_pages(struct lruvec *lv, enum lru_list lru, struct page **out,
				      unsigned int max, unsigned long *scanned)
{
	struct list_head *head = &lv->lists[lru], *pos;
	unsigned int n = 0, looked = 0;

	pthread_mutex_lock(&lv->lock);
	pos = head->prev;
	while (pos != head && n < max && looked < 2 * max) {
		struct page *page = list_entry(pos, struct page, lru);

		pos = pos->prev;
		looked++;
		if (!get_page_unless_zero(page))
			continue;       /* being freed: lru_release takes it off */
		del_page_from_lru_locked(lv, page);
		out[n++] = page;
	}
	pthread_mutex_unlock(&lv->lock);
	atomic_fetch_add(&lv->nr_isolated, n);
	*scanned += looked;
	return n;
}

/*
 * putback_pages - return isolated pages to the lists their fates name
 * (LRU lock), then drop the scan's references (no lock held: a last
 * reference re-enters lru_release).
 */
static void putback_pages(struct lruvec *lv, struct page **pages, enum page_fate *fate, unsigned int n)
{
	unsigned long activated = 0;

	pthread_mutex_lock(&lv->lock);
	for (unsigned int i = 0; i < n; i++) {
		struct page *page = pages[i];

		switch (fate[i]) {
		case PAGE_KEEP:
			add_page_to_lru_locked(lv, page, page_lru(page, false), false);
			break;
		case PAGE_ACTIVATE:
			add_page_to_lru_locked(lv, page, page_lru(page, true), false);
			activated++;
			break;
		case PAGE_UNEVICTABLE:
			add_page_to_lru_locked(lv, page, LRU_UNEVICTABLE, false);
			break;
		default:
			break;
		}
	}
	pthread_mutex_unlock(&lv->lock);
	if (activated)
		atomic_fetch_add(&lv->pgactivate, activated);
	for (unsigned int i = 0; i < n; i++)
		put_page(pages[i]);
	atomic_fetch_sub(&lv->nr_isolated, n);
}

/* ---- eviction ---- */

/*
 * page_check_references - the second-chance decision for a locked page
 * (not for MADV_PAGEOUT): PAGE_ACTIVATE (referenced while marked, or
 * through several ptes), PAGE_KEEP (referenced once: marked, rotated), or
 * PAGE_FREED meaning "go on evicting".  Walks the reverse map (trylocks).
 */
static enum page_fate page_check_references(struct page *page)
{
	int refs = page_mapped(page) ? page_referenced(page) : 0;
	bool marked = TestClearPageReferenced(page);

	if (!refs)
		return PAGE_FREED;
	if (marked || refs > 1)
		return PAGE_ACTIVATE;
	SetPageReferenced(page);        /* second chance */
	return PAGE_KEEP;
}

/*
 * shrink_anon_page - the first half of evicting a locked anonymous page
 * to swap: a slot and the swap cache (add_to_swap), every pte replaced by
 * the swap entry (try_to_unmap).  Returns PAGE_SWAPOUT with the page
 * still locked: the caller's swap-out batch writes it and takes it out
 * of the swap cache (flush_swapout, swap_out_locked_pages).  A page
 * already in the swap cache and clean is not written again.  Any other
 * fate leaves the page as it was (the slot given back if no pte took it).
 */
static enum page_fate shrink_anon_page(struct umm_system *sys, struct page *page)
{
	bool added = false;
	int ret;

	if (!PageSwapCache(page)) {
		if (add_to_swap(page))
			return PAGE_ACTIVATE;   /* swap full */
		added = true;
	}
	if (page_mapped(page)) {
		ret = try_to_unmap(page, swp_entry_to_pte((swp_entry_t){ page->private }));
		if (ret != SWAP_SUCCESS) {
			/* no pte took the entry: give the slot back, the page stays as it was */
			if (added && swap_count(sys, (swp_entry_t){ page->private }) == 0)
				delete_from_swap_cache(page);
			return ret == SWAP_FAIL ? PAGE_ACTIVATE : PAGE_KEEP;
		}
	}
	return PAGE_SWAPOUT;
}

/*
 * shrink_page - try to evict one isolated page (the scan's reference
 * held, off every list).  Trylocks the page; walks the reverse map
 * (trylocks).  Returns its fate; the page is unlocked again, except for
 * PAGE_SWAPOUT (an anonymous page ready for the swap-out batch) and
 * PAGE_WRITE (a dirty file page ready for the writeback batch): locked.
 */
static enum page_fate shrink_page(struct umm_system *sys, struct page *page, struct scan_control *sc)
{
	struct lruvec *lv = lruvec_of(sys);
	enum page_fate fate = PAGE_KEEP;

	if (!trylock_page(page))
		return PAGE_KEEP;
	if (PageWriteback(page))
		goto out;
	if (PageUnevictable(page)) {
		fate = PAGE_UNEVICTABLE;
		goto out;
	}
	if (PageSwapBacked(page) && !sc->may_swap)
		goto out;               /* anonymous or shmem, and no swap slot to put it in */
	if (!PageAnon(page) && !page->mapping) {
		fate = PAGE_GONE;       /* truncated while we held it */
		goto out;
	}
	if (!sc->force) {
		fate = page_check_references(page);
		if (fate != PAGE_FREED)
			goto out;
		fate = PAGE_KEEP;
	}
	if (PageAnon(page)) {
		fate = shrink_anon_page(sys, page);
		if (fate == PAGE_SWAPOUT)
			return fate;    /* stays locked for flush_swapout */
		goto out;
	}
	if (PageSwapBacked(page)) {
		/* shmem: unmapped, written to a slot and out of the cache by its object */
		int err = shmem_swapout(page);

		fate = !err ? PAGE_FREED : err == -EBUSY ? PAGE_KEEP : PAGE_ACTIVATE;
		goto out;
	}
	if (page_mapped(page)) {
		int ret = try_to_unmap(page, 0);

		if (ret != SWAP_SUCCESS) {
			fate = ret == SWAP_FAIL ? PAGE_ACTIVATE : PAGE_KEEP;
			goto out;
		}
	}
	if (PageDirty(page)) {
		/* unmapped and locked: nothing can dirty it again until it is written */
		atomic_fetch_add(&lv->pgwriteback, 1);
		return PAGE_WRITE;      /* stays locked for flush_writeback */
	}
	if (remove_mapping(page))
		fate = PAGE_FREED;
out:
	unlock_page(page);
	return fate;
}

/*
 * flush_swapout - write the anonymous pages of a swap-out batch (locked,
 * in the swap cache, unmapped: PAGE_SWAPOUT) with one backend write per
 * run of consecutive slots, and turn their fates into final ones: freed
 * (out of the swap cache, the scan's reference is the last), kept (a
 * fault found it in the swap cache meanwhile) or activated (the write
 * failed: it stays dirty in the swap cache, where its swap ptes find it).
 * The pages are unlocked.  Swap I/O; no lock held but the pages'.
 */
static void flush_swapout(struct page **batch, unsigned int *idx, unsigned int nb,
			  enum page_fate *fate)
{
	int res[SWAP_OUT_BATCH];

	if (!nb)
		return;
	(void)swap_out_locked_pages(batch, nb, res);
	for (unsigned int j = 0; j < nb; j++)
		fate[idx[j]] = !res[j] ? PAGE_FREED : res[j] == -EBUSY ? PAGE_KEEP : PAGE_ACTIVATE;
}

/*
 * flush_writeback - write the dirty file pages of a writeback batch
 * (locked, unmapped: PAGE_WRITE) with one request per run of consecutive
 * pages of an object (write_locked_pages), and turn their fates into
 * final ones: freed (written and out of the cache), kept (written, but
 * someone else holds it, so it stays cached and clean) or activated (the
 * write failed: dirty with PG_error, the error kept for the next sync).
 * The pages are unlocked.  File I/O; no lock held but the pages'.
 */
static void flush_writeback(struct page **batch, unsigned int *idx, unsigned int nb,
			    enum page_fate *fate)
{
	int res[INACTIVE_BATCH];

	if (!nb)
		return;
	write_locked_pages(batch, nb, res);
	for (unsigned int j = 0; j < nb; j++) {
		fate[idx[j]] = res[j] ? PAGE_ACTIVATE : remove_mapping(batch[j]) ? PAGE_FREED : PAGE_KEEP;
		unlock_page(batch[j]);
	}
}

/*
 * shrink_page_list - shrink_page for n isolated pages; the anonymous ones
 * it readies for swap (PAGE_SWAPOUT) are collected and written together,
 * up to SWAP_OUT_BATCH per flush_swapout, after the others are done, and
 * so are the dirty file pages it unmapped (PAGE_WRITE, flush_writeback).
 * fate[i] gets page i's final fate.  Returns the pages freed.
 */
static unsigned long shrink_page_list(struct umm_system *sys, struct page **pages, enum page_fate *fate,
				      unsigned int n, struct scan_control *sc)
{
	struct page *batch[SWAP_OUT_BATCH], *wbatch[INACTIVE_BATCH];
	unsigned int idx[SWAP_OUT_BATCH], widx[INACTIVE_BATCH], nb = 0, nw = 0;
	unsigned long freed = 0;

	VM_BUG_ON(n > INACTIVE_BATCH);
	for (unsigned int i = 0; i < n; i++) {
		fate[i] = shrink_page(sys, pages[i], sc);
		if (fate[i] == PAGE_WRITE) {
			wbatch[nw] = pages[i];
			widx[nw++] = i;
			continue;
		}
		if (fate[i] != PAGE_SWAPOUT)
			continue;
		batch[nb] = pages[i];
		idx[nb++] = i;
		if (nb == SWAP_OUT_BATCH) {
			flush_swapout(batch, idx, nb, fate);
			nb = 0;
		}
	}
	flush_swapout(batch, idx, nb, fate);
	flush_writeback(wbatch, widx, nw, fate);
	for (unsigned int i = 0; i < n; i++)
		freed += fate[i] == PAGE_FREED;
	return freed;
}

/*
 * shrink_inactive_list - isolate a batch from the tail of an inactive
 * list (SWAP_OUT_BATCH pages of the swap-backed list, so that its
 * anonymous pages go to swap in batches of that size; SCAN_BATCH of the
 * file list), try to evict each page, put the rest back.  Returns pages
 * isolated.
 */
static unsigned int shrink_inactive_list(struct umm_system *sys, enum lru_list lru, struct scan_control *sc)
{
	struct lruvec *lv = lruvec_of(sys);
	struct page *pages[INACTIVE_BATCH];
	enum page_fate fate[INACTIVE_BATCH];
	unsigned long looked = 0, freed;
	unsigned int n;

	n = isolate_lru_pages(lv, lru, pages, lru == LRU_INACTIVE_ANON ? INACTIVE_BATCH : SCAN_BATCH,
			      &looked);
	sc->nr_scanned += n;
	if (!n)
		return 0;
	atomic_fetch_add(&lv->pgscan, n);
	freed = shrink_page_list(sys, pages, fate, n, sc);
	putback_pages(lv, pages, fate, n);
	if (freed) {
		atomic_fetch_add(&lv->pgsteal, freed);
		sc->nr_reclaimed += freed;
	}
	return n;
}

/*
 * shrink_active_list - demote a batch from the tail of an active list to
 * the head of its inactive list, clearing the young bits of the ptes
 * that map each page (the page is trylocked for the walk; a locked one
 * stays active) so it is promoted again only if used again.
 */
static void shrink_active_list(struct umm_system *sys, enum lru_list lru, struct scan_control *sc)
{
	struct lruvec *lv = lruvec_of(sys);
	struct page *pages[SCAN_BATCH];
	enum page_fate fate[SCAN_BATCH];
	unsigned long looked = 0, demoted = 0;
	unsigned int n, i;

	n = isolate_lru_pages(lv, lru, pages, SCAN_BATCH, &looked);
	sc->nr_scanned += n;
	for (i = 0; i < n; i++) {
		struct page *page = pages[i];

		fate[i] = PAGE_KEEP;
		if (PageUnevictable(page)) {
			fate[i] = PAGE_UNEVICTABLE;
		} else if (trylock_page(page)) {
			if (page_mapped(page))
				(void)page_referenced(page);
			ClearPageReferenced(page);
			unlock_page(page);
			demoted++;
		} else {
			fate[i] = PAGE_ACTIVATE;
		}
	}
	/* putback_pages counts activations: these stay active, they are not new ones */
	pthread_mutex_lock(&lv->lock);
	for (i = 0; i < n; i++)
		add_page_to_lru_locked(lv, pages[i],
				       fate[i] == PAGE_UNEVICTABLE ? LRU_UNEVICTABLE :
				       page_lru(pages[i], fate[i] == PAGE_ACTIVATE), false);
	pthread_mutex_unlock(&lv->lock);
	for (i = 0; i < n; i++)
		put_page(pages[i]);
	atomic_fetch_sub(&lv->nr_isolated, n);
	if (demoted)
		atomic_fetch_add(&lv->pgdeactivate, demoted);
}

/* inactive_is_low - is the inactive list of this kind smaller than its active list?  LRU lock. */
static bool inactive_is_low(struct lruvec *lv, enum lru_list inactive)
{
	bool low;

	pthread_mutex_lock(&lv->lock);
	low = lv->nr[inactive] < lv->nr[inactive + 1];
	pthread_mutex_unlock(&lv->lock);
	return low;
}

/* lru_pages - pages on the lists reclaim may scan.  LRU lock. */
static unsigned long lru_pages(struct lruvec *lv, bool anon)
{
	unsigned long n;

	pthread_mutex_lock(&lv->lock);
	n = lv->nr[LRU_INACTIVE_FILE] + lv->nr[LRU_ACTIVE_FILE];
	if (anon)
		n += lv->nr[LRU_INACTIVE_ANON] + lv->nr[LRU_ACTIVE_ANON];
	pthread_mutex_unlock(&lv->lock);
	return n;
}

/*
 * rescue_unevictable - move the pages of the unevictable list whose
 * PG_unevictable has been cleared back to their inactive list.  LRU lock.
 */
static void rescue_unevictable(struct lruvec *lv)
{
	struct page *page, *next;

	pthread_mutex_lock(&lv->lock);
	list_for_each_entry_safe(page, next, &lv->lists[LRU_UNEVICTABLE], lru) {
		if (PageUnevictable(page))
			continue;
		del_page_from_lru_locked(lv, page);
		add_page_to_lru_locked(lv, page, page_lru(page, false), false);
	}
	pthread_mutex_unlock(&lv->lock);
}

/*
 * can_swap - may swap-backed pages be scanned?  Only when the system has
 * a swap device with a free slot (swap.h).
 */
static bool can_swap(struct umm_system *sys)
{
	return swap_enabled(sys) && nr_swap_pages_free(sys) > 0;
}

/*
 * shrink_lists - reclaim until sc->nr_to_reclaim pages are freed, or
 * every scannable page has been looked at about twice (the second look
 * is what a second-chance page needs) without reaching it.
 */
static void shrink_lists(struct umm_system *sys, struct scan_control *sc)
{
	struct lruvec *lv = lruvec_of(sys);
	unsigned long budget;

	pthread_rwlock_rdlock(&sys->reclaim_check_lock);
	lru_add_drain_all(sys);
	budget = 2 * lru_pages(lv, sc->may_swap) + SCAN_BATCH;
	while (sc->nr_reclaimed < sc->nr_to_reclaim && sc->nr_scanned < budget) {
		unsigned long before = sc->nr_scanned;

		if (inactive_is_low(lv, LRU_INACTIVE_FILE))
			shrink_active_list(sys, LRU_ACTIVE_FILE, sc);
		shrink_inactive_list(sys, LRU_INACTIVE_FILE, sc);
		if (sc->may_swap) {
			if (inactive_is_low(lv, LRU_INACTIVE_ANON))
				shrink_active_list(sys, LRU_ACTIVE_ANON, sc);
			shrink_inactive_list(sys, LRU_INACTIVE_ANON, sc);
		}
		if (sc->nr_scanned == before)
			break;          /* lists empty, or every page busy being freed */
	}
	pthread_rwlock_unlock(&sys->reclaim_check_lock);
}

/**
 * try_to_free_pages - reclaim at least @nr frames if possible (see
 * vmscan.h for the context it runs in).  A pass that frees nothing is
 * repeated once after moving munlocked pages back from the unevictable
 * list, and while other reclaimers hold pages isolated it is repeated (after a yield, up to
 * ISOLATED_WAIT_TRIES times): their pages may yet be freed, and the
 * caller's -ENOMEM must mean that nothing could be.  Returns frames freed.
 */
unsigned long try_to_free_pages(struct umm_system *sys, unsigned long nr)
{
	struct lruvec *lv = lruvec_of(sys);
	struct scan_control sc = {
		.nr_to_reclaim = nr > SCAN_BATCH ? nr : SCAN_BATCH,
	};
	bool rescued = false;

	if (!lv)
		return 0;
	for (int tries = 0; tries < ISOLATED_WAIT_TRIES; tries++) {
		sc.may_swap = can_swap(sys);
		shrink_lists(sys, &sc);
		if (sc.nr_reclaimed)
			break;
		sc.nr_scanned = 0;
		if (!rescued) {
			/* munlocked pages may still be parked as unevictable: once, look there too */
			rescue_unevictable(lv);
			rescued = true;
			continue;
		}
		/*
		 * Nothing freed while other reclaimers (kswapd, other threads'
		 * direct reclaim) hold pages off the lists: those may be freed
		 * yet, so let them finish before declaring that nothing can be.
		 */
		if (!atomic_load(&lv->nr_isolated))
			break;
		sched_yield();
	}
	return sc.nr_reclaimed;
}

/* ---- the allocator's hooks and kswapd ---- */

/* direct_reclaim_hook - reclaim_hook_t: called by an allocation below the min watermark. */
static long direct_reclaim_hook(void *arg, unsigned long nr_wanted, gfp_t gfp)
{
	(void)gfp;
	return (long)try_to_free_pages(arg, nr_wanted);
}

/*
 * wakeup_kswapd_hook - free frames crossed below the low watermark: the
 * first time, kswapd is started (kthread_want: in the host MMU's signal
 * handler only marked wanted, created at the next safe point; direct
 * reclaim covers the meantime).  Takes kswapd_lock, maybe kthread_lock.
 */
static void wakeup_kswapd_hook(void *arg)
{
	struct lruvec *lv = lruvec_of(arg);

	kthread_want(&lv->kswapd_kt);
	pthread_mutex_lock(&lv->kswapd_lock);
	if (!lv->kswapd_off) {
		lv->kswapd_wake = true;
		pthread_cond_broadcast(&lv->kswapd_wait);
	}
	pthread_mutex_unlock(&lv->kswapd_lock);
}

/**
 * vmscan_set_kswapd - tests: let kswapd answer wake-ups (on) or ignore
 * them (off: only direct reclaim frees frames; returns once kswapd is
 * asleep, so the system is quiet for umm_system_check).  Takes
 * kswapd_lock.
 */
void vmscan_set_kswapd(struct umm_system *sys, bool on)
{
	struct lruvec *lv = lruvec_of(sys);

	if (!lv)
		return;
	pthread_mutex_lock(&lv->kswapd_lock);
	lv->kswapd_off = !on;
	/* off: a wake-up that came before and that kswapd has not seen yet is dropped */
	lv->kswapd_wake = on;    /* on: look at the watermarks now (wake-ups were ignored) */
	if (on)
		pthread_cond_broadcast(&lv->kswapd_wait);
	while (!on && lv->kswapd_busy)
		pthread_cond_wait(&lv->kswapd_wait, &lv->kswapd_lock);
	pthread_mutex_unlock(&lv->kswapd_lock);
}

/*
 * balance - kswapd's work: reclaim until free frames reach the high
 * watermark, a batch at a time, stopping when a batch frees nothing or
 * the system is being destroyed.
 */
static void balance(struct umm_system *sys)
{
	struct lruvec *lv = lruvec_of(sys);

	rescue_unevictable(lv);
	while (!zone_watermark_ok(sys->phys, WMARK_HIGH, 0)) {
		struct scan_control sc = { .nr_to_reclaim = SCAN_BATCH, .may_swap = can_swap(sys) };
		bool stop;

		shrink_lists(sys, &sc);
		pthread_mutex_lock(&lv->kswapd_lock);
		stop = lv->kswapd_stop;
		pthread_mutex_unlock(&lv->kswapd_lock);
		if (!sc.nr_reclaimed || stop)
			break;
	}
	/*
	 * The frames it freed sit in this thread's cache, and the pte-chain
	 * blocks it freed in its slab magazine: give them to everyone.
	 */
	if (sys->pte_chain_cache)
		kmem_cache_drain_local(sys->pte_chain_cache);
	drain_local_pages(sys->phys);
}

static void *kswapd(void *arg);

/* kswapd_start - kthread_lazy's start: create kswapd.  kthread_lock held.  0 or -errno. */
static int kswapd_start(struct kthread_lazy *kt)
{
	struct lruvec *lv = container_of(kt, struct lruvec, kswapd_kt);

	return -pthread_create(&lv->kswapd, NULL, kswapd, lv->sys);
}

static void *kswapd(void *arg)
{
	struct umm_system *sys = arg;
	struct lruvec *lv = lruvec_of(sys);

	pthread_mutex_lock(&lv->kswapd_lock);
	for (;;) {
		while ((!lv->kswapd_wake || lv->kswapd_paused || lv->kswapd_off) && !lv->kswapd_stop)
			pthread_cond_wait(&lv->kswapd_wait, &lv->kswapd_lock);
		if (lv->kswapd_stop)
			break;
		lv->kswapd_wake = false;
		lv->kswapd_busy = true;
		pthread_mutex_unlock(&lv->kswapd_lock);
		balance(sys);
		pthread_mutex_lock(&lv->kswapd_lock);
		lv->kswapd_busy = false;
		pthread_cond_broadcast(&lv->kswapd_wait);   /* vmscan_set_kswapd waits for this */
	}
	pthread_mutex_unlock(&lv->kswapd_lock);
	return NULL;
}

/**
 * vmscan_init - allocate the lists, install the allocator hooks; kswapd
 * is started by the first wake-up (kthread.c).  Takes kthread_lock.
 * 0 or -ENOMEM.
 */
int vmscan_init(struct umm_system *sys)
{
	struct lruvec *lv = aligned_alloc(64, ALIGN_UP(sizeof(*lv), 64));

	if (!lv)
		return -ENOMEM;
	memset(lv, 0, sizeof(*lv));
	mutex_init_adaptive(&lv->lock);
	for (int i = 0; i < NR_LRU_LISTS; i++)
		INIT_LIST_HEAD(&lv->lists[i]);
	for (int i = 0; i < NR_SLOT_STRIPES; i++)
		pthread_mutex_init(&lv->pvec[i].lock, NULL);
	pthread_mutex_init(&lv->kswapd_lock, NULL);
	pthread_cond_init(&lv->kswapd_wait, NULL);
	pthread_rwlock_init(&sys->reclaim_check_lock, NULL);
	lv->sys = sys;
	kthread_init(&lv->kswapd_kt, "kswapd", kswapd_start);
	sys->lruvec = lv;
	lv->pid = getpid();
	phys_set_release_hook(sys->phys, lru_release);
	phys_set_reclaim_hook(sys->phys, direct_reclaim_hook, wakeup_kswapd_hook, sys);
	return 0;
}

/**
 * vmscan_destroy - stop kswapd (takes kswapd_lock, joins it; in the child
 * of a host fork(), which has no copy of the thread, nothing to stop),
 * then remove the hooks, free the lists.  Pages still listed at this point (none, once
 * every mm and object is gone) are only unlinked.  No other thread may use
 * the system.
 */
void vmscan_destroy(struct umm_system *sys)
{
	struct lruvec *lv = lruvec_of(sys);

	if (!lv)
		return;
	/*
	 * kswapd first: until it is joined it may free pages, and the
	 * allocator's release hook reaches the lists through the reclaim
	 * hook's argument, so the hooks stay until nothing can run them.
	 */
	if (lv->pid == getpid()) {
		pthread_mutex_lock(&lv->kswapd_lock);
		lv->kswapd_stop = true;
		pthread_cond_broadcast(&lv->kswapd_wait);
		pthread_mutex_unlock(&lv->kswapd_lock);
		kthread_forget(&lv->kswapd_kt);      /* after this, nobody starts it */
		if (kthread_running(&lv->kswapd_kt))
			pthread_join(lv->kswapd, NULL);
	} else {
		kthread_forget(&lv->kswapd_kt);
	}
	/* else the child of a host fork(): kswapd was not copied, nothing to stop */
	lru_add_drain_all(sys);
	phys_set_release_hook(sys->phys, NULL);
	phys_set_reclaim_hook(sys->phys, NULL, NULL, NULL);
	for (int i = 0; i < NR_LRU_LISTS; i++) {
		struct page *page, *next;

		list_for_each_entry_safe(page, next, &lv->lists[i], lru)
			del_page_from_lru_locked(lv, page);
	}
	sys->lruvec = NULL;
	pthread_rwlock_destroy(&sys->reclaim_check_lock);
	if (lv->pid == getpid())        /* a fork child's copy shows kswapd waiting on it */
		pthread_cond_destroy(&lv->kswapd_wait);
	pthread_mutex_destroy(&lv->kswapd_lock);
	for (int i = 0; i < NR_SLOT_STRIPES; i++)
		pthread_mutex_destroy(&lv->pvec[i].lock);
	pthread_mutex_destroy(&lv->lock);
	free(lv);
}

/**
 * kswapd_pause - keep kswapd asleep (waiting until it is) until
 * kswapd_resume; wake-ups meanwhile are remembered.  umm_system_check uses
 * it: a quiet system has no reclaimer but kswapd.  Takes kswapd_lock.
 */
void kswapd_pause(struct umm_system *sys)
{
	struct lruvec *lv = lruvec_of(sys);

	if (!lv)
		return;
	pthread_mutex_lock(&lv->kswapd_lock);
	lv->kswapd_paused++;
	while (lv->kswapd_busy)
		pthread_cond_wait(&lv->kswapd_wait, &lv->kswapd_lock);
	pthread_mutex_unlock(&lv->kswapd_lock);
}

/** kswapd_resume - undo one kswapd_pause.  Takes kswapd_lock. */
void kswapd_resume(struct umm_system *sys)
{
	struct lruvec *lv = lruvec_of(sys);

	if (!lv)
		return;
	pthread_mutex_lock(&lv->kswapd_lock);
	lv->kswapd_paused--;
	pthread_cond_broadcast(&lv->kswapd_wait);
	pthread_mutex_unlock(&lv->kswapd_lock);
}

/* ---- madvise ---- */

/**
 * deactivate_page - MADV_COLD for one page (caller holds a reference):
 * off an active list to the tail of its inactive list, PG_referenced
 * cleared.  A page in a batch is left there (it is inactive already).
 * Takes the LRU lock.
 */
void deactivate_page(struct umm_system *sys, struct page *page)
{
	struct lruvec *lv = lruvec_of(sys);
	bool moved = false;

	if (!lv)
		return;
	ClearPageReferenced(page);
	pthread_mutex_lock(&lv->lock);
	if (PageLRU(page) && lru_is_active(page_lru_id(page))) {
		del_page_from_lru_locked(lv, page);
		add_page_to_lru_locked(lv, page, page_lru(page, false), true);
		moved = true;
	}
	pthread_mutex_unlock(&lv->lock);
	if (moved)
		atomic_fetch_add(&lv->pgdeactivate, 1);
}

/**
 * reclaim_pages - MADV_PAGEOUT for nr pages: each caller's reference
 * serves as the isolation reference.  Each page is taken off its list (a
 * page in a batch is first moved to the lists with the batches; one
 * isolated by another scan is left alone), evicted if it can be whatever
 * its references (the anonymous ones go to swap together,
 * shrink_page_list), else put back.  No page-table lock held; takes the
 * LRU lock, trylocks the pages, walks the reverse map, may write them.
 * Return: the pages that left their cache (the caller's put_page frees
 * them); gone[i], if not NULL, says which.
 */
unsigned int reclaim_pages(struct umm_system *sys, struct page **pages, unsigned int nr, bool *gone)
{
	struct lruvec *lv = lruvec_of(sys);
	struct scan_control sc = { .nr_to_reclaim = nr, .may_swap = can_swap(sys), .force = true };
	unsigned int done = 0;

	if (gone)
		memset(gone, 0, nr * sizeof(*gone));
	if (!lv)
		return 0;
	for (unsigned int i = 0; i < nr; i++) {
		if (PageLRUBatch(pages[i])) {
			lru_add_drain_all(sys);
			break;
		}
	}
	for (unsigned int base = 0; base < nr; base += SWAP_OUT_BATCH) {
		struct page *iso[SWAP_OUT_BATCH], *back[SWAP_OUT_BATCH];
		enum page_fate fate[SWAP_OUT_BATCH], bfate[SWAP_OUT_BATCH];
		unsigned int where[SWAP_OUT_BATCH], n = 0, nback = 0;
		unsigned long freed;

		pthread_mutex_lock(&lv->lock);
		for (unsigned int i = base; i < nr && i < base + SWAP_OUT_BATCH; i++) {
			if (PageLRU(pages[i])) {
				del_page_from_lru_locked(lv, pages[i]);
				where[n] = i;
				iso[n++] = pages[i];
			}
		}
		pthread_mutex_unlock(&lv->lock);
		if (!n)
			continue;
		atomic_fetch_add(&lv->nr_isolated, n);
		atomic_fetch_add(&lv->pgscan, n);
		pthread_rwlock_rdlock(&sys->reclaim_check_lock);
		freed = shrink_page_list(sys, iso, fate, n, &sc);
		pthread_rwlock_unlock(&sys->reclaim_check_lock);
		if (freed)
			atomic_fetch_add(&lv->pgsteal, freed);
		for (unsigned int j = 0; j < n; j++) {
			if (fate[j] == PAGE_FREED || fate[j] == PAGE_GONE) {
				atomic_fetch_sub(&lv->nr_isolated, 1);
				if (gone)
					gone[where[j]] = true;
				done++;
				continue;
			}
			get_page(iso[j]);       /* putback_pages drops one: keep the caller's */
			back[nback] = iso[j];
			bfate[nback++] = fate[j];
		}
		if (nback)
			putback_pages(lv, back, bfate, nback);
	}
	return done;
}

/**
 * reclaim_page - MADV_PAGEOUT for one page (reclaim_pages).
 * Return: true if the page left its cache (the caller's put_page frees it).
 */
bool reclaim_page(struct umm_system *sys, struct page *page)
{
	return reclaim_pages(sys, &page, 1, NULL) == 1;
}

/**
 * vmscan_get_stats - the reclaim counters and list sizes into st (the
 * batches drained first, so the sizes are exact when the system is
 * quiet).  Takes the batch locks and the LRU lock.
 */
void vmscan_get_stats(struct umm_system *sys, struct umm_sys_stats *st)
{
	struct lruvec *lv = lruvec_of(sys);
	struct phys_stats ps;

	if (!lv)
		return;
	lru_add_drain_all(sys);
	pthread_mutex_lock(&lv->lock);
	st->nr_inactive_anon = lv->nr[LRU_INACTIVE_ANON];
	st->nr_active_anon = lv->nr[LRU_ACTIVE_ANON];
	st->nr_inactive_file = lv->nr[LRU_INACTIVE_FILE];
	st->nr_active_file = lv->nr[LRU_ACTIVE_FILE];
	st->nr_unevictable = lv->nr[LRU_UNEVICTABLE];
	pthread_mutex_unlock(&lv->lock);
	st->pgscan = atomic_load(&lv->pgscan);
	st->pgsteal = atomic_load(&lv->pgsteal);
	st->pgactivate = atomic_load(&lv->pgactivate);
	st->pgdeactivate = atomic_load(&lv->pgdeactivate);
	st->pgwriteback = atomic_load(&lv->pgwriteback);
	phys_get_stats(sys->phys, &ps);
	st->kswapd_wakeups = ps.kswapd_wakeups;
	st->direct_reclaims = ps.reclaim_calls;
	st->oom_events = ps.oom;
}
