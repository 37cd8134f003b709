/* SPDX-License-Identifier: MIT */
/*
 * preload_io.c - file I/O kept coherent with usermm's mappings: pread,
 * pwrite, read, write, preadv, pwritev, preadv2, pwritev2 (with their
 * flags), readv, writev (and the 64 variants), ftruncate, truncate,
 * fallocate, posix_fallocate, fsync, fdatasync, sendfile,
 * copy_file_range.
 *
 * A call on a descriptor of a file usermm serves (found by fstat: device
 * and inode, see preload.c) goes through the file's page cache with
 * umm_object_read / umm_object_write; read/write/readv/writev use and
 * advance the descriptor's offset with lseek (so, unlike the kernel's,
 * they are not atomic against another thread using the same descriptor
 * at the same moment).  The descriptor's access mode is the caller's: a
 * call the kernel would refuse (reading a write-only descriptor, writing
 * a read-only one) is passed to the kernel, which refuses it.  Anything
 * else goes to the kernel, after umm_host_prefault of any part of the
 * buffer that lies in the window.
 *
 * Locks: pl.lock only to find the object and take a reference.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <linux/falloc.h>
#include <unistd.h>
#include "preload.h"
#include "filemap.h"
#include "page.h"

/*
 * The flags of preadv2/pwritev2 that Linux 6.18 knows (some newer than
 * the C library's headers).  RWF_HIPRI only asks for polled completion
 * and is ignored, as the kernel does for buffered I/O.
 */
#ifndef RWF_NOAPPEND
#define RWF_NOAPPEND 0x00000020
#endif
#ifndef RWF_ATOMIC
#define RWF_ATOMIC 0x00000040
#endif
#ifndef RWF_DONTCACHE
#define RWF_DONTCACHE 0x00000080
#endif
#define RWF_KNOWN (RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND | RWF_NOAPPEND | \
		   RWF_ATOMIC | RWF_DONTCACHE)

static ssize_t served_read_max(int fd, struct umm_object *obj, const struct iovec *iov, int cnt, off_t off,
			       size_t max, int rwf);
static ssize_t served_write_rwf(int fd, struct umm_object *obj, int fl, const struct iovec *iov, int cnt,
				off_t off, int rwf);

/**
 * preload_prefault - map the window part of a buffer the kernel is about
 * to use (for writing if `write`: the kernel stores into it).  Errors are
 * left to the kernel (EFAULT, as without us).  No lock held.
 */
void preload_prefault(const void *buf, size_t len, int write)
{
	char *base = atomic_load(&pl.base);
	uintptr_t a = (uintptr_t)buf, b = (uintptr_t)base, s, e;

	if (!base || !len || a + len <= b || a >= b + pl.wlen)
		return;
	s = a < b ? b : a;
	e = a + len > b + pl.wlen ? b + pl.wlen : a + len;
	PL_COUNT(prefaults, 1);
	PL_BUSY(umm_host_prefault(pl.mm, pl.ustart + (s - b), e - s, write));
}

static void prefault_iov(const struct iovec *iov, int cnt, int write)
{
	if (!atomic_load(&pl.base) || cnt < 0 || cnt > IOV_MAX)
		return;
	for (int i = 0; i < cnt; i++)
		preload_prefault(iov[i].iov_base, iov[i].iov_len, write);
}

/*
 * served - the object of the file behind fd, referenced (umm_object_put
 * when done), and the descriptor's status flags; NULL when usermm does
 * not serve it.
 */
static struct umm_object *served(int fd, int *flp)
{
	struct preload_file *f;
	struct umm_object *obj = NULL;
	struct stat st;
	int fl;

	if (!atomic_load_explicit(&pl.nfiles, memory_order_relaxed) || fd < 0)
		return NULL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		return NULL;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return NULL;
	preload_lock();
	f = preload_file_find_locked(st.st_dev, st.st_ino);
	if (f) {
		obj = f->obj;
		umm_object_get(obj);
	}
	preload_unlock();
	*flp = fl;
	return obj;
}

static ssize_t ret(ssize_t r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* One read through the cache at off; counts it. */
static ssize_t cache_read(struct umm_object *obj, void *buf, size_t n, off_t off)
{
	ssize_t r;

	if (off < 0)
		return -EINVAL;
	r = PL_BUSY(umm_object_read(obj, buf, n, (uint64_t)off));
	PL_COUNT(preads, 1);
	if (r > 0)
		PL_COUNT(read_bytes, (unsigned long)r);
	return r;
}

/*
 * One write through the cache at off (at the end for O_APPEND), then the
 * sync O_DSYNC / O_SYNC ask for; *endp: the offset after the bytes
 * written.  Counts it.
 */
static ssize_t cache_write(struct umm_object *obj, int fl, const void *buf, size_t n, off_t off,
			   off_t *endp)
{
	ssize_t r;
	int err;

	if (fl & O_APPEND)
		off = (off_t)umm_object_size(obj);
	if (off < 0)
		return -EINVAL;
	if (!(fl & (O_DSYNC | O_SYNC)))
		preload_flusher_want(true);     /* dirty data the flusher is for (synced below otherwise) */
	r = PL_BUSY(umm_object_write(obj, buf, n, (uint64_t)off));
	PL_COUNT(pwrites, 1);
	if (r > 0) {
		PL_COUNT(write_bytes, (unsigned long)r);
		if (fl & (O_DSYNC | O_SYNC)) {
			err = PL_BUSY(umm_object_sync(obj, (uint64_t)off, (uint64_t)r));
			if (err)
				return err;
		}
	}
	if (endp)
		*endp = off + (r > 0 ? r : 0);
	preload_safe_point();                   /* the flusher, now that there is dirty data */
	return r;
}

/*
 * served_for - served(), for a call that reads (write 0) or writes
 * (write 1): NULL also when the descriptor's access mode does not allow
 * it, so the kernel answers (EBADF) as it would.
 */
static struct umm_object *served_for(int fd, int write, int *flp)
{
	struct umm_object *obj = served(fd, flp);
	int acc = obj ? *flp & O_ACCMODE : 0;

	if (obj && acc == (write ? O_RDONLY : O_WRONLY)) {
		umm_object_put(obj);
		obj = NULL;
	}
	return obj;
}

/* The iovec calls: one cache call per element; a short one ends the call. */
static ssize_t iov_check(const struct iovec *iov, int cnt)
{
	size_t total = 0;

	if (cnt < 0 || cnt > IOV_MAX)
		return -EINVAL;
	for (int i = 0; i < cnt; i++) {
		if (iov[i].iov_len > SSIZE_MAX - total)
			return -EINVAL;
		total += iov[i].iov_len;
	}
	return 0;
}

/* At most max bytes (SIZE_MAX: all the vector asks). */
static ssize_t cache_readv(struct umm_object *obj, const struct iovec *iov, int cnt, off_t off, size_t max)
{
	ssize_t done = 0, r = iov_check(iov, cnt);

	if (r)
		return r;
	for (int i = 0; i < cnt && (size_t)done < max; i++) {
		size_t want = iov[i].iov_len < max - (size_t)done ? iov[i].iov_len : max - (size_t)done;

		r = cache_read(obj, iov[i].iov_base, want, off + done);
		if (r < 0)
			return done ? done : r;
		done += r;
		if ((size_t)r < want)
			break;
	}
	return done;
}

static ssize_t cache_writev(struct umm_object *obj, int fl, const struct iovec *iov, int cnt,
			    off_t off, off_t *endp)
{
	ssize_t done = 0, r = iov_check(iov, cnt);
	off_t end = off;

	if (r)
		return r;
	for (int i = 0; i < cnt; i++) {
		r = cache_write(obj, fl, iov[i].iov_base, iov[i].iov_len, off + done, &end);
		if (r < 0)
			return done ? done : r;
		done += r;
		if ((size_t)r < iov[i].iov_len)
			break;
	}
	if (endp)
		*endp = end;
	return done;
}

/* A page is in the cache with its bytes (a read of it does no I/O). */
static bool page_cached(struct umm_object *obj, uint64_t index)
{
	struct page *page = PL_BUSY(find_get_page(obj, index));
	bool ok = page && PageUptodate(page);

	if (page)
		put_page(page);
	return ok;
}

/*
 * cached_bytes - how many of the max bytes from off a read can take from
 * the cache without I/O: up to the first page that is not cached, or the
 * end of the file (past it: max, the read returns 0 without I/O).
 */
static size_t cached_bytes(struct umm_object *obj, off_t off, size_t max)
{
	uint64_t size = umm_object_size(obj), pos = (uint64_t)off;

	if (pos >= size)
		return max;
	if (max > size - pos)
		max = (size_t)(size - pos);
	for (uint64_t idx = pos / UMM_PAGE_SIZE; idx * UMM_PAGE_SIZE < pos + max; idx++)
		if (!page_cached(obj, idx))
			return idx * UMM_PAGE_SIZE > pos ? (size_t)(idx * UMM_PAGE_SIZE - pos) : 0;
	return max;
}

/*
 * write_is_cached - can the vector be written at off without reading a
 * page: each page it touches is cached, or wholly overwritten, or wholly
 * past the end of the file.
 */
static bool write_is_cached(struct umm_object *obj, off_t off, const struct iovec *iov, int cnt)
{
	uint64_t size = umm_object_size(obj), pos = (uint64_t)off, len = 0, end;

	if (off < 0 || iov_check(iov, cnt))
		return true;               /* the write itself reports the error */
	for (int i = 0; i < cnt; i++)
		len += iov[i].iov_len;
	end = pos + len;
	for (uint64_t idx = pos / UMM_PAGE_SIZE; idx * UMM_PAGE_SIZE < end; idx++) {
		uint64_t ps = idx * UMM_PAGE_SIZE, pe = ps + UMM_PAGE_SIZE;

		if (ps >= size || (pos <= ps && end >= pe))
			continue;
		if (!page_cached(obj, idx))
			return false;
	}
	return true;
}

/* AT_FD_OFFSET - the read or write is at the descriptor's offset, which it advances. */
#define AT_FD_OFFSET ((off_t)-1)

/*
 * served_read / served_write - the page-cache half of every read and
 * write call on a served file: at off, or at (and advancing) the
 * descriptor's offset for AT_FD_OFFSET (a write with O_APPEND at the
 * end).  Drop obj's reference.  Bytes, or -1 with errno.
 */
static ssize_t served_read(int fd, struct umm_object *obj, const struct iovec *iov, int cnt, off_t off)
{
	return served_read_max(fd, obj, iov, cnt, off, SIZE_MAX, 0);
}

/*
 * served_read_max - served_read of at most max bytes; with RWF_NOWAIT in
 * rwf, only the pages already in the cache (from the first: -EAGAIN if
 * that one is not).
 */
static ssize_t served_read_max(int fd, struct umm_object *obj, const struct iovec *iov, int cnt, off_t off,
			       size_t max, int rwf)
{
	bool at_fd = off == AT_FD_OFFSET;
	ssize_t r;

	if (at_fd)
		off = lseek(fd, 0, SEEK_CUR);
	if (off >= 0 && (rwf & RWF_NOWAIT))
		max = cached_bytes(obj, off, max);
	r = off < 0 ? -errno : !max ? -EAGAIN : cache_readv(obj, iov, cnt, off, max);
	if (at_fd && r > 0)
		lseek(fd, off + r, SEEK_SET);
	umm_object_put(obj);
	return ret(r);
}

static ssize_t served_write(int fd, struct umm_object *obj, int fl, const struct iovec *iov, int cnt,
			    off_t off)
{
	return served_write_rwf(fd, obj, fl, iov, cnt, off, 0);
}

/*
 * served_write_rwf - served_write with pwritev2's flags in rwf (already
 * folded into fl: O_APPEND, O_DSYNC, O_SYNC): RWF_NOWAIT fails with
 * -EAGAIN a write that would have to read a page first; RWF_DONTCACHE
 * writes the range back after the write (the kernel starts that
 * writeback; usermm keeps the pages cached).
 */
static ssize_t served_write_rwf(int fd, struct umm_object *obj, int fl, const struct iovec *iov, int cnt,
				off_t off, int rwf)
{
	bool at_fd = off == AT_FD_OFFSET;
	off_t end = 0, start;
	ssize_t r;

	if (at_fd)
		off = fl & O_APPEND ? 0 : lseek(fd, 0, SEEK_CUR);  /* O_APPEND: cache_write goes to the end */
	start = fl & O_APPEND ? (off_t)umm_object_size(obj) : off;
	if (off < 0)
		r = -errno;
	else if ((rwf & RWF_NOWAIT) && !write_is_cached(obj, start, iov, cnt))
		r = -EAGAIN;
	else
		r = cache_writev(obj, fl, iov, cnt, off, &end);
	if (r > 0 && (rwf & RWF_DONTCACHE))
		PL_BUSY(filemap_write_range(obj, (uint64_t)(end - r) / UMM_PAGE_SIZE,
					    ((uint64_t)end + UMM_PAGE_SIZE - 1) / UMM_PAGE_SIZE));
	if (at_fd && r > 0)
		lseek(fd, end, SEEK_SET);
	umm_object_put(obj);
	return ret(r);
}

/** pread - through the page cache for a served file, else the kernel.  Bytes or -1 with errno. */
ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	struct iovec v = { buf, n };
	int fl;
	struct umm_object *obj = served_for(fd, 0, &fl);

	if (!obj) {
		preload_prefault(buf, n, 1);
		return preload_sys_pread(fd, buf, n, off);
	}
	if (off < 0) {
		umm_object_put(obj);
		return ret(-EINVAL);
	}
	return served_read(fd, obj, &v, 1, off);
}

/** pread64 - pread. */
ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
	return pread(fd, buf, n, off);
}

/** pwrite - through the page cache for a served file, else the kernel.  Bytes or -1 with errno. */
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	struct iovec v = { (void *)buf, n };
	int fl;
	struct umm_object *obj = served_for(fd, 1, &fl);

	if (!obj) {
		preload_prefault(buf, n, 0);
		return preload_sys_pwrite(fd, buf, n, off);
	}
	if (off < 0 && !(fl & O_APPEND)) {
		umm_object_put(obj);
		return ret(-EINVAL);
	}
	return served_write(fd, obj, fl, &v, 1, off < 0 ? 0 : off);  /* O_APPEND: at the end */
}

/** pwrite64 - pwrite. */
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite(fd, buf, n, off);
}

/** read - through the page cache at the descriptor's offset for a served file.  Bytes or -1. */
ssize_t read(int fd, void *buf, size_t n)
{
	struct iovec v = { buf, n };
	int fl;
	struct umm_object *obj = served_for(fd, 0, &fl);

	if (!obj) {
		preload_prefault(buf, n, 1);
		return preload_sys_read(fd, buf, n);
	}
	return served_read(fd, obj, &v, 1, AT_FD_OFFSET);
}

/** write - through the page cache at the descriptor's offset (the end for O_APPEND).  Bytes or -1. */
ssize_t write(int fd, const void *buf, size_t n)
{
	struct iovec v = { (void *)buf, n };
	int fl;
	struct umm_object *obj = served_for(fd, 1, &fl);

	if (!obj) {
		preload_prefault(buf, n, 0);
		return preload_sys_write(fd, buf, n);
	}
	return served_write(fd, obj, fl, &v, 1, AT_FD_OFFSET);
}

/** preadv - through the page cache for a served file.  Bytes or -1. */
ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	int fl;
	struct umm_object *obj = served_for(fd, 0, &fl);

	if (!obj) {
		prefault_iov(iov, cnt, 1);
		return preload_sys_preadv(fd, iov, cnt, off);
	}
	if (off < 0) {
		umm_object_put(obj);
		return ret(-EINVAL);
	}
	return served_read(fd, obj, iov, cnt, off);
}

/** preadv64 - preadv. */
ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return preadv(fd, iov, cnt, off);
}

/** pwritev - through the page cache for a served file.  Bytes or -1. */
ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	int fl;
	struct umm_object *obj = served_for(fd, 1, &fl);

	if (!obj) {
		prefault_iov(iov, cnt, 0);
		return preload_sys_pwritev(fd, iov, cnt, off);
	}
	if (off < 0 && !(fl & O_APPEND)) {
		umm_object_put(obj);
		return ret(-EINVAL);
	}
	return served_write(fd, obj, fl, iov, cnt, off < 0 ? 0 : off);
}

/** pwritev64 - pwritev. */
ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return pwritev(fd, iov, cnt, off);
}

/*
 * rwf_check - the kernel's checks of a served call's vector and flags,
 * in its order: a bad vector (-EINVAL), nothing to do (1: the call
 * returns 0 whatever the flags), unknown flags or RWF_ATOMIC (which needs
 * direct I/O) -EOPNOTSUPP, RWF_APPEND with RWF_NOAPPEND -EINVAL.  0: go on.
 */
static int rwf_check(const struct iovec *iov, int cnt, int rwf)
{
	ssize_t r = iov_check(iov, cnt);
	size_t total = 0;

	if (r)
		return (int)r;
	for (int i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	if (!total)
		return 1;
	if ((rwf & ~RWF_KNOWN) || (rwf & RWF_ATOMIC))
		return -EOPNOTSUPP;
	if ((rwf & RWF_APPEND) && (rwf & RWF_NOAPPEND))
		return -EINVAL;
	return 0;
}

/**
 * preadv2 - preadv with flags, through the page cache for a served file
 * (offset -1: at and advancing the descriptor's offset).  RWF_NOWAIT
 * reads only what is cached (EAGAIN when the first page is not);
 * RWF_HIPRI, RWF_DONTCACHE and the write flags change nothing for a
 * read; unknown flags and RWF_ATOMIC are EOPNOTSUPP.  Bytes or -1 with errno.
 */
ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int rwf)
{
	int fl, err;
	struct umm_object *obj;

	if (off < -1)
		return ret(-EINVAL);
	obj = served_for(fd, 0, &fl);
	if (!obj) {
		prefault_iov(iov, cnt, 1);
		return preload_sys_preadv2(fd, iov, cnt, off, rwf);
	}
	err = rwf_check(iov, cnt, rwf);
	if (err) {
		umm_object_put(obj);
		return err < 0 ? ret(err) : 0;
	}
	return served_read_max(fd, obj, iov, cnt, off == -1 ? AT_FD_OFFSET : off, SIZE_MAX, rwf);
}

/** preadv64v2 - preadv2. */
ssize_t preadv64v2(int fd, const struct iovec *iov, int cnt, off_t off, int rwf)
{
	return preadv2(fd, iov, cnt, off, rwf);
}

/**
 * pwritev2 - pwritev with flags, through the page cache for a served
 * file (offset -1: at and advancing the descriptor's offset).
 * RWF_APPEND writes at the end (and RWF_NOAPPEND at the offset on an
 * O_APPEND descriptor), RWF_DSYNC/RWF_SYNC sync the range written, as
 * O_DSYNC does; RWF_NOWAIT is EAGAIN when a page would have to be read
 * first; RWF_DONTCACHE writes the range back; RWF_HIPRI is ignored;
 * unknown flags and RWF_ATOMIC are EOPNOTSUPP.  Bytes or -1 with errno.
 */
ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int rwf)
{
	int fl, err;
	struct umm_object *obj;

	if (off < -1)
		return ret(-EINVAL);
	obj = served_for(fd, 1, &fl);
	if (!obj) {
		prefault_iov(iov, cnt, 0);
		return preload_sys_pwritev2(fd, iov, cnt, off, rwf);
	}
	err = rwf_check(iov, cnt, rwf);
	if (err) {
		umm_object_put(obj);
		return err < 0 ? ret(err) : 0;
	}
	if (rwf & RWF_APPEND)
		fl |= O_APPEND;
	if (rwf & RWF_NOAPPEND)
		fl &= ~O_APPEND;
	if (rwf & RWF_DSYNC)
		fl |= O_DSYNC;
	if (rwf & RWF_SYNC)
		fl |= O_SYNC;
	return served_write_rwf(fd, obj, fl, iov, cnt, off == -1 ? AT_FD_OFFSET : off, rwf);
}

/** pwritev64v2 - pwritev2. */
ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt, off_t off, int rwf)
{
	return pwritev2(fd, iov, cnt, off, rwf);
}

/** readv - at the descriptor's offset through the page cache for a served file.  Bytes or -1. */
ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	int fl;
	struct umm_object *obj = served_for(fd, 0, &fl);

	if (!obj) {
		prefault_iov(iov, cnt, 1);
		return preload_sys_readv(fd, iov, cnt);
	}
	return served_read(fd, obj, iov, cnt, AT_FD_OFFSET);
}

/** writev - at the descriptor's offset (the end for O_APPEND) through the page cache.  Bytes or -1. */
ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	int fl;
	struct umm_object *obj = served_for(fd, 1, &fl);

	if (!obj) {
		prefault_iov(iov, cnt, 0);
		return preload_sys_writev(fd, iov, cnt);
	}
	return served_write(fd, obj, fl, iov, cnt, AT_FD_OFFSET);
}

/**
 * ftruncate - a served file through umm_object_truncate (which truncates
 * the file too; shrinking unmaps the pages past the end: later accesses
 * there raise SIGBUS); a descriptor not open for writing, or another file,
 * through the kernel.  0 or -1 with errno.
 */
int ftruncate(int fd, off_t len)
{
	int fl, err;
	struct umm_object *obj = len < 0 ? NULL : served_for(fd, 1, &fl);

	if (!obj)
		return preload_sys_ftruncate(fd, len);
	err = PL_BUSY(umm_object_truncate(obj, (uint64_t)len));
	PL_COUNT(truncates, 1);
	umm_object_put(obj);
	return err ? (int)ret(err) : 0;
}

/** ftruncate64 - ftruncate. */
int ftruncate64(int fd, off_t len)
{
	return ftruncate(fd, len);
}

/**
 * fsync - a served file's dirty pages written back (and a writeback error
 * recorded since the last sync reported), then the kernel's fsync, which
 * makes them and the metadata durable.  0 or -1.
 */
int fsync(int fd)
{
	int fl, err = 0, wb;
	struct umm_object *obj = served(fd, &fl);

	if (obj) {
		err = PL_BUSY(filemap_write_range(obj, 0, UINT64_MAX));
		wb = atomic_exchange(&obj->wb_err, 0);
		if (!err)
			err = wb;
		PL_COUNT(syncs, 1);
		umm_object_put(obj);
	}
	if (err)
		return (int)ret(err);
	return preload_sys_fsync(fd);
}

/** fdatasync - a served file's dirty pages written back, then fdatasync.  0 or -1. */
int fdatasync(int fd)
{
	int fl, err = 0;
	struct umm_object *obj = served(fd, &fl);

	if (obj) {
		err = PL_BUSY(umm_object_sync(obj, 0, 0));
		PL_COUNT(syncs, 1);
		umm_object_put(obj);
		return err ? (int)ret(err) : 0;
	}
	return preload_sys_fdatasync(fd);
}

/** truncate - a served file (found by its path's device and inode) through umm_object_truncate; else the kernel's.  0 or -1. */
int truncate(const char *path, off_t len)
{
	struct preload_file *f;
	struct umm_object *obj = NULL;
	struct stat st;
	int err;

	if (atomic_load(&pl.nfiles) && len >= 0 && !stat(path, &st) && S_ISREG(st.st_mode)) {
		preload_lock();
		f = preload_file_find_locked(st.st_dev, st.st_ino);
		if (f) {
			obj = f->obj;
			umm_object_get(obj);
		}
		preload_unlock();
	}
	if (!obj)
		return preload_sys_truncate(path, len);
	/* the caller's own permission first: the object's descriptor may allow what the path does not */
	if (access(path, W_OK)) {
		umm_object_put(obj);
		return -1;
	}
	err = PL_BUSY(umm_object_truncate(obj, (uint64_t)len));
	PL_COUNT(truncates, 1);
	umm_object_put(obj);
	return err ? (int)ret(err) : 0;
}

/** truncate64 - truncate. */
int truncate64(const char *path, off_t len)
{
	return truncate(path, len);
}

/*
 * fallocate of a served file: mode 0 (and FALLOC_FL_KEEP_SIZE) go to the
 * kernel, then the object grows to the file's new size; the modes that
 * change bytes already cached (punching holes, zeroing, collapsing,
 * inserting ranges) are refused with EOPNOTSUPP rather than leave the
 * page cache out of step with the file.
 */
static int served_fallocate(int fd, int mode, off_t off, off_t len)
{
	int fl, r;
	struct umm_object *obj = served(fd, &fl);
	struct stat st;

	if (!obj)
		return preload_sys_fallocate(fd, mode, off, len);
	if (mode & ~FALLOC_FL_KEEP_SIZE) {
		umm_object_put(obj);
		errno = EOPNOTSUPP;
		return -1;
	}
	r = preload_sys_fallocate(fd, mode, off, len);
	if (!r && !fstat(fd, &st) && (uint64_t)st.st_size > umm_object_size(obj))
		r = (int)ret(PL_BUSY(object_extend(obj, (uint64_t)st.st_size, NULL)));
	umm_object_put(obj);
	return r;
}

/** fallocate - see served_fallocate.  0 or -1 with errno. */
int fallocate(int fd, int mode, off_t off, off_t len)
{
	return served_fallocate(fd, mode, off, len);
}

/** fallocate64 - fallocate. */
int fallocate64(int fd, int mode, off_t off, off_t len)
{
	return served_fallocate(fd, mode, off, len);
}

/** posix_fallocate - fallocate mode 0; returns the error number (0 on success), as POSIX says. */
int posix_fallocate(int fd, off_t off, off_t len)
{
	int saved = errno, r;

	if (off < 0 || len <= 0)
		return EINVAL;
	r = served_fallocate(fd, 0, off, len) ? errno : 0;
	errno = saved;
	return r;
}

/** posix_fallocate64 - posix_fallocate. */
int posix_fallocate64(int fd, off_t off, off_t len)
{
	return posix_fallocate(fd, off, len);
}

/*
 * sendfile and copy_file_range move bytes inside the kernel, from its own
 * copy of the file.  A served source is written back first, so the
 * kernel's copy is current; a served destination would be changed behind
 * usermm's page cache, so copy_file_range refuses it with EXDEV (callers
 * fall back to read and write, which are served) and sendfile writes
 * through a buffer instead.
 */
static void writeback_source(int fd)
{
	int fl;
	struct umm_object *obj = served(fd, &fl);

	if (obj) {
		PL_BUSY(filemap_write_range(obj, 0, UINT64_MAX));
		umm_object_put(obj);
	}
}

/** sendfile - see above.  Bytes or -1 with errno. */
ssize_t sendfile(int out, int in, off_t *offset, size_t count)
{
	int fl;
	struct umm_object *dst = served(out, &fl);
	char buf[16384];
	ssize_t n, w, done = 0;

	writeback_source(in);
	if (!dst)
		return preload_sys_sendfile(out, in, offset, count);
	umm_object_put(dst);
	while ((size_t)done < count) {
		size_t want = count - (size_t)done < sizeof(buf) ? count - (size_t)done : sizeof(buf);

		n = offset ? pread(in, buf, want, *offset) : read(in, buf, want);
		if (n <= 0) {
			if (n < 0 && !done)
				return -1;
			break;
		}
		w = write(out, buf, (size_t)n);
		if (w < 0) {
			if (!done)
				return -1;
			break;
		}
		if (offset)
			*offset += w;
		done += w;
		if (w < n) {
			if (!offset)
				lseek(in, w - n, SEEK_CUR);
			break;
		}
	}
	return done;
}

/** sendfile64 - sendfile. */
ssize_t sendfile64(int out, int in, off_t *offset, size_t count)
{
	return sendfile(out, in, offset, count);
}

/** copy_file_range - see above.  Bytes or -1 with errno. */
ssize_t copy_file_range(int in, off_t *in_off, int out, off_t *out_off, size_t len, unsigned int flags)
{
	int fl;
	struct umm_object *dst = served(out, &fl);

	if (dst) {
		umm_object_put(dst);
		errno = EXDEV;
		return -1;
	}
	writeback_source(in);
	return preload_sys_copy_file_range(in, in_off, out, out_off, len, flags);
}
