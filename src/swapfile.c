/* SPDX-License-Identifier: MIT */
/*
 * swapfile.c - the swap device: the store behind it (a backend chosen by
 * the target's prefix), the slot allocator, the per-slot reference counts
 * and the swap statistics.
 *
 * Theory of operation.  A system has at most one swap device, opened or
 * created by umm_system_create from cfg.swap_path and cfg.swap_bytes.
 * Its slots are numbered 0 .. nr_slots-1 as the backend's; slot 0 is
 * never handed out, so a swap entry (swap.h) is simply the slot number
 * and 0 is never a valid entry.
 *
 * Each slot has one 32-bit word, swap_map[slot]: the number of holders
 * (swap ptes, shmem objects) in its low bits and SWAP_HAS_CACHE when the
 * swap cache (swap_state.c) uses the slot.  The word is changed only by
 * atomic compare-and-swap, so fork, zap and try_to_unmap change counts
 * under a pte table lock without taking any lock here.  The word that
 * drops to 0 (no holder, no cache) releases the slot to the allocator.
 * When the last holder goes while the cache still has the slot,
 * swap_free asks the swap cache to let the page go
 * (try_free_swap_cache_entry).
 *
 * Allocation.  The slots are cut into clusters of SWAPFILE_CLUSTER.
 * Each thread (its percpu.h slot) has a cursor into the cluster it is
 * filling, so consecutive evictions by one thread (reclaim's batches)
 * get consecutive slots and their writes can be one large I/O, and
 * threads evicting at once do not interleave their slots.  A cursor
 * whose cluster is used up moves to a wholly free cluster, searched
 * round-robin from where the last search ended; when no cluster is wholly
 * free, to any cluster with a free slot (the device is fragmented).  A
 * used-slot bitmap, per-cluster counts and the cursors are under the
 * device's allocator lock.  A cluster whose last slot is released is
 * queued for a discard through the backend (its contents will not be
 * read again: the file backend punches a hole), and the allocator skips
 * it until the discard is done.  The next get_swap_page makes the queued
 * discards before it allocates, so that the backend is never called from
 * swap_free, which zap calls under a pte table lock.
 *
 * Backends.  swap_backends[] maps a target prefix to a backend; the
 * first match wins and the plain-path file backend (swap_file.c) comes
 * last with the empty prefix.  Other stores register by adding a line.
 *
 * Locks (the order is in lockdep.h): si->lock, the allocator's, is a
 * leaf: taken alone, under a pte table lock (zap's swap_free releasing a
 * slot) or a page lock, never while waiting for anything else.  The
 * backend's discard is called by get_swap_page with no swapfile lock and
 * no page-table lock held (the caller may hold a page lock).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "swap.h"
#include "swap_backend.h"
#include "swap_internal.h"
#include "swap_redis.h"
#include "system.h"

/* The backends by target prefix, first match wins; the file backend last. */
static const struct {
	const char *prefix;
	const struct swap_backend_ops *ops;
} swap_backends[] = {
	{ "redis://", &swap_redis_ops },                 /* swap_redis.c */
	{ "redis-cluster://", &swap_redis_cluster_ops },
	{ "", &swap_file_ops },
};

static inline struct swap_info *swap_info(const struct umm_system *sys)
{
	return sys->swap;
}

/**
 * swap_enabled - does the system have a swap device?  No locks.
 */
bool swap_enabled(const struct umm_system *sys)
{
	return sys->swap != NULL;
}

/**
 * swap_nr_slots - the device's slots, reserved slot 0 included; 0
 * without swap.  No locks.
 */
uint64_t swap_nr_slots(const struct umm_system *sys)
{
	return sys->swap ? sys->swap->nr_slots : 0;
}

/**
 * swap_entry_valid - does @entry name a slot the allocator can hand out?
 * No locks.
 */
bool swap_entry_valid(const struct umm_system *sys, swp_entry_t entry)
{
	struct swap_info *si = swap_info(sys);

	return si && entry.val > 0 && entry.val < si->nr_slots;
}

static inline bool slot_used(const struct swap_info *si, uint64_t slot)
{
	return (si->used[slot / 64] >> (slot % 64)) & 1;
}

/*
 * take_slot - mark a free slot allocated, for the swap cache.  si->lock
 * held.
 */
static void take_slot(struct swap_info *si, uint64_t slot)
{
	VM_BUG_ON(slot_used(si, slot) || atomic_load(&si->map[slot]) != 0);
	si->used[slot / 64] |= 1ULL << (slot % 64);
	si->cluster_used[slot / SWAPFILE_CLUSTER]++;
	si->nr_used++;
	atomic_store(&si->map[slot], SWAP_HAS_CACHE);
}

/* cluster_first_free - the first free slot of cluster cl at or after slot from, or 0.  si->lock held. */
static uint64_t cluster_first_free(const struct swap_info *si, uint64_t cl, uint64_t from)
{
	uint64_t end = MIN((cl + 1) * SWAPFILE_CLUSTER, si->nr_slots);

	for (uint64_t s = MAX(from, cl * SWAPFILE_CLUSTER); s < end; s++)
		if (!slot_used(si, s))
			return s;
	return 0;
}

/*
 * scan_clusters - a cluster for a cursor: a wholly free one if any
 * (round-robin from si->next_cluster), else when `any` one with a free
 * slot.  Returns the cluster or UINT64_MAX.  si->lock held.
 */
static uint64_t scan_clusters(struct swap_info *si, bool any)
{
	for (uint64_t i = 0; i < si->nr_clusters; i++) {
		uint64_t cl = (si->next_cluster + i) % si->nr_clusters;
		uint64_t size = MIN(SWAPFILE_CLUSTER, si->nr_slots - cl * SWAPFILE_CLUSTER);

		if (si->cluster_busy[cl])
			continue;
		if (any ? si->cluster_used[cl] < size : si->cluster_used[cl] == 0) {
			si->next_cluster = (cl + 1) % si->nr_clusters;
			return cl;
		}
	}
	return UINT64_MAX;
}

/*
 * do_discards - discard the clusters queued by swap_release, then let the
 * allocator use them again.  Takes si->lock; the backend calls run
 * without it.
 */
static void do_discards(struct swap_info *si)
{
	uint64_t batch[16];
	unsigned int n;

	for (;;) {
		pthread_mutex_lock(&si->lock);
		n = (unsigned int)MIN(atomic_load(&si->nr_discard), 16);
		atomic_store(&si->nr_discard, atomic_load(&si->nr_discard) - n);
		memcpy(batch, si->discard_queue + atomic_load(&si->nr_discard), n * sizeof(batch[0]));
		pthread_mutex_unlock(&si->lock);
		if (!n)
			return;
		for (unsigned int i = 0; i < n; i++)
			(void)si->bdev->ops->discard(si->bdev, batch[i] * SWAPFILE_CLUSTER,
				(unsigned int)MIN(SWAPFILE_CLUSTER, si->nr_slots - batch[i] * SWAPFILE_CLUSTER));
		pthread_mutex_lock(&si->lock);
		for (unsigned int i = 0; i < n; i++)
			si->cluster_busy[batch[i]] = 0;
		pthread_mutex_unlock(&si->lock);
	}
}

/**
 * get_swap_page - a free slot, marked for the swap cache (swap.h); the
 * queued discards are made first.  Takes si->lock (leaf); calls the
 * backend's discard without it.  0 with *@entry set, or -ENOSPC.
 */
int get_swap_page(struct umm_system *sys, swp_entry_t *entry)
{
	struct swap_info *si = swap_info(sys);
	struct swap_cursor *cur;
	uint64_t slot = 0, cl;

	if (!si)
		return -ENOSPC;
	if (atomic_load_explicit(&si->nr_discard, memory_order_relaxed))
		do_discards(si);
	pthread_mutex_lock(&si->lock);
	cur = &si->cursor[thread_slot()];
	if (cur->valid && !si->cluster_busy[cur->cluster])
		slot = cluster_first_free(si, cur->cluster, cur->next);
	if (!slot) {
		cl = scan_clusters(si, false);
		if (cl == UINT64_MAX)
			cl = scan_clusters(si, true);
		if (cl != UINT64_MAX)
			slot = cluster_first_free(si, cl, 0);
	}
	if (!slot) {
		cur->valid = false;
		pthread_mutex_unlock(&si->lock);
		atomic_fetch_add(&si->stat_full, 1);
		return -ENOSPC;
	}
	take_slot(si, slot);
	cur->valid = true;
	cur->cluster = slot / SWAPFILE_CLUSTER;
	cur->next = slot + 1;
	pthread_mutex_unlock(&si->lock);
	entry->val = slot;
	return 0;
}

/*
 * swap_release - the slot's word dropped to 0: give it back to the
 * allocator, and queue its cluster for a discard if that was the
 * cluster's last used slot.  Takes si->lock (leaf).
 */
static void swap_release(struct swap_info *si, uint64_t slot)
{
	uint64_t cl = slot / SWAPFILE_CLUSTER;

	pthread_mutex_lock(&si->lock);
	VM_BUG_ON(!slot_used(si, slot));
	si->used[slot / 64] &= ~(1ULL << (slot % 64));
	atomic_store(&si->origin[slot], 0);
	si->cluster_used[cl]--;
	si->nr_used--;
	if (si->cluster_used[cl] == 0 && si->bdev->ops->discard) {
		si->cluster_busy[cl] = 1;
		si->discard_queue[atomic_fetch_add(&si->nr_discard, 1)] = cl;
	}
	pthread_mutex_unlock(&si->lock);
}

/* slot_word - the map word of a valid entry, or NULL (reported) for an invalid one. */
static _Atomic uint32_t *slot_word(struct umm_system *sys, swp_entry_t entry, const char *who)
{
	if (unlikely(!swap_entry_valid(sys, entry))) {
		pr_warn(sys, "%s: bad swap entry %#llx", who, (unsigned long long)entry.val);
		VM_BUG_ON(1);
		return NULL;
	}
	return &sys->swap->map[entry.val];
}

/**
 * swap_duplicate - one more holder of @entry, which must be in use (held
 * or cached).  Atomic; any locks.  0, -ENOMEM (the count is at its
 * maximum), -EINVAL (an entry not in use: a bug, reported).
 */
int swap_duplicate(struct umm_system *sys, swp_entry_t entry)
{
	_Atomic uint32_t *w = slot_word(sys, entry, "swap_duplicate");
	uint32_t v;

	if (!w)
		return -EINVAL;
	v = atomic_load(w);
	do {
		if (v == 0) {
			pr_warn(sys, "swap_duplicate: unused swap entry %#llx", (unsigned long long)entry.val);
			return -EINVAL;
		}
		if ((v & SWAP_COUNT_MASK) == SWAP_COUNT_MASK)
			return -ENOMEM;
	} while (!atomic_compare_exchange_weak(w, &v, v + 1));
	return 0;
}

/**
 * swap_free - a holder let go of @entry.  The slot is released with its
 * last holder unless the swap cache has it; then the cache is asked to
 * let the page go (try_free_swap_cache_entry).  Atomic apart from that;
 * any locks (may take si->lock and the swap cache lock, both leaves, and
 * trylock a page).
 */
void swap_free(struct umm_system *sys, swp_entry_t entry)
{
	_Atomic uint32_t *w = slot_word(sys, entry, "swap_free");
	uint32_t v, n;

	if (!w)
		return;
	v = atomic_load(w);
	do {
		if (!(v & SWAP_COUNT_MASK)) {
			pr_warn(sys, "swap_free: swap entry %#llx has no holder", (unsigned long long)entry.val);
			VM_BUG_ON(1);
			return;
		}
		n = v - 1;
		if (!(n & SWAP_COUNT_MASK))
			n &= ~SWAP_SHMEM;
	} while (!atomic_compare_exchange_weak(w, &v, n));
	if (n == 0)
		swap_release(sys->swap, entry.val);
	else if (n == SWAP_HAS_CACHE)
		try_free_swap_cache_entry(sys, entry);
}

/**
 * swap_hold_shmem - a shmem object becomes the holder of @entry, a slot
 * it got from get_swap_page: one holder, marked as shmem's (swapin
 * read-ahead skips it).  Atomic.
 */
void swap_hold_shmem(struct umm_system *sys, swp_entry_t entry)
{
	_Atomic uint32_t *w = slot_word(sys, entry, "swap_hold_shmem");

	if (!w)
		return;
	VM_BUG_ON((atomic_load(w) & ~SWAP_HAS_CACHE) != 0);
	atomic_fetch_or(w, SWAP_SHMEM | 1);
	atomic_fetch_add(&sys->swap->nr_shmem_slots, 1);
}

/**
 * swap_readahead_ok - is @entry worth reading ahead for an anonymous
 * fault: held, not by shmem, and not cached?  No locks (a hint: the
 * claim decides).
 */
bool swap_readahead_ok(struct umm_system *sys, swp_entry_t entry)
{
	uint32_t v;

	if (!swap_entry_valid(sys, entry))
		return false;
	v = atomic_load(&sys->swap->map[entry.val]);
	return (v & SWAP_COUNT_MASK) && !(v & (SWAP_SHMEM | SWAP_HAS_CACHE));
}

/**
 * swap_count - the holders of @entry, the swap cache not counted.  No
 * locks (a snapshot).
 */
unsigned int swap_count(struct umm_system *sys, swp_entry_t entry)
{
	if (!swap_entry_valid(sys, entry))
		return 0;
	return atomic_load(&sys->swap->map[entry.val]) & SWAP_COUNT_MASK;
}

/**
 * swap_origin - the origin record kept with @entry's slot (the
 * page->private of a private copy in a nonlinear window, memory.c), 0
 * for none or an invalid entry.  No locks.
 */
unsigned long swap_origin(struct umm_system *sys, swp_entry_t entry)
{
	if (!swap_entry_valid(sys, entry))
		return 0;
	return atomic_load(&sys->swap->origin[entry.val]);
}

/**
 * swapcache_prepare - claim @entry for the swap cache.  Atomic.
 * 0, -EEXIST (the cache has it, or another thread is adding it), -ENOENT
 * (no holder: the slot was freed, or the entry is invalid).
 */
int swapcache_prepare(struct umm_system *sys, swp_entry_t entry)
{
	_Atomic uint32_t *w;
	uint32_t v;

	if (!swap_entry_valid(sys, entry))
		return -ENOENT;
	w = &sys->swap->map[entry.val];
	v = atomic_load(w);
	do {
		if (!(v & SWAP_COUNT_MASK))
			return -ENOENT;
		if (v & SWAP_HAS_CACHE)
			return -EEXIST;
	} while (!atomic_compare_exchange_weak(w, &v, v | SWAP_HAS_CACHE));
	return 0;
}

/**
 * swapcache_clear - the swap cache no longer uses @entry: the slot is
 * released if no holder is left.  Atomic apart from that; any locks.
 */
void swapcache_clear(struct umm_system *sys, swp_entry_t entry)
{
	_Atomic uint32_t *w = slot_word(sys, entry, "swapcache_clear");
	uint32_t old;

	if (!w)
		return;
	old = atomic_fetch_and(w, ~SWAP_HAS_CACHE);
	VM_BUG_ON(!(old & SWAP_HAS_CACHE));
	if ((old & ~SWAP_HAS_CACHE) == 0)
		swap_release(sys->swap, entry.val);
}

/**
 * nr_swap_pages_free - free slots (0 without a device).  Takes si->lock.
 */
uint64_t nr_swap_pages_free(struct umm_system *sys)
{
	struct swap_info *si = swap_info(sys);
	uint64_t n;

	if (!si)
		return 0;
	pthread_mutex_lock(&si->lock);
	n = si->nr_slots - 1 - si->nr_used;
	pthread_mutex_unlock(&si->lock);
	return n;
}

/* choose_backend - the first entry of swap_backends whose prefix the target has. */
static const struct swap_backend_ops *choose_backend(const char *target)
{
	for (size_t i = 0; i < sizeof(swap_backends) / sizeof(swap_backends[0]); i++)
		if (!strncmp(target, swap_backends[i].prefix, strlen(swap_backends[i].prefix)))
			return swap_backends[i].ops;
	return NULL;
}

/**
 * swap_system_init - open the swap device of sys->cfg (swap.h).
 * No locks.  0, -EINVAL, the backend's open errno, -ENOMEM.
 */
int swap_system_init(struct umm_system *sys)
{
	const struct umm_config *cfg = &sys->cfg;
	const struct swap_backend_ops *ops;
	struct swap_info *si;
	uint64_t nr;
	int err;

	if (!cfg->swap_path)
		return cfg->swap_bytes ? -EINVAL : 0;
	if (cfg->swap_bytes < SWAP_MIN_BYTES || (cfg->swap_bytes & ~PAGE_MASK))
		return -EINVAL;
	ops = choose_backend(cfg->swap_path);
	if (!ops)
		return -EINVAL;
	nr = cfg->swap_bytes >> PAGE_SHIFT;
	si = calloc(1, sizeof(*si));
	if (!si)
		return -ENOMEM;
	si->nr_slots = nr;
	si->nr_clusters = (nr + SWAPFILE_CLUSTER - 1) / SWAPFILE_CLUSTER;
	si->map = calloc(nr, sizeof(*si->map));
	si->origin = calloc(nr, sizeof(*si->origin));
	si->used = calloc((nr + 63) / 64, sizeof(*si->used));
	si->cluster_used = calloc(si->nr_clusters, sizeof(*si->cluster_used));
	si->cluster_busy = calloc(si->nr_clusters, sizeof(*si->cluster_busy));
	si->discard_queue = calloc(si->nr_clusters, sizeof(*si->discard_queue));
	err = -ENOMEM;
	if (!si->map || !si->origin || !si->used || !si->cluster_used || !si->cluster_busy ||
	    !si->discard_queue)
		goto err_free;
	err = ops->open(cfg->swap_path, nr, &si->bdev);
	if (err)
		goto err_free;
	/* slot 0 is never handed out: entry 0 means "no entry" */
	si->used[0] = 1;
	si->cluster_used[0] = 1;
	pthread_mutex_init(&si->lock, NULL);
	pthread_rwlock_init(&si->cache_lock, NULL);
	radix_tree_init(&si->cache);
	sys->swap = si;
	return 0;

err_free:
	free(si->discard_queue);
	free(si->cluster_busy);
	free(si->cluster_used);
	free(si->used);
	free((void *)si->origin);
	free((void *)si->map);
	free(si);
	return err;
}

/**
 * swap_system_destroy - empty the swap cache (swap_state.c) and close the
 * device.  The system is quiescent.  No locks.
 */
void swap_system_destroy(struct umm_system *sys)
{
	struct swap_info *si = swap_info(sys);

	if (!si)
		return;
	swap_cache_destroy(sys);
	if (si->nr_used)
		pr_warn(sys, "%llu swap slots still in use at system destroy",
			(unsigned long long)si->nr_used);
	si->bdev->ops->close(si->bdev);
	pthread_mutex_destroy(&si->lock);
	pthread_rwlock_destroy(&si->cache_lock);
	free(si->discard_queue);
	free(si->cluster_busy);
	free(si->cluster_used);
	free(si->used);
	free((void *)si->origin);
	free((void *)si->map);
	free(si);
	sys->swap = NULL;
}

/**
 * swap_free_shmem - the shmem object holding @entry let go of it
 * (swap-in, truncate).  As swap_free.
 */
void swap_free_shmem(struct umm_system *sys, swp_entry_t entry)
{
	atomic_fetch_sub(&sys->swap->nr_shmem_slots, 1);
	swap_free(sys, entry);
}

/**
 * swap_get_stats - the device's counters (all 0 without swap).  Takes
 * si->lock for the used count.
 */
void swap_get_stats(struct umm_system *sys, struct swap_stats *st)
{
	struct swap_info *si = swap_info(sys);

	memset(st, 0, sizeof(*st));
	if (!si)
		return;
	st->total = si->nr_slots - 1;
	st->used = st->total - nr_swap_pages_free(sys);
	st->pswpin = atomic_load(&si->stat_pswpin);
	st->pswpout = atomic_load(&si->stat_pswpout);
	st->cache_hits = atomic_load(&si->stat_cache_hits);
	st->read_errors = atomic_load(&si->stat_read_errors);
	st->write_errors = atomic_load(&si->stat_write_errors);
	st->full = atomic_load(&si->stat_full);
	st->read_requests = atomic_load(&si->stat_read_requests);
	st->write_requests = atomic_load(&si->stat_write_requests);
	st->cache_pages = (unsigned long)atomic_load(&si->nr_cache_pages);
	st->shmem_pages = (unsigned long)atomic_load(&si->nr_shmem_slots);
	{
		struct swap_redis_stats rs;

		if (!swap_redis_get_stats(si->bdev, &rs)) {      /* -EINVAL: not a Redis device */
			st->remote_pages = rs.pages;
			st->remote_bytes = rs.bytes;
			st->remote_requests = rs.requests;
			st->remote_errors = rs.errors + rs.del_errors;
			st->remote_lost = rs.lost;
			st->remote_corrupt = rs.corrupt;
			st->remote_read_p50_ns = swap_redis_lat_percentile(rs.read_lat, 50);
			st->remote_read_p99_ns = swap_redis_lat_percentile(rs.read_lat, 99);
		}
	}
}

/**
 * swap_check - compare every slot's holder count with @pte_holders (swap
 * ptes per slot, counted by the caller over every mm) plus the slots
 * shmem objects hold: no slot may have fewer holders than ptes name it,
 * a slot in use must be held or cached, and the totals must agree.
 * System quiescent.  Returns the number of problems (logged).
 */
int swap_check(struct umm_system *sys, const unsigned int *pte_holders)
{
	struct swap_info *si = swap_info(sys);
	uint64_t holders = 0, ptes = 0;
	int errors = 0;

	if (!si)
		return 0;
	for (uint64_t s = 1; s < si->nr_slots; s++) {
		uint32_t v = atomic_load(&si->map[s]);
		unsigned int n = v & SWAP_COUNT_MASK;

		holders += n;
		ptes += pte_holders[s];
		if (n < pte_holders[s] && errors++ < 10)
			pr_check("swap slot %llu has %u holders but %u ptes name it",
				 (unsigned long long)s, n, pte_holders[s]);
		if ((v != 0) != slot_used(si, s) && errors++ < 10)
			pr_check("swap slot %llu: word %#x but allocator says %s",
				 (unsigned long long)s, v, slot_used(si, s) ? "used" : "free");
	}
	if (holders != ptes + (uint64_t)atomic_load(&si->nr_shmem_slots) && errors++ < 10)
		pr_check("swap holders %llu, but %llu swap ptes and %ld shmem slots",
			 (unsigned long long)holders, (unsigned long long)ptes,
			 atomic_load(&si->nr_shmem_slots));
	return errors;
}
