/* SPDX-License-Identifier: MIT */
/*
 * usermm/host.h - the host MMU: ordinary pointers into usermm memory.
 *
 * umm_host_attach() reserves a window of the process's own address space
 * (PROT_NONE, MAP_NORESERVE) in which usermm address X of an address
 * space, for X in [start, start + len), appears at host address
 * base + (X - start).  Loads and stores through such pointers fault into
 * usermm the first time (a SIGSEGV handler resolves them through usermm's
 * fault path and maps the frame there from the arena's memfd), then run at
 * the speed of plain memory.  Copy-on-write, dirty tracking of shared file
 * pages, munmap, mprotect and every other change usermm makes to its page
 * tables take effect on the host mapping at once.
 *
 * Host windows need a memfd arena: create the system with
 * config.arena = UMM_ARENA_MEMFD (the default, UMM_ARENA_AUTO, is
 * anonymous memory on hosts with transparent huge pages; usermm/system.h).
 *
 * A window, not the whole address space: usermm addresses span 128 TiB,
 * more than a process can reserve, so the caller picks the part it wants
 * to dereference.  Several windows (of one or several address spaces) may
 * be attached at once, up to UMM_HOST_MAX_REGIONS.
 *
 * Faults usermm cannot resolve (no mapping: what umm_read reports as
 * -EFAULT), and every fault outside the windows, go to the SIGSEGV/SIGBUS
 * handler that was installed when the first window was attached (or the
 * default action), with the original siginfo; a fault usermm answers with
 * -EIO (past the end of a file, an I/O error) goes to the previous SIGBUS
 * handler as a SIGBUS.  Install your own handler before umm_host_attach, not
 * after: a handler installed later replaces the host MMU's.
 *
 * System calls and the kernel: a system call given a pointer into a window
 * page that is not mapped on the host fails with EFAULT instead of
 * faulting.  umm_host_prefault() maps a buffer first.  The mapping lasts
 * until usermm changes the page (unmap, protection change, copy-on-write,
 * reclaim) or the host MMU drops mappings near the kernel's VMA limit.
 *
 * Kernel limit: every run of host pages that are not contiguous in the
 * arena is one kernel VMA, and vm.max_map_count (65530 by default) caps a
 * process's VMAs.  Near the cap the host MMU drops its mappings (they
 * refault) rather than fail; programs that touch many scattered pages
 * should raise the sysctl (sysctl -w vm.max_map_count=N).
 *
 * Threads: any number of threads may fault at once.  A fault on a page
 * usermm already maps, and the first store to a clean page of a shared
 * mapping, are resolved in the signal handler with trylocks only.  Other
 * faults (allocation, I/O, copy-on-write) run usermm's fault path in the
 * signal handler on the faulting thread, with asynchronous signals
 * blocked and cancellation disabled meanwhile, unless a log function is
 * installed (umm_set_log), the handler runs on an alternate signal stack
 * with less than 40 KiB left, or the thread is in a handler that
 * interrupted a fault; then one of usermm's fault threads resolves them.
 * So the heap of the malloc that usermm calls must not live in a window
 * (a fault inside malloc would re-enter it).  A
 * thread that touches a window while it is inside usermm (holding an
 * address space's mmap_lock, or inside a soft-TLB access such as an
 * umm_read, or between umm_tlb_begin and umm_tlb_end) cannot be served:
 * that fault goes to the previous handler.  A handler of an asynchronous
 * signal that may interrupt a usermm call must not touch a window.  umm_read and umm_write accept a buffer inside a
 * window (they copy through a bounce buffer); the vectors of
 * umm_mincore, umm_prepage, umm_remap_file_pages_v and umm_pin_pages must
 * not be in a window.  See docs/API.md, "The host MMU".
 */
#ifndef USERMM_HOST_H
#define USERMM_HOST_H

#include <stddef.h>
#include <stdint.h>
#include "system.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UMM_HOST_MAX_REGIONS 64

/* umm_host_attach flags */
/*
 * UMM_HOST_NO_FAULT_AROUND - map only the faulting page, never its
 * neighbours; this also turns off write-notify around (a store to a clean
 * shared page in a 64-page block with 16 other pages dirty makes its clean
 * neighbours writable and dirty with it: see docs/API.md).
 */
#define UMM_HOST_NO_FAULT_AROUND 0x1
/*
 * UMM_HOST_POPULATE_AROUND - a store to a private anonymous page allocates
 * the aligned block of 16 pages around it (as the fault of a huge page
 * would), 32 and then 64 pages when the store lands on the block right
 * after the previous one (a sequential writer), from one free block of the
 * allocator when there is one, so one host fault maps all of them: fewer
 * faults, more memory.  A store to a shared mapping of a shmem object
 * brings the same blocks into the object.
 */
#define UMM_HOST_POPULATE_AROUND 0x2

/*
 * umm_host_attach - reserve a host window for [start, start + len) of mm
 * and return its base.  start and len page aligned, len > 0, the range
 * inside [0, UMM_TASK_SIZE).  flags: UMM_HOST_* above.  Returns 0,
 * -EINVAL (NULL mm or base, bad alignment or range, unknown flags), -ENOMEM (no host address space, or
 * UMM_HOST_MAX_REGIONS windows already attached), -EAGAIN (the fault
 * thread could not be started), -EOPNOTSUPP (mm's system has an
 * anonymous arena, whose frames cannot be mapped elsewhere: asked for
 * with UMM_ARENA_ANON, or picked by the default UMM_ARENA_AUTO on a host
 * with transparent huge pages; host windows need a memfd arena: set
 * config.arena = UMM_ARENA_MEMFD).  The first attach installs the handler.
 */
int umm_host_attach(struct umm_mm *mm, uintptr_t start, size_t len, int flags, void **base);

/*
 * umm_host_detach - remove the window at base (as returned by
 * umm_host_attach for mm): its host mappings and reservation go away.
 * A window may be detached before or after umm_mm_destroy (destroying
 * the address space unmaps its windows; see docs/API.md).
 * Returns 0 or -EINVAL (not a window of mm).  The last detach puts the
 * previous SIGSEGV/SIGBUS handlers back if the host MMU's are still
 * installed.
 */
int umm_host_detach(struct umm_mm *mm, void *base);

/*
 * umm_host_prefault - map [addr, addr + len) of mm (usermm addresses) in
 * every window of mm that covers it, for writing when `write`, so the
 * kernel can use it (read(2) into it, write(2) from it).  Returns 0,
 * -EINVAL (NULL mm, len 0, range wraps), -EFAULT (a page outside every
 * window of mm, or not mapped or not accessible in mm), -EIO, -ENOMEM.
 */
int umm_host_prefault(struct umm_mm *mm, uintptr_t addr, size_t len, int write);

/*
 * umm_host_to_umm / umm_host_from_umm - translate between a host pointer
 * in a window and (mm, usermm address).  umm_host_from_umm returns the
 * pointer in the first window of mm that covers addr, or NULL.
 * umm_host_to_umm returns 0, or -EFAULT when p is in no window.
 */
void *umm_host_from_umm(struct umm_mm *mm, uintptr_t addr);
int umm_host_to_umm(const void *p, struct umm_mm **mm, uintptr_t *addr);

/* Process-wide counters (cumulative since the process started). */
struct umm_host_stats {
	unsigned long regions;          /* windows attached now */
	unsigned long faults;           /* host faults resolved (fault threads and handler) */
	unsigned long write_faults;     /* of which writes */
	unsigned long refused;          /* faults in a window passed to the previous handler */
	unsigned long retries;          /* resolutions redone because an invalidation raced */
	unsigned long pages_mapped;     /* pages installed (faults, fault-around, prefault) */
	unsigned long fault_around_pages; /* of which neighbours of a faulting page */
	unsigned long runs_mapped;      /* mmap calls that installed them */
	unsigned long prefaults;        /* umm_host_prefault calls */
	unsigned long invalidations;    /* invalidations that unmapped host pages */
	unsigned long pages_unmapped;   /* pages they unmapped */
	unsigned long write_protects;   /* host pages downgraded to read-only */
	unsigned long drops;            /* times mappings were dropped near the VMA limit */
	unsigned long map_count;        /* the process's kernel VMAs at the last count */
	unsigned long map_limit;        /* the limit the host MMU works to */
	unsigned long handler_faults;   /* of faults, resolved in the signal handler itself */
	unsigned long write_notify;     /* of those, stores to a clean shared page made writable there */
	unsigned long inline_faults;    /* of handler_faults, through the whole fault path there */
	unsigned long write_upgrades;   /* pages mapped read-only made writable in place (mprotect) */
	unsigned long fault_threads;    /* fault threads running now (0 until a handoff may be needed,
					   with the LD_PRELOAD interposer) */
	unsigned long handoffs_refused; /* of refused, faults that needed a fault thread when none ran */
	unsigned long write_around;     /* clean pages made writable and dirty with a
	                                   write-notify neighbour (a block being filled) */
};
void umm_host_get_stats(struct umm_host_stats *st);

/*
 * umm_host_set_map_limit - the kernel VMA count the host MMU keeps under
 * (0: vm.max_map_count as read from /proc, the default).  For tests and
 * for processes that need VMAs of their own.  Returns the previous value.
 */
unsigned long umm_host_set_map_limit(unsigned long limit);

#ifdef __cplusplus
}
#endif

#endif /* USERMM_HOST_H */
