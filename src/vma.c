/* SPDX-License-Identifier: MIT */
/*
 * vma.c - the VMA tree of an address space: lookup, link/unlink, split,
 * merge, and free-range placement.
 *
 * Theory of operation.  An mm's VMAs sit in a red-black tree (mm->mm_rb)
 * ordered by vm_start; they never overlap, so the order by vm_start is also
 * the order by vm_end.  Each VMA has a "gap below": the free bytes between
 * it and its predecessor,
 *
 *     gap(v) = v->vm_start - (prev ? prev->vm_end : UMM_MMAP_MIN_ADDR)
 *
 * and the tree is augmented with rb_subtree_gap, the largest gap(v) of any
 * v in the subtree.  Placement walks down only into subtrees whose
 * rb_subtree_gap is big enough, so a top-down search visits O(log n)
 * nodes.  gap(v) itself is cached in the VMA (vm_gap), so recomputing a
 * node's summary is O(1) and an update costs O(log n) pointer steps.  A
 * gap depends on the predecessor, so a change of one VMA's vm_end changes
 * its successor's gap and one of vm_start changes its own; every mutator
 * sets exactly those vm_gap fields and re-propagates exactly those paths.
 * Insertion finds the new VMA's predecessor and successor on its way down
 * (the last nodes where the descent turned right and left), so it sets
 * both gaps without a walk; the successor is an ancestor of the new leaf,
 * so rb_insert_augmented's propagation covers it.
 *
 * Merging follows vma_can_merge(): adjacent, same flags and object,
 * equal anon_vmas or only one side with one (the merged VMA adopts it),
 * contiguous pgoff, not nonlinear.  Adoption keeps the object-based anon
 * rmap correct: every page of the merged range was mapped in a VMA with
 * that anon_vma (the others had none, so no anon pages), and anon page
 * indexes are vm_pgoff based, which a merge keeps contiguous.
 *
 * Invariants (checked by vma_tree_check):
 *   1. vm_start < vm_end, both page aligned, vm_mm == mm;
 *   2. in-order: prev->vm_end <= v->vm_start (no overlap);
 *   3. vm_gap(v) = gap(v), and
 *      rb_subtree_gap(v) = max(gap(v), children's rb_subtree_gap);
 *   4. map_count = number of VMAs, total_vm = sum of their pages,
 *      locked_vm = sum of the pages of those with VM_LOCKED;
 *   5. a VMA with vm_obj is on vm_obj->i_mmap (and, if linear, in its
 *      interval tree i_mmap_tree, i_mmap_tree.c), one without on neither.
 *
 * Lookup cache.  find_vma() first asks a small per-thread cache of recent
 * hits.  The cache is tagged with mm->id (never reused) and the value of
 * mm->vmacache_seqnum when it was filled; every change to the tree bumps
 * the seqnum (vmacache_invalidate), so a stale entry is never dereferenced:
 * a tag mismatch empties the cache before any slot is read.  Being
 * per-thread, it needs no lock of its own; the tree and the VMAs it points
 * to are read under mmap_lock, like any lookup.
 *
 * Locking:
 *   Callers hold mm->mmap_lock: for read around lookups (find_vma*,
 *   vma_next/prev/first, range_is_free, get_unmapped_area,
 *   vma_tree_check), for write around every change (link, unlink, adjust,
 *   split, merge).  This file takes only vm_obj->i_mmap_lock, which
 *   protects the i_mmap list and, for a linked file VMA, its vm_start,
 *   vm_end and vm_pgoff (an i_mmap walker such as truncate reads them
 *   without mmap_lock).  A split or merge changes all the VMAs involved
 *   under one hold of i_mmap_lock, so a walker never sees a hole.  In an
 *   object-rmap system a VMA with an anon_vma is also on anon_vma->head,
 *   and the same changes take anon_vma->lock (after i_mmap_lock), which
 *   protects that list and the linked VMAs' ranges for the anon rmap walk.
 *   vma_dup takes a reference on the anon_vma, vma_free drops it.
 *   Order: mmap_lock -> i_mmap_lock -> anon_vma lock -> slab cache lock.  Objects are
 *   released (object_put) and VMAs freed only after i_mmap_lock is dropped.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include "vma.h"
#include "filemap.h"
#include "rmap.h"
#include "nonlinear_index.h"

/*
 * vma_has_anon_vma - does vma hold a reference on a real anon_vma?  Only
 * object-rmap systems set one (rmap_object.c).
 */
static inline bool vma_has_anon_vma(const struct vm_area_struct *vma)
{
	return vma->anon_vma && vma->vm_mm->sys->cfg.rmap == UMM_RMAP_OBJECT;
}

#define vma_of(node) rb_entry(node, struct vm_area_struct, vm_rb)

/* ---- allocation ---- */

/**
 * vma_alloc - a zeroed, unlinked VMA for mm.
 * @mm: the address space it will belong to (vm_mm is set)
 *
 * No locks needed.  Returns the VMA, or NULL when the slab cache cannot
 * grow (out of frames).
 */
struct vm_area_struct *vma_alloc(struct umm_mm *mm)
{
	struct vm_area_struct *vma = kmem_cache_alloc(mm->sys->vma_cache, GFP_ZERO);

	if (!vma)
		return NULL;
	vma->vm_mm = mm;
	INIT_LIST_HEAD(&vma->obj_link);
	INIT_LIST_HEAD(&vma->anon_vma_link);
	return vma;
}

/**
 * vma_dup - an unlinked copy of vma, for mm.
 * @mm: the address space of the copy (may differ from vma's: fork)
 * @vma: the original (linked or not)
 *
 * Copies range, flags, object, pgoff, anon_vma and a nonlinear window's
 * reverse index (nonlinear_index.c); takes a reference on the object.  The copy has its own (unlinked) tree node and i_mmap link.
 * In an object-rmap system the copy also takes a reference on the
 * anon_vma (rmap_object.c); otherwise anon_vma is unused.  Caller holds mmap_lock of vma's mm.  NULL on ENOMEM.
 */
struct vm_area_struct *vma_dup(struct umm_mm *mm, const struct vm_area_struct *vma)
{
	struct vm_area_struct *copy = vma_alloc(mm);

	if (!copy)
		return NULL;
	copy->vm_start = vma->vm_start;
	copy->vm_end = vma->vm_end;
	copy->vm_flags = vma->vm_flags;
	copy->vm_obj = vma->vm_obj;
	copy->vm_pgoff = vma->vm_pgoff;
	copy->anon_vma = vma->anon_vma;
	if (nl_index_dup(copy, vma)) {
		kmem_cache_free(mm->sys->vma_cache, copy);
		return NULL;
	}
	if (copy->vm_obj)
		object_get(copy->vm_obj);
	if (vma_has_anon_vma(copy))
		anon_vma_get(copy->anon_vma);
	return copy;
}

/**
 * vma_free - free an unlinked VMA and drop its object reference.
 * @vma: not in any tree or i_mmap list (NULL is ignored)
 *
 * Takes no lock of this file; must not be called with i_mmap_lock held
 * (the last object_put releases the object).
 */
void vma_free(struct vm_area_struct *vma)
{
	if (!vma)
		return;
	VM_BUG_ON(vma->vm_obj && !list_empty(&vma->obj_link));
	VM_BUG_ON(!list_empty(&vma->anon_vma_link));
	if (vma->vm_obj)
		object_put(vma->vm_obj);
	if (vma_has_anon_vma(vma))
		anon_vma_put(vma->anon_vma);
	nl_index_free(vma);
	kmem_cache_free(vma->vm_mm->sys->vma_cache, vma);
}

/* ---- the gap augmentation ---- */

/* gap_between - free bytes between a VMA ending at floor (or the floor itself) and start. */
static inline uintptr_t gap_between(uintptr_t floor, uintptr_t start)
{
	return start > floor ? start - floor : 0;
}

/* vma_gap_below - free bytes between vma and its predecessor (or the floor): the cached gap. */
static inline uintptr_t vma_gap_below(const struct vm_area_struct *vma)
{
	return vma->vm_gap;
}

/* vma_gap_recompute - set vm_gap from the predecessor (one rb_prev walk). */
static void vma_gap_recompute(struct vm_area_struct *vma)
{
	struct rb_node *prev = rb_prev(&vma->vm_rb);

	vma->vm_gap = gap_between(prev ? vma_of(prev)->vm_end : UMM_MMAP_MIN_ADDR, vma->vm_start);
}

static uintptr_t vma_subtree_gap(const struct vm_area_struct *vma)
{
	uintptr_t gap = vma_gap_below(vma);

	if (vma->vm_rb.rb_left)
		gap = MAX(gap, vma_of(vma->vm_rb.rb_left)->rb_subtree_gap);
	if (vma->vm_rb.rb_right)
		gap = MAX(gap, vma_of(vma->vm_rb.rb_right)->rb_subtree_gap);
	return gap;
}

static void vma_gap_propagate(struct rb_node *node, struct rb_node *stop)
{
	for (; node != stop; node = node->rb_parent)
		vma_of(node)->rb_subtree_gap = vma_subtree_gap(vma_of(node));
}

static void vma_gap_copy(struct rb_node *old, struct rb_node *new_node)
{
	vma_of(new_node)->rb_subtree_gap = vma_of(old)->rb_subtree_gap;
}

static void vma_gap_rotate(struct rb_node *old, struct rb_node *new_node)
{
	vma_of(new_node)->rb_subtree_gap = vma_of(old)->rb_subtree_gap;
	vma_of(old)->rb_subtree_gap = vma_subtree_gap(vma_of(old));
}

static const struct rb_augment_callbacks vma_gap_callbacks = {
	.propagate = vma_gap_propagate,
	.copy = vma_gap_copy,
	.rotate = vma_gap_rotate,
};

/* vma_gap_update - vma's vm_gap changed: recompute its and its ancestors' summaries. */
static void vma_gap_update(struct vm_area_struct *vma)
{
	if (vma)
		vma_gap_propagate(&vma->vm_rb, NULL);
}

/* ---- lookup and the per-thread cache ---- */

#define VMACACHE_SIZE 4

struct vmacache {
	uint64_t mm_id;
	uint64_t seqnum;
	unsigned int next;                 /* round-robin victim */
	struct vm_area_struct *slots[VMACACHE_SIZE];
};

static __thread struct vmacache vmacache;

/**
 * vmacache_invalidate - forget every thread's cached lookups for mm.
 * @mm: the address space whose VMA tree changed
 *
 * Caller holds mmap_lock for write.
 */
void vmacache_invalidate(struct umm_mm *mm)
{
	atomic_fetch_add_explicit(&mm->vmacache_seqnum, 1, memory_order_release);
}

/* vmacache_lookup - a cached VMA containing addr, valid for (mm, seq); or NULL. */
static struct vm_area_struct *vmacache_lookup(struct umm_mm *mm, uint64_t seq, uintptr_t addr)
{
	struct vmacache *vc = &vmacache;

	if (vc->mm_id != mm->id || vc->seqnum != seq) {
		/* another mm or an older tree: nothing here may be touched */
		memset(vc, 0, sizeof(*vc));
		vc->mm_id = mm->id;
		vc->seqnum = seq;
		return NULL;
	}
	for (int i = 0; i < VMACACHE_SIZE; i++) {
		struct vm_area_struct *vma = vc->slots[i];

		if (vma && vma->vm_start <= addr && addr < vma->vm_end)
			return vma;
	}
	return NULL;
}

static void vmacache_insert(struct vm_area_struct *vma)
{
	struct vmacache *vc = &vmacache;

	vc->slots[vc->next] = vma;
	vc->next = (vc->next + 1) % VMACACHE_SIZE;
}

/* find_vma_rb - find_vma without the cache. */
static struct vm_area_struct *find_vma_rb(struct umm_mm *mm, uintptr_t addr)
{
	struct rb_node *node = mm->mm_rb.rb_node;
	struct vm_area_struct *best = NULL;

	while (node) {
		struct vm_area_struct *vma = vma_of(node);

		if (vma->vm_end > addr) {
			best = vma;
			if (vma->vm_start <= addr)
				break;
			node = node->rb_left;
		} else {
			node = node->rb_right;
		}
	}
	return best;
}

/**
 * find_vma - the lowest VMA with vm_end > addr.
 * @mm: the address space
 * @addr: any address
 *
 * Caller holds mmap_lock (read or write).  Returns the VMA (which may start
 * above addr) or NULL if every VMA ends at or below addr.
 */
struct vm_area_struct *find_vma(struct umm_mm *mm, uintptr_t addr)
{
	uint64_t seq = atomic_load_explicit(&mm->vmacache_seqnum, memory_order_acquire);
	struct vm_area_struct *vma = vmacache_lookup(mm, seq, addr);

	if (vma)
		return vma;
	vma = find_vma_rb(mm, addr);
	if (vma && vma->vm_start <= addr)
		vmacache_insert(vma);
	return vma;
}

/**
 * find_vma_prev - find_vma, also returning the VMA before the result.
 * @mm: the address space
 * @addr: any address
 * @pprev: set to the VMA before the result, or to the last VMA if the
 *         result is NULL (NULL if there is none); may be NULL
 *
 * Caller holds mmap_lock.  Returns what find_vma() returns.
 */
struct vm_area_struct *find_vma_prev(struct umm_mm *mm, uintptr_t addr,
				     struct vm_area_struct **pprev)
{
	struct vm_area_struct *vma = find_vma(mm, addr);
	struct rb_node *prev = vma ? rb_prev(&vma->vm_rb) : rb_last(&mm->mm_rb);

	if (pprev)
		*pprev = prev ? vma_of(prev) : NULL;
	return vma;
}

/**
 * find_vma_intersection - the lowest VMA overlapping [start, end).
 * @mm: the address space
 * @start: first byte
 * @end: first byte after (an empty or inverted range overlaps nothing)
 *
 * Caller holds mmap_lock.  Returns the VMA or NULL.
 */
struct vm_area_struct *find_vma_intersection(struct umm_mm *mm, uintptr_t start, uintptr_t end)
{
	struct vm_area_struct *vma;

	if (start >= end)
		return NULL;
	vma = find_vma(mm, start);
	return vma && vma->vm_start < end ? vma : NULL;
}

/**
 * vma_next - the VMA after vma in address order, or NULL.  mmap_lock held.
 */
struct vm_area_struct *vma_next(struct vm_area_struct *vma)
{
	struct rb_node *n = rb_next(&vma->vm_rb);

	return n ? vma_of(n) : NULL;
}

/**
 * vma_prev - the VMA before vma in address order, or NULL.  mmap_lock held.
 */
struct vm_area_struct *vma_prev(struct vm_area_struct *vma)
{
	struct rb_node *n = rb_prev(&vma->vm_rb);

	return n ? vma_of(n) : NULL;
}

/**
 * vma_first - the lowest VMA of mm, or NULL.  mmap_lock held.
 */
struct vm_area_struct *vma_first(struct umm_mm *mm)
{
	struct rb_node *n = rb_first(&mm->mm_rb);

	return n ? vma_of(n) : NULL;
}

/**
 * range_is_free - does no VMA overlap [start, end)?
 * @mm: the address space
 * @start: first byte
 * @end: first byte after (an empty range is free)
 *
 * Caller holds mmap_lock.
 */
bool range_is_free(struct umm_mm *mm, uintptr_t start, uintptr_t end)
{
	struct vm_area_struct *vma;

	if (start >= end)
		return true;
	vma = find_vma_rb(mm, start);
	return !vma || vma->vm_start >= end;
}

/* ---- tree and i_mmap mutation (mmap_lock held for write) ---- */

static void vma_obj_lock(struct vm_area_struct *vma)
{
	if (vma->vm_obj)
		i_mmap_lock_write(vma->vm_obj);
	if (vma_has_anon_vma(vma))
		anon_vma_lock(vma->anon_vma);
}

static void vma_obj_unlock(struct vm_area_struct *vma)
{
	if (vma_has_anon_vma(vma))
		anon_vma_unlock(vma->anon_vma);
	if (vma->vm_obj)
		i_mmap_unlock_write(vma->vm_obj);
}

/* __vma_insert - put vma in the tree and the counters; i_mmap_lock held if file. */
static void __vma_insert(struct umm_mm *mm, struct vm_area_struct *vma)
{
	struct rb_node **link = &mm->mm_rb.rb_node, *parent = NULL;
	struct vm_area_struct *prev = NULL, *next = NULL;

	VM_BUG_ON(vma->vm_mm != mm);
	VM_BUG_ON(vma->vm_start >= vma->vm_end);
	while (*link) {
		struct vm_area_struct *cur = vma_of(*link);

		/* the new node's neighbours are both on this path: overlap shows here */
		VM_BUG_ON(vma->vm_start < cur->vm_end && cur->vm_start < vma->vm_end);
		parent = *link;
		if (vma->vm_start < cur->vm_start) {
			next = cur;             /* the last left turn: the successor */
			link = &parent->rb_left;
		} else {
			prev = cur;             /* the last right turn: the predecessor */
			link = &parent->rb_right;
		}
	}
	vma->vm_gap = gap_between(prev ? prev->vm_end : UMM_MMAP_MIN_ADDR, vma->vm_start);
	if (next)
		next->vm_gap = gap_between(vma->vm_end, next->vm_start);
	rb_link_node(&vma->vm_rb, parent, link);
	/*
	 * The successor's gap shrank too, but a new leaf's successor is one of
	 * its ancestors, which rb_insert_augmented() recomputes on the way up.
	 */
	rb_insert_augmented(&vma->vm_rb, &mm->mm_rb, &vma_gap_callbacks);
	mm->map_count++;
	mm->total_vm += vma_pages(vma);
	if (vma->vm_flags & VM_LOCKED)
		mm->locked_vm += vma_pages(vma);
	if (vma->vm_obj) {
		list_add(&vma->obj_link, &vma->vm_obj->i_mmap);
		i_mmap_tree_insert(vma->vm_obj, vma);
	}
	if (vma_has_anon_vma(vma))
		list_add(&vma->anon_vma_link, &vma->anon_vma->head);
}

/* __vma_remove - take vma out of the tree, counters and i_mmap; i_mmap_lock held if file. */
static void __vma_remove(struct umm_mm *mm, struct vm_area_struct *vma)
{
	struct vm_area_struct *next = vma_next(vma);

	VM_BUG_ON(vma->vm_mm != mm || mm->map_count == 0);
	if (next) {     /* next's gap swallows vma and vma's gap */
		struct vm_area_struct *prev = vma_prev(vma);

		next->vm_gap = gap_between(prev ? prev->vm_end : UMM_MMAP_MIN_ADDR, next->vm_start);
	}
	rb_erase_augmented(&vma->vm_rb, &mm->mm_rb, &vma_gap_callbacks);
	vma_gap_update(next);
	mm->map_count--;
	mm->total_vm -= vma_pages(vma);
	if (vma->vm_flags & VM_LOCKED)
		mm->locked_vm -= vma_pages(vma);
	if (vma->vm_obj) {
		list_del_init(&vma->obj_link);
		i_mmap_tree_remove(vma->vm_obj, vma);
	}
	if (vma_has_anon_vma(vma))
		list_del_init(&vma->anon_vma_link);
}

/* __vma_set_range - move a linked vma's bounds in place; i_mmap_lock held if file. */
static void __vma_set_range(struct umm_mm *mm, struct vm_area_struct *vma,
			    uintptr_t start, uintptr_t end, uint64_t pgoff)
{
	bool start_moved = start != vma->vm_start, end_moved = end != vma->vm_end;

	mm->total_vm -= vma_pages(vma);
	if (vma->vm_flags & VM_LOCKED)
		mm->locked_vm -= vma_pages(vma);
	if (vma->vm_obj)
		i_mmap_tree_remove(vma->vm_obj, vma);   /* the key changes: out and in again */
	vma->vm_start = start;
	vma->vm_end = end;
	vma->vm_pgoff = pgoff;
	if (vma->vm_obj)
		i_mmap_tree_insert(vma->vm_obj, vma);
	mm->total_vm += vma_pages(vma);
	if (vma->vm_flags & VM_LOCKED)
		mm->locked_vm += vma_pages(vma);
	if (start_moved) {
		vma_gap_recompute(vma);
		vma_gap_update(vma);
	}
	if (end_moved) {
		struct vm_area_struct *next = vma_next(vma);

		if (next) {
			next->vm_gap = gap_between(end, next->vm_start);
			vma_gap_update(next);
		}
	}
}

/**
 * vma_link - insert a VMA into mm's tree (and its object's i_mmap).
 * @mm: the address space; mmap_lock held for write
 * @vma: unlinked, vm_mm == mm, range not overlapping any linked VMA
 *
 * Updates map_count and total_vm; takes and drops vm_obj->i_mmap_lock.
 */
void vma_link(struct umm_mm *mm, struct vm_area_struct *vma)
{
	vma_obj_lock(vma);
	__vma_insert(mm, vma);
	vma_obj_unlock(vma);
	vmacache_invalidate(mm);
}

/**
 * vma_unlink - remove a VMA from mm's tree and its object's i_mmap.
 * @mm: the address space; mmap_lock held for write
 * @vma: linked in mm
 *
 * The VMA is not freed and its ptes are not touched.  Takes and drops
 * vm_obj->i_mmap_lock.
 */
void vma_unlink(struct umm_mm *mm, struct vm_area_struct *vma)
{
	vma_obj_lock(vma);
	__vma_remove(mm, vma);
	vma_obj_unlock(vma);
	vmacache_invalidate(mm);
}

/**
 * vma_set_nonlinear - make a linked file VMA nonlinear (remap_file_pages):
 * set VM_NONLINEAR and move it from its object's interval tree to the
 * nonlinear count, under i_mmap_lock, so reverse-map walks scan it.
 * @mm: the address space; mmap_lock held for write
 * @vma: linked in mm, with vm_obj
 */
void vma_set_nonlinear(struct umm_mm *mm, struct vm_area_struct *vma)
{
	(void)mm;
	VM_BUG_ON(!vma->vm_obj);
	if (vma->vm_flags & VM_NONLINEAR)
		return;
	i_mmap_lock_write(vma->vm_obj);
	i_mmap_tree_remove(vma->vm_obj, vma);
	vma->vm_flags |= VM_NONLINEAR;
	i_mmap_tree_insert(vma->vm_obj, vma);
	i_mmap_unlock_write(vma->vm_obj);
}

/**
 * vma_set_flags - change a linked VMA's flags (mprotect, madvise).
 * @vma: linked in its mm; mmap_lock held for write
 * @newflags: the new vm_flags (VM_LOCKED_MASK bits: vma_set_lock_flags)
 *
 * Reverse-map walks (reclaim, truncate) read the flags of VMAs they find
 * holding only i_mmap_lock or the anon_vma lock, so the flags change
 * under both, as the range does.
 */
void vma_set_flags(struct vm_area_struct *vma, unsigned long newflags)
{
	VM_BUG_ON((newflags ^ vma->vm_flags) & VM_LOCKED_MASK);
	if (newflags == vma->vm_flags)
		return;
	vma_obj_lock(vma);
	vma->vm_flags = newflags;
	vma_obj_unlock(vma);
}

/**
 * vma_set_lock_flags - set the VM_LOCKED_MASK bits of a linked VMA (mlock,
 * munlock, and a VMA about to be unmapped) and keep mm->locked_vm.
 * @mm: the address space; mmap_lock held for write
 * @vma: linked in mm
 * @lock_flags: the new VM_LOCKED_MASK bits (0 to unlock)
 *
 * The flags change under i_mmap_lock and the anon_vma lock, like the
 * range, so a reverse-map walk holding either reads a settled value.
 */
void vma_set_lock_flags(struct umm_mm *mm, struct vm_area_struct *vma, unsigned long lock_flags)
{
	unsigned long newflags = (vma->vm_flags & ~VM_LOCKED_MASK) | (lock_flags & VM_LOCKED_MASK);

	VM_BUG_ON(vma->vm_mm != mm);
	if (newflags == vma->vm_flags)
		return;
	vma_obj_lock(vma);
	if (vma->vm_flags & VM_LOCKED)
		mm->locked_vm -= vma_pages(vma);
	vma->vm_flags = newflags;
	if (vma->vm_flags & VM_LOCKED)
		mm->locked_vm += vma_pages(vma);
	vma_obj_unlock(vma);
}

/**
 * vma_adjust - change a linked VMA's range and pgoff in place.
 * @mm: the address space; mmap_lock held for write
 * @vma: linked in mm
 * @start: new vm_start (page aligned)
 * @end: new vm_end (page aligned, > start)
 * @pgoff: new vm_pgoff
 *
 * The new range must not overlap the VMA's neighbours (so the tree order
 * is kept).  Updates total_vm and the gaps; takes and drops i_mmap_lock.
 */
void vma_adjust(struct umm_mm *mm, struct vm_area_struct *vma, uintptr_t start,
		uintptr_t end, uint64_t pgoff)
{
	struct vm_area_struct *prev = vma_prev(vma), *next = vma_next(vma);

	VM_BUG_ON(vma->vm_mm != mm);
	VM_BUG_ON(start >= end || !IS_ALIGNED(start, PAGE_SIZE) || !IS_ALIGNED(end, PAGE_SIZE));
	VM_BUG_ON(prev && prev->vm_end > start);
	VM_BUG_ON(next && next->vm_start < end);
	vma_obj_lock(vma);
	__vma_set_range(mm, vma, start, end, pgoff);
	vma_obj_unlock(vma);
	vmacache_invalidate(mm);
}

/**
 * split_vma - cut a linked VMA in two at addr.
 * @mm: the address space; mmap_lock held for write
 * @vma: linked in mm
 * @addr: page aligned, vma->vm_start < addr < vma->vm_end
 * @new_below: 0: vma keeps [vm_start, addr) and a new VMA gets the upper
 *             part; non-zero: the new VMA gets the lower part and vma
 *             keeps [addr, vm_end)
 *
 * The upper part's vm_pgoff is the lower part's plus the pages below addr
 * (anonymous VMAs too).  Both halves change under one hold of i_mmap_lock.
 * Returns 0, -EINVAL for a bad addr or a VMA not in mm, or -ENOMEM (no
 * memory for the new VMA); on error nothing has changed.
 */
int split_vma(struct umm_mm *mm, struct vm_area_struct *vma, uintptr_t addr, int new_below)
{
	struct vm_area_struct *new_vma;
	uint64_t below;

	if (!mm || !vma || vma->vm_mm != mm || !IS_ALIGNED(addr, PAGE_SIZE) ||
	    addr <= vma->vm_start || addr >= vma->vm_end)
		return -EINVAL;
	new_vma = vma_dup(mm, vma);
	if (!new_vma)
		return -ENOMEM;
	below = (addr - vma->vm_start) >> PAGE_SHIFT;
	vma_obj_lock(vma);
	if (new_below) {
		new_vma->vm_end = addr;
		__vma_set_range(mm, vma, addr, vma->vm_end, vma->vm_pgoff + below);
	} else {
		new_vma->vm_start = addr;
		new_vma->vm_pgoff += below;
		__vma_set_range(mm, vma, vma->vm_start, addr, vma->vm_pgoff);
	}
	__vma_insert(mm, new_vma);
	vma_obj_unlock(vma);
	vmacache_invalidate(mm);
	return 0;
}

/* ---- merging ---- */

/**
 * vma_can_merge - could a (below) and b (above) be one VMA?
 * @a: the lower VMA
 * @b: the upper VMA
 *
 * True when they touch (a->vm_end == b->vm_start), have the same flags
 * and object, the same anon_vma or at most one of them has one (the
 * merged VMA adopts it, as Linux does), b's pgoff continues a's, and
 * neither is a nonlinear window.  For anonymous VMAs pgoff comes from the creation address, so
 * two created side by side merge and a moved one (mremap) does not.
 * No locks (reads the VMAs only).
 */
bool vma_can_merge(const struct vm_area_struct *a, const struct vm_area_struct *b)
{
	if (!a || !b || a->vm_end != b->vm_start)
		return false;
	if (a->vm_flags != b->vm_flags || a->vm_obj != b->vm_obj)
		return false;
	if (a->anon_vma && b->anon_vma && a->anon_vma != b->anon_vma)
		return false;
	if ((a->vm_flags | b->vm_flags) & VM_NONLINEAR)
		return false;
	return b->vm_pgoff == a->vm_pgoff + vma_pages(a);
}

/*
 * vma_adopt_anon_vma - before a merge: if the surviving VMA has no
 * anon_vma but a VMA merged into it has, the survivor takes it (a
 * reference, and a place on its list, under its lock).  Object rmap only.
 */
static void vma_adopt_anon_vma(struct vm_area_struct *keep, struct vm_area_struct *a,
			       struct vm_area_struct *b)
{
	struct anon_vma *av = a && a->anon_vma ? a->anon_vma : b ? b->anon_vma : NULL;

	if (keep->anon_vma || !av || keep->vm_mm->sys->cfg.rmap != UMM_RMAP_OBJECT)
		return;
	anon_vma_get(av);
	anon_vma_lock(av);
	keep->anon_vma = av;
	list_add(&keep->anon_vma_link, &av->head);
	anon_vma_unlock(av);
}

/**
 * vma_try_merge - merge a linked VMA with whichever neighbours it can.
 * @mm: the address space; mmap_lock held for write
 * @vma: linked in mm
 *
 * The lowest of the merged VMAs survives and is extended; the others are
 * unlinked and freed (so @vma itself may be freed).  All changes happen
 * under one hold of i_mmap_lock.  Returns the VMA that now covers @vma's
 * old range.
 */
struct vm_area_struct *vma_try_merge(struct umm_mm *mm, struct vm_area_struct *vma)
{
	struct vm_area_struct *prev = vma_prev(vma), *next = vma_next(vma);
	bool with_prev = vma_can_merge(prev, vma), with_next = vma_can_merge(vma, next);
	struct vm_area_struct *keep;
	uintptr_t end;

	/* each pair may agree while prev and next carry different anon_vmas */
	if (with_prev && with_next && prev->anon_vma && next->anon_vma && prev->anon_vma != next->anon_vma)
		with_next = false;
	keep = with_prev ? prev : vma;
	end = with_next ? next->vm_end : vma->vm_end;
	if (!with_prev && !with_next)
		return vma;
	vma_adopt_anon_vma(keep, with_prev ? vma : NULL, with_next ? next : NULL);
	vma_obj_lock(keep);
	/* remove before extending, so the tree never holds overlapping VMAs */
	if (with_next)
		__vma_remove(mm, next);
	if (with_prev)
		__vma_remove(mm, vma);
	__vma_set_range(mm, keep, keep->vm_start, end, keep->vm_pgoff);
	vma_obj_unlock(keep);
	vmacache_invalidate(mm);
	if (with_next)
		vma_free(next);
	if (with_prev)
		vma_free(vma);
	return keep;
}

/* ---- placement ---- */

static struct vm_area_struct *vma_rb_left(const struct vm_area_struct *vma)
{
	return vma->vm_rb.rb_left ? vma_of(vma->vm_rb.rb_left) : NULL;
}

/*
 * gap_descend - the highest VMA in the subtree of vma whose gap below is at
 * least len.  The subtree's rb_subtree_gap must be >= len.
 */
static struct vm_area_struct *gap_descend(struct vm_area_struct *vma, uintptr_t len)
{
	for (;;) {
		struct rb_node *right = vma->vm_rb.rb_right;
		struct vm_area_struct *left = vma_rb_left(vma);

		if (right && vma_of(right)->rb_subtree_gap >= len) {
			vma = vma_of(right);
			continue;
		}
		/* not on the right: vma's own gap, else the left subtree, has it */
		if (!left || left->rb_subtree_gap < len || vma_gap_below(vma) >= len) {
			VM_BUG_ON(vma_gap_below(vma) < len);
			return vma;
		}
		vma = left;
	}
}

/*
 * gap_find_below - the highest VMA at or below `bound` (in address order)
 * whose gap below is at least len, or NULL.  The candidates, highest first:
 * bound itself, its left subtree, then for each ancestor reached from its
 * right child: that ancestor and its left subtree.
 */
static struct vm_area_struct *gap_find_below(struct vm_area_struct *bound, uintptr_t len)
{
	struct rb_node *from, *node;
	struct vm_area_struct *left;

	if (vma_gap_below(bound) >= len)
		return bound;
	left = vma_rb_left(bound);
	if (left && left->rb_subtree_gap >= len)
		return gap_descend(left, len);
	for (from = &bound->vm_rb, node = from->rb_parent; node; from = node, node = node->rb_parent) {
		if (from != node->rb_right)
			continue;       /* node lies above bound */
		if (vma_gap_below(vma_of(node)) >= len)
			return vma_of(node);
		left = vma_rb_left(vma_of(node));
		if (left && left->rb_subtree_gap >= len)
			return gap_descend(left, len);
	}
	return NULL;
}

/*
 * unmapped_area_topdown - the highest a with [a, a+len) free,
 * UMM_MMAP_MIN_ADDR <= a and a+len <= high.
 */
static int unmapped_area_topdown(struct umm_mm *mm, uintptr_t high, uintptr_t len, uintptr_t *out)
{
	struct vm_area_struct *above = find_vma_rb(mm, high);
	struct vm_area_struct *bound, *vma;
	uintptr_t floor;

	if (above && above->vm_start < high) {
		/* high falls inside `above`: every gap up to its own is usable whole */
		bound = above;
	} else {
		/* high is free: try the gap it lies in, clipped at high */
		struct rb_node *b = above ? rb_prev(&above->vm_rb) : rb_last(&mm->mm_rb);

		bound = b ? vma_of(b) : NULL;
		floor = bound ? MAX(bound->vm_end, UMM_MMAP_MIN_ADDR) : UMM_MMAP_MIN_ADDR;
		if (high >= floor && high - floor >= len) {
			*out = high - len;
			return 0;
		}
		if (!bound)
			return -ENOMEM;
	}
	if (vma_of(mm->mm_rb.rb_node)->rb_subtree_gap < len)
		return -ENOMEM;
	vma = gap_find_below(bound, len);
	if (!vma)
		return -ENOMEM;
	*out = vma->vm_start - len;
	return 0;
}

/**
 * get_unmapped_area - choose where a new mapping of len bytes goes.
 * @mm: the address space; mmap_lock held (read suffices)
 * @hint: preferred address (0 = none; rounded up to a page); taken when
 *        [hint, hint+len) is free and inside
 *        [UMM_MMAP_MIN_ADDR, UMM_TASK_SIZE)
 * @len: bytes, page aligned, > 0
 * @out: the chosen address
 *
 * Without a usable hint the highest free range that ends at or below
 * mm->mmap_base (UMM_TASK_SIZE when 0) is taken; when none does, the gap
 * above mmap_base is the last resort, as in Linux (for mmap and for
 * mremap's move alike).  A length that is a
 * multiple of PMD_SIZE (2 MiB) is placed on a PMD_SIZE boundary when such
 * a place exists (as Linux places large anonymous mappings for THP): its
 * pte tables are then its own, and threads working on disjoint 2 MiB-
 * aligned parts of it share no pte table lock (nor soft-TLB span, see
 * soft_mmu.c).  Returns 0, -EINVAL (len 0 or unaligned, out NULL) or
 * -ENOMEM (too long, or no such range).
 */
/* topdown_below - the highest free range of len ending at or below high (PMD aligned when len is). */
static int topdown_below(struct umm_mm *mm, uintptr_t high, size_t len, uintptr_t *out)
{
	if (high < UMM_MMAP_MIN_ADDR + len)
		return -ENOMEM;
	if (IS_ALIGNED(len, PMD_SIZE)) {
		/* a gap PMD_SIZE - PAGE_SIZE longer holds an aligned range of len */
		uintptr_t pad = PMD_SIZE - PAGE_SIZE, a;

		if (high - UMM_MMAP_MIN_ADDR - len >= pad &&
		    unmapped_area_topdown(mm, high, len + pad, &a) == 0) {
			*out = ALIGN_DOWN(a + pad, PMD_SIZE);
			return 0;
		}
	}
	return unmapped_area_topdown(mm, high, len, out);
}

int get_unmapped_area(struct umm_mm *mm, uintptr_t hint, size_t len, uintptr_t *out)
{
	uintptr_t high, top = ALIGN_DOWN(UMM_TASK_SIZE, PAGE_SIZE);
	int err;

	if (!mm || !out || len == 0 || !IS_ALIGNED(len, PAGE_SIZE))
		return -EINVAL;
	if (len > UMM_TASK_SIZE - UMM_MMAP_MIN_ADDR)
		return -ENOMEM;
	if (hint && hint <= UMM_TASK_SIZE - len) {
		uintptr_t addr = ALIGN_UP(hint, PAGE_SIZE);

		if (addr >= UMM_MMAP_MIN_ADDR && addr <= UMM_TASK_SIZE - len &&
		    range_is_free(mm, addr, addr + len)) {
			*out = addr;
			return 0;
		}
	}
	high = mm->mmap_base && mm->mmap_base < UMM_TASK_SIZE ? mm->mmap_base : UMM_TASK_SIZE;
	high = ALIGN_DOWN(high, PAGE_SIZE);
	err = topdown_below(mm, high, len, out);
	if (err == -ENOMEM && high < top)
		/* nothing fits below mmap_base: the gap above it is the last resort, as in Linux */
		err = topdown_below(mm, top, len, out);
	return err;
}

/* ---- consistency check ---- */

struct vma_check {
	struct umm_mm *mm;
	const struct vm_area_struct *prev;   /* in-order predecessor */
	unsigned long count, pages, locked;
	int err;
};

static void vma_check_fail(struct vma_check *c, const struct vm_area_struct *vma, const char *what,
			   uintptr_t got, uintptr_t want)
{
	if (c->err)
		return;
	c->err = -EUCLEAN;
	pr_check("vma tree of mm %" PRIu64 ": vma %p [%#lx, %#lx): %s (%#lx, expected %#lx)",
		c->mm->id, (const void *)vma, vma ? (unsigned long)vma->vm_start : 0UL,
		vma ? (unsigned long)vma->vm_end : 0UL, what, (unsigned long)got, (unsigned long)want);
}

/* vma_check_one - the per-VMA invariants, visited in address order. */
/* is_this_vma - i_mmap_tree_foreach callback: stop at the vma looked for. */
static int is_this_vma(struct vm_area_struct *vma, void *arg)
{
	return vma == arg;
}

static uintptr_t vma_check_one(struct vma_check *c, const struct vm_area_struct *vma)
{
	uintptr_t floor = c->prev ? c->prev->vm_end : UMM_MMAP_MIN_ADDR;

	if (vma->vm_mm != c->mm)
		vma_check_fail(c, vma, "vm_mm is another mm", (uintptr_t)vma->vm_mm, (uintptr_t)c->mm);
	if (vma->vm_start >= vma->vm_end)
		vma_check_fail(c, vma, "empty or inverted range", vma->vm_start, vma->vm_end);
	if (!IS_ALIGNED(vma->vm_start | vma->vm_end, PAGE_SIZE))
		vma_check_fail(c, vma, "bounds not page aligned", vma->vm_start | vma->vm_end, 0);
	if (c->prev && c->prev->vm_end > vma->vm_start)
		vma_check_fail(c, vma, "overlaps or precedes its predecessor", c->prev->vm_end, vma->vm_start);
	if (vma->vm_obj) {
		i_mmap_lock_write(vma->vm_obj);
		bool listed = !list_empty(&vma->obj_link);
		bool in_tree = (vma->vm_flags & VM_NONLINEAR) ||
			i_mmap_tree_foreach(vma->vm_obj, vma->vm_pgoff, vma->vm_pgoff, is_this_vma, (void *)vma);
		i_mmap_unlock_write(vma->vm_obj);
		if (!listed)
			vma_check_fail(c, vma, "file vma not on i_mmap", 0, 1);
		if (!in_tree)
			vma_check_fail(c, vma, "linear file vma not found in i_mmap_tree", 0, 1);
	} else if (!list_empty(&vma->obj_link)) {
		/* no object links an anonymous vma: its list head is read without a lock */
		vma_check_fail(c, vma, "anonymous vma on an i_mmap list", 0, 1);
	}
	if (vma->vm_gap != gap_between(floor, vma->vm_start))
		vma_check_fail(c, vma, "stale vm_gap", vma->vm_gap, gap_between(floor, vma->vm_start));
	c->prev = vma;
	c->count++;
	if (vma->vm_end > vma->vm_start) {
		c->pages += vma_pages(vma);
		if (vma->vm_flags & VM_LOCKED)
			c->locked += vma_pages(vma);
	}
	return gap_between(floor, vma->vm_start);
}

/*
 * vma_check_subtree - walk in order checking VMAs, red-black rules and the
 * stored gaps.  Returns the recomputed rb_subtree_gap; *bh = black height.
 */
static uintptr_t vma_check_subtree(struct vma_check *c, struct rb_node *node,
				   struct rb_node *parent, int depth, int *bh)
{
	uintptr_t gap, lgap, rgap;
	int lbh, rbh;

	*bh = 1;
	if (!node || c->err)
		return 0;
	struct vm_area_struct *vma = vma_of(node);
	if (depth > 2 * 64 || c->count > c->mm->map_count) {
		vma_check_fail(c, vma, "tree deeper or larger than map_count allows", c->count, c->mm->map_count);
		return 0;
	}
	if (node->rb_parent != parent)
		vma_check_fail(c, vma, "bad rb_parent", (uintptr_t)node->rb_parent, (uintptr_t)parent);
	if (node->rb_color == RB_RED && (!parent || parent->rb_color == RB_RED))
		vma_check_fail(c, vma, "red root or red child of a red node", 0, 0);
	lgap = vma_check_subtree(c, node->rb_left, node, depth + 1, &lbh);
	gap = vma_check_one(c, vma);
	rgap = vma_check_subtree(c, node->rb_right, node, depth + 1, &rbh);
	if (lbh != rbh)
		vma_check_fail(c, vma, "unequal black heights", (uintptr_t)lbh, (uintptr_t)rbh);
	gap = MAX(gap, MAX(lgap, rgap));
	if (vma->rb_subtree_gap != gap)
		vma_check_fail(c, vma, "stale rb_subtree_gap", vma->rb_subtree_gap, gap);
	*bh = lbh + (node->rb_color == RB_BLACK);
	return gap;
}

/**
 * vma_tree_check - verify the VMA tree invariants listed at the top of vma.c.
 * @mm: the address space; mmap_lock held (read or write)
 *
 * Takes each file VMA's i_mmap_lock briefly.  Returns 0, or -EUCLEAN after
 * logging the first problem found (pr_check).
 */
int vma_tree_check(struct umm_mm *mm)
{
	struct vma_check c = { .mm = mm };
	int bh;

	vma_check_subtree(&c, mm->mm_rb.rb_node, NULL, 0, &bh);
	if (!c.err && c.count != mm->map_count)
		vma_check_fail(&c, NULL, "map_count differs from the VMAs in the tree", mm->map_count, c.count);
	if (!c.err && c.pages != mm->total_vm)
		vma_check_fail(&c, NULL, "total_vm differs from the VMAs' pages", mm->total_vm, c.pages);
	if (!c.err && c.locked != mm->locked_vm)
		vma_check_fail(&c, NULL, "locked_vm differs from the VM_LOCKED VMAs' pages", mm->locked_vm, c.locked);
	return c.err;
}
