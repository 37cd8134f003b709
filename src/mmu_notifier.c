/* SPDX-License-Identifier: MIT */
/*
 * mmu_notifier.c - secondary MMUs learn of every pte change: per-mm
 * notifiers, interval notifiers with sequence counts, the mirror fault
 * helper, the per-system reverse-map notifiers, and the built-in
 * consumer (the soft TLB).
 *
 * Theory of operation.  An mm with something registered has a struct
 * mmu_notifier_subscriptions (allocated by the first registration, freed
 * when the mm and every registration are gone: it is reference counted,
 * so an unregister after umm_mm_destroy still finds it) and a nonzero
 * mm->notifier_count.  A path that changes ptes loads the count (one
 * branch); when nonzero, the callbacks run under subs->lock held for
 * read, and the lists change under it held for write.  The lock is held
 * only around the calls, never across a start..end window (whose path
 * takes usermm locks in between), so it is a leaf of the lock order.
 *
 * Pairing, SRCU style.  Each registration and each unregistration bumps
 * subs->gen under the write lock; a notifier records the gen it was
 * registered at (_reg_gen) and, once unregistering, the gen it was marked
 * dying at (_dead_gen).  A window reads gen at its start and calls, at
 * start and at end, exactly the notifiers with _reg_gen <= gen < _dead_gen:
 * the same set both times, so every notifier gets start and end in
 * pairs, and a notifier registered or dying in the middle of a window is
 * left out of it entirely.  Open windows are counted per epoch
 * (subs->windows[epoch], entered under the read lock).  Unregister marks
 * the notifier dying and flips the epoch under the write lock, then waits
 * for the old epoch's windows to end: the windows that may still call the
 * notifier.  Then it unlinks it under the write lock, which waits for any
 * other callback still running.  After that no callback of it can run or
 * start.
 *
 * A window that loaded a zero count calls nobody.  A registration makes
 * sure such a window cannot be changing ptes the new notifier should hear
 * about: after raising the count it takes (and drops) the mm's mmap_lock
 * for write and its page_table_lock.  Windows that run under mmap_lock
 * (munmap, mprotect, mremap, madvise, fork, copy-on-write, remap) and
 * truncate's (which checks the count under page_table_lock) began after
 * that or have ended.  The rmap walks (page_mkclean, reclaim) check under
 * the pte table lock they change the pte under: a mirror that read the
 * old pte did so under that lock after the registration, so the walk,
 * taking the lock later, sees the count.
 *
 * Interval notifiers have a sequence count and a mutex each.  start bumps
 * the sequence of every overlapping interval notifier and calls its
 * invalidate, both under its mutex, and counts the invalidation as busy;
 * end uncounts it and wakes read_begin, which waits while one is busy.  A
 * mirror installs a translation under the same mutex only if the sequence
 * still is what read_begin returned: an invalidation that began after
 * read_begin makes it retry, and one that begins after the install finds
 * the translation and drops it.
 *
 * release.  umm_mm_destroy calls mmu_notifier_release first: under the
 * write lock it marks the subscriptions dead, takes every notifier off the
 * list (marked released) and every interval notifier (invalidated with
 * UMM_MMU_EXIT, marked dead); release_lock, taken before the write lock is
 * dropped, is held while it calls the release callbacks.  An unregister
 * that finds its notifier already released waits on release_lock, so it
 * returns only after the callback; one that finds it still registered
 * takes it off and calls release itself.  Either way exactly once.
 *
 * Debug builds record, per thread, the mm whose callback runs
 * (mmu_notifier_callback_mm); mmap_read_lock/mmap_write_lock stop with a
 * message when a callback takes that mm's mmap_lock.
 *
 * Locks: subs->lock (rwlock) is taken for read with any usermm lock held
 * (mmap_lock, i_mmap_lock, page_table_lock, a pte table lock, a page
 * lock), and for write with none.  Under it: an interval notifier's
 * _lock (mutex), then the callbacks' own locks.  subs->release_lock is
 * taken under subs->lock (write) by destroy and alone by unregister.
 * sys->rmap_notifier_lock (rwlock): read around reverse-map callbacks
 * (page locked, i_mmap_lock or a pte table lock possibly held), write
 * alone.  umm_mirror_fault takes mmap_lock (read) and the fault's locks
 * with no interval lock held, then the interval lock with no usermm lock.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include "mmu_notifier.h"
#include "memory.h"
#include "gup.h"

struct mmu_notifier_subscriptions {
	pthread_rwlock_t lock;          /* read: callbacks; write: list and gen changes */
	pthread_mutex_t release_lock;   /* held by destroy while it calls release */
	pthread_mutex_t sync_lock;      /* one synchronize_windows at a time */
	struct umm_mmu_notifier *list;
	struct umm_mmu_interval_notifier *intervals;
	unsigned long gen;              /* [lock] bumped by every (un)registration */
	_Atomic unsigned int epoch;     /* [written under lock (write)] */
	_Atomic long windows[2];        /* open windows per epoch */
	_Atomic long refs;              /* the mm's, and one per registration */
	bool dead;                      /* the mm was destroyed [lock] */
};

#define GEN_ALIVE ULONG_MAX             /* _dead_gen of a notifier not unregistering */

/* in_window - does a window that read gen call a notifier registered at reg, dying at dead? */
static inline bool in_window(unsigned long gen, unsigned long reg, unsigned long dead)
{
	return reg <= gen && gen < dead;
}

enum { MN_UNUSED = 0, MN_REGISTERED, MN_RELEASED };

struct umm_mmu_notifier *_Atomic mmu_builtin_notifier;

#if UMM_DEBUG
__thread struct umm_mm *mmu_notifier_callback_mm;
#define CALLBACK_ENTER(mm) struct umm_mm *__saved_cb_mm = mmu_notifier_callback_mm; \
	mmu_notifier_callback_mm = (mm)
#define CALLBACK_EXIT() (mmu_notifier_callback_mm = __saved_cb_mm)
#else
#define CALLBACK_ENTER(mm) do { (void)(mm); } while (0)
#define CALLBACK_EXIT() do { } while (0)
#endif

/**
 * mmu_notifier_register_builtin - make mn the built-in consumer every mm
 * has (its invalidate_secondary_tlbs is called for every flush).  The MMU
 * layer calls it once, before its first translation exists.  No locks.
 */
void mmu_notifier_register_builtin(struct umm_mmu_notifier *mn)
{
	atomic_store_explicit(&mmu_builtin_notifier, mn, memory_order_release);
}

_Atomic(mmu_prefill_fn) mmu_builtin_prefill;

/**
 * mmu_notifier_register_builtin_prefill - set the built-in consumer's
 * prefill (mmu_notifier.h).  The MMU layer calls it once, with
 * mmu_notifier_register_builtin.  No locks.
 */
void mmu_notifier_register_builtin_prefill(mmu_prefill_fn fn)
{
	atomic_store_explicit(&mmu_builtin_prefill, fn, memory_order_release);
}

_Atomic(mmu_prefetch_fn) mmu_builtin_prefetch;

/**
 * mmu_notifier_register_builtin_prefetch - set the built-in consumer's
 * prefetch hint (mmu_notifier.h).  The MMU layer calls it once, with
 * mmu_notifier_register_builtin.  No locks.
 */
void mmu_notifier_register_builtin_prefetch(mmu_prefetch_fn fn)
{
	atomic_store_explicit(&mmu_builtin_prefetch, fn, memory_order_release);
}

static void subs_put(struct mmu_notifier_subscriptions *subs)
{
	if (atomic_fetch_sub(&subs->refs, 1) == 1) {
		pthread_rwlock_destroy(&subs->lock);
		pthread_mutex_destroy(&subs->release_lock);
		pthread_mutex_destroy(&subs->sync_lock);
		free(subs);
	}
}

/*
 * get_subscriptions - mm's subscriptions, allocated on first use.
 * Called under mmap_lock (write) so two registrations do not race.
 */
static struct mmu_notifier_subscriptions *get_subscriptions(struct umm_mm *mm)
{
	struct mmu_notifier_subscriptions *subs = mm->notifier_subscriptions;

	if (subs)
		return subs;
	subs = calloc(1, sizeof(*subs));
	if (!subs)
		return NULL;
	pthread_rwlock_init(&subs->lock, NULL);
	pthread_mutex_init(&subs->release_lock, NULL);
	pthread_mutex_init(&subs->sync_lock, NULL);
	atomic_init(&subs->refs, 1);
	__atomic_store_n(&mm->notifier_subscriptions, subs, __ATOMIC_RELEASE);
	return subs;
}

/*
 * sync_windows - wait for every window that may have loaded a zero
 * notifier count (see the top of the file).  No lock held.
 */
static void sync_windows(struct umm_mm *mm)
{
	mmap_write_lock(mm);
	mmap_write_unlock(mm);
	page_table_lock(mm);
	page_table_unlock(mm);
}

/*
 * synchronize_windows - after a notifier was marked dying (under the write
 * lock, at gen g), wait until every window that may call it has ended:
 * flip the epoch, then wait for the old epoch's count to drain.  Windows
 * of the new epoch read a gen >= g and leave the notifier out.  Takes
 * sync_lock, then subs->lock (write) briefly; no usermm lock held.
 */
static void synchronize_windows(struct mmu_notifier_subscriptions *subs)
{
	unsigned int old;

	pthread_mutex_lock(&subs->sync_lock);
	pthread_rwlock_wrlock(&subs->lock);
	old = atomic_load(&subs->epoch);
	atomic_store(&subs->epoch, old ^ 1);
	pthread_rwlock_unlock(&subs->lock);
	while (atomic_load(&subs->windows[old]) != 0)
		sched_yield();
	pthread_mutex_unlock(&subs->sync_lock);
}

/*
 * attach - the common part of register and insert: under mmap_lock
 * (write) find or make the subscriptions and raise the count; the caller
 * then links under subs->lock.  Returns subs with a reference, or NULL.
 */
static struct mmu_notifier_subscriptions *attach(struct umm_mm *mm)
{
	struct mmu_notifier_subscriptions *subs;

	mmap_write_lock(mm);
	subs = get_subscriptions(mm);
	if (subs)
		atomic_fetch_add(&subs->refs, 1);
	mmap_write_unlock(mm);
	return subs;
}

/**
 * umm_mmu_notifier_register - attach mn to mm (usermm/mmu_notifier.h).
 * Takes mmap_lock (write), subs->lock (write), page_table_lock, one after
 * the other.  0, -EINVAL, -ENOMEM.
 */
int umm_mmu_notifier_register(struct umm_mm *mm, struct umm_mmu_notifier *mn)
{
	struct mmu_notifier_subscriptions *subs;

	if (!mm || !mn || !mn->ops || mn->_state != MN_UNUSED)
		return -EINVAL;
	subs = attach(mm);
	if (!subs)
		return -ENOMEM;
	pthread_rwlock_wrlock(&subs->lock);
	mn->_mm = mm;
	mn->_subs = subs;
	mn->_reg_gen = ++subs->gen;
	mn->_dead_gen = GEN_ALIVE;
	mn->_prev = NULL;
	mn->_next = subs->list;
	if (subs->list)
		subs->list->_prev = mn;
	subs->list = mn;
	mn->_state = MN_REGISTERED;
	atomic_fetch_add(&mm->notifier_count, 1);
	pthread_rwlock_unlock(&subs->lock);
	sync_windows(mm);
	return 0;
}

static void unlink_notifier(struct mmu_notifier_subscriptions *subs, struct umm_mmu_notifier *mn)
{
	if (mn->_prev)
		mn->_prev->_next = mn->_next;
	else
		subs->list = mn->_next;
	if (mn->_next)
		mn->_next->_prev = mn->_prev;
	mn->_next = mn->_prev = NULL;
}

/**
 * umm_mmu_notifier_unregister - detach mn (usermm/mmu_notifier.h).  Takes
 * subs->lock (write), then subs->release_lock if destroy released mn.
 * Does not touch mm.  0 or -EINVAL.
 */
int umm_mmu_notifier_unregister(struct umm_mm *mm, struct umm_mmu_notifier *mn)
{
	struct mmu_notifier_subscriptions *subs;
	bool call_release = false;

	/* _subs and _mm change only here and in register: destroy leaves them */
	if (!mm || !mn || !mn->_subs || mn->_mm != mm)
		return -EINVAL;
	subs = mn->_subs;
	pthread_rwlock_wrlock(&subs->lock);
	if (mn->_state == MN_REGISTERED && mn->_dead_gen == GEN_ALIVE) {
		mn->_dead_gen = ++subs->gen;    /* windows from now on leave it out */
		call_release = true;
	}
	pthread_rwlock_unlock(&subs->lock);
	if (call_release) {
		synchronize_windows(subs);      /* the windows that include it have ended */
		pthread_rwlock_wrlock(&subs->lock);
		/* destroy may have taken it off meanwhile: then it released it */
		if (mn->_state == MN_REGISTERED) {
			unlink_notifier(subs, mn);
			atomic_fetch_sub(&mm->notifier_count, 1);
		} else {
			call_release = false;
		}
		pthread_rwlock_unlock(&subs->lock);
	}
	if (!call_release) {
		/* destroy took it: wait until its release callbacks are done */
		pthread_mutex_lock(&subs->release_lock);
		pthread_mutex_unlock(&subs->release_lock);
	} else {
		if (mn->ops->release) {
			CALLBACK_ENTER(mm);
			mn->ops->release(mn, mm);
			CALLBACK_EXIT();
		}
	}
	mn->_state = MN_UNUSED;
	mn->_dead_gen = 0;
	mn->_mm = NULL;
	mn->_subs = NULL;
	subs_put(subs);
	return 0;
}

/* ---- windows ---- */

static inline bool interval_overlaps(const struct umm_mmu_interval_notifier *sub, const struct umm_mmu_range *r)
{
	return sub->start < r->end && r->start < sub->end;
}

/**
 * __mmu_notifier_invalidate_range_start - the slow path of
 * mmu_notifier_invalidate_range_start: enter a window of the current
 * epoch, call invalidate_range_start of every notifier the window
 * includes, and bump and invalidate each overlapping interval notifier
 * under its lock.  Takes subs->lock for read around the calls.
 */
void __mmu_notifier_invalidate_range_start(struct mmu_notifier_range *range)
{
	struct mmu_notifier_subscriptions *subs =
		__atomic_load_n(&range->r.mm->notifier_subscriptions, __ATOMIC_ACQUIRE);
	struct umm_mmu_notifier *mn;
	struct umm_mmu_interval_notifier *sub;
	unsigned long gen;

	if (!subs)
		return;
	pthread_rwlock_rdlock(&subs->lock);
	range->subs = subs;
	range->gen = gen = subs->gen;
	range->epoch = atomic_load(&subs->epoch);
	atomic_fetch_add(&subs->windows[range->epoch], 1);
	CALLBACK_ENTER(range->r.mm);
	for (mn = subs->list; mn; mn = mn->_next)
		if (in_window(gen, mn->_reg_gen, mn->_dead_gen) && mn->ops->invalidate_range_start)
			mn->ops->invalidate_range_start(mn, &range->r);
	for (sub = subs->intervals; sub; sub = sub->_next) {
		if (!in_window(gen, sub->_reg_gen, sub->_dead_gen) || !interval_overlaps(sub, &range->r))
			continue;
		pthread_mutex_lock(&sub->_lock);
		sub->_busy++;
		__atomic_store_n(&sub->_seq, sub->_seq + 1, __ATOMIC_RELAXED);
		if (sub->ops->invalidate)
			sub->ops->invalidate(sub, &range->r, sub->_seq);
		pthread_mutex_unlock(&sub->_lock);
	}
	CALLBACK_EXIT();
	pthread_rwlock_unlock(&subs->lock);
}

/**
 * __mmu_notifier_invalidate_range_end - the slow path of
 * mmu_notifier_invalidate_range_end: the same notifiers as start (the
 * window's gen picks them), then leave the window.  Takes subs->lock for
 * read around the calls.
 */
void __mmu_notifier_invalidate_range_end(struct mmu_notifier_range *range)
{
	struct mmu_notifier_subscriptions *subs = range->subs;
	struct umm_mmu_notifier *mn;
	struct umm_mmu_interval_notifier *sub;
	unsigned long gen = range->gen;

	pthread_rwlock_rdlock(&subs->lock);
	CALLBACK_ENTER(range->r.mm);
	for (sub = subs->intervals; sub; sub = sub->_next) {
		if (!in_window(gen, sub->_reg_gen, sub->_dead_gen) || !interval_overlaps(sub, &range->r))
			continue;
		pthread_mutex_lock(&sub->_lock);
		VM_BUG_ON(sub->_busy == 0);
		if (--sub->_busy == 0 && sub->_waiters)
			pthread_cond_broadcast(&sub->_cond);
		pthread_mutex_unlock(&sub->_lock);
	}
	for (mn = subs->list; mn; mn = mn->_next)
		if (in_window(gen, mn->_reg_gen, mn->_dead_gen) && mn->ops->invalidate_range_end)
			mn->ops->invalidate_range_end(mn, &range->r);
	CALLBACK_EXIT();
	pthread_rwlock_unlock(&subs->lock);
	atomic_fetch_sub(&subs->windows[range->epoch], 1);
	range->subs = NULL;
}

/**
 * __mmu_notifier_invalidate_secondary_tlbs - the registered notifiers'
 * invalidate_secondary_tlbs.  Takes subs->lock for read; ptl may be held.
 */
void __mmu_notifier_invalidate_secondary_tlbs(struct umm_mm *mm, uintptr_t start, uintptr_t end)
{
	struct mmu_notifier_subscriptions *subs = __atomic_load_n(&mm->notifier_subscriptions, __ATOMIC_ACQUIRE);
	struct umm_mmu_notifier *mn;

	if (!subs)
		return;
	pthread_rwlock_rdlock(&subs->lock);
	CALLBACK_ENTER(mm);
	for (mn = subs->list; mn; mn = mn->_next)
		if (mn->_dead_gen == GEN_ALIVE && mn->ops->invalidate_secondary_tlbs)
			mn->ops->invalidate_secondary_tlbs(mn, mm, start, end);
	CALLBACK_EXIT();
	pthread_rwlock_unlock(&subs->lock);
}

/**
 * __mmu_notifier_clear_young - sum of the notifiers' clear_young answers
 * (each counted once if nonzero).  Takes subs->lock for read.
 */
int __mmu_notifier_clear_young(struct umm_mm *mm, uintptr_t start, uintptr_t end)
{
	struct mmu_notifier_subscriptions *subs = __atomic_load_n(&mm->notifier_subscriptions, __ATOMIC_ACQUIRE);
	struct umm_mmu_notifier *mn;
	int young = 0;

	if (!subs)
		return 0;
	pthread_rwlock_rdlock(&subs->lock);
	CALLBACK_ENTER(mm);
	for (mn = subs->list; mn; mn = mn->_next)
		if (mn->_dead_gen == GEN_ALIVE && mn->ops->clear_young)
			young += mn->ops->clear_young(mn, mm, start, end) != 0;
	CALLBACK_EXIT();
	pthread_rwlock_unlock(&subs->lock);
	return young;
}

/**
 * __mmu_notifier_test_young - how many notifiers say addr was used.
 * Takes subs->lock for read.
 */
int __mmu_notifier_test_young(struct umm_mm *mm, uintptr_t addr)
{
	struct mmu_notifier_subscriptions *subs = __atomic_load_n(&mm->notifier_subscriptions, __ATOMIC_ACQUIRE);
	struct umm_mmu_notifier *mn;
	int young = 0;

	if (!subs)
		return 0;
	pthread_rwlock_rdlock(&subs->lock);
	CALLBACK_ENTER(mm);
	for (mn = subs->list; mn; mn = mn->_next)
		if (mn->_dead_gen == GEN_ALIVE && mn->ops->test_young)
			young += mn->ops->test_young(mn, mm, addr) != 0;
	CALLBACK_EXIT();
	pthread_rwlock_unlock(&subs->lock);
	return young;
}

/**
 * mmu_notifier_release - umm_mm_destroy's first step (mmu_notifier.h).
 * Takes subs->lock (write), the interval notifiers' locks, then
 * release_lock while it calls release with subs->lock dropped.
 */
void mmu_notifier_release(struct umm_mm *mm)
{
	struct mmu_notifier_subscriptions *subs = mm->notifier_subscriptions;
	struct umm_mmu_notifier *mn, *list;
	struct umm_mmu_interval_notifier *sub;
	struct umm_mmu_range r = { mm, 0, UMM_TASK_SIZE, UMM_MMU_EXIT };

	if (!subs)
		return;
	pthread_rwlock_wrlock(&subs->lock);
	subs->dead = true;
	CALLBACK_ENTER(mm);
	while ((sub = subs->intervals) != NULL) {
		subs->intervals = sub->_next;
		if (sub->_next)
			sub->_next->_prev = NULL;
		sub->_next = sub->_prev = NULL;
		pthread_mutex_lock(&sub->_lock);
		__atomic_store_n(&sub->_seq, sub->_seq + 1, __ATOMIC_RELAXED);
		sub->_state = MN_RELEASED;
		r.start = sub->start;
		r.end = sub->end;
		if (sub->ops->invalidate)
			sub->ops->invalidate(sub, &r, sub->_seq);
		if (sub->_waiters)
			pthread_cond_broadcast(&sub->_cond);
		pthread_mutex_unlock(&sub->_lock);
		atomic_fetch_sub(&mm->notifier_count, 1);
	}
	list = subs->list;
	subs->list = NULL;
	for (mn = list; mn; mn = mn->_next) {
		mn->_state = MN_RELEASED;
		atomic_fetch_sub(&mm->notifier_count, 1);
	}
	pthread_mutex_lock(&subs->release_lock);
	pthread_rwlock_unlock(&subs->lock);
	while ((mn = list) != NULL) {
		list = mn->_next;
		mn->_next = mn->_prev = NULL;
		if (mn->ops->release)
			mn->ops->release(mn, mm);
	}
	CALLBACK_EXIT();
	pthread_mutex_unlock(&subs->release_lock);
	mm->notifier_subscriptions = NULL;
	subs_put(subs);         /* the mm's reference */
}

/* ---- interval notifiers ---- */

/**
 * umm_mmu_interval_notifier_insert - watch a range of mm
 * (usermm/mmu_notifier.h).  Takes mmap_lock (write), subs->lock (write),
 * page_table_lock, one after the other.  0, -EINVAL, -ENOMEM.
 */
int umm_mmu_interval_notifier_insert(struct umm_mm *mm, uintptr_t start, size_t len,
				     const struct umm_mmu_interval_notifier_ops *ops,
				     struct umm_mmu_interval_notifier *sub)
{
	struct mmu_notifier_subscriptions *subs;

	if (!mm || !ops || !sub || sub->_state != MN_UNUSED)
		return -EINVAL;
	if (len == 0 || (start & (PAGE_SIZE - 1)) || (len & (PAGE_SIZE - 1)) ||
	    start < UMM_MMAP_MIN_ADDR || start > UMM_TASK_SIZE || len > UMM_TASK_SIZE - start)
		return -EINVAL;
	subs = attach(mm);
	if (!subs)
		return -ENOMEM;
	sub->ops = ops;
	sub->start = start;
	sub->end = start + len;
	pthread_mutex_init(&sub->_lock, NULL);
	pthread_cond_init(&sub->_cond, NULL);
	sub->_seq = 0;
	sub->_busy = 0;
	sub->_waiters = 0;
	pthread_rwlock_wrlock(&subs->lock);
	sub->_mm = mm;
	sub->_subs = subs;
	sub->_reg_gen = ++subs->gen;
	sub->_dead_gen = GEN_ALIVE;
	sub->_prev = NULL;
	sub->_next = subs->intervals;
	if (subs->intervals)
		subs->intervals->_prev = sub;
	subs->intervals = sub;
	sub->_state = MN_REGISTERED;
	atomic_fetch_add(&mm->notifier_count, 1);
	pthread_rwlock_unlock(&subs->lock);
	sync_windows(mm);
	return 0;
}

/**
 * umm_mmu_interval_notifier_remove - stop watching (usermm/mmu_notifier.h).
 * Takes subs->lock (write).  Does not touch the mm once it was destroyed.
 */
void umm_mmu_interval_notifier_remove(struct umm_mmu_interval_notifier *sub)
{
	struct mmu_notifier_subscriptions *subs;

	if (!sub || !sub->_subs)         /* never inserted (destroy leaves _subs) */
		return;
	subs = sub->_subs;
	pthread_rwlock_wrlock(&subs->lock);
	if (sub->_state == MN_REGISTERED)
		sub->_dead_gen = ++subs->gen;   /* windows from now on leave it out */
	pthread_rwlock_unlock(&subs->lock);
	synchronize_windows(subs);              /* the windows that include it have ended */
	pthread_rwlock_wrlock(&subs->lock);
	if (sub->_state == MN_REGISTERED) {
		if (sub->_prev)
			sub->_prev->_next = sub->_next;
		else
			subs->intervals = sub->_next;
		if (sub->_next)
			sub->_next->_prev = sub->_prev;
		atomic_fetch_sub(&sub->_mm->notifier_count, 1);
	}
	pthread_rwlock_unlock(&subs->lock);
	/* no window can reach sub now; wait for a mirror blocked in read_begin to leave */
	pthread_mutex_lock(&sub->_lock);
	sub->_state = MN_UNUSED;
	sub->_busy = 0;
	pthread_cond_broadcast(&sub->_cond);
	while (sub->_waiters)
		pthread_cond_wait(&sub->_cond, &sub->_lock);
	pthread_mutex_unlock(&sub->_lock);
	pthread_cond_destroy(&sub->_cond);
	pthread_mutex_destroy(&sub->_lock);
	sub->_next = sub->_prev = NULL;
	sub->_mm = NULL;
	sub->_subs = NULL;
	sub->start = sub->end = 0;      /* umm_mirror_fault on it: -EINVAL */
	subs_put(subs);
}

/* read_begin_state - read_begin that also says whether sub is still registered.  Takes sub's lock. */
static unsigned long read_begin_state(struct umm_mmu_interval_notifier *sub, bool *live)
{
	unsigned long seq;

	pthread_mutex_lock(&sub->_lock);
	sub->_waiters++;
	while (sub->_busy && sub->_state == MN_REGISTERED)
		pthread_cond_wait(&sub->_cond, &sub->_lock);
	sub->_waiters--;
	if (sub->_waiters == 0 && sub->_state == MN_UNUSED)
		pthread_cond_broadcast(&sub->_cond);    /* remove waits for us */
	seq = sub->_seq;
	*live = sub->_state == MN_REGISTERED;
	pthread_mutex_unlock(&sub->_lock);
	return seq;
}

/**
 * umm_mmu_interval_read_begin - wait while an invalidation of sub's range
 * runs, return the sequence.  Takes sub's lock.
 */
unsigned long umm_mmu_interval_read_begin(struct umm_mmu_interval_notifier *sub)
{
	bool live;

	if (!sub || !sub->_subs)
		return 0;
	return read_begin_state(sub, &live);
}

/**
 * umm_mmu_interval_read_retry - has the sequence moved since seq?  Call
 * with sub's lock held to rely on a zero answer.
 */
int umm_mmu_interval_read_retry(struct umm_mmu_interval_notifier *sub, unsigned long seq)
{
	if (!sub || !sub->_subs)
		return 1;
	return __atomic_load_n(&sub->_seq, __ATOMIC_RELAXED) != seq;
}

/** umm_mmu_interval_check_retry - read_retry without the lock (a hint). */
int umm_mmu_interval_check_retry(struct umm_mmu_interval_notifier *sub, unsigned long seq)
{
	if (!sub || !sub->_subs)
		return 1;
	return __atomic_load_n(&sub->_seq, __ATOMIC_RELAXED) != seq;
}

/** umm_mmu_interval_set_seq - compatibility no-op (usermm/mmu_notifier.h). */
void umm_mmu_interval_set_seq(struct umm_mmu_interval_notifier *sub, unsigned long cur_seq)
{
	(void)sub;
	(void)cur_seq;
}

/** umm_mmu_interval_lock - take sub's lock (the one invalidate runs under). */
void umm_mmu_interval_lock(struct umm_mmu_interval_notifier *sub)
{
	if (sub && sub->_subs)
		pthread_mutex_lock(&sub->_lock);
}

/** umm_mmu_interval_unlock - drop sub's lock. */
void umm_mmu_interval_unlock(struct umm_mmu_interval_notifier *sub)
{
	if (sub && sub->_subs)
		pthread_mutex_unlock(&sub->_lock);
}

/** umm_mmu_interval_set_test_hook - see usermm/mmu_notifier.h. */
void umm_mmu_interval_set_test_hook(struct umm_mmu_interval_notifier *sub,
				    void (*fn)(struct umm_mmu_interval_notifier *sub, void *arg),
				    void *arg)
{
	if (!sub)
		return;
	sub->_test_hook = fn;
	sub->_test_arg = arg;
}

/**
 * umm_mirror_fault - fault the page at addr and install it in the mirror
 * (usermm/mmu_notifier.h).  Takes mmap_lock (read) and the fault's locks
 * through gup_fault_page, then sub's lock for install with none held.
 * 0, -EINVAL, -EFAULT, -EIO, -ENOMEM, -ENODEV, or install's error.
 */
int umm_mirror_fault(struct umm_mmu_interval_notifier *sub, uintptr_t addr, int write,
		     int (*install)(void *arg, uintptr_t addr, void *frame, int writable),
		     void *arg)
{
	uintptr_t page_addr = addr & ~(uintptr_t)(PAGE_SIZE - 1);

	if (!sub || !install)
		return -EINVAL;
	if (addr < sub->start || addr >= sub->end)
		return -EINVAL;
	for (;;) {
		struct page *page;
		bool writable, live;
		unsigned long seq;
		int err;

		seq = read_begin_state(sub, &live);
		if (!live)
			return -ENODEV;
		err = gup_fault_page(sub->_mm, page_addr, write != 0, &page, &writable);
		if (err)
			return err;
		if (sub->_test_hook)
			sub->_test_hook(sub, sub->_test_arg);
		pthread_mutex_lock(&sub->_lock);
		if (sub->_state != MN_REGISTERED) {
			err = -ENODEV;
		} else if (sub->_seq != seq) {
			err = -EAGAIN;
		} else {
			err = install(arg, page_addr, page_address(page), writable);
		}
		pthread_mutex_unlock(&sub->_lock);
		put_page(page);
		if (err != -EAGAIN)
			return err;
	}
}

/* ---- reverse-map notifiers ---- */

/** mmu_notifier_system_init - the empty reverse-map notifier list of sys.  No locks. */
void mmu_notifier_system_init(struct umm_system *sys)
{
	pthread_rwlock_init(&sys->rmap_notifier_lock, NULL);
	sys->rmap_notifiers = NULL;
	atomic_init(&sys->nr_rmap_notifiers, 0);
}

/** mmu_notifier_system_destroy - free the list's lock.  No locks. */
void mmu_notifier_system_destroy(struct umm_system *sys)
{
	pthread_rwlock_destroy(&sys->rmap_notifier_lock);
}

/**
 * umm_rmap_notifier_register - add rn to sys's reverse-map notifiers.
 * Takes sys->rmap_notifier_lock (write).  0 or -EINVAL.
 */
int umm_rmap_notifier_register(struct umm_system *sys, struct umm_rmap_notifier *rn)
{
	if (!sys || !rn || !rn->ops || !rn->ops->invalidate_page || rn->_sys)
		return -EINVAL;
	pthread_rwlock_wrlock(&sys->rmap_notifier_lock);
	rn->_sys = sys;
	rn->_prev = NULL;
	rn->_next = sys->rmap_notifiers;
	if (sys->rmap_notifiers)
		sys->rmap_notifiers->_prev = rn;
	sys->rmap_notifiers = rn;
	atomic_fetch_add(&sys->nr_rmap_notifiers, 1);
	pthread_rwlock_unlock(&sys->rmap_notifier_lock);
	return 0;
}

/**
 * umm_rmap_notifier_unregister - remove rn; returns when none of its
 * callbacks runs.  Takes sys->rmap_notifier_lock (write).  0 or -EINVAL.
 */
int umm_rmap_notifier_unregister(struct umm_system *sys, struct umm_rmap_notifier *rn)
{
	if (!sys || !rn || rn->_sys != sys)
		return -EINVAL;
	pthread_rwlock_wrlock(&sys->rmap_notifier_lock);
	if (rn->_prev)
		rn->_prev->_next = rn->_next;
	else
		sys->rmap_notifiers = rn->_next;
	if (rn->_next)
		rn->_next->_prev = rn->_prev;
	rn->_next = rn->_prev = NULL;
	rn->_sys = NULL;
	atomic_fetch_sub(&sys->nr_rmap_notifiers, 1);
	pthread_rwlock_unlock(&sys->rmap_notifier_lock);
	return 0;
}

/**
 * __mmu_notifier_invalidate_page - call every reverse-map notifier of sys
 * for page (locked).  Takes sys->rmap_notifier_lock (read).
 */
void __mmu_notifier_invalidate_page(struct umm_system *sys, struct page *page, enum umm_mmu_event event)
{
	struct umm_rmap_notifier *rn;

	pthread_rwlock_rdlock(&sys->rmap_notifier_lock);
	for (rn = sys->rmap_notifiers; rn; rn = rn->_next)
		rn->ops->invalidate_page(rn, page_address(page), event);
	pthread_rwlock_unlock(&sys->rmap_notifier_lock);
}
