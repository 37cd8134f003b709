/* SPDX-License-Identifier: MIT */
/*
 * test_arena.c - the host memory behind the frames: population in chunks
 * when frames are first handed out, population at creation, punching
 * long-free blocks back to the host (synchronously and by the reporting
 * thread), that punched memory reads back as zeros, that nothing in use
 * is ever punched, and the counters.  Host residency is measured with
 * mincore() on the arena mapping.  Every test runs once with each arena
 * kind (memfd, then anonymous memory: `arena_kind`), but the few that are
 * about one kind only; those are named for it.
 */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "page_alloc.h"
#include "system.h"
#include "test.h"
#include <usermm/host.h>

#define MiB (1UL << 20)
#define BLOCK_FRAMES (1UL << (MAX_ORDER - 1))

/* The arena kind of this pass: the systems and arenas the tests create get it. */
static int arena_kind = UMM_ARENA_MEMFD;

static struct phys_mem *make_phys(size_t bytes, bool populate)
{
	struct phys_params params = { .populate = populate, .anon = arena_kind == UMM_ARENA_ANON };
	struct phys_mem *phys = NULL;

	REQUIRE(phys_create(bytes, &params, &phys) == 0);
	return phys;
}

/* resident_frames - frames of [pfn, pfn+nr) the host has in memory (mincore). */
static unsigned long resident_frames(struct phys_mem *phys, unsigned long pfn, unsigned long nr)
{
	unsigned char *vec = malloc(nr);
	unsigned long i, n = 0;

	REQUIRE(vec);
	REQUIRE(mincore(pfn_to_virt(phys, pfn), nr * PAGE_SIZE, vec) == 0);
	for (i = 0; i < nr; i++)
		n += vec[i] & 1;
	free(vec);
	return n;
}

static struct phys_stats stats(struct phys_mem *phys)
{
	struct phys_stats st;

	phys_get_stats(phys, &st);
	return st;
}

/* frame_pattern - the 8-byte word written at word i of frame pfn. */
static uint64_t frame_pattern(unsigned long pfn, unsigned long i)
{
	return (pfn * 0x9e3779b97f4a7c15ull) ^ (i * 0x2545f4914f6cdd1dull) ^ 0x5a5a;
}

static void fill_frame(struct phys_mem *phys, unsigned long pfn)
{
	uint64_t *w = pfn_to_virt(phys, pfn);
	unsigned long i;

	for (i = 0; i < PAGE_SIZE / 8; i += 61)
		w[i] = frame_pattern(pfn, i);
	w[PAGE_SIZE / 8 - 1] = frame_pattern(pfn, PAGE_SIZE / 8 - 1);
}

static bool frame_intact(struct phys_mem *phys, unsigned long pfn)
{
	uint64_t *w = pfn_to_virt(phys, pfn);
	unsigned long i;

	for (i = 0; i < PAGE_SIZE / 8; i += 61)
		if (w[i] != frame_pattern(pfn, i))
			return false;
	return w[PAGE_SIZE / 8 - 1] == frame_pattern(pfn, PAGE_SIZE / 8 - 1);
}

static bool frame_zero(struct phys_mem *phys, unsigned long pfn)
{
	const uint64_t *w = pfn_to_virt(phys, pfn);
	unsigned long i;

	for (i = 0; i < PAGE_SIZE / 8; i++)
		if (w[i])
			return false;
	return true;
}

static void test_config_bad_inputs(void)
{
	struct umm_system *sys = (struct umm_system *)0x1;
	struct umm_config cfg = { .phys_bytes = 4 * MiB, .populate = 2, .arena = arena_kind };

	CHECK_EQ(umm_system_create(&cfg, &sys), -EINVAL);
	CHECK(sys == (struct umm_system *)0x1);
	cfg.populate = -1;
	CHECK_EQ(umm_system_create(&cfg, &sys), -EINVAL);
	cfg.populate = 0;
	cfg.release_ms = -2;
	CHECK_EQ(umm_system_create(&cfg, &sys), -EINVAL);
	CHECK(sys == (struct umm_system *)0x1);
	cfg.release_ms = -1;
	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	CHECK(sys->phys->reporting == NULL);        /* -1: never */
	umm_system_destroy(sys);
	cfg.release_ms = 0;
	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	CHECK(sys->phys->reporting != NULL);        /* default: a reporting thread */
	umm_system_destroy(sys);
	/* 2^64 ns + 0.45 ms: in ns this wraps to "at once" unless it is clamped */
	cfg.release_ms = 18446744073710L;
	cfg.phys_bytes = 32 * MiB;
	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	{
		struct umm_mm *mm;
		uintptr_t a, off;
		struct umm_sys_stats st;

		REQUIRE(umm_mm_create(sys, &mm) == 0);
		REQUIRE(umm_mmap(mm, 0, 16 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				 NULL, 0, &a) == 0);
		for (off = 0; off < 16 * MiB; off += PAGE_SIZE)
			REQUIRE(umm_write(mm, a + off, &off, sizeof(off)) == 0);
		umm_mm_destroy(mm);
		usleep(100000);
		REQUIRE(umm_system_stats(sys, &st) == 0);
		CHECK_EQ(st.host_released_bytes, 0);
	}
	umm_system_destroy(sys);
}

/* The first frame handed out of a chunk brings the whole chunk in; the next ones cost nothing. */
static void test_populate_on_first_alloc(void)
{
	struct phys_mem *phys = make_phys(16 * MiB, false);
	struct page *a, *b;
	unsigned long chunk;

	CHECK_EQ(stats(phys).populated_bytes, 0);
	CHECK_EQ(stats(phys).populate_ns, 0);
	CHECK_EQ(resident_frames(phys, 0, phys->nr_frames), 0);
	a = alloc_page(phys, GFP_KERNEL);
	REQUIRE(a);
	CHECK(stats(phys).populate_ns > 0);
	chunk = page_to_pfn(a) & ~(ARENA_CHUNK_FRAMES - 1);
	CHECK_EQ(stats(phys).populated_bytes, ARENA_CHUNK_FRAMES * PAGE_SIZE);
	CHECK_EQ(resident_frames(phys, chunk, ARENA_CHUNK_FRAMES), ARENA_CHUNK_FRAMES);
	CHECK_EQ(resident_frames(phys, 0, phys->nr_frames), ARENA_CHUNK_FRAMES);
	CHECK(arena_range_present(phys, page_to_pfn(a), 1));
	b = alloc_page(phys, GFP_KERNEL);
	REQUIRE(b);
	CHECK_EQ(page_to_pfn(b) & ~(ARENA_CHUNK_FRAMES - 1), chunk);   /* same chunk: LIFO lists */
	CHECK_EQ(stats(phys).populated_bytes, ARENA_CHUNK_FRAMES * PAGE_SIZE);
	put_page(a);
	put_page(b);
	/* a block of the largest order spans two chunks: both come in */
	a = alloc_pages(phys, GFP_KERNEL, MAX_ORDER - 1);
	REQUIRE(a);
	CHECK(arena_range_present(phys, page_to_pfn(a), BLOCK_FRAMES));
	CHECK_EQ(resident_frames(phys, page_to_pfn(a), BLOCK_FRAMES), BLOCK_FRAMES);
	free_pages(a, MAX_ORDER - 1);
	CHECK_EQ(phys_check(phys), 0);
	phys_destroy(phys);
}

/*
 * Anonymous arena, cold huge pages: a huge-page chunk that takes longer
 * than thp_cold_ns counts as cold and sends the next ARENA_THP_COLD_CHUNKS
 * (64) chunks to 4 KiB host pages, which come in whole and read zero.
 * thp_cold_ns 0 makes every huge-page chunk cold.
 */
static void test_anon_cold_huge_pages(void)
{
	struct phys_mem *phys = make_phys(16 * MiB, false);   /* an anonymous arena (run_kind) */
	struct page *a, *b;
	unsigned long pa, pb;

	REQUIRE(phys->anon);
	phys->thp_cold_ns = 0;
	a = alloc_pages(phys, GFP_KERNEL, MAX_ORDER - 1);     /* two chunks: one huge, cold */
	REQUIRE(a);
	pa = page_to_pfn(a);
	CHECK_EQ(stats(phys).thp_cold, 1);
	CHECK_EQ(stats(phys).small_chunks, 1);
	CHECK_EQ(phys->small_left, 63);
	CHECK_EQ(resident_frames(phys, pa, BLOCK_FRAMES), BLOCK_FRAMES);
	for (unsigned long i = 0; i < BLOCK_FRAMES; i++) {
		const uint64_t *w = pfn_to_virt(phys, pa + i);

		CHECK_EQ(w[0] | w[PAGE_SIZE / 8 - 1], 0);
		fill_frame(phys, pa + i);
	}
	b = alloc_pages(phys, GFP_KERNEL, MAX_ORDER - 1);     /* two more chunks, small pages */
	REQUIRE(b);
	pb = page_to_pfn(b);
	CHECK_EQ(stats(phys).thp_cold, 1);
	CHECK_EQ(stats(phys).small_chunks, 3);
	CHECK_EQ(resident_frames(phys, pb, BLOCK_FRAMES), BLOCK_FRAMES);
	for (unsigned long i = 0; i < BLOCK_FRAMES; i++) {
		const uint64_t *w = pfn_to_virt(phys, pb + i);

		CHECK_EQ(w[0] | w[PAGE_SIZE / 8 - 1], 0);
		w = pfn_to_virt(phys, pa + i);
		CHECK_EQ(w[61], frame_pattern(pa + i, 61));
		CHECK_EQ(w[PAGE_SIZE / 8 - 1], frame_pattern(pa + i, PAGE_SIZE / 8 - 1));
	}
	free_pages(b, MAX_ORDER - 1);
	free_pages(a, MAX_ORDER - 1);
	CHECK_EQ(phys_check(phys), 0);
	phys_destroy(phys);
}

/*
 * memfd arena, kernels without MADV_POPULATE_WRITE: the fallback
 * (fallocate on the memfd) brings chunks in too.
 */
static void test_populate_fallback_memfd(void)
{
	struct phys_mem *phys = make_phys(8 * MiB, false);
	struct page *a;
	unsigned long chunk;
	struct stat st;

	phys->no_populate_write = true;
	a = alloc_page(phys, GFP_ZERO);
	REQUIRE(a);
	chunk = page_to_pfn(a) & ~(ARENA_CHUNK_FRAMES - 1);
	CHECK_EQ(stats(phys).populated_bytes, ARENA_CHUNK_FRAMES * PAGE_SIZE);
	/* fallocated shmem pages are not "resident" to mincore until touched: ask the memfd */
	CHECK(fstat(phys->memfd, &st) == 0 && (unsigned long)st.st_blocks * 512 >= ARENA_CHUNK_FRAMES * PAGE_SIZE);
	CHECK(frame_zero(phys, page_to_pfn(a)));
	CHECK(frame_zero(phys, chunk + ARENA_CHUNK_FRAMES - 1));
	put_page(a);
	drain_all_pages(phys);
	CHECK_EQ(phys_check(phys), 0);
	phys_destroy(phys);
}

static void test_populate_at_creation(void)
{
	struct phys_mem *phys = make_phys(8 * MiB, true);
	struct umm_config cfg = { .phys_bytes = 8 * MiB, .populate = 1, .arena = arena_kind };
	struct umm_sys_stats st;
	struct umm_system *sys;

	CHECK_EQ(stats(phys).populated_bytes, 8 * MiB);
	CHECK_EQ(resident_frames(phys, 0, phys->nr_frames), phys->nr_frames);
	CHECK(arena_range_present(phys, 0, phys->nr_frames));
	phys_destroy(phys);

	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	REQUIRE(umm_system_stats(sys, &st) == 0);
	CHECK_EQ(st.host_populated_bytes, 8 * MiB);
	CHECK_EQ(st.host_released_bytes, 0);
	CHECK(sys->phys->reporting == NULL);       /* populate: kept unless release_ms says otherwise */
	CHECK_EQ(resident_frames(sys->phys, 0, sys->phys->nr_frames), sys->phys->nr_frames);
	umm_system_destroy(sys);
}

/* Punched blocks leave the host, read back as zeros, and come back when reused. */
static void test_punched_reads_zero(void)
{
	struct phys_mem *phys = make_phys(16 * MiB, false);
	struct page *blk[4];
	unsigned long i, j, nr = 0;
	size_t released;

	while (nr < 4 && (blk[nr] = alloc_pages(phys, GFP_NORECLAIM, MAX_ORDER - 1)) != NULL)
		nr++;
	REQUIRE(nr >= 2);
	for (i = 0; i < nr; i++)
		for (j = 0; j < BLOCK_FRAMES; j++)
			fill_frame(phys, page_to_pfn(blk[i]) + j);
	for (i = 0; i < nr; i++)
		free_pages(blk[i], MAX_ORDER - 1);
	CHECK_EQ(stats(phys).released_bytes, 0);
	released = page_reporting_run(phys, 0);
	CHECK(released >= nr * BLOCK_FRAMES * PAGE_SIZE);
	CHECK_EQ(stats(phys).released_bytes, released);
	CHECK_EQ(stats(phys).isolated, 0);
	CHECK_EQ(resident_frames(phys, 0, phys->nr_frames), 0);
	CHECK(!arena_range_present(phys, 0, phys->nr_frames));
	CHECK_EQ(phys_check(phys), 0);
	/* nothing left to give back */
	CHECK_EQ(page_reporting_run(phys, 0), 0);

	/* reuse: every frame reads as zero, and the chunks are present again */
	for (i = 0; i < nr; i++) {
		blk[i] = alloc_pages(phys, GFP_NORECLAIM, MAX_ORDER - 1);
		REQUIRE(blk[i]);
		for (j = 0; j < BLOCK_FRAMES; j++)
			if (!frame_zero(phys, page_to_pfn(blk[i]) + j)) {
				CHECK(!"punched frame not zero");
				break;
			}
		CHECK(arena_range_present(phys, page_to_pfn(blk[i]), BLOCK_FRAMES));
	}
	CHECK(stats(phys).populated_bytes >= 2 * nr * BLOCK_FRAMES * PAGE_SIZE);
	for (i = 0; i < nr; i++)
		free_pages(blk[i], MAX_ORDER - 1);
	/* a block freed just now is not old enough for a one-hour minimum age */
	CHECK_EQ(page_reporting_run(phys, 3600ull * 1000000000ull), 0);
	CHECK_EQ(phys_check(phys), 0);
	phys_destroy(phys);
}

/*
 * Fill the arena with single frames, free them in a pattern (whole
 * blocks, and every other frame of the other blocks), punch: only the
 * wholly free blocks go, the allocated frames keep their contents.
 */
static void test_nothing_in_use_punched(void)
{
	struct phys_mem *phys = make_phys(16 * MiB, false);
	unsigned long nr = phys->nr_frames, pfn, kept = 0, whole = 0;
	struct page **frames = calloc(nr, sizeof(*frames));
	size_t released;

	REQUIRE(frames);
	for (;;) {
		struct page *p = alloc_page(phys, GFP_NORECLAIM);

		if (!p)
			break;
		frames[page_to_pfn(p)] = p;
		fill_frame(phys, page_to_pfn(p));
	}
	/* blocks 0 and 2: free whole; blocks 1 and 3: free every other frame */
	for (pfn = 0; pfn < nr; pfn++) {
		unsigned long block = pfn / BLOCK_FRAMES;

		if (!frames[pfn])
			continue;
		if (block % 2 == 0 || pfn % 2 == 0) {
			put_page(frames[pfn]);
			frames[pfn] = NULL;
		}
	}
	drain_all_pages(phys);
	for (pfn = 0; pfn < nr; pfn += BLOCK_FRAMES) {
		unsigned long j, busy = 0;

		for (j = 0; j < BLOCK_FRAMES; j++)
			busy += frames[pfn + j] != NULL;
		whole += busy == 0;
	}
	CHECK(whole >= 1);
	released = page_reporting_run(phys, 0);
	CHECK_EQ(released, whole * BLOCK_FRAMES * PAGE_SIZE);
	CHECK_EQ(phys_check(phys), 0);
	for (pfn = 0; pfn < nr; pfn++)
		if (frames[pfn]) {
			kept++;
			if (!frame_intact(phys, pfn)) {
				CHECK(!"an allocated frame lost its contents");
				break;
			}
			CHECK(resident_frames(phys, pfn, 1) == 1);
		}
	CHECK(kept >= nr / 4 - 16);
	for (pfn = 0; pfn < nr; pfn++)
		if (frames[pfn])
			put_page(frames[pfn]);
	free(frames);
	drain_all_pages(phys);
	CHECK_EQ(phys_check(phys), 0);
	phys_destroy(phys);
}

/* desc_resident - bytes of the descriptors of [pfn, pfn+nr) resident in the host. */
static unsigned long desc_resident(struct phys_mem *phys, unsigned long pfn, unsigned long nr)
{
	uintptr_t start = ALIGN_DOWN((uintptr_t)&phys->pages[pfn], PAGE_SIZE);
	uintptr_t end = ALIGN_UP((uintptr_t)&phys->pages[pfn + nr], PAGE_SIZE);
	unsigned long n = (end - start) / PAGE_SIZE, i, r = 0;
	unsigned char *vec = malloc(n);

	REQUIRE(vec);
	REQUIRE(mincore((void *)start, end - start, vec) == 0);
	for (i = 0; i < n; i++)
		r += vec[i] & 1;
	free(vec);
	return r * PAGE_SIZE;
}

/*
 * The descriptor array is resident in proportion to the frames used: a
 * new arena touches only block heads, and punching a block drops its
 * other descriptors again (they read back as zero, and the allocator
 * works on).
 */
static void test_descriptors_follow_use(void)
{
	struct phys_mem *phys = make_phys(64 * MiB, false);
	unsigned long nr = phys->nr_frames, array = nr * sizeof(struct page), pfn, j;
	struct page *blk;

	CHECK(desc_resident(phys, 0, nr) <= array / 8);
	blk = alloc_pages(phys, GFP_NORECLAIM, MAX_ORDER - 1);
	REQUIRE(blk);
	pfn = page_to_pfn(blk);
	CHECK(desc_resident(phys, pfn, BLOCK_FRAMES) >= BLOCK_FRAMES * sizeof(struct page));
	for (j = 0; j < BLOCK_FRAMES; j++)
		fill_frame(phys, pfn + j);
	free_pages(blk, MAX_ORDER - 1);
	CHECK(page_reporting_run(phys, 0) >= BLOCK_FRAMES * PAGE_SIZE);
	/* all but the head's page and the page it shares with the next block */
	CHECK(desc_resident(phys, pfn, BLOCK_FRAMES) <= 2 * PAGE_SIZE);
	CHECK_EQ(phys_check(phys), 0);
	blk = alloc_pages(phys, GFP_NORECLAIM, MAX_ORDER - 1);
	REQUIRE(blk);
	for (j = 0; j < BLOCK_FRAMES; j++) {
		CHECK(page_count(blk + j) == (j == 0));
		CHECK(frame_zero(phys, page_to_pfn(blk) + j));
	}
	free_pages(blk, MAX_ORDER - 1);
	CHECK_EQ(phys_check(phys), 0);
	phys_destroy(phys);
}

/*
 * GFP_ZERO may skip the memset only for frames not used since creation or
 * a punch: a frame written, freed and handed out again must be zeroed.
 */
static void test_gfp_zero_known_zero(void)
{
	struct phys_mem *phys = make_phys(16 * MiB, false);
	struct page *a, *b, *blk;
	unsigned long j;

	a = alloc_page(phys, GFP_KERNEL);              /* fresh: zero, bit taken */
	REQUIRE(a);
	CHECK(frame_zero(phys, page_to_pfn(a)));
	memset(page_address(a), 0xa5, PAGE_SIZE);
	put_page(a);
	b = alloc_page(phys, GFP_ZERO);
	REQUIRE(b);
	CHECK(b == a);                                  /* LIFO per-thread cache */
	CHECK(frame_zero(phys, page_to_pfn(b)));
	put_page(b);
	/* a block: dirty frames inside a punched-then-reused block */
	blk = alloc_pages(phys, GFP_NORECLAIM, MAX_ORDER - 1);
	REQUIRE(blk);
	for (j = 0; j < BLOCK_FRAMES; j += 7)
		fill_frame(phys, page_to_pfn(blk) + j);
	free_pages(blk, MAX_ORDER - 1);
	blk = alloc_pages(phys, GFP_NORECLAIM | GFP_ZERO, MAX_ORDER - 1);  /* not punched: memset */
	REQUIRE(blk);
	for (j = 0; j < BLOCK_FRAMES; j++)
		if (!frame_zero(phys, page_to_pfn(blk) + j)) {
			CHECK(!"GFP_ZERO block not zero");
			break;
		}
	for (j = 0; j < BLOCK_FRAMES; j += 5)
		fill_frame(phys, page_to_pfn(blk) + j);
	free_pages(blk, MAX_ORDER - 1);
	drain_all_pages(phys);
	CHECK(page_reporting_run(phys, 0) > 0);
	blk = alloc_pages(phys, GFP_NORECLAIM | GFP_ZERO, MAX_ORDER - 1);  /* punched: known zero */
	REQUIRE(blk);
	for (j = 0; j < BLOCK_FRAMES; j++)
		if (!frame_zero(phys, page_to_pfn(blk) + j)) {
			CHECK(!"GFP_ZERO block not zero after punch");
			break;
		}
	free_pages(blk, MAX_ORDER - 1);
	CHECK_EQ(phys_check(phys), 0);
	phys_destroy(phys);
}

struct churn_arg {
	struct phys_mem *phys;
	unsigned int seed;
	_Atomic bool *stop;
};

/* churn - allocate, fill, verify and free frames and blocks while the reporter punches. */
static void *churn(void *p)
{
	struct churn_arg *a = p;
	struct page *held[64] = { 0 };
	unsigned int orders[64] = { 0 };
	uint64_t rnd = a->seed;
	unsigned long round = 0;

	while (!atomic_load(a->stop) || round < 2000) {
		unsigned int slot = (unsigned int)(test_rnd(&rnd) % 64);
		unsigned long j, pfn;

		round++;
		if (held[slot]) {
			pfn = page_to_pfn(held[slot]);
			for (j = 0; j < (1UL << orders[slot]); j++)
				TCHECK(frame_intact(a->phys, pfn + j));
			free_pages(held[slot], orders[slot]);
			held[slot] = NULL;
			continue;
		}
		orders[slot] = test_rnd(&rnd) % 8 == 0 ? (unsigned int)(test_rnd(&rnd) % MAX_ORDER) : 0;
		held[slot] = alloc_pages(a->phys, GFP_NORECLAIM, orders[slot]);
		if (!held[slot])
			continue;
		pfn = page_to_pfn(held[slot]);
		for (j = 0; j < (1UL << orders[slot]); j++)
			fill_frame(a->phys, pfn + j);
	}
	for (unsigned int s = 0; s < 64; s++)
		if (held[s])
			free_pages(held[s], orders[s]);
	drain_local_pages(a->phys);
	return NULL;
}

/* Threads churn frames while the reporting thread punches every free block every millisecond. */
static void test_punch_races_allocation(void)
{
	struct phys_mem *phys = make_phys(32 * MiB, false);
	pthread_t t[2];
	struct churn_arg arg[2];
	_Atomic bool stop = false;
	double deadline;
	int i;

	REQUIRE(page_reporting_start(phys, 0) == 0);
	CHECK_EQ(page_reporting_start(phys, 0), -EBUSY);
	for (i = 0; i < 2; i++) {
		arg[i] = (struct churn_arg){ .phys = phys, .seed = 77u + (unsigned)i, .stop = &stop };
		REQUIRE(pthread_create(&t[i], NULL, churn, &arg[i]) == 0);
	}
	/* run until the reporter has punched something (or a generous bound) */
	deadline = test_now_s() + 20;
	while (test_now_s() < deadline && stats(phys).released_bytes < 4 * BLOCK_FRAMES * PAGE_SIZE)
		usleep(2000);
	atomic_store(&stop, true);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	test_fold_thread_checks();
	CHECK(stats(phys).released_bytes > 0);
	page_reporting_stop(phys);
	drain_all_pages(phys);
	CHECK_EQ(stats(phys).isolated, 0);
	CHECK_EQ(stats(phys).nr_free, phys->nr_frames);
	CHECK_EQ(phys_check(phys), 0);
	phys_destroy(phys);
}

/*
 * The host's resident memory for the arena falls after a large munmap,
 * once the freed frames have stayed free for release_ms (the reporting
 * thread, polled with a generous bound).
 */
static void test_resident_falls_after_munmap(void)
{
	struct umm_config cfg = { .phys_bytes = 64 * MiB, .release_ms = 20, .arena = arena_kind };
	const size_t len = 32 * MiB;
	struct umm_sys_stats st0, st;
	struct umm_system *sys;
	struct umm_mm *mm;
	unsigned long before, after = 0;
	uintptr_t addr, off;
	double deadline;

	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	REQUIRE(umm_mm_create(sys, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &addr) == 0);
	for (off = 0; off < len; off += PAGE_SIZE)
		REQUIRE(umm_write(mm, addr + off, &off, sizeof(off)) == 0);
	/* the populate-ahead thread's window is filled now, not later */
	populate_ahead_wait_idle(sys->phys);
	REQUIRE(umm_system_stats(sys, &st0) == 0);
	CHECK(st0.host_populated_bytes >= len);
	before = resident_frames(sys->phys, 0, sys->phys->nr_frames);
	CHECK(before >= len / PAGE_SIZE);
	REQUIRE(umm_munmap(mm, addr, len) == 0);

	/* the counter moves after the punch, so wait for both */
	deadline = test_now_s() + 30;
	while (test_now_s() < deadline) {
		after = resident_frames(sys->phys, 0, sys->phys->nr_frames);
		REQUIRE(umm_system_stats(sys, &st) == 0);
		if (before - MIN(before, after) >= len / PAGE_SIZE / 2 && st.host_released_bytes >= len / 2)
			break;
		usleep(5000);
	}
	CHECK(before - MIN(before, after) >= len / PAGE_SIZE / 2);
	CHECK(st.host_released_bytes >= len / 2);
	CHECK_EQ(st.host_populated_bytes, st0.host_populated_bytes);

	/* the memory is usable again (more than is still present, so punched
	 * chunks are populated again): fresh pages read zero, writes stick */
	REQUIRE(umm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &addr) == 0);
	for (off = 0; off < len; off += PAGE_SIZE) {
		uint64_t v = 1;

		REQUIRE(umm_write(mm, addr + off + 8, &off, sizeof(off)) == 0);
		REQUIRE(umm_read(mm, addr + off, &v, sizeof(v)) == 0);
		CHECK_EQ(v, 0);
		REQUIRE(umm_read(mm, addr + off + 8, &v, sizeof(v)) == 0);
		CHECK_EQ(v, off);
	}
	REQUIRE(umm_system_stats(sys, &st) == 0);
	CHECK(st.host_populated_bytes > st0.host_populated_bytes);
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(mm);
	umm_system_destroy(sys);
}

/* ---- populate-ahead (populate_ahead.c) ---- */

/* chunks_present - how many chunks of the arena are marked present. */
static unsigned long chunks_present(struct phys_mem *phys)
{
	unsigned long c, n = 0;

	for (c = 0; c < phys->nr_chunks; c++)
		n += arena_chunk_present(phys, c);
	return n;
}

/* no_chunk_busy - no chunk is being populated or punched, no job is open. */
static bool no_chunk_busy(struct phys_mem *phys)
{
	unsigned long c;

	for (c = 0; c < phys->nr_chunks; c++)
		if ((phys->busy[c / (8 * sizeof(long))] >> (c % (8 * sizeof(long)))) & 1)
			return false;
	for (c = 0; c < ARENA_POPULATE_JOBS; c++)
		if (phys->jobs[c].used)
			return false;
	return true;
}

/* block_present_test - is the chunk holding frame `page` present? */
static bool block_present_test(struct phys_mem *phys, struct page *page)
{
	return arena_chunk_present(phys, page_to_pfn(page) / ARENA_CHUNK_FRAMES);
}

/* A bad populate_ahead_mib is -EINVAL with nothing created; -1 and populate=1 start no thread. */
static void test_populate_ahead_config(void)
{
	struct umm_system *sys = (struct umm_system *)0x1;
	struct umm_config cfg = { .phys_bytes = 8 * MiB, .populate_ahead_mib = -2,
				  .arena = arena_kind };
	struct umm_sys_stats st;

	CHECK_EQ(umm_system_create(&cfg, &sys), -EINVAL);
	CHECK(sys == (struct umm_system *)0x1);
	cfg.populate_ahead_mib = -1000000;
	CHECK_EQ(umm_system_create(&cfg, &sys), -EINVAL);
	CHECK(sys == (struct umm_system *)0x1);
	cfg.populate_ahead_mib = -1;
	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	CHECK(sys->phys->ahead == NULL);
	umm_system_destroy(sys);
	cfg.populate_ahead_mib = 0;
	cfg.populate = 1;
	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	CHECK(sys->phys->ahead == NULL);               /* everything is present already */
	umm_system_destroy(sys);
	cfg.populate = 0;
	if (arena_kind == UMM_ARENA_ANON) {
		/* the default for an anonymous arena: no thread; asked for, one */
		REQUIRE(umm_system_create(&cfg, &sys) == 0);
		CHECK(sys->phys->ahead == NULL);
		umm_system_destroy(sys);
		cfg.populate_ahead_mib = 16;
	}
	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	CHECK(sys->phys->ahead != NULL);               /* memfd: the default is a thread */
	populate_ahead_wait_idle(sys->phys);
	REQUIRE(umm_system_stats(sys, &st) == 0);
	/* the 8 MiB arena is smaller than the 16 MiB window: all of it, no more */
	CHECK_EQ(st.host_populated_bytes, 8 * MiB);
	CHECK(st.host_populated_ahead_bytes > 0 && st.host_populated_ahead_bytes <= 8 * MiB);
	umm_system_destroy(sys);
	/* a window far beyond the arena (and beyond any size in bytes) is the arena */
	cfg.populate_ahead_mib = LONG_MAX;
	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	populate_ahead_wait_idle(sys->phys);
	REQUIRE(umm_system_stats(sys, &st) == 0);
	CHECK_EQ(st.host_populated_bytes, 8 * MiB);
	umm_system_destroy(sys);
	/* the phys-level entry point refuses a zero window and a second start */
	{
		struct phys_mem *phys = make_phys(4 * MiB, false);

		CHECK_EQ(populate_ahead_start(phys, 0), -EINVAL);
		CHECK(phys->ahead == NULL);
		REQUIRE(populate_ahead_start(phys, 1) == 0);
		CHECK_EQ(populate_ahead_start(phys, 1), -EBUSY);
		phys_destroy(phys);
	}
}

/*
 * The thread brings in the window the allocator will use next (the top
 * blocks first), moves it on when the allocator lists the next block, and
 * the frames handed out there were present before they were handed out.
 */
static void test_populate_ahead_window(void)
{
	struct phys_mem *phys = make_phys(64 * MiB, false);
	const unsigned long window = 8 * MiB / PAGE_SIZE, nr = BLOCK_FRAMES + 16;
	struct page **pages = calloc(nr, sizeof(*pages));
	unsigned long i, top_chunk = phys->nr_chunks - 1;

	REQUIRE(pages);
	REQUIRE(populate_ahead_start(phys, window) == 0);
	populate_ahead_wait_idle(phys);
	/* nothing handed out yet: the top two blocks (four chunks) */
	CHECK_EQ(stats(phys).populated_bytes, 8 * MiB);
	CHECK_EQ(stats(phys).ahead_bytes, 8 * MiB);
	CHECK(stats(phys).ahead_cpu_ns > 0);
	for (i = 0; i < 4; i++)
		CHECK(arena_chunk_present(phys, top_chunk - i));
	CHECK_EQ(chunks_present(phys), 4);
	/* a block and a bit more: the allocator lists the second block, the window moves on */
	for (i = 0; i < nr; i++) {
		pages[i] = alloc_page(phys, GFP_ZERO);
		REQUIRE(pages[i]);
		CHECK(page_to_pfn(pages[i]) >= phys->nr_frames - 2 * BLOCK_FRAMES);
	}
	populate_ahead_wait_idle(phys);
	CHECK_EQ(chunks_present(phys), 6);
	CHECK(arena_chunk_present(phys, top_chunk - 4) && arena_chunk_present(phys, top_chunk - 5));
	/* every chunk was brought in by the thread before the allocator reached it */
	CHECK_EQ(stats(phys).ahead_bytes, stats(phys).populated_bytes);
	for (i = 0; i < nr; i++) {
		if (!frame_zero(phys, page_to_pfn(pages[i])))
			CHECK(!"a fresh frame is not zero");
		fill_frame(phys, page_to_pfn(pages[i]));
	}
	for (i = 0; i < nr; i++) {
		CHECK(frame_intact(phys, page_to_pfn(pages[i])));
		put_page(pages[i]);
	}
	CHECK(no_chunk_busy(phys));
	drain_all_pages(phys);
	CHECK_EQ(phys_check(phys), 0);
	phys_destroy(phys);
	free(pages);
}

/* It never goes past either end of the arena, whole blocks or not. */
static void test_populate_ahead_bounded(void)
{
	static const size_t sizes[] = { 1 * MiB, 3 * MiB, 9 * MiB, 10 * MiB + 4096 * 3 };

	for (unsigned int k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct phys_mem *phys = make_phys(sizes[k], false);
		size_t arena = phys->nr_frames * PAGE_SIZE;
		struct stat st;

		REQUIRE(populate_ahead_start(phys, 1UL << 40) == 0);
		populate_ahead_wait_idle(phys);
		CHECK_EQ(stats(phys).populated_bytes, arena);
		CHECK_EQ(stats(phys).ahead_bytes, arena);
		CHECK_EQ(chunks_present(phys), phys->nr_chunks);
		CHECK_EQ(resident_frames(phys, 0, phys->nr_frames), phys->nr_frames);
		/* the memfd holds the arena and nothing past it */
		if (!phys->anon) {
			CHECK(fstat(phys->memfd, &st) == 0 && (size_t)st.st_size == arena);
			CHECK((size_t)st.st_blocks * 512 <= arena);
		}
		CHECK(no_chunk_busy(phys));
		phys_destroy(phys);
	}
}

/*
 * Stopping (and destroying a system) while the thread is populating:
 * it returns, and leaves no chunk half claimed.
 */
static void test_populate_ahead_stop(void)
{
	for (int i = 0; i < 8; i++) {
		struct phys_mem *phys = make_phys(32 * MiB, false);

		REQUIRE(populate_ahead_start(phys, 32 * MiB / PAGE_SIZE) == 0);
		if (i & 1)
			usleep(200);
		populate_ahead_stop(phys);
		CHECK(phys->ahead == NULL);
		CHECK(no_chunk_busy(phys));
		CHECK_EQ(stats(phys).populated_bytes, chunks_present(phys) * ARENA_CHUNK_FRAMES * PAGE_SIZE);
		populate_ahead_stop(phys);                 /* a second stop is a no-op */
		/* the allocator still works without it */
		{
			struct page *p = alloc_page(phys, GFP_ZERO);

			REQUIRE(p);
			CHECK(frame_zero(phys, page_to_pfn(p)));
			put_page(p);
		}
		drain_all_pages(phys);
		phys_destroy(phys);
	}
	for (int i = 0; i < 4; i++) {
		struct umm_config cfg = { .phys_bytes = 64 * MiB, .populate_ahead_mib = 64,
					  .arena = arena_kind };
		struct umm_system *sys;

		REQUIRE(umm_system_create(&cfg, &sys) == 0);
		CHECK_EQ(umm_system_destroy(sys), 0);
	}
}

struct ahead_worker {
	struct phys_mem *phys;
	unsigned long nr;
	struct page **pages;
	unsigned long not_zero;
	unsigned long not_present;      /* frames whose chunk was absent when handed out */
};

static void *ahead_alloc_worker(void *arg)
{
	struct ahead_worker *w = arg;

	for (unsigned long i = 0; i < w->nr; i++) {
		w->pages[i] = alloc_page(w->phys, GFP_ZERO);
		if (!w->pages[i])
			break;
		if (!frame_zero(w->phys, page_to_pfn(w->pages[i])))
			w->not_zero++;
		fill_frame(w->phys, page_to_pfn(w->pages[i]));
	}
	return NULL;
}

/*
 * Threads faulting in fresh memory while the thread populates ahead
 * (they join each other's chunks): every frame reads zero when handed
 * out and keeps what its owner wrote, each chunk is counted once, and
 * memory punched meanwhile reads zero when reused.
 */
static void test_populate_ahead_concurrent(void)
{
	enum { NTHREADS = 3 };
	struct phys_mem *phys = make_phys(64 * MiB, false);
	const unsigned long per = 12 * MiB / PAGE_SIZE;
	struct ahead_worker w[NTHREADS];
	pthread_t t[NTHREADS];
	unsigned long i, j, zero_bad = 0, checked = 0;
	bool *absent;

	REQUIRE(populate_ahead_start(phys, 16 * MiB / PAGE_SIZE) == 0);
	for (i = 0; i < NTHREADS; i++) {
		w[i] = (struct ahead_worker){ .phys = phys, .nr = per, .pages = calloc(per, sizeof(struct page *)) };
		REQUIRE(w[i].pages);
		REQUIRE(pthread_create(&t[i], NULL, ahead_alloc_worker, &w[i]) == 0);
	}
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ(w[i].not_zero, 0);
	}
	populate_ahead_wait_idle(phys);
	CHECK(no_chunk_busy(phys));
	CHECK_EQ(stats(phys).populated_bytes, chunks_present(phys) * ARENA_CHUNK_FRAMES * PAGE_SIZE);
	CHECK(stats(phys).ahead_bytes <= stats(phys).populated_bytes);
	for (i = 0; i < NTHREADS; i++)
		for (j = 0; j < per; j++) {
			REQUIRE(w[i].pages[j]);
			if (!frame_intact(phys, page_to_pfn(w[i].pages[j])))
				CHECK(!"a frame lost what its owner wrote");
		}
	/* free one thread's frames and punch: the others' frames keep their contents */
	for (j = 0; j < per; j++)
		put_page(w[0].pages[j]);
	drain_all_pages(phys);
	(void)page_reporting_run(phys, 0);
	CHECK(no_chunk_busy(phys));
	for (i = 1; i < NTHREADS; i++)
		for (j = 0; j < per; j++)
			if (!frame_intact(phys, page_to_pfn(w[i].pages[j])))
				CHECK(!"a frame in use lost its contents to a punch");
	/* free everything, punch what is wholly free, reuse: a frame of a punched chunk reads zero */
	for (i = 1; i < NTHREADS; i++)
		for (j = 0; j < per; j++)
			put_page(w[i].pages[j]);
	drain_all_pages(phys);
	CHECK(page_reporting_run(phys, 0) > 0);
	CHECK(no_chunk_busy(phys));
	absent = calloc(phys->nr_chunks, sizeof(*absent));
	REQUIRE(absent);
	for (i = 0; i < phys->nr_chunks; i++)
		absent[i] = !arena_chunk_present(phys, i);
	for (i = 0; i < NTHREADS; i++)
		for (j = 0; j < per; j++) {
			unsigned long pfn;

			w[i].pages[j] = alloc_page(phys, GFP_KERNEL);
			REQUIRE(w[i].pages[j]);
			pfn = page_to_pfn(w[i].pages[j]);
			if (absent[pfn / ARENA_CHUNK_FRAMES]) {
				checked++;
				if (!frame_zero(phys, pfn))
					zero_bad++;
			}
		}
	CHECK(checked > 0);
	CHECK_EQ(zero_bad, 0);
	free(absent);
	for (i = 0; i < NTHREADS; i++) {
		for (j = 0; j < per; j++)
			put_page(w[i].pages[j]);
		free(w[i].pages);
	}
	drain_all_pages(phys);
	CHECK_EQ(phys_check(phys), 0);
	phys_destroy(phys);
}

/*
 * The allocator splits a block whose host memory is present before one
 * that is not: a present order-9 block behind a punched one on its list,
 * and a never-listed block the populate-ahead thread brought in before a
 * punched max-order block on the list.
 */
static void test_alloc_prefers_present(void)
{
	struct phys_mem *phys = make_phys(32 * MiB, false);
	struct page *p[4], *a, *b, *x, *y;
	unsigned long i;

	for (i = 0; i < 4; i++) {
		p[i] = alloc_pages(phys, GFP_KERNEL, ARENA_CHUNK_ORDER);
		REQUIRE(p[i]);
		CHECK(block_present_test(phys, p[i]));
	}
	/* p[0]'s and p[3]'s buddies stay allocated: the freed halves do not merge */
	free_pages(p[3], ARENA_CHUNK_ORDER);
	free_pages(p[0], ARENA_CHUNK_ORDER);      /* list head */
	CHECK(arena_punch(phys, page_to_pfn(p[0]), ARENA_CHUNK_FRAMES) == ARENA_CHUNK_FRAMES * PAGE_SIZE);
	CHECK(!block_present_test(phys, p[0]));
	a = alloc_pages(phys, GFP_KERNEL, ARENA_CHUNK_ORDER);
	CHECK(a == p[3]);                          /* the present one, behind the punched head */
	b = alloc_pages(phys, GFP_KERNEL, ARENA_CHUNK_ORDER);
	CHECK(b == p[0]);                          /* then the punched one, brought back */
	CHECK(block_present_test(phys, p[0]));
	CHECK(frame_zero(phys, page_to_pfn(p[0])));
	free_pages(a, ARENA_CHUNK_ORDER);
	free_pages(b, ARENA_CHUNK_ORDER);
	free_pages(p[1], ARENA_CHUNK_ORDER);
	free_pages(p[2], ARENA_CHUNK_ORDER);
	CHECK_EQ(phys_check(phys), 0);
	phys_destroy(phys);

	phys = make_phys(32 * MiB, false);
	REQUIRE(populate_ahead_start(phys, 8 * MiB / PAGE_SIZE) == 0);
	populate_ahead_wait_idle(phys);
	x = alloc_pages(phys, GFP_KERNEL, MAX_ORDER - 1);
	REQUIRE(x);
	CHECK_EQ(page_to_pfn(x), phys->nr_frames - BLOCK_FRAMES);
	populate_ahead_wait_idle(phys);
	CHECK(block_present_test(phys, x + BLOCK_FRAMES - 1));
	free_pages(x, MAX_ORDER - 1);
	CHECK(page_reporting_run(phys, 0) >= BLOCK_FRAMES * PAGE_SIZE);
	CHECK(!block_present_test(phys, x));
	/* the next never-listed block is present: it goes before the punched one */
	CHECK(block_present_test(phys, x - BLOCK_FRAMES));
	y = alloc_pages(phys, GFP_KERNEL, MAX_ORDER - 1);
	REQUIRE(y);
	CHECK_EQ(page_to_pfn(y), phys->nr_frames - 2 * BLOCK_FRAMES);
	free_pages(y, MAX_ORDER - 1);
	CHECK_EQ(phys_check(phys), 0);
	phys_destroy(phys);
}

/* The child of a host fork() can destroy a system: there is no reporting thread there to join. */
static __attribute__((unused)) void test_destroy_in_forked_child(void)
{
	struct umm_config cfg = { .phys_bytes = 16 * MiB, .release_ms = 5, .arena = arena_kind };
	struct umm_system *sys;
	int status = 0;
	pid_t pid;

	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	REQUIRE(sys->phys->reporting != NULL);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		alarm(10);                      /* a hang is a failure */
		umm_system_destroy(sys);
		_exit(0);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	umm_system_destroy(sys);
}

/* ---- the arena kinds ---- */

/* vma_flag - does the host VMA holding `addr` carry VmFlags `flag` (/proc/self/smaps)? */
static bool vma_flag(const void *addr, const char *flag)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in = false, found = false;

	REQUIRE(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			char *tok = strtok(line + 8, " \n");

			for (; tok; tok = strtok(NULL, " \n"))
				found |= !strcmp(tok, flag);
			break;
		}
	}
	fclose(f);
	return found;
}

/*
 * umm_config.arena: an unknown kind is -EINVAL with nothing created; the
 * default (UMM_ARENA_AUTO, 0) is the kind arena_auto_anon() picks for this
 * host; the anonymous arena is 2 MiB aligned, asks the host for huge
 * pages (where the host has them) and works; the stats say which kind
 * runs.
 */
static void test_arena_kind_config(void)
{
	static const int bad[] = { -1, 3, 1000, INT_MIN, INT_MAX };
	struct umm_system *sys = (struct umm_system *)0x1;
	struct umm_config cfg = { .phys_bytes = 8 * MiB };
	struct umm_sys_stats st;
	struct umm_mm *mm;
	uintptr_t a, off;
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg.arena = bad[i];
		CHECK_EQ(umm_system_create(&cfg, &sys), -EINVAL);
		CHECK(sys == (struct umm_system *)0x1);
	}
	CHECK_EQ(UMM_ARENA_AUTO, 0);
	CHECK_EQ(UMM_ARENA_DEFAULT, UMM_ARENA_AUTO);
	for (int kind = UMM_ARENA_AUTO; kind <= UMM_ARENA_ANON; kind++) {
		bool anon = kind == UMM_ARENA_ANON || (kind == UMM_ARENA_AUTO && arena_auto_anon());

		cfg.arena = kind;
		REQUIRE(umm_system_create(&cfg, &sys) == 0);
		REQUIRE(umm_system_stats(sys, &st) == 0);
		CHECK_EQ(st.arena, anon ? UMM_ARENA_ANON : UMM_ARENA_MEMFD);
		CHECK_EQ(sys->arena_auto, kind == UMM_ARENA_AUTO);
		CHECK_EQ(sys->phys->anon, anon);
		CHECK(anon ? sys->phys->memfd == -1 : sys->phys->memfd >= 0);
		if (anon) {
			CHECK(IS_ALIGNED((uintptr_t)sys->phys->base, ARENA_CHUNK_FRAMES * PAGE_SIZE));
			/* MADV_HUGEPAGE took, where the host kernel has transparent huge pages */
			if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0)
				CHECK(vma_flag(sys->phys->base, "hg"));
			CHECK(!vma_flag(sys->phys->base, "sh"));     /* private, not shared */
		} else {
			CHECK(vma_flag(sys->phys->base, "sh"));
		}
		/* it works: fresh pages read zero, writes stick */
		REQUIRE(umm_mm_create(sys, &mm) == 0);
		REQUIRE(umm_mmap(mm, 0, 4 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				 NULL, 0, &a) == 0);
		for (off = 0; off < 4 * MiB; off += PAGE_SIZE) {
			uint64_t v = 1;

			REQUIRE(umm_read(mm, a + off, &v, sizeof(v)) == 0);
			CHECK_EQ(v, 0);
			REQUIRE(umm_write(mm, a + off, &off, sizeof(off)) == 0);
		}
		for (off = 0; off < 4 * MiB; off += PAGE_SIZE) {
			uint64_t v = 0;

			REQUIRE(umm_read(mm, a + off, &v, sizeof(v)) == 0);
			CHECK_EQ(v, off);
		}
		CHECK_EQ(umm_system_check(sys), 0);
		umm_mm_destroy(mm);
		CHECK_EQ(umm_system_destroy(sys), 0);
	}
}

/* ---- the kind UMM_ARENA_AUTO picks ---- */

/* A fake transparent-huge-page control directory (arena_thp_anon_at's `dir`). */
static char thp_dir[] = "/tmp/usermm-thp-XXXXXX";

/* thp_put - write `text` to thp_dir/name (NULL: remove it). */
static void thp_put(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", thp_dir, name);
	if (!text) {
		unlink(path);
		return;
	}
	f = fopen(path, "w");
	REQUIRE(f);
	fputs(text, f);
	fclose(f);
}

/*
 * thp_host - a fake host: PMD huge page size `pmd` (NULL: no file), the
 * top-level control `top` and the 2 MiB size's control `size` (NULL: no
 * such file).
 */
static void thp_host(const char *pmd, const char *top, const char *size)
{
	thp_put("hpage_pmd_size", pmd);
	thp_put("enabled", top);
	thp_put("hugepages-2048kB/enabled", size);
}

#define PMD_2M "2097152\n"
#define ALWAYS "[always] madvise never\n"
#define MADVISE "always [madvise] never\n"
#define NEVER "always madvise [never]\n"
#define S_ALWAYS "[always] inherit madvise never\n"
#define S_INHERIT "always [inherit] madvise never\n"
#define S_MADVISE "always inherit [madvise] never\n"
#define S_NEVER "always inherit madvise [never]\n"

/*
 * arena_thp_anon_at decides from the controls as system.h says: anonymous
 * when huge pages of the chunk's size are on for advised memory (the
 * size's own control first, the top-level one when it inherits or is
 * missing), memfd when they are off, when the PMD size is not 2 MiB, and
 * when a control it needs cannot be read or makes no sense.
 */
static void test_auto_kind_decision(void)
{
	char sub[300];

	REQUIRE(mkdtemp(thp_dir));
	snprintf(sub, sizeof(sub), "%s/hugepages-2048kB", thp_dir);
	REQUIRE(mkdir(sub, 0700) == 0);

	/* the top-level control alone (kernels before per-size controls) */
	thp_host(PMD_2M, ALWAYS, NULL);
	CHECK(arena_thp_anon_at(thp_dir));
	thp_host(PMD_2M, MADVISE, NULL);
	CHECK(arena_thp_anon_at(thp_dir));
	thp_host(PMD_2M, NEVER, NULL);
	CHECK(!arena_thp_anon_at(thp_dir));
	/* the 2 MiB size's control wins unless it inherits */
	thp_host(PMD_2M, MADVISE, S_INHERIT);
	CHECK(arena_thp_anon_at(thp_dir));
	thp_host(PMD_2M, NEVER, S_INHERIT);
	CHECK(!arena_thp_anon_at(thp_dir));
	thp_host(PMD_2M, ALWAYS, S_NEVER);
	CHECK(!arena_thp_anon_at(thp_dir));
	thp_host(PMD_2M, NEVER, S_MADVISE);
	CHECK(arena_thp_anon_at(thp_dir));
	thp_host(PMD_2M, NEVER, S_ALWAYS);
	CHECK(arena_thp_anon_at(thp_dir));
	thp_host(PMD_2M, NULL, S_ALWAYS);
	CHECK(arena_thp_anon_at(thp_dir));
	/* a PMD huge page that is not one arena chunk */
	thp_host("33554432\n", ALWAYS, NULL);
	CHECK(!arena_thp_anon_at(thp_dir));
	thp_host("1048576\n", ALWAYS, S_ALWAYS);
	CHECK(!arena_thp_anon_at(thp_dir));
	/* unreadable or senseless controls count as off */
	thp_host(NULL, ALWAYS, S_ALWAYS);
	CHECK(!arena_thp_anon_at(thp_dir));
	thp_host(PMD_2M, NULL, NULL);
	CHECK(!arena_thp_anon_at(thp_dir));
	thp_host(PMD_2M, NULL, S_INHERIT);
	CHECK(!arena_thp_anon_at(thp_dir));
	thp_host(PMD_2M, "", NULL);
	CHECK(!arena_thp_anon_at(thp_dir));
	thp_host(PMD_2M, "always madvise never\n", NULL);         /* nothing selected */
	CHECK(!arena_thp_anon_at(thp_dir));
	thp_host(PMD_2M, "[sometimes]\n", NULL);
	CHECK(!arena_thp_anon_at(thp_dir));
	thp_host(PMD_2M, "[always", NULL);
	CHECK(!arena_thp_anon_at(thp_dir));
	CHECK(!arena_thp_anon_at("/nonexistent/usermm-thp"));
	CHECK(!arena_thp_anon_at(NULL));
	thp_host(NULL, NULL, NULL);
	rmdir(sub);
	rmdir(thp_dir);
}

/*
 * A system created with UMM_ARENA_AUTO gets the kind the (fake) host's
 * controls call for, and says so in umm_sys_stats.arena; the decision is
 * kept once made; a process that turned transparent huge pages off with
 * prctl(PR_SET_THP_DISABLE) gets the memfd arena whatever the controls
 * say, and so does a host with strict overcommit (vm.overcommit_memory 2).
 */
static void test_auto_kind_system(void)
{
	struct umm_config cfg = { .phys_bytes = 8 * MiB };
	struct umm_sys_stats st;
	struct umm_system *sys;
	char sub[300];
	char oc_path[300];
	int thp_off;

	strcpy(thp_dir, "/tmp/usermm-thp-XXXXXX");
	REQUIRE(mkdtemp(thp_dir));
	snprintf(sub, sizeof(sub), "%s/hugepages-2048kB", thp_dir);
	REQUIRE(mkdir(sub, 0700) == 0);
	/* the host's overcommit mode, faked too: not strict */
	snprintf(oc_path, sizeof(oc_path), "%s/overcommit_memory", thp_dir);
	thp_put("overcommit_memory", "0\n");
	for (int on = 0; on < 2; on++) {
		thp_host(PMD_2M, on ? MADVISE : NEVER, S_INHERIT);
		arena_auto_reset(thp_dir, oc_path);
		REQUIRE(umm_system_create(&cfg, &sys) == 0);
		REQUIRE(umm_system_stats(sys, &st) == 0);
		CHECK_EQ(st.arena, on ? UMM_ARENA_ANON : UMM_ARENA_MEMFD);
		CHECK_EQ(sys->phys->anon, on);
		CHECK_EQ(umm_system_destroy(sys), 0);
		/* read once: a change of the controls is not seen by later systems */
		thp_host(PMD_2M, on ? NEVER : MADVISE, S_INHERIT);
		REQUIRE(umm_system_create(&cfg, &sys) == 0);
		REQUIRE(umm_system_stats(sys, &st) == 0);
		CHECK_EQ(st.arena, on ? UMM_ARENA_ANON : UMM_ARENA_MEMFD);
		CHECK_EQ(umm_system_destroy(sys), 0);
	}
	/* the process's own switch: huge pages off altogether means memfd */
	thp_off = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);
	if (thp_off == 0) {
		thp_host(PMD_2M, ALWAYS, S_INHERIT);
		REQUIRE(prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0);
		arena_auto_reset(thp_dir, oc_path);
		CHECK(!arena_auto_anon());
		REQUIRE(prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0) == 0);
		arena_auto_reset(thp_dir, oc_path);
		CHECK(arena_auto_anon());
	} else {
		fprintf(stderr, "  (PR_GET_THP_DISABLE says %d: the prctl case is not run)\n", thp_off);
	}
	/* strict overcommit would charge the whole anonymous arena at creation: memfd */
	thp_host(PMD_2M, MADVISE, S_INHERIT);
	for (int mode = 0; mode <= 3; mode++) {
		static const char *const text[] = { "0\n", "1\n", "2\n", NULL };

		thp_put("overcommit_memory", text[mode]);
		arena_auto_reset(thp_dir, oc_path);
		REQUIRE(umm_system_create(&cfg, &sys) == 0);
		REQUIRE(umm_system_stats(sys, &st) == 0);
		/* 2: strict; no file: counts as the kernel's default, not strict */
		CHECK_EQ(st.arena, mode == 2 ? UMM_ARENA_MEMFD : UMM_ARENA_ANON);
		CHECK_EQ(umm_system_destroy(sys), 0);
	}
	arena_auto_reset(NULL, NULL);
	thp_host(NULL, NULL, NULL);
	thp_put("overcommit_memory", NULL);
	rmdir(sub);
	rmdir(thp_dir);
}

static int hint_lines;
static char hint_line[512];

static void capture_hint(int level, const char *line, void *arg)
{
	(void)arg;
	if (level == UMM_LOG_WARNING) {
		hint_lines++;
		snprintf(hint_line, sizeof(hint_line), "%s", line);
	}
}

/*
 * stderr_bytes_during_attach - umm_host_attach(mm, a, len) with stderr
 * sent to a temporary file: its return in *err, and the bytes written to
 * stderr meanwhile.
 */
static long stderr_bytes_during_attach(struct umm_mm *mm, uintptr_t a, size_t len, int *err)
{
	FILE *tmp = tmpfile();
	void *base = (void *)0x1;
	long n;
	int saved;

	REQUIRE(tmp);
	fflush(stderr);
	saved = dup(2);
	REQUIRE(saved >= 0);
	REQUIRE(dup2(fileno(tmp), 2) == 2);
	*err = umm_host_attach(mm, a, len, 0, &base);
	fflush(stderr);
	REQUIRE(dup2(saved, 2) == 2);
	close(saved);
	n = lseek(fileno(tmp), 0, SEEK_END);
	fclose(tmp);
	if (!*err)
		umm_host_detach(mm, base);
	else
		CHECK(base == (void *)0x1);
	return n;
}

/*
 * umm_host_attach on a system whose arena UMM_ARENA_AUTO made anonymous:
 * -EOPNOTSUPP with nothing changed; with a log function installed, one
 * warning line says to ask for UMM_ARENA_MEMFD, not counted in the
 * system's warnings; without one, nothing on stderr (even in a debug
 * build, whose default log writes warnings there).  An explicit
 * UMM_ARENA_ANON gets no such line (the caller asked for it); with
 * UMM_ARENA_MEMFD the attach works.
 */
static void test_host_attach_auto_anon_hint(void)
{
	const size_t len = 4 * PAGE_SIZE;
	static const int kinds[] = { UMM_ARENA_AUTO, UMM_ARENA_ANON, UMM_ARENA_MEMFD };
	struct umm_sys_stats st0, st1;
	struct umm_system *sys;
	struct umm_mm *mm;
	char sub[300], oc_path[300];
	uintptr_t a;
	int err;

	/* a fake host with huge pages on: AUTO picks the anonymous arena */
	strcpy(thp_dir, "/tmp/usermm-thp-XXXXXX");
	REQUIRE(mkdtemp(thp_dir));
	snprintf(sub, sizeof(sub), "%s/hugepages-2048kB", thp_dir);
	REQUIRE(mkdir(sub, 0700) == 0);
	thp_host(PMD_2M, MADVISE, S_INHERIT);
	thp_put("overcommit_memory", "0\n");
	snprintf(oc_path, sizeof(oc_path), "%s/overcommit_memory", thp_dir);
	arena_auto_reset(thp_dir, oc_path);
	for (unsigned int k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		struct umm_config cfg = { .phys_bytes = 8 * MiB, .arena = kinds[k] };
		bool memfd = kinds[k] == UMM_ARENA_MEMFD;

		REQUIRE(umm_system_create(&cfg, &sys) == 0);
		REQUIRE(umm_mm_create(sys, &mm) == 0);
		REQUIRE(umm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL,
				 0, &a) == 0);
		REQUIRE(umm_system_stats(sys, &st0) == 0);
		CHECK_EQ(st0.arena, memfd ? UMM_ARENA_MEMFD : UMM_ARENA_ANON);
		/* no log function: nothing on stderr */
		CHECK_EQ(stderr_bytes_during_attach(mm, a, len, &err), 0);
		CHECK_EQ(err, memfd ? 0 : -EOPNOTSUPP);
		/* a log function: the hint for AUTO only */
		hint_lines = 0;
		hint_line[0] = 0;
		umm_set_log(capture_hint, NULL);
		CHECK_EQ(stderr_bytes_during_attach(mm, a, len, &err), 0);
		umm_set_log(NULL, NULL);
		CHECK_EQ(err, memfd ? 0 : -EOPNOTSUPP);
		CHECK_EQ(hint_lines, kinds[k] == UMM_ARENA_AUTO ? 1 : 0);
		if (kinds[k] == UMM_ARENA_AUTO)
			CHECK(strstr(hint_line, "UMM_ARENA_MEMFD") != NULL);
		REQUIRE(umm_system_stats(sys, &st1) == 0);
		CHECK_EQ(st1.warnings, st0.warnings);
		CHECK_EQ(umm_system_check(sys), 0);
		umm_mm_destroy(mm);
		CHECK_EQ(umm_system_destroy(sys), 0);
	}
	arena_auto_reset(NULL, NULL);
	thp_host(NULL, NULL, NULL);
	thp_put("overcommit_memory", NULL);
	rmdir(sub);
	rmdir(thp_dir);
}

/*
 * umm_host_attach refuses an address space of a system with an anonymous
 * arena (-EOPNOTSUPP; bad arguments are still -EINVAL first), and changes
 * nothing: no window, no signal handler, the address space as it was.
 * The same call on a memfd system succeeds.
 */
static void test_host_attach_refused_anon(void)
{
	const size_t len = 16 * PAGE_SIZE;
	struct sigaction segv0, bus0, segv1, bus1;
	struct umm_mm_stats ms0, ms1;
	struct umm_system *sys;
	struct umm_mm *mm;
	void *base = (void *)0x1;
	uintptr_t a, off;

	for (int kind = UMM_ARENA_MEMFD; kind <= UMM_ARENA_ANON; kind++) {
		struct umm_config cfg = { .phys_bytes = 8 * MiB, .arena = kind };

		REQUIRE(umm_system_create(&cfg, &sys) == 0);
		REQUIRE(umm_mm_create(sys, &mm) == 0);
		REQUIRE(umm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0,
				 &a) == 0);
		for (off = 0; off < len; off += PAGE_SIZE)
			REQUIRE(umm_write(mm, a + off, &off, sizeof(off)) == 0);
		REQUIRE(umm_mm_stats(mm, &ms0) == 0);
		REQUIRE(sigaction(SIGSEGV, NULL, &segv0) == 0);
		REQUIRE(sigaction(SIGBUS, NULL, &bus0) == 0);
		CHECK_EQ(umm_host_attach(mm, a + 1, len, 0, &base), -EINVAL);
		CHECK_EQ(umm_host_attach(mm, a, len, 0x100, &base), -EINVAL);
		if (kind == UMM_ARENA_MEMFD) {
			REQUIRE(umm_host_attach(mm, a, len, 0, &base) == 0);
			CHECK(((uint64_t *)base)[PAGE_SIZE / 8] == PAGE_SIZE);   /* through the window */
			CHECK_EQ(umm_host_detach(mm, base), 0);
		} else {
			base = (void *)0x1;
			CHECK_EQ(umm_host_attach(mm, a, len, 0, &base), -EOPNOTSUPP);
			CHECK(base == (void *)0x1);
			REQUIRE(sigaction(SIGSEGV, NULL, &segv1) == 0);
			REQUIRE(sigaction(SIGBUS, NULL, &bus1) == 0);
			CHECK(segv1.sa_sigaction == segv0.sa_sigaction && segv1.sa_flags == segv0.sa_flags);
			CHECK(bus1.sa_sigaction == bus0.sa_sigaction && bus1.sa_flags == bus0.sa_flags);
			REQUIRE(umm_mm_stats(mm, &ms1) == 0);
			CHECK_EQ(ms1.nr_vmas, ms0.nr_vmas);
			CHECK_EQ(ms1.rss_anon, ms0.rss_anon);
			CHECK_EQ(ms1.minor_faults, ms0.minor_faults);
			/* nothing was attached: nothing to detach */
			CHECK_EQ(umm_host_detach(mm, (void *)a), -EINVAL);
		}
		for (off = 0; off < len; off += PAGE_SIZE) {
			uint64_t v = 0;

			REQUIRE(umm_read(mm, a + off, &v, sizeof(v)) == 0);
			CHECK_EQ(v, off);
		}
		CHECK_EQ(umm_system_check(sys), 0);
		umm_mm_destroy(mm);
		umm_system_destroy(sys);
	}
}

/*
 * Anonymous arena, kernels without MADV_POPULATE_WRITE: frames handed out
 * come in by their first touch (nothing counted as populated, still
 * zero, writes stick); population at creation writes every page in.
 */
static void test_populate_fallback_anon(void)
{
	struct phys_mem *phys = make_phys(8 * MiB, false);
	struct page *a, *b;
	unsigned long chunk;

	REQUIRE(phys->anon);
	phys->no_populate_write = true;
	a = alloc_page(phys, GFP_ZERO);
	REQUIRE(a);
	chunk = page_to_pfn(a) / ARENA_CHUNK_FRAMES;
	CHECK_EQ(stats(phys).populated_bytes, 0);
	CHECK(!arena_chunk_present(phys, chunk));
	CHECK(frame_zero(phys, page_to_pfn(a)));
	fill_frame(phys, page_to_pfn(a));
	b = alloc_page(phys, GFP_ZERO);
	REQUIRE(b);
	CHECK(frame_zero(phys, page_to_pfn(b)));
	CHECK(frame_intact(phys, page_to_pfn(a)));
	CHECK(resident_frames(phys, page_to_pfn(a), 1) == 1);
	put_page(a);
	put_page(b);
	drain_all_pages(phys);
	CHECK_EQ(phys_check(phys), 0);
	phys_destroy(phys);

	phys = make_phys(8 * MiB, false);
	phys->no_populate_write = true;
	CHECK_EQ(arena_populate_all(phys), 0);
	CHECK_EQ(stats(phys).populated_bytes, 8 * MiB);
	CHECK(stats(phys).populate_ns > 0);
	CHECK_EQ(chunks_present(phys), phys->nr_chunks);
	CHECK_EQ(resident_frames(phys, 0, phys->nr_frames), phys->nr_frames);
	CHECK(frame_zero(phys, 0) && frame_zero(phys, phys->nr_frames - 1));
	phys_destroy(phys);
}

/*
 * A host fork() child uses a system created before the fork: it reads
 * what the parent wrote and writes its own.  A memfd arena is shared
 * memory, so the parent then sees the child's data; an anonymous arena
 * is copy-on-write, so the parent's frames keep the parent's.
 */
static __attribute__((unused)) void test_host_fork_child_uses_system(void)
{
	struct umm_config cfg = { .phys_bytes = 16 * MiB, .arena = arena_kind };
	const unsigned long pages = 64;
	struct umm_system *sys;
	struct umm_mm *mm;
	int status = 0;
	uintptr_t a;
	pid_t pid;

	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	REQUIRE(umm_mm_create(sys, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, pages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 NULL, 0, &a) == 0);
	for (uint64_t i = 0; i < pages; i++)
		REQUIRE(umm_write(mm, a + i * PAGE_SIZE, &i, sizeof(i)) == 0);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		alarm(10);                      /* a hang is a failure */
		for (uint64_t i = 0; i < pages; i++) {
			uint64_t v = ~0ull, w = i + 1000;

			if (umm_read(mm, a + i * PAGE_SIZE, &v, sizeof(v)) || v != i)
				_exit(2);
			if (umm_write(mm, a + i * PAGE_SIZE, &w, sizeof(w)) ||
			    umm_read(mm, a + i * PAGE_SIZE, &v, sizeof(v)) || v != w)
				_exit(3);
		}
		_exit(0);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t v = ~0ull;

		REQUIRE(umm_read(mm, a + i * PAGE_SIZE, &v, sizeof(v)) == 0);
		CHECK_EQ(v, arena_kind == UMM_ARENA_ANON ? i : i + 1000);
	}
	umm_mm_destroy(mm);
	umm_system_destroy(sys);
}

static void *present_alloc_worker(void *arg)
{
	struct ahead_worker *w = arg;

	for (unsigned long i = 0; i < w->nr; i++) {
		w->pages[i] = alloc_page(w->phys, GFP_ZERO);
		if (!w->pages[i])
			break;
		if (!arena_chunk_present(w->phys, page_to_pfn(w->pages[i]) / ARENA_CHUNK_FRAMES))
			w->not_present++;
		TCHECK(frame_zero(w->phys, page_to_pfn(w->pages[i])));
	}
	return NULL;
}

/*
 * Anonymous arena: a frame is handed out only once its chunk is present,
 * even when another fault is bringing that chunk in (the fault waits
 * rather than touch the chunk and make the host zero a second huge page
 * for it).  Several threads allocate from a fresh arena, so their frames
 * share chunks.
 */
static void test_anon_fault_waits_for_chunk(void)
{
	enum { NTHREADS = 3 };
	struct phys_mem *phys = make_phys(64 * MiB, false);
	const unsigned long per = 8 * MiB / PAGE_SIZE;
	struct ahead_worker w[NTHREADS];
	pthread_t t[NTHREADS];

	REQUIRE(phys->anon);
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct ahead_worker){ .phys = phys, .nr = per, .pages = calloc(per, sizeof(struct page *)) };
		REQUIRE(w[i].pages);
		REQUIRE(pthread_create(&t[i], NULL, present_alloc_worker, &w[i]) == 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ(w[i].not_present, 0);
	}
	test_fold_thread_checks();
	populate_ahead_wait_idle(phys);
	CHECK(no_chunk_busy(phys));
	CHECK_EQ(stats(phys).populated_bytes, chunks_present(phys) * ARENA_CHUNK_FRAMES * PAGE_SIZE);
	for (int i = 0; i < NTHREADS; i++) {
		for (unsigned long j = 0; j < per; j++)
			if (w[i].pages[j])
				put_page(w[i].pages[j]);
		free(w[i].pages);
	}
	drain_all_pages(phys);
	CHECK_EQ(phys_check(phys), 0);
	phys_destroy(phys);
}

#ifdef __SANITIZE_THREAD__
#define FAULT_ROUNDS 8
#else
#define FAULT_ROUNDS 40
#endif

/*
 * Each worker maps FAULT_MAP_BYTES a round, and the workers of a round
 * all hold theirs at once (a barrier), whatever the scheduler does: 18 MiB
 * in use at once spans at least five of the arena's eight 4 MiB blocks,
 * while the frames kept in use between rounds (the page-table root, the
 * slab pages of the mm and of spare slabs: about ten) sit in one, the
 * first used.  So blocks the workers used become whole again, during the
 * run and at its end, for the reporting thread to give back.  (With 2 MiB
 * each and no barrier, workers that a loaded machine ran one after
 * another reused the same 2 MiB of frames inside the block holding the
 * page-table root: no block was ever freed whole, nothing was released.)
 */
#define FAULT_MAP_BYTES (6 * MiB)

struct fault_worker {
	struct umm_mm *mm;
	unsigned int id;
	pthread_barrier_t *all_mapped;  /* every worker has faulted its mapping in */
};

/*
 * fault_worker - map, check fresh pages read zero, write, wait until every
 * worker has, verify, unmap, FAULT_ROUNDS times.
 */
static void *fault_worker_fn(void *p)
{
	struct fault_worker *w = p;
	const unsigned long pages = FAULT_MAP_BYTES / PAGE_SIZE;

	for (unsigned int round = 0; round < FAULT_ROUNDS; round++) {
		uintptr_t a;

		if (umm_mmap(w->mm, 0, pages * PAGE_SIZE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a)) {
			TCHECK(!"umm_mmap failed");
			exit(1);        /* a worker that left would hold the others at the barrier */
		}
		for (unsigned long i = 0; i < pages; i++) {
			uint64_t v = 1, tag = ((uint64_t)w->id << 48) | ((uint64_t)round << 24) | i;

			TCHECK(umm_read(w->mm, a + i * PAGE_SIZE + 64, &v, sizeof(v)) == 0 && v == 0);
			TCHECK(umm_write(w->mm, a + i * PAGE_SIZE + 64, &tag, sizeof(tag)) == 0);
		}
		pthread_barrier_wait(w->all_mapped);
		for (unsigned long i = 0; i < pages; i++) {
			uint64_t v = 0, tag = ((uint64_t)w->id << 48) | ((uint64_t)round << 24) | i;

			TCHECK(umm_read(w->mm, a + i * PAGE_SIZE + 64, &v, sizeof(v)) == 0 && v == tag);
		}
		TCHECK(umm_munmap(w->mm, a, pages * PAGE_SIZE) == 0);
	}
	return NULL;
}

/*
 * Threads of one address space fault fresh pages in, verify and unmap
 * them, round after round, while the reporting thread gives every block
 * free for a millisecond back to the host: a fresh page always reads
 * zero, written data stays, and the freed memory is given back.
 */
static void test_faults_while_punching(void)
{
	enum { NTHREADS = 3 };
	struct umm_config cfg = { .phys_bytes = 32 * MiB, .release_ms = 1, .arena = arena_kind };
	struct fault_worker w[NTHREADS];
	pthread_t t[NTHREADS];
	pthread_barrier_t all_mapped;
	struct umm_sys_stats st;
	struct umm_system *sys;
	struct umm_mm *mm;
	double deadline;

	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	REQUIRE(umm_mm_create(sys, &mm) == 0);
	REQUIRE(pthread_barrier_init(&all_mapped, NULL, NTHREADS) == 0);
	for (unsigned int i = 0; i < NTHREADS; i++) {
		w[i] = (struct fault_worker){ .mm = mm, .id = i + 1, .all_mapped = &all_mapped };
		REQUIRE(pthread_create(&t[i], NULL, fault_worker_fn, &w[i]) == 0);
	}
	for (unsigned int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&all_mapped);
	test_fold_thread_checks();
	/* everything is free now: the reporting thread gives some of it back (generous bound) */
	deadline = test_now_s() + 20;
	do {
		REQUIRE(umm_system_stats(sys, &st) == 0);
		if (st.host_released_bytes > 0)
			break;
		usleep(2000);
	} while (test_now_s() < deadline);
	CHECK(st.host_released_bytes > 0);
	CHECK_EQ(st.anon_pages, 0);
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(mm);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

struct touch_job {
	struct umm_mm *mm;
	uintptr_t addr;
	unsigned int pages;
};

/* touch_fn - write to each page of the job's range (their frames come from this thread's cache). */
static void *touch_fn(void *p)
{
	struct touch_job *j = p;
	char c = 1;

	for (unsigned int i = 0; i < j->pages; i++)
		TCHECK(umm_write(j->mm, j->addr + i * PAGE_SIZE, &c, 1) == 0);
	return NULL;
}

/*
 * umm_system_stats' free_frames stays exact on a quiet system while the
 * reporting thread drains an idle thread's frame cache.  Each round a
 * short-lived thread faults a few pages in and the main thread unmaps
 * them: their frames go into the main thread's cache, counted there and
 * not yet in the published free count (fewer than PCP_SYNC_DRIFT).  The
 * main thread then only reads the statistics until the reporting thread
 * (a pass every millisecond) has drained its idle cache, and every
 * reading must be the same.  A reading that added the caches' parts to a
 * free count taken before one of them was drained missed that part
 * (about one round in seven, debug and TSan builds, before the fix).
 */
static void test_stats_exact_while_reporting_drains(void)
{
	struct umm_config cfg = { .phys_bytes = 16 * MiB, .release_ms = 1 };
	unsigned long wrong = 0, undrained = 0, expect = 0;
	struct umm_sys_stats st;
	struct umm_system *sys;
	struct umm_mm *mm;

	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	REQUIRE(umm_mm_create(sys, &mm) == 0);
	for (unsigned int round = 0; round < 200; round++) {
		struct touch_job job = { .mm = mm, .pages = 1 + round % 7 };
		struct phys_stats ps;
		pthread_t t;
		double deadline;

		REQUIRE(umm_mmap(mm, 0, job.pages * PAGE_SIZE, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &job.addr) == 0);
		REQUIRE(pthread_create(&t, NULL, touch_fn, &job) == 0);
		pthread_join(t, NULL);
		REQUIRE(umm_munmap(mm, job.addr, job.pages * PAGE_SIZE) == 0);
		/* from here to the drain nothing allocates or frees: every reading is the same */
		deadline = test_now_s() + 20;   /* generous: the drain comes within 2 passes */
		do {
			REQUIRE(umm_system_stats(sys, &st) == 0);
			if (!expect)
				expect = st.free_frames;
			if (st.free_frames != expect && wrong++ < 5)
				fprintf(stderr, "round %u: free_frames %lu, expected %lu\n",
					round, st.free_frames, expect);
			phys_get_stats(sys->phys, &ps);
		} while (ps.nr_pcp && test_now_s() < deadline);
		undrained += ps.nr_pcp != 0;
	}
	test_fold_thread_checks();
	CHECK_EQ(undrained, 0);
	CHECK_EQ(wrong, 0);
	umm_mm_destroy(mm);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

/* run_kind - the tests that hold for each arena kind, with `kind`. */
static void run_kind(int kind)
{
	arena_kind = kind;
	fprintf(stderr, "-- %s arena\n", kind == UMM_ARENA_ANON ? "anonymous" : "memfd");
	RUN(test_config_bad_inputs);
	RUN(test_populate_on_first_alloc);
	if (kind == UMM_ARENA_ANON) {
		RUN(test_populate_fallback_anon);
		RUN(test_anon_fault_waits_for_chunk);
		RUN(test_anon_cold_huge_pages);
	} else {
		RUN(test_populate_fallback_memfd);
	}
	RUN(test_populate_at_creation);
	RUN(test_punched_reads_zero);
	RUN(test_nothing_in_use_punched);
	RUN(test_descriptors_follow_use);
	RUN(test_gfp_zero_known_zero);
	RUN(test_punch_races_allocation);
	RUN(test_resident_falls_after_munmap);
	RUN(test_populate_ahead_config);
	RUN(test_populate_ahead_window);
	RUN(test_populate_ahead_bounded);
	RUN(test_populate_ahead_stop);
	RUN(test_populate_ahead_concurrent);
	RUN(test_alloc_prefers_present);
	RUN(test_faults_while_punching);
#ifndef __SANITIZE_THREAD__
	/*
	 * Not under TSan: its runtime does not support a child of a
	 * multithreaded fork() going on to run code that locks (the child
	 * can hang in the runtime itself).  Runs in the debug and ASan builds.
	 */
	RUN(test_destroy_in_forked_child);
	RUN(test_host_fork_child_uses_system);
#endif
}

int main(void)
{
	RUN(test_arena_kind_config);
	RUN(test_auto_kind_decision);
	RUN(test_auto_kind_system);
	RUN(test_host_attach_auto_anon_hint);
	RUN(test_host_attach_refused_anon);
	RUN(test_stats_exact_while_reporting_drains);
	run_kind(UMM_ARENA_MEMFD);
	run_kind(UMM_ARENA_ANON);
	return test_summary("test_arena");
}
