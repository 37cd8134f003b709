/* SPDX-License-Identifier: MIT */
/*
 * percpu_rwsem.h - a reader-writer lock whose reader counts are striped
 * per thread slot (the kernel's percpu_rw_semaphore), for read-mostly
 * locks taken on every fault: mm->mmap_lock and obj->tree_lock.
 *
 * With one shared reader count (pthread_rwlock_t) two threads taking the
 * lock for read bounce its cache line twice per hold.  Here a reader adds
 * 1 to the count of its own stripe (its thread slot's, percpu.h, on a
 * cache line of its own) and then checks the writer flag; a writer raises
 * the flag and waits until every stripe's count is 0.  Both sides use
 * sequentially consistent atomics, so either the reader sees the flag
 * (and backs off: drops its count, wakes the writer, sleeps until the
 * writer is done, tries again) or the writer sees the reader's count (and
 * waits for it to drop).  The reader's fast path is thus one atomic add
 * and one load on lines nobody else writes; the price is on the writer,
 * which reads every stripe (for mmap_lock: mmap, munmap, mprotect,
 * mremap, fork; for tree_lock: inserting and deleting cache pages).
 * Writers exclude each other with a mutex; a waiting writer keeps new
 * readers out, so readers cannot starve it.  Not recursive; a reader must
 * not take it for write.  Each lock takes 1 KiB for its stripes.
 *
 * Sleeping is on futexes: readers on `wait_seq` while the flag is up, the
 * writer on `writer_seq` while readers drain; each is bumped before its
 * wake.  Readers count themselves in `readers_waiting` before they look
 * at the flag for the last time, so a writer's unlock makes the wake-up
 * system call only when a reader may be asleep.  ThreadSanitizer is told
 * it is a reader-writer mutex (__tsan_mutex_* annotations).  The order
 * checker sees it through the callers' wrappers (mm.h, object.h).
 */
#ifndef UMM_PERCPU_RWSEM_H
#define UMM_PERCPU_RWSEM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include "compiler.h"
#include "fmutex.h"
#include "percpu.h"

#define PERCPU_RWSEM_STRIPES NR_SLOT_STRIPES   /* indexed by the thread slot (percpu.h) */

struct percpu_rwsem_stripe {
	_Alignas(64) _Atomic long readers;
};

struct percpu_rwsem {
	_Alignas(64) _Atomic int writer;         /* a writer holds it or waits for readers */
	_Atomic uint32_t wait_seq;               /* readers sleep here while `writer` */
	_Atomic uint32_t writer_seq;             /* the writer sleeps here while readers drain */
	_Atomic int readers_waiting;             /* readers asleep (or about to be) on wait_seq */
	pthread_mutex_t writer_mutex;            /* writers, one at a time */
	struct percpu_rwsem_stripe stripe[PERCPU_RWSEM_STRIPES];
};

void percpu_init_rwsem(struct percpu_rwsem *sem);
void percpu_free_rwsem(struct percpu_rwsem *sem);
/* percpu_down_read_slow - the reader found the writer flag up (percpu_rwsem.c). */
void percpu_down_read_slow(struct percpu_rwsem *sem, unsigned int slot);
/* percpu_rwsem_wake_writer - a reader left while a writer waits (percpu_rwsem.c). */
void percpu_rwsem_wake_writer(struct percpu_rwsem *sem);
void percpu_down_write(struct percpu_rwsem *sem);
void percpu_up_write(struct percpu_rwsem *sem);

/* percpu_down_read - shared hold, taken through the stripe of `slot`. */
static inline void percpu_down_read(struct percpu_rwsem *sem, unsigned int slot)
{
	struct percpu_rwsem_stripe *st = &sem->stripe[slot & (PERCPU_RWSEM_STRIPES - 1)];

	fm_tsan(__tsan_mutex_pre_lock(sem, __tsan_mutex_read_lock));
	atomic_fetch_add_explicit(&st->readers, 1, memory_order_seq_cst);
	if (unlikely(atomic_load_explicit(&sem->writer, memory_order_seq_cst)))
		percpu_down_read_slow(sem, slot);
	fm_tsan(__tsan_mutex_post_lock(sem, __tsan_mutex_read_lock, 0));
}

/*
 * percpu_down_read_trylock - a shared hold if no writer holds or waits for
 * the lock; never sleeps.  Returns true with the hold taken.
 */
static inline bool percpu_down_read_trylock(struct percpu_rwsem *sem, unsigned int slot)
{
	struct percpu_rwsem_stripe *st = &sem->stripe[slot & (PERCPU_RWSEM_STRIPES - 1)];

	fm_tsan(__tsan_mutex_pre_lock(sem, __tsan_mutex_read_lock | __tsan_mutex_try_lock));
	atomic_fetch_add_explicit(&st->readers, 1, memory_order_seq_cst);
	if (unlikely(atomic_load_explicit(&sem->writer, memory_order_seq_cst))) {
		atomic_fetch_sub_explicit(&st->readers, 1, memory_order_seq_cst);
		percpu_rwsem_wake_writer(sem);
		fm_tsan(__tsan_mutex_post_lock(sem, __tsan_mutex_read_lock | __tsan_mutex_try_lock |
					       __tsan_mutex_try_lock_failed, 0));
		return false;
	}
	fm_tsan(__tsan_mutex_post_lock(sem, __tsan_mutex_read_lock | __tsan_mutex_try_lock, 0));
	return true;
}

/* percpu_up_read - drop a shared hold taken with the same slot. */
static inline void percpu_up_read(struct percpu_rwsem *sem, unsigned int slot)
{
	struct percpu_rwsem_stripe *st = &sem->stripe[slot & (PERCPU_RWSEM_STRIPES - 1)];

	fm_tsan(__tsan_mutex_pre_unlock(sem, __tsan_mutex_read_lock));
	atomic_fetch_sub_explicit(&st->readers, 1, memory_order_seq_cst);
	if (unlikely(atomic_load_explicit(&sem->writer, memory_order_seq_cst)))
		percpu_rwsem_wake_writer(sem);
	fm_tsan(__tsan_mutex_post_unlock(sem, __tsan_mutex_read_lock));
}

#endif /* UMM_PERCPU_RWSEM_H */
