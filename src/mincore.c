/* SPDX-License-Identifier: MIT */
/*
 * mincore.c - umm_mincore: which pages of a range are resident.
 *
 * Theory of operation.  The range is checked for holes first (-ENOMEM,
 * nothing written).  Then, a page table at a time, the ptes are read
 * under that table's lock: a mapped pte (present or protnone: the frame is held) means
 * resident.  An empty pte of a file or shmem vma is resident when the
 * page the mapping shows there is in the object's page cache (what Linux
 * answers too: a later fault would find it without I/O); of a private
 * anonymous vma it is not.  A swap pte is resident while its page is in
 * the swap cache (swapped in for another holder, or read ahead), as
 * Linux answers.  The cache lookups are made after the lock is
 * dropped, so the answer is a snapshot that may be stale on return, as
 * with Linux.
 *
 * Locks (order in lockdep.h): mmap_lock (read), then a pte table's lock
 * per table; tree_lock (read, find_get_page) or the swap cache's lock
 * (lookup_swap_cache) after that lock is dropped.
 */
#include <errno.h>
#include <usermm/usermm.h>
#include "memory.h"
#include "filemap.h"
#include "swap.h"

/* mincore_table - vec bytes for [start, end) of vma, inside one pte table. */
static void mincore_table(struct vm_area_struct *vma, uintptr_t start, uintptr_t end,
			  unsigned char *vec)
{
	struct umm_mm *mm = vma->vm_mm;
	unsigned int nr = (unsigned int)((end - start) >> PAGE_SHIFT), i;
	uint64_t pgoff[PTRS_PER_TABLE];        /* the object page each slot shows */
	uint64_t swp[PTRS_PER_TABLE];          /* the swap entry of a swap pte, else 0 */
	struct fmutex *ptl;
	pte_t *ptep;

	ptep = pte_offset_map_lock(mm, start, &ptl);
	for (i = 0; i < nr; i++) {
		pte_t pte = ptep ? ptep[i] : 0;

		vec[i] = pte_present(pte) ? 1 : 0;
		swp[i] = pte_is_swap(pte) ? pte_to_swp_entry(pte).val : 0;
		/* a nonlinear window's file pte names its page; otherwise the linear one */
		pgoff[i] = pte_is_file(pte) ? pte_to_pgoff(pte)
					    : linear_page_index(vma, start + ((uintptr_t)i << PAGE_SHIFT));
	}
	if (ptep)
		pte_unmap_unlock(ptep, ptl);
	for (i = 0; i < nr; i++) {
		struct page *page;

		if (vec[i])
			continue;
		if (swp[i]) {
			page = lookup_swap_cache(mm->sys, (swp_entry_t){ swp[i] });
			if (page) {
				vec[i] = PageUptodate(page) ? 1 : 0;
				put_page(page);
			}
			continue;
		}
		if (vma_is_anonymous(vma))
			continue;
		page = find_get_page(vma->vm_obj, pgoff[i]);
		if (page) {
			vec[i] = PageUptodate(page) ? 1 : 0;
			put_page(page);
		}
	}
}

/**
 * umm_mincore - residency of each page of [addr, addr+len) into vec, one
 * byte per page, bit 0 = resident (see <usermm/mm.h>).  Takes mmap_lock
 * (read), ptl, tree_lock.  Returns 0, -EINVAL (NULL mm, addr unaligned),
 * -ENOMEM (range beyond UMM_TASK_SIZE or a hole: vec untouched), -EFAULT
 * (vec NULL with len > 0).
 */
int umm_mincore(struct umm_mm *mm, uintptr_t addr, size_t len, unsigned char *vec)
{
	struct vm_area_struct *vma;
	uintptr_t end, next;
	size_t pages;
	int err = 0;

	if (!mm || !IS_ALIGNED(addr, PAGE_SIZE))
		return -EINVAL;
	if (addr > UMM_TASK_SIZE || len > UMM_TASK_SIZE - addr)
		return -ENOMEM;
	pages = (len >> PAGE_SHIFT) + ((len & ~PAGE_MASK) != 0);
	if (!pages)
		return 0;
	if (!vec)
		return -EFAULT;
	end = addr + (pages << PAGE_SHIFT);

	mmap_read_lock(mm);
	for (vma = find_vma(mm, addr), next = addr; next < end; vma = vma_next(vma)) {
		if (!vma || vma->vm_start > next) {
			err = -ENOMEM;
			goto out;
		}
		next = vma->vm_end;
	}
	for (vma = find_vma(mm, addr); vma && vma->vm_start < end; vma = vma_next(vma)) {
		uintptr_t s = MAX(addr, vma->vm_start), e = MIN(end, vma->vm_end);

		while (s < e) {
			uintptr_t t = MIN(e, ALIGN_DOWN(s, PMD_SIZE) + PMD_SIZE);

			mincore_table(vma, s, t, vec + ((s - addr) >> PAGE_SHIFT));
			s = t;
		}
	}
out:
	mmap_read_unlock(mm);
	return err;
}
