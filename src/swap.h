/* SPDX-License-Identifier: MIT */
/*
 * swap.h - swap entries, the swap device and the swap cache, as reclaim
 * and the fault path use them.  (Interface agreed before the code: the
 * implementation lives in swapfile.c (device, slot allocator, slot
 * reference counts) and swap_state.c (swap cache, swap-in and its
 * readahead); the stores behind the device are in swap_backend.h.)
 *
 * A swap entry names one slot of the system's swap device.  A pte of an
 * evicted anonymous page holds it (pgtable.h: PTE_SWP, offset in bits
 * 63..12); a shmem object holds it at the page's index in place of the
 * page.  Each holder counts one reference on the slot (swap_duplicate on
 * fork, swap_free on zap/munmap/exit/truncate); the slot is released when
 * the last holder lets go and no swap-cache page uses it.
 *
 * The swap cache maps an entry to the page that holds its contents while
 * the page is in memory (being swapped out, or swapped in and not yet
 * freed): a page shared by several address spaces after fork is read
 * once and stays shared.  A page in the swap cache has PG_swapcache set,
 * page->private = the entry, and the cache holds one reference on it.
 */
#ifndef UMM_SWAP_H
#define UMM_SWAP_H

#include <stdbool.h>
#include <stdint.h>
#include "pgtable.h"

struct page;
struct umm_system;

typedef struct { uint64_t val; } swp_entry_t;   /* slot number; val 0 is never a valid slot */

static inline pte_t swp_entry_to_pte(swp_entry_t e) { return ((pte_t)e.val << PAGE_SHIFT) | PTE_SWP; }
static inline swp_entry_t pte_to_swp_entry(pte_t p) { return (swp_entry_t){ p >> PAGE_SHIFT }; }

/*
 * add_to_swap - give a locked anonymous page (not yet in the swap cache)
 * a slot and put it in the swap cache, dirty.  The slot allocator keeps
 * the slots of consecutive calls consecutive where it can.  No page-table
 * lock held.  0, or -ENOSPC when there is no swap device or it is full.
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
 * keeps the references of the ptes or objects that hold the entry).
 */
void delete_from_swap_cache(struct page *page);

/* swap_duplicate - one more holder of entry (fork copies a swap pte).  0 or -ENOMEM. */
int swap_duplicate(struct umm_system *sys, swp_entry_t entry);
/* swap_free - a holder let go of entry (zap, truncate of shmem). */
void swap_free(struct umm_system *sys, swp_entry_t entry);

/* nr_swap_pages_free - free slots (0 when there is no swap device). */
uint64_t nr_swap_pages_free(struct umm_system *sys);

#endif
