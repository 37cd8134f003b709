/* SPDX-License-Identifier: MIT */
/*
 * fremap.c - nonlinear windows: umm_remap_file_pages and its vectored
 * form map any pages of an object at any pages of one existing VMA,
 * without creating or splitting a VMA.
 *
 * Theory of operation.  A remapped range's ptes record the object page
 * they show: a present pte maps that page-cache page, and a page that is
 * not mapped gets a file pte (PTE_FILE, pgtable.h) holding its offset, so
 * its first access faults in that page (memory.c, do_nonlinear_fault) and
 * never the linear page or an old mapping.  The VMA is marked
 * VM_NONLINEAR; a pte that is empty there still means the linear page
 * (vm_pgoff), as in Linux.  One call:
 *
 *   1. check everything (flags, prot, rounding, wrap, the pgoff range a
 *      file pte encodes, one file/shmem VMA around the range, the
 *      VMA may have the protection asked for), allocate every page
 *      table the range needs and room in the reverse index: the only
 *      steps that fail, done before anything is changed;
 *   2. a pte table at a time (fremap_apply): look up the object pages of
 *      that part of the range in the page cache with one lookup of the run
 *      (without MAP_NONBLOCK, the missing ones inside the object are read
 *      first, in one batch); then under i_mmap_lock and the table's ptl,
 *      taken once: for each page, zap the old pte (the old page goes
 *      after the TLB shootdown, one for the whole call) and write the new
 *      pte; then record the new offsets in the window's reverse index,
 *      each replacing whatever entry its slot had (the index finds it by
 *      slot, so what the old pte showed need not be read; room was
 *      reserved in step 1; the index and the ptes change under
 *      i_mmap_lock, which the index's readers hold, so they never see one
 *      without the other).  The new
 *      pte is a present, young, read-only pte of the cache
 *      page when it was found uptodate, its page lock could be taken with
 *      a trylock (as populate.c does under ptl), it still belongs to the
 *      object and lies inside its size, and the range may be read; else
 *      the file pte.  Either carries the range's protection bits if prot
 *      != 0 differs from the VMA's (PTE_OWNPROT).  The present pte is the
 *      one a read fault would install (do_nonlinear_fault), so the
 *      populate takes no fault; MAP_NONBLOCK maps what is cached the same
 *      way and starts no I/O;
 *   3. without MAP_NONBLOCK, the pages step 2 left with a file pte (for
 *      instance a page locked by someone else, or a failed read: each
 *      page of such a request) go through the fault
 *      path for reading, which waits for the lock.  A page that cannot be
 *      brought in (past the end of the object, read error, out of
 *      memory) keeps its file pte: its access reports the error;
 *   4. after the shootdown, the translations of up to FREMAP_PREFILL_MAX
 *      of the pages mapped go to the calling thread's soft TLB
 *      (mmu_notifier_prefill, under each table's ptl): a caller remaps to
 *      touch what it remapped, and each touch would otherwise be a TLB
 *      miss (mmap_lock, a walk, ptl).  A later change of those ptes
 *      flushes them like any translation.
 *
 * Misses.  On a large window over a large object nearly every structure a
 * remap touches is a cache miss (and, in a VM, a costly TLB miss): the
 * pte line, the radix leaf, the struct page of each new and each old
 * page, the index buckets, the soft-TLB entries, the frames the caller
 * then reads.  Taken one after another behind the atomics of get_page,
 * trylock_page and the map counts they cost more than everything else,
 * so they are started together, as prefetches (hints: they change no
 * state; a wrong one costs a line), each chain's first link as early as
 * its address is known:
 *   - once a single request is checked: the radix leaves its lookup will
 *     read (page_cache_prefetch_run), which load while the rest of step 1
 *     runs;
 *   - when a request's tables are allocated: its first pte line and the
 *     lock of its table (in the table's struct page), its new offsets'
 *     index buckets, the line of the index's slot array that says where
 *     its slots' current entries are, and the calling thread's soft-TLB
 *     entries for the range (mmu_notifier_prefetch), which the shootdown
 *     and the prefill of step 4 touch;
 *   - in the lookup: the pages found and the first line of each one's
 *     frame, before the pages are referenced (find_get_page_run with
 *     frames): a caller remaps to touch what it remapped (as for step 4),
 *     so this starts the host's translation of the frame and its first
 *     line (a database page's header) while the call goes on.  A
 *     vector's small entries are looked up together (fremap_lookup_ahead,
 *     find_get_page_runs), so the misses of all their lookups overlap;
 *   - from inside the lookup, once its prefetches are started and before
 *     it waits for them (fremap_prefetch, the lookup's between hook): the
 *     old ptes' struct pages, the ptes read without ptl (a snapshot that
 *     only steers prefetches), the index buckets holding the slots'
 *     current entries (found through the slot array,
 *     nl_index_prefetch_slots: no old pte or old page is read for them)
 *     and again those of the new offsets; in a vector, the next entry's
 *     while one is applied.

 * Per-pte protection.  prot == 0 leaves the range under the VMA's
 * protection.  Another prot (a subset of PROT_READ|PROT_WRITE|PROT_EXEC
 * that the VMA may have, VM_MAY*) is stored in each pte of the range
 * (PTE_OWNPROT, PTE_OWN_WRITE, PTE_OWN_EXEC) and the fault handler checks
 * an access against it instead of the VMA's flags: -EFAULT exactly where
 * it forbids.  A pte with its own protection is always readable (x86
 * rules).  A later umm_mprotect over any part of a nonlinear VMA sets that
 * part's protection the ordinary way and drops the per-pte protections in
 * it.
 *
 * What keeps the layout.  A zap that is not an unmap turns the present
 * ptes of a nonlinear VMA back into file ptes: truncate
 * (unmap_mapping_range) and zap_page_range_keep (umm_madvise's
 * MADV_DONTNEED); umm_mincore looks a file pte's page up in the cache.
 * munmap clears them.  umm_msync of a range of a window writes back the
 * object pages its ptes show (msync.c).  fork copies file ptes; mremap moves them (the moved
 * part keeps VM_NONLINEAR); mprotect splits a nonlinear VMA into
 * nonlinear VMAs; nonlinear VMAs are never merged.  The reverse map finds
 * a page wherever it sits in a window: the pte-chain scheme records every
 * pte; the object scheme asks each nonlinear VMA's reverse index
 * (nonlinear_index.c: offset -> the slots a remap pointed at it), which
 * step 2 keeps up to date, so page_mkclean (writeback) and try_to_unmap
 * look at a few ptes, not the whole window.  Truncate scans the ptes of
 * each window of the object once per call (memory.c unmap_vma_pages), as
 * Linux scanned its i_mmap_nonlinear list.
 *
 * Private windows (a MAP_PRIVATE file VMA).  Pages that were not written
 * follow their file offsets like a shared window's (read-only ptes of the
 * page-cache pages, or file ptes).  A write makes a private anonymous copy
 * that stays at that virtual page; the copy records the object page it
 * was copied from (page->private, memory.c copy_origin), so a zap that
 * keeps the layout (MADV_DONTNEED) or a truncate of that page drops the
 * copy and leaves the file pte: the next access shows the file page again,
 * as for a linear private mapping.  A later remap over a page that holds a
 * private copy discards the copy (its contents are lost, as with munmap)
 * and the page then shows the new offset.  A copy swapped out keeps that
 * record with its swap slot (swap.h, swap_page_origin), and its page's own
 * protection in its swap pte (pgtable.h), which the swap-in gives back.
 *
 * Locks (order in lockdep.h): mmap_lock for write for the whole call
 * (the VMA's flags change; VM_NONLINEAR is set under the object's
 * i_mmap_lock too, which truncate and page_mkclean hold when they read
 * it); __pte_alloc takes page_table_lock; the leaf prefetch of step 1
 * and the lookup take tree_lock (fremap_prefetch, run inside the lookup,
 * takes no lock) and the reads of missing pages their page locks, with no
 * other lock held; the index, the zap and the new ptes change under i_mmap_lock
 * (i_mmap_lock -> ptl, each pte table's lock in turn), with page locks
 * only trylocked under ptl; the faults of step 3 take ptl and the page
 * lock (page lock -> ptl) after i_mmap_lock is dropped; the prefill of
 * step 4 takes each ptl.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <usermm/usermm.h>
#include "memory.h"
#include "filemap.h"
#include "readahead.h"
#include "rmap.h"
#include "object.h"
#include "nonlinear_index.h"
#include "mmu_notifier.h"

#define FREMAP_PROT_ALL (PROT_READ | PROT_WRITE | PROT_EXEC)
/* Pages of a table whose old struct pages are prefetched ahead (fremap_prefetch). */
#define FREMAP_PREFETCH_AHEAD 16
/* Vector entries of at most this many pages are looked up together (fremap_lookup_ahead). */
#define FREMAP_AHEAD_PAGES 16
#define FREMAP_AHEAD_RUNS 64    /* entries per find_get_page_runs call */
/* Pages per call whose translations go to the caller's soft TLB (fremap_prefill). */
#define FREMAP_PREFILL_MAX 256

/* One checked remap: pages [start, end) get object pages from pgoff on. */
struct fremap_req {
	struct vm_area_struct *vma;
	uintptr_t start, end;
	uint64_t pgoff;
	pte_t own;              /* PTE_OWNPROT bits for the range, or 0 */
	pte_t *ptep;            /* the pte slot of start (fremap_alloc_tables) */
	bool missed;            /* populating left a page with its file pte */
	unsigned int pre_nr;    /* pages of pre[] to use (fremap_lookup_ahead), else 0 */
	unsigned int pre_found; /* of those, not NULL */
	struct page *pre[FREMAP_AHEAD_PAGES];   /* the first table's pages, referenced */
	struct mmu_notifier_range range;        /* the notifiers' REMAP window */
};

/*
 * fremap_check - check one request and fill *req.  Changes nothing.
 * mmap_lock held.  0, -EINVAL, -EACCES (prot the VMA may not have).
 */
static int fremap_check(struct umm_mm *mm, uintptr_t start, size_t size, int prot,
			uint64_t pgoff, struct fremap_req *req)
{
	struct vm_area_struct *vma;
	uint64_t npages;

	if (prot & ~FREMAP_PROT_ALL)
		return -EINVAL;
	start &= PAGE_MASK;
	size &= PAGE_MASK;
	if (size == 0 || start + size <= start)
		return -EINVAL;
	npages = size >> PAGE_SHIFT;
	if (pgoff > PTE_FILE_MAX_PGOFF || npages - 1 > PTE_FILE_MAX_PGOFF - pgoff)
		return -EINVAL;
	vma = find_vma(mm, start);
	if (!vma || vma->vm_start > start || start + size > vma->vm_end)
		return -EINVAL;
	if (vma_is_anonymous(vma))
		return -EINVAL;
	req->own = 0;
	if (prot) {
		unsigned long vm_prot = ((prot & PROT_READ) ? VM_READ : 0) |
					((prot & PROT_WRITE) ? VM_WRITE : 0) |
					((prot & PROT_EXEC) ? VM_EXEC : 0);

		/* each VM_MAY* bit sits four bits above its VM_* bit */
		if (vm_prot & ~(vma->vm_flags >> 4) & VM_ACCESS_FLAGS)
			return -EACCES;
		if (vm_prot != (vma->vm_flags & VM_ACCESS_FLAGS))
			req->own = vm_flags_to_ownprot(vm_prot);
	}
	req->vma = vma;
	req->pre_nr = 0;
	req->start = start;
	req->end = start + size;
	req->pgoff = pgoff;
	return 0;
}

/* fremap_first_table_pages - the pages of req in the pte table of its start. */
static unsigned int fremap_first_table_pages(const struct fremap_req *req)
{
	uintptr_t tend = MIN(req->end, ALIGN_DOWN(req->start, PMD_SIZE) + PMD_SIZE);

	return (unsigned int)((tend - req->start) >> PAGE_SHIFT);
}

/*
 * fremap_alloc_tables - every pte table of the request's range; remembers
 * the pte slot of its start (tables stay while mmap_lock is held).
 * mmap_lock write.  0 or -ENOMEM.
 */
static int fremap_alloc_tables(struct umm_mm *mm, struct fremap_req *req)
{
	/* a hint: the index's slot array line, read by fremap_prefetch (see Misses) */
	nl_index_prefetch_where(req->vma, linear_page_index(req->vma, req->start));
	for (uintptr_t addr = req->start; addr < req->end; addr = ALIGN_DOWN(addr, PMD_SIZE) + PMD_SIZE) {
		pte_t *ptep = pte_offset_map(mm, addr);

		if (!ptep && !(ptep = pte_alloc(mm, addr)))
			return -ENOMEM;
		if (addr == req->start)
			req->ptep = ptep;
	}
	/* a hint: the first pte line and its table's lock, the new offsets' index buckets, the soft TLB's entries (see Misses) */
	prefetchw(req->ptep);
	prefetchw(pte_lockptr(mm, req->ptep));
	mmu_notifier_prefetch(mm, req->start, fremap_first_table_pages(req));
	nl_index_prefetch(req->vma, req->pgoff, (unsigned int)MIN((req->end - req->start) >> PAGE_SHIFT,
								  (uintptr_t)PTRS_PER_TABLE));
	return 0;
}

/* fremap_lock_table - the pte slot of addr, a page of req, with its table locked (*ptlp).  mmap_lock held. */
static pte_t *fremap_lock_table(struct umm_mm *mm, const struct fremap_req *req, uintptr_t addr,
				struct fmutex **ptlp)
{
	pte_t *ptep;

	if (addr != req->start)
		return pte_offset_map_lock(mm, addr, ptlp);
	ptep = req->ptep;
	*ptlp = pte_lockptr(mm, ptep);
	ptl_lock(*ptlp);
	return ptep;
}

/*
 * fremap_gang_keep - of the nr looked-up pages (found of them not NULL),
 * keep the uptodate ones (drop the rest) and get them ready for mapping:
 * a read-ahead page is used now.  Returns the number kept.
 */
static unsigned int fremap_gang_keep(struct umm_object *obj, unsigned int nr, unsigned int found,
				     struct page **pages)
{
	for (unsigned int i = 0; i < nr; i++) {
		struct page *page = pages[i];

		if (!page)
			continue;
		if (!PageUptodate(page)) {
			put_page(page);
			pages[i] = NULL;
			found--;
			continue;
		}
		page_readahead_used(obj->sys, page);    /* a read-ahead page is used now */
	}
	return found;
}

/* The arguments of fremap_prefetch, for a call from inside the lookup (fremap_gang). */
struct fremap_hint {
	struct umm_mm *mm;
	const struct fremap_req *req;
	uintptr_t addr;
	unsigned int nr;
	uint64_t pgoff;
};

static void fremap_prefetch(struct umm_mm *mm, const struct fremap_req *req, uintptr_t addr, unsigned int nr,
			    uint64_t pgoff);

/* fremap_hint_prefetch - fremap_prefetch of a struct fremap_hint (find_get_page_run's between). */
static void fremap_hint_prefetch(void *arg)
{
	const struct fremap_hint *h = arg;

	fremap_prefetch(h->mm, h->req, h->addr, h->nr, h->pgoff);
}

/*
 * fremap_gang - the uptodate cache pages of object pages [pgoff, pgoff +
 * nr), one lookup of the run: pages[i] is page pgoff + i, referenced, or
 * NULL.  The frames of the pages found are prefetched, and hint (if not
 * NULL) is fremap_prefetch'ed from inside the lookup, once the pages'
 * misses are started and before they are waited for (see Misses).
 * Takes tree_lock (read).  Returns the number found.
 */
static unsigned int fremap_gang(struct umm_object *obj, uint64_t pgoff, unsigned int nr,
				struct page **pages, struct fremap_hint *hint)
{
	return fremap_gang_keep(obj, nr, find_get_page_run(obj, pgoff, nr, pages, true,
							   hint ? fremap_hint_prefetch : NULL, hint), pages);
}

/* fremap_put_pages - drop the references fremap_gang took and the install did not use.  No ptl. */
static void fremap_put_pages(struct page **pages, unsigned int nr)
{
	for (unsigned int i = 0; i < nr; i++)
		if (pages[i])
			put_page(pages[i]);
}

/*
 * fremap_lookup - fremap_gang (or the pages fremap_lookup_ahead found, if
 * it looked this run up); to populate (read), the missing pages
 * inside the object are read into the cache first, in one batch.  The
 * hint is fremap_prefetch'ed on the way, once.  No ptl or i_mmap_lock
 * held (reads take page locks).  Returns the number of pages found.
 */
static unsigned int fremap_lookup(struct umm_object *obj, uint64_t pgoff, unsigned int nr, bool read,
				  struct fremap_req *req, struct page **pages, struct fremap_hint *hint)
{
	uint64_t size = object_size_pages(obj);
	unsigned int inside = pgoff >= size ? 0 : (unsigned int)MIN((uint64_t)nr, size - pgoff);
	unsigned int found;

	if (req->pre_nr == nr && pgoff == req->pgoff) {
		/* looked up in advance with the other entries (fremap_lookup_ahead) */
		fremap_hint_prefetch(hint);
		memcpy(pages, req->pre, nr * sizeof(*pages));
		found = req->pre_found;
		req->pre_nr = 0;
	} else {
		found = fremap_gang(obj, pgoff, nr, pages, hint);
	}

	if (!read || found >= inside)
		return found;
	(void)page_cache_read_range(obj, pgoff, inside);        /* errors: file ptes stay */
	fremap_put_pages(pages, nr);
	return fremap_gang(obj, pgoff, nr, pages, NULL);
}

/* fremap_readable - may the request's pages be read: by its own protection, else the vma's (PROT_NONE: no)? */
static bool fremap_readable(const struct fremap_req *req)
{
	return req->own || (req->vma->vm_flags & VM_ACCESS_FLAGS);
}

/*
 * fremap_prefetch - a hint, from inside the lookup of a table's pages
 * (or before the table is applied): start loading what fremap_table will
 * touch under the locks, so that those misses overlap with the lookup's
 * and with each other instead of following one another:
 * the index buckets of the new offsets and of the slots' current entries
 * (nl_index_prefetch_slots), and for the first FREMAP_PREFETCH_AHEAD old
 * ptes the struct page of a present one (the ptes read without their
 * lock, ptep_get_lockless: a snapshot that only steers prefetches).
 * mmap_lock held (the tables and the index stay).
 */
static void fremap_prefetch(struct umm_mm *mm, const struct fremap_req *req, uintptr_t addr, unsigned int nr,
			    uint64_t pgoff)
{
	pte_t *ptep = addr == req->start ? req->ptep : pte_offset_map(mm, addr);

	nl_index_prefetch(req->vma, pgoff, nr);
	nl_index_prefetch_slots(req->vma, linear_page_index(req->vma, addr), nr);
	for (unsigned int i = 0; ptep && i < MIN(nr, FREMAP_PREFETCH_AHEAD); i++) {
		pte_t pte = ptep_get_lockless(&ptep[i]);

		if (pte_present(pte) && !pte_special(pte))
			prefetchw(pfn_to_page(mm->sys->phys, pte_pfn(pte)));
	}
}

/*
 * fremap_table - the pages [addr, addr + nr * PAGE_SIZE) of one pte
 * table (the request's pages from pgoff on), under that table's lock
 * once.  For each page: zap the old pte (the page goes into tlb) and
 * write the new one (a pte that already maps that very page with the
 * same protection is left as it is: no atomics on the page, its index
 * entry unchanged): a present pte of pages[i] if the lookup found it and
 * it is still the object's page inside its size (the page lock only
 * trylocked, as populate does), else the file pte.  Then record the new
 * offsets in the window's reverse index: each slot's old entry is found
 * through the index's slot array, whatever the old pte showed, so the
 * old pages are not read for it (its bucket was prefetched from inside
 * the lookup, fremap_prefetch; the index and the ptes change under
 * i_mmap_lock, which its readers hold, so the order inside the lock is
 * not seen).  Used pages[] references become the ptes'.  Returns the
 * number of pages left with a file pte.  mmap_lock held for write,
 * i_mmap_lock held; takes ptl and trylocks page locks under it.
 */
static unsigned int fremap_table(struct umm_mm *mm, const struct fremap_req *req, struct mmu_gather *tlb,
				 uintptr_t addr, unsigned int nr, uint64_t pgoff, struct page **pages)
{
	struct vm_area_struct *vma = req->vma;
	struct umm_object *obj = vma->vm_obj;
	uint64_t slot = linear_page_index(vma, addr), size;
	bool kept[PTRS_PER_TABLE];              /* the pte is left as it is */
	unsigned int left = 0;
	long mapped = 0;
	struct fmutex *ptl;
	pte_t *ptep = fremap_lock_table(mm, req, addr, &ptl);

	VM_BUG_ON(!ptep);
	size = object_size_pages(obj);    /* truncate lowers it before it takes this ptl */
	for (unsigned int i = 0; i < nr; i++, addr += PAGE_SIZE) {
		struct page *page = pages[i];
		pte_t pte = ptep[i];

		/* fremap_prefetch started the first FREMAP_PREFETCH_AHEAD old pages: keep ahead */
		if (i + FREMAP_PREFETCH_AHEAD < nr && pte_present(ptep[i + FREMAP_PREFETCH_AHEAD]) &&
		    !pte_special(ptep[i + FREMAP_PREFETCH_AHEAD]))
			prefetchw(pfn_to_page(mm->sys->phys, pte_pfn(ptep[i + FREMAP_PREFETCH_AHEAD])));
		kept[i] = page && pte_present(pte) && !pte_special(pte) && pte_pfn(pte) == page_to_pfn(page) &&
			  (pte & PTE_OWNPROT_MASK) == req->own && pgoff + i < size;
		if (kept[i])
			continue;        /* shows this very page already, with this protection */
		if (!pte_none(pte))
			zap_pte_locked(tlb, vma, &ptep[i], addr);
		if (page && pgoff + i < size && trylock_page(page)) {
			if (page->mapping == obj) {
				/* what a read fault installs (do_nonlinear_fault), the range's protection kept */
				page_add_file_rmap(page, vma, addr, &ptep[i]);
				set_pte_at(mm, addr, &ptep[i],
					   pfn_pte(page_to_pfn(page), PTE_PRESENT | PTE_YOUNG | req->own));
				unlock_page(page);
				pages[i] = NULL;          /* its reference is the pte's now */
				mapped++;
				continue;
			}
			unlock_page(page);
		}
		set_pte_at(mm, addr, &ptep[i], pgoff_to_pte(pgoff + i) | req->own);
		left++;
	}
	for (unsigned int i = 0; i < nr; i++)
		if (!kept[i])
			nl_index_set(vma, slot + i, pgoff + i);
	if (mapped)
		add_mm_counter(mm, obj->type == OBJ_SHMEM ? MM_SHMEMPAGES : MM_FILEPAGES, mapped);
	pte_unmap_unlock(ptep, ptl);
	return left;
}

/*
 * fremap_lookup_ahead - the vector's small entries (all their pages, at
 * most FREMAP_AHEAD_PAGES, in one pte table, readable) are looked up
 * together: each run of such entries over one object in one
 * find_get_page_runs, so the misses of their lookups overlap instead of
 * each entry waiting for its own.  Their pages (referenced, as
 * fremap_gang leaves them) wait in req->pre until fremap_apply maps
 * them; the missing ones are read there as usual.  mmap_lock held, no
 * other lock (takes tree_lock).
 */
static void fremap_lookup_ahead(struct fremap_req *reqs, size_t n)
{
	struct page_run runs[FREMAP_AHEAD_RUNS];
	size_t at[FREMAP_AHEAD_RUNS], i = 0;

	while (i < n) {
		struct umm_object *obj = NULL;
		unsigned int nruns = 0;

		for (; i < n && nruns < FREMAP_AHEAD_RUNS; i++) {
			struct fremap_req *req = &reqs[i];
			unsigned int nr = fremap_first_table_pages(req);

			if (nr != (req->end - req->start) >> PAGE_SHIFT || nr > FREMAP_AHEAD_PAGES ||
			    !fremap_readable(req))
				continue;
			if (obj && req->vma->vm_obj != obj)
				break;
			obj = req->vma->vm_obj;
			runs[nruns] = (struct page_run){ .first = req->pgoff, .nr = nr, .pages = req->pre };
			at[nruns++] = i;
		}
		if (!nruns)
			continue;
		(void)find_get_page_runs(obj, runs, nruns, true);
		for (unsigned int r = 0; r < nruns; r++) {
			struct fremap_req *req = &reqs[at[r]];

			req->pre_found = fremap_gang_keep(obj, runs[r].nr, runs[r].found, req->pre);
			req->pre_nr = runs[r].nr;
		}
	}
}

/*
 * fremap_apply - carry out one checked request, a pte table at a time:
 * look up (and unless MAP_NONBLOCK read) its object pages, then under
 * i_mmap_lock change the reverse index and the ptes together
 * (fremap_table).  Truncate and page_mkclean read VM_NONLINEAR and the
 * index with only i_mmap_lock held, so the flag is set under it
 * (vma_set_nonlinear) and the index, the zap and the new ptes change
 * under it.  Cannot fail (the tables exist, the index has room; a page
 * that cannot be had keeps its file pte).  Returns true if the request
 * wants populating and some page was left with a file pte.
 * mmap_lock held for write; takes tree_lock and page locks (reads) with
 * no other lock, then i_mmap_lock and each ptl.
 */
static bool fremap_apply(struct umm_mm *mm, struct fremap_req *req, struct mmu_gather *tlb, int flags)
{
	struct page *pages[PTRS_PER_TABLE];
	struct umm_system *sys = mm->sys;
	struct umm_object *obj = req->vma->vm_obj;
	bool populate = !(flags & MAP_NONBLOCK), missed = false;
	bool readable = fremap_readable(req);
	uint64_t pgoff = req->pgoff;

	vma_set_nonlinear(mm, req->vma);
	for (uintptr_t addr = req->start; addr < req->end; ) {
		uintptr_t tend = MIN(req->end, ALIGN_DOWN(addr, PMD_SIZE) + PMD_SIZE);
		unsigned int nr = (unsigned int)((tend - addr) >> PAGE_SHIFT), found = 0, left;

		struct fremap_hint hint = { mm, req, addr, nr, pgoff };

		/* the old pages' misses start inside the lookup, to overlap with its own (see Misses) */
		if (readable) {
			found = fremap_lookup(obj, pgoff, nr, populate, req, pages, &hint);
		} else {
			fremap_hint_prefetch(&hint);
			memset(pages, 0, nr * sizeof(*pages));
		}
		/* pte chains: a block per page mapped, reserved before any lock (rmap.h) */
		if (found && rmap_prepare(sys, found)) {
			rmap_unprepare(sys);
			fremap_put_pages(pages, nr);
			memset(pages, 0, nr * sizeof(*pages));
			found = 0;
		}
		i_mmap_lock_write(obj);
		left = fremap_table(mm, req, tlb, addr, nr, pgoff, pages);
		i_mmap_unlock_write(obj);
		if (found) {
			rmap_unprepare(sys);
			fremap_put_pages(pages, nr);
		}
		missed |= populate && readable && left;
		pgoff += nr;
		addr = tend;
	}
	return missed;
}

/*
 * fremap_populate - the pages of the request the batch left with a file
 * pte (not present) go through the fault path for reading (it waits for
 * a locked page, and a page it cannot bring in keeps its file pte: the
 * access reports the error); pages the batch mapped are not faulted
 * again.  mmap_lock held, no other lock; takes each ptl to look.
 */
static void fremap_populate(struct umm_mm *mm, const struct fremap_req *req)
{
	for (uintptr_t addr = req->start; addr < req->end; ) {
		uintptr_t tend = MIN(req->end, ALIGN_DOWN(addr, PMD_SIZE) + PMD_SIZE);
		unsigned int nr = (unsigned int)((tend - addr) >> PAGE_SHIFT);
		uint64_t absent[PTRS_PER_TABLE / 64] = { 0 };
		struct fmutex *ptl;
		pte_t *ptep = fremap_lock_table(mm, req, addr, &ptl);

		VM_BUG_ON(!ptep);
		for (unsigned int i = 0; i < nr; i++)
			if (!pte_present(ptep[i]))
				absent[i / 64] |= 1ULL << (i % 64);
		pte_unmap_unlock(ptep, ptl);
		for (unsigned int i = 0; i < nr; i++)
			if (absent[i / 64] & (1ULL << (i % 64)))
				(void)handle_mm_fault(mm, addr + ((uintptr_t)i << PAGE_SHIFT), 0);
		addr = tend;
	}
}

/*
 * fremap_prefill - hand the calling thread's soft TLB the translations
 * of the pages the request mapped (mmu_notifier_prefill), up to *budget
 * pages: the caller is about to touch them, and would otherwise take a
 * TLB miss (mmap_lock, a walk and ptl) on each.  Called after the call's
 * TLB shootdown, which would drop them again.  mmap_lock held; takes
 * each ptl.
 */
static void fremap_prefill(struct umm_mm *mm, const struct fremap_req *req, unsigned int *budget)
{
	struct page *pages[FREMAP_PREFILL_MAX];

	for (uintptr_t addr = req->start; addr < req->end && *budget; ) {
		uintptr_t tend = MIN(req->end, ALIGN_DOWN(addr, PMD_SIZE) + PMD_SIZE);
		unsigned int nr = (unsigned int)MIN((tend - addr) >> PAGE_SHIFT, (uintptr_t)*budget);
		struct fmutex *ptl;
		pte_t *ptep = fremap_lock_table(mm, req, addr, &ptl);

		VM_BUG_ON(!ptep);
		for (unsigned int i = 0; i < nr; i++) {
			pte_t pte = ptep[i];

			pages[i] = pte_accessible(pte) && !pte_special(pte) ?
				   pfn_to_page(mm->sys->phys, pte_pfn(pte)) : NULL;
		}
		mmu_notifier_prefill(mm, addr, pages, nr);
		pte_unmap_unlock(ptep, ptl);
		*budget -= nr;
		addr += (uintptr_t)nr << PAGE_SHIFT;
	}
}

/**
 * umm_remap_file_pages - make [start, start+size) of one file or shmem
 * VMA show object pages pgoff, pgoff+1, ... (Linux's remap_file_pages,
 * kept in one VMA).  MAP_PRIVATE file VMAs too (see the top of this file
 * for private copies).  start and size are rounded down to
 * pages.  prot 0 keeps the VMA's protection; another prot sets that
 * range's protection pte by pte.  flags: 0 or MAP_NONBLOCK (map only
 * cached pages, start no I/O; the others fault in at first access).
 * Takes mmap_lock for write (and ptl, page locks).  Returns 0; -EINVAL
 * (no mm, unknown flags or prot bits, size 0 after rounding or wrapping,
 * no VMA at start, range not inside one VMA, an anonymous VMA that is not
 * shmem, pgoff range beyond PTE_FILE_MAX_PGOFF); -EACCES (prot the
 * VMA may not have, e.g. PROT_WRITE on a read-only file); -ENOMEM (page
 * tables, the window's reverse index, or a VMA of more than 2^32 pages,
 * which that index cannot cover).  On error nothing is changed.
 */
int umm_remap_file_pages(struct umm_mm *mm, uintptr_t start, size_t size, int prot,
			 uint64_t pgoff, int flags)
{
	struct umm_remap_entry e = { .start = start, .size = size, .prot = prot, .pgoff = pgoff };

	return umm_remap_file_pages_v(mm, &e, 1, flags, NULL);
}

/**
 * umm_remap_file_pages_v - n remaps in one call and one mmap_lock round
 * trip, applied in order (a later entry wins where two overlap): the same
 * result as n calls of umm_remap_file_pages.  Atomic: every entry is
 * checked and every page table allocated before anything changes, so on
 * an error nothing is applied and *bad_index (if not NULL) is the index of
 * the first bad entry (n for an error not tied to an entry, such as
 * -ENOMEM; the page tables allocated before it are freed again).  Takes
 * mmap_lock for write.  Returns 0, or the errors of umm_remap_file_pages
 * (-EINVAL also for n 0 or entries NULL).
 */
int umm_remap_file_pages_v(struct umm_mm *mm, const struct umm_remap_entry *entries, size_t n,
			   int flags, size_t *bad_index)
{
	struct fremap_req one, *reqs = &one;
	unsigned int budget;
	size_t i;
	int err = 0;

	if (bad_index)
		*bad_index = n;
	if (!mm || !entries || n == 0 || (flags & ~MAP_NONBLOCK))
		return -EINVAL;
	if (n > 1) {
		reqs = calloc(n, sizeof(*reqs));
		if (!reqs)
			return -ENOMEM;
	}
	mmap_write_lock(mm);
	for (i = 0; i < n && !err; i++) {
		err = fremap_check(mm, entries[i].start, entries[i].size, entries[i].prot,
				   entries[i].pgoff, &reqs[i]);
		if (err && bad_index)
			*bad_index = i;
	}
	/* a hint: a single request's radix leaves load while its tables are found (see Misses) */
	if (!err && n == 1 && fremap_readable(&reqs[0]))
		page_cache_prefetch_run(reqs[0].vma->vm_obj, reqs[0].pgoff, fremap_first_table_pages(&reqs[0]));
	for (i = 0; i < n && !err; i++)
		err = fremap_alloc_tables(mm, &reqs[i]);
	if (!err) {
		/* room in each window's reverse index for every page of the call */
		size_t pages = 0;

		for (size_t j = 0; j < n; j++)
			pages += (reqs[j].end - reqs[j].start) >> PAGE_SHIFT;
		for (size_t j = 0; j < n && !err; j++)
			err = nl_index_reserve(reqs[j].vma, pages);
	}
	if (err == -ENOMEM) {
		/* out of memory: the tables allocated meanwhile (all empty) go again */
		for (size_t j = 0; j < i; j++)
			free_pgtables(mm, reqs[j].start, reqs[j].end);
	}
	if (!err) {
		struct mmu_gather tlb;

		if (n > 1)
			fremap_lookup_ahead(reqs, n);
		/* one TLB shootdown for the whole vector, before any page is faulted in */
		for (i = 0; i < n; i++) {
			mmu_notifier_range_init(&reqs[i].range, UMM_MMU_REMAP, mm, reqs[i].start, reqs[i].end);
			mmu_notifier_invalidate_range_start(&reqs[i].range);
		}
		tlb_gather_mmu(&tlb, mm);
		for (i = 0; i < n; i++) {
			/* the next entry's misses start while this one is applied */
			if (i + 1 < n)
				fremap_prefetch(mm, &reqs[i + 1], reqs[i + 1].start,
						fremap_first_table_pages(&reqs[i + 1]), reqs[i + 1].pgoff);
			reqs[i].missed = fremap_apply(mm, &reqs[i], &tlb, flags);
		}
		tlb_finish_mmu(&tlb);
		for (i = 0; i < n; i++)
			mmu_notifier_invalidate_range_end(&reqs[i].range);
		for (i = 0; i < n; i++)
			if (reqs[i].missed)
				fremap_populate(mm, &reqs[i]);
		for (i = 0, budget = FREMAP_PREFILL_MAX; i < n && budget; i++)
			fremap_prefill(mm, &reqs[i], &budget);
		mm_debug_check(mm);
	}
	mmap_write_unlock(mm);
	if (reqs != &one)
		free(reqs);
	return err;
}
