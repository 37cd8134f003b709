/* SPDX-License-Identifier: MIT */
/*
 * kthread.h - usermm's helper threads, each started when it is first
 * needed (kthread.c has the theory).
 */
#ifndef UMM_KTHREAD_H
#define UMM_KTHREAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum {
	KTHREAD_IDLE,           /* not wanted yet: no thread */
	KTHREAD_WANTED,         /* wanted where no thread could be created: the next
	                           kthread_run_pending creates it */
	KTHREAD_RUNNING,        /* created: its owner stops and joins it */
	KTHREAD_FAILED,         /* pthread_create failed: its owner works without it */
};

/*
 * struct kthread_lazy - one helper thread, embedded in its owner's state.
 * start creates the thread (returns 0 or -errno); it is called with
 * kthread_lock held, at most once per successful creation.
 */
struct kthread_lazy {
	const char *name;
	int (*start)(struct kthread_lazy *kt);
	_Atomic int state;
	pid_t pid;                      /* the process the owner belongs to */
	bool listed;                    /* [kthread_lock] on the list of every helper
	                                   (kthread_init to kthread_forget) */
	struct kthread_lazy *next;      /* [kthread_lock] that list */
};

/*
 * Per thread: raised while this thread runs where no thread may be
 * created (the host MMU's signal handler: the interrupted code may hold
 * the C library's locks).  kthread_want only records the wish there.
 */
extern __thread unsigned int kthread_nostart_depth __attribute__((tls_model("initial-exec")));

/*
 * kthread_defer_hook - when set (the LD_PRELOAD interposer sets it), asked
 * before a thread is created outside a signal handler: true defers the
 * creation to a later kthread_run_pending.  Called with usermm locks
 * held: it must take none.
 */
extern bool (*kthread_defer_hook)(void);

/* kthread_init - an idle helper of the calling process.  Takes kthread_lock. */
void kthread_init(struct kthread_lazy *kt, const char *name, int (*start)(struct kthread_lazy *kt));
/*
 * kthread_want - the owner needs its thread: create it now if this
 * thread may (see above), else record the wish for kthread_run_pending.
 * Any context, no lock of kthread.c's held in a signal handler.  Returns
 * true when the thread runs on return.
 */
bool kthread_want(struct kthread_lazy *kt);
/* kthread_running - does the thread run?  Any context, no locks. */
static inline bool kthread_running(struct kthread_lazy *kt)
{
	return atomic_load_explicit(&kt->state, memory_order_acquire) == KTHREAD_RUNNING;
}
/*
 * kthread_run_pending - create the threads wanted where none could be
 * (cheap when there are none: one atomic load).  A safe point: no usermm
 * lock held, not in a signal handler.
 */
void kthread_run_pending(void);
/* kthread_forget - before the owner frees kt: off the helpers' list.  Takes kthread_lock. */
void kthread_forget(struct kthread_lazy *kt);
/* kthread_nr_pending - threads wanted and not created yet (tests, stats). */
unsigned long kthread_nr_pending(void);

/*
 * struct kthread_periodic - a lazy helper that calls work(p) again and
 * again until stopped, waiting between the calls as long as the last
 * call returned (ns; first_wait_ns before the first): page reporting,
 * the collapse thread.  Embedded in its owner's state (container_of).
 */
struct kthread_periodic {
	struct kthread_lazy kt;
	uint64_t (*work)(struct kthread_periodic *p);
	uint64_t first_wait_ns;
	pthread_t thread;
	pthread_mutex_t lock;           /* stop and the wake-up (a leaf) */
	pthread_cond_t wake;            /* [lock] CLOCK_MONOTONIC */
	bool stop;                      /* [lock] */
};

/* kthread_periodic_init - an idle periodic helper (kthread_want p->kt to start it).  Takes kthread_lock. */
void kthread_periodic_init(struct kthread_periodic *p, const char *name, uint64_t first_wait_ns,
			   uint64_t (*work)(struct kthread_periodic *p));
/* kthread_periodic_stopping - has the stop been asked for?  Takes p->lock. */
bool kthread_periodic_stopping(struct kthread_periodic *p);
/*
 * kthread_periodic_stop - nobody creates the thread any more; if it runs,
 * stop it (after the call of work in progress) and join it.  In the child
 * of a host fork(), which has no copy of it, nothing else.  p may be
 * freed after.  Not concurrent with kthread_want of p->kt.
 */
void kthread_periodic_stop(struct kthread_periodic *p);

#endif
