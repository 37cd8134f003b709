/* SPDX-License-Identifier: MIT */
/*
 * mlock.h - what the rest of the core calls of mlock.c: the unevictable
 * mark of a page mapped into a locked vma, the unlock of a vma that goes
 * away, and the lock limit of new locked mappings.
 *
 * A page mapped by a pte of any VM_LOCKED vma has PG_unevictable.  The
 * mapping hooks of the reverse map set it (mlock_vma_page: every pte that
 * maps a page into a locked vma, fault, populate or fork, goes through
 * them); mlock.c sets it on the pages already mapped when a range becomes
 * locked and clears it when the last locked vma mapping a page lets go
 * (munlock, munmap, exit).  See mlock.c for the theory and the locks.
 */
#ifndef UMM_MLOCK_H
#define UMM_MLOCK_H

#include "mm.h"
#include "page.h"

/*
 * mlock_vma_page - a pte of vma now maps page: a VM_LOCKED vma makes the
 * page unevictable.  The pte's table lock held; vma's mmap_lock held
 * (read or write), which keeps VM_LOCKED stable.
 */
static inline void mlock_vma_page(struct page *page, const struct vm_area_struct *vma)
{
	if (unlikely(vma->vm_flags & VM_LOCKED) && !PageUnevictable(page))
		SetPageUnevictable(page);
}

/*
 * munlock_vma_pages_range - vma stops being locked (munlock, or it is
 * about to be unmapped): clear its VM_LOCKED_MASK bits (mm->locked_vm
 * follows) and clear PG_unevictable on each page it maps in [start, end)
 * that no other locked vma maps.  mmap_lock of vma's mm held for write;
 * no other lock (takes page locks and runs reverse-map walks).
 */
void munlock_vma_pages_range(struct vm_area_struct *vma, uintptr_t start, uintptr_t end);

/*
 * munlock_cow_page - a copy-on-write fault replaced page (unevictable) in
 * a locked vma of mm: clear PG_unevictable unless another locked vma
 * still maps it, and drop the fault's reference.  mm's mmap_lock held
 * (read or write); no other lock (takes the page lock).
 */
void munlock_cow_page(struct page *page, struct umm_mm *mm);

/*
 * mlock_future_check - may mm get `pages` more locked pages in a new
 * mapping whose flags are vm_flags (MAP_LOCKED, or mlockall(MCL_FUTURE))?
 * mmap_lock held.  0, -EPERM (the limit forbids any locking) or -EAGAIN
 * (it would exceed umm_config.mlock_limit_bytes), as Linux's mmap.
 */
int mlock_future_check(struct umm_mm *mm, unsigned long vm_flags, unsigned long pages);

/*
 * mlock_populate - fault in the locked vmas (VM_LOCKED without
 * VM_LOCKONFAULT) of [start, end), as mlock does.  mmap_lock held (read
 * or write).  ignore_errors: go on past pages that cannot be brought in
 * (returns 0); otherwise stop at the first and return its error (-EFAULT,
 * -EIO, -ENOMEM).
 */
int mlock_populate(struct umm_mm *mm, uintptr_t start, uintptr_t end, bool ignore_errors);

#endif
