/* SPDX-License-Identifier: MIT */
/*
 * shmem.c - anonymous shared memory objects (memfd / MAP_SHARED|MAP_ANONYMOUS).
 *
 * A shmem object has no backing file: its page cache, and the swap
 * device, are its only copies.  A page that has been written is dirty
 * and must stay cached until reclaim moves it to swap; a clean shmem page
 * holds only zeros and may be dropped.  writepage (writeback, msync,
 * umm_object_sync) has nowhere durable to put the data: it re-dirties the
 * page and reports success, so sync on shmem is a no-op that succeeds.
 *
 * Swap.  Reclaim (swap_out_page, swap_state.c) calls shmem_swapout with
 * the page locked: the page is unmapped (try_to_unmap), written to a
 * fresh slot, and the object records the entry at the page's index in
 * its swap_tree (a radix tree of entries beside the page cache, one slot
 * holder each) before the page leaves the page cache; a clean page just
 * leaves.  The way back is the page cache's own: a lookup that misses
 * inserts a locked page and calls readpage, which reads the recorded
 * entry (if any) into it, forgets the entry and frees the slot, and
 * leaves the page dirty (its only copy is now in memory); a read error
 * is the cache's read error (-EIO to the access) and the entry stays for
 * a retry.  A swapped page is always either in the page cache or in
 * swap_tree, and during the move in both, so no lookup finds neither.
 * A page with no entry reads as zeros: the cache allocates the page it
 * reads zero-filled (GFP_ZERO, which costs nothing for a frame the
 * allocator knows to be zero) and marks it PG_zeroed (filemap.c), and
 * readpage zeroes only a page without the mark.
 * Truncate (the truncate op, called by truncate_inode_pages) frees the
 * slots of the indices past the new end, and first brings the partial
 * last page back into the cache so its tail can be zeroed.  These pages
 * do not use the swap cache.
 *
 * As with memfd, the size may be 0 (accesses past the end are -EIO, the
 * SIGBUS of Linux) and umm_object_truncate changes it.
 *
 * Locks (order in lockdep.h): readpage/writepage/shmem_swapout run with
 * the page locked; swap_tree changes under obj->tree_lock (write), after
 * which the slot's holder goes (swap_free) with no object lock held;
 * try_to_unmap takes the rmap locks below the page lock.
 */
#include <errno.h>
#include <string.h>
#include "filemap.h"
#include "swap.h"
#include "rmap.h"

#define SHMEM_TRUNC_BATCH 16

static inline void *entry_to_item(swp_entry_t e) { return (void *)(uintptr_t)e.val; }
static inline swp_entry_t item_to_entry(void *v) { return (swp_entry_t){ (uint64_t)(uintptr_t)v }; }

/*
 * shmem_readpage - fill a locked page of the cache: from swap if the
 * object recorded an entry at its index (the entry is then forgotten,
 * its slot freed, and the page is dirty), else zeros (nothing to do for a
 * page allocated zero-filled, PG_zeroed: filemap.c page_cache_alloc_add;
 * the flag is cleared either way).  0 or -EIO (swap read failed: the
 * entry stays).
 */
static int shmem_readpage(struct umm_object *obj, struct page *page)
{
	struct umm_system *sys = obj->sys;
	bool zeroed = TestClearPageZeroed(page);
	void *item;
	bool taken = false;
	size_t valid;
	int err;

	tree_read_lock(obj);
	item = radix_tree_lookup(&obj->swap_tree, page->index);
	tree_read_unlock(obj);
	if (!item) {
		if (!zeroed)
			memset(page_address(page), 0, PAGE_SIZE);
		return 0;
	}
	err = swap_readpages(sys, item_to_entry(item), &page, 1);
	if (err)
		return err;
	tree_lock(obj);
	if (radix_tree_lookup(&obj->swap_tree, page->index) == item) {
		radix_tree_delete(&obj->swap_tree, page->index);
		obj->nrswapped--;
		taken = true;
	}
	tree_unlock(obj);
	if (!taken) {
		/* truncated meanwhile (the slot may already hold another page): the data is gone */
		memset(page_address(page), 0, PAGE_SIZE);
		return 0;
	}
	swap_free_shmem(sys, item_to_entry(item));
	SetPageDirty(page);
	/* bytes past the end read as zero (object.h invariant 3) */
	if (page->index == object_size(obj) >> PAGE_SHIFT) {
		valid = object_size(obj) & ~PAGE_MASK;
		memset((char *)page_address(page) + valid, 0, PAGE_SIZE - valid);
	}
	return 0;
}

/* shmem_writepage - writeback of a shmem page: nowhere to write it, it stays dirty (see top). */
static int shmem_writepage(struct umm_object *obj, struct page *page)
{
	(void)obj;
	SetPageDirty(page);
	return 0;
}

/*
 * shmem_truncate - the truncate op: bring the page holding byte @from in
 * from swap (so truncate_inode_pages zeroes its tail; if that read fails
 * the entry stays and the tail is not zeroed), then forget the entries
 * of every index wholly past @from and free their slots.  No lock held;
 * takes tree_lock, and the page cache's locks for the partial page.
 */
static void shmem_truncate(struct umm_object *obj, uint64_t from)
{
	uint64_t first = (from >> PAGE_SHIFT) + ((from & ~PAGE_MASK) != 0);
	void *items[SHMEM_TRUNC_BATCH];
	uint64_t keys[SHMEM_TRUNC_BATCH];
	unsigned int n;

	if ((from & ~PAGE_MASK) && obj->nrswapped) {
		struct page *page;
		void *item;

		tree_read_lock(obj);
		item = radix_tree_lookup(&obj->swap_tree, from >> PAGE_SHIFT);
		tree_read_unlock(obj);
		if (item && read_cache_page(obj, from >> PAGE_SHIFT, &page, NULL) == 0)
			put_page(page);
	}
	do {
		tree_lock(obj);
		n = radix_tree_gang_lookup(&obj->swap_tree, items, keys, first, SHMEM_TRUNC_BATCH);
		for (unsigned int i = 0; i < n; i++)
			radix_tree_delete(&obj->swap_tree, keys[i]);
		obj->nrswapped -= n;
		tree_unlock(obj);
		for (unsigned int i = 0; i < n; i++)
			swap_free_shmem(obj->sys, item_to_entry(items[i]));
	} while (n == SHMEM_TRUNC_BATCH);
}

static const struct object_ops shmem_object_ops = {
	.readpage = shmem_readpage,
	.writepage = shmem_writepage,
	.truncate = shmem_truncate,
};

/**
 * shmem_swapout - move a locked shmem page-cache page to swap (swap.h):
 * unmap it everywhere, write it to a fresh slot, record the entry in the
 * object and take the page out of the page cache (a clean page, all
 * zeros, just leaves).  The caller holds a reference besides the
 * cache's.  Takes the rmap locks (try_to_unmap), si->lock, tree_lock.
 * Return: 0 (the page left the cache), -ENOSPC (no swap or full),
 * -EBUSY (mapped with a busy table lock, mlocked, pinned or referenced
 * elsewhere), -EIO (the write failed: the page stays cached, dirty),
 * -ENOMEM; on error the page is still cached.
 */
int shmem_swapout(struct page *page)
{
	struct umm_object *obj = page->mapping;
	struct umm_system *sys = obj->sys;
	swp_entry_t entry;
	int err;

	VM_BUG_ON(!PageLocked(page) || obj->type != OBJ_SHMEM);
	if (!swap_enabled(sys))
		return -ENOSPC;
	if (try_to_unmap(page, 0) != SWAP_SUCCESS)
		return -EBUSY;
	if (page_count(page) != 2)
		return -EBUSY;          /* the cache's and the caller's only */
	if (!PageDirty(page))
		return remove_mapping(page) ? 0 : -EBUSY;
	err = get_swap_page(sys, &entry);
	if (err)
		return err;
	ClearPageDirty(page);
	err = swap_write_slots(sys, entry, &page, 1);
	if (err) {
		SetPageDirty(page);
		swapcache_clear(sys, entry);            /* no holder: the slot is free again */
		return err;
	}
	swap_hold_shmem(sys, entry);                    /* the object's hold on the slot */
	/*
	 * Checked again where no lookup can take a reference: a fault that
	 * found the page during the write holds one and waits for the page
	 * lock, and must find the page still cached (it would take the page
	 * leaving under it for truncation and retry, a bounded number of
	 * times).  Such a page stays, dirty, and its slot is given back.
	 */
	tree_lock(obj);
	if (page_count(page) != 2) {
		err = -EBUSY;
	} else {
		err = radix_tree_insert(&obj->swap_tree, page->index, entry_to_item(entry));
		if (!err) {
			obj->nrswapped++;
			__delete_from_page_cache(page);
		}
	}
	tree_unlock(obj);
	if (err) {
		SetPageDirty(page);
		swap_free_shmem(sys, entry);
		swapcache_clear(sys, entry);
		return err == -EBUSY ? -EBUSY : -ENOMEM;
	}
	page_cache_deleted(sys, page);
	swapcache_clear(sys, entry);    /* the allocation's claim; the object holds the slot */
	return 0;
}

/**
 * shmem_nr_swapped - pages of @obj in swap (0 for a file).  Takes
 * tree_lock for read.
 */
unsigned long shmem_nr_swapped(struct umm_object *obj)
{
	unsigned long n;

	tree_read_lock(obj);
	n = obj->nrswapped;
	tree_read_unlock(obj);
	return n;
}

/**
 * umm_object_create_shmem - a zero-filled shared memory object of @size
 * bytes (0 allowed) with one reference.
 * No locks taken.
 * Return: 0 with *@out set, -EINVAL (NULL args, size beyond off_t), -ENOMEM.
 */
int umm_object_create_shmem(struct umm_system *sys, size_t size, struct umm_object **out)
{
	struct umm_object *obj;
	int err;

	if (!sys || !out || (uint64_t)size > (uint64_t)INT64_MAX)
		return -EINVAL;
	err = object_alloc(sys, OBJ_SHMEM, &obj);
	if (err)
		return err;
	obj->ops = &shmem_object_ops;
	obj->readable = true;
	obj->writable = true;
	atomic_store(&obj->size, (uint64_t)size);
	*out = obj;
	return 0;
}

/**
 * shmem_zero_setup - the object behind a MAP_SHARED|MAP_ANONYMOUS mapping
 * of @size bytes: a fresh shmem object whose only reference goes to the
 * caller (the mapping).
 * No locks taken.
 * Return: 0 with *@out set, -EINVAL, -ENOMEM.
 */
int shmem_zero_setup(struct umm_system *sys, size_t size, struct umm_object **out)
{
	return umm_object_create_shmem(sys, size, out);
}
