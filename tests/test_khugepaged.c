/* SPDX-License-Identifier: MIT */
/*
 * test_khugepaged.c - collapsing an anonymous arena's chunks that came in
 * as 4 KiB host pages into 2 MiB host pages (khugepaged.c and
 * arena_collapse_chunk()): the frames keep their contents, also while
 * other threads write them during the collapse; the host then holds the
 * chunks as huge pages (AnonHugePages in /proc/self/smaps); punching and
 * collapsing one chunk exclude each other and the small-chunk count stays
 * exact; the thread starts only when a chunk comes in small, waits for the
 * arena to be quiet, and does its work on its own; phys_check catches a
 * bad small bitmap; the configuration's bad inputs.  Chunks are sent to small pages by setting the arena's
 * small_left (what a cold huge page does, arena.c).  On a host without
 * MADV_COLLAPSE (before Linux 6.1) or transparent huge pages the tests
 * that need a collapse say so and check only that nothing changed.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "page_alloc.h"
#include "kthread.h"
#include "system.h"
#include "test.h"

#define MiB (1UL << 20)
#define BLOCK_FRAMES (1UL << (MAX_ORDER - 1))   /* 4 MiB: two chunks */

static struct phys_mem *make_anon_phys(size_t bytes)
{
	struct phys_params params = { .anon = true };
	struct phys_mem *phys = NULL;

	REQUIRE(phys_create(bytes, &params, &phys) == 0);
	return phys;
}

static struct phys_stats stats(struct phys_mem *phys)
{
	struct phys_stats st;

	phys_get_stats(phys, &st);
	return st;
}

/* send_small - every chunk that comes in from now on comes in as 4 KiB host pages */
static void send_small(struct phys_mem *phys)
{
	atomic_store(&phys->small_left, 1UL << 30);
}

static uint64_t frame_word(unsigned long pfn, unsigned long i)
{
	return (pfn * 0x9e3779b97f4a7c15ull) ^ (i * 0x2545f4914f6cdd1dull) ^ 0xc011a95e;
}

static void fill_frame(struct phys_mem *phys, unsigned long pfn)
{
	uint64_t *w = pfn_to_virt(phys, pfn);

	for (unsigned long i = 0; i < PAGE_SIZE / 8; i += 31)
		w[i] = frame_word(pfn, i);
}

static bool frame_intact(struct phys_mem *phys, unsigned long pfn)
{
	const uint64_t *w = pfn_to_virt(phys, pfn);

	for (unsigned long i = 0; i < PAGE_SIZE / 8; i += 31)
		if (w[i] != frame_word(pfn, i))
			return false;
	return true;
}

/*
 * anon_huge_kib - AnonHugePages (kB) of the host mappings overlapping
 * [start, start + len), from /proc/self/smaps; -1 if it cannot be read.
 */
static long anon_huge_kib(const void *start, size_t len)
{
	uintptr_t s = (uintptr_t)start, e = s + len;
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in = false;
	long kib = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b, v;

		if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = a < e && b > s;
		else if (in && sscanf(line, "AnonHugePages: %lu kB", &v) == 1)
			kib += (long)v;
	}
	fclose(f);
	return kib;
}

/*
 * collapse_unsupported - after a pass: the host has no MADV_COLLAPSE
 * (EINVAL), or refused every collapse of the pass (no huge page to give,
 * ENOMEM/EAGAIN: a fragmented host); the callers then check only what
 * must hold either way.
 */
static bool collapse_unsupported(struct phys_mem *phys, const char *test)
{
	if (__atomic_load_n(&phys->no_collapse, __ATOMIC_RELAXED)) {
		fprintf(stderr, "%s: the host refuses MADV_COLLAPSE (EINVAL): collapse not checked\n", test);
		return true;
	}
	if (stats(phys).collapse_failed && !stats(phys).collapsed) {
		fprintf(stderr, "%s: the host gave no huge page (%lu collapses refused): collapse not checked\n",
			test, stats(phys).collapse_failed);
		return true;
	}
	return false;
}

/*
 * Chunks that came in small are counted, collapsed by one pass, counted
 * out again, keep every frame's contents, and are huge pages in the host
 * afterwards.
 */
static void test_collapse_keeps_contents(void)
{
	struct phys_mem *phys = make_anon_phys(16 * MiB);
	struct page *a, *b;
	unsigned long pa, pb, n;
	long huge0, huge1;

	send_small(phys);
	a = alloc_pages(phys, GFP_KERNEL, MAX_ORDER - 1);       /* two chunks */
	b = alloc_pages(phys, GFP_KERNEL, MAX_ORDER - 1);       /* two more */
	REQUIRE(a && b);
	pa = page_to_pfn(a);
	pb = page_to_pfn(b);
	CHECK_EQ(stats(phys).small_now, 4);
	CHECK_EQ(stats(phys).small_chunks, 4);
	CHECK_EQ(arena_next_small(phys, 0), MIN(pa, pb) >> ARENA_CHUNK_ORDER);
	for (unsigned long i = 0; i < BLOCK_FRAMES; i++) {
		fill_frame(phys, pa + i);
		fill_frame(phys, pb + i);
	}
	huge0 = anon_huge_kib(phys->base, phys->nr_frames * PAGE_SIZE);
	n = khugepaged_run(phys);
	/* every chunk is either collapsed or still counted small */
	CHECK_EQ(n + stats(phys).small_now, 4);
	if (collapse_unsupported(phys, __func__)) {
		CHECK_EQ(n, 0);
		CHECK_EQ(stats(phys).small_now, 4);
	} else if (stats(phys).collapse_failed) {
		fprintf(stderr, "%s: %lu collapses refused by the host: the huge-page count not checked\n",
			__func__, stats(phys).collapse_failed);
	} else {
		CHECK_EQ(n, 4);
		CHECK_EQ(stats(phys).collapsed, 4);
		CHECK_EQ(stats(phys).small_now, 0);
		CHECK_EQ(arena_next_small(phys, 0), phys->nr_chunks);
		huge1 = anon_huge_kib(phys->base, phys->nr_frames * PAGE_SIZE);
		if (huge0 >= 0 && huge1 >= 0)
			CHECK(huge1 - huge0 >= 4 * 2048);
		/* a second pass has nothing to do */
		CHECK_EQ(khugepaged_run(phys), 0);
	}
	for (unsigned long i = 0; i < BLOCK_FRAMES; i++) {
		CHECK(frame_intact(phys, pa + i));
		CHECK(frame_intact(phys, pb + i));
	}
	free_pages(b, MAX_ORDER - 1);
	free_pages(a, MAX_ORDER - 1);
	CHECK_EQ(phys_check(phys), 0);
	phys_destroy(phys);
}

struct writer {
	struct phys_mem *phys;
	unsigned long first, nr;        /* frames this writer owns */
	atomic_bool *stop;
	_Atomic unsigned long rounds;   /* rounds completed: each frame's counter */
};

/* writer_main - bump a counter in every frame of its range, round after round, until stopped */
static void *writer_main(void *arg)
{
	struct writer *w = arg;

	while (!atomic_load(w->stop) || w->rounds < 2) {
		for (unsigned long i = 0; i < w->nr; i++) {
			volatile uint64_t *p = pfn_to_virt(w->phys, w->first + i);

			p[(i * 7) % (PAGE_SIZE / 8)] += 1;
		}
		atomic_fetch_add(&w->rounds, 1);
	}
	return NULL;
}

/*
 * Writes that land while their chunk is being collapsed are not lost: two
 * threads keep incrementing a word in every frame of four small chunks
 * while the chunks are collapsed; each word ends equal to its writer's
 * round count.
 */
static void test_collapse_while_writing(void)
{
	struct phys_mem *phys = make_anon_phys(16 * MiB);
	atomic_bool stop = false;
	struct writer w[2];
	pthread_t t[2];
	struct page *blk[2];
	unsigned long n, wrong = 0;

	send_small(phys);
	for (int k = 0; k < 2; k++) {
		blk[k] = alloc_pages(phys, GFP_KERNEL | GFP_ZERO, MAX_ORDER - 1);
		REQUIRE(blk[k]);
		w[k] = (struct writer){ .phys = phys, .first = page_to_pfn(blk[k]), .nr = BLOCK_FRAMES,
					.stop = &stop };
	}
	CHECK_EQ(stats(phys).small_now, 4);
	for (int k = 0; k < 2; k++)
		REQUIRE(pthread_create(&t[k], NULL, writer_main, &w[k]) == 0);
	while (atomic_load(&w[0].rounds) < 1 || atomic_load(&w[1].rounds) < 1)
		usleep(100);
	n = khugepaged_run(phys);
	atomic_store(&stop, true);
	for (int k = 0; k < 2; k++)
		pthread_join(t[k], NULL);
	CHECK_EQ(n + stats(phys).small_now, 4);
	if (!collapse_unsupported(phys, __func__) && !stats(phys).collapse_failed)
		CHECK_EQ(n, 4);
	for (int k = 0; k < 2; k++)
		for (unsigned long i = 0; i < BLOCK_FRAMES; i++) {
			const uint64_t *p = pfn_to_virt(phys, w[k].first + i);

			wrong += p[(i * 7) % (PAGE_SIZE / 8)] != w[k].rounds;
		}
	CHECK_EQ(wrong, 0);
	for (int k = 0; k < 2; k++)
		free_pages(blk[k], MAX_ORDER - 1);
	CHECK_EQ(phys_check(phys), 0);
	phys_destroy(phys);
}

struct puncher {
	struct phys_mem *phys;
	size_t released;
};

static void *punch_main(void *arg)
{
	struct puncher *p = arg;

	p->released = page_reporting_run(p->phys, 0);
	return NULL;
}

/*
 * Punching and collapsing exclude each other (a chunk is busy for one at a
 * time): free small chunks are punched by a reporting pass while a
 * collapse pass runs over them; afterwards no chunk is counted small that
 * is not, every chunk is either collapsed or punched (and so not small),
 * and the allocator's books balance.
 */
static void test_collapse_races_punch(void)
{
	for (int round = 0; round < 8; round++) {
		struct phys_mem *phys = make_anon_phys(32 * MiB);
		struct page *blk[6];
		struct puncher p = { phys, 0 };
		pthread_t t;
		unsigned long n;
		struct phys_stats st;

		send_small(phys);
		for (int k = 0; k < 6; k++) {
			blk[k] = alloc_pages(phys, GFP_KERNEL, MAX_ORDER - 1);
			REQUIRE(blk[k]);
		}
		for (int k = 0; k < 6; k++)
			free_pages(blk[k], MAX_ORDER - 1);
		drain_all_pages(phys);
		CHECK_EQ(stats(phys).small_now, 12);
		REQUIRE(pthread_create(&t, NULL, punch_main, &p) == 0);
		n = khugepaged_run(phys);
		pthread_join(t, NULL);
		st = stats(phys);
		CHECK_EQ(st.small_now, 0);
		CHECK_EQ(arena_next_small(phys, 0), phys->nr_chunks);
		/* a chunk collapsed and then punched is counted by both */
		CHECK(n + p.released / (ARENA_CHUNK_FRAMES * PAGE_SIZE) >= 12);
		CHECK_EQ(phys_check(phys), 0);
		phys_destroy(phys);
	}
}

/* wait_for - poll cond(arg) for up to 30 s; true once it holds */
static bool wait_for(bool (*cond)(struct umm_system *), struct umm_system *sys)
{
	for (int i = 0; i < 30000; i++) {
		if (cond(sys))
			return true;
		usleep(1000);
	}
	return cond(sys);
}

/* the thread is done: no small chunk left, or the host refuses to collapse */
static bool no_small_chunks(struct umm_system *sys)
{
	struct umm_sys_stats st;

	umm_system_stats(sys, &st);
	return st.host_small_chunks == 0 || st.host_collapse_failed ||
	       __atomic_load_n(&sys->phys->no_collapse, __ATOMIC_RELAXED);
}

/*
 * grow_small - a new address space of sys with 8 MiB of anonymous memory
 * written (each page its own offset), its chunks brought in as 4 KiB
 * host pages; *ap gets the mapping's address.
 */
static struct umm_mm *grow_small(struct umm_system *sys, uintptr_t *ap)
{
	struct umm_mm *mm;

	send_small(sys->phys);
	REQUIRE(umm_mm_create(sys, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, 8 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0,
			 ap) == 0);
	for (uintptr_t off = 0; off < 8 * MiB; off += PAGE_SIZE)
		REQUIRE(umm_write(mm, *ap + off, &off, sizeof(off)) == 0);
	return mm;
}

/*
 * The system's thread: not created while no chunk is small; created when
 * one comes in small; collapses on its own once the arena is quiet (the
 * public counters say so); and a system whose quiet period has not passed
 * keeps its small chunks.
 */
static void test_thread_collapses_when_quiet(void)
{
	struct umm_config cfg = { .phys_bytes = 32 * MiB, .arena = UMM_ARENA_ANON, .collapse_ms = 20,
				  .release_ms = -1 };
	struct umm_sys_stats st;
	struct umm_system *sys, *slow;
	struct umm_mm *mm;
	uintptr_t a;

	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	REQUIRE(sys->phys->khugepaged != NULL);
	umm_system_stats(sys, &st);
	if (!st.host_small_chunks)
		CHECK(!kthread_running(atomic_load(&sys->phys->collapse_kt)));
	mm = grow_small(sys, &a);
	umm_system_stats(sys, &st);
	CHECK(st.host_small_chunks >= 4);
	CHECK(kthread_running(atomic_load(&sys->phys->collapse_kt)));
	CHECK(wait_for(no_small_chunks, sys));
	umm_system_stats(sys, &st);
	if (__atomic_load_n(&sys->phys->no_collapse, __ATOMIC_RELAXED) || st.host_collapse_failed) {
		fprintf(stderr, "%s: the host refused a collapse (%lu refused): the thread's work not checked\n",
			__func__, st.host_collapse_failed);
	} else {
		CHECK_EQ(st.host_small_chunks, 0);
		CHECK(st.host_collapsed_chunks >= 4);
		CHECK(st.host_collapse_ns > 0);
	}
	for (uintptr_t off = 0; off < 8 * MiB; off += PAGE_SIZE) {
		uintptr_t v = 0;

		REQUIRE(umm_read(mm, a + off, &v, sizeof(v)) == 0);
		CHECK_EQ(v, off);
	}
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(mm);
	CHECK_EQ(umm_system_destroy(sys), 0);

	/* a quiet period of 100 s: the small chunks stay */
	cfg.collapse_ms = 100000;
	REQUIRE(umm_system_create(&cfg, &slow) == 0);
	mm = grow_small(slow, &a);
	usleep(200000);
	umm_system_stats(slow, &st);
	CHECK(st.host_small_chunks >= 4);
	CHECK_EQ(st.host_collapsed_chunks, 0);
	umm_mm_destroy(mm);
	CHECK_EQ(umm_system_destroy(slow), 0);
}

/*
 * Configuration: collapse_ms below -1 is -EINVAL with nothing created;
 * -1 and a memfd arena have no collapse thread; population at creation
 * brings an anonymous arena in as huge pages even when they are cold, so
 * nothing is left to collapse.
 */
static void test_config(void)
{
	struct umm_config cfg = { .phys_bytes = 8 * MiB, .arena = UMM_ARENA_ANON, .collapse_ms = -2 };
	struct umm_system *sys = (struct umm_system *)0x1;
	struct phys_params params = { .anon = true };
	struct phys_mem *phys = NULL;

	CHECK_EQ(umm_system_create(&cfg, &sys), -EINVAL);
	CHECK(sys == (struct umm_system *)0x1);
	cfg.collapse_ms = LONG_MIN;
	CHECK_EQ(umm_system_create(&cfg, &sys), -EINVAL);
	cfg.collapse_ms = -1;
	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	CHECK(sys->phys->khugepaged == NULL);
	CHECK_EQ(umm_system_destroy(sys), 0);
	cfg.collapse_ms = 0;
	cfg.arena = UMM_ARENA_MEMFD;
	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	CHECK(sys->phys->khugepaged == NULL);
	CHECK_EQ(umm_system_destroy(sys), 0);
	cfg.arena = UMM_ARENA_ANON;
	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	CHECK(sys->phys->khugepaged != NULL);
	CHECK_EQ(umm_system_destroy(sys), 0);

	/*
	 * Population of the whole arena (what creation with populate does)
	 * with every huge chunk counting as cold: none goes small, none is
	 * counted cold (a fault's population would send the chunks after the
	 * first to small pages), and none goes small while chunks are still
	 * owed to small pages by an earlier cold one.
	 */
	REQUIRE(phys_create(8 * MiB, &params, &phys) == 0);
	phys->thp_cold_ns = 0;
	atomic_store(&phys->small_left, 2);
	CHECK_EQ(arena_populate_all(phys), 0);
	CHECK_EQ(stats(phys).small_chunks, 0);
	CHECK_EQ(stats(phys).thp_cold, 0);
	CHECK_EQ(stats(phys).populated_bytes, 8 * MiB);
	CHECK_EQ(atomic_load(&phys->small_left), 2);
	phys_destroy(phys);
}

static void quiet_log(int level, const char *line, void *arg)
{
	(void)level;
	(void)line;
	(*(int *)arg)++;
}

/*
 * phys_check checks the small bitmap: a small bit on an absent chunk, and
 * a count that does not match the bits, are reported; fixed, it passes.
 */
static void test_check_finds_bad_bitmap(void)
{
	struct phys_mem *phys = make_anon_phys(16 * MiB);
	unsigned long c = phys->nr_chunks - 1;
	int lines = 0;

	REQUIRE(!arena_chunk_present(phys, c));
	CHECK_EQ(phys_check(phys), 0);
	umm_set_log(quiet_log, &lines);
	__atomic_fetch_or(&phys->small[c / (8 * sizeof(long))], 1UL << (c % (8 * sizeof(long))),
			  __ATOMIC_RELAXED);
	CHECK_EQ(phys_check(phys), -EUCLEAN);
	CHECK(lines >= 2);              /* the absent chunk and the count */
	atomic_fetch_add(&phys->nr_small, 1);
	lines = 0;
	CHECK_EQ(phys_check(phys), -EUCLEAN);
	CHECK_EQ(lines, 1);             /* the absent chunk only */
	__atomic_fetch_and(&phys->small[c / (8 * sizeof(long))], ~(1UL << (c % (8 * sizeof(long)))),
			   __ATOMIC_RELAXED);
	atomic_fetch_sub(&phys->nr_small, 1);
	umm_set_log(NULL, NULL);
	CHECK_EQ(phys_check(phys), 0);
	phys_destroy(phys);
}

/*
 * host_brings_small - can this host bring a chunk in as 4 KiB pages on
 * purpose?  Not without MADV_POPULATE_WRITE (Linux before 5.14), where an
 * anonymous arena's chunks come in by their first touches instead.
 */
static bool host_brings_small(void)
{
	struct phys_mem *phys = make_anon_phys(8 * MiB);
	struct page *a;
	bool ok;

	send_small(phys);
	a = alloc_pages(phys, GFP_KERNEL, MAX_ORDER - 1);
	REQUIRE(a);
	ok = stats(phys).small_now > 0;
	free_pages(a, MAX_ORDER - 1);
	phys_destroy(phys);
	return ok;
}

int main(void)
{
	RUN(test_config);
	RUN(test_check_finds_bad_bitmap);
	if (!host_brings_small()) {
		fprintf(stderr, "test_khugepaged: the host cannot bring chunks in as small pages "
			"(no MADV_POPULATE_WRITE): the collapse tests are skipped\n");
		return test_summary("test_khugepaged");
	}
	RUN(test_collapse_keeps_contents);
	RUN(test_collapse_while_writing);
	RUN(test_collapse_races_punch);
	RUN(test_thread_collapses_when_quiet);
	return test_summary("test_khugepaged");
}
