/* SPDX-License-Identifier: MIT */
/*
 * test_fremap.c - nonlinear windows (umm_remap_file_pages and the vectored
 * form): LTP remap_file_pages01/02 behaviours (a window of chunks
 * remapped in reverse order reads the remapped pages, on shmem and on a
 * real file), every bad input (nothing changes), MAP_NONBLOCK (cached
 * pages mapped, file ptes for the rest, no stale pte, no I/O), per-range
 * protection (-EFAULT exactly where it forbids, mprotect resets it), the
 * layout surviving a zap that is not an unmap and truncate-and-extend,
 * fork, munmap/mremap of part of a window, writeback to the right file
 * offsets, umm_msync of part of a window (present, file and empty ptes),
 * the vectored form (= the single calls, atomic on a bad entry)
 * and the invariant checker's view of file ptes.
 */
#include <fcntl.h>
#include <pthread.h>
#include "mm_fixture.h"
#include "gup.h"
#include "memory.h"
#include "nonlinear_index.h"
#include "object.h"
#include "filemap.h"
#include "tlb.h"
#include "rmap.h"
#include "vmscan.h"

#define TAG(i) (0x7a6e0000u + (unsigned)(i))

/* pte_at - the pte of mm at addr (0 if no table). */
static pte_t pte_at(struct umm_mm *m, uintptr_t addr)
{
	struct fmutex *ptl;
	pte_t *p, v = 0;

	mmap_read_lock(m);
	p = pte_offset_map_lock(m, addr, &ptl);
	if (p) {
		v = *p;
		pte_unmap_unlock(p, ptl);
	}
	mmap_read_unlock(m);
	return v;
}

/* tag_at - the tag word at the start of the page at addr in m, or a negative errno. */
static long tag_at(struct umm_mm *m, uintptr_t addr)
{
	uint32_t v;
	int err = umm_read(m, addr, &v, sizeof(v));

	return err ? err : (long)v;
}

/* map_obj - a MAP_SHARED mapping of npages of obj from page 0. */
static uintptr_t map_obj(struct umm_object *obj, size_t npages, int prot)
{
	uintptr_t a = 0;

	REQUIRE(umm_mmap(mm, 0, npages * P, prot, MAP_SHARED, obj, 0, &a) == 0);
	return a;
}

/* shmem_tagged - a shmem object of npages whose page i starts with TAG(i). */
static struct umm_object *shmem_tagged(size_t npages)
{
	struct umm_object *obj;
	uintptr_t a;

	REQUIRE(umm_object_create_shmem(sys, npages * P, &obj) == 0);
	a = map_obj(obj, npages, PROT_READ | PROT_WRITE);
	for (size_t i = 0; i < npages; i++) {
		uint32_t t = TAG(i);

		REQUIRE(umm_write(mm, a + i * P, &t, sizeof(t)) == 0);
	}
	REQUIRE(umm_munmap(mm, a, npages * P) == 0);
	return obj;
}

/* tag_fill - byte i of a file whose page n starts with TAG(n) (little endian) and is 0x11 elsewhere. */
static unsigned char tag_fill(size_t i)
{
	size_t off = i % P;
	uint32_t t = TAG(i / P);

	return off < 4 ? (unsigned char)(t >> (8 * off)) : 0x11;
}

static bool is_nonlinear_listed(void)
{
	char *m = maps();
	bool yes = strstr(m, "[nonlinear]") != NULL;

	free(m);
	return yes;
}

/* reverse_window - remap the npages window at w in chunks of chunk pages, last chunk first. */
static void reverse_window(uintptr_t w, size_t npages, size_t chunk, int flags)
{
	size_t nchunks = npages / chunk;

	for (size_t i = 0; i < nchunks; i++)
		REQUIRE(umm_remap_file_pages(mm, w + i * chunk * P, chunk * P, 0,
					     (nchunks - 1 - i) * chunk, flags) == 0);
}

/* reversed_ok - does the window read as reverse_window left it? */
static bool reversed_ok(struct umm_mm *m, uintptr_t w, size_t npages, size_t chunk)
{
	size_t nchunks = npages / chunk;

	for (size_t i = 0; i < nchunks; i++)
		for (size_t j = 0; j < chunk; j++)
			if (tag_at(m, w + (i * chunk + j) * P) != TAG((nchunks - 1 - i) * chunk + j))
				return false;
	return true;
}

/* ---- LTP remap_file_pages01/02: reverse order ---- */

static void test_reverse_shmem(void)
{
	setup();
	struct umm_object *obj = shmem_tagged(32);
	uintptr_t w = map_obj(obj, 32, PROT_READ | PROT_WRITE);
	unsigned long vmas = nr_vmas();

	CHECK(reversed_ok(mm, w, 32, 32));      /* one chunk: linear */
	reverse_window(w, 32, 4, 0);
	CHECK(reversed_ok(mm, w, 32, 4));
	CHECK_EQ(nr_vmas(), vmas);
	CHECK(is_nonlinear_listed());
	{
		char *buf = NULL;
		size_t n = 0;
		FILE *f = open_memstream(&buf, &n);

		REQUIRE(f && umm_mm_dump_smaps(mm, f) == 0);
		fclose(f);
		CHECK(strstr(buf, " nl \n") != NULL);  /* Linux's smaps mark for nonlinear */
		CHECK(strstr(buf, "Rss:                 128 kB") != NULL);
		free(buf);
	}
	/* populated: every page mapped, no file pte left */
	for (size_t i = 0; i < 32; i++)
		CHECK(pte_present(pte_at(mm, w + i * P)));
	CHECK_EQ(stats().rss_shmem, 32);
	/* a second pass (1-page chunks) over the first */
	reverse_window(w, 32, 1, 0);
	CHECK(reversed_ok(mm, w, 32, 1));
	CHECK_EQ(umm_mm_check(mm), 0);
	CHECK_EQ(umm_munmap(mm, w, 32 * P), 0);
	umm_object_put(obj);
	teardown();
}

static void test_reverse_file(void)
{
	for (int nb = 0; nb < 2; nb++) {
		setup();
		int fd = test_tmpfile(64 * P, tag_fill);
		struct umm_object *obj = open_file(fd);
		uintptr_t w = map_obj(obj, 64, PROT_READ);

		reverse_window(w, 64, 8, nb ? MAP_NONBLOCK : 0);
		CHECK_EQ(nr_vmas(), 1);
		if (nb)         /* nothing was cached: only file ptes */
			for (size_t i = 0; i < 64; i++)
				CHECK(pte_is_file(pte_at(mm, w + i * P)));
		CHECK_EQ(umm_object_cached_pages(obj), nb ? 0 : 64);
		CHECK(reversed_ok(mm, w, 64, 8));
		CHECK_EQ(umm_munmap(mm, w, 64 * P), 0);
		umm_object_put(obj);
		close(fd);
		teardown();
	}
}

/* ---- bad inputs ---- */

static void test_bad_inputs(void)
{
	setup();
	struct umm_object *obj = shmem_tagged(8);
	int fd = test_tmpfile(8 * P, tag_fill), rofd = reopen(fd, O_RDONLY);
	struct umm_object *ro = open_file(rofd);
	uintptr_t w = map_obj(obj, 8, PROT_READ | PROT_WRITE);
	uintptr_t r = map_obj(ro, 8, PROT_READ);
	uintptr_t priv = 0, anon, shanon = 0;
	char *before;
	size_t bad = 99;

	REQUIRE(umm_mmap(mm, 0, 4 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, obj, 0, &priv) == 0);
	anon = map_anon(0, 4 * P, PROT_READ | PROT_WRITE);
	REQUIRE(umm_mmap(mm, 0, 4 * P, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, NULL, 0, &shanon) == 0);
	before = maps();

	CHECK_EQ(umm_remap_file_pages(NULL, w, P, 0, 0, 0), -EINVAL);
	CHECK_EQ(umm_remap_file_pages(mm, w, P, 0, 0, MAP_POPULATE), -EINVAL);    /* unknown flag */
	CHECK_EQ(umm_remap_file_pages(mm, w, P, 0, 0, 0x40000000), -EINVAL);
	CHECK_EQ(umm_remap_file_pages(mm, w, 0, 0, 0, 0), -EINVAL);              /* size 0 */
	CHECK_EQ(umm_remap_file_pages(mm, w, P - 1, 0, 0, 0), -EINVAL);          /* 0 after rounding */
	CHECK_EQ(umm_remap_file_pages(mm, w, (size_t)0 - P, 0, 0, 0), -EINVAL);  /* wraps */
	CHECK_EQ(umm_remap_file_pages(mm, UINTPTR_MAX & PAGE_MASK, 2 * P, 0, 0, 0), -EINVAL);
	CHECK_EQ(umm_remap_file_pages(mm, w + 8 * P + 64 * P, P, 0, 0, 0), -EINVAL); /* no vma */
	CHECK_EQ(umm_remap_file_pages(mm, 0, P, 0, 0, 0), -EINVAL);
	CHECK_EQ(umm_remap_file_pages(mm, w + 7 * P, 2 * P, 0, 0, 0), -EINVAL);  /* past the vma */
	CHECK_EQ(umm_remap_file_pages(mm, w - P, 2 * P, 0, 0, 0), -EINVAL);      /* starts before */
	CHECK_EQ(umm_remap_file_pages(mm, anon, P, 0, 0, 0), -EINVAL);           /* private anonymous */
	CHECK_EQ(umm_remap_file_pages(mm, w, P, 0x100, 0, 0), -EINVAL);          /* unknown prot */
	CHECK_EQ(umm_remap_file_pages(mm, w, P, 0, PTE_FILE_MAX_PGOFF + 1, 0), -EINVAL);
	CHECK_EQ(umm_remap_file_pages(mm, w, 2 * P, 0, PTE_FILE_MAX_PGOFF, 0), -EINVAL);
	CHECK_EQ(umm_remap_file_pages(mm, w, P, 0, UINT64_MAX, 0), -EINVAL);
	CHECK_EQ(umm_remap_file_pages(mm, r, P, PROT_READ | PROT_WRITE, 0, 0), -EACCES); /* read-only file */
	CHECK_EQ(umm_remap_file_pages_v(mm, NULL, 1, 0, &bad), -EINVAL);
	CHECK_EQ(bad, 1);
	{
		struct umm_remap_entry e = { w, P, 0, 1 };

		CHECK_EQ(umm_remap_file_pages_v(mm, &e, 0, 0, &bad), -EINVAL);
		CHECK_EQ(bad, 0);
		CHECK_EQ(umm_remap_file_pages_v(mm, &e, 1, MAP_POPULATE, &bad), -EINVAL);
	}
	CHECK_MAPS(before);
	CHECK(!is_nonlinear_listed());
	CHECK(reversed_ok(mm, w, 8, 8));        /* still linear */

	/* the last page a file pte can encode is fine */
	CHECK_EQ(umm_remap_file_pages(mm, w, P, 0, PTE_FILE_MAX_PGOFF, MAP_NONBLOCK), 0);
	CHECK_EQ(pte_to_pgoff(pte_at(mm, w)), PTE_FILE_MAX_PGOFF);
	CHECK_EQ(tag_at(mm, w), -EIO);          /* past the end of the object */
	/* rounding: start and size are rounded down to pages */
	CHECK_EQ(umm_remap_file_pages(mm, w + 100, P + 50, 0, 5, 0), 0);
	CHECK_EQ(tag_at(mm, w), TAG(5));
	CHECK_EQ(tag_at(mm, w + P), TAG(1));
	/* shared anonymous memory is shmem: allowed */
	CHECK_EQ(umm_remap_file_pages(mm, shanon, P, 0, 3, 0), 0);
	CHECK_EQ(tag_at(mm, shanon), 0);
	CHECK_EQ(umm_mm_check(mm), 0);

	free(before);
	CHECK_EQ(umm_munmap(mm, w, 8 * P), 0);
	CHECK_EQ(umm_munmap(mm, r, 8 * P), 0);
	CHECK_EQ(umm_munmap(mm, priv, 4 * P), 0);
	CHECK_EQ(umm_munmap(mm, shanon, 4 * P), 0);
	umm_object_put(obj);
	umm_object_put(ro);
	close(rofd);
	close(fd);
	teardown();
}

/* out of memory for page tables: -ENOMEM, nothing changed, the tables allocated meanwhile freed */
static void test_enomem_changes_nothing(void)
{
	setup();
	struct umm_object *obj = shmem_tagged(8);
	uintptr_t w = 0;
	size_t bad = 99;
	int err = -ENOMEM;

	REQUIRE(umm_mmap(mm, 0, 1024 * P, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &w) == 0);
	{
		char *before = maps();
		unsigned long tables = stats().pgtable_pages;
		struct umm_remap_entry e[2] = { { w, P, 0, 3 }, { w + 1023 * P, P, 0, 4 } };

		for (int skip = 0; err == -ENOMEM && skip < 16; skip++) {
			err = WITH_PAGE_ALLOC_FAILING(skip, umm_remap_file_pages_v(mm, e, 2, 0, &bad));
			if (err == -ENOMEM) {
				CHECK_EQ(bad, 2);
				CHECK_EQ(stats().pgtable_pages, tables);
				CHECK_MAPS(before);
			}
		}
		CHECK_EQ(err, 0);
		free(before);
	}
	CHECK_EQ(tag_at(mm, w), TAG(3));
	CHECK_EQ(tag_at(mm, w + 1023 * P), TAG(4));
	CHECK_EQ(umm_munmap(mm, w, 1024 * P), 0);
	umm_object_put(obj);
	teardown();
}

/* ---- MAP_NONBLOCK ---- */

static void test_nonblock_no_stale_pte(void)
{
	setup();
	int fd = test_tmpfile(16 * P, tag_fill);
	struct umm_object *obj = open_file(fd);
	uintptr_t w = map_obj(obj, 16, PROT_READ);

	/* the linear pages 0..7 are mapped (and cached); 8..15 are not cached (no readahead) */
	CHECK_EQ(umm_madvise(mm, w, 16 * P, MADV_RANDOM), 0);
	for (size_t i = 0; i < 8; i++)
		CHECK_EQ(tag_at(mm, w + i * P), TAG(i));
	CHECK_EQ(umm_object_cached_pages(obj), 8);

	/* window pages 0..7 -> file pages 15..8 (uncached): file ptes, never the old pages */
	for (size_t i = 0; i < 8; i++)
		CHECK_EQ(umm_remap_file_pages(mm, w + i * P, P, 0, 15 - i, MAP_NONBLOCK), 0);
	CHECK_EQ(umm_object_cached_pages(obj), 8);      /* no I/O */
	CHECK_EQ(stats().rss_file, 0);
	for (size_t i = 0; i < 8; i++) {
		pte_t pte = pte_at(mm, w + i * P);

		CHECK(pte_is_file(pte));
		CHECK_EQ(pte_to_pgoff(pte), 15 - i);
	}
	/* window page 8 -> file page 3 (cached): mapped at once */
	CHECK_EQ(umm_remap_file_pages(mm, w + 8 * P, P, 0, 3, MAP_NONBLOCK), 0);
	CHECK(pte_present(pte_at(mm, w + 8 * P)));
	CHECK_EQ(stats().rss_file, 1);
	for (size_t i = 0; i < 8; i++)
		CHECK_EQ(tag_at(mm, w + i * P), TAG(15 - i));
	CHECK_EQ(tag_at(mm, w + 8 * P), TAG(3));
	CHECK_EQ(tag_at(mm, w + 9 * P), TAG(9));        /* untouched pages stay linear */
	CHECK_EQ(umm_mm_check(mm), 0);
	CHECK_EQ(umm_munmap(mm, w, 16 * P), 0);
	umm_object_put(obj);
	close(fd);
	teardown();
}

/* ---- the batched populate: the remap maps the pages itself ---- */

/* faults - minor + major faults of mm so far. */
static unsigned long faults(void)
{
	struct umm_mm_stats st = stats();

	return st.minor_faults + st.major_faults;
}

/* maps_page - does the pte at addr map object page index of obj (present)? */
static bool maps_page(uintptr_t addr, struct umm_object *obj, uint64_t index)
{
	pte_t pte = pte_at(mm, addr);
	struct page *page = find_get_page(obj, index);
	bool yes = page && pte_present(pte) && pte_pfn(pte) == page_to_pfn(page);

	if (page)
		put_page(page);
	return yes;
}

/* mapcount_of - the map count of object page index (cached). */
static int mapcount_of(struct umm_object *obj, uint64_t index)
{
	struct page *page = find_get_page(obj, index);
	int n;

	REQUIRE(page);
	n = page_mapcount(page);
	put_page(page);
	return n;
}

/*
 * A populating remap of cached pages maps them in the call, without a
 * fault: the new ptes map the right pages, the old ones lose their
 * mapping, the counters follow, and reading the pages afterwards takes no
 * fault either.  The range's own protection is in the present ptes.
 */
static void test_batch_maps_pages(void)
{
	setup();
	struct umm_object *obj = shmem_tagged(16);
	uintptr_t w = map_obj(obj, 16, PROT_READ | PROT_WRITE);
	unsigned long f;

	for (size_t i = 0; i < 4; i++)          /* linear pages 0..3 mapped */
		CHECK_EQ(tag_at(mm, w + i * P), TAG(i));
	CHECK_EQ(stats().rss_shmem, 4);
	CHECK_EQ(mapcount_of(obj, 2), 1);
	f = faults();
	CHECK_EQ(umm_remap_file_pages(mm, w, 4 * P, 0, 8, 0), 0);
	CHECK_EQ(faults(), f);
	for (size_t i = 0; i < 4; i++) {
		CHECK(maps_page(w + i * P, obj, 8 + i));
		CHECK_EQ(mapcount_of(obj, 8 + i), 1);
		CHECK_EQ(mapcount_of(obj, i), 0);       /* the old page went */
	}
	CHECK_EQ(stats().rss_shmem, 4);
	for (size_t i = 0; i < 4; i++)
		CHECK_EQ(tag_at(mm, w + i * P), TAG(8 + i));
	CHECK_EQ(faults(), f);                  /* the reads found the ptes */

	/* a read-only range of the writable vma: present, its own protection */
	CHECK_EQ(umm_remap_file_pages(mm, w + 4 * P, 2 * P, PROT_READ, 12, 0), 0);
	CHECK_EQ(faults(), f);
	for (size_t i = 0; i < 2; i++) {
		pte_t pte = pte_at(mm, w + (4 + i) * P);

		CHECK(maps_page(w + (4 + i) * P, obj, 12 + i));
		CHECK(pte_ownprot(pte) && !pte_write(pte));
	}
	CHECK_EQ(tag_at(mm, w + 5 * P), TAG(13));
	CHECK_EQ(umm_write(mm, w + 5 * P, "x", 1), -EFAULT);
	CHECK_EQ(umm_write(mm, w + 6 * P, "x", 1), 0);  /* outside it: the vma's */
	CHECK_EQ(stats().rss_shmem, 7);

	/* the vectored form: one page remapped twice, the later entry wins */
	{
		struct umm_remap_entry e[3] = { { w, P, 0, 15 }, { w + P, P, 0, 14 }, { w, P, 0, 3 } };

		CHECK_EQ(umm_remap_file_pages_v(mm, e, 3, 0, NULL), 0);
		CHECK(maps_page(w, obj, 3));
		CHECK(maps_page(w + P, obj, 14));
		CHECK_EQ(mapcount_of(obj, 15), 0);
		CHECK_EQ(mapcount_of(obj, 8), 0);
	}
	CHECK_EQ(umm_mm_check(mm), 0);
	CHECK_EQ(umm_munmap(mm, w, 16 * P), 0);
	umm_object_put(obj);
	teardown();
}

/*
 * Pages the batch cannot map keep their file ptes: past the end of the
 * object (the access says -EIO), under a PROT_NONE vma (no read allowed:
 * nothing mapped, -EFAULT) unless the range gets a protection of its own.
 */
static void test_batch_leaves_file_ptes(void)
{
	setup();
	struct umm_object *obj = shmem_tagged(16);
	uintptr_t w = map_obj(obj, 16, PROT_READ | PROT_WRITE);
	uintptr_t n = map_obj(obj, 8, PROT_NONE);
	unsigned long f = faults();

	/* window pages 12..15 -> object pages 14..17: the last two are past the end */
	CHECK_EQ(umm_remap_file_pages(mm, w + 12 * P, 4 * P, 0, 14, 0), 0);
	/* the two pages the call mapped are not faulted again for the two it could not */
	CHECK_EQ(faults(), f);
	CHECK(maps_page(w + 12 * P, obj, 14));
	CHECK(maps_page(w + 13 * P, obj, 15));
	for (size_t i = 14; i < 16; i++) {
		pte_t pte = pte_at(mm, w + i * P);

		CHECK(pte_is_file(pte));
		CHECK_EQ(pte_to_pgoff(pte), i + 2);
		CHECK_EQ(tag_at(mm, w + i * P), -EIO);
	}
	CHECK_EQ(tag_at(mm, w + 13 * P), TAG(15));

	/* PROT_NONE vma: file ptes only */
	CHECK_EQ(umm_remap_file_pages(mm, n, 2 * P, 0, 6, 0), 0);
	CHECK(pte_is_file(pte_at(mm, n)) && pte_is_file(pte_at(mm, n + P)));
	CHECK_EQ(tag_at(mm, n), -EFAULT);
	/* ... a range with its own read permission is mapped */
	CHECK_EQ(umm_remap_file_pages(mm, n + 2 * P, P, PROT_READ, 9, 0), 0);
	CHECK(maps_page(n + 2 * P, obj, 9));
	CHECK_EQ(tag_at(mm, n + 2 * P), TAG(9));
	CHECK_EQ(tag_at(mm, n + 3 * P), -EFAULT);
	CHECK_EQ(umm_mm_check(mm), 0);
	CHECK_EQ(umm_munmap(mm, w, 16 * P), 0);
	CHECK_EQ(umm_munmap(mm, n, 8 * P), 0);
	umm_object_put(obj);
	teardown();
}

struct remap_arg {
	uintptr_t addr;
	uint64_t pgoff;
	atomic_int started;
	int err;
};

static void *remap_thread(void *p)
{
	struct remap_arg *a = p;

	atomic_store(&a->started, 1);
	a->err = umm_remap_file_pages(mm, a->addr, 2 * P, 0, a->pgoff, 0);
	return NULL;
}

/*
 * A cache page another holder keeps locked is not waited for under the
 * page-table lock: MAP_NONBLOCK leaves its file pte (the access later maps
 * it), and a populating remap maps it through the fault path once the
 * lock is released.
 */
static void test_batch_locked_page(void)
{
	setup();
	struct umm_object *obj = shmem_tagged(16);
	uintptr_t w = map_obj(obj, 16, PROT_READ | PROT_WRITE);
	struct page *page = find_get_page(obj, 5);
	struct remap_arg arg = { .addr = w + 8 * P, .pgoff = 4 };
	pthread_t t;

	REQUIRE(page);
	lock_page(page);
	CHECK_EQ(umm_remap_file_pages(mm, w, 2 * P, 0, 5, MAP_NONBLOCK), 0);
	CHECK(pte_is_file(pte_at(mm, w)));
	CHECK_EQ(pte_to_pgoff(pte_at(mm, w)), 5);
	CHECK(maps_page(w + P, obj, 6));

	/* populating: waits for the lock in the fault path, then maps it */
	REQUIRE(pthread_create(&t, NULL, remap_thread, &arg) == 0);
	while (!atomic_load(&arg.started))
		sched_yield();
	usleep(2000);           /* most likely it waits for the lock by now; either way the end state holds */
	unlock_page(page);
	put_page(page);
	REQUIRE(pthread_join(t, NULL) == 0);
	CHECK_EQ(arg.err, 0);
	CHECK(maps_page(w + 8 * P, obj, 4));
	CHECK(maps_page(w + 9 * P, obj, 5));
	CHECK_EQ(tag_at(mm, w), TAG(5));
	CHECK_EQ(tag_at(mm, w + 9 * P), TAG(5));
	CHECK_EQ(umm_mm_check(mm), 0);
	CHECK_EQ(umm_munmap(mm, w, 16 * P), 0);
	umm_object_put(obj);
	teardown();
}

static void *remap_to_12(void *p)
{
	uintptr_t w = *(uintptr_t *)p;

	return (void *)(intptr_t)umm_remap_file_pages(mm, w + 4 * P, 4 * P, 0, 12, 0);
}

/*
 * The remapping thread's soft TLB gets the translations of the pages the
 * call mapped: its reads of them afterwards are hits, not misses.  Those
 * translations go like any other when the ptes change: a later remap by
 * this thread or another, a truncate; and a write through one (read-only)
 * still takes the write fault that dirties the page.
 */
static void test_prefill_tlb(void)
{
	setup();
	struct umm_object *obj = shmem_tagged(16);
	uintptr_t w = map_obj(obj, 16, PROT_READ | PROT_WRITE);
	uintptr_t lin = map_obj(obj, 16, PROT_READ);
	struct soft_tlb_stats a, b;
	pthread_t t;
	void *ret;

	CHECK_EQ(tag_at(mm, w), TAG(0));        /* this thread has a TLB */
	CHECK_EQ(umm_remap_file_pages(mm, w + 4 * P, 4 * P, 0, 8, 0), 0);
	tlb_get_stats(&a);
	for (size_t i = 0; i < 4; i++)
		CHECK_EQ(tag_at(mm, w + (4 + i) * P), TAG(8 + i));
	tlb_get_stats(&b);
	CHECK_EQ(b.misses, a.misses);
	CHECK_EQ(b.hits - a.hits, 4);

	/* this thread remaps them again: the new pages, nothing stale */
	CHECK_EQ(umm_remap_file_pages(mm, w + 4 * P, 4 * P, 0, 2, MAP_NONBLOCK), 0);
	for (size_t i = 0; i < 4; i++)
		CHECK_EQ(tag_at(mm, w + (4 + i) * P), TAG(2 + i));
	/* another thread remaps them */
	REQUIRE(pthread_create(&t, NULL, remap_to_12, &w) == 0);
	REQUIRE(pthread_join(t, &ret) == 0);
	CHECK_EQ((intptr_t)ret, 0);
	for (size_t i = 0; i < 4; i++)
		CHECK_EQ(tag_at(mm, w + (4 + i) * P), TAG(12 + i));
	/* a write through the read-only translation dirties the object page */
	{
		uint32_t v = 0xdeadbeef;

		CHECK_EQ(umm_write(mm, w + 5 * P, &v, sizeof(v)), 0);
		CHECK_EQ(tag_at(mm, lin + 13 * P), 0xdeadbeef);
	}
	/* truncate: the window pages past the new end give -EIO */
	CHECK_EQ(umm_remap_file_pages(mm, w + 4 * P, 4 * P, 0, 12, 0), 0);
	CHECK_EQ(tag_at(mm, w + 4 * P), TAG(12));
	CHECK_EQ(umm_object_truncate(obj, 13 * P), 0);
	CHECK_EQ(tag_at(mm, w + 4 * P), TAG(12));
	CHECK_EQ(tag_at(mm, w + 5 * P), -EIO);
	CHECK_EQ(tag_at(mm, w + 7 * P), -EIO);
	CHECK_EQ(umm_mm_check(mm), 0);
	CHECK_EQ(umm_munmap(mm, w, 16 * P), 0);
	CHECK_EQ(umm_munmap(mm, lin, 16 * P), 0);
	umm_object_put(obj);
	teardown();
}

/* ---- per-range protection ---- */

static void test_protections(void)
{
	setup();
	struct umm_object *obj = shmem_tagged(8);
	uintptr_t w = map_obj(obj, 8, PROT_READ | PROT_WRITE);
	uintptr_t r = map_obj(obj, 8, PROT_READ);
	unsigned long vmas = nr_vmas();

	/* read-only pages 2..3 in a writable window */
	CHECK_EQ(umm_remap_file_pages(mm, w + 2 * P, 2 * P, PROT_READ, 6, 0), 0);
	for (size_t i = 0; i < 8; i++) {
		bool ro = i == 2 || i == 3;

		CHECK_EQ(write_byte(w + i * P + 8, 1), ro ? -EFAULT : 0);
		CHECK_EQ(tag_at(mm, w + i * P), TAG(i == 2 ? 6 : i == 3 ? 7 : i));
	}
	/* writable pages 4..5 in a read-only window, also from file ptes (NONBLOCK) */
	CHECK_EQ(umm_remap_file_pages(mm, r + 4 * P, P, PROT_READ | PROT_WRITE, 1, 0), 0);
	CHECK_EQ(umm_remap_file_pages(mm, r + 5 * P, P, PROT_WRITE, 0, MAP_NONBLOCK), 0);
	for (size_t i = 0; i < 8; i++)
		CHECK_EQ(write_byte(r + i * P + 9, 2), (i == 4 || i == 5) ? 0 : -EFAULT);
	CHECK_EQ(read_byte(w + 1 * P + 9), 2);          /* r+4 shows page 1 */
	CHECK_EQ(read_byte(w + 0 * P + 9), 2);          /* r+5 shows page 0 */
	/* PROT_NONE window: a remap with a prot opens just that page */
	CHECK_EQ(umm_mprotect(mm, r, 8 * P, PROT_NONE), 0);
	CHECK_EQ(umm_remap_file_pages(mm, r + 7 * P, P, PROT_READ, 2, 0), 0);
	CHECK_EQ(tag_at(mm, r + 7 * P), TAG(2));
	CHECK_EQ(tag_at(mm, r + 6 * P), -EFAULT);
	CHECK_EQ(write_byte(r + 7 * P, 1), -EFAULT);
	CHECK_EQ(nr_vmas(), vmas);
	CHECK_EQ(umm_mm_check(mm), 0);

	/* mprotect over part of a window resets the per-pte protections there */
	CHECK_EQ(umm_mprotect(mm, w, 3 * P, PROT_READ | PROT_WRITE), 0);
	CHECK_EQ(write_byte(w + 2 * P + 8, 3), 0);      /* was read-only */
	CHECK_EQ(write_byte(w + 3 * P + 8, 3), -EFAULT); /* outside the mprotect */
	CHECK_EQ(tag_at(mm, w + 2 * P), TAG(6));        /* the layout stays */
	CHECK_EQ(umm_mprotect(mm, r, 8 * P, PROT_READ), 0);
	for (size_t i = 0; i < 8; i++)
		CHECK_EQ(write_byte(r + i * P + 9, 2), -EFAULT);
	CHECK_EQ(tag_at(mm, r + 7 * P), TAG(2));
	CHECK_EQ(umm_mm_check(mm), 0);

	CHECK_EQ(umm_munmap(mm, w, 8 * P), 0);
	CHECK_EQ(umm_munmap(mm, r, 8 * P), 0);
	umm_object_put(obj);
	teardown();
}

/* ---- umm_madvise(MADV_DONTNEED) and umm_mincore on a window ---- */

static void test_dontneed_mincore(void)
{
	setup();
	int fd = test_tmpfile(16 * P, tag_fill);
	struct umm_object *obj = open_file(fd);
	uintptr_t w = map_obj(obj, 8, PROT_READ);
	unsigned char vec[8];

	CHECK_EQ(umm_madvise(mm, w, 8 * P, MADV_RANDOM), 0);
	for (size_t i = 0; i < 8; i++)
		CHECK_EQ(umm_remap_file_pages(mm, w + i * P, P, 0, 15 - i, MAP_NONBLOCK), 0);
	CHECK_EQ(umm_mincore(mm, w, 8 * P, vec), 0);
	for (size_t i = 0; i < 8; i++)
		CHECK_EQ(vec[i], 0);                    /* nothing cached */
	CHECK_EQ(tag_at(mm, w), TAG(15));               /* reads file page 15 */
	CHECK_EQ(umm_madvise(mm, w, 8 * P, MADV_DONTNEED), 0);
	CHECK(pte_is_file(pte_at(mm, w)));             /* the layout survives */
	CHECK_EQ(pte_to_pgoff(pte_at(mm, w)), 15);
	CHECK_EQ(stats().rss_file, 0);
	CHECK_EQ(umm_mincore(mm, w, 8 * P, vec), 0);
	CHECK_EQ(vec[0], 1);                            /* page 15 is in the cache */
	CHECK_EQ(vec[1], 0);                            /* page 14 is not */
	CHECK_EQ(tag_at(mm, w), TAG(15));
	CHECK_EQ(tag_at(mm, w + P), TAG(14));
	CHECK_EQ(umm_munmap(mm, w, 8 * P), 0);
	umm_object_put(obj);
	close(fd);
	teardown();
}

/* ---- zaps that keep the layout ---- */

static void test_zap_keeps_layout(void)
{
	setup();
	struct umm_object *obj = shmem_tagged(16);
	uintptr_t w = map_obj(obj, 16, PROT_READ | PROT_WRITE);
	struct vm_area_struct *vma;

	reverse_window(w, 16, 2, 0);
	CHECK_EQ(stats().rss_shmem, 16);
	mmap_read_lock(mm);
	vma = find_vma(mm, w);
	zap_page_range_keep(vma, w, w + 16 * P);
	mmap_read_unlock(mm);
	CHECK_EQ(stats().rss_shmem, 0);
	for (size_t i = 0; i < 16; i++)
		CHECK(pte_is_file(pte_at(mm, w + i * P)));
	CHECK(reversed_ok(mm, w, 16, 2));
	CHECK_EQ(umm_mm_check(mm), 0);
	CHECK_EQ(umm_munmap(mm, w, 16 * P), 0);
	umm_object_put(obj);
	teardown();
}

static void test_truncate_extend(void)
{
	setup();
	int fd = test_tmpfile(8 * P, tag_fill);
	struct umm_object *obj = open_file(fd);
	uintptr_t w = map_obj(obj, 8, PROT_READ | PROT_WRITE);
	unsigned char b;

	reverse_window(w, 8, 1, 0);
	CHECK_EQ(umm_object_truncate(obj, 4 * P), 0);
	for (size_t i = 0; i < 8; i++)
		CHECK_EQ(tag_at(mm, w + i * P), 7 - i >= 4 ? -EIO : (long)TAG(7 - i));
	CHECK_EQ(umm_mm_check(mm), 0);
	CHECK_EQ(umm_object_truncate(obj, 8 * P), 0);
	for (size_t i = 0; i < 8; i++)
		CHECK_EQ(tag_at(mm, w + i * P), 7 - i >= 4 ? 0 : (long)TAG(7 - i));
	/* the window still shows page 6 at w + P: a write lands there */
	CHECK_EQ(write_byte(w + P + 10, 0xab), 0);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK_EQ(pread(fd, &b, 1, 6 * P + 10), 1);
	CHECK_EQ(b, 0xab);
	CHECK_EQ(umm_munmap(mm, w, 8 * P), 0);
	umm_object_put(obj);
	close(fd);
	teardown();
}

/* ---- fork, munmap, mremap ---- */

static void test_fork_same_layout(void)
{
	setup();
	int fd = test_tmpfile(16 * P, tag_fill);
	struct umm_object *obj = open_file(fd);
	uintptr_t w = map_obj(obj, 16, PROT_READ | PROT_WRITE);
	struct umm_mm *child;

	reverse_window(w, 8, 2, 0);                     /* pages 0..7: present */
	for (size_t i = 8; i < 16; i++)                 /* pages 8..15: file ptes */
		CHECK_EQ(umm_remap_file_pages(mm, w + i * P, P, PROT_READ, 23 - i, MAP_NONBLOCK), 0);
	REQUIRE(umm_fork(mm, &child) == 0);
	CHECK(reversed_ok(child, w, 8, 2));
	for (size_t i = 8; i < 16; i++)
		CHECK_EQ(tag_at(child, w + i * P), TAG(23 - i));
	{
		unsigned char c = 1;

		CHECK_EQ(umm_write(child, w + 9 * P, &c, 1), -EFAULT);  /* own protection copied */
		CHECK_EQ(umm_write(child, w + 1 * P + 5, &c, 1), 0);
	}
	CHECK_EQ(read_byte(w + P + 5), 1);              /* shared: the parent sees it */
	CHECK_EQ(umm_mm_check(child), 0);
	umm_mm_destroy(child);
	CHECK_EQ(umm_munmap(mm, w, 16 * P), 0);
	umm_object_put(obj);
	close(fd);
	teardown();
}

static void test_munmap_mremap_part(void)
{
	setup();
	struct umm_object *obj = shmem_tagged(16);
	uintptr_t w = map_obj(obj, 16, PROT_READ | PROT_WRITE);
	uintptr_t to = 0;
	char *m;

	reverse_window(w, 16, 1, MAP_NONBLOCK);         /* the shmem pages are cached: mapped */
	CHECK(pte_present(pte_at(mm, w)));
	CHECK_EQ(umm_remap_file_pages(mm, w + 4 * P, P, 0, 20, 0), 0);   /* past the end: a file pte */
	CHECK(pte_is_file(pte_at(mm, w + 4 * P)));
	CHECK_EQ(umm_remap_file_pages(mm, w + 4 * P, P, 0, 11, MAP_NONBLOCK), 0);
	CHECK_EQ(umm_munmap(mm, w + 14 * P, 2 * P), 0);
	CHECK_EQ(tag_at(mm, w + 14 * P), -EFAULT);
	CHECK_EQ(tag_at(mm, w + 13 * P), TAG(2));
	/* move pages 4..7 elsewhere: they keep their file pages and stay nonlinear */
	CHECK_EQ(umm_mremap(mm, w + 4 * P, 4 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_FIXED,
			    w - 64 * P, &to), 0);
	CHECK_EQ(to, w - 64 * P);
	for (size_t i = 0; i < 4; i++)
		CHECK_EQ(tag_at(mm, to + i * P), TAG(15 - 4 - i));
	for (size_t i = 0; i < 4; i++)
		CHECK_EQ(tag_at(mm, w + i * P), TAG(15 - i));
	m = maps();
	{
		int n = 0;

		for (char *p = m; (p = strstr(p, "[nonlinear]")); p++)
			n++;
		CHECK_EQ(n, 3);
	}
	free(m);
	CHECK_EQ(umm_mm_check(mm), 0);
	CHECK_EQ(umm_munmap(mm, w, 16 * P), 0);
	CHECK_EQ(umm_munmap(mm, to, 4 * P), 0);
	umm_object_put(obj);
	teardown();
}

/* ---- writeback ---- */

static void test_writeback_offsets(void)
{
	setup();
	int fd = test_tmpfile(16 * P, tag_fill);
	struct umm_object *obj = open_file(fd);
	uintptr_t w = map_obj(obj, 8, PROT_READ | PROT_WRITE);

	/* window pages i show file pages 15 - 2i (every other page, reversed) */
	for (size_t i = 0; i < 8; i++)
		CHECK_EQ(umm_remap_file_pages(mm, w + i * P, P, 0, 15 - 2 * i, 0), 0);
	for (size_t i = 0; i < 8; i++) {
		uint32_t v = 0xc0de0000u + (uint32_t)i;

		CHECK_EQ(umm_write(mm, w + i * P + 100, &v, sizeof(v)), 0);
	}
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	for (size_t pg = 0; pg < 16; pg++) {
		uint32_t v = 0, t = 0;

		CHECK_EQ(pread(fd, &v, sizeof(v), (off_t)(pg * P + 100)), 4);
		CHECK_EQ(pread(fd, &t, sizeof(t), (off_t)(pg * P)), 4);
		CHECK_EQ(t, TAG(pg));
		if (pg % 2)
			CHECK_EQ(v, 0xc0de0000u + (15 - pg) / 2);
		else
			CHECK_EQ(v, 0x11111111u);
	}
	/* after writeback the ptes are clean: the next write faults and dirties again */
	{
		uint32_t v = 0xfeedu;

		CHECK_EQ(umm_write(mm, w + 3 * P + 200, &v, sizeof(v)), 0);
		CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
		v = 0;
		CHECK_EQ(pread(fd, &v, sizeof(v), (off_t)(9 * P + 200)), 4);
		CHECK_EQ(v, 0xfeedu);
	}
	CHECK_EQ(umm_munmap(mm, w, 8 * P), 0);
	umm_object_put(obj);
	close(fd);
	teardown();
}

/* file_word - the 32-bit word at byte off of fd. */
static uint32_t file_word(int fd, off_t off)
{
	uint32_t v = 0;

	REQUIRE(pread(fd, &v, sizeof(v), off) == 4);
	return v;
}

/*
 * umm_msync of (part of) a window writes the object pages that part shows
 * - through present ptes and through file ptes (the page zapped by
 * MADV_DONTNEED, still dirty in the cache) - and nothing else.
 */
static void test_msync_window(void)
{
	setup();
	int fd = test_tmpfile(16 * P, tag_fill);
	struct umm_object *obj = open_file(fd);
	uintptr_t w = map_obj(obj, 8, PROT_READ | PROT_WRITE);
	uint64_t shows[8];

	/* window pages 0..5 show file pages 15..10; 6 and 7 are not remapped (linear) */
	for (size_t i = 0; i < 8; i++) {
		shows[i] = i < 6 ? 15 - i : i;
		if (i < 6)
			CHECK_EQ(umm_remap_file_pages(mm, w + i * P, P, 0, shows[i], 0), 0);
	}
	for (size_t i = 0; i < 7; i++) {
		uint32_t v = 0xc0de0000u + (uint32_t)i;

		CHECK_EQ(umm_write(mm, w + i * P + 100, &v, sizeof(v)), 0);
	}
	/* window page 7 stays untouched (an empty pte); file page 7 is dirtied elsewhere */
	{
		uintptr_t l = map_obj(obj, 8, PROT_READ | PROT_WRITE);
		uint32_t v = 0xc0de0007u;

		CHECK_EQ(umm_write(mm, l + 7 * P + 100, &v, sizeof(v)), 0);
		CHECK_EQ(umm_munmap(mm, l, 8 * P), 0);
	}
	CHECK_EQ(pte_at(mm, w + 7 * P), 0);
	CHECK_EQ(umm_madvise(mm, w + 3 * P, P, MADV_DONTNEED), 0);   /* page 3: a file pte now */
	CHECK(pte_is_file(pte_at(mm, w + 3 * P)));
	/* window pages 2..4 */
	CHECK_EQ(umm_msync(mm, w + 2 * P, 3 * P, MS_SYNC), 0);
	for (size_t i = 0; i < 8; i++)
		CHECK_EQ(file_word(fd, (off_t)(shows[i] * P + 100)),
			 i >= 2 && i <= 4 ? 0xc0de0000u + (uint32_t)i : 0x11111111u);
	/* the whole window, the empty pte's linear page included */
	CHECK_EQ(umm_msync(mm, w, 8 * P, MS_ASYNC), 0);
	for (size_t i = 0; i < 8; i++)
		CHECK_EQ(file_word(fd, (off_t)(shows[i] * P + 100)), 0xc0de0000u + (uint32_t)i);
	for (size_t pg = 0; pg < 6; pg++)
		CHECK_EQ(file_word(fd, (off_t)(pg * P + 100)), 0x11111111u);
	CHECK_EQ(umm_munmap(mm, w, 8 * P), 0);
	umm_object_put(obj);
	close(fd);
	teardown();
}

/* ---- the vectored form ---- */

static void test_vectored(void)
{
	setup();
	struct umm_object *obj = shmem_tagged(32);
	uintptr_t a = map_obj(obj, 16, PROT_READ | PROT_WRITE);
	uintptr_t b = map_obj(obj, 16, PROT_READ | PROT_WRITE);
	struct umm_remap_entry e[6];
	size_t bad = 99;
	char *before;
	unsigned seed = 12345;

	for (int round = 0; round < 4; round++) {
		for (size_t i = 0; i < 6; i++) {
			seed = seed * 1103515245u + 12345u;
			size_t pg = (seed >> 8) % 15, len = 1 + (seed >> 16) % (16 - pg);

			e[i] = (struct umm_remap_entry){ 0, len * P, (seed & 1) ? PROT_READ : 0,
							  (seed >> 4) % 17 };
			e[i].start = a + pg * P;
			CHECK_EQ(umm_remap_file_pages(mm, e[i].start, e[i].size, e[i].prot,
						      e[i].pgoff, 0), 0);
			e[i].start = b + pg * P;
		}
		CHECK_EQ(umm_remap_file_pages_v(mm, e, 6, (round & 1) ? (int)MAP_NONBLOCK : 0, &bad), 0);
		CHECK_EQ(bad, 6);
		for (size_t i = 0; i < 16; i++) {
			CHECK_EQ(tag_at(mm, a + i * P), tag_at(mm, b + i * P));
			CHECK_EQ(write_byte(a + i * P + 50, 1), write_byte(b + i * P + 50, 1));
		}
	}
	/* atomic: entry 2 is bad, entries 0 and 1 are not applied either */
	before = maps();
	{
		long tags[16];

		for (size_t i = 0; i < 16; i++)
			tags[i] = tag_at(mm, b + i * P);
		e[0] = (struct umm_remap_entry){ b, 16 * P, 0, 16 };
		e[1] = (struct umm_remap_entry){ b, P, PROT_READ, 3 };
		e[2] = (struct umm_remap_entry){ b + 15 * P, 2 * P, 0, 0 };     /* past the vma */
		e[3] = (struct umm_remap_entry){ b, P, 0, 0 };
		CHECK_EQ(umm_remap_file_pages_v(mm, e, 4, 0, &bad), -EINVAL);
		CHECK_EQ(bad, 2);
		e[2].size = P;
		e[3].prot = 0x80;
		CHECK_EQ(umm_remap_file_pages_v(mm, e, 4, 0, &bad), -EINVAL);
		CHECK_EQ(bad, 3);
		for (size_t i = 0; i < 16; i++)
			CHECK_EQ(tag_at(mm, b + i * P), tags[i]);
	}
	CHECK_MAPS(before);
	free(before);
	CHECK_EQ(umm_mm_check(mm), 0);
	CHECK_EQ(umm_munmap(mm, a, 16 * P), 0);
	CHECK_EQ(umm_munmap(mm, b, 16 * P), 0);
	umm_object_put(obj);
	teardown();
}

/*
 * A vector whose small entries alternate between a window over a file
 * (nothing cached before the first round, so the pages looked up together
 * are missing and populating reads them) and a window over a shmem object
 * shows what the same entries applied one by one show, in every round
 * (populating and MAP_NONBLOCK); the checker passes and unmapping frees
 * what the vector referenced (the teardown checks the frames).
 */
static void test_vectored_two_objects(void)
{
	setup();
	int fd = test_tmpfile(32 * P, tag_fill);
	struct umm_object *file = open_file(fd), *shm;
	uintptr_t sa, wf, ws, rf, rs;
	struct umm_remap_entry v[12];
	unsigned seed = 777;

	REQUIRE(umm_object_create_shmem(sys, 32 * P, &shm) == 0);
	sa = map_obj(shm, 32, PROT_READ | PROT_WRITE);
	for (size_t i = 0; i < 32; i++) {
		uint32_t t = TAG(1000 + i);

		REQUIRE(umm_write(mm, sa + i * P, &t, sizeof(t)) == 0);
	}
	REQUIRE(umm_munmap(mm, sa, 32 * P) == 0);
	wf = map_obj(file, 16, PROT_READ);
	rf = map_obj(file, 16, PROT_READ);
	ws = map_obj(shm, 16, PROT_READ | PROT_WRITE);
	rs = map_obj(shm, 16, PROT_READ | PROT_WRITE);
	for (int round = 0; round < 4; round++) {
		int flags = (round & 1) ? (int)MAP_NONBLOCK : 0;

		for (size_t i = 0; i < 12; i++) {
			seed = seed * 1103515245u + 12345u;
			size_t pg = (seed >> 8) % 16, len = 1 + (seed >> 16) % (16 - pg);

			if (i == 5)
				pg = 0, len = 16;
			v[i] = (struct umm_remap_entry){ ((i & 1) ? ws : wf) + pg * P, len * P, 0,
							 (seed >> 4) % 17 };
		}
		CHECK_EQ(umm_remap_file_pages_v(mm, v, 12, flags, NULL), 0);
		for (size_t i = 0; i < 12; i++)
			CHECK_EQ(umm_remap_file_pages(mm, v[i].start - ((i & 1) ? ws : wf) + ((i & 1) ? rs : rf),
						      v[i].size, 0, v[i].pgoff, flags), 0);
		for (size_t i = 0; i < 16; i++) {
			CHECK_EQ(tag_at(mm, wf + i * P), tag_at(mm, rf + i * P));
			CHECK_EQ(tag_at(mm, ws + i * P), tag_at(mm, rs + i * P));
		}
		CHECK_EQ(umm_mm_check(mm), 0);
	}
	CHECK_EQ(umm_munmap(mm, wf, 16 * P), 0);
	CHECK_EQ(umm_munmap(mm, rf, 16 * P), 0);
	CHECK_EQ(umm_munmap(mm, ws, 16 * P), 0);
	CHECK_EQ(umm_munmap(mm, rs, 16 * P), 0);
	umm_object_put(file);
	umm_object_put(shm);
	close(fd);
	teardown();
}

/*
 * A remap of a range onto the offsets it already shows, with the same
 * protection, leaves its ptes as they are (a written page keeps its
 * writable dirty pte, its data and one mapping); another protection or
 * another offset changes them.
 */
static void test_remap_same_keeps_pte(void)
{
	setup();
	struct umm_object *obj = shmem_tagged(16);
	uintptr_t w = map_obj(obj, 8, PROT_READ | PROT_WRITE);
	struct page *page;
	pte_t before;

	CHECK_EQ(umm_remap_file_pages(mm, w, 4 * P, 0, 8, 0), 0);
	CHECK_EQ(write_byte(w + P + 20, 0x5a), 0);
	before = pte_at(mm, w + P);
	CHECK(pte_present(before) && pte_dirty(before) && pte_write(before));
	page = pfn_to_page(sys->phys, pte_pfn(before));
	CHECK_EQ(page_mapcount(page), 1);
	CHECK_EQ(umm_remap_file_pages(mm, w, 4 * P, 0, 8, 0), 0);
	CHECK_EQ(pte_at(mm, w + P), before);
	CHECK_EQ(page_mapcount(page), 1);
	CHECK_EQ(tag_at(mm, w + P), TAG(9));
	{
		unsigned char c = 0;

		CHECK_EQ(umm_read(mm, w + P + 20, &c, 1), 0);
		CHECK_EQ(c, 0x5a);
	}
	/* another protection: the pte changes, writes fault */
	CHECK_EQ(umm_remap_file_pages(mm, w, 4 * P, PROT_READ, 8, 0), 0);
	CHECK(pte_at(mm, w + P) != before);
	CHECK_EQ(write_byte(w + P + 20, 1), -EFAULT);
	CHECK_EQ(tag_at(mm, w + P), TAG(9));
	/* the same protection again (its own): kept; then another offset */
	before = pte_at(mm, w + P);
	CHECK_EQ(umm_remap_file_pages(mm, w, 4 * P, PROT_READ, 8, 0), 0);
	CHECK_EQ(pte_at(mm, w + P), before);
	CHECK_EQ(umm_remap_file_pages(mm, w, 4 * P, PROT_READ, 4, 0), 0);
	CHECK_EQ(tag_at(mm, w + P), TAG(5));
	CHECK_EQ(page_mapcount(page), 0);
	CHECK_EQ(umm_mm_check(mm), 0);
	CHECK_EQ(umm_munmap(mm, w, 8 * P), 0);
	umm_object_put(obj);
	teardown();
}

/* ---- the reverse index: writeback and the reverse map find every place ---- */

/* word_at_100 - write v at +100 of the page at addr of m. */
static void word_at_100(struct umm_mm *m, uintptr_t addr, uint32_t v)
{
	CHECK_EQ(umm_write(m, addr + 100, &v, sizeof(v)), 0);
}

/*
 * A file page shown at two places of a window, in a forked child's window,
 * in the two parts mprotect split the window into and in a part mremap
 * moved: umm_system_check finds through the reverse map exactly the ptes
 * that map each page (with the object scheme, through each window's
 * reverse index), and writeback cleans every one of them, so a write
 * through any of them after a sync is written by the next sync.
 */
static void test_reverse_index(void)
{
	setup();
	int fd = test_tmpfile(32 * P, tag_fill);
	struct umm_object *obj = open_file(fd);
	uintptr_t w = map_obj(obj, 16, PROT_READ | PROT_WRITE), moved = 0, to;
	struct umm_mm *child;

	CHECK_EQ(umm_remap_file_pages(mm, w, P, 0, 20, 0), 0);
	CHECK_EQ(umm_remap_file_pages(mm, w + 5 * P, P, 0, 20, 0), 0);     /* page 20 twice */
	CHECK_EQ(umm_remap_file_pages(mm, w + 8 * P, 4 * P, 0, 24, 0), 0);
	for (size_t i = 0; i < 16; i++)
		CHECK(tag_at(mm, w + i * P) >= 0);
	CHECK_EQ(umm_system_check(sys), 0);
	REQUIRE(umm_fork(mm, &child) == 0);
	CHECK_EQ(umm_mprotect(mm, w + 2 * P, 2 * P, PROT_READ), 0);          /* three vmas */
	CHECK_EQ(umm_mprotect(mm, w + 2 * P, 2 * P, PROT_READ | PROT_WRITE), 0);
	REQUIRE(umm_mmap(mm, 0, 4 * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &to) == 0);
	CHECK_EQ(umm_mremap(mm, w + 8 * P, 4 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_FIXED, to, &moved), 0);
	CHECK_EQ(moved, to);
	CHECK_EQ(tag_at(mm, moved + P), TAG(25));
	CHECK_EQ(umm_system_check(sys), 0);
	/* dirty page 20 through the child, sync, then through each parent place in turn */
	word_at_100(child, w + 5 * P, 0xaa000001u);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK_EQ(file_word(fd, (off_t)(20 * P + 100)), 0xaa000001u);
	word_at_100(mm, w, 0xaa000002u);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK_EQ(file_word(fd, (off_t)(20 * P + 100)), 0xaa000002u);
	word_at_100(mm, w + 5 * P, 0xaa000003u);
	word_at_100(mm, moved + 2 * P, 0xaa000004u);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK_EQ(file_word(fd, (off_t)(20 * P + 100)), 0xaa000003u);
	CHECK_EQ(file_word(fd, (off_t)(26 * P + 100)), 0xaa000004u);
	word_at_100(child, w + 10 * P, 0xaa000005u);                          /* page 26 in the child */
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK_EQ(file_word(fd, (off_t)(26 * P + 100)), 0xaa000005u);
	/* a new remap over one of the two places: page 20 is left at one */
	CHECK_EQ(umm_remap_file_pages(mm, w, P, 0, 3, 0), 0);
	CHECK_EQ(tag_at(mm, w), TAG(3));
	CHECK_EQ(umm_system_check(sys), 0);
	CHECK_EQ(umm_mm_check(mm), 0);
	CHECK_EQ(umm_mm_check(child), 0);
	umm_mm_destroy(child);
	CHECK_EQ(umm_munmap(mm, w, 16 * P), 0);
	CHECK_EQ(umm_munmap(mm, moved, 4 * P), 0);
	umm_object_put(obj);
	close(fd);
	teardown();
}

/* ---- the reverse index's table, against a plain array ---- */

#define IX_PAGES 512

struct ix_seen {
	uint64_t want;          /* the pgoff looked up */
	unsigned char hits[IX_PAGES];
	uintptr_t base;
	bool bad;
};

static int ix_visit(struct vm_area_struct *vma, uintptr_t addr, void *arg)
{
	struct ix_seen *seen = arg;
	size_t i = (addr - seen->base) / P;

	(void)vma;
	if (addr < seen->base || i >= IX_PAGES || seen->hits[i]++)
		seen->bad = true;       /* outside the vma, or the same place twice */
	return 0;
}

/*
 * Random nl_index_set calls on a 512-page vma (offsets from a small set,
 * so many entries share a key and the probe sequences wrap and are cut by
 * deletions), checked against an array slot -> offset: every offset's
 * places are exactly the slots showing it, plus its own linear slot.
 * The index is driven directly (no ptes), as fremap drives it.
 */
static void test_index_table(void)
{
	setup();
	struct umm_object *obj = shmem_tagged(1);
	uintptr_t w = map_obj(obj, IX_PAGES, PROT_READ);
	static uint64_t shows[IX_PAGES];
	struct vm_area_struct *vma;
	unsigned seed = 77;
	size_t bad = 0, wrong = 0, missing = 0;

	mmap_write_lock(mm);
	vma = find_vma(mm, w);
	REQUIRE(vma && vma->vm_start == w && vma->vm_pgoff == 0);
	for (size_t i = 0; i < IX_PAGES; i++)
		shows[i] = i;                                   /* all linear */
	for (int round = 0; round < 4000; round++) {
		size_t slot = (seed = seed * 1103515245u + 12345u) >> 8 & (IX_PAGES - 1);
		uint64_t pgoff = (seed = seed * 1103515245u + 12345u) >> 8;

		pgoff = round & 1 ? pgoff % 24 : pgoff % (2 * IX_PAGES);
		REQUIRE(nl_index_reserve(vma, 1) == 0);
		i_mmap_lock_write(obj);
		nl_index_set(vma, slot, pgoff);
		i_mmap_unlock_write(obj);
		shows[slot] = pgoff;
		if (round % 100 != 99)
			continue;
		CHECK_EQ(nl_index_check(vma), 0);
		for (uint64_t want = 0; want < 2 * IX_PAGES; want++) {
			struct ix_seen seen = { .want = want, .base = w };

			(void)nl_index_for_each(vma, want, ix_visit, &seen);
			bad += seen.bad;
			for (size_t i = 0; i < IX_PAGES; i++)
				wrong += seen.hits[i] != (shows[i] == want || i == want);
		}
		for (size_t i = 0; i < IX_PAGES; i++)
			missing += !nl_index_has(vma, shows[i], i);
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(wrong, 0);
	CHECK_EQ(missing, 0);
	mmap_write_unlock(mm);
	CHECK_EQ(umm_munmap(mm, w, IX_PAGES * P), 0);
	umm_object_put(obj);
	teardown();
}

/*
 * A window that mremap grew: the grown part's slots are new to the
 * window's reverse index (its slot array covered the old size); a remap
 * there is listed like any other (umm_mm_check runs nl_index_check,
 * umm_system_check finds the pages through the index), and a remap of a
 * slot that had an entry replaces that entry, whatever it named.
 */
static void test_index_grown_window(void)
{
	setup();
	int fd = test_tmpfile(64 * P, tag_fill);
	struct umm_object *obj = open_file(fd);
	uintptr_t w = map_obj(obj, 16, PROT_READ), grown = 0;

	REQUIRE(umm_munmap(mm, w + 8 * P, 8 * P) == 0);
	CHECK_EQ(umm_remap_file_pages(mm, w, 4 * P, 0, 40, 0), 0);
	CHECK_EQ(umm_mremap(mm, w, 8 * P, 16 * P, 0, 0, &grown), 0);
	CHECK_EQ(grown, w);
	CHECK_EQ(umm_remap_file_pages(mm, w + 12 * P, 4 * P, 0, 50, 0), 0);
	CHECK_EQ(umm_remap_file_pages(mm, w + 2 * P, 4 * P, 0, 30, 0), 0);   /* slots 2, 3 had entries */
	for (size_t i = 0; i < 16; i++) {
		long want = i < 2 ? TAG(40 + i) : i < 6 ? TAG(30 + i - 2) : i < 12 ? TAG(i) : TAG(50 + i - 12);

		CHECK_EQ(tag_at(mm, w + i * P), want);
	}
	CHECK_EQ(umm_mm_check(mm), 0);
	CHECK_EQ(umm_system_check(sys), 0);
	CHECK_EQ(umm_munmap(mm, w, 16 * P), 0);
	umm_object_put(obj);
	close(fd);
	teardown();
}

/* ---- private windows ---- */

static void test_private_window(void)
{
	setup();
	int fd = test_tmpfile(16 * P, tag_fill);
	struct umm_object *obj = open_file(fd);
	uintptr_t w = 0;
	struct umm_mm *child;
	uint32_t t;
	unsigned char c;

	REQUIRE(umm_mmap(mm, 0, 8 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, obj, 0, &w) == 0);
	reverse_window(w, 8, 1, 0);
	CHECK(reversed_ok(mm, w, 8, 1));
	CHECK(is_nonlinear_listed());
	/* a write makes a private copy at that virtual page; the file keeps its page */
	CHECK_EQ(write_byte(w + P + 4, 0xee), 0);
	CHECK_EQ(stats().rss_anon, 1);
	CHECK_EQ(read_byte(w + P + 4), 0xee);
	CHECK_EQ(tag_at(mm, w + P), TAG(6));
	CHECK_EQ(umm_remap_file_pages(mm, w + 2 * P, P, 0, 6, 0), 0);  /* page 6 again, elsewhere */
	CHECK_EQ(read_byte(w + 2 * P + 4), 0x11);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK_EQ(pread(fd, &c, 1, 6 * P + 4), 1);
	CHECK_EQ(c, 0x11);
	/* a zap that keeps the layout drops the copy: the file page shows again */
	mmap_read_lock(mm);
	zap_page_range_keep(find_vma(mm, w), w, w + 8 * P);
	mmap_read_unlock(mm);
	CHECK(pte_is_file(pte_at(mm, w + P)));
	CHECK_EQ(pte_to_pgoff(pte_at(mm, w + P)), 6);
	CHECK_EQ(read_byte(w + P + 4), 0x11);
	CHECK_EQ(stats().rss_anon, 0);
	/* fork: the child sees the copy; its own write stays its own */
	CHECK_EQ(write_byte(w + P + 4, 0xee), 0);
	REQUIRE(umm_fork(mm, &child) == 0);
	c = 0;
	CHECK_EQ(umm_read(child, w + P + 4, &c, 1), 0);
	CHECK_EQ(c, 0xee);
	c = 0xcc;
	CHECK_EQ(umm_write(child, w + P + 4, &c, 1), 0);
	CHECK_EQ(umm_write(child, w + 5 * P + 4, &c, 1), 0);   /* page 2: a copy made in the child */
	CHECK_EQ(read_byte(w + P + 4), 0xee);
	CHECK_EQ(read_byte(w + 5 * P + 4), 0x11);
	CHECK_EQ(umm_read(child, w + 0 * P, &t, 4), 0);
	CHECK_EQ(t, TAG(7));
	CHECK_EQ(umm_mm_check(child), 0);
	umm_mm_destroy(child);
	/* a remap over a page that holds a copy discards the copy */
	CHECK_EQ(write_byte(w + 3 * P + 4, 0xdd), 0);
	CHECK_EQ(umm_remap_file_pages(mm, w + 3 * P, P, 0, 9, 0), 0);
	CHECK_EQ(tag_at(mm, w + 3 * P), TAG(9));
	CHECK_EQ(read_byte(w + 3 * P + 4), 0x11);
	/* truncate drops a copy of a page past the end; extension brings the (new) page back */
	CHECK_EQ(umm_object_truncate(obj, 4 * P), 0);
	CHECK_EQ(tag_at(mm, w + P), -EIO);              /* its copy came from page 6 */
	CHECK_EQ(tag_at(mm, w + 4 * P), TAG(3));
	CHECK_EQ(umm_object_truncate(obj, 16 * P), 0);
	CHECK_EQ(tag_at(mm, w + P), 0);
	CHECK_EQ(umm_mm_check(mm), 0);
	CHECK_EQ(umm_munmap(mm, w, 8 * P), 0);
	umm_object_put(obj);
	close(fd);
	teardown();
}

/* ---- a stale empty-pte hint ---- */

/* fault - one fault at addr with flags, as the access paths make it (mmap_lock for read). */
static int fault(uintptr_t addr, unsigned int flags)
{
	int err;

	mmap_read_lock(mm);
	err = handle_mm_fault(mm, addr, flags);
	mmap_read_unlock(mm);
	return err;
}

/* reclaim_unmap - what reclaim does to a mapped page-cache page: try_to_unmap it. */
static int reclaim_unmap(uintptr_t addr)
{
	struct page *page = follow_page(mm, addr);
	int ret;

	REQUIRE(page);
	lock_page(page);
	ret = try_to_unmap(page, 0);
	unlock_page(page);
	put_page(page);
	return ret;
}

/*
 * A fault whose FAULT_FLAG_PTE_NONE hint is stale.  follow_or_fault
 * reads the pte without its lock, and reclaim's try_to_unmap empties a
 * window's pte for a moment before it writes the file pte (or a private
 * copy's swap pte), so a reader can see an empty pte that is present, a
 * file pte or a swap pte by the time the fault holds ptl.  The hint
 * makes the fault prepare the linear page first, which here lies past
 * the end of the object: that -EIO must not be the fault's answer, the
 * pte under ptl decides (test_model met it as an -EIO read of a remapped
 * page in its small-memory runs, once in 50-100).  The racy step is
 * driven directly: reclaim's unmap, then a fault with the stale hint.
 */
static void test_stale_none_hint(void)
{
	struct umm_config cfg = { .phys_bytes = 32 << 20, .debug_checks = 1, .swap_bytes = 1 << 20 };
	char path[] = "/tmp/usermm-fremap-swap-XXXXXX";
	int sfd = mkstemp(path);
	const unsigned int H = FAULT_FLAG_PTE_NONE;
	struct umm_object *obj;
	uintptr_t ws = 0, wp = 0;
	int fd;

	REQUIRE(sfd >= 0);
	close(sfd);
	cfg.swap_path = path;
	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	unlink(path);
	vmscan_set_kswapd(sys, false);
	REQUIRE(umm_mm_create(sys, &mm) == 0);
	fd = test_tmpfile(8 * P, tag_fill);
	obj = open_file(fd);
	/* 16-page windows over an 8-page file: linear pages 8..15 are past its end */
	REQUIRE(umm_mmap(mm, 0, 16 * P, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &ws) == 0);
	REQUIRE(umm_mmap(mm, 0, 16 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, obj, 0, &wp) == 0);
	CHECK_EQ(tag_at(mm, ws + 12 * P), -EIO);
	CHECK_EQ(umm_remap_file_pages(mm, ws + 12 * P, P, 0, 3, 0), 0);
	CHECK_EQ(umm_remap_file_pages(mm, wp + 12 * P, 2 * P, 0, 5, 0), 0);

	/* shared window: a present pte, then the file pte reclaim leaves */
	CHECK(pte_present(pte_at(mm, ws + 12 * P)));
	CHECK_EQ(fault(ws + 12 * P, H), 0);
	CHECK_EQ(reclaim_unmap(ws + 12 * P), SWAP_SUCCESS);
	CHECK(pte_is_file(pte_at(mm, ws + 12 * P)));
	CHECK_EQ(pte_to_pgoff(pte_at(mm, ws + 12 * P)), 3);
	CHECK_EQ(fault(ws + 12 * P, H), 0);
	CHECK(pte_present(pte_at(mm, ws + 12 * P)));
	CHECK_EQ(tag_at(mm, ws + 12 * P), TAG(3));

	/* private window: a file page read-only, its file pte, a private copy in swap */
	CHECK_EQ(fault(wp + 12 * P, H), 0);
	CHECK_EQ(reclaim_unmap(wp + 12 * P), SWAP_SUCCESS);
	CHECK(pte_is_file(pte_at(mm, wp + 12 * P)));
	CHECK_EQ(fault(wp + 12 * P, H), 0);
	CHECK_EQ(tag_at(mm, wp + 12 * P), TAG(5));
	CHECK_EQ(write_byte(wp + 13 * P + 4, 0xee), 0);
	CHECK_EQ(stats().rss_anon, 1);
	CHECK_EQ(umm_madvise(mm, wp + 13 * P, P, MADV_PAGEOUT), 0);
	CHECK(pte_is_swap(pte_at(mm, wp + 13 * P)));
	CHECK_EQ(fault(wp + 13 * P, H), 0);
	CHECK(pte_present(pte_at(mm, wp + 13 * P)));
	CHECK_EQ(read_byte(wp + 13 * P + 4), 0xee);
	CHECK_EQ(tag_at(mm, wp + 13 * P), TAG(6));

	/* a right hint on a window's empty pte: its linear page, past the end */
	CHECK(pte_none(pte_at(mm, ws + 13 * P)));
	CHECK_EQ(fault(ws + 13 * P, H), -EIO);
	CHECK_EQ(fault(wp + 13 * P + P, FAULT_FLAG_WRITE | H), -EIO);
	CHECK_EQ(umm_mm_check(mm), 0);

	CHECK_EQ(umm_munmap(mm, ws, 16 * P), 0);
	CHECK_EQ(umm_munmap(mm, wp, 16 * P), 0);
	umm_object_put(obj);
	close(fd);
	teardown();
}

/* ---- pins, threads ---- */

static void test_pin_through_window(void)
{
	setup();
	struct umm_object *obj = shmem_tagged(8);
	uintptr_t w = map_obj(obj, 8, PROT_READ | PROT_WRITE);
	struct umm_page *pg[2];

	reverse_window(w, 8, 1, MAP_NONBLOCK);
	CHECK_EQ(umm_remap_file_pages(mm, w + 2 * P, P, 0, 12, 0), 0);  /* past the end */
	CHECK_EQ(umm_pin_pages(mm, w + P, 2, UMM_PIN_WRITE, pg), -EIO);
	CHECK_EQ(umm_pin_pages(mm, w, 2, UMM_PIN_WRITE, pg), 2);
	CHECK_EQ(*(uint32_t *)umm_page_address(pg[0]), TAG(7));
	CHECK_EQ(*(uint32_t *)umm_page_address(pg[1]), TAG(6));
	((unsigned char *)umm_page_address(pg[1]))[20] = 0x5a;
	umm_unpin_pages(pg, 2, UMM_PIN_WRITE);
	CHECK_EQ(read_byte(w + P + 20), 0x5a);
	/* a read-only range refuses a write pin, allows a read pin */
	CHECK_EQ(umm_remap_file_pages(mm, w + 3 * P, P, PROT_READ, 0, 0), 0);
	CHECK_EQ(umm_pin_pages(mm, w + 3 * P, 1, UMM_PIN_WRITE, pg), -EFAULT);
	CHECK_EQ(umm_pin_pages(mm, w + 3 * P, 1, 0, pg), 1);
	CHECK_EQ(*(uint32_t *)umm_page_address(pg[0]), TAG(0));
	umm_unpin_pages(pg, 1, 0);
	CHECK_EQ(umm_munmap(mm, w, 8 * P), 0);
	umm_object_put(obj);
	teardown();
}

#if defined(__SANITIZE_THREAD__)
#define RACE_ROUNDS 150
#else
#define RACE_ROUNDS 1500
#endif

struct race_arg {
	uintptr_t w;
	_Atomic bool stop;
	_Atomic long reads;
	unsigned seed;
};

/* race_reader - every read of window page i shows file page i or i + 8, nothing else. */
static void *race_reader(void *p)
{
	struct race_arg *ra = p;
	unsigned seed = ra->seed;

	while (!atomic_load(&ra->stop)) {
		size_t i;
		long t;

		seed = seed * 1103515245u + 12345u;
		i = (seed >> 16) % 8;
		t = tag_at(mm, ra->w + i * P);
		if (t != (long)TAG(i) && t != (long)TAG(i + 8))
			TCHECK(!"a window page showed a page it was never given");
		atomic_fetch_add(&ra->reads, 1);
	}
	return NULL;
}

static void test_remap_vs_readers(void)
{
	setup();
	struct umm_object *obj = shmem_tagged(16);
	struct race_arg ra = { .w = map_obj(obj, 8, PROT_READ | PROT_WRITE), .seed = 7 };
	struct race_arg rb = ra;
	pthread_t t[2];

	rb.seed = 99;
	REQUIRE(pthread_create(&t[0], NULL, race_reader, &ra) == 0);
	REQUIRE(pthread_create(&t[1], NULL, race_reader, &rb) == 0);
	for (int r = 0; r < RACE_ROUNDS; r++) {
		struct umm_remap_entry e[2] = {
			{ ra.w, 4 * P, 0, (r & 1) ? 8 : 0 },
			{ ra.w + 4 * P, 4 * P, 0, (r & 2) ? 12 : 4 },
		};

		CHECK_EQ(umm_remap_file_pages_v(mm, e, 2, (r & 4) ? (int)MAP_NONBLOCK : 0, NULL), 0);
		if (r % 64 == 0) {
			mmap_read_lock(mm);
			zap_page_range_keep(find_vma(mm, ra.w), ra.w, ra.w + 8 * P);
			mmap_read_unlock(mm);
		}
	}
	while (atomic_load(&ra.reads) == 0 || atomic_load(&rb.reads) == 0)
		sched_yield();
	atomic_store(&ra.stop, true);
	atomic_store(&rb.stop, true);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	test_fold_thread_checks();
	CHECK_EQ(umm_mm_check(mm), 0);
	CHECK_EQ(umm_munmap(mm, ra.w, 8 * P), 0);
	umm_object_put(obj);
	teardown();
}

struct trunc_arg {
	struct umm_object *obj;
	_Atomic int phase;      /* 0 run, 1 final truncate done */
	int rounds;
};

/* truncator - shrink to 4 pages and grow back, then leave it at 4 pages. */
static void *truncator(void *p)
{
	struct trunc_arg *ta = p;

	for (int r = 0; r < ta->rounds; r++) {
		TCHECK(umm_object_truncate(ta->obj, 4 * P) == 0);
		TCHECK(umm_object_truncate(ta->obj, 16 * P) == 0);
	}
	TCHECK(umm_object_truncate(ta->obj, 4 * P) == 0);
	atomic_store(&ta->phase, 1);
	return NULL;
}

/* After the race: no present pte of the window maps an object page at or past 4. */
static void test_remap_vs_truncate(void)
{
	setup();
	int fd = test_tmpfile(16 * P, tag_fill);
	struct umm_object *obj = open_file(fd);
	uintptr_t w = map_obj(obj, 8, PROT_READ);
	struct trunc_arg ta = { .obj = obj, .rounds = RACE_ROUNDS / 10 };
	unsigned seed = 5;
	pthread_t t;
	int extra = 0;

	REQUIRE(pthread_create(&t, NULL, truncator, &ta) == 0);
	while (extra < 20) {
		seed = seed * 1103515245u + 12345u;
		CHECK_EQ(umm_remap_file_pages(mm, w + ((seed >> 8) % 8) * P, P, 0, (seed >> 16) % 16, 0), 0);
		(void)tag_at(mm, w + ((seed >> 4) % 8) * P);
		if (atomic_load(&ta.phase))
			extra++;
	}
	pthread_join(t, NULL);
	test_fold_thread_checks();
	for (size_t i = 0; i < 8; i++) {
		pte_t pte = pte_at(mm, w + i * P);

		if (pte_present(pte)) {
			struct umm_system *s = sys;
			struct page *pg = pfn_to_page(s->phys, pte_pfn(pte));

			CHECK(pg->index < 4);
			CHECK(tag_at(mm, w + i * P) == (long)TAG(pg->index));
		} else {
			/* a file pte, or an empty one (never remapped: the linear page) */
			uint64_t pgoff = pte_is_file(pte) ? pte_to_pgoff(pte) : i;

			CHECK(pte_is_file(pte) || pte_none(pte));
			if (pgoff >= 4)
				CHECK_EQ(tag_at(mm, w + i * P), -EIO);
		}
	}
	CHECK_EQ(umm_mm_check(mm), 0);
	CHECK_EQ(umm_munmap(mm, w, 8 * P), 0);
	umm_object_put(obj);
	close(fd);
	teardown();
}

/* ---- a random sequence against a model ---- */

#define M_WIN 16        /* window pages */
#define M_OBJ 32        /* object pages at full size */

struct model {
	uint64_t off[M_WIN];    /* object page each window page shows */
	int own[M_WIN];         /* its own prot (0: the vma's) */
	int vprot;              /* the vma's prot */
	uint32_t content[M_OBJ + 8];
	uint64_t size;          /* object size in pages */
};

static int m_effective(const struct model *m, size_t i)
{
	return m->own[i] ? m->own[i] : m->vprot;
}

static unsigned m_rand(unsigned *seed, unsigned n)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 8) % n;
}

/* m_check_page - window page i reads (and, if `write`, takes a write) as the model says. */
static void m_check_page(struct model *m, struct umm_mm *mm_, uintptr_t w, size_t i, bool write, uint32_t v)
{
	uint64_t pg = m->off[i];
	long want;

	if (write) {
		int err = umm_write(mm_, w + i * P, &v, sizeof(v));

		if (!(m_effective(m, i) & PROT_WRITE))
			CHECK_EQ(err, -EFAULT);
		else if (pg >= m->size)
			CHECK_EQ(err, -EIO);
		else {
			CHECK_EQ(err, 0);
			m->content[pg] = v;
		}
		return;
	}
	want = pg >= m->size ? -EIO : (long)m->content[pg];
	CHECK_EQ(tag_at(mm_, w + i * P), want);
}

static void test_model_random(void)
{
#if defined(__SANITIZE_THREAD__)
	const int nops = 300;
#else
	const int nops = 3000;
#endif
	setup();
	struct umm_object *obj = shmem_tagged(M_OBJ);
	uintptr_t w = map_obj(obj, M_WIN, PROT_READ | PROT_WRITE);
	struct model m = { .vprot = PROT_READ | PROT_WRITE, .size = M_OBJ };
	static const int prots[] = { 0, PROT_READ, PROT_READ | PROT_WRITE, PROT_WRITE };
	unsigned seed = 2026;

	for (size_t i = 0; i < M_WIN; i++)
		m.off[i] = i;
	for (size_t pg = 0; pg < M_OBJ; pg++)
		m.content[pg] = TAG(pg);
	for (int op = 0; op < nops; op++) {
		unsigned kind = m_rand(&seed, 100);

		if (kind < 25) {                        /* remap */
			size_t s0 = m_rand(&seed, M_WIN), len = 1 + m_rand(&seed, (unsigned)(M_WIN - s0));
			uint64_t o = m_rand(&seed, M_OBJ + 4);
			int prot = prots[m_rand(&seed, 4)];

			CHECK_EQ(umm_remap_file_pages(mm, w + s0 * P, len * P, prot, o,
						      m_rand(&seed, 2) ? (int)MAP_NONBLOCK : 0), 0);
			for (size_t k = 0; k < len; k++) {
				m.off[s0 + k] = o + k;
				m.own[s0 + k] = prot;
			}
		} else if (kind < 32) {                 /* vectored, maybe with a bad entry */
			struct umm_remap_entry e[3];
			size_t bad = 99, want_bad = 3;

			for (size_t j = 0; j < 3; j++) {
				size_t s0 = m_rand(&seed, M_WIN), len = 1 + m_rand(&seed, (unsigned)(M_WIN - s0));

				e[j] = (struct umm_remap_entry){ w + s0 * P, len * P, prots[m_rand(&seed, 4)],
								 m_rand(&seed, M_OBJ + 4) };
				if (want_bad == 3 && m_rand(&seed, 6) == 0) {
					want_bad = j;
					e[j].size = (M_WIN + 1) * P;     /* past the vma */
				}
			}
			CHECK_EQ(umm_remap_file_pages_v(mm, e, 3, 0, &bad), want_bad < 3 ? -EINVAL : 0);
			CHECK_EQ(bad, want_bad);
			for (size_t j = 0; want_bad == 3 && j < 3; j++)
				for (size_t k = 0; k < e[j].size / P; k++) {
					size_t i = (e[j].start - w) / P + k;

					m.off[i] = e[j].pgoff + k;
					m.own[i] = e[j].prot;
				}
		} else if (kind < 55) {                 /* write */
			size_t i = m_rand(&seed, M_WIN);

			m_check_page(&m, mm, w, i, true, 0x5eed0000u + (uint32_t)op);
		} else if (kind < 85) {                 /* read */
			m_check_page(&m, mm, w, m_rand(&seed, M_WIN), false, 0);
		} else if (kind < 89) {                 /* a zap that keeps the layout */
			mmap_read_lock(mm);
			zap_page_range_keep(find_vma(mm, w), w, w + M_WIN * P);
			mmap_read_unlock(mm);
		} else if (kind < 93) {                 /* truncate, or extend back */
			uint64_t ns = m.size < M_OBJ ? M_OBJ : 8 + m_rand(&seed, M_OBJ - 8);

			CHECK_EQ(umm_object_truncate(obj, ns * P), 0);
			for (uint64_t pg = ns; pg < M_OBJ; pg++)
				m.content[pg] = 0;
			m.size = ns;
		} else if (kind < 97) {                 /* mprotect the whole window */
			m.vprot = m_rand(&seed, 2) ? PROT_READ : PROT_READ | PROT_WRITE;
			CHECK_EQ(umm_mprotect(mm, w, M_WIN * P, m.vprot), 0);
			memset(m.own, 0, sizeof(m.own));
		} else {                                /* fork: the child sees the same */
			struct umm_mm *child;

			REQUIRE(umm_fork(mm, &child) == 0);
			for (size_t i = 0; i < M_WIN; i++)
				CHECK_EQ(tag_at(child, w + i * P), tag_at(mm, w + i * P));
			umm_mm_destroy(child);
		}
	}
	for (size_t i = 0; i < M_WIN; i++)
		m_check_page(&m, mm, w, i, false, 0);
	CHECK_EQ(nr_vmas(), 1);
	CHECK_EQ(umm_mm_check(mm), 0);
	CHECK_EQ(umm_munmap(mm, w, M_WIN * P), 0);
	umm_object_put(obj);
	teardown();
}

/* ---- the invariant checker ---- */

static int check_lines;

static void check_count(int level, const char *line, void *arg)
{
	(void)line;
	(void)arg;
	if (level == UMM_LOG_CHECK)
		check_lines++;
}

static void test_checker_file_ptes(void)
{
	setup();
	struct umm_object *obj = shmem_tagged(4);
	uintptr_t w = map_obj(obj, 4, PROT_READ | PROT_WRITE);
	struct fmutex *ptl;
	pte_t *ptep;

	CHECK_EQ(tag_at(mm, w), TAG(0));
	/* a file pte in a linear vma is reported */
	mmap_write_lock(mm);
	REQUIRE(pte_alloc(mm, w + P));
	ptep = pte_offset_map_lock(mm, w + P, &ptl);
	set_pte_at(mm, w + P, ptep, pgoff_to_pte(2));
	pte_unmap_unlock(ptep, ptl);
	mmap_write_unlock(mm);
	umm_set_log(check_count, NULL);
	CHECK_EQ(umm_mm_check(mm), -EUCLEAN);
	umm_set_log(NULL, NULL);
	CHECK(check_lines > 0);
	mmap_write_lock(mm);
	ptep = pte_offset_map_lock(mm, w + P, &ptl);
	pte_clear(mm, w + P, ptep);
	pte_unmap_unlock(ptep, ptl);
	mmap_write_unlock(mm);
	/* in a nonlinear window a file pte is fine, if the window's reverse index lists it */
	CHECK_EQ(umm_remap_file_pages(mm, w + 2 * P, P, 0, 1, MAP_NONBLOCK), 0);
	CHECK_EQ(umm_mm_check(mm), 0);
	mmap_write_lock(mm);
	ptep = pte_offset_map_lock(mm, w + P, &ptl);
	set_pte_at(mm, w + P, ptep, pgoff_to_pte(2));      /* not made by a remap */
	pte_unmap_unlock(ptep, ptl);
	mmap_write_unlock(mm);
	check_lines = 0;
	umm_set_log(check_count, NULL);
	CHECK_EQ(umm_mm_check(mm), -EUCLEAN);
	umm_set_log(NULL, NULL);
	CHECK(check_lines > 0);
	CHECK_EQ(umm_remap_file_pages(mm, w + P, P, 0, 2, MAP_NONBLOCK), 0);
	mmap_write_lock(mm);
	ptep = pte_offset_map_lock(mm, w + P, &ptl);
	CHECK(pte_is_file(*ptep) || pte_present(*ptep));
	pte_unmap_unlock(ptep, ptl);
	mmap_write_unlock(mm);
	CHECK_EQ(umm_mm_check(mm), 0);
	CHECK_EQ(tag_at(mm, w + P), TAG(2));
	CHECK_EQ(umm_munmap(mm, w, 4 * P), 0);
	umm_object_put(obj);
	teardown();
}

int main(void)
{
	RUN(test_reverse_shmem);
	RUN(test_reverse_file);
	RUN(test_bad_inputs);
	RUN(test_enomem_changes_nothing);
	RUN(test_nonblock_no_stale_pte);
	RUN(test_batch_maps_pages);
	RUN(test_batch_leaves_file_ptes);
	RUN(test_batch_locked_page);
	RUN(test_prefill_tlb);
	RUN(test_protections);
	RUN(test_zap_keeps_layout);
	RUN(test_dontneed_mincore);
	RUN(test_truncate_extend);
	RUN(test_fork_same_layout);
	RUN(test_munmap_mremap_part);
	RUN(test_index_grown_window);
	RUN(test_writeback_offsets);
	RUN(test_msync_window);
	RUN(test_reverse_index);
	RUN(test_index_table);
	RUN(test_vectored);
	RUN(test_vectored_two_objects);
	RUN(test_remap_same_keeps_pte);
	RUN(test_private_window);
	RUN(test_stale_none_hint);
	RUN(test_model_random);
	RUN(test_pin_through_window);
	RUN(test_remap_vs_readers);
	RUN(test_remap_vs_truncate);
	RUN(test_checker_file_ptes);
	return test_summary("test_fremap");
}
