/*
 * percpu.c - handing out per-thread slots (see percpu.h).
 *
 * Locks: none (an atomic counter).
 */
#include "percpu.h"

static _Atomic unsigned int next_thread_slot;

__thread unsigned int this_thread_slot __attribute__((tls_model("initial-exec")));

/**
 * thread_slot_assign - give the calling thread its slot, round-robin over
 * the threads that ask.  Returns slot + 1.  No locks.
 */
unsigned int thread_slot_assign(void)
{
	unsigned int s = atomic_fetch_add_explicit(&next_thread_slot, 1, memory_order_relaxed);

	this_thread_slot = (s % NR_SLOT_STRIPES) + 1;
	return this_thread_slot;
}
