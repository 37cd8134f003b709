/* SPDX-License-Identifier: MIT */
/*
 * usermm/mmu_notifier.h - secondary MMUs: being told when the translations
 * of an address space change.
 *
 * A secondary MMU (a device, a host-pointer MMU, a shadow page table, a
 * cache of translations of any kind) copies what an address space's page
 * tables say.  It stays correct by registering a notifier: usermm calls it
 * around every change or removal of a pte, so it can drop its copies
 * before the frame they point to is reused or its permission narrows.
 *
 * Three kinds of registration:
 *
 *  - struct umm_mmu_notifier, per address space (umm_mmu_notifier_register):
 *    invalidate_range_start/end around every pte change of the mm, with
 *    the reason (enum umm_mmu_event); optionally invalidate_secondary_tlbs
 *    after the ptes changed and before the frames are freed; clear_young /
 *    test_young for aging; release when the address space goes.
 *
 *  - struct umm_mmu_interval_notifier, per range of an address space
 *    (umm_mmu_interval_notifier_insert): one invalidate callback for the
 *    changes that overlap the range, and a sequence count that lets a
 *    mirror build a translation without holding a usermm lock and install
 *    it only if no invalidation ran meanwhile (read_begin / read_retry).
 *    umm_mirror_fault() is the whole fault-and-install loop on top of it.
 *
 *  - struct umm_rmap_notifier, per system (umm_rmap_notifier_register):
 *    invalidate_page(frame) when truncate (or reclaim) is about to take a
 *    page away, for mirrors that track frames rather than addresses.
 *
 * Rules for every callback: it may not call usermm's mapping calls
 * (umm_mmap, umm_munmap, umm_mprotect, umm_mremap, umm_madvise,
 * umm_remap_file_pages, umm_read/umm_write and the other accesses, the
 * fork/destroy calls, faults) on the address space it is called for, nor
 * register or unregister a notifier: the caller holds that address
 * space's locks.  Debug builds (-DUMM_DEBUG=1) detect a callback that
 * takes the address space's mmap_lock and stop with a message.  Callbacks
 * may take their own locks and sleep, as long as nothing they wait for
 * waits for a usermm lock of that address space.  They cannot fail.
 *
 * With no notifier registered on an address space, the cost on the paths
 * that change ptes is one predictable branch.
 */
#ifndef USERMM_MMU_NOTIFIER_H
#define USERMM_MMU_NOTIFIER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "system.h"

#ifdef __cplusplus
extern "C" {
#endif

struct umm_mm;
struct umm_object;

/* Why a range is being invalidated. */
enum umm_mmu_event {
	UMM_MMU_UNMAP,          /* munmap, or a mapping replaced (MAP_FIXED, mremap's target) */
	UMM_MMU_PROTECTION,     /* mprotect narrowed or changed permissions */
	UMM_MMU_COW,            /* a copy-on-write break replaces one page */
	UMM_MMU_MOVE,           /* mremap moves ptes to a new address */
	UMM_MMU_REMAP,          /* remap_file_pages rewrites a nonlinear window */
	UMM_MMU_MADVISE,        /* MADV_DONTNEED, MADV_FREE and the like drop pages */
	UMM_MMU_RECLAIM,        /* reclaim unmaps a page (try_to_unmap) */
	UMM_MMU_CLEAN,          /* writeback write-protects a page (page_mkclean) */
	UMM_MMU_TRUNCATE,       /* the file or shmem object shrank (or its pages were dropped) */
	UMM_MMU_FORK,           /* fork write-protects private pages for copy-on-write */
	UMM_MMU_EXIT,           /* the address space is being destroyed */
	UMM_MMU_AGE,            /* reserved: not sent (aging reaches secondary
	                           MMUs through clear_young, not as a range) */
	UMM_MMU_NR_EVENTS
};

/*
 * The range being invalidated: [start, end) of mm, page aligned, and why.
 * Valid only during the callback.
 */
struct umm_mmu_range {
	struct umm_mm *mm;
	uintptr_t start, end;
	enum umm_mmu_event event;
};

struct umm_mmu_notifier;

/*
 * Operations of a per-address-space notifier.  Any of them may be NULL.
 */
struct umm_mmu_notifier_ops {
	/*
	 * release - the address space is being destroyed (umm_mm_destroy),
	 * before any of its pages is freed: drop every translation of mm.
	 * Called exactly once per registration: by umm_mm_destroy, or by
	 * umm_mmu_notifier_unregister if that comes first (also when the two
	 * race).  After it no other callback of this notifier runs for mm.
	 * No usermm lock held.  May sleep.
	 */
	void (*release)(struct umm_mmu_notifier *mn, struct umm_mm *mm);
	/*
	 * invalidate_range_start - the ptes of r->start..r->end are about to
	 * change or go (r->event says why).  From now until the matching
	 * invalidate_range_end, no translation of the range may be
	 * established from the page tables (a mirror that fills
	 * concurrently must use an interval notifier's sequence count, or
	 * its own count of ranges in flight, to refuse).  Always paired with
	 * invalidate_range_end on the same range, by the same thread (a
	 * change already in progress when the notifier is registered, or
	 * when it starts unregistering, is reported to it neither at start
	 * nor at end); invalidations of other ranges may run at the same
	 * time, and one thread may have several open.  Locks
	 * held by the caller: the mm's mmap_lock (read or write) for
	 * munmap/mprotect/mremap/madvise/fork/copy-on-write/remap; the
	 * object's i_mmap_lock and the mm's page_table_lock for truncate;
	 * a page lock, the reverse-map walk's locks and a pte table lock
	 * for page_mkclean and reclaim.  May sleep only on its own locks.
	 */
	void (*invalidate_range_start)(struct umm_mmu_notifier *mn, const struct umm_mmu_range *r);
	/*
	 * invalidate_range_end - the change announced by start is complete.
	 * The same locks as start, except: a copy-on-write break also holds
	 * the pte table lock, truncate no longer holds page_table_lock.
	 */
	void (*invalidate_range_end)(struct umm_mmu_notifier *mn, const struct umm_mmu_range *r);
	/*
	 * invalidate_secondary_tlbs - the ptes of [start, end) of mm have
	 * just changed and the frames they mapped are not yet freed: drop
	 * cached translations now.  Called between start and end, possibly
	 * several times (an unmap is done in batches); to a notifier
	 * registered while a change was in progress, also without the start
	 * that change did not report.  A pte table lock may be held: must
	 * not sleep or take a lock that can be held while a usermm lock is
	 * waited for.  For TLB-like consumers that need no start/end window:
	 * the software TLB is one.
	 */
	void (*invalidate_secondary_tlbs)(struct umm_mmu_notifier *mn, struct umm_mm *mm,
					  uintptr_t start, uintptr_t end);
	/*
	 * clear_young - aging (reclaim's page_referenced): did the secondary
	 * MMU use any page of [start, end) since the last call?  Clear its
	 * accessed state and return nonzero if so.  The answers of all
	 * notifiers are added to the page tables' young bits.  A pte table
	 * lock is held: must not sleep.
	 */
	int (*clear_young)(struct umm_mmu_notifier *mn, struct umm_mm *mm, uintptr_t start, uintptr_t end);
	/*
	 * test_young - as clear_young for one page, without clearing.  Same
	 * context.  The core's mmu_notifier_test_young calls it; nothing in
	 * usermm asks that question today: reclaim's page_referenced asks
	 * clear_young of every mapping, which answers it as well.
	 */
	int (*test_young)(struct umm_mmu_notifier *mn, struct umm_mm *mm, uintptr_t addr);
};

/*
 * A notifier: set ops, leave the rest zeroed, register.  The fields after
 * ops belong to usermm.
 */
struct umm_mmu_notifier {
	const struct umm_mmu_notifier_ops *ops;
	struct umm_mm *_mm;
	void *_subs;
	struct umm_mmu_notifier *_next, *_prev;
	int _state;
	unsigned long _reg_gen, _dead_gen;
};

/*
 * umm_mmu_notifier_register - attach mn to mm: from when it returns, every
 * pte change of mm is reported to mn (a change already in progress when
 * it is called is waited for; it is not reported).  Safe while other
 * threads fault, access or change mm.  Takes mm's mmap_lock for write
 * briefly.  Not from a notifier callback.
 * 0; -EINVAL (NULL argument, mn->ops NULL, mn already registered);
 * -ENOMEM.
 */
int umm_mmu_notifier_register(struct umm_mm *mm, struct umm_mmu_notifier *mn);

/*
 * umm_mmu_notifier_unregister - detach mn from mm.  Returns only when no
 * callback of mn is running or can start: it waits for the changes in
 * progress that reported their start to mn to report their end.  Calls
 * mn->ops->release if umm_mm_destroy has not already done so.  Must be called for every
 * registered notifier, also after mm was destroyed (mm is then only
 * compared, not used).  Not from a callback.
 * 0; -EINVAL (NULL argument, mn not registered to mm).
 */
int umm_mmu_notifier_unregister(struct umm_mm *mm, struct umm_mmu_notifier *mn);

/* ---- interval notifiers ---- */

struct umm_mmu_interval_notifier;

struct umm_mmu_interval_notifier_ops {
	/*
	 * invalidate - a change of ptes overlapping [sub->start, sub->end)
	 * begins (r is the whole range being changed, which may extend past
	 * the subscription).  Drop the translations of the overlap.  usermm
	 * has already advanced the sequence to cur_seq (so a fill that read
	 * the page tables before will fail read_retry) and holds sub's lock
	 * (the one umm_mirror_fault installs under) across the call; the
	 * same locks as invalidate_range_start are held too.  Called once per
	 * overlapping change, also with r->event UMM_MMU_EXIT when the
	 * address space is destroyed (then no other call follows).
	 */
	void (*invalidate)(struct umm_mmu_interval_notifier *sub, const struct umm_mmu_range *r,
			   unsigned long cur_seq);
};

/*
 * An interval notifier.  start/end are set by insert and read-only
 * after; the fields from _mm on belong to usermm.
 */
struct umm_mmu_interval_notifier {
	const struct umm_mmu_interval_notifier_ops *ops;
	uintptr_t start, end;
	struct umm_mm *_mm;
	void *_subs;
	struct umm_mmu_interval_notifier *_next, *_prev;
	unsigned long _reg_gen, _dead_gen;
	pthread_mutex_t _lock;
	pthread_cond_t _cond;
	unsigned long _seq;             /* bumped by each invalidation of the range */
	unsigned int _busy;             /* invalidations in progress */
	unsigned int _waiters;
	int _state;
	void (*_test_hook)(struct umm_mmu_interval_notifier *sub, void *arg);
	void *_test_arg;
};

/*
 * umm_mmu_interval_notifier_insert - watch [start, start + len) of mm
 * (page aligned, non-empty, inside the address range of umm_mmap) with
 * ops.  Safe while other threads use mm.  Takes mmap_lock for write
 * briefly.  Not from a callback.
 * 0; -EINVAL (NULL argument, bad range, sub already inserted); -ENOMEM.
 */
int umm_mmu_interval_notifier_insert(struct umm_mm *mm, uintptr_t start, size_t len,
				     const struct umm_mmu_interval_notifier_ops *ops,
				     struct umm_mmu_interval_notifier *sub);

/*
 * umm_mmu_interval_notifier_remove - stop watching; returns when no
 * invalidate of sub runs or can start (changes in progress that
 * invalidated it are waited for).  Allowed after the address space
 * was destroyed, and required then too.  Not from a callback.  A NULL or
 * never-inserted sub is ignored.
 */
void umm_mmu_interval_notifier_remove(struct umm_mmu_interval_notifier *sub);

/*
 * umm_mmu_interval_read_begin - start building a translation: waits while
 * an invalidation of sub's range is in progress, then returns the
 * sequence to pass to read_retry.  Takes sub's lock; no usermm lock may
 * be held by the caller for the mm.
 */
unsigned long umm_mmu_interval_read_begin(struct umm_mmu_interval_notifier *sub);

/*
 * umm_mmu_interval_read_retry - did an invalidation start since
 * read_begin returned seq?  Nonzero: the translation built meanwhile may
 * be stale and must not be installed; begin again.  Only conclusive with
 * sub's lock held (umm_mmu_interval_lock, or inside umm_mirror_fault's
 * install callback): the invalidate callback runs under the same lock,
 * so a translation installed after a zero answer is seen by the next
 * invalidate.
 */
int umm_mmu_interval_read_retry(struct umm_mmu_interval_notifier *sub, unsigned long seq);

/*
 * umm_mmu_interval_check_retry - read_retry without the lock: a cheap
 * early exit for long builds; a zero answer proves nothing.
 */
int umm_mmu_interval_check_retry(struct umm_mmu_interval_notifier *sub, unsigned long seq);

/*
 * umm_mmu_interval_set_seq - for code written against Linux's interface:
 * an invalidate callback may call it with its cur_seq.  usermm has
 * already set that sequence before the callback, so the call changes
 * nothing; any other value is ignored.
 */
void umm_mmu_interval_set_seq(struct umm_mmu_interval_notifier *sub, unsigned long cur_seq);

/*
 * umm_mmu_interval_lock / unlock - sub's lock, the one invalidate runs
 * under (a mutex).  For a NULL or not inserted sub: nothing.  Also for
 * such a sub, read_begin returns 0 and read_retry / check_retry say 1
 * (retry: nothing may be installed).
 */
void umm_mmu_interval_lock(struct umm_mmu_interval_notifier *sub);
void umm_mmu_interval_unlock(struct umm_mmu_interval_notifier *sub);

/*
 * umm_mirror_fault - establish the mirror's translation of the page at
 * addr (inside sub's range): read_begin, find the page as an access of
 * that kind would (faulting it in: copy-on-write for a write to a private
 * mapping, reading the file), then, with sub's lock held and no usermm
 * lock, call install(arg, page address, frame, writable) if no
 * invalidation ran meanwhile; otherwise start again.  frame is the host
 * pointer to the page's 4096 bytes, valid until the next invalidate of
 * the page (the mirror must drop it there).  writable is nonzero when the
 * mirror may write through it (a write fault, or a read of a page whose
 * pte is already writable and dirty): a store through a read-only
 * translation must come back here with write = 1.  install returns 0 or
 * a negative errno, which is returned.
 * Returns 0; -EINVAL (NULL sub or install, addr outside sub, sub not
 * inserted); -EFAULT (nothing mapped there, or the access is not
 * allowed); -EIO; -ENOMEM; -ENODEV (the address space was destroyed).
 */
int umm_mirror_fault(struct umm_mmu_interval_notifier *sub, uintptr_t addr, int write,
		     int (*install)(void *arg, uintptr_t addr, void *frame, int writable),
		     void *arg);

/*
 * umm_mmu_interval_set_test_hook - tests: fn(sub, arg) runs inside
 * umm_mirror_fault after the page was found and before sub's lock is
 * taken for install (no lock held): an invalidation it causes must make
 * the install retry.  NULL removes it.
 */
void umm_mmu_interval_set_test_hook(struct umm_mmu_interval_notifier *sub,
				    void (*fn)(struct umm_mmu_interval_notifier *sub, void *arg),
				    void *arg);

/* ---- the reverse-map notifier (per system) ---- */

struct umm_rmap_notifier;

struct umm_rmap_notifier_ops {
	/*
	 * invalidate_page - the frame at host address `frame` (a 4096-byte
	 * page, as umm_mirror_fault handed out) is about to be taken away:
	 * truncate removes it from its object (event UMM_MMU_TRUNCATE) or
	 * reclaim unmaps it (UMM_MMU_RECLAIM).  Drop every translation to
	 * it.  The page is locked; the object's locks may be held.  Must not
	 * call back into usermm for that object or its mappings.
	 */
	void (*invalidate_page)(struct umm_rmap_notifier *rn, void *frame, enum umm_mmu_event event);
};

struct umm_rmap_notifier {
	const struct umm_rmap_notifier_ops *ops;
	struct umm_system *_sys;
	struct umm_rmap_notifier *_next, *_prev;
};

/*
 * umm_rmap_notifier_register - call rn for every page of sys truncate or
 * reclaim takes away, from when it returns.  0; -EINVAL (NULL argument,
 * no ops, already registered).
 */
int umm_rmap_notifier_register(struct umm_system *sys, struct umm_rmap_notifier *rn);
/*
 * umm_rmap_notifier_unregister - stop; returns when no callback of rn
 * runs or can start.  0; -EINVAL (NULL argument, not registered to sys).
 */
int umm_rmap_notifier_unregister(struct umm_system *sys, struct umm_rmap_notifier *rn);

#ifdef __cplusplus
}
#endif

#endif
