/* SPDX-License-Identifier: MIT */
/*
 * test_threads.c - concurrency stress through the public interface.
 *
 * Theory of operation.  Six scenarios, each bounded by a time budget so
 * the program stays well under 10 s with ThreadSanitizer:
 *
 *   own_regions   N writer threads fault and fill their own pages of one
 *                 shared anonymous mapping and one shared file mapping,
 *                 reading each page back, while a mutator thread maps,
 *                 writes, protects and unmaps unrelated ranges of the same
 *                 address space.  At the end every page holds its writer's
 *                 last pattern and the file (after umm_object_sync) too.
 *   shared_pages  threads write disjoint slots of the same pages at once:
 *                 first-touch anonymous faults, COW from the zero page,
 *                 COW of pages shared with a forked child, shared memory.
 *                 No slot update may be lost, the child must not see any.
 *   fork_snapshot one thread forks repeatedly while others write; a region
 *                 written only by the forking thread between forks must be
 *                 an exact snapshot in every child, later parent writes
 *                 must not leak into an older child, and every page of the
 *                 concurrently written regions is a whole, consistent page.
 *   remap_readers one thread replaces a window with mappings of two shmem
 *                 objects (or unmaps/protects it) while readers read it:
 *                 every page read is wholly object A's or object B's
 *                 content at the right offset, or -EFAULT.
 *   truncate_race a file mapped shared is cut to half and grown back over
 *                 and over while readers read the upper half and a writer
 *                 writes the lower half: once a cut has returned the upper
 *                 pages read -EIO or zeros, never the old bytes; the lower
 *                 half keeps every write and reaches the file.
 *   exit_totals   threads fault their own pages and exit: the counters,
 *                 frame caches and LRU batches they leave fold back into
 *                 exact totals (RSS, faults, LRU sizes, free frames).
 *
 * Checks made on worker threads go through atomic counters (test.h's
 * counters are not thread-safe) and are folded into the summary by main.
 * Every scenario ends with umm_mm_check() and a frame leak check.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include <usermm/usermm.h>
#include "test.h"

#define PS 4096UL

#define TCHECK_RC(expr, want) do { int __r = (expr); atomic_fetch_add(&test_thread_checks, 1); \
	if (__r != (want)) { atomic_fetch_add(&test_thread_failures, 1); \
	fprintf(stderr, "%s:%d: %s = %d (%s), expected %d\n", __FILE__, __LINE__, #expr, \
		__r, umm_strerror(__r), (int)(want)); } } while (0)

static uint64_t rnd_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* fill_words / page_is - pages made of one repeated 64-bit word. */
static void fill_words(void *page, uint64_t w)
{
	uint64_t *p = page;

	for (size_t i = 0; i < PS / 8; i++)
		p[i] = w;
}

static bool page_is(const void *page, uint64_t w)
{
	const uint64_t *p = page;

	for (size_t i = 0; i < PS / 8; i++)
		if (p[i] != w)
			return false;
	return true;
}

/* leak_check - everything is gone again: frames back to the baseline, nothing cached. */
static void leak_check(struct umm_system *sys, unsigned long baseline)
{
	struct umm_sys_stats st;

	CHECK_EQ(umm_system_stats(sys, &st), 0);
	CHECK_EQ(st.free_frames, baseline);
	CHECK_EQ(st.anon_pages, 0);
	CHECK_EQ(st.pagecache_pages, 0);
	CHECK_EQ(st.nr_mms, 0);
	CHECK_EQ(st.nr_objects, 0);
	CHECK_EQ(umm_system_check(sys), 0);
}

/* ---- (a) writers in their own regions, a mutator elsewhere ---- */

#define A_WRITERS     4
#define A_PAGES       16                 /* per writer, in each of the two mappings */
#define A_MUT_BASE    0x40000000UL       /* the mutator's window, 64 pages */
#define A_MUT_PAGES   64

struct a_shared {
	struct umm_mm *mm;
	uintptr_t anon, file;
	double deadline;
	atomic_int writers_left;
	int last_round[A_WRITERS];
};

struct a_arg {
	struct a_shared *sh;
	int t;
};

static uint64_t a_word(int t, int round, int page, int which)
{
	return ((uint64_t)which << 56) | ((uint64_t)t << 48) | ((uint64_t)round << 16) | (uint64_t)page;
}

static void *a_writer(void *p)
{
	struct a_arg *arg = p;
	struct a_shared *sh = arg->sh;
	static _Thread_local unsigned char buf[PS], back[PS];
	int round;

	for (round = 1; round < 100000; round++) {
		for (int pg = 0; pg < A_PAGES; pg++) {
			for (int which = 0; which < 2; which++) {
				uintptr_t a = (which ? sh->file : sh->anon) + ((size_t)arg->t * A_PAGES + pg) * PS;
				uint64_t w = a_word(arg->t, round, pg, which);

				fill_words(buf, w);
				TCHECK_RC(umm_write(sh->mm, a, buf, PS), 0);
				TCHECK_RC(umm_read(sh->mm, a, back, PS), 0);
				TCHECK(page_is(back, w));
			}
		}
		if (round >= 3 && test_now_s() > sh->deadline)
			break;
	}
	sh->last_round[arg->t] = round;
	atomic_fetch_sub(&sh->writers_left, 1);
	return NULL;
}

/* a_mutator_cycle - map, write, protect, unmap one range of the mutator's window. */
static void a_mutator_cycle(struct umm_mm *mm, uint64_t *seed)
{
	size_t pages = 1 + rnd_next(seed) % 16;
	uintptr_t addr = A_MUT_BASE + (rnd_next(seed) % (A_MUT_PAGES - pages)) * PS, out = 0;
	unsigned char c = 0x5a, got = 0;

	TCHECK_RC(umm_mmap(mm, addr, pages * PS, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0, &out), 0);
	TCHECK(out == addr);
	TCHECK_RC(umm_write(mm, addr + (pages - 1) * PS, &c, 1), 0);
	TCHECK_RC(umm_mprotect(mm, addr, pages * PS, PROT_READ), 0);
	TCHECK_RC(umm_write(mm, addr, &c, 1), -EFAULT);
	TCHECK_RC(umm_read(mm, addr + (pages - 1) * PS, &got, 1), 0);
	TCHECK(got == 0x5a);
	TCHECK_RC(umm_munmap(mm, addr, pages * PS), 0);
	TCHECK_RC(umm_read(mm, addr, &got, 1), -EFAULT);

	/* a free-placement mapping lands somewhere among the writers' */
	TCHECK_RC(umm_mmap(mm, 0, 2 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			   NULL, 0, &out), 0);
	TCHECK_RC(umm_write(mm, out + PS, &c, 1), 0);
	TCHECK_RC(umm_munmap(mm, out, 2 * PS), 0);
}

static void *a_mutator(void *p)
{
	struct a_shared *sh = p;
	uint64_t seed = 0x1234567;
	long cycles = 0;

	while (atomic_load(&sh->writers_left) > 0) {
		a_mutator_cycle(sh->mm, &seed);
		cycles++;
	}
	TCHECK(cycles > 0);
	return NULL;
}

static void test_own_regions(void)
{
	struct umm_system *sys = test_sys_create(64UL << 20, 0);
	struct a_shared sh = { 0 };
	struct a_arg args[A_WRITERS];
	pthread_t wt[A_WRITERS], mt;
	struct umm_object *obj = NULL;
	size_t len = (size_t)A_WRITERS * A_PAGES * PS;
	unsigned long baseline;
	unsigned char *file;
	int fd;

	test_warm_up(sys);
	baseline = test_free_frames(sys);
	fd = test_tmpfile(len, NULL);
	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	REQUIRE(umm_mm_create(sys, &sh.mm) == 0);
	REQUIRE(umm_mmap(sh.mm, 0, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, NULL, 0, &sh.anon) == 0);
	REQUIRE(umm_mmap(sh.mm, 0, len, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &sh.file) == 0);
	/* the mutator's window must not overlap the writers' mappings */
	REQUIRE(sh.anon >= A_MUT_BASE + A_MUT_PAGES * PS && sh.file >= A_MUT_BASE + A_MUT_PAGES * PS);
	sh.deadline = test_now_s() + 1.5;
	atomic_store(&sh.writers_left, A_WRITERS);
	for (int t = 0; t < A_WRITERS; t++) {
		args[t].sh = &sh;
		args[t].t = t;
		REQUIRE(pthread_create(&wt[t], NULL, a_writer, &args[t]) == 0);
	}
	REQUIRE(pthread_create(&mt, NULL, a_mutator, &sh) == 0);
	for (int t = 0; t < A_WRITERS; t++)
		pthread_join(wt[t], NULL);
	pthread_join(mt, NULL);
	test_fold_thread_checks();

	file = malloc(len);
	REQUIRE(file != NULL);
	for (int t = 0; t < A_WRITERS; t++) {
		for (int pg = 0; pg < A_PAGES; pg++) {
			size_t off = ((size_t)t * A_PAGES + pg) * PS;
			unsigned char page[PS];

			CHECK_EQ(umm_read(sh.mm, sh.anon + off, page, PS), 0);
			CHECK(page_is(page, a_word(t, sh.last_round[t], pg, 0)));
			CHECK_EQ(umm_read(sh.mm, sh.file + off, page, PS), 0);
			CHECK(page_is(page, a_word(t, sh.last_round[t], pg, 1)));
		}
	}
	CHECK_EQ(umm_mm_check(sh.mm), 0);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK_EQ(pread(fd, file, len, 0), (ssize_t)len);
	for (int t = 0; t < A_WRITERS; t++)
		for (int pg = 0; pg < A_PAGES; pg++)
			CHECK(page_is(file + ((size_t)t * A_PAGES + pg) * PS, a_word(t, sh.last_round[t], pg, 1)));
	fprintf(stderr, "  own_regions: writer rounds %d %d %d %d\n", sh.last_round[0],
		sh.last_round[1], sh.last_round[2], sh.last_round[3]);
	free(file);
	umm_mm_destroy(sh.mm);
	umm_object_put(obj);
	close(fd);
	leak_check(sys, baseline);
	umm_system_destroy(sys);
}

/* ---- (b) disjoint slots of the same pages ---- */

#define B_THREADS 4
#define B_PAGES   8
#define B_SLOT    (PS / B_THREADS / 2)     /* half of each page is nobody's slot */

enum { B_PRIVATE_FRESH, B_PRIVATE_ZERO, B_SHARED, B_PRIVATE_FORKED, B_NR_VARIANTS };

struct b_shared {
	struct umm_mm *mm;
	pthread_barrier_t start, done;
	uintptr_t base;                /* set by main before `start` */
	int round;
	bool quit;
};

struct b_arg {
	struct b_shared *sh;
	int t;
};

static unsigned char b_byte(int round, int t, int page)
{
	return (unsigned char)(1 + (round * 7 + t * 31 + page * 3) % 250);
}

static void *b_worker(void *p)
{
	struct b_arg *arg = p;
	struct b_shared *sh = arg->sh;
	unsigned char buf[B_SLOT];

	for (;;) {
		pthread_barrier_wait(&sh->start);
		if (sh->quit)
			break;
		for (int i = 0; i < B_PAGES; i++) {
			int pg = (i + arg->t) % B_PAGES;   /* threads start on different pages */
			uintptr_t slot = sh->base + pg * PS + (size_t)arg->t * B_SLOT;

			memset(buf, b_byte(sh->round, arg->t, pg), sizeof(buf));
			/* two halves, so the threads' writes interleave more */
			TCHECK_RC(umm_write(sh->mm, slot, buf, B_SLOT / 2), 0);
			TCHECK_RC(umm_write(sh->mm, slot + B_SLOT / 2, buf, B_SLOT / 2), 0);
		}
		pthread_barrier_wait(&sh->done);
	}
	return NULL;
}

/* b_verify_round - every slot holds its thread's byte; the rest holds `fill`. */
static void b_verify_round(struct b_shared *sh, unsigned char fill)
{
	unsigned char page[PS];

	for (int pg = 0; pg < B_PAGES; pg++) {
		CHECK_EQ(umm_read(sh->mm, sh->base + pg * PS, page, PS), 0);
		for (size_t i = 0; i < PS; i++) {
			size_t t = i / B_SLOT;
			unsigned char want = t < B_THREADS ? b_byte(sh->round, (int)t, pg) : fill;

			if (page[i] != want) {
				CHECK_EQ(page[i], want);
				fprintf(stderr, "  lost update: round %d page %d offset %zu\n", sh->round, pg, i);
				break;
			}
		}
	}
}

/* b_prepare - map this round's pages in the way the variant wants; returns the filler byte. */
static unsigned char b_prepare(struct b_shared *sh, int variant, struct umm_mm **child)
{
	int flags = variant == B_SHARED ? MAP_SHARED | MAP_ANONYMOUS : MAP_PRIVATE | MAP_ANONYMOUS;
	unsigned char page[PS];

	*child = NULL;
	REQUIRE(umm_mmap(sh->mm, 0, B_PAGES * PS, PROT_READ | PROT_WRITE, flags, NULL, 0, &sh->base) == 0);
	if (variant == B_PRIVATE_ZERO) {
		for (int pg = 0; pg < B_PAGES; pg++)   /* map the zero page everywhere */
			CHECK_EQ(umm_read(sh->mm, sh->base + pg * PS, page, 1), 0);
	} else if (variant == B_PRIVATE_FORKED) {
		memset(page, 0x11, PS);
		for (int pg = 0; pg < B_PAGES; pg++)
			CHECK_EQ(umm_write(sh->mm, sh->base + pg * PS, page, PS), 0);
		REQUIRE(umm_fork(sh->mm, child) == 0);
		return 0x11;
	}
	return 0;
}

static void test_shared_pages(void)
{
	struct umm_system *sys = test_sys_create(64UL << 20, 0);
	struct b_shared sh = { 0 };
	struct b_arg args[B_THREADS];
	pthread_t th[B_THREADS];
	unsigned long baseline;
	double deadline;
	int round;

	test_warm_up(sys);
	baseline = test_free_frames(sys);
	REQUIRE(umm_mm_create(sys, &sh.mm) == 0);
	pthread_barrier_init(&sh.start, NULL, B_THREADS + 1);
	pthread_barrier_init(&sh.done, NULL, B_THREADS + 1);
	for (int t = 0; t < B_THREADS; t++) {
		args[t].sh = &sh;
		args[t].t = t;
		REQUIRE(pthread_create(&th[t], NULL, b_worker, &args[t]) == 0);
	}
	deadline = test_now_s() + 1.5;
	for (round = 0; round < 2000 && (round < 4 * B_NR_VARIANTS || test_now_s() < deadline); round++) {
		int variant = round % B_NR_VARIANTS;
		struct umm_mm *child;
		unsigned char fill = b_prepare(&sh, variant, &child);

		sh.round = round;
		pthread_barrier_wait(&sh.start);
		pthread_barrier_wait(&sh.done);
		test_fold_thread_checks();
		b_verify_round(&sh, fill);
		if (child) {
			unsigned char page[PS];

			for (int pg = 0; pg < B_PAGES; pg++) {
				CHECK_EQ(umm_read(child, sh.base + pg * PS, page, PS), 0);
				CHECK(page_is(page, 0x1111111111111111ULL));
			}
			CHECK_EQ(umm_mm_check(child), 0);
			umm_mm_destroy(child);
		}
		CHECK_EQ(umm_munmap(sh.mm, sh.base, B_PAGES * PS), 0);
	}
	sh.quit = true;
	pthread_barrier_wait(&sh.start);
	for (int t = 0; t < B_THREADS; t++)
		pthread_join(th[t], NULL);
	fprintf(stderr, "  shared_pages: %d rounds\n", round);
	CHECK_EQ(umm_mm_check(sh.mm), 0);
	umm_mm_destroy(sh.mm);
	pthread_barrier_destroy(&sh.start);
	pthread_barrier_destroy(&sh.done);
	leak_check(sys, baseline);
	umm_system_destroy(sys);
}

/* ---- (c) fork while others write ---- */

#define C_WRITERS  2
#define C_PAGES    8     /* per writer */
#define C_F_PAGES  4     /* the forking thread's own region */

struct c_shared {
	struct umm_mm *mm;
	uintptr_t priv, shared, f;
	atomic_bool stop;
	long forks;
	struct umm_mm *last_child;
};

struct c_arg {
	struct c_shared *sh;
	int t;
};

static uint64_t c_word(int t, uint64_t n)
{
	return ((uint64_t)(t + 1) << 56) | n;
}

static void *c_writer(void *p)
{
	struct c_arg *arg = p;
	struct c_shared *sh = arg->sh;
	static _Thread_local unsigned char buf[PS];
	uint64_t n = 1;

	while (!atomic_load(&sh->stop)) {
		for (int pg = 0; pg < C_PAGES; pg++) {
			size_t off = ((size_t)arg->t * C_PAGES + pg) * PS;

			fill_words(buf, c_word(arg->t, ++n));
			TCHECK_RC(umm_write(sh->mm, sh->priv + off, buf, PS), 0);
			TCHECK_RC(umm_write(sh->mm, sh->shared + off, buf, PS), 0);
		}
	}
	return NULL;
}

/* c_page_consistent - a whole page written by writer t at some point (one word repeated). */
static bool c_page_consistent(const unsigned char *page, int t)
{
	uint64_t w;

	memcpy(&w, page, 8);
	return (w >> 56) == (uint64_t)(t + 1) && page_is(page, w);
}

static uint64_t c_f_word(long g, int pg)
{
	return 0xF000000000000000ULL | ((uint64_t)g << 8) | (uint64_t)pg;
}

/* c_check_child - the snapshot of F is generation g; writer pages are whole pages. */
static void c_check_child(struct c_shared *sh, struct umm_mm *child, long g)
{
	unsigned char page[PS];

	for (int pg = 0; pg < C_F_PAGES; pg++) {
		TCHECK_RC(umm_read(child, sh->f + pg * PS, page, PS), 0);
		TCHECK(page_is(page, c_f_word(g, pg)));
	}
	for (int t = 0; t < C_WRITERS; t++) {
		for (int pg = 0; pg < C_PAGES; pg++) {
			size_t off = ((size_t)t * C_PAGES + pg) * PS;

			/* (its shared pages are being written right now: not read here) */
			TCHECK_RC(umm_read(child, sh->priv + off, page, PS), 0);
			TCHECK(c_page_consistent(page, t));
		}
	}
}

static void *c_forker(void *p)
{
	struct c_shared *sh = p;
	double deadline = test_now_s() + 1.5;
	struct umm_mm *prev = NULL;
	unsigned char buf[PS];
	long g;

	for (g = 1; g < 100000 && (g < 20 || test_now_s() < deadline); g++) {
		struct umm_mm *child = NULL;

		for (int pg = 0; pg < C_F_PAGES; pg++) {
			fill_words(buf, c_f_word(g, pg));
			TCHECK_RC(umm_write(sh->mm, sh->f + pg * PS, buf, PS), 0);
		}
		if (prev) {    /* writes after the fork did not reach the older child */
			c_check_child(sh, prev, g - 1);
			umm_mm_destroy(prev);
			prev = NULL;
		}
		TCHECK_RC(umm_fork(sh->mm, &child), 0);
		if (!child)
			break;
		c_check_child(sh, child, g);
		prev = child;
	}
	sh->last_child = prev;        /* main checks its shared pages once writers stop */
	sh->forks = g - 1;
	atomic_store(&sh->stop, true);
	return NULL;
}

static void test_fork_snapshot(void)
{
	struct umm_system *sys = test_sys_create(64UL << 20, 0);
	struct c_shared sh = { 0 };
	struct c_arg args[C_WRITERS];
	pthread_t wt[C_WRITERS], ft;
	size_t len = (size_t)C_WRITERS * C_PAGES * PS;
	unsigned char buf[PS];
	unsigned long baseline;

	test_warm_up(sys);
	baseline = test_free_frames(sys);
	REQUIRE(umm_mm_create(sys, &sh.mm) == 0);
	REQUIRE(umm_mmap(sh.mm, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &sh.priv) == 0);
	REQUIRE(umm_mmap(sh.mm, 0, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, NULL, 0, &sh.shared) == 0);
	REQUIRE(umm_mmap(sh.mm, 0, C_F_PAGES * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 NULL, 0, &sh.f) == 0);
	for (int t = 0; t < C_WRITERS; t++) {     /* every page starts as a writer's page */
		for (int pg = 0; pg < C_PAGES; pg++) {
			size_t off = ((size_t)t * C_PAGES + pg) * PS;

			fill_words(buf, c_word(t, 0));
			REQUIRE(umm_write(sh.mm, sh.priv + off, buf, PS) == 0);
			REQUIRE(umm_write(sh.mm, sh.shared + off, buf, PS) == 0);
		}
	}
	for (int t = 0; t < C_WRITERS; t++) {
		args[t].sh = &sh;
		args[t].t = t;
		REQUIRE(pthread_create(&wt[t], NULL, c_writer, &args[t]) == 0);
	}
	REQUIRE(pthread_create(&ft, NULL, c_forker, &sh) == 0);
	pthread_join(ft, NULL);
	for (int t = 0; t < C_WRITERS; t++)
		pthread_join(wt[t], NULL);
	test_fold_thread_checks();
	fprintf(stderr, "  fork_snapshot: %ld forks\n", sh.forks);
	CHECK(sh.forks >= 19);
	if (sh.last_child) {          /* shared pages are the parent's, whole and current */
		unsigned char theirs[PS];

		for (size_t off = 0; off < len; off += PS) {
			CHECK_EQ(umm_read(sh.last_child, sh.shared + off, buf, PS), 0);
			CHECK_EQ(umm_read(sh.mm, sh.shared + off, theirs, PS), 0);
			CHECK(memcmp(buf, theirs, PS) == 0);
			CHECK(c_page_consistent(buf, (int)(off / PS / C_PAGES)));
		}
		CHECK_EQ(umm_mm_check(sh.last_child), 0);
		umm_mm_destroy(sh.last_child);
	}
	CHECK_EQ(umm_mm_check(sh.mm), 0);
	umm_mm_destroy(sh.mm);
	leak_check(sys, baseline);
	umm_system_destroy(sys);
}

/* ---- (d) readers while the window is unmapped and remapped ---- */

#define D_READERS 2
#define D_PAGES   8

struct d_shared {
	struct umm_mm *mm;
	uintptr_t win;
	atomic_bool stop;
	_Atomic long seen_a, seen_b, seen_fault, seen_bad;
};

static uint64_t d_word(int which, int pg)
{
	return (which ? 0xBBBB000000000000ULL : 0xAAAA000000000000ULL) | (uint64_t)pg;
}

/* d_classify - 0 (A), 1 (B) or -1 (neither) for a page read at window page pg. */
static int d_classify(const unsigned char *page, int pg)
{
	if (page_is(page, d_word(0, pg)))
		return 0;
	if (page_is(page, d_word(1, pg)))
		return 1;
	return -1;
}

static void *d_reader(void *p)
{
	struct d_shared *sh = p;
	static _Thread_local unsigned char buf[2 * PS];
	uint64_t seed = (uint64_t)(uintptr_t)&buf | 1;

	while (!atomic_load(&sh->stop)) {
		int pg = (int)(rnd_next(&seed) % (D_PAGES - 1));
		size_t n = rnd_next(&seed) % 4 == 0 ? 2 : 1;
		int rc = umm_read(sh->mm, sh->win + pg * PS, buf, n * PS);

		if (rc == -EFAULT) {
			atomic_fetch_add(&sh->seen_fault, 1);
			continue;
		}
		TCHECK_RC(rc, 0);
		for (size_t i = 0; i < n && rc == 0; i++) {
			int c = d_classify(buf + i * PS, pg + (int)i);

			if (c < 0) {
				atomic_fetch_add(&sh->seen_bad, 1);
				TCHECK(c >= 0);
			} else {
				atomic_fetch_add(c ? &sh->seen_b : &sh->seen_a, 1);
			}
		}
	}
	return NULL;
}

static void test_remap_readers(void)
{
	struct umm_system *sys = test_sys_create(64UL << 20, 0);
	struct d_shared sh = { 0 };
	struct umm_object *obj[2];
	pthread_t rt[D_READERS];
	unsigned char buf[PS];
	unsigned long baseline;
	uint64_t seed = 99;
	double deadline;
	long cycles = 0;
	uintptr_t out;

	test_warm_up(sys);
	baseline = test_free_frames(sys);
	REQUIRE(umm_mm_create(sys, &sh.mm) == 0);
	for (int which = 0; which < 2; which++) {     /* fill A and B through a scratch mapping */
		REQUIRE(umm_object_create_shmem(sys, D_PAGES * PS, &obj[which]) == 0);
		REQUIRE(umm_mmap(sh.mm, 0, D_PAGES * PS, PROT_READ | PROT_WRITE, MAP_SHARED, obj[which], 0, &out) == 0);
		for (int pg = 0; pg < D_PAGES; pg++) {
			fill_words(buf, d_word(which, pg));
			REQUIRE(umm_write(sh.mm, out + pg * PS, buf, PS) == 0);
		}
		REQUIRE(umm_munmap(sh.mm, out, D_PAGES * PS) == 0);
	}
	REQUIRE(umm_mmap(sh.mm, 0, D_PAGES * PS, PROT_READ, MAP_SHARED, obj[0], 0, &sh.win) == 0);
	for (int r = 0; r < D_READERS; r++)
		REQUIRE(pthread_create(&rt[r], NULL, d_reader, &sh) == 0);
	deadline = test_now_s() + 1.5;
	while (cycles < 200 || test_now_s() < deadline) {
		int which = (int)(rnd_next(&seed) & 1);

		switch (rnd_next(&seed) % 4) {
		case 0:                /* unmap, then map again */
			CHECK_EQ(umm_munmap(sh.mm, sh.win, D_PAGES * PS), 0);
			/* fall through */
		case 1:                /* replace in place */
			CHECK_EQ(umm_mmap(sh.mm, sh.win, D_PAGES * PS, PROT_READ,
					  MAP_SHARED | MAP_FIXED, obj[which], 0, &out), 0);
			CHECK_EQ(out, sh.win);
			break;
		case 2:                /* take reading away and give it back */
			CHECK_EQ(umm_mprotect(sh.mm, sh.win, D_PAGES * PS, PROT_NONE), 0);
			CHECK_EQ(umm_mprotect(sh.mm, sh.win, D_PAGES * PS, PROT_READ), 0);
			break;
		default:               /* replace half of it with the other object */
			CHECK_EQ(umm_mmap(sh.mm, sh.win + D_PAGES / 2 * PS, D_PAGES / 2 * PS, PROT_READ,
					  MAP_PRIVATE | MAP_FIXED, obj[which], D_PAGES / 2 * PS, &out), 0);
			break;
		}
		cycles++;
	}
	atomic_store(&sh.stop, true);
	for (int r = 0; r < D_READERS; r++)
		pthread_join(rt[r], NULL);
	test_fold_thread_checks();
	fprintf(stderr, "  remap_readers: %ld remaps, reads: %ld A, %ld B, %ld -EFAULT, %ld bad\n",
		cycles, atomic_load(&sh.seen_a), atomic_load(&sh.seen_b),
		atomic_load(&sh.seen_fault), atomic_load(&sh.seen_bad));
	CHECK_EQ(atomic_load(&sh.seen_bad), 0);
	CHECK(atomic_load(&sh.seen_a) + atomic_load(&sh.seen_b) > 0);
	CHECK_EQ(umm_mm_check(sh.mm), 0);
	umm_mm_destroy(sh.mm);
	umm_object_put(obj[0]);
	umm_object_put(obj[1]);
	leak_check(sys, baseline);
	umm_system_destroy(sys);
}

/* ---- (e) truncation racing with faults ---- */

#define E_PAGES 16
#define E_HALF  8

struct e_shared {
	struct umm_mm *mm;
	uintptr_t base;
	atomic_bool stop, cut;         /* cut: a shrinking truncate has returned */
	_Atomic long seen_orig, seen_zero, seen_eio;
	int writer_round;
};

static uint64_t e_orig(int pg)
{
	return 0xF11E000000000000ULL | (uint64_t)pg;
}

static uint64_t e_written(int round, int pg)
{
	return 0x3000000000000000ULL | ((uint64_t)round << 8) | (uint64_t)pg;
}

/*
 * e_reader - pages below E_HALF are never truncated (a writer owns them);
 * a page above reads as the file's bytes only until the first cut, and
 * after it as -EIO (shrunk) or zeros (grown again).
 */
static void *e_reader(void *p)
{
	struct e_shared *sh = p;
	static _Thread_local unsigned char buf[PS];
	uint64_t seed = (uint64_t)(uintptr_t)&buf | 1;

	while (!atomic_load(&sh->stop)) {
		int pg = E_HALF + (int)(rnd_next(&seed) % (E_PAGES - E_HALF));
		bool cut = atomic_load(&sh->cut);
		int rc = umm_read(sh->mm, sh->base + pg * PS, buf, PS);

		if (rc == -EIO) {
			atomic_fetch_add(&sh->seen_eio, 1);
		} else if (rc == 0 && page_is(buf, 0)) {
			atomic_fetch_add(&sh->seen_zero, 1);
		} else if (rc == 0 && page_is(buf, e_orig(pg)) && !cut) {
			atomic_fetch_add(&sh->seen_orig, 1);
		} else {
			TCHECK_RC(rc, 0);
			TCHECK(!"page past the cut reads neither -EIO, zeros, nor (before the cut) the file");
		}
	}
	return NULL;
}

static void *e_writer(void *p)
{
	struct e_shared *sh = p;
	static _Thread_local unsigned char buf[PS], back[PS];
	int round;

	for (round = 1; !atomic_load(&sh->stop); round++) {
		for (int pg = 0; pg < E_HALF; pg++) {
			fill_words(buf, e_written(round, pg));
			TCHECK_RC(umm_write(sh->mm, sh->base + pg * PS, buf, PS), 0);
			TCHECK_RC(umm_read(sh->mm, sh->base + pg * PS, back, PS), 0);
			TCHECK(page_is(back, e_written(round, pg)));
		}
	}
	sh->writer_round = round - 1;
	return NULL;
}

static unsigned char e_file_byte(size_t off)
{
	uint64_t w = e_orig((int)(off / PS));

	return (unsigned char)(w >> (8 * (off % 8)));
}

static void test_truncate_race(void)
{
	struct umm_system *sys = test_sys_create(64UL << 20, 0);
	struct e_shared sh = { 0 };
	struct umm_object *obj = NULL;
	pthread_t rt[2], wt;
	unsigned char page[PS];
	unsigned long baseline;
	double deadline;
	long cuts = 0;
	int fd;

	test_warm_up(sys);
	baseline = test_free_frames(sys);
	fd = test_tmpfile(E_PAGES * PS, e_file_byte);
	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	REQUIRE(umm_mm_create(sys, &sh.mm) == 0);
	REQUIRE(umm_mmap(sh.mm, 0, E_PAGES * PS, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &sh.base) == 0);
	CHECK_EQ(umm_read(sh.mm, sh.base + E_HALF * PS, page, PS), 0);
	CHECK(page_is(page, e_orig(E_HALF)));
	for (int r = 0; r < 2; r++)
		REQUIRE(pthread_create(&rt[r], NULL, e_reader, &sh) == 0);
	REQUIRE(pthread_create(&wt, NULL, e_writer, &sh) == 0);
	deadline = test_now_s() + 1.0;
	while (cuts < 20 || test_now_s() < deadline) {
		CHECK_EQ(umm_object_truncate(obj, E_HALF * PS), 0);
		atomic_store(&sh.cut, true);
		CHECK_EQ(umm_object_truncate(obj, E_PAGES * PS), 0);
		cuts++;
	}
	atomic_store(&sh.stop, true);
	for (int r = 0; r < 2; r++)
		pthread_join(rt[r], NULL);
	pthread_join(wt, NULL);
	test_fold_thread_checks();
	fprintf(stderr, "  truncate_race: %ld cuts, %d writer rounds, reads past the cut: "
		"%ld file, %ld zero, %ld -EIO\n", cuts, sh.writer_round, atomic_load(&sh.seen_orig),
		atomic_load(&sh.seen_zero), atomic_load(&sh.seen_eio));

	for (int pg = 0; pg < E_PAGES; pg++) {
		uint64_t w = pg < E_HALF ? e_written(sh.writer_round, pg) : 0;

		CHECK_EQ(umm_read(sh.mm, sh.base + pg * PS, page, PS), 0);
		CHECK(page_is(page, w));
		if (sh.writer_round == 0 && pg < E_HALF)
			CHECK(page_is(page, e_orig(pg)));
	}
	CHECK_EQ(umm_mm_check(sh.mm), 0);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	for (int pg = 0; pg < E_PAGES; pg++) {
		CHECK_EQ(pread(fd, page, PS, (off_t)pg * PS), (ssize_t)PS);
		CHECK(page_is(page, pg < E_HALF ? e_written(sh.writer_round, pg) : 0));
	}
	umm_mm_destroy(sh.mm);
	umm_object_put(obj);
	close(fd);
	leak_check(sys, baseline);
	umm_system_destroy(sys);
}

/* ---- (f) per-thread state folds back exactly ---- */

#define F_THREADS 6                      /* more than the 2 CPUs: threads overlap and interleave */
#define F_PAGES   200                    /* per thread: several cache refills and LRU batches */

struct f_arg {
	struct umm_mm *mm;
	uintptr_t base;
	int t;
};

/* f_thread - write-fault each page of this thread's own slice, then read it back. */
static void *f_thread(void *p)
{
	struct f_arg *a = p;

	for (unsigned long i = 0; i < F_PAGES; i++) {
		uint64_t v = ((uint64_t)a->t << 32) | i, r = 0;
		uintptr_t addr = a->base + ((unsigned long)a->t * F_PAGES + i) * PS;

		TCHECK_RC(umm_write(a->mm, addr, &v, sizeof(v)), 0);
		TCHECK_RC(umm_read(a->mm, addr, &r, sizeof(r)), 0);
		TCHECK(r == v);
	}
	return NULL;
}

/*
 * Threads that fault and then exit leave their share of every per-thread
 * structure behind: the RSS and fault counter stripes, the frame caches,
 * the LRU add batches.  Once they are gone the totals are exact: RSS and
 * minor faults are the pages written, the anonymous LRU lists hold every
 * page, free frames are the baseline minus the pages and page tables; and
 * after the unmap everything is back.  Twice, so the second round's
 * threads reuse the slots and caches of the first.
 */
static void test_exit_totals(void)
{
	struct umm_system *sys = test_sys_create(64UL << 20, 0);
	const unsigned long pages = (unsigned long)F_THREADS * F_PAGES;
	struct f_arg args[F_THREADS];
	pthread_t th[F_THREADS];
	struct umm_mm_stats ms;
	struct umm_sys_stats st;
	unsigned long baseline;
	struct umm_mm *mm;
	uintptr_t base;

	test_warm_up(sys);
	baseline = test_free_frames(sys);
	REQUIRE(umm_mm_create(sys, &mm) == 0);
	for (int round = 0; round < 2; round++) {
		REQUIRE(umm_mmap(mm, 0, pages * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				 NULL, 0, &base) == 0);
		for (int t = 0; t < F_THREADS; t++) {
			args[t] = (struct f_arg){ .mm = mm, .base = base, .t = t };
			REQUIRE(pthread_create(&th[t], NULL, f_thread, &args[t]) == 0);
		}
		for (int t = 0; t < F_THREADS; t++)
			pthread_join(th[t], NULL);
		test_fold_thread_checks();
		CHECK_EQ(umm_mm_stats(mm, &ms), 0);
		CHECK_EQ(ms.rss_anon, pages);
		CHECK_EQ(ms.minor_faults, pages * (round + 1));
		CHECK_EQ(ms.cow_faults, 0);
		CHECK_EQ(umm_system_stats(sys, &st), 0);
		CHECK_EQ(st.anon_pages, pages);
		CHECK_EQ(st.nr_active_anon + st.nr_inactive_anon, pages);
		CHECK_EQ(st.free_frames, baseline - pages - ms.pgtable_pages);     /* pgd included */
		CHECK_EQ(umm_mm_check(mm), 0);
		CHECK_EQ(umm_system_check(sys), 0);
		CHECK_EQ(umm_munmap(mm, base, pages * PS), 0);
		CHECK_EQ(umm_mm_stats(mm, &ms), 0);
		CHECK_EQ(ms.rss_anon, 0);
		CHECK_EQ(umm_system_stats(sys, &st), 0);
		CHECK_EQ(st.anon_pages, 0);
		CHECK_EQ(st.nr_active_anon + st.nr_inactive_anon, 0);
	}
	umm_mm_destroy(mm);
	leak_check(sys, baseline);
	umm_system_destroy(sys);
}

int main(void)
{
	RUN(test_own_regions);
	RUN(test_shared_pages);
	RUN(test_fork_snapshot);
	RUN(test_remap_readers);
	RUN(test_truncate_race);
	RUN(test_exit_totals);
	return test_summary("test_threads");
}
