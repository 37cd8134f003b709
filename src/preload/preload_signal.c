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
 * No lock of the interposer's; the host MMU takes its host_lock.
 */
#include <errno.h>
#include <signal.h>
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
