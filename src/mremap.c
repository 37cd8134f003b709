/* SPDX-License-Identifier: MIT */
/*
 * mremap.c - umm_mremap: shrink, grow or move a mapping.
 *
 * Theory of operation.  The old range must lie inside one vma.  Then:
 *
 *   shrink (new_len < old_len, no MREMAP_FIXED)  unmap the tail; old_addr.
 *   grow in place                                the old range ends the vma
 *                                                and what follows is free:
 *                                                extend the vma; old_addr.
 *   move (MREMAP_MAYMOVE, or MREMAP_FIXED)       a new vma at a free range
 *                                                (or at new_addr, replacing
 *                                                what is there) receives
 *                                                the old range's ptes.
 *
 * A move carries the ptes themselves - present, protnone, swap and
 * nonlinear-file entries alike - from the old addresses to the new ones,
 * so no page is copied or faulted and RSS does not change.  The new vma
 * keeps the old range's vm_pgoff, anonymous memory included: an anon
 * page's index is its linear index, which must stay valid for the reverse
 * map wherever the page is mapped.  For each moved pte of a real page the
 * reverse map is told about the new pte before it forgets the old one, so
 * the page's map count never reaches zero in between.
 *
 * Nothing changes on failure.  Everything that can fail is done before
 * anything is destroyed, in this order: allocate the new vma; split the
 * vmas at the edges of the old range (and of the destination); allocate
 * every page table the destination needs.  Each step undoes the earlier
 * ones when it fails.  Only then is the destination emptied and the ptes
 * moved, which cannot fail.
 *
 * A locked mapping stays locked: its pages move with their ptes (still
 * unevictable), a grown part is checked against the lock limit and
 * populated after the call, the part a move or shrink drops is unlocked
 * before it is zapped (mlock.c).
 *
 * Differences from Linux, on purpose:
 *   - MREMAP_DONTUNMAP and old_len 0 (duplicating a shared mapping) are
 *     not supported: -EINVAL.
 *   - A shrink must also lie inside one vma (-EFAULT otherwise); Linux
 *     unmaps whatever lies in the tail.
 *   - MREMAP_FIXED with new_addr below UMM_MMAP_MIN_ADDR is -EPERM, as a
 *     fixed mmap there.
 *   - A failed MREMAP_FIXED leaves the destination's mappings in place
 *     (Linux unmaps them before it knows whether the move will work).
 *
 * Locks (order in lockdep.h): mmap_lock for write while the mapping
 * moves or changes; a locked grown part (MAP_LOCKED, mlock) is then
 * populated with it dropped and taken again for read.
 * The destination tables are built with __pte_alloc (page_table_lock, no
 * pte table lock held).  The ptes move table by table with the source
 * and destination pte table locks both held, the lower-addressed table's
 * first (the other nested); a file vma's i_mmap_lock is held across the
 * whole move, so a truncate or page_mkclean walking i_mmap sees each page
 * either at its old or at its new address, never both or neither.  The
 * notifiers hear of the old range (UMM_MMU_MOVE) around the move, and the
 * secondary TLBs are invalidated before i_mmap_lock is dropped.
 * vma linking takes i_mmap_lock by itself.
 */
#include <errno.h>
#include <usermm/usermm.h>
#include "mmap.h"
#include "rmap.h"
#include "mmu_notifier.h"
#include "object.h"
#include "mlock.h"

/* One move: the old range [old_addr, old_addr+old_len) to [new_addr, new_addr+new_len). */
struct mremap_move {
	struct umm_mm *mm;
	struct vm_area_struct *old_vma;  /* exactly the old range, once isolated */
	struct vm_area_struct *new_vma;
	uintptr_t old_addr, new_addr;
	size_t old_len, new_len;
	size_t moved;                    /* bytes whose ptes move: min(old_len, new_len) */
	bool fixed;                      /* the destination may hold mappings */
	bool populate;                   /* a locked mapping grew: fault the new part in */
};

static inline uintptr_t move_dest(const struct mremap_move *mv, uintptr_t old)
{
	return mv->new_addr + (old - mv->old_addr);
}

/*
 * dest_segment_end - the end of the part of [addr, end) whose destinations
 * lie in one destination pte table.
 */
static uintptr_t dest_segment_end(const struct mremap_move *mv, uintptr_t addr, uintptr_t end)
{
	uintptr_t dest = move_dest(mv, addr);
	uintptr_t dest_table_end = (dest | (PMD_SIZE - 1)) + 1;

	return MIN(end, addr + (dest_table_end - dest));
}

/*
 * alloc_dest_tables - walk_pte_tables callback: build the destination
 * table of each part of this source table's range that holds a pte.  The
 * source table's lock is held only to look; the tables are built with no
 * pte table lock held (__pte_alloc takes page_table_lock).
 */
static int alloc_dest_tables(struct umm_mm *mm, pte_t *ptep, uintptr_t addr, uintptr_t end, void *arg)
{
	struct mremap_move *mv = arg;
	struct fmutex *ptl = pte_lockptr(mm, ptep);

	while (addr < end) {
		uintptr_t seg_end = dest_segment_end(mv, addr, end);
		bool used = false;
		int err;

		ptl_lock(ptl);
		for (uintptr_t a = addr; a < seg_end && !used; a += PAGE_SIZE)
			used = !pte_none(ptep[(a - addr) >> PAGE_SHIFT]);
		ptl_unlock(ptl);
		if (used) {
			err = __pte_alloc(mm, move_dest(mv, addr));
			if (err)
				return err;
		}
		ptep += (seg_end - addr) >> PAGE_SHIFT;
		addr = seg_end;
	}
	return 0;
}

/* move_one_pte - carry one pte to its destination slot, updating the rmap.  Both table locks held. */
static void move_one_pte(struct mremap_move *mv, pte_t *ptep, uintptr_t addr, pte_t *dst)
{
	struct umm_mm *mm = mv->mm;
	uintptr_t dest = move_dest(mv, addr);
	struct page *page;
	pte_t pte;

	assert_pte_locked(mm, dst);
	VM_BUG_ON(!pte_none(*dst));
	pte = ptep_get_and_clear(mm, addr, ptep);
	set_pte_at(mm, dest, dst, pte);
	if (!pte_present(pte) || pte_special(pte))
		return;
	page = pfn_to_page(mm->sys->phys, pte_pfn(pte));
	page_move_rmap(page, ptep, mv->new_vma, dest, dst);
}

/*
 * lock_two_ptls - take two pte table locks, the lower-addressed first and
 * the other nested (mmap_lock for write keeps any other thread from
 * holding two of this mm's table locks, so the order only has to be one).
 * The same lock is taken once.
 */
static void lock_two_ptls(struct fmutex *a, struct fmutex *b)
{
	if (a == b) {
		ptl_lock(a);
	} else if (a < b) {
		ptl_lock(a);
		ptl_lock_nested(b, SINGLE_DEPTH_NESTING);
	} else {
		ptl_lock(b);
		ptl_lock_nested(a, SINGLE_DEPTH_NESTING);
	}
}

static void unlock_two_ptls(struct fmutex *a, struct fmutex *b)
{
	if (a != b)
		ptl_unlock(b);
	ptl_unlock(a);
}

/*
 * move_pte_table - walk_pte_tables callback: move the ptes of one source
 * table, one destination table at a time with both tables' locks held.
 */
static int move_pte_table(struct umm_mm *mm, pte_t *ptep, uintptr_t addr, uintptr_t end, void *arg)
{
	struct mremap_move *mv = arg;
	struct fmutex *src_ptl = pte_lockptr(mm, ptep);

	while (addr < end) {
		uintptr_t seg_end = dest_segment_end(mv, addr, end);
		pte_t *dst = pte_offset_map(mm, move_dest(mv, addr));

		if (!dst) {
			/* no table was needed: nothing to move in this part */
			ptl_lock(src_ptl);
			for (uintptr_t a = addr; a < seg_end; a += PAGE_SIZE)
				BUG_ON(!pte_none(ptep[(a - addr) >> PAGE_SHIFT]));
			ptl_unlock(src_ptl);
		} else {
			struct fmutex *dst_ptl = pte_lockptr(mm, dst);

			lock_two_ptls(src_ptl, dst_ptl);
			for (uintptr_t a = addr; a < seg_end; a += PAGE_SIZE, dst++) {
				pte_t *src = &ptep[(a - addr) >> PAGE_SHIFT];

				if (!pte_none(*src))
					move_one_pte(mv, src, a, dst);
			}
			unlock_two_ptls(src_ptl, dst_ptl);
		}
		ptep += (seg_end - addr) >> PAGE_SHIFT;
		addr = seg_end;
	}
	return 0;
}

/*
 * move_prepare_tables - allocate the destination tables for every used pte
 * of the range to move.  On failure the tables this call left empty are
 * freed again.  mmap_lock write; takes page_table_lock and the source pte
 * table locks.  0 or -ENOMEM.
 */
static int move_prepare_tables(struct mremap_move *mv)
{
	struct umm_mm *mm = mv->mm;
	int err;

	mmap_assert_write_locked(mm);
	err = walk_pte_tables(mm, mv->old_addr, mv->old_addr + mv->moved, alloc_dest_tables, mv);
	if (err)
		free_pgtables(mm, mv->new_addr, mv->new_addr + mv->moved);
	return err;
}

/*
 * move_page_tables - carry every pte of the moved range (tables are
 * ready), under the object's i_mmap_lock for a file vma.
 */
static void move_page_tables(struct mremap_move *mv)
{
	struct umm_mm *mm = mv->mm;
	struct umm_object *obj = mv->old_vma->vm_obj;
	struct mmu_notifier_range range;
	int err;

	mmu_notifier_range_init(&range, UMM_MMU_MOVE, mm, mv->old_addr, mv->old_addr + mv->moved);
	mmu_notifier_invalidate_range_start(&range);
	if (obj)
		i_mmap_lock_write(obj);
	err = walk_pte_tables(mm, mv->old_addr, mv->old_addr + mv->moved, move_pte_table, mv);
	BUG_ON(err);
	mmu_notifier_invalidate_secondary_tlbs(mm, mv->old_addr, mv->old_addr + mv->moved);
	if (obj)
		i_mmap_unlock_write(obj);
	mmu_notifier_invalidate_range_end(&range);
}

/*
 * move_isolate - split the vmas at the edges of the old range and, for
 * MREMAP_FIXED, of the destination.  0 or -ENOMEM with nothing changed;
 * *old_splits and *new_splits say what to merge back if a later step
 * fails.
 */
static int move_isolate(struct mremap_move *mv, unsigned int *old_splits, unsigned int *new_splits)
{
	uintptr_t old_end = mv->old_addr + mv->old_len;
	int err;

	*new_splits = 0;
	err = mmap_isolate_range(mv->mm, mv->old_addr, old_end, old_splits);
	if (err || !mv->fixed)
		return err;
	err = mmap_isolate_range(mv->mm, mv->new_addr, mv->new_addr + mv->new_len, new_splits);
	if (err)
		mmap_undo_isolate(mv->mm, mv->old_addr, old_end, *old_splits);
	return err;
}

/* move_undo_isolate - merge back what move_isolate split. */
static void move_undo_isolate(struct mremap_move *mv, unsigned int old_splits, unsigned int new_splits)
{
	if (mv->fixed)
		mmap_undo_isolate(mv->mm, mv->new_addr, mv->new_addr + mv->new_len, new_splits);
	mmap_undo_isolate(mv->mm, mv->old_addr, mv->old_addr + mv->old_len, old_splits);
}

/*
 * move_commit - the part of a move that cannot fail: empty the
 * destination, link the new vma, move the ptes, drop the old range (its
 * unmoved tail zapped) and the page tables left empty.
 */
static void move_commit(struct mremap_move *mv)
{
	struct umm_mm *mm = mv->mm;
	uintptr_t old_end = mv->old_addr + mv->old_len;

	if (mv->fixed)
		unmap_vmas(mm, mv->new_addr, mv->new_addr + mv->new_len);
	vma_link(mm, mv->new_vma);
	move_page_tables(mv);
	if (mv->moved < mv->old_len) {
		if (mv->old_vma->vm_flags & VM_LOCKED)
			munlock_vma_pages_range(mv->old_vma, mv->old_addr + mv->moved, old_end);
		zap_page_range(mv->old_vma, mv->old_addr + mv->moved, old_end);
	}
	vma_unlink(mm, mv->old_vma);
	vma_free(mv->old_vma);
	free_pgtables(mm, mv->old_addr, old_end);
	if (mv->fixed)
		free_pgtables(mm, mv->new_addr, mv->new_addr + mv->new_len);
	vma_try_merge(mm, mv->new_vma);
}

/*
 * move_vma - move [old_addr, old_addr+old_len) of vma to new_addr, with
 * new_len bytes.  mmap_lock held for write.  0 or -ENOMEM (nothing changed).
 */
static int move_vma(struct mremap_move *mv, struct vm_area_struct *vma)
{
	unsigned int old_splits, new_splits;
	struct vm_area_struct *new_vma;
	int err;

	new_vma = vma_dup(mv->mm, vma);
	if (!new_vma)
		return -ENOMEM;
	new_vma->vm_start = mv->new_addr;
	new_vma->vm_end = mv->new_addr + mv->new_len;
	new_vma->vm_pgoff = linear_page_index(vma, mv->old_addr);
	mv->new_vma = new_vma;
	mv->moved = MIN(mv->old_len, mv->new_len);

	err = move_isolate(mv, &old_splits, &new_splits);
	if (err)
		goto err_free_vma;
	mv->old_vma = find_vma(mv->mm, mv->old_addr);
	VM_BUG_ON(!mv->old_vma || mv->old_vma->vm_start != mv->old_addr ||
		  mv->old_vma->vm_end != mv->old_addr + mv->old_len);
	err = move_prepare_tables(mv);
	if (err)
		goto err_undo_isolate;
	move_commit(mv);
	return 0;

err_undo_isolate:
	move_undo_isolate(mv, old_splits, new_splits);
err_free_vma:
	vma_free(new_vma);
	return err;
}

/*
 * mremap_check_args - everything that does not depend on the address
 * space.  Rounds the lengths up to pages.
 */
static int mremap_check_args(uintptr_t old_addr, size_t *old_lenp, size_t *new_lenp,
			     int flags, uintptr_t new_addr)
{
	size_t old_len = *old_lenp, new_len = *new_lenp;

	if (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED))
		return -EINVAL;
	if ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE))
		return -EINVAL;
	if (!IS_ALIGNED(old_addr, PAGE_SIZE))
		return -EINVAL;
	if (new_len == 0)
		return -EINVAL;
	if (new_len > UMM_TASK_SIZE)
		return (flags & MREMAP_FIXED) ? -EINVAL : -ENOMEM;
	if (old_len == 0)
		return -EINVAL;
	if (old_len > UMM_TASK_SIZE)
		return -EFAULT;
	old_len = ALIGN_UP(old_len, PAGE_SIZE);
	new_len = ALIGN_UP(new_len, PAGE_SIZE);
	if (flags & MREMAP_FIXED) {
		if (!IS_ALIGNED(new_addr, PAGE_SIZE))
			return -EINVAL;
		if (new_addr > UMM_TASK_SIZE - new_len)
			return -EINVAL;
		if (new_addr < UMM_MMAP_MIN_ADDR)
			return -EPERM;
		if (new_addr < old_addr + old_len && old_addr < new_addr + new_len)
			return -EINVAL;
	}
	*old_lenp = old_len;
	*new_lenp = new_len;
	return 0;
}

/*
 * mremap_old_vma - the vma holding the whole old range, or NULL (-EFAULT).
 * Growing also checks that the grown range's byte offsets in the object
 * still fit in 64 bits, as mmap's -EOVERFLOW check did (-EINVAL, as Linux).
 */
static struct vm_area_struct *mremap_old_vma(struct umm_mm *mm, uintptr_t addr, size_t old_len,
					     size_t new_len, int *errp)
{
	struct vm_area_struct *vma = find_vma(mm, addr);

	*errp = -EFAULT;
	if (!vma || vma->vm_start > addr || old_len > vma->vm_end - addr)
		return NULL;
	if (new_len > old_len &&
	    linear_page_index(vma, addr) + (new_len >> PAGE_SHIFT) > (UINT64_MAX >> PAGE_SHIFT)) {
		*errp = -EINVAL;
		return NULL;
	}
	*errp = 0;
	return vma;
}

/* grow_in_place - extend vma when the old range ends it and the space after is free. */
static bool grow_in_place(struct umm_mm *mm, struct vm_area_struct *vma, uintptr_t addr,
			  size_t old_len, size_t new_len)
{
	size_t delta = new_len - old_len;

	if (addr + old_len != vma->vm_end)
		return false;
	if (vma->vm_end > UMM_TASK_SIZE - delta)
		return false;
	if (!range_is_free(mm, vma->vm_end, vma->vm_end + delta))
		return false;
	vma_adjust(mm, vma, vma->vm_start, vma->vm_end + delta, vma->vm_pgoff);
	vma_try_merge(mm, vma);
	return true;
}

/*
 * mremap_locked - the decision between shrink, grow in place and move.
 * mmap_lock held for write.  0 with *out set, or a negative errno.
 */
static int mremap_locked(struct mremap_move *mv, int flags, uintptr_t *out)
{
	struct umm_mm *mm = mv->mm;
	struct vm_area_struct *vma;
	int err;

	mmap_assert_write_locked(mm);
	vma = mremap_old_vma(mm, mv->old_addr, mv->old_len, mv->new_len, &err);
	if (!vma)
		return err;
	if (mv->new_len > mv->old_len) {
		/* a locked mapping grows locked: the lock limit, and a populate after */
		err = mlock_future_check(mm, vma->vm_flags, (mv->new_len - mv->old_len) >> PAGE_SHIFT);
		if (err)
			return err;
		mv->populate = (vma->vm_flags & VM_LOCKED_MASK) == VM_LOCKED;
	}
	if (flags & MREMAP_FIXED) {
		mv->fixed = true;
		*out = mv->new_addr;
		return move_vma(mv, vma);
	}
	*out = mv->old_addr;
	if (mv->new_len <= mv->old_len) {
		if (mv->new_len == mv->old_len)
			return 0;
		return do_munmap(mm, mv->old_addr + mv->new_len, mv->old_len - mv->new_len);
	}
	if (grow_in_place(mm, vma, mv->old_addr, mv->old_len, mv->new_len))
		return 0;
	if (!(flags & MREMAP_MAYMOVE))
		return -ENOMEM;
	err = get_unmapped_area(mm, 0, mv->new_len, &mv->new_addr);
	if (err)
		return err;
	*out = mv->new_addr;
	return move_vma(mv, vma);
}

/**
 * umm_mremap - resize and/or move the mapping at [old_addr,
 * old_addr+old_len), as mremap(2).  Takes and releases mmap_lock for
 * write.  Returns 0 with *out_addr = the mapping's (possibly new) address,
 * or -EINVAL (bad flags, unaligned address, zero length, MREMAP_FIXED
 * ranges overlapping or outside the address space), -EFAULT (the old
 * range is not inside one vma), -ENOMEM (cannot grow in place without
 * MREMAP_MAYMOVE, no room, out of memory), -EPERM (MREMAP_FIXED below
 * UMM_MMAP_MIN_ADDR), -EAGAIN (growing a locked mapping beyond the lock
 * limit).  Nothing changes on failure.  A locked mapping that grows is
 * populated in its new part afterwards, under mmap_lock for read, as
 * Linux does.
 */
int umm_mremap(struct umm_mm *mm, uintptr_t old_addr, size_t old_len, size_t new_len,
	       int flags, uintptr_t new_addr, uintptr_t *out_addr)
{
	struct mremap_move mv = { .mm = mm, .old_addr = old_addr, .new_addr = new_addr };
	uintptr_t out;
	int err;

	if (!mm || !out_addr)
		return -EINVAL;
	err = mremap_check_args(old_addr, &old_len, &new_len, flags, new_addr);
	if (err)
		return err;
	mv.old_len = old_len;
	mv.new_len = new_len;

	mmap_write_lock(mm);
	err = mremap_locked(&mv, flags, &out);
	if (!err)
		mm_debug_check(mm);
	mmap_write_unlock(mm);
	if (err)
		return err;
	*out_addr = out;
	if (mv.populate) {
		mmap_read_lock(mm);
		(void)mlock_populate(mm, out + old_len, out + new_len, true);
		mmap_read_unlock(mm);
	}
	return 0;
}
