/* SPDX-License-Identifier: MIT */
/*
 * rmap.h - the reverse-map interface: from a page to the ptes that map it.
 *
 * Two schemes sit behind this one interface, chosen per system by
 * umm_config.rmap (sys->cfg.rmap; the choice is a predicted branch on that
 * field, no indirect call):
 *
 *   UMM_RMAP_PTE_CHAIN (rmap_ptechain.c): every page records the ptes
 *     that map it: page->rmap is one "direct" pte pointer while a single
 *     pte maps the page, else a chain of blocks of pte pointers from a
 *     slab cache.  A pte table's struct page knows its mm and base
 *     address (pt_mm, pt_addr), so a pte pointer leads back to (mm,
 *     address).  Per-page bit lock PG_chainlock.
 *   UMM_RMAP_OBJECT (rmap_object.c): nothing per mapping.  An anonymous
 *     page points to the anon_vma of the vma it was first mapped in
 *     (shared by the vmas of one fork family, kept across split, merge
 *     and mremap), whose list gives the candidate vmas; a page-cache page
 *     is found through its object's vmas.  The address in a vma
 *     follows from page->index (linear index for anon pages, file offset
 *     for cache pages); file vmas come from the object's interval tree
 *     (i_mmap_tree.c); nonlinear vmas are scanned.
 *
 * Map counts (page->_mapcount) and sys->nr_anon are kept here for both
 * schemes.
 *
 * Locks (order in lockdep.h).  The add/remove/move hooks run with the
 * lock of the pte table holding ptep (checked in debug builds), after
 * the point of no return: they never fail, sleep or allocate.  The
 * pte-chain scheme needs a chain block for some adds: the caller reserves
 * blocks with rmap_prepare() before taking the table lock and gives back
 * the unused ones with rmap_unprepare() (a no-op in the object scheme).
 * The hooks take PG_chainlock (pte chains) inside the table lock.
 *
 * The walks (rmap_walk, page_referenced, try_to_unmap, page_mkclean) are
 * called with no page-table lock held, the page locked (or the system
 * quiescent, for the invariant checker) and a reference on the page:
 *   pte chains: PG_chainlock, then each pte table lock by TRYLOCK (the
 *     fault path takes them in the opposite order); a failed trylock
 *     skips that pte.  Blocking walks (RMAP_WALK_WAIT) drop the chain
 *     lock and start again instead.
 *   object: anon pages: sys->anon_vma_lock (a leaf, to pin the anon_vma),
 *     then anon_vma->lock, each mm's page_table_lock and the pte table
 *     lock; cache pages: obj->i_mmap_lock, page_table_lock, the pte table
 *     lock.  The table lock is a trylock unless RMAP_WALK_WAIT.
 */
#ifndef UMM_RMAP_H
#define UMM_RMAP_H

#include <pthread.h>
#include "mm.h"
#include "pgtable.h"

/* try_to_unmap outcomes (the seed's names). */
enum {
	SWAP_SUCCESS = 0,   /* no pte maps the page any more */
	SWAP_AGAIN = 1,     /* some ptes were left: a trylock failed, try later */
	SWAP_FAIL = 2,      /* the page must not be unmapped: mlocked or pinned */
};

/*
 * struct anon_vma - object-based rmap of anonymous pages: the vmas that
 * may map a page first mapped in any of them.  One per fork family of a
 * vma (parent and children share it).  refcount counts the vmas pointing
 * to it (under sys->anon_vma_lock); the list is under lock.
 */
struct anon_vma {
	pthread_mutex_t lock;         /* LOCK_ANON_VMA: head, and its vmas' ranges */
	struct list_head head;        /* vm_area_struct.anon_vma_link */
	long refcount;                /* [sys->anon_vma_lock] vmas pointing here + walkers */
	struct umm_system *sys;
};

/* page->rmap tag of an anon page's anon_vma (object scheme); bit 0 tags a direct pte (pte chains). */
#define PAGE_RMAP_DIRECT   1UL
#define PAGE_RMAP_ANON_VMA 2UL
/* Bytes of one pte-chain block. */
#define PTE_CHAIN_BYTES 64

/*
 * set_page_rmap - store page->rmap (atomically: rmap_walk peeks at an
 * anon page's tag without the chain lock to pick the scheme).
 */
static inline void set_page_rmap(struct page *page, void *v)
{
	__atomic_store_n(&page->rmap, v, __ATOMIC_RELEASE);
}

/* page_anon_vma - the anon_vma an anon page points to (object scheme), else NULL. */
static inline struct anon_vma *page_anon_vma(const struct page *page)
{
	uintptr_t r = (uintptr_t)__atomic_load_n(&page->rmap, __ATOMIC_ACQUIRE);

	return (r & PAGE_RMAP_ANON_VMA) ? (struct anon_vma *)(r & ~PAGE_RMAP_ANON_VMA) : NULL;
}

/* ---- the mapping hooks (pte table lock held) ---- */

/*
 * page_add_new_anon_rmap - first mapping of a freshly allocated anon page
 * (sets PG_anon, index) and its addition to the LRU (lru_cache_add): the
 * page must be on no LRU list yet.
 */
void page_add_new_anon_rmap(struct page *page, struct vm_area_struct *vma, uintptr_t addr, pte_t *ptep);
/* page_add_anon_rmap - another mapping of an existing anon page (fork).  Needs a reserved block (pte chains). */
void page_add_anon_rmap(struct page *page, struct vm_area_struct *vma, uintptr_t addr, pte_t *ptep);
/* page_add_file_rmap - a mapping of a page-cache page.  Needs a reserved block (pte chains). */
void page_add_file_rmap(struct page *page, struct vm_area_struct *vma, uintptr_t addr, pte_t *ptep);
/* page_remove_rmap - a pte stopped mapping the page. */
void page_remove_rmap(struct page *page, struct vm_area_struct *vma, uintptr_t addr, pte_t *ptep);
/*
 * page_move_rmap - mremap moved the pte mapping page from old_ptep
 * (old_addr) to new_ptep (new_addr): map count unchanged, no allocation.
 * Both table locks held.
 */
void page_move_rmap(struct page *page, pte_t *old_ptep, struct vm_area_struct *new_vma,
		    uintptr_t new_addr, pte_t *new_ptep);

/*
 * rmap_prepare - reserve chain blocks so that the next `n` hooks of this
 * thread never allocate (pte chains; nothing to do for object rmap).  No
 * page-table lock held (may allocate).  0 or -ENOMEM.
 */
int rmap_prepare(struct umm_system *sys, unsigned int n);
/* rmap_reserved - does this thread hold a reserved block (or need none)?  Any locks. */
bool rmap_reserved(struct umm_system *sys);
/* rmap_unprepare - give back this thread's unused reserved blocks.  Any locks (slab lock is a leaf). */
void rmap_unprepare(struct umm_system *sys);

/* ---- anon_vma (object scheme; vma.c and the fault path call these) ---- */

/*
 * anon_vma_prepare - give a private vma an anon_vma before its first
 * anonymous page is mapped (object scheme; no-op otherwise or if it has
 * one).  mmap_lock held (read); no page-table lock.  0 or -ENOMEM.
 */
int anon_vma_prepare(struct vm_area_struct *vma);
/* anon_vma_get - one more vma points to av (vma_dup).  Takes sys->anon_vma_lock. */
void anon_vma_get(struct anon_vma *av);
/* anon_vma_put - a vma stopped pointing to av (vma_free): freed with the last.  Takes sys->anon_vma_lock. */
void anon_vma_put(struct anon_vma *av);
/* anon_vma_lock / anon_vma_unlock - av->lock (LOCK_ANON_VMA). */
void anon_vma_lock(struct anon_vma *av);
void anon_vma_unlock(struct anon_vma *av);

/* ---- the walks (no page-table lock held; page locked or system quiescent) ---- */

/* One pte that maps the page, as a walk presents it (its table lock held). */
struct rmap_pte {
	struct umm_mm *mm;
	struct vm_area_struct *vma;   /* object scheme; NULL under pte chains (no mmap_lock) */
	uintptr_t address;
	pte_t *ptep;
};

/* rmap_one_fn results */
#define RMAP_CONT     0   /* go on */
#define RMAP_STOP     1   /* stop the walk */
#define RMAP_UNMAPPED 2   /* fn cleared the pte (and will drop its reference): the walk removes the mapping */

typedef int (*rmap_one_fn)(struct page *page, const struct rmap_pte *rp, void *arg);

/* rmap_walk flags */
#define RMAP_WALK_WAIT 0x1   /* wait for busy pte table locks instead of skipping those ptes */
#define RMAP_WALK_TRYLOCK 0x2 /* reclaim: a thread holding an anon_vma->lock or i_mmap_lock
                                (rmap_locks_held) only trylocks them; a busy one skips the
                                walk (counted as the page's map count) */

/*
 * rmap_walk - call fn for every pte that maps page, with that pte's
 * table lock held.  Without RMAP_WALK_WAIT a pte whose table lock is busy
 * is skipped; with it, fn may see a pte twice (pte chains restart) and
 * must be idempotent.  Returns the number of ptes skipped.
 */
int rmap_walk(struct page *page, rmap_one_fn fn, void *arg, unsigned int flags);
/*
 * page_referenced - count and clear the young bits of the ptes that map
 * page; a pte whose table lock is busy counts as referenced (someone is
 * using it).  Walks with RMAP_WALK_TRYLOCK (it serves reclaim, which
 * may run inside an allocation).  Returns the count.
 */
int page_referenced(struct page *page);
/*
 * try_to_unmap - remove every pte that maps page.  An anonymous page's
 * ptes are replaced by swp_pte (a swap entry, pte_is_swap; required: a
 * slot of the swap device in use, each swap pte written counting one
 * holder through swap_duplicate, and MM_SWAPENTS); a
 * cache page's are cleared (nonlinear vmas, object scheme: a file pte).
 * Dirty bits go to the page.  The caller holds a reference and the page
 * lock.  Walks with RMAP_WALK_TRYLOCK.  Returns SWAP_SUCCESS, SWAP_AGAIN
 * (a table, anon_vma or i_mmap lock was busy: some ptes left) or
 * SWAP_FAIL (pinned: references beyond the mappings, the page or swap
 * cache and the caller's; a swap entry swap_duplicate refuses; mlocked:
 * PG_unevictable or a VM_LOCKED vma;
 * an anon page without a swap entry), nothing changed for a failure
 * found before the walk.
 */
int try_to_unmap(struct page *page, pte_t swp_pte);
/*
 * page_mkclean - write-protect and clean every pte mapping a locked
 * page-cache page and flush the TLB for them, so the next write faults and
 * dirties the page again (writeback: after clearing PG_dirty, before
 * writing).  Waits for busy table locks.  Returns how many ptes were
 * dirty.  Installed as sys->page_mkclean.
 */
int page_mkclean(struct page *page);

/* rmap_system_init / rmap_system_destroy - the scheme's caches.  0 or -ENOMEM; destroy returns leaked objects. */
int rmap_system_init(struct umm_system *sys);
unsigned long rmap_system_destroy(struct umm_system *sys);
/* rmap_get_stats - reverse-map entries (pte chains: ptes recorded) and bytes of rmap metadata. */
void rmap_get_stats(struct umm_system *sys, unsigned long *entries, unsigned long *bytes);

/* ---- the schemes (rmap.c dispatches; nobody else calls these) ---- */

void ptechain_add(struct page *page, pte_t *ptep);
void ptechain_remove(struct page *page, pte_t *ptep);
void ptechain_move(struct page *page, pte_t *old_ptep, pte_t *new_ptep);
int ptechain_walk(struct page *page, rmap_one_fn fn, void *arg, unsigned int flags);
int ptechain_init(struct umm_system *sys);
unsigned long ptechain_destroy(struct umm_system *sys);
int object_rmap_walk(struct page *page, rmap_one_fn fn, void *arg, unsigned int flags);

/* rmap_count_removed - a walk removed one mapping of page (map count, nr_anon).  ptl held. */
void rmap_count_removed(struct page *page, struct umm_mm *mm);

static inline bool rmap_ptechain(const struct umm_system *sys)
{
	return sys->cfg.rmap == UMM_RMAP_PTE_CHAIN;
}

#endif
