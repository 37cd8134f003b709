/* SPDX-License-Identifier: MIT */
/*
 * mlock.c - locking memory: umm_mlock, umm_mlock2, umm_munlock,
 * umm_mlockall, umm_munlockall, and the upkeep of PG_unevictable.
 *
 * Theory of operation.  A locked range is a run of vmas with VM_LOCKED
 * (plus VM_LOCKONFAULT for the "lock on fault" flavours: MLOCK_ONFAULT,
 * MCL_ONFAULT).  Locking or unlocking a range works like mprotect: the
 * arguments are checked, then under mmap_lock for write the whole range
 * (a hole is -ENOMEM) and the lock limit, then the vmas straddling the
 * range's edges are split (all or nothing: mmap_isolate_range), the flags
 * set on each vma of the run (mlock_fixup), and the vmas that have become
 * compatible merged again.  So locking or unlocking the middle of a vma
 * splits it in three, and unlocking all of it merges it back with
 * neighbours that match.  A failed call has changed nothing.
 * mm->locked_vm counts the pages of the VM_LOCKED vmas; vma.c keeps it
 * with the tree, like total_vm (it is Linux's VmLck: pages covered, not
 * pages resident).
 *
 * Populate.  A range locked without ONFAULT is then faulted in, still
 * under mmap_lock for write (Linux populates under the read lock; holding
 * the write lock keeps this mm's faults out until the pages are marked,
 * below): writable private vmas by write faults (copy-on-write is broken
 * now, so a later write does not need a new frame), the others by read
 * faults; PROT_NONE vmas are left alone.  If that fails the range stays
 * locked, as in Linux, and umm_mlock returns Linux's errno: -EAGAIN when
 * memory ran out, -ENOMEM when a page could not be read or lies past the
 * end of its file (the pages that can be brought in are in; an access to
 * the others faults as usual).  mlockall populates everything it can and
 * ignores pages that fail, as Linux.  MAP_LOCKED and mappings made under
 * MCL_FUTURE are populated by umm_mmap after it dropped the write lock
 * (mmap.c), a locked mapping grown by umm_mremap in its new part.
 *
 * Unevictable pages.  A page mapped by any VM_LOCKED vma has
 * PG_unevictable, which reclaim honours (try_to_unmap refuses it).  It is
 * set
 *   - by the reverse-map hooks whenever a pte of a VM_LOCKED vma starts
 *     mapping a page (mlock_vma_page, mlock.h: faults, populate, mremap),
 *   - here, on the pages mapped when a range has been locked and
 *     populated (mlock_finish: after the populate, so that a page this mm
 *     shared copy-on-write and has just replaced by a copy is not marked),
 * and cleared here when a vma stops being locked - munlock, munlockall,
 * and the munmap, MAP_FIXED replacement, mremap shrink or exit of a locked
 * vma (munlock_vma_pages_range) - on each page it maps that no other
 * locked vma maps.  "No other" is answered by a reverse-map walk over all
 * the ptes of the page, in every address space, under either scheme
 * (page_mlocked_elsewhere).  A pte of this mm is judged by its vma (the
 * caller holds this mm's mmap_lock for write).  A pte of another mm is
 * judged by that mm's vma, looked up under its mmap_lock taken with a
 * trylock (the walk holds page-table locks, so it cannot wait for it);
 * when the trylock fails the answer is "locked" and the page stays
 * unevictable.  A page left unevictable that way, or one that lost its
 * last locked mapping through a truncate or a remap_file_pages, keeps
 * the flag until the next munlock walk that finds it or until it is
 * freed (the allocator clears page flags): the error is on the safe side,
 * a page kept, never a locked page evicted.  (A copy-on-write fault in a
 * locked vma rechecks the page it replaced: munlock_cow_page, called by
 * memory.c once the fault has dropped ptl.)
 *
 * Races with other address spaces are closed by the page lock: the check
 * and the clear happen under it, and so does the marking of pages another
 * mm can reach: this file's walk locks each page, file faults and
 * populate hold the page lock while they install the pte, and a new
 * anonymous page (fault, copy-on-write) is reachable by nobody else yet.
 * (mremap moves a pte between two locked vmas: its page is marked
 * already.)  A vma's VM_LOCKED changes only under its mm's mmap_lock for
 * write, which the other mms' walks take for read (trylock) to read it.
 *
 * Fork: the child's vmas do not inherit VM_LOCKED nor MCL_FUTURE (mm.c),
 * as in Linux; the child's copies of locked pages are not locked by it.
 *
 * The lock limit: umm_config.mlock_limit_bytes, rounded down to pages,
 * is the most an address space may lock (locked_vm).  0 means no limit
 * (a privileged process in Linux).  A value below one page allows no
 * locking at all, the role of RLIMIT_MEMLOCK 0 for an unprivileged Linux
 * process: umm_mlock, umm_mlock2, umm_mlockall and umm_mmap(MAP_LOCKED)
 * return -EPERM.  Beyond the limit umm_mlock/umm_mlock2 return -ENOMEM
 * (pages of the range already locked are not counted twice),
 * umm_mlockall(MCL_CURRENT) -ENOMEM when total_vm exceeds it, and
 * umm_mmap / umm_mremap of a locked mapping -EAGAIN.  Unlocking never
 * fails for the limit.
 *
 * Locks (the order is in lockdep.h): every entry point takes mmap_lock
 * for write for its whole run (vma.c takes i_mmap_lock and the anon_vma
 * lock under it; populate takes what a fault takes).  The page walks run
 * under mmap_lock for write: walk_pte_range
 * takes each pte table's lock while it collects referenced pages, then
 * with no page-table lock held each page is locked (lock_page) and, to
 * clear the flag, the reverse map walked (its locks: rmap.h), inside
 * which other mms' mmap_lock is only ever trylocked.
 */
#include <errno.h>
#include <limits.h>
#include <usermm/usermm.h>
#include "mlock.h"
#include "mmap.h"
#include "gup.h"
#include "rmap.h"
#include "page_alloc.h"

/* Pages handled per batch of a page walk (referenced, no lock held). */
#define MLOCK_BATCH 64

/* mlock_limit_pages - the most pages mm may lock; ULONG_MAX: no limit. */
static unsigned long mlock_limit_pages(const struct umm_mm *mm)
{
	size_t bytes = mm->sys->cfg.mlock_limit_bytes;

	return bytes ? bytes >> PAGE_SHIFT : ULONG_MAX;
}

/* can_do_mlock - false when the limit allows no page at all (-EPERM). */
static bool can_do_mlock(const struct umm_mm *mm)
{
	return mlock_limit_pages(mm) != 0;
}

/* ---- page walks ---- */

struct page_batch {
	bool only_unevictable;         /* collect only the pages with PG_unevictable (else all) */
	unsigned int nr;
	uintptr_t next;                /* where the walk stopped, the batch being full */
	struct page *pages[MLOCK_BATCH];
};

/* collect_one - walk_pte_range callback: reference a mapped page of the wanted kind.  ptl held. */
static int collect_one(struct umm_mm *mm, pte_t *ptep, uintptr_t addr, void *arg)
{
	struct page_batch *b = arg;
	pte_t pte = *ptep;
	struct page *page;

	if (!pte_present(pte) || pte_special(pte))
		return 0;
	page = pfn_to_page(mm->sys->phys, pte_pfn(pte));
	if (PageReserved(page) || (b->only_unevictable && !PageUnevictable(page)))
		return 0;
	if (b->nr == MLOCK_BATCH) {
		b->next = addr;
		return 1;
	}
	get_page(page);
	b->pages[b->nr++] = page;
	return 0;
}

/*
 * for_each_mapped_page - call fn on each page mapped in [start, end) of
 * mm (only_unevictable: each that had PG_unevictable at the look), with
 * the page locked and referenced and no page-table lock held.  mmap_lock
 * held.
 */
static void for_each_mapped_page(struct umm_mm *mm, uintptr_t start, uintptr_t end,
				 bool only_unevictable, void (*fn)(struct page *page, struct umm_mm *mm))
{
	struct page_batch b = { .only_unevictable = only_unevictable };
	uintptr_t addr = start;

	while (addr < end) {
		b.nr = 0;
		b.next = end;
		(void)walk_pte_range(mm, addr, end, collect_one, &b);
		for (unsigned int i = 0; i < b.nr; i++) {
			lock_page(b.pages[i]);
			fn(b.pages[i], mm);
			unlock_page(b.pages[i]);
			put_page(b.pages[i]);
		}
		addr = b.next;
	}
}

static void mark_unevictable(struct page *page, struct umm_mm *mm)
{
	(void)mm;
	SetPageUnevictable(page);
}

/*
 * mlock_pages_present - the pages mapped in [start, end) become
 * unevictable.  Each is locked even if it has the flag already: another
 * mm's munlock may be about to clear it, having looked at this mm before
 * its vma was locked; the page lock makes it finish first.  mmap_lock
 * held for write.
 */
static void mlock_pages_present(struct umm_mm *mm, uintptr_t start, uintptr_t end)
{
	for_each_mapped_page(mm, start, end, false, mark_unevictable);
}

struct mlocked_walk {
	struct umm_mm *self;           /* its mmap_lock is held by this thread */
	bool locked;
};

/* vma_locks_addr - is addr inside vma and vma locked? */
static bool vma_locks_addr(const struct vm_area_struct *vma, uintptr_t addr)
{
	return vma && vma->vm_start <= addr && addr < vma->vm_end && (vma->vm_flags & VM_LOCKED);
}

/*
 * mlocked_one - rmap_walk callback: does this pte sit in a locked vma?  A
 * pte of another mm whose mmap_lock cannot be had without waiting counts
 * as locked.  The pte's table lock held.
 */
static int mlocked_one(struct page *page, const struct rmap_pte *rp, void *arg)
{
	struct mlocked_walk *mw = arg;
	bool locked;

	(void)page;
	if (rp->mm == mw->self) {
		locked = vma_locks_addr(rp->vma ? rp->vma : find_vma(rp->mm, rp->address), rp->address);
	} else if (!mmap_read_trylock(rp->mm)) {
		locked = true;
	} else {
		locked = vma_locks_addr(rp->vma ? rp->vma : find_vma(rp->mm, rp->address), rp->address);
		mmap_read_unlock(rp->mm);
	}
	if (!locked)
		return RMAP_CONT;
	mw->locked = true;
	return RMAP_STOP;
}

/*
 * page_mlocked_elsewhere - is page mapped by a locked vma (or one that
 * cannot be checked now)?  Page locked and referenced; self's mmap_lock
 * held (its vmas' VM_LOCKED cannot change); no page-table lock.
 */
static bool page_mlocked_elsewhere(struct page *page, struct umm_mm *self)
{
	struct mlocked_walk mw = { .self = self };

	if (!page_mapped(page))
		return false;
	(void)rmap_walk(page, mlocked_one, &mw, RMAP_WALK_WAIT);
	return mw.locked;
}

static void munlock_page(struct page *page, struct umm_mm *mm)
{
	if (PageUnevictable(page) && !page_mlocked_elsewhere(page, mm))
		ClearPageUnevictable(page);
}

/**
 * munlock_vma_pages_range - vma stops being locked: clear its
 * VM_LOCKED_MASK bits, then PG_unevictable on each page it maps in
 * [start, end) that no other locked vma maps (see the top of the file).
 * mmap_lock of vma's mm held for write, no other lock.
 */
void munlock_vma_pages_range(struct vm_area_struct *vma, uintptr_t start, uintptr_t end)
{
	struct umm_mm *mm = vma->vm_mm;

	mmap_assert_write_locked(mm);
	vma_set_lock_flags(mm, vma, 0);
	for_each_mapped_page(mm, MAX(start, vma->vm_start), MIN(end, vma->vm_end), true, munlock_page);
}

/**
 * munlock_cow_page - a copy-on-write fault in a locked vma of mm replaced
 * the unevictable page `page`, which may have lost its last locked
 * mapping: recheck it under its page lock, then drop the reference the
 * fault kept.  mm's mmap_lock held (read or write), no other lock.
 */
void munlock_cow_page(struct page *page, struct umm_mm *mm)
{
	mmap_assert_locked(mm);
	lock_page(page);
	munlock_page(page, mm);
	unlock_page(page);
	put_page(page);
}

/* ---- populate ---- */

/**
 * mlock_populate - fault in the vmas of [start, end) locked without
 * VM_LOCKONFAULT (POPULATE_MMAP's rule: write faults in private writable
 * vmas; PROT_NONE vmas left alone).  mmap_lock held (read or write).
 * With ignore_errors each page that fails with -EFAULT or -EIO is
 * skipped and 0 returned, but -ENOMEM ends the vma (as Linux's populate
 * gives up a vma at an error): memory has run out, and trying each
 * remaining page of a large vma would reclaim in vain once per page;
 * otherwise the first error (-EFAULT, -EIO, -ENOMEM) is returned, the
 * pages before it populated.
 */
int mlock_populate(struct umm_mm *mm, uintptr_t start, uintptr_t end, bool ignore_errors)
{
	uintptr_t addr = start;

	mmap_assert_locked(mm);
	while (addr < end) {
		struct vm_area_struct *vma = find_vma(mm, addr);
		uintptr_t vend;
		int err;

		if (!vma || vma->vm_start >= end)
			break;
		addr = MAX(addr, vma->vm_start);
		vend = MIN(end, vma->vm_end);
		if ((vma->vm_flags & VM_LOCKED_MASK) == VM_LOCKED) {
			err = populate_range(mm, addr, vend, POPULATE_MMAP);
			if (err && !ignore_errors)
				return err;
			/* the one that failed is not known: each page on its own, until memory runs out */
			for (uintptr_t a = addr; err && err != -ENOMEM && a < vend; a += PAGE_SIZE)
				if (populate_range(mm, a, a + PAGE_SIZE, POPULATE_MMAP) == -ENOMEM)
					break;
		}
		addr = vend;
	}
	return 0;
}

/* mlock_posix_error - Linux's errno for a populate failure of mlock. */
static int mlock_posix_error(int err)
{
	if (err == -ENOMEM)
		return -EAGAIN;
	if (err == -EFAULT || err == -EIO)
		return -ENOMEM;
	return err;
}

/* ---- changing the flags of a range ---- */

/*
 * mlock_fixup - give one vma the lock bits lock_flags; 0 unlocks it, and
 * its pages no other locked vma maps become evictable.  (Locking marks
 * the pages afterwards: mlock_finish.)  mmap_lock held for write.
 */
static void mlock_fixup(struct umm_mm *mm, struct vm_area_struct *vma, unsigned long lock_flags)
{
	if ((vma->vm_flags & VM_LOCKED_MASK) == lock_flags)
		return;
	if (!(lock_flags & VM_LOCKED))
		munlock_vma_pages_range(vma, vma->vm_start, vma->vm_end);
	else
		vma_set_lock_flags(mm, vma, lock_flags);
}

/*
 * mlock_finish - [start, end) has just been locked: populate it (unless
 * ONFAULT), then mark the pages it maps unevictable.  Populating first
 * means that copy-on-write is broken before the marking, so a page this
 * mm shared with another and has just replaced by its own copy is not
 * marked; the copies are marked as they are mapped (mlock_vma_page).
 * mmap_lock held for write (populating under it keeps this mm's faults
 * out until the pages are marked).  Returns what mlock_populate returns.
 */
static int mlock_finish(struct umm_mm *mm, uintptr_t start, uintptr_t end, bool ignore_errors)
{
	int err = mlock_populate(mm, start, end, ignore_errors);

	mlock_pages_present(mm, start, end);
	return err;
}

/* merge_range - merge what became compatible in [start, end).  mmap_lock write. */
static void merge_range(struct umm_mm *mm, uintptr_t start, uintptr_t end)
{
	struct vm_area_struct *vma;

	/* merging may free vmas: go on from the survivor each time */
	for (vma = find_vma(mm, start); vma && vma->vm_start < end; vma = vma_next(vma))
		vma = vma_try_merge(mm, vma);
}

/* mlock_check_holes - -ENOMEM if [start, end) is not wholly mapped.  mmap_lock held. */
static int mlock_check_holes(struct umm_mm *mm, uintptr_t start, uintptr_t end)
{
	struct vm_area_struct *vma = find_vma(mm, start);
	uintptr_t next = start;

	for (; next < end; vma = vma_next(vma)) {
		if (!vma || vma->vm_start > next)
			return -ENOMEM;
		next = vma->vm_end;
	}
	return 0;
}

/* count_locked_pages - pages of [start, end) inside VM_LOCKED vmas.  mmap_lock held. */
static unsigned long count_locked_pages(struct umm_mm *mm, uintptr_t start, uintptr_t end)
{
	struct vm_area_struct *vma;
	unsigned long n = 0;

	for (vma = find_vma(mm, start); vma && vma->vm_start < end; vma = vma_next(vma))
		if (vma->vm_flags & VM_LOCKED)
			n += (MIN(end, vma->vm_end) - MAX(start, vma->vm_start)) >> PAGE_SHIFT;
	return n;
}

/*
 * apply_vma_lock_flags - set lock_flags on every vma of [start, end):
 * check for holes, isolate, fix each vma up, populate and mark when
 * locking (mlock_finish), merge.  mmap_lock held for write.  0, -ENOMEM
 * (a hole; no memory to split) with nothing changed, or the populate's
 * error with the range locked (*populate_err set).
 */
static int apply_vma_lock_flags(struct umm_mm *mm, uintptr_t start, uintptr_t end,
				unsigned long lock_flags, bool *populate_err)
{
	struct vm_area_struct *vma;
	int err;

	err = mlock_check_holes(mm, start, end);
	if (!err)
		err = mmap_isolate_range(mm, start, end, NULL);
	if (err)
		return err;
	for (vma = find_vma(mm, start); vma && vma->vm_start < end; vma = vma_next(vma))
		mlock_fixup(mm, vma, lock_flags);
	if (lock_flags & VM_LOCKED) {
		err = mlock_finish(mm, start, end, false);
		*populate_err = err != 0;
	}
	merge_range(mm, start, end);
	return err;
}

/*
 * mlock_range_args - Linux's rounding: addr down to its page, the end
 * (addr + len) up to a page.  0 with [*startp, *endp) (empty for len 0
 * at a page boundary), -EINVAL when the range wraps, -ENOMEM when it ends
 * above UMM_TASK_SIZE (no mapping can be there).
 */
static int mlock_range_args(uintptr_t addr, size_t len, uintptr_t *startp, uintptr_t *endp)
{
	if (len > UINTPTR_MAX - addr || addr + len > UINTPTR_MAX - (PAGE_SIZE - 1))
		return -EINVAL;
	*startp = ALIGN_DOWN(addr, PAGE_SIZE);
	*endp = ALIGN_UP(addr + len, PAGE_SIZE);
	if (*endp > UMM_TASK_SIZE)
		return -ENOMEM;
	return 0;
}

/* do_mlock - umm_mlock and umm_mlock2 with their VM_LOCKED_MASK bits. */
static int do_mlock(struct umm_mm *mm, uintptr_t addr, size_t len, unsigned long lock_flags)
{
	bool populate_err = false;
	unsigned long limit, locked;
	uintptr_t start, end;
	int err;

	if (!mm)
		return -EINVAL;
	if (!can_do_mlock(mm))
		return -EPERM;
	err = mlock_range_args(addr, len, &start, &end);
	if (err || start == end)
		return err;

	mmap_write_lock(mm);
	limit = mlock_limit_pages(mm);
	locked = ((end - start) >> PAGE_SHIFT) + mm->locked_vm;
	if (locked > limit)     /* what is locked already is not counted twice */
		locked -= count_locked_pages(mm, start, end);
	err = locked > limit ? -ENOMEM : apply_vma_lock_flags(mm, start, end, lock_flags, &populate_err);
	if (!err || populate_err)
		mm_debug_check(mm);
	mmap_write_unlock(mm);
	return populate_err ? mlock_posix_error(err) : err;
}

/**
 * umm_mlock - lock the pages of [addr, addr+len) in memory, as mlock(2):
 * addr is rounded down and the end up to pages; the range is locked and
 * populated.  Takes mmap_lock for write.
 * Returns 0 (also for an empty range), -EINVAL (mm NULL, the range
 * wraps), -ENOMEM (a hole in the range or beyond UMM_TASK_SIZE, the lock
 * limit, no memory to split a vma: nothing changed; or a page could not
 * be read: the range stays locked), -EPERM (the limit allows no locking),
 * -EAGAIN (out of memory while populating: the range stays locked).
 */
int umm_mlock(struct umm_mm *mm, uintptr_t addr, size_t len)
{
	return do_mlock(mm, addr, len, VM_LOCKED);
}

/**
 * umm_mlock2 - umm_mlock with flags, as mlock2(2): MLOCK_ONFAULT locks
 * the range without populating it (pages are locked as they fault in).
 * Unknown flags are -EINVAL; otherwise as umm_mlock.
 */
int umm_mlock2(struct umm_mm *mm, uintptr_t addr, size_t len, unsigned int flags)
{
	if (flags & ~(unsigned int)MLOCK_ONFAULT)
		return -EINVAL;
	return do_mlock(mm, addr, len, VM_LOCKED | (flags & MLOCK_ONFAULT ? VM_LOCKONFAULT : 0));
}

/**
 * umm_munlock - unlock [addr, addr+len), as munlock(2) (same rounding).
 * Pages that no other locked mapping maps become evictable again.  Takes
 * mmap_lock for write.  Returns 0 (also for an empty range), -EINVAL (mm
 * NULL, the range wraps), -ENOMEM (a hole, beyond UMM_TASK_SIZE, no
 * memory to split a vma); nothing changed on failure.
 */
int umm_munlock(struct umm_mm *mm, uintptr_t addr, size_t len)
{
	uintptr_t start, end;
	int err;

	if (!mm)
		return -EINVAL;
	err = mlock_range_args(addr, len, &start, &end);
	if (err || start == end)
		return err;
	mmap_write_lock(mm);
	err = apply_vma_lock_flags(mm, start, end, 0, NULL);
	if (!err)
		mm_debug_check(mm);
	mmap_write_unlock(mm);
	return err;
}

/*
 * apply_mlockall_flags - set def_flags for MCL_FUTURE and, for
 * MCL_CURRENT, lock every vma.  mmap_lock held for write.  Cannot fail
 * (whole vmas: no split).
 */
static void apply_mlockall_flags(struct umm_mm *mm, int flags)
{
	unsigned long lock_flags = 0;
	struct vm_area_struct *vma;

	mm->def_flags &= ~VM_LOCKED_MASK;
	if (flags & MCL_FUTURE) {
		mm->def_flags |= VM_LOCKED;
		if (flags & MCL_ONFAULT)
			mm->def_flags |= VM_LOCKONFAULT;
		if (!(flags & MCL_CURRENT))
			return;
	}
	if (flags & MCL_CURRENT)
		lock_flags |= VM_LOCKED;
	if (flags & MCL_ONFAULT)
		lock_flags |= VM_LOCKONFAULT;
	for (vma = vma_first(mm); vma; vma = vma_next(vma))
		mlock_fixup(mm, vma, lock_flags);
	(void)mlock_finish(mm, 0, UMM_TASK_SIZE, true);
	merge_range(mm, 0, UMM_TASK_SIZE);
}

/**
 * umm_mlockall - lock the whole address space, as mlockall(2):
 * MCL_CURRENT locks every mapping there is now (and populates them,
 * ignoring pages that cannot be brought in), MCL_FUTURE every mapping
 * made from now on (umm_mmap locks and populates them), MCL_ONFAULT with
 * either: lock without populating.  A call without MCL_FUTURE turns an
 * earlier MCL_FUTURE off.  Takes mmap_lock for write.  Returns 0, -EINVAL (mm NULL, flags 0, unknown, or
 * MCL_ONFAULT alone), -EPERM (the limit allows no locking), -ENOMEM
 * (MCL_CURRENT and the address space is larger than the limit); nothing
 * changed on failure.
 */
int umm_mlockall(struct umm_mm *mm, int flags)
{
	int err = 0;

	if (!mm || !flags || (flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)) || flags == MCL_ONFAULT)
		return -EINVAL;
	if (!can_do_mlock(mm))
		return -EPERM;
	mmap_write_lock(mm);
	if ((flags & MCL_CURRENT) && mm->total_vm > mlock_limit_pages(mm))
		err = -ENOMEM;
	else
		apply_mlockall_flags(mm, flags);
	if (!err)
		mm_debug_check(mm);
	mmap_write_unlock(mm);
	return err;
}

/**
 * umm_munlockall - unlock every mapping and turn MCL_FUTURE off, as
 * munlockall(2).  Takes mmap_lock for write.  Returns 0, or -EINVAL (mm
 * NULL).
 */
int umm_munlockall(struct umm_mm *mm)
{
	struct vm_area_struct *vma;

	if (!mm)
		return -EINVAL;
	mmap_write_lock(mm);
	mm->def_flags &= ~VM_LOCKED_MASK;
	for (vma = vma_first(mm); vma; vma = vma_next(vma))
		mlock_fixup(mm, vma, 0);
	merge_range(mm, 0, UMM_TASK_SIZE);
	mm_debug_check(mm);
	mmap_write_unlock(mm);
	return 0;
}

/**
 * mlock_future_check - may a new mapping with vm_flags add `pages` locked
 * pages to mm?  mmap_lock held.  0, -EPERM (the limit allows no locking)
 * or -EAGAIN (beyond the limit), as Linux's mmap and mremap.
 */
int mlock_future_check(struct umm_mm *mm, unsigned long vm_flags, unsigned long pages)
{
	unsigned long limit = mlock_limit_pages(mm);

	if (!(vm_flags & VM_LOCKED))
		return 0;
	if (limit == 0)
		return -EPERM;
	if (pages > limit || mm->locked_vm > limit - pages)
		return -EAGAIN;
	return 0;
}
