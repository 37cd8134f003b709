/* SPDX-License-Identifier: MIT */
/*
 * page_lock.c - the page lock: PG_locked and the wait table its sleepers
 * park on.
 *
 * Theory of operation
 *
 * lock_page() takes PG_locked with one atomic test-and-set when it is
 * free.  Otherwise the thread sleeps on one of 2^PAGE_WAIT_BITS hashed
 * wait buckets (a mutex, a condition variable and a count of waiters),
 * shared by every page that hashes there, and retests the bit each time
 * it is woken.  unlock_page() clears the bit and broadcasts on the bucket
 * only when the waiter count says someone sleeps there, so an uncontended
 * lock/unlock pair costs two atomics and no mutex.
 *
 * Locks: a bucket's lock is a leaf, taken alone (never with another
 * bucket's, never with an allocator lock).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "page.h"

#define CACHELINE 64


#define PAGE_WAIT_BITS 8

struct page_wait_bucket {
	pthread_mutex_t lock;
	pthread_cond_t wait;
	_Atomic int waiters;
} __attribute__((aligned(CACHELINE)));

static struct page_wait_bucket page_wait_table[1 << PAGE_WAIT_BITS];
static pthread_once_t page_wait_once = PTHREAD_ONCE_INIT;

static void page_wait_init(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(page_wait_table); i++) {
		pthread_mutex_init(&page_wait_table[i].lock, NULL);
		pthread_cond_init(&page_wait_table[i].wait, NULL);
	}
}

static struct page_wait_bucket *page_waitqueue(const struct page *page)
{
	uint64_t key = (uint64_t)(uintptr_t)page * 0x9e3779b97f4a7c15ull;

	pthread_once(&page_wait_once, page_wait_init);
	return &page_wait_table[key >> (64 - PAGE_WAIT_BITS)];
}

/*
 * wait_on_bit - sleep until PG_locked is observed clear (take == false) or
 * until this thread sets it (take == true).  The waiter count is raised
 * before the bit is retested and the unlocker clears the bit before it
 * reads the count (both seq_cst), so a wakeup cannot be lost.
 */
static void wait_on_bit(struct page *page, bool take)
{
	struct page_wait_bucket *b = page_waitqueue(page);

	pthread_mutex_lock(&b->lock);
	atomic_fetch_add(&b->waiters, 1);
	for (;;) {
		if (take ? !TestSetPageLocked(page) : !PageLocked(page))
			break;
		pthread_cond_wait(&b->wait, &b->lock);
	}
	atomic_fetch_sub(&b->waiters, 1);
	pthread_mutex_unlock(&b->lock);
}

/**
 * trylock_page - take PG_locked if it is free.
 * @page: the frame
 *
 * Return: true if this call took the lock.
 */
bool trylock_page(struct page *page)
{
	return !TestSetPageLocked(page);
}

/**
 * lock_page - take PG_locked, sleeping while another thread holds it.
 * @page: the frame
 *
 * May sleep on the page's wait-table bucket (a leaf lock).
 */
void lock_page(struct page *page)
{
	if (likely(!TestSetPageLocked(page)))
		return;
	wait_on_bit(page, true);
}

/**
 * unlock_page - release PG_locked and wake the threads waiting on it.
 * @page: a frame this thread locked
 *
 * Takes the page's wait-table bucket lock only if someone waits there.
 */
void unlock_page(struct page *page)
{
	struct page_wait_bucket *b = page_waitqueue(page);
	bool was = TestClearPageLocked(page);

	VM_BUG_ON(!was);
	(void)was;
	if (atomic_load(&b->waiters)) {
		pthread_mutex_lock(&b->lock);
		pthread_cond_broadcast(&b->wait);
		pthread_mutex_unlock(&b->lock);
	}
}

/**
 * page_lock_waiters - threads asleep in the wait-table bucket of @page.
 * @page: the frame
 *
 * Counts the waiters of every page that hashes to the same bucket (tests
 * use it to know that threads have reached a locked page).  Takes no lock.
 */
int page_lock_waiters(const struct page *page)
{
	return atomic_load(&page_waitqueue(page)->waiters);
}

/**
 * wait_on_page_locked - sleep until PG_locked is clear (does not take it).
 * @page: the frame
 */
void wait_on_page_locked(struct page *page)
{
	if (!PageLocked(page))
		return;
	wait_on_bit(page, false);
}
