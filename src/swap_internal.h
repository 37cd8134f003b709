/* SPDX-License-Identifier: MIT */
/*
 * swap_internal.h - the swap device's structure, shared by swapfile.c
 * (device, allocator, counts) and swap_state.c (swap cache, swap I/O).
 * Nobody else looks inside: the rest of the library uses swap.h.
 *
 * Locks: si->lock (allocator) and si->cache_lock (the swap cache's
 * radix tree) are leaves (lockdep.h), never held together.
 */
#ifndef UMM_SWAP_INTERNAL_H
#define UMM_SWAP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include "swap.h"
#include "swap_backend.h"
#include "radix_tree.h"
#include "percpu.h"

/*
 * swap_map word: holders in the low bits, SWAP_HAS_CACHE when the swap
 * cache uses the slot, SWAP_SHMEM while its holder is a shmem object
 * (swap-in read-ahead of anonymous pages leaves such slots alone).
 */
#define SWAP_HAS_CACHE  0x80000000u
#define SWAP_SHMEM      0x40000000u
#define SWAP_COUNT_MASK 0x3fffffffu

/* A thread's place in the cluster it is filling (swapfile.c). */
struct swap_cursor {
	uint64_t cluster;
	uint64_t next;          /* the next slot to try */
	bool valid;
};

struct swap_info {
	struct swap_backend *bdev;
	uint64_t nr_slots;              /* slot 0 included, never handed out */
	_Atomic uint32_t *map;          /* per slot: holders | SWAP_HAS_CACHE (atomic) */
	_Atomic unsigned long *origin;  /* per slot: the origin record (page->private) of a
	                                   private copy in a nonlinear window, 0 for none;
	                                   set by add_to_swap, cleared when the slot is released */

	pthread_mutex_t lock;           /* allocator: the fields below up to nr_used */
	uint64_t *used;                 /* bitmap: slot allocated */
	uint32_t *cluster_used;         /* allocated slots per cluster */
	uint8_t *cluster_busy;          /* cluster waiting for or being discarded: not handed out */
	uint64_t *discard_queue;        /* clusters wholly released, to discard (get_swap_page) */
	_Atomic uint64_t nr_discard;    /* written under lock, peeked without */
	uint64_t nr_clusters;
	uint64_t next_cluster;          /* where the next search for a free cluster starts */
	struct swap_cursor cursor[NR_SLOT_STRIPES];
	uint64_t nr_used;               /* allocated slots, slot 0 excluded */

	pthread_rwlock_t cache_lock;    /* the swap cache: cache (read to look up) */
	struct radix_tree cache;        /* slot -> page */
	_Atomic long nr_cache_pages;
	_Atomic long nr_shmem_slots;    /* holders that are shmem objects */

	_Atomic unsigned long stat_pswpin, stat_pswpout, stat_cache_hits;
	_Atomic unsigned long stat_read_errors, stat_write_errors, stat_full;
	_Atomic unsigned long stat_read_requests, stat_write_requests;  /* backend calls */
};

/* The backends (swap_backend.h). */
extern const struct swap_backend_ops swap_file_ops;   /* swap_file.c: a plain path */

/* swap_cache_destroy - drop every page the swap cache holds (system destroy).  swap_state.c. */
void swap_cache_destroy(struct umm_system *sys);

#endif
