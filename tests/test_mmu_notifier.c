/* SPDX-License-Identifier: MIT */
/*
 * test_mmu_notifier.c - the MMU notifiers (usermm/mmu_notifier.h).
 *
 * A recording notifier logs every callback; each path that changes ptes
 * (munmap, mprotect, mremap, copy-on-write, fork, MADV_DONTNEED,
 * MADV_FREE, truncate, page_mkclean through writeback,
 * remap_file_pages) must produce its expected start/end pairs with the
 * right event and range, and invalidate_secondary_tlbs between them.
 * Then: bad arguments (a failed register or unregister of a per-mm or
 * reverse-map notifier leaves the registration as it was); release
 * exactly once (destroy first, unregister first, and the two racing);
 * no callback after unregister returns while
 * other threads keep unmapping; registering while other threads fault;
 * the interval notifier's sequence protocol under a deliberate race (a
 * hook invalidates between read_begin and install, which must retry and
 * install the current frame); the reverse-map notifier sees every page
 * truncate drops; page_referenced combines the notifiers' young answers, and
 * those answers change what reclaim evicts (a notifier that calls some
 * pages young keeps them resident while equal pages it calls old go);
 * and, in debug builds, a callback that calls back into its own address
 * space is stopped.
 */
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "test.h"
#include "memory.h"
#include "rmap.h"
#include "vmscan.h"

#define PS 4096UL
#define RW (PROT_READ | PROT_WRITE)
#define MAXLOG 256

#if defined(__SANITIZE_THREAD__)
#define TSAN_BUILD 1
#define RACE_ROUNDS 40
#else
#define TSAN_BUILD 0
#define RACE_ROUNDS 300
#endif

enum kind { K_START, K_END, K_TLBS, K_RELEASE };

struct rec {
	enum kind kind;
	enum umm_mmu_event event;
	uintptr_t start, end;
};

struct recorder {
	struct umm_mmu_notifier mn;
	pthread_mutex_t lock;
	struct rec log[MAXLOG];
	int n;
	int depth;                      /* open windows */
	_Atomic int releases;
	_Atomic int calls;              /* every callback */
	_Atomic bool gone;              /* set once unregister returned: no callback may follow */
	_Atomic int young_answer;       /* what clear_young / test_young return */
	_Atomic int young_asked;
};

static struct recorder *rec_of(struct umm_mmu_notifier *mn)
{
	return (struct recorder *)mn;
}

static void rec_add(struct recorder *r, enum kind k, enum umm_mmu_event ev, uintptr_t s, uintptr_t e)
{
	TCHECK(!atomic_load(&r->gone));
	atomic_fetch_add(&r->calls, 1);
	pthread_mutex_lock(&r->lock);
	if (r->n < MAXLOG)
		r->log[r->n++] = (struct rec){ k, ev, s, e };
	if (k == K_START)
		r->depth++;
	if (k == K_END)
		r->depth--;
	pthread_mutex_unlock(&r->lock);
}

static void rec_start(struct umm_mmu_notifier *mn, const struct umm_mmu_range *range)
{
	rec_add(rec_of(mn), K_START, range->event, range->start, range->end);
}

static void rec_end(struct umm_mmu_notifier *mn, const struct umm_mmu_range *range)
{
	rec_add(rec_of(mn), K_END, range->event, range->start, range->end);
}

static void rec_tlbs(struct umm_mmu_notifier *mn, struct umm_mm *m, uintptr_t s, uintptr_t e)
{
	(void)m;
	rec_add(rec_of(mn), K_TLBS, UMM_MMU_NR_EVENTS, s, e);
}

static void rec_release(struct umm_mmu_notifier *mn, struct umm_mm *m)
{
	(void)m;
	TCHECK(!atomic_load(&rec_of(mn)->gone));
	atomic_fetch_add(&rec_of(mn)->releases, 1);
}

static int rec_clear_young(struct umm_mmu_notifier *mn, struct umm_mm *m, uintptr_t s, uintptr_t e)
{
	(void)m; (void)s; (void)e;
	atomic_fetch_add(&rec_of(mn)->young_asked, 1);
	return atomic_load(&rec_of(mn)->young_answer);
}

static int rec_test_young(struct umm_mmu_notifier *mn, struct umm_mm *m, uintptr_t a)
{
	(void)m; (void)a;
	return atomic_load(&rec_of(mn)->young_answer);
}

static const struct umm_mmu_notifier_ops rec_ops = {
	.release = rec_release,
	.invalidate_range_start = rec_start,
	.invalidate_range_end = rec_end,
	.invalidate_secondary_tlbs = rec_tlbs,
	.clear_young = rec_clear_young,
	.test_young = rec_test_young,
};

static void rec_init(struct recorder *r)
{
	memset(r, 0, sizeof(*r));
	r->mn.ops = &rec_ops;
	pthread_mutex_init(&r->lock, NULL);
}

static void rec_clear(struct recorder *r)
{
	pthread_mutex_lock(&r->lock);
	r->n = 0;
	pthread_mutex_unlock(&r->lock);
}

/*
 * expect_window - the log holds, in order, exactly `n` windows: start and
 * end of (event, start, end) each, with anything but another start/end
 * (secondary-TLB invalidations) allowed between; want_tlbs: at least one
 * invalidate_secondary_tlbs inside the first window, within its range.
 */
static void expect_windows(struct recorder *r, int n, const struct rec *want, bool want_tlbs)
{
	int w = 0, open = -1, tlbs = 0;

	CHECK_EQ(r->depth, 0);
	for (int i = 0; i < r->n; i++) {
		const struct rec *g = &r->log[i];

		if (g->kind == K_TLBS) {
			CHECK(open >= 0);
			if (open >= 0) {
				CHECK(g->start >= want[open].start && g->end <= want[open].end);
				tlbs++;
			}
			continue;
		}
		if (g->kind == K_START) {
			CHECK(open < 0);
			CHECK(w < n);
			if (w >= n)
				return;
			CHECK_EQ(g->event, want[w].event);
			CHECK_EQ(g->start, want[w].start);
			CHECK_EQ(g->end, want[w].end);
			open = w;
		} else if (g->kind == K_END) {
			CHECK(open == w);
			CHECK_EQ(g->event, want[w].event);
			CHECK_EQ(g->start, want[w].start);
			CHECK_EQ(g->end, want[w].end);
			open = -1;
			w++;
		}
	}
	CHECK_EQ(w, n);
	CHECK(open < 0);
	if (want_tlbs)
		CHECK(tlbs > 0);
}

static struct umm_system *new_sys(void)
{
	return test_sys_create(32UL << 20, 1);
}

static uintptr_t map_anon(struct umm_mm *m, size_t len)
{
	uintptr_t a = 0;

	REQUIRE(umm_mmap(m, 0, len, RW, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a) == 0);
	return a;
}

static void touch(struct umm_mm *m, uintptr_t a, size_t len)
{
	for (size_t off = 0; off < len; off += PS)
		REQUIRE(umm_write(m, a + off, "x", 1) == 0);
}

/* ---- bad arguments ---- */

static void test_bad_args(void)
{
	struct umm_system *s = new_sys();
	struct umm_mm *m;
	struct recorder r;
	struct umm_mmu_notifier noops = { 0 };
	struct umm_mmu_interval_notifier sub = { 0 };
	static const struct umm_mmu_interval_notifier_ops iops = { 0 };
	struct umm_rmap_notifier rn = { 0 };
	uintptr_t a;

	REQUIRE(umm_mm_create(s, &m) == 0);
	rec_init(&r);
	CHECK_EQ(umm_mmu_notifier_register(NULL, &r.mn), -EINVAL);
	CHECK_EQ(umm_mmu_notifier_register(m, NULL), -EINVAL);
	CHECK_EQ(umm_mmu_notifier_register(m, &noops), -EINVAL);       /* no ops */
	CHECK_EQ(umm_mmu_notifier_unregister(m, &r.mn), -EINVAL);      /* not registered */
	CHECK_EQ(umm_mmu_notifier_register(m, &r.mn), 0);
	CHECK_EQ(umm_mmu_notifier_register(m, &r.mn), -EINVAL);        /* twice */
	CHECK_EQ(umm_mmu_notifier_unregister(NULL, &r.mn), -EINVAL);
	CHECK_EQ(umm_mmu_notifier_unregister(m, NULL), -EINVAL);
	CHECK_EQ(umm_mmu_notifier_unregister(m, &r.mn), 0);
	CHECK_EQ(atomic_load(&r.releases), 1);                          /* unregister released it */
	CHECK_EQ(umm_mmu_notifier_unregister(m, &r.mn), -EINVAL);      /* again */

	a = map_anon(m, 4 * PS);
	CHECK_EQ(umm_mmu_interval_notifier_insert(NULL, a, PS, &iops, &sub), -EINVAL);
	CHECK_EQ(umm_mmu_interval_notifier_insert(m, a, PS, NULL, &sub), -EINVAL);
	CHECK_EQ(umm_mmu_interval_notifier_insert(m, a, PS, &iops, NULL), -EINVAL);
	CHECK_EQ(umm_mmu_interval_notifier_insert(m, a + 1, PS, &iops, &sub), -EINVAL);
	CHECK_EQ(umm_mmu_interval_notifier_insert(m, a, 0, &iops, &sub), -EINVAL);
	CHECK_EQ(umm_mmu_interval_notifier_insert(m, a, PS + 7, &iops, &sub), -EINVAL);
	CHECK_EQ(umm_mmu_interval_notifier_insert(m, 0, PS, &iops, &sub), -EINVAL);
	CHECK_EQ(umm_mmu_interval_notifier_insert(m, UMM_TASK_SIZE - PS, 2 * PS, &iops, &sub), -EINVAL);
	umm_mmu_interval_notifier_remove(&sub);         /* never inserted: ignored */
	CHECK_EQ(umm_mmu_interval_read_begin(NULL), 0);
	CHECK_EQ(umm_mmu_interval_read_retry(NULL, 0), 1);
	CHECK_EQ(umm_mmu_interval_check_retry(&sub, 0), 1);            /* not inserted */
	umm_mmu_interval_lock(&sub);                                     /* nothing happens */
	umm_mmu_interval_unlock(&sub);
	umm_mmu_interval_notifier_remove(NULL);
	CHECK_EQ(umm_mmu_interval_notifier_insert(m, a, 2 * PS, &iops, &sub), 0);
	CHECK_EQ(umm_mmu_interval_notifier_insert(m, a, 2 * PS, &iops, &sub), -EINVAL);   /* twice */
	CHECK_EQ(umm_mirror_fault(NULL, a, 0, NULL, NULL), -EINVAL);
	CHECK_EQ(umm_mirror_fault(&sub, a + 2 * PS, 0, (int (*)(void *, uintptr_t, void *, int))1, NULL), -EINVAL);
	CHECK_EQ(umm_mirror_fault(&sub, a, 0, NULL, NULL), -EINVAL);
	umm_mmu_interval_notifier_remove(&sub);
	CHECK_EQ(umm_mirror_fault(&sub, a, 0, (int (*)(void *, uintptr_t, void *, int))1, NULL), -EINVAL);

	CHECK_EQ(umm_rmap_notifier_register(NULL, &rn), -EINVAL);
	CHECK_EQ(umm_rmap_notifier_register(s, NULL), -EINVAL);
	CHECK_EQ(umm_rmap_notifier_register(s, &rn), -EINVAL);          /* no ops */
	CHECK_EQ(umm_rmap_notifier_unregister(s, &rn), -EINVAL);        /* not registered */
	CHECK_EQ(umm_mm_check(m), 0);
	umm_mm_destroy(m);
	CHECK_EQ(umm_system_destroy(s), 0);
}

/*
 * A notifier registered to one mm: registering it to another mm and
 * unregistering it from that other mm are -EINVAL, and it stays
 * registered to the first: not released, told of a munmap there, released
 * once by its unregister and not again when the other mm is destroyed.
 */
static void test_wrong_mm_calls_keep_registration(void)
{
	struct umm_system *s = new_sys();
	struct umm_mm *m, *other;
	struct recorder r;
	uintptr_t a;

	REQUIRE(umm_mm_create(s, &m) == 0);
	REQUIRE(umm_mm_create(s, &other) == 0);
	rec_init(&r);
	a = map_anon(m, 2 * PS);
	touch(m, a, 2 * PS);
	REQUIRE(umm_mmu_notifier_register(m, &r.mn) == 0);
	CHECK_EQ(umm_mmu_notifier_register(other, &r.mn), -EINVAL);
	CHECK_EQ(umm_mmu_notifier_unregister(other, &r.mn), -EINVAL);
	CHECK_EQ(atomic_load(&r.releases), 0);

	rec_clear(&r);
	CHECK_EQ(umm_munmap(m, a + PS, PS), 0);
	expect_windows(&r, 1, (struct rec[]){ { K_START, UMM_MMU_UNMAP, a + PS, a + 2 * PS } }, true);
	CHECK_EQ(umm_mmu_notifier_unregister(m, &r.mn), 0);
	CHECK_EQ(atomic_load(&r.releases), 1);
	umm_mm_destroy(other);
	CHECK_EQ(atomic_load(&r.releases), 1);
	CHECK_EQ(umm_mm_check(m), 0);
	umm_mm_destroy(m);
	CHECK_EQ(umm_system_destroy(s), 0);
}

/* ---- expected event sequences per path ---- */

static void test_events_anon(void)
{
	struct umm_system *s = new_sys();
	struct umm_mm *m, *child;
	struct recorder r;
	uintptr_t a, b;

	REQUIRE(umm_mm_create(s, &m) == 0);
	rec_init(&r);
	a = map_anon(m, 8 * PS);
	touch(m, a, 8 * PS);
	REQUIRE(umm_mmu_notifier_register(m, &r.mn) == 0);

	/* mprotect */
	rec_clear(&r);
	CHECK_EQ(umm_mprotect(m, a + PS, PS, PROT_READ), 0);
	expect_windows(&r, 1, (struct rec[]){ { K_START, UMM_MMU_PROTECTION, a + PS, a + 2 * PS } }, true);
	CHECK_EQ(umm_mprotect(m, a + PS, PS, RW), 0);

	/* munmap of one page */
	rec_clear(&r);
	CHECK_EQ(umm_munmap(m, a + 7 * PS, PS), 0);
	expect_windows(&r, 1, (struct rec[]){ { K_START, UMM_MMU_UNMAP, a + 7 * PS, a + 8 * PS } }, true);

	/* MADV_DONTNEED and MADV_FREE */
	rec_clear(&r);
	CHECK_EQ(umm_madvise(m, a + 6 * PS, PS, MADV_DONTNEED), 0);
	expect_windows(&r, 1, (struct rec[]){ { K_START, UMM_MMU_MADVISE, a + 6 * PS, a + 7 * PS } }, true);
	rec_clear(&r);
	CHECK_EQ(umm_madvise(m, a + 5 * PS, PS, MADV_FREE), 0);
	expect_windows(&r, 1, (struct rec[]){ { K_START, UMM_MMU_MADVISE, a + 5 * PS, a + 6 * PS } }, true);

	/* fork write-protects the private pages: one FORK window over the vma */
	rec_clear(&r);
	REQUIRE(umm_fork(m, &child) == 0);
	expect_windows(&r, 1, (struct rec[]){ { K_START, UMM_MMU_FORK, a, a + 7 * PS } }, true);

	/* copy-on-write break in the parent: one COW window of that page */
	rec_clear(&r);
	CHECK_EQ(umm_write(m, a + 2 * PS, "y", 1), 0);
	expect_windows(&r, 1, (struct rec[]){ { K_START, UMM_MMU_COW, a + 2 * PS, a + 3 * PS } }, true);
	/* the child's changes are not the parent's business */
	rec_clear(&r);
	CHECK_EQ(umm_write(child, a + 3 * PS, "z", 1), 0);
	CHECK_EQ(umm_munmap(child, a, PS), 0);
	CHECK_EQ(r.n, 0);
	umm_mm_destroy(child);
	CHECK_EQ(r.n, 0);

	/* mremap moving two pages: MOVE of the old range */
	rec_clear(&r);
	CHECK_EQ(umm_mremap(m, a, 2 * PS, 2 * PS, MREMAP_MAYMOVE | MREMAP_FIXED, a + 64 * PS, &b), 0);
	CHECK_EQ(b, a + 64 * PS);
	expect_windows(&r, 1, (struct rec[]){ { K_START, UMM_MMU_MOVE, a, a + 2 * PS } }, true);

	/* destroy: release once, and no window reaches the notifier after it */
	rec_clear(&r);
	umm_mm_destroy(m);
	CHECK_EQ(atomic_load(&r.releases), 1);
	CHECK_EQ(r.n, 0);
	CHECK_EQ(umm_mmu_notifier_unregister(m, &r.mn), 0);            /* after destroy: allowed */
	CHECK_EQ(atomic_load(&r.releases), 1);
	CHECK_EQ(umm_system_destroy(s), 0);
}

static unsigned char byte_pat(size_t i) { return (unsigned char)(i * 7 + 3); }

static void test_events_file(void)
{
	struct umm_system *s = new_sys();
	struct umm_mm *m;
	struct umm_object *obj;
	struct recorder r;
	int fd = test_tmpfile(16 * PS, byte_pat);
	uintptr_t a;

	REQUIRE(umm_object_open_fd(s, fd, &obj) == 0);
	close(fd);
	REQUIRE(umm_mm_create(s, &m) == 0);
	rec_init(&r);
	REQUIRE(umm_mmap(m, 0, 16 * PS, RW, MAP_SHARED, obj, 0, &a) == 0);
	touch(m, a, 16 * PS);
	REQUIRE(umm_mmu_notifier_register(m, &r.mn) == 0);

	/* writeback cleans each dirty page: a CLEAN window per page */
	rec_clear(&r);
	CHECK_EQ(umm_object_sync(obj, 0, 2 * PS), 0);
	expect_windows(&r, 2, (struct rec[]){ { K_START, UMM_MMU_CLEAN, a, a + PS },
					     { K_START, UMM_MMU_CLEAN, a + PS, a + 2 * PS } }, true);

	/* truncate to 12 pages: one TRUNCATE window over the mapped pages past the end */
	rec_clear(&r);
	CHECK_EQ(umm_object_truncate(obj, 12 * PS), 0);
	expect_windows(&r, 1, (struct rec[]){ { K_START, UMM_MMU_TRUNCATE, a + 12 * PS, a + 16 * PS } }, true);

	/* remap_file_pages: a REMAP window over the window */
	rec_clear(&r);
	CHECK_EQ(umm_remap_file_pages(m, a, 2 * PS, 0, 4, 0), 0);
	expect_windows(&r, 1, (struct rec[]){ { K_START, UMM_MMU_REMAP, a, a + 2 * PS } }, true);

	CHECK_EQ(umm_mmu_notifier_unregister(m, &r.mn), 0);
	CHECK_EQ(atomic_load(&r.releases), 1);
	umm_mm_destroy(m);
	CHECK_EQ(atomic_load(&r.releases), 1);
	umm_object_put(obj);
	CHECK_EQ(umm_system_destroy(s), 0);
}

/* Several notifiers: each sees the same windows; one unregistered in between sees no more. */
static void test_many_notifiers(void)
{
	struct umm_system *s = new_sys();
	struct umm_mm *m;
	struct recorder r[3];
	uintptr_t a;

	REQUIRE(umm_mm_create(s, &m) == 0);
	a = map_anon(m, 4 * PS);
	touch(m, a, 4 * PS);
	for (int i = 0; i < 3; i++) {
		rec_init(&r[i]);
		REQUIRE(umm_mmu_notifier_register(m, &r[i].mn) == 0);
	}
	CHECK_EQ(umm_munmap(m, a, PS), 0);
	CHECK_EQ(umm_mmu_notifier_unregister(m, &r[1].mn), 0);
	atomic_store(&r[1].gone, true);
	CHECK_EQ(umm_munmap(m, a + PS, PS), 0);
	for (int i = 0; i < 3; i += 2)
		expect_windows(&r[i], 2, (struct rec[]){ { K_START, UMM_MMU_UNMAP, a, a + PS },
							{ K_START, UMM_MMU_UNMAP, a + PS, a + 2 * PS } }, true);
	expect_windows(&r[1], 1, (struct rec[]){ { K_START, UMM_MMU_UNMAP, a, a + PS } }, true);
	umm_mm_destroy(m);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(atomic_load(&r[i].releases), 1);
		if (i != 1)
			CHECK_EQ(umm_mmu_notifier_unregister(m, &r[i].mn), 0);
	}
	CHECK_EQ(umm_system_destroy(s), 0);
}

/* ---- concurrency ---- */

struct churn {
	struct umm_mm *mm;
	uintptr_t base;
	_Atomic bool stop;
	_Atomic long rounds;
};

/* churn_thread - map, fault, unmap, mprotect in a loop until told to stop. */
static void *churn_thread(void *arg)
{
	struct churn *c = arg;
	uint64_t rnd = 88172645463325252ull;

	while (!atomic_load(&c->stop)) {
		uintptr_t a = c->base + (test_rnd(&rnd) % 8) * PS, out;

		TCHECK(umm_mmap(c->mm, a, PS, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0, &out) == 0);
		TCHECK(umm_write(c->mm, a, "q", 1) == 0);
		TCHECK(umm_mprotect(c->mm, a, PS, PROT_READ) == 0);
		TCHECK(umm_munmap(c->mm, a, PS) == 0);
		atomic_fetch_add(&c->rounds, 1);
	}
	return NULL;
}

/*
 * Register and unregister while another thread maps and unmaps: windows
 * pair up for every registration, and no callback comes after unregister
 * returns (the recorder's gone flag is set right after it).
 */
static void test_register_unregister_under_load(void)
{
	struct umm_system *s = new_sys();
	struct churn c = { 0 };
	pthread_t t;

	REQUIRE(umm_mm_create(s, &c.mm) == 0);
	c.base = map_anon(c.mm, 8 * PS);
	REQUIRE(pthread_create(&t, NULL, churn_thread, &c) == 0);
	for (int i = 0; i < RACE_ROUNDS / 3; i++) {
		struct recorder r;
		long seen;

		rec_init(&r);
		REQUIRE(umm_mmu_notifier_register(c.mm, &r.mn) == 0);
		seen = atomic_load(&c.rounds);        /* rounds wholly after the registration */
		while (atomic_load(&c.rounds) < seen + 2)
			sched_yield();
		CHECK_EQ(umm_mmu_notifier_unregister(c.mm, &r.mn), 0);
		atomic_store(&r.gone, true);
		pthread_mutex_lock(&r.lock);
		CHECK_EQ(r.depth, 0);                   /* every start had its end */
		CHECK(r.n > 0);
		pthread_mutex_unlock(&r.lock);
		CHECK_EQ(atomic_load(&r.releases), 1);
		/* a little more churn: a late callback would trip the gone check */
		seen = atomic_load(&c.rounds);
		while (atomic_load(&c.rounds) < seen + 1)
			sched_yield();
		pthread_mutex_destroy(&r.lock);
	}
	atomic_store(&c.stop, true);
	pthread_join(t, NULL);
	test_fold_thread_checks();
	umm_mm_destroy(c.mm);
	CHECK_EQ(umm_system_destroy(s), 0);
}

struct race_arg {
	struct umm_mm *mm;
	struct recorder *r;
	_Atomic int go;
	int result;
};

static void *unregister_thread(void *arg)
{
	struct race_arg *ra = arg;

	while (!atomic_load(&ra->go))
		;
	ra->result = umm_mmu_notifier_unregister(ra->mm, &ra->r->mn);
	return NULL;
}

/* release exactly once when unregister races with destroy (either may win). */
static void test_release_once_racing_destroy(void)
{
	struct umm_system *s = new_sys();

	for (int i = 0; i < RACE_ROUNDS; i++) {
		struct recorder r;
		struct race_arg ra = { 0 };
		pthread_t t;
		uintptr_t a;

		rec_init(&r);
		REQUIRE(umm_mm_create(s, &ra.mm) == 0);
		a = map_anon(ra.mm, 4 * PS);
		touch(ra.mm, a, 4 * PS);
		REQUIRE(umm_mmu_notifier_register(ra.mm, &r.mn) == 0);
		ra.r = &r;
		REQUIRE(pthread_create(&t, NULL, unregister_thread, &ra) == 0);
		atomic_store(&ra.go, 1);
		umm_mm_destroy(ra.mm);
		pthread_join(t, NULL);
		CHECK_EQ(ra.result, 0);
		CHECK_EQ(atomic_load(&r.releases), 1);
		pthread_mutex_destroy(&r.lock);
	}
	CHECK_EQ(umm_system_destroy(s), 0);
}

struct fault_arg {
	struct umm_mm *mm;
	uintptr_t base;
	_Atomic bool stop;
};

struct fault_thread_arg {
	struct fault_arg *fa;
	uintptr_t base;         /* this thread's 32 pages */
};

static void *fault_thread(void *arg)
{
	struct fault_thread_arg *ft = arg;
	unsigned i = 0;

	while (!atomic_load(&ft->fa->stop)) {
		uintptr_t a = ft->base + (i++ % 32) * PS;
		char c;

		TCHECK(umm_write(ft->fa->mm, a, "w", 1) == 0);
		TCHECK(umm_read(ft->fa->mm, a, &c, 1) == 0 && c == 'w');
		if (i % 32 == 0)
			TCHECK(umm_madvise(ft->fa->mm, ft->base, 32 * PS, MADV_DONTNEED) == 0);
	}
	return NULL;
}

/* Registering while other threads fault (and zap) is safe, and pairs. */
static void test_register_while_faulting(void)
{
	struct umm_system *s = new_sys();
	struct fault_arg fa = { 0 };
	struct fault_thread_arg ft[2];
	pthread_t t[2];

	REQUIRE(umm_mm_create(s, &fa.mm) == 0);
	fa.base = map_anon(fa.mm, 64 * PS);
	for (int i = 0; i < 2; i++) {
		ft[i] = (struct fault_thread_arg){ &fa, fa.base + (uintptr_t)i * 32 * PS };
		REQUIRE(pthread_create(&t[i], NULL, fault_thread, &ft[i]) == 0);
	}
	for (int i = 0; i < RACE_ROUNDS / 4; i++) {
		struct recorder r;

		rec_init(&r);
		REQUIRE(umm_mmu_notifier_register(fa.mm, &r.mn) == 0);
		sched_yield();
		CHECK_EQ(umm_mmu_notifier_unregister(fa.mm, &r.mn), 0);
		atomic_store(&r.gone, true);
		CHECK_EQ(r.depth, 0);
		pthread_mutex_destroy(&r.lock);
	}
	atomic_store(&fa.stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	test_fold_thread_checks();
	CHECK_EQ(umm_mm_check(fa.mm), 0);
	umm_mm_destroy(fa.mm);
	CHECK_EQ(umm_system_destroy(s), 0);
}

/* ---- interval notifiers ---- */

struct mirror {
	struct umm_mmu_interval_notifier sub;
	void *frame;                    /* the one page mirrored, under sub's lock */
	int installs, invalidates, hooks;
	struct umm_mm *mm;
	uintptr_t addr;
	unsigned long seqs[4];
};

static void mirror_invalidate(struct umm_mmu_interval_notifier *sub, const struct umm_mmu_range *r,
			      unsigned long cur_seq)
{
	struct mirror *mi = (struct mirror *)sub;

	(void)r;
	umm_mmu_interval_set_seq(sub, cur_seq);
	mi->frame = NULL;
	mi->invalidates++;
}

static const struct umm_mmu_interval_notifier_ops mirror_ops = { .invalidate = mirror_invalidate };

static int mirror_install(void *arg, uintptr_t addr, void *frame, int writable)
{
	struct mirror *mi = arg;

	(void)addr; (void)writable;
	mi->frame = frame;
	mi->installs++;
	return 0;
}

/* the hook: on the first pass, drop the page (MADV_DONTNEED) after umm_mirror_fault found it */
static void mirror_hook(struct umm_mmu_interval_notifier *sub, void *arg)
{
	struct mirror *mi = arg;

	(void)sub;
	if (mi->hooks++ == 0)
		TCHECK(umm_madvise(mi->mm, mi->addr, PS, MADV_DONTNEED) == 0);
}

static void test_interval_seq_race(void)
{
	struct umm_system *s = new_sys();
	struct mirror mi = { 0 };
	uintptr_t a;
	unsigned long seq;
	uint64_t v = 0x1122334455667788ull, got;

	REQUIRE(umm_mm_create(s, &mi.mm) == 0);
	a = map_anon(mi.mm, 4 * PS);
	mi.addr = a + PS;
	REQUIRE(umm_mmu_interval_notifier_insert(mi.mm, a, 2 * PS, &mirror_ops, &mi.sub) == 0);

	/* the plain protocol: an invalidation after read_begin makes read_retry say so */
	seq = umm_mmu_interval_read_begin(&mi.sub);
	CHECK_EQ(umm_mmu_interval_read_retry(&mi.sub, seq), 0);
	CHECK_EQ(umm_munmap(mi.mm, a + 3 * PS, PS), 0);                 /* outside: no effect */
	CHECK_EQ(umm_mmu_interval_check_retry(&mi.sub, seq), 0);
	CHECK_EQ(umm_mprotect(mi.mm, a, PS, PROT_READ), 0);            /* overlaps */
	umm_mmu_interval_lock(&mi.sub);
	CHECK(umm_mmu_interval_read_retry(&mi.sub, seq) != 0);
	umm_mmu_interval_unlock(&mi.sub);
	CHECK_EQ(mi.invalidates, 1);

	/* the deliberate race: the page goes between lookup and install */
	CHECK_EQ(umm_write(mi.mm, mi.addr, &v, sizeof(v)), 0);
	umm_mmu_interval_set_test_hook(&mi.sub, mirror_hook, &mi);
	CHECK_EQ(umm_mirror_fault(&mi.sub, mi.addr, 0, mirror_install, &mi), 0);
	CHECK_EQ(mi.hooks, 2);          /* found twice */
	CHECK_EQ(mi.installs, 1);       /* installed once: the first attempt retried */
	CHECK_EQ(mi.invalidates, 2);
	/* what was installed is what the page holds now: zero after DONTNEED */
	REQUIRE(mi.frame != NULL);
	memcpy(&got, mi.frame, sizeof(got));
	CHECK_EQ(got, 0);
	CHECK_EQ(umm_read(mi.mm, mi.addr, &got, sizeof(got)), 0);
	CHECK_EQ(got, 0);
	umm_mmu_interval_set_test_hook(&mi.sub, NULL, NULL);

	/* a write fault gives a writable frame the CPU sees */
	CHECK_EQ(umm_mirror_fault(&mi.sub, mi.addr, 1, mirror_install, &mi), 0);
	REQUIRE(mi.frame != NULL);
	memcpy(mi.frame, &v, sizeof(v));
	CHECK_EQ(umm_read(mi.mm, mi.addr, &got, sizeof(got)), 0);
	CHECK_EQ(got, v);
	/* a write into the read-only page is refused */
	CHECK_EQ(umm_mirror_fault(&mi.sub, a, 1, mirror_install, &mi), -EFAULT);
	/* an unmapped page is refused */
	CHECK_EQ(umm_munmap(mi.mm, mi.addr, PS), 0);
	CHECK(mi.frame == NULL);
	CHECK_EQ(umm_mirror_fault(&mi.sub, mi.addr, 0, mirror_install, &mi), -EFAULT);

	umm_mmu_interval_notifier_remove(&mi.sub);
	CHECK_EQ(umm_mm_check(mi.mm), 0);
	umm_mm_destroy(mi.mm);
	CHECK_EQ(umm_system_destroy(s), 0);
}

/* ---- reverse-map notifier ---- */

struct rmap_rec {
	struct umm_rmap_notifier rn;
	void *frames[64];
	int n;
	enum umm_mmu_event last;
};

static void rmap_rec_page(struct umm_rmap_notifier *rn, void *frame, enum umm_mmu_event ev)
{
	struct rmap_rec *rr = (struct rmap_rec *)rn;

	if (rr->n < 64)
		rr->frames[rr->n++] = frame;
	rr->last = ev;
}

static const struct umm_rmap_notifier_ops rmap_rec_ops = { .invalidate_page = rmap_rec_page };

static void test_rmap_notifier_truncate(void)
{
	struct umm_system *s = new_sys();
	struct umm_mm *m;
	struct umm_object *obj;
	struct rmap_rec rr = { .rn = { .ops = &rmap_rec_ops } };
	struct umm_page *pages[8];
	void *want[8];
	uintptr_t a;
	int fd = test_tmpfile(8 * PS, byte_pat);

	REQUIRE(umm_object_open_fd(s, fd, &obj) == 0);
	close(fd);
	REQUIRE(umm_mm_create(s, &m) == 0);
	REQUIRE(umm_mmap(m, 0, 8 * PS, RW, MAP_SHARED, obj, 0, &a) == 0);
	REQUIRE(umm_pin_pages(m, a, 8, 0, pages) == 8);
	for (int i = 0; i < 8; i++)
		want[i] = umm_page_address(pages[i]);
	umm_unpin_pages(pages, 8, 0);
	CHECK_EQ(umm_rmap_notifier_register(s, &rr.rn), 0);
	CHECK_EQ(umm_rmap_notifier_register(s, &rr.rn), -EINVAL);      /* twice */

	CHECK_EQ(umm_object_truncate(obj, 3 * PS), 0);
	CHECK_EQ(rr.n, 5);
	for (int i = 3; i < 8; i++) {
		bool found = false;

		for (int j = 0; j < rr.n; j++)
			found |= rr.frames[j] == want[i];
		CHECK(found);
	}
	CHECK_EQ(rr.last, UMM_MMU_TRUNCATE);

	CHECK_EQ(umm_rmap_notifier_unregister(s, &rr.rn), 0);
	CHECK_EQ(umm_rmap_notifier_unregister(s, &rr.rn), -EINVAL);
	CHECK_EQ(umm_object_truncate(obj, 0), 0);
	CHECK_EQ(rr.n, 5);                                              /* unregistered: no more */
	umm_mm_destroy(m);
	umm_object_put(obj);
	CHECK_EQ(umm_system_destroy(s), 0);
}

static const struct umm_rmap_notifier_ops rmap_no_page_ops = { .invalidate_page = NULL };

/* truncate_shmem_4 - write a 4-page shmem object of sys, then truncate it to 0. */
static void truncate_shmem_4(struct umm_system *sys)
{
	static const char buf[4 * PS];
	struct umm_object *obj;

	REQUIRE(umm_object_create_shmem(sys, sizeof(buf), &obj) == 0);
	REQUIRE(umm_object_write(obj, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf));
	CHECK_EQ(umm_object_cached_pages(obj), 4);
	CHECK_EQ(umm_object_truncate(obj, 0), 0);
	CHECK_EQ(umm_object_cached_pages(obj), 0);
	umm_object_put(obj);
}

/*
 * Reverse-map notifier bad arguments: registering ops without
 * invalidate_page or a notifier registered to another system, and
 * unregistering with a NULL system or notifier or from the wrong system,
 * are -EINVAL.  Afterwards the
 * notifier is registered to its own system only, once: a truncate in the
 * other system reports nothing, one in its own reports each of the four
 * pages once.
 */
static void test_rmap_notifier_bad_args_keep_registration(void)
{
	struct umm_system *s = new_sys(), *s2 = new_sys();
	struct umm_rmap_notifier no_page = { .ops = &rmap_no_page_ops };
	struct rmap_rec rr = { .rn = { .ops = &rmap_rec_ops } };

	CHECK_EQ(umm_rmap_notifier_register(s, &no_page), -EINVAL);
	CHECK_EQ(umm_rmap_notifier_unregister(s, &no_page), -EINVAL);  /* so it is not registered */
	REQUIRE(umm_rmap_notifier_register(s, &rr.rn) == 0);
	CHECK_EQ(umm_rmap_notifier_register(s2, &rr.rn), -EINVAL);     /* registered to s */
	CHECK_EQ(umm_rmap_notifier_unregister(NULL, &rr.rn), -EINVAL);
	CHECK_EQ(umm_rmap_notifier_unregister(s, NULL), -EINVAL);
	CHECK_EQ(umm_rmap_notifier_unregister(s2, &rr.rn), -EINVAL);

	truncate_shmem_4(s2);
	CHECK_EQ(rr.n, 0);
	truncate_shmem_4(s);
	CHECK_EQ(rr.n, 4);
	for (int i = 0; i < rr.n; i++)
		for (int j = 0; j < i; j++)
			CHECK(rr.frames[i] != rr.frames[j]);
	CHECK_EQ(rr.last, UMM_MMU_TRUNCATE);
	CHECK_EQ(umm_rmap_notifier_unregister(s, &rr.rn), 0);
	CHECK_EQ(umm_system_destroy(s2), 0);
	CHECK_EQ(umm_system_destroy(s), 0);
}

/* ---- aging ---- */

static void test_page_referenced_young(void)
{
	struct umm_system *s = new_sys();
	struct umm_mm *m;
	struct recorder r;
	struct umm_page *pg;
	struct page *page;
	uintptr_t a;

	REQUIRE(umm_mm_create(s, &m) == 0);
	a = map_anon(m, PS);
	touch(m, a, PS);
	REQUIRE(umm_pin_pages(m, a, 1, 0, &pg) == 1);
	page = (struct page *)pg;

	CHECK(page_referenced(page) >= 1);      /* the fault made it young */
	CHECK_EQ(page_referenced(page), 0);     /* aged: nobody used it since */

	rec_init(&r);
	REQUIRE(umm_mmu_notifier_register(m, &r.mn) == 0);
	atomic_store(&r.young_answer, 1);       /* the secondary MMU used it */
	CHECK_EQ(page_referenced(page), 1);
	CHECK(atomic_load(&r.young_asked) >= 1);
	atomic_store(&r.young_answer, 0);
	CHECK_EQ(page_referenced(page), 0);
	CHECK_EQ(umm_mmu_notifier_unregister(m, &r.mn), 0);

	umm_unpin_pages(&pg, 1, 0);
	umm_mm_destroy(m);
	CHECK_EQ(umm_system_destroy(s), 0);
}

/*
 * Young bits through a notifier change reclaim's choice.  Two equal
 * anonymous regions, both advised cold (MADV_COLD: to the tail of the
 * inactive list, references forgotten), HOT last so that it is scanned
 * first.  Direct reclaim only (kswapd off: this thread is the one
 * reclaimer).  A notifier whose clear_young says "young" for HOT's pages
 * and "old" for COLD's keeps HOT resident while pressure evicts COLD; the
 * same run with a notifier that calls everything old evicts HOT first.
 */
#define AGE_PAGES 128
#define AGE_BALLAST 2048        /* 8 MiB written through a 4 MiB system */

struct aging {
	struct umm_mmu_notifier mn;
	uintptr_t hot_start, hot_end;
	bool keep_hot;
	_Atomic unsigned long asked, said_young;
};

static int aging_clear_young(struct umm_mmu_notifier *mn, struct umm_mm *m, uintptr_t s, uintptr_t e)
{
	struct aging *ag = (struct aging *)mn;
	int young = ag->keep_hot && s < ag->hot_end && e > ag->hot_start;

	(void)m;
	atomic_fetch_add(&ag->asked, 1);
	atomic_fetch_add(&ag->said_young, (unsigned long)young);
	return young;
}

static const struct umm_mmu_notifier_ops aging_ops = { .clear_young = aging_clear_young };

static long resident(struct umm_mm *m, uintptr_t a, size_t pages)
{
	unsigned char vec[AGE_PAGES];
	long n = 0;

	REQUIRE(pages <= AGE_PAGES && umm_mincore(m, a, pages * PS, vec) == 0);
	for (size_t i = 0; i < pages; i++)
		n += vec[i] & 1;
	return n;
}

/* aging_run - evict AGE_PAGES / 2 pages of HOT + COLD under pressure; return HOT's resident pages. */
static long aging_run(bool keep_hot, long *cold_left)
{
	char path[] = "/tmp/usermm-notifier-swap-XXXXXX";
	struct umm_config cfg = { .phys_bytes = 4UL << 20, .swap_bytes = 32UL << 20 };
	struct umm_system *s = NULL;
	struct umm_mm *m;
	struct aging ag = { .mn.ops = &aging_ops, .keep_hot = keep_hot };
	uintptr_t hot, cold, ballast;
	long hot_left;
	int fd = mkstemp(path);
	size_t i;

	REQUIRE(fd >= 0);
	close(fd);
	cfg.swap_path = path;
	REQUIRE(umm_system_create(&cfg, &s) == 0);
	unlink(path);
	vmscan_set_kswapd(s, false);
	REQUIRE(umm_mm_create(s, &m) == 0);
	hot = map_anon(m, AGE_PAGES * PS);
	cold = map_anon(m, AGE_PAGES * PS);
	ballast = map_anon(m, AGE_BALLAST * PS);
	touch(m, hot, AGE_PAGES * PS);
	touch(m, cold, AGE_PAGES * PS);
	ag.hot_start = hot;
	ag.hot_end = hot + AGE_PAGES * PS;
	REQUIRE(umm_mmu_notifier_register(m, &ag.mn) == 0);
	CHECK_EQ(umm_madvise(m, cold, AGE_PAGES * PS, MADV_COLD), 0);
	CHECK_EQ(umm_madvise(m, hot, AGE_PAGES * PS, MADV_COLD), 0);
	CHECK_EQ(resident(m, hot, AGE_PAGES) + resident(m, cold, AGE_PAGES), 2 * AGE_PAGES);
	/* pressure until half a region's worth of HOT + COLD is gone */
	for (i = 0; i < AGE_BALLAST; i++) {
		touch(m, ballast + i * PS, PS);
		if (i % 8 == 7 && resident(m, hot, AGE_PAGES) + resident(m, cold, AGE_PAGES) <= 3 * AGE_PAGES / 2)
			break;
	}
	CHECK(i < AGE_BALLAST);
	CHECK(atomic_load(&ag.asked) > 0);
	CHECK(keep_hot ? atomic_load(&ag.said_young) > 0 : atomic_load(&ag.said_young) == 0);
	hot_left = resident(m, hot, AGE_PAGES);
	*cold_left = resident(m, cold, AGE_PAGES);
	CHECK_EQ(umm_mmu_notifier_unregister(m, &ag.mn), 0);
	umm_mm_destroy(m);
	CHECK_EQ(umm_system_destroy(s), 0);
	return hot_left;
}

static void test_notifier_young_changes_reclaim(void)
{
	long hot, cold;

	/* the notifier says HOT was used: COLD goes, HOT stays */
	hot = aging_run(true, &cold);
	fprintf(stderr, "  notifier says hot young: %ld hot, %ld cold pages resident\n", hot, cold);
	CHECK_EQ(hot, AGE_PAGES);
	CHECK(cold <= AGE_PAGES / 2);
	/* control: it says old everywhere, and HOT (scanned first) goes first */
	hot = aging_run(false, &cold);
	fprintf(stderr, "  notifier says all old:   %ld hot, %ld cold pages resident\n", hot, cold);
	CHECK(hot < AGE_PAGES);
	CHECK(hot < cold);
}

/* ---- debug builds: a callback may not call back into its own mm ---- */

#if UMM_DEBUG && !TSAN_BUILD
static struct umm_mm *reentry_mm;
static uintptr_t reentry_addr;

static void reentering_start(struct umm_mmu_notifier *mn, const struct umm_mmu_range *r)
{
	(void)mn; (void)r;
	(void)umm_munmap(reentry_mm, reentry_addr, PS);        /* forbidden */
}

static const struct umm_mmu_notifier_ops reentering_ops = { .invalidate_range_start = reentering_start };

static void test_callback_reentry_detected(void)
{
	pid_t pid = fork();
	int status;

	REQUIRE(pid >= 0);
	if (pid == 0) {
		struct umm_system *s = test_sys_create(16UL << 20, 0);
		struct umm_mmu_notifier mn = { .ops = &reentering_ops };

		freopen("/dev/null", "w", stderr);
		if (umm_mm_create(s, &reentry_mm))
			_exit(2);
		reentry_addr = map_anon(reentry_mm, 2 * PS);
		if (umm_mmu_notifier_register(reentry_mm, &mn))
			_exit(2);
		(void)umm_mprotect(reentry_mm, reentry_addr + PS, PS, PROT_READ);
		_exit(0);       /* not stopped: the check failed */
	}
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
}
#endif

int main(void)
{
	RUN(test_bad_args);
	RUN(test_wrong_mm_calls_keep_registration);
	RUN(test_events_anon);
	RUN(test_events_file);
	RUN(test_many_notifiers);
	RUN(test_register_unregister_under_load);
	RUN(test_release_once_racing_destroy);
	RUN(test_register_while_faulting);
	RUN(test_interval_seq_race);
	RUN(test_rmap_notifier_truncate);
	RUN(test_rmap_notifier_bad_args_keep_registration);
	RUN(test_page_referenced_young);
	RUN(test_notifier_young_changes_reclaim);
#if UMM_DEBUG && !TSAN_BUILD
	RUN(test_callback_reentry_detected);
#endif
	return test_summary("test_mmu_notifier");
}
