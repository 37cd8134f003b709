/* SPDX-License-Identifier: MIT */
/*
 * vma.h - the VMA tree of an address space.
 *
 * VMAs live in a red-black tree ordered by vm_start, augmented with the
 * largest free gap below any VMA of each subtree (rb_subtree_gap), so that
 * top-down placement (get_unmapped_area) is O(log n).  The gap "below" a
 * vma is vma->vm_start - prev->vm_end (prev = its predecessor, or
 * UMM_MMAP_MIN_ADDR for the first vma), cached in vma->vm_gap.  A per-thread last-hit cache
 * (tagged by mm->id and mm->vmacache_seqnum) answers repeated lookups.
 *
 * Locking: the tree needs mmap_lock (read to look up, write to change).
 * vma_link/vma_unlink also take vm_obj->i_mmap_lock to maintain i_mmap.
 */
#ifndef UMM_VMA_H
#define UMM_VMA_H

#include "mm.h"

/* vma_alloc - a zeroed VMA for mm (from sys->vma_cache); NULL on ENOMEM. */
struct vm_area_struct *vma_alloc(struct umm_mm *mm);
/* vma_dup - an unlinked copy of vma for mm `mm` (same range, flags, object ref taken). */
struct vm_area_struct *vma_dup(struct umm_mm *mm, const struct vm_area_struct *vma);
/* vma_free - free an unlinked vma, dropping its object reference. */
void vma_free(struct vm_area_struct *vma);

/* find_vma - the lowest vma with vm_end > addr, or NULL. */
struct vm_area_struct *find_vma(struct umm_mm *mm, uintptr_t addr);
/* find_vma_prev - as find_vma; *pprev = the vma before the result (or the last vma if none). */
struct vm_area_struct *find_vma_prev(struct umm_mm *mm, uintptr_t addr, struct vm_area_struct **pprev);
/* find_vma_intersection - the lowest vma overlapping [start, end), or NULL. */
struct vm_area_struct *find_vma_intersection(struct umm_mm *mm, uintptr_t start, uintptr_t end);
struct vm_area_struct *vma_next(struct vm_area_struct *vma);
struct vm_area_struct *vma_prev(struct vm_area_struct *vma);
struct vm_area_struct *vma_first(struct umm_mm *mm);

/* vma_link - insert a vma (must not overlap any other); updates map_count, total_vm, i_mmap. */
void vma_link(struct umm_mm *mm, struct vm_area_struct *vma);
/* vma_unlink - remove from the tree and i_mmap (does not free it or touch ptes). */
void vma_unlink(struct umm_mm *mm, struct vm_area_struct *vma);
/* vma_adjust - change a linked vma's range/pgoff in place (must not overlap neighbours). */
void vma_adjust(struct umm_mm *mm, struct vm_area_struct *vma, uintptr_t start, uintptr_t end, uint64_t pgoff);
/*
 * split_vma - split vma at page-aligned addr (vm_start < addr < vm_end) into
 * two linked vmas.  The original keeps the lower part unless new_below, in
 * which case it keeps the upper part.  Returns 0, -ENOMEM, or -EINVAL
 * (addr not inside vma, unaligned, or vma not of mm); unchanged on error.
 */
int split_vma(struct umm_mm *mm, struct vm_area_struct *vma, uintptr_t addr, int new_below);
/* vma_can_merge - are a (below) and b (above) adjacent and compatible (flags, object, contiguous pgoff)? */
bool vma_can_merge(const struct vm_area_struct *a, const struct vm_area_struct *b);
/*
 * vma_try_merge - merge a linked vma with its neighbours where compatible;
 * returns the surviving vma (the others are unlinked and freed).
 */
struct vm_area_struct *vma_try_merge(struct umm_mm *mm, struct vm_area_struct *vma);

/*
 * get_unmapped_area - a free range of len bytes.  A non-zero page-aligned
 * hint is used if [hint, hint+len) is free and inside the address space;
 * otherwise the highest free range below mm->mmap_base is taken.
 * 0 with *out set, or -ENOMEM.
 */
int get_unmapped_area(struct umm_mm *mm, uintptr_t hint, size_t len, uintptr_t *out);
/* range_is_free - no vma overlaps [start, end). */
bool range_is_free(struct umm_mm *mm, uintptr_t start, uintptr_t end);

/* vmacache_invalidate - forget every thread's cached lookup for mm (called by link/unlink/adjust). */
void vmacache_invalidate(struct umm_mm *mm);

/* vma_tree_check - order, no overlaps, gaps, map_count, total_vm. 0 or -EUCLEAN (prints). */
int vma_tree_check(struct umm_mm *mm);

/* vma_set_flags - change a linked vma's flags under its reverse-map locks.  mmap_lock write. */
void vma_set_flags(struct vm_area_struct *vma, unsigned long newflags);
/* vma_set_lock_flags - set a linked vma's VM_LOCKED_MASK bits, keeping mm->locked_vm.  mmap_lock write. */
void vma_set_lock_flags(struct umm_mm *mm, struct vm_area_struct *vma, unsigned long lock_flags);

/* vma_set_nonlinear - set VM_NONLINEAR on a linked file vma, moving it out of the interval tree.  mmap_lock write. */
void vma_set_nonlinear(struct umm_mm *mm, struct vm_area_struct *vma);

/* i_mmap_tree.c: the object's interval tree of linear file VMAs (i_mmap_lock held) */
void i_mmap_tree_insert(struct umm_object *obj, struct vm_area_struct *vma);
void i_mmap_tree_remove(struct umm_object *obj, struct vm_area_struct *vma);
/* i_mmap_tree_foreach - fn for each linear VMA mapping a page of [first, last]; stops at a non-zero return. */
int i_mmap_tree_foreach(struct umm_object *obj, uint64_t first, uint64_t last,
			int (*fn)(struct vm_area_struct *vma, void *arg), void *arg);

#endif
