/* SPDX-License-Identifier: MIT */
/*
 * fmutex.c - the contended paths of the futex mutex (see fmutex.h).
 *
 * Locks: none but the fmutex itself.
 */
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "fmutex.h"

#define FMUTEX_SPINS 100

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/**
 * fmutex_lock_slow - spin briefly for the lock, then sleep on the futex
 * until it is ours.  Returns with the lock held.
 */
void fmutex_lock_slow(struct fmutex *m)
{
	uint32_t s;

	for (int i = 0; i < FMUTEX_SPINS; i++) {
		s = atomic_load_explicit(&m->state, memory_order_relaxed);
		if (s == 2)
			break;          /* sleepers already: queue behind them */
		if (s == 0 && atomic_compare_exchange_weak_explicit(&m->state, &s, 1,
								    memory_order_acquire,
								    memory_order_relaxed))
			return;
		cpu_relax();
	}
	/* From here on we may have slept, so we own it as "locked, maybe waiters". */
	while (atomic_exchange_explicit(&m->state, 2, memory_order_acquire) != 0)
		syscall(SYS_futex, &m->state, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
}

/**
 * fmutex_wake - wake one thread asleep on m (its unlock saw state 2).
 */
void fmutex_wake(struct fmutex *m)
{
	syscall(SYS_futex, &m->state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
