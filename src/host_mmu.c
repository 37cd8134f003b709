/* SPDX-License-Identifier: MIT */
/*
 * host_mmu.c - the host MMU: the CPU's own MMU as one more secondary MMU
 * of usermm, so that ordinary pointers reach usermm memory.
 *
 * Theory of operation
 *
 * Windows.  umm_host_attach(mm, start, len) reserves len bytes of the
 * process's address space (PROT_NONE, MAP_NORESERVE: no memory, no commit
 * charge) at base; usermm address X in [start, start + len) is host
 * address base + (X - start).  A window rather than the whole usermm
 * address space, because usermm addresses span 128 TiB and a process
 * cannot reserve that.  The windows live in a fixed table (regions[],
 * UMM_HOST_MAX_REGIONS), published with atomic stores so the signal
 * handler can look an address up without a lock.  Each window keeps two
 * bitmaps, one bit per page: mapped on the host, and mapped writable.
 *
 * Faults.  A load or store to a window page that is not mapped raises
 * SIGSEGV.  The handler, running on the faulting thread, may have
 * interrupted that thread anywhere, holding any lock; usermm's locks are
 * pthread mutexes and futex locks, and its fault path may allocate (with
 * malloc, the first time a thread needs a frame cache or a slab
 * magazine, and for I/O requests).  So the handler first tries the fast
 * path below, which needs neither; a fault that needs more runs the whole
 * fault path on the faulting thread when the conditions of "Inline
 * faults" (below) hold, and is handed to a fault thread otherwise.
 *
 * The fast path (host_map_fast): when the faulting thread is not inside
 * usermm (next paragraph but two), the handler tries mmap_lock for read,
 * then the pte table's lock, then the window's lock, each with a trylock
 * that never waits; if the pte is present and already allows the access
 * (a load, or a store to a pte writable and dirty), it sets the pte young
 * as the fault path would, and maps the page and its fault-around run
 * itself.  A store to a present pte that is only clean is resolved there
 * too, as the write fault would (host_wp_notify_locked): a writable pte is
 * set dirty; a read-only pte of a shared vma that allows writing (a page
 * of the page cache or of shmem, mapped clean so that its first store is
 * seen: write-notify) is made writable and dirty and its page marked
 * dirty (an atomic flag, no lock).  It allocates nothing, starts no I/O
 * and runs none of the fault path: it serves the pages usermm has and the
 * host does not map (after fault-around left a page out of a run, after
 * aging or an invalidation unmapped it, in a new window over resident
 * memory) and the first store to a clean shared page.  A lock it cannot
 * have at once, a pte that needs a fault (none, swapped, copy-on-write),
 * a race with an invalidation, or a VMA count due, and the fault goes to
 * a fault thread instead.  Since the thread holds no
 * usermm lock (it is not inside usermm) and the trylocks cannot wait,
 * the fast path cannot wait for the interrupted code; since it holds
 * mmap_lock (counted in mmap_lock_depth) while it works, a fault nested in
 * it (another signal's handler touching a window) is refused.
 *
 * The handoff: the handler writes a request into a per-thread slot
 * (static thread-local storage, initial-exec: no allocation on first
 * touch), queues a pointer to it on a lock-free bounded ring (Vyukov's
 * MPMC queue: atomics only), wakes a fault thread with FUTEX_WAKE and
 * sleeps with FUTEX_WAIT on the slot's state word (after a short spin,
 * HOST_SPIN pause loops: the answer often comes within microseconds; a
 * fault thread with nothing to do spins as long before it sleeps, since a
 * thread touching page after page faults again at once).
 * The fault threads (HOST_FAULT_THREADS of them, ordinary threads started
 * by the first attach; with host_mmu_lazy_fault_threads, as the LD_PRELOAD
 * interposer sets it, only once a handoff can happen: a log function
 * installed, a test knob, host_mmu_want_fault_threads, which the
 * interposer calls for a small alternate signal stack; a fault that needs
 * a handoff while none runs is refused, counted in handoffs_refused, and
 * never waits) take requests off the ring and resolve each one
 * through usermm's fault path (follow_or_fault, under mmap_lock for read,
 * exactly as the soft TLB's miss does) and post the result.
 *
 * Inline faults (host_fault_inline).  A fault the fast path cannot serve
 * runs host_map, the fault threads' own resolution (follow_or_fault and
 * all, blocking locks, allocation, I/O), in the handler on the faulting
 * thread, which saves the two thread switches and the futex wake and wait
 * of the handoff.  Why that is safe: the fault is synchronous, so the
 * interrupted code is the access itself, and the thread is outside
 * usermm (mmap_lock_depth is 0, no soft-TLB access; see "Inside usermm"
 * below): it holds no usermm lock and uses none of usermm's per-thread
 * state (frame caches, slab magazines, the vma cache), which usermm only
 * uses while it holds mmap_lock or touches no caller memory.  A lock of
 * the program's that the interrupted code holds and the fault path needs
 * (through a callback: an MMU notifier, an object's I/O) deadlocks the
 * handoff as well, since the waiting thread never lets it go.  What is
 * left is what a signal handler must not re-enter: malloc, when the
 * interrupted code is inside it; it cannot be touching a window then
 * (the allocator's memory is its own, and usermm's LD_PRELOAD interposer
 * leaves anonymous memory and libc's internal mmap calls to the kernel),
 * unless a program keeps the heap of the malloc usermm calls inside a
 * window, which is not supported (usermm/host.h).  stdio, when the
 * interrupted code is inside a stdio call reading a window: usermm's
 * default log writes a line with one write(2) and no stdio, and a fault
 * is not run inline while a log function (umm_set_log) is installed,
 * which may do anything.  pthread_create, which takes the C library's
 * locks: a helper thread the fault path wants (kswapd, the I/O engine's,
 * ...) is only marked wanted while the fault runs inline
 * (kthread_nostart_depth) and created at the next safe point (kthread.c).  The handler's stack: the fault path takes about
 * 23 KiB at most as measured (debug and ASan builds, file I/O, swap and
 * reclaim); on an alternate signal stack (SA_ONSTACK: the handler runs
 * there when the program set one) the room left must be HOST_INLINE_STACK
 * (40 KiB), else the fault is handed off; the thread's own stack is taken
 * to have that room (thread stacks are megabytes unless a program makes
 * them tiny).  Signals: every asynchronous signal is blocked while the
 * fault path runs (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP and SIGSYS
 * stay deliverable, as the kernel kills a thread that raises one blocked,
 * and so do libc's internal cancellation and set*id signals, whose
 * handlers do nothing here that could meet the fault path),
 * as the kernel's own fault runs no signal handler, and restored before
 * the handler returns; a program's handler cannot interrupt it and touch
 * a window (which would be refused, mmap_lock being held) or re-enter it.
 * Cancellation is disabled meanwhile (the fault path's pread and
 * condition waits are cancellation points; a thread cancelled there would
 * leave mmap_lock held).  Both are put back last, after the handler is
 * done with the window (inline_exit), so a cancellation that acts then
 * leaves nothing held.  Not inline: a fault nested in a handoff
 * (host_req_depth: a handler of another signal that faulted while the
 * thread waits for a fault thread), a fault while a log function is
 * installed or with too little alternate stack, and every fault when a
 * test sets host_mmu_no_inline or host_mmu_no_fast_path; those go to the
 * fault threads as before.  host_inline_depth, raised while the fault
 * path runs inline, makes a fault nested in it (a bug: usermm touching a
 * window) refused, as mmap_lock_depth does while mmap_lock is held.
 *
 * Either way the frame is mapped at the faulting host address with
 * mmap(MAP_FIXED | MAP_SHARED | MAP_POPULATE) of the arena memfd at the
 * frame's offset (MAP_POPULATE fills the host page table in the same
 * call, so neither the restarted access nor the other pages of the run
 * take a second, kernel-only fault on the memfd), the handler returns and
 * the access restarts.  Everything the handler itself does is
 * async-signal-safe: atomics, the trylocks (atomic compare-and-swaps; the
 * window's lock is a default glibc mutex, whose trylock is one
 * compare-and-swap, although POSIX does not list pthread_mutex_trylock
 * as async-signal-safe), mmap, futex system calls,
 * sched_yield, sigaction and raise when it passes the signal on, and
 * errno is saved and restored around it; the inline fault path is the
 * exception, under the conditions above.  The price of the handoff is two
 * thread switches per fault, and on a loaded machine the wait until a
 * fault thread is scheduled; fault-around (below) spreads it over several
 * pages.  Many threads may fault at once: each has its own slot (a small
 * stack of them, for a handler of another signal that faults while the
 * thread already waits), the ring holds 256 requests (a producer that
 * finds it full yields and retries).
 *
 * Permissions.  A page is mapped read+write only when the access is a
 * write (the fault path broke copy-on-write and set the pte dirty) or the
 * pte is already writable and dirty; otherwise read-only.  So a
 * copy-on-write page, a clean shared file page, and a page whose pte is
 * clean for any reason fault again on the first store, and that fault
 * runs the write fault path (which copies, or marks the page dirty; for a
 * shared page the fast path does that itself).  The
 * store is recognised as such from the fault's error code in the signal
 * context (x86-64: bit 1 of REG_ERR; arm64: WnR of the ESR record);
 * where the context does not say, a fault on a page the window maps
 * read-only is taken for a store (a load cannot fault there).
 *
 * What the handler refuses.  A fault the fault path answers with -EFAULT
 * (what a CPU would turn into SIGSEGV), a fault outside every window, and
 * SIGBUS itself go to the handler that was installed before the host
 * MMU's, with the original siginfo and context; -EIO (past the end of a
 * file, an I/O error: the kernel's SIGBUS) goes to the previous SIGBUS
 * handler as a SIGBUS (BUS_ADRERR at the faulting address, the original
 * context).  A handler is called this way: an
 * SA_SIGINFO handler or a plain one is called (SA_RESETHAND honoured);
 * SIG_DFL or SIG_IGN puts the default action back, and the signal comes
 * again at once (a fault re-executes its access; a signal sent by kill or
 * raise is raised again) and ends the process as it would have without us.
 * An instruction fetch is refused too: windows are never mapped
 * executable (x86-64 tells a fetch by bit 4 of REG_ERR; elsewhere a fetch
 * from a window faults again after each resolution).
 * Inside usermm.  Two cases cannot be served and are refused the same
 * way, before the fast path or the handoff: the faulting thread holds an
 * mmap_lock (mmap_lock_depth, counted by mm.h's lock functions, the
 * trylock's too, in every build), or is inside a soft-TLB access
 * (umm_tlb_hot.active: a flush would wait for it while it waits for the
 * fault thread).  The fault thread would need those locks, or would wait
 * on the interrupted thread: a deadlock.  Locks usermm holds without
 * mmap_lock (page locks, the page cache's tree_lock, allocator locks) and
 * its per-thread caches are never in use while usermm touches a caller's
 * memory, except the vectors of umm_mincore/umm_prepage/
 * umm_remap_file_pages_v/umm_pin_pages, which is why those must not point
 * into a window.  umm_read and umm_write check their buffer against the
 * windows (soft_mmu.c, host_mmu_covers) and copy through a bounce buffer,
 * touching the window with no lock held.  So a thread that faults with
 * neither count set is outside usermm, unless a handler of an
 * asynchronous signal (or a callback usermm made) touched a window in the
 * middle of a usermm call without mmap_lock: that is not supported (see
 * usermm/host.h), as with the handoff alone it could already wait on a
 * lock the interrupted call holds.
 *
 * Invalidation.  Each window registers an MMU notifier on its address
 * space (usermm/mmu_notifier.h).  invalidate_range_start unmaps the host
 * pages of the range (mmap(PROT_NONE, MAP_FIXED | MAP_ANONYMOUS |
 * MAP_NORESERVE) over each mapped run, which keeps the reservation) or,
 * for the events that only take write permission away (UMM_MMU_FORK,
 * UMM_MMU_CLEAN), mprotects the writable runs to PROT_READ.  release (the
 * address space is destroyed, or the window detached) unmaps the window
 * and marks it dead.  The kernel's own
 * TLB shootdown makes that take effect on every CPU before the call
 * returns.  Against a fault racing with an invalidation, each window has
 * a sequence count and a count of invalidations in progress with the union
 * of their ranges, all under the window's lock (as KVM's
 * mmu_invalidate_seq): the fault thread reads the count before it reads
 * the pte, and maps only if, under the window's lock and with the pte
 * table's lock still held, no invalidation started or ended since and none
 * in progress overlaps the run; otherwise it drops everything and tries
 * again.  An invalidation bumps the count when it starts and again when it
 * ends.  Events such as UMM_MMU_RECLAIM need nothing of their own: the
 * pages are unmapped and refault.
 *
 * Young bits.  The host MMU has no accessed bits usermm can read (as
 * Linux on MMUs without them): a page mapped on the host counts as young,
 * clear_young unmaps it so the next access refaults and the fault path
 * sets the pte young.
 *
 * Fault-around.  Each host run of pages is one kernel VMA and costs one
 * mmap.  Before a fault thread's fault, the aligned block of
 * HOST_FAULT_AROUND (64) pages around it (within the vma and the window)
 * is populated from the page cache for file and shmem mappings (no I/O,
 * no allocation: as the kernel's fault-around, with a larger block since
 * our fault costs more).  With UMM_HOST_POPULATE_AROUND, a store to a
 * private anonymous mapping allocates the aligned block of
 * HOST_POPULATE_MIN (16) pages around it, doubled (up to 64) when the
 * store lands on the block right after the window's previous one (a
 * sequential writer), and the block's frames are taken from one free
 * buddy block split into pages (POPULATE_CONTIG, split_page), so that
 * they follow each other in the arena; a store to a shared shmem mapping
 * brings the same blocks into the object (its pages are allocated one at
 * a time, contiguous only as the allocator hands them out; the faults on
 * the block's other runs find present ptes: the fast path).  After the
 * fault, the fault thread (or the fast path) looks at the neighbouring
 * ptes of the 64-page block in the same pte table: present pages whose
 * frames follow the faulting page's frame in the arena (frame = its frame
 * +/- the distance) and that would get the same permission are mapped
 * with the same mmap call, less the pages at either end that the host
 * already maps so.
 * (memory.c frees an unmapped batch last page first, so frames reused
 * from the per-thread cache come out in address order and a refilled
 * range maps in long runs.)
 *
 * Write-notify around.  A program that fills a shared file mapping pays
 * a write-notify fault (a signal and an mprotect) for the first store to
 * each clean page, where the kernel's costs about a microsecond.  So when
 * a store to a clean page finds at least HOST_WRITE_AROUND_MIN (16)
 * other pages of its 64-page block already dirty, the fast path takes
 * the block to be being filled and also makes writable and dirty the
 * clean neighbours the faulting page's host run can cover (ptes present
 * and read-only in the same vma, frames following its frame), which one
 * mprotect then upgrades with it (host_wp_around_locked).  This departs
 * from exact dirty tracking the way a larger dirty granule would: such a
 * page that is never stored to is written back needlessly (a block first
 * qualifies once 16 of its pages were stored to; pages made dirty this
 * way count towards it until they are written back).
 * UMM_HOST_NO_FAULT_AROUND turns it off with fault-around.
 *
 * The kernel's VMA limit.  vm.max_map_count (65530 by default, read from
 * /proc/sys/vm/max_map_count; umm_host_set_map_limit overrides) caps the
 * process's VMAs.  The host MMU keeps an upper bound of the process's
 * VMAs: the count read from /proc/self/maps at the last count plus two
 * for every mmap it made since (an mmap in the middle of a VMA splits it
 * in three).  When the bound passes the limit less a margin, it counts
 * again; when the count is above three quarters of the limit, every
 * window's host mappings are dropped (one mmap over each whole window:
 * one VMA again) and the pages refault.  An mmap that still fails with
 * ENOMEM drops everything and retries once.
 *
 * Host fork().  The child has no fault threads and its windows would map
 * the parent's frames: a pthread_atfork handler puts every window back to
 * its bare reservation in the child and marks it dead (faults refused).
 *
 * Detach.  umm_host_detach marks the window dead (the fault threads fail
 * its requests with -EFAULT), unpublishes it, waits until no handler is
 * between its lookup and its end (handlers_inflight), then unmaps the
 * window and frees it.
 *
 * Locks.  host_lock (a mutex) serialises attach, detach and the handler
 * installation; it is taken alone.  Each window's lock is a leaf: the
 * fault path takes it under mmap_lock (read) and a pte table lock, the
 * invalidations under whatever the core holds when it invalidates (any of
 * usermm's locks), and nothing is taken under it.  The signal handler
 * takes locks only with trylocks in the fast path, in the fault path's
 * order: mmap_lock (read), a pte table lock, the window's lock; an inline
 * fault takes them as a fault thread does, in the same order.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <usermm/access.h>
#include <usermm/host.h>
#include <usermm/mm.h>
#include <usermm/mmu_notifier.h>
#include "host_mmu.h"
#include "filemap.h"
#include "kthread.h"
#include "gup.h"
#include "log.h"
#include "memory.h"
#include "object.h"

#define HOST_FAULT_THREADS 2
#define HOST_FAULT_AROUND  64           /* pages: the aligned block fault-around looks at */
#define HOST_POPULATE_MIN  16           /* pages: the smallest populate-around block */
#define HOST_WRITE_AROUND_MIN 16        /* dirty pages of a fault-around block that make write-notify work around */
#define HOST_RING          256          /* requests queued at once (power of two) */
#define HOST_REQ_NEST      4            /* nested faults per thread */
#define HOST_MAP_MARGIN    256          /* VMAs kept free below the limit */
#define HOST_SPIN          64           /* pause loops before sleeping on a futex */
/* HOST_INLINE_STACK (host_mmu.h): bytes of alternate signal stack the fault path needs (about 23K used, measured) */

enum { REQ_IDLE, REQ_POSTED, REQ_DONE };

/* A fault request, in the faulting thread's TLS. */
struct host_req {
	_Atomic uint32_t state;
	_Atomic int result;
	struct host_region *_Atomic region;
	_Atomic uintptr_t haddr;
	_Atomic int write;              /* 1 store, 0 load, -1 unknown (write_inferred) */
};

struct host_region {
	struct umm_mm *mm;
	char *base;
	uintptr_t start, len;           /* usermm range */
	int flags;
	pthread_mutex_t lock;           /* leaf: everything below */
	_Atomic uint64_t seq;           /* bumped at each invalidation's start and end */
	unsigned int invalidating;      /* invalidations in progress */
	uintptr_t inv_lo, inv_hi;       /* union of their ranges (usermm) */
	_Atomic bool dead;              /* detached, or its mm released: faults fail */
	unsigned long *mapped;          /* bit per page: mapped on the host */
	unsigned long *writable;        /* bit per page: mapped writable */
	size_t bitmap_bytes;
	unsigned long nr_mapped;
	_Atomic uintptr_t pa_next, pa_span; /* populate-around: where a sequential writer's
					       next block starts, the last block's size */
	struct umm_mmu_notifier mn;     /* the window's registration on mm */
};

static struct host_region *_Atomic regions[UMM_HOST_MAX_REGIONS];
static pthread_mutex_t host_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long nr_regions;                /* [host_lock] */
static _Atomic unsigned long handlers_inflight; /* handlers (and prefaults) using a window */
_Atomic unsigned long host_nr_windows;           /* windows published (host_mmu.h) */
bool host_mmu_no_fault_code;                    /* tests: as if the context gave no error code */
bool host_mmu_no_fast_path;                     /* tests: every fault goes to a fault thread */
bool host_mmu_no_inline;                        /* tests: no fault path on the faulting thread */

/* The handlers in place before ours (written under host_lock, read by the handler). */
static struct sigaction prev_segv, prev_bus;
static bool handlers_installed;                 /* [host_lock] */

/* The fault threads and their ring. */
struct ring_cell {
	_Atomic size_t seq;
	struct host_req *_Atomic req;
};
static struct ring_cell ring[HOST_RING];
static _Atomic size_t ring_enq, ring_deq;
static _Atomic uint32_t ring_posted;            /* futex word: bumped per request */
static _Atomic uint32_t ring_sleepers;
static _Atomic bool fault_threads_stop;
static pthread_t fault_threads[HOST_FAULT_THREADS];
static _Atomic bool fault_threads_running;      /* written under host_lock, read by the handler */
bool host_mmu_lazy_fault_threads;               /* host_mmu.h */
static bool fault_threads_wanted;               /* [host_lock] host_mmu_want_fault_threads was called */

/* Per thread: the request slots, and their depth. */
static __thread struct host_req host_reqs[HOST_REQ_NEST] __attribute__((tls_model("initial-exec")));
static __thread unsigned int host_req_depth __attribute__((tls_model("initial-exec")));
/* Per thread: set while the handler runs the fault path on this thread (host_fault_inline). */
static __thread unsigned int host_inline_depth __attribute__((tls_model("initial-exec")));
/* mm.h: mmap_locks the thread holds (the handler refuses faults while it is not 0). */
__thread unsigned int mmap_lock_depth __attribute__((tls_model("initial-exec")));

/* The VMA budget. */
static _Atomic unsigned long map_limit_set;     /* umm_host_set_map_limit; 0 = sysctl */
static _Atomic unsigned long map_limit_sysctl;
static _Atomic long map_estimate = -1;          /* upper bound of the process's VMAs; -1 unknown */
static _Atomic unsigned long map_counted;       /* at the last count */

static struct {
	_Atomic unsigned long faults, write_faults, refused, retries, pages_mapped,
		fault_around_pages, runs_mapped, prefaults, invalidations, pages_unmapped,
		write_protects, drops, handler_faults, write_notify, inline_faults, write_upgrades,
		handoffs_refused, write_around;
} hstat;

#define hstat_add(f, n) atomic_fetch_add_explicit(&hstat.f, (n), memory_order_relaxed)

/* ---- futex ---- */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

static void futex_wait(_Atomic uint32_t *w, uint32_t val)
{
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w, int n)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* ---- the ring (Vyukov's bounded MPMC queue) ---- */

static void ring_init(void)
{
	for (size_t i = 0; i < HOST_RING; i++)
		atomic_store(&ring[i].seq, i);
	atomic_store(&ring_enq, 0);
	atomic_store(&ring_deq, 0);
}

/* ring_push - queue req; false if the ring is full.  Async-signal-safe. */
static bool ring_push(struct host_req *req)
{
	size_t pos = atomic_load_explicit(&ring_enq, memory_order_relaxed);
	struct ring_cell *c;

	for (;;) {
		c = &ring[pos & (HOST_RING - 1)];
		size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
		intptr_t diff = (intptr_t)seq - (intptr_t)pos;

		if (diff == 0) {
			if (atomic_compare_exchange_weak_explicit(&ring_enq, &pos, pos + 1,
								  memory_order_relaxed, memory_order_relaxed))
				break;
		} else if (diff < 0) {
			return false;
		} else {
			pos = atomic_load_explicit(&ring_enq, memory_order_relaxed);
		}
	}
	atomic_store_explicit(&c->req, req, memory_order_relaxed);
	atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
	return true;
}

/* ring_pop - take a request, or NULL if the ring is empty. */
static struct host_req *ring_pop(void)
{
	size_t pos = atomic_load_explicit(&ring_deq, memory_order_relaxed);
	struct ring_cell *c;
	struct host_req *req;

	for (;;) {
		c = &ring[pos & (HOST_RING - 1)];
		size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
		intptr_t diff = (intptr_t)seq - (intptr_t)(pos + 1);

		if (diff == 0) {
			if (atomic_compare_exchange_weak_explicit(&ring_deq, &pos, pos + 1,
								  memory_order_relaxed, memory_order_relaxed))
				break;
		} else if (diff < 0) {
			return NULL;
		} else {
			pos = atomic_load_explicit(&ring_deq, memory_order_relaxed);
		}
	}
	req = atomic_load_explicit(&c->req, memory_order_relaxed);
	atomic_store_explicit(&c->seq, pos + HOST_RING, memory_order_release);
	return req;
}

/* ---- windows: lookup ---- */

/*
 * region_of - the window holding host address a.  Lock-free.  The caller
 * has raised handlers_inflight first (seq_cst, as these loads: umm_host_
 * detach clears the slot, then waits for handlers_inflight to drain), so
 * a window it finds is not freed before it lowers the count again.
 */
static struct host_region *region_of(uintptr_t a)
{
	for (int i = 0; i < UMM_HOST_MAX_REGIONS; i++) {
		struct host_region *r = atomic_load_explicit(&regions[i], memory_order_seq_cst);

		if (r && a - (uintptr_t)r->base < r->len)
			return r;
	}
	return NULL;
}

/**
 * __host_mmu_covers - does [p, p + len) overlap a host window?  Lock-free.
 * soft_mmu.c sends a buffer in a window through a bounce buffer.
 */
bool __host_mmu_covers(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p;

	if (!len)
		return false;
	for (int i = 0; i < UMM_HOST_MAX_REGIONS; i++) {
		struct host_region *r = atomic_load_explicit(&regions[i], memory_order_acquire);

		if (r && a < (uintptr_t)r->base + r->len && (uintptr_t)r->base < a + len)
			return true;
	}
	return false;
}

static inline char *host_addr(const struct host_region *r, uintptr_t uaddr)
{
	return r->base + (uaddr - r->start);
}

static inline bool test_bit_ul(const unsigned long *map, unsigned long i)
{
	return (map[i / (8 * sizeof(long))] >> (i % (8 * sizeof(long)))) & 1;
}
static inline void set_bit_ul(unsigned long *map, unsigned long i, bool v)
{
	unsigned long bit = 1UL << (i % (8 * sizeof(long)));

	if (v)
		map[i / (8 * sizeof(long))] |= bit;
	else
		map[i / (8 * sizeof(long))] &= ~bit;
}

/* ---- host mappings ---- */

/*
 * window_mmap / window_mprotect - change mappings inside a window with the
 * raw system calls.  The sanitizers' interceptors of mmap treat a new
 * mapping as a write to its whole range by the calling thread; here that
 * is the fault thread, and ThreadSanitizer does not see the handoff back
 * to the faulting thread (it runs inside a signal handler), so it would
 * report the restarted access as racing with the mapping.  The window
 * itself is created and removed with the libc calls.
 */
static void *window_mmap(void *p, size_t len, int prot, int flags, int fd, off_t off)
{
	long r = syscall(SYS_mmap, p, len, prot, flags, fd, off);   /* -1 and errno on failure */

	return r == -1 ? MAP_FAILED : (void *)r;
}

static int window_mprotect(void *p, size_t len, int prot)
{
	return syscall(SYS_mprotect, p, len, prot) ? -1 : 0;
}

static int map_reserve(void *p, size_t len)
{
	void *q = window_mmap(p, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);

	return q == MAP_FAILED ? -errno : 0;
}

static void map_estimate_add(long n)
{
	long v = atomic_load(&map_estimate);

	while (v >= 0 && !atomic_compare_exchange_weak(&map_estimate, &v, v + n))
		;
}

/*
 * region_unmap_locked - put the reservation back over every mapped page
 * of [s, e) (usermm addresses inside r).  r->lock held.  Returns pages
 * unmapped.  If the kernel refuses (its VMA limit), the whole window is
 * reset, which needs no split; that cannot fail short of a broken process.
 */
static unsigned long region_unmap_locked(struct host_region *r, uintptr_t s, uintptr_t e)
{
	unsigned long first = (s - r->start) >> PAGE_SHIFT, last = (e - r->start) >> PAGE_SHIFT;
	unsigned long done = 0;

	if (!r->nr_mapped)
		return 0;
	for (unsigned long i = first; i < last;) {
		unsigned long j;

		if (!test_bit_ul(r->mapped, i)) {
			i++;
			continue;
		}
		for (j = i; j < last && test_bit_ul(r->mapped, j); j++) {
			set_bit_ul(r->mapped, j, false);
			set_bit_ul(r->writable, j, false);
		}
		if (map_reserve(r->base + (i << PAGE_SHIFT), (j - i) << PAGE_SHIFT)) {
			BUG_ON(map_reserve(r->base, r->len) != 0);
			memset(r->mapped, 0, r->bitmap_bytes);
			memset(r->writable, 0, r->bitmap_bytes);
			done += r->nr_mapped;
			r->nr_mapped = 0;
			break;
		}
		map_estimate_add(2);
		done += j - i;
		r->nr_mapped -= j - i;
		i = j;
	}
	return done;
}

/*
 * region_wrprotect_locked - make the writable host pages of [s, e)
 * read-only.  r->lock held.  Falls back to unmapping a run the kernel
 * will not split.
 */
static void region_wrprotect_locked(struct host_region *r, uintptr_t s, uintptr_t e)
{
	unsigned long first = (s - r->start) >> PAGE_SHIFT, last = (e - r->start) >> PAGE_SHIFT;

	for (unsigned long i = first; i < last;) {
		unsigned long j;

		if (!test_bit_ul(r->writable, i)) {
			i++;
			continue;
		}
		for (j = i; j < last && test_bit_ul(r->writable, j); j++)
			set_bit_ul(r->writable, j, false);
		if (window_mprotect(r->base + (i << PAGE_SHIFT), (j - i) << PAGE_SHIFT, PROT_READ))
			region_unmap_locked(r, r->start + (i << PAGE_SHIFT), r->start + (j << PAGE_SHIFT));
		else
			map_estimate_add(2);
		hstat_add(write_protects, j - i);
		i = j;
	}
}

/* ---- the notifier consumer (one notifier per window) ---- */

static inline struct host_region *mn_region(struct umm_mmu_notifier *mn)
{
	return (struct host_region *)((char *)mn - offsetof(struct host_region, mn));
}

/* region_clip - [s, e) = [start, end) within r, page aligned; false if they do not meet. */
static bool region_clip(const struct host_region *r, uintptr_t start, uintptr_t end,
			uintptr_t *s, uintptr_t *e)
{
	if (end <= r->start || start >= r->start + r->len)
		return false;
	*s = MAX(start & PAGE_MASK, r->start);
	*e = MIN(ALIGN_UP(end, PAGE_SIZE), r->start + r->len);
	return *s < *e;
}

/*
 * host_invalidate_start - the ptes of r->start..r->end of the window's mm
 * are about to change: take write permission away from the host pages
 * (fork and writeback only write-protect; the frames stay) or unmap them
 * (every other event), and keep faults from mapping the range until the
 * matching end.  Any usermm lock may be held; takes the window's lock.
 */
static void host_invalidate_start(struct umm_mmu_notifier *mn, const struct umm_mmu_range *rng)
{
	struct host_region *r = mn_region(mn);
	uintptr_t s, e;

	if (!region_clip(r, rng->start, rng->end, &s, &e))
		return;
	pthread_mutex_lock(&r->lock);
	if (!r->invalidating++) {
		r->inv_lo = s;
		r->inv_hi = e;
	} else {
		r->inv_lo = MIN(r->inv_lo, s);
		r->inv_hi = MAX(r->inv_hi, e);
	}
	atomic_fetch_add_explicit(&r->seq, 1, memory_order_release);
	if (rng->event == UMM_MMU_FORK || rng->event == UMM_MMU_CLEAN) {
		region_wrprotect_locked(r, s, e);
	} else {
		unsigned long n = region_unmap_locked(r, s, e);

		if (n) {
			hstat_add(invalidations, 1);
			hstat_add(pages_unmapped, n);
		}
	}
	pthread_mutex_unlock(&r->lock);
}

/* host_invalidate_end - the change is done: faults may map the range again.  Takes the window's lock. */
static void host_invalidate_end(struct umm_mmu_notifier *mn, const struct umm_mmu_range *rng)
{
	struct host_region *r = mn_region(mn);
	uintptr_t s, e;

	if (!region_clip(r, rng->start, rng->end, &s, &e))
		return;
	pthread_mutex_lock(&r->lock);
	BUG_ON(!r->invalidating);
	r->invalidating--;
	atomic_fetch_add_explicit(&r->seq, 1, memory_order_release);
	pthread_mutex_unlock(&r->lock);
}

/*
 * host_clear_young - aging: the host MMU keeps no accessed bits, so a
 * page mapped on the host counts as young; unmap those pages so the next
 * access refaults and sets the pte young.  A pte table lock may be held;
 * takes the window's lock (a leaf).  Returns nonzero if any page was mapped.
 */
static int host_clear_young(struct umm_mmu_notifier *mn, struct umm_mm *mm, uintptr_t start, uintptr_t end)
{
	struct host_region *r = mn_region(mn);
	unsigned long n = 0;
	uintptr_t s, e;

	(void)mm;
	if (!region_clip(r, start, end, &s, &e))
		return 0;
	pthread_mutex_lock(&r->lock);
	n = region_unmap_locked(r, s, e);
	if (n) {
		atomic_fetch_add_explicit(&r->seq, 1, memory_order_release);
		hstat_add(invalidations, 1);
		hstat_add(pages_unmapped, n);
	}
	pthread_mutex_unlock(&r->lock);
	return n != 0;
}

/* host_test_young - is the page at addr mapped on the host?  Takes the window's lock. */
static int host_test_young(struct umm_mmu_notifier *mn, struct umm_mm *mm, uintptr_t addr)
{
	struct host_region *r = mn_region(mn);
	int young;

	(void)mm;
	if (addr < r->start || addr - r->start >= r->len)
		return 0;
	pthread_mutex_lock(&r->lock);
	young = test_bit_ul(r->mapped, (addr - r->start) >> PAGE_SHIFT);
	pthread_mutex_unlock(&r->lock);
	return young;
}

/*
 * host_release - the address space goes (or the window is detached):
 * unmap the window's pages and fail its faults from now on (-EFAULT: the
 * previous handler gets them).  The reservation stays until detach.
 * Takes the window's lock.
 */
static void host_release(struct umm_mmu_notifier *mn, struct umm_mm *mm)
{
	struct host_region *r = mn_region(mn);

	(void)mm;
	pthread_mutex_lock(&r->lock);
	r->dead = true;
	region_unmap_locked(r, r->start, r->start + r->len);
	atomic_fetch_add_explicit(&r->seq, 1, memory_order_release);
	pthread_mutex_unlock(&r->lock);
}

static const struct umm_mmu_notifier_ops host_notifier_ops = {
	.release = host_release,
	.invalidate_range_start = host_invalidate_start,
	.invalidate_range_end = host_invalidate_end,
	.clear_young = host_clear_young,
	.test_young = host_test_young,
};

/* ---- the VMA budget ---- */

static unsigned long read_ulong_file(const char *path)
{
	char buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return strtoul(buf, NULL, 10);
}

static unsigned long map_limit(void)
{
	unsigned long l = atomic_load(&map_limit_set);

	if (l)
		return l;
	l = atomic_load(&map_limit_sysctl);
	if (!l) {
		l = read_ulong_file("/proc/sys/vm/max_map_count");
		if (!l)
			l = 65530;
		atomic_store(&map_limit_sysctl, l);
	}
	return l;
}

/* count_maps - the process's VMAs now (lines of /proc/self/maps); 0 if unreadable. */
static unsigned long count_maps(void)
{
	char buf[16384];
	unsigned long lines = 0;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
	close(fd);
	return lines;
}

/* drop_all - reset every window to its bare reservation (one VMA each). */
static void drop_all(void)
{
	hstat_add(drops, 1);
	for (int i = 0; i < UMM_HOST_MAX_REGIONS; i++) {
		struct host_region *r = atomic_load_explicit(&regions[i], memory_order_acquire);

		if (!r)
			continue;
		pthread_mutex_lock(&r->lock);
		if (r->nr_mapped) {
			BUG_ON(map_reserve(r->base, r->len) != 0);
			memset(r->mapped, 0, r->bitmap_bytes);
			memset(r->writable, 0, r->bitmap_bytes);
			r->nr_mapped = 0;
		}
		atomic_fetch_add_explicit(&r->seq, 1, memory_order_release);
		pthread_mutex_unlock(&r->lock);
	}
}

/*
 * map_budget_check - before mapping: if the bound of the process's VMAs
 * nears the limit, count them; drop every window's mappings if the count
 * is above three quarters of the limit.  No lock held.
 */
static void map_budget_check(bool force_drop)
{
	unsigned long limit = map_limit();
	long est = atomic_load(&map_estimate);
	unsigned long n;

	if (!force_drop && est >= 0 && (unsigned long)est + HOST_MAP_MARGIN < limit)
		return;
	n = count_maps();
	if (force_drop || n >= limit / 4 * 3) {
		drop_all();
		n = count_maps();
	}
	atomic_store(&map_counted, n);
	atomic_store(&map_estimate, (long)n);
}

/* ---- resolving a fault ---- */

static inline bool host_writable(pte_t pte, bool write)
{
	return write || (pte_write(pte) && pte_dirty(pte));
}

/* around_ok - may the neighbour pte n join a run of frame pfn's permission, at distance d? */
static inline bool around_ok(pte_t n, unsigned long pfn, long d, bool wr)
{
	return pte_accessible(n) && pte_pfn(n) == pfn + (unsigned long)d && host_writable(n, false) == wr;
}

/*
 * populate_around - before a fault with fault-around: fill ptes around
 * uaddr with the batched populate, so the fault-around that follows
 * finds them present.  A file or shmem vma gets the pages of the aligned
 * HOST_FAULT_AROUND block that are already in its page cache
 * (POPULATE_NONBLOCK: no I/O, no allocation), as the kernel's
 * fault-around does.  With UMM_HOST_POPULATE_AROUND, a store to a private
 * anonymous vma allocates the aligned block of HOST_POPULATE_MIN pages
 * around it, from one free block of the allocator when there is one
 * (POPULATE_CONTIG: frames that follow each other, so one mmap maps them
 * all), and a store to a shared shmem vma brings the block's pages into
 * the object (allocated a page at a time); a store to the block right
 * after the previous one (a sequential writer) doubles the block, up to
 * HOST_FAULT_AROUND pages.  Everything
 * stays within the vma and the window; pages the populate cannot do are
 * left to their own faults.  mmap_lock (read) held.
 */
static void populate_around(struct host_region *r, uintptr_t uaddr, bool write)
{
	uintptr_t span = HOST_FAULT_AROUND * PAGE_SIZE;
	struct vm_area_struct *vma = find_vma(r->mm, uaddr);
	unsigned int flags;
	uintptr_t s, e;

	if (!vma || vma->vm_start > uaddr || (vma->vm_flags & VM_NONLINEAR) ||
	    !(vma->vm_flags & VM_READ))
		return;
	if (write && (r->flags & UMM_HOST_POPULATE_AROUND) && (vma->vm_flags & VM_WRITE) &&
	    (vma_is_anonymous(vma) ? !vma_is_shared(vma) :
	     vma_is_shared(vma) && vma->vm_obj->type == OBJ_SHMEM)) {
		/* a hint shared by the window's faulting threads: relaxed, may be stale */
		uintptr_t prev = atomic_load_explicit(&r->pa_span, memory_order_relaxed);

		/* shmem pages come from its page cache, a page at a time */
		flags = POPULATE_WRITE | (vma_is_anonymous(vma) ? POPULATE_CONTIG : 0);
		span = HOST_POPULATE_MIN * PAGE_SIZE;
		if (prev && ALIGN_DOWN(uaddr, prev) == atomic_load_explicit(&r->pa_next, memory_order_relaxed))
			span = MIN(2 * prev, (uintptr_t)HOST_FAULT_AROUND * PAGE_SIZE);
		atomic_store_explicit(&r->pa_span, span, memory_order_relaxed);
		atomic_store_explicit(&r->pa_next, ALIGN_DOWN(uaddr, span) + span, memory_order_relaxed);
	} else if (!vma_is_anonymous(vma)) {
		flags = POPULATE_NONBLOCK;
	} else {
		return;
	}
	s = MAX(MAX(ALIGN_DOWN(uaddr, span), vma->vm_start), r->start);
	e = MIN(MIN(ALIGN_DOWN(uaddr, span) + span, vma->vm_end), r->start + r->len);
	populate_vma_range(vma, s, e, flags);
}

/*
 * host_run - the run to map with the page at uaddr (frame pfn, host
 * permission wr): with fault-around, its neighbours in the aligned block
 * of HOST_FAULT_AROUND pages (within the window and the pte table) whose
 * ptes are present, whose frames follow pfn in the arena at the same
 * distance, and which would get the same permission.  Returns the run in
 * [*lop, *hip).  ptep is uaddr's slot; its table's lock held.
 */
static void host_run(struct host_region *r, uintptr_t uaddr, pte_t *ptep, unsigned long pfn, bool wr,
		     bool around, uintptr_t *lop, uintptr_t *hip)
{
	uintptr_t lo = uaddr, hi = uaddr + PAGE_SIZE;

	if (around && !(r->flags & UMM_HOST_NO_FAULT_AROUND)) {
		uintptr_t span = HOST_FAULT_AROUND * PAGE_SIZE;
		uintptr_t ws = MAX(MAX(ALIGN_DOWN(uaddr, span), r->start), ALIGN_DOWN(uaddr, PMD_SIZE));
		uintptr_t we = MIN(MIN(ALIGN_DOWN(uaddr, span) + span, r->start + r->len),
				   ALIGN_DOWN(uaddr, PMD_SIZE) + PMD_SIZE);

		while (lo > ws) {
			long d = -(long)((uaddr - (lo - PAGE_SIZE)) >> PAGE_SHIFT);

			if (pfn < (unsigned long)-d || !around_ok(ptep_get_lockless(ptep + d), pfn, d, wr))
				break;
			lo -= PAGE_SIZE;
		}
		while (hi < we) {
			long d = (long)((hi - uaddr) >> PAGE_SHIFT);

			if (!around_ok(ptep_get_lockless(ptep + d), pfn, d, wr))
				break;
			hi += PAGE_SIZE;
		}
	}
	*lop = lo;
	*hip = hi;
}

/* mapped_as_locked - is the page at usermm address u mapped on the host, writable iff wr?  r->lock held. */
static inline bool mapped_as_locked(const struct host_region *r, uintptr_t u, bool wr)
{
	unsigned long i = (u - r->start) >> PAGE_SHIFT;

	return test_bit_ul(r->mapped, i) && test_bit_ul(r->writable, i) == wr;
}

/*
 * host_upgrade_locked - a store to the page at uaddr, which the host maps
 * read-only: make it and its neighbours in [lo, hi) that the host also
 * maps read-only writable in place, with one mprotect.  The host maps the
 * frame the pte names: a change of frame goes through an invalidation,
 * which unmaps the host page, and the caller has checked (under r->lock,
 * with the pte table's lock held) that none ran since the pte was read.
 * Unlike a new mmap over the page, an mprotect that only adds write
 * permission keeps the kernel's pte (no second fault on the memfd) and
 * needs no TLB shootdown on x86.  r->lock and the pte table lock held.
 * Returns 0, or -errno of the mprotect (the caller maps anew).
 */
static int host_upgrade_locked(struct host_region *r, uintptr_t uaddr, uintptr_t lo, uintptr_t hi)
{
	uintptr_t s = uaddr, e = uaddr + PAGE_SIZE;

	while (s > lo && mapped_as_locked(r, s - PAGE_SIZE, false))
		s -= PAGE_SIZE;
	while (e < hi && mapped_as_locked(r, e, false))
		e += PAGE_SIZE;
	if (window_mprotect(host_addr(r, s), e - s, PROT_READ | PROT_WRITE))
		return -errno;
	for (uintptr_t u = s; u < e; u += PAGE_SIZE)
		set_bit_ul(r->writable, (u - r->start) >> PAGE_SHIFT, true);
	map_estimate_add(2);
	hstat_add(write_upgrades, (e - s) >> PAGE_SHIFT);
	return 0;
}

/*
 * host_install_locked - map the run [lo, hi) of r (usermm addresses,
 * around the faulting page at uaddr; its first frame is pfn_lo of the
 * arena memfd) on the host, read+write if wr, unless an invalidation
 * started or ended since seq was read or one in progress overlaps the
 * run.  Pages at either end that the host already maps so are left out;
 * a store to a page the host maps read-only makes it writable in place
 * (host_upgrade_locked).  r->lock and the run's pte table lock held.  Returns 0, -EAGAIN (raced
 * with an invalidation: look again), -EFAULT (r is dead) or the mmap's
 * -errno.
 */
static int host_install_locked(struct host_region *r, uintptr_t uaddr, uintptr_t lo, uintptr_t hi,
			       int memfd, unsigned long pfn_lo, bool wr, uint64_t seq)
{
	unsigned long first, nr;
	void *q;

	if (atomic_load_explicit(&r->dead, memory_order_relaxed))
		return -EFAULT;
	if (atomic_load_explicit(&r->seq, memory_order_relaxed) != seq ||
	    (r->invalidating && lo < r->inv_hi && r->inv_lo < hi))
		return -EAGAIN;
	if (wr && mapped_as_locked(r, uaddr, false) && !host_upgrade_locked(r, uaddr, lo, hi))
		return 0;
	for (; lo < uaddr && mapped_as_locked(r, lo, wr); lo += PAGE_SIZE)
		pfn_lo++;
	while (hi > uaddr + PAGE_SIZE && mapped_as_locked(r, hi - PAGE_SIZE, wr))
		hi -= PAGE_SIZE;
	first = (lo - r->start) >> PAGE_SHIFT;
	nr = (hi - lo) >> PAGE_SHIFT;
	q = window_mmap(host_addr(r, lo), hi - lo, wr ? PROT_READ | PROT_WRITE : PROT_READ,
			MAP_SHARED | MAP_FIXED | MAP_POPULATE, memfd, pfn_to_arena_offset(pfn_lo));
	if (q == MAP_FAILED)
		return -errno;
	for (unsigned long i = first; i < first + nr; i++) {
		r->nr_mapped += !test_bit_ul(r->mapped, i);
		set_bit_ul(r->mapped, i, true);
		set_bit_ul(r->writable, i, wr);
	}
	map_estimate_add(2);
	hstat_add(pages_mapped, nr);
	hstat_add(fault_around_pages, nr - 1);
	hstat_add(runs_mapped, 1);
	return 0;
}

/*
 * host_map - resolve an access to usermm address uaddr (in r) and map
 * its frame, with neighbours unless around is false.  Called by a fault
 * thread or umm_host_prefault, no lock held; takes mmap_lock (read), the
 * pte table's lock, r->lock.  Returns 0, -EFAULT (not accessible, or r
 * is being detached), -EIO, -ENOMEM.
 */
static int host_map(struct host_region *r, uintptr_t uaddr, bool write, bool around)
{
	struct umm_mm *mm = r->mm;
	bool dropped = false;

	uaddr &= PAGE_MASK;
	for (;;) {
		struct fmutex *ptl;
		struct page *page;
		pte_t pte, *ptep;
		uintptr_t lo, hi;
		unsigned long pfn;
		uint64_t seq;
		bool wr;
		int err;

		/* after release the mm may be gone: do not touch it (a program that
		   destroys an address space while it accesses its windows races) */
		if (atomic_load(&r->dead))
			return -EFAULT;
		map_budget_check(false);
		mmap_read_lock(mm);
		if (around && !(r->flags & UMM_HOST_NO_FAULT_AROUND))
			populate_around(r, uaddr, write);
		seq = atomic_load_explicit(&r->seq, memory_order_acquire);
		err = follow_or_fault(mm, uaddr, write ? FAULT_FLAG_WRITE : 0, &page, &pte, &ptl);
		if (err) {
			mmap_read_unlock(mm);
			return err;
		}
		pfn = pte_pfn(pte);
		wr = host_writable(pte, write);
		ptep = pte_offset_map(mm, uaddr);
		host_run(r, uaddr, ptep, pfn, wr, around, &lo, &hi);
		pthread_mutex_lock(&r->lock);
		err = host_install_locked(r, uaddr, lo, hi, arena_memfd(page_to_phys(page)),
					  pfn - ((uaddr - lo) >> PAGE_SHIFT), wr, seq);
		pthread_mutex_unlock(&r->lock);
		ptl_unlock(ptl);
		mmap_read_unlock(mm);
		if (err == -EAGAIN) {
			hstat_add(retries, 1);
			sched_yield();
			continue;
		}
		if (err == -ENOMEM && !dropped) {
			/* most likely the kernel's VMA limit: drop and retry once */
			dropped = true;
			map_budget_check(true);
			continue;
		}
		return err;
	}
}

/*
 * handler_mmap_trylock / handler_mmap_unlock - mmap_lock for read, tried
 * as mmap_read_trylock does, for the signal handler: the reader count
 * goes in the thread's stripe, or in stripe 0 for a thread that never
 * called usermm (giving it a slot would take pthread_setspecific; a shared
 * stripe costs speed, not correctness).  *stripe is passed to the unlock.
 */
static bool handler_mmap_trylock(struct umm_mm *mm, unsigned int *stripe)
{
	unsigned int s = this_thread_slot;

	*stripe = s ? (s - 1) & (NR_SLOT_STRIPES - 1) : 0;
	if (!percpu_down_read_trylock(&mm->mmap_lock, *stripe))
		return false;
	mmap_lock_depth++;      /* a fault nested in this one (another signal's handler) is refused */
	lockdep_acquire(&mm->mmap_lock, LOCK_MMAP, 0, LOCKDEP_READ | LOCKDEP_TRYLOCK);
	return true;
}

static void handler_mmap_unlock(struct umm_mm *mm, unsigned int stripe)
{
	percpu_up_read(&mm->mmap_lock, stripe);
	lockdep_release(&mm->mmap_lock);
	mmap_lock_depth--;
}

/*
 * host_wp_notify_locked - a store to the present pte at uaddr that does
 * not allow it yet, in the signal handler: resolve it here when that is
 * what the write fault would do without allocating or blocking.  A
 * writable clean pte becomes dirty (as a hardware walker sets the bit).
 * A read-only pte of a shared vma that allows writing (a page-cache or
 * shmem page mapped clean for dirty tracking: write-notify) becomes
 * writable, dirty and young and its page is marked dirty (set_page_dirty,
 * an atomic flag: the write fault's reuse of a shared page), counted as a
 * minor fault of mm on the handler's stripe.  Anything else (private or
 * nonlinear vma, special pte, read-only vma) is left as it is, for the
 * fault path.  mmap_lock (read) and the pte table's lock held.  Returns
 * the pte as it now is; *notified set when a read-only pte was made
 * writable.
 */
static pte_t host_wp_notify_locked(struct umm_mm *mm, uintptr_t uaddr, pte_t *ptep, pte_t pte,
				   unsigned int stripe, bool *notified)
{
	struct vm_area_struct *vma;
	pte_t entry;

	if (pte_write(pte)) {
		entry = pte_mkyoung(pte_mkdirty(pte));
		set_pte_at(mm, uaddr, ptep, entry);
		return entry;
	}
	if (pte_special(pte))
		return pte;
	vma = find_vma(mm, uaddr);
	if (!vma || vma->vm_start > uaddr || !vma_is_shared(vma) || !(vma->vm_flags & VM_WRITE) ||
	    (vma->vm_flags & VM_NONLINEAR))
		return pte;
	set_page_dirty(pfn_to_page(mm->sys->phys, pte_pfn(pte)));
	entry = pte_mkwrite(pte_mkyoung(pte_mkdirty(pte)));
	set_pte_at(mm, uaddr, ptep, entry);
	atomic_fetch_add_explicit(&mm->stripes[stripe].events[MM_MIN_FLT], 1, memory_order_relaxed);
	*notified = true;
	return entry;
}

/* wp_around_ok - may the neighbour pte n, at distance d from frame pfn, be made writable with it? */
static inline bool wp_around_ok(pte_t n, unsigned long pfn, long d)
{
	return pte_accessible(n) && !pte_special(n) && !pte_write(n) && !pte_dirty(n) &&
	       pte_pfn(n) == pfn + (unsigned long)d;
}

/*
 * host_wp_around_locked - write-notify around, for a program that fills
 * pages: after a store made the clean page at uaddr (frame pfn) of a
 * shared vma writable (host_wp_notify_locked), if at least
 * HOST_WRITE_AROUND_MIN other pages of its aligned HOST_FAULT_AROUND
 * block (within the vma, the window and the pte table) are dirty, the
 * neighbours on either side whose ptes are present, read-only and clean
 * and whose frames follow pfn in the arena (the pages one host mapping
 * covers with it; pages already writable and dirty are passed over) are
 * made writable and dirty and their pages marked dirty, as their own
 * first stores would: host_run then takes them into the faulting page's
 * run, so the host maps or upgrades them in the same call and their
 * first stores take no fault.  The price: a page made dirty this way and
 * never stored to is written back all the same (the first time a block
 * qualifies, its dirty pages were all stored to; pages made dirty this
 * way count afterwards, until writeback cleans them).  Not with
 * UMM_HOST_NO_FAULT_AROUND.  mmap_lock (read) and the pte table's lock
 * held.  Returns the number of pages made writable.
 */
static unsigned long host_wp_around_locked(struct host_region *r, struct umm_mm *mm, uintptr_t uaddr,
					   pte_t *ptep, unsigned long pfn)
{
	uintptr_t span = HOST_FAULT_AROUND * PAGE_SIZE, ws, we, u;
	struct vm_area_struct *vma;
	unsigned int dirty = 0;
	unsigned long made = 0;

	if (r->flags & UMM_HOST_NO_FAULT_AROUND)
		return 0;
	vma = find_vma(mm, uaddr);
	if (!vma || vma->vm_start > uaddr)
		return 0;
	ws = MAX(MAX(ALIGN_DOWN(uaddr, span), r->start), MAX(ALIGN_DOWN(uaddr, PMD_SIZE), vma->vm_start));
	we = MIN(MIN(ALIGN_DOWN(uaddr, span) + span, r->start + r->len),
		 MIN(ALIGN_DOWN(uaddr, PMD_SIZE) + PMD_SIZE, vma->vm_end));
	for (u = ws; u < we; u += PAGE_SIZE) {
		pte_t n = ptep[((long)u - (long)uaddr) / (long)PAGE_SIZE];

		dirty += u != uaddr && pte_accessible(n) && pte_dirty(n);
	}
	if (dirty < HOST_WRITE_AROUND_MIN)
		return 0;
	for (int dir = -1; dir <= 1; dir += 2) {
		for (long d = dir;; d += dir) {
			pte_t n;

			u = uaddr + (uintptr_t)(d * (long)PAGE_SIZE);
			if (u < ws || u >= we || (d < 0 && pfn < (unsigned long)-d))
				break;
			n = ptep[d];
			if (pte_accessible(n) && pte_write(n) && pte_dirty(n) && pte_pfn(n) == pfn + (unsigned long)d)
				continue;
			if (!wp_around_ok(n, pfn, d))
				break;
			set_page_dirty(pfn_to_page(mm->sys->phys, pte_pfn(n)));
			set_pte_at(mm, u, ptep + d, pte_mkwrite(pte_mkdirty(n)));
			made++;
		}
	}
	if (made)
		hstat_add(write_around, made);
	return made;
}

/*
 * host_map_fast - the signal handler's own resolution of a fault whose
 * pte already allows the access: a page present in usermm but not (or
 * not writably) mapped on the host, as after fault-around left it out of
 * a run, after aging or an invalidation unmapped it, or in a new window
 * over resident pages.  It allocates nothing, starts no I/O, calls no
 * fault path, and only tries its locks (mmap_lock for read, the pte
 * table's lock, r->lock), so it cannot wait for anything the interrupted
 * thread holds.  A store to a clean pte is first resolved as the write
 * fault would (host_wp_notify_locked) where that needs nothing more.
 * The caller has checked that the thread holds no
 * mmap_lock and is in no soft-TLB access.  Returns 0 (mapped) or -EAGAIN:
 * not here (the pte needs a fault, a lock is busy, an invalidation raced,
 * the VMA budget wants a count, the context does not say whether the
 * access is a store): the caller hands the fault to a fault thread.
 */
static int host_map_fast(struct host_region *r, uintptr_t haddr, int write)
{
	struct umm_mm *mm = r->mm;
	uintptr_t uaddr = r->start + ((haddr - (uintptr_t)r->base) & PAGE_MASK), lo, hi;
	unsigned long limit = atomic_load(&map_limit_set);
	long est = atomic_load(&map_estimate);
	struct fmutex *ptl;
	pte_t pte, *ptep;
	unsigned int stripe;
	uint64_t seq;
	bool wr, notified = false;
	int err = -EAGAIN;

	if (!limit)
		limit = atomic_load(&map_limit_sysctl);
	/* write < 0 (the context does not say): write_inferred takes r->lock; leave it to a fault thread */
	if (write < 0 || est < 0 || (unsigned long)est + HOST_MAP_MARGIN >= limit || atomic_load(&r->dead))
		return -EAGAIN;
	if (!handler_mmap_trylock(mm, &stripe))
		return -EAGAIN;
	seq = atomic_load_explicit(&r->seq, memory_order_acquire);
	ptep = pte_offset_map(mm, uaddr);
	ptl = ptep ? pte_lockptr(mm, ptep) : NULL;
	if (ptl && fmutex_trylock(ptl)) {
		lockdep_acquire(ptl, LOCK_PTL, 0, LOCKDEP_TRYLOCK);
		pte = *ptep;
		if (write > 0 && pte_accessible(pte) && !(pte_write(pte) && pte_dirty(pte)))
			pte = host_wp_notify_locked(mm, uaddr, ptep, pte, stripe, &notified);
		if (notified)
			host_wp_around_locked(r, mm, uaddr, ptep, pte_pfn(pte));
		if (pte_accessible(pte) && (!write || (pte_write(pte) && pte_dirty(pte)))) {
			if (!pte_young(pte)) {
				pte = pte_mkyoung(pte);
				set_pte_at(mm, uaddr, ptep, pte);
			}
			wr = host_writable(pte, write);
			host_run(r, uaddr, ptep, pte_pfn(pte), wr, true, &lo, &hi);
			if (!pthread_mutex_trylock(&r->lock)) {
				err = host_install_locked(r, uaddr, lo, hi, arena_memfd(mm->sys->phys),
							  pte_pfn(pte) - ((uaddr - lo) >> PAGE_SHIFT), wr, seq);
				pthread_mutex_unlock(&r->lock);
				if (err)
					err = -EAGAIN;  /* the fault thread does it again and reports */
			}
		}
		ptl_unlock(ptl);
	}
	handler_mmap_unlock(mm, stripe);
	if (!err && notified)
		hstat_add(write_notify, 1);
	return err;
}

/* ---- the fault threads ---- */

static bool write_inferred(struct host_region *r, uintptr_t haddr);

static void *fault_thread_fn(void *arg)
{
	(void)arg;
	while (!atomic_load(&fault_threads_stop)) {
		struct host_req *req = ring_pop();
		struct host_region *r;
		int err, write;

		/* a thread touching page after page faults again within microseconds */
		for (int spin = 0; !req && spin < HOST_SPIN; spin++) {
			cpu_relax();
			req = ring_pop();
		}
		if (!req) {
			uint32_t v = atomic_load(&ring_posted);

			atomic_fetch_add(&ring_sleepers, 1);
			req = ring_pop();
			if (!req && !atomic_load(&fault_threads_stop))
				futex_wait(&ring_posted, v);
			atomic_fetch_sub(&ring_sleepers, 1);
			if (!req)
				continue;
		}
		r = atomic_load(&req->region);
		write = atomic_load(&req->write);
		if (write < 0)
			write = write_inferred(r, atomic_load(&req->haddr));
		err = host_map(r, r->start + (atomic_load(&req->haddr) - (uintptr_t)r->base), write, true);
		if (!err) {
			hstat_add(faults, 1);
			if (write)
				hstat_add(write_faults, 1);
		}
		atomic_store(&req->result, err);
		atomic_store_explicit(&req->state, REQ_DONE, memory_order_release);
		futex_wake(&req->state, 1);
		kthread_run_pending();  /* helpers wanted in a signal handler: this is a safe point */
	}
	return NULL;
}

/*
 * Host fork(): the child has no fault threads, and its windows still map
 * the arena memfd MAP_SHARED, that is the parent's frames.  So in the
 * child every window goes back to its bare reservation and is marked dead:
 * its faults are refused (the previous handler gets them) instead of
 * waiting for a fault thread that does not exist, and the child cannot
 * write the parent's memory through a stale window.
 */
static void host_atfork_child(void)
{
	for (int i = 0; i < UMM_HOST_MAX_REGIONS; i++) {
		struct host_region *r = atomic_load(&regions[i]);

		if (!r)
			continue;
		atomic_store(&r->dead, true);
		map_reserve(r->base, r->len);
		memset(r->mapped, 0, r->bitmap_bytes);
		memset(r->writable, 0, r->bitmap_bytes);
		r->nr_mapped = 0;
	}
	fault_threads_running = false;
	ring_init();
}

static void host_atfork_setup(void)
{
	pthread_atfork(NULL, NULL, host_atfork_child);
}

/* fault_threads_start - host_lock held.  0 or -EAGAIN. */
static int fault_threads_start(void)
{
	sigset_t all, old;
	int i, err = 0;

	static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

	pthread_once(&atfork_once, host_atfork_setup);
	if (fault_threads_running)
		return 0;
	ring_init();
	atomic_store(&fault_threads_stop, false);
	/* the fault threads take no signals: they would only compete with the program's threads */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < HOST_FAULT_THREADS; i++) {
		if (pthread_create(&fault_threads[i], NULL, fault_thread_fn, NULL)) {
			err = -EAGAIN;
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		atomic_store(&fault_threads_stop, true);
		atomic_fetch_add(&ring_posted, 1);
		futex_wake(&ring_posted, INT_MAX);
		while (i--)
			pthread_join(fault_threads[i], NULL);
		return err;
	}
	fault_threads_running = true;
	return 0;
}

/*
 * fault_threads_needed - must an attach start the fault threads?  Always,
 * unless host_mmu_lazy_fault_threads; then only when a handoff can happen
 * without a later host_mmu_want_fault_threads: a log function is
 * installed, a test turned the inline path off, or they were wanted.
 * host_lock held.
 */
static bool fault_threads_needed(void)
{
	return !host_mmu_lazy_fault_threads || fault_threads_wanted || log_fn_installed() ||
	       host_mmu_no_inline || host_mmu_no_fast_path;
}

/**
 * host_mmu_want_fault_threads - a handoff may be needed from now on (a
 * small alternate signal stack): start the fault threads now if a
 * window is attached, and at every later attach.  Not in a signal
 * handler.  Takes host_lock.  0 or -EAGAIN (no thread could be created).
 */
int host_mmu_want_fault_threads(void)
{
	int err = 0;

	pthread_mutex_lock(&host_lock);
	fault_threads_wanted = true;
	if (nr_regions)
		err = fault_threads_start();
	pthread_mutex_unlock(&host_lock);
	return err;
}

/* fault_threads_stop_all - host_lock held, no window attached. */
static void fault_threads_stop_all(void)
{
	if (!fault_threads_running)
		return;
	atomic_store(&fault_threads_stop, true);
	atomic_fetch_add(&ring_posted, 1);
	futex_wake(&ring_posted, INT_MAX);
	for (int i = 0; i < HOST_FAULT_THREADS; i++)
		pthread_join(fault_threads[i], NULL);
	fault_threads_running = false;
}

/* ---- the signal handler ---- */

/*
 * fault_is_exec - was it an instruction fetch?  Windows are never mapped
 * executable, so such a fault would only come back: it is refused.
 */
static bool fault_is_exec(void *uctx)
{
#if defined(__x86_64__)
	const ucontext_t *uc = uctx;

	return (uc->uc_mcontext.gregs[REG_ERR] & 0x10) != 0;
#else
	(void)uctx;
	return false;
#endif
}

/*
 * fault_is_write - was the access a store?  From the fault's context: 1
 * yes, 0 no, -1 the architecture does not say (see write_inferred).
 */
static int fault_is_write(void *uctx)
{
#if defined(__x86_64__)
	const ucontext_t *uc = uctx;

	return (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
#elif defined(__aarch64__) && defined(ESR_MAGIC)
	const ucontext_t *uc = uctx;
	const struct _aarch64_ctx *h = (const void *)uc->uc_mcontext.__reserved;

	while (h->magic) {
		if (h->magic == ESR_MAGIC)
			return (((const struct esr_context *)h)->esr >> 6) & 1;
		h = (const void *)((const char *)h + h->size);
	}
	return -1;
#else
	(void)uctx;
	return -1;
#endif
}

/*
 * write_inferred - for a fault whose kind the context does not give: a
 * load cannot fault on a page mapped readable, so a fault on a page the
 * window maps read-only is a store.  (A page another thread mapped
 * read-only just before is taken for a store too: it is then made
 * writable, and dirty, one fault early.)  Takes the window's lock.
 */
static bool write_inferred(struct host_region *r, uintptr_t haddr)
{
	unsigned long i = (haddr - (uintptr_t)r->base) >> PAGE_SHIFT;
	bool w;

	pthread_mutex_lock(&r->lock);
	w = test_bit_ul(r->mapped, i) && !test_bit_ul(r->writable, i);
	pthread_mutex_unlock(&r->lock);
	return w;
}

/* chain - give the signal to the handler that was there before ours. */
static void chain(int sig, siginfo_t *si, void *uctx, bool synthesized)
{
	struct sigaction *prev = sig == SIGBUS ? &prev_bus : &prev_segv;
	struct sigaction dfl;

	if (!(prev->sa_flags & SA_SIGINFO) &&
	    (prev->sa_handler == SIG_DFL || prev->sa_handler == SIG_IGN)) {
		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		sigaction(sig, &dfl, NULL);
		if (si->si_code <= 0 || synthesized)
			raise(sig);     /* not this signal's own fault: send it (default action) */
		return;                 /* a fault: the access runs again and faults */
	}
	if (prev->sa_flags & SA_RESETHAND) {
		struct sigaction p = *prev;

		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		sigaction(sig, &dfl, NULL);
		if (p.sa_flags & SA_SIGINFO)
			p.sa_sigaction(sig, si, uctx);
		else
			p.sa_handler(sig);
		return;
	}
	if (prev->sa_flags & SA_SIGINFO)
		prev->sa_sigaction(sig, si, uctx);
	else
		prev->sa_handler(sig);
}

/* host_fault - post a request for the fault at haddr in r and wait for it.  0 or -errno. */
static int host_fault(struct host_region *r, uintptr_t haddr, int write)
{
	unsigned int d = host_req_depth;
	struct host_req *req;
	int res;

	if (d >= HOST_REQ_NEST)
		return -EFAULT;
	req = &host_reqs[d];
	host_req_depth = d + 1;
	atomic_store_explicit(&req->region, r, memory_order_relaxed);
	atomic_store_explicit(&req->haddr, haddr, memory_order_relaxed);
	atomic_store_explicit(&req->write, write, memory_order_relaxed);
	atomic_store_explicit(&req->state, REQ_POSTED, memory_order_relaxed);
	while (!ring_push(req))
		sched_yield();
	atomic_fetch_add(&ring_posted, 1);
	if (atomic_load(&ring_sleepers))
		futex_wake(&ring_posted, 1);
	/* a fault thread on another CPU usually answers within microseconds */
	for (int spin = 0; spin < HOST_SPIN &&
	     atomic_load_explicit(&req->state, memory_order_acquire) != REQ_DONE; spin++)
		cpu_relax();
	while (atomic_load_explicit(&req->state, memory_order_acquire) != REQ_DONE)
		futex_wait(&req->state, REQ_POSTED);
	res = atomic_load_explicit(&req->result, memory_order_relaxed);
	atomic_store_explicit(&req->state, REQ_IDLE, memory_order_relaxed);
	host_req_depth = d;
	return res;
}

/*
 * inline_stack_ok - is there room for the fault path on the stack the
 * handler runs on?  On an alternate signal stack (the context's uc_stack
 * names one: SA_ONSTACK puts the handler there), the room left below this
 * frame must be HOST_INLINE_STACK bytes; on the thread's own stack the
 * room is not known and is taken to be enough (see the theory above).
 */
static bool inline_stack_ok(void *uctx)
{
	const ucontext_t *uc = uctx;
	const char *sp = (const char *)__builtin_frame_address(0);
	const char *lo = uc->uc_stack.ss_sp;

	if ((uc->uc_stack.ss_flags & SS_DISABLE) || !uc->uc_stack.ss_size)
		return true;
	if (sp < lo || sp >= lo + uc->uc_stack.ss_size)
		return true;    /* not on the alternate stack after all */
	return (size_t)(sp - lo) >= HOST_INLINE_STACK;
}

/* What host_fault_inline changed on the thread, put back by inline_exit. */
struct inline_state {
	sigset_t mask;                  /* the signal mask before */
	int cancel_state;               /* the cancellability before */
	bool active;
};

/*
 * inline_exit - after an inline fault: the signal mask and cancellability
 * as they were.  Called last, once the handler no longer uses the window
 * (handlers_inflight dropped): a cancellation pending while the program's
 * asynchronous cancellation is on acts here, and a pending signal is
 * delivered here.
 */
static void inline_exit(struct inline_state *st)
{
	if (!st->active)
		return;
	st->active = false;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &st->mask, NULL, _NSIG / 8);
	pthread_setcancelstate(st->cancel_state, NULL);
}

/*
 * host_fault_inline - resolve the fault at haddr in r through the fault
 * path on the faulting thread, in the signal handler (host_map, blocking
 * locks and all), with every asynchronous signal blocked and cancellation
 * disabled; *st records what to put back with inline_exit, which the
 * caller calls when it is done with the window.  The caller has checked
 * host_inline_allowed.  No usermm lock held on entry or exit.  Returns 0
 * or -errno as host_map.
 */
static int host_fault_inline(struct host_region *r, uintptr_t haddr, int write, struct inline_state *st)
{
	sigset_t all;
	int err;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &st->cancel_state);
	/* the synchronous signals stay deliverable: blocked, the kernel would kill the process */
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGTRAP);
	sigdelset(&all, SIGSYS);
	/* libc's sigfillset leaves out its own cancellation and set*id signals:
	   their handlers are harmless here (cancellation is disabled below) */
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, &st->mask, _NSIG / 8);
	st->active = true;
	host_inline_depth++;
	kthread_nostart_depth++;        /* helpers the fault path wants are created later */
	if (write < 0)
		write = write_inferred(r, haddr);
	err = host_map(r, r->start + (haddr - (uintptr_t)r->base), write, true);
	kthread_nostart_depth--;
	host_inline_depth--;
	if (!err) {
		hstat_add(faults, 1);
		hstat_add(handler_faults, 1);
		hstat_add(inline_faults, 1);
		if (write)
			hstat_add(write_faults, 1);
	}
	return err;
}

/*
 * host_inline_allowed - may this fault run the fault path on the faulting
 * thread?  Not when a test turned it off, when the thread already waits
 * for a fault thread (a handler of another signal faulted meanwhile), when
 * a log function is installed (it might not be async-signal-safe), or
 * when the handler runs on an alternate signal stack with too little room
 * left.  The caller has checked that the thread is outside usermm.
 */
static bool host_inline_allowed(void *uctx)
{
	return likely(!host_mmu_no_inline) && !host_req_depth && !log_fn_installed() &&
	       inline_stack_ok(uctx);
}

static void host_sigaction(int sig, siginfo_t *si, void *uctx)
{
	int saved_errno = errno;
	struct inline_state ist = { .active = false };
	struct host_region *r;
	uintptr_t a = (uintptr_t)si->si_addr;

	int err = -EFAULT;

	atomic_fetch_add(&handlers_inflight, 1);
	r = sig == SIGSEGV && si->si_code > 0 ? region_of(a) : NULL;
	if (r) {
		/* inside usermm: serving it could deadlock (see the theory above) */
		if (!mmap_lock_depth && !host_inline_depth &&
		    !__atomic_load_n(&umm_tlb_hot.active, __ATOMIC_RELAXED) &&
		    !atomic_load(&r->dead) && !fault_is_exec(uctx)) {
			int write = unlikely(host_mmu_no_fault_code) ? -1 : fault_is_write(uctx);

			err = likely(!host_mmu_no_fast_path) ? host_map_fast(r, a, write) : -EAGAIN;
			if (!err) {
				hstat_add(faults, 1);
				hstat_add(handler_faults, 1);
				if (write > 0)
					hstat_add(write_faults, 1);
			} else if (likely(!host_mmu_no_fast_path) && host_inline_allowed(uctx)) {
				err = host_fault_inline(r, a, write, &ist);
			} else if (likely(atomic_load_explicit(&fault_threads_running, memory_order_acquire))) {
				err = host_fault(r, a, write);
			} else {
				/* a handoff with no fault thread to take it: refused, never waited for */
				hstat_add(handoffs_refused, 1);
			}
		}
		if (err)
			hstat_add(refused, 1);
	}
	atomic_fetch_sub(&handlers_inflight, 1);
	inline_exit(&ist);
	if (r && err == -EIO) {
		/* usermm's -EIO is the kernel's SIGBUS: give the SIGBUS handler a SIGBUS */
		siginfo_t bus = *si;

		bus.si_signo = SIGBUS;
		bus.si_code = BUS_ADRERR;
		chain(SIGBUS, &bus, uctx, true);
	} else if (!r || err) {
		chain(sig, si, uctx, false);
	}
	errno = saved_errno;
}

/* install_handlers - put ours in place unless it is; keep what was there.  host_lock held. */
static int install_handlers(void)
{
	struct sigaction sa, cur;

	if (sigaction(SIGSEGV, NULL, &cur))
		return -errno;
	if (cur.sa_flags & SA_SIGINFO && cur.sa_sigaction == host_sigaction)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = host_sigaction;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &prev_segv))
		return -errno;
	if (sigaction(SIGBUS, &sa, &prev_bus)) {
		int err = -errno;

		sigaction(SIGSEGV, &prev_segv, NULL);
		return err;
	}
	handlers_installed = true;
	return 0;
}

/* restore_handlers - the last window went: put the previous handlers back if ours are in place. */
static void restore_handlers(void)
{
	struct sigaction cur;

	if (!handlers_installed)
		return;
	if (!sigaction(SIGSEGV, NULL, &cur) && (cur.sa_flags & SA_SIGINFO) &&
	    cur.sa_sigaction == host_sigaction) {
		sigaction(SIGSEGV, &prev_segv, NULL);
		sigaction(SIGBUS, &prev_bus, NULL);
	}
	handlers_installed = false;
}

/**
 * host_mmu_replace_prev_handler - while the host MMU's SIGSEGV/SIGBUS
 * handler is installed, make act the handler it passes sig (SIGSEGV or
 * SIGBUS) on to, in place of the one that was there before, and return
 * that one in *old (either may be NULL): for an interposer that keeps a
 * program's handler installed late behind the host MMU's.  The update is
 * not atomic against a signal being passed on at that moment.
 * Takes host_lock.  Returns true if done, false if the host MMU's handler
 * is not installed (the caller installs act itself).
 */
bool host_mmu_replace_prev_handler(int sig, const struct sigaction *act, struct sigaction *old)
{
	struct sigaction *prev = sig == SIGBUS ? &prev_bus : &prev_segv, cur;
	bool done = false;

	if (sig != SIGSEGV && sig != SIGBUS)
		return false;
	pthread_mutex_lock(&host_lock);
	if (handlers_installed && !sigaction(sig, NULL, &cur) && (cur.sa_flags & SA_SIGINFO) &&
	    cur.sa_sigaction == host_sigaction) {
		if (old)
			*old = *prev;
		if (act)
			*prev = *act;
		done = true;
	}
	pthread_mutex_unlock(&host_lock);
	return done;
}

/* ---- the public calls ---- */

/**
 * umm_host_attach - reserve a host window for [start, start + len) of mm
 * (see usermm/host.h).  Takes host_lock.  Returns 0, -EINVAL, -ENOMEM,
 * -EAGAIN, -EOPNOTSUPP (the system's arena is anonymous memory: there is
 * no memfd to map frames from; when the default UMM_ARENA_AUTO chose it
 * and a log function is installed, a line says to ask for
 * UMM_ARENA_MEMFD: not on stderr by default, not counted in the system's
 * warnings); nothing is changed on error.
 */
int umm_host_attach(struct umm_mm *mm, uintptr_t start, size_t len, int flags, void **base)
{
	struct host_region *r;
	void *p;
	int slot, err;

	if (!mm || !base || !len || (flags & ~(UMM_HOST_NO_FAULT_AROUND | UMM_HOST_POPULATE_AROUND)) ||
	    !IS_ALIGNED(start, PAGE_SIZE) || !IS_ALIGNED(len, PAGE_SIZE) ||
	    start >= UMM_TASK_SIZE || len > UMM_TASK_SIZE - start)
		return -EINVAL;
	if (arena_memfd(mm->sys->phys) < 0) {
		if (mm->sys->arena_auto && log_fn_installed())
			pr_warn(NULL, "umm_host_attach: -EOPNOTSUPP: the default arena (UMM_ARENA_AUTO) "
				"is anonymous memory on this host; host windows need a memfd arena: "
				"create the system with umm_config.arena = UMM_ARENA_MEMFD");
		return -EOPNOTSUPP;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->mm = mm;
	r->start = start;
	r->len = len;
	r->flags = flags;
	pthread_mutex_init(&r->lock, NULL);
	r->bitmap_bytes = ALIGN_UP((len >> PAGE_SHIFT) + 1, 8 * sizeof(long)) / 8;
	p = mmap(NULL, 2 * r->bitmap_bytes, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		goto nomem;
	r->mapped = p;
	r->writable = (unsigned long *)((char *)p + r->bitmap_bytes);
	p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		munmap(r->mapped, 2 * r->bitmap_bytes);
		goto nomem;
	}
	r->base = p;
	r->mn.ops = &host_notifier_ops;
	err = umm_mmu_notifier_register(mm, &r->mn);
	if (err) {
		munmap(r->base, len);
		munmap(r->mapped, 2 * r->bitmap_bytes);
		pthread_mutex_destroy(&r->lock);
		free(r);
		return err;
	}

	pthread_mutex_lock(&host_lock);
	for (slot = 0; slot < UMM_HOST_MAX_REGIONS; slot++)
		if (!atomic_load(&regions[slot]))
			break;
	err = slot == UMM_HOST_MAX_REGIONS ? -ENOMEM : 0;
	if (!err && fault_threads_needed())
		err = fault_threads_start();
	if (!err)
		err = install_handlers();
	if (err) {
		if (!nr_regions)
			fault_threads_stop_all();
		pthread_mutex_unlock(&host_lock);
		umm_mmu_notifier_unregister(mm, &r->mn);
		munmap(r->base, len);
		munmap(r->mapped, 2 * r->bitmap_bytes);
		pthread_mutex_destroy(&r->lock);
		free(r);
		return err;
	}
	nr_regions++;
	map_estimate_add(1);
	atomic_store_explicit(&regions[slot], r, memory_order_release);
	atomic_fetch_add(&host_nr_windows, 1);
	pthread_mutex_unlock(&host_lock);
	*base = r->base;
	return 0;
nomem:
	pthread_mutex_destroy(&r->lock);
	free(r);
	return -ENOMEM;
}

/**
 * umm_host_detach - remove mm's window at base (see usermm/host.h).
 * Takes host_lock, the window's lock.  Returns 0 or -EINVAL.
 */
int umm_host_detach(struct umm_mm *mm, void *base)
{
	struct host_region *r = NULL;
	int slot;

	if (!mm || !base)
		return -EINVAL;
	pthread_mutex_lock(&host_lock);
	for (slot = 0; slot < UMM_HOST_MAX_REGIONS; slot++) {
		r = atomic_load(&regions[slot]);
		if (r && r->mm == mm && r->base == base)
			break;
	}
	if (slot == UMM_HOST_MAX_REGIONS) {
		pthread_mutex_unlock(&host_lock);
		return -EINVAL;
	}
	pthread_mutex_lock(&r->lock);
	r->dead = true;
	pthread_mutex_unlock(&r->lock);
	atomic_store(&regions[slot], NULL);
	atomic_fetch_sub(&host_nr_windows, 1);
	/* no handler may still be using r; a fault thread may be: it sees r->dead */
	while (atomic_load(&handlers_inflight))
		sched_yield();
	if (!--nr_regions) {
		fault_threads_stop_all();
		restore_handlers();
	}
	pthread_mutex_unlock(&host_lock);
	umm_mmu_notifier_unregister(mm, &r->mn);   /* no callback of r runs after this */
	munmap(r->base, r->len);
	munmap(r->mapped, 2 * r->bitmap_bytes);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return 0;
}

/**
 * umm_host_prefault - map [addr, addr + len) of mm in each window of mm
 * covering it (see usermm/host.h).  Takes mmap_lock (read), ptl, window
 * locks, in turn.  Returns 0, -EINVAL, -EFAULT, -EIO, -ENOMEM.
 */
int umm_host_prefault(struct umm_mm *mm, uintptr_t addr, size_t len, int write)
{
	uintptr_t end;

	if (!mm || !len || addr + len - 1 < addr)
		return -EINVAL;
	hstat_add(prefaults, 1);
	end = ALIGN_UP(addr + len, PAGE_SIZE);
	if (!end)
		return -EINVAL;
	for (uintptr_t a = addr & PAGE_MASK; a < end; a += PAGE_SIZE) {
		bool covered = false;

		for (int i = 0; i < UMM_HOST_MAX_REGIONS; i++) {
			struct host_region *r;
			int err = 0;

			atomic_fetch_add(&handlers_inflight, 1);        /* keeps r (see region_of) */
			r = atomic_load(&regions[i]);
			if (r && r->mm == mm && a >= r->start && a - r->start < r->len) {
				covered = true;
				err = host_map(r, a, write != 0, false);
			}
			atomic_fetch_sub(&handlers_inflight, 1);
			if (err)
				return err;
		}
		if (!covered)
			return -EFAULT;
	}
	return 0;
}

/**
 * host_mmu_prefault_host - map the window pages among host addresses
 * [p, p + len), for writing if `write` (pages outside every window are
 * left alone).  No usermm lock held; takes mmap_lock (read), ptl, window
 * locks.  0, -EFAULT, -EIO, -ENOMEM.
 */
int host_mmu_prefault_host(const void *p, size_t len, bool write)
{
	uintptr_t a = (uintptr_t)p & PAGE_MASK, end = (uintptr_t)p + len;

	for (; a < end; a += PAGE_SIZE) {
		struct host_region *r;
		int err;

		atomic_fetch_add(&handlers_inflight, 1);        /* keeps r while we use it */
		r = region_of(a);
		err = r ? host_map(r, r->start + (a - (uintptr_t)r->base), write, false) : 0;
		atomic_fetch_sub(&handlers_inflight, 1);
		if (err)
			return err;
	}
	return 0;
}

/**
 * umm_host_from_umm - the host pointer of usermm address addr of mm in
 * its first window covering it, or NULL.  No locks (a detach of the
 * window waits for the lookup).
 */
void *umm_host_from_umm(struct umm_mm *mm, uintptr_t addr)
{
	void *p = NULL;

	atomic_fetch_add(&handlers_inflight, 1);        /* keeps the windows (see region_of) */
	for (int i = 0; mm && !p && i < UMM_HOST_MAX_REGIONS; i++) {
		struct host_region *r = atomic_load(&regions[i]);

		if (r && r->mm == mm && addr >= r->start && addr - r->start < r->len)
			p = host_addr(r, addr);
	}
	atomic_fetch_sub(&handlers_inflight, 1);
	return p;
}

/**
 * umm_host_to_umm - the address space and usermm address behind host
 * pointer p.  No locks.  0, -EINVAL (NULL out pointers), -EFAULT.
 */
int umm_host_to_umm(const void *p, struct umm_mm **mm, uintptr_t *addr)
{
	struct host_region *r;

	if (!mm || !addr)
		return -EINVAL;
	atomic_fetch_add(&handlers_inflight, 1);        /* keeps the window (see region_of) */
	r = region_of((uintptr_t)p);
	if (r) {
		*mm = r->mm;
		*addr = r->start + ((uintptr_t)p - (uintptr_t)r->base);
	}
	atomic_fetch_sub(&handlers_inflight, 1);
	return r ? 0 : -EFAULT;
}

/**
 * umm_host_get_stats - the process-wide counters.  Takes host_lock.
 */
void umm_host_get_stats(struct umm_host_stats *st)
{
	if (!st)
		return;
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&host_lock);
	st->regions = nr_regions;
	pthread_mutex_unlock(&host_lock);
	st->faults = atomic_load(&hstat.faults);
	st->handler_faults = atomic_load(&hstat.handler_faults);
	st->write_notify = atomic_load(&hstat.write_notify);
	st->inline_faults = atomic_load(&hstat.inline_faults);
	st->write_upgrades = atomic_load(&hstat.write_upgrades);
	st->write_around = atomic_load(&hstat.write_around);
	st->write_faults = atomic_load(&hstat.write_faults);
	st->refused = atomic_load(&hstat.refused);
	st->handoffs_refused = atomic_load(&hstat.handoffs_refused);
	st->fault_threads = atomic_load(&fault_threads_running) ? HOST_FAULT_THREADS : 0;
	st->retries = atomic_load(&hstat.retries);
	st->pages_mapped = atomic_load(&hstat.pages_mapped);
	st->fault_around_pages = atomic_load(&hstat.fault_around_pages);
	st->runs_mapped = atomic_load(&hstat.runs_mapped);
	st->prefaults = atomic_load(&hstat.prefaults);
	st->invalidations = atomic_load(&hstat.invalidations);
	st->pages_unmapped = atomic_load(&hstat.pages_unmapped);
	st->write_protects = atomic_load(&hstat.write_protects);
	st->drops = atomic_load(&hstat.drops);
	st->map_count = atomic_load(&map_counted);
	st->map_limit = map_limit();
}

/**
 * umm_host_set_map_limit - set the VMA limit the host MMU works to (0:
 * the sysctl's).  Returns the previous setting.  No locks.
 */
unsigned long umm_host_set_map_limit(unsigned long limit)
{
	unsigned long old = atomic_exchange(&map_limit_set, limit);

	atomic_store(&map_estimate, -1);        /* count again before the next mapping */
	return old;
}
