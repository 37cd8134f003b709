/* SPDX-License-Identifier: MIT */
/*
 * vmscan.h - the LRU lists and page reclaim (vmscan.c): per-thread batches
 * that put new pages on the lists, the scans that age and evict them, the
 * kswapd thread and direct reclaim behind the allocator's hooks, and the
 * MADV_COLD / MADV_PAGEOUT helpers.
 *
 * A page is on at most one of: an LRU batch (PG_lru_batch), an LRU list
 * (PG_lru), a reclaimer's private list (isolated: neither flag, the
 * reclaimer holds a reference).  The lists hold no reference: the last
 * put_page of a page on a list or in a batch takes it off (the release
 * hook), and isolation takes its reference with get_page_unless_zero under
 * the LRU lock.  Lock order: see vmscan.c.
 */
#ifndef UMM_VMSCAN_H
#define UMM_VMSCAN_H

#include <stdbool.h>
#include "system.h"

enum lru_list {
	LRU_INACTIVE_ANON,   /* swap-backed: anon and shmem pages */
	LRU_ACTIVE_ANON,
	LRU_INACTIVE_FILE,   /* file-backed page-cache pages */
	LRU_ACTIVE_FILE,
	LRU_UNEVICTABLE,     /* PG_unevictable (mlocked) when last scanned */
	NR_LRU_LISTS
};

struct umm_sys_stats;

/*
 * vmscan_init - the system's LRU lists, its kswapd helper (created at the
 * first wake-up, kthread.c) and allocator hooks (direct reclaim, kswapd
 * wake-up, release of freed LRU pages).  Takes kthread_lock.  0 or
 * -ENOMEM.
 */
int vmscan_init(struct umm_system *sys);
/*
 * vmscan_destroy - stop and join kswapd, unhook the allocator, empty the
 * batches and lists.  No other thread may use the system.  No locks held.
 */
void vmscan_destroy(struct umm_system *sys);

/*
 * lru_cache_add - a fresh page-cache or anonymous page (not on any list or
 * batch) goes to the calling thread's batch, and with the batch to the
 * inactive list of its kind; a PG_unevictable page to the unevictable
 * list.  An anonymous page is added once (PG_swapbacked marks it): a
 * swapped-in page at swap-in, and not again when it is mapped.  The caller holds a reference (and the page lock, or the pte
 * table lock of the page's first pte).  Takes a batch lock, and the LRU
 * lock once per batch (both leaves).
 */
void lru_cache_add(struct umm_system *sys, struct page *page);
/* lru_add_drain - move the calling thread's batch to the lists.  Leaves only. */
void lru_add_drain(struct umm_system *sys);
/* lru_add_drain_all - move every batch to the lists.  Leaves only. */
void lru_add_drain_all(struct umm_system *sys);

/*
 * try_to_free_pages - direct reclaim: free at least nr frames if it can
 * (scans the inactive lists, demotes active pages, writes dirty file pages
 * back, sends swap-backed pages to swap while it has a free slot).  Called by the
 * allocator (no allocator lock held) in a thread that may hold mmap_lock
 * and page locks, never a page-table lock: pages are trylocked, and the
 * reverse map's anon_vma and i_mmap locks are trylocked when the thread
 * already holds one of them (see vmscan.c).  Returns frames freed.
 */
unsigned long try_to_free_pages(struct umm_system *sys, unsigned long nr);

/*
 * deactivate_page - MADV_COLD: move a page on an active list to the tail
 * of its inactive list (first to be scanned) and forget its references.
 * Caller holds a reference.  Takes the LRU lock.
 */
void deactivate_page(struct umm_system *sys, struct page *page);
/*
 * reclaim_page - MADV_PAGEOUT: isolate a page from its list and try to
 * evict it now, whatever its references (a locked, pinned, mlocked or
 * busy page stays, and a swap-backed one without a free swap slot).  Caller holds a
 * reference and no page-table lock.  Returns true if the frame was freed
 * or will be with the caller's reference.
 */
bool reclaim_page(struct umm_system *sys, struct page *page);
/*
 * reclaim_pages - reclaim_page for nr pages at once, so that the
 * anonymous ones go to swap in batches (one backend write per run of
 * consecutive slots).  Caller holds a reference on each page and no
 * page-table lock.  Returns how many frames were freed or will be with
 * the caller's references; gone[i] (if gone is not NULL) says which.
 */
unsigned int reclaim_pages(struct umm_system *sys, struct page **pages, unsigned int nr, bool *gone);

/*
 * vmscan_set_kswapd - for tests: on (the default), kswapd answers the
 * allocator's wake-ups; off, it ignores them and only direct reclaim
 * frees frames, and the call returns once kswapd is asleep.  Takes
 * kswapd_lock.
 */
void vmscan_set_kswapd(struct umm_system *sys, bool on);

/*
 * kswapd_pause / kswapd_resume - keep kswapd asleep (kswapd_pause returns
 * once it is) / let it run again; wake-ups meanwhile are remembered.  For
 * umm_system_check.  Take kswapd_lock.
 */
void kswapd_pause(struct umm_system *sys);
void kswapd_resume(struct umm_system *sys);

/* vmscan_get_stats - fill the reclaim block of umm_sys_stats.  Takes the LRU lock. */
void vmscan_get_stats(struct umm_system *sys, struct umm_sys_stats *st);

#endif /* UMM_VMSCAN_H */
