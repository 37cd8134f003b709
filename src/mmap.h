/* SPDX-License-Identifier: MIT */
/*
 * mmap.h - internal entry points of the mapping calls (mmap.c, mremap.c).
 */
#ifndef UMM_MMAP_H
#define UMM_MMAP_H

#include "memory.h"

/*
 * do_munmap - unmap [start, start+len): split vmas at the edges, zap the
 * ptes, free empty page tables, unlink and free the vmas.  mmap_lock held
 * for write.  0 or -ENOMEM (a split failed; nothing changed).
 */
int do_munmap(struct umm_mm *mm, uintptr_t start, size_t len);
/* exit_mmap - unmap everything (umm_mm_destroy).  mmap_lock write. */
void exit_mmap(struct umm_mm *mm);

/*
 * Range helpers shared by mmap.c and mremap.c (mmap_lock held for write).
 * mmap_isolate_range - split the vmas straddling start or end so that the
 * range is made of whole vmas; *splits (may be NULL) records what was
 * split.  0 or -ENOMEM (nothing changed).
 * mmap_undo_isolate - merge those splits back.
 * unmap_vmas - zap, unlink and free the vmas of an isolated range; page
 * tables are left for the caller (free_pgtables).
 */
int mmap_isolate_range(struct umm_mm *mm, uintptr_t start, uintptr_t end, unsigned int *splits);
void mmap_undo_isolate(struct umm_mm *mm, uintptr_t start, uintptr_t end, unsigned int splits);
void unmap_vmas(struct umm_mm *mm, uintptr_t start, uintptr_t end);

#endif
