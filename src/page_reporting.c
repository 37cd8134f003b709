/* SPDX-License-Identifier: MIT */
/*
 * page_reporting.c - giving long-free memory back to the host.
 *
 * Theory of operation
 *
 * usermm's physical memory is a memfd or anonymous memory (arena.c); a
 * frame the host has backed once stays backed until its range is punched
 * out (FALLOC_FL_PUNCH_HOLE on the memfd, MADV_DONTNEED on anonymous
 * memory).  So a system sized
 * for its peak would keep its peak resident forever.  This file returns
 * free memory, in the spirit of the kernel's free page reporting: it
 * looks only at free blocks of the largest buddy order (MAX_ORDER-1,
 * 4 MiB), which are by construction wholly free and cannot be handed out
 * in part without leaving that order.
 *
 * The buddy allocator stamps a block with the time it became free whole
 * (free_since, stamped in free_one_locked() when a free or a merge
 * produces a block of that order; CLOCK_MONOTONIC_COARSE).  A block that
 * has stayed free for `delay` and whose frames are present in the host is
 * isolated from the free lists (isolate_idle_block(): PG_buddy cleared so
 * nothing merges with it or allocates from it, frames still counted free
 * and in nr_isolated), punched out of the arena with the zone lock
 * dropped (arena_punch(): the host frees the pages, the range reads back
 * as zeros, its chunks are marked absent so the next allocation there
 * populates them again), and put back at the tail of its free list, so
 * the allocator prefers blocks that are still present.  A frame in use is
 * never punched: only a block that is wholly in the buddy lists can be
 * isolated, and while it is isolated no allocation can reach it.
 * Isolation is refused when it would leave fewer than wmark[HIGH] plus
 * one block in the lists, so an allocation that passes the watermark
 * still finds frames.
 *
 * Where it runs: one thread per arena, set up by page_reporting_start()
 * (umm_system_create() does, unless the configuration says never), which
 * wants it at once (kthread.c: created then, unless the creator defers
 * it, as the LD_PRELOAD interposer does for a young single-threaded
 * program; then at a later safe point).  It
 * wakes every delay/2 (at least every millisecond, at most every second)
 * and releases every block that qualifies, one block per zone-lock hold.
 * Each pass first drains the per-thread caches that were not used since
 * the previous pass (drain_idle_pages()): an idle thread's cached frames
 * are scattered over many blocks and would keep every one of them from
 * becoming wholly free.
 * A free-path check would need a later free to notice that a block has
 * become old, and a large munmap followed by silence would keep its
 * memory; the thread needs none.  page_reporting_run() does one pass
 * synchronously (tests, and callers that want memory back now).
 *
 * Locks: the thread's lock (kthread_periodic, kthread.c: a leaf, the stop
 * flag and the wake-up), taken with no allocator lock held; the pass itself takes the zone lock inside
 * isolate_idle_block()/putback_isolated_block() and nothing while it
 * punches.
 */
#include <errno.h>
#include <stdlib.h>

#include "page_alloc.h"
#include "kthread.h"

struct page_reporting {
	struct phys_mem *phys;
	uint64_t delay_ns;
	uint64_t period_ns;             /* between passes: delay/2, within [1 ms, 1 s] */
	struct kthread_periodic thread; /* created at once, unless deferred */
};

static size_t reporting_pass(struct phys_mem *phys, uint64_t min_age_ns, struct page_reporting *r)
{
	uint64_t now = arena_clock_ns();
	uint64_t before = now > min_age_ns ? now - min_age_ns : 0;
	size_t released = 0;
	long pfn;

	if (min_age_ns > now)
		return 0;
	while ((pfn = isolate_idle_block(phys, before)) >= 0) {
		size_t n = arena_punch(phys, (unsigned long)pfn, 1UL << (MAX_ORDER - 1));

		putback_isolated_block(phys, (unsigned long)pfn);
		/* a failed punch leaves the block present: it would be chosen again */
		if (!n || (r && kthread_periodic_stopping(&r->thread)))
			break;
		released += n;
	}
	return released;
}

/**
 * page_reporting_run - release, now, every free max-order block that has
 * been free for at least min_age_ns.
 * @phys: the arena
 * @min_age_ns: minimum time free (0: every free present block)
 *
 * Takes the zone lock twice per block (to isolate it, to put it back);
 * punches with no lock held.
 * Return: bytes given back to the host.
 */
size_t page_reporting_run(struct phys_mem *phys, uint64_t min_age_ns)
{
	return reporting_pass(phys, min_age_ns, NULL);
}

/* reporting_work - the thread's pass (kthread_periodic): drain idle caches, release old blocks. */
static uint64_t reporting_work(struct kthread_periodic *p)
{
	struct page_reporting *r = container_of(p, struct page_reporting, thread);

	drain_idle_pages(r->phys);
	reporting_pass(r->phys, r->delay_ns, r);
	return r->period_ns;
}

/**
 * page_reporting_start - start giving blocks free for delay_ms back.
 * @phys: the arena (not yet reporting)
 * @delay_ms: how long a max-order block must stay free (0: a pass every
 *            millisecond releases every free block)
 *
 * The thread is wanted at once (kthread_want: created now unless
 * deferred).  Takes kthread_lock.
 * Return: 0, -EBUSY if already started, -ENOMEM.
 */
int page_reporting_start(struct phys_mem *phys, unsigned long delay_ms)
{
	struct page_reporting *r;

	if (phys->reporting)
		return -EBUSY;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->phys = phys;
	/* past ~31 years the product would overflow; no block waits that long anyway */
	r->delay_ns = (uint64_t)MIN(delay_ms, 1000000000000ul) * 1000000ull;
	r->period_ns = MIN(MAX(r->delay_ns / 2, 1000000ull), 1000000000ull);
	kthread_periodic_init(&r->thread, "page-reporting", r->period_ns, reporting_work);
	__atomic_store_n(&phys->reporting, r, __ATOMIC_RELEASE);
	kthread_want(&r->thread.kt);
	return 0;
}

/**
 * page_reporting_stop - stop and join the arena's reporting thread.
 * @phys: the arena (no-op if it has no reporting thread)
 *
 * Waits for a punch in progress to finish.  Not concurrent with
 * page_reporting_start() on the same arena.  In the child of a host
 * fork(), which has no copy of the thread, it only frees the state.
 */
void page_reporting_stop(struct phys_mem *phys)
{
	struct page_reporting *r = phys->reporting;

	if (!r)
		return;
	phys->reporting = NULL;
	kthread_periodic_stop(&r->thread);
	free(r);
}
