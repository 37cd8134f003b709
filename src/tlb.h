/* SPDX-License-Identifier: MIT */
/*
 * tlb.h - the software MMU's per-thread TLB: its shootdown and counters,
 * for the MMU layer and the tests.  The core does not include it: it
 * calls mmu_notifier_invalidate_secondary_tlbs() (mmu_notifier.h), and the
 * soft TLB, the built-in notifier consumer, runs flush_tlb_range from it.
 *
 * flush_tlb_range - after ptes of [start, end) in mm were removed, write-
 * protected, aged, or changed, make sure no thread uses an old translation:
 * every thread's cached entries for the range are invalidated, and the
 * call returns only once no thread is still inside an access that used one.
 * May be called with page_table_lock held (the TLB's fast path takes no
 * core lock), never inside an access.  Frames unmapped must not be freed
 * before it returns.  Every pte change it is called for must have been
 * made under the lock a TLB fill of that pte takes (see soft_mmu.c,
 * "Flushes nobody else needs" and "Flushes by range").
 */
#ifndef UMM_TLB_H
#define UMM_TLB_H

#include "mm.h"

void flush_tlb_range(struct umm_mm *mm, uintptr_t start, uintptr_t end);
static inline void flush_tlb_mm(struct umm_mm *mm) { flush_tlb_range(mm, 0, UINTPTR_MAX); }
/*
 * tlb_init - one-time setup of the soft TLB (membarrier registration, its
 * registration as the built-in notifier consumer); idempotent.  Run by a
 * thread's first access (and by flushes) before any entry exists.
 */
int tlb_init(void);

/*
 * tlb_get_stats - counters of the calling thread's soft TLB (all zero if
 * it has none yet) and process-wide shootdown counters, for tests and
 * benchmarks.
 */
struct soft_tlb_stats {
	unsigned long hits;            /* pages umm_read/umm_write served from the TLB
	                                  (hits of the inline umm_load/umm_store functions are not counted) */
	unsigned long misses;          /* fills (slow path) */
	unsigned long flushes;         /* times all of an mm's entries were dropped */
	unsigned long range_flushes;   /* times only the flushed ranges' entries were dropped */
	unsigned long local_flushes;   /* flushes done by this thread alone: of an mm only it used,
	                                  or of a range no other thread's entries may cover */
	unsigned long span_skips;      /* of which: an mm others used, but not in that range */
	unsigned long idles;           /* umm_tlb_idle calls of this thread (each dropped all its entries) */
	unsigned long resizes;
	unsigned long size;            /* entries now */
	unsigned long nr_registered;   /* threads with a TLB (process) */
	unsigned long shootdowns;      /* flushes that another thread might need (process) */
	unsigned long shootdown_barriers; /* of which needed the cross-thread barrier */
	unsigned long shootdown_waits; /* times a flusher waited for an access */
	bool membarrier;               /* asymmetric barrier in use */
};
void tlb_get_stats(struct soft_tlb_stats *st);

#endif
