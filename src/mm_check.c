/* SPDX-License-Identifier: MIT */
/*
 * mm_check.c - the expensive invariant checks (debug builds and tests).
 *
 * Invariants of one address space (mm_check_locked):
 *   1. the VMA tree is ordered, non-overlapping, its gaps and counts right;
 *   2. every non-empty pte lies inside a VMA;
 *   3. a mapped pte's frame is valid and allocated (refcount > 0), not
 *      free, slab or page-table memory; special ptes map the zero page
 *      read-only;
 *   4. writable ptes only in VMAs with VM_WRITE (or, in a nonlinear VMA,
 *      where the pte's own protection allows writes); protnone ptes only
 *      in VMAs without access; file ptes and per-pte protection
 *      (PTE_OWNPROT) only in nonlinear VMAs, file ptes never in anonymous
 *      ones;
 *   5. shared VMAs map only their own object's pages at the linear index
 *      (nonlinear VMAs: at any index);
 *      anonymous VMAs map only anonymous pages; VM_LOCKED VMAs only
 *      unevictable ones (PG_unevictable, mlock.c);
 *   6. each frame's map count covers the ptes of this mm that map it, and
 *      its reference count covers the map count (+1 when cached);
 *   7. RSS counters equal what the page tables hold (MM_SWAPENTS: the
 *      swap ptes), and the page-table page count matches;
 *   8. swap ptes only in private VMAs, each naming a slot in use with at
 *      least one holder.
 *   9. in a nonlinear VMA, a pte that shows another object page than
 *      its slot's linear one (a file pte, a cache page, a private copy's
 *      origin) is listed in the VMA's reverse index (nonlinear_index.c),
 *      and the index is sound (nl_index_check: each entry where its slot
 *      array says).
 * umm_system_check adds, across all mms: each frame's map count equals the
 * number of ptes that map it, the reverse map (either scheme, rmap.h)
 * finds exactly those ptes, the allocator's own lists are sound, and no
 * swap slot has fewer holders than the swap ptes naming it, the holders
 * adding up to the swap ptes plus the slots shmem objects hold
 * (swap_check).
 *
 * Locks (order in lockdep.h): mmap_lock (read, or held by the caller) ->
 * page_table_lock (held across the walk, the table count and the RSS
 * comparison, which keeps truncate's walkers out) -> each pte table's
 * lock in turn (walk_pte_range).  umm_system_check holds mm_list_lock and takes
 * each mm's locks in turn; it must only run while no other thread changes
 * the system (the counters it compares are exact only then).  Before any
 * of them it waits for the I/O backend's requests (be->lock, a leaf,
 * alone: io_backend_drain).
 */
#include <errno.h>
#include <string.h>
#include "mm.h"
#include "vma.h"
#include "memory.h"
#include "object.h"
#include "rmap.h"
#include "swap.h"
#include "nonlinear_index.h"
#include "vmscan.h"
#include "io.h"

struct check_ctx {
	struct umm_mm *mm;
	long rss[NR_MM_COUNTERS];
	int errors;
	/* cross-mm pte counts per pfn (umm_system_check), or NULL */
	unsigned int *map_counts;
	/* cross-mm swap pte counts per slot (umm_system_check with swap), or NULL */
	unsigned int *swap_counts;
};

#define CHECK_FAIL(ctx, fmt, ...) do { \
	if ((ctx)->errors++ < 10) \
		pr_check("mm %llu invariant: " fmt, \
			 (unsigned long long)(ctx)->mm->id, __VA_ARGS__); \
} while (0)

static void check_mapped_page(struct check_ctx *ctx, struct vm_area_struct *vma,
			      pte_t pte, uintptr_t addr)
{
	struct umm_system *sys = ctx->mm->sys;
	unsigned long pfn = pte_pfn(pte);
	struct page *page;

	if (!pfn_valid(sys->phys, pfn)) {
		CHECK_FAIL(ctx, "pte at %#lx maps invalid pfn %lu", (unsigned long)addr, pfn);
		return;
	}
	page = pfn_to_page(sys->phys, pfn);
	if (pte_special(pte)) {
		if (pfn != sys->zero_pfn || pte_write(pte))
			CHECK_FAIL(ctx, "special pte at %#lx is not a read-only zero page", (unsigned long)addr);
		return;
	}
	if (PageReserved(page) || PageBuddy(page) || PageSlab(page) || PagePgTable(page) ||
	    page_count(page) <= 0)
		CHECK_FAIL(ctx, "pte at %#lx maps a frame that is not a user page (pfn %lu flags %#lx ref %d)",
			   (unsigned long)addr, pfn, (unsigned long)atomic_load(&page->flags), page_count(page));
	if (ctx->map_counts)
		ctx->map_counts[pfn]++;
	if (page_mapcount(page) < 1)
		CHECK_FAIL(ctx, "mapped page at %#lx has map count %d", (unsigned long)addr, page_mapcount(page));
	if (page_count(page) < page_mapcount(page) + (page->mapping ? 1 : 0))
		CHECK_FAIL(ctx, "page at %#lx: refcount %d < mapcount %d (+cache)",
			   (unsigned long)addr, page_count(page), page_mapcount(page));
	if (PageAnon(page) == (page->mapping != NULL))
		CHECK_FAIL(ctx, "page at %#lx: anon flag and mapping disagree", (unsigned long)addr);
	if (vma_is_anonymous(vma) && !PageAnon(page))
		CHECK_FAIL(ctx, "anonymous vma maps a cache page at %#lx", (unsigned long)addr);
	if ((vma->vm_flags & VM_LOCKED) && !PageUnevictable(page))
		CHECK_FAIL(ctx, "locked vma maps an evictable page at %#lx", (unsigned long)addr);
	/* exclusive anon pages (memory.c): one pte at most, and only they are writable */
	if (PageAnonExclusive(page) && (!PageAnon(page) || page_mapcount(page) > 1))
		CHECK_FAIL(ctx, "exclusive page at %#lx: anon %d map count %d", (unsigned long)addr,
			   PageAnon(page), page_mapcount(page));
	if (PageAnon(page) && pte_write(pte) && !PageAnonExclusive(page))
		CHECK_FAIL(ctx, "writable pte at %#lx maps a shared anon page", (unsigned long)addr);
	if (vma_is_shared(vma) && !(vma->vm_flags & VM_NONLINEAR) &&
	    (page->mapping != vma->vm_obj || page->index != linear_page_index(vma, addr)))
		CHECK_FAIL(ctx, "shared vma at %#lx maps the wrong object page", (unsigned long)addr);
	/* a nonlinear window maps any page of its own object (truncate may have cleared mapping) */
	if (vma_is_shared(vma) && (vma->vm_flags & VM_NONLINEAR) && (PageAnon(page) ||
	    (page->mapping && page->mapping != vma->vm_obj)))
		CHECK_FAIL(ctx, "nonlinear vma at %#lx maps another object's page", (unsigned long)addr);
	ctx->rss[mm_counter_for_page(page)]++;
}

/* check_nonlinear_index - invariant 9 for one pte of a nonlinear vma.  ptl held. */
static void check_nonlinear_index(struct check_ctx *ctx, struct umm_mm *mm,
				  struct vm_area_struct *vma, pte_t pte, uintptr_t addr)
{
	uint64_t pgoff;

	if (pte_is_file(pte)) {
		pgoff = pte_to_pgoff(pte);
	} else if (pte_present(pte) && !pte_special(pte) && pfn_valid(mm->sys->phys, pte_pfn(pte))) {
		struct page *page = pfn_to_page(mm->sys->phys, pte_pfn(pte));

		if (!PageAnon(page))
			pgoff = page->index;
		else if (swap_page_origin(page))
			pgoff = swap_page_origin(page) - 1;      /* a private copy's origin */
		else
			return;
	} else {
		return;
	}
	if (!nl_index_has(vma, pgoff, linear_page_index(vma, addr)))
		CHECK_FAIL(ctx, "nonlinear vma: the pte at %#lx shows page %llu, not in the reverse index",
			   (unsigned long)addr, (unsigned long long)pgoff);
}

static int check_pte(struct umm_mm *mm, pte_t *ptep, uintptr_t addr, void *arg)
{
	struct check_ctx *ctx = arg;
	struct vm_area_struct *vma = find_vma(mm, addr);
	pte_t pte = *ptep;

	assert_pte_locked(mm, ptep);
	if (!vma || vma->vm_start > addr) {
		CHECK_FAIL(ctx, "pte %#llx at %#lx outside any vma", (unsigned long long)pte, (unsigned long)addr);
		return 0;
	}
	if (!(vma->vm_flags & VM_NONLINEAR) && (pte_is_file(pte) || pte_ownprot(pte))) {
		CHECK_FAIL(ctx, "pte %#llx at %#lx: file pte or own protection outside a nonlinear vma",
			   (unsigned long long)pte, (unsigned long)addr);
		return 0;
	}
	if (pte_is_file(pte) && vma_is_anonymous(vma))
		CHECK_FAIL(ctx, "file pte at %#lx in an anonymous vma", (unsigned long)addr);
	if (vma->vm_flags & VM_NONLINEAR)
		check_nonlinear_index(ctx, mm, vma, pte, addr);
	if (pte_is_swap(pte)) {
		swp_entry_t entry = pte_to_swp_entry(pte);

		ctx->rss[MM_SWAPENTS]++;
		if (vma_is_shared(vma))
			CHECK_FAIL(ctx, "swap pte at %#lx in a shared vma", (unsigned long)addr);
		if (!swap_entry_valid(mm->sys, entry) || swap_count(mm->sys, entry) == 0)
			CHECK_FAIL(ctx, "swap pte at %#lx names slot %llu, not held", (unsigned long)addr,
				   (unsigned long long)entry.val);
		else if (ctx->swap_counts)
			ctx->swap_counts[entry.val]++;
		return 0;
	}
	if (!pte_present(pte))
		return 0;
	if (pte_ownprot(pte) && !pte_accessible(pte))
		CHECK_FAIL(ctx, "pte at %#lx with its own protection is not accessible", (unsigned long)addr);
	if (pte_write(pte) && !(pte_vm_flags(vma->vm_flags, pte) & VM_WRITE))
		CHECK_FAIL(ctx, "writable pte at %#lx in a read-only vma", (unsigned long)addr);
	if (pte_protnone(pte) && (vma->vm_flags & VM_ACCESS_FLAGS))
		CHECK_FAIL(ctx, "protnone pte at %#lx in an accessible vma", (unsigned long)addr);
	check_mapped_page(ctx, vma, pte, addr);
	return 0;
}

static int mm_check_ctx(struct umm_mm *mm, struct check_ctx *ctx)
{
	unsigned long tables;

	mmap_assert_locked(mm);
	if (vma_tree_check(mm))
		ctx->errors++;
	for (struct vm_area_struct *vma = vma_first(mm); vma; vma = vma_next(vma))
		ctx->errors += nl_index_check(vma);
	/*
	 * page_table_lock across the walk and the comparison keeps out the
	 * walkers that have no mmap_lock (truncate's unmap_mapping_range):
	 * with mmap_lock held for write the counts are then exact.
	 */
	page_table_lock(mm);
	walk_pte_range(mm, 0, UMM_TASK_SIZE, check_pte, ctx);
	tables = pgtable_count(mm);
	for (int i = 0; i < NR_MM_COUNTERS; i++)
		if (ctx->rss[i] != get_mm_counter(mm, i))
			CHECK_FAIL(ctx, "rss counter %d is %ld, page tables hold %ld",
				   i, get_mm_counter(mm, i), ctx->rss[i]);
	page_table_unlock(mm);
	if ((long)tables != atomic_load(&mm->nr_ptes))
		CHECK_FAIL(ctx, "%lu page-table pages but nr_ptes %ld", tables, atomic_load(&mm->nr_ptes));
	return ctx->errors ? -EUCLEAN : 0;
}

/**
 * mm_check_locked - check the invariants of one mm; mmap_lock held by the
 * caller (read or write).  0 or -EUCLEAN (problems logged, pr_check).
 */
int mm_check_locked(struct umm_mm *mm)
{
	struct check_ctx ctx = { .mm = mm };

	return mm_check_ctx(mm, &ctx);
}

/**
 * umm_mm_check - the invariant check of <usermm/debug.h>.  Takes mmap_lock
 * for read, then sys->reclaim_check_lock for write (no reclaim pass
 * unmaps pages meanwhile).  0, -EINVAL or -EUCLEAN.
 */
int umm_mm_check(struct umm_mm *mm)
{
	int err;

	if (!mm)
		return -EINVAL;
	mmap_read_lock(mm);
	pthread_rwlock_wrlock(&mm->sys->reclaim_check_lock);
	err = mm_check_locked(mm);
	pthread_rwlock_unlock(&mm->sys->reclaim_check_lock);
	mmap_read_unlock(mm);
	return err;
}

/**
 * mm_debug_check - abort if the system runs debug checks and mm is broken.
 * mmap_lock held by the caller; takes sys->reclaim_check_lock for write
 * (no reclaim pass runs during the check).
 */
void mm_debug_check(struct umm_mm *mm)
{
	int err;

	if (!system_debug_checks(mm->sys))
		return;
	/* reclaim unmaps pages of any mm without its mmap_lock: hold it off */
	pthread_rwlock_wrlock(&mm->sys->reclaim_check_lock);
	err = mm_check_locked(mm);
	pthread_rwlock_unlock(&mm->sys->reclaim_check_lock);
	if (err)
		umm_bug(__FILE__, __LINE__, "address-space invariant check failed");
}

struct rmap_check {
	unsigned long pfn;
	unsigned int found, wrong;
};

/* rmap_check_one - the reverse map presents a pte: it must map the frame.  ptl held. */
static int rmap_check_one(struct page *page, const struct rmap_pte *rp, void *arg)
{
	struct rmap_check *rc = arg;
	pte_t pte = *rp->ptep;

	(void)page;
	if (!pte_present(pte) || pte_special(pte) || pte_pfn(pte) != rc->pfn)
		rc->wrong++;
	else
		rc->found++;
	return RMAP_CONT;
}

/*
 * check_rmap - the reverse map of every mapped frame finds exactly the
 * ptes that map it: each pte it presents maps the frame, and it finds as
 * many as the page tables hold (counts[], from the walk of every mm) and
 * as the map count says.  With counts equal and every find a real
 * mapping, every present pte is found.  System quiescent, no lock held;
 * the walks take the scheme's locks (rmap.h).  Returns the error count.
 */
static int check_rmap(struct phys_mem *phys, const unsigned int *counts)
{
	int errors = 0;

	for (unsigned long pfn = 0; pfn < phys->nr_frames; pfn++) {
		struct page *page = pfn_to_page(phys, pfn);
		struct rmap_check rc = { .pfn = pfn };

		if (PageReserved(page) || PageBuddy(page) || PageSlab(page) || PagePgTable(page) ||
		    !page_mapped(page))
			continue;
		(void)rmap_walk(page, rmap_check_one, &rc, RMAP_WALK_WAIT);
		if ((rc.wrong || rc.found != counts[pfn] || (int)rc.found != page_mapcount(page)) &&
		    errors++ < 10)
			pr_check("pfn %lu: reverse map finds %u ptes (%u wrong), page tables hold %u, map count %d",
				 pfn, rc.found, rc.wrong, counts[pfn], page_mapcount(page));
	}
	return errors;
}

/**
 * umm_system_check - allocator consistency plus every mm's invariants and
 * exact map counts across all mms.  Only while the system is quiescent;
 * kswapd is kept asleep meanwhile (kswapd_pause), and the reads in flight
 * are waited for first (io_backend_drain): the engine's thread unlocks a
 * page before it drops its last reference to it (a page truncated while
 * it was read), so a truncation that waited for the page's lock can
 * return before the frame is free.  After this returns, with no other
 * thread using the system, umm_system_stats is exact.
 * 0, -EINVAL, -ENOMEM or -EUCLEAN.
 */
int umm_system_check(struct umm_system *sys)
{
	struct phys_mem *phys;
	unsigned int *counts, *swap_counts = NULL;
	struct list_head *pos;
	int errors = 0;

	if (!sys)
		return -EINVAL;
	phys = sys->phys;
	io_backend_drain(sys);  /* requests still finishing in the engine's thread */
	kswapd_pause(sys);      /* a quiet system's only reclaimer */
	if (phys_check(phys))
		errors++;
	counts = calloc(phys->nr_frames, sizeof(*counts));
	if (swap_enabled(sys))
		swap_counts = calloc(swap_nr_slots(sys), sizeof(*swap_counts));
	if (!counts || (swap_enabled(sys) && !swap_counts)) {
		free(counts);
		free(swap_counts);
		kswapd_resume(sys);
		return -ENOMEM;
	}
	mm_list_lock(sys);
	/* list_for_each, not _entry: struct umm_mm is 64-byte aligned, the head is not */
	list_for_each(pos, &sys->mm_list) {
		struct umm_mm *mm = list_entry(pos, struct umm_mm, mmlist);
		struct check_ctx ctx = { .mm = mm, .map_counts = counts, .swap_counts = swap_counts };

		mmap_read_lock(mm);
		if (mm_check_ctx(mm, &ctx))
			errors++;
		mmap_read_unlock(mm);
	}
	mm_list_unlock(sys);
	for (unsigned long pfn = 0; pfn < phys->nr_frames; pfn++) {
		struct page *page = pfn_to_page(phys, pfn);

		if (PageReserved(page) || PageBuddy(page) || PageSlab(page) || PagePgTable(page))
			continue;
		if ((unsigned int)page_mapcount(page) != counts[pfn] && errors++ < 10)
			pr_check("pfn %lu has map count %d but %u ptes map it",
				 pfn, page_mapcount(page), counts[pfn]);
	}
	errors += check_rmap(phys, counts);
	if (swap_counts)
		errors += swap_check(sys, swap_counts);
	free(swap_counts);
	kswapd_resume(sys);
	free(counts);
	return errors ? -EUCLEAN : 0;
}
