/* SPDX-License-Identifier: MIT */
/*
 * percpu.c - handing out per-thread slots (see percpu.h).
 *
 * Slots are kept in a bitmap: a thread takes the lowest free one the first
 * time it needs a slot and gives it back when it exits (a pthread key
 * destructor), so up to NR_SLOT_STRIPES threads alive at once have a stripe
 * each however many threads came and went before.  When every slot is
 * taken, further threads share slots round-robin (owning none).  The
 * values in a stripe stay when its thread goes: the counters are sums.
 *
 * Locks: none (atomics; pthread_once for the key).
 */
#include <pthread.h>
#include <stdint.h>
#include "percpu.h"

static _Atomic uint32_t slots_taken;            /* bit i: slot i owned by a live thread */
static _Atomic unsigned int next_shared_slot;
static pthread_key_t slot_key;
static pthread_once_t slot_once = PTHREAD_ONCE_INIT;

__thread unsigned int this_thread_slot __attribute__((tls_model("initial-exec")));

_Static_assert(NR_SLOT_STRIPES <= 32, "the slot bitmap is 32 bits");

/* slot_release - key destructor: an exiting thread gives its slot back. */
static void slot_release(void *v)
{
	unsigned int slot = (unsigned int)(uintptr_t)v - 1;

	atomic_fetch_and(&slots_taken, ~(1u << slot));
	this_thread_slot = 0;
}

static void slot_key_create(void)
{
	(void)pthread_key_create(&slot_key, slot_release);
}

/**
 * thread_slot_assign - give the calling thread its slot: the lowest free
 * one (given back at thread exit), or a shared one when all are taken.
 * Returns slot + 1.  No locks.
 */
unsigned int thread_slot_assign(void)
{
	uint32_t taken = atomic_load(&slots_taken);
	unsigned int slot;

	pthread_once(&slot_once, slot_key_create);
	for (;;) {
		uint32_t free_bits = ~taken & (uint32_t)((1ull << NR_SLOT_STRIPES) - 1);

		if (!free_bits) {
			slot = atomic_fetch_add_explicit(&next_shared_slot, 1, memory_order_relaxed) %
			       NR_SLOT_STRIPES;
			this_thread_slot = slot + 1;
			return this_thread_slot;
		}
		slot = (unsigned int)__builtin_ctz(free_bits);
		if (atomic_compare_exchange_weak(&slots_taken, &taken, taken | (1u << slot)))
			break;
	}
	this_thread_slot = slot + 1;
	if (pthread_setspecific(slot_key, (void *)(uintptr_t)this_thread_slot))
		slot_release((void *)(uintptr_t)this_thread_slot);     /* keep it, owned by nobody */
	return this_thread_slot;
}
