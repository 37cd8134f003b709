/* SPDX-License-Identifier: MIT */
/*
 * test_populate.c - prefaulting and the rest of the mmap family:
 * MAP_POPULATE / MAP_NONBLOCK / MAP_LOCKED, umm_madvise, umm_mincore,
 * umm_msync, umm_prepage.
 *
 * Theory of operation.  Each test builds one system and address space
 * (mm_fixture.h: debug_checks on, so the invariant check runs after every
 * call; teardown checks that no anonymous page, page table or object is
 * left).  "Present" is checked through the public API: umm_mincore says
 * resident, the RSS counters count the mapped pages, and touching the
 * pages afterwards takes no fault (the fault counters do not move).
 * Reads from the backing file are counted with the read-injection site:
 * armed to fail every call, umm_inject_hits() counts the reads attempted.
 * Every bad input is checked to return its errno and to leave the maps
 * text and the data as they were.
 */
#include <fcntl.h>
#include <pthread.h>
#include <usermm/usermm.h>
#include "mm_fixture.h"
#include "io.h"

#define RW (PROT_READ | PROT_WRITE)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* faults - all faults taken in mm so far. */
static unsigned long faults(void)
{
	struct umm_mm_stats st = stats();

	return st.minor_faults + st.major_faults;
}

/* resident - how many pages of [addr, addr + pages) umm_mincore says are resident. */
static size_t resident(uintptr_t addr, size_t pages)
{
	unsigned char *vec = malloc(pages);
	size_t n = 0;

	REQUIRE(vec);
	REQUIRE(umm_mincore(mm, addr, pages * P, vec) == 0);
	for (size_t i = 0; i < pages; i++)
		n += vec[i] & 1;
	free(vec);
	return n;
}

/* touch_all - read every page of the range (must succeed). */
static void touch_all(uintptr_t addr, size_t pages)
{
	for (size_t i = 0; i < pages; i++)
		REQUIRE(read_byte(addr + i * P) >= 0);
}

/* arm_read_counter - every backing read fails from now on and is counted. */
static unsigned long arm_read_counter(void)
{
	REQUIRE(umm_inject_fault(sys, UMM_INJECT_READ, 0, -1) == 0);
	return umm_inject_hits(sys, UMM_INJECT_READ);
}

/* wait_reads - MADV_WILLNEED only starts its reads: wait until they are done. */
static void wait_reads(void)
{
	io_backend_drain(sys);
}

static void disarm_reads(void)
{
	REQUIRE(umm_inject_fault(sys, UMM_INJECT_READ, 0, 0) == 0);
}

/* file_has - does the file (read through its own fd) hold byte b at off? */
static bool file_has(int fd, off_t off, unsigned char b)
{
	unsigned char c = 0;

	return pread(fd, &c, 1, off) == 1 && c == b;
}

/* ---- MAP_POPULATE ---- */

/* Every kind of mapping: all pages resident on return, no fault on touching them. */
static void test_populate_all_resident(void)
{
	setup();
	const size_t n = 300;       /* crosses a page-table boundary */
	int fd = test_tmpfile(n * P, file_pat);
	struct umm_object *file = open_file(fd), *shm;
	uintptr_t a[6];
	unsigned long f0;

	REQUIRE(umm_object_create_shmem(sys, n * P, &shm) == 0);
	REQUIRE(umm_mmap(mm, 0, n * P, PROT_READ, MAP_SHARED | MAP_POPULATE, file, 0, &a[0]) == 0);
	REQUIRE(umm_mmap(mm, 0, n * P, RW, MAP_SHARED | MAP_POPULATE, file, 0, &a[1]) == 0);
	REQUIRE(umm_mmap(mm, 0, n * P, RW, MAP_PRIVATE | MAP_POPULATE, file, 0, &a[2]) == 0);
	REQUIRE(umm_mmap(mm, 0, n * P, RW, MAP_SHARED | MAP_POPULATE, shm, 0, &a[3]) == 0);
	REQUIRE(umm_mmap(mm, 0, n * P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, NULL, 0, &a[4]) == 0);
	REQUIRE(umm_mmap(mm, 0, n * P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, NULL, 0, &a[5]) == 0);
	for (int i = 0; i < 6; i++)
		CHECK_EQ(resident(a[i], n), n);
	/* shared file x2 + shmem map the cache; the private writable file and anon are copies */
	CHECK_EQ(stats().rss_file, 2 * n);
	CHECK_EQ(stats().rss_shmem, n);
	CHECK_EQ(stats().rss_anon, 2 * n);
	CHECK_EQ(umm_object_cached_pages(file), n);
	f0 = faults();
	for (int i = 0; i < 6; i++)
		touch_all(a[i], n);
	CHECK_EQ(faults(), f0);
	/* writing the private writable mappings needs no fault either: they are private already */
	CHECK_EQ(write_byte(a[2] + 5 * P, 0xAB), 0);
	CHECK_EQ(write_byte(a[4] + 5 * P, 0xAB), 0);
	CHECK_EQ(faults(), f0);
	CHECK(holds_file(a[0], n * P, 0));
	CHECK(holds_zero(a[5], n * P));
	umm_object_put(file);
	umm_object_put(shm);
	close(fd);
	teardown();
}

/* A private writable mapping populated is a snapshot: later writes to the file are not seen. */
static void test_populate_private_snapshot(void)
{
	setup();
	int fd = test_tmpfile(8 * P, file_pat);
	struct umm_object *file = open_file(fd);
	uintptr_t priv, shared;

	REQUIRE(umm_mmap(mm, 0, 8 * P, RW, MAP_PRIVATE | MAP_POPULATE, file, 0, &priv) == 0);
	REQUIRE(umm_mmap(mm, 0, 8 * P, RW, MAP_SHARED, file, 0, &shared) == 0);
	CHECK_EQ(write_byte(shared + 3 * P, 0x5A), 0);
	CHECK_EQ(read_byte(priv + 3 * P), file_pat(3 * P));
	/* without MAP_POPULATE the private page follows the file until written */
	uintptr_t lazy;
	REQUIRE(umm_mmap(mm, 0, 8 * P, RW, MAP_PRIVATE, file, 0, &lazy) == 0);
	CHECK_EQ(read_byte(lazy + 3 * P), 0x5A);
	umm_object_put(file);
	close(fd);
	teardown();
}

/* MAP_POPULATE|MAP_NONBLOCK maps exactly the cached pages and reads nothing. */
static void test_populate_nonblock(void)
{
	setup();
	const size_t n = 40;
	int fd = test_tmpfile(n * P, file_pat);
	struct umm_object *file = open_file(fd);
	const size_t cached[] = { 0, 1, 2, 17, 39 };
	uintptr_t warm, a, b;
	unsigned long hits;

	REQUIRE(umm_mmap(mm, 0, n * P, PROT_READ, MAP_SHARED, file, 0, &warm) == 0);
	REQUIRE(umm_madvise(mm, warm, n * P, MADV_RANDOM) == 0);   /* cache just these: no readahead */
	for (size_t i = 0; i < ARRAY_SIZE(cached); i++)
		REQUIRE(read_byte(warm + cached[i] * P) >= 0);
	REQUIRE(umm_munmap(mm, warm, n * P) == 0);
	CHECK_EQ(umm_object_cached_pages(file), ARRAY_SIZE(cached));

	hits = arm_read_counter();
	REQUIRE(umm_mmap(mm, 0, n * P, PROT_READ, MAP_SHARED | MAP_POPULATE | MAP_NONBLOCK, file, 0, &a) == 0);
	REQUIRE(umm_mmap(mm, 0, n * P, RW, MAP_PRIVATE | MAP_POPULATE | MAP_NONBLOCK, file, 0, &b) == 0);
	CHECK_EQ(umm_inject_hits(sys, UMM_INJECT_READ), hits);      /* no read was attempted */
	CHECK_EQ(umm_object_cached_pages(file), ARRAY_SIZE(cached));
	CHECK_EQ(stats().rss_file, ARRAY_SIZE(cached));              /* the shared one maps the cache */
	CHECK_EQ(stats().rss_anon, ARRAY_SIZE(cached));              /* the private one has copies */
	/* the mapped pages need no fault; the others do (and fail: reads are failing) */
	unsigned long f0 = faults();
	for (size_t i = 0; i < ARRAY_SIZE(cached); i++) {
		CHECK_EQ(read_byte(a + cached[i] * P), file_pat(cached[i] * P));
		CHECK_EQ(read_byte(b + cached[i] * P), file_pat(cached[i] * P));
	}
	CHECK_EQ(faults(), f0);
	CHECK_EQ(read_byte(a + 5 * P), -EIO);
	disarm_reads();
	CHECK_EQ(read_byte(a + 5 * P), file_pat(5 * P));

	/* anonymous memory has no page cache: MAP_NONBLOCK maps none of it */
	uintptr_t anon;
	REQUIRE(umm_mmap(mm, 0, 4 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | MAP_NONBLOCK,
			 NULL, 0, &anon) == 0);
	CHECK_EQ(resident(anon, 4), 0);
	/* MAP_NONBLOCK without MAP_POPULATE does nothing */
	unsigned long rss = stats().rss_file;
	REQUIRE(umm_mmap(mm, 0, n * P, PROT_READ, MAP_SHARED | MAP_NONBLOCK, file, 0, &a) == 0);
	CHECK_EQ(stats().rss_file, rss);
	umm_object_put(file);
	close(fd);
	teardown();
}

/* MAP_LOCKED populates (the never-evict part comes with reclaim). */
static void test_populate_locked(void)
{
	setup();
	uintptr_t a;

	REQUIRE(umm_mmap(mm, 0, 20 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, NULL, 0, &a) == 0);
	CHECK_EQ(resident(a, 20), 20);
	CHECK_EQ(stats().rss_anon, 20);
	/* MAP_NONBLOCK does not weaken MAP_LOCKED */
	REQUIRE(umm_mmap(mm, 0, 20 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED | MAP_POPULATE |
			 MAP_NONBLOCK, NULL, 0, &a) == 0);
	CHECK_EQ(stats().rss_anon, 40);
	/* PROT_NONE: nothing to populate, still mapped */
	REQUIRE(umm_mmap(mm, 0, 4 * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, NULL, 0, &a) == 0);
	CHECK_EQ(resident(a, 4), 0);
	teardown();
}

/* Populate stops at end of file; the pages past it are -EIO on access. */
static void test_populate_past_eof(void)
{
	setup();
	int fd = test_tmpfile(3 * P + 100, file_pat);
	struct umm_object *file = open_file(fd);
	uintptr_t a;

	REQUIRE(umm_mmap(mm, 0, 8 * P, PROT_READ, MAP_SHARED | MAP_POPULATE, file, 0, &a) == 0);
	CHECK_EQ(stats().rss_file, 4);
	CHECK_EQ(read_byte(a + 3 * P + 99), file_pat(3 * P + 99));
	CHECK_EQ(read_byte(a + 3 * P + 100), 0);
	CHECK_EQ(read_byte(a + 4 * P), -EIO);
	CHECK_EQ(umm_madvise(mm, a, 8 * P, MADV_POPULATE_READ), -EFAULT);
	CHECK_EQ(umm_madvise(mm, a, 4 * P, MADV_POPULATE_READ), 0);
	umm_object_put(file);
	close(fd);
	teardown();
}

/* Read errors during populate: mmap succeeds, nothing leaks, the error reaches the access. */
static void test_populate_io_error(void)
{
	setup();
	const size_t n = 200;
	int fd = test_tmpfile(n * P, file_pat);
	struct umm_object *file = open_file(fd);
	unsigned long free0 = test_free_frames(sys) + test_slab_pages(sys);
	uintptr_t a, b;

	arm_read_counter();
	REQUIRE(umm_mmap(mm, 0, n * P, PROT_READ, MAP_SHARED | MAP_POPULATE, file, 0, &a) == 0);
	CHECK(umm_inject_hits(sys, UMM_INJECT_READ) > 0);
	CHECK_EQ(umm_object_cached_pages(file), 0);
	CHECK_EQ(stats().rss_file, 0);
	/*
	 * only page tables (pgtable_pages counts the pgd, taken before free0)
	 * and slab pages (the vma, and pte-chain reservations) were taken
	 */
	CHECK_EQ(test_free_frames(sys) + stats().pgtable_pages - 1 + test_slab_pages(sys), free0);
	CHECK_EQ(read_byte(a + 7 * P), -EIO);
	CHECK_EQ(umm_madvise(mm, a, n * P, MADV_POPULATE_READ), -EFAULT);
	CHECK_EQ(umm_object_cached_pages(file), 0);
	disarm_reads();
	CHECK_EQ(read_byte(a + 7 * P), file_pat(7 * P));
	/* a single failed batch is retried page by page: the populate completes */
	REQUIRE(umm_inject_fault(sys, UMM_INJECT_READ, 0, 1) == 0);
	REQUIRE(umm_mmap(mm, 0, n * P, PROT_READ, MAP_SHARED | MAP_POPULATE, file, 0, &b) == 0);
	CHECK_EQ(resident(b, n), n);
	CHECK_EQ(stats().rss_file, n + 1);
	CHECK(holds_file(b, n * P, 0));
	disarm_reads();
	umm_object_put(file);
	close(fd);
	teardown();
}

/* Out of memory during populate: mmap succeeds, MADV_POPULATE reports -ENOMEM, the fault path works later. */
static void test_populate_nomem(void)
{
	setup();
	uintptr_t a = map_anon(0, 64 * P, RW);
	char *before = maps();

	CHECK_EQ(WITH_PAGE_ALLOC_FAILING(10, umm_madvise(mm, a, 64 * P, MADV_POPULATE_WRITE)), -ENOMEM);
	CHECK_MAPS(before);
	CHECK(stats().rss_anon < 64);
	fill(a, 64 * P, 3);
	CHECK(holds(a, 64 * P, 3));
	free(before);
	teardown();
}

/* ---- madvise ---- */

static void test_madvise_dontneed(void)
{
	setup();
	int fd = test_tmpfile(16 * P, file_pat);
	struct umm_object *file = open_file(fd);
	uintptr_t anon = map_anon(0, 16 * P, RW), shared, priv;

	fill(anon, 16 * P, 1);
	CHECK_EQ(umm_madvise(mm, anon + 4 * P, 8 * P, MADV_DONTNEED), 0);
	CHECK(holds(anon, 4 * P, 1));
	CHECK(holds_zero(anon + 4 * P, 8 * P));
	CHECK_EQ(read_byte(anon + 12 * P), pat(12 * P, 1));
	CHECK_EQ(stats().rss_anon, 8);
	/* DONTNEED detaches a pin: the pinned frame keeps its bytes, the mapping gets a fresh page */
	struct umm_page *pin;
	REQUIRE(umm_pin_pages(mm, anon, 1, UMM_PIN_WRITE, &pin) == 1);
	CHECK_EQ(umm_madvise(mm, anon, P, MADV_DONTNEED), 0);
	CHECK_EQ(read_byte(anon + 1), 0);
	CHECK_EQ(((unsigned char *)umm_page_address(pin))[1], pat(1, 1));
	umm_unpin_pages(&pin, 1, UMM_PIN_WRITE);

	REQUIRE(umm_mmap(mm, 0, 16 * P, RW, MAP_SHARED, file, 0, &shared) == 0);
	REQUIRE(umm_mmap(mm, 0, 16 * P, RW, MAP_PRIVATE, file, 0, &priv) == 0);
	CHECK_EQ(write_byte(shared + P, 0x11), 0);
	CHECK_EQ(write_byte(priv + 2 * P, 0x22), 0);
	CHECK_EQ(umm_madvise(mm, shared, 16 * P, MADV_DONTNEED), 0);
	CHECK_EQ(umm_madvise(mm, priv, 16 * P, MADV_DONTNEED), 0);
	CHECK_EQ(stats().rss_file, 0);
	CHECK_EQ(read_byte(shared + P), 0x11);               /* dirty shared data is kept */
	CHECK_EQ(read_byte(priv + P), 0x11);                 /* the private mapping shows the file */
	CHECK_EQ(read_byte(priv + 2 * P), file_pat(2 * P));  /* its private copy is gone */
	CHECK_EQ(umm_object_sync(file, 0, 0), 0);
	CHECK(file_has(fd, P, 0x11));
	/* DONTNEED on a MAP_LOCKED range is -EINVAL, as Linux */
	uintptr_t locked;
	REQUIRE(umm_mmap(mm, 0, 2 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, NULL, 0, &locked) == 0);
	CHECK_EQ(write_byte(locked, 9), 0);
	CHECK_EQ(umm_madvise(mm, locked, 2 * P, MADV_DONTNEED), -EINVAL);
	CHECK_EQ(read_byte(locked), 9);
	umm_object_put(file);
	close(fd);
	teardown();
}

/* NORMAL/RANDOM/SEQUENTIAL and DONTFORK/DOFORK split and merge like other vma flags. */
static void test_madvise_flags(void)
{
	setup();
	uintptr_t a = map_anon(0, 10 * P, RW);
	struct umm_mm *child = NULL;
	unsigned char c;

	fill(a, 10 * P, 2);
	CHECK_EQ(nr_vmas(), 1);
	CHECK_EQ(umm_madvise(mm, a + 2 * P, 3 * P, MADV_RANDOM), 0);
	CHECK_EQ(nr_vmas(), 3);
	CHECK_EQ(umm_madvise(mm, a + 2 * P, 3 * P, MADV_SEQUENTIAL), 0);
	CHECK_EQ(nr_vmas(), 3);
	CHECK_EQ(umm_madvise(mm, a, 10 * P, MADV_NORMAL), 0);
	CHECK_EQ(nr_vmas(), 1);
	CHECK(holds(a, 10 * P, 2));

	CHECK_EQ(umm_madvise(mm, a + 4 * P, 2 * P, MADV_DONTFORK), 0);
	CHECK_EQ(nr_vmas(), 3);
	REQUIRE(umm_fork(mm, &child) == 0);
	CHECK_EQ(umm_read(child, a + 3 * P, &c, 1), 0);
	CHECK_EQ(umm_read(child, a + 4 * P, &c, 1), -EFAULT);
	CHECK_EQ(umm_read(child, a + 6 * P, &c, 1), 0);
	umm_mm_destroy(child);
	CHECK_EQ(umm_madvise(mm, a, 10 * P, MADV_DOFORK), 0);
	CHECK_EQ(nr_vmas(), 1);
	REQUIRE(umm_fork(mm, &child) == 0);
	CHECK_EQ(umm_read(child, a + 4 * P, &c, 1), 0);
	CHECK_EQ(c, pat(4 * P, 2));
	umm_mm_destroy(child);
	teardown();
}

/* WILLNEED reads the file pages in, so the faults that follow do no I/O. */
static void test_madvise_willneed(void)
{
	setup();
	const size_t n = 50;
	int fd = test_tmpfile(n * P, file_pat);
	struct umm_object *file = open_file(fd);
	uintptr_t a, anon = map_anon(0, 4 * P, RW);

	REQUIRE(umm_mmap(mm, 0, n * P, PROT_READ, MAP_PRIVATE, file, 0, &a) == 0);
	CHECK_EQ(umm_object_cached_pages(file), 0);
	CHECK_EQ(umm_madvise(mm, a + 10 * P, 30 * P, MADV_WILLNEED), 0);
	CHECK_EQ(umm_object_cached_pages(file), 30);     /* in the cache, reads started */
	wait_reads();
	CHECK_EQ(stats().rss_file, 0);                   /* read in, not mapped */
	CHECK_EQ(resident(a, n), 30);                    /* mincore sees the cache */
	touch_all(a + 10 * P, 30);
	CHECK_EQ(stats().major_faults, 0);
	CHECK(holds_file(a + 10 * P, 30 * P, 10 * P));
	/* read errors are ignored, as Linux ignores them */
	arm_read_counter();
	CHECK_EQ(umm_madvise(mm, a, n * P, MADV_WILLNEED), 0);
	wait_reads();
	disarm_reads();
	CHECK_EQ(umm_object_cached_pages(file), 30);     /* the failed pages left the cache */
	CHECK_EQ(umm_madvise(mm, anon, 4 * P, MADV_WILLNEED), 0);
	umm_object_put(file);
	close(fd);
	teardown();
}

/* FREE: private anonymous only; nothing is dropped without reclaim; a write keeps working. */
static void test_madvise_free(void)
{
	setup();
	int fd = test_tmpfile(4 * P, file_pat);
	struct umm_object *file = open_file(fd);
	uintptr_t a = map_anon(0, 8 * P, RW), f;

	fill(a, 8 * P, 5);
	CHECK_EQ(umm_madvise(mm, a, 8 * P, MADV_FREE), 0);
	CHECK(holds(a, 8 * P, 5));                       /* no reclaim: the data is still there */
	CHECK_EQ(write_byte(a + 3 * P, 0x77), 0);        /* a write after FREE is kept */
	CHECK_EQ(read_byte(a + 3 * P), 0x77);
	CHECK_EQ(stats().rss_anon, 8);
	REQUIRE(umm_mmap(mm, 0, 4 * P, RW, MAP_PRIVATE, file, 0, &f) == 0);
	CHECK_EQ(umm_madvise(mm, f, 4 * P, MADV_FREE), -EINVAL);
	umm_object_put(file);
	close(fd);
	teardown();
}

static void test_madvise_populate(void)
{
	setup();
	int fd = test_tmpfile(8 * P, file_pat);
	struct umm_object *file = open_file(fd);
	uintptr_t ro = map_anon(0, 4 * P, PROT_READ), none = map_anon(0, 4 * P, PROT_NONE);
	uintptr_t rw = map_anon(0, 4 * P, RW), sh;
	unsigned long f0;

	CHECK_EQ(umm_madvise(mm, ro, 4 * P, MADV_POPULATE_READ), 0);
	CHECK_EQ(resident(ro, 4), 4);
	CHECK_EQ(umm_madvise(mm, ro, 4 * P, MADV_POPULATE_WRITE), -EINVAL);
	CHECK_EQ(umm_madvise(mm, none, 4 * P, MADV_POPULATE_READ), -EINVAL);
	CHECK_EQ(umm_madvise(mm, rw, 4 * P, MADV_POPULATE_READ), 0);
	CHECK_EQ(stats().rss_anon, 0);                   /* the zero page */
	CHECK_EQ(umm_madvise(mm, rw, 4 * P, MADV_POPULATE_WRITE), 0);
	CHECK_EQ(stats().rss_anon, 4);                   /* copy-on-write of the zero page broken */
	f0 = faults();
	fill(rw, 4 * P, 6);
	CHECK_EQ(faults(), f0);
	/* POPULATE_WRITE of a shared file mapping dirties the pages: they reach the file */
	REQUIRE(umm_mmap(mm, 0, 8 * P, RW, MAP_SHARED, file, 0, &sh) == 0);
	CHECK_EQ(umm_madvise(mm, sh, 8 * P, MADV_POPULATE_WRITE), 0);
	f0 = faults();
	CHECK_EQ(write_byte(sh + 2 * P, 0x42), 0);
	CHECK_EQ(faults(), f0);
	CHECK_EQ(umm_msync(mm, sh, 8 * P, MS_SYNC), 0);
	CHECK(file_has(fd, 2 * P, 0x42));
	/* writeback write-protected the ptes: POPULATE_WRITE makes them writable and dirty again, in the batch */
	f0 = faults();
	CHECK_EQ(umm_madvise(mm, sh, 8 * P, MADV_POPULATE_WRITE), 0);
	CHECK_EQ(write_byte(sh + 6 * P, 0x43), 0);
	CHECK_EQ(faults(), f0);
	CHECK_EQ(umm_msync(mm, sh, 8 * P, MS_SYNC), 0);
	CHECK(file_has(fd, 6 * P, 0x43));
	umm_object_put(file);
	close(fd);
	teardown();
}

static void test_madvise_bad_inputs(void)
{
	setup();
	uintptr_t a = map_anon(0, 8 * P, RW);
	char *before;

	fill(a, 8 * P, 7);
	CHECK_EQ(umm_munmap(mm, a + 4 * P, P), 0);        /* a hole at page 4 */
	before = maps();
	CHECK_EQ(umm_madvise(NULL, a, P, MADV_DONTNEED), -EINVAL);
	CHECK_EQ(umm_madvise(mm, a, P, 12345), -EINVAL);
	CHECK_EQ(umm_madvise(mm, a, P, -1), -EINVAL);
	CHECK_EQ(umm_madvise(mm, a + 1, P, MADV_DONTNEED), -EINVAL);
	CHECK_EQ(umm_madvise(mm, a, SIZE_MAX, MADV_DONTNEED), -EINVAL);
	CHECK_EQ(umm_madvise(mm, a, SIZE_MAX - 2 * P, MADV_DONTNEED), -EINVAL);
	CHECK_EQ(umm_madvise(mm, UMM_TASK_SIZE - P, 2 * P, MADV_DONTNEED), -ENOMEM);
	int advices[] = { MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED,
			  MADV_FREE, MADV_POPULATE_READ, MADV_POPULATE_WRITE, MADV_DONTFORK, MADV_DOFORK };
	for (size_t i = 0; i < ARRAY_SIZE(advices); i++) {
		CHECK_EQ(umm_madvise(mm, a, 8 * P, advices[i]), -ENOMEM);
		CHECK_EQ(umm_madvise(mm, a, 0, advices[i]), 0);
	}
	CHECK_MAPS(before);
	CHECK(holds(a, 4 * P, 7));
	for (size_t off = 5 * P; off < 8 * P; off += 1001)
		CHECK_EQ(read_byte(a + off), pat(off, 7));
	CHECK_EQ(stats().rss_anon, 7);
	free(before);
	teardown();
}

/* ---- mincore ---- */

static void test_mincore(void)
{
	setup();
	int fd = test_tmpfile(8 * P, file_pat);
	struct umm_object *file = open_file(fd);
	uintptr_t a = map_anon(0, 8 * P, RW), f;
	unsigned char vec[9];

	CHECK_EQ(umm_mincore(mm, a, 8 * P, vec), 0);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(vec[i], 0);
	CHECK_EQ(write_byte(a + 2 * P, 1), 0);
	CHECK_EQ(read_byte(a + 5 * P), 0);               /* the zero page is mapped: resident */
	CHECK_EQ(umm_mincore(mm, a, 8 * P - 100, vec), 0); /* a partial last page counts */
	for (int i = 0; i < 8; i++)
		CHECK_EQ(vec[i], i == 2 || i == 5);
	/* a file page in the cache is resident even where this mapping has no pte */
	REQUIRE(umm_mmap(mm, 0, 8 * P, PROT_READ, MAP_SHARED, file, 0, &f) == 0);
	CHECK_EQ(umm_madvise(mm, f, 8 * P, MADV_RANDOM), 0);   /* page 3 alone: no read-around */
	CHECK_EQ(read_byte(f + 3 * P), file_pat(3 * P));
	CHECK_EQ(umm_madvise(mm, f, 8 * P, MADV_DONTNEED), 0);
	CHECK_EQ(umm_mincore(mm, f, 8 * P, vec), 0);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(vec[i], i == 3);
	/* bad inputs: vec untouched */
	memset(vec, 0xEE, sizeof(vec));
	CHECK_EQ(umm_mincore(NULL, a, P, vec), -EINVAL);
	CHECK_EQ(umm_mincore(mm, a + 1, P, vec), -EINVAL);
	CHECK_EQ(umm_mincore(mm, a, P, NULL), -EFAULT);
	CHECK_EQ(umm_mincore(mm, a, 0, NULL), 0);
	CHECK_EQ(umm_mincore(mm, a + 6 * P, 4 * P, vec), -ENOMEM);   /* runs off the mapping */
	CHECK_EQ(umm_mincore(mm, UMM_TASK_SIZE - P, 2 * P, vec), -ENOMEM);
	CHECK_EQ(umm_mincore(mm, a, SIZE_MAX, vec), -ENOMEM);
	for (size_t i = 0; i < sizeof(vec); i++)
		CHECK_EQ(vec[i], 0xEE);
	umm_object_put(file);
	close(fd);
	teardown();
}

/* ---- msync ---- */

static void test_msync(void)
{
	setup();
	int fd = test_tmpfile(8 * P, file_pat);
	int other = reopen(fd, O_RDONLY);
	struct umm_object *file = open_file(fd);
	uintptr_t a, priv;

	REQUIRE(umm_mmap(mm, 0, 8 * P, RW, MAP_SHARED, file, 0, &a) == 0);
	REQUIRE(umm_mmap(mm, 0, 8 * P, RW, MAP_PRIVATE, file, 0, &priv) == 0);
	CHECK_EQ(write_byte(a + P, 0xA1), 0);
	CHECK_EQ(write_byte(priv + 2 * P, 0xB2), 0);
	CHECK(!file_has(other, P, 0xA1));
	CHECK_EQ(umm_msync(mm, a, 8 * P, MS_SYNC), 0);
	CHECK(file_has(other, P, 0xA1));                 /* through a separate descriptor */
	CHECK_EQ(umm_msync(mm, priv, 8 * P, MS_SYNC), 0);
	CHECK(file_has(other, 2 * P, file_pat(2 * P)));  /* private copies never reach the file */
	/* MS_ASYNC writes too (it does not wait for durability) */
	CHECK_EQ(write_byte(a + 3 * P, 0xA3), 0);
	CHECK_EQ(umm_msync(mm, a + 3 * P, P, MS_ASYNC), 0);
	CHECK(file_has(other, 3 * P, 0xA3));
	/* only the range is written */
	CHECK_EQ(write_byte(a + 5 * P, 0xA5), 0);
	CHECK_EQ(write_byte(a + 6 * P, 0xA6), 0);
	CHECK_EQ(umm_msync(mm, a + 6 * P, 1, MS_SYNC), 0);
	CHECK(file_has(other, 6 * P, 0xA6));
	CHECK(!file_has(other, 5 * P, 0xA5));
	/* a write error: -EIO, the page stays dirty and a later sync writes it */
	REQUIRE(umm_inject_fault(sys, UMM_INJECT_WRITE, 0, -1) == 0);
	CHECK_EQ(umm_msync(mm, a, 8 * P, MS_SYNC), -EIO);
	CHECK(!file_has(other, 5 * P, 0xA5));
	CHECK_EQ(umm_msync(mm, a, 8 * P, MS_ASYNC), 0);  /* MS_ASYNC does not report it */
	REQUIRE(umm_inject_fault(sys, UMM_INJECT_WRITE, 0, 0) == 0);
	CHECK_EQ(umm_msync(mm, a, 8 * P, MS_SYNC), -EIO); /* ...the next MS_SYNC does, once */
	CHECK(file_has(other, 5 * P, 0xA5));
	CHECK_EQ(umm_msync(mm, a, 8 * P, MS_SYNC), 0);
	CHECK_EQ(umm_msync(mm, a, 8 * P, MS_INVALIDATE), 0);
	CHECK_EQ(umm_msync(mm, a, 8 * P, MS_SYNC | MS_INVALIDATE), 0);
	umm_object_put(file);
	close(other);
	close(fd);
	teardown();
}

static void test_msync_bad_inputs(void)
{
	setup();
	int fd = test_tmpfile(8 * P, file_pat);
	int other = reopen(fd, O_RDONLY);
	struct umm_object *file = open_file(fd);
	uintptr_t a, locked;
	char *before;

	REQUIRE(umm_mmap(mm, 0, 8 * P, RW, MAP_SHARED, file, 0, &a) == 0);
	REQUIRE(umm_mmap(mm, 0, P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, NULL, 0, &locked) == 0);
	CHECK_EQ(write_byte(a, 0xC0), 0);
	CHECK_EQ(umm_munmap(mm, a + 4 * P, P), 0);
	before = maps();
	CHECK_EQ(umm_msync(NULL, a, P, MS_SYNC), -EINVAL);
	CHECK_EQ(umm_msync(mm, a + 1, P, MS_SYNC), -EINVAL);
	CHECK_EQ(umm_msync(mm, a, P, MS_SYNC | MS_ASYNC), -EINVAL);
	CHECK_EQ(umm_msync(mm, a, P, 0x100), -EINVAL);
	CHECK_EQ(umm_msync(mm, a, 8 * P, MS_SYNC), -ENOMEM);      /* the hole: nothing written */
	CHECK_EQ(umm_msync(mm, a, SIZE_MAX, MS_SYNC), -ENOMEM);
	CHECK_EQ(umm_msync(mm, locked, P, MS_INVALIDATE), -EBUSY);
	CHECK_EQ(umm_msync(mm, a, 0, MS_SYNC), 0);
	CHECK(!file_has(other, 0, 0xC0));
	CHECK_MAPS(before);
	CHECK_EQ(umm_msync(mm, a, P, MS_SYNC), 0);
	CHECK(file_has(other, 0, 0xC0));
	free(before);
	umm_object_put(file);
	close(other);
	close(fd);
	teardown();
}

/* umm_object_sync ends with fdatasync; the data is in the file through any descriptor. */
static void test_object_sync_durable(void)
{
	setup();
	int fd = test_tmpfile(2 * P, file_pat);
	int other = reopen(fd, O_RDONLY);
	struct umm_object *file = open_file(fd);
	uintptr_t a;

	REQUIRE(umm_mmap(mm, 0, 2 * P, RW, MAP_SHARED, file, 0, &a) == 0);
	CHECK_EQ(write_byte(a + P + 1, 0xD1), 0);
	CHECK_EQ(umm_object_sync(file, 0, 0), 0);
	CHECK(file_has(other, P + 1, 0xD1));
	umm_object_put(file);
	close(other);
	close(fd);
	teardown();
}

/* ---- prepage ---- */

static void test_prepage(void)
{
	setup();
	const size_t n = 64;
	int fd = test_tmpfile(n * P, file_pat);
	struct umm_object *file = open_file(fd);
	uintptr_t f, a = map_anon(0, n * P, RW);
	unsigned long f0;

	REQUIRE(umm_mmap(mm, 0, n * P, PROT_READ, MAP_PRIVATE, file, 0, &f) == 0);
	struct umm_prepage_tuple v[] = {
		{ f + 2 * P, 3 * P },           /* pages 2..4 */
		{ f + 3 * P, 4 * P },           /* overlapping: 3..6 */
		{ f + 7 * P, P },               /* adjacent: 7 */
		{ f + 20 * P + 100, 10 },       /* unaligned, inside page 20 */
		{ f + 30 * P - 1, 2 },          /* unaligned, straddles pages 29 and 30 */
		{ f + 40 * P, 0 },              /* zero length: nothing */
		{ a + 10 * P, 2 * P },          /* anonymous: 10, 11 */
	};
	CHECK_EQ(umm_prepage(mm, v, ARRAY_SIZE(v), 0), 0);
	CHECK_EQ(umm_prepage_bad_index(), SIZE_MAX);
	CHECK_EQ(stats().rss_file, 6 + 1 + 2);          /* 2..7, 20, 29, 30 */
	CHECK_EQ(umm_object_cached_pages(file), 9);
	f0 = faults();
	touch_all(f + 2 * P, 6);
	CHECK_EQ(read_byte(f + 20 * P), file_pat(20 * P));
	CHECK_EQ(read_byte(f + 29 * P), file_pat(29 * P));
	CHECK_EQ(read_byte(f + 30 * P), file_pat(30 * P));
	touch_all(a + 10 * P, 2);
	CHECK_EQ(faults(), f0);
	CHECK_EQ(read_byte(f + 40 * P), file_pat(40 * P));
	CHECK_EQ(faults(), f0 + 1);                       /* the zero-length tuple brought nothing */
	/* UMM_PREPAGE_WRITE breaks copy-on-write now */
	struct umm_prepage_tuple w = { a, 4 * P };
	CHECK_EQ(umm_prepage(mm, &w, 1, UMM_PREPAGE_WRITE), 0);
	CHECK_EQ(stats().rss_anon, 4);
	f0 = faults();
	fill(a, 4 * P, 9);
	CHECK_EQ(faults(), f0);
	/* a huge extent over a large mapping */
	uintptr_t big = map_anon(0, 4096 * P, RW);
	struct umm_prepage_tuple h = { big, 4096 * P };
	CHECK_EQ(umm_prepage(mm, &h, 1, UMM_PREPAGE_WRITE), 0);
	CHECK_EQ(resident(big, 4096), 4096);
	CHECK_EQ(umm_munmap(mm, big, 4096 * P), 0);
	umm_object_put(file);
	close(fd);
	teardown();
}

static void test_prepage_invalid(void)
{
	setup();
	uintptr_t a = map_anon(0, 8 * P, RW), ro = map_anon(0, 2 * P, PROT_READ);
	struct umm_prepage_tuple v[] = {
		{ a, 2 * P },                   /* 0: fine */
		{ a + 6 * P, 4 * P },           /* 1: runs off the mapping */
		{ a + 4 * P, SIZE_MAX },        /* 2: wraps */
		{ ro, P },                      /* 3: read-only (invalid for a write) */
		{ a + 3 * P, P },               /* 4: fine */
		{ 0, P },                       /* 5: below UMM_MMAP_MIN_ADDR */
		{ UMM_TASK_SIZE - P, 2 * P },   /* 6: past the top */
	};
	char *before = maps();

	CHECK_EQ(umm_prepage(mm, v, ARRAY_SIZE(v), 0), -EFAULT);
	CHECK_EQ(umm_prepage_bad_index(), 1);
	CHECK_EQ(resident(a, 8), 0);                     /* nothing was done */
	CHECK_EQ(umm_prepage(mm, v + 2, 1, 0), -EFAULT);
	CHECK_EQ(umm_prepage_bad_index(), 0);
	CHECK_EQ(umm_prepage(mm, v + 3, 1, UMM_PREPAGE_WRITE), -EFAULT);
	CHECK_EQ(umm_prepage(mm, v + 3, 1, 0), 0);       /* fine for reading */
	CHECK_EQ(umm_prepage(mm, v + 5, 1, 0), -EFAULT);
	CHECK_EQ(umm_prepage(mm, v + 6, 1, 0), -EFAULT);
	/* SKIP_INVALID: the valid tuples only */
	CHECK_EQ(umm_prepage(mm, v, ARRAY_SIZE(v), UMM_PREPAGE_SKIP_INVALID | UMM_PREPAGE_WRITE), 0);
	CHECK_EQ(umm_prepage_bad_index(), SIZE_MAX);
	CHECK_EQ(resident(a, 8), 3);                     /* pages 0, 1, 3 */
	CHECK_EQ(stats().rss_anon, 3);
	/* bad calls */
	CHECK_EQ(umm_prepage(NULL, v, 1, 0), -EINVAL);
	CHECK_EQ(umm_prepage(mm, NULL, 1, 0), -EINVAL);
	CHECK_EQ(umm_prepage(mm, NULL, 0, 0), 0);
	CHECK_EQ(umm_prepage(mm, v, 1, 0x8), -EINVAL);   /* unknown (0x4 is UMM_PREPAGE_ASYNC) */
	CHECK_EQ(umm_prepage(mm, v, 1, 0x100), -EINVAL);
	CHECK_EQ(umm_prepage(mm, v, SIZE_MAX, 0), -ENOMEM);
	CHECK_MAPS(before);
	CHECK_EQ(stats().rss_anon, 3);
	free(before);
	teardown();
}

/* I/O errors during prepage: best effort, the call succeeds, the access gets -EIO, nothing leaks. */
static void test_prepage_io_error(void)
{
	setup();
	const size_t n = 32;
	int fd = test_tmpfile(n * P, file_pat);
	struct umm_object *file = open_file(fd);
	struct umm_prepage_tuple v;
	uintptr_t f;

	REQUIRE(umm_mmap(mm, 0, n * P, PROT_READ, MAP_SHARED, file, 0, &f) == 0);
	v.addr = f;
	v.extent = n * P;
	arm_read_counter();
	CHECK_EQ(umm_prepage(mm, &v, 1, 0), 0);
	CHECK(umm_inject_hits(sys, UMM_INJECT_READ) > 0);
	CHECK_EQ(umm_object_cached_pages(file), 0);
	CHECK_EQ(stats().rss_file, 0);
	CHECK_EQ(read_byte(f + 9 * P), -EIO);
	disarm_reads();
	CHECK_EQ(umm_prepage(mm, &v, 1, 0), 0);
	CHECK_EQ(stats().rss_file, n);
	CHECK(holds_file(f, n * P, 0));
	umm_object_put(file);
	close(fd);
	teardown();
}

/* ---- threads ---- */

#define RACE_PAGES 64

struct race {
	struct umm_object *file;
	uintptr_t shared, priv;
	double deadline;
};

/* race_page_ok - the page at addr reads as the file pattern at off (it never changes here). */
static bool race_page_ok(uintptr_t addr, size_t off)
{
	unsigned char b[2];

	return umm_read(mm, addr, b, 2) == 0 && b[0] == file_pat(off) && b[1] == file_pat(off + 1);
}

static void *race_populater(void *p)
{
	struct race *r = p;
	struct umm_prepage_tuple v[2] = { { r->shared + 3 * P, 20 * P }, { r->shared + 10 * P, 40 * P } };

	while (test_now_s() < r->deadline) {
		TCHECK(umm_madvise(mm, r->priv, RACE_PAGES * P, MADV_POPULATE_READ) == 0);
		TCHECK(umm_madvise(mm, r->priv, RACE_PAGES * P, MADV_DONTNEED) == 0);
		TCHECK(umm_prepage(mm, v, 2, UMM_PREPAGE_WRITE) == 0);
		TCHECK(umm_madvise(mm, r->shared, RACE_PAGES * P, MADV_POPULATE_WRITE) == 0);
		TCHECK(umm_madvise(mm, r->shared, RACE_PAGES * P, MADV_DONTNEED) == 0);
		TCHECK(umm_madvise(mm, r->shared, RACE_PAGES * P, MADV_WILLNEED) == 0);
		TCHECK(umm_msync(mm, r->shared, RACE_PAGES * P, MS_SYNC) == 0);
	}
	return NULL;
}

static void *race_reader(void *p)
{
	struct race *r = p;
	uint64_t rng = 88172645463325252ULL;

	while (test_now_s() < r->deadline) {
		size_t pg = test_rnd(&rng) % RACE_PAGES;

		TCHECK(race_page_ok(r->priv + pg * P, pg * P));
		TCHECK(race_page_ok(r->shared + pg * P, pg * P));
	}
	return NULL;
}

static void *race_mapper(void *p)
{
	struct race *r = p;

	while (test_now_s() < r->deadline) {
		uintptr_t a;

		TCHECK(umm_mmap(mm, 0, RACE_PAGES * P, RW, MAP_PRIVATE | MAP_POPULATE, r->file, 0, &a) == 0);
		TCHECK(race_page_ok(a + 7 * P, 7 * P));
		TCHECK(umm_munmap(mm, a, RACE_PAGES * P) == 0);
	}
	return NULL;
}

/* Populate, prepage and DONTNEED racing with readers and with mmap/munmap in one mm. */
static void test_populate_races(void)
{
	setup();
	int fd = test_tmpfile(RACE_PAGES * P, file_pat);
	struct race r = { .file = open_file(fd) };
	pthread_t t[3];

	REQUIRE(umm_mmap(mm, 0, RACE_PAGES * P, RW, MAP_SHARED, r.file, 0, &r.shared) == 0);
	REQUIRE(umm_mmap(mm, 0, RACE_PAGES * P, PROT_READ, MAP_PRIVATE, r.file, 0, &r.priv) == 0);
	r.deadline = test_now_s() + 0.5;
	REQUIRE(pthread_create(&t[0], NULL, race_populater, &r) == 0);
	REQUIRE(pthread_create(&t[1], NULL, race_reader, &r) == 0);
	REQUIRE(pthread_create(&t[2], NULL, race_mapper, &r) == 0);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	test_fold_thread_checks();
	CHECK_EQ(umm_mm_check(mm), 0);
	CHECK(holds_file(r.shared, RACE_PAGES * P, 0));
	umm_object_put(r.file);
	close(fd);
	teardown();
}

struct trunc_race {
	struct umm_object *file;
	uintptr_t shared, priv;
	double deadline;
	_Atomic bool stop;
};

static void *trunc_populater(void *p)
{
	struct trunc_race *r = p;
	struct umm_prepage_tuple v = { r->priv, RACE_PAGES * P };

	while (!atomic_load(&r->stop)) {
		int e1 = umm_madvise(mm, r->shared, RACE_PAGES * P, MADV_POPULATE_READ);
		int e2 = umm_madvise(mm, r->priv, RACE_PAGES * P, MADV_POPULATE_WRITE);

		TCHECK(e1 == 0 || e1 == -EFAULT);       /* -EFAULT: past the end right now */
		TCHECK(e2 == 0 || e2 == -EFAULT);
		TCHECK(umm_prepage(mm, &v, 1, UMM_PREPAGE_WRITE) == 0);
		TCHECK(umm_madvise(mm, r->priv, RACE_PAGES * P, MADV_DONTNEED) == 0);
	}
	return NULL;
}

/*
 * Populate racing with truncate: once a shrink has returned, no page past
 * the new end is mapped, in the shared mapping or as a private copy,
 * whatever populate was doing meanwhile.
 */
static void test_populate_truncate_race(void)
{
	setup();
	int fd = test_tmpfile(RACE_PAGES * P, file_pat);
	struct trunc_race r = { .file = open_file(fd) };
	uint64_t rng = 1234567;
	pthread_t t[2];

	REQUIRE(umm_mmap(mm, 0, RACE_PAGES * P, PROT_READ, MAP_SHARED, r.file, 0, &r.shared) == 0);
	REQUIRE(umm_mmap(mm, 0, RACE_PAGES * P, RW, MAP_PRIVATE, r.file, 0, &r.priv) == 0);
	for (int i = 0; i < 2; i++)
		REQUIRE(pthread_create(&t[i], NULL, trunc_populater, &r) == 0);
	r.deadline = test_now_s() + 0.5;
	while (test_now_s() < r.deadline) {
		size_t keep = 1 + test_rnd(&rng) % (RACE_PAGES - 1);

		CHECK_EQ(umm_object_truncate(r.file, keep * P), 0);
		CHECK_EQ(read_byte(r.shared + keep * P), -EIO);
		CHECK_EQ(read_byte(r.priv + keep * P), -EIO);
		CHECK_EQ(read_byte(r.shared + (RACE_PAGES - 1) * P), -EIO);
		CHECK_EQ(umm_object_truncate(r.file, RACE_PAGES * P), 0);
	}
	atomic_store(&r.stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	test_fold_thread_checks();
	CHECK_EQ(umm_mm_check(mm), 0);
	umm_object_put(r.file);
	close(fd);
	teardown();
}

int main(void)
{
	RUN(test_populate_all_resident);
	RUN(test_populate_private_snapshot);
	RUN(test_populate_nonblock);
	RUN(test_populate_locked);
	RUN(test_populate_past_eof);
	RUN(test_populate_io_error);
	RUN(test_populate_nomem);
	RUN(test_madvise_dontneed);
	RUN(test_madvise_flags);
	RUN(test_madvise_willneed);
	RUN(test_madvise_free);
	RUN(test_madvise_populate);
	RUN(test_madvise_bad_inputs);
	RUN(test_mincore);
	RUN(test_msync);
	RUN(test_msync_bad_inputs);
	RUN(test_object_sync_durable);
	RUN(test_prepage);
	RUN(test_prepage_invalid);
	RUN(test_prepage_io_error);
	RUN(test_populate_races);
	RUN(test_populate_truncate_race);
	return test_summary("test_populate");
}
