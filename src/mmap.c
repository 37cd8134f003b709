/* SPDX-License-Identifier: MIT */
/*
 * mmap.c - creating, removing and re-protecting mappings: umm_mmap,
 * umm_munmap, umm_mprotect, and the teardown of a whole address space.
 *
 * Theory of operation.  Each call validates its arguments completely
 * before it takes mmap_lock, then checks what depends on the VMA tree
 * (holes, permissions, occupied ranges) before it changes anything, and
 * allocates everything that can fail (the new VMA, a shmem object, the
 * VMAs that splitting needs) before it destroys anything.  So a failed
 * call leaves the address space as it found it, which is stronger than
 * Linux: Linux's MAP_FIXED unmaps the old range before it knows that the
 * new mapping can be made, and its mprotect changes the VMAs before a
 * later hole in the range returns -ENOMEM.
 *
 * A range operation first "isolates" [start, end): it splits the VMAs
 * that straddle start or end so that the range is a run of whole VMAs.
 * If the second split fails the first is merged back, so isolation is
 * all-or-nothing.  munmap then zaps, unlinks and frees the run and frees
 * the page tables it leaves empty; mprotect sets the new flags on each
 * VMA of the run, rewrites the ptes (change_protection) and merges what
 * has become compatible.
 *
 * Differences from Linux, on purpose:
 *   - prot bits other than PROT_READ|PROT_WRITE|PROT_EXEC are -EINVAL
 *     (Linux's mmap ignores them).
 *   - MAP_HUGETLB and MAP_GROWSDOWN are -EINVAL: there are no huge pages
 *     and no stack-guard gaps.
 *   - MAP_SHARED_VALIDATE rejects unknown flags for anonymous mappings too.
 *   - A shared mapping of a read-only file keeps VM_SHARED (Linux drops it
 *     and keeps VM_MAYSHARE); VM_MAYWRITE is cleared as in Linux.
 *   - MAP_FIXED below UMM_MMAP_MIN_ADDR is -EPERM (Linux's mmap_min_addr
 *     check), above UMM_TASK_SIZE -ENOMEM.
 *   - MAP_POPULATE|MAP_NONBLOCK maps the pages already in the page cache
 *     (Linux >= 2.6.23 ignores MAP_POPULATE when MAP_NONBLOCK is given).
 *
 * MAP_POPULATE and MAP_LOCKED populate the new mapping after the write
 * lock is dropped, under mmap_lock for read (mmap_populate, gup.c).
 * After umm_mlockall(MCL_FUTURE) every new mapping gets the address
 * space's def_flags (VM_LOCKED, and VM_LOCKONFAULT with MCL_ONFAULT) and
 * is populated as MAP_LOCKED's is; a locked mapping that would take the
 * address space over its lock limit is -EAGAIN (-EPERM when the limit
 * allows none), as Linux.  A locked vma that is unmapped is unlocked
 * first (munlock_vma_pages_range, mlock.c), so its pages stop being
 * unevictable unless another locked vma maps them.
 *
 * Locks: every entry point takes mmap_lock for write for its changes;
 * umm_mmap then drops it and populates (MAP_POPULATE, MAP_LOCKED) with
 * mmap_lock taken for read.
 * Under it, vma_link/vma_unlink take obj->i_mmap_lock; zap_page_range and
 * change_protection take the pte table locks themselves, free_pgtables
 * takes page_table_lock.  The order is in lockdep.h.
 * mm_debug_check runs, after a successful change, before mmap_lock is
 * released.
 */
#include <errno.h>
#include <usermm/usermm.h>
#include "mmap.h"
#include "filemap.h"
#include "gup.h"
#include "mlock.h"
#include "kthread.h"

#define PROT_ALL (PROT_READ | PROT_WRITE | PROT_EXEC)

/* Flags that are accepted (some only to be refused with a better errno below). */
#define MAP_KNOWN (MAP_TYPE | MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_ANONYMOUS | \
		   MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK | MAP_LOCKED | \
		   MAP_DENYWRITE | MAP_EXECUTABLE | MAP_STACK | MAP_GROWSDOWN | MAP_HUGETLB)

/* End of the user half of the 48-bit space: page tables are freed up to here. */
#define USER_SPACE_END ALIGN_UP(UMM_TASK_SIZE, PGD_SIZE)

static unsigned long calc_vm_prot_bits(int prot)
{
	unsigned long vm_flags = 0;

	if (prot & PROT_READ)
		vm_flags |= VM_READ;
	if (prot & PROT_WRITE)
		vm_flags |= VM_WRITE;
	if (prot & PROT_EXEC)
		vm_flags |= VM_EXEC;
	return vm_flags;
}

/* ---- isolating a range: the building block of every range operation ---- */

#define ISOLATE_SPLIT_START 0x1
#define ISOLATE_SPLIT_END   0x2

/* remerge_at - merge the vma starting at addr back with the one ending there. */
static void remerge_at(struct umm_mm *mm, uintptr_t addr)
{
	struct vm_area_struct *vma = find_vma(mm, addr);

	if (vma && vma->vm_start == addr)
		vma_try_merge(mm, vma);
}

/*
 * mmap_isolate_range - split the vmas that straddle start or end so that
 * [start, end) is covered by whole vmas (and holes).  *splits (if
 * non-NULL) records which edges were split, for mmap_undo_isolate.
 * mmap_lock held for write.  0 or -ENOMEM with nothing changed.
 */
int mmap_isolate_range(struct umm_mm *mm, uintptr_t start, uintptr_t end, unsigned int *splits)
{
	struct vm_area_struct *vma;
	unsigned int done = 0;
	int err;

	vma = find_vma(mm, start);
	if (vma && vma->vm_start < start) {
		err = split_vma(mm, vma, start, 0);
		if (err)
			return err;
		done |= ISOLATE_SPLIT_START;
	}
	vma = find_vma(mm, end);
	if (vma && vma->vm_start < end) {
		err = split_vma(mm, vma, end, 0);
		if (err) {
			if (done & ISOLATE_SPLIT_START)
				remerge_at(mm, start);
			return err;
		}
		done |= ISOLATE_SPLIT_END;
	}
	if (splits)
		*splits = done;
	return 0;
}

/*
 * mmap_undo_isolate - merge back the splits mmap_isolate_range made (the
 * range's vmas must be unchanged since).  mmap_lock held for write.
 */
void mmap_undo_isolate(struct umm_mm *mm, uintptr_t start, uintptr_t end, unsigned int splits)
{
	if (splits & ISOLATE_SPLIT_END)
		remerge_at(mm, end);
	if (splits & ISOLATE_SPLIT_START)
		remerge_at(mm, start);
}

/*
 * unmap_vmas - zap, unlink and free every vma of an isolated range.  Page
 * tables are left for the caller to free.  mmap_lock held for write;
 * takes pte table locks (in zap_page_range) and i_mmap_lock (vma_unlink).
 */
void unmap_vmas(struct umm_mm *mm, uintptr_t start, uintptr_t end)
{
	struct vm_area_struct *vma, *next;

	mmap_assert_write_locked(mm);
	for (vma = find_vma(mm, start); vma && vma->vm_start < end; vma = next) {
		VM_BUG_ON(vma->vm_start < start || vma->vm_end > end);
		next = vma_next(vma);
		if (vma->vm_flags & VM_LOCKED)
			munlock_vma_pages_range(vma, vma->vm_start, vma->vm_end);
		zap_page_range(vma, vma->vm_start, vma->vm_end);
		vma_unlink(mm, vma);
		vma_free(vma);
	}
}

/**
 * do_munmap - unmap [start, start+len) (page aligned, inside the address
 * space): split the vmas at the edges, zap their ptes, unlink and free
 * them, and free the page tables left empty.  A range without mappings is
 * not an error.  mmap_lock held for write.  Returns 0, or -ENOMEM when a
 * split failed (nothing changed).
 */
int do_munmap(struct umm_mm *mm, uintptr_t start, size_t len)
{
	uintptr_t end = start + len;
	int err;

	mmap_assert_write_locked(mm);
	if (!find_vma_intersection(mm, start, end))
		return 0;
	err = mmap_isolate_range(mm, start, end, NULL);
	if (err)
		return err;
	unmap_vmas(mm, start, end);
	free_pgtables(mm, start, end);
	return 0;
}

/**
 * exit_mmap - tear down every mapping of mm (umm_mm_destroy): zap the
 * ptes, unlink and free every vma, free every page table below the pgd.
 * mmap_lock held for write by the caller (nobody else uses the mm).
 */
void exit_mmap(struct umm_mm *mm)
{
	struct vm_area_struct *vma, *next;

	mmap_assert_write_locked(mm);
	for (vma = vma_first(mm); vma; vma = next) {
		next = vma_next(vma);
		if (vma->vm_flags & VM_LOCKED)
			munlock_vma_pages_range(vma, vma->vm_start, vma->vm_end);
		zap_page_range(vma, vma->vm_start, vma->vm_end);
		vma_unlink(mm, vma);
		vma_free(vma);
	}
	free_pgtables(mm, 0, USER_SPACE_END);
}

/* ---- mmap ---- */

/*
 * mmap_check_args - everything that does not depend on the address space.
 * Rounds *lenp up to pages and folds MAP_FIXED_NOREPLACE into MAP_FIXED.
 */
static int mmap_check_args(uintptr_t addr, size_t *lenp, int prot, int *flagsp,
			   struct umm_object *obj, uint64_t offset)
{
	int flags = *flagsp;
	size_t len = *lenp;
	int type = flags & MAP_TYPE;

	if (prot & ~PROT_ALL)
		return -EINVAL;
	if (type != MAP_SHARED && type != MAP_PRIVATE && type != MAP_SHARED_VALIDATE)
		return -EINVAL;
	if (flags & (MAP_HUGETLB | MAP_GROWSDOWN))
		return -EINVAL;
	if (type == MAP_SHARED_VALIDATE && (flags & ~MAP_KNOWN))
		return -EOPNOTSUPP;
	if (!IS_ALIGNED(offset, PAGE_SIZE))
		return -EINVAL;
	if (len == 0)
		return -EINVAL;
	if (len > UMM_TASK_SIZE - UMM_MMAP_MIN_ADDR)
		return -ENOMEM;
	len = ALIGN_UP(len, PAGE_SIZE);
	if (offset > UINT64_MAX - len)
		return -EOVERFLOW;
	if (flags & MAP_FIXED_NOREPLACE)
		flags |= MAP_FIXED;
	if (flags & MAP_FIXED) {
		if (!IS_ALIGNED(addr, PAGE_SIZE))
			return -EINVAL;
		if (addr < UMM_MMAP_MIN_ADDR)
			return -EPERM;
		if (addr > UMM_TASK_SIZE - len)
			return -ENOMEM;
	}
	if (!(flags & MAP_ANONYMOUS) && !obj)
		return -EBADF;
	*lenp = len;
	*flagsp = flags;
	return 0;
}

/*
 * mmap_vm_flags - the vma flags of a new mapping; -EACCES when the object's
 * access mode forbids it (unreadable file; shared writable mapping of a
 * read-only file).
 */
static int mmap_vm_flags(int prot, int flags, struct umm_object *obj, unsigned long *out)
{
	unsigned long vm_flags = calc_vm_prot_bits(prot) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
	bool shared = (flags & MAP_TYPE) != MAP_PRIVATE;

	if (shared)
		vm_flags |= VM_SHARED | VM_MAYSHARE;
	if (!(flags & MAP_ANONYMOUS)) {
		if (!obj->readable)
			return -EACCES;
		if (shared && !obj->writable) {
			if (prot & PROT_WRITE)
				return -EACCES;
			vm_flags &= ~VM_MAYWRITE;
		}
	}
	if (flags & MAP_NORESERVE)
		vm_flags |= VM_NORESERVE;
	if (flags & MAP_LOCKED)
		vm_flags |= VM_LOCKED;
	*out = vm_flags;
	return 0;
}

/* mmap_get_area - where the new mapping goes.  mmap_lock held for write. */
static int mmap_get_area(struct umm_mm *mm, uintptr_t addr, size_t len, int flags, uintptr_t *out)
{
	uintptr_t hint;

	if (flags & MAP_FIXED) {
		if ((flags & MAP_FIXED_NOREPLACE) && !range_is_free(mm, addr, addr + len))
			return -EEXIST;
		*out = addr;
		return 0;
	}
	hint = ALIGN_DOWN(addr, PAGE_SIZE);
	if (hint && hint < UMM_MMAP_MIN_ADDR)
		hint = UMM_MMAP_MIN_ADDR;
	if (hint > UMM_TASK_SIZE - len)
		hint = 0;
	/* get_unmapped_area falls back to the gap above mmap_base itself */
	return get_unmapped_area(mm, hint, len, out);
}

/*
 * mmap_region - create the vma for [start, start+len) and link it,
 * replacing whatever MAP_FIXED covers.  The vma (and a shmem object) are
 * allocated before anything is unmapped.  mmap_lock held for write.
 */
static int mmap_region(struct umm_mm *mm, uintptr_t start, size_t len, unsigned long vm_flags,
		       int flags, struct umm_object *obj, uint64_t offset)
{
	struct vm_area_struct *vma;
	int err;

	vma = vma_alloc(mm);
	if (!vma)
		return -ENOMEM;
	vma->vm_mm = mm;
	vma->vm_start = start;
	vma->vm_end = start + len;
	vma->vm_flags = vm_flags;
	if (!(flags & MAP_ANONYMOUS)) {
		object_get(obj);
		vma->vm_obj = obj;
		vma->vm_pgoff = offset >> PAGE_SHIFT;
	} else if (vm_flags & VM_SHARED) {
		err = shmem_zero_setup(mm->sys, len, &vma->vm_obj);
		if (err)
			goto err_free_vma;
		vma->vm_pgoff = 0;
	} else {
		vma->vm_pgoff = start >> PAGE_SHIFT;
	}
	if (flags & MAP_FIXED) {
		err = do_munmap(mm, start, len);
		if (err)
			goto err_free_vma;
	}
	vma_link(mm, vma);
	vma_try_merge(mm, vma);
	return 0;

err_free_vma:
	vma_free(vma);
	return err;
}

/*
 * mmap_populate - MAP_POPULATE / MAP_LOCKED (or MCL_FUTURE, `locked`):
 * fault the new mapping in.
 * Done after mmap_lock was dropped for write and retaken for read (as
 * Linux's mm_populate), so faults of other threads go on meanwhile;
 * whatever vmas are in the range by then are populated.  Errors leave the
 * rest to the fault path and are not reported.  MAP_NONBLOCK (with
 * MAP_POPULATE, without MAP_LOCKED) maps only what is already cached.
 */
static void mmap_populate(struct umm_mm *mm, uintptr_t start, size_t len, int flags, bool locked)
{
	unsigned int pflags = POPULATE_MMAP;

	if ((flags & MAP_NONBLOCK) && !locked)
		pflags |= POPULATE_NONBLOCK;
	mmap_read_lock(mm);
	(void)populate_range(mm, start, start + len, pflags);
	mmap_read_unlock(mm);
}

/**
 * umm_mmap - map len bytes of obj (from offset) or anonymous memory, as
 * mmap(2).  Takes and releases mmap_lock for write.  Returns 0 with
 * *out_addr set, or -EINVAL (bad argument), -ENOMEM (no room, too long,
 * out of memory), -EOVERFLOW (offset + len), -EOPNOTSUPP (unknown flag
 * with MAP_SHARED_VALIDATE), -EBADF (no object), -EACCES (object access
 * mode), -EPERM (MAP_FIXED below UMM_MMAP_MIN_ADDR), -EEXIST
 * (MAP_FIXED_NOREPLACE onto a mapping), -EAGAIN (a locked mapping over
 * the lock limit), -EPERM (MAP_LOCKED when the limit allows no locking).
 * Nothing changes on failure.
 * With MAP_POPULATE or MAP_LOCKED (or after mlockall(MCL_FUTURE) without
 * MCL_ONFAULT) the new mapping is then populated under
 * mmap_lock for read (mmap_populate); a populate that fails leaves the
 * rest to the fault path and the call still returns 0.
 */
int umm_mmap(struct umm_mm *mm, uintptr_t addr, size_t len, int prot, int flags,
	     struct umm_object *obj, uint64_t offset, uintptr_t *out_addr)
{
	unsigned long vm_flags;
	uintptr_t start;
	bool locked;
	int err;

	if (!mm || !out_addr)
		return -EINVAL;
	kthread_run_pending();          /* a safe point: helpers wanted in a signal handler */
	err = mmap_check_args(addr, &len, prot, &flags, obj, offset);
	if (err)
		return err;
	err = mmap_vm_flags(prot, flags, obj, &vm_flags);
	if (err)
		return err;

	mmap_write_lock(mm);
	vm_flags |= mm->def_flags;      /* mlockall(MCL_FUTURE) */
	err = mlock_future_check(mm, vm_flags, len >> PAGE_SHIFT);
	if (!err)
		err = mmap_get_area(mm, addr, len, flags, &start);
	if (!err)
		err = mmap_region(mm, start, len, vm_flags, flags, obj, offset);
	if (!err)
		mm_debug_check(mm);
	mmap_write_unlock(mm);
	if (err)
		return err;
	*out_addr = start;
	locked = (vm_flags & VM_LOCKED_MASK) == VM_LOCKED;
	if ((flags & MAP_POPULATE) || locked)
		mmap_populate(mm, start, len, flags, locked);
	return 0;
}

/**
 * umm_munmap - remove the mappings of [addr, addr+len), as munmap(2).
 * Takes and releases mmap_lock for write.  Returns 0 (also when nothing
 * was mapped there), -EINVAL (addr unaligned, len 0, range outside the
 * address space), -ENOMEM (a vma split failed; nothing changed).
 */
int umm_munmap(struct umm_mm *mm, uintptr_t addr, size_t len)
{
	int err;

	if (!mm || !IS_ALIGNED(addr, PAGE_SIZE) || len == 0)
		return -EINVAL;
	if (addr >= UMM_TASK_SIZE || len > UMM_TASK_SIZE - addr)
		return -EINVAL;
	len = ALIGN_UP(len, PAGE_SIZE);
	kthread_run_pending();          /* a safe point: helpers wanted in a signal handler */

	mmap_write_lock(mm);
	err = do_munmap(mm, addr, len);
	if (!err)
		mm_debug_check(mm);
	mmap_write_unlock(mm);
	return err;
}

/* ---- mprotect ---- */

static unsigned long mprotect_new_flags(const struct vm_area_struct *vma, unsigned long vm_prot)
{
	return (vma->vm_flags & ~VM_ACCESS_FLAGS) | vm_prot;
}

/*
 * mprotect_check - walk [start, end) in address order as Linux does and
 * report the first problem: a hole (-ENOMEM) or a permission the vma may
 * not have (-EACCES).  Changes nothing.  mmap_lock held.
 */
static int mprotect_check(struct umm_mm *mm, uintptr_t start, uintptr_t end, unsigned long vm_prot)
{
	struct vm_area_struct *vma = find_vma(mm, start);
	uintptr_t next = start;

	for (; next < end; vma = vma_next(vma)) {
		unsigned long newflags;

		if (!vma || vma->vm_start > next)
			return -ENOMEM;
		newflags = mprotect_new_flags(vma, vm_prot);
		/* each VM_MAY* bit sits four bits above its VM_* bit */
		if (newflags & ~(newflags >> 4) & VM_ACCESS_FLAGS)
			return -EACCES;
		next = vma->vm_end;
	}
	return 0;
}

/*
 * mprotect_apply - set the protection of an isolated, hole-free range and
 * merge the vmas that have become compatible.  mmap_lock held for write.
 */
static void mprotect_apply(struct umm_mm *mm, uintptr_t start, uintptr_t end, unsigned long vm_prot)
{
	struct vm_area_struct *vma;

	for (vma = find_vma(mm, start); vma && vma->vm_start < end; vma = vma_next(vma)) {
		unsigned long newflags = mprotect_new_flags(vma, vm_prot);

		/* a nonlinear vma's per-pte protections are reset even so (fremap.c) */
		if (newflags == vma->vm_flags && !(vma->vm_flags & VM_NONLINEAR))
			continue;
		vma_set_flags(vma, newflags);
		change_protection(vma, vma->vm_start, vma->vm_end);
	}
	/* Merging may free vmas: restart from the survivor each time. */
	for (vma = find_vma(mm, start); vma && vma->vm_start < end; vma = vma_next(vma))
		vma = vma_try_merge(mm, vma);
}

/**
 * umm_mprotect - change the protection of [addr, addr+len), as
 * mprotect(2).  Takes and releases mmap_lock for write.  Returns 0 (also
 * for len 0), -EINVAL (addr unaligned, unknown prot bits), -ENOMEM (a hole
 * in the range, range outside the address space, out of memory), -EACCES
 * (e.g. PROT_WRITE on a shared mapping of a read-only file).  The whole
 * range is checked first: nothing changes on failure.
 */
int umm_mprotect(struct umm_mm *mm, uintptr_t addr, size_t len, int prot)
{
	unsigned long vm_prot;
	uintptr_t end;
	int err;

	if (!mm || !IS_ALIGNED(addr, PAGE_SIZE))
		return -EINVAL;
	if (len == 0)
		return 0;
	if (prot & ~PROT_ALL)
		return -EINVAL;
	if (addr >= UMM_TASK_SIZE || len > UMM_TASK_SIZE - addr)
		return -ENOMEM;
	end = addr + ALIGN_UP(len, PAGE_SIZE);
	vm_prot = calc_vm_prot_bits(prot);

	mmap_write_lock(mm);
	err = mprotect_check(mm, addr, end, vm_prot);
	if (!err)
		err = mmap_isolate_range(mm, addr, end, NULL);
	if (!err) {
		mprotect_apply(mm, addr, end, vm_prot);
		mm_debug_check(mm);
	}
	mmap_write_unlock(mm);
	return err;
}
