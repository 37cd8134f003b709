/* SPDX-License-Identifier: MIT */
/*
 * bench_rmap.c - the two reverse-map schemes side by side (rmap.h).
 *
 * (a) build: NMM address spaces each map the same shmem object of MB MiB
 *     (MAP_SHARED) and read one byte of every page, so every pte of every
 *     mapping is populated (fresh: first touch, a minor fault per page).
 *     Printed: time per populated pte (median of the repetitions) and the
 *     reverse-map memory per populated pte (umm_sys_stats.rmap_bytes
 *     after the build / ptes), for pte chains and object rmap; the
 *     kernel line is NMM forked processes doing the same to one memfd
 *     (wall time of the slowest / ptes; the kernel's rmap is
 *     object-based, so its rmap memory per pte is 0 beyond page tables).
 *     Defaults: NMM 64, MB 256 (UMM_BENCH_RMAP_MMS, UMM_BENCH_RMAP_MB).
 * (c) try_to_unmap of one shmem page mapped by NUNMAP address spaces
 *     (1,000; UMM_BENCH_RMAP_UNMAP_MMS): time per call, both schemes,
 *     every pte present before each call (re-faulted, not timed).  No
 *     kernel counterpart is measured.
 * (b) fork+exit of an address space with FMB MiB of populated private
 *     anonymous memory and FMB MiB of populated shared shmem (256;
 *     UMM_BENCH_RMAP_FORK_MB): time per umm_fork + umm_mm_destroy of the
 *     child, both schemes, against the kernel's fork + _exit + waitpid
 *     of a helper process holding the same memory (the helper is forked
 *     before usermm's arena exists, so that memory does not inflate the
 *     kernel's fork).  Warm: every repetition forks the same parent.
 *
 * Wall-clock figures taken on a loaded machine are noisy; the byte
 * counts are exact.
 */
#include <pthread.h>
#include <sys/wait.h>
#include "bench.h"
#include "rmap.h"
#include "object.h"
#include "memory.h"

#define REPS 3
#define PS 4096UL

static long env_long(const char *name, long dflt)
{
	const char *v = getenv(name);

	return v && atol(v) > 0 ? atol(v) : dflt;
}

struct build_result {
	double ns_per_pte;
	double bytes_per_pte;
	bool ok;
};

/* build_once - one repetition of (a) for scheme; false if something failed. */
static bool build_once(int scheme, int nmm, size_t bytes, double *ns, double *bpp)
{
	size_t pages = bytes / PS;
	struct umm_config cfg = { .rmap = scheme };
	struct umm_system *sys;
	struct umm_object *obj;
	struct umm_mm **mms = calloc((size_t)nmm, sizeof(*mms));
	struct umm_sys_stats st0, st;
	uint64_t t0, t1;
	bool ok = false;
	int err;

	/* data + pte tables + chains (64 entries/page: ~10 blocks) + slack */
	cfg.phys_bytes = bytes + (size_t)nmm * (pages / 512 + 4) * PS + pages * 12 * 64 + (64UL << 20);
	err = umm_system_create(&cfg, &sys);
	if (err) {
		skipped("rmap build", "umm_system_create", err);
		free(mms);
		return false;
	}
	if (umm_object_create_shmem(sys, bytes, &obj))
		goto out_sys;
	for (int i = 0; i < nmm; i++)
		if (umm_mm_create(sys, &mms[i]))
			goto out;
	umm_system_stats(sys, &st0);
	t0 = now_ns();
	for (int i = 0; i < nmm; i++) {
		uintptr_t a;
		unsigned char c;

		if (umm_mmap(mms[i], 0, bytes, PROT_READ, MAP_SHARED, obj, 0, &a))
			goto out;
		for (size_t p = 0; p < pages; p++)
			if (umm_read(mms[i], a + p * PS, &c, 1))
				goto out;
	}
	t1 = now_ns();
	umm_system_stats(sys, &st);
	*ns = (double)(t1 - t0) / ((double)nmm * (double)pages);
	*bpp = (double)(st.rmap_bytes - st0.rmap_bytes) / ((double)nmm * (double)pages);
	ok = true;
out:
	for (int i = 0; i < nmm; i++)
		if (mms[i])
			umm_mm_destroy(mms[i]);
	umm_object_put(obj);
out_sys:
	umm_system_destroy(sys);
	free(mms);
	return ok;
}

static struct build_result bench_build(int scheme, int nmm, size_t bytes)
{
	double ns[REPS], bpp = 0;
	struct build_result r = { 0 };

	for (int i = 0; i < REPS; i++)
		if (!build_once(scheme, nmm, bytes, &ns[i], &bpp))
			return r;
	r.ns_per_pte = median(ns, REPS);
	r.bytes_per_pte = bpp;
	r.ok = true;
	return r;
}

/* kernel_build - nmm processes map one memfd shared and read every page; ns per pte (wall). */
static double kernel_build(int nmm, size_t bytes)
{
	size_t pages = bytes / PS;
	int fd = memfd_create("bench_rmap", 0);
	double v[REPS];

	if (fd < 0 || ftruncate(fd, (off_t)bytes))
		return 0;
	for (size_t off = 0; off < bytes; off += PS)    /* the pages exist: minor faults only */
		if (pwrite(fd, "x", 1, (off_t)off) != 1)
			return 0;
	for (int r = 0; r < REPS; r++) {
		int go[2];
		uint64_t t0, t1;

		if (pipe(go))
			return 0;
		for (int i = 0; i < nmm; i++) {
			pid_t pid = fork();

			if (pid == 0) {
				char c;
				volatile char sink = 0;
				char *p;

				close(go[1]);
				if (read(go[0], &c, 1) != 0)
					_exit(1);
				p = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);
				if (p == MAP_FAILED)
					_exit(1);
				for (size_t q = 0; q < pages; q++)
					sink += p[q * PS];
				(void)sink;
				_exit(0);
			}
			if (pid < 0)
				return 0;
		}
		close(go[0]);
		t0 = now_ns();
		close(go[1]);           /* all children start */
		for (int i = 0; i < nmm; i++)
			wait(NULL);
		t1 = now_ns();
		v[r] = (double)(t1 - t0) / ((double)nmm * (double)pages);
	}
	close(fd);
	return median(v, REPS);
}

/* ---- (b) fork + exit ---- */

#define FORK_REPS 5

/* fork_helper_main - the kernel side of (b), in its own process: writes the median ns to fd. */
static void fork_helper_main(int out, size_t bytes)
{
	char *anon = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = memfd_create("bench_rmap_fork", 0);
	char *shm;
	double v[FORK_REPS], res = 0;

	if (anon == MAP_FAILED || fd < 0 || ftruncate(fd, (off_t)bytes))
		goto out;
	shm = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (shm == MAP_FAILED)
		goto out;
	madvise(anon, bytes, MADV_NOHUGEPAGE);
	madvise(shm, bytes, MADV_NOHUGEPAGE);
	for (size_t off = 0; off < bytes; off += PS) {
		anon[off] = 1;
		shm[off] = 1;
	}
	for (int r = 0; r < FORK_REPS; r++) {
		uint64_t t0 = now_ns();
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		if (pid < 0)
			goto out;
		waitpid(pid, NULL, 0);
		v[r] = (double)(now_ns() - t0);
	}
	res = median(v, FORK_REPS);
out:
	if (write(out, &res, sizeof(res)) != sizeof(res))
		_exit(1);
	_exit(0);
}

/* kernel_fork_start - fork the helper now (small process); kernel_fork_result reads its figure. */
static pid_t kernel_fork_start(size_t bytes, int *rfd)
{
	int p[2];
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		fork_helper_main(p[1], bytes);
	}
	close(p[1]);
	*rfd = p[0];
	return pid;
}

static double kernel_fork_result(pid_t pid, int rfd)
{
	double res = 0;

	if (pid > 0) {
		if (read(rfd, &res, sizeof(res)) != sizeof(res))
			res = 0;
		waitpid(pid, NULL, 0);
	}
	close(rfd);
	return res;
}

/* bench_fork - (b) for one scheme: median ns per fork + destroy of the child; 0 if it could not run. */
static double bench_fork(int scheme, size_t bytes, double *bytes_after_fork)
{
	size_t pages = bytes / PS;
	struct umm_config cfg = { .rmap = scheme,
				  .phys_bytes = 2 * bytes + 3 * pages * 64 + (64UL << 20) };
	struct umm_system *sys;
	struct umm_object *obj = NULL;
	struct umm_mm *mm = NULL;
	double v[FORK_REPS], res = 0;
	uintptr_t a, s;
	int err;

	err = umm_system_create(&cfg, &sys);
	if (err) {
		skipped("fork+exit", "umm_system_create", err);
		return 0;
	}
	if (umm_object_create_shmem(sys, bytes, &obj) || umm_mm_create(sys, &mm) ||
	    umm_mmap(mm, 0, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a) ||
	    umm_mmap(mm, 0, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &s))
		goto out;
	for (size_t p = 0; p < pages; p++) {
		unsigned char c = 1;

		if (umm_write(mm, a + p * PS, &c, 1) || umm_write(mm, s + p * PS, &c, 1))
			goto out;
	}
	for (int r = 0; r < FORK_REPS; r++) {
		struct umm_mm *child;
		uint64_t t0 = now_ns();

		if (umm_fork(mm, &child))
			goto out;
		if (r == 0) {
			struct umm_sys_stats st;

			umm_system_stats(sys, &st);
			*bytes_after_fork = (double)st.rmap_bytes;
		}
		umm_mm_destroy(child);
		v[r] = (double)(now_ns() - t0);
	}
	res = median(v, FORK_REPS);
out:
	if (mm)
		umm_mm_destroy(mm);
	if (obj)
		umm_object_put(obj);
	umm_system_destroy(sys);
	return res;
}

/* unmap_once - (c): median ns of try_to_unmap of one page mapped by n mms. */
static double bench_unmap(int scheme, int n)
{
	struct umm_config cfg = { .rmap = scheme, .phys_bytes = (size_t)n * 6 * PS + (64UL << 20) };
	struct umm_system *sys;
	struct umm_object *obj;
	struct umm_mm **mms = calloc((size_t)n, sizeof(*mms));
	uintptr_t *at = calloc((size_t)n, sizeof(*at));
	struct page *page = NULL;
	double v[REPS * 3] = { 0 }, res = 0;
	int reps = REPS * 3;

	if (umm_system_create(&cfg, &sys))
		goto out_free;
	if (umm_object_create_shmem(sys, PS, &obj))
		goto out_sys;
	for (int i = 0; i < n; i++)
		if (umm_mm_create(sys, &mms[i]) ||
		    umm_mmap(mms[i], 0, PS, PROT_READ, MAP_SHARED, obj, 0, &at[i]))
			goto out;
	for (int r = 0; r < reps; r++) {
		uint64_t t0, t1;
		unsigned char c;
		int ret;

		for (int i = 0; i < n; i++)
			if (umm_read(mms[i], at[i], &c, 1))
				goto out;
		if (!page) {
			struct fmutex *ptl;
			pte_t *p;

			mmap_read_lock(mms[0]);
			p = pte_offset_map_lock(mms[0], at[0], &ptl);
			page = pfn_to_page(sys->phys, pte_pfn(*p));
			get_page(page);
			pte_unmap_unlock(p, ptl);
			mmap_read_unlock(mms[0]);
		}
		lock_page(page);
		t0 = now_ns();
		ret = try_to_unmap(page, 0);
		t1 = now_ns();
		unlock_page(page);
		if (ret != SWAP_SUCCESS) {
			printf("# try_to_unmap returned %d\n", ret);
			goto out;
		}
		v[r] = (double)(t1 - t0);
	}
	res = median(v, reps);
out:
	if (page)
		put_page(page);
	for (int i = 0; i < n; i++)
		if (mms[i])
			umm_mm_destroy(mms[i]);
	umm_object_put(obj);
out_sys:
	umm_system_destroy(sys);
out_free:
	free(mms);
	free(at);
	return res;
}

int main(int argc, char **argv)
{
	int nmm, nun;
	size_t mb, fmb;
	struct build_result pc, ob;
	double k, u_pc, u_ob;
	char name[96];
	double kf, f_pc, f_ob, fb_pc = 0, fb_ob = 0;
	int rfd = -1;
	pid_t helper;

	bench_init(argc, argv, "the two reverse-map schemes, pte chains and object-based: build, "
		   "fork+exit, try_to_unmap of a widely shared page");
	nmm = (int)env_long("UMM_BENCH_RMAP_MMS", BENCH_SIZE(64, 4));
	mb = (size_t)env_long("UMM_BENCH_RMAP_MB", BENCH_SIZE(256, 4));
	nun = (int)env_long("UMM_BENCH_RMAP_UNMAP_MMS", BENCH_SIZE(1000, 20));
	fmb = (size_t)env_long("UMM_BENCH_RMAP_FORK_MB", BENCH_SIZE(256, 4));

	bench_machine_line();
	print_loadavg();
	fflush(stdout);
	helper = kernel_fork_start(fmb << 20, &rfd);   /* before any usermm memory exists */
	kf = kernel_fork_result(helper, rfd);
	printf("# (a) %d address spaces x %zu MiB shared shmem, fully populated (fresh, per pte)\n", nmm, mb);
	k = kernel_build(nmm, mb << 20);
	pc = bench_build(UMM_RMAP_PTE_CHAIN, nmm, mb << 20);
	ob = bench_build(UMM_RMAP_OBJECT, nmm, mb << 20);
	snprintf(name, sizeof(name), "rmap build, pte chains");
	if (pc.ok) {
		bench_report(name, pc.ns_per_pte, k);
		bench_kernel_variant("forked processes mapping one memfd");
		bench_extra("rmap_bytes_per_pte", pc.bytes_per_pte);
		printf("#   pte chains: %.2f bytes of reverse map per pte\n", pc.bytes_per_pte);
	}
	if (ob.ok) {
		bench_report("rmap build, object", ob.ns_per_pte, k);
		bench_kernel_variant("forked processes mapping one memfd");
		bench_extra("rmap_bytes_per_pte", ob.bytes_per_pte);
		printf("#   object: %.4f bytes of reverse map per pte (kernel: 0, object-based too)\n",
		       ob.bytes_per_pte);
	}
	printf("# (b) fork + exit with %zu MiB anon + %zu MiB shared shmem populated (warm, per fork+exit)\n",
	       fmb, fmb);
	f_pc = bench_fork(UMM_RMAP_PTE_CHAIN, fmb << 20, &fb_pc);
	f_ob = bench_fork(UMM_RMAP_OBJECT, fmb << 20, &fb_ob);
	if (f_pc > 0) {
		bench_report("fork+exit, pte chains", f_pc, kf);
		bench_kernel_variant("fork + _exit + waitpid");
		bench_extra("rmap_bytes", fb_pc);
		printf("#   pte chains: %.1f MiB of reverse map while parent and child map it\n", fb_pc / (1 << 20));
	}
	if (f_ob > 0) {
		bench_report("fork+exit, object", f_ob, kf);
		bench_kernel_variant("fork + _exit + waitpid");
		bench_extra("rmap_bytes", fb_ob);
		printf("#   object: %.1f KiB of reverse map while parent and child map it\n", fb_ob / 1024);
	}
	printf("# (c) try_to_unmap of one page mapped by %d address spaces (per call)\n", nun);
	u_pc = bench_unmap(UMM_RMAP_PTE_CHAIN, nun);
	u_ob = bench_unmap(UMM_RMAP_OBJECT, nun);
	snprintf(name, sizeof(name), "try_to_unmap x%d, pte chains", nun);
	bench_report(name, u_pc, 0);
	snprintf(name, sizeof(name), "try_to_unmap x%d, object", nun);
	bench_report(name, u_ob, 0);
	return 0;
}
