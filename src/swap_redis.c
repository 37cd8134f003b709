/* SPDX-License-Identifier: MIT */
/*
 * swap_redis.c - a swap backend (swap_backend.h) that keeps swapped-out
 * pages in the memory of a Redis server or a Redis Cluster: far memory
 * over an existing distributed store.
 *
 * Theory of operation.  Slot s of a backend, written with generation g,
 * is stored under the key
 *     umm:{<system id>:<s / cluster_pages>}:<s>:<g>      (hex numbers)
 * where the system id is 64 random bits drawn at open, so two usermm
 * systems sharing one Redis never see each other's pages, and the hash
 * tag {...} puts cluster_pages consecutive slots (default 64, the swap
 * cluster) in one Redis Cluster key slot, hence on one node.  A write of
 * nr consecutive slots is nr SETs sent as one pipeline per node, a read
 * of nr slots (swap-in readahead) nr GETs likewise, a discard one DEL per
 * hash tag, sent by the backend's reaper thread (redis_swap_discard says
 * why); redis_cluster.c routes them, follows redirections and keeps
 * the connection pools.
 *
 * Every value is a 40-byte header and the page.  The header names the
 * system, the slot, and the write generation (a per-backend counter
 * drawn for each write call), and holds a CRC32C of header and page.
 * The backend remembers the generation it last wrote to each slot (0:
 * nothing valid there, after a discard or a failed write).  The
 * generation is in the key too, so a request that lands late - a SET
 * that timed out but runs when a stalled server wakes, a DEL of a
 * discarded value - can never overwrite or remove a newer value of the
 * slot: a rewrite SETs the new key and DELs the previous one in one
 * pipeline.  A read
 * returns a page only when the value under the key has the right size,
 * system, slot, generation and checksum; anything else - a missing key
 * (the server restarted without persistence, the key was evicted or
 * deleted), an older copy of the slot (a server restored from a stale
 * snapshot), another system's or a corrupted value - is -EIO and counted
 * (lost or corrupt), never data.
 *
 * With ?replicas=N in the target, every write pipeline ends with WAIT N
 * wait_ms on each node written to, and the write fails (the page stays
 * in memory, dirty) unless N replicas acknowledged it.  Redis persists
 * nothing unless it is configured to; this backend adds no durability of
 * its own.  close removes the system's keys (SCAN + UNLINK on every
 * node).
 *
 * Locks: rs->dlock (a leaf) guards the discard queue; the per-slot
 * generations and the counters are atomics; redis_cluster.c's
 * locks are taken inside each call, never under dlock.  Callers hold no
 * usermm lock but the locks of the pages being moved; discard takes only
 * dlock and never waits for Redis.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include "log.h"
#include "page.h"
#include "swap_redis.h"

#ifdef UMM_HAVE_HIREDIS
#include <hiredis/hiredis.h>
#include "redis_cluster.h"

#define PAGE_MAGIC   0x704d4d55u      /* "UMMp" */
#define PAGE_VERSION 1u
#define CMD_STRIDE   (PAGE_SIZE + 256)
#define CSUM_LANES   4
#define KEY_MAX      96      /* "umm:{" 16 ':' 16 "}:" 16 ':' 16 NUL */

/* The header in front of every stored page (host byte order: only the system that wrote it reads it). */
struct page_hdr {
	uint32_t magic;
	uint32_t version;
	uint64_t sysid;
	uint64_t slot;
	uint64_t gen;
	uint32_t len;                 /* PAGE_SIZE */
	uint32_t csum;                /* CRC32C of the header (csum 0) and the page */
};
_Static_assert(sizeof(struct page_hdr) == 40, "page_hdr layout");
#define VALUE_SIZE (sizeof(struct page_hdr) + PAGE_SIZE)

struct redis_swap {
	struct swap_backend base;
	struct redis_target tgt;
	struct redis_router *router;
	uint64_t sysid;
	_Atomic uint64_t *gen;        /* per slot: the generation stored, 0 none */
	_Atomic uint64_t next_gen;
	_Atomic uint64_t pages, pages_written, pages_read, pages_discarded;
	_Atomic uint64_t write_calls, read_calls, errors, lost, corrupt;
	_Atomic uint64_t read_lat[SWAP_REDIS_LAT_BUCKETS], write_lat[SWAP_REDIS_LAT_BUCKETS];
	_Atomic uint64_t del_errors;
	/* discards waiting for their DELs (see redis_swap_discard), under dlock */
	pthread_mutex_t dlock;
	pthread_cond_t dwork, ddone;
	struct dentry {
		struct dentry *next;
		unsigned nr;
		uint64_t *slot, *gen;     /* the values to delete */
	} *dq;
	unsigned dqueued;             /* entries queued or being sent */
	bool stop, reaper_started;
	pthread_t reaper;
};

static void cnt(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void record_latency(_Atomic uint64_t *hist, uint64_t start)
{
	uint64_t ns = mono_ns() - start;
	int k = ns ? 63 - __builtin_clzll(ns) : 0;

	cnt(&hist[k < SWAP_REDIS_LAT_BUCKETS ? k : SWAP_REDIS_LAT_BUCKETS - 1], 1);
}

/* ------------------------------------------------------------------ */
/* CRC32C (Castagnoli, reflected polynomial 0x82F63B78): the SSE4.2
 * instruction where the CPU has it, a table otherwise. */

static uint32_t crc32c_table[256];
static int crc32c_hw;                 /* the CPU has SSE4.2 (set once) */
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static void crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int b = 0; b < 8; b++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc32c_table[i] = c;
	}
#if defined(__x86_64__)
	__builtin_cpu_init();
	crc32c_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#else
	crc32c_hw = 0;
#endif
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const unsigned char *p, size_t len)
{
	uint64_t c = crc;

	for (; len >= 8; p += 8, len -= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
	}
	for (; len; p++, len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p);
	return (uint32_t)c;
}

/* The page's four lanes at once: the instruction's latency is hidden. */
__attribute__((target("sse4.2")))
static void crc32c_lanes_sse42(uint32_t *lane, const unsigned char *p)
{
	uint64_t c0 = lane[0], c1 = lane[1], c2 = lane[2], c3 = lane[3];
	const size_t q = PAGE_SIZE / CSUM_LANES;

	for (size_t off = 0; off < q; off += 8) {
		uint64_t w0, w1, w2, w3;

		memcpy(&w0, p + off, 8);
		memcpy(&w1, p + q + off, 8);
		memcpy(&w2, p + 2 * q + off, 8);
		memcpy(&w3, p + 3 * q + off, 8);
		c0 = __builtin_ia32_crc32di(c0, w0);
		c1 = __builtin_ia32_crc32di(c1, w1);
		c2 = __builtin_ia32_crc32di(c2, w2);
		c3 = __builtin_ia32_crc32di(c3, w3);
	}
	lane[0] = (uint32_t)c0;
	lane[1] = (uint32_t)c1;
	lane[2] = (uint32_t)c2;
	lane[3] = (uint32_t)c3;
}
#endif

static uint32_t crc32c_update(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

#if defined(__x86_64__)
	if (crc32c_hw)
		return crc32c_sse42(crc, p, len);
#endif
	for (; len; p++, len--)
		crc = crc32c_table[(crc ^ *p) & 0xff] ^ (crc >> 8);
	return crc;
}

/*
 * page_csum - the value's checksum: CRC32C of the header (csum 0), then
 * of the CRC32Cs of the page's four quarters (computed side by side: a
 * single CRC chain over 4 KiB took about 0.7 us, a fifth of a pipelined
 * GET).
 */
static uint32_t page_csum(const struct page_hdr *h, const void *page)
{
	struct page_hdr z = *h;
	uint32_t lane[CSUM_LANES] = { ~0u, ~0u, ~0u, ~0u };
	uint32_t c;

	z.csum = 0;
	c = crc32c_update(0xffffffffu, &z, sizeof(z));
#if defined(__x86_64__)
	if (crc32c_hw)
		crc32c_lanes_sse42(lane, page);
	else
#endif
		for (int i = 0; i < CSUM_LANES; i++)
			lane[i] = crc32c_update(lane[i], (const char *)page + i * (PAGE_SIZE / CSUM_LANES),
						PAGE_SIZE / CSUM_LANES);
	return ~crc32c_update(c, lane, sizeof(lane));
}

/**
 * swap_redis_csum_selftest - check the CRC32C (the standard check value
 * of "123456789") and that the SSE4.2 and table paths of the page
 * checksum agree on a page of pattern.  No locks.  0, or -1.
 */
int swap_redis_csum_selftest(void)
{
	static unsigned char page[PAGE_SIZE];
	struct page_hdr h = { .magic = PAGE_MAGIC, .version = PAGE_VERSION, .sysid = 42,
			      .slot = 7, .gen = 3, .len = PAGE_SIZE };
	uint32_t a, b;
	int hw;

	pthread_once(&crc32c_once, crc32c_init);
	if (~crc32c_update(~0u, "123456789", 9) != 0xE3069283u)
		return -1;
	for (size_t i = 0; i < PAGE_SIZE; i++)
		page[i] = (unsigned char)(i * 7 + (i >> 8));
	hw = crc32c_hw;
	a = page_csum(&h, page);
	crc32c_hw = 0;                /* the table path (tests call this with no backend open) */
	b = page_csum(&h, page);
	if (~crc32c_update(~0u, "123456789", 9) != 0xE3069283u)
		b = ~a;
	crc32c_hw = hw;
	page[100] ^= 1;
	return a == b && page_csum(&h, page) != a ? 0 : -1;
}

/* ------------------------------------------------------------------ */

static struct redis_swap *to_rs(struct swap_backend *b)
{
	return (struct redis_swap *)b;
}

/* put_hex - v in lower-case hex, at least `digits` digits; returns the end. */
static char *put_hex(char *p, uint64_t v, int digits)
{
	char tmp[16];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v || n < digits);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* put_cmd_key - "*<argc>\r\n$3\r\n<cmd>\r\n$<klen>\r\n<key>\r\n" at p; returns the end. */
static char *put_cmd_key(char *p, char argc, const char *cmd, const char *key, int klen)
{
	*p++ = '*';
	*p++ = argc;
	memcpy(p, "\r\n$3\r\n", 6);
	memcpy(p + 6, cmd, 3);
	memcpy(p + 9, "\r\n$", 3);
	p += 12;
	*p++ = (char)('0' + klen / 10);         /* keys are 20..55 bytes */
	*p++ = (char)('0' + klen % 10);
	*p++ = '\r';
	*p++ = '\n';
	memcpy(p, key, (size_t)klen);
	p += klen;
	*p++ = '\r';
	*p++ = '\n';
	return p;
}

/* format_key - the key of slot's value of generation g into buf (KEY_MAX bytes), NUL-terminated; its length. */
static int format_key(const struct redis_swap *rs, uint64_t slot, uint64_t g, char *buf)
{
	char *p = buf;

	memcpy(p, "umm:{", 5);
	p = put_hex(p + 5, rs->sysid, 16);
	*p++ = ':';
	p = put_hex(p, slot / rs->tgt.cluster_pages, 1);
	*p++ = '}';
	*p++ = ':';
	p = put_hex(p, slot, 1);
	*p++ = ':';
	p = put_hex(p, g, 1);
	*p = 0;
	return (int)(p - buf);
}

static uint16_t slot_hslot(const struct redis_swap *rs, const char *key, size_t klen)
{
	return rs->tgt.cluster ? redis_key_hslot(key, klen) : 0;
}

static int check_range(struct swap_backend *b, uint64_t slot, unsigned int nr)
{
	if (!b || !nr || slot >= b->nr_slots || nr > b->nr_slots - slot)
		return -EINVAL;
	return 0;
}

/* reply_errno - what an error reply to a write means: -ENOSPC for Redis out of memory (maxmemory). */
static int reply_errno(const redisReply *rep)
{
	if (rep && rep->type == REDIS_REPLY_ERROR && !strncmp(rep->str, "OOM", 3))
		return -ENOSPC;
	return -EIO;
}

static void free_replies(struct redis_cmd *cmds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (cmds[i].reply)
			freeReplyObject(cmds[i].reply);
}

/*
 * redis_swap_write - the backend's write (swap_backend.h): one SET per
 * page under a key of the new generation, and a DEL of the slot's
 * previous value in the same pipeline.  No usermm locks taken.
 */
static int redis_swap_write(struct swap_backend *b, uint64_t slot, unsigned int nr, const void *const *bufs)
{
	struct redis_swap *rs = to_rs(b);
	uint64_t start = mono_ns(), g;
	struct redis_cmd *cmds;
	unsigned ncmd = 0, *set_idx;
	char *mem;
	int err;

	if ((err = check_range(b, slot, nr)) || !bufs)
		return err ? err : -EINVAL;
	/* Room for nr SETs and up to nr DELs of the previous values. */
	cmds = calloc(2 * (size_t)nr, sizeof(*cmds) + sizeof(*set_idx));
	mem = malloc((size_t)nr * (CMD_STRIDE + 128));
	if (!cmds || !mem) {
		free(cmds);
		free(mem);
		cnt(&rs->errors, 1);
		return -ENOMEM;
	}
	set_idx = (unsigned *)(cmds + 2 * (size_t)nr);
	g = atomic_fetch_add(&rs->next_gen, 1);
	for (unsigned i = 0; i < nr; i++) {
		char key[KEY_MAX], *p = mem + (size_t)i * CMD_STRIDE;
		int klen = format_key(rs, slot + i, g, key);
		uint64_t old = atomic_load(&rs->gen[slot + i]);
		struct page_hdr h = {
			.magic = PAGE_MAGIC, .version = PAGE_VERSION, .sysid = rs->sysid,
			.slot = slot + i, .gen = g, .len = PAGE_SIZE,
		};
		int hl;

		h.csum = page_csum(&h, bufs[i]);
		hl = (int)(put_cmd_key(p, '3', "SET", key, klen) - p);
		hl += sprintf(p + hl, "$%zu\r\n", VALUE_SIZE);
		memcpy(p + hl, &h, sizeof(h));
		memcpy(p + hl + sizeof(h), bufs[i], PAGE_SIZE);
		memcpy(p + hl + VALUE_SIZE, "\r\n", 2);
		set_idx[i] = ncmd;
		cmds[ncmd].buf = p;
		cmds[ncmd].len = (size_t)hl + VALUE_SIZE + 2;
		cmds[ncmd].hslot = slot_hslot(rs, key, (size_t)klen);
		ncmd++;
		if (old) {              /* the value this one replaces: same hash tag, same node */
			char *d = mem + (size_t)nr * CMD_STRIDE + (size_t)i * 128;

			klen = format_key(rs, slot + i, old, key);
			cmds[ncmd].buf = d;
			cmds[ncmd].len = (size_t)(put_cmd_key(d, '2', "DEL", key, klen) - d);
			cmds[ncmd].hslot = cmds[ncmd - 1].hslot;
			ncmd++;
		}
	}
	err = redis_router_run(rs->router, cmds, ncmd, true);
	for (unsigned i = 0; i < nr && !err; i++) {
		redisReply *rep = cmds[set_idx[i]].reply;

		if (!rep || rep->type != REDIS_REPLY_STATUS || strcmp(rep->str, "OK"))
			err = reply_errno(rep);
	}
	free_replies(cmds, ncmd);
	free(cmds);
	free(mem);
	/*
	 * A failed write leaves nothing readable (generation 0).  A SET of it
	 * that still lands later (a timed-out request the server runs when it
	 * wakes up) is under its own generation's key, so it can never
	 * overwrite a newer value; such a key stays until close.
	 */
	for (unsigned i = 0; i < nr; i++) {
		uint64_t old = atomic_exchange(&rs->gen[slot + i], err ? 0 : g);

		if (!old && !err)
			cnt(&rs->pages, 1);
		else if (old && err)
			atomic_fetch_sub(&rs->pages, 1);
	}
	cnt(&rs->write_calls, 1);
	if (err)
		cnt(&rs->errors, 1);
	else
		cnt(&rs->pages_written, nr);
	record_latency(rs->write_lat, start);
	return err;
}

/* check_value - is rep the page stored in slot at generation g?  0, or -EIO counted. */
static int check_value(struct redis_swap *rs, const redisReply *rep, uint64_t slot, uint64_t g)
{
	struct page_hdr h;

	if (!rep || rep->type == REDIS_REPLY_NIL) {
		cnt(&rs->lost, 1);
		return -EIO;
	}
	if (rep->type != REDIS_REPLY_STRING || rep->len != VALUE_SIZE)
		goto corrupt;
	memcpy(&h, rep->str, sizeof(h));
	if (h.magic != PAGE_MAGIC || h.version != PAGE_VERSION || h.sysid != rs->sysid ||
	    h.slot != slot || h.gen != g || h.len != PAGE_SIZE ||
	    h.csum != page_csum(&h, rep->str + sizeof(h)))
		goto corrupt;
	return 0;
corrupt:
	cnt(&rs->corrupt, 1);
	return -EIO;
}

/* redis_swap_read - the backend's read (swap_backend.h).  No usermm locks taken. */
static int redis_swap_read(struct swap_backend *b, uint64_t slot, unsigned int nr, void *const *bufs)
{
	struct redis_swap *rs = to_rs(b);
	uint64_t start = mono_ns(), *gens;
	struct redis_cmd *cmds = NULL;
	char *mem;
	int err;

	if ((err = check_range(b, slot, nr)) || !bufs)
		return err ? err : -EINVAL;
	cnt(&rs->read_calls, 1);
	/* One allocation: the commands, the generations, the command texts. */
	cmds = malloc((size_t)nr * (sizeof(*cmds) + sizeof(*gens) + 128));
	if (!cmds) {
		err = -ENOMEM;
		goto out;
	}
	gens = (uint64_t *)(cmds + nr);
	mem = (char *)(gens + nr);
	for (unsigned i = 0; i < nr; i++) {
		char key[KEY_MAX], *p = mem + (size_t)i * 128;
		int klen;

		gens[i] = atomic_load(&rs->gen[slot + i]);
		if (!gens[i]) {         /* nothing valid was stored there: do not ask */
			cnt(&rs->lost, 1);
			err = -EIO;
			goto out;
		}
		klen = format_key(rs, slot + i, gens[i], key);
		cmds[i].buf = p;
		cmds[i].len = (size_t)(put_cmd_key(p, '2', "GET", key, klen) - p);
		cmds[i].hslot = slot_hslot(rs, key, (size_t)klen);
	}
	err = redis_router_run(rs->router, cmds, nr, false);
	for (unsigned i = 0; i < nr && !err; i++) {
		err = check_value(rs, cmds[i].reply, slot + i, gens[i]);
		if (!err)
			memcpy(bufs[i], cmds[i].reply->str + sizeof(struct page_hdr), PAGE_SIZE);
	}
	free_replies(cmds, nr);
out:
	free(cmds);
	if (err)
		cnt(&rs->errors, 1);
	else
		cnt(&rs->pages_read, nr);
	record_latency(rs->read_lat, start);
	return err;
}

/*
 * Discards.  The device makes its queued discards on the eviction path
 * (get_swap_page, before it hands out slots), so a discard that waited
 * for a Redis round trip would slow every eviction behind it.  Discard
 * does not wait: it zeroes the slots'
 * generations (from then on they read as -EIO without asking Redis) and
 * queues the (slot, generation) of each value for the backend's reaper
 * thread, which sends the DELs in batches.  Because a key names its
 * generation, a DEL sent late can never remove a value written to the
 * slot since.
 */

/* send_dels - one DEL per hash tag for the values of a queued discard.  No lock held. */
static void send_dels(struct redis_swap *rs, const struct dentry *d)
{
	unsigned per = rs->tgt.cluster_pages, ncmd = 0, nr = d->nr;
	struct redis_cmd *cmds = calloc(nr, sizeof(*cmds));
	char *mem = malloc((size_t)nr * (KEY_MAX + 16) + (size_t)nr * 24), *p = mem;
	int err = -ENOMEM;

	if (cmds && mem) {
		for (unsigned i = 0; i < nr;) {
			uint64_t group = d->slot[i] / per;
			char key[KEY_MAX], *head = p;
			unsigned k = 0;
			int klen = 0;

			p += 24;                /* room for the "*<n>\r\n$3\r\nDEL\r\n" head */
			for (; i < nr && d->slot[i] / per == group; i++, k++) {
				klen = format_key(rs, d->slot[i], d->gen[i], key);
				p += sprintf(p, "$%d\r\n%s\r\n", klen, key);
			}
			{
				char h[24];
				int hl = sprintf(h, "*%u\r\n$3\r\nDEL\r\n", k + 1);

				memmove(head + hl, head + 24, (size_t)(p - head - 24));
				memcpy(head, h, (size_t)hl);
				p -= 24 - hl;
			}
			cmds[ncmd].buf = head;
			cmds[ncmd].len = (size_t)(p - head);
			cmds[ncmd].hslot = slot_hslot(rs, key, (size_t)klen);
			ncmd++;
		}
		err = redis_router_run(rs->router, cmds, ncmd, false);
		for (unsigned i = 0; i < ncmd && !err; i++)
			if (!cmds[i].reply || cmds[i].reply->type != REDIS_REPLY_INTEGER)
				err = -EIO;
		free_replies(cmds, ncmd);
	}
	free(cmds);
	free(mem);
	if (err)
		cnt(&rs->del_errors, 1);    /* the keys stay until close removes them */
}

/* reaper - the backend's thread: sends the queued discards' DELs; at stop, the ones left first. */
static void *reaper(void *arg)
{
	struct redis_swap *rs = arg;

	pthread_mutex_lock(&rs->dlock);
	for (;;) {
		struct dentry *d;

		while (!rs->dq && !rs->stop)
			pthread_cond_wait(&rs->dwork, &rs->dlock);
		if (!rs->dq)
			break;                  /* stopping, and nothing left */
		d = rs->dq;
		rs->dq = d->next;
		pthread_mutex_unlock(&rs->dlock);
		send_dels(rs, d);
		free(d);
		pthread_mutex_lock(&rs->dlock);
		rs->dqueued--;
		pthread_cond_broadcast(&rs->ddone);
	}
	pthread_mutex_unlock(&rs->dlock);
	return NULL;
}

/*
 * redis_swap_discard - the backend's discard: the slots can no longer be
 * read back when it returns; their keys are deleted soon after by the
 * reaper.  Takes dlock (a leaf) only: never waits for Redis.  0, -EINVAL,
 * -ENOMEM (the keys then stay until close; the slots are forgotten all
 * the same).
 */
static int redis_swap_discard(struct swap_backend *b, uint64_t slot, unsigned int nr)
{
	struct redis_swap *rs = to_rs(b);
	struct dentry *d;
	unsigned n = 0;
	int err;

	if ((err = check_range(b, slot, nr)))
		return err;
	d = malloc(sizeof(*d) + (size_t)nr * 2 * sizeof(uint64_t));
	for (unsigned i = 0; i < nr; i++) {
		uint64_t old = atomic_exchange(&rs->gen[slot + i], 0);

		if (!old)
			continue;
		atomic_fetch_sub(&rs->pages, 1);
		cnt(&rs->pages_discarded, 1);
		if (d) {
			d->slot = (uint64_t *)(d + 1);
			d->gen = d->slot + nr;
			d->slot[n] = slot + i;
			d->gen[n] = old;
			n++;
		}
	}
	if (!d) {
		cnt(&rs->del_errors, 1);
		return -ENOMEM;
	}
	if (!n) {
		free(d);
		return 0;
	}
	d->nr = n;
	pthread_mutex_lock(&rs->dlock);
	d->next = rs->dq;
	rs->dq = d;
	rs->dqueued++;
	pthread_cond_signal(&rs->dwork);
	pthread_mutex_unlock(&rs->dlock);
	return 0;
}

/**
 * swap_redis_flush_discards - wait until every discard queued so far has
 * had its DELs sent (or failed).  Takes dlock.  0, or -EINVAL when b is
 * not a Redis backend.
 */
int swap_redis_flush_discards(struct swap_backend *b)
{
	struct redis_swap *rs = to_rs(b);

	if (!b || (b->ops != &swap_redis_ops && b->ops != &swap_redis_cluster_ops))
		return -EINVAL;
	pthread_mutex_lock(&rs->dlock);
	while (rs->dqueued)
		pthread_cond_wait(&rs->ddone, &rs->dlock);
	pthread_mutex_unlock(&rs->dlock);
	return 0;
}

static void redis_swap_free(struct redis_swap *rs)
{
	if (rs->reaper_started) {
		pthread_mutex_lock(&rs->dlock);
		rs->stop = true;
		pthread_cond_signal(&rs->dwork);
		pthread_mutex_unlock(&rs->dlock);
		pthread_join(rs->reaper, NULL);
	}
	if (rs->router)
		redis_router_close(rs->router);
	redis_target_free(&rs->tgt);
	pthread_mutex_destroy(&rs->dlock);
	pthread_cond_destroy(&rs->dwork);
	pthread_cond_destroy(&rs->ddone);
	while (rs->dq) {                /* left by a failed open only: the reaper empties it */
		struct dentry *d = rs->dq;

		rs->dq = d->next;
		free(d);
	}
	free(rs->gen);
	free(rs);
}

/*
 * redis_swap_close - stop the reaper (it sends the DELs still queued
 * first), remove the system's keys from every node, close.  No usermm
 * locks.
 */
static void redis_swap_close(struct swap_backend *b)
{
	struct redis_swap *rs = to_rs(b);
	char pattern[64];

	if (!b)
		return;
	pthread_mutex_lock(&rs->dlock);
	rs->stop = true;
	pthread_cond_signal(&rs->dwork);
	pthread_mutex_unlock(&rs->dlock);
	pthread_join(rs->reaper, NULL);
	rs->reaper_started = false;
	snprintf(pattern, sizeof(pattern), "umm:{%016" PRIx64 ":*", rs->sysid);
	redis_router_scan_del(rs->router, pattern);
	redis_swap_free(rs);
}

static int redis_swap_open_common(const struct swap_backend_ops *ops, bool cluster, const char *target,
				  uint64_t nr_slots, struct swap_backend **out)
{
	struct redis_swap *rs;
	char why[256] = "";
	int err;

	if (!target || !out || !nr_slots)
		return -EINVAL;
	if (nr_slots > (SIZE_MAX / 2) / sizeof(uint64_t))
		return -ENOMEM;
	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return -ENOMEM;
	pthread_mutex_init(&rs->dlock, NULL);
	pthread_cond_init(&rs->dwork, NULL);
	pthread_cond_init(&rs->ddone, NULL);
	err = redis_parse_target(target, &rs->tgt, why, sizeof(why));
	if (err) {
		redis_swap_free(rs);
		if (err == -EINVAL)
			pr_warn(NULL, "swap to %s: %s", cluster ? "redis-cluster://" : "redis://", why);
		return err;
	}
	if (rs->tgt.cluster != cluster) {
		pr_warn(NULL, "swap to %s: not a %s target", rs->tgt.display, cluster ? "redis-cluster://" : "redis://");
		err = -EINVAL;
		goto fail;
	}
	rs->base.ops = ops;
	rs->base.nr_slots = nr_slots;
	atomic_init(&rs->next_gen, 1);
	if (getrandom(&rs->sysid, sizeof(rs->sysid), 0) != sizeof(rs->sysid)) {
		err = -EIO;
		goto fail;
	}
	rs->gen = calloc(nr_slots, sizeof(*rs->gen));
	if (!rs->gen) {
		err = -ENOMEM;
		goto fail;
	}
	pthread_once(&crc32c_once, crc32c_init);
	err = redis_router_open(&rs->tgt, &rs->router, why, sizeof(why));
	if (err) {
		pr_warn(NULL, "swap to %s: %s", rs->tgt.display, why);
		goto fail;
	}
	err = -pthread_create(&rs->reaper, NULL, reaper, rs);
	if (err)
		goto fail;
	rs->reaper_started = true;
	*out = &rs->base;
	return 0;
fail:
	redis_swap_free(rs);
	return err;
}

static int redis_swap_open(const char *target, uint64_t nr_slots, struct swap_backend **out)
{
	return redis_swap_open_common(&swap_redis_ops, false, target, nr_slots, out);
}

static int redis_cluster_swap_open(const char *target, uint64_t nr_slots, struct swap_backend **out)
{
	return redis_swap_open_common(&swap_redis_cluster_ops, true, target, nr_slots, out);
}

/**
 * swap_redis_get_stats - the backend's counters and its router's.  No
 * locks.  0, or -EINVAL when b is not a Redis backend.
 */
int swap_redis_get_stats(struct swap_backend *b, struct swap_redis_stats *st)
{
	struct redis_swap *rs = to_rs(b);
	struct redis_router_stats rst;

	if (!b || !st || (b->ops != &swap_redis_ops && b->ops != &swap_redis_cluster_ops))
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	st->pages = atomic_load(&rs->pages);
	st->bytes = st->pages * VALUE_SIZE;
	st->pages_written = atomic_load(&rs->pages_written);
	st->pages_read = atomic_load(&rs->pages_read);
	st->pages_discarded = atomic_load(&rs->pages_discarded);
	st->write_calls = atomic_load(&rs->write_calls);
	st->read_calls = atomic_load(&rs->read_calls);
	st->errors = atomic_load(&rs->errors);
	st->lost = atomic_load(&rs->lost);
	st->corrupt = atomic_load(&rs->corrupt);
	st->del_errors = atomic_load(&rs->del_errors);
	pthread_mutex_lock(&rs->dlock);
	for (struct dentry *d = rs->dq; d; d = d->next)
		st->discards_pending += d->nr;
	pthread_mutex_unlock(&rs->dlock);
	for (int k = 0; k < SWAP_REDIS_LAT_BUCKETS; k++) {
		st->read_lat[k] = atomic_load_explicit(&rs->read_lat[k], memory_order_relaxed);
		st->write_lat[k] = atomic_load_explicit(&rs->write_lat[k], memory_order_relaxed);
	}
	redis_router_get_stats(rs->router, &rst);
	st->requests = rst.requests;
	st->moved = rst.moved;
	st->ask = rst.ask;
	st->reconnects = rst.reconnects;
	st->conn_errors = rst.conn_errors;
	st->map_refreshes = rst.map_refreshes;
	st->wait_short = rst.wait_short;
	return 0;
}

/**
 * swap_redis_key - the key of slot's current value in b.  No locks.  The
 * key's length (the key is cut when len is too small), -ENOENT when the
 * slot holds no value, -EINVAL.
 */
int swap_redis_key(struct swap_backend *b, uint64_t slot, char *buf, size_t len)
{
	char key[KEY_MAX];
	uint64_t g;
	int n;

	if (!b || !buf || (b->ops != &swap_redis_ops && b->ops != &swap_redis_cluster_ops) ||
	    slot >= b->nr_slots)
		return -EINVAL;
	g = atomic_load(&to_rs(b)->gen[slot]);
	if (!g)
		return -ENOENT;
	n = format_key(to_rs(b), slot, g, key);

	snprintf(buf, len, "%s", key);
	return n;
}

const struct swap_backend_ops swap_redis_ops = {
	.name = "redis",
	.open = redis_swap_open,
	.write = redis_swap_write,
	.read = redis_swap_read,
	.discard = redis_swap_discard,
	.close = redis_swap_close,
};

const struct swap_backend_ops swap_redis_cluster_ops = {
	.name = "redis-cluster",
	.open = redis_cluster_swap_open,
	.write = redis_swap_write,
	.read = redis_swap_read,
	.discard = redis_swap_discard,
	.close = redis_swap_close,
};

#else /* !UMM_HAVE_HIREDIS: the backend is known, but cannot be used */

static int redis_unavailable(const char *scheme)
{
	pr_warn(NULL, "swap to %s: this usermm was built without hiredis (libhiredis-dev), "
		"so it has no Redis backend", scheme);
	return -EOPNOTSUPP;
}

static int redis_swap_open(const char *target, uint64_t nr_slots, struct swap_backend **out)
{
	(void)target; (void)nr_slots; (void)out;
	return redis_unavailable("redis://");
}

static int redis_cluster_swap_open(const char *target, uint64_t nr_slots, struct swap_backend **out)
{
	(void)target; (void)nr_slots; (void)out;
	return redis_unavailable("redis-cluster://");
}

/** swap_redis_get_stats - no Redis backend in this build: -EINVAL. */
int swap_redis_get_stats(struct swap_backend *b, struct swap_redis_stats *st)
{
	(void)b; (void)st;
	return -EINVAL;
}

/** swap_redis_csum_selftest - no Redis backend in this build: nothing to check, 0. */
int swap_redis_csum_selftest(void)
{
	return 0;
}

/** swap_redis_flush_discards - no Redis backend in this build: -EINVAL. */
int swap_redis_flush_discards(struct swap_backend *b)
{
	(void)b;
	return -EINVAL;
}

/** swap_redis_key - no Redis backend in this build: -EINVAL. */
int swap_redis_key(struct swap_backend *b, uint64_t slot, char *buf, size_t len)
{
	(void)b; (void)slot; (void)buf; (void)len;
	return -EINVAL;
}

const struct swap_backend_ops swap_redis_ops = { .name = "redis", .open = redis_swap_open };
const struct swap_backend_ops swap_redis_cluster_ops = { .name = "redis-cluster", .open = redis_cluster_swap_open };
#endif

/**
 * swap_redis_lat_percentile - upper bound (ns) of the histogram bucket
 * holding the p-th percentile; 0 for an empty histogram.  No locks.
 */
uint64_t swap_redis_lat_percentile(const uint64_t *hist, double p)
{
	uint64_t total = 0, seen = 0;

	for (int k = 0; k < SWAP_REDIS_LAT_BUCKETS; k++)
		total += hist[k];
	if (!total)
		return 0;
	for (int k = 0; k < SWAP_REDIS_LAT_BUCKETS; k++) {
		seen += hist[k];
		if ((double)seen * 100.0 >= p * (double)total)
			return 2ull << k;
	}
	return 2ull << (SWAP_REDIS_LAT_BUCKETS - 1);
}
