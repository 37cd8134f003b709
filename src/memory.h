/* SPDX-License-Identifier: MIT */
/*
 * memory.h - the fault handler and the pte-range operations built on the
 * page tables: zap (unmap), copy (fork), change protection, follow.
 */
#ifndef UMM_MEMORY_H
#define UMM_MEMORY_H

#include <errno.h>
#include "pgtable.h"
#include "vma.h"

#define FAULT_FLAG_WRITE 0x1   /* write access */
#define FAULT_FLAG_EXEC  0x2   /* instruction fetch */
/*
 * FAULT_FLAG_PTE_NONE - a hint from a caller that saw the pte empty just
 * before (follow_or_fault, without ptl): the fault prepares the new page
 * (allocates and zeroes it, or finds and locks the page-cache page)
 * before taking ptl, and so takes ptl once instead of twice.  A wrong
 * hint only costs the work: what was prepared is dropped, and a failed
 * preparation is the fault's answer only if the pte is empty under ptl.
 */
#define FAULT_FLAG_PTE_NONE 0x4
/*
 * FAULT_FLAG_FORCE - with FAULT_FLAG_WRITE: a forced write (UMM_PIN_FORCE,
 * Linux's FOLL_FORCE, what a debugger's poke uses) is allowed into a
 * private mapping that is not writable.  It breaks COW into an exclusive
 * anonymous copy whose pte stays read-only, so ordinary stores still
 * fault and the file is never written.  A shared mapping without write
 * permission, or a PROT_NONE one, still fails with -EFAULT.
 */
#define FAULT_FLAG_FORCE 0x8
/*
 * FAULT_FLAG_PIN - the access takes a pin on the page (umm_pin_pages).
 * An anonymous page it reaches must be exclusive (PG_anon_exclusive): a
 * read pin of an anon page shared with another mm after fork unshares it
 * first (reuse when only we hold it, else a private copy; the pte keeps
 * its write permission, read-only), a write pin breaks COW as a write does.
 * Then no later write fault or fork can separate the pin from the mapping.
 */
#define FAULT_FLAG_PIN 0x10
/*
 * FAULT_FLAG_NONBLOCK - a file fault that maps only a page already cached
 * and uptodate, and starts no I/O: -EAGAIN otherwise (the pte is left as
 * it was).  remap_file_pages with MAP_NONBLOCK uses it.
 */
#define FAULT_FLAG_NONBLOCK 0x20

/*
 * gup_fault_flags - the fault flags for pinning with umm_pin_pages flags
 * pin_flags: FAULT_FLAG_PIN, plus FAULT_FLAG_WRITE for UMM_PIN_WRITE and
 * FAULT_FLAG_FORCE for UMM_PIN_FORCE.  -EINVAL for unknown flags and for
 * UMM_PIN_FORCE without UMM_PIN_WRITE.
 */
static inline int gup_fault_flags(int pin_flags)
{
	if (pin_flags & ~(UMM_PIN_WRITE | UMM_PIN_FORCE))
		return -EINVAL;
	if ((pin_flags & UMM_PIN_FORCE) && !(pin_flags & UMM_PIN_WRITE))
		return -EINVAL;
	return FAULT_FLAG_PIN | ((pin_flags & UMM_PIN_WRITE) ? FAULT_FLAG_WRITE : 0) |
	       ((pin_flags & UMM_PIN_FORCE) ? FAULT_FLAG_FORCE : 0);
}

/*
 * handle_mm_fault - resolve an access to addr as a CPU's fault would.
 * mmap_lock held for read.  Returns 0 (normally a pte allowing the access
 * is now installed, young, and dirty for writes; a fault that found its
 * pte changed under it, e.g. a swap entry freed meanwhile, returns 0
 * without one: callers look at the pte again and refault), -EFAULT (no
 * vma or wrong protection), -EIO (past the end of the object or backing
 * read failed), -ENOMEM, -EAGAIN (FAULT_FLAG_NONBLOCK and the page is
 * not cached).  Counts minor/major/COW faults in the mm.
 */
int handle_mm_fault(struct umm_mm *mm, uintptr_t addr, unsigned int flags);

/*
 * follow_pte_access - check that the pte at addr allows the access
 * (write: writable) and set young (and dirty for writes) as a hardware
 * walker would.  mmap_lock held; takes and releases the pte table's lock.
 * Returns the pfn's page via *pagep (NULL for none); 0 when the access is
 * allowed, -EAGAIN when a fault is needed.
 */
int follow_pte_access(struct umm_mm *mm, uintptr_t addr, unsigned int flags, struct page **pagep);
/*
 * follow_or_fault - walk, and fault while the pte does not allow the
 * access (a TLB miss).  mmap_lock held for read.  0 with the pte table's
 * lock HELD and returned in *ptlp (release it with ptl_unlock), *pagep
 * the frame and *ptev the pte; or -EFAULT/-EIO/-ENOMEM with no page-table
 * lock held.  A miss that faults takes the table lock once.
 */
int follow_or_fault(struct umm_mm *mm, uintptr_t addr, unsigned int flags,
		    struct page **pagep, pte_t *ptev, struct fmutex **ptlp);

/*
 * mmu_gather - pages unmapped by a zap are kept referenced until the TLB
 * shootdown for the range is done, then released (tlb_finish_mmu).
 */
#define MMU_GATHER_BATCH 64
struct mmu_gather {
	struct umm_mm *mm;
	uintptr_t start, end;        /* range flushed so far (widened as ptes are cleared) */
	unsigned int nr;
	bool need_flush;
	struct page *pages[MMU_GATHER_BATCH];
};
void tlb_gather_mmu(struct mmu_gather *tlb, struct umm_mm *mm);
/* tlb_remove_page - queue a page reference to drop after the flush (flushes when the batch fills).  ptl may be held. */
void tlb_remove_page(struct mmu_gather *tlb, struct page *page, uintptr_t addr);
/* tlb_flush_mmu - shoot down and release what is queued. */
void tlb_flush_mmu(struct mmu_gather *tlb);
void tlb_finish_mmu(struct mmu_gather *tlb);

/*
 * zap_page_range - remove every mapped pte of vma in [start, end): drop
 * map counts, RSS and page references (after the TLB shootdown); a dirty
 * pte of a file page marks the page dirty first so no write is lost.
 * mmap_lock held (read or write); takes each pte table's lock in turn.
 * Page tables are not freed.
 */
void zap_page_range(struct vm_area_struct *vma, uintptr_t start, uintptr_t end);
/*
 * zap_pte_range - zap_page_range's walk, gathering into tlb.  mmap_lock
 * or page_table_lock held (tables stay); takes each pte table's lock.
 */
void zap_pte_range(struct mmu_gather *tlb, struct vm_area_struct *vma, uintptr_t start, uintptr_t end);
/*
 * zap_pte_locked - zap_pte_range for one pte whose table lock the caller
 * holds (the pte is cleared, what it held gathered into tlb).  ptl held.
 */
void zap_pte_locked(struct mmu_gather *tlb, struct vm_area_struct *vma, pte_t *ptep, uintptr_t addr);
/*
 * zap_page_range_keep - a zap that is not an unmap (MADV_DONTNEED, reclaim
 * of a range): in a nonlinear vma a pte that mapped a file page becomes
 * the file pte for its offset and file ptes stay, so the layout survives;
 * elsewhere it is zap_page_range.  mmap_lock held; takes ptl.
 */
void zap_page_range_keep(struct vm_area_struct *vma, uintptr_t start, uintptr_t end);

/*
 * copy_page_range - fork: copy src_vma's ptes into dst (dst_vma is its
 * copy).  Private writable mappings become copy-on-write in both mms,
 * except anonymous pages that may be pinned: the child gets its own copy
 * at once.  Both mmap_locks held for write; takes the child's
 * page_table_lock, then table by table the parent's pte table lock and the
 * child's (nested).  0 or -ENOMEM (dst partially filled: the caller tears
 * dst down).
 */
int copy_page_range(struct vm_area_struct *dst_vma, struct vm_area_struct *src_vma);

/*
 * change_protection - apply vma->vm_flags (already updated) to the mapped
 * ptes of [start, end) (pte_modify) and shoot down the TLB.  mmap_lock
 * write; takes each pte table's lock in turn.
 */
void change_protection(struct vm_area_struct *vma, uintptr_t start, uintptr_t end);

/*
 * unmap_mapping_range - zap ptes mapping object pages [first, end) in every
 * vma of every mm that maps obj (truncate).  Installed as
 * sys->unmap_mapping_range.  Takes i_mmap_lock, then per vma the mm's
 * page_table_lock and its pte table locks.
 */
void unmap_mapping_range(struct umm_object *obj, uint64_t first, uint64_t end);

#endif
