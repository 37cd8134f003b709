/* SPDX-License-Identifier: MIT */
/*
 * test_device_mirror.c - the simulated device of examples/device_mirror
 * (an interval notifier, umm_mirror_fault, its own page table and TLB)
 * hammered by device threads while mutator threads change the mirrored
 * range under it: replace pages (mremap of a prepared page over them),
 * munmap and map again, move a page out (mremap) and another in,
 * mprotect read-only and back, fork; and, in a second test, remap pages
 * of a nonlinear shmem window and reclaim (see the remap and reclaim
 * section).  Each device access is checked against what the CPU side did
 * around it:
 *
 *  - a read sees a value the page held at some moment of the access:
 *    the mutator numbers each page's versions (page index in the high
 *    half, version low) and publishes "started" before a change and
 *    "committed" after, so the value read must be of this page with a
 *    version in [committed before the access, started after it], or 0
 *    (a fresh page) only if a change was in progress;
 *  - a write succeeds only if the page was writable at some moment of
 *    the access, and fails only if it was read-only or unmapped at some
 *    moment (counters odd while the page surely / maybe is read-only);
 *  - after fork, the child's copy of a page never changes: a device
 *    write through a translation made before fork would land there.
 *
 * The mutators never write bytes of the mirrored range themselves (they
 * fill a page outside it and mremap it in), so the only stores into it
 * are the device's, and the checks are free of data races.  At the end,
 * with everything quiet, every page reads the same through the device and
 * through umm_read.
 */
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include "test.h"
#include "../examples/device_mirror/device.c"

#define PS 4096UL
#define NPAGES 32
#define NMUTATORS 2
#define NDEVTHREADS 2
#define RW (PROT_READ | PROT_WRITE)

#if defined(__SANITIZE_THREAD__)
#define OPS_PER_MUTATOR 60
#else
#define OPS_PER_MUTATOR 300
#endif

static struct umm_system *sys;
static struct umm_mm *mm;
static struct device dev;
static uintptr_t base;          /* the mirrored range */
static uintptr_t scratch[NMUTATORS];
static uintptr_t parking[NMUTATORS];    /* where a page moved out of the range stays for a while */
static _Atomic uint64_t started[NPAGES], committed[NPAGES];
static _Atomic unsigned long maybe_ro[NPAGES];  /* odd: from before mprotect(RO) to after mprotect(RW) */
static _Atomic unsigned long surely_ro[NPAGES]; /* odd: from after mprotect(RO) to before mprotect(RW) */
static _Atomic bool stop;
static _Atomic unsigned long dev_reads, dev_writes, dev_faults_seen, checks_zero;

static uint64_t value_of(unsigned page, uint64_t version)
{
	return ((uint64_t)(page + 1) << 32) | version;
}

/* put_version - make page p hold version v: fill a scratch page and move it over p. */
static void put_version(int m, unsigned p, uint64_t v)
{
	uintptr_t s = scratch[m], out = 0;
	uint64_t word[2] = { value_of(p, v), 0 };

	TCHECK(umm_mmap(mm, s, PS, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0, &out) == 0);
	TCHECK(umm_write(mm, s, word, sizeof(word)) == 0);
	TCHECK(umm_mremap(mm, s, PS, PS, MREMAP_MAYMOVE | MREMAP_FIXED, base + p * PS, &out) == 0);
}

static void *mutator(void *arg)
{
	int m = (int)(intptr_t)arg;
	uint64_t rnd = 0x9e3779b97f4a7c15ull * (uint64_t)(m + 1);

	for (int i = 0; i < OPS_PER_MUTATOR; i++) {
		unsigned p = (unsigned)(test_rnd(&rnd) % (NPAGES / NMUTATORS)) * NMUTATORS + (unsigned)m;
		uintptr_t a = base + p * PS, out;
		uint64_t v;

		switch (test_rnd(&rnd) % 5) {
		case 0: /* replace */
			v = atomic_fetch_add(&started[p], 1) + 1;
			put_version(m, p, v);
			atomic_store(&committed[p], v);
			break;
		case 1: /* munmap, map afresh (zeroes), then a new version */
			v = atomic_fetch_add(&started[p], 1) + 1;
			TCHECK(umm_munmap(mm, a, PS) == 0);
			sched_yield();
			TCHECK(umm_mmap(mm, a, PS, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0, &out) == 0);
			sched_yield();
			put_version(m, p, v);
			atomic_store(&committed[p], v);
			break;
		case 2: /* read-only for a while */
			atomic_fetch_add(&maybe_ro[p], 1);
			TCHECK(umm_mprotect(mm, a, PS, PROT_READ) == 0);
			atomic_fetch_add(&surely_ro[p], 1);
			for (int k = 0; k < 4; k++)
				sched_yield();
			atomic_fetch_add(&surely_ro[p], 1);
			TCHECK(umm_mprotect(mm, a, PS, RW) == 0);
			atomic_fetch_add(&maybe_ro[p], 1);
			break;
		case 3: { /* fork: the child's copy must never change afterwards */
			struct umm_mm *child;
			uint64_t w1[2], w2[2];

			TCHECK(umm_fork(mm, &child) == 0);
			TCHECK(umm_read(child, a, w1, sizeof(w1)) == 0);
			for (int k = 0; k < 4; k++)
				sched_yield();
			TCHECK(umm_read(child, a, w2, sizeof(w2)) == 0);
			TCHECK(w1[0] == w2[0] && w1[1] == w2[1]);
			umm_mm_destroy(child);
			break;
		}
		case 4: /* move the page out of the range, then a new version in its place */
			v = atomic_fetch_add(&started[p], 1) + 1;
			/* parked (its frame not reused) until the next move: a stale translation would show it */
			TCHECK(umm_mremap(mm, a, PS, PS, MREMAP_MAYMOVE | MREMAP_FIXED, parking[m], &out) == 0);
			sched_yield();
			put_version(m, p, v);
			atomic_store(&committed[p], v);
			break;
		}
	}
	return NULL;
}

static void *device_thread(void *arg)
{
	uint64_t rnd = 0x2545f4914f6cdd1dull * (uint64_t)((intptr_t)arg + 7);

	while (!atomic_load(&stop)) {
		unsigned p = (unsigned)(test_rnd(&rnd) % NPAGES);
		uintptr_t a = base + p * PS;

		if (test_rnd(&rnd) % 3) {
			uint64_t before = atomic_load(&committed[p]), after, got = 0;
			int err = device_access(&dev, a, &got, sizeof(got), 0);

			after = atomic_load(&started[p]);
			if (err) {
				/* only while the page is being replaced (munmap) */
				TCHECK(err == -EFAULT && after > before);
				atomic_fetch_add(&dev_faults_seen, 1);
				continue;
			}
			atomic_fetch_add(&dev_reads, 1);
			if (got == 0) {
				TCHECK(after > before);
				atomic_fetch_add(&checks_zero, 1);
			} else {
				TCHECK(got >> 32 == p + 1);
				TCHECK((got & 0xffffffffu) >= before && (got & 0xffffffffu) <= after);
			}
		} else {
			unsigned long m1 = atomic_load(&maybe_ro[p]), s1 = atomic_load(&surely_ro[p]), m2, s2;
			uint64_t tok = value_of(p, 0xffffff00u) | (test_rnd(&rnd) & 0xff);
			uint64_t before = atomic_load(&committed[p]);
			int err = device_access(&dev, a + 8, &tok, sizeof(tok), 1);
			uint64_t after = atomic_load(&started[p]);

			s2 = atomic_load(&surely_ro[p]);
			m2 = atomic_load(&maybe_ro[p]);
			if (err) {
				/* read-only or being replaced at some moment of the access */
				TCHECK(err == -EFAULT && ((m1 & 1) || m1 != m2 || after > before));
				atomic_fetch_add(&dev_faults_seen, 1);
				continue;
			}
			atomic_fetch_add(&dev_writes, 1);
			/* writable at some moment: not read-only all along */
			TCHECK(!(s1 == s2 && (s1 & 1)));
		}
	}
	return NULL;
}

static void test_device_mirror_hammer(void)
{
	pthread_t mt[NMUTATORS], dt[NDEVTHREADS];
	unsigned char *cpu = malloc(PS), *viadev = malloc(PS);

	sys = test_sys_create(64UL << 20, 0);
	REQUIRE(umm_mm_create(sys, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, NPAGES * PS, RW, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &base) == 0);
	for (int m = 0; m < NMUTATORS; m++) {
		REQUIRE(umm_mmap(mm, 0, PS, RW, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &scratch[m]) == 0);
		REQUIRE(umm_mmap(mm, 0, PS, RW, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &parking[m]) == 0);
	}
	for (unsigned p = 0; p < NPAGES; p++) {
		atomic_store(&started[p], 1);
		put_version(0, p, 1);
		atomic_store(&committed[p], 1);
	}
	REQUIRE(device_create(&dev, mm, base, NPAGES) == 0);

	atomic_store(&stop, false);
	for (int i = 0; i < NDEVTHREADS; i++)
		REQUIRE(pthread_create(&dt[i], NULL, device_thread, (void *)(intptr_t)i) == 0);
	/* the mutators start once the device is reading (a loaded machine may not run it at once) */
	while (!atomic_load(&dev_reads))
		usleep(1000);
	for (int m = 0; m < NMUTATORS; m++)
		REQUIRE(pthread_create(&mt[m], NULL, mutator, (void *)(intptr_t)m) == 0);
	for (int m = 0; m < NMUTATORS; m++)
		pthread_join(mt[m], NULL);
	atomic_store(&stop, true);
	for (int i = 0; i < NDEVTHREADS; i++)
		pthread_join(dt[i], NULL);
	test_fold_thread_checks();

	/* quiet now: the device and the CPU see the same bytes everywhere */
	for (unsigned p = 0; p < NPAGES; p++) {
		CHECK_EQ(umm_read(mm, base + p * PS, cpu, PS), 0);
		CHECK_EQ(device_access(&dev, base + p * PS, viadev, PS, 0), 0);
		CHECK(memcmp(cpu, viadev, PS) == 0);
	}
	CHECK(dev.invalidations > 0);
	CHECK(dev.faults > 0);
	fprintf(stderr, "  device: %lu reads, %lu writes, %lu faults seen; %lu invalidations, %lu faults, %lu tlb hits\n",
		atomic_load(&dev_reads), atomic_load(&dev_writes), atomic_load(&dev_faults_seen),
		dev.invalidations, dev.faults, dev.tlb_hits);

	device_destroy(&dev);
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(mm);
	CHECK_EQ(umm_system_destroy(sys), 0);
	free(cpu);
	free(viadev);
}

/*
 * Remap and reclaim: the device mirrors a nonlinear window of a shmem
 * object in a small system with a swap file.  Mutators remap window pages
 * to other object pages (umm_remap_file_pages), push pages out
 * (MADV_PAGEOUT on the window and on a linear view of the object) and
 * write a ballast of anonymous memory so that kswapd and direct reclaim
 * evict pages the device mirrors.  Object page j always holds
 * value_of(j, OBJ_TAG), so a read must show the object page the window
 * page showed at some moment of the access: for window page p the
 * mutator records which object page each of its remap versions shows
 * (wshow[p][v]) before it starts the remap.  A stale translation after
 * a remap shows the old object page; after reclaim, a freed frame
 * (zeroes or another page's bytes).  The ballast pages of a mutator
 * follow its pageouts, so that freed frames are soon reused.  At the
 * end, with the threads done, each window page is remapped, then paged
 * out and its frame reused at once, in turn, and the device must read
 * the new object page each time.
 */
#define WPAGES 16               /* the mirrored window */
#define OBJPAGES 512            /* the shmem object: 2 MiB */
#define BALLAST_PAGES 768       /* 3 MiB of anonymous memory, in a 4 MiB system */
#define OBJ_TAG 0xabcdu
#define REUSE_PAGES 4

#if defined(__SANITIZE_THREAD__)
#define RR_OPS 80
#else
#define RR_OPS 400
#endif

static uintptr_t wbase, linear, ballast;
static _Atomic uint32_t wshow[WPAGES][RR_OPS + 2];
static _Atomic unsigned long rr_remaps, rr_pageouts, rr_reads, rr_bad, rr_bad_zero;

static void *rr_mutator(void *arg)
{
	int m = (int)(intptr_t)arg;
	uint64_t rnd = 0x9e3779b97f4a7c15ull * (uint64_t)(m + 3);
	uint64_t word = 0;

	for (int i = 0; i < RR_OPS; i++) {
		unsigned p = (unsigned)(test_rnd(&rnd) % (WPAGES / NMUTATORS)) * NMUTATORS + (unsigned)m;
		uint32_t j = (uint32_t)(test_rnd(&rnd) % OBJPAGES);
		uint64_t v;

		switch (test_rnd(&rnd) % 4) {
		case 0: case 1: /* remap window page p to object page j */
			v = atomic_load(&started[p]) + 1;
			atomic_store(&wshow[p][v], j);
			atomic_store(&started[p], v);
			TCHECK(umm_remap_file_pages(mm, wbase + p * PS, PS, 0, j, 0) == 0);
			atomic_store(&committed[p], v);
			atomic_fetch_add(&rr_remaps, 1);
			break;
		case 2: /* page out what the window shows at p, or an object page through the linear view */
			if (test_rnd(&rnd) & 1)
				TCHECK(umm_madvise(mm, wbase + p * PS, PS, MADV_PAGEOUT) == 0);
			else
				TCHECK(umm_madvise(mm, linear + (uintptr_t)j * PS, PS, MADV_PAGEOUT) == 0);
			atomic_fetch_add(&rr_pageouts, 1);
			/* fall through: the ballast reuses the frames freed, so a stale translation shows other bytes */
		case 3: /* pressure: write a run of this mutator's ballast pages (kswapd, direct reclaim) */
			for (int k = 0; k < 32; k++) {
				uintptr_t b = ballast + ((test_rnd(&rnd) % (BALLAST_PAGES / NMUTATORS)) * NMUTATORS +
							 (unsigned)m) * PS;

				word++;
				TCHECK(umm_write(mm, b, &word, sizeof(word)) == 0);
			}
			break;
		}
	}
	return NULL;
}

static void *rr_device_thread(void *arg)
{
	uint64_t rnd = 0x2545f4914f6cdd1dull * (uint64_t)((intptr_t)arg + 11);

	while (!atomic_load(&stop)) {
		unsigned p = (unsigned)(test_rnd(&rnd) % WPAGES);
		uint64_t before = atomic_load(&committed[p]), after, got = 0;
		int err = device_access(&dev, wbase + p * PS, &got, sizeof(got), 0);
		bool ok = false;

		after = atomic_load(&started[p]);
		TCHECK(err == 0);
		if (err)
			continue;
		atomic_fetch_add(&rr_reads, 1);
		for (uint64_t v = before; v <= after && !ok; v++)
			ok = got == value_of(atomic_load(&wshow[p][v]), OBJ_TAG);
		if (!ok && atomic_fetch_add(&rr_bad, 1) < 5) {
			atomic_fetch_add(&rr_bad_zero, got == 0);
			fprintf(stderr, "  window page %u read %#llx, showing versions %llu..%llu\n", p,
				(unsigned long long)got, (unsigned long long)before, (unsigned long long)after);
		}
		TCHECK(ok);
	}
	return NULL;
}

static void test_device_mirror_remap_reclaim(void)
{
	char path[] = "/tmp/usermm-mirror-swap-XXXXXX";
	struct umm_config cfg = { .phys_bytes = 4UL << 20, .swap_bytes = 16UL << 20 };
	pthread_t mt[NMUTATORS], dt[NDEVTHREADS];
	struct umm_object *obj;
	struct umm_sys_stats st;
	uintptr_t reuse;
	unsigned evicted = 0;
	int fd = mkstemp(path);

	REQUIRE(fd >= 0);
	close(fd);
	cfg.swap_path = path;
	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	unlink(path);
	REQUIRE(umm_mm_create(sys, &mm) == 0);
	REQUIRE(umm_object_create_shmem(sys, OBJPAGES * PS, &obj) == 0);
	REQUIRE(umm_mmap(mm, 0, OBJPAGES * PS, RW, MAP_SHARED, obj, 0, &linear) == 0);
	REQUIRE(umm_mmap(mm, 0, WPAGES * PS, PROT_READ, MAP_SHARED, obj, 0, &wbase) == 0);
	REQUIRE(umm_mmap(mm, 0, BALLAST_PAGES * PS, RW, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &ballast) == 0);
	REQUIRE(umm_mmap(mm, 0, REUSE_PAGES * PS, RW, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &reuse) == 0);
	for (uint32_t j = 0; j < OBJPAGES; j++) {
		uint64_t w = value_of(j, OBJ_TAG);

		REQUIRE(umm_write(mm, linear + j * PS, &w, sizeof(w)) == 0);
	}
	/* window page p shows object page 7 p + 3 to begin with (nonlinear from the start) */
	for (unsigned p = 0; p < WPAGES; p++) {
		atomic_store(&wshow[p][1], 7 * p + 3);
		atomic_store(&started[p], 1);
		atomic_store(&committed[p], 1);
		REQUIRE(umm_remap_file_pages(mm, wbase + p * PS, PS, 0, 7 * p + 3, 0) == 0);
	}
	REQUIRE(device_create(&dev, mm, wbase, WPAGES) == 0);

	atomic_store(&stop, false);
	for (int i = 0; i < NDEVTHREADS; i++)
		REQUIRE(pthread_create(&dt[i], NULL, rr_device_thread, (void *)(intptr_t)i) == 0);
	/* the mutators start once the device is reading (a loaded machine may not run it at once) */
	while (!atomic_load(&rr_reads))
		usleep(1000);
	for (int m = 0; m < NMUTATORS; m++)
		REQUIRE(pthread_create(&mt[m], NULL, rr_mutator, (void *)(intptr_t)m) == 0);
	for (int m = 0; m < NMUTATORS; m++)
		pthread_join(mt[m], NULL);
	atomic_store(&stop, true);
	for (int i = 0; i < NDEVTHREADS; i++)
		pthread_join(dt[i], NULL);
	test_fold_thread_checks();

	/* quiet now: every window page shows its last object page, through the device and the CPU */
	for (unsigned p = 0; p < WPAGES; p++) {
		uint64_t want = value_of(atomic_load(&wshow[p][atomic_load(&committed[p])]), OBJ_TAG), a = 0, b = 0;

		CHECK_EQ(umm_read(mm, wbase + p * PS, &a, sizeof(a)), 0);
		CHECK_EQ(device_access(&dev, wbase + p * PS, &b, sizeof(b), 0), 0);
		CHECK_EQ(a, want);
		CHECK_EQ(b, want);
	}
	/*
	 * and once more in turn: each window page mirrored, remapped to the
	 * next object page and read through the device; then paged out, its
	 * frame taken at once by fresh anonymous pages (this thread's freed
	 * frames come back first), and read through the device again
	 */
	for (unsigned p = 0; p < WPAGES; p++) {
		uint32_t j = (atomic_load(&wshow[p][atomic_load(&committed[p])]) + 1) % OBJPAGES;
		uint64_t want = value_of(j, OBJ_TAG), b = 0;
		uint64_t junk = 0x5a5a5a5a5a5a5a5aull;
		unsigned char vec;

		CHECK_EQ(device_access(&dev, wbase + p * PS, &b, sizeof(b), 0), 0);
		CHECK_EQ(umm_remap_file_pages(mm, wbase + p * PS, PS, 0, j, 0), 0);
		CHECK_EQ(device_access(&dev, wbase + p * PS, &b, sizeof(b), 0), 0);
		CHECK_EQ(b, want);
		CHECK_EQ(umm_madvise(mm, wbase + p * PS, PS, MADV_PAGEOUT), 0);
		CHECK_EQ(umm_mincore(mm, wbase + p * PS, PS, &vec), 0);
		evicted += !(vec & 1);
		CHECK_EQ(umm_madvise(mm, reuse, REUSE_PAGES * PS, MADV_DONTNEED), 0);
		for (unsigned k = 0; k < REUSE_PAGES; k++)
			CHECK_EQ(umm_write(mm, reuse + k * PS, &junk, sizeof(junk)), 0);
		CHECK_EQ(device_access(&dev, wbase + p * PS, &b, sizeof(b), 0), 0);
		CHECK_EQ(b, want);
	}
	CHECK(evicted > 0);
	REQUIRE(umm_system_stats(sys, &st) == 0);
	CHECK(atomic_load(&rr_reads) > 0);
	CHECK(atomic_load(&rr_remaps) > 0);
	CHECK(st.pswpout > 0);
	fprintf(stderr, "  device: %lu reads (%lu bad, of them zero %lu), %lu remaps, %lu pageouts; %lu pages swapped out, "
		"%lu invalidations, %lu faults; %u of %u paged out at the end\n",
		atomic_load(&rr_reads), atomic_load(&rr_bad), atomic_load(&rr_bad_zero), atomic_load(&rr_remaps),
		atomic_load(&rr_pageouts), st.pswpout, dev.invalidations, dev.faults, evicted, WPAGES);

	device_destroy(&dev);
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(mm);
	umm_object_put(obj);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

/* The device may outlive the address space: destroy invalidates it (EXIT), remove still works. */
static void test_device_outlives_mm(void)
{
	struct device d;
	uint64_t v = 42, got = 0;
	uintptr_t a;

	sys = test_sys_create(16UL << 20, 1);
	REQUIRE(umm_mm_create(sys, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, 4 * PS, RW, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a) == 0);
	REQUIRE(device_create(&d, mm, a, 4) == 0);
	CHECK_EQ(device_access(&d, a + PS, &v, sizeof(v), 1), 0);
	CHECK_EQ(umm_read(mm, a + PS, &got, sizeof(got)), 0);
	CHECK_EQ(got, 42);
	umm_mm_destroy(mm);
	CHECK(d.ptes[1].frame == NULL);                 /* dropped by the EXIT invalidation */
	CHECK_EQ(device_access(&d, a + PS, &got, sizeof(got), 0), -ENODEV);
	device_destroy(&d);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

int main(void)
{
	RUN(test_device_mirror_hammer);
	RUN(test_device_mirror_remap_reclaim);
	RUN(test_device_outlives_mm);
	return test_summary("test_device_mirror");
}
