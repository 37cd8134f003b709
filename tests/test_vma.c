/* SPDX-License-Identifier: MIT */
/*
 * test_vma.c - the VMA tree against a reference model.
 *
 * The environment is built by hand: a struct umm_system with a physical
 * arena and a "vma" slab cache, and struct umm_mm's with just the tree
 * fields set.  The reference model is a sorted array of (start, end, vma);
 * lookups, iteration, counters and the largest gap are compared with it
 * after random operations, and vma_tree_check() must pass after each one.
 * The placement search is compared with a brute-force scan of the gaps.
 * Failure injection (phys->fail_alloc) checks that a split that cannot
 * allocate changes nothing; a reader/writer test checks that the
 * per-thread lookup cache never hands out a stale VMA.  The seed is
 * printed (VMA_SEED=<n> replays).
 */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include "test.h"
#include "vma.h"
#include "filemap.h"

#define PG PAGE_SIZE

static struct umm_system *sys;
static uint64_t next_mm_id = 1000;
static uint64_t rng_state;

static uint64_t rnd(void)
{
	return test_rnd(&rng_state);
}

static uint64_t rnd_range(uint64_t lo, uint64_t hi)   /* [lo, hi] */
{
	return lo + rnd() % (hi - lo + 1);
}

static double now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- fake environment ---- */
static void env_create(void)
{
	sys = calloc(1, sizeof(*sys));
	REQUIRE(sys);
	REQUIRE(phys_create(64UL << 20, NULL, &sys->phys) == 0);
	sys->vma_cache = kmem_cache_create(sys->phys, "vma", sizeof(struct vm_area_struct), 0);
	REQUIRE(sys->vma_cache);
}

static void env_destroy(void)
{
	CHECK_EQ(atomic_load(&sys->nr_objects), 0);
	CHECK_EQ(kmem_cache_destroy(sys->vma_cache), 0);
	phys_destroy(sys->phys);
	free(sys);
}

static struct umm_mm *mm_new(void)
{
	struct umm_mm *mm = aligned_alloc(64, ALIGN_UP(sizeof(*mm), 64));

	REQUIRE(mm);
	memset(mm, 0, sizeof(*mm));
	mm->sys = sys;
	mm->id = next_mm_id++;
	mm->mm_rb = RB_ROOT;
	mm->mmap_base = UMM_TASK_SIZE;
	percpu_init_rwsem(&mm->mmap_lock);
	return mm;
}

static void mm_free(struct umm_mm *mm)
{
	struct vm_area_struct *vma;

	while ((vma = vma_first(mm))) {
		vma_unlink(mm, vma);
		vma_free(vma);
	}
	CHECK_EQ(mm->map_count, 0);
	CHECK_EQ(mm->total_vm, 0);
	percpu_free_rwsem(&mm->mmap_lock);
	free(mm);
}

static struct umm_object *obj_new(void)
{
	struct umm_object *obj;

	REQUIRE(object_alloc(sys, OBJ_SHMEM, &obj) == 0);
	return obj;
}

static int obj_refs(struct umm_object *obj) { return atomic_load(&obj->refcount); }

static int obj_nr_mapped(struct umm_object *obj)
{
	struct list_head *p;
	int n = 0;

	pthread_mutex_lock(&obj->i_mmap_lock);
	list_for_each(p, &obj->i_mmap)
		n++;
	pthread_mutex_unlock(&obj->i_mmap_lock);
	return n;
}

/* vma_make - an unlinked VMA; file VMAs take their own object reference. */
static struct vm_area_struct *vma_make(struct umm_mm *mm, uintptr_t start, uintptr_t end,
				       unsigned long flags, struct umm_object *obj, uint64_t pgoff)
{
	struct vm_area_struct *vma = vma_alloc(mm);

	REQUIRE(vma);
	vma->vm_start = start;
	vma->vm_end = end;
	vma->vm_flags = flags;
	vma->vm_obj = obj;
	vma->vm_pgoff = obj ? pgoff : start >> PAGE_SHIFT;
	if (obj)
		object_get(obj);
	return vma;
}

static struct vm_area_struct *map_anon(struct umm_mm *mm, uintptr_t start, uintptr_t end)
{
	struct vm_area_struct *vma = vma_make(mm, start, end, VM_READ | VM_WRITE, NULL, 0);

	vma_link(mm, vma);
	return vma;
}

static struct vm_area_struct *vma_last(struct umm_mm *mm)
{
	struct rb_node *n = rb_last(&mm->mm_rb);
	return n ? rb_entry(n, struct vm_area_struct, vm_rb) : NULL;
}

static uintptr_t mm_root_gap(struct umm_mm *mm)
{
	struct rb_node *n = mm->mm_rb.rb_node;
	return n ? rb_entry(n, struct vm_area_struct, vm_rb)->rb_subtree_gap : 0;
}

/* ---- reference model ---- */
struct ref { uintptr_t start, end; struct vm_area_struct *vma; };
struct model {
	struct umm_mm *mm;
	struct ref *r;
	size_t n, cap;
};

/* model_find - index of the first entry with end > addr (n if none). */
static size_t model_find(const struct model *m, uintptr_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (m->r[mid].end > addr)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static bool model_free(const struct model *m, uintptr_t start, uintptr_t end)
{
	size_t i = model_find(m, start);
	return i == m->n || m->r[i].start >= end;
}

/* model_add_ref - record that [start, end) is expected to be vma. */
static void model_add_ref(struct model *m, uintptr_t start, uintptr_t end, struct vm_area_struct *vma)
{
	size_t i = model_find(m, start);

	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 64;
		m->r = realloc(m->r, m->cap * sizeof(*m->r));
		REQUIRE(m->r);
	}
	memmove(&m->r[i + 1], &m->r[i], (m->n - i) * sizeof(*m->r));
	m->r[i] = (struct ref){ start, end, vma };
	m->n++;
}

static void model_add(struct model *m, struct vm_area_struct *vma)
{
	model_add_ref(m, vma->vm_start, vma->vm_end, vma);
}

static void model_del(struct model *m, size_t i)
{
	memmove(&m->r[i], &m->r[i + 1], (m->n - i - 1) * sizeof(*m->r));
	m->n--;
}

/* model_max_gap - the largest gap below any VMA (what the root's rb_subtree_gap must be). */
static uintptr_t model_max_gap(const struct model *m)
{
	uintptr_t prev_end = UMM_MMAP_MIN_ADDR, best = 0;

	for (size_t i = 0; i < m->n; i++) {
		if (m->r[i].start > prev_end)
			best = MAX(best, m->r[i].start - prev_end);
		prev_end = m->r[i].end;
	}
	return best;
}

/* model_verify - the whole tree against the model.  0 or -1 (reports once). */
static int model_verify(const struct model *m)
{
	struct umm_mm *mm = m->mm;
	struct vm_area_struct *vma = vma_first(mm);
	unsigned long pages = 0;
	size_t i;

	for (i = 0; i < m->n; i++, vma = vma_next(vma)) {
		if (vma != m->r[i].vma || vma->vm_start != m->r[i].start || vma->vm_end != m->r[i].end) {
			fprintf(stderr, "model: entry %zu differs\n", i);
			return -1;
		}
		pages += (m->r[i].end - m->r[i].start) / PG;
	}
	if (vma) {
		fprintf(stderr, "model: tree has more vmas than the model\n");
		return -1;
	}
	vma = m->n ? vma_last(mm) : NULL;
	for (i = m->n; i-- > 0; vma = vma_prev(vma))
		if (vma != m->r[i].vma) {
			fprintf(stderr, "model: backward walk differs at %zu\n", i);
			return -1;
		}
	if (mm->map_count != m->n || mm->total_vm != pages) {
		fprintf(stderr, "model: counters differ\n");
		return -1;
	}
	if (m->n && mm_root_gap(mm) != model_max_gap(m)) {
		fprintf(stderr, "model: root gap %#lx, model %#lx\n", (unsigned long)mm_root_gap(mm),
			(unsigned long)model_max_gap(m));
		return -1;
	}
	return vma_tree_check(mm) ? -1 : 0;
}

/* model_check_lookups - find_vma & co. at random and boundary addresses. */
static int model_check_lookups(const struct model *m, int nr)
{
	struct umm_mm *mm = m->mm;
	uintptr_t lo = m->n ? m->r[0].start : UMM_MMAP_MIN_ADDR;
	uintptr_t hi = m->n ? m->r[m->n - 1].end : UMM_MMAP_MIN_ADDR + PG;

	for (int k = 0; k < nr; k++) {
		uintptr_t addr;
		if (m->n && k % 3 == 0) {
			const struct ref *r = &m->r[rnd() % m->n];
			addr = k % 2 ? r->start : r->end - 1 + (rnd() % 2);  /* edges */
		} else {
			addr = rnd_range(lo - MIN(lo, 4 * PG), hi + 4 * PG);
		}
		size_t i = model_find(m, addr);
		struct vm_area_struct *want = i < m->n ? m->r[i].vma : NULL;
		struct vm_area_struct *want_prev = i > 0 ? m->r[i - 1].vma : NULL, *prev = (void *)1;
		/* twice: the second one may come from the per-thread cache */
		if (find_vma(mm, addr) != want || find_vma(mm, addr) != want)
			return fprintf(stderr, "find_vma(%#lx) wrong\n", (unsigned long)addr), -1;
		if (find_vma_prev(mm, addr, &prev) != want || prev != want_prev)
			return fprintf(stderr, "find_vma_prev(%#lx) wrong\n", (unsigned long)addr), -1;
		uintptr_t end = addr + rnd_range(1, 6) * PG;
		struct vm_area_struct *isect = want && want->vm_start < end ? want : NULL;
		if (find_vma_intersection(mm, addr, end) != isect)
			return fprintf(stderr, "find_vma_intersection wrong\n"), -1;
		if (range_is_free(mm, addr, end) != model_free(m, addr, end))
			return fprintf(stderr, "range_is_free wrong\n"), -1;
	}
	return 0;
}

/* ---- tests ---- */

static void test_empty_mm(void)
{
	struct umm_mm *mm = mm_new();
	struct vm_area_struct *prev = (void *)1;
	uintptr_t a = 0;

	CHECK(find_vma(mm, 0) == NULL);
	CHECK(find_vma(mm, UMM_TASK_SIZE - 1) == NULL);
	CHECK(find_vma_prev(mm, 0x100000, &prev) == NULL);
	CHECK(prev == NULL);
	CHECK(find_vma_prev(mm, 0x100000, NULL) == NULL);
	CHECK(vma_first(mm) == NULL);
	CHECK(range_is_free(mm, UMM_MMAP_MIN_ADDR, UMM_TASK_SIZE));
	CHECK_EQ(vma_tree_check(mm), 0);
	CHECK_EQ(get_unmapped_area(mm, 0, PG, &a), 0);
	CHECK_EQ(a, UMM_TASK_SIZE - PG);
	mm->mmap_base = 0x40000000;
	CHECK_EQ(get_unmapped_area(mm, 0, 16 * PG, &a), 0);
	CHECK_EQ(a, 0x40000000 - 16 * PG);
	mm->mmap_base = 0;            /* 0 means the top of the address space */
	CHECK_EQ(get_unmapped_area(mm, 0, 16 * PG, &a), 0);
	CHECK_EQ(a, UMM_TASK_SIZE - 16 * PG);
	/* the whole usable range fits exactly once */
	CHECK_EQ(get_unmapped_area(mm, 0, UMM_TASK_SIZE - UMM_MMAP_MIN_ADDR, &a), 0);
	CHECK_EQ(a, UMM_MMAP_MIN_ADDR);
	mm_free(mm);
}

static void test_bad_inputs(void)
{
	struct umm_mm *mm = mm_new(), *other = mm_new();
	struct vm_area_struct *v = map_anon(mm, 0x100000, 0x108000);
	struct vm_area_struct *w = map_anon(other, 0x100000, 0x108000);
	uintptr_t a = 12345;

	/* get_unmapped_area */
	CHECK_EQ(get_unmapped_area(mm, 0, 0, &a), -EINVAL);
	CHECK_EQ(get_unmapped_area(mm, 0, PG + 1, &a), -EINVAL);
	CHECK_EQ(get_unmapped_area(mm, 0, 100, &a), -EINVAL);
	CHECK_EQ(get_unmapped_area(mm, 0, PG, NULL), -EINVAL);
	CHECK_EQ(get_unmapped_area(NULL, 0, PG, &a), -EINVAL);
	CHECK_EQ(get_unmapped_area(mm, 0, UMM_TASK_SIZE, &a), -ENOMEM);
	CHECK_EQ(get_unmapped_area(mm, 0, ALIGN_DOWN(SIZE_MAX, PG), &a), -ENOMEM);
	CHECK_EQ(get_unmapped_area(mm, 0x200000, UMM_TASK_SIZE - UMM_MMAP_MIN_ADDR + PG, &a), -ENOMEM);
	CHECK_EQ(a, 12345);           /* untouched on error */
	mm->mmap_base = UMM_MMAP_MIN_ADDR + PG;  /* nothing fits below the base: the gap above it */
	CHECK_EQ(get_unmapped_area(mm, 0, 2 * PG, &a), 0);
	CHECK(a > UMM_MMAP_MIN_ADDR + PG && a + 2 * PG <= UMM_TASK_SIZE);
	mm->mmap_base = UMM_TASK_SIZE;

	/* split_vma: addresses not strictly inside, unaligned, wrong mm */
	CHECK_EQ(split_vma(mm, v, 0x100000, 0), -EINVAL);
	CHECK_EQ(split_vma(mm, v, 0x108000, 1), -EINVAL);
	CHECK_EQ(split_vma(mm, v, 0x109000, 0), -EINVAL);
	CHECK_EQ(split_vma(mm, v, 0x0ff000, 0), -EINVAL);
	CHECK_EQ(split_vma(mm, v, 0x104001, 0), -EINVAL);
	CHECK_EQ(split_vma(mm, w, 0x104000, 0), -EINVAL);
	CHECK_EQ(split_vma(mm, NULL, 0x104000, 0), -EINVAL);
	CHECK_EQ(split_vma(NULL, v, 0x104000, 0), -EINVAL);
	CHECK(v->vm_start == 0x100000 && v->vm_end == 0x108000 && v->vm_pgoff == 0x100);
	CHECK_EQ(mm->map_count, 1);
	CHECK_EQ(mm->total_vm, 8);
	CHECK_EQ(vma_tree_check(mm), 0);

	/* empty and inverted ranges */
	CHECK(find_vma_intersection(mm, 0x104000, 0x104000) == NULL);
	CHECK(find_vma_intersection(mm, 0x105000, 0x104000) == NULL);
	CHECK(range_is_free(mm, 0x104000, 0x104000));
	CHECK(!range_is_free(mm, 0x107000, 0x109000));
	CHECK(range_is_free(mm, 0x108000, 0x109000));
	CHECK(range_is_free(mm, 0x0f0000, 0x100000));

	/* merge helpers on NULL / self */
	CHECK(!vma_can_merge(NULL, v));
	CHECK(!vma_can_merge(v, NULL));
	CHECK(!vma_can_merge(v, v));
	CHECK(vma_try_merge(mm, v) == v);
	vma_free(NULL);
	mm_free(mm);
	mm_free(other);
}

#if UMM_DEBUG
/*
 * dies - run fn in a child; true if it aborted (a VM_BUG_ON fired).  The
 * arena is a MAP_SHARED memfd, so the child must not allocate or write
 * slab objects: that memory is the parent's too.
 */
static bool dies(void (*fn)(struct umm_mm *), struct umm_mm *mm)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		freopen("/dev/null", "w", stderr);
		fn(mm);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void link_overlapping(struct umm_mm *mm)
{
	struct vm_area_struct v = { .vm_mm = mm, .vm_start = 0x107000, .vm_end = 0x10a000 };

	INIT_LIST_HEAD(&v.obj_link);
	vma_link(mm, &v);
}

static void adjust_over_next(struct umm_mm *mm)
{
	struct vm_area_struct *v = vma_first(mm);
	vma_adjust(mm, v, v->vm_start, vma_next(v)->vm_start + PG, v->vm_pgoff);
}

static void adjust_inverted(struct umm_mm *mm)
{
	struct vm_area_struct *v = vma_first(mm);
	vma_adjust(mm, v, v->vm_end, v->vm_start, v->vm_pgoff);
}

/* The void mutators have no errno: misuse must stop a debug build. */
static void test_misuse_caught(void)
{
	struct umm_mm *mm = mm_new();

	map_anon(mm, 0x100000, 0x108000);
	map_anon(mm, 0x200000, 0x208000);
	CHECK(dies(link_overlapping, mm));
	CHECK(dies(adjust_over_next, mm));
	CHECK(dies(adjust_inverted, mm));
	CHECK_EQ(vma_tree_check(mm), 0);
	mm_free(mm);
}
#endif

static void test_alloc_dup_free(void)
{
	struct umm_mm *mm = mm_new(), *mm2 = mm_new();
	struct umm_object *obj = obj_new();
	struct vm_area_struct *v = vma_alloc(mm);

	REQUIRE(v);
	CHECK(v->vm_mm == mm);
	CHECK(v->vm_start == 0 && v->vm_end == 0 && v->vm_flags == 0 && v->vm_obj == NULL);
	CHECK(list_empty(&v->obj_link));
	vma_free(v);

	v = vma_make(mm, 0x300000, 0x304000, VM_READ | VM_SHARED, obj, 7);
	v->anon_vma = (void *)0x1234;
	vma_link(mm, v);
	CHECK_EQ(obj_refs(obj), 2);
	CHECK_EQ(obj_nr_mapped(obj), 1);
	struct vm_area_struct *c = vma_dup(mm2, v);
	REQUIRE(c);
	CHECK(c != v && c->vm_mm == mm2);
	CHECK(c->vm_start == v->vm_start && c->vm_end == v->vm_end && c->vm_flags == v->vm_flags);
	CHECK(c->vm_obj == obj && c->vm_pgoff == 7 && c->anon_vma == v->anon_vma);
	CHECK(list_empty(&c->obj_link));          /* not linked */
	CHECK_EQ(obj_refs(obj), 3);
	CHECK_EQ(obj_nr_mapped(obj), 1);
	CHECK_EQ(mm2->map_count, 0);
	vma_link(mm2, c);
	CHECK_EQ(obj_nr_mapped(obj), 2);
	CHECK(find_vma(mm2, 0x300000) == c);
	CHECK(find_vma(mm, 0x300000) == v);
	vma_unlink(mm2, c);
	CHECK_EQ(obj_nr_mapped(obj), 1);
	vma_free(c);
	CHECK_EQ(obj_refs(obj), 2);
	v->anon_vma = NULL;
	mm_free(mm);
	mm_free(mm2);
	CHECK_EQ(obj_refs(obj), 1);
	object_put(obj);
}

/* random_free_range - a random free range of 1..8 pages in the test window, or 0. */
static uintptr_t random_free_range(const struct model *m, uintptr_t base, unsigned long window_pages,
				   uintptr_t *end)
{
	for (int tries = 0; tries < 20; tries++) {
		uintptr_t s = base + rnd() % window_pages * PG;
		uintptr_t e = s + rnd_range(1, 8) * PG;
		if (model_free(m, s, e)) {
			*end = e;
			return s;
		}
	}
	return 0;
}

/* random_split - split entry i at a random page; the model predicts both halves. */
static void random_split(struct model *m, size_t i)
{
	struct vm_area_struct *v = m->r[i].vma;
	uintptr_t s0 = v->vm_start, e0 = v->vm_end;
	uintptr_t at = s0 + rnd_range(1, vma_pages(v) - 1) * PG;
	uint64_t pgoff = v->vm_pgoff;
	int below = (int)(rnd() % 2);

	REQUIRE(split_vma(m->mm, v, at, below) == 0);
	struct vm_area_struct *other = below ? vma_prev(v) : vma_next(v);
	struct vm_area_struct *lower = below ? other : v, *upper = below ? v : other;
	REQUIRE(other && other != v);
	CHECK(lower->vm_start == s0 && lower->vm_end == at && lower->vm_pgoff == pgoff);
	CHECK(upper->vm_start == at && upper->vm_end == e0 && upper->vm_pgoff == pgoff + (at - s0) / PG);
	m->r[i].start = below ? at : s0;
	m->r[i].end = below ? e0 : at;
	model_add_ref(m, below ? s0 : at, below ? at : e0, other);
}

/* same_kind - the merge oracle: written from the rule, not from vma.c. */
static bool same_kind(const struct vm_area_struct *a, const struct vm_area_struct *b)
{
	return a->vm_end == b->vm_start && a->vm_flags == b->vm_flags && a->vm_obj == b->vm_obj &&
	       a->anon_vma == b->anon_vma && a->vm_pgoff + (a->vm_end - a->vm_start) / PG == b->vm_pgoff;
}

/* random_merge - vma_try_merge on entry i; the model predicts the survivor's range. */
static void random_merge(struct model *m, size_t i)
{
	struct vm_area_struct *v = m->r[i].vma;
	bool with_prev = i > 0 && same_kind(m->r[i - 1].vma, v);
	bool with_next = i + 1 < m->n && same_kind(v, m->r[i + 1].vma);
	size_t first = with_prev ? i - 1 : i, last = with_next ? i + 1 : i;
	struct ref want = { m->r[first].start, m->r[last].end, m->r[first].vma };

	struct vm_area_struct *keep = vma_try_merge(m->mm, v);
	CHECK(keep == want.vma);
	for (size_t k = last + 1; k-- > first;)
		model_del(m, k);
	model_add_ref(m, want.start, want.end, want.vma);
}

/* One random mutation of (tree, model): link, unlink, adjust, split or merge. */
static void random_step(struct model *m, uintptr_t base, unsigned long window_pages,
			struct umm_object *obj)
{
	unsigned int op = (unsigned int)(rnd() % 10);
	uintptr_t s, e;

	if (op < 4 || m->n == 0) {
		s = random_free_range(m, base, window_pages, &e);
		if (!s)
			return;
		struct vm_area_struct *v = rnd() % 4 == 0 ?
			vma_make(m->mm, s, e, VM_READ | VM_SHARED, obj, rnd() % 64) :
			vma_make(m->mm, s, e, VM_READ | VM_WRITE, NULL, 0);
		vma_link(m->mm, v);
		model_add(m, v);
		return;
	}
	size_t i = rnd() % m->n;
	struct vm_area_struct *v = m->r[i].vma;
	if (op < 7) {
		vma_unlink(m->mm, v);
		vma_free(v);
		model_del(m, i);
	} else if (op < 8) {
		/* grow or shrink either end, within the neighbours */
		uintptr_t lo = i ? m->r[i - 1].end : base;
		uintptr_t hi = i + 1 < m->n ? m->r[i + 1].start : base + window_pages * PG;
		hi = MAX(hi, v->vm_end);   /* a vma may have been created past the window */
		s = rnd_range(lo / PG, v->vm_end / PG - 1) * PG;
		e = rnd_range(s / PG + 1, hi / PG) * PG;
		vma_adjust(m->mm, v, s, e, v->vm_pgoff);
		m->r[i].start = s;
		m->r[i].end = e;
	} else if (op < 9 && vma_pages(v) > 1) {
		random_split(m, i);
	} else {
		random_merge(m, i);
	}
}

static void test_random_model(void)
{
	struct model m = { .mm = mm_new() };
	struct umm_object *obj = obj_new();
	const uintptr_t base = 0x10000000;
	int bad = 0;

	for (int step = 0; step < 4000 && !bad; step++) {
		random_step(&m, base, 2048, obj);
		if (model_verify(&m) || model_check_lookups(&m, 8))
			bad = 1;
	}
	CHECK(!bad);
	CHECK(m.n > 50);
	/* every file vma, and only those, are on the object's i_mmap */
	int nr_file = 0;
	for (size_t i = 0; i < m.n; i++)
		nr_file += m.r[i].vma->vm_obj == obj;
	CHECK_EQ(obj_nr_mapped(obj), nr_file);
	CHECK_EQ(obj_refs(obj), 1 + nr_file);
	mm_free(m.mm);
	free(m.r);
	CHECK_EQ(obj_nr_mapped(obj), 0);
	CHECK_EQ(obj_refs(obj), 1);
	object_put(obj);
}

/* vma_adjust moves gaps on both sides and the cache must follow. */
static void test_adjust(void)
{
	struct model m = { .mm = mm_new() };
	struct umm_mm *mm = m.mm;
	struct vm_area_struct *a = map_anon(mm, 0x20000, 0x24000);
	struct vm_area_struct *b = map_anon(mm, 0x30000, 0x34000);
	struct vm_area_struct *c = map_anon(mm, 0x40000, 0x44000);

	model_add(&m, a);
	model_add(&m, b);
	model_add(&m, c);
	CHECK_EQ(model_verify(&m), 0);
	CHECK_EQ(mm_root_gap(mm), 0x10000);               /* below a: from UMM_MMAP_MIN_ADDR */
	CHECK(find_vma(mm, 0x33000) == b);                /* now cached */
	vma_adjust(mm, b, 0x28000, 0x32000, 0x28);        /* both ends move down */
	m.r[1].start = 0x28000;
	m.r[1].end = 0x32000;
	CHECK(find_vma(mm, 0x33000) == c);                /* not the stale hit */
	CHECK(find_vma(mm, 0x28000) == b);
	CHECK(find_vma(mm, 0x27fff) == b);
	CHECK(find_vma(mm, 0x23fff) == a);
	CHECK_EQ(mm->total_vm, 4 + 10 + 4);
	CHECK_EQ(b->vm_pgoff, 0x28);
	CHECK_EQ(model_verify(&m), 0);
	CHECK_EQ(mm_root_gap(mm), 0x10000);
	vma_adjust(mm, a, 0x1f000, 0x21000, 0x1f);        /* the first gap shrinks, the next grows */
	m.r[0].start = 0x1f000;
	m.r[0].end = 0x21000;
	CHECK_EQ(model_verify(&m), 0);
	CHECK_EQ(mm_root_gap(mm), 0xf000);                /* between b and c now */
	vma_adjust(mm, b, 0x21000, 0x40000, 0x21);        /* fill both of b's gaps */
	m.r[1].start = 0x21000;
	m.r[1].end = 0x40000;
	CHECK_EQ(model_verify(&m), 0);
	CHECK_EQ(mm_root_gap(mm), 0xf000);                /* only the one below a is left */
	CHECK(range_is_free(mm, 0x44000, 0x200000));
	CHECK(!range_is_free(mm, 0x1f000, 0x44000));
	CHECK_EQ(mm->total_vm, 2 + 0x1f + 4);
	vma_adjust(mm, c, 0x40000, 0x50000, 0x40);        /* growing the last one: no successor */
	m.r[2].end = 0x50000;
	CHECK_EQ(model_verify(&m), 0);
	mm_free(mm);
	free(m.r);
}

/*
 * Split an 8-page VMA at every interior page, both ways, for an anon and a
 * file VMA, alone and between neighbours; then merge the halves back.
 */
static void split_one_layout(bool neighbours, struct umm_object *obj)
{
	const uintptr_t s0 = 0x400000, e0 = s0 + 8 * PG;
	int bad = 0;

	for (unsigned int k = 1; k < 8; k++) {
		for (int below = 0; below < 2; below++) {
			struct model m = { .mm = mm_new() };
			if (neighbours) {
				model_add(&m, map_anon(m.mm, s0 - 3 * PG, s0 - 2 * PG));
				model_add(&m, map_anon(m.mm, e0 + 5 * PG, e0 + 6 * PG));
			}
			struct vm_area_struct *v = vma_make(m.mm, s0, e0, VM_READ | VM_EXEC, obj, 100);
			vma_link(m.mm, v);
			uint64_t pg0 = v->vm_pgoff;
			int refs = obj ? obj_refs(obj) : 0;
			uintptr_t at = s0 + k * PG;

			CHECK_EQ(split_vma(m.mm, v, at, below), 0);
			struct vm_area_struct *lo = find_vma(m.mm, s0), *hi = find_vma(m.mm, at);
			CHECK(lo && hi && lo != hi);
			CHECK(below ? hi == v : lo == v);
			CHECK(lo->vm_start == s0 && lo->vm_end == at && lo->vm_pgoff == pg0);
			CHECK(hi->vm_start == at && hi->vm_end == e0 && hi->vm_pgoff == pg0 + k);
			CHECK(lo->vm_flags == hi->vm_flags && lo->vm_obj == obj && hi->vm_obj == obj);
			CHECK(find_vma(m.mm, at - 1) == lo);
			if (obj) {
				CHECK_EQ(obj_refs(obj), refs + 1);
				CHECK_EQ(obj_nr_mapped(obj), 2);
			}
			model_add(&m, lo);
			model_add(&m, hi);
			bad |= model_verify(&m);
			bad |= model_check_lookups(&m, 20);
			/* the halves are compatible again: merging restores one VMA */
			CHECK(vma_can_merge(lo, hi));
			struct vm_area_struct *keep = vma_try_merge(m.mm, below ? hi : lo);
			CHECK(keep == lo);
			CHECK(keep->vm_start == s0 && keep->vm_end == e0 && keep->vm_pgoff == pg0);
			if (obj) {
				CHECK_EQ(obj_refs(obj), refs);
				CHECK_EQ(obj_nr_mapped(obj), 1);
			}
			model_del(&m, model_find(&m, at));
			m.r[model_find(&m, s0)].end = e0;
			bad |= model_verify(&m);
			mm_free(m.mm);
			free(m.r);
		}
	}
	CHECK(!bad);
}

static void test_split_every_position(void)
{
	struct umm_object *obj = obj_new();

	split_one_layout(false, NULL);
	split_one_layout(true, NULL);
	split_one_layout(false, obj);
	split_one_layout(true, obj);
	CHECK_EQ(obj_refs(obj), 1);
	object_put(obj);
}

/* A split of a split: pgoff keeps adding up; the first page's pgoff never moves. */
static void test_split_repeated(void)
{
	struct umm_mm *mm = mm_new();
	struct vm_area_struct *v = map_anon(mm, 0x800000, 0x800000 + 64 * PG);

	for (int i = 63; i > 0; i -= 7)
		CHECK_EQ(split_vma(mm, v, 0x800000 + (uintptr_t)i * PG, 0), 0);
	for (int i = 1; i < 7; i++)
		CHECK_EQ(split_vma(mm, find_vma(mm, 0x800000 + (uintptr_t)i * PG),
				   0x800000 + (uintptr_t)i * PG, 1), 0);
	CHECK_EQ(mm->map_count, 16);
	CHECK_EQ(mm->total_vm, 64);
	for (struct vm_area_struct *x = vma_first(mm); x; x = vma_next(x))
		CHECK_EQ(x->vm_pgoff, x->vm_start >> PAGE_SHIFT);
	CHECK_EQ(vma_tree_check(mm), 0);
	/* and it all merges back, one neighbour pair at a time */
	struct vm_area_struct *x = vma_first(mm);
	while (vma_next(x))
		x = vma_try_merge(mm, vma_next(x));
	CHECK_EQ(mm->map_count, 1);
	CHECK(x->vm_start == 0x800000 && x->vm_end == 0x800000 + 64 * PG && x->vm_pgoff == 0x800);
	CHECK_EQ(vma_tree_check(mm), 0);
	mm_free(mm);
}

static void test_merge(void)
{
	struct umm_mm *mm = mm_new();
	struct umm_object *o1 = obj_new(), *o2 = obj_new();
	const unsigned long rw = VM_READ | VM_WRITE;

	/* anon created side by side: prev + vma + next collapse into prev */
	struct vm_area_struct *a = map_anon(mm, 0x100000, 0x102000);
	struct vm_area_struct *c = map_anon(mm, 0x105000, 0x107000);
	struct vm_area_struct *b = map_anon(mm, 0x102000, 0x105000);
	CHECK(vma_can_merge(a, b) && vma_can_merge(b, c));
	CHECK(!vma_can_merge(b, a));                     /* order matters */
	CHECK(vma_try_merge(mm, b) == a);
	CHECK(a->vm_start == 0x100000 && a->vm_end == 0x107000 && a->vm_pgoff == 0x100);
	CHECK_EQ(mm->map_count, 1);
	CHECK_EQ(mm->total_vm, 7);
	CHECK_EQ(vma_tree_check(mm), 0);
	CHECK(find_vma(mm, 0x106000) == a);

	/* with next only: the vma itself survives */
	struct vm_area_struct *d = map_anon(mm, 0x110000, 0x111000);
	struct vm_area_struct *e = map_anon(mm, 0x111000, 0x113000);
	CHECK(vma_try_merge(mm, d) == d);
	CHECK(d->vm_end == 0x113000 && mm->map_count == 2);
	(void)e;

	/* incompatible neighbours, each by one property */
	struct vm_area_struct *f = vma_make(mm, 0x200000, 0x202000, rw, o1, 10);
	struct vm_area_struct *g = vma_make(mm, 0x202000, 0x204000, rw, o1, 12);
	vma_link(mm, f);
	vma_link(mm, g);
	CHECK(vma_can_merge(f, g));                      /* baseline: compatible */
	g->vm_flags = VM_READ;
	CHECK(!vma_can_merge(f, g));
	g->vm_flags = rw;
	g->vm_pgoff = 13;
	CHECK(!vma_can_merge(f, g));
	g->vm_pgoff = 12;
	f->vm_flags |= VM_NONLINEAR;
	g->vm_flags |= VM_NONLINEAR;
	CHECK(!vma_can_merge(f, g));
	f->vm_flags = g->vm_flags = rw;
	f->anon_vma = (void *)0x10;
	g->anon_vma = (void *)0x20;
	CHECK(!vma_can_merge(f, g));                     /* two different anon_vmas */
	g->anon_vma = NULL;
	CHECK(vma_can_merge(f, g));                      /* one side has none: it adopts */
	f->anon_vma = NULL;
	struct vm_area_struct *h = vma_make(mm, 0x204000, 0x206000, rw, o2, 14);
	vma_link(mm, h);
	CHECK(!vma_can_merge(g, h));                     /* another object */
	struct vm_area_struct *i = map_anon(mm, 0x206000, 0x207000);
	CHECK(!vma_can_merge(h, i));                     /* file vs anon */
	struct vm_area_struct *j = vma_make(mm, 0x208000, 0x209000, rw, NULL, 0);
	j->vm_pgoff = 0x207;                             /* pgoff would fit: only the hole stops it */
	vma_link(mm, j);
	CHECK(!vma_can_merge(i, j));                     /* a hole between them */
	struct vm_area_struct *k = vma_make(mm, 0x209000, 0x20a000, rw, NULL, 0);
	k->vm_pgoff = 0x500;                             /* as if moved here by mremap */
	vma_link(mm, k);
	CHECK(!vma_can_merge(j, k));                     /* anon moved: pgoff not contiguous */
	unsigned long n = mm->map_count;
	CHECK(vma_try_merge(mm, h) == h);
	CHECK(vma_try_merge(mm, i) == i);
	CHECK(vma_try_merge(mm, k) == k);
	CHECK_EQ(mm->map_count, n);
	/* the compatible file pair does merge, dropping one object reference */
	CHECK_EQ(obj_refs(o1), 3);
	CHECK(vma_try_merge(mm, g) == f);
	CHECK(f->vm_end == 0x204000 && f->vm_pgoff == 10);
	CHECK_EQ(obj_refs(o1), 2);
	CHECK_EQ(obj_nr_mapped(o1), 1);
	CHECK_EQ(mm->map_count, n - 1);
	CHECK_EQ(vma_tree_check(mm), 0);
	mm_free(mm);
	object_put(o1);
	object_put(o2);
}

/* ---- placement ---- */

/* brute_top_fit - the highest a with [a, a + len) in a gap below high, by scanning every gap. */
static int brute_top_fit(const struct model *m, uintptr_t high, size_t len, uintptr_t *out)
{
	uintptr_t floor = UMM_MMAP_MIN_ADDR;
	int ret = -ENOMEM;

	for (size_t i = 0; i <= m->n; i++) {
		uintptr_t ceil = i < m->n ? m->r[i].start : UMM_TASK_SIZE;
		uintptr_t top = MIN(ceil, high);
		if (top >= floor && top - floor >= len) {
			*out = top - len;   /* gaps come in address order: the last fit wins */
			ret = 0;
		}
		if (i < m->n)
			floor = MAX(floor, m->r[i].end);
	}
	return ret;
}

/*
 * brute_unmapped - the expected get_unmapped_area(mm, hint, len): the hint
 * if it fits; else, for a multiple of 2 MiB, the highest gap that is
 * 2 MiB - 4 KiB longer than len, whose top - len is rounded down to 2 MiB;
 * else the highest fit; all of it below mmap_base, and when nothing fits
 * there, the same below the top of the address space.
 */
static int brute_unmapped(const struct model *m, uintptr_t mmap_base, uintptr_t hint, size_t len,
			  uintptr_t *out)
{
	uintptr_t high = mmap_base && mmap_base < UMM_TASK_SIZE ? mmap_base : UMM_TASK_SIZE;
	const uintptr_t pmd = 2UL << 20, pad = pmd - PG;
	uintptr_t a;

	if (hint && hint <= UMM_TASK_SIZE - len) {
		uintptr_t h = ALIGN_UP(hint, PG);
		if (h >= UMM_MMAP_MIN_ADDR && h <= UMM_TASK_SIZE - len && model_free(m, h, h + len)) {
			*out = h;
			return 0;
		}
	}
	for (high = ALIGN_DOWN(high, PG);; high = ALIGN_DOWN(UMM_TASK_SIZE, PG)) {
		if (len % pmd == 0 && high >= UMM_MMAP_MIN_ADDR + len + pad &&
		    brute_top_fit(m, high, len + pad, &a) == 0) {
			*out = ALIGN_DOWN(a + pad, pmd);
			return 0;
		}
		if (brute_top_fit(m, high, len, out) == 0)
			return 0;
		if (high >= ALIGN_DOWN(UMM_TASK_SIZE, PG))
			return -ENOMEM;
	}
}

/* check_placement - get_unmapped_area against brute force for one query. */
static int check_placement(const struct model *m, uintptr_t hint, size_t len)
{
	uintptr_t got = 1, want = 2;
	int r1 = get_unmapped_area(m->mm, hint, len, &got);
	int r2 = brute_unmapped(m, m->mm->mmap_base, hint, len, &want);

	if (r1 != r2 || (r1 == 0 && got != want)) {
		fprintf(stderr, "get_unmapped_area(hint %#lx, len %#zx, base %#lx): %d %#lx, expected %d %#lx\n",
			(unsigned long)hint, len, (unsigned long)m->mm->mmap_base, r1, (unsigned long)got,
			r2, (unsigned long)want);
		return -1;
	}
	if (r1 == 0 && !range_is_free(m->mm, got, got + len))
		return fprintf(stderr, "placement overlaps a vma\n"), -1;
	return 0;
}

/* random_layout - n VMAs with random sizes and gaps from base upwards. */
static void random_layout(struct model *m, uintptr_t base, unsigned int n, unsigned int max_gap)
{
	uintptr_t at = base;

	for (unsigned int i = 0; i < n; i++) {
		at += rnd_range(0, max_gap) * PG;
		uintptr_t end = at + rnd_range(1, 4) * PG;
		if (end > UMM_TASK_SIZE)
			break;
		struct vm_area_struct *v = map_anon(m->mm, at, end);
		model_add(m, v);
		at = end;
	}
}

static uintptr_t random_base(const struct model *m)
{
	switch (rnd() % 6) {
	case 0: return 0;
	case 1: return UMM_TASK_SIZE;
	case 2: return UMM_MMAP_MIN_ADDR + rnd_range(0, 8) * PG;
	default: {
		uintptr_t lo = m->n ? m->r[0].start : UMM_MMAP_MIN_ADDR;
		uintptr_t hi = m->n ? m->r[m->n - 1].end : UMM_MMAP_MIN_ADDR + PG;
		return ALIGN_DOWN(rnd_range(lo, MIN(hi + 64 * PG, UMM_TASK_SIZE)), PG);
	}
	}
}

static void test_gap_search_random(void)
{
	int bad = 0;

	for (int layout = 0; layout < 300 && !bad; layout++) {
		struct model m = { .mm = mm_new() };
		uintptr_t base;
		switch (layout % 3) {
		case 0: base = UMM_MMAP_MIN_ADDR; break;                  /* the floor matters */
		case 1: base = UMM_TASK_SIZE - 4096 * PG; break;          /* the ceiling matters */
		default: base = ALIGN_DOWN(rnd_range(UMM_MMAP_MIN_ADDR, UMM_TASK_SIZE / 2), PG); break;
		}
		random_layout(&m, base, (unsigned int)rnd_range(0, 300), (unsigned int)rnd_range(0, 12));
		bad |= model_verify(&m);
		for (int q = 0; q < 60 && !bad; q++) {
			m.mm->mmap_base = random_base(&m);
			size_t len = (rnd() % 8 == 0 ? rnd_range(1, 4096) : rnd_range(1, 16)) * PG;
			if (q % 5 == 4)
				len = rnd_range(1, 8) * 512 * PG;  /* 2 MiB multiples: aligned */
			uintptr_t hint = 0;
			if (q % 3 == 1)
				hint = rnd_range(base - MIN(base, 8 * PG), base + 1024 * PG);
			else if (q % 3 == 2)
				hint = UMM_TASK_SIZE - rnd_range(0, 32) * PG + rnd() % 2;
			bad |= check_placement(&m, hint, len);
		}
		mm_free(m.mm);
		free(m.r);
	}
	CHECK(!bad);
}

/* Placement details that the random test only hits by chance. */
static void test_placement_edges(void)
{
	struct model m = { .mm = mm_new() };
	uintptr_t a;

	/* a vma ending exactly at mmap_base leaves no room directly below the base */
	model_add(&m, map_anon(m.mm, 0x200000, 0x300000));
	m.mm->mmap_base = 0x300000;
	CHECK_EQ(get_unmapped_area(m.mm, 0, PG, &a), 0);
	CHECK_EQ(a, 0x200000 - PG);
	/* mmap_base inside a vma: the gap below that vma */
	m.mm->mmap_base = 0x280000;
	CHECK_EQ(get_unmapped_area(m.mm, 0, PG, &a), 0);
	CHECK_EQ(a, 0x200000 - PG);
	/* mmap_base in a gap: clipped at the base */
	m.mm->mmap_base = 0x380000;
	CHECK_EQ(get_unmapped_area(m.mm, 0, 0x80000, &a), 0);
	CHECK_EQ(a, 0x300000);
	CHECK_EQ(get_unmapped_area(m.mm, 0, 0x81000, &a), 0);
	CHECK_EQ(a, 0x200000 - 0x81000);
	/* the lowest gap is bounded by UMM_MMAP_MIN_ADDR */
	CHECK_EQ(get_unmapped_area(m.mm, 0, 0x200000 - UMM_MMAP_MIN_ADDR, &a), 0);
	CHECK_EQ(a, UMM_MMAP_MIN_ADDR);
	/* one page more fits nowhere below the base: the gap above it, from the top */
	CHECK_EQ(get_unmapped_area(m.mm, 0, 0x200000 - UMM_MMAP_MIN_ADDR + PG, &a), 0);
	CHECK_EQ(a, UMM_TASK_SIZE - (0x200000 - UMM_MMAP_MIN_ADDR + PG));
	/* hints: free -> taken (even above mmap_base), unaligned -> rounded up,
	 * occupied / below the minimum / past the end -> top-down */
	CHECK_EQ(get_unmapped_area(m.mm, 0x500000, 4 * PG, &a), 0);
	CHECK_EQ(a, 0x500000);
	CHECK_EQ(get_unmapped_area(m.mm, 0x500001, 4 * PG, &a), 0);
	CHECK_EQ(a, 0x501000);
	CHECK_EQ(get_unmapped_area(m.mm, 0x2ff000, 2 * PG, &a), 0);
	CHECK_EQ(a, 0x380000 - 2 * PG);
	CHECK_EQ(get_unmapped_area(m.mm, PG, PG, &a), 0);
	CHECK_EQ(a, 0x380000 - PG);
	CHECK_EQ(get_unmapped_area(m.mm, UMM_TASK_SIZE - PG, 2 * PG, &a), 0);
	CHECK_EQ(a, 0x380000 - 2 * PG);
	CHECK_EQ(get_unmapped_area(m.mm, UMM_TASK_SIZE - PG, PG, &a), 0);
	CHECK_EQ(a, UMM_TASK_SIZE - PG);
	CHECK_EQ(get_unmapped_area(m.mm, UINTPTR_MAX - 10, PG, &a), 0);
	CHECK_EQ(a, 0x380000 - PG);
	/* a multiple of 2 MiB goes on a 2 MiB boundary, below an unaligned base too */
	m.mm->mmap_base = 0x10000000 - PG;
	CHECK_EQ(get_unmapped_area(m.mm, 0, 0x400000, &a), 0);
	CHECK_EQ(a, 0x10000000 - 0x600000);
	CHECK_EQ(get_unmapped_area(m.mm, 0, 0x400000 + PG, &a), 0);  /* other lengths do not */
	CHECK_EQ(a, 0x10000000 - PG - 0x400000 - PG);
	/* no gap 2 MiB - 4 KiB longer than len: the highest fit, unaligned */
	m.mm->mmap_base = 0x600000 - PG;                   /* [0x300000, 0x5ff000) is free */
	CHECK_EQ(get_unmapped_area(m.mm, 0, 0x200000, &a), 0);
	CHECK_EQ(a, 0x5ff000 - 0x200000);
	/* nothing changed by any of it */
	CHECK_EQ(model_verify(&m), 0);
	mm_free(m.mm);
	free(m.r);
}

/* ---- scale ---- */

static void test_many_vmas(void)
{
	const unsigned int n = 100000;
	struct model m = { .mm = mm_new() };
	struct vm_area_struct **v = calloc(n, sizeof(*v));
	uintptr_t at = 0x100000000UL, a = 0;
	unsigned int planted = (unsigned int)rnd_range(n / 4, n / 2);
	double t0;
	int bad = 0;

	REQUIRE(v);
	/* layout: gaps of 1..3 pages, one gap of 10 pages before vma `planted` */
	for (unsigned int i = 0; i < n; i++) {
		at += (i == planted ? 10 : rnd_range(1, 3)) * PG;
		v[i] = vma_make(m.mm, at, at + rnd_range(1, 2) * PG, VM_READ, NULL, 0);
		at = v[i]->vm_end;
		model_add(&m, v[i]);   /* ascending: O(1) append */
	}
	for (unsigned int i = n - 1; i > 0; i--) {     /* link in random order */
		unsigned int j = (unsigned int)(rnd() % (i + 1));
		struct vm_area_struct *t = v[i]; v[i] = v[j]; v[j] = t;
	}
	t0 = now_sec();
	for (unsigned int i = 0; i < n; i++)
		vma_link(m.mm, v[i]);
	fprintf(stderr, "  %u vma_link: %.3f s\n", n, now_sec() - t0);
	CHECK_EQ(model_verify(&m), 0);

	t0 = now_sec();
	uintptr_t lo = m.r[0].start, hi = m.r[n - 1].end;
	for (int k = 0; k < 1000000; k++) {
		/* mostly near the previous address, as real access streams are */
		uintptr_t addr = k % 4 ? a + rnd_range(0, 3) * PG : rnd_range(lo, hi);
		a = addr;
		struct vm_area_struct *got = find_vma(m.mm, addr);
		size_t i = model_find(&m, addr);
		if (got != (i < m.n ? m.r[i].vma : NULL))
			bad = 1;
	}
	fprintf(stderr, "  1000000 find_vma on %u vmas (checked): %.3f s\n", n, now_sec() - t0);
	CHECK(!bad);

	/* top-down placement: the only 10-page gap is found, from anywhere above it */
	m.mm->mmap_base = hi;
	CHECK_EQ(get_unmapped_area(m.mm, 0, 10 * PG, &a), 0);
	CHECK_EQ(a, m.r[planted].start - 10 * PG);
	CHECK_EQ(get_unmapped_area(m.mm, 0, 11 * PG, &a), 0);
	CHECK_EQ(a, m.r[0].start - 11 * PG);             /* below everything */
	m.mm->mmap_base = UMM_TASK_SIZE;
	CHECK_EQ(get_unmapped_area(m.mm, 0, 10 * PG, &a), 0);
	CHECK_EQ(a, UMM_TASK_SIZE - 10 * PG);            /* above everything */
	/* a free hint inside the planted gap is honoured; an occupied one is not */
	CHECK_EQ(get_unmapped_area(m.mm, m.r[planted].start - 5 * PG, 3 * PG, &a), 0);
	CHECK_EQ(a, m.r[planted].start - 5 * PG);
	CHECK_EQ(get_unmapped_area(m.mm, m.r[planted].start, PG, &a), 0);
	CHECK_EQ(a, UMM_TASK_SIZE - PG);
	t0 = now_sec();
	for (int q = 0; q < 40 && !bad; q++) {
		m.mm->mmap_base = q % 4 == 0 ? ALIGN_DOWN(rnd_range(lo, hi), PG) : random_base(&m);
		bad |= check_placement(&m, 0, rnd_range(1, 11) * PG);
	}
	fprintf(stderr, "  40 placements checked by brute force: %.3f s\n", now_sec() - t0);
	CHECK(!bad);
	free(v);
	mm_free(m.mm);
	free(m.r);
}

/* ---- the lookup cache ---- */

static void test_vmacache_not_stale(void)
{
	struct umm_mm *mm = mm_new(), *mm2 = mm_new();
	struct vm_area_struct *a = map_anon(mm, 0x500000, 0x501000);

	/* unlink, free, reuse the memory for a different range, look up again */
	CHECK(find_vma(mm, 0x500000) == a);
	CHECK(find_vma(mm, 0x500800) == a);
	vma_unlink(mm, a);
	vma_free(a);
	struct vm_area_struct *b = map_anon(mm, 0x300000, 0x301000);
	fprintf(stderr, "  slab reused the freed vma: %s\n", b == a ? "yes" : "no");
	CHECK(find_vma(mm, 0x500000) == NULL);
	CHECK(find_vma(mm, 0x300000) == b);

	/* unlinked but intact (not freed): its range still matches, the tree does not */
	CHECK(find_vma(mm, 0x300000) == b);
	vma_unlink(mm, b);
	CHECK(find_vma(mm, 0x300000) == NULL);
	vma_link(mm, b);

	/* freed and reused by another mm at the same range, with no lookup in between */
	struct vm_area_struct *x = map_anon(mm, 0x900000, 0x901000);
	CHECK(find_vma(mm, 0x900000) == x);
	vma_unlink(mm, x);
	vma_free(x);
	struct vm_area_struct *y = map_anon(mm2, 0x900000, 0x901000);
	CHECK(find_vma(mm, 0x900000) == NULL);
	CHECK(find_vma(mm2, 0x900000) == y);
	vma_unlink(mm2, y);
	vma_free(y);

	/* unlink and relink the same vma at another range */
	CHECK(find_vma(mm, 0x300000) == b);
	vma_unlink(mm, b);
	b->vm_start = 0x700000;
	b->vm_end = 0x702000;
	vma_link(mm, b);
	CHECK(find_vma(mm, 0x300000) == b);       /* lowest vma ending above: legal answer */
	CHECK(b->vm_start > 0x300000);            /* ...but it does not contain the address */
	CHECK(find_vma_intersection(mm, 0x300000, 0x301000) == NULL);

	/* same address in two mms: the cache is per mm */
	struct vm_area_struct *c = map_anon(mm2, 0x700000, 0x702000);
	for (int i = 0; i < 3; i++) {
		CHECK(find_vma(mm, 0x701000) == b);
		CHECK(find_vma(mm2, 0x701000) == c);
	}
	/* a split moves half of a cached vma to a new one */
	CHECK(find_vma(mm2, 0x701000) == c);
	CHECK_EQ(split_vma(mm2, c, 0x701000, 0), 0);
	struct vm_area_struct *upper = find_vma(mm2, 0x701000);
	CHECK(upper != c && upper && upper->vm_start == 0x701000);
	/* a merge frees the upper half: the cache must not return it */
	CHECK(vma_try_merge(mm2, upper) == c);
	CHECK(find_vma(mm2, 0x701000) == c);
	mm_free(mm);
	mm_free(mm2);
}

/* ---- the checker ---- */

static void expect_caught(struct umm_mm *mm, const char *what)
{
	fprintf(stderr, "  (expected report for %s:) ", what);
	CHECK_EQ(vma_tree_check(mm), -EUCLEAN);
}

static void test_tree_check_catches(void)
{
	struct model m = { .mm = mm_new() };
	struct umm_object *obj = obj_new();

	random_layout(&m, 0x1000000, 60, 3);
	struct vm_area_struct *f = vma_make(m.mm, 0x2000000, 0x2004000, VM_READ, obj, 0);
	vma_link(m.mm, f);
	model_add(&m, f);
	CHECK_EQ(model_verify(&m), 0);
	struct vm_area_struct *v = m.r[30].vma, *next = m.r[31].vma;
	uintptr_t saved = v->vm_end;

	v->vm_end = next->vm_start + PG;                  /* overlap */
	expect_caught(m.mm, "overlap");
	v->vm_end = v->vm_start;                          /* empty */
	expect_caught(m.mm, "empty vma");
	v->vm_end = saved + 1;                            /* unaligned */
	expect_caught(m.mm, "unaligned end");
	v->vm_end = saved;
	CHECK_EQ(vma_tree_check(m.mm), 0);

	v->rb_subtree_gap += PG;
	expect_caught(m.mm, "stale gap");
	v->rb_subtree_gap -= PG;
	v->vm_gap += PG;
	expect_caught(m.mm, "stale cached vm_gap");
	v->vm_gap -= PG;
	m.mm->map_count++;
	expect_caught(m.mm, "map_count");
	m.mm->map_count--;
	m.mm->total_vm--;
	expect_caught(m.mm, "total_vm");
	m.mm->total_vm++;
	struct rb_node *root = m.mm->mm_rb.rb_node;
	root->rb_color = RB_RED;
	expect_caught(m.mm, "red root");
	root->rb_color = RB_BLACK;
	v->vm_mm = NULL;
	expect_caught(m.mm, "foreign vm_mm");
	v->vm_mm = m.mm;
	pthread_mutex_lock(&obj->i_mmap_lock);
	list_del_init(&f->obj_link);
	pthread_mutex_unlock(&obj->i_mmap_lock);
	expect_caught(m.mm, "file vma off i_mmap");
	pthread_mutex_lock(&obj->i_mmap_lock);
	list_add(&f->obj_link, &obj->i_mmap);
	pthread_mutex_unlock(&obj->i_mmap_lock);
	CHECK(v->vm_obj == NULL);
	pthread_mutex_lock(&obj->i_mmap_lock);
	list_add(&v->obj_link, &obj->i_mmap);
	pthread_mutex_unlock(&obj->i_mmap_lock);
	expect_caught(m.mm, "anonymous vma on i_mmap");
	pthread_mutex_lock(&obj->i_mmap_lock);
	list_del_init(&v->obj_link);
	pthread_mutex_unlock(&obj->i_mmap_lock);
	CHECK_EQ(model_verify(&m), 0);
	mm_free(m.mm);
	free(m.r);
	object_put(obj);
}

/* ---- failure injection ---- */

/* fill_slab - allocate every free object of the vma cache, so the next alloc needs a frame. */
static void **fill_slab(size_t *nr)
{
	struct kmem_cache_stats st;
	void **ballast;

	kmem_cache_get_stats(sys->vma_cache, &st);
	*nr = st.slabs * st.objs_per_slab - st.objects_in_use;
	ballast = calloc(*nr + 1, sizeof(*ballast));
	REQUIRE(ballast);
	for (size_t i = 0; i < *nr; i++)
		REQUIRE((ballast[i] = kmem_cache_alloc(sys->vma_cache, 0)));
	return ballast;
}

static void test_split_enomem(void)
{
	struct model m = { .mm = mm_new() };
	struct umm_object *obj = obj_new();
	struct phys_mem *phys = sys->phys;

	random_layout(&m, 0x3000000, 20, 2);
	struct vm_area_struct *f = vma_make(m.mm, 0x4000000, 0x4008000, VM_READ | VM_SHARED, obj, 3);
	vma_link(m.mm, f);
	model_add(&m, f);
	struct vm_area_struct *v = m.r[5].vma;
	uintptr_t vs = v->vm_start, ve = v->vm_end;
	uint64_t vp = v->vm_pgoff;
	unsigned long seq = m.mm->vmacache_seqnum;

	size_t nr;
	void **ballast = fill_slab(&nr);
	fault_inject_arm(&phys->fail_alloc, 0, -1);
	if (vma_pages(v) > 1)
		CHECK_EQ(split_vma(m.mm, v, vs + PG, 0), -ENOMEM);
	for (uintptr_t at = 0x4001000; at < 0x4008000; at += PG) {
		CHECK_EQ(split_vma(m.mm, f, at, 0), -ENOMEM);
		CHECK_EQ(split_vma(m.mm, f, at, 1), -ENOMEM);
	}
	CHECK(atomic_load(&phys->fail_alloc.hits) > 0);
	fault_inject_arm(&phys->fail_alloc, 0, 0);
	/* nothing changed: ranges, pgoffs, counters, object refs, i_mmap, cache epoch */
	CHECK(v->vm_start == vs && v->vm_end == ve && v->vm_pgoff == vp);
	CHECK(f->vm_start == 0x4000000 && f->vm_end == 0x4008000 && f->vm_pgoff == 3);
	CHECK_EQ(obj_refs(obj), 2);
	CHECK_EQ(obj_nr_mapped(obj), 1);
	CHECK_EQ(m.mm->vmacache_seqnum, seq);
	CHECK_EQ(model_verify(&m), 0);
	/* and with memory back, the same split works */
	CHECK_EQ(split_vma(m.mm, f, 0x4003000, 1), 0);
	CHECK_EQ(obj_refs(obj), 3);
	for (size_t i = 0; i < nr; i++)
		kmem_cache_free(sys->vma_cache, ballast[i]);
	free(ballast);
	mm_free(m.mm);
	free(m.r);
	object_put(obj);
}

/* ---- concurrency: readers under mmap_lock(read), one writer under mmap_lock(write) ---- */

#define MT_SLOTS   64
#define MT_REGION  (16 * PG)
#define MT_BASE    0x60000000UL
#define MT_READERS 3
#define MT_WRITES  20000

struct mt_slot { uintptr_t start, end; struct vm_area_struct *vma; };

#define MT_PARKED  8

static struct {
	struct umm_mm *mm;
	struct mt_slot slot[MT_SLOTS];     /* under mm->mmap_lock */
	struct vm_area_struct *parked[MT_PARKED];  /* unlinked, intact, freed later */
	unsigned int nr_parked;
	_Atomic int stop;
	_Atomic int started;             /* readers running */
	_Atomic long lookups, failures;
} mt;

static uint64_t rnd_r(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static void *mt_reader(void *arg)
{
	uint64_t s = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;
	long lookups = 0, failures = 0;
	uintptr_t hot[8] = { 0 };

	atomic_fetch_add(&mt.started, 1);
	do {
		mmap_read_lock(mt.mm);
		for (int k = 0; k < 64; k++) {
			/* half the lookups revisit addresses cached in earlier lock sessions */
			uintptr_t *h = &hot[rnd_r(&s) % 8];
			if (!*h || k % 2)
				*h = MT_BASE - PG + rnd_r(&s) % (MT_SLOTS * MT_REGION + 2 * PG);
			uintptr_t addr = *h;
			struct vm_area_struct *want = NULL;
			for (int i = 0; i < MT_SLOTS && !want; i++)
				if (mt.slot[i].vma && mt.slot[i].end > addr)
					want = mt.slot[i].vma;
			struct vm_area_struct *got = find_vma(mt.mm, addr);
			if (got != want || (got && (got->vm_start != mt.slot[(got->vm_start - MT_BASE) / MT_REGION].start)))
				failures++;
			lookups++;
		}
		mmap_read_unlock(mt.mm);
	} while (!atomic_load(&mt.stop));
	atomic_fetch_add(&mt.lookups, lookups);
	atomic_fetch_add(&mt.failures, failures);
	return NULL;
}

/* mt_write_one - one random change to a churn slot (every 4th slot is stable). */
static void mt_write_one(uint64_t *s)
{
	int i = (int)(rnd_r(s) % MT_SLOTS);
	struct mt_slot *sl = &mt.slot[i];
	uintptr_t region = MT_BASE + (uintptr_t)i * MT_REGION;
	uintptr_t start = region + rnd_r(s) % 8 * PG, end = start + (1 + rnd_r(s) % 8) * PG;

	if (i % 4 == 0)
		return;
	if (!sl->vma) {
		sl->vma = vma_make(mt.mm, start, end, VM_READ, NULL, 0);
		vma_link(mt.mm, sl->vma);
	} else switch (rnd_r(s) % 4) {
	case 0: {     /* unmap: park it intact for a while (a stale hit would match), then free */
		struct vm_area_struct **park = &mt.parked[mt.nr_parked++ % MT_PARKED];
		vma_unlink(mt.mm, sl->vma);
		vma_free(*park);
		*park = sl->vma;
		sl->vma = NULL;
		break;
	}
	case 1:       /* move: same vma, another range */
		vma_unlink(mt.mm, sl->vma);
		sl->vma->vm_start = start;
		sl->vma->vm_end = end;
		vma_link(mt.mm, sl->vma);
		break;
	case 2:
		vma_adjust(mt.mm, sl->vma, start, end, start >> PAGE_SHIFT);
		break;
	default:      /* split and merge back: a short-lived second vma */
		if (vma_pages(sl->vma) > 1) {
			REQUIRE(split_vma(mt.mm, sl->vma, sl->vma->vm_start + PG, 0) == 0);
			REQUIRE(vma_try_merge(mt.mm, vma_next(sl->vma)) == sl->vma);
		}
		break;
	}
	if (sl->vma) {
		sl->start = sl->vma->vm_start;
		sl->end = sl->vma->vm_end;
	}
}

static void test_threads(void)
{
	pthread_t readers[MT_READERS];
	uint64_t s = rnd() | 1;
	double t0 = now_sec();

	memset(&mt, 0, sizeof(mt));
	mt.mm = mm_new();
	/* mmap_lock prefers a waiting writer, so the readers do not starve it */
	for (int i = 0; i < MT_SLOTS; i += 4) {
		uintptr_t start = MT_BASE + (uintptr_t)i * MT_REGION + 2 * PG;
		mt.slot[i] = (struct mt_slot){ start, start + 4 * PG, map_anon(mt.mm, start, start + 4 * PG) };
	}
	for (long i = 0; i < MT_READERS; i++)
		REQUIRE(pthread_create(&readers[i], NULL, mt_reader, (void *)(i + 1)) == 0);
	/* the writes race with lookups: wait until the readers run (a loaded machine starts them late) */
	while (atomic_load(&mt.started) < MT_READERS)
		sched_yield();
	int w;
	for (w = 0; w < MT_WRITES || (now_sec() - t0 < 1.0 && w < 50 * MT_WRITES); w++) {
		mmap_write_lock(mt.mm);
		mt_write_one(&s);
		if (w % 1000 == 0 && vma_tree_check(mt.mm))
			atomic_fetch_add(&mt.failures, 1);
		mmap_write_unlock(mt.mm);
	}
	atomic_store(&mt.stop, 1);
	for (int i = 0; i < MT_READERS; i++)
		pthread_join(readers[i], NULL);
	fprintf(stderr, "  %d writes, %ld checked lookups by %d readers: %.2f s\n", w,
		atomic_load(&mt.lookups), MT_READERS, now_sec() - t0);
	CHECK_EQ(atomic_load(&mt.failures), 0);
	CHECK(atomic_load(&mt.lookups) > 0);
	CHECK_EQ(vma_tree_check(mt.mm), 0);
	for (int i = 0; i < MT_PARKED; i++)
		vma_free(mt.parked[i]);
	mm_free(mt.mm);
}

int main(void)
{
	uint64_t seed = test_seed("test_vma", "VMA_SEED", 7);

	rng_state = seed ? seed : 1;
	env_create();
	RUN(test_empty_mm);
	RUN(test_bad_inputs);
#if UMM_DEBUG
	RUN(test_misuse_caught);
#endif
	RUN(test_alloc_dup_free);
	RUN(test_random_model);
	RUN(test_adjust);
	RUN(test_split_every_position);
	RUN(test_split_repeated);
	RUN(test_merge);
	RUN(test_gap_search_random);
	RUN(test_placement_edges);
	RUN(test_vmacache_not_stale);
	RUN(test_tree_check_catches);
	RUN(test_split_enomem);
	RUN(test_many_vmas);
	RUN(test_threads);
	env_destroy();
	return test_summary("test_vma");
}
