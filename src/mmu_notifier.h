/* SPDX-License-Identifier: MIT */
/*
 * mmu_notifier.h - what the core calls when it changes ptes, and what the
 * MMU layer (the software TLB) registers to be called.  The public side
 * (registration, the callbacks' contract) is <usermm/mmu_notifier.h>;
 * the theory of operation and the locks are in mmu_notifier.c.
 *
 * A path that changes or removes ptes of mm in [start, end):
 *
 *	struct mmu_notifier_range range;
 *
 *	mmu_notifier_range_init(&range, UMM_MMU_UNMAP, mm, start, end);
 *	mmu_notifier_invalidate_range_start(&range);
 *	... change the ptes under their table locks ...
 *	mmu_notifier_invalidate_secondary_tlbs(mm, start, end);   (before frames are freed;
 *	                                                           the mmu_gather does it)
 *	mmu_notifier_invalidate_range_end(&range);
 *
 * With no notifier registered on mm, start and end are one load and a
 * branch; invalidate_secondary_tlbs always calls the built-in consumer
 * (the soft TLB) once it exists.
 */
#ifndef UMM_MMU_NOTIFIER_INTERNAL_H
#define UMM_MMU_NOTIFIER_INTERNAL_H

#include <usermm/mmu_notifier.h>
#include "mm.h"
#include "system.h"

struct page;

struct mmu_notifier_range {
	struct umm_mmu_range r;                 /* what the notifiers see */
	struct mmu_notifier_subscriptions *subs;/* set by start when it called anyone: end calls them too */
	unsigned long gen;                      /* registrations this window sees (mmu_notifier.c) */
	unsigned int epoch;                     /* which window count it is in */
};

/* mm_has_notifiers - is any notifier or interval notifier registered on mm?  No locks. */
static inline bool mm_has_notifiers(struct umm_mm *mm)
{
	return atomic_load_explicit(&mm->notifier_count, memory_order_relaxed) != 0;
}

static inline void mmu_notifier_range_init(struct mmu_notifier_range *range, enum umm_mmu_event event,
					   struct umm_mm *mm, uintptr_t start, uintptr_t end)
{
	range->r.mm = mm;
	range->r.start = start;
	range->r.end = end;
	range->r.event = event;
	range->subs = NULL;
}

void __mmu_notifier_invalidate_range_start(struct mmu_notifier_range *range);
void __mmu_notifier_invalidate_range_end(struct mmu_notifier_range *range);
void __mmu_notifier_invalidate_secondary_tlbs(struct umm_mm *mm, uintptr_t start, uintptr_t end);
int __mmu_notifier_clear_young(struct umm_mm *mm, uintptr_t start, uintptr_t end);
int __mmu_notifier_test_young(struct umm_mm *mm, uintptr_t addr);

/*
 * mmu_notifier_invalidate_range_start - the ptes of the range are about
 * to change: call every registered notifier's invalidate_range_start and
 * the overlapping interval notifiers' invalidate.  Locks: whatever the
 * path holds (the public header lists them per path); takes the mm's
 * notifier lock for read around the calls.  Must be paired with
 * mmu_notifier_invalidate_range_end by the same thread.
 */
static inline void mmu_notifier_invalidate_range_start(struct mmu_notifier_range *range)
{
	if (unlikely(mm_has_notifiers(range->r.mm)))
		__mmu_notifier_invalidate_range_start(range);
}

/* mmu_notifier_invalidate_range_end - the change is complete.  Same locks as start. */
static inline void mmu_notifier_invalidate_range_end(struct mmu_notifier_range *range)
{
	if (unlikely(range->subs != NULL))
		__mmu_notifier_invalidate_range_end(range);
}

/*
 * The built-in consumer: the one notifier every mm has without
 * registering (the soft TLB), called for invalidate_secondary_tlbs only.
 * Set once by the MMU layer before its first translation exists.
 */
extern struct umm_mmu_notifier *_Atomic mmu_builtin_notifier;

/*
 * mmu_notifier_register_builtin - make mn the built-in consumer (only its
 * invalidate_secondary_tlbs is used).  Once per process; no locks.
 */
void mmu_notifier_register_builtin(struct umm_mmu_notifier *mn);

/*
 * The built-in consumer's prefill (the soft TLB): a call that has just
 * installed present ptes for pages its caller is about to access (a
 * populating remap, fremap.c) may hand their read translations to the
 * calling thread's TLB, as its next misses would have.  fn(mm, addr,
 * pages, nr): pages[i] is the frame mapped at addr + i pages, or NULL
 * (skip).  The caller holds the ptes' table lock, so none of them can
 * change before the consumer has them (a later change is flushed as any
 * other), and it is not inside an access.  Set once by the MMU layer.
 */
typedef void (*mmu_prefill_fn)(struct umm_mm *mm, uintptr_t addr, struct page *const *pages,
			       unsigned int nr);
extern _Atomic(mmu_prefill_fn) mmu_builtin_prefill;

/* mmu_notifier_register_builtin_prefill - set the built-in consumer's prefill.  Once per process; no locks. */
void mmu_notifier_register_builtin_prefill(mmu_prefill_fn fn);

/*
 * The built-in consumer's prefetch: a hint, from a call about to change
 * and then prefill the translations of nr pages from addr, that the
 * consumer may start loading what that will touch (the soft TLB's
 * entries for those pages), so that the misses overlap the call's other
 * work.  Changes nothing.  Any locks held; not inside an access.  Set
 * once by the MMU layer.
 */
typedef void (*mmu_prefetch_fn)(struct umm_mm *mm, uintptr_t addr, unsigned int nr);
extern _Atomic(mmu_prefetch_fn) mmu_builtin_prefetch;

/* mmu_notifier_register_builtin_prefetch - set the built-in consumer's prefetch.  Once per process; no locks. */
void mmu_notifier_register_builtin_prefetch(mmu_prefetch_fn fn);

/* mmu_notifier_prefetch - pass the hint above to the built-in consumer, if it takes it. */
static inline void mmu_notifier_prefetch(struct umm_mm *mm, uintptr_t addr, unsigned int nr)
{
	mmu_prefetch_fn fn = atomic_load_explicit(&mmu_builtin_prefetch, memory_order_acquire);

	if (fn)
		fn(mm, addr, nr);
}

/*
 * mmu_notifier_prefill - offer the built-in consumer the translations of
 * nr just installed ptes from addr (see above).  ptl of those ptes held.
 */
static inline void mmu_notifier_prefill(struct umm_mm *mm, uintptr_t addr, struct page *const *pages,
					unsigned int nr)
{
	mmu_prefill_fn fn = atomic_load_explicit(&mmu_builtin_prefill, memory_order_acquire);

	if (fn)
		fn(mm, addr, pages, nr);
}

/*
 * mmu_notifier_invalidate_secondary_tlbs - ptes of [start, end) of mm
 * changed, the frames they mapped are not yet freed: every cached
 * translation of them goes now (the soft TLB's shootdown, and the
 * registered notifiers' invalidate_secondary_tlbs).  Returns only when no
 * access through one can still be running.  May be called with mmap_lock,
 * page_table_lock and/or a pte table lock held; every pte change it is
 * called for must have been made under the pte's table lock.
 */
static inline void mmu_notifier_invalidate_secondary_tlbs(struct umm_mm *mm, uintptr_t start, uintptr_t end)
{
	struct umm_mmu_notifier *b = atomic_load_explicit(&mmu_builtin_notifier, memory_order_acquire);

	if (likely(b != NULL))
		b->ops->invalidate_secondary_tlbs(b, mm, start, end);
	if (unlikely(mm_has_notifiers(mm)))
		__mmu_notifier_invalidate_secondary_tlbs(mm, start, end);
}

/*
 * mmu_notifier_clear_young - aging: did a secondary MMU use [start, end)
 * of mm since last asked?  Clears their accessed state; returns how many
 * said yes.  A pte table lock may be held.
 */
static inline int mmu_notifier_clear_young(struct umm_mm *mm, uintptr_t start, uintptr_t end)
{
	if (unlikely(mm_has_notifiers(mm)))
		return __mmu_notifier_clear_young(mm, start, end);
	return 0;
}

/* mmu_notifier_test_young - as clear_young for one page, without clearing. */
static inline int mmu_notifier_test_young(struct umm_mm *mm, uintptr_t addr)
{
	if (unlikely(mm_has_notifiers(mm)))
		return __mmu_notifier_test_young(mm, addr);
	return 0;
}

/*
 * mmu_notifier_release - umm_mm_destroy, before anything is unmapped:
 * call release of every registered notifier that unregister has not
 * released, and invalidate (UMM_MMU_EXIT) of every interval notifier;
 * none of them is called for mm again.  No usermm lock held.
 */
void mmu_notifier_release(struct umm_mm *mm);

/*
 * mmu_notifier_invalidate_page - the reverse-map notifiers of sys: page
 * (locked) is about to be taken away (truncate, reclaim).  Page locked;
 * i_mmap_lock or a pte table lock may be held.
 */
void __mmu_notifier_invalidate_page(struct umm_system *sys, struct page *page, enum umm_mmu_event event);
static inline void mmu_notifier_invalidate_page(struct umm_system *sys, struct page *page,
						enum umm_mmu_event event)
{
	if (unlikely(atomic_load_explicit(&sys->nr_rmap_notifiers, memory_order_relaxed) != 0))
		__mmu_notifier_invalidate_page(sys, page, event);
}

/* mmu_notifier_system_init / _destroy - the reverse-map notifier list of sys. */
void mmu_notifier_system_init(struct umm_system *sys);
void mmu_notifier_system_destroy(struct umm_system *sys);

#endif
