/* SPDX-License-Identifier: MIT */
/*
 * readahead.h - readahead of file pages: per-object stream state, the
 * fault-time entry point and explicit (asynchronous) readahead of a
 * range.  See readahead.c for the policy.
 */
#ifndef UMM_READAHEAD_H
#define UMM_READAHEAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "mm.h"
#include "page.h"
#include "system.h"

struct umm_object;
struct page;
struct io_tracker;

/* PG_readahead: read by readahead and not used since (see readahead.c). */
PAGEFLAG(Readahead, PG_readahead)

/*
 * page_readahead_used - an uptodate cached page is about to be used by a
 * path other than the fault (populate maps or copies it): if it was read
 * ahead and not used yet, count the hit.  No locks.
 */
static inline void page_readahead_used(struct umm_system *sys, struct page *page)
{
	if (PageReadahead(page) && TestClearPageReadahead(page))
		atomic_fetch_add(&sys->ra_hits, 1);
}

#define RA_STREAMS 4

/* One sequential stream through an object. */
struct ra_stream {
	uint64_t start;                  /* first page of the current window */
	unsigned int size;               /* pages in the window (0: no window yet) */
	uint64_t marker;                 /* page whose first use starts the next window */
	uint64_t next;                   /* page expected next (last miss + 1) */
	unsigned long used;              /* clock of the last use, for replacement */
	bool around;                     /* the window is a read-around block, not a stream's */
};

/* Readahead state of one object (in struct umm_object). */
struct file_ra_state {
	pthread_mutex_t lock;            /* streams, clock, evicted_seen, around_off */
	struct ra_stream streams[RA_STREAMS];
	unsigned long clock;
	_Atomic unsigned long evicted;   /* pages reclaim took out of the object's cache */
	unsigned long evicted_seen;      /* evicted when read-around last looked */
	unsigned int around_off;         /* misses left that read no block (reclaim evicts) */
};

/* Readahead hints of the mapping a fault comes through (from its VMA flags). */
#define RA_HINT_SEQ  1u                  /* MADV_SEQUENTIAL: read ahead aggressively */
#define RA_HINT_RAND 2u                  /* MADV_RANDOM: never read ahead */

/* vm_ra_hints - the readahead hints of a VMA's flags (its madvise state). */
static inline unsigned int vm_ra_hints(unsigned long vm_flags)
{
	return (vm_flags & VM_SEQ_READ ? RA_HINT_SEQ : 0) | (vm_flags & VM_RAND_READ ? RA_HINT_RAND : 0);
}

void file_ra_state_init(struct file_ra_state *ra);
void file_ra_state_destroy(struct file_ra_state *ra);

/*
 * filemap_fault_page - the page at @index for a fault through a mapping
 * of the object's pages [lo, hi), reading ahead as the object's streams
 * and @hints say, or around @index (the aligned block, inside [lo, hi)
 * and the object) on a miss outside any stream.  Returns 0 with *pagep
 * uptodate and referenced (not locked) and *major set when this fault had
 * to read its own page; -EIO (past end of object, or the read failed),
 * -ENOMEM, -EINVAL (@index outside [lo, hi), NULL args).
 */
int filemap_fault_page(struct umm_object *obj, uint64_t index, unsigned int hints,
		       uint64_t lo, uint64_t hi, struct page **pagep, bool *major);
/*
 * page_cache_ra_used - fault-around is about to map an uptodate cached
 * page through a mapping with @hints: count a read-ahead hit, and start a
 * stream's next window at its marker (see readahead.c).
 */
void page_cache_ra_used(struct umm_object *obj, struct page *page, unsigned int hints);
/*
 * force_page_cache_readahead - queue reads of the pages of
 * [first, first + nr) that are not cached (clamped to the object's size)
 * and return without waiting (MADV_WILLNEED); the pages are read-ahead
 * pages (PG_readahead, counted in ra_pages).  Objects that are not files
 * (shmem: nothing to wait for) are filled synchronously.  Best effort.
 * Returns the number of pages queued (or filled).
 */
long force_page_cache_readahead(struct umm_object *obj, uint64_t first, uint64_t nr);
/*
 * page_cache_read_async - as force_page_cache_readahead, and every page
 * queued is accounted to @tracker until its read completes (asynchronous
 * prepage).  Files only (0 for other objects).
 */
long page_cache_read_async(struct umm_object *obj, uint64_t first, uint64_t nr,
			   struct io_tracker *tracker);
/*
 * page_cache_read_range - read the uncached pages of [first, first + nr)
 * and wait for the reads (populate): the backend's parallel requests for
 * files, filemap_read_range for the rest.  The pages are not read-ahead
 * pages (the caller maps them at once).  Returns the pages read, or the
 * first error (-EIO, -ENOMEM).
 */
long page_cache_read_range(struct umm_object *obj, uint64_t first, uint64_t nr);

#endif
