/* SPDX-License-Identifier: MIT */
/*
 * gup.c - get_user_pages and its relatives: the one loop that brings
 * pages in ahead of the access that needs them.  Pinning
 * (umm_pin_pages), populate (MAP_POPULATE, MAP_LOCKED, MADV_POPULATE_*,
 * prepage) all end in it, so the address-space layer never calls up into
 * the MMU layer to fault a page in.
 *
 * Theory of operation.  Pinning faults page by page through
 * follow_or_fault (the walk-and-fault loop of the soft TLB's miss path)
 * and takes a reference on each frame.  Populate does not need the
 * frames: populate_range runs the batched per-object populate of each vma
 * (populate.c), which maps whole page tables at a time, and hands each
 * page the batch could not do to the fault path (faultin_page), which
 * either maps it or gives the precise error; then the batch goes on after
 * it.  So a populate costs one fault-path round trip only per exceptional
 * page.
 *
 * Locks (the order is in lockdep.h): mmap_lock held by the callers (read;
 * umm_mmap's populate retakes it for read), then what follow_or_fault and
 * populate.c take: page locks, page_table_lock (installing tables), the
 * pte table locks ("ptl", one table at a time), tree_lock.  Unpinning
 * takes the page lock of page-cache pages.
 */
#include <errno.h>
#include <usermm/access.h>
#include "gup.h"
#include "filemap.h"

/**
 * faultin_page - fault the page at addr in for the access fault_flags
 * asks, as the CPU's access would.  mmap_lock held (read or write); takes
 * ptl.  Returns 0, -EFAULT, -EIO or -ENOMEM.
 */
static int faultin_page(struct umm_mm *mm, uintptr_t addr, unsigned int fault_flags)
{
	struct fmutex *ptl;
	struct page *page;
	pte_t pte;
	int err = follow_or_fault(mm, addr, fault_flags, &page, &pte, &ptl);

	if (err)
		return err;
	ptl_unlock(ptl);
	return 0;
}

/**
 * populate_range - fault in every page of [start, end) (page aligned)
 * that the vmas there allow: per vma the batched populate, then the fault
 * path for each page the batch left, and the batch again after it.
 * POPULATE_MMAP takes the access from each vma (write only in private
 * writable ones); holes and vmas that forbid the access are skipped.
 * mmap_lock held (read or write); takes ptl, tree_lock, page locks.
 * Returns 0 or the first fault error (-EFAULT, -EIO, -ENOMEM); the pages
 * before it stay populated.
 */
int populate_range(struct umm_mm *mm, uintptr_t start, uintptr_t end, unsigned int flags)
{
	uintptr_t addr = start;

	while (addr < end) {
		struct vm_area_struct *vma = find_vma(mm, addr);
		unsigned int vflags = flags;
		uintptr_t vend;

		if (!vma || vma->vm_start >= end)
			break;
		addr = MAX(addr, vma->vm_start);
		vend = MIN(end, vma->vm_end);
		if ((flags & POPULATE_MMAP) && (vma->vm_flags & (VM_WRITE | VM_SHARED)) == VM_WRITE)
			vflags |= POPULATE_WRITE;
		if (!populate_vma_allows(vma, vflags)) {
			addr = vend;
			continue;
		}
		while (addr < vend) {
			uintptr_t done = populate_vma_range(vma, addr, vend, vflags);
			int err;

			if (done >= vend)
				break;
			err = faultin_page(mm, done, vflags & POPULATE_WRITE ? FAULT_FLAG_WRITE : 0);
			if (err)
				return err;
			addr = done + PAGE_SIZE;
		}
		addr = vend;
	}
	return 0;
}

/**
 * gup_fault_page - fault in the page at addr for a read or a write, as an
 * access would, and take a reference on it; *writable says whether the
 * pte now allows writes without another fault (writable and dirty).
 * Takes mmap_lock (read) and ptl.  0, -EFAULT, -EIO or -ENOMEM.
 */
int gup_fault_page(struct umm_mm *mm, uintptr_t addr, bool write, struct page **pagep, bool *writable)
{
	struct fmutex *ptl;
	struct page *page;
	pte_t pte;
	int err;

	mmap_read_lock(mm);
	err = follow_or_fault(mm, addr, write ? FAULT_FLAG_WRITE : 0, &page, &pte, &ptl);
	if (!err) {
		get_page(page);
		*writable = pte_write(pte) && pte_dirty(pte);
		ptl_unlock(ptl);
		*pagep = page;
	}
	mmap_read_unlock(mm);
	return err;
}

/* ---- pinning ---- */

/* pin_one - fault in the page at addr and take a reference on it.  mmap_lock (read) held. */
static int pin_one(struct umm_mm *mm, uintptr_t addr, unsigned int flags, struct page **out)
{
	struct fmutex *ptl;
	struct page *page;
	pte_t pte;
	int err = follow_or_fault(mm, addr, flags, &page, &pte, &ptl);

	if (err)
		return err;
	get_page(page);
	ptl_unlock(ptl);
	*out = page;
	return 0;
}

/**
 * umm_pin_pages - fault in and pin nr_pages pages from page-aligned addr
 * (see access.h).  Takes mmap_lock (read) and ptl.  Returns nr_pages,
 * 0 for nr_pages == 0, -EINVAL (NULL mm or pages, unaligned addr, unknown
 * flags, UMM_PIN_FORCE without UMM_PIN_WRITE), -EFAULT (range wraps, or a
 * page cannot be accessed), -EIO, -ENOMEM; on error nothing stays pinned.
 * The rules that keep a pin attached to its mapping (FAULT_FLAG_PIN,
 * FAULT_FLAG_FORCE, from gup_fault_flags) are in memory.c.
 */
long umm_pin_pages(struct umm_mm *mm, uintptr_t addr, size_t nr_pages, int flags,
		   struct umm_page **pages)
{
	int fault_flags = gup_fault_flags(flags);
	size_t i;
	int err = 0;

	if (!mm || fault_flags < 0 || !IS_ALIGNED(addr, PAGE_SIZE))
		return -EINVAL;
	if (!nr_pages)
		return 0;
	if (!pages)
		return -EINVAL;
	if (nr_pages - 1 > (UINTPTR_MAX - addr) >> PAGE_SHIFT)
		return -EFAULT;         /* the last page would wrap */

	mmap_read_lock(mm);
	for (i = 0; i < nr_pages; i++) {
		err = pin_one(mm, addr + (i << PAGE_SHIFT), (unsigned int)fault_flags,
			      (struct page **)&pages[i]);
		if (err)
			break;
	}
	mmap_read_unlock(mm);
	if (err) {
		umm_unpin_pages(pages, i, 0);
		for (size_t j = 0; j < i; j++)
			pages[j] = NULL;
		return err;
	}
	return (long)nr_pages;
}

/* unpin_mark_dirty - what a write pin's user may have written must not be lost. */
static void unpin_mark_dirty(struct page *page)
{
	if (PageReserved(page))
		return;
	if (PageAnon(page)) {
		SetPageDirty(page);
		return;
	}
	lock_page(page);        /* page->mapping is stable against truncate */
	if (page->mapping)
		set_page_dirty(page);
	else
		SetPageDirty(page);
	unlock_page(page);
}

/**
 * umm_unpin_pages - release pins taken by umm_pin_pages; with
 * UMM_PIN_WRITE the pages are marked dirty first.  NULL entries are
 * skipped.  Takes the page lock of page-cache pages (write pins).
 */
void umm_unpin_pages(struct umm_page **pages, size_t nr_pages, int flags)
{
	if (!pages)
		return;
	for (size_t i = 0; i < nr_pages; i++) {
		struct page *page = (struct page *)pages[i];

		if (!page)
			continue;
		if (flags & UMM_PIN_WRITE)
			unpin_mark_dirty(page);
		put_page(page);
	}
}

/**
 * umm_page_address - the bytes of a pinned page (NULL for NULL).  No locks.
 */
void *umm_page_address(struct umm_page *page)
{
	return page ? page_address((struct page *)page) : NULL;
}

/**
 * follow_page - the page a present pte maps at addr, referenced, or NULL
 * (gup.h).  Takes mmap_lock (read) and the pte table's lock.
 */
struct page *follow_page(struct umm_mm *mm, uintptr_t addr)
{
	struct page *page = NULL;
	struct fmutex *ptl;
	pte_t *p;

	mmap_read_lock(mm);
	p = pte_offset_map_lock(mm, addr, &ptl);
	if (p) {
		if (pte_present(*p) && !pte_special(*p)) {
			page = pfn_to_page(mm->sys->phys, pte_pfn(*p));
			get_page(page);
		}
		pte_unmap_unlock(p, ptl);
	}
	mmap_read_unlock(mm);
	return page;
}
