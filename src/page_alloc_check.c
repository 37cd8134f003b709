/* SPDX-License-Identifier: MIT */
/*
 * page_alloc_check.c - phys_check(): the allocator's consistency check.
 *
 * Theory of operation
 *
 * With every lock of the allocator held, so that the picture is exact
 * even while other threads allocate, the check walks the buddy lists and
 * every per-thread cache, marks each free frame in a byte map (a frame
 * marked twice is free twice), then walks every descriptor: PG_buddy
 * must sit exactly on the heads of free blocks and on cached frames, and
 * no free frame may be referenced or mapped.  The never-listed blocks
 * below lazy_end and the frames isolated for page_reporting.c count as
 * free.  Finally nr_pcp must be the sum of the caches' published parts,
 * and nr_free the buddy lists' frames (with the isolated ones) plus
 * nr_pcp.  Then, with the allocator's locks dropped, the arena's chunk
 * bitmaps (arena_check()).  Problems are logged through pr_check (the
 * first 20).
 *
 * Locks, in the order taken: phys->pcp_list_lock -> every pcp->lock (in
 * registry order) -> phys->zone_lock (the order page_alloc.c documents).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "page_alloc.h"
#include "pcp.h"

enum { SEEN_ALLOCATED, SEEN_FREE_TAIL, SEEN_BUDDY_HEAD, SEEN_PCP };

struct check_state {
	struct phys_mem *phys;
	unsigned char *seen;            /* one SEEN_* per frame */
	int errors;
};

static void check_fail(struct check_state *cs, const char *what, unsigned long pfn, unsigned long v)
{
	if (cs->errors++ < 20)
		pr_check("phys_check: %s (pfn %lu, value %lu)", what, pfn, v);
}

/* check_mark - record frames [pfn, pfn+n) as free; complain about overlap. */
static void check_mark(struct check_state *cs, unsigned long pfn, unsigned long n, unsigned char head)
{
	unsigned long i;

	for (i = pfn; i < pfn + n; i++) {
		if (cs->seen[i]) {
			check_fail(cs, "frame free twice", i, 0);
			return;
		}
		cs->seen[i] = i == pfn ? head : SEEN_FREE_TAIL;
	}
}

/* check_descriptors - PG_buddy exactly on free heads; free frames unreferenced. */
static void check_descriptors(struct check_state *cs)
{
	struct phys_mem *phys = cs->phys;
	unsigned long pfn;

	for (pfn = 0; pfn < phys->nr_frames; pfn++) {
		struct page *page = &phys->pages[pfn];
		unsigned char seen = cs->seen[pfn];

		if (PageBuddy(page) != (seen == SEEN_BUDDY_HEAD || seen == SEEN_PCP))
			check_fail(cs, "PG_buddy on a frame that is not a free head", pfn, seen);
		if (seen != SEEN_ALLOCATED && (page_count(page) || page_mapcount(page)))
			check_fail(cs, "free frame referenced or mapped", pfn, (unsigned long)page_count(page));
	}
}

static long check_buddy_lists(struct check_state *cs)
{
	struct phys_mem *phys = cs->phys;
	long total = 0;
	unsigned int o;

	for (o = 0; o < MAX_ORDER; o++) {
		unsigned long count = 0;
		struct list_head *pos;

		list_for_each(pos, &phys->free_area[o].free_list) {
			struct page *page = list_entry(pos, struct page, lru);
			unsigned long pfn = page_to_pfn(page);

			if (++count > phys->nr_frames) {
				check_fail(cs, "free list loops", 0, o);
				return total;
			}
			if (pfn >= phys->nr_frames || pfn + (1UL << o) > phys->nr_frames) {
				check_fail(cs, "free block outside the arena", pfn, o);
				continue;
			}
			if (!PageBuddy(page) || page->order != o)
				check_fail(cs, "free block head without PG_buddy/order", pfn, page->order);
			if (pfn & ((1UL << o) - 1))
				check_fail(cs, "free block misaligned", pfn, o);
			if (page_count(page) != 0)
				check_fail(cs, "free block referenced", pfn, (unsigned long)page_count(page));
			check_mark(cs, pfn, 1UL << o, SEEN_BUDDY_HEAD);
			total += 1L << o;
		}
		if (o == MAX_ORDER - 1) {       /* never-listed blocks */
			count += phys->lazy_end >> o;
			total += (long)phys->lazy_end;
			check_mark(cs, 0, phys->lazy_end, SEEN_FREE_TAIL);
			if (phys->lazy_end & ((1UL << o) - 1))
				check_fail(cs, "lazy_end not block aligned", phys->lazy_end, o);
		}
		if (count != phys->free_area[o].nr_free)
			check_fail(cs, "free_area count mismatch", count, o);
	}
	return total;
}

/* check_pcp_lists - the caches' frames: returns how many, sets *published to their nr_pcp share. */
static long check_pcp_lists(struct check_state *cs, long *published)
{
	struct phys_mem *phys = cs->phys;
	struct per_thread_pages *pcp;
	long total = 0;

	*published = 0;
	list_for_each_entry(pcp, &phys->pcp_list, phys_link) {
		unsigned long count = 0;
		struct page *page;

		list_for_each_entry(page, &pcp->frames, lru) {
			unsigned long pfn = page_to_pfn(page);

			if (++count > phys->nr_frames || pfn >= phys->nr_frames) {
				check_fail(cs, "pcp list corrupt", pfn, count);
				return total;
			}
			if (!PageBuddy(page) || page->order != ORDER_PCP || page_count(page))
				check_fail(cs, "pcp frame in a bad state", pfn, page->order);
			check_mark(cs, pfn, 1, SEEN_PCP);
		}
		if (count != pcp->count)
			check_fail(cs, "pcp count mismatch", count, pcp->count);
		if (count > phys->pcp_high)
			check_fail(cs, "pcp above pcp_high", count, phys->pcp_high);
		if (pcp_drifted(pcp))
			check_fail(cs, "pcp count drifted from nr_pcp", pcp->count, pcp->synced);
		total += (long)count;
		*published += (long)pcp->synced;
	}
	return total;
}

/**
 * phys_check - verify the buddy lists, the per-thread caches and the counters.
 * @phys: the arena
 *
 * Takes pcp_list_lock, every cache lock (registry order) and the zone lock,
 * so it is exact even while other threads allocate.  Prints what is wrong.
 * Return: 0, -EUCLEAN on inconsistency, -ENOMEM if it cannot allocate its
 * bitmap.
 */
int phys_check(struct phys_mem *phys)
{
	struct check_state cs = { .phys = phys };
	struct per_thread_pages *pcp;
	long buddy, cached, published;

	cs.seen = calloc(phys->nr_frames, 1);
	if (!cs.seen)
		return -ENOMEM;
	pthread_mutex_lock(&phys->pcp_list_lock);
	list_for_each_entry(pcp, &phys->pcp_list, phys_link)
		pcp_lock(pcp);
	pthread_mutex_lock(&phys->zone_lock);

	buddy = check_buddy_lists(&cs);
	cached = check_pcp_lists(&cs, &published);
	check_descriptors(&cs);
	if (published != atomic_load(&phys->nr_pcp))
		check_fail(&cs, "nr_pcp mismatch", (unsigned long)published,
			   (unsigned long)atomic_load(&phys->nr_pcp));
	(void)cached;   /* differs from published by less than PCP_SYNC_DRIFT per cache (checked) */
	if (buddy + published + phys->nr_isolated != atomic_load(&phys->nr_free))
		check_fail(&cs, "nr_free mismatch", (unsigned long)(buddy + published + phys->nr_isolated),
			   (unsigned long)atomic_load(&phys->nr_free));

	pthread_mutex_unlock(&phys->zone_lock);
	list_for_each_entry(pcp, &phys->pcp_list, phys_link)
		pcp_unlock(pcp);
	pthread_mutex_unlock(&phys->pcp_list_lock);
	free(cs.seen);
	/* the arena's chunk bitmaps, under populate_lock, which nests with no allocator lock */
	cs.errors += arena_check(phys);
	return cs.errors ? -EUCLEAN : 0;
}
