/* SPDX-License-Identifier: MIT */
/*
 * rmap_ptechain.c - the pte-chain reverse map (after Rik van Riel's
 * 2002 rmap): each page records the ptes that map it.
 *
 * Theory of operation.  page->rmap is
 *   NULL                       no pte maps the page;
 *   pte pointer | 1            "direct": exactly one pte maps it (the
 *                              common case costs no memory beyond the
 *                              word every struct page has);
 *   struct pte_chain *         two or more: a list of 64-byte blocks of
 *                              NRPTE pte pointers from the system's
 *                              pte_chain slab cache.
 * Chain shape: every block but the first is full; the first holds its
 * entries in slots [0, k).  An add fills the first block's next slot or
 * pushes a new first block; a remove moves the first block's last entry
 * into the hole and frees the first block when it empties; a chain left
 * with one entry becomes direct again.  A pte pointer leads back to its
 * address space and address through the pte table's struct page (pt_mm,
 * pt_addr, and the slot's index in the table), so no vma or mm is stored.
 *
 * Allocation.  The hooks run under a pte table lock after the point of no
 * return, so they must not allocate: an add that needs a block takes one
 * from the calling thread's reserve, filled by rmap_prepare() before the
 * table lock was taken (the fault path for file pages, fork's copy loop)
 * and emptied by rmap_unprepare() when the operation ends.  mremap moves
 * an entry in place (ptechain_move) and needs no block.  The reserve is
 * per thread and only holds blocks between prepare and unprepare, so no
 * block outlives its system.
 *
 * Counters: sys->nr_reverse_maps counts the ptes recorded (direct ones
 * included, as the seed's nr_reverse_maps), sys->nr_pte_chains the blocks
 * in chains (their bytes are the scheme's memory beyond struct page).
 *
 * Locks (order in lockdep.h).  PG_chainlock, a bit lock in page->flags,
 * guards page->rmap and the page's blocks.  The hooks take it with the
 * pte table lock of the pte they record held (pte table lock -> chain
 * lock).  A walk takes the chain lock first and then each pte's table
 * lock by TRYLOCK only: a busy one is skipped (reported to the caller,
 * SWAP_AGAIN for try_to_unmap), or, for a waiting walk, the chain lock is
 * dropped and the walk starts again.  A recorded pte's table cannot be
 * freed while the chain lock is held: the pte is cleared and its entry
 * removed (under this lock) before the table can empty.  The slab cache
 * lock (a leaf) is taken to free blocks under both locks.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include "rmap.h"
#include "slab.h"

#define NRPTE ((PTE_CHAIN_BYTES - sizeof(void *)) / sizeof(pte_t *))
#define PTE_DEAD 2UL   /* entry tag inside a walk: its pte was cleared */

struct pte_chain {
	struct pte_chain *next;
	pte_t *ptes[NRPTE];
};
_Static_assert(sizeof(struct pte_chain) == PTE_CHAIN_BYTES, "a chain block is 64 bytes");

/* The calling thread's reserved blocks (linked by next), between rmap_prepare and rmap_unprepare. */
static __thread struct pte_chain *reserve_list;
static __thread unsigned int reserve_nr;
static __thread struct umm_system *reserve_sys;

static void chain_lock(struct page *page)
{
	while (TestSetPageChainlock(page))
		while (PageChainlock(page))
			sched_yield();
}

static void chain_unlock(struct page *page)
{
	ClearPageChainlock(page);
}

/* chain_alloc - a block for an add under a table lock: the reserve's (a zeroed block). */
static struct pte_chain *chain_alloc(struct umm_system *sys)
{
	struct pte_chain *pc = reserve_list;

	if (pc) {
		VM_BUG_ON(reserve_sys != sys);
		reserve_list = pc->next;
		reserve_nr--;
	} else {
		/* a path that did not reserve: a bug, caught in debug builds */
		VM_BUG_ON(1);
		pc = kmem_cache_alloc(sys->pte_chain_cache, GFP_ATOMIC);
		BUG_ON(!pc);
	}
	memset(pc, 0, sizeof(*pc));
	stripe_counter_add(&sys->nr_pte_chains, 1);
	return pc;
}

static void chain_free(struct umm_system *sys, struct pte_chain *pc)
{
	stripe_counter_add(&sys->nr_pte_chains, -1);
	kmem_cache_free(sys->pte_chain_cache, pc);
}

/**
 * rmap_prepare - fill this thread's reserve to n blocks (pte chains only).
 * No page-table lock held.  0, or -ENOMEM (the reserve keeps what it got).
 */
int rmap_prepare(struct umm_system *sys, unsigned int n)
{
	if (!rmap_ptechain(sys))
		return 0;
	VM_BUG_ON(reserve_nr && reserve_sys != sys);
	reserve_sys = sys;
	while (reserve_nr < n) {
		struct pte_chain *pc = kmem_cache_alloc(sys->pte_chain_cache, 0);

		if (!pc)
			return -ENOMEM;
		pc->next = reserve_list;
		reserve_list = pc;
		reserve_nr++;
	}
	return 0;
}

/** rmap_reserved - true if an add cannot need an allocation now.  Any locks. */
bool rmap_reserved(struct umm_system *sys)
{
	return !rmap_ptechain(sys) || reserve_nr > 0;
}

/** rmap_unprepare - free this thread's reserved blocks.  Any locks (slab lock is a leaf). */
void rmap_unprepare(struct umm_system *sys)
{
	while (reserve_list) {
		struct pte_chain *pc = reserve_list;

		VM_BUG_ON(reserve_sys != sys);
		reserve_list = pc->next;
		kmem_cache_free(sys->pte_chain_cache, pc);
	}
	reserve_nr = 0;
	reserve_sys = NULL;
}

/* pte_table_of - the struct page of the pte table holding ptep. */
static inline struct page *pte_table_of(struct page *page, const pte_t *ptep)
{
	return virt_to_page(page_to_phys(page), (const void *)((uintptr_t)ptep & PAGE_MASK));
}

/**
 * ptechain_add - record ptep as a mapping of page.  ptep's table lock
 * held; takes PG_chainlock; a block from the thread's reserve when one
 * is needed.
 */
void ptechain_add(struct page *page, pte_t *ptep)
{
	struct umm_system *sys = pte_table_of(page, ptep)->pt_mm->sys;
	uintptr_t r;

	chain_lock(page);
	r = (uintptr_t)page->rmap;
	if (!r) {
		set_page_rmap(page, (void *)((uintptr_t)ptep | PAGE_RMAP_DIRECT));
	} else if (r & PAGE_RMAP_DIRECT) {
		struct pte_chain *pc = chain_alloc(sys);

		pc->ptes[0] = (pte_t *)(r & ~PAGE_RMAP_DIRECT);
		pc->ptes[1] = ptep;
		set_page_rmap(page, pc);
	} else {
		struct pte_chain *head = (struct pte_chain *)r;

		if (head->ptes[NRPTE - 1]) {
			struct pte_chain *pc = chain_alloc(sys);

			pc->ptes[0] = ptep;
			pc->next = head;
			set_page_rmap(page, pc);
		} else {
			unsigned int i = 0;

			while (head->ptes[i])
				i++;
			head->ptes[i] = ptep;
		}
	}
	chain_unlock(page);
	stripe_counter_add(&sys->nr_reverse_maps, 1);
}

/* chain_del - remove entry val (exact value, tags included).  Chain lock held. */
static void chain_del(struct umm_system *sys, struct page *page, uintptr_t val)
{
	uintptr_t r = (uintptr_t)page->rmap;
	struct pte_chain *head, *pc;
	unsigned int i, last;

	BUG_ON(!r);
	if (r & PAGE_RMAP_DIRECT) {
		BUG_ON((r & ~PAGE_RMAP_DIRECT) != val);
		set_page_rmap(page, NULL);
		return;
	}
	head = (struct pte_chain *)r;
	for (pc = head; pc; pc = pc->next) {
		for (i = 0; i < NRPTE; i++)
			if ((uintptr_t)pc->ptes[i] == val)
				goto found;
	}
	BUG_ON(1);      /* not recorded: the map count and the chain disagree */
found:
	for (last = NRPTE - 1; !head->ptes[last]; last--)
		;
	pc->ptes[i] = head->ptes[last];
	head->ptes[last] = NULL;
	if (last == 0) {
		set_page_rmap(page, head->next);
		chain_free(sys, head);
	}
	head = page->rmap;
	if (head && !head->next && !head->ptes[1]) {
		set_page_rmap(page, (void *)((uintptr_t)head->ptes[0] | PAGE_RMAP_DIRECT));
		chain_free(sys, head);
	}
}

/**
 * ptechain_remove - forget ptep as a mapping of page.  ptep's table lock
 * held; takes PG_chainlock (and the slab lock to free a block).
 */
void ptechain_remove(struct page *page, pte_t *ptep)
{
	struct umm_system *sys = pte_table_of(page, ptep)->pt_mm->sys;

	chain_lock(page);
	chain_del(sys, page, (uintptr_t)ptep);
	chain_unlock(page);
	stripe_counter_add(&sys->nr_reverse_maps, -1);
}

/**
 * ptechain_move - the mapping recorded as old_ptep is now new_ptep
 * (mremap).  Both table locks held; takes PG_chainlock.
 */
void ptechain_move(struct page *page, pte_t *old_ptep, pte_t *new_ptep)
{
	uintptr_t r;

	chain_lock(page);
	r = (uintptr_t)page->rmap;
	if (r & PAGE_RMAP_DIRECT) {
		BUG_ON((pte_t *)(r & ~PAGE_RMAP_DIRECT) != old_ptep);
		set_page_rmap(page, (void *)((uintptr_t)new_ptep | PAGE_RMAP_DIRECT));
	} else {
		struct pte_chain *pc;
		bool done = false;

		for (pc = (struct pte_chain *)r; pc && !done; pc = pc->next)
			for (unsigned int i = 0; i < NRPTE && !done; i++)
				if (pc->ptes[i] == old_ptep) {
					pc->ptes[i] = new_ptep;
					done = true;
				}
		BUG_ON(!done);
	}
	chain_unlock(page);
}

/*
 * walk_one - present one recorded pte to fn: trylock its table, call fn.
 * Returns fn's result, or -EBUSY when the table lock is busy.  *slot is
 * tagged PTE_DEAD when fn cleared the pte.  Chain lock held.
 */
static int walk_one(struct page *page, pte_t **slot, rmap_one_fn fn, void *arg)
{
	pte_t *ptep = *slot;
	struct page *table = pte_table_of(page, ptep);
	struct rmap_pte rp = {
		.mm = table->pt_mm,
		.address = table->pt_addr + (((uintptr_t)ptep & ~PAGE_MASK) / sizeof(pte_t)) * PAGE_SIZE,
		.ptep = ptep,
	};
	int ret;

	if (!fmutex_trylock(&table->ptl))
		return -EBUSY;
	lockdep_acquire(&table->ptl, LOCK_PTL, 0, LOCKDEP_TRYLOCK);
	BUG_ON(!pte_present(*ptep) || pte_pfn(*ptep) != page_to_pfn(page));
	ret = fn(page, &rp, arg);
	if (ret == RMAP_UNMAPPED) {
		*slot = (pte_t *)((uintptr_t)ptep | PTE_DEAD);
		rmap_count_removed(page, rp.mm);
		stripe_counter_add(&rp.mm->sys->nr_reverse_maps, -1);
	}
	ptl_unlock(&table->ptl);
	return ret;
}

/**
 * ptechain_walk - rmap_walk for the pte-chain scheme: call fn for each
 * recorded pte under the chain lock and that pte's table lock (a
 * trylock).  Busy tables are skipped and counted, or with RMAP_WALK_WAIT
 * the walk drops the chain lock, yields and starts over.  No page-table
 * lock held on entry.  Returns the number of ptes skipped.
 */
int ptechain_walk(struct page *page, rmap_one_fn fn, void *arg, unsigned int flags)
{
	struct umm_system *sys = NULL;
	int skipped, ret = RMAP_CONT;
	uintptr_t r;
	bool dead;

again:
	skipped = 0;
	dead = false;
	ret = RMAP_CONT;        /* a restart (RMAP_WALK_WAIT) left it at RMAP_STOP */
	chain_lock(page);
	r = (uintptr_t)page->rmap;
	if (r & PAGE_RMAP_DIRECT) {
		pte_t *ptep = (pte_t *)(r & ~PAGE_RMAP_DIRECT);

		sys = pte_table_of(page, ptep)->pt_mm->sys;
		ret = walk_one(page, &ptep, fn, arg);
		if (ret == RMAP_UNMAPPED)
			set_page_rmap(page, NULL);
		if (ret == -EBUSY)
			skipped++;
	} else if (r) {
		struct pte_chain *pc;

		sys = pte_table_of(page, ((struct pte_chain *)r)->ptes[0])->pt_mm->sys;
		for (pc = (struct pte_chain *)r; pc && ret != RMAP_STOP; pc = pc->next) {
			for (unsigned int i = 0; i < NRPTE && pc->ptes[i] && ret != RMAP_STOP; i++) {
				ret = walk_one(page, &pc->ptes[i], fn, arg);
				if (ret == RMAP_UNMAPPED)
					dead = true;
				if (ret == -EBUSY) {
					skipped++;
					/* a waiting walk starts over once the chain lock is dropped */
					ret = (flags & RMAP_WALK_WAIT) ? RMAP_STOP : RMAP_CONT;
				}
			}
		}
	}
	if (dead) {
		/* drop the entries whose ptes the callback cleared */
		for (;;) {
			struct pte_chain *pc = page->rmap;
			uintptr_t victim = 0;

			if ((uintptr_t)pc & PAGE_RMAP_DIRECT) {
				if ((uintptr_t)pc & PTE_DEAD)
					victim = (uintptr_t)pc & ~PAGE_RMAP_DIRECT;
			} else {
				for (; pc && !victim; pc = pc->next)
					for (unsigned int i = 0; i < NRPTE && !victim; i++)
						if ((uintptr_t)pc->ptes[i] & PTE_DEAD)
							victim = (uintptr_t)pc->ptes[i];
			}
			if (!victim)
				break;
			chain_del(sys, page, victim);
		}
	}
	chain_unlock(page);
	if (skipped && (flags & RMAP_WALK_WAIT)) {
		sched_yield();
		goto again;
	}
	return skipped;
}

/** ptechain_init - create the chain-block cache.  0 or -ENOMEM. */
int ptechain_init(struct umm_system *sys)
{
	sys->pte_chain_cache = kmem_cache_create(sys->phys, "pte_chain", sizeof(struct pte_chain),
						 PTE_CHAIN_BYTES);
	return sys->pte_chain_cache ? 0 : -ENOMEM;
}

/** ptechain_destroy - destroy the cache; returns blocks still allocated. */
unsigned long ptechain_destroy(struct umm_system *sys)
{
	return sys->pte_chain_cache ? kmem_cache_destroy(sys->pte_chain_cache) : 0;
}
