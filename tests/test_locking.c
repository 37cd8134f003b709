/* SPDX-License-Identifier: MIT */
/*
 * test_locking.c - the lock primitives and the lock-order rules: the
 * futex mutex (fmutex.h), the split page-table lock helpers (pgtable.h),
 * the debug-build lock-order checker and held-lock assertions
 * (lockdep.h), and the striped per-thread counters (mm.h).
 *
 * What is checked:
 *   - fmutex: trylock on a held lock fails; threads incrementing a plain
 *     counter under it lose no update (under TSan this also shows the
 *     annotations: a data race would be reported and fail the run);
 *   - pte_offset_map_lock returns NULL (nothing held) where no table
 *     exists; pte_alloc_map_lock builds the table and returns with the
 *     slot's table lock held (trylock fails from another thread), and
 *     pte_lockptr names the same lock for every slot of one table and a
 *     different lock for another table;
 *   - debug builds: an inverted order (ptl then mmap_lock, tree_lock then
 *     i_mmap_lock, two ptls without a nesting subclass, page_table_lock
 *     under a ptl, a release of a lock not held) is reported through the
 *     hook; the nested subclass
 *     and trylocks are not; fork, mremap, truncate, mprotect, munmap and
 *     faults from several threads report nothing; a pte written without
 *     its table lock is a BUG (checked in a child process);
 *   - debug builds: a soft-TLB miss that faults a page in takes the pte
 *     table lock once (read of an empty pte, first write, write to a page
 *     mapped read-only for a shared mapping) and a miss on a present pte
 *     once; the fault builds a missing table under page_table_lock once;
 *   - the striped RSS and fault counters are exact once the threads that
 *     faulted have finished, with more threads than stripes; threads
 *     alive at once get distinct slots however many came and went before;
 *   - mremap carries ptes between pte tables with both tables locked:
 *     a move by a distance that is not a multiple of 2 MiB (each source
 *     table's ptes land in two destination tables) and a move within one
 *     pte table keep every byte;
 *   - page tables freed while walkers without mmap_lock run: one pte table
 *     is shared by a file mapping and an anonymous one; a thread maps,
 *     fills, moves (mremap) and unmaps the anonymous one over and over
 *     (freeing the table whenever the file's ptes are gone), while another
 *     truncates, regrows, dirties and syncs the file (unmap_mapping_range
 *     and page_mkclean walk the table) and a third faults the file's pages
 *     back in.  The anonymous data always reads back, nothing fails but with
 *     -EIO past the file's end, and the system checks clean.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include "test.h"
#include "memory.h"
#include "mmap.h"
#include "object.h"
#include "lockdep.h"

#define PS UMM_PAGE_SIZE

static struct umm_system *new_system(void)
{
	struct umm_config cfg = { .phys_bytes = 64 << 20, .debug_checks = 1 };
	struct umm_system *sys;

	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	return sys;
}

/* ---- fmutex ---- */

struct counter_arg {
	struct fmutex *m;
	long *counter;
	int iters;
};

static void *count_under_lock(void *p)
{
	struct counter_arg *a = p;

	for (int i = 0; i < a->iters; i++) {
		fmutex_lock(a->m);
		(*a->counter)++;        /* plain: only the lock protects it */
		fmutex_unlock(a->m);
	}
	return NULL;
}

static void test_fmutex(void)
{
	struct fmutex m;
	long counter = 0;
	pthread_t t[4];
	struct counter_arg a = { &m, &counter, 20000 };

	fmutex_init(&m);
	CHECK(fmutex_trylock(&m));
	CHECK(fmutex_is_locked(&m));
	CHECK(!fmutex_trylock(&m));
	fmutex_unlock(&m);
	CHECK(!fmutex_is_locked(&m));
	for (int i = 0; i < 4; i++)
		REQUIRE(pthread_create(&t[i], NULL, count_under_lock, &a) == 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ(counter, 4L * a.iters);
	CHECK(!fmutex_is_locked(&m));
	fmutex_destroy(&m);
}

/* ---- page-table lock helpers ---- */

static void *try_ptl(void *p)
{
	struct fmutex *ptl = p;
	bool got = fmutex_trylock(ptl);

	if (got)
		fmutex_unlock(ptl);
	return (void *)(uintptr_t)got;
}

static void test_ptl_helpers(void)
{
	struct umm_system *sys = new_system();
	struct umm_mm *mm;
	struct fmutex *ptl, *ptl2;
	uintptr_t a;
	pte_t *ptep, *p2;
	pthread_t t;
	void *got;

	REQUIRE(umm_mm_create(sys, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, 4 * PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 NULL, 0, &a) == 0);
	a = ALIGN_UP(a, PMD_SIZE);
	mmap_read_lock(mm);
	ptl = (struct fmutex *)1;
	CHECK(pte_offset_map_lock(mm, a, &ptl) == NULL);
	CHECK(ptl == (struct fmutex *)1);
	if (UMM_DEBUG)
		CHECK_EQ(lockdep_depth(), 1);             /* mmap_lock only */
	ptep = pte_alloc_map_lock(mm, a + 5 * PS, &ptl);
	REQUIRE(ptep);
	CHECK(ptl == pte_lockptr(mm, ptep));
	CHECK(ptl == pte_lockptr(mm, ptep + 100));        /* same table, same lock */
	if (UMM_DEBUG)
		CHECK(lockdep_is_held(ptl));
	CHECK(pte_none(*ptep));
	REQUIRE(pthread_create(&t, NULL, try_ptl, ptl) == 0);
	pthread_join(t, &got);
	CHECK(got == NULL);                                /* held: another thread cannot take it */
	pte_unmap_unlock(ptep, ptl);
	REQUIRE(pthread_create(&t, NULL, try_ptl, ptl) == 0);
	pthread_join(t, &got);
	CHECK(got != NULL);
	CHECK(pte_offset_map(mm, a) == ptep - 5);
	p2 = pte_alloc(mm, a + PMD_SIZE);
	REQUIRE(p2);
	ptl2 = pte_lockptr(mm, p2);
	CHECK(ptl2 != ptl);                                 /* another table, another lock */
	mmap_read_unlock(mm);
	CHECK_EQ(lockdep_depth(), 0);
	CHECK_EQ(umm_mm_check(mm), 0);
	umm_mm_destroy(mm);
	umm_system_destroy(sys);
}

/* ---- the lock-order checker ---- */

static _Atomic int reports;
static char last_report[256];

static void count_report(const char *msg)
{
	atomic_fetch_add(&reports, 1);
	snprintf(last_report, sizeof(last_report), "%s", msg);
}

static void test_lockdep_inversions(void)
{
	struct umm_system *sys;
	struct umm_mm *mm;
	struct umm_object *obj;
	struct fmutex *ptl, *ptl2;
	pte_t *ptep, *p2;
	uintptr_t a;
	lockdep_report_fn old;

	if (!UMM_DEBUG) {
		fprintf(stderr, "  lock-order checker compiled out in this build\n");
		return;
	}
	sys = new_system();
	REQUIRE(umm_mm_create(sys, &mm) == 0);
	REQUIRE(umm_object_create_shmem(sys, 4 * PS, &obj) == 0);
	REQUIRE(umm_mmap(mm, 0, 2 * PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 NULL, 0, &a) == 0);
	a = ALIGN_UP(a, PMD_SIZE);
	old = lockdep_set_report_hook(count_report);

	/* ptl, then mmap_lock: mmap_lock ranks above */
	mmap_read_lock(mm);
	p2 = pte_alloc(mm, a + PMD_SIZE);           /* takes page_table_lock: before any ptl */
	REQUIRE(p2);
	ptl2 = pte_lockptr(mm, p2);
	ptep = pte_alloc_map_lock(mm, a, &ptl);
	REQUIRE(ptep);
	mmap_read_unlock(mm);                       /* out of order release is fine */
	CHECK_EQ(atomic_load(&reports), 0);
	mmap_read_lock(mm);                         /* ptl held: inverted */
	CHECK_EQ(atomic_load(&reports), 1);
	CHECK(strstr(last_report, "mmap_lock") && strstr(last_report, "pte table lock"));

	/* two pte table locks need the nesting subclass */
	ptl_lock_nested(ptl2, SINGLE_DEPTH_NESTING);
	CHECK_EQ(atomic_load(&reports), 1);
	ptl_unlock(ptl2);
	ptl_lock(ptl2);                             /* same class, same subclass */
	CHECK_EQ(atomic_load(&reports), 2);
	ptl_unlock(ptl2);
	pte_unmap_unlock(ptep, ptl);
	mmap_read_unlock(mm);

	/* tree_lock, then i_mmap_lock: inverted; trylocks are not checked */
	tree_lock(obj);
	i_mmap_lock_write(obj);
	CHECK_EQ(atomic_load(&reports), 3);
	i_mmap_unlock_write(obj);
	CHECK(fmutex_trylock(&mm->page_table_lock));
	lockdep_acquire(&mm->page_table_lock, LOCK_PAGE_TABLE, 0, LOCKDEP_TRYLOCK);
	CHECK_EQ(atomic_load(&reports), 3);
	page_table_unlock(mm);
	tree_unlock(obj);

	/* the right order reports nothing */
	mmap_read_lock(mm);
	i_mmap_lock_write(obj);
	page_table_lock(mm);
	ptep = pte_offset_map_lock(mm, a, &ptl);
	REQUIRE(ptep);
	tree_lock(obj);
	CHECK_EQ(lockdep_depth(), 5);
	tree_unlock(obj);
	pte_unmap_unlock(ptep, ptl);
	page_table_unlock(mm);
	i_mmap_unlock_write(obj);
	mmap_read_unlock(mm);
	CHECK_EQ(atomic_load(&reports), 3);

	/* page_table_lock under a ptl (what pte_alloc would do) */
	mmap_read_lock(mm);
	ptep = pte_offset_map_lock(mm, a, &ptl);
	REQUIRE(ptep);
	page_table_lock(mm);
	CHECK_EQ(atomic_load(&reports), 4);
	page_table_unlock(mm);
	pte_unmap_unlock(ptep, ptl);
	mmap_read_unlock(mm);

	/* releasing what is not held */
	lockdep_release(&mm->page_table_lock);
	CHECK_EQ(atomic_load(&reports), 5);
	CHECK_EQ(lockdep_depth(), 0);

	lockdep_set_report_hook(old);
	atomic_store(&reports, 0);
	umm_object_put(obj);
	umm_mm_destroy(mm);
	umm_system_destroy(sys);
}

/* ---- the real paths report nothing ---- */

struct fault_arg {
	struct umm_mm *mm;
	uintptr_t base;
	int idx;
};

static void *fault_slice(void *p)
{
	struct fault_arg *f = p;

	for (int i = 0; i < 64; i++) {
		uint64_t v = (uint64_t)f->idx << 32 | (unsigned)i;
		uintptr_t addr = f->base + ((uintptr_t)f->idx * 64 + (uintptr_t)i) * PS;

		TCHECK(umm_write(f->mm, addr, &v, sizeof(v)) == 0);
	}
	return NULL;
}

static unsigned char fpat(size_t i)
{
	return (unsigned char)(i * 7 + 3);
}

static void test_lockdep_quiet_paths(void)
{
	struct umm_system *sys = new_system();
	struct umm_mm *mm, *child;
	struct umm_object *obj;
	lockdep_report_fn old = lockdep_set_report_hook(count_report);
	int fd = test_tmpfile(64 * PS, fpat);
	struct fault_arg args[4];
	pthread_t t[4];
	uintptr_t a, f, moved;
	char buf[PS];

	REQUIRE(umm_mm_create(sys, &mm) == 0);
	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	REQUIRE(umm_mmap(mm, 0, 4 * 64 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 NULL, 0, &a) == 0);
	REQUIRE(umm_mmap(mm, 0, 64 * PS, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &f) == 0);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct fault_arg){ mm, a, i };
		REQUIRE(pthread_create(&t[i], NULL, fault_slice, &args[i]) == 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	test_fold_thread_checks();
	CHECK_EQ(umm_read(mm, f, buf, sizeof(buf)), 0);
	CHECK_EQ(buf[1], (char)fpat(1));
	CHECK_EQ(umm_write(mm, f + 3 * PS, "x", 1), 0);
	CHECK_EQ(umm_fork(mm, &child), 0);
	CHECK_EQ(umm_write(child, a, "c", 1), 0);           /* COW in the child */
	CHECK_EQ(umm_mremap(mm, a, 4 * 64 * PS, 8 * 64 * PS, MREMAP_MAYMOVE, 0, &moved), 0);
	CHECK_EQ(umm_mremap(mm, f, 64 * PS, 128 * PS, MREMAP_MAYMOVE, 0, &f), 0);
	CHECK_EQ(umm_mprotect(mm, moved, 64 * PS, PROT_READ), 0);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);                  /* page_mkclean */
	CHECK_EQ(umm_object_truncate(obj, 8 * PS), 0);      /* unmap_mapping_range */
	CHECK_EQ(umm_munmap(mm, moved, 64 * PS), 0);
	CHECK_EQ(umm_system_check(sys), 0);
	CHECK_EQ(atomic_load(&reports), 0);
	CHECK_EQ(lockdep_depth(), 0);
	lockdep_set_report_hook(old);
	umm_mm_destroy(child);
	umm_mm_destroy(mm);
	umm_object_put(obj);
	close(fd);
	umm_system_destroy(sys);
}

/* set_pte_at without the table lock is a BUG in debug builds. */
static void test_assert_held(void)
{
	struct umm_system *sys;
	struct umm_mm *mm;
	uintptr_t a;
	pte_t *ptep;
	pid_t pid;
	int status;

	if (!UMM_DEBUG) {
		fprintf(stderr, "  held-lock assertions compiled out in this build\n");
		return;
	}
	sys = new_system();
	REQUIRE(umm_mm_create(sys, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a) == 0);
	CHECK_EQ(umm_write(mm, a, "a", 1), 0);
	mmap_read_lock(mm);
	ptep = pte_offset_map(mm, a);
	REQUIRE(ptep);
	mmap_read_unlock(mm);
	fflush(stderr);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		if (devnull >= 0)
			dup2(devnull, 2);      /* the BUG line is expected */
		set_pte_at(mm, a, ptep, pte_mkold(*ptep));
		_exit(0);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	umm_mm_destroy(mm);
	umm_system_destroy(sys);
}

/* ---- lock round trips per soft-TLB miss ---- */

/* ptl_trips - pte table lock acquisitions made by one umm_read/umm_write. */
static unsigned long ptl_trips(struct umm_mm *mm, uintptr_t addr, bool write)
{
	unsigned long before = lockdep_acquisitions(LOCK_PTL);
	uint64_t v = 0;

	if (write)
		CHECK_EQ(umm_write(mm, addr, &v, sizeof(v)), 0);
	else
		CHECK_EQ(umm_read(mm, addr, &v, sizeof(v)), 0);
	return lockdep_acquisitions(LOCK_PTL) - before;
}

static void test_one_trip_per_miss(void)
{
	struct umm_system *sys;
	struct umm_mm *mm, *other;
	struct umm_object *obj;
	uintptr_t a, f;
	unsigned long pt0;

	if (!UMM_DEBUG) {
		fprintf(stderr, "  lock counting compiled out in this build\n");
		return;
	}
	sys = new_system();
	REQUIRE(umm_mm_create(sys, &mm) == 0);
	REQUIRE(umm_mm_create(sys, &other) == 0);
	REQUIRE(umm_object_create_shmem(sys, 16 * PS, &obj) == 0);
	REQUIRE(umm_mmap(mm, 0, 16 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 NULL, 0, &a) == 0);
	REQUIRE(umm_mmap(mm, 0, 16 * PS, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &f) == 0);

	pt0 = lockdep_acquisitions(LOCK_PAGE_TABLE);
	CHECK_EQ(ptl_trips(mm, a, true), 1);               /* first write, table built */
	CHECK_EQ(lockdep_acquisitions(LOCK_PAGE_TABLE) - pt0, 1);
	CHECK_EQ(ptl_trips(mm, a + PS, false), 1);         /* read: zero page */
	CHECK_EQ(ptl_trips(mm, a + 2 * PS, true), 1);      /* first write, table there */
	CHECK_EQ(ptl_trips(mm, f, false), 1);              /* shmem read */
	CHECK_EQ(ptl_trips(mm, f + PS, true), 1);          /* shmem write */
	/* another thread's view: a fresh mm sharing the object, read then write */
	REQUIRE(umm_mmap(other, 0, 16 * PS, PROT_READ | PROT_WRITE, MAP_SHARED, obj, 0, &f) == 0);
	CHECK_EQ(ptl_trips(other, f, false), 1);
	CHECK_EQ(ptl_trips(other, f, true), 1);            /* read-only pte made writable */
	/* a miss on a present pte (a TLB flushed by mprotect) takes it once too */
	CHECK_EQ(umm_mprotect(mm, a, 16 * PS, PROT_READ), 0);
	CHECK_EQ(ptl_trips(mm, a, false), 1);
	CHECK_EQ(lockdep_depth(), 0);
	umm_mm_destroy(other);
	umm_mm_destroy(mm);
	umm_object_put(obj);
	umm_system_destroy(sys);
}

/* ---- striped counters ---- */

#define NR_COUNT_THREADS (MM_COUNTER_STRIPES + 4)

static void test_striped_counters(void)
{
	struct umm_system *sys = new_system();
	struct umm_mm *mm;
	struct fault_arg args[NR_COUNT_THREADS];
	pthread_t t[NR_COUNT_THREADS];
	struct umm_mm_stats st;
	uintptr_t a;

	REQUIRE(umm_mm_create(sys, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, NR_COUNT_THREADS * 64 * PS, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a) == 0);
	for (int i = 0; i < NR_COUNT_THREADS; i++) {
		args[i] = (struct fault_arg){ mm, a, i };
		REQUIRE(pthread_create(&t[i], NULL, fault_slice, &args[i]) == 0);
	}
	for (int i = 0; i < NR_COUNT_THREADS; i++)
		pthread_join(t[i], NULL);
	test_fold_thread_checks();
	REQUIRE(umm_mm_stats(mm, &st) == 0);
	CHECK_EQ(st.rss_anon, NR_COUNT_THREADS * 64);
	CHECK_EQ(st.minor_faults, NR_COUNT_THREADS * 64);
	CHECK_EQ(st.cow_faults, 0);
	CHECK_EQ(umm_munmap(mm, a, 8 * 64 * PS), 0);        /* counted down by this thread */
	REQUIRE(umm_mm_stats(mm, &st) == 0);
	CHECK_EQ(st.rss_anon, (NR_COUNT_THREADS - 8) * 64);
	CHECK_EQ(umm_mm_check(mm), 0);
	umm_mm_destroy(mm);
	umm_system_destroy(sys);
}

static void *take_slot(void *unused)
{
	(void)unused;
	return (void *)(uintptr_t)(thread_slot() + 1);
}

struct slot_arg {
	pthread_barrier_t *bar;
	unsigned int slot;
};

static void *hold_slot(void *p)
{
	struct slot_arg *a = p;

	a->slot = thread_slot();
	pthread_barrier_wait(a->bar);   /* all alive at once */
	return NULL;
}

static void test_thread_slots(void)
{
	struct slot_arg args[8];
	pthread_barrier_t bar;
	pthread_t t[8];
	unsigned int seen = 0;

	(void)thread_slot();            /* main's own */
	/*
	 * churn: slots come back.  (With a plain round-robin the next eight
	 * threads could be handed main's slot, depending on the count so far.)
	 */
	for (int i = 0; i < 3 * NR_SLOT_STRIPES - 4; i++) {
		void *r;

		REQUIRE(pthread_create(&t[0], NULL, take_slot, NULL) == 0);
		pthread_join(t[0], &r);
		CHECK(r != NULL);
	}
	pthread_barrier_init(&bar, NULL, 8);
	for (int i = 0; i < 8; i++) {
		args[i] = (struct slot_arg){ &bar, 0 };
		REQUIRE(pthread_create(&t[i], NULL, hold_slot, &args[i]) == 0);
	}
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&bar);
	for (int i = 0; i < 8; i++) {
		CHECK(args[i].slot < NR_SLOT_STRIPES);
		CHECK(!(seen & (1u << args[i].slot)));
		CHECK(args[i].slot != thread_slot());
		seen |= 1u << args[i].slot;
	}
}

/* ---- mremap between pte tables ---- */

static void fill_check(struct umm_mm *mm, uintptr_t a, size_t pages, uint64_t tag, bool fill)
{
	for (size_t i = 0; i < pages; i++) {
		uint64_t v = tag + i;

		if (fill) {
			CHECK_EQ(umm_write(mm, a + i * PS, &v, sizeof(v)), 0);
		} else {
			v = 0;
			CHECK_EQ(umm_read(mm, a + i * PS, &v, sizeof(v)), 0);
			CHECK_EQ(v, tag + i);
		}
	}
}

static void test_mremap_tables(void)
{
	struct umm_system *sys = new_system();
	struct umm_mm *mm;
	size_t pages = 3 * PTRS_PER_TABLE / 2;           /* 3 MiB: spans two pte tables */
	uintptr_t r, base, a, b;

	REQUIRE(umm_mm_create(sys, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, 16 * PMD_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &r) == 0);
	base = ALIGN_UP(r, PMD_SIZE);
	REQUIRE(umm_munmap(mm, r, 16 * PMD_SIZE) == 0);
	REQUIRE(umm_mmap(mm, base + PMD_SIZE / 2, pages * PS, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0, &a) == 0);
	fill_check(mm, a, pages, 1000, true);
	/* 5 MiB + 12 KiB away: source tables split over destination tables */
	CHECK_EQ(umm_mremap(mm, a, pages * PS, pages * PS, MREMAP_MAYMOVE | MREMAP_FIXED,
			    base + 6 * PMD_SIZE + 3 * PS, &b), 0);
	fill_check(mm, b, pages, 1000, false);
	CHECK_EQ(umm_mm_check(mm), 0);
	/* 16 pages moved 64 KiB up inside one pte table */
	REQUIRE(umm_mmap(mm, base + 12 * PMD_SIZE, 16 * PS, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0, &a) == 0);
	fill_check(mm, a, 16, 5000, true);
	CHECK_EQ(umm_mremap(mm, a, 16 * PS, 16 * PS, MREMAP_MAYMOVE | MREMAP_FIXED,
			    a + 32 * PS, &b), 0);
	fill_check(mm, b, 16, 5000, false);
	CHECK_EQ(umm_mm_check(mm), 0);
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(mm);
	umm_system_destroy(sys);
}

/* ---- page-table freeing against walkers that hold no mmap_lock ---- */

struct race {
	struct umm_mm *mm;
	struct umm_object *obj;
	uintptr_t base;           /* 2 MiB aligned: one pte table */
	double deadline;
	_Atomic long rounds[3];
};

#define RACE_FILE_PAGES 8
#define RACE_ANON_OFF   (16 * PS)
#define RACE_MOVE_OFF   (48 * PS)
#define RACE_ANON_PAGES 16
/* rounds each racer makes however late a loaded machine starts it (then until the deadline) */
#define RACE_MIN_ROUNDS 4

static void *race_mapper(void *p)
{
	struct race *r = p;
	uint64_t round = 0;

	while (round < RACE_MIN_ROUNDS || test_now_s() < r->deadline) {
		uintptr_t a = r->base + RACE_ANON_OFF, got, moved;
		uint64_t v;

		round++;
		TCHECK(umm_mmap(r->mm, a, RACE_ANON_PAGES * PS, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0, &got) == 0 && got == a);
		for (uint64_t i = 0; i < RACE_ANON_PAGES; i++) {
			v = round << 8 | i;
			TCHECK(umm_write(r->mm, a + i * PS, &v, sizeof(v)) == 0);
		}
		if (round & 1) {
			TCHECK(umm_mremap(r->mm, a, RACE_ANON_PAGES * PS, RACE_ANON_PAGES * PS,
					  MREMAP_MAYMOVE | MREMAP_FIXED, r->base + RACE_MOVE_OFF, &moved) == 0);
			a = r->base + RACE_MOVE_OFF;
		}
		for (uint64_t i = 0; i < RACE_ANON_PAGES; i++) {
			v = 0;
			TCHECK(umm_read(r->mm, a + i * PS, &v, sizeof(v)) == 0 && v == (round << 8 | i));
		}
		TCHECK(umm_munmap(r->mm, a, RACE_ANON_PAGES * PS) == 0);
		atomic_fetch_add(&r->rounds[0], 1);
	}
	return NULL;
}

static void *race_truncator(void *p)
{
	struct race *r = p;

	for (unsigned int round = 0; round < RACE_MIN_ROUNDS || test_now_s() < r->deadline; round++) {
		uint8_t c = 1;

		TCHECK(umm_object_truncate(r->obj, 0) == 0);
		TCHECK(umm_object_truncate(r->obj, RACE_FILE_PAGES * PS) == 0);
		/* dirty the last two pages (only this thread touches them), then write back */
		int e1 = umm_write(r->mm, r->base + (RACE_FILE_PAGES - 1) * PS, &c, 1);
		int e2 = umm_write(r->mm, r->base + (RACE_FILE_PAGES - 2) * PS, &c, 1);

		if (e1 || e2)
			fprintf(stderr, "  truncator: write after extend failed: %d %d\n", e1, e2);
		TCHECK(e1 == 0);
		TCHECK(e2 == 0);
		TCHECK(umm_object_sync(r->obj, 0, 0) == 0);
		atomic_fetch_add(&r->rounds[1], 1);
	}
	return NULL;
}

static void *race_faulter(void *p)
{
	struct race *r = p;

	for (unsigned int round = 0; round < RACE_MIN_ROUNDS || test_now_s() < r->deadline; round++) {
		/* reads only: a store racing writeback's pwrite is a data race by design */
		for (uintptr_t i = 0; i < RACE_FILE_PAGES - 2; i++) {
			uint8_t c;
			int err = umm_read(r->mm, r->base + i * PS, &c, 1);

			TCHECK(err == 0 || err == -EIO);
		}
		atomic_fetch_add(&r->rounds[2], 1);
	}
	return NULL;
}

static void test_table_free_race(void)
{
	struct umm_config cfg = { .phys_bytes = 64 << 20, .debug_checks = 1 };
	struct umm_system *sys;
	struct race r = { 0 };
	int fd = test_tmpfile(RACE_FILE_PAGES * PS, fpat);
	void *(*fn[3])(void *) = { race_mapper, race_truncator, race_faulter };
	pthread_t t[3];
	uintptr_t a, got;

	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	REQUIRE(umm_mm_create(sys, &r.mm) == 0);
	REQUIRE(umm_object_open_fd(sys, fd, &r.obj) == 0);
	REQUIRE(umm_mmap(r.mm, 0, 2 * PMD_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a) == 0);
	r.base = ALIGN_UP(a, PMD_SIZE);
	REQUIRE(umm_munmap(r.mm, a, 2 * PMD_SIZE) == 0);
	REQUIRE(umm_mmap(r.mm, r.base, RACE_FILE_PAGES * PS, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, r.obj, 0, &got) == 0);
	r.deadline = test_now_s() + 1.0;
	for (int i = 0; i < 3; i++)
		REQUIRE(pthread_create(&t[i], NULL, fn[i], &r) == 0);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	test_fold_thread_checks();
	fprintf(stderr, "  rounds: %ld map/move/unmap, %ld truncate/sync, %ld fault passes\n",
		atomic_load(&r.rounds[0]), atomic_load(&r.rounds[1]), atomic_load(&r.rounds[2]));
	CHECK(atomic_load(&r.rounds[0]) > 0 && atomic_load(&r.rounds[1]) > 0);
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(r.mm);
	umm_object_put(r.obj);
	close(fd);
	umm_system_destroy(sys);
}

int main(void)
{
	RUN(test_fmutex);
	RUN(test_ptl_helpers);
	RUN(test_lockdep_inversions);
	RUN(test_lockdep_quiet_paths);
	RUN(test_assert_held);
	RUN(test_one_trip_per_miss);
	RUN(test_striped_counters);
	RUN(test_thread_slots);
	RUN(test_mremap_tables);
	RUN(test_table_free_race);
	return test_summary("test_locking");
}
