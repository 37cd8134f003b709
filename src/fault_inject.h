/* SPDX-License-Identifier: MIT */
/*
 * fault_inject.h - deterministic failure injection for tests.
 *
 * A site (frame allocation, backing read, backing write) lets the first
 * `skip` calls succeed and then fails the next `times` calls.  Public
 * control is umm_inject_fault() in <usermm/debug.h>.  No locks: the
 * counters are atomics, so a site can be armed while other threads run.
 */
#ifndef UMM_FAULT_INJECT_H
#define UMM_FAULT_INJECT_H

#include <stdatomic.h>
#include <stdbool.h>

struct fault_inject {
	_Atomic long skip;            /* successes still to allow before failing */
	_Atomic long times;           /* failures still to produce; 0 = disarmed, -1 = forever */
	_Atomic unsigned long hits;   /* failures produced so far */
};

static inline void fault_inject_arm(struct fault_inject *fi, long skip, long times)
{
	atomic_store(&fi->times, 0);
	atomic_store(&fi->skip, skip);
	atomic_store(&fi->times, times);
}

/* should_fail - true if this call at the site must fail. */
static inline bool should_fail(struct fault_inject *fi)
{
	long t = atomic_load_explicit(&fi->times, memory_order_relaxed);
	if (__builtin_expect(t == 0, 1))
		return false;
	if (atomic_fetch_sub(&fi->skip, 1) > 0)
		return false;
	atomic_store(&fi->skip, 0);
	if (t > 0 && atomic_fetch_sub(&fi->times, 1) <= 0) {
		atomic_store(&fi->times, 0);
		return false;
	}
	atomic_fetch_add(&fi->hits, 1);
	return true;
}

#endif
