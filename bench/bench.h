/*
 * bench.h - timing helpers shared by the benchmarks.  Every benchmark runs
 * usermm and the Linux kernel doing the same job in the same process and
 * prints one line per measurement:
 *     <name>  usermm <ns> ns  kernel <ns> ns  ratio <usermm/kernel>
 * using the median of `reps` repetitions.  The machine line says where.
 */
#ifndef UMM_BENCH_H
#define UMM_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/utsname.h>

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

#endif
