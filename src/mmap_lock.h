/*
 * mmap_lock.h - the address space's reader-writer lock (mm->mmap_lock),
 * with reader counts striped per thread slot.
 *
 * Every fault and every soft-TLB miss takes mmap_lock for read; with one
 * shared reader count (pthread_rwlock_t) two threads faulting in one mm
 * bounce its cache line twice per fault.  Here a reader adds 1 to the
 * count of its own stripe (its thread slot's, the one the mm's counters
 * use, on a cache line of its own) and then checks the writer flag; a
 * writer raises the flag and waits until every stripe's count is 0.  Both
 * sides use sequentially consistent atomics, so either the reader sees
 * the flag (and backs off: drops its count, wakes the writer, sleeps
 * until the writer is done, tries again) or the writer sees the reader's
 * count (and waits for it to drop).  The reader's fast path is thus one
 * atomic add and one load on lines nobody else writes; the price is on
 * the writer, which reads every stripe (mmap, munmap, mprotect, mremap,
 * fork).  Writers exclude each other with a mutex; a waiting writer keeps
 * new readers out, so readers cannot starve it.  Not recursive; a reader
 * must not take it for write.
 *
 * Sleeping is on futexes: readers on `wait_seq` while the flag is up, the
 * writer on `writer_seq` while readers drain; each is bumped before its
 * wake.  Readers count themselves in `readers_waiting` before they look
 * at the flag for the last time, so a writer's unlock makes the wake-up
 * system call only when a reader may be asleep.  ThreadSanitizer is told it is a reader-writer mutex
 * (__tsan_mutex_* annotations).  The order checker sees it through the
 * wrappers in mm.h (class LOCK_MMAP).
 */
#ifndef UMM_MMAP_LOCK_H
#define UMM_MMAP_LOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include "compiler.h"
#include "fmutex.h"
#include "percpu.h"

#define MMAP_LOCK_STRIPES NR_SLOT_STRIPES   /* indexed by the thread slot (percpu.h) */

struct mmap_lock_stripe {
	_Alignas(64) _Atomic long readers;
};

struct mmap_rwsem {
	_Alignas(64) _Atomic int writer;         /* a writer holds it or waits for readers */
	_Atomic uint32_t wait_seq;               /* readers sleep here while `writer` */
	_Atomic uint32_t writer_seq;             /* the writer sleeps here while readers drain */
	_Atomic int readers_waiting;             /* readers asleep (or about to be) on wait_seq */
	pthread_mutex_t writer_mutex;            /* writers, one at a time */
	struct mmap_lock_stripe stripe[MMAP_LOCK_STRIPES];
};

void mmap_rwsem_init(struct mmap_rwsem *sem);
void mmap_rwsem_destroy(struct mmap_rwsem *sem);
/* mmap_rwsem_read_lock_slow - the reader found the writer flag up (mmap_lock.c). */
void mmap_rwsem_read_lock_slow(struct mmap_rwsem *sem, unsigned int slot);
/* mmap_rwsem_wake_writer - a reader left while a writer waits (mmap_lock.c). */
void mmap_rwsem_wake_writer(struct mmap_rwsem *sem);
void mmap_rwsem_write_lock(struct mmap_rwsem *sem);
void mmap_rwsem_write_unlock(struct mmap_rwsem *sem);

/* mmap_rwsem_read_lock - shared hold, taken through the stripe of `slot`. */
static inline void mmap_rwsem_read_lock(struct mmap_rwsem *sem, unsigned int slot)
{
	struct mmap_lock_stripe *st = &sem->stripe[slot & (MMAP_LOCK_STRIPES - 1)];

	fm_tsan(__tsan_mutex_pre_lock(sem, __tsan_mutex_read_lock));
	atomic_fetch_add_explicit(&st->readers, 1, memory_order_seq_cst);
	if (unlikely(atomic_load_explicit(&sem->writer, memory_order_seq_cst)))
		mmap_rwsem_read_lock_slow(sem, slot);
	fm_tsan(__tsan_mutex_post_lock(sem, __tsan_mutex_read_lock, 0));
}

/* mmap_rwsem_read_unlock - drop a shared hold taken with the same slot. */
static inline void mmap_rwsem_read_unlock(struct mmap_rwsem *sem, unsigned int slot)
{
	struct mmap_lock_stripe *st = &sem->stripe[slot & (MMAP_LOCK_STRIPES - 1)];

	fm_tsan(__tsan_mutex_pre_unlock(sem, __tsan_mutex_read_lock));
	atomic_fetch_sub_explicit(&st->readers, 1, memory_order_seq_cst);
	if (unlikely(atomic_load_explicit(&sem->writer, memory_order_seq_cst)))
		mmap_rwsem_wake_writer(sem);
	fm_tsan(__tsan_mutex_post_unlock(sem, __tsan_mutex_read_lock));
}

#endif /* UMM_MMAP_LOCK_H */
