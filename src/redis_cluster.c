/* SPDX-License-Identifier: MIT */
/*
 * redis_cluster.c - the Redis client under the Redis swap backend: target
 * parsing, nodes with pools of hiredis connections, and the routing of
 * commands to the node that owns their key.
 *
 * Theory of operation.  A router knows up to REDIS_MAX_NODES nodes (the
 * target's addresses, then those a cluster names in CLUSTER SLOTS or in a
 * redirection); nodes are only added, never removed, until the router is
 * closed, so a node index stays valid.  Each node has a pool of
 * `conns` hiredis connections made on first use: a thread takes a free
 * connection, sends its whole pipeline and reads every reply, and gives
 * it back, so threads never wait behind each other's round trips while a
 * connection is free.  A connection that breaks (EOF, timeout: every
 * request has the target's timeout through redisSetTimeout) is freed; the
 * next user reconnects at once, and if that fails too the node is
 * considered down for a backoff that doubles from 10 ms to 1 s, during
 * which its users fail at once instead of waiting for a timeout each.
 *
 * A cluster router keeps the owner of each of the 16,384 key slots
 * (CRC16 of the key, or of its {hash tag}) in map[], loaded from CLUSTER
 * SLOTS.  A command goes to the owner of its slot; a MOVED reply updates
 * the slot's owner and reloads the map (the cluster is being resharded or
 * failed over), an ASK reply sends that command once more to the named
 * node preceded by ASKING (a slot being migrated), TRYAGAIN, CLUSTERDOWN
 * and LOADING are retried after a short pause.  A command is only
 * complete when a node answers it with something other than a
 * redirection, so a page written during a migration is either on the
 * node that now owns its slot or its write reports failure: MIGRATE
 * moves keys atomically, and a write to a migrated key is redirected.
 * A standalone server is a router with one node owning every slot.
 *
 * Locks, outermost first (taken with no usermm lock held but the locks
 * of the pages being moved; never two pool locks at once):
 *   r->refresh_lock  one map reload at a time; held across CLUSTER SLOTS,
 *                    so it may wait for a connection of the pool (a
 *                    thread holding a connection never waits for it)
 *   node->lock       the node's pool (which connection is busy, backoff);
 *                    never held across a request
 *   r->nodes_lock    adding a node to the table (a leaf)
 * map[] and the node table are read without a lock (atomics): a stale
 * owner only costs a redirection.
 */
#ifdef UMM_HAVE_HIREDIS
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <hiredis/hiredis.h>
#include "redis_cluster.h"

#define NO_NODE          0xff
#define MAX_ROUNDS       24
#define MAX_CONN_TRIES   2
#define BACKOFF_MIN_NS   (10ull * 1000 * 1000)
#define BACKOFF_MAX_NS   (1000ull * 1000 * 1000)

struct redis_conn {
	redisContext *ctx;            /* NULL: not connected */
	bool busy;
};

struct redis_node {
	char host[256];
	int port;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned nr_conns;
	bool connected_once;
	uint64_t down_until_ns, backoff_ns;
	struct redis_conn conns[REDIS_MAX_CONNS];
};

struct redis_router {
	bool cluster;
	char *user, *pass;
	int db;
	unsigned conns, replicas, wait_ms;
	struct timeval tv;
	pthread_mutex_t refresh_lock, nodes_lock;
	_Atomic(struct redis_node *) nodes[REDIS_MAX_NODES];
	_Atomic unsigned nr_nodes;
	_Atomic uint8_t map[REDIS_NR_HSLOTS];
	_Atomic uint64_t map_epoch;
	_Atomic uint64_t requests, moved, ask, reconnects, conn_errors, map_refreshes, wait_short;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void cnt(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* ------------------------------------------------------------------ */
/* CRC16 (CCITT/XMODEM: polynomial 0x1021, initial value 0), the key hash
 * of Redis Cluster.  The table is computed once. */

static uint16_t crc16_table[256];
static pthread_once_t crc16_once = PTHREAD_ONCE_INIT;

static void crc16_init(void)
{
	for (unsigned i = 0; i < 256; i++) {
		uint16_t c = (uint16_t)(i << 8);

		for (int b = 0; b < 8; b++)
			c = (uint16_t)(c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1);
		crc16_table[i] = c;
	}
}

static uint16_t crc16(const char *p, size_t len)
{
	uint16_t c = 0;

	pthread_once(&crc16_once, crc16_init);
	for (size_t i = 0; i < len; i++)
		c = (uint16_t)((c << 8) ^ crc16_table[((c >> 8) ^ (uint8_t)p[i]) & 0xff]);
	return c;
}

/**
 * redis_key_hslot - the cluster slot of key: CRC16 modulo 16384 of the
 * key, or of the text between its first '{' and the next '}' when that is
 * not empty.  No locks.  Returns 0..16383.
 */
uint16_t redis_key_hslot(const char *key, size_t len)
{
	const char *open = memchr(key, '{', len);

	if (open) {
		size_t rest = len - (size_t)(open - key) - 1;
		const char *close = memchr(open + 1, '}', rest);

		if (close && close > open + 1)
			return crc16(open + 1, (size_t)(close - open - 1)) & (REDIS_NR_HSLOTS - 1);
	}
	return crc16(key, len) & (REDIS_NR_HSLOTS - 1);
}

/* ------------------------------------------------------------------ */
/* Targets */

static int parse_uint(const char *s, size_t len, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!len || len > 10)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* parse_addr - "host:port" or "[v6]:port" of len bytes into a. */
static int parse_addr(const char *s, size_t len, struct redis_addr *a)
{
	const char *colon, *host = s;
	size_t hlen;
	unsigned long port;

	if (len && s[0] == '[') {
		const char *end = memchr(s, ']', len);

		if (!end || end + 1 >= s + len || end[1] != ':')
			return -EINVAL;
		host = s + 1;
		hlen = (size_t)(end - host);
		colon = end + 1;
	} else {
		colon = memrchr(s, ':', len);
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - s);
	}
	if (!hlen || hlen >= sizeof(a->host))
		return -EINVAL;
	if (parse_uint(colon + 1, len - (size_t)(colon + 1 - s), 65535, &port) || !port)
		return -EINVAL;
	memcpy(a->host, host, hlen);
	a->host[hlen] = 0;
	a->port = (int)port;
	return 0;
}

static int bad(char *why, size_t whylen, const char *what)
{
	snprintf(why, whylen, "%s", what);
	return -EINVAL;
}

static int parse_opt(struct redis_target *t, const char *s, size_t len, char *why, size_t whylen)
{
	static const struct { const char *name; size_t off; unsigned long min, max; } opts[] = {
		{ "replicas", offsetof(struct redis_target, replicas), 0, 64 },
		{ "wait_ms", offsetof(struct redis_target, wait_ms), 1, 600000 },
		{ "timeout_ms", offsetof(struct redis_target, timeout_ms), 1, 600000 },
		{ "conns", offsetof(struct redis_target, conns), 1, REDIS_MAX_CONNS },
		{ "cluster_pages", offsetof(struct redis_target, cluster_pages), 1, 1024 },
	};
	const char *eq = memchr(s, '=', len);

	for (size_t i = 0; eq && i < sizeof(opts) / sizeof(opts[0]); i++) {
		unsigned long v;

		if ((size_t)(eq - s) != strlen(opts[i].name) || memcmp(s, opts[i].name, (size_t)(eq - s)))
			continue;
		if (parse_uint(eq + 1, len - (size_t)(eq + 1 - s), opts[i].max, &v) || v < opts[i].min) {
			snprintf(why, whylen, "option %s: value out of range %lu..%lu",
				 opts[i].name, opts[i].min, opts[i].max);
			return -EINVAL;
		}
		*(unsigned *)((char *)t + opts[i].off) = (unsigned)v;
		return 0;
	}
	snprintf(why, whylen, "unknown option '%.*s' (replicas, wait_ms, timeout_ms, conns, cluster_pages)",
		 (int)(eq ? (size_t)(eq - s) : len > 32 ? 32 : len), s);
	return -EINVAL;
}

/**
 * redis_parse_target - see redis_cluster.h.  No locks.  0, -EINVAL (why
 * filled; never with the password), -ENOMEM.
 */
int redis_parse_target(const char *url, struct redis_target *t, char *why, size_t whylen)
{
	const char *p, *end, *at, *hosts_end, *q;
	size_t n;
	int err;

	memset(t, 0, sizeof(*t));
	t->wait_ms = 1000;
	t->timeout_ms = 2000;
	t->conns = 4;
	t->cluster_pages = 64;        /* SWAPFILE_CLUSTER: a device cluster on one node */
	if (!url)
		return bad(why, whylen, "no target");
	if (!strncmp(url, "redis://", 8)) {
		p = url + 8;
	} else if (!strncmp(url, "redis-cluster://", 16)) {
		t->cluster = true;
		p = url + 16;
	} else {
		return bad(why, whylen, "not a redis:// or redis-cluster:// target");
	}
	/* Credentials end at the last '@' (a password may contain '@', '/', '?', ':'). */
	at = strrchr(p, '@');
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));

		if (!colon)
			return bad(why, whylen, "credentials must be user:password@ or :password@");
		if (colon > p && !(t->user = strndup(p, (size_t)(colon - p))))
			return -ENOMEM;
		if (!(t->pass = strndup(colon + 1, (size_t)(at - colon - 1)))) {
			redis_target_free(t);
			return -ENOMEM;
		}
		if (!t->pass[0]) {
			redis_target_free(t);
			return bad(why, whylen, "empty password");
		}
		p = at + 1;
	}
	end = p + strlen(p);
	q = strchr(p, '?');
	hosts_end = q ? q : end;
	{
		const char *slash = memchr(p, '/', (size_t)(hosts_end - p));

		if (slash) {
			unsigned long db = 0;

			if (slash + 1 < hosts_end &&
			    parse_uint(slash + 1, (size_t)(hosts_end - slash - 1), INT_MAX, &db)) {
				err = bad(why, whylen, "the database after '/' must be a number");
				goto fail;
			}
			if (t->cluster && db) {
				err = bad(why, whylen, "a cluster has only database 0");
				goto fail;
			}
			t->db = (int)db;
			hosts_end = slash;
		}
	}
	while (p < hosts_end) {
		const char *comma = memchr(p, ',', (size_t)(hosts_end - p));

		n = (size_t)((comma ? comma : hosts_end) - p);
		if (t->nr_addrs == REDIS_MAX_NODES) {
			err = bad(why, whylen, "too many addresses");
			goto fail;
		}
		if (parse_addr(p, n, &t->addrs[t->nr_addrs])) {
			err = bad(why, whylen, "expected host:port");
			goto fail;
		}
		t->nr_addrs++;
		p += n + (comma ? 1 : 0);
		if (comma && p == hosts_end) {
			err = bad(why, whylen, "expected host:port after ','");
			goto fail;
		}
	}
	if (!t->nr_addrs) {
		err = bad(why, whylen, "no host:port");
		goto fail;
	}
	if (!t->cluster && t->nr_addrs > 1) {
		err = bad(why, whylen, "several addresses: use redis-cluster://");
		goto fail;
	}
	while (q && q < end) {
		const char *amp;

		q++;
		amp = strchr(q, '&');
		n = (size_t)((amp ? amp : end) - q);
		if ((err = parse_opt(t, q, n, why, whylen)))
			goto fail;
		q = amp;
	}
	n = (size_t)snprintf(t->display, sizeof(t->display), "%s://%s:%d", t->cluster ? "redis-cluster" : "redis",
			     t->addrs[0].host, t->addrs[0].port);
	if (t->nr_addrs > 1 && n < sizeof(t->display))
		snprintf(t->display + n, sizeof(t->display) - n, ",...");
	return 0;
fail:
	redis_target_free(t);
	return err;
}

/**
 * redis_target_free - free the credentials, wiping the password first.
 * No locks.
 */
void redis_target_free(struct redis_target *t)
{
	if (t->pass) {
		explicit_bzero(t->pass, strlen(t->pass));
		free(t->pass);
	}
	free(t->user);
	t->pass = t->user = NULL;
}

/* ------------------------------------------------------------------ */
/* Nodes and connections */

static struct redis_node *node_at(struct redis_router *r, unsigned i)
{
	return atomic_load_explicit(&r->nodes[i], memory_order_acquire);
}

static struct redis_node *node_new(struct redis_router *r, const char *host, int port)
{
	struct redis_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	snprintf(n->host, sizeof(n->host), "%s", host);
	n->port = port;
	n->nr_conns = r->conns;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	return n;
}

/* find_or_add_node_locked - index of host:port, added when new; -1 when the table is full.  nodes_lock held. */
static int find_or_add_node_locked(struct redis_router *r, const char *host, int port)
{
	unsigned nr = atomic_load(&r->nr_nodes);
	struct redis_node *n;

	for (unsigned i = 0; i < nr; i++) {
		n = node_at(r, i);
		if (n->port == port && !strcmp(n->host, host))
			return (int)i;
	}
	if (nr == REDIS_MAX_NODES || !(n = node_new(r, host, port)))
		return -1;
	atomic_store_explicit(&r->nodes[nr], n, memory_order_release);
	atomic_store(&r->nr_nodes, nr + 1);
	return (int)nr;
}

static int find_or_add_node(struct redis_router *r, const char *host, int port)
{
	int i;

	pthread_mutex_lock(&r->nodes_lock);
	i = find_or_add_node_locked(r, host, port);
	pthread_mutex_unlock(&r->nodes_lock);
	return i;
}

/*
 * conn_connect - a new connection to n: connect, timeouts, AUTH, SELECT,
 * and with ping a PING (to learn at open whether the server wants a
 * password).  No locks needed (n->host/port are constant).
 */
static int conn_connect(struct redis_router *r, struct redis_node *n, bool ping,
			redisContext **out, char *why, size_t whylen)
{
	redisContext *c = redisConnectWithTimeout(n->host, n->port, r->tv);
	redisReply *rep = NULL;
	int err = 0;

	if (!c)
		return -ENOMEM;
	if (c->err) {
		err = strstr(c->errstr, "refused") ? -ECONNREFUSED :
		      strstr(c->errstr, "timed out") ? -ETIMEDOUT : -EHOSTUNREACH;
		snprintf(why, whylen, "cannot connect to %s:%d: %s", n->host, n->port, c->errstr);
		goto out;
	}
	if (redisSetTimeout(c, r->tv) != REDIS_OK || redisEnableKeepAlive(c) != REDIS_OK) {
		err = -EIO;
		snprintf(why, whylen, "%s:%d: cannot set the timeout: %s", n->host, n->port, c->errstr);
		goto out;
	}
	if (r->pass) {
		rep = r->user ? redisCommand(c, "AUTH %s %s", r->user, r->pass)
			      : redisCommand(c, "AUTH %s", r->pass);
		if (!rep) {
			err = -EIO;
			snprintf(why, whylen, "%s:%d: AUTH: %s", n->host, n->port, c->errstr);
			goto out;
		}
		if (rep->type == REDIS_REPLY_ERROR) {
			/* The server's text (WRONGPASS..., or ERR ... no password is set) never holds the password. */
			err = -EACCES;
			snprintf(why, whylen, "%s:%d refused the credentials: %.200s", n->host, n->port, rep->str);
			goto out;
		}
		freeReplyObject(rep);
		rep = NULL;
	}
	if (r->db) {
		rep = redisCommand(c, "SELECT %d", r->db);
		if (!rep || rep->type == REDIS_REPLY_ERROR) {
			err = rep ? -EINVAL : -EIO;
			snprintf(why, whylen, "%s:%d: SELECT %d: %.200s", n->host, n->port, r->db,
				 rep ? rep->str : c->errstr);
			goto out;
		}
		freeReplyObject(rep);
		rep = NULL;
	}
	if (ping) {
		rep = redisCommand(c, "PING");
		if (!rep) {
			err = -EIO;
			snprintf(why, whylen, "%s:%d: PING: %s", n->host, n->port, c->errstr);
			goto out;
		}
		if (rep->type == REDIS_REPLY_ERROR) {
			err = strncmp(rep->str, "NOAUTH", 6) ? -EIO : -EACCES;
			snprintf(why, whylen, "%s:%d: %s%.200s", n->host, n->port,
				 err == -EACCES ? "the server requires a password: " : "PING: ", rep->str);
			goto out;
		}
	}
out:
	if (rep)
		freeReplyObject(rep);
	if (err) {
		redisFree(c);
		return err;
	}
	*out = c;
	return 0;
}

/* node_down_locked - n failed: no new connection to it before its backoff has passed.  n->lock held. */
static void node_down_locked(struct redis_node *n)
{
	n->backoff_ns = n->backoff_ns ? n->backoff_ns * 2 : BACKOFF_MIN_NS;
	if (n->backoff_ns > BACKOFF_MAX_NS)
		n->backoff_ns = BACKOFF_MAX_NS;
	n->down_until_ns = mono_ns() + n->backoff_ns;
}

/*
 * pool_get - a connection of n for this thread's exclusive use: a free
 * connected one, or a free slot connected now (unless the node is in its
 * backoff).  Takes n->lock (waits while every connection is busy).
 * Returns the connection's index, or a negative errno.
 */
static int pool_get(struct redis_router *r, struct redis_node *n)
{
	char why[256];
	redisContext *c;
	int i, pick = -1, err;

	pthread_mutex_lock(&n->lock);
	for (;;) {
		for (i = 0; i < (int)n->nr_conns; i++) {
			if (n->conns[i].busy)
				continue;
			if (n->conns[i].ctx) {
				pick = i;
				break;
			}
			if (pick < 0)
				pick = i;
		}
		if (pick >= 0)
			break;
		pthread_cond_wait(&n->cond, &n->lock);
	}
	if (n->conns[pick].ctx) {
		n->conns[pick].busy = true;
		pthread_mutex_unlock(&n->lock);
		return pick;
	}
	if (n->down_until_ns && mono_ns() < n->down_until_ns) {
		pthread_mutex_unlock(&n->lock);
		return -EIO;
	}
	n->conns[pick].busy = true;
	pthread_mutex_unlock(&n->lock);

	err = conn_connect(r, n, false, &c, why, sizeof(why));

	pthread_mutex_lock(&n->lock);
	if (err) {
		cnt(&r->conn_errors, 1);
		node_down_locked(n);
		n->conns[pick].busy = false;
		pthread_cond_signal(&n->cond);
		pthread_mutex_unlock(&n->lock);
		return -EIO;
	}
	if (n->connected_once)
		cnt(&r->reconnects, 1);
	n->connected_once = true;
	n->backoff_ns = 0;
	n->down_until_ns = 0;
	n->conns[pick].ctx = c;
	pthread_mutex_unlock(&n->lock);
	return pick;
}

/*
 * pool_put - give connection i back; a broken one is closed, and a timed
 * out one also puts the node in its backoff (a server that stops
 * answering should cost one timeout, not one per request).  Takes n->lock.
 */
static void pool_put(struct redis_router *r, struct redis_node *n, int i, bool broken)
{
	redisContext *c = NULL;

	pthread_mutex_lock(&n->lock);
	if (broken) {
		c = n->conns[i].ctx;
		n->conns[i].ctx = NULL;
		if (c && c->err == REDIS_ERR_IO && strstr(c->errstr, "temporarily unavailable")) {
			/* a read or write timed out (EAGAIN): drop the node's idle connections too */
			node_down_locked(n);
			for (unsigned k = 0; k < n->nr_conns; k++)
				if (!n->conns[k].busy && n->conns[k].ctx) {
					redisFree(n->conns[k].ctx);
					n->conns[k].ctx = NULL;
				}
		}
	}
	n->conns[i].busy = false;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
	if (c) {
		cnt(&r->conn_errors, 1);
		redisFree(c);
	}
}

/* ------------------------------------------------------------------ */
/* The slot map */

/*
 * load_slots_from - CLUSTER SLOTS on node `from`, into map.  refresh_lock
 * held; takes a pool lock, then nodes_lock for each node it names.  0,
 * -EINVAL (not a cluster), -EIO.
 */
static int load_slots_from(struct redis_router *r, unsigned from, uint8_t *map, char *why, size_t whylen)
{
	struct redis_node *n = node_at(r, from);
	redisReply *rep;
	int ci = pool_get(r, n), err = 0;

	if (ci < 0) {
		snprintf(why, whylen, "%s:%d cannot be reached", n->host, n->port);
		return -EIO;
	}
	rep = redisCommand(n->conns[ci].ctx, "CLUSTER SLOTS");
	cnt(&r->requests, 1);
	if (!rep) {
		snprintf(why, whylen, "%s:%d: CLUSTER SLOTS: %s", n->host, n->port, n->conns[ci].ctx->errstr);
		pool_put(r, n, ci, true);
		return -EIO;
	}
	pool_put(r, n, ci, false);
	if (rep->type != REDIS_REPLY_ARRAY) {
		snprintf(why, whylen, "%s:%d is not a cluster node: %.200s", n->host, n->port,
			 rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply to CLUSTER SLOTS");
		freeReplyObject(rep);
		return -EINVAL;
	}
	memset(map, NO_NODE, REDIS_NR_HSLOTS);
	for (size_t i = 0; i < rep->elements; i++) {
		redisReply *e = rep->element[i], *m;
		const char *host;
		int idx;

		if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
		    e->element[0]->type != REDIS_REPLY_INTEGER || e->element[1]->type != REDIS_REPLY_INTEGER)
			continue;
		m = e->element[2];
		if (m->type != REDIS_REPLY_ARRAY || m->elements < 2 ||
		    m->element[0]->type != REDIS_REPLY_STRING || m->element[1]->type != REDIS_REPLY_INTEGER)
			continue;
		host = m->element[0]->len ? m->element[0]->str : n->host;   /* "": the node asked */
		idx = find_or_add_node(r, host, (int)m->element[1]->integer);
		if (idx < 0) {
			err = -EIO;
			snprintf(why, whylen, "more than %d cluster nodes", REDIS_MAX_NODES);
			continue;
		}
		for (long long s = e->element[0]->integer; s <= e->element[1]->integer; s++)
			if (s >= 0 && s < REDIS_NR_HSLOTS)
				map[s] = (uint8_t)idx;
	}
	freeReplyObject(rep);
	return err;
}

/*
 * refresh_map - reload the slot map from the first node that answers,
 * unless another thread reloaded it since the caller saw epoch.  Takes
 * refresh_lock.  0 or a negative errno (why filled).
 */
static int refresh_map(struct redis_router *r, uint64_t epoch, char *why, size_t whylen)
{
	uint8_t map[REDIS_NR_HSLOTS];
	int err = -EIO;

	pthread_mutex_lock(&r->refresh_lock);
	if (atomic_load(&r->map_epoch) != epoch) {
		pthread_mutex_unlock(&r->refresh_lock);
		return 0;
	}
	snprintf(why, whylen, "no node answered CLUSTER SLOTS");
	for (unsigned i = 0; i < atomic_load(&r->nr_nodes); i++) {
		err = load_slots_from(r, i, map, why, whylen);
		if (!err || err == -EINVAL)
			break;
	}
	if (!err) {
		for (unsigned s = 0; s < REDIS_NR_HSLOTS; s++)
			atomic_store_explicit(&r->map[s], map[s], memory_order_relaxed);
		atomic_fetch_add(&r->map_epoch, 1);
		cnt(&r->map_refreshes, 1);
	}
	pthread_mutex_unlock(&r->refresh_lock);
	return err;
}

/* ------------------------------------------------------------------ */
/* Running commands */

/* parse_redirect - "MOVED 3999 127.0.0.1:6381" / "ASK ...": the node index named, or -1. */
static int parse_redirect(struct redis_router *r, const char *msg, uint16_t *slot)
{
	const char *sp = strchr(msg, ' '), *sp2;
	struct redis_addr a;
	unsigned long s;

	if (!sp || !(sp2 = strchr(sp + 1, ' ')))
		return -1;
	if (parse_uint(sp + 1, (size_t)(sp2 - sp - 1), REDIS_NR_HSLOTS - 1, &s))
		return -1;
	if (parse_addr(sp2 + 1, strlen(sp2 + 1), &a))
		return -1;
	*slot = (uint16_t)s;
	return find_or_add_node(r, a.host, a.port);
}

enum { CMD_PENDING, CMD_DONE, CMD_FAILED };

struct run_state {
	uint8_t *state;
	uint8_t *tries;               /* connection failures seen by each command */
	bool refresh, pause;
	int err;
};

/*
 * run_on_node - send every pending command routed to node `ni` in one
 * pipeline (ASKING before those an ASK sent here; WAIT after them when
 * asked), read the replies and sort them: final, redirected, or to retry.
 */
static void run_on_node(struct redis_router *r, unsigned ni, struct redis_cmd *cmds, unsigned n,
			const int *route, bool wait, struct run_state *st)
{
	struct redis_node *node = node_at(r, ni);
	redisContext *c;
	unsigned sent = 0, i;
	bool broken = false;
	int ci = pool_get(r, node);

	if (ci < 0) {
		for (i = 0; i < n; i++) {
			if (route[i] != (int)ni)
				continue;
			if (++st->tries[i] >= MAX_CONN_TRIES)
				st->state[i] = CMD_FAILED;
		}
		st->refresh = r->cluster;
		return;
	}
	c = node->conns[ci].ctx;
	for (i = 0; i < n; i++) {
		if (route[i] != (int)ni)
			continue;
		if (cmds[i].ask == (int)ni)
			redisAppendCommand(c, "ASKING");
		redisAppendFormattedCommand(c, cmds[i].buf, cmds[i].len);
		sent++;
	}
	if (wait)
		redisAppendCommand(c, "WAIT %u %u", r->replicas, r->wait_ms);
	cnt(&r->requests, sent);
	for (i = 0; i < n; i++) {
		redisReply *rep = NULL;

		if (route[i] != (int)ni)
			continue;
		if (broken) {
			if (++st->tries[i] >= MAX_CONN_TRIES)
				st->state[i] = CMD_FAILED;
			continue;
		}
		if (cmds[i].ask == (int)ni) {
			if (redisGetReply(c, (void **)&rep) != REDIS_OK) {
				broken = true;
				i--;            /* this command fails as the connection broke */
				continue;
			}
			freeReplyObject(rep);
			rep = NULL;
		}
		if (redisGetReply(c, (void **)&rep) != REDIS_OK) {
			broken = true;
			i--;
			continue;
		}
		if (rep->type == REDIS_REPLY_ERROR && r->cluster) {
			uint16_t slot;
			int to;

			if (!strncmp(rep->str, "MOVED ", 6)) {
				cnt(&r->moved, 1);
				to = parse_redirect(r, rep->str, &slot);
				if (to >= 0)
					atomic_store_explicit(&r->map[slot], (uint8_t)to, memory_order_relaxed);
				else
					st->state[i] = CMD_FAILED;
				cmds[i].ask = -1;
				st->refresh = true;
				freeReplyObject(rep);
				continue;
			}
			if (!strncmp(rep->str, "ASK ", 4)) {
				cnt(&r->ask, 1);
				to = parse_redirect(r, rep->str, &slot);
				cmds[i].ask = to;
				if (to < 0)
					st->state[i] = CMD_FAILED;
				freeReplyObject(rep);
				continue;
			}
			if (!strncmp(rep->str, "TRYAGAIN", 8) || !strncmp(rep->str, "CLUSTERDOWN", 11) ||
			    !strncmp(rep->str, "LOADING", 7)) {
				st->pause = true;
				st->refresh = true;
				freeReplyObject(rep);
				continue;
			}
		}
		cmds[i].reply = rep;
		st->state[i] = CMD_DONE;
	}
	if (wait && !broken) {
		redisReply *rep = NULL;

		if (redisGetReply(c, (void **)&rep) != REDIS_OK) {
			broken = true;
		} else {
			if (rep->type != REDIS_REPLY_INTEGER || rep->integer < (long long)r->replicas) {
				cnt(&r->wait_short, 1);
				st->err = -EIO;
			}
			freeReplyObject(rep);
		}
		if (broken)
			st->err = -EIO;
	}
	pool_put(r, node, ci, broken);
	if (broken)
		st->refresh = r->cluster;
}

/**
 * redis_router_run - see redis_cluster.h.  Takes pool locks, nodes_lock
 * and refresh_lock, one at a time but for refresh_lock, under which a map
 * reload takes the others.  0 or -EIO, -ENOMEM.
 */
int redis_router_run(struct redis_router *r, struct redis_cmd *cmds, unsigned n, bool wait)
{
	uint8_t small[2][64];
	int small_route[64], *route;
	struct run_state st = { 0 };
	unsigned round, i;
	char why[256];

	if (n <= 64) {
		st.state = small[0];
		st.tries = small[1];
		route = small_route;
	} else {
		st.state = calloc(n, 2);
		route = calloc(n, sizeof(*route));
		if (!st.state || !route) {
			free(st.state);
			free(route);
			return -ENOMEM;
		}
		st.tries = st.state + n;
	}
	memset(st.state, CMD_PENDING, n);
	memset(st.tries, 0, n);
	for (i = 0; i < n; i++) {
		cmds[i].reply = NULL;
		cmds[i].ask = -1;
	}
	wait = wait && r->replicas;
	for (round = 0; round < MAX_ROUNDS; round++) {
		uint64_t used = 0, epoch = atomic_load(&r->map_epoch);
		bool pending = false;

		for (i = 0; i < n; i++) {
			int to;

			route[i] = -1;
			if (st.state[i] != CMD_PENDING)
				continue;
			to = cmds[i].ask >= 0 ? cmds[i].ask : !r->cluster ? 0 :
			     atomic_load_explicit(&r->map[cmds[i].hslot], memory_order_relaxed);
			if (to == NO_NODE) {      /* nobody serves the slot (yet): reload, then give up */
				st.refresh = true;
				if (round >= 2)
					st.state[i] = CMD_FAILED;
				continue;
			}
			route[i] = to;
			used |= 1ull << to;
		}
		for (unsigned ni = 0; used; ni++, used >>= 1)
			if (used & 1)
				run_on_node(r, ni, cmds, n, route, wait, &st);
		for (i = 0; i < n; i++)
			if (st.state[i] == CMD_PENDING)
				pending = true;
		if (!pending)
			break;
		if (st.pause)
			sleep_ms(round < 10 ? 5u << (round / 2) : 100);
		if (r->cluster && st.refresh)
			refresh_map(r, epoch, why, sizeof(why));
		st.refresh = st.pause = false;
	}
	for (i = 0; i < n; i++)
		if (st.state[i] != CMD_DONE)
			st.err = -EIO;
	if (n > 64) {
		free(st.state);
		free(route);
	}
	return st.err;
}

/**
 * redis_router_scan_del - see redis_cluster.h.  Takes pool locks.
 * Returns the number of keys removed.
 */
long redis_router_scan_del(struct redis_router *r, const char *pattern)
{
	bool owner[REDIS_MAX_NODES] = { 0 };
	long removed = 0;

	if (!r->cluster)
		owner[0] = true;
	else
		for (unsigned s = 0; s < REDIS_NR_HSLOTS; s++) {
			uint8_t o = atomic_load_explicit(&r->map[s], memory_order_relaxed);
			if (o != NO_NODE)
				owner[o] = true;
		}
	for (unsigned ni = 0; ni < atomic_load(&r->nr_nodes); ni++) {
		struct redis_node *node = node_at(r, ni);
		char cursor[32] = "0";
		bool broken = false;
		int ci;

		if (!owner[ni] || (ci = pool_get(r, node)) < 0)
			continue;
		do {
			redisContext *c = node->conns[ci].ctx;
			redisReply *rep = redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
			size_t k;

			cnt(&r->requests, 1);
			if (!rep) {
				broken = true;
				break;
			}
			if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
			    rep->element[0]->type != REDIS_REPLY_STRING ||
			    rep->element[1]->type != REDIS_REPLY_ARRAY) {
				freeReplyObject(rep);
				break;
			}
			snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
			for (k = 0; k < rep->element[1]->elements; k++) {
				redisReply *key = rep->element[1]->element[k];
				redisAppendCommand(c, "UNLINK %b", key->str, key->len);
			}
			cnt(&r->requests, k);
			for (k = 0; k < rep->element[1]->elements && !broken; k++) {
				redisReply *d = NULL;

				if (redisGetReply(c, (void **)&d) != REDIS_OK) {
					broken = true;
					break;
				}
				if (d->type == REDIS_REPLY_INTEGER)
					removed += d->integer;
				freeReplyObject(d);
			}
			freeReplyObject(rep);
		} while (!broken && strcmp(cursor, "0"));
		pool_put(r, node, ci, broken);
	}
	return removed;
}

/**
 * redis_router_open - see redis_cluster.h.  Takes the router's locks as
 * redis_router_run does.  0 and *out, or a negative errno with why filled.
 */
int redis_router_open(const struct redis_target *t, struct redis_router **out,
		      char *why, size_t whylen)
{
	struct redis_router *r = calloc(1, sizeof(*r));
	int err = 0, reached = 0, first_err = 0;
	char first_why[256] = "";

	if (!r)
		return -ENOMEM;
	r->cluster = t->cluster;
	r->db = t->db;
	r->conns = t->conns;
	r->replicas = t->replicas;
	r->wait_ms = t->wait_ms;
	r->tv.tv_sec = t->timeout_ms / 1000;
	r->tv.tv_usec = (t->timeout_ms % 1000) * 1000;
	pthread_mutex_init(&r->refresh_lock, NULL);
	pthread_mutex_init(&r->nodes_lock, NULL);
	for (unsigned s = 0; s < REDIS_NR_HSLOTS; s++)
		atomic_init(&r->map[s], NO_NODE);
	if ((t->user && !(r->user = strdup(t->user))) || (t->pass && !(r->pass = strdup(t->pass)))) {
		err = -ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < t->nr_addrs; i++)
		if (find_or_add_node(r, t->addrs[i].host, t->addrs[i].port) < 0) {
			err = -ENOMEM;
			goto fail;
		}
	/* Reach every address given (a cluster: at least one), AUTH and PING on the first connection. */
	for (unsigned i = 0; i < atomic_load(&r->nr_nodes); i++) {
		struct redis_node *n = node_at(r, i);
		redisContext *c;
		int e = conn_connect(r, n, true, &c, why, whylen);

		if (e) {
			if (!first_err || (e == -EACCES && first_err != -EACCES)) {
				first_err = e;
				snprintf(first_why, sizeof(first_why), "%s", why);
			}
			continue;
		}
		n->conns[0].ctx = c;
		n->connected_once = true;
		reached++;
	}
	if (first_err == -EACCES || (first_err && (!r->cluster || !reached))) {
		err = first_err;
		snprintf(why, whylen, "%s", first_why);
		goto fail;
	}
	if (r->cluster) {
		bool any = false;

		err = refresh_map(r, 0, why, whylen);
		if (err)
			goto fail;
		for (unsigned s = 0; s < REDIS_NR_HSLOTS && !any; s++)
			any = atomic_load(&r->map[s]) != NO_NODE;
		if (!any) {
			err = -EIO;
			snprintf(why, whylen, "the cluster serves no slot");
			goto fail;
		}
	}
	*out = r;
	return 0;
fail:
	redis_router_close(r);
	return err;
}

/** redis_router_get_stats - a snapshot of the router's counters.  No locks. */
void redis_router_get_stats(struct redis_router *r, struct redis_router_stats *st)
{
	st->requests = atomic_load(&r->requests);
	st->moved = atomic_load(&r->moved);
	st->ask = atomic_load(&r->ask);
	st->reconnects = atomic_load(&r->reconnects);
	st->conn_errors = atomic_load(&r->conn_errors);
	st->map_refreshes = atomic_load(&r->map_refreshes);
	st->wait_short = atomic_load(&r->wait_short);
}

/**
 * redis_router_close - close every connection, free every node and the
 * router, wiping the password.  No other thread may use r.
 */
void redis_router_close(struct redis_router *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < atomic_load(&r->nr_nodes); i++) {
		struct redis_node *n = node_at(r, i);

		for (unsigned c = 0; c < REDIS_MAX_CONNS; c++)
			if (n->conns[c].ctx)
				redisFree(n->conns[c].ctx);
		pthread_mutex_destroy(&n->lock);
		pthread_cond_destroy(&n->cond);
		free(n);
	}
	pthread_mutex_destroy(&r->nodes_lock);
	pthread_mutex_destroy(&r->refresh_lock);
	if (r->pass) {
		explicit_bzero(r->pass, strlen(r->pass));
		free(r->pass);
	}
	free(r->user);
	free(r);
}
#endif /* UMM_HAVE_HIREDIS */
