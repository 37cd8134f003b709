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
 * with nothing pinned (-EINVAL for unknown flags, or UMM_PIN_FORCE without
 * UMM_PIN_WRITE).
 *
 * A pin stays attached to its mapping (the semantics of Linux 5.19 and
 * later).  Until the page is unpinned, or the mapping itself goes:
 *   - the pinned frame IS the page the address space reads and writes at
 *     that address: stores through the pin are seen by umm_read, and
 *     umm_write reaches the pinned frame, across umm_mprotect round trips
 *     (PROT_READ and back) and after umm_fork;
 *   - a private anonymous page (or private copy of a file page) that is
 *     pinned is exclusive to the pinning address space: umm_fork gives the
 *     child its own copy at once, so nothing stored through the parent's
 *     pin is ever seen by the child, and the parent's later writes do not
 *     copy the page away from the pin.  Read pins also unshare a page the
 *     address space shares copy-on-write with another one;
 *   - umm_mremap moves the page with its pte: the pin follows it to the
 *     new address.
 * What detaches a pin is only the end of the mapping: umm_munmap, a
 * MAP_FIXED mapping over it, truncation of the file below the page,
 * destroying the address space, and discarding the page with
 * umm_madvise(MADV_DONTNEED).
 * The pinned frame then stays valid (and holds what was stored through
 * it) until unpinned, but no longer belongs to the address space: a later
 * access or pin sees a fresh page.  A pin of a shared (file or shmem)
 * mapping pins the object's page itself, shared by every mapping of it.
 * One exception, as in Linux: a read pin of a private mapping's page that
 * was never written pins the page it reads, the file's page-cache page or
 * the shared zero page; a later write to the mapping gives the mapping a
 * private copy, which that read pin does not follow (a write pin never has
 * this problem: it makes the private copy first).
 *
 * UMM_PIN_FORCE, with UMM_PIN_WRITE (Linux's FOLL_FORCE, what a debugger
 * uses to poke memory): allows a write pin of a private mapping that is
 * not writable (PROT_READ or PROT_EXEC, not PROT_NONE).  It breaks
 * copy-on-write into a private anonymous copy, which the pin gets; the
 * mapping's own accesses stay read-only (umm_write still fails with
 * -EFAULT) and the file is never written.  A forced write pin of a shared
 * mapping without PROT_WRITE fails with -EFAULT.
 */
#define UMM_PIN_WRITE 0x1
#define UMM_PIN_FORCE 0x2
struct umm_page;
long  umm_pin_pages(struct umm_mm *mm, uintptr_t addr, size_t nr_pages, int flags,
                    struct umm_page **pages);
void  umm_unpin_pages(struct umm_page **pages, size_t nr_pages, int flags);
void *umm_page_address(struct umm_page *page);

#ifdef __cplusplus
}
#endif
#endif
