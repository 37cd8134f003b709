/* SPDX-License-Identifier: MIT */
/*
 * test_reclaim.c - page reclaim (vmscan.c): usermm runs in phys_bytes
 * and loses nothing.
 *
 * "Nothing lost": working sets 4x the physical memory (2 MiB systems,
 * 8 MiB files) of clean file pages, dirty shared file pages, private
 * copy-on-write pages after fork, nonlinear windows and several threads
 * in their own address spaces with kswapd running, each written or
 * filled with known patterns and read back after heavy reclaim, then
 * checked in the file itself; anonymous and shmem memory larger than
 * physical memory, after fork, through a swap file, and anonymous memory
 * of the threads too.
 * Direct reclaim is driven, with kswapd off and the free frames at the
 * min watermark, from the allocations of an anonymous fault (page table
 * and frame), a private file write, fork, a copy-on-write fault,
 * MADV_POPULATE_WRITE, pinning an uncached file page, and shmem
 * (WILLNEED, write fault); the debug build's lock checker watches the
 * lock order.  A writeback error keeps the page dirty and reaches msync.
 * Memory that is all pinned, mlocked, or anonymous without swap or with
 * the swap device full, gives -ENOMEM and an OOM event, and the system works again
 * once it is released.
 * MADV_PAGEOUT and MADV_COLD, with their bad inputs; umm_mincore shows
 * evicted pages as not resident.
 *
 * Runs under both reverse-map schemes (run.sh sets UMM_RMAP).
 */
#include <fcntl.h>
#include <pthread.h>
#include <usermm/usermm.h>
#include "test.h"
#include "vmscan.h"
#include "system.h"
#include "page_alloc.h"
#include "swap.h"

#define P UMM_PAGE_SIZE
#define PHYS (2UL << 20)
#define FILE_PAGES (4 * PHYS / P)          /* 4x physical memory */

static struct umm_system *dbg_sys;
static long count_resident(struct umm_mm *mm, uintptr_t a, size_t pages);
/* byte i of page `pg` of pattern `seed` */
static unsigned char pat(uint64_t pg, size_t i, unsigned seed)
{
	return (unsigned char)(pg * 7 + i * 13 + (i >> 5) + seed * 29 + 1);
}

/* file_fill - test_tmpfile's fill function: pattern 0 by file page */
static unsigned char file_fill(size_t off)
{
	return pat(off / P, off % P, 0);
}

static void page_pattern(unsigned char *buf, uint64_t pg, unsigned seed)
{
	for (size_t i = 0; i < P; i++)
		buf[i] = pat(pg, i, seed);
}

/* page_holds - does the page at addr read as pattern (pg, seed)? */
static bool page_holds(struct umm_mm *mm, uintptr_t addr, uint64_t pg, unsigned seed)
{
	unsigned char buf[P], want[P];
	int rc = umm_read(mm, addr, buf, P);

	if (rc) {
		fprintf(stderr, "read at %#lx: %d\n", (unsigned long)addr, rc);
		return false;
	}
	page_pattern(want, pg, seed);
	if (memcmp(buf, want, P)) {
		unsigned s2;
		for (s2 = 0; s2 < 32; s2++) { page_pattern(want, pg, s2); if (!memcmp(buf, want, P)) break; }
		fprintf(stderr, "page %#lx (pg %lu seed %u) differs; matches seed %d\n", (unsigned long)addr, (unsigned long)pg, seed, s2 < 32 ? (int)s2 : -1);
		return false;
	}
	return true;
}

static int write_page(struct umm_mm *mm, uintptr_t addr, uint64_t pg, unsigned seed)
{
	unsigned char buf[P];

	int rc;

	page_pattern(buf, pg, seed);
	rc = umm_write(mm, addr, buf, P);
	if (rc) {
		struct umm_sys_stats st;
		umm_system_stats(dbg_sys, &st);
		fprintf(stderr, "write at %#lx: %d free %lu scan %lu steal %lu act %lu deact %lu wb %lu lists ia %lu a %lu if %lu af %lu u %lu pc %lu anon %lu pgt %lu slab %lu\n", (unsigned long)addr, rc,
		st.free_frames, st.pgscan, st.pgsteal, st.pgactivate, st.pgdeactivate, st.pgwriteback, st.nr_inactive_anon, st.nr_active_anon, st.nr_inactive_file, st.nr_active_file, st.nr_unevictable, st.pagecache_pages, st.anon_pages, st.pgtable_pages, st.slab_pages);
	}
	return rc;
}

/* file_page_holds - does page pg of the file itself (pread) hold pattern seed? */
static bool file_page_holds(int fd, uint64_t pg, unsigned seed)
{
	unsigned char buf[P], want[P];

	if (pread(fd, buf, P, (off_t)(pg * P)) != (ssize_t)P)
		return false;
	page_pattern(want, pg, seed);
	return memcmp(buf, want, P) == 0;
}

static struct umm_system *reclaim_sys(size_t phys, size_t ra)
{
	struct umm_config cfg = { .phys_bytes = phys, .readahead_max_bytes = ra };
	struct umm_system *s = NULL;

	REQUIRE(umm_system_create(&cfg, &s) == 0);
	dbg_sys = s;
	return s;
}

/* swap_sys - a system of phys bytes with a swap file of swap bytes (unlinked once open). */
static struct umm_system *swap_sys(size_t phys, size_t swap)
{
	char path[] = "/tmp/usermm-reclaim-swap-XXXXXX";
	struct umm_config cfg = { .phys_bytes = phys, .swap_bytes = swap };
	struct umm_system *s = NULL;
	int fd = mkstemp(path);

	REQUIRE(fd >= 0);
	close(fd);
	unlink(path);
	cfg.swap_path = path;
	REQUIRE(umm_system_create(&cfg, &s) == 0);
	unlink(path);
	dbg_sys = s;
	return s;
}

static struct umm_object *open_obj(struct umm_system *s, int fd)
{
	struct umm_object *o = NULL;

	REQUIRE(umm_object_open_fd(s, fd, &o) == 0);
	return o;
}

static struct umm_sys_stats stats(struct umm_system *s)
{
	struct umm_sys_stats st;

	REQUIRE(umm_system_stats(s, &st) == 0);
	return st;
}

/* quiet_check - kswapd asleep, then the full reverse-map check; kswapd back on. */
static void quiet_check(struct umm_system *s)
{
	vmscan_set_kswapd(s, false);
	CHECK_EQ(umm_system_check(s), 0);
	vmscan_set_kswapd(s, true);
}

/* ---- nothing lost: clean file pages ---- */

static void test_clean_file_4x(void)
{
	struct umm_system *s = reclaim_sys(PHYS, 0);
	int fd = test_tmpfile(FILE_PAGES * P, file_fill);
	struct umm_object *o = open_obj(s, fd);
	struct umm_sys_stats st0 = stats(s), st;
	struct umm_mm *mm;
	uintptr_t a;
	unsigned char vec[FILE_PAGES];
	uint64_t rnd = 42;
	long bad = 0, resident = 0;

	REQUIRE(umm_mm_create(s, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, FILE_PAGES * P, PROT_READ, MAP_SHARED, o, 0, &a) == 0);
	for (int pass = 0; pass < 2; pass++)
		for (uint64_t i = 0; i < FILE_PAGES; i++)
			bad += !page_holds(mm, a + i * P, i, 0);
	for (uint64_t n = 0; n < FILE_PAGES; n++) {
		uint64_t i = test_rnd(&rnd) % FILE_PAGES;

		bad += !page_holds(mm, a + i * P, i, 0);
	}
	CHECK_EQ(bad, 0);
	vmscan_set_kswapd(s, false);    /* quiet: no page isolated while the lists are counted */
	st = stats(s);
	CHECK(st.pgsteal >= FILE_PAGES - st.total_frames);
	CHECK(st.pgscan >= st.pgsteal);
	CHECK(st.pagecache_pages < st.total_frames);
	CHECK_EQ(st.oom_events, 0);
	CHECK_EQ(st.nr_inactive_file + st.nr_active_file, st.pagecache_pages);
	/* evicted pages are not resident; what is resident is on the LRU */
	REQUIRE(umm_mincore(mm, a, FILE_PAGES * P, vec) == 0);
	for (uint64_t i = 0; i < FILE_PAGES; i++)
		resident += vec[i] & 1;
	CHECK(resident > 0 && resident < (long)FILE_PAGES);
	CHECK(resident <= (long)st.pagecache_pages);
	CHECK_EQ(umm_system_check(s), 0);
	vmscan_set_kswapd(s, true);
	umm_mm_destroy(mm);
	umm_object_put(o);
	close(fd);
	st = stats(s);
	CHECK_EQ(st.pagecache_pages, 0);
	CHECK_EQ(st.nr_inactive_file + st.nr_active_file, 0);
	/* every frame is back: free, or kept by the slab caches of mm and vma structures */
	CHECK_EQ(st.free_frames + st.slab_pages, st0.free_frames + st0.slab_pages);
	CHECK_EQ(umm_system_destroy(s), 0);
}

/* ---- nothing lost: dirty shared file pages ---- */

static void test_dirty_shared_file_4x(void)
{
	struct umm_system *s = reclaim_sys(PHYS, 0);
	int fd = test_tmpfile(FILE_PAGES * P, NULL);
	struct umm_object *o = open_obj(s, fd);
	struct umm_sys_stats st;
	struct umm_mm *mm;
	uintptr_t a;
	long bad = 0;

	REQUIRE(umm_mm_create(s, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, FILE_PAGES * P, PROT_READ | PROT_WRITE, MAP_SHARED, o, 0, &a) == 0);
	for (uint64_t i = 0; i < FILE_PAGES; i++)
		bad += write_page(mm, a + i * P, i, 1) != 0;
	CHECK_EQ(bad, 0);
	/* rewrite every other page: pages written back once are dirtied again */
	for (uint64_t i = 0; i < FILE_PAGES; i += 2)
		bad += write_page(mm, a + i * P, i, 2) != 0;
	for (uint64_t i = 0; i < FILE_PAGES; i++)
		bad += !page_holds(mm, a + i * P, i, i % 2 ? 1 : 2);
	CHECK_EQ(bad, 0);
	st = stats(s);
	CHECK(st.pgwriteback > 0);
	CHECK(st.pgsteal >= FILE_PAGES - st.total_frames);
	CHECK_EQ(umm_msync(mm, a, FILE_PAGES * P, MS_SYNC), 0);
	for (uint64_t i = 0; i < FILE_PAGES; i++)
		bad += !file_page_holds(fd, i, i % 2 ? 1 : 2);
	CHECK_EQ(bad, 0);
	quiet_check(s);
	umm_mm_destroy(mm);
	umm_object_put(o);
	close(fd);
	CHECK_EQ(umm_system_destroy(s), 0);
}

/* ---- nothing lost: private copy-on-write pages after fork ---- */

static void test_private_cow_after_fork(void)
{
	struct umm_system *s = reclaim_sys(PHYS, 0);
	int fd = test_tmpfile(FILE_PAGES * P, file_fill);
	struct umm_object *o = open_obj(s, fd);
	struct umm_mm *parent, *child;
	uintptr_t a;
	long bad = 0;

	REQUIRE(umm_mm_create(s, &parent) == 0);
	REQUIRE(umm_mmap(parent, 0, FILE_PAGES * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, o, 0, &a) == 0);
	/* every 32nd page gets the parent's private copy (anonymous: stays in memory) */
	for (uint64_t i = 0; i < FILE_PAGES; i += 32)
		bad += write_page(parent, a + i * P, i, 3) != 0;
	/* and the rest is read, so the file pages are mapped when fork copies the ptes */
	for (uint64_t i = 0; i < FILE_PAGES; i++)
		if (i % 32)
			bad += !page_holds(parent, a + i * P, i, 0);
	REQUIRE(umm_fork(parent, &child) == 0);
	for (uint64_t i = 16; i < FILE_PAGES; i += 32)
		bad += write_page(child, a + i * P, i, 4) != 0;
	for (int round = 0; round < 2; round++) {
		for (uint64_t i = 0; i < FILE_PAGES; i++) {
			bad += !page_holds(parent, a + i * P, i, i % 32 == 0 ? 3 : 0);
			bad += !page_holds(child, a + i * P, i, i % 32 == 0 ? 3 : i % 32 == 16 ? 4 : 0);
		}
	}
	CHECK_EQ(bad, 0);
	CHECK(stats(s).pgsteal > 0);
	quiet_check(s);
	umm_mm_destroy(child);
	umm_mm_destroy(parent);
	/* the file never saw a private write */
	for (uint64_t i = 0; i < FILE_PAGES; i++)
		bad += !file_page_holds(fd, i, 0);
	CHECK_EQ(bad, 0);
	umm_object_put(o);
	close(fd);
	CHECK_EQ(umm_system_destroy(s), 0);
}

/* ---- nothing lost: nonlinear windows keep their layout ---- */

#define CHUNK 64        /* pages per remapped chunk */
/*
 * 1 MiB of memory and a 4 MiB file: the object scheme scans a nonlinear
 * vma's every pte for each page it unmaps, so the smaller the faster.
 */
#define NL_PHYS (1UL << 20)
#define NL_PAGES (4 * NL_PHYS / P)

/* window page w shows file page win_pgoff(w): chunks in reverse order */
static uint64_t win_pgoff(uint64_t w)
{
	uint64_t nchunks = NL_PAGES / CHUNK;

	return (nchunks - 1 - w / CHUNK) * CHUNK + w % CHUNK;
}

static void test_nonlinear_window(void)
{
	struct umm_system *s = reclaim_sys(NL_PHYS, 0);
	int fd = test_tmpfile(NL_PAGES * P, NULL);
	struct umm_object *o = open_obj(s, fd);
	struct umm_mm *mm;
	uintptr_t a;
	long bad = 0;

	REQUIRE(umm_mm_create(s, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, NL_PAGES * P, PROT_READ | PROT_WRITE, MAP_SHARED, o, 0, &a) == 0);
	for (uint64_t c = 0; c < NL_PAGES / CHUNK; c++)
		REQUIRE(umm_remap_file_pages(mm, a + c * CHUNK * P, CHUNK * P, 0,
					     win_pgoff(c * CHUNK), MAP_NONBLOCK) == 0);
	for (uint64_t w = 0; w < NL_PAGES; w++)
		bad += write_page(mm, a + w * P, win_pgoff(w), 5) != 0;
	CHECK_EQ(bad, 0);
	for (int round = 0; round < 2; round++)
		for (uint64_t w = 0; w < NL_PAGES; w++)
			bad += !page_holds(mm, a + w * P, win_pgoff(w), 5);
	CHECK_EQ(bad, 0);
	CHECK(stats(s).pgsteal >= NL_PAGES - stats(s).total_frames);
	CHECK_EQ(umm_msync(mm, a, NL_PAGES * P, MS_SYNC), 0);   /* writes what the window shows */
	for (uint64_t pg = 0; pg < NL_PAGES; pg++)
		bad += !file_page_holds(fd, pg, 5);
	CHECK_EQ(bad, 0);
	quiet_check(s);
	umm_mm_destroy(mm);
	umm_object_put(o);
	close(fd);
	CHECK_EQ(umm_system_destroy(s), 0);
}

/* ---- nothing lost: threads, each in its own mm, with kswapd ---- */

#define NR_THREADS 3
#if defined(__SANITIZE_THREAD__)
#define THREAD_ROUNDS 1
#else
#define THREAD_ROUNDS 3
#endif

struct worker {
	struct umm_system *sys;
	struct umm_object *obj, *clean;
	int id;
	pthread_t tid;
};

#define ANON_PAGES (PHYS / P / 2)          /* per thread: together 1.5x memory, through swap */

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct umm_mm *mm;
	uintptr_t a, c, an;

	TCHECK(umm_mm_create(w->sys, &mm) == 0);
	TCHECK(umm_mmap(mm, 0, FILE_PAGES * P, PROT_READ | PROT_WRITE, MAP_SHARED, w->obj, 0, &a) == 0);
	TCHECK(umm_mmap(mm, 0, FILE_PAGES * P, PROT_READ, MAP_SHARED, w->clean, 0, &c) == 0);
	TCHECK(umm_mmap(mm, 0, ANON_PAGES * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &an) == 0);
	for (int r = 0; r < THREAD_ROUNDS; r++) {
		long bad = 0;

		for (uint64_t i = 0; i < ANON_PAGES; i++)
			bad += write_page(mm, an + i * P, i, 30 + (unsigned)(w->id * 4 + r)) != 0;

		/* this thread's pages of the shared file: i % NR_THREADS == id */
		for (uint64_t i = (uint64_t)w->id; i < FILE_PAGES; i += NR_THREADS)
			bad += write_page(mm, a + i * P, i, 10 + (unsigned)r) != 0;
		/* and everyone's clean pages */
		for (uint64_t i = 0; i < FILE_PAGES; i += NR_THREADS)
			bad += !page_holds(mm, c + i * P, i, 0);
		for (uint64_t i = (uint64_t)w->id; i < FILE_PAGES; i += NR_THREADS)
			bad += !page_holds(mm, a + i * P, i, 10 + (unsigned)r);
		for (uint64_t i = 0; i < ANON_PAGES; i++)
			bad += !page_holds(mm, an + i * P, i, 30 + (unsigned)(w->id * 4 + r));
		TCHECK(bad == 0);
	}
	umm_mm_destroy(mm);
	return NULL;
}

static void test_threads_kswapd(void)
{
	struct umm_system *s = swap_sys(PHYS, 16UL << 20);
	int fd = test_tmpfile(FILE_PAGES * P, NULL), cfd = test_tmpfile(FILE_PAGES * P, file_fill);
	struct umm_object *o = open_obj(s, fd), *co = open_obj(s, cfd);
	struct worker w[NR_THREADS];
	struct umm_sys_stats st;
	long bad = 0;

	for (int t = 0; t < NR_THREADS; t++) {
		w[t] = (struct worker){ .sys = s, .obj = o, .clean = co, .id = t };
		REQUIRE(pthread_create(&w[t].tid, NULL, worker_fn, &w[t]) == 0);
	}
	for (int t = 0; t < NR_THREADS; t++)
		pthread_join(w[t].tid, NULL);
	test_fold_thread_checks();
	st = stats(s);
	CHECK(st.kswapd_wakeups > 0);
	CHECK(st.pgsteal > 0);
	CHECK(st.pswpout > 0 && st.pswpin > 0);
	CHECK_EQ(st.oom_events, 0);
	CHECK_EQ(umm_object_sync(o, 0, 0), 0);
	for (uint64_t i = 0; i < FILE_PAGES; i++)
		bad += !file_page_holds(fd, i, 10 + THREAD_ROUNDS - 1);
	CHECK_EQ(bad, 0);
	umm_object_put(o);
	umm_object_put(co);
	close(fd);
	close(cfd);
	CHECK_EQ(umm_system_destroy(s), 0);
}

/*
 * Truncating a shmem object while reclaim sends its pages to swap: a page
 * that goes to swap after the truncate op freed the object's swap entries
 * but before the scan of the cache reaches it must not leave its entry
 * behind.  Each round writes 3x physical memory into a fresh object (so
 * kswapd and direct reclaim are swapping its pages out as the writes
 * end) and truncates it to 0 at once: afterwards (once kswapd's pass
 * in flight is over) the object has no swap entry and the swap file no
 * slot in use.
 */
static void test_truncate_while_swapping(void)
{
	struct umm_system *s = swap_sys(PHYS, 16UL << 20);
	const size_t pages = 3 * PHYS / P;
	char buf[P];
	long left = 0, used = 0;

	for (int round = 0; round < 20; round++) {
		struct umm_object *shm = NULL;

		REQUIRE(umm_object_create_shmem(s, pages * P, &shm) == 0);
		for (size_t i = 0; i < pages; i++) {
			memset(buf, (int)(i + round), sizeof(buf));
			CHECK_EQ(umm_object_write(shm, buf, P, i * P), (ssize_t)P);
		}
		CHECK_EQ(umm_object_truncate(shm, 0), 0);
		/*
		 * kswapd may be finishing a swap-out of a page the truncate no
		 * longer found in the cache: the page's entry is gone with the
		 * truncate op, but the swap-out's own claim on the slot is
		 * dropped a moment later (shmem_swapout).  Counted once its pass
		 * is over; a leaked entry or slot stays and is counted.
		 */
		kswapd_pause(s);
		left += (long)shmem_nr_swapped(shm);
		used += (long)stats(s).swap_used;
		kswapd_resume(s);
		umm_object_put(shm);
	}
	CHECK_EQ(left, 0);
	CHECK_EQ(used, 0);
	CHECK(stats(s).pswpout > 0);
	CHECK_EQ(stats(s).swap_used, 0);
	CHECK_EQ(umm_system_destroy(s), 0);
}

/* ---- nothing lost: anonymous and shmem pages through swap ---- */

/*
 * Anonymous memory 2x physical memory, shared copy-on-write with a forked
 * child that writes part of it, and a shmem object of 1x: all written
 * with patterns and read back (twice, in both address spaces) after they
 * went to swap and came back.
 */
static void test_anon_shmem_swap(void)
{
	struct umm_system *s = swap_sys(PHYS, 16UL << 20);
	size_t anon_pages = 2 * PHYS / P, shm_pages = PHYS / P;
	struct umm_object *shm = NULL;
	struct umm_mm *parent, *child;
	struct umm_sys_stats st;
	uintptr_t a, sh;
	long bad = 0;

	REQUIRE(umm_mm_create(s, &parent) == 0);
	REQUIRE(umm_object_create_shmem(s, shm_pages * P, &shm) == 0);
	REQUIRE(umm_mmap(parent, 0, anon_pages * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a) == 0);
	REQUIRE(umm_mmap(parent, 0, shm_pages * P, PROT_READ | PROT_WRITE, MAP_SHARED, shm, 0, &sh) == 0);
	for (uint64_t i = 0; i < anon_pages; i++)
		bad += write_page(parent, a + i * P, i, 20) != 0;
	for (uint64_t i = 0; i < shm_pages; i++)
		bad += write_page(parent, sh + i * P, i, 21) != 0;
	CHECK_EQ(bad, 0);
	REQUIRE(umm_fork(parent, &child) == 0);
	for (uint64_t i = 0; i < anon_pages; i += 4)
		bad += write_page(child, a + i * P, i, 22) != 0;
	for (uint64_t i = 1; i < shm_pages; i += 4)
		bad += write_page(child, sh + i * P, i, 23) != 0;   /* shared: the parent sees it */
	for (int round = 0; round < 2; round++) {
		for (uint64_t i = 0; i < anon_pages; i++) {
			bad += !page_holds(parent, a + i * P, i, 20);
			bad += !page_holds(child, a + i * P, i, i % 4 ? 20 : 22);
		}
		for (uint64_t i = 0; i < shm_pages; i++) {
			bad += !page_holds(parent, sh + i * P, i, i % 4 == 1 ? 23 : 21);
			bad += !page_holds(child, sh + i * P, i, i % 4 == 1 ? 23 : 21);
		}
	}
	CHECK_EQ(bad, 0);
	st = stats(s);
	CHECK(st.pswpout > 0);
	CHECK(st.pswpin > 0);
	CHECK(st.pgsteal > 0);
	CHECK_EQ(st.oom_events, 0);
	quiet_check(s);
	umm_mm_destroy(child);
	umm_mm_destroy(parent);
	umm_object_put(shm);
	st = stats(s);
	CHECK_EQ(st.swap_used, 0);
	CHECK_EQ(st.anon_pages, 0);
	CHECK_EQ(umm_system_destroy(s), 0);
}

/*
 * A swap device smaller than the anonymous working set: once it is full,
 * reclaim skips anonymous pages (-ENOMEM and an OOM event for the write
 * that finds no room, no crash), goes on evicting file pages, and what
 * was written, in memory or in swap, reads back.
 */
static void test_swap_full(void)
{
	struct umm_system *s = swap_sys(PHYS, 1UL << 20);     /* 256 slots */
	int fd = test_tmpfile(FILE_PAGES * P, file_fill);
	struct umm_object *o = open_obj(s, fd);
	struct umm_mm *mm;
	uintptr_t a, c;
	uint64_t i, written;
	long bad = 0;
	int rc = 0;

	REQUIRE(umm_mm_create(s, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, FILE_PAGES * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a) == 0);
	REQUIRE(umm_mmap(mm, 0, FILE_PAGES * P, PROT_READ, MAP_SHARED, o, 0, &c) == 0);
	for (i = 0; i < FILE_PAGES; i++) {
		rc = write_page(mm, a + i * P, i, 24);
		if (rc)
			break;
	}
	written = i;
	CHECK_EQ(rc, -ENOMEM);
	CHECK(written > PHYS / P);                  /* swap took some */
	CHECK_EQ(stats(s).swap_used, stats(s).swap_total);    /* every slot taken */
	CHECK(stats(s).oom_events > 0);
	/* give half of it back: file pages can still come and go */
	CHECK_EQ(umm_munmap(mm, a + written / 2 * P, (FILE_PAGES - written / 2) * P), 0);
	for (i = 0; i < FILE_PAGES; i++)
		bad += !page_holds(mm, c + i * P, i, 0);
	for (i = 0; i < written / 2; i++)
		bad += !page_holds(mm, a + i * P, i, 24);
	CHECK_EQ(bad, 0);
	umm_mm_destroy(mm);
	umm_object_put(o);
	close(fd);
	CHECK_EQ(umm_system_destroy(s), 0);
}

/* ---- direct reclaim from every allocation site ---- */

struct pressure {
	struct umm_system *sys;
	struct umm_mm *mm;
	uintptr_t base;          /* a clean file of FILE_PAGES mapped shared, read-only */
	uint64_t next;
};

/*
 * to_min - read clean file pages (readahead off: one frame each) until
 * the free frames are at the min watermark, so the next allocation must
 * reclaim directly (kswapd is off).
 */
static void to_min(struct pressure *pr)
{
	for (int n = 0; n < 100000; n++) {
		struct umm_sys_stats st = stats(pr->sys);

		if (st.free_frames <= st.wmark_min)
			return;
		REQUIRE(page_holds(pr->mm, pr->base + pr->next * P, pr->next, 0));
		pr->next = (pr->next + 1) % FILE_PAGES;
	}
	REQUIRE(!"free frames never reached the min watermark");
}

static unsigned long direct_reclaims(struct umm_system *s)
{
	return stats(s).direct_reclaims;
}

static void test_direct_reclaim_sites(void)
{
	struct umm_system *s = reclaim_sys(PHYS, P);   /* fault-time readahead off */
	int fd = test_tmpfile(FILE_PAGES * P, file_fill), pfd = test_tmpfile(64 * P, file_fill);
	struct umm_object *o = open_obj(s, fd), *po = open_obj(s, pfd), *shm = NULL;
	struct pressure pr = { .sys = s };
	struct umm_mm *mm, *child = NULL;
	struct umm_page *pins[4];
	uintptr_t anon, priv, shared, sh;
	unsigned long before;

	vmscan_set_kswapd(s, false);
	REQUIRE(umm_mm_create(s, &mm) == 0);
	pr.mm = mm;
	REQUIRE(umm_mmap(mm, 0, FILE_PAGES * P, PROT_READ, MAP_SHARED, o, 0, &pr.base) == 0);
	REQUIRE(umm_object_create_shmem(s, 16 * P, &shm) == 0);

	/* anonymous write fault in a fresh mapping: page table and frame */
	to_min(&pr);
	before = direct_reclaims(s);
	REQUIRE(umm_mmap(mm, 0, 64 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &anon) == 0);
	CHECK_EQ(write_page(mm, anon, 0, 6), 0);
	CHECK(direct_reclaims(s) > before);

	/* private file write: the copy-on-write frame (and the cache page) */
	REQUIRE(umm_mmap(mm, 0, 64 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, po, 0, &priv) == 0);
	to_min(&pr);
	before = direct_reclaims(s);
	CHECK_EQ(write_page(mm, priv, 0, 7), 0);
	CHECK(direct_reclaims(s) > before);

	/* fork: the child's tables, mm and vmas */
	to_min(&pr);
	before = direct_reclaims(s);
	CHECK_EQ(umm_fork(mm, &child), 0);
	CHECK(direct_reclaims(s) > before);

	/* copy-on-write of an anon page shared with the child */
	to_min(&pr);
	before = direct_reclaims(s);
	CHECK_EQ(write_page(mm, anon, 0, 8), 0);
	CHECK(direct_reclaims(s) > before);
	if (child) {
		CHECK(page_holds(child, anon, 0, 6));
		umm_mm_destroy(child);
	}

	/* MADV_POPULATE_WRITE on anonymous memory */
	to_min(&pr);
	before = direct_reclaims(s);
	CHECK_EQ(umm_madvise(mm, anon + P, 32 * P, MADV_POPULATE_WRITE), 0);
	CHECK(direct_reclaims(s) > before);

	/* pinning a file page that is not cached yet (a read into a new cache page) */
	REQUIRE(umm_mmap(mm, 0, 64 * P, PROT_READ | PROT_WRITE, MAP_SHARED, po, 0, &shared) == 0);
	to_min(&pr);
	before = direct_reclaims(s);
	CHECK_EQ(umm_pin_pages(mm, shared + 40 * P, 4, UMM_PIN_WRITE, pins), 4);
	CHECK(direct_reclaims(s) > before);
	umm_unpin_pages(pins, 4, UMM_PIN_WRITE);

	/* shmem: MADV_WILLNEED fills it, a write fault maps it */
	REQUIRE(umm_mmap(mm, 0, 16 * P, PROT_READ | PROT_WRITE, MAP_SHARED, shm, 0, &sh) == 0);
	to_min(&pr);
	before = direct_reclaims(s);
	CHECK_EQ(umm_madvise(mm, sh, 16 * P, MADV_WILLNEED), 0);
	CHECK_EQ(write_page(mm, sh, 0, 9), 0);
	CHECK(direct_reclaims(s) > before);

	/* everything written is still there */
	CHECK(page_holds(mm, anon, 0, 8));
	CHECK(page_holds(mm, priv, 0, 7));
	CHECK(page_holds(mm, sh, 0, 9));
	CHECK(page_holds(mm, shared + 40 * P, 40, 0));
	CHECK_EQ(stats(s).oom_events, 0);
	CHECK_EQ(stats(s).kswapd_wakeups > 0, 1);      /* counted even while kswapd ignores them */
	CHECK_EQ(umm_system_check(s), 0);
	umm_mm_destroy(mm);
	umm_object_put(o);
	umm_object_put(po);
	umm_object_put(shm);
	close(fd);
	close(pfd);
	CHECK_EQ(umm_system_destroy(s), 0);
}

/* ---- writeback errors ---- */

static void test_writeback_error(void)
{
	struct umm_system *s = reclaim_sys(PHYS, 0);
	size_t dirty_pages = 128;
	int fd = test_tmpfile(dirty_pages * P, NULL), cfd = test_tmpfile(FILE_PAGES * P, file_fill);
	struct umm_object *o = open_obj(s, fd), *co = open_obj(s, cfd);
	struct umm_mm *mm;
	uintptr_t a, c;
	long bad = 0;

	REQUIRE(umm_mm_create(s, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, dirty_pages * P, PROT_READ | PROT_WRITE, MAP_SHARED, o, 0, &a) == 0);
	REQUIRE(umm_mmap(mm, 0, FILE_PAGES * P, PROT_READ, MAP_SHARED, co, 0, &c) == 0);
	for (uint64_t i = 0; i < dirty_pages; i++)
		bad += write_page(mm, a + i * P, i, 11) != 0;
	/* every backing write fails from now on; reading 4x memory of clean pages forces reclaim */
	REQUIRE(umm_inject_fault(s, UMM_INJECT_WRITE, 0, -1) == 0);
	for (int pass = 0; pass < 2; pass++)
		for (uint64_t i = 0; i < FILE_PAGES; i++)
			bad += !page_holds(mm, c + i * P, i, 0);
	CHECK_EQ(bad, 0);
	CHECK(umm_inject_hits(s, UMM_INJECT_WRITE) > 0);   /* reclaim tried to write them */
	CHECK(stats(s).pgwriteback > 0);
	/* the failed pages stayed in memory, dirty, with their data */
	for (uint64_t i = 0; i < dirty_pages; i++)
		bad += !page_holds(mm, a + i * P, i, 11);
	CHECK_EQ(bad, 0);
	REQUIRE(umm_inject_fault(s, UMM_INJECT_WRITE, 0, 0) == 0);
	/* the error reaches msync once; the pages are written by it */
	CHECK_EQ(umm_msync(mm, a, dirty_pages * P, MS_SYNC), -EIO);
	CHECK_EQ(umm_msync(mm, a, dirty_pages * P, MS_SYNC), 0);
	for (uint64_t i = 0; i < dirty_pages; i++)
		bad += !file_page_holds(fd, i, 11);
	CHECK_EQ(bad, 0);
	umm_mm_destroy(mm);
	umm_object_put(o);
	umm_object_put(co);
	close(fd);
	close(cfd);
	CHECK_EQ(umm_system_destroy(s), 0);
}

/* ---- out of memory: only pinned or anonymous pages left ---- */

static void test_oom_pinned(void)
{
	struct umm_system *s = reclaim_sys(PHYS, P);
	int fd = test_tmpfile(FILE_PAGES * P, file_fill), ofd = test_tmpfile(64 * P, file_fill);
	struct umm_object *o = open_obj(s, fd), *oo = open_obj(s, ofd);
	struct umm_page **pins = calloc(FILE_PAGES, sizeof(*pins));
	struct umm_mm *mm, *other;
	uintptr_t a, b, oa;
	long n = 0, rc = 0;

	REQUIRE(pins);
	REQUIRE(umm_mm_create(s, &mm) == 0);
	REQUIRE(umm_mm_create(s, &other) == 0);
	/* another address space with a page of its own, resident */
	REQUIRE(umm_mmap(other, 0, 4 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &b) == 0);
	REQUIRE(write_page(other, b, 0, 12) == 0);
	REQUIRE(umm_mmap(mm, 0, FILE_PAGES * P, PROT_READ, MAP_SHARED, o, 0, &a) == 0);
	while (n < (long)FILE_PAGES) {
		rc = umm_pin_pages(mm, a + (uintptr_t)n * P, 1, 0, &pins[n]);
		if (rc != 1)
			break;
		n++;
	}
	CHECK_EQ(rc, -ENOMEM);
	CHECK(n > 0 && n < (long)FILE_PAGES);
	CHECK(stats(s).oom_events > 0);
	/* nothing crashed: the other address space still reads its page */
	CHECK(page_holds(other, b, 0, 12));
	CHECK_EQ(umm_read(mm, a + (uintptr_t)n * P, (char[8]){ 0 }, 8), -ENOMEM);
	for (long i = 0; i < n; i++)
		umm_unpin_pages(&pins[i], 1, 0);
	/* released: everything works again, in both address spaces */
	REQUIRE(umm_mmap(other, 0, 64 * P, PROT_READ, MAP_SHARED, oo, 0, &oa) == 0);
	for (uint64_t i = 0; i < 64; i++)
		CHECK(page_holds(other, oa + i * P, i, 0));
	CHECK(page_holds(mm, a + (uintptr_t)n * P, (uint64_t)n, 0));
	CHECK_EQ(umm_system_check(s), 0);
	free(pins);
	umm_mm_destroy(mm);
	umm_mm_destroy(other);
	umm_object_put(o);
	umm_object_put(oo);
	close(fd);
	close(ofd);
	CHECK_EQ(umm_system_destroy(s), 0);
}

/*
 * Memory exhausted by mlocked pages (with swap configured: locked pages
 * still may not go there): -ENOMEM and an OOM event, nothing crashes (the
 * other address space's page, swapped out, may not come back until
 * memory is released); after munlock everything works again, that page
 * holds its data and the formerly locked pages are reclaimed.
 */
static void test_oom_mlocked(void)
{
	struct umm_system *s = swap_sys(PHYS, 4UL << 20);
	int fd = test_tmpfile(FILE_PAGES * P, file_fill), ofd = test_tmpfile(64 * P, file_fill);
	struct umm_object *o = open_obj(s, fd), *oo = open_obj(s, ofd);
	struct umm_mm *mm, *other;
	uintptr_t a, b, oa;
	long locked = 0, bad = 0;
	int rc = 0;

	REQUIRE(umm_mm_create(s, &mm) == 0);
	REQUIRE(umm_mm_create(s, &other) == 0);
	REQUIRE(umm_mmap(other, 0, 4 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &b) == 0);
	REQUIRE(write_page(other, b, 0, 18) == 0);
	REQUIRE(umm_mmap(mm, 0, FILE_PAGES * P, PROT_READ, MAP_SHARED, o, 0, &a) == 0);
	/* lock 16 pages at a time until memory runs out */
	while (locked < (long)FILE_PAGES) {
		rc = umm_mlock(mm, a + (uintptr_t)locked * P, 16 * P);
		if (rc)
			break;
		locked += 16;
	}
	CHECK(rc == -EAGAIN || rc == -ENOMEM);
	CHECK(locked > 0 && locked < (long)FILE_PAGES);
	CHECK(stats(s).oom_events > 0);
	/* the other mm's page went to swap: no frame to read it back into yet, and no crash */
	rc = umm_read(other, b, (char[8]){ 0 }, 8);
	CHECK(rc == 0 || rc == -ENOMEM);
	CHECK_EQ(count_resident(mm, a, (size_t)locked), locked);   /* locked pages stayed */
	CHECK_EQ(umm_munlock(mm, a, FILE_PAGES * P), 0);
	CHECK(page_holds(other, b, 0, 18));
	REQUIRE(umm_mmap(other, 0, 64 * P, PROT_READ, MAP_SHARED, oo, 0, &oa) == 0);
	for (uint64_t i = 0; i < 64; i++)
		bad += !page_holds(other, oa + i * P, i, 0);
	for (uint64_t i = 0; i < FILE_PAGES; i++)
		bad += !page_holds(mm, a + i * P, i, 0);
	CHECK_EQ(bad, 0);
	CHECK(count_resident(mm, a, (size_t)locked) < locked);    /* unlocked pages were reclaimed */
	quiet_check(s);
	umm_mm_destroy(mm);
	umm_mm_destroy(other);
	umm_object_put(o);
	umm_object_put(oo);
	close(fd);
	close(ofd);
	CHECK_EQ(umm_system_destroy(s), 0);
}

static void test_oom_anon_without_swap(void)
{
	struct umm_system *s = reclaim_sys(PHYS, 0);
	struct umm_mm *mm;
	uintptr_t a;
	uint64_t i;
	int rc = 0;

	REQUIRE(umm_mm_create(s, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, FILE_PAGES * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a) == 0);
	for (i = 0; i < FILE_PAGES; i++) {
		rc = write_page(mm, a + i * P, i, 13);
		if (rc)
			break;
	}
	CHECK_EQ(rc, -ENOMEM);
	CHECK(i > 0 && i < FILE_PAGES);
	CHECK(stats(s).oom_events > 0);
	CHECK(page_holds(mm, a, 0, 13));               /* what was written is there */
	CHECK_EQ(umm_munmap(mm, a + P, (FILE_PAGES - 1) * P), 0);
	CHECK_EQ(write_page(mm, a, 0, 14), 0);
	CHECK(page_holds(mm, a, 0, 14));
	umm_mm_destroy(mm);
	CHECK_EQ(umm_system_destroy(s), 0);
}

/* ---- MADV_PAGEOUT and MADV_COLD ---- */

static long count_resident(struct umm_mm *mm, uintptr_t a, size_t pages)
{
	unsigned char vec[1024];
	long n = 0;

	REQUIRE(pages <= sizeof(vec));
	REQUIRE(umm_mincore(mm, a, pages * P, vec) == 0);
	for (size_t i = 0; i < pages; i++)
		n += vec[i] & 1;
	return n;
}

static void test_madv_pageout(void)
{
	struct umm_system *s = reclaim_sys(8UL << 20, 0);
	size_t pages = 256;
	int fd = test_tmpfile(pages * P, file_fill);
	struct umm_object *o = open_obj(s, fd);
	struct umm_mm *mm;
	struct umm_sys_stats st0, st;
	uintptr_t a, anon;
	long bad = 0;

	REQUIRE(umm_mm_create(s, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, pages * P, PROT_READ | PROT_WRITE, MAP_SHARED, o, 0, &a) == 0);
	for (uint64_t i = 0; i < pages; i++)
		bad += !page_holds(mm, a + i * P, i, 0);
	for (uint64_t i = 0; i < pages; i += 4)
		bad += write_page(mm, a + i * P, i, 15) != 0;
	CHECK_EQ(bad, 0);
	CHECK_EQ(count_resident(mm, a, pages), (long)pages);

	/* bad input changes nothing */
	CHECK_EQ(umm_madvise(mm, a + 1, P, MADV_PAGEOUT), -EINVAL);
	CHECK_EQ(umm_madvise(mm, a + pages * P - P, 2 * P, MADV_PAGEOUT), -ENOMEM);   /* runs into a hole */
	CHECK_EQ(umm_madvise(NULL, a, P, MADV_PAGEOUT), -EINVAL);
	CHECK_EQ(umm_madvise(mm, a + pages * P - P, 2 * P, MADV_COLD), -ENOMEM);
	CHECK_EQ(count_resident(mm, a, pages), (long)pages);

	st0 = stats(s);
	CHECK_EQ(umm_madvise(mm, a, pages * P, MADV_PAGEOUT), 0);
	st = stats(s);
	CHECK_EQ(count_resident(mm, a, pages), 0);
	CHECK_EQ(st.pgsteal - st0.pgsteal, pages);
	CHECK_EQ(st.pgwriteback - st0.pgwriteback, pages / 4);
	CHECK_EQ(st.pagecache_pages, st0.pagecache_pages - pages);
	/* the written pages reached the file before their frames went */
	for (uint64_t i = 0; i < pages; i++)
		bad += !file_page_holds(fd, i, i % 4 ? 0 : 15);
	for (uint64_t i = 0; i < pages; i++)
		bad += !page_holds(mm, a + i * P, i, i % 4 ? 0 : 15);
	CHECK_EQ(bad, 0);

	/* anonymous pages without swap stay where they are (with swap: test_madv_pageout_swap) */
	REQUIRE(umm_mmap(mm, 0, 8 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &anon) == 0);
	for (uint64_t i = 0; i < 8; i++)
		bad += write_page(mm, anon + i * P, i, 16) != 0;
	CHECK_EQ(umm_madvise(mm, anon, 8 * P, MADV_PAGEOUT), 0);
	CHECK_EQ(count_resident(mm, anon, 8), 8);
	for (uint64_t i = 0; i < 8; i++)
		bad += !page_holds(mm, anon + i * P, i, 16);
	CHECK_EQ(bad, 0);
	CHECK_EQ(umm_system_check(s), 0);
	umm_mm_destroy(mm);
	umm_object_put(o);
	close(fd);
	CHECK_EQ(umm_system_destroy(s), 0);
}

/*
 * Reclaim writes dirty file pages in runs: MADV_PAGEOUT of 128 dirty
 * pages of one file is a few pwritev calls (one per reclaim batch of 64),
 * not 128 pwrites, and every page reaches the file before its frame goes.
 * With the 11th page's write failing, that page alone stays, dirty, with
 * its data; the ones before and after it in the run are written and
 * evicted; the error reaches msync once, which then writes the page.
 */
static void test_file_pageout_batched(void)
{
	struct umm_system *s = reclaim_sys(8UL << 20, 0);
	size_t pages = 128;
	int fd = test_tmpfile(pages * P, NULL);
	struct umm_object *o = open_obj(s, fd);
	struct umm_sys_stats st0, st;
	struct umm_mm *mm;
	uintptr_t a;
	long bad = 0;
	unsigned char vec[128];

	vmscan_set_kswapd(s, false);
	REQUIRE(umm_mm_create(s, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, pages * P, PROT_READ | PROT_WRITE, MAP_SHARED, o, 0, &a) == 0);
	for (uint64_t i = 0; i < pages; i++)
		bad += write_page(mm, a + i * P, i, 31) != 0;
	st0 = stats(s);
	CHECK_EQ(umm_madvise(mm, a, pages * P, MADV_PAGEOUT), 0);
	st = stats(s);
	CHECK_EQ(count_resident(mm, a, pages), 0);
	CHECK_EQ(st.pgsteal - st0.pgsteal, pages);
	CHECK_EQ(st.pgwriteback - st0.pgwriteback, pages);
	CHECK_EQ(st.file_write_pages - st0.file_write_pages, pages);
	CHECK(st.file_write_requests - st0.file_write_requests >= 2);  /* two batches of 64 */
	CHECK(st.file_write_requests - st0.file_write_requests <= 4);
	for (uint64_t i = 0; i < pages; i++)
		bad += !file_page_holds(fd, i, 31);
	CHECK_EQ(bad, 0);

	/* the 11th page's write fails */
	for (uint64_t i = 0; i < pages; i++)
		bad += write_page(mm, a + i * P, i, 32) != 0;
	REQUIRE(umm_inject_fault(s, UMM_INJECT_WRITE, 10, 1) == 0);
	st0 = stats(s);
	CHECK_EQ(umm_madvise(mm, a, pages * P, MADV_PAGEOUT), 0);
	st = stats(s);
	CHECK_EQ(umm_inject_hits(s, UMM_INJECT_WRITE), 1);
	CHECK_EQ(st.pgsteal - st0.pgsteal, pages - 1);
	CHECK_EQ(st.file_write_pages - st0.file_write_pages, pages - 1);
	REQUIRE(umm_mincore(mm, a, pages * P, vec) == 0);
	for (uint64_t i = 0; i < pages; i++)
		bad += (vec[i] & 1) != (i == 10);
	for (uint64_t i = 0; i < pages; i++)
		bad += !file_page_holds(fd, i, i == 10 ? 31 : 32);
	CHECK_EQ(bad, 0);
	CHECK_EQ(umm_system_check(s), 0);
	CHECK_EQ(umm_msync(mm, a, pages * P, MS_SYNC), -EIO);
	CHECK_EQ(umm_msync(mm, a, pages * P, MS_SYNC), 0);
	for (uint64_t i = 0; i < pages; i++)
		bad += !file_page_holds(fd, i, 32) || !page_holds(mm, a + i * P, i, 32);
	CHECK_EQ(bad, 0);
	REQUIRE(umm_inject_fault(s, UMM_INJECT_WRITE, 0, 0) == 0);
	vmscan_set_kswapd(s, true);
	umm_mm_destroy(mm);
	umm_object_put(o);
	close(fd);
	CHECK_EQ(umm_system_destroy(s), 0);
}

/* MADV_PAGEOUT sends anonymous pages to swap; they come back on access. */
static void test_madv_pageout_swap(void)
{
	struct umm_system *s = swap_sys(8UL << 20, 4UL << 20);
	struct umm_mm *mm;
	struct umm_sys_stats st0, st;
	uintptr_t anon;
	long bad = 0;

	REQUIRE(umm_mm_create(s, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, 64 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &anon) == 0);
	for (uint64_t i = 0; i < 64; i++)
		bad += write_page(mm, anon + i * P, i, 17) != 0;
	st0 = stats(s);
	CHECK_EQ(umm_madvise(mm, anon, 64 * P, MADV_PAGEOUT), 0);
	st = stats(s);
	CHECK_EQ(count_resident(mm, anon, 64), 0);
	CHECK_EQ(st.pgsteal - st0.pgsteal, 64);
	CHECK_EQ(st.pswpout - st0.pswpout, 64);
	CHECK_EQ(st.anon_pages, 0);
	for (uint64_t i = 0; i < 64; i++)
		bad += !page_holds(mm, anon + i * P, i, 17);
	CHECK_EQ(bad, 0);
	CHECK_EQ(count_resident(mm, anon, 64), 64);
	CHECK_EQ(umm_system_check(s), 0);
	umm_mm_destroy(mm);
	CHECK_EQ(umm_system_destroy(s), 0);
}

/*
 * Reclaim writes anonymous pages to swap in batches: MADV_PAGEOUT of 64
 * written pages is a few backend writes, not 64.  With every swap write
 * failing, the pages stay in memory, dirty, back on the LRU; nothing is
 * counted as stolen or swapped out, and every page reads back.  With the
 * device working again they go out and come back.
 */
static void test_swap_write_error_batch(void)
{
	struct umm_system *s = swap_sys(8UL << 20, 4UL << 20);
	struct umm_mm *mm;
	struct umm_sys_stats st0, st;
	uintptr_t anon;
	long bad = 0;

	REQUIRE(umm_mm_create(s, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, 64 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &anon) == 0);
	for (uint64_t i = 0; i < 64; i++)
		bad += write_page(mm, anon + i * P, i, 23) != 0;
	vmscan_set_kswapd(s, false);
	REQUIRE(umm_inject_fault(s, UMM_INJECT_SWAP_WRITE, 0, -1) == 0);
	st0 = stats(s);
	CHECK_EQ(umm_madvise(mm, anon, 64 * P, MADV_PAGEOUT), 0);
	st = stats(s);
	CHECK(umm_inject_hits(s, UMM_INJECT_SWAP_WRITE) > 0);
	CHECK(st.swap_write_errors - st0.swap_write_errors > 0);
	CHECK(st.swap_write_errors - st0.swap_write_errors <= 2);       /* one per run of slots */
	CHECK_EQ(st.pgsteal - st0.pgsteal, 0);
	CHECK_EQ(st.pswpout - st0.pswpout, 0);
	CHECK_EQ(st.nr_active_anon + st.nr_inactive_anon, 64);  /* nothing lost: all back on the LRU */
	CHECK_EQ(st.swap_cache_pages, 64);                      /* dirty, where their swap ptes find them */
	CHECK_EQ(umm_system_check(s), 0);
	REQUIRE(umm_inject_fault(s, UMM_INJECT_SWAP_WRITE, 0, 0) == 0);
	for (uint64_t i = 0; i < 64; i++)
		bad += !page_holds(mm, anon + i * P, i, 23);
	CHECK_EQ(bad, 0);
	CHECK_EQ(stats(s).pswpin, 0);                           /* found in the swap cache */
	st0 = stats(s);
	CHECK_EQ(umm_madvise(mm, anon, 64 * P, MADV_PAGEOUT), 0);
	st = stats(s);
	CHECK_EQ(count_resident(mm, anon, 64), 0);
	CHECK_EQ(st.pgsteal - st0.pgsteal, 64);
	CHECK_EQ(st.pswpout - st0.pswpout, 64);
	CHECK(st.swap_write_requests - st0.swap_write_requests <= 2);   /* batched */
	CHECK_EQ(st.anon_pages, 0);
	for (uint64_t i = 0; i < 64; i++)
		bad += !page_holds(mm, anon + i * P, i, 23);
	CHECK_EQ(bad, 0);
	CHECK_EQ(umm_system_check(s), 0);
	vmscan_set_kswapd(s, true);
	umm_mm_destroy(mm);
	CHECK_EQ(umm_system_destroy(s), 0);
}

/*
 * MADV_COLD: file B is read first, then A; A is advised cold.  Light
 * pressure then evicts A's pages before any of B's (B's ptes are still
 * young: a second chance), where without the advice the older B would go
 * first.
 */
static void test_madv_cold(void)
{
	struct umm_system *s = reclaim_sys(4UL << 20, P);
	size_t pages = 256;
	int afd = test_tmpfile(pages * P, file_fill), bfd = test_tmpfile(pages * P, file_fill);
	int cfd = test_tmpfile(FILE_PAGES * P, file_fill);
	struct umm_object *ao = open_obj(s, afd), *bo = open_obj(s, bfd), *co = open_obj(s, cfd);
	struct umm_mm *mm;
	uintptr_t a, b, c;
	unsigned long deact;
	long bad = 0;
	uint64_t i;

	vmscan_set_kswapd(s, false);    /* one reclaimer, this thread: the order is the lists' */
	REQUIRE(umm_mm_create(s, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, pages * P, PROT_READ, MAP_SHARED, ao, 0, &a) == 0);
	REQUIRE(umm_mmap(mm, 0, pages * P, PROT_READ, MAP_SHARED, bo, 0, &b) == 0);
	REQUIRE(umm_mmap(mm, 0, FILE_PAGES * P, PROT_READ, MAP_SHARED, co, 0, &c) == 0);
	for (i = 0; i < pages; i++)
		bad += !page_holds(mm, b + i * P, i, 0);
	for (i = 0; i < pages; i++)
		bad += !page_holds(mm, a + i * P, i, 0);
	deact = stats(s).pgdeactivate;
	CHECK_EQ(umm_madvise(mm, a, pages * P, MADV_COLD), 0);
	CHECK(stats(s).pgdeactivate >= deact);
	CHECK_EQ(count_resident(mm, a, pages), (long)pages);   /* cold is not gone */
	/* read C until the first page of A or B has been evicted, plus a little */
	for (i = 0; i < FILE_PAGES && count_resident(mm, a, pages) == (long)pages &&
		    count_resident(mm, b, pages) == (long)pages; i++)
		bad += !page_holds(mm, c + i * P, i, 0);
	CHECK(i < FILE_PAGES);
	CHECK(count_resident(mm, a, pages) < (long)pages);
	CHECK_EQ(count_resident(mm, b, pages), (long)pages);
	for (i = 0; i < pages; i++)
		bad += !page_holds(mm, a + i * P, i, 0);
	CHECK_EQ(bad, 0);
	umm_mm_destroy(mm);
	umm_object_put(ao);
	umm_object_put(bo);
	umm_object_put(co);
	close(afd);
	close(bfd);
	close(cfd);
	CHECK_EQ(umm_system_destroy(s), 0);
}

static const char *only;
/* ---- freeing a batch of LRU pages (release_pages) ---- */

#define REL_PAGES 150
#define REL_MAIN 100            /* added to the LRU by the main thread */
#define REL_OTHER 30            /* added by another thread: left in its batch */

struct rel_adder {
	struct umm_system *s;
	struct page **pages;
};

static void *rel_add_fn(void *arg)
{
	struct rel_adder *a = arg;

	for (int i = REL_MAIN; i < REL_MAIN + REL_OTHER; i++)
		lru_cache_add(a->s, a->pages[i]);
	return NULL;
}

static unsigned long file_lru_pages(struct umm_system *s)
{
	struct umm_sys_stats st = stats(s);

	return st.nr_active_file + st.nr_inactive_file;
}

/*
 * release_pages frees, in one call, frames on the LRU lists (added by the
 * main thread, batches drained), frames still in two threads' add
 * batches, and frames on no list, in an order that switches between them
 * at every page, with an extra reference held on every seventh: exactly
 * the frames whose last reference went are freed and off every list, the
 * others stay where they were, and dropping the extra references later
 * frees them too.  The lists and the free count end where they began.
 */
static void test_release_pages_batch(void)
{
	struct umm_system *s = reclaim_sys(PHYS, 0);
	struct phys_mem *phys = s->phys;
	struct page *pages[REL_PAGES], *order[REL_PAGES], *kept[REL_PAGES];
	struct rel_adder adder = { .s = s, .pages = pages };
	unsigned long lru0, kept_lru = 0;
	struct phys_stats p0, p1;
	unsigned int nkept = 0;
	pthread_t tid;

	vmscan_set_kswapd(s, false);
	lru0 = file_lru_pages(s);
	phys_get_stats(phys, &p0);
	for (int i = 0; i < REL_PAGES; i++)
		REQUIRE((pages[i] = alloc_page(phys, 0)) != NULL);
	for (int i = 0; i < REL_MAIN; i++)
		lru_cache_add(s, pages[i]);
	REQUIRE(pthread_create(&tid, NULL, rel_add_fn, &adder) == 0);
	pthread_join(tid, NULL);
	CHECK(PageLRU(pages[0]) && PageLRUBatch(pages[REL_MAIN - 1]));
	CHECK(PageLRUBatch(pages[REL_MAIN]) && !PageLRU(pages[REL_MAIN + REL_OTHER]));
	for (int i = 0; i < REL_PAGES; i += 7) {
		get_page(pages[i]);
		kept[nkept++] = pages[i];
		kept_lru += i < REL_MAIN + REL_OTHER;
	}
	for (int i = 0; i < REL_PAGES; i++)
		order[i] = pages[(i * 37) % REL_PAGES];     /* 37 is prime to 150: each page once */
	release_pages(order, REL_PAGES);
	phys_get_stats(phys, &p1);
	CHECK_EQ(p1.nr_free, p0.nr_free - nkept);
	for (int i = 0; i < REL_PAGES; i++) {
		bool listed = PageLRU(pages[i]) || PageLRUBatch(pages[i]);

		if (i % 7 == 0) {
			CHECK_EQ(page_count(pages[i]), 1);
			CHECK_EQ(listed, i < REL_MAIN + REL_OTHER);
		} else {
			CHECK_EQ(page_count(pages[i]), 0);
			CHECK(!listed);
		}
	}
	CHECK_EQ(file_lru_pages(s), lru0 + kept_lru);
	release_pages(kept, nkept);
	release_pages(kept, 0);
	phys_get_stats(phys, &p1);
	CHECK_EQ(p1.nr_free, p0.nr_free);
	CHECK_EQ(file_lru_pages(s), lru0);
	CHECK_EQ(umm_system_check(s), 0);
	CHECK_EQ(umm_system_destroy(s), 0);
}

#undef RUN
#define RUN(fn) do { if (!only || strstr(#fn, only)) { int __f = test_failures; fn(); \
	fprintf(stderr, "%-50s %s\n", #fn, test_failures == __f ? "ok" : "FAILED"); } } while (0)

/* test_reclaim [NAME]: run every test, or those whose name contains NAME */
int main(int argc, char **argv)
{
	only = argc > 1 ? argv[1] : NULL;
	RUN(test_clean_file_4x);
	RUN(test_dirty_shared_file_4x);
	RUN(test_private_cow_after_fork);
	RUN(test_nonlinear_window);
	RUN(test_threads_kswapd);
	RUN(test_anon_shmem_swap);
	RUN(test_truncate_while_swapping);
	RUN(test_swap_full);
	RUN(test_direct_reclaim_sites);
	RUN(test_writeback_error);
	RUN(test_oom_pinned);
	RUN(test_oom_mlocked);
	RUN(test_oom_anon_without_swap);
	RUN(test_madv_pageout);
	RUN(test_file_pageout_batched);
	RUN(test_madv_pageout_swap);
	RUN(test_swap_write_error_batch);
	RUN(test_madv_cold);
	RUN(test_release_pages_batch);
	return test_summary("test_reclaim");
}
