/*
 * bench.h - timing helpers shared by the benchmarks.  Every benchmark runs
 * usermm and the Linux kernel doing the same job in the same process and
 * prints one line per measurement:
 *     <name>  usermm <ns> ns  kernel <ns> ns  ratio <usermm/kernel>
 * using the median of `reps` repetitions.  The machine line says where.
 * Also the helpers the fault benchmarks share: the temp file they map,
 * host mappings, fault counters and the comment lines they print.
 */
#ifndef UMM_BENCH_H
#define UMM_BENCH_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <usermm/usermm.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}
/* median - of n samples (sorts them). */
static inline double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static inline void bench_machine_line(void)
{
	struct utsname u;
	char model[256] = "unknown cpu";
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (f) {
		char line[512];
		while (fgets(line, sizeof line, f))
			if (!strncmp(line, "model name", 10)) {
				char *p = strchr(line, ':');
				if (p) { snprintf(model, sizeof model, "%s", p + 2); model[strcspn(model, "\n")] = 0; }
				break;
			}
		fclose(f);
	}
	uname(&u);
	printf("# machine: %s, %ld cpus, Linux %s\n", model, sysconf(_SC_NPROCESSORS_ONLN), u.release);
}

/* bench_report - one result line; kernel_ns <= 0 means no kernel counterpart. */
static inline void bench_report(const char *name, double umm_ns, double kernel_ns)
{
	if (kernel_ns > 0)
		printf("%-34s usermm %10.1f ns   kernel %10.1f ns   ratio %6.2f\n", name, umm_ns, kernel_ns, umm_ns / kernel_ns);
	else
		printf("%-34s usermm %10.1f ns\n", name, umm_ns);
	fflush(stdout);
}

/* print_loadavg - wall-clock figures stretch when other work shares the CPUs. */
static inline void print_loadavg(void)
{
	char line[128] = "";
	FILE *f = fopen("/proc/loadavg", "r");

	if (!f)
		return;
	if (fgets(line, sizeof(line), f))
		printf("# load average at start: %.14s\n", line);
	fclose(f);
}

/* skipped - the comment line for a measurement that could not run. */
static inline void skipped(const char *what, const char *call, int err)
{
	printf("# %s: not measured, %s: %s\n", what, call, umm_strerror(err));
	fflush(stdout);
}

/* minflt - the host's minor faults in this process so far. */
static inline long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* kmap_anon - a private anonymous host mapping of 4 KiB pages, or NULL. */
static inline char *kmap_anon(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

/* The byte that fills page `i` of a benchmark's temp file. */
static inline uint8_t file_byte(unsigned long i)
{
	return (uint8_t)(i * 13 + 7);
}

/*
 * make_temp_file - an unlinked temp file in $TMPDIR (or /tmp) named after
 * `who`, of `pages` pages of `page_size` bytes, page i filled with
 * file_byte(i), clean in the page cache.  Returns the fd or a negative errno.
 */
static inline int make_temp_file(const char *who, unsigned long pages, size_t page_size)
{
	const char *dir = getenv("TMPDIR");
	char path[4096], *buf;
	int fd;

	snprintf(path, sizeof(path), "%s/umm_%s.XXXXXX", dir ? dir : "/tmp", who);
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	unlink(path);
	buf = malloc(page_size);
	if (!buf)
		goto err_close;
	for (unsigned long i = 0; i < pages; i++) {
		memset(buf, file_byte(i), page_size);
		if (pwrite(fd, buf, page_size, (off_t)(i * page_size)) != (ssize_t)page_size)
			goto err_free;
	}
	free(buf);
	/* Clean pages: no writeback competes with the timed loops. */
	fsync(fd);
	return fd;

err_free:
	free(buf);
err_close:
	close(fd);
	return -EIO;
}

/*
 * bench_start - the usermm system and address space a benchmark measures
 * in, after the comment line about the host page size `kpage`.  Returns 0;
 * or, after a comment line saying why nothing is measured, an error with
 * *sys NULL (no system) or with *sys set and *mm NULL (the caller destroys
 * the system).
 */
static inline int bench_start(size_t phys_bytes, size_t kpage,
			      struct umm_system **sys, struct umm_mm **mm)
{
	struct umm_config cfg = { .phys_bytes = phys_bytes };
	int err;

	*sys = NULL;
	*mm = NULL;
	if (kpage != UMM_PAGE_SIZE)
		printf("# host page size %zu: kernel lines touch one host page per usermm page\n", kpage);
	err = umm_system_create(&cfg, sys);
	if (err) {
		*sys = NULL;
		printf("# umm_system_create: %s, nothing measured\n", umm_strerror(err));
		return err;
	}
	err = umm_mm_create(*sys, mm);
	if (err) {
		*mm = NULL;
		printf("# umm_mm_create: %s, nothing measured\n", umm_strerror(err));
	}
	return err;
}

#endif
