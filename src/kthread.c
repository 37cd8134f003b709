/* SPDX-License-Identifier: MIT */
/*
 * kthread.c - starting usermm's helper threads when they are first
 * needed.
 *
 * Theory of operation
 *
 * usermm has helper threads: kswapd (vmscan.c), the populate-ahead
 * thread (populate_ahead.c), the page-reporting thread
 * (page_reporting.c), the collapse thread (khugepaged.c), the I/O
 * engine's thread or pool (io.c, io_uring.c); and the host MMU's fault
 * threads (host_mmu.c), which are not lazy: the first umm_host_attach
 * creates them with pthread_create, as a program asking for host windows
 * needs them at once.  A process
 * that never needs one should never have one: beyond its memory, the
 * first thread a process creates switches the C library to its
 * multi-threaded mode for good (stdio takes a lock on every character,
 * __libc_single_threaded goes false), which costs a single-threaded
 * program that prints a lot more than usermm saves it.  So each owner
 * embeds a struct kthread_lazy and calls kthread_want where its thread
 * has work (a wake-up, a kick, a request); until then nothing exists.
 * Every owner works without its thread meanwhile (direct reclaim, reads
 * in the submitting thread, ...), and also when pthread_create fails.
 *
 * Where a thread may be created.  Not in the host MMU's signal handler
 * (its fault path allocates, reclaims and reads): the interrupted code may
 * hold the C library's locks that pthread_create takes.  The handler
 * raises kthread_nostart_depth on its thread; kthread_want then only
 * marks the helper wanted (an atomic compare-and-swap, no lock) and
 * counts it in nr_pending, and the next kthread_run_pending, at a safe
 * point (a library call, or one of the LD_PRELOAD interposer's calls),
 * creates it.  Outside a handler kthread_want creates the thread at once,
 * unless kthread_defer_hook says to wait (the interposer keeps a young
 * single-threaded program single-threaded: preload.c).
 *
 * Periodic helpers (struct kthread_periodic: page reporting, the collapse
 * thread) share their thread here: it waits on a condition variable with
 * a CLOCK_MONOTONIC deadline, calls the owner's work and waits as long as
 * the work said, until kthread_periodic_stop.
 *
 * Every helper is on one list (kthread_init to kthread_forget), so
 * kthread_run_pending finds the wanted ones without anything having been
 * queued from the handler.
 *
 * Host fork(): a helper wanted in the parent is never created in the
 * child (the child has none of the parent's helpers, and its owners
 * already work without them): it is marked failed there.  The child
 * starts with kthread_lock free (a pthread_atfork child handler).
 *
 * Locks: kthread_lock (the list, and the creations) is a leaf: taken under
 * any of usermm's locks (kthread_want is called from allocation, reclaim
 * and I/O paths), and nothing but pthread_create runs under it.  A
 * periodic helper's lock is a leaf too, never held across its work.
 */
#include <errno.h>
#include <time.h>
#include <unistd.h>
#include "compiler.h"
#include "kthread.h"

__thread unsigned int kthread_nostart_depth __attribute__((tls_model("initial-exec")));
bool (*kthread_defer_hook)(void);

static pthread_mutex_t kthread_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kthread_lazy *kthread_list;       /* [kthread_lock] */
static _Atomic unsigned long nr_pending;        /* helpers in KTHREAD_WANTED */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/*
 * In a fork child: kthread_lock fresh (a thread of the parent may have
 * held it; it does not exist here).  No prepare handler takes the lock:
 * other libraries' prepare handlers hold their own locks by then, and
 * the list is only ever changed by single pointer stores under it.
 */
static void kthread_atfork_child(void)
{
	pthread_mutex_init(&kthread_lock, NULL);
}

static void kthread_atfork_setup(void)
{
	pthread_atfork(NULL, NULL, kthread_atfork_child);
}

static bool may_start_here(void)
{
	bool (*defer)(void) = __atomic_load_n(&kthread_defer_hook, __ATOMIC_ACQUIRE);

	return !kthread_nostart_depth && !(defer && defer());
}

/**
 * kthread_init - set up kt idle (no thread) and list it.  Takes
 * kthread_lock.
 */
void kthread_init(struct kthread_lazy *kt, const char *name, int (*start)(struct kthread_lazy *kt))
{
	pthread_once(&atfork_once, kthread_atfork_setup);
	kt->name = name;
	kt->start = start;
	atomic_init(&kt->state, KTHREAD_IDLE);
	kt->pid = getpid();
	pthread_mutex_lock(&kthread_lock);
	kt->next = kthread_list;
	kthread_list = kt;
	kt->listed = true;
	pthread_mutex_unlock(&kthread_lock);
}

/* Create kt's thread unless it runs, failed, or belongs to the parent of a fork.  kthread_lock held. */
static void kthread_start_locked(struct kthread_lazy *kt)
{
	int st = atomic_load(&kt->state);
	int err;

	if (st == KTHREAD_RUNNING || st == KTHREAD_FAILED)
		return;
	err = kt->pid == getpid() ? kt->start(kt) : -ECHILD;
	if (st == KTHREAD_WANTED)
		atomic_fetch_sub(&nr_pending, 1);
	atomic_store_explicit(&kt->state, err ? KTHREAD_FAILED : KTHREAD_RUNNING, memory_order_release);
}

/**
 * kthread_want - see kthread.h.  Outside a signal handler and when not
 * deferred, takes kthread_lock and may create the thread; otherwise only
 * atomics.  True when the thread runs on return.
 */
bool kthread_want(struct kthread_lazy *kt)
{
	int st = atomic_load_explicit(&kt->state, memory_order_acquire);

	if (st == KTHREAD_RUNNING)
		return true;
	if (st == KTHREAD_FAILED)
		return false;
	if (!may_start_here()) {
		if (st == KTHREAD_IDLE &&
		    atomic_compare_exchange_strong(&kt->state, &st, KTHREAD_WANTED))
			atomic_fetch_add(&nr_pending, 1);
		return false;
	}
	pthread_mutex_lock(&kthread_lock);
	kthread_start_locked(kt);
	pthread_mutex_unlock(&kthread_lock);
	return kthread_running(kt);
}

/**
 * kthread_run_pending - create every wanted helper, if this thread may
 * (not in a signal handler, not deferred).  No usermm lock held; takes
 * kthread_lock when something is pending.
 */
void kthread_run_pending(void)
{
	if (__builtin_expect(!atomic_load_explicit(&nr_pending, memory_order_relaxed), 1))
		return;
	if (!may_start_here())
		return;
	pthread_mutex_lock(&kthread_lock);
	for (struct kthread_lazy *kt = kthread_list; kt; kt = kt->next)
		if (atomic_load(&kt->state) == KTHREAD_WANTED)
			kthread_start_locked(kt);
	pthread_mutex_unlock(&kthread_lock);
}

/**
 * kthread_forget - take kt off the list (its owner is going away; the
 * owner has stopped its thread if it ran).  Takes kthread_lock.
 */
void kthread_forget(struct kthread_lazy *kt)
{
	pthread_mutex_lock(&kthread_lock);
	if (kt->listed) {
		for (struct kthread_lazy **pp = &kthread_list; *pp; pp = &(*pp)->next) {
			if (*pp == kt) {
				*pp = kt->next;
				break;
			}
		}
		kt->listed = false;
	}
	/* never to be started now (one that runs stays KTHREAD_RUNNING for its owner's join) */
	for (int st = atomic_load(&kt->state); st == KTHREAD_IDLE || st == KTHREAD_WANTED; ) {
		if (atomic_compare_exchange_weak(&kt->state, &st, KTHREAD_FAILED)) {
			if (st == KTHREAD_WANTED)
				atomic_fetch_sub(&nr_pending, 1);
			break;
		}
	}
	pthread_mutex_unlock(&kthread_lock);
}

/** kthread_nr_pending - helpers wanted and not created yet.  No locks. */
unsigned long kthread_nr_pending(void)
{
	return atomic_load(&nr_pending);
}

static void *periodic_thread(void *arg)
{
	struct kthread_periodic *p = arg;
	uint64_t wait = p->first_wait_ns;
	struct timespec ts;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)(wait % 1000000000ull);
		ts.tv_sec += (time_t)(wait / 1000000000ull) + ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&p->wake, &p->lock, &ts);
		if (p->stop)
			break;
		pthread_mutex_unlock(&p->lock);
		wait = p->work(p);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* periodic_start - kthread_lazy's start for a periodic helper.  kthread_lock held.  0 or -errno. */
static int periodic_start(struct kthread_lazy *kt)
{
	struct kthread_periodic *p = container_of(kt, struct kthread_periodic, kt);

	return -pthread_create(&p->thread, NULL, periodic_thread, p);
}

/**
 * kthread_periodic_init - set up @p idle: @work will be called every time
 * the wait it returned (@first_wait_ns the first time) has passed, once
 * p->kt is wanted.  Takes kthread_lock.
 */
void kthread_periodic_init(struct kthread_periodic *p, const char *name, uint64_t first_wait_ns,
			   uint64_t (*work)(struct kthread_periodic *p))
{
	pthread_condattr_t attr;

	p->work = work;
	p->first_wait_ns = first_wait_ns;
	p->stop = false;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &attr);
	pthread_condattr_destroy(&attr);
	kthread_init(&p->kt, name, periodic_start);
}

/** kthread_periodic_stopping - has kthread_periodic_stop been called?  Takes p->lock. */
bool kthread_periodic_stopping(struct kthread_periodic *p)
{
	bool stop;

	pthread_mutex_lock(&p->lock);
	stop = p->stop;
	pthread_mutex_unlock(&p->lock);
	return stop;
}

/**
 * kthread_periodic_stop - forget @p's thread and, if it runs, stop and
 * join it (waiting for the work in progress).  In the child of a host
 * fork() only the forgetting: the thread was not copied.  Takes
 * kthread_lock and p->lock.
 */
void kthread_periodic_stop(struct kthread_periodic *p)
{
	kthread_forget(&p->kt);         /* nobody creates it after this */
	if (p->kt.pid != getpid())
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	if (kthread_running(&p->kt))
		pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
}
