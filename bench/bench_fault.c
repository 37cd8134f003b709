/*
 * bench_fault.c - what a page fault costs in usermm, next to the Linux
 * kernel doing the same job in the same process on the same machine.
 *
 * Every measurement runs a batch on both sides and reports the median of
 * REPS repetitions.  usermm and kernel alternate in each repetition, so
 * that drift in the machine hits both, except around a kernel fork(): it
 * write-protects all of this process's private memory, usermm's own
 * structures included, and the usermm repetition after it would pay for
 * the kernel's write faults that follow; there all usermm repetitions
 * (after one untimed warm-up) come first.
 *
 *
 *   file minor fault   first read of each page of a fresh MAP_SHARED
 *                      PROT_READ mapping of a file whose pages are already
 *                      in the page cache (usermm's own cache, the kernel's)
 *   anon write fault   first write to each page of a fresh private
 *                      anonymous mapping (allocate and zero a frame)
 *   COW write fault    write, after fork, to each page that was written
 *                      before the fork (copy the frame); usermm times the
 *                      writes in the umm_fork child, the kernel's child
 *                      process times its own writes and pipes the result
 *   soft-TLB hit       umm_read/umm_write of 8 bytes from a small resident
 *                      set, against an 8-byte memcpy through a host pointer
 *                      (a hardware TLB hit)
 *   fork, munmap       of an address space / a mapping with FORK_PAGES
 *                      resident anonymous pages, per call; the kernel's
 *                      fork is the parent's time in fork() plus the CPU
 *                      time of the child until it is reaped (not the time
 *                      it waits for a CPU), wall time as a comment line
 *
 * usermm accesses go through the public software MMU (umm_read/umm_write);
 * kernel accesses are loads and stores through the mmap()ed pointer.
 * mmap and munmap stay outside the timed loops of the fault measurements.
 * Kernel mappings get MADV_NOHUGEPAGE so that both sides fault 4 KiB pages;
 * the kernel's file fault-around (several ptes per fault) is left on,
 * because that is what the kernel does, and the fault counts of both
 * sides are printed as comment lines so the reader can see it.
 *
 * A measurement that cannot run (a usermm call fails) prints a comment
 * line saying why and the benchmark goes on with the next one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <usermm/usermm.h>
#include "bench.h"

#define REPS        7
#define FILE_PAGES  16384UL         /* 64 MiB temp file */
#define ANON_PAGES  16384UL
#define COW_PAGES   8192UL
#define TLB_PAGES   16UL
#define TLB_ITERS   (1UL << 20)
#define FORK_PAGES  4096UL
#define PHYS_BYTES  (512UL << 20)

#define UPAGE UMM_PAGE_SIZE

static size_t kpage;                /* the host's page size */

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

/* One usermm repetition of the file fault: ns per page, or a negative errno. */
static double file_fault_umm(struct umm_mm *mm, struct umm_object *obj,
			     unsigned long *sum, int *errp)
{
	uint64_t t0 = 0, t1 = 0;
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
	umm_munmap(mm, a, FILE_PAGES * UPAGE);
out:
	*errp = err;
	return (double)(t1 - t0) / FILE_PAGES;
}

static double file_fault_kernel(int fd, unsigned long *sum)
{
	char *p = mmap(NULL, FILE_PAGES * kpage, PROT_READ, MAP_SHARED, fd, 0);
	uint64_t t0, t1;

	if (p == MAP_FAILED)
		return -1;
	madvise(p, FILE_PAGES * kpage, MADV_NOHUGEPAGE);
	t0 = now_ns();
	for (unsigned long i = 0; i < FILE_PAGES; i++)
		*sum += *(volatile uint8_t *)(p + i * kpage);
	t1 = now_ns();
	munmap(p, FILE_PAGES * kpage);
	return (double)(t1 - t0) / FILE_PAGES;
}

/* file_fault_counts - faults per page on each side, for one extra pass. */
static void file_fault_counts(struct umm_mm *mm, struct umm_object *obj, int fd)
{
	unsigned long sum = 0, u0 = umm_faults(mm, false);
	long k0;
	int err;

	file_fault_umm(mm, obj, &sum, &err);
	u0 = umm_faults(mm, false) - u0;
	k0 = minflt();
	file_fault_kernel(fd, &sum);
	k0 = minflt() - k0;
	printf("# file minor fault: faults per page touched: usermm %.3f, kernel %.3f (fault-around)\n",
	       (double)u0 / FILE_PAGES, (double)k0 / FILE_PAGES);
}

static void bench_file_fault(struct umm_system *sys, struct umm_mm *mm)
{
	const char *what = "file minor fault (ns/page)";
	double us[REPS], ks[REPS];
	unsigned long usum = 0, ksum = 0, want = 0, warm = 0;
	struct umm_object *obj;
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
	file_fault_umm(mm, obj, &warm, &err);
	if (err) {
		skipped(what, "umm_mmap/umm_read", err);
		goto out_put;
	}
	file_fault_kernel(fd, &warm);
	for (int r = 0; r < REPS; r++) {
		us[r] = file_fault_umm(mm, obj, &usum, &err);
		if (err) {
			skipped(what, "umm_mmap/umm_read", err);
			goto out_put;
		}
		ks[r] = file_fault_kernel(fd, &ksum);
	}
	if (usum != want * REPS || ksum != want * REPS)
		printf("# file minor fault: WRONG DATA read (usermm %lu, kernel %lu, want %lu)\n",
		       usum, ksum, want * REPS);
	bench_report(what, median(us, REPS), median(ks, REPS));
	file_fault_counts(mm, obj, fd);
out_put:
	umm_object_put(obj);
out_close:
	close(fd);
}

static void bench_anon_fault(struct umm_mm *mm)
{
	const char *what = "anon write fault (ns/page)";
	double us[REPS], ks[REPS];
	uint64_t t0, t1;
	uintptr_t a;
	char *p;
	int err;

	for (int r = 0; r < REPS; r++) {
		err = umap_anon(mm, ANON_PAGES, &a);
		if (err) {
			skipped(what, "umm_mmap", err);
			return;
		}
		t0 = now_ns();
		err = utouch(mm, a, ANON_PAGES, r);
		t1 = now_ns();
		umm_munmap(mm, a, ANON_PAGES * UPAGE);
		if (err) {
			skipped(what, "umm_write", err);
			return;
		}
		us[r] = (double)(t1 - t0) / ANON_PAGES;

		p = kmap_anon(ANON_PAGES * kpage);
		if (!p) {
			skipped(what, "mmap", -errno);
			return;
		}
		t0 = now_ns();
		ktouch(p, ANON_PAGES, r);
		t1 = now_ns();
		munmap(p, ANON_PAGES * kpage);
		ks[r] = (double)(t1 - t0) / ANON_PAGES;
	}
	bench_report(what, median(us, REPS), median(ks, REPS));
}

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

/* One kernel COW repetition: the child process times its own writes. */
static double cow_kernel(char *p)
{
	double ns = -1;
	int pfd[2], status;
	pid_t pid;

	if (pipe(pfd))
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		uint64_t t0 = now_ns(), t1;

		close(pfd[0]);
		ktouch(p, COW_PAGES, 0xc0c0);
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
	return ns;
}

/* cow_parent_intact - the parents still see what they wrote before the forks. */
static bool cow_parent_intact(struct umm_mm *mm, uintptr_t a, const char *p)
{
	for (unsigned long i = 0; i < COW_PAGES; i++) {
		uint64_t v = 0;

		if (umm_read(mm, a + i * UPAGE, &v, sizeof(v)) || v != i)
			return false;
		if (*(const volatile uint64_t *)(p + i * kpage) != i)
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
	uintptr_t a;
	char *p;
	int err;

	err = umm_mm_create(sys, &mm);
	if (err) {
		skipped(what, "umm_mm_create", err);
		return;
	}
	p = kmap_anon(COW_PAGES * kpage);
	if (!p) {
		skipped(what, "mmap", -errno);
		goto out_mm;
	}
	ktouch(p, COW_PAGES, 0);
	err = umap_anon(mm, COW_PAGES, &a);
	if (!err)
		err = utouch(mm, a, COW_PAGES, 0);
	if (err) {
		skipped(what, "umm_mmap/umm_write", err);
		goto out_unmap;
	}
	/*
	 * All usermm repetitions first: a kernel fork write-protects this
	 * process's private memory, usermm's own structures included, and the
	 * next usermm repetition would pay the kernel's faults that follow.
	 * The untimed first run warms those structures.
	 */
	for (int r = -1; r < REPS; r++) {
		double ns = cow_umm(mm, a, &cows, &err);

		if (err) {
			skipped(what, "umm_fork/umm_write", err);
			goto out_unmap;
		}
		if (r >= 0)
			us[r] = ns;
	}
	for (int r = 0; r < REPS; r++) {
		ks[r] = cow_kernel(p);
		if (ks[r] < 0) {
			skipped(what, "fork", -errno);
			goto out_unmap;
		}
	}
	if (!cow_parent_intact(mm, a, p))
		printf("# COW write fault: WRONG DATA, a parent saw its child's write\n");
	bench_report(what, median(us, REPS), median(ks, REPS));
	printf("# COW write fault: usermm cow_faults per page %.3f\n", (double)cows / COW_PAGES);
out_unmap:
	munmap(p, COW_PAGES * kpage);
out_mm:
	umm_mm_destroy(mm);
}

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
	bench_report(what, median(us, REPS), median(ks, REPS));
out_kunmap:
	munmap(p, TLB_PAGES * kpage);
out_unmap:
	umm_munmap(mm, a, TLB_PAGES * UPAGE);
}

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

static double tv_ns(const struct timeval *tv)
{
	return (double)tv->tv_sec * 1e9 + (double)tv->tv_usec * 1e3;
}

/*
 * fork_kernel - ns for the kernel's part of fork + exit: the parent's time
 * inside fork() plus the CPU time the child used until it was reaped (its
 * exit tears its address space down).  The time the child waits for a CPU
 * is left out, as usermm's side has none; the wall-clock time from fork()
 * to the end of waitpid() is given in *wall_ns.
 */
static double fork_kernel(double *fork_ns, double *child_cpu_ns, double *wall_ns)
{
	struct rusage ru0, ru1;
	uint64_t t0, t1, t2;
	int status;
	pid_t pid;

	fflush(stdout);
	getrusage(RUSAGE_CHILDREN, &ru0);
	t0 = now_ns();
	pid = fork();
	if (pid == 0)
		_exit(0);
	t1 = now_ns();
	if (pid < 0)
		return -1;
	waitpid(pid, &status, 0);
	t2 = now_ns();
	getrusage(RUSAGE_CHILDREN, &ru1);
	*fork_ns = (double)(t1 - t0);
	*child_cpu_ns = tv_ns(&ru1.ru_utime) + tv_ns(&ru1.ru_stime) -
			tv_ns(&ru0.ru_utime) - tv_ns(&ru0.ru_stime);
	*wall_ns = (double)(t2 - t0);
	return *fork_ns + *child_cpu_ns;
}

/* fork_pair - all usermm repetitions, then the kernel's (see bench_cow_fault). */
static int fork_pair(struct umm_mm *mm, const char *what)
{
	double us[REPS], ks[REPS], kf[REPS], kc[REPS], kw[REPS];
	int err;

	for (int r = -1; r < REPS; r++) {
		double ns = fork_umm(mm, &err);

		if (err) {
			skipped(what, "umm_fork", err);
			return err;
		}
		if (r >= 0)
			us[r] = ns;
	}
	for (int r = 0; r < REPS; r++) {
		ks[r] = fork_kernel(&kf[r], &kc[r], &kw[r]);
		if (ks[r] < 0) {
			skipped(what, "fork", -errno);
			return -errno;
		}
	}
	bench_report(what, median(us, REPS), median(ks, REPS));
	printf("# %s: kernel = fork() call %.0f + child CPU until reaped %.0f; "
	       "fork() to end of waitpid() %.0f ns wall\n",
	       what, median(kf, REPS), median(kc, REPS), median(kw, REPS));
	return 0;
}

/*
 * bench_fork - fork + exit of an empty address space (the kernel's "empty"
 * is this process without the extra pages), then of one with FORK_PAGES
 * resident anonymous pages more.
 */
static void bench_fork(struct umm_system *sys)
{
	const char *what = "fork+exit, 4096 anon pages (ns)";
	struct umm_mm *mm;
	uintptr_t a;
	char *p;
	int err;

	err = umm_mm_create(sys, &mm);
	if (err) {
		skipped(what, "umm_mm_create", err);
		return;
	}
	if (fork_pair(mm, "fork+exit, baseline (ns)"))
		goto out_mm;
	p = kmap_anon(FORK_PAGES * kpage);
	if (!p) {
		skipped(what, "mmap", -errno);
		goto out_mm;
	}
	ktouch(p, FORK_PAGES, 0);
	err = umap_anon(mm, FORK_PAGES, &a);
	if (!err)
		err = utouch(mm, a, FORK_PAGES, 0);
	if (err)
		skipped(what, "umm_mmap/umm_write", err);
	else
		fork_pair(mm, what);
	munmap(p, FORK_PAGES * kpage);
out_mm:
	umm_mm_destroy(mm);
}

static void bench_munmap(struct umm_mm *mm)
{
	const char *what = "munmap, 4096 anon pages (ns)";
	double us[REPS], ks[REPS];
	uint64_t t0, t1;
	uintptr_t a;
	char *p;
	int err;

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
	bench_report(what, median(us, REPS), median(ks, REPS));
}

int main(void)
{
	struct umm_system *sys;
	struct umm_mm *mm;

	kpage = (size_t)sysconf(_SC_PAGESIZE);
	bench_machine_line();
	printf("# median of %d repetitions; faults in ns per page over batches of %lu (file, anon) "
	       "and %lu (COW) pages; usermm phys %lu MiB\n",
	       REPS, FILE_PAGES, COW_PAGES, PHYS_BYTES >> 20);
	print_loadavg();
	if (bench_start(PHYS_BYTES, kpage, &sys, &mm)) {
		if (!sys)
			return 1;
		goto out_sys;
	}
	bench_file_fault(sys, mm);
	bench_anon_fault(mm);
	bench_cow_fault(sys);
	bench_tlb_hit(mm, false);
	bench_tlb_hit(mm, true);
	bench_fork(sys);
	bench_munmap(mm);
	umm_mm_destroy(mm);
out_sys:
	umm_system_destroy(sys);
	return 0;
}
