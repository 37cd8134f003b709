/*
 * rmap.h - the reverse-map interface: from a page to the ptes that map it.
 *
 * For now the implementation keeps only page->_mapcount and the anon
 * page's identity; the reverse-map issue puts the pte-chain and the
 * object-based schemes behind this same interface (page_referenced and
 * try_to_unmap are added then).  Callers of the add/remove calls hold
 * the lock of the pte table holding ptep (checked in debug builds).
 */
#ifndef UMM_RMAP_H
#define UMM_RMAP_H

#include "mm.h"
#include "pgtable.h"

/* page_add_new_anon_rmap - first mapping of a freshly allocated anon page (sets PG_anon, index). */
void page_add_new_anon_rmap(struct page *page, struct vm_area_struct *vma, uintptr_t addr, pte_t *ptep);
/* page_add_anon_rmap - another mapping of an existing anon page (fork, mremap). */
void page_add_anon_rmap(struct page *page, struct vm_area_struct *vma, uintptr_t addr, pte_t *ptep);
/* page_add_file_rmap - a mapping of a page-cache page. */
void page_add_file_rmap(struct page *page, struct vm_area_struct *vma, uintptr_t addr, pte_t *ptep);
/* page_remove_rmap - a pte stopped mapping the page. */
void page_remove_rmap(struct page *page, struct vm_area_struct *vma, uintptr_t addr, pte_t *ptep);
/*
 * page_mkclean - write-protect and clean every pte mapping a locked
 * page-cache page and flush the TLB for them, so the next write faults and
 * dirties the page again (writeback: after clearing PG_dirty, before
 * writing).  Takes i_mmap_lock, page_table_lock and pte table locks.  Returns how many ptes were dirty.
 * Installed as sys->page_mkclean.
 */
int page_mkclean(struct page *page);

#endif
