/* SPDX-License-Identifier: MIT */
/*
 * khugepaged.c - collapsing the anonymous arena's small host pages into
 * huge ones, in the background.
 *
 * Theory of operation
 *
 * An anonymous arena brings its chunks in as 2 MiB host huge pages,
 * except while the host's huge pages are cold: then a chunk comes in as
 * 512 pages of 4 KiB, which is cheaper for the fault that waits for it
 * (arena.c, "Cold huge pages").  Such a chunk costs every access after
 * that: each 4 KiB of frames is a host-TLB entry of its own, and on a
 * virtual machine each miss is a two-dimensional page walk.  A random
 * touch of page-cache frames spread over 1 GiB measured about a third
 * slower (docs/BENCHMARKS.md, bench_fremap).
 *
 * So, as the kernel's khugepaged does for its own processes, a thread
 * collapses those chunks later, one at a time, each into one 2 MiB host
 * page (arena_collapse_chunk(): MADV_COLLAPSE, which copies the chunk's
 * 4 KiB pages into a new huge page while the range is unmapped, so the
 * frames keep their contents and may be in use meanwhile).  A collapse is
 * dearer than bringing the chunk in huge would have been (4.5-5 ms a
 * chunk measured on this guest with cold huge pages, against 2-5 ms for
 * the cold huge page alone and 0.6-0.9 ms for small pages), and it holds
 * the host's mmap lock for writing while it copies, which stalls the
 * process's host page faults and MADV_POPULATE_WRITE calls.  So it waits
 * for quiet: it collapses only once no chunk has come in from the host
 * for `quiet` (umm_config.collapse_ms, default 200 ms), and stops as soon
 * as one does.  A program that is still growing keeps its small pages
 * until it stops.  A fault can still meet one collapse, the one under
 * way when it needs a new chunk brought in (MADV_POPULATE_WRITE waits for
 * the host's mmap lock) or touches the chunk being copied: a few ms.
 *
 * The thread is created the first time a chunk comes in small (arena.c
 * wants it then; kthread.c), not with the system: an arena whose huge
 * pages are never cold never needs it.  It wakes every quiet/2 (at least
 * every 10 ms, at most every second).  A pass that finds chunks to
 * collapse but collapses none (the host short of huge pages, or pages
 * pinned by I/O in flight) doubles the wait before the next pass, up to
 * 10 s; a pass that collapses one resets it.  A host that does not know
 * MADV_COLLAPSE (Linux before 6.1) answers EINVAL once and the thread
 * does nothing after that.
 *
 * Counters (phys_stats, umm_sys_stats): small_now (chunks present as
 * 4 KiB pages now), collapsed, collapse_failed, collapse_ns.
 * khugepaged_run() does one pass synchronously, without waiting for quiet
 * (tests, and callers that want it now).
 *
 * Locks: the thread's lock (kthread_periodic, kthread.c: a leaf, the stop
 * flag and the wake-up), taken with no allocator lock held; a pass takes populate_lock inside
 * arena_collapse_chunk(), not across the host call.
 */
#include <errno.h>
#include <stdlib.h>

#include "page_alloc.h"
#include "kthread.h"

#define KHUGEPAGED_MIN_PERIOD_NS 10000000ull      /* 10 ms */
#define KHUGEPAGED_MAX_PERIOD_NS 1000000000ull    /* 1 s */
#define KHUGEPAGED_MAX_BACKOFF_NS 10000000000ull  /* 10 s */

struct khugepaged {
	struct phys_mem *phys;
	uint64_t quiet_ns;
	uint64_t period_ns;             /* between passes: quiet/2, within [10 ms, 1 s] */
	uint64_t backoff_ns;            /* [the thread] added after passes that collapsed nothing */
	struct kthread_periodic thread; /* created when a chunk first comes in small */
};

/*
 * collapse_pass - collapse the small chunks, lowest first, while the
 * arena stays quiet for quiet_ns (0: do not wait for quiet) and k (if
 * any) is not stopping.  *tried counts the chunks a collapse was asked
 * for.  Return: chunks collapsed.
 */
static unsigned long collapse_pass(struct phys_mem *phys, uint64_t quiet_ns, struct khugepaged *k,
				   unsigned long *tried)
{
	unsigned long c, done = 0;

	*tried = 0;
	for (c = arena_next_small(phys, 0); c < phys->nr_chunks; c = arena_next_small(phys, c + 1)) {
		uint64_t last = atomic_load_explicit(&phys->last_populate_ns, memory_order_relaxed);
		int ret;

		if (__atomic_load_n(&phys->no_collapse, __ATOMIC_RELAXED))
			break;
		if (quiet_ns && arena_mono_ns() - last < quiet_ns)
			break;          /* the arena is growing: leave the host's mmap lock alone */
		if (k && kthread_periodic_stopping(&k->thread))
			break;
		(*tried)++;
		ret = arena_collapse_chunk(phys, c);
		if (ret > 0)
			done++;
		else if (ret == -EINVAL || ret == -ENOMEM)
			break;          /* no collapse at all, or no huge page now */
	}
	return done;
}

/**
 * khugepaged_run - one pass now: collapse every chunk of the arena that is
 * present as 4 KiB host pages, without waiting for the arena to be quiet.
 * @phys: the arena
 *
 * Takes populate_lock per chunk, not across the host calls.
 * Return: chunks collapsed.
 */
unsigned long khugepaged_run(struct phys_mem *phys)
{
	unsigned long tried;

	return collapse_pass(phys, 0, NULL, &tried);
}

/* khugepaged_work - the thread's pass (kthread_periodic); the wait before the next one. */
static uint64_t khugepaged_work(struct kthread_periodic *p)
{
	struct khugepaged *k = container_of(p, struct khugepaged, thread);
	unsigned long tried, done = collapse_pass(k->phys, k->quiet_ns, k, &tried);

	if (tried && !done)
		k->backoff_ns = MIN(MAX(2 * k->backoff_ns, 100000000ull), KHUGEPAGED_MAX_BACKOFF_NS);
	else if (done)
		k->backoff_ns = 0;
	return k->period_ns + k->backoff_ns;
}

/**
 * khugepaged_start - set up the arena's collapse thread.
 * @phys: an anonymous arena without one
 * @quiet_ms: how long no chunk may have come in from the host before a
 *            chunk is collapsed
 *
 * The thread is created when a chunk first comes in as 4 KiB host pages
 * (arena.c wants it; at once if one already has).  Takes kthread_lock.
 * Return: 0, -EBUSY if already set up, -ENOMEM.
 */
int khugepaged_start(struct phys_mem *phys, unsigned long quiet_ms)
{
	struct khugepaged *k;

	if (phys->khugepaged)
		return -EBUSY;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->phys = phys;
	k->quiet_ns = (uint64_t)MIN(quiet_ms, 1000000000000ul) * 1000000ull;
	k->period_ns = MIN(MAX(k->quiet_ns / 2, KHUGEPAGED_MIN_PERIOD_NS), KHUGEPAGED_MAX_PERIOD_NS);
	kthread_periodic_init(&k->thread, "khugepaged", k->period_ns, khugepaged_work);
	phys->khugepaged = k;
	atomic_store_explicit(&phys->collapse_kt, &k->thread.kt, memory_order_release);
	if (atomic_load_explicit(&phys->nr_small, memory_order_relaxed))
		kthread_want(&k->thread.kt);
	return 0;
}

/**
 * khugepaged_stop - stop and join the arena's collapse thread.
 * @phys: the arena (no-op if it has none)
 *
 * Waits for a collapse in progress to finish.  Not concurrent with
 * khugepaged_start() on the same arena, nor with population of it.  In
 * the child of a host fork(), which has no copy of the thread, it only
 * frees the state.
 */
void khugepaged_stop(struct phys_mem *phys)
{
	struct khugepaged *k = phys->khugepaged;

	if (!k)
		return;
	atomic_store_explicit(&phys->collapse_kt, NULL, memory_order_release);
	phys->khugepaged = NULL;
	kthread_periodic_stop(&k->thread);
	free(k);
}
