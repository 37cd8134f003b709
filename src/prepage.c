/* SPDX-License-Identifier: MIT */
/*
 * prepage.c - umm_prepage: bring in a vector of extents now (Becker's
 * prepage, with every tuple's whole extent).
 *
 * Theory of operation.  Each tuple (addr, extent) names the pages that
 * [addr, addr + extent) touches; extent 0 names none.  Under mmap_lock
 * (read) every tuple is first checked: its range must not wrap, must lie
 * inside [UMM_MMAP_MIN_ADDR, UMM_TASK_SIZE) and every page of it must be
 * mapped by a vma that allows the access (read, or write with
 * UMM_PREPAGE_WRITE).  An invalid tuple fails the whole call with -EFAULT
 * before anything is done (its index goes to umm_prepage_bad_index(),
 * per thread), or is skipped with UMM_PREPAGE_SKIP_INVALID.  The valid
 * page ranges are sorted and overlapping or adjacent ones merged, so each
 * page is brought in once and each merged range is one populate_range
 * (gup.c): batched reads of the missing cache pages, then a page table at
 * a time.  Best effort: a page that fails (I/O error, no memory, past the
 * end of its object) stops that range and is left to the fault path.
 *
 * Synchronous: the pages are in when the call returns.
 *
 * Asynchronous (UMM_PREPAGE_ASYNC): after the same checks and merging,
 * the reads of the uncached pages of the file vmas in the ranges are
 * queued to the I/O backend (page_cache_read_async, in batches of
 * requests that run in parallel) and the call returns; nothing is mapped
 * (the first touch of a page is a minor fault, which waits if its read is
 * still in flight).  Anonymous and shmem pages need no read and are left
 * to the faults, and so are the private copies UMM_PREPAGE_WRITE asks for.
 * The reads are accounted to the mm's tracker (mm->prepage_io, made by
 * the first asynchronous call and freed with the mm; reads in flight hold
 * their own references), which umm_prepage_wait waits on.
 *
 * Locks (the order is in lockdep.h): mmap_lock (read) for the whole
 * call; populate takes page locks, pte table locks and tree_lock under it.
 */
#include <errno.h>
#include <stdlib.h>
#include <usermm/usermm.h>
#include "gup.h"
#include "io.h"
#include "readahead.h"

#define PREPAGE_FLAGS (UMM_PREPAGE_WRITE | UMM_PREPAGE_SKIP_INVALID | UMM_PREPAGE_ASYNC)

struct prepage_range {
	uintptr_t start, end;
};

static __thread size_t prepage_bad_index = SIZE_MAX;

/**
 * umm_prepage_bad_index - the index of the first invalid tuple of the
 * calling thread's last umm_prepage that returned -EFAULT; SIZE_MAX if
 * its last call did not fail that way.  No locks.
 */
size_t umm_prepage_bad_index(void)
{
	return prepage_bad_index;
}

/* tuple_range - the pages a tuple names; false if the range wraps or leaves the address space. */
static bool tuple_range(const struct umm_prepage_tuple *t, struct prepage_range *r)
{
	r->start = r->end = 0;
	if (!t->extent)
		return true;
	if (t->addr < UMM_MMAP_MIN_ADDR || t->addr >= UMM_TASK_SIZE ||
	    t->extent > UMM_TASK_SIZE - t->addr)
		return false;
	r->start = ALIGN_DOWN(t->addr, PAGE_SIZE);
	r->end = ALIGN_UP(t->addr + t->extent, PAGE_SIZE);
	return true;
}

/* range_accessible - every page of r mapped by a vma allowing the access.  mmap_lock held. */
static bool range_accessible(struct umm_mm *mm, const struct prepage_range *r, unsigned int pflags)
{
	struct vm_area_struct *vma = find_vma(mm, r->start);
	uintptr_t next = r->start;

	for (; next < r->end; vma = vma_next(vma)) {
		if (!vma || vma->vm_start > next || !populate_vma_allows(vma, pflags))
			return false;
		next = vma->vm_end;
	}
	return true;
}

static int range_cmp(const void *a, const void *b)
{
	const struct prepage_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * prepage_tracker - the mm's tracker of asynchronous prepage reads, made
 * on first use.  No lock (a racing maker's copy is freed).  NULL: no memory.
 */
static struct io_tracker *prepage_tracker(struct umm_mm *mm)
{
	struct io_tracker *t = atomic_load(&mm->prepage_io), *expected = NULL;

	if (t)
		return t;
	t = io_tracker_alloc();
	if (!t)
		return NULL;
	if (!atomic_compare_exchange_strong(&mm->prepage_io, &expected, t)) {
		io_tracker_put(t);
		t = expected;
	}
	return t;
}

/* prepage_queue_reads - queue the reads of the file pages of one merged range.  mmap_lock held. */
static void prepage_queue_reads(struct umm_mm *mm, const struct prepage_range *r,
				struct io_tracker *tracker)
{
	struct vm_area_struct *vma;

	for (vma = find_vma(mm, r->start); vma && vma->vm_start < r->end; vma = vma_next(vma)) {
		uintptr_t s = MAX(r->start, vma->vm_start), e = MIN(r->end, vma->vm_end);

		if (vma_is_anonymous(vma) || (vma->vm_flags & VM_NONLINEAR))
			continue;
		(void)page_cache_read_async(vma->vm_obj, linear_page_index(vma, s),
					    (e - s) >> PAGE_SHIFT, tracker);
	}
}

/**
 * umm_prepage_wait - wait for the reads of @mm's asynchronous prepages
 * (see <usermm/mm.h>).  Takes the tracker's lock; no other lock.
 * Return: 0; -EIO if a read failed since the last wait; -EINVAL (NULL).
 */
int umm_prepage_wait(struct umm_mm *mm)
{
	struct io_tracker *t;

	if (!mm)
		return -EINVAL;
	t = atomic_load(&mm->prepage_io);
	return t ? io_tracker_wait(t) : 0;
}

/**
 * umm_prepage - fault in the extents of v[0..n) now (see <usermm/mm.h>).
 * Takes mmap_lock (read), and ptl, page locks, tree_lock through populate.
 * Returns 0; -EINVAL (NULL mm, NULL v with n > 0, unknown flags); -ENOMEM
 * (no memory for the sorted copy of the tuples); -EFAULT (an invalid
 * tuple without UMM_PREPAGE_SKIP_INVALID; nothing done).
 */
int umm_prepage(struct umm_mm *mm, const struct umm_prepage_tuple *v, size_t n, int flags)
{
	unsigned int pflags = flags & UMM_PREPAGE_WRITE ? POPULATE_WRITE : 0;
	struct io_tracker *tracker = NULL;
	struct prepage_range *ranges;
	size_t i, nr = 0, merged = 0;
	int err = 0;

	if (!mm || (n && !v) || (flags & ~PREPAGE_FLAGS))
		return -EINVAL;
	prepage_bad_index = SIZE_MAX;
	if (!n)
		return 0;
	if (n > SIZE_MAX / sizeof(*ranges))
		return -ENOMEM;
	if (flags & UMM_PREPAGE_ASYNC) {
		tracker = prepage_tracker(mm);
		if (!tracker)
			return -ENOMEM;
	}
	ranges = malloc(n * sizeof(*ranges));
	if (!ranges)
		return -ENOMEM;

	mmap_read_lock(mm);
	for (i = 0; i < n; i++) {
		struct prepage_range r;

		if (!tuple_range(&v[i], &r) || (r.start < r.end && !range_accessible(mm, &r, pflags))) {
			if (flags & UMM_PREPAGE_SKIP_INVALID)
				continue;
			prepage_bad_index = i;
			err = -EFAULT;
			goto out;
		}
		if (r.start < r.end)
			ranges[nr++] = r;
	}
	qsort(ranges, nr, sizeof(*ranges), range_cmp);
	for (i = 0; i < nr; i++) {
		if (merged && ranges[i].start <= ranges[merged - 1].end)
			ranges[merged - 1].end = MAX(ranges[merged - 1].end, ranges[i].end);
		else
			ranges[merged++] = ranges[i];
	}
	for (i = 0; i < merged; i++) {
		if (tracker)
			prepage_queue_reads(mm, &ranges[i], tracker);
		else
			(void)populate_range(mm, ranges[i].start, ranges[i].end, pflags);
	}
out:
	mmap_read_unlock(mm);
	free(ranges);
	return err;
}
