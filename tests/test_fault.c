/* SPDX-License-Identifier: MIT */
/*
 * test_fault.c - the fault handler and the pte-range operations of
 * memory.c, driven through the public mapping calls.
 *
 * Mappings are made with umm_mmap; accesses go either through the soft
 * MMU (umm_read/umm_write) or through vm_access() below, which does what a
 * CPU does with nothing cached: follow_pte_access() (which takes the pte
 * table's lock) and, when it says -EAGAIN, handle_mm_fault(), with
 * mmap_lock held for read.  The pte itself is inspected under its table's
 * lock (pte_offset_map_lock).  Every system runs with
 * debug_checks, so the invariant check (page tables vs map counts vs RSS)
 * runs after each address-space operation, and each test ends with
 * umm_mm_check/umm_system_check.
 *
 * Counter semantics checked here (see memory.c): min_flt/maj_flt count
 * successful faults, major when the page had to be read; cow_flt counts
 * write faults that installed a private copy in place of a shared page
 * (the zero page, a page-cache page, an anon page shared by fork), and not
 * a reuse of an anon page only one pte maps.
 */
#include <fcntl.h>
#include <pthread.h>
#include <usermm/usermm.h>
#include "test.h"
#include "memory.h"
#include "filemap.h"
#include "object.h"
#include "rmap.h"

#define PS 4096UL

static struct umm_system *new_system(void)
{
	struct umm_config cfg = { .phys_bytes = 32UL << 20, .debug_checks = 1 };
	struct umm_system *sys;

	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	return sys;
}

static struct umm_mm *new_mm(struct umm_system *sys)
{
	struct umm_mm *mm;

	REQUIRE(umm_mm_create(sys, &mm) == 0);
	return mm;
}

static uintptr_t map(struct umm_mm *mm, size_t len, int prot, int flags,
		     struct umm_object *obj, uint64_t off)
{
	uintptr_t addr = 0;
	int err = umm_mmap(mm, 0, len, prot, flags, obj, off, &addr);

	if (err)
		fprintf(stderr, "umm_mmap: %d\n", err);
	REQUIRE(err == 0);
	return addr;
}

static int fault(struct umm_mm *mm, uintptr_t addr, unsigned int flags)
{
	int err;

	mmap_read_lock(mm);
	err = handle_mm_fault(mm, addr, flags);
	mmap_read_unlock(mm);
	return err;
}

/* vm_access - copy to/from usermm memory the way a TLB-less CPU would. */
static int vm_access(struct umm_mm *mm, uintptr_t addr, void *buf, size_t len, bool write)
{
	unsigned int flags = write ? FAULT_FLAG_WRITE : 0;
	char *p = buf;
	int err = 0;

	mmap_read_lock(mm);
	while (len) {
		size_t off = addr & (PS - 1), n = MIN(len, PS - off);
		struct page *page;

		for (;;) {
			/* single-threaded use: nothing unmaps the page under us */
			if (follow_pte_access(mm, addr, flags, &page) == 0) {
				char *frame = (char *)page_address(page) + off;

				if (write)
					memcpy(frame, p, n);
				else
					memcpy(p, frame, n);
				break;
			}
			err = handle_mm_fault(mm, addr, flags);
			if (err)
				goto out;
		}
		addr += n;
		p += n;
		len -= n;
	}
out:
	mmap_read_unlock(mm);
	return err;
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

static struct page *page_at(struct umm_mm *mm, uintptr_t addr)
{
	pte_t pte = pte_at(mm, addr);

	return pte_present(pte) ? pfn_to_page(mm->sys->phys, pte_pfn(pte)) : NULL;
}

static struct umm_mm_stats mstats(struct umm_mm *mm)
{
	struct umm_mm_stats st;

	REQUIRE(umm_mm_stats(mm, &st) == 0);
	return st;
}

static struct umm_sys_stats sstats(struct umm_system *sys)
{
	struct umm_sys_stats st;

	REQUIRE(umm_system_stats(sys, &st) == 0);
	return st;
}

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 7 + i / 4096 + 1);
}

static struct umm_object *file_object(struct umm_system *sys, size_t size, int *fdp)
{
	struct umm_object *obj;
	int fd = test_tmpfile(size, pattern);

	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	*fdp = fd;
	return obj;
}

static bool all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

static void finish(struct umm_system *sys, struct umm_mm *mm)
{
	if (mm) {
		CHECK_EQ(umm_mm_check(mm), 0);
		umm_mm_destroy(mm);
	}
	CHECK_EQ(umm_system_check(sys), 0);
	CHECK_EQ(sstats(sys).anon_pages, 0);
	CHECK_EQ(sstats(sys).pgtable_pages, 0);
	umm_system_destroy(sys);
}

static void test_anon_zero_page_then_write(void)
{
	struct umm_system *sys = new_system();
	struct umm_mm *mm = new_mm(sys);
	uintptr_t a = map(mm, 4 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	unsigned char buf[PS];
	pte_t pte;

	memset(buf, 0xaa, sizeof(buf));
	CHECK_EQ(vm_access(mm, a + 100, buf, 1000, false), 0);
	CHECK(all_bytes(buf, 1000, 0));
	pte = pte_at(mm, a);
	CHECK(pte_special(pte) && !pte_write(pte) && pte_young(pte));
	CHECK_EQ(pte_pfn(pte), sys->zero_pfn);
	CHECK_EQ(mstats(mm).rss_anon, 0);
	CHECK_EQ(mstats(mm).minor_faults, 1);
	CHECK_EQ(mstats(mm).major_faults, 0);
	CHECK_EQ(sstats(sys).anon_pages, 0);

	/* a read of a mapped page is no fault at all; a spurious fault is minor */
	CHECK_EQ(vm_access(mm, a, buf, 10, false), 0);
	CHECK_EQ(mstats(mm).minor_faults, 1);
	CHECK_EQ(fault(mm, a, 0), 0);
	CHECK_EQ(mstats(mm).minor_faults, 2);
	CHECK_EQ(pte_at(mm, a), pte);

	/* write over the zero page: a private zeroed page (a COW of the zero page) */
	memset(buf, 0x5c, sizeof(buf));
	CHECK_EQ(vm_access(mm, a + 8, buf, 16, true), 0);
	pte = pte_at(mm, a);
	CHECK(pte_write(pte) && pte_dirty(pte) && pte_young(pte) && !pte_special(pte));
	CHECK(pte_pfn(pte) != sys->zero_pfn);
	CHECK(PageAnon(page_at(mm, a)));
	CHECK_EQ(page_mapcount(page_at(mm, a)), 1);
	CHECK_EQ(page_at(mm, a)->index, a >> 12);   /* vm_pgoff of an anon vma = vm_start >> 12 */
	CHECK_EQ(mstats(mm).rss_anon, 1);
	CHECK_EQ(mstats(mm).cow_faults, 1);
	CHECK_EQ(sstats(sys).anon_pages, 1);
	CHECK_EQ(vm_access(mm, a, buf, PS, false), 0);
	CHECK(all_bytes(buf, 8, 0) && all_bytes(buf + 8, 16, 0x5c) && all_bytes(buf + 24, PS - 24, 0));

	/* first touch is a write: a fresh zeroed page, no COW */
	CHECK_EQ(fault(mm, a + 2 * PS, FAULT_FLAG_WRITE), 0);
	pte = pte_at(mm, a + 2 * PS);
	CHECK(pte_write(pte) && pte_dirty(pte) && !pte_special(pte));
	CHECK_EQ(vm_access(mm, a + 2 * PS, buf, PS, false), 0);
	CHECK(all_bytes(buf, PS, 0));
	CHECK_EQ(mstats(mm).rss_anon, 2);
	CHECK_EQ(mstats(mm).cow_faults, 1);
	CHECK_EQ(sstats(sys).anon_pages, 2);

	/* the soft MMU sees the same memory */
	CHECK_EQ(umm_read(mm, a + 8, buf, 16), 0);
	CHECK(all_bytes(buf, 16, 0x5c));
	CHECK_EQ(umm_write(mm, a + 3 * PS, "xyz", 3), 0);
	CHECK_EQ(vm_access(mm, a + 3 * PS, buf, 3, false), 0);
	CHECK(memcmp(buf, "xyz", 3) == 0);
	CHECK_EQ(mstats(mm).rss_anon, 3);

	/* unmapping frees the anon pages */
	CHECK_EQ(umm_munmap(mm, a, 4 * PS), 0);
	CHECK_EQ(sstats(sys).anon_pages, 0);
	CHECK_EQ(mstats(mm).rss_anon, 0);
	CHECK(pte_at(mm, a) == 0);
	finish(sys, mm);
}

static void test_efault(void)
{
	struct umm_system *sys = new_system();
	struct umm_mm *mm = new_mm(sys);
	uintptr_t rw = map(mm, 2 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	uintptr_t none = map(mm, PS, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	uintptr_t ro = map(mm, PS, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	uintptr_t wo = map(mm, PS, PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	uintptr_t xo = map(mm, PS, PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	struct umm_mm_stats before = mstats(mm);
	unsigned long tables = sstats(sys).pgtable_pages;
	char c = 1;

	/* no vma: below everything, in a gap, past the end of the space */
	CHECK_EQ(fault(mm, 0, 0), -EFAULT);
	CHECK_EQ(fault(mm, UMM_MMAP_MIN_ADDR, 0), -EFAULT);
	CHECK_EQ(fault(mm, rw + 2 * PS, 0), -EFAULT);
	CHECK_EQ(fault(mm, rw - PS, FAULT_FLAG_WRITE), -EFAULT);
	CHECK_EQ(fault(mm, UMM_TASK_SIZE, 0), -EFAULT);
	CHECK_EQ(fault(mm, UINTPTR_MAX, 0), -EFAULT);
	/* PROT_NONE */
	CHECK_EQ(fault(mm, none, 0), -EFAULT);
	CHECK_EQ(fault(mm, none, FAULT_FLAG_WRITE), -EFAULT);
	CHECK_EQ(umm_read(mm, none, &c, 1), -EFAULT);
	/* write to read-only, exec of non-exec */
	CHECK_EQ(fault(mm, ro, FAULT_FLAG_WRITE), -EFAULT);
	CHECK_EQ(umm_write(mm, ro, &c, 1), -EFAULT);
	CHECK_EQ(fault(mm, rw, FAULT_FLAG_EXEC), -EFAULT);
	CHECK_EQ(fault(mm, wo, FAULT_FLAG_EXEC), -EFAULT);
	/* nothing was installed or counted by the refused faults */
	CHECK(pte_at(mm, none) == 0 && pte_at(mm, ro) == 0 && pte_at(mm, rw) == 0);
	CHECK_EQ(mstats(mm).minor_faults, before.minor_faults);
	CHECK_EQ(sstats(sys).pgtable_pages, tables);

	/* x86 rules: write-only and exec-only mappings are readable */
	CHECK_EQ(fault(mm, wo, 0), 0);
	CHECK_EQ(fault(mm, wo, FAULT_FLAG_WRITE), 0);
	CHECK_EQ(fault(mm, xo, 0), 0);
	CHECK_EQ(fault(mm, xo, FAULT_FLAG_EXEC), 0);
	CHECK_EQ(fault(mm, xo, FAULT_FLAG_WRITE), -EFAULT);
	CHECK_EQ(fault(mm, ro, 0), 0);
	/* a read-only pte in a read-only vma stays refused for writes */
	CHECK_EQ(fault(mm, ro, FAULT_FLAG_WRITE), -EFAULT);
	CHECK(!pte_write(pte_at(mm, ro)));
	/* an unmapped range faults again */
	CHECK_EQ(fault(mm, rw, FAULT_FLAG_WRITE), 0);
	CHECK_EQ(umm_munmap(mm, rw, PS), 0);
	CHECK_EQ(fault(mm, rw, 0), -EFAULT);
	CHECK_EQ(fault(mm, rw + PS, 0), 0);
	finish(sys, mm);
}

static void test_follow_pte_access(void)
{
	struct umm_system *sys = new_system();
	struct umm_mm *mm = new_mm(sys);
	uintptr_t a = map(mm, 2 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	struct page *page = (struct page *)1;
	pte_t *ptep;

	/* single-threaded: the pte is read and edited directly between calls */
	mmap_read_lock(mm);
	CHECK_EQ(follow_pte_access(mm, a, 0, &page), -EAGAIN);   /* no table */
	CHECK(page == NULL);
	mmap_read_unlock(mm);
	CHECK_EQ(fault(mm, a, 0), 0);                               /* zero page */
	mmap_read_lock(mm);
	CHECK_EQ(follow_pte_access(mm, a + PS, 0, &page), -EAGAIN); /* empty pte */
	CHECK_EQ(follow_pte_access(mm, a, FAULT_FLAG_WRITE, &page), -EAGAIN);
	CHECK(page == NULL);
	ptep = pte_offset_map(mm, a);
	*ptep = pte_mkold(*ptep);
	CHECK_EQ(follow_pte_access(mm, a, 0, &page), 0);
	CHECK(page == sys->zero_page);
	CHECK(pte_young(*ptep));
	mmap_read_unlock(mm);

	CHECK_EQ(fault(mm, a, FAULT_FLAG_WRITE), 0);
	mmap_read_lock(mm);
	*ptep = pte_mkclean(pte_mkold(*ptep));
	CHECK_EQ(follow_pte_access(mm, a, 0, &page), 0);
	CHECK(pte_young(*ptep) && !pte_dirty(*ptep));
	CHECK_EQ(follow_pte_access(mm, a, FAULT_FLAG_WRITE, &page), 0);
	CHECK(pte_dirty(*ptep));
	CHECK(page == pfn_to_page(sys->phys, pte_pfn(*ptep)));
	mmap_read_unlock(mm);

	/* PROT_NONE ptes are not accessible */
	CHECK_EQ(umm_mprotect(mm, a, PS, PROT_NONE), 0);
	mmap_read_lock(mm);
	CHECK(pte_protnone(*ptep));
	CHECK_EQ(follow_pte_access(mm, a, 0, &page), -EAGAIN);
	mmap_read_unlock(mm);
	finish(sys, mm);
}

static void test_file_private_cow(void)
{
	struct umm_system *sys = new_system();
	struct umm_mm *mm = new_mm(sys);
	int fd;
	struct umm_object *obj = file_object(sys, 4 * PS, &fd);
	uintptr_t priv = map(mm, 4 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, obj, 0);
	uintptr_t other = map(mm, 4 * PS, PROT_READ, MAP_SHARED, obj, 0);
	unsigned char buf[PS], disk[PS];
	struct page *cache;
	pte_t pte;

	/* read: the page-cache page itself, read-only */
	CHECK_EQ(vm_access(mm, priv, buf, PS, false), 0);
	for (size_t i = 0; i < PS; i++)
		if (buf[i] != pattern(i)) { CHECK(buf[i] == pattern(i)); break; }
	pte = pte_at(mm, priv);
	CHECK(pte_present(pte) && !pte_write(pte));
	cache = page_at(mm, priv);
	CHECK(!PageAnon(cache) && cache->mapping == obj && cache->index == 0);
	CHECK_EQ(mstats(mm).rss_file, 1);
	CHECK_EQ(mstats(mm).major_faults, 1);

	/* write: a private copy replaces it */
	CHECK_EQ(vm_access(mm, priv + 10, "PRIVATE", 7, true), 0);
	CHECK(page_at(mm, priv) != cache && PageAnon(page_at(mm, priv)));
	CHECK_EQ(page_mapcount(cache), 0);
	CHECK_EQ(mstats(mm).rss_file, 0);
	CHECK_EQ(mstats(mm).rss_anon, 1);
	CHECK_EQ(mstats(mm).cow_faults, 1);
	CHECK_EQ(vm_access(mm, priv, buf, PS, false), 0);
	CHECK(memcmp(buf + 10, "PRIVATE", 7) == 0);
	CHECK(buf[9] == pattern(9) && buf[17] == pattern(17));

	/* first touch is a private write: copy of the file page, never the file */
	CHECK_EQ(vm_access(mm, priv + 2 * PS + 1, "Q", 1, true), 0);
	CHECK(PageAnon(page_at(mm, priv + 2 * PS)));
	CHECK_EQ(mstats(mm).cow_faults, 2);
	CHECK_EQ(mstats(mm).rss_anon, 2);
	CHECK_EQ(vm_access(mm, priv + 2 * PS, buf, 3, false), 0);
	CHECK(buf[0] == pattern(2 * PS) && buf[1] == 'Q' && buf[2] == pattern(2 * PS + 2));

	/* the other mapping and the file are unchanged, even after sync */
	CHECK_EQ(vm_access(mm, other, buf, PS, false), 0);
	CHECK(buf[10] == pattern(10));
	CHECK_EQ(vm_access(mm, other + 2 * PS + 1, buf, 1, false), 0);
	CHECK(buf[0] == pattern(2 * PS + 1));
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK_EQ(pread(fd, disk, PS, 0), (ssize_t)PS);
	CHECK(disk[10] == pattern(10));
	CHECK_EQ(pread(fd, disk, PS, 2 * PS), (ssize_t)PS);
	CHECK(disk[1] == pattern(2 * PS + 1));
	CHECK(!PageDirty(cache));

	CHECK_EQ(umm_mm_check(mm), 0);
	umm_mm_destroy(mm);
	umm_object_put(obj);
	CHECK_EQ(pread(fd, disk, PS, 0), (ssize_t)PS);
	CHECK(disk[10] == pattern(10));
	close(fd);
	finish(sys, NULL);
}

static void test_shared_write(void)
{
	struct umm_system *sys = new_system();
	struct umm_mm *mm = new_mm(sys);
	int fd;
	struct umm_object *obj = file_object(sys, 3 * PS, &fd);
	uintptr_t a = map(mm, 3 * PS, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0);
	unsigned char buf[16], disk[16];
	struct page *page;
	pte_t pte;

	/* read first: read-only pte, clean page */
	CHECK_EQ(vm_access(mm, a, buf, 4, false), 0);
	pte = pte_at(mm, a);
	page = page_at(mm, a);
	CHECK(pte_present(pte) && !pte_write(pte) && !pte_dirty(pte));
	CHECK(!PageDirty(page));
	/* then write: same page, now writable and dirty */
	CHECK_EQ(vm_access(mm, a + 5, "shared", 6, true), 0);
	pte = pte_at(mm, a);
	CHECK(pte_write(pte) && pte_dirty(pte));
	CHECK(page_at(mm, a) == page && PageDirty(page));
	CHECK_EQ(mstats(mm).cow_faults, 0);
	CHECK_EQ(mstats(mm).rss_file, 1);
	CHECK_EQ(mstats(mm).rss_anon, 0);
	/* reaches the file on sync */
	CHECK_EQ(pread(fd, disk, 6, 5), 6);
	CHECK(memcmp(disk, "shared", 6) != 0);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK_EQ(pread(fd, disk, 6, 5), 6);
	CHECK(memcmp(disk, "shared", 6) == 0);
	CHECK(!PageDirty(page));

	/* first touch is a shared write (through the soft MMU) */
	CHECK_EQ(umm_write(mm, a + PS + 1, "direct", 6), 0);
	page = page_at(mm, a + PS);
	CHECK(page && PageDirty(page) && pte_write(pte_at(mm, a + PS)));

	/* a dirty pte marks its page dirty when unmapped: nothing written is lost */
	CHECK_EQ(vm_access(mm, a + 2 * PS, "late", 4, true), 0);
	page = page_at(mm, a + 2 * PS);
	ClearPageDirty(page);                  /* as if written back, pte still dirty */
	CHECK_EQ(umm_munmap(mm, a + 2 * PS, PS), 0);
	CHECK(PageDirty(page));

	/* and the last put of the object writes it all */
	CHECK_EQ(umm_mm_check(mm), 0);
	umm_mm_destroy(mm);
	umm_object_put(obj);
	CHECK_EQ(pread(fd, disk, 6, PS + 1), 6);
	CHECK(memcmp(disk, "direct", 6) == 0);
	CHECK_EQ(pread(fd, disk, 4, 2 * PS), 4);
	CHECK(memcmp(disk, "late", 4) == 0);
	close(fd);
	finish(sys, NULL);
}

static void test_shmem_counts(void)
{
	struct umm_system *sys = new_system();
	struct umm_mm *mm = new_mm(sys);
	uintptr_t a = map(mm, 2 * PS, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, NULL, 0);
	char c = 0;

	CHECK_EQ(vm_access(mm, a, &c, 1, false), 0);
	CHECK_EQ(c, 0);
	CHECK_EQ(vm_access(mm, a + PS, "s", 1, true), 0);
	CHECK_EQ(mstats(mm).rss_shmem, 2);
	CHECK_EQ(mstats(mm).rss_file, 0);
	CHECK_EQ(mstats(mm).rss_anon, 0);
	CHECK(!PageAnon(page_at(mm, a + PS)));
	finish(sys, mm);
}

static void test_eio(void)
{
	struct umm_system *sys = new_system();
	struct umm_mm *mm = new_mm(sys);
	int fd;
	struct umm_object *obj = file_object(sys, PS + 100, &fd);   /* 1.x pages */
	uintptr_t a = map(mm, 3 * PS, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0);
	uintptr_t p = map(mm, 3 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, obj, 0);
	unsigned char buf[PS];

	/* each fault reads just its own page (no read-around): the injections below hit it */
	CHECK_EQ(umm_madvise(mm, a, 3 * PS, MADV_RANDOM), 0);
	CHECK_EQ(umm_madvise(mm, p, 3 * PS, MADV_RANDOM), 0);
	/* the partial last page is there, zero past EOF */
	CHECK_EQ(vm_access(mm, a + PS, buf, PS, false), 0);
	CHECK(buf[99] == pattern(PS + 99));
	CHECK(all_bytes(buf + 100, PS - 100, 0));
	/* a page wholly past EOF is SIGBUS, for every kind of access */
	CHECK_EQ(fault(mm, a + 2 * PS, 0), -EIO);
	CHECK_EQ(fault(mm, a + 2 * PS, FAULT_FLAG_WRITE), -EIO);
	CHECK_EQ(fault(mm, p + 2 * PS, FAULT_FLAG_WRITE), -EIO);
	CHECK_EQ(umm_read(mm, p + 2 * PS, buf, 1), -EIO);
	CHECK(pte_at(mm, a + 2 * PS) == 0 && pte_at(mm, p + 2 * PS) == 0);
	CHECK_EQ(mstats(mm).rss_anon, 0);

	/* injected read failure: -EIO, nothing installed, then it recovers */
	struct umm_mm_stats before = mstats(mm);
	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_READ, 0, 1), 0);
	CHECK_EQ(fault(mm, a, 0), -EIO);
	CHECK(pte_at(mm, a) == 0);
	CHECK_EQ(umm_inject_hits(sys, UMM_INJECT_READ), 1);
	CHECK_EQ(mstats(mm).minor_faults + mstats(mm).major_faults,
		 before.minor_faults + before.major_faults);
	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_READ, 0, 1), 0);
	CHECK_EQ(fault(mm, p, FAULT_FLAG_WRITE), -EIO);
	CHECK(pte_at(mm, p) == 0);
	CHECK_EQ(sstats(sys).anon_pages, 0);
	CHECK_EQ(vm_access(mm, p, buf, 2, false), 0);
	CHECK(buf[0] == pattern(0) && buf[1] == pattern(1));
	CHECK_EQ(mstats(mm).major_faults, before.major_faults + 1);

	CHECK_EQ(umm_mm_check(mm), 0);
	umm_mm_destroy(mm);
	umm_object_put(obj);
	close(fd);
	finish(sys, NULL);
}

static void test_enomem(void)
{
	struct umm_system *sys = new_system();
	struct umm_mm *mm = new_mm(sys);
	int fd;
	struct umm_object *obj = file_object(sys, 4 * PS, &fd);
	uintptr_t a = map(mm, 4 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	uintptr_t f = map(mm, 4 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, obj, 0);
	struct umm_sys_stats s0;
	struct umm_mm_stats m0;

	CHECK_EQ(umm_madvise(mm, f, 4 * PS, MADV_RANDOM), 0);   /* a fault reads its page only */

	/* the page tables for both mappings exist after these */
	CHECK_EQ(fault(mm, a + 3 * PS, FAULT_FLAG_WRITE), 0);
	CHECK_EQ(fault(mm, f + 3 * PS, 0), 0);
	CHECK_EQ(fault(mm, a + PS, 0), 0);                      /* zero page */
	CHECK_EQ(fault(mm, f + PS, 0), 0);                      /* cache page */
	s0 = sstats(sys);
	m0 = mstats(mm);

	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_PAGE_ALLOC, 0, -1), 0);
	CHECK_EQ(fault(mm, a, FAULT_FLAG_WRITE), -ENOMEM);       /* new anon page */
	CHECK_EQ(fault(mm, a + PS, FAULT_FLAG_WRITE), -ENOMEM);  /* zero page COW */
	CHECK_EQ(fault(mm, f, 0), -ENOMEM);                      /* page cache page */
	CHECK_EQ(fault(mm, f + 2 * PS, FAULT_FLAG_WRITE), -ENOMEM); /* private copy */
	CHECK_EQ(fault(mm, f + PS, FAULT_FLAG_WRITE), -ENOMEM);  /* COW of a cached page */
	CHECK_EQ(umm_write(mm, a, "x", 1), -ENOMEM);
	CHECK(umm_inject_hits(sys, UMM_INJECT_PAGE_ALLOC) >= 6);
	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_PAGE_ALLOC, 0, 0), 0);

	/* nothing half-installed, nothing leaked */
	CHECK(pte_at(mm, a) == 0 && pte_at(mm, f) == 0 && pte_at(mm, f + 2 * PS) == 0);
	CHECK(pte_special(pte_at(mm, a + PS)));
	CHECK(!PageAnon(page_at(mm, f + PS)));
	CHECK_EQ(sstats(sys).free_frames, s0.free_frames);
	CHECK_EQ(sstats(sys).anon_pages, s0.anon_pages);
	CHECK_EQ(mstats(mm).rss_anon, m0.rss_anon);
	CHECK_EQ(mstats(mm).rss_file, m0.rss_file);
	CHECK_EQ(mstats(mm).minor_faults, m0.minor_faults);
	CHECK_EQ(mstats(mm).cow_faults, m0.cow_faults);
	CHECK_EQ(umm_mm_check(mm), 0);

	/* recovery */
	CHECK_EQ(fault(mm, a, FAULT_FLAG_WRITE), 0);
	CHECK_EQ(fault(mm, a + PS, FAULT_FLAG_WRITE), 0);
	CHECK_EQ(fault(mm, f, 0), 0);
	CHECK_EQ(fault(mm, f + 2 * PS, FAULT_FLAG_WRITE), 0);
	CHECK_EQ(fault(mm, f + PS, FAULT_FLAG_WRITE), 0);
	CHECK_EQ(mstats(mm).rss_anon, m0.rss_anon + 4);

	/* a fault that needs new page tables fails cleanly at each of them */
	umm_munmap(mm, a, 4 * PS);
	umm_munmap(mm, f, 4 * PS);
	uintptr_t g = 0;
	REQUIRE(umm_mmap(mm, 0x7e0000000000UL, PS, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0, &g) == 0);
	unsigned long tables = sstats(sys).pgtable_pages, freef = sstats(sys).free_frames;
	for (long skip = 0; skip < 3; skip++) {         /* the pud, pmd and pte tables */
		CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_PAGE_ALLOC, skip, 1), 0);
		CHECK_EQ(fault(mm, g, FAULT_FLAG_WRITE), -ENOMEM);
		CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_PAGE_ALLOC, 0, 0), 0);
		CHECK_EQ(sstats(sys).pgtable_pages, tables);
		CHECK_EQ(sstats(sys).free_frames, freef);
		CHECK(pte_at(mm, g) == 0);
	}
	/* the data page after the tables: the (empty) tables stay */
	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_PAGE_ALLOC, 3, 1), 0);
	CHECK_EQ(fault(mm, g, FAULT_FLAG_WRITE), -ENOMEM);
	CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_PAGE_ALLOC, 0, 0), 0);
	CHECK_EQ(sstats(sys).pgtable_pages, tables + 3);
	CHECK_EQ(sstats(sys).free_frames, freef - 3);
	CHECK(pte_at(mm, g) == 0);
	CHECK_EQ(sstats(sys).anon_pages, 0);
	CHECK_EQ(fault(mm, g, FAULT_FLAG_WRITE), 0);
	CHECK_EQ(umm_mm_check(mm), 0);
	umm_mm_destroy(mm);
	umm_object_put(obj);
	close(fd);
	finish(sys, NULL);
}

static void test_minor_major(void)
{
	struct umm_system *sys = new_system();
	struct umm_mm *mm = new_mm(sys), *mm2 = new_mm(sys);
	int fd;
	struct umm_object *obj = file_object(sys, 2 * PS, &fd);
	uintptr_t a = map(mm, 2 * PS, PROT_READ, MAP_SHARED, obj, 0);
	uintptr_t b = map(mm2, 2 * PS, PROT_READ, MAP_PRIVATE, obj, 0);

	CHECK_EQ(umm_madvise(mm, a, 2 * PS, MADV_RANDOM), 0);   /* no read-around of page 1 */
	CHECK_EQ(fault(mm, a, 0), 0);
	CHECK_EQ(mstats(mm).major_faults, 1);
	CHECK_EQ(mstats(mm).minor_faults, 0);
	/* the same page through another mm: cached, so minor */
	CHECK_EQ(fault(mm2, b, 0), 0);
	CHECK_EQ(mstats(mm2).major_faults, 0);
	CHECK_EQ(mstats(mm2).minor_faults, 1);
	CHECK(page_at(mm, a) == page_at(mm2, b));
	CHECK_EQ(page_mapcount(page_at(mm, a)), 2);
	CHECK_EQ(page_count(page_at(mm, a)), 3);    /* cache + two ptes */
	CHECK_EQ(fault(mm2, b + PS, 0), 0);
	CHECK_EQ(mstats(mm2).major_faults, 1);
	/* anon faults are always minor */
	uintptr_t c = map(mm, PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	CHECK_EQ(fault(mm, c, FAULT_FLAG_WRITE), 0);
	CHECK_EQ(mstats(mm).major_faults, 1);
	CHECK_EQ(mstats(mm).minor_faults, 1);
	CHECK_EQ(umm_mm_check(mm2), 0);
	umm_mm_destroy(mm2);
	CHECK_EQ(umm_mm_check(mm), 0);
	umm_mm_destroy(mm);
	umm_object_put(obj);
	close(fd);
	finish(sys, NULL);
}

static void test_fork_cow_and_reuse(void)
{
	struct umm_system *sys = new_system();
	struct umm_mm *parent = new_mm(sys), *child;
	int fd;
	struct umm_object *obj = file_object(sys, 2 * PS, &fd);
	uintptr_t a = map(parent, 2 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	uintptr_t s = map(parent, PS, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0);
	struct page *orig;
	char buf[8];

	CHECK_EQ(vm_access(parent, a, "parent0", 8, true), 0);
	CHECK_EQ(vm_access(parent, a + PS, buf, 1, false), 0);    /* zero page */
	CHECK_EQ(vm_access(parent, s, "shared", 7, true), 0);
	orig = page_at(parent, a);
	REQUIRE(umm_fork(parent, &child) == 0);

	/* both sides write-protected and sharing the frame */
	CHECK(!pte_write(pte_at(parent, a)) && !pte_write(pte_at(child, a)));
	CHECK(page_at(child, a) == orig);
	CHECK_EQ(page_mapcount(orig), 2);
	CHECK_EQ(page_count(orig), 2);
	CHECK(pte_special(pte_at(child, a + PS)));
	CHECK_EQ(mstats(child).rss_anon, 1);
	CHECK_EQ(mstats(child).rss_file, 1);
	/* shared mappings stay writable and shared */
	CHECK(pte_write(pte_at(parent, s)) && pte_write(pte_at(child, s)));
	CHECK(page_at(child, s) == page_at(parent, s));
	CHECK_EQ(sstats(sys).anon_pages, 1);

	/* the parent writes: mapcount 2, so it copies */
	CHECK_EQ(vm_access(parent, a, "PARENT", 6, true), 0);
	CHECK(page_at(parent, a) != orig);
	CHECK_EQ(mstats(parent).cow_faults, 1);
	CHECK_EQ(page_mapcount(orig), 1);
	CHECK_EQ(sstats(sys).anon_pages, 2);
	/* the child writes: now only it maps the frame, so it is reused */
	unsigned long child_cow = mstats(child).cow_faults;
	CHECK_EQ(vm_access(child, a, "CH", 2, true), 0);
	CHECK(page_at(child, a) == orig);
	CHECK_EQ(mstats(child).cow_faults, child_cow);
	CHECK_EQ(vm_access(parent, a, buf, 8, false), 0);
	CHECK(memcmp(buf, "PARENT0", 8) == 0);
	CHECK_EQ(vm_access(child, a, buf, 8, false), 0);
	CHECK(memcmp(buf, "CHrent0", 8) == 0);
	/* the shared page is one page for both */
	CHECK_EQ(vm_access(child, s, "SHARED", 7, true), 0);
	CHECK_EQ(vm_access(parent, s, buf, 7, false), 0);
	CHECK(memcmp(buf, "SHARED", 7) == 0);
	/* zero page COW in the child only */
	CHECK_EQ(vm_access(child, a + PS, "z", 1, true), 0);
	CHECK(pte_special(pte_at(parent, a + PS)));
	CHECK_EQ(mstats(child).cow_faults, child_cow + 1);

	/* the child goes away: the parent's pages are its own again */
	CHECK_EQ(umm_mm_check(child), 0);
	umm_mm_destroy(child);
	CHECK_EQ(sstats(sys).anon_pages, 1);
	CHECK_EQ(umm_system_check(sys), 0);

	/* write-protect by mprotect, then write: reuse, no COW */
	unsigned long pc = mstats(parent).cow_faults;
	struct page *mine = page_at(parent, a);
	CHECK_EQ(umm_mprotect(parent, a, 2 * PS, PROT_READ), 0);
	CHECK(!pte_write(pte_at(parent, a)));
	CHECK_EQ(fault(parent, a, FAULT_FLAG_WRITE), -EFAULT);
	CHECK_EQ(umm_mprotect(parent, a, 2 * PS, PROT_NONE), 0);
	CHECK(pte_protnone(pte_at(parent, a)));
	CHECK_EQ(mstats(parent).rss_anon, 1);
	CHECK_EQ(umm_mprotect(parent, a, 2 * PS, PROT_READ | PROT_WRITE), 0);
	CHECK(pte_accessible(pte_at(parent, a)) && !pte_write(pte_at(parent, a)));
	CHECK_EQ(vm_access(parent, a, "again", 5, true), 0);
	CHECK(page_at(parent, a) == mine);
	CHECK_EQ(mstats(parent).cow_faults, pc);
	CHECK_EQ(umm_mm_check(parent), 0);
	umm_mm_destroy(parent);
	umm_object_put(obj);
	close(fd);
	finish(sys, NULL);
}

static void test_truncate_unmaps(void)
{
	struct umm_system *sys = new_system();
	struct umm_mm *mm = new_mm(sys);
	int fd;
	struct umm_object *obj = file_object(sys, 8 * PS, &fd);
	/* mapped from page 2 of the object, so vm_pgoff matters */
	uintptr_t s = map(mm, 6 * PS, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 2 * PS);
	uintptr_t p = map(mm, 8 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, obj, 0);
	char c;

	for (int i = 0; i < 6; i++)
		CHECK_EQ(vm_access(mm, s + i * PS, &c, 1, false), 0);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(vm_access(mm, p + i * PS, &c, 1, i % 2 == 1), 0);   /* odd pages COWed */
	CHECK_EQ(mstats(mm).rss_file, 6 + 4);
	CHECK_EQ(mstats(mm).rss_anon, 4);

	/* unmap_mapping_range on its own: object pages [3, 5) */
	unmap_mapping_range(obj, 3, 5);
	CHECK(pte_at(mm, s) != 0 && pte_at(mm, s + PS) == 0 && pte_at(mm, s + 2 * PS) == 0);
	CHECK(pte_at(mm, s + 3 * PS) != 0);
	CHECK(pte_at(mm, p + 2 * PS) != 0 && pte_at(mm, p + 3 * PS) == 0);
	CHECK(pte_at(mm, p + 4 * PS) == 0 && pte_at(mm, p + 5 * PS) != 0);
	CHECK_EQ(mstats(mm).rss_file, 10 - 2 - 1);
	CHECK_EQ(mstats(mm).rss_anon, 3);                /* the COW copy of page 3 went too */
	CHECK_EQ(umm_mm_check(mm), 0);
	unmap_mapping_range(obj, 5, 5);                  /* empty range: nothing */
	CHECK(pte_at(mm, p + 5 * PS) != 0);

	/* truncate to 2.5 pages: pages 3.. are gone for both mappings */
	CHECK_EQ(umm_object_truncate(obj, 2 * PS + 100), 0);
	CHECK_EQ(fault(mm, s + PS, 0), -EIO);            /* object page 3 */
	CHECK_EQ(fault(mm, p + 5 * PS, 0), -EIO);        /* was a private copy */
	CHECK_EQ(fault(mm, p + 7 * PS, FAULT_FLAG_WRITE), -EIO);
	CHECK_EQ(umm_read(mm, s + 5 * PS, &c, 1), -EIO);
	CHECK(pte_at(mm, p + 7 * PS) == 0 && pte_at(mm, s + 4 * PS) == 0);
	/* page 2 (partial) is still there in both */
	CHECK_EQ(vm_access(mm, s, &c, 1, false), 0);
	CHECK_EQ(vm_access(mm, p + 2 * PS, &c, 1, false), 0);
	CHECK_EQ(vm_access(mm, p + PS, &c, 1, false), 0);
	CHECK_EQ(mstats(mm).rss_anon, 1);                /* private copy of page 1 */
	CHECK_EQ(mstats(mm).rss_file, 3);                /* s:2, p:0 and p:2 */
	CHECK_EQ(umm_mm_check(mm), 0);
	umm_mm_destroy(mm);
	umm_object_put(obj);
	close(fd);
	finish(sys, NULL);
}

static void test_fork_enomem(void)
{
	struct umm_system *sys = new_system();
	struct umm_mm *parent = new_mm(sys), *child = NULL;
	int fd;
	struct umm_object *obj = file_object(sys, 2 * PS, &fd);
	/* 6 MiB: pages in three pte tables, so a copy can fail half-way */
	uintptr_t a = map(parent, 6UL << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	uintptr_t f = map(parent, 2 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, obj, 0);
	unsigned long anon, cow;
	char buf[8];
	int err = -ENOMEM;
	long skip;

	for (int i = 0; i < 3; i++)
		CHECK_EQ(vm_access(parent, a + ((uintptr_t)i << 21) + 5 * PS, "page", 5, true), 0);
	CHECK_EQ(vm_access(parent, f, buf, 1, false), 0);
	CHECK_EQ(vm_access(parent, f + PS, "cow", 4, true), 0);
	anon = sstats(sys).anon_pages;
	for (skip = 0; skip < 64; skip++) {
		CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_PAGE_ALLOC, skip, 1), 0);
		err = umm_fork(parent, &child);
		CHECK_EQ(umm_inject_fault(sys, UMM_INJECT_PAGE_ALLOC, 0, 0), 0);
		if (!err)
			break;
		CHECK_EQ(err, -ENOMEM);
		CHECK_EQ(sstats(sys).nr_mms, 1);
		CHECK_EQ(sstats(sys).anon_pages, anon);
		CHECK_EQ(umm_system_check(sys), 0);
		CHECK_EQ(page_mapcount(page_at(parent, a + 5 * PS)), 1);
	}
	CHECK_EQ(err, 0);
	CHECK(skip >= 4);       /* mm, pgd, vma and tables were each made to fail */
	REQUIRE(child);
	umm_mm_destroy(child);

	/* the parent's pages were write-protected by the failed copies: reused */
	cow = mstats(parent).cow_faults;
	struct page *old = page_at(parent, a + 5 * PS);
	CHECK(!pte_write(pte_at(parent, a + 5 * PS)));
	CHECK_EQ(vm_access(parent, a + 5 * PS, "PAGE", 4, true), 0);
	CHECK(page_at(parent, a + 5 * PS) == old);
	CHECK_EQ(mstats(parent).cow_faults, cow);
	CHECK_EQ(vm_access(parent, a + (2UL << 21) + 5 * PS, buf, 5, false), 0);
	CHECK(memcmp(buf, "page", 5) == 0);
	CHECK_EQ(vm_access(parent, f + PS, buf, 4, false), 0);
	CHECK(memcmp(buf, "cow", 4) == 0);
	CHECK_EQ(umm_mm_check(parent), 0);
	umm_mm_destroy(parent);
	umm_object_put(obj);
	close(fd);
	finish(sys, NULL);
}

/*
 * A helper thread with its own soft TLB, driven step by step: it caches a
 * translation, the main thread changes the ptes, and the helper's next
 * access must see the change (flush_tlb_range was called where needed).
 */
struct remote {
	pthread_t th;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int op;                 /* 0 idle, 1 read, 2 write, 3 quit */
	struct umm_mm *mm;
	uintptr_t addr;
	char buf[16];
	size_t len;
	int result;
};

static void *remote_main(void *p)
{
	struct remote *r = p;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (r->op == 0)
			pthread_cond_wait(&r->cond, &r->lock);
		if (r->op == 3)
			break;
		if (r->op == 1)
			r->result = umm_read(r->mm, r->addr, r->buf, r->len);
		else
			r->result = umm_write(r->mm, r->addr, r->buf, r->len);
		r->op = 0;
		pthread_cond_broadcast(&r->cond);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static int remote_do(struct remote *r, int op, struct umm_mm *mm, uintptr_t addr, char *buf, size_t len)
{
	int result;

	pthread_mutex_lock(&r->lock);
	r->mm = mm;
	r->addr = addr;
	r->len = len;
	if (op == 2)
		memcpy(r->buf, buf, len);
	r->op = op;
	pthread_cond_broadcast(&r->cond);
	while (r->op != 0)
		pthread_cond_wait(&r->cond, &r->lock);
	if (op == 1)
		memcpy(buf, r->buf, len);
	result = r->result;
	pthread_mutex_unlock(&r->lock);
	return result;
}

static void remote_start(struct remote *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	REQUIRE(pthread_create(&r->th, NULL, remote_main, r) == 0);
}

static void remote_stop(struct remote *r)
{
	pthread_mutex_lock(&r->lock);
	r->op = 3;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->th, NULL);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
}

static void test_tlb_shootdown(void)
{
	struct umm_system *sys = new_system();
	struct umm_mm *parent = new_mm(sys), *child;
	int fd;
	struct umm_object *obj = file_object(sys, 4 * PS, &fd);
	uintptr_t a = map(parent, 4 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	uintptr_t s = map(parent, 4 * PS, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0);
	struct remote r;
	char buf[8];

	remote_start(&r);

	/* COW after fork: the helper's read-only entry for the old frame goes */
	CHECK_EQ(umm_write(parent, a, "old", 4), 0);
	REQUIRE(umm_fork(parent, &child) == 0);
	CHECK_EQ(remote_do(&r, 1, parent, a, buf, 4), 0);
	CHECK(memcmp(buf, "old", 4) == 0);
	CHECK_EQ(umm_write(parent, a, "new", 4), 0);
	CHECK_EQ(remote_do(&r, 1, parent, a, buf, 4), 0);
	CHECK(memcmp(buf, "new", 4) == 0);
	CHECK_EQ(umm_read(child, a, buf, 4), 0);
	CHECK(memcmp(buf, "old", 4) == 0);
	umm_mm_destroy(child);

	/* fork write-protects: a writable entry cached before fork must go */
	CHECK_EQ(remote_do(&r, 2, parent, a + PS, "r1", 3), 0);
	REQUIRE(umm_fork(parent, &child) == 0);
	CHECK_EQ(remote_do(&r, 2, parent, a + PS, "r2", 3), 0);
	CHECK_EQ(umm_read(child, a + PS, buf, 3), 0);
	CHECK(memcmp(buf, "r1", 3) == 0);
	CHECK_EQ(umm_read(parent, a + PS, buf, 3), 0);
	CHECK(memcmp(buf, "r2", 3) == 0);
	umm_mm_destroy(child);

	/* mprotect: a cached writable entry stops allowing writes */
	CHECK_EQ(remote_do(&r, 2, parent, a + 2 * PS, "w", 2), 0);
	CHECK_EQ(umm_mprotect(parent, a + 2 * PS, PS, PROT_READ), 0);
	CHECK_EQ(remote_do(&r, 2, parent, a + 2 * PS, "x", 2), -EFAULT);
	CHECK_EQ(remote_do(&r, 1, parent, a + 2 * PS, buf, 2), 0);
	CHECK(memcmp(buf, "w", 2) == 0);
	CHECK_EQ(umm_mprotect(parent, a + 2 * PS, PS, PROT_NONE), 0);
	CHECK_EQ(remote_do(&r, 1, parent, a + 2 * PS, buf, 2), -EFAULT);

	/* munmap: a cached entry stops translating */
	CHECK_EQ(remote_do(&r, 1, parent, a + 3 * PS, buf, 1), 0);
	CHECK_EQ(umm_munmap(parent, a + 3 * PS, PS), 0);
	CHECK_EQ(remote_do(&r, 1, parent, a + 3 * PS, buf, 1), -EFAULT);

	/* truncate: a cached entry of a page past the new end stops translating */
	CHECK_EQ(remote_do(&r, 2, parent, s + 3 * PS, "t", 2), 0);
	CHECK_EQ(umm_object_truncate(obj, 2 * PS), 0);
	CHECK_EQ(remote_do(&r, 1, parent, s + 3 * PS, buf, 1), -EIO);
	CHECK_EQ(remote_do(&r, 1, parent, s + PS, buf, 1), 0);

	remote_stop(&r);
	CHECK_EQ(umm_mm_check(parent), 0);
	umm_mm_destroy(parent);
	umm_object_put(obj);
	close(fd);
	finish(sys, NULL);
}

/*
 * page_mkclean, as writeback uses it: after it, no pte of any mm maps the
 * page writable or dirty, a thread's cached writable translation is gone,
 * and the next write dirties the page again through a fault.
 */
static void test_page_mkclean(void)
{
	struct umm_system *sys = new_system();
	struct umm_mm *mm = new_mm(sys), *child;
	int fd;
	struct umm_object *obj = file_object(sys, 2 * PS, &fd);
	uintptr_t s = map(mm, 2 * PS, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0);
	uintptr_t p = map(mm, 2 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, obj, 0);
	struct page *page;
	struct remote r;
	char buf[4];

	remote_start(&r);
	CHECK_EQ(remote_do(&r, 2, mm, s, "one", 4), 0);       /* caches a writable entry */
	CHECK_EQ(vm_access(mm, p, buf, 1, false), 0);         /* private read: same page */
	CHECK_EQ(vm_access(mm, s + PS, "x", 1, true), 0);     /* another page, stays dirty */
	page = page_at(mm, s);
	CHECK(page == page_at(mm, p));
	REQUIRE(umm_fork(mm, &child) == 0);                   /* the shared pte twice */
	CHECK_EQ(page_mapcount(page), 4);

	lock_page(page);
	CHECK(TestClearPageDirty(page));
	CHECK_EQ(page_mkclean(page), 2);
	CHECK_EQ(page_mkclean(page), 0);                      /* nothing left to clean */
	unlock_page(page);
	CHECK(!pte_write(pte_at(mm, s)) && !pte_dirty(pte_at(mm, s)));
	CHECK(!pte_write(pte_at(child, s)) && !pte_dirty(pte_at(child, s)));
	CHECK(pte_present(pte_at(mm, p)) && page_at(mm, p) == page);
	CHECK(pte_write(pte_at(mm, s + PS)) && pte_dirty(pte_at(mm, s + PS)));
	CHECK_EQ(page_mapcount(page), 4);
	CHECK_EQ(umm_mm_check(mm), 0);

	/* the helper's next write faults and dirties the page again */
	CHECK(!PageDirty(page));
	CHECK_EQ(remote_do(&r, 2, mm, s, "two", 4), 0);
	CHECK(PageDirty(page));
	CHECK(pte_write(pte_at(mm, s)) && pte_dirty(pte_at(mm, s)));
	CHECK_EQ(umm_read(child, s, buf, 4), 0);
	CHECK(memcmp(buf, "two", 4) == 0);
	CHECK_EQ(mstats(mm).cow_faults, 0);
	remote_stop(&r);

	/* anonymous and unmapped pages have nothing to clean */
	struct page *anon;
	uintptr_t a = map(mm, PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	CHECK_EQ(vm_access(mm, a, "a", 1, true), 0);
	anon = page_at(mm, a);
	lock_page(anon);
	CHECK_EQ(page_mkclean(anon), 0);
	unlock_page(anon);
	CHECK(pte_write(pte_at(mm, a)));

	umm_mm_destroy(child);
	CHECK_EQ(umm_mm_check(mm), 0);
	umm_mm_destroy(mm);
	umm_object_put(obj);
	CHECK_EQ(pread(fd, buf, 4, 0), 4);
	CHECK(memcmp(buf, "two", 4) == 0);
	close(fd);
	finish(sys, NULL);
}

/* ---- threads ---- */

#define NTHREADS 4
#define TPAGES 64

struct thread_arg {
	struct umm_mm *mm;
	uintptr_t base;
	int id;
	int errors;
};

static void *race_writer(void *p)
{
	struct thread_arg *t = p;

	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < TPAGES; i++) {
			uintptr_t addr = t->base + (uintptr_t)((i * 7 + t->id * 13) % TPAGES) * PS;
			unsigned int flags = (i + round + t->id) % 3 ? FAULT_FLAG_WRITE : 0;

			if (fault(t->mm, addr, flags))
				t->errors++;
		}
	}
	/* each thread owns a byte in every page */
	for (int i = 0; i < TPAGES; i++) {
		char v = (char)(t->id + 1);

		if (umm_write(t->mm, t->base + (uintptr_t)i * PS + (uintptr_t)t->id, &v, 1))
			t->errors++;
	}
	return NULL;
}

/*
 * FAULT_FLAG_PTE_NONE: the page is prepared before ptl.  Right hints
 * must behave as plain faults; wrong ones (the pte is there) must drop
 * what was prepared: no frame, reference or page lock left behind.
 */
static void test_pte_none_hint(void)
{
	struct umm_system *sys = new_system();
	struct umm_mm *mm = new_mm(sys);
	int fd;
	struct umm_object *obj = file_object(sys, 4 * PS, &fd);
	uintptr_t anon = map(mm, 4 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	uintptr_t shared = map(mm, 4 * PS, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0);
	uintptr_t priv = map(mm, 4 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, obj, 0);
	const unsigned int H = FAULT_FLAG_PTE_NONE;
	unsigned long free0;
	struct page *cache;
	unsigned char c;

	/* right hints: anon write, file read, shared write, private write */
	CHECK_EQ(fault(mm, anon, FAULT_FLAG_WRITE | H), 0);
	CHECK(pte_write(pte_at(mm, anon)) && PageAnon(page_at(mm, anon)));
	CHECK_EQ(fault(mm, anon + PS, H), 0);                 /* read: zero page, nothing prepared */
	CHECK(pte_special(pte_at(mm, anon + PS)));
	CHECK_EQ(fault(mm, shared, H), 0);
	cache = page_at(mm, shared);
	CHECK(cache->mapping == obj && !pte_write(pte_at(mm, shared)) && !PageLocked(cache));
	CHECK_EQ(fault(mm, shared + PS, FAULT_FLAG_WRITE | H), 0);
	CHECK(pte_write(pte_at(mm, shared + PS)) && PageDirty(page_at(mm, shared + PS)));
	CHECK_EQ(fault(mm, priv + 2 * PS, FAULT_FLAG_WRITE | H), 0);
	CHECK(PageAnon(page_at(mm, priv + 2 * PS)));
	CHECK_EQ(vm_access(mm, priv + 2 * PS, &c, 1, false), 0);
	CHECK(c == pattern(2 * PS));
	CHECK_EQ(mstats(mm).cow_faults, 1);

	/* wrong hints: every pte is already there; nothing may leak or stay locked */
	free0 = sstats(sys).free_frames;
	CHECK_EQ(fault(mm, anon, FAULT_FLAG_WRITE | H), 0);   /* writable already: spurious */
	CHECK_EQ(fault(mm, shared, H), 0);                    /* mapped file page */
	CHECK_EQ(fault(mm, priv + 2 * PS, FAULT_FLAG_WRITE | H), 0);
	CHECK_EQ(sstats(sys).free_frames, free0);
	CHECK(!PageLocked(cache));
	CHECK_EQ(page_count(cache), 2);                       /* the cache's and the pte's */
	CHECK_EQ(fault(mm, shared, FAULT_FLAG_WRITE | H), 0); /* read-only pte: dirtied, not replaced */
	CHECK(page_at(mm, shared) == cache && PageDirty(cache) && pte_write(pte_at(mm, shared)));
	CHECK_EQ(page_count(cache), 2);

	/* a wrong hint past EOF still answers -EIO, a wrong one with no vma -EFAULT */
	CHECK_EQ(umm_object_truncate(obj, PS), 0);             /* frees the dropped cache pages */
	free0 = sstats(sys).free_frames;
	CHECK_EQ(fault(mm, shared + 2 * PS, H), -EIO);
	CHECK_EQ(fault(mm, priv + 3 * PS, FAULT_FLAG_WRITE | H), -EIO);
	CHECK_EQ(fault(mm, 0x10000, H), -EFAULT);
	CHECK_EQ(sstats(sys).free_frames, free0);

	umm_mm_destroy(mm);
	umm_object_put(obj);
	close(fd);
	finish(sys, NULL);
}

static void test_concurrent_faults(void)
{
	struct umm_system *sys = new_system();
	struct umm_mm *mm = new_mm(sys);
	uintptr_t a = map(mm, TPAGES * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	int fd;
	struct umm_object *obj = file_object(sys, TPAGES * PS, &fd);
	uintptr_t f = map(mm, TPAGES * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, obj, 0);
	pthread_t th[2 * NTHREADS];
	struct thread_arg args[2 * NTHREADS];

	for (int i = 0; i < 2 * NTHREADS; i++) {
		args[i] = (struct thread_arg){ mm, i < NTHREADS ? a : f, i % NTHREADS, 0 };
		REQUIRE(pthread_create(&th[i], NULL, race_writer, &args[i]) == 0);
	}
	for (int i = 0; i < 2 * NTHREADS; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ(args[i].errors, 0);
	}
	/* every page ended up private, once, with every thread's byte */
	CHECK_EQ(mstats(mm).rss_anon, 2 * TPAGES);
	CHECK_EQ(mstats(mm).rss_file, 0);
	CHECK_EQ(sstats(sys).anon_pages, 2 * TPAGES);
	for (int i = 0; i < TPAGES; i++) {
		unsigned char buf[NTHREADS + 1];

		CHECK_EQ(vm_access(mm, a + (uintptr_t)i * PS, buf, sizeof(buf), false), 0);
		for (int t = 0; t < NTHREADS; t++)
			CHECK_EQ(buf[t], t + 1);
		CHECK_EQ(buf[NTHREADS], 0);
		CHECK_EQ(vm_access(mm, f + (uintptr_t)i * PS, buf, sizeof(buf), false), 0);
		for (int t = 0; t < NTHREADS; t++)
			CHECK_EQ(buf[t], t + 1);
		CHECK_EQ(buf[NTHREADS], pattern((size_t)i * PS + NTHREADS));
	}
	CHECK_EQ(umm_mm_check(mm), 0);
	umm_mm_destroy(mm);
	umm_object_put(obj);
	close(fd);
	finish(sys, NULL);
}

int main(void)
{
	RUN(test_anon_zero_page_then_write);
	RUN(test_efault);
	RUN(test_follow_pte_access);
	RUN(test_file_private_cow);
	RUN(test_shared_write);
	RUN(test_shmem_counts);
	RUN(test_eio);
	RUN(test_enomem);
	RUN(test_minor_major);
	RUN(test_fork_cow_and_reuse);
	RUN(test_truncate_unmaps);
	RUN(test_fork_enomem);
	RUN(test_tlb_shootdown);
	RUN(test_page_mkclean);
	RUN(test_pte_none_hint);
	RUN(test_concurrent_faults);
	return test_summary("test_fault");
}
