/* SPDX-License-Identifier: MIT */
/*
 * preload_exec.c - the ends of the process image that skip the exit
 * destructor: execve and every C library exec function (execv, execvp,
 * execvpe, execl, execlp, execle, fexecve, execveat), _exit and _Exit.
 *
 * usermm's page cache is this process's memory: an exec replaces it and
 * _exit leaves it, and neither runs destructors, so what the mappings and
 * the served writes stored would be lost where the kernel's page cache
 * keeps it.  Each of these calls first writes back every served file's
 * dirty pages and the USERMM_STATS counters (preload_writeback_leave),
 * then makes the kernel's call.  The C library's exec functions call its
 * internal execve, which the interposer cannot see, so each is
 * interposed.  If an exec fails, the locks the writeback took are
 * dropped and the process goes on with every mapping as it was (the
 * pages are clean now).  The writeback holds the interposer's locks until
 * the image ends, so no other thread's file mapping, munmap, mremap,
 * mprotect, served read or write, or background pass starts in between;
 * a store another thread makes into a mapping after the writeback passed
 * its page, or a served write already under way, is still lost.  In a fork or vfork child
 * (usermm belongs to the parent) they are the kernel's calls only.
 *
 * Locks: preload_writeback_leave's (the writeback lock, then pl.lock),
 * held across the exec.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>
#include "preload.h"

extern char **environ;

/*
 * Before the image ends: the dirty data to the files, then the counters
 * (not from a signal handler that interrupted usermm: collecting them
 * takes usermm's locks too).
 */
static bool leave(void)
{
	bool inside = preload_inside_usermm(), held = preload_writeback_leave();

	if (!inside)
		preload_write_final_stats();
	return held;
}

/* After a failed exec: the process goes on. */
static int resume(bool held)
{
	int err = errno;

	if (held)
		preload_writeback_resume();
	errno = err;
	return -1;
}

/** execve - write back, then execve(2).  Returns only on failure: -1 with errno. */
int execve(const char *path, char *const argv[], char *const envp[])
{
	bool held = leave();

	preload_sys_execve(path, argv, envp);
	return resume(held);
}

/** execv - execve with environ.  Returns only on failure: -1 with errno. */
int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

/** execvpe - write back, then the C library's execvpe (PATH search).  -1 with errno on failure. */
int execvpe(const char *file, char *const argv[], char *const envp[])
{
	bool held = leave();

	preload_sys_execvpe(file, argv, envp);
	return resume(held);
}

/** execvp - execvpe with environ.  Returns only on failure: -1 with errno. */
int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

/** fexecve - write back, then the C library's fexecve.  -1 with errno on failure. */
int fexecve(int fd, char *const argv[], char *const envp[])
{
	bool held = leave();

	preload_sys_fexecve(fd, argv, envp);
	return resume(held);
}

/** execveat - write back, then execveat(2).  Returns only on failure: -1 with errno. */
int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
	bool held = leave();

	preload_sys_execveat(dirfd, path, argv, envp, flags);
	return resume(held);
}

/*
 * The list forms: the arguments up to the NULL that ends them (execle's
 * environment follows it) become argv, then the vector form runs.
 */
static size_t count_args(const char *arg0, va_list ap)
{
	size_t n = 0;

	if (arg0)
		for (n = 1; va_arg(ap, const char *); n++)
			;
	return n;
}

/*
 * argv[0..n) from arg0 and ap, argv[n] = NULL; with envpp, *envpp is the
 * pointer after the list's NULL (execle's environment).
 */
static void fill_args(char **argv, size_t n, const char *arg0, va_list *ap, char ***envpp)
{
	for (size_t i = 0; i < n; i++)
		argv[i] = i ? va_arg(*ap, char *) : (char *)arg0;
	if (n)
		(void)va_arg(*ap, char *);
	argv[n] = NULL;
	if (envpp)
		*envpp = va_arg(*ap, char **);
}

/*
 * LIST_ARGV - declare argv, a variable-length array holding the list
 * that follows arg0 in the caller's variable arguments (and set *envpp,
 * when it is not NULL, to the pointer after the list's NULL).
 */
#define LIST_ARGV(argv, arg0, envpp)                            \
	va_list ap_;                                            \
	size_t n_;                                              \
	va_start(ap_, arg0);                                    \
	n_ = count_args(arg0, ap_);                             \
	va_end(ap_);                                            \
	char *argv[n_ + 1];                                     \
	va_start(ap_, arg0);                                    \
	fill_args(argv, n_, arg0, &ap_, envpp);                 \
	va_end(ap_)

/** execl - execv with the list as argv.  Returns only on failure: -1 with errno. */
int execl(const char *path, const char *arg0, ...)
{
	LIST_ARGV(argv, arg0, NULL);
	return execve(path, argv, environ);
}

/** execlp - execvp with the list as argv.  Returns only on failure: -1 with errno. */
int execlp(const char *file, const char *arg0, ...)
{
	LIST_ARGV(argv, arg0, NULL);
	return execvpe(file, argv, environ);
}

/** execle - execve with the list as argv and the pointer after its NULL as envp.  -1 with errno. */
int execle(const char *path, const char *arg0, ...)
{
	char **envp;

	LIST_ARGV(argv, arg0, &envp);
	return execve(path, argv, envp);
}

/** _exit - write back, then exit_group(2): the process ends, no handler or destructor runs. */
void _exit(int status)
{
	leave();
	preload_sys_exit_group(status);
}

/** _Exit - as _exit. */
void _Exit(int status)
{
	_exit(status);
}
