/*
 * usermm/mm.h - address spaces and the mmap family.
 *
 * The calls take the host's <sys/mman.h> constants and follow Linux's
 * semantics and errors; see docs/API.md for the differences.  Addresses are
 * usermm virtual addresses (48-bit, 4 KiB pages), not host pointers.
 * A failed call changes nothing.
 *
 * Accepted but not yet acting (their issues are still open):
 *   MAP_POPULATE, MAP_NONBLOCK (prefault issue), MAP_LOCKED (mlock issue).
 */
#ifndef USERMM_MM_H
#define USERMM_MM_H

#include "system.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The usable range of an address space. */
#define UMM_MMAP_MIN_ADDR 0x10000UL
#define UMM_TASK_SIZE     0x7ffffffff000UL

int  umm_mm_create(struct umm_system *sys, struct umm_mm **out);
void umm_mm_destroy(struct umm_mm *mm);              /* like exit */
int  umm_fork(struct umm_mm *parent, struct umm_mm **child);

int  umm_mmap(struct umm_mm *mm, uintptr_t addr, size_t len, int prot, int flags,
              struct umm_object *obj, uint64_t offset, uintptr_t *out_addr);
int  umm_munmap(struct umm_mm *mm, uintptr_t addr, size_t len);
int  umm_mprotect(struct umm_mm *mm, uintptr_t addr, size_t len, int prot);
int  umm_mremap(struct umm_mm *mm, uintptr_t old_addr, size_t old_len, size_t new_len,
                int flags, uintptr_t new_addr, uintptr_t *out_addr);

#ifdef __cplusplus
}
#endif
#endif
