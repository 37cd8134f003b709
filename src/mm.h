/* SPDX-License-Identifier: MIT */
/*
 * mm.h - struct umm_mm (an address space) and struct vm_area_struct.
 *
 * Locks: the lock order of the whole library is in lockdep.h (one place;
 * debug builds check it).  Here: mmap_lock (rwlock: read to fault and
 * access, write to change VMAs and to free page tables); page_table_lock
 * (upper page-table levels, installing and freeing tables; see pgtable.h);
 * each pte table has its own lock in its struct page.
 *
 * Counters.  RSS and fault-event counters are striped: a thread adds to
 * the stripe of its slot (percpu.h), each stripe on its own cache line, so threads faulting in one
 * mm do not bounce a shared line.  Readers sum the stripes: exact when the
 * address space is quiescent, a snapshot otherwise.
 *
 * Lifecycle of an mm: created (empty page table, no VMAs) -> mappings come
 * and go -> umm_mm_destroy() unmaps everything (dirty shared pages reach
 * their object because the object keeps the pages) and frees the page
 * tables; no frame, table or VMA is left.
 */
#ifndef UMM_MM_H
#define UMM_MM_H

#include <pthread.h>
#include <stdatomic.h>
#include "system.h"
#include "rbtree.h"
#include "fmutex.h"
#include "lockdep.h"
#include "percpu_rwsem.h"
#include "percpu.h"

/* vm_flags */
#define VM_READ        0x00000001UL
#define VM_WRITE       0x00000002UL
#define VM_EXEC        0x00000004UL
#define VM_SHARED      0x00000008UL
#define VM_MAYREAD     0x00000010UL
#define VM_MAYWRITE    0x00000020UL
#define VM_MAYEXEC     0x00000040UL
#define VM_MAYSHARE    0x00000080UL
#define VM_LOCKED      0x00002000UL
#define VM_SEQ_READ    0x00008000UL   /* MADV_SEQUENTIAL: read ahead aggressively */
#define VM_RAND_READ   0x00010000UL   /* MADV_RANDOM: no readahead */
#define VM_DONTCOPY    0x00020000UL   /* MADV_DONTFORK: umm_fork leaves it out */
#define VM_LOCKONFAULT 0x00080000UL   /* with VM_LOCKED: lock pages as they fault in, no populate (mlock.c) */
#define VM_NORESERVE   0x00200000UL
#define VM_NONLINEAR   0x00800000UL   /* remap_file_pages window (nonlinear issue) */
#define VM_ACCESS_FLAGS (VM_READ | VM_WRITE | VM_EXEC)
#define VM_LOCKED_MASK (VM_LOCKED | VM_LOCKONFAULT)

struct anon_vma;
struct nonlinear_index;

struct vm_area_struct {
	struct umm_mm *vm_mm;
	uintptr_t vm_start;              /* first byte */
	uintptr_t vm_end;                /* first byte after */
	unsigned long vm_flags;
	struct umm_object *vm_obj;       /* file/shmem (holds a reference); NULL = private anon */
	uint64_t vm_pgoff;               /* offset in obj, in pages; for anon: vm_start >> PAGE_SHIFT
	                                    at creation (kept across mremap, for rmap) */
	struct rb_node vm_rb;            /* mm->mm_rb, ordered by vm_start */
	uintptr_t vm_gap;                /* free bytes below this vma, down to its predecessor (vma.c) */
	uintptr_t rb_subtree_gap;        /* largest free gap below any vma in this subtree */
	struct list_head obj_link;       /* vm_obj->i_mmap, under i_mmap_lock */
	struct rb_node obj_rb;           /* vm_obj->i_mmap_tree (linear vmas), under i_mmap_lock */
	uint64_t obj_subtree_last;       /* largest last pgoff in its i_mmap_tree subtree */
	bool obj_in_tree;                /* in vm_obj->i_mmap_tree (else counted nonlinear) */
	struct anon_vma *anon_vma;       /* object-based rmap of its anon pages (rmap.h); one
	                                    reference per vma pointing to it */
	struct list_head anon_vma_link;  /* anon_vma->head while linked, under anon_vma->lock */
	struct nonlinear_index *vm_nl_index; /* VM_NONLINEAR: where remapped offsets sit
	                                    (nonlinear_index.c), or NULL */
};

/* MM_SWAPENTS counts ptes that hold a swap entry (swapped-out anon pages), not pages mapped. */
enum mm_counter { MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES, MM_SWAPENTS, NR_MM_COUNTERS };
enum mm_event { MM_MIN_FLT, MM_MAJ_FLT, MM_COW_FLT, NR_MM_EVENTS };

#define MM_COUNTER_STRIPES NR_SLOT_STRIPES

/* One thread slot's share of an mm's counters, on a cache line of its own. */
struct mm_counter_stripe {
	_Alignas(64) _Atomic long rss[NR_MM_COUNTERS];
	_Atomic unsigned long events[NR_MM_EVENTS];
};

/*
 * Fields are grouped by who writes them, one cache line per group, so a
 * fault on one CPU does not pull the line another CPU reads for every
 * soft-TLB access (tlb_gen) or walks with (pgd, mm_rb).
 */
struct umm_mm {
	/*
	 * The soft TLB's line, first: the inline access path of
	 * <usermm/access.h> loads tlb_gen and id at these offsets (struct
	 * umm_mm_head there; soft_mmu.c checks they agree).
	 */
	_Atomic uint64_t tlb_gen;        /* bumped by every cross-thread TLB shootdown */
	uint64_t id;                     /* unique in the process, never reused (TLB tag) */
	_Atomic uint64_t tlb_owner;      /* which TLBs may hold entries: 0, one TLB's id, or many (soft_mmu.c) */

	/* read-mostly */
	_Alignas(64) struct umm_system *sys;
	struct page *pgd_page;           /* level-4 table */
	uint64_t *pgd;
	struct list_head mmlist;         /* sys->mm_list */

	/* VMA tree, under mmap_lock (written only with it held for write) */
	struct rb_root mm_rb;
	unsigned long map_count;         /* VMAs */
	unsigned long total_vm;          /* pages covered by VMAs */
	unsigned long locked_vm;         /* pages covered by VM_LOCKED VMAs (mlock.c) */
	unsigned long def_flags;         /* VM_LOCKED_MASK bits new VMAs get (mlockall MCL_FUTURE) */
	uintptr_t mmap_base;             /* top-down allocation starts below this */
	struct io_tracker *_Atomic prepage_io; /* asynchronous prepage reads (prepage.c), set once */
	_Atomic int notifier_count;      /* registered notifiers and interval notifiers (mmu_notifier.c) */
	struct mmu_notifier_subscriptions *notifier_subscriptions; /* set by the first registration */
	_Atomic uint64_t vmacache_seqnum;/* bumped on every VMA tree change */

	struct percpu_rwsem mmap_lock;     /* reader counts striped per thread slot (percpu_rwsem.h) */
	_Alignas(64) struct fmutex page_table_lock; /* upper-level tables; installing/freeing tables */
	_Atomic long nr_ptes;            /* page-table pages, pgd included */

	/* written by faults: striped per thread slot (see above) */
	struct mm_counter_stripe stripes[MM_COUNTER_STRIPES];
};

static inline void add_mm_counter(struct umm_mm *mm, int member, long value)
{
	atomic_fetch_add_explicit(&mm->stripes[thread_slot()].rss[member], value,
				  memory_order_relaxed);
}
static inline void inc_mm_counter(struct umm_mm *mm, int member) { add_mm_counter(mm, member, 1); }
static inline void dec_mm_counter(struct umm_mm *mm, int member) { add_mm_counter(mm, member, -1); }
static inline void count_mm_event(struct umm_mm *mm, enum mm_event ev)
{
	atomic_fetch_add_explicit(&mm->stripes[thread_slot()].events[ev], 1,
				  memory_order_relaxed);
}
/* get_mm_counter / get_mm_event - the sum over the stripes.  No locks. */
static inline long get_mm_counter(struct umm_mm *mm, int member)
{
	long sum = 0;

	for (int i = 0; i < MM_COUNTER_STRIPES; i++)
		sum += atomic_load_explicit(&mm->stripes[i].rss[member], memory_order_relaxed);
	return sum;
}
static inline unsigned long get_mm_event(struct umm_mm *mm, enum mm_event ev)
{
	unsigned long sum = 0;

	for (int i = 0; i < MM_COUNTER_STRIPES; i++)
		sum += atomic_load_explicit(&mm->stripes[i].events[ev], memory_order_relaxed);
	return sum;
}

static inline bool vma_is_anonymous(const struct vm_area_struct *vma) { return vma->vm_obj == NULL; }
static inline bool vma_is_shared(const struct vm_area_struct *vma) { return vma->vm_flags & VM_SHARED; }
static inline unsigned long vma_pages(const struct vm_area_struct *vma)
{
	return (vma->vm_end - vma->vm_start) >> PAGE_SHIFT;
}
/* linear_page_index - object page index that addr maps in a linear vma. */
static inline uint64_t linear_page_index(const struct vm_area_struct *vma, uintptr_t addr)
{
	return vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
}
/* mm_counter_for_page - which RSS counter a mapped page counts in. */
int mm_counter_for_page(struct page *page);

/* mm.c */
/* mm_alloc - an empty address space (no VMAs, empty pgd) linked into sys. */
int mm_alloc(struct umm_system *sys, struct umm_mm **out);
/* mm_check.c */
/*
 * mm_debug_check - if the system was created with debug_checks, run the
 * invariant check (mm_check_locked) and abort on failure.  mmap_lock held
 * (read or write) by the caller.
 */
void mm_debug_check(struct umm_mm *mm);
/* mm_check_locked - umm_mm_check with mmap_lock already held.  0 or -EUCLEAN. */
int mm_check_locked(struct umm_mm *mm);

/*
 * mmap_lock_depth - how many mmap_locks the calling thread holds (or is
 * waiting for), in every build.  The host MMU's signal handler
 * (host_mmu.c) reads it: a fault in a host window taken while it is not 0
 * cannot be served without risking a deadlock, and is refused.
 */
extern __thread unsigned int mmap_lock_depth __attribute__((tls_model("initial-exec")));
#if UMM_DEBUG
/* The mm whose notifier callback this thread is running, if any (mmu_notifier.c). */
extern __thread struct umm_mm *mmu_notifier_callback_mm;
/* A notifier callback may not take its own mm's mmap_lock (usermm/mmu_notifier.h). */
#define mmap_lock_check_callback(mm) do { \
	if (unlikely(mmu_notifier_callback_mm == (mm))) \
		umm_bug(__FILE__, __LINE__, "an MMU notifier callback called back into its own address space"); \
} while (0)
#else
#define mmap_lock_check_callback(mm) do { (void)(mm); } while (0)
#endif

/* mmap_lock (LOCK_MMAP); the _nested form is fork's child (subclass 1). */
static inline void mmap_read_lock(struct umm_mm *mm)
{
	mmap_lock_check_callback(mm);
	mmap_lock_depth++;
	lockdep_acquire(&mm->mmap_lock, LOCK_MMAP, 0, LOCKDEP_READ);
	percpu_down_read(&mm->mmap_lock, thread_slot());
}
static inline void mmap_read_unlock(struct umm_mm *mm)
{
	percpu_up_read(&mm->mmap_lock, thread_slot());
	lockdep_release(&mm->mmap_lock);
	mmap_lock_depth--;
}
/*
 * mmap_read_trylock - mmap_lock for read if no writer holds or waits for
 * it; never sleeps, so it may be called with any lock held (rmap walks).
 */
static inline bool mmap_read_trylock(struct umm_mm *mm)
{
	if (!percpu_down_read_trylock(&mm->mmap_lock, thread_slot()))
		return false;
	mmap_lock_depth++;      /* mmap_read_unlock takes it off again */
	lockdep_acquire(&mm->mmap_lock, LOCK_MMAP, 0, LOCKDEP_READ | LOCKDEP_TRYLOCK);
	return true;
}
static inline void mmap_write_lock_nested(struct umm_mm *mm, unsigned int subclass)
{
	mmap_lock_check_callback(mm);
	mmap_lock_depth++;
	lockdep_acquire(&mm->mmap_lock, LOCK_MMAP, subclass, 0);
	percpu_down_write(&mm->mmap_lock);
}
static inline void mmap_write_lock(struct umm_mm *mm) { mmap_write_lock_nested(mm, 0); }
static inline void mmap_write_unlock(struct umm_mm *mm)
{
	percpu_up_write(&mm->mmap_lock);
	lockdep_release(&mm->mmap_lock);
	mmap_lock_depth--;
}
/* mmap_assert_locked - debug builds: this thread holds mmap_lock (read or write). */
#define mmap_assert_locked(mm) lockdep_assert_held(&(mm)->mmap_lock)
/* mmap_assert_write_locked - debug builds: this thread holds mmap_lock for write. */
#define mmap_assert_write_locked(mm) lockdep_assert_held_write(&(mm)->mmap_lock)

#endif
