/* SPDX-License-Identifier: MIT */
/*
 * populate_ahead.c - bringing arena memory in from the host before the
 * allocator hands it out, on another thread.
 *
 * Theory of operation
 *
 * The first use of an arena frame costs a host page: 2-3.5 us on a small
 * virtual machine (shmem allocation and zeroing behind the memfd), about
 * ten times what usermm's own fault costs.  arena.c already brings memory in
 * a 2 MiB chunk at a time when the allocator first hands a frame of it
 * out, but the faulting thread still pays for the chunk.  This thread,
 * started with the system (in the spirit of kswapd, which works for the
 * allocator on its own CPU), keeps the next `window` frames the allocator
 * will hand out present, so that a fault on a fresh system finds its
 * frame's host memory already there.  The work is not saved, it is moved:
 * the host time is spent on this thread's CPU (counted in ahead_cpu_ns).
 * When the faulting thread outruns it (a tight loop of first touches
 * faults ten times faster than the host populates), the faulting thread
 * populates the chunks it needs itself (arena_prepare()); when it needs
 * the chunk this thread is on, the two split the chunk's pieces (arena.c),
 * and when this thread reaches a chunk a fault is populating it joins in
 * the same way, so both CPUs work on what is needed first.
 *
 * Where the allocator goes next: page_alloc.c keeps the max-order blocks
 * never handed out "lazy" (frames [0, lazy_end)) and lists the highest of
 * them when its lists run dry; the frames after the last whole block are
 * listed at creation and handed out first.  So the window is, in order:
 * the chunks of that tail, the chunks of the block at lazy_end (the one
 * listed last, usually being split now), then the blocks below it, highest first,
 * each block's chunks lowest first (a split hands out a block's low half
 * first).  Frames freed and reused later are present already, unless
 * page_reporting.c punched them (those go to the tail of their list, and
 * arena_prepare() brings them back on demand); the thread does not chase
 * them (the allocator prefers present blocks to punched ones anyway).
 * It never looks past frame 0 or past the arena's end, and it never
 * touches a chunk being punched; the lazy blocks are on no free list, so
 * page_reporting.c, which only punches listed blocks, cannot take back
 * what this thread brought in before it is used.
 *
 * When it runs: each time the allocator lists a lazy block (page_alloc.c
 * sets ahead_kick under the zone lock; alloc_pages() sees it after
 * dropping its locks and calls populate_ahead_kick()), the first pass
 * filling the whole window.  The thread itself is wanted when the system
 * is created (kthread.c: created at once, unless the creator defers it,
 * as the LD_PRELOAD interposer does for a young single-threaded program;
 * then at a later kick or safe point).  A system that stops allocating
 * costs it nothing.  It stops between two chunks when asked.
 *
 * Locks: ahead->lock (leaf: the stop, kicked and running flags and the
 * wakeups), taken with no allocator lock held.  The pass takes the zone
 * lock alone (phys_lazy_end()) and populate_lock alone (arena.c).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "page_alloc.h"
#include "kthread.h"

#define BLOCK_FRAMES (1UL << (MAX_ORDER - 1))
#define CHUNKS_PER_BLOCK (BLOCK_FRAMES / ARENA_CHUNK_FRAMES)

struct populate_ahead {
	struct phys_mem *phys;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;            /* the thread waits for a kick or stop */
	pthread_cond_t idle;            /* populate_ahead_wait_idle() waits for the pass */
	bool stop;                      /* [lock] */
	bool kicked;                    /* [lock] a pass is wanted */
	bool running;                   /* [lock] a pass is under way */
	unsigned long window;           /* chunks */
	pid_t pid;                      /* process the thread runs in */
	struct kthread_lazy kt;         /* the thread (created lazily, kthread.c; asked for at start) */
};

/*
 * struct window_walk - the chunks the allocator will hand out next, in
 * that order (see the theory above).
 */
struct window_walk {
	unsigned long tail_next, tail_end;      /* chunks of the listed tail */
	unsigned long block;                    /* current block (index), or ULONG_MAX: done */
	unsigned long in_block;                 /* next chunk of it */
	unsigned long left;                     /* chunks of the window still to give */
};

static void window_begin(struct phys_mem *phys, struct window_walk *w, unsigned long window)
{
	unsigned long full_end = phys->nr_frames & ~(BLOCK_FRAMES - 1);
	unsigned long lazy = phys_lazy_end(phys);

	w->tail_next = full_end >> ARENA_CHUNK_ORDER;
	w->tail_end = phys->nr_chunks;
	/* the block listed last is being handed out now; with none listed, the next lazy one */
	if (lazy < full_end)
		w->block = lazy / BLOCK_FRAMES;
	else
		w->block = lazy ? lazy / BLOCK_FRAMES - 1 : ULONG_MAX;
	w->in_block = 0;
	w->left = window;
}

/* window_next - the next chunk of the window, or false at its (or the arena's) end. */
static bool window_next(struct window_walk *w, unsigned long *chunk)
{
	if (!w->left)
		return false;
	if (w->tail_next < w->tail_end) {
		*chunk = w->tail_next++;
	} else {
		if (w->block == ULONG_MAX)
			return false;
		*chunk = w->block * CHUNKS_PER_BLOCK + w->in_block;
		if (++w->in_block == CHUNKS_PER_BLOCK) {
			w->in_block = 0;
			w->block = w->block ? w->block - 1 : ULONG_MAX;
		}
	}
	w->left--;
	return true;
}

static bool ahead_stopping(struct populate_ahead *a)
{
	bool stop;

	pthread_mutex_lock(&a->lock);
	stop = a->stop;
	pthread_mutex_unlock(&a->lock);
	return stop;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ahead_pass - populate every absent, idle chunk of the window, nearest first. */
static void ahead_pass(struct populate_ahead *a)
{
	struct phys_mem *phys = a->phys;
	struct window_walk w;
	unsigned long c;

	window_begin(phys, &w, a->window);
	while (window_next(&w, &c)) {
		if (arena_chunk_present(phys, c))
			continue;
		if (ahead_stopping(a))
			return;
		/* -EBUSY: someone else has it; a host error: arena_prepare() retries on use */
		(void)arena_populate_ahead_chunk(phys, c);
	}
}

static void *ahead_thread(void *arg)
{
	struct populate_ahead *a = arg;
	uint64_t t0;

	pthread_mutex_lock(&a->lock);
	while (!a->stop) {
		if (!a->kicked) {
			pthread_cond_wait(&a->wake, &a->lock);
			continue;
		}
		a->kicked = false;
		a->running = true;
		pthread_mutex_unlock(&a->lock);
		t0 = thread_cpu_ns();
		ahead_pass(a);
		atomic_fetch_add_explicit(&a->phys->ahead_cpu_ns, thread_cpu_ns() - t0,
					  memory_order_relaxed);
		pthread_mutex_lock(&a->lock);
		a->running = false;
		pthread_cond_broadcast(&a->idle);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

/**
 * populate_ahead_kick - ask the populate-ahead thread for a pass.
 * @phys: the arena
 *
 * Called by alloc_pages() when it finds ahead_kick set; clears it.  The
 * first kick creates the thread (kthread_want).  Takes ahead->lock,
 * maybe kthread_lock (no allocator lock held).  No-op without a
 * populate-ahead state.
 */
void populate_ahead_kick(struct phys_mem *phys)
{
	struct populate_ahead *a = __atomic_load_n(&phys->ahead, __ATOMIC_ACQUIRE);

	if (!atomic_exchange_explicit(&phys->ahead_kick, 0, memory_order_relaxed) || !a)
		return;
	if (a->pid != getpid())
		return;                 /* the child of a host fork(): no thread to wake */
	kthread_want(&a->kt);
	pthread_mutex_lock(&a->lock);
	a->kicked = true;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
}

/**
 * populate_ahead_wait_idle - wait until the thread has no pass to run.
 * @phys: the arena (no-op without a thread)
 *
 * Takes ahead->lock.  For tests and benchmarks that want the window full:
 * a thread not started yet is started (kthread_want; no-op if it cannot
 * be, or in a signal handler).
 */
void populate_ahead_wait_idle(struct phys_mem *phys)
{
	struct populate_ahead *a = __atomic_load_n(&phys->ahead, __ATOMIC_ACQUIRE);

	if (!a || a->pid != getpid() || !kthread_want(&a->kt))
		return;
	pthread_mutex_lock(&a->lock);
	while ((a->kicked || a->running) && !a->stop)
		pthread_cond_wait(&a->idle, &a->lock);
	pthread_mutex_unlock(&a->lock);
}

/* ahead_start - kthread_lazy's start: create the thread.  kthread_lock held.  0 or -errno. */
static int ahead_start(struct kthread_lazy *kt)
{
	struct populate_ahead *a = container_of(kt, struct populate_ahead, kt);

	return -pthread_create(&a->thread, NULL, ahead_thread, a);
}

/**
 * populate_ahead_start - start keeping `window_frames` frames ahead present.
 * @phys: the arena (without a populate-ahead thread)
 * @window_frames: frames ahead of the allocator (rounded up to whole 2 MiB
 *                 chunks; more than the arena means all of it); not 0
 *
 * The thread is wanted at once (kthread_want: created now, unless
 * deferred, then at a later kick or safe point), and its first pass
 * fills the window.  Takes kthread_lock.
 * Return: 0, -EINVAL for a window of 0, -EBUSY if already started,
 * -ENOMEM.
 */
int populate_ahead_start(struct phys_mem *phys, unsigned long window_frames)
{
	struct populate_ahead *a;

	if (!window_frames)
		return -EINVAL;
	if (phys->ahead)
		return -EBUSY;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->phys = phys;
	a->pid = getpid();
	a->window = MIN((window_frames + ARENA_CHUNK_FRAMES - 1) / ARENA_CHUNK_FRAMES, phys->nr_chunks);
	a->kicked = true;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->wake, NULL);
	pthread_cond_init(&a->idle, NULL);
	kthread_init(&a->kt, "populate-ahead", ahead_start);
	__atomic_store_n(&phys->ahead, a, __ATOMIC_RELEASE);
	kthread_want(&a->kt);           /* the window of a new system (deferred where kthread.c says) */
	return 0;
}

/**
 * populate_ahead_stop - stop and join the populate-ahead thread.
 * @phys: the arena (no-op without a thread)
 *
 * Waits for the chunk being populated to finish (the thread checks for
 * the stop between chunks).  No other thread may allocate from the arena
 * meanwhile.  In the child of a host fork(), which has no copy of the
 * thread, it only frees the state.
 */
void populate_ahead_stop(struct phys_mem *phys)
{
	struct populate_ahead *a = phys->ahead;

	if (!a)
		return;
	__atomic_store_n(&phys->ahead, NULL, __ATOMIC_RELEASE);
	kthread_forget(&a->kt);         /* nobody creates it after this */
	if (a->pid != getpid()) {
		free(a);
		return;
	}
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_signal(&a->wake);
	pthread_cond_broadcast(&a->idle);
	pthread_mutex_unlock(&a->lock);
	if (kthread_running(&a->kt))
		pthread_join(a->thread, NULL);
	pthread_cond_destroy(&a->idle);
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->lock);
	free(a);
}
