/* SPDX-License-Identifier: MIT */
/*
 * test.h - a minimal test harness: CHECK macros that report file:line and
 * count failures, and helpers shared by tests.  A test program returns
 * test_summary(), non-zero when any check failed.  Worker threads use
 * TCHECK and the main thread folds their counts in with
 * test_fold_thread_checks().
 */
#ifndef UMM_TEST_H
#define UMM_TEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>
#include <usermm/usermm.h>

static int test_failures;
static int test_checks;

#define CHECK(cond) do { test_checks++; if (!(cond)) { test_failures++; \
	fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_EQ(a, b) do { long long __a = (long long)(a), __b = (long long)(b); test_checks++; \
	if (__a != __b) { test_failures++; fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld vs %lld)\n", \
	__FILE__, __LINE__, #a, #b, __a, __b); } } while (0)
/* REQUIRE - like CHECK but stops the test program on failure. */
#define REQUIRE(cond) do { test_checks++; if (!(cond)) { \
	fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); exit(1); } } while (0)

#define RUN(fn) do { int __f = test_failures; fn(); \
	fprintf(stderr, "%-50s %s\n", #fn, test_failures == __f ? "ok" : "FAILED"); } while (0)

static inline int test_summary(const char *name)
{
	fprintf(stderr, "%s: %d checks, %d failed\n", name, test_checks, test_failures);
	return test_failures ? 1 : 0;
}

/* test_tmpfile - an unlinked temporary file of `size` bytes filled by fill(i) per byte (or zero). */
static inline int test_tmpfile(size_t size, unsigned char (*fill)(size_t))
{
	char path[] = "/tmp/usermm-test-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) { perror("mkstemp"); exit(1); }
	unlink(path);
	if (ftruncate(fd, (off_t)size) < 0) { perror("ftruncate"); exit(1); }
	if (fill) {
		unsigned char buf[4096];
		for (size_t off = 0; off < size; off += sizeof(buf)) {
			size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);
			for (size_t i = 0; i < n; i++) buf[i] = fill(off + i);
			if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n) { perror("pwrite"); exit(1); }
		}
	}
	return fd;
}

/* Counts of TCHECKs made by worker threads, not yet folded into test_checks. */
static _Atomic long test_thread_checks, test_thread_failures;

/* TCHECK - CHECK usable from any thread. */
#define TCHECK(cond) do { atomic_fetch_add(&test_thread_checks, 1); if (!(cond)) { \
	atomic_fetch_add(&test_thread_failures, 1); \
	fprintf(stderr, "%s:%d: TCHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)

/* test_fold_thread_checks - add the workers' TCHECK counts to the totals (main thread). */
static inline void test_fold_thread_checks(void)
{
	test_checks += (int)atomic_exchange(&test_thread_checks, 0);
	test_failures += (int)atomic_exchange(&test_thread_failures, 0);
}

/* test_now_s - monotonic time in seconds, for time-bounded loops. */
static inline double test_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* test_threads_now - the threads of this process now (/proc/self/status), or -1. */
static inline int test_threads_now(void)
{
	char line[128];
	int n = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* test_rnd - the next xorshift64* number from *state (which must not be 0). */
static inline uint64_t test_rnd(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 2685821657736338717ULL;
}

/*
 * test_seed - the seed of a randomized test: $<env> if set, else a
 * time-based one if $UMM_RANDOM_SEED is set, else `dflt`.  Printed with
 * how to replay it.
 */
static inline uint64_t test_seed(const char *name, const char *env, uint64_t dflt)
{
	const char *s = getenv(env);
	uint64_t seed = s ? strtoull(s, NULL, 0) :
		getenv("UMM_RANDOM_SEED") ? (uint64_t)time(NULL) * 2654435761u + dflt : dflt;

	fprintf(stderr, "%s: seed %" PRIu64 " (%s to replay)\n", name, seed, env);
	return seed;
}

/* test_sys_create - a usermm system of `phys` bytes; stops the test on failure. */
static inline struct umm_system *test_sys_create(size_t phys, int debug_checks)
{
	struct umm_config cfg = { .phys_bytes = phys, .debug_checks = debug_checks };
	struct umm_system *sys = NULL;

	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	return sys;
}

static inline unsigned long test_free_frames(struct umm_system *sys)
{
	struct umm_sys_stats st;

	REQUIRE(umm_system_stats(sys, &st) == 0);
	return st.free_frames;
}

/* test_slab_pages - frames the system's slab caches hold (they may keep empty slabs). */
static inline unsigned long test_slab_pages(struct umm_system *sys)
{
	struct umm_sys_stats st;

	REQUIRE(umm_system_stats(sys, &st) == 0);
	return st.slab_pages;
}

/*
 * test_warm_up - use every slab cache once (mm, VMA, object, anon and file
 * pages, fork) so that a later leak check, which compares free frames with
 * a baseline taken after this, compares like with like.
 */
static inline void test_warm_up(struct umm_system *sys)
{
	struct umm_mm *a = NULL, *b = NULL;
	struct umm_object *obj = NULL;
	uintptr_t addr;
	char c = 1;

	REQUIRE(umm_mm_create(sys, &a) == 0);
	REQUIRE(umm_object_create_shmem(sys, UMM_PAGE_SIZE, &obj) == 0);
	REQUIRE(umm_mmap(a, 0, 4 * UMM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &addr) == 0);
	REQUIRE(umm_write(a, addr, &c, 1) == 0);
	REQUIRE(umm_mmap(a, 0, UMM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &addr) == 0);
	REQUIRE(umm_write(a, addr, &c, 1) == 0);
	REQUIRE(umm_fork(a, &b) == 0);
	umm_mm_destroy(b);
	umm_mm_destroy(a);
	umm_object_put(obj);
}

#endif
