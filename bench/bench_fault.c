/* SPDX-License-Identifier: MIT */
/*
 * bench_fault.c - what a page fault costs in usermm, next to the Linux
 * kernel doing the same job on the same machine.
 *
 * Every measurement runs a batch on both sides and reports the median of
 * REPS repetitions; usermm and kernel alternate in each repetition, so
 * that drift in the machine hits both.
 *
 *   file fault         first read of each page of a fresh MAP_SHARED
 *                      PROT_READ mapping of a file whose pages are already
 *                      in the page cache (usermm's own cache, the kernel's);
 *                      per page touched and per fault taken: the kernel
 *                      maps up to 16 cached pages per fault (fault-around)
 *   anon fault         first write to each page of a fresh private
 *                      anonymous mapping (allocate and zero a frame), on a
 *                      fresh usermm system (a new one whose arena the host
 *                      has never touched) and on a warm one (its frames
 *                      touched before), with the default configuration
 *                      (UMM_ARENA_AUTO: the caveat says which kind it
 *                      chose on this host) and with each kind of arena
 *                      asked for explicitly (memfd, and anonymous memory,
 *                      which the host may back with 2 MiB pages: the
 *                      AnonHugePages it gained is printed); the kernel's
 *                      side is a fresh mmap of 4 KiB pages
 *   COW write fault    write, after fork, to each page that was written
 *                      before the fork (copy the frame); usermm times the
 *                      writes in the umm_fork child, on the kernel's side a
 *                      child of the helper process (below) times its own
 *   soft-TLB hit       umm_read/umm_write of 8 bytes from a small resident
 *                      set, against an 8-byte memcpy through a host pointer
 *                      (a hardware TLB hit)
 *   fork               umm_fork + umm_mm_destroy of an address space, empty
 *                      and with FORK_PAGES resident anonymous pages; the
 *                      kernel's fork + _exit + waitpid of the helper process
 *                      (below), empty and with the same pages, counted as
 *                      the helper's time in fork() plus the CPU time of the
 *                      child until it is reaped (not the time it waits for
 *                      a CPU), wall time as a comment line
 *   munmap             of a mapping with FORK_PAGES resident anonymous pages
 *
 * The helper.  A fork of the benchmark process would copy everything it
 * holds, usermm's own descriptors included, and would write-protect all of
 * its private memory, so that usermm's next repetition paid for the host's
 * write faults on its own structures.  The kernel side of the fork and COW
 * measurements therefore runs in a small helper process forked first thing
 * in main(), before any usermm memory exists; it maps and touches the same
 * number of pages as usermm's side and its resident set is printed.  This
 * process itself never forks again.
 *
 * usermm accesses go through the public software MMU (umm_read/umm_write);
 * kernel accesses are loads and stores through the mmap()ed pointer.
 * mmap and munmap stay outside the timed loops of the fault measurements.
 * Kernel mappings get MADV_NOHUGEPAGE so that both sides fault 4 KiB pages.
 *
 * Result lines carry a ratio only where both sides do the same work; the
 * "#   ^" line under a result says what differs (see bench.h).  A
 * measurement that cannot run (a call fails) prints a comment line saying
 * why and the benchmark goes on with the next one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <time.h>

#include <usermm/usermm.h>
#include "bench.h"

#define REPS        BENCH_SIZE(7, 1)
#define REPS_MAX    7                            /* the larger of REPS's two values */
#define FILE_PAGES  BENCH_SIZE(16384UL, 256UL)   /* 64 MiB temp file */
#define ANON_PAGES  BENCH_SIZE(16384UL, 256UL)
#define AHEAD_PAGES BENCH_SIZE(3072UL, 256UL)    /* inside the default 16 MiB window */
#define COW_PAGES   BENCH_SIZE(8192UL, 128UL)
#define TLB_PAGES   16UL
#define TLB_ITERS   BENCH_SIZE(1UL << 20, 1UL << 12)
#define FORK_PAGES  BENCH_SIZE(4096UL, 256UL)
#define PHYS_BYTES  BENCH_SIZE(512UL << 20, 64UL << 20)

#define UPAGE UMM_PAGE_SIZE

static size_t kpage;                /* the host's page size */
static struct bench_helper helper;  /* the kernel side of fork and COW */

static unsigned long umm_faults(struct umm_mm *mm, bool cow)
{
	struct umm_mm_stats st;

	if (umm_mm_stats(mm, &st))
		return 0;
	return cow ? st.cow_faults : st.minor_faults;
}

static void ktouch(char *p, unsigned long pages, uint64_t tag)
{
	for (unsigned long i = 0; i < pages; i++)
		*(volatile uint64_t *)(p + i * kpage) = tag + i;
}

static int umap_anon(struct umm_mm *mm, unsigned long pages, uintptr_t *addr)
{
	return umm_mmap(mm, 0, pages * UPAGE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, addr);
}

static int utouch(struct umm_mm *mm, uintptr_t addr, unsigned long pages, uint64_t tag)
{
	for (unsigned long i = 0; i < pages; i++) {
		uint64_t v = tag + i;
		int err = umm_write(mm, addr + i * UPAGE, &v, sizeof(v));

		if (err)
			return err;
	}
	return 0;
}

/* ---- the helper process: the kernel side of fork and COW ---- */

enum { KH_MAP, KH_UNMAP, KH_FORK, KH_COW };

struct kreq {
	int op;
	unsigned long pages;            /* KH_MAP: pages to map and write */
};

struct krep {
	int err;                        /* 0 or a negative errno */
	bool wrong;                     /* KH_UNMAP: a page lost what the helper wrote */
	long rss_kib;                   /* KH_MAP: the helper's VmRSS afterwards */
	double fork_ns;                 /* KH_FORK: time in fork() */
	double child_cpu_ns;            /* KH_FORK: the child's CPU time until reaped */
	double wall_ns;                 /* KH_FORK: fork() to the end of waitpid() */
	double cow_ns;                  /* KH_COW: the child's ns per page written */
};

/* The helper's own state (in the helper process only). */
static char *kh_p;
static unsigned long kh_pages;

/*
 * kh_fork - the kernel's part of fork + exit: the helper's time inside
 * fork() plus the CPU time the child used until it was reaped (its exit
 * tears its address space down).  The time the child waits for a CPU is
 * left out, as usermm's side has none.
 */
static void kh_fork(struct krep *rep)
{
	struct rusage ru0, ru1;
	uint64_t t0, t1, t2;
	int status;
	pid_t pid;

	getrusage(RUSAGE_CHILDREN, &ru0);
	t0 = now_ns();
	pid = fork();
	if (pid == 0)
		_exit(0);
	t1 = now_ns();
	if (pid < 0) {
		rep->err = -errno;
		return;
	}
	waitpid(pid, &status, 0);
	t2 = now_ns();
	getrusage(RUSAGE_CHILDREN, &ru1);
	rep->fork_ns = (double)(t1 - t0);
	rep->child_cpu_ns = bench_tv_ns(&ru1.ru_utime) + bench_tv_ns(&ru1.ru_stime) -
			    bench_tv_ns(&ru0.ru_utime) - bench_tv_ns(&ru0.ru_stime);
	rep->wall_ns = (double)(t2 - t0);
}

/* kh_cow - a child of the helper writes the first COW_PAGES pages and times it. */
static void kh_cow(struct krep *rep)
{
	double ns = -1;
	int pfd[2], status;
	pid_t pid;

	if (kh_pages < COW_PAGES || pipe(pfd)) {
		rep->err = -EINVAL;
		return;
	}
	pid = fork();
	if (pid == 0) {
		uint64_t t0 = now_ns(), t1;

		close(pfd[0]);
		ktouch(kh_p, COW_PAGES, 0xc0c0);
		t1 = now_ns();
		ns = (double)(t1 - t0) / COW_PAGES;
		_exit(write(pfd[1], &ns, sizeof(ns)) == sizeof(ns) ? 0 : 1);
	}
	close(pfd[1]);
	if (pid > 0) {
		if (read(pfd[0], &ns, sizeof(ns)) != sizeof(ns))
			ns = -1;
		waitpid(pid, &status, 0);
	}
	close(pfd[0]);
	rep->cow_ns = ns;
	if (ns < 0)
		rep->err = pid < 0 ? -errno : -EIO;
}

static void kh_serve(const void *req_, void *rep_)
{
	const struct kreq *req = req_;
	struct krep *rep = rep_;

	switch (req->op) {
	case KH_MAP:
		if (req->pages) {
			kh_p = kmap_anon(req->pages * kpage);
			if (!kh_p) {
				rep->err = -errno;
				break;
			}
			kh_pages = req->pages;
			ktouch(kh_p, kh_pages, 0);
		}
		rep->rss_kib = bench_status_kib("VmRSS");
		break;
	case KH_UNMAP:
		for (unsigned long i = 0; i < kh_pages; i++)
			if (*(volatile uint64_t *)(kh_p + i * kpage) != i)
				rep->wrong = true;
		if (kh_pages)
			munmap(kh_p, kh_pages * kpage);
		kh_p = NULL;
		kh_pages = 0;
		break;
	case KH_FORK:
		kh_fork(rep);
		break;
	case KH_COW:
		kh_cow(rep);
		break;
	default:
		rep->err = -EINVAL;
	}
}

/* kcall - one request to the helper; the reply's errno (or -EPIPE). */
static int kcall(int op, unsigned long pages, struct krep *rep)
{
	struct kreq req = { .op = op, .pages = pages };
	int err;

	memset(rep, 0, sizeof(*rep));
	err = bench_helper_call(&helper, &req, sizeof(req), rep, sizeof(*rep));
	return err ? err : rep->err;
}

/* ---- file faults ---- */

/* One usermm pass of the file fault: ns per page; *faults gets usermm's faults. */
static double file_fault_umm(struct umm_mm *mm, struct umm_object *obj,
			     unsigned long *sum, unsigned long *faults, int *errp)
{
	uint64_t t0 = 0, t1 = 0;
	unsigned long f0 = umm_faults(mm, false);
	uintptr_t a;
	uint8_t c;
	int err;

	err = umm_mmap(mm, 0, FILE_PAGES * UPAGE, PROT_READ, MAP_SHARED, obj, 0, &a);
	if (err)
		goto out;
	t0 = now_ns();
	for (unsigned long i = 0; i < FILE_PAGES; i++) {
		err = umm_read(mm, a + i * UPAGE, &c, 1);
		if (err)
			break;
		*sum += c;
	}
	t1 = now_ns();
	*faults = umm_faults(mm, false) - f0;
	umm_munmap(mm, a, FILE_PAGES * UPAGE);
out:
	*errp = err;
	return (double)(t1 - t0) / FILE_PAGES;
}

/*
 * One kernel pass: ns per page, -1 if mmap failed; *faults gets the host's
 * minor faults during the loop.  `advice` (e.g. MADV_RANDOM) is applied to
 * the mapping when not 0.
 */
static double file_fault_kernel(int fd, int advice, unsigned long *sum, unsigned long *faults)
{
	char *p = mmap(NULL, FILE_PAGES * kpage, PROT_READ, MAP_SHARED, fd, 0);
	uint64_t t0, t1;
	long f0;

	if (p == MAP_FAILED)
		return -1;
	madvise(p, FILE_PAGES * kpage, MADV_NOHUGEPAGE);
	if (advice)
		madvise(p, FILE_PAGES * kpage, advice);
	f0 = minflt();
	t0 = now_ns();
	for (unsigned long i = 0; i < FILE_PAGES; i++)
		*sum += *(volatile uint8_t *)(p + i * kpage);
	t1 = now_ns();
	*faults = (unsigned long)(minflt() - f0);
	munmap(p, FILE_PAGES * kpage);
	return (double)(t1 - t0) / FILE_PAGES;
}

/*
 * file_fault_random - does MADV_RANDOM turn fault-around off?  One kernel
 * pass with it, the fault count printed as measured.
 */
static void file_fault_random(int fd)
{
	unsigned long sum = 0, faults = 0;

	if (file_fault_kernel(fd, MADV_RANDOM, &sum, &faults) < 0)
		return;
	printf("# file fault: with MADV_RANDOM the kernel took %.3f faults per page touched (%s)\n",
	       (double)faults / FILE_PAGES,
	       faults * 2 < FILE_PAGES ? "fault-around still on" : "about one per page: fault-around off");
}

static void bench_file_fault(struct umm_system *sys, struct umm_mm *mm)
{
	const char *what = "file fault";
	double us[REPS], ks[REPS], uf[REPS], kf[REPS];
	unsigned long usum = 0, ksum = 0, want = 0, warm = 0, ufaults = 0, kfaults = 0, n;
	struct umm_object *obj;
	char caveat[256];
	int fd, err;

	fd = make_temp_file("bench_fault", FILE_PAGES, kpage);
	if (fd < 0) {
		skipped(what, "temp file", fd);
		return;
	}
	for (unsigned long i = 0; i < FILE_PAGES; i++)
		want += file_byte(i);
	err = umm_object_open_fd(sys, fd, &obj);
	if (err) {
		skipped(what, "umm_object_open_fd", err);
		goto out_close;
	}
	/* Warm both page caches: one full pass through a mapping each. */
	file_fault_umm(mm, obj, &warm, &n, &err);
	if (err) {
		skipped(what, "umm_mmap/umm_read", err);
		goto out_put;
	}
	file_fault_kernel(fd, 0, &warm, &n);
	for (int r = 0; r < REPS; r++) {
		unsigned long uff = 0, kff = 0;

		us[r] = file_fault_umm(mm, obj, &usum, &uff, &err);
		if (err) {
			skipped(what, "umm_mmap/umm_read", err);
			goto out_put;
		}
		ks[r] = file_fault_kernel(fd, 0, &ksum, &kff);
		if (ks[r] < 0) {
			skipped(what, "mmap", -errno);
			goto out_put;
		}
		ufaults += uff;
		kfaults += kff;
		/* ns per fault: the pass's time over the faults it took */
		uf[r] = uff ? us[r] * FILE_PAGES / uff : 0;
		kf[r] = kff ? ks[r] * FILE_PAGES / kff : 0;
	}
	if (usum != want * REPS || ksum != want * REPS)
		printf("# file fault: WRONG DATA read (usermm %lu, kernel %lu, want %lu)\n",
		       usum, ksum, want * REPS);
	snprintf(caveat, sizeof(caveat),
		 "same pages read; faults per page: usermm %.3f, kernel %.3f "
		 "(fault-around maps up to 16 cached pages per kernel fault)",
		 (double)ufaults / (FILE_PAGES * REPS), (double)kfaults / (FILE_PAGES * REPS));
	bench_report_caveat("file fault, cached (ns/page)", median(us, REPS), median(ks, REPS), caveat);
	bench_report_different("file fault, cached (ns/fault)", median(uf, REPS), median(kf, REPS),
			       "different work per fault: a usermm fault maps 1 page, "
			       "a kernel fault (getrusage minflt) up to 16");
	file_fault_random(fd);
out_put:
	umm_object_put(obj);
out_close:
	close(fd);
}

/* ---- anonymous faults, fresh and warm ---- */

static uint64_t cpu_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * One kernel pass: ns per page of first writes to a fresh mapping, or -1;
 * *cpu gets the CPU time of the loop per page (this thread's: the kernel
 * does the fault's work on the faulting thread).
 */
static double anon_fault_kernel_n(unsigned long pages, uint64_t tag, double *cpu)
{
	char *p = kmap_anon(pages * kpage);
	uint64_t t0, t1, c0, c1;

	if (!p)
		return -1;
	c0 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
	t0 = now_ns();
	ktouch(p, pages, tag);
	t1 = now_ns();
	c1 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
	munmap(p, pages * kpage);
	if (cpu)
		*cpu = (double)(c1 - c0) / pages;
	return (double)(t1 - t0) / pages;
}

static double anon_fault_kernel(uint64_t tag, double *cpu)
{
	return anon_fault_kernel_n(ANON_PAGES, tag, cpu);
}

/* One usermm pass in `mm`: ns per page; *host gets the host's faults meanwhile. */
static double anon_fault_umm(struct umm_mm *mm, uint64_t tag, long *host, int *errp)
{
	uint64_t t0, t1;
	uintptr_t a;
	long h0;
	int err;

	err = umap_anon(mm, ANON_PAGES, &a);
	if (err) {
		*errp = err;
		return 0;
	}
	h0 = minflt();
	t0 = now_ns();
	err = utouch(mm, a, ANON_PAGES, tag);
	t1 = now_ns();
	*host += minflt() - h0;
	umm_munmap(mm, a, ANON_PAGES * UPAGE);
	*errp = err;
	return (double)(t1 - t0) / ANON_PAGES;
}

/* What one fresh-system pass measured. */
struct fresh_pass {
	double wall;            /* ns per page, the timed loop */
	double cpu;             /* ns per page: CPU of every thread, creation to loop end */
	double thread_cpu;      /* ns per page: the faulting thread's CPU in the loop */
	long host;              /* host faults during the loop */
	double ahead;           /* share of the touched bytes the populate-ahead thread brought in */
	double ahead_cpu;       /* that thread's CPU, ns per page touched */
	long huge_kib;          /* AnonHugePages gained from before creation to the loop's end
	                           (-1: unknown) */
	int arena;              /* the kind the system got (umm_sys_stats.arena) */
	long ahead_mib;         /* its populate_ahead_mib after defaults (-1: no thread) */
};

/*
 * anon_fault_fresh_umm - one pass on a newly created system (as big as the
 * main one), created and destroyed outside the timed loop: its arena has
 * never been touched by the host.  `ahead_mib` is its populate_ahead_mib
 * (0: the default, -1: no populate-ahead thread), `arena` its
 * umm_config.arena.  The loop starts as soon
 * as the system and the address space exist, so the populate-ahead thread
 * gets no head start.  The CPU time is the whole process's (every thread)
 * from before umm_system_create to the end of the loop.
 */
static int anon_fault_fresh_umm(long ahead_mib, int arena, uint64_t tag, struct fresh_pass *fp)
{
	struct umm_config cfg = { .phys_bytes = PHYS_BYTES, .populate_ahead_mib = ahead_mib,
				  .arena = arena };
	struct umm_sys_stats st;
	struct umm_system *sys;
	struct umm_mm *mm;
	uint64_t c0, c1, t0, t1, tc0, tc1;
	uintptr_t a;
	long h0, huge0, huge1;
	int err;

	memset(fp, 0, sizeof(*fp));
	huge0 = bench_proc_kib("/proc/self/smaps_rollup", "AnonHugePages");
	c0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
	err = umm_system_create(&cfg, &sys);
	if (err)
		return err;
	err = umm_mm_create(sys, &mm);
	if (err)
		goto out_sys;
	err = umap_anon(mm, ANON_PAGES, &a);
	if (err)
		goto out_mm;
	h0 = minflt();
	tc0 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
	t0 = now_ns();
	err = utouch(mm, a, ANON_PAGES, tag);
	t1 = now_ns();
	tc1 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
	c1 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
	fp->host = minflt() - h0;
	fp->thread_cpu = (double)(tc1 - tc0) / ANON_PAGES;
	fp->wall = (double)(t1 - t0) / ANON_PAGES;
	fp->cpu = (double)(c1 - c0) / ANON_PAGES;
	huge1 = bench_proc_kib("/proc/self/smaps_rollup", "AnonHugePages");
	fp->huge_kib = huge0 >= 0 && huge1 >= 0 ? huge1 - huge0 : -1;
	if (!err && !umm_system_stats(sys, &st)) {
		fp->ahead = (double)st.host_populated_ahead_bytes / (ANON_PAGES * UPAGE);
		fp->ahead_cpu = (double)st.host_populate_ahead_cpu_ns / ANON_PAGES;
		fp->arena = st.arena;
		/* the defaults (system.h): a 16 MiB thread for a memfd arena, none for an anonymous one */
		fp->ahead_mib = ahead_mib ? ahead_mib : st.arena == UMM_ARENA_ANON ? -1 : 16;
	}
	umm_munmap(mm, a, ANON_PAGES * UPAGE);
out_mm:
	umm_mm_destroy(mm);
out_sys:
	umm_system_destroy(sys);
	return err;
}

/*
 * anon_fault_ahead_umm - a new memfd-arena system (whose default is a
 * populate-ahead thread) left alone (untimed) until that thread has
 * brought in its default window (16 MiB), then AHEAD_PAGES first writes,
 * which stay inside the window.  ns per page; *wait_ms gets how long the
 * window took, *ahead_cpu the thread's CPU time per page touched.
 */
static double anon_fault_ahead_umm(uint64_t tag, double *wait_ms, double *ahead_cpu, int *errp)
{
	struct umm_config cfg = { .phys_bytes = PHYS_BYTES, .arena = UMM_ARENA_MEMFD };
	struct umm_sys_stats st = { 0 };
	struct umm_system *sys;
	struct umm_mm *mm;
	uint64_t t0, t1, w0;
	double ns = 0;
	uintptr_t a;

	w0 = now_ns();
	*errp = umm_system_create(&cfg, &sys);
	if (*errp)
		return 0;
	*errp = umm_mm_create(sys, &mm);
	if (*errp)
		goto out_sys;
	/* at most 2 s: a machine too busy to run the thread shows as a slow line */
	while (!umm_system_stats(sys, &st) && st.host_populated_bytes < (16UL << 20) &&
	       now_ns() - w0 < 2000000000ull)
		usleep(1000);
	*wait_ms = (double)(now_ns() - w0) / 1e6;
	*errp = umap_anon(mm, AHEAD_PAGES, &a);
	if (*errp)
		goto out_mm;
	t0 = now_ns();
	*errp = utouch(mm, a, AHEAD_PAGES, tag);
	t1 = now_ns();
	ns = (double)(t1 - t0) / AHEAD_PAGES;
	if (!umm_system_stats(sys, &st))
		*ahead_cpu = (double)st.host_populate_ahead_cpu_ns / AHEAD_PAGES;
	umm_munmap(mm, a, AHEAD_PAGES * UPAGE);
out_mm:
	umm_mm_destroy(mm);
out_sys:
	umm_system_destroy(sys);
	return ns;
}

/*
 * The fresh-system figures of one arena setting, per repetition: with its
 * default populate-ahead choice (a thread for the memfd arena, none for
 * the anonymous one), and, for an explicit kind, with the other choice
 * (`n...`: no thread for the memfd arena, a 16 MiB one for the anonymous
 * arena).  UMM_ARENA_AUTO is measured with its defaults only.
 */
struct fresh_series {
	double wall[REPS_MAX], cpu[REPS_MAX], thread_cpu[REPS_MAX], ahead[REPS_MAX], ahead_cpu[REPS_MAX];
	double nwall[REPS_MAX], ncpu[REPS_MAX], nthread_cpu[REPS_MAX]; /* the other choice */
	double huge_mib[REPS_MAX];      /* AnonHugePages gained, default configuration */
	long host, nhost;               /* host faults in the loops */
	bool huge_known;
	int arena;                      /* the kind the default-configuration systems got */
	long ahead_mib;                 /* their populate_ahead_mib (-1: no thread) */
};

/*
 * fresh_rep - repetition r of the fresh lines of one arena setting: its
 * default configuration and, for an explicit kind, the other
 * populate-ahead choice, in turn first (the host memory a pass gets
 * depends on what the pass before it freed).  0 or -errno.
 */
static int fresh_rep(int arena, int r, struct fresh_series *fs)
{
	int passes = arena == UMM_ARENA_AUTO ? 1 : 2;
	struct fresh_pass fp;
	int err;

	for (int k = 0; k < passes; k++) {
		bool other = passes == 2 && (k + r) % 2;

		err = anon_fault_fresh_umm(other ? (arena == UMM_ARENA_ANON ? 16 : -1) : 0, arena, r, &fp);
		if (err)
			return err;
		if (other) {
			fs->nwall[r] = fp.wall;
			fs->ncpu[r] = fp.cpu;
			fs->nthread_cpu[r] = fp.thread_cpu;
			fs->nhost += fp.host;
			continue;
		}
		fs->wall[r] = fp.wall;
		fs->cpu[r] = fp.cpu;
		fs->thread_cpu[r] = fp.thread_cpu;
		fs->host += fp.host;
		fs->ahead[r] = fp.ahead;
		fs->ahead_cpu[r] = fp.ahead_cpu;
		fs->huge_mib[r] = (double)fp.huge_kib / 1024;
		fs->huge_known = fp.huge_kib >= 0;
		fs->arena = fp.arena;
		fs->ahead_mib = fp.ahead_mib;
	}
	return 0;
}

/* thp_setting - the host's transparent_hugepage/enabled line, or "unknown". */
static void thp_setting(char *thp, size_t size)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

	snprintf(thp, size, "unknown");
	if (f) {
		if (fgets(thp, (int)size, f))
			thp[strcspn(thp, "\n")] = 0;
		fclose(f);
	}
}

/*
 * report_warm - the warm line of one arena setting: `what` is
 * ", the default configuration" (then `sys` says which arena AUTO chose),
 * ", memfd arena" or ", anon arena"; `host` counts the host faults of
 * all repetitions.
 */
static void report_warm(const char *what, struct umm_system *sys, double *uw, long host,
			double *kw)
{
	bool dflt = sys != NULL;
	struct umm_sys_stats st;
	char caveat[512], name[96], who[160], thp[64];

	if (dflt) {
		thp_setting(thp, sizeof(thp));
		snprintf(who, sizeof(who), "the default configuration (UMM_ARENA_AUTO chose the %s arena; "
			 "host transparent huge pages: %s)",
			 !umm_system_stats(sys, &st) && st.arena == UMM_ARENA_ANON ? "anon" : "memfd", thp);
	} else {
		snprintf(who, sizeof(who), "%s", what + 2);
	}
	snprintf(caveat, sizeof(caveat),
		 "usermm: %s, frames touched in an earlier pass, already host memory (%.2f host faults "
		 "per page); kernel: a fresh mmap, as above", who, (double)host / (ANON_PAGES * REPS));
	snprintf(name, sizeof(name), "anon fault, warm system%s (ns/page)", dflt ? "" : what);
	bench_report_caveat(name, median(uw, REPS), median(kw, REPS), caveat);
}

/*
 * report_fresh - the fresh lines of one arena setting (UMM_ARENA_AUTO: the
 * default configuration, named plainly; an explicit kind: named for it)
 * against the kernel's fresh faults kf (wall) and kfc (CPU).
 */
static void report_fresh(int arena, struct fresh_series *fs, double *kf, double *kfc)
{
	bool dflt = arena == UMM_ARENA_AUTO;
	bool anon = fs->arena == UMM_ARENA_ANON;
	const char *kind = dflt ? "" : anon ? ", anon arena" : ", memfd arena";
	const char *made = anon ? "anon" : "memfd";
	char caveat[512], name[96], ahead[160], who[200];
	char thp[64];

	thp_setting(thp, sizeof(thp));
	if (arena == UMM_ARENA_ANON) {
		if (fs->huge_known)
			printf("# anon arena: the host's transparent huge pages: %s; AnonHugePages gained "
			       "by a fresh system (anon arena asked for): %.0f MiB (median) for %lu MiB "
			       "written; 0 means 4 KiB host pages\n", thp,
			       median(fs->huge_mib, REPS), (ANON_PAGES * UPAGE) >> 20);
		else
			printf("# anon arena: the host's transparent huge pages: %s; AnonHugePages "
			       "unknown (no /proc/self/smaps_rollup)\n", thp);
	}
	if (dflt)
		snprintf(who, sizeof(who), "the default configuration: UMM_ARENA_AUTO chose the %s arena, "
			 "host transparent huge pages %s", made, thp);
	else
		snprintf(who, sizeof(who), "%s arena", made);
	if (fs->ahead_mib > 0)
		snprintf(ahead, sizeof(ahead), ", its populate-ahead thread (%ld MiB, the %s arena's "
			 "default) brought in %.0f%% of the pages (median) on another CPU",
			 fs->ahead_mib, made, 100 * median(fs->ahead, REPS));
	else
		snprintf(ahead, sizeof(ahead), ", no populate-ahead thread (the %s arena's default)", made);
	snprintf(caveat, sizeof(caveat),
		 "wall time; usermm: a new umm_system (%s) whose arena the host never touched, faulted "
		 "at once (%.2f host faults per page)%s; kernel: a fresh mmap, 4 KiB pages",
		 who, (double)fs->host / (ANON_PAGES * REPS), ahead);
	snprintf(name, sizeof(name), "anon fault, fresh system%s (ns/page)", kind);
	bench_report_caveat(name, median(fs->wall, REPS), median(kf, REPS), caveat);
	printf("# target anon fault, fresh system%s: ratio %.2f, at most 0.50: %s\n",
	       dflt ? " (default configuration)" : kind,
	       median(fs->wall, REPS) / median(kf, REPS),
	       median(fs->wall, REPS) <= 0.5 * median(kf, REPS) ? "met" : "NOT met");
	snprintf(caveat, sizeof(caveat),
		 "CPU time of every thread per page: usermm from umm_system_create to the loop's end "
		 "(the populate-ahead thread's part %.0f ns/page, the faulting thread's %.0f); kernel: "
		 "the faulting thread's loop", median(fs->ahead_cpu, REPS), median(fs->thread_cpu, REPS));
	snprintf(name, sizeof(name), "anon fault, fresh system%s, CPU (ns/page)", kind);
	bench_report_caveat(name, median(fs->cpu, REPS), median(kfc, REPS), caveat);
	if (dflt)
		return;
	if (anon)
		snprintf(caveat, sizeof(caveat),
			 "wall time; usermm: as above with populate_ahead_mib 16, a thread bringing chunks "
			 "in on another CPU, which a fault needing a chunk it has in flight waits for "
			 "(%.2f host faults per page); CPU %.0f ns/page (the faulting thread's %.0f)",
			 (double)fs->nhost / (ANON_PAGES * REPS), median(fs->ncpu, REPS),
			 median(fs->nthread_cpu, REPS));
	else
		snprintf(caveat, sizeof(caveat),
			 "wall time; usermm: as above with populate_ahead_mib -1, the faulting thread "
			 "brings every chunk in itself (%.2f host faults per page); CPU %.0f ns/page (the "
			 "faulting thread's %.0f)", (double)fs->nhost / (ANON_PAGES * REPS),
			 median(fs->ncpu, REPS), median(fs->nthread_cpu, REPS));
	snprintf(name, sizeof(name), "anon fault, fresh%s, %s (ns/page)", kind,
		 anon ? "populate-ahead 16 MiB" : "no populate-ahead");
	bench_report_caveat(name, median(fs->nwall, REPS), median(kf, REPS), caveat);
}

/*
 * warm_system - a system of arena kind `arena` (release_ms -1, as the main
 * system: frames once touched stay host memory) and an address space in
 * it, its frames warmed by one untimed pass.  0 or -errno (nothing left).
 */
static int warm_system(int arena, struct umm_system **sys, struct umm_mm **mm)
{
	struct umm_config cfg = { .phys_bytes = PHYS_BYTES, .arena = arena, .release_ms = -1,
				  .collapse_ms = -1 };
	long dummy = 0;
	int err;

	*mm = NULL;
	err = umm_system_create(&cfg, sys);
	if (err) {
		*sys = NULL;
		return err;
	}
	err = umm_mm_create(*sys, mm);
	if (!err)
		anon_fault_umm(*mm, 1, &dummy, &err);
	if (err) {
		if (*mm)
			umm_mm_destroy(*mm);
		umm_system_destroy(*sys);
		*sys = NULL;
		*mm = NULL;
	}
	return err;
}

/*
 * bench_anon_fault - anonymous first-write faults on a fresh and on a warm
 * usermm system, with the default configuration (UMM_ARENA_AUTO) and
 * with each arena kind asked for, each beside the kernel's fault on a
 * fresh mapping of 4 KiB pages (the kernel has no warm state to offer:
 * every fresh mapping gets pages from its allocator and zeroes them).
 * The fresh explicit kinds are measured with and without a populate-ahead
 * thread; with one, part of the host's work is done on another CPU, so
 * the wall time per page is given beside the CPU time of every thread.
 * `sys`/`mm` are the main system's (the default configuration); the warm
 * systems of each explicit kind are made here.
 */
static void bench_anon_fault(struct umm_system *sys, struct umm_mm *mm)
{
	static struct fresh_series fd, fm, fa;
	double uw[REPS], uwm[REPS], uwa[REPS], kf[REPS], kfc[REPS], kw[REPS];
	double ahead_cpu[REPS], uf[REPS], un[REPS];
	struct umm_system *msys = NULL, *asys = NULL;
	struct umm_mm *mmm = NULL, *amm = NULL;
	long hw = 0, hwm = 0, hwa = 0, dummy = 0;
	char caveat[400];
	int err;

	memset(&fd, 0, sizeof(fd));
	memset(&fm, 0, sizeof(fm));
	memset(&fa, 0, sizeof(fa));
	/* Untimed: one pass warms each warm system's frames. */
	anon_fault_umm(mm, 1, &dummy, &err);
	if (err) {
		skipped("anon fault", "umm_mmap/umm_write", err);
		return;
	}
	err = warm_system(UMM_ARENA_MEMFD, &msys, &mmm);
	if (!err)
		err = warm_system(UMM_ARENA_ANON, &asys, &amm);
	if (err) {
		skipped("anon fault, memfd and anon arenas", "umm_system_create/umm_mmap/umm_write", err);
		goto out;
	}
	for (int r = 0; r < REPS; r++) {
		err = fresh_rep(UMM_ARENA_AUTO, r, &fd);
		if (err) {
			skipped("anon fault, fresh system", "umm_system_create/umm_mmap/umm_write", err);
			goto out;
		}
		kf[r] = anon_fault_kernel(r, &kfc[r]);
		err = fresh_rep(UMM_ARENA_MEMFD, r, &fm);
		if (err) {
			skipped("anon fault, fresh system, memfd arena", "umm_system_create/umm_mmap/umm_write", err);
			goto out;
		}
		err = fresh_rep(UMM_ARENA_ANON, r, &fa);
		if (err) {
			skipped("anon fault, fresh system, anon arena", "umm_system_create/umm_mmap/umm_write", err);
			goto out;
		}
		uw[r] = anon_fault_umm(mm, r, &hw, &err);
		if (!err)
			uwm[r] = anon_fault_umm(mmm, r, &hwm, &err);
		if (!err)
			uwa[r] = anon_fault_umm(amm, r, &hwa, &err);
		if (err) {
			skipped("anon fault, warm system", "umm_mmap/umm_write", err);
			goto out;
		}
		kw[r] = anon_fault_kernel(r, NULL);
		if (kf[r] < 0 || kw[r] < 0) {
			skipped("anon fault", "mmap", -errno);
			goto out;
		}
	}
	report_fresh(UMM_ARENA_AUTO, &fd, kf, kfc);
	report_fresh(UMM_ARENA_MEMFD, &fm, kf, kfc);
	report_fresh(UMM_ARENA_ANON, &fa, kf, kfc);
	report_warm(", the default configuration", sys, uw, hw, kw);
	report_warm(", memfd arena", NULL, uwm, hwm, kw);
	report_warm(", anon arena", NULL, uwa, hwa, kw);
	/* the next line is about a new memfd system alone: the other warm systems' threads go first */
	umm_mm_destroy(amm);
	amm = NULL;
	umm_system_destroy(asys);
	asys = NULL;
	umm_mm_destroy(mmm);
	mmm = NULL;
	umm_system_destroy(msys);
	msys = NULL;

	/* the populate-ahead thread given a head start */
	for (int r = 0; r < REPS; r++) {
		double wait_ms = 0, acpu = 0;

		uf[r] = anon_fault_ahead_umm(r, &wait_ms, &acpu, &err);
		if (err) {
			skipped("anon fault, fresh system after its window", "umm_system_create/umm_mmap/umm_write", err);
			goto out;
		}
		un[r] = wait_ms;
		ahead_cpu[r] = acpu;
		kf[r] = anon_fault_kernel_n(AHEAD_PAGES, r, NULL);
		if (kf[r] < 0) {
			skipped("anon fault", "mmap", -errno);
			goto out;
		}
	}
	snprintf(caveat, sizeof(caveat),
		 "different work in the loop: usermm's system (memfd arena) was left alone until its populate-ahead "
		 "thread had brought in its 16 MiB window (%.0f ms after creation, %.0f ns of that "
		 "thread's CPU per page touched, untimed), then %lu pages inside it; kernel: a fresh mmap",
		 median(un, REPS), median(ahead_cpu, REPS), AHEAD_PAGES);
	bench_report_different("anon fault, fresh system after its window (ns/page)", median(uf, REPS),
			       median(kf, REPS), caveat);
out:
	if (amm)
		umm_mm_destroy(amm);
	umm_system_destroy(asys);
	if (mmm)
		umm_mm_destroy(mmm);
	umm_system_destroy(msys);
}

/* ---- COW faults ---- */

/* One usermm COW repetition: fork, time the child's writes, destroy it. */
static double cow_umm(struct umm_mm *parent, uintptr_t a, unsigned long *cows, int *errp)
{
	struct umm_mm *child;
	uint64_t t0, t1;
	int err;

	err = umm_fork(parent, &child);
	if (err) {
		*errp = err;
		return 0;
	}
	t0 = now_ns();
	err = utouch(child, a, COW_PAGES, 0xc0c0);
	t1 = now_ns();
	*cows = umm_faults(child, true);
	umm_mm_destroy(child);
	*errp = err;
	return (double)(t1 - t0) / COW_PAGES;
}

/* cow_parent_intact - the usermm parent still sees what it wrote before the forks. */
static bool cow_parent_intact(struct umm_mm *mm, uintptr_t a)
{
	for (unsigned long i = 0; i < COW_PAGES; i++) {
		uint64_t v = 0;

		if (umm_read(mm, a + i * UPAGE, &v, sizeof(v)) || v != i)
			return false;
	}
	return true;
}

static void bench_cow_fault(struct umm_system *sys)
{
	const char *what = "COW write fault (ns/page)";
	double us[REPS], ks[REPS];
	unsigned long cows = 0;
	struct umm_mm *mm;
	struct krep rep;
	uintptr_t a;
	int err;

	err = umm_mm_create(sys, &mm);
	if (err) {
		skipped(what, "umm_mm_create", err);
		return;
	}
	err = kcall(KH_MAP, COW_PAGES, &rep);
	if (err) {
		skipped(what, "helper mmap", err);
		goto out_mm;
	}
	err = umap_anon(mm, COW_PAGES, &a);
	if (!err)
		err = utouch(mm, a, COW_PAGES, 0);
	if (err) {
		skipped(what, "umm_mmap/umm_write", err);
		goto out_unmap;
	}
	/* r < 0: an untimed warm-up of each side. */
	for (int r = -1; r < REPS; r++) {
		double ns = cow_umm(mm, a, &cows, &err);

		if (err) {
			skipped(what, "umm_fork/umm_write", err);
			goto out_unmap;
		}
		err = kcall(KH_COW, 0, &rep);
		if (err) {
			skipped(what, "helper fork", err);
			goto out_unmap;
		}
		if (r >= 0) {
			us[r] = ns;
			ks[r] = rep.cow_ns;
		}
	}
	if (!cow_parent_intact(mm, a))
		printf("# COW write fault: WRONG DATA, the usermm parent saw its child's write\n");
	bench_report_caveat(what, median(us, REPS), median(ks, REPS),
			    "usermm: writes in the umm_fork child; kernel: a child of the small "
			    "helper process times its own stores");
	printf("# COW write fault: usermm cow_faults per page %.3f\n", (double)cows / COW_PAGES);
out_unmap:
	if (!kcall(KH_UNMAP, 0, &rep) && rep.wrong)
		printf("# COW write fault: WRONG DATA, the helper saw its child's write\n");
out_mm:
	umm_mm_destroy(mm);
}

/* ---- soft-TLB hits ---- */

/*
 * tlb_umm - ns per 8-byte umm_read (or umm_write) of resident pages.  Page k
 * is accessed at offset 64 * k, so that the 16 cache lines do not all fall
 * into one L1 set (they would at a 4 KiB stride) on either side.
 */
static double tlb_umm(struct umm_mm *mm, uintptr_t a, bool write, int *errp)
{
	uint64_t t0, t1, v = 0, sum = 0;
	int err = 0;

	t0 = now_ns();
	for (unsigned long i = 0; i < TLB_ITERS && !err; i++) {
		uintptr_t addr = a + (i % TLB_PAGES) * (UPAGE + 64);

		if (write) {
			err = umm_write(mm, addr, &v, sizeof(v));
		} else {
			err = umm_read(mm, addr, &v, sizeof(v));
			sum += v;
		}
	}
	t1 = now_ns();
	*errp = err;
	__asm__ volatile("" : : "r"(sum));
	return (double)(t1 - t0) / TLB_ITERS;
}

static double tlb_kernel(char *p, bool write)
{
	uint64_t t0, t1, v = 0, sum = 0;

	t0 = now_ns();
	for (unsigned long i = 0; i < TLB_ITERS; i++) {
		char *addr = p + (i % TLB_PAGES) * (kpage + 64);

		if (write) {
			memcpy(addr, &v, sizeof(v));
		} else {
			memcpy(&v, addr, sizeof(v));
			sum += v;
		}
		/* Keep every copy: the compiler may not merge or hoist them. */
		__asm__ volatile("" : : : "memory");
	}
	t1 = now_ns();
	__asm__ volatile("" : : "r"(sum));
	return (double)(t1 - t0) / TLB_ITERS;
}

static void bench_tlb_hit(struct umm_mm *mm, bool write)
{
	const char *what = write ? "soft-TLB hit, umm_write 8 B (ns)" :
				   "soft-TLB hit, umm_read 8 B (ns)";
	double us[REPS], ks[REPS];
	uintptr_t a;
	char *p;
	int err;

	err = umap_anon(mm, TLB_PAGES, &a);
	if (err) {
		skipped(what, "umm_mmap", err);
		return;
	}
	err = utouch(mm, a, TLB_PAGES, 0);
	if (err) {
		skipped(what, "umm_write", err);
		goto out_unmap;
	}
	p = kmap_anon(TLB_PAGES * kpage);
	if (!p) {
		skipped(what, "mmap", -errno);
		goto out_unmap;
	}
	ktouch(p, TLB_PAGES, 0);
	for (int r = 0; r < REPS; r++) {
		us[r] = tlb_umm(mm, a, write, &err);
		if (err) {
			skipped(what, write ? "umm_write" : "umm_read", err);
			goto out_kunmap;
		}
		ks[r] = tlb_kernel(p, write);
	}
	bench_report_caveat(what, median(us, REPS), median(ks, REPS),
			    "kernel side is an 8-byte memcpy through a host pointer: a hardware "
			    "TLB hit, no kernel code; the ratio is the software MMU's price per access");
out_kunmap:
	munmap(p, TLB_PAGES * kpage);
out_unmap:
	umm_munmap(mm, a, TLB_PAGES * UPAGE);
}

/* ---- fork ---- */

/* fork_umm - ns for umm_fork + umm_mm_destroy of the child. */
static double fork_umm(struct umm_mm *mm, int *errp)
{
	struct umm_mm *child;
	uint64_t t0, t1;

	t0 = now_ns();
	*errp = umm_fork(mm, &child);
	if (!*errp)
		umm_mm_destroy(child);
	t1 = now_ns();
	return (double)(t1 - t0);
}

/* The medians of one fork measurement. */
struct fork_result {
	double u, k, k_fork, k_child, k_wall;
	long k_rss_kib;
};

/*
 * fork_pair - usermm's fork of `mm` alternating with the helper's fork, the
 * helper having mapped and written `pages` pages (the same count `mm` has).
 * 0 or a negative errno (after a comment line).
 */
static int fork_pair(struct umm_mm *mm, unsigned long pages, const char *what,
		     struct fork_result *res)
{
	double us[REPS], ks[REPS], kf[REPS], kc[REPS], kw[REPS];
	struct krep rep;
	int err;

	err = kcall(KH_MAP, pages, &rep);
	if (err) {
		skipped(what, "helper mmap", err);
		return err;
	}
	res->k_rss_kib = rep.rss_kib;
	/* r < 0: an untimed warm-up of each side. */
	for (int r = -1; r < REPS; r++) {
		double ns = fork_umm(mm, &err);

		if (err) {
			skipped(what, "umm_fork", err);
			goto out;
		}
		err = kcall(KH_FORK, 0, &rep);
		if (err) {
			skipped(what, "helper fork", err);
			goto out;
		}
		if (r < 0)
			continue;
		us[r] = ns;
		kf[r] = rep.fork_ns;
		kc[r] = rep.child_cpu_ns;
		kw[r] = rep.wall_ns;
		ks[r] = kf[r] + kc[r];
	}
	res->u = median(us, REPS);
	res->k = median(ks, REPS);
	res->k_fork = median(kf, REPS);
	res->k_child = median(kc, REPS);
	res->k_wall = median(kw, REPS);
out:
	if (!kcall(KH_UNMAP, 0, &rep) && rep.wrong)
		printf("# %s: WRONG DATA, the helper's pages changed\n", what);
	return err;
}

static void fork_comment(const char *what, const struct fork_result *r)
{
	printf("# %s: kernel = fork() call %.0f + child CPU until reaped %.0f; "
	       "fork() to end of waitpid() %.0f ns wall; helper VmRSS %ld KiB\n",
	       what, r->k_fork, r->k_child, r->k_wall, r->k_rss_kib);
}

/*
 * bench_fork - fork + exit of an empty address space and of one with
 * FORK_PAGES resident anonymous pages, against the helper process with
 * nothing more and with the same pages mapped.  Only the per-page
 * difference of the two is the same work on both sides.
 */
static void bench_fork(struct umm_system *sys)
{
	const char *what0 = "fork+exit, empty (ns)";
	char what1[64];
	struct fork_result r0, r1;
	struct umm_mm *mm;
	char caveat[256];

	uintptr_t a;
	int err;

	snprintf(what1, sizeof(what1), "fork+exit, %lu anon pages (ns)", FORK_PAGES);
	err = umm_mm_create(sys, &mm);
	if (err) {
		skipped(what0, "umm_mm_create", err);
		return;
	}
	if (fork_pair(mm, 0, what0, &r0))
		goto out_mm;
	snprintf(caveat, sizeof(caveat),
		 "different work: the kernel creates and reaps a process (the helper, VmRSS %ld KiB); "
		 "usermm copies an empty address space", r0.k_rss_kib);
	bench_report_different(what0, r0.u, r0.k, caveat);
	fork_comment(what0, &r0);
	err = umap_anon(mm, FORK_PAGES, &a);
	if (!err)
		err = utouch(mm, a, FORK_PAGES, 0);
	if (err) {
		skipped(what1, "umm_mmap/umm_write", err);
		goto out_mm;
	}
	if (fork_pair(mm, FORK_PAGES, what1, &r1))
		goto out_mm;
	snprintf(caveat, sizeof(caveat),
		 "the kernel's figure includes a process creation (line above); helper VmRSS %ld KiB",
		 r1.k_rss_kib);
	bench_report_different(what1, r1.u, r1.k, caveat);
	fork_comment(what1, &r1);
	snprintf(caveat, sizeof(caveat), "(%lu-page line - empty line) / %lu on each side: what one "
		 "more resident private page costs fork + exit", FORK_PAGES, FORK_PAGES);
	bench_report_caveat("fork+exit, per resident anon page (ns)",
			    (r1.u - r0.u) / FORK_PAGES, (r1.k - r0.k) / FORK_PAGES, caveat);
out_mm:
	umm_mm_destroy(mm);
}

/* ---- munmap ---- */

static void bench_munmap(struct umm_mm *mm)
{
	char what[64];
	double us[REPS], ks[REPS];
	uint64_t t0, t1;
	uintptr_t a;
	char *p;

	int err;

	snprintf(what, sizeof(what), "munmap, %lu anon pages (ns)", FORK_PAGES);
	for (int r = 0; r < REPS; r++) {
		err = umap_anon(mm, FORK_PAGES, &a);
		if (!err)
			err = utouch(mm, a, FORK_PAGES, r);
		if (err) {
			skipped(what, "umm_mmap/umm_write", err);
			return;
		}
		t0 = now_ns();
		err = umm_munmap(mm, a, FORK_PAGES * UPAGE);
		t1 = now_ns();
		if (err) {
			skipped(what, "umm_munmap", err);
			return;
		}
		us[r] = (double)(t1 - t0);

		p = kmap_anon(FORK_PAGES * kpage);
		if (!p) {
			skipped(what, "mmap", -errno);
			return;
		}
		ktouch(p, FORK_PAGES, r);
		t0 = now_ns();
		munmap(p, FORK_PAGES * kpage);
		t1 = now_ns();
		ks[r] = (double)(t1 - t0);
	}
	bench_report_caveat(what, median(us, REPS), median(ks, REPS),
			    "usermm frees frames to its allocator; the kernel frees pages and "
			    "flushes the hardware TLB");
}

int main(int argc, char **argv)
{
	struct umm_system *sys;
	struct umm_mm *mm;
	int err;

	bench_init(argc, argv, "page faults (file, anonymous fresh and warm, copy-on-write), "
		   "soft-TLB hits, fork+exit and munmap against the kernel's");
	kpage = (size_t)sysconf(_SC_PAGESIZE);
	/* First, before any usermm memory exists: the small helper process. */
	err = bench_helper_start(&helper, kh_serve, sizeof(struct kreq), sizeof(struct krep));
	bench_machine_line();
	printf("# median of %d repetitions; faults in ns per page over batches of %lu (file, anon) "
	       "and %lu (COW) pages; usermm phys %lu MiB\n",
	       REPS, FILE_PAGES, COW_PAGES, PHYS_BYTES >> 20);
	print_loadavg();
	if (err)
		printf("# helper process: %s; no fork or COW lines\n", umm_strerror(err));
	if (bench_start(PHYS_BYTES, kpage, &sys, &mm)) {
		if (!sys)
			return 1;
		goto out_sys;
	}
	bench_file_fault(sys, mm);
	bench_anon_fault(sys, mm);
	bench_tlb_hit(mm, false);
	bench_tlb_hit(mm, true);
	if (!err) {
		bench_cow_fault(sys);
		bench_fork(sys);
	}
	bench_munmap(mm);
	umm_mm_destroy(mm);
out_sys:
	umm_system_destroy(sys);
	bench_helper_stop(&helper);
	return 0;
}
