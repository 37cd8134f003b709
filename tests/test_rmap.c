/* SPDX-License-Identifier: MIT */
/*
 * test_rmap.c - the reverse map (rmap.h) under both schemes: every test
 * runs once with pte chains and once object-based (cfg.rmap set
 * explicitly, whatever UMM_RMAP says).
 *
 * A test finds a page through its pte, then asks the reverse map which
 * ptes map it (rmap_walk with a recording callback) and compares with
 * what it built: one mapping (the direct pointer of the pte-chain
 * scheme), many sharers of a shmem page, fork trees five levels deep
 * with copy-on-write in between, mremap of anonymous memory after fork,
 * removal in every order, many small windows over one object (the
 * interval tree of the object scheme), try_to_unmap's three outcomes (SWAP_AGAIN while
 * another thread holds a pte table lock, SWAP_FAIL for a pinned page) and
 * page_referenced across address spaces.  umm_system_check, which makes
 * the reverse map of every mapped frame find exactly its ptes, runs after
 * each step.
 */
#include <pthread.h>
#include <usermm/usermm.h>
#include "test.h"
#include "memory.h"
#include "object.h"
#include "rmap.h"
#include "swap.h"
#include "vma.h"

#define PS 4096UL
#define RW (PROT_READ | PROT_WRITE)

static int scheme;      /* UMM_RMAP_PTE_CHAIN or UMM_RMAP_OBJECT for the running test */

static struct umm_system *new_system(void)
{
	struct umm_config cfg = { .phys_bytes = 64UL << 20, .debug_checks = 1, .rmap = scheme };
	struct umm_system *sys;

	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	return sys;
}

/* new_swap_system - new_system with a swap file (unlinked once open). */
static struct umm_system *new_swap_system(void)
{
	struct umm_config cfg = { .phys_bytes = 64UL << 20, .debug_checks = 1, .rmap = scheme,
				  .swap_bytes = 1 << 20 };
	char path[] = "/tmp/usermm-rmap-swap-XXXXXX";
	struct umm_system *sys;
	int fd = mkstemp(path);

	REQUIRE(fd >= 0);
	close(fd);
	cfg.swap_path = path;
	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	unlink(path);
	return sys;
}

static struct umm_mm *new_mm(struct umm_system *sys)
{
	struct umm_mm *mm;

	REQUIRE(umm_mm_create(sys, &mm) == 0);
	return mm;
}

static uintptr_t map(struct umm_mm *mm, size_t len, int flags, struct umm_object *obj)
{
	uintptr_t addr = 0;

	REQUIRE(umm_mmap(mm, 0, len, RW, flags, obj, 0, &addr) == 0);
	return addr;
}

static void poke(struct umm_mm *mm, uintptr_t addr, unsigned char v)
{
	REQUIRE(umm_write(mm, addr, &v, 1) == 0);
}

static unsigned char peek(struct umm_mm *mm, uintptr_t addr)
{
	unsigned char v = 0;

	REQUIRE(umm_read(mm, addr, &v, 1) == 0);
	return v;
}

static pte_t pte_at(struct umm_mm *mm, uintptr_t addr)
{
	struct fmutex *ptl;
	pte_t *p, v = 0;

	mmap_read_lock(mm);
	p = pte_offset_map_lock(mm, addr, &ptl);
	if (p) {
		v = *p;
		pte_unmap_unlock(p, ptl);
	}
	mmap_read_unlock(mm);
	return v;
}

static struct page *page_at(struct umm_mm *mm, uintptr_t addr)
{
	pte_t pte = pte_at(mm, addr);

	return pte_present(pte) && !pte_special(pte) ? pfn_to_page(mm->sys->phys, pte_pfn(pte)) : NULL;
}

/* ---- recording walk ---- */

#define MAX_FOUND 64

struct found {
	int n;
	struct { struct umm_mm *mm; uintptr_t addr; } at[MAX_FOUND];
};

static int record_one(struct page *page, const struct rmap_pte *rp, void *arg)
{
	struct found *f = arg;

	(void)page;
	if (f->n < MAX_FOUND) {
		f->at[f->n].mm = rp->mm;
		f->at[f->n].addr = rp->address;
	}
	f->n++;
	return RMAP_CONT;
}

/* walk - the (mm, address) pairs the reverse map finds for page (no table lock busy). */
static struct found walk(struct page *page)
{
	struct found f = { 0 };

	lock_page(page);
	CHECK_EQ(rmap_walk(page, record_one, &f, 0), 0);
	unlock_page(page);
	return f;
}

static bool found_has(const struct found *f, struct umm_mm *mm, uintptr_t addr)
{
	for (int i = 0; i < f->n && i < MAX_FOUND; i++)
		if (f->at[i].mm == mm && f->at[i].addr == addr)
			return true;
	return false;
}

static struct umm_sys_stats sstats(struct umm_system *sys)
{
	struct umm_sys_stats st;

	REQUIRE(umm_system_stats(sys, &st) == 0);
	return st;
}

/* ---- tests ---- */

static void test_one_mapping(void)
{
	struct umm_system *sys = new_system();
	struct umm_mm *mm = new_mm(sys);
	uintptr_t a = map(mm, 4 * PS, MAP_PRIVATE | MAP_ANONYMOUS, NULL);
	struct umm_sys_stats st0 = sstats(sys), st;
	struct page *page;
	struct found f;

	CHECK_EQ(st0.rmap, scheme);
	poke(mm, a + PS, 7);
	page = page_at(mm, a + PS);
	REQUIRE(page);
	f = walk(page);
	CHECK_EQ(f.n, 1);
	CHECK(found_has(&f, mm, a + PS));
	st = sstats(sys);
	if (scheme == UMM_RMAP_PTE_CHAIN) {
		CHECK((uintptr_t)page->rmap & PAGE_RMAP_DIRECT);      /* direct pointer, no block */
		CHECK_EQ(st.nr_reverse_maps, st0.nr_reverse_maps + 1);
		CHECK_EQ(st.rmap_bytes, st0.rmap_bytes);
	} else {
		CHECK(page_anon_vma(page) != NULL);
		CHECK_EQ(st.nr_reverse_maps, 0);
		CHECK(st.rmap_bytes >= sizeof(struct anon_vma));
	}
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(mm);
	st = sstats(sys);
	CHECK_EQ(st.nr_reverse_maps, 0);
	CHECK_EQ(st.rmap_bytes, 0);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

#define NSHARE 8

static void test_many_sharers(void)
{
	struct umm_system *sys = new_system();
	struct umm_object *obj;
	struct umm_mm *mms[NSHARE];
	uintptr_t at[NSHARE];
	struct page *page = NULL;
	struct found f;

	REQUIRE(umm_object_create_shmem(sys, 4 * PS, &obj) == 0);
	for (int i = 0; i < NSHARE; i++) {
		mms[i] = new_mm(sys);
		/* a different address in each mm: the walk must find each */
		if (i & 1)
			(void)map(mms[i], (size_t)(i + 1) * PS, MAP_PRIVATE | MAP_ANONYMOUS, NULL);
		at[i] = map(mms[i], 4 * PS, MAP_SHARED, obj) + 2 * PS;
		poke(mms[i], at[i], (unsigned char)i);
		if (!page)
			page = page_at(mms[i], at[i]);
		CHECK(page_at(mms[i], at[i]) == page);
	}
	f = walk(page);
	CHECK_EQ(f.n, NSHARE);
	for (int i = 0; i < NSHARE; i++)
		CHECK(found_has(&f, mms[i], at[i]));
	if (scheme == UMM_RMAP_PTE_CHAIN)
		CHECK(sstats(sys).rmap_bytes >= 2 * PTE_CHAIN_BYTES);  /* 8 entries: two blocks */
	CHECK_EQ(umm_system_check(sys), 0);
	for (int i = 0; i < NSHARE; i++)
		umm_mm_destroy(mms[i]);
	CHECK_EQ(sstats(sys).rmap_bytes, 0);
	umm_object_put(obj);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

/* ---- removal in every order ---- */

#define NREM 4

static void remove_in_order(const int *order)
{
	struct umm_system *sys = new_system();
	struct umm_object *obj;
	struct umm_mm *mm = new_mm(sys);
	uintptr_t at[NREM];
	struct page *page;

	REQUIRE(umm_object_create_shmem(sys, PS, &obj) == 0);
	/* NREM mappings of one shmem page in one mm, removed in the given order */
	for (int i = 0; i < NREM; i++) {
		at[i] = map(mm, PS, MAP_SHARED, obj);
		poke(mm, at[i], 1);
	}
	page = page_at(mm, at[0]);
	get_page(page);
	for (int k = 0; k < NREM; k++) {
		struct found f = walk(page);

		CHECK_EQ(f.n, NREM - k);
		for (int j = k; j < NREM; j++)
			CHECK(found_has(&f, mm, at[order[j]]));
		CHECK_EQ(umm_munmap(mm, at[order[k]], PS), 0);
		CHECK_EQ(page_mapcount(page), NREM - k - 1);
		CHECK_EQ(umm_system_check(sys), 0);
	}
	CHECK_EQ(walk(page).n, 0);
	put_page(page);
	umm_mm_destroy(mm);
	umm_object_put(obj);
	CHECK_EQ(sstats(sys).rmap_bytes, 0);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

static void permute(int *a, int k, int *count)
{
	if (k == NREM) {
		remove_in_order(a);
		(*count)++;
		return;
	}
	for (int i = k; i < NREM; i++) {
		int t = a[k]; a[k] = a[i]; a[i] = t;
		permute(a, k + 1, count);
		t = a[k]; a[k] = a[i]; a[i] = t;
	}
}

static void test_remove_every_order(void)
{
	int order[NREM] = { 0, 1, 2, 3 }, count = 0;

	permute(order, 0, &count);
	CHECK_EQ(count, 24);
}

/* ---- fork trees ---- */

#define TREE_DEPTH 5
#define TREE_PAGES 4
#define MAX_TREE 64

struct tree {
	struct umm_mm *mm[MAX_TREE];
	int n;
	uintptr_t base;
};

/*
 * grow - fork mm into two children, each of which writes one page (a
 * different one: copy-on-write), then recurse.  Leaves TREE_DEPTH levels.
 */
static void grow(struct tree *t, struct umm_mm *mm, int level)
{
	if (level == TREE_DEPTH)
		return;
	for (int c = 0; c < 2 && t->n < MAX_TREE; c++) {
		struct umm_mm *child;

		REQUIRE(umm_fork(mm, &child) == 0);
		t->mm[t->n++] = child;
		poke(child, t->base + (size_t)((level + c) % TREE_PAGES) * PS, (unsigned char)(level * 2 + c + 10));
		grow(t, child, level + 1);
	}
}

/* every mapped page of every mm in the tree is found at that (mm, address) */
static void check_tree(struct tree *t)
{
	for (int i = 0; i < t->n; i++)
		for (int p = 0; p < TREE_PAGES; p++) {
			uintptr_t a = t->base + (size_t)p * PS;
			struct page *page = page_at(t->mm[i], a);
			struct found f;

			REQUIRE(page);
			f = walk(page);
			CHECK(found_has(&f, t->mm[i], a));
			CHECK_EQ(f.n, page_mapcount(page));
		}
}

static void test_fork_tree(void)
{
	struct umm_system *sys = new_system();
	struct tree t = { .n = 0 };
	uint64_t rng = 12345;

	t.mm[t.n++] = new_mm(sys);
	t.base = map(t.mm[0], TREE_PAGES * PS, MAP_PRIVATE | MAP_ANONYMOUS, NULL);
	for (int p = 0; p < TREE_PAGES; p++)
		poke(t.mm[0], t.base + (size_t)p * PS, (unsigned char)p);
	grow(&t, t.mm[0], 0);
	CHECK_EQ(t.n, 63);          /* 1 + 2 + 4 + 8 + 16 + 32 */
	check_tree(&t);
	CHECK_EQ(umm_system_check(sys), 0);
	/* copy-on-write kept the root's bytes */
	for (int p = 0; p < TREE_PAGES; p++)
		CHECK_EQ(peek(t.mm[0], t.base + (size_t)p * PS), p);
	/* tear down in a shuffled order, checking as we go */
	while (t.n) {
		int i = (int)(test_rnd(&rng) % (uint64_t)t.n);

		umm_mm_destroy(t.mm[i]);
		t.mm[i] = t.mm[--t.n];
		if (t.n % 8 == 0) {
			check_tree(&t);
			CHECK_EQ(umm_system_check(sys), 0);
		}
	}
	CHECK_EQ(sstats(sys).anon_pages, 0);
	CHECK_EQ(sstats(sys).rmap_bytes, 0);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

static void test_mremap_after_fork(void)
{
	struct umm_system *sys = new_system();
	struct umm_mm *parent = new_mm(sys), *child;
	uintptr_t a = map(parent, 4 * PS, MAP_PRIVATE | MAP_ANONYMOUS, NULL), b;
	struct page *pages[4];

	for (int p = 0; p < 4; p++)
		poke(parent, a + (size_t)p * PS, (unsigned char)(p + 1));
	REQUIRE(umm_fork(parent, &child) == 0);
	for (int p = 0; p < 4; p++)
		pages[p] = page_at(parent, a + (size_t)p * PS);
	/* move the parent's copy far away; the child's stays */
	REQUIRE(umm_mremap(parent, a, 4 * PS, 8 * PS, MREMAP_MAYMOVE | MREMAP_FIXED, 0x300000000UL, &b) == 0);
	CHECK_EQ(b, 0x300000000UL);
	for (int p = 0; p < 4; p++) {
		struct found f = walk(pages[p]);

		CHECK_EQ(f.n, 2);
		CHECK(found_has(&f, parent, b + (size_t)p * PS));
		CHECK(found_has(&f, child, a + (size_t)p * PS));
	}
	CHECK_EQ(umm_system_check(sys), 0);
	/* COW after the move: the parent writes, the child keeps the old page */
	poke(parent, b + PS, 99);
	CHECK(page_at(parent, b + PS) != pages[1]);
	CHECK_EQ(walk(pages[1]).n, 1);
	CHECK(found_has((struct found[]){ walk(pages[1]) }, child, a + PS));
	CHECK_EQ(walk(page_at(parent, b + PS)).n, 1);
	CHECK_EQ(peek(child, a + PS), 2);
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(child);
	umm_mm_destroy(parent);
	CHECK_EQ(sstats(sys).rmap_bytes, 0);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

/* ---- try_to_unmap ---- */

struct holder {
	struct umm_mm *mm;
	uintptr_t addr;
	pthread_barrier_t held, release;
};

static void *hold_ptl(void *arg)
{
	struct holder *h = arg;
	struct fmutex *ptl;
	pte_t *p;

	mmap_read_lock(h->mm);
	p = pte_offset_map_lock(h->mm, h->addr, &ptl);
	pthread_barrier_wait(&h->held);
	pthread_barrier_wait(&h->release);
	if (p)
		pte_unmap_unlock(p, ptl);
	mmap_read_unlock(h->mm);
	return NULL;
}

static int unmap_locked(struct page *page, pte_t swp)
{
	int ret;

	lock_page(page);
	ret = try_to_unmap(page, swp);
	unlock_page(page);
	return ret;
}

static void test_try_to_unmap_again(void)
{
	struct umm_system *sys = new_system();
	struct umm_object *obj;
	struct umm_mm *m1 = new_mm(sys), *m2 = new_mm(sys);
	struct holder h;
	pthread_t th;
	uintptr_t a1, a2;
	struct page *page;
	struct found f;

	REQUIRE(umm_object_create_shmem(sys, PS, &obj) == 0);
	a1 = map(m1, PS, MAP_SHARED, obj);
	a2 = map(m2, PS, MAP_SHARED, obj);
	poke(m1, a1, 5);
	CHECK_EQ(peek(m2, a2), 5);
	page = page_at(m1, a1);
	get_page(page);
	h.mm = m2;
	h.addr = a2;
	pthread_barrier_init(&h.held, NULL, 2);
	pthread_barrier_init(&h.release, NULL, 2);
	REQUIRE(pthread_create(&th, NULL, hold_ptl, &h) == 0);
	pthread_barrier_wait(&h.held);
	CHECK_EQ(unmap_locked(page, 0), SWAP_AGAIN);       /* m2's table lock is busy */
	CHECK_EQ(page_mapcount(page), 1);                   /* m1's pte went */
	CHECK(!pte_present(pte_at(m1, a1)));
	pthread_barrier_wait(&h.release);
	pthread_join(th, NULL);
	f = walk(page);
	CHECK_EQ(f.n, 1);
	CHECK(found_has(&f, m2, a2));
	CHECK_EQ(unmap_locked(page, 0), SWAP_SUCCESS);
	CHECK_EQ(page_mapcount(page), 0);
	CHECK(!pte_present(pte_at(m2, a2)));
	CHECK_EQ(umm_system_check(sys), 0);
	/* the data stayed in the page cache: a new fault maps it again */
	CHECK_EQ(peek(m2, a2), 5);
	CHECK(page_at(m2, a2) == page);
	put_page(page);
	pthread_barrier_destroy(&h.held);
	pthread_barrier_destroy(&h.release);
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(m1);
	umm_mm_destroy(m2);
	umm_object_put(obj);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

static void test_try_to_unmap_fail_pinned(void)
{
	struct umm_system *sys = new_swap_system();
	struct umm_object *obj;
	struct umm_mm *m1 = new_mm(sys), *m2;
	uintptr_t a, s;
	struct umm_page *pin;
	struct page *page, *anon;

	REQUIRE(umm_object_create_shmem(sys, PS, &obj) == 0);
	s = map(m1, PS, MAP_SHARED, obj);
	a = map(m1, PS, MAP_PRIVATE | MAP_ANONYMOUS, NULL);
	poke(m1, a, 1);
	CHECK_EQ(umm_pin_pages(m1, s, 1, UMM_PIN_WRITE, &pin), 1);
	page = page_at(m1, s);
	get_page(page);
	CHECK_EQ(unmap_locked(page, 0), SWAP_FAIL);
	CHECK_EQ(page_mapcount(page), 1);                   /* nothing changed */
	CHECK(pte_present(pte_at(m1, s)));
	umm_unpin_pages(&pin, 1, UMM_PIN_WRITE);
	CHECK_EQ(unmap_locked(page, 0), SWAP_SUCCESS);
	put_page(page);
	/* an anon page needs a swap entry to leave behind */
	REQUIRE(umm_fork(m1, &m2) == 0);
	anon = page_at(m1, a);
	get_page(anon);
	CHECK_EQ(unmap_locked(anon, 0), SWAP_FAIL);
	CHECK_EQ(page_mapcount(anon), 2);
	/* with a slot (add_to_swap) both ptes become the entry, each a holder */
	lock_page(anon);
	CHECK_EQ(add_to_swap(anon), 0);
	CHECK_EQ(try_to_unmap(anon, swp_entry_to_pte((swp_entry_t){ anon->private })), SWAP_SUCCESS);
	CHECK_EQ(swap_count(sys, (swp_entry_t){ anon->private }), 2);
	unlock_page(anon);
	CHECK_EQ(page_mapcount(anon), 0);
	CHECK(pte_is_swap(pte_at(m1, a)) && pte_is_swap(pte_at(m2, a)));
	CHECK(PageAnon(anon));
	put_page(anon);         /* the swap cache still holds it: the faults below find it */
	CHECK_EQ(peek(m1, a), peek(m2, a));
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(m2);
	umm_mm_destroy(m1);
	umm_object_put(obj);
	CHECK_EQ(sstats(sys).anon_pages, 0);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

static void test_page_referenced(void)
{
	struct umm_system *sys = new_system();
	struct umm_object *obj;
	struct umm_mm *mms[3], *child;
	uintptr_t at[3], a;
	struct page *page, *anon;

	REQUIRE(umm_object_create_shmem(sys, PS, &obj) == 0);
	for (int i = 0; i < 3; i++) {
		mms[i] = new_mm(sys);
		at[i] = map(mms[i], PS, MAP_SHARED, obj);
		(void)peek(mms[i], at[i]);          /* the fault installs a young pte */
	}
	page = page_at(mms[0], at[0]);
	lock_page(page);
	CHECK_EQ(page_referenced(page), 3);
	CHECK_EQ(page_referenced(page), 0);  /* cleared by the first call */
	unlock_page(page);
	for (int i = 0; i < 3; i++)
		CHECK(!pte_young(pte_at(mms[i], at[i])));
	/* an anon page shared by fork: young in both */
	a = map(mms[0], PS, MAP_PRIVATE | MAP_ANONYMOUS, NULL);
	poke(mms[0], a, 3);
	REQUIRE(umm_fork(mms[0], &child) == 0);
	anon = page_at(mms[0], a);
	lock_page(anon);
	CHECK_EQ(page_referenced(anon), 2);
	CHECK_EQ(page_referenced(anon), 0);
	unlock_page(anon);
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(child);
	for (int i = 0; i < 3; i++)
		umm_mm_destroy(mms[i]);
	umm_object_put(obj);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

static void test_page_mkclean(void)
{
	struct umm_system *sys = new_system();
	struct umm_object *obj;
	struct umm_mm *m1 = new_mm(sys), *m2 = new_mm(sys);
	uintptr_t a1, a2;
	struct page *page;

	REQUIRE(umm_object_create_shmem(sys, PS, &obj) == 0);
	a1 = map(m1, PS, MAP_SHARED, obj);
	a2 = map(m2, PS, MAP_SHARED, obj);
	poke(m1, a1, 1);
	poke(m2, a2, 2);
	page = page_at(m1, a1);
	lock_page(page);
	CHECK_EQ(page_mkclean(page), 2);
	CHECK_EQ(page_mkclean(page), 0);
	unlock_page(page);
	CHECK(!pte_write(pte_at(m1, a1)) && !pte_dirty(pte_at(m2, a2)));
	poke(m2, a2, 3);                    /* faults again: writable, dirty */
	CHECK(pte_dirty(pte_at(m2, a2)));
	CHECK_EQ(peek(m1, a1), 3);
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(m1);
	umm_mm_destroy(m2);
	umm_object_put(obj);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

/*
 * test_small_windows - 200 windows of 1-8 pages at random offsets of a
 * 256-page shmem object, in 4 address spaces: the walk of every page
 * finds exactly the windows over it (brute force from the window list).
 * Under object rmap the walk asks the object's interval tree.
 */
#define NWIN 200
#define OBJ_PAGES 256

static void test_small_windows(void)
{
	struct umm_system *sys = new_system();
	struct umm_object *obj;
	struct umm_mm *mms[4];
	struct { struct umm_mm *mm; uintptr_t addr; uint64_t pgoff, pages; } win[NWIN];
	uint64_t rng = 77;

	REQUIRE(umm_object_create_shmem(sys, OBJ_PAGES * PS, &obj) == 0);
	for (int i = 0; i < 4; i++)
		mms[i] = new_mm(sys);
	for (int w = 0; w < NWIN; w++) {
		win[w].mm = mms[w % 4];
		win[w].pages = 1 + test_rnd(&rng) % 8;
		win[w].pgoff = test_rnd(&rng) % (OBJ_PAGES - win[w].pages + 1);
		REQUIRE(umm_mmap(win[w].mm, 0, win[w].pages * PS, RW, MAP_SHARED, obj,
				 win[w].pgoff * PS, &win[w].addr) == 0);
		for (uint64_t p = 0; p < win[w].pages; p++)
			(void)peek(win[w].mm, win[w].addr + p * PS);
	}
	/* drop a few windows so the tree also sees removals */
	for (int w = 0; w < NWIN; w += 7) {
		REQUIRE(umm_munmap(win[w].mm, win[w].addr, win[w].pages * PS) == 0);
		win[w].mm = NULL;
	}
	for (uint64_t pg = 0; pg < OBJ_PAGES; pg++) {
		struct page *page = NULL;
		int expect = 0;
		struct found f;

		for (int w = 0; w < NWIN; w++)
			if (win[w].mm && pg >= win[w].pgoff && pg < win[w].pgoff + win[w].pages) {
				expect++;
				if (!page)
					page = page_at(win[w].mm, win[w].addr + (pg - win[w].pgoff) * PS);
			}
		if (!expect)
			continue;
		REQUIRE(page);
		f = walk(page);
		CHECK_EQ(f.n, expect);
		for (int w = 0; w < NWIN; w++)
			if (win[w].mm && pg >= win[w].pgoff && pg < win[w].pgoff + win[w].pages && expect <= MAX_FOUND)
				CHECK(found_has(&f, win[w].mm, win[w].addr + (pg - win[w].pgoff) * PS));
	}
	CHECK_EQ(umm_system_check(sys), 0);
	for (int i = 0; i < 4; i++) {
		CHECK_EQ(umm_mm_check(mms[i]), 0);
		umm_mm_destroy(mms[i]);
	}
	umm_object_put(obj);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

/*
 * test_nonlinear_vma - a file vma made nonlinear leaves the interval
 * tree; its pages are still found (the object scheme scans nonlinear
 * vmas whole), and unmapping it takes it off the nonlinear count.
 */
static void test_nonlinear_vma(void)
{
	struct umm_system *sys = new_system();
	struct umm_object *obj;
	struct umm_mm *mm = new_mm(sys);
	uintptr_t a, b;
	struct page *page;
	struct found f;

	REQUIRE(umm_object_create_shmem(sys, 8 * PS, &obj) == 0);
	a = map(mm, 8 * PS, MAP_SHARED, obj);
	b = map(mm, 8 * PS, MAP_SHARED, obj);
	for (int p = 0; p < 8; p++) {
		poke(mm, a + (size_t)p * PS, (unsigned char)p);
		(void)peek(mm, b + (size_t)p * PS);
	}
	mmap_write_lock(mm);
	vma_set_nonlinear(mm, find_vma(mm, a));
	mmap_write_unlock(mm);
	CHECK_EQ(obj->i_mmap_nonlinear, 1);
	page = page_at(mm, a + 3 * PS);
	REQUIRE(page);
	f = walk(page);
	CHECK_EQ(f.n, 2);
	CHECK(found_has(&f, mm, a + 3 * PS));
	CHECK(found_has(&f, mm, b + 3 * PS));
	CHECK_EQ(umm_system_check(sys), 0);
	CHECK_EQ(umm_munmap(mm, a, 8 * PS), 0);
	CHECK_EQ(obj->i_mmap_nonlinear, 0);
	CHECK_EQ(walk(page).n, 1);
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(mm);
	umm_object_put(obj);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

#define BOTH(fn) do { \
	scheme = UMM_RMAP_PTE_CHAIN; fprintf(stderr, "pte-chain rmap: "); RUN(fn); \
	scheme = UMM_RMAP_OBJECT; fprintf(stderr, "object rmap:    "); RUN(fn); \
} while (0)

int main(void)
{
	BOTH(test_one_mapping);
	BOTH(test_many_sharers);
	BOTH(test_remove_every_order);
	BOTH(test_fork_tree);
	BOTH(test_mremap_after_fork);
	BOTH(test_try_to_unmap_again);
	BOTH(test_try_to_unmap_fail_pinned);
	BOTH(test_page_referenced);
	BOTH(test_page_mkclean);
	BOTH(test_small_windows);
	BOTH(test_nonlinear_vma);
	return test_summary("test_rmap");
}
