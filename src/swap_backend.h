/* SPDX-License-Identifier: MIT */
/*
 * swap_backend.h - where swapped-out pages are stored.
 *
 * Reclaim and the swap cache (swap.h) never do swap I/O themselves: they
 * call a backend through this small interface, so that the store behind
 * swap can be a local file (swap_file.c, the default) or another
 * machine's memory through a key-value store, without touching reclaim.
 *
 * A backend stores fixed-size pages in numbered slots 0 .. nr_slots-1.
 * Slot numbers are given by the swap slot allocator (swapfile.c), which
 * hands consecutive evictions consecutive slots, so a write of `nr`
 * consecutive slots is the common case and should be one large I/O.
 *
 * Every operation may be called from several threads at once (faulting
 * threads, kswapd, direct reclaim), with no usermm lock held except the
 * locks of the pages whose contents are being moved; an operation may
 * sleep and block on I/O.  A backend must never return data for a slot
 * that it cannot vouch for (a store that lost or mangled the value
 * reports -EIO instead).
 */
#ifndef UMM_SWAP_BACKEND_H
#define UMM_SWAP_BACKEND_H

#include <stdint.h>

struct swap_backend;

struct swap_backend_ops {
	const char *name;     /* "file", ... (statistics, messages) */
	/*
	 * open - set up a store of nr_slots pages described by target (the
	 * configuration's swap_path).  *out on success.  0, or a negative
	 * errno: -EINVAL for a target this backend cannot parse, the open
	 * errno for one it cannot reach.
	 */
	int (*open)(const char *target, uint64_t nr_slots, struct swap_backend **out);
	/*
	 * write - store nr pages, bufs[i] going to slot + i (each buffer
	 * PAGE_SIZE bytes, stable until the call returns).  0 when all are
	 * stored; a negative errno (-EIO, -ENOSPC, ...) when any is not (the
	 * caller then treats every page of the call as not written).
	 */
	int (*write)(struct swap_backend *b, uint64_t slot, unsigned int nr, const void *const *bufs);
	/*
	 * read - fetch nr pages, slot + i into bufs[i].  0, or a negative
	 * errno (-EIO for a lost, foreign or corrupt value) when any page
	 * could not be read; no buffer may then be trusted.
	 */
	int (*read)(struct swap_backend *b, uint64_t slot, unsigned int nr, void *const *bufs);
	/* discard - the slots' contents will not be read again (may be a no-op).  0 or -errno. */
	int (*discard)(struct swap_backend *b, uint64_t slot, unsigned int nr);
	/* close - release everything (the store's copies of live slots need not survive). */
	void (*close)(struct swap_backend *b);
};

/* The common head of every backend's private structure. */
struct swap_backend {
	const struct swap_backend_ops *ops;
	uint64_t nr_slots;
};

#endif
