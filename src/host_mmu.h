/* SPDX-License-Identifier: MIT */
/*
 * host_mmu.h - the host MMU (host_mmu.c) as seen by the soft MMU: the
 * test umm_read/umm_write (and umm_object_write, filemap.c) make on a
 * caller's buffer, and the prefault their bounce path uses.  (Otherwise
 * the core reaches the host MMU only through the MMU notifiers it
 * registers.)
 */
#ifndef UMM_HOST_MMU_H
#define UMM_HOST_MMU_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "compiler.h"

struct umm_mm;

/* Windows attached now (host_mmu.c); 0 makes every call below a single load. */
extern _Atomic unsigned long host_nr_windows;

bool __host_mmu_covers(const void *p, size_t len);
/* host_mmu_covers - does [p, p + len) overlap a host window?  Lock-free. */
static inline bool host_mmu_covers(const void *p, size_t len)
{
	if (likely(!atomic_load_explicit(&host_nr_windows, memory_order_relaxed)))
		return false;
	return __host_mmu_covers(p, len);
}

/*
 * host_mmu_prefault_host - map the window pages of [p, p + len) (host
 * addresses; pages outside every window are skipped) for writing if
 * `write`.  No usermm lock may be held (takes mmap_lock).  0, -EFAULT,
 * -EIO, -ENOMEM.
 */
int host_mmu_prefault_host(const void *p, size_t len, bool write);

struct sigaction;
/*
 * host_mmu_replace_prev_handler - while the host MMU's handler is
 * installed, set (act) and get (*old) the SIGSEGV or SIGBUS handler it
 * passes refused faults to; false if its handler is not installed.  For
 * the LD_PRELOAD interposer's sigaction.  Takes host_lock.
 */
bool host_mmu_replace_prev_handler(int sig, const struct sigaction *act, struct sigaction *old);

/*
 * host_mmu_no_fault_code - tests: resolve faults as on an architecture
 * whose signal context does not say whether the access was a store (the
 * kind is then inferred from the window's mapping).  Set only while no
 * window is attached.
 */
extern bool host_mmu_no_fault_code;

/*
 * host_mmu_no_fast_path - tests and benchmarks: the signal handler
 * resolves nothing itself; every fault goes to a fault thread.  Set only
 * while no thread can fault on a window (the handler reads it without
 * synchronisation).
 */
extern bool host_mmu_no_fast_path;

/*
 * host_mmu_no_inline - tests and benchmarks: the signal handler runs no
 * fault path on the faulting thread; a fault its trylocks cannot serve
 * goes to a fault thread.  Set only while no thread can fault on a window
 * (the handler reads it without synchronisation).
 */
extern bool host_mmu_no_inline;

/*
 * host_mmu_lazy_fault_threads - set before the first attach (the
 * LD_PRELOAD interposer does): umm_host_attach starts no fault thread
 * unless a handoff can happen (a log function installed, a test knob
 * above set, host_mmu_want_fault_threads called).  The caller then calls
 * host_mmu_want_fault_threads before anything else can make a fault need
 * one (a small alternate signal stack, a log function installed later);
 * a fault that needs one while none runs is refused (counted in
 * umm_host_stats.handoffs_refused), never left waiting.
 */
extern bool host_mmu_lazy_fault_threads;
int host_mmu_want_fault_threads(void);
/* HOST_INLINE_STACK - bytes of alternate signal stack the inline fault path needs. */
#define HOST_INLINE_STACK  (40 << 10)


#endif /* UMM_HOST_MMU_H */
