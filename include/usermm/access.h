/*
 * usermm/access.h - the software MMU: access an address space's memory.
 *
 * umm_read/umm_write copy across page and VMA boundaries, faulting pages in
 * as a CPU would.  Translations are cached in a per-thread software TLB
 * tagged by address space; it never serves a stale translation.  Return
 * 0, -EFAULT (SIGSEGV), -EIO (SIGBUS) or -ENOMEM.  On error, bytes before
 * the failing page may already have been copied (as with a real CPU).
 */
#ifndef USERMM_ACCESS_H
#define USERMM_ACCESS_H

#include "system.h"

#ifdef __cplusplus
extern "C" {
#endif

int  umm_read(struct umm_mm *mm, uintptr_t addr, void *buf, size_t len);
int  umm_write(struct umm_mm *mm, uintptr_t addr, const void *buf, size_t len);

/*
 * Zero-copy access, like get_user_pages(): fault in and pin `nr_pages`
 * pages from page-aligned `addr`; pages[i] receives an opaque handle whose
 * bytes umm_page_address() gives.  UMM_PIN_WRITE faults for writing
 * (breaking copy-on-write) and marks the pages dirty on unpin.  A pinned
 * frame is never freed or reused until unpinned, even if it is unmapped.
 * Returns the number of pages pinned (all of them), or a negative errno
 * with nothing pinned.
 */
#define UMM_PIN_WRITE 0x1
struct umm_page;
long  umm_pin_pages(struct umm_mm *mm, uintptr_t addr, size_t nr_pages, int flags,
                    struct umm_page **pages);
void  umm_unpin_pages(struct umm_page **pages, size_t nr_pages, int flags);
void *umm_page_address(struct umm_page *page);

#ifdef __cplusplus
}
#endif
#endif
