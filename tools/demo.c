/* SPDX-License-Identifier: MIT */
/*
 * demo.c - `usermm demo` (what `make demo` runs): a database's story told
 * through the public API, one section at a time, each with a short
 * narrative, the counters that prove the step, and [ok] / [UNEXPECTED]
 * lines for what must hold.
 *
 * The story: a data file mapped shared and private, demand paging,
 * copy-on-write, writeback to the file, anonymous memory, fork, the
 * signal-style errors, prefaulting (MAP_POPULATE, umm_prepage), a
 * nonlinear window (umm_remap_file_pages), then the capabilities that
 * other parts of the library bring (reclaim and swap, mlock, MMU
 * notifiers, the host MMU).
 *
 * Adding a section: write `static int demo_NAME(struct demo *d)` (print
 * what it shows, call expect() for what must hold, return 0; or return
 * DEMO_SKIP, having printed nothing, when a probe finds the capability
 * missing from this build) and put one line in `sections[]` below, before "the address
 * space now".  A section whose capability is not in the build yet has
 * `run` NULL and says so in one line.  Sections share the system, the
 * data file and the address spaces in struct demo; a section that makes
 * mappings or objects of its own removes them before it returns.
 *
 * Uses only the public API.  Single-threaded; no locks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <usermm/usermm.h>
#include "demo.h"

#define PAGE UMM_PAGE_SIZE
#define DEMO_SKIP 1

struct demo {
	struct umm_system *sys;
	struct umm_object *file;
	struct umm_mm *mm, *child;
	char path[32];
	uintptr_t shared, priv, anon, shanon;
	int failures;
};

#define TRY(call) do { int __e = (call); if (__e < 0) { \
	fprintf(stderr, "demo: %s failed: %s\n", #call, umm_strerror(__e)); exit(1); } } while (0)

static void expect(struct demo *d, int cond, const char *what)
{
	printf("  [%s] %s\n", cond ? "ok" : "UNEXPECTED", what);
	if (!cond)
		d->failures++;
}

static void show_counters(const char *who, struct umm_mm *mm)
{
	struct umm_mm_stats st;

	umm_mm_stats(mm, &st);
	printf("  %s: %lu VMAs, %lu pages mapped, rss anon %lu file %lu shmem %lu, "
	       "faults minor %lu major %lu cow %lu, %lu page-table pages\n",
	       who, st.nr_vmas, st.total_vm, st.rss_anon, st.rss_file, st.rss_shmem,
	       st.minor_faults, st.major_faults, st.cow_faults, st.pgtable_pages);
}

static void show_system(struct umm_system *sys)
{
	struct umm_sys_stats st;

	umm_system_stats(sys, &st);
	printf("  system: %lu frames, %lu free, %lu page-cache, %lu anon, %lu page-table, "
	       "%lu address spaces, %lu objects\n", st.total_frames, st.free_frames,
	       st.pagecache_pages, st.anon_pages, st.pgtable_pages, st.nr_mms, st.nr_objects);
}

/* make_file - a temp file of `size` bytes, page i starting "file page i: original text". */
static int make_file(char *path, size_t size)
{
	int fd = mkstemp(path);
	char line[64];

	if (fd < 0) { perror("mkstemp"); exit(1); }
	for (size_t off = 0; off < size; off += PAGE) {
		memset(line, 0, sizeof(line));
		snprintf(line, sizeof(line), "file page %zu: original text", off / PAGE);
		if (pwrite(fd, line, sizeof(line), (off_t)off) != (ssize_t)sizeof(line)) { perror("pwrite"); exit(1); }
	}
	if (ftruncate(fd, (off_t)size) < 0) { perror("ftruncate"); exit(1); }
	return fd;
}

/* mm_stat - one mm's counters. */
static struct umm_mm_stats mm_stat(struct umm_mm *mm)
{
	struct umm_mm_stats st;

	umm_mm_stats(mm, &st);
	return st;
}

/* ---- the sections ---- */

static int demo_map(struct demo *d)
{
	TRY(umm_mmap(d->mm, 0, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, d->file, 0, &d->shared));
	TRY(umm_mmap(d->mm, 0, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, d->file, 0, &d->priv));
	TRY(umm_mmap(d->mm, 0, 256 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		     NULL, 0, &d->anon));
	TRY(umm_mmap(d->mm, 0, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		     NULL, 0, &d->shanon));
	umm_mm_dump_maps(d->mm, stdout);
	return 0;
}

static int demo_read(struct demo *d)
{
	char buf[64];

	TRY(umm_read(d->mm, d->shared, buf, sizeof(buf)));
	printf("  shared  @%#lx: \"%s\"\n", (unsigned long)d->shared, buf);
	TRY(umm_read(d->mm, d->priv + PAGE, buf, sizeof(buf)));
	printf("  private @%#lx: \"%s\"\n", (unsigned long)(d->priv + PAGE), buf);
	return 0;
}

static int demo_cow(struct demo *d)
{
	char buf[64];

	TRY(umm_write(d->mm, d->priv, "private copy", 13));
	TRY(umm_read(d->mm, d->shared, buf, sizeof(buf)));
	expect(d, strcmp(buf, "file page 0: original text") == 0, "shared mapping still shows the file");
	return 0;
}

static int demo_writeback(struct demo *d)
{
	char disk[64];
	int fd;

	TRY(umm_write(d->mm, d->shared + PAGE, "written through usermm", 23));
	TRY(umm_object_sync(d->file, 0, 0));
	fd = open(d->path, O_RDONLY);
	if (fd < 0 || pread(fd, disk, sizeof(disk), PAGE) != (ssize_t)sizeof(disk)) { perror(d->path); exit(1); }
	close(fd);
	printf("  on disk at offset 4096: \"%s\"\n", disk);
	expect(d, strcmp(disk, "written through usermm") == 0, "pwrite of the dirty page reached the file");
	return 0;
}

static int demo_anon(struct demo *d)
{
	char buf[8];

	TRY(umm_read(d->mm, d->anon + 10 * PAGE, buf, 8));
	TRY(umm_write(d->mm, d->anon, "parent data", 12));
	TRY(umm_write(d->mm, d->shanon, "shared anon", 12));
	show_counters("parent", d->mm);
	return 0;
}

static int demo_fork(struct demo *d)
{
	char buf[64];

	TRY(umm_fork(d->mm, &d->child));
	TRY(umm_write(d->mm, d->anon, "parent changed", 15));
	TRY(umm_read(d->child, d->anon, buf, sizeof(buf)));
	printf("  child reads its anonymous page: \"%s\"\n", buf);
	expect(d, strcmp(buf, "parent data") == 0, "child kept the pre-fork contents");
	TRY(umm_write(d->child, d->shanon, "from the child", 15));
	TRY(umm_read(d->mm, d->shanon, buf, sizeof(buf)));
	printf("  parent reads the shared anonymous page: \"%s\"\n", buf);
	expect(d, strcmp(buf, "from the child") == 0, "shared anonymous memory is shared across fork");
	show_counters("parent", d->mm);
	show_counters("child ", d->child);
	return 0;
}

static int demo_errors(struct demo *d)
{
	char buf[1];
	int err;

	TRY(umm_mprotect(d->mm, d->anon, PAGE, PROT_READ));
	err = umm_write(d->mm, d->anon, "x", 1);
	printf("  write to a read-only page: %s\n", umm_strerror(err));
	expect(d, err == -EFAULT, "write to PROT_READ page is -EFAULT (SIGSEGV)");
	TRY(umm_munmap(d->mm, d->anon + PAGE, PAGE));
	err = umm_read(d->mm, d->anon + PAGE, buf, 1);
	expect(d, err == -EFAULT, "read of an unmapped hole is -EFAULT");
	TRY(umm_object_truncate(d->file, PAGE));
	err = umm_read(d->mm, d->shared + 2 * PAGE, buf, 1);
	printf("  read past the end of a truncated file: %s\n", umm_strerror(err));
	expect(d, err == -EIO, "access past end of file is -EIO (SIGBUS)");
	return 0;
}

/*
 * demo_prefault - a 64-page table populated at mmap time, then scattered
 * rows brought in with one umm_prepage call: the later reads take no
 * fault, which the fault counters show.
 */
static int demo_prefault(struct demo *d)
{
	enum { ROWS = 64 };
	struct umm_prepage_tuple v[4];
	struct umm_object *table;
	struct umm_mm_stats a, b;
	uintptr_t pop, lazy;
	char buf[8];

	TRY(umm_object_create_shmem(d->sys, ROWS * PAGE, &table));
	a = mm_stat(d->mm);
	TRY(umm_mmap(d->mm, 0, ROWS * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		     table, 0, &pop));
	b = mm_stat(d->mm);
	printf("  MAP_POPULATE of a %d-page table: rss shmem %lu -> %lu\n", ROWS, a.rss_shmem,
	       b.rss_shmem);
	expect(d, b.rss_shmem - a.rss_shmem == ROWS, "every page is mapped when umm_mmap returns");
	a = mm_stat(d->mm);
	for (int i = 0; i < ROWS; i++)
		TRY(umm_read(d->mm, pop + (uintptr_t)i * PAGE, buf, 1));
	b = mm_stat(d->mm);
	printf("  reading all %d pages: %lu faults\n", ROWS, b.minor_faults - a.minor_faults);
	expect(d, b.minor_faults == a.minor_faults, "no fault on a populated mapping");

	TRY(umm_mmap(d->mm, 0, ROWS * PAGE, PROT_READ, MAP_SHARED, table, 0, &lazy));
	for (int i = 0; i < 4; i++)
		v[i] = (struct umm_prepage_tuple){ lazy + (uintptr_t)(i * 16) * PAGE, 2 * PAGE };
	a = mm_stat(d->mm);
	TRY(umm_prepage(d->mm, v, 4, 0));
	b = mm_stat(d->mm);
	printf("  umm_prepage of 4 scattered 2-page extents of a second mapping: faults %lu, "
	       "rss shmem +%lu\n", b.minor_faults - a.minor_faults, b.rss_shmem - a.rss_shmem);
	expect(d, b.rss_shmem - a.rss_shmem == 8, "the 8 pages asked for are mapped");
	a = mm_stat(d->mm);
	for (int i = 0; i < 4; i++)
		TRY(umm_read(d->mm, v[i].addr + PAGE, buf, 1));
	TRY(umm_read(d->mm, lazy + 5 * PAGE, buf, 1));
	b = mm_stat(d->mm);
	printf("  reads of 4 prepaged pages and 1 other: %lu fault%s\n",
	       b.minor_faults - a.minor_faults, b.minor_faults - a.minor_faults == 1 ? "" : "s");
	expect(d, b.minor_faults - a.minor_faults == 1, "only the page not prepaged faults");
	TRY(umm_munmap(d->mm, pop, ROWS * PAGE));
	TRY(umm_munmap(d->mm, lazy, ROWS * PAGE));
	umm_object_put(table);
	return 0;
}

/*
 * demo_remap - a 4-page window over a 64-page object shows object pages
 * in any order with umm_remap_file_pages; it stays one VMA.
 */
static int demo_remap(struct demo *d)
{
	enum { OBJ = 64, WIN = 4 };
	struct umm_object *obj;
	struct umm_mm_stats a, b;
	uintptr_t lin, win;
	char buf[16];
	bool ok = true;

	TRY(umm_object_create_shmem(d->sys, OBJ * PAGE, &obj));
	TRY(umm_mmap(d->mm, 0, OBJ * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &lin));
	for (int i = 0; i < OBJ; i++) {
		snprintf(buf, sizeof(buf), "row %d", i);
		TRY(umm_write(d->mm, lin + (uintptr_t)i * PAGE, buf, sizeof(buf)));
	}
	TRY(umm_mmap(d->mm, 0, WIN * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &win));
	a = mm_stat(d->mm);
	for (int i = 0; i < WIN; i++)
		TRY(umm_remap_file_pages(d->mm, win + (uintptr_t)i * PAGE, PAGE, 0,
					 (uint64_t)(OBJ - 1 - 10 * i), 0));
	b = mm_stat(d->mm);
	printf("  window pages 0-3 now show object rows");
	for (int i = 0; i < WIN; i++) {
		char want[16];

		TRY(umm_read(d->mm, win + (uintptr_t)i * PAGE, buf, sizeof(buf)));
		snprintf(want, sizeof(want), "row %d", OBJ - 1 - 10 * i);
		ok &= !strcmp(buf, want);
		printf(" %s", buf + 4);
	}
	printf("\n  VMAs before and after the 4 remaps: %lu, %lu\n", a.nr_vmas, b.nr_vmas);
	expect(d, ok, "each window page shows the object page it was remapped to");
	expect(d, a.nr_vmas == b.nr_vmas, "the window is still one VMA");
	TRY(umm_write(d->mm, win, "changed", 8));
	TRY(umm_read(d->mm, lin + (OBJ - 1) * PAGE, buf, sizeof(buf)));
	expect(d, !strcmp(buf, "changed"), "a write through the window reaches the object");
	TRY(umm_munmap(d->mm, win, WIN * PAGE));
	TRY(umm_munmap(d->mm, lin, OBJ * PAGE));
	umm_object_put(obj);
	return 0;
}

/*
 * demo_reclaim - a second system with 4 MiB of physical memory and a
 * 16 MiB swap file: 12 MiB of anonymous memory written with a pattern
 * goes out to swap as kswapd and direct reclaim make room, and every
 * page reads back intact, swapped in on fault.
 */
static int demo_reclaim(struct demo *d)
{
	enum { PAGES = 3 * 1024 };   /* 12 MiB: three times physical memory */
	char path[] = "/tmp/usermm-demo-swap-XXXXXX";
	struct umm_config cfg = { .phys_bytes = 4UL << 20, .swap_path = path, .swap_bytes = 16UL << 20 };
	struct umm_sys_stats a, b;
	struct umm_system *sys;
	struct umm_mm *mm;
	uintptr_t addr;
	unsigned bad = 0;
	int fd = mkstemp(path), err;

	if (fd < 0) { perror("mkstemp"); exit(1); }
	close(fd);
	err = umm_system_create(&cfg, &sys);
	unlink(path);       /* the system keeps its descriptor */
	if (err == -EOPNOTSUPP)
		return DEMO_SKIP;
	TRY(err);
	TRY(umm_mm_create(sys, &mm));
	TRY(umm_mmap(mm, 0, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		     NULL, 0, &addr));
	for (unsigned i = 0; i < PAGES; i++) {
		uint64_t v = 0xfeed000000000000ULL | i;

		TRY(umm_write(mm, addr + (uintptr_t)i * PAGE, &v, sizeof(v)));
		TRY(umm_write(mm, addr + (uintptr_t)i * PAGE + PAGE - 8, &v, sizeof(v)));
	}
	TRY(umm_system_stats(sys, &a));
	printf("  wrote %u pages (12 MiB) into 4 MiB: %lu swapped out, %lu pages stolen by reclaim, "
	       "kswapd woken %lu times, %lu direct reclaims\n", (unsigned)PAGES, a.pswpout, a.pgsteal,
	       a.kswapd_wakeups, a.direct_reclaims);
	expect(d, a.pswpout > 0, "anonymous pages went to the swap file");
	for (unsigned i = 0; i < PAGES; i++) {
		uint64_t want = 0xfeed000000000000ULL | i, v1 = 0, v2 = 0;

		TRY(umm_read(mm, addr + (uintptr_t)i * PAGE, &v1, sizeof(v1)));
		TRY(umm_read(mm, addr + (uintptr_t)i * PAGE + PAGE - 8, &v2, sizeof(v2)));
		bad += v1 != want || v2 != want;
	}
	TRY(umm_system_stats(sys, &b));
	printf("  read every page back: %u wrong; %lu pages read from swap (read-ahead included), "
	       "%lu more swapped out to make room, %lu allocations out of memory\n", bad,
	       b.pswpin - a.pswpin, b.pswpout - a.pswpout, b.oom_events);
	expect(d, bad == 0, "every page holds what was written (nothing lost)");
	expect(d, b.pswpin > a.pswpin, "pages came back from swap on fault");
	umm_mm_destroy(mm);
	TRY(umm_system_destroy(sys));
	return 0;
}

/*
 * demo_mlock - lock the middle of a mapping: it is brought in at once,
 * becomes a VMA of its own, refuses MADV_DONTNEED, and merges back into
 * one VMA when unlocked.  (Its pages are marked unevictable, which
 * reclaim honours; this section does not run reclaim.)
 */
static int demo_mlock(struct demo *d)
{
	enum { PAGES = 64, LOCKED = 32 };
	struct umm_mm_stats a, b, c;
	uintptr_t m;
	int err;

	TRY(umm_mmap(d->mm, 0, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		     NULL, 0, &m));
	a = mm_stat(d->mm);
	TRY(umm_mlock(d->mm, m + 16 * PAGE, LOCKED * PAGE));
	b = mm_stat(d->mm);
	printf("  umm_mlock of %d of its %d pages: rss anon %lu -> %lu, locked pages %lu -> %lu, "
	       "VMAs %lu -> %lu\n", LOCKED, PAGES, a.rss_anon, b.rss_anon, a.locked_vm, b.locked_vm,
	       a.nr_vmas, b.nr_vmas);
	expect(d, b.rss_anon - a.rss_anon == LOCKED, "the locked pages are brought in at once");
	expect(d, b.locked_vm - a.locked_vm == LOCKED, "locked_vm counts them");
	expect(d, b.nr_vmas == a.nr_vmas + 2, "the locked middle is a VMA of its own");
	err = umm_madvise(d->mm, m + 16 * PAGE, PAGE, MADV_DONTNEED);
	printf("  MADV_DONTNEED on a locked page: %s\n", err ? umm_strerror(err) : "done");
	expect(d, err == -EINVAL, "a locked page is not dropped");
	TRY(umm_munlock(d->mm, m, PAGES * PAGE));
	c = mm_stat(d->mm);
	printf("  umm_munlock of the whole mapping: locked pages %lu, VMAs %lu\n", c.locked_vm,
	       c.nr_vmas);
	expect(d, c.locked_vm == a.locked_vm && c.nr_vmas == a.nr_vmas,
	       "unlocked, the mapping is one VMA again");
	TRY(umm_munmap(d->mm, m, PAGES * PAGE));
	return 0;
}

/* A one-page mirror: the translation a device would cache, dropped on invalidation. */
struct demo_mirror {
	struct umm_mmu_interval_notifier sub;   /* first: the callbacks get its address */
	void *frame;                            /* under sub's lock */
	int invalidations;
};

static void demo_mirror_invalidate(struct umm_mmu_interval_notifier *sub, const struct umm_mmu_range *r,
				   unsigned long cur_seq)
{
	struct demo_mirror *m = (struct demo_mirror *)sub;

	(void)r;
	umm_mmu_interval_set_seq(sub, cur_seq);
	m->frame = NULL;
	m->invalidations++;
}

static int demo_mirror_install(void *arg, uintptr_t addr, void *frame, int writable)
{
	(void)addr;
	(void)writable;
	((struct demo_mirror *)arg)->frame = frame;
	return 0;
}

static const struct umm_mmu_interval_notifier_ops demo_mirror_ops = {
	.invalidate = demo_mirror_invalidate,
};

/*
 * demo_notifiers - a device-style mirror of one page of the anonymous
 * mapping: it faults the page through umm_mirror_fault, writes through
 * its own pointer, the CPU reads the bytes; MADV_DONTNEED drops the
 * page and with it the mirror's translation.
 */
static int demo_notifiers(struct demo *d)
{
	struct demo_mirror m = { .frame = NULL };
	uintptr_t page = d->anon + 20 * PAGE;
	char buf[24] = "";

	TRY(umm_mmu_interval_notifier_insert(d->mm, page, PAGE, &demo_mirror_ops, &m.sub));
	TRY(umm_mirror_fault(&m.sub, page, 1, demo_mirror_install, &m));
	umm_mmu_interval_lock(&m.sub);
	if (m.frame)
		memcpy(m.frame, "written by the device", 22);
	umm_mmu_interval_unlock(&m.sub);
	TRY(umm_read(d->mm, page, buf, 22));
	printf("  the device wrote through its own translation; the CPU reads \"%s\"\n", buf);
	expect(d, !strcmp(buf, "written by the device"), "the CPU sees the device's bytes");
	TRY(umm_madvise(d->mm, page, PAGE, MADV_DONTNEED));
	printf("  MADV_DONTNEED: %d invalidation, the device's translation is %s\n",
	       m.invalidations, m.frame ? "still there" : "gone");
	expect(d, m.invalidations == 1 && !m.frame, "MADV_DONTNEED dropped the device's translation");
	TRY(umm_mirror_fault(&m.sub, page, 0, demo_mirror_install, &m));
	umm_mmu_interval_lock(&m.sub);
	memcpy(buf, m.frame, 8);
	umm_mmu_interval_unlock(&m.sub);
	expect(d, !memcmp(buf, "\0\0\0\0\0\0\0\0", 8), "faulted again, the device sees the fresh zero page");
	umm_mmu_interval_notifier_remove(&m.sub);
	return 0;
}

/*
 * demo_host - the host MMU: a window of the process shows the shared file
 * mapping; plain loads and stores fault into usermm, the store dirties
 * the page and reaches the file.
 */
static int demo_host(struct demo *d)
{
	struct umm_host_stats st;
	char *p, buf[16] = "", disk[16] = "";
	int fd;

	TRY(umm_host_attach(d->mm, d->shared, PAGE, 0, (void **)&p));
	printf("  window at %p shows usermm %#lx (the shared file mapping)\n", (void *)p,
	       (unsigned long)d->shared);
	printf("  a plain load through the pointer: \"%.11s\"\n", p);
	expect(d, !memcmp(p, "file page 0", 11), "the pointer reads the file's bytes");
	memcpy(p + 40, "via pointer", 12);
	TRY(umm_read(d->mm, d->shared + 40, buf, 12));
	expect(d, !strcmp(buf, "via pointer"), "umm_read sees what the pointer stored");
	TRY(umm_msync(d->mm, d->shared, PAGE, MS_SYNC));
	fd = open(d->path, O_RDONLY);
	if (fd < 0 || pread(fd, disk, 12, 40) != 12) { perror("pread"); exit(1); }
	close(fd);
	expect(d, !strcmp(disk, "via pointer"), "the store reached the file on disk (msync)");
	umm_host_get_stats(&st);
	printf("  host faults %lu (%lu writes), pages mapped %lu in %lu mmap calls\n",
	       st.faults, st.write_faults, st.pages_mapped, st.runs_mapped);
	TRY(umm_host_detach(d->mm, p));
	return 0;
}

static int demo_final(struct demo *d)
{
	umm_mm_dump_maps(d->mm, stdout);
	show_system(d->sys);
	return 0;
}

struct demo_section {
	const char *title;
	int (*run)(struct demo *d);     /* NULL: not in this build */
};

static const struct demo_section sections[] = {
	{ "map the file shared and private, 1 MiB of private and 64 KiB of shared anonymous memory",
	  demo_map },
	{ "read the file through both mappings (demand paging from the page cache)", demo_read },
	{ "write through the private mapping: copy-on-write, the file does not change", demo_cow },
	{ "write through the shared mapping, sync: the bytes reach the file on disk", demo_writeback },
	{ "anonymous memory: reads map the zero page, writes allocate frames", demo_anon },
	{ "fork: private pages become copy-on-write, shared ones stay shared", demo_fork },
	{ "protection and unmapping have the signals' meaning", demo_errors },
	{ "prefaulting: MAP_POPULATE maps a whole table at once, umm_prepage brings in scattered rows",
	  demo_prefault },
	{ "a nonlinear window: umm_remap_file_pages shows any object page anywhere in one VMA",
	  demo_remap },
	{ "reclaim and swap: more data than physical memory", demo_reclaim },
	{ "mlock: a locked range is brought in, kept apart, and left alone", demo_mlock },
	{ "MMU notifiers: a device mirror kept in step with the page tables", demo_notifiers },
	{ "the host MMU: usermm pages mapped by the real MMU", demo_host },
	{ "the address space now", demo_final },
};

/**
 * demo_main - `usermm demo`: runs every section in order.  Returns 0 when
 * every expectation held, 1 otherwise (a failed call exits 1 at once).
 */
int demo_main(int argc, char **argv)
{
	/* the memfd arena: demo_host attaches a host window */
	struct umm_config cfg = { .phys_bytes = 64UL << 20, .debug_checks = 1,
				  .arena = UMM_ARENA_MEMFD };
	struct demo d = { .path = "/tmp/usermm-demo-XXXXXX" };
	int fd, n = 0;

	(void)argc;
	(void)argv;
	printf("usermm demo: one system, one address space, a real file, a fork\n");
	TRY(umm_system_create(&cfg, &d.sys));
	fd = make_file(d.path, 4 * PAGE);
	TRY(umm_object_open_fd(d.sys, fd, &d.file));
	close(fd);
	TRY(umm_mm_create(d.sys, &d.mm));
	printf("data file: %s\n", d.path);

	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		const struct demo_section *s = &sections[i];

		printf("\n%d. %s\n", ++n, s->title);
		if (!s->run || s->run(&d) == DEMO_SKIP)
			printf("  skipped: not in this build\n");
	}

	if (d.child)
		umm_mm_destroy(d.child);
	umm_mm_destroy(d.mm);
	umm_object_put(d.file);
	unlink(d.path);
	printf("\nafter exit of both address spaces:\n");
	show_system(d.sys);
	umm_system_destroy(d.sys);
	printf("\ndemo %s\n", d.failures ? "FAILED" : "finished: every expectation held");
	return d.failures ? 1 : 0;
}
