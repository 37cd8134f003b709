/* SPDX-License-Identifier: MIT */
/*
 * percpu_rwsem.c - the slow paths of the striped reader-writer lock (see
 * percpu_rwsem.h for the protocol).
 *
 * Locks: writer_mutex (writers only, taken first); the futex words are
 * not locks.  Where the locks built on it stand in the order: lockdep.h.
 */
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "percpu_rwsem.h"

static void futex_wait(_Atomic uint32_t *word, uint32_t val)
{
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/**
 * percpu_init_rwsem - an unlocked lock.
 */
void percpu_init_rwsem(struct percpu_rwsem *sem)
{
	atomic_store(&sem->writer, 0);
	atomic_store(&sem->wait_seq, 0);
	atomic_store(&sem->writer_seq, 0);
	atomic_store(&sem->readers_waiting, 0);
	pthread_mutex_init(&sem->writer_mutex, NULL);
	for (int i = 0; i < PERCPU_RWSEM_STRIPES; i++)
		atomic_store(&sem->stripe[i].readers, 0);
	fm_tsan(__tsan_mutex_create(sem, __tsan_mutex_not_static));
}

/**
 * percpu_free_rwsem - the lock is free and its memory about to go.
 */
void percpu_free_rwsem(struct percpu_rwsem *sem)
{
	VM_BUG_ON(atomic_load(&sem->writer));
	fm_tsan(__tsan_mutex_destroy(sem, 0));
	pthread_mutex_destroy(&sem->writer_mutex);
}

/**
 * percpu_rwsem_wake_writer - a reader dropped its count while the writer
 * flag was up: the writer may be asleep waiting for the counts to drain.
 */
void percpu_rwsem_wake_writer(struct percpu_rwsem *sem)
{
	atomic_fetch_add_explicit(&sem->writer_seq, 1, memory_order_seq_cst);
	futex_wake_all(&sem->writer_seq);
}

/**
 * percpu_down_read_slow - the reader's count is up but so is the
 * writer flag: take the count back (waking the writer), sleep until the
 * flag drops, and try again.  Returns with the shared hold taken.
 */
void percpu_down_read_slow(struct percpu_rwsem *sem, unsigned int slot)
{
	struct percpu_rwsem_stripe *st = &sem->stripe[slot & (PERCPU_RWSEM_STRIPES - 1)];

	do {
		uint32_t seq;

		atomic_fetch_sub_explicit(&st->readers, 1, memory_order_seq_cst);
		percpu_rwsem_wake_writer(sem);
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

static long readers_total(struct percpu_rwsem *sem)
{
	long n = 0;

	for (int i = 0; i < PERCPU_RWSEM_STRIPES; i++)
		n += atomic_load_explicit(&sem->stripe[i].readers, memory_order_seq_cst);
	return n;
}

/**
 * percpu_down_write - exclusive hold: take writer_mutex, raise the
 * flag and wait (asleep) until no reader holds the lock.
 */
void percpu_down_write(struct percpu_rwsem *sem)
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
 * percpu_up_write - drop the exclusive hold and wake the readers
 * that wait for it.
 */
void percpu_up_write(struct percpu_rwsem *sem)
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
