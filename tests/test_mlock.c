/* SPDX-License-Identifier: MIT */
/*
 * test_mlock.c - umm_mlock, umm_mlock2, umm_munlock, umm_mlockall,
 * umm_munlockall, MAP_LOCKED, and the unevictable mark of locked pages.
 *
 * Theory of operation.  Each test builds one system and address space
 * (mm_fixture.h: debug_checks on, so after every call the invariant check
 * runs, which includes "a VM_LOCKED vma maps only PG_unevictable pages";
 * teardown checks that nothing is left).  What Linux's man pages and
 * LTP's mlock, munlock, mlockall and mlock2 tests expect is checked
 * through the public API: populated pages are resident (umm_mincore) and
 * counted in RSS, locked_vm counts the pages of locked mappings (VmLck),
 * nr_vmas shows the splits and merges, the maps text shows " [locked]".
 * PG_unevictable is read from the frame behind a pte (internal headers).
 * Every bad input returns its errno and leaves the maps text as it was.
 * The whole file runs under both reverse-map schemes (tests/run.sh).
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <usermm/usermm.h>
#include "mm_fixture.h"
#include "mm.h"
#include "pgtable.h"
#include "page_alloc.h"

#define RW (PROT_READ | PROT_WRITE)

/* resident - how many pages of [addr, addr + pages) of m umm_mincore says are resident. */
static size_t resident_in(struct umm_mm *m, uintptr_t addr, size_t pages)
{
	unsigned char *vec = malloc(pages);
	size_t n = 0;

	REQUIRE(vec);
	REQUIRE(umm_mincore(m, addr, pages * P, vec) == 0);
	for (size_t i = 0; i < pages; i++)
		n += vec[i] & 1;
	free(vec);
	return n;
}

static size_t resident(uintptr_t addr, size_t pages)
{
	return resident_in(mm, addr, pages);
}

static int grab_page(struct umm_mm *m, pte_t *ptep, uintptr_t addr, void *arg)
{
	pte_t pte = *ptep;

	(void)addr;
	if (pte_present(pte) && !pte_special(pte))
		*(struct page **)arg = pfn_to_page(m->sys->phys, pte_pfn(pte));
	return 0;
}

/* frame_of - the frame a pte of m maps at addr, or NULL (none, or the zero page). */
static struct page *frame_of(struct umm_mm *m, uintptr_t addr)
{
	struct page *page = NULL;

	mmap_read_lock(m);
	walk_pte_range(m, addr, addr + P, grab_page, &page);
	mmap_read_unlock(m);
	return page;
}

/*
 * unevictable_in - 1 if the page mapped at addr in m is PG_unevictable,
 * 0 if not, -1 if nothing (or the zero page) is mapped there.
 */
static int unevictable_in(struct umm_mm *m, uintptr_t addr)
{
	struct page *page = frame_of(m, addr);

	return page ? PageUnevictable(page) : -1;
}

static int unevictable(uintptr_t addr)
{
	return unevictable_in(mm, addr);
}

/* count_unevictable - pages of [addr, addr + pages) that are mapped and unevictable. */
static size_t count_unevictable(uintptr_t addr, size_t pages)
{
	size_t n = 0;

	for (size_t i = 0; i < pages; i++)
		n += unevictable(addr + i * P) == 1;
	return n;
}

static unsigned long locked_vm_of(struct umm_mm *m)
{
	struct umm_mm_stats st;

	REQUIRE(umm_mm_stats(m, &st) == 0);
	return st.locked_vm;
}

static unsigned long locked_vm(void)
{
	return locked_vm_of(mm);
}

/* maps_has_locked - does the maps text show a locked mapping? */
static bool maps_has_locked(void)
{
	char *m = maps();
	bool has = strstr(m, " [locked]") != NULL;

	free(m);
	return has;
}

/* Bad inputs: each errno, and nothing changed (maps text, locked_vm). */
static void test_mlock_bad_input(void)
{
	setup();
	uintptr_t a = map_anon(0, 4 * P, RW);
	char *before;

	REQUIRE(umm_munmap(mm, a + 2 * P, P) == 0);        /* a hole at page 2 */
	before = maps();

	CHECK_EQ(umm_mlock(NULL, a, P), -EINVAL);
	CHECK_EQ(umm_mlock2(NULL, a, P, 0), -EINVAL);
	CHECK_EQ(umm_munlock(NULL, a, P), -EINVAL);
	CHECK_EQ(umm_mlockall(NULL, MCL_CURRENT), -EINVAL);
	CHECK_EQ(umm_munlockall(NULL), -EINVAL);
	/* a range that wraps */
	CHECK_EQ(umm_mlock(mm, a, SIZE_MAX - a + 1), -EINVAL);
	CHECK_EQ(umm_mlock(mm, UINTPTR_MAX - 10, 100), -EINVAL);
	CHECK_EQ(umm_munlock(mm, a, SIZE_MAX), -EINVAL);
	CHECK_EQ(umm_mlock(mm, UINTPTR_MAX - P + 2, 0), -EINVAL);
	/* a hole, nothing mapped, beyond the address space */
	CHECK_EQ(umm_mlock(mm, a, 4 * P), -ENOMEM);
	CHECK_EQ(umm_mlock(mm, a + P, 2 * P), -ENOMEM);
	CHECK_EQ(umm_mlock2(mm, a, 4 * P, MLOCK_ONFAULT), -ENOMEM);
	CHECK_EQ(umm_munlock(mm, a, 4 * P), -ENOMEM);
	CHECK_EQ(umm_mlock(mm, a + 2 * P, P), -ENOMEM);
	CHECK_EQ(umm_mlock(mm, 0, P), -ENOMEM);
	CHECK_EQ(umm_mlock(mm, UMM_TASK_SIZE, P), -ENOMEM);
	CHECK_EQ(umm_mlock(mm, UMM_TASK_SIZE - P, 2 * P), -ENOMEM);
	CHECK_EQ(umm_munlock(mm, UMM_TASK_SIZE, P), -ENOMEM);
	/* bad flags */
	CHECK_EQ(umm_mlock2(mm, a, P, 2), -EINVAL);
	CHECK_EQ(umm_mlock2(mm, a, P, ~0u), -EINVAL);
	CHECK_EQ(umm_mlockall(mm, 0), -EINVAL);
	CHECK_EQ(umm_mlockall(mm, MCL_ONFAULT), -EINVAL);
	CHECK_EQ(umm_mlockall(mm, 8), -EINVAL);
	CHECK_EQ(umm_mlockall(mm, MCL_CURRENT | 0x100), -EINVAL);
	/* an empty range is not an error (Linux), even where nothing is mapped */
	CHECK_EQ(umm_mlock(mm, a + 2 * P, 0), 0);
	CHECK_EQ(umm_munlock(mm, 0, 0), 0);
	CHECK_MAPS(before);
	CHECK_EQ(locked_vm(), 0);
	CHECK_EQ(resident(a, 2), 0);

	/* a failed munlock leaves a locked range locked */
	REQUIRE(umm_mlock(mm, a, 2 * P) == 0);
	free(before);
	before = maps();
	CHECK_EQ(umm_munlock(mm, a, 4 * P), -ENOMEM);
	CHECK_MAPS(before);
	CHECK_EQ(locked_vm(), 2);
	CHECK_EQ(count_unevictable(a, 2), 2);
	free(before);
	teardown();
}

/* mlock populates: anonymous, private writable file (copies), read-only file, shared file. */
static void test_mlock_populates(void)
{
	setup();
	int fd = test_tmpfile(16 * P, file_pat);
	struct umm_object *file = open_file(fd);
	uintptr_t a = map_anon(0, 16 * P, RW), f, r, s;

	CHECK_EQ(resident(a, 16), 0);
	REQUIRE(umm_mlock(mm, a, 16 * P) == 0);
	CHECK_EQ(resident(a, 16), 16);
	CHECK_EQ(stats().rss_anon, 16);
	CHECK_EQ(locked_vm(), 16);
	CHECK_EQ(count_unevictable(a, 16), 16);
	CHECK(maps_has_locked());

	/* private writable file: copy-on-write broken now, as Linux does */
	REQUIRE(umm_mmap(mm, 0, 8 * P, RW, MAP_PRIVATE, file, 0, &f) == 0);
	REQUIRE(umm_mlock(mm, f, 8 * P) == 0);
	CHECK_EQ(stats().rss_anon, 24);
	CHECK_EQ(stats().rss_file, 0);
	CHECK_EQ(count_unevictable(f, 8), 8);
	CHECK(holds_file(f, 8 * P, 0));
	/* private read-only file: the cache pages themselves */
	REQUIRE(umm_mmap(mm, 0, 8 * P, PROT_READ, MAP_PRIVATE, file, 0, &r) == 0);
	REQUIRE(umm_mlock(mm, r, 8 * P) == 0);
	CHECK_EQ(stats().rss_file, 8);
	CHECK_EQ(count_unevictable(r, 8), 8);
	/* shared file: the cache pages, not dirtied */
	REQUIRE(umm_mmap(mm, 0, 8 * P, RW, MAP_SHARED, file, 8 * P, &s) == 0);
	REQUIRE(umm_mlock(mm, s, 8 * P) == 0);
	CHECK_EQ(stats().rss_file, 16);
	CHECK_EQ(count_unevictable(s, 8), 8);
	CHECK_EQ(locked_vm(), 40);
	CHECK(holds_file(s, 8 * P, 8 * P));

	/* PROT_NONE: locked, nothing to populate */
	uintptr_t n = map_anon(0, 4 * P, PROT_NONE);
	REQUIRE(umm_mlock(mm, n, 4 * P) == 0);
	CHECK_EQ(resident(n, 4), 0);
	CHECK_EQ(locked_vm(), 44);

	/* the pages stay after munlock, only evictable again */
	REQUIRE(umm_munlockall(mm) == 0);
	CHECK_EQ(locked_vm(), 0);
	CHECK_EQ(resident(a, 16), 16);
	CHECK_EQ(count_unevictable(a, 16), 0);
	CHECK_EQ(count_unevictable(s, 8), 0);
	CHECK(!maps_has_locked());
	umm_object_put(file);
	close(fd);
	teardown();
}

/*
 * A populate that fails leaves the range locked, as Linux: -ENOMEM for a
 * page past the end of the file, -EAGAIN when memory runs out; the pages
 * before are in, the rest fault in on access (and are locked then).
 */
static void test_mlock_populate_errors(void)
{
	setup();
	int fd = test_tmpfile(4 * P, file_pat);
	struct umm_object *file = open_file(fd);
	uintptr_t f, a;
	int err;

	REQUIRE(umm_mmap(mm, 0, 8 * P, PROT_READ, MAP_PRIVATE, file, 0, &f) == 0);
	CHECK_EQ(umm_mlock(mm, f, 8 * P), -ENOMEM);
	CHECK_EQ(locked_vm(), 8);
	CHECK(maps_has_locked());
	CHECK_EQ(resident(f, 4), 4);
	CHECK_EQ(count_unevictable(f, 4), 4);
	CHECK_EQ(read_byte(f + 5 * P), -EIO);
	REQUIRE(umm_munlock(mm, f, 8 * P) == 0);

	a = map_anon(0, 8 * P, RW);
	err = WITH_PAGE_ALLOC_FAILING(2, umm_mlock(mm, a, 8 * P));
	CHECK_EQ(err, -EAGAIN);
	CHECK_EQ(locked_vm(), 8);
	CHECK(resident(a, 8) < 8);
	fill(a, 8 * P, 9);                               /* the rest faults in, locked */
	CHECK_EQ(count_unevictable(a, 8), 8);
	CHECK(holds(a, 8 * P, 9));
	umm_object_put(file);
	close(fd);
	teardown();
}

/* Linux's rounding: addr down, addr + len up; the middle splits, the whole merges back. */
static void test_mlock_split_merge(void)
{
	setup();
	uintptr_t a = map_anon(0, 8 * P, RW);
	char *before = maps();

	CHECK_EQ(nr_vmas(), 1);
	REQUIRE(umm_mlock(mm, a + 2 * P, 4 * P) == 0);
	CHECK_EQ(nr_vmas(), 3);
	CHECK_EQ(locked_vm(), 4);
	CHECK_EQ(resident(a, 8), 4);
	CHECK_EQ(count_unevictable(a + 2 * P, 4), 4);
	/* locking again what is locked changes nothing and counts nothing twice */
	REQUIRE(umm_mlock(mm, a + 2 * P, 4 * P) == 0);
	CHECK_EQ(nr_vmas(), 3);
	CHECK_EQ(locked_vm(), 4);
	/* unlock the middle of the locked part: five vmas */
	REQUIRE(umm_munlock(mm, a + 3 * P, 2 * P) == 0);
	CHECK_EQ(nr_vmas(), 5);
	CHECK_EQ(locked_vm(), 2);
	CHECK_EQ(unevictable(a + 3 * P), 0);
	CHECK_EQ(unevictable(a + 4 * P), 0);
	CHECK_EQ(unevictable(a + 2 * P), 1);
	CHECK_EQ(unevictable(a + 5 * P), 1);
	/* unlock all (it is all mapped): one vma again */
	REQUIRE(umm_munlock(mm, a, 8 * P) == 0);
	CHECK_EQ(nr_vmas(), 1);
	CHECK_EQ(locked_vm(), 0);
	CHECK_MAPS(before);
	CHECK_EQ(count_unevictable(a, 8), 0);

	/* unaligned: 10 bytes from the middle of page 2 lock page 2 */
	REQUIRE(umm_mlock(mm, a + 2 * P + 100, 10) == 0);
	CHECK_EQ(locked_vm(), 1);
	CHECK_EQ(nr_vmas(), 3);
	/* crossing a page boundary by one byte takes both pages */
	REQUIRE(umm_mlock(mm, a + 5 * P - 1, 2) == 0);
	CHECK_EQ(locked_vm(), 3);
	/* len 0 off a page boundary still covers that page, as Linux's PAGE_ALIGN(len + offset) */
	REQUIRE(umm_munlock(mm, a + 2 * P + 1, 0) == 0);
	CHECK_EQ(locked_vm(), 2);
	REQUIRE(umm_munlock(mm, a, 8 * P) == 0);
	CHECK_EQ(nr_vmas(), 1);
	CHECK_MAPS(before);
	free(before);
	teardown();
}

/* MLOCK_ONFAULT: nothing populated; what faults in is locked; a later mlock populates (LTP mlock203). */
static void test_mlock_onfault(void)
{
	setup();
	uintptr_t a = map_anon(0, 8 * P, RW);

	REQUIRE(write_byte(a, 1) == 0);                      /* present before the lock */
	REQUIRE(umm_mlock2(mm, a, 8 * P, MLOCK_ONFAULT) == 0);
	CHECK_EQ(resident(a, 8), 1);
	CHECK_EQ(locked_vm(), 8);
	CHECK_EQ(unevictable(a), 1);
	REQUIRE(write_byte(a + 3 * P, 3) == 0);
	CHECK_EQ(resident(a, 8), 2);
	CHECK_EQ(unevictable(a + 3 * P), 1);
	REQUIRE(read_byte(a + 5 * P) == 0);                  /* the zero page: nothing to lock */
	/* mlock over it: populated, counted once */
	REQUIRE(umm_mlock(mm, a, 8 * P) == 0);
	CHECK_EQ(resident(a, 8), 8);
	CHECK_EQ(locked_vm(), 8);
	CHECK_EQ(count_unevictable(a, 8), 8);
	CHECK_EQ(read_byte(a), 1);
	CHECK_EQ(read_byte(a + 3 * P), 3);
	/* ONFAULT over a part: flags differ, so the vma splits */
	REQUIRE(umm_mlock2(mm, a, 2 * P, MLOCK_ONFAULT) == 0);
	CHECK_EQ(nr_vmas(), 2);
	CHECK_EQ(locked_vm(), 8);
	REQUIRE(umm_mlock(mm, a, 2 * P) == 0);
	CHECK_EQ(nr_vmas(), 1);

	/* MAP_LOCKED populates; under mlockall(MCL_FUTURE | MCL_ONFAULT) a new mapping does not */
	uintptr_t b;
	REQUIRE(umm_mmap(mm, 0, 4 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, NULL, 0, &b) == 0);
	CHECK_EQ(resident(b, 4), 4);
	CHECK_EQ(count_unevictable(b, 4), 4);
	CHECK_EQ(locked_vm(), 12);
	REQUIRE(umm_mlockall(mm, MCL_FUTURE | MCL_ONFAULT) == 0);
	REQUIRE(umm_mmap(mm, 0, 4 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &b) == 0);
	CHECK_EQ(resident(b, 4), 0);
	CHECK_EQ(locked_vm(), 16);
	REQUIRE(write_byte(b + P, 7) == 0);
	CHECK_EQ(unevictable(b + P), 1);
	teardown();
}

/* mlockall: MCL_CURRENT locks and populates what exists, MCL_FUTURE what comes; munlockall ends both. */
static void test_mlockall(void)
{
	setup();
	uintptr_t a = map_anon(0, 8 * P, RW), b, c;

	REQUIRE(umm_mlockall(mm, MCL_CURRENT | MCL_FUTURE) == 0);
	CHECK_EQ(resident(a, 8), 8);
	CHECK_EQ(locked_vm(), 8);
	CHECK_EQ(count_unevictable(a, 8), 8);
	b = map_anon(0, 4 * P, RW);
	CHECK_EQ(resident(b, 4), 4);
	CHECK_EQ(locked_vm(), 12);
	CHECK_EQ(count_unevictable(b, 4), 4);
	/* a grown locked mapping is populated in its new part */
	REQUIRE(umm_mremap(mm, b, 4 * P, 8 * P, MREMAP_MAYMOVE, 0, &b) == 0);
	CHECK_EQ(resident(b, 8), 8);
	CHECK_EQ(locked_vm(), 16);
	CHECK_EQ(count_unevictable(b, 8), 8);

	/* MCL_CURRENT alone turns MCL_FUTURE off */
	REQUIRE(umm_mlockall(mm, MCL_CURRENT) == 0);
	c = map_anon(0, 4 * P, RW);
	CHECK_EQ(resident(c, 4), 0);
	CHECK_EQ(locked_vm(), 16);
	REQUIRE(umm_munmap(mm, c, 4 * P) == 0);

	REQUIRE(umm_mlockall(mm, MCL_FUTURE) == 0);
	REQUIRE(umm_munlockall(mm) == 0);
	CHECK_EQ(locked_vm(), 0);
	CHECK_EQ(count_unevictable(a, 8), 0);
	CHECK_EQ(count_unevictable(b, 8), 0);
	CHECK(!maps_has_locked());
	c = map_anon(0, 4 * P, RW);
	CHECK_EQ(resident(c, 4), 0);
	CHECK_EQ(locked_vm(), 0);
	/* a second munlockall has nothing to do */
	REQUIRE(umm_munlockall(mm) == 0);
	teardown();
}

/* The lock limit: -ENOMEM for mlock/mlockall, -EAGAIN for mmap/mremap; below a page: -EPERM. */
static void test_mlock_limit(void)
{
	struct umm_config cfg = { .phys_bytes = 32 << 20, .debug_checks = 1, .mlock_limit_bytes = 8 * P + 100 };
	uintptr_t a, b, x;
	char *before;

	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	REQUIRE(umm_mm_create(sys, &mm) == 0);
	a = map_anon(0, 8 * P, RW);
	b = map_anon(0, 4 * P, RW);
	REQUIRE(umm_mlock(mm, a, 8 * P) == 0);
	before = maps();
	CHECK_EQ(umm_mlock(mm, b, P), -ENOMEM);
	CHECK_EQ(umm_mlock2(mm, b, P, MLOCK_ONFAULT), -ENOMEM);
	/* what is locked already is not counted twice */
	CHECK_EQ(umm_mlock(mm, a, 8 * P), 0);
	CHECK_EQ(umm_mlock(mm, a + 4 * P, 4 * P), 0);
	CHECK_EQ(umm_mlockall(mm, MCL_CURRENT), -ENOMEM);
	CHECK_EQ(umm_mmap(mm, 0, P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, NULL, 0, &x), -EAGAIN);
	CHECK_EQ(umm_mremap(mm, a, 8 * P, 9 * P, MREMAP_MAYMOVE, 0, &x), -EAGAIN);
	CHECK_MAPS(before);
	CHECK_EQ(locked_vm(), 8);
	CHECK_EQ(resident(b, 4), 0);
	/* after an unlock there is room again; shrinking a locked mapping needs none */
	REQUIRE(umm_munlock(mm, a + 6 * P, 2 * P) == 0);
	CHECK_EQ(umm_mlock(mm, b, 2 * P), 0);
	CHECK_EQ(locked_vm(), 8);
	CHECK_EQ(umm_mremap(mm, b, 2 * P, P, 0, 0, &x), 0);
	CHECK_EQ(locked_vm(), 7);
	/* MCL_FUTURE alone is allowed; then a mapping over the limit is -EAGAIN */
	REQUIRE(umm_mlockall(mm, MCL_FUTURE) == 0);
	CHECK_EQ(umm_mmap(mm, 0, 2 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &x), -EAGAIN);
	CHECK_EQ(umm_mmap(mm, 0, P, RW, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &x), 0);
	CHECK_EQ(locked_vm(), 8);
	free(before);
	teardown();

	/* a limit below one page: no locking at all, -EPERM; unlocking still works */
	cfg.mlock_limit_bytes = 100;
	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	REQUIRE(umm_mm_create(sys, &mm) == 0);
	a = map_anon(0, 4 * P, RW);
	before = maps();
	CHECK_EQ(umm_mlock(mm, a, P), -EPERM);
	CHECK_EQ(umm_mlock2(mm, a, P, MLOCK_ONFAULT), -EPERM);
	CHECK_EQ(umm_mlockall(mm, MCL_CURRENT), -EPERM);
	CHECK_EQ(umm_mlockall(mm, MCL_FUTURE), -EPERM);
	CHECK_EQ(umm_mmap(mm, 0, P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, NULL, 0, &x), -EPERM);
	CHECK_EQ(umm_munlock(mm, a, 4 * P), 0);
	CHECK_EQ(umm_munlockall(mm), 0);
	CHECK_MAPS(before);
	CHECK_EQ(locked_vm(), 0);
	free(before);
	teardown();
}

/* MADV_DONTNEED and MADV_FREE on a locked range are -EINVAL (LTP madvise02); after munlock they work. */
static void test_mlock_dontneed(void)
{
	setup();
	uintptr_t a = map_anon(0, 4 * P, RW);
	char *before;

	fill(a, 4 * P, 3);
	REQUIRE(umm_mlock(mm, a + P, P) == 0);
	before = maps();
	CHECK_EQ(umm_madvise(mm, a, 4 * P, MADV_DONTNEED), -EINVAL);
	CHECK_EQ(umm_madvise(mm, a + P, P, MADV_FREE), -EINVAL);
	CHECK_MAPS(before);
	CHECK(holds(a, 4 * P, 3));
	REQUIRE(umm_munlock(mm, a + P, P) == 0);
	CHECK_EQ(umm_madvise(mm, a, 4 * P, MADV_DONTNEED), 0);
	CHECK(holds_zero(a, 4 * P));
	free(before);
	teardown();
}

/*
 * MADV_COLD and MADV_PAGEOUT on a range with a locked page are -EINVAL
 * (madvise.c checks the whole range first): the maps text, the
 * residency and unevictable marks of the shared file pages, the reclaim
 * and writeback counters and the file (a dirty page not written back)
 * are unchanged.  After munlock, PAGEOUT returns 0 and writes the page back.
 */
static void test_mlock_cold_pageout_einval(void)
{
	setup();
	int fd = test_tmpfile(4 * P, file_pat);
	struct umm_object *obj = open_file(fd);
	struct umm_sys_stats st0, st;
	unsigned char c = 0;
	uintptr_t a;
	char *before;

	REQUIRE(umm_mmap(mm, 0, 4 * P, RW, MAP_SHARED, obj, 0, &a) == 0);
	fill(a, 4 * P, 9);                                 /* every page dirty */
	REQUIRE(umm_mlock(mm, a + P, P) == 0);
	REQUIRE(umm_system_stats(sys, &st0) == 0);
	before = maps();
	CHECK_EQ(umm_madvise(mm, a, 4 * P, MADV_PAGEOUT), -EINVAL);
	CHECK_EQ(umm_madvise(mm, a + P, P, MADV_PAGEOUT), -EINVAL);
	CHECK_EQ(umm_madvise(mm, a, 4 * P, MADV_COLD), -EINVAL);
	CHECK_EQ(umm_madvise(mm, a + P, P, MADV_COLD), -EINVAL);
	CHECK_MAPS(before);
	CHECK_EQ(resident(a, 4), 4);
	CHECK_EQ(count_unevictable(a, 4), 1);
	REQUIRE(umm_system_stats(sys, &st) == 0);
	CHECK_EQ(st.pgsteal, st0.pgsteal);
	CHECK_EQ(st.pgdeactivate, st0.pgdeactivate);
	CHECK_EQ(st.pgwriteback, st0.pgwriteback);
	CHECK_EQ(st.file_write_pages, st0.file_write_pages);
	CHECK_EQ(st.nr_unevictable, st0.nr_unevictable);
	REQUIRE(pread(fd, &c, 1, 0) == 1);
	CHECK(pat(0, 9) != file_pat(0));
	CHECK_EQ(c, file_pat(0));                          /* not written back */
	CHECK(holds(a, 4 * P, 9));

	REQUIRE(umm_munlock(mm, a + P, P) == 0);
	CHECK_EQ(umm_madvise(mm, a, 4 * P, MADV_PAGEOUT), 0);
	REQUIRE(pread(fd, &c, 1, 0) == 1);
	CHECK_EQ(c, pat(0, 9));
	free(before);
	umm_object_put(obj);
	close(fd);
	teardown();
}

/*
 * Growing a locked mapping far beyond memory (mremap of one locked page
 * to 1 GiB in an 8 MiB system) succeeds, as in Linux (the populate's
 * errors are ignored), and gives up populating at the first allocation
 * that reclaim cannot satisfy, not once per page of the rest: the OOM
 * events it leaves are a handful (5 here), not one per remaining page
 * (1,040,488 and 11 s before the fix; a fuzzed input took 25 s trying
 * each page of 28 GiB).
 */
static void test_mremap_locked_grow_past_memory(void)
{
	struct umm_config cfg = { .phys_bytes = 8 << 20 };
	struct umm_sys_stats st0, st;
	uintptr_t a, x;

	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	REQUIRE(umm_mm_create(sys, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, NULL, 0, &a) == 0);
	REQUIRE(umm_system_stats(sys, &st0) == 0);
	CHECK_EQ(umm_mremap(mm, a, P, 1UL << 30, MREMAP_MAYMOVE, 0, &x), 0);
	REQUIRE(umm_system_stats(sys, &st) == 0);
	CHECK(st.oom_events - st0.oom_events <= 16);
	CHECK_EQ(locked_vm(), (1UL << 30) / P);
	CHECK(st.nr_unevictable > 0);
	CHECK_EQ(umm_munmap(mm, x, 1UL << 30), 0);
	CHECK_EQ(locked_vm(), 0);
	teardown();
}

/*
 * fork: the child inherits no lock (VM_LOCKED nor MCL_FUTURE).  The pages
 * it shares copy-on-write with the locked parent stay unevictable while
 * the parent's locked vma maps them, and become evictable when it unlocks.
 */
static void test_mlock_fork(void)
{
	setup();
	uintptr_t a = map_anon(0, 4 * P, RW), c;
	struct umm_mm *child;

	fill(a, 4 * P, 5);
	REQUIRE(umm_mlockall(mm, MCL_CURRENT | MCL_FUTURE) == 0);
	REQUIRE(umm_fork(mm, &child) == 0);
	CHECK_EQ(locked_vm_of(child), 0);
	CHECK_EQ(locked_vm(), 4);
	CHECK_EQ(unevictable_in(child, a), 1);          /* the parent's locked vma maps it */
	/* the child's new mappings are not locked: no MCL_FUTURE */
	REQUIRE(umm_mmap(child, 0, 2 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &c) == 0);
	CHECK_EQ(resident_in(child, c, 2), 0);
	CHECK_EQ(locked_vm_of(child), 0);
	/* a child write breaks COW: its copy is evictable, the parent's page stays locked */
	REQUIRE(umm_write(child, a, "x", 1) == 0);
	CHECK_EQ(unevictable_in(child, a), 0);
	CHECK_EQ(unevictable(a), 1);
	/* a parent write breaks COW the other way: its copy is locked, the
	 * page left to the child alone is evictable again */
	REQUIRE(umm_write(mm, a + 3 * P, "y", 1) == 0);
	REQUIRE(read_byte(a + 3 * P) == 'y');
	CHECK(frame_of(child, a + 3 * P) != frame_of(mm, a + 3 * P));
	CHECK_EQ(unevictable(a + 3 * P), 1);
	CHECK_EQ(unevictable_in(child, a + 3 * P), 0);
	REQUIRE(write_byte(a + 3 * P, pat(3 * P, 5)) == 0);    /* the pattern again */
	/* the parent unlocks: the pages the child still shares are evictable */
	REQUIRE(umm_munlockall(mm) == 0);
	CHECK_EQ(unevictable_in(child, a + P), 0);
	CHECK_EQ(unevictable(a + P), 0);
	/* the child locks its writable private range: copy-on-write is broken
	 * (as Linux does), so its locked copies are unevictable, not the parent's pages */
	REQUIRE(umm_mlock(child, a, 4 * P) == 0);
	CHECK_EQ(unevictable_in(child, a + 2 * P), 1);
	CHECK(frame_of(child, a + 2 * P) != frame_of(mm, a + 2 * P));
	CHECK_EQ(unevictable(a + 2 * P), 0);
	CHECK_EQ(umm_mm_check(child), 0);
	umm_mm_destroy(child);
	CHECK(holds(a, 4 * P, 5));
	/* a read-only private mapping is locked without copies: the shared pages are locked */
	REQUIRE(umm_mprotect(mm, a, 4 * P, PROT_READ) == 0);
	REQUIRE(umm_fork(mm, &child) == 0);
	REQUIRE(umm_mlock(child, a, 4 * P) == 0);
	CHECK(frame_of(child, a + 2 * P) == frame_of(mm, a + 2 * P));
	CHECK_EQ(unevictable(a + 2 * P), 1);
	umm_mm_destroy(child);
	CHECK_EQ(unevictable(a + 2 * P), 0);
	CHECK(holds(a, 4 * P, 5));
	teardown();
}

/*
 * Two address spaces share file pages (MAP_SHARED): the pages are
 * unevictable while either maps them through a locked vma, evictable once
 * neither does - through munlock, munmap or exit.
 */
static void test_mlock_two_mms(void)
{
	setup();
	int fd = test_tmpfile(8 * P, file_pat);
	struct umm_object *file = open_file(fd);
	struct umm_mm *other;
	uintptr_t a, b, a2;

	REQUIRE(umm_mm_create(sys, &other) == 0);
	REQUIRE(umm_mmap(mm, 0, 8 * P, RW, MAP_SHARED, file, 0, &a) == 0);
	REQUIRE(umm_mmap(other, 0, 8 * P, PROT_READ, MAP_SHARED, file, 0, &b) == 0);
	REQUIRE(umm_mlock(mm, a, 8 * P) == 0);
	CHECK_EQ(count_unevictable(a, 8), 8);
	REQUIRE(umm_madvise(other, b, 8 * P, MADV_POPULATE_READ) == 0);
	CHECK_EQ(frame_of(other, b + 3 * P), frame_of(mm, a + 3 * P));
	CHECK_EQ(unevictable_in(other, b + 3 * P), 1);
	/* munlock in mm: only the unlocked other maps them now */
	REQUIRE(umm_munlock(mm, a, 8 * P) == 0);
	CHECK_EQ(count_unevictable(a, 8), 0);

	/* both lock; mm unlocks: other keeps them unevictable */
	REQUIRE(umm_mlock(other, b, 8 * P) == 0);
	CHECK_EQ(count_unevictable(a, 8), 8);
	REQUIRE(umm_mlock(mm, a, 8 * P) == 0);
	REQUIRE(umm_munlock(mm, a, 4 * P) == 0);
	CHECK_EQ(count_unevictable(a, 8), 8);
	/* other unmaps half of its locked range: those pages are locked by no one now */
	REQUIRE(umm_munmap(other, b, 4 * P) == 0);
	CHECK_EQ(count_unevictable(a, 4), 0);
	CHECK_EQ(count_unevictable(a + 4 * P, 4), 4);
	/* a second locked mapping of the same pages in mm: munmap of one keeps them */
	REQUIRE(umm_mmap(mm, 0, 4 * P, PROT_READ, MAP_SHARED | MAP_LOCKED, file, 4 * P, &a2) == 0);
	REQUIRE(umm_munmap(mm, a + 4 * P, 4 * P) == 0);
	CHECK_EQ(unevictable(a2), 1);
	/* other's exit: mm's MAP_LOCKED mapping still holds them */
	umm_mm_destroy(other);
	CHECK_EQ(count_unevictable(a2, 4), 4);
	REQUIRE(umm_munlockall(mm) == 0);
	CHECK_EQ(count_unevictable(a2, 4), 0);
	CHECK(holds_file(a2, 4 * P, 4 * P));
	umm_object_put(file);
	close(fd);
	teardown();
}

/* mremap keeps a locked mapping locked; the part a shrink drops is unlocked. */
static void test_mlock_mremap(void)
{
	setup();
	int fd = test_tmpfile(8 * P, file_pat);
	struct umm_object *file = open_file(fd);
	uintptr_t a, b, m;

	REQUIRE(umm_mmap(mm, 0, 8 * P, PROT_READ, MAP_SHARED, file, 0, &a) == 0);
	REQUIRE(umm_mmap(mm, 0, 8 * P, PROT_READ, MAP_SHARED, file, 0, &b) == 0);
	REQUIRE(umm_mlock(mm, a, 8 * P) == 0);
	REQUIRE(umm_mlock(mm, b, 8 * P) == 0);
	/* move a: still locked, its pages still unevictable */
	REQUIRE(umm_mremap(mm, a, 8 * P, 8 * P, MREMAP_MAYMOVE | MREMAP_FIXED, a + 64 * P, &m) == 0);
	CHECK_EQ(locked_vm(), 16);
	CHECK_EQ(count_unevictable(m, 8), 8);
	REQUIRE(umm_munlock(mm, b, 8 * P) == 0);
	CHECK_EQ(count_unevictable(m, 8), 8);
	/* shrink the moved one: the dropped pages are locked by no one */
	REQUIRE(umm_mremap(mm, m, 8 * P, 4 * P, 0, 0, &m) == 0);
	CHECK_EQ(locked_vm(), 4);
	CHECK_EQ(count_unevictable(b, 8), 4);
	CHECK_EQ(unevictable(b + 5 * P), 0);
	CHECK_EQ(unevictable(b + 2 * P), 1);
	umm_object_put(file);
	close(fd);
	teardown();
}

/* umm_mm_dump_smaps shows Locked: (resident bytes of locked mappings) and the lo/lf flags. */
static void test_mlock_smaps(void)
{
	setup();
	uintptr_t a = map_anon(0, 4 * P, RW), b = map_anon(0, 4 * P, RW);
	char *buf = NULL;
	size_t n = 0;
	FILE *f;

	REQUIRE(umm_mlock(mm, a, 4 * P) == 0);
	REQUIRE(umm_mlock2(mm, b, 4 * P, MLOCK_ONFAULT) == 0);
	REQUIRE(write_byte(b, 1) == 0);
	f = open_memstream(&buf, &n);
	REQUIRE(f);
	REQUIRE(umm_mm_dump_smaps(mm, f) == 0);
	fclose(f);
	CHECK(strstr(buf, "Locked:               16 kB\n") != NULL);
	CHECK(strstr(buf, "Locked:                4 kB\n") != NULL);
	CHECK(strstr(buf, "lo lf ") != NULL);
	free(buf);
	teardown();
}

#if defined(__SANITIZE_THREAD__)
#define RACE_ROUNDS 40
#else
#define RACE_ROUNDS 1000
#endif

struct racer {
	struct umm_mm *mm;
	uintptr_t addr;
	unsigned seed;
};

/* racer_run - lock, read, unlock parts of a shared file mapping, over and over. */
static void *racer_run(void *arg)
{
	struct racer *r = arg;
	uint64_t rng = r->seed;

	for (int i = 0; i < RACE_ROUNDS; i++) {
		uintptr_t a = r->addr + (test_rnd(&rng) % 8) * P;
		size_t len = (1 + test_rnd(&rng) % 8) * P;
		unsigned char c;

		if (a + len > r->addr + 16 * P)
			len = r->addr + 16 * P - a;
		TCHECK(umm_mlock(r->mm, a, len) == 0);
		TCHECK(umm_read(r->mm, a, &c, 1) == 0);
		TCHECK(umm_mm_check(r->mm) == 0);       /* its locked vmas map unevictable pages only */
		TCHECK(umm_munlock(r->mm, a, len) == 0);
		if (i % 16 == 0)
			TCHECK(umm_munlockall(r->mm) == 0);
	}
	return NULL;
}

/*
 * Two address spaces lock and unlock the same file pages at once: the
 * invariant check run by each (a locked vma maps only unevictable pages)
 * must hold throughout, so neither's unlock may clear the mark of a page
 * the other keeps locked.  At the end, with both unlocked and the threads
 * gone, an unlock round leaves every page evictable.
 */
static void test_mlock_race(void)
{
	setup();
	int fd = test_tmpfile(16 * P, file_pat);
	struct umm_object *file = open_file(fd);
	struct racer r[2] = { { .mm = mm, .seed = 1 }, { .seed = 2 } };
	pthread_t t[2];

	REQUIRE(umm_mm_create(sys, &r[1].mm) == 0);
	for (int i = 0; i < 2; i++)
		REQUIRE(umm_mmap(r[i].mm, 0, 16 * P, PROT_READ, MAP_SHARED, file, 0, &r[i].addr) == 0);
	for (int i = 0; i < 2; i++)
		REQUIRE(pthread_create(&t[i], NULL, racer_run, &r[i]) == 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	test_fold_thread_checks();
	/* a lock and unlock round in each, now that no other thread can be busy */
	for (int i = 0; i < 2; i++) {
		REQUIRE(umm_mlock(r[i].mm, r[i].addr, 16 * P) == 0);
		REQUIRE(umm_munlock(r[i].mm, r[i].addr, 16 * P) == 0);
	}
	CHECK_EQ(count_unevictable(r[0].addr, 16), 0);
	CHECK(holds_file(r[0].addr, 16 * P, 0));
	umm_mm_destroy(r[1].mm);
	umm_object_put(file);
	close(fd);
	teardown();
}

struct table_holder {
	struct umm_mm *mm;
	uintptr_t addr;
	_Atomic int held;
};

/* hold_table - hold the pte table lock of h->addr for a while (a busy table for a walk). */
static void *hold_table(void *arg)
{
	struct table_holder *h = arg;
	struct fmutex *ptl;
	pte_t *ptep;

	mmap_read_lock(h->mm);
	ptep = pte_offset_map_lock(h->mm, h->addr, &ptl);
	atomic_store(&h->held, 1);
	usleep(100 * 1000);
	if (ptep)
		pte_unmap_unlock(ptep, ptl);
	mmap_read_unlock(h->mm);
	return NULL;
}

/*
 * An unlock whose reverse-map walk finds the other address space's pte
 * table busy waits for it and looks again: the page the other still
 * locks stays unevictable.  (A waiting pte-chain walk used to restart
 * without visiting any pte once it had met a busy table.)
 */
static void test_mlock_busy_table(void)
{
	setup();
	int fd = test_tmpfile(4 * P, file_pat);
	struct umm_object *file = open_file(fd);
	struct table_holder h = { 0 };
	struct umm_mm *other;
	uintptr_t a;
	pthread_t t;

	REQUIRE(umm_mm_create(sys, &other) == 0);
	REQUIRE(umm_mmap(mm, 0, 4 * P, PROT_READ, MAP_SHARED, file, 0, &a) == 0);
	REQUIRE(umm_mmap(other, 0, 4 * P, PROT_READ, MAP_SHARED, file, 0, &h.addr) == 0);
	REQUIRE(umm_mlock(mm, a, 4 * P) == 0);
	REQUIRE(umm_mlock(other, h.addr, 4 * P) == 0);
	h.mm = other;
	REQUIRE(pthread_create(&t, NULL, hold_table, &h) == 0);
	while (!atomic_load(&h.held))
		sched_yield();
	REQUIRE(umm_munlock(mm, a, 4 * P) == 0);        /* walks while other's table is busy */
	pthread_join(t, NULL);
	CHECK_EQ(count_unevictable(a, 4), 4);
	CHECK_EQ(umm_mm_check(other), 0);
	REQUIRE(umm_munlock(other, h.addr, 4 * P) == 0);
	CHECK_EQ(count_unevictable(a, 4), 0);
	umm_mm_destroy(other);
	umm_object_put(file);
	close(fd);
	teardown();
}

int main(void)
{
	RUN(test_mlock_bad_input);
	RUN(test_mlock_populates);
	RUN(test_mlock_populate_errors);
	RUN(test_mlock_split_merge);
	RUN(test_mlock_onfault);
	RUN(test_mlockall);
	RUN(test_mlock_limit);
	RUN(test_mlock_dontneed);
	RUN(test_mlock_cold_pageout_einval);
	RUN(test_mremap_locked_grow_past_memory);
	RUN(test_mlock_fork);
	RUN(test_mlock_two_mms);
	RUN(test_mlock_mremap);
	RUN(test_mlock_smaps);
	RUN(test_mlock_race);
	RUN(test_mlock_busy_table);
	return test_summary("test_mlock");
}
