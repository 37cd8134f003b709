/* SPDX-License-Identifier: MIT */
/*
 * arena.c - the host memory behind the frames: the arena (a memfd or
 * anonymous memory), the descriptor region, bringing arena memory in from
 * the host in batches and giving it back.
 *
 * Theory of operation
 *
 * The frames are nr_frames pages at phys->base, of one of two kinds:
 *
 *  - memfd: a memfd mapped MAP_SHARED.  The host MMU
 *    (host_mmu.c) maps frames at other addresses by their offset in it.
 *    Each host page is a shmem page: 4 KiB where shmem transparent huge
 *    pages are off (the usual setting), 2-3.5 us each for the host to
 *    allocate and zero on a small virtual machine.
 *  - anonymous (phys->anon, memfd -1): MAP_PRIVATE | MAP_ANONYMOUS |
 *    MAP_NORESERVE, 2 MiB aligned, with MADV_HUGEPAGE, so on a host whose
 *    transparent huge pages are "always" or "madvise" a chunk is one 2 MiB
 *    host page, allocated and zeroed in one go (a fraction of the cost per
 *    4 KiB).  Nothing can map its frames elsewhere, so the host MMU refuses
 *    it.  It is not MADV_DONTFORK: the child of a host fork() gets a
 *    copy-on-write copy (a system created before the fork stays usable
 *    there, as with a memfd, but each side's writes stay its own); the
 *    fork copies the arena's host page tables (a memfd mapping's are not
 *    copied), and the parent's next write to each host page takes a host
 *    fault (a copy while the child still maps it).
 *
 * Cold huge pages (anon_populate()).  On a guest that hands free 2 MiB
 * blocks back to its hypervisor (free page reporting), a huge page made
 * of such memory costs the hypervisor's faults on every 4 KiB of it: 2-5
 * ms a chunk against ~0.3 ms for a hot one, and worse than the 0.6-0.9 ms
 * of 4 KiB pages, which the guest takes from smaller fragments it never
 * reports.  So a huge-page chunk slower than thp_cold_ns
 * (ARENA_THP_COLD_NS) makes the next ARENA_THP_COLD_CHUNKS chunks come in
 * as 4 KiB host pages (MADV_NOHUGEPAGE on the chunk before populating;
 * each chunk's advice is set again whenever it is populated, so a
 * released chunk can be huge next time), and then huge pages are tried
 * again.  Counted in thp_cold and small_chunks (phys_stats).  The time is
 * wall time: a populating thread preempted on a busy host also counts as
 * cold, which costs only that 128 MiB of small pages.  A chunk that came
 * in small has its bit in `small` (a fourth bitmap; cleared when the chunk
 * is collapsed or punched) and wants the collapse thread (khugepaged.c),
 * which makes it one huge page later, once the arena is quiet.
 * Population of the whole arena (arena_populate_all(), at creation) is
 * not a fault waiting: every chunk is asked for as a huge page there,
 * cold or not.
 *
 * Which kind a system gets by default (UMM_ARENA_AUTO, system.c) is
 * decided here, once per process (arena_auto_anon()): anonymous when the
 * host gives 2 MiB transparent huge pages to memory with MADV_HUGEPAGE
 * (its sysfs controls say "always" or "madvise", read by
 * arena_thp_anon_at(), and the process has not turned them off with
 * prctl) and does not account memory strictly (vm.overcommit_memory 2
 * would charge the whole anonymous arena at creation), memfd otherwise,
 * including when the controls cannot be read: with 4 KiB host pages the
 * anonymous arena saves little, and only the memfd arena can be attached
 * to host windows.
 *
 * The host kernel backs an arena page the first time it is touched, and
 * for 4 KiB pages that costs a host page fault per frame, far more than
 * usermm's own fault handling.  So the arena is
 * brought in from the host a chunk at a time (ARENA_CHUNK_ORDER: 2 MiB,
 * 512 frames): the first time the allocator hands out a frame of a chunk
 * that is not known to be present, arena_prepare() populates the chunk
 * with madvise(MADV_POPULATE_WRITE) on the arena mapping, in pieces (see
 * below; host pages allocated and mapped writable, no host fault per
 * frame), or, when
 * the kernel lacks it, with fallocate() on the memfd (host pages allocated;
 * the first touch still takes a cheaper minor fault).  An anonymous arena
 * has no such fallback: on such a kernel its chunks are brought in by
 * their first touches (a 2 MiB host page per touch where transparent huge
 * pages are on), except at creation (arena_populate_all()), where nothing
 * is in use and a write to every page brings the arena in.  A bitmap, one bit
 * per chunk, says which chunks are present; it is not in struct page.
 * The descriptor pages of the chunk's frames are populated with it (the
 * descriptor array is anonymous memory, resident only where it has been
 * touched; see below).
 * A system may also populate the whole arena at creation
 * (arena_populate_all()).
 *
 * Giving memory back: arena_punch() punches a range out of the memfd
 * (fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)), or drops it
 * from an anonymous arena (madvise(MADV_DONTNEED); the range is whole
 * 4 MiB blocks, so 2 MiB host pages are dropped whole, never split), which
 * frees the host pages and makes the range read back as zeros, and clears the
 * chunks' bits, so the next allocation there populates them again.  It
 * also drops the host pages of the descriptors of every frame of the
 * range but the first (madvise(MADV_DONTNEED) on the whole descriptor
 * pages among them; they read back as zeros, which is what a free
 * non-head frame's descriptor may be; the first frame's descriptor is the
 * free block's head and stays).  Together with the allocator writing only
 * block heads at creation, the descriptor array is resident in proportion
 * to the frames in use, not to the arena's size.  The
 * policy (which free blocks, after how long) is page_reporting.c's; the
 * caller guarantees that no frame of the range is in use (it holds the
 * range isolated from the buddy lists).  A chunk's present bit is only
 * cleared by a punch that has claimed the chunk (busy, below) while none
 * of its frames is allocated, and only set by the thread that completes a
 * population job of the chunk; a job and a punch of one chunk exclude
 * each other, so the bit is read without a lock.
 *
 * Known-zero frames: a second bitmap, one bit per frame, marks the frames
 * that have not been handed out since the arena was created or their
 * block was punched, and so read as zeros.  alloc_pages() clears a frame's
 * bit when it hands the frame out (arena_take_zeroed()) and skips the
 * memset of GFP_ZERO when every frame of the block had it.  Only the
 * allocating thread, which owns the frames, clears bits; they are set for
 * every frame by arena_create() and for a block by arena_punch(), which
 * holds the block isolated.
 *
 * Counters (cumulative): populated_bytes counts chunks brought in (by
 * faults, arena_populate_all() or the populate-ahead thread), populate_ns
 * the time the host calls took (summed over threads), ahead_bytes the
 * bytes of the pieces the populate-ahead thread brought in itself;
 * released_bytes counts the bytes of present chunks punched out.  populated_bytes - released_bytes is what usermm believes
 * the host holds for the arena.
 *
 * The descriptor region (struct phys_mem + struct page array) is mapped
 * here too, at a 2^PHYS_META_ALIGN_SHIFT boundary (see page_alloc.h).
 *
 * Populating a chunk takes 1-2 ms of host time (a 2 MiB chunk on a small
 * virtual machine), so it is done with no lock held, in pieces of
 * POPULATE_PIECE bytes, and more than one thread can work on one chunk: a
 * population job (phys->jobs, a few slots) records which pieces of the
 * chunk are claimed.  A fault starts at the piece of the frame it hands
 * out and goes up; the populate-ahead thread (populate_ahead.c) starts at
 * the front of a chunk it starts, or at the back of a chunk a fault is
 * populating; each skips the pieces the other claimed.  Population only
 * saves host faults, so nobody waits for a piece another thread has in
 * flight (a frame touched before its piece is in is backed by the host
 * then), and a descheduled thread never holds a fault up.  Whoever
 * finishes the last piece marks the chunk present.  Population at
 * creation (arena_populate_all()) does wait.
 *
 * An anonymous arena is populated a whole chunk per host call (one piece):
 * with transparent huge pages the chunk is one host page, which the host
 * allocates and zeroes whole for whichever call or fault reaches it
 * first, and two threads touching it at once would each zero a 2 MiB
 * page and throw one away.  So a fault that needs a chunk another fault
 * is bringing in waits for it (at most one chunk's population) instead of
 * touching its frame at once.  It does not wait for the populate-ahead
 * thread, which may be off its CPU (a background thread never holds a
 * fault up): if that thread has the chunk in flight, the fault touches
 * its frame and the host may zero a second huge page.  That thread is off
 * by default for an anonymous arena (system.c).  A third bitmap, `busy`,
 * marks the chunks someone works on (a job, or arena_punch() punching);
 * population and punching of one chunk exclude each other.
 *
 * Collapse (arena_collapse_chunk(), for khugepaged.c) claims a chunk busy
 * like a population job or a punch, so the three exclude one another.
 *
 * Locks: phys->populate_lock (leaf) protects the busy bits, the jobs and
 * the populate_done condition; it is held only to claim or release a
 * chunk or a piece (never across a madvise/fallocate call) and never with
 * an allocator lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/falloc.h>

#include "page_alloc.h"
#include "kthread.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

/*
 * Cold huge pages: a hot 2 MiB huge page comes in in about 0.3 ms here, one
 * from memory the guest gave back to its hypervisor in 2-5 ms, and 4 KiB
 * pages in 0.6-0.9 ms a chunk either way.  A huge-page chunk slower than
 * ARENA_THP_COLD_NS (1 ms: about 2 us per 4 KiB, more than small pages
 * cost) sends the next ARENA_THP_COLD_CHUNKS chunks (128 MiB) to small pages.
 */
#define ARENA_THP_COLD_NS     1000000ull
#define ARENA_THP_COLD_CHUNKS 64

#define BITS_PER_LONG (8 * sizeof(unsigned long))

/* bit_test / bit_assign - bit n of an atomically updated bitmap (the chunks' present and small bits). */
static bool bit_test(const unsigned long *map, unsigned long n, int mo)
{
	return (__atomic_load_n(&map[n / BITS_PER_LONG], mo) >> (n % BITS_PER_LONG)) & 1;
}

static void bit_assign(unsigned long *map, unsigned long n, bool on, int mo)
{
	unsigned long bit = 1UL << (n % BITS_PER_LONG);

	if (on)
		__atomic_fetch_or(&map[n / BITS_PER_LONG], bit, mo);
	else
		__atomic_fetch_and(&map[n / BITS_PER_LONG], ~bit, mo);
}

static bool chunk_present(struct phys_mem *phys, unsigned long chunk)
{
	return bit_test(phys->populated, chunk, __ATOMIC_ACQUIRE);
}

static void chunk_set_present(struct phys_mem *phys, unsigned long chunk, bool present)
{
	bit_assign(phys->populated, chunk, present, __ATOMIC_RELEASE);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t arena_mono_ns(void)
{
	return mono_ns();
}

static bool chunk_small(struct phys_mem *phys, unsigned long chunk)
{
	return bit_test(phys->small, chunk, __ATOMIC_RELAXED);
}

/* chunk_set_small - by the chunk's busy owner only (a job, a punch or a collapse). */
static void chunk_set_small(struct phys_mem *phys, unsigned long chunk, bool small)
{
	if (small == chunk_small(phys, chunk))
		return;
	bit_assign(phys->small, chunk, small, __ATOMIC_RELAXED);
	atomic_fetch_add_explicit(&phys->nr_small, small ? 1 : -1, memory_order_relaxed);
}

static int __host_populate(struct phys_mem *phys, size_t off, size_t len, bool huge_always);

/* host_populate - bring [off, off+len) of the arena in, timed (huge_always: anon_populate).  0 or -errno. */
static int host_populate(struct phys_mem *phys, size_t off, size_t len, bool huge_always)
{
	uint64_t t0 = mono_ns();
	int err = __host_populate(phys, off, len, huge_always);

	atomic_fetch_add_explicit(&phys->populate_ns, mono_ns() - t0, memory_order_relaxed);
	return err;
}

/*
 * anon_populate - an anonymous arena's MADV_POPULATE_WRITE of one chunk,
 * as a huge page unless the host's huge pages are cold (see "Cold huge
 * pages" in the theory): a huge-page chunk slower than phys->thp_cold_ns
 * makes the next ARENA_THP_COLD_CHUNKS chunks come in as 4 KiB pages
 * (MADV_NOHUGEPAGE on the chunk first), after which huge pages are tried
 * again.  With huge_always (population at creation: nobody waits for
 * it) the chunk is asked for as a huge page whatever, and its time not
 * judged.  0 or -errno (EINVAL: no MADV_POPULATE_WRITE).  No locks.
 */
static int anon_populate(struct phys_mem *phys, size_t off, size_t len, bool huge_always)
{
	char *p = (char *)phys->base + off;
	unsigned long left = atomic_load_explicit(&phys->small_left, memory_order_relaxed);
	bool whole = len == ARENA_CHUNK_FRAMES * PAGE_SIZE;
	bool huge = true;
	uint64_t t0, t1;

	while (!huge_always && left &&
	       !atomic_compare_exchange_weak_explicit(&phys->small_left, &left, left - 1,
						      memory_order_relaxed, memory_order_relaxed))
		;
	if (left && !huge_always)
		huge = false;
	/* best effort: a host without the advice populates whatever pages it gives */
	(void)madvise(p, len, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	t0 = mono_ns();
	atomic_store_explicit(&phys->last_populate_ns, t0, memory_order_relaxed);
	if (madvise(p, len, MADV_POPULATE_WRITE))
		return -errno;
	t1 = mono_ns();
	atomic_store_explicit(&phys->last_populate_ns, t1, memory_order_relaxed);
	if (!huge) {
		struct kthread_lazy *kt = atomic_load_explicit(&phys->collapse_kt, memory_order_acquire);

		atomic_fetch_add_explicit(&phys->small_chunks, 1, memory_order_relaxed);
		if (whole) {
			/* the caller's job holds the chunk busy */
			chunk_set_small(phys, off >> (ARENA_CHUNK_ORDER + PAGE_SHIFT), true);
			if (kt && !kthread_running(kt))
				kthread_want(kt);
		}
	} else if (whole && !huge_always && t1 - t0 > phys->thp_cold_ns) {
		atomic_fetch_add_explicit(&phys->thp_cold, 1, memory_order_relaxed);
		atomic_store_explicit(&phys->small_left, ARENA_THP_COLD_CHUNKS, memory_order_relaxed);
	}
	return 0;
}

static int __host_populate(struct phys_mem *phys, size_t off, size_t len, bool huge_always)
{
	if (!__atomic_load_n(&phys->no_populate_write, __ATOMIC_RELAXED)) {
		int err = phys->anon ? anon_populate(phys, off, len, huge_always) :
			  madvise((char *)phys->base + off, len, MADV_POPULATE_WRITE) ? -errno : 0;

		if (!err)
			return 0;
		if (err != -EINVAL)
			return err;
		/* kernel older than 5.14: remember, use fallocate from now on */
		__atomic_store_n(&phys->no_populate_write, true, __ATOMIC_RELAXED);
	}
	if (phys->anon)
		return -EOPNOTSUPP;     /* first touches bring it in (see the theory) */
	if (fallocate(phys->memfd, 0, (off_t)off, (off_t)len))
		return -errno;
	return 0;
}

/*
 * populate_descriptors - bring the descriptor pages of frames [pfn, pfn+nr)
 * in as well, so the faults that use the chunk's frames do not take a
 * host fault per descriptor page.  With `first_of_chunk` false, only the
 * descriptor pages that start inside the range: the pieces of a chunk
 * then cover its descriptor pages once between them, and a piece whose
 * descriptors (32 frames' worth, less than a page) start and end inside
 * one page makes no call.  Best effort: a failure (or a kernel without MADV_POPULATE_WRITE) leaves them
 * to be faulted in on first use.
 */
static void populate_descriptors(struct phys_mem *phys, unsigned long pfn, unsigned long nr,
				 bool first_of_chunk)
{
	uintptr_t start = (uintptr_t)&phys->pages[pfn];
	uintptr_t end = ALIGN_UP((uintptr_t)&phys->pages[pfn + nr], PAGE_SIZE);

	start = first_of_chunk ? ALIGN_DOWN(start, PAGE_SIZE) : ALIGN_UP(start, PAGE_SIZE);
	if (start < end && !__atomic_load_n(&phys->no_populate_write, __ATOMIC_RELAXED))
		(void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
}

/* chunk_bytes - bytes of chunk `chunk` (the last one may be short). */
static size_t chunk_bytes(struct phys_mem *phys, unsigned long chunk, size_t *off)
{
	unsigned long first = chunk << ARENA_CHUNK_ORDER;
	unsigned long n = MIN(ARENA_CHUNK_FRAMES, phys->nr_frames - first);

	*off = (size_t)first << PAGE_SHIFT;
	return (size_t)n << PAGE_SHIFT;
}

static bool chunk_busy(struct phys_mem *phys, unsigned long chunk)
{
	return (phys->busy[chunk / BITS_PER_LONG] >> (chunk % BITS_PER_LONG)) & 1;
}

static void chunk_set_busy(struct phys_mem *phys, unsigned long chunk, bool busy)
{
	unsigned long bit = 1UL << (chunk % BITS_PER_LONG);

	if (busy)
		phys->busy[chunk / BITS_PER_LONG] |= bit;
	else
		phys->busy[chunk / BITS_PER_LONG] &= ~bit;
}

/*
 * claim_chunk - make chunk c ours to punch: wait while another thread
 * works on it, then mark it busy.  populate_lock held.
 */
static void claim_chunk(struct phys_mem *phys, unsigned long c)
{
	while (chunk_busy(phys, c))
		pthread_cond_wait(&phys->populate_done, &phys->populate_lock);
	chunk_set_busy(phys, c, true);
}

/* release_chunk - chunk c is no longer ours; wake the waiters.  populate_lock held. */
static void release_chunk(struct phys_mem *phys, unsigned long c)
{
	chunk_set_busy(phys, c, false);
	pthread_cond_broadcast(&phys->populate_done);
}

/* find_job - the population job of chunk c, or NULL.  populate_lock held. */
static struct populate_job *find_job(struct phys_mem *phys, unsigned long c)
{
	for (unsigned int i = 0; i < ARENA_POPULATE_JOBS; i++)
		if (phys->jobs[i].used && phys->jobs[i].chunk == c)
			return &phys->jobs[i];
	return NULL;
}

/* piece_bytes - bytes per host call populating a chunk: a whole chunk for an anonymous arena. */
static size_t piece_bytes(const struct phys_mem *phys)
{
	return phys->anon ? ARENA_CHUNK_FRAMES * PAGE_SIZE : POPULATE_PIECE;
}

/*
 * new_job - a job for chunk c (marked busy), or NULL if the table is full;
 * `ahead`: the populate-ahead thread's.  populate_lock held.
 */
static struct populate_job *new_job(struct phys_mem *phys, unsigned long c, bool ahead)
{
	size_t off, len = chunk_bytes(phys, c, &off);

	for (unsigned int i = 0; i < ARENA_POPULATE_JOBS; i++) {
		struct populate_job *job = &phys->jobs[i];

		if (job->used)
			continue;
		job->used = true;
		job->chunk = c;
		job->nr_pieces = (unsigned int)((len + piece_bytes(phys) - 1) / piece_bytes(phys));
		job->claimed = 0;
		job->inflight = 0;
		job->err = 0;
		job->ahead = ahead;
		chunk_set_busy(phys, c, true);
		return job;
	}
	return NULL;
}

/*
 * claim_piece - the first unclaimed piece of the job met going from
 * `start` up (or down) and wrapping around; -1 when every piece is
 * claimed.  populate_lock held.
 */
static int claim_piece(struct populate_job *job, unsigned int start, bool down)
{
	unsigned int n = job->nr_pieces;

	for (unsigned int k = 0; k < n; k++) {
		unsigned int piece = down ? (start + n - k) % n : (start + k) % n;

		if (!(job->claimed & (1u << piece))) {
			job->claimed |= 1u << piece;
			return (int)piece;
		}
	}
	return -1;
}

/*
 * run_job - populate pieces of the job until none is left to claim,
 * starting at piece `start`, going up (or down) and wrapping around.  The
 * thread that finishes the last piece completes the job (chunk present
 * unless a piece failed, counters, busy cleared, waiters woken).
 * huge_always goes to anon_populate (population at creation).
 * populate_lock held on entry and exit, dropped around each host call.
 * Return: bytes this thread populated; *errp gets the -errno of a host
 * call of this thread's that failed (untouched otherwise).
 */
static size_t run_job(struct phys_mem *phys, struct populate_job *job, unsigned int start,
		      bool down, bool huge_always, int *errp)
{
	unsigned long c = job->chunk;
	size_t off, len = chunk_bytes(phys, c, &off), done = 0;
	int piece;

	while ((piece = claim_piece(job, start, down)) >= 0) {
		size_t poff = off + (size_t)piece * piece_bytes(phys);
		size_t plen = MIN(piece_bytes(phys), off + len - poff);
		int err;

		job->inflight++;
		pthread_mutex_unlock(&phys->populate_lock);
		err = host_populate(phys, poff, plen, huge_always);
		if (!err)
			populate_descriptors(phys, poff >> PAGE_SHIFT, plen >> PAGE_SHIFT, piece == 0);
		pthread_mutex_lock(&phys->populate_lock);
		job->inflight--;
		if (err && !job->err)
			job->err = err;
		if (err)
			*errp = err;
		else
			done += plen;
		start = (unsigned int)piece;
	}
	if (!job->inflight) {
		/* every piece is claimed and none is in flight: complete the job */
		if (!job->err) {
			chunk_set_present(phys, c, true);
			atomic_fetch_add_explicit(&phys->populated_bytes, len, memory_order_relaxed);
		}
		job->used = false;
		release_chunk(phys, c);
	}
	return done;
}

/*
 * no_population - an anonymous arena on a kernel without
 * MADV_POPULATE_WRITE: chunks come in by their first touches.
 */
static bool no_population(struct phys_mem *phys)
{
	return phys->anon && __atomic_load_n(&phys->no_populate_write, __ATOMIC_RELAXED);
}

/* How populate_chunk() goes about a chunk. */
enum populate_mode {
	POPULATE_FAULT,         /* for frames being handed out: from their piece up; no waiting
	                           (an anonymous arena: waits for another fault, see the
	                           theory) */
	POPULATE_AHEAD,         /* the populate-ahead thread: from the front, or the back of a
	                           fault's job; no waiting; counted in ahead_bytes */
	POPULATE_WAIT,          /* the whole chunk before returning (population at creation) */
};

/*
 * populate_chunk - bring chunk c in unless it is present, or join the
 * thread bringing it in (run_job()).  Only POPULATE_WAIT, and
 * POPULATE_FAULT on an anonymous arena (unless the populate-ahead thread
 * has the chunk), wait for pieces other threads
 * have in flight, for a chunk being punched or for a free job slot:
 * population only saves host faults, so a fault on a memfd arena that
 * returns while a piece is still coming in touches its frame anyway and
 * the host backs it then (on an anonymous arena that would zero a second
 * huge page).  `piece` is where POPULATE_FAULT starts.  Takes
 * populate_lock, not across host calls.
 * Return: 1 if this thread populated some of it, 0 if it was present or
 * left to others, -EBUSY (being punched or no job slot, not waiting),
 * -EOPNOTSUPP (no_population()), or a host call's -errno (when waiting:
 * -EIO if another thread's piece failed); a chunk whose population failed stays absent (the host backs
 * its frames on first touch).
 */
static int populate_chunk(struct phys_mem *phys, unsigned long c, enum populate_mode mode,
			  unsigned int piece)
{
	bool wait = mode == POPULATE_WAIT || (mode == POPULATE_FAULT && phys->anon);
	struct populate_job *job;
	bool joined;
	int err = 0;
	size_t done;

	if (chunk_present(phys, c))
		return 0;
	if (no_population(phys))
		return -EOPNOTSUPP;
	pthread_mutex_lock(&phys->populate_lock);
	for (;;) {
		if (chunk_present(phys, c)) {
			pthread_mutex_unlock(&phys->populate_lock);
			return 0;
		}
		job = find_job(phys, c);
		joined = job != NULL;
		if (!job && !chunk_busy(phys, c))
			job = new_job(phys, c, mode == POPULATE_AHEAD);
		if (job)
			break;
		/* being punched, or every job slot taken */
		if (!wait) {
			pthread_mutex_unlock(&phys->populate_lock);
			return -EBUSY;
		}
		pthread_cond_wait(&phys->populate_done, &phys->populate_lock);
	}
	/* never wait for the populate-ahead thread: it may be off its CPU (see the theory) */
	if (mode == POPULATE_FAULT && joined && job->ahead)
		wait = false;
	if (mode == POPULATE_AHEAD)
		done = run_job(phys, job, joined ? job->nr_pieces - 1 : 0, joined, false, &err);
	else
		done = run_job(phys, job, MIN(piece, job->nr_pieces - 1), false, mode == POPULATE_WAIT, &err);
	if (wait) {
		/* the job may finish (and its slot be reused) by another thread: watch the chunk */
		while (chunk_busy(phys, c) && !chunk_present(phys, c))
			pthread_cond_wait(&phys->populate_done, &phys->populate_lock);
		if (!err && !chunk_present(phys, c))
			err = -EIO;             /* another thread's piece failed */
	}
	pthread_mutex_unlock(&phys->populate_lock);
	if (mode == POPULATE_AHEAD && done)
		atomic_fetch_add_explicit(&phys->ahead_bytes, done, memory_order_relaxed);
	if (err)
		return err;
	return done ? 1 : 0;
}

/**
 * arena_populate_ahead_chunk - populate-ahead's population of chunk c.
 * @phys: the arena
 * @c: a chunk index below phys->nr_chunks
 *
 * Like arena_populate_chunks() for one chunk: it starts at the chunk's
 * front, or joins a fault's population of it from the back; it does not
 * wait for pieces others have in flight; a chunk being punched is
 * skipped.  The bytes it populates are counted in ahead_bytes too.
 * Return: 1 populated (some of it), 0 present already or left to others,
 * -EBUSY, -EOPNOTSUPP (an anonymous arena on a kernel without
 * MADV_POPULATE_WRITE), or a host call's -errno.
 */
int arena_populate_ahead_chunk(struct phys_mem *phys, unsigned long c)
{
	return populate_chunk(phys, c, POPULATE_AHEAD, 0);
}

/**
 * arena_chunk_present - is chunk c present in the host?  Lock-free snapshot.
 * @phys: the arena
 * @c: a chunk index below phys->nr_chunks
 */
bool arena_chunk_present(struct phys_mem *phys, unsigned long c)
{
	return chunk_present(phys, c);
}

/**
 * arena_populate_chunks - bring every absent chunk overlapping [pfn, pfn+nr) in.
 * @phys: the arena
 * @pfn: first frame
 * @nr: number of frames
 *
 * Slow path of arena_prepare().  Takes populate_lock (not across the host
 * calls).  Populates each chunk from the piece of the first frame it
 * needs on, joining a population under way, and returns without waiting
 * for pieces other threads have in flight (the host backs a frame it
 * touches before its piece is in).  The caller holds no allocator lock.
 * A chunk whose population fails stays absent (the host backs its frames
 * on first touch, as without this batching).
 */
void arena_populate_chunks(struct phys_mem *phys, unsigned long pfn, unsigned long nr)
{
	unsigned long c, last = (pfn + nr - 1) >> ARENA_CHUNK_ORDER;

	for (c = pfn >> ARENA_CHUNK_ORDER; c <= last; c++) {
		unsigned long first = MAX(pfn, c << ARENA_CHUNK_ORDER) - (c << ARENA_CHUNK_ORDER);

		(void)populate_chunk(phys, c, POPULATE_FAULT,
				     (unsigned int)((first << PAGE_SHIFT) / piece_bytes(phys)));
	}
}

/**
 * arena_take_zeroed_slow - arena_take_zeroed() for more than one frame.
 * @phys: the arena
 * @pfn: first frame
 * @nr: frames, all owned by the caller
 *
 * Return: true if every frame of the range was known to be zero.
 */
bool arena_take_zeroed_slow(struct phys_mem *phys, unsigned long pfn, unsigned long nr)
{
	unsigned long i, zero = 0;

	for (i = pfn; i < pfn + nr; i++) {
		unsigned long *w = &phys->zeroed[i / BITS_PER_LONG];
		unsigned long bit = 1UL << (i % BITS_PER_LONG);

		if (__atomic_load_n(w, __ATOMIC_RELAXED) & bit) {
			__atomic_fetch_and(w, ~bit, __ATOMIC_RELAXED);
			zero++;
		}
	}
	return zero == nr;
}

/* mark_zeroed - frames [pfn, pfn+nr) read as zero and are not in use. */
static void mark_zeroed(struct phys_mem *phys, unsigned long pfn, unsigned long nr)
{
	unsigned long i;

	for (i = pfn; i < pfn + nr; i++)
		__atomic_fetch_or(&phys->zeroed[i / BITS_PER_LONG], 1UL << (i % BITS_PER_LONG),
				  __ATOMIC_RELAXED);
}

/*
 * touch_chunk - bring chunk c of an anonymous arena in by writing a zero
 * to each of its pages (it reads as zeros already), for a kernel without
 * MADV_POPULATE_WRITE.  Only while nothing of the arena is in use (at
 * creation).
 */
static void touch_chunk(struct phys_mem *phys, unsigned long c)
{
	size_t off, len = chunk_bytes(phys, c, &off), i;
	uint64_t t0 = mono_ns();

	for (i = 0; i < len; i += PAGE_SIZE)
		*(volatile char *)((char *)phys->base + off + i) = 0;
	atomic_fetch_add_explicit(&phys->populate_ns, mono_ns() - t0, memory_order_relaxed);
	chunk_set_present(phys, c, true);
	atomic_fetch_add_explicit(&phys->populated_bytes, len, memory_order_relaxed);
}

/**
 * arena_populate_all - bring the whole arena in from the host.
 * @phys: the arena, none of whose frames is in use yet (creation)
 *
 * Takes populate_lock for each chunk (not across the host call).  An
 * anonymous arena on a kernel without MADV_POPULATE_WRITE is brought in
 * by writing to each page (no lock: nothing else uses the arena yet).
 * Return: 0 or the -errno of the first failure (the chunks before it
 * stay populated).
 */
int arena_populate_all(struct phys_mem *phys)
{
	unsigned long c;
	int err = 0;

	for (c = 0; c < phys->nr_chunks && err >= 0; c++) {
		err = populate_chunk(phys, c, POPULATE_WAIT, 0);
		if (err == -EOPNOTSUPP && no_population(phys)) {
			touch_chunk(phys, c);
			err = 0;
		}
	}
	return err < 0 ? err : 0;
}

/**
 * arena_punch - give frames [pfn, pfn+nr) back to the host.
 * @phys: the arena
 * @pfn: first frame, a multiple of ARENA_CHUNK_FRAMES
 * @nr: frames, a multiple of ARENA_CHUNK_FRAMES (or up to the arena's end)
 *
 * The caller guarantees no frame of the range is allocated or can be
 * until this returns and that no descriptor of the range but the first
 * holds state (page_reporting.c holds a free block isolated).  After it
 * the frames read as zeros, their chunks are absent and the other
 * descriptors are zero.  Takes populate_lock to claim the range's chunks
 * (waiting for a thread that is populating one of them, which may be the
 * populate-ahead thread) and to release them, not across the punch (a
 * hole punched in the memfd, or MADV_DONTNEED on an anonymous arena).
 * Return: bytes of present chunks released (0 if the punch failed, in
 * which case the range is left as it was).
 */
size_t arena_punch(struct phys_mem *phys, unsigned long pfn, unsigned long nr)
{
	unsigned long c, first = pfn >> ARENA_CHUNK_ORDER;
	unsigned long last = (pfn + nr - 1) >> ARENA_CHUNK_ORDER;
	size_t released = 0;

	uintptr_t desc_start, desc_end;

	VM_BUG_ON(pfn % ARENA_CHUNK_FRAMES || pfn + nr > phys->nr_frames);
	pthread_mutex_lock(&phys->populate_lock);
	for (c = first; c <= last; c++)
		claim_chunk(phys, c);
	pthread_mutex_unlock(&phys->populate_lock);
	if (phys->anon ? madvise(pfn_to_virt(phys, pfn), nr << PAGE_SHIFT, MADV_DONTNEED) :
	    fallocate(phys->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)pfn << PAGE_SHIFT, (off_t)nr << PAGE_SHIFT)) {
		pthread_mutex_lock(&phys->populate_lock);
		for (c = first; c <= last; c++)
			release_chunk(phys, c);
		pthread_mutex_unlock(&phys->populate_lock);
		return 0;
	}
	/* the descriptors of the frames after the first: whole pages only */
	mark_zeroed(phys, pfn, nr);
	desc_start = ALIGN_UP((uintptr_t)&phys->pages[pfn + 1], PAGE_SIZE);
	desc_end = ALIGN_DOWN((uintptr_t)&phys->pages[pfn + nr], PAGE_SIZE);
	if (desc_start < desc_end)
		madvise((void *)desc_start, desc_end - desc_start, MADV_DONTNEED);
	for (c = first; c <= last; c++) {
		size_t off, len = chunk_bytes(phys, c, &off);

		if (chunk_present(phys, c)) {
			chunk_set_present(phys, c, false);
			released += len;
		}
		chunk_set_small(phys, c, false);
	}
	pthread_mutex_lock(&phys->populate_lock);
	for (c = first; c <= last; c++)
		release_chunk(phys, c);
	pthread_mutex_unlock(&phys->populate_lock);
	atomic_fetch_add_explicit(&phys->released_bytes, released, memory_order_relaxed);
	return released;
}

/**
 * arena_next_small - the first chunk at or after @from that is present as
 * 4 KiB host pages (came in small and was not collapsed since).
 * @phys: the arena
 * @from: a chunk index
 *
 * Lock-free; a snapshot.
 * Return: its index, or phys->nr_chunks when there is none.
 */
unsigned long arena_next_small(struct phys_mem *phys, unsigned long from)
{
	unsigned long words = (phys->nr_chunks + BITS_PER_LONG - 1) / BITS_PER_LONG;

	for (unsigned long i = from / BITS_PER_LONG; i < words && from < phys->nr_chunks; i++) {
		unsigned long w = __atomic_load_n(&phys->small[i], __ATOMIC_RELAXED);

		if (i == from / BITS_PER_LONG)
			w &= ~0UL << (from % BITS_PER_LONG);
		if (w)
			return MIN(i * BITS_PER_LONG + (unsigned long)__builtin_ctzl(w), phys->nr_chunks);
	}
	return phys->nr_chunks;
}

/**
 * arena_collapse_chunk - make chunk @c, present as 4 KiB host pages, one
 * 2 MiB host page.
 * @phys: an anonymous arena
 * @c: a chunk index below phys->nr_chunks
 *
 * Claims the chunk (busy: no population or punch of it meanwhile; a chunk
 * already busy is left alone) and asks the host to collapse it
 * (MADV_HUGEPAGE on it, then MADV_COLLAPSE).  The host copies the chunk's
 * pages into a new huge page with the range unmapped from every CPU, so
 * the frames' contents stay exactly what they were and an access that
 * meets the copy waits for it in the host; frames of the chunk may be
 * in use, and may be allocated and freed meanwhile (that needs no host
 * call).  Takes populate_lock, not across the host calls.
 * Return: 1 collapsed, 0 nothing to do (not small, absent, or busy), or
 * the -errno of MADV_COLLAPSE (-EINVAL: the host has none, and
 * phys->no_collapse is set; -EAGAIN, -ENOMEM: try again later).
 */
int arena_collapse_chunk(struct phys_mem *phys, unsigned long c)
{
	size_t off, len = chunk_bytes(phys, c, &off);
	char *p = (char *)phys->base + off;
	uint64_t t0;
	int err = 0;

	if (__atomic_load_n(&phys->no_collapse, __ATOMIC_RELAXED) || !chunk_small(phys, c))
		return 0;
	pthread_mutex_lock(&phys->populate_lock);
	if (chunk_busy(phys, c) || !chunk_present(phys, c) || !chunk_small(phys, c)) {
		pthread_mutex_unlock(&phys->populate_lock);
		return 0;
	}
	chunk_set_busy(phys, c, true);
	pthread_mutex_unlock(&phys->populate_lock);
	(void)madvise(p, len, MADV_HUGEPAGE);
	t0 = mono_ns();
	if (madvise(p, len, MADV_COLLAPSE))
		err = -errno;
	atomic_fetch_add_explicit(&phys->collapse_ns, mono_ns() - t0, memory_order_relaxed);
	if (!err) {
		chunk_set_small(phys, c, false);
		atomic_fetch_add_explicit(&phys->collapsed, 1, memory_order_relaxed);
	} else {
		atomic_fetch_add_explicit(&phys->collapse_failed, 1, memory_order_relaxed);
		if (err == -EINVAL)
			__atomic_store_n(&phys->no_collapse, true, __ATOMIC_RELAXED);
	}
	pthread_mutex_lock(&phys->populate_lock);
	release_chunk(phys, c);
	pthread_mutex_unlock(&phys->populate_lock);
	return err ? err : 1;
}

/**
 * arena_check - the chunk bitmaps' consistency: a chunk that is not busy
 * and is marked small is present, and nr_small counts the small bits
 * (give or take the busy chunks, whose owner may be between the two).
 * @phys: the arena
 *
 * Takes populate_lock (no allocator lock may be held).  Problems are
 * logged through pr_check.
 * Return: the number of problems found.
 */
int arena_check(struct phys_mem *phys)
{
	unsigned long c, small = 0, busy = 0;
	long nr;
	int errors = 0;

	pthread_mutex_lock(&phys->populate_lock);
	for (c = 0; c < phys->nr_chunks; c++) {
		bool b = chunk_busy(phys, c), sm = chunk_small(phys, c);

		busy += b;
		small += sm;
		if (!b && sm && !chunk_present(phys, c) && errors++ < 20)
			pr_check("arena_check: chunk %lu small but not present", c);
	}
	nr = atomic_load_explicit(&phys->nr_small, memory_order_relaxed);
	if ((nr < 0 || (unsigned long)nr + busy < small || small + busy < (unsigned long)nr) && errors++ < 20)
		pr_check("arena_check: nr_small %ld, %lu small bits (%lu chunks busy)", nr, small, busy);
	pthread_mutex_unlock(&phys->populate_lock);
	return errors;
}

/**
 * arena_range_present - is any chunk overlapping [pfn, pfn+nr) present?
 * @phys: the arena
 * @pfn: first frame
 * @nr: frames (> 0)
 *
 * Lock-free; a snapshot.
 */
bool arena_range_present(struct phys_mem *phys, unsigned long pfn, unsigned long nr)
{
	unsigned long c, last = (pfn + nr - 1) >> ARENA_CHUNK_ORDER;

	for (c = pfn >> ARENA_CHUNK_ORDER; c <= last; c++)
		if (chunk_present(phys, c))
			return true;
	return false;
}

/* map_aligned_meta - an rw mapping of `bytes` at a 2^PHYS_META_ALIGN_SHIFT boundary. */
static void *map_aligned_meta(size_t bytes)
{
	size_t align = (size_t)1 << PHYS_META_ALIGN_SHIFT;
	char *window, *start, *end;
	void *meta;

	window = mmap(NULL, 2 * align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (window == MAP_FAILED)
		return NULL;
	start = (char *)ALIGN_UP((uintptr_t)window, align);
	end = window + 2 * align;
	if (start > window)
		munmap(window, (size_t)(start - window));
	if (start + bytes < end)
		munmap(start + bytes, (size_t)(end - (start + bytes)));
	meta = mmap(start, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (meta == MAP_FAILED) {
		munmap(start, bytes);
		return NULL;
	}
	return meta;
}

/*
 * map_memfd_arena - a new memfd of `bytes`, mapped MAP_SHARED.  The
 * mapping, or NULL with errno set; *fdp gets the memfd.
 */
static void *map_memfd_arena(size_t bytes, int *fdp)
{
	void *base;
	int fd, err;

	fd = memfd_create("usermm-phys", MFD_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (ftruncate(fd, (off_t)bytes) < 0)
		goto err_close;
	base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		goto err_close;
	*fdp = fd;
	return base;

err_close:
	err = errno;
	close(fd);
	errno = err;
	return NULL;
}

/*
 * map_anon_arena - `bytes` of private anonymous memory starting on a
 * 2 MiB boundary (so each chunk can be one host huge page), with
 * MADV_HUGEPAGE (refused by a kernel without transparent huge pages:
 * then 4 KiB host pages, as the host gives).  The mapping, or NULL with
 * errno set.
 */
static void *map_anon_arena(size_t bytes)
{
	size_t align = ARENA_CHUNK_FRAMES * PAGE_SIZE;
	char *window, *start, *end;

	if (bytes > SIZE_MAX - align) {
		errno = ENOMEM;
		return NULL;
	}
	window = mmap(NULL, bytes + align, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (window == MAP_FAILED)
		return NULL;
	start = (char *)ALIGN_UP((uintptr_t)window, align);
	end = window + bytes + align;
	if (start > window)
		munmap(window, (size_t)(start - window));
	if (start + bytes < end)
		munmap(start + bytes, (size_t)(end - (start + bytes)));
	(void)madvise(start, bytes, MADV_HUGEPAGE);
	return start;
}

/**
 * arena_create - map the arena and the descriptor region.
 * @nr: frames
 * @meta_bytes: size of the descriptor region (struct phys_mem first)
 * @anon: private anonymous memory instead of a memfd
 * @out: the region, with base, memfd (-1 if anon), anon, nr_frames,
 *       meta_bytes, the chunk bitmaps, populate_lock and populate_done set
 *       up; every chunk absent and idle
 *
 * Return: 0, -ENOMEM or the errno of a failed memfd/ftruncate/mmap.
 */
int arena_create(unsigned long nr, size_t meta_bytes, bool anon, struct phys_mem **out)
{
	unsigned long nr_chunks = (nr + ARENA_CHUNK_FRAMES - 1) / ARENA_CHUNK_FRAMES;
	struct phys_mem *phys;
	unsigned long *bitmap, *busy, *zeroed;
	void *base;
	int fd, err;

	/* the chunk bitmaps: present, then busy, then small */
	bitmap = calloc(3 * ((nr_chunks + BITS_PER_LONG - 1) / BITS_PER_LONG), sizeof(unsigned long));
	busy = bitmap + (nr_chunks + BITS_PER_LONG - 1) / BITS_PER_LONG;
	zeroed = malloc((nr + BITS_PER_LONG - 1) / BITS_PER_LONG * sizeof(unsigned long));
	if (!bitmap || !zeroed) {
		free(bitmap);
		free(zeroed);
		return -ENOMEM;
	}
	/* a new arena reads as zeros everywhere (bits past the last frame are never read) */
	memset(zeroed, 0xff, (nr + BITS_PER_LONG - 1) / BITS_PER_LONG * sizeof(unsigned long));
	fd = -1;
	base = anon ? map_anon_arena(nr * PAGE_SIZE) : map_memfd_arena(nr * PAGE_SIZE, &fd);
	if (!base)
		goto err_free;
	phys = map_aligned_meta(meta_bytes);
	if (!phys) {
		err = errno ? errno : ENOMEM;
		munmap(base, nr * PAGE_SIZE);
		if (fd >= 0)
			close(fd);
		free(bitmap);
		free(zeroed);
		return -err;
	}
	phys->base = base;
	phys->memfd = fd;
	phys->anon = anon;
	phys->thp_cold_ns = ARENA_THP_COLD_NS;
	phys->nr_frames = nr;
	phys->meta_bytes = meta_bytes;
	phys->populated = bitmap;
	phys->busy = busy;
	phys->small = busy + (nr_chunks + BITS_PER_LONG - 1) / BITS_PER_LONG;
	phys->zeroed = zeroed;
	phys->nr_chunks = nr_chunks;
	pthread_mutex_init(&phys->populate_lock, NULL);
	pthread_cond_init(&phys->populate_done, NULL);
	*out = phys;
	return 0;

err_free:
	err = errno ? errno : ENOMEM;
	free(bitmap);
	free(zeroed);
	return -err;
}

/**
 * arena_destroy - unmap the arena and the descriptor region (phys with it).
 * @phys: from arena_create(); nobody may use it any more
 */
void arena_destroy(struct phys_mem *phys)
{
	void *base = phys->base;
	size_t arena = phys->nr_frames * PAGE_SIZE, meta = phys->meta_bytes;
	int fd = phys->memfd;

	pthread_cond_destroy(&phys->populate_done);
	pthread_mutex_destroy(&phys->populate_lock);
	free(phys->populated);          /* the busy and small bitmaps with it */
	free(phys->zeroed);
	munmap(base, arena);
	if (fd >= 0)
		close(fd);
	munmap(phys, meta);
}

/*
 * read_control - the text of the host control file `dir`/`name` in buf
 * (NUL-terminated, at most size - 1 bytes), or false when it cannot be
 * read.
 */
static bool read_control(const char *dir, const char *name, char *buf, size_t size)
{
	char path[512];
	ssize_t n;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return true;
}

/*
 * thp_selected - the bracketed word of the transparent huge page control
 * `dir`/`name` ("always [madvise] never" gives "madvise") in word, or
 * false when the file cannot be read or has no bracketed word.
 */
static bool thp_selected(const char *dir, const char *name, char *word, size_t size)
{
	char text[128], *open_br, *close_br;
	size_t len;

	if (!read_control(dir, name, text, sizeof(text)))
		return false;
	open_br = strchr(text, '[');
	close_br = open_br ? strchr(open_br, ']') : NULL;
	if (!close_br)
		return false;
	len = (size_t)(close_br - open_br - 1);
	if (len >= size)
		return false;
	memcpy(word, open_br + 1, len);
	word[len] = 0;
	return true;
}

static bool thp_on_when_advised(const char *word)
{
	return !strcmp(word, "always") || !strcmp(word, "madvise");
}

/**
 * arena_thp_anon_at - would an anonymous arena get 2 MiB host pages on a
 * host whose transparent huge page controls are in directory `dir`
 * (/sys/kernel/mm/transparent_hugepage; another one in tests)?  True when
 * the PMD huge page is one arena chunk (hpage_pmd_size 2097152) and huge
 * pages of that size are on for memory with MADV_HUGEPAGE: the size's own
 * control (hugepages-2048kB/enabled, kernels since 6.8) says "always" or
 * "madvise", or it says "inherit" or is missing and the top-level
 * `enabled` says "always" or "madvise".  A control that cannot be read
 * counts as off: the anonymous arena's advantage is its huge pages, and
 * the memfd arena also works with host windows.  No locks.
 */
bool arena_thp_anon_at(const char *dir)
{
	char text[32], word[32], size_ctl[64];
	unsigned long pmd;

	if (!dir || !read_control(dir, "hpage_pmd_size", text, sizeof(text)))
		return false;
	pmd = strtoul(text, NULL, 10);
	if (pmd != ARENA_CHUNK_FRAMES * PAGE_SIZE)
		return false;
	snprintf(size_ctl, sizeof(size_ctl), "hugepages-%lukB/enabled", pmd >> 10);
	if (thp_selected(dir, size_ctl, word, sizeof(word)) && strcmp(word, "inherit"))
		return thp_on_when_advised(word);
	return thp_selected(dir, "enabled", word, sizeof(word)) && thp_on_when_advised(word);
}

#define THP_CONTROLS "/sys/kernel/mm/transparent_hugepage"
#define OVERCOMMIT_MODE "/proc/sys/vm/overcommit_memory"

/* where arena_auto_anon() looks (arena_auto_reset() changes them for tests) */
static const char *auto_controls = THP_CONTROLS;
static const char *auto_overcommit = OVERCOMMIT_MODE;
static int auto_decided;        /* 0: not yet, 1: memfd, 2: anonymous */

/*
 * overcommit_strict - does the file at `path` (vm.overcommit_memory) say 2,
 * strict accounting?  Under it the host ignores MAP_NORESERVE and charges
 * a whole anonymous arena at creation, where a memfd arena is charged as
 * its pages come in.  An unreadable file counts as not strict (the
 * kernel's default is 0).
 */
static bool overcommit_strict(const char *path)
{
	char text[16];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return false;
	text[n] = 0;
	return strtol(text, NULL, 10) == 2;
}

/**
 * arena_auto_anon - what UMM_ARENA_AUTO stands for in this process: true
 * (anonymous) when arena_thp_anon_at() says the host's transparent huge
 * pages are on for advised memory, the process has not turned them off
 * altogether (prctl PR_SET_THP_DISABLE without
 * PR_THP_DISABLE_EXCEPT_ADVISED: PR_GET_THP_DISABLE answers exactly 1),
 * and the host does not account memory strictly (vm.overcommit_memory
 * 2, overcommit_strict()); false (memfd) otherwise.  Decided by the first
 * call and kept for the life of the process (a later change of the host
 * settings is not seen).  Any context, no locks (two first calls at once
 * both decide, alike).
 */
bool arena_auto_anon(void)
{
	int d = __atomic_load_n(&auto_decided, __ATOMIC_ACQUIRE);

	if (!d) {
		const char *dir = __atomic_load_n(&auto_controls, __ATOMIC_RELAXED);
		const char *oc = __atomic_load_n(&auto_overcommit, __ATOMIC_RELAXED);
		bool anon = arena_thp_anon_at(dir) && prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) != 1 &&
			    !overcommit_strict(oc);

		d = anon ? 2 : 1;
		__atomic_store_n(&auto_decided, d, __ATOMIC_RELEASE);
	}
	return d == 2;
}

/**
 * arena_auto_reset - for tests: forget arena_auto_anon()'s decision, and
 * from now on take the transparent huge page controls from directory
 * `dir` and the overcommit mode from file `overcommit` (NULL: the host's).
 * No system may be being created meanwhile.
 */
void arena_auto_reset(const char *dir, const char *overcommit)
{
	__atomic_store_n(&auto_controls, dir ? dir : THP_CONTROLS, __ATOMIC_RELAXED);
	__atomic_store_n(&auto_overcommit, overcommit ? overcommit : OVERCOMMIT_MODE,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&auto_decided, 0, __ATOMIC_RELEASE);
}
