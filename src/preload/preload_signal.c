/* SPDX-License-Identifier: MIT */
/*
 * preload_signal.c - sigaction and signal for SIGSEGV and SIGBUS.
 *
 * The host MMU serves faults in the window from its own SIGSEGV handler,
 * installed when the window is attached (the first file mapping), and
 * passes every fault it does not serve to the handler that was there
 * before.  A program that installs its own SIGSEGV or SIGBUS handler
 * later would replace the host MMU's and take every window fault itself.
 * So while the host MMU's handler is installed, sigaction and signal for
 * those two signals set (and report) the handler the host MMU passes
 * faults on to, and leave the host MMU's in place: the program sees its
 * own handler, and receives exactly the faults the kernel would have
 * given it.  Other signals, and these two while no window exists, go to
 * the C library.  (sigset, bsd_signal and sysv_signal are not
 * interposed: a handler installed through them replaces the host MMU's.)
 *
 * sigaltstack.  The host MMU resolves a fault on the faulting thread, in
 * its handler, unless the handler runs on an alternate signal stack with
 * less than HOST_INLINE_STACK left; such a fault is handed to a fault
 * thread, and the interposer starts none until then (kthread.c explains
 * why).  So a program that installs a small alternate stack has the
 * fault threads started first (host_mmu_want_fault_threads), before the
 * stack is in place; so does one whose starting thread already had one
 * at the first file mapping.  The stack of a thread that set it with a
 * raw system call is not seen: a fault there that needs a fault thread
 * while none runs is refused (SIGSEGV, counted in
 * host_handoffs_refused), never left waiting.
 *
 * No lock of the interposer's; the host MMU takes its host_lock.
 */
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include "preload.h"
#include "host_mmu.h"

/**
 * sigaction - SIGSEGV/SIGBUS while the host MMU's handler is installed:
 * the handler it passes faults on to; anything else: the C library's.
 * 0 or -1 with errno.
 */
int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if ((sig == SIGSEGV || sig == SIGBUS) && atomic_load(&pl.state) == PL_ON &&
	    host_mmu_replace_prev_handler(sig, act, old))
		return 0;
	return preload_sys_sigaction(sig, act, old);
}

/* Alternate stacks smaller than this may leave the handler less than HOST_INLINE_STACK. */
#define SMALL_ALTSTACK (HOST_INLINE_STACK + (16 << 10))

static _Atomic bool small_altstack;     /* some thread installed one: fault threads wanted */

/*
 * preload_small_altstack - a small alternate stack is (about to be) in
 * use: the fault threads must run (now if usermm runs in this process,
 * else from preload_altstack_check at its start).
 */
static void preload_small_altstack(void)
{
	atomic_store(&small_altstack, true);
	if (atomic_load(&pl.state) == PL_ON && getpid() == pl.pid && host_mmu_want_fault_threads()) {
		static const char msg[] = "usermm preload: cannot start the fault threads; a fault on "
			"a small alternate signal stack will be refused\n";

		(void)!preload_sys_write(2, msg, sizeof(msg) - 1);
	}
}

/**
 * preload_altstack_check - at usermm's start (preload_init): if a small
 * alternate stack was installed before, or this thread has one, have the
 * fault threads started with the window.  No locks held; takes host_lock.
 */
void preload_altstack_check(void)
{
	stack_t cur;

	if (!preload_sys_sigaltstack(NULL, &cur) && !(cur.ss_flags & SS_DISABLE) &&
	    cur.ss_size < SMALL_ALTSTACK)
		atomic_store(&small_altstack, true);
	if (atomic_load(&small_altstack))
		(void)host_mmu_want_fault_threads();    /* sticky: the first attach starts them */
}

/**
 * sigaltstack - the C library's, after starting the host MMU's fault
 * threads when the new stack is small (see the top).  0 or -1 with errno.
 */
int sigaltstack(const stack_t *ss, stack_t *old)
{
	if (ss && !(ss->ss_flags & SS_DISABLE) && ss->ss_size < SMALL_ALTSTACK)
		preload_small_altstack();
	return preload_sys_sigaltstack(ss, old);
}

/**
 * signal - as the C library's (BSD semantics: SA_RESTART, the signal
 * blocked in its handler), through sigaction above.  The old handler or
 * SIG_ERR.
 */
sighandler_t signal(int sig, sighandler_t handler)
{
	struct sigaction sa = { .sa_handler = handler, .sa_flags = SA_RESTART }, old;

	if (sig <= 0 || sig >= NSIG) {
		errno = EINVAL;
		return SIG_ERR;
	}
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, sig);
	if (sigaction(sig, &sa, &old))
		return SIG_ERR;
	return old.sa_handler;
}
