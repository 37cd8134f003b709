/* SPDX-License-Identifier: MIT */
/*
 * system.c - creating and destroying a usermm instance, system-wide
 * statistics and failure injection (the system-wide invariant check,
 * umm_system_check, is in mm_check.c).
 *
 * A system is: the physical arena (arena.c, page_alloc.c; a memfd or
 * private anonymous memory: cfg.arena UMM_ARENA_MEMFD or UMM_ARENA_ANON,
 * or for UMM_ARENA_AUTO the kind arena_auto_anon() picks, which
 * sys->cfg.arena records), the thread
 * that gives long-free blocks of it back to the host (page_reporting.c,
 * unless release_ms is -1) and the one that brings memory in from the
 * host ahead of the allocator (populate_ahead.c, unless
 * populate_ahead_mib is -1, or it is 0 and populate is 1 or the arena
 * anonymous), the slab caches for
 * struct umm_mm and struct vm_area_struct, the shared zero page, the
 * list of live address spaces, and reclaim (vmscan.c: the LRU lists and
 * the kswapd thread, stopped first at destroy).  Each helper thread is
 * created when first needed (kthread.c), not here.  Upper
 * layers install their hooks here (unmap_mapping_range for truncate;
 * vmscan_init the allocator's reclaim, kswapd and release hooks) so
 * lower layers never call upwards by name.
 *
 * Locks (order in lockdep.h): sys->mm_list_lock, taken alone here.
 * umm_system_check (mm_check.c) holds it while it takes, for each mm in
 * turn, mmap_lock (read) and the page-table locks; it must only be used
 * when no other thread changes the system (tests).
 */
#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include "system.h"
#include "mm.h"
#include "memory.h"
#include "object.h"
#include "mmu_notifier.h"
#include "rmap.h"
#include "io.h"
#include "swap.h"
#include "vmscan.h"

#define DEFAULT_PHYS_BYTES (256UL << 20)
#define DEFAULT_READAHEAD_MAX (512UL << 10)
#define READAHEAD_MAX_LIMIT (16UL << 20)
#define DEFAULT_RELEASE_MS 1000
#define DEFAULT_COLLAPSE_MS 200
#define DEFAULT_POPULATE_AHEAD_MIB 16

static _Atomic uint64_t next_system_id = 1;

static int validate_config(const struct umm_config *cfg)
{
	if (cfg->phys_bytes && cfg->phys_bytes < (1UL << 20))
		return -EINVAL;
	if (cfg->rmap != UMM_RMAP_DEFAULT && cfg->rmap != UMM_RMAP_PTE_CHAIN &&
	    cfg->rmap != UMM_RMAP_OBJECT)
		return -EINVAL;
	if (!cfg->swap_path && cfg->swap_bytes)
		return -EINVAL;
	if (cfg->swap_path && (cfg->swap_bytes < SWAP_MIN_BYTES || (cfg->swap_bytes & ~PAGE_MASK)))
		return -EINVAL;
	if (cfg->populate != 0 && cfg->populate != 1)
		return -EINVAL;
	if (cfg->release_ms < -1)
		return -EINVAL;
	if (cfg->populate_ahead_mib < -1)
		return -EINVAL;
	if (cfg->collapse_ms < -1)
		return -EINVAL;
	/* against the size the system gets: phys_bytes 0 is the default */
	if (cfg->wmark_min_bytes &&
	    cfg->wmark_min_bytes >= (cfg->phys_bytes ? cfg->phys_bytes : DEFAULT_PHYS_BYTES) / 2)
		return -EINVAL;
	if (cfg->io_backend != UMM_IO_DEFAULT && cfg->io_backend != UMM_IO_URING &&
	    cfg->io_backend != UMM_IO_THREADS)
		return -EINVAL;
	if (cfg->readahead_max_bytes &&
	    (cfg->readahead_max_bytes < PAGE_SIZE || cfg->readahead_max_bytes > READAHEAD_MAX_LIMIT))
		return -EINVAL;
	if (cfg->arena != UMM_ARENA_AUTO && cfg->arena != UMM_ARENA_MEMFD &&
	    cfg->arena != UMM_ARENA_ANON)
		return -EINVAL;
	return 0;
}

static int create_caches(struct umm_system *sys)
{
	sys->mm_cache = kmem_cache_create(sys->phys, "mm_struct", sizeof(struct umm_mm), 64);
	sys->vma_cache = kmem_cache_create(sys->phys, "vm_area_struct",
					   sizeof(struct vm_area_struct), 0);
	if (!sys->mm_cache || !sys->vma_cache)
		return -ENOMEM;
	return 0;
}

static void destroy_caches(struct umm_system *sys)
{
	unsigned long leaked = 0;

	if (sys->vma_cache)
		leaked += kmem_cache_destroy(sys->vma_cache);
	if (sys->mm_cache)
		leaked += kmem_cache_destroy(sys->mm_cache);
	if (leaked)     /* the system is going away: nothing left to count it in */
		pr_warn(NULL, "%lu VMA/mm structures leaked at system destroy", leaked);
}

/*
 * default_rmap - the scheme of a system whose config leaves cfg.rmap 0:
 * object-based, unless the environment variable UMM_RMAP says
 * "pte-chain" (or "object"), so a whole test suite can run under either
 * scheme.  Object rmap is the default because it costs no memory per
 * mapped pte (pte chains: 10 bytes per pte with 64 sharers) and makes
 * faults, fork and exit cheaper; pte chains unmap a widely shared page
 * faster (bench_rmap, docs/BENCHMARKS.md).
 */
static int default_rmap(void)
{
	const char *env = getenv("UMM_RMAP");

	if (env && !strcmp(env, "pte-chain"))
		return UMM_RMAP_PTE_CHAIN;
	return UMM_RMAP_OBJECT;
}

/**
 * umm_system_create - create a usermm instance from cfg (NULL: defaults).
 * Returns 0 with *out set, -EINVAL for a bad config (unknown arena kind
 * included) or NULL out (swap:
 * swap_bytes without swap_path, below SWAP_MIN_BYTES or not a multiple
 * of the page size), the errno of opening or creating the swap file,
 * -ENOMEM when the memory cannot be reserved (phys_bytes too large
 * included), -EOPNOTSUPP (io_backend UMM_IO_URING where io_uring is not
 * available, or a swap target this build cannot use).
 */
int umm_system_create(const struct umm_config *cfg, struct umm_system **out)
{
	static const struct umm_config defaults;
	struct phys_params params = { 0 };
	struct umm_system *sys;
	int err;

	if (!out)
		return -EINVAL;
	if (!cfg)
		cfg = &defaults;
	err = validate_config(cfg);
	if (err)
		return err;
	sys = aligned_alloc(64, ALIGN_UP(sizeof(*sys), 64));   /* cache-line aligned members */
	if (!sys)
		return -ENOMEM;
	memset(sys, 0, sizeof(*sys));
	sys->id = atomic_fetch_add(&next_system_id, 1);
	sys->cfg = *cfg;
	if (!sys->cfg.phys_bytes)
		sys->cfg.phys_bytes = DEFAULT_PHYS_BYTES;
	if (!sys->cfg.rmap)
		sys->cfg.rmap = default_rmap();
	if (sys->cfg.arena == UMM_ARENA_AUTO) {
		sys->cfg.arena = arena_auto_anon() ? UMM_ARENA_ANON : UMM_ARENA_MEMFD;
		sys->arena_auto = true;
	}
	if (!sys->cfg.readahead_max_bytes)
		sys->cfg.readahead_max_bytes = DEFAULT_READAHEAD_MAX;
	sys->cfg.readahead_max_bytes &= PAGE_MASK;
	params.wmark_min = cfg->wmark_min_bytes >> PAGE_SHIFT;
	params.pcp_high = cfg->pcp_high;
	params.populate = cfg->populate;
	params.anon = sys->cfg.arena == UMM_ARENA_ANON;
	err = phys_create(sys->cfg.phys_bytes, &params, &sys->phys);
	/*
	 * validate_config passed the size (>= 1 MiB), so phys_create's
	 * -EINVAL means more frames than an arena can describe: memory that
	 * cannot be had, -ENOMEM as system.h says (and as mmap answers for a
	 * length no address space can hold).
	 */
	if (err == -EINVAL)
		err = -ENOMEM;
	if (err)
		goto err_free_sys;
	sys->phys->owner = sys;
	if (!sys->cfg.release_ms)
		sys->cfg.release_ms = cfg->populate ? -1 : DEFAULT_RELEASE_MS;
	if (sys->cfg.release_ms >= 0) {
		err = page_reporting_start(sys->phys, (unsigned long)sys->cfg.release_ms);
		if (err)
			goto err_phys;
	}
	/* chunks that came in as small host pages are collapsed once the arena is quiet */
	if (!sys->cfg.collapse_ms)
		sys->cfg.collapse_ms = DEFAULT_COLLAPSE_MS;
	if (sys->cfg.collapse_ms >= 0 && sys->cfg.arena == UMM_ARENA_ANON) {
		err = khugepaged_start(sys->phys, (unsigned long)sys->cfg.collapse_ms);
		if (err)
			goto err_phys;
	}
	/*
	 * No thread by default for an anonymous arena: a fault there brings
	 * its chunk in as one host huge page, a cost spread over the chunk's
	 * 512 frames, so there is little to move to another CPU, and a thread
	 * that reaches a chunk at the same time as a fault has the host zero
	 * a huge page twice (arena.c).
	 */
	if (!sys->cfg.populate_ahead_mib)
		sys->cfg.populate_ahead_mib = cfg->populate || sys->cfg.arena == UMM_ARENA_ANON ?
					      -1 : DEFAULT_POPULATE_AHEAD_MIB;
	if (sys->cfg.populate_ahead_mib > 0) {
		/* more than the arena is the whole arena (populate_ahead_start clamps) */
		unsigned long mib = (unsigned long)MIN(sys->cfg.populate_ahead_mib, 1L << 40);

		err = populate_ahead_start(sys->phys, mib << (20 - PAGE_SHIFT));
		if (err)
			goto err_phys;
	}
	err = -ENOMEM;
	sys->zero_page = alloc_page(sys->phys, GFP_ZERO | GFP_ATOMIC);
	if (!sys->zero_page)
		goto err_phys;
	SetPageReserved(sys->zero_page);
	SetPageUptodate(sys->zero_page);
	sys->zero_pfn = page_to_pfn(sys->zero_page);
	err = create_caches(sys);
	if (err)
		goto err_caches;
	err = rmap_system_init(sys);
	if (err)
		goto err_rmap;
	err = io_backend_create(sys);
	if (err)
		goto err_rmap;
	err = swap_system_init(sys);
	if (err)
		goto err_io;
	err = vmscan_init(sys);
	if (err)
		goto err_swap;
	pthread_mutex_init(&sys->mm_list_lock, NULL);
	mmu_notifier_system_init(sys);
	INIT_LIST_HEAD(&sys->mm_list);
	sys->unmap_mapping_range = unmap_mapping_range;
	sys->page_mkclean = page_mkclean;
	*out = sys;
	return 0;

err_swap:
	swap_system_destroy(sys);
err_io:
	io_backend_destroy(sys);
err_rmap:
	rmap_system_destroy(sys);
err_caches:
	destroy_caches(sys);
err_phys:
	phys_destroy(sys->phys);
err_free_sys:
	free(sys);
	return err;
}

/**
 * umm_system_destroy - free an instance.  The caller has destroyed its
 * address spaces and put its objects; if any is still alive the call logs
 * a warning, counts it and returns -EBUSY with nothing destroyed.  Takes
 * mm_list_lock.  0 (also for NULL) or -EBUSY.
 */
int umm_system_destroy(struct umm_system *sys)
{
	unsigned long nr_mms;

	if (!sys)
		return 0;
	pthread_mutex_lock(&sys->mm_list_lock);
	nr_mms = sys->nr_mms;
	pthread_mutex_unlock(&sys->mm_list_lock);
	if (nr_mms || atomic_load(&sys->nr_objects)) {
		pr_warn(sys, "system not destroyed: %lu address spaces and %ld objects alive",
			nr_mms, atomic_load(&sys->nr_objects));
		return -EBUSY;
	}
	vmscan_destroy(sys);
	swap_system_destroy(sys);
	io_backend_destroy(sys);
	if (rmap_system_destroy(sys))
		pr_warn(NULL, "reverse-map structures leaked at system destroy");
	destroy_caches(sys);
	pthread_mutex_destroy(&sys->mm_list_lock);
	mmu_notifier_system_destroy(sys);
	phys_destroy(sys->phys);
	free(sys);
	return 0;
}

/**
 * umm_strerror - message for a usermm error code (negative or positive errno).
 */
const char *umm_strerror(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case 0:       return "Success";
	case EFAULT:  return "Bad address (SIGSEGV: no mapping or wrong protection)";
	case EIO:     return "I/O error (SIGBUS: past the end of the object or backing I/O failed)";
	case ENOMEM:  return "Out of memory (physical frames, page tables or VMAs)";
	default:      return strerror(err);
	}
}

/**
 * umm_system_stats - snapshot of system-wide counters.  0 or -EINVAL.
 * First gives the calling thread's cached VMA and mm objects back to
 * their slabs, so that free_frames is exact for a quiescent system.
 */
int umm_system_stats(struct umm_system *sys, struct umm_sys_stats *st)
{
	struct phys_stats ps;
	struct kmem_cache_stats ks;

	if (!sys || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	/* objects in this thread's magazines keep slabs (frames) allocated */
	kmem_cache_drain_local(sys->mm_cache);
	kmem_cache_drain_local(sys->vma_cache);
	if (sys->pte_chain_cache)
		kmem_cache_drain_local(sys->pte_chain_cache);
	phys_get_stats(sys->phys, &ps);
	st->total_frames = ps.nr_frames;
	st->free_frames = ps.nr_free;
	st->wmark_min = ps.wmark_min;
	st->wmark_low = ps.wmark_low;
	st->wmark_high = ps.wmark_high;
	st->alloc_failures = ps.alloc_failures;
	st->host_populated_bytes = ps.populated_bytes;
	st->host_released_bytes = ps.released_bytes;
	st->host_populate_ns = ps.populate_ns;
	st->host_populated_ahead_bytes = ps.ahead_bytes;
	st->host_populate_ahead_cpu_ns = ps.ahead_cpu_ns;
	st->host_small_chunks = ps.small_now;
	st->host_collapsed_chunks = ps.collapsed;
	st->host_collapse_failed = ps.collapse_failed;
	st->host_collapse_ns = ps.collapse_ns;
	st->arena = sys->cfg.arena;
	st->pagecache_pages = (unsigned long)atomic_load(&sys->nr_pagecache);
	st->anon_pages = (unsigned long)stripe_counter_sum(&sys->nr_anon);
	st->pgtable_pages = (unsigned long)atomic_load(&sys->nr_pgtable);
	kmem_cache_get_stats(sys->mm_cache, &ks);
	st->slab_pages = ks.pages;
	kmem_cache_get_stats(sys->vma_cache, &ks);
	st->slab_pages += ks.pages;
	if (sys->pte_chain_cache) {
		kmem_cache_get_stats(sys->pte_chain_cache, &ks);
		st->slab_pages += ks.pages;
	}
	mm_list_lock(sys);
	st->nr_mms = sys->nr_mms;
	mm_list_unlock(sys);
	st->nr_objects = (unsigned long)atomic_load(&sys->nr_objects);
	st->warnings = (unsigned long)atomic_load(&sys->nr_warnings);
	st->io_backend = io_backend_kind(sys);
	st->ra_pages = atomic_load(&sys->ra_pages);
	st->ra_hits = atomic_load(&sys->ra_hits);
	st->ra_wasted = atomic_load(&sys->ra_wasted);
	st->io_requests = atomic_load(&sys->io_requests);
	st->io_pages = atomic_load(&sys->io_pages);
	st->io_errors = atomic_load(&sys->io_errors);
	for (int i = 0; i < UMM_IO_HIST_BUCKETS; i++)
		st->io_hist[i] = atomic_load(&sys->io_hist[i]);
	st->file_write_requests = atomic_load(&sys->file_write_requests);
	st->file_write_pages = atomic_load(&sys->file_write_pages);
	st->rmap = sys->cfg.rmap;
	rmap_get_stats(sys, &st->nr_reverse_maps, &st->rmap_bytes);
	{
		struct swap_stats ss;

		swap_get_stats(sys, &ss);
		st->swap_total = ss.total;
		st->swap_used = ss.used;
		st->pswpin = ss.pswpin;
		st->pswpout = ss.pswpout;
		st->swap_cache_hits = ss.cache_hits;
		st->swap_cache_pages = ss.cache_pages;
		st->swap_read_errors = ss.read_errors;
		st->swap_write_errors = ss.write_errors;
		st->swap_full = ss.full;
		st->swap_read_requests = ss.read_requests;
		st->swap_write_requests = ss.write_requests;
		st->swap_remote_pages = ss.remote_pages;
		st->swap_remote_bytes = ss.remote_bytes;
		st->swap_remote_requests = ss.remote_requests;
		st->swap_remote_errors = ss.remote_errors;
		st->swap_remote_lost = ss.remote_lost;
		st->swap_remote_corrupt = ss.remote_corrupt;
		st->swap_remote_read_p50_ns = ss.remote_read_p50_ns;
		st->swap_remote_read_p99_ns = ss.remote_read_p99_ns;
	}
	vmscan_get_stats(sys, st);
	return 0;
}

static struct fault_inject *inject_site(struct umm_system *sys, int site)
{
	switch (site) {
	case UMM_INJECT_PAGE_ALLOC: return &sys->phys->fail_alloc;
	case UMM_INJECT_READ:       return &sys->fail_read;
	case UMM_INJECT_WRITE:      return &sys->fail_write;
	case UMM_INJECT_SWAP_READ:  return &sys->fail_swap_read;
	case UMM_INJECT_SWAP_WRITE: return &sys->fail_swap_write;
	default:                    return NULL;
	}
}

/**
 * umm_inject_fault - arm failure injection at a site (see <usermm/debug.h>).
 */
int umm_inject_fault(struct umm_system *sys, int site, long skip, long times)
{
	struct fault_inject *fi;

	if (!sys || skip < 0 || times < -1)
		return -EINVAL;
	fi = inject_site(sys, site);
	if (!fi)
		return -EINVAL;
	fault_inject_arm(fi, skip, times);
	return 0;
}

/**
 * umm_inject_hits - failures produced at a site so far (0 for a bad site).
 */
unsigned long umm_inject_hits(struct umm_system *sys, int site)
{
	struct fault_inject *fi = sys ? inject_site(sys, site) : NULL;

	return fi ? atomic_load(&fi->hits) : 0;
}
