/* SPDX-License-Identifier: MIT */
/*
 * nonlinear_index.h - the reverse index of a nonlinear window: for an
 * object page, the places of one VMA where a pte may show it (see
 * nonlinear_index.c).
 */
#ifndef UMM_NONLINEAR_INDEX_H
#define UMM_NONLINEAR_INDEX_H

#include "mm.h"

/*
 * nl_index_reserve - room for extra more entries in vma's index
 * (allocating it on first use) and its slot array over every slot of
 * vma, so that the next extra nl_index_set calls on vma cannot fail.
 * mmap_lock held for write; takes i_mmap_lock to swap tables.  0 or
 * -ENOMEM (nothing changed).
 */
int nl_index_reserve(struct vm_area_struct *vma, size_t extra);

/*
 * nl_index_set - the pte at slot (a linear page index of vma, as
 * linear_page_index gives) shows object page pgoff now: forget the
 * slot's entry (whatever offset it names), remember (pgoff, slot).  A
 * page at its own linear slot needs no entry.  Room reserved
 * (nl_index_reserve on this vma); mmap_lock held for write and
 * i_mmap_lock held.
 */
void nl_index_set(struct vm_area_struct *vma, uint64_t slot, uint64_t pgoff);

/*
 * nl_index_prefetch_slots - a hint: start loading the buckets holding the
 * entries of slots [slot, slot + nr), which nl_index_set of those slots
 * will replace.  mmap_lock held.
 */
void nl_index_prefetch_slots(const struct vm_area_struct *vma, uint64_t slot, unsigned int nr);

/*
 * nl_index_prefetch_where - a hint: start loading the line of the slot
 * array that nl_index_prefetch_slots(vma, slot, ...) reads first.
 * mmap_lock held.
 */
void nl_index_prefetch_where(const struct vm_area_struct *vma, uint64_t slot);

/*
 * nl_index_prefetch - a hint: start loading the part of vma's index that
 * nl_index_set of object pages [pgoff, pgoff + nr) will use.  mmap_lock
 * held.
 */
void nl_index_prefetch(const struct vm_area_struct *vma, uint64_t pgoff, unsigned int nr);
/*
 * nl_index_has - does vma's index list slot for pgoff (or is slot
 * pgoff's linear slot)?  mmap_lock or i_mmap_lock held.
 */
bool nl_index_has(const struct vm_area_struct *vma, uint64_t pgoff, uint64_t slot);

/*
 * nl_index_for_each - fn(vma, addr, arg) for every address of vma where a
 * pte may show object page pgoff: its linear address if inside vma, then
 * each slot the index lists for it that lies inside vma.  Stops at fn's
 * first non-zero return and returns it.  i_mmap_lock (or mmap_lock) held.
 */
typedef int (*nl_addr_fn)(struct vm_area_struct *vma, uintptr_t addr, void *arg);
int nl_index_for_each(struct vm_area_struct *vma, uint64_t pgoff, nl_addr_fn fn, void *arg);

/*
 * nl_index_dup - give dst (an unlinked copy of src: vma_dup) a copy of
 * src's index.  src's mmap_lock held.  0 or -ENOMEM.
 */
int nl_index_dup(struct vm_area_struct *dst, const struct vm_area_struct *src);

/*
 * nl_index_check - the index's own invariants (each entry where its slot
 * array says, the count); problems logged with pr_check.  mmap_lock
 * held.  Returns the number of problems.
 */
int nl_index_check(const struct vm_area_struct *vma);

/* nl_index_free - free vma's index (vma unlinked). */
void nl_index_free(struct vm_area_struct *vma);

#endif
