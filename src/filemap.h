/* SPDX-License-Identifier: MIT */
/*
 * filemap.h - the page cache: lookup, insert, remove, find-or-read,
 * writeback and truncate.  See object.h for the lock order and invariants.
 */
#ifndef UMM_FILEMAP_H
#define UMM_FILEMAP_H

#include "object.h"

/* find_get_page - the cached page at index with a reference, or NULL. */
struct page *find_get_page(struct umm_object *obj, uint64_t index);
/* find_lock_page - as find_get_page, and locked (rechecks membership after locking). */
struct page *find_lock_page(struct umm_object *obj, uint64_t index);
/*
 * add_to_page_cache - insert a locked page the caller allocated; the cache
 * takes its own reference.  0, -EEXIST (another page is there), -ENOMEM.
 */
int add_to_page_cache(struct page *page, struct umm_object *obj, uint64_t index);
/* page_cache_alloc_add - allocate, lock and insert a page at index: 0, -EEXIST, -ENOMEM. */
int page_cache_alloc_add(struct umm_object *obj, uint64_t index, gfp_t gfp, struct page **pagep);
/* delete_from_page_cache - remove a locked cached page; drops the cache's reference. */
void delete_from_page_cache(struct page *page);
/*
 * __delete_from_page_cache / page_cache_deleted - delete_from_page_cache
 * in two halves, for a caller that decides under obj->tree_lock (held for
 * write by the first, not by the second, which drops the reference).
 */
void __delete_from_page_cache(struct page *page);
void page_cache_deleted(struct umm_system *sys, struct page *page);
/*
 * remove_mapping - reclaim's delete_from_page_cache: only a clean,
 * unmapped page held by nobody but the cache and the caller.  True if
 * removed (the cache's reference dropped).
 */
bool remove_mapping(struct page *page);
/*
 * read_cache_page - find the page at index, reading it from the object if
 * it is not cached.  Returns 0 with *pagep uptodate and referenced (not
 * locked).  *major (if non-NULL) is set when I/O was done.  -EIO when the
 * index is wholly past end-of-file or the read failed (the failed page is
 * not left in the cache), -ENOMEM.  Concurrent callers for one index do
 * one read; if it fails they all get -EIO.
 */
int read_cache_page(struct umm_object *obj, uint64_t index, struct page **pagep, bool *major);
/*
 * filemap_wait_uptodate - wait for a read in flight on a found, referenced
 * page.  0 (uptodate), -EAGAIN (left the cache: look again), -EIO (read
 * failed); on error the reference is dropped.
 */
int filemap_wait_uptodate(struct umm_object *obj, uint64_t index, struct page *page);
/*
 * find_get_pages - up to `nr` cached pages with index >= *start, in index
 * order, each referenced; *start is advanced past the last one.  Count.
 */
unsigned int find_get_pages(struct umm_object *obj, uint64_t *start, uint64_t end,
			    unsigned int nr, struct page **pages);
/*
 * find_get_page_run - pages[i] = the cached page at first + i, referenced,
 * or NULL, for i < nr, in one lookup of the run; with frames, the first
 * line of each page's frame is prefetched too (for an access that
 * follows); between(arg), if not NULL, runs after the prefetches and
 * before the references, under tree_lock, taking no lock (filemap.c).
 * Count found.
 */
unsigned int find_get_page_run(struct umm_object *obj, uint64_t first, unsigned int nr, struct page **pages,
			       bool frames, void (*between)(void *arg), void *arg);
/*
 * page_cache_prefetch_run - a hint: start loading what find_get_page_run
 * of [first, first + nr) will read first (the radix leaves of the run),
 * without waiting for it.  Takes tree_lock (read).
 */
void page_cache_prefetch_run(struct umm_object *obj, uint64_t first, unsigned int nr);
/* One run of find_get_page_runs: nr pages from first, results in pages[0..nr), found counted. */
struct page_run {
	uint64_t first;
	unsigned int nr;
	unsigned int found;
	struct page **pages;
};
/*
 * find_get_page_runs - find_get_page_run for each of nruns runs of one
 * object, under one hold of its tree_lock, every run's radix walk made
 * before any page is referenced (their misses overlap); frames as for
 * find_get_page_run.  Count found.
 */
unsigned int find_get_page_runs(struct umm_object *obj, struct page_run *runs, unsigned int nruns, bool frames);
/*
 * filemap_read_range - read the pages of [index, index + nr) that are not
 * cached (clipped to the object's size) into the page cache, in the
 * caller's thread, in batches of consecutive indices (one readpages
 * request each).  Best effort: a batch that fails to read is dropped from
 * the cache and the rest is still tried.  Synchronous: returns once the
 * reads are done.  Returns the number of pages read, or the first error
 * (-EIO, -ENOMEM) when nothing was read.  No locks held on entry or exit.
 * (page_cache_read_range in readahead.h is the entry point: it uses the
 * asynchronous backend for files and this for the rest.)
 */
long filemap_read_range(struct umm_object *obj, uint64_t index, uint64_t nr);
/* set_page_dirty - mark a cached page dirty; true if it was clean. */
bool set_page_dirty(struct page *page);
/*
 * write_one_page - write a locked dirty page back (clears PG_dirty first,
 * sets it again and PG_error on failure).  0, -EIO, or -EINVAL (NULL).
 */
int write_one_page(struct page *page);
/*
 * write_locked_pages - write back the dirty ones of nr (<= WRITEPAGES_MAX)
 * locked pages of any objects, a run of consecutive indices per request;
 * res[i] = 0 or -EIO.  The pages stay locked (filemap.c).
 */
void write_locked_pages(struct page **pages, unsigned int nr, int *res);
/* filemap_write_range - write back dirty pages in [first, end); first error. */
int filemap_write_range(struct umm_object *obj, uint64_t first, uint64_t end);
/*
 * truncate_inode_pages - drop cached pages from byte `from` on; zero the
 * tail of a partial page.  Mapped pages must have been unmapped first
 * (truncate calls sys->unmap_mapping_range).
 */
void truncate_inode_pages(struct umm_object *obj, uint64_t from);
/* zero_page_tail - zero bytes [offset, PAGE_SIZE) of the cached page at index, if cached. */
void zero_page_tail(struct umm_object *obj, uint64_t index, size_t offset);

/* object lifecycle (object.c) */
int object_alloc(struct umm_system *sys, enum object_type type, struct umm_object **out);
void object_get(struct umm_object *obj);
void object_put(struct umm_object *obj);
/*
 * object_datasync - make the object's written data durable: fdatasync for
 * files, nothing for shmem.  0 or -EIO (object.c).
 */
int object_datasync(struct umm_object *obj);
/*
 * object_extend - grow the object (and its file, with ftruncate) to at
 * least @size bytes; never shrinks; *from (if not NULL): the size it grew
 * from, or @size if it did not.  0 or -errno (object.c).
 */
int object_extend(struct umm_object *obj, uint64_t size, uint64_t *from);
/*
 * object_unextend - undo the part of an object_extend from @from to @to
 * that a failed write did not fill (it wrote up to @end), unless the
 * size changed since (object.c).
 */
void object_unextend(struct umm_object *obj, uint64_t from, uint64_t to, uint64_t end);
/* shmem_zero_setup - the object behind a MAP_SHARED|MAP_ANONYMOUS mapping. */
int shmem_zero_setup(struct umm_system *sys, size_t size, struct umm_object **out);

#endif
