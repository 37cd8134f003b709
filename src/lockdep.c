/* SPDX-License-Identifier: MIT */
/*
 * lockdep.c - the debug-build lock-order checker (see lockdep.h for the
 * order it enforces).
 *
 * Each thread keeps a small stack of the checked locks it holds: the
 * lock's address, class and subclass.  An acquisition (not a trylock) is
 * in order when its (class, subclass) pair is greater than that of every
 * held lock; otherwise the violation is described in one line and passed
 * to the report hook, or is a BUG without one.  The lock is recorded
 * either way, so its release still matches.  Releases may come in any
 * order.  Locks beyond LOCKDEP_MAX_HELD are reported too.
 *
 * Locks: none.  The hook pointer is an atomic; the stacks are per thread.
 * Release builds compile none of this (lockdep.h turns the calls into
 * nothing).
 */
#include <stdatomic.h>
#include <stdio.h>
#include "lockdep.h"

#if UMM_DEBUG

#define LOCKDEP_MAX_HELD 32

struct held_lock {
	const void *lock;
	unsigned char cls;
	unsigned char sub;
	bool read;
};

static __thread struct held_lock held[LOCKDEP_MAX_HELD];
static __thread unsigned int nr_held;
static __thread unsigned long nr_acquired[NR_LOCK_CLASSES];
static _Atomic(lockdep_report_fn) report_hook;

static const char *const class_names[NR_LOCK_CLASSES] = {
	[LOCK_NONE] = "none",
	[LOCK_MM_LIST] = "mm_list_lock",
	[LOCK_MMAP] = "mmap_lock",
	[LOCK_I_MMAP] = "i_mmap_lock",
	[LOCK_ANON_VMA] = "anon_vma lock",
	[LOCK_PAGE_TABLE] = "page_table_lock",
	[LOCK_PTL] = "pte table lock",
	[LOCK_TREE] = "tree_lock",
};

static void report(const char *msg)
{
	lockdep_report_fn fn = atomic_load(&report_hook);

	if (fn)
		fn(msg);
	else
		umm_bug(__FILE__, __LINE__, msg);
}

static unsigned int rank(unsigned int cls, unsigned int sub)
{
	return cls * 16 + sub;
}

/**
 * lockdep_acquire - check (unless trylock) and record an acquisition.
 * No locks.
 */
void lockdep_acquire(const void *lock, enum lock_class cls, unsigned int sub, unsigned int flags)
{
	char msg[200];

	if (!(flags & LOCKDEP_TRYLOCK)) {
		for (unsigned int i = 0; i < nr_held; i++) {
			const struct held_lock *h = &held[i];

			if (h->lock == lock) {
				snprintf(msg, sizeof(msg), "lockdep: recursive %s %p", class_names[cls], lock);
				report(msg);
				break;
			}
			if (rank(h->cls, h->sub) >= rank(cls, sub)) {
				snprintf(msg, sizeof(msg),
					 "lockdep: lock order violation: taking %s/%u %p while holding %s/%u %p",
					 class_names[cls], sub, lock, class_names[h->cls], h->sub, h->lock);
				report(msg);
				break;
			}
		}
	}
	nr_acquired[cls]++;
	if (nr_held == LOCKDEP_MAX_HELD) {
		report("lockdep: too many locks held");
		return;
	}
	held[nr_held++] = (struct held_lock){ .lock = lock, .cls = (unsigned char)cls,
					      .sub = (unsigned char)sub,
					      .read = (flags & LOCKDEP_READ) != 0 };
}

/**
 * lockdep_release - forget a held lock (a release of a lock not held is
 * reported).  No locks.
 */
void lockdep_release(const void *lock)
{
	for (unsigned int i = nr_held; i-- > 0;) {
		if (held[i].lock != lock)
			continue;
		for (unsigned int j = i + 1; j < nr_held; j++)
			held[j - 1] = held[j];
		nr_held--;
		return;
	}
	report("lockdep: releasing a lock that is not held");
}

/**
 * lockdep_is_held - whether this thread holds lock.  No locks.
 */
bool lockdep_is_held(const void *lock)
{
	for (unsigned int i = 0; i < nr_held; i++)
		if (held[i].lock == lock)
			return true;
	return false;
}

/**
 * lockdep_is_held_write - whether this thread holds lock exclusively.  No locks.
 */
bool lockdep_is_held_write(const void *lock)
{
	for (unsigned int i = 0; i < nr_held; i++)
		if (held[i].lock == lock)
			return !held[i].read;
	return false;
}

/**
 * lockdep_depth - the number of checked locks this thread holds.  No locks.
 */
unsigned int lockdep_depth(void)
{
	return nr_held;
}

/**
 * lockdep_acquisitions - how many locks of class cls this thread has
 * taken since it started.  No locks.
 */
unsigned long lockdep_acquisitions(enum lock_class cls)
{
	return nr_acquired[cls];
}

/**
 * lockdep_set_report_hook - install fn as the violation reporter (NULL
 * restores BUG).  Returns the previous hook.  No locks.
 */
lockdep_report_fn lockdep_set_report_hook(lockdep_report_fn fn)
{
	return atomic_exchange(&report_hook, fn);
}

#endif /* UMM_DEBUG */
