/* SPDX-License-Identifier: MIT */
/*
 * bench_populate.c - prefaulting a whole mapping whose pages are cached:
 * usermm's MAP_POPULATE next to the kernel's MAP_POPULATE and
 * MADV_POPULATE_READ on the same data, in the same process.
 *
 *   shmem  a 256 MiB shmem object (usermm) / memfd (kernel) whose pages
 *          all exist (written once before timing)
 *   file   a 256 MiB temp file in the host's page cache; usermm's own
 *          page cache is warmed by one untimed populate first, so both
 *          sides map pages they already have.  One more line times
 *          usermm's populate with its cache empty (it reads every page
 *          from the host's cache through its I/O backend), still against
 *          the kernel's warm MAP_POPULATE: usermm's cold cost.
 *
 * Each repetition times only the call that populates: umm_mmap /
 * mmap(MAP_SHARED | MAP_POPULATE, PROT_READ) of the whole object, or
 * madvise(MADV_POPULATE_READ) on a fresh mapping; the munmap is outside
 * the timing.  The figures are ns per page (median of REPS repetitions,
 * usermm and kernel alternating), and ratios against both kernel calls.
 * Both sides end with every page mapped by a pte (the kernel maps 4 KiB
 * pages here: its shmem and file mappings of this size are not huge-page
 * backed unless the host forces THP for shmem, noted below if so).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/mman.h>

#include <usermm/usermm.h>
#include "bench.h"

#define REPS        BENCH_SIZE(11, 1)
#define POP_BYTES   BENCH_SIZE(256UL << 20, 8UL << 20)
#define POP_PAGES   (POP_BYTES / UMM_PAGE_SIZE)
#define PHYS_BYTES  BENCH_SIZE(768UL << 20, 64UL << 20)

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

/* umm_populate_ns - ns for one umm_mmap(MAP_POPULATE) of obj, unmapped after. */
static double umm_populate_ns(struct umm_mm *mm, struct umm_object *obj, int *err)
{
	uintptr_t a;
	uint64_t t0 = now_ns(), t1;

	*err = umm_mmap(mm, 0, POP_BYTES, PROT_READ, MAP_SHARED | MAP_POPULATE, obj, 0, &a);
	t1 = now_ns();
	if (!*err)
		*err = umm_munmap(mm, a, POP_BYTES);
	return (double)(t1 - t0);
}

/* k_populate_ns - ns for one kernel mmap(MAP_POPULATE) (madv false) or madvise(POPULATE_READ). */
static double k_populate_ns(int fd, bool madv, int *err)
{
	uint64_t t0, t1;
	char *p;

	*err = 0;
	t0 = now_ns();
	p = mmap(NULL, POP_BYTES, PROT_READ, MAP_SHARED | (madv ? 0 : MAP_POPULATE), fd, 0);
	if (p == MAP_FAILED) {
		*err = -errno;
		return 0;
	}
	if (madv) {
		t0 = now_ns();
		if (madvise(p, POP_BYTES, MADV_POPULATE_READ) != 0)
			*err = -errno;
	}
	t1 = now_ns();
	munmap(p, POP_BYTES);
	return (double)(t1 - t0);
}

/*
 * report3 - result lines (bench.h's grammar, ns per page) against the
 * kernel's MAP_POPULATE and, if measured (kmadv > 0), MADV_POPULATE_READ;
 * cold: usermm copies every page in while the kernel maps its warm cache,
 * so that pair does different work and has no ratio.
 */
static void report3(const char *what, double u, double kpop, double kmadv, bool cold)
{
	double per = (double)POP_PAGES;
	char name[64];

	if (cold) {
		snprintf(name, sizeof(name), "%s (ns/page)", what);
		bench_report_different(name, u / per, kpop / per,
				       "usermm reads every page from the host's page cache (its I/O backend); "
				       "the kernel's MAP_POPULATE maps its own cached pages");
		bench_kernel_variant("mmap MAP_POPULATE");
	} else {
		snprintf(name, sizeof(name), "%s vs MAP_POPULATE (ns/page)", what);
		bench_report_caveat(name, u / per, kpop / per,
				    "one umm_mmap(MAP_POPULATE) vs one mmap(MAP_POPULATE) of the same cached pages");
		bench_kernel_variant("mmap MAP_POPULATE");
		if (kmadv > 0) {
			snprintf(name, sizeof(name), "%s vs MADV_POPULATE_READ (ns/page)", what);
			bench_report_caveat(name, u / per, kmadv / per,
					    "kernel: madvise(MADV_POPULATE_READ) on a fresh mapping, timed alone");
			bench_kernel_variant("madvise MADV_POPULATE_READ");
		}
	}
	printf("#   totals: usermm %.2f ms, kernel MAP_POPULATE %.2f ms", u / 1e6, kpop / 1e6);
	if (kmadv > 0)
		printf(", MADV_POPULATE_READ %.2f ms", kmadv / 1e6);
	printf("; usermm takes %.3f of MAP_POPULATE's time (%.1fx %s)\n", u / kpop,
	       u < kpop ? kpop / u : u / kpop, u < kpop ? "faster" : "slower");
	fflush(stdout);
}

/* bench_one - REPS alternating repetitions of usermm and both kernel calls on (obj, fd). */
static void bench_one(const char *what, struct umm_mm *mm, struct umm_object *obj, int fd)
{
	double u[REPS], kp[REPS], km[REPS];
	bool have_madv = true;
	int err;

	for (int r = 0; r < REPS; r++) {
		u[r] = umm_populate_ns(mm, obj, &err);
		if (err) {
			skipped(what, "umm_mmap(MAP_POPULATE)", err);
			return;
		}
		kp[r] = k_populate_ns(fd, false, &err);
		if (err) {
			skipped(what, "mmap(MAP_POPULATE)", err);
			return;
		}
		km[r] = have_madv ? k_populate_ns(fd, true, &err) : 0;
		if (have_madv && err) {
			printf("# %s: madvise(MADV_POPULATE_READ): %s, not measured\n", what, umm_strerror(err));
			have_madv = false;
		}
	}
	report3(what, median(u, REPS), median(kp, REPS), have_madv ? median(km, REPS) : 0, false);
}

/* bench_shmem - populate of a fully written shmem object / memfd. */
static void bench_shmem(struct umm_system *sys, struct umm_mm *mm)
{
	struct umm_object *obj;
	uintptr_t a;
	int fd, err;

	err = umm_object_create_shmem(sys, POP_BYTES, &obj);
	if (err) {
		skipped("shmem", "umm_object_create_shmem", err);
		return;
	}
	/* every page of the object exists: written once */
	err = umm_mmap(mm, 0, POP_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &a);
	if (!err)
		err = umm_madvise(mm, a, POP_BYTES, MADV_POPULATE_WRITE);
	if (!err)
		err = umm_munmap(mm, a, POP_BYTES);
	fd = memfd_create("bench_populate", 0);
	if (err || fd < 0 || ftruncate(fd, (off_t)POP_BYTES) != 0) {
		skipped("shmem", err ? "prepare usermm shmem" : "memfd_create/ftruncate", err ? err : -errno);
		goto out;
	}
	{
		char *p = mmap(NULL, POP_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

		if (p == MAP_FAILED) {
			skipped("shmem", "mmap memfd", -errno);
			goto out;
		}
		for (size_t off = 0; off < POP_BYTES; off += UMM_PAGE_SIZE)
			p[off] = 1;
		munmap(p, POP_BYTES);
	}
	printf("# usermm shmem pages cached: %lu of %lu\n", umm_object_cached_pages(obj), POP_PAGES);
	bench_one(bench_quick ? "populate 8M shmem" : "populate 256M shmem", mm, obj, fd);
out:
	if (fd >= 0)
		close(fd);
	umm_object_put(obj);
}

/* bench_file - populate of a file in the host's page cache (usermm cold once, then warm). */
static void bench_file(struct umm_system *sys, struct umm_mm *mm)
{
	struct umm_object *obj;
	double cold[REPS], kp[REPS];
	int fd, err;

	fd = make_temp_file("populate", POP_PAGES, UMM_PAGE_SIZE);
	if (fd < 0) {
		skipped("file", "make_temp_file", fd);
		return;
	}
	/* usermm with an empty cache: a new object each repetition */
	for (int r = 0; r < REPS; r++) {
		err = umm_object_open_fd(sys, fd, &obj);
		if (err) {
			skipped("file", "umm_object_open_fd", err);
			goto out;
		}
		cold[r] = umm_populate_ns(mm, obj, &err);
		umm_object_put(obj);
		if (err) {
			skipped("file cold", "umm_mmap(MAP_POPULATE)", err);
			goto out;
		}
		kp[r] = k_populate_ns(fd, false, &err);
		if (err) {
			skipped("file", "mmap(MAP_POPULATE)", err);
			goto out;
		}
	}
	report3(bench_quick ? "populate 8M file, own cache empty" : "populate 256M file, own cache empty",
		median(cold, REPS), median(kp, REPS), 0, true);
	err = umm_object_open_fd(sys, fd, &obj);
	if (err) {
		skipped("file", "umm_object_open_fd", err);
		goto out;
	}
	(void)umm_populate_ns(mm, obj, &err);      /* warm usermm's cache */
	printf("# usermm file pages cached: %lu of %lu\n", umm_object_cached_pages(obj), POP_PAGES);
	bench_one(bench_quick ? "populate 8M file" : "populate 256M file", mm, obj, fd);
	umm_object_put(obj);
out:
	close(fd);
}

int main(int argc, char **argv)
{
	struct umm_system *sys;
	struct umm_mm *mm;
	char thp[64] = "";
	FILE *f;

	bench_init(argc, argv, "MAP_POPULATE of a cached 256 MiB shmem object and file against "
		   "the kernel's MAP_POPULATE and MADV_POPULATE_READ");
	bench_machine_line();
	printf("# median of %d repetitions; ns per page of a %lu MiB populate (one call); usermm phys %lu MiB\n",
	       REPS, POP_BYTES >> 20, PHYS_BYTES >> 20);
	print_loadavg();
	f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "r");
	if (f) {
		if (fgets(thp, sizeof(thp), f))
			printf("# host shmem THP: %s", thp);
		fclose(f);
	}
	if (bench_start(PHYS_BYTES, (size_t)sysconf(_SC_PAGESIZE), &sys, &mm)) {
		if (!sys)
			return 1;
		goto out_sys;
	}
	bench_shmem(sys, mm);
	bench_file(sys, mm);
	umm_mm_destroy(mm);
out_sys:
	umm_system_destroy(sys);
	return 0;
}
