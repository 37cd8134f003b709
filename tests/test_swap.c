/* SPDX-License-Identifier: MIT */
/*
 * test_swap.c - the swap device, the swap cache, swap ptes and shmem swap.
 *
 * Nothing evicts pages by itself yet (reclaim is separate work), so the
 * tests evict with swap_out_page (swap.h), which does what reclaim does
 * for one page, and then check through the public API that the data comes
 * back, that slots are counted and freed, and that the invariant checks
 * (umm_system_check: slot holders against swap ptes) pass.  Each test
 * runs under the reverse-map scheme run.sh selects (UMM_RMAP).
 */
#include <fcntl.h>
#include <pthread.h>
#include <dirent.h>
#include <sys/stat.h>
#include <usermm/usermm.h>
#include "test.h"
#include "memory.h"
#include "object.h"
#include "swap.h"
#include "gup.h"

#define PS 4096UL
#define RW (PROT_READ | PROT_WRITE)

static char swap_path[64];

/* new_swap_path - a fresh temporary path (the file does not exist yet). */
static const char *new_swap_path(void)
{
	int fd;

	strcpy(swap_path, "/tmp/usermm-swap-XXXXXX");
	fd = mkstemp(swap_path);
	REQUIRE(fd >= 0);
	close(fd);
	unlink(swap_path);
	return swap_path;
}

/* new_system - phys bytes of memory and a swap file of swap bytes (0: no swap); the file is unlinked once open. */
static struct umm_system *new_system(size_t phys, size_t swap)
{
	struct umm_config cfg = { .phys_bytes = phys, .debug_checks = 1 };
	struct umm_system *sys;

	if (swap) {
		cfg.swap_path = new_swap_path();
		cfg.swap_bytes = swap;
	}
	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	if (swap)
		unlink(swap_path);
	return sys;
}

static struct umm_mm *new_mm(struct umm_system *sys)
{
	struct umm_mm *mm;

	REQUIRE(umm_mm_create(sys, &mm) == 0);
	return mm;
}

static uintptr_t map(struct umm_mm *mm, size_t len, int flags, struct umm_object *obj)
{
	uintptr_t addr = 0;

	REQUIRE(umm_mmap(mm, 0, len, RW, flags, obj, 0, &addr) == 0);
	return addr;
}

static unsigned char pat(uintptr_t off, unsigned seed)
{
	return (unsigned char)(off * 7 + (off >> 12) * 13 + seed);
}

static void fill(struct umm_mm *mm, uintptr_t addr, size_t len, unsigned seed)
{
	unsigned char *buf = malloc(len);

	for (size_t i = 0; i < len; i++)
		buf[i] = pat(i, seed);
	REQUIRE(umm_write(mm, addr, buf, len) == 0);
	free(buf);
}

/*
 * holds_off - 0 if the len bytes at addr read back as the part from off
 * of what fill(seed) wrote at addr - off, else the access's error or
 * -EBADMSG.
 */
static int holds_off(struct umm_mm *mm, uintptr_t addr, size_t off, size_t len, unsigned seed)
{
	unsigned char *buf = malloc(len);
	int err = umm_read(mm, addr, buf, len);

	for (size_t i = 0; !err && i < len; i++)
		if (buf[i] != pat(off + i, seed))
			err = -EBADMSG;
	free(buf);
	return err;
}

/* holds - holds_off from the start of what fill wrote. */
static int holds(struct umm_mm *mm, uintptr_t addr, size_t len, unsigned seed)
{
	return holds_off(mm, addr, 0, len, seed);
}

static pte_t pte_at(struct umm_mm *mm, uintptr_t addr)
{
	struct fmutex *ptl;
	pte_t *p, v = 0;

	mmap_read_lock(mm);
	p = pte_offset_map_lock(mm, addr, &ptl);
	if (p) {
		v = *p;
		pte_unmap_unlock(p, ptl);
	}
	mmap_read_unlock(mm);
	return v;
}

/* swap_out_at - evict the page mapped at addr (swap_out_page's result; -ENOENT if none). */
static int swap_out_at(struct umm_mm *mm, uintptr_t addr)
{
	struct page *page = follow_page(mm, addr);
	int err;

	if (!page)
		return -ENOENT;
	err = swap_out_page(page);
	put_page(page);
	return err;
}

static struct umm_sys_stats sstats(struct umm_system *sys)
{
	struct umm_sys_stats st;

	REQUIRE(umm_system_stats(sys, &st) == 0);
	return st;
}

static struct umm_mm_stats mstats(struct umm_mm *mm)
{
	struct umm_mm_stats st;

	REQUIRE(umm_mm_stats(mm, &st) == 0);
	return st;
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	REQUIRE(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* ---- configuration ---- */

static void test_config_errors(void)
{
	struct umm_config cfg = { .phys_bytes = 4 << 20 };
	struct umm_system *sys = (struct umm_system *)1;
	const char *path = new_swap_path();
	int fds = open_fds();

	/* size errors: nothing is created */
	cfg.swap_path = path;
	cfg.swap_bytes = SWAP_MIN_BYTES - PS;
	CHECK_EQ(umm_system_create(&cfg, &sys), -EINVAL);
	cfg.swap_bytes = (1 << 20) + 100;
	CHECK_EQ(umm_system_create(&cfg, &sys), -EINVAL);
	cfg.swap_bytes = 0;
	CHECK_EQ(umm_system_create(&cfg, &sys), -EINVAL);
	CHECK(access(path, F_OK) != 0);
	cfg.swap_path = NULL;
	cfg.swap_bytes = 1 << 20;
	CHECK_EQ(umm_system_create(&cfg, &sys), -EINVAL);
	/* open errors: the errno */
	cfg.swap_path = "/nonexistent-usermm-dir/swap";
	CHECK_EQ(umm_system_create(&cfg, &sys), -ENOENT);
	cfg.swap_path = "/tmp";
	CHECK_EQ(umm_system_create(&cfg, &sys), -EISDIR);
	cfg.swap_path = "/dev/null";
	CHECK_EQ(umm_system_create(&cfg, &sys), -EINVAL);       /* not a regular file */
	CHECK(sys == (struct umm_system *)1);                   /* *out untouched */
	CHECK_EQ(open_fds(), fds);                              /* nothing left open */
	/* the smallest device works, and creates the file at its size */
	cfg.swap_path = path;
	cfg.swap_bytes = SWAP_MIN_BYTES;
	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	{
		struct stat st;

		CHECK(stat(path, &st) == 0 && st.st_size == (off_t)SWAP_MIN_BYTES);
	}
	CHECK_EQ(sstats(sys).swap_total, SWAP_MIN_BYTES / PS - 1);
	CHECK_EQ(sstats(sys).swap_used, 0);
	CHECK_EQ(umm_system_destroy(sys), 0);
	unlink(path);
	CHECK_EQ(open_fds(), fds);
}

static void test_no_swap(void)
{
	struct umm_system *sys = new_system(4 << 20, 0);
	struct umm_mm *mm = new_mm(sys);
	uintptr_t a = map(mm, PS, MAP_PRIVATE | MAP_ANONYMOUS, NULL);

	fill(mm, a, PS, 1);
	CHECK_EQ(swap_out_at(mm, a), -ENOSPC);
	CHECK_EQ(holds(mm, a, PS, 1), 0);
	CHECK_EQ(sstats(sys).swap_total, 0);
	umm_mm_destroy(mm);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

/* ---- anonymous pages ---- */

static void test_anon_out_in(void)
{
	enum { N = 40 };
	struct umm_system *sys = new_system(8 << 20, 1 << 20);
	struct umm_mm *mm = new_mm(sys);
	uintptr_t a = map(mm, N * PS, MAP_PRIVATE | MAP_ANONYMOUS, NULL);
	unsigned long free0;
	pte_t p0, p1;

	fill(mm, a, N * PS, 3);
	free0 = sstats(sys).free_frames;
	for (int i = 0; i < N; i++)
		CHECK_EQ(swap_out_at(mm, a + i * PS), 0);
	CHECK_EQ(sstats(sys).free_frames, free0 + N);           /* the frames went */
	CHECK_EQ(sstats(sys).swap_used, N);
	CHECK_EQ(sstats(sys).pswpout, N);
	CHECK_EQ(mstats(mm).swap_ents, N);
	CHECK_EQ(mstats(mm).rss_anon, 0);
	/* consecutive evictions got consecutive slots (one cluster) */
	p0 = pte_at(mm, a);
	p1 = pte_at(mm, a + (N - 1) * PS);
	CHECK(pte_is_swap(p0) && pte_is_swap(p1));
	CHECK_EQ(pte_to_swp_entry(p1).val - pte_to_swp_entry(p0).val, N - 1);
	CHECK_EQ(umm_system_check(sys), 0);
	/* the residency view: swapped out is not resident */
	{
		unsigned char vec[N];

		CHECK_EQ(umm_mincore(mm, a, N * PS, vec), 0);
		CHECK_EQ(vec[0] | vec[N - 1], 0);
	}
	/* swap-in: every byte back, a major fault, slots freed */
	CHECK_EQ(holds(mm, a, N * PS, 3), 0);
	CHECK_EQ(mstats(mm).swap_ents, 0);
	CHECK_EQ(mstats(mm).rss_anon, N);
	CHECK(mstats(mm).major_faults >= N / SWAP_RA_PAGES);
	CHECK_EQ(sstats(sys).swap_used, 0);
	CHECK_EQ(sstats(sys).swap_cache_pages, 0);
	CHECK_EQ(sstats(sys).pswpin, N);
	/* read-ahead: one read brought the neighbours, later faults hit the cache */
	CHECK(sstats(sys).swap_cache_hits >= N - N / SWAP_RA_PAGES - 1);
	CHECK_EQ(umm_system_check(sys), 0);
	/* swapped-in pages are exclusive again: writes reuse them, no COW */
	fill(mm, a, N * PS, 4);
	CHECK_EQ(mstats(mm).cow_faults, 0);
	CHECK_EQ(holds(mm, a, N * PS, 4), 0);
	/* a write fault on a swap pte maps the page writable directly */
	CHECK_EQ(swap_out_at(mm, a), 0);
	fill(mm, a, 100, 5);
	CHECK(pte_write(pte_at(mm, a)));
	CHECK_EQ(holds(mm, a, 100, 5), 0);
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(mm);
	CHECK_EQ(sstats(sys).swap_used, 0);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

/* a batch of evictions: consecutive slots, one write per run; a failed write keeps them all */
static void test_batch(void)
{
	enum { N = 40 };
	struct umm_system *sys = new_system(8 << 20, 1 << 20);
	struct umm_mm *mm = new_mm(sys);
	uintptr_t a = map(mm, N * PS, MAP_PRIVATE | MAP_ANONYMOUS, NULL);
	struct page *pages[N];
	int res[N];
	unsigned long w0;

	fill(mm, a, N * PS, 111);
	for (int i = 0; i < N; i++)
		pages[i] = follow_page(mm, a + i * PS);
	REQUIRE(umm_inject_fault(sys, UMM_INJECT_SWAP_WRITE, 0, 1) == 0);
	CHECK_EQ(swap_out_pages(pages, N, res), 0);
	for (int i = 0; i < N; i++)
		CHECK_EQ(res[i], -EIO);
	CHECK_EQ(sstats(sys).swap_write_errors, 1);
	CHECK_EQ(umm_system_check(sys), 0);
	CHECK_EQ(holds(mm, a, N * PS, 111), 0);                 /* nothing lost; back from the cache */
	CHECK_EQ(sstats(sys).pswpin, 0);
	CHECK_EQ(sstats(sys).swap_used, 0);
	w0 = sstats(sys).swap_write_requests;
	CHECK_EQ(swap_out_pages(pages, N, res), N);
	for (int i = 0; i < N; i++) {
		CHECK_EQ(res[i], 0);
		put_page(pages[i]);
	}
	CHECK_EQ(sstats(sys).swap_write_requests, w0 + 1);      /* 40 consecutive slots, one write */
	CHECK_EQ(sstats(sys).pswpout, N);
	CHECK_EQ(sstats(sys).swap_cache_pages, 0);
	CHECK_EQ(umm_system_check(sys), 0);
	CHECK_EQ(holds(mm, a, N * PS, 111), 0);
	/* read ahead by aligned windows: 40 consecutive slots span 5 or 6 of them */
	CHECK(sstats(sys).swap_read_requests >= N / SWAP_RA_PAGES);
	CHECK(sstats(sys).swap_read_requests <= N / SWAP_RA_PAGES + 1);
	umm_mm_destroy(mm);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

/* munmap, MADV_DONTNEED and exit let go of slots; a partial swap of a range is fine */
static void test_anon_free_slots(void)
{
	enum { N = 16 };
	struct umm_system *sys = new_system(8 << 20, 1 << 20);
	struct umm_mm *mm = new_mm(sys);
	uintptr_t a = map(mm, N * PS, MAP_PRIVATE | MAP_ANONYMOUS, NULL);
	unsigned long free0 = sstats(sys).free_frames;
	unsigned char zero[PS];

	fill(mm, a, N * PS, 9);
	for (int i = 0; i < N; i++)
		CHECK_EQ(swap_out_at(mm, a + i * PS), 0);
	CHECK_EQ(sstats(sys).swap_used, N);
	CHECK_EQ(umm_madvise(mm, a, 4 * PS, MADV_DONTNEED), 0);
	CHECK_EQ(sstats(sys).swap_used, N - 4);
	memset(zero, 0, sizeof(zero));
	{
		unsigned char buf[PS];

		CHECK_EQ(umm_read(mm, a, buf, PS), 0);
		CHECK(!memcmp(buf, zero, PS));                  /* DONTNEED: zeros */
	}
	CHECK_EQ(umm_munmap(mm, a + 4 * PS, 4 * PS), 0);
	CHECK_EQ(sstats(sys).swap_used, N - 8);
	CHECK_EQ(mstats(mm).swap_ents, N - 8);
	{
		char *text = NULL, want[64];
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);

		REQUIRE(f);
		CHECK_EQ(umm_mm_dump_smaps(mm, f), 0);
		fclose(f);
		snprintf(want, sizeof(want), "Swap:           %8lu kB", (N - 8) * PS / 1024);
		CHECK(strstr(text, want) != NULL);
		free(text);
	}
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(mm);                                     /* exit */
	CHECK_EQ(sstats(sys).swap_used, 0);
	CHECK_EQ(sstats(sys).swap_cache_pages, 0);
	CHECK_EQ(sstats(sys).anon_pages, 0);
	CHECK(sstats(sys).free_frames >= free0);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

/* fork: a page swapped out before fork is read once and shared; COW after swap-in */
static void test_fork_shared(void)
{
	enum { N = 8 };
	struct umm_system *sys = new_system(8 << 20, 1 << 20);
	struct umm_mm *mm = new_mm(sys), *child;
	uintptr_t a = map(mm, N * PS, MAP_PRIVATE | MAP_ANONYMOUS, NULL);
	struct page *pp, *cp;
	unsigned long hits, in;

	fill(mm, a, N * PS, 21);
	for (int i = 0; i < N; i++)
		CHECK_EQ(swap_out_at(mm, a + i * PS), 0);
	REQUIRE(umm_fork(mm, &child) == 0);
	CHECK_EQ(mstats(child).swap_ents, N);
	CHECK_EQ(sstats(sys).swap_used, N);                     /* shared slots, two holders each */
	CHECK_EQ(umm_system_check(sys), 0);
	/* the parent reads: one read, the page stays in the swap cache for the child */
	CHECK_EQ(holds(mm, a, PS, 21), 0);
	in = sstats(sys).pswpin;
	hits = sstats(sys).swap_cache_hits;
	CHECK_EQ(sstats(sys).swap_used, N);
	{
		unsigned char vec[2];

		CHECK_EQ(umm_mincore(child, a, 2 * PS, vec), 0);
		CHECK_EQ(vec[0], 1);    /* a swap pte whose page is in the swap cache is resident */
		CHECK_EQ(vec[1], 1);    /* read ahead with it */
		CHECK(pte_is_swap(pte_at(child, a)));
	}
	CHECK_EQ(holds(child, a, PS, 21), 0);
	CHECK_EQ(sstats(sys).pswpin, in);                       /* not read again */
	CHECK_EQ(sstats(sys).swap_cache_hits, hits + 1);
	pp = follow_page(mm, a);
	cp = follow_page(child, a);
	CHECK(pp && pp == cp);                                  /* one page, shared */
	CHECK_EQ(page_mapcount(pp), 2);
	put_page(pp);
	put_page(cp);
	/* both holders mapped it: the slot and the cache let go */
	CHECK_EQ(sstats(sys).swap_used, N - 1);
	CHECK_EQ(umm_system_check(sys), 0);
	/* COW after swap-in: the child's write does not show in the parent, and back */
	fill(child, a, PS, 22);
	CHECK_EQ(holds(mm, a, PS, 21), 0);
	CHECK_EQ(holds(child, a, PS, 22), 0);
	fill(mm, a + PS, PS, 23);               /* the parent writes a page the child has not read */
	CHECK_EQ(holds_off(child, a + PS, PS, PS, 21), 0);
	CHECK_EQ(holds(mm, a + PS, PS, 23), 0);
	CHECK_EQ(umm_system_check(sys), 0);
	/* the child exits with swap ptes: slots go back to one holder or none */
	umm_mm_destroy(child);
	CHECK_EQ(umm_system_check(sys), 0);
	CHECK_EQ(holds_off(mm, a + 2 * PS, 2 * PS, (N - 2) * PS, 21), 0);
	CHECK_EQ(holds(mm, a, PS, 21), 0);
	umm_mm_destroy(mm);
	CHECK_EQ(sstats(sys).swap_used, 0);
	CHECK_EQ(sstats(sys).swap_cache_pages, 0);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

/* a page shared by fork is swapped out from both mms at once, and comes back shared */
static void test_fork_then_swap(void)
{
	struct umm_system *sys = new_system(8 << 20, 1 << 20);
	struct umm_mm *mm = new_mm(sys), *child;
	uintptr_t a = map(mm, 2 * PS, MAP_PRIVATE | MAP_ANONYMOUS, NULL);

	fill(mm, a, 2 * PS, 31);
	REQUIRE(umm_fork(mm, &child) == 0);
	CHECK_EQ(swap_out_at(mm, a), 0);                        /* unmaps the child's pte too */
	CHECK(pte_is_swap(pte_at(mm, a)) && pte_is_swap(pte_at(child, a)));
	CHECK_EQ(sstats(sys).swap_used, 1);
	CHECK_EQ(umm_system_check(sys), 0);
	fill(child, a, PS, 32);                                 /* write fault on a shared swap pte */
	CHECK_EQ(holds(mm, a, PS, 31), 0);
	CHECK_EQ(holds(child, a, PS, 32), 0);
	CHECK_EQ(sstats(sys).swap_used, 0);
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(child);
	umm_mm_destroy(mm);
	CHECK_EQ(sstats(sys).anon_pages, 0);
	CHECK_EQ(sstats(sys).swap_cache_pages, 0);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

/* mprotect keeps swap ptes, mremap moves them, populate and pins swap in */
static void test_swap_ptes_in_calls(void)
{
	enum { N = 8 };
	struct umm_system *sys = new_system(8 << 20, 1 << 20);
	struct umm_mm *mm = new_mm(sys);
	uintptr_t a = map(mm, N * PS, MAP_PRIVATE | MAP_ANONYMOUS, NULL), b = 0;
	struct umm_page *pin;
	char c;

	fill(mm, a, N * PS, 41);
	for (int i = 0; i < N; i++)
		CHECK_EQ(swap_out_at(mm, a + i * PS), 0);
	CHECK_EQ(umm_mprotect(mm, a, N * PS, PROT_READ), 0);
	CHECK(pte_is_swap(pte_at(mm, a)));
	CHECK_EQ(umm_write(mm, a, &c, 1), -EFAULT);
	CHECK_EQ(holds(mm, a, PS, 41), 0);
	CHECK_EQ(umm_mprotect(mm, a, N * PS, RW), 0);
	CHECK_EQ(umm_mremap(mm, a, N * PS, 2 * N * PS, MREMAP_MAYMOVE, 0, &b), 0);
	CHECK_EQ(umm_system_check(sys), 0);
	CHECK_EQ(holds(mm, b, N * PS, 41), 0);
	for (int i = 0; i < N; i++)
		CHECK_EQ(swap_out_at(mm, b + i * PS), 0);
	CHECK_EQ(umm_madvise(mm, b, N * PS, MADV_POPULATE_READ), 0);   /* swaps in */
	CHECK_EQ(mstats(mm).swap_ents, 0);
	for (int i = 0; i < N; i++)
		CHECK_EQ(swap_out_at(mm, b + i * PS), 0);
	CHECK_EQ(umm_madvise(mm, b, N / 2 * PS, MADV_POPULATE_WRITE), 0);
	CHECK_EQ(mstats(mm).swap_ents, N / 2);
	CHECK(pte_write(pte_at(mm, b)));
	{
		struct umm_prepage_tuple t = { b + N / 2 * PS, N / 2 * PS };

		CHECK_EQ(umm_prepage(mm, &t, 1, 0), 0);
		CHECK_EQ(mstats(mm).swap_ents, 0);
	}
	/* a pin swaps in, and a pinned page is not swapped out */
	CHECK_EQ(swap_out_at(mm, b), 0);
	CHECK_EQ(umm_pin_pages(mm, b, 1, UMM_PIN_WRITE, &pin), 1);
	CHECK(!pte_is_swap(pte_at(mm, b)));
	CHECK_EQ(swap_out_at(mm, b), -EBUSY);                   /* pinned: stays */
	umm_unpin_pages(&pin, 1, UMM_PIN_WRITE);
	CHECK_EQ(holds(mm, b, N * PS, 41), 0);
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(mm);
	CHECK_EQ(sstats(sys).swap_used, 0);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

/* a private copy in a nonlinear window keeps its origin through swap (DONTNEED, truncate) */
static unsigned char file_byte(size_t i)
{
	return (unsigned char)(i * 13 + (i >> 12) + 5);
}

static void test_nonlinear_copy(void)
{
	struct umm_system *sys = new_system(8 << 20, 1 << 20);
	struct umm_mm *mm = new_mm(sys);
	struct umm_object *obj;
	int fd = test_tmpfile(8 * PS, file_byte);
	unsigned char buf[PS];
	uintptr_t w;

	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	close(fd);
	w = map(mm, 4 * PS, MAP_PRIVATE, obj);
	REQUIRE(umm_remap_file_pages(mm, w, PS, 0, 5, 0) == 0);        /* window page 0 shows file page 5 */
	REQUIRE(umm_remap_file_pages(mm, w + PS, PS, 0, 6, 0) == 0);
	fill(mm, w, PS, 121);                                   /* private copies, origins 5 and 6 */
	fill(mm, w + PS, PS, 122);
	CHECK_EQ(swap_out_at(mm, w), 0);
	CHECK_EQ(swap_out_at(mm, w + PS), 0);
	CHECK(pte_is_swap(pte_at(mm, w)));
	CHECK_EQ(umm_system_check(sys), 0);
	CHECK_EQ(holds(mm, w, PS, 121), 0);                     /* the copy comes back */
	CHECK_EQ(swap_out_at(mm, w), 0);
	/* DONTNEED drops the copies and leaves the file ptes: the file pages show again */
	CHECK_EQ(umm_madvise(mm, w, 2 * PS, MADV_DONTNEED), 0);
	CHECK(pte_is_file(pte_at(mm, w)) && pte_to_pgoff(pte_at(mm, w)) == 5);
	CHECK(pte_is_file(pte_at(mm, w + PS)) && pte_to_pgoff(pte_at(mm, w + PS)) == 6);
	CHECK_EQ(umm_read(mm, w, buf, PS), 0);
	CHECK_EQ(buf[0], file_byte(5 * PS));
	CHECK_EQ(buf[PS - 1], file_byte(6 * PS - 1));
	CHECK_EQ(sstats(sys).swap_used, 0);
	/* truncate past a swapped-out copy's origin drops it too */
	fill(mm, w + PS, PS, 123);
	CHECK_EQ(swap_out_at(mm, w + PS), 0);
	CHECK_EQ(umm_object_truncate(obj, 6 * PS), 0);
	CHECK(pte_is_file(pte_at(mm, w + PS)));
	CHECK_EQ(umm_read(mm, w + PS, buf, 1), -EIO);           /* file page 6 is past the end */
	CHECK_EQ(sstats(sys).swap_used, 0);
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(mm);
	umm_object_put(obj);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

/*
 * a private copy in a window page with its own protection keeps that
 * protection while it is swapped out and after it comes back: here the
 * vma is read-only and the page's own protection lets it be written
 */
static void test_nonlinear_copy_ownprot(void)
{
	struct umm_system *sys = new_system(8 << 20, 1 << 20);
	struct umm_mm *mm = new_mm(sys), *child;
	struct umm_object *obj;
	int fd = test_tmpfile(8 * PS, file_byte);
	unsigned char buf[PS];
	uintptr_t w = 0;

	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	close(fd);
	REQUIRE(umm_mmap(mm, 0, 4 * PS, PROT_READ, MAP_PRIVATE, obj, 0, &w) == 0);
	REQUIRE(umm_remap_file_pages(mm, w, PS, RW | PROT_EXEC, 5, 0) == 0);   /* own protection: rwx */
	fill(mm, w, PS, 131);                                   /* a private copy of file page 5 */
	CHECK_EQ(swap_out_at(mm, w), 0);
	CHECK(pte_is_swap(pte_at(mm, w)));
	CHECK_EQ(umm_system_check(sys), 0);
	CHECK_EQ(holds(mm, w, PS, 131), 0);                     /* swapped in by a read */
	CHECK(pte_present(pte_at(mm, w)) && (pte_at(mm, w) & PTE_OWNPROT) &&
	      (pte_at(mm, w) & PTE_OWN_WRITE) && (pte_at(mm, w) & PTE_OWN_EXEC));
	for (size_t i = 0; i < PS; i++)
		buf[i] = pat(i, 132);
	CHECK_EQ(umm_write(mm, w, buf, PS), 0);                 /* still writable */
	CHECK_EQ(holds(mm, w, PS, 132), 0);
	/* swapped out, then written: the write fault swaps it in writable */
	CHECK_EQ(swap_out_at(mm, w), 0);
	for (size_t i = 0; i < PS; i++)
		buf[i] = pat(i, 133);
	CHECK_EQ(umm_write(mm, w, buf, PS), 0);
	CHECK_EQ(holds(mm, w, PS, 133), 0);
	CHECK(pte_present(pte_at(mm, w)) && (pte_at(mm, w) & PTE_OWNPROT));
	/* a child forked while it is out gets the same protection */
	CHECK_EQ(swap_out_at(mm, w), 0);
	REQUIRE(umm_fork(mm, &child) == 0);
	for (size_t i = 0; i < PS; i++)
		buf[i] = pat(i, 134);
	CHECK_EQ(umm_write(child, w, buf, PS), 0);
	CHECK_EQ(holds(child, w, PS, 134), 0);
	CHECK_EQ(holds(mm, w, PS, 133), 0);
	umm_mm_destroy(child);
	/* DONTNEED of the swapped-out copy: the file pte comes back with the protection */
	CHECK_EQ(swap_out_at(mm, w), 0);
	CHECK_EQ(umm_madvise(mm, w, PS, MADV_DONTNEED), 0);
	CHECK(pte_is_file(pte_at(mm, w)) && (pte_at(mm, w) & PTE_OWNPROT));
	CHECK_EQ(umm_read(mm, w, buf, 1), 0);
	CHECK_EQ(buf[0], file_byte(5 * PS));
	fill(mm, w, PS, 135);
	/* mprotect drops the own protection of a swapped-out copy too */
	CHECK_EQ(swap_out_at(mm, w), 0);
	CHECK_EQ(umm_mprotect(mm, w, 4 * PS, PROT_READ), 0);
	CHECK_EQ(umm_write(mm, w, buf, 1), -EFAULT);
	CHECK_EQ(holds(mm, w, PS, 135), 0);
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(mm);
	umm_object_put(obj);
	CHECK_EQ(sstats(sys).swap_used, 0);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

/* private copies of file pages (MAP_PRIVATE of a file) go to swap like anonymous memory */
static void test_private_file_copy(void)
{
	struct umm_system *sys = new_system(8 << 20, 1 << 20);
	struct umm_mm *mm = new_mm(sys), *child;
	struct umm_object *obj;
	int fd = test_tmpfile(4 * PS, file_byte);
	unsigned char buf[PS];
	uintptr_t p;

	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	close(fd);
	p = map(mm, 4 * PS, MAP_PRIVATE, obj);
	fill(mm, p, 2 * PS, 141);                               /* copies of pages 0 and 1 */
	CHECK_EQ(umm_read(mm, p + 2 * PS, buf, 1), 0);          /* page 2 mapped from the cache */
	CHECK_EQ(swap_out_at(mm, p), 0);
	CHECK_EQ(swap_out_at(mm, p + PS), 0);
	CHECK_EQ(swap_out_at(mm, p + 2 * PS), -EINVAL);         /* a file page does not go to swap */
	CHECK_EQ(mstats(mm).swap_ents, 2);
	REQUIRE(umm_fork(mm, &child) == 0);
	CHECK_EQ(holds(child, p, 2 * PS, 141), 0);
	fill(mm, p, PS, 142);
	CHECK_EQ(holds(child, p, PS, 141), 0);
	CHECK_EQ(holds(mm, p, PS, 142), 0);
	CHECK_EQ(umm_read(child, p + 2 * PS, buf, PS), 0);
	CHECK_EQ(buf[0], file_byte(2 * PS));
	CHECK_EQ(umm_system_check(sys), 0);
	/* truncate drops private copies of the truncated pages, swapped out or not */
	CHECK(pte_is_swap(pte_at(mm, p + PS)));
	CHECK_EQ(umm_object_truncate(obj, PS), 0);
	CHECK_EQ(umm_read(mm, p + PS, buf, 1), -EIO);
	CHECK_EQ(holds(mm, p, PS, 142), 0);
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(child);
	umm_mm_destroy(mm);
	umm_object_put(obj);
	CHECK_EQ(sstats(sys).swap_used, 0);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

/* mlock brings swapped-out pages back and keeps them; munlock lets them go again */
static void test_mlock(void)
{
	enum { N = 8 };
	struct umm_system *sys = new_system(8 << 20, 1 << 20);
	struct umm_mm *mm = new_mm(sys);
	uintptr_t a = map(mm, N * PS, MAP_PRIVATE | MAP_ANONYMOUS, NULL);

	fill(mm, a, N * PS, 151);
	for (int i = 0; i < N; i++)
		CHECK_EQ(swap_out_at(mm, a + i * PS), 0);
	CHECK_EQ(umm_mlock(mm, a, N * PS), 0);                  /* populates: swaps in */
	CHECK_EQ(mstats(mm).swap_ents, 0);
	CHECK_EQ(sstats(sys).swap_used, 0);
	for (int i = 0; i < N; i++)
		CHECK_EQ(swap_out_at(mm, a + i * PS), -EBUSY);  /* locked: stays */
	CHECK_EQ(holds(mm, a, N * PS, 151), 0);
	CHECK_EQ(umm_munlock(mm, a, N * PS), 0);
	CHECK_EQ(swap_out_at(mm, a), 0);
	CHECK_EQ(holds(mm, a, N * PS, 151), 0);
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(mm);
	CHECK_EQ(sstats(sys).swap_used, 0);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

/* ---- failures ---- */

static void test_full_device(void)
{
	enum { SLOTS = SWAP_MIN_BYTES / PS - 1, N = SLOTS + 4 };
	struct umm_system *sys = new_system(8 << 20, SWAP_MIN_BYTES);
	struct umm_mm *mm = new_mm(sys);
	uintptr_t a = map(mm, N * PS, MAP_PRIVATE | MAP_ANONYMOUS, NULL);
	int full = 0;

	fill(mm, a, N * PS, 51);
	for (int i = 0; i < N; i++) {
		int err = swap_out_at(mm, a + i * PS);

		CHECK(err == 0 || (err == -ENOSPC && i >= SLOTS));
		full += err == -ENOSPC;
	}
	CHECK_EQ(full, N - SLOTS);
	{
		struct page *page = follow_page(mm, a + (N - 1) * PS);

		REQUIRE(page);
		lock_page(page);
		CHECK_EQ(add_to_swap(page), -ENOSPC);           /* what reclaim sees */
		CHECK(!PageSwapCache(page));
		unlock_page(page);
		put_page(page);
	}
	CHECK_EQ(sstats(sys).swap_used, SLOTS);
	CHECK_EQ(sstats(sys).swap_full, N - SLOTS + 1);
	CHECK_EQ(nr_swap_pages_free(sys), 0);
	CHECK_EQ(umm_system_check(sys), 0);
	CHECK_EQ(holds(mm, a, N * PS, 51), 0);                  /* nothing lost */
	CHECK_EQ(sstats(sys).swap_used, 0);
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(mm);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

static void test_write_error(void)
{
	struct umm_system *sys = new_system(8 << 20, 1 << 20);
	struct umm_mm *mm = new_mm(sys);
	uintptr_t a = map(mm, 2 * PS, MAP_PRIVATE | MAP_ANONYMOUS, NULL);
	struct page *page;

	fill(mm, a, 2 * PS, 61);
	page = follow_page(mm, a);
	REQUIRE(umm_inject_fault(sys, UMM_INJECT_SWAP_WRITE, 0, 1) == 0);
	CHECK_EQ(swap_out_page(page), -EIO);
	CHECK_EQ(umm_inject_hits(sys, UMM_INJECT_SWAP_WRITE), 1);
	CHECK_EQ(sstats(sys).swap_write_errors, 1);
	CHECK(PageDirty(page) && PageSwapCache(page));          /* kept in memory, dirty */
	CHECK_EQ(umm_system_check(sys), 0);
	CHECK_EQ(holds(mm, a, PS, 61), 0);                      /* its swap pte finds it in the cache */
	CHECK_EQ(mstats(mm).major_faults, 0);
	CHECK(follow_page(mm, a) == page);
	put_page(page);
	CHECK(!PageSwapCache(page));                            /* the only holder mapped it */
	CHECK_EQ(sstats(sys).swap_used, 0);
	/* with the device working again it goes out and comes back */
	CHECK_EQ(swap_out_page(page), 0);
	put_page(page);
	CHECK_EQ(holds(mm, a, 2 * PS, 61), 0);
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(mm);
	CHECK_EQ(sstats(sys).swap_used, 0);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

static void test_read_error(void)
{
	struct umm_system *sys = new_system(8 << 20, 1 << 20);
	struct umm_mm *mm = new_mm(sys);
	uintptr_t a = map(mm, PS, MAP_PRIVATE | MAP_ANONYMOUS, NULL);
	char c;

	fill(mm, a, PS, 71);
	CHECK_EQ(swap_out_at(mm, a), 0);
	REQUIRE(umm_inject_fault(sys, UMM_INJECT_SWAP_READ, 0, 2) == 0);
	CHECK_EQ(umm_read(mm, a, &c, 1), -EIO);
	CHECK_EQ(umm_write(mm, a, &c, 1), -EIO);
	CHECK_EQ(sstats(sys).swap_read_errors, 2);
	CHECK(pte_is_swap(pte_at(mm, a)));                      /* the slot is kept */
	CHECK_EQ(sstats(sys).swap_used, 1);
	CHECK_EQ(sstats(sys).swap_cache_pages, 0);
	CHECK_EQ(umm_system_check(sys), 0);
	CHECK_EQ(holds(mm, a, PS, 71), 0);                      /* injection over: the retry reads */
	CHECK_EQ(sstats(sys).swap_used, 0);
	umm_mm_destroy(mm);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

/* out of memory during swap-in and during a fork that copies swap ptes: reported, nothing changed */
static void test_nomem(void)
{
	enum { N = 64 };
	struct umm_system *sys = new_system(8 << 20, 1 << 20);
	struct umm_mm *mm = new_mm(sys), *child = NULL;
	uintptr_t a = map(mm, N * PS, MAP_PRIVATE | MAP_ANONYMOUS, NULL);
	char c;
	int err = -ENOMEM, tries;

	fill(mm, a, N * PS, 131);
	for (int i = 0; i < N; i++)
		CHECK_EQ(swap_out_at(mm, a + i * PS), 0);
	REQUIRE(umm_inject_fault(sys, UMM_INJECT_PAGE_ALLOC, 0, -1) == 0);
	CHECK_EQ(umm_read(mm, a, &c, 1), -ENOMEM);
	REQUIRE(umm_inject_fault(sys, UMM_INJECT_PAGE_ALLOC, 0, 0) == 0);
	CHECK(pte_is_swap(pte_at(mm, a)));
	CHECK_EQ(sstats(sys).swap_used, N);
	CHECK_EQ(sstats(sys).swap_cache_pages, 0);
	CHECK_EQ(umm_system_check(sys), 0);
	/* fork failing at each allocation in turn leaves the slots as they were */
	for (tries = 0; err == -ENOMEM && tries < 64; tries++) {
		REQUIRE(umm_inject_fault(sys, UMM_INJECT_PAGE_ALLOC, tries, 1) == 0);
		err = umm_fork(mm, &child);
		REQUIRE(umm_inject_fault(sys, UMM_INJECT_PAGE_ALLOC, 0, 0) == 0);
		if (err == -ENOMEM) {
			CHECK_EQ(sstats(sys).swap_used, N);
			CHECK_EQ(umm_system_check(sys), 0);
		}
	}
	CHECK_EQ(err, 0);
	CHECK(tries > 1);                       /* at least one fork failed first */
	CHECK_EQ(mstats(child).swap_ents, N);
	CHECK_EQ(holds(child, a, N * PS, 131), 0);
	umm_mm_destroy(child);
	CHECK_EQ(holds(mm, a, N * PS, 131), 0);
	CHECK_EQ(sstats(sys).swap_used, 0);
	umm_mm_destroy(mm);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

/* ---- shmem ---- */

static void test_shmem(void)
{
	enum { N = 12 };
	struct umm_system *sys = new_system(8 << 20, 1 << 20);
	struct umm_mm *mm = new_mm(sys), *other = new_mm(sys);
	struct umm_object *obj;
	uintptr_t a, b;
	struct page *page;

	REQUIRE(umm_object_create_shmem(sys, N * PS, &obj) == 0);
	a = map(mm, N * PS, MAP_SHARED, obj);
	b = map(other, N * PS, MAP_SHARED, obj);
	fill(mm, a, N * PS, 81);
	(void)holds(other, b, N * PS, 81);                      /* mapped in two mms */
	for (int i = 0; i < N; i++)
		CHECK_EQ(swap_out_at(mm, a + i * PS), 0);
	CHECK_EQ(shmem_nr_swapped(obj), N);
	CHECK_EQ(umm_object_cached_pages(obj), 0);
	CHECK_EQ(sstats(sys).swap_used, N);
	CHECK_EQ(mstats(other).rss_shmem, 0);
	CHECK_EQ(umm_system_check(sys), 0);
	/* sync on shmem stays a no-op success */
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK_EQ(umm_msync(mm, a, N * PS, MS_SYNC), 0);
	/* back through either mapping */
	CHECK_EQ(holds(other, b, N * PS, 81), 0);
	CHECK_EQ(holds(mm, a, N * PS, 81), 0);
	CHECK_EQ(shmem_nr_swapped(obj), 0);
	CHECK_EQ(sstats(sys).swap_used, 0);
	/* a clean page (never written: zeros) just leaves */
	CHECK_EQ(umm_object_truncate(obj, (N + 1) * PS), 0);
	{
		unsigned char buf[PS], zero[PS] = { 0 };
		uintptr_t c = map(mm, (N + 1) * PS, MAP_SHARED, obj);

		CHECK_EQ(umm_read(mm, c + N * PS, buf, PS), 0);
		page = follow_page(mm, c + N * PS);
		CHECK_EQ(swap_out_page(page), 0);
		put_page(page);
		CHECK_EQ(shmem_nr_swapped(obj), 0);
		CHECK_EQ(umm_read(mm, c + N * PS, buf, PS), 0);
		CHECK(!memcmp(buf, zero, PS));
		CHECK_EQ(umm_munmap(mm, c, (N + 1) * PS), 0);
	}
	/* truncate frees the slots past the end and zeroes the tail of a swapped partial page */
	for (int i = 0; i < N; i++)
		CHECK_EQ(swap_out_at(mm, a + i * PS), 0);
	CHECK_EQ(umm_object_truncate(obj, 4 * PS + 100), 0);
	CHECK_EQ(shmem_nr_swapped(obj), 4);
	CHECK_EQ(sstats(sys).swap_used, 4);
	CHECK_EQ(umm_object_truncate(obj, N * PS), 0);
	{
		unsigned char buf[PS];

		CHECK_EQ(umm_read(mm, a + 4 * PS, buf, PS), 0);
		for (int i = 0; i < 100; i++)
			CHECK_EQ(buf[i], pat(4 * PS + i, 81));
		for (size_t i = 100; i < PS; i++)
			if (buf[i])
				CHECK_EQ(buf[i], 0);
		CHECK_EQ(umm_read(mm, a + 5 * PS, buf, PS), 0);
		CHECK_EQ(buf[0] | buf[PS - 1], 0);
	}
	CHECK_EQ(holds(mm, a, 4 * PS, 81), 0);
	CHECK_EQ(umm_system_check(sys), 0);
	/* the last reference frees the rest */
	for (int i = 0; i < 4; i++)
		CHECK_EQ(swap_out_at(mm, a + i * PS), 0);
	CHECK_EQ(sstats(sys).swap_used, 4);
	umm_mm_destroy(mm);
	umm_mm_destroy(other);
	umm_object_put(obj);
	CHECK_EQ(sstats(sys).swap_used, 0);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

static void test_shmem_read_error(void)
{
	struct umm_system *sys = new_system(8 << 20, 1 << 20);
	struct umm_mm *mm = new_mm(sys);
	struct umm_object *obj;
	uintptr_t a;
	char c;

	REQUIRE(umm_object_create_shmem(sys, PS, &obj) == 0);
	a = map(mm, PS, MAP_SHARED, obj);
	fill(mm, a, PS, 91);
	REQUIRE(umm_inject_fault(sys, UMM_INJECT_SWAP_WRITE, 0, 1) == 0);
	CHECK_EQ(swap_out_at(mm, a), -EIO);                     /* stays cached, dirty */
	CHECK_EQ(shmem_nr_swapped(obj), 0);
	CHECK_EQ(sstats(sys).swap_used, 0);
	CHECK_EQ(holds(mm, a, PS, 91), 0);
	CHECK_EQ(swap_out_at(mm, a), 0);
	REQUIRE(umm_inject_fault(sys, UMM_INJECT_SWAP_READ, 0, 1) == 0);
	CHECK_EQ(umm_read(mm, a, &c, 1), -EIO);
	CHECK_EQ(shmem_nr_swapped(obj), 1);                     /* the entry stays */
	CHECK_EQ(holds(mm, a, PS, 91), 0);
	umm_mm_destroy(mm);
	umm_object_put(obj);
	CHECK_EQ(sstats(sys).swap_used, 0);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

/* ---- random operations against a model ---- */

#define RPAGES 48
#define RMMS 3

/* page_is - does the page at addr hold seed's pattern (seed 0: zeros)? */
static bool page_is(struct umm_mm *mm, uintptr_t addr, unsigned seed)
{
	unsigned char buf[PS];

	if (umm_read(mm, addr, buf, PS))
		return false;
	for (size_t i = 0; i < PS; i++)
		if (buf[i] != (seed ? pat(i, seed) : 0))
			return false;
	return true;
}

/*
 * test_random - writes, reads, evictions (single and batched), forks,
 * exits and MADV_DONTNEED in random order on up to RMMS address spaces
 * sharing one layout (a private anonymous region, and a shmem object all
 * of them map shared, which is also truncated and extended); every read
 * is checked against what the model says the page holds, and the swap
 * accounting against umm_system_check.
 */
static void test_random(void)
{
	uint64_t rnd = test_seed("test_swap random", "UMM_SWAP_SEED", 20261129);
	struct umm_system *sys = new_system(8 << 20, 1 << 20);
	struct umm_mm *mms[RMMS] = { new_mm(sys) };
	unsigned model[RMMS][RPAGES] = { { 0 } }, shmodel[RPAGES] = { 0 };
	unsigned next_seed = 1000;
	int nmm = 1, steps = 3000;
	uintptr_t a = map(mms[0], RPAGES * PS, MAP_PRIVATE | MAP_ANONYMOUS, NULL), sa;
	struct umm_object *shm;

	REQUIRE(umm_object_create_shmem(sys, RPAGES * PS, &shm) == 0);
	sa = map(mms[0], RPAGES * PS, MAP_SHARED, shm);         /* forks share it */

	for (int step = 0; step < steps; step++) {
		uint64_t r = test_rnd(&rnd);
		int m = (int)((r >> 8) % (uint64_t)nmm);
		unsigned int pg = (unsigned int)((r >> 16) % RPAGES);
		struct umm_mm *mm = mms[m];

		switch (r % 14) {
		case 10:                /* shmem: write through any mm */
			shmodel[pg] = ++next_seed;
			fill(mm, sa + pg * PS, PS, shmodel[pg]);
			break;
		case 11:                /* shmem: read and check */
			CHECK(page_is(mm, sa + pg * PS, shmodel[pg]));
			break;
		case 12: {              /* shmem: evict */
			int err = swap_out_at(mm, sa + pg * PS);

			CHECK(err == 0 || err == -ENOENT || err == -EBUSY);
			break;
		}
		case 13:                /* shmem: truncate at a page and extend again */
			if ((r >> 40) % 4 == 0) {
				CHECK_EQ(umm_object_truncate(shm, (uint64_t)pg * PS), 0);
				CHECK_EQ(umm_object_truncate(shm, RPAGES * PS), 0);
				for (unsigned int i = pg; i < RPAGES; i++)
					shmodel[i] = 0;
			}
			break;
		case 0: case 1:         /* write a page */
			model[m][pg] = ++next_seed;
			fill(mm, a + pg * PS, PS, model[m][pg]);
			break;
		case 2: case 3:         /* read and check */
			CHECK(page_is(mm, a + pg * PS, model[m][pg]));
			break;
		case 4: case 5: {       /* evict one page */
			int err = swap_out_at(mm, a + pg * PS);

			CHECK(err == 0 || err == -ENOENT || err == -EBUSY);
			break;
		}
		case 6: {               /* evict a batch */
			unsigned int n = 0, i;
			struct page *pages[16];
			int res[16];

			for (i = 0; i < 16 && pg + i < RPAGES; i++) {
				pages[n] = follow_page(mm, a + (pg + i) * PS);
				n += pages[n] != NULL;
			}
			(void)swap_out_pages(pages, n, res);
			for (i = 0; i < n; i++) {
				CHECK(res[i] == 0 || res[i] == -EBUSY);
				put_page(pages[i]);
			}
			break;
		}
		case 7:                 /* fork, or exit when full */
			if (nmm < RMMS) {
				REQUIRE(umm_fork(mm, &mms[nmm]) == 0);
				memcpy(model[nmm], model[m], sizeof(model[m]));
				nmm++;
			} else {
				umm_mm_destroy(mm);
				mms[m] = mms[nmm - 1];
				memcpy(model[m], model[nmm - 1], sizeof(model[m]));
				nmm--;
			}
			break;
		case 8: {               /* MADV_DONTNEED a few pages */
			unsigned int n = MIN(4u, RPAGES - pg);

			CHECK_EQ(umm_madvise(mm, a + pg * PS, n * PS, MADV_DONTNEED), 0);
			for (unsigned int i = 0; i < n; i++)
				model[m][pg + i] = 0;
			break;
		}
		default:
			if (step % 50 == 9)
				CHECK_EQ(umm_system_check(sys), 0);
			break;
		}
	}
	for (int m = 0; m < nmm; m++)
		for (int pg = 0; pg < RPAGES; pg++) {
			CHECK(page_is(mms[m], a + pg * PS, model[m][pg]));
			CHECK(page_is(mms[m], sa + pg * PS, shmodel[pg]));
		}
	CHECK_EQ(umm_system_check(sys), 0);
	CHECK(sstats(sys).pswpout > 0 && sstats(sys).pswpin > 0);
	for (int m = 0; m < nmm; m++)
		umm_mm_destroy(mms[m]);
	umm_object_put(shm);
	CHECK_EQ(sstats(sys).swap_used, 0);
	CHECK_EQ(sstats(sys).swap_cache_pages, 0);
	CHECK_EQ(sstats(sys).anon_pages, 0);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

/* ---- concurrency ---- */

#define READERS 2
#define WRITERS 2
#define TPAGES 32
#define WPAGES 8        /* pages each writer owns */

struct conc {
	struct umm_system *sys;
	struct umm_mm *mm, *child;
	struct umm_object *shm;
	uintptr_t a;            /* anon, shared with the child by fork (read only) */
	uintptr_t s;            /* shmem, in both */
	uintptr_t w;            /* anon, WPAGES per writer, written */
	_Atomic int stop;
};

struct worker {
	struct conc *c;
	int id;
	unsigned int last[WPAGES];      /* writers: the seed each page holds */
};

/* reader - reads random pages of the anon and shmem regions through the parent and the child */
static void *reader(void *arg)
{
	struct worker *wk = arg;
	struct conc *c = wk->c;
	uint64_t rnd = 0x9e3779b97f4a7c15ULL * (uint64_t)(wk->id + 1);

	while (!atomic_load(&c->stop)) {
		uint64_t r = test_rnd(&rnd);
		unsigned int i = (unsigned int)(r % TPAGES);
		struct umm_mm *mm = (r >> 32) & 1 ? c->child : c->mm;
		uintptr_t base = (r >> 33) & 1 ? c->s : c->a;

		TCHECK(holds_off(mm, base + i * PS + 64, i * PS + 64, 64, 101) == 0);
	}
	return NULL;
}

/* writer - rewrites its own pages of the w region and reads each back at once */
static void *writer(void *arg)
{
	struct worker *wk = arg;
	struct conc *c = wk->c;
	uint64_t rnd = 0x51ed27d3a1b2c3d5ULL * (uint64_t)(wk->id + 1);
	unsigned int seed = 1;

	while (!atomic_load(&c->stop)) {
		unsigned int i = (unsigned int)(test_rnd(&rnd) % WPAGES);
		uintptr_t at = c->w + ((uintptr_t)wk->id * WPAGES + i) * PS;

		unsigned char buf[PS];

		seed++;
		for (size_t k = 0; k < PS; k++)
			buf[k] = pat(k, seed);
		TCHECK(umm_write(c->mm, at, buf, PS) == 0);     /* fill() counts checks: main thread only */
		wk->last[i] = seed;
		TCHECK(holds(c->mm, at, PS, seed) == 0);
	}
	return NULL;
}

/* evict - the page at addr in mm, or the shmem page there; errors other than "busy" fail */
static int evict(struct umm_mm *mm, uintptr_t addr)
{
	int err = swap_out_at(mm, addr);

	CHECK(err == 0 || err == -EBUSY || err == -ENOENT);
	return err == 0;
}

/* evict_batch - swap_out_pages over the nr pages at addr that are mapped */
static int evict_batch(struct umm_mm *mm, uintptr_t addr, unsigned int nr)
{
	struct page *pages[SWAP_OUT_BATCH];
	int res[SWAP_OUT_BATCH];
	unsigned int n = 0, done;

	for (unsigned int i = 0; i < nr && n < SWAP_OUT_BATCH; i++) {
		pages[n] = follow_page(mm, addr + i * PS);
		n += pages[n] != NULL;
	}
	done = swap_out_pages(pages, n, res);
	for (unsigned int i = 0; i < n; i++) {
		CHECK(res[i] == 0 || res[i] == -EBUSY);
		put_page(pages[i]);
	}
	return (int)done;
}

static void test_concurrent(void)
{
	struct conc c = { 0 };
	struct worker wk[READERS + WRITERS];
	pthread_t th[READERS + WRITERS];
	double end;
	int evicted = 0;

	c.sys = new_system(16 << 20, 1 << 20);
	c.mm = new_mm(c.sys);
	REQUIRE(umm_object_create_shmem(c.sys, TPAGES * PS, &c.shm) == 0);
	c.a = map(c.mm, TPAGES * PS, MAP_PRIVATE | MAP_ANONYMOUS, NULL);
	c.s = map(c.mm, TPAGES * PS, MAP_SHARED, c.shm);
	c.w = map(c.mm, WRITERS * WPAGES * PS, MAP_PRIVATE | MAP_ANONYMOUS, NULL);
	fill(c.mm, c.a, TPAGES * PS, 101);
	fill(c.mm, c.s, TPAGES * PS, 101);
	for (int i = 0; i < TPAGES / 2; i++)
		CHECK_EQ(swap_out_at(c.mm, c.a + i * PS), 0);  /* half swapped out before fork */
	REQUIRE(umm_fork(c.mm, &c.child) == 0);
	for (int t = 0; t < READERS + WRITERS; t++) {
		wk[t] = (struct worker){ .c = &c, .id = t < READERS ? t : t - READERS };
		REQUIRE(pthread_create(&th[t], NULL, t < READERS ? reader : writer, &wk[t]) == 0);
	}
	end = test_now_s() + 1.0;
	/* at least 50 evictions tried, however the machine schedules this thread */
	for (uint64_t rnd = 77, n = 0; n < 50 || test_now_s() < end; n++) {
		uint64_t r = test_rnd(&rnd);
		unsigned int i = (unsigned int)(r % TPAGES);

		switch ((r >> 32) % 5) {
		case 4: evicted += evict_batch(c.mm, c.w, WRITERS * WPAGES); break;
		case 0: evicted += evict(c.mm, c.a + i * PS); break;
		case 1: evicted += evict(c.child, c.a + i * PS); break;
		case 2: evicted += evict(c.mm, c.s + i * PS); break;
		default: evicted += evict(c.mm, c.w + (i % (WRITERS * WPAGES)) * PS); break;
		}
	}
	atomic_store(&c.stop, 1);
	for (int t = 0; t < READERS + WRITERS; t++)
		pthread_join(th[t], NULL);
	test_fold_thread_checks();
	CHECK(evicted > 0);
	CHECK_EQ(umm_system_check(c.sys), 0);
	CHECK_EQ(holds(c.mm, c.a, TPAGES * PS, 101), 0);
	CHECK_EQ(holds(c.child, c.a, TPAGES * PS, 101), 0);
	CHECK_EQ(holds(c.child, c.s, TPAGES * PS, 101), 0);
	for (int t = READERS; t < READERS + WRITERS; t++)
		for (int i = 0; i < WPAGES; i++)
			if (wk[t].last[i])
				CHECK_EQ(holds(c.mm, c.w + ((uintptr_t)wk[t].id * WPAGES + i) * PS, PS,
					       wk[t].last[i]), 0);
	umm_mm_destroy(c.child);
	umm_mm_destroy(c.mm);
	umm_object_put(c.shm);
	CHECK_EQ(sstats(c.sys).swap_used, 0);
	CHECK_EQ(sstats(c.sys).swap_cache_pages, 0);
	CHECK_EQ(umm_system_destroy(c.sys), 0);
}

int main(void)
{
	RUN(test_config_errors);
	RUN(test_no_swap);
	RUN(test_anon_out_in);
	RUN(test_batch);
	RUN(test_anon_free_slots);
	RUN(test_fork_shared);
	RUN(test_fork_then_swap);
	RUN(test_swap_ptes_in_calls);
	RUN(test_nonlinear_copy);
	RUN(test_nonlinear_copy_ownprot);
	RUN(test_private_file_copy);
	RUN(test_mlock);
	RUN(test_full_device);
	RUN(test_write_error);
	RUN(test_read_error);
	RUN(test_nomem);
	RUN(test_shmem);
	RUN(test_shmem_read_error);
	RUN(test_random);
	RUN(test_concurrent);
	return test_summary("test_swap");
}
