/* SPDX-License-Identifier: MIT */
/*
 * usermm/debug.h - failure injection and invariant checks, for tests.
 */
#ifndef USERMM_DEBUG_H
#define USERMM_DEBUG_H

#include "system.h"

#ifdef __cplusplus
extern "C" {
#endif

enum umm_inject_site {
	UMM_INJECT_PAGE_ALLOC = 0,    /* frame allocation returns NULL */
	UMM_INJECT_READ       = 1,    /* backing pread fails with EIO */
	UMM_INJECT_WRITE      = 2,    /* backing pwrite fails with EIO */
	UMM_INJECT_SWAP_READ  = 3,    /* a swap device read fails with EIO */
	UMM_INJECT_SWAP_WRITE = 4,    /* a swap device write fails with EIO */
	UMM_INJECT__COUNT
};

/*
 * umm_inject_fault - let the next `skip` calls at `site` succeed, then fail
 * `times` calls (-1 = until disarmed, 0 = disarm).  -EINVAL for a NULL
 * sys, a bad site, skip below 0 or times below -1.
 */
int umm_inject_fault(struct umm_system *sys, int site, long skip, long times);
/* umm_inject_hits - failures produced at a site so far. */
unsigned long umm_inject_hits(struct umm_system *sys, int site);

/*
 * umm_mm_check - expensive invariant check of one address space: VMA tree
 * order and gaps, every present pte maps a valid allocated frame, map
 * counts and RSS add up with the page tables.  0, or -EUCLEAN after
 * logging what is wrong (UMM_LOG_CHECK: stderr unless umm_set_log says
 * otherwise); -EINVAL for a NULL mm.
 */
int umm_mm_check(struct umm_mm *mm);
/*
 * umm_system_check - allocator and slab consistency, frame accounting.
 * For a system no other thread is using; it first waits for the reads
 * still in flight in the I/O engine, so umm_system_stats after it is exact.
 * 0, -EUCLEAN (logged as for umm_mm_check), or -EINVAL for a NULL sys.
 */
int umm_system_check(struct umm_system *sys);

#ifdef __cplusplus
}
#endif
#endif
