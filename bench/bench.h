/* SPDX-License-Identifier: MIT */
/*
 * bench.h - timing helpers shared by the benchmarks.  Every benchmark runs
 * usermm and the Linux kernel doing the same job in the same process and
 * prints one line per measurement:
 *     <name>  usermm <ns> ns  kernel <ns> ns  ratio <usermm/kernel>
 * using the median of `reps` repetitions.  The machine line says where.
 * Also the helpers the fault benchmarks share: the temp file they map,
 * host mappings, fault counters and the comment lines they print.
 *
 * Adding a benchmark takes one file and one line: a new bench/bench_NAME.c
 * is built by `make benches` and run by `usermm bench` with no other
 * change; its main() begins with
 *     bench_init(argc, argv, "what it measures, in one line");
 * (the line `usermm bench --list` prints), sizes its work with
 * BENCH_SIZE(full, quick) so that `usermm bench --quick` runs it in about
 * a second, and prints its results with bench_report*() (the grammar
 * below), so that the runner's tables, `--json` and `make bench-report`
 * pick them up.  `make check` runs every benchmark with --quick
 * (tests/check_bench.sh): one whose main() does not call bench_init fails
 * there, and `usermm bench --list` shows it without a summary.
 */
#ifndef UMM_BENCH_H
#define UMM_BENCH_H

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <usermm/usermm.h>

/*
 * bench_quick - set by `--quick` (`usermm bench --quick` passes it): tiny
 * sizes and few repetitions, to check that a benchmark runs and what it
 * prints, never what it measures.
 */
static int bench_quick;

/* BENCH_SIZE - a size or count: `full` normally, `quick` under --quick. */
#define BENCH_SIZE(full, quick) (bench_quick ? (quick) : (full))

/*
 * bench_init - a benchmark's arguments: `--quick` sets bench_quick (and
 * prints a comment line saying the figures mean nothing), `--describe`
 * prints "summary: <summary>" and exits 0, anything else is a usage
 * error (exit 2).
 */
static inline void bench_init(int argc, char **argv, const char *summary)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			bench_quick = 1;
		} else if (!strcmp(argv[i], "--describe")) {
			printf("summary: %s\n", summary);
			exit(0);
		} else {
			fprintf(stderr, "usage: %s [--quick] [--describe]\n  %s\n", argv[0], summary);
			exit(2);
		}
	}
	if (bench_quick)
		printf("# quick run: tiny sizes and few repetitions, to check the output; "
		       "the figures mean nothing\n");
}

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

/*
 * Result lines.  `usermm bench` reads them back to build its tables and
 * its --json output, so their grammar is fixed:
 *     <name> usermm <x> <unit> [kernel <y> <unit> ratio <r | n/a>]
 * (<name> never contains " usermm "; <unit> is one word, "ns" unless
 * bench_report_unit says otherwise; words between a figure's unit and the
 * next keyword are ignored), optionally followed, in any order, by
 *   - one caveat line "#   ^ <text>",
 *   - extra figures, one per line "#   + <key> <value>" (<key> of
 *     [a-z0-9_], <value> a number or one line of text; bench_extra,
 *     bench_extra_text), for example the kernel variant the kernel column
 *     measured (bench_kernel_variant), VMAs, CPUs busy,
 * all belonging to the result line above them.  A ratio is printed only
 * where both sides do the same work; "n/a" marks a pair of figures that
 * are shown side by side but measure different work.
 */

/*
 * bench_report_unit - one result line in `unit`; kernel <= 0 means no
 * kernel counterpart; same_work 0 prints "ratio n/a".
 */
static inline void bench_report_unit(const char *name, const char *unit, double umm,
				     double kernel, int same_work)
{
	if (kernel > 0 && same_work)
		printf("%-40s usermm %10.2f %s   kernel %10.2f %s   ratio %6.2f\n", name, umm, unit,
		       kernel, unit, umm / kernel);
	else if (kernel > 0)
		printf("%-40s usermm %10.2f %s   kernel %10.2f %s   ratio    n/a\n", name, umm, unit,
		       kernel, unit);
	else
		printf("%-40s usermm %10.2f %s\n", name, umm, unit);
	fflush(stdout);
}

/* bench_report - one result line in ns; kernel_ns <= 0 means no kernel counterpart. */
static inline void bench_report(const char *name, double umm_ns, double kernel_ns)
{
	bench_report_unit(name, "ns", umm_ns, kernel_ns, 1);
}

/* bench_caveat - the caveat line of the result line printed just before. */
static inline void bench_caveat(const char *text)
{
	printf("#   ^ %s\n", text);
	fflush(stdout);
}

/* bench_extra - an extra figure of the result line printed just before. */
static inline void bench_extra(const char *key, double value)
{
	printf("#   + %s %.6g\n", key, value);
	fflush(stdout);
}

/* bench_extra_text - an extra text field of the result line printed just before. */
static inline void bench_extra_text(const char *key, const char *text)
{
	printf("#   + %s %s\n", key, text);
	fflush(stdout);
}

/*
 * bench_kernel_variant - what the kernel column of the result line just
 * before measured, in a few words (default: "linux", or "libc" ...), e.g.
 * "mmap MAP_POPULATE" against "madvise MADV_POPULATE_READ".
 */
static inline void bench_kernel_variant(const char *text)
{
	bench_extra_text("kernel_variant", text);
}

/* bench_report_caveat - a like-for-like result line and its caveat. */
static inline void bench_report_caveat(const char *name, double umm_ns, double kernel_ns,
				       const char *caveat)
{
	bench_report(name, umm_ns, kernel_ns);
	if (caveat)
		bench_caveat(caveat);
}

/*
 * bench_report_different - both figures of a pair that does different
 * work, without a ratio ("n/a"), and the caveat saying how the work differs.
 */
static inline void bench_report_different(const char *name, double umm_ns, double kernel_ns,
					  const char *caveat)
{
	bench_report_unit(name, "ns", umm_ns, kernel_ns, 0);
	bench_caveat(caveat);
}

/* print_loadavg - wall-clock figures stretch when other work shares the CPUs. */
static inline void print_loadavg(void)
{
	double l1, l5, l15;
	FILE *f = fopen("/proc/loadavg", "r");

	if (!f)
		return;
	if (fscanf(f, "%lf %lf %lf", &l1, &l5, &l15) == 3)
		printf("# load average at start: %.2f %.2f %.2f\n", l1, l5, l15);
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
 * bench_start_arena - the usermm system and address space a benchmark
 * measures in, with umm_config.arena `arena` (UMM_ARENA_AUTO: the
 * default; a benchmark of host windows asks for UMM_ARENA_MEMFD), after
 * the comment line about the host page size `kpage`.  Returns 0; or,
 * after a comment line saying why nothing is measured, an error with
 * *sys NULL (no system) or with *sys set and *mm NULL (the caller
 * destroys the system).
 */
static inline int bench_start_arena(size_t phys_bytes, size_t kpage, int arena,
				    struct umm_system **sys, struct umm_mm **mm)
{
	/*
	 * release_ms = -1: frames once touched stay host memory, so the lines
	 * measured in this system are warm whatever the pauses between them
	 * (bench_fault's fresh-system lines measure the other case).
	 * collapse_ms = -1: no collapse thread, which would collapse chunks
	 * that came in as small host pages whenever usermm's side pauses,
	 * that is while the kernel's side runs, taking a CPU from it (and the
	 * host's mmap lock) for milliseconds at a time; bench_fremap measures
	 * the collapsed steady state.
	 */
	struct umm_config cfg = { .phys_bytes = phys_bytes, .release_ms = -1, .arena = arena,
				  .collapse_ms = -1 };
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

/* bench_start - bench_start_arena() with the default arena (UMM_ARENA_AUTO). */
static inline int bench_start(size_t phys_bytes, size_t kpage,
			      struct umm_system **sys, struct umm_mm **mm)
{
	return bench_start_arena(phys_bytes, kpage, UMM_ARENA_AUTO, sys, mm);
}

/* ---- a small helper process for the kernel side of fork measurements ---- */

/*
 * A fork measured from the benchmark process itself would copy everything
 * this process holds, usermm's own bookkeeping included.  bench_helper_start,
 * called first thing in main() before any usermm memory exists, forks a
 * small process that serves requests over two pipes: it reads a request of
 * a fixed size, calls `serve`, and writes the reply `serve` filled.  The
 * helper leaves when its request pipe reaches end of file (the benchmark
 * stopped it or exited).
 */
struct bench_helper {
	pid_t pid;
	int req_fd;                     /* benchmark -> helper */
	int rep_fd;                     /* helper -> benchmark */
};

typedef void (*bench_serve_fn)(const void *req, void *rep);

/* full_io - read or write all of len bytes; 0, or -1 on end of file or error. */
static inline int bench_full_io(int fd, void *buf, size_t len, int wr)
{
	char *p = buf;

	while (len) {
		ssize_t n = wr ? write(fd, p, len) : read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* bench_helper_start - fork the helper; 0 or a negative errno (h->pid is then -1). */
static inline int bench_helper_start(struct bench_helper *h, bench_serve_fn serve,
				     size_t req_len, size_t rep_len)
{
	int to[2], from[2];

	h->pid = -1;
	if (pipe(to))
		return -errno;
	if (pipe(from)) {
		int err = -errno;

		close(to[0]);
		close(to[1]);
		return err;
	}
	fflush(stdout);
	h->pid = fork();
	if (h->pid == 0) {
		char req[512], rep[512];

		close(to[1]);
		close(from[0]);
		if (req_len > sizeof(req) || rep_len > sizeof(rep))
			_exit(2);
		while (!bench_full_io(to[0], req, req_len, 0)) {
			memset(rep, 0, rep_len);
			serve(req, rep);
			if (bench_full_io(from[1], rep, rep_len, 1))
				break;
		}
		_exit(0);
	}
	close(to[0]);
	close(from[1]);
	if (h->pid < 0) {
		int err = -errno;

		close(to[1]);
		close(from[0]);
		return err;
	}
	h->req_fd = to[1];
	h->rep_fd = from[0];
	/* A helper that died makes bench_helper_call fail with EPIPE, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* bench_helper_call - one request and its reply; 0 or -EPIPE. */
static inline int bench_helper_call(struct bench_helper *h, const void *req, size_t req_len,
				    void *rep, size_t rep_len)
{
	if (h->pid <= 0 || bench_full_io(h->req_fd, (void *)req, req_len, 1) ||
	    bench_full_io(h->rep_fd, rep, rep_len, 0))
		return -EPIPE;
	return 0;
}

/* bench_helper_stop - end the helper and reap it. */
static inline void bench_helper_stop(struct bench_helper *h)
{
	if (h->pid <= 0)
		return;
	close(h->req_fd);
	close(h->rep_fd);
	while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
		;
	h->pid = -1;
}


/*
 * bench_wait_collapsed - a steady state for "warm" passes: wait until the
 * system's collapse thread has made every chunk of its anonymous arena
 * that came in as 4 KiB host pages one 2 MiB host page (umm_config
 * collapse_ms; the thread starts once no chunk has come in for that long),
 * or has made no progress for 2 s, or 60 s have gone by.  *collapsed gets
 * the chunks collapsed meanwhile, *left the small ones left; returns the
 * wait in ms.  A memfd arena has nothing to wait for.
 */
static inline double bench_wait_collapsed(struct umm_system *sys, unsigned long *collapsed,
					  unsigned long *left)
{
	struct umm_sys_stats st;
	uint64_t t0 = now_ns(), last_change = t0;
	unsigned long start, seen;

	umm_system_stats(sys, &st);
	start = st.host_collapsed_chunks;
	seen = st.host_collapsed_chunks + st.host_collapse_failed;
	while (st.host_small_chunks && now_ns() - last_change < 2000000000ull &&
	       now_ns() - t0 < 60000000000ull) {
		struct timespec ts = { 0, 5000000 };

		nanosleep(&ts, NULL);
		umm_system_stats(sys, &st);
		if (st.host_collapsed_chunks + st.host_collapse_failed != seen) {
			seen = st.host_collapsed_chunks + st.host_collapse_failed;
			last_change = now_ns();
		}
	}
	*collapsed = st.host_collapsed_chunks - start;
	*left = st.host_small_chunks;
	return (double)(now_ns() - t0) / 1e6;
}
/* bench_proc_kib - a "<field>: <n> kB" line of the proc file @path, or -1. */
static inline long bench_proc_kib(const char *path, const char *field)
{
	char line[256];
	size_t len = strlen(field);
	long kib = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':') {
			kib = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}

/* bench_status_kib - a "<field>: <n> kB" line of /proc/self/status, or -1. */
static inline long bench_status_kib(const char *field)
{
	return bench_proc_kib("/proc/self/status", field);
}

/* bench_tv_ns - a struct timeval in ns. */
static inline double bench_tv_ns(const struct timeval *tv)
{
	return (double)tv->tv_sec * 1e9 + (double)tv->tv_usec * 1e3;
}

#endif
