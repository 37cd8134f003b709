/*
 * usermm/system.h - one usermm instance: physical memory, swap, policies.
 *
 * Every call returns 0 or a negative errno.  Faults have the signals'
 * meaning everywhere in usermm:
 *   -EFAULT  what Linux answers with SIGSEGV (no mapping, wrong protection)
 *   -EIO     what Linux answers with SIGBUS (past the end of the object,
 *            backing I/O failed)
 *   -ENOMEM  out of physical memory (or of page-table/VMA memory)
 */
#ifndef USERMM_SYSTEM_H
#define USERMM_SYSTEM_H

#include <stddef.h>
#include <stdint.h>
#include "mman.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UMM_PAGE_SHIFT 12
#define UMM_PAGE_SIZE  4096UL

enum {
	UMM_RMAP_DEFAULT   = 0,
	UMM_RMAP_PTE_CHAIN = 1,
	UMM_RMAP_OBJECT    = 2,
};

/* A zero field means a sane default. */
struct umm_config {
	size_t      phys_bytes;   /* physical memory; default 256 MiB, minimum 1 MiB */
	const char *swap_path;    /* swap file, NULL for none (swap issue) */
	size_t      swap_bytes;
	int         rmap;         /* UMM_RMAP_PTE_CHAIN or UMM_RMAP_OBJECT */
	size_t      wmark_min_bytes;  /* min watermark; default max(64 KiB, phys/256) */
	unsigned    pcp_high;     /* frames kept per thread; default 64 */
	int         debug_checks; /* run the expensive invariant check after every
	                             address-space operation (slow; for tests) */
};

struct umm_system;
struct umm_object;
struct umm_mm;

/*
 * umm_system_create - cfg NULL means all defaults.  -EINVAL for a bad config
 * (phys_bytes < 1 MiB, unknown rmap, min watermark >= half of memory) or a
 * NULL out; -EOPNOTSUPP for swap_path/swap_bytes until swap is available;
 * -ENOMEM.
 */
int  umm_system_create(const struct umm_config *cfg, struct umm_system **out);
/* umm_system_destroy - the caller must have destroyed its mms and put its objects. */
void umm_system_destroy(struct umm_system *sys);

/* umm_strerror - text for a negative (or positive) errno returned by usermm. */
const char *umm_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
