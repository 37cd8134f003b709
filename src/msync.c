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
 * A nonlinear window (VM_NONLINEAR, fremap.c) shows object pages in any
 * order: the object pages its part of the range shows are read from its
 * ptes (a present pte's page, a file pte's offset, the linear page where
 * the pte is empty), MSYNC_CHUNK pages at a time, sorted, and each run of
 * consecutive offsets is written back.  The cost is one pte read per page
 * of the range plus a sort of each chunk, whatever the window's size.
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
#include <stdlib.h>
#include <usermm/usermm.h>
#include "memory.h"
#include "filemap.h"

/* Pages of a nonlinear window whose offsets are gathered per mmap_lock round trip. */
#define MSYNC_CHUNK 256

/* What one step writes back: runs [first[i], last[i]) of one object. */
struct msync_runs {
	unsigned int nr;
	uint64_t first[MSYNC_CHUNK], last[MSYNC_CHUNK];
};

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

struct window_offsets {
	struct vm_area_struct *vma;
	uintptr_t start;
	uint64_t *off;
};

/* window_offset_one - walk_pte_range callback: the object page a window pte shows.  ptl held. */
static int window_offset_one(struct umm_mm *mm, pte_t *ptep, uintptr_t addr, void *arg)
{
	struct window_offsets *wo = arg;
	uint64_t *slot = &wo->off[(addr - wo->start) >> PAGE_SHIFT];
	pte_t pte = *ptep;

	if (pte_is_file(pte)) {
		*slot = pte_to_pgoff(pte);
	} else if (pte_present(pte) && !pte_special(pte)) {
		struct page *page = pfn_to_page(mm->sys->phys, pte_pfn(pte));

		/* a page truncate took out of the cache has nothing to write */
		*slot = page->mapping == wo->vma->vm_obj ? page->index : UINT64_MAX;
	} else if (!pte_none(pte)) {
		*slot = UINT64_MAX;         /* nothing of the object (a swap entry) */
	}
	return 0;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * window_runs - the object pages [s, e) of a nonlinear window shows (at
 * most MSYNC_CHUNK pages), as sorted runs of consecutive offsets.
 * mmap_lock held; takes each pte table's lock.
 */
static void window_runs(struct vm_area_struct *vma, uintptr_t s, uintptr_t e, struct msync_runs *runs)
{
	uint64_t off[MSYNC_CHUNK];
	struct window_offsets wo = { vma, s, off };
	size_t n = (e - s) >> PAGE_SHIFT;

	for (size_t i = 0; i < n; i++)
		off[i] = linear_page_index(vma, s + (i << PAGE_SHIFT));   /* an empty pte */
	(void)walk_pte_range(vma->vm_mm, s, e, window_offset_one, &wo);
	qsort(off, n, sizeof(off[0]), u64_cmp);
	runs->nr = 0;
	for (size_t i = 0; i < n && off[i] != UINT64_MAX; i++) {
		if (runs->nr && off[i] <= runs->last[runs->nr - 1]) {
			runs->last[runs->nr - 1] = MAX(runs->last[runs->nr - 1], off[i] + 1);
			continue;
		}
		runs->first[runs->nr] = off[i];
		runs->last[runs->nr++] = off[i] + 1;
	}
}

/*
 * msync_next - the next shared file vma piece at or after *addr below
 * end (a nonlinear window's piece at most MSYNC_CHUNK pages): its object
 * (referenced) and the object page runs it shows.  mmap_lock held.  NULL
 * when there is none.
 */
static struct umm_object *msync_next(struct umm_mm *mm, uintptr_t *addr, uintptr_t end,
				     struct msync_runs *runs)
{
	struct vm_area_struct *vma;

	for (vma = find_vma(mm, *addr); vma && vma->vm_start < end; vma = vma_next(vma)) {
		uintptr_t s = MAX(*addr, vma->vm_start), e = MIN(end, vma->vm_end);

		if (!vma_is_shared(vma) || !vma->vm_obj || vma->vm_obj->type != OBJ_FILE) {
			*addr = e;
			continue;
		}
		if (vma->vm_flags & VM_NONLINEAR) {
			e = MIN(e, s + ((uintptr_t)MSYNC_CHUNK << PAGE_SHIFT));
			window_runs(vma, s, e, runs);
		} else {
			runs->nr = 1;
			runs->first[0] = linear_page_index(vma, s);
			runs->last[0] = linear_page_index(vma, e);
		}
		*addr = e;
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
	struct msync_runs runs;        /* 4 KiB */
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

		mmap_read_lock(mm);
		obj = msync_next(mm, &addr, end, &runs);
		mmap_read_unlock(mm);
		if (!obj)
			break;
		err = 0;
		for (unsigned int i = 0; i < runs.nr; i++) {
			int e = filemap_write_range(obj, runs.first[i], runs.last[i]);

			if (!err)
				err = e;
		}
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
