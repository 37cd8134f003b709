/* SPDX-License-Identifier: MIT */
/*
 * page_alloc.h - the physical arena and its frame allocator.
 *
 * The arena is phys_bytes of host memory at phys->base, of one of two
 * kinds (arena.c): a memfd mapped MAP_SHARED, so a frame can also be
 * mapped by the host MMU at any address (offset = pfn * PAGE_SIZE in
 * phys->memfd), or private anonymous memory (phys->anon, memfd -1), which
 * the host can back with transparent huge pages but which cannot be mapped
 * anywhere else.  A pfn is the frame's index in the arena (0 .. nr_frames-1).
 *
 * Layout of the metadata region (one anonymous mapping, see PHYS_META_ALIGN_SHIFT):
 *     [ struct phys_mem | padding | struct page pages[nr_frames] ]
 * so page_to_phys(page) masks the descriptor address down to the region start.
 *
 * Allocator: a binary buddy allocator, orders 0 .. MAX_ORDER-1 (order 9 =
 * 2 MiB, order 10 = 4 MiB), one zone lock.  Single frames go through
 * per-thread caches (pcp) filled and drained in batches.  Watermarks
 * min < low < high (frames): below low the reclaim hook is woken
 * (kswapd-style, asynchronous), an allocation that would go below min
 * calls the reclaim hook directly unless GFP_NORECLAIM, and fails with
 * NULL if that does not help.  GFP_ATOMIC may dip to half of min.
 *
 * Host memory (arena.c): the arena is brought in from the host a chunk of
 * ARENA_CHUNK_FRAMES frames at a time when the allocator first hands out
 * one of the chunk's frames; page_reporting.c punches free blocks of order
 * MAX_ORDER-1 that stayed free for a while back out of the arena.
 *
 * Files: arena.c (the arena's two kinds, descriptor region, host
 * population, punching),
 * page_alloc.c (buddy lists, per-thread caches, watermarks, statistics),
 * pcp.h (the per-thread cache structure), page_alloc_check.c (phys_check),
 * page_reporting.c (giving long-free blocks back), populate_ahead.c (the
 * thread that brings memory in before the allocator hands it out),
 * khugepaged.c (the thread that collapses small host pages into huge ones),
 * page_lock.c (the page lock's wait table).
 *
 * Lock order (leaves): pcp lock -> zone lock.  The reclaim hook is called
 * with no allocator lock held.  populate_lock (arena.c), the reporting
 * lock (page_reporting.c), the populate-ahead lock (populate_ahead.c)
 * and the collapse thread's lock (khugepaged.c) are taken with no
 * allocator lock held.
 */
#ifndef UMM_PAGE_ALLOC_H
#define UMM_PAGE_ALLOC_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>
#include "page.h"
#include "fault_inject.h"

#define MAX_ORDER 11            /* orders 0..10: up to 4 MiB blocks */
#define ARENA_CHUNK_ORDER 9     /* host population unit: 2 MiB */
#define ARENA_CHUNK_FRAMES (1UL << ARENA_CHUNK_ORDER)
#define POPULATE_PIECE (128UL << 10)  /* bytes per host call while populating a chunk */
#define ARENA_POPULATE_JOBS 8   /* chunks populated at once (more wait for a slot) */

/* A chunk being populated (arena.c), [populate_lock]. */
struct populate_job {
	unsigned long chunk;
	unsigned int nr_pieces;       /* of POPULATE_PIECE bytes (at most 32) */
	uint32_t claimed;             /* bit per piece: claimed by a thread */
	unsigned int inflight;        /* pieces claimed and not done */
	int err;                      /* a piece failed: the chunk stays absent */
	bool used;
	bool ahead;                   /* started by the populate-ahead thread */
};

typedef unsigned int gfp_t;
#define GFP_KERNEL     0u
#define GFP_ZERO       (1u << 0)   /* zero the frame(s) */
#define GFP_ATOMIC     (1u << 1)   /* may use reserves below min; never calls reclaim */
#define GFP_NORECLAIM  (1u << 2)   /* do not call the reclaim hook */
#define GFP_NOWARN     (1u << 3)

/* Returns frames freed (>= 0).  Called without allocator locks. */
typedef long (*reclaim_hook_t)(void *arg, unsigned long nr_wanted, gfp_t gfp);
/* Takes pages[0..nr), whose last references are gone, off the LRU lists and batches. */
typedef void (*lru_release_fn)(void *arg, struct page **pages, unsigned int nr);

struct phys_stats {
	unsigned long nr_frames;        /* total frames in the arena */
	unsigned long nr_free;          /* free in the buddy lists + pcp caches */
	unsigned long nr_pcp;           /* of which in per-thread caches */
	unsigned long nr_reserved;
	unsigned long free_by_order[MAX_ORDER]; /* free blocks per order (buddy lists) */
	unsigned long wmark_min, wmark_low, wmark_high;
	unsigned long allocs, frees;    /* calls (all orders) */
	unsigned long alloc_failures;
	unsigned long pcp_hits;         /* order-0 allocations served by a pcp */
	unsigned long reclaim_calls;    /* direct reclaim hook invocations */
	unsigned long kswapd_wakeups;   /* low watermark crossings */
	unsigned long oom;              /* allocations that failed after direct reclaim ran */
	unsigned long populated_bytes;  /* arena bytes brought in from the host (cumulative) */
	unsigned long released_bytes;   /* arena bytes punched back to the host (cumulative) */
	unsigned long populate_ns;      /* wall time spent populating (cumulative) */
	unsigned long ahead_bytes;      /* of populated_bytes, by the populate-ahead thread */
	unsigned long ahead_cpu_ns;     /* CPU time of the populate-ahead thread (cumulative) */
	unsigned long thp_cold;         /* anonymous arena: huge-page chunks that came in cold */
	unsigned long small_chunks;     /* anonymous arena: chunks brought in as 4 KiB host pages */
	unsigned long small_now;        /* of those, present and not collapsed since */
	unsigned long collapsed;        /* chunks collapsed into a 2 MiB host page (khugepaged.c) */
	unsigned long collapse_failed;  /* collapse calls that failed */
	unsigned long collapse_ns;      /* wall time of the collapse calls (cumulative) */
	unsigned long isolated;         /* frames held out of the buddy lists while being released */
};

struct free_area {
	struct list_head free_list;
	unsigned long nr_free;
};

struct per_thread_pages;          /* private to page_alloc.c */
struct kthread_lazy;
struct khugepaged;

struct phys_mem {
	/*
	 * Fields are grouped by who writes them, a cache line (or more) per
	 * group, so that threads allocating at once do not pull the lines
	 * every allocation reads (the first group) from each other's caches.
	 */
	/* read-mostly: set at creation (the hooks when reclaim starts) */
	void *base;                   /* arena: frame bytes */
	int memfd;                    /* -1 for an anonymous arena */
	bool anon;                    /* private anonymous memory, not a memfd */
	unsigned long nr_frames;
	struct page *pages;           /* descriptor array */
	size_t meta_bytes;            /* size and alignment of the metadata region */
	unsigned long wmark[3];       /* WMARK_MIN/LOW/HIGH */
	unsigned int pcp_high, pcp_batch;
	uint64_t id;                  /* unique, never reused: tags thread-local caches */
	void *owner;                  /* the umm_system of this arena (set by system.c), so
	                                 a page's system is found from the page (swap) */
	reclaim_hook_t reclaim;       /* set by reclaim (may be NULL) */
	void *reclaim_arg;
	void (*wakeup_kswapd)(void *arg); /* may be NULL */
	lru_release_fn lru_release;   /* put_page/release_pages of LRU pages (may be NULL) */
	struct fault_inject fail_alloc; /* injected allocation failures (written only when armed) */

	/* the zone: written by every cache refill and drain and buddy allocation */
	_Alignas(64) pthread_mutex_t zone_lock; /* buddy lists, nr_free */
	struct free_area free_area[MAX_ORDER];
	unsigned long lazy_end;       /* [zone_lock] frames [0, lazy_end): free blocks of
	                                 order MAX_ORDER-1 not yet on their list */

	/* the free counts: written when a cache publishes its count */
	_Alignas(64) _Atomic long nr_free; /* frames free: buddy lists (lazy blocks too) + isolated
	                                 + nr_pcp (the caches' published part: see
	                                 page_alloc.c, "Counting") */
	_Atomic long nr_pcp;

	_Alignas(64) pthread_mutex_t pcp_list_lock;  /* registry of per-thread caches */
	struct list_head pcp_list;

	struct {
		_Atomic unsigned long allocs, frees, failures, pcp_hits, reclaim_calls, kswapd_wakeups, oom;
	} stat;

	/* host memory (arena.c) */
	_Alignas(64) unsigned long *populated;     /* bit per ARENA_CHUNK_FRAMES chunk: present in the host */
	unsigned long *busy;          /* [populate_lock] bit per chunk: being populated or punched */
	unsigned long *zeroed;        /* bit per frame: not used since created or punched (reads zero) */
	unsigned long nr_chunks;
	pthread_mutex_t populate_lock;
	pthread_cond_t populate_done; /* [populate_lock] a chunk stopped being busy */
	struct populate_job jobs[ARENA_POPULATE_JOBS]; /* [populate_lock] */
	bool no_populate_write;       /* kernel lacks MADV_POPULATE_WRITE: use fallocate */
	_Atomic unsigned long populated_bytes, released_bytes;
	_Atomic unsigned long populate_ns; /* time spent bringing chunks in (cumulative) */
	_Atomic unsigned long ahead_bytes;  /* of populated_bytes, by the populate-ahead thread */
	/* an anonymous arena's cold huge pages (arena.c, anon_populate()) */
	_Atomic unsigned long small_left;   /* chunks still to bring in as 4 KiB host pages */
	_Atomic unsigned long thp_cold;     /* huge-page chunks that came in cold */
	_Atomic unsigned long small_chunks; /* chunks brought in as 4 KiB host pages */
	unsigned long *small;         /* bit per chunk: present as 4 KiB host pages (changed
	                                 only by the chunk's busy owner) */
	_Atomic long nr_small;        /* bits set in small */
	_Atomic unsigned long collapsed, collapse_failed, collapse_ns; /* khugepaged.c */
	_Atomic uint64_t last_populate_ns; /* when a host call last brought a chunk in */
	bool no_collapse;             /* the host refused MADV_COLLAPSE as unknown */
	struct kthread_lazy *_Atomic collapse_kt; /* the collapse thread, wanted when a
	                                 chunk comes in small (NULL: none) */
	struct khugepaged *khugepaged;
	uint64_t thp_cold_ns;         /* a huge-page chunk slower than this is cold
	                                 (ARENA_THP_COLD_NS; tests change it) */
	_Atomic unsigned long ahead_cpu_ns; /* that thread's CPU time (cumulative) */
	_Atomic int ahead_kick;       /* the allocator listed a new max-order block (see
	                                 populate_ahead.c); cleared by populate_ahead_kick() */
	struct populate_ahead *ahead; /* NULL: no populate-ahead thread */

	/* giving free blocks back (page_reporting.c) */
	uint64_t *free_since;         /* [zone_lock] per MAX_ORDER-1 block: ns it became free whole */
	long nr_isolated;             /* [zone_lock] free frames held out of the lists being punched */
	struct page_reporting *reporting; /* NULL: nothing is given back */
};

enum { WMARK_MIN, WMARK_LOW, WMARK_HIGH };

/* phys_params - zero fields mean defaults. */
struct phys_params {
	unsigned long wmark_min;      /* frames; default max(16, nr_frames/256) */
	unsigned int pcp_high;        /* default 64 */
	unsigned int pcp_batch;       /* default 16 */
	bool populate;                /* bring the whole arena in from the host at creation */
	bool anon;                    /* private anonymous arena (default: memfd) */
};

/* phys_create - map an arena of `bytes` (rounded down to frames, >= 1 MiB). 0 or -errno. */
int phys_create(size_t bytes, const struct phys_params *params, struct phys_mem **out);
/* phys_destroy - unmap everything; frames still allocated are simply lost. */
void phys_destroy(struct phys_mem *phys);

/*
 * Every metadata region starts at an address aligned to 2^PHYS_META_ALIGN_SHIFT
 * (it is carved out of a reserved PROT_NONE window twice that size), so
 * page_to_phys() is a mask.  This bounds one arena to 2^34 bytes of
 * descriptors, far beyond any arena we map.
 */
#define PHYS_META_ALIGN_SHIFT 34
static inline struct phys_mem *page_to_phys(const struct page *page)
{
	return (struct phys_mem *)((uintptr_t)page & ~(((uintptr_t)1 << PHYS_META_ALIGN_SHIFT) - 1));
}
static inline unsigned long page_to_pfn(const struct page *page)
{
	return (unsigned long)(page - page_to_phys(page)->pages);
}
static inline struct page *pfn_to_page(struct phys_mem *phys, unsigned long pfn)
{
	return &phys->pages[pfn];
}
static inline bool pfn_valid(struct phys_mem *phys, unsigned long pfn) { return pfn < phys->nr_frames; }
static inline void *page_address(const struct page *page)
{
	struct phys_mem *phys = page_to_phys(page);
	return (char *)phys->base + ((size_t)(page - phys->pages) << PAGE_SHIFT);
}
static inline void *pfn_to_virt(struct phys_mem *phys, unsigned long pfn)
{
	return (char *)phys->base + ((size_t)pfn << PAGE_SHIFT);
}
/*
 * arena_memfd / pfn_to_arena_offset - the memfd behind the frames (-1 for
 * an anonymous arena, which nothing can alias) and the offset of a frame
 * in it: what the host MMU (host_mmu.c) maps at a host address to alias a
 * frame.  No locks.
 */
static inline int arena_memfd(const struct phys_mem *phys) { return phys->memfd; }
static inline off_t pfn_to_arena_offset(unsigned long pfn) { return (off_t)pfn << PAGE_SHIFT; }
/* virt_to_page - descriptor of the frame holding arena address `p`. */
static inline struct page *virt_to_page(struct phys_mem *phys, const void *p)
{
	return &phys->pages[((uintptr_t)p - (uintptr_t)phys->base) >> PAGE_SHIFT];
}

/*
 * alloc_pages - allocate 2^order contiguous frames.  Returns the head page
 * with refcount 1 (other frames' descriptors have refcount 0), flags clear,
 * or NULL (out of memory, bad order, or injected failure).  Never crashes
 * on exhaustion.  May call the reclaim hook (see above).
 */
struct page *alloc_pages(struct phys_mem *phys, gfp_t gfp, unsigned int order);
static inline struct page *alloc_page(struct phys_mem *phys, gfp_t gfp) { return alloc_pages(phys, gfp, 0); }
/* free_pages - return a block to the allocator (refcount must already be 0 or 1). */
void free_pages(struct page *page, unsigned int order);
/*
 * split_page - turn a block of 2^order frames from alloc_pages() into as
 * many order-0 frames, each referenced once and freed on its own.
 */
void split_page(struct page *page, unsigned int order);
/* drain_all_pages - return every per-thread cache's frames to the buddy lists. */
void drain_all_pages(struct phys_mem *phys);
/* drain_idle_pages - return the frames of every cache unused since the previous call. */
void drain_idle_pages(struct phys_mem *phys);
/* drain_local_pages - return this thread's cache for `phys`. */
void drain_local_pages(struct phys_mem *phys);
void phys_get_stats(struct phys_mem *phys, struct phys_stats *st);
void phys_set_reclaim_hook(struct phys_mem *phys, reclaim_hook_t fn, void (*wakeup)(void *), void *arg);
/*
 * phys_set_release_hook - put_page() and release_pages() call fn(reclaim
 * arg, pages, nr) to take freed pages off the LRU.
 */
void phys_set_release_hook(struct phys_mem *phys, lru_release_fn fn);
/* zone_watermark_ok - would `nr` more frames leave at least watermark `mark` free? */
bool zone_watermark_ok(struct phys_mem *phys, int mark, unsigned long nr);
/*
 * reclaim_for - one direct reclaim call to make room for nr frames above
 * the low watermark (for a GFP_NORECLAIM allocation that should not
 * shrink); no allocator or page-table lock held.  Returns frames freed.
 */
unsigned long reclaim_for(struct phys_mem *phys, unsigned long nr);
/* phys_check - verify buddy lists and counters (expensive). 0 or -EUCLEAN. */
int phys_check(struct phys_mem *phys);

/*
 * Host memory (arena.c).  arena_prepare() is called by alloc_pages() for
 * every block it hands out, with no allocator lock held.
 */
int arena_create(unsigned long nr, size_t meta_bytes, bool anon, struct phys_mem **out);
void arena_destroy(struct phys_mem *phys);
void arena_populate_chunks(struct phys_mem *phys, unsigned long pfn, unsigned long nr);
int arena_populate_all(struct phys_mem *phys);
int arena_populate_ahead_chunk(struct phys_mem *phys, unsigned long c);
bool arena_chunk_present(struct phys_mem *phys, unsigned long c);
size_t arena_punch(struct phys_mem *phys, unsigned long pfn, unsigned long nr);
bool arena_range_present(struct phys_mem *phys, unsigned long pfn, unsigned long nr);
/*
 * For khugepaged.c: arena_next_small - the first chunk at or after `from`
 * present as 4 KiB host pages (nr_chunks: none); arena_collapse_chunk -
 * collapse one such chunk into a 2 MiB host page: 1 done, 0 nothing to do
 * (not small any more, or being populated or punched), -errno of
 * MADV_COLLAPSE (-EINVAL: the host has none; no_collapse is set).
 * Takes populate_lock, not across the host call.
 */
unsigned long arena_next_small(struct phys_mem *phys, unsigned long from);
/* arena_check - the chunk bitmaps' consistency (phys_check calls it): problems found. */
int arena_check(struct phys_mem *phys);
int arena_collapse_chunk(struct phys_mem *phys, unsigned long c);
/* arena_mono_ns - CLOCK_MONOTONIC in ns (the clock of last_populate_ns). */
uint64_t arena_mono_ns(void);
/* arena_thp_anon_at / arena_auto_anon - the kind UMM_ARENA_AUTO picks (true: anonymous). */
bool arena_thp_anon_at(const char *dir);
bool arena_auto_anon(void);
void arena_auto_reset(const char *dir, const char *overcommit);

/* arena_prepare - make sure frames [pfn, pfn+nr) are present in the host (fast: one bit test). */
static inline void arena_prepare(struct phys_mem *phys, unsigned long pfn, unsigned long nr)
{
	unsigned long c = pfn >> ARENA_CHUNK_ORDER;
	unsigned long w = __atomic_load_n(&phys->populated[c / (8 * sizeof(long))], __ATOMIC_ACQUIRE);

	if (likely((w >> (c % (8 * sizeof(long)))) & 1) && nr <= ARENA_CHUNK_FRAMES)
		return;
	arena_populate_chunks(phys, pfn, nr);
}

bool arena_take_zeroed_slow(struct phys_mem *phys, unsigned long pfn, unsigned long nr);

/*
 * arena_take_zeroed - frames [pfn, pfn+nr) are being handed out: forget
 * that they are zero.  Returns true if all of them were (never used since
 * the arena was created or their block was punched).  Called with no lock
 * by the allocating thread, which owns the frames.
 */
static inline bool arena_take_zeroed(struct phys_mem *phys, unsigned long pfn, unsigned long nr)
{
	unsigned long *w = &phys->zeroed[pfn / (8 * sizeof(long))];
	unsigned long bit = 1UL << (pfn % (8 * sizeof(long)));

	if (likely(nr == 1)) {
		if (likely(!(__atomic_load_n(w, __ATOMIC_RELAXED) & bit)))
			return false;
		__atomic_fetch_and(w, ~bit, __ATOMIC_RELAXED);
		return true;
	}
	return arena_take_zeroed_slow(phys, pfn, nr);
}

/*
 * Blocks of order MAX_ORDER-1 for page_reporting.c (zone lock taken inside).
 * isolate_idle_block - take a free block that has been free since before
 * `free_before` (arena_clock_ns() time) and whose frames are present in the
 * host out of the buddy lists; its frames stay counted free.  Returns its
 * first pfn, or -1 if there is none (or taking one would leave fewer than
 * wmark[HIGH] plus one block's frames allocatable).
 * putback_isolated_block - return it (at the tail: reused last).
 */
long isolate_idle_block(struct phys_mem *phys, uint64_t free_before);
void putback_isolated_block(struct phys_mem *phys, unsigned long pfn);
/* arena_clock_ns - the clock of free_since (CLOCK_MONOTONIC_COARSE, ns). */
uint64_t arena_clock_ns(void);

/*
 * page_reporting_start - start the thread that punches blocks free for
 * `delay_ms` back to the host (and marks their chunks absent).
 * page_reporting_stop - stop and join it (phys_destroy() calls it).
 * page_reporting_run - one synchronous pass with the given minimum age:
 * returns bytes released.  0 or -errno / no-op.
 */
int page_reporting_start(struct phys_mem *phys, unsigned long delay_ms);
void page_reporting_stop(struct phys_mem *phys);
size_t page_reporting_run(struct phys_mem *phys, uint64_t min_age_ns);

/*
 * phys_lazy_end - frames [0, lazy_end) are max-order blocks never handed
 * out yet; the allocator takes the highest of them next (zone lock taken).
 */
unsigned long phys_lazy_end(struct phys_mem *phys);

/*
 * The populate-ahead thread (populate_ahead.c): keeps the `window_frames`
 * frames the allocator will hand out next present in the host.
 * populate_ahead_start - set it up and ask for its thread (created
 * lazily, kthread.c): 0, -EINVAL, -EBUSY or -ENOMEM.
 * populate_ahead_stop - stop and join it (phys_destroy() calls it).
 * populate_ahead_kick - the allocator moved on: refill the window.
 * populate_ahead_wait_idle - wait until the thread has nothing to do
 * (tests, benchmarks).
 */
/*
 * The collapse thread (khugepaged.c): once no chunk has come in from the
 * host for `quiet_ms`, collapses the chunks of an anonymous arena that
 * came in as 4 KiB host pages into 2 MiB host pages.
 * khugepaged_start - set it up, created when a chunk first comes in small
 * (0, -EBUSY, -ENOMEM).  khugepaged_stop - stop and join it (phys_destroy()
 * calls it).  khugepaged_run - one synchronous pass that does not wait for
 * quiet: returns chunks collapsed (tests, callers that want it now).
 */
int khugepaged_start(struct phys_mem *phys, unsigned long quiet_ms);
void khugepaged_stop(struct phys_mem *phys);
unsigned long khugepaged_run(struct phys_mem *phys);

int populate_ahead_start(struct phys_mem *phys, unsigned long window_frames);
void populate_ahead_stop(struct phys_mem *phys);
void populate_ahead_kick(struct phys_mem *phys);
void populate_ahead_wait_idle(struct phys_mem *phys);

#endif /* UMM_PAGE_ALLOC_H */
