/* SPDX-License-Identifier: MIT */
/*
 * test_swap_redis.c - the Redis swap backend (swap_redis.c,
 * redis_cluster.c) through the backend interface, against Redis servers
 * the test starts itself (redis_fixture.h): round trips single and
 * batched, discard, two systems sharing a server, AUTH (password, ACL
 * user, missing and wrong), a server killed and restarted, lost, stale,
 * foreign and corrupted values, Redis out of memory, WAIT for replicas,
 * several threads at once; and a three-node cluster: key slots against
 * CLUSTER KEYSLOT, pages spread over the nodes, resharding while pages
 * are written and read, a node killed.
 *
 * Then through the swap device (umm_config.swap_path a Redis target,
 * pages evicted with swap_out_page as reclaim does): anonymous, shared
 * after fork and shmem pages out and back, the remote counters of
 * umm_system_stats, a server killed under a running system, and the
 * errors of umm_system_create (AUTH, no server, bad target).
 *
 * Skipped, with a line saying why, when usermm was built without hiredis
 * or redis-server / redis-cli are missing.  The cluster part runs in the
 * first reverse-map pass only (UMM_RMAP=object skips it, saying so).
 */
#include "test.h"
#include "swap_redis.h"
#include "page.h"

#ifndef UMM_HAVE_HIREDIS
int main(void)
{
	struct swap_backend *b = NULL;

	/* Without hiredis the backend exists and says so: -EOPNOTSUPP. */
	CHECK_EQ(swap_redis_ops.open("redis://127.0.0.1:6379", 16, &b), -EOPNOTSUPP);
	CHECK_EQ(swap_redis_cluster_ops.open("redis-cluster://127.0.0.1:6379", 16, &b), -EOPNOTSUPP);
	{
		struct umm_config cfg = { .phys_bytes = 4 << 20, .swap_path = "redis://127.0.0.1:6379",
					  .swap_bytes = 1 << 20 };
		struct umm_system *sys = NULL;

		CHECK_EQ(umm_system_create(&cfg, &sys), -EOPNOTSUPP);
		CHECK(sys == NULL);
	}
	fprintf(stderr, "test_swap_redis: skipped the server tests: usermm was built without hiredis "
		"(libhiredis-dev could not be found or installed)\n");
	return test_summary("test_swap_redis");
}
#else
#include <pthread.h>
#include "memory.h"
#include "object.h"
#include "system.h"
#include "swap.h"
#include "gup.h"
#include "swap_internal.h"
#include "redis_cluster.h"
#include "redis_fixture.h"

static bool tsan_build(void)
{
#if defined(__SANITIZE_THREAD__)
	return true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
	return true;
#endif
#endif
	return false;
}

/* ---- log capture: what the backend says, checked for leaked passwords ---- */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_text[8192];

static void capture_log(int level, const char *line, void *arg)
{
	(void)level; (void)arg;
	pthread_mutex_lock(&log_mu);
	size_t n = strlen(log_text);
	snprintf(log_text + n, sizeof(log_text) - n, "%s\n", line);
	pthread_mutex_unlock(&log_mu);
}

static void log_reset(void)
{
	pthread_mutex_lock(&log_mu);
	log_text[0] = 0;
	pthread_mutex_unlock(&log_mu);
}

static bool log_has(const char *s)
{
	pthread_mutex_lock(&log_mu);
	bool r = strstr(log_text, s) != NULL;
	pthread_mutex_unlock(&log_mu);
	return r;
}

/* ---- pages ---- */
static void fill(void *p, uint64_t slot, uint64_t version)
{
	uint64_t *w = p;

	for (size_t i = 0; i < PAGE_SIZE / 8; i++)
		w[i] = (slot * 0x9E3779B97F4A7C15ull) ^ (version << 32) ^ i;
}

static bool page_is(const void *p, uint64_t slot, uint64_t version)
{
	const uint64_t *w = p;

	for (size_t i = 0; i < PAGE_SIZE / 8; i++)
		if (w[i] != ((slot * 0x9E3779B97F4A7C15ull) ^ (version << 32) ^ i))
			return false;
	return true;
}

static char *pages_alloc(unsigned n)
{
	char *p = aligned_alloc(PAGE_SIZE, (size_t)n * PAGE_SIZE);

	if (!p)                 /* any thread: no REQUIRE (its counter is the main thread's) */
		abort();
	return p;
}

/* write_range - write slots [slot, slot+nr) with version v in one call. */
static int write_range(struct swap_backend *b, uint64_t slot, unsigned nr, uint64_t v)
{
	char *mem = pages_alloc(nr);
	const void **bufs = calloc(nr, sizeof(*bufs));
	int err;

	for (unsigned i = 0; i < nr; i++) {
		fill(mem + (size_t)i * PAGE_SIZE, slot + i, v);
		bufs[i] = mem + (size_t)i * PAGE_SIZE;
	}
	err = b->ops->write(b, slot, nr, bufs);
	free(bufs);
	free(mem);
	return err;
}

/* read_check - read [slot, slot+nr) in one call: the error, or 1 when a page is not version v. */
static int read_check(struct swap_backend *b, uint64_t slot, unsigned nr, uint64_t v)
{
	char *mem = pages_alloc(nr);
	void **bufs = calloc(nr, sizeof(*bufs));
	int err;

	memset(mem, 0xAB, (size_t)nr * PAGE_SIZE);
	for (unsigned i = 0; i < nr; i++)
		bufs[i] = mem + (size_t)i * PAGE_SIZE;
	err = b->ops->read(b, slot, nr, bufs);
	for (unsigned i = 0; i < nr && !err; i++)
		if (!page_is(bufs[i], slot + i, v))
			err = 1;
	free(bufs);
	free(mem);
	return err;
}

static struct swap_redis_stats stats(struct swap_backend *b)
{
	struct swap_redis_stats st;

	REQUIRE(swap_redis_get_stats(b, &st) == 0);
	return st;
}

static char url_buf[512];
static const char *url(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(url_buf, sizeof(url_buf), fmt, ap);
	va_end(ap);
	return url_buf;
}

static struct rf_server srv;          /* the single server most tests share */

static struct swap_backend *open_ok(const char *target, uint64_t nr_slots)
{
	const struct swap_backend_ops *ops = strncmp(target, "redis-cluster://", 16) ? &swap_redis_ops
										   : &swap_redis_cluster_ops;
	struct swap_backend *b = NULL;
	int err = ops->open(target, nr_slots, &b);

	if (err)
		fprintf(stderr, "open %s: %s\n%s", target, umm_strerror(err), log_text);
	REQUIRE(err == 0 && b);
	return b;
}

static long long dbsize(const struct rf_server *s)
{
	return rf_int(s, "DBSIZE");
}

/* ------------------------------------------------------------------ */

static void test_bad_targets(void)
{
	static const char *const bad[] = {
		"", "redis://", "redis://localhost", "redis://h:0", "redis://h:65536", "redis://h:x",
		"http://127.0.0.1:6379", "redis://a:1,b:2", "redis://127.0.0.1:1/x",
		"redis://127.0.0.1:1?bogus=1", "redis://127.0.0.1:1?conns=0", "redis://127.0.0.1:1?conns=99",
		"redis://nopass@127.0.0.1:1", "redis://user:@127.0.0.1:1", "redis-cluster://127.0.0.1:1,",
		"redis-cluster://127.0.0.1:1/3", "redis://127.0.0.1:1?cluster_pages=0",
	};
	struct swap_backend *b = (struct swap_backend *)&b;   /* must stay untouched */

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct swap_backend_ops *ops = strncmp(bad[i], "redis-cluster", 13) ? &swap_redis_ops
											    : &swap_redis_cluster_ops;
		int err = ops->open(bad[i], 16, &b);

		if (err != -EINVAL)
			fprintf(stderr, "target '%s': %d\n", bad[i], err);
		CHECK_EQ(err, -EINVAL);
	}
	CHECK_EQ(swap_redis_ops.open(NULL, 16, &b), -EINVAL);
	CHECK_EQ(swap_redis_ops.open(url("redis://127.0.0.1:%d", srv.port), 0, &b), -EINVAL);
	CHECK_EQ(swap_redis_ops.open(url("redis://127.0.0.1:%d", srv.port), 16, NULL), -EINVAL);
	/* Each backend takes its own scheme only. */
	CHECK_EQ(swap_redis_ops.open(url("redis-cluster://127.0.0.1:%d", srv.port), 16, &b), -EINVAL);
	CHECK_EQ(swap_redis_cluster_ops.open(url("redis://127.0.0.1:%d", srv.port), 16, &b), -EINVAL);
	/* A server that is not a cluster. */
	CHECK_EQ(swap_redis_cluster_ops.open(url("redis-cluster://127.0.0.1:%d", srv.port), 16, &b), -EINVAL);
	CHECK(b == (struct swap_backend *)&b);
	/* Nobody listening. */
	CHECK_EQ(swap_redis_ops.open(url("redis://127.0.0.1:%d", rf_free_port(false)), 16, &b), -ECONNREFUSED);
	CHECK(b == (struct swap_backend *)&b);
	/* The CRC16 of Redis Cluster: the check value of "123456789" is 0x31C3; hash tags. */
	CHECK_EQ(redis_key_hslot("123456789", 9), 0x31C3);
	CHECK_EQ(redis_key_hslot("{user1000}.following", 20), redis_key_hslot("user1000", 8));
	CHECK_EQ(redis_key_hslot("foo{}{bar}", 10), redis_key_hslot("foo{}{bar}", 10) & 16383);
	CHECK(redis_key_hslot("foo{}{bar}", 10) != redis_key_hslot("bar", 3));
	CHECK_EQ(redis_key_hslot("foo{{bar}}zap", 13), redis_key_hslot("{bar", 4));
	/* CRC32C's check value; the SSE4.2 and table paths agree. */
	CHECK_EQ(swap_redis_csum_selftest(), 0);
}

static void test_roundtrip(void)
{
	struct swap_backend *b = open_ok(url("redis://127.0.0.1:%d", srv.port), 1024);
	struct swap_redis_stats st;
	char key[96];

	CHECK_EQ(write_range(b, 7, 1, 1), 0);
	CHECK_EQ(read_check(b, 7, 1, 1), 0);
	/* 100 consecutive slots across hash-tag groups, written and read in one call each. */
	CHECK_EQ(write_range(b, 20, 100, 2), 0);
	CHECK_EQ(read_check(b, 20, 100, 2), 0);
	CHECK_EQ(read_check(b, 50, 9, 2), 0);
	/* Rewritten: the new contents. */
	CHECK_EQ(write_range(b, 30, 4, 3), 0);
	CHECK_EQ(read_check(b, 30, 4, 3), 0);
	CHECK_EQ(read_check(b, 20, 10, 2), 0);
	/* Never written, or partly: -EIO, no data. */
	CHECK_EQ(read_check(b, 500, 1, 1), -EIO);
	CHECK_EQ(read_check(b, 118, 4, 2), -EIO);
	/* Out of range. */
	CHECK_EQ(write_range(b, 1024, 1, 1), -EINVAL);
	CHECK_EQ(write_range(b, 1020, 5, 1), -EINVAL);
	CHECK_EQ(read_check(b, 1023, 2, 1), -EINVAL);
	CHECK_EQ(b->ops->write(b, 0, 0, NULL), -EINVAL);
	CHECK_EQ(b->ops->discard(b, 1000, 25), -EINVAL);
	st = stats(b);
	CHECK_EQ(st.pages, 101);
	CHECK_EQ(st.bytes, 101 * (PAGE_SIZE + 40));
	CHECK_EQ(st.pages_written, 105);
	CHECK_EQ(st.pages_read, 1 + 100 + 9 + 4 + 10);
	CHECK_EQ(st.lost, 2);
	CHECK_EQ(st.corrupt, 0);
	CHECK(st.requests >= 105 + 124);
	CHECK(swap_redis_lat_percentile(st.read_lat, 50) > 0);
	CHECK(swap_redis_lat_percentile(st.read_lat, 99) >= swap_redis_lat_percentile(st.read_lat, 50));
	/* The key names the system and the slot, with the hash tag. */
	CHECK(swap_redis_key(b, 7, key, sizeof(key)) > 0);
	CHECK(!strncmp(key, "umm:{", 5) && strstr(key, ":0}:7:"));
	CHECK_EQ(rf_int(&srv, "EXISTS %s", key), 1);
	CHECK_EQ(dbsize(&srv), 101);
	b->ops->close(b);
	CHECK_EQ(dbsize(&srv), 0);          /* close removed the system's keys */
}

static void test_discard(void)
{
	struct swap_backend *b = open_ok(url("redis://127.0.0.1:%d/2", srv.port), 256);
	char key[96];

	CHECK_EQ(write_range(b, 0, 64, 1), 0);
	swap_redis_key(b, 20, key, sizeof(key));
	CHECK_EQ(b->ops->discard(b, 10, 30), 0);
	{
		char none[8];

		CHECK_EQ(swap_redis_key(b, 20, none, sizeof(none)), -ENOENT);
	}
	CHECK_EQ(read_check(b, 10, 1, 1), -EIO);
	CHECK_EQ(read_check(b, 39, 1, 1), -EIO);
	CHECK_EQ(read_check(b, 0, 10, 1), 0);
	CHECK_EQ(read_check(b, 40, 24, 1), 0);
	CHECK_EQ(stats(b).pages, 34);
	CHECK_EQ(stats(b).pages_discarded, 30);
	CHECK_EQ(swap_redis_flush_discards(b), 0);   /* the DELs go out from the reaper thread */
	CHECK_EQ(stats(b).discards_pending, 0);
	CHECK_EQ(stats(b).del_errors, 0);
	/* The keys are gone from database 2 (the target's /2), the others there. */
	{
		redisContext *c = rf_connect(srv.port, "");
		redisReply *r;

		REQUIRE(c);
		r = redisCommand(c, "SELECT 2");
		freeReplyObject(r);
		r = redisCommand(c, "EXISTS %s", key);
		CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 0);
		freeReplyObject(r);
		r = redisCommand(c, "DBSIZE");
		CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 34);
		freeReplyObject(r);
		redisFree(c);
	}
	CHECK_EQ(dbsize(&srv), 0);          /* database 0 untouched */
	/* Discarding what is not there is fine. */
	CHECK_EQ(b->ops->discard(b, 10, 30), 0);
	/*
	 * A slot written again right after its discard keeps the new page:
	 * the write cancels the DEL not yet sent, or waits for one in flight.
	 */
	for (unsigned round = 0; round < 50; round++) {
		CHECK_EQ(write_range(b, 100, 32, round), 0);
		CHECK_EQ(b->ops->discard(b, 100, 32), 0);
		CHECK_EQ(write_range(b, 100 + round % 8, 8, round + 1000), 0);
		CHECK_EQ(swap_redis_flush_discards(b), 0);
		CHECK_EQ(read_check(b, 100 + round % 8, 8, round + 1000), 0);
		CHECK_EQ(b->ops->discard(b, 100, 32), 0);
	}
	CHECK_EQ(swap_redis_flush_discards(b), 0);
	CHECK_EQ(stats(b).pages, 34);
	b->ops->close(b);
}

static void test_two_systems(void)
{
	struct swap_backend *a = open_ok(url("redis://127.0.0.1:%d", srv.port), 128);
	struct swap_backend *b = open_ok(url("redis://127.0.0.1:%d", srv.port), 128);
	char ka[96], kb[96];

	CHECK_EQ(write_range(a, 0, 32, 100), 0);
	CHECK_EQ(write_range(b, 0, 32, 200), 0);
	CHECK_EQ(read_check(a, 0, 32, 100), 0);
	CHECK_EQ(read_check(b, 0, 32, 200), 0);
	swap_redis_key(a, 0, ka, sizeof(ka));
	swap_redis_key(b, 0, kb, sizeof(kb));
	CHECK(strcmp(ka, kb) != 0);
	CHECK_EQ(dbsize(&srv), 64);
	a->ops->close(a);
	CHECK_EQ(dbsize(&srv), 32);         /* a's keys only */
	CHECK_EQ(read_check(b, 0, 32, 200), 0);
	b->ops->close(b);
	CHECK_EQ(dbsize(&srv), 0);
}

/* cur_key - the key of slot's current value in b (one of two static buffers), "" if none. */
static const char *cur_key(struct swap_backend *b, uint64_t slot)
{
	static char k[2][96];
	static int n;
	char *p = k[n++ & 1];

	if (swap_redis_key(b, slot, p, 96) < 0)
		p[0] = 0;
	return p;
}

/* set_raw - SET key to the len bytes at val on the shared server. */
static void set_raw(const char *key, const char *val, size_t len)
{
	redisReply *r = rf_cmd(&srv, "SET %s %b", key, val, len);

	CHECK(r && r->type == REDIS_REPLY_STATUS);
	if (r)
		freeReplyObject(r);
}

static void test_corrupt_values(void)
{
	struct swap_backend *b = open_ok(url("redis://127.0.0.1:%d", srv.port), 64);
	struct swap_backend *other = open_ok(url("redis://127.0.0.1:%d", srv.port), 64);
	char okey[96];
	redisReply *r, *old;

	/* Garbage under our key. */
	CHECK_EQ(write_range(b, 3, 1, 1), 0);
	set_raw(cur_key(b, 3), "not a page", 10);
	CHECK_EQ(read_check(b, 3, 1, 1), -EIO);
	CHECK_EQ(stats(b).corrupt, 1);
	/* One byte of the page flipped. */
	CHECK_EQ(write_range(b, 3, 1, 2), 0);
	r = rf_cmd(&srv, "SETRANGE %s %d %b", cur_key(b, 3), 40 + 1000, "\x5a", (size_t)1);
	freeReplyObject(r);
	CHECK_EQ(read_check(b, 3, 1, 2), -EIO);
	CHECK_EQ(stats(b).corrupt, 2);
	/* A stale copy of the slot under its current key (a server restored from an old snapshot). */
	CHECK_EQ(write_range(b, 3, 1, 3), 0);
	old = rf_cmd(&srv, "GET %s", cur_key(b, 3));
	REQUIRE(old && old->type == REDIS_REPLY_STRING);
	CHECK_EQ(write_range(b, 3, 1, 4), 0);
	CHECK_EQ(read_check(b, 3, 1, 4), 0);
	set_raw(cur_key(b, 3), old->str, old->len);
	freeReplyObject(old);
	CHECK_EQ(read_check(b, 3, 1, 4), -EIO);
	CHECK_EQ(stats(b).corrupt, 3);
	/*
	 * A SET of an older generation that lands late (a timed-out request
	 * run by a server waking up) goes to its own key: the newer page
	 * stays readable, and the rewrite deleted the older key.
	 */
	{
		char k5[96];

		CHECK_EQ(write_range(b, 6, 1, 5), 0);
		snprintf(k5, sizeof(k5), "%s", cur_key(b, 6));
		old = rf_cmd(&srv, "GET %s", k5);
		REQUIRE(old && old->type == REDIS_REPLY_STRING);
		CHECK_EQ(write_range(b, 6, 1, 6), 0);
		CHECK(strcmp(k5, cur_key(b, 6)) != 0);
		CHECK_EQ(rf_int(&srv, "EXISTS %s", k5), 0);
		set_raw(k5, old->str, old->len);
		freeReplyObject(old);
		CHECK_EQ(read_check(b, 6, 1, 6), 0);
	}
	/* Another system's page of the same slot number copied under our key. */
	CHECK_EQ(write_range(b, 3, 1, 5), 0);
	CHECK_EQ(write_range(other, 3, 1, 5), 0);
	snprintf(okey, sizeof(okey), "%s", cur_key(other, 3));
	old = rf_cmd(&srv, "GET %s", okey);
	REQUIRE(old && old->type == REDIS_REPLY_STRING);
	set_raw(cur_key(b, 3), old->str, old->len);
	freeReplyObject(old);
	CHECK_EQ(read_check(b, 3, 1, 5), -EIO);
	CHECK_EQ(stats(b).corrupt, 4);
	/* Our own page of another slot under this slot's key. */
	CHECK_EQ(write_range(b, 4, 1, 5), 0);
	CHECK_EQ(write_range(b, 3, 1, 5), 0);
	old = rf_cmd(&srv, "GET %s", cur_key(b, 4));
	REQUIRE(old && old->type == REDIS_REPLY_STRING);
	set_raw(cur_key(b, 3), old->str, old->len);
	freeReplyObject(old);
	CHECK_EQ(read_check(b, 3, 1, 5), -EIO);
	CHECK_EQ(stats(b).corrupt, 5);
	/* A key deleted behind our back: lost, -EIO. */
	CHECK_EQ(write_range(b, 5, 1, 5), 0);
	CHECK_EQ(rf_int(&srv, "DEL %s", cur_key(b, 5)), 1);
	CHECK_EQ(read_check(b, 5, 1, 5), -EIO);
	CHECK_EQ(stats(b).lost, 1);
	/* In a batch, one bad page fails the whole read. */
	CHECK_EQ(write_range(b, 8, 8, 6), 0);
	r = rf_cmd(&srv, "SETRANGE %s %d %b", cur_key(b, 12), 4000, "zz", (size_t)2);
	freeReplyObject(r);
	CHECK_EQ(read_check(b, 8, 8, 6), -EIO);
	CHECK_EQ(read_check(b, 8, 4, 6), 0);
	/* No key for a slot without a value. */
	CHECK_EQ(swap_redis_key(b, 40, okey, sizeof(okey)), -ENOENT);
	CHECK_EQ(swap_redis_key(b, 64, okey, sizeof(okey)), -EINVAL);
	/* The other system saw none of it. */
	CHECK_EQ(stats(other).corrupt, 0);
	CHECK_EQ(stats(other).errors, 0);
	other->ops->close(other);
	b->ops->close(b);
	CHECK_EQ(dbsize(&srv), 0);
}

static void test_auth(void)
{
	struct rf_server s = { 0 };
	struct swap_backend *b = (struct swap_backend *)&b;
	const char *pw = "s3cr3t-PW@x", *wrong = "WrongPassw0rd!";
	redisReply *r;

	snprintf(s.pass, sizeof(s.pass), "%s", pw);
	REQUIRE(rf_start(&s, NULL) == 0);
	umm_set_log(capture_log, NULL);
	log_reset();
	/* No password for a server that wants one. */
	CHECK_EQ(swap_redis_ops.open(url("redis://127.0.0.1:%d", s.port), 16, &b), -EACCES);
	CHECK(log_has("requires a password"));
	/* A wrong one: refused at open, the message never shows it. */
	log_reset();
	CHECK_EQ(swap_redis_ops.open(url("redis://:%s@127.0.0.1:%d", wrong, s.port), 16, &b), -EACCES);
	CHECK(log_has("refused the credentials"));
	CHECK(!log_has(wrong) && !log_has(pw));
	CHECK(b == (struct swap_backend *)&b);
	/* The right one (with '@' in it): works. */
	b = open_ok(url("redis://:%s@127.0.0.1:%d", pw, s.port), 16);
	CHECK_EQ(write_range(b, 1, 2, 9), 0);
	CHECK_EQ(read_check(b, 1, 2, 9), 0);
	b->ops->close(b);
	/* An ACL user. */
	r = rf_cmd(&s, "ACL SETUSER umm on >userpw ~umm:* +@all");
	CHECK(r && r->type == REDIS_REPLY_STATUS);
	freeReplyObject(r);
	b = open_ok(url("redis://umm:userpw@127.0.0.1:%d", s.port), 16);
	CHECK_EQ(write_range(b, 0, 3, 9), 0);
	CHECK_EQ(read_check(b, 0, 3, 9), 0);
	b->ops->close(b);
	log_reset();
	b = (struct swap_backend *)&b;
	CHECK_EQ(swap_redis_ops.open(url("redis://umm:%s@127.0.0.1:%d", wrong, s.port), 16, &b), -EACCES);
	CHECK(log_has("refused the credentials") && !log_has(wrong));
	CHECK(b == (struct swap_backend *)&b);
	/* A password for a server that has none. */
	log_reset();
	CHECK_EQ(swap_redis_ops.open(url("redis://:%s@127.0.0.1:%d", wrong, srv.port), 16, &b), -EACCES);
	CHECK(!log_has(wrong));
	umm_set_log(NULL, NULL);
	CHECK_EQ(rf_int(&s, "DBSIZE"), 0);
	rf_cleanup(&s);
}

/*
 * A server killed mid-run: writes and reads fail with an error (never
 * data), and once it is back (empty: no persistence) the pages written
 * before are -EIO (lost) while new writes work again.
 */
static void test_server_killed(void)
{
	struct rf_server s = { 0 };
	struct swap_backend *b;
	struct swap_redis_stats st;
	double t0;
	int err;

	REQUIRE(rf_start(&s, NULL) == 0);
	b = open_ok(url("redis://127.0.0.1:%d?timeout_ms=500&conns=2", s.port), 256);
	CHECK_EQ(write_range(b, 0, 32, 1), 0);
	CHECK_EQ(read_check(b, 0, 32, 1), 0);
	rf_stop(&s);
	CHECK_EQ(write_range(b, 32, 32, 1), -EIO);
	CHECK_EQ(read_check(b, 0, 32, 1), -EIO);
	CHECK_EQ(read_check(b, 32, 1, 1), -EIO);   /* the failed write left nothing readable */
	CHECK_EQ(b->ops->discard(b, 28, 4), 0);      /* never waits for Redis: the DEL fails later */
	CHECK_EQ(swap_redis_flush_discards(b), 0);
	st = stats(b);
	CHECK(st.del_errors >= 1);
	CHECK(st.errors >= 3);
	CHECK(st.conn_errors >= 1);
	CHECK_EQ(st.pages, 28);
	REQUIRE(rf_start(&s, NULL) == 0);
	/* Reconnects within the backoff (at most 1 s). */
	t0 = test_now_s();
	while ((err = write_range(b, 64, 8, 2)) && test_now_s() - t0 < 10)
		usleep(20000);
	CHECK_EQ(err, 0);
	CHECK_EQ(read_check(b, 64, 8, 2), 0);
	CHECK_EQ(read_check(b, 0, 1, 1), -EIO);    /* lost with the server's memory */
	CHECK(stats(b).lost >= 1);
	CHECK(stats(b).reconnects >= 1);
	CHECK_EQ(write_range(b, 0, 32, 3), 0);
	CHECK_EQ(read_check(b, 0, 32, 3), 0);
	/*
	 * A server that stops answering (SIGSTOP): requests time out and
	 * fail, nothing is returned; once it runs again, so does the backend,
	 * and the SET that timed out, run late by the server, harms nothing.
	 */
	kill(s.pid, SIGSTOP);
	CHECK_EQ(write_range(b, 0, 4, 4), -EIO);
	CHECK_EQ(read_check(b, 8, 4, 3), -EIO);
	kill(s.pid, SIGCONT);
	t0 = test_now_s();
	while ((err = read_check(b, 8, 4, 3)) && test_now_s() - t0 < 10)
		usleep(20000);
	CHECK_EQ(err, 0);
	CHECK_EQ(read_check(b, 0, 1, 3), -EIO);    /* its write failed: nothing readable */
	CHECK_EQ(write_range(b, 0, 4, 5), 0);
	CHECK_EQ(read_check(b, 0, 4, 5), 0);
	b->ops->close(b);
	CHECK_EQ(rf_int(&s, "DBSIZE"), 0);
	rf_cleanup(&s);
}

/* Redis out of memory (maxmemory, noeviction): the write fails with -ENOSPC, nothing is returned wrong. */
static void test_server_full(void)
{
	static const char *const extra[] = { "--maxmemory", "3mb", "--maxmemory-policy", "noeviction", NULL };
	struct rf_server s = { 0 };
	struct swap_backend *b;
	int err = 0;
	unsigned slot;

	REQUIRE(rf_start(&s, extra) == 0);
	b = open_ok(url("redis://127.0.0.1:%d", s.port), 4096);
	for (slot = 0; slot < 4096 && !err; slot += 16)
		err = write_range(b, slot, 16, 1);
	CHECK_EQ(err, -ENOSPC);
	CHECK(slot > 16);
	CHECK_EQ(read_check(b, 0, 16, 1), 0);
	CHECK_EQ(read_check(b, slot - 16, 16, 1), -EIO);
	b->ops->close(b);
	rf_cleanup(&s);
}

/* ?replicas=1: a write waits for one replica; without one it fails. */
static void test_replicas(void)
{
	static const char *const mextra[] = { "--repl-diskless-sync-delay", "0", NULL };
	struct rf_server m = { 0 }, rep = { 0 };
	char port[16];
	struct swap_backend *b;
	double t0;
	int err;

	REQUIRE(rf_start(&m, mextra) == 0);
	b = open_ok(url("redis://127.0.0.1:%d?replicas=1&wait_ms=200", m.port), 64);
	CHECK_EQ(write_range(b, 0, 4, 1), -EIO);
	CHECK(stats(b).wait_short >= 1);
	CHECK_EQ(read_check(b, 0, 4, 1), -EIO);
	snprintf(port, sizeof(port), "%d", m.port);
	{
		const char *const rextra[] = { "--replicaof", "127.0.0.1", port, NULL };
		REQUIRE(rf_start(&rep, rextra) == 0);
	}
	t0 = test_now_s();
	while ((err = write_range(b, 0, 4, 2)) && test_now_s() - t0 < 10)
		usleep(50000);
	CHECK_EQ(err, 0);
	CHECK_EQ(read_check(b, 0, 4, 2), 0);
	b->ops->close(b);
	rf_cleanup(&rep);
	rf_cleanup(&m);
}

/* Several threads writing and reading their own slots at once, through a pool of 3 connections. */
struct thr_arg { struct swap_backend *b; unsigned base, iters; };

static void *thr_rw(void *p)
{
	struct thr_arg *a = p;

	for (unsigned it = 1; it <= a->iters; it++) {
		unsigned nr = 1 + it % 16;

		TCHECK(write_range(a->b, a->base, nr, it) == 0);
		TCHECK(read_check(a->b, a->base, nr, it) == 0);
		if (it % 5 == 0)
			TCHECK(a->b->ops->discard(a->b, a->base, nr) == 0);
	}
	return NULL;
}

static void test_threads(void)
{
	struct swap_backend *b = open_ok(url("redis://127.0.0.1:%d?conns=3", srv.port), 1024);
	struct thr_arg args[6];
	pthread_t th[6];

	for (int i = 0; i < 6; i++) {
		args[i] = (struct thr_arg){ b, (unsigned)i * 100, tsan_build() ? 30 : 150 };
		pthread_create(&th[i], NULL, thr_rw, &args[i]);
	}
	for (int i = 0; i < 6; i++)
		pthread_join(th[i], NULL);
	test_fold_thread_checks();
	CHECK_EQ(stats(b).errors, 0);
	b->ops->close(b);
	CHECK_EQ(dbsize(&srv), 0);
}

/* ------------------------------------------------------------------ */
/* Cluster */

static struct rf_server cl[3];

static const char *cluster_url(const char *opts)
{
	return url("redis-cluster://127.0.0.1:%d%s", cl[0].port, opts);
}

static long long cluster_dbsize(void)
{
	long long n = 0;

	for (int i = 0; i < 3; i++)
		if (cl[i].pid > 0)
			n += dbsize(&cl[i]);
	return n;
}

static void test_cluster_basic(void)
{
	struct swap_backend *b = open_ok(cluster_url("?cluster_pages=1"), 1024);
	struct swap_backend *g;
	char key[96];
	int mismatches = 0;

	/* One slot per hash tag: the pages spread over the three nodes. */
	CHECK_EQ(write_range(b, 0, 300, 1), 0);
	CHECK_EQ(read_check(b, 0, 300, 1), 0);
	/* Our CRC16 slots agree with the server's. */
	for (uint64_t s = 0; s < 300; s += 3) {
		int kl = swap_redis_key(b, s, key, sizeof(key));
		long long ks = rf_int(&cl[0], "CLUSTER KEYSLOT %s", key);

		if (kl < 0 || ks != redis_key_hslot(key, (size_t)kl))
			mismatches++;
	}
	CHECK_EQ(mismatches, 0);
	for (int i = 0; i < 3; i++)
		CHECK(dbsize(&cl[i]) > 30);
	CHECK_EQ(cluster_dbsize(), 300);
	CHECK_EQ(b->ops->discard(b, 0, 100), 0);
	CHECK_EQ(swap_redis_flush_discards(b), 0);
	CHECK_EQ(cluster_dbsize(), 200);
	CHECK_EQ(read_check(b, 0, 1, 1), -EIO);
	CHECK_EQ(read_check(b, 100, 200, 1), 0);
	b->ops->close(b);
	CHECK_EQ(cluster_dbsize(), 0);
	/* The default grouping: 64 consecutive slots (a device cluster) under one tag, on one node. */
	g = open_ok(cluster_url(""), 256);
	CHECK_EQ(write_range(g, 64, 64, 4), 0);
	{
		int nodes_with_keys = 0;

		for (int i = 0; i < 3; i++)
			nodes_with_keys += dbsize(&cl[i]) > 0;
		CHECK_EQ(nodes_with_keys, 1);
	}
	CHECK_EQ(read_check(g, 64, 64, 4), 0);
	g->ops->close(g);
	CHECK_EQ(cluster_dbsize(), 0);
}

struct reshard_arg { struct swap_backend *b; _Atomic bool stop; unsigned nr_slots; uint64_t *version; _Atomic long rounds; };

static void *reshard_worker(void *p)
{
	struct reshard_arg *a = p;
	uint64_t v = 10;

	while (!atomic_load(&a->stop)) {
		for (unsigned s = 0; s < a->nr_slots && !atomic_load(&a->stop); s += 16) {
			v++;
			if (write_range(a->b, s, 16, v) == 0) {
				for (unsigned i = 0; i < 16; i++)
					a->version[s + i] = v;
			} else {
				TCHECK(!"write failed during resharding");
			}
			TCHECK(read_check(a->b, s, 16, a->version[s]) == 0);
		}
		a->rounds++;
	}
	return NULL;
}

/*
 * redis-cli --cluster reshard moves slots from node 0 to node 1 while a
 * thread writes and reads back pages: no write fails, no page is lost or
 * misplaced, and the backend followed the redirections.
 */
static void test_cluster_reshard(void)
{
	struct reshard_arg a = { .nr_slots = 512 };
	char from[64], to[64], addr[32];
	pthread_t th;
	int rc;

	a.b = open_ok(cluster_url("?cluster_pages=1"), a.nr_slots);
	a.version = calloc(a.nr_slots, sizeof(uint64_t));
	REQUIRE(rf_node_id(&cl[0], from, sizeof(from)) == 0 && rf_node_id(&cl[1], to, sizeof(to)) == 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", cl[0].port);
	CHECK_EQ(write_range(a.b, 0, a.nr_slots, 1), 0);
	for (unsigned i = 0; i < a.nr_slots; i++)
		a.version[i] = 1;
	pthread_create(&th, NULL, reshard_worker, &a);
	{
		const char *argv[] = { "redis-cli", "--cluster", "reshard", addr, "--cluster-from", from,
				       "--cluster-to", to, "--cluster-slots", tsan_build() ? "400" : "800",
				       "--cluster-yes", "--cluster-pipeline", "4", NULL };
		rc = rf_run(argv);
	}
	/* a whole round of the worker's, however little of the machine it got during the reshard */
	while (atomic_load(&a.rounds) < 1)
		usleep(1000);
	atomic_store(&a.stop, true);
	pthread_join(th, NULL);
	test_fold_thread_checks();
	CHECK_EQ(rc, 0);
	fprintf(stderr, "reshard: %ld rounds of %u pages written and read; %llu MOVED, %llu ASK followed\n",
		atomic_load(&a.rounds), a.nr_slots, (unsigned long long)stats(a.b).moved, (unsigned long long)stats(a.b).ask);
	for (unsigned s = 0; s < a.nr_slots; s += 16)       /* the worker's batches */
		CHECK_EQ(read_check(a.b, s, 16, a.version[s]), 0);
	CHECK(stats(a.b).moved + stats(a.b).ask > 0);
	CHECK_EQ(stats(a.b).errors, 0);
	CHECK_EQ(cluster_dbsize(), a.nr_slots);
	a.b->ops->close(a.b);
	CHECK_EQ(cluster_dbsize(), 0);
	free(a.version);
}

/* A node killed: its pages read -EIO (never data), its slots fail to write; the others work. */
static void test_cluster_node_killed(void)
{
	struct swap_backend *b = open_ok(cluster_url("?cluster_pages=1&timeout_ms=500"), 256);
	bool on_dead[256];
	int dead = 0, alive = 0;

	CHECK_EQ(write_range(b, 0, 256, 1), 0);
	for (uint64_t s = 0; s < 256; s++) {
		char key[96];

		swap_redis_key(b, s, key, sizeof(key));
		on_dead[s] = rf_int(&cl[2], "EXISTS %s", key) == 1;
	}
	rf_stop(&cl[2]);
	for (uint64_t s = 0; s < 256; s++) {
		int err = read_check(b, s, 1, 1);

		if (on_dead[s]) {
			CHECK_EQ(err, -EIO);
			CHECK_EQ(write_range(b, s, 1, 2), -EIO);
			dead++;
		} else {
			CHECK_EQ(err, 0);
			CHECK_EQ(write_range(b, s, 1, 2), 0);
			CHECK_EQ(read_check(b, s, 1, 2), 0);
			alive++;
		}
	}
	CHECK(dead > 0 && alive > 0);
	b->ops->close(b);
	CHECK_EQ(dbsize(&cl[0]) + dbsize(&cl[1]), 0);
}


/* ------------------------------------------------------------------ */
/* Through the swap device: umm_config.swap_path is a Redis target */

#define PS 4096UL

static unsigned char dpat(uintptr_t off, unsigned seed)
{
	return (unsigned char)(off * 7 + (off >> 12) * 13 + seed);
}

static void dfill(struct umm_mm *mm, uintptr_t a, size_t len, unsigned seed)
{
	unsigned char *buf = malloc(len);

	for (size_t i = 0; i < len; i++)
		buf[i] = dpat(i, seed);
	REQUIRE(umm_write(mm, a, buf, len) == 0);
	free(buf);
}

/* dholds - 0 when the len bytes at a are what dfill(seed) wrote, else the access's error or -EBADMSG. */
static int dholds(struct umm_mm *mm, uintptr_t a, size_t len, unsigned seed)
{
	unsigned char *buf = malloc(len);
	int err = umm_read(mm, a, buf, len);

	for (size_t i = 0; !err && i < len; i++)
		if (buf[i] != dpat(i, seed))
			err = -EBADMSG;
	free(buf);
	return err;
}

/* swap_out_at - evict the page mapped at a, as reclaim does (swap_out_page). */
static int swap_out_at(struct umm_mm *mm, uintptr_t a)
{
	struct page *page = follow_page(mm, a);
	int err;

	if (!page)
		return -ENOENT;
	err = swap_out_page(page);
	put_page(page);
	return err;
}

static struct umm_sys_stats sys_stats(struct umm_system *sys)
{
	struct umm_sys_stats st;

	REQUIRE(umm_system_stats(sys, &st) == 0);
	return st;
}

static struct umm_system *redis_system(const char *target)
{
	struct umm_config cfg = { .phys_bytes = 8 << 20, .swap_path = target, .swap_bytes = 4 << 20,
				  .debug_checks = 1 };
	struct umm_system *sys = NULL;
	int err = umm_system_create(&cfg, &sys);

	if (err)
		fprintf(stderr, "umm_system_create(%s): %s\n", target, umm_strerror(err));
	REQUIRE(err == 0);
	return sys;
}

static void flush_device_discards(struct umm_system *sys)
{
	CHECK_EQ(swap_redis_flush_discards(((struct swap_info *)sys->swap)->bdev), 0);
}

/*
 * Anonymous pages out to Redis and back through faults, copy-on-write
 * sharing after fork, shmem pages: every byte back, the remote counters
 * follow, freed slots leave Redis once the device discards them, and
 * destroying the system leaves no key.
 */
static void device_roundtrip(const char *target, const struct rf_server *nodes, int nr_nodes)
{
	enum { N = 100 };
	struct umm_system *sys = redis_system(target);
	struct umm_mm *mm, *child;
	struct umm_object *shm;
	uintptr_t a = 0, s = 0;
	struct umm_sys_stats st;
	long long keys = 0;

	REQUIRE(umm_mm_create(sys, &mm) == 0);
	REQUIRE(umm_mmap(mm, 0, N * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a) == 0);
	dfill(mm, a, N * PS, 1);
	for (int i = 0; i < N; i++)
		CHECK_EQ(swap_out_at(mm, a + i * PS), 0);
	st = sys_stats(sys);
	CHECK_EQ(st.pswpout, N);
	CHECK_EQ(st.swap_remote_pages, N);
	CHECK_EQ(st.swap_remote_bytes, N * (PS + 40));
	CHECK(st.swap_remote_requests >= N);
	for (int i = 0; i < nr_nodes; i++)
		keys += dbsize(&nodes[i]);
	CHECK_EQ(keys, N);
	CHECK_EQ(umm_system_check(sys), 0);
	/* Back through faults (with the device's readahead), every byte. */
	CHECK_EQ(dholds(mm, a, N * PS, 1), 0);
	st = sys_stats(sys);
	CHECK_EQ(st.pswpin, N);
	CHECK_EQ(st.swap_used, 0);
	CHECK_EQ(st.swap_remote_lost + st.swap_remote_corrupt + st.swap_remote_errors, 0);
	CHECK(st.swap_remote_read_p50_ns > 0 && st.swap_remote_read_p99_ns >= st.swap_remote_read_p50_ns);
	/*
	 * Shared after fork: out once, both see it; the child writes its own
	 * copy.  The device discards the clusters freed above when it next
	 * allocates slots: then only these 8 pages are left in Redis.
	 */
	REQUIRE(umm_fork(mm, &child) == 0);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(swap_out_at(mm, a + i * PS), 0);
	CHECK_EQ(sys_stats(sys).swap_remote_pages, 8);
	flush_device_discards(sys);
	keys = 0;
	for (int i = 0; i < nr_nodes; i++)
		keys += dbsize(&nodes[i]);
	CHECK_EQ(keys, 8);
	CHECK_EQ(dholds(child, a, 8 * PS, 1), 0);
	dfill(child, a, 4 * PS, 2);
	CHECK_EQ(dholds(mm, a, 8 * PS, 1), 0);
	CHECK_EQ(dholds(child, a, 4 * PS, 2), 0);
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(child);
	/* Shmem pages. */
	REQUIRE(umm_object_create_shmem(sys, 16 * PS, &shm) == 0);
	REQUIRE(umm_mmap(mm, 0, 16 * PS, PROT_READ | PROT_WRITE, MAP_SHARED, shm, 0, &s) == 0);
	dfill(mm, s, 16 * PS, 3);
	for (int i = 0; i < 16; i++)
		CHECK_EQ(swap_out_at(mm, s + i * PS), 0);
	CHECK(sys_stats(sys).swap_remote_pages >= 16);
	CHECK_EQ(dholds(mm, s, 16 * PS, 3), 0);
	CHECK_EQ(umm_system_check(sys), 0);
	umm_munmap(mm, s, 16 * PS);
	umm_object_put(shm);
	umm_mm_destroy(mm);
	CHECK_EQ(umm_system_destroy(sys), 0);
	keys = 0;
	for (int i = 0; i < nr_nodes; i++)
		keys += dbsize(&nodes[i]);
	CHECK_EQ(keys, 0);                                      /* a clean shutdown leaves nothing */
}

static void test_device_roundtrip(void)
{
	device_roundtrip(url("redis://127.0.0.1:%d", srv.port), &srv, 1);
}

/*
 * Redis killed under a running system: a swap-out fails and the page
 * stays in memory with its data, a swap-in fails with -EIO and keeps the
 * slot, another address space is not affected; once Redis is back
 * (empty), the lost page stays -EIO and new swap-outs work.
 */
static void test_device_server_killed(void)
{
	struct rf_server s = { 0 };
	struct umm_system *sys;
	struct umm_mm *mm, *other;
	uintptr_t a = 0, o = 0;
	double t0;
	int err;
	char c;

	REQUIRE(rf_start(&s, NULL) == 0);
	sys = redis_system(url("redis://127.0.0.1:%d?timeout_ms=500", s.port));
	REQUIRE(umm_mm_create(sys, &mm) == 0 && umm_mm_create(sys, &other) == 0);
	REQUIRE(umm_mmap(mm, 0, 4 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a) == 0);
	REQUIRE(umm_mmap(other, 0, 4 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &o) == 0);
	dfill(mm, a, 4 * PS, 7);
	dfill(other, o, 4 * PS, 8);
	CHECK_EQ(swap_out_at(mm, a), 0);
	rf_stop(&s);
	CHECK_EQ(umm_read(mm, a, &c, 1), -EIO);                 /* swap-in fails: -EIO */
	CHECK_EQ(swap_out_at(mm, a + PS), -EIO);                /* swap-out fails: stays */
	{
		unsigned char buf[PS];

		CHECK_EQ(umm_read(mm, a + PS, buf, PS), 0);
		CHECK_EQ(buf[0], dpat(PS, 7));
		CHECK_EQ(buf[PS - 1], dpat(2 * PS - 1, 7));
	}
	CHECK_EQ(dholds(other, o, 4 * PS, 8), 0);               /* another mm: untouched */
	CHECK(sys_stats(sys).swap_read_errors >= 1 && sys_stats(sys).swap_write_errors >= 1);
	CHECK_EQ(umm_system_check(sys), 0);
	REQUIRE(rf_start(&s, NULL) == 0);
	t0 = test_now_s();
	while ((err = swap_out_at(mm, a + PS)) && test_now_s() - t0 < 10)
		usleep(20000);
	CHECK_EQ(err, 0);
	CHECK_EQ(umm_read(mm, a, &c, 1), -EIO);                 /* lost with the server's memory */
	CHECK(sys_stats(sys).swap_remote_lost >= 1);
	{
		unsigned char buf[PS];

		CHECK_EQ(umm_read(mm, a + PS, buf, PS), 0);       /* swapped out after the restart: back */
		CHECK_EQ(buf[0], dpat(PS, 7));
		CHECK_EQ(buf[PS - 1], dpat(2 * PS - 1, 7));
	}
	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(other);
	umm_mm_destroy(mm);
	CHECK_EQ(umm_system_destroy(sys), 0);
	rf_cleanup(&s);
}

/* umm_system_create with a Redis target: AUTH required, wrong password, no server. */
static void test_device_config_errors(void)
{
	struct rf_server s = { 0 };
	struct umm_config cfg = { .phys_bytes = 8 << 20, .swap_bytes = 1 << 20 };
	struct umm_system *sys = NULL;

	snprintf(s.pass, sizeof(s.pass), "devpass");
	REQUIRE(rf_start(&s, NULL) == 0);
	umm_set_log(capture_log, NULL);
	log_reset();
	cfg.swap_path = url("redis://127.0.0.1:%d", s.port);
	CHECK_EQ(umm_system_create(&cfg, &sys), -EACCES);
	cfg.swap_path = url("redis://:not-it@127.0.0.1:%d", s.port);
	CHECK_EQ(umm_system_create(&cfg, &sys), -EACCES);
	CHECK(log_has("requires a password") && log_has("refused the credentials"));
	CHECK(!log_has("not-it") && !log_has("devpass"));
	cfg.swap_path = url("redis://127.0.0.1:%d", rf_free_port(false));
	CHECK_EQ(umm_system_create(&cfg, &sys), -ECONNREFUSED);
	cfg.swap_path = "redis://127.0.0.1";
	CHECK_EQ(umm_system_create(&cfg, &sys), -EINVAL);
	CHECK(sys == NULL);
	cfg.swap_path = url("redis://:devpass@127.0.0.1:%d", s.port);
	CHECK_EQ(umm_system_create(&cfg, &sys), 0);
	CHECK_EQ(umm_system_destroy(sys), 0);
	umm_set_log(NULL, NULL);
	rf_cleanup(&s);
}

static void test_device_cluster(void)
{
	device_roundtrip(cluster_url(""), cl, 3);
}


/*
 * A working set four times physical memory, against Redis: two threads
 * write every page of their halves once, then write and read back
 * version stamps in random pages of them
 * while kswapd and direct reclaim evict pages and the main thread also
 * evicts batches of resident pages (swap_out_pages), so that pages go out
 * and come back while they are in use.  A fault that finds no free frame
 * (-ENOMEM) waits for the evictors and retries.  Every read
 * sees the last version its thread wrote there; at the end every page
 * holds its last version.
 */
#define WL_PHYS   (4UL << 20)
#define WL_PAGES  4096                       /* 16 MiB: 4x physical memory */

struct wl { struct umm_mm *mm; uintptr_t a; _Atomic int filled; _Atomic long ops, retries; };
struct wl_worker { struct wl *w; unsigned id; unsigned ops; uint32_t *ver; };

static int wl_access(struct wl *w, int write, uintptr_t at, uint64_t *val)
{
	int err;

	for (int tries = 0; tries < 5000; tries++) {
		err = write ? umm_write(w->mm, at, val, 8) : umm_read(w->mm, at, val, 8);
		if (err != -ENOMEM)
			return err;
		atomic_fetch_add(&w->retries, 1);
		usleep(50);
	}
	return err;
}

static void *wl_worker(void *arg)
{
	struct wl_worker *k = arg;
	uint64_t rnd = 1234 + k->id;
	unsigned half = WL_PAGES / 2;

	/* First every page once, so the working set is four times memory, then random ops. */
	for (unsigned i = 0; i < half; i++) {
		unsigned page = k->id * half + i;
		uint64_t v = ((uint64_t)page << 32) | ++k->ver[i];

		TCHECK(wl_access(k->w, 1, k->w->a + (uintptr_t)page * PS, &v) == 0);
		TCHECK(wl_access(k->w, 1, k->w->a + (uintptr_t)page * PS + PS - 8, &v) == 0);
	}
	atomic_fetch_add(&k->w->filled, 1);
	for (unsigned op = 0; op < k->ops; op++) {
		uint64_t r = test_rnd(&rnd);
		unsigned i = (unsigned)(r % half), page = k->id * half + i;
		uintptr_t at = k->w->a + (uintptr_t)page * PS;
		uint64_t v, want;

		if ((r >> 40) & 1) {
			k->ver[i]++;
			v = ((uint64_t)page << 32) | k->ver[i];
			TCHECK(wl_access(k->w, 1, at, &v) == 0);
			TCHECK(wl_access(k->w, 1, at + PS - 8, &v) == 0);
		} else {
			want = k->ver[i] ? ((uint64_t)page << 32) | k->ver[i] : 0;
			v = ~want;
			TCHECK(wl_access(k->w, 0, at, &v) == 0 && v == want);
			v = ~want;
			TCHECK(wl_access(k->w, 0, at + PS - 8, &v) == 0 && v == want);
		}
		atomic_fetch_add(&k->w->ops, 1);
	}
	return NULL;
}

static void workload_4x(const char *target)
{
	struct umm_config cfg = { .phys_bytes = WL_PHYS, .swap_path = target, .swap_bytes = 32 << 20 };
	struct umm_system *sys = NULL;
	struct wl w = { 0 };
	struct wl_worker k[2];
	pthread_t th[2];
	unsigned cursor = 0;
	long evicted = 0;
	int err = umm_system_create(&cfg, &sys);

	if (err)
		fprintf(stderr, "umm_system_create(%s): %s\n", target, umm_strerror(err));
	REQUIRE(err == 0);
	REQUIRE(umm_mm_create(sys, &w.mm) == 0);
	REQUIRE(umm_mmap(w.mm, 0, WL_PAGES * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 NULL, 0, &w.a) == 0);
	for (unsigned t = 0; t < 2; t++) {
		k[t] = (struct wl_worker){ &w, t, tsan_build() ? 150 : 600, calloc(WL_PAGES / 2, sizeof(uint32_t)) };
		REQUIRE(k[t].ver && pthread_create(&th[t], NULL, wl_worker, &k[t]) == 0);
	}
	/* The evictor: batches of resident pages, round the whole range, while the workers run. */
	while (atomic_load(&w.filled) < 2 || atomic_load(&w.ops) < (long)(k[0].ops + k[1].ops)) {
		struct page *pg[SWAP_OUT_BATCH];
		int res[SWAP_OUT_BATCH];
		unsigned n = 0;

		for (unsigned scanned = 0; scanned < WL_PAGES && n < SWAP_OUT_BATCH; scanned++) {
			struct page *page = follow_page(w.mm, w.a + (uintptr_t)cursor * PS);

			cursor = (cursor + 1) % WL_PAGES;
			if (page)
				pg[n++] = page;
		}
		if (n) {
			evicted += swap_out_pages(pg, n, res);
			for (unsigned i = 0; i < n; i++)
				put_page(pg[i]);
		}
		if (!n)
			usleep(100);            /* nothing resident to evict: let the workers fault */
	}
	for (unsigned t = 0; t < 2; t++)
		pthread_join(th[t], NULL);
	test_fold_thread_checks();
	/* all of it was written: most had to go out (the evictor's batches and reclaim's) */
	CHECK(sys_stats(sys).pswpout >= (unsigned long)(WL_PAGES - WL_PHYS / PS));
	CHECK(sys_stats(sys).pswpin > 0);
	CHECK_EQ(sys_stats(sys).swap_remote_lost + sys_stats(sys).swap_remote_corrupt, 0);
	CHECK_EQ(umm_system_check(sys), 0);
	/* Every page holds its last version (pages come back through faults, evicting as needed). */
	for (unsigned t = 0; t < 2; t++) {
		int bad = 0;

		for (unsigned i = 0; i < WL_PAGES / 2; i++) {
			unsigned page = t * (WL_PAGES / 2) + i;
			uint64_t v = 0, want = k[t].ver[i] ? ((uint64_t)page << 32) | k[t].ver[i] : 0;

			if (umm_read(w.mm, w.a + (uintptr_t)page * PS, &v, 8) == -ENOMEM) {
				struct page *pg[SWAP_OUT_BATCH];
				int res[SWAP_OUT_BATCH];
				unsigned n = 0;

				for (unsigned j = 0; j < WL_PAGES && n < SWAP_OUT_BATCH; j++) {
					struct page *q = j != page ? follow_page(w.mm, w.a + (uintptr_t)j * PS) : NULL;

					if (q)
						pg[n++] = q;
				}
				swap_out_pages(pg, n, res);
				for (unsigned j = 0; j < n; j++)
					put_page(pg[j]);
				i--;
				continue;
			}
			if (v != want)
				bad++;
		}
		CHECK_EQ(bad, 0);
		free(k[t].ver);
	}
	fprintf(stderr, "workload 4x: %ld ops, %ld evicted by the test, %lu swapped out in all, %lu swapped in, %ld retries after -ENOMEM\n",
		atomic_load(&w.ops), evicted, sys_stats(sys).pswpout, sys_stats(sys).pswpin, atomic_load(&w.retries));
	umm_mm_destroy(w.mm);
	CHECK_EQ(umm_system_destroy(sys), 0);
}

static void test_device_workload_4x(void)
{
	workload_4x(url("redis://127.0.0.1:%d", srv.port));
	CHECK_EQ(dbsize(&srv), 0);
}

static void test_device_cluster_workload_4x(void)
{
	if (tsan_build()) {       /* the same device and backend code ran the workload on one server */
		fprintf(stderr, "cluster workload: skipped under TSan (slow there; the single-server "
			"workload covers the same code's threads)\n");
		return;
	}
	workload_4x(cluster_url(""));
	CHECK_EQ(cluster_dbsize(), 0);
}

int main(void)
{
	const char *rmap = getenv("UMM_RMAP");

	if (!rf_have_tools()) {
		fprintf(stderr, "test_swap_redis: skipped: redis-server or redis-cli is not installed "
			"(the build installs redis-server and redis-tools when it can)\n");
		return test_summary("test_swap_redis");
	}
	signal(SIGPIPE, SIG_IGN);
	REQUIRE(rf_start(&srv, NULL) == 0);
	RUN(test_bad_targets);
	RUN(test_roundtrip);
	RUN(test_discard);
	RUN(test_two_systems);
	RUN(test_corrupt_values);
	RUN(test_auth);
	RUN(test_server_killed);
	RUN(test_server_full);
	RUN(test_replicas);
	RUN(test_threads);
	RUN(test_device_roundtrip);
	RUN(test_device_server_killed);
	RUN(test_device_config_errors);
	RUN(test_device_workload_4x);
	rf_cleanup(&srv);
	if (rmap && !strcmp(rmap, "object")) {
		fprintf(stderr, "cluster tests: skipped in the object-rmap pass (the first pass ran them; "
			"cluster routing does not depend on the reverse map, and the device tests above "
			"ran under this scheme on one server)\n");
	} else {
		REQUIRE(rf_cluster_start(cl) == 0);
		RUN(test_cluster_basic);
		RUN(test_cluster_reshard);
		RUN(test_device_cluster);
		RUN(test_device_cluster_workload_4x);
		RUN(test_cluster_node_killed);
		for (int i = 0; i < 3; i++)
			rf_cleanup(&cl[i]);
	}
	return test_summary("test_swap_redis");
}
#endif
