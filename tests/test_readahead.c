/* SPDX-License-Identifier: MIT */
/*
 * test_readahead.c - readahead and asynchronous reads, through both I/O
 * backends (io_uring when the build and the kernel allow it, and the
 * thread pool): backend choice and bad configs, the fallback when the
 * kernel refuses io_uring (seccomp), sequential faults that
 * grow the window and then take no major fault, random access and
 * MADV_RANDOM without readahead, MADV_SEQUENTIAL's full window,
 * MADV_WILLNEED then faults without major faults,
 * hits and waste counted, several threads waiting on one page under I/O
 * (one read; all get -EIO when it fails), injected read errors during
 * readahead (the access sees -EIO only when the page cannot be read,
 * nothing leaks), asynchronous prepage (returns before the reads, waits,
 * errors, the mm destroyed with reads in flight), reads whose submitting
 * thread exits before they complete (not errors).
 *
 * Every test ends by putting the object and destroying the mm and checks
 * that the page cache is empty and every frame is free again.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "test.h"
#include "io.h"
#include "readahead.h"
#include "filemap.h"

#define P UMM_PAGE_SIZE
#define RA_MAX_PAGES 16            /* the tests' readahead_max_bytes, in pages */

static struct umm_system *sys;
static struct umm_mm *mm;
static struct umm_object *obj;
static int backend;                /* the one the current round asks for */
static unsigned long frames_free0;
static unsigned long frames_used_idle;   /* with no mm and no object: zero page, slabs */

static unsigned char fpat(size_t i)
{
	return (unsigned char)(i * 13 + (i >> 12) * 3 + 7);
}

static int sys_create_backend(int which, size_t ra_max, struct umm_system **out)
{
	struct umm_config cfg = {
		.phys_bytes = 32 << 20,
		.io_backend = which,
		.readahead_max_bytes = ra_max,
	};

	return umm_system_create(&cfg, out);
}

static struct umm_sys_stats stats(void)
{
	struct umm_sys_stats st;

	REQUIRE(umm_system_stats(sys, &st) == 0);
	return st;
}

static struct umm_mm_stats mm_stats(void)
{
	struct umm_mm_stats st;

	REQUIRE(umm_mm_stats(mm, &st) == 0);
	return st;
}

/* A system of the round's backend, an mm, and a file object of @pages pages mapped at *addr. */
static void setup(size_t pages, uintptr_t *addr)
{
	int fd = test_tmpfile(pages * P, fpat);

	REQUIRE(sys_create_backend(backend, RA_MAX_PAGES * P, &sys) == 0);
	REQUIRE(umm_mm_create(sys, &mm) == 0);     /* an mm and a vma made and gone: */
	REQUIRE(umm_mmap(mm, 0, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, addr) == 0);
	umm_mm_destroy(mm);                         /* the slabs as they stay */
	frames_used_idle = stats().total_frames - stats().free_frames - stats().slab_pages;
	REQUIRE(umm_mm_create(sys, &mm) == 0);
	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	close(fd);
	/* evict the file from the host cache: our reads must really read */
	posix_fadvise(obj->fd, 0, 0, POSIX_FADV_DONTNEED);
	REQUIRE(umm_mmap(mm, 0, pages * P, PROT_READ, MAP_SHARED, obj, 0, addr) == 0);
	frames_free0 = stats().free_frames;
}

static void teardown(void)
{
	struct umm_sys_stats st;

	io_backend_drain(sys);
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(mm);
	umm_object_put(obj);
	st = stats();
	CHECK_EQ(st.pagecache_pages, 0);
	CHECK_EQ(st.nr_objects, 0);
	CHECK(st.free_frames >= frames_free0);
	CHECK_EQ(st.anon_pages, 0);
	CHECK_EQ(st.pgtable_pages, 0);
	/* every frame back (slab caches may keep empty slabs: the pte-chain cache) */
	CHECK_EQ(st.total_frames - st.free_frames - st.slab_pages, frames_used_idle);
	umm_system_destroy(sys);
	sys = NULL;
	mm = NULL;
	obj = NULL;
}

/* Read page @i through the mapping and check its first and last bytes. */
static int touch(uintptr_t addr, size_t i)
{
	unsigned char b[2];
	int err;

	err = umm_read(mm, addr + i * P, &b[0], 1);
	if (err)
		return err;
	err = umm_read(mm, addr + i * P + P - 1, &b[1], 1);
	if (err)
		return err;
	CHECK_EQ(b[0], fpat(i * P));
	CHECK_EQ(b[1], fpat(i * P + P - 1));
	return 0;
}

static void test_backend_choice(void)
{
	struct umm_system *s;
	struct umm_sys_stats st;
	struct umm_config bad = { .io_backend = 7 };

	REQUIRE(sys_create_backend(UMM_IO_THREADS, 0, &s) == 0);
	REQUIRE(umm_system_stats(s, &st) == 0);
	CHECK_EQ(st.io_backend, UMM_IO_THREADS);
	umm_system_destroy(s);

	REQUIRE(sys_create_backend(UMM_IO_DEFAULT, 0, &s) == 0);
	REQUIRE(umm_system_stats(s, &st) == 0);
	CHECK(st.io_backend == UMM_IO_URING || st.io_backend == UMM_IO_THREADS);
	umm_system_destroy(s);

	/* the environment variable picks the default */
	setenv("UMM_IO_BACKEND", "threads", 1);
	REQUIRE(sys_create_backend(UMM_IO_DEFAULT, 0, &s) == 0);
	REQUIRE(umm_system_stats(s, &st) == 0);
	CHECK_EQ(st.io_backend, UMM_IO_THREADS);
	umm_system_destroy(s);
	unsetenv("UMM_IO_BACKEND");

	CHECK_EQ(umm_system_create(&bad, &s), -EINVAL);
	CHECK_EQ(sys_create_backend(-1, 0, &s), -EINVAL);
	CHECK_EQ(sys_create_backend(UMM_IO_THREADS, 100, &s), -EINVAL);
	CHECK_EQ(sys_create_backend(UMM_IO_THREADS, 32 << 20, &s), -EINVAL);
}

/*
 * io_uring refused at run time (a seccomp filter makes io_uring_setup fail
 * with ENOSYS, as an old kernel would): the default is the thread pool,
 * which still reads ahead; asking for io_uring is -EOPNOTSUPP.  In a
 * child process (this program run again), so the filter does not outlive
 * the test.
 */
static int fallback_child(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
	struct umm_sys_stats st;
	struct umm_system *s;
	struct umm_object *o;
	struct umm_mm *m;
	int fd = test_tmpfile(64 * P, fpat);
	uintptr_t a;
	unsigned char b = 0;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		return 2;
	if (sys_create_backend(UMM_IO_URING, 0, &s) != -EOPNOTSUPP)
		return 3;
	if (sys_create_backend(UMM_IO_DEFAULT, 0, &s) || umm_system_stats(s, &st) ||
	    st.io_backend != UMM_IO_THREADS)
		return 4;
	if (umm_mm_create(s, &m) || umm_object_open_fd(s, fd, &o) ||
	    umm_mmap(m, 0, 64 * P, PROT_READ, MAP_SHARED, o, 0, &a))
		return 5;
	for (size_t i = 0; i < 64; i++)
		if (umm_read(m, a + i * P, &b, 1) || b != fpat(i * P))
			return 6;
	if (umm_system_stats(s, &st) || st.ra_pages == 0)
		return 7;
	umm_mm_destroy(m);
	umm_object_put(o);
	umm_system_destroy(s);
	return 0;
}

static void test_backend_fallback(void)
{
	pid_t pid = fork();
	int status;

	REQUIRE(pid >= 0);
	if (pid == 0) {
		/* a fresh image: nothing of this process's threads or locks carries over */
		execl("/proc/self/exe", "test_readahead", "fallback-child", (char *)NULL);
		_exit(127);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
}

/*
 * Sequential faults: page 0 is a random miss (major), page 1 a second
 * consecutive miss that starts a window (major); from then on every page
 * was read ahead, so no more major faults, and the windows grow to the
 * maximum.
 */
static void test_sequential(void)
{
	const size_t pages = 256;
	struct umm_sys_stats st;
	struct umm_mm_stats ms;
	uintptr_t a;

	setup(pages, &a);
	for (size_t i = 0; i < pages; i++)
		CHECK_EQ(touch(a, i), 0);
	ms = mm_stats();
	/* page 0 reads its block, whose last quarter starts the stream: one wait in all */
	CHECK_EQ(ms.major_faults, 1);
	CHECK_EQ(ms.minor_faults, pages - 1);
	st = stats();
	CHECK_EQ(st.ra_pages, pages - 1);
	CHECK_EQ(st.ra_hits, pages - 1);
	CHECK_EQ(st.ra_wasted, 0);
	CHECK_EQ(st.io_errors, 0);
	CHECK_EQ(st.io_pages, pages);                /* page 0 in its block's request */
	CHECK_EQ(st.io_hist[4], pages / RA_MAX_PAGES); /* full 16-page windows only */
	CHECK_EQ(st.io_hist[5] + st.io_hist[6] + st.io_hist[7], 0);
	teardown();
}

/* Pages read ahead and never used count as wasted when they leave the cache. */
static void test_wasted(void)
{
	struct umm_sys_stats st;
	uintptr_t a;

	setup(64, &a);
	for (size_t i = 0; i < 6; i++)
		CHECK_EQ(touch(a, i), 0);
	io_backend_drain(sys);
	st = stats();
	CHECK_EQ(st.ra_pages, RA_MAX_PAGES - 1);    /* page 0's block: no marker reached */
	CHECK_EQ(st.ra_hits, 5);
	CHECK_EQ(umm_munmap(mm, a, 64 * P), 0);
	CHECK_EQ(umm_object_truncate(obj, 0), 0);
	st = stats();
	CHECK_EQ(st.ra_wasted, st.ra_pages - st.ra_hits);
	teardown();
}

/*
 * Scattered accesses: each miss reads its aligned block (read-around) and
 * the later accesses to the block are hits; MADV_RANDOM (VM_RAND_READ)
 * reads no page ahead, even on a sequential scan.
 */
static void test_random(void)
{
	const size_t pages = 128;
	struct umm_sys_stats st;
	uintptr_t a;
	size_t n = 0;

	setup(pages, &a);
	for (size_t k = 0; k < pages; k += 2) {
		size_t i = (k * 37) % pages;      /* a permutation of the even pages' images */

		CHECK_EQ(touch(a, i), 0);
		n++;
	}
	st = stats();
	CHECK_EQ(mm_stats().major_faults, pages / RA_MAX_PAGES);     /* one per block */
	CHECK_EQ(mm_stats().minor_faults, n - pages / RA_MAX_PAGES);
	CHECK_EQ(st.io_requests, pages / RA_MAX_PAGES);
	CHECK_EQ(st.ra_pages, pages - pages / RA_MAX_PAGES);
	CHECK_EQ(st.ra_hits, n - pages / RA_MAX_PAGES);
	teardown();

	setup(pages, &a);
	REQUIRE(umm_madvise(mm, a, pages * P, MADV_RANDOM) == 0);
	for (size_t i = 0; i < pages; i++)
		CHECK_EQ(touch(a, i), 0);
	st = stats();
	CHECK_EQ(st.ra_pages, 0);
	CHECK_EQ(st.io_requests, 0);
	CHECK_EQ(mm_stats().major_faults, pages);
	teardown();
}

/* Is page @index of obj cached? */
static bool cached(uint64_t index)
{
	struct page *page = find_get_page(obj, index);

	if (page)
		put_page(page);
	return page != NULL;
}

/*
 * Read-around: a miss in the middle of a file reads the aligned block of
 * RA_MAX_PAGES around it in one request, its frames following each other
 * in the arena (a fresh system has free blocks), and the rest of the block
 * is then hits, the last quarter starting the next window; MADV_RANDOM
 * reads just the page.
 */
static void test_read_around(void)
{
	const size_t pages = 128;
	struct umm_sys_stats st;
	struct page *first, *page;
	uintptr_t a;

	setup(pages, &a);
	CHECK_EQ(touch(a, 37), 0);
	st = stats();
	CHECK_EQ(mm_stats().major_faults, 1);
	CHECK_EQ(st.io_requests, 1);
	CHECK_EQ(st.io_pages, RA_MAX_PAGES);
	CHECK_EQ(st.io_hist[4], 1);
	CHECK_EQ(st.ra_pages, RA_MAX_PAGES - 1);
	CHECK_EQ(umm_object_cached_pages(obj), RA_MAX_PAGES);
	for (uint64_t i = 0; i < pages; i++)
		CHECK_EQ(cached(i), i >= 32 && i < 48);
	first = find_get_page(obj, 32);
	REQUIRE(first);
	for (uint64_t i = 33; i < 48; i++) {
		page = find_get_page(obj, i);
		REQUIRE(page);
		CHECK_EQ(page_to_pfn(page), page_to_pfn(first) + (i - 32));
		put_page(page);
	}
	put_page(first);
	for (size_t i = 32; i < 44; i++)
		CHECK_EQ(touch(a, i), 0);
	CHECK_EQ(mm_stats().major_faults, 1);
	CHECK_EQ(stats().ra_hits, 11);
	CHECK_EQ(stats().io_requests, 1);
	/* the block's last quarter is its marker: a reader going through it reads on */
	CHECK_EQ(touch(a, 44), 0);
	io_backend_drain(sys);
	CHECK_EQ(stats().io_requests, 2);
	for (uint64_t i = 48; i < 64; i++)
		CHECK(cached(i));
	CHECK_EQ(umm_object_cached_pages(obj), 2 * RA_MAX_PAGES);
	for (size_t i = 45; i < 64; i++)
		CHECK_EQ(touch(a, i), 0);
	CHECK_EQ(mm_stats().major_faults, 1);
	teardown();

	setup(pages, &a);
	REQUIRE(umm_madvise(mm, a, pages * P, MADV_RANDOM) == 0);
	CHECK_EQ(touch(a, 37), 0);
	CHECK_EQ(umm_object_cached_pages(obj), 1);
	CHECK_EQ(stats().io_requests, 0);
	CHECK_EQ(stats().ra_pages, 0);
	teardown();
}

/*
 * The block is clipped to the pages the vma maps (a mapping that starts or
 * ends inside it) and to the end of the file (nothing read past it).
 */
static void test_read_around_clipped(void)
{
	struct umm_object *o;
	uintptr_t a, b;
	int fd;

	/* vma of file pages [40, 100): a miss at 41 reads [40, 48) */
	setup(128, &a);
	REQUIRE(umm_mmap(mm, 0, 60 * P, PROT_READ, MAP_SHARED, obj, 40 * P, &b) == 0);
	CHECK_EQ(touch(b - 40 * P, 41), 0);
	CHECK_EQ(umm_object_cached_pages(obj), 8);
	for (uint64_t i = 32; i < 48; i++)
		CHECK_EQ(cached(i), i >= 40);
	CHECK_EQ(stats().io_requests, 1);
	/* vma of file pages [64, 70): a miss at 69 reads [64, 70) */
	REQUIRE(umm_mmap(mm, 0, 6 * P, PROT_READ, MAP_SHARED, obj, 64 * P, &b) == 0);
	CHECK_EQ(touch(b - 64 * P, 69), 0);
	CHECK_EQ(umm_object_cached_pages(obj), 8 + 6);
	for (uint64_t i = 64; i < 80; i++)
		CHECK_EQ(cached(i), i < 70);
	teardown();

	/* a file of 35 pages and 100 bytes, mapped over 48 pages: a miss at 33 reads [32, 36) */
	fd = test_tmpfile(35 * P + 100, fpat);
	REQUIRE(sys_create_backend(backend, RA_MAX_PAGES * P, &sys) == 0);
	REQUIRE(umm_mm_create(sys, &mm) == 0);
	REQUIRE(umm_object_open_fd(sys, fd, &o) == 0);
	close(fd);
	obj = o;
	REQUIRE(umm_mmap(mm, 0, 48 * P, PROT_READ, MAP_SHARED, obj, 0, &a) == 0);
	CHECK_EQ(touch(a, 33), 0);
	CHECK_EQ(umm_object_cached_pages(obj), 4);
	CHECK_EQ(stats().io_pages, 4);
	CHECK_EQ(stats().io_requests, 1);
	CHECK_EQ(stats().ra_pages, 3);
	{
		unsigned char c;

		CHECK_EQ(umm_read(mm, a + 35 * P + 99, &c, 1), 0);
		CHECK_EQ(c, fpat(35 * P + 99));
		CHECK_EQ(umm_read(mm, a + 35 * P + 100, &c, 1), 0);   /* the page's tail past EOF */
		CHECK_EQ(c, 0);
		CHECK_EQ(umm_read(mm, a + 36 * P, &c, 1), -EIO);      /* wholly past EOF */
	}
	CHECK_EQ(umm_object_cached_pages(obj), 4);
	CHECK_EQ(mm_stats().major_faults, 1);
	umm_mm_destroy(mm);
	umm_object_put(obj);
	umm_system_destroy(sys);
	sys = NULL;
	mm = NULL;
	obj = NULL;
}

/*
 * Fault-around (populate without I/O: MAP_POPULATE | MAP_NONBLOCK here, the
 * host MMU's populate-around in use) that maps a stream's marker page
 * starts the stream's next window, as a fault on it would; mapping the
 * marker of a read-around block starts nothing.
 */
static void test_fault_around_marker(void)
{
	const size_t pages = 128;
	uintptr_t a, b;

	setup(pages, &a);
	CHECK_EQ(touch(a, 0), 0);                     /* read-around [0, 16), marker 12 */
	CHECK_EQ(touch(a, 16), 0);                    /* a miss just past it: window [16, 32) */
	io_backend_drain(sys);
	CHECK_EQ(umm_object_cached_pages(obj), 2 * RA_MAX_PAGES);
	CHECK_EQ(stats().io_requests, 2);
	/* maps what is cached, 12 and 17 (the window's marker) among them */
	REQUIRE(umm_mmap(mm, 0, pages * P, PROT_READ, MAP_SHARED | MAP_POPULATE | MAP_NONBLOCK,
			 obj, 0, &b) == 0);
	io_backend_drain(sys);
	CHECK_EQ(stats().io_requests, 3);             /* the next window, [32, 48) */
	CHECK_EQ(umm_object_cached_pages(obj), 3 * RA_MAX_PAGES);
	for (uint64_t i = 0; i < pages; i++)
		CHECK_EQ(cached(i), i < 3 * RA_MAX_PAGES);
	CHECK_EQ(stats().ra_hits, 2 * RA_MAX_PAGES - 2);   /* all but the two faulting pages */
	CHECK_EQ(mm_stats().major_faults, 2);
	teardown();
}

/*
 * Out of frames: a read-around fault whose page cannot be had fails with
 * -ENOMEM and leaves nothing cached (teardown counts the frames); when
 * only the block of contiguous frames cannot be had, the block is read
 * with frames taken one at a time.
 */
static void test_read_around_nomem(void)
{
	uintptr_t a;
	unsigned long hits;

	setup(64, &a);
	CHECK_EQ(touch(a, 0), 0);                     /* page tables, and [0, 16) cached */
	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_PAGE_ALLOC, 0, -1), 0);
	CHECK_EQ(touch(a, 37), -ENOMEM);
	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_PAGE_ALLOC, 0, 0), 0);
	CHECK_EQ(umm_object_cached_pages(obj), RA_MAX_PAGES);
	for (uint64_t i = RA_MAX_PAGES; i < 64; i++)
		CHECK(!cached(i));
	hits = umm_inject_hits(sys, UMM_INJECT_PAGE_ALLOC);
	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_PAGE_ALLOC, 0, 1), 0);   /* the block */
	CHECK_EQ(touch(a, 37), 0);
	CHECK_EQ(umm_inject_hits(sys, UMM_INJECT_PAGE_ALLOC), hits + 1);
	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_PAGE_ALLOC, 0, 0), 0);
	CHECK_EQ(umm_object_cached_pages(obj), 2 * RA_MAX_PAGES);
	for (uint64_t i = 32; i < 48; i++)
		CHECK(cached(i));
	for (size_t i = 32; i < 48; i++)
		CHECK_EQ(touch(a, i), 0);
	CHECK_EQ(mm_stats().major_faults, 2);
	teardown();
}

/* filemap_fault_page refuses an index outside the mapping's pages and NULL arguments, reading nothing. */
static void test_fault_page_bad_args(void)
{
	struct page *page = NULL;
	bool major = false;
	uintptr_t a;

	setup(64, &a);
	CHECK_EQ(filemap_fault_page(obj, 10, 0, 11, 20, &page, &major), -EINVAL);
	CHECK_EQ(filemap_fault_page(obj, 20, 0, 11, 20, &page, &major), -EINVAL);
	CHECK_EQ(filemap_fault_page(NULL, 10, 0, 0, 20, &page, &major), -EINVAL);
	CHECK_EQ(filemap_fault_page(obj, 10, 0, 0, 20, NULL, &major), -EINVAL);
	CHECK_EQ(filemap_fault_page(obj, 10, 0, 0, 20, &page, NULL), -EINVAL);
	CHECK(page == NULL);
	CHECK_EQ(umm_object_cached_pages(obj), 0);
	CHECK_EQ(stats().io_requests, 0);
	CHECK_EQ(filemap_fault_page(obj, 10, 0, 0, 20, &page, &major), 0);
	CHECK(page != NULL);
	CHECK(major);
	CHECK_EQ(umm_object_cached_pages(obj), RA_MAX_PAGES);
	put_page(page);
	teardown();
}

/* MADV_SEQUENTIAL (VM_SEQ_READ): the first fault already reads a full window. */
static void test_seq_hint(void)
{
	const size_t pages = 128;
	struct umm_sys_stats st;
	uintptr_t a;

	setup(pages, &a);
	REQUIRE(umm_madvise(mm, a, pages * P, MADV_SEQUENTIAL) == 0);
	CHECK_EQ(touch(a, 0), 0);
	CHECK_EQ(umm_object_cached_pages(obj), RA_MAX_PAGES);
	st = stats();
	CHECK_EQ(st.ra_pages, RA_MAX_PAGES - 1);
	CHECK_EQ(st.io_hist[4], 1);
	for (size_t i = 1; i < pages; i++)
		CHECK_EQ(touch(a, i), 0);
	CHECK_EQ(mm_stats().major_faults, 1);
	CHECK_EQ(stats().ra_hits, pages - 1);
	teardown();
}

/* MADV_WILLNEED queues the reads and returns; once they are done the faults are all minor. */
static void test_willneed(void)
{
	const size_t pages = 300;
	struct umm_sys_stats st;
	uintptr_t a;

	setup(pages, &a);
	CHECK_EQ(umm_madvise(mm, a, pages * P, MADV_WILLNEED), 0);
	CHECK_EQ(umm_object_cached_pages(obj), pages);                      /* queued: in the cache */
	CHECK_EQ(force_page_cache_readahead(obj, 10, 5), 0);                /* all cached already */
	CHECK_EQ(force_page_cache_readahead(obj, pages - 2, 100), 0);       /* clamped to the size */
	io_backend_drain(sys);
	for (size_t i = 0; i < pages; i++)
		CHECK_EQ(touch(a, i), 0);
	CHECK_EQ(mm_stats().major_faults, 0);
	st = stats();
	CHECK_EQ(st.ra_pages, pages);
	CHECK_EQ(st.ra_hits, pages);
	CHECK_EQ(st.io_requests, 10);              /* 9 x 32 + 12 pages */
	CHECK_EQ(st.io_hist[5], 9);
	CHECK_EQ(st.io_hist[3], 1);
	teardown();

	/* pages read ahead and then mapped by populate count as used, not wasted */
	setup(64, &a);
	CHECK_EQ(umm_madvise(mm, a, 64 * P, MADV_WILLNEED), 0);
	CHECK_EQ(umm_madvise(mm, a, 64 * P, MADV_POPULATE_READ), 0);
	CHECK_EQ(mm_stats().rss_file, 64);
	CHECK_EQ(umm_munmap(mm, a, 64 * P), 0);
	CHECK_EQ(umm_object_truncate(obj, 0), 0);
	st = stats();
	CHECK_EQ(st.ra_pages, 64);
	CHECK_EQ(st.ra_hits, 64);
	CHECK_EQ(st.ra_wasted, 0);
	teardown();
}

struct waiter {
	uintptr_t addr;
	size_t page;
	bool cut;                  /* the file is being truncated: zeros are right too */
	int err;
	pthread_t thread;
};

static void *waiter_thread(void *arg)
{
	struct waiter *w = arg;
	unsigned char b;

	w->err = umm_read(mm, w->addr + w->page * P, &b, 1);
	if (!w->err)
		TCHECK(b == fpat(w->page * P) || (w->cut && b == 0));
	return NULL;
}

/*
 * Several threads fault on pages whose read is held (plugged): they wait
 * for it and the page is read once.  With the read failing, all of them
 * get -EIO, and a later access reads the page again.
 */
static void test_waiters(void)
{
	enum { NT = 4 };
	struct waiter w[NT];
	struct umm_sys_stats st;
	struct page *page0;
	uintptr_t a;

	for (int fail = 0; fail < 2; fail++) {
		setup(32, &a);
		io_backend_plug(sys);
		CHECK_EQ(force_page_cache_readahead(obj, 0, 8), 8);
		if (fail)
			umm_inject_fault(sys, UMM_INJECT_READ, 0, 1);    /* the first page completed: page 0 */
		for (int t = 0; t < NT; t++) {
			w[t] = (struct waiter){ .addr = a, .page = 0 };
			REQUIRE(pthread_create(&w[t].thread, NULL, waiter_thread, &w[t]) == 0);
		}
		/*
		 * Unplug only once all of them sleep on the locked page: a waiter
		 * that came after the failed read's completion would read the
		 * page again itself and succeed.
		 */
		page0 = find_get_page(obj, 0);
		REQUIRE(page0 != NULL);
		while (page_lock_waiters(page0) < NT)
			usleep(1000);
		put_page(page0);
		io_backend_unplug(sys);
		for (int t = 0; t < NT; t++) {
			pthread_join(w[t].thread, NULL);
			CHECK_EQ(w[t].err, fail ? -EIO : 0);
		}
		test_fold_thread_checks();
		io_backend_drain(sys);   /* the completion may still be counting */
		st = stats();
		CHECK_EQ(st.io_requests, 1);
		CHECK_EQ(st.io_pages, 8);
		CHECK_EQ(st.io_errors, fail ? 1 : 0);
		CHECK_EQ(umm_inject_hits(sys, UMM_INJECT_READ), fail ? 1 : 0);
		CHECK_EQ(mm_stats().major_faults, 0);
		/* a later access reads it again */
		CHECK_EQ(touch(a, 0), 0);
		CHECK_EQ(mm_stats().major_faults, fail ? 1 : 0);
		teardown();
	}
}

static void *truncate_thread(void *arg)
{
	(void)arg;
	TCHECK(umm_object_truncate(obj, 0) == 0);
	return NULL;
}

/*
 * Truncation racing with reads in flight: truncate waits for the pages'
 * locks, a fault waiting on a page gets its data, or zeros (the read
 * ran after the file was cut, before the object's size dropped: as with a
 * synchronous read), or -EIO (the size dropped before the read
 * completed), and the cache ends empty.
 */
static void test_truncate_under_io(void)
{
	struct waiter w = { .page = 5, .cut = true };
	struct umm_sys_stats st;
	pthread_t t;
	uintptr_t a;

	setup(32, &a);
	w.addr = a;
	io_backend_plug(sys);
	CHECK_EQ(umm_madvise(mm, a, 32 * P, MADV_WILLNEED), 0);
	REQUIRE(pthread_create(&w.thread, NULL, waiter_thread, &w) == 0);
	REQUIRE(pthread_create(&t, NULL, truncate_thread, NULL) == 0);
	usleep(20000);           /* let both block on the locked pages (not required to pass) */
	io_backend_unplug(sys);
	pthread_join(t, NULL);
	pthread_join(w.thread, NULL);
	test_fold_thread_checks();
	CHECK(w.err == 0 || w.err == -EIO);
	io_backend_drain(sys);
	st = stats();
	CHECK_EQ(umm_object_cached_pages(obj), 0);
	/*
	 * every page read ahead accounted once (the waiter, finding its page
	 * truncated under the read, looks again and may start more readahead)
	 */
	CHECK(st.ra_pages >= 32);
	CHECK_EQ(st.ra_wasted + st.io_errors + st.ra_hits, st.ra_pages);
	teardown();
}

/*
 * A host fork() child uses a system created before the fork.  The
 * engine's threads are not in the child and its io_uring ring is the
 * parent's, so the child must read in its own thread (readahead included)
 * and never submit to the parent's ring.  The arena is shared memory, so
 * after the child has used the system the parent must not: the test runs
 * in a re-executed child process that forks a grandchild and then leaves
 * without touching the system again.
 */
static int fork_child(int which)
{
	const size_t pages = 128;
	struct umm_sys_stats st;
	uintptr_t a;
	pid_t pid;
	int status;

	backend = which;
	setup(pages, &a);
	if (touch(a, 0) || touch(a, 1) || touch(a, 2))  /* a window through the engine */
		return 2;
	io_backend_drain(sys);       /* reads in flight at the fork complete in this process only */
	pid = fork();
	if (pid < 0)
		return 3;
	if (pid == 0) {
		int bad = 0;

		for (size_t i = 3; i < pages; i++)
			bad |= touch(a, i) != 0;
		bad |= umm_system_stats(sys, &st) != 0 || st.ra_hits < pages / 2;
		_exit(bad || test_failures ? 4 : 0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 5;
	_exit(WEXITSTATUS(status));       /* the system is the grandchild's now: leave it */
}

static void test_host_fork(void)
{
	char arg[16];
	pid_t pid;
	int status;

	snprintf(arg, sizeof(arg), "%d", backend);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		execl("/proc/self/exe", "test_readahead", "fork-child", arg, (char *)NULL);
		_exit(127);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
}

/*
 * Read errors during readahead: with every read failing the access gets
 * -EIO; with a few failing, the failed pages leave the cache and the
 * accesses read them again; nothing leaks either way.
 */
static void test_read_errors(void)
{
	const size_t pages = 96;
	struct umm_sys_stats st;
	uintptr_t a;

	setup(pages, &a);
	REQUIRE(umm_madvise(mm, a, pages * P, MADV_SEQUENTIAL) == 0);
	umm_inject_fault(sys, UMM_INJECT_READ, 0, -1);
	CHECK_EQ(touch(a, 0), -EIO);
	CHECK_EQ(touch(a, 5), -EIO);
	io_backend_drain(sys);
	st = stats();
	CHECK(st.io_errors >= RA_MAX_PAGES);
	CHECK_EQ(st.pagecache_pages, 0);          /* failed pages never stay cached */
	CHECK_EQ(st.ra_wasted, 0);
	umm_inject_fault(sys, UMM_INJECT_READ, 0, 0);
	for (size_t i = 0; i < pages; i++)
		CHECK_EQ(touch(a, i), 0);
	teardown();

	setup(pages, &a);
	umm_inject_fault(sys, UMM_INJECT_READ, 10, 5);
	for (size_t i = 0, eio = 0; i < pages; i++) {
		int err = touch(a, i);

		while (err == -EIO && ++eio <= 5)   /* it needed a read that failed: retry */
			err = touch(a, i);
		CHECK_EQ(err, 0);
	}
	io_backend_drain(sys);
	st = stats();
	CHECK_EQ(umm_inject_hits(sys, UMM_INJECT_READ), 5);
	CHECK(st.io_errors <= 5);
	teardown();
}

/*
 * Asynchronous prepage: returns with the reads still held (plugged), maps
 * nothing; umm_prepage_wait returns once they are done and the touches
 * are all minor faults.  Overlapping, adjacent, unaligned and empty
 * extents; anonymous extents need no read; invalid tuples fail the call
 * with nothing queued.
 */
static void test_prepage_async(void)
{
	const size_t pages = 256;
	struct umm_sys_stats st;
	uintptr_t a, anon;
	size_t touched = 0;

	setup(pages, &a);
	REQUIRE(umm_mmap(mm, 0, 8 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 NULL, 0, &anon) == 0);
	struct umm_prepage_tuple v[] = {
		{ a + 10 * P, 4 * P },            /* pages 10-13 */
		{ a + 12 * P, 4 * P },            /* 12-15: overlaps */
		{ a + 16 * P, 2 * P },            /* 16-17: adjacent */
		{ a + 100 * P + 5, 3 * P },       /* 100-103: unaligned, touches four pages */
		{ a + 200 * P, 0 },               /* empty */
		{ anon, 8 * P },                  /* anonymous: no read */
	};
	const size_t want[][2] = { { 10, 18 }, { 100, 104 } };
	struct umm_prepage_tuple bad[] = { { a, P }, { a + pages * P, P } };

	CHECK_EQ(umm_prepage_wait(mm), 0);                         /* nothing started yet */
	CHECK_EQ(umm_prepage(mm, bad, 2, UMM_PREPAGE_ASYNC), -EFAULT);
	CHECK_EQ(umm_prepage_bad_index(), 1);
	CHECK_EQ(umm_object_cached_pages(obj), 0);                 /* nothing queued */
	CHECK_EQ(umm_prepage(mm, v, 1, UMM_PREPAGE_ASYNC | 0x100), -EINVAL);
	CHECK_EQ(umm_prepage_wait(NULL), -EINVAL);

	io_backend_plug(sys);
	CHECK_EQ(umm_prepage(mm, v, sizeof(v) / sizeof(v[0]), UMM_PREPAGE_ASYNC), 0);
	CHECK_EQ(umm_object_cached_pages(obj), 12);                /* in the cache, under I/O */
	st = stats();
	CHECK_EQ(st.io_requests, 2);
	CHECK_EQ(st.ra_pages, 12);
	CHECK_EQ(mm_stats().rss_file, 0);                          /* nothing mapped */
	CHECK_EQ(mm_stats().rss_anon, 0);
	io_backend_unplug(sys);
	CHECK_EQ(umm_prepage_wait(mm), 0);
	for (size_t r = 0; r < 2; r++)
		for (size_t i = want[r][0]; i < want[r][1]; i++, touched++)
			CHECK_EQ(touch(a, i), 0);
	CHECK_EQ(mm_stats().major_faults, 0);
	CHECK_EQ(mm_stats().minor_faults, touched);
	CHECK_EQ(stats().ra_hits, 12);
	teardown();
}

/*
 * Read errors in asynchronous prepage reach umm_prepage_wait (once) and,
 * when the page cannot be read at all, the access; nothing leaks, also
 * when the mm goes away with reads in flight.
 */
static void test_prepage_async_errors(void)
{
	struct umm_prepage_tuple v;
	uintptr_t a;

	setup(64, &a);
	v = (struct umm_prepage_tuple){ a, 8 * P };
	umm_inject_fault(sys, UMM_INJECT_READ, 0, -1);
	CHECK_EQ(umm_prepage(mm, &v, 1, UMM_PREPAGE_ASYNC), 0);
	CHECK_EQ(umm_prepage_wait(mm), -EIO);
	CHECK_EQ(umm_prepage_wait(mm), 0);                         /* reported once */
	CHECK_EQ(umm_object_cached_pages(obj), 0);                 /* failed pages left the cache */
	CHECK_EQ(stats().io_errors, 8);
	CHECK_EQ(touch(a, 3), -EIO);                               /* still failing: the access sees it */
	umm_inject_fault(sys, UMM_INJECT_READ, 2, 1);               /* the third read fails */
	v = (struct umm_prepage_tuple){ a + 8 * P, 8 * P };
	CHECK_EQ(umm_prepage(mm, &v, 1, UMM_PREPAGE_ASYNC), 0);
	CHECK_EQ(umm_prepage_wait(mm), -EIO);
	CHECK_EQ(umm_object_cached_pages(obj), 7);
	for (size_t i = 0; i < 16; i++)
		CHECK_EQ(touch(a, i), 0);                          /* read again where needed */
	teardown();

	setup(64, &a);
	v = (struct umm_prepage_tuple){ a, 64 * P };
	io_backend_plug(sys);
	CHECK_EQ(umm_prepage(mm, &v, 1, UMM_PREPAGE_ASYNC), 0);
	umm_mm_destroy(mm);                                         /* reads still held */
	mm = NULL;
	io_backend_unplug(sys);
	io_backend_drain(sys);
	CHECK_EQ(umm_object_cached_pages(obj), 64);
	teardown();
}

/*
 * Readahead leaves memory to the faults: a window is read only while it
 * fits above the low watermark, and a sequential reader's next window is
 * made room for by reclaim (reclaim_for) rather than skipped.  A reader
 * of a file twice the memory reads every page: reclaim evicts the pages
 * read before, and its faults rarely find a page absent.
 */
static void test_memory_pressure(void)
{
	struct umm_system *s;
	struct umm_config cfg = { .phys_bytes = 2 << 20, .io_backend = backend,
				  .readahead_max_bytes = RA_MAX_PAGES * P };
	struct umm_sys_stats st;
	struct umm_object *o;
	struct umm_mm *m;
	const size_t pages = 1024;                /* 4 MiB: twice the memory */
	int fd = test_tmpfile(pages * P, fpat);
	unsigned long ra = 0;
	uintptr_t a;
	unsigned char b;
	size_t i;
	int err = 0;

	REQUIRE(umm_system_create(&cfg, &s) == 0);
	REQUIRE(umm_mm_create(s, &m) == 0);
	REQUIRE(umm_object_open_fd(s, fd, &o) == 0);
	close(fd);
	REQUIRE(umm_mmap(m, 0, pages * P, PROT_READ, MAP_SHARED, o, 0, &a) == 0);
	for (i = 0; i < pages && !err; i++) {
		err = umm_read(m, a + i * P, &b, 1);
		REQUIRE(umm_system_stats(s, &st) == 0);
		if (st.ra_pages != ra)              /* a window was read: it fit above low */
			CHECK(st.free_frames + 8 >= st.wmark_low);
		ra = st.ra_pages;
		if (!err)
			CHECK_EQ(b, fpat(i * P));
	}
	CHECK_EQ(err, 0);
	CHECK_EQ(i, pages);
	CHECK(st.pgsteal > 0);                      /* room was made by evicting pages */
	CHECK(ra > 0);
	{
		struct umm_mm_stats ms;

		/*
		 * Each next window is read when the reader enters the one before,
		 * reclaim making room for it: few faults find their page absent
		 * (2-3 here; 45-48 when windows that did not fit were skipped).
		 */
		REQUIRE(umm_mm_stats(m, &ms) == 0);
		CHECK(ms.major_faults <= pages / 32);
	}
	io_backend_drain(s);
	umm_mm_destroy(m);
	umm_object_put(o);
	REQUIRE(umm_system_stats(s, &st) == 0);
	CHECK_EQ(st.pagecache_pages, 0);
	umm_system_destroy(s);
}

/*
 * Random faults over a file twice the memory: every fault succeeds with
 * the right bytes while reclaim runs, and once reclaim has evicted pages
 * of the file, read-around backs off (a block at most every 64 misses)
 * instead of evicting the pages in use for pages nobody asked for.
 */
static void test_read_around_pressure(void)
{
	struct umm_system *s;
	struct umm_config cfg = { .phys_bytes = 2 << 20, .io_backend = backend,
				  .readahead_max_bytes = RA_MAX_PAGES * P };
	struct umm_sys_stats st;
	struct umm_mm_stats ms;
	struct umm_object *o;
	struct umm_mm *m;
	const size_t pages = 1024;                /* 4 MiB: twice the memory */
	int fd = test_tmpfile(pages * P, fpat);
	unsigned long ra0 = 0, maj0 = 0;
	bool evicted = false;
	uintptr_t a;
	unsigned char b;

	REQUIRE(umm_system_create(&cfg, &s) == 0);
	REQUIRE(umm_mm_create(s, &m) == 0);
	REQUIRE(umm_object_open_fd(s, fd, &o) == 0);
	close(fd);
	REQUIRE(umm_mmap(m, 0, pages * P, PROT_READ, MAP_SHARED, o, 0, &a) == 0);
	for (size_t round = 0; round < 3; round++) {
		for (size_t k = 0; k < pages; k++) {
			size_t i = (k * 37 + round * 5) % pages;   /* never the page after the last */

			CHECK_EQ(umm_read(m, a + i * P + 7, &b, 1), 0);
			CHECK_EQ(b, fpat(i * P + 7));
			if (!evicted && atomic_load(&o->ra.evicted)) {
				evicted = true;
				REQUIRE(umm_system_stats(s, &st) == 0);
				REQUIRE(umm_mm_stats(m, &ms) == 0);
				ra0 = st.ra_pages;
				maj0 = ms.major_faults;
			}
		}
	}
	REQUIRE(umm_system_stats(s, &st) == 0);
	REQUIRE(umm_mm_stats(m, &ms) == 0);
	CHECK(evicted);
	CHECK(st.pgsteal > 0);
	/* after the first eviction: at most one block (15 pages ahead) per 64 misses */
	CHECK(st.ra_pages - ra0 <= (RA_MAX_PAGES - 1) * ((ms.major_faults - maj0) / 64 + 1));
	CHECK(ms.major_faults - maj0 > 64);
	io_backend_drain(s);
	umm_mm_destroy(m);
	umm_object_put(o);
	REQUIRE(umm_system_stats(s, &st) == 0);
	CHECK_EQ(st.pagecache_pages, 0);
	umm_system_destroy(s);
}

static void *willneed_and_exit(void *arg)
{
	uintptr_t a = *(uintptr_t *)arg;

	TCHECK(umm_madvise(mm, a, 256 * P, MADV_WILLNEED) == 0);
	return NULL;                   /* exits with its reads still in flight */
}

/*
 * A thread queues reads and exits before they complete (io_uring cancels
 * such reads in the kernel): not an I/O error.  Every page still reads in
 * and stays cached, no error is counted, and the accesses take no major
 * fault.  Several rounds, as whether the kernel had started a read when
 * its submitter exited is a matter of timing.
 */
static void test_submitter_exits(void)
{
	for (int round = 0; round < 8; round++) {
		pthread_t t;
		uintptr_t a;

		setup(256, &a);
		REQUIRE(pthread_create(&t, NULL, willneed_and_exit, &a) == 0);
		pthread_join(t, NULL);
		io_backend_drain(sys);
		CHECK_EQ(stats().io_errors, 0);
		CHECK_EQ(umm_object_cached_pages(obj), 256);
		for (size_t i = 0; i < 256; i++)
			CHECK_EQ(touch(a, i), 0);
		CHECK_EQ(mm_stats().major_faults, 0);
		teardown();
	}
}

/* Readahead off (a one-page maximum): sequential faults read page by page. */
static void test_readahead_off(void)
{
	struct umm_system *s;
	struct umm_config cfg = { .phys_bytes = 8 << 20, .io_backend = UMM_IO_THREADS,
				  .readahead_max_bytes = P };
	struct umm_sys_stats st;
	struct umm_object *o;
	struct umm_mm *m;
	uintptr_t a;
	int fd = test_tmpfile(32 * P, fpat);
	unsigned char b;

	REQUIRE(umm_system_create(&cfg, &s) == 0);
	REQUIRE(umm_mm_create(s, &m) == 0);
	REQUIRE(umm_object_open_fd(s, fd, &o) == 0);
	close(fd);
	REQUIRE(umm_mmap(m, 0, 32 * P, PROT_READ, MAP_PRIVATE, o, 0, &a) == 0);
	for (size_t i = 0; i < 32; i++) {
		CHECK_EQ(umm_read(m, a + i * P, &b, 1), 0);
		CHECK_EQ(b, fpat(i * P));
	}
	REQUIRE(umm_system_stats(s, &st) == 0);
	CHECK_EQ(st.ra_pages, 0);
	CHECK_EQ(st.io_requests, 0);
	umm_mm_destroy(m);
	umm_object_put(o);
	umm_system_destroy(s);
}

int main(int argc, char **argv)
{
	static const int backends[] = { UMM_IO_URING, UMM_IO_THREADS };

	if (argc == 2 && !strcmp(argv[1], "fallback-child"))
		return fallback_child();
	if (argc == 3 && !strcmp(argv[1], "fork-child"))
		return fork_child(atoi(argv[2]));

	RUN(test_backend_choice);
	RUN(test_backend_fallback);
	RUN(test_readahead_off);
	for (size_t b = 0; b < sizeof(backends) / sizeof(backends[0]); b++) {
		struct umm_system *s;

		backend = backends[b];
		if (sys_create_backend(backend, 0, &s) != 0) {
			fprintf(stderr, "io_uring cannot be set up here: its round is skipped\n");
			continue;
		}
		umm_system_destroy(s);
		fprintf(stderr, "-- backend %s\n", backend == UMM_IO_URING ? "io_uring" : "threads");
		RUN(test_sequential);
		RUN(test_wasted);
		RUN(test_random);
		RUN(test_read_around);
		RUN(test_read_around_clipped);
		RUN(test_fault_page_bad_args);
		RUN(test_fault_around_marker);
		RUN(test_read_around_nomem);
		RUN(test_seq_hint);
		RUN(test_willneed);
		RUN(test_waiters);
		RUN(test_read_errors);
		RUN(test_truncate_under_io);
		RUN(test_submitter_exits);
		RUN(test_host_fork);
		RUN(test_prepage_async);
		RUN(test_prepage_async_errors);
		RUN(test_memory_pressure);
		RUN(test_read_around_pressure);
	}
	return test_summary("test_readahead");
}
