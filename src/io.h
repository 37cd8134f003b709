/* SPDX-License-Identifier: MIT */
/*
 * io.h - asynchronous page-cache reads: one I/O backend per system.
 *
 * A read request covers a run of consecutive pages of one file object.
 * Its pages are in the page cache, locked, referenced by the request and
 * not uptodate; completion makes each one uptodate (or marks it PG_error
 * and removes it from the cache), unlocks it and drops the request's
 * reference.  Whoever waits for such a page waits for its lock.  See io.c
 * for the backends and the lock order.
 */
#ifndef UMM_IO_H
#define UMM_IO_H

#include <stdatomic.h>
#include <sys/uio.h>
#include "object.h"

struct io_backend;

/* Largest request, in pages (readv takes at most IOV_MAX = 1024 vectors). */
#define IO_MAX_PAGES 256

/*
 * io_tracker - completion of a group of requests (an asynchronous
 * prepage): counts pages still in flight and keeps the first error.
 * Refcounted; each request in flight holds a reference.
 */
struct io_tracker {
	pthread_mutex_t lock;
	pthread_cond_t done;
	_Atomic int refcount;
	unsigned long pending;           /* [lock] pages queued, not completed */
	int error;                       /* [lock] first error since the last wait */
};

struct io_request {
	struct io_request *next;         /* backend queue / submission batch */
	struct umm_system *sys;
	struct umm_object *obj;          /* valid while the pages are locked */
	struct io_tracker *tracker;      /* NULL, or one reference held */
	uint64_t index;                  /* first page */
	unsigned int nr;                 /* pages */
	size_t bytes;                    /* bytes to read (file bytes below the size) */
	struct iovec *iov;               /* one per page with bytes in it */
	unsigned int nr_iov;
	struct page *pages[];
};

/* io_request_alloc - a request for @nr pages from @index (pages filled by the caller). */
struct io_request *io_request_alloc(struct umm_system *sys, struct umm_object *obj,
				    uint64_t index, unsigned int nr);
/* io_request_free - free a request that was never submitted (pages not touched). */
void io_request_free(struct io_request *req);
/*
 * io_submit_reads - queue a NULL-terminated list of requests (linked by
 * ->next) to the system's backend in one batch.  Never fails: completion
 * reports errors per page.  Takes the backend's queue lock.
 */
void io_submit_reads(struct umm_system *sys, struct io_request *list);

/*
 * io_read_sync - as io_submit_reads, but each request is read and
 * completed in the calling thread before it returns (not held by a plug).
 */
void io_read_sync(struct umm_system *sys, struct io_request *list);
/* io_tracker_alloc - a tracker with one reference (the caller's); NULL on ENOMEM. */
struct io_tracker *io_tracker_alloc(void);
void io_tracker_get(struct io_tracker *t);
void io_tracker_put(struct io_tracker *t);
/* io_tracker_add - @nr more pages are about to be queued under @t. */
void io_tracker_add(struct io_tracker *t, unsigned long nr);
/* io_tracker_wait - wait until no page is pending; the first error (then cleared) or 0. */
int io_tracker_wait(struct io_tracker *t);

/*
 * io_backend_create - start the backend cfg->io_backend asks for
 * (UMM_IO_DEFAULT: io_uring if it can be set up, else the thread pool;
 * the environment variable UMM_IO_BACKEND=threads|io_uring overrides the
 * default).  0, -EOPNOTSUPP (io_uring asked for and unavailable), -ENOMEM.
 */
int io_backend_create(struct umm_system *sys);
/* io_backend_destroy - wait for every request, stop the threads, free. */
void io_backend_destroy(struct umm_system *sys);
/* io_backend_kind - UMM_IO_URING or UMM_IO_THREADS. */
int io_backend_kind(const struct umm_system *sys);
/* io_backend_drain - wait until no request of the system is in flight. */
void io_backend_drain(struct umm_system *sys);
/* io_backend_plug / unplug - hold submitted requests, then release them (tests). */
void io_backend_plug(struct umm_system *sys);
void io_backend_unplug(struct umm_system *sys);

/* ---- engines (io.c calls them; io_uring.c is built with liburing only) ---- */

/* io_uring_engine_create - set up a ring (no thread yet); -EOPNOTSUPP if impossible. */
int io_uring_engine_create(struct io_backend *be, void **enginep);
/* io_uring_engine_start - create the completion thread; 0 or -errno. */
int io_uring_engine_start(void *engine);
void io_uring_engine_submit(void *engine, struct io_request *list);
void io_uring_engine_destroy(void *engine);
/* io_uring_engine_forget - in a fork child: unmap and close our copy of the ring, free. */
void io_uring_engine_forget(void *engine);
/* io_complete_read - a request's read finished with @res bytes (or -errno). */
void io_complete_read(struct io_request *req, ssize_t res);

#endif
