/* SPDX-License-Identifier: MIT */
/*
 * page.h - the frame descriptor (struct page) and its flag bits.
 *
 * One struct page describes one 4 KiB frame of the physical arena.  The
 * descriptor array sits right after a struct phys_mem header at the start
 * of a naturally aligned virtual region (see page_alloc.h), so the arena a
 * page belongs to is found by masking the descriptor's address:
 * page_to_phys(), page_address() and page_to_pfn() need no lookup.
 *
 * Lock legend for the fields below:
 *   [A] atomic, no lock        [P] page lock (PG_locked)
 *   [T] owner object's tree_lock (page cache membership)
 *   [Z] the arena's zone lock while the frame is free (buddy/pcp)
 *   [L] LRU lock (vmscan.c)          [S] slab cache lock
 *   [PT] the owning mm's page_table_lock (upper-level page tables)
 *   [PTL] the pte table's own lock (ptl, in the table's struct page)
 *
 * Lifecycle of a frame:
 *   free (PG_buddy, in a buddy list or a per-thread cache, refcount 0)
 *     -> allocated (refcount 1) -> one of:
 *        page cache page (mapping = object, index = page offset in object;
 *                         the cache holds one reference)
 *        anonymous page  (PG_anon, mapping = NULL, index = linear page index)
 *        page-table page (PG_pgtable, pt_* fields)
 *        slab page       (PG_slab, slab_* fields)
 *     -> last put_page() -> free.
 *   _mapcount counts the ptes that map the page (0 = unmapped).  The shared
 *   zero page and other PG_reserved frames are never refcounted or freed.
 */
#ifndef UMM_PAGE_H
#define UMM_PAGE_H

#include <stdatomic.h>
#include <stdint.h>
#include "compiler.h"
#include "fmutex.h"

#define PAGE_SHIFT 12
#define PAGE_SIZE  (1UL << PAGE_SHIFT)
#define PAGE_MASK  (~(PAGE_SIZE - 1))

enum pageflags {
	PG_locked,       /* page lock held (I/O in flight, or being (un)mapped) */
	PG_referenced,   /* software referenced bit for LRU aging */
	PG_dirty,        /* contents differ from the backing store */
	PG_uptodate,     /* contents valid */
	PG_lru,          /* on an LRU list */
	PG_active,       /* on the active LRU list */
	PG_swapcache,    /* in the swap cache; private holds the swap entry */
	PG_unevictable,  /* mlocked or otherwise unreclaimable */
	PG_writeback,    /* write to backing store in flight */
	PG_error,        /* last I/O on this page failed */
	PG_reserved,     /* never allocated/freed: zero page, arena metadata */
	PG_buddy,        /* free, head of a buddy block, `order` valid */
	PG_anon,         /* anonymous (private) memory */
	PG_slab,         /* belongs to a slab cache */
	PG_pgtable,      /* a page-table page */
	PG_anon_exclusive, /* anon page only one pte can reach: reused on write whatever its refcount (memory.c) */
	PG_readahead,    /* read ahead, not used since (readahead.h) */
	PG_chainlock,    /* pte-chain scheme: bit lock of page->rmap (rmap_ptechain.c) */
	PG_lru_batch,    /* in a per-thread LRU batch, not yet on a list (vmscan.c) */
	PG_swapbacked,   /* anon or shmem: reclaimed to swap, not to a file (vmscan.c) */
	PG_zeroed,       /* a new cache page allocated zero-filled, not written since: its readpage need not zero it (filemap.c) */
	NR_PAGEFLAGS
};
/*
 * The top byte of flags belongs to vmscan.c: while PG_lru_batch is set,
 * bits 24..27 name the batch (a thread slot); while PG_lru is set, bits
 * 28..30 name the LRU list the page is on.  Written under the batch's
 * lock or the LRU lock, with atomic read-modify-writes.
 */
#define PAGE_LRU_BATCH_SHIFT 24
#define PAGE_LRU_LIST_SHIFT  28
_Static_assert(NR_PAGEFLAGS <= PAGE_LRU_BATCH_SHIFT, "page flag bits overlap the LRU byte");

struct umm_object;
struct umm_mm;
struct kmem_cache;
struct phys_mem;

struct page {
	_Atomic uint32_t flags;        /* [A] enum pageflags bits */
	unsigned int order;            /* [Z] buddy order when PG_buddy (the allocator's, see page_alloc.c) */
	_Atomic int _refcount;         /* [A] users of the frame; 0 = free */
	_Atomic int _mapcount;         /* [A] ptes mapping it */
	union {                        /* 24 bytes; what the frame is used for decides */
		struct {                       /* page cache / anonymous */
			struct umm_object *mapping;  /* [T] owner object, NULL for anon */
			uint64_t index;              /* [T] page index in owner */
			unsigned long private;       /* [P] swap entry when PG_swapcache (reserved
			                                for the swap/reclaim work); an anon page
			                                copied in a private nonlinear window:
			                                its object page + 1 (memory.c
			                                copy_origin), set before it is mapped */
		};
		struct {                       /* slab page */
			struct kmem_cache *slab_cache;  /* [S] */
			void *slab_freelist;            /* [S] */
			unsigned int slab_inuse;        /* [S] */
		};
		struct {                       /* page-table page */
			struct umm_mm *pt_mm;           /* owning address space (set at install) */
			uintptr_t pt_addr;              /* first address it maps (set at install) */
			uint16_t pt_level;              /* 1 = pte table .. 4 = pgd (set at install) */
			uint16_t pt_used;               /* [PTL] pte table, [PT] upper table: non-empty entries */
			struct fmutex ptl;              /* pte table lock (pte tables only) */
		};
	};
	struct list_head lru;          /* [Z] buddy/pcp list, [S] slab list; [L] an LRU list
	                                  while PG_lru (vmscan.c), else the private list of
	                                  the reclaimer that isolated the page */
	void *rmap;                    /* reverse map (rmap.h): pte-chain scheme: NULL, a
	                                  direct pte pointer (bit 0 set) or the first chain
	                                  block, under PG_chainlock; object scheme: the
	                                  anon_vma of an anon page (set at its first mapping) */
};

/*
 * 64 bytes per frame, as Linux's.  The words reserved for the reverse-map
 * and reclaim work are there: rmap (every page, used by the reverse map),
 * private (page-cache/anon pages) and lru while a page is in use (the
 * LRU lists, vmscan.c).  The
 * union is full in the page-table variant (owner, address, level, count,
 * lock); a new per-use field goes into the union's variant for that use.
 * The allocator clears a fresh frame's union by zeroing from `mapping` up
 * to `lru` (page_alloc.c): keep the union right before lru.
 */
_Static_assert(sizeof(struct page) <= 64, "struct page must stay within 64 bytes");

static inline bool test_bit_flag(const struct page *p, int nr)
{
	return (atomic_load_explicit((_Atomic uint32_t *)&p->flags, memory_order_acquire) >> nr) & 1;
}
static inline void set_page_flag(struct page *p, int nr) { atomic_fetch_or(&p->flags, 1U << nr); }
static inline void clear_page_flag(struct page *p, int nr) { atomic_fetch_and(&p->flags, ~(1U << nr)); }
static inline bool test_and_set_page_flag(struct page *p, int nr)
{
	return (atomic_fetch_or(&p->flags, 1U << nr) >> nr) & 1;
}
static inline bool test_and_clear_page_flag(struct page *p, int nr)
{
	return (atomic_fetch_and(&p->flags, ~(1U << nr)) >> nr) & 1;
}

#define PAGEFLAG(name, bit) \
	static inline bool Page##name(const struct page *p) { return test_bit_flag(p, bit); } \
	static inline void SetPage##name(struct page *p) { set_page_flag(p, bit); } \
	static inline void ClearPage##name(struct page *p) { clear_page_flag(p, bit); } \
	static inline bool TestSetPage##name(struct page *p) { return test_and_set_page_flag(p, bit); } \
	static inline bool TestClearPage##name(struct page *p) { return test_and_clear_page_flag(p, bit); }

PAGEFLAG(Locked, PG_locked)
PAGEFLAG(Referenced, PG_referenced)
PAGEFLAG(Dirty, PG_dirty)
PAGEFLAG(Uptodate, PG_uptodate)
PAGEFLAG(LRU, PG_lru)
PAGEFLAG(Active, PG_active)
PAGEFLAG(SwapCache, PG_swapcache)
PAGEFLAG(Unevictable, PG_unevictable)
PAGEFLAG(Writeback, PG_writeback)
PAGEFLAG(Error, PG_error)
PAGEFLAG(Reserved, PG_reserved)
PAGEFLAG(Buddy, PG_buddy)
PAGEFLAG(Anon, PG_anon)
PAGEFLAG(Slab, PG_slab)
PAGEFLAG(PgTable, PG_pgtable)
PAGEFLAG(AnonExclusive, PG_anon_exclusive)
PAGEFLAG(Chainlock, PG_chainlock)
PAGEFLAG(LRUBatch, PG_lru_batch)
PAGEFLAG(SwapBacked, PG_swapbacked)
PAGEFLAG(Zeroed, PG_zeroed)

static inline int page_count(const struct page *p) { return atomic_load((_Atomic int *)&p->_refcount); }
static inline int page_mapcount(const struct page *p) { return atomic_load((_Atomic int *)&p->_mapcount); }
static inline bool page_mapped(const struct page *p) { return page_mapcount(p) > 0; }

/*
 * get_page / put_page - take and drop a reference.  The last put_page()
 * of an order-0 frame frees it (implemented in page_alloc.c).  Reserved
 * frames are not counted.
 */
static inline void get_page(struct page *p)
{
	if (PageReserved(p))
		return;
	VM_BUG_ON(page_count(p) <= 0);
	atomic_fetch_add(&p->_refcount, 1);
}
void put_page(struct page *p);
/* release_pages - put_page() each of pages[0..nr), the LRU lock taken once per batch. */
void release_pages(struct page **pages, unsigned int nr);

/*
 * Page lock: PG_locked, with sleepers parked on a hashed wait table
 * (implemented in page_lock.c).  lock_page() may block; trylock_page()
 * does not.  Order: see the lock order in lockdep.h.
 */
void lock_page(struct page *p);
bool trylock_page(struct page *p);
void unlock_page(struct page *p);
/* wait_on_page_locked - block until PG_locked is clear (does not take it). */
void wait_on_page_locked(struct page *p);
int page_lock_waiters(const struct page *page);

#endif /* UMM_PAGE_H */
