/* SPDX-License-Identifier: MIT */
/*
 * gup.h - bringing pages in ahead of the access that needs them: the
 * fault-in loop shared by pinning, populate (MAP_POPULATE, MAP_LOCKED,
 * MADV_POPULATE_*) and prepage (gup.c), and
 * the per-object batched populate it runs first (populate.c).
 */
#ifndef UMM_GUP_H
#define UMM_GUP_H

#include "memory.h"

#define POPULATE_WRITE    0x1  /* as a write access: private copies, dirty shared pages */
#define POPULATE_NONBLOCK 0x2  /* map only pages already in the page cache: no I/O, no
				  anonymous memory, no fallback to the fault path */
#define POPULATE_MMAP     0x4  /* MAP_POPULATE's rule: write access only in private writable
				  vmas; vmas that allow no access are skipped */
#define POPULATE_CONTIG   0x8  /* anonymous writes: frames that follow each other in the
				  arena for pages that follow each other (the host MMU maps
				  such runs with one mmap), when a block is free */

/*
 * populate_vma_range - the batched populate of [start, end) (page aligned,
 * inside vma) for vma's object type.  mmap_lock held (read or write);
 * takes each pte table's lock in turn, tree_lock, page locks (trylock).  Returns
 * the address up to which every page has a pte allowing the access; the
 * page there needs the fault path (not cached and the read failed, past
 * the end of the object, copy-on-write of a present page, out of memory).
 * With POPULATE_NONBLOCK, pages it cannot map are skipped and end is
 * returned.
 */
uintptr_t populate_vma_range(struct vm_area_struct *vma, uintptr_t start, uintptr_t end,
			     unsigned int flags);

/*
 * populate_range - fault in [start, end) (page aligned) through every vma
 * there: the batched populate, then the fault path for each page it left.
 * Holes and vmas that do not allow the access are skipped (callers that
 * must report them check first).  mmap_lock held (read or write).
 * Returns 0, or the first error of the fault path (-EFAULT, -EIO, -ENOMEM);
 * the pages before it stay populated.
 */
int populate_range(struct umm_mm *mm, uintptr_t start, uintptr_t end, unsigned int flags);

/*
 * gup_fault_page - fault the page at addr in for a read or write access
 * and return it referenced in *pagep (put_page when done); *writable: the
 * pte allows writes now (writable and dirty).  Takes mmap_lock (read) and
 * the fault's locks; none held on return.  0, -EFAULT, -EIO, -ENOMEM.
 */
int gup_fault_page(struct umm_mm *mm, uintptr_t addr, bool write, struct page **pagep, bool *writable);

/*
 * follow_page - the page a present pte maps at addr, referenced (put_page
 * when done), or NULL (no pte, not present, or the zero page).  Never
 * faults.  Takes mmap_lock (read) and the pte table's lock; none held on
 * return.
 */
struct page *follow_page(struct umm_mm *mm, uintptr_t addr);

/* populate_vma_allows - does vma allow the access populate `flags` asks for? */
static inline bool populate_vma_allows(const struct vm_area_struct *vma, unsigned int flags)
{
	if ((flags & POPULATE_WRITE) && !(vma->vm_flags & VM_WRITE))
		return false;
	return (vma->vm_flags & VM_ACCESS_FLAGS) != 0;
}

#endif
