/* SPDX-License-Identifier: MIT */
/*
 * bench_redis.c - the Redis swap backend (swap_redis.c) against plain
 * hiredis doing the same transfers on the same server in the same run.
 *
 * The benchmark starts its own servers on free loopback ports (one
 * Redis, and a three-node Redis Cluster), as the tests do, and kills them
 * when it ends.  For each of the two backends ("redis", "redis-cluster"):
 *
 *   swap-out 32-page batch   backend write of 32 consecutive slots (one
 *                            pipeline of SETs of header + page), per page;
 *                            raw: a pipeline of 32 SETs of 4 KiB values.
 *   swap-in 32-page batch    backend read of 32 slots (the swap-in
 *                            readahead case), per page; raw: 32 pipelined
 *                            GETs.
 *   swap-in 1 page           backend read of one slot, median and p99 of
 *                            single calls (the backend part of a major
 *                            fault); raw: a synchronous GET round trip.
 *   swap-out 1 page          backend write of one slot, median; raw: SET.
 *
 * The "kernel" column of these lines is raw hiredis on the same server
 * (on the cluster: on a node that owns the raw keys), so the ratio is the
 * backend's overhead: header, CRC32C, key formatting, routing and the
 * connection pool.  Warm: connections are open and the keys exist (a
 * swap-in reads what a previous pass wrote).  Batch figures are the
 * median over REPS passes of BATCHES batches.  Taken on a machine shared
 * with other work, the figures are noisy.
 */
#include "bench.h"

#ifndef UMM_HAVE_HIREDIS
int main(void)
{
	bench_machine_line();
	printf("# bench_redis: skipped: usermm was built without hiredis (libhiredis-dev)\n");
	return 0;
}
#else
#include "swap_redis.h"
#include "page.h"
#include "../tests/redis_fixture.h"

#define REPS     5
#define BATCH    32
#define BATCHES  64
#define NSLOTS   (BATCH * BATCHES)
#define SINGLES  2000

static char *pages;                   /* NSLOTS pages of data */
static char *inbuf;                   /* where reads land */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(uint64_t *v, int n, double p)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	return (double)v[(int)((n - 1) * p / 100.0)];
}

/* ---- raw hiredis ---- */

/* raw_batches - ns per page of BATCHES pipelines of BATCH SETs (set) or GETs; <0 on error. */
static double raw_batches(redisContext *c, const char *tag, bool set)
{
	uint64_t t0 = now_ns();

	for (int b = 0; b < BATCHES; b++) {
		for (int i = 0; i < BATCH; i++) {
			int k = b * BATCH + i;

			if (set)
				redisAppendCommand(c, "SET bench:{%s}:%d %b", tag, k, pages + (size_t)k * PAGE_SIZE,
						   (size_t)PAGE_SIZE);
			else
				redisAppendCommand(c, "GET bench:{%s}:%d", tag, k);
		}
		for (int i = 0; i < BATCH; i++) {
			redisReply *r;

			if (redisGetReply(c, (void **)&r) != REDIS_OK)
				return -1;
			if (r->type == REDIS_REPLY_ERROR || (!set && r->type != REDIS_REPLY_STRING)) {
				freeReplyObject(r);
				return -1;
			}
			if (!set)
				memcpy(inbuf + (size_t)i * PAGE_SIZE, r->str, PAGE_SIZE);
			freeReplyObject(r);
		}
	}
	return (double)(now_ns() - t0) / NSLOTS;
}

/* raw_singles - SINGLES synchronous round trips into ns[]; 0 or -1. */
static int raw_singles(redisContext *c, const char *tag, bool set, uint64_t *ns)
{
	for (int i = 0; i < SINGLES; i++) {
		int k = i % NSLOTS;
		uint64_t t0 = now_ns();
		redisReply *r = set ? redisCommand(c, "SET bench:{%s}:%d %b", tag, k,
						   pages + (size_t)k * PAGE_SIZE, (size_t)PAGE_SIZE)
				    : redisCommand(c, "GET bench:{%s}:%d", tag, k);

		if (!r || r->type == REDIS_REPLY_ERROR) {
			if (r)
				freeReplyObject(r);
			return -1;
		}
		if (!set)
			memcpy(inbuf, r->str, PAGE_SIZE);
		freeReplyObject(r);
		ns[i] = now_ns() - t0;
	}
	return 0;
}

/* ---- the backend ---- */

static double backend_batches(struct swap_backend *b, bool write)
{
	const void *wb[BATCH];
	void *rb[BATCH];
	uint64_t t0 = now_ns();

	for (int k = 0; k < BATCHES; k++) {
		for (int i = 0; i < BATCH; i++) {
			wb[i] = pages + (size_t)(k * BATCH + i) * PAGE_SIZE;
			rb[i] = inbuf + (size_t)i * PAGE_SIZE;
		}
		if (write ? b->ops->write(b, (uint64_t)k * BATCH, BATCH, wb)
			  : b->ops->read(b, (uint64_t)k * BATCH, BATCH, rb))
			return -1;
	}
	return (double)(now_ns() - t0) / NSLOTS;
}

static int backend_singles(struct swap_backend *b, bool write, uint64_t *ns)
{
	for (int i = 0; i < SINGLES; i++) {
		uint64_t slot = (uint64_t)(i % NSLOTS), t0 = now_ns();
		const void *wb[1] = { pages + slot * PAGE_SIZE };
		void *rb[1] = { inbuf };

		if (write ? b->ops->write(b, slot, 1, wb) : b->ops->read(b, slot, 1, rb))
			return -1;
		ns[i] = now_ns() - t0;
	}
	return 0;
}

static double median_of(double *v, int n)
{
	return median(v, n);
}

/* run_pair - every line for one backend target and the raw connection beside it. */
static void run_pair(const char *label, const struct swap_backend_ops *ops, const char *target,
		     redisContext *raw, const char *tag)
{
	struct swap_backend *b;
	double bw[REPS], br[REPS], rw[REPS], rr[REPS];
	static uint64_t s1[SINGLES], s2[SINGLES];
	char name[96], cav[256];
	int err = ops->open(target, NSLOTS, &b);

	if (err) {
		printf("# %s: not measured, open: %s\n", label, umm_strerror(err));
		return;
	}
	/* Warm up: connections open, every key written once. */
	if (backend_batches(b, true) < 0 || raw_batches(raw, tag, true) < 0) {
		printf("# %s: not measured: a warm-up write failed\n", label);
		b->ops->close(b);
		return;
	}
	for (int r = 0; r < REPS; r++) {
		bw[r] = backend_batches(b, true);
		rw[r] = raw_batches(raw, tag, true);
		br[r] = backend_batches(b, false);
		rr[r] = raw_batches(raw, tag, false);
		if (bw[r] < 0 || rw[r] < 0 || br[r] < 0 || rr[r] < 0) {
			printf("# %s: not measured: a transfer failed\n", label);
			b->ops->close(b);
			return;
		}
	}
	double mbw = median_of(bw, REPS), mrw = median_of(rw, REPS);
	double mbr = median_of(br, REPS), mrr = median_of(rr, REPS);

	snprintf(name, sizeof(name), "%s swap-out 32-page batch", label);
	snprintf(cav, sizeof(cav), "per page; kernel column = raw hiredis pipelined SET, same server; "
		 "%.0fk vs %.0fk pages/s", 1e6 / mbw, 1e6 / mrw);
	bench_report_caveat(name, mbw, mrw, cav);
	snprintf(name, sizeof(name), "%s swap-in 32-page batch", label);
	snprintf(cav, sizeof(cav), "per page; kernel column = raw hiredis pipelined GET, same server; "
		 "%.0fk vs %.0fk pages/s (%.0f%% of raw)", 1e6 / mbr, 1e6 / mrr, 100.0 * mrr / mbr);
	bench_report_caveat(name, mbr, mrr, cav);

	if (backend_singles(b, false, s1) || raw_singles(raw, tag, false, s2)) {
		printf("# %s: single reads not measured: a read failed\n", label);
	} else {
		double m1 = pct(s1, SINGLES, 50), m2 = pct(s2, SINGLES, 50);
		double p1 = pct(s1, SINGLES, 99), p2 = pct(s2, SINGLES, 99);

		snprintf(name, sizeof(name), "%s swap-in 1 page median", label);
		bench_report_caveat(name, m1, m2, "per read call (the backend part of a major fault); "
				    "kernel column = raw hiredis synchronous GET");
		snprintf(name, sizeof(name), "%s swap-in 1 page p99", label);
		bench_report_caveat(name, p1, p2, "99th percentile of the same calls");
	}
	if (backend_singles(b, true, s1) || raw_singles(raw, tag, true, s2)) {
		printf("# %s: single writes not measured: a write failed\n", label);
	} else {
		snprintf(name, sizeof(name), "%s swap-out 1 page median", label);
		bench_report_caveat(name, pct(s1, SINGLES, 50), pct(s2, SINGLES, 50),
				    "per write call; kernel column = raw hiredis synchronous SET");
	}
	{
		struct swap_redis_stats st;

		if (!swap_redis_get_stats(b, &st))
			printf("# %s: %llu pages stored (%llu bytes), %llu requests, %llu errors; "
			       "read call latency p50 <= %llu ns, p99 <= %llu ns (log2 histogram)\n", label,
			       (unsigned long long)st.pages, (unsigned long long)st.bytes,
			       (unsigned long long)st.requests, (unsigned long long)st.errors,
			       (unsigned long long)swap_redis_lat_percentile(st.read_lat, 50),
			       (unsigned long long)swap_redis_lat_percentile(st.read_lat, 99));
	}
	b->ops->close(b);
}

/* cluster_tag - a hash tag whose slot node `s` owns (so raw commands to it need no redirection). */
static int cluster_tag(const struct rf_server *s, char *tag, size_t len)
{
	redisContext *c = rf_connect(s->port, "");

	if (!c)
		return -1;
	for (int t = 0; t < 1000; t++) {
		redisReply *r = redisCommand(c, "GET bench:{t%d}:0", t);
		bool mine = r && r->type != REDIS_REPLY_ERROR;

		if (r)
			freeReplyObject(r);
		if (mine) {
			snprintf(tag, len, "t%d", t);
			redisFree(c);
			return 0;
		}
	}
	redisFree(c);
	return -1;
}

int main(void)
{
	static struct rf_server one, cl[3];
	char target[128], tag[32];
	redisContext *raw;

	bench_machine_line();
	print_loadavg();
	if (!rf_have_tools()) {
		printf("# bench_redis: skipped: redis-server or redis-cli is not installed\n");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	pages = aligned_alloc(PAGE_SIZE, (size_t)NSLOTS * PAGE_SIZE);
	inbuf = aligned_alloc(PAGE_SIZE, (size_t)BATCH * PAGE_SIZE);
	if (!pages || !inbuf)
		return 1;
	for (size_t i = 0; i < (size_t)NSLOTS * PAGE_SIZE; i++)
		pages[i] = (char)(i * 31 + (i >> 12));
	printf("# servers: redis-server on loopback started by the benchmark, no persistence; "
	       "%d passes of %d batches of %d pages, %d single calls\n", REPS, BATCHES, BATCH, SINGLES);

	if (rf_start(&one, NULL)) {
		printf("# redis: not measured: redis-server did not start\n");
	} else if (!(raw = rf_connect(one.port, ""))) {
		printf("# redis: not measured: no raw connection\n");
	} else {
		snprintf(target, sizeof(target), "redis://127.0.0.1:%d", one.port);
		run_pair("redis", &swap_redis_ops, target, raw, "raw");
		redisFree(raw);
	}
	rf_cleanup(&one);

	if (rf_cluster_start(cl)) {
		printf("# redis-cluster: not measured: the cluster did not form\n");
	} else if (cluster_tag(&cl[0], tag, sizeof(tag)) || !(raw = rf_connect(cl[0].port, ""))) {
		printf("# redis-cluster: not measured: no raw connection to a node\n");
	} else {
		snprintf(target, sizeof(target), "redis-cluster://127.0.0.1:%d", cl[0].port);
		run_pair("redis-cluster", &swap_redis_cluster_ops, target, raw, tag);
		redisFree(raw);
	}
	for (int i = 0; i < 3; i++)
		rf_cleanup(&cl[i]);
	printf("# file backend and major faults through the swap device: not measured in this build "
	       "(they need the swap device)\n");
	free(pages);
	free(inbuf);
	return 0;
}
#endif
