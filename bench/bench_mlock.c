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
 * were touched by an untimed lock of 224 MiB first and stay host memory
 * (bench_start).  Figures
 * are ns per 4 KiB page, median of REPS repetitions, usermm and kernel
 * alternating.  The kernel side needs RLIMIT_MEMLOCK of 64 MiB or
 * CAP_IPC_LOCK; without it its lines say why they are missing.
 */
#include <errno.h>
#include <sys/mman.h>

#include <usermm/usermm.h>
#include "bench.h"

#define REPS        7
#define LOCK_BYTES  (64UL << 20)
#define LOCK_PAGES  (LOCK_BYTES / UMM_PAGE_SIZE)
#define PHYS_BYTES  (256UL << 20)

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
	size_t len = PHYS_BYTES - (32UL << 20);
	uintptr_t a;
	int err = umm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a);

	if (err)
		return err;
	err = umm_mlock(mm, a, len);
	(void)umm_munmap(mm, a, len);
	return err;
}

int main(void)
{
	double uml[REPS], umu[REPS], kml[REPS], kmu[REPS];
	struct umm_system *sys;
	struct umm_mm *mm;
	int err, kerr = 0;

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
		bench_report("mlock 64M anon, fresh, per page", median(uml, REPS), 0);
		bench_report("munlock 64M anon, resident, per page", median(umu, REPS), 0);
		goto out;
	}
	bench_report_caveat("mlock 64M anon, fresh, per page", median(uml, REPS), median(kml, REPS),
			    "both populate with write faults (zeroed frames) and lock each page");
	bench_report("munlock 64M anon, resident, per page", median(umu, REPS), median(kmu, REPS));
out:
	umm_mm_destroy(mm);
out_sys:
	umm_system_destroy(sys);
	return 0;
}
