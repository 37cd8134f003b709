/* SPDX-License-Identifier: MIT */
/*
 * madvise.c - umm_madvise: advice about the use of a range.
 *
 * Theory of operation.  Every advice is validated against the whole range
 * before anything is done (madvise_check, in address order, first
 * problem wins): a hole is -ENOMEM, an advice the vma does not take is
 * -EINVAL.  Linux applies the advice to the vmas before a hole and then
 * returns -ENOMEM; usermm changes nothing then.  The advices:
 *
 *   NORMAL, RANDOM, SEQUENTIAL  the readahead hint, VM_RAND_READ /
 *               VM_SEQ_READ on the vmas; DONTFORK / DOFORK set or clear
 *               VM_DONTCOPY (umm_fork leaves such vmas out).  Like
 *               mprotect: the range is isolated (split at its edges),
 *               the flags set, and what became compatible merged again.
 *               mmap_lock for write.
 *   WILLNEED    start reading the missing pages of file vmas into the
 *               page cache and return (force_page_cache_readahead queues
 *               the reads of the whole range to the I/O backend; errors
 *               are not reported, as Linux does not report them); shmem
 *               pages are filled at once.  mmap_lock is dropped around
 *               each vma's queueing as Linux does.  Anonymous vmas:
 *               nothing (swapped-out pages are not read in ahead).
 *   DONTNEED    zap the range: private anonymous memory reads back as
 *               zeroes, file pages refault from the page cache (dirty
 *               shared pages stay dirty there), private copies are lost.
 *               Not on MAP_LOCKED vmas (-EINVAL, as Linux).  Read lock.
 *   FREE        private anonymous vmas only (-EINVAL otherwise, and on
 *               MAP_LOCKED ones).  Each page mapped only here is made
 *               clean and old in its pte and its PG_dirty cleared, and
 *               the TLB entries shot down, so the next write goes through
 *               the walker again and sets the pte dirty.  That marks the
 *               page "lazily freeable": reclaim may drop a page whose pte
 *               is still clean and read it back as zeroes, a written one
 *               it keeps.  Reclaim (vmscan.c) does not drop such pages
 *               yet: anonymous pages go to swap or stay, so a read after
 *               MADV_FREE returns the old data (which Linux allows too; it
 *               may return either).
 *   COLD        the range's mapped pages: ptes made old, referenced bits
 *               cleared, active pages moved to the tail of their
 *               inactive LRU list (first to be reclaimed); pages already
 *               inactive stay where they are.  Not on MAP_LOCKED vmas
 *               (-EINVAL).  Read lock.
 *   PAGEOUT     reclaim the range's mapped pages now (vmscan.c
 *               reclaim_pages): clean file pages are dropped, dirty ones
 *               written back first, from every address space that maps
 *               them; anonymous and shmem pages go to swap; pages
 *               locked, pinned, under I/O, or swap-backed (anonymous,
 *               shmem) without a free swap slot stay.  Pages are
 *               collected PAGEOUT_BATCH at a time under the pte table
 *               locks and reclaimed with none held.  Not on MAP_LOCKED
 *               vmas (-EINVAL).  Read lock.
 *   POPULATE_READ / POPULATE_WRITE  populate_range (gup.c) over the
 *               range; a vma that does not allow the access is -EINVAL,
 *               a page that would be -EIO on access is -EFAULT, no memory
 *               -ENOMEM.  Read lock.
 *
 * Locks (the order is in lockdep.h): mmap_lock (write for the flag
 * changes, read otherwise), then what the work takes: pte table locks one
 * table at a time (zap, FREE's walk, populate), page locks and tree_lock
 * (populate, WILLNEED's reads; WILLNEED's run with mmap_lock dropped).
 */
#include <errno.h>
#include <usermm/usermm.h>
#include "mmap.h"
#include "gup.h"
#include "filemap.h"
#include "rmap.h"
#include "mmu_notifier.h"
#include "vmscan.h"

static bool madvise_behavior_valid(int advice)
{
	switch (advice) {
	case MADV_NORMAL:
	case MADV_RANDOM:
	case MADV_SEQUENTIAL:
	case MADV_WILLNEED:
	case MADV_DONTNEED:
	case MADV_FREE:
	case MADV_POPULATE_READ:
	case MADV_POPULATE_WRITE:
	case MADV_DONTFORK:
	case MADV_DOFORK:
	case MADV_COLD:
	case MADV_PAGEOUT:
		return true;
	default:
		return false;
	}
}

/* madvise_need_mmap_write - advices that change vma flags. */
static bool madvise_need_mmap_write(int advice)
{
	switch (advice) {
	case MADV_NORMAL:
	case MADV_RANDOM:
	case MADV_SEQUENTIAL:
	case MADV_DONTFORK:
	case MADV_DOFORK:
		return true;
	default:
		return false;
	}
}

/* madvise_vma_ok - does this vma take the advice?  0 or -EINVAL. */
static int madvise_vma_ok(const struct vm_area_struct *vma, int advice)
{
	switch (advice) {
	case MADV_DONTNEED:
	case MADV_COLD:
	case MADV_PAGEOUT:
		return vma->vm_flags & VM_LOCKED ? -EINVAL : 0;
	case MADV_FREE:
		if ((vma->vm_flags & VM_LOCKED) || !vma_is_anonymous(vma))
			return -EINVAL;
		return 0;
	case MADV_POPULATE_READ:
		return populate_vma_allows(vma, 0) ? 0 : -EINVAL;
	case MADV_POPULATE_WRITE:
		return populate_vma_allows(vma, POPULATE_WRITE) ? 0 : -EINVAL;
	default:
		return 0;
	}
}

/*
 * madvise_check - walk [start, end) in address order: -ENOMEM at a hole,
 * -EINVAL at a vma that does not take the advice, else 0.  mmap_lock held.
 */
static int madvise_check(struct umm_mm *mm, uintptr_t start, uintptr_t end, int advice)
{
	struct vm_area_struct *vma = find_vma(mm, start);
	uintptr_t next = start;

	for (; next < end; vma = vma_next(vma)) {
		int err;

		if (!vma || vma->vm_start > next)
			return -ENOMEM;
		err = madvise_vma_ok(vma, advice);
		if (err)
			return err;
		next = vma->vm_end;
	}
	return 0;
}

/*
 * madvise_update_flags - set the vm_flags bits `set` and clear `clear` on
 * the (hole-free) range, splitting and merging as mprotect does.
 * mmap_lock held for write.  0 or -ENOMEM (a split failed; nothing changed).
 */
static int madvise_update_flags(struct umm_mm *mm, uintptr_t start, uintptr_t end,
				unsigned long clear, unsigned long set)
{
	struct vm_area_struct *vma;
	int err;

	err = mmap_isolate_range(mm, start, end, NULL);
	if (err)
		return err;
	for (vma = find_vma(mm, start); vma && vma->vm_start < end; vma = vma_next(vma))
		vma_set_flags(vma, (vma->vm_flags & ~clear) | set);
	/* Merging may free vmas: restart from the survivor each time. */
	for (vma = find_vma(mm, start); vma && vma->vm_start < end; vma = vma_next(vma))
		vma = vma_try_merge(mm, vma);
	return 0;
}

/*
 * madvise_willneed - start reading the missing file pages of [start, end)
 * into the page cache (the reads complete after the call).  Called with
 * mmap_lock held for read; like Linux, the reads are queued with it
 * dropped (the object is held by a reference), one vma at a time, and it
 * is retaken to find the next vma.  Returns with mmap_lock held for read
 * again.
 */
static void madvise_willneed(struct umm_mm *mm, uintptr_t start, uintptr_t end)
{
	uintptr_t addr = start;

	while (addr < end) {
		struct vm_area_struct *vma = find_vma(mm, addr);
		struct umm_object *obj;
		uint64_t first;
		uintptr_t s, e;

		if (!vma || vma->vm_start >= end)
			break;
		s = MAX(addr, vma->vm_start);
		e = MIN(end, vma->vm_end);
		addr = e;
		if (vma_is_anonymous(vma) || (vma->vm_flags & VM_NONLINEAR))
			continue;
		obj = vma->vm_obj;
		first = linear_page_index(vma, s);
		object_get(obj);
		mmap_read_unlock(mm);
		(void)force_page_cache_readahead(obj, first, (e - s) >> PAGE_SHIFT);
		object_put(obj);
		mmap_read_lock(mm);
	}
}

/* madvise_dontneed - zap the range in every vma. */
static void madvise_dontneed(struct umm_mm *mm, uintptr_t start, uintptr_t end)
{
	struct vm_area_struct *vma;

	for (vma = find_vma(mm, start); vma && vma->vm_start < end; vma = vma_next(vma))
		zap_page_range_keep(vma, start, end);  /* a nonlinear window keeps its layout */
}

struct free_walk {
	struct umm_mm *mm;
	bool changed;
};

/* madvise_free_one - make an exclusively mapped anon page clean and old.  Its pte table's lock held. */
static int madvise_free_one(struct umm_mm *mm, pte_t *ptep, uintptr_t addr, void *arg)
{
	struct free_walk *fw = arg;
	pte_t pte = *ptep, entry;
	struct page *page;

	if (!pte_present(pte) || pte_special(pte))
		return 0;
	page = pfn_to_page(mm->sys->phys, pte_pfn(pte));
	if (!PageAnon(page) || page_mapcount(page) != 1)
		return 0;       /* shared with a fork: another mm may still want it */
	ClearPageDirty(page);
	entry = pte_mkold(pte_mkclean(pte));
	if (entry != pte) {
		set_pte_at(mm, addr, ptep, entry);
		fw->changed = true;
	}
	return 0;
}

/* madvise_free - mark the range's exclusively mapped anon pages lazily freeable. */
static void madvise_free(struct umm_mm *mm, uintptr_t start, uintptr_t end)
{
	struct free_walk fw = { .mm = mm };
	struct mmu_notifier_range range;

	mmu_notifier_range_init(&range, UMM_MMU_MADVISE, mm, start, end);
	mmu_notifier_invalidate_range_start(&range);
	(void)walk_pte_range(mm, start, end, madvise_free_one, &fw);   /* takes each table's lock */
	if (fw.changed)
		mmu_notifier_invalidate_secondary_tlbs(mm, start, end);
	mmu_notifier_invalidate_range_end(&range);
}

/* Pages MADV_PAGEOUT collects from one walk before it reclaims them. */
#define PAGEOUT_BATCH 64

struct cold_walk {
	struct umm_mm *mm;
	bool pageout;
	unsigned int nr;
	uintptr_t next;                     /* pageout: where the walk stopped */
	struct page *pages[PAGEOUT_BATCH];  /* pageout: referenced, reclaimed after the walk */
};

/*
 * madvise_cold_one - MADV_COLD: make the pte old and its page inactive;
 * MADV_PAGEOUT: take a reference on the page for reclaim after the walk
 * (stops the walk when the batch is full).  Its pte table's lock held.
 */
static int madvise_cold_one(struct umm_mm *mm, pte_t *ptep, uintptr_t addr, void *arg)
{
	struct cold_walk *cw = arg;
	pte_t pte = *ptep;
	struct page *page;

	if (!pte_present(pte) || pte_special(pte))
		return 0;
	page = pfn_to_page(mm->sys->phys, pte_pfn(pte));
	if (cw->pageout) {
		if (cw->nr == PAGEOUT_BATCH) {
			cw->next = addr;
			return 1;
		}
		get_page(page);
		cw->pages[cw->nr++] = page;
		return 0;
	}
	if (pte_young(pte))
		set_pte_at(mm, addr, ptep, pte_mkold(pte));
	deactivate_page(mm->sys, page);
	return 0;
}

/*
 * madvise_cold - MADV_COLD: the mapped pages of the range become old and
 * inactive, first in line for reclaim.  MADV_PAGEOUT: reclaim them now
 * (vmscan.c reclaim_pages: a clean file page is dropped, a dirty one
 * written back first, an anonymous or shmem page goes to swap; a page in
 * use elsewhere, locked, pinned or swap-backed without a free swap slot
 * stays), a batch at a time, with no pte table lock held.  mmap_lock held
 * for read.
 */
static void madvise_cold(struct umm_mm *mm, uintptr_t start, uintptr_t end, bool pageout)
{
	struct cold_walk cw = { .mm = mm, .pageout = pageout };

	if (!pageout) {
		(void)walk_pte_range(mm, start, end, madvise_cold_one, &cw);
		return;
	}
	while (start < end) {
		cw.nr = 0;
		cw.next = end;
		(void)walk_pte_range(mm, start, end, madvise_cold_one, &cw);
		(void)reclaim_pages(mm->sys, cw.pages, cw.nr, NULL);
		for (unsigned int i = 0; i < cw.nr; i++)
			put_page(cw.pages[i]);
		start = cw.next;
	}
}

/* madvise_populate - POPULATE_READ/WRITE; the fault errors as madvise(2) reports them. */
static int madvise_populate(struct umm_mm *mm, uintptr_t start, uintptr_t end, bool write)
{
	int err = populate_range(mm, start, end, write ? POPULATE_WRITE : 0);

	if (err == -EIO)
		return -EFAULT;   /* SIGBUS on access: I/O error, past end of file */
	return err;
}

/**
 * umm_madvise - give advice about [addr, addr+len), as madvise(2) (see
 * <usermm/mm.h> and the top of this file).  Takes mmap_lock (write for
 * NORMAL/RANDOM/SEQUENTIAL/DONTFORK/DOFORK, read otherwise), ptl, page
 * locks and tree_lock as the advice needs.  Returns 0, -EINVAL, -ENOMEM,
 * -EFAULT; nothing changes on failure (populate keeps what it did).
 */
int umm_madvise(struct umm_mm *mm, uintptr_t addr, size_t len, int advice)
{
	bool write = madvise_need_mmap_write(advice);
	uintptr_t end;
	size_t alen;
	int err;

	if (!mm || !madvise_behavior_valid(advice) || !IS_ALIGNED(addr, PAGE_SIZE))
		return -EINVAL;
	alen = ALIGN_UP(len, PAGE_SIZE);
	if (len && !alen)
		return -EINVAL;           /* len rounds up past the top */
	end = addr + alen;
	if (end < addr)
		return -EINVAL;
	if (end == addr)
		return 0;
	if (end > UMM_TASK_SIZE)
		return -ENOMEM;

	if (write)
		mmap_write_lock(mm);
	else
		mmap_read_lock(mm);
	err = madvise_check(mm, addr, end, advice);
	if (err)
		goto out;
	switch (advice) {
	case MADV_NORMAL:
		err = madvise_update_flags(mm, addr, end, VM_RAND_READ | VM_SEQ_READ, 0);
		break;
	case MADV_RANDOM:
		err = madvise_update_flags(mm, addr, end, VM_SEQ_READ, VM_RAND_READ);
		break;
	case MADV_SEQUENTIAL:
		err = madvise_update_flags(mm, addr, end, VM_RAND_READ, VM_SEQ_READ);
		break;
	case MADV_DONTFORK:
		err = madvise_update_flags(mm, addr, end, 0, VM_DONTCOPY);
		break;
	case MADV_DOFORK:
		err = madvise_update_flags(mm, addr, end, VM_DONTCOPY, 0);
		break;
	case MADV_WILLNEED:
		madvise_willneed(mm, addr, end);
		break;
	case MADV_DONTNEED:
		madvise_dontneed(mm, addr, end);
		break;
	case MADV_FREE:
		madvise_free(mm, addr, end);
		break;
	case MADV_COLD:
	case MADV_PAGEOUT:
		madvise_cold(mm, addr, end, advice == MADV_PAGEOUT);
		break;
	case MADV_POPULATE_READ:
	case MADV_POPULATE_WRITE:
		err = madvise_populate(mm, addr, end, advice == MADV_POPULATE_WRITE);
		break;
	}
	/* the invariant check is exact only when no fault can run beside it */
	if (write && !err)
		mm_debug_check(mm);
out:
	if (write)
		mmap_write_unlock(mm);
	else
		mmap_read_unlock(mm);
	return err;
}
