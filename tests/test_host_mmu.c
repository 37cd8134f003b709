/* SPDX-License-Identifier: MIT */
/*
 * test_host_mmu.c - the host MMU: plain pointers into usermm memory.
 *
 * Every mapping type read and written through pointers and checked
 * against the software MMU (umm_read/umm_write) and the backing file;
 * copy-on-write after fork through both address spaces' pointers; munmap
 * and mprotect taking effect at once (SIGSEGV reaching a test handler
 * installed before the attach, which the host MMU chains to); faults
 * outside every window reaching that handler; fault-around mapping
 * exactly the runs of arena-contiguous frames; write-notify around in a
 * block being filled; many threads faulting at
 * once; umm_host_prefault then read(2)/write(2); umm_read/umm_write with
 * a buffer inside a window; mappings dropped near the VMA limit; bad
 * input (also: one window more than UMM_HOST_MAX_REGIONS, and the
 * translations' bad arguments).
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
/* host windows need the memfd arena (the default may be anonymous memory) */
#define MM_FIXTURE_ARENA UMM_ARENA_MEMFD
#include "mm_fixture.h"
#include "rmap.h"
#include "host_mmu.h"
#include "filemap.h"
#include "pgtable.h"
#include "mm.h"

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

#if UNDER_TSAN
/*
 * The host MMU runs usermm's fault path (with its mallocs) inside its
 * SIGSEGV handler on purpose, under the conditions host_mmu.c states:
 * ThreadSanitizer's "signal-unsafe call inside of a signal" is that
 * design, not a bug.  Its race and lock-order reports stay on.
 */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "report_signal_unsafe=0";
}
#endif

/* ---- the test's own SIGSEGV handler, installed before any attach ---- */

static sigjmp_buf segv_env;
static volatile sig_atomic_t segv_armed;
static void *volatile segv_addr;
static volatile int segv_count;
static volatile int segv_sig;

static void test_segv(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (!segv_armed) {
		signal(sig, SIG_DFL);
		return;         /* unexpected: fault again, die with a core */
	}
	segv_addr = si->si_addr;
	segv_sig = sig;
	segv_count++;
	segv_armed = 0;
	siglongjmp(segv_env, 1);
}

static void install_test_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = test_segv;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	REQUIRE(sigaction(SIGSEGV, &sa, NULL) == 0);
	REQUIRE(sigaction(SIGBUS, &sa, NULL) == 0);
}

/* try_store / try_load - the access, or false if it raised SIGSEGV (at *where). */
static bool try_store(volatile char *p, char v)
{
	if (sigsetjmp(segv_env, 1))
		return false;
	segv_armed = 1;
	*p = v;
	segv_armed = 0;
	return true;
}

static bool try_load(volatile char *p, char *v)
{
	if (sigsetjmp(segv_env, 1))
		return false;
	segv_armed = 1;
	*v = *p;
	segv_armed = 0;
	return true;
}

static struct umm_host_stats hst(void)
{
	struct umm_host_stats st;

	umm_host_get_stats(&st);
	return st;
}

/* slow_faults - faults that ran the fault path: on a fault thread, or inline on the faulting thread. */
static unsigned long slow_faults(struct umm_host_stats st)
{
	return st.faults - st.handler_faults + st.inline_faults;
}

/* anon - a private anonymous read-write mapping of len bytes in mm. */
static uintptr_t anon(size_t len)
{
	return map_anon(0, len, PROT_READ | PROT_WRITE);
}

/* ---- tests ---- */

static void test_bad_input(void)
{
	void *base = NULL;
	uintptr_t a;

	setup();
	a = anon(4 * P);
	CHECK_EQ(umm_host_attach(NULL, a, P, 0, &base), -EINVAL);
	CHECK_EQ(umm_host_attach(mm, a, P, 0, NULL), -EINVAL);
	CHECK_EQ(umm_host_attach(mm, a + 1, P, 0, &base), -EINVAL);
	CHECK_EQ(umm_host_attach(mm, a, P + 1, 0, &base), -EINVAL);
	CHECK_EQ(umm_host_attach(mm, a, 0, 0, &base), -EINVAL);
	CHECK_EQ(umm_host_attach(mm, a, P, 0x100, &base), -EINVAL);
	CHECK_EQ(umm_host_attach(mm, UMM_TASK_SIZE, P, 0, &base), -EINVAL);
	CHECK_EQ(umm_host_attach(mm, UMM_TASK_SIZE - P, 2 * P, 0, &base), -EINVAL);
	CHECK(base == NULL);
	CHECK_EQ(hst().regions, 0);
	CHECK_EQ(umm_host_detach(mm, (void *)0x10000), -EINVAL);
	CHECK_EQ(umm_host_detach(NULL, (void *)0x10000), -EINVAL);
	CHECK_EQ(umm_host_detach(mm, NULL), -EINVAL);
	CHECK_EQ(umm_host_prefault(NULL, a, P, 0), -EINVAL);
	CHECK_EQ(umm_host_prefault(mm, a, 0, 0), -EINVAL);
	CHECK_EQ(umm_host_prefault(mm, UINTPTR_MAX - 10, 100, 0), -EINVAL);
	CHECK_EQ(umm_host_prefault(mm, a, P, 0), -EFAULT);     /* no window */

	REQUIRE(umm_host_attach(mm, a, 4 * P, 0, &base) == 0);
	CHECK_EQ(hst().regions, 1);
	CHECK_EQ(umm_host_detach(mm, (char *)base + P), -EINVAL);   /* not a base */
	{
		struct umm_mm *other;
		uintptr_t ua;

		REQUIRE(umm_mm_create(sys, &other) == 0);
		CHECK_EQ(umm_host_detach(other, base), -EINVAL);     /* not other's */
		CHECK_EQ(umm_host_to_umm(base, NULL, &ua), -EINVAL);
		CHECK_EQ(umm_host_to_umm(&ua, &other, &ua), -EFAULT);
		umm_mm_destroy(other);
	}
	CHECK(umm_host_from_umm(mm, a + P) == (char *)base + P);
	CHECK(umm_host_from_umm(mm, a + 4 * P) == NULL);
	{
		struct umm_mm *m;
		uintptr_t ua;

		CHECK_EQ(umm_host_to_umm((char *)base + 2 * P + 5, &m, &ua), 0);
		CHECK(m == mm && ua == a + 2 * P + 5);
	}
	CHECK_EQ(umm_host_detach(mm, base), 0);
	CHECK_EQ(hst().regions, 0);
	teardown();
}

/*
 * With UMM_HOST_MAX_REGIONS windows attached, one more attach is -ENOMEM
 * with *base untouched, the count of windows and the mm's notifiers
 * unchanged; the last window still works (a store through it reaches
 * usermm), and after a detach an attach succeeds again.
 */
static void test_attach_past_max_regions(void)
{
	void *bases[UMM_HOST_MAX_REGIONS], *base = (void *)0x1;
	const size_t n = UMM_HOST_MAX_REGIONS;
	uintptr_t a;
	int notifiers;
	char c = 0;

	setup();
	a = anon(n * P);
	REQUIRE(hst().regions == 0);
	for (size_t i = 0; i < n; i++)
		REQUIRE(umm_host_attach(mm, a + i * P, P, 0, &bases[i]) == 0);
	notifiers = atomic_load(&mm->notifier_count);
	CHECK_EQ(umm_host_attach(mm, a, P, 0, &base), -ENOMEM);
	CHECK(base == (void *)0x1);
	CHECK_EQ(hst().regions, n);
	CHECK_EQ(atomic_load(&mm->notifier_count), notifiers);
	((volatile char *)bases[n - 1])[5] = 'M';
	REQUIRE(umm_read(mm, a + (n - 1) * P + 5, &c, 1) == 0);
	CHECK_EQ(c, 'M');
	CHECK_EQ(umm_host_detach(mm, bases[0]), 0);
	CHECK_EQ(umm_host_attach(mm, a, P, 0, &bases[0]), 0);
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(umm_host_detach(mm, bases[i]), 0);
	CHECK_EQ(hst().regions, 0);
	teardown();
}

/*
 * umm_host_to_umm with a NULL address out is -EINVAL, and with a pointer
 * in no window -EFAULT; both leave the outs untouched.
 * umm_host_from_umm with a NULL mm is NULL, also for an address a window
 * of mm covers.
 */
static void test_translate_bad_args(void)
{
	struct umm_mm *const sentinel = (struct umm_mm *)0x1;
	struct umm_mm *m = sentinel;
	uintptr_t a, ua = 0x5a;
	char *base;

	setup();
	a = anon(2 * P);
	REQUIRE(umm_host_attach(mm, a, 2 * P, 0, (void **)&base) == 0);
	CHECK_EQ(umm_host_to_umm(base + 5, &m, NULL), -EINVAL);
	CHECK(m == sentinel);
	CHECK_EQ(umm_host_to_umm(&ua, &m, &ua), -EFAULT);
	CHECK(m == sentinel);
	CHECK_EQ(ua, 0x5a);
	CHECK_EQ(umm_host_to_umm(base + 2 * P, &m, &ua), -EFAULT);   /* just past the window */
	CHECK(m == sentinel);
	CHECK_EQ(ua, 0x5a);
	CHECK(umm_host_from_umm(NULL, a) == NULL);
	CHECK(umm_host_from_umm(mm, a) == base);
	CHECK_EQ(umm_host_detach(mm, base), 0);
	teardown();
}

/* Anonymous private memory: pointer and soft MMU see the same bytes. */
static void test_anon(void)
{
	size_t len = 64 * P;
	uintptr_t a;
	char *base;
	unsigned long faults0 = hst().faults;

	setup();
	a = anon(len);
	REQUIRE(umm_host_attach(mm, a, len, 0, (void **)&base) == 0);
	/* a fresh page reads as zero through the pointer */
	CHECK_EQ(base[5 * P + 7], 0);
	/* pointer writes, soft MMU reads */
	for (size_t i = 0; i < len; i += 97)
		base[i] = (char)pat(i, 1);
	for (size_t i = 0; i < len; i += 97) {
		char c;

		REQUIRE(umm_read(mm, a + i, &c, 1) == 0);
		CHECK_EQ(c, (char)pat(i, 1));
	}
	/* soft MMU writes, pointer reads: the frames are the same */
	fill(a, len, 2);
	for (size_t i = 0; i < len; i++)
		if (base[i] != (char)pat(i, 2)) {
			CHECK_EQ(base[i], (char)pat(i, 2));
			break;
		}
	CHECK(hst().faults > faults0);
	CHECK(hst().write_faults > 0);
	CHECK_EQ(umm_host_detach(mm, base), 0);
	teardown();
}

#define fpat file_pat

/* Shared file: reads see the file; the first store to a clean page faults and dirties it. */
static void test_shared_file(void)
{
	size_t len = 16 * P;
	int fd = test_tmpfile(len, fpat);
	struct umm_object *obj;
	struct umm_host_stats s0, s1;
	uintptr_t a;
	char *base;

	setup();
	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	REQUIRE(umm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &a) == 0);
	umm_object_put(obj);
	REQUIRE(umm_host_attach(mm, a, len, UMM_HOST_NO_FAULT_AROUND, (void **)&base) == 0);
	for (size_t i = 0; i < len; i += 101)
		CHECK_EQ((unsigned char)base[i], fpat(i));
	/* the page is mapped read-only: the store faults once more, as a write */
	s0 = hst();
	base[3 * P + 1] = 'X';
	s1 = hst();
	CHECK_EQ(s1.write_faults - s0.write_faults, 1);
	base[3 * P + 2] = 'Y';          /* now writable: no fault */
	CHECK_EQ(hst().write_faults, s1.write_faults);
	/* the dirtied page reaches the file */
	REQUIRE(umm_msync(mm, a, len, MS_SYNC) == 0);
	{
		char b[2];

		REQUIRE(pread(fd, b, 2, 3 * P + 1) == 2);
		CHECK(b[0] == 'X' && b[1] == 'Y');
	}
	/* after writeback the page is clean again: the next store must fault again */
	s0 = hst();
	base[3 * P + 3] = 'Z';
	CHECK_EQ(hst().write_faults - s0.write_faults, 1);
	REQUIRE(umm_msync(mm, a, len, MS_SYNC) == 0);
	{
		char b;

		REQUIRE(pread(fd, &b, 1, 3 * P + 3) == 1);
		CHECK_EQ(b, 'Z');
	}
	CHECK_EQ(umm_host_detach(mm, base), 0);
	teardown();
	close(fd);
}

/* Past the end of the file: usermm's -EIO reaches the SIGBUS handler as a SIGBUS. */
static void test_sigbus_past_eof(void)
{
	int fd = test_tmpfile(P, fpat);
	struct umm_object *obj;
	uintptr_t a;
	char *base, c;

	setup();
	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	REQUIRE(umm_mmap(mm, 0, 2 * P, PROT_READ, MAP_SHARED, obj, 0, &a) == 0);
	umm_object_put(obj);
	REQUIRE(umm_host_attach(mm, a, 2 * P, UMM_HOST_NO_FAULT_AROUND, (void **)&base) == 0);
	CHECK(try_load(base + 10, &c));
	CHECK_EQ((unsigned char)c, fpat(10));
	segv_sig = 0;
	CHECK(!try_load(base + P + 10, &c));
	CHECK_EQ(segv_sig, SIGBUS);
	CHECK(segv_addr == base + P + 10);
	/* a store to the read-only mapping is a SIGSEGV */
	CHECK(!try_store(base + 10, 'x'));
	CHECK_EQ(segv_sig, SIGSEGV);
	CHECK_EQ(umm_host_detach(mm, base), 0);
	teardown();
	close(fd);
}

/* Code cannot run from a window: an instruction fetch reaches the previous handler (x86-64). */
static void test_exec_refused(void)
{
#if defined(__x86_64__)
	uintptr_t a;
	char *base;
	void (*volatile fn)(void);
	unsigned long refused;

	setup();
	a = anon(P);
	REQUIRE(umm_host_attach(mm, a, P, 0, (void **)&base) == 0);
	base[0] = (char)0xc3;                   /* ret */
	refused = hst().refused;
	fn = (void (*)(void))(uintptr_t)base;
	if (!sigsetjmp(segv_env, 1)) {
		segv_armed = 1;
		fn();
		segv_armed = 0;
		CHECK(!"the window ran code");
	} else {
		CHECK(segv_addr == base);
		CHECK_EQ(hst().refused - refused, 1);
	}
	CHECK_EQ(umm_host_detach(mm, base), 0);
	teardown();
#endif
}

/* Private file: reads see the file, writes stay private. */
static void test_private_file(void)
{
	size_t len = 8 * P;
	int fd = test_tmpfile(len, fpat);
	struct umm_object *obj;
	uintptr_t a;
	char *base, c;

	setup();
	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	REQUIRE(umm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, obj, 0, &a) == 0);
	REQUIRE(umm_host_attach(mm, a, len, 0, (void **)&base) == 0);
	CHECK_EQ((unsigned char)base[P + 9], fpat(P + 9));
	base[P + 9] = 'p';
	CHECK_EQ(base[P + 9], 'p');
	REQUIRE(umm_read(mm, a + P + 9, &c, 1) == 0);
	CHECK_EQ(c, 'p');
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	REQUIRE(pread(fd, &c, 1, P + 9) == 1);
	CHECK_EQ((unsigned char)c, fpat(P + 9));
	/* another private mapping of the file still sees the file's byte */
	{
		uintptr_t b;

		REQUIRE(umm_mmap(mm, 0, len, PROT_READ, MAP_PRIVATE, obj, 0, &b) == 0);
		REQUIRE(umm_read(mm, b + P + 9, &c, 1) == 0);
		CHECK_EQ((unsigned char)c, fpat(P + 9));
	}
	umm_object_put(obj);
	CHECK_EQ(umm_host_detach(mm, base), 0);
	teardown();
	close(fd);
}

/* A nonlinear window (remap_file_pages) and mremap change what the pointers see at once. */
static void test_remap_mremap(void)
{
	size_t len = 4 * P;
	int fd = test_tmpfile(len, fpat);
	struct umm_object *obj;
	uintptr_t a, b, got;
	char *base;

	setup();
	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	REQUIRE(umm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &a) == 0);
	umm_object_put(obj);
	REQUIRE(umm_host_attach(mm, a, len, 0, (void **)&base) == 0);
	CHECK_EQ((unsigned char)base[7], fpat(7));
	CHECK_EQ((unsigned char)base[P + 7], fpat(P + 7));
	/* page 0 now shows file page 3 */
	REQUIRE(umm_remap_file_pages(mm, a, P, 0, 3, 0) == 0);
	CHECK_EQ((unsigned char)base[7], fpat(3 * P + 7));
	CHECK_EQ((unsigned char)base[P + 7], fpat(P + 7));
	/* mremap moves the mapping out of the window: the window is a hole now */
	b = a + 64 * P;
	REQUIRE(umm_mremap(mm, a + P, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, b, &got) == 0);
	{
		char c;

		CHECK(!try_load(base + P + 7, &c));
		REQUIRE(umm_read(mm, got + 7, &c, 1) == 0);
		CHECK_EQ((unsigned char)c, fpat(P + 7));
	}
	CHECK_EQ(umm_host_detach(mm, base), 0);
	teardown();
	close(fd);
}

/* Shared memory seen through two windows of two address spaces. */
static void test_shmem(void)
{
	size_t len = 8 * P;
	struct umm_object *obj;
	struct umm_mm *mm2;
	uintptr_t a, b;
	char *p1, *p2;

	setup();
	REQUIRE(umm_object_create_shmem(sys, len, &obj) == 0);
	REQUIRE(umm_mm_create(sys, &mm2) == 0);
	REQUIRE(umm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &a) == 0);
	REQUIRE(umm_mmap(mm2, 0, len, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &b) == 0);
	umm_object_put(obj);
	REQUIRE(umm_host_attach(mm, a, len, 0, (void **)&p1) == 0);
	REQUIRE(umm_host_attach(mm2, b, len, 0, (void **)&p2) == 0);
	CHECK_EQ(hst().regions, 2);
	for (size_t i = 0; i < len; i += 64)
		p1[i] = (char)pat(i, 3);
	for (size_t i = 0; i < len; i += 64)
		CHECK_EQ(p2[i], (char)pat(i, 3));
	p2[100] = 'q';
	CHECK_EQ(p1[100], 'q');
	CHECK_EQ(umm_host_detach(mm2, p2), 0);
	CHECK_EQ(umm_host_detach(mm, p1), 0);
	umm_mm_destroy(mm2);
	teardown();
}

/* Copy-on-write after fork, through both address spaces' pointers. */
static void test_fork_cow(void)
{
	size_t len = 8 * P;
	struct umm_mm *child;
	uintptr_t a;
	char *pp, *cp, c;

	setup();
	a = anon(len);
	REQUIRE(umm_host_attach(mm, a, len, 0, (void **)&pp) == 0);
	for (size_t i = 0; i < len; i += P)
		pp[i] = 'A';                    /* mapped writable in the parent's window */
	{
		unsigned long wp0 = hst().write_protects, un0 = hst().pages_unmapped;

		REQUIRE(umm_fork(mm, &child) == 0);
		/* fork write-protects the parent's host pages, it does not unmap them */
		CHECK_EQ(hst().write_protects - wp0, len / P);
		CHECK_EQ(hst().pages_unmapped, un0);
	}
	REQUIRE(umm_host_attach(child, a, len, 0, (void **)&cp) == 0);
	CHECK_EQ(cp[0], 'A');
	pp[0] = 'P';                            /* must not reach the child */
	CHECK_EQ(cp[0], 'A');
	REQUIRE(umm_read(child, a, &c, 1) == 0);
	CHECK_EQ(c, 'A');
	cp[P] = 'C';                            /* must not reach the parent */
	CHECK_EQ(pp[P], 'A');
	REQUIRE(umm_read(mm, a + P, &c, 1) == 0);
	CHECK_EQ(c, 'A');
	CHECK_EQ(pp[0], 'P');
	CHECK_EQ(cp[P], 'C');
	for (size_t i = 2 * P; i < len; i += P) {
		CHECK_EQ(pp[i], 'A');
		CHECK_EQ(cp[i], 'A');
	}
	CHECK_EQ(umm_host_detach(child, cp), 0);
	CHECK_EQ(umm_host_detach(mm, pp), 0);
	umm_mm_destroy(child);
	teardown();
}

/* mprotect and munmap take effect at once for pointer access. */
static void test_mprotect_munmap(void)
{
	size_t len = 8 * P;
	uintptr_t a;
	char *base, c;
	int n0 = segv_count;

	setup();
	a = anon(len);
	REQUIRE(umm_host_attach(mm, a, len, 0, (void **)&base) == 0);
	CHECK(try_store(base + P, 'w'));
	REQUIRE(umm_mprotect(mm, a, len, PROT_READ) == 0);
	CHECK(!try_store(base + P, 'x'));
	CHECK(segv_addr == base + P);
	CHECK(try_load(base + P, &c));
	CHECK_EQ(c, 'w');
	REQUIRE(umm_mprotect(mm, a, len, PROT_READ | PROT_WRITE) == 0);
	CHECK(try_store(base + P, 'y'));
	REQUIRE(umm_read(mm, a + P, &c, 1) == 0);
	CHECK_EQ(c, 'y');
	REQUIRE(umm_mprotect(mm, a, P * 2, PROT_NONE) == 0);
	CHECK(!try_load(base + P, &c));
	REQUIRE(umm_munmap(mm, a + 4 * P, P) == 0);
	CHECK(try_load(base + 3 * P, &c));
	CHECK(!try_load(base + 4 * P, &c));
	CHECK(segv_addr == base + 4 * P);
	CHECK(try_load(base + 5 * P, &c));
	CHECK_EQ(segv_count - n0, 3);
	CHECK(hst().refused >= 3);
	CHECK_EQ(umm_host_detach(mm, base), 0);
	teardown();
}

/* A fault outside every window reaches the previous handler, a window or not. */
static void test_outside_fault(void)
{
	char *own = mmap(NULL, P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t a;
	char *base, c;

	REQUIRE(own != MAP_FAILED);
	setup();
	a = anon(2 * P);
	REQUIRE(umm_host_attach(mm, a, 2 * P, 0, (void **)&base) == 0);
	CHECK(!try_load(own, &c));
	CHECK(segv_addr == own);
	CHECK(try_load(base, &c));
	CHECK_EQ(umm_host_detach(mm, base), 0);
	/* after the last detach the test's handler is in place again by itself */
	{
		struct sigaction cur;

		REQUIRE(sigaction(SIGSEGV, NULL, &cur) == 0);
		CHECK((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == test_segv);
	}
	CHECK(!try_load(own, &c));
	munmap(own, P);
	teardown();
}

/*
 * Fault-around maps exactly the runs of neighbouring present pages whose
 * frames follow each other in the arena, within an aligned 64-page block.
 */
static void test_fault_around(void)
{
	size_t n = 64, len = n * P;
	struct umm_page *pages[64];
	uintptr_t a;
	char *base;
	unsigned long expect = 0, f0;
	struct umm_host_stats s0, s1;

	setup();
	REQUIRE(umm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
			 NULL, 0, &a) == 0);
	fill(a, len, 4);                        /* every pte writable and dirty */
	REQUIRE(umm_pin_pages(mm, a, n, 0, pages) == (long)n);
	for (size_t i = 0; i < n; i++) {
		char *prev = i ? umm_page_address(pages[i - 1]) : NULL;

		/* a new run where an aligned 64-page block starts or the frames stop following */
		if (i == 0 || ((a >> 12) + i) % 64 == 0 || (char *)umm_page_address(pages[i]) != prev + P)
			expect++;
	}
	umm_unpin_pages(pages, n, 0);
	fprintf(stderr, "fault-around: %lu runs expected for %zu pages\n", expect, n);
	REQUIRE(umm_host_attach(mm, a, len, 0, (void **)&base) == 0);
	s0 = hst();
	f0 = s0.faults;
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(base[i * P + 1], (char)pat(i * P + 1, 4));
	s1 = hst();
	CHECK_EQ(s1.faults - f0, expect);
	CHECK_EQ(s1.runs_mapped - s0.runs_mapped, expect);
	CHECK_EQ(s1.pages_mapped - s0.pages_mapped, n);
	CHECK_EQ(s1.fault_around_pages - s0.fault_around_pages, n - expect);
	/* stores need no fault: the ptes were writable and dirty */
	base[7] = 1;
	CHECK_EQ(hst().faults, s1.faults);
	CHECK_EQ(umm_host_detach(mm, base), 0);

	/* without fault-around: one fault per page */
	REQUIRE(umm_host_attach(mm, a, len, UMM_HOST_NO_FAULT_AROUND, (void **)&base) == 0);
	f0 = hst().faults;
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(base[i * P + 1], (char)pat(i * P + 1, 4));
	CHECK_EQ(hst().faults - f0, n);
	CHECK_EQ(umm_host_detach(mm, base), 0);
	teardown();
}

/* umm_host_prefault, then system calls into and out of the window. */
static void test_prefault_syscalls(void)
{
	size_t len = 8 * P;
	int fd = test_tmpfile(len, fpat);
	uintptr_t a;
	char *base;

	setup();
	a = anon(len);
	REQUIRE(umm_host_attach(mm, a, len, 0, (void **)&base) == 0);
	/* not mapped on the host: the kernel answers EFAULT, no signal */
	errno = 0;
	CHECK_EQ(pread(fd, base + 2 * P, 100, 0), -1);
	CHECK_EQ(errno, EFAULT);
	CHECK_EQ(umm_host_prefault(mm, a + 2 * P, 3 * P, 1), 0);
	CHECK_EQ(pread(fd, base + 2 * P, 3 * P, 0), (ssize_t)(3 * P));
	{
		unsigned char c;

		REQUIRE(umm_read(mm, a + 2 * P + 4097, &c, 1) == 0);
		CHECK_EQ(c, fpat(4097));
	}
	/* write(2) from the window: read access is enough */
	fill(a + 6 * P, P, 9);
	CHECK_EQ(umm_host_prefault(mm, a + 6 * P, P, 0), 0);
	CHECK_EQ(pwrite(fd, base + 6 * P, P, 0), (ssize_t)P);
	{
		unsigned char b[64];

		REQUIRE(pread(fd, b, sizeof(b), 0) == sizeof(b));
		for (size_t i = 0; i < sizeof(b); i++)
			CHECK_EQ(b[i], pat(i, 9));
	}
	/* a page beyond the window, or not mapped in usermm */
	CHECK_EQ(umm_host_prefault(mm, a + 7 * P, 2 * P, 0), -EFAULT);
	REQUIRE(umm_munmap(mm, a, P) == 0);
	CHECK_EQ(umm_host_prefault(mm, a, P, 0), -EFAULT);
	CHECK_EQ(umm_host_detach(mm, base), 0);
	teardown();
	close(fd);
}

/* umm_read/umm_write with the buffer in a window (bounced), and its errors. */
static void test_soft_mmu_host_buffer(void)
{
	size_t len = 8 * P;
	struct umm_mm *mm2;
	uintptr_t a, b;
	char *base, c;

	setup();
	REQUIRE(umm_mm_create(sys, &mm2) == 0);
	a = anon(len);
	REQUIRE(umm_mmap(mm2, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &b) == 0);
	REQUIRE(umm_host_attach(mm, a, len, 0, (void **)&base) == 0);
	fill(a, len, 5);
	/* from a window of mm into mm2, pages not yet mapped on the host */
	CHECK_EQ(umm_write(mm2, b, base, len), 0);
	for (size_t i = 0; i < len; i += 333) {
		REQUIRE(umm_read(mm2, b + i, &c, 1) == 0);
		CHECK_EQ(c, (char)pat(i, 5));
	}
	/* from mm2 into the window, and within the same mm */
	CHECK_EQ(umm_write(mm2, b, "hello", 6), 0);
	CHECK_EQ(umm_read(mm2, b, base + 3 * P + 10, 6), 0);
	CHECK(memcmp(base + 3 * P + 10, "hello", 6) == 0);
	CHECK_EQ(umm_read(mm, a + 3 * P + 10, base + 5 * P, 6), 0);
	CHECK(memcmp(base + 5 * P, "hello", 6) == 0);
	/* a window page usermm cannot map: -EFAULT, no signal */
	REQUIRE(umm_munmap(mm, a + 7 * P, P) == 0);
	CHECK_EQ(umm_write(mm2, b, base + 7 * P, 10), -EFAULT);
	CHECK_EQ(umm_read(mm2, b, base + 7 * P, 10), -EFAULT);
	REQUIRE(umm_mprotect(mm, a + 6 * P, P, PROT_READ) == 0);
	CHECK_EQ(umm_read(mm2, b, base + 6 * P, 10), -EFAULT);     /* needs a write */
	CHECK_EQ(umm_write(mm2, b, base + 6 * P, 10), 0);          /* a read is fine */
	CHECK_EQ(umm_host_detach(mm, base), 0);
	umm_mm_destroy(mm2);
	teardown();
}

/* Many threads faulting at once, on their own pages and on shared ones. */
#define NTHREADS 4
static char *mt_base;
static uintptr_t mt_addr;
static size_t mt_pages;

static void *mt_worker(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;

	for (size_t i = id; i < mt_pages; i += NTHREADS) {
		mt_base[i * P] = (char)(id + 1);
		mt_base[i * P + 1] = (char)i;
	}
	/* everyone reads everything, racing with the others' first touches */
	for (size_t i = 0; i < mt_pages; i++)
		(void)*(volatile char *)&mt_base[i * P + 2];
	return NULL;
}

static void test_threads(void)
{
	pthread_t t[NTHREADS];
	size_t len;

	mt_pages = UNDER_TSAN ? 64 : 512;
	len = mt_pages * P;
	setup();
	mt_addr = anon(len);
	REQUIRE(umm_host_attach(mm, mt_addr, len, 0, (void **)&mt_base) == 0);
	for (unsigned i = 0; i < NTHREADS; i++)
		REQUIRE(pthread_create(&t[i], NULL, mt_worker, (void *)(uintptr_t)i) == 0);
	for (unsigned i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	for (size_t i = 0; i < mt_pages; i++) {
		char b[2];

		REQUIRE(umm_read(mm, mt_addr + i * P, b, 2) == 0);
		CHECK_EQ(b[0], (char)(i % NTHREADS + 1));
		CHECK_EQ(b[1], (char)i);
		CHECK_EQ(mt_base[i * P], b[0]);
	}
	CHECK_EQ(umm_host_detach(mm, mt_base), 0);
	teardown();
}

/* Near the VMA limit the host MMU drops its mappings; nothing is lost. */
static void test_map_limit(void)
{
	size_t n = 1024, len = n * P;
	struct umm_host_stats s0, s1;
	unsigned long old;
	uintptr_t a;
	char *base;

	setup();
	a = anon(len);
	fill(a, len, 6);
	REQUIRE(umm_host_attach(mm, a, len, UMM_HOST_NO_FAULT_AROUND, (void **)&base) == 0);
	umm_host_set_map_limit(0);              /* count again at the next fault */
	CHECK_EQ((unsigned char)base[1], pat(1, 6));
	s0 = hst();
	CHECK(s0.map_count > 0);
	/* a limit 600 VMAs above the count: mapping every other page (two
	   VMAs each) passes three quarters of it well before the end */
	old = umm_host_set_map_limit(s0.map_count + 600);
	for (size_t i = 0; i < n; i += 2)
		CHECK_EQ(base[i * P + 3], (char)pat(i * P + 3, 6));
	for (size_t i = 0; i < n; i += 2)
		base[i * P + 3] = 'd';
	s1 = hst();
	CHECK(s1.drops > s0.drops);
	umm_host_set_map_limit(old);
	for (size_t i = 0; i < n; i++) {
		char c;

		REQUIRE(umm_read(mm, a + i * P + 3, &c, 1) == 0);
		CHECK_EQ(c, i % 2 ? (char)pat(i * P + 3, 6) : 'd');
	}
	CHECK_EQ(umm_host_detach(mm, base), 0);
	teardown();
}

/*
 * A host fork() with a window attached: in the child the window is
 * unmapped and its faults are refused (it has no fault threads), so the
 * child can neither hang nor write the parent's frames through it.
 * Not under TSan, whose runtime does not support a multithreaded fork
 * child (the fault threads make this process multithreaded).
 */
static void test_host_fork(void)
{
	uintptr_t a;
	char *base, c;
	pid_t pid;
	int status;

	if (UNDER_TSAN)
		return;
	setup();
	a = anon(2 * P);
	REQUIRE(umm_host_attach(mm, a, 2 * P, 0, (void **)&base) == 0);
	base[0] = 'p';
	fflush(NULL);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		char v;

		_exit(!try_load(base, &v) && !try_store(base + P, 'c') ? 0 : 1);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ(base[0], 'p');
	REQUIRE(umm_read(mm, a + P, &c, 1) == 0);
	CHECK_EQ(c, 0);
	CHECK_EQ(umm_host_detach(mm, base), 0);
	teardown();
}

/*
 * Invalidation racing with pointer reads: generation after generation of
 * shmem objects, each filled with its number, is mapped MAP_FIXED over
 * the same range while reader threads read through the window.  A read
 * that starts after generation g was installed must see g or later: an
 * older value would be a stale host mapping left by an invalidation.
 */
#define RACE_PAGES 16
static _Atomic int race_gen, race_stop;
static _Atomic long race_reads, race_stale;
static char *race_base;

static void *race_reader(void *arg)
{
	unsigned long i = (unsigned long)(uintptr_t)arg;

	while (!atomic_load(&race_stop)) {
		int g = atomic_load(&race_gen);
		int v = ((volatile unsigned char *)race_base)[(i++ % RACE_PAGES) * P + 5];

		if (v < g)
			atomic_fetch_add(&race_stale, 1);
		atomic_fetch_add(&race_reads, 1);
	}
	return NULL;
}

static void test_invalidate_race(void)
{
	int nthreads = UNDER_TSAN ? 1 : 2, gens = UNDER_TSAN ? 40 : 200;
	pthread_t t[2];
	uintptr_t a;

	setup();
	a = anon(RACE_PAGES * P);
	REQUIRE(umm_host_attach(mm, a, RACE_PAGES * P, 0, (void **)&race_base) == 0);
	atomic_store(&race_gen, 0);
	atomic_store(&race_stop, 0);
	atomic_store(&race_stale, 0);
	for (int i = 0; i < nthreads; i++)
		REQUIRE(pthread_create(&t[i], NULL, race_reader, (void *)(uintptr_t)(i * 7)) == 0);
	for (int g = 1; g <= gens; g++) {
		struct umm_object *obj;
		uintptr_t b, got;
		unsigned char buf[RACE_PAGES * 64];

		REQUIRE(umm_object_create_shmem(sys, RACE_PAGES * P, &obj) == 0);
		REQUIRE(umm_mmap(mm, 0, RACE_PAGES * P, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &b) == 0);
		memset(buf, g, sizeof(buf));
		for (int p = 0; p < RACE_PAGES; p++)
			REQUIRE(umm_write(mm, b + p * P, buf, 64) == 0);
		REQUIRE(umm_munmap(mm, b, RACE_PAGES * P) == 0);
		REQUIRE(umm_mmap(mm, a, RACE_PAGES * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
				 obj, 0, &got) == 0);
		umm_object_put(obj);
		atomic_store(&race_gen, g);
		if (g % 8 == 0) {
			/* let the readers fault the generation in: wait for a read of it */
			long r = atomic_load(&race_reads);

			do
				usleep(1000);
			while (atomic_load(&race_reads) == r);
		}
	}
	atomic_store(&race_stop, 1);
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ(atomic_load(&race_stale), 0);
	CHECK_EQ((unsigned char)race_base[3 * P + 5], gens);
	CHECK_EQ(umm_host_detach(mm, race_base), 0);
	teardown();
}

/*
 * Stores through pointers racing with umm_fork: each writer thread counts
 * up in its own slot through the window while the main thread forks again
 * and again.  A child's copy of a slot must hold a count the writer had
 * reached between just before and just after the fork (a store after the
 * fork that reached the child would be a host mapping left writable), and
 * at the end the parent's slots hold every writer's last count (no store
 * lost to a copy-on-write break).
 */
#define FW_WRITERS 2
static _Atomic long fw_pub[FW_WRITERS];
static _Atomic int fw_stop;
static char *fw_base;

static void *fw_writer(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	volatile long *slot = (volatile long *)(fw_base + id * P + 8 * id);
	long n = 0;

	while (!atomic_load(&fw_stop)) {
		*slot = ++n;
		atomic_store(&fw_pub[id], n);
	}
	return NULL;
}

static void test_fork_race(void)
{
	int forks = UNDER_TSAN ? 10 : 40;
	pthread_t t[FW_WRITERS];
	uintptr_t a;

	setup();
	a = anon(FW_WRITERS * P);
	REQUIRE(umm_host_attach(mm, a, FW_WRITERS * P, 0, (void **)&fw_base) == 0);
	atomic_store(&fw_stop, 0);
	for (int i = 0; i < FW_WRITERS; i++) {
		atomic_store(&fw_pub[i], 0);
		REQUIRE(pthread_create(&t[i], NULL, fw_writer, (void *)(uintptr_t)i) == 0);
	}
	/* the forks race with stores: wait until every writer has stored (a loaded machine starts them late) */
	for (int i = 0; i < FW_WRITERS; i++)
		while (atomic_load(&fw_pub[i]) == 0)
			usleep(100);
	for (int f = 0; f < forks; f++) {
		long lo[FW_WRITERS], hi[FW_WRITERS];
		struct umm_mm *child;

		for (int i = 0; i < FW_WRITERS; i++)
			lo[i] = atomic_load(&fw_pub[i]);
		REQUIRE(umm_fork(mm, &child) == 0);
		for (int i = 0; i < FW_WRITERS; i++)
			hi[i] = atomic_load(&fw_pub[i]) + 1;
		usleep(500);                    /* the writers go on: none of it may reach the child */
		for (int i = 0; i < FW_WRITERS; i++) {
			long v;

			REQUIRE(umm_read(child, a + i * P + 8 * i, &v, sizeof(v)) == 0);
			CHECK(v >= lo[i] && v <= hi[i]);
		}
		umm_mm_destroy(child);
	}
	atomic_store(&fw_stop, 1);
	for (int i = 0; i < FW_WRITERS; i++) {
		long v;

		pthread_join(t[i], NULL);
		REQUIRE(umm_read(mm, a + i * P + 8 * i, &v, sizeof(v)) == 0);
		CHECK_EQ(v, atomic_load(&fw_pub[i]));
		CHECK(v > 0);
	}
	CHECK_EQ(umm_host_detach(mm, fw_base), 0);
	teardown();
}

/*
 * Aging: the host MMU has no accessed bits, so page_referenced (reclaim's
 * aging) counts a page mapped on the host as used and unmaps it there;
 * the next access through the pointer refaults, which makes the pte
 * young again.
 */
static void test_aging(void)
{
	struct umm_page *pg;
	struct page *page;
	unsigned long f0;
	uintptr_t a;
	char *base;

	setup();
	a = anon(P);
	REQUIRE(umm_host_attach(mm, a, P, 0, (void **)&base) == 0);
	base[0] = 'y';
	REQUIRE(umm_pin_pages(mm, a, 1, 0, &pg) == 1);
	page = (struct page *)pg;
	CHECK(page_referenced(page) >= 1);      /* young: the fault and the host mapping */
	CHECK_EQ(page_referenced(page), 0);     /* aged, and unmapped on the host */
	f0 = hst().faults;
	CHECK_EQ(base[0], 'y');                 /* refaults ... */
	CHECK_EQ(hst().faults - f0, 1);
	CHECK_EQ(page_referenced(page), 1);     /* ... and the page is young again */
	f0 = hst().faults;
	CHECK_EQ(base[0], 'y');
	CHECK_EQ(hst().faults - f0, 1);         /* aging unmapped it once more */
	umm_unpin_pages(&pg, 1, 0);
	CHECK_EQ(umm_host_detach(mm, base), 0);
	teardown();
}

/*
 * Reclaim under pointer access: threads write and read back more
 * anonymous memory than the system has, through one window, while reclaim
 * sends pages to swap (each eviction unmaps the host page: UMM_MMU_RECLAIM)
 * and the pointers fault them back in.  Nothing written may be lost.
 * Runs when reclaim is in the build (MADV_PAGEOUT accepted); says so
 * when it is not.
 */
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#define RW_THREADS 2
static char *rw_base;
static size_t rw_pages;                 /* per thread */

static void *rw_worker(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	char *mine = rw_base + id * rw_pages * P;
	long bad = 0;

	for (int round = 1; round <= 2; round++) {
		for (size_t i = 0; i < rw_pages; i++)
			*(volatile long *)(mine + i * P + 8 * id) = (long)(round * 1000000 + id * 100000 + i);
		for (size_t i = 0; i < rw_pages; i++)
			bad += *(volatile long *)(mine + i * P + 8 * id) != (long)(round * 1000000 + id * 100000 + i);
	}
	TCHECK(bad == 0);
	return NULL;
}

static void test_reclaim_pointers(void)
{
	char path[] = "/tmp/usermm-host-swap-XXXXXX";
	size_t phys = 8UL << 20;
	struct umm_config cfg = { .phys_bytes = phys, .swap_bytes = 64UL << 20,
				  .arena = UMM_ARENA_MEMFD };
	struct umm_system *s;
	struct umm_mm *m;
	pthread_t t[RW_THREADS];
	uintptr_t a;
	int fd, err;

	setup();
	a = anon(P);
	fill(a, P, 1);
	err = umm_madvise(mm, a, P, MADV_PAGEOUT);
	teardown();
	if (err) {
		fprintf(stderr, "test_reclaim_pointers: no reclaim in this build (MADV_PAGEOUT: %d): not run\n", err);
		return;
	}
	fd = mkstemp(path);
	REQUIRE(fd >= 0);
	close(fd);
	cfg.swap_path = path;
	REQUIRE(umm_system_create(&cfg, &s) == 0);
	unlink(path);
	REQUIRE(umm_mm_create(s, &m) == 0);
	rw_pages = (UNDER_TSAN ? phys : 3 * phys) / 4 / P;     /* together 1.5x memory (0.5x under TSan) */
	REQUIRE(umm_mmap(m, 0, RW_THREADS * rw_pages * P, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a) == 0);
	REQUIRE(umm_host_attach(m, a, RW_THREADS * rw_pages * P, 0, (void **)&rw_base) == 0);
	for (int i = 0; i < RW_THREADS; i++)
		REQUIRE(pthread_create(&t[i], NULL, rw_worker, (void *)(uintptr_t)i) == 0);
	for (int i = 0; i < RW_THREADS; i++)
		pthread_join(t[i], NULL);
	test_fold_thread_checks();
	for (unsigned id = 0; id < RW_THREADS; id++) {
		long bad = 0;

		for (size_t i = 0; i < rw_pages; i++) {
			long v;

			REQUIRE(umm_read(m, a + (id * rw_pages + i) * P + 8 * id, &v, sizeof(v)) == 0);
			bad += v != (long)(2 * 1000000 + id * 100000 + i);
		}
		CHECK_EQ(bad, 0);
	}
	if (!UNDER_TSAN)
		CHECK(hst().invalidations > 0);
	CHECK_EQ(umm_host_detach(m, rw_base), 0);
	umm_mm_destroy(m);
	CHECK_EQ(umm_system_destroy(s), 0);
}

/* The address space destroyed while a window is attached: faults are refused, detach still works. */
static void test_destroy_attached(void)
{
	struct umm_mm *m2;
	uintptr_t a;
	char *base, c;

	setup();
	REQUIRE(umm_mm_create(sys, &m2) == 0);
	REQUIRE(umm_mmap(m2, 0, 4 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a) == 0);
	REQUIRE(umm_host_attach(m2, a, 4 * P, 0, (void **)&base) == 0);
	CHECK(try_store(base, 'z'));
	umm_mm_destroy(m2);
	CHECK(!try_load(base, &c));             /* unmapped by release, and not served */
	CHECK(!try_load(base + P, &c));
	CHECK_EQ(umm_host_detach(m2, base), 0);
	teardown();
}

/*
 * Without the fault's error code (as on an architecture whose signal
 * context lacks it): a store to a page mapped read-only is still seen as
 * a store, so copy-on-write and dirtying work, and loads stay loads.
 */
static void test_no_fault_code(void)
{
	size_t len = 4 * P;
	int fd = test_tmpfile(len, fpat);
	struct umm_object *obj;
	struct umm_mm *child;
	struct umm_host_stats s0;
	uintptr_t a, b;
	char *fb, *ab, c;

	host_mmu_no_fault_code = true;
	setup();
	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	REQUIRE(umm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &a) == 0);
	umm_object_put(obj);
	REQUIRE(umm_host_attach(mm, a, len, UMM_HOST_NO_FAULT_AROUND, (void **)&fb) == 0);
	s0 = hst();
	CHECK_EQ((unsigned char)fb[5], fpat(5));        /* a load: mapped read-only */
	CHECK_EQ(hst().write_faults, s0.write_faults);
	fb[5] = 'W';                                    /* faults again: a store */
	CHECK_EQ(hst().write_faults - s0.write_faults, 1);
	REQUIRE(umm_msync(mm, a, len, MS_SYNC) == 0);
	REQUIRE(pread(fd, &c, 1, 5) == 1);
	CHECK_EQ(c, 'W');
	/* copy-on-write after fork */
	b = anon(len);
	REQUIRE(umm_host_attach(mm, b, len, 0, (void **)&ab) == 0);
	ab[0] = 'p';
	REQUIRE(umm_fork(mm, &child) == 0);
	ab[0] = 'q';
	REQUIRE(umm_read(child, b, &c, 1) == 0);
	CHECK_EQ(c, 'p');
	CHECK_EQ(ab[0], 'q');
	umm_mm_destroy(child);
	CHECK_EQ(umm_host_detach(mm, ab), 0);
	CHECK_EQ(umm_host_detach(mm, fb), 0);
	teardown();
	host_mmu_no_fault_code = false;
	close(fd);
}

/*
 * The signal handler resolves a fault on a present pte itself (no fault
 * thread): one thread, every fault; many threads at once, each fault once
 * (by the handler or, when a trylock loses, by a fault thread); with
 * host_mmu_no_fast_path, every fault by a fault thread.  The bytes are
 * the soft MMU's in every case.
 */
#define FP_THREADS 4
static char *fp_base;
static size_t fp_pages;
static unsigned fp_threads;

static void *fp_worker(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;

	for (size_t i = id; i < fp_pages; i += fp_threads) {
		/* the load maps the page writable (its pte is writable and dirty): the store takes no fault */
		TCHECK(fp_base[i * P + 3] == (char)pat(i * P + 3, 7));
		fp_base[i * P + 5] = (char)(id + 1);
	}
	return NULL;
}

static void fast_path_run(unsigned threads, bool fast)
{
	pthread_t t[FP_THREADS];
	struct umm_host_stats s0, s1;
	uintptr_t a;

	fp_pages = UNDER_TSAN ? 64 : 256;
	fp_threads = threads;
	setup();
	a = anon(fp_pages * P);
	fill(a, fp_pages * P, 7);               /* every pte present, writable and dirty */
	host_mmu_no_fast_path = !fast;
	REQUIRE(umm_host_attach(mm, a, fp_pages * P, UMM_HOST_NO_FAULT_AROUND, (void **)&fp_base) == 0);
	s0 = hst();
	for (unsigned i = 0; i < threads; i++)
		REQUIRE(pthread_create(&t[i], NULL, fp_worker, (void *)(uintptr_t)i) == 0);
	for (unsigned i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	test_fold_thread_checks();
	s1 = hst();
	CHECK_EQ(s1.faults - s0.faults, fp_pages);
	CHECK_EQ(s1.pages_mapped - s0.pages_mapped, fp_pages);
	CHECK_EQ(s1.refused, s0.refused);
	if (!fast)
		CHECK_EQ(s1.handler_faults - s0.handler_faults, 0);
	else if (threads == 1)
		CHECK_EQ(s1.handler_faults - s0.handler_faults, fp_pages);   /* no lock is ever busy */
	else
		CHECK(s1.handler_faults - s0.handler_faults <= fp_pages);
	for (size_t i = 0; i < fp_pages; i++) {
		unsigned char b[P];
		size_t bad = 0;

		REQUIRE(umm_read(mm, a + i * P, b, P) == 0);
		CHECK_EQ(b[5], i % threads + 1);
		for (size_t k = 0; k < P; k++)
			bad += k != 5 && b[k] != pat(i * P + k, 7);
		CHECK_EQ(bad, 0);
	}
	CHECK_EQ(umm_host_detach(mm, fp_base), 0);
	host_mmu_no_fast_path = false;
	teardown();
}

static void test_fast_path(void)
{
	fast_path_run(1, true);
	fast_path_run(FP_THREADS, true);
	fast_path_run(FP_THREADS, false);
}

/*
 * A thread inside usermm (holding an mmap_lock, or in a soft-TLB access)
 * that touches a window page whose pte is present still gets the fault
 * refused: the previous handler has it, the handler resolved nothing.
 */
static void test_fast_path_refused(void)
{
	struct umm_host_stats s0, s1;
	uintptr_t a;
	char *base, *p, c = 0;
	int n0;

	setup();
	a = anon(2 * P);
	fill(a, 2 * P, 3);
	REQUIRE(umm_host_attach(mm, a, 2 * P, UMM_HOST_NO_FAULT_AROUND, (void **)&base) == 0);
	s0 = hst();
	n0 = segv_count;
	mmap_read_lock(mm);
	CHECK(!try_load(base, &c));
	mmap_read_unlock(mm);
	CHECK_EQ(segv_count - n0, 1);
	CHECK(segv_addr == base);
	REQUIRE(umm_read(mm, a + P, &c, 1) == 0);     /* the soft TLB now maps a + P */
	REQUIRE(umm_tlb_begin(mm, a + P, 1, UMM_TLB_PROT_READ, &p) == 1);
	CHECK(!try_load(base + P, &c));
	umm_tlb_end();
	CHECK_EQ(segv_count - n0, 2);
	s1 = hst();
	CHECK_EQ(s1.refused - s0.refused, 2);
	CHECK_EQ(s1.faults, s0.faults);
	CHECK_EQ(s1.handler_faults, s0.handler_faults);
	/* outside usermm again: the handler maps both pages itself */
	CHECK(try_load(base, &c) && c == (char)pat(0, 3));
	CHECK(try_load(base + P, &c) && c == (char)pat(P, 3));
	CHECK_EQ(hst().handler_faults - s1.handler_faults, 2);
	CHECK_EQ(umm_host_detach(mm, base), 0);
	teardown();
}

/*
 * UMM_HOST_POPULATE_AROUND: a sequential writer's blocks come from free
 * blocks of the allocator, 16 pages, then 16 more (the 32-page block's
 * second half), 32, then 64 at a time, each mapped with one mmap: 6 runs
 * for 256 pages (the system is fresh: its free blocks are large).  A
 * store away from the previous block starts again at 16 pages.  A shared
 * shmem object's blocks grow the same way.
 */
static void test_populate_around_runs(void)
{
	size_t n = 256;
	struct umm_host_stats s0, s1;
	uintptr_t a;
	char *base;

	setup();
	a = map_at(0x40000000, n * P, PROT_READ | PROT_WRITE);   /* 64-page aligned */
	REQUIRE(umm_host_attach(mm, a, n * P, UMM_HOST_POPULATE_AROUND, (void **)&base) == 0);
	s0 = hst();
	for (size_t i = 0; i < n; i++)
		base[i * P + 9] = (char)(i + 1);
	s1 = hst();
	CHECK_EQ(s1.faults - s0.faults, 6);
	CHECK_EQ(s1.runs_mapped - s0.runs_mapped, 6);
	CHECK_EQ(s1.pages_mapped - s0.pages_mapped, n);
	for (size_t i = 0; i < n; i++) {
		unsigned char c;

		REQUIRE(umm_read(mm, a + i * P + 9, &c, 1) == 0);
		CHECK_EQ(c, (unsigned char)(i + 1));
	}
	/* a store far from the last block starts again at 16 pages */
	CHECK_EQ(umm_host_detach(mm, base), 0);
	REQUIRE(umm_munmap(mm, a, n * P) == 0);
	a = map_at(0x40000000, n * P, PROT_READ | PROT_WRITE);
	REQUIRE(umm_host_attach(mm, a, n * P, UMM_HOST_POPULATE_AROUND, (void **)&base) == 0);
	s0 = hst();
	base[200 * P] = 1;
	s1 = hst();
	CHECK_EQ(s1.pages_mapped - s0.pages_mapped, 16);
	/* a shared shmem object: the fault path (on a fault thread or the
	   faulting thread) brings each block's pages into the object (16, 16,
	   32, 64 pages for 128); the other faults in a block find their ptes
	   present and the handler's fast path maps them */
	CHECK_EQ(umm_host_detach(mm, base), 0);
	REQUIRE(umm_munmap(mm, a, n * P) == 0);
	{
		struct umm_object *obj;
		size_t m = 128;
		uintptr_t b;

		REQUIRE(umm_object_create_shmem(sys, m * P, &obj) == 0);
		REQUIRE(umm_mmap(mm, 0x40000000, m * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, obj, 0,
				 &b) == 0);
		umm_object_put(obj);
		REQUIRE(umm_host_attach(mm, b, m * P, UMM_HOST_POPULATE_AROUND, (void **)&base) == 0);
		s0 = hst();
		for (size_t i = 0; i < m; i++)
			base[i * P + 9] = (char)(i + 3);
		s1 = hst();
		CHECK_EQ(slow_faults(s1) - slow_faults(s0), 4);
		CHECK_EQ(s1.pages_mapped - s0.pages_mapped, m);
		for (size_t i = 0; i < m; i++) {
			unsigned char c;

			REQUIRE(umm_read(mm, b + i * P + 9, &c, 1) == 0);
			CHECK_EQ(c, (unsigned char)(i + 3));
		}
		CHECK_EQ(umm_host_detach(mm, base), 0);
	}
	teardown();
}

/*
 * Write-notify in the handler: a store to a clean page of a shared file
 * mapping (mapped read-only on the host after a load) is resolved by the
 * handler's fast path itself: write_notify moves, no fault thread and no
 * inline fault path runs, the host page is made writable in place (no new
 * mapping), the page is dirty in the page cache and msync
 * writes it; after the writeback the page is clean and the next store is
 * resolved the same way.  A store to a read-only shared mapping or a
 * private one is not write-notify: refused, or copied.
 */
static void test_write_notify(void)
{
	size_t len = 8 * P;
	int fd = test_tmpfile(len, fpat);
	struct umm_object *obj;
	struct umm_host_stats s0, s1;
	struct page *page;
	uintptr_t a, ro, priv;
	char *base, *rob, *pb, c;

	setup();
	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	REQUIRE(umm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &a) == 0);
	REQUIRE(umm_mmap(mm, 0, len, PROT_READ, MAP_SHARED, obj, 0, &ro) == 0);
	REQUIRE(umm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, obj, 0, &priv) == 0);
	REQUIRE(umm_host_attach(mm, a, len, UMM_HOST_NO_FAULT_AROUND, (void **)&base) == 0);
	REQUIRE(umm_host_attach(mm, ro, len, UMM_HOST_NO_FAULT_AROUND, (void **)&rob) == 0);
	REQUIRE(umm_host_attach(mm, priv, len, UMM_HOST_NO_FAULT_AROUND, (void **)&pb) == 0);
	for (int round = 0; round < 2; round++) {
		/* a load: mapped read-only, clean */
		CHECK_EQ((unsigned char)base[2 * P + 7], round ? 'A' : fpat(2 * P + 7));
		page = find_get_page(obj, 2);
		REQUIRE(page != NULL);
		CHECK(!PageDirty(page));
		s0 = hst();
		base[2 * P + 7] = (char)('A' + round);
		s1 = hst();
		CHECK_EQ(s1.write_notify - s0.write_notify, 1);
		CHECK_EQ(s1.handler_faults - s0.handler_faults, 1);
		CHECK_EQ(s1.write_faults - s0.write_faults, 1);
		CHECK_EQ(slow_faults(s1) - slow_faults(s0), 0);
		/* made writable in place: no new host mapping */
		CHECK_EQ(s1.write_upgrades - s0.write_upgrades, 1);
		CHECK_EQ(s1.runs_mapped, s0.runs_mapped);
		CHECK(PageDirty(page));
		base[2 * P + 8] = (char)('a' + round);         /* writable now: no fault */
		CHECK_EQ(hst().faults, s1.faults);
		REQUIRE(umm_msync(mm, a, len, MS_SYNC) == 0);
		CHECK(!PageDirty(page));
		put_page(page);
		{
			char b[2];

			REQUIRE(pread(fd, b, 2, 2 * P + 7) == 2);
			CHECK(b[0] == 'A' + round && b[1] == 'a' + round);
		}
	}
	/* a read-only shared mapping of the same page: the store is refused */
	s0 = hst();
	CHECK(try_load(rob + 2 * P, &c));
	CHECK(!try_store(rob + 2 * P, 'R'));
	s1 = hst();
	CHECK_EQ(s1.write_notify, s0.write_notify);
	CHECK_EQ(s1.refused - s0.refused, 1);
	/* a private mapping: the store copies, the file keeps its byte */
	CHECK_EQ(pb[3 * P], (char)fpat(3 * P));
	pb[3 * P] = 'P';
	CHECK_EQ(hst().write_notify, s1.write_notify);
	REQUIRE(umm_msync(mm, priv, len, MS_SYNC) == 0);
	REQUIRE(pread(fd, &c, 1, 3 * P) == 1);
	CHECK_EQ((unsigned char)c, fpat(3 * P));
	CHECK_EQ(umm_host_detach(mm, pb), 0);
	CHECK_EQ(umm_host_detach(mm, rob), 0);
	CHECK_EQ(umm_host_detach(mm, base), 0);
	umm_object_put(obj);
	teardown();
	close(fd);
}

/*
 * Write-notify around: in a shared file mapping with fault-around, the
 * first stores to the clean pages of an aligned 64-page block are each a
 * write-notify fault; once 16 other pages of the block are dirty, the
 * next one also makes its clean neighbours whose frames follow its own
 * writable and dirty (write_around), and stores to them take no fault.
 * msync writes every page, those never stored to with their old bytes.
 * Not with UMM_HOST_NO_FAULT_AROUND.
 */
static void test_write_around(void)
{
	size_t len = 128 * P, nblk = 64;
	int fd = test_tmpfile(len, fpat);
	struct umm_object *obj;
	struct umm_host_stats s0, s1;
	struct umm_page *pages[64];
	uintptr_t a, blk;
	size_t expect = 0, off;
	char *base, *b;

	setup();
	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	REQUIRE(umm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &a) == 0);
	REQUIRE(umm_host_attach(mm, a, len, 0, (void **)&base) == 0);
	blk = (a + nblk * P - 1) & ~(nblk * P - 1);     /* an aligned block inside the mapping */
	off = blk - a;
	b = base + off;
	for (size_t i = 0; i < nblk; i++)
		CHECK_EQ((unsigned char)b[i * P + 3], fpat(off + i * P + 3));   /* loads: mapped clean */
	/* the pages after page 16 whose frames follow its frame */
	REQUIRE(umm_pin_pages(mm, blk, nblk, 0, pages) == (long)nblk);
	for (size_t i = 17; i < nblk; i++, expect++)
		if ((char *)umm_page_address(pages[i]) != (char *)umm_page_address(pages[16]) + (i - 16) * P)
			break;
	umm_unpin_pages(pages, nblk, 0);
	CHECK(expect > 0);       /* a read-around block's frames follow each other */
	s0 = hst();
	for (size_t i = 0; i < 16; i++)
		b[i * P + 5] = 'w';
	s1 = hst();
	CHECK_EQ(s1.write_notify - s0.write_notify, 16);
	CHECK_EQ(s1.write_around, s0.write_around);
	b[16 * P + 5] = 'x';
	s0 = hst();
	CHECK_EQ(s0.write_notify - s1.write_notify, 1);
	CHECK_EQ(s0.write_around - s1.write_around, expect);
	for (size_t i = 17; i < 17 + expect; i++) {
		struct page *pg = find_get_page(obj, (off >> 12) + i);

		REQUIRE(pg != NULL);
		CHECK(PageDirty(pg));
		put_page(pg);
		b[i * P + 5] = 'y';                      /* writable already: no fault */
	}
	CHECK_EQ(hst().faults, s0.faults);
	REQUIRE(umm_msync(mm, a, len, MS_SYNC) == 0);
	{
		unsigned char *f = malloc(len);
		bool ok;

		REQUIRE(f);
		ok = pread(fd, f, len, 0) == (ssize_t)len;
		for (size_t i = 0; ok && i < len; i++) {
			size_t pg = i / P;
			unsigned char want = fpat(i);

			if (i >= off && pg < (off / P) + 17 + expect && i % P == 5)
				want = pg - off / P < 16 ? 'w' : pg - off / P == 16 ? 'x' : 'y';
			ok = f[i] == want;
		}
		CHECK(ok);
		free(f);
	}
	CHECK_EQ(umm_host_detach(mm, base), 0);

	/* without fault-around, each store is its own write-notify */
	REQUIRE(umm_host_attach(mm, a, len, UMM_HOST_NO_FAULT_AROUND, (void **)&base) == 0);
	b = base + off;
	for (size_t i = 0; i < nblk; i++)
		CHECK_EQ((unsigned char)b[i * P + 6], fpat(off + i * P + 6));
	s0 = hst();
	for (size_t i = 0; i < 24; i++)
		b[i * P + 6] = 'n';
	s1 = hst();
	CHECK_EQ(s1.write_notify - s0.write_notify, 24);
	CHECK_EQ(s1.write_around, s0.write_around);
	CHECK_EQ(umm_host_detach(mm, base), 0);
	umm_object_put(obj);
	teardown();
	close(fd);
}

/*
 * Several threads store into clean shared file pages (each its own pages,
 * a counter per page) while the main thread writes the file back with
 * msync (which write-protects the pages: the next stores are write-notify
 * faults again) and replaces the mapping with an identical one (mmap
 * MAP_FIXED of the same file: an unmap and a map under one mmap_lock).
 * Every page ends dirty or written, and the file holds each page's last
 * counter after a final msync.
 */
#define WN_THREADS 3
#define WN_PAGES   24
static char *wn_base;
static unsigned wn_iters;
static _Atomic unsigned wn_running;

static void *wn_worker(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;

	for (unsigned it = 1; it <= wn_iters; it++)
		for (size_t i = id; i < WN_PAGES; i += WN_THREADS) {
			volatile unsigned *p = (volatile unsigned *)(wn_base + i * P + 64);

			TCHECK(*p == it - 1);
			*p = it;
		}
	atomic_fetch_sub(&wn_running, 1);
	return NULL;
}

static void test_write_notify_race(void)
{
	size_t len = WN_PAGES * P;
	int fd = test_tmpfile(len, fpat);
	struct umm_object *obj;
	struct umm_host_stats s0, s1;
	pthread_t t[WN_THREADS];
	uintptr_t a, b;

	wn_iters = UNDER_TSAN ? 50 : 300;
	setup();
	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	REQUIRE(umm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &a) == 0);
	for (size_t i = 0; i < WN_PAGES; i++) {
		unsigned zero = 0;

		REQUIRE(umm_write(mm, a + i * P + 64, &zero, sizeof(zero)) == 0);
	}
	REQUIRE(umm_msync(mm, a, len, MS_SYNC) == 0);   /* every page clean */
	REQUIRE(umm_host_attach(mm, a, len, 0, (void **)&wn_base) == 0);
	s0 = hst();
	atomic_store(&wn_running, WN_THREADS);
	for (unsigned i = 0; i < WN_THREADS; i++)
		REQUIRE(pthread_create(&t[i], NULL, wn_worker, (void *)(uintptr_t)i) == 0);
	for (unsigned n = 0; atomic_load(&wn_running); n++) {
		REQUIRE(umm_msync(mm, a, len, MS_SYNC) == 0);
		if (n % 4 == 3)
			REQUIRE(umm_mmap(mm, a, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, obj, 0,
					 &b) == 0 && b == a);
		sched_yield();
	}
	for (unsigned i = 0; i < WN_THREADS; i++)
		pthread_join(t[i], NULL);
	test_fold_thread_checks();
	s1 = hst();
	/*
	 * Each page was made writable at least once: by its own write fault,
	 * or by write-notify around (a store beside 16 dirty pages of its
	 * 64-page block upgrades its clean neighbours too; when the workers
	 * finish before the first msync, only about 17 pages fault).
	 */
	CHECK(s1.write_faults - s0.write_faults + s1.write_around - s0.write_around >= WN_PAGES);
	CHECK_EQ(s1.refused, s0.refused);
	REQUIRE(umm_msync(mm, a, len, MS_SYNC) == 0);
	for (size_t i = 0; i < WN_PAGES; i++) {
		unsigned v;

		REQUIRE(pread(fd, &v, sizeof(v), (off_t)(i * P + 64)) == (ssize_t)sizeof(v));
		CHECK_EQ(v, wn_iters);
	}
	CHECK_EQ(umm_host_detach(mm, wn_base), 0);
	umm_object_put(obj);
	teardown();
	close(fd);
}

/*
 * A fault the fast path cannot serve because a lock is busy: the main
 * thread holds the pte table's lock of a clean shared page while a worker
 * stores to it.  The fast path's trylock fails; the fault runs the fault
 * path on the worker itself (inline_faults), which waits for the lock
 * (seen as the lock's sleeping state) and then dirties the page; with
 * host_mmu_no_inline a fault thread resolves it instead.  A fault that
 * needs a new page (a store to private anonymous memory) runs inline too.
 */
static char *tf_p;

static void *tf_worker(void *arg)
{
	(void)arg;
	*tf_p = 'T';
	return NULL;
}

static void trylock_fallback_run(bool inline_ok)
{
	size_t len = 4 * P;
	int fd = test_tmpfile(len, fpat);
	struct umm_object *obj;
	struct umm_host_stats s0, s1;
	struct fmutex *ptl;
	pthread_t t;
	pte_t *ptep;
	uintptr_t a, an;
	char *base, *ab, c;

	host_mmu_no_inline = !inline_ok;
	setup();
	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	REQUIRE(umm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &a) == 0);
	umm_object_put(obj);
	REQUIRE(umm_host_attach(mm, a, len, UMM_HOST_NO_FAULT_AROUND, (void **)&base) == 0);
	CHECK_EQ((unsigned char)base[P + 1], fpat(P + 1));      /* mapped read-only, clean */
	tf_p = base + P + 1;
	s0 = hst();
	mmap_read_lock(mm);
	ptep = pte_offset_map_lock(mm, a + P, &ptl);
	REQUIRE(ptep != NULL);
	REQUIRE(pthread_create(&t, NULL, tf_worker, NULL) == 0);
	/* the worker (or its fault thread) sleeps on the pte table's lock */
	while (atomic_load(&ptl->state) != 2)
		sched_yield();
	pte_unmap_unlock(ptep, ptl);
	mmap_read_unlock(mm);
	pthread_join(t, NULL);
	s1 = hst();
	CHECK_EQ(s1.faults - s0.faults, 1);
	CHECK_EQ(s1.write_faults - s0.write_faults, 1);
	CHECK_EQ(s1.write_notify, s0.write_notify);
	CHECK_EQ(s1.inline_faults - s0.inline_faults, inline_ok ? 1 : 0);
	CHECK_EQ(s1.handler_faults - s0.handler_faults, inline_ok ? 1 : 0);
	REQUIRE(umm_msync(mm, a, len, MS_SYNC) == 0);
	REQUIRE(pread(fd, &c, 1, P + 1) == 1);
	CHECK_EQ(c, 'T');
	/* a store that needs a new page */
	an = anon(P);
	REQUIRE(umm_host_attach(mm, an, P, 0, (void **)&ab) == 0);
	s0 = hst();
	ab[9] = 'N';
	s1 = hst();
	CHECK_EQ(s1.inline_faults - s0.inline_faults, inline_ok ? 1 : 0);
	CHECK_EQ(slow_faults(s1) - slow_faults(s0), 1);
	REQUIRE(umm_read(mm, an + 9, &c, 1) == 0);
	CHECK_EQ(c, 'N');
	CHECK_EQ(umm_host_detach(mm, ab), 0);
	CHECK_EQ(umm_host_detach(mm, base), 0);
	teardown();
	host_mmu_no_inline = false;
	close(fd);
}

static void test_trylock_fallback(void)
{
	trylock_fallback_run(true);
	trylock_fallback_run(false);
}

/*
 * On an alternate signal stack with less room than the fault path needs
 * the fault is handed to a fault thread; with room enough it runs inline.
 * Either way the thread's signal mask and cancellability are unchanged
 * after the fault.
 */
static void altstack_run(size_t size, bool expect_inline)
{
	stack_t ss, old;
	struct umm_host_stats s0, s1;
	sigset_t m0, m1;
	uintptr_t an;
	char *ab, c;
	int cs;

	ss.ss_sp = malloc(size);
	REQUIRE(ss.ss_sp != NULL);
	ss.ss_size = size;
	ss.ss_flags = 0;
	REQUIRE(sigaltstack(&ss, &old) == 0);
	setup();
	an = anon(P);
	REQUIRE(umm_host_attach(mm, an, P, 0, (void **)&ab) == 0);
	REQUIRE(pthread_sigmask(SIG_BLOCK, NULL, &m0) == 0);
	s0 = hst();
	ab[5] = 'S';
	s1 = hst();
	/* the fault path ran with the asynchronous signals blocked and
	   cancellation off; both are as they were afterwards */
	REQUIRE(pthread_sigmask(SIG_BLOCK, NULL, &m1) == 0);
	CHECK(!sigismember(&m1, SIGUSR1) && !sigismember(&m1, SIGALRM) && !sigismember(&m1, SIGTERM));
	for (int sig = 1; sig < NSIG; sig++)
		CHECK_EQ(sigismember(&m1, sig), sigismember(&m0, sig));
	REQUIRE(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &cs) == 0);
	CHECK_EQ(cs, PTHREAD_CANCEL_ENABLE);
	CHECK_EQ(s1.inline_faults - s0.inline_faults, expect_inline ? 1 : 0);
	CHECK_EQ(slow_faults(s1) - slow_faults(s0), 1);
	REQUIRE(umm_read(mm, an + 5, &c, 1) == 0);
	CHECK_EQ(c, 'S');
	CHECK_EQ(umm_host_detach(mm, ab), 0);
	teardown();
	REQUIRE(sigaltstack(&old, NULL) == 0);
	free(ss.ss_sp);
}

static void test_inline_altstack(void)
{
	altstack_run(16 << 10, false);
	altstack_run(1 << 20, true);
}

int main(void)
{
	install_test_handler();
	RUN(test_bad_input);
	RUN(test_attach_past_max_regions);
	RUN(test_translate_bad_args);
	RUN(test_anon);
	RUN(test_shared_file);
	RUN(test_private_file);
	RUN(test_sigbus_past_eof);
	RUN(test_exec_refused);
	RUN(test_no_fault_code);
	RUN(test_shmem);
	RUN(test_remap_mremap);
	RUN(test_fork_cow);
	RUN(test_mprotect_munmap);
	RUN(test_outside_fault);
	RUN(test_fault_around);
	RUN(test_prefault_syscalls);
	RUN(test_soft_mmu_host_buffer);
	RUN(test_threads);
	RUN(test_map_limit);
	RUN(test_destroy_attached);
	RUN(test_aging);
	RUN(test_reclaim_pointers);
	RUN(test_invalidate_race);
	RUN(test_fork_race);
	RUN(test_host_fork);
	RUN(test_fast_path);
	RUN(test_fast_path_refused);
	RUN(test_populate_around_runs);
	RUN(test_write_notify);
	RUN(test_write_around);
	RUN(test_write_notify_race);
	RUN(test_trylock_fallback);
	RUN(test_inline_altstack);
	return test_summary("test_host_mmu");
}
