/* SPDX-License-Identifier: MIT */
/*
 * io_uring.c - the io_uring engine of the asynchronous read backend
 * (io.c): one ring per system, reads submitted in batches, one
 * completion thread.
 *
 * Submission.  io_submit_reads hands over a list of prepared requests;
 * they join the engine's backlog, and as many as the ring has room for
 * (URING_DEPTH in flight, so the completion queue cannot overflow) become
 * IORING_OP_READV entries, pushed to the kernel with one io_uring_enter.
 * Reads carry IOSQE_ASYNC: the kernel hands them straight to its worker
 * threads, which read like a blocking preadv (with the host's readahead).
 * Without it a buffered read of uncached data first fails its
 * non-blocking attempt and is then retried page by page from task work
 * in the submitting thread, which measured two to three times slower
 * for our large sequential requests.
 * The completion thread refills from the backlog as reads finish, so a
 * caller never waits for ring space.
 *
 * Completion.  The thread (created by io_uring_engine_start, which io.c
 * calls at the first submission: kthread.c) reaps every completion available, then runs
 * io_complete_read for each without holding the engine's lock.  A request
 * pointer of NULL is the stop marker io_uring_engine_destroy sends (a NOP)
 * once nothing is in flight.
 *
 * Built only when the build found liburing (UMM_HAVE_LIBURING); without
 * it io_uring_engine_create reports -EOPNOTSUPP and io.c uses its thread
 * pool.  It also reports -EOPNOTSUPP when the kernel refuses a ring
 * (too old, seccomp, io_uring disabled) or lacks IORING_OP_READV.
 *
 * Locks: eng->lock (SQ, backlog, inflight) is a leaf; it is never held
 * while a request completes.
 */
#include <errno.h>
#include "io.h"

#if UMM_HAVE_LIBURING
#include <liburing.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#define URING_DEPTH 256
#define URING_REAP 64

struct uring_engine {
	struct io_uring ring;
	pthread_mutex_t lock;            /* ring SQ side, backlog, inflight */
	struct io_request *backlog, **backlog_tail;
	unsigned int inflight;           /* reads in the ring */
	pthread_t thread;
	bool thread_started;             /* io_uring_engine_start created it */
};

/* Move backlog requests into the SQ while there is room.  eng->lock held.  Entries queued. */
static unsigned int uring_fill_locked(struct uring_engine *eng)
{
	unsigned int queued = 0;

	while (eng->backlog && eng->inflight < URING_DEPTH) {
		struct io_request *req = eng->backlog;
		struct io_uring_sqe *sqe = io_uring_get_sqe(&eng->ring);

		if (!sqe)
			break;
		eng->backlog = req->next;
		if (!eng->backlog)
			eng->backlog_tail = &eng->backlog;
		req->next = NULL;
		if (req->nr_iov) {
			io_uring_prep_readv(sqe, req->obj->fd, req->iov, req->nr_iov,
					    req->index << PAGE_SHIFT);
			sqe->flags |= IOSQE_ASYNC;
		} else
			io_uring_prep_nop(sqe);      /* nothing below the size: completes with 0 */
		io_uring_sqe_set_data(sqe, req);
		eng->inflight++;
		queued++;
	}
	return queued;
}

/*
 * Push queued entries to the kernel, retrying for as long as it reports
 * a passing shortage (EAGAIN, EBUSY, EINTR): an entry left in the ring
 * unsubmitted would leave its pages locked.  Any other error means a
 * broken ring and is not retried.  eng->lock held.
 */
static void uring_submit_locked(struct uring_engine *eng)
{
	for (unsigned int tries = 0;; tries++) {
		int ret = io_uring_submit(&eng->ring);

		if (ret >= 0 || (ret != -EAGAIN && ret != -EBUSY && ret != -EINTR))
			return;
		if (tries < 100)
			sched_yield();
		else
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
}

static void *uring_completion_thread(void *arg)
{
	struct uring_engine *eng = arg;
	bool stop = false;

	while (!stop) {
		struct io_uring_cqe *cqes[URING_REAP];
		struct io_request *reqs[URING_REAP];
		ssize_t res[URING_REAP];
		unsigned int n, i, reads = 0;
		struct io_uring_cqe *cqe;
		int ret = io_uring_wait_cqe(&eng->ring, &cqe);

		if (ret == -EINTR || ret == -EAGAIN)
			continue;
		if (ret < 0)
			break;
		n = io_uring_peek_batch_cqe(&eng->ring, cqes, URING_REAP);
		for (i = 0; i < n; i++) {
			struct io_request *req = io_uring_cqe_get_data(cqes[i]);

			if (!req) {
				stop = true;
				continue;
			}
			reqs[reads] = req;
			res[reads++] = cqes[i]->res;
		}
		io_uring_cq_advance(&eng->ring, n);
		pthread_mutex_lock(&eng->lock);
		eng->inflight -= reads;
		if (uring_fill_locked(eng))
			uring_submit_locked(eng);
		pthread_mutex_unlock(&eng->lock);
		for (i = 0; i < reads; i++)
			io_complete_read(reqs[i], res[i]);
	}
	return NULL;
}

/**
 * io_uring_engine_start - create the completion thread (once; io.c calls
 * it before the first submission).  Return: 0 or -errno.
 */
int io_uring_engine_start(void *engine)
{
	struct uring_engine *eng = engine;
	int err;

	if (eng->thread_started)
		return 0;
	err = pthread_create(&eng->thread, NULL, uring_completion_thread, eng);
	if (err)
		return -err;
	eng->thread_started = true;
	return 0;
}

/**
 * io_uring_engine_create - set up a ring; its completion thread comes
 * with io_uring_engine_start.
 * Return: 0 with *@enginep set; -EOPNOTSUPP when the kernel refuses
 * io_uring or readv on it; -ENOMEM.
 */
int io_uring_engine_create(struct io_backend *be, void **enginep)
{
	struct uring_engine *eng = calloc(1, sizeof(*eng));
	struct io_uring_probe *probe;
	bool readv_ok;

	(void)be;
	if (!eng)
		return -ENOMEM;
	if (io_uring_queue_init(URING_DEPTH, &eng->ring, 0) < 0) {
		free(eng);
		return -EOPNOTSUPP;
	}
	probe = io_uring_get_probe_ring(&eng->ring);
	readv_ok = probe && io_uring_opcode_supported(probe, IORING_OP_READV) &&
		   io_uring_opcode_supported(probe, IORING_OP_NOP);
	if (probe)
		io_uring_free_probe(probe);
	if (!readv_ok)
		goto err_ring;
	pthread_mutex_init(&eng->lock, NULL);
	eng->backlog_tail = &eng->backlog;
	*enginep = eng;
	return 0;

err_ring:
	io_uring_queue_exit(&eng->ring);
	free(eng);
	return -EOPNOTSUPP;
}

/**
 * io_uring_engine_submit - queue a list of prepared requests and submit
 * what fits in the ring.  Takes eng->lock.
 */
void io_uring_engine_submit(void *engine, struct io_request *list)
{
	struct uring_engine *eng = engine;
	struct io_request *last = list;

	while (last->next)
		last = last->next;
	pthread_mutex_lock(&eng->lock);
	*eng->backlog_tail = list;
	eng->backlog_tail = &last->next;
	if (uring_fill_locked(eng))
		uring_submit_locked(eng);
	pthread_mutex_unlock(&eng->lock);
}

/**
 * io_uring_engine_destroy - stop the completion thread if it was
 * started (the caller has drained every request) and free the ring.
 */
void io_uring_engine_destroy(void *engine)
{
	struct uring_engine *eng = engine;
	struct io_uring_sqe *sqe;

	if (!eng->thread_started)
		goto free_ring;
	pthread_mutex_lock(&eng->lock);
	while (!(sqe = io_uring_get_sqe(&eng->ring))) {
		uring_submit_locked(eng);
		sched_yield();
	}
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data(sqe, NULL);
	uring_submit_locked(eng);
	pthread_mutex_unlock(&eng->lock);
	pthread_join(eng->thread, NULL);
free_ring:
	io_uring_queue_exit(&eng->ring);
	pthread_mutex_destroy(&eng->lock);
	free(eng);
}

/**
 * io_uring_engine_forget - the child of a host fork() drops its copy of
 * the engine: unmaps and closes its ring mappings and descriptor (the
 * parent's stay) and frees the memory; no thread or lock is touched.
 */
void io_uring_engine_forget(void *engine)
{
	struct uring_engine *eng = engine;

	io_uring_queue_exit(&eng->ring);
	free(eng);
}

#else /* !UMM_HAVE_LIBURING */

/** io_uring_engine_create - built without liburing: always -EOPNOTSUPP. */
int io_uring_engine_create(struct io_backend *be, void **enginep)
{
	(void)be;
	(void)enginep;
	return -EOPNOTSUPP;
}

/** io_uring_engine_start - never called without liburing. */
int io_uring_engine_start(void *engine)
{
	(void)engine;
	return -EOPNOTSUPP;
}

/** io_uring_engine_submit - never called without liburing. */
void io_uring_engine_submit(void *engine, struct io_request *list)
{
	(void)engine;
	(void)list;
}

/** io_uring_engine_destroy - never called without liburing. */
void io_uring_engine_destroy(void *engine)
{
	(void)engine;
}

/** io_uring_engine_forget - never called without liburing. */
void io_uring_engine_forget(void *engine)
{
	(void)engine;
}

#endif
