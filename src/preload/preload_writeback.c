/* SPDX-License-Identifier: MIT */
/*
 * preload_writeback.c - getting the served files' dirty pages to the
 * files: in the background while the program runs (the flusher), and all
 * of them when the program's image ends (exit, quick_exit: preload.c;
 * _exit, exec: preload_exec.c).
 *
 * The flusher.  Dirty data in usermm's page cache lives in this process's
 * memory, so a process killed by a signal loses what was not written
 * back; the kernel's page cache would have kept it.  Like the kernel's
 * flusher threads, one thread wakes every USERMM_WRITEBACK_MS
 * milliseconds (default 5000; 0: no thread) and writes back every dirty
 * page of every served file (it is more eager than the kernel, which
 * waits until data has been dirty for dirty_expire_centisecs, 30 s by
 * default, but it bounds what SIGKILL loses the same way: about one
 * interval, plus the time a pass takes) once it runs.  It is not started
 * before there can be dirty data, and then at a safe point
 * (preload_safe_point: the end of an interposed call that reached
 * usermm, never a signal handler of ours): at once after a served write
 * (the call itself is the safe point), or when the program has threads
 * of its own; for stores through a writable shared mapping (whose first
 * moment is in the host MMU's signal handler), at the first safe point
 * one interval or more after the first such mapping was made, so that
 * a program that runs for less than that (LMDB's readers store into their
 * lock file) stays single-threaded.  Until then the exit writeback, msync,
 * fsync and munmap write the data back; a SIGKILL loses it.  It
 * runs with every signal blocked (the program's signals
 * go to its own threads), and is stopped and joined by the exit
 * destructor (preload_flusher_stop).  A pass takes a reference on each
 * served file's object under pl.lock, drops the lock, writes back with
 * filemap_write_range (the same as msync), then puts the references and
 * puts away the files whose last mapping went meanwhile (their munmap saw
 * the pass's reference and left them).  A fork child has no flusher (the
 * interposer is off there).
 *
 * wb_lock is held for a whole pass, and by whoever must know that no pass
 * is half done: fork's prepare handler (a pass still writing a page after
 * the mapping went to the kernel would overwrite the program's later
 * stores with old bytes) and the leaving paths (exec or _exit would kill
 * the flusher between clearing a page's dirty bit and writing it).
 *
 * A leaving path may run in a signal handler (_exit is async-signal-safe
 * and programs call it there).  If the handler interrupted this thread
 * inside usermm or while it held pl.lock, the writeback would wait for
 * locks this very thread holds: preload_inside_usermm tells (the
 * thread-local preload_busy, preload_lock_depth and mmap_lock_depth), and
 * the writeback is skipped, said on stderr.
 *
 * Lock order: wb_lock, then pl.lock, then usermm's locks.  flusher.ctl
 * guards only the flusher's state and is never held with the others.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "preload.h"
#include "filemap.h"
#include "kthread.h"
#include "mm.h"

static pthread_mutex_t wb_lock = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
__thread unsigned int preload_busy __attribute__((tls_model("initial-exec")));
__thread unsigned int preload_lock_depth __attribute__((tls_model("initial-exec")));

static struct {
	pthread_mutex_t ctl;
	pthread_cond_t wake;
	pthread_t thread;
	unsigned long interval_ms;   /* 0: no flusher */
	_Atomic bool started;        /* a safe point started it (or tried) */
	_Atomic uint64_t wanted_ns;  /* CLOCK_MONOTONIC of the first writable shared mapping; 0: none */
	_Atomic bool write_seen;     /* a served write happened */
	bool running;                /* thread exists and must be joined */
	bool stop;
} flusher = {
	.ctl = PTHREAD_MUTEX_INITIALIZER,
};

/**
 * preload_writeback_setup - the flusher's interval (milliseconds; 0: no
 * flusher).  Called once by preload_init, before any mapping.  No lock.
 */
void preload_writeback_setup(unsigned long interval_ms)
{
	pthread_condattr_t ca;

	flusher.interval_ms = interval_ms;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&flusher.wake, &ca);
	pthread_condattr_destroy(&ca);
}

/**
 * preload_writeback_lock - take wb_lock (no pass is half done while
 * held).  pl.lock not held.  0, or EDEADLK when this thread holds it.
 */
int preload_writeback_lock(void)
{
	return pthread_mutex_lock(&wb_lock);
}

/** preload_writeback_unlock - drop wb_lock. */
void preload_writeback_unlock(void)
{
	pthread_mutex_unlock(&wb_lock);
}

/*
 * One background pass: every served file's dirty pages written back,
 * without pl.lock held during the I/O.  wb_lock held.
 */
static void writeback_pass(void)
{
	struct umm_object **objs;
	size_t n = 0, cap;

	pthread_mutex_lock(&pl.lock);
	cap = atomic_load(&pl.nfiles);
	objs = cap ? malloc(cap * sizeof(*objs)) : NULL;
	if (objs)
		for (struct preload_file *f = pl.files; f && n < cap; f = f->next) {
			umm_object_get(f->obj);
			objs[n++] = f->obj;
		}
	pthread_mutex_unlock(&pl.lock);
	if (!objs)
		return;                  /* nothing served, or no memory: the next pass tries */
	for (size_t i = 0; i < n; i++) {
		if (filemap_write_range(objs[i], 0, UINT64_MAX))
			PL_COUNT(writeback_errors, 1);
		umm_object_put(objs[i]);     /* never the last: pl.files or a mapping holds one */
	}
	free(objs);
	PL_COUNT(writeback_passes, 1);
	pthread_mutex_lock(&pl.lock);
	preload_files_reap_locked();
	pthread_mutex_unlock(&pl.lock);
}

static void *flusher_main(void *arg)
{
	struct timespec at;

	(void)arg;
	pthread_mutex_lock(&flusher.ctl);
	while (!flusher.stop) {
		clock_gettime(CLOCK_MONOTONIC, &at);
		at.tv_sec += (time_t)(flusher.interval_ms / 1000);
		at.tv_nsec += (long)(flusher.interval_ms % 1000) * 1000000L;
		if (at.tv_nsec >= 1000000000L) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000L;
		}
		while (!flusher.stop && pthread_cond_timedwait(&flusher.wake, &flusher.ctl, &at) != ETIMEDOUT)
			;
		if (flusher.stop)
			break;
		pthread_mutex_unlock(&flusher.ctl);
		pthread_mutex_lock(&wb_lock);
		writeback_pass();
		pthread_mutex_unlock(&wb_lock);
		pthread_mutex_lock(&flusher.ctl);
	}
	pthread_mutex_unlock(&flusher.ctl);
	return NULL;
}

/** preload_now_ns - CLOCK_MONOTONIC in nanoseconds. */
uint64_t preload_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/**
 * preload_flusher_want - a served file may get dirty pages: a writable
 * shared mapping was made (write false) or a served write is under way
 * (write true).  The flusher is started by a later preload_safe_point.
 * Any context; atomics only.
 */
void preload_flusher_want(bool write)
{
	uint64_t zero = 0;

	if (!flusher.interval_ms || atomic_load_explicit(&flusher.started, memory_order_relaxed))
		return;
	if (write) {
		if (!atomic_load_explicit(&flusher.write_seen, memory_order_relaxed))
			atomic_store(&flusher.write_seen, true);
	} else if (!atomic_load_explicit(&flusher.wanted_ns, memory_order_relaxed)) {
		atomic_compare_exchange_strong(&flusher.wanted_ns, &zero, preload_now_ns());
	}
}

/* Is it time to start the flusher (see the theory above)?  No locks. */
static bool flusher_due(void)
{
	uint64_t since;

	if (!flusher.interval_ms || atomic_load_explicit(&flusher.started, memory_order_relaxed))
		return false;
	if (atomic_load_explicit(&flusher.write_seen, memory_order_relaxed))
		return true;
	since = atomic_load_explicit(&flusher.wanted_ns, memory_order_relaxed);
	if (!since)
		return false;
	return !preload_single_threaded() || preload_now_ns() - since >= flusher.interval_ms * 1000000ull;
}

/**
 * preload_safe_point - the end of an interposed call that reached usermm
 * (preload_unlock at the outermost level, no usermm lock held): create
 * the helper threads usermm wanted meanwhile (kthread_run_pending: those
 * wanted in the host MMU's signal handler, or deferred by
 * preload_defer_threads), and the flusher when it is due.  In this
 * process only, while usermm serves it.
 */
void preload_safe_point(void)
{
	if (atomic_load_explicit(&pl.state, memory_order_relaxed) != PL_ON)
		return;
	kthread_run_pending();
	if (flusher_due() && getpid() == pl.pid)
		preload_flusher_start();
}

/**
 * pthread_create - the program's: the C library's, then (the process has
 * a second thread now, so the C library's single-threaded mode is over
 * anyway) a safe point that creates the helpers usermm deferred
 * (preload_safe_point).  0 or an error number.
 */
int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	int err = preload_sys_pthread_create(t, attr, fn, arg);

	if (!err)
		preload_safe_point();
	return err;
}

/**
 * preload_flusher_start - start the flusher if it is configured and not
 * started yet (cheap when started).  A
 * thread that cannot be created is reported once on stderr: the process
 * runs on, writing back at msync, fsync, munmap, exit, _exit and exec
 * only.  pl.lock not held.
 */
void preload_flusher_start(void)
{
	sigset_t all, old;
	int err;

	if (!flusher.interval_ms || atomic_load_explicit(&flusher.started, memory_order_relaxed) ||
	    atomic_exchange(&flusher.started, true))
		return;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_mutex_lock(&flusher.ctl);
	flusher.stop = false;
	err = preload_sys_pthread_create(&flusher.thread, NULL, flusher_main, NULL);
	flusher.running = !err;
	pthread_mutex_unlock(&flusher.ctl);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		static const char msg[] = "usermm preload: cannot start the writeback thread; dirty data "
			"is written back only at msync, fsync, munmap and exit\n";

		(void)!preload_sys_write(2, msg, sizeof(msg) - 1);
	}
}

/**
 * preload_flusher_stop - stop the flusher and wait for it (its pass in
 * flight ends first), at most 10 seconds (it may wait for pl.lock, which
 * the caller may hold: exit from a signal handler that interrupted the
 * interposer).  At exit, before the last writeback.
 */
void preload_flusher_stop(void)
{
	struct timespec at;
	bool join;

	pthread_mutex_lock(&flusher.ctl);
	join = flusher.running;
	flusher.running = false;
	flusher.stop = true;
	pthread_cond_signal(&flusher.wake);
	pthread_mutex_unlock(&flusher.ctl);
	if (!join)
		return;
	clock_gettime(CLOCK_REALTIME, &at);
	at.tv_sec += 10;
	pthread_timedjoin_np(flusher.thread, NULL, &at);
}

/**
 * preload_writeback_forked - in a fork child: there is no flusher (it was
 * a thread of the parent), and the locks of this file are fresh.
 */
void preload_writeback_forked(void)
{
	preload_mutex_init(&wb_lock);
	pthread_mutex_init(&flusher.ctl, NULL);
	flusher.running = false;
	flusher.stop = true;
	atomic_store(&flusher.started, true);
}

/**
 * preload_inside_usermm - is this thread in the middle of a usermm call
 * or holding pl.lock (preload_busy, preload_lock_depth, mmap_lock_depth)?
 * True only in a signal handler that interrupted one: what it holds is
 * not let go until the handler returns.
 */
bool preload_inside_usermm(void)
{
	return preload_busy || preload_lock_depth || mmap_lock_depth;
}

/**
 * preload_writeback_leave - the image is about to end (exit, quick_exit,
 * _exit, _Exit, a successful exec): write back every dirty
 * page of every served file, in this process only (not in a fork or
 * vfork child, which does not own usermm).  Returns with wb_lock and
 * pl.lock held when it took them (true), so no flusher pass and no
 * mapping call runs until the image ends; a failed exec calls
 * preload_writeback_resume.  Skipped, said on stderr, when this thread
 * is inside usermm or holds pl.lock (preload_inside_usermm: a signal
 * handler interrupted it, and what it holds would never be let go), or
 * holds wb_lock (EDEADLK: the same, in a fork's prepare handler).  Waits
 * for other threads' holds.  No lock held on entry.
 */
bool preload_writeback_leave(void)
{
	bool failed = false;

	if (atomic_load(&pl.state) != PL_ON || getpid() != pl.pid)
		return false;
	if (preload_inside_usermm())
		goto busy;               /* a signal handler interrupted usermm in this thread */
	preload_lock_depth++;            /* from here to preload_writeback_resume */
	atomic_signal_fence(memory_order_seq_cst);
	if (pthread_mutex_lock(&wb_lock)) {
		preload_lock_depth--;
		goto busy;
	}
	if (pthread_mutex_lock(&pl.lock)) {
		pthread_mutex_unlock(&wb_lock);
		preload_lock_depth--;
		goto busy;
	}
	for (struct preload_file *f = pl.files; f; f = f->next)
		failed |= filemap_write_range(f->obj, 0, UINT64_MAX) != 0;
	if (failed) {
		static const char msg[] = "usermm preload: writing back a mapped file failed: data lost\n";

		(void)!preload_sys_write(2, msg, sizeof(msg) - 1);
	}
	return true;
busy:
	{
		static const char msg[] = "usermm preload: the interposer is busy in this thread; "
			"the mapped files' dirty data is not written back\n";

		(void)!preload_sys_write(2, msg, sizeof(msg) - 1);
	}
	return false;
}

/** preload_writeback_resume - after a failed exec: drop the locks preload_writeback_leave took. */
void preload_writeback_resume(void)
{
	pthread_mutex_unlock(&pl.lock);
	pthread_mutex_unlock(&wb_lock);
	atomic_signal_fence(memory_order_seq_cst);
	preload_lock_depth--;
}
