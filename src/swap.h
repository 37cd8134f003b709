/* SPDX-License-Identifier: MIT */
/*
 * swap.h - swap entries, the swap device and the swap cache, as reclaim
 * and the fault path use them.  The implementation lives in swapfile.c
 * (device, slot allocator, slot reference counts, backend table) and
 * swap_state.c (swap cache, swap-out, swap-in and its readahead); the
 * stores behind the device are in swap_backend.h.
 *
 * A swap entry names one slot of the system's swap device.  A pte of an
 * evicted anonymous page holds it (pgtable.h: PTE_SWP, offset in bits
 * 63..12); a shmem object holds it at the page's index in place of the
 * page (shmem.c).  Each holder counts one reference on the slot
 * (swap_duplicate on fork and when try_to_unmap writes a swap pte,
 * swap_free on zap/munmap/exit/truncate and swap-in); the slot is
 * released when the last holder lets go and no swap-cache page uses it.
 *
 * The swap cache maps an entry to the page that holds its contents while
 * the page is in memory (being swapped out, or swapped in while other
 * holders still name the slot): a page shared by several address spaces
 * after fork is read once and stays shared.  A page in the swap cache has
 * PG_swapcache set, page->private = the entry, and the cache holds one
 * reference on it.  Shmem pages do not use the swap cache: their object
 * swaps them out and in itself (shmem.c), with the slot allocator and the
 * swap I/O below.
 */
#ifndef UMM_SWAP_H
#define UMM_SWAP_H

#include <stdbool.h>
#include <stdint.h>
#include "pgtable.h"

struct page;
struct umm_system;
struct umm_object;

typedef struct { uint64_t val; } swp_entry_t;   /* slot number; val 0 is never a valid slot */

static inline pte_t swp_entry_to_pte(swp_entry_t e) { return ((pte_t)e.val << PAGE_SHIFT) | PTE_SWP; }
static inline swp_entry_t pte_to_swp_entry(pte_t p) { return (swp_entry_t){ p >> PAGE_SHIFT }; }

/*
 * add_to_swap - give a locked anonymous page (not yet in the swap cache)
 * a slot and put it in the swap cache, dirty (and uptodate).  The slot
 * allocator keeps the slots of consecutive calls of a thread consecutive
 * where it can.  No page-table lock held.  0, or -ENOSPC when there is no
 * swap device or it is full; -ENOMEM (a radix-tree node); -EINVAL for a
 * page that is not anonymous.  A private copy's origin record
 * (page->private in a nonlinear window, memory.c) moves to the slot while
 * the page is cached, and back when it leaves the cache.
 */
int add_to_swap(struct page *page);

/*
 * swap_writepage - write a locked swap-cache page to its slot (the
 * backend write; the page's PG_dirty is cleared before the write and set
 * again if it fails).  0, or a negative errno: the page then stays in
 * memory, dirty, in the swap cache.
 */
int swap_writepage(struct page *page);

/*
 * delete_from_swap_cache - take a locked, clean swap-cache page out of
 * the cache (drops the cache's reference and PG_swapcache; the slot
 * keeps the references of the ptes or objects that hold the entry, and
 * is freed if there are none).  The caller holds a reference of its own.
 */
void delete_from_swap_cache(struct page *page);

/* swap_duplicate - one more holder of entry (fork copies a swap pte).  0, -ENOMEM, or -EINVAL (not a live entry). */
int swap_duplicate(struct umm_system *sys, swp_entry_t entry);
/* swap_free - a holder let go of entry (zap, truncate of shmem). */
void swap_free(struct umm_system *sys, swp_entry_t entry);

/* nr_swap_pages_free - free slots (0 when there is no swap device). */
uint64_t nr_swap_pages_free(struct umm_system *sys);

/* ---- extensions (swap lane): device, counts, cache, I/O ---- */

/* Slots per cluster: consecutive evictions of one thread fill one cluster. */
#define SWAPFILE_CLUSTER 64
/* Slots read around a faulting entry (aligned window), when in use. */
#define SWAP_RA_PAGES 8

/*
 * swap_system_init - open or create the swap device of sys->cfg
 * (swap_path, swap_bytes; nothing to do when swap_path is NULL).  The
 * backend is chosen by the target's prefix (swapfile.c's table; a plain
 * path is a file).  0, -EINVAL (size below SWAP_MIN_BYTES, not
 * page-aligned, or a target no backend accepts), the backend's open
 * errno, -ENOMEM.  No locks.
 */
int swap_system_init(struct umm_system *sys);
/*
 * swap_system_destroy - drop what the swap cache still holds and close
 * the device.  The system is quiescent (no mm, no object).  No locks.
 */
void swap_system_destroy(struct umm_system *sys);
/* The smallest swap device: the reserved slot 0 and one cluster. */
#define SWAP_MIN_BYTES ((SWAPFILE_CLUSTER + 1) * 4096UL)

/* swap_enabled - does the system have a swap device?  No locks. */
bool swap_enabled(const struct umm_system *sys);
/* swap_entry_valid - does entry name a slot of the device?  No locks. */
bool swap_entry_valid(const struct umm_system *sys, swp_entry_t entry);
/*
 * get_swap_page - a free slot for one page, marked as used by the swap
 * cache (no holder yet).  Consecutive calls of one thread get consecutive
 * slots of its current cluster.  Any locks (takes the device's allocator
 * lock, a leaf).  0 with *entry set, or -ENOSPC (no device, or full:
 * counted as a swap-full event).
 */
int get_swap_page(struct umm_system *sys, swp_entry_t *entry);
/*
 * swap_origin - the origin record kept with entry's slot (0: none).
 * swap_page_origin - an anon page's origin record wherever it is kept
 * (page->private, or its slot while the page is in the swap cache).
 * No locks.
 */
unsigned long swap_origin(struct umm_system *sys, swp_entry_t entry);
unsigned long swap_page_origin(const struct page *page);
/* swap_count - holders of entry (the swap cache not counted).  No locks. */
unsigned int swap_count(struct umm_system *sys, swp_entry_t entry);
/*
 * swapcache_prepare - claim entry for the swap cache: 0, -EEXIST (already
 * cached or claimed), -ENOENT (no holder: the slot was freed).  Atomic.
 */
int swapcache_prepare(struct umm_system *sys, swp_entry_t entry);
/* swapcache_clear - the swap cache gave entry up: released if no holder.  Any locks. */
void swapcache_clear(struct umm_system *sys, swp_entry_t entry);

/*
 * swap_readpages - read nr consecutive slots from entry on into the
 * pages' frames (backend read, with failure injection at
 * UMM_INJECT_SWAP_READ).  No usermm lock but the pages' own.  0 or -EIO.
 */
int swap_readpages(struct umm_system *sys, swp_entry_t entry, struct page **pages, unsigned int nr);
/*
 * swap_write_slots - write nr pages to slots [entry, entry + nr) (backend
 * write, with failure injection at UMM_INJECT_SWAP_WRITE; PG_dirty is
 * the caller's business).  No usermm lock but the pages' own.  0 or a
 * negative errno (counted).
 */
int swap_write_slots(struct umm_system *sys, swp_entry_t entry, struct page **pages, unsigned int nr);
/*
 * swap_writepages - swap_writepage for nr locked swap-cache pages of
 * consecutive entries (pages[0]'s first), in one backend write.  0 or a
 * negative errno, all pages then staying dirty.
 */
int swap_writepages(struct page **pages, unsigned int nr);

/* lookup_swap_cache - the page caching entry, with a reference, or NULL.  Takes the cache lock (leaf). */
struct page *lookup_swap_cache(struct umm_system *sys, swp_entry_t entry);
/*
 * add_to_swap_cache - put a locked page in the swap cache at entry,
 * which the caller claimed with swapcache_prepare or get_swap_page
 * (the cache takes a reference).  0 or -ENOMEM (nothing changed).
 */
int add_to_swap_cache(struct page *page, swp_entry_t entry);
/*
 * free_swap_cache - if the locked swap-cache page is unmapped or its
 * entry has no holder left, no one needs the cache to find it: take it
 * out (the page stays the mapping's only copy, dirty).  Any locks.
 */
void free_swap_cache(struct page *page);
/*
 * try_free_swap_cache_entry - the last holder of entry went while a page
 * still caches it: take the page out of the cache if its lock can be had
 * without waiting (else whoever holds it does, or reclaim later).  Any
 * locks (called by swap_free under a pte table lock).
 */
void try_free_swap_cache_entry(struct umm_system *sys, swp_entry_t entry);

/*
 * swapin_readahead - the page for entry, from the swap cache or read
 * from the device together with the in-use slots of its SWAP_RA_PAGES
 * window that are not cached (one backend read per run).  No page-table
 * lock held.  Returns 0 with *pagep referenced (not locked; uptodate
 * unless its read failed: check under the page lock), *major set when
 * this call read it; -ENOENT when the slot has no holder any more (the
 * caller's pte changed); -ENOMEM.
 */
int swapin_readahead(struct umm_system *sys, swp_entry_t entry, struct page **pagep, bool *major);

/*
 * swap_out_page - evict one page to swap exactly as reclaim does: an
 * anonymous page is locked, given a slot (add_to_swap), unmapped
 * everywhere with its ptes becoming the swap entry (try_to_unmap),
 * written if dirty (swap_writepage) and taken out of the swap cache
 * (delete_from_swap_cache); a shmem page goes to swap through its object
 * (shmem_swapout).  The caller holds a reference (kept) and no lock.
 * 0 when the page left memory (the caller's reference may be the last),
 * -ENOSPC (no swap, or full; nothing changed), -EBUSY (pinned, mlocked,
 * a busy table lock, or referenced elsewhere: the page stays usable; an
 * anon page may stay in the swap cache with some ptes swapped, which
 * faults resolve from the cache), -EIO (the write failed: the page stays
 * in memory, dirty), -EINVAL (not an anon or shmem page).
 */
int swap_out_page(struct page *page);

/* Pages one swap_out_pages call takes. */
#define SWAP_OUT_BATCH 64
/*
 * swap_out_pages - swap_out_page for nr <= SWAP_OUT_BATCH pages at once,
 * so that the slots of the anonymous ones are consecutive and written
 * with one backend write per run: pages are trylocked (busy: -EBUSY),
 * unmapped, written, and leave the swap cache.  The caller holds a
 * reference on each page and no lock.  results[i] gets page i's result
 * (as swap_out_page's).  Returns the number of pages that left memory.
 */
unsigned int swap_out_pages(struct page **pages, unsigned int nr, int *results);
/*
 * swap_out_locked_pages - the second half of swap_out_pages, for a caller
 * that did the first half itself (reclaim, vmscan.c: its pages are
 * isolated from the LRU and already locked, and it tells pinned from busy
 * pages before this point): nr <= SWAP_OUT_BATCH locked anonymous pages,
 * each in the swap cache and unmapped (add_to_swap, try_to_unmap), each
 * with one reference of the caller's besides the cache's.  The dirty ones
 * are written, one backend write per run of consecutive slots.
 * results[i]: 0 (the page left the swap cache: the caller's reference is
 * the last), -EIO (the write failed: the page stays in memory, dirty, in
 * the cache, where its swap ptes find it), -EBUSY (written, but someone
 * else holds it: it stays cached).  Every page is unlocked on return.
 * Returns the number of 0 results.
 */
unsigned int swap_out_locked_pages(struct page **pages, unsigned int nr, int *results);

/*
 * shmem_swapout - the shmem half of swap_out_page: a locked shmem
 * page-cache page leaves the cache for a slot recorded in the object.
 * shmem.c.  0, -ENOSPC, -EBUSY, -EIO, -ENOMEM.
 */
int shmem_swapout(struct page *page);
/*
 * swap_hold_shmem - a shmem object becomes the one holder of entry (from
 * get_swap_page, still claimed by the cache): swap-in read-ahead of
 * anonymous pages skips its slot.  swap_free_shmem - it lets go (as
 * swap_free).  Atomic; any locks.
 */
void swap_hold_shmem(struct umm_system *sys, swp_entry_t entry);
void swap_free_shmem(struct umm_system *sys, swp_entry_t entry);
/* swap_readahead_ok - is entry held, not by shmem, and not cached (a hint)?  No locks. */
bool swap_readahead_ok(struct umm_system *sys, swp_entry_t entry);
/* shmem_nr_swapped - pages of obj that are in swap.  Takes tree_lock (read). */
unsigned long shmem_nr_swapped(struct umm_object *obj);

/* swap statistics (umm_system_stats; swap_get_stats takes si->lock). */
struct swap_stats {
	unsigned long total, used;        /* slots (slot 0 excluded) */
	unsigned long pswpin, pswpout;    /* pages read, written */
	unsigned long cache_hits;         /* swap-ins served from the swap cache */
	unsigned long read_errors, write_errors, full;
	unsigned long read_requests, write_requests;   /* backend calls */
	unsigned long cache_pages;        /* pages in the swap cache */
	unsigned long shmem_pages;        /* slots held by shmem objects */
	/* a Redis device (swap_redis.h; 0 for others) */
	unsigned long remote_pages, remote_bytes, remote_requests, remote_errors;
	unsigned long remote_lost, remote_corrupt, remote_read_p50_ns, remote_read_p99_ns;
};
void swap_get_stats(struct umm_system *sys, struct swap_stats *st);
/* swap_nr_slots - slots of the device, slot 0 included (0 without swap).  No locks. */
uint64_t swap_nr_slots(const struct umm_system *sys);
/* swap_check - slot counts against the holders the caller counted (mm_check.c).  Errors found. */
int swap_check(struct umm_system *sys, const unsigned int *pte_holders);

#endif
