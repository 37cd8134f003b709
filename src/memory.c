/* SPDX-License-Identifier: MIT */
/*
 * memory.c - the fault handler and the operations on ranges of ptes:
 * zap (unmap), copy (fork), change protection, follow (soft TLB, pin),
 * and the TLB-shootdown batching (mmu_gather) they share.
 *
 * The fault, in phases around struct vm_fault:
 *
 *   fault_check_vma    find the vma; is the access allowed by its flags?
 *                      (no vma -> -EFAULT; x86 rules: read needs any of
 *                      R/W/X, write needs W, exec needs X)
 *   handle_pte_fault   walk/allocate the tables, take the pte table's
 *                      lock (ptl), read the pte:
 *     none, anon vma      do_anonymous_page: read maps the zero page,
 *                         write a fresh zeroed page
 *     none, file/shmem    do_file_fault: the page cache page (read, shared
 *                         write) or a private copy of it (private write)
 *     file pte            do_nonlinear_fault: as do_file_fault, for the
 *                         object page the pte records (nonlinear windows)
 *     swap pte            do_swap_page: the page from the swap cache, or
 *                         read from the swap device (swap_state.c)
 *     present, read-only, write
 *                         do_wp_page: shared -> make writable and dirty the
 *                         page; private -> reuse an exclusive anon page (or
 *                         one only we map and hold), else copy (wp_page_copy)
 *     present, anon not exclusive, pin (FAULT_FLAG_PIN)
 *                         unshare: do_wp_page without making the pte writable
 *     present, allowed    spurious: set young (dirty) and return
 *   fault_account      min_flt or maj_flt (I/O was done), and cow_flt.
 *                      Only successful faults count; a spurious one (the
 *                      pte already allowed the access) counts as minor.
 *
 * ptl is the lock of the one pte table that holds the faulting pte (split
 * page-table locks, pgtable.h).  Every frame, page-table pages included,
 * is allocated with no page-table lock held: before ptl is taken
 * (FAULT_FLAG_PTE_NONE, and __pte_alloc for missing tables), or with ptl
 * dropped, after which the pte is compared with what was seen, and if
 * another thread got there first the new frame is dropped.  Page-table
 * pages cannot vanish meanwhile: they are freed only under mmap_lock held
 * for write, and faults hold it for read.  Nothing is installed before
 * every allocation has succeeded, so -ENOMEM leaves no trace.
 *
 * The core (__handle_mm_fault) returns with ptl still held and the pte
 * slot in the vm_fault, so follow_or_fault (a soft-TLB miss) checks the
 * pte it installed or found without walking or locking again: one lock
 * round trip per miss.  handle_mm_fault is the same with ptl dropped.
 *
 * cow_flt counts write faults that gave a private mapping its own copy in
 * place of a page it shared: the zero page, a page-cache page (including
 * the first private write to a file page), or an anon page shared after
 * fork.  Reusing an anon page only we map is not a COW fault.
 *
 * Exclusive anonymous pages (PG_anon_exclusive, as Linux 5.19+).  An
 * anon page that only one pte can reach is marked exclusive: the page a
 * write fault allocates (do_anonymous_page), the copy wp_page_copy makes
 * and the private copy of a file page (install_cow_pte).  A write fault
 * on an exclusive page reuses it whatever its reference count, so a pin
 * (an extra reference) can no longer make the fault copy the page away
 * from under the pin.  A non-exclusive anon page (shared after fork) is
 * reused, and becomes exclusive, only when one pte maps it and no one
 * else holds a reference (mapcount 1, refcount 1); otherwise it is copied.
 * Only fork clears the flag, when it shares the page copy-on-write; it
 * never shares a page that may be pinned (copy_one).  Swap (swap.h):
 * swap-out needs the page unpinned (try_to_unmap), and swap-in makes the
 * page exclusive again only when no other swap pte names its slot and no
 * other pte maps it; the page then leaves the swap cache.  Otherwise
 * (shared by fork before or after swap-out) it is mapped read-only, not
 * exclusive, and stays in the swap cache for the other holders; the swap
 * cache's reference is discounted by fork's pin test and, once no swap
 * pte names the slot, dropped by do_wp_page before the reuse test.  Pins see only
 * exclusive anon pages (FAULT_FLAG_PIN), and a writable pte never maps a
 * non-exclusive anon page.  Together: a pinned anon page stays the page
 * its mapping uses until the mapping itself goes (munmap, truncate, a zap),
 * and stores through the pin are never seen by another address space.
 *
 * Forced writes (FAULT_FLAG_FORCE, see memory.h) into a private mapping
 * without write permission break COW like a write but install the copy
 * read-only; the walker then lets a forced write through a read-only pte
 * only when it maps an exclusive anon page, never a page-cache page.
 * That is the fix for Dirty COW (CVE-2016-5195): if the copy is zapped
 * before the pin is taken, the walk finds the file page (or nothing),
 * faults again and makes a new copy; the file page is never written.
 *
 * A frame that loses its last pte is not freed until every secondary
 * TLB has forgotten it: zaps queue it in an mmu_gather, which calls
 * mmu_notifier_invalidate_secondary_tlbs() for the range (the soft TLB's
 * shootdown among them) and only then drops the references.
 * wp_page_copy() clears the old pte and invalidates before installing the
 * copy, so no thread can read the old frame after another wrote the new.
 * When the copy replaces an unevictable page in a locked vma, the old
 * page may have lost its last locked mapping: the fault keeps a reference
 * and, once ptl is dropped, has mlock.c recheck it (munlock_cow_page).
 * Every path here that changes or removes ptes is bracketed by
 * mmu_notifier_invalidate_range_start/end with its event (mmu_notifier.h).
 *
 * Locks (the order is in lockdep.h): mmap_lock (callers) -> page lock
 * (file faults, swap-in) -> obj->i_mmap_lock (unmap_mapping_range) ->
 * mm->page_table_lock (installing tables; held by the i_mmap walkers that
 * have no mmap_lock) -> pte table lock (fork: parent's, then child's) ->
 * allocator (frees only, under ptl).  Under ptl, zap's swap_free and the
 * gather's release of swap-cache pages take the swap device's leaf locks
 * and only trylock page locks.  The page cache's tree_lock is taken
 * by the file fault's lookup before ptl, never under it (set_page_dirty
 * is an atomic flag).
 * mmu_notifier_invalidate_secondary_tlbs() is called with or without ptl
 * held; invalidate_range_start/end with mmap_lock held (truncate:
 * i_mmap_lock and page_table_lock), and under ptl at the end of a COW.
 * The reverse map (rmap.h): before ptl, a fault gives a private vma its
 * anon_vma (object rmap: sys->anon_vma_lock, then anon_vma->lock) or
 * reserves a chain block (pte chains: slab); fork reserves blocks with
 * both table locks dropped.  Under ptl the rmap hooks take only the
 * page's chain bit lock (pte chains) and never allocate.
 */
#include <errno.h>
#include <string.h>
#include "memory.h"
#include "rmap.h"
#include "mmu_notifier.h"
#include "filemap.h"
#include "object.h"
#include "readahead.h"
#include "vma.h"
#include "mlock.h"
#include "swap.h"

/* Lookups that keep finding a truncated page give up after this many. */
#define FAULT_RETRY_MAX 8

struct vm_fault {
	struct umm_mm *mm;
	struct vm_area_struct *vma;
	unsigned long vm_flags;     /* the flags the access obeys: the vma's, or the pte's own (PTE_OWNPROT) */
	uintptr_t address;          /* page aligned */
	unsigned int flags;         /* FAULT_FLAG_* */
	uint64_t pgoff;             /* object page (file faults) */
	pte_t *pte;                 /* slot for address (tables stay while mmap_lock is held) */
	struct fmutex *ptl;         /* its table's lock */
	pte_t orig_pte;             /* the pte as the fault first saw it */
	struct page *page;          /* page cache page: referenced and locked */
	struct page *cow_page;      /* private copy not yet installed */
	struct page *anon_page;     /* zeroed frame prepared before ptl (FAULT_FLAG_PTE_NONE) */
	bool prepared;              /* file page (and copy) prepared before ptl */
	bool major;                 /* I/O was done */
	bool cow;                   /* a private copy was installed */
	struct page *munlock_page;  /* referenced: the page a copy replaced in a locked vma,
	                               rechecked for PG_unevictable once ptl is dropped (mlock.c) */
};

static inline bool fault_write(const struct vm_fault *vmf)
{
	return vmf->flags & FAULT_FLAG_WRITE;
}

static inline struct phys_mem *mm_phys(struct umm_mm *mm)
{
	return mm->sys->phys;
}

/**
 * mm_counter_for_page - the RSS counter a mapped page counts in: anon,
 * shmem or file.  No locks (reads page->mapping of a mapped page).
 */
int mm_counter_for_page(struct page *page)
{
	if (PageAnon(page))
		return MM_ANONPAGES;
	if (page->mapping && page->mapping->type == OBJ_SHMEM)
		return MM_SHMEMPAGES;
	return MM_FILEPAGES;
}

/*
 * vma_page_counter - as mm_counter_for_page, but a non-anon page mapped by
 * vma is one of vma's object's pages, so the object type decides; this
 * stays right even after truncate cleared page->mapping.
 */
static int vma_page_counter(struct vm_area_struct *vma, struct page *page)
{
	if (PageAnon(page))
		return MM_ANONPAGES;
	if (vma->vm_obj && vma->vm_obj->type == OBJ_SHMEM)
		return MM_SHMEMPAGES;
	return MM_FILEPAGES;
}

static void copy_frame(struct page *dst, struct page *src)
{
	memcpy(page_address(dst), page_address(src), PAGE_SIZE);
}

/* ---- mmu_gather ---- */

/**
 * tlb_gather_mmu - start gathering pages unmapped from mm.  No locks.
 */
void tlb_gather_mmu(struct mmu_gather *tlb, struct umm_mm *mm)
{
	tlb->mm = mm;
	tlb->start = UINTPTR_MAX;
	tlb->end = 0;
	tlb->nr = 0;
	tlb->need_flush = false;
}

/* tlb_track - a pte of [addr, addr + PAGE_SIZE) was cleared or changed. */
static void tlb_track(struct mmu_gather *tlb, uintptr_t addr)
{
	tlb->start = MIN(tlb->start, addr);
	tlb->end = MAX(tlb->end, addr + PAGE_SIZE);
	tlb->need_flush = true;
}

/**
 * tlb_flush_mmu - shoot down the TLB entries of the gathered range, then
 * drop the gathered page references (an unmapped swap-cache page whose
 * entry lost its holders leaves the cache first, if its lock is free).
 * ptl may be held.
 */
void tlb_flush_mmu(struct mmu_gather *tlb)
{
	if (tlb->need_flush)
		mmu_notifier_invalidate_secondary_tlbs(tlb->mm, tlb->start, tlb->end);
	/*
	 * Last page first: the per-thread frame cache is LIFO, so the frames
	 * of a range unmapped in address order come back out in address
	 * order, contiguous for the next range (the host MMU maps arena-
	 * contiguous runs with one mmap).
	 */
	for (unsigned int i = 0; i < tlb->nr / 2; i++) {
		struct page *t = tlb->pages[i];

		tlb->pages[i] = tlb->pages[tlb->nr - 1 - i];
		tlb->pages[tlb->nr - 1 - i] = t;
	}
	for (unsigned int i = 0; i < tlb->nr; i++) {
		struct page *page = tlb->pages[i];

		/* a swap-cache page whose entry has no holder left need not stay cached */
		if (PageSwapCache(page) && !page_mapped(page) && trylock_page(page)) {
			free_swap_cache(page);
			unlock_page(page);
		}
	}
	/* one LRU lock acquisition for the batch's pages, not one per page */
	release_pages(tlb->pages, tlb->nr);
	tlb->nr = 0;
	tlb->start = UINTPTR_MAX;
	tlb->end = 0;
	tlb->need_flush = false;
}

/**
 * tlb_remove_page - the pte for addr that mapped page was cleared: keep
 * the pte's reference until the shootdown, flushing when the batch is
 * full.  ptl may be held.
 */
void tlb_remove_page(struct mmu_gather *tlb, struct page *page, uintptr_t addr)
{
	tlb_track(tlb, addr);
	tlb->pages[tlb->nr++] = page;
	if (tlb->nr == MMU_GATHER_BATCH)
		tlb_flush_mmu(tlb);
}

/**
 * tlb_finish_mmu - flush and release whatever is still gathered.
 * Best called with ptl dropped.
 */
void tlb_finish_mmu(struct mmu_gather *tlb)
{
	tlb_flush_mmu(tlb);
}

/* ---- the fault handler ---- */

/*
 * flags_allow - may this access fault under vm_flags?  x86 rules, plus
 * forced writes (FAULT_FLAG_FORCE): only into a private (COW) mapping that
 * could be made writable (VM_MAYWRITE), as Linux's check_vma_flags.
 */
static bool flags_allow(unsigned long vm_flags, unsigned int flags)
{
	if ((flags & FAULT_FLAG_WRITE) && !(vm_flags & VM_WRITE)) {
		if (!(flags & FAULT_FLAG_FORCE))
			return false;
		if ((vm_flags & (VM_SHARED | VM_MAYSHARE)) || !(vm_flags & VM_MAYWRITE))
			return false;
	}
	if ((flags & FAULT_FLAG_EXEC) && !(vm_flags & VM_EXEC))
		return false;
	return (vm_flags & VM_ACCESS_FLAGS) != 0;
}

/*
 * fault_check_vma - find the vma for the address and check the access.
 * In a nonlinear vma a pte may carry its own protection (PTE_OWNPROT), so
 * the check waits for the pte (handle_pte_fault).
 */
static int fault_check_vma(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = find_vma(vmf->mm, vmf->address);

	if (!vma || vmf->address < vma->vm_start)
		return -EFAULT;
	if (!(vma->vm_flags & VM_NONLINEAR) && !flags_allow(vma->vm_flags, vmf->flags))
		return -EFAULT;
	vmf->vma = vma;
	vmf->vm_flags = vma->vm_flags;
	return 0;
}

/*
 * anon_pte_bits - the bits of a pte that maps a fresh private (exclusive)
 * anon page after a write fault: writable and dirty, but read-only when
 * the vma is not writable (a forced write, FAULT_FLAG_FORCE).
 */
static pte_t anon_pte_bits(const struct vm_fault *vmf)
{
	pte_t bits = PTE_PRESENT | PTE_DIRTY | PTE_YOUNG;

	if (vmf->vm_flags & VM_WRITE)
		bits |= PTE_RW;
	return bits | pte_ownprot_bits(vmf->orig_pte);  /* orig_pte may be a swap pte */
}

/* fault_touch - what a hardware walker does on an allowed access. */
static void fault_touch(struct vm_fault *vmf, pte_t pte)
{
	pte_t entry = pte_mkyoung(pte);

	if (fault_write(vmf))
		entry = pte_mkdirty(entry);
	if (entry != pte)
		set_pte_at(vmf->mm, vmf->address, vmf->pte, entry);
}

/*
 * do_anonymous_page - first touch of a private anonymous page.  A read
 * maps the shared zero page; a write gets a fresh zeroed frame.  Entered
 * with ptl held; returns 0 with it held (the pte may be another thread's
 * if it won a race), or -ENOMEM with it dropped.
 */
static int do_anonymous_page(struct vm_fault *vmf)
{
	struct umm_mm *mm = vmf->mm;
	struct page *page;

	assert_pte_locked(mm, vmf->pte);
	if (!fault_write(vmf)) {
		set_pte_at(mm, vmf->address, vmf->pte,
			   pfn_pte(mm->sys->zero_pfn, PTE_PRESENT | PTE_SPECIAL | PTE_YOUNG));
		return 0;
	}
	page = vmf->anon_page;
	vmf->anon_page = NULL;
	if (!page) {
		ptl_unlock(vmf->ptl);
		page = alloc_page(mm_phys(mm), GFP_ZERO);
		if (!page)
			return -ENOMEM;
		ptl_lock(vmf->ptl);
		if (!pte_none(*vmf->pte)) {
			put_page(page);
			return 0;
		}
	}
	SetPageAnonExclusive(page);     /* before the pte publishes it */
	set_pte_at(mm, vmf->address, vmf->pte, pfn_pte(page_to_pfn(page), anon_pte_bits(vmf)));
	page_add_new_anon_rmap(page, vmf->vma, vmf->address, vmf->pte);
	inc_mm_counter(mm, MM_ANONPAGES);
	return 0;
}

/*
 * file_fault_page - the page at vmf->pgoff for a fault (filemap_fault_page):
 * a miss in a linear mapping may read around the page, inside the pages
 * the vma maps; in a nonlinear window the neighbouring addresses map
 * unrelated pages, so a miss there reads around nothing.
 */
static int file_fault_page(struct vm_fault *vmf, struct page **pagep, bool *major)
{
	struct vm_area_struct *vma = vmf->vma;
	uint64_t lo = vmf->pgoff, hi = vmf->pgoff + 1;

	if (!(vma->vm_flags & VM_NONLINEAR)) {
		lo = vma->vm_pgoff;
		hi = vma->vm_pgoff + ((vma->vm_end - vma->vm_start) >> PAGE_SHIFT);
	}
	return filemap_fault_page(vma->vm_obj, vmf->pgoff, vm_ra_hints(vma->vm_flags), lo, hi,
				  pagep, major);
}

/*
 * file_lock_page - the uptodate page-cache page for vmf->pgoff, referenced
 * and locked, still in the object and inside its size.  A page truncated
 * between lookup and lock is looked up again (a bounded number of times).
 * No ptl held.  0, -EIO (past end of object, read failed), -ENOMEM.
 */
static int file_lock_page(struct vm_fault *vmf)
{
	struct umm_object *obj = vmf->vma->vm_obj;

	for (int tries = 0; tries < FAULT_RETRY_MAX; tries++) {
		struct page *page;
		bool major = false;
		bool truncated;
		int err;

		if (vmf->pgoff >= object_size_pages(obj))
			return -EIO;
		if (vmf->flags & FAULT_FLAG_NONBLOCK) {
			/* only a cached, uptodate page; no I/O */
			page = find_get_page(obj, vmf->pgoff);
			if (page && !PageUptodate(page)) {
				put_page(page);
				page = NULL;
			}
			err = page ? 0 : -EAGAIN;
		} else {
			err = file_fault_page(vmf, &page, &major);
		}
		if (err)
			return err;
		vmf->major |= major;
		lock_page(page);
		truncated = page->mapping != obj;
		if (!truncated && vmf->pgoff < object_size_pages(obj)) {
			vmf->page = page;
			return 0;
		}
		unlock_page(page);
		put_page(page);
		if (!truncated)
			return -EIO;    /* the object shrank below the page */
	}
	return -EIO;
}

/* install_file_pte - map the page-cache page itself (read, or shared write).  ptl held. */
static void install_file_pte(struct vm_fault *vmf)
{
	struct page *page = vmf->page;
	pte_t entry = pfn_pte(page_to_pfn(page), PTE_PRESENT | PTE_YOUNG |
			      (vmf->orig_pte & PTE_OWNPROT_MASK));

	assert_pte_locked(vmf->mm, vmf->pte);
	get_page(page);
	page_add_file_rmap(page, vmf->vma, vmf->address, vmf->pte);
	inc_mm_counter(vmf->mm, vma_page_counter(vmf->vma, page));
	if (fault_write(vmf)) {
		entry |= PTE_RW | PTE_DIRTY;
		set_page_dirty(page);
	}
	set_pte_at(vmf->mm, vmf->address, vmf->pte, entry);
}

/*
 * anon_origin - the origin record of an anon page (see below): its
 * page->private, except while the page is in the swap cache, where
 * private holds the swap entry and the record is kept with the slot
 * (swap.h).
 */
static inline unsigned long anon_origin(const struct page *page)
{
	return PageSwapCache(page) ? swap_page_origin(page) : page->private;
}

/*
 * Private nonlinear windows (fremap.c): a private copy made in a
 * nonlinear vma records the object page it was copied from in
 * page->private, as pgoff + 1 (0: none), so that a zap that keeps the
 * layout, or truncate, can put the file pte for that page back.
 * copy_origin - that record for a copy of `old` (a page-cache page, or a
 * private copy itself) in vmf's vma; 0 outside nonlinear vmas.
 */
static unsigned long copy_origin(const struct vm_fault *vmf, struct page *old)
{
	if (!(vmf->vma->vm_flags & VM_NONLINEAR) || !old)
		return 0;
	return PageAnon(old) ? anon_origin(old) : (unsigned long)old->index + 1;
}

/* install_cow_pte - map the private copy (already filled).  ptl held. */
static void install_cow_pte(struct vm_fault *vmf)
{
	struct page *cow = vmf->cow_page;

	assert_pte_locked(vmf->mm, vmf->pte);
	cow->private = copy_origin(vmf, vmf->page);
	SetPageAnonExclusive(cow);
	set_pte_at(vmf->mm, vmf->address, vmf->pte, pfn_pte(page_to_pfn(cow), anon_pte_bits(vmf)));
	page_add_new_anon_rmap(cow, vmf->vma, vmf->address, vmf->pte);
	inc_mm_counter(vmf->mm, MM_ANONPAGES);
	vmf->cow_page = NULL;
	vmf->cow = true;
}

/*
 * file_fault_prepare - the part of a file fault done without ptl: find,
 * read and lock the page-cache page, and for a private write make the
 * copy.  On success vmf->page is referenced and locked (vmf->cow_page
 * holds the copy); on error nothing is held.  The private copy is
 * allocated before the page lock is taken, so the page is never held
 * locked across an allocation that may reclaim.
 */
static int __file_fault_prepare(struct vm_fault *vmf)
{
	bool private_write = fault_write(vmf) && !vma_is_shared(vmf->vma);
	int err;

	if (private_write) {
		vmf->cow_page = alloc_page(mm_phys(vmf->mm), 0);
		if (!vmf->cow_page)
			return -ENOMEM;
	}
	err = file_lock_page(vmf);
	if (err) {
		if (vmf->cow_page)
			put_page(vmf->cow_page);
		vmf->cow_page = NULL;
		return err;
	}
	if (private_write)
		copy_frame(vmf->cow_page, vmf->page);
	return 0;
}

/* file_fault_prepare - __file_fault_prepare for the linear page at the address. */
static int file_fault_prepare(struct vm_fault *vmf)
{
	vmf->pgoff = linear_page_index(vmf->vma, vmf->address);
	return __file_fault_prepare(vmf);
}

/*
 * file_fault_release - drop what file_fault_prepare holds.  ptl may be
 * held (unlocking a page and dropping references do not block).
 */
static void file_fault_release(struct vm_fault *vmf)
{
	unlock_page(vmf->page);
	put_page(vmf->page);
	vmf->page = NULL;
	if (vmf->cow_page)
		put_page(vmf->cow_page);
	vmf->cow_page = NULL;
}

/*
 * do_file_fault - first touch of a file or shmem page.  Entered with ptl
 * held and the pte empty; returns 0 with ptl held, or an error with it
 * dropped.  Unless the page was prepared before ptl (FAULT_FLAG_PTE_NONE),
 * ptl is dropped to prepare it.
 */
static int do_file_fault(struct vm_fault *vmf)
{
	int err = 0;

	if (!vmf->prepared) {
		ptl_unlock(vmf->ptl);
		err = file_fault_prepare(vmf);
		if (err)
			return err;
		ptl_lock(vmf->ptl);
	}
	vmf->prepared = false;
	if (vmf->pgoff >= object_size_pages(vmf->vma->vm_obj)) {
		/*
		 * Truncated since the check under the page lock.  Checking
		 * again under ptl closes the race with truncate for private
		 * copies too: either truncate's unmap_mapping_range (which
		 * takes this ptl after lowering the size) finds our pte, or
		 * we see the new size here.
		 */
		err = -EIO;
	} else if (pte_none(*vmf->pte)) {
		if (vmf->cow_page)
			install_cow_pte(vmf);
		else
			install_file_pte(vmf);
	}
	file_fault_release(vmf);
	if (err)
		ptl_unlock(vmf->ptl);
	return err;
}

/*
 * do_nonlinear_fault - first touch of a file pte in a nonlinear window:
 * the object page the pte records (vmf->orig_pte), mapped as do_file_fault
 * maps a linear one, the pte's own protection bits kept.  Entered with ptl
 * held; returns 0 with it held (the pte may have changed meanwhile: the
 * caller re-checks), or an error with it dropped (-EIO past the end of the
 * object: the file pte stays, so an extension brings the page back).
 */
static int do_nonlinear_fault(struct vm_fault *vmf)
{
	int err;

	vmf->pgoff = pte_to_pgoff(vmf->orig_pte);
	ptl_unlock(vmf->ptl);
	err = __file_fault_prepare(vmf);
	if (err)
		return err;
	ptl_lock(vmf->ptl);
	if (vmf->pgoff >= object_size_pages(vmf->vma->vm_obj))
		err = -EIO;     /* truncated meanwhile: see do_file_fault */
	else if (*vmf->pte == vmf->orig_pte) {
		(void)ptep_get_and_clear(vmf->mm, vmf->address, vmf->pte);
		if (vmf->cow_page)
			install_cow_pte(vmf);
		else
			install_file_pte(vmf);
	}
	file_fault_release(vmf);
	if (err)
		ptl_unlock(vmf->ptl);
	return err;
}

/* pte_same_ignoring_young - has the pte kept its frame and permissions? */
static inline bool pte_same_ignoring_young(pte_t a, pte_t b)
{
	return (a | PTE_YOUNG) == (b | PTE_YOUNG);
}

/*
 * wp_page_copy - give this private mapping its own, exclusive copy of
 * `old` (NULL for the zero page).  A write gets a dirty pte, writable
 * unless the write is forced into a read-only vma; an unshare (a read pin,
 * FAULT_FLAG_PIN) keeps the old pte's permission, which is read-only.
 * Entered with ptl held; returns 0 with it held, or -ENOMEM with it
 * dropped.  The old pte is cleared and the secondary TLBs invalidated
 * before the copy is installed; the old frame's references go only after
 * that.  The notifiers' COW window opens before ptl is retaken and closes
 * under it.
 */
static int wp_page_copy(struct vm_fault *vmf, struct page *old)
{
	struct umm_mm *mm = vmf->mm;
	struct mmu_notifier_range range;
	struct page *new;
	pte_t entry;

	if (old)
		get_page(old);          /* keep it while ptl is dropped */
	ptl_unlock(vmf->ptl);
	new = alloc_page(mm_phys(mm), old ? 0 : GFP_ZERO);
	if (!new) {
		if (old)
			put_page(old);
		return -ENOMEM;
	}
	if (old)
		copy_frame(new, old);

	mmu_notifier_range_init(&range, UMM_MMU_COW, mm, vmf->address, vmf->address + PAGE_SIZE);
	mmu_notifier_invalidate_range_start(&range);
	ptl_lock(vmf->ptl);
	if (!pte_same_ignoring_young(*vmf->pte, vmf->orig_pte)) {
		mmu_notifier_invalidate_range_end(&range);
		put_page(new);
		if (old)
			put_page(old);
		return 0;
	}
	(void)ptep_get_and_clear(mm, vmf->address, vmf->pte);
	mmu_notifier_invalidate_secondary_tlbs(mm, vmf->address, vmf->address + PAGE_SIZE);
	if (fault_write(vmf))
		entry = pfn_pte(page_to_pfn(new), anon_pte_bits(vmf));
	else
		entry = pfn_pte(page_to_pfn(new), PTE_PRESENT | PTE_YOUNG |
				(vmf->orig_pte & (PTE_RW | PTE_DIRTY | PTE_OWNPROT_MASK)));
	new->private = copy_origin(vmf, old);
	SetPageAnonExclusive(new);
	set_pte_at(mm, vmf->address, vmf->pte, entry);
	page_add_new_anon_rmap(new, vmf->vma, vmf->address, vmf->pte);
	inc_mm_counter(mm, MM_ANONPAGES);
	if (old) {
		page_remove_rmap(old, vmf->vma, vmf->address, vmf->pte);
		dec_mm_counter(mm, vma_page_counter(vmf->vma, old));
		put_page(old);          /* the old pte's reference */
		if ((vmf->vma->vm_flags & VM_LOCKED) && PageUnevictable(old))
			vmf->munlock_page = old;        /* ours, until the recheck */
		else
			put_page(old);  /* ours */
	}
	mmu_notifier_invalidate_range_end(&range);
	vmf->cow = true;
	return 0;
}

/*
 * anon_page_reusable - may this private mapping keep using anon page
 * `page` for a write (or a pin) instead of copying it?  Yes when it is
 * exclusive, whatever its reference count (pins hold references).  A page
 * shared after fork is reused when only our pte maps it and nothing else
 * holds it (mapcount 1, refcount 1: nobody can take a new reference
 * without our ptl), and then becomes exclusive.  ptl held.
 */
static bool anon_page_reusable(struct page *page)
{
	if (PageAnonExclusive(page))
		return true;
	if (page_mapcount(page) == 1 && page_count(page) == 1) {
		SetPageAnonExclusive(page);
		return true;
	}
	return false;
}

/*
 * do_wp_page - a write to a present pte that does not allow it (read-only
 * pte in a writable vma, or a forced write), or an unshare: a pin reaching
 * a non-exclusive anon page (FAULT_FLAG_PIN without FAULT_FLAG_WRITE).
 * Entered with ptl held; returns 0 with it held, or an error with it
 * dropped.
 */
static int do_wp_page(struct vm_fault *vmf)
{
	pte_t pte = vmf->orig_pte, entry;
	struct page *old = NULL;

	if (!pte_special(pte))
		old = pfn_to_page(mm_phys(vmf->mm), pte_pfn(pte));

	if (old && vma_is_shared(vmf->vma)) {
		VM_BUG_ON(!fault_write(vmf));
		set_page_dirty(old);
		goto reuse;
	}
	if (old && PageAnon(old) && PageSwapCache(old) && page_mapcount(old) == 1 &&
	    trylock_page(old)) {
		/* swapped in and still cached: if no swap pte names it any more, the cache lets go */
		free_swap_cache(old);
		unlock_page(old);
	}
	if (old && PageAnon(old) && anon_page_reusable(old))
		goto reuse;
	return wp_page_copy(vmf, old);

reuse:
	entry = pte_mkyoung(pte);
	if (fault_write(vmf)) {
		entry = pte_mkdirty(entry);
		if (vmf->vm_flags & VM_WRITE)
			entry = pte_mkwrite(entry);     /* not for a forced write */
	}
	set_pte_at(vmf->mm, vmf->address, vmf->pte, entry);
	return 0;
}

/*
 * pte_needs_unshare - does this pin (FAULT_FLAG_PIN) reach an anon page
 * that is not exclusive?  ptl held, pte present.
 */
static bool pte_needs_unshare(struct umm_mm *mm, pte_t pte, unsigned int flags)
{
	struct page *page;

	if (!(flags & FAULT_FLAG_PIN) || pte_special(pte))
		return false;
	page = pfn_to_page(mm_phys(mm), pte_pfn(pte));
	return PageAnon(page) && !PageAnonExclusive(page);
}

/*
 * pte_allows_write - may a write go through this accessible pte?  A
 * writable pte, or for a forced write (FAULT_FLAG_FORCE) a read-only pte
 * that maps an exclusive anon page: the private copy a forced write made,
 * never a page-cache page or a page shared with another mm.  ptl held.
 */
static bool pte_allows_write(struct umm_mm *mm, pte_t pte, unsigned int flags)
{
	struct page *page;

	if (pte_write(pte))
		return true;
	if (!(flags & FAULT_FLAG_FORCE) || pte_special(pte))
		return false;
	page = pfn_to_page(mm_phys(mm), pte_pfn(pte));
	return PageAnon(page) && PageAnonExclusive(page);
}

/*
 * do_swap_page - a fault on a swap pte (a swapped-out anon page).  The
 * page comes from the swap cache, or is read with its neighbours
 * (swapin_readahead), with ptl dropped; then, under the page lock and
 * ptl again, if the pte still holds the entry, the page is mapped and the
 * pte's hold on the slot goes (swap_free).  If no other holder names the
 * entry and no other pte maps the page, the page is exclusive: it leaves
 * the swap cache (the slot is freed) and a write maps it writable and
 * dirty.  Otherwise (shared after fork) it stays cached for the other
 * holders, which find the same page (read once), and is mapped read-only
 * and not exclusive; a write then goes through do_wp_page (copy, or reuse
 * once it is the only user).  A failed read gives -EIO and keeps the
 * slot, so a later access tries again.
 * Entered with ptl held; returns 0 with it held (the pte may have changed
 * meanwhile: callers re-check), or an error with it dropped.
 */
static int do_swap_page(struct vm_fault *vmf)
{
	struct umm_mm *mm = vmf->mm;
	struct umm_system *sys = mm->sys;
	swp_entry_t entry = pte_to_swp_entry(vmf->orig_pte);
	struct page *page;
	bool major = false, exclusive, failed;
	pte_t pte;
	int err;

	ptl_unlock(vmf->ptl);
	err = anon_vma_prepare(vmf->vma);
	if (!err && rmap_ptechain(sys))
		err = rmap_prepare(sys, 1);     /* page_add_anon_rmap of a shared page needs a block */
	if (err)
		goto out_unprepare;
	for (int tries = 0;; tries++) {
		err = swapin_readahead(sys, entry, &page, &major);
		if (err == -ENOENT) {
			/* the entry lost its holders: our pte changed; the caller looks again */
			ptl_lock(vmf->ptl);
			rmap_unprepare(sys);
			return 0;
		}
		if (err)
			goto out_unprepare;
		lock_page(page);
		if (PageSwapCache(page) && page->private == entry.val && PageUptodate(page))
			break;
		failed = PageError(page) && !PageUptodate(page);
		unlock_page(page);
		put_page(page);
		if (failed) {
			err = -EIO;     /* the read failed; the slot keeps its holders */
			goto out_unprepare;
		}
		if (tries >= FAULT_RETRY_MAX) {
			ptl_lock(vmf->ptl);     /* the page keeps leaving the cache: fault again */
			rmap_unprepare(sys);
			return 0;
		}
	}
	ptl_lock(vmf->ptl);
	if (*vmf->pte != vmf->orig_pte) {
		unlock_page(page);
		put_page(page);
		rmap_unprepare(sys);
		return 0;
	}
	swap_free(sys, entry);
	exclusive = swap_count(sys, entry) == 0;
	if (exclusive)
		free_swap_cache(page);          /* no holder left: the slot is freed */
	exclusive = exclusive && !page_mapped(page);
	if (exclusive) {
		SetPageAnonExclusive(page);     /* before the pte publishes it */
	} else {
		ClearPageAnonExclusive(page);
	}
	/* a window's private copy gets back the own protection its swap pte kept */
	pte = pfn_pte(page_to_pfn(page), PTE_PRESENT | PTE_YOUNG | pte_ownprot_bits(vmf->orig_pte));
	if (exclusive && fault_write(vmf))
		pte = pfn_pte(page_to_pfn(page), anon_pte_bits(vmf));
	set_pte_at(mm, vmf->address, vmf->pte, pte);
	if (page_mapped(page))
		page_add_anon_rmap(page, vmf->vma, vmf->address, vmf->pte);
	else
		page_add_new_anon_rmap(page, vmf->vma, vmf->address, vmf->pte);
	inc_mm_counter(mm, MM_ANONPAGES);
	dec_mm_counter(mm, MM_SWAPENTS);
	unlock_page(page);              /* our reference is now the pte's */
	rmap_unprepare(sys);
	vmf->major |= major;
	if (fault_write(vmf) && !exclusive) {
		vmf->orig_pte = pte;
		return do_wp_page(vmf);
	}
	return 0;

out_unprepare:
	rmap_unprepare(sys);
	return err;
}

/*
 * fault_prepare_none - FAULT_FLAG_PTE_NONE: do the slow part of a
 * first-touch fault before ptl.  A failed allocation of the anon frame is
 * not an error here (the fault path retries it under its own rules).  A
 * failed file preparation is returned, but it is the fault's answer only
 * if the pte is still empty under ptl (handle_pte_fault): the hint may be
 * stale.
 */
static int fault_prepare_none(struct vm_fault *vmf)
{
	int err;

	if (!flags_allow(vmf->vm_flags, vmf->flags))
		return 0;       /* nonlinear vma: the pte decides (handle_pte_fault) */
	if (vma_is_anonymous(vmf->vma)) {
		if (fault_write(vmf))
			vmf->anon_page = alloc_page(mm_phys(vmf->mm), GFP_ZERO);
		return 0;
	}
	err = file_fault_prepare(vmf);
	vmf->prepared = !err;
	return err;
}

/* fault_unprepare - the hint was wrong (pte not empty): drop what was prepared.  No ptl. */
static void fault_unprepare(struct vm_fault *vmf)
{
	if (vmf->anon_page)
		put_page(vmf->anon_page);
	vmf->anon_page = NULL;
	if (vmf->prepared)
		file_fault_release(vmf);
	vmf->prepared = false;
}

/*
 * handle_pte_fault - find or build the pte slot (unless the caller's walk
 * passed it in vmf->pte), take its table's lock and resolve the fault by
 * the pte's state.  Returns 0 with vmf->ptl HELD and
 * vmf->pte the slot (its pte allows the access, unless another thread
 * changed it while ptl was dropped: callers re-check), or an error with
 * no lock held.
 */
static int handle_pte_fault(struct vm_fault *vmf)
{
	struct umm_mm *mm = vmf->mm;
	int prepare_err = 0;
	pte_t pte;

	if (vmf->flags & FAULT_FLAG_PTE_NONE)
		prepare_err = fault_prepare_none(vmf);
	if (vmf->pte) {
		/* the caller's walk found the slot: tables stay while mmap_lock is held */
		vmf->ptl = pte_lockptr(mm, vmf->pte);
		ptl_lock(vmf->ptl);
	} else {
		vmf->pte = pte_alloc_map_lock(mm, vmf->address, &vmf->ptl);
		if (!vmf->pte) {
			fault_unprepare(vmf);
			return -ENOMEM;
		}
	}
	pte = vmf->orig_pte = *vmf->pte;
	if (!pte_none(pte) && (vmf->anon_page || vmf->prepared)) {
		ptl_unlock(vmf->ptl);
		fault_unprepare(vmf);
		ptl_lock(vmf->ptl);
		pte = vmf->orig_pte = *vmf->pte;
	}
	if (prepare_err && pte_none(pte)) {
		ptl_unlock(vmf->ptl);
		return prepare_err;     /* the hint was right: the linear page failed */
	}
	/*
	 * Otherwise a failed preparation is dropped: the hint was stale.
	 * follow_or_fault reads the pte without ptl, and try_to_unmap empties
	 * a pte for a moment before it writes a file or swap pte there; in a
	 * nonlinear window the linear page may lie past the end of the object
	 * while the pte shows another page.  The pte decides.
	 */
	if (unlikely(vmf->vma->vm_flags & VM_NONLINEAR)) {
		/* the access obeys the pte's own protection, if it has one */
		vmf->vm_flags = pte_vm_flags(vmf->vma->vm_flags, pte);
		if (!flags_allow(vmf->vm_flags, vmf->flags)) {
			ptl_unlock(vmf->ptl);
			fault_unprepare(vmf);
			return -EFAULT;
		}
	}
	if (pte_none(pte)) {
		if (vma_is_anonymous(vmf->vma))
			return do_anonymous_page(vmf);
		return do_file_fault(vmf);
	}
	if (pte_is_file(pte) && !vma_is_anonymous(vmf->vma))
		return do_nonlinear_fault(vmf);
	if (pte_is_swap(pte))
		return do_swap_page(vmf);
	if (!pte_present(pte)) {
		/* a file pte in an anonymous vma: mm_check reports it; refuse the access */
		ptl_unlock(vmf->ptl);
		return -EFAULT;
	}
	if (pte_protnone(pte)) {
		/* the vma allows the access: the pte lags behind an mprotect */
		pte = pte_modify(pte, vmf->vm_flags);
		set_pte_at(mm, vmf->address, vmf->pte, pte);
		vmf->orig_pte = pte;
	}
	if (fault_write(vmf) ? !pte_allows_write(mm, pte, vmf->flags)
			     : pte_needs_unshare(mm, pte, vmf->flags))
		return do_wp_page(vmf);
	fault_touch(vmf, pte);
	return 0;
}

static void fault_account(struct vm_fault *vmf)
{
	count_mm_event(vmf->mm, vmf->major ? MM_MAJ_FLT : MM_MIN_FLT);
	if (vmf->cow)
		count_mm_event(vmf->mm, MM_COW_FLT);
}

/*
 * __handle_mm_fault - the fault, leaving the pte table locked: 0 with
 * vmf->ptl held and vmf->pte the slot, or an error with no page-table
 * lock held.  mmap_lock held for read.
 */
static int __handle_mm_fault(struct vm_fault *vmf)
{
	int err;

	mmap_assert_locked(vmf->mm);
	err = fault_check_vma(vmf);
	if (err)
		return err;
	/*
	 * The reverse map's allocations, before any page-table lock: the
	 * anon_vma of a private vma before a fault that may map an anon page
	 * in it (object rmap, once per vma: a write or an unsharing pin), or a chain
	 * block for mapping a cache page (pte chains), given back below.
	 */
	if (!vma_is_shared(vmf->vma) && (vmf->flags & (FAULT_FLAG_WRITE | FAULT_FLAG_PIN))) {
		err = anon_vma_prepare(vmf->vma);
		if (err)
			return err;
	}
	if (!vma_is_anonymous(vmf->vma) && rmap_ptechain(vmf->mm->sys)) {
		err = rmap_prepare(vmf->mm->sys, 1);
		if (err) {
			rmap_unprepare(vmf->mm->sys);
			return err;
		}
		err = handle_pte_fault(vmf);
		rmap_unprepare(vmf->mm->sys);
	} else {
		err = handle_pte_fault(vmf);
	}
	if (!err)
		fault_account(vmf);
	return err;
}

/**
 * handle_mm_fault - resolve an access to addr as a CPU's fault would.
 * mmap_lock held for read; takes the pte table's lock (and the page lock
 * for file pages) and returns with none of them held.
 * Returns 0 (a pte allowing the access was installed, or already was),
 * -EFAULT (no vma, or the vma forbids the access), -EIO (past the end of
 * the object, or the backing read failed), -ENOMEM.
 */
int handle_mm_fault(struct umm_mm *mm, uintptr_t addr, unsigned int flags)
{
	struct vm_fault vmf = {
		.mm = mm,
		.address = addr & PAGE_MASK,
		.flags = flags,
	};
	int err = __handle_mm_fault(&vmf);

	if (!err)
		pte_unmap_unlock(vmf.pte, vmf.ptl);
	if (vmf.munlock_page)
		munlock_cow_page(vmf.munlock_page, mm);
	return err;
}

/*
 * follow_pte_slot - the hardware walker's check of one pte slot (ptep may
 * be NULL): if it allows the access, set young (and dirty for a write) and
 * return 0 with *pagep the frame (the zero page for special ptes) and
 * *ptev the pte as it now is.  Else -EAGAIN.  ptep's table lock held.
 */
static int follow_pte_slot(struct umm_mm *mm, uintptr_t addr, pte_t *ptep, unsigned int flags,
			   struct page **pagep, pte_t *ptev)
{
	pte_t pte, entry;

	*pagep = NULL;
	if (!ptep)
		return -EAGAIN;
	assert_pte_locked(mm, ptep);
	pte = *ptep;
	if (!pte_accessible(pte))
		return -EAGAIN;
	if ((flags & FAULT_FLAG_WRITE) && !pte_allows_write(mm, pte, flags))
		return -EAGAIN;
	/* a writable pte never maps an anon page another mm can reach */
	VM_BUG_ON(pte_write(pte) && pte_needs_unshare(mm, pte, FAULT_FLAG_PIN));
	if (pte_needs_unshare(mm, pte, flags))
		return -EAGAIN;
	entry = pte_mkyoung(pte);
	if (flags & FAULT_FLAG_WRITE)
		entry = pte_mkdirty(entry);
	if (entry != pte)
		set_pte_at(mm, addr, ptep, entry);
	*pagep = pfn_to_page(mm_phys(mm), pte_pfn(entry));
	if (ptev)
		*ptev = entry;
	return 0;
}

/**
 * follow_pte_access - does the pte at addr allow the access?  If so, set
 * young (and dirty for a write) as a hardware walker would and return 0
 * with *pagep the mapped frame (the zero page for special ptes).  Else
 * -EAGAIN with *pagep NULL: a fault is needed.  mmap_lock held; takes and
 * releases the pte table's lock.
 */
int follow_pte_access(struct umm_mm *mm, uintptr_t addr, unsigned int flags, struct page **pagep)
{
	struct fmutex *ptl;
	pte_t *ptep = pte_offset_map_lock(mm, addr, &ptl);
	int ret;

	if (!ptep) {
		*pagep = NULL;
		return -EAGAIN;
	}
	ret = follow_pte_slot(mm, addr, ptep, flags, pagep, NULL);
	pte_unmap_unlock(ptep, ptl);
	return ret;
}

/*
 * pte_may_allow - might a walker let this access through the pte?  A hint
 * from a lockless read: follow_pte_slot decides under the table lock (a
 * forced write through a read-only pte depends on the page, a pin on
 * whether the page is exclusive).
 */
static inline bool pte_may_allow(pte_t pte, unsigned int flags)
{
	return pte_accessible(pte) &&
	       (!(flags & FAULT_FLAG_WRITE) || pte_write(pte) || (flags & FAULT_FLAG_FORCE));
}

/**
 * follow_or_fault - what a CPU does on a TLB miss: walk the page table
 * and, while the pte does not allow the access, fault.  The walk peeks at
 * the pte without its lock: a pte that seems to allow the access is
 * confirmed under the table lock; one that does not goes straight to the
 * fault (with FAULT_FLAG_PTE_NONE when it was empty), which returns with
 * the table locked and the slot in hand, so the common miss takes the
 * table lock once and walks the tables once.  mmap_lock held for read.
 * Returns 0 with the pte table lock HELD (*ptlp), *pagep the frame and
 * *ptev the pte (young, and dirty for writes); or a fault's error with no
 * page-table lock held.
 */
int follow_or_fault(struct umm_mm *mm, uintptr_t addr, unsigned int flags,
		    struct page **pagep, pte_t *ptev, struct fmutex **ptlp)
{
	pte_t *ptep = pte_offset_map(mm, addr);
	pte_t pte = ptep ? ptep_get_lockless(ptep) : 0;

	mmap_assert_locked(mm);
	for (;;) {
		struct vm_fault vmf = {
			.mm = mm,
			.address = addr & PAGE_MASK,
			.pte = ptep,            /* NULL: a table is missing, the fault builds it */
		};
		int err;

		if (pte_may_allow(pte, flags)) {
			struct fmutex *ptl = pte_lockptr(mm, ptep);

			ptl_lock(ptl);
			if (follow_pte_slot(mm, addr, ptep, flags, pagep, ptev) == 0) {
				*ptlp = ptl;
				return 0;
			}
			pte = *ptep;
			ptl_unlock(ptl);
		}
		vmf.flags = flags | (pte_none(pte) ? FAULT_FLAG_PTE_NONE : 0);
		err = __handle_mm_fault(&vmf);
		if (vmf.munlock_page) {
			/* the recheck needs ptl dropped: do it, then walk again */
			if (!err)
				ptl_unlock(vmf.ptl);
			munlock_cow_page(vmf.munlock_page, mm);
			if (err)
				return err;
			ptep = vmf.pte;
			pte = ptep_get_lockless(ptep);
			continue;
		}
		if (err)
			return err;
		if (follow_pte_slot(mm, addr, vmf.pte, flags, pagep, ptev) == 0) {
			*ptlp = vmf.ptl;
			return 0;
		}
		/* another thread changed the pte while the fault had ptl dropped */
		ptep = vmf.pte;
		pte = *ptep;
		ptl_unlock(vmf.ptl);
	}
}

/* ---- zap ---- */

struct zap_walk {
	struct mmu_gather *tlb;
	struct vm_area_struct *vma;
	bool keep_layout;       /* nonlinear vma: leave a file pte where a file page was */
};

/* zap_one - clear one pte, releasing what it held into the gather.  ptl held. */
static int zap_one(struct umm_mm *mm, pte_t *ptep, uintptr_t addr, void *arg)
{
	struct zap_walk *zw = arg;
	pte_t pte = ptep_get_and_clear(mm, addr, ptep);   /* asserts ptl */
	struct page *page;

	if (pte_is_swap(pte)) {
		/* a swapped-out anon page: the pte's hold on the slot goes */
		unsigned long origin = zw->keep_layout ? swap_origin(mm->sys, pte_to_swp_entry(pte)) : 0;

		swap_free(mm->sys, pte_to_swp_entry(pte));
		dec_mm_counter(mm, MM_SWAPENTS);
		if (origin)     /* a nonlinear window's private copy: its file pte comes back */
			set_pte_at(mm, addr, ptep, pgoff_to_pte(origin - 1) | pte_ownprot_bits(pte));
		return 0;
	}
	if (!pte_present(pte))
		return 0;       /* nonlinear-file entry: nothing held */
	if (pte_special(pte)) {
		tlb_track(zw->tlb, addr);
		return 0;
	}
	page = pfn_to_page(mm_phys(mm), pte_pfn(pte));
	if (pte_dirty(pte) && !PageAnon(page))
		set_page_dirty(page);
	if (zw->keep_layout && (!PageAnon(page) || anon_origin(page)))
		set_pte_at(mm, addr, ptep, (pte & PTE_OWNPROT_MASK) |
			   pgoff_to_pte(PageAnon(page) ? anon_origin(page) - 1 : page->index));
	page_remove_rmap(page, zw->vma, addr, ptep);
	dec_mm_counter(mm, vma_page_counter(zw->vma, page));
	tlb_remove_page(zw->tlb, page, addr);
	return 0;
}

/* zap_keep_one - zap_one for a zap that keeps a nonlinear layout: file ptes stay.  ptl held. */
static int zap_keep_one(struct umm_mm *mm, pte_t *ptep, uintptr_t addr, void *arg)
{
	if (pte_is_file(*ptep))
		return 0;
	return zap_one(mm, ptep, addr, arg);
}

/**
 * zap_pte_range - clear every pte of vma in [start, end), gathering the
 * pages into tlb (released after the shootdown).  mmap_lock or
 * page_table_lock held; takes each pte table's lock in turn.
 */
void zap_pte_range(struct mmu_gather *tlb, struct vm_area_struct *vma, uintptr_t start, uintptr_t end)
{
	struct zap_walk zw = { .tlb = tlb, .vma = vma };

	VM_BUG_ON(tlb->mm != vma->vm_mm);
	VM_BUG_ON(start < vma->vm_start || end > vma->vm_end);
	assert_pgtables_stable(vma->vm_mm);
	(void)walk_pte_range(vma->vm_mm, start, end, zap_one, &zw);
}

/**
 * zap_pte_locked - zap_pte_range for the one pte at @ptep (@addr in @vma)
 * under its table lock, which the caller holds: the pte is cleared and
 * what it held goes into @tlb (released after the shootdown), a dirty pte
 * of a file page dirtying the page first.  Used by fremap.c, which clears
 * and refills a window's ptes in one pass under one lock.  ptl held.
 */
void zap_pte_locked(struct mmu_gather *tlb, struct vm_area_struct *vma, pte_t *ptep, uintptr_t addr)
{
	struct zap_walk zw = { .tlb = tlb, .vma = vma };

	VM_BUG_ON(tlb->mm != vma->vm_mm);
	(void)zap_one(vma->vm_mm, ptep, addr, &zw);
}

/**
 * zap_page_range - remove every pte of vma in [start, end) (clamped to
 * the vma).  mmap_lock held (read or write); takes ptl.  Page tables are
 * kept; the pages go after the TLB shootdown.
 */
void zap_page_range(struct vm_area_struct *vma, uintptr_t start, uintptr_t end)
{
	struct umm_mm *mm = vma->vm_mm;
	struct mmu_notifier_range range;
	struct mmu_gather tlb;

	start = MAX(start, vma->vm_start);
	end = MIN(end, vma->vm_end);
	if (start >= end)
		return;
	mmap_assert_locked(mm);
	mmu_notifier_range_init(&range, UMM_MMU_UNMAP, mm, start, end);
	mmu_notifier_invalidate_range_start(&range);
	tlb_gather_mmu(&tlb, mm);
	zap_pte_range(&tlb, vma, start, end);
	tlb_finish_mmu(&tlb);
	mmu_notifier_invalidate_range_end(&range);
}

/**
 * zap_page_range_keep - a zap that is not an unmap (MADV_DONTNEED and the
 * like): as zap_page_range, but in a nonlinear vma each pte that mapped a
 * file page becomes the file pte for that page's offset (its own
 * protection kept), and file ptes stay, so the window's layout survives
 * and the next access faults the same file page back in.  In a linear vma
 * it is zap_page_range.  mmap_lock held (read or write); takes ptl.
 */
void zap_page_range_keep(struct vm_area_struct *vma, uintptr_t start, uintptr_t end)
{
	struct umm_mm *mm = vma->vm_mm;
	struct mmu_notifier_range range;
	struct mmu_gather tlb;
	struct zap_walk zw = { .tlb = &tlb, .vma = vma, .keep_layout = vma->vm_flags & VM_NONLINEAR };

	start = MAX(start, vma->vm_start);
	end = MIN(end, vma->vm_end);
	if (start >= end)
		return;
	mmap_assert_locked(mm);
	mmu_notifier_range_init(&range, UMM_MMU_MADVISE, mm, start, end);
	mmu_notifier_invalidate_range_start(&range);
	tlb_gather_mmu(&tlb, mm);
	if (zw.keep_layout)
		(void)walk_pte_range(mm, start, end, zap_keep_one, &zw);
	else
		zap_pte_range(&tlb, vma, start, end);
	tlb_finish_mmu(&tlb);
	mmu_notifier_invalidate_range_end(&range);
}

/* ---- fork ---- */

/* Chain blocks fork reserves at a time (pte chains): one per pte that may need one. */
#define COPY_RMAP_RESERVE 64

struct copy_walk {
	struct vm_area_struct *dst_vma, *src_vma;
	bool wrprotected;
	struct page *prealloc;          /* frame for the next copy of a maybe-pinned page */
};

/*
 * page_maybe_pinned - may anon page `page` of the parent be pinned?
 * usermm has no separate pin count: a pin is a plain reference.  Every
 * pte that maps a page holds one reference, so a reference count above
 * the map count means someone else holds the page.  During fork, for a
 * page exclusive to the parent, the only such holders are pins: the
 * parent's faults, zaps and pins need its mmap_lock, which fork holds for
 * write; another mm's transient holders (a pending TLB gather, a COW
 * fault's temporary reference) hold pages that mm maps or just unmapped,
 * and a page becomes exclusive only when it is new or when one pte and
 * one reference are all it has left.  The test is conservative: a
 * false positive costs one copy, and a pinned page is never missed.
 * Linux uses a pin bias in the refcount (GUP_PIN_COUNTING_BIAS) for the
 * same question.  The swap cache holds one more reference of its own,
 * discounted here.  Both table locks held.
 */
static bool page_maybe_pinned(struct page *page)
{
	return page_count(page) > page_mapcount(page) + (PageSwapCache(page) ? 1 : 0);
}

/*
 * copy_present_page - the child gets its own copy of an exclusive anon
 * page that may be pinned, so the pin stays with the parent's mapping and
 * nothing stored through it ever shows in the child (Linux's
 * page_needs_cow_for_dma).  The frame was allocated before the ptls were
 * taken (cw->prealloc).  The parent's pte is left as it was.  Both table
 * locks held.
 */
static void copy_present_page(struct copy_walk *cw, struct page *page, uintptr_t addr,
			      pte_t pte, pte_t *dst_pte)
{
	struct umm_mm *dst_mm = cw->dst_vma->vm_mm;
	struct page *new = cw->prealloc;

	cw->prealloc = NULL;
	copy_frame(new, page);
	new->private = anon_origin(page);   /* a private nonlinear copy's origin */
	SetPageAnonExclusive(new);
	pte = pfn_pte(page_to_pfn(new), pte & ~PTE_PFN_MASK);
	set_pte_at(dst_mm, addr, dst_pte, pte);
	page_add_new_anon_rmap(new, cw->dst_vma, addr, dst_pte);
	inc_mm_counter(dst_mm, MM_ANONPAGES);
}

/*
 * copy_one - duplicate one source pte into the child's slot.  Both table
 * locks held.  Returns 0, or -EAGAIN (nothing done for addr) when a page
 * must be copied and no frame is preallocated: the caller allocates one
 * with the locks dropped and retries addr; -ENOSPC when a pte-chain
 * block is needed; -ENOMEM when a swap slot's count is at its maximum.
 */
static int copy_one(struct copy_walk *cw, struct umm_mm *src_mm, pte_t *src_pte,
		    pte_t *dst_pte, uintptr_t addr)
{
	struct umm_mm *dst_mm = cw->dst_vma->vm_mm;
	pte_t pte = *src_pte;
	struct page *page;

	assert_pte_locked(src_mm, src_pte);
	assert_pte_locked(dst_mm, dst_pte);
	VM_BUG_ON(!pte_none(*dst_pte));
	if (pte_is_swap(pte)) {
		/* the child's swap pte is one more holder of the slot */
		if (swap_duplicate(src_mm->sys, pte_to_swp_entry(pte)))
			return -ENOMEM;
		set_pte_at(dst_mm, addr, dst_pte, pte);
		inc_mm_counter(dst_mm, MM_SWAPENTS);
		return 0;
	}
	if (!pte_present(pte)) {
		if (pte_is_file(pte))
			set_pte_at(dst_mm, addr, dst_pte, pte);
		return 0;
	}
	if (!pte_special(pte)) {
		page = pfn_to_page(mm_phys(src_mm), pte_pfn(pte));
		if (PageAnon(page) && PageAnonExclusive(page) && page_maybe_pinned(page)) {
			if (!cw->prealloc)
				return -EAGAIN;
			copy_present_page(cw, page, addr, pte, dst_pte);
			return 0;
		}
		if (!rmap_reserved(dst_mm->sys))
			return -ENOSPC;     /* pte chains: reserve blocks with the locks dropped */
		get_page(page);
		if (PageAnon(page)) {
			/* shared from now on: the next write to it copies or rechecks */
			ClearPageAnonExclusive(page);
			page_add_anon_rmap(page, cw->dst_vma, addr, dst_pte);
		} else {
			page_add_file_rmap(page, cw->dst_vma, addr, dst_pte);
		}
		inc_mm_counter(dst_mm, vma_page_counter(cw->src_vma, page));
		if (!vma_is_shared(cw->src_vma) && pte_write(pte)) {
			pte = pte_wrprotect(pte);
			set_pte_at(src_mm, addr, src_pte, pte);
			cw->wrprotected = true;
		}
	}
	set_pte_at(dst_mm, addr, dst_pte, pte);
	return 0;
}

/*
 * copy_pte_table - copy the ptes of one parent pte table that lie in
 * [addr, end).  Called with no table lock held: checks that the table
 * maps anything, builds the child's table (page_table_lock of the child,
 * no ptl held), then takes the parent's table lock and the child's
 * (subclass 1) and copies.  0 or -ENOMEM.
 */
static int copy_pte_table(struct umm_mm *src_mm, pte_t *src_pte, uintptr_t addr, uintptr_t end,
			  void *arg)
{
	struct copy_walk *cw = arg;
	struct umm_mm *dst_mm = cw->dst_vma->vm_mm;
	struct fmutex *src_ptl = pte_lockptr(src_mm, src_pte), *dst_ptl;
	pte_t *dst_pte;
	bool used;

	ptl_lock(src_ptl);
	used = pte_table_page(src_mm, src_pte)->pt_used != 0;
	ptl_unlock(src_ptl);
	if (!used)
		return 0;
	dst_pte = pte_alloc(dst_mm, addr);
	if (!dst_pte)
		return -ENOMEM;
	dst_ptl = pte_lockptr(dst_mm, dst_pte);
	ptl_lock(src_ptl);
	ptl_lock_nested(dst_ptl, SINGLE_DEPTH_NESTING);
	while (addr < end) {
		int err = pte_none(*src_pte) ? 0 : copy_one(cw, src_mm, src_pte, dst_pte, addr);

		if (err == -ENOSPC) {
			/* pte chains: refill the chain-block reserve unlocked, retry addr */
			ptl_unlock(dst_ptl);
			ptl_unlock(src_ptl);
			if (rmap_prepare(dst_mm->sys, COPY_RMAP_RESERVE))
				return -ENOMEM;
			ptl_lock(src_ptl);
			ptl_lock_nested(dst_ptl, SINGLE_DEPTH_NESTING);
			continue;
		}
		if (err == -ENOMEM) {
			ptl_unlock(dst_ptl);
			ptl_unlock(src_ptl);
			return -ENOMEM;
		}
		if (err == -EAGAIN) {
			/*
			 * A maybe-pinned page needs a frame: allocate it with the
			 * locks dropped and retry addr.  A truncate may change the
			 * parent's ptes meanwhile; the retry sees that as the copy
			 * would have anyway.  The tables stay (both mmap_locks).
			 */
			ptl_unlock(dst_ptl);
			ptl_unlock(src_ptl);
			VM_BUG_ON(cw->prealloc);
			cw->prealloc = alloc_page(mm_phys(src_mm), 0);
			if (!cw->prealloc)
				return -ENOMEM;
			ptl_lock(src_ptl);
			ptl_lock_nested(dst_ptl, SINGLE_DEPTH_NESTING);
			continue;
		}
		addr += PAGE_SIZE;
		src_pte++;
		dst_pte++;
	}
	ptl_unlock(dst_ptl);
	ptl_unlock(src_ptl);
	return 0;
}

/**
 * copy_page_range - fork: copy src_vma's ptes into dst_vma's mm.  Private
 * writable ptes become read-only in both (copy-on-write); the parent's TLB
 * is flushed for them.  An exclusive anon page that may be pinned is
 * copied for the child instead (copy_present_page); its frame is
 * allocated with both table locks dropped, and the copy resumes where it
 * stopped; so are pte-chain blocks, COPY_RMAP_RESERVE at a time.  Both mmap_locks held for write; takes, table by table, the
 * child's page_table_lock (to build its table), then the parent's pte
 * table lock and the child's.  0 or -ENOMEM (the child is partly filled
 * and the caller tears it down).
 */
int copy_page_range(struct vm_area_struct *dst_vma, struct vm_area_struct *src_vma)
{
	struct umm_mm *src_mm = src_vma->vm_mm, *dst_mm = dst_vma->vm_mm;
	struct copy_walk cw = { .dst_vma = dst_vma, .src_vma = src_vma };
	struct mmu_notifier_range range;
	int err;

	VM_BUG_ON(src_mm == dst_mm);
	VM_BUG_ON(dst_vma->vm_start != src_vma->vm_start || dst_vma->vm_end != src_vma->vm_end);
	mmap_assert_write_locked(src_mm);
	mmap_assert_write_locked(dst_mm);
	/* only a private vma's ptes are write-protected: nothing else to tell */
	mmu_notifier_range_init(&range, UMM_MMU_FORK, src_mm, src_vma->vm_start, src_vma->vm_end);
	if (!vma_is_shared(src_vma))
		mmu_notifier_invalidate_range_start(&range);
	err = walk_pte_tables(src_mm, src_vma->vm_start, src_vma->vm_end, copy_pte_table, &cw);
	rmap_unprepare(dst_mm->sys);
	if (cw.prealloc)
		put_page(cw.prealloc);  /* the page was unmapped meanwhile */
	if (cw.wrprotected)
		mmu_notifier_invalidate_secondary_tlbs(src_mm, src_vma->vm_start, src_vma->vm_end);
	mmu_notifier_invalidate_range_end(&range);
	return err;
}

/* ---- mprotect ---- */

struct protect_walk {
	unsigned long vm_flags;
	bool changed;
};

/* protect_one - apply the new flags to one pte.  ptl held. */
static int protect_one(struct umm_mm *mm, pte_t *ptep, uintptr_t addr, void *arg)
{
	struct protect_walk *pw = arg;
	pte_t pte = *ptep, entry;

	assert_pte_locked(mm, ptep);
	if (pte_is_file(pte) && (pte & PTE_OWNPROT_MASK)) {
		set_pte_at(mm, addr, ptep, pte & ~PTE_OWNPROT_MASK);
		return 0;
	}
	if (pte_is_swap(pte) && pte_ownprot(pte)) {
		set_pte_at(mm, addr, ptep, pte & ~PTE_SWP_OWNPROT_MASK);
		return 0;
	}
	if (!pte_present(pte))
		return 0;
	/* a nonlinear window's per-pte protection gives way to the vma's */
	entry = pte_modify(pte & ~PTE_OWNPROT_MASK, pw->vm_flags);
	if (entry != pte) {
		set_pte_at(mm, addr, ptep, entry);
		pw->changed = true;
	}
	return 0;
}

/**
 * change_protection - apply vma->vm_flags to the mapped ptes of
 * [start, end) and shoot down the TLB if any changed.  mmap_lock held for
 * write; takes each pte table's lock in turn.
 */
void change_protection(struct vm_area_struct *vma, uintptr_t start, uintptr_t end)
{
	struct umm_mm *mm = vma->vm_mm;
	struct protect_walk pw = { .vm_flags = vma->vm_flags };
	struct mmu_notifier_range range;

	mmap_assert_write_locked(mm);
	mmu_notifier_range_init(&range, UMM_MMU_PROTECTION, mm, start, end);
	mmu_notifier_invalidate_range_start(&range);
	(void)walk_pte_range(mm, start, end, protect_one, &pw);
	if (pw.changed)
		mmu_notifier_invalidate_secondary_tlbs(mm, start, end);
	mmu_notifier_invalidate_range_end(&range);
}

/* ---- truncate ---- */

struct nonlinear_zap {
	struct zap_walk zw;
	uint64_t first, end;
};

/* zap_nonlinear_one - zap a pte of a nonlinear window if it maps [first, end). */
static int zap_nonlinear_one(struct umm_mm *mm, pte_t *ptep, uintptr_t addr, void *arg)
{
	struct nonlinear_zap *nz = arg;
	pte_t pte = *ptep;
	uint64_t pgoff;

	assert_pte_locked(mm, ptep);
	if (pte_is_file(pte)) {
		return 0;       /* the offset stays: an extension brings the page back */
	} else if (pte_is_swap(pte)) {
		/* a swapped-out private copy: its recorded origin, else its linear page */
		unsigned long origin = swap_origin(mm->sys, pte_to_swp_entry(pte));

		pgoff = origin ? origin - 1 : linear_page_index(nz->zw.vma, addr);
	} else if (pte_present(pte) && !pte_special(pte)) {
		struct page *page = pfn_to_page(mm_phys(mm), pte_pfn(pte));

		/*
		 * A private copy made in the window records its origin; one
		 * made before the vma became nonlinear is of its linear page,
		 * which its index (the linear index) names.
		 */
		pgoff = (PageAnon(page) && anon_origin(page)) ? anon_origin(page) - 1 : page->index;
	} else {
		return 0;
	}
	if (pgoff >= nz->first && pgoff < nz->end)
		return zap_one(mm, ptep, addr, &nz->zw);        /* keep_layout: a file pte stays */
	return 0;
}

/*
 * unmap_vma_pages - zap what vma maps of object pages [first, end).  A
 * nonlinear vma may show those pages anywhere: all its ptes are scanned
 * (as Linux scanned its i_mmap_nonlinear list), and each present pte of
 * such a page becomes the file pte for its offset, file ptes staying, so
 * truncate followed by extension keeps the window's layout.
 * i_mmap_lock held, no mmap_lock: page_table_lock is held across the walk
 * so that no page table of the mm is freed under it.
 */
static void unmap_vma_pages(struct vm_area_struct *vma, uint64_t first, uint64_t end)
{
	struct umm_mm *mm = vma->vm_mm;
	uint64_t vfirst = vma->vm_pgoff, vend = vfirst + vma_pages(vma);
	uint64_t lo = MAX(first, vfirst), hi = MIN(end, vend);
	struct mmu_notifier_range range;
	struct mmu_gather tlb;

	lockdep_assert_held(&vma->vm_obj->i_mmap_lock);
	if (!(vma->vm_flags & VM_NONLINEAR) && lo >= hi)
		return;
	if (vma->vm_flags & VM_NONLINEAR)
		mmu_notifier_range_init(&range, UMM_MMU_TRUNCATE, mm, vma->vm_start, vma->vm_end);
	else
		mmu_notifier_range_init(&range, UMM_MMU_TRUNCATE, mm,
					vma->vm_start + ((lo - vfirst) << PAGE_SHIFT),
					vma->vm_start + ((hi - vfirst) << PAGE_SHIFT));
	tlb_gather_mmu(&tlb, mm);
	page_table_lock(mm);
	/* under page_table_lock: a registration waits for it (mmu_notifier.c) */
	mmu_notifier_invalidate_range_start(&range);
	if (vma->vm_flags & VM_NONLINEAR) {
		struct nonlinear_zap nz = { { &tlb, vma, true }, first, end };

		(void)walk_pte_range(mm, vma->vm_start, vma->vm_end, zap_nonlinear_one, &nz);
	} else {
		zap_pte_range(&tlb, vma, vma->vm_start + ((lo - vfirst) << PAGE_SHIFT),
			      vma->vm_start + ((hi - vfirst) << PAGE_SHIFT));
	}
	page_table_unlock(mm);
	tlb_finish_mmu(&tlb);
	mmu_notifier_invalidate_range_end(&range);
}

struct unmap_range {
	uint64_t first, end;
};

/* unmap_linear_vma - i_mmap_tree_foreach callback of unmap_mapping_range. */
static int unmap_linear_vma(struct vm_area_struct *vma, void *arg)
{
	struct unmap_range *ur = arg;

	unmap_vma_pages(vma, ur->first, ur->end);
	return 0;
}

/**
 * unmap_mapping_range - zap every pte that maps object pages [first, end)
 * of obj, in every vma of every mm, private COW copies of those pages
 * included (as truncate requires).  The vmas come from the object's
 * interval tree (i_mmap_tree.c), nonlinear ones from its i_mmap list,
 * under either reverse-map scheme.  Takes obj->i_mmap_lock, then each
 * mm's page_table_lock and its pte table locks in turn; no mmap_lock.
 * Installed as sys->unmap_mapping_range.
 */
void unmap_mapping_range(struct umm_object *obj, uint64_t first, uint64_t end)
{
	struct vm_area_struct *vma;
	struct unmap_range ur = { first, end };

	if (first >= end)
		return;
	i_mmap_lock_write(obj);
	/* the linear vmas over [first, end) from the interval tree, then any nonlinear ones */
	(void)i_mmap_tree_foreach(obj, first, end - 1, unmap_linear_vma, &ur);
	if (obj->i_mmap_nonlinear)
		list_for_each_entry(vma, &obj->i_mmap, obj_link)
			if (vma->vm_flags & VM_NONLINEAR)
				unmap_vma_pages(vma, first, end);
	i_mmap_unlock_write(obj);
}
