/* SPDX-License-Identifier: MIT */
/*
 * bench_fremap.c - nonlinear windows: the database case of Molnar's 2002
 * remap_file_pages patch.  A WINDOW_MB window (default 256 MiB) over an
 * OBJECT_MB shmem object (default 1 GiB); NR_REMAPS (default 20,000)
 * random 16 KiB remaps (a random 16 KiB-aligned window chunk gets a random
 * 16 KiB-aligned object chunk), each followed by touching (reading one
 * byte of) its 4 pages.  The same random sequence on every side:
 *
 *   usermm            umm_remap_file_pages (populating; one VMA all along)
 *   usermm vectored   umm_remap_file_pages_v, 64 entries per call, then
 *                     the 64 x 4 touches
 *   kernel            remap_file_pages(2) on a MAP_SHARED memfd mapping
 *                     (deprecated; Linux >= 4.0 emulates it with a VMA per
 *                     call), touches through the pointer
 *   kernel mmap       mmap(MAP_FIXED) of each chunk instead
 *
 * Reported: time per remap (remap plus its 4 touches; per remap, not per
 * page), the median of REPS runs, each on a new window over a new object.
 * "fresh": the object's pages are allocated by the first touch, on both
 * sides (usermm's arena frames are also new to the host); "warm": every
 * object page was allocated before the timed loop (usermm writes one byte
 * per page through a linear mapping, the kernel side fallocate()s the
 * memfd).  "file warm": the same over a real file of the same size
 * (sparse, in $TMPDIR or /tmp, unlinked at once), every page read into the
 * page cache before the timed
 * loop (usermm through a linear mapping, the kernel with pread).  Also the number of VMAs each side ends with (the kernel's counted
 * in /proc/self/maps over the window).  In the file pass, after the
 * remaps, NR_DIRTY random window pages get a one-byte store each (not
 * timed) and msync(MS_SYNC) of the whole window is timed, per dirty page:
 * usermm's umm_msync against the kernel's msync over its remap_file_pages
 * window (both write the pages back and sync the file: the kernel once
 * per VMA in the range, usermm once; the disk dominates).  The ratios compare usermm
 * with the kernel side named on the line.  Smaller runs for quick checks:
 * UMM_BENCH_FREMAP="window_mb object_mb nr_remaps", e.g. "16 64 2000";
 * --quick: "4 16 200", one run.  To measure (or profile) only some of it:
 * UMM_BENCH_FREMAP_PASS, a list of the passes to run ("fresh", "warm",
 * "file", e.g. "file"; all three by default), and UMM_BENCH_FREMAP_SIDE
 * "usermm" (only the usermm lines, the kernel's shown as not measured) or
 * "kernel"; UMM_BENCH_FREMAP_COLLAPSE, umm_config.collapse_ms for usermm's
 * systems (-1: no collapse of small host pages; default 0, the default).
 * usermm's warm setups end once its arena's chunks that came in as 4 KiB
 * host pages have been collapsed into huge pages (bench_wait_collapsed);
 * the wait and the chunks collapsed are printed.  UMM_BENCH_FREMAP_RUNS
 * (set to anything) prints every run's figure, not only the medians.
 */

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <usermm/usermm.h>
#include "bench.h"

#define REPS   BENCH_SIZE(5, 1)
#define CHUNK  (16UL << 10)
#define CHUNK_PAGES (CHUNK / 4096)
#define VEC    64
#define NR_DIRTY 1000

static size_t window_bytes = 256UL << 20, object_bytes = 1UL << 30;
static unsigned long nr_remaps = 20000;
static long collapse_ms;    /* umm_config.collapse_ms (UMM_BENCH_FREMAP_COLLAPSE; 0: default) */
static bool print_runs;     /* UMM_BENCH_FREMAP_RUNS set: print every run's figure */
static bool run_umm = true, run_k = true;    /* the sides measured (UMM_BENCH_FREMAP_SIDE) */
static bool warm;       /* allocate every object page before the timed loop */
static int file_fd = -1; /* >= 0: the object is this file instead of shmem */

/* The random sequence: window chunk and object chunk of remap i; the window pages dirtied before msync. */
static unsigned long *win_chunk, *obj_chunk, dirty_page[NR_DIRTY];
/* file pass: the last run's msync time per dirty page (ns), or a negative errno */
static double last_msync_ns;
/* warm passes: per usermm run, the wait for the arena's collapse and what it did */
#define MAX_RUNS 16
static double coll_wait_ms[MAX_RUNS], coll_done[MAX_RUNS], coll_left[MAX_RUNS];
static int coll_runs;

static void make_sequence(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;

	win_chunk = calloc(nr_remaps, sizeof(*win_chunk));
	obj_chunk = calloc(nr_remaps, sizeof(*obj_chunk));
	if (!win_chunk || !obj_chunk)
		exit(1);
	for (unsigned long i = 0; i < nr_remaps; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		win_chunk[i] = (unsigned long)(x % (window_bytes / CHUNK));
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		obj_chunk[i] = (unsigned long)(x % (object_bytes / CHUNK));
	}
	for (unsigned long i = 0; i < NR_DIRTY; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		dirty_page[i] = (unsigned long)(x % (window_bytes / 4096));
	}
}

/* kernel_vmas - lines of /proc/self/maps that lie in [start, end). */
static long kernel_vmas(uintptr_t start, uintptr_t end)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	long n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;

		if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a >= start && b <= end)
			n++;
	}
	fclose(f);
	return n;
}

/* usermm: one run; ns per remap, or a negative errno.  *vmas: VMAs at the end. */
static double run_usermm(bool vectored, long *vmas)
{
	struct umm_config cfg = { .phys_bytes = object_bytes + window_bytes + (64UL << 20),
				  .collapse_ms = collapse_ms };
	struct umm_system *sys;
	struct umm_object *obj;
	struct umm_mm *mm;
	struct umm_mm_stats st;
	struct umm_remap_entry e[VEC];
	uintptr_t w = 0;
	uint64_t t0, t1;
	int err;

	if ((err = umm_system_create(&cfg, &sys)))
		return err;
	if ((err = umm_mm_create(sys, &mm)) ||
	    (err = file_fd >= 0 ? umm_object_open_fd(sys, file_fd, &obj)
				: umm_object_create_shmem(sys, object_bytes, &obj)) ||
	    (err = umm_mmap(mm, 0, window_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &w))) {
		umm_system_destroy(sys);
		return err;
	}
	if (warm) {
		uintptr_t all = 0;

		err = umm_mmap(mm, 0, object_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &all);
		for (size_t off = 0; off < object_bytes && !err; off += 4096) {
			uint8_t c;

			/* a file is read (its pages stay clean), shmem written */
			err = file_fd >= 0 ? umm_read(mm, all + off, &c, 1) : umm_write(mm, all + off, "", 1);
		}
		if (all)
			umm_munmap(mm, all, object_bytes);
		if (!err && collapse_ms >= 0 && coll_runs < MAX_RUNS) {
			unsigned long done, left;

			coll_wait_ms[coll_runs] = bench_wait_collapsed(sys, &done, &left);
			coll_done[coll_runs] = (double)done;
			coll_left[coll_runs++] = (double)left;
		}
	}
	t0 = now_ns();
	for (unsigned long i = 0; i < nr_remaps && !err; ) {
		unsigned long n = !vectored ? 1 : nr_remaps - i < VEC ? nr_remaps - i : VEC;

		for (unsigned long k = 0; k < n; k++)
			e[k] = (struct umm_remap_entry){ w + win_chunk[i + k] * CHUNK, CHUNK, 0,
							  obj_chunk[i + k] * CHUNK_PAGES };
		if (vectored)
			err = umm_remap_file_pages_v(mm, e, n, 0, NULL);
		else
			err = umm_remap_file_pages(mm, e[0].start, CHUNK, 0, e[0].pgoff, 0);
		for (unsigned long k = 0; k < n && !err; k++)
			for (unsigned long p = 0; p < CHUNK_PAGES && !err; p++) {
				uint8_t c;

				err = umm_read(mm, e[k].start + p * 4096, &c, 1);
			}
		i += n;
	}
	t1 = now_ns();
	if (file_fd >= 0 && !vectored && !err) {
		uint64_t m0;

		for (unsigned long i = 0; i < NR_DIRTY && !err; i++)
			err = umm_write(mm, w + dirty_page[i] * 4096 + 8, "d", 1);
		m0 = now_ns();
		if (!err)
			err = umm_msync(mm, w, window_bytes, MS_SYNC);
		last_msync_ns = err ? err : (double)(now_ns() - m0) / NR_DIRTY;
	}
	umm_mm_stats(mm, &st);
	*vmas = (long)st.nr_vmas;
	umm_munmap(mm, w, window_bytes);
	umm_object_put(obj);
	umm_mm_destroy(mm);
	umm_system_destroy(sys);
	return err ? err : (double)(t1 - t0) / (double)nr_remaps;
}

/* kernel: one run with remap_file_pages (or mmap MAP_FIXED); ns per remap or -errno. */
static double run_kernel(bool use_mmap, long *vmas)
{
	int fd = file_fd >= 0 ? dup(file_fd) : memfd_create("bench_fremap", 0);
	char *w;
	uint64_t t0, t1;
	volatile uint8_t sink = 0;
	int err = 0;

	if (fd < 0)
		return -errno;
	if (file_fd < 0 && ftruncate(fd, (off_t)object_bytes)) {
		close(fd);
		return -errno;
	}
	w = mmap(NULL, window_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (w == MAP_FAILED) {
		close(fd);
		return -errno;
	}
	madvise(w, window_bytes, MADV_NOHUGEPAGE);
	if (warm && file_fd >= 0) {
		static char buf[1 << 16];

		for (off_t off = 0; off < (off_t)object_bytes; off += sizeof(buf))
			if (pread(fd, buf, sizeof(buf), off) < 0)
				err = -errno;
	} else if (warm && fallocate(fd, 0, 0, (off_t)object_bytes)) {
		err = -errno;
	}
	t0 = now_ns();
	for (unsigned long i = 0; i < nr_remaps && !err; i++) {
		char *a = w + win_chunk[i] * CHUNK;

		if (use_mmap) {
			if (mmap(a, CHUNK, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
				 (off_t)(obj_chunk[i] * CHUNK)) == MAP_FAILED) {
				err = -errno;
				break;
			}
		} else if (syscall(SYS_remap_file_pages, a, CHUNK, 0, obj_chunk[i] * CHUNK_PAGES, 0)) {
			err = -errno;
			break;
		}
		for (unsigned long p = 0; p < CHUNK_PAGES; p++)
			sink += ((volatile uint8_t *)a)[p * 4096];
	}
	t1 = now_ns();
	(void)sink;
	if (file_fd >= 0 && !use_mmap && !err) {
		uint64_t m0;

		for (unsigned long i = 0; i < NR_DIRTY; i++)
			w[dirty_page[i] * 4096 + 8] = 'd';
		m0 = now_ns();
		if (msync(w, window_bytes, MS_SYNC))
			err = -errno;
		last_msync_ns = err ? err : (double)(now_ns() - m0) / NR_DIRTY;
	}
	*vmas = kernel_vmas((uintptr_t)w, (uintptr_t)w + window_bytes);
	munmap(w, window_bytes);
	close(fd);
	return err ? err : (double)(t1 - t0) / (double)nr_remaps;
}

typedef double (*run_fn)(bool, long *);

/*
 * measure - the median of REPS runs (ns per remap), or a negative errno;
 * *vmas from the last run; *msync_ns the median msync time per dirty page
 * of the runs (file pass), or a negative errno.
 */
static double measure(run_fn fn, bool arg, long *vmas, double *msync_ns)
{
	double v[REPS], m[REPS];

	for (int r = 0; r < REPS; r++) {
		last_msync_ns = 0;
		v[r] = fn(arg, vmas);
		m[r] = last_msync_ns;
		if (print_runs)
			printf("#   run %d: %.1f ns per remap\n", r, v[r]);
		if (v[r] < 0)
			return v[r];
		if (m[r] < 0)
			*msync_ns = m[r];
	}
	if (*msync_ns >= 0)
		*msync_ns = median(m, REPS);
	return median(v, REPS);
}

int main(int argc, char **argv)
{
	const char *env = getenv("UMM_BENCH_FREMAP");
	const char *passes = getenv("UMM_BENCH_FREMAP_PASS"), *side = getenv("UMM_BENCH_FREMAP_SIDE");
	long v_umm = 0, v_vec = 0, v_krfp = 0, v_kmmap = 0;
	double umm, vec, krfp, kmmap, msync_umm = 0, msync_k = 0, unused = 0;
	char name[80];

	bench_init(argc, argv, "nonlinear windows: umm_remap_file_pages against remap_file_pages(2) "
		   "and mmap(MAP_FIXED), VMAs at the end");
	if (bench_quick) {
		window_bytes = 4UL << 20;
		object_bytes = 16UL << 20;
		nr_remaps = 200;
	}
	if (env) {
		unsigned long wm, om, nr;

		if (sscanf(env, "%lu %lu %lu", &wm, &om, &nr) == 3 && wm && om && nr) {
			window_bytes = wm << 20;
			object_bytes = om << 20;
			nr_remaps = nr;
		}
	}
	bench_machine_line();
	print_loadavg();
	printf("# %zu MiB window over a %zu MiB shmem object, %lu random 16 KiB remaps, each + 4 page touches;"
	       " median of %d runs, ns per remap\n", window_bytes >> 20, object_bytes >> 20, nr_remaps, REPS);
	make_sequence();

	print_runs = getenv("UMM_BENCH_FREMAP_RUNS") != NULL;
	if (getenv("UMM_BENCH_FREMAP_COLLAPSE"))
		collapse_ms = atol(getenv("UMM_BENCH_FREMAP_COLLAPSE"));
	if (side) {
		run_umm = !strcmp(side, "usermm");
		run_k = !strcmp(side, "kernel");
	}
	for (int pass = 0; pass < 3; pass++) {
		const char *tag = pass == 0 ? "fresh" : pass == 1 ? "warm" : "file warm";

		if (passes && !strstr(passes, pass == 0 ? "fresh" : pass == 1 ? "warm" : "file"))
			continue;
		warm = pass > 0;
		if (pass == 2) {
			const char *dir = getenv("TMPDIR");
			char path[4096];

			snprintf(path, sizeof(path), "%s/umm_fremap.XXXXXX", dir ? dir : "/tmp");
			file_fd = mkstemp(path);
			if (file_fd < 0 || unlink(path) || ftruncate(file_fd, (off_t)object_bytes)) {
				printf("# file: not measured: %s\n", strerror(errno));
				break;
			}
		}
		/* a side not asked for: 0 (usermm's lines then have no kernel figure) */
		coll_runs = 0;
		umm = run_umm ? measure(run_usermm, false, &v_umm, &msync_umm) : 0;
		vec = run_umm ? measure(run_usermm, true, &v_vec, &unused) : 0;
		krfp = run_k ? measure(run_kernel, false, &v_krfp, &msync_k) : 0;
		kmmap = run_k ? measure(run_kernel, true, &v_kmmap, &unused) : 0;
		if (!run_umm) {
			printf("# %s: kernel remap_file_pages %.2f ns, mmap(MAP_FIXED) %.2f ns per remap + touches;"
			       " VMAs %ld, %ld\n", tag, krfp, kmmap, v_krfp, v_kmmap);
			continue;
		}
		if (umm < 0 || vec < 0) {
			skipped("usermm remap", "umm_remap_file_pages", (int)(umm < 0 ? umm : vec));
			return 0;
		}
		if (krfp < 0)
			printf("# kernel remap_file_pages: not measured: %s\n", strerror((int)-krfp));
		if (kmmap < 0)
			printf("# kernel mmap(MAP_FIXED): not measured: %s\n", strerror((int)-kmmap));
		snprintf(name, sizeof(name), "%s remap 16K+touch vs rfp", tag);
		bench_report_caveat(name, umm, krfp, pass == 0 ?
				    "per remap + its 4 touches (a one-byte read per page: umm_read / a load); "
				    "kernel: remap_file_pages(2), a VMA per call; "
				    "fresh pages on both sides, usermm's arena frames also new to the host" :
				    "per remap + its 4 touches (a one-byte read per page: umm_read / a load); "
				    "kernel: remap_file_pages(2), a VMA per call; usermm's setup waited for its "
				    "collapse thread (the wait, chunks collapsed and left small: comment line)");
		bench_kernel_variant("remap_file_pages(2)");
		bench_extra("vmas_usermm", (double)v_umm);
		bench_extra("vmas_kernel", (double)v_krfp);
		snprintf(name, sizeof(name), "%s remap_v x%d+touch vs rfp", tag, VEC);
		bench_report_caveat(name, vec, krfp, "usermm: 64 remaps per call, then their 256 touches; "
				    "kernel: one remap_file_pages(2) per remap");
		bench_kernel_variant("remap_file_pages(2)");
		bench_extra("vmas_usermm", (double)v_vec);
		bench_extra("vmas_kernel", (double)v_krfp);
		snprintf(name, sizeof(name), "%s remap 16K+touch vs mmap FIXED", tag);
		bench_report_caveat(name, umm, kmmap, "kernel: mmap(MAP_FIXED) of each 16 KiB chunk");
		bench_kernel_variant("mmap MAP_FIXED");
		bench_extra("vmas_usermm", (double)v_umm);
		bench_extra("vmas_kernel", (double)v_kmmap);
		printf("# %s: VMAs at the end: usermm %ld, usermm vectored %ld, kernel remap_file_pages %ld,"
		       " kernel mmap %ld\n", tag, v_umm, v_vec, v_krfp, v_kmmap);
		if (coll_runs)
			printf("# %s: usermm's setup waited for its collapse thread to make the arena's small"
			       " host pages huge (collapse_ms %ld, 0 the default): median over %d runs %.0f ms"
			       " waited, %.0f chunks collapsed, %.0f left small\n", tag, collapse_ms, coll_runs,
			       median(coll_wait_ms, coll_runs), median(coll_done, coll_runs),
			       median(coll_left, coll_runs));
		if (file_fd >= 0 && msync_umm > 0 && msync_k > 0) {
			snprintf(name, sizeof(name), "file msync %d dirty in window", NR_DIRTY);
			bench_report_caveat(name, msync_umm, msync_k, "per dirty page: msync(MS_SYNC) of the "
					    "whole remapped window after one-byte stores to random pages; disk-bound: "
					    "both write the pages back and sync the file, the kernel once per VMA "
					    "of its window, usermm once");
			bench_kernel_variant("msync(2) over the remap_file_pages(2) window");
			bench_extra("vmas_usermm", (double)v_umm);
			bench_extra("vmas_kernel", (double)v_krfp);
		} else if (file_fd >= 0 && run_k) {
			printf("# file msync: not measured: %s\n",
			       strerror((int)-(msync_umm < 0 ? msync_umm : msync_k)));
		}
	}
	if (file_fd >= 0)
		close(file_fd);
	return 0;
}
