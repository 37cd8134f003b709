/* SPDX-License-Identifier: MIT */
/*
 * readahead.c - reading file pages before they are needed: the policy
 * for faults (read-around of a random miss, sequential streams, growing
 * windows, an asynchronous marker) and explicit readahead of a range
 * (MADV_WILLNEED, asynchronous prepage).  The reads themselves go through
 * the system's I/O backend (io.c): each run of consecutive uncached pages
 * becomes requests of at most RA_REQ_PAGES pages, submitted in batches,
 * which the backend runs in parallel (a 512 KiB window is four 128 KiB
 * reads in flight at once); a read-around block is one request read in
 * the faulting thread (io_read_sync), which waits for its page anyway.
 *
 * Frames.  The new pages of a range get their frames from one free buddy
 * block per RA_CONTIG_PAGES-aligned piece of the range, split into pages
 * (split_page), frame k for the piece's page k: consecutive file pages
 * then have frames that follow each other in the arena, and the host MMU
 * maps a whole block of a linear mapping with one mmap (its fault-around
 * joins neighbours whose frames follow the faulting page's).  Frames of
 * the block whose page was cached already go back to the allocator.  No
 * reclaim for the block: without a free one, or when taking it would
 * leave less than the high watermark free, frames come one at a time.
 *
 * State is per object, not per VMA: the page cache the windows fill is
 * the object's, every mapping of it (other VMAs, other address spaces,
 * fork children) shares what was read, and the state survives VMA
 * splits, merges and mremap without any hook in the VMA code.  To keep
 * several readers of one object (two threads each scanning their own
 * part, a fork child) from breaking each other's streams, an object keeps
 * RA_STREAMS streams, matched by position and replaced least recently
 * used first.
 *
 * A stream:
 *   start, size   the window last read ahead: pages [start, start + size)
 *   marker        a fault on a page of the window at or past it, the
 *                 first time that page is used, reads the next window
 *                 asynchronously: the window after [start, start + size)
 *                 at four times the size while it is below a sixteenth
 *                 of the maximum, then twice (up to the maximum; at the
 *                 maximum at once for a sequential hint), with the marker
 *                 at its first page.  So a reader entering a window
 *                 starts reading the next one and, once the windows are
 *                 large enough, never waits for I/O.
 *   next          the page after the last miss, to notice a stream
 *                 whose pages are all misses (a second consecutive miss
 *                 starts a window).
 *   around        the window is a read-around block: its marker is the
 *                 first page of its last quarter, a miss just past it
 *                 (not inside it) goes on as a stream, and fault-around
 *                 mapping its marker page starts nothing (a random
 *                 reader's faults map whole blocks).
 *
 * Faults (filemap_fault_page):
 *   hit on a page with PG_readahead  a readahead hit: clear the flag;
 *                 if it is at or past its stream's marker, read the next
 *                 window (unless MADV_RANDOM); count the hit once the
 *                 page is uptodate.
 *   miss, MADV_RANDOM   read just the page, synchronously.
 *   miss inside or just past a stream's window  the reader caught up:
 *                 a window of the grown size from the missing page.
 *   miss right after the previous miss, or MADV_SEQUENTIAL  a new
 *                 stream: a first window of RA_INIT_PAGES (MADV_SEQUENTIAL:
 *                 the maximum, and every later window too).
 *   any other miss  read around: the aligned block of RA_AROUND_PAGES
 *                 (at most the maximum window) holding the page, clipped
 *                 to the pages the mapping covers and to the object's
 *                 size, as Linux's read-around of an mmap fault; in a
 *                 nonlinear window just the page (its neighbours map
 *                 unrelated pages).  While reclaim evicts the object's
 *                 pages, read-around backs off (ra_around_backoff).
 * A window that holds the faulting page is read in the same request as
 * that page, and the fault then waits for its page's lock; it counts as
 * major.  A fault that finds its page under readahead I/O waits too but
 * counts as minor (it did not start the read), as in Linux.
 *
 * Fault-around (populate without I/O, for the host MMU) maps cached pages
 * without faults on them: page_cache_ra_used counts its read-ahead hits
 * and, when it maps a stream's marker page, starts the next window as a
 * fault on that page would.
 *
 * PG_readahead marks a page read by readahead and not used since.  Each
 * such page is counted exactly once: as a hit when the first fault on it
 * (which clears the flag) finds it uptodate; as wasted when it leaves the
 * cache unused (filemap.c, with the flag still set; or under the fault
 * that cleared it, truncated before its read completed); as an I/O error
 * when its read fails (io.c).  The page a fault asked for is not marked.
 *
 * A window a miss reads is shrunk by halves (around the faulting page)
 * until it fits above the low watermark (a stream's: its pages are about
 * to be used) or the high one (a read-around block), down to just the
 * faulting page (ra_fit); every fault-time window allocates with
 * GFP_NORECLAIM: it takes free frames only, and stops at the first one it
 * cannot get (the pages already queued are read).  An asynchronous window
 * (the reader is using its stream's pages) that does not fit above the
 * low watermark first gets room from one direct reclaim call
 * (reclaim_for), as the kernel's readahead allocations may reclaim, and
 * is read if it then fits: with memory full of pages read before and
 * kswapd keeping free frames just above the low watermark, skipping it
 * left every window to a synchronous miss (bench_reclaim's sequential
 * reads of a file 4x memory: 3,500 major faults in 65,536 reads, against
 * 90 with the reclaim).  Explicit readahead (MADV_WILLNEED, prepage, populate) asks like
 * any allocation.  Only page_cache_read_range and read-around wait for
 * I/O.
 *
 * Locks: ra->lock is a leaf, held only to choose a window (never across
 * allocation, page locks or submission).  Building a request takes the
 * new pages' locks (they cannot wait: nobody else can see the pages yet)
 * and tree_lock; a read-around request is read holding only its own
 * pages' locks.  Callers hold mmap_lock (a fault, populate) or nothing.
 */
#include <errno.h>
#include <string.h>
#include "readahead.h"
#include "filemap.h"
#include "io.h"

#define RA_INIT_PAGES 4U
/* The read-around block of a fault that is not part of a stream (at most the maximum window). */
#define RA_AROUND_PAGES 32U
/* Misses that read no block after reclaim evicted pages of the object (ra_around_backoff). */
#define RA_AROUND_BACKOFF 64U
/* Pages per request: a window becomes several requests the backend runs in parallel. */
#define RA_REQ_PAGES 32
#define RA_SUBMIT_BATCH 32      /* requests queued before a batch is submitted */
/* Frames taken as one block: the host MMU's fault-around block, at most 64 (a mask). */
#define RA_CONTIG_PAGES 64

/** file_ra_state_init - no stream yet. */
void file_ra_state_init(struct file_ra_state *ra)
{
	memset(ra->streams, 0, sizeof(ra->streams));
	ra->clock = 0;
	atomic_init(&ra->evicted, 0);
	ra->evicted_seen = 0;
	ra->around_off = 0;
	pthread_mutex_init(&ra->lock, NULL);
}

/** file_ra_state_destroy - free what init set up. */
void file_ra_state_destroy(struct file_ra_state *ra)
{
	pthread_mutex_destroy(&ra->lock);
}

static unsigned int ra_max_pages(const struct umm_object *obj)
{
	return (unsigned int)(obj->sys->cfg.readahead_max_bytes >> PAGE_SHIFT);
}

/* The window after one of @size pages. */
static unsigned int ra_next_size(unsigned int size, unsigned int max, unsigned int hints)
{
	if (hints & RA_HINT_SEQ)
		return max;
	return MIN(size < max / 16 ? size * 4 : size * 2, max);
}

/* ---- building and submitting requests ---- */

struct ra_batch {
	struct umm_object *obj;
	struct io_tracker *tracker;
	struct io_request *list, **tail;
	unsigned int nr_reqs;
	struct page *run[RA_REQ_PAGES];  /* consecutive locked new pages, not yet a request */
	unsigned int run_n;
	unsigned long queued;            /* pages in submitted or listed requests */
	uint64_t demand;                 /* page a fault waits for (not PG_readahead), or UINT64_MAX */
	bool demand_queued;
	bool mark;                       /* the others are read-ahead pages (PG_readahead) */
	gfp_t gfp;                       /* for the pages other than the demanded one */
	struct page *frames;             /* split block: frame k for page frames_first + k */
	uint64_t frames_first;
	unsigned int frames_n;
	uint64_t frames_used;            /* bit k: frame k went into the cache */
	bool no_contig;                  /* no free block: frames one at a time */
	bool sync;                       /* read in this thread (io_read_sync), not the backend */
};

/* Give up on the pages of the run: they leave the cache unread (no I/O was started). */
static void ra_drop_run(struct ra_batch *b)
{
	unsigned long ahead = 0;

	for (unsigned int i = 0; i < b->run_n; i++) {
		struct page *page = b->run[i];

		if (b->mark && page->index != b->demand)
			ahead++;
		delete_from_page_cache(page);      /* counts it wasted (or a waiter does) */
		unlock_page(page);
		put_page(page);
	}
	atomic_fetch_add(&b->obj->sys->ra_pages, ahead);
	b->run_n = 0;
}

static void ra_submit_list(struct ra_batch *b)
{
	if (b->sync)
		io_read_sync(b->obj->sys, b->list);
	else
		io_submit_reads(b->obj->sys, b->list);
	b->list = NULL;
	b->tail = &b->list;
	b->nr_reqs = 0;
}

/* Turn the run into a request on the batch's list (submitting a full batch). */
static void ra_close_run(struct ra_batch *b)
{
	struct umm_system *sys = b->obj->sys;
	struct io_request *req;
	unsigned int ahead = 0;

	if (!b->run_n)
		return;
	req = io_request_alloc(sys, b->obj, b->run[0]->index, b->run_n);
	if (!req) {
		ra_drop_run(b);
		return;
	}
	for (unsigned int i = 0; i < b->run_n; i++) {
		req->pages[i] = b->run[i];
		if (b->run[i]->index == b->demand)
			b->demand_queued = true;
		else if (b->mark)
			ahead++;
	}
	if (b->tracker) {
		io_tracker_get(b->tracker);
		io_tracker_add(b->tracker, b->run_n);
		req->tracker = b->tracker;
	}
	atomic_fetch_add(&sys->ra_pages, ahead);
	b->queued += b->run_n;
	b->run_n = 0;
	*b->tail = req;
	b->tail = &req->next;
	if (++b->nr_reqs == RA_SUBMIT_BATCH)
		ra_submit_list(b);
}

/*
 * A new locked page at @index in the cache, or NULL: already cached
 * (*nomem false) or no frame (*nomem true).
 */
static struct page *ra_add_page(struct ra_batch *b, uint64_t index, bool *nomem)
{
	struct umm_object *obj = b->obj;
	bool demand = index == b->demand;
	struct page *page;
	int err;

	*nomem = false;
	page = find_get_page(obj, index);
	if (page) {
		put_page(page);
		return NULL;
	}
	if (b->frames && index >= b->frames_first && index - b->frames_first < b->frames_n) {
		unsigned int k = (unsigned int)(index - b->frames_first);

		page = b->frames + k;
		lock_page(page);
		err = add_to_page_cache(page, obj, index);
		if (err) {
			unlock_page(page);
			return NULL;    /* cached meanwhile: the frame is freed with the unused ones */
		}
		b->frames_used |= 1ULL << k;
	} else {
		err = page_cache_alloc_add(obj, index, demand ? GFP_KERNEL : b->gfp, &page);
	}
	if (err) {
		*nomem = err == -ENOMEM;
		return NULL;
	}
	ClearPageError(page);
	if (!demand && b->mark)
		SetPageReadahead(page);
	return page;
}

/* Give the frames of the batch's block that did not go into the cache back. */
static void ra_put_frames(struct ra_batch *b)
{
	for (unsigned int k = 0; k < b->frames_n; k++)
		if (!(b->frames_used & (1ULL << k)))
			put_page(b->frames + k);
	b->frames = NULL;
	b->frames_n = 0;
	b->frames_used = 0;
}

/*
 * ra_get_frames - frames for the pages of [index, end) up to the next
 * RA_CONTIG_PAGES boundary, from one free buddy block split into pages, so
 * that consecutive file pages get frames that follow each other in the
 * arena and the host MMU maps them with one mmap.  No reclaim for it: when
 * there is no such free block, or taking one would go below the high
 * watermark, the batch goes on a frame at a time (and stops trying).
 */
static void ra_get_frames(struct ra_batch *b, uint64_t index, uint64_t end)
{
	uint64_t stop = MIN(ALIGN_DOWN(index, RA_CONTIG_PAGES) + RA_CONTIG_PAGES, end);
	unsigned int n = (unsigned int)(stop - index), order = 0;
	struct page *block;

	ra_put_frames(b);
	if (n < 2)
		return;
	while ((1u << order) < n)
		order++;
	/* not when memory is short: a failed attempt drains every thread's frame cache */
	if (!zone_watermark_ok(b->obj->sys->phys, WMARK_HIGH, 1ul << order)) {
		b->no_contig = true;
		return;
	}
	block = alloc_pages(b->obj->sys->phys, GFP_NORECLAIM | GFP_NOWARN, order);
	if (!block) {
		b->no_contig = true;
		return;
	}
	split_page(block, order);
	b->frames = block;
	b->frames_first = index;
	b->frames_n = n;
	b->frames_used = 0;
	for (unsigned int k = n; k < (1u << order); k++)
		put_page(block + k);            /* the block's tail past the run */
}

/*
 * Queue reads of the uncached pages of [start, start + nr), clamped to the
 * object's size, in runs of consecutive pages.  Returns the pages queued.
 */
static unsigned long ra_read_range(struct ra_batch *b, uint64_t start, uint64_t nr)
{
	uint64_t end = object_size_pages(b->obj);

	if (start < end && nr < end - start)
		end = start + nr;
	b->tail = &b->list;
	for (uint64_t index = start; index < end; index++) {
		bool nomem;
		struct page *page;

		if (!b->no_contig && (!b->frames || index - b->frames_first >= b->frames_n))
			ra_get_frames(b, index, end);
		page = ra_add_page(b, index, &nomem);
		if (!page) {
			ra_close_run(b);
			if (nomem && index != b->demand)
				break;
			continue;
		}
		b->run[b->run_n++] = page;
		if (b->run_n == RA_REQ_PAGES)
			ra_close_run(b);
	}
	ra_close_run(b);
	ra_put_frames(b);
	if (b->list)
		ra_submit_list(b);
	return b->queued;
}

/* Can @obj's pages be read through the asynchronous backend? */
static bool ra_async_capable(const struct umm_object *obj)
{
	return obj->type == OBJ_FILE && obj->sys->io;
}

static long ra_read_explicit(struct umm_object *obj, uint64_t first, uint64_t nr,
			     struct io_tracker *tracker, bool mark)
{
	struct ra_batch b = {
		.obj = obj, .tracker = tracker, .demand = UINT64_MAX,
		.mark = mark, .gfp = GFP_KERNEL,
	};

	return (long)ra_read_range(&b, first, nr);
}

/**
 * force_page_cache_readahead - queue reads of the uncached pages of
 * [@first, @first + @nr) and return without waiting (see readahead.h).
 * Takes tree_lock and the new pages' locks; holds nothing on return.
 * Return: pages queued (filled, for objects that are not files), >= 0.
 */
long force_page_cache_readahead(struct umm_object *obj, uint64_t first, uint64_t nr)
{
	long n;

	if (!obj || !nr)
		return 0;
	if (ra_async_capable(obj))
		return ra_read_explicit(obj, first, nr, NULL, true);
	n = filemap_read_range(obj, first, nr);
	return n > 0 ? n : 0;
}

/**
 * page_cache_read_async - force_page_cache_readahead of a file whose
 * pages are accounted to @tracker (may be NULL) until their reads
 * complete.  Same locks.
 * Return: pages queued (0 for objects that are not files).
 */
long page_cache_read_async(struct umm_object *obj, uint64_t first, uint64_t nr,
			   struct io_tracker *tracker)
{
	if (!obj || !nr || !ra_async_capable(obj))
		return 0;
	return ra_read_explicit(obj, first, nr, tracker, true);
}

/**
 * page_cache_read_range - read the uncached pages of [@first, @first +
 * @nr) and wait for them (see readahead.h).  Takes tree_lock and page
 * locks, waits for the reads; holds nothing on entry or exit.
 * Return: pages read, or the first error (-EIO, -ENOMEM), -EINVAL (NULL).
 */
long page_cache_read_range(struct umm_object *obj, uint64_t first, uint64_t nr)
{
	struct io_tracker *tracker;
	long n;
	int err;

	if (!obj)
		return -EINVAL;
	tracker = ra_async_capable(obj) ? io_tracker_alloc() : NULL;
	if (!tracker)
		return filemap_read_range(obj, first, nr);
	n = ra_read_explicit(obj, first, nr, tracker, false);
	err = io_tracker_wait(tracker);
	io_tracker_put(tracker);
	return err ? err : n;
}

/* ---- the fault-time policy ---- */

/*
 * Is there room for a window of @size pages above watermark @mark?  A
 * stream's window (pages a sequential reader is about to use) may go
 * down to the low watermark, where kswapd is woken; a read-around block
 * (which the reader may never touch) only as far as the high one.
 */
static bool ra_memory_ok(struct umm_object *obj, unsigned int size, int mark)
{
	return zone_watermark_ok(obj->sys->phys, mark, size);
}

/* The least recently used stream, to be replaced.  ra->lock held. */
static struct ra_stream *ra_victim(struct file_ra_state *ra)
{
	struct ra_stream *victim = &ra->streams[0];

	for (int i = 1; i < RA_STREAMS; i++)
		if (ra->streams[i].used < victim->used)
			victim = &ra->streams[i];
	return victim;
}

/*
 * ra_fit - the window [*startp, *startp + size) shrunk by halves until it
 * fits above watermark @mark (ra_memory_ok), keeping @index inside it
 * (aligned to the half, inside the old window).  Returns the new size (1:
 * just the page).
 */
static unsigned int ra_fit(struct umm_object *obj, uint64_t index, uint64_t *startp,
			   unsigned int size, int mark)
{
	uint64_t start = *startp, end = start + size;

	while (end - start > 1 && !ra_memory_ok(obj, (unsigned int)(end - start), mark)) {
		uint64_t half = (end - start) / 2;

		start = MAX(start, index - index % half);
		end = MIN(end, start + half);
	}
	*startp = start;
	return (unsigned int)(end - start);
}

/*
 * ra_around_backoff - called once per miss: should it read no read-around
 * block (nor go on from one)?  While reclaim takes pages out of the
 * object's cache, read-around would evict what the reader still uses for
 * pages it may never touch (a random working set larger than memory):
 * after any eviction since the last look, RA_AROUND_BACKOFF misses read
 * no block; read-around comes back once a look finds no new eviction.
 * Streams are not affected (their windows shrink to fit: ra_fit).
 * ra->lock held.
 */
static bool ra_around_backoff(struct file_ra_state *ra)
{
	unsigned long evicted = atomic_load_explicit(&ra->evicted, memory_order_relaxed);

	if (ra->around_off) {
		ra->around_off--;
		return true;
	}
	if (evicted == ra->evicted_seen)
		return false;
	ra->evicted_seen = evicted;
	ra->around_off = RA_AROUND_BACKOFF - 1;
	return true;
}

/*
 * A fault missed at @index of a mapping that covers the object's pages
 * [@lo, @hi): choose the window to read with it.  Returns its size in
 * pages (1: just the page), its first page in *startp, and in *aroundp
 * whether it is a read-around block.  Takes ra->lock.
 */
static unsigned int ra_on_miss(struct umm_object *obj, uint64_t index, unsigned int hints,
			       uint64_t lo, uint64_t hi, uint64_t *startp, bool *aroundp)
{
	struct file_ra_state *ra = &obj->ra;
	unsigned int max = ra_max_pages(obj), size = 0;
	struct ra_stream *s = NULL;
	uint64_t start = index;
	bool around = false, backoff;

	pthread_mutex_lock(&ra->lock);
	backoff = !(hints & RA_HINT_SEQ) && ra_around_backoff(ra);
	for (int i = 0; i < RA_STREAMS && !size; i++) {
		struct ra_stream *t = &ra->streams[i];

		if (t->size && (t->around ? index == t->start + t->size && !backoff :
				index >= t->start && index <= t->start + t->size))
			size = ra_next_size(t->size, max, hints);       /* caught up */
		else if (t->used && t->next == index)
			size = hints & RA_HINT_SEQ ? max : MIN(RA_INIT_PAGES, max);
		if (size)
			s = t;
	}
	if (!s) {
		s = ra_victim(ra);
		if (hints & RA_HINT_SEQ) {
			size = max;
		} else if (!(hints & RA_HINT_RAND) && MIN(RA_AROUND_PAGES, max) > 1 && !backoff) {
			/* read around: the aligned block, inside the mapping and the object */
			uint64_t n = MIN(RA_AROUND_PAGES, max);
			uint64_t end = MIN(ALIGN_DOWN(index, n) + n, MIN(hi, object_size_pages(obj)));

			start = MAX(ALIGN_DOWN(index, n), lo);
			size = end > start ? (unsigned int)(end - start) : 0;
			around = true;
		}
	}
	size = ra_fit(obj, index, &start, size, around ? WMARK_HIGH : WMARK_LOW);
	if (size <= 1)
		size = 0;
	s->start = start;
	s->size = size;
	s->around = around;
	/* a read-around block starts the next window from its last quarter, as a stream's */
	s->marker = around ? start + size - size / 4 : index + 1;
	s->next = index + 1;
	s->used = ++ra->clock;
	pthread_mutex_unlock(&ra->lock);
	*startp = start;
	*aroundp = around;
	return size ? size : 1;
}

/*
 * A readahead page at @index was used for the first time: if it is at or
 * past its stream's marker, advance the stream and return the next window
 * in *startp (its size; 0 for none).  Read-around blocks count only for a
 * fault (@fault): fault-around maps whole blocks of a random reader.
 * Takes ra->lock.
 */
static unsigned int ra_on_hit(struct umm_object *obj, uint64_t index, unsigned int hints,
			      bool fault, uint64_t *startp)
{
	struct file_ra_state *ra = &obj->ra;
	unsigned int size = 0;

	pthread_mutex_lock(&ra->lock);
	for (int i = 0; i < RA_STREAMS; i++) {
		struct ra_stream *s = &ra->streams[i];

		if (!s->size || index < s->marker || index >= s->start + s->size ||
		    (s->around && !fault))
			continue;
		s->start += s->size;
		s->size = ra_next_size(s->size, ra_max_pages(obj), hints);
		s->around = false;
		s->marker = s->start;
		s->next = index + 1;
		s->used = ++ra->clock;
		*startp = s->start;
		size = s->size;
		break;
	}
	pthread_mutex_unlock(&ra->lock);
	return size;
}

/*
 * A read-ahead page (PG_readahead just cleared) at @index was used: start
 * the next window if it is at or past its stream's marker, making room
 * for it by one direct reclaim call if it does not fit above the low
 * watermark (reclaim_for), and reading it with free frames only
 * (GFP_NORECLAIM) if it then fits.
 */
static void ra_async(struct umm_object *obj, uint64_t index, unsigned int hints, bool fault)
{
	uint64_t start;
	unsigned int size;

	if (hints & RA_HINT_RAND)
		return;
	size = ra_on_hit(obj, index, hints, fault, &start);
	/* no room: reclaim makes some rather than skip the window (see the theory) */
	if (size && !ra_memory_ok(obj, size, WMARK_LOW))
		(void)reclaim_for(obj->sys->phys, size);
	if (size && ra_memory_ok(obj, size, WMARK_LOW)) {
		struct ra_batch b = {
			.obj = obj, .demand = UINT64_MAX, .mark = true,
			.gfp = GFP_NORECLAIM | GFP_NOWARN,
		};

		ra_read_range(&b, start, size);
	}
}

/*
 * The fault found page (referenced) in the cache: if it was read ahead and
 * not used yet, clear PG_readahead and start the next window if it is at
 * or past its stream's marker.  Returns whether it was a read-ahead page
 * (the caller counts it once its read is known to have worked or not).
 */
static bool ra_page_used(struct umm_object *obj, struct page *page, uint64_t index,
			 unsigned int hints)
{
	if (!PageReadahead(page) || !TestClearPageReadahead(page))
		return false;
	ra_async(obj, index, hints, true);
	return true;
}

/**
 * page_cache_ra_used - an uptodate cached page of a file is about to be
 * mapped by fault-around (populate without I/O) through a mapping with
 * readahead @hints: if it was read ahead and not used yet, count the hit,
 * and if it is at or past a stream's marker start that stream's next
 * window (not for read-around blocks: a random reader's faults map them
 * whole).  Takes ra->lock, and for a window what
 * force_page_cache_readahead takes; no lock held on entry may be a pte
 * table's.
 */
void page_cache_ra_used(struct umm_object *obj, struct page *page, unsigned int hints)
{
	if (!PageReadahead(page) || !TestClearPageReadahead(page))
		return;
	atomic_fetch_add(&obj->sys->ra_hits, 1);
	if (ra_async_capable(obj))
		ra_async(obj, page->index, hints, false);
}

/**
 * filemap_fault_page - the page at @index for a fault through a mapping
 * of the object's pages [@lo, @hi) with readahead @hints (RA_HINT_*),
 * reading around or ahead as the policy above says.  Takes ra->lock,
 * tree_lock and page locks (none held on return); may wait for a read in
 * flight, and reads a read-around block itself.
 * Return: 0 with *@pagep uptodate and referenced, *@major true if this
 * fault read its own page; -EIO (past end of object, or the read of the
 * page failed), -ENOMEM, -EINVAL (NULL args, @index outside [@lo, @hi)).
 */
int filemap_fault_page(struct umm_object *obj, uint64_t index, unsigned int hints,
		       uint64_t lo, uint64_t hi, struct page **pagep, bool *major)
{
	struct ra_batch b = {
		.obj = obj, .demand = index, .mark = true, .gfp = GFP_NORECLAIM | GFP_NOWARN,
	};
	struct page *page;
	unsigned int size;
	uint64_t start;
	int err;

	if (!obj || !pagep || !major || lo > index || hi <= index)
		return -EINVAL;
	*major = false;
	if (obj->type != OBJ_FILE || !obj->sys->io)
		return read_cache_page(obj, index, pagep, major);
	if (index >= object_size_pages(obj))
		return -EIO;
	page = find_get_page(obj, index);
	if (page) {
		bool ahead = ra_page_used(obj, page, index, hints);

		err = filemap_wait_uptodate(obj, index, page);
		/*
		 * Count the read-ahead page once: a hit if it reads, wasted if it
		 * left the cache unread (truncated), neither if its read failed
		 * (completion counted an I/O error).
		 */
		if (ahead && err != -EIO)
			atomic_fetch_add(err ? &obj->sys->ra_wasted : &obj->sys->ra_hits, 1);
		if (!err)
			*pagep = page;
		if (err != -EAGAIN)
			return err;
		return read_cache_page(obj, index, pagep, major);
	}
	size = hints & RA_HINT_RAND ? 1 : ra_on_miss(obj, index, hints, lo, hi, &start, &b.sync);
	if (size <= 1)
		return read_cache_page(obj, index, pagep, major);
	ra_read_range(&b, start, size);
	err = read_cache_page(obj, index, pagep, major);
	if (b.demand_queued)
		*major = true;
	return err;
}
