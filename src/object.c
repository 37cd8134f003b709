/* SPDX-License-Identifier: MIT */
/*
 * object.c - memory objects: their lifetime, file objects' backing I/O,
 * size changes and sync.
 *
 * Lifetime.  An object starts with one reference (its creator's); each
 * mapping takes one more.  The last put writes dirty pages back, drops
 * every cached page, closes the object's own fd and frees it.  Nothing
 * maps the object by then (mappings hold references), so no page is
 * mapped.  If that final writeback fails there is no one left to retry
 * it: the data is dropped with a warning (pr_warn, counted in the
 * system's stats; sync before the last put to see the error).
 *
 * File objects keep their own dup of the caller's fd, so the caller may
 * close theirs.  A dup shares the open file description, and pwrite on an
 * O_APPEND description ignores the offset, so for an O_APPEND fd the file
 * is reopened through /proc/self/fd without O_APPEND; if that is refused
 * the object is read-only (it can back private mappings only).
 *
 * Backing I/O (file_readpage / file_readpages / file_writepage /
 * file_writepages; readpages is one preadv for a run of consecutive
 * pages, writepages one pwritev) touches only the bytes
 * below the object's size: the rest of the last page reads as zero and is
 * never written, so a mapping never changes the file's length.
 *
 * Size.  umm_object_truncate changes the size under truncate_mutex (one
 * for all objects: truncation is rare) in this order.  Shrink: ftruncate
 * (so a refusal changes nothing), lower obj->size, unmap through
 * sys->unmap_mapping_range, drop cached pages, ftruncate again (a
 * writeback that raced with the size change may have re-extended the
 * file).  Grow: ftruncate, zero the old last page's tail (stores that went
 * past the old end must not appear in the object's new range), raise size.
 *
 * Locks taken, in order (the library's order is in lockdep.h):
 * (obj->write_mutex, umm_object_write's, filemap.c) -> truncate_mutex ->
 * page lock -> obj->tree_lock (through filemap.c).  The
 * unmap hook takes i_mmap_lock and page-table locks with only
 * truncate_mutex held.  truncate_mutex is outside every lock in lockdep.h
 * and is not seen by the checker.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include "filemap.h"

/* Largest batch file_readpages takes in one preadv. */
#define FILE_READPAGES_MAX 256

static pthread_mutex_t truncate_mutex = PTHREAD_MUTEX_INITIALIZER;

/* Largest size an object can have: what off_t (and ftruncate) can express. */
#define OBJECT_MAX_SIZE ((uint64_t)INT64_MAX)

/* Bytes of page @index that lie below @size (0 .. PAGE_SIZE). */
static size_t page_valid_bytes(uint64_t size, uint64_t index)
{
	uint64_t pos = index << PAGE_SHIFT;

	if (pos >= size)
		return 0;
	return size - pos >= PAGE_SIZE ? PAGE_SIZE : (size_t)(size - pos);
}

/* readpage for files: pread the valid bytes, zero the rest. */
static int file_readpage(struct umm_object *obj, struct page *page)
{
	size_t want = page_valid_bytes(object_size(obj), page->index);
	char *buf = page_address(page);
	off_t pos = (off_t)(page->index << PAGE_SHIFT);
	size_t done = 0;

	if (should_fail(&obj->sys->fail_read))
		return -EIO;
	while (done < want) {
		ssize_t n = pread(obj->fd, buf + done, want - done, pos + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -EIO;
		if (n == 0)
			break;            /* file shorter than we think: zeros */
		done += (size_t)n;
	}
	memset(buf + done, 0, PAGE_SIZE - done);
	return 0;
}

/* writepage for files: pwrite the bytes below the size, nothing past it. */
static int file_writepage(struct umm_object *obj, struct page *page)
{
	size_t want = page_valid_bytes(object_size(obj), page->index);
	const char *buf = page_address(page);
	off_t pos = (off_t)(page->index << PAGE_SHIFT);
	size_t done = 0;

	if (should_fail(&obj->sys->fail_write))
		return -EIO;
	if (want)
		atomic_fetch_add(&obj->sys->file_write_requests, 1);
	while (done < want) {
		ssize_t n = pwrite(obj->fd, buf + done, want - done, pos + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		done += (size_t)n;
	}
	if (want)
		atomic_fetch_add(&obj->sys->file_write_pages, 1);
	return 0;
}

/*
 * writepages for files: one pwritev for a run of consecutive pages (the
 * batched writeback of filemap_write_range), of the bytes below the size.
 * The write fault injection is asked once per page, in order, as
 * file_writepage would be: the first page it fails ends the run there.  A
 * write that fails after a short one fails the page it stopped in.
 */
static int file_writepages(struct umm_object *obj, struct page **pages, unsigned int nr,
			   unsigned int *done)
{
	struct iovec iov[WRITEPAGES_MAX];
	uint64_t size = object_size(obj);
	off_t pos = (off_t)(pages[0]->index << PAGE_SHIFT);
	size_t want = 0, written = 0;
	unsigned int i, first = 0, n = nr;
	int err = 0;

	*done = 0;
	if (nr == 0 || nr > WRITEPAGES_MAX)
		return -EINVAL;
	for (i = 0; i < nr; i++) {
		VM_BUG_ON(pages[i]->index != pages[0]->index + i);
		if (should_fail(&obj->sys->fail_write)) {
			n = i;
			err = -EIO;
			break;
		}
		iov[i].iov_base = page_address(pages[i]);
		iov[i].iov_len = page_valid_bytes(size, pages[i]->index);
		want += iov[i].iov_len;
	}
	if (want)
		atomic_fetch_add(&obj->sys->file_write_requests, 1);
	while (written < want) {
		ssize_t w = pwritev(obj->fd, iov + first, (int)(n - first), pos + (off_t)written);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			/* pages before `first` are whole in the file; `first` failed */
			n = first;
			err = -EIO;
			break;
		}
		written += (size_t)w;
		/* skip the iovecs that are written, trim the partial one */
		while (first < n && (size_t)w >= iov[first].iov_len) {
			w -= (ssize_t)iov[first].iov_len;
			first++;
		}
		if (first < n && w) {
			iov[first].iov_base = (char *)iov[first].iov_base + w;
			iov[first].iov_len -= (size_t)w;
		}
	}
	if (want)
		atomic_fetch_add(&obj->sys->file_write_pages, n);
	*done = n;
	return err;
}

/*
 * readpages for files: one preadv for a run of consecutive pages (the
 * batched read of populate and readahead).  Bytes past the size, or past
 * a file that turned out shorter, are zeroed.
 */
static int file_readpages(struct umm_object *obj, struct page **pages, unsigned int nr)
{
	struct iovec iov[FILE_READPAGES_MAX];
	uint64_t size = object_size(obj);
	off_t pos = (off_t)(pages[0]->index << PAGE_SHIFT);
	size_t want = 0, done = 0;
	unsigned int i, first = 0;

	if (nr > FILE_READPAGES_MAX)
		return -EINVAL;
	for (i = 0; i < nr; i++) {
		VM_BUG_ON(pages[i]->index != pages[0]->index + i);
		iov[i].iov_base = page_address(pages[i]);
		iov[i].iov_len = page_valid_bytes(size, pages[i]->index);
		want += iov[i].iov_len;
	}
	if (should_fail(&obj->sys->fail_read))
		return -EIO;
	while (done < want) {
		ssize_t n = preadv(obj->fd, iov + first, (int)(nr - first), pos + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -EIO;
		if (n == 0)
			break;            /* file shorter than we think: zeros */
		done += (size_t)n;
		/* skip the iovecs that are full, trim the partial one */
		while (first < nr && (size_t)n >= iov[first].iov_len) {
			n -= (ssize_t)iov[first].iov_len;
			iov[first].iov_len = 0;
			first++;
		}
		if (first < nr && n) {
			iov[first].iov_base = (char *)iov[first].iov_base + n;
			iov[first].iov_len -= (size_t)n;
		}
	}
	/* every page but the trailing ones is whole, so page i starts at i pages into the stream */
	for (i = 0; i < nr; i++) {
		size_t start = (size_t)i << PAGE_SHIFT;
		size_t got = done > start ? MIN(done - start, (size_t)PAGE_SIZE) : 0;

		memset((char *)page_address(pages[i]) + got, 0, PAGE_SIZE - got);
	}
	return 0;
}

static const struct object_ops file_object_ops = {
	.readpage = file_readpage,
	.writepage = file_writepage,
	.readpages = file_readpages,
	.writepages = file_writepages,
};

/**
 * object_alloc - a new object of @type with one reference, an empty page
 * cache and no backing; file objects get the file ops, callers of other
 * types set obj->ops.  Counts in sys->nr_objects.
 * No locks taken.
 * Return: 0 with *@out set, -EINVAL, -ENOMEM.
 */
int object_alloc(struct umm_system *sys, enum object_type type, struct umm_object **out)
{
	struct umm_object *obj;

	if (!sys || !out || (type != OBJ_FILE && type != OBJ_SHMEM))
		return -EINVAL;
	obj = aligned_alloc(64, ALIGN_UP(sizeof(*obj), 64));   /* cache-line aligned stripes */
	if (!obj)
		return -ENOMEM;
	memset(obj, 0, sizeof(*obj));
	obj->sys = sys;
	obj->type = type;
	atomic_init(&obj->refcount, 1);
	obj->fd = -1;
	obj->ops = type == OBJ_FILE ? &file_object_ops : NULL;
	percpu_init_rwsem(&obj->tree_lock);
	radix_tree_init(&obj->page_tree);
	radix_tree_init(&obj->swap_tree);
	pthread_mutex_init(&obj->i_mmap_lock, NULL);
	pthread_mutex_init(&obj->write_mutex, NULL);
	INIT_LIST_HEAD(&obj->i_mmap);
	file_ra_state_init(&obj->ra);
	obj->i_mmap_tree = RB_ROOT;
	atomic_fetch_add(&sys->nr_objects, 1);
	*out = obj;
	return 0;
}

/**
 * object_get - take a reference.  The caller already holds one.
 */
void object_get(struct umm_object *obj)
{
	int old = atomic_fetch_add(&obj->refcount, 1);

	VM_BUG_ON(old <= 0);
}

/* The last reference is gone: write back, empty the cache, free. */
static void object_release(struct umm_object *obj)
{
	struct umm_system *sys = obj->sys;

	int err;

	VM_BUG_ON(!list_empty(&obj->i_mmap) || obj->i_mmap_tree.rb_node || obj->i_mmap_nonlinear);
	err = filemap_write_range(obj, 0, UINT64_MAX);
	if (err)    /* nobody is left to retry or to tell: say so once */
		pr_warn(sys, "object freed with dirty pages its backing store refused (%d)", err);
	truncate_inode_pages(obj, 0);
	VM_BUG_ON(obj->nrpages != 0 || obj->nrswapped != 0);
	radix_tree_destroy(&obj->page_tree);
	radix_tree_destroy(&obj->swap_tree);
	if (obj->fd >= 0)
		close(obj->fd);
	percpu_free_rwsem(&obj->tree_lock);
	pthread_mutex_destroy(&obj->i_mmap_lock);
	pthread_mutex_destroy(&obj->write_mutex);
	file_ra_state_destroy(&obj->ra);
	atomic_fetch_sub(&sys->nr_objects, 1);
	free(obj);
}

/**
 * object_put - drop a reference; the last one writes dirty pages back and
 * frees the object and its cached pages.
 * Must be called with no page lock of this object held.
 */
void object_put(struct umm_object *obj)
{
	int old = atomic_fetch_sub(&obj->refcount, 1);

	VM_BUG_ON(old <= 0);
	if (old == 1)
		object_release(obj);
}

/**
 * umm_object_get - take a reference on @obj (NULL is ignored).
 */
void umm_object_get(struct umm_object *obj)
{
	if (obj)
		object_get(obj);
}

/**
 * umm_object_put - drop a reference on @obj (NULL is ignored); the last
 * one writes dirty pages back and frees the object.
 */
void umm_object_put(struct umm_object *obj)
{
	if (obj)
		object_put(obj);
}

/*
 * A private fd for the object.  O_APPEND descriptions are reopened
 * without it (see the top comment); *writable is cleared if that fails.
 */
static int object_dup_fd(int fd, int flags, bool *writable)
{
	char path[64];
	int nfd;

	if (*writable && (flags & O_APPEND)) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		nfd = open(path, O_RDWR | O_CLOEXEC);
		if (nfd >= 0)
			return nfd;
		*writable = false;
	}
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	return nfd < 0 ? -errno : nfd;
}

/**
 * umm_object_open_fd - wrap the regular file open on @fd in a new object
 * (one reference, size from fstat); the object keeps its own fd.
 * No locks taken.
 * Return: 0 with *@out set; -EINVAL (NULL args, not a regular file),
 * -EBADF (bad fd), -EACCES (write-only fd), -EMFILE, -ENOMEM.
 */
int umm_object_open_fd(struct umm_system *sys, int fd, struct umm_object **out)
{
	struct umm_object *obj;
	struct stat st;
	bool writable;
	int flags, nfd, err;

	if (!sys || !out)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0)
		return -errno;
	if (flags & O_PATH)
		return -EBADF;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((flags & O_ACCMODE) == O_WRONLY)
		return -EACCES;
	writable = (flags & O_ACCMODE) == O_RDWR;
	nfd = object_dup_fd(fd, flags, &writable);
	if (nfd < 0)
		return nfd;
	err = object_alloc(sys, OBJ_FILE, &obj);
	if (err)
		goto err_close;
	obj->fd = nfd;
	obj->readable = true;
	obj->writable = writable;
	atomic_store(&obj->size, (uint64_t)st.st_size);
	*out = obj;
	return 0;

err_close:
	close(nfd);
	return err;
}

/**
 * umm_object_size - the object's size in bytes (0 for NULL).
 */
uint64_t umm_object_size(const struct umm_object *obj)
{
	return obj ? atomic_load(&obj->size) : 0;
}

/*
 * Growing from @old: clear what was stored past the old end in its last
 * page, so the bytes that now become part of the object read as zero.
 */
static void object_zero_old_tail(struct umm_object *obj, uint64_t old)
{
	if (old & ~PAGE_MASK)
		zero_page_tail(obj, old >> PAGE_SHIFT, old & ~PAGE_MASK);
}

/*
 * object_shrink_locked - lower the size to @size (below the current one):
 * unmap and drop what lies wholly past the new end, then cut the file.
 * The file was already cut by the caller (umm_object_truncate, so that a
 * refusal changes nothing) or is cut here (object_unextend).
 * truncate_mutex held.  0 or -errno of the final ftruncate.
 */
static int object_shrink_locked(struct umm_object *obj, uint64_t size)
{
	void (*unmap)(struct umm_object *, uint64_t, uint64_t) = obj->sys->unmap_mapping_range;

	atomic_store(&obj->size, size);
	if (unmap)
		unmap(obj, (size >> PAGE_SHIFT) + ((size & ~PAGE_MASK) != 0), UINT64_MAX);
	truncate_inode_pages(obj, size);
	/*
	 * A writeback that read the old size before we lowered it may have
	 * written past the new end; it held a page lock truncate_inode_pages
	 * waited for, so it is finished now: cut the file again.
	 */
	if (obj->type == OBJ_FILE && ftruncate(obj->fd, (off_t)size) < 0)
		return -errno;
	return 0;
}

/**
 * umm_object_truncate - set the object's size (ftruncate for files).
 * Shrinking unmaps (sys->unmap_mapping_range) and drops the pages wholly
 * past the new end and zeroes the tail of a partial last page.
 * Takes truncate_mutex, page locks and tree_lock; none held on return.
 * Return: 0; -EINVAL (NULL, size beyond off_t, or an fd not open for
 * writing, as ftruncate reports it); other -errno from ftruncate.  On
 * error nothing changed.
 */
int umm_object_truncate(struct umm_object *obj, uint64_t size)
{
	uint64_t old;
	int err = 0;

	if (!obj || size > OBJECT_MAX_SIZE)
		return -EINVAL;
	pthread_mutex_lock(&truncate_mutex);
	old = object_size(obj);
	if (obj->type == OBJ_FILE) {
		if (!obj->writable) {
			err = -EINVAL;
			goto out_unlock;
		}
		if (ftruncate(obj->fd, (off_t)size) < 0) {
			err = -errno;
			goto out_unlock;
		}
	}
	if (size >= old) {
		object_zero_old_tail(obj, old);
		atomic_store(&obj->size, size);
		goto out_unlock;
	}
	err = object_shrink_locked(obj, size);
out_unlock:
	pthread_mutex_unlock(&truncate_mutex);
	return err;
}

/**
 * object_extend - grow @obj to at least @size bytes, as a write past the
 * end does: ftruncate the file, zero the old last page's tail, raise the
 * size.  An object already that large is left alone (concurrent writers
 * that extend never shrink each other's end).  *@from (if not NULL) gets
 * the size this call grew the object from, or @size when it did not grow
 * it (for object_unextend).
 * Takes truncate_mutex (and a page lock); none held on return.
 * Return: 0, -EBADF (a file not open for writing), -errno of ftruncate.
 */
int object_extend(struct umm_object *obj, uint64_t size, uint64_t *from)
{
	uint64_t old;
	int err = 0;

	if (from)
		*from = size;
	if (size <= object_size(obj))
		return 0;
	pthread_mutex_lock(&truncate_mutex);
	old = object_size(obj);
	if (size > old) {
		if (obj->type == OBJ_FILE && !obj->writable)
			err = -EBADF;
		else if (obj->type == OBJ_FILE && ftruncate(obj->fd, (off_t)size) < 0)
			err = -errno;
		if (!err) {
			object_zero_old_tail(obj, old);
			atomic_store(&obj->size, size);
			if (from)
				*from = old;
		}
	}
	pthread_mutex_unlock(&truncate_mutex);
	return err;
}

/**
 * object_unextend - a write that grew @obj from @from to @to stopped
 * early, having written up to @end (0: nothing written): lower the size
 * to max(@from, @end),
 * as if the write had grown it only that far (Linux raises a file's size
 * as a write copies).  Nothing is done when the size is no longer @to (a
 * truncate or another extending write came in between: theirs stands).
 * Takes truncate_mutex (and what a shrink takes); none held on return.
 */
void object_unextend(struct umm_object *obj, uint64_t from, uint64_t to, uint64_t end)
{
	uint64_t size = MAX(from, end);

	if (size >= to)
		return;
	pthread_mutex_lock(&truncate_mutex);
	if (object_size(obj) == to)
		(void)object_shrink_locked(obj, size);
	pthread_mutex_unlock(&truncate_mutex);
}

/**
 * umm_object_sync - write back the dirty cached pages of
 * [@offset, @offset + @len) (@len 0: to the end), fdatasync a file
 * object so the data is durable (the whole file's data: fdatasync has no
 * range), then report (once) any writeback error recorded since the last
 * sync.
 * Takes page locks and tree_lock; none held on entry or exit.
 * Return: 0, -EIO, -EINVAL (NULL, or the range wraps).
 */
int umm_object_sync(struct umm_object *obj, uint64_t offset, uint64_t len)
{
	uint64_t first, end;
	int err, wb, ds;

	if (!obj)
		return -EINVAL;
	if (len && offset + len < offset)
		return -EINVAL;
	first = offset >> PAGE_SHIFT;
	end = len ? ((offset + len - 1) >> PAGE_SHIFT) + 1 : UINT64_MAX;
	err = filemap_write_range(obj, first, end);
	wb = atomic_exchange(&obj->wb_err, 0);
	ds = object_datasync(obj);
	return err ? err : wb ? wb : ds;
}

/**
 * object_datasync - make what was written to a file object durable
 * (fdatasync of the object's fd; retried on EINTR).  Nothing to do for
 * shmem.  No locks taken.
 * Return: 0, or -EIO when fdatasync fails.
 */
int object_datasync(struct umm_object *obj)
{
	if (obj->type != OBJ_FILE || obj->fd < 0)
		return 0;
	while (fdatasync(obj->fd) < 0) {
		if (errno != EINTR)
			return -EIO;
	}
	return 0;
}

/**
 * umm_object_cached_pages - how many pages of @obj are in the page cache
 * (0 for NULL).  Takes tree_lock.
 */
unsigned long umm_object_cached_pages(const struct umm_object *obj)
{
	struct umm_object *o = (struct umm_object *)obj;
	unsigned long n;

	if (!o)
		return 0;
	tree_read_lock(o);
	n = o->nrpages;
	tree_read_unlock(o);
	return n;
}
