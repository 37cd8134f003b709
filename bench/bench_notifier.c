/* SPDX-License-Identifier: MIT */
/*
 * bench_notifier.c - what MMU notifiers cost, and a mirror's fault rate.
 *
 *   munmap, one page       umm_munmap of one resident anonymous page at a
 *                          time, with 0, 1 and 8 notifiers registered on
 *                          the address space (each notifier's
 *                          invalidate_range_start/end bump a counter);
 *                          kernel: munmap(2) of one resident page at a time.
 *   COW write fault        after fork, the parent writes each page once
 *                          (the parent's notifiers hear each break), with
 *                          0, 1 and 8 notifiers; kernel: the same in a
 *                          forked copy of this process (the parent writes
 *                          while the child waits).
 *   mirror fault           a device (examples/device_mirror) reads each
 *                          resident page of a range once: every access is
 *                          a translation miss served by umm_mirror_fault
 *                          (read_begin, the page walk, install under the
 *                          interval lock); beside it the software TLB's
 *                          miss on the same pattern: a fresh thread's
 *                          first umm_read of each page.  No kernel column:
 *                          the kernel's counterpart is a hardware page
 *                          walk.  Printed per fault, and the mirror's
 *                          faults per second (the TLB's misses per second
 *                          as an extra figure).
 *
 * Medians of 7 repetitions (--quick: 1, on 64 pages); all warm (frames touched before, release
 * disabled: bench_start).  The kernel lines with notifiers repeat the
 * kernel's own figure, which has none: their ratio is n/a.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "../examples/device_mirror/device.c"

#define PS        4096UL
#define REPS      BENCH_SIZE(7, 1)
#define UNMAP_PAGES BENCH_SIZE(2048UL, 64UL)
#define COW_PAGES   BENCH_SIZE(2048UL, 64UL)
#define MIRROR_PAGES BENCH_SIZE(4096UL, 64UL)
#define MAX_REPS  7
#define RW (PROT_READ | PROT_WRITE)

static _Atomic unsigned long calls;

static void count_start(struct umm_mmu_notifier *mn, const struct umm_mmu_range *r)
{
	(void)mn; (void)r;
	atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
}

static void count_end(struct umm_mmu_notifier *mn, const struct umm_mmu_range *r)
{
	(void)mn; (void)r;
	atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
}

static const struct umm_mmu_notifier_ops count_ops = {
	.invalidate_range_start = count_start,
	.invalidate_range_end = count_end,
};

static int utouch(struct umm_mm *mm, uintptr_t a, unsigned long pages, unsigned char v)
{
	for (unsigned long i = 0; i < pages; i++) {
		int err = umm_write(mm, a + i * PS, &v, 1);

		if (err)
			return err;
	}
	return 0;
}

/* umm_unmap_ns - ns per one-page umm_munmap over UNMAP_PAGES resident pages. */
static double umm_unmap_ns(struct umm_mm *mm, int *errp)
{
	uintptr_t a;
	uint64_t t0, t1;
	int err = umm_mmap(mm, 0, UNMAP_PAGES * PS, RW, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a);

	if (!err)
		err = utouch(mm, a, UNMAP_PAGES, 1);
	if (err) {
		*errp = err;
		return 0;
	}
	t0 = now_ns();
	for (unsigned long i = 0; i < UNMAP_PAGES; i++)
		umm_munmap(mm, a + i * PS, PS);
	t1 = now_ns();
	return (double)(t1 - t0) / UNMAP_PAGES;
}

static double kernel_unmap_ns(void)
{
	char *p = kmap_anon(UNMAP_PAGES * PS);
	uint64_t t0, t1;

	if (!p)
		return 0;
	for (unsigned long i = 0; i < UNMAP_PAGES; i++)
		p[i * PS] = 1;
	t0 = now_ns();
	for (unsigned long i = 0; i < UNMAP_PAGES; i++)
		munmap(p + i * PS, PS);
	t1 = now_ns();
	return (double)(t1 - t0) / UNMAP_PAGES;
}

/* umm_cow_ns - ns per COW fault of the parent after umm_fork. */
static double umm_cow_ns(struct umm_mm *mm, uintptr_t a, int *errp)
{
	struct umm_mm *child;
	uint64_t t0, t1;
	int err = utouch(mm, a, COW_PAGES, 2);

	if (!err)
		err = umm_fork(mm, &child);
	if (err) {
		*errp = err;
		return 0;
	}
	t0 = now_ns();
	err = utouch(mm, a, COW_PAGES, 3);
	t1 = now_ns();
	umm_mm_destroy(child);
	if (err)
		*errp = err;
	return (double)(t1 - t0) / COW_PAGES;
}

/* kernel_cow_ns - the same with fork(2): the parent writes while the child waits on a pipe. */
static double kernel_cow_ns(char *p)
{
	int pfd[2];
	pid_t pid;
	uint64_t t0, t1;

	for (unsigned long i = 0; i < COW_PAGES; i++)
		p[i * PS] = 2;
	if (pipe(pfd))
		return 0;
	pid = fork();
	if (pid < 0)
		return 0;
	if (pid == 0) {
		char c;

		close(pfd[1]);
		while (read(pfd[0], &c, 1) < 0)
			;
		_exit(0);
	}
	close(pfd[0]);
	t0 = now_ns();
	for (unsigned long i = 0; i < COW_PAGES; i++)
		p[i * PS] = 3;
	t1 = now_ns();
	close(pfd[1]);
	waitpid(pid, NULL, 0);
	return (double)(t1 - t0) / COW_PAGES;
}

struct tlb_miss_arg {
	struct umm_mm *mm;
	uintptr_t a;
	double ns;
	int err;
};

/* tlb_miss_thread - a fresh thread (empty TLB) reads each page once. */
static void *tlb_miss_thread(void *arg)
{
	struct tlb_miss_arg *ta = arg;
	uint64_t t0, t1, v;

	t0 = now_ns();
	for (unsigned long i = 0; i < MIRROR_PAGES && !ta->err; i++)
		ta->err = umm_read(ta->mm, ta->a + i * PS, &v, sizeof(v));
	t1 = now_ns();
	ta->ns = (double)(t1 - t0) / MIRROR_PAGES;
	return NULL;
}

static void bench_mirror(struct umm_mm *mm)
{
	double dev_ns[MAX_REPS], tlb_ns[MAX_REPS], d, t;
	uintptr_t a;
	int err = umm_mmap(mm, 0, MIRROR_PAGES * PS, RW, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a);

	if (!err)
		err = utouch(mm, a, MIRROR_PAGES, 5);
	if (err) {
		skipped("mirror fault", "umm_mmap", err);
		return;
	}
	for (int r = 0; r < REPS; r++) {
		struct device dev;
		struct tlb_miss_arg ta = { mm, a, 0, 0 };
		pthread_t th;
		uint64_t t0, t1, v;

		err = device_create(&dev, mm, a, MIRROR_PAGES);
		if (err) {
			skipped("mirror fault", "device_create", err);
			return;
		}
		t0 = now_ns();
		for (unsigned long i = 0; i < MIRROR_PAGES && !err; i++)
			err = device_access(&dev, a + i * PS, &v, sizeof(v), 0);
		t1 = now_ns();
		if (!err && dev.faults != MIRROR_PAGES)
			err = -EPROTO;
		device_destroy(&dev);
		if (err) {
			skipped("mirror fault", "device_access", err);
			return;
		}
		dev_ns[r] = (double)(t1 - t0) / MIRROR_PAGES;
		pthread_create(&th, NULL, tlb_miss_thread, &ta);
		pthread_join(th, NULL);
		if (ta.err) {
			skipped("soft-TLB miss", "umm_read", ta.err);
			return;
		}
		tlb_ns[r] = ta.ns;
	}
	d = median(dev_ns, REPS);
	t = median(tlb_ns, REPS);
	bench_report_caveat("mirror fault, umm_mirror_fault (ns)", d, 0,
			    "one device read per resident page, each a miss: read_begin, page walk, install");
	bench_report_caveat("soft-TLB miss, same pattern (ns)", t, 0,
			    "a fresh thread's first umm_read of each page: fill from the page table");
	bench_report_unit("mirror faults per second", "faults/s", 1e9 / d, 0, 1);
	bench_caveat("umm_mirror_fault, one per resident page read by the device");
	bench_extra("soft_tlb_misses_per_s", 1e9 / t);
}

int main(int argc, char **argv)
{
	struct umm_system *sys;
	struct umm_mm *mm;
	struct umm_mmu_notifier mns[8];
	const int counts[] = { 0, 1, 8 };
	double kunmap[MAX_REPS], kcow[MAX_REPS], k_unmap, k_cow;
	char *kp;
	uintptr_t cow_a;
	int err;

	memset(mns, 0, sizeof(mns));
	bench_init(argc, argv, "MMU notifiers: one-page munmap and COW fault with 0, 1, 8 notifiers "
		   "against the kernel; device-mirror faults beside soft-TLB misses");
	bench_machine_line();
	printf("# median of %d repetitions; one-page munmap over %lu pages, COW over %lu pages, mirror over %lu pages; warm\n",
	       REPS, UNMAP_PAGES, COW_PAGES, MIRROR_PAGES);
	print_loadavg();
	if (bench_start(256UL << 20, (size_t)sysconf(_SC_PAGESIZE), &sys, &mm)) {
		if (sys)
			umm_system_destroy(sys);
		return 0;
	}

	kp = kmap_anon(COW_PAGES * PS);
	for (int r = 0; r < REPS; r++) {
		kunmap[r] = kernel_unmap_ns();
		kcow[r] = kp ? kernel_cow_ns(kp) : 0;
	}
	k_unmap = median(kunmap, REPS);
	k_cow = median(kcow, REPS);
	if (kp)
		munmap(kp, COW_PAGES * PS);

	err = umm_mmap(mm, 0, COW_PAGES * PS, RW, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &cow_a);
	if (err) {
		skipped("COW write fault", "umm_mmap", err);
		goto out;
	}
	for (unsigned c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		double un[MAX_REPS], cw[MAX_REPS], u, w;
		char name[64];
		int n = counts[c];

		for (int i = 0; i < n; i++) {
			if (mns[i].ops)
				continue;
			mns[i].ops = &count_ops;
			err = umm_mmu_notifier_register(mm, &mns[i]);
			if (err) {
				skipped("notifier lines", "umm_mmu_notifier_register", err);
				goto out;
			}
		}
		err = 0;
		for (int r = 0; r < REPS && !err; r++) {
			un[r] = umm_unmap_ns(mm, &err);
			cw[r] = umm_cow_ns(mm, cow_a, &err);
		}
		if (err) {
			skipped("notifier lines", "umm_munmap/umm_fork", err);
			goto out;
		}
		u = median(un, REPS);
		w = median(cw, REPS);
		snprintf(name, sizeof(name), "munmap 1 page, %d notifiers (ns)", n);
		if (n == 0)
			bench_report_caveat(name, u, k_unmap, "usermm: no notifier registered; kernel: munmap(2) of a resident page");
		else
			bench_report_different(name, u, k_unmap, "usermm: each notifier hears start and end; the kernel figure has none");
		bench_kernel_variant("munmap(2)");
		bench_extra("notifiers", n);
		snprintf(name, sizeof(name), "COW write fault, %d notifiers (ns)", n);
		if (n == 0)
			bench_report_caveat(name, w, k_cow, "the parent writes after fork; kernel: a fork(2) of this process, the parent writes");
		else
			bench_report_different(name, w, k_cow, "usermm: each notifier hears start and end; the kernel figure has none");
		bench_kernel_variant("fork(2), parent writes");
		bench_extra("notifiers", n);
	}
	for (int i = 0; i < 8; i++)
		if (mns[i].ops)
			umm_mmu_notifier_unregister(mm, &mns[i]);
	bench_mirror(mm);
out:
	for (int i = 0; i < 8; i++)
		if (mns[i].ops && mns[i]._subs)
			umm_mmu_notifier_unregister(mm, &mns[i]);
	umm_mm_destroy(mm);
	umm_system_destroy(sys);
	return 0;
}
