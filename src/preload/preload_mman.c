/* SPDX-License-Identifier: MIT */
/*
 * preload_mman.c - the interposed mmap family: mmap/mmap64, munmap,
 * mremap, mprotect, msync, madvise, mincore, mlock/mlock2/munlock.  What goes to usermm and what to the
 * kernel is described at the top of preload.c.
 *
 * Host address h in the window is usermm address ustart + (h - base).
 * Errors are Linux's: usermm's calls return them as negative errnos and
 * the interposer sets errno.
 *
 * Locks: pl.lock around each call that changes the mm's mappings or the
 * file table (see preload.c); usermm's locks nest inside it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>
#include "preload.h"

static void *fail_ptr(int err)
{
	errno = err;
	return MAP_FAILED;
}

static int fail_int(int err)
{
	errno = err;
	return -1;
}

static inline void *to_host(uintptr_t ua)
{
	return atomic_load(&pl.base) + (ua - pl.ustart);
}

/* A usermm result that the window cannot show (placed below it). */
static bool outside_window(uintptr_t ua, size_t len)
{
	return ua < pl.ustart || ua - pl.ustart > pl.wlen || len > pl.wlen - (ua - pl.ustart);
}

/* Anonymous MAP_FIXED / MAP_FIXED_NOREPLACE wholly inside the window: usermm's. */
static void *mmap_anon_fixed(void *addr, size_t len, int prot, int flags)
{
	uintptr_t ua, out;
	int err;

	if (preload_window_part(addr, len, &ua) != 1)
		return fail_ptr(ENOMEM);       /* straddles the window's edge */
	preload_lock();
	err = umm_mmap(pl.mm, ua, len, prot, flags, NULL, 0, &out);
	if (!err)
		PL_COUNT(anon_fixed, 1);
	preload_files_reap_locked();           /* MAP_FIXED may have replaced file mappings */
	preload_unlock();
	return err ? fail_ptr(-err) : to_host(out);
}

/*
 * kernel_only_file - a memfd or a POSIX shared memory object (a file
 * under /dev/shm): regular files made to be shared with other processes,
 * which usermm's page cache, private to this process, cannot do; or a
 * file of procfs, sysfs (device registers) or hugetlbfs, whose mappings
 * are not page-cache pages.  They go to the kernel.  One fstatfs and one
 * readlink, at the first mapping of a file only.
 */
static bool kernel_only_file(int fd)
{
	char link[64], path[32];
	struct statfs sfs;
	ssize_t n;

	if (!fstatfs(fd, &sfs) && (sfs.f_type == PROC_SUPER_MAGIC || sfs.f_type == SYSFS_MAGIC ||
				   sfs.f_type == HUGETLBFS_MAGIC))
		return true;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return false;
	link[n] = 0;
	return !strncmp(link, "/memfd:", 7) || !strncmp(link, "/dev/shm/", 9);
}

/*
 * place - where a file mapping without a usable hint goes: the highest
 * free range of the window that starts on a PLACE_GRANULE boundary and
 * has len rounded up to PLACE_GRANULE bytes free (usermm's own top-down
 * choice for that size, found by reserving it and letting it go; pl.lock
 * held, so nothing takes it meanwhile).  Mappings of different sizes
 * below the granule then land at the same addresses run after run when a
 * program maps the same files in the same order: LMDB with MDB_FIXEDMAP
 * maps its lock file, whose size follows the reader count of each run,
 * before the map whose address it stored.  0 (usermm chooses) if nothing
 * is free.  pl.lock held.
 */
#define PLACE_GRANULE (64UL << 20)
static uintptr_t place(size_t len)
{
	size_t g = (len + PLACE_GRANULE - 1) & ~(PLACE_GRANULE - 1);
	uintptr_t a;

	if (!len || g < len || g > pl.wlen)
		return 0;
	if (umm_mmap(pl.mm, 0, g + PLACE_GRANULE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		     NULL, 0, &a))
		return 0;
	umm_munmap(pl.mm, a, g + PLACE_GRANULE);
	a = (a + PLACE_GRANULE - 1) & ~(PLACE_GRANULE - 1);       /* an aligned g inside it */
	return outside_window(a, g) ? 0 : a;
}

static void *fallback(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	PL_COUNT(fallbacks, 1);
	return preload_sys_mmap(addr, len, prot, flags, fd, off);
}

/**
 * mmap - serve a regular file's mapping from usermm (see preload.c), pass
 * anything else to the kernel.  Takes pl.lock for a served mapping.
 * Returns the host address or MAP_FAILED with errno (Linux's errors; a
 * MAP_FIXED range that straddles the window's edge is ENOMEM).
 */
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	int part = preload_window_part(addr, len ? len : 1, NULL);
	struct preload_file *f;
	struct stat st;
	uintptr_t ua = 0, out;
	int fl, err;

	if ((flags & MAP_ANONYMOUS) || fd < 0) {
		if (part && (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) && len)
			return mmap_anon_fixed(addr, len, prot, flags);
		return preload_sys_mmap(addr, len, prot, flags, fd, off);
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || !preload_on())
		return preload_sys_mmap(addr, len, prot, flags, fd, off);
	/* the kernel must never map over the window */
	if (part && (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) && preload_window_part(addr, len, &ua) != 1)
		return fail_ptr(ENOMEM);
	if ((prot & PROT_EXEC) || (!part && (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE))))
		return fallback(addr, len, prot, flags, fd, off);
	/* the descriptor's own access mode decides, as in Linux */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return fail_ptr(EBADF);
	if ((fl & O_ACCMODE) == O_WRONLY ||
	    ((flags & MAP_TYPE) != MAP_PRIVATE && (prot & PROT_WRITE) && (fl & O_ACCMODE) != O_RDWR))
		return fail_ptr(EACCES);
	preload_lock();
	if (preload_kfile_locked(st.st_dev, st.st_ino) ||
	    (!preload_file_find_locked(st.st_dev, st.st_ino) && kernel_only_file(fd))) {
		preload_unlock();
		return fallback(addr, len, prot, flags, fd, off);
	}
	err = preload_window_locked();
	if (err) {
		preload_unlock();
		return fallback(addr, len, prot, flags, fd, off);
	}
	/* a hint wholly inside the window is kept (the window may be new: look now) */
	if (addr && !(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) &&
	    !preload_window_part(addr, len, &ua) && !((uintptr_t)addr & (UMM_PAGE_SIZE - 1)) &&
	    !preload_file_find_locked(st.st_dev, st.st_ino)) {
		/*
		 * A hint outside the window, for a file usermm does not serve yet:
		 * if the range is free the kernel would give it (LMDB's
		 * MDB_FIXEDMAP reopening a map made without the interposer
		 * depends on that), and only the kernel can map there.
		 */
		void *p = preload_sys_mmap(addr, len, prot, flags | MAP_FIXED_NOREPLACE, fd, off);

		if (p != MAP_FAILED) {
			preload_unlock();
			PL_COUNT(fallbacks, 1);
			return p;
		}
	}
	if (!ua && !(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)))
		ua = place(len);
	err = preload_file_get_locked(fd, &st, &f);
	if (!err)
		err = umm_mmap(pl.mm, ua, len, prot, flags, f->obj, (uint64_t)off, &out);
	if (!err && outside_window(out, len)) {
		umm_munmap(pl.mm, out, len);
		preload_files_reap_locked();
		preload_unlock();
		return fallback(addr, len, prot, flags, fd, off);
	}
	if (!err)
		PL_COUNT(mmaps, 1);
	preload_files_reap_locked();
	preload_unlock();
	if (err)
		return fail_ptr(-err);
	if ((prot & PROT_WRITE) && (flags & MAP_TYPE) != MAP_PRIVATE)
		preload_flusher_want(false);
	return to_host(out);
}

/** mmap64 - mmap (off_t is 64-bit). */
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

/*
 * split - the part of [p, p + len) outside the window, before it (*lo,
 * *lo_len) and after it (*hi, *hi_len); the part inside as a usermm
 * range (*ua, *ulen).  The range meets the window.
 */
static void split(void *p, size_t len, uintptr_t *ua, size_t *ulen,
		  char **lo, size_t *lo_len, char **hi, size_t *hi_len)
{
	char *base = atomic_load(&pl.base), *s = p, *e = s + len;
	char *is = s < base ? base : s, *ie = e > base + pl.wlen ? base + pl.wlen : e;

	*lo = s;
	*lo_len = s < base ? (size_t)(base - s) : 0;
	*hi = ie;
	*hi_len = e > ie ? (size_t)(e - ie) : 0;
	*ua = pl.ustart + (uintptr_t)(is - base);
	*ulen = (size_t)(ie - is);
}

/**
 * munmap - unmap: window addresses through umm_munmap, the rest through
 * the kernel.  Takes pl.lock for window addresses.  0 or -1 with errno.
 */
int munmap(void *addr, size_t len)
{
	uintptr_t ua;
	size_t ulen, lo_len, hi_len;
	char *lo, *hi;
	int err;

	if (!len || !preload_window_part(addr, len, NULL))
		return preload_sys_munmap(addr, len);
	if ((uintptr_t)addr & (UMM_PAGE_SIZE - 1))
		return fail_int(EINVAL);
	split(addr, len, &ua, &ulen, &lo, &lo_len, &hi, &hi_len);
	if ((lo_len && preload_sys_munmap(lo, lo_len)) || (hi_len && preload_sys_munmap(hi, hi_len)))
		return -1;
	preload_lock();
	err = umm_munmap(pl.mm, ua, ulen);
	PL_COUNT(munmaps, 1);
	preload_files_reap_locked();
	preload_unlock();
	return err ? fail_int(-err) : 0;
}

/**
 * mprotect - change protection: window addresses through umm_mprotect
 * (PROT_EXEC is refused with EACCES there: windows never execute), the
 * rest through the kernel.  0 or -1 with errno.
 */
int mprotect(void *addr, size_t len, int prot)
{
	uintptr_t ua;
	size_t ulen, lo_len, hi_len;
	char *lo, *hi;
	int err;

	if (!len || !preload_window_part(addr, len, NULL))
		return preload_sys_mprotect(addr, len, prot);
	if ((uintptr_t)addr & (UMM_PAGE_SIZE - 1))
		return fail_int(EINVAL);
	if (prot & PROT_EXEC)
		return fail_int(EACCES);
	split(addr, len, &ua, &ulen, &lo, &lo_len, &hi, &hi_len);
	if ((lo_len && preload_sys_mprotect(lo, lo_len, prot)) ||
	    (hi_len && preload_sys_mprotect(hi, hi_len, prot)))
		return -1;
	if (prot & PROT_WRITE)
		preload_flusher_want(false);    /* maybe a shared mapping: its stores are dirty data */
	preload_lock();
	err = umm_mprotect(pl.mm, ua, ulen, prot);
	PL_COUNT(mprotects, 1);
	preload_unlock();
	return err ? fail_int(-err) : 0;
}

/**
 * msync - window addresses through umm_msync (MS_SYNC writes back and
 * fdatasyncs), the rest through the kernel.  0 or -1 with errno.
 */
int msync(void *addr, size_t len, int flags)
{
	uintptr_t ua;
	size_t ulen, lo_len, hi_len;
	char *lo, *hi;
	int err;

	if (!len || !preload_window_part(addr, len, NULL))
		return preload_sys_msync(addr, len, flags);
	if ((uintptr_t)addr & (UMM_PAGE_SIZE - 1))
		return fail_int(EINVAL);
	split(addr, len, &ua, &ulen, &lo, &lo_len, &hi, &hi_len);
	if ((lo_len && preload_sys_msync(lo, lo_len, flags)) ||
	    (hi_len && preload_sys_msync(hi, hi_len, flags)))
		return -1;
	err = PL_BUSY(umm_msync(pl.mm, ua, ulen, flags));
	PL_COUNT(msyncs, 1);
	return err ? fail_int(-err) : 0;
}

/* Advice that only tunes the kernel's own bookkeeping: accepted and ignored in the window. */
static bool advice_kernel_only(int advice)
{
	switch (advice) {
	case 12: case 13:          /* MADV_MERGEABLE, MADV_UNMERGEABLE */
	case 14: case 15:          /* MADV_HUGEPAGE, MADV_NOHUGEPAGE */
	case 16: case 17:          /* MADV_DONTDUMP, MADV_DODUMP */
	case 18: case 19:          /* MADV_WIPEONFORK, MADV_KEEPONFORK */
	case 25:                   /* MADV_COLLAPSE */
		return true;
	default:
		return false;
	}
}

/**
 * madvise - window addresses through umm_madvise (advice that only tunes
 * the kernel's own bookkeeping, such as MADV_HUGEPAGE or MADV_DONTDUMP,
 * is accepted and does nothing there), the rest through the kernel.
 * 0 or -1 with errno.
 */
int madvise(void *addr, size_t len, int advice)
{
	uintptr_t ua;
	size_t ulen, lo_len, hi_len;
	char *lo, *hi;
	int err;

	if (!len || !preload_window_part(addr, len, NULL))
		return preload_sys_madvise(addr, len, advice);
	if ((uintptr_t)addr & (UMM_PAGE_SIZE - 1))
		return fail_int(EINVAL);
	split(addr, len, &ua, &ulen, &lo, &lo_len, &hi, &hi_len);
	if ((lo_len && preload_sys_madvise(lo, lo_len, advice)) ||
	    (hi_len && preload_sys_madvise(hi, hi_len, advice)))
		return -1;
	PL_COUNT(madvises, 1);
	if (advice_kernel_only(advice))
		return 0;
	err = PL_BUSY(umm_madvise(pl.mm, ua, ulen, advice));
	if (advice == MADV_DONTNEED || advice == MADV_REMOVE) {
		preload_lock();
		preload_files_reap_locked();
		preload_unlock();
	}
	return err ? fail_int(-err) : 0;
}

/**
 * mremap - a window mapping through umm_mremap (MREMAP_FIXED: the new
 * address must be in the window too, else EINVAL), anything else through
 * the kernel.  Takes pl.lock for window mappings.  The new address or
 * MAP_FAILED with errno.
 */
void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = NULL;
	uintptr_t uold, unew = 0, out;
	int err;

	if (flags & MREMAP_FIXED) {
		va_list ap;

		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	if (preload_window_part(old, old_len ? old_len : 1, &uold) != 1) {
		if (preload_window_part(old, old_len ? old_len : 1, NULL))
			return fail_ptr(EINVAL);   /* straddles the window's edge */
		if ((flags & MREMAP_FIXED) && preload_window_part(new_addr, new_len ? new_len : 1, NULL))
			return fail_ptr(EINVAL);   /* the kernel must not map into the window */
		return preload_sys_mremap(old, old_len, new_len, flags, new_addr);
	}
	if ((flags & MREMAP_FIXED) && preload_window_part(new_addr, new_len, &unew) != 1)
		return fail_ptr(EINVAL);
	preload_lock();
	err = umm_mremap(pl.mm, uold, old_len, new_len, flags, unew, &out);
	if (!err && outside_window(out, new_len)) {
		/* put it back where it was: the window cannot show it */
		umm_mremap(pl.mm, out, new_len, old_len, MREMAP_MAYMOVE | MREMAP_FIXED, uold, &out);
		err = -ENOMEM;
	}
	PL_COUNT(mremaps, 1);
	preload_files_reap_locked();
	preload_unlock();
	return err ? fail_ptr(-err) : to_host(out);
}

/**
 * mincore - window addresses through umm_mincore (resident: mapped, or in
 * usermm's page cache), the rest through the kernel.  The range must not
 * straddle the window's edge (ENOMEM).  0 or -1 with errno.
 */
int mincore(void *addr, size_t len, unsigned char *vec)
{
	uintptr_t ua;
	int part = preload_window_part(addr, len ? len : 1, &ua), err;

	if (!len || !part)
		return preload_sys_mincore(addr, len, vec);
	if (part < 0)
		return fail_int(ENOMEM);
	/* usermm writes vec holding its mmap_lock: a vector in the window goes through a copy */
	if (preload_window_part(vec, (len + UMM_PAGE_SIZE - 1) / UMM_PAGE_SIZE, NULL)) {
		size_t n = (len + UMM_PAGE_SIZE - 1) / UMM_PAGE_SIZE;
		unsigned char *tmp = malloc(n);

		if (!tmp)
			return fail_int(EAGAIN);
		err = PL_BUSY(umm_mincore(pl.mm, ua, len, tmp));
		if (!err)
			memcpy(vec, tmp, n);
		free(tmp);
	} else {
		err = PL_BUSY(umm_mincore(pl.mm, ua, len, vec));
	}
	return err ? fail_int(-err) : 0;
}

/* mlock, mlock2, munlock: window addresses through usermm (its pages are locked, not the reservation). */
static int lock_range(void *addr, size_t len, int lock, unsigned int flags)
{
	uintptr_t ua;
	size_t ulen, lo_len, hi_len;
	char *lo, *hi;
	int err;

	split(addr, len, &ua, &ulen, &lo, &lo_len, &hi, &hi_len);
	if (lock) {
		if ((lo_len && preload_sys_mlock2(lo, lo_len, flags)) ||
		    (hi_len && preload_sys_mlock2(hi, hi_len, flags)))
			return -1;
		err = PL_BUSY(umm_mlock2(pl.mm, ua & ~(UMM_PAGE_SIZE - 1), ulen + (ua & (UMM_PAGE_SIZE - 1)), flags));
	} else {
		if ((lo_len && preload_sys_munlock(lo, lo_len)) || (hi_len && preload_sys_munlock(hi, hi_len)))
			return -1;
		err = PL_BUSY(umm_munlock(pl.mm, ua & ~(UMM_PAGE_SIZE - 1), ulen + (ua & (UMM_PAGE_SIZE - 1))));
	}
	return err ? fail_int(-err) : 0;
}

/** mlock - lock: window addresses through umm_mlock, the rest through the kernel.  0 or -1. */
int mlock(const void *addr, size_t len)
{
	if (!len || !preload_window_part(addr, len, NULL))
		return preload_sys_mlock2(addr, len, 0);
	return lock_range((void *)addr, len, 1, 0);
}

/** mlock2 - mlock with MLOCK_ONFAULT.  0 or -1. */
int mlock2(const void *addr, size_t len, unsigned int flags)
{
	if (!len || !preload_window_part(addr, len, NULL))
		return preload_sys_mlock2(addr, len, flags);
	return lock_range((void *)addr, len, 1, flags);
}

/** munlock - unlock: window addresses through umm_munlock, the rest through the kernel.  0 or -1. */
int munlock(const void *addr, size_t len)
{
	if (!len || !preload_window_part(addr, len, NULL))
		return preload_sys_munlock(addr, len);
	return lock_range((void *)addr, len, 0, 0);
}
