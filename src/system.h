/* SPDX-License-Identifier: MIT */
/*
 * system.h - struct umm_system: one usermm instance.
 *
 * The system owns the physical arena, the slab caches of the VM's own
 * structures, the shared zero page, the list of address spaces, and the
 * hooks through which upper layers serve lower ones (the only calls that go
 * upwards: reclaim, kswapd and the LRU release for the allocator,
 * unmapping for truncate, page_mkclean for writeback).
 *
 * Locks: mm_list_lock is the outermost lock (see lockdep.h): only
 * umm_system_check holds it while taking others; everywhere else it is
 * taken alone.
 */
#ifndef UMM_SYSTEM_INTERNAL_H
#define UMM_SYSTEM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <usermm/usermm.h>
#include "page_alloc.h"
#include "slab.h"
#include "lockdep.h"
#include "percpu.h"

struct umm_system {
	uint64_t id;                     /* unique in the process, never reused */
	struct umm_config cfg;           /* as given, defaults filled in (arena: the kind made) */
	bool arena_auto;                 /* cfg.arena was UMM_ARENA_AUTO (system.c chose) */
	struct phys_mem *phys;

	struct page *zero_page;          /* PG_reserved, all zero, mapped read-only */
	unsigned long zero_pfn;

	struct kmem_cache *mm_cache;     /* struct umm_mm */
	struct kmem_cache *vma_cache;    /* struct vm_area_struct */

	struct fault_inject fail_read;   /* backing pread */
	struct fault_inject fail_write;  /* backing pwrite */
	struct fault_inject fail_swap_read;   /* swap device reads (swap_state.c) */
	struct fault_inject fail_swap_write;  /* swap device writes */

	struct swap_info *swap;          /* the swap device (swapfile.c), NULL without swap */

	pthread_mutex_t mm_list_lock;    /* mm_list, nr_mms */
	struct list_head mm_list;
	unsigned long nr_mms;

	_Atomic long nr_objects;
	_Atomic long nr_pagecache;       /* pages in page caches */
	struct stripe_counter nr_anon;   /* live anonymous pages (striped: every anon fault adds) */
	_Atomic long nr_pgtable;         /* page-table pages */
	_Atomic long nr_warnings;        /* warnings logged about this system (pr_warn) */
	struct lruvec *lruvec;           /* LRU lists, kswapd (vmscan.c) */
	pthread_rwlock_t reclaim_check_lock; /* reclaim passes (read) exclude the invariant
	                                    checks (write, mm_check.c), which count ptes
	                                    against RSS counters reclaim changes */

	struct io_backend *io;           /* asynchronous reads (io.c) */
	_Atomic unsigned long ra_pages;  /* pages read by readahead (readahead.c) */
	_Atomic unsigned long ra_hits;   /* of those, used (fault, populate) */
	_Atomic unsigned long ra_wasted; /* of those, dropped from the cache unused */
	_Atomic unsigned long io_requests, io_pages, io_errors;
	_Atomic unsigned long io_hist[UMM_IO_HIST_BUCKETS];
	_Atomic unsigned long file_write_requests, file_write_pages; /* object.c: pwrite/pwritev calls */
	/* reverse map (rmap.h): pte chains */
	struct kmem_cache *pte_chain_cache;    /* struct pte_chain blocks */
	struct stripe_counter nr_reverse_maps; /* ptes recorded in pages' chains (direct included) */
	struct stripe_counter nr_pte_chains;   /* chain blocks allocated */
	/* reverse map: object scheme */
	pthread_mutex_t anon_vma_lock;   /* leaf: anon_vma refcounts (pins an anon_vma for a walk) */
	long nr_anon_vmas;               /* [anon_vma_lock] live anon_vmas */

	/*
	 * unmap_mapping_range - set by the address-space layer: remove every
	 * pte that maps pages [first, end) of obj, in every mm (truncate).
	 * Called with no object lock held.
	 */
	void (*unmap_mapping_range)(struct umm_object *obj, uint64_t first, uint64_t end);
	/*
	 * page_mkclean - set by the address-space layer: write-protect and
	 * clean every pte that maps a locked page-cache page (and shoot down
	 * the TLB), so a later write through a mapping faults and dirties the
	 * page again.  Writeback calls it after clearing PG_dirty and before
	 * writing the bytes.  Returns the number of ptes that were dirty.
	 */
	int (*page_mkclean)(struct page *page);

	/* reverse-map notifiers (mmu_notifier.c): read around callbacks, write to change the list */
	pthread_rwlock_t rmap_notifier_lock;
	struct umm_rmap_notifier *rmap_notifiers;
	_Atomic int nr_rmap_notifiers;
};

/* mm_list_lock / mm_list_unlock - sys->mm_list_lock (LOCK_MM_LIST). */
static inline void mm_list_lock(struct umm_system *sys)
{
	lockdep_acquire(&sys->mm_list_lock, LOCK_MM_LIST, 0, 0);
	pthread_mutex_lock(&sys->mm_list_lock);
}
static inline void mm_list_unlock(struct umm_system *sys)
{
	pthread_mutex_unlock(&sys->mm_list_lock);
	lockdep_release(&sys->mm_list_lock);
}

/* system_debug_checks - does the system run the invariant check after every mm operation (cfg.debug_checks)? */
static inline bool system_debug_checks(const struct umm_system *sys) { return sys->cfg.debug_checks != 0; }

#endif
