/* SPDX-License-Identifier: MIT */
/*
 * rmap_object.c - the object-based reverse map: a page finds its ptes
 * through the vmas that may map it, not through per-pte records.
 *
 * Theory of operation.
 *   Anonymous pages.  A private vma gets an anon_vma before its first
 *   anonymous page is mapped (anon_vma_prepare, from the fault path).
 *   Every vma copied from it shares it: the halves of a split, the vma
 *   mremap creates, and the child's vma at fork (vma_dup takes a
 *   reference), so all of a fork family's vmas for one region are on one
 *   list.  A new anon page points to its vma's anon_vma (page->rmap,
 *   tagged PAGE_RMAP_ANON_VMA) and keeps it for life; a copy-on-write copy
 *   made in a child points to the child vma's anon_vma, which is the same
 *   one (Linux 2.6.7's design, before anon_vma chains).  The page's index
 *   is its linear page index (vm_pgoff based, kept by mremap and fork),
 *   so in each vma of the list the page can only be at one address; the
 *   walk looks there and checks the pte's frame.  Vmas merge only when
 *   their anon_vmas are equal or one side has none, which then adopts the
 *   other's (a side without one has no anonymous pages; vma.c), so
 *   merging never loses a page's vma.
 *   Page-cache pages.  The object's interval tree of linear vmas
 *   (i_mmap_tree.c) gives the vmas whose pgoff range holds the page's
 *   index, without visiting the others (a page of a large object mapped by
 *   many small windows meets only the windows over it); the index gives
 *   the address.  Nonlinear vmas (remap_file_pages) are found on the
 *   i_mmap list, walked only when the object has any
 *   (obj->i_mmap_nonlinear); in each, the window's reverse index
 *   (nonlinear_index.c) gives the few addresses where a pte may show the
 *   page, so no window is scanned.  A private copy made in a window is
 *   an anon page at its linear address, found through its anon_vma.
 *
 * Lifetime.  An anon_vma's refcount counts the vmas pointing to it plus
 * walks in progress, under sys->anon_vma_lock; it is freed at zero.  A
 * walk pins the anon_vma under that lock only if the page is still
 * mapped: a mapped page has a pte in a vma that holds a reference, and
 * that vma's reference goes (vma_free) only after its ptes are zapped
 * and only under the same lock, so the pin never races with the free.
 *
 * Locks (order in lockdep.h): vma changes take i_mmap_lock, then
 * anon_vma->lock (vma.c), so a walker holding either sees stable vma
 * ranges; walks take anon_vma->lock or i_mmap_lock, then each mm's
 * page_table_lock (they have no mmap_lock; it keeps the tables), then the
 * pte table lock (a trylock unless RMAP_WALK_WAIT).  With
 * RMAP_WALK_TRYLOCK (reclaim's walks), a thread that already holds an
 * anon_vma->lock or i_mmap_lock (rmap_locks_held: reclaim inside an
 * allocation made under one) only trylocks them, and a busy one skips
 * the whole walk.  sys->anon_vma_lock
 * is taken alone.  The fault path's hooks take none of these.
 */
#include <errno.h>
#include <stdlib.h>
#include "rmap.h"
#include "nonlinear_index.h"
#include "object.h"
#include "vma.h"

/** anon_vma_lock - av->lock (LOCK_ANON_VMA). */
void anon_vma_lock(struct anon_vma *av)
{
	lockdep_acquire(&av->lock, LOCK_ANON_VMA, 0, 0);
	pthread_mutex_lock(&av->lock);
	rmap_locks_held++;
}

/** anon_vma_unlock - release av->lock. */
void anon_vma_unlock(struct anon_vma *av)
{
	rmap_locks_held--;
	pthread_mutex_unlock(&av->lock);
	lockdep_release(&av->lock);
}

/*
 * anon_vma_compatible - could a and b (a below b, adjacent) be merged
 * once their access flags agree?  Same object, contiguous pgoff, same
 * flags apart from the access bits, neither nonlinear.
 */
static bool anon_vma_compatible(const struct vm_area_struct *a, const struct vm_area_struct *b)
{
	return a->vm_end == b->vm_start && a->vm_obj == b->vm_obj &&
	       ((a->vm_flags ^ b->vm_flags) & ~(VM_ACCESS_FLAGS | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC)) == 0 &&
	       !((a->vm_flags | b->vm_flags) & VM_NONLINEAR) &&
	       b->vm_pgoff == a->vm_pgoff + vma_pages(a);
}

/*
 * find_mergeable_anon_vma - a neighbour's anon_vma that vma may share, so
 * that the two can still merge later (after an mprotect, say): Linux's
 * rule.  Sharing is always correct, only less precise.  mmap_lock held.
 */
static struct anon_vma *find_mergeable_anon_vma(struct vm_area_struct *vma)
{
	struct vm_area_struct *prev = vma_prev(vma), *next = vma_next(vma);
	struct anon_vma *av;

	if (prev && (av = __atomic_load_n(&prev->anon_vma, __ATOMIC_ACQUIRE)) && anon_vma_compatible(prev, vma))
		return av;
	if (next && (av = __atomic_load_n(&next->anon_vma, __ATOMIC_ACQUIRE)) && anon_vma_compatible(vma, next))
		return av;
	return NULL;
}

/**
 * anon_vma_prepare - give a private vma of an object-rmap system an
 * anon_vma (see rmap.h).  Two faults racing on one vma agree through a
 * compare-and-swap; the loser frees its copy.  A compatible neighbour's
 * anon_vma is shared rather than a new one made (find_mergeable_anon_vma).  mmap_lock held for read;
 * takes sys->anon_vma_lock and the new anon_vma's lock.  0 or -ENOMEM.
 */
int anon_vma_prepare(struct vm_area_struct *vma)
{
	struct umm_system *sys = vma->vm_mm->sys;
	struct anon_vma *av, *expected = NULL;

	if (rmap_ptechain(sys) || __atomic_load_n(&vma->anon_vma, __ATOMIC_ACQUIRE))
		return 0;
	av = find_mergeable_anon_vma(vma);
	if (av) {
		anon_vma_get(av);
		goto install;
	}
	av = calloc(1, sizeof(*av));
	if (!av)
		return -ENOMEM;
	pthread_mutex_init(&av->lock, NULL);
	INIT_LIST_HEAD(&av->head);
	av->refcount = 1;
	av->sys = sys;
	pthread_mutex_lock(&sys->anon_vma_lock);
	sys->nr_anon_vmas++;
	pthread_mutex_unlock(&sys->anon_vma_lock);
install:
	anon_vma_lock(av);
	if (__atomic_compare_exchange_n(&vma->anon_vma, &expected, av, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		list_add(&vma->anon_vma_link, &av->head);
		anon_vma_unlock(av);
		return 0;
	}
	anon_vma_unlock(av);
	anon_vma_put(av);
	return 0;
}

/** anon_vma_get - one more holder of av.  Takes sys->anon_vma_lock. */
void anon_vma_get(struct anon_vma *av)
{
	pthread_mutex_lock(&av->sys->anon_vma_lock);
	VM_BUG_ON(av->refcount <= 0);
	av->refcount++;
	pthread_mutex_unlock(&av->sys->anon_vma_lock);
}

/** anon_vma_put - drop a holder; the last frees av.  Takes sys->anon_vma_lock. */
void anon_vma_put(struct anon_vma *av)
{
	struct umm_system *sys = av->sys;
	bool last;

	pthread_mutex_lock(&sys->anon_vma_lock);
	last = --av->refcount == 0;
	if (last)
		sys->nr_anon_vmas--;
	pthread_mutex_unlock(&sys->anon_vma_lock);
	if (last) {
		VM_BUG_ON(!list_empty(&av->head));
		pthread_mutex_destroy(&av->lock);
		free(av);
	}
}

struct object_walk {
	rmap_one_fn fn;
	void *arg;
	unsigned int flags;
	int skipped;
	bool stop;
	struct vm_area_struct *vma;
	unsigned long pfn;
	struct page *page;       /* walk_vma_addr's page */
};

/* present_one - fn for a pte that maps the page.  ptl held. */
static int present_one(struct page *page, struct object_walk *ow, struct umm_mm *mm,
		       uintptr_t addr, pte_t *ptep)
{
	struct rmap_pte rp = { .mm = mm, .vma = ow->vma, .address = addr, .ptep = ptep };
	pte_t pte = *ptep;
	int ret;

	if (!pte_present(pte) || pte_special(pte) || pte_pfn(pte) != ow->pfn)
		return RMAP_CONT;
	ret = ow->fn(page, &rp, ow->arg);
	if (ret == RMAP_UNMAPPED)
		rmap_count_removed(page, mm);
	if (ret == RMAP_STOP)
		ow->stop = true;
	return ret == RMAP_STOP ? 1 : 0;
}

/*
 * walk_vma_addr - look for page at addr of vma.  anon_vma->lock or
 * i_mmap_lock held; takes page_table_lock and the pte table lock.
 * Returns ow->stop (for nl_index_for_each).
 */
static int walk_vma_addr(struct vm_area_struct *vma, uintptr_t addr, void *arg)
{
	struct object_walk *ow = arg;
	struct page *page = ow->page;
	struct umm_mm *mm = vma->vm_mm;
	struct fmutex *ptl;
	pte_t *ptep;

	page_table_lock(mm);
	ptep = pte_offset_map(mm, addr);
	if (ptep) {
		ptl = pte_lockptr(mm, ptep);
		if (ow->flags & RMAP_WALK_WAIT) {
			ptl_lock(ptl);
		} else if (fmutex_trylock(ptl)) {
			lockdep_acquire(ptl, LOCK_PTL, 0, LOCKDEP_TRYLOCK);
		} else {
			ptl = NULL;
			/* only a pte that maps the page counts as skipped */
			if (pte_present(ptep_get_lockless(ptep)) && pte_pfn(ptep_get_lockless(ptep)) == ow->pfn)
				ow->skipped++;
		}
		if (ptl) {
			(void)present_one(page, ow, mm, addr, ptep);
			ptl_unlock(ptl);
		}
	}
	page_table_unlock(mm);
	return ow->stop || !page_mapped(page);
}

/*
 * walk_vma - look for page in one vma: at the address its index gives,
 * and in a nonlinear window (file pages) wherever the window's reverse
 * index says a pte may show it (nonlinear_index.c); a private copy in a
 * window sits at its linear address like any anon page.  anon_vma->lock
 * or i_mmap_lock held; takes page_table_lock and the pte table locks.
 */
static void walk_vma(struct page *page, struct vm_area_struct *vma, struct object_walk *ow)
{
	ow->vma = vma;
	ow->page = page;
	if ((vma->vm_flags & VM_NONLINEAR) && !PageAnon(page)) {
		(void)nl_index_for_each(vma, page->index, walk_vma_addr, ow);
		return;
	}
	if (page->index < vma->vm_pgoff || page->index - vma->vm_pgoff >= vma_pages(vma))
		return;
	(void)walk_vma_addr(vma, vma->vm_start + ((page->index - vma->vm_pgoff) << PAGE_SHIFT), ow);
}

struct file_walk {
	struct page *page;
	struct object_walk *ow;
};

/* walk_linear_vma - i_mmap_tree_foreach callback: look in one vma mapping the page's index. */
static int walk_linear_vma(struct vm_area_struct *vma, void *arg)
{
	struct file_walk *fw = arg;

	walk_vma(fw->page, vma, fw->ow);
	return fw->ow->stop || !page_mapped(fw->page);
}

/**
 * object_rmap_walk - rmap_walk for the object scheme (locks: file top).
 * Returns the number of ptes skipped for a busy table lock.
 */
int object_rmap_walk(struct page *page, rmap_one_fn fn, void *arg, unsigned int flags)
{
	struct object_walk ow = { .fn = fn, .arg = arg, .flags = flags, .pfn = page_to_pfn(page) };
	struct vm_area_struct *vma;

	if (PageAnon(page)) {
		/*
		 * The anon_vma may be freed by an exit until the page is seen
		 * mapped under anon_vma_lock (a vma that maps the page keeps
		 * it), so nothing is read through it before that: the system
		 * comes from the page's own physical memory.
		 */
		struct umm_system *sys = page_to_phys(page)->owner;
		struct anon_vma *av;

		pthread_mutex_lock(&sys->anon_vma_lock);
		av = page_anon_vma(page);
		if (!av || !page_mapped(page)) {
			pthread_mutex_unlock(&sys->anon_vma_lock);
			return 0;
		}
		av->refcount++;
		pthread_mutex_unlock(&sys->anon_vma_lock);
		if ((flags & RMAP_WALK_TRYLOCK) && rmap_locks_held) {
			if (pthread_mutex_trylock(&av->lock)) {
				anon_vma_put(av);
				return page_mapcount(page) ? page_mapcount(page) : 1;
			}
			lockdep_acquire(&av->lock, LOCK_ANON_VMA, 0, LOCKDEP_TRYLOCK);
			rmap_locks_held++;
		} else {
			anon_vma_lock(av);
		}
		list_for_each_entry(vma, &av->head, anon_vma_link) {
			walk_vma(page, vma, &ow);
			if (ow.stop || !page_mapped(page))
				break;
		}
		anon_vma_unlock(av);
		anon_vma_put(av);
	} else {
		struct umm_object *obj = page->mapping;

		struct file_walk fw = { .page = page, .ow = &ow };

		if ((flags & RMAP_WALK_TRYLOCK) && rmap_locks_held) {
			if (!i_mmap_trylock_write(obj))
				return page_mapcount(page) ? page_mapcount(page) : 1;
		} else {
			i_mmap_lock_write(obj);
		}
		(void)i_mmap_tree_foreach(obj, page->index, page->index, walk_linear_vma, &fw);
		if (obj->i_mmap_nonlinear && !ow.stop) {
			list_for_each_entry(vma, &obj->i_mmap, obj_link) {
				if (!(vma->vm_flags & VM_NONLINEAR))
					continue;
				walk_vma(page, vma, &ow);
				if (ow.stop || !page_mapped(page))
					break;
			}
		}
		i_mmap_unlock_write(obj);
	}
	return ow.skipped;
}
