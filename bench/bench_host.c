/* SPDX-License-Identifier: MIT */
/*
 * bench_host.c - the host MMU: what a fault through a plain pointer into
 * usermm memory costs, next to the Linux kernel's own faults and to
 * userfaultfd resolving the same faults, and what pointer access costs
 * once the pages are mapped.
 *
 * Every measurement runs a batch of PAGES pages on each side and reports
 * the median of REPS repetitions, per page touched; the two sides
 * alternate in each repetition.  All figures are fresh mappings (a new
 * usermm mapping and a new window, a new kernel mapping) in a warm usermm
 * system (its arena was touched by the host before).
 *
 *   anon first touch, single
 *                       a store to each page of a fresh private anonymous
 *                       mapping through a window (usermm allocates and
 *                       zeroes a frame on the faulting thread), without
 *                       fault-around: one host fault per page, so the
 *                       figure is per fault and per page; the kernel's
 *                       first-touch store to a fresh anonymous mapping.
 *   ..., populate-around
 *                       the same with UMM_HOST_POPULATE_AROUND: a store
 *                       allocates the aligned block around it (16 pages,
 *                       doubling up to 64 for a sequential writer) from
 *                       one free block of the allocator, and the fault
 *                       maps what is contiguous in the arena with one
 *                       mmap: per page, amortised over the faults taken.
 *   ..., fault thread   the single line again with the fault path run by
 *                       a fault thread (host_mmu_no_inline: the handoff
 *                       that every such fault took before faults ran on
 *                       the faulting thread).
 *   shmem first touch, single / populate-around
 *                       the same on a usermm shmem object mapped shared,
 *                       against a store to each page of a fresh memfd
 *                       mapping; with UMM_HOST_POPULATE_AROUND a store
 *                       brings the block's pages into the object (a page
 *                       at a time, so they are contiguous in the arena
 *                       only as the allocator hands them out), and the
 *                       other faults of a block find their ptes present
 *                       and are resolved in the signal handler.
 *   present read, single / fault-around
 *                       a load from each page of a fresh window over pages
 *                       already mapped in usermm (a resident shmem object
 *                       mapped with MAP_POPULATE: the ptes are present, so
 *                       the signal handler resolves the faults itself,
 *                       without a fault thread), with and without
 *                       fault-around, against a
 *                       load from each page of a fresh mapping of a memfd
 *                       whose pages are resident (the kernel's fault-around
 *                       maps up to 16 pages per fault).  Faults taken are
 *                       printed for both sides.
 *   shared file write-notify
 *                       a store to each page of a shared mapping of a
 *                       regular file whose pages were loaded through the
 *                       same pointers first (mapped read-only, clean): the
 *                       signal handler makes the pte writable and dirty
 *                       and maps the page writable (write-notify); again
 *                       with host_mmu_no_fast_path (a fault thread does
 *                       it); the kernel's write-notify fault on a shared
 *                       mapping of the same kind of file, its pages
 *                       loaded and clean (written back) first.
 *   userfaultfd         the anonymous first-touch stores resolved by a
 *                       userfaultfd thread with UFFDIO_COPY of a zero
 *                       page: the kernel's own user-space fault handling,
 *                       against the host MMU's anon first touch.
 *   signal floor        first-touch stores to a PROT_NONE region resolved
 *                       by a bare SIGSEGV handler with one mmap of a
 *                       memfd page each, in the faulting thread: the
 *                       kernel's part of any signal-based MMU's fault.
 *   pointer bandwidth   summing 8-byte words over WARM_PAGES mapped pages
 *                       through a window, against the same over plain
 *                       anonymous memory without huge pages (per page; no
 *                       faults on either).
 *
 * Results are per page touched, wall time; the lines named "(per fault)"
 * take one fault per page on the usermm side, so there the figure is also
 * the cost of one fault.  A loaded machine stretches them, the host MMU's
 * most where a fault waits for a fault thread to be scheduled, so the
 * caveat lines add the CPU time per page of the whole process (every
 * thread), which measures the work done.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/userfaultfd.h>
#include "bench.h"
#include "host_mmu.h"

#define REPS        BENCH_SIZE(5, 1)
#define PAGES       BENCH_SIZE(1024UL, 64UL)
#define WARM_PAGES  BENCH_SIZE(4096UL, 128UL)
#define PHYS_BYTES  BENCH_SIZE(128UL << 20, 32UL << 20)
#define P           UMM_PAGE_SIZE

static double ns_per(uint64_t t0, uint64_t t1, unsigned long n)
{
	return (double)(t1 - t0) / (double)n;
}

/*
 * CPU time of the whole process (every thread, the fault threads
 * included; the kernel's fault handling is charged to the faulting
 * thread): what a fault costs in work, which a loaded machine does not
 * stretch the way it stretches wall time.  cpu_last: ns per page of the
 * last touch.
 */
static double cpu_last;
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* touch - one store (or load) per page; the loads' sum is kept from the optimiser. */
static volatile unsigned long sink;
static void touch(char *p, unsigned long pages, bool write)
{
	unsigned long s = 0;

	for (unsigned long i = 0; i < pages; i++) {
		if (write)
			((volatile char *)p)[i * P] = 1;
		else
			s += ((volatile char *)p)[i * P];
	}
	sink += s;
}

/* ---- usermm side ---- */

/*
 * umm_touch - map `pages` in mm (anon, or obj shared), attach a window,
 * time the touches, detach, unmap.  Returns ns per page, or -errno.
 */
static unsigned long handler_last;     /* faults the handler resolved itself, last touch */
static double umm_touch(struct umm_mm *mm, struct umm_object *obj, bool populate, unsigned long pages,
			bool write, int host_flags, unsigned long *faults)
{
	struct umm_host_stats s0, s1;
	uintptr_t a;
	char *base;
	uint64_t t0, t1, c0;
	int err;

	/* populate: obj's pages are mapped in usermm first (their ptes present),
	   the host MMU's faults then only map them on the host */
	err = umm_mmap(mm, 0, pages * P, PROT_READ | PROT_WRITE,
		       (obj ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS) | (populate ? MAP_POPULATE : 0),
		       obj, 0, &a);
	if (err)
		return err;
	err = umm_host_attach(mm, a, pages * P, host_flags, (void **)&base);
	if (err) {
		umm_munmap(mm, a, pages * P);
		return err;
	}
	umm_host_get_stats(&s0);
	c0 = cpu_ns();
	t0 = now_ns();
	touch(base, pages, write);
	t1 = now_ns();
	cpu_last = ns_per(c0, cpu_ns(), pages);
	umm_host_get_stats(&s1);
	if (faults)
		*faults = s1.faults - s0.faults;
	handler_last = s1.handler_faults - s0.handler_faults;
	umm_host_detach(mm, base);
	umm_munmap(mm, a, pages * P);
	return ns_per(t0, t1, pages);
}

/* ---- kernel side ---- */

static double k_anon_touch(unsigned long pages)
{
	char *p = kmap_anon(pages * P);
	uint64_t t0, t1, c0;

	if (!p)
		return -ENOMEM;
	c0 = cpu_ns();
	t0 = now_ns();
	touch(p, pages, true);
	t1 = now_ns();
	cpu_last = ns_per(c0, cpu_ns(), pages);
	munmap(p, pages * P);
	return ns_per(t0, t1, pages);
}

/* k_memfd_touch - a fresh mapping of memfd fd (resident or not), touched. */
static double k_memfd_touch(int fd, unsigned long pages, bool write, long *faults)
{
	char *p = mmap(NULL, pages * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	uint64_t t0, t1, c0;
	long f0;

	if (p == MAP_FAILED)
		return -errno;
	madvise(p, pages * P, MADV_NOHUGEPAGE);
	f0 = minflt();
	c0 = cpu_ns();
	t0 = now_ns();
	touch(p, pages, write);
	t1 = now_ns();
	cpu_last = ns_per(c0, cpu_ns(), pages);
	if (faults)
		*faults = minflt() - f0;
	munmap(p, pages * P);
	return ns_per(t0, t1, pages);
}

/* ---- userfaultfd ---- */

struct uffd_ctx {
	int uffd, stop_fd[2];
	char *zero;
};

static void *uffd_thread(void *arg)
{
	struct uffd_ctx *c = arg;
	struct pollfd pf[2] = { { .fd = c->uffd, .events = POLLIN }, { .fd = c->stop_fd[0], .events = POLLIN } };

	for (;;) {
		struct uffd_msg msg;

		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			break;
		if (pf[1].revents)
			break;
		if (read(c->uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event == UFFD_EVENT_PAGEFAULT) {
			struct uffdio_copy cp = {
				.dst = msg.arg.pagefault.address & ~(uint64_t)(P - 1),
				.src = (uintptr_t)c->zero,
				.len = P,
			};

			ioctl(c->uffd, UFFDIO_COPY, &cp);
		}
	}
	return NULL;
}

/* k_uffd_touch - first-touch stores resolved by UFFDIO_COPY.  ns per page or -errno. */
static double k_uffd_touch(unsigned long pages)
{
	struct uffd_ctx c = { .uffd = -1 };
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg;
	pthread_t th;
	char *p;
	uint64_t t0 = 0, t1 = 0, c0;
	int err = 0;

	c.uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (c.uffd < 0)
		return -errno;
	if (ioctl(c.uffd, UFFDIO_API, &api)) {
		err = -errno;
		close(c.uffd);
		return err;
	}
	p = kmap_anon(pages * P);
	c.zero = calloc(1, P);
	if (!p || !c.zero || pipe(c.stop_fd)) {
		if (p)
			munmap(p, pages * P);
		free(c.zero);
		close(c.uffd);
		return -ENOMEM;
	}
	reg.range.start = (uintptr_t)p;
	reg.range.len = pages * P;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(c.uffd, UFFDIO_REGISTER, &reg) || pthread_create(&th, NULL, uffd_thread, &c)) {
		err = -errno;
		goto out;
	}
	c0 = cpu_ns();
	t0 = now_ns();
	touch(p, pages, true);
	t1 = now_ns();
	cpu_last = ns_per(c0, cpu_ns(), pages);
	if (write(c.stop_fd[1], "x", 1) != 1)
		err = -errno;
	pthread_join(th, NULL);
out:
	munmap(p, pages * P);
	close(c.stop_fd[0]);
	close(c.stop_fd[1]);
	close(c.uffd);
	free(c.zero);
	return err ? err : ns_per(t0, t1, pages);
}

/* ---- the floor: a bare SIGSEGV handler that maps a memfd page ---- */

static char *floor_region;
static int floor_fd;

static void floor_handler(int sig, siginfo_t *si, void *uc)
{
	char *p = (char *)((uintptr_t)si->si_addr & ~(uintptr_t)(P - 1));

	(void)sig;
	(void)uc;
	syscall(SYS_mmap, p, P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, floor_fd,
		(long)(p - floor_region));
}

/*
 * k_signal_floor - first-touch stores to a PROT_NONE region whose faults a
 * plain SIGSEGV handler resolves with one mmap of a (resident) memfd page
 * each, in the faulting thread: what any signal-based MMU pays the kernel
 * per fault, before doing any work of its own.  The host MMU's handler is
 * set aside meanwhile (no window is touched).  ns per page or -errno.
 */
static double k_signal_floor(unsigned long pages)
{
	struct sigaction sa, old;
	uint64_t t0, t1, c0;
	double res;

	floor_fd = memfd_create("bench_host_floor", MFD_CLOEXEC);
	if (floor_fd < 0)
		return -errno;
	if (ftruncate(floor_fd, (off_t)(pages * P))) {
		close(floor_fd);
		return -errno;
	}
	floor_region = mmap(NULL, pages * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (floor_region == MAP_FAILED) {
		close(floor_fd);
		return -errno;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = floor_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old);
	c0 = cpu_ns();
	t0 = now_ns();
	touch(floor_region, pages, true);
	t1 = now_ns();
	cpu_last = ns_per(c0, cpu_ns(), pages);
	sigaction(SIGSEGV, &old, NULL);
	res = ns_per(t0, t1, pages);
	munmap(floor_region, pages * P);
	close(floor_fd);
	return res;
}

/* ---- the measurements ---- */

/* cpu_caveat - "<what>; CPU per page: usermm X ns, kernel Y ns (every thread)". */
static const char *cpu_caveat(char *buf, size_t n, const char *what, double *uc, double *kc)
{
	snprintf(buf, n, "%s; CPU per page (every thread): usermm %.0f ns, kernel %.0f ns",
		 what, median(uc, REPS), median(kc, REPS));
	return buf;
}

static void bench_anon(struct umm_mm *mm)
{
	double u[REPS], k[REPS], f[REPS], uc[REPS], kc[REPS], fc[REPS];
	bool uffd_ok = true;
	char msg[256];
	int err = 0;

	for (int r = 0; r < REPS; r++) {
		u[r] = umm_touch(mm, NULL, false, PAGES, true, UMM_HOST_NO_FAULT_AROUND, NULL);
		uc[r] = cpu_last;
		k[r] = k_anon_touch(PAGES);
		kc[r] = cpu_last;
		f[r] = k_uffd_touch(PAGES);
		fc[r] = cpu_last;
		if (u[r] < 0 || k[r] < 0) {
			skipped("anon first touch", u[r] < 0 ? "umm_host_attach" : "mmap",
				(int)(u[r] < 0 ? u[r] : k[r]));
			return;
		}
		if (f[r] < 0) {
			uffd_ok = false;
			err = (int)f[r];
		}
	}
	bench_report_caveat("host anon first touch, single (per fault)", median(u, REPS), median(k, REPS),
			    cpu_caveat(msg, sizeof(msg), "one fault per page on both sides; usermm: SIGSEGV, "
				       "usermm fault on the faulting thread, mmap of the frame", uc, kc));
	bench_kernel_variant("anonymous first touch");
	{
		double ft[REPS], ftc[REPS];

		host_mmu_no_inline = true;
		for (int r = 0; r < REPS; r++) {
			ft[r] = umm_touch(mm, NULL, false, PAGES, true, UMM_HOST_NO_FAULT_AROUND, NULL);
			ftc[r] = cpu_last;
		}
		host_mmu_no_inline = false;
		bench_report_caveat("host anon first touch, single, fault thread (per fault)", median(ft, REPS),
				    median(k, REPS),
				    cpu_caveat(msg, sizeof(msg), "usermm: SIGSEGV, handoff to a fault thread, "
					       "usermm fault, mmap of the frame (host_mmu_no_inline)", ftc, kc));
		bench_kernel_variant("anonymous first touch");
	}
	{
		double pa[REPS], pc[REPS];
		unsigned long faults = 0;
		char what[160];

		for (int r = 0; r < REPS; r++) {
			pa[r] = umm_touch(mm, NULL, false, PAGES, true, UMM_HOST_POPULATE_AROUND, &faults);
			pc[r] = cpu_last;
		}
		snprintf(what, sizeof(what), "usermm: UMM_HOST_POPULATE_AROUND, %lu faults for %lu pages "
			 "(blocks of 16 to 64 pages allocated at once)", faults, PAGES);
		bench_report_caveat("host anon first touch, populate-around (per page)", median(pa, REPS),
				    median(k, REPS), cpu_caveat(msg, sizeof(msg), what, pc, kc));
		bench_kernel_variant("anonymous first touch");
	}
	{
		double fl[REPS], flc[REPS];
		int r;

		for (r = 0; r < REPS; r++) {
			fl[r] = k_signal_floor(PAGES);
			flc[r] = cpu_last;
			if (fl[r] < 0)
				break;
		}
		if (r < REPS)
			skipped("signal floor", "memfd/mmap", (int)fl[r]);
		else
			bench_report_different("host anon vs signal+mmap floor (per fault)", median(u, REPS),
					       median(fl, REPS),
					       cpu_caveat(msg, sizeof(msg), "kernel side: a bare SIGSEGV handler "
							  "mmapping a memfd page in the faulting thread, "
							  "no allocation", uc, flc));
		if (r == REPS)
			bench_kernel_variant("SIGSEGV handler + mmap");
	}
	if (uffd_ok) {
		bench_report_different("host anon vs userfaultfd (per fault)", median(u, REPS),
				       median(f, REPS),
				       cpu_caveat(msg, sizeof(msg), "kernel side: UFFDIO_COPY of a zero page "
						  "from a handler thread", uc, fc));
		bench_kernel_variant("userfaultfd UFFDIO_COPY");
	} else {
		snprintf(msg, sizeof(msg), "userfaultfd (/proc/sys/vm/unprivileged_userfaultfd: %s)",
			 access("/proc/sys/vm/unprivileged_userfaultfd", R_OK) ? "absent" : "present");
		skipped(msg, "userfaultfd", err);
	}
}

static void bench_shmem(struct umm_system *sys, struct umm_mm *mm)
{
	double u[REPS], k[REPS], uc[REPS], kc[REPS], pa[REPS], pc[REPS];
	unsigned long faults = 0;
	char msg[256], what[160];

	for (int r = 0; r < REPS; r++) {
		struct umm_object *obj, *obj2;
		int fd = memfd_create("bench_host", MFD_CLOEXEC);
		int err = umm_object_create_shmem(sys, PAGES * P, &obj);

		if (!err && (err = umm_object_create_shmem(sys, PAGES * P, &obj2)))
			umm_object_put(obj);
		if (err || fd < 0 || ftruncate(fd, (off_t)(PAGES * P))) {
			skipped("shmem first touch", err ? "umm_object_create_shmem" : "memfd_create",
				err ? err : -errno);
			if (!err) {
				umm_object_put(obj);
				umm_object_put(obj2);
			}
			if (fd >= 0)
				close(fd);
			return;
		}
		u[r] = umm_touch(mm, obj, false, PAGES, true, UMM_HOST_NO_FAULT_AROUND, NULL);
		uc[r] = cpu_last;
		pa[r] = umm_touch(mm, obj2, false, PAGES, true, UMM_HOST_POPULATE_AROUND, &faults);
		pc[r] = cpu_last;
		k[r] = k_memfd_touch(fd, PAGES, true, NULL);
		kc[r] = cpu_last;
		umm_object_put(obj);
		umm_object_put(obj2);
		close(fd);
		if (u[r] < 0 || pa[r] < 0 || k[r] < 0) {
			skipped("shmem first touch", "mapping", (int)(u[r] < 0 ? u[r] : pa[r] < 0 ? pa[r] : k[r]));
			return;
		}
	}
	bench_report_caveat("host shmem first touch, single (per fault)", median(u, REPS), median(k, REPS),
			    cpu_caveat(msg, sizeof(msg), "one fault per page on both sides; kernel side: a "
				       "store to each page of a fresh memfd mapping", uc, kc));
	bench_kernel_variant("memfd first touch");
	snprintf(what, sizeof(what), "usermm: UMM_HOST_POPULATE_AROUND, %lu faults for %lu pages (%lu in "
		 "the handler; blocks of 16 to 64 pages brought in at once)", faults, PAGES, handler_last);
	bench_report_caveat("host shmem first touch, populate-around (per page)", median(pa, REPS),
			    median(k, REPS), cpu_caveat(msg, sizeof(msg), what, pc, kc));
	bench_kernel_variant("memfd first touch");
}

/*
 * umm_wp_touch - map `pages` of the file behind obj shared in mm, attach
 * a window, load every page through it (mapped read-only, clean), then
 * time a store to each page; msync (the pages go back to the file) and
 * unmap.  Returns ns per page or -errno; *faults the faults of the stores,
 * *handler those the signal handler resolved with its trylocks.
 */
static double umm_wp_touch(struct umm_mm *mm, struct umm_object *obj, unsigned long pages,
			   unsigned long *faults, unsigned long *handler)
{
	struct umm_host_stats s0, s1;
	uintptr_t a;
	char *base;
	uint64_t t0, t1, c0;
	int err;

	err = umm_mmap(mm, 0, pages * P, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &a);
	if (err)
		return err;
	err = umm_host_attach(mm, a, pages * P, UMM_HOST_NO_FAULT_AROUND, (void **)&base);
	if (err) {
		umm_munmap(mm, a, pages * P);
		return err;
	}
	touch(base, pages, false);
	umm_host_get_stats(&s0);
	c0 = cpu_ns();
	t0 = now_ns();
	touch(base, pages, true);
	t1 = now_ns();
	cpu_last = ns_per(c0, cpu_ns(), pages);
	umm_host_get_stats(&s1);
	*faults = s1.faults - s0.faults;
	*handler = (s1.handler_faults - s0.handler_faults) - (s1.inline_faults - s0.inline_faults);
	umm_host_detach(mm, base);
	err = umm_msync(mm, a, pages * P, MS_SYNC);
	umm_munmap(mm, a, pages * P);
	return err ? err : ns_per(t0, t1, pages);
}

/* k_wp_touch - the same on a kernel shared mapping of fd: load, write back (clean), time the stores. */
static double k_wp_touch(int fd, unsigned long pages, long *faults)
{
	char *p = mmap(NULL, pages * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	uint64_t t0, t1, c0;
	long f0;

	if (p == MAP_FAILED)
		return -errno;
	touch(p, pages, false);
	msync(p, pages * P, MS_SYNC);
	f0 = minflt();
	c0 = cpu_ns();
	t0 = now_ns();
	touch(p, pages, true);
	t1 = now_ns();
	cpu_last = ns_per(c0, cpu_ns(), pages);
	*faults = minflt() - f0;
	msync(p, pages * P, MS_SYNC);
	munmap(p, pages * P);
	return ns_per(t0, t1, pages);
}

static void bench_write_notify(struct umm_system *sys, struct umm_mm *mm)
{
	double u[REPS], ut[REPS], k[REPS], uc[REPS], utc[REPS], kc[REPS];
	unsigned long uf = 0, uh = 0, tf = 0, th = 0;
	long kf = 0;
	struct umm_object *obj;
	char what[200], msg[320];
	int fd, err;

	fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)(PAGES * P))) {
		skipped("shared file write-notify", "open(/tmp, O_TMPFILE)", -errno);
		if (fd >= 0)
			close(fd);
		return;
	}
	err = umm_object_open_fd(sys, fd, &obj);
	if (err) {
		skipped("shared file write-notify", "umm_object_open_fd", err);
		close(fd);
		return;
	}
	for (int r = 0; r < REPS; r++) {
		u[r] = umm_wp_touch(mm, obj, PAGES, &uf, &uh);
		uc[r] = cpu_last;
		host_mmu_no_fast_path = true;
		ut[r] = umm_wp_touch(mm, obj, PAGES, &tf, &th);
		utc[r] = cpu_last;
		host_mmu_no_fast_path = false;
		k[r] = k_wp_touch(fd, PAGES, &kf);
		kc[r] = cpu_last;
		if (u[r] < 0 || ut[r] < 0 || k[r] < 0) {
			skipped("shared file write-notify", "mapping", (int)(u[r] < 0 ? u[r] : ut[r] < 0 ? ut[r] : k[r]));
			goto out;
		}
	}
	snprintf(what, sizeof(what), "stores to clean pages of a shared file mapping (ext4 or whatever /tmp "
		 "is); usermm: %lu faults, %lu resolved by the handler's trylocks; kernel: %ld faults", uf, uh, kf);
	bench_report_caveat("host shared file write-notify (per fault)", median(u, REPS), median(k, REPS),
			    cpu_caveat(msg, sizeof(msg), what, uc, kc));
	bench_kernel_variant("shared file write fault on a clean page");
	snprintf(what, sizeof(what), "the same, every fault handed to a fault thread (host_mmu_no_fast_path): "
		 "%lu faults, %lu in the handler", tf, th);
	bench_report_caveat("host shared file write-notify, fault thread (per fault)", median(ut, REPS),
			    median(k, REPS), cpu_caveat(msg, sizeof(msg), what, utc, kc));
	bench_kernel_variant("shared file write fault on a clean page");
out:
	umm_object_put(obj);
	close(fd);
}

static void bench_present(struct umm_system *sys, struct umm_mm *mm)
{
	double us[REPS], ua[REPS], k[REPS], usc[REPS], uac[REPS], kc[REPS];
	unsigned long fs = 0, fa = 0, hs = 0, ha = 0;
	long kf = 0;
	struct umm_object *obj;
	uintptr_t a;
	int fd, err;
	char what[160], msg[256];

	err = umm_object_create_shmem(sys, PAGES * P, &obj);
	if (err) {
		skipped("present read", "umm_object_create_shmem", err);
		return;
	}
	/* make every page resident, in one batch (frames mostly contiguous) */
	err = umm_mmap(mm, 0, PAGES * P, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &a);
	if (!err)
		err = umm_madvise(mm, a, PAGES * P, MADV_POPULATE_WRITE);
	if (!err)
		umm_munmap(mm, a, PAGES * P);
	fd = memfd_create("bench_host", MFD_CLOEXEC);
	if (err || fd < 0 || ftruncate(fd, (off_t)(PAGES * P))) {
		skipped("present read", err ? "umm_write" : "memfd_create", err ? err : -errno);
		umm_object_put(obj);
		if (fd >= 0)
			close(fd);
		return;
	}
	k_memfd_touch(fd, PAGES, true, NULL);   /* resident in the kernel's page cache */
	for (int r = 0; r < REPS; r++) {
		us[r] = umm_touch(mm, obj, true, PAGES, false, UMM_HOST_NO_FAULT_AROUND, &fs);
		usc[r] = cpu_last;
		hs = handler_last;
		ua[r] = umm_touch(mm, obj, true, PAGES, false, 0, &fa);
		uac[r] = cpu_last;
		ha = handler_last;
		k[r] = k_memfd_touch(fd, PAGES, false, &kf);
		kc[r] = cpu_last;
		if (us[r] < 0 || ua[r] < 0 || k[r] < 0) {
			skipped("present read", "mapping", (int)(us[r] < 0 ? us[r] : ua[r] < 0 ? ua[r] : k[r]));
			goto out;
		}
	}
	snprintf(what, sizeof(what), "usermm: one fault per page (%lu faults, %lu resolved in the signal "
		 "handler); kernel: %ld faults (its fault-around)", fs, hs, kf);
	bench_report_different("host present read, single (per fault)", median(us, REPS), median(k, REPS),
			       cpu_caveat(msg, sizeof(msg), what, usc, kc));
	bench_kernel_variant("memfd read, fault-around");
	snprintf(what, sizeof(what), "usermm: %lu faults for %lu pages (one per run of arena-contiguous "
		 "frames, at most 64 pages; %lu in the handler); kernel: %ld faults", fa, PAGES, ha, kf);
	bench_report_caveat("host present read, fault-around (per page)", median(ua, REPS), median(k, REPS),
			    cpu_caveat(msg, sizeof(msg), what, uac, kc));
	bench_kernel_variant("memfd read, fault-around");
out:
	umm_object_put(obj);
	close(fd);
}

static void bench_bandwidth(struct umm_mm *mm)
{
	size_t len = WARM_PAGES * P;
	double u[REPS], k[REPS];
	uint64_t *plain = (uint64_t *)kmap_anon(len);   /* 4 KiB pages, as the window's */
	uintptr_t a;
	char *base;
	int err;

	if (!plain) {
		skipped("pointer bandwidth", "mmap", -ENOMEM);
		return;
	}
	memset(plain, 1, len);
	err = umm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a);
	if (!err)
		err = umm_host_attach(mm, a, len, 0, (void **)&base);
	if (err) {
		skipped("pointer bandwidth", "umm_host_attach", err);
		munmap(plain, len);
		return;
	}
	memset(base, 1, len);                   /* every page mapped writable */
	for (int r = 0; r < REPS; r++) {
		const uint64_t *q = (const uint64_t *)base;
		uint64_t s = 0, t0, t1;

		t0 = now_ns();
		for (size_t i = 0; i < len / 8; i++)
			s += q[i];
		t1 = now_ns();
		u[r] = ns_per(t0, t1, WARM_PAGES);
		t0 = now_ns();
		for (size_t i = 0; i < len / 8; i++)
			s += plain[i];
		t1 = now_ns();
		k[r] = ns_per(t0, t1, WARM_PAGES);
		sink += s;
	}
	bench_report_caveat("pointer read bandwidth (per 4 KiB page)", median(u, REPS), median(k, REPS),
			    "kernel side: the same loop over anonymous memory (4 KiB pages); no faults on either side");
	bench_kernel_variant("plain memory");
	umm_host_detach(mm, base);
	umm_munmap(mm, a, len);
	munmap(plain, len);
}

int main(int argc, char **argv)
{
	struct umm_system *sys;
	struct umm_mm *mm;
	uintptr_t anchor;
	void *anchor_base;
	int err;

	bench_init(argc, argv, "host MMU: faults through plain pointers into usermm memory (anonymous, "
		   "shmem, shared file write-notify, present pages with fault-around) beside the kernel's first-touch faults, "
		   "userfaultfd and a bare SIGSEGV+mmap handler; pointer bandwidth");
	bench_machine_line();
	printf("# median of %d repetitions; ns per page over batches of %lu pages; fresh mappings "
	       "in a warm usermm system (phys %lu MiB)\n", REPS, PAGES, PHYS_BYTES >> 20);
	print_loadavg();
	/* host windows need the memfd arena */
	if (bench_start_arena(PHYS_BYTES, (size_t)sysconf(_SC_PAGESIZE), UMM_ARENA_MEMFD, &sys, &mm)) {
		if (!sys)
			return 1;
		goto out_sys;
	}
	/* one window stays attached throughout: the fault threads keep running */
	err = umm_mmap(mm, 0, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &anchor);
	if (!err)
		err = umm_host_attach(mm, anchor, P, 0, &anchor_base);
	if (err) {
		skipped("host MMU", "umm_host_attach", err);
		goto out_mm;
	}
	/* warm the arena: frames touched by the host once */
	umm_touch(mm, NULL, false, 4 * PAGES, true, 0, NULL);
	bench_anon(mm);
	bench_shmem(sys, mm);
	bench_write_notify(sys, mm);
	bench_present(sys, mm);
	bench_bandwidth(mm);
	umm_host_detach(mm, anchor_base);
out_mm:
	umm_mm_destroy(mm);
out_sys:
	umm_system_destroy(sys);
	return 0;
}
