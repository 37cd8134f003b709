/* SPDX-License-Identifier: MIT */
/*
 * bench_io.c - reading a cold file: usermm's readahead and asynchronous
 * reads against the kernel's, on the same file in the same run.
 *
 *   seq-read   sequential read of the whole file through a mapping, in
 *              64 KiB copies (umm_read vs memcpy from a host mapping of
 *              the file); usermm's fault-time readahead vs the kernel's.
 *   prepage    4,096 scattered 64 KiB extents: bring them in, then touch
 *              one byte of every page.  usermm: one asynchronous
 *              umm_prepage of all the extents (UMM_PREPAGE_ASYNC), then
 *              the touches.  Kernel: madvise(MADV_WILLNEED) on every
 *              extent then the touches; and madvise(MADV_POPULATE_READ)
 *              per extent then the touches.
 *
 * The file is 1 GiB (UMM_BENCH_IO_MB sets another size in MiB), written
 * once in $TMPDIR (or /tmp), unlinked at once (so it goes away with the
 * process), after checking there is room for it.  Every run starts
 * cold: the file is dropped from the host page cache with
 * posix_fadvise(POSIX_FADV_DONTNEED) and the drop is checked with mincore
 * on a host mapping (the pages still resident are reported).  Each usermm
 * run has a fresh system, so its own page cache is cold too.  Times are
 * the median of BENCH_REPS runs, for the whole job (wall clock), with
 * MiB/s; the ratio is usermm / kernel (below 1: usermm faster).
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include "bench.h"

#define BENCH_REPS BENCH_SIZE(3, 1)
#define CHUNK (64UL << 10)
#define EXTENTS 4096

static size_t file_bytes;
static int file_fd = -1;
static char file_path[4096];
static char *chunk_buf;
static size_t extent_off[EXTENTS];       /* scattered 64 KiB-aligned offsets */
static size_t nr_extents;

/* Write the file: page i filled with file_byte(i), clean (fsynced). */
static int make_file(void)
{
	const char *dir = getenv("TMPDIR");
	struct statvfs vfs;
	size_t page, off;
	char *buf;

	snprintf(file_path, sizeof(file_path), "%s/umm_bench_io.XXXXXX", dir ? dir : "/tmp");
	file_fd = mkstemp(file_path);
	if (file_fd < 0)
		return -errno;
	unlink(file_path);                /* gone when we exit, however we exit */
	if (fstatvfs(file_fd, &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < file_bytes + (256ULL << 20)) {
		printf("# %s: not enough free space for a %zu MiB file\n", file_path, file_bytes >> 20);
		return -ENOSPC;
	}
	buf = malloc(CHUNK);
	if (!buf)
		return -ENOMEM;
	for (off = 0; off < file_bytes; off += CHUNK) {
		for (page = 0; page < CHUNK / UMM_PAGE_SIZE; page++)
			memset(buf + page * UMM_PAGE_SIZE, file_byte((off >> UMM_PAGE_SHIFT) + page),
			       UMM_PAGE_SIZE);
		if (pwrite(file_fd, buf, CHUNK, (off_t)off) != (ssize_t)CHUNK) {
			free(buf);
			return -EIO;
		}
	}
	free(buf);
	fsync(file_fd);
	return 0;
}

/* Drop the file from the host page cache; returns the pages still resident (mincore). */
static size_t drop_cache(void)
{
	size_t pages = file_bytes / UMM_PAGE_SIZE, resident = 0;
	unsigned char *vec;
	void *p;

	posix_fadvise(file_fd, 0, 0, POSIX_FADV_DONTNEED);
	p = mmap(NULL, file_bytes, PROT_READ, MAP_SHARED, file_fd, 0);
	vec = malloc(pages);
	if (p != MAP_FAILED && vec && mincore(p, file_bytes, vec) == 0)
		for (size_t i = 0; i < pages; i++)
			resident += vec[i] & 1;
	if (p != MAP_FAILED)
		munmap(p, file_bytes);
	free(vec);
	return resident;
}

static size_t max_resident;

static void cold(void)
{
	size_t r = drop_cache();

	if (r > max_resident)
		max_resident = r;
}

static const char *backend_name(int b)
{
	return b == UMM_IO_URING ? "io_uring" : b == UMM_IO_THREADS ? "threads" : "?";
}

/* ---- sequential read ---- */

/* One cold sequential read through a fresh object of the existing system. */
static int seq_umm(struct umm_system *sys, struct umm_mm *mm, double *ns)
{
	struct umm_object *obj;
	uintptr_t a;
	unsigned long bad = 0;
	uint64_t t0;
	int err;

	err = umm_object_open_fd(sys, file_fd, &obj);
	if (err)
		return err;
	err = umm_mmap(mm, 0, file_bytes, PROT_READ, MAP_SHARED, obj, 0, &a);
	if (err)
		goto out_put;
	cold();
	t0 = now_ns();
	for (size_t off = 0; off < file_bytes && !err; off += CHUNK) {
		err = umm_read(mm, a + off, chunk_buf, CHUNK);
		bad += (uint8_t)chunk_buf[0] != file_byte(off >> UMM_PAGE_SHIFT);
	}
	*ns = (double)(now_ns() - t0);
	umm_munmap(mm, a, file_bytes);
	if (!err && bad)
		err = -EIO;
out_put:
	umm_object_put(obj);
	return err;
}

static int seq_kernel(double *ns)
{
	unsigned long bad = 0;
	uint64_t t0;
	char *p;

	cold();
	t0 = now_ns();
	p = mmap(NULL, file_bytes, PROT_READ, MAP_SHARED, file_fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	for (size_t off = 0; off < file_bytes; off += CHUNK) {
		memcpy(chunk_buf, p + off, CHUNK);
		bad += (uint8_t)chunk_buf[0] != file_byte(off >> UMM_PAGE_SHIFT);
	}
	munmap(p, file_bytes);
	*ns = (double)(now_ns() - t0);
	return bad ? -EIO : 0;
}

/* report_mbs - a result line in ms and MiB/s; the bandwidths also as extra figures. */
static void report_mbs(const char *name, double umm_ns, double k_ns, size_t bytes,
		       const char *kernel_variant)
{
	printf("%-40s usermm %8.1f ms %7.0f MiB/s   kernel %8.1f ms %7.0f MiB/s   ratio %5.2f\n",
	       name, umm_ns / 1e6, bytes / 1048576.0 / (umm_ns / 1e9),
	       k_ns / 1e6, bytes / 1048576.0 / (k_ns / 1e9), umm_ns / k_ns);
	bench_kernel_variant(kernel_variant);
	bench_extra("usermm_mib_s", bytes / 1048576.0 / (umm_ns / 1e9));
	bench_extra("kernel_mib_s", bytes / 1048576.0 / (k_ns / 1e9));
}

/*
 * Run 0 uses a fresh system: every frame is touched for the first time,
 * so the host populates the arena as it goes.  Runs 1.. reuse the frames
 * freed by the run before (a warm arena, the steady state); the usermm
 * page cache is cold in every run (a new object each time).
 */
static void bench_seq(int backend)
{
	double u[BENCH_REPS + 1], k[BENCH_REPS];
	/* no collapse thread: it would run while the kernel's side does (see bench_start_arena) */
	struct umm_config cfg = { .phys_bytes = file_bytes + (128UL << 20), .io_backend = backend,
				  .collapse_ms = -1 };
	struct umm_system *sys;
	struct umm_mm *mm;
	struct umm_sys_stats st;
	char name[80];
	int err;

	err = umm_system_create(&cfg, &sys);
	if (err) {
		skipped("seq-read", "umm_system_create", err);
		return;
	}
	err = umm_mm_create(sys, &mm);
	for (int r = 0; r <= BENCH_REPS && !err; r++) {
		err = seq_umm(sys, mm, &u[r]);
		if (!err && r < BENCH_REPS)
			err = seq_kernel(&k[r]);
	}
	umm_system_stats(sys, &st);
	if (!err)
		umm_mm_destroy(mm);
	umm_system_destroy(sys);
	if (err) {
		skipped("seq-read", "run", err);
		return;
	}
	snprintf(name, sizeof(name), "seq-read %zu MiB, %s, fresh", file_bytes >> 20,
		 backend_name(st.io_backend));
	report_mbs(name, u[0], median(k, BENCH_REPS), file_bytes, "read through a MAP_SHARED mapping");
	snprintf(name, sizeof(name), "seq-read %zu MiB, %s, warm arena", file_bytes >> 20,
		 backend_name(st.io_backend));
	report_mbs(name, median(u + 1, BENCH_REPS), median(k, BENCH_REPS), file_bytes,
		   "read through a MAP_SHARED mapping");
	printf("#   per run: %lu pages read ahead, %lu requests, %.1f pages/request\n",
	       st.ra_pages / (BENCH_REPS + 1), st.io_requests / (BENCH_REPS + 1),
	       st.io_requests ? (double)st.io_pages / st.io_requests : 0.0);
}

/* ---- scattered prepage ---- */

/* 4,096 distinct 64 KiB-aligned extents in a fixed pseudo-random order. */
static void pick_extents(void)
{
	size_t slots = file_bytes / CHUNK, *perm = malloc(slots * sizeof(*perm));
	uint64_t x = 88172645463325252ull;

	nr_extents = slots / 4 < EXTENTS ? slots / 4 : EXTENTS;
	if (!perm) {
		nr_extents = 0;
		return;
	}
	for (size_t i = 0; i < slots; i++)
		perm[i] = i;
	for (size_t i = slots - 1; i > 0; i--) {          /* xorshift Fisher-Yates */
		size_t j, t;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		j = x % (i + 1);
		t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	for (size_t i = 0; i < nr_extents; i++)
		extent_off[i] = perm[i] * CHUNK;
	free(perm);
}

/* Prepage the extents (flags: UMM_PREPAGE_ASYNC or 0) of a fresh object, then touch every page. */
static int prepage_umm(struct umm_system *sys, struct umm_mm *mm, int flags, double *ns)
{
	struct umm_prepage_tuple *v = calloc(nr_extents, sizeof(*v));
	struct umm_object *obj = NULL;
	unsigned long bad = 0;
	uintptr_t a = 0;
	uint64_t t0;
	int err;

	if (!v)
		return -ENOMEM;
	err = umm_object_open_fd(sys, file_fd, &obj);
	if (!err)
		err = umm_mmap(mm, 0, file_bytes, PROT_READ, MAP_SHARED, obj, 0, &a);
	if (err)
		goto out;
	for (size_t i = 0; i < nr_extents; i++)
		v[i] = (struct umm_prepage_tuple){ a + extent_off[i], CHUNK };
	cold();
	t0 = now_ns();
	err = umm_prepage(mm, v, nr_extents, flags);
	for (size_t i = 0; i < nr_extents && !err; i++)
		for (size_t p = 0; p < CHUNK && !err; p += UMM_PAGE_SIZE) {
			uint8_t b;

			err = umm_read(mm, v[i].addr + p, &b, 1);
			bad += b != file_byte((extent_off[i] + p) >> UMM_PAGE_SHIFT);
		}
	*ns = (double)(now_ns() - t0);
	if (!err && (flags & UMM_PREPAGE_ASYNC))
		err = umm_prepage_wait(mm);          /* all done by now: reports a failed read */
	umm_munmap(mm, a, file_bytes);
out:
	if (obj)
		umm_object_put(obj);
	free(v);
	return err ? err : bad ? -EIO : 0;
}

static int prepage_kernel(int advice, double *ns)
{
	volatile uint8_t sink = 0;
	unsigned long bad = 0;
	uint64_t t0;
	char *p;
	int err = 0;

	p = mmap(NULL, file_bytes, PROT_READ, MAP_SHARED, file_fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	cold();
	t0 = now_ns();
	for (size_t i = 0; i < nr_extents && !err; i++)
		if (madvise(p + extent_off[i], CHUNK, advice) != 0)
			err = -errno;
	for (size_t i = 0; i < nr_extents && !err; i++)
		for (size_t o = 0; o < CHUNK; o += UMM_PAGE_SIZE) {
			uint8_t b = (uint8_t)p[extent_off[i] + o];

			sink += b;
			bad += b != file_byte((extent_off[i] + o) >> UMM_PAGE_SHIFT);
		}
	*ns = (double)(now_ns() - t0);
	munmap(p, file_bytes);
	(void)sink;
	return err ? err : bad ? -EIO : 0;
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

/*
 * Run 0 of each usermm variant is on a fresh system (the arena is
 * populated as it goes), the others reuse its frames; the kernel lines
 * are the median of all runs.
 */
static void bench_prepage(int backend)
{
	double ua[BENCH_REPS + 1], us[BENCH_REPS], w[BENCH_REPS], pr[BENCH_REPS];
	/* no collapse thread: it would run while the kernel's side does (see bench_start_arena) */
	struct umm_config cfg = { .phys_bytes = file_bytes + (128UL << 20), .io_backend = backend,
				  .collapse_ms = -1 };
	size_t bytes = nr_extents * CHUNK;
	struct umm_system *sys;
	struct umm_mm *mm;
	struct umm_sys_stats st;
	char name[96];
	int err, perr = 0;

	err = umm_system_create(&cfg, &sys);
	if (err) {
		skipped("prepage", "umm_system_create", err);
		return;
	}
	err = umm_mm_create(sys, &mm);
	for (int r = 0; r <= BENCH_REPS && !err; r++) {
		err = prepage_umm(sys, mm, UMM_PREPAGE_ASYNC, &ua[r]);
		if (!err && r < BENCH_REPS)
			err = prepage_umm(sys, mm, 0, &us[r]);
		if (!err && r < BENCH_REPS)
			err = prepage_kernel(MADV_WILLNEED, &w[r]);
		if (!err && !perr && r < BENCH_REPS)
			perr = prepage_kernel(MADV_POPULATE_READ, &pr[r]);
	}
	umm_system_stats(sys, &st);
	if (!err)
		umm_mm_destroy(mm);
	umm_system_destroy(sys);
	if (err) {
		skipped("prepage", "run", err);
		return;
	}
	printf("# prepage %zu scattered 64 KiB extents then touch every page (%s), vs the kernel's\n",
	       nr_extents, backend_name(st.io_backend));
	printf("#   madvise(MADV_WILLNEED) on every extent then touch:\n");
	snprintf(name, sizeof(name), "prepage async, fresh, %s", backend_name(st.io_backend));
	report_mbs(name, ua[0], median(w, BENCH_REPS), bytes, "madvise MADV_WILLNEED");
	snprintf(name, sizeof(name), "prepage async, warm arena, %s", backend_name(st.io_backend));
	report_mbs(name, median(ua + 1, BENCH_REPS), median(w, BENCH_REPS), bytes,
		   "madvise MADV_WILLNEED");
	if (perr) {
		skipped("prepage vs MADV_POPULATE_READ", "madvise", perr);
	} else {
		printf("#   madvise(MADV_POPULATE_READ) on every extent then touch:\n");
		snprintf(name, sizeof(name), "prepage async, warm arena, %s", backend_name(st.io_backend));
		report_mbs(name, median(ua + 1, BENCH_REPS), median(pr, BENCH_REPS), bytes,
			   "madvise MADV_POPULATE_READ");
		snprintf(name, sizeof(name), "prepage sync, warm arena, %s", backend_name(st.io_backend));
		report_mbs(name, median(us, BENCH_REPS), median(pr, BENCH_REPS), bytes,
			   "madvise MADV_POPULATE_READ");
	}
	printf("#   usermm per run: %lu requests, %.1f pages/request\n",
	       st.io_requests / (2 * BENCH_REPS + 1),
	       st.io_requests ? (double)st.io_pages / st.io_requests : 0.0);
}

int main(int argc, char **argv)
{
	const char *mb = getenv("UMM_BENCH_IO_MB");
	int err;

	bench_init(argc, argv, "reading a cold file: sequential readahead and prepage through "
		   "io_uring and the thread pool against the kernel's page cache");
	file_bytes = (mb ? strtoul(mb, NULL, 10) : BENCH_SIZE(1024UL, 8UL)) << 20;
	if (file_bytes < (1UL << 20))
		file_bytes = 1UL << 20;
	bench_machine_line();
	print_loadavg();
	printf("# bench_io: cold %zu MiB file, medians of %d runs, whole-job wall time\n",
	       file_bytes >> 20, BENCH_REPS);
	chunk_buf = malloc(CHUNK);
	err = chunk_buf ? make_file() : -ENOMEM;
	if (err) {
		skipped("bench_io", "creating the file", err);
		goto out;
	}
	bench_seq(UMM_IO_DEFAULT);
	bench_seq(UMM_IO_THREADS);
	pick_extents();
	bench_prepage(UMM_IO_DEFAULT);
	bench_prepage(UMM_IO_THREADS);
	printf("# pages still resident after each drop (mincore, worst run): %zu of %zu\n",
	       max_resident, file_bytes / UMM_PAGE_SIZE);
out:
	if (file_fd >= 0)
		close(file_fd);
	free(chunk_buf);
	return 0;
}
