/* SPDX-License-Identifier: MIT */
/*
 * usermm/stats.h - counters and /proc-style dumps.
 */
#ifndef USERMM_STATS_H
#define USERMM_STATS_H

#include <stdio.h>
#include "system.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UMM_IO_HIST_BUCKETS 8

struct umm_sys_stats {
	unsigned long total_frames;
	unsigned long free_frames;      /* buddy lists + per-thread caches */
	unsigned long pagecache_pages;  /* pages in all objects' page caches */
	unsigned long anon_pages;       /* allocated anonymous pages */
	unsigned long pgtable_pages;
	unsigned long slab_pages;
	unsigned long wmark_min, wmark_low, wmark_high;
	unsigned long alloc_failures;
	unsigned long nr_mms, nr_objects;
	unsigned long warnings;         /* UMM_LOG_WARNING lines logged about this system */
	/* asynchronous reads and readahead */
	int io_backend;                 /* the one running: UMM_IO_URING or UMM_IO_THREADS */
	unsigned long ra_pages;         /* pages read ahead (fault windows, MADV_WILLNEED,
	                                   asynchronous prepage), not the faulting page */
	unsigned long ra_hits;          /* of those, used since (a fault, or populate) */
	unsigned long ra_wasted;        /* of those, dropped from the cache unused */
	unsigned long io_requests;      /* read requests (one run of pages each) */
	unsigned long io_pages;         /* pages in those requests */
	unsigned long io_errors;        /* pages whose asynchronous read failed */
	unsigned long io_hist[UMM_IO_HIST_BUCKETS]; /* requests of 1, 2-3, 4-7, ...
	                                   64-127, 128+ pages */
	/* writes of dirty page-cache pages to their files (writeback: msync, sync,
	   reclaim, the last put...) */
	unsigned long file_write_requests; /* pwrite/pwritev calls (one run of pages each) */
	unsigned long file_write_pages; /* pages those calls wrote */
	int rmap;                       /* the reverse-map scheme in use: UMM_RMAP_PTE_CHAIN or _OBJECT */
	unsigned long nr_reverse_maps;  /* pte chains: ptes recorded (direct ones included); object: 0 */
	unsigned long rmap_bytes;       /* reverse-map memory beyond struct page: chain blocks
	                                   (pte chains) or anon_vmas (object) */
	unsigned long host_populated_bytes;  /* physical memory brought in from the host (cumulative) */
	unsigned long host_released_bytes;   /* physical memory given back to the host (cumulative) */
	unsigned long host_populate_ns;      /* time spent bringing memory in (cumulative) */
	unsigned long host_populated_ahead_bytes; /* of host_populated_bytes, brought in by the
	                                   populate-ahead thread before use (cumulative) */
	unsigned long host_populate_ahead_cpu_ns; /* that thread's CPU time (cumulative) */
	/* an anonymous arena's 2 MiB chunks that came in as 4 KiB host pages
	   (host huge pages cold) and their collapse into huge pages
	   (umm_config.collapse_ms) */
	unsigned long host_small_chunks;     /* present as 4 KiB host pages now */
	unsigned long host_collapsed_chunks; /* collapsed into a 2 MiB host page (cumulative) */
	unsigned long host_collapse_failed;  /* collapses the host refused (cumulative) */
	unsigned long host_collapse_ns;      /* time the collapses took (cumulative) */
	int arena;                      /* the arena's kind: UMM_ARENA_MEMFD or UMM_ARENA_ANON
	                                   (for UMM_ARENA_AUTO, the kind it picked) */
	/* swap (all 0 without a swap device) */
	unsigned long swap_total;       /* slots of the swap device (pages) */
	unsigned long swap_used;        /* slots in use (held by swap ptes or shmem, or cached) */
	unsigned long pswpin;           /* pages read from swap (read-ahead ones included) */
	unsigned long pswpout;          /* pages written to swap */
	unsigned long swap_cache_hits;  /* swap-ins that found the page in the swap cache */
	unsigned long swap_cache_pages; /* pages in the swap cache now */
	unsigned long swap_read_errors; /* failed swap reads (one per backend call) */
	unsigned long swap_write_errors;/* failed swap writes (one per backend call) */
	unsigned long swap_full;        /* slot allocations refused: no free slot */
	unsigned long swap_read_requests;  /* swap device reads (one run of slots each) */
	unsigned long swap_write_requests; /* swap device writes (one run of slots each) */
	/* a swap device in Redis (swap_path redis:// or redis-cluster://; all 0 otherwise) */
	unsigned long swap_remote_pages;     /* pages stored in Redis now */
	unsigned long swap_remote_bytes;     /* their values' size there (40-byte header + page) */
	unsigned long swap_remote_requests;  /* Redis commands sent (redirections again) */
	unsigned long swap_remote_errors;    /* failed backend calls and DEL batches */
	unsigned long swap_remote_lost;      /* pages read back missing (-EIO to the access) */
	unsigned long swap_remote_corrupt;   /* pages read back with a wrong header or checksum (-EIO) */
	unsigned long swap_remote_read_p50_ns;  /* backend read call latency, median and 99th */
	unsigned long swap_remote_read_p99_ns;  /* percentile (upper bounds of log2 buckets) */
	/* reclaim (cumulative counts, and the LRU lists' sizes now) */
	unsigned long pgscan;           /* pages scanned on the inactive lists */
	unsigned long pgsteal;          /* of those, freed */
	unsigned long pgactivate;       /* pages moved to an active list (referenced again) */
	unsigned long pgdeactivate;     /* pages moved from an active to an inactive list */
	unsigned long pgwriteback;      /* dirty file pages reclaim wrote back */
	unsigned long kswapd_wakeups;   /* times the allocator woke kswapd (low watermark) */
	unsigned long direct_reclaims;  /* allocations that reclaimed themselves (min watermark) */
	unsigned long oom_events;       /* allocations that failed although reclaim ran (-ENOMEM) */
	unsigned long nr_active_file, nr_inactive_file;  /* LRU list sizes, pages */
	unsigned long nr_active_anon, nr_inactive_anon;  /* swap-backed: anon and shmem */
	unsigned long nr_unevictable;
};
/*
 * umm_system_stats - the counters above.  The calling thread's per-thread
 * caches of usermm's own structures are emptied first, so free_frames is
 * exact when no other thread is using the system.
 */
int umm_system_stats(struct umm_system *sys, struct umm_sys_stats *st);

struct umm_mm_stats {
	unsigned long rss_anon, rss_file, rss_shmem;  /* pages mapped */
	unsigned long minor_faults, major_faults, cow_faults;
	unsigned long nr_vmas;
	unsigned long total_vm;                       /* pages mapped by VMAs */
	unsigned long pgtable_pages;
	unsigned long locked_vm;                      /* pages covered by locked mappings (Linux's
	                                                 VmLck), resident or not */
	unsigned long swap_ents;                      /* ptes holding a swap entry (pages swapped out) */
};
int umm_mm_stats(struct umm_mm *mm, struct umm_mm_stats *st);

/* umm_mm_dump_maps - one line per VMA in /proc/PID/maps format. */
int umm_mm_dump_maps(struct umm_mm *mm, FILE *out);
/* umm_mm_dump_smaps - per-VMA Size/Rss/Anonymous/Shared/Private/Dirty/Swap summary. */
int umm_mm_dump_smaps(struct umm_mm *mm, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
