/* SPDX-License-Identifier: MIT */
/*
 * test_pgtable.c - the 4-level page table on a hand-built address space.
 *
 * Only the frame allocator is real: the test builds a struct umm_system
 * holding a phys arena and a struct umm_mm around it, so pgtable.c is
 * tested without the VMA, fault or mmap layers.  Frames are counted through
 * phys_get_stats(): every test ends with the arena back where it started.
 *
 * What is checked: the pte encodings round-trip (pfn, swap, file, protnone,
 * special, young/dirty/write bits, pte_modify); pte_alloc builds exactly
 * the tables an address needs at every level and records them (PG_pgtable,
 * pt_mm, pt_addr, pt_level, pt_used, nr_ptes, nr_pgtable); pt_used follows
 * empty<->non-empty transitions; walk_pte_range visits exactly the
 * non-empty ptes of a range in order, stops on request, and steps over
 * empty space fast; free_pgtables frees exactly the empty tables it is
 * asked about; pgd_free returns every frame; an allocation failure at each
 * level of pte_alloc returns NULL and leaves nothing behind.
 */
#include <time.h>
#include "test.h"
#include "pgtable.h"

static struct umm_system sys;

static unsigned long free_frames(void)
{
	struct phys_stats st;

	phys_get_stats(sys.phys, &st);
	return st.nr_free;
}

static struct umm_mm *mm_new(void)
{
	struct umm_mm *mm = aligned_alloc(64, ALIGN_UP(sizeof(*mm), 64));

	REQUIRE(mm);
	memset(mm, 0, sizeof(*mm));
	mm->sys = &sys;
	fmutex_init(&mm->page_table_lock);
	percpu_init_rwsem(&mm->mmap_lock);
	REQUIRE(pgd_alloc(mm) == 0);
	mmap_write_lock(mm);    /* held for the whole test, as free_pgtables requires */
	return mm;
}

static void mm_free(struct umm_mm *mm)
{
	mmap_write_unlock(mm);
	pgd_free(mm);
	CHECK(mm->pgd == NULL);
	CHECK_EQ(atomic_load(&mm->nr_ptes), 0);
	fmutex_destroy(&mm->page_table_lock);
	percpu_free_rwsem(&mm->mmap_lock);
	free(mm);
}

/*
 * t_set_pte_at / t_ptep_get_and_clear / t_pte_clear - the pte writers with
 * the table's lock taken around them, as their contract requires.
 */
static void t_set_pte_at(struct umm_mm *mm, uintptr_t addr, pte_t *ptep, pte_t pte)
{
	struct fmutex *ptl = pte_lockptr(mm, ptep);

	ptl_lock(ptl);
	set_pte_at(mm, addr, ptep, pte);
	ptl_unlock(ptl);
}

static pte_t t_ptep_get_and_clear(struct umm_mm *mm, uintptr_t addr, pte_t *ptep)
{
	struct fmutex *ptl = pte_lockptr(mm, ptep);
	pte_t old;

	ptl_lock(ptl);
	old = ptep_get_and_clear(mm, addr, ptep);
	ptl_unlock(ptl);
	return old;
}

static void t_pte_clear(struct umm_mm *mm, uintptr_t addr, pte_t *ptep)
{
	(void)t_ptep_get_and_clear(mm, addr, ptep);
}

/* A distinct non-empty pte for each address (maps a made-up pfn). */
static pte_t fake_pte(uintptr_t addr)
{
	return pfn_pte((addr >> PAGE_SHIFT) & 0xffffff, PTE_PRESENT | PTE_YOUNG);
}

static void test_pte_encodings(void)
{
	unsigned long maxpfn = (1UL << 40) - 1;
	pte_t p = pfn_pte(maxpfn, PTE_PRESENT | PTE_RW);

	CHECK_EQ(pte_pfn(p), maxpfn);
	CHECK(pte_present(p) && pte_accessible(p) && pte_write(p));
	CHECK(!pte_young(p) && !pte_dirty(p) && !pte_special(p) && !pte_protnone(p));
	CHECK(pte_young(pte_mkyoung(p)) && !pte_young(pte_mkold(pte_mkyoung(p))));
	CHECK(pte_dirty(pte_mkdirty(p)) && !pte_dirty(pte_mkclean(pte_mkdirty(p))));
	CHECK(!pte_write(pte_wrprotect(p)) && pte_write(pte_mkwrite(pte_wrprotect(p))));
	CHECK_EQ(pte_pfn(pte_mkdirty(pte_mkyoung(pte_wrprotect(p)))), maxpfn);
	CHECK(pte_none(0) && !pte_present(0) && !pte_is_swap(0) && !pte_is_file(0));

	/* swap entries: every type, large offsets */
	for (unsigned type = 0; type < 32; type++) {
		uint64_t off = ((uint64_t)1 << 51) - 1 - type * 12345;
		pte_t s = mk_swap_pte(type, off);

		CHECK(!pte_none(s) && !pte_present(s) && pte_is_swap(s) && !pte_is_file(s));
		CHECK_EQ(pte_swp_type(s), type);
		CHECK_EQ(pte_swp_offset(s), off);
	}
	CHECK_EQ(pte_swp_offset(mk_swap_pte(3, 0)), 0);
	CHECK(!pte_none(mk_swap_pte(0, 0)));

	/* nonlinear file ptes */
	for (uint64_t off = 0; off < ((uint64_t)1 << 50); off = off * 7 + 1) {
		pte_t f = pgoff_to_pte(off);

		CHECK(!pte_none(f) && !pte_present(f) && pte_is_file(f) && !pte_is_swap(f));
		CHECK_EQ(pte_to_pgoff(f), off);
	}

	/* protnone: mapped (frame held) but not accessible, never writable */
	pte_t pn = pfn_pte(77, PTE_PROTNONE | PTE_RW | PTE_DIRTY);
	CHECK(pte_present(pn) && !pte_accessible(pn) && pte_protnone(pn));
	CHECK(!pte_write(pn) && !pte_is_swap(pn) && !pte_is_file(pn));
	CHECK_EQ(pte_pfn(pn), 77);

	/* special: only for present ptes */
	pte_t sp = pfn_pte(5, PTE_PRESENT | PTE_SPECIAL);
	CHECK(pte_special(sp) && pte_present(sp) && !pte_write(sp));
	CHECK(!pte_special(PTE_SPECIAL));
}

static void test_pte_modify(void)
{
	pte_t p = pfn_pte(1234, PTE_PRESENT | PTE_RW | PTE_DIRTY | PTE_YOUNG);
	pte_t n;

	n = pte_modify(p, VM_READ);
	CHECK(pte_accessible(n) && !pte_write(n) && pte_dirty(n) && pte_young(n));
	CHECK_EQ(pte_pfn(n), 1234);
	CHECK_EQ(pte_modify(p, VM_READ | VM_WRITE), p);
	n = pte_modify(p, 0);
	CHECK(pte_protnone(n) && pte_present(n) && !pte_accessible(n) && !pte_write(n));
	CHECK(pte_dirty(n) && pte_young(n));
	CHECK_EQ(pte_pfn(n), 1234);
	/* back from PROT_NONE: accessible again, write not granted */
	pte_t back = pte_modify(n, VM_READ | VM_WRITE);
	CHECK(pte_accessible(back) && !pte_protnone(back) && !pte_write(back));
	CHECK_EQ(pte_pfn(back), 1234);
	/* write is never added */
	CHECK(!pte_write(pte_modify(pte_wrprotect(p), VM_READ | VM_WRITE | VM_EXEC)));
	/* exec-only and write-only still count as accessible (x86) */
	CHECK(pte_accessible(pte_modify(n, VM_EXEC)));
	CHECK(pte_accessible(pte_modify(n, VM_WRITE)));
	/* special bit survives */
	pte_t sp = pfn_pte(9, PTE_PRESENT | PTE_SPECIAL);
	CHECK(pte_special(pte_modify(pte_modify(sp, 0), VM_READ)));
}

static void check_table(uint64_t *table, unsigned level, uintptr_t addr, struct umm_mm *mm)
{
	struct page *pg = virt_to_page(sys.phys, table);

	CHECK(PagePgTable(pg));
	CHECK(pg->pt_mm == mm);
	CHECK_EQ(pg->pt_level, level);
	CHECK_EQ(pg->pt_addr, addr);
}

static void test_pte_alloc_levels(void)
{
	unsigned long base_free = free_frames();
	struct umm_mm *mm = mm_new();
	uintptr_t a = 0x10000;
	pte_t *p, *q;

	CHECK_EQ(atomic_load(&mm->nr_ptes), 1);
	CHECK_EQ(base_free - free_frames(), 1);
	check_table(mm->pgd, 4, 0, mm);
	CHECK(pte_offset_map(mm, a) == NULL);

	p = pte_alloc(mm, a);
	REQUIRE(p);
	CHECK(*p == 0);
	CHECK_EQ(pgtable_count(mm), 4);      /* pgd + pud + pmd + pte */
	CHECK_EQ(atomic_load(&mm->nr_ptes), 4);
	CHECK_EQ(atomic_load(&sys.nr_pgtable), 4);
	CHECK_EQ(base_free - free_frames(), 4);
	CHECK(pte_offset_map(mm, a) == p);
	CHECK(pte_alloc(mm, a) == p);
	CHECK_EQ(pgtable_count(mm), 4);
	CHECK(pte_offset_map(mm, a + PAGE_SIZE) == p + 1);
	CHECK(pte_offset_map(mm, a + 123) == p);  /* offset bits ignored */
	CHECK_EQ(mm->pgd_page->pt_used, 1);

	/* pte table of a: level 1, maps from the 2 MiB boundary */
	check_table((uint64_t *)((uintptr_t)p & PAGE_MASK), 1, 0, mm);
	CHECK(pte_table_page(mm, p) == virt_to_page(sys.phys, (void *)((uintptr_t)p & PAGE_MASK)));

	/* each further address adds exactly the tables its level needs */
	struct { uintptr_t addr; unsigned long more; } steps[] = {
		{ a + PMD_SIZE,               1 },   /* next pte table */
		{ a + PUD_SIZE,               2 },   /* next pmd (+ pte) */
		{ a + PGD_SIZE,               3 },   /* next pud (+ pmd + pte) */
		{ UMM_TASK_SIZE - PAGE_SIZE,  3 },   /* top of the address space */
		{ UMM_TASK_SIZE - 2 * PAGE_SIZE, 0 }, /* same tables as the previous */
	};
	unsigned long count = 4;
	for (unsigned i = 0; i < ARRAY_SIZE(steps); i++) {
		q = pte_alloc(mm, steps[i].addr);
		REQUIRE(q);
		count += steps[i].more;
		CHECK_EQ(pgtable_count(mm), count);
		CHECK_EQ(atomic_load(&mm->nr_ptes), (long)count);
		CHECK(pte_offset_map(mm, steps[i].addr) == q);
		check_table((uint64_t *)((uintptr_t)q & PAGE_MASK), 1, steps[i].addr & ~(PMD_SIZE - 1), mm);
	}
	/* upper tables count their children */
	CHECK_EQ(mm->pgd_page->pt_used, 3);     /* pgd 0, 1, 255 */
	/* outside the 48-bit space: no slot */
	CHECK(pte_alloc(mm, 1UL << 48) == NULL);
	CHECK(pte_offset_map(mm, UINTPTR_MAX & PAGE_MASK) == NULL);
	CHECK_EQ(pgtable_count(mm), count);

	free_pgtables(mm, 0, UINTPTR_MAX);
	CHECK_EQ(pgtable_count(mm), 1);
	CHECK_EQ(mm->pgd_page->pt_used, 0);
	mm_free(mm);
	CHECK_EQ(free_frames(), base_free);
	CHECK_EQ(atomic_load(&sys.nr_pgtable), 0);
}

static void test_pt_used(void)
{
	struct umm_mm *mm = mm_new();
	uintptr_t a = 0x40000000;
	struct page *pt;
	pte_t *p;

	p = pte_alloc(mm, a);
	REQUIRE(p);
	pt = pte_table_page(mm, p);
	CHECK_EQ(pt->pt_used, 0);
	t_set_pte_at(mm, a, p, fake_pte(a));
	CHECK_EQ(pt->pt_used, 1);
	t_set_pte_at(mm, a, p, pte_mkdirty(fake_pte(a)));     /* non-empty -> non-empty */
	CHECK_EQ(pt->pt_used, 1);
	t_set_pte_at(mm, a, p, mk_swap_pte(1, 2));        /* non-present counts too */
	CHECK_EQ(pt->pt_used, 1);
	t_set_pte_at(mm, a + PAGE_SIZE, p + 1, pgoff_to_pte(0));
	CHECK_EQ(pt->pt_used, 2);
	CHECK_EQ(t_ptep_get_and_clear(mm, a, p), mk_swap_pte(1, 2));
	CHECK(*p == 0);
	CHECK_EQ(pt->pt_used, 1);
	CHECK_EQ(t_ptep_get_and_clear(mm, a, p), 0);          /* empty stays empty */
	CHECK_EQ(pt->pt_used, 1);
	t_set_pte_at(mm, a, p, 0);
	CHECK_EQ(pt->pt_used, 1);
	/* fill the whole table, then empty it */
	for (unsigned i = 0; i < PTRS_PER_TABLE; i++)
		t_set_pte_at(mm, a + i * PAGE_SIZE, p + i, fake_pte(a + i * PAGE_SIZE));
	CHECK_EQ(pt->pt_used, PTRS_PER_TABLE);
	for (unsigned i = 0; i < PTRS_PER_TABLE; i++)
		t_pte_clear(mm, a + i * PAGE_SIZE, p + i);
	CHECK_EQ(pt->pt_used, 0);
	free_pgtables(mm, a, a + PAGE_SIZE);
	CHECK_EQ(pgtable_count(mm), 1);
	mm_free(mm);
}

/* walk_pte_range callbacks */
struct collect {
	uintptr_t addrs[1024];
	unsigned n;
	unsigned stop_after;      /* 0 = never */
	bool clear;               /* clear each pte visited */
};

static int collect_fn(struct umm_mm *mm, pte_t *ptep, uintptr_t addr, void *arg)
{
	struct collect *c = arg;

	CHECK(!pte_none(*ptep));
	CHECK(pte_offset_map(mm, addr) == ptep);
	if (c->n < ARRAY_SIZE(c->addrs))
		c->addrs[c->n] = addr;
	c->n++;
	if (c->clear)
		pte_clear(mm, addr, ptep);
	if (c->stop_after && c->n == c->stop_after)
		return 42;
	return 0;
}

static int cmp_addr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return x < y ? -1 : x > y;
}

static void test_walk(void)
{
	struct umm_mm *mm = mm_new();
	/* scattered over every level, inserted out of order */
	uintptr_t addrs[] = {
		0x7fffffffe000UL, 0x10000, 0x11000, 0x1ff000, 0x200000, 0x40000000,
		0x8000000000UL, 0x3fe00000, 0x7fffc0000000UL, 0x12345000, 0x600000000UL,
		0x7ffffffff000UL, 0x8000001000UL,
	};
	size_t n = ARRAY_SIZE(addrs);
	uintptr_t sorted[ARRAY_SIZE(addrs)];
	struct collect *c = calloc(1, sizeof(*c));

	REQUIRE(c);
	for (size_t i = 0; i < n; i++) {
		pte_t *p = pte_alloc(mm, addrs[i]);
		REQUIRE(p);
		t_set_pte_at(mm, addrs[i], p, fake_pte(addrs[i]));
	}
	/* an empty table inside the range is skipped */
	REQUIRE(pte_alloc(mm, 0x50000000));
	memcpy(sorted, addrs, sizeof(addrs));
	qsort(sorted, n, sizeof(sorted[0]), cmp_addr);

	CHECK_EQ(walk_pte_range(mm, 0, UINTPTR_MAX, collect_fn, c), 0);
	CHECK_EQ(c->n, n);
	for (size_t i = 0; i < n && i < c->n; i++)
		CHECK_EQ(c->addrs[i], sorted[i]);

	/* range boundaries: start inclusive, end exclusive */
	for (size_t i = 0; i < n; i++) {
		memset(c, 0, sizeof(*c));
		walk_pte_range(mm, sorted[i], sorted[i] + PAGE_SIZE, collect_fn, c);
		CHECK_EQ(c->n, 1);
		CHECK_EQ(c->addrs[0], sorted[i]);
		memset(c, 0, sizeof(*c));
		walk_pte_range(mm, sorted[i] + PAGE_SIZE, i + 1 < n ? sorted[i + 1] : UINTPTR_MAX, collect_fn, c);
		CHECK_EQ(c->n, 0);
		memset(c, 0, sizeof(*c));
		walk_pte_range(mm, 0, sorted[i], collect_fn, c);
		CHECK_EQ(c->n, i);
	}
	/* empty and inverted ranges */
	memset(c, 0, sizeof(*c));
	CHECK_EQ(walk_pte_range(mm, 0x20000, 0x20000, collect_fn, c), 0);
	CHECK_EQ(walk_pte_range(mm, 0x30000, 0x20000, collect_fn, c), 0);
	CHECK_EQ(c->n, 0);

	/* a non-zero return stops the walk and is passed back */
	memset(c, 0, sizeof(*c));
	c->stop_after = 3;
	CHECK_EQ(walk_pte_range(mm, 0, UINTPTR_MAX, collect_fn, c), 42);
	CHECK_EQ(c->n, 3);

	/* skipping empty space is fast: 2000 walks of the whole 256 TiB */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 2000; i++) {
		memset(c, 0, sizeof(*c));
		walk_pte_range(mm, 0x100000000UL, 0x7fff00000000UL, collect_fn, c);
		CHECK_EQ(c->n, 3);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	CHECK(secs < 2.0);

	/* the callback may clear what it visits */
	memset(c, 0, sizeof(*c));
	c->clear = true;
	CHECK_EQ(walk_pte_range(mm, 0, UINTPTR_MAX, collect_fn, c), 0);
	CHECK_EQ(c->n, n);
	memset(c, 0, sizeof(*c));
	walk_pte_range(mm, 0, UINTPTR_MAX, collect_fn, c);
	CHECK_EQ(c->n, 0);

	free_pgtables(mm, 0, UINTPTR_MAX);
	CHECK_EQ(pgtable_count(mm), 1);
	mm_free(mm);
	free(c);
}

static void test_free_pgtables(void)
{
	unsigned long base_free = free_frames();
	struct umm_mm *mm = mm_new();
	uintptr_t a = 0x200000, b = 0x400000;       /* same pmd table, two pte tables */
	uintptr_t far = 0x7f0000000000UL;           /* its own pud/pmd/pte */
	pte_t *pa, *pb, *pf;

	pa = pte_alloc(mm, a);
	pb = pte_alloc(mm, b);
	pf = pte_alloc(mm, far);
	REQUIRE(pa && pb && pf);
	CHECK_EQ(pgtable_count(mm), 1 + 4 + 3);
	t_set_pte_at(mm, far, pf, fake_pte(far));

	/* only the table of a is in range */
	free_pgtables(mm, a, a + PAGE_SIZE);
	CHECK(pte_offset_map(mm, a) == NULL);
	CHECK(pte_offset_map(mm, b) == pb);
	CHECK_EQ(pgtable_count(mm), 7);

	/* a table holding a pte is kept, and so are its parents */
	free_pgtables(mm, far - PGD_SIZE, far + PGD_SIZE);
	CHECK(pte_offset_map(mm, far) == pf);
	CHECK_EQ(pgtable_count(mm), 7);

	/* the last pte table under a pmd takes the pmd and pud with it */
	free_pgtables(mm, b + PAGE_SIZE, b + 2 * PAGE_SIZE);
	CHECK(pte_offset_map(mm, b) == NULL);
	CHECK_EQ(pgtable_count(mm), 4);
	CHECK_EQ(mm->pgd_page->pt_used, 1);

	/* empty the far pte: now everything but the pgd can go */
	t_pte_clear(mm, far, pf);
	free_pgtables(mm, 0, far);                  /* ends before far's table */
	CHECK_EQ(pgtable_count(mm), 4);
	free_pgtables(mm, far + PAGE_SIZE, UINTPTR_MAX);   /* intersects it */
	CHECK_EQ(pgtable_count(mm), 1);
	CHECK_EQ(atomic_load(&mm->nr_ptes), 1);
	CHECK_EQ(base_free - free_frames(), 1);
	free_pgtables(mm, 0, UINTPTR_MAX);          /* never the pgd */
	CHECK(mm->pgd != NULL);
	CHECK_EQ(pgtable_count(mm), 1);
	mm_free(mm);
	CHECK_EQ(free_frames(), base_free);
}

static void test_pgd_free(void)
{
	unsigned long base_free = free_frames();
	struct umm_mm *mm = mm_new();
	unsigned long seed = 12345;

	for (int i = 0; i < 300; i++) {
		seed = seed * 6364136223846793005UL + 1442695040888963407UL;
		uintptr_t addr = (seed >> 16) % UMM_TASK_SIZE & PAGE_MASK;
		pte_t *p = pte_alloc(mm, addr);

		REQUIRE(p);
		t_set_pte_at(mm, addr, p, fake_pte(addr));
		t_pte_clear(mm, addr, p);
	}
	CHECK_EQ(pgtable_count(mm), (unsigned long)atomic_load(&mm->nr_ptes));
	CHECK_EQ(base_free - free_frames(), (unsigned long)atomic_load(&mm->nr_ptes));
	CHECK(pgtable_count(mm) > 300);
	mm_free(mm);
	CHECK_EQ(free_frames(), base_free);
	CHECK_EQ(atomic_load(&sys.nr_pgtable), 0);
}

static void test_alloc_failure(void)
{
	unsigned long base_free = free_frames();
	struct umm_mm *mm, dummy = { .sys = &sys };
	uintptr_t addr = 0x123456789000UL;

	/* pgd_alloc */
	fault_inject_arm(&sys.phys->fail_alloc, 0, 1);
	CHECK_EQ(pgd_alloc(&dummy), -ENOMEM);
	CHECK(dummy.pgd == NULL);
	CHECK_EQ(free_frames(), base_free);

	mm = mm_new();
	/* fail the first, second and third of the three tables addr needs */
	for (long skip = 0; skip < 3; skip++) {
		unsigned long before = free_frames();

		fault_inject_arm(&sys.phys->fail_alloc, skip, 1);
		CHECK(pte_alloc(mm, addr) == NULL);
		CHECK_EQ(free_frames(), before);
		CHECK_EQ(pgtable_count(mm), 1);
		CHECK_EQ(atomic_load(&mm->nr_ptes), 1);
		CHECK_EQ(mm->pgd_page->pt_used, 0);
		CHECK(pte_offset_map(mm, addr) == NULL);
		fault_inject_arm(&sys.phys->fail_alloc, 0, 0);
	}
	/* with part of the path present, only the missing tables are undone */
	REQUIRE(pte_alloc(mm, 0x123400000000UL));          /* shares addr's pud table */
	unsigned long have = pgtable_count(mm);
	fault_inject_arm(&sys.phys->fail_alloc, 1, 1);
	CHECK(pte_alloc(mm, addr) == NULL);
	CHECK_EQ(pgtable_count(mm), have);
	CHECK(pte_offset_map(mm, 0x123400000000UL) != NULL);
	fault_inject_arm(&sys.phys->fail_alloc, 0, 0);
	/* and after disarming it works */
	CHECK(pte_alloc(mm, addr) != NULL);
	free_pgtables(mm, 0, UINTPTR_MAX);
	mm_free(mm);
	CHECK_EQ(free_frames(), base_free);
}

int main(void)
{
	REQUIRE(phys_create(16UL << 20, NULL, &sys.phys) == 0);
	RUN(test_pte_encodings);
	RUN(test_pte_modify);
	RUN(test_pte_alloc_levels);
	RUN(test_pt_used);
	RUN(test_walk);
	RUN(test_free_pgtables);
	RUN(test_pgd_free);
	RUN(test_alloc_failure);
	CHECK_EQ(phys_check(sys.phys), 0);
	phys_destroy(sys.phys);
	return test_summary("test_pgtable");
}
