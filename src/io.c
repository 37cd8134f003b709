/* SPDX-License-Identifier: MIT */
/*
 * io.c - asynchronous page-cache reads: requests, their completion, the
 * per-system backend and its thread-pool engine.
 *
 * Requests.  Readahead (readahead.c) allocates the pages of a run of a
 * file, inserts them into the page cache locked and not uptodate, and
 * hands the run to io_submit_reads as requests (each one readv of the
 * file's bytes below its size, at most IO_MAX_PAGES pages; readahead
 * makes them RA_REQ_PAGES long so that they run in parallel).  From then on
 * the pages belong to the request: nobody else reads them, and a fault
 * that needs one waits for its page lock, so concurrent faults on a page
 * under I/O do one read.  An object cannot be freed while one of its
 * cached pages is locked (object_release locks each), so a request needs
 * no reference on its object; it touches the object only while it still
 * holds a page lock.
 *
 * Completion (io_complete_read), in the engine's thread: a short read is
 * finished with pread (or stops at end of file: the rest reads as zero);
 * a read the engine cancelled or interrupted is done there with pread
 * too (io_uring cancels the reads a thread submitted that its kernel
 * workers have not finished when that thread exits: -ECANCELED, or
 * -EINTR, says nothing about the file, and a thread that faulted and read
 * ahead may well exit before the read-ahead pages arrive);
 * then per page, in order: if the read failed (or failure injection at
 * UMM_INJECT_READ says so, one check per page as for a synchronous read,
 * or the object was truncated below the page meanwhile) the page gets
 * PG_error and leaves the cache, else PG_uptodate; it is unlocked and the
 * request's reference dropped (dropped first when the page stays cached,
 * so a truncation waiting for the lock frees the page itself).  A fault waiting for a page that failed
 * sees PG_error on a page no longer cached and returns -EIO; the next
 * access finds no page and reads again.
 *
 * Engines.  io_uring (io_uring.c; only when the build found liburing):
 * one ring per system, batched submissions, one completion thread.  The
 * fallback is a pool of IO_THREADS threads calling preadv.  Which one runs
 * is chosen when the system is created (cfg->io_backend, else the
 * environment variable UMM_IO_BACKEND, else io_uring when it can be set
 * up) and shown in umm_sys_stats.io_backend.  The engine's threads are
 * created by the first submission (kthread.c): at once outside the host
 * MMU's signal handler, else at the next safe point.  A submission that
 * finds them not there (created later, or never: pthread_create failed)
 * reads its requests in the submitting thread, as a fork child does,
 * counted in flight the same way.  In the child of a host
 * fork() (no engine threads there, a ring shared with the parent) every
 * request is read in the submitting thread.
 *
 * Locks: be->lock (the pool's queue and the in-flight count) is a leaf.
 * Completion releases page locks the request holds, takes tree_lock
 * (removing a failed page) and a tracker's lock, and only then, with
 * nothing else held, be->lock to count the request done.  Submitters hold
 * no page lock of pages outside their requests.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "io.h"
#include "filemap.h"
#include "kthread.h"

#define IO_THREADS 4

struct io_backend {
	struct umm_system *sys;
	pid_t pid;                       /* the process that started the engine */
	int kind;                        /* UMM_IO_URING or UMM_IO_THREADS */
	void *uring;                     /* io_uring engine, when kind == UMM_IO_URING */

	pthread_mutex_t lock;            /* everything below */
	pthread_cond_t work;             /* pool: queue not empty, or stop */
	pthread_cond_t idle;             /* inflight dropped to 0 */
	struct io_request *head, **tail; /* pool queue */
	unsigned long inflight;          /* requests submitted, not completed */
	struct io_request *plugged, **plugged_tail; /* held while plugged */
	bool plug;
	bool stop;
	pthread_t threads[IO_THREADS];
	unsigned int nr_threads;
	struct kthread_lazy kt;          /* the engine's threads, created at the first submission */
};

/*
 * Host fork(): the child has a copy of the backend but not its threads,
 * and an io_uring ring it would share with the parent.  In the child the
 * backend reads in the submitting thread instead (io_read_inline), and
 * destroying it only frees it.  Reads in flight at the fork complete in
 * the parent only: their pages stay locked in the child.
 */
static bool io_backend_forked(const struct io_backend *be)
{
	return be->pid != getpid();
}

/* ---- trackers ---- */

/**
 * io_tracker_alloc - a tracker with no pending page and one reference.
 * Return: the tracker, or NULL when out of memory.
 */
struct io_tracker *io_tracker_alloc(void)
{
	struct io_tracker *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->done, NULL);
	atomic_init(&t->refcount, 1);
	return t;
}

/** io_tracker_get - take a reference (the caller holds one). */
void io_tracker_get(struct io_tracker *t)
{
	atomic_fetch_add(&t->refcount, 1);
}

/** io_tracker_put - drop a reference; the last frees the tracker. */
void io_tracker_put(struct io_tracker *t)
{
	if (!t || atomic_fetch_sub(&t->refcount, 1) != 1)
		return;
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->done);
	free(t);
}

/** io_tracker_add - account @nr pages about to be queued.  Takes t->lock. */
void io_tracker_add(struct io_tracker *t, unsigned long nr)
{
	pthread_mutex_lock(&t->lock);
	t->pending += nr;
	pthread_mutex_unlock(&t->lock);
}

/* Pages of a tracked request completed, @err the first failure among them (or 0). */
static void io_tracker_complete(struct io_tracker *t, unsigned long nr, int err)
{
	pthread_mutex_lock(&t->lock);
	t->pending -= nr;
	if (err && !t->error)
		t->error = err;
	if (!t->pending)
		pthread_cond_broadcast(&t->done);
	pthread_mutex_unlock(&t->lock);
}

/**
 * io_tracker_wait - block until no page queued under @t is in flight.
 * Takes t->lock.  Return: the first error since the last wait (which is
 * cleared), or 0.
 */
int io_tracker_wait(struct io_tracker *t)
{
	int err;

	pthread_mutex_lock(&t->lock);
	while (t->pending)
		pthread_cond_wait(&t->done, &t->lock);
	err = t->error;
	t->error = 0;
	pthread_mutex_unlock(&t->lock);
	return err;
}

/* ---- requests ---- */

/**
 * io_request_alloc - a request for @nr (1..IO_MAX_PAGES) pages of @obj
 * from @index, with room for the page pointers and iovecs; the caller
 * fills pages[].  No locks.
 * Return: the request, or NULL when out of memory.
 */
struct io_request *io_request_alloc(struct umm_system *sys, struct umm_object *obj,
				    uint64_t index, unsigned int nr)
{
	struct io_request *req;

	req = calloc(1, sizeof(*req) + nr * (sizeof(struct page *) + sizeof(struct iovec)));
	if (!req)
		return NULL;
	req->sys = sys;
	req->obj = obj;
	req->index = index;
	req->nr = nr;
	req->iov = (struct iovec *)&req->pages[nr];
	return req;
}

/** io_request_free - free a request that was never submitted. */
void io_request_free(struct io_request *req)
{
	free(req);
}

/* Bytes of the object a request covers, and one iovec per page holding some. */
static void io_request_prepare(struct io_request *req)
{
	uint64_t size = object_size(req->obj);
	uint64_t pos = req->index << PAGE_SHIFT;
	size_t left;

	req->bytes = 0;
	if (pos < size)
		req->bytes = (size_t)MIN(size - pos, (uint64_t)req->nr << PAGE_SHIFT);
	left = req->bytes;
	req->nr_iov = 0;
	for (unsigned int i = 0; i < req->nr && left; i++) {
		size_t len = MIN(left, PAGE_SIZE);

		req->iov[req->nr_iov].iov_base = page_address(req->pages[i]);
		req->iov[req->nr_iov].iov_len = len;
		req->nr_iov++;
		left -= len;
	}
}

/* Finish a short read with pread from byte @done; returns the bytes read in all, or -EIO. */
static ssize_t io_read_rest(struct io_request *req, size_t done)
{
	off_t base = (off_t)(req->index << PAGE_SHIFT);

	while (done < req->bytes) {
		size_t in_page = done & ~PAGE_MASK;
		size_t len = MIN(PAGE_SIZE - in_page, req->bytes - done);
		char *dst = (char *)page_address(req->pages[done >> PAGE_SHIFT]) + in_page;
		ssize_t n = pread(req->obj->fd, dst, len, base + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -EIO;
		if (n == 0)
			break;              /* the file is shorter than the object: zeros */
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static unsigned int io_hist_bucket(unsigned int nr)
{
	unsigned int b = 0;

	while (nr > 1 && b < UMM_IO_HIST_BUCKETS - 1) {
		nr >>= 1;
		b++;
	}
	return b;
}

static void io_request_done(struct io_backend *be)
{
	if (io_backend_forked(be))
		return;              /* read inline, never counted (be->lock may be stale) */
	pthread_mutex_lock(&be->lock);
	if (--be->inflight == 0)
		pthread_cond_broadcast(&be->idle);
	pthread_mutex_unlock(&be->lock);
}

/**
 * io_complete_read - finish a request whose read returned @res (bytes,
 * or -errno): fill, mark and unlock every page, drop the request's page
 * references, report to its tracker and free it.  See the top comment.
 * Called by an engine with no lock held; takes tree_lock (failed pages)
 * and the tracker's lock.
 */
void io_complete_read(struct io_request *req, ssize_t res)
{
	struct umm_system *sys = req->sys;
	struct io_backend *be = sys->io;
	struct io_tracker *tracker = req->tracker;
	unsigned int nr = req->nr, failed = 0;
	size_t done = 0;
	int err = 0;

	if (res == -ECANCELED || res == -EINTR)
		res = io_read_rest(req, 0);     /* its submitter exited: read it here */
	else if (res >= 0 && (size_t)res < req->bytes)
		res = io_read_rest(req, (size_t)res);
	if (res < 0)
		err = -EIO;
	else
		done = (size_t)res;
	for (unsigned int i = 0; i < nr; i++) {
		struct page *page = req->pages[i];
		size_t start = (size_t)i << PAGE_SHIFT;
		size_t valid = done > start ? MIN(done - start, PAGE_SIZE) : 0;

		if (!err && page->index >= object_size_pages(req->obj)) {
			/*
			 * Truncated while it was read: not an I/O error.  It
			 * leaves the cache unread (wasted, if read ahead);
			 * waiters find it gone without PG_error and look again.
			 */
			if (TestClearPageReadahead(page))
				atomic_fetch_add(&sys->ra_wasted, 1);  /* not obj->sys: obj may go once the page leaves */
			delete_from_page_cache(page);
			unlock_page(page);
			put_page(page);
		} else if (err || should_fail(&sys->fail_read)) {
			SetPageError(page);
			ClearPageReadahead(page);   /* failed, not wasted */
			delete_from_page_cache(page);
			failed++;
			unlock_page(page);
			put_page(page);             /* maybe the last reference: after unlocking */
		} else {
			memset((char *)page_address(page) + valid, 0, PAGE_SIZE - valid);
			SetPageUptodate(page);
			/*
			 * The cache's reference keeps the page while it is locked
			 * (leaving the cache needs the lock), so drop ours first:
			 * once unlocked, truncation or the object's release can
			 * free it at once, not when this thread gets to it.
			 */
			put_page(page);
			unlock_page(page);
		}
	}
	/* No page of the object is held any more: do not touch req->obj. */
	if (failed)
		atomic_fetch_add(&sys->io_errors, failed);
	if (tracker) {
		io_tracker_complete(tracker, nr, failed ? -EIO : 0);
		io_tracker_put(tracker);
	}
	free(req);
	io_request_done(be);
}

/* ---- thread-pool engine ---- */

/* Read and complete a request in this thread. */
static void io_read_inline(struct io_request *req)
{
	ssize_t res;

	do {
		res = req->nr_iov ? preadv(req->obj->fd, req->iov, (int)req->nr_iov,
					   (off_t)(req->index << PAGE_SHIFT)) : 0;
	} while (res < 0 && errno == EINTR);
	io_complete_read(req, res < 0 ? -errno : res);
}

/* The engine's threads are not there: read a list of requests here (counted in flight already). */
static void io_read_list_inline(struct io_request *list)
{
	while (list) {
		struct io_request *req = list;

		list = req->next;
		io_read_inline(req);
	}
}

static void *io_pool_worker(void *arg)
{
	struct io_backend *be = arg;

	pthread_mutex_lock(&be->lock);
	for (;;) {
		struct io_request *req = be->head;

		if (!req) {
			if (be->stop)
				break;
			pthread_cond_wait(&be->work, &be->lock);
			continue;
		}
		be->head = req->next;
		if (!be->head)
			be->tail = &be->head;
		pthread_mutex_unlock(&be->lock);
		io_read_inline(req);
		pthread_mutex_lock(&be->lock);
	}
	pthread_mutex_unlock(&be->lock);
	return NULL;
}

/* io_pool_start - create the pool's threads.  kthread_lock held.  0 if any could be, else -ENOMEM. */
static int io_pool_start(struct io_backend *be)
{
	for (unsigned int i = 0; i < IO_THREADS; i++) {
		if (pthread_create(&be->threads[i], NULL, io_pool_worker, be) != 0)
			break;
		be->nr_threads++;
	}
	return be->nr_threads ? 0 : -ENOMEM;
}

/* ---- the backend ---- */


/**
 * io_submit_reads - prepare every request of @list (linked by ->next) and
 * hand them to the backend in one batch; counts them in the statistics.
 * The caller holds no lock but the pages' own (owned by the requests).
 */
void io_submit_reads(struct umm_system *sys, struct io_request *list)
{
	struct io_backend *be = sys->io;
	struct io_request *req, *last = NULL;
	unsigned long n = 0;

	if (!list)
		return;
	for (req = list; req; req = req->next) {
		io_request_prepare(req);
		atomic_fetch_add(&sys->io_pages, req->nr);
		atomic_fetch_add(&sys->io_hist[io_hist_bucket(req->nr)], 1);
		last = req;
		n++;
	}
	atomic_fetch_add(&sys->io_requests, n);
	if (io_backend_forked(be)) {
		while (list) {               /* not counted in flight: done on return */
			req = list;
			list = req->next;
			io_read_inline(req);
		}
		return;
	}
	pthread_mutex_lock(&be->lock);
	be->inflight += n;
	if (be->plug) {
		*be->plugged_tail = list;
		be->plugged_tail = &last->next;
		pthread_mutex_unlock(&be->lock);
		return;
	}
	pthread_mutex_unlock(&be->lock);
	if (!kthread_want(&be->kt)) {
		/* no engine thread (yet): read here, counted in flight as the engine's would be */
		io_read_list_inline(list);
		return;
	}
	pthread_mutex_lock(&be->lock);
	if (be->kind == UMM_IO_THREADS) {
		*be->tail = list;
		be->tail = &last->next;
		pthread_cond_broadcast(&be->work);
	}
	pthread_mutex_unlock(&be->lock);
	if (be->kind == UMM_IO_URING)
		io_uring_engine_submit(be->uring, list);
}

/**
 * io_read_sync - prepare every request of @list (linked by ->next), count
 * it as io_submit_reads does, and read and complete it in the calling
 * thread, one preadv each (a fault's read-around, which waits for its
 * page anyway: no handoff to the engine).  Not held by a plug.  The
 * caller holds no lock but the pages' own (owned by the requests); takes
 * be->lock to count the requests in flight, and what completion takes.
 */
void io_read_sync(struct umm_system *sys, struct io_request *list)
{
	struct io_backend *be = sys->io;
	struct io_request *req;
	unsigned long n = 0;

	for (req = list; req; req = req->next) {
		io_request_prepare(req);
		atomic_fetch_add(&sys->io_pages, req->nr);
		atomic_fetch_add(&sys->io_hist[io_hist_bucket(req->nr)], 1);
		n++;
	}
	if (!n)
		return;
	atomic_fetch_add(&sys->io_requests, n);
	if (!io_backend_forked(be)) {         /* forked: read inline, never counted */
		pthread_mutex_lock(&be->lock);
		be->inflight += n;
		pthread_mutex_unlock(&be->lock);
	}
	while (list) {
		req = list;
		list = req->next;
		io_read_inline(req);
	}
}

/**
 * io_backend_plug - hold every request submitted from now on until
 * io_backend_unplug (tests use it to keep pages under I/O).  Takes be->lock.
 */
void io_backend_plug(struct umm_system *sys)
{
	struct io_backend *be = sys->io;

	pthread_mutex_lock(&be->lock);
	be->plug = true;
	pthread_mutex_unlock(&be->lock);
}

/**
 * io_backend_unplug - pass the held requests to the engine (created now
 * if it is not there; if it cannot be, they are read here).  Takes
 * be->lock, maybe kthread_lock.
 */
void io_backend_unplug(struct umm_system *sys)
{
	struct io_backend *be = sys->io;
	struct io_request *list;
	bool engine = kthread_want(&be->kt);

	pthread_mutex_lock(&be->lock);
	be->plug = false;
	list = be->plugged;
	be->plugged = NULL;
	if (list && !engine) {
		be->plugged_tail = &be->plugged;
		pthread_mutex_unlock(&be->lock);
		io_read_list_inline(list);
		return;
	}
	if (list && be->kind == UMM_IO_THREADS) {
		*be->tail = list;
		be->tail = be->plugged_tail;
		pthread_cond_broadcast(&be->work);
	}
	be->plugged_tail = &be->plugged;
	pthread_mutex_unlock(&be->lock);
	if (list && be->kind == UMM_IO_URING)
		io_uring_engine_submit(be->uring, list);
}

/**
 * io_backend_drain - wait until every request submitted so far has
 * completed.  Takes be->lock.
 */
void io_backend_drain(struct umm_system *sys)
{
	struct io_backend *be = sys->io;

	if (!be || io_backend_forked(be))
		return;              /* a fork child reads inline: nothing of its own in flight */
	pthread_mutex_lock(&be->lock);
	while (be->inflight)
		pthread_cond_wait(&be->idle, &be->lock);
	pthread_mutex_unlock(&be->lock);
}

/* The backend asked for: the config, else UMM_IO_BACKEND, else the default. */
static int io_backend_wanted(const struct umm_system *sys)
{
	const char *env = getenv("UMM_IO_BACKEND");

	if (sys->cfg.io_backend != UMM_IO_DEFAULT)
		return sys->cfg.io_backend;
	if (env && !strcmp(env, "threads"))
		return UMM_IO_THREADS;
	if (env && !strcmp(env, "io_uring"))
		return UMM_IO_URING;
	return UMM_IO_DEFAULT;
}

/* io_engine_start - kthread_lazy's start: the engine's threads.  kthread_lock held.  0 or -errno. */
static int io_engine_start(struct kthread_lazy *kt)
{
	struct io_backend *be = container_of(kt, struct io_backend, kt);

	if (be->kind == UMM_IO_URING)
		return io_uring_engine_start(be->uring);
	return io_pool_start(be);
}

/**
 * io_backend_create - set up the system's backend (see io.h); its
 * threads are created by the first submission.  Takes kthread_lock.
 * Return: 0; -EOPNOTSUPP when io_uring was asked for and cannot be set
 * up; -ENOMEM.
 */
int io_backend_create(struct umm_system *sys)
{
	struct io_backend *be = calloc(1, sizeof(*be));
	int want = io_backend_wanted(sys);
	int err = -EOPNOTSUPP;

	if (!be)
		return -ENOMEM;
	be->sys = sys;
	be->pid = getpid();
	pthread_mutex_init(&be->lock, NULL);
	pthread_cond_init(&be->work, NULL);
	pthread_cond_init(&be->idle, NULL);
	be->tail = &be->head;
	be->plugged_tail = &be->plugged;
	sys->io = be;
	if (want != UMM_IO_THREADS) {
		err = io_uring_engine_create(be, &be->uring);
		if (!err)
			be->kind = UMM_IO_URING;
	}
	if (err && want == UMM_IO_URING)
		goto err_free;
	if (err)
		be->kind = UMM_IO_THREADS;
	kthread_init(&be->kt, "io", io_engine_start);
	return 0;

err_free:
	sys->io = NULL;
	pthread_mutex_destroy(&be->lock);
	pthread_cond_destroy(&be->work);
	pthread_cond_destroy(&be->idle);
	free(be);
	return err;
}

/**
 * io_backend_destroy - wait for every request, stop the engine's
 * threads and free the backend.  No lock held on entry.
 */
void io_backend_destroy(struct umm_system *sys)
{
	struct io_backend *be = sys->io;

	if (!be)
		return;
	/* off the helper list first (in a fork child too): nobody creates the threads after this */
	kthread_forget(&be->kt);
	if (io_backend_forked(be)) {
		/* no threads to stop here; the ring is shared with the parent: unmap ours */
		if (be->kind == UMM_IO_URING)
			io_uring_engine_forget(be->uring);
		free(be);
		sys->io = NULL;
		return;
	}
	if (be->plug)
		io_backend_unplug(sys);
	io_backend_drain(sys);
	if (be->kind == UMM_IO_URING) {
		io_uring_engine_destroy(be->uring);
	} else {
		pthread_mutex_lock(&be->lock);
		be->stop = true;
		pthread_cond_broadcast(&be->work);
		pthread_mutex_unlock(&be->lock);
		for (unsigned int i = 0; i < be->nr_threads; i++)
			pthread_join(be->threads[i], NULL);
	}
	pthread_mutex_destroy(&be->lock);
	pthread_cond_destroy(&be->work);
	pthread_cond_destroy(&be->idle);
	free(be);
	sys->io = NULL;
}

/** io_backend_kind - the engine running: UMM_IO_URING or UMM_IO_THREADS. */
int io_backend_kind(const struct umm_system *sys)
{
	return sys->io ? sys->io->kind : 0;
}
