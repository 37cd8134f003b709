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

#endif
