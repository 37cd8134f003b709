/* SPDX-License-Identifier: MIT */
/*
 * log.c - where the library's diagnostics go: the process-wide log
 * function (umm_set_log) or the default, stderr.
 *
 * Theory of operation.  Callers format one line (at most LOG_LINE_MAX
 * bytes; longer ones are cut) into a buffer on their stack, then call the
 * installed function under log_lock held for read, so that umm_set_log
 * (which takes it for write) never changes the function and its argument
 * under a running call, and returns only when no call of the old function
 * is still running.  Warnings about a system are also counted in
 * sys->nr_warnings (umm_sys_stats.warnings).
 *
 * Locks: log_lock is a leaf: it is taken with any usermm lock held, and
 * the log function must not call back into usermm.
 */
#include <stdarg.h>
#include <stdio.h>
#include <pthread.h>
#include <unistd.h>
#include "log.h"
#include "system.h"

#define LOG_LINE_MAX 512

static pthread_rwlock_t log_lock = PTHREAD_RWLOCK_INITIALIZER;
static umm_log_fn log_fn;
static void *log_arg;

/**
 * umm_set_log - install fn as the process-wide log function (NULL: the
 * default).  Takes log_lock for write: returns once no call of the old
 * function is running.
 */
void umm_set_log(umm_log_fn fn, void *arg)
{
	pthread_rwlock_wrlock(&log_lock);
	__atomic_store_n(&log_fn, fn, __ATOMIC_RELAXED);  /* read without the lock by log_fn_installed */
	log_arg = arg;
	pthread_rwlock_unlock(&log_lock);
}

/*
 * default_log - stderr for everything in debug builds, for checks and bugs
 * in every build: one write(2) of the whole line, no stdio, so that a
 * line logged from the host MMU's signal handler cannot meet a stdio call
 * the handler interrupted.
 */
static void default_log(int level, const char *line)
{
	char buf[LOG_LINE_MAX + 16];
	int n;

	if (level == UMM_LOG_WARNING && !UMM_DEBUG)
		return;
	n = snprintf(buf, sizeof(buf), "usermm: %s\n", line);
	if (n > (int)sizeof(buf) - 1)
		n = (int)sizeof(buf) - 1;
	if (n > 0)
		(void)!write(STDERR_FILENO, buf, (size_t)n);
}

static void vlog(int level, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];

	vsnprintf(line, sizeof(line), fmt, ap);
	pthread_rwlock_rdlock(&log_lock);
	if (log_fn)
		log_fn(level, line, log_arg);
	else
		default_log(level, line);
	pthread_rwlock_unlock(&log_lock);
}

/**
 * log_fn_installed - has a log function been installed with umm_set_log?
 * No locks (a relaxed read: the answer may be out of date by the time it
 * is used).
 */
bool log_fn_installed(void)
{
	return __atomic_load_n(&log_fn, __ATOMIC_RELAXED) != NULL;
}

/**
 * pr_warn - log a warning (UMM_LOG_WARNING) and count it in
 * sys->nr_warnings when sys is not NULL.  Takes log_lock (read).
 */
void pr_warn(struct umm_system *sys, const char *fmt, ...)
{
	va_list ap;

	if (sys)
		atomic_fetch_add(&sys->nr_warnings, 1);
	va_start(ap, fmt);
	vlog(UMM_LOG_WARNING, fmt, ap);
	va_end(ap);
}

/**
 * pr_check - log one finding of an invariant check (UMM_LOG_CHECK).
 * Takes log_lock (read).
 */
void pr_check(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(UMM_LOG_CHECK, fmt, ap);
	va_end(ap);
}

/**
 * pr_bug - log a broken invariant (UMM_LOG_BUG); the caller aborts.
 * Takes log_lock (read).
 */
void pr_bug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(UMM_LOG_BUG, fmt, ap);
	va_end(ap);
}
