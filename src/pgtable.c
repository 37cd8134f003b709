/* SPDX-License-Identifier: MIT */
/*
 * pgtable.c - the 4-level page table: allocating, walking and freeing
 * tables, and keeping each table's count of non-empty entries.
 *
 * Theory of operation.  A table is one frame of 512 entries taken from the
 * arena with alloc_page(GFP_ZERO) and marked PG_pgtable; its struct page
 * records the owning mm, the first address it maps, its level (1 = pte
 * table .. 4 = pgd) and pt_used, the number of non-empty entries.  An
 * upper-level entry is 0 or (pfn << 12) | PTE_PRESENT, so a walk needs no
 * side structure: the next table's bytes are pfn_to_virt() of the entry.
 *
 * pt_used is what makes freeing cheap and exact: a pte table whose pt_used
 * is 0 maps nothing and can go, and an upper table whose pt_used drops to
 * 0 after its children went can go too.  set_pte_at() and
 * ptep_get_and_clear() keep the pte tables' count; pte_alloc() and
 * free_pgtables() keep the upper tables'.
 *
 * Walks descend only into present entries and step over a missing entry
 * by the whole span it covers (2 MiB, 1 GiB, 512 GiB), so zapping a
 * terabyte of empty address space costs a few thousand entry reads.
 *
 * Split locks (see pgtable.h; the order is in lockdep.h).  A pte table's
 * own lock (ptl, in its struct page) covers its ptes and pt_used;
 * page_table_lock covers the upper tables' entries and pt_used, and the
 * install and free of any table.  Tables are allocated before
 * page_table_lock is taken and installed under it with a release store,
 * so lockless walkers (holding mmap_lock) follow entries with acquire
 * loads and always land in a zeroed, initialised table; an installed table
 * is removed only by free_pgtables (mmap_lock for write and
 * page_table_lock) or pgd_free (mm unreachable).  walk_pte_range takes
 * each pte table's lock around its callbacks.  The allocator's locks are
 * leaves.
 */
#include <errno.h>
#include <string.h>
#include "pgtable.h"
#include "page_alloc.h"

#define PT_LEVELS 4
#define ADDR_SPACE_END (1UL << 48)

/* Shift of the span one entry of a level-`level` table covers. */
static const unsigned int level_shift[PT_LEVELS + 1] = {
	0, PTE_SHIFT, PMD_SHIFT, PUD_SHIFT, PGD_SHIFT,
};

static inline unsigned int table_index(uintptr_t addr, unsigned int level)
{
	return (addr >> level_shift[level]) & (PTRS_PER_TABLE - 1);
}

static inline struct phys_mem *mm_phys(struct umm_mm *mm)
{
	return mm->sys->phys;
}

/* entry_table - the table an upper-level entry points at. */
static inline uint64_t *entry_table(struct umm_mm *mm, uint64_t entry)
{
	return pfn_to_virt(mm_phys(mm), (unsigned long)((entry & PTE_PFN_MASK) >> PAGE_SHIFT));
}

static inline struct page *table_page(struct umm_mm *mm, const uint64_t *table)
{
	return virt_to_page(mm_phys(mm), table);
}

/* pt_entry_get / pt_entry_set - upper-level entries, read locklessly by walkers. */
static inline uint64_t pt_entry_get(const uint64_t *slot)
{
	return __atomic_load_n(slot, __ATOMIC_ACQUIRE);
}
static inline void pt_entry_set(uint64_t *slot, uint64_t v)
{
	__atomic_store_n(slot, v, __ATOMIC_RELEASE);
}

/* table_init - make a zeroed frame the level-`level` table mapping from addr, and count it. */
static void table_init(struct umm_mm *mm, struct page *page, uintptr_t addr, unsigned int level)
{
	SetPagePgTable(page);
	page->pt_mm = mm;
	page->pt_addr = addr & ~((1UL << (level_shift[level] + 9)) - 1);
	page->pt_level = (uint16_t)level;
	page->pt_used = 0;
	if (level == 1)
		fmutex_init(&page->ptl);
	atomic_fetch_add(&mm->nr_ptes, 1);
	atomic_fetch_add(&mm->sys->nr_pgtable, 1);
}

static void table_free(struct umm_mm *mm, struct page *page)
{
	VM_BUG_ON(!PagePgTable(page) || page->pt_mm != mm);
	VM_BUG_ON(page->pt_used != 0);
	if (page->pt_level == 1)
		fmutex_destroy(&page->ptl);
	ClearPagePgTable(page);
	page->pt_mm = NULL;
	page->pt_addr = 0;
	page->pt_level = 0;
	atomic_fetch_sub(&mm->nr_ptes, 1);
	atomic_fetch_sub(&mm->sys->nr_pgtable, 1);
	put_page(page);
}

/**
 * pgd_alloc - give mm an empty top-level table.
 * No locks needed (mm is not yet visible).  Returns 0 or -ENOMEM.
 */
int pgd_alloc(struct umm_mm *mm)
{
	struct page *page = alloc_page(mm_phys(mm), GFP_ZERO);

	if (!page)
		return -ENOMEM;
	table_init(mm, page, 0, PT_LEVELS);
	mm->pgd_page = page;
	mm->pgd = page_address(page);
	return 0;
}

/*
 * free_subtree - free every table below `table` (level >= 2).  Debug
 * builds check that no pte is left in the pte tables.
 */
static void free_subtree(struct umm_mm *mm, uint64_t *table, unsigned int level)
{
	struct page *tp = table_page(mm, table);

	for (unsigned int i = 0; i < PTRS_PER_TABLE; i++) {
		if (!pt_entry_get(&table[i]))
			continue;
		uint64_t *child = entry_table(mm, pt_entry_get(&table[i]));
		struct page *cp = table_page(mm, child);

		if (level > 2)
			free_subtree(mm, child, level - 1);
		VM_BUG_ON(cp->pt_used != 0);    /* a pte is still set */
		cp->pt_used = 0;
		pt_entry_set(&table[i], 0);
		tp->pt_used--;
		table_free(mm, cp);
	}
}

/**
 * pgd_free - free every table of mm, the pgd included.
 * mmap_lock held for write or mm unreachable; all ptes must be empty
 * (checked in debug builds).
 */
void pgd_free(struct umm_mm *mm)
{
	if (!mm->pgd)
		return;
	free_subtree(mm, mm->pgd, PT_LEVELS);
	table_free(mm, mm->pgd_page);
	mm->pgd_page = NULL;
	mm->pgd = NULL;
}

/**
 * pte_offset_map - the pte slot for addr, or NULL when a table on the way
 * is missing.  No lock taken; mmap_lock or page_table_lock held (tables
 * stay), the pte itself needs its table's lock.
 */
pte_t *pte_offset_map(struct umm_mm *mm, uintptr_t addr)
{
	uint64_t *table = mm->pgd;

	assert_pgtables_stable(mm);
	if (addr >= ADDR_SPACE_END || !table)
		return NULL;
	for (unsigned int level = PT_LEVELS; level > 1; level--) {
		uint64_t e = pt_entry_get(&table[table_index(addr, level)]);

		if (!e)
			return NULL;
		table = entry_table(mm, e);
	}
	return &table[pte_index(addr)];
}

/**
 * pte_offset_map_lock - pte_offset_map, and lock the slot's table.
 * Returns the slot with *ptlp held, or NULL with nothing held.
 */
pte_t *pte_offset_map_lock(struct umm_mm *mm, uintptr_t addr, struct fmutex **ptlp)
{
	pte_t *ptep = pte_offset_map(mm, addr);

	if (!ptep)
		return NULL;
	*ptlp = pte_lockptr(mm, ptep);
	ptl_lock(*ptlp);
	return ptep;
}

/**
 * __pte_alloc - build the missing tables down to addr's pte table.  The
 * frames are allocated first with no lock held, then installed top-down
 * under page_table_lock; frames left over because another thread
 * installed a table first are freed after the lock is dropped.  No ptl
 * may be held.  mmap_lock held (read or write) or mm private to the
 * caller.  0, or -ENOMEM (also for an address outside the 48-bit space)
 * with the page table unchanged.
 */
int __pte_alloc(struct umm_mm *mm, uintptr_t addr)
{
	struct page *pre[PT_LEVELS - 1];
	uint64_t *table = mm->pgd;
	int need = 0, used = 0;

	if (addr >= ADDR_SPACE_END || !table)
		return -ENOMEM;
	for (unsigned int level = PT_LEVELS; level > 1; level--) {
		uint64_t e = pt_entry_get(&table[table_index(addr, level)]);

		if (!e) {
			need = (int)level - 1;  /* this level's child and every one below */
			break;
		}
		table = entry_table(mm, e);
	}
	if (!need)
		return 0;
	for (int i = 0; i < need; i++) {
		pre[i] = alloc_page(mm_phys(mm), GFP_ZERO);
		if (!pre[i]) {
			while (i-- > 0)
				put_page(pre[i]);
			return -ENOMEM;
		}
	}

	page_table_lock(mm);
	table = mm->pgd;
	for (unsigned int level = PT_LEVELS; level > 1; level--) {
		uint64_t *slot = &table[table_index(addr, level)];
		uint64_t e = pt_entry_get(slot);

		if (!e) {
			struct page *page;

			/* tables are not freed while we hold mmap_lock: no more are missing */
			BUG_ON(used == need);
			page = pre[used++];
			table_init(mm, page, addr, level - 1);
			e = ((uint64_t)page_to_pfn(page) << PAGE_SHIFT) | PTE_PRESENT;
			pt_entry_set(slot, e);
			table_page(mm, table)->pt_used++;
		}
		table = entry_table(mm, e);
	}
	page_table_unlock(mm);
	while (used < need)
		put_page(pre[used++]);
	return 0;
}

/**
 * pte_alloc - the pte slot for addr, building missing tables first
 * (__pte_alloc).  NULL on -ENOMEM.  Takes page_table_lock if a table is
 * missing; returns with no lock held.
 */
pte_t *pte_alloc(struct umm_mm *mm, uintptr_t addr)
{
	if (__pte_alloc(mm, addr))
		return NULL;
	return pte_offset_map(mm, addr);
}

/**
 * pte_alloc_map_lock - pte_alloc, and lock the slot's table.  Returns the
 * slot with *ptlp held, or NULL (-ENOMEM) with nothing held.
 */
pte_t *pte_alloc_map_lock(struct umm_mm *mm, uintptr_t addr, struct fmutex **ptlp)
{
	pte_t *ptep = pte_offset_map(mm, addr);

	if (unlikely(!ptep)) {
		ptep = pte_alloc(mm, addr);
		if (!ptep)
			return NULL;
	}
	*ptlp = pte_lockptr(mm, ptep);
	ptl_lock(*ptlp);
	return ptep;
}

/**
 * set_pte_at - store pte into the slot for addr, keeping the table's
 * count of non-empty entries.  ptl held.
 */
void set_pte_at(struct umm_mm *mm, uintptr_t addr, pte_t *ptep, pte_t pte)
{
	pte_t old = *ptep;
	struct page *pt;

	(void)addr;
	assert_pte_locked(mm, ptep);
	if (pte_none(old) == pte_none(pte)) {
		__atomic_store_n(ptep, pte, __ATOMIC_RELAXED);
		return;
	}
	pt = pte_table_page(mm, ptep);
	VM_BUG_ON(!PagePgTable(pt) || pt->pt_level != 1 || pt->pt_mm != mm);
	if (pte_none(old)) {
		VM_BUG_ON(pt->pt_used >= PTRS_PER_TABLE);
		pt->pt_used++;
	} else {
		VM_BUG_ON(pt->pt_used == 0);
		pt->pt_used--;
	}
	__atomic_store_n(ptep, pte, __ATOMIC_RELAXED);
}

/**
 * ptep_get_and_clear - empty the slot, returning what it held.  ptl held.
 */
pte_t ptep_get_and_clear(struct umm_mm *mm, uintptr_t addr, pte_t *ptep)
{
	pte_t old = *ptep;

	assert_pte_locked(mm, ptep);
	if (!pte_none(old))
		set_pte_at(mm, addr, ptep, 0);
	return old;
}

/*
 * span_next - the start of the next level-`level` entry's span after addr,
 * or `end` if that is sooner (also guards against wrapping at the top).
 */
static inline uintptr_t span_next(uintptr_t addr, uintptr_t end, unsigned int level)
{
	uintptr_t size = 1UL << level_shift[level];
	uintptr_t next = (addr + size) & ~(size - 1);

	return (next - 1 < end - 1) ? next : end;
}

static int walk_level(struct umm_mm *mm, uint64_t *table, unsigned int level,
		      uintptr_t addr, uintptr_t end, pte_table_fn_t fn, void *arg)
{
	while (addr < end) {
		uintptr_t next = span_next(addr, end, level);
		uint64_t e = pt_entry_get(&table[table_index(addr, level)]);
		int ret = 0;

		if (e) {
			uint64_t *child = entry_table(mm, e);

			if (level == 2)
				ret = fn(mm, &child[pte_index(addr)], addr, next, arg);
			else
				ret = walk_level(mm, child, level - 1, addr, next, fn, arg);
		}
		if (ret)
			return ret;
		addr = next;
	}
	return 0;
}

/**
 * walk_pte_tables - call fn for each pte table present in [start, end)
 * with the part of the range it maps, in address order, no table lock
 * held.  mmap_lock (read or write) or page_table_lock held.  Returns 0 or
 * fn's first non-zero value (the walk stops).
 */
int walk_pte_tables(struct umm_mm *mm, uintptr_t start, uintptr_t end, pte_table_fn_t fn, void *arg)
{
	assert_pgtables_stable(mm);
	if (!mm->pgd)
		return 0;
	start &= PAGE_MASK;
	if (end > ADDR_SPACE_END)
		end = ADDR_SPACE_END;
	if (start >= end)
		return 0;
	return walk_level(mm, mm->pgd, PT_LEVELS, start, end, fn, arg);
}

struct pte_walk {
	pte_fn_t fn;
	void *arg;
};

/* walk_one_table - walk_pte_range's work in one pte table, under its lock. */
static int walk_one_table(struct umm_mm *mm, pte_t *ptep, uintptr_t addr, uintptr_t end, void *arg)
{
	struct pte_walk *w = arg;
	struct fmutex *ptl = pte_lockptr(mm, ptep);
	int ret = 0;

	ptl_lock(ptl);
	for (; addr < end; addr += PAGE_SIZE, ptep++) {
		if (pte_none(*ptep))
			continue;
		ret = w->fn(mm, ptep, addr, w->arg);
		if (ret)
			break;
	}
	ptl_unlock(ptl);
	return ret;
}

/**
 * walk_pte_range - call fn on every non-empty pte of [start, end) in
 * address order, skipping missing tables by their whole span, each pte
 * table locked around the calls for its ptes.  mmap_lock (read or write)
 * or page_table_lock held; no ptl.  Returns 0, or the first non-zero value
 * fn returned (the walk stops).
 */
int walk_pte_range(struct umm_mm *mm, uintptr_t start, uintptr_t end, pte_fn_t fn, void *arg)
{
	struct pte_walk w = { .fn = fn, .arg = arg };

	return walk_pte_tables(mm, start, end, walk_one_table, &w);
}

/*
 * free_level - free the empty tables below `table` whose span intersects
 * [addr, end); returns true when `table` itself is left empty.
 * page_table_lock held; takes each pte table's lock to read its pt_used.
 */
static bool free_level(struct umm_mm *mm, uint64_t *table, unsigned int level,
		       uintptr_t addr, uintptr_t end)
{
	struct page *tp = table_page(mm, table);

	while (addr < end) {
		uintptr_t next = span_next(addr, end, level);
		uint64_t *slot = &table[table_index(addr, level)];
		uint64_t e = pt_entry_get(slot);

		if (e) {
			uint64_t *child = entry_table(mm, e);
			struct page *cp = table_page(mm, child);
			bool empty;

			if (level == 2) {
				/*
				 * Under the table's own lock: reclaim's pte-chain walk
				 * changes ptes (and pt_used) holding only that lock,
				 * and empties a pte for a moment before it writes the
				 * swap or file pte that replaces it.
				 */
				ptl_lock(&cp->ptl);
				empty = cp->pt_used == 0;
				ptl_unlock(&cp->ptl);
			} else {
				empty = free_level(mm, child, level - 1, addr, next);
			}

			if (empty) {
				pt_entry_set(slot, 0);
				VM_BUG_ON(tp->pt_used == 0);
				tp->pt_used--;
				table_free(mm, cp);
			}
		}
		addr = next;
	}
	return tp->pt_used == 0;
}

/**
 * free_pgtables - free the pte tables mapping any of [start, end) that
 * hold no pte, then the pmd and pud tables left empty by that.  The pgd is
 * never freed.  mmap_lock held for write (no fault holds a pointer into a
 * table); takes page_table_lock (walkers without mmap_lock hold it), then
 * each pte table's lock to read its pt_used: reclaim's pte-chain walk
 * writes ptes holding only that lock.  A table found empty stays empty:
 * with no pte in it, no reverse-map walk can reach it, and faults need
 * mmap_lock.
 */
void free_pgtables(struct umm_mm *mm, uintptr_t start, uintptr_t end)
{
	mmap_assert_write_locked(mm);
	if (!mm->pgd)
		return;
	start &= PAGE_MASK;
	if (end > ADDR_SPACE_END)
		end = ADDR_SPACE_END;
	if (start >= end)
		return;
	page_table_lock(mm);
	(void)free_level(mm, mm->pgd, PT_LEVELS, start, end);
	page_table_unlock(mm);
}

static unsigned long count_level(struct umm_mm *mm, uint64_t *table, unsigned int level)
{
	unsigned long n = 1;

	if (level == 1)
		return 1;
	for (unsigned int i = 0; i < PTRS_PER_TABLE; i++) {
		uint64_t e = pt_entry_get(&table[i]);

		if (e)
			n += count_level(mm, entry_table(mm, e), level - 1);
	}
	return n;
}

/**
 * pgtable_count - tables allocated for mm, the pgd included, counted by
 * walking the tree (so it can be checked against mm->nr_ptes).
 * page_table_lock held (or the mm quiescent).
 */
unsigned long pgtable_count(struct umm_mm *mm)
{
	if (!mm->pgd)
		return 0;
	return count_level(mm, mm->pgd, PT_LEVELS);
}

/**
 * pte_modify - a mapped pte's access bits for vm_flags: PROTNONE when the
 * vma grants no access, PRESENT otherwise; the write bit is dropped when
 * the vma is not writable and never granted here (a write fault grants it).
 * Pfn, young, dirty and special bits are kept.  No locks.
 */
pte_t pte_modify(pte_t pte, unsigned long vm_flags)
{
	VM_BUG_ON(!pte_present(pte));
	if (!(vm_flags & VM_ACCESS_FLAGS))
		return (pte & ~(PTE_PRESENT | PTE_RW)) | PTE_PROTNONE;
	pte = (pte & ~PTE_PROTNONE) | PTE_PRESENT;
	if (!(vm_flags & VM_WRITE))
		pte &= ~PTE_RW;
	return pte;
}
