/* SPDX-License-Identifier: MIT */
/*
 * bench_mlock.c - locking memory: usermm's umm_mlock / umm_munlock next
 * to the kernel's mlock / munlock of the same private anonymous range, in
 * the same process.
 *
 *   mlock    a fresh 64 MiB private writable anonymous mapping, nothing
 *            mapped yet: the call populates every page (a zeroed frame
 *            each, write faults) and locks it.
 *   munlock  the same mapping, every page resident and locked: the call
 *            unlocks the range (usermm walks the ptes and checks each
 *            page's reverse map for another locked mapping; the kernel
 *            clears its per-page mlock accounting).
 *
 * Each repetition times only the call; the mapping is made before and
 * removed after it.  The usermm system is warm: nearly all its frames
 * were touched by an untimed lock of 7/8 of its memory first and stay
 * host memory (bench_start).  --quick: 4 MiB, one repetition.  Figures
 * are ns per 4 KiB page, median of REPS repetitions, usermm and kernel
 * alternating.  The kernel side needs RLIMIT_MEMLOCK of 64 MiB or
 * CAP_IPC_LOCK; without it its lines say why they are missing.
 */
#include <errno.h>
#include <sys/mman.h>

#include <usermm/usermm.h>
#include "bench.h"

#define REPS        BENCH_SIZE(7, 1)
#define LOCK_BYTES  BENCH_SIZE(64UL << 20, 4UL << 20)
#define LOCK_PAGES  (LOCK_BYTES / UMM_PAGE_SIZE)
#define PHYS_BYTES  BENCH_SIZE(256UL << 20, 64UL << 20)

/* umm_round - one mlock and munlock of a fresh mapping; ns of each in *ml, *mu. */
static int umm_round(struct umm_mm *mm, double *ml, double *mu)
{
	uintptr_t a;
	uint64_t t0, t1, t2;
	int err = umm_mmap(mm, 0, LOCK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			   NULL, 0, &a);

	if (err)
		return err;
	t0 = now_ns();
	err = umm_mlock(mm, a, LOCK_BYTES);
	t1 = now_ns();
	if (!err)
		err = umm_munlock(mm, a, LOCK_BYTES);
	t2 = now_ns();
	*ml = (double)(t1 - t0) / LOCK_PAGES;
	*mu = (double)(t2 - t1) / LOCK_PAGES;
	(void)umm_munmap(mm, a, LOCK_BYTES);
	return err;
}

/* k_round - the same with the kernel's mlock and munlock; 0 or -errno. */
static int k_round(double *ml, double *mu)
{
	char *p = kmap_anon(LOCK_BYTES);
	uint64_t t0, t1, t2;
	int err = 0;

	if (!p)
		return -errno;
	t0 = now_ns();
	if (mlock(p, LOCK_BYTES) != 0)
		err = -errno;
	t1 = now_ns();
	if (!err && munlock(p, LOCK_BYTES) != 0)
		err = -errno;
	t2 = now_ns();
	*ml = (double)(t1 - t0) / LOCK_PAGES;
	*mu = (double)(t2 - t1) / LOCK_PAGES;
	munmap(p, LOCK_BYTES);
	return err;
}

/*
 * warm - touch (nearly) every frame of the system once, untimed, so that
 * the host backs them all: the timed rounds then never pay the host's
 * first touch, whichever frames the allocator hands out.
 */
static int warm(struct umm_mm *mm)
{
	size_t len = PHYS_BYTES - PHYS_BYTES / 8;
	uintptr_t a;
	int err = umm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a);

	if (err)
		return err;
	err = umm_mlock(mm, a, len);
	(void)umm_munmap(mm, a, len);
	return err;
}

int main(int argc, char **argv)
{
	double uml[7], umu[7], kml[7], kmu[7];
	const char *ml_name, *mu_name;
	struct umm_system *sys;
	struct umm_mm *mm;
	int err, kerr = 0;

	bench_init(argc, argv, "mlock and munlock of 64 MiB of private anonymous memory "
		   "(populate and lock, unlock) against the kernel's");
	ml_name = BENCH_SIZE("mlock 64M anon, fresh, per page", "mlock 4M anon, fresh, per page");
	mu_name = BENCH_SIZE("munlock 64M anon, resident, per page", "munlock 4M anon, resident, per page");
	bench_machine_line();
	printf("# median of %d repetitions; ns per page of one call over %lu MiB of private "
	       "anonymous memory; usermm phys %lu MiB, warm\n", REPS, LOCK_BYTES >> 20, PHYS_BYTES >> 20);
	print_loadavg();
	if (bench_start(PHYS_BYTES, (size_t)sysconf(_SC_PAGESIZE), &sys, &mm)) {
		if (!sys)
			return 1;
		goto out_sys;
	}
	err = warm(mm);
	if (err) {
		skipped("mlock", "umm_mlock", err);
		goto out;
	}
	for (int r = 0; r < REPS; r++) {
		err = umm_round(mm, &uml[r], &umu[r]);
		if (err) {
			skipped("mlock", "umm_mlock", err);
			goto out;
		}
		if (!kerr)
			kerr = k_round(&kml[r], &kmu[r]);
	}
	if (kerr) {
		printf("# kernel side not measured: mlock: %s (RLIMIT_MEMLOCK or CAP_IPC_LOCK)\n",
		       strerror(-kerr));
		bench_report(ml_name, median(uml, REPS), 0);
		bench_report(mu_name, median(umu, REPS), 0);
		goto out;
	}
	bench_report_caveat(ml_name, median(uml, REPS), median(kml, REPS),
			    "both populate with write faults (zeroed frames) and lock each page");
	bench_kernel_variant("mlock");
	bench_report(mu_name, median(umu, REPS), median(kmu, REPS));
	bench_kernel_variant("munlock");
out:
	umm_mm_destroy(mm);
out_sys:
	umm_system_destroy(sys);
	return 0;
}
