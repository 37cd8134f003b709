/* SPDX-License-Identifier: MIT */
/*
 * fmutex.h - a 4-byte mutex on a futex, small enough to live in the
 * struct page of every page-table page (the split page-table locks).
 *
 * State: 0 free, 1 locked, 2 locked and a thread may be asleep on it.
 * fmutex_lock takes a free lock with one compare-and-swap; otherwise it
 * spins a little (a pte table lock is held for a few hundred nanoseconds)
 * and then sleeps in FUTEX_WAIT with the state set to 2, so that the
 * unlock, which swaps in 0, knows to FUTEX_WAKE one sleeper.  Not fair,
 * not recursive, not robust.  Acquire/release ordering as a mutex.
 *
 * ThreadSanitizer sees the atomics but not that they form a mutex; the
 * __tsan_mutex_* annotations tell it, so the TSan build checks code under
 * these locks as it does under pthread mutexes.  A lock that lives in
 * memory reused for other purposes must be fmutex_destroy()ed before the
 * memory is reused.  The lock order checker (lockdep.h) is applied by the
 * callers' wrappers, which know the lock's class.
 */
#ifndef UMM_FMUTEX_H
#define UMM_FMUTEX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include "compiler.h"

#if defined(__SANITIZE_THREAD__)
#define FMUTEX_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FMUTEX_TSAN 1
#endif
#endif

#ifdef FMUTEX_TSAN
#include <sanitizer/tsan_interface.h>
#define fm_tsan(call) call
#else
#define fm_tsan(call) do { } while (0)
#endif

struct fmutex {
	_Atomic uint32_t state;
};

/* fmutex_lock_slow - contended path of fmutex_lock (fmutex.c). */
void fmutex_lock_slow(struct fmutex *m);
/* fmutex_wake - wake one sleeper (fmutex.c). */
void fmutex_wake(struct fmutex *m);

/* fmutex_init - a free lock (memory that held something else is fine). */
static inline void fmutex_init(struct fmutex *m)
{
	atomic_store_explicit(&m->state, 0, memory_order_relaxed);
	fm_tsan(__tsan_mutex_create(m, __tsan_mutex_not_static));
}

/* fmutex_destroy - the lock's memory is about to be reused.  Must be free. */
static inline void fmutex_destroy(struct fmutex *m)
{
	VM_BUG_ON(atomic_load_explicit(&m->state, memory_order_relaxed) != 0);
	fm_tsan(__tsan_mutex_destroy(m, 0));
	(void)m;
}

static inline void fmutex_lock(struct fmutex *m)
{
	uint32_t free_state = 0;

	fm_tsan(__tsan_mutex_pre_lock(m, 0));
	if (unlikely(!atomic_compare_exchange_strong_explicit(&m->state, &free_state, 1,
							      memory_order_acquire,
							      memory_order_relaxed)))
		fmutex_lock_slow(m);
	fm_tsan(__tsan_mutex_post_lock(m, 0, 0));
}

/* fmutex_trylock - take the lock if it is free; true if taken. */
static inline bool fmutex_trylock(struct fmutex *m)
{
	uint32_t free_state = 0;
	bool ok;

	fm_tsan(__tsan_mutex_pre_lock(m, __tsan_mutex_try_lock));
	ok = atomic_compare_exchange_strong_explicit(&m->state, &free_state, 1,
						     memory_order_acquire, memory_order_relaxed);
	fm_tsan(__tsan_mutex_post_lock(m, ok ? __tsan_mutex_try_lock
					     : __tsan_mutex_try_lock | __tsan_mutex_try_lock_failed, 0));
	return ok;
}

static inline void fmutex_unlock(struct fmutex *m)
{
	fm_tsan(__tsan_mutex_pre_unlock(m, 0));
	if (unlikely(atomic_exchange_explicit(&m->state, 0, memory_order_release) == 2))
		fmutex_wake(m);
	fm_tsan(__tsan_mutex_post_unlock(m, 0));
}

/* fmutex_is_locked - someone holds it (a hint, for debug checks). */
static inline bool fmutex_is_locked(struct fmutex *m)
{
	return atomic_load_explicit(&m->state, memory_order_relaxed) != 0;
}

/*
 * mutex_init_adaptive - initialize a pthread mutex that spins a bounded
 * while before it sleeps (glibc's PTHREAD_MUTEX_ADAPTIVE_NP), for locks
 * that threads faulting at once take for short sections (the allocator's
 * zone lock, the LRU lock): a waiter whose holder runs on the other CPU
 * gets the lock without the two futex system calls of a sleep and a
 * wake-up.  Falls back to a default mutex if the attribute is refused.
 */
static inline void mutex_init_adaptive(pthread_mutex_t *m)
{
	pthread_mutexattr_t attr;

	if (pthread_mutexattr_init(&attr) == 0) {
		if (pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP) == 0 &&
		    pthread_mutex_init(m, &attr) == 0) {
			pthread_mutexattr_destroy(&attr);
			return;
		}
		pthread_mutexattr_destroy(&attr);
	}
	pthread_mutex_init(m, NULL);
}

#endif /* UMM_FMUTEX_H */
