/* SPDX-License-Identifier: MIT */
/*
 * test_filemap.c - the page cache and memory objects: cache operations,
 * reading real files (bytes past EOF are zero and never written back),
 * batched writeback (one request per run of dirty pages, a failure in a
 * run marks exactly its page), truncation, injected I/O and allocation failures (nothing leaks, nothing
 * written is lost), concurrent readers (one read per page), the last put,
 * shmem, and every entry point's bad inputs.
 *
 * The system is built by hand (arena + hooks) so only the layers under
 * test are linked.  Frames are accounted with phys_get_stats: every test
 * checks that it returns to its starting value once the objects are put.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "test.h"
#include "filemap.h"

static struct umm_system *sys;

/* The unmap hook records its last call. */
static struct {
	int calls;
	struct umm_object *obj;
	uint64_t first, end;
	struct page *mapped;      /* a page the test pretends is mapped */
	int unmap_on_call;        /* ... until this call covers its index */
} unmap_log;

static void test_unmap_hook(struct umm_object *obj, uint64_t first, uint64_t end)
{
	struct page *m = unmap_log.mapped;

	unmap_log.calls++;
	unmap_log.obj = obj;
	unmap_log.first = first;
	unmap_log.end = end;
	if (m && unmap_log.calls >= unmap_log.unmap_on_call && m->index >= first && m->index < end) {
		atomic_store(&m->_mapcount, 0);
		unmap_log.mapped = NULL;
	}
}

static void sys_create(void)
{
	sys = calloc(1, sizeof(*sys));
	REQUIRE(sys);
	REQUIRE(phys_create(64 << 20, NULL, &sys->phys) == 0);
	sys->unmap_mapping_range = test_unmap_hook;
}

static void sys_destroy(void)
{
	CHECK_EQ(atomic_load(&sys->nr_objects), 0);
	CHECK_EQ(atomic_load(&sys->nr_pagecache), 0);
	phys_destroy(sys->phys);
	free(sys);
	sys = NULL;
}

static long free_frames(void)
{
	struct phys_stats st;

	phys_get_stats(sys->phys, &st);
	return (long)st.nr_free;
}

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 7 + (i >> 12) * 13 + 1);
}

static unsigned char pattern2(size_t i)
{
	return (unsigned char)(i * 3 + 0x55);
}

static uint64_t file_size(int fd)
{
	struct stat st;

	REQUIRE(fstat(fd, &st) == 0);
	return (uint64_t)st.st_size;
}

/* true if the file's bytes [off, off+len) are fill(i) (absolute offsets) */
static bool file_matches(int fd, uint64_t off, size_t len, unsigned char (*fill)(size_t))
{
	unsigned char *buf = malloc(len);
	bool ok;
	size_t i;

	REQUIRE(buf);
	ok = pread(fd, buf, len, (off_t)off) == (ssize_t)len;
	for (i = 0; ok && i < len; i++)
		ok = buf[i] == fill(off + i);
	free(buf);
	return ok;
}

/* true if the page holds fill(base + i) for i < valid and zeros after */
static bool page_matches(struct page *page, uint64_t base, size_t valid,
			 unsigned char (*fill)(size_t))
{
	const unsigned char *p = page_address(page);
	size_t i;

	for (i = 0; i < PAGE_SIZE; i++)
		if (p[i] != (i < valid ? fill(base + i) : 0))
			return false;
	return true;
}

static struct umm_object *open_file(int fd)
{
	struct umm_object *obj = NULL;

	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	return obj;
}

/* Reopen an unlinked temp file through /proc with other access flags. */
static int reopen(int fd, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, flags);
}

static struct page *new_locked_page(void)
{
	struct page *page = alloc_page(sys->phys, GFP_KERNEL);

	REQUIRE(page);
	lock_page(page);
	return page;
}

/* ---- cache operations ---- */

static void test_cache_ops(void)
{
	long start = free_frames();
	struct umm_object *obj;
	struct page *a, *b, *p, *vec[8];
	uint64_t idx[] = { 3, 5, 100, 1ull << 40 }, pos;
	unsigned int i, n;

	REQUIRE(umm_object_create_shmem(sys, 1ull << 50, &obj) == 0);
	a = new_locked_page();
	CHECK_EQ(add_to_page_cache(a, obj, 5), 0);
	CHECK_EQ(page_count(a), 2);
	CHECK(a->mapping == obj);
	CHECK_EQ(a->index, 5);
	CHECK_EQ(umm_object_cached_pages(obj), 1);
	CHECK_EQ(atomic_load(&sys->nr_pagecache), 1);

	b = new_locked_page();
	CHECK_EQ(add_to_page_cache(b, obj, 5), -EEXIST);
	CHECK_EQ(page_count(b), 1);
	CHECK(b->mapping == NULL);
	CHECK_EQ(umm_object_cached_pages(obj), 1);
	CHECK_EQ(add_to_page_cache(NULL, obj, 1), -EINVAL);
	CHECK_EQ(add_to_page_cache(b, NULL, 1), -EINVAL);
	unlock_page(b);
	put_page(b);

	p = find_get_page(obj, 5);
	CHECK(p == a);
	CHECK_EQ(page_count(a), 3);
	put_page(p);
	CHECK(find_get_page(obj, 6) == NULL);
	CHECK(find_get_page(NULL, 5) == NULL);
	CHECK(find_lock_page(obj, 4) == NULL);
	unlock_page(a);
	p = find_lock_page(obj, 5);
	CHECK(p == a && PageLocked(a));
	unlock_page(p);
	put_page(p);
	put_page(a);                        /* the cache's reference remains */

	for (i = 0; i < ARRAY_SIZE(idx); i++) {
		if (idx[i] == 5)
			continue;
		p = new_locked_page();
		CHECK_EQ(add_to_page_cache(p, obj, idx[i]), 0);
		unlock_page(p);
		put_page(p);
	}
	CHECK_EQ(umm_object_cached_pages(obj), 4);

	/* ordered iteration, respecting start, end and nr */
	pos = 0;
	n = find_get_pages(obj, &pos, UINT64_MAX, 8, vec);
	CHECK_EQ(n, 4);
	for (i = 0; i < n; i++) {
		CHECK_EQ(vec[i]->index, idx[i]);
		CHECK_EQ(page_count(vec[i]), 2);
		put_page(vec[i]);
	}
	CHECK_EQ(pos, (1ull << 40) + 1);
	pos = 4;
	n = find_get_pages(obj, &pos, 101, 8, vec);
	CHECK_EQ(n, 2);
	CHECK_EQ(vec[0]->index, 5);
	CHECK_EQ(vec[1]->index, 100);
	CHECK_EQ(pos, 101);
	put_page(vec[0]);
	put_page(vec[1]);
	pos = 0;
	CHECK_EQ(find_get_pages(obj, &pos, UINT64_MAX, 1, vec), 1);
	CHECK_EQ(pos, 4);
	put_page(vec[0]);
	pos = 6;
	CHECK_EQ(find_get_pages(obj, &pos, 100, 8, vec), 0);
	CHECK_EQ(find_get_pages(obj, &pos, 5, 8, vec), 0);
	CHECK_EQ(find_get_pages(NULL, &pos, 500, 8, vec), 0);

	/* delete: the cache's reference goes, the page is ours alone */
	p = find_lock_page(obj, 100);
	REQUIRE(p);
	delete_from_page_cache(p);
	CHECK(p->mapping == NULL);
	CHECK_EQ(page_count(p), 1);
	CHECK(find_get_page(obj, 100) == NULL);
	CHECK_EQ(umm_object_cached_pages(obj), 3);
	CHECK_EQ(atomic_load(&sys->nr_pagecache), 3);
	unlock_page(p);
	put_page(p);

	/* set_page_dirty reports the clean -> dirty transition */
	p = find_get_page(obj, 3);
	CHECK(set_page_dirty(p));
	CHECK(!set_page_dirty(p));
	CHECK(PageDirty(p));
	CHECK(!set_page_dirty(NULL));
	put_page(p);

	umm_object_put(obj);
	CHECK_EQ(free_frames(), start);
	CHECK_EQ(atomic_load(&sys->nr_pagecache), 0);
}

/* between hook of test_page_runs: counts its calls and the references the pages had then */
struct run_hook {
	struct page **pages;
	unsigned int nr, calls;
	int counts[8];
};

static void run_hook_between(void *arg)
{
	struct run_hook *h = arg;

	h->calls++;
	for (unsigned int i = 0; i < h->nr; i++)
		h->counts[i] = h->pages[i] ? page_count(h->pages[i]) : 0;
}

/*
 * find_get_page_run / find_get_page_runs: each slot of a run gets its
 * cached page, referenced, or NULL; the between hook runs once, after the
 * lookup and before the references; page_cache_prefetch_run (a hint)
 * changes nothing.
 */
static void test_page_runs(void)
{
	long start = free_frames();
	struct umm_object *obj;
	struct page *cached[3], *pages[8], *other[8];
	const uint64_t idx[] = { 62, 64, 66 };   /* around a radix leaf boundary */
	struct run_hook h = { .pages = pages, .nr = 6 };
	struct page_run runs[2] = { { .first = 61, .nr = 6, .pages = pages },
				    { .first = 1000, .nr = 2, .pages = other } };

	REQUIRE(umm_object_create_shmem(sys, 1ull << 30, &obj) == 0);
	for (unsigned int i = 0; i < ARRAY_SIZE(idx); i++) {
		cached[i] = new_locked_page();
		REQUIRE(add_to_page_cache(cached[i], obj, idx[i]) == 0);
		unlock_page(cached[i]);
		put_page(cached[i]);            /* the cache's reference remains */
	}
	page_cache_prefetch_run(obj, 0, 300);
	page_cache_prefetch_run(obj, 1ull << 40, 4);
	CHECK_EQ(umm_object_cached_pages(obj), 3);

	/* 61..66: NULL, 62, NULL, 64, NULL, 66 */
	CHECK_EQ(find_get_page_run(obj, 61, 6, pages, true, run_hook_between, &h), 3);
	CHECK_EQ(h.calls, 1);
	for (unsigned int i = 0; i < 6; i++) {
		bool here = (61 + i) % 2 == 0;

		CHECK(pages[i] == (here ? cached[(i - 1) / 2] : NULL));
		CHECK_EQ(h.counts[i], here ? 1 : 0);   /* the hook ran before the references */
		if (pages[i]) {
			CHECK_EQ(page_count(pages[i]), 2);
			put_page(pages[i]);
		}
	}
	/* no hook, no frames; nothing cached there */
	CHECK_EQ(find_get_page_run(obj, 1000, 8, other, false, NULL, NULL), 0);
	for (unsigned int i = 0; i < 8; i++)
		CHECK(other[i] == NULL);

	CHECK_EQ(find_get_page_runs(obj, runs, 2, true), 3);
	CHECK_EQ(runs[0].found, 3);
	CHECK_EQ(runs[1].found, 0);
	CHECK(other[0] == NULL && other[1] == NULL);
	for (unsigned int i = 0; i < 6; i++) {
		CHECK(pages[i] == ((61 + i) % 2 == 0 ? cached[(i - 1) / 2] : NULL));
		if (pages[i]) {
			CHECK_EQ(page_count(pages[i]), 2);
			put_page(pages[i]);
		}
	}
	umm_object_put(obj);
	CHECK_EQ(free_frames(), start);
}

/* ---- reading files ---- */

static void test_read_file(void)
{
	long start = free_frames();
	size_t size = 3 * PAGE_SIZE + 100;
	int fd = test_tmpfile(size, pattern);
	struct umm_object *obj = open_file(fd);
	struct page *page, *again;
	bool major;
	uint64_t i;

	CHECK_EQ(umm_object_size(obj), size);
	close(fd);                          /* the object has its own fd */
	for (i = 0; i < 4; i++) {
		major = false;
		CHECK_EQ(read_cache_page(obj, i, &page, &major), 0);
		CHECK(major);
		CHECK(PageUptodate(page) && !PageLocked(page) && !PageDirty(page));
		CHECK(page->mapping == obj && page->index == i);
		CHECK(page_matches(page, i * PAGE_SIZE, i < 3 ? PAGE_SIZE : 100, pattern));
		CHECK_EQ(page_count(page), 2);

		major = true;
		CHECK_EQ(read_cache_page(obj, i, &again, &major), 0);
		CHECK(!major);
		CHECK(again == page);
		put_page(again);
		put_page(page);
	}
	CHECK_EQ(read_cache_page(obj, 0, &page, NULL), 0);   /* major is optional */
	put_page(page);
	CHECK_EQ(umm_object_cached_pages(obj), 4);
	CHECK_EQ(atomic_load(&sys->nr_pagecache), 4);

	/* wholly past EOF: SIGBUS, no I/O, nothing cached */
	page = NULL;
	CHECK_EQ(read_cache_page(obj, 4, &page, &major), -EIO);
	CHECK(page == NULL && !major);
	CHECK_EQ(read_cache_page(obj, UINT64_MAX, &page, NULL), -EIO);
	CHECK_EQ(umm_object_cached_pages(obj), 4);
	CHECK_EQ(read_cache_page(NULL, 0, &page, NULL), -EINVAL);
	CHECK_EQ(read_cache_page(obj, 0, NULL, NULL), -EINVAL);

	umm_object_put(obj);
	CHECK_EQ(atomic_load(&sys->nr_objects), 0);
	CHECK_EQ(free_frames(), start);
}

/* Stores past EOF in the last page stay in memory: the file is not extended. */
static void test_writeback_past_eof(void)
{
	long start = free_frames();
	size_t size = PAGE_SIZE + 100;
	int fd = test_tmpfile(size, pattern);
	struct umm_object *obj = open_file(fd);
	struct page *page;
	unsigned char buf[PAGE_SIZE];

	REQUIRE(read_cache_page(obj, 1, &page, NULL) == 0);
	CHECK(page_matches(page, PAGE_SIZE, 100, pattern));
	memset(page_address(page), 0xab, PAGE_SIZE);
	CHECK(set_page_dirty(page));
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK(!PageDirty(page));
	CHECK_EQ(file_size(fd), size);
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(pread(fd, buf, sizeof(buf), PAGE_SIZE), 100);
	CHECK(buf[0] == 0xab && buf[99] == 0xab);
	CHECK(file_matches(fd, 0, PAGE_SIZE, pattern));
	put_page(page);

	/* sync of a clean cache writes nothing */
	fault_inject_arm(&sys->fail_write, 0, -1);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK_EQ(atomic_load(&sys->fail_write.hits), 0);
	fault_inject_arm(&sys->fail_write, 0, 0);

	umm_object_put(obj);
	CHECK_EQ(file_size(fd), size);
	close(fd);
	CHECK_EQ(free_frames(), start);
}

/* ---- truncate ---- */

static void test_truncate(void)
{
	long start = free_frames();
	int fd = test_tmpfile(5 * PAGE_SIZE, pattern);
	struct umm_object *obj = open_file(fd);
	struct page *page, *held;
	uint64_t i, newsize = 2 * PAGE_SIZE + 10;
	bool major;

	for (i = 0; i < 5; i++) {
		REQUIRE(read_cache_page(obj, i, &page, NULL) == 0);
		if (i == 4)
			held = page;                /* a user keeps a reference */
		else
			put_page(page);
	}
	/* a dirty page past the new end is discarded, not written */
	REQUIRE(read_cache_page(obj, 3, &page, NULL) == 0);
	memset(page_address(page), 0xee, PAGE_SIZE);
	set_page_dirty(page);
	put_page(page);

	unmap_log.calls = 0;
	CHECK_EQ(umm_object_truncate(obj, newsize), 0);
	CHECK_EQ(unmap_log.calls, 1);
	CHECK(unmap_log.obj == obj);
	CHECK_EQ(unmap_log.first, 3);
	CHECK_EQ(unmap_log.end, UINT64_MAX);
	CHECK_EQ(umm_object_size(obj), newsize);
	CHECK_EQ(file_size(fd), newsize);
	CHECK_EQ(umm_object_cached_pages(obj), 3);
	CHECK(held->mapping == NULL);       /* dropped from the cache, still ours */
	CHECK_EQ(page_count(held), 1);
	put_page(held);

	REQUIRE(read_cache_page(obj, 2, &page, &major) == 0);
	CHECK(!major);
	CHECK(page_matches(page, 2 * PAGE_SIZE, 10, pattern));
	put_page(page);
	CHECK_EQ(read_cache_page(obj, 3, &page, NULL), -EIO);
	CHECK_EQ(read_cache_page(obj, 4, &page, NULL), -EIO);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK_EQ(file_size(fd), newsize);   /* the discarded dirty page stayed discarded */

	/* grow: the new range reads as zeros */
	unmap_log.calls = 0;
	CHECK_EQ(umm_object_truncate(obj, 5 * PAGE_SIZE), 0);
	CHECK_EQ(unmap_log.calls, 0);
	CHECK_EQ(file_size(fd), 5 * PAGE_SIZE);
	REQUIRE(read_cache_page(obj, 3, &page, &major) == 0);
	CHECK(major);
	CHECK(page_matches(page, 0, 0, pattern));
	put_page(page);
	REQUIRE(read_cache_page(obj, 2, &page, &major) == 0);
	CHECK(page_matches(page, 2 * PAGE_SIZE, 10, pattern));
	put_page(page);

	/* shrink to a page boundary: page 2 is dropped whole */
	CHECK_EQ(umm_object_truncate(obj, 2 * PAGE_SIZE), 0);
	CHECK_EQ(unmap_log.first, 2);
	CHECK_EQ(umm_object_cached_pages(obj), 2);
	CHECK(file_matches(fd, 0, 2 * PAGE_SIZE, pattern));

	CHECK_EQ(umm_object_truncate(obj, 0), 0);
	CHECK_EQ(unmap_log.first, 0);
	CHECK_EQ(umm_object_cached_pages(obj), 0);
	CHECK_EQ(file_size(fd), 0);
	CHECK_EQ(read_cache_page(obj, 0, &page, NULL), -EIO);

	umm_object_put(obj);
	close(fd);
	CHECK_EQ(free_frames(), start);
}

/*
 * A fault that raced with truncate mapped a page after the range was
 * unmapped: truncate_inode_pages unmaps that page again before dropping it.
 */
static void test_truncate_remaps_raced_page(void)
{
	long start = free_frames();
	int fd = test_tmpfile(4 * PAGE_SIZE, pattern);
	struct umm_object *obj = open_file(fd);
	struct page *page;

	REQUIRE(read_cache_page(obj, 3, &page, NULL) == 0);
	atomic_store(&page->_mapcount, 1);        /* "mapped" */
	unmap_log.calls = 0;
	unmap_log.mapped = page;
	unmap_log.unmap_on_call = 2;              /* the first unmap misses it */
	CHECK_EQ(umm_object_truncate(obj, PAGE_SIZE), 0);
	CHECK_EQ(unmap_log.calls, 2);
	CHECK_EQ(unmap_log.first, 3);
	CHECK_EQ(unmap_log.end, 4);
	CHECK(!page_mapped(page));
	CHECK(page->mapping == NULL);
	CHECK_EQ(umm_object_cached_pages(obj), 0);
	unmap_log.mapped = NULL;
	put_page(page);
	umm_object_put(obj);
	close(fd);
	CHECK_EQ(free_frames(), start);
}

/* Stores past the old end must not show up when the object grows. */
static void test_truncate_grow_zeroes_old_tail(void)
{
	long start = free_frames();
	int fd = test_tmpfile(100, pattern);
	struct umm_object *obj = open_file(fd);
	struct page *page;

	REQUIRE(read_cache_page(obj, 0, &page, NULL) == 0);
	memset((char *)page_address(page) + 100, 0x77, PAGE_SIZE - 100);
	CHECK_EQ(umm_object_truncate(obj, 2 * PAGE_SIZE), 0);
	CHECK(page_matches(page, 0, 100, pattern));
	put_page(page);
	umm_object_put(obj);
	CHECK_EQ(file_size(fd), 2 * PAGE_SIZE);
	close(fd);
	CHECK_EQ(free_frames(), start);
}

static void test_truncate_bad_input(void)
{
	long start = free_frames();
	int fd = test_tmpfile(3 * PAGE_SIZE, pattern);
	int rdonly = reopen(fd, O_RDONLY);
	struct umm_object *obj;
	struct page *page;

	REQUIRE(rdonly >= 0);
	obj = open_file(rdonly);
	CHECK(obj->readable && !obj->writable);
	REQUIRE(read_cache_page(obj, 2, &page, NULL) == 0);
	put_page(page);

	unmap_log.calls = 0;
	CHECK_EQ(umm_object_truncate(obj, PAGE_SIZE), -EINVAL);
	CHECK_EQ(umm_object_truncate(obj, 10 * PAGE_SIZE), -EINVAL);
	CHECK_EQ(umm_object_truncate(obj, UINT64_MAX), -EINVAL);
	CHECK_EQ(umm_object_truncate(NULL, 0), -EINVAL);
	CHECK_EQ(unmap_log.calls, 0);
	CHECK_EQ(umm_object_size(obj), 3 * PAGE_SIZE);
	CHECK_EQ(file_size(fd), 3 * PAGE_SIZE);
	CHECK_EQ(umm_object_cached_pages(obj), 1);
	CHECK_EQ(umm_object_size(NULL), 0);
	CHECK_EQ(umm_object_cached_pages(NULL), 0);

	umm_object_put(obj);
	close(rdonly);
	close(fd);
	CHECK_EQ(free_frames(), start);
}

/* ---- injected failures ---- */

static void test_read_failure(void)
{
	long start = free_frames();
	int fd = test_tmpfile(4 * PAGE_SIZE, pattern);
	struct umm_object *obj = open_file(fd);
	struct page *page = NULL;
	bool major = true;

	fault_inject_arm(&sys->fail_read, 0, 1);
	CHECK_EQ(read_cache_page(obj, 1, &page, &major), -EIO);
	CHECK(page == NULL);
	CHECK_EQ(atomic_load(&sys->fail_read.hits), 1);
	CHECK_EQ(umm_object_cached_pages(obj), 0);
	CHECK(find_get_page(obj, 1) == NULL);
	CHECK_EQ(atomic_load(&sys->nr_pagecache), 0);
	CHECK_EQ(free_frames(), start);

	/* the next read works */
	CHECK_EQ(read_cache_page(obj, 1, &page, &major), 0);
	CHECK(major && !PageError(page));
	CHECK(page_matches(page, PAGE_SIZE, PAGE_SIZE, pattern));
	put_page(page);

	/* skip: the first read succeeds, the second fails */
	fault_inject_arm(&sys->fail_read, 1, 1);
	CHECK_EQ(read_cache_page(obj, 2, &page, NULL), 0);
	put_page(page);
	CHECK_EQ(read_cache_page(obj, 3, &page, NULL), -EIO);
	CHECK_EQ(umm_object_cached_pages(obj), 2);
	fault_inject_arm(&sys->fail_read, 0, 0);

	/* out of frames: -ENOMEM, nothing cached */
	fault_inject_arm(&sys->phys->fail_alloc, 0, 1);
	CHECK_EQ(read_cache_page(obj, 3, &page, NULL), -ENOMEM);
	fault_inject_arm(&sys->phys->fail_alloc, 0, 0);
	CHECK_EQ(umm_object_cached_pages(obj), 2);
	CHECK_EQ(read_cache_page(obj, 3, &page, NULL), 0);
	put_page(page);

	umm_object_put(obj);
	close(fd);
	CHECK_EQ(free_frames(), start);
}

/*
 * force_page_cache_readahead: only the missing pages are read, one request
 * per run of consecutive missing pages (at most 128 pages each), clipped
 * at end of file; a failed request leaves nothing cached and the next run
 * is still tried.
 */
static void test_read_range(void)
{
	long start = free_frames();
	size_t size = 300 * PAGE_SIZE - 1000;       /* last page partial */
	int fd = test_tmpfile(size, pattern);
	struct umm_object *obj = open_file(fd);
	const uint64_t warm[] = { 5, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110 };
	struct page *page;
	unsigned long hits0 = atomic_load(&sys->fail_read.hits);

	for (size_t i = 0; i < sizeof(warm) / sizeof(warm[0]); i++) {
		CHECK_EQ(read_cache_page(obj, warm[i], &page, NULL), 0);
		put_page(page);
	}
	/* runs [0,5), [6,100), [111,239), [239,300): four requests, all failing */
	fault_inject_arm(&sys->fail_read, 0, -1);
	CHECK_EQ(filemap_read_range(obj, 0, 1000), -EIO);
	CHECK_EQ(atomic_load(&sys->fail_read.hits) - hits0, 4);
	CHECK_EQ(umm_object_cached_pages(obj), 12);
	fault_inject_arm(&sys->fail_read, 0, 0);
	CHECK_EQ(free_frames(), start - 12);
	/* the second request fails: the others are read */
	fault_inject_arm(&sys->fail_read, 1, 1);
	CHECK_EQ(filemap_read_range(obj, 0, 1000), 5 + 128 + 61);
	CHECK_EQ(umm_object_cached_pages(obj), 12 + 5 + 128 + 61);
	CHECK(find_get_page(obj, 50) == NULL);
	fault_inject_arm(&sys->fail_read, 0, 0);
	CHECK_EQ(filemap_read_range(obj, 0, 1000), 94);
	CHECK_EQ(umm_object_cached_pages(obj), 300);
	CHECK_EQ(filemap_read_range(obj, 0, 1000), 0);   /* nothing missing */
	for (uint64_t i = 0; i < 300; i++) {
		page = find_get_page(obj, i);
		REQUIRE(page);
		CHECK(PageUptodate(page) && !PageLocked(page) && !PageError(page));
		CHECK(page_matches(page, i * PAGE_SIZE, i < 299 ? PAGE_SIZE : PAGE_SIZE - 1000, pattern));
		put_page(page);
	}
	CHECK_EQ(filemap_read_range(obj, 300, 5), 0);    /* past the end */
	CHECK_EQ(filemap_read_range(NULL, 0, 5), -EINVAL);
	/* out of frames: -ENOMEM when nothing could be read */
	truncate_inode_pages(obj, 0);
	fault_inject_arm(&sys->phys->fail_alloc, 0, -1);
	CHECK_EQ(filemap_read_range(obj, 0, 10), -ENOMEM);
	fault_inject_arm(&sys->phys->fail_alloc, 0, 0);
	CHECK_EQ(umm_object_cached_pages(obj), 0);
	umm_object_put(obj);
	close(fd);
	CHECK_EQ(free_frames(), start);
}

static void test_write_failure(void)
{
	long start = free_frames();
	int fd = test_tmpfile(2 * PAGE_SIZE, pattern);
	struct umm_object *obj = open_file(fd);
	struct page *page;
	size_t i;

	REQUIRE(read_cache_page(obj, 1, &page, NULL) == 0);
	for (i = 0; i < PAGE_SIZE; i++)
		((unsigned char *)page_address(page))[i] = pattern2(PAGE_SIZE + i);
	set_page_dirty(page);

	fault_inject_arm(&sys->fail_write, 0, 1);
	CHECK_EQ(umm_object_sync(obj, 0, 0), -EIO);
	CHECK(PageDirty(page) && PageError(page));
	CHECK(file_matches(fd, PAGE_SIZE, PAGE_SIZE, pattern));   /* not written */
	CHECK_EQ(umm_object_cached_pages(obj), 1);

	/* the error was reported once; the next sync writes the data */
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK(!PageDirty(page) && !PageError(page));
	CHECK(file_matches(fd, PAGE_SIZE, PAGE_SIZE, pattern2));

	/* an error met by other writeback is reported by the next sync */
	set_page_dirty(page);
	fault_inject_arm(&sys->fail_write, 0, 1);
	lock_page(page);
	CHECK_EQ(write_one_page(page), -EIO);
	unlock_page(page);
	CHECK_EQ(umm_object_sync(obj, 0, 0), -EIO);   /* page written now, error reported */
	CHECK(!PageDirty(page));
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);

	/* a clean page is not written */
	fault_inject_arm(&sys->fail_write, 0, -1);
	lock_page(page);
	CHECK_EQ(write_one_page(page), 0);
	unlock_page(page);
	fault_inject_arm(&sys->fail_write, 0, 0);
	CHECK_EQ(write_one_page(NULL), -EINVAL);
	CHECK_EQ(filemap_write_range(NULL, 0, 1), -EINVAL);
	put_page(page);

	/* the last put after a failed sync still gets the data out */
	REQUIRE(read_cache_page(obj, 0, &page, NULL) == 0);
	memset(page_address(page), 0x5a, PAGE_SIZE);
	set_page_dirty(page);
	put_page(page);
	fault_inject_arm(&sys->fail_write, 0, 1);
	CHECK_EQ(umm_object_sync(obj, 0, 0), -EIO);
	umm_object_put(obj);
	{
		unsigned char buf[PAGE_SIZE];
		CHECK_EQ(pread(fd, buf, PAGE_SIZE, 0), PAGE_SIZE);
		CHECK(buf[0] == 0x5a && buf[PAGE_SIZE - 1] == 0x5a);
	}

	/* a last put whose writeback fails for good still frees everything */
	obj = open_file(fd);
	REQUIRE(read_cache_page(obj, 0, &page, NULL) == 0);
	memset(page_address(page), 0x66, PAGE_SIZE);
	set_page_dirty(page);
	put_page(page);
	fault_inject_arm(&sys->fail_write, 0, -1);
	umm_object_put(obj);
	fault_inject_arm(&sys->fail_write, 0, 0);
	CHECK_EQ(atomic_load(&sys->nr_objects), 0);
	close(fd);
	CHECK_EQ(free_frames(), start);
}

/* ---- sync ranges ---- */

static void test_sync_range(void)
{
	long start = free_frames();
	int fd = test_tmpfile(4 * PAGE_SIZE, pattern);
	struct umm_object *obj = open_file(fd);
	struct page *pages[4];
	unsigned int i;

	for (i = 0; i < 4; i++) {
		REQUIRE(read_cache_page(obj, i, &pages[i], NULL) == 0);
		set_page_dirty(pages[i]);
	}
	CHECK_EQ(umm_object_sync(obj, PAGE_SIZE + 5, 1), 0);
	CHECK(PageDirty(pages[0]) && !PageDirty(pages[1]) && PageDirty(pages[2]));
	CHECK_EQ(umm_object_sync(obj, PAGE_SIZE + 5, PAGE_SIZE), 0);   /* touches page 2 */
	CHECK(PageDirty(pages[0]) && !PageDirty(pages[2]) && PageDirty(pages[3]));
	CHECK_EQ(umm_object_sync(obj, UINT64_MAX - 10, 100), -EINVAL);
	CHECK_EQ(umm_object_sync(NULL, 0, 0), -EINVAL);
	CHECK(PageDirty(pages[0]) && PageDirty(pages[3]));
	CHECK_EQ(umm_object_sync(obj, 3 * PAGE_SIZE, 0), 0);
	CHECK(PageDirty(pages[0]) && !PageDirty(pages[3]));
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK(!PageDirty(pages[0]));
	for (i = 0; i < 4; i++)
		put_page(pages[i]);
	umm_object_put(obj);
	close(fd);
	CHECK_EQ(free_frames(), start);
}

/* ---- batched writeback ---- */

/* dirty_with - cached page @index of @obj filled with pattern2 and dirtied; returns it referenced. */
static struct page *dirty_with(struct umm_object *obj, uint64_t index)
{
	struct page *page;
	unsigned char *p;

	REQUIRE(read_cache_page(obj, index, &page, NULL) == 0);
	p = page_address(page);
	for (size_t i = 0; i < PAGE_SIZE; i++)
		p[i] = pattern2(index * PAGE_SIZE + i);
	set_page_dirty(page);
	return page;
}

static void reset_write_counts(void)
{
	atomic_store(&sys->file_write_requests, 0);
	atomic_store(&sys->file_write_pages, 0);
}

/*
 * Each run of consecutive dirty pages goes to the file in one request (at
 * most WRITEPAGES_MAX pages), a clean page splits runs, and the tail past
 * the end of the file is not written.
 */
static void test_write_batched(void)
{
	long start = free_frames();
	const uint64_t nr = WRITEPAGES_MAX + 65;    /* the last page is partial */
	size_t size = (nr - 1) * PAGE_SIZE + 100;
	int fd = test_tmpfile(size, pattern);
	struct umm_object *obj = open_file(fd);
	struct page **pages = calloc(nr, sizeof(*pages));
	uint64_t i;

	REQUIRE(pages);
	for (i = 0; i < nr; i++) {
		if (i == 10)
			REQUIRE(read_cache_page(obj, i, &pages[i], NULL) == 0);   /* clean */
		else
			pages[i] = dirty_with(obj, i);
	}
	reset_write_counts();
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	/* [0, 10), then [11, 11 + WRITEPAGES_MAX), then the rest */
	CHECK_EQ(atomic_load(&sys->file_write_requests), 3);
	CHECK_EQ(atomic_load(&sys->file_write_pages), nr - 1);
	for (i = 0; i < nr; i++)
		CHECK(!PageDirty(pages[i]) && !PageError(pages[i]) && !PageLocked(pages[i]) &&
		      !PageWriteback(pages[i]));
	CHECK(file_matches(fd, 0, 10 * PAGE_SIZE, pattern2));
	CHECK(file_matches(fd, 10 * PAGE_SIZE, PAGE_SIZE, pattern));
	CHECK(file_matches(fd, 11 * PAGE_SIZE, size - 11 * PAGE_SIZE, pattern2));
	CHECK_EQ(file_size(fd), size);

	/* nothing dirty: no request */
	reset_write_counts();
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK_EQ(atomic_load(&sys->file_write_requests), 0);

	/* a range: only its dirty pages, as one run */
	for (i = 20; i < 30; i++)
		set_page_dirty(pages[i]);
	reset_write_counts();
	CHECK_EQ(umm_object_sync(obj, 22 * PAGE_SIZE, 3 * PAGE_SIZE), 0);
	CHECK_EQ(atomic_load(&sys->file_write_requests), 1);
	CHECK_EQ(atomic_load(&sys->file_write_pages), 3);
	for (i = 20; i < 30; i++)
		CHECK_EQ(PageDirty(pages[i]), i < 22 || i >= 25);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);

	for (i = 0; i < nr; i++)
		put_page(pages[i]);
	free(pages);
	umm_object_put(obj);
	close(fd);
	CHECK_EQ(free_frames(), start);
}

/*
 * A write that fails in the middle of a run marks exactly the page it
 * failed on (dirty, PG_error) and the pages after it are still written:
 * injected failures (asked once per page), and a real short write
 * (RLIMIT_FSIZE below the file's end: EFBIG from there on).
 */
static void test_write_batched_errors(void)
{
	long start = free_frames();
	enum { NR = 16 };
	int fd = test_tmpfile(NR * PAGE_SIZE, pattern);
	struct umm_object *obj = open_file(fd);
	struct page *pages[NR];
	unsigned int i;

	for (i = 0; i < NR; i++)
		pages[i] = dirty_with(obj, i);
	reset_write_counts();
	fault_inject_arm(&sys->fail_write, 5, 1);
	CHECK_EQ(umm_object_sync(obj, 0, 0), -EIO);
	fault_inject_arm(&sys->fail_write, 0, 0);
	CHECK_EQ(atomic_load(&sys->file_write_requests), 2);     /* [0, 5) and [6, 16) */
	CHECK_EQ(atomic_load(&sys->file_write_pages), NR - 1);
	for (i = 0; i < NR; i++) {
		CHECK_EQ(PageDirty(pages[i]), i == 5);
		CHECK_EQ(PageError(pages[i]), i == 5);
		CHECK(!PageLocked(pages[i]) && !PageWriteback(pages[i]));
	}
	CHECK(file_matches(fd, 0, 5 * PAGE_SIZE, pattern2));
	CHECK(file_matches(fd, 5 * PAGE_SIZE, PAGE_SIZE, pattern));
	CHECK(file_matches(fd, 6 * PAGE_SIZE, (NR - 6) * PAGE_SIZE, pattern2));
	/* the next sync writes page 5 alone and clears its error */
	reset_write_counts();
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK_EQ(atomic_load(&sys->file_write_requests), 1);
	CHECK(!PageDirty(pages[5]) && !PageError(pages[5]));
	CHECK(file_matches(fd, 0, NR * PAGE_SIZE, pattern2));

	/* two failures in a row, then the first page of the range */
	for (i = 0; i < NR; i++)
		set_page_dirty(pages[i]);
	fault_inject_arm(&sys->fail_write, 3, 2);
	CHECK_EQ(umm_object_sync(obj, 0, 0), -EIO);
	for (i = 0; i < NR; i++)
		CHECK_EQ(PageDirty(pages[i]) && PageError(pages[i]), i == 3 || i == 4);
	fault_inject_arm(&sys->fail_write, 0, 1);
	CHECK_EQ(umm_object_sync(obj, 0, 0), -EIO);
	fault_inject_arm(&sys->fail_write, 0, 0);
	CHECK(PageDirty(pages[3]) && PageError(pages[3]) && !PageDirty(pages[4]));
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	for (i = 0; i < NR; i++)
		CHECK(!PageDirty(pages[i]) && !PageError(pages[i]));

	/* a real short write: the file may not reach past 8.5 pages */
	{
		struct rlimit old, lim;
		void (*old_xfsz)(int) = signal(SIGXFSZ, SIG_IGN);
		uint64_t limit = 8 * PAGE_SIZE + PAGE_SIZE / 2;

		for (i = 0; i < NR; i++) {
			memset(page_address(pages[i]), 0x3c, PAGE_SIZE);
			set_page_dirty(pages[i]);
		}
		REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
		lim = old;
		lim.rlim_cur = limit;
		REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
		CHECK_EQ(umm_object_sync(obj, 0, 0), -EIO);
		REQUIRE(setrlimit(RLIMIT_FSIZE, &old) == 0);
		signal(SIGXFSZ, old_xfsz);
		for (i = 0; i < NR; i++) {
			CHECK_EQ(PageDirty(pages[i]), i >= 8);
			CHECK_EQ(PageError(pages[i]), i >= 8);
		}
		{
			unsigned char buf[PAGE_SIZE];
			bool ok = true;

			for (i = 0; i < 8; i++) {
				ok &= pread(fd, buf, PAGE_SIZE, (off_t)i * PAGE_SIZE) == PAGE_SIZE;
				for (size_t b = 0; b < PAGE_SIZE; b++)
					ok &= buf[b] == 0x3c;
			}
			CHECK(ok);
		}
		CHECK_EQ(umm_object_sync(obj, 0, 0), 0);   /* the limit is gone: written now */
		for (i = 0; i < NR; i++)
			CHECK(!PageDirty(pages[i]) && !PageError(pages[i]));
	}

	for (i = 0; i < NR; i++)
		put_page(pages[i]);
	umm_object_put(obj);
	close(fd);
	CHECK_EQ(free_frames(), start);
}

struct sync_arg {
	struct umm_object *obj;
	int ret;
};

static void *sync_thread(void *p)
{
	struct sync_arg *a = p;

	a->ret = umm_object_sync(a->obj, 0, 0);
	return NULL;
}

/*
 * A page another thread holds locked ends the run: the pages before it
 * are written and unlocked before the writeback waits for that page's
 * lock (no page lock is held while it waits), and the rest is one more
 * run.
 */
static void test_write_batched_locked_page(void)
{
	long start = free_frames();
	enum { NR = 8 };
	int fd = test_tmpfile(NR * PAGE_SIZE, pattern);
	struct umm_object *obj = open_file(fd);
	struct sync_arg arg = { obj, -1 };
	struct page *pages[NR];
	pthread_t th;
	unsigned int i;

	for (i = 0; i < NR; i++)
		pages[i] = dirty_with(obj, i);
	reset_write_counts();
	lock_page(pages[3]);
	REQUIRE(pthread_create(&th, NULL, sync_thread, &arg) == 0);
	while (page_lock_waiters(pages[3]) < 1)
		usleep(100);
	CHECK_EQ(atomic_load(&sys->file_write_requests), 1);
	for (i = 0; i < 3; i++)
		CHECK(!PageLocked(pages[i]) && !PageDirty(pages[i]));
	CHECK(file_matches(fd, 0, 3 * PAGE_SIZE, pattern2));
	CHECK(PageDirty(pages[3]));
	unlock_page(pages[3]);
	pthread_join(th, NULL);
	CHECK_EQ(arg.ret, 0);
	CHECK_EQ(atomic_load(&sys->file_write_requests), 2);
	CHECK_EQ(atomic_load(&sys->file_write_pages), NR);
	CHECK(file_matches(fd, 0, NR * PAGE_SIZE, pattern2));
	for (i = 0; i < NR; i++) {
		CHECK(!PageDirty(pages[i]) && !PageLocked(pages[i]));
		put_page(pages[i]);
	}
	umm_object_put(obj);
	close(fd);
	CHECK_EQ(free_frames(), start);
}

/* ---- concurrency ---- */

#define CONC_THREADS 4
#define CONC_PAGES 48

struct conc_arg {
	struct umm_object *obj;
	unsigned int id;
	struct page *seen[CONC_PAGES];
	int err[CONC_PAGES];
	unsigned int majors;
	unsigned int bad;        /* pages returned not uptodate or with wrong bytes */
};

static void *conc_reader(void *p)
{
	struct conc_arg *a = p;
	unsigned int k;

	for (k = 0; k < CONC_PAGES; k++) {
		/* threads walk in different orders so they meet on every page */
		unsigned int i = a->id & 1 ? CONC_PAGES - 1 - k : k;
		bool major = false;

		a->seen[i] = NULL;
		a->err[i] = read_cache_page(a->obj, i, &a->seen[i], &major);
		if (!a->err[i] && major)
			a->majors++;
	}
	return NULL;
}

static void run_readers(struct umm_object *obj, struct conc_arg *args)
{
	pthread_t th[CONC_THREADS];
	unsigned int t;

	for (t = 0; t < CONC_THREADS; t++) {
		memset(&args[t], 0, sizeof(args[t]));
		args[t].obj = obj;
		args[t].id = t;
		REQUIRE(pthread_create(&th[t], NULL, conc_reader, &args[t]) == 0);
	}
	for (t = 0; t < CONC_THREADS; t++)
		pthread_join(th[t], NULL);
}

static void test_concurrent_read(void)
{
	long start = free_frames();
	int fd = test_tmpfile(CONC_PAGES * PAGE_SIZE, pattern);
	struct conc_arg args[CONC_THREADS];
	unsigned int round, t, i, majors;

	for (round = 0; round < 6; round++) {
		struct umm_object *obj = open_file(fd);

		run_readers(obj, args);
		majors = 0;
		for (t = 0; t < CONC_THREADS; t++)
			majors += args[t].majors;
		CHECK_EQ(majors, CONC_PAGES);                /* one read per page */
		for (i = 0; i < CONC_PAGES; i++) {
			for (t = 0; t < CONC_THREADS; t++) {
				CHECK_EQ(args[t].err[i], 0);
				CHECK(args[t].seen[i] == args[0].seen[i]);
			}
			CHECK(page_matches(args[0].seen[i], (uint64_t)i * PAGE_SIZE, PAGE_SIZE, pattern));
			CHECK_EQ(page_count(args[0].seen[i]), 1 + CONC_THREADS);
			for (t = 0; t < CONC_THREADS; t++)
				put_page(args[t].seen[i]);
		}
		CHECK_EQ(umm_object_cached_pages(obj), CONC_PAGES);
		umm_object_put(obj);
	}
	close(fd);
	CHECK_EQ(free_frames(), start);
}

/* Racing readers while reads fail: each gets the data or -EIO; no junk stays. */
static void test_concurrent_read_failures(void)
{
	long start = free_frames();
	int fd = test_tmpfile(CONC_PAGES * PAGE_SIZE, pattern);
	struct conc_arg args[CONC_THREADS];
	struct umm_object *obj = open_file(fd);
	struct page *vec[CONC_PAGES];
	unsigned int t, i, n, fails = 0;
	uint64_t pos = 0;

	fault_inject_arm(&sys->fail_read, 3, 20);
	run_readers(obj, args);
	fault_inject_arm(&sys->fail_read, 0, 0);
	for (t = 0; t < CONC_THREADS; t++) {
		for (i = 0; i < CONC_PAGES; i++) {
			if (args[t].err[i]) {
				CHECK_EQ(args[t].err[i], -EIO);
				fails++;
				continue;
			}
			CHECK(page_matches(args[t].seen[i], (uint64_t)i * PAGE_SIZE, PAGE_SIZE, pattern));
			put_page(args[t].seen[i]);
		}
	}
	CHECK(fails > 0);
	n = find_get_pages(obj, &pos, UINT64_MAX, CONC_PAGES, vec);
	for (i = 0; i < n; i++) {
		CHECK(PageUptodate(vec[i]) && !PageError(vec[i]) && !PageLocked(vec[i]));
		put_page(vec[i]);
	}
	umm_object_put(obj);
	close(fd);
	CHECK_EQ(free_frames(), start);
}

/*
 * An object whose reads are slow and counted, so racing readers really do
 * meet on a locked page: exactly one readpage per index must happen.
 */
static _Atomic unsigned int slow_reads;

static int slow_readpage(struct umm_object *obj, struct page *page)
{
	(void)obj;
	atomic_fetch_add(&slow_reads, 1);
	usleep(200);
	memset(page_address(page), (int)(page->index + 1), PAGE_SIZE);
	return 0;
}

static int slow_writepage(struct umm_object *obj, struct page *page)
{
	(void)obj;
	(void)page;
	return 0;
}

static const struct object_ops slow_ops = { .readpage = slow_readpage, .writepage = slow_writepage };

static pthread_barrier_t slow_barrier;

static void *slow_reader(void *p)
{
	struct conc_arg *a = p;
	unsigned int i;

	pthread_barrier_wait(&slow_barrier);
	for (i = 0; i < CONC_PAGES; i++) {
		bool major = false;

		a->err[i] = read_cache_page(a->obj, i / 2, &a->seen[i], &major);
		if (a->err[i])
			continue;
		if (major)
			a->majors++;
		/* checked at once: the data must be there when the call returns */
		if (!PageUptodate(a->seen[i]) ||
		    ((unsigned char *)page_address(a->seen[i]))[PAGE_SIZE - 1] != i / 2 + 1)
			a->bad++;
	}
	return NULL;
}

static void test_concurrent_slow_reads(void)
{
	long start = free_frames();
	struct conc_arg args[CONC_THREADS];
	pthread_t th[CONC_THREADS];
	struct umm_object *obj;
	unsigned int t, i, majors = 0;

	REQUIRE(object_alloc(sys, OBJ_SHMEM, &obj) == 0);
	obj->ops = &slow_ops;
	atomic_store(&obj->size, (uint64_t)CONC_PAGES * PAGE_SIZE);
	atomic_store(&slow_reads, 0);
	pthread_barrier_init(&slow_barrier, NULL, CONC_THREADS);
	for (t = 0; t < CONC_THREADS; t++) {
		memset(&args[t], 0, sizeof(args[t]));
		args[t].obj = obj;
		REQUIRE(pthread_create(&th[t], NULL, slow_reader, &args[t]) == 0);
	}
	for (t = 0; t < CONC_THREADS; t++) {
		pthread_join(th[t], NULL);
		majors += args[t].majors;
		CHECK_EQ(args[t].bad, 0);
	}
	pthread_barrier_destroy(&slow_barrier);
	CHECK_EQ(atomic_load(&slow_reads), CONC_PAGES / 2);
	CHECK_EQ(majors, CONC_PAGES / 2);
	for (i = 0; i < CONC_PAGES; i++) {
		for (t = 0; t < CONC_THREADS; t++) {
			CHECK_EQ(args[t].err[i], 0);
			CHECK(args[t].seen[i] == args[0].seen[i]);
			CHECK_EQ(((unsigned char *)page_address(args[t].seen[i]))[PAGE_SIZE - 1], i / 2 + 1);
			put_page(args[t].seen[i]);
		}
	}
	CHECK_EQ(umm_object_cached_pages(obj), CONC_PAGES / 2);
	object_put(obj);
	CHECK_EQ(free_frames(), start);
}

/*
 * Readers that dirty pages, a syncer and a truncator all at once.  Each
 * call gets a valid answer; afterwards no page past the end is cached, the
 * cache's bytes past EOF are zero, and file and cache agree after a sync.
 */
#define STRESS_PAGES 12

struct stress_arg {
	struct umm_object *obj;
	_Atomic bool *stop;
	uint64_t seed;
	_Atomic unsigned int ops;
	unsigned int bad;
	struct stress_arg *readers;   /* truncator: runs until they have worked too */
	struct stress_arg *syncer;    /* truncator: and until this one has */
};

static void *stress_reader(void *p)
{
	struct stress_arg *a = p;

	while (!atomic_load(a->stop)) {
		uint64_t index;
		struct page *page;
		int err;

		a->seed = a->seed * 6364136223846793005ull + 1442695040888963407ull;
		index = (a->seed >> 33) % STRESS_PAGES;
		err = read_cache_page(a->obj, index, &page, NULL);
		a->ops++;
		if (err == -EIO)
			continue;
		if (err || !PageUptodate(page)) {
			a->bad++;
			continue;
		}
		/*
		 * A store at the start of the page (inside EOF as it was read),
		 * under the page lock as write(2) would do it, so it does not
		 * race with a writeback reading the page.
		 */
		lock_page(page);
		*(unsigned char *)page_address(page) = (unsigned char)(a->seed >> 20);
		set_page_dirty(page);
		unlock_page(page);
		put_page(page);
	}
	return NULL;
}

static void *stress_syncer(void *p)
{
	struct stress_arg *a = p;

	while (!atomic_load(a->stop)) {
		int err = umm_object_sync(a->obj, 0, 0);

		if (err && err != -EIO)
			a->bad++;
		a->ops++;
	}
	return NULL;
}

static void *stress_truncator(void *p)
{
	struct stress_arg *a = p;
	unsigned int i;

	for (i = 0; i < 300 || atomic_load(&a->readers[0].ops) < 3000 ||
		    atomic_load(&a->readers[1].ops) < 3000 || atomic_load(&a->syncer->ops) < 10; i++) {
		a->seed = a->seed * 6364136223846793005ull + 1442695040888963407ull;
		if (umm_object_truncate(a->obj, (a->seed >> 20) % (STRESS_PAGES * PAGE_SIZE + 1)))
			a->bad++;
		a->ops++;
	}
	atomic_store(a->stop, true);
	return NULL;
}

/* After the storm: the cache agrees with the size and, after sync, with the file. */
static void stress_check(struct umm_object *obj, int fd)
{
	uint64_t size = umm_object_size(obj), pos = 0;
	struct page *vec[STRESS_PAGES + 1];
	unsigned char buf[PAGE_SIZE];
	unsigned int n, i;

	CHECK_EQ(file_size(fd), size);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	n = find_get_pages(obj, &pos, UINT64_MAX, STRESS_PAGES + 1, vec);
	for (i = 0; i < n; i++) {
		struct page *page = vec[i];
		size_t valid = page->index * PAGE_SIZE < size ?
			       MIN(PAGE_SIZE, size - page->index * PAGE_SIZE) : 0;
		const unsigned char *d = page_address(page);
		size_t b;

		CHECK(page->index < (size + PAGE_SIZE - 1) / PAGE_SIZE);
		CHECK(PageUptodate(page) && !PageLocked(page) && !PageDirty(page));
		for (b = valid; b < PAGE_SIZE && d[b] == 0; b++)
			;
		CHECK_EQ(b, PAGE_SIZE);
		CHECK_EQ(pread(fd, buf, valid, (off_t)(page->index * PAGE_SIZE)), (ssize_t)valid);
		CHECK(memcmp(buf, d, valid) == 0);
		put_page(page);
	}
}

static void test_truncate_stress(void)
{
	long start = free_frames();
	int fd = test_tmpfile(STRESS_PAGES * PAGE_SIZE, pattern);
	struct umm_object *obj = open_file(fd);
	_Atomic bool stop = false;
	struct stress_arg args[4];
	void *(*fn[4])(void *) = { stress_truncator, stress_syncer, stress_reader, stress_reader };
	pthread_t th[4];
	unsigned int t;

	sys->unmap_mapping_range = NULL;          /* nothing maps the object */
	for (t = 0; t < 4; t++)
		args[t] = (struct stress_arg){ obj, &stop, 0x9e3779b97f4a7c15ull * (t + 1), 0, 0,
					       &args[2], &args[1] };
	for (t = 0; t < 4; t++)
		REQUIRE(pthread_create(&th[t], NULL, fn[t], &args[t]) == 0);
	for (t = 0; t < 4; t++) {
		pthread_join(th[t], NULL);
		CHECK_EQ(args[t].bad, 0);
		CHECK(args[t].ops > 0);
	}
	fprintf(stderr, "  truncates %u, syncs %u, reads %u + %u\n", args[0].ops, args[1].ops,
		args[2].ops, args[3].ops);
	sys->unmap_mapping_range = test_unmap_hook;
	stress_check(obj, fd);
	umm_object_put(obj);
	close(fd);
	CHECK_EQ(free_frames(), start);
}

/* ---- object lifetime ---- */

static void test_last_put_writes_back(void)
{
	long start = free_frames();
	int fd = test_tmpfile(3 * PAGE_SIZE, pattern);
	struct umm_object *obj = open_file(fd);
	struct page *page;
	unsigned int i;
	size_t b;

	umm_object_get(obj);
	CHECK_EQ(obj->refcount, 2);
	for (i = 0; i < 3; i += 2) {
		REQUIRE(read_cache_page(obj, i, &page, NULL) == 0);
		for (b = 0; b < PAGE_SIZE; b++)
			((unsigned char *)page_address(page))[b] = pattern2(i * PAGE_SIZE + b);
		set_page_dirty(page);
		put_page(page);
	}
	umm_object_put(obj);                     /* not the last */
	CHECK_EQ(atomic_load(&sys->nr_objects), 1);
	CHECK(file_matches(fd, 0, PAGE_SIZE, pattern));
	umm_object_put(obj);
	CHECK_EQ(atomic_load(&sys->nr_objects), 0);
	CHECK(file_matches(fd, 0, PAGE_SIZE, pattern2));
	CHECK(file_matches(fd, PAGE_SIZE, PAGE_SIZE, pattern));
	CHECK(file_matches(fd, 2 * PAGE_SIZE, PAGE_SIZE, pattern2));
	umm_object_put(NULL);
	umm_object_get(NULL);
	close(fd);
	CHECK_EQ(free_frames(), start);
}

static void test_open_fd_errors(void)
{
	struct umm_object *obj = (struct umm_object *)&obj;   /* sentinel */
	struct umm_object *const sentinel = obj;
	int fd = test_tmpfile(PAGE_SIZE, pattern);
	int closed = dup(fd), dir, pipefd[2], wronly;

	close(closed);
	CHECK_EQ(umm_object_open_fd(sys, closed, &obj), -EBADF);
	CHECK_EQ(umm_object_open_fd(sys, -1, &obj), -EBADF);
	dir = open("/tmp", O_RDONLY | O_DIRECTORY);
	REQUIRE(dir >= 0);
	CHECK_EQ(umm_object_open_fd(sys, dir, &obj), -EINVAL);
	close(dir);
	REQUIRE(pipe(pipefd) == 0);
	CHECK_EQ(umm_object_open_fd(sys, pipefd[0], &obj), -EINVAL);
	CHECK_EQ(umm_object_open_fd(sys, pipefd[1], &obj), -EINVAL);
	close(pipefd[0]);
	close(pipefd[1]);
	wronly = reopen(fd, O_WRONLY);
	REQUIRE(wronly >= 0);
	CHECK_EQ(umm_object_open_fd(sys, wronly, &obj), -EACCES);
	close(wronly);
	CHECK_EQ(umm_object_open_fd(NULL, fd, &obj), -EINVAL);
	CHECK_EQ(umm_object_open_fd(sys, fd, NULL), -EINVAL);
	CHECK(obj == sentinel);
	CHECK_EQ(atomic_load(&sys->nr_objects), 0);
	CHECK_EQ(object_alloc(sys, 99, &obj), -EINVAL);
	CHECK_EQ(object_alloc(NULL, OBJ_FILE, &obj), -EINVAL);
	CHECK(obj == sentinel);
	close(fd);
}

/* An O_APPEND fd still writes pages back at their own offsets. */
static void test_append_fd(void)
{
	long start = free_frames();
	int fd = test_tmpfile(2 * PAGE_SIZE, pattern);
	int app = reopen(fd, O_RDWR | O_APPEND);
	struct umm_object *obj;
	struct page *page;

	REQUIRE(app >= 0);
	obj = open_file(app);
	CHECK(obj->writable);
	REQUIRE(read_cache_page(obj, 0, &page, NULL) == 0);
	memset(page_address(page), 0x33, PAGE_SIZE);
	set_page_dirty(page);
	put_page(page);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK_EQ(file_size(fd), 2 * PAGE_SIZE);
	{
		unsigned char c = 0;
		CHECK_EQ(pread(fd, &c, 1, 0), 1);
		CHECK_EQ(c, 0x33);
	}
	umm_object_put(obj);
	close(app);
	close(fd);
	CHECK_EQ(free_frames(), start);
}

/* ---- umm_object_read / umm_object_write ---- */

/* pread/pwrite semantics through the cache: short reads at the end, growth, dirty pages. */
static void test_object_read_write(void)
{
	long start = free_frames();
	size_t size = 3 * PAGE_SIZE + 100;
	int fd = test_tmpfile(size, pattern);
	struct umm_object *obj = open_file(fd);
	unsigned char *buf = malloc(5 * PAGE_SIZE), *w = malloc(2 * PAGE_SIZE);
	struct page *page;
	size_t i;
	bool ok;

	REQUIRE(buf && w);
	/* a read across pages, then a short read at the end, then 0 past it */
	CHECK_EQ(umm_object_read(obj, buf, 2 * PAGE_SIZE, 1000), 2 * PAGE_SIZE);
	for (i = 0, ok = true; i < 2 * PAGE_SIZE; i++)
		ok = ok && buf[i] == pattern(1000 + i);
	CHECK(ok);
	CHECK_EQ(umm_object_read(obj, buf, 5 * PAGE_SIZE, 3 * PAGE_SIZE), 100);
	CHECK_EQ(umm_object_read(obj, buf, 10, size), 0);
	CHECK_EQ(umm_object_read(obj, buf, 10, size + 5 * PAGE_SIZE), 0);
	CHECK_EQ(umm_object_read(obj, buf, 0, 0), 0);
	/* a read sees a dirty cached page as it is */
	REQUIRE(read_cache_page(obj, 0, &page, NULL) == 0);
	memset(page_address(page), 0x5a, 16);
	set_page_dirty(page);
	put_page(page);
	CHECK_EQ(umm_object_read(obj, buf, 20, 0), 20);
	CHECK(buf[0] == 0x5a && buf[15] == 0x5a && buf[16] == pattern(16));
	/* a write lands in the cache (dirty), not in the file until sync */
	for (i = 0; i < 2 * PAGE_SIZE; i++)
		w[i] = pattern2(i);
	CHECK_EQ(umm_object_write(obj, w, PAGE_SIZE + 10, PAGE_SIZE - 5), PAGE_SIZE + 10);
	CHECK(file_matches(fd, PAGE_SIZE - 5, PAGE_SIZE + 10, pattern));
	CHECK_EQ(umm_object_read(obj, buf, PAGE_SIZE + 10, PAGE_SIZE - 5), PAGE_SIZE + 10);
	CHECK(memcmp(buf, w, PAGE_SIZE + 10) == 0);
	REQUIRE(read_cache_page(obj, 1, &page, NULL) == 0);
	CHECK(PageDirty(page));
	put_page(page);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK(file_matches(fd, 16, PAGE_SIZE - 21, pattern));
	{
		unsigned char *f = malloc(PAGE_SIZE + 10);

		REQUIRE(f);
		CHECK_EQ(pread(fd, f, PAGE_SIZE + 10, PAGE_SIZE - 5), PAGE_SIZE + 10);
		CHECK(memcmp(f, w, PAGE_SIZE + 10) == 0);
		free(f);
	}
	/* a write past the end grows the object and the file; the gap reads as zeros */
	CHECK_EQ(umm_object_write(obj, w, 10, 6 * PAGE_SIZE + 3), 10);
	CHECK_EQ(umm_object_size(obj), 6 * PAGE_SIZE + 13);
	CHECK_EQ(file_size(fd), 6 * PAGE_SIZE + 13);
	CHECK_EQ(umm_object_read(obj, buf, 5 * PAGE_SIZE, size - 10), 6 * PAGE_SIZE + 13 - (size - 10));
	for (i = 0, ok = true; i < 10; i++)
		ok = ok && buf[i] == pattern(size - 10 + i);
	CHECK(ok);
	for (i = 10, ok = true; i < 6 * PAGE_SIZE + 3 - (size - 10); i++)
		ok = ok && buf[i] == 0;
	CHECK(ok);
	CHECK(memcmp(buf + 6 * PAGE_SIZE + 3 - (size - 10), w, 10) == 0);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	{
		unsigned char f[10];

		CHECK_EQ(pread(fd, f, 10, 6 * PAGE_SIZE + 3), 10);
		CHECK(memcmp(f, w, 10) == 0);
	}
	/* a write of 0 bytes changes nothing, even past the end */
	CHECK_EQ(umm_object_write(obj, w, 0, 100 * PAGE_SIZE), 0);
	CHECK_EQ(umm_object_size(obj), 6 * PAGE_SIZE + 13);
	umm_object_put(obj);
	close(fd);
	free(buf);
	free(w);
	CHECK_EQ(free_frames(), start);
}

/*
 * A write past the end that fails keeps the size it found (object and
 * file), one that stops early keeps the size up to what it wrote, and
 * neither leaves pages cached past that end; a growth made by a later
 * call is not undone.  Failures: the frame allocation of a page
 * (-ENOMEM) and the read of a partial page (-EIO).
 */
static void test_object_write_failure_size(void)
{
	long start = free_frames();
	size_t size = 2 * PAGE_SIZE + 100;
	int fd = test_tmpfile(size, pattern);
	struct umm_object *obj = open_file(fd);
	unsigned char *w = malloc(4 * PAGE_SIZE), got[16];

	REQUIRE(w);
	for (size_t i = 0; i < 4 * PAGE_SIZE; i++)
		w[i] = pattern2(i);
	/* whole pages past the end, the first allocation fails: nothing changes */
	fault_inject_arm(&sys->phys->fail_alloc, 0, 1);
	CHECK_EQ(umm_object_write(obj, w, 2 * PAGE_SIZE, 4 * PAGE_SIZE), -ENOMEM);
	fault_inject_arm(&sys->phys->fail_alloc, 0, 0);
	CHECK_EQ(umm_object_size(obj), size);
	CHECK_EQ(file_size(fd), size);
	CHECK_EQ(umm_object_read(obj, got, sizeof(got), size), 0);
	/* the partial first page (page 3, a hole) cannot be read: nothing changes either */
	CHECK_EQ(umm_object_read(obj, got, sizeof(got), 2 * PAGE_SIZE), sizeof(got));   /* old last page cached */
	fault_inject_arm(&sys->fail_read, 0, 1);
	CHECK_EQ(umm_object_write(obj, w, 3 * PAGE_SIZE, 3 * PAGE_SIZE + 50), -EIO);
	fault_inject_arm(&sys->fail_read, 0, 0);
	CHECK_EQ(umm_object_size(obj), size);
	CHECK_EQ(file_size(fd), size);
	/* three pages from page 4; the second page's allocation fails: one page written */
	fault_inject_arm(&sys->phys->fail_alloc, 1, 1);
	CHECK_EQ(umm_object_write(obj, w, 3 * PAGE_SIZE, 4 * PAGE_SIZE), PAGE_SIZE);
	fault_inject_arm(&sys->phys->fail_alloc, 0, 0);
	CHECK_EQ(umm_object_size(obj), 5 * PAGE_SIZE);
	CHECK_EQ(file_size(fd), 5 * PAGE_SIZE);
	CHECK_EQ(umm_object_read(obj, got, sizeof(got), 4 * PAGE_SIZE), sizeof(got));
	CHECK(memcmp(got, w, sizeof(got)) == 0);
	CHECK_EQ(umm_object_read(obj, got, sizeof(got), 5 * PAGE_SIZE), 0);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK(file_matches(fd, 0, size, pattern));
	CHECK_EQ(file_size(fd), 5 * PAGE_SIZE);
	/* a write inside the size (page 3, not cached) that fails changes no size */
	fault_inject_arm(&sys->phys->fail_alloc, 0, 1);
	CHECK_EQ(umm_object_write(obj, w, PAGE_SIZE, 3 * PAGE_SIZE), -ENOMEM);
	fault_inject_arm(&sys->phys->fail_alloc, 0, 0);
	CHECK_EQ(umm_object_size(obj), 5 * PAGE_SIZE);
	CHECK_EQ(file_size(fd), 5 * PAGE_SIZE);
	/* a later write that grows the object further is kept */
	CHECK_EQ(umm_object_write(obj, w, 10, 6 * PAGE_SIZE), 10);
	CHECK_EQ(umm_object_size(obj), 6 * PAGE_SIZE + 10);
	umm_object_put(obj);
	close(fd);
	free(w);
	CHECK_EQ(free_frames(), start);
}

/* Bad inputs: a clear errno and nothing changed (size, file, cache). */
static void test_object_read_write_bad_input(void)
{
	long start = free_frames();
	int fd = test_tmpfile(PAGE_SIZE, pattern);
	int ro = reopen(fd, O_RDONLY);
	struct umm_object *obj = open_file(fd), *robj;
	char buf[16] = "0123456789abcdef";

	REQUIRE(ro >= 0);
	robj = open_file(ro);
	CHECK_EQ(umm_object_read(NULL, buf, 1, 0), -EINVAL);
	CHECK_EQ(umm_object_write(NULL, buf, 1, 0), -EINVAL);
	CHECK_EQ(umm_object_read(obj, NULL, 1, 0), -EINVAL);
	CHECK_EQ(umm_object_write(obj, NULL, 1, 0), -EINVAL);
	CHECK_EQ(umm_object_read(obj, buf, 1, (uint64_t)INT64_MAX + 1), -EINVAL);
	CHECK_EQ(umm_object_write(obj, buf, 1, (uint64_t)INT64_MAX + 1), -EINVAL);
	CHECK_EQ(umm_object_write(obj, buf, 16, (uint64_t)INT64_MAX - 8), -EFBIG);
	CHECK_EQ(umm_object_write(robj, buf, 16, 0), -EBADF);
	CHECK_EQ(umm_object_write(robj, buf, 16, 10 * PAGE_SIZE), -EBADF);
	CHECK_EQ(umm_object_size(obj), PAGE_SIZE);
	CHECK_EQ(umm_object_size(robj), PAGE_SIZE);
	CHECK_EQ(file_size(fd), PAGE_SIZE);
	CHECK_EQ(umm_object_cached_pages(obj), 0);
	CHECK_EQ(umm_object_cached_pages(robj), 0);
	CHECK(file_matches(fd, 0, PAGE_SIZE, pattern));
	/* a read-only object still reads */
	CHECK_EQ(umm_object_read(robj, buf, 16, 0), 16);
	CHECK((unsigned char)buf[3] == pattern(3));
	umm_object_put(obj);
	umm_object_put(robj);
	close(ro);
	close(fd);
	CHECK_EQ(free_frames(), start);
}

/*
 * A write covering a page whole does not read it (reads fail here and it
 * still works); a partial one reads it, and a failed read writes nothing
 * and leaves nothing cached; no frames are lost either way.
 */
static void test_object_write_whole_pages(void)
{
	long start = free_frames();
	int fd = test_tmpfile(4 * PAGE_SIZE, pattern);
	struct umm_object *obj = open_file(fd);
	unsigned char *w = malloc(2 * PAGE_SIZE);
	unsigned long hits;
	size_t i;

	REQUIRE(w);
	for (i = 0; i < 2 * PAGE_SIZE; i++)
		w[i] = pattern2(i);
	hits = atomic_load(&sys->fail_read.hits);
	fault_inject_arm(&sys->fail_read, 0, 100);
	CHECK_EQ(umm_object_write(obj, w, 2 * PAGE_SIZE, PAGE_SIZE), 2 * PAGE_SIZE);
	CHECK_EQ(atomic_load(&sys->fail_read.hits), hits);
	CHECK_EQ(umm_object_write(obj, w, 100, 3 * PAGE_SIZE + 10), -EIO);
	CHECK_EQ(atomic_load(&sys->fail_read.hits), hits + 1);
	CHECK_EQ(umm_object_cached_pages(obj), 2);
	fault_inject_arm(&sys->fail_read, 0, 0);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	{
		unsigned char *f = malloc(2 * PAGE_SIZE);

		REQUIRE(f);
		CHECK_EQ(pread(fd, f, 2 * PAGE_SIZE, PAGE_SIZE), 2 * PAGE_SIZE);
		CHECK(memcmp(f, w, 2 * PAGE_SIZE) == 0);
		free(f);
	}
	CHECK(file_matches(fd, 0, PAGE_SIZE, pattern));
	CHECK(file_matches(fd, 3 * PAGE_SIZE, PAGE_SIZE, pattern));
	umm_object_put(obj);
	close(fd);
	free(w);
	CHECK_EQ(free_frames(), start);
}

/* Several threads writing disjoint ranges (and extending) at once: every byte lands. */
#define RW_THREADS 4
#define RW_CHUNK 1500
#define RW_ROUNDS 64
static struct umm_object *rw_obj;

static void *rw_writer(void *arg)
{
	long t = (long)arg;
	unsigned char chunk[RW_CHUNK];

	for (int r = 0; r < RW_ROUNDS; r++) {
		uint64_t off = ((uint64_t)r * RW_THREADS + (uint64_t)t) * RW_CHUNK;

		for (size_t i = 0; i < RW_CHUNK; i++)
			chunk[i] = pattern2(off + i);
		TCHECK(umm_object_write(rw_obj, chunk, RW_CHUNK, off) == RW_CHUNK);
	}
	return NULL;
}

static void test_object_write_concurrent(void)
{
	long start = free_frames();
	int fd = test_tmpfile(0, NULL);
	pthread_t th[RW_THREADS];
	size_t total = (size_t)RW_THREADS * RW_ROUNDS * RW_CHUNK;

	rw_obj = open_file(fd);
	for (long t = 0; t < RW_THREADS; t++)
		REQUIRE(pthread_create(&th[t], NULL, rw_writer, (void *)t) == 0);
	for (int t = 0; t < RW_THREADS; t++)
		pthread_join(th[t], NULL);
	test_fold_thread_checks();
	CHECK_EQ(umm_object_size(rw_obj), total);
	CHECK_EQ(umm_object_sync(rw_obj, 0, 0), 0);
	CHECK_EQ(file_size(fd), total);
	CHECK(file_matches(fd, 0, total, pattern2));
	umm_object_put(rw_obj);
	close(fd);
	CHECK_EQ(free_frames(), start);
}

/* ---- shmem ---- */

/*
 * A shmem page reads as zeros whatever its frame held before: a frame
 * the allocator knows to be zero is used as it is (PG_zeroed, not zeroed
 * again), a reused one is zeroed; both through a single read
 * (read_cache_page) and a batch (filemap_read_range).  PG_zeroed never
 * outlives the read.  The frames dirtied here are freed just before the
 * read, so the read gets them back (counted: the test needs some).
 */
/*
 * Overlapping writes from two threads never interleave: in each round
 * both threads start at once (a barrier) to write the same 512 pages
 * (the first one partial), every byte of a write its thread's own value;
 * after the round the range must hold one value only (writes that
 * interleaved page by page would leave some pages of each: without
 * write_mutex, 4-8 of the 200 rounds came out mixed in most runs here).
 * Then the file after a sync.
 */
#define OW_PAGES 512
#define OW_ROUNDS 200
#define OW_LEN (OW_PAGES * PAGE_SIZE - 100)
static pthread_barrier_t ow_start, ow_done;

static unsigned char ow_buf[2][OW_LEN];     /* each writer's bytes, filled by main */

static void *ow_writer(void *arg)
{
	const unsigned char *buf = arg;

	for (int r = 0; r < OW_ROUNDS; r++) {
		pthread_barrier_wait(&ow_start);
		TCHECK(umm_object_write(rw_obj, buf, OW_LEN, 100) == (ssize_t)OW_LEN);
		pthread_barrier_wait(&ow_done);
	}
	return NULL;
}

static bool one_value(const unsigned char *b, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (b[i] != b[0])
			return false;
	return true;
}

static void test_object_write_overlapping(void)
{
	long start = free_frames();
	int fd = test_tmpfile(0, NULL);
	unsigned char *got = malloc(OW_LEN);
	unsigned long mixed = 0;
	pthread_t w1, w2;

	REQUIRE(got);
	rw_obj = open_file(fd);
	REQUIRE(pthread_barrier_init(&ow_start, NULL, 3) == 0 && pthread_barrier_init(&ow_done, NULL, 3) == 0);
	memset(ow_buf[0], 0x11, OW_LEN);
	memset(ow_buf[1], 0x22, OW_LEN);
	REQUIRE(pthread_create(&w1, NULL, ow_writer, ow_buf[0]) == 0);
	REQUIRE(pthread_create(&w2, NULL, ow_writer, ow_buf[1]) == 0);
	for (int r = 0; r < OW_ROUNDS; r++) {
		pthread_barrier_wait(&ow_start);
		pthread_barrier_wait(&ow_done);
		REQUIRE(umm_object_read(rw_obj, got, OW_LEN, 100) == (ssize_t)OW_LEN);
		mixed += !one_value(got, OW_LEN);
	}
	pthread_join(w1, NULL);
	pthread_join(w2, NULL);
	test_fold_thread_checks();
	CHECK_EQ(mixed, 0);
	CHECK_EQ(umm_object_sync(rw_obj, 0, 0), 0);
	CHECK_EQ(pread(fd, got, OW_LEN, 100), (ssize_t)OW_LEN);
	CHECK(one_value(got, OW_LEN) && (got[0] == 0x11 || got[0] == 0x22));
	pthread_barrier_destroy(&ow_start);
	pthread_barrier_destroy(&ow_done);
	umm_object_put(rw_obj);
	close(fd);
	free(got);
	CHECK_EQ(free_frames(), start);
}

static void test_shmem_zero_fill(void)
{
	long start = free_frames();
	struct umm_object *obj;
	struct page *page, *dirty[16];
	unsigned int reused = 0;

	REQUIRE(umm_object_create_shmem(sys, 64 * PAGE_SIZE, &obj) == 0);
	for (uint64_t i = 0; i < 16; i++) {
		struct page *d = alloc_page(sys->phys, GFP_KERNEL);

		REQUIRE(d);
		memset(page_address(d), 0xa5, PAGE_SIZE);
		put_page(d);
		REQUIRE(read_cache_page(obj, i, &page, NULL) == 0);
		reused += page == d;
		CHECK(page_matches(page, 0, 0, pattern));
		CHECK(!PageZeroed(page));
		put_page(page);
	}
	for (unsigned int i = 0; i < 16; i++) {
		dirty[i] = alloc_page(sys->phys, GFP_KERNEL);
		REQUIRE(dirty[i]);
		memset(page_address(dirty[i]), 0x5a, PAGE_SIZE);
	}
	for (unsigned int i = 0; i < 16; i++)
		put_page(dirty[i]);
	CHECK_EQ(filemap_read_range(obj, 16, 48), 48);
	for (uint64_t i = 16; i < 64; i++) {
		page = find_get_page(obj, i);
		REQUIRE(page);
		for (unsigned int k = 0; k < 16; k++)
			reused += page == dirty[k];
		CHECK(PageUptodate(page) && !PageZeroed(page));
		CHECK(page_matches(page, 0, 0, pattern));
		put_page(page);
	}
	CHECK(reused >= 8);

	/* a page put in the cache without GFP_ZERO (no PG_zeroed) is zeroed by its read */
	truncate_inode_pages(obj, 0);
	page = new_locked_page();
	memset(page_address(page), 0x3c, PAGE_SIZE);
	REQUIRE(add_to_page_cache(page, obj, 7) == 0);
	unlock_page(page);
	put_page(page);
	REQUIRE(read_cache_page(obj, 7, &page, NULL) == 0);    /* finds it not uptodate: reads it */
	CHECK(PageUptodate(page) && !PageZeroed(page));
	CHECK(page_matches(page, 0, 0, pattern));
	put_page(page);
	umm_object_put(obj);
	CHECK_EQ(free_frames(), start);
}

static void test_shmem(void)
{
	long start = free_frames();
	struct umm_object *obj = (struct umm_object *)&obj, *z;
	struct page *page;
	bool major;

	CHECK_EQ(umm_object_create_shmem(NULL, PAGE_SIZE, &obj), -EINVAL);
	CHECK_EQ(umm_object_create_shmem(sys, PAGE_SIZE, NULL), -EINVAL);
	CHECK_EQ(umm_object_create_shmem(sys, (size_t)INT64_MAX + 1, &obj), -EINVAL);
	CHECK(obj == (struct umm_object *)&obj);
	CHECK_EQ(atomic_load(&sys->nr_objects), 0);

	REQUIRE(umm_object_create_shmem(sys, 0, &z) == 0);
	CHECK_EQ(umm_object_size(z), 0);
	CHECK_EQ(read_cache_page(z, 0, &page, NULL), -EIO);
	CHECK(z->readable && z->writable && z->fd == -1 && z->type == OBJ_SHMEM);
	umm_object_put(z);

	REQUIRE(umm_object_create_shmem(sys, 2 * PAGE_SIZE + 1, &obj) == 0);
	fault_inject_arm(&sys->fail_read, 0, -1);       /* shmem does no backing I/O */
	REQUIRE(read_cache_page(obj, 2, &page, &major) == 0);
	fault_inject_arm(&sys->fail_read, 0, 0);
	CHECK(major);
	CHECK(page_matches(page, 0, 0, pattern));
	memset(page_address(page), 0x42, 1);
	set_page_dirty(page);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK(PageDirty(page));                           /* nowhere to write it: kept */
	CHECK_EQ(umm_object_cached_pages(obj), 1);
	put_page(page);
	REQUIRE(read_cache_page(obj, 2, &page, &major) == 0);
	CHECK(!major);
	CHECK_EQ(*(unsigned char *)page_address(page), 0x42);
	put_page(page);

	/* truncate shrinks and grows without a file */
	unmap_log.calls = 0;
	CHECK_EQ(umm_object_truncate(obj, PAGE_SIZE), 0);
	CHECK_EQ(unmap_log.calls, 1);
	CHECK_EQ(umm_object_cached_pages(obj), 0);
	CHECK_EQ(read_cache_page(obj, 2, &page, NULL), -EIO);
	CHECK_EQ(umm_object_truncate(obj, 3 * PAGE_SIZE), 0);
	REQUIRE(read_cache_page(obj, 2, &page, &major) == 0);
	CHECK(major);
	CHECK(page_matches(page, 0, 0, pattern));
	put_page(page);
	umm_object_put(obj);

	REQUIRE(shmem_zero_setup(sys, 4 * PAGE_SIZE, &z) == 0);
	CHECK_EQ(umm_object_size(z), 4 * PAGE_SIZE);
	CHECK_EQ(z->refcount, 1);
	CHECK_EQ(shmem_zero_setup(NULL, PAGE_SIZE, &obj), -EINVAL);
	umm_object_put(z);
	CHECK_EQ(free_frames(), start);
}

int main(void)
{
	sys_create();
	RUN(test_cache_ops);
	RUN(test_page_runs);
	RUN(test_read_file);
	RUN(test_writeback_past_eof);
	RUN(test_truncate);
	RUN(test_truncate_remaps_raced_page);
	RUN(test_truncate_grow_zeroes_old_tail);
	RUN(test_truncate_bad_input);
	RUN(test_read_failure);
	RUN(test_read_range);
	RUN(test_write_failure);
	RUN(test_sync_range);
	RUN(test_write_batched);
	RUN(test_write_batched_errors);
	RUN(test_write_batched_locked_page);
	RUN(test_concurrent_read);
	RUN(test_concurrent_read_failures);
	RUN(test_concurrent_slow_reads);
	RUN(test_truncate_stress);
	RUN(test_last_put_writes_back);
	RUN(test_open_fd_errors);
	RUN(test_append_fd);
	RUN(test_shmem);
	RUN(test_shmem_zero_fill);
	RUN(test_object_read_write);
	RUN(test_object_read_write_bad_input);
	RUN(test_object_write_failure_size);
	RUN(test_object_write_whole_pages);
	RUN(test_object_write_concurrent);
	RUN(test_object_write_overlapping);
	sys_destroy();
	return test_summary("test_filemap");
}
