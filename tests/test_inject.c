/* SPDX-License-Identifier: MIT */
/*
 * test_inject.c - failure injection and bad handles through the public API.
 *
 * Theory of operation.
 *
 * Frame allocation (UMM_INJECT_PAGE_ALLOC): one scenario - map anonymous
 * and file memory, write pages, fork, write in the child, map many small
 * VMAs (so VMA slabs run out at varying points), mprotect (a split),
 * mremap (a move), munmap (a split), write after fork - is run
 * again and again on a fresh system, the k-th time with the allocator
 * failing after k successful allocations, once for a single failure and
 * once for every allocation from then on.  k grows until the scenario no
 * longer reaches an injected failure.  Every call must return 0 or
 * -ENOMEM (a write to a mapping that failed to appear, -EFAULT); a
 * small expected state records what the calls that succeeded did.  After
 * disarming, umm_mm_check() passes on parent and child, every byte a
 * successful write stored is still there (and nothing else changed), the
 * file gets exactly the object's bytes, and once everything is destroyed
 * the free frame count is back to its value before the scenario.
 *
 * Backing reads (UMM_INJECT_READ): a fault on an uncached file page is
 * -EIO (read fault, and the COW fault of a private write), leaves no page
 * in the cache, and the same access succeeds after disarming; cached pages
 * need no read.  Backing writes (UMM_INJECT_WRITE): umm_object_sync reports
 * -EIO, the file keeps its old bytes, and a later sync (or the last put)
 * writes everything that was written - partially failed syncs included.
 *
 * Bad handles: every public call given NULL handles or pointers, or a bad
 * injection site, returns a negative errno (or, for the void/accessor
 * calls, does nothing) and changes nothing.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <usermm/usermm.h>
#include "test.h"

#define PS 4096UL

static unsigned char file_byte(size_t off)
{
	return (unsigned char)(0x40 + off / PS);
}

/* page_is_byte - the page at addr reads successfully and every byte is b. */
static bool page_is_byte(struct umm_mm *mm, uintptr_t addr, unsigned char b)
{
	unsigned char page[PS];

	if (umm_read(mm, addr, page, PS) != 0)
		return false;
	for (size_t i = 0; i < PS; i++)
		if (page[i] != b)
			return false;
	return true;
}

static int write_byte_page(struct umm_mm *mm, uintptr_t addr, unsigned char b)
{
	unsigned char page[PS];

	memset(page, b, PS);
	return umm_write(mm, addr, page, PS);
}

/* ---- frame allocation failures ---- */

#define A_ADDR 0x1000000UL     /* private anonymous, 8 pages */
#define F_ADDR 0x2000000UL     /* shared file, 8 pages */
#define P_ADDR 0x3000000UL     /* private file, 4 pages */
#define M_ADDR 0x4000000UL     /* where A's upper half moves */
#define V_ADDR 0x5000000UL     /* one-page mappings that fill the VMA slab */
#define NP     8
#define NFILL  64

/* What the calls that succeeded did.  A byte value 0 means "zero page". */
struct expect {
	bool a_mapped, f_mapped, p_mapped, moved, a_ro;
	unsigned char a[NP];           /* parent's A pages */
	bool f_hole[NP];               /* unmapped from the parent's F */
	unsigned char p[4];            /* private file pages, 0 = the object's page */
	struct umm_mm *child;
	unsigned char ca[NP], cp[4];   /* the child's A and P pages */
	int nfill;
	bool fill[NFILL];              /* which one-page mappings exist */
};

static unsigned char obj_bytes[NP];   /* the file object's page contents */
static long inject_bad_rc;            /* calls that returned something unexpected */

/* The calls of the scenario, to count where -ENOMEM was seen. */
enum { S_MM_CREATE, S_MMAP, S_WRITE, S_FORK, S_MPROTECT, S_MREMAP, S_MUNMAP, S_NR };
static const char *const site_names[S_NR] = {
	"mm_create", "mmap", "write", "fork", "mprotect", "mremap", "munmap",
};
static unsigned long enomem_seen[S_NR];

/* ok_rc - a call under injection: 0, -ENOMEM, or (when not `present`) -EFAULT. */
static bool ok_rc(int rc, bool present, int site, long k)
{
	if (rc == -ENOMEM && present)
		enomem_seen[site]++;
	if (rc == 0 || (present && rc == -ENOMEM) || (!present && rc == -EFAULT))
		return rc == 0;
	inject_bad_rc++;
	fprintf(stderr, "  k=%ld %s: unexpected %d (%s)\n", k, site_names[site], rc, umm_strerror(rc));
	return false;
}

static void scenario_map_write(struct umm_mm *mm, struct umm_object *obj, struct expect *e, long k)
{
	uintptr_t out;
	int i;

	e->a_mapped = ok_rc(umm_mmap(mm, A_ADDR, NP * PS, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0, &out), true, S_MMAP, k);
	e->f_mapped = ok_rc(umm_mmap(mm, F_ADDR, NP * PS, PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_FIXED, obj, 0, &out), true, S_MMAP, k);
	e->p_mapped = ok_rc(umm_mmap(mm, P_ADDR, 4 * PS, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_FIXED, obj, 0, &out), true, S_MMAP, k);
	for (i = 0; i < NP; i++) {
		if (ok_rc(write_byte_page(mm, A_ADDR + i * PS, 0x10 + i), e->a_mapped, S_WRITE, k))
			e->a[i] = 0x10 + i;
		if (ok_rc(write_byte_page(mm, F_ADDR + i * PS, 0x20 + i), e->f_mapped, S_WRITE, k))
			obj_bytes[i] = 0x20 + i;
	}
	for (i = 0; i < 4; i += 2)
		if (ok_rc(write_byte_page(mm, P_ADDR + i * PS, 0x30 + i), e->p_mapped, S_WRITE, k))
			e->p[i] = 0x30 + i;
}

static void scenario_fork(struct umm_mm *mm, struct expect *e, long k)
{
	struct umm_mm *child = NULL;
	int i;

	if (!ok_rc(umm_fork(mm, &child), true, S_FORK, k))
		return;
	e->child = child;
	memcpy(e->ca, e->a, sizeof(e->ca));
	memcpy(e->cp, e->p, sizeof(e->cp));
	for (i = 0; i < 4; i++)
		if (ok_rc(write_byte_page(child, A_ADDR + i * PS, 0x50 + i), e->a_mapped, S_WRITE, k))
			e->ca[i] = 0x50 + i;
	if (ok_rc(write_byte_page(child, F_ADDR + 7 * PS, 0x5f), e->f_mapped, S_WRITE, k))
		obj_bytes[7] = 0x5f;
	if (ok_rc(write_byte_page(child, P_ADDR + PS, 0x5e), e->p_mapped, S_WRITE, k))
		e->cp[1] = 0x5e;
}

/*
 * scenario_fill - many VMAs, so that VMA allocations (here and in the
 * splits that follow) need fresh slabs; how many varies with k so a slab
 * boundary falls on different later calls.
 */
static void scenario_fill(struct umm_mm *mm, struct expect *e, long k)
{
	uintptr_t out;

	for (int i = 0; i < e->nfill; i++)
		e->fill[i] = ok_rc(umm_mmap(mm, V_ADDR + 2 * i * PS, PS,
					    i % 2 ? PROT_READ : PROT_READ | PROT_WRITE,
					    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0, &out),
				   true, S_MMAP, k);
}

static void scenario_change(struct umm_mm *mm, struct expect *e, long k)
{
	uintptr_t out;

	if (e->a_mapped) {
		e->a_ro = ok_rc(umm_mprotect(mm, A_ADDR + 2 * PS, 2 * PS, PROT_READ), true, S_MPROTECT, k);
		e->moved = ok_rc(umm_mremap(mm, A_ADDR + 4 * PS, 4 * PS, 6 * PS,
					    MREMAP_MAYMOVE | MREMAP_FIXED, M_ADDR, &out), true, S_MREMAP, k);
	}
	if (e->f_mapped && ok_rc(umm_munmap(mm, F_ADDR + 3 * PS, 2 * PS), true, S_MUNMAP, k))
		e->f_hole[3] = e->f_hole[4] = true;
	if (ok_rc(write_byte_page(mm, A_ADDR, 0x60), e->a_mapped, S_WRITE, k))
		e->a[0] = 0x60;
	if (ok_rc(write_byte_page(mm, F_ADDR, 0x61), e->f_mapped, S_WRITE, k))
		obj_bytes[0] = 0x61;
}

/* a_addr - where the parent's A page i is now. */
static uintptr_t a_addr(const struct expect *e, int i)
{
	return e->moved && i >= 4 ? M_ADDR + (i - 4) * PS : A_ADDR + i * PS;
}

/* verify_parent - every page of the parent reads as the successful calls left it. */
static void verify_parent(struct umm_mm *mm, const struct expect *e, long k)
{
	unsigned char c = 0;
	int bad = 0, i;

	for (i = 0; i < NP; i++) {
		if (e->a_mapped)
			bad += !page_is_byte(mm, a_addr(e, i), e->a[i]);
		else
			bad += umm_read(mm, A_ADDR + i * PS, &c, 1) != -EFAULT;
		if (e->f_mapped && !e->f_hole[i])
			bad += !page_is_byte(mm, F_ADDR + i * PS, obj_bytes[i]);
		else
			bad += umm_read(mm, F_ADDR + i * PS, &c, 1) != -EFAULT;
	}
	if (e->moved) {
		bad += umm_read(mm, A_ADDR + 4 * PS, &c, 1) != -EFAULT;
		bad += !page_is_byte(mm, M_ADDR + 4 * PS, 0) || !page_is_byte(mm, M_ADDR + 5 * PS, 0);
	}
	if (e->a_mapped) {   /* protection is what the mprotect outcome says */
		c = e->a[2];     /* rewrite the byte it holds: contents stay as expected */
		bad += umm_write(mm, A_ADDR + 2 * PS, &c, 1) != (e->a_ro ? -EFAULT : 0);
	}
	for (i = 0; i < 4; i++) {
		if (e->p_mapped)
			bad += !page_is_byte(mm, P_ADDR + i * PS, e->p[i] ? e->p[i] : obj_bytes[i]);
		else
			bad += umm_read(mm, P_ADDR + i * PS, &c, 1) != -EFAULT;
	}
	for (i = 0; i < NFILL; i++) {
		uintptr_t v = V_ADDR + 2 * i * PS;

		if (i < e->nfill && e->fill[i]) {
			bad += !page_is_byte(mm, v, 0);
			bad += umm_write(mm, v, &c, 1) != (i % 2 ? -EFAULT : 0);
		} else {
			bad += umm_read(mm, v, &c, 1) != -EFAULT;
		}
		bad += umm_read(mm, v + PS, &c, 1) != -EFAULT;
	}
	CHECK_EQ(bad, 0);
	if (bad)
		fprintf(stderr, "  k=%ld: parent data differs (%d pages)\n", k, bad);
}

static void verify_child(const struct expect *e, long k)
{
	int bad = 0, i;

	if (!e->child)
		return;
	for (i = 0; i < NP && e->a_mapped; i++)
		bad += !page_is_byte(e->child, A_ADDR + i * PS, e->ca[i]);
	for (i = 0; i < NP && e->f_mapped; i++)
		bad += !page_is_byte(e->child, F_ADDR + i * PS, obj_bytes[i]);
	for (i = 0; i < 4 && e->p_mapped; i++)
		bad += !page_is_byte(e->child, P_ADDR + i * PS, e->cp[i] ? e->cp[i] : obj_bytes[i]);
	CHECK_EQ(bad, 0);
	if (bad)
		fprintf(stderr, "  k=%ld: child data differs (%d pages)\n", k, bad);
}

/* file_matches - the file holds obj_bytes page by page. */
static bool file_matches(int fd)
{
	unsigned char page[PS];

	for (int i = 0; i < NP; i++) {
		if (pread(fd, page, PS, (off_t)i * PS) != (ssize_t)PS)
			return false;
		for (size_t j = 0; j < PS; j++)
			if (page[j] != obj_bytes[i])
				return false;
	}
	return true;
}

/*
 * alloc_failure_run - one run of the scenario on sys with the allocator
 * failing after k allocations (`times` failures) and `nfill` small VMAs.
 * Everything is torn down again; returns the failures injected.
 */
static unsigned long alloc_failure_run(struct umm_system *sys, unsigned long baseline,
				       long k, long times, int nfill)
{
	unsigned long hits0 = umm_inject_hits(sys, UMM_INJECT_PAGE_ALLOC), hits, now;
	struct umm_object *obj = NULL;
	struct umm_mm *mm = NULL;
	struct expect e = { 0 };
	int fd;

	for (int i = 0; i < NP; i++)
		obj_bytes[i] = file_byte((size_t)i * PS);
	fd = test_tmpfile(NP * PS, file_byte);
	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	e.nfill = nfill;

	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_PAGE_ALLOC, k, times), 0);
	if (ok_rc(umm_mm_create(sys, &mm), true, S_MM_CREATE, k)) {
		scenario_map_write(mm, obj, &e, k);
		scenario_fork(mm, &e, k);
		scenario_fill(mm, &e, k);
		scenario_change(mm, &e, k);
	}
	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_PAGE_ALLOC, 0, 0), 0);
	hits = umm_inject_hits(sys, UMM_INJECT_PAGE_ALLOC) - hits0;
	if (times > 0)
		CHECK(hits <= (unsigned long)times);

	if (mm) {
		CHECK_EQ(umm_mm_check(mm), 0);
		verify_parent(mm, &e, k);
	}
	if (e.child) {
		CHECK_EQ(umm_mm_check(e.child), 0);
		verify_child(&e, k);
		umm_mm_destroy(e.child);
	}
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK(file_matches(fd));
	umm_mm_destroy(mm);
	umm_object_put(obj);
	CHECK(file_matches(fd));
	CHECK_EQ(umm_system_check(sys), 0);
	now = test_free_frames(sys);
	CHECK_EQ(now, baseline);
	if (now != baseline)
		fprintf(stderr, "  k=%ld times=%ld nfill=%d: %ld frames leaked\n", k, times, nfill,
			(long)baseline - (long)now);
	close(fd);
	return hits;
}

/*
 * alloc_failure_sweep - k = 0, 1, ... until the scenario no longer reaches
 * the injected failure.  Returns the number of runs that had one.
 */
static long alloc_failure_sweep(long times, int nfill)
{
	struct umm_system *sys = test_sys_create(4UL << 20, 1);
	unsigned long baseline;
	long k;

	test_warm_up(sys);
	baseline = test_free_frames(sys);
	for (k = 0; k < 1000; k++)
		if (alloc_failure_run(sys, baseline, k, times, nfill) == 0)
			break;
	CHECK(k < 1000);
	umm_system_destroy(sys);
	return k;
}

static void test_alloc_failures(void)
{
	/*
	 * A VMA slab holds a few dozen VMAs: these fill counts put a slab
	 * boundary on the scenario's later mmap/mprotect/mremap/munmap calls.
	 */
	static const int fills[] = { 0, 20, 24, 27, 28, 29, 30, 31, 32, 34, 40, 60 };
	long runs = 0;

	inject_bad_rc = 0;
	for (size_t i = 0; i < sizeof(fills) / sizeof(fills[0]); i++) {
		runs += alloc_failure_sweep(1, fills[i]);
		if (fills[i] == 0 || fills[i] == 40)
			runs += alloc_failure_sweep(-1, fills[i]);
	}
	fprintf(stderr, "  %ld runs with an injected allocation failure; -ENOMEM seen:", runs);
	for (int i = 0; i < S_NR; i++)
		fprintf(stderr, " %s %lu%s", site_names[i], enomem_seen[i], i + 1 < S_NR ? "," : "\n");
	CHECK(runs > 100);
	CHECK_EQ(inject_bad_rc, 0);
	for (int i = 0; i < S_NR; i++)
		CHECK(enomem_seen[i] > 0);
}

/* ---- backing read failures ---- */

static void test_read_failures(void)
{
	/* readahead off, so each fault reads exactly its page (test_readahead covers readahead) */
	struct umm_config cfg = { .phys_bytes = 8UL << 20, .debug_checks = 1,
				  .readahead_max_bytes = PS };
	struct umm_system *sys = NULL;
	struct umm_object *obj = NULL;
	struct umm_mm *mm = NULL;
	uintptr_t x, y;
	unsigned char c = 0;
	unsigned long baseline;
	int fd = test_tmpfile(4 * PS, file_byte);

	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	test_warm_up(sys);
	baseline = test_free_frames(sys);
	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	REQUIRE(umm_mm_create(sys, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, 4 * PS, PROT_READ, MAP_SHARED, obj, 0, &x) == 0);
	REQUIRE(umm_mmap(mm, 0, 4 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, obj, 0, &y) == 0);

	/* one failure: -EIO, nothing cached, then the retry reads the page */
	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_READ, 0, 1), 0);
	CHECK_EQ(umm_read(mm, x, &c, 1), -EIO);
	CHECK_EQ(umm_inject_hits(sys, UMM_INJECT_READ), 1);
	CHECK_EQ(umm_object_cached_pages(obj), 0);
	CHECK(page_is_byte(mm, x, file_byte(0)));
	CHECK_EQ(umm_object_cached_pages(obj), 1);

	/* failing until disarmed: read and private-write faults both -EIO */
	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_READ, 0, -1), 0);
	CHECK_EQ(umm_read(mm, x + PS, &c, 1), -EIO);
	CHECK_EQ(umm_read(mm, x + PS, &c, 1), -EIO);
	CHECK_EQ(write_byte_page(mm, y + 2 * PS, 0x77), -EIO);
	CHECK(page_is_byte(mm, x, file_byte(0)));            /* cached: no read needed */
	CHECK(page_is_byte(mm, y, file_byte(0)));            /* same cached page, privately */
	{
		static unsigned char two[2 * PS];

		CHECK_EQ(umm_read(mm, x, two, 2 * PS), -EIO);  /* runs into page 1 */
	}
	CHECK_EQ(umm_object_cached_pages(obj), 1);
	CHECK_EQ(umm_mm_check(mm), 0);
	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_READ, 0, 0), 0);
	CHECK_EQ(umm_inject_hits(sys, UMM_INJECT_READ), 5);

	CHECK(page_is_byte(mm, x + PS, file_byte(PS)));
	CHECK_EQ(write_byte_page(mm, y + 2 * PS, 0x77), 0);
	CHECK(page_is_byte(mm, y + 2 * PS, 0x77));
	CHECK(page_is_byte(mm, x + 2 * PS, file_byte(2 * PS)));   /* the file page is untouched */

	/* skip: the next read succeeds, the one after fails once, then reads work */
	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_READ, 1, 1), 0);
	CHECK(page_is_byte(mm, x + 3 * PS, file_byte(3 * PS)));   /* the last uncached page */
	CHECK_EQ(umm_object_truncate(obj, 2 * PS), 0);            /* drop pages 2 and 3 */
	CHECK_EQ(umm_object_truncate(obj, 4 * PS), 0);
	CHECK_EQ(umm_read(mm, x + 2 * PS, &c, 1), -EIO);
	CHECK(page_is_byte(mm, x + 2 * PS, file_byte(2 * PS)) == false);  /* the file was cut: zeros */
	CHECK(page_is_byte(mm, x + 2 * PS, 0));
	CHECK(page_is_byte(mm, y + 2 * PS, 0));   /* the private copy went with the truncation */
	CHECK_EQ(umm_inject_hits(sys, UMM_INJECT_READ), 6);
	CHECK_EQ(umm_mm_check(mm), 0);
	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_READ, 0, 0), 0);

	umm_mm_destroy(mm);
	umm_object_put(obj);
	CHECK_EQ(test_free_frames(sys), baseline);
	close(fd);
	umm_system_destroy(sys);
}

/* ---- backing write failures ---- */

static bool file_pages_are(int fd, const unsigned char *bytes, int n)
{
	unsigned char page[PS];

	for (int i = 0; i < n; i++) {
		if (pread(fd, page, PS, (off_t)i * PS) != (ssize_t)PS)
			return false;
		for (size_t j = 0; j < PS; j++)
			if (page[j] != bytes[i])
				return false;
	}
	return true;
}

static void test_write_failures(void)
{
	struct umm_system *sys = test_sys_create(8UL << 20, 1);
	struct umm_object *obj = NULL;
	struct umm_mm *mm = NULL;
	unsigned char want[4];
	unsigned long baseline;
	uintptr_t x;
	int fd = test_tmpfile(4 * PS, file_byte);

	test_warm_up(sys);
	baseline = test_free_frames(sys);
	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	REQUIRE(umm_mm_create(sys, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, 4 * PS, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &x) == 0);

	/* every writeback fails: reported, the file keeps its old bytes */
	for (int i = 0; i < 4; i++) {
		want[i] = (unsigned char)(0xa0 + i);
		CHECK_EQ(write_byte_page(mm, x + i * PS, want[i]), 0);
	}
	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_WRITE, 0, -1), 0);
	CHECK_EQ(umm_object_sync(obj, 0, 0), -EIO);
	CHECK_EQ(umm_object_sync(obj, 0, 0), -EIO);
	CHECK(umm_inject_hits(sys, UMM_INJECT_WRITE) >= 2);
	{
		unsigned char old[4] = { file_byte(0), file_byte(PS), file_byte(2 * PS), file_byte(3 * PS) };

		CHECK(file_pages_are(fd, old, 4));
	}
	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_WRITE, 0, 0), 0);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK(file_pages_are(fd, want, 4));

	/* writes after a successful sync, then one failed page among four */
	for (int i = 0; i < 4; i++) {
		want[i] = (unsigned char)(0xb0 + i);
		CHECK_EQ(write_byte_page(mm, x + i * PS, want[i]), 0);
	}
	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_WRITE, 2, 1), 0);
	CHECK_EQ(umm_object_sync(obj, 0, 0), -EIO);
	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_WRITE, 0, 0), 0);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK(file_pages_are(fd, want, 4));

	/* a failed sync, then unmap and the last put: the data still arrives */
	want[1] = 0xc1;
	CHECK_EQ(write_byte_page(mm, x + PS, want[1]), 0);
	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_WRITE, 0, -1), 0);
	CHECK_EQ(umm_object_sync(obj, PS, PS), -EIO);
	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_WRITE, 0, 0), 0);
	CHECK_EQ(umm_mm_check(mm), 0);
	umm_mm_destroy(mm);
	umm_object_put(obj);
	CHECK(file_pages_are(fd, want, 4));
	CHECK_EQ(test_free_frames(sys), baseline);
	close(fd);
	umm_system_destroy(sys);
}

/* ---- bad handles and pointers ---- */

static void test_bad_system_calls(void)
{
	struct umm_config cfg = { 0 };
	struct umm_system *sys = NULL;
	struct umm_sys_stats st;

	CHECK_EQ(umm_system_create(&cfg, NULL), -EINVAL);
	CHECK_EQ(umm_system_create(NULL, NULL), -EINVAL);
	cfg.phys_bytes = 1UL << 19;
	CHECK_EQ(umm_system_create(&cfg, &sys), -EINVAL);
	CHECK(sys == NULL);
	cfg.phys_bytes = 0;
	cfg.rmap = 77;
	CHECK_EQ(umm_system_create(&cfg, &sys), -EINVAL);
	CHECK(sys == NULL);
	/* NULL config: defaults (256 MiB) */
	CHECK_EQ(umm_system_create(NULL, &sys), 0);
	REQUIRE(sys != NULL);
	CHECK_EQ(umm_system_stats(sys, &st), 0);
	CHECK_EQ(st.total_frames, (256UL << 20) / PS);
	CHECK_EQ(umm_system_stats(NULL, &st), -EINVAL);
	CHECK_EQ(umm_system_stats(sys, NULL), -EINVAL);
	CHECK(umm_system_check(NULL) < 0);
	CHECK_EQ(umm_system_check(sys), 0);

	CHECK_EQ(umm_inject_fault(NULL, UMM_INJECT_READ, 0, 1), -EINVAL);
	CHECK_EQ(umm_inject_fault(sys, -1, 0, 1), -EINVAL);
	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT__COUNT, 0, 1), -EINVAL);
	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_READ, -1, 1), -EINVAL);
	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_READ, 0, -2), -EINVAL);
	CHECK_EQ(umm_inject_hits(NULL, UMM_INJECT_READ), 0);
	CHECK_EQ(umm_inject_hits(sys, 99), 0);
	CHECK_EQ(umm_inject_hits(sys, UMM_INJECT_READ), 0);

	CHECK(umm_strerror(0) != NULL);
	CHECK(umm_strerror(-EFAULT) != NULL && umm_strerror(EIO) != NULL);
	CHECK(umm_strerror(-123456) != NULL);
	umm_system_destroy(NULL);
	umm_system_destroy(sys);
}

static void test_bad_object_calls(void)
{
	struct umm_system *sys = test_sys_create(4UL << 20, 1);
	struct umm_object *obj = (struct umm_object *)0, *o2 = NULL;
	int fd = test_tmpfile(PS, file_byte), dirfd, wrfd;
	char path[64];

	CHECK_EQ(umm_object_open_fd(NULL, fd, &obj), -EINVAL);
	CHECK_EQ(umm_object_open_fd(sys, fd, NULL), -EINVAL);
	CHECK_EQ(umm_object_open_fd(sys, -1, &obj), -EBADF);
	CHECK_EQ(umm_object_open_fd(sys, 1000000, &obj), -EBADF);
	dirfd = open("/tmp", O_RDONLY | O_DIRECTORY);
	CHECK_EQ(umm_object_open_fd(sys, dirfd, &obj), -EINVAL);
	close(dirfd);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	wrfd = open(path, O_WRONLY);
	if (wrfd >= 0) {
		CHECK_EQ(umm_object_open_fd(sys, wrfd, &obj), -EACCES);
		close(wrfd);
	}
	CHECK(obj == NULL);
	CHECK_EQ(umm_object_create_shmem(NULL, PS, &obj), -EINVAL);
	CHECK_EQ(umm_object_create_shmem(sys, PS, NULL), -EINVAL);
	CHECK_EQ(umm_object_create_shmem(sys, (size_t)-1, &obj), -EINVAL);
	CHECK_EQ(umm_object_truncate(NULL, 0), -EINVAL);
	CHECK_EQ(umm_object_sync(NULL, 0, 0), -EINVAL);
	CHECK_EQ(umm_object_size(NULL), 0);
	CHECK_EQ(umm_object_cached_pages(NULL), 0);
	umm_object_get(NULL);
	umm_object_put(NULL);

	REQUIRE(umm_object_open_fd(sys, fd, &o2) == 0);
	CHECK_EQ(umm_object_sync(o2, UINT64_MAX - 10, 100), -EINVAL);   /* wraps */
	CHECK_EQ(umm_object_size(o2), PS);
	umm_object_put(o2);
	close(fd);
	umm_system_destroy(sys);
}

static void test_bad_mm_calls(void)
{
	struct umm_system *sys = test_sys_create(4UL << 20, 1);
	struct umm_mm *mm = NULL, *child = NULL;
	struct umm_mm_stats ms;
	struct umm_page *pages[1] = { NULL };
	uintptr_t out = 0;
	unsigned char buf[16] = { 0 };

	CHECK_EQ(umm_mm_create(NULL, &mm), -EINVAL);
	CHECK_EQ(umm_mm_create(sys, NULL), -EINVAL);
	CHECK(mm == NULL);
	REQUIRE(umm_mm_create(sys, &mm) == 0);
	CHECK_EQ(umm_fork(NULL, &child), -EINVAL);
	CHECK_EQ(umm_fork(mm, NULL), -EINVAL);
	CHECK(child == NULL);
	umm_mm_destroy(NULL);

	CHECK_EQ(umm_mmap(NULL, 0, PS, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &out), -EINVAL);
	CHECK_EQ(umm_mmap(mm, 0, PS, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, NULL), -EINVAL);
	CHECK_EQ(umm_mmap(mm, 0, PS, PROT_READ, MAP_PRIVATE, NULL, 0, &out), -EBADF);   /* no object */
	CHECK_EQ(umm_munmap(NULL, 0x100000, PS), -EINVAL);
	CHECK_EQ(umm_mprotect(NULL, 0x100000, PS, PROT_READ), -EINVAL);
	CHECK_EQ(umm_mremap(NULL, 0x100000, PS, 2 * PS, MREMAP_MAYMOVE, 0, &out), -EINVAL);
	CHECK_EQ(umm_mremap(mm, 0x100000, PS, 2 * PS, MREMAP_MAYMOVE, 0, NULL), -EINVAL);

	CHECK(umm_read(NULL, 0x100000, buf, 1) < 0);
	CHECK(umm_write(NULL, 0x100000, buf, 1) < 0);
	CHECK(umm_pin_pages(NULL, 0x100000, 1, 0, pages) < 0);
	CHECK(umm_pin_pages(mm, 0x100000, 1, 0, NULL) < 0);
	CHECK(pages[0] == NULL);
	umm_unpin_pages(NULL, 0, 0);
	umm_unpin_pages(pages, 1, UMM_PIN_WRITE);     /* NULL entries are skipped */
	CHECK(umm_page_address(NULL) == NULL);

	CHECK_EQ(umm_mm_stats(NULL, &ms), -EINVAL);
	CHECK_EQ(umm_mm_stats(mm, NULL), -EINVAL);
	CHECK_EQ(umm_mm_dump_maps(NULL, stderr), -EINVAL);
	CHECK_EQ(umm_mm_dump_maps(mm, NULL), -EINVAL);
	CHECK_EQ(umm_mm_dump_smaps(NULL, stderr), -EINVAL);
	CHECK_EQ(umm_mm_dump_smaps(mm, NULL), -EINVAL);
	CHECK(umm_mm_check(NULL) < 0);

	/* nothing above changed the address space */
	CHECK_EQ(umm_mm_stats(mm, &ms), 0);
	CHECK_EQ(ms.nr_vmas, 0);
	CHECK_EQ(ms.total_vm, 0);
	CHECK_EQ(umm_mm_check(mm), 0);
	umm_mm_destroy(mm);
	umm_system_destroy(sys);
}

int main(void)
{
	RUN(test_bad_system_calls);
	RUN(test_bad_object_calls);
	RUN(test_bad_mm_calls);
	RUN(test_read_failures);
	RUN(test_write_failures);
	RUN(test_alloc_failures);
	return test_summary("test_inject");
}
