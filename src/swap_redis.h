/* SPDX-License-Identifier: MIT */
/*
 * swap_redis.h - the swap backend that stores pages in Redis or Redis
 * Cluster (swap_redis.c), selected by a swap target of the form
 *   redis://[[user]:password@]host:port[/db][?options]
 *   redis-cluster://[[user]:password@]host:port[,host:port...][?options]
 * options: replicas=N (WAIT for N replicas after each write), wait_ms=T,
 * timeout_ms=T (every request), conns=N (connections per node),
 * cluster_pages=N (consecutive slots under one hash tag).
 */
#ifndef UMM_SWAP_REDIS_H
#define UMM_SWAP_REDIS_H

#include <stddef.h>
#include <stdint.h>
#include "swap_backend.h"

extern const struct swap_backend_ops swap_redis_ops;          /* "redis://" */
extern const struct swap_backend_ops swap_redis_cluster_ops;  /* "redis-cluster://" */

#define SWAP_REDIS_LAT_BUCKETS 40    /* latency histogram: bucket k holds [2^k, 2^(k+1)) ns */

struct swap_redis_stats {
	uint64_t pages;               /* slots whose page is stored remotely now */
	uint64_t bytes;               /* their values' size (header + page) */
	uint64_t pages_written, pages_read, pages_discarded;
	uint64_t write_calls, read_calls;
	uint64_t requests;            /* Redis commands sent */
	uint64_t errors;              /* write and read calls that failed (any reason) */
	uint64_t del_errors;          /* DEL batches of discards that failed (keys left until close) */
	uint64_t discards_pending;    /* discarded slots whose DEL is not sent yet */
	uint64_t lost;                /* pages read back missing (key gone) */
	uint64_t corrupt;             /* pages read back with a wrong header or checksum */
	uint64_t moved, ask;          /* cluster redirections followed */
	uint64_t reconnects, conn_errors, map_refreshes, wait_short;
	uint64_t read_lat[SWAP_REDIS_LAT_BUCKETS];   /* per read call */
	uint64_t write_lat[SWAP_REDIS_LAT_BUCKETS];  /* per write call */
};

/*
 * swap_redis_get_stats - the counters of a Redis backend.  0, or -EINVAL
 * when b is not one.  No locks.
 */
int swap_redis_get_stats(struct swap_backend *b, struct swap_redis_stats *st);

/*
 * swap_redis_lat_percentile - the upper bound in ns of the bucket that
 * holds the p-th percentile (0 < p <= 100) of a latency histogram; 0 when
 * it is empty.
 */
uint64_t swap_redis_lat_percentile(const uint64_t *hist, double p);

/*
 * swap_redis_flush_discards - wait until the DELs of every discard so far
 * are sent (or failed).  0, or -EINVAL when b is not a Redis backend.
 */
int swap_redis_flush_discards(struct swap_backend *b);

/* swap_redis_csum_selftest - the page checksum's self-check (tests).  0 or -1. */
int swap_redis_csum_selftest(void);

/*
 * swap_redis_key - the key under which b stores slot (for tests and
 * tools that look at the store).  The key's length, or -EINVAL.
 */
int swap_redis_key(struct swap_backend *b, uint64_t slot, char *buf, size_t len);

#endif
