/*
 * rmap.c - the reverse map, mapcount-only version.
 *
 * Theory of operation.  For now a page remembers only how many ptes map it
 * (page->_mapcount) and, for an anonymous page, its identity: PG_anon,
 * mapping NULL and index = the linear page index it was first mapped at
 * (vma->vm_pgoff based, so it survives mremap).  That is enough for the
 * fault handler's COW reuse test (mapcount 1) and for the invariant check
 * that map counts add up with the page tables.
 *
 * The reverse-map issue puts its two schemes behind these four calls:
 *   - pte chains: each call also adds or removes a (mm, addr) record on
 *     page->rmap (a single "direct" pointer while only one pte maps it);
 *   - object-based: anon pages find their ptes through vma->anon_vma,
 *     file pages through mapping->i_mmap; the calls stay counters.
 * The hooks for that are marked "scheme hook" below; nothing else in the
 * address-space layer needs to change.
 *
 * sys->nr_anon counts live anonymous pages: it goes up when a fresh anon
 * page is first mapped and down when its last mapping goes, because an
 * anon page nobody maps is dead (only in-flight references such as a
 * pending TLB gather keep its frame until they are dropped).
 *
 * page_mkclean is the one walk from a page to its ptes that writeback
 * needs already: a page-cache page is found in the vmas on its object's
 * i_mmap list (an object-based walk, which the pte-chain scheme may
 * replace by following its chain).  In a linear vma its one possible
 * address follows from page->index; a nonlinear vma (fremap.c) may show
 * the page at any of its addresses, so every pte of the vma is scanned,
 * as Linux scanned the vmas on its i_mmap_nonlinear list (cost: the
 * window's size per page; a pte-chain scheme would make it one lookup).
 *
 * Locks (order in lockdep.h): the add/remove calls run with the lock of
 * the pte table that holds the pte; the counters are atomics, so two ptes
 * (or mms) mapping one page need no common lock.  page_mkclean runs with
 * the page locked and takes obj->i_mmap_lock, then each mm's
 * page_table_lock (it has no mmap_lock, so that keeps the mm's tables)
 * and the pte table lock (page lock -> i_mmap_lock -> page_table_lock ->
 * ptl).
 */
#include "rmap.h"
#include "object.h"
#include "tlb.h"

/**
 * page_add_new_anon_rmap - first mapping of a freshly allocated anon page:
 * mark it anonymous, record its index, mapcount 1, count it in nr_anon.
 * ptep's table lock held.
 */
void page_add_new_anon_rmap(struct page *page, struct vm_area_struct *vma, uintptr_t addr, pte_t *ptep)
{
	assert_pte_locked(vma->vm_mm, ptep);
	VM_BUG_ON(page_mapcount(page) != 0);
	VM_BUG_ON(PageReserved(page) || page->mapping);
	SetPageAnon(page);
	page->mapping = NULL;
	page->index = linear_page_index(vma, addr);
	atomic_store(&page->_mapcount, 1);
	stripe_counter_add(&vma->vm_mm->sys->nr_anon, 1);
	/* scheme hook: record (vma, addr) as the page's direct mapping */
}

/**
 * page_add_anon_rmap - another pte maps an existing anon page (fork,
 * mremap).  ptep's table lock held.
 */
void page_add_anon_rmap(struct page *page, struct vm_area_struct *vma, uintptr_t addr, pte_t *ptep)
{
	(void)addr;
	assert_pte_locked(vma->vm_mm, ptep);
	VM_BUG_ON(!PageAnon(page));
	VM_BUG_ON(page_mapcount(page) <= 0);
	atomic_fetch_add(&page->_mapcount, 1);
	/* scheme hook: add (vma, addr) to the page's pte chain */
}

/**
 * page_add_file_rmap - a pte maps a page-cache page.  ptep's table lock held.
 */
void page_add_file_rmap(struct page *page, struct vm_area_struct *vma, uintptr_t addr, pte_t *ptep)
{
	(void)addr;
	assert_pte_locked(vma->vm_mm, ptep);
	VM_BUG_ON(PageAnon(page) || PageReserved(page));
	atomic_fetch_add(&page->_mapcount, 1);
	/* scheme hook: add (vma, addr) to the page's pte chain */
}

/**
 * page_remove_rmap - a pte stopped mapping page.  When the last mapping
 * of an anon page goes the page stops counting in nr_anon.  ptep's table
 * lock held.
 */
void page_remove_rmap(struct page *page, struct vm_area_struct *vma, uintptr_t addr, pte_t *ptep)
{
	int left;

	(void)addr;
	assert_pte_locked(vma->vm_mm, ptep);
	/* scheme hook: drop (vma, addr) from the page's pte chain */
	left = atomic_fetch_sub(&page->_mapcount, 1) - 1;
	VM_BUG_ON(left < 0);
	if (left == 0 && PageAnon(page))
		stripe_counter_add(&vma->vm_mm->sys->nr_anon, -1);
}

struct mkclean_walk {
	unsigned long pfn;
	int dirty;
	bool changed;
};

/* mkclean_one - write-protect and clean one pte if it maps the page.  ptl held. */
static int mkclean_one(struct umm_mm *mm, pte_t *ptep, uintptr_t addr, void *arg)
{
	struct mkclean_walk *mw = arg;
	pte_t pte = *ptep;

	assert_pte_locked(mm, ptep);
	if (!pte_present(pte) || pte_special(pte) || pte_pfn(pte) != mw->pfn)
		return 0;
	if (!pte_write(pte) && !pte_dirty(pte))
		return 0;
	mw->dirty += pte_dirty(pte);
	set_pte_at(mm, addr, ptep, pte_mkclean(pte_wrprotect(pte)));
	mw->changed = true;
	return 0;
}

/* mkclean_vma - page_mkclean's work in one shared vma. */
static int mkclean_vma(struct vm_area_struct *vma, struct page *page)
{
	struct mkclean_walk mw = { .pfn = page_to_pfn(page) };
	struct umm_mm *mm = vma->vm_mm;
	uintptr_t start = vma->vm_start, end = vma->vm_end;

	lockdep_assert_held(&vma->vm_obj->i_mmap_lock);
	if (!(vma->vm_flags & VM_NONLINEAR)) {
		if (page->index < vma->vm_pgoff || page->index - vma->vm_pgoff >= vma_pages(vma))
			return 0;
		start = vma->vm_start + ((page->index - vma->vm_pgoff) << PAGE_SHIFT);
		end = start + PAGE_SIZE;
	}
	page_table_lock(mm);
	(void)walk_pte_range(mm, start, end, mkclean_one, &mw);
	page_table_unlock(mm);
	if (mw.changed)
		flush_tlb_range(mm, start, end);
	return mw.dirty;
}

/**
 * page_mkclean - write-protect and clean every pte that maps a page-cache
 * page, and shoot the TLB entries down, so the next write through any
 * mapping faults and marks the page dirty again.  Writeback calls it after
 * clearing PG_dirty and before reading the page's bytes: a store that beat
 * the shootdown is in the bytes written, a later one dirties the page
 * again.  Only shared vmas are visited (private ones never map a cache
 * page writable).  Page locked by the caller; takes i_mmap_lock, then each
 * mm's page_table_lock and pte table locks.  Returns the number of ptes
 * that were dirty.
 */
int page_mkclean(struct page *page)
{
	struct umm_object *obj = page->mapping;
	struct vm_area_struct *vma;
	int dirty = 0;

	VM_BUG_ON(!PageLocked(page));
	if (!obj || PageAnon(page) || !page_mapped(page))
		return 0;
	i_mmap_lock_write(obj);
	list_for_each_entry(vma, &obj->i_mmap, obj_link)
		if (vma->vm_flags & VM_SHARED)
			dirty += mkclean_vma(vma, page);
	i_mmap_unlock_write(obj);
	return dirty;
}
