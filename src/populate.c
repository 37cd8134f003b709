/* SPDX-License-Identifier: MIT */
/*
 * populate.c - the batched populate: map a range of one vma before it is
 * touched, a page table at a time, walking the page table and the page
 * cache together instead of taking one fault per page.
 *
 * Theory of operation.  populate_vma_range first, for a file or shmem
 * vma, reads every page of the range that is not cached into the page
 * cache (page_cache_read_range: the reads for the whole range are issued
 * before anything is installed, in requests of consecutive pages that the
 * I/O backend runs in parallel, and waited for).  Then, for each page table the range crosses:
 *
 *   scan     under ptl: which ptes are empty, which already allow the
 *            access; stop at the first pte that needs a real fault
 *            (a copy-on-write of a present page, a protnone pte)
 *   prepare  without ptl: one gang lookup of the cache pages for the
 *            table's slots (their references are handed to the ptes);
 *            frames for anonymous writes (zeroed) and for private copies
 *            of file pages (copied), allocated before ptl is taken again
 *   install  under ptl: each still-empty slot gets its pte; the rss
 *            counters are added once per table
 *
 * and the unused references and frames are dropped after ptl.  The ptes
 * are what the fault handler would install for the same access: a read of
 * anonymous memory maps the zero page, a write a zeroed frame; a read or
 * a shared write maps the cache page (a shared write also dirties it, and
 * makes a read-only pte of a shared mapping writable, as do_wp_page does
 * after writeback cleaned it); a private write maps a private copy, an
 * exclusive anon page (PG_anon_exclusive) as the fault handler's are.
 * They are young, as after a fault.
 *
 * Where the batch cannot do a page (not cached after the reads because a
 * read failed, past the end of the object, a cache page another thread
 * holds locked, out of memory), it stops there and returns the address:
 * the caller (populate_range in gup.c) hands that one page to the fault
 * path, which reports the precise error or does it, and calls back for the
 * rest.  POPULATE_NONBLOCK instead skips such pages, reads nothing and
 * leaves anonymous vmas alone: it maps only what the page cache holds.
 *
 * Truncate.  A cache page is mapped with its page lock held (trylock: a
 * locked page is left to the fault path), rechecked to still belong to
 * the object, and only if the object's size, read under ptl, still covers
 * it: truncate lowers the size before it unmaps (and it takes this table's
 * ptl to unmap), so either it sees our pte or we see the new size.  Private
 * copies rely on the same size check.
 *
 * "ptl" here is the lock of the one pte table being worked on.
 *
 * Locks (the order is in lockdep.h): mmap_lock (caller, read or write),
 * then a pte table's lock (pte_alloc_map_lock installs a missing table
 * under page_table_lock first), and under it only trylocks of page locks
 * (which cannot wait, so they do not invert the page lock -> ptl order).
 * tree_lock (read, the gang lookup) and the allocator are taken with no
 * ptl held; so is, for POPULATE_NONBLOCK, the readahead of a stream's
 * next window that mapping its marker page starts (page_cache_ra_used:
 * ra->lock, new pages' locks, tree_lock, the allocator, the I/O
 * backend).  page_cache_read_range (page locks of new pages, tree_lock,
 * allocator, waiting for the reads) runs before any ptl.
 */
#include <errno.h>
#include <string.h>
#include "gup.h"
#include "filemap.h"
#include "readahead.h"
#include "object.h"
#include "rmap.h"

struct populate_table {
	struct vm_area_struct *vma;
	uintptr_t start;                      /* first address, inside one pte table */
	unsigned int nr;                      /* slots to do */
	unsigned int flags;                   /* POPULATE_* */
	bool need[PTRS_PER_TABLE];            /* pte empty at the scan */
	bool upgrade[PTRS_PER_TABLE];         /* shared write to a read-only pte: make it writable */
	struct page *page[PTRS_PER_TABLE];    /* cache page (referenced), file vmas */
	struct page *frame[PTRS_PER_TABLE];   /* new anon frame or private copy */
};

static inline bool pt_write(const struct populate_table *pt)
{
	return pt->flags & POPULATE_WRITE;
}

/* pte_allows - does a pte already allow the access (no fault needed)? */
static inline bool pte_allows(pte_t pte, bool write)
{
	return pte_accessible(pte) && (!write || pte_write(pte));
}

/*
 * populate_scan - under ptl, mark the empty slots and cut pt->nr at the
 * first pte that needs a fault.  Returns the number of empty slots.
 */
static unsigned int populate_scan(struct populate_table *pt)
{
	struct umm_mm *mm = pt->vma->vm_mm;
	bool shared_write = pt_write(pt) && vma_is_shared(pt->vma);
	unsigned int i, need = 0;
	struct fmutex *ptl;
	pte_t *ptep;

	ptep = pte_offset_map_lock(mm, pt->start, &ptl);     /* NULL: no table, all empty */
	for (i = 0; i < pt->nr; i++) {
		pte_t pte = ptep ? ptep[i] : 0;

		pt->need[i] = pte_none(pte);
		pt->upgrade[i] = shared_write && pte_accessible(pte) && !pte_write(pte) &&
				 !pte_special(pte);
		if (pt->need[i] || pt->upgrade[i])
			need++;
		else if (!pte_allows(pte, pt_write(pt)))
			break;
	}
	if (ptep)
		pte_unmap_unlock(ptep, ptl);
	pt->nr = i;
	return need;
}

/* populate_lookup - the uptodate cache pages of the empty slots, one gang lookup. */
static void populate_lookup(struct populate_table *pt)
{
	struct umm_object *obj = pt->vma->vm_obj;
	uint64_t first = linear_page_index(pt->vma, pt->start), index = first;
	struct page *found[PTRS_PER_TABLE];
	unsigned int n, i;

	n = find_get_pages(obj, &index, first + pt->nr, pt->nr, found);
	for (i = 0; i < n; i++) {
		struct page *page = found[i];
		unsigned int slot = (unsigned int)(page->index - first);

		if (pt->need[slot] && PageUptodate(page)) {
			if (pt->flags & POPULATE_NONBLOCK)     /* fault-around: streams go on */
				page_cache_ra_used(obj, page, vm_ra_hints(pt->vma->vm_flags));
			else
				page_readahead_used(obj->sys, page);   /* a read-ahead page is used now */
			pt->page[slot] = page;
		} else
			put_page(page);
	}
}

/*
 * populate_alloc_run - POPULATE_CONTIG: zeroed frames for the run of
 * empty slots from *ip, all from one block so that they follow each other
 * in the arena (the block is the smallest power of two that holds the
 * run, at most 64 frames; what the run does not use is freed).  No
 * reclaim for it: without a free block, false and the caller goes on
 * frame by frame.  On success *ip is the run's last slot.
 */
static bool populate_alloc_run(struct populate_table *pt, struct phys_mem *phys, unsigned int *ip)
{
	unsigned int i = *ip, n = 0, order = 0;
	struct page *block;

	while (i + n < pt->nr && pt->need[i + n] && n < 64)
		n++;
	if (n < 2)
		return false;
	while ((1u << order) < n)
		order++;
	block = alloc_pages(phys, GFP_ZERO | GFP_NORECLAIM | GFP_NOWARN, order);
	if (!block)
		return false;
	split_page(block, order);
	for (unsigned int k = 0; k < n; k++)
		pt->frame[i + k] = block + k;
	for (unsigned int k = n; k < (1u << order); k++)
		put_page(block + k);
	*ip = i + n - 1;
	return true;
}

/*
 * populate_alloc - frames for the slots that need one: a zeroed frame per
 * empty slot of an anonymous write, a copy per cache page of a private
 * write.  Stops at the first failed allocation (the install stops there).
 */
static void populate_alloc(struct populate_table *pt, bool anon)
{
	struct phys_mem *phys = pt->vma->vm_mm->sys->phys;

	for (unsigned int i = 0; i < pt->nr; i++) {
		struct page *frame;

		if (!pt->need[i] || (!anon && !pt->page[i]))
			continue;
		if (anon && (pt->flags & POPULATE_CONTIG) && populate_alloc_run(pt, phys, &i))
			continue;
		frame = alloc_page(phys, anon ? GFP_ZERO : 0);
		if (!frame)
			return;
		if (!anon)
			memcpy(page_address(frame), page_address(pt->page[i]), PAGE_SIZE);
		pt->frame[i] = frame;
	}
}

/*
 * populate_install - under ptl, give every still-empty slot its pte.
 * Returns the slot it stopped at (pt->nr when done).
 */
static unsigned int populate_install(struct populate_table *pt)
{
	struct vm_area_struct *vma = pt->vma;
	struct umm_mm *mm = vma->vm_mm;
	struct umm_object *obj = vma->vm_obj;
	bool write = pt_write(pt), nonblock = pt->flags & POPULATE_NONBLOCK;
	bool private_write = write && !vma_is_shared(vma);
	int file_counter = obj && obj->type == OBJ_SHMEM ? MM_SHMEMPAGES : MM_FILEPAGES;
	uint64_t first = obj ? linear_page_index(vma, pt->start) : 0;
	uint64_t size_pages = 0;
	long nr_anon = 0, nr_file = 0;
	struct fmutex *ptl;
	unsigned int i;
	pte_t *ptep;

	ptep = pte_alloc_map_lock(mm, pt->start, &ptl);
	if (!ptep)
		return 0;                 /* no memory for the table: the fault path says -ENOMEM */
	if (obj)
		size_pages = object_size_pages(obj);
	for (i = 0; i < pt->nr; i++) {
		uintptr_t addr = pt->start + ((uintptr_t)i << PAGE_SHIFT);
		struct page *page;
		pte_t entry;

		if (pt->upgrade[i]) {
			/* what do_wp_page does for a shared page: dirty it, make the pte writable */
			entry = ptep[i];
			if (pte_allows(entry, true))
				continue;
			if (!pte_accessible(entry) || pte_special(entry))
				break;
			set_page_dirty(pfn_to_page(mm->sys->phys, pte_pfn(entry)));
			set_pte_at(mm, addr, &ptep[i], pte_mkyoung(pte_mkdirty(pte_mkwrite(entry))));
			continue;
		}
		if (!pt->need[i])
			continue;
		if (!pte_none(ptep[i])) {
			if (pte_allows(ptep[i], write))
				continue;         /* a racing fault did it */
			break;
		}
		if (!obj) {
			if (!write) {
				set_pte_at(mm, addr, &ptep[i], pfn_pte(mm->sys->zero_pfn,
					   PTE_PRESENT | PTE_SPECIAL | PTE_YOUNG));
				continue;
			}
			if (!pt->frame[i])
				break;
			goto install_frame;
		}
		if (first + i >= size_pages)
			break;                    /* past the end: the fault says -EIO */
		page = pt->page[i];
		if (!page) {
			if (nonblock)
				continue;
			break;
		}
		if (private_write) {
			if (!pt->frame[i])
				break;
			goto install_frame;
		}
		if (!trylock_page(page)) {
			if (nonblock)
				continue;
			break;
		}
		if (page->mapping != obj) {
			unlock_page(page);
			if (nonblock)
				continue;
			break;
		}
		entry = pfn_pte(page_to_pfn(page), PTE_PRESENT | PTE_YOUNG);
		if (write) {
			entry |= PTE_RW | PTE_DIRTY;
			set_page_dirty(page);
		}
		page_add_file_rmap(page, vma, addr, &ptep[i]);
		set_pte_at(mm, addr, &ptep[i], entry);
		unlock_page(page);
		pt->page[i] = NULL;               /* its reference is the pte's now */
		nr_file++;
		continue;

install_frame:
		/* only this pte reaches it: exclusive (memory.c), before the pte publishes it */
		SetPageAnonExclusive(pt->frame[i]);
		set_pte_at(mm, addr, &ptep[i], pfn_pte(page_to_pfn(pt->frame[i]),
			   PTE_PRESENT | PTE_RW | PTE_DIRTY | PTE_YOUNG));
		page_add_new_anon_rmap(pt->frame[i], vma, addr, &ptep[i]);
		pt->frame[i] = NULL;
		nr_anon++;
	}
	if (nr_anon)
		add_mm_counter(mm, MM_ANONPAGES, nr_anon);
	if (nr_file)
		add_mm_counter(mm, file_counter, nr_file);
	pte_unmap_unlock(ptep, ptl);
	return i;
}

/*
 * populate_install_rmap - populate_install with the reverse map's
 * allocations made first, as the fault path makes them: the vma's
 * anon_vma before private anon frames are mapped (object rmap), and a
 * chain block per page-cache page it may map (pte chains), given back
 * after.  No ptl.  Returns what populate_install returns (0 when the
 * reverse map could not allocate: the fault path reports the -ENOMEM).
 */
static unsigned int populate_install_rmap(struct populate_table *pt)
{
	struct umm_system *sys = pt->vma->vm_mm->sys;
	unsigned int nr_cache = 0, done;
	bool anon_frames = false;

	for (unsigned int i = 0; i < pt->nr; i++) {
		nr_cache += pt->page[i] != NULL;
		anon_frames |= pt->frame[i] != NULL;
	}
	if (anon_frames && anon_vma_prepare(pt->vma))
		return 0;
	if (nr_cache && rmap_prepare(sys, nr_cache)) {
		rmap_unprepare(sys);
		return 0;
	}
	done = populate_install(pt);
	if (nr_cache)
		rmap_unprepare(sys);
	return done;
}

/* populate_release - drop the references and frames the install did not use.  No ptl. */
static void populate_release(struct populate_table *pt)
{
	for (unsigned int i = 0; i < pt->nr; i++) {
		if (pt->page[i])
			put_page(pt->page[i]);
		if (pt->frame[i])
			put_page(pt->frame[i]);
	}
}

/*
 * populate_table - the scan, prepare and install steps for [start, end)
 * inside one pte table.  Returns the address it stopped at (end when done).
 */
static uintptr_t populate_table(struct populate_table *pt, uintptr_t start, uintptr_t end)
{
	bool anon = vma_is_anonymous(pt->vma);
	unsigned int done;

	pt->start = start;
	pt->nr = (unsigned int)((end - start) >> PAGE_SHIFT);
	if (populate_scan(pt) == 0)
		return start + ((uintptr_t)pt->nr << PAGE_SHIFT);
	memset(pt->page, 0, sizeof(pt->page[0]) * pt->nr);
	memset(pt->frame, 0, sizeof(pt->frame[0]) * pt->nr);
	if (!anon)
		populate_lookup(pt);
	if (pt_write(pt) && (anon || !vma_is_shared(pt->vma)))
		populate_alloc(pt, anon);
	done = populate_install_rmap(pt);
	populate_release(pt);
	return start + ((uintptr_t)done << PAGE_SHIFT);
}

/**
 * populate_vma_range - map [@start, @end) of @vma (page aligned, inside
 * it) for the access POPULATE_WRITE says, as the fault handler would,
 * reading missing cache pages first in batches.  mmap_lock held (read or
 * write); takes ptl per table, tree_lock, page locks (trylock), the new
 * pages' locks during reads.
 * Return: the address up to which every page has a pte allowing the
 * access; the page there must go through the fault path.  @end when
 * everything was done, and always with POPULATE_NONBLOCK.
 */
uintptr_t populate_vma_range(struct vm_area_struct *vma, uintptr_t start, uintptr_t end,
			     unsigned int flags)
{
	struct populate_table pt = { .vma = vma, .flags = flags };
	bool nonblock = flags & POPULATE_NONBLOCK;

	VM_BUG_ON(start < vma->vm_start || end > vma->vm_end || start > end);
	if (vma_is_anonymous(vma) && nonblock)
		return end;
	if (vma->vm_flags & VM_NONLINEAR)
		return nonblock ? end : start;
	if (!vma_is_anonymous(vma) && !nonblock)
		(void)page_cache_read_range(vma->vm_obj, linear_page_index(vma, start),
					    (end - start) >> PAGE_SHIFT);
	for (uintptr_t addr = start; addr < end; ) {
		uintptr_t next = MIN(end, ALIGN_DOWN(addr, PMD_SIZE) + PMD_SIZE);
		uintptr_t done = populate_table(&pt, addr, next);

		if (done >= next)
			addr = next;
		else if (!nonblock)
			return done;
		else
			addr = done + PAGE_SIZE;  /* skip the page it could not map */
	}
	return end;
}
