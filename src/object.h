/* SPDX-License-Identifier: MIT */
/*
 * object.h - memory objects (struct umm_object) and their page cache.
 *
 * An object is a real file (fd) or shmem.  Its page cache is a radix tree
 * of struct page keyed by page index; the cache holds one reference on each
 * page it contains, and page->mapping/index point back.  i_mmap lists the
 * VMAs that map the object (for truncate and object-based rmap).
 *
 * Locks (the order of the whole library is in lockdep.h): page lock ->
 * i_mmap_lock -> (mm page_table_lock -> pte table lock) -> tree_lock ->
 * allocator.  Take i_mmap_lock and tree_lock through the helpers below so
 * debug builds check the order.
 * ra.lock (readahead streams) is a leaf: held only to choose a window.
 *
 * Invariants:
 *   1. a page is in at most one cache; in the tree iff page->mapping == obj.
 *   2. a page in the tree and !PageUptodate is locked (being read) or has
 *      PG_error and is about to be removed.
 *   3. bytes of the last page beyond `size` are zero in the cache and never
 *      written back.
 */
#ifndef UMM_OBJECT_INTERNAL_H
#define UMM_OBJECT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include "system.h"
#include "radix_tree.h"
#include "percpu_rwsem.h"
#include "readahead.h"
#include "rbtree.h"

enum object_type { OBJ_FILE = 1, OBJ_SHMEM = 2 };

struct umm_object;
struct object_ops {
	/* readpage - fill a locked, !uptodate page; 0 or -EIO/-errno.  Does not unlock. */
	int (*readpage)(struct umm_object *obj, struct page *page);
	/* writepage - write a locked page's valid bytes to the backing store; 0 or -errno. */
	int (*writepage)(struct umm_object *obj, struct page *page);
	/*
	 * truncate - optional: drop what the object keeps outside its page
	 * cache for bytes from `from` on (shmem: swap entries), making the
	 * page holding `from` cached so its tail can be zeroed.  Called by
	 * truncate_inode_pages after its scan of the cache (and before that
	 * page's tail is zeroed), with no lock held.
	 */
	void (*truncate)(struct umm_object *obj, uint64_t from);
	/*
	 * readpages - optional: fill `nr` locked, !uptodate pages of
	 * consecutive indices (pages[0]->index first) with one request.
	 * 0 or -EIO for the whole batch.  Does not unlock.
	 */
	int (*readpages)(struct umm_object *obj, struct page **pages, unsigned int nr);
	/*
	 * writepages - optional: write the valid bytes of `nr` locked pages
	 * of consecutive indices (pages[0]->index first, nr at most
	 * WRITEPAGES_MAX) with one request.  0 when all were written; else
	 * -EIO and *done the position in the run of the page that failed:
	 * the pages before it are written, the ones after it were not tried.
	 */
	int (*writepages)(struct umm_object *obj, struct page **pages, unsigned int nr,
			  unsigned int *done);
};

/* Largest run of pages one writepages request takes. */
#define WRITEPAGES_MAX 256

struct umm_object {
	struct umm_system *sys;
	enum object_type type;
	_Atomic int refcount;
	int fd;                          /* OBJ_FILE: our dup, -1 for shmem */
	bool readable, writable;         /* fd access mode (shmem: both) */
	const struct object_ops *ops;

	struct percpu_rwsem tree_lock;   /* page_tree, nrpages, swap_tree, nrswapped: read to
	                                    look up, write to change */
	struct radix_tree page_tree;
	unsigned long nrpages;
	struct radix_tree swap_tree;     /* shmem: index -> swap entry (value) of a page in swap */
	unsigned long nrswapped;         /* entries in swap_tree */
	_Atomic uint64_t size;           /* bytes */
	pthread_mutex_t write_mutex;     /* umm_object_write: one at a time per object
	                                    (Linux's i_rwsem for buffered writes) */

	pthread_mutex_t i_mmap_lock;     /* i_mmap, i_mmap_tree, i_mmap_nonlinear */
	struct list_head i_mmap;         /* vm_area_struct.obj_link: every vma mapping it */
	struct rb_root i_mmap_tree;      /* linear vmas by pgoff range (i_mmap_tree.c) */
	unsigned long i_mmap_nonlinear;  /* VM_NONLINEAR vmas on i_mmap (not in the tree) */
	_Atomic int wb_err;              /* sticky writeback error, reported once by sync */
	struct file_ra_state ra;         /* readahead streams (readahead.c) */
};

/* i_mmap_lock_write / i_mmap_unlock_write - obj->i_mmap_lock (LOCK_I_MMAP). */
static inline void i_mmap_lock_write(struct umm_object *obj)
{
	lockdep_acquire(&obj->i_mmap_lock, LOCK_I_MMAP, 0, 0);
	pthread_mutex_lock(&obj->i_mmap_lock);
	rmap_locks_held++;
}
/*
 * i_mmap_trylock_write - take obj->i_mmap_lock without waiting; true if
 * taken (release with i_mmap_unlock_write).
 */
static inline bool i_mmap_trylock_write(struct umm_object *obj)
{
	if (pthread_mutex_trylock(&obj->i_mmap_lock))
		return false;
	lockdep_acquire(&obj->i_mmap_lock, LOCK_I_MMAP, 0, LOCKDEP_TRYLOCK);
	rmap_locks_held++;
	return true;
}
static inline void i_mmap_unlock_write(struct umm_object *obj)
{
	rmap_locks_held--;
	pthread_mutex_unlock(&obj->i_mmap_lock);
	lockdep_release(&obj->i_mmap_lock);
}
/*
 * tree_lock / tree_unlock - obj->tree_lock (LOCK_TREE) for write: insert
 * or delete cache pages.  tree_read_lock / tree_read_unlock - for read:
 * lookups, which run in parallel (every file fault does one; the reader
 * counts are striped per thread, percpu_rwsem.h).
 */
static inline void tree_lock(struct umm_object *obj)
{
	lockdep_acquire(&obj->tree_lock, LOCK_TREE, 0, 0);
	percpu_down_write(&obj->tree_lock);
}
static inline void tree_unlock(struct umm_object *obj)
{
	percpu_up_write(&obj->tree_lock);
	lockdep_release(&obj->tree_lock);
}
static inline void tree_read_lock(struct umm_object *obj)
{
	lockdep_acquire(&obj->tree_lock, LOCK_TREE, 0, LOCKDEP_READ);
	percpu_down_read(&obj->tree_lock, thread_slot());
}
static inline void tree_read_unlock(struct umm_object *obj)
{
	percpu_up_read(&obj->tree_lock, thread_slot());
	lockdep_release(&obj->tree_lock);
}

static inline uint64_t object_size(struct umm_object *obj) { return atomic_load(&obj->size); }
/* object_size_pages - number of pages that hold bytes of the object. */
static inline uint64_t object_size_pages(struct umm_object *obj)
{
	return (object_size(obj) + PAGE_SIZE - 1) >> PAGE_SHIFT;
}

#endif
