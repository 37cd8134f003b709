/* SPDX-License-Identifier: MIT */
/*
 * shmem.c - anonymous shared memory objects (memfd / MAP_SHARED|MAP_ANONYMOUS).
 *
 * A shmem object has no backing file: its page cache is its only copy.
 * A page that is read in is zero-filled; a page that has been written is
 * dirty and must stay cached.  There is no swap yet (it arrives with the
 * swap issue), so writepage cannot put the data anywhere: it re-dirties
 * the page and reports success, which keeps writeback and sync working on
 * shmem while the page stays dirty and cached.  A clean shmem page holds
 * only zeros and may be dropped and read in again.
 *
 * As with memfd, the size may be 0 (accesses past the end are -EIO, the
 * SIGBUS of Linux) and umm_object_truncate changes it.
 *
 * Locks: none of its own.  readpage/writepage run with the page locked.
 */
#include <errno.h>
#include <string.h>
#include "filemap.h"

static int shmem_readpage(struct umm_object *obj, struct page *page)
{
	(void)obj;
	memset(page_address(page), 0, PAGE_SIZE);
	return 0;
}

static int shmem_writepage(struct umm_object *obj, struct page *page)
{
	(void)obj;
	SetPageDirty(page);      /* nowhere to write it: keep it (no swap yet) */
	return 0;
}

static const struct object_ops shmem_object_ops = {
	.readpage = shmem_readpage,
	.writepage = shmem_writepage,
};

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
