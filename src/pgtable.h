/* SPDX-License-Identifier: MIT */
/*
 * pgtable.h - the 4-level page table and the pte format.
 *
 * Virtual address (48 bits used):
 *   47..39 pgd index | 38..30 pud index | 29..21 pmd index | 20..12 pte index | 11..0 offset
 * Each table is one frame of 512 64-bit entries.  An upper-level entry is
 * 0 (no table) or (pfn of the next table << 12) | PTE_PRESENT.
 *
 * A pte is one 64-bit word:
 *   bit  0  PTE_PRESENT   valid translation (accessible per the bits below)
 *   bit  1  PTE_RW        writable (present ptes); PTE_SWP when not present
 *   bit  5  PTE_YOUNG     accessed since last cleared (set by the walker)
 *   bit  6  PTE_DIRTY     written since last cleared (set by the walker)
 *   bit  7  PTE_FILE      not present: bits 63..12 hold a file page offset
 *   bit  8  PTE_PROTNONE  mapped (frame held, counted) but inaccessible (PROT_NONE)
 *   bit  9  PTE_SPECIAL   maps the shared zero page: no refcount, no rmap
 *   bit 10  PTE_OWNPROT   nonlinear windows: the pte carries its own protection
 *                         (bits 11, 4) in place of the vma's (present, file and
 *                         swap ptes)
 *   bit 11  PTE_OWN_WRITE with PTE_OWNPROT: writable (PROT_WRITE)
 *   bit  4  PTE_OWN_EXEC  with PTE_OWNPROT: executable (PROT_EXEC); in a swap
 *                         pte bit 4 is the type's, and PTE_SWP_OWN_EXEC (bit 9)
 *                         holds it instead
 *   bits 51..12           pfn (present or protnone ptes)
 * Non-present encodings:
 *   0                      empty
 *   PTE_SWP                swap entry: type in bits 6..2, offset in bits 63..12;
 *                          may carry PTE_OWNPROT, PTE_OWN_WRITE, PTE_SWP_OWN_EXEC
 *   PTE_FILE               nonlinear file offset (pgoff) in bits 63..12,
 *                          so a file pte encodes offsets up to PTE_FILE_MAX_PGOFF;
 *                          may carry the PTE_OWNPROT bits
 * "Mapped" (pte_present) means PRESENT or PROTNONE: the frame is held.
 *
 * Locking (the order is in lockdep.h).  Split page-table locks: each pte
 * table (level-1 table page) has its own lock, ptl, in its struct page;
 * every pte of the table and the table's pt_used are read and written
 * under it.  mm->page_table_lock guards the upper levels: installing a
 * table into its parent (a new pte table into its pmd included), the
 * upper tables' pt_used, and freeing tables.  Page tables are freed only
 * with mmap_lock held for write as well (free_pgtables), so a thread that
 * holds mmap_lock (read or write) or page_table_lock walks the upper
 * levels with no lock and may keep a pte pointer; it takes the table's
 * ptl to act on the pte.  Page-table pages are allocated with no lock held
 * and installed under page_table_lock (or freed again if another thread
 * installed one first), so a lockless walker never sees a table that is
 * then taken away.  pt_used (in the table frame's struct page) counts the
 * table's non-empty entries; set_pte_at()/pte_clear() keep it.
 */
#ifndef UMM_PGTABLE_H
#define UMM_PGTABLE_H

#include "mm.h"
#include "page_alloc.h"
#include "lockdep.h"
#include "fmutex.h"

typedef uint64_t pte_t;

#define PTRS_PER_TABLE 512
#define PTE_SHIFT 12
#define PMD_SHIFT 21
#define PUD_SHIFT 30
#define PGD_SHIFT 39
#define PMD_SIZE (1UL << PMD_SHIFT)     /* bytes one pte table maps */
#define PUD_SIZE (1UL << PUD_SHIFT)
#define PGD_SIZE (1UL << PGD_SHIFT)

#define PTE_PRESENT  (1ULL << 0)
#define PTE_RW       (1ULL << 1)
#define PTE_SWP      (1ULL << 1)
#define PTE_YOUNG    (1ULL << 5)
#define PTE_DIRTY    (1ULL << 6)
#define PTE_FILE     (1ULL << 7)
#define PTE_PROTNONE (1ULL << 8)
#define PTE_SPECIAL  (1ULL << 9)
#define PTE_OWNPROT  (1ULL << 10)
#define PTE_OWN_WRITE (1ULL << 11)
#define PTE_OWN_EXEC (1ULL << 4)
#define PTE_OWNPROT_MASK (PTE_OWNPROT | PTE_OWN_WRITE | PTE_OWN_EXEC)
#define PTE_SWP_OWN_EXEC (1ULL << 9)    /* swap ptes: PTE_OWN_EXEC (bit 4 is the type's) */
#define PTE_SWP_OWNPROT_MASK (PTE_OWNPROT | PTE_OWN_WRITE | PTE_SWP_OWN_EXEC)
#define PTE_PFN_MASK 0x000ffffffffff000ULL
#define PTE_FILE_MAX_PGOFF ((1ULL << 52) - 1)   /* largest pgoff a file pte holds */

static inline bool pte_none(pte_t p) { return p == 0; }
static inline bool pte_present(pte_t p) { return (p & (PTE_PRESENT | PTE_PROTNONE)) != 0; }
static inline bool pte_accessible(pte_t p) { return (p & PTE_PRESENT) != 0; }
static inline bool pte_protnone(pte_t p) { return (p & (PTE_PRESENT | PTE_PROTNONE)) == PTE_PROTNONE; }
static inline bool pte_write(pte_t p) { return (p & (PTE_PRESENT | PTE_RW)) == (PTE_PRESENT | PTE_RW); }
static inline bool pte_young(pte_t p) { return p & PTE_YOUNG; }
static inline bool pte_dirty(pte_t p) { return p & PTE_DIRTY; }
static inline bool pte_special(pte_t p) { return pte_present(p) && (p & PTE_SPECIAL); }
static inline unsigned long pte_pfn(pte_t p) { return (unsigned long)((p & PTE_PFN_MASK) >> PAGE_SHIFT); }
static inline pte_t pfn_pte(unsigned long pfn, pte_t bits) { return ((pte_t)pfn << PAGE_SHIFT) | bits; }
static inline pte_t pte_mkwrite(pte_t p) { return p | PTE_RW; }
static inline pte_t pte_wrprotect(pte_t p) { return p & ~PTE_RW; }
static inline pte_t pte_mkyoung(pte_t p) { return p | PTE_YOUNG; }
static inline pte_t pte_mkold(pte_t p) { return p & ~PTE_YOUNG; }
static inline pte_t pte_mkdirty(pte_t p) { return p | PTE_DIRTY; }
static inline pte_t pte_mkclean(pte_t p) { return p & ~PTE_DIRTY; }

static inline bool pte_is_swap(pte_t p) { return !pte_present(p) && (p & PTE_SWP); }
static inline bool pte_is_file(pte_t p) { return !pte_present(p) && !(p & PTE_SWP) && (p & PTE_FILE); }
/* mk_swap_pte - a swap pte of any type (swap.h's swp_entry_to_pte makes the device's, type 0). */
static inline pte_t mk_swap_pte(unsigned type, uint64_t offset) { return (offset << 12) | ((pte_t)(type & 31) << 2) | PTE_SWP; }
static inline unsigned pte_swp_type(pte_t p) { return (unsigned)((p >> 2) & 31); }
static inline uint64_t pte_swp_offset(pte_t p) { return p >> 12; }
static inline pte_t pgoff_to_pte(uint64_t pgoff) { return (pgoff << 12) | PTE_FILE; }
static inline uint64_t pte_to_pgoff(pte_t p) { return p >> 12; }

/*
 * Per-pte protection (nonlinear windows, fremap.c).  A pte with
 * PTE_OWNPROT is governed by its own bits instead of its vma's access
 * flags: always readable (x86: any of R/W/X allows reads), writable with
 * PTE_OWN_WRITE, executable with PTE_OWN_EXEC.  Only present (accessible),
 * file and swap ptes of VM_NONLINEAR vmas carry them: a private copy in a
 * window that is swapped out keeps its page's protection in its swap pte
 * (rmap.c try_to_unmap) and gets it back when it is swapped in (memory.c
 * do_swap_page).  A swap pte uses bits 6..2 for the type, so its exec bit
 * is PTE_SWP_OWN_EXEC; pte_ownprot_bits and swp_pte_ownprot convert.
 * mprotect resets them.
 */
static inline bool pte_ownprot(pte_t p) { return (p & PTE_OWNPROT) != 0; }
/* pte_ownprot_bits - p's own protection as PTE_OWNPROT_MASK bits (0: none), whatever p's kind. */
static inline pte_t pte_ownprot_bits(pte_t p)
{
	if (!(p & PTE_OWNPROT))
		return 0;
	if (pte_is_swap(p))
		return (p & (PTE_OWNPROT | PTE_OWN_WRITE)) | ((p & PTE_SWP_OWN_EXEC) ? PTE_OWN_EXEC : 0);
	return p & PTE_OWNPROT_MASK;
}
/* swp_pte_ownprot - swap pte swp carrying own (PTE_OWNPROT_MASK bits, 0: none). */
static inline pte_t swp_pte_ownprot(pte_t swp, pte_t own)
{
	if (!(own & PTE_OWNPROT))
		return swp;
	return swp | (own & (PTE_OWNPROT | PTE_OWN_WRITE)) | ((own & PTE_OWN_EXEC) ? PTE_SWP_OWN_EXEC : 0);
}
/* vm_flags_to_ownprot - the PTE_OWNPROT bits for VM_* access flags (non-empty). */
static inline pte_t vm_flags_to_ownprot(unsigned long vm_flags)
{
	return PTE_OWNPROT | ((vm_flags & VM_WRITE) ? PTE_OWN_WRITE : 0) |
	       ((vm_flags & VM_EXEC) ? PTE_OWN_EXEC : 0);
}
/*
 * pte_vm_flags - the flags an access through pte obeys: the vma's, with
 * the access bits replaced by the pte's own when it has PTE_OWNPROT.
 */
static inline unsigned long pte_vm_flags(unsigned long vm_flags, pte_t p)
{
	pte_t own = pte_ownprot_bits(p);

	if (!own)
		return vm_flags;
	return (vm_flags & ~VM_ACCESS_FLAGS) | VM_READ |
	       ((own & PTE_OWN_WRITE) ? VM_WRITE : 0) | ((own & PTE_OWN_EXEC) ? VM_EXEC : 0);
}

/*
 * pte_modify - a mapped pte's access bits for new vm_flags: PROT_NONE
 * vmas get PROTNONE ptes, readable ones PRESENT; write permission is
 * removed when the vma is not writable and never added (a write fault
 * adds it, breaking COW or marking the page dirty as needed).
 */
pte_t pte_modify(pte_t pte, unsigned long vm_flags);

static inline unsigned pgd_index(uintptr_t a) { return (a >> PGD_SHIFT) & 511; }
static inline unsigned pud_index(uintptr_t a) { return (a >> PUD_SHIFT) & 511; }
static inline unsigned pmd_index(uintptr_t a) { return (a >> PMD_SHIFT) & 511; }
static inline unsigned pte_index(uintptr_t a) { return (a >> PTE_SHIFT) & 511; }

/* pgd_alloc - give mm an empty top-level table.  0 or -ENOMEM. */
int pgd_alloc(struct umm_mm *mm);
/* pgd_free - free every table of mm (all ptes must be empty: debug-checked).  mm unreachable. */
void pgd_free(struct umm_mm *mm);

/* ---- locks ---- */

/* page_table_lock / page_table_unlock - mm->page_table_lock (LOCK_PAGE_TABLE). */
static inline void page_table_lock(struct umm_mm *mm)
{
	lockdep_acquire(&mm->page_table_lock, LOCK_PAGE_TABLE, 0, 0);
	fmutex_lock(&mm->page_table_lock);
}
static inline void page_table_unlock(struct umm_mm *mm)
{
	fmutex_unlock(&mm->page_table_lock);
	lockdep_release(&mm->page_table_lock);
}

/* ptl_lock / ptl_lock_nested / ptl_unlock - a pte table's lock (LOCK_PTL). */
static inline void ptl_lock_nested(struct fmutex *ptl, unsigned int subclass)
{
	lockdep_acquire(ptl, LOCK_PTL, subclass, 0);
	fmutex_lock(ptl);
}
static inline void ptl_lock(struct fmutex *ptl) { ptl_lock_nested(ptl, 0); }
static inline void ptl_unlock(struct fmutex *ptl)
{
	fmutex_unlock(ptl);
	lockdep_release(ptl);
}

/* pte_table_page - the struct page of the pte table that holds ptep.  No locks. */
static inline struct page *pte_table_page(struct umm_mm *mm, const pte_t *ptep)
{
	return virt_to_page(mm->sys->phys, (const void *)((uintptr_t)ptep & PAGE_MASK));
}
/* pte_lockptr - the lock of the pte table that holds ptep.  No locks. */
static inline struct fmutex *pte_lockptr(struct umm_mm *mm, const pte_t *ptep)
{
	return &pte_table_page(mm, ptep)->ptl;
}
/* assert_pte_locked - debug builds: this thread holds ptep's table lock. */
#define assert_pte_locked(mm, ptep) lockdep_assert_held(pte_lockptr(mm, ptep))
/* assert_pgtables_stable - debug builds: mmap_lock or page_table_lock held (tables stay). */
#define assert_pgtables_stable(mm) \
	VM_BUG_ON(!lockdep_is_held(&(mm)->mmap_lock) && !lockdep_is_held(&(mm)->page_table_lock))

/*
 * ptep_get_lockless - read a pte without its table's lock: a snapshot that
 * may change at once, good only as a hint to be confirmed under ptl.
 * The table must stay (mmap_lock or page_table_lock held).
 */
static inline pte_t ptep_get_lockless(const pte_t *ptep)
{
	return __atomic_load_n(ptep, __ATOMIC_RELAXED);
}

/* ---- lookup and allocation ---- */

/*
 * pte_offset_map - the pte slot for addr, or NULL if a table on the way is
 * missing.  No lock taken: the caller holds mmap_lock (read or write) or
 * page_table_lock, which keeps the tables; reading or writing the pte
 * needs its table's lock.
 */
pte_t *pte_offset_map(struct umm_mm *mm, uintptr_t addr);
/*
 * pte_offset_map_lock - as pte_offset_map, and take the slot's table lock
 * (*ptlp).  NULL (nothing taken) if a table is missing.
 */
pte_t *pte_offset_map_lock(struct umm_mm *mm, uintptr_t addr, struct fmutex **ptlp);
/* pte_unmap_unlock - drop the lock pte_offset_map_lock/pte_alloc_map_lock took. */
static inline void pte_unmap_unlock(pte_t *ptep, struct fmutex *ptl)
{
	(void)ptep;
	ptl_unlock(ptl);
}
/*
 * __pte_alloc - make sure every table down to addr's pte table exists.
 * The missing tables are allocated with no lock held and installed under
 * page_table_lock (taken here); a table another thread installed first is
 * kept and ours freed.  No pte table lock may be held (lock order).
 * mmap_lock held (read or write), or the mm private to the caller.
 * 0, or -ENOMEM (or an address outside the 48-bit space) with nothing changed.
 */
int __pte_alloc(struct umm_mm *mm, uintptr_t addr);
/* pte_alloc - __pte_alloc, then the slot (pte_offset_map); NULL on failure.  No ptl taken. */
pte_t *pte_alloc(struct umm_mm *mm, uintptr_t addr);
/* pte_alloc_map_lock - pte_alloc, and take the slot's table lock (*ptlp).  NULL: nothing held. */
pte_t *pte_alloc_map_lock(struct umm_mm *mm, uintptr_t addr, struct fmutex **ptlp);

/* set_pte_at / pte_clear / ptep_get_and_clear - write a slot, keeping the table's pt_used.  ptl held. */
void set_pte_at(struct umm_mm *mm, uintptr_t addr, pte_t *ptep, pte_t pte);
pte_t ptep_get_and_clear(struct umm_mm *mm, uintptr_t addr, pte_t *ptep);
static inline void pte_clear(struct umm_mm *mm, uintptr_t addr, pte_t *ptep) { (void)ptep_get_and_clear(mm, addr, ptep); }

/*
 * walk_pte_range - call fn for every non-empty pte in [start, end), in
 * address order, skipping missing tables.  Each pte table's lock is taken
 * around the calls for its ptes (fn may change the pte via set_pte_at,
 * and must not take page_table_lock or another ptl).  A non-zero return
 * from fn stops the walk and is returned.  The caller holds mmap_lock
 * (read or write) or page_table_lock, and no ptl.
 */
typedef int (*pte_fn_t)(struct umm_mm *mm, pte_t *ptep, uintptr_t addr, void *arg);
int walk_pte_range(struct umm_mm *mm, uintptr_t start, uintptr_t end, pte_fn_t fn, void *arg);
/*
 * walk_pte_tables - call fn once for each pte table present in [start,
 * end), with ptep the slot for addr and [addr, end) the part of the range
 * the table maps; fn is called with NO lock of the table held and takes
 * what it needs.  Stops at and returns fn's first non-zero value.  Caller
 * holds mmap_lock (read or write) or page_table_lock.
 */
typedef int (*pte_table_fn_t)(struct umm_mm *mm, pte_t *ptep, uintptr_t addr, uintptr_t end, void *arg);
int walk_pte_tables(struct umm_mm *mm, uintptr_t start, uintptr_t end, pte_table_fn_t fn, void *arg);
/*
 * free_pgtables - free the tables in [start, end) that have become empty,
 * and upper tables left empty by that.  mmap_lock held for write; takes
 * page_table_lock; no ptl held.
 */
void free_pgtables(struct umm_mm *mm, uintptr_t start, uintptr_t end);
/* pgtable_count - tables currently allocated for mm (pgd included).  page_table_lock held. */
unsigned long pgtable_count(struct umm_mm *mm);

#endif
