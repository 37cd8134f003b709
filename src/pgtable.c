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
 * Locks: none taken here.  Every function is called with
 * mm->page_table_lock held; free_pgtables() and pgd_free() also need
 * mmap_lock for write (nobody may hold a pte pointer across them).  The
 * allocator's locks are taken inside (leaves).
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

/* table_alloc - a zeroed table frame of `level` mapping from `addr`. */
static struct page *table_alloc(struct umm_mm *mm, uintptr_t addr, unsigned int level)
{
	struct page *page = alloc_page(mm_phys(mm), GFP_ZERO);

	if (!page)
		return NULL;
	SetPagePgTable(page);
	page->pt_mm = mm;
	page->pt_addr = addr & ~((1UL << (level_shift[level] + 9)) - 1);
	page->pt_level = level;
	page->pt_used = 0;
	atomic_fetch_add(&mm->nr_ptes, 1);
	atomic_fetch_add(&mm->sys->nr_pgtable, 1);
	return page;
}

static void table_free(struct umm_mm *mm, struct page *page)
{
	VM_BUG_ON(!PagePgTable(page) || page->pt_mm != mm);
	VM_BUG_ON(page->pt_used != 0);
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
	struct page *page = table_alloc(mm, 0, PT_LEVELS);

	if (!page)
		return -ENOMEM;
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
		if (!table[i])
			continue;
		uint64_t *child = entry_table(mm, table[i]);
		struct page *cp = table_page(mm, child);

		if (level > 2)
			free_subtree(mm, child, level - 1);
		VM_BUG_ON(cp->pt_used != 0);    /* a pte is still set */
		cp->pt_used = 0;
		table_free(mm, cp);
		table[i] = 0;
		tp->pt_used--;
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
 * pte_lookup - the pte slot for addr, or NULL when a table on the way is
 * missing.  ptl held.
 */
pte_t *pte_lookup(struct umm_mm *mm, uintptr_t addr)
{
	uint64_t *table = mm->pgd;

	if (addr >= ADDR_SPACE_END || !table)
		return NULL;
	for (unsigned int level = PT_LEVELS; level > 1; level--) {
		uint64_t e = table[table_index(addr, level)];

		if (!e)
			return NULL;
		table = entry_table(mm, e);
	}
	return &table[pte_index(addr)];
}

/*
 * undo_new_tables - pte_alloc failed below new tables it installed: they
 * are empty, so take them out again, deepest first.
 */
static void undo_new_tables(struct umm_mm *mm, uint64_t **slots, struct page **pages, int n)
{
	while (n-- > 0) {
		struct page *parent = table_page(mm, slots[n]);

		*slots[n] = 0;
		parent->pt_used--;
		table_free(mm, pages[n]);
	}
}

/**
 * pte_alloc - the pte slot for addr, allocating the missing tables on the
 * way.  ptl held.  Returns NULL on ENOMEM (or an address outside the 48-bit
 * space); tables allocated by a failed call are freed again, so a failure
 * leaves the page table as it was.
 */
pte_t *pte_alloc(struct umm_mm *mm, uintptr_t addr)
{
	uint64_t *slots[PT_LEVELS - 1];
	struct page *pages[PT_LEVELS - 1];
	uint64_t *table = mm->pgd;
	int n = 0;

	if (addr >= ADDR_SPACE_END || !table)
		return NULL;
	for (unsigned int level = PT_LEVELS; level > 1; level--) {
		uint64_t *slot = &table[table_index(addr, level)];

		if (!*slot) {
			struct page *page = table_alloc(mm, addr, level - 1);

			if (!page) {
				undo_new_tables(mm, slots, pages, n);
				return NULL;
			}
			*slot = ((uint64_t)page_to_pfn(page) << PAGE_SHIFT) | PTE_PRESENT;
			table_page(mm, table)->pt_used++;
			slots[n] = slot;
			pages[n] = page;
			n++;
		}
		table = entry_table(mm, *slot);
	}
	return &table[pte_index(addr)];
}

/**
 * pte_table_page - the struct page of the pte table holding ptep.
 */
struct page *pte_table_page(struct umm_mm *mm, pte_t *ptep)
{
	return table_page(mm, (const uint64_t *)((uintptr_t)ptep & PAGE_MASK));
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
	if (pte_none(old) == pte_none(pte)) {
		*ptep = pte;
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
	*ptep = pte;
}

/**
 * ptep_get_and_clear - empty the slot, returning what it held.  ptl held.
 */
pte_t ptep_get_and_clear(struct umm_mm *mm, uintptr_t addr, pte_t *ptep)
{
	pte_t old = *ptep;

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
		      uintptr_t addr, uintptr_t end, pte_fn_t fn, void *arg)
{
	while (addr < end) {
		uintptr_t next = span_next(addr, end, level);
		uint64_t *slot = &table[table_index(addr, level)];
		int ret = 0;

		if (level == 1) {
			if (!pte_none(*slot))
				ret = fn(mm, slot, addr, arg);
		} else if (*slot) {
			ret = walk_level(mm, entry_table(mm, *slot), level - 1, addr, next, fn, arg);
		}
		if (ret)
			return ret;
		addr = next;
	}
	return 0;
}

/**
 * walk_pte_range - call fn on every non-empty pte of [start, end) in
 * address order, skipping missing tables by their whole span.  ptl held.
 * Returns 0, or the first non-zero value fn returned (the walk stops).
 */
int walk_pte_range(struct umm_mm *mm, uintptr_t start, uintptr_t end, pte_fn_t fn, void *arg)
{
	if (!mm->pgd)
		return 0;
	start &= PAGE_MASK;
	if (end > ADDR_SPACE_END)
		end = ADDR_SPACE_END;
	if (start >= end)
		return 0;
	return walk_level(mm, mm->pgd, PT_LEVELS, start, end, fn, arg);
}

/*
 * free_level - free the empty tables below `table` whose span intersects
 * [addr, end); returns true when `table` itself is left empty.
 */
static bool free_level(struct umm_mm *mm, uint64_t *table, unsigned int level,
		       uintptr_t addr, uintptr_t end)
{
	struct page *tp = table_page(mm, table);

	while (addr < end) {
		uintptr_t next = span_next(addr, end, level);
		uint64_t *slot = &table[table_index(addr, level)];

		if (*slot) {
			uint64_t *child = entry_table(mm, *slot);
			struct page *cp = table_page(mm, child);
			bool empty = level == 2 ? cp->pt_used == 0
						: free_level(mm, child, level - 1, addr, next);

			if (empty) {
				*slot = 0;
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
 * never freed.  ptl and mmap_lock (write) held.
 */
void free_pgtables(struct umm_mm *mm, uintptr_t start, uintptr_t end)
{
	if (!mm->pgd)
		return;
	start &= PAGE_MASK;
	if (end > ADDR_SPACE_END)
		end = ADDR_SPACE_END;
	if (start >= end)
		return;
	(void)free_level(mm, mm->pgd, PT_LEVELS, start, end);
}

static unsigned long count_level(struct umm_mm *mm, uint64_t *table, unsigned int level)
{
	unsigned long n = 1;

	if (level == 1)
		return 1;
	for (unsigned int i = 0; i < PTRS_PER_TABLE; i++)
		if (table[i])
			n += count_level(mm, entry_table(mm, table[i]), level - 1);
	return n;
}

/**
 * pgtable_count - tables allocated for mm, the pgd included, counted by
 * walking the tree (so it can be checked against mm->nr_ptes).  ptl held.
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
