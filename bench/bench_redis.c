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
 * Then through the swap device (umm_config.swap_path the same target),
 * and with a swap file for comparison: swap-out of 2,048 anonymous pages
 * by swap_out_pages batches of 64 (reclaim's batches: one backend write
 * per run of consecutive slots), swap-in
 * of them by sequential reads (each major fault reads a window of 8
 * slots), and 500 single major faults (one page evicted, then the timed
 * 1-byte read that brings it back), median and p99, beside the raw
 * synchronous GET.  The swap file is in $TMPDIR (or /tmp), warm in the
 * host page cache: its figures are not a disk's.
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

#define SUMMARY "the Redis and Redis Cluster swap backends beside raw hiredis GET/SET on the same " \
	"server, and major faults through the swap device (Redis, cluster, swap file)"

#ifndef UMM_HAVE_HIREDIS
int main(int argc, char **argv)
{
	bench_init(argc, argv, SUMMARY);
	bench_machine_line();
	printf("# bench_redis: skipped: usermm was built without hiredis (libhiredis-dev)\n");
	return 0;
}
#else
#include "swap_redis.h"
#include "page.h"
#include "memory.h"
#include "system.h"
#include "swap.h"
#include "gup.h"
#include "../tests/redis_fixture.h"

#define REPS_MAX     5
#define REPS         ((int)BENCH_SIZE(REPS_MAX, 1))
#define BATCH        32
#define BATCHES_MAX  64
#define BATCHES      ((int)BENCH_SIZE(BATCHES_MAX, 2))
#define NSLOTS_MAX   (BATCH * BATCHES_MAX)
#define NSLOTS       (BATCH * BATCHES)
#define SINGLES_MAX  2000
#define SINGLES      ((int)BENCH_SIZE(SINGLES_MAX, 20))

static char *pages;                   /* NSLOTS_MAX pages of data */
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

/* used_memory - INFO memory's used_memory of the server behind c, or -1. */
static long long used_memory(redisContext *c)
{
	redisReply *r = redisCommand(c, "INFO memory");
	long long v = -1;
	const char *p;

	if (r && r->type == REDIS_REPLY_STRING && (p = strstr(r->str, "used_memory:")))
		v = atoll(p + 12);
	if (r)
		freeReplyObject(r);
	return v;
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
static double run_pair(const char *label, const struct swap_backend_ops *ops, const char *target,
		       redisContext *raw, const char *tag)
{
	double raw_get = 0;
	struct swap_backend *b;
	double bw[REPS_MAX], br[REPS_MAX], rw[REPS_MAX], rr[REPS_MAX];
	static uint64_t s1[SINGLES_MAX], s2[SINGLES_MAX];
	char name[96], cav[256];
	int err = ops->open(target, NSLOTS, &b);

	if (err) {
		printf("# %s: not measured, open: %s\n", label, umm_strerror(err));
		return 0;
	}
	/* Warm up: connections open, every key written once. */
	long long mem0 = used_memory(raw);
	if (backend_batches(b, true) < 0) {
		printf("# %s: not measured: a warm-up write failed\n", label);
		b->ops->close(b);
		return 0;
	}
	long long mem1 = used_memory(raw);
	if (mem0 > 0 && mem1 > mem0 && !strcmp(label, "redis"))   /* one node holds them all */
		printf("# %s: Redis used_memory grew by %.0f bytes per stored page (%d pages of %zu-byte values)\n",
		       label, (double)(mem1 - mem0) / NSLOTS, NSLOTS, PAGE_SIZE + 40);
	if (raw_batches(raw, tag, true) < 0) {
		printf("# %s: not measured: a warm-up write failed\n", label);
		b->ops->close(b);
		return 0;
	}
	for (int r = 0; r < REPS; r++) {
		bw[r] = backend_batches(b, true);
		rw[r] = raw_batches(raw, tag, true);
		br[r] = backend_batches(b, false);
		rr[r] = raw_batches(raw, tag, false);
		if (bw[r] < 0 || rw[r] < 0 || br[r] < 0 || rr[r] < 0) {
			printf("# %s: not measured: a transfer failed\n", label);
			b->ops->close(b);
			return 0;
		}
	}
	double mbw = median_of(bw, REPS), mrw = median_of(rw, REPS);
	double mbr = median_of(br, REPS), mrr = median_of(rr, REPS);

	snprintf(name, sizeof(name), "%s swap-out 32-page batch", label);
	snprintf(cav, sizeof(cav), "per page; kernel column = raw hiredis pipelined SET, same server; "
		 "%.0fk vs %.0fk pages/s", 1e6 / mbw, 1e6 / mrw);
	bench_report_caveat(name, mbw, mrw, cav);
	bench_kernel_variant("raw hiredis pipelined SET");
	snprintf(name, sizeof(name), "%s swap-in 32-page batch", label);
	snprintf(cav, sizeof(cav), "per page; kernel column = raw hiredis pipelined GET, same server; "
		 "%.0fk vs %.0fk pages/s (%.0f%% of raw)", 1e6 / mbr, 1e6 / mrr, 100.0 * mrr / mbr);
	bench_report_caveat(name, mbr, mrr, cav);
	bench_kernel_variant("raw hiredis pipelined GET");

	if (backend_singles(b, false, s1) || raw_singles(raw, tag, false, s2)) {
		printf("# %s: single reads not measured: a read failed\n", label);
	} else {
		double m1 = pct(s1, SINGLES, 50), m2 = pct(s2, SINGLES, 50);

		raw_get = m2;
		double p1 = pct(s1, SINGLES, 99), p2 = pct(s2, SINGLES, 99);

		snprintf(name, sizeof(name), "%s swap-in 1 page median", label);
		bench_report_caveat(name, m1, m2, "per read call (the backend part of a major fault); "
				    "kernel column = raw hiredis synchronous GET");
		bench_kernel_variant("raw hiredis GET");
		snprintf(name, sizeof(name), "%s swap-in 1 page p99", label);
		bench_report_caveat(name, p1, p2, "99th percentile of the same calls");
		bench_kernel_variant("raw hiredis GET");
	}
	if (backend_singles(b, true, s1) || raw_singles(raw, tag, true, s2)) {
		printf("# %s: single writes not measured: a write failed\n", label);
	} else {
		snprintf(name, sizeof(name), "%s swap-out 1 page median", label);
		bench_report_caveat(name, pct(s1, SINGLES, 50), pct(s2, SINGLES, 50),
				    "per write call; kernel column = raw hiredis synchronous SET");
		bench_kernel_variant("raw hiredis SET");
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
	return raw_get;
}


/* ---- through the swap device: eviction and major faults ---- */

#define DEV_PAGES       ((int)BENCH_SIZE(2048, 128))     /* a multiple of SWAP_OUT_BATCH, at most NSLOTS_MAX */
#define DEV_FAULTS_MAX  500
#define DEV_FAULTS      ((int)BENCH_SIZE(DEV_FAULTS_MAX, 10))

/* dev_page - the page mapped at a, referenced (NULL if none). */
static int dev_swap_out(struct umm_mm *mm, uintptr_t a)
{
	struct page *page = follow_page(mm, a);
	int err;

	if (!page)
		return -ENOENT;
	err = swap_out_page(page);
	put_page(page);
	return err;
}

/* dev_swap_out_batch - the SWAP_OUT_BATCH pages from a out with one swap_out_pages (reclaim's batches). */
static int dev_swap_out_batch(struct umm_mm *mm, uintptr_t a)
{
	struct page *pg[SWAP_OUT_BATCH];
	int res[SWAP_OUT_BATCH], err = 0;
	unsigned n = 0, out;

	for (unsigned i = 0; i < SWAP_OUT_BATCH; i++)
		if ((pg[n] = follow_page(mm, a + (uintptr_t)i * PAGE_SIZE)))
			n++;
	out = swap_out_pages(pg, n, res);
	for (unsigned i = 0; i < n; i++) {
		if (res[i] && !err)
			err = res[i];
		put_page(pg[i]);
	}
	return err ? err : out == SWAP_OUT_BATCH ? 0 : -ENOENT;
}

/*
 * run_device - one system swapping to target: swap-out of DEV_PAGES
 * anonymous pages by batches (swap_out_pages, as reclaim does), swap-in of them all by sequential reads (the device reads a
 * window of 8 slots per major fault), and DEV_FAULTS single major faults
 * (evict one page, time the 1-byte read that brings it back).  raw_get:
 * the raw synchronous GET median on the same server (0: no counterpart).
 */
static void run_device(const char *label, const char *target, double raw_get_ns)
{
	struct umm_config cfg = { .phys_bytes = 64 << 20, .swap_path = target, .swap_bytes = 64 << 20,
				  .release_ms = -1, .collapse_ms = -1 };
	static uint64_t ns[DEV_FAULTS_MAX];
	struct umm_system *sys;
	struct umm_mm *mm;
	uintptr_t a = 0;
	char name[96], cav[200];
	uint64_t t0, out_ns, in_ns;
	int err = umm_system_create(&cfg, &sys);

	if (err) {
		printf("# %s: not measured, umm_system_create: %s\n", label, umm_strerror(err));
		return;
	}
	if ((err = umm_mm_create(sys, &mm)) ||
	    (err = umm_mmap(mm, 0, DEV_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a)) ||
	    (err = umm_write(mm, a, pages, DEV_PAGES * PAGE_SIZE))) {
		printf("# %s: not measured: %s\n", label, umm_strerror(err));
		goto out;
	}
	t0 = now_ns();
	for (int i = 0; i < DEV_PAGES && !err; i += SWAP_OUT_BATCH)
		err = dev_swap_out_batch(mm, a + (uintptr_t)i * PAGE_SIZE);
	out_ns = now_ns() - t0;
	t0 = now_ns();
	for (int i = 0; i < DEV_PAGES && !err; i++)
		err = umm_read(mm, a + (uintptr_t)i * PAGE_SIZE, inbuf, PAGE_SIZE);
	in_ns = now_ns() - t0;
	if (!err && memcmp(inbuf, pages + (size_t)(DEV_PAGES - 1) * PAGE_SIZE, PAGE_SIZE))
		err = -EBADMSG;
	for (int i = 0; i < DEV_FAULTS && !err; i++) {
		uintptr_t at = a + (uintptr_t)(i % DEV_PAGES) * PAGE_SIZE;

		err = dev_swap_out(mm, at);
		t0 = now_ns();
		if (!err)
			err = umm_read(mm, at, inbuf, 1);
		ns[i] = now_ns() - t0;
	}
	if (err) {
		printf("# %s: not measured: %s\n", label, umm_strerror(err));
		goto out;
	}
	snprintf(name, sizeof(name), "%s device swap-out", label);
	snprintf(cav, sizeof(cav), "per page, swap_out_pages of %d pages (reclaim's batch: unmap, one write "
		 "per run of slots, free); %.0fk pages/s", SWAP_OUT_BATCH, 1e6 * DEV_PAGES / (double)out_ns);
	bench_report_caveat(name, (double)out_ns / DEV_PAGES, 0, cav);
	snprintf(name, sizeof(name), "%s device swap-in", label);
	snprintf(cav, sizeof(cav), "per page, sequential 4 KiB reads, major faults reading 8-slot windows; "
		 "%.0fk pages/s", 1e6 * DEV_PAGES / (double)in_ns);
	bench_report_caveat(name, (double)in_ns / DEV_PAGES, 0, cav);
	{
		double m = pct(ns, DEV_FAULTS, 50), p99 = pct(ns, DEV_FAULTS, 99);

		snprintf(name, sizeof(name), "%s major fault median", label);
		if (raw_get_ns > 0) {
			bench_report_caveat(name, m, raw_get_ns, "one page (no neighbours to read ahead); "
					    "kernel column = raw hiredis synchronous GET median");
			bench_kernel_variant("raw hiredis GET");
		} else {
			bench_report_caveat(name, m, 0, "one page (no neighbours to read ahead)");
		}
		snprintf(name, sizeof(name), "%s major fault p99", label);
		bench_report_caveat(name, p99, 0, "99th percentile of the same faults");
	}
	{
		struct umm_sys_stats st;

		if (!umm_system_stats(sys, &st) && st.swap_remote_requests)
			printf("# %s device: %lu Redis requests for %lu pages out and %lu in, %lu errors\n",
			       label, st.swap_remote_requests, st.pswpout, st.pswpin, st.swap_remote_errors);
	}
out:
	if (mm)
		umm_mm_destroy(mm);
	umm_system_destroy(sys);
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

int main(int argc, char **argv)
{
	static struct rf_server one, cl[3];
	char target[128], tag[32];
	redisContext *raw;

	bench_init(argc, argv, SUMMARY);
	bench_machine_line();
	print_loadavg();
	if (!rf_have_tools()) {
		printf("# bench_redis: skipped: redis-server or redis-cli is not installed\n");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	pages = aligned_alloc(PAGE_SIZE, (size_t)NSLOTS_MAX * PAGE_SIZE);
	inbuf = aligned_alloc(PAGE_SIZE, (size_t)BATCH * PAGE_SIZE);
	if (!pages || !inbuf)
		return 1;
	for (size_t i = 0; i < (size_t)NSLOTS_MAX * PAGE_SIZE; i++)
		pages[i] = (char)(i * 31 + (i >> 12));
	printf("# servers: redis-server on loopback started by the benchmark, no persistence; "
	       "%d passes of %d batches of %d pages, %d single calls\n", REPS, BATCHES, BATCH, SINGLES);

	if (rf_start(&one, NULL)) {
		printf("# redis: not measured: redis-server did not start\n");
	} else if (!(raw = rf_connect(one.port, ""))) {
		printf("# redis: not measured: no raw connection\n");
	} else {
		double g;

		snprintf(target, sizeof(target), "redis://127.0.0.1:%d", one.port);
		g = run_pair("redis", &swap_redis_ops, target, raw, "raw");
		redisFree(raw);
		run_device("redis", target, g);
	}
	rf_cleanup(&one);

	if (bench_quick) {
		printf("# redis-cluster: not measured in a quick run (forming the cluster takes seconds)\n");
	} else if (rf_cluster_start(cl)) {
		printf("# redis-cluster: not measured: the cluster did not form\n");
	} else if (cluster_tag(&cl[0], tag, sizeof(tag)) || !(raw = rf_connect(cl[0].port, ""))) {
		printf("# redis-cluster: not measured: no raw connection to a node\n");
	} else {
		double g;

		snprintf(target, sizeof(target), "redis-cluster://127.0.0.1:%d", cl[0].port);
		g = run_pair("redis-cluster", &swap_redis_cluster_ops, target, raw, tag);
		redisFree(raw);
		run_device("redis-cluster", target, g);
	}
	for (int i = 0; i < 3; i++)
		rf_cleanup(&cl[i]);
	{
		const char *dir = getenv("TMPDIR");
		char path[4096];

		snprintf(path, sizeof(path), "%s/umm_bench_redis_swap.%d", dir ? dir : "/tmp", (int)getpid());
		run_device("file", path, 0);
		unlink(path);
	}
	free(pages);
	free(inbuf);
	return 0;
}
#endif
