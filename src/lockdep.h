/* SPDX-License-Identifier: MIT */
/*
 * lockdep.h - THE lock order of usermm, and the debug-build checker that
 * enforces it.  Every file that takes locks refers here; nothing else
 * states the order.
 *
 * Lock order, outermost first.  A thread may take a lock only while every
 * lock it holds is of a lower rank (listed above it), or of the same class
 * with a lower nesting subclass:
 *
 *   1 LOCK_MM_LIST     sys->mm_list_lock.  Held across the mms' locks only
 *                      by umm_system_check; mm_alloc/umm_mm_destroy and the
 *                      stats take it alone (fork allocates the child before
 *                      it takes the parent's mmap_lock).
 *     (objects)        obj->write_mutex (umm_object_write's, held across
 *                      the whole write) -> truncate_mutex (object.c: size
 *                      changes) -> page lock: taken by umm_object_write
 *                      and umm_object_truncate with no mmap_lock held; not
 *                      seen by the checker.
 *   2 LOCK_MMAP        mm->mmap_lock (percpu_rwsem.h): read to fault and
 *                      access, write to change VMAs or free page tables.
 *                      fork: the parent's, then the child's (subclass 1).
 *     (page lock)      PG_locked, a bit lock taken between mmap_lock and
 *                      i_mmap_lock (file faults, truncate, writeback,
 *                      swap-in and swap-out); not seen by the checker.
 *                      Swap-in read-ahead holds the locks of the fresh
 *                      pages it inserted in the swap cache until their
 *                      read ends; under a pte table lock a page lock is
 *                      only ever trylocked (swap_free, tlb_flush_mmu,
 *                      do_wp_page freeing a swap-cache page).
 *   3 LOCK_I_MMAP      obj->i_mmap_lock: the object's list of vmas.
 *   4 LOCK_ANON_VMA    anon_vma->lock (object-based rmap): the list of vmas
 *                      sharing an anon_vma, and their ranges; taken by vma
 *                      changes after i_mmap_lock, and by rmap walks of anon
 *                      pages.  (The pte-chain scheme's per-page chain lock,
 *                      PG_chainlock, is a bit lock taken under a pte table
 *                      lock and never held while one is waited for: the
 *                      walks only trylock a pte table lock under it.)
 *   5 LOCK_PAGE_TABLE  mm->page_table_lock: installing and freeing page
 *                      tables (upper levels, and a new pte table into its
 *                      pmd); held by walkers that have no mmap_lock
 *                      (truncate, page_mkclean) so tables stay put.
 *                      Never taken while a pte table lock is held.
 *   6 LOCK_PTL         a pte table's lock (in the table's struct page):
 *                      every pte of that table and its pt_used.  fork: the
 *                      parent's table, then the child's (subclass 1);
 *                      mremap: the lower-addressed table's lock first, the
 *                      other's as subclass 1.
 *   7 LOCK_TREE        obj->tree_lock (percpu_rwsem.h): the object's page
 *                      cache (radix tree); read to look up, write to
 *                      insert or delete pages.
 *     (reclaim)        sys->reclaim_check_lock (vmscan.c): below the page
 *                      lock and above i_mmap_lock in this order, not by
 *                      rank: a reclaim pass holds it for read around its
 *                      page trylocks, rmap walks (i_mmap_lock, anon_vma
 *                      and page-table locks) and writeback, and direct
 *                      reclaim may take it with mmap_lock and page locks
 *                      held; the invariant checks take it for write with
 *                      mmap_lock held, then walk VMAs and page tables
 *                      (i_mmap_lock, page_table_lock, pte table locks)
 *                      and take no page lock.  Not seen by the checker.
 *     (leaves)         soft-TLB flush log and registry locks, the host
 *                      MMU's window locks (host_mmu.c), slab cache
 *                      locks, per-thread page caches, zone lock, an
 *                      object's readahead lock (obj->ra.lock), the I/O
 *                      backend's queue and ring locks and the prepage
 *                      trackers' locks (io.c, io_uring.c), the swap
 *                      device's allocator lock and its swap cache lock
 *                      (si->lock, si->cache_lock: swapfile.c,
 *                      swap_state.c; taken under a pte table lock by
 *                      zap's swap_free), the LRU batch locks -> the LRU
 *                      lock and kswapd_lock (vmscan.c): taken last and
 *                      alone; not seen by the checker.  kthread_lock
 *                      (kthread.c: creating a helper thread) is a leaf
 *                      taken with any of usermm's locks held except
 *                      these leaves.  (A read in flight
 *                      holds its pages' locks, taken by the submitter and
 *                      released by the I/O completion thread.)  Among
 *                      the physical layer's own: mag_owner_lock (slab.c)
 *                      -> a slab cache lock, and mag_owner_lock ->
 *                      pcp_owner_lock -> pcp_list_lock -> a pcp lock ->
 *                      zone lock (page_alloc.c); populate_lock (arena.c),
 *                      the page-reporting lock (page_reporting.c) and
 *                      the populate-ahead lock (populate_ahead.c) are
 *                      taken with no allocator lock held.
 *
 * Allocation: no frame, not even a page-table page, is allocated with
 * page_table_lock or a pte table lock held (the allocator may reclaim, and
 * reclaim takes page locks).  Frames for a fault are allocated before the
 * pte table lock is taken, or with it dropped and the pte re-checked after.
 * Page-table pages are allocated before page_table_lock is taken and
 * freed after it is dropped if another thread installed a table first.
 *
 * Page-table lifetime: a page table is freed only with mmap_lock held for
 * write and page_table_lock held (free_pgtables), or when the mm is
 * unreachable (pgd_free).  So a thread holding mmap_lock (read or write)
 * or page_table_lock may walk the tables without any other lock and keep
 * a pte pointer; it needs the pte table's lock to read a pte it acts on or
 * to write one.  Upper-level entries are published with release stores
 * and read with acquire loads; ptes are stored atomically so a lockless
 * peek (ptep_get_lockless) is well defined.
 *
 * MMU notifiers (mmu_notifier.c): an mm's notifier lock (an rwlock) is
 * taken for read with any of these held, only around the callbacks (then
 * an interval notifier's lock, then the callbacks' own locks), and for
 * write with none held; the secondary-TLB invalidation (the soft TLB's
 * shootdown among them) may be called with any of these held.  Not seen
 * by the checker.
 *
 * The checker (UMM_DEBUG builds only; free in release builds): each lock
 * acquisition is recorded on a per-thread stack of held locks with its
 * class and subclass.  Taking a lock whose (class, subclass) is not
 * strictly above every held lock's is reported through the hook set with
 * lockdep_set_report_hook(), or is a BUG when no hook is set.  Trylocks
 * are recorded but not checked (they cannot deadlock).
 * lockdep_assert_held() makes the "lock held" contracts checks.  Each
 * thread also counts its acquisitions per class (lockdep_acquisitions),
 * so tests can check how often a path takes a lock.
 */
#ifndef UMM_LOCKDEP_H
#define UMM_LOCKDEP_H

#include "compiler.h"

enum lock_class {
	LOCK_NONE = 0,
	LOCK_MM_LIST,
	LOCK_MMAP,
	LOCK_I_MMAP,
	LOCK_ANON_VMA,
	LOCK_PAGE_TABLE,
	LOCK_PTL,
	LOCK_TREE,
	NR_LOCK_CLASSES
};

/*
 * rmap_locks_held - how many anon_vma->lock and i_mmap_lock this thread
 * holds, kept by their lock helpers in every build (rmap.c).  Reclaim may
 * run inside an allocation made under one of them: its walks
 * (RMAP_WALK_TRYLOCK, rmap.h) block on those locks only when this is 0,
 * and only trylock them otherwise.
 */
extern __thread unsigned int rmap_locks_held;

/* The subclass for the second lock of a class held at once. */
#define SINGLE_DEPTH_NESTING 1

/* lockdep_acquire flags */
#define LOCKDEP_TRYLOCK 0x1    /* a trylock that succeeded: recorded, order not checked */
#define LOCKDEP_READ    0x2    /* a shared (read) hold of an rwlock */

/* lockdep_report_fn - receives one line describing a violation. */
typedef void (*lockdep_report_fn)(const char *msg);

#if UMM_DEBUG
/*
 * lockdep_acquire - record that this thread takes `lock` of class cls and
 * nesting subclass sub (flags: LOCKDEP_*); check the order first unless
 * LOCKDEP_TRYLOCK.  No locks.
 */
void lockdep_acquire(const void *lock, enum lock_class cls, unsigned int sub, unsigned int flags);
/* lockdep_release - forget `lock` (reported if this thread does not hold it).  No locks. */
void lockdep_release(const void *lock);
/* lockdep_is_held - does this thread hold `lock` (in any mode)?  No locks. */
bool lockdep_is_held(const void *lock);
/* lockdep_is_held_write - does this thread hold `lock` exclusively?  No locks. */
bool lockdep_is_held_write(const void *lock);
/* lockdep_depth - how many locks this thread holds (checked ones only). */
unsigned int lockdep_depth(void);
/* lockdep_acquisitions - how many times this thread has taken a lock of class cls. */
unsigned long lockdep_acquisitions(enum lock_class cls);
/*
 * lockdep_set_report_hook - send violations to fn (NULL: BUG on a
 * violation, the default).  Returns the previous hook.  Process-wide.
 */
lockdep_report_fn lockdep_set_report_hook(lockdep_report_fn fn);
#define lockdep_assert_held(lock) do { \
	if (unlikely(!lockdep_is_held(lock))) umm_bug(__FILE__, __LINE__, "lock not held: " #lock); \
} while (0)
#define lockdep_assert_held_write(lock) do { \
	if (unlikely(!lockdep_is_held_write(lock))) umm_bug(__FILE__, __LINE__, "lock not held for write: " #lock); \
} while (0)
#define lockdep_assert_not_held(lock) do { \
	if (unlikely(lockdep_is_held(lock))) umm_bug(__FILE__, __LINE__, "lock held: " #lock); \
} while (0)
#else
static inline void lockdep_acquire(const void *lock, enum lock_class cls, unsigned int sub, unsigned int flags)
{
	(void)lock; (void)cls; (void)sub; (void)flags;
}
static inline void lockdep_release(const void *lock) { (void)lock; }
static inline bool lockdep_is_held(const void *lock) { (void)lock; return true; }
static inline bool lockdep_is_held_write(const void *lock) { (void)lock; return true; }
static inline unsigned int lockdep_depth(void) { return 0; }
static inline unsigned long lockdep_acquisitions(enum lock_class cls) { (void)cls; return 0; }
static inline lockdep_report_fn lockdep_set_report_hook(lockdep_report_fn fn) { (void)fn; return NULL; }
#define lockdep_assert_held(lock) do { (void)sizeof(lock); } while (0)
#define lockdep_assert_held_write(lock) do { (void)sizeof(lock); } while (0)
#define lockdep_assert_not_held(lock) do { (void)sizeof(lock); } while (0)
#endif

#endif /* UMM_LOCKDEP_H */
