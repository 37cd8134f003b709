/*
 * mmap_lock.c - the slow paths of the striped reader-writer lock (see
 * mmap_lock.h for the protocol).
 *
 * Locks: writer_mutex (writers only, taken first); the futex words are
 * not locks.  The lock order of mmap_lock itself is in lockdep.h.
 */
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "mmap_lock.h"

static void futex_wait(_Atomic uint32_t *word, uint32_t val)
{
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/**
 * mmap_rwsem_init - an unlocked lock.
 */
void mmap_rwsem_init(struct mmap_rwsem *sem)
{
	atomic_store(&sem->writer, 0);
	atomic_store(&sem->wait_seq, 0);
	atomic_store(&sem->writer_seq, 0);
	atomic_store(&sem->readers_waiting, 0);
	pthread_mutex_init(&sem->writer_mutex, NULL);
	for (int i = 0; i < MMAP_LOCK_STRIPES; i++)
		atomic_store(&sem->stripe[i].readers, 0);
	fm_tsan(__tsan_mutex_create(sem, __tsan_mutex_not_static));
}

/**
 * mmap_rwsem_destroy - the lock is free and its memory about to go.
 */
void mmap_rwsem_destroy(struct mmap_rwsem *sem)
{
	VM_BUG_ON(atomic_load(&sem->writer));
	fm_tsan(__tsan_mutex_destroy(sem, 0));
	pthread_mutex_destroy(&sem->writer_mutex);
}

/**
 * mmap_rwsem_wake_writer - a reader dropped its count while the writer
 * flag was up: the writer may be asleep waiting for the counts to drain.
 */
void mmap_rwsem_wake_writer(struct mmap_rwsem *sem)
{
	atomic_fetch_add_explicit(&sem->writer_seq, 1, memory_order_seq_cst);
	futex_wake_all(&sem->writer_seq);
}

/**
 * mmap_rwsem_read_lock_slow - the reader's count is up but so is the
 * writer flag: take the count back (waking the writer), sleep until the
 * flag drops, and try again.  Returns with the shared hold taken.
 */
void mmap_rwsem_read_lock_slow(struct mmap_rwsem *sem, unsigned int slot)
{
	struct mmap_lock_stripe *st = &sem->stripe[slot & (MMAP_LOCK_STRIPES - 1)];

	do {
		uint32_t seq;

		atomic_fetch_sub_explicit(&st->readers, 1, memory_order_seq_cst);
		mmap_rwsem_wake_writer(sem);
		atomic_fetch_add_explicit(&sem->readers_waiting, 1, memory_order_seq_cst);
		for (;;) {
			seq = atomic_load_explicit(&sem->wait_seq, memory_order_seq_cst);
			if (!atomic_load_explicit(&sem->writer, memory_order_seq_cst))
				break;
			futex_wait(&sem->wait_seq, seq);
		}
		atomic_fetch_sub_explicit(&sem->readers_waiting, 1, memory_order_seq_cst);
		atomic_fetch_add_explicit(&st->readers, 1, memory_order_seq_cst);
	} while (atomic_load_explicit(&sem->writer, memory_order_seq_cst));
}

static long readers_total(struct mmap_rwsem *sem)
{
	long n = 0;

	for (int i = 0; i < MMAP_LOCK_STRIPES; i++)
		n += atomic_load_explicit(&sem->stripe[i].readers, memory_order_seq_cst);
	return n;
}

/**
 * mmap_rwsem_write_lock - exclusive hold: take writer_mutex, raise the
 * flag and wait (asleep) until no reader holds the lock.
 */
void mmap_rwsem_write_lock(struct mmap_rwsem *sem)
{
	fm_tsan(__tsan_mutex_pre_lock(sem, 0));
	pthread_mutex_lock(&sem->writer_mutex);
	atomic_store_explicit(&sem->writer, 1, memory_order_seq_cst);
	for (;;) {
		uint32_t seq = atomic_load_explicit(&sem->writer_seq, memory_order_seq_cst);

		if (readers_total(sem) == 0)
			break;
		futex_wait(&sem->writer_seq, seq);
	}
	fm_tsan(__tsan_mutex_post_lock(sem, 0, 0));
}

/**
 * mmap_rwsem_write_unlock - drop the exclusive hold and wake the readers
 * that wait for it.
 */
void mmap_rwsem_write_unlock(struct mmap_rwsem *sem)
{
	fm_tsan(__tsan_mutex_pre_unlock(sem, 0));
	atomic_store_explicit(&sem->writer, 0, memory_order_seq_cst);
	atomic_fetch_add_explicit(&sem->wait_seq, 1, memory_order_seq_cst);
	/* a reader counted after this load sees writer == 0 and does not sleep */
	if (atomic_load_explicit(&sem->readers_waiting, memory_order_seq_cst))
		futex_wake_all(&sem->wait_seq);
	pthread_mutex_unlock(&sem->writer_mutex);
	fm_tsan(__tsan_mutex_post_unlock(sem, 0));
}
