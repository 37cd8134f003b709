/* SPDX-License-Identifier: MIT */
/*
 * redis_cluster.h - the Redis client under the Redis swap backend
 * (swap_redis.c): parsing a redis:// or redis-cluster:// target, the
 * nodes and their connection pools, and the routing of commands to the
 * node that owns their key (Redis Cluster: CRC16 key slots, the slot map
 * from CLUSTER SLOTS, MOVED and ASK redirections).  A single server is a
 * router with one node that owns every key.
 *
 * Only built with hiredis (UMM_HAVE_HIREDIS).
 */
#ifndef UMM_REDIS_CLUSTER_H
#define UMM_REDIS_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REDIS_MAX_NODES   64      /* nodes one router knows (targets + discovered) */
#define REDIS_MAX_CONNS   16      /* connections per node */
#define REDIS_NR_HSLOTS   16384   /* Redis Cluster key slots */

struct redisReply;

/* A parsed target.  pass is wiped when the target is freed; it is never printed. */
struct redis_target {
	bool cluster;                 /* redis-cluster:// */
	char *user, *pass;            /* NULL when not given */
	int db;                       /* redis://.../db (0 for a cluster) */
	unsigned nr_addrs;
	struct redis_addr { char host[256]; int port; } addrs[REDIS_MAX_NODES];
	unsigned replicas;            /* ?replicas=N: WAIT for N replicas after each write */
	unsigned wait_ms;             /* ?wait_ms=T: WAIT's timeout (default 1000) */
	unsigned timeout_ms;          /* ?timeout_ms=T: connect and request timeout (default 2000) */
	unsigned conns;               /* ?conns=N: connections per node (default 4) */
	unsigned cluster_pages;       /* ?cluster_pages=N: consecutive slots under one hash tag (default 64) */
	char display[320];            /* scheme://first-host:port[,...]: for messages, no credentials */
};

/*
 * redis_parse_target - parse url:
 *   redis://[[user]:password@]host:port[/db][?opt=val&...]
 *   redis-cluster://[[user]:password@]host:port[,host:port...][?opt=val&...]
 * with opts replicas, wait_ms, timeout_ms, conns, cluster_pages.  Fills
 * *t (free with redis_target_free).  0, -EINVAL for a malformed url (why
 * says what, without the password), -ENOMEM.
 */
int redis_parse_target(const char *url, struct redis_target *t, char *why, size_t whylen);
/* redis_target_free - free what redis_parse_target allocated, wiping the password. */
void redis_target_free(struct redis_target *t);

/* redis_key_hslot - the Redis Cluster slot of a key (CRC16, honouring a {hash tag}). */
uint16_t redis_key_hslot(const char *key, size_t len);

/*
 * One command of a batch, formatted by the caller in the Redis protocol
 * (RESP).  Every key it names must be in cluster slot hslot.
 */
struct redis_cmd {
	const char *buf;
	size_t len;
	uint16_t hslot;
	struct redisReply *reply;     /* out: the final reply (caller frees), NULL if none */
	int ask;                      /* private: node index named by an ASK, or -1 */
};

struct redis_router_stats {
	uint64_t requests;            /* commands sent (each redirection again) */
	uint64_t moved, ask;          /* redirections followed */
	uint64_t reconnects;          /* connections made after the first one of a node */
	uint64_t conn_errors;         /* connections that failed or broke */
	uint64_t map_refreshes;       /* CLUSTER SLOTS reloads */
	uint64_t wait_short;          /* WAITs that saw fewer replicas than asked */
};

struct redis_router;

/*
 * redis_router_open - connect to every target address (AUTH, SELECT db,
 * PING; for a cluster, load the slot map).  0 and *out; -ECONNREFUSED
 * (or the connect errno) when a node cannot be reached, -EACCES when the
 * server wants a password, or refuses the one given, -EINVAL for a
 * redis-cluster:// target that is not a cluster, -ENOMEM.  why gets a
 * one-line reason without credentials.  Takes no usermm lock.
 */
int redis_router_open(const struct redis_target *t, struct redis_router **out,
		      char *why, size_t whylen);

/*
 * redis_router_run - send cmds to the nodes that own their keys, one
 * pipeline per node, following MOVED and ASK redirections (refreshing
 * the slot map), retrying once on a new connection after a broken one,
 * and after TRYAGAIN / CLUSTERDOWN / LOADING replies for a short while.
 * With wait, a WAIT for the target's replicas follows the commands on
 * each node.  Takes and releases node pool locks; may sleep.
 * Returns 0 when every command has its final reply in cmd->reply (which
 * may be an error reply: the caller reads it), or a negative errno when
 * any has none (-EIO: connection, timeout or redirection failure; -EIO
 * too when WAIT saw fewer replicas than asked).  The caller frees every
 * non-NULL reply either way.
 */
int redis_router_run(struct redis_router *r, struct redis_cmd *cmds, unsigned n, bool wait);

/*
 * redis_router_scan_del - UNLINK every key matching pattern on every
 * master node (SCAN MATCH; best effort: unreachable nodes are skipped).
 * Returns the number of keys removed.
 */
long redis_router_scan_del(struct redis_router *r, const char *pattern);

/* redis_router_stats - a snapshot of the counters. */
void redis_router_get_stats(struct redis_router *r, struct redis_router_stats *st);

/* redis_router_close - close every connection and free the router. */
void redis_router_close(struct redis_router *r);

#endif
