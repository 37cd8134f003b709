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
 * Locks: callers hold the mm's page_table_lock; the counters are atomics,
 * so two mms mapping one page need no common lock.
 */
#include "rmap.h"
#include "object.h"

/**
 * page_add_new_anon_rmap - first mapping of a freshly allocated anon page:
 * mark it anonymous, record its index, mapcount 1, count it in nr_anon.
 * ptl held.
 */
void page_add_new_anon_rmap(struct page *page, struct vm_area_struct *vma, uintptr_t addr, pte_t *ptep)
{
	(void)ptep;
	VM_BUG_ON(page_mapcount(page) != 0);
	VM_BUG_ON(PageReserved(page) || page->mapping);
	SetPageAnon(page);
	page->mapping = NULL;
	page->index = linear_page_index(vma, addr);
	atomic_store(&page->_mapcount, 1);
	atomic_fetch_add(&vma->vm_mm->sys->nr_anon, 1);
	/* scheme hook: record (vma, addr) as the page's direct mapping */
}

/**
 * page_add_anon_rmap - another pte maps an existing anon page (fork,
 * mremap).  ptl held.
 */
void page_add_anon_rmap(struct page *page, struct vm_area_struct *vma, uintptr_t addr, pte_t *ptep)
{
	(void)vma; (void)addr; (void)ptep;
	VM_BUG_ON(!PageAnon(page));
	VM_BUG_ON(page_mapcount(page) <= 0);
	atomic_fetch_add(&page->_mapcount, 1);
	/* scheme hook: add (vma, addr) to the page's pte chain */
}

/**
 * page_add_file_rmap - a pte maps a page-cache page.  ptl held.
 */
void page_add_file_rmap(struct page *page, struct vm_area_struct *vma, uintptr_t addr, pte_t *ptep)
{
	(void)vma; (void)addr; (void)ptep;
	VM_BUG_ON(PageAnon(page) || PageReserved(page));
	atomic_fetch_add(&page->_mapcount, 1);
	/* scheme hook: add (vma, addr) to the page's pte chain */
}

/**
 * page_remove_rmap - a pte stopped mapping page.  When the last mapping
 * of an anon page goes the page stops counting in nr_anon.  ptl held.
 */
void page_remove_rmap(struct page *page, struct vm_area_struct *vma, uintptr_t addr, pte_t *ptep)
{
	int left;

	(void)addr; (void)ptep;
	/* scheme hook: drop (vma, addr) from the page's pte chain */
	left = atomic_fetch_sub(&page->_mapcount, 1) - 1;
	VM_BUG_ON(left < 0);
	if (left == 0 && PageAnon(page))
		atomic_fetch_sub(&vma->vm_mm->sys->nr_anon, 1);
}
