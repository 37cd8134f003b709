/* SPDX-License-Identifier: MIT */
/*
 * msync.c - umm_msync: write the shared file mappings of a range back.
 *
 * Theory of operation.  The arguments and then the whole range are
 * checked first (a hole is -ENOMEM, MS_INVALIDATE on a MAP_LOCKED vma
 * -EBUSY), so a failed call writes nothing.  Then each shared vma of a
 * file object in the range is handled in turn: the object pages it shows
 * there are written back (filemap_write_range: the dirty ones, each
 * cleaned and write-protected in every mapping first, so a store made
 * during the write dirties it again); for MS_SYNC the file is then
 * fdatasync'ed.  Private mappings have nothing to write (their copies are
 * anonymous), shmem has no backing file yet.
 *
 *   MS_SYNC   returns once the data is durable; a failed write (the page
 *             stays dirty, PG_error set) or fdatasync is -EIO, and the
 *             object's recorded writeback error is reported and cleared.
 *   MS_ASYNC  writes the pages back but does not wait for durability.
 *             There is no asynchronous writeback yet, so the writes are
 *             done before the call returns; an error is kept in the
 *             object for the next MS_SYNC or umm_object_sync, and 0 is
 *             returned, as Linux's MS_ASYNC never fails on I/O.
 *   MS_INVALIDATE  nothing to do: every mapping of an object shares its
 *             page cache, so none holds a stale copy.
 *
 * As Linux does, the I/O of each vma is done with mmap_lock dropped (the
 * object is held by a reference): the range is walked again from where
 * it stopped, so a concurrent munmap only shortens the work.
 *
 * Locks (the order is in lockdep.h): mmap_lock (read) to walk the vmas;
 * without it, what writeback takes: page locks, then (page_mkclean)
 * i_mmap_lock, page_table_lock and pte table locks, and tree_lock.
 */
#include <errno.h>
#include <usermm/usermm.h>
#include "memory.h"
#include "filemap.h"

/* msync_check - holes (-ENOMEM) and MS_INVALIDATE on locked vmas (-EBUSY), in address order. */
static int msync_check(struct umm_mm *mm, uintptr_t start, uintptr_t end, int flags)
{
	struct vm_area_struct *vma = find_vma(mm, start);
	uintptr_t next = start;

	for (; next < end; vma = vma_next(vma)) {
		if (!vma || vma->vm_start > next)
			return -ENOMEM;
		if ((flags & MS_INVALIDATE) && (vma->vm_flags & VM_LOCKED))
			return -EBUSY;
		next = vma->vm_end;
	}
	return 0;
}

/*
 * msync_next - the next shared file vma piece at or after *addr below
 * end: its object (referenced) and object page range.  mmap_lock held.
 * NULL when there is none.
 */
static struct umm_object *msync_next(struct umm_mm *mm, uintptr_t *addr, uintptr_t end,
				     uint64_t *first, uint64_t *last)
{
	struct vm_area_struct *vma;

	for (vma = find_vma(mm, *addr); vma && vma->vm_start < end; vma = vma_next(vma)) {
		uintptr_t s = MAX(*addr, vma->vm_start), e = MIN(end, vma->vm_end);

		*addr = e;
		if (!vma_is_shared(vma) || !vma->vm_obj || vma->vm_obj->type != OBJ_FILE ||
		    (vma->vm_flags & VM_NONLINEAR))
			continue;
		*first = linear_page_index(vma, s);
		*last = linear_page_index(vma, e);
		object_get(vma->vm_obj);
		return vma->vm_obj;
	}
	*addr = end;
	return NULL;
}

/**
 * umm_msync - write back the dirty pages of the shared file mappings of
 * [addr, addr+len), as msync(2) (see <usermm/mm.h> and above).  Takes
 * mmap_lock (read) to find the vmas, and without it page locks, i_mmap_lock,
 * ptl and tree_lock for the writeback.  Returns 0, -EINVAL, -ENOMEM,
 * -EBUSY, -EIO.
 */
int umm_msync(struct umm_mm *mm, uintptr_t addr, size_t len, int flags)
{
	uintptr_t end;
	size_t alen;
	int err, ret = 0;

	if (!mm || (flags & ~(MS_ASYNC | MS_SYNC | MS_INVALIDATE)) || !IS_ALIGNED(addr, PAGE_SIZE))
		return -EINVAL;
	if ((flags & MS_ASYNC) && (flags & MS_SYNC))
		return -EINVAL;
	alen = ALIGN_UP(len, PAGE_SIZE);
	end = addr + alen;
	if ((len && !alen) || end < addr || end > UMM_TASK_SIZE)
		return -ENOMEM;
	if (end == addr)
		return 0;

	mmap_read_lock(mm);
	err = msync_check(mm, addr, end, flags);
	mmap_read_unlock(mm);
	if (err || !(flags & (MS_SYNC | MS_ASYNC)))
		return err;
	while (addr < end) {
		struct umm_object *obj;
		uint64_t first = 0, last = 0;

		mmap_read_lock(mm);
		obj = msync_next(mm, &addr, end, &first, &last);
		mmap_read_unlock(mm);
		if (!obj)
			break;
		err = filemap_write_range(obj, first, last);
		if (flags & MS_SYNC) {
			int wb = atomic_exchange(&obj->wb_err, 0);
			int ds = object_datasync(obj);

			if (!ret)
				ret = err ? err : wb ? wb : ds;
		}
		object_put(obj);
	}
	return ret;
}
