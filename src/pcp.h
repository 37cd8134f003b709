/* SPDX-License-Identifier: MIT */
/*
 * pcp.h - the per-thread frame cache (struct per_thread_pages), shared by
 * page_alloc.c, which runs the caches (see its theory comment: "Single
 * frames", "Counting", "Thread lifetime"), and page_alloc_check.c, which
 * verifies them.  Nothing else may look inside a cache.
 *
 * Locks: pcp->lock is a spinlock (see the lock order in page_alloc.c).
 */
#ifndef UMM_PCP_H
#define UMM_PCP_H

#include <sched.h>
#include <stdatomic.h>
#include "page_alloc.h"

#define ORDER_PCP        0xffu          /* `order` of a frame in a per-thread cache */
#define PCP_SYNC_DRIFT   8              /* see "Counting" in page_alloc.c */

struct per_thread_pages {
	atomic_flag lock;               /* protects frames, count, synced, allocs, frees */
	unsigned int count;
	unsigned int synced;            /* part of count published in phys->nr_pcp */
	struct list_head frames;        /* free order-0 frames, hottest first */
	unsigned long allocs, frees;    /* served by this cache (never reset) */
	unsigned long idle_mark;        /* allocs + frees at the last drain_idle_pages() */
	struct phys_mem *phys;
	struct list_head phys_link;     /* phys->pcp_list [pcp_list_lock] */
	struct list_head owner_link;    /* owning thread's list [pcp_owner_lock] */
	bool owned;                     /* [pcp_owner_lock] */
};

static inline void pcp_lock(struct per_thread_pages *pcp)
{
	unsigned int spins = 0;

	while (atomic_flag_test_and_set_explicit(&pcp->lock, memory_order_acquire))
		if (++spins % 64 == 0)
			sched_yield();
}

static inline void pcp_unlock(struct per_thread_pages *pcp)
{
	atomic_flag_clear_explicit(&pcp->lock, memory_order_release);
}

/* pcp_drifted - has count moved PCP_SYNC_DRIFT frames from what nr_pcp shows? */
static inline bool pcp_drifted(const struct per_thread_pages *pcp)
{
	long delta = (long)pcp->count - (long)pcp->synced;

	return delta >= PCP_SYNC_DRIFT || delta <= -PCP_SYNC_DRIFT;
}

#endif /* UMM_PCP_H */
