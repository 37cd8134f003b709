/* SPDX-License-Identifier: MIT */
/*
 * test_system.c - the system-level calls: umm_system_create's errors
 * (phys_bytes, rmap, NULL out, the min watermark),
 * umm_system_destroy with live address spaces or objects, and the
 * diagnostics (umm_set_log, umm_sys_stats.warnings).
 *
 * Theory of operation.  A log function installed by the test records the
 * lines it gets; each case provokes one condition the library must report
 * (a system destroyed too early, dirty pages the file refused when their
 * object was freed, an invariant check that finds a broken map count) and
 * checks the level, the text, the counter and that nothing else changed.
 * The default log function is checked by pointing stderr at a temporary
 * file: warnings appear there in debug builds only, check reports always.
 * The map-count corruption uses page.h to reach a pinned frame's
 * descriptor, and is undone before anything else runs.
 *
 * Helper threads (kthread.c): with creation deferred (kthread_defer_hook,
 * as the LD_PRELOAD interposer defers it), a system that reads a file
 * creates no thread, reads in the calling thread, and records its helpers
 * as wanted; the next kthread_run_pending creates them, and destroying
 * the system joins them.  Thread counts come from /proc/self/status.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <usermm/usermm.h>
#include "kthread.h"
#include "page.h"
#include "test.h"

#define PS 4096UL

struct logged {
	int n, level;
	char last[512];
};

static void record(int level, const char *line, void *arg)
{
	struct logged *lg = arg;

	lg->n++;
	lg->level = level;
	snprintf(lg->last, sizeof(lg->last), "%s", line);
}

static unsigned long warnings(struct umm_system *sys)
{
	struct umm_sys_stats st;

	REQUIRE(umm_system_stats(sys, &st) == 0);
	return st.warnings;
}

/* phys_bytes: below 1 MiB is a bad config, beyond what can be reserved is -ENOMEM (system.h). */
static void test_create_errors(void)
{
	struct umm_system *sys = NULL;
	struct umm_config cfg = { 0 };

	cfg.phys_bytes = 1ULL << 62;
	CHECK_EQ(umm_system_create(&cfg, &sys), -ENOMEM);
	CHECK(sys == NULL);
	cfg.phys_bytes = SIZE_MAX;
	CHECK_EQ(umm_system_create(&cfg, &sys), -ENOMEM);
	cfg.phys_bytes = 1ULL << 50;            /* 1 PiB: also more than can be reserved */
	CHECK_EQ(umm_system_create(&cfg, &sys), -ENOMEM);
	cfg.phys_bytes = (1UL << 20) - PS;
	CHECK_EQ(umm_system_create(&cfg, &sys), -EINVAL);
	cfg.phys_bytes = 4 << 20;
	cfg.rmap = 7;
	CHECK_EQ(umm_system_create(&cfg, &sys), -EINVAL);
	cfg.rmap = 0;
	CHECK_EQ(umm_system_create(&cfg, NULL), -EINVAL);
	CHECK(sys == NULL);
	CHECK_EQ(umm_system_create(&cfg, &sys), 0);
	CHECK_EQ(warnings(sys), 0);
	CHECK_EQ(umm_system_destroy(sys), 0);
	CHECK_EQ(umm_system_destroy(NULL), 0);
}

/*
 * wmark_min_bytes at or above half of the system's size is -EINVAL with
 * *out untouched and no thread started, for an explicit phys_bytes and
 * for phys_bytes 0 (the default 256 MiB); one page below half is
 * accepted as the min watermark.
 */
static void test_create_wmark_min_at_half_rejected(void)
{
	static const size_t bad[] = { 2UL << 20, (2UL << 20) + PS, 4UL << 20, SIZE_MAX };
	struct umm_system *sys = (struct umm_system *)0x1;
	struct umm_config cfg = { .phys_bytes = 4UL << 20 };
	struct umm_sys_stats st;
	int threads = test_threads_now();

	REQUIRE(threads > 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg.wmark_min_bytes = bad[i];
		CHECK_EQ(umm_system_create(&cfg, &sys), -EINVAL);
		CHECK(sys == (struct umm_system *)0x1);
	}
	cfg.phys_bytes = 0;
	for (size_t i = 0; i < 3; i++) {
		cfg.wmark_min_bytes = (size_t[]){ 128UL << 20, 200UL << 20, 300UL << 20 }[i];
		CHECK_EQ(umm_system_create(&cfg, &sys), -EINVAL);
		CHECK(sys == (struct umm_system *)0x1);
	}
	CHECK_EQ(test_threads_now(), threads);
	cfg.phys_bytes = 4UL << 20;
	cfg.wmark_min_bytes = (2UL << 20) - PS;
	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	REQUIRE(umm_system_stats(sys, &st) == 0);
	CHECK_EQ(st.wmark_min, (2UL << 20) / PS - 1);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

/* destroy with a live mm or object: -EBUSY, a counted warning, and the system still works. */
static void test_destroy_busy(void)
{
	struct logged lg = { 0 };
	struct umm_system *sys = test_sys_create(4 << 20, 1);
	struct umm_mm *mm;
	struct umm_object *shm;
	uintptr_t a;
	char c = 0;

	umm_set_log(record, &lg);
	REQUIRE(umm_mm_create(sys, &mm) == 0);
	CHECK_EQ(umm_system_destroy(sys), -EBUSY);
	CHECK_EQ(lg.n, 1);
	CHECK_EQ(lg.level, UMM_LOG_WARNING);
	CHECK(strstr(lg.last, "1 address spaces and 0 objects alive") != NULL);
	CHECK_EQ(warnings(sys), 1);
	/* nothing was destroyed */
	CHECK_EQ(umm_mmap(mm, 0, PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a), 0);
	CHECK_EQ(umm_write(mm, a, "k", 1), 0);
	CHECK_EQ(umm_read(mm, a, &c, 1), 0);
	CHECK_EQ(c, 'k');
	umm_mm_destroy(mm);

	REQUIRE(umm_object_create_shmem(sys, PS, &shm) == 0);
	CHECK_EQ(umm_system_destroy(sys), -EBUSY);
	CHECK_EQ(lg.n, 2);
	CHECK(strstr(lg.last, "0 address spaces and 1 objects alive") != NULL);
	CHECK_EQ(warnings(sys), 2);
	umm_object_put(shm);
	CHECK_EQ(umm_system_check(sys), 0);
	CHECK_EQ(umm_system_destroy(sys), 0);
	CHECK_EQ(lg.n, 2);
	umm_set_log(NULL, NULL);
}

/* the last put of an object whose dirty pages the file refuses: a counted warning. */
static void test_dirty_dropped(void)
{
	struct logged lg = { 0 };
	struct umm_system *sys = test_sys_create(4 << 20, 1);
	int fd = test_tmpfile(2 * PS, NULL);
	struct umm_object *obj;
	struct umm_mm *mm;
	uintptr_t a;

	umm_set_log(record, &lg);
	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	REQUIRE(umm_mm_create(sys, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, 2 * PS, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &a) == 0);
	REQUIRE(umm_write(mm, a, "dirty", 5) == 0);
	umm_mm_destroy(mm);
	REQUIRE(umm_inject_fault(sys, UMM_INJECT_WRITE, 0, -1) == 0);
	CHECK_EQ(warnings(sys), 0);
	umm_object_put(obj);
	REQUIRE(umm_inject_fault(sys, UMM_INJECT_WRITE, 0, 0) == 0);
	CHECK_EQ(lg.n, 1);
	CHECK_EQ(lg.level, UMM_LOG_WARNING);
	CHECK(strstr(lg.last, "dirty pages") != NULL);
	CHECK_EQ(warnings(sys), 1);
	CHECK_EQ(umm_system_destroy(sys), 0);
	umm_set_log(NULL, NULL);
	close(fd);
}

/*
 * corrupt_check - make one map count wrong for a moment and run
 * umm_system_check: it must fail and report through the log.
 */
static int corrupt_check(struct umm_system *sys)
{
	struct umm_mm *mm;
	struct umm_page *pg;
	uintptr_t a;
	int err;

	REQUIRE(umm_mm_create(sys, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a) == 0);
	REQUIRE(umm_pin_pages(mm, a, 1, UMM_PIN_WRITE, &pg) == 1);
	atomic_fetch_add(&((struct page *)pg)->_mapcount, 1);
	err = umm_system_check(sys);
	atomic_fetch_sub(&((struct page *)pg)->_mapcount, 1);
	CHECK_EQ(umm_system_check(sys), 0);
	umm_unpin_pages(&pg, 1, UMM_PIN_WRITE);
	umm_mm_destroy(mm);
	return err;
}

static void test_check_report(void)
{
	struct logged lg = { 0 };
	struct umm_system *sys = test_sys_create(4 << 20, 0);

	umm_set_log(record, &lg);
	CHECK_EQ(corrupt_check(sys), -EUCLEAN);
	CHECK(lg.n >= 1);
	CHECK_EQ(lg.level, UMM_LOG_CHECK);
	CHECK(strstr(lg.last, "map count") != NULL);
	CHECK_EQ(warnings(sys), 0);             /* a check report is not a warning */
	umm_set_log(NULL, NULL);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

/* capture_stderr - point fd 2 at a fresh temporary file; returns the saved fd 2. */
static int capture_stderr(int *tmp)
{
	int saved = dup(2);

	*tmp = test_tmpfile(0, NULL);
	fflush(stderr);
	REQUIRE(saved >= 0 && dup2(*tmp, 2) == 2);
	return saved;
}

/* restore_stderr - put fd 2 back and return what was written meanwhile (static buffer). */
static const char *restore_stderr(int saved, int tmp)
{
	static char buf[4096];
	ssize_t n;

	fflush(stderr);
	REQUIRE(dup2(saved, 2) == 2);
	close(saved);
	n = pread(tmp, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = 0;
	close(tmp);
	return buf;
}

/* the default log: warnings on stderr in debug builds only, check reports always. */
static void test_default_log(void)
{
	struct umm_system *sys = test_sys_create(4 << 20, 0);
	struct umm_mm *mm;
	const char *out;
	int tmp, saved;

	REQUIRE(umm_mm_create(sys, &mm) == 0);
	saved = capture_stderr(&tmp);
	CHECK_EQ(umm_system_destroy(sys), -EBUSY);
	out = restore_stderr(saved, tmp);
	CHECK_EQ(strstr(out, "usermm: system not destroyed") != NULL, UMM_DEBUG);
	CHECK_EQ(warnings(sys), 1);             /* counted whether printed or not */
	umm_mm_destroy(mm);

	saved = capture_stderr(&tmp);
	CHECK_EQ(corrupt_check(sys), -EUCLEAN);
	out = restore_stderr(saved, tmp);
	CHECK(strstr(out, "usermm: pfn ") != NULL);
	CHECK_EQ(umm_system_destroy(sys), 0);
}


static bool defer_all(void)
{
	return true;
}

/*
 * Deferred helpers: a memfd system (populate-ahead wanted at creation)
 * reads 2 MiB of a mapped file page by page through the soft MMU
 * (read-ahead: the I/O engine wanted) with no thread created and the bytes right; then
 * kthread_run_pending creates them, and destroy joins them.
 */
static void test_lazy_helpers(void)
{
	struct umm_config cfg = { .phys_bytes = 64UL << 20, .arena = UMM_ARENA_MEMFD };
	char path[] = "/tmp/usermm-lazy-XXXXXX";
	static unsigned char buf[512 * PS];
	struct umm_system *sys;
	struct umm_object *obj;
	struct umm_mm *mm;
	uintptr_t addr;
	int fd = mkstemp(path), before = test_threads_now();
	size_t bad = 0;

	REQUIRE(fd >= 0);
	REQUIRE(before > 0);
	unlink(path);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 7 + 1);
	REQUIRE(pwrite(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf));
	kthread_defer_hook = defer_all;
	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	REQUIRE(umm_mm_create(sys, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, sizeof(buf), PROT_READ, MAP_SHARED, obj, 0, &addr) == 0);
	memset(buf, 0, sizeof(buf));
	for (size_t off = 0; off < sizeof(buf); off += PS)     /* page by page: read-ahead */
		CHECK_EQ(umm_read(mm, addr + off, buf + off, PS), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		bad += buf[i] != (unsigned char)(i * 7 + 1);
	CHECK_EQ(bad, 0);
	CHECK_EQ(test_threads_now(), before);
	CHECK(kthread_nr_pending() >= 2);       /* populate-ahead and the I/O engine */
	kthread_run_pending();                  /* still deferred: nothing */
	CHECK_EQ(test_threads_now(), before);
	kthread_defer_hook = NULL;
	kthread_run_pending();
	CHECK_EQ(kthread_nr_pending(), 0);
	CHECK(test_threads_now() >= before + 2);
	umm_mm_destroy(mm);
	umm_object_put(obj);
	CHECK_EQ(umm_system_destroy(sys), 0);
	CHECK_EQ(test_threads_now(), before);
	close(fd);
}

int main(void)
{
	RUN(test_create_errors);
	RUN(test_create_wmark_min_at_half_rejected);
	RUN(test_destroy_busy);
	RUN(test_dirty_dropped);
	RUN(test_check_report);
	RUN(test_default_log);
	RUN(test_lazy_helpers);
	return test_summary("test_system");
}
