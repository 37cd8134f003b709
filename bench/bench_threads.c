/* SPDX-License-Identifier: MIT */
/*
 * bench_threads.c - page faults and soft-TLB hits from several threads in
 * ONE address space, usermm next to the Linux kernel doing the same job,
 * for 1, 2 and 4 threads (4 oversubscribes a 2-CPU machine on purpose).
 *
 *   anon write fault   each thread writes 8 bytes to each page of its own
 *                      16 MiB slice of one fresh private anonymous mapping
 *   file minor fault   each thread reads 1 byte from each page of its own
 *                      16 MiB slice of a fresh MAP_SHARED PROT_READ mapping
 *                      of a 64 MiB temp file already in the page cache
 *   file COW fault     each thread writes 8 bytes to each page of its own
 *                      slice of a fresh MAP_PRIVATE read-write mapping of
 *                      the same cached file, whose pages it first read
 *                      (untimed), so every write copies a page-cache page
 *                      into a private anonymous page (both sides)
 *   fork COW fault     each thread writes 8 bytes to each page of its own
 *                      16 MiB slice of a private anonymous mapping written
 *                      before a fork, while the forked child still holds
 *                      the pages (every write copies); the kernel's side
 *                      runs in a small helper process (see "Fork COW" below)
 *   zeroing reference  each thread memsets every page of its 16 MiB slice
 *                      of a populated host buffer, caches evicted first: the
 *                      work an anonymous write fault does to its cold frame
 *                      (on both sides), alone, printed as comment lines
 *                      (bench_reference)
 *   copying reference  likewise with a memcpy of each page from a second
 *                      populated buffer: a copy-on-write fault's work
 *   soft-TLB hit       each thread does TLB_ITERS 8-byte umm_reads cycling
 *                      over 16 resident pages shared by all threads, against
 *                      an 8-byte memcpy through a host pointer
 *
 * Each thread's slice is 16 MiB unless UMM_BENCH_THREADS_SLICE_MIB says
 * otherwise (1-1024 MiB; the system and the file grow with it): with
 * 16 MiB a job lasts 0.5-2.5 ms, about a scheduler slice, so the
 * 4-thread lines then measure the scheduler's hand-over as much as the
 * faults, and part of the zeroing stays in a 32 MiB L3 (set_sizes).
 *
 * Each measurement prints a result line: "wall" is the wall time of the
 * whole batch (first thread's start to last thread's end) divided by the
 * pages (accesses) of all threads, the inverse of aggregate throughput,
 * with a caveat line (fault counts per page).  Comment lines give "per
 * thread", each thread's own elapsed time divided by its own pages
 * averaged over the threads, "CPU per page", the CPU time of all threads
 * divided by all their pages (what the work cost in CPU; other processes
 * taking the CPUs lengthen the wall time, not this, though they may still
 * slow it through shared caches, and a thread spinning on a lock adds to
 * it), the throughput, its scaling against one thread, "CPUs busy" and
 * the other processes' load.  CPUs busy is the CPU
 * time of all threads (CLOCK_THREAD_CPUTIME_ID) over the wall time, that
 * is how many CPUs the threads kept busy; a thread asleep on a lock, or
 * waiting for a CPU that another process holds, lowers it.  The other
 * processes' load is the machine's busy time from /proc/stat minus this
 * process's and the helper's CPU time, over the whole measurement (see
 * load_begin).  When the kernel's threads keep fewer CPUs busy than they
 * could, a LOW CPU line says so.  At the end a markdown table sums up the
 * scaling and "target" lines judge the fault-scaling targets, but
 * only where the other processes left the CPUs free.
 *
 * Timing.  Each repetition runs on a pool of fresh worker threads
 * (created and joined outside the timed region; see run_series for why
 * they are not kept).  A fresh thread's first fault sets up its software
 * TLB and takes a frame cache, inside the timed region: once per thread
 * per 4096 pages.  Per repetition the main
 * thread creates the mapping (umm_mmap/mmap, untimed), publishes the job
 * and meets the workers at the `start` barrier; each worker runs its
 * untimed preparation (filling its TLB for the hit measurement), the
 * workers meet at `ready` (workers only) and then spin (yielding when
 * oversubscribed) until every worker has left the barrier, so that none
 * starts before the others are awake (see all_running); each takes its own
 * start time, does its slice, takes its end time and meets the main thread
 * at `done`.  The main thread then checks the data (untimed) and removes
 * the mapping.  Within a repetition the usermm side runs first, then the
 * kernel side.  A measurement runs one untimed warm-up round and then
 * REPS rounds, and each round runs one repetition with each thread count,
 * in an order that rotates from round to round (run_series): a slow phase
 * of the machine falls on the 1-, 2- and 4-thread runs alike, and the
 * runs compared are close together in time.  Each figure is the median
 * of the REPS repetitions; the scaling ("x1.85 of 1 thread") is the
 * median of the REPS per-round ratios, not a ratio of two medians.
 *
 * Sizes against the caches (2 CPUs, L2 2 MiB each, L3 32 MiB shared, on
 * the development VM): each thread's slice is 16 MiB, 1-4 slices are
 * touched per repetition, and the other side's repetition runs in
 * between, so the frames a fault zeroes or copies are mostly not in the
 * caches: the fault measurements include the memory (DRAM) bandwidth of
 * zeroing and copying, shared by the threads, not only the fault path.
 * The zeroing and copying references measure that bandwidth part alone.  The soft-TLB
 * hit measurement works on 16 cache lines and measures the path alone.
 *
 * What scaling to expect is left to the measurement: usermm locks each
 * page-table page (pte table) separately, as the kernel does, and a
 * thread's 16 MiB slice has pte tables of its own; a fault's mmap_lock
 * read hold and its RSS/fault counters touch only the faulting thread's
 * own stripes, and a frame from the thread's own cache touches no shared
 * counter.  What the threads of one address space still share: the
 * allocator's zone lock (a cache refill of one 16-frame block every 16
 * frames), the LRU lock (every 31 pages added), the page cache's tree on
 * a file fault.  And the memory system: an anonymous write fault zeroes a
 * frame and a COW fault copies one, 4 KiB of stores to memory that is
 * cold here (the kernel's repetition in between evicts the caches), so
 * two threads faulting at once share the memory bandwidth and each
 * page's zeroing or copy takes longer than with one thread.  On the
 * 2-vCPU development VM (loaded by other work), the anonymous loop alone
 * (16 MiB per thread, no kernel repetitions in between) took 150 ns of
 * CPU per page with one thread and 200 ns with two in the best
 * repetitions; a test build that skipped the zeroing of anonymous frames
 * took 77-83 ns with one or two.  Other ways of zeroing and copying
 * (rep stosb, AVX2 or AVX-512 stores; non-temporal stores or clzero,
 * which avoid reading the line first) were measured outside this
 * benchmark: the first kind within 10-15% of memset/memcpy, the second
 * about twice as slow cold and 8 times cached, the faulting access then
 * missing (docs/BENCHMARKS.md).  The
 * kernel, in recent versions, handles most faults under a per-VMA lock
 * instead of mmap_lock.  A COW fault replaces a present pte and so must
 * flush the TLBs of the other CPUs running the address space, which a
 * first-touch fault need not; usermm's soft TLB skips the threads whose
 * translations cannot lie in the page's 2 MiB region (each thread's
 * slice here is 2 MiB-aligned: the mappings are multiples of 2 MiB,
 * placed on a 2 MiB boundary).  Soft-TLB hits take no lock on either side.
 *
 * Fork COW.  A fork of this process would copy and write-protect usermm's own
 * structures too, so the kernel's COW side runs in a helper process forked
 * first thing in main(), before any usermm memory exists: it maps and
 * writes the same pages, runs its own pool of threads, and per repetition
 * forks a child that only waits while the threads write.
 *
 * As in bench_fault.c: kernel accesses are loads and stores through the
 * mmap()ed pointer, kernel mappings get MADV_NOHUGEPAGE, the kernel's file
 * fault-around is left on, the data read back is checked (a mismatch
 * prints WRONG DATA) and a measurement that cannot run prints a comment
 * line and the benchmark goes on.
 *
 * Synchronization: the three pthread barriers of a pool (and its `gate`
 * mutex, passed once by each worker at its start); the job fields
 * are written by the main thread only while the workers wait at `start`,
 * and each worker writes only its own (cache-line aligned) result slot.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <usermm/usermm.h>
#include "bench.h"

#define REPS_MAX     7
#define REPS         BENCH_SIZE(REPS_MAX, 1)
#define MAX_THREADS  4
/* pages per thread: 4096 (16 MiB), or UMM_BENCH_THREADS_SLICE_MIB MiB (set_sizes) */
#define SLICE_PAGES  slice_pages
#define FILE_PAGES   (SLICE_PAGES * MAX_THREADS)   /* the temp file: 64 MiB by default */
#define TLB_PAGES    16UL
#define TLB_ITERS    BENCH_SIZE(1UL << 23, 1UL << 12)
#define PHYS_BYTES   phys_bytes   /* 512 MiB, more for larger slices (set_sizes) */

#define UPAGE UMM_PAGE_SIZE

static const int thread_counts[] = { 1, 2, 4 };
#define NR_COUNTS ((int)(sizeof(thread_counts) / sizeof(thread_counts[0])))

static unsigned long slice_pages;   /* SLICE_PAGES */
static size_t phys_bytes;           /* PHYS_BYTES */

/*
 * set_sizes - the slice and the system: 16 MiB per thread in a 512 MiB
 * system (--quick: 512 KiB, 64 MiB), or UMM_BENCH_THREADS_SLICE_MIB
 * (1-1024) MiB per thread in a system of at least six times the 4
 * threads' slices (file cache and copy-on-write copies, fork's two
 * sides).  Longer jobs measure the faults more and the threads' start
 * and the scheduler's hand-over less (docs/BENCHMARKS.md).
 */
static void set_sizes(void)
{
	const char *env = getenv("UMM_BENCH_THREADS_SLICE_MIB");
	unsigned long mib = env ? strtoul(env, NULL, 10) : 0;

	slice_pages = BENCH_SIZE(4096UL, 128UL);
	phys_bytes = BENCH_SIZE(512UL << 20, 64UL << 20);
	if (mib >= 1 && mib <= 1024) {
		slice_pages = mib << (20 - UMM_PAGE_SHIFT);
		if (phys_bytes < 6 * MAX_THREADS * (mib << 20))
			phys_bytes = 6 * MAX_THREADS * (mib << 20);
	}
}

static size_t kpage;                /* the host's page size */
static int nr_cpus;                 /* online CPUs */

struct pool;

/* One worker's slot: written by that worker only, read by main after `done`. */
struct worker {
	struct pool *pool;
	int idx;
	pthread_t tid;
	uint64_t t0, t1;                /* wall clock around the timed work */
	uint64_t c0, c1;                /* this thread's CPU time, likewise */
	unsigned long sum;
	int err;
} __attribute__((aligned(64)));

/* The job the workers run; changed by main only while they wait at `start`. */
struct pool {
	int nr;
	pthread_mutex_t gate;           /* held by main while it creates the workers */
	pthread_barrier_t start;        /* main + workers: a job is published */
	pthread_barrier_t ready;        /* workers: all prepared, go */
	pthread_barrier_t done;         /* main + workers: all finished */
	bool stop;
	_Atomic int running;            /* workers past `ready` (all_running) */
	void (*prepare)(struct pool *pl, struct worker *w);
	void (*work)(struct pool *pl, struct worker *w);
	struct umm_mm *mm;
	uintptr_t ua;                   /* usermm mapping */
	char *kp;                       /* kernel mapping */
	uint64_t tag;
	struct worker w[MAX_THREADS];
};

/* One repetition's figures. */
struct sample {
	double wall;                    /* ns per page (access), all threads */
	double thread;                  /* mean of the threads' ns per page */
	double busy;                    /* the threads' CPU time / wall time */
	double cpu;                     /* the threads' CPU time / all threads' pages (accesses) */
};

/* The medians of one measurement, kept to compute scaling. */
struct result {
	double u_wall, k_wall, u_thr, k_thr, u_busy, k_busy, u_cpu, k_cpu;
	double others;                  /* CPUs other processes used meanwhile (load_end) */
	double u_x1, k_x1;              /* scaling against 1 thread: median of per-repetition ratios */
	double u_xprev, k_xprev;        /* likewise against the previous thread count */
	bool ok;
};

static unsigned long umm_minflt(struct umm_mm *mm)
{
	struct umm_mm_stats st;

	if (umm_mm_stats(mm, &st))
		return 0;
	return st.minor_faults;
}

/* ---- the workers ---- */

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * all_running - wait until every worker has left the `ready` barrier.  A
 * barrier returns at once in the thread that arrives last and wakes the
 * others; on this guest waking an idle vCPU can take longer than a whole
 * slice of faults, and without this rendezvous the threads would run one
 * after the other.  Oversubscribed, the waiters yield their CPU.
 */
static void all_running(struct pool *pl)
{
	atomic_fetch_add(&pl->running, 1);
	while (atomic_load(&pl->running) < pl->nr)
		if (pl->nr > nr_cpus)
			sched_yield();
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pool *pl = w->pool;

	pthread_mutex_lock(&pl->gate);
	pthread_mutex_unlock(&pl->gate);
	if (pl->stop)
		return NULL;
	for (;;) {
		pthread_barrier_wait(&pl->start);
		if (pl->stop)
			break;
		w->err = 0;
		w->sum = 0;
		if (pl->prepare)
			pl->prepare(pl, w);
		pthread_barrier_wait(&pl->ready);
		all_running(pl);
		w->t0 = now_ns();
		w->c0 = thread_cpu_ns();
		if (!w->err)
			pl->work(pl, w);
		w->c1 = thread_cpu_ns();
		w->t1 = now_ns();
		pthread_barrier_wait(&pl->done);
	}
	return NULL;
}

static void pool_destroy(struct pool *pl)
{
	pthread_barrier_destroy(&pl->start);
	pthread_barrier_destroy(&pl->ready);
	pthread_barrier_destroy(&pl->done);
	pthread_mutex_destroy(&pl->gate);
}

/*
 * pool_start - nr workers waiting for a job; 0 or a negative errno.  The
 * workers pass `gate` before they touch a barrier, so that if a thread
 * cannot be created the ones that were can leave without meeting it.
 */
static int pool_start(struct pool *pl, int nr)
{
	int i, err = 0;

	memset(pl, 0, sizeof(*pl));
	pl->nr = nr;
	pthread_mutex_init(&pl->gate, NULL);
	pthread_barrier_init(&pl->start, NULL, (unsigned)nr + 1);
	pthread_barrier_init(&pl->ready, NULL, (unsigned)nr);
	pthread_barrier_init(&pl->done, NULL, (unsigned)nr + 1);
	pthread_mutex_lock(&pl->gate);
	for (i = 0; i < nr && !err; i++) {
		pl->w[i].pool = pl;
		pl->w[i].idx = i;
		err = pthread_create(&pl->w[i].tid, NULL, worker_main, &pl->w[i]);
	}
	if (err) {
		i--;
		pl->stop = true;
	}
	pthread_mutex_unlock(&pl->gate);
	if (!err)
		return 0;
	while (i--)
		pthread_join(pl->w[i].tid, NULL);
	pool_destroy(pl);
	return -err;
}

static void pool_stop(struct pool *pl)
{
	pl->stop = true;
	pthread_barrier_wait(&pl->start);
	for (int i = 0; i < pl->nr; i++)
		pthread_join(pl->w[i].tid, NULL);
	pool_destroy(pl);
}

/*
 * pool_run - run the published job once on every worker; `per_thread` is
 * the pages (accesses) each does.  Returns the first worker error (0 if
 * none) and fills *s.
 */
static int pool_run(struct pool *pl, unsigned long per_thread, struct sample *s)
{
	uint64_t first = UINT64_MAX, last = 0;
	double thr = 0, cpu = 0;
	int err = 0;

	atomic_store(&pl->running, 0);
	pthread_barrier_wait(&pl->start);
	pthread_barrier_wait(&pl->done);
	for (int i = 0; i < pl->nr; i++) {
		struct worker *w = &pl->w[i];

		if (w->t0 < first)
			first = w->t0;
		if (w->t1 > last)
			last = w->t1;
		thr += (double)(w->t1 - w->t0) / per_thread;
		cpu += (double)(w->c1 - w->c0);
		if (w->err && !err)
			err = w->err;
	}
	s->wall = (double)(last - first) / ((double)per_thread * pl->nr);
	s->thread = thr / pl->nr;
	s->busy = cpu / (double)(last - first);
	s->cpu = cpu / ((double)per_thread * pl->nr);
	return err;
}

/* ---- the jobs: each worker's slice starts at page idx * SLICE_PAGES ---- */

static void anon_umm(struct pool *pl, struct worker *w)
{
	unsigned long first = (unsigned long)w->idx * SLICE_PAGES;

	for (unsigned long i = first; i < first + SLICE_PAGES; i++) {
		uint64_t v = pl->tag + i;

		w->err = umm_write(pl->mm, pl->ua + i * UPAGE, &v, sizeof(v));
		if (w->err)
			return;
	}
}

static void anon_kernel(struct pool *pl, struct worker *w)
{
	unsigned long first = (unsigned long)w->idx * SLICE_PAGES;

	for (unsigned long i = first; i < first + SLICE_PAGES; i++)
		*(volatile uint64_t *)(pl->kp + i * kpage) = pl->tag + i;
}

static void file_umm(struct pool *pl, struct worker *w)
{
	unsigned long first = (unsigned long)w->idx * SLICE_PAGES;
	uint8_t c;

	for (unsigned long i = first; i < first + SLICE_PAGES; i++) {
		w->err = umm_read(pl->mm, pl->ua + i * UPAGE, &c, 1);
		if (w->err)
			return;
		w->sum += c;
	}
}

static void file_kernel(struct pool *pl, struct worker *w)
{
	unsigned long first = (unsigned long)w->idx * SLICE_PAGES;

	for (unsigned long i = first; i < first + SLICE_PAGES; i++)
		w->sum += *(volatile uint8_t *)(pl->kp + i * kpage);
}

/* COW: the untimed read pass maps the cache pages read-only, the write copies. */
static void cow_umm_prep(struct pool *pl, struct worker *w)
{
	file_umm(pl, w);
}

static void cow_kernel_prep(struct pool *pl, struct worker *w)
{
	file_kernel(pl, w);
}

static void cow_umm(struct pool *pl, struct worker *w)
{
	anon_umm(pl, w);
}

static void cow_kernel(struct pool *pl, struct worker *w)
{
	anon_kernel(pl, w);
}

/*
 * The hit loops access page k at offset 64 * k, so that the 16 cache lines
 * do not all fall into one L1 set (as in bench_fault.c).
 */
static void tlb_umm_loop(struct pool *pl, struct worker *w, unsigned long iters)
{
	uint64_t v = 0, sum = 0;

	for (unsigned long i = 0; i < iters; i++) {
		uintptr_t addr = pl->ua + (i % TLB_PAGES) * (UPAGE + 64);

		w->err = umm_read(pl->mm, addr, &v, sizeof(v));
		if (w->err)
			break;
		sum += v;
	}
	w->sum = sum;
}

static void tlb_kernel_loop(struct pool *pl, struct worker *w, unsigned long iters)
{
	uint64_t v = 0, sum = 0;

	for (unsigned long i = 0; i < iters; i++) {
		memcpy(&v, pl->kp + (i % TLB_PAGES) * (kpage + 64), sizeof(v));
		sum += v;
		/* Keep every copy: the compiler may not merge or hoist them. */
		__asm__ volatile("" : : : "memory");
	}
	w->sum = sum;
}

/* Preparation: one pass fills this thread's software TLB (and caches). */
static void tlb_umm_prep(struct pool *pl, struct worker *w)
{
	tlb_umm_loop(pl, w, TLB_PAGES);
}

static void tlb_kernel_prep(struct pool *pl, struct worker *w)
{
	tlb_kernel_loop(pl, w, TLB_PAGES);
}

static void tlb_umm(struct pool *pl, struct worker *w)
{
	tlb_umm_loop(pl, w, TLB_ITERS);
}

static void tlb_kernel(struct pool *pl, struct worker *w)
{
	tlb_kernel_loop(pl, w, TLB_ITERS);
}

/* ---- the load the rest of the machine put on the CPUs ---- */

/*
 * A probe around one whole measurement (all repetitions, both sides): the
 * machine's busy CPU time from /proc/stat (user, nice, system, irq,
 * softirq and steal: the host running something else on our vCPU counts
 * as load too) minus the CPU time of this process and of the helper is
 * what other processes took meanwhile.  /proc/stat counts in clock ticks
 * (10 ms here), so the figure is coarse for a measurement of ~0.1 s.
 */
struct load_probe {
	uint64_t wall;                  /* now_ns() */
	double machine_ns;              /* busy CPU time of all CPUs */
	double self_ns;                 /* this process's CPU time */
};

static double machine_busy_ns(void)
{
	unsigned long long v[8] = { 0 };
	double busy = 0;
	FILE *f = fopen("/proc/stat", "r");

	if (!f)
		return 0;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
		   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8)
		/* user nice system [idle iowait] irq softirq steal */
		busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * 1e9 /
		       (double)sysconf(_SC_CLK_TCK);
	fclose(f);
	return busy;
}

/* self_cpu_ns - CPU time of this process (all threads) and its reaped children. */
static double self_cpu_ns(void)
{
	struct rusage ru, rc;

	getrusage(RUSAGE_SELF, &ru);
	getrusage(RUSAGE_CHILDREN, &rc);
	return bench_tv_ns(&ru.ru_utime) + bench_tv_ns(&ru.ru_stime) +
	       bench_tv_ns(&rc.ru_utime) + bench_tv_ns(&rc.ru_stime);
}

static void load_begin(struct load_probe *lp)
{
	lp->wall = now_ns();
	lp->machine_ns = machine_busy_ns();
	lp->self_ns = self_cpu_ns();
}

/*
 * load_end - CPUs (CPU time / wall time) that other processes used since
 * load_begin; `helper_ns` is the helper's CPU time in that interval.
 */
static double load_end(const struct load_probe *lp, double helper_ns)
{
	double wall = (double)(now_ns() - lp->wall);
	double others = machine_busy_ns() - lp->machine_ns - (self_cpu_ns() - lp->self_ns) - helper_ns;

	return wall > 0 && others > 0 ? others / wall : 0;
}

/* ---- running a measurement: all thread counts, interleaved ---- */

/* What one thread count's repetitions counted besides their samples. */
struct tally {
	long uf, kf, uh;                /* usermm faults, kernel faults, host faults in usermm runs */
	bool wrong;                     /* data read back did not match */
};

/* One measurement at every thread count: each repetition's samples. */
struct series {
	struct sample us[NR_COUNTS][REPS_MAX], ks[NR_COUNTS][REPS_MAX];
	struct tally t[NR_COUNTS];
	double others;                  /* CPUs other processes used (load_end) */
};

/*
 * rep_fn - one repetition of a measurement on pool `pl` (pl->nr threads):
 * the usermm side into *us, the kernel side into *ks, counts into *t.
 * r < 0 is the untimed warm-up.  0 or a negative errno.
 */
typedef int (*rep_fn)(struct pool *pl, int r, void *ctx, struct sample *us,
		      struct sample *ks, struct tally *t);

/*
 * run_series - one untimed warm-up round, then REPS rounds; a round runs
 * one repetition with each thread count, in an order that rotates from
 * round to round, so that a slow phase of the machine (another process, the
 * host) falls on all thread counts alike rather than on one of them and
 * every count follows every other.  Each repetition gets a pool of fresh
 * threads, joined after it: a thread of usermm keeps its software TLB,
 * and the regions it covers, until it accesses the address space again
 * or exits, so idle threads kept from another thread count's repetition
 * would make every COW fault's flush wait for them (the kernel flushes
 * only the CPUs running the address space).  Creating and joining the
 * threads is outside the timed region.  `helper_ns`, if not NULL, is read
 * at the end: the helper's CPU time during the measurement.  0 or a
 * negative errno (after a comment line saying what failed).
 */
static int run_series(const char *test, struct umm_mm *mm, rep_fn fn, void *ctx,
		      struct series *s, const double *helper_ns)
{
	struct load_probe lp;
	int err = 0;

	memset(s->t, 0, sizeof(s->t));
	load_begin(&lp);
	for (int r = -1; r < REPS && !err; r++) {
		for (int i = 0; i < NR_COUNTS && !err; i++) {
			int c = (i + r + 1) % NR_COUNTS;
			struct sample wu, wk;
			struct tally wt = { 0 };
			struct pool pl;

			err = pool_start(&pl, thread_counts[c]);
			if (err) {
				skipped(test, "pthread_create", err);
				return err;
			}
			pl.mm = mm;
			err = r < 0 ? fn(&pl, r, ctx, &wu, &wk, &wt) :
				      fn(&pl, r, ctx, &s->us[c][r], &s->ks[c][r], &s->t[c]);
			pool_stop(&pl);
		}
	}
	s->others = load_end(&lp, helper_ns ? *helper_ns : 0);
	if (err)
		skipped(test, "a repetition", err);
	return err;
}

/* ---- reporting ---- */

/* median_of - the median of one field over the repetitions. */
static double median_of(const struct sample *s, size_t field)
{
	double v[REPS];

	for (int r = 0; r < REPS; r++)
		v[r] = *(const double *)((const char *)&s[r] + field);
	return median(v, REPS);
}

/*
 * median_ratio - the median over the repetitions of a[r].wall / b[r].wall:
 * the scaling of b's thread count against a's, each repetition's pair
 * taken close together in time (see run_series).
 */
static double median_ratio(const struct sample *a, const struct sample *b)
{
	double v[REPS];

	for (int r = 0; r < REPS; r++)
		v[r] = a[r].wall / b[r].wall;
	return median(v, REPS);
}

/*
 * median_cpu_ratio - the median over the repetitions of b[r].cpu / a[r].cpu:
 * how much more CPU time a page (access) took with b's thread count than
 * with a's, the threads slowing each other down (shared locks, lines,
 * memory bandwidth) while they ran at once.  Other processes' load
 * lengthens the wall time far more than this, but when they keep the
 * threads from running at the same time (CPUs busy near 1) it shows less
 * of the slowdown than there is.
 */
static double median_cpu_ratio(const struct sample *a, const struct sample *b)
{
	double v[REPS];

	for (int r = 0; r < REPS; r++)
		v[r] = b[r].cpu / a[r].cpu;
	return median(v, REPS);
}

/*
 * report - for thread count index c of series s: the result line (wall
 * time per page, the inverse of the aggregate throughput) with `caveat`,
 * and comment lines with each thread's own time per page, the CPU time
 * per page, the aggregate rate, its scaling against one thread (median of
 * the per-repetition ratios) and how many CPUs the threads kept busy.
 */
static void report(const char *test, const char *unit, int c, const struct series *s,
		   struct result *res, const char *caveat)
{
	const struct sample *us = s->us[c], *ks = s->ks[c];
	int nr = thread_counts[c];
	char name[64];

	res->u_wall = median_of(us, offsetof(struct sample, wall));
	res->k_wall = median_of(ks, offsetof(struct sample, wall));
	res->u_thr = median_of(us, offsetof(struct sample, thread));
	res->k_thr = median_of(ks, offsetof(struct sample, thread));
	res->u_busy = median_of(us, offsetof(struct sample, busy));
	res->k_busy = median_of(ks, offsetof(struct sample, busy));
	res->u_cpu = median_of(us, offsetof(struct sample, cpu));
	res->k_cpu = median_of(ks, offsetof(struct sample, cpu));
	res->others = s->others;
	if (c > 0) {
		res->u_x1 = median_ratio(s->us[0], us);
		res->k_x1 = median_ratio(s->ks[0], ks);
		res->u_xprev = median_ratio(s->us[c - 1], us);
		res->k_xprev = median_ratio(s->ks[c - 1], ks);
	}
	res->ok = true;
	snprintf(name, sizeof(name), "%s %d thr: wall/%s (ns)", test, nr,
		 strcmp(unit, "accesses") ? "page" : "access");
	bench_report_caveat(name, res->u_wall, res->k_wall, caveat);
	bench_extra("threads", nr);
	bench_extra("cpus_busy_usermm", res->u_busy);
	bench_extra("cpus_busy_kernel", res->k_busy);
	bench_extra("other_load_cpus", res->others);
	bench_extra("cpu_ns_usermm", res->u_cpu);
	bench_extra("cpu_ns_kernel", res->k_cpu);
	if (c > 0) {
		bench_extra("scaling_usermm", res->u_x1);
		bench_extra("scaling_kernel", res->k_x1);
	}
	printf("# %s %d thr: per thread (ns): usermm %.1f, kernel %.1f\n",
	       test, nr, res->u_thr, res->k_thr);
	printf("# %s %d thr: CPU per %s (ns): usermm %.1f, kernel %.1f",
	       test, nr, strcmp(unit, "accesses") ? "page" : "access", res->u_cpu, res->k_cpu);
	if (c > 0)
		printf(", x%.2f and x%.2f of 1 thread's (median of the repetitions' ratios)",
		       median_cpu_ratio(s->us[0], us), median_cpu_ratio(s->ks[0], ks));
	printf("\n");
	printf("# %s %d thr%s: usermm %.2f M %s/s, kernel %.2f M %s/s",
	       test, nr, nr > nr_cpus ? " (oversubscribed)" : "",
	       1e3 / res->u_wall, unit, 1e3 / res->k_wall, unit);
	if (c > 0)
		printf(", x%.2f and x%.2f of 1 thread (median of the repetitions' ratios)",
		       res->u_x1, res->k_x1);
	printf("; CPUs busy usermm %.2f, kernel %.2f; other processes used %.2f CPUs meanwhile\n",
	       res->u_busy, res->k_busy, res->others);
	if (res->k_busy < 0.8 * (nr < nr_cpus ? nr : nr_cpus))
		printf("# %s %d thr: LOW CPU, the kernel's threads kept only %.2f CPUs busy "
		       "(other load, or the kernel's threads waited)\n", test, nr, res->k_busy);
}

/* report_series - report() for every thread count; caveat(c) gives each caveat. */
static void report_series(const char *test, const char *unit, const struct series *s,
			  struct result *res, void (*caveat)(const struct series *s, int c,
							    char *buf, size_t len))
{
	char buf[192];

	for (int c = 0; c < NR_COUNTS; c++) {
		caveat(s, c, buf, sizeof(buf));
		if (s->t[c].wrong)
			printf("# %s %d thr: WRONG DATA read back\n", test, thread_counts[c]);
		report(test, unit, c, s, &res[c], buf);
	}
}

/* pages_of - all threads' pages of thread count index c over the repetitions. */
static double pages_of(int c)
{
	return (double)SLICE_PAGES * thread_counts[c] * REPS;
}

/* ---- anonymous write faults ---- */

/* anon_check - every page of both mappings holds what its writer stored. */
static bool anon_check(struct pool *pl, unsigned long pages)
{
	for (unsigned long i = 0; i < pages; i++) {
		uint64_t v = 0;

		if (umm_read(pl->mm, pl->ua + i * UPAGE, &v, sizeof(v)) || v != pl->tag + i)
			return false;
		if (*(volatile uint64_t *)(pl->kp + i * kpage) != pl->tag + i)
			return false;
	}
	return true;
}

/* anon_rep - one repetition on both sides (a rep_fn). */
static int anon_rep(struct pool *pl, int r, void *ctx, struct sample *us, struct sample *ks,
		    struct tally *t)
{
	unsigned long pages = SLICE_PAGES * (unsigned long)pl->nr;
	unsigned long u0;
	long k0;
	int err;

	(void)ctx;
	pl->tag = ((uint64_t)(r + 2) << 32) | (uint64_t)pl->nr << 24;
	err = umm_mmap(pl->mm, 0, pages * UPAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &pl->ua);
	if (err)
		return err;
	pl->kp = kmap_anon(pages * kpage);
	if (!pl->kp) {
		err = -errno;
		goto out_umap;
	}
	pl->prepare = NULL;
	pl->work = anon_umm;
	u0 = umm_minflt(pl->mm);
	k0 = minflt();
	err = pool_run(pl, SLICE_PAGES, us);
	t->uh += minflt() - k0;
	t->uf += (long)(umm_minflt(pl->mm) - u0);
	if (err)
		goto out_kunmap;
	pl->work = anon_kernel;
	k0 = minflt();
	pool_run(pl, SLICE_PAGES, ks);
	t->kf += minflt() - k0;
	if (!anon_check(pl, pages))
		t->wrong = true;
out_kunmap:
	munmap(pl->kp, pages * kpage);
out_umap:
	umm_munmap(pl->mm, pl->ua, pages * UPAGE);
	return err;
}

static void anon_caveat(const struct series *s, int c, char *buf, size_t len)
{
	snprintf(buf, len, "faults per page usermm %.3f, kernel %.3f; usermm's frames warm "
		 "(host faults per page during usermm runs %.3f)", s->t[c].uf / pages_of(c),
		 s->t[c].kf / pages_of(c), s->t[c].uh / pages_of(c));
}

static void bench_anon(struct umm_mm *mm, struct result *res)
{
	static struct series s;

	if (!run_series("anon fault", mm, anon_rep, NULL, &s, NULL))
		report_series("anon fault", "faults", &s, res, anon_caveat);
}

/* ---- reference: the memory system alone ---- */

#define EVICT_BYTES BENCH_SIZE(64UL << 20, 1UL << 20)

/* zero_work - memset each page of this worker's slice of a host buffer and store 8 bytes in it. */
static void zero_work(struct pool *pl, struct worker *w)
{
	unsigned long first = (unsigned long)w->idx * SLICE_PAGES;

	for (unsigned long i = first; i < first + SLICE_PAGES; i++) {
		char *page = pl->kp + i * kpage;

		memset(page, 0, kpage);
		*(volatile uint64_t *)page = pl->tag + i;
	}
}

/* The source of copy_work: a populated buffer as large as the destination. */
static char *copy_src;

/* copy_work - copy each page of this worker's slice from copy_src and store 8 bytes in it. */
static void copy_work(struct pool *pl, struct worker *w)
{
	unsigned long first = (unsigned long)w->idx * SLICE_PAGES;

	for (unsigned long i = first; i < first + SLICE_PAGES; i++) {
		char *page = pl->kp + i * kpage;

		memcpy(page, copy_src + i * kpage, kpage);
		*(volatile uint64_t *)page = pl->tag + i;
	}
}

/* A reference's medians per thread count (wall and CPU per page, ns) and its scaling. */
struct reference {
	double wall[NR_COUNTS], cpu[NR_COUNTS];
	double x1[NR_COUNTS];           /* rate against 1 thread: median of the rounds' ratios */
	double others;
	bool ok;
};
static struct reference zero_ref, copy_ref;

/*
 * bench_reference - what zeroing (or copying) cold pages alone does with
 * 1, 2 and 4 threads: each thread memsets (or memcpys from a second
 * buffer) every page of its slice of an already populated host buffer,
 * with no fault on either side, after the caches were evicted (an untimed
 * write of EVICT_BYTES elsewhere): the work an anonymous write fault (a
 * copy-on-write fault) does to its cold frame, on both sides.  It runs
 * through run_series (ref_rep): one repetition per thread count in
 * rotating order, so the scaling (median of the rounds' ratios) compares
 * runs close in time.
 * Comment lines; the target lines quote the 2-thread scaling next to the
 * faults', as the most that fault work which is all zeroing (copying)
 * could scale on this machine.
 */
/* The buffers a reference's repetitions work on (bench_reference, ref_rep). */
struct ref_ctx {
	char *buf, *evict;
	void (*work)(struct pool *, struct worker *);
};

/* ref_rep - run_series' repetition for a reference: the work alone, into *us (no kernel side). */
static int ref_rep(struct pool *pl, int r, void *ctx, struct sample *us, struct sample *ks,
		   struct tally *t)
{
	struct ref_ctx *rc = ctx;

	(void)ks;
	(void)t;
	pl->kp = rc->buf;
	pl->work = rc->work;
	memset(rc->evict, r & 0xff, EVICT_BYTES);
	pl->tag = (uint64_t)(r + 2) << 32;
	return pool_run(pl, SLICE_PAGES, us);
}

static void bench_reference(const char *name, void (*work)(struct pool *, struct worker *),
			    struct reference *ref)
{
	unsigned long pages = SLICE_PAGES * MAX_THREADS;
	struct ref_ctx rc = { kmap_anon(pages * kpage), kmap_anon(EVICT_BYTES), work };
	static struct series s;
	struct sample (*smp)[REPS_MAX] = s.us;

	memset(ref, 0, sizeof(*ref));
	if (!rc.buf || !rc.evict) {
		skipped(name, "mmap", -errno);
		goto out;
	}
	memset(rc.buf, 1, pages * kpage);
	if (run_series(name, NULL, ref_rep, &rc, &s, NULL))
		goto out;
	ref->others = s.others;
	for (int c = 0; c < NR_COUNTS; c++) {
		int nr = thread_counts[c];

		ref->wall[c] = median_of(smp[c], offsetof(struct sample, wall));
		ref->cpu[c] = median_of(smp[c], offsetof(struct sample, cpu));
		printf("# %s %d thr: %.2f M pages/s (wall %.1f ns per page)", name, nr, 1e3 / ref->wall[c],
		       ref->wall[c]);
		if (c > 0) {
			ref->x1[c] = median_ratio(smp[0], smp[c]);
			printf(", x%.2f of 1 thread's rate", ref->x1[c]);
		}
		printf("; CPU per page %.1f ns", ref->cpu[c]);
		if (c > 0)
			printf(", x%.2f of 1 thread's", median_cpu_ratio(smp[0], smp[c]));
		printf("; CPUs busy %.2f\n", median_of(smp[c], offsetof(struct sample, busy)));
	}
	printf("# %s: other processes used %.2f CPUs meanwhile\n", name, ref->others);
	ref->ok = true;
out:
	if (rc.buf)
		munmap(rc.buf, pages * kpage);
	if (rc.evict)
		munmap(rc.evict, EVICT_BYTES);
}

static void bench_memory_references(void)
{
	unsigned long pages = SLICE_PAGES * MAX_THREADS;

	bench_reference("zeroing reference", zero_work, &zero_ref);
	copy_src = kmap_anon(pages * kpage);
	if (!copy_src) {
		skipped("copying reference", "mmap", -errno);
		return;
	}
	memset(copy_src, 2, pages * kpage);
	bench_reference("copying reference", copy_work, &copy_ref);
	munmap(copy_src, pages * kpage);
	copy_src = NULL;
}

/* ---- file minor faults ---- */

/* file_warm - one pass over the whole file through a mapping on each side. */
static int file_warm(struct umm_mm *mm, struct umm_object *obj, int fd)
{
	unsigned long sum = 0;
	uintptr_t a;
	uint8_t c;
	char *p;
	int err;

	err = umm_mmap(mm, 0, FILE_PAGES * UPAGE, PROT_READ, MAP_SHARED, obj, 0, &a);
	if (err)
		return err;
	for (unsigned long i = 0; i < FILE_PAGES && !err; i++)
		err = umm_read(mm, a + i * UPAGE, &c, 1);
	umm_munmap(mm, a, FILE_PAGES * UPAGE);
	if (err)
		return err;
	p = mmap(NULL, FILE_PAGES * kpage, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	for (unsigned long i = 0; i < FILE_PAGES; i++)
		sum += *(volatile uint8_t *)(p + i * kpage);
	munmap(p, FILE_PAGES * kpage);
	__asm__ volatile("" : : "r"(sum));
	return 0;
}

/* file_sums_ok - every worker read the bytes of its own slice. */
static bool file_sums_ok(struct pool *pl)
{
	for (int t = 0; t < pl->nr; t++) {
		unsigned long want = 0, first = (unsigned long)t * SLICE_PAGES;

		for (unsigned long i = first; i < first + SLICE_PAGES; i++)
			want += file_byte(i);
		if (pl->w[t].sum != want)
			return false;
	}
	return true;
}


/* The file both file measurements map. */
struct file_ctx {
	struct umm_object *obj;
	int fd;
};

/* file_rep - one repetition of file minor faults on both sides (a rep_fn). */
static int file_rep(struct pool *pl, int r, void *ctx, struct sample *us, struct sample *ks,
		    struct tally *t)
{
	struct file_ctx *f = ctx;
	unsigned long u0;
	long k0;
	int err;

	(void)r;
	err = umm_mmap(pl->mm, 0, FILE_PAGES * UPAGE, PROT_READ, MAP_SHARED, f->obj, 0, &pl->ua);
	if (err)
		return err;
	pl->kp = mmap(NULL, FILE_PAGES * kpage, PROT_READ, MAP_SHARED, f->fd, 0);
	if (pl->kp == MAP_FAILED) {
		err = -errno;
		goto out_umap;
	}
	madvise(pl->kp, FILE_PAGES * kpage, MADV_NOHUGEPAGE);
	pl->prepare = NULL;
	pl->work = file_umm;
	u0 = umm_minflt(pl->mm);
	err = pool_run(pl, SLICE_PAGES, us);
	t->uf += (long)(umm_minflt(pl->mm) - u0);
	if (err)
		goto out_kunmap;
	if (!file_sums_ok(pl))
		t->wrong = true;
	pl->work = file_kernel;
	k0 = minflt();
	pool_run(pl, SLICE_PAGES, ks);
	t->kf += minflt() - k0;
	if (!file_sums_ok(pl))
		t->wrong = true;
out_kunmap:
	munmap(pl->kp, FILE_PAGES * kpage);
out_umap:
	umm_munmap(pl->mm, pl->ua, FILE_PAGES * UPAGE);
	return err;
}

static void file_caveat(const struct series *s, int c, char *buf, size_t len)
{
	snprintf(buf, len, "same pages read; faults per page usermm %.3f, kernel %.3f "
		 "(fault-around: up to 16 cached pages per kernel fault)",
		 s->t[c].uf / pages_of(c), s->t[c].kf / pages_of(c));
}

static int cow_rep(struct pool *pl, int r, void *ctx, struct sample *us, struct sample *ks,
		   struct tally *t);
static void cow_caveat(const struct series *s, int c, char *buf, size_t len);

/* bench_file - file minor faults, then COW faults on the same cached file. */
static void bench_file(struct umm_system *sys, struct umm_mm *mm, struct result *res,
		       struct result *cow)
{
	static struct series s;
	struct file_ctx f;
	int err;

	f.fd = make_temp_file("bench_threads", FILE_PAGES, kpage);
	if (f.fd < 0) {
		skipped("file fault", "temp file", f.fd);
		return;
	}
	err = umm_object_open_fd(sys, f.fd, &f.obj);
	if (err) {
		skipped("file fault", "umm_object_open_fd", err);
		goto out_close;
	}
	err = file_warm(mm, f.obj, f.fd);
	if (err) {
		skipped("file fault", "warm-up pass", err);
		goto out_put;
	}
	if (!run_series("file fault", mm, file_rep, &f, &s, NULL))
		report_series("file fault", "pages", &s, res, file_caveat);
	if (!run_series("file COW fault", mm, cow_rep, &f, &s, NULL))
		report_series("file COW fault", "faults", &s, cow, cow_caveat);
out_put:
	umm_object_put(f.obj);
out_close:
	close(f.fd);
}

/* ---- copy-on-write faults of a private file mapping ---- */

/*
 * cow_check - each page holds its writer's tag in the first 8 bytes and
 * the file's byte after them (a private copy of the cached page), and the
 * cached page itself is untouched.
 */
static bool cow_check(struct pool *pl, int fd, unsigned long pages)
{
	for (unsigned long i = 0; i < pages; i++) {
		uint64_t v = 0;
		uint8_t c = 0, f = 0;

		if (umm_read(pl->mm, pl->ua + i * UPAGE, &v, sizeof(v)) || v != pl->tag + i)
			return false;
		if (umm_read(pl->mm, pl->ua + i * UPAGE + 8, &c, 1) || c != file_byte(i))
			return false;
		if (*(volatile uint64_t *)(pl->kp + i * kpage) != pl->tag + i ||
		    *(volatile uint8_t *)(pl->kp + i * kpage + 8) != file_byte(i))
			return false;
		if (pread(fd, &f, 1, (off_t)(i * kpage)) != 1 || f != file_byte(i))
			return false;
	}
	return true;
}

/* cow_rep - one repetition on both sides; r < 0 is the untimed warm-up. */

/* cow_rep - one repetition of file COW faults on both sides (a rep_fn). */
static int cow_rep(struct pool *pl, int r, void *ctx, struct sample *us, struct sample *ks,
		   struct tally *t)
{
	struct file_ctx *f = ctx;
	unsigned long pages = SLICE_PAGES * (unsigned long)pl->nr;
	struct umm_mm_stats st0, st1;
	long k0;
	int err;

	pl->tag = ((uint64_t)(r + 2) << 32) | (uint64_t)pl->nr << 24 | 0xc0;
	err = umm_mmap(pl->mm, 0, pages * UPAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, f->obj, 0,
		       &pl->ua);
	if (err)
		return err;
	pl->kp = mmap(NULL, pages * kpage, PROT_READ | PROT_WRITE, MAP_PRIVATE, f->fd, 0);
	if (pl->kp == MAP_FAILED) {
		err = -errno;
		goto out_umap;
	}
	madvise(pl->kp, pages * kpage, MADV_NOHUGEPAGE);
	pl->prepare = cow_umm_prep;
	pl->work = cow_umm;
	umm_mm_stats(pl->mm, &st0);
	err = pool_run(pl, SLICE_PAGES, us);
	umm_mm_stats(pl->mm, &st1);
	t->uf += (long)(st1.cow_faults - st0.cow_faults);
	if (err)
		goto out_kunmap;
	pl->prepare = cow_kernel_prep;
	pl->work = cow_kernel;
	k0 = minflt();
	pool_run(pl, SLICE_PAGES, ks);
	t->kf += minflt() - k0;         /* the read pass's faults included */
	if (!cow_check(pl, f->fd, pages))
		t->wrong = true;
out_kunmap:
	munmap(pl->kp, pages * kpage);
out_umap:
	umm_munmap(pl->mm, pl->ua, pages * UPAGE);
	return err;
}

static void cow_caveat(const struct series *s, int c, char *buf, size_t len)
{
	snprintf(buf, len, "usermm COW faults per page %.3f; kernel faults per page %.3f "
		 "(the untimed read pass's included)", s->t[c].uf / pages_of(c),
		 s->t[c].kf / pages_of(c));
}

/* ---- copy-on-write faults after a fork ---- */

/*
 * Each thread writes 8 bytes to each page of its own slice of a private
 * anonymous mapping whose pages were written before a fork and are still
 * shared with the (idle) child: every write copies a page.  usermm: the
 * parent mm's threads write while the umm_fork child exists; the child is
 * destroyed afterwards (untimed), so the next fork shares the parent's new
 * copies again.  Kernel: the same, but in the helper process (see main),
 * whose threads write while a forked child that only waits holds the
 * pages; a fork of this process would copy and write-protect usermm's own
 * structures too.  The fork itself is untimed on both sides.  Both sides
 * map MAX_THREADS slices once; a repetition with n threads writes the
 * first n slices (the fork, untimed, shares all of them).  The helper, as
 * run_series, starts fresh threads for each repetition.
 */

enum { FCOW_SETUP, FCOW_REP, FCOW_TEARDOWN };

struct fork_cow_req {
	int op;
	int c;                          /* FCOW_REP: thread count index */
	uint64_t tag;                   /* FCOW_REP: what the threads write */
};

struct fork_cow_rep {
	int err;
	bool wrong;                     /* a page did not hold what its thread wrote */
	long faults;                    /* the helper's minor faults during the run */
	double cpu_ns;                  /* the helper's CPU time so far (self_cpu_ns) */
	struct sample s;
};

#define FCOW_PAGES (SLICE_PAGES * MAX_THREADS)

static struct bench_helper helper;  /* the kernel side of the fork COW measurement */
static char *fork_cow_kp;           /* in the helper process only: the mapping */

/* fork_cow_pages_ok - every page of the kernel mapping holds tag + its index. */
static bool fork_cow_pages_ok(const char *p, unsigned long pages, uint64_t tag)
{
	for (unsigned long i = 0; i < pages; i++)
		if (*(const volatile uint64_t *)(p + i * kpage) != tag + i)
			return false;
	return true;
}

/* fork_cow_kernel_rep - one kernel repetition in the helper: threads, fork, write, reap. */
static void fork_cow_kernel_rep(int c, uint64_t tag, struct fork_cow_rep *rep)
{
	struct pool pool, *pl = &pool;
	unsigned long pages = SLICE_PAGES * (unsigned long)thread_counts[c];
	int pfd[2];
	char ch;
	long f0;
	pid_t pid;

	rep->err = pool_start(pl, thread_counts[c]);
	if (rep->err)
		return;
	pl->kp = fork_cow_kp;
	if (pipe(pfd)) {
		rep->err = -errno;
		goto out;
	}
	pid = fork();
	if (pid == 0) {
		/* Hold the pages until the parent has written them all. */
		close(pfd[1]);
		_exit(read(pfd[0], &ch, 1) < 0);
	}
	close(pfd[0]);
	if (pid < 0) {
		rep->err = -errno;
		close(pfd[1]);
		goto out;
	}
	pl->tag = tag;
	pl->prepare = NULL;
	pl->work = anon_kernel;
	f0 = minflt();
	pool_run(pl, SLICE_PAGES, &rep->s);
	rep->faults = minflt() - f0;
	close(pfd[1]);
	waitpid(pid, NULL, 0);
	rep->wrong = !fork_cow_pages_ok(pl->kp, pages, tag);
out:
	pool_stop(pl);
}

static void fork_cow_serve(const void *req_, void *rep_)
{
	const struct fork_cow_req *req = req_;
	struct fork_cow_rep *rep = rep_;

	switch (req->op) {
	case FCOW_SETUP:
		fork_cow_kp = kmap_anon(FCOW_PAGES * kpage);
		if (!fork_cow_kp) {
			rep->err = -errno;
			break;
		}
		for (unsigned long i = 0; i < FCOW_PAGES; i++)
			*(volatile uint64_t *)(fork_cow_kp + i * kpage) = i;
		break;
	case FCOW_REP:
		if (req->c < 0 || req->c >= NR_COUNTS || !fork_cow_kp)
			rep->err = -EINVAL;
		else
			fork_cow_kernel_rep(req->c, req->tag, rep);
		break;
	case FCOW_TEARDOWN:
		if (fork_cow_kp)
			munmap(fork_cow_kp, FCOW_PAGES * kpage);
		fork_cow_kp = NULL;
		break;
	default:
		rep->err = -EINVAL;
	}
	rep->cpu_ns = self_cpu_ns();
}

/* fork_cow_call - one request to the helper; the reply's errno (or -EPIPE). */
static int fork_cow_call(int op, int c, uint64_t tag, struct fork_cow_rep *rep)
{
	struct fork_cow_req req = { .op = op, .c = c, .tag = tag };
	int err;

	memset(rep, 0, sizeof(*rep));
	err = bench_helper_call(&helper, &req, sizeof(req), rep, sizeof(*rep));
	return err ? err : rep->err;
}

static unsigned long umm_cowflt(struct umm_mm *mm)
{
	struct umm_mm_stats st;

	if (umm_mm_stats(mm, &st))
		return 0;
	return st.cow_faults;
}

/* The fork COW measurement's state on usermm's side. */
struct fork_cow_ctx {
	uintptr_t ua;                   /* FCOW_PAGES pages */
	double helper_ns;               /* the helper's CPU time since the measurement began */
	double helper0;
};

/*
 * fork_cow_rep - one repetition (a rep_fn): usermm's side forks, the
 * parent's threads write, the child is destroyed; then the helper does the
 * same with its pool of as many threads.
 */
static int fork_cow_rep(struct pool *pl, int r, void *ctx, struct sample *us, struct sample *ks,
			struct tally *t)
{
	struct fork_cow_ctx *fc = ctx;
	unsigned long pages = SLICE_PAGES * (unsigned long)pl->nr;
	uint64_t tag = ((uint64_t)(r + 2) << 32) | (uint64_t)pl->nr << 24;
	struct fork_cow_rep rep;
	struct umm_mm *child;
	unsigned long c0;
	int c, err;

	for (c = 0; thread_counts[c] != pl->nr; c++)
		;
	err = umm_fork(pl->mm, &child);
	if (err)
		return err;
	pl->ua = fc->ua;
	pl->tag = tag;
	pl->prepare = NULL;
	pl->work = anon_umm;
	c0 = umm_cowflt(pl->mm);
	err = pool_run(pl, SLICE_PAGES, us);
	t->uf += (long)(umm_cowflt(pl->mm) - c0);
	umm_mm_destroy(child);
	for (unsigned long i = 0; i < pages && !err; i++) {
		uint64_t v = 0;

		if (umm_read(pl->mm, pl->ua + i * UPAGE, &v, sizeof(v)) || v != tag + i)
			t->wrong = true;
	}
	if (err)
		return err;
	err = fork_cow_call(FCOW_REP, c, tag, &rep);
	fc->helper_ns = rep.cpu_ns - fc->helper0;
	if (err)
		return err;
	t->wrong |= rep.wrong;
	t->kf += rep.faults;
	*ks = rep.s;
	return 0;
}

static void fork_cow_caveat(const struct series *s, int c, char *buf, size_t len)
{
	snprintf(buf, len, "COW faults per page usermm %.3f, kernel (minflt) %.3f; "
		 "the kernel's threads run in a small helper process",
		 s->t[c].uf / pages_of(c), s->t[c].kf / pages_of(c));
}

static void bench_fork_cow(struct umm_mm *mm, struct result *res)
{
	static struct series s;
	struct fork_cow_ctx fc = { 0 };
	struct fork_cow_rep rep;
	int err;

	err = fork_cow_call(FCOW_SETUP, 0, 0, &rep);
	fc.helper0 = rep.cpu_ns;
	if (err) {
		skipped("fork COW fault", "helper mmap/pthread_create", err);
		goto out_helper;
	}
	err = umm_mmap(mm, 0, FCOW_PAGES * UPAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &fc.ua);
	if (err) {
		skipped("fork COW fault", "umm_mmap", err);
		goto out_helper;
	}
	for (unsigned long i = 0; i < FCOW_PAGES && !err; i++) {
		uint64_t v = i;

		err = umm_write(mm, fc.ua + i * UPAGE, &v, sizeof(v));
	}
	if (err)
		skipped("fork COW fault", "umm_write", err);
	else if (!run_series("fork COW fault", mm, fork_cow_rep, &fc, &s, &fc.helper_ns))
		report_series("fork COW fault", "faults", &s, res, fork_cow_caveat);
	umm_munmap(mm, fc.ua, FCOW_PAGES * UPAGE);
out_helper:
	fork_cow_call(FCOW_TEARDOWN, 0, 0, &rep);
}

/* ---- soft-TLB hits ---- */

struct tlb_ctx {
	uintptr_t ua;
	char *kp;
};

/* tlb_rep - one repetition of soft-TLB hits on both sides (a rep_fn). */
static int tlb_rep(struct pool *pl, int r, void *ctx, struct sample *us, struct sample *ks,
		   struct tally *t)
{
	struct tlb_ctx *tc = ctx;
	int err;

	(void)r;
	(void)t;
	pl->ua = tc->ua;
	pl->kp = tc->kp;
	pl->prepare = tlb_umm_prep;
	pl->work = tlb_umm;
	err = pool_run(pl, TLB_ITERS, us);
	if (err)
		return err;
	pl->prepare = tlb_kernel_prep;
	pl->work = tlb_kernel;
	pool_run(pl, TLB_ITERS, ks);
	return 0;
}

static void tlb_caveat(const struct series *s, int c, char *buf, size_t len)
{
	(void)s;
	(void)c;
	snprintf(buf, len, "kernel side is an 8-byte memcpy through a host pointer (a hardware TLB hit)");
}

static void bench_tlb(struct umm_mm *mm, struct result *res)
{
	static struct series s;
	struct tlb_ctx tc;
	int err;

	err = umm_mmap(mm, 0, TLB_PAGES * UPAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &tc.ua);
	if (err) {
		skipped("TLB hit", "umm_mmap", err);
		return;
	}
	for (unsigned long i = 0; i < TLB_PAGES && !err; i++) {
		uint64_t v = i;

		err = umm_write(mm, tc.ua + i * (UPAGE + 64), &v, sizeof(v));
	}
	if (err) {
		skipped("TLB hit", "umm_write", err);
		goto out_umap;
	}
	tc.kp = kmap_anon(TLB_PAGES * kpage);
	if (!tc.kp) {
		skipped("TLB hit", "mmap", -errno);
		goto out_umap;
	}
	for (unsigned long i = 0; i < TLB_PAGES; i++)
		*(volatile uint64_t *)(tc.kp + i * (kpage + 64)) = i;
	if (!run_series("TLB hit", mm, tlb_rep, &tc, &s, NULL))
		report_series("TLB hit", "accesses", &s, res, tlb_caveat);
	munmap(tc.kp, TLB_PAGES * kpage);
out_umap:
	umm_munmap(mm, tc.ua, TLB_PAGES * UPAGE);
}

/* ---- the scaling summary ---- */

/* Other processes' load above which a measurement's scaling is not judged. */
#define OTHERS_MAX 0.25

/*
 * summary_row - one markdown row: the rate, the scaling against 1 thread
 * (median of the repetitions' ratios) and the CPUs kept busy, usermm then
 * kernel, and the other processes' load.
 */
static void summary_row(const char *test, const char *unit, int c, const struct result *r)
{
	int nr = thread_counts[c];

	if (!r->ok)
		return;
	printf("| %s | %d%s | %.2f | ", test, nr, nr > nr_cpus ? " (oversubscribed)" : "",
	       1e3 / r->u_wall);
	if (c > 0)
		printf("x%.2f", r->u_x1);
	printf(" | %.2f | %.2f | ", r->u_busy, 1e3 / r->k_wall);
	if (c > 0)
		printf("x%.2f", r->k_x1);
	printf(" | %.2f | %.2f | M %s/s |\n", r->k_busy, r->others, unit);
}

/* quiet - did other processes leave the CPUs to this measurement? */
static bool quiet(const struct result *r)
{
	return r->ok && r->others < OTHERS_MAX;
}

/*
 * target_line - the fault-scaling targets for one measurement (1, 2 and 4
 * threads in r[0..2]): with two CPUs free, 2 threads give at least 1.7x
 * one thread's pages per second, and 4 threads do not fall below 2.  Each
 * scaling is the median of the repetitions' ratios.  Judged only when
 * other processes used less than OTHERS_MAX CPUs during the measurement.
 * With a reference (the zeroing or copying the fault does to a cold
 * frame, bench_reference), a second line gives that work's own 2-thread
 * scaling and its time as a share of each side's 1-thread fault: fault
 * work made mostly of it cannot scale much beyond it.
 */
static void target_line(const char *test, const struct result *r, const char *what,
			const struct reference *ref)
{
	printf("# target %s: ", test);
	if (nr_cpus < 2 || !r[0].ok || !r[1].ok || !r[2].ok) {
		printf("not judged (fewer than 2 CPUs, or a measurement missing)\n");
		return;
	}
	printf("2 thr x%.2f of 1 thread (kernel x%.2f), ", r[1].u_x1, r[1].k_x1);
	if (quiet(&r[1]))
		printf(">= 1.70 %s; ", r[1].u_x1 >= 1.7 ? "met" : "NOT met");
	else
		printf("not judged (other load %.2f CPUs); ", r[1].others);
	printf("4 thr x%.2f of 2 threads (kernel x%.2f), ", r[2].u_xprev, r[2].k_xprev);
	if (quiet(&r[2]))
		printf(">= 1.00 %s\n", r[2].u_xprev >= 1.0 ? "met" : "NOT met");
	else
		printf("not judged (other load %.2f CPUs)\n", r[2].others);
	if (ref && ref->ok)
		printf("# target %s: %s alone, 2 thr x%.2f of 1 thread; one thread's %s of a page takes "
		       "%.0f%% of one usermm thread's fault, %.0f%% of one kernel thread's\n",
		       test, what, ref->x1[1], what, 100 * ref->wall[0] / r[0].u_wall,
		       100 * ref->wall[0] / r[0].k_wall);
}

static void summary(const struct result *anon, const struct result *file,
		    const struct result *file_cow, const struct result *fcow,
		    const struct result *tlb)
{
	printf("\n# Scaling: rate, its multiple of the 1-thread rate (median over the repetitions "
	       "of each repetition's ratio), CPUs busy (the threads' CPU time / wall time: below "
	       "the thread count = waiting for a lock or a CPU), and the CPUs other processes used "
	       "during the measurement (/proc/stat)\n");
	printf("| measurement | threads | usermm rate | usermm scaling | usermm CPUs busy "
	       "| kernel rate | kernel scaling | kernel CPUs busy | other load (CPUs) | unit |\n");
	printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
	for (int c = 0; c < NR_COUNTS; c++)
		summary_row("anon fault", "pages", c, &anon[c]);
	for (int c = 0; c < NR_COUNTS; c++)
		summary_row("file fault", "pages", c, &file[c]);
	for (int c = 0; c < NR_COUNTS; c++)
		summary_row("file COW fault", "pages", c, &file_cow[c]);
	for (int c = 0; c < NR_COUNTS; c++)
		summary_row("fork COW fault", "pages", c, &fcow[c]);
	for (int c = 0; c < NR_COUNTS; c++)
		summary_row("TLB hit", "accesses", c, &tlb[c]);
	target_line("anon fault", anon, "zeroing", &zero_ref);
	target_line("file fault", file, NULL, NULL);
	target_line("file COW fault", file_cow, "copying", &copy_ref);
	target_line("fork COW fault", fcow, "copying", &copy_ref);
}

int main(int argc, char **argv)
{
	struct result anon[NR_COUNTS] = { 0 }, file[NR_COUNTS] = { 0 }, tlb[NR_COUNTS] = { 0 };
	struct result file_cow[NR_COUNTS] = { 0 }, fcow[NR_COUNTS] = { 0 };
	struct umm_system *sys;
	struct umm_mm *mm;
	int herr;

	bench_init(argc, argv, "1, 2 and 4 threads faulting in one address space (anonymous, file, "
		   "copy-on-write) and hitting the soft TLB, against threads of one process");
	kpage = (size_t)sysconf(_SC_PAGESIZE);
	nr_cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
	set_sizes();
	/* First, before any usermm memory exists: the helper for the kernel's fork COW side. */
	herr = bench_helper_start(&helper, fork_cow_serve, sizeof(struct fork_cow_req),
				  sizeof(struct fork_cow_rep));
	bench_machine_line();
	printf("# median of %d repetitions; threads in one address space, each on its own "
	       "%lu-page (%lu MiB) slice; %lu accesses per thread for TLB hits; usermm phys %lu MiB\n",
	       REPS, SLICE_PAGES, SLICE_PAGES * UPAGE >> 20, TLB_ITERS, PHYS_BYTES >> 20);
	printf("# wall = batch wall time / all threads' pages; per thread = a thread's own time / "
	       "its pages, mean over threads\n");
	print_loadavg();
	if (herr)
		printf("# helper process: %s; no fork COW lines\n", umm_strerror(herr));
	if (bench_start(PHYS_BYTES, kpage, &sys, &mm)) {
		if (!sys)
			return 1;
		goto out_sys;
	}
	bench_anon(mm, anon);
	bench_memory_references();
	bench_file(sys, mm, file, file_cow);
	if (!herr)
		bench_fork_cow(mm, fcow);
	bench_tlb(mm, tlb);
	summary(anon, file, file_cow, fcow, tlb);
	umm_mm_destroy(mm);
out_sys:
	umm_system_destroy(sys);
	bench_helper_stop(&helper);
	return 0;
}
