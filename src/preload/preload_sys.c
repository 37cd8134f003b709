/* SPDX-License-Identifier: MIT */
/*
 * preload_sys.c - the kernel's own calls, for the interposer and for the
 * usermm library linked into it.
 *
 * Inside libusermm_preload.so the names mmap, pwrite, read... belong to
 * the interposer.  The build renames every reference the usermm objects
 * make to one of those names (objcopy --redefine-syms with redirect.syms)
 * to the preload_sys_* function here, which makes the system call
 * directly: usermm's own I/O on its file descriptors, its arena mappings
 * and the host MMU's window mappings never come back into the
 * interposer, whichever thread makes them (fault threads, kswapd, I/O
 * threads).  The interposer passes what it does not serve to these too.
 * They are raw system calls (unlike the C library's wrappers they are not
 * thread-cancellation points), except sigaction, which is the C
 * library's own (found with dlsym(RTLD_NEXT) when the library is loaded:
 * it supplies the signal return trampoline), and execvpe and fexecve,
 * the C library's too (its PATH search and shell fallback; its
 * /proc/self/fd fallback).
 *
 * No locks.
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include "preload.h"

/*
 * Where this thread's next window reservation should go (see
 * preload_sys_place_window): the window's len, and the address tried.
 */
static __thread size_t place_len;
static __thread void *place_at;

/**
 * preload_sys_place_window - ask that the next PROT_NONE, MAP_NORESERVE
 * anonymous reservation of exactly len bytes this thread makes (the host
 * MMU's window, umm_host_attach) be placed at at if that range is free
 * (MAP_FIXED_NOREPLACE), anywhere otherwise; len 0 cancels.  So the window
 * lands at the same address in every run, and a program that stored a
 * mapping's address in a file and maps again with it as the hint (LMDB's
 * MDB_FIXEDMAP) gets it back, as it does from the kernel.  No lock.
 */
void preload_sys_place_window(void *at, size_t len)
{
	place_at = at;
	place_len = len;
}

/** preload_sys_mmap - mmap(2) itself.  Returns the address or MAP_FAILED (errno set). */
void *preload_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	long r;

	if (place_len && len == place_len && !addr && prot == PROT_NONE &&
	    flags == (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)) {
		place_len = 0;
		r = syscall(SYS_mmap, place_at, len, prot, flags | MAP_FIXED_NOREPLACE, fd, off);
		if (r != -1)
			return (void *)r;
	}
	r = syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	return r == -1 ? MAP_FAILED : (void *)r;
}

/** preload_sys_munmap - munmap(2).  0 or -1 (errno set). */
int preload_sys_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

/** preload_sys_mremap - mremap(2) (new_address read when MREMAP_FIXED is given).  Address or MAP_FAILED. */
void *preload_sys_mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = NULL;
	long r;

	if (flags & MREMAP_FIXED) {
		va_list ap;

		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	r = syscall(SYS_mremap, old, old_len, new_len, flags, new_addr);
	return r == -1 ? MAP_FAILED : (void *)r;
}

/** preload_sys_mprotect - mprotect(2).  0 or -1. */
int preload_sys_mprotect(void *addr, size_t len, int prot)
{
	return (int)syscall(SYS_mprotect, addr, len, prot);
}

/** preload_sys_msync - msync(2).  0 or -1. */
int preload_sys_msync(void *addr, size_t len, int flags)
{
	return (int)syscall(SYS_msync, addr, len, flags);
}

/** preload_sys_madvise - madvise(2).  0 or -1. */
int preload_sys_madvise(void *addr, size_t len, int advice)
{
	return (int)syscall(SYS_madvise, addr, len, advice);
}

/** preload_sys_pread - pread64(2).  Bytes or -1. */
ssize_t preload_sys_pread(int fd, void *buf, size_t n, off_t off)
{
	return syscall(SYS_pread64, fd, buf, n, off);
}

/** preload_sys_pwrite - pwrite64(2).  Bytes or -1. */
ssize_t preload_sys_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	return syscall(SYS_pwrite64, fd, buf, n, off);
}

/** preload_sys_preadv - preadv(2) (the offset in the low word; the high word is 0 on 64-bit).  Bytes or -1. */
ssize_t preload_sys_preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return syscall(SYS_preadv, fd, iov, cnt, (long)off, 0L);
}

/** preload_sys_pwritev - pwritev(2).  Bytes or -1. */
ssize_t preload_sys_pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return syscall(SYS_pwritev, fd, iov, cnt, (long)off, 0L);
}

/** preload_sys_read - read(2).  Bytes or -1. */
ssize_t preload_sys_read(int fd, void *buf, size_t n)
{
	return syscall(SYS_read, fd, buf, n);
}

/** preload_sys_write - write(2).  Bytes or -1. */
ssize_t preload_sys_write(int fd, const void *buf, size_t n)
{
	return syscall(SYS_write, fd, buf, n);
}

/** preload_sys_readv - readv(2).  Bytes or -1. */
ssize_t preload_sys_readv(int fd, const struct iovec *iov, int cnt)
{
	return syscall(SYS_readv, fd, iov, cnt);
}

/** preload_sys_writev - writev(2).  Bytes or -1. */
ssize_t preload_sys_writev(int fd, const struct iovec *iov, int cnt)
{
	return syscall(SYS_writev, fd, iov, cnt);
}

/** preload_sys_ftruncate - ftruncate(2).  0 or -1. */
int preload_sys_ftruncate(int fd, off_t len)
{
	return (int)syscall(SYS_ftruncate, fd, len);
}

/** preload_sys_fsync - fsync(2).  0 or -1. */
int preload_sys_fsync(int fd)
{
	return (int)syscall(SYS_fsync, fd);
}

/** preload_sys_fdatasync - fdatasync(2).  0 or -1. */
int preload_sys_fdatasync(int fd)
{
	return (int)syscall(SYS_fdatasync, fd);
}

/** preload_sys_truncate - truncate(2).  0 or -1. */
int preload_sys_truncate(const char *path, off_t len)
{
	return (int)syscall(SYS_truncate, path, len);
}

/** preload_sys_fallocate - fallocate(2).  0 or -1. */
int preload_sys_fallocate(int fd, int mode, off_t off, off_t len)
{
	return (int)syscall(SYS_fallocate, fd, mode, off, len);
}

/** preload_sys_mincore - mincore(2).  0 or -1. */
int preload_sys_mincore(void *addr, size_t len, unsigned char *vec)
{
	return (int)syscall(SYS_mincore, addr, len, vec);
}

/** preload_sys_mlock2 - mlock2(2) (flags 0: mlock).  0 or -1. */
int preload_sys_mlock2(const void *addr, size_t len, unsigned int flags)
{
	return (int)syscall(SYS_mlock2, addr, len, flags);
}

/** preload_sys_sigaltstack - sigaltstack(2).  0 or -1. */
int preload_sys_sigaltstack(const stack_t *ss, stack_t *old)
{
	return (int)syscall(SYS_sigaltstack, ss, old);
}

/** preload_sys_munlock - munlock(2).  0 or -1. */
int preload_sys_munlock(const void *addr, size_t len)
{
	return (int)syscall(SYS_munlock, addr, len);
}

/** preload_sys_sendfile - sendfile(2).  Bytes or -1. */
ssize_t preload_sys_sendfile(int out, int in, off_t *offset, size_t count)
{
	return syscall(SYS_sendfile, out, in, offset, count);
}

/** preload_sys_copy_file_range - copy_file_range(2).  Bytes or -1. */
ssize_t preload_sys_copy_file_range(int in, off_t *in_off, int out, off_t *out_off, size_t len,
				    unsigned int flags)
{
	return syscall(SYS_copy_file_range, in, in_off, out, out_off, len, flags);
}

/** preload_sys_preadv2 - preadv2(2) (offset -1: at the descriptor's offset).  Bytes or -1. */
ssize_t preload_sys_preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	return syscall(SYS_preadv2, fd, iov, cnt, (long)off, 0L, flags);
}

/** preload_sys_pwritev2 - pwritev2(2).  Bytes or -1. */
ssize_t preload_sys_pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	return syscall(SYS_pwritev2, fd, iov, cnt, (long)off, 0L, flags);
}

/** preload_sys_execve - execve(2).  Returns only on failure: -1 (errno set). */
int preload_sys_execve(const char *path, char *const argv[], char *const envp[])
{
	return (int)syscall(SYS_execve, path, argv, envp);
}

/** preload_sys_execveat - execveat(2).  Returns only on failure: -1 (errno set). */
int preload_sys_execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
	return (int)syscall(SYS_execveat, dirfd, path, argv, envp, flags);
}

/** preload_sys_exit_group - exit_group(2): the whole process ends, nothing runs first. */
void preload_sys_exit_group(int status)
{
	for (;;)
		syscall(SYS_exit_group, status);
}

static int (*libc_sigaction)(int, const struct sigaction *, struct sigaction *);
static int (*libc_pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
static int (*libc_execvpe)(const char *, char *const[], char *const[]);
static int (*libc_fexecve)(int, char *const[], char *const[]);

/* Resolved at load time: the host MMU calls it from its signal handler. */
__attribute__((constructor)) static void preload_sys_resolve(void)
{
	libc_sigaction = (int (*)(int, const struct sigaction *, struct sigaction *))
		dlsym(RTLD_NEXT, "sigaction");
	libc_execvpe = (int (*)(const char *, char *const[], char *const[]))dlsym(RTLD_NEXT, "execvpe");
	libc_fexecve = (int (*)(int, char *const[], char *const[]))dlsym(RTLD_NEXT, "fexecve");
	libc_pthread_create = (int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *))
		dlsym(RTLD_NEXT, "pthread_create");
}

/**
 * preload_sys_pthread_create - the C library's pthread_create (usermm's
 * and the interposer's own threads: the interposed one is the program's).
 * 0 or an error number.
 */
int preload_sys_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	if (!libc_pthread_create)
		return ENOSYS;
	return libc_pthread_create(t, attr, fn, arg);
}

/**
 * preload_sys_execvpe - the C library's execvpe (its PATH search, and the
 * shell for a file without a format it knows), as execvp when envp is
 * environ.  Returns only on failure: -1 (errno set).
 */
int preload_sys_execvpe(const char *file, char *const argv[], char *const envp[])
{
	if (!libc_execvpe) {
		errno = ENOSYS;
		return -1;
	}
	return libc_execvpe(file, argv, envp);
}

/** preload_sys_fexecve - the C library's fexecve.  Returns only on failure: -1 (errno set). */
int preload_sys_fexecve(int fd, char *const argv[], char *const envp[])
{
	if (!libc_fexecve) {
		errno = ENOSYS;
		return -1;
	}
	return libc_fexecve(fd, argv, envp);
}

/** preload_sys_sigaction - the C library's sigaction.  0 or -1 (errno set). */
int preload_sys_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (!libc_sigaction) {
		errno = ENOSYS;
		return -1;
	}
	return libc_sigaction(sig, act, old);
}
