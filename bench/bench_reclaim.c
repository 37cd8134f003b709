/* SPDX-License-Identifier: MIT */
/*
 * bench_reclaim.c - page reclaim: how fast usermm evicts pages, and a
 * read workload four times larger than its physical memory, beside the
 * kernel doing the same.
 *
 * Throughput (ns per page, pages/s on the comment line):
 *   pageout clean file, mapped    MADV_PAGEOUT of 64 MiB of clean file
 *                                 pages mapped by one mapping: unmap
 *                                 through the reverse map, drop from the
 *                                 cache.  Kernel: MADV_PAGEOUT of the same
 *                                 file mapped MAP_SHARED (mincore checks
 *                                 that it evicted them).
 *   lru reclaim clean file, unmapped  direct reclaim (try_to_free_pages)
 *                                 of 64 MiB of clean cached pages no
 *                                 mapping maps: the LRU scan, isolation
 *                                 and eviction alone.  Kernel: nearest
 *                                 job is posix_fadvise(DONTNEED) on the
 *                                 cached file (invalidation, not LRU
 *                                 reclaim: ratio n/a).
 *   pageout dirty file, mapped    MADV_PAGEOUT of 64 MiB of written pages:
 *                                 unmap, write back (one pwritev per run
 *                                 of consecutive pages of a reclaim batch,
 *                                 up to 64 pages), drop.  No kernel figure: the kernel's
 *                                 MADV_PAGEOUT leaves dirty file pages to
 *                                 writeback.
 *   pageout anonymous to swap file  MADV_PAGEOUT of 64 MiB of written
 *                                 anonymous pages: a slot each (clustered),
 *                                 swap ptes, one write per run of
 *                                 consecutive slots, free.
 *                                 No kernel figure: the kernel would need a
 *                                 swap device, which this host lacks.
 *
 * Anonymous memory twice usermm's (64 MiB system, 128 MiB written, then
 * read back, with a swap file): ns per page; usermm only (no host swap).
 *
 * Larger than memory: 4 KiB reads at sequential, then random offsets of a
 * file 4x usermm's physical memory (64 MiB system, 256 MiB file), through
 * a mapping (umm_read of 4 KiB).  Kernel: the same reads (memcpy from a
 * MAP_SHARED mapping of the file, readahead hint to match) in a child
 * process inside a memory cgroup limited to the same 64 MiB when this
 * machine lets us create one under our own cgroup (v1
 * memory.limit_in_bytes or v2 memory.max), the file dropped from the
 * host cache first; otherwise (said on a comment line) pread into a
 * 64 MiB pool of 4 KiB buffers with LRU replacement in this process.
 * Both sides start cold (the file dropped from the host cache).  The
 * time is for the whole pass (ns per read on the result line); the
 * caveat gives major faults (faults that waited for a read: usermm's,
 * and the kernel child's; readahead reads more pages than that) and
 * usermm's evictions.  usermm reads its misses with pread, which
 * fills the host page cache outside usermm's 64 MiB: a page usermm
 * evicted and reads again may come from there, where the kernel in its
 * cgroup goes to the device again.
 *
 * --quick: 2 MiB systems and files of a few MiB, one repetition (the
 * figures mean nothing).  Otherwise medians of 3 runs.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "bench.h"
#include "vmscan.h"

#define MAX_REPS 3
#define BENCH_REPS BENCH_SIZE(MAX_REPS, 1)
#define KPAGE 4096UL

/* the memory size everything is measured against: 64 MiB, 2 MiB under --quick */
#define MEM_BYTES BENCH_SIZE(64UL << 20, 2UL << 20)

/* ---- throughput ---- */

struct umm_setup {
	struct umm_system *sys;
	struct umm_mm *mm;
	struct umm_object *obj;
	uintptr_t addr;
};

static int umm_setup(struct umm_setup *u, size_t phys, int fd, size_t len, int prot)
{
	struct umm_config cfg = { .phys_bytes = phys, .collapse_ms = -1 };
	int err;

	memset(u, 0, sizeof(*u));
	err = umm_system_create(&cfg, &u->sys);
	if (!err)
		err = umm_object_open_fd(u->sys, fd, &u->obj);
	if (!err)
		err = umm_mm_create(u->sys, &u->mm);
	if (!err)
		err = umm_mmap(u->mm, 0, len, prot, MAP_SHARED, u->obj, 0, &u->addr);
	if (!err)
		vmscan_set_kswapd(u->sys, false);   /* nothing but the measured reclaim */
	return err;
}

static void umm_teardown(struct umm_setup *u)
{
	if (u->mm)
		umm_mm_destroy(u->mm);
	if (u->obj)
		umm_object_put(u->obj);
	if (u->sys)
		umm_system_destroy(u->sys);
}

/* touch - read (or write) one byte of every page of [addr, addr+len). */
static int touch(struct umm_mm *mm, uintptr_t addr, size_t len, bool write)
{
	for (size_t off = 0; off < len; off += KPAGE) {
		char c = (char)off;
		int err = write ? umm_write(mm, addr + off, &c, 1) : umm_read(mm, addr + off, &c, 1);

		if (err)
			return err;
	}
	return 0;
}

/* umm_pageout_ns - ns per page of one MADV_PAGEOUT of the resident (dirty?) range, or -1. */
static double umm_pageout_ns(int fd, size_t len, bool dirty, unsigned long *evicted)
{
	struct umm_setup u;
	struct umm_sys_stats st0, st;
	double ns = -1;
	uint64_t t;
	int err = umm_setup(&u, 2 * len, fd, len, PROT_READ | PROT_WRITE);

	if (!err)
		err = touch(u.mm, u.addr, len, dirty);
	if (!err) {
		umm_system_stats(u.sys, &st0);
		t = now_ns();
		err = umm_madvise(u.mm, u.addr, len, MADV_PAGEOUT);
		ns = (double)(now_ns() - t) / (double)(len / KPAGE);
		umm_system_stats(u.sys, &st);
		*evicted = st.pgsteal - st0.pgsteal;
	}
	if (err)
		skipped("pageout", "umm_madvise", err);
	umm_teardown(&u);
	return err ? -1 : ns;
}

/* swap_sys_create - a system of phys bytes with an unlinked swap file of swap bytes. */
static int swap_sys_create(size_t phys, size_t swap, struct umm_system **sys)
{
	const char *dir = getenv("TMPDIR");
	struct umm_config cfg = { .phys_bytes = phys, .swap_bytes = swap, .collapse_ms = -1 };
	char path[4096];
	int fd, err;

	snprintf(path, sizeof(path), "%s/umm_reclaim_swap.XXXXXX", dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	close(fd);
	unlink(path);
	cfg.swap_path = path;
	err = umm_system_create(&cfg, sys);
	unlink(path);
	return err;
}

/* umm_anon_pageout_ns - ns per page of MADV_PAGEOUT of written anonymous pages (to swap), or -1. */
static double umm_anon_pageout_ns(size_t len, unsigned long *evicted, unsigned long *written)
{
	struct umm_system *sys = NULL;
	struct umm_mm *mm = NULL;
	struct umm_sys_stats st0, st;
	double ns = -1;
	uintptr_t a;
	uint64_t t;
	int err = swap_sys_create(2 * len, 2 * len, &sys);

	if (!err)
		err = umm_mm_create(sys, &mm);
	if (!err)
		err = umm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a);
	if (!err) {
		vmscan_set_kswapd(sys, false);
		err = touch(mm, a, len, true);
	}
	if (!err) {
		umm_system_stats(sys, &st0);
		t = now_ns();
		err = umm_madvise(mm, a, len, MADV_PAGEOUT);
		ns = (double)(now_ns() - t) / (double)(len / KPAGE);
		umm_system_stats(sys, &st);
		*evicted = st.pgsteal - st0.pgsteal;
		*written = st.pswpout - st0.pswpout;
	}
	if (err)
		skipped("anon pageout", "setup", err);
	if (mm)
		umm_mm_destroy(mm);
	if (sys)
		umm_system_destroy(sys);
	return err ? -1 : ns;
}

/* umm_lru_ns - ns per page of try_to_free_pages over unmapped clean cached pages, or -1. */
static double umm_lru_ns(int fd, size_t len, unsigned long *evicted)
{
	struct umm_setup u;
	double ns = -1;
	uint64_t t;
	int err = umm_setup(&u, 2 * len, fd, len, PROT_READ);

	if (!err)
		err = touch(u.mm, u.addr, len, false);
	if (!err)
		err = umm_munmap(u.mm, u.addr, len);     /* the pages stay cached, unmapped */
	if (!err) {
		t = now_ns();
		*evicted = try_to_free_pages(u.sys, len / KPAGE);
		ns = (double)(now_ns() - t) / (double)(len / KPAGE);
	}
	if (err)
		skipped("lru reclaim", "setup", err);
	umm_teardown(&u);
	return err ? -1 : ns;
}

/* resident_pages - host mincore count over a mapping. */
static unsigned long resident_pages(void *p, size_t len)
{
	unsigned char *vec = malloc(len / KPAGE);
	unsigned long n = 0;

	if (!vec || mincore(p, len, vec)) {
		free(vec);
		return 0;
	}
	for (size_t i = 0; i < len / KPAGE; i++)
		n += vec[i] & 1;
	free(vec);
	return n;
}

/* kernel_pageout_ns - the kernel's MADV_PAGEOUT of the file's clean mapped pages, or -1. */
static double kernel_pageout_ns(int fd, size_t len, unsigned long *evicted)
{
	char *p = mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
	unsigned long before;
	double ns;
	uint64_t t;

	if (p == MAP_FAILED)
		return -1;
	before = resident_pages(p, len);
	t = now_ns();
	if (madvise(p, len, MADV_PAGEOUT)) {
		munmap(p, len);
		return -1;
	}
	ns = (double)(now_ns() - t) / (double)(len / KPAGE);
	*evicted = before - resident_pages(p, len);
	munmap(p, len);
	return ns;
}

/* kernel_fadvise_ns - posix_fadvise(DONTNEED) of the cached, unmapped file, or -1. */
static double kernel_fadvise_ns(int fd, size_t len)
{
	char *buf = malloc(1 << 20);
	uint64_t t;
	double ns;

	if (!buf)
		return -1;
	for (size_t off = 0; off < len; off += 1 << 20)      /* cache it */
		if (pread(fd, buf, 1 << 20, (off_t)off) < 0)
			break;
	free(buf);
	t = now_ns();
	if (posix_fadvise(fd, 0, (off_t)len, POSIX_FADV_DONTNEED))
		return -1;
	ns = (double)(now_ns() - t) / (double)(len / KPAGE);
	return ns;
}

static void bench_throughput(void)
{
	size_t len = MEM_BYTES;
	int fd = make_temp_file("reclaim", len / KPAGE, KPAGE);
	double u[MAX_REPS], k[MAX_REPS], um, km;
	unsigned long ev = 0, kev = 0;
	char caveat[256];
	int i;

	if (fd < 0) {
		skipped("reclaim throughput", "make_temp_file", fd);
		return;
	}
	printf("# %zu MiB of 4 KiB pages per measurement; kswapd off during usermm's\n", len >> 20);

	for (i = 0; i < BENCH_REPS; i++) {
		u[i] = umm_pageout_ns(fd, len, false, &ev);
		k[i] = kernel_pageout_ns(fd, len, &kev);
	}
	um = median(u, BENCH_REPS);
	km = median(k, BENCH_REPS);
	if (um > 0) {
		snprintf(caveat, sizeof(caveat), "same job: unmap + drop clean mapped file pages; "
			 "evicted: usermm %lu, kernel %lu of %zu pages", ev, kev, len / KPAGE);
		bench_report_caveat("pageout clean file, mapped (ns/page)", um, km > 0 ? km : 0, caveat);
		printf("# pageout clean file: usermm %.0f pages/s, kernel %.0f pages/s\n",
		       1e9 / um, km > 0 ? 1e9 / km : 0);
	}

	for (i = 0; i < BENCH_REPS; i++) {
		u[i] = umm_lru_ns(fd, len, &ev);
		k[i] = kernel_fadvise_ns(fd, len);
	}
	um = median(u, BENCH_REPS);
	km = median(k, BENCH_REPS);
	if (um > 0) {
		snprintf(caveat, sizeof(caveat), "different work: usermm scans its LRU and evicts (%lu pages); "
			 "kernel: posix_fadvise(DONTNEED) invalidates the file's cache", ev);
		bench_report_different("lru reclaim clean file, unmapped (ns/page)", um, km > 0 ? km : 0, caveat);
		printf("# lru reclaim clean file: usermm %.0f pages/s\n", 1e9 / um);
	}

	for (i = 0; i < BENCH_REPS; i++)
		u[i] = umm_pageout_ns(fd, len, true, &ev);
	um = median(u, BENCH_REPS);
	if (um > 0) {
		bench_report("pageout dirty file, mapped (ns/page)", um, 0);
		snprintf(caveat, sizeof(caveat), "unmap + a pwritev per run of up to 64 pages + drop (%lu pages); no kernel figure: "
			 "its MADV_PAGEOUT leaves dirty file pages to writeback", ev);
		bench_caveat(caveat);
		printf("# pageout dirty file: usermm %.0f pages/s\n", 1e9 / um);
	}
	for (i = 0; i < BENCH_REPS; i++)
		u[i] = umm_anon_pageout_ns(len, &ev, &kev);
	um = median(u, BENCH_REPS);
	if (um > 0) {
		bench_report("pageout anonymous to swap file (ns/page)", um, 0);
		snprintf(caveat, sizeof(caveat), "unmap to swap ptes + write to a swap file + free (%lu pages "
			 "evicted, %lu written); no kernel figure: the host has no swap device", ev, kev);
		bench_caveat(caveat);
		printf("# pageout anonymous: usermm %.0f pages/s\n", 1e9 / um);
	}
	close(fd);
}

/* ---- a file four times larger than memory ---- */

/* the offsets of one pass: sequential, or a fixed random permutation's prefix */
static void make_offsets(size_t *off, size_t n, size_t file_pages, bool random)
{
	uint64_t x = 0x9E3779B97F4A7C15ULL;

	for (size_t i = 0; i < n; i++) {
		if (random) {
			x ^= x >> 12;
			x ^= x << 25;
			x ^= x >> 27;
			off[i] = (size_t)((x * 2685821657736338717ULL) % file_pages) * KPAGE;
		} else {
			off[i] = (i % file_pages) * KPAGE;
		}
	}
}

/* umm_big_pass - ns for the reads, usermm; *majflt pages read in. */
static double umm_big_pass(int fd, size_t phys, size_t file_len, const size_t *off, size_t n,
			   bool random, unsigned long *majflt, unsigned long *evicted)
{
	struct umm_config cfg = { .phys_bytes = phys, .collapse_ms = -1 };
	struct umm_system *sys = NULL;
	struct umm_object *obj = NULL;
	struct umm_mm *mm = NULL;
	struct umm_mm_stats ms;
	struct umm_sys_stats st;
	char buf[KPAGE];
	uintptr_t a;
	uint64_t t;
	double ns = -1;
	int err;

	err = umm_system_create(&cfg, &sys);
	if (!err)
		err = umm_object_open_fd(sys, fd, &obj);
	if (!err)
		err = umm_mm_create(sys, &mm);
	if (!err)
		err = umm_mmap(mm, 0, file_len, PROT_READ, MAP_SHARED, obj, 0, &a);
	if (!err && random)
		err = umm_madvise(mm, a, file_len, MADV_RANDOM);
	posix_fadvise(fd, 0, (off_t)file_len, POSIX_FADV_DONTNEED);   /* cold, as the kernel's side */
	if (!err) {
		t = now_ns();
		for (size_t i = 0; i < n && !err; i++)
			err = umm_read(mm, a + off[i], buf, KPAGE);
		ns = (double)(now_ns() - t);
	}
	if (!err) {
		umm_mm_stats(mm, &ms);
		umm_system_stats(sys, &st);
		*majflt = ms.major_faults;
		*evicted = st.pgsteal;
	} else {
		skipped("larger than memory", "umm_read", err);
	}
	if (mm)
		umm_mm_destroy(mm);
	if (obj)
		umm_object_put(obj);
	if (sys)
		umm_system_destroy(sys);
	return err ? -1 : ns;
}

/* The kernel's side in a memory cgroup: its directory, or "" when none could be made. */
static char cg_dir[4096];
static char cg_limit_file[64];

/* cgroup_create - a child memory cgroup of our own, limited to `bytes`.  0 or -1. */
static int cgroup_create(size_t bytes)
{
	char line[4096], path[4096 + 64];
	FILE *f = fopen("/proc/self/cgroup", "r");
	const char *mnt = NULL, *rel = NULL, *limit = NULL;

	cg_dir[0] = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;

		if (!b)
			continue;
		if (!strncmp(a + 1, "memory:", 7) || strstr(a + 1, ",memory:")) {
			mnt = "/sys/fs/cgroup/memory";          /* v1 */
			limit = "memory.limit_in_bytes";
			rel = strdup(b + 1);
			break;
		}
		if (a[1] == ':' && !mnt) {                      /* v2: "0::/path" */
			mnt = "/sys/fs/cgroup";
			limit = "memory.max";
			rel = strdup(b + 1);
		}
	}
	fclose(f);
	if (!mnt || !rel)
		return -1;
	snprintf(cg_dir, sizeof(cg_dir), "%s%s/umm_bench_reclaim.%d", mnt, strcmp(rel, "/") ? rel : "", getpid());
	free((void *)rel);
	if (mkdir(cg_dir, 0755)) {
		cg_dir[0] = 0;
		return -1;
	}
	snprintf(cg_limit_file, sizeof(cg_limit_file), "%s", limit);
	snprintf(path, sizeof(path), "%s/%s", cg_dir, limit);
	f = fopen(path, "w");
	if (!f || fprintf(f, "%zu\n", bytes) < 0 || fclose(f)) {
		rmdir(cg_dir);
		cg_dir[0] = 0;
		return -1;
	}
	return 0;
}

static void cgroup_remove(void)
{
	if (cg_dir[0])
		rmdir(cg_dir);
}

/*
 * kernel_big_pass_cgroup - the reads in a child inside the cgroup, the
 * file dropped from the host cache first.  ns, or -1; *majflt the child's.
 */
static double kernel_big_pass_cgroup(int fd, size_t file_len, const size_t *off, size_t n,
				     bool random, unsigned long *majflt)
{
	int pfd[2];
	pid_t pid;
	double ns = -1;

	if (pipe(pfd))
		return -1;
	posix_fadvise(fd, 0, (off_t)file_len, POSIX_FADV_DONTNEED);
	pid = fork();
	if (pid == 0) {
		char path[4096 + 32], buf[KPAGE];
		struct rusage ru;
		double res[2];
		FILE *f;
		char *p;
		uint64_t t;

		snprintf(path, sizeof(path), "%s/cgroup.procs", cg_dir);
		f = fopen(path, "w");
		if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f))
			_exit(1);
		p = mmap(NULL, file_len, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			_exit(1);
		unsigned long sum = 0;

		madvise(p, file_len, random ? MADV_RANDOM : MADV_NORMAL);
		t = now_ns();
		for (size_t i = 0; i < n; i++) {
			memcpy(buf, p + off[i], KPAGE);
			sum += (unsigned char)buf[i % KPAGE];
			__asm__ volatile("" : : "r"(buf) : "memory");   /* the copy is used */
		}
		res[0] = (double)(now_ns() - t);
		getrusage(RUSAGE_SELF, &ru);
		res[1] = (double)ru.ru_majflt;
		if (write(pfd[1], res, sizeof(res)) != sizeof(res))
			_exit(1);
		_exit(sum == 1 ? 1 : 0);
	}
	close(pfd[1]);
	if (pid > 0) {
		double res[2];
		int status;

		if (read(pfd[0], res, sizeof(res)) == sizeof(res)) {
			ns = res[0];
			*majflt = (unsigned long)res[1];
		}
		waitpid(pid, &status, 0);
	}
	close(pfd[0]);
	return ns;
}

/* A pool of 4 KiB buffers with LRU replacement, filled by pread: the fallback kernel side. */
struct pool {
	size_t nbuf, file_pages;
	char *mem;
	long *slot_of;           /* file page -> buffer, or -1 */
	size_t *page_of;         /* buffer -> file page */
	size_t *prev, *next;     /* LRU list of buffers, head = most recent */
	size_t head, tail, used;
};

static double kernel_big_pass_pool(int fd, size_t pool_bytes, size_t file_len, const size_t *off,
				   size_t n, unsigned long *reads)
{
	struct pool pl = { .nbuf = pool_bytes / KPAGE, .file_pages = file_len / KPAGE };
	char buf[KPAGE];
	uint64_t t;
	double ns = -1;

	pl.mem = malloc(pool_bytes);
	pl.slot_of = malloc(pl.file_pages * sizeof(long));
	pl.page_of = malloc(pl.nbuf * sizeof(size_t));
	pl.prev = malloc(pl.nbuf * sizeof(size_t));
	pl.next = malloc(pl.nbuf * sizeof(size_t));
	if (!pl.mem || !pl.slot_of || !pl.page_of || !pl.prev || !pl.next)
		goto out;
	for (size_t i = 0; i < pl.file_pages; i++)
		pl.slot_of[i] = -1;
	*reads = 0;
	t = now_ns();
	for (size_t i = 0; i < n; i++) {
		size_t pg = off[i] / KPAGE, b;

		if (pl.slot_of[pg] >= 0) {
			b = (size_t)pl.slot_of[pg];
			if (b != pl.head) {           /* unlink, move to head */
				pl.next[pl.prev[b]] = pl.next[b];
				if (b == pl.tail)
					pl.tail = pl.prev[b];
				else
					pl.prev[pl.next[b]] = pl.prev[b];
				pl.next[b] = pl.head;
				pl.prev[pl.head] = b;
				pl.head = b;
			}
		} else {
			if (pl.used < pl.nbuf) {
				b = pl.used++;
			} else {                      /* evict the tail */
				b = pl.tail;
				pl.slot_of[pl.page_of[b]] = -1;
				pl.tail = pl.prev[b];
			}
			if (pread(fd, pl.mem + b * KPAGE, KPAGE, (off_t)off[i]) != (ssize_t)KPAGE)
				goto out;
			(*reads)++;
			pl.slot_of[pg] = (long)b;
			pl.page_of[b] = pg;
			if (pl.used == 1 && b == 0) {
				pl.head = pl.tail = b;
			} else {
				pl.next[b] = pl.head;
				pl.prev[pl.head] = b;
				pl.head = b;
			}
		}
		memcpy(buf, pl.mem + b * KPAGE, KPAGE);
	}
	ns = (double)(now_ns() - t);
out:
	free(pl.mem);
	free(pl.slot_of);
	free(pl.page_of);
	free(pl.prev);
	free(pl.next);
	return ns;
}

/*
 * bench_anon_larger_than_memory - an anonymous working set twice usermm's
 * memory, with swap: every page written once, then read in order, then
 * written again in order.  usermm only: the kernel side would need swap.
 */
static void bench_anon_larger_than_memory(void)
{
	size_t phys = MEM_BYTES, len = 2 * phys, pages = len / KPAGE;
	double w[MAX_REPS], r[MAX_REPS];
	struct umm_sys_stats st = { 0 };
	char caveat[256];

	for (int rep = 0; rep < BENCH_REPS; rep++) {
		struct umm_system *sys = NULL;
		struct umm_mm *mm = NULL;
		char buf[KPAGE];
		uintptr_t a;
		uint64_t t;
		int err = swap_sys_create(phys, 2 * len, &sys);

		w[rep] = r[rep] = -1;
		if (!err)
			err = umm_mm_create(sys, &mm);
		if (!err)
			err = umm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a);
		memset(buf, 7, sizeof(buf));
		t = now_ns();
		for (size_t i = 0; i < pages && !err; i++)
			err = umm_write(mm, a + i * KPAGE, buf, KPAGE);
		if (!err)
			w[rep] = (double)(now_ns() - t) / (double)pages;
		t = now_ns();
		for (size_t i = 0; i < pages && !err; i++)
			err = umm_read(mm, a + i * KPAGE, buf, KPAGE);
		if (!err)
			r[rep] = (double)(now_ns() - t) / (double)pages;
		if (err)
			skipped("anonymous 2x memory", "umm_write/umm_read", err);
		else
			umm_system_stats(sys, &st);
		if (mm)
			umm_mm_destroy(mm);
		if (sys)
			umm_system_destroy(sys);
		if (err)
			return;
	}
	snprintf(caveat, sizeof(caveat), "%zu MiB anonymous in %zu MiB with a swap file; last run: %lu pages "
		 "swapped out, %lu in; no kernel figure: the host has no swap device", len >> 20, phys >> 20,
		 st.pswpout, st.pswpin);
	bench_report("anon 2x memory, first write (ns/page)", median(w, BENCH_REPS), 0);
	bench_caveat(caveat);
	bench_report("anon 2x memory, read back (ns/page)", median(r, BENCH_REPS), 0);
	bench_caveat(caveat);
}

static void bench_larger_than_memory(void)
{
	size_t phys = MEM_BYTES, file_len = 4 * phys, file_pages = file_len / KPAGE;
	int fd = make_temp_file("reclaim_big", file_pages, KPAGE);
	bool cg = cgroup_create(phys) == 0;

	if (fd < 0) {
		skipped("larger than memory", "make_temp_file", fd);
		cgroup_remove();
		return;
	}
	if (cg)
		printf("# kernel side: a child in memory cgroup %s, %s = %zu MiB, file dropped from the host cache first\n",
		       cg_dir, cg_limit_file, phys >> 20);
	else
		printf("# kernel side: no memory cgroup could be created here; pread into a %zu MiB pool of "
		       "4 KiB buffers (LRU) in this process instead\n", phys >> 20);
	for (int r = 0; r < 2; r++) {
		bool random = r == 1;
		size_t n = BENCH_SIZE(random ? file_pages / 2 : file_pages, 256);
		size_t *off = malloc(n * sizeof(*off));
		double u[MAX_REPS], k[MAX_REPS], um, km;
		unsigned long umaj = 0, uev = 0, kmaj = 0;
		char name[96], caveat[320];

		if (!off)
			break;
		make_offsets(off, n, file_pages, random);
		for (int i = 0; i < BENCH_REPS; i++) {
			u[i] = umm_big_pass(fd, phys, file_len, off, n, random, &umaj, &uev);
			k[i] = cg ? kernel_big_pass_cgroup(fd, file_len, off, n, random, &kmaj)
				  : kernel_big_pass_pool(fd, phys, file_len, off, n, &kmaj);
		}
		um = median(u, BENCH_REPS);
		km = median(k, BENCH_REPS);
		snprintf(name, sizeof(name), "%s 4K reads, file 4x memory (ns/read)", random ? "random" : "sequential");
		snprintf(caveat, sizeof(caveat), "%zu reads of a %zu MiB file in %zu MiB, both cold; major faults: "
			 "usermm %lu (evicted %lu), kernel %lu; usermm's preads refill the host cache, so "
			 "a page it evicted and reads again may come from there%s",
			 n, file_len >> 20, phys >> 20, umaj, uev, kmaj,
			 cg ? "" : "; kernel side: pread into an LRU buffer pool");
		if (um > 0 && km > 0)
			bench_report_caveat(name, um / (double)n, km / (double)n, caveat);
		else if (um > 0)
			bench_report(name, um / (double)n, 0);
		free(off);
	}
	cgroup_remove();
	close(fd);
}

int main(int argc, char **argv)
{
	bench_init(argc, argv, "reclaim: pageout and LRU eviction throughput (clean, dirty, anonymous to swap), "
		   "reads over a file 4x memory vs the kernel in a same-size memory cgroup");
	bench_machine_line();
	print_loadavg();
	bench_throughput();
	bench_larger_than_memory();
	bench_anon_larger_than_memory();
	return 0;
}
