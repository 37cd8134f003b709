/* SPDX-License-Identifier: MIT */
/*
 * percpu.h - per-thread slots and counters striped over them, usermm's
 * stand-in for the kernel's per-CPU data.
 *
 * A thread gets a slot the first time it needs one, the lowest free one,
 * and gives it back when it exits; with more than NR_SLOT_STRIPES threads
 * alive at once the others share slots (the stripes are atomics: sharing
 * costs speed, not correctness).  A striped counter keeps one value per stripe,
 * each on its own cache line: adding touches only the caller's line,
 * reading sums them all, which is exact whenever no add is in flight
 * (quiescent) and a snapshot otherwise.  mm.h uses the slot for the
 * address space's RSS and fault counters and for mmap_lock's reader
 * counts.
 *
 * Locks: none.
 */
#ifndef UMM_PERCPU_H
#define UMM_PERCPU_H

#include <stdatomic.h>
#include "compiler.h"

#define NR_SLOT_STRIPES 16      /* power of two */

/* The calling thread's slot + 1 (0: not yet assigned); percpu.c. */
extern __thread unsigned int this_thread_slot __attribute__((tls_model("initial-exec")));
/* thread_slot_assign - give the calling thread its slot (lowest free, else shared); returns slot + 1. */
unsigned int thread_slot_assign(void);

/* thread_slot - the calling thread's stripe index (assigned on first use).  No locks. */
static inline unsigned int thread_slot(void)
{
	unsigned int s = this_thread_slot;

	if (unlikely(!s))
		s = thread_slot_assign();
	return (s - 1) & (NR_SLOT_STRIPES - 1);
}

struct stripe_counter {
	struct {
		_Alignas(64) _Atomic long v;
	} s[NR_SLOT_STRIPES];
};

/* stripe_counter_add - add d to the calling thread's stripe.  No locks. */
static inline void stripe_counter_add(struct stripe_counter *c, long d)
{
	atomic_fetch_add_explicit(&c->s[thread_slot()].v, d, memory_order_relaxed);
}

/* stripe_counter_sum - the total (exact when no add is in flight).  No locks. */
static inline long stripe_counter_sum(struct stripe_counter *c)
{
	long sum = 0;

	for (int i = 0; i < NR_SLOT_STRIPES; i++)
		sum += atomic_load_explicit(&c->s[i].v, memory_order_relaxed);
	return sum;
}

#endif /* UMM_PERCPU_H */
