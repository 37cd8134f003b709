/* SPDX-License-Identifier: MIT */
/*
 * usermm/object.h - memory objects: real files and anonymous shared memory.
 *
 * An object owns a page cache.  File objects read pages with pread() and
 * write them back with pwrite(); the object keeps its own dup() of the fd,
 * so the caller may close theirs.  Bytes of the last page past end-of-file
 * read as zero and are never written back.  Objects are reference counted:
 * every mapping holds a reference; the last umm_object_put() writes back
 * dirty pages and frees the cache.
 */
#ifndef USERMM_OBJECT_H
#define USERMM_OBJECT_H

#include <sys/types.h>
#include "system.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * umm_object_open_fd - wrap a regular file.  -EBADF (bad fd), -EINVAL (not
 * a regular file), -EACCES (write-only fd: it cannot back a mapping).
 * The size is taken from fstat() now and changed by umm_object_truncate()
 * and by a umm_object_write() past the end.
 */
int  umm_object_open_fd(struct umm_system *sys, int fd, struct umm_object **out);
/*
 * umm_object_create_shmem - anonymous shared memory, zero-filled, of
 * `size` bytes.  -EINVAL (NULL sys or out, size above INT64_MAX), -ENOMEM.
 */
int  umm_object_create_shmem(struct umm_system *sys, size_t size, struct umm_object **out);
/*
 * umm_object_truncate - set the size (ftruncate for files).  Shrinking
 * unmaps and drops cached pages wholly past the new end and zeroes the tail
 * of a partial last page; later accesses past the end are -EIO (SIGBUS).
 * 0; -EINVAL (NULL obj, a size beyond off_t, a file not open for
 * writing), or ftruncate's error; on error nothing changed.
 */
int  umm_object_truncate(struct umm_object *obj, uint64_t size);
void umm_object_get(struct umm_object *obj);
void umm_object_put(struct umm_object *obj);
uint64_t umm_object_size(const struct umm_object *obj);
/*
 * umm_object_sync - write back dirty cached pages of [offset, offset+len)
 * (len 0 = to end) with pwrite, then fdatasync the file, so the data is
 * durable on return; first error (-EIO); -EINVAL (NULL obj, a wrapping
 * range).
 */
int  umm_object_sync(struct umm_object *obj, uint64_t offset, uint64_t len);
/*
 * umm_object_read - pread(2) through the page cache: up to len bytes at
 * byte off (fewer at the end of the object, 0 past it), missing pages
 * read in, dirty ones read as the mappings left them.  Returns the bytes
 * copied, or -EINVAL (NULL obj, NULL buf with len > 0, off beyond off_t),
 * -EIO, -ENOMEM when nothing was copied.
 */
ssize_t umm_object_read(struct umm_object *obj, void *buf, size_t len, uint64_t off);
/*
 * umm_object_write - pwrite(2) through the page cache: every mapping sees
 * the bytes at once; the pages are dirty until written back (sync, msync,
 * reclaim, the last put).  A write past the end grows the object and its
 * file first (ftruncate).  At most 0x7ffff000 bytes per call, as Linux.
 * Returns the bytes written, or -EINVAL (NULL obj, NULL buf with len > 0,
 * off beyond off_t), -EFBIG (off + len beyond off_t), -EBADF (the file's
 * fd is not open for writing), with nothing changed; or -EIO, -ENOMEM or
 * ftruncate's errno when nothing was written.  A write that stops early
 * leaves the object grown only as far as it wrote (none if it wrote
 * nothing), unless a truncate changed the size meanwhile.  Writes to one
 * object run one at a time (they never interleave).
 */
ssize_t umm_object_write(struct umm_object *obj, const void *buf, size_t len, uint64_t off);
/* umm_object_cached_pages - pages of this object in the page cache. */
unsigned long umm_object_cached_pages(const struct umm_object *obj);

#ifdef __cplusplus
}
#endif
#endif
