/* SPDX-License-Identifier: MIT */
/*
 * rmap.c - the reverse map: the hooks every pte change calls, the
 * scheme dispatch, and the walks built on a scheme's rmap_walk
 * (page_referenced, try_to_unmap, page_mkclean).
 *
 * Theory of operation.  Both schemes share what this file keeps: a
 * page's map count (page->_mapcount, the ptes mapping it), PG_anon and
 * the anon page's index (the linear page index it was first mapped at,
 * vma->vm_pgoff based, so it survives mremap and fork), and sys->nr_anon
 * (live anonymous pages: up when a fresh anon page is first mapped, down
 * when its last mapping goes).  On top of that the pte-chain scheme
 * records each pte pointer (rmap_ptechain.c) and the object scheme
 * points an anon page at its vma's anon_vma (rmap_object.c).  The choice
 * is a branch on sys->cfg.rmap, read from the vma's mm: the cost on the
 * fault path is one load and a well-predicted branch.
 *
 * The walks present each pte with its table lock held (rmap.h).  A walk
 * callback that clears a pte returns RMAP_UNMAPPED and the scheme then
 * removes the mapping (for pte chains that must happen under the chain
 * lock the walk holds, so the callback cannot call page_remove_rmap).
 *
 * Pins.  usermm has no pin count: a pin is a reference.  A page mapped
 * by n ptes holds n references from them, one from the page cache if
 * cached, and the caller of try_to_unmap holds one; anything beyond
 * those is taken as a pin (or a transient holder such as a pending TLB
 * gather: a false positive only makes the unmap fail).
 *
 * The mapping hooks also mark a page mapped into a VM_LOCKED vma
 * unevictable (mlock_vma_page, mlock.h).
 *
 * Locks (order in lockdep.h): the hooks run under the pte table lock of
 * ptep and take nothing else except PG_chainlock (pte chains), the slab
 * cache lock (a leaf) to free a block, and (page_add_new_anon_rmap, through
 * lru_cache_add) the thread's LRU batch lock.  The walks: see rmap.h.
 */
#include <errno.h>
#include <stdlib.h>
#include "rmap.h"
#include "object.h"
#include "filemap.h"
#include "memory.h"
#include "mlock.h"
#include "swap.h"
#include "mmu_notifier.h"
#include "vmscan.h"

__thread unsigned int rmap_locks_held;

/**
 * page_add_new_anon_rmap - first mapping of a freshly allocated anon page:
 * mark it anonymous, record its index, mapcount 1, count it in nr_anon;
 * the direct pointer (pte chains) or the vma's anon_vma (object scheme,
 * which anon_vma_prepare gave the vma before); and put it on the LRU
 * (lru_cache_add: anonymous faults, copy-on-write copies, fork's copies
 * and populate all come through here).  ptep's table lock held; takes
 * the LRU batch lock (a leaf).
 */
void page_add_new_anon_rmap(struct page *page, struct vm_area_struct *vma, uintptr_t addr, pte_t *ptep)
{
	struct umm_system *sys = vma->vm_mm->sys;

	assert_pte_locked(vma->vm_mm, ptep);
	VM_BUG_ON(page_mapcount(page) != 0);
	VM_BUG_ON(PageReserved(page) || page->mapping);
	SetPageAnon(page);
	page->mapping = NULL;
	page->index = linear_page_index(vma, addr);
	atomic_store(&page->_mapcount, 1);
	stripe_counter_add(&sys->nr_anon, 1);
	mlock_vma_page(page, vma);
	if (rmap_ptechain(sys)) {
		ptechain_add(page, ptep);
	} else {
		/* atomic: another thread's fault may have just set it (anon_vma_prepare) */
		struct anon_vma *av = __atomic_load_n(&vma->anon_vma, __ATOMIC_ACQUIRE);

		VM_BUG_ON(!av);
		set_page_rmap(page, (void *)((uintptr_t)av | PAGE_RMAP_ANON_VMA));
	}
	lru_cache_add(sys, page);       /* every new anon page starts on the LRU here */
}

/**
 * page_add_anon_rmap - another pte maps an existing anon page (fork).
 * ptep's table lock held; under pte chains a block reserved by
 * rmap_prepare.
 */
void page_add_anon_rmap(struct page *page, struct vm_area_struct *vma, uintptr_t addr, pte_t *ptep)
{
	(void)addr;
	assert_pte_locked(vma->vm_mm, ptep);
	VM_BUG_ON(!PageAnon(page));
	VM_BUG_ON(page_mapcount(page) <= 0);
	VM_BUG_ON(!rmap_ptechain(vma->vm_mm->sys) && page_anon_vma(page) != vma->anon_vma);
	atomic_fetch_add(&page->_mapcount, 1);
	mlock_vma_page(page, vma);
	if (rmap_ptechain(vma->vm_mm->sys))
		ptechain_add(page, ptep);
}

/**
 * page_add_file_rmap - a pte maps a page-cache page.  ptep's table lock
 * held; under pte chains a block reserved by rmap_prepare.
 */
void page_add_file_rmap(struct page *page, struct vm_area_struct *vma, uintptr_t addr, pte_t *ptep)
{
	(void)addr;
	assert_pte_locked(vma->vm_mm, ptep);
	VM_BUG_ON(PageAnon(page) || PageReserved(page));
	atomic_fetch_add(&page->_mapcount, 1);
	mlock_vma_page(page, vma);
	if (rmap_ptechain(vma->vm_mm->sys))
		ptechain_add(page, ptep);
}

/**
 * rmap_count_removed - one mapping of page went: drop the map count, and
 * nr_anon with an anon page's last mapping.  ptl held.
 */
void rmap_count_removed(struct page *page, struct umm_mm *mm)
{
	int left = atomic_fetch_sub(&page->_mapcount, 1) - 1;

	VM_BUG_ON(left < 0);
	if (left == 0 && PageAnon(page))
		stripe_counter_add(&mm->sys->nr_anon, -1);
}

/**
 * page_remove_rmap - a pte stopped mapping page.  ptep's table lock held.
 */
void page_remove_rmap(struct page *page, struct vm_area_struct *vma, uintptr_t addr, pte_t *ptep)
{
	(void)addr;
	assert_pte_locked(vma->vm_mm, ptep);
	if (rmap_ptechain(vma->vm_mm->sys))
		ptechain_remove(page, ptep);
	rmap_count_removed(page, vma->vm_mm);
}

/**
 * page_move_rmap - mremap carried the pte mapping page from old_ptep to
 * new_ptep (same mm).  Both table locks held.
 */
void page_move_rmap(struct page *page, pte_t *old_ptep, struct vm_area_struct *new_vma,
		    uintptr_t new_addr, pte_t *new_ptep)
{
	(void)new_addr;
	assert_pte_locked(new_vma->vm_mm, new_ptep);
	assert_pte_locked(new_vma->vm_mm, old_ptep);
	VM_BUG_ON(page_mapcount(page) <= 0);
	VM_BUG_ON(PageAnon(page) && !rmap_ptechain(new_vma->vm_mm->sys) && page_anon_vma(page) != new_vma->anon_vma);
	mlock_vma_page(page, new_vma);
	if (rmap_ptechain(new_vma->vm_mm->sys))
		ptechain_move(page, old_ptep, new_ptep);
}

/**
 * rmap_walk - call fn for every pte that maps page (rmap.h).  The scheme
 * is the system's: a cache page's object knows it, an anon page's rmap
 * word is tagged by the scheme that wrote it.  Returns the number of ptes
 * skipped because their table lock was busy.
 */
int rmap_walk(struct page *page, rmap_one_fn fn, void *arg, unsigned int flags)
{
	if (PageReserved(page) || !page_mapped(page))
		return 0;
	if (PageAnon(page)) {
		uintptr_t r = (uintptr_t)__atomic_load_n(&page->rmap, __ATOMIC_ACQUIRE);

		if (r & PAGE_RMAP_ANON_VMA)
			return object_rmap_walk(page, fn, arg, flags);
		return ptechain_walk(page, fn, arg, flags);
	}
	if (!page->mapping)
		return 0;
	if (rmap_ptechain(page->mapping->sys))
		return ptechain_walk(page, fn, arg, flags);
	return object_rmap_walk(page, fn, arg, flags);
}

/* ---- page_referenced ---- */

struct referenced_walk {
	int referenced;
};

static int referenced_one(struct page *page, const struct rmap_pte *rp, void *arg)
{
	struct referenced_walk *rw = arg;
	pte_t pte = *rp->ptep;

	int young = pte_young(pte);

	(void)page;
	if (young)
		set_pte_at(rp->mm, rp->address, rp->ptep, pte_mkold(pte));
	/* every secondary MMU is asked (and aged) whatever the pte said */
	young += mmu_notifier_clear_young(rp->mm, rp->address, rp->address + PAGE_SIZE);
	if (young)
		rw->referenced++;
	return RMAP_CONT;
}

/**
 * page_referenced - count and clear the young bits of every pte mapping
 * page, across address spaces, combined with the secondary MMUs' answers
 * (mmu_notifier_clear_young: a mapping counts once if its pte or any
 * notifier says young, and every notifier is asked to clear).  A pte
 * whose table lock is busy counts as referenced.  No flush: a soft-TLB
 * entry that stays keeps the page in use without setting young again,
 * which only makes it look older.  Page locked (cache pages), reference
 * held.  Returns the count.
 */
int page_referenced(struct page *page)
{
	struct referenced_walk rw = { 0 };
	int busy = rmap_walk(page, referenced_one, &rw, RMAP_WALK_TRYLOCK);

	return rw.referenced + busy;
}

/* ---- try_to_unmap ---- */

struct unmap_walk {
	pte_t swp_pte;
	bool mlocked;
	bool bad_entry;         /* swap_duplicate refused the entry */
	bool notified;          /* the reverse-map notifiers were told */
	struct umm_object *nonlinear_obj;   /* pte chains: the page's object has nonlinear vmas */
};

/*
 * in_nonlinear_vma - pte chains give no vma: is (mm, addr) inside one of
 * obj's nonlinear vmas?  obj->i_mmap_lock held (vma ranges are stable).
 */
static bool in_nonlinear_vma(struct umm_object *obj, struct umm_mm *mm, uintptr_t addr)
{
	struct vm_area_struct *vma;

	list_for_each_entry(vma, &obj->i_mmap, obj_link)
		if ((vma->vm_flags & VM_NONLINEAR) && vma->vm_mm == mm &&
		    addr >= vma->vm_start && addr < vma->vm_end)
			return true;
	return false;
}

static int unmap_one(struct page *page, const struct rmap_pte *rp, void *arg)
{
	struct unmap_walk *uw = arg;
	struct mmu_notifier_range range;
	pte_t pte;

	if (rp->vma && (rp->vma->vm_flags & VM_LOCKED)) {
		uw->mlocked = true;
		return RMAP_STOP;
	}
	/* the swap pte about to be written holds the slot (swap.h) */
	if (PageAnon(page) && swap_duplicate(rp->mm->sys, pte_to_swp_entry(uw->swp_pte))) {
		uw->bad_entry = true;
		return RMAP_STOP;
	}
	if (!uw->notified) {
		uw->notified = true;
		mmu_notifier_invalidate_page(rp->mm->sys, page, UMM_MMU_RECLAIM);
	}
	/* checked under ptl: see mmu_notifier.c on registration */
	mmu_notifier_range_init(&range, UMM_MMU_RECLAIM, rp->mm, rp->address, rp->address + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	pte = ptep_get_and_clear(rp->mm, rp->address, rp->ptep);
	mmu_notifier_invalidate_secondary_tlbs(rp->mm, rp->address, rp->address + PAGE_SIZE);
	if (pte_dirty(pte)) {
		if (PageAnon(page))
			SetPageDirty(page);
		else
			set_page_dirty(page);
	}
	if (PageAnon(page)) {
		/* a window's private copy keeps its page's own protection in the swap pte */
		set_pte_at(rp->mm, rp->address, rp->ptep,
			   swp_pte_ownprot(uw->swp_pte, pte & PTE_OWNPROT_MASK));
		inc_mm_counter(rp->mm, MM_SWAPENTS);
	} else if (rp->vma ? (rp->vma->vm_flags & VM_NONLINEAR) :
		   uw->nonlinear_obj && in_nonlinear_vma(uw->nonlinear_obj, rp->mm, rp->address))
		/* the window's own protection of this page stays with its file pte */
		set_pte_at(rp->mm, rp->address, rp->ptep,
			   pgoff_to_pte(page->index) | (pte & PTE_OWNPROT_MASK));
	mmu_notifier_invalidate_range_end(&range);
	dec_mm_counter(rp->mm, mm_counter_for_page(page));
	put_page(page);         /* the pte's reference; the caller still holds one */
	return RMAP_UNMAPPED;
}

/**
 * try_to_unmap - unmap page from every address space (rmap.h for the
 * contract).  Page locked, a reference held by the caller, no page-table
 * lock held.  Returns SWAP_SUCCESS, SWAP_AGAIN or SWAP_FAIL.
 */
int try_to_unmap(struct page *page, pte_t swp_pte)
{
	struct unmap_walk uw = { .swp_pte = swp_pte };
	int extra, busy;

	VM_BUG_ON(!PageLocked(page));
	if (PageReserved(page))
		return SWAP_FAIL;
	if (!page_mapped(page))
		return SWAP_SUCCESS;
	if (PageAnon(page) && !pte_is_swap(swp_pte))
		return SWAP_FAIL;
	if (PageUnevictable(page))
		return SWAP_FAIL;
	extra = 1 + (!PageAnon(page) && page->mapping ? 1 : 0) + (PageSwapCache(page) ? 1 : 0);
	if (page_count(page) > page_mapcount(page) + extra)
		return SWAP_FAIL;   /* pinned (rmap.c top) */
	if (!PageAnon(page) && page->mapping && rmap_ptechain(page->mapping->sys)) {
		/*
		 * Pte chains give no vma: whether a pte sits in a nonlinear
		 * window (and must become a file pte) is found on the object's
		 * vma list, under its i_mmap_lock (as RMAP_WALK_TRYLOCK takes it).
		 */
		struct umm_object *obj = page->mapping;

		if (!rmap_locks_held)
			i_mmap_lock_write(obj);
		else if (!i_mmap_trylock_write(obj))
			return SWAP_AGAIN;
		uw.nonlinear_obj = obj->i_mmap_nonlinear ? obj : NULL;
		busy = rmap_walk(page, unmap_one, &uw, RMAP_WALK_TRYLOCK);
		i_mmap_unlock_write(obj);
	} else {
		busy = rmap_walk(page, unmap_one, &uw, RMAP_WALK_TRYLOCK);
	}
	if (uw.mlocked || uw.bad_entry)
		return SWAP_FAIL;
	if (!page_mapped(page))
		return SWAP_SUCCESS;
	(void)busy;
	return SWAP_AGAIN;
}

/* ---- page_mkclean ---- */

struct mkclean_walk {
	int dirty;
};

/* mkclean_one - write-protect and clean one pte.  ptl held. */
static int mkclean_one(struct page *page, const struct rmap_pte *rp, void *arg)
{
	struct mkclean_walk *mw = arg;
	struct mmu_notifier_range range;
	pte_t pte = *rp->ptep;

	(void)page;
	if (!pte_write(pte) && !pte_dirty(pte))
		return RMAP_CONT;
	/* checked under ptl: see mmu_notifier.c on registration */
	mmu_notifier_range_init(&range, UMM_MMU_CLEAN, rp->mm, rp->address, rp->address + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	mw->dirty += pte_dirty(pte);
	set_pte_at(rp->mm, rp->address, rp->ptep, pte_mkclean(pte_wrprotect(pte)));
	mmu_notifier_invalidate_secondary_tlbs(rp->mm, rp->address, rp->address + PAGE_SIZE);
	mmu_notifier_invalidate_range_end(&range);
	return RMAP_CONT;
}

/**
 * page_mkclean - write-protect and clean every pte that maps a page-cache
 * page, and shoot the TLB entries down, so the next write through any
 * mapping faults and marks the page dirty again.  Writeback calls it after
 * clearing PG_dirty and before reading the page's bytes: a store that beat
 * the shootdown is in the bytes written, a later one dirties the page
 * again.  Runs through the system's rmap scheme and waits for busy table
 * locks (RMAP_WALK_WAIT; cleaning a pte twice is harmless).  Page locked
 * by the caller.  Returns the number of ptes that were dirty.
 */
int page_mkclean(struct page *page)
{
	struct mkclean_walk mw = { 0 };

	VM_BUG_ON(!PageLocked(page));
	if (!page->mapping || PageAnon(page) || !page_mapped(page))
		return 0;
	(void)rmap_walk(page, mkclean_one, &mw, RMAP_WALK_WAIT);
	return mw.dirty;
}

/* ---- system setup and statistics ---- */

/**
 * rmap_system_init - create the scheme's caches and locks.  0 or -ENOMEM.
 */
int rmap_system_init(struct umm_system *sys)
{
	pthread_mutex_init(&sys->anon_vma_lock, NULL);
	return ptechain_init(sys);
}

/**
 * rmap_system_destroy - free the caches; returns the number of objects
 * still allocated (leaks).
 */
unsigned long rmap_system_destroy(struct umm_system *sys)
{
	unsigned long leaked = ptechain_destroy(sys);

	leaked += (unsigned long)sys->nr_anon_vmas;
	pthread_mutex_destroy(&sys->anon_vma_lock);
	return leaked;
}

/**
 * rmap_get_stats - *entries: ptes recorded in chains (pte chains; 0 for
 * the object scheme, which records none); *bytes: rmap metadata (chain
 * blocks, or anon_vmas).  Takes sys->anon_vma_lock.
 */
void rmap_get_stats(struct umm_system *sys, unsigned long *entries, unsigned long *bytes)
{
	long n;

	*entries = (unsigned long)stripe_counter_sum(&sys->nr_reverse_maps);
	*bytes = (unsigned long)stripe_counter_sum(&sys->nr_pte_chains) * PTE_CHAIN_BYTES;
	pthread_mutex_lock(&sys->anon_vma_lock);
	n = sys->nr_anon_vmas;
	pthread_mutex_unlock(&sys->anon_vma_lock);
	*bytes += (unsigned long)n * sizeof(struct anon_vma);
}
